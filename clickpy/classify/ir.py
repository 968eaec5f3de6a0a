"""Boolean expressions over word tests: what the pattern compilers produce.

A *test* reads the 32-bit word at ``offset`` bytes past one of four header
pointers (its *base*), ANDs it with ``mask`` and compares it with ``value``.
Words are big-endian: ``mask`` and ``value`` are written the way the bytes
appear in the packet (``0x08000000`` tests that the first byte is 08).

A test also says how many bytes, counted from ``offset``, the packet must
have for the test to be made (``need``: at least the last byte that the mask
touches).  When the packet is too short, the test does not read the packet:
its result is ``short`` (False for a plain test).  This is how Click
compiles too-short packets: each of its instructions carries the branch a
short packet takes, and negating a pattern either keeps that branch
(``not X``: a short packet fails X, so it matches ``not X``) or flips it
together with the test (``X != v``: a short packet fails both).

Expressions are tuples, cheap to build and hash:

    ("const", bool)
    ("test", Test)
    ("and", (e, ...)), ("or", (e, ...))
    ("not", e)
    ("ite", cond, then, else)          # cond ? then : else
"""
from __future__ import annotations

from collections import namedtuple

# Header pointers a test can read from.  The matcher receives one pointer per
# base; a NULL pointer means every byte is missing, so tests on it are short.
BASE_DATA = 0   # packet data start (Classifier offsets)
BASE_MAC = 1    # MAC header (IPFilter `ether` tests)
BASE_NET = 2    # network header (IPFilter `ip` tests)
BASE_TRANS = 3  # transport header (ports, TCP flags, ICMP type)
NBASES = 4
BASE_NAMES = ("data", "mac", "ip", "transp")

TRUE = ("const", True)
FALSE = ("const", False)


class ClassifyError(Exception):
    """A pattern that cannot be compiled.

    ``message`` is the text to show, ``column`` the 0-based character offset
    of the offending word in the pattern text (or -1 if none), and ``index``
    the pattern's position in the element's configuration (or -1).  The
    element wrapper turns it into a ConfigError pointing at that column.
    """

    def __init__(self, message: str, column: int = -1, index: int = -1, length: int = 1):
        self.message = message
        self.column = column
        self.index = index
        self.length = length
        super().__init__(self.format())

    def format(self) -> str:
        where = []
        if self.index >= 0:
            where.append(f"pattern {self.index}")
        if self.column >= 0:
            where.append(f"column {self.column}")
        return (", ".join(where) + ": " if where else "") + self.message


class Test(namedtuple("Test", "base offset mask value need short", defaults=(False,))):
    __slots__ = ()

    def end(self) -> int:
        return self.offset + self.need

    def flipped(self) -> "Test":
        return self._replace(short=not self.short)


def make_test(base: int, offset: int, mask: int, value: int, need: int | None = None,
              short: bool = False) -> tuple:
    """A test expression; a test of no bits is always true."""
    mask &= 0xFFFFFFFF
    value &= mask
    if mask == 0:
        return TRUE
    last = 3
    while not (mask >> (8 * (3 - last))) & 0xFF:
        last -= 1
    min_need = last + 1
    if need is None or need < min_need:
        need = min_need
    if offset < 0 or offset + need > 0xFFFF:
        raise ValueError("test offset out of range")
    return ("test", Test(base, offset, mask, value, need, short))


def AND(*es) -> tuple:
    out = []
    for e in es:
        if e == TRUE:
            continue
        if e == FALSE:
            return FALSE
        if e[0] == "and":
            out.extend(e[1])
        else:
            out.append(e)
    if not out:
        return TRUE
    if len(out) == 1:
        return out[0]
    return ("and", tuple(out))


def OR(*es) -> tuple:
    out = []
    for e in es:
        if e == FALSE:
            continue
        if e == TRUE:
            return TRUE
        if e[0] == "or":
            out.extend(e[1])
        else:
            out.append(e)
    if not out:
        return FALSE
    if len(out) == 1:
        return out[0]
    return ("or", tuple(out))


def flip_short(e) -> tuple:
    """The same expression with every test's short-packet result inverted."""
    k = e[0]
    if k == "const":
        return e
    if k == "test":
        return ("test", e[1].flipped())
    if k in ("and", "or"):
        return (k, tuple(flip_short(x) for x in e[1]))
    if k == "not":
        return ("not", flip_short(e[1]))
    if k == "ite":
        return ("ite", flip_short(e[1]), flip_short(e[2]), flip_short(e[3]))
    raise ValueError(k)


def NOT(e, flip: bool = False) -> tuple:
    """Negation.  ``flip=True`` also inverts short results, so that a packet
    too short for ``e`` fails ``NOT(e, True)`` as well (Click's `!=`)."""
    if flip:
        e = flip_short(e)
    if e[0] == "const":
        return ("const", not e[1])
    if e[0] == "not":
        return e[1]
    return ("not", e)


def ITE(c, a, b) -> tuple:
    if c == TRUE:
        return a
    if c == FALSE:
        return b
    return ("ite", c, a, b)


# ---------------------------------------------------------------------------
# Slow reference evaluation (tests, and the optimizer's own self-checks)

class PacketView:
    """A packet as the matcher sees it: bytes plus one start offset per base
    (None when that header pointer is unset)."""

    __slots__ = ("buf", "starts")

    def __init__(self, buf: bytes, data: int | None = 0, mac: int | None = None,
                 net: int | None = None, trans: int | None = None):
        self.buf = bytes(buf)
        self.starts = [data, mac, net, trans]

    def avail(self, base: int) -> int:
        s = self.starts[base]
        if s is None:
            return 0
        return max(0, len(self.buf) - s)

    def word(self, base: int, offset: int, size: int = 4) -> int:
        s = self.starts[base] + offset
        chunk = self.buf[s:s + size]
        chunk = chunk + b"\0" * (size - len(chunk))
        return int.from_bytes(chunk, "big")


def eval_test(t: Test, pkt: PacketView) -> bool:
    if pkt.avail(t.base) < t.offset + t.need:
        return t.short
    return (pkt.word(t.base, t.offset) & t.mask) == t.value


def eval_expr(e, pkt: PacketView) -> bool:
    k = e[0]
    if k == "const":
        return e[1]
    if k == "test":
        return eval_test(e[1], pkt)
    if k == "and":
        return all(eval_expr(x, pkt) for x in e[1])
    if k == "or":
        return any(eval_expr(x, pkt) for x in e[1])
    if k == "not":
        return not eval_expr(e[1], pkt)
    if k == "ite":
        return eval_expr(e[2] if eval_expr(e[1], pkt) else e[3], pkt)
    raise ValueError(k)


def eval_rules(rules, pkt: PacketView) -> int:
    """First matching (expression, output) pair wins; -1 means drop."""
    for e, out in rules:
        if eval_expr(e, pkt):
            return out
    return -1
