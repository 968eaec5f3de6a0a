"""Decision programs: compile rule lists into a DAG of word tests, optimize it,
and flatten it into the instruction array that the Cython matcher runs.

Pipeline (all cold, plain Python):

1. ``build_dag(rules)``: each rule is a boolean expression (see ``ir``) and an
   output.  Expressions are compiled in continuation style -- a test's yes and
   no branches are the already-compiled rest of the program -- and every node
   is hash-consed, so identical sub-programs are shared from the start (the
   tail "rules after this one" exists once).
2. ``optimize``: walks the DAG from the root carrying what is known about the
   packet on each edge (which tests succeeded or failed, how many bytes of
   each header are known to exist).  A branch into a test whose result is
   already implied jumps straight past it ("drifting", as Click calls it);
   knowledge from several incoming edges is intersected.  Then the DAG is
   rebuilt: tests whose branches agree vanish, identical nodes merge, and a
   test followed on its yes branch by a test of the same word that fails to
   the same place is fused into one test with the union of their masks.
3. ``flatten``: nodes are laid out parents first (every jump goes forward).
   A chain of equality tests on the same word and mask (``dst host A or dst
   host B or ...``, one rule per address) becomes one SWITCH instruction
   whose values are sorted for a binary search.

The flat program is a list of ``Insn``.  Jump targets follow the C encoding:
``j > 0`` is an instruction index, ``j <= 0`` ends the program with output
``-j - 1`` (so ``0`` is drop, ``-1`` output 0, ``-2`` output 1, ...).
"""
from __future__ import annotations

import sys
from collections import namedtuple

from .ir import (AND, BASE_DATA, BASE_MAC, BASE_NAMES, BASE_NET, BASE_TRANS, FALSE, ITE,
                 NBASES, NOT, OR, TRUE, ClassifyError, PacketView, Test)

OP_TEST = 0
OP_SWITCH = 1
SWITCH_MIN = 4          # a chain of this many equality tests becomes a SWITCH
NEG_FACTS_MAX = 256     # bound on remembered failed values per word and mask
DISPATCH_MIN = 4        # rule lists shorter than this are never split

_MISSING = object()


def enc_out(out: int) -> int:
    """DAG encoding of an output (-1 = drop): negative numbers."""
    return -(out + 2)


def dec_out(t: int) -> int:
    return -t - 2


class Insn(namedtuple("Insn", "op base offset mask value need short yes no cases", defaults=((),))):
    """One instruction; `cases` (SWITCH only) is ((value, target), ...) sorted by value."""
    __slots__ = ()


# ---------------------------------------------------------------------------
# The DAG

class Dag:
    """Hash-consed decision DAG.  Node ids grow as nodes are made, and a node
    is always made after its successors, so every edge goes from a larger id
    to a smaller one."""

    def __init__(self):
        self.tests: list[Test] = []
        self.yes: list[int] = []
        self.no: list[int] = []
        self._index: dict = {}
        self.merge_words = False
        self.fuse_wide = False
        self.budget = 1 << 30

    def mk(self, t: Test, yes: int, no: int) -> int:
        while True:
            if yes == no:
                return yes
            if self.fuse_wide and yes >= 0 and self.no[yes] == no:
                f = fuse_wide(t, self.tests[yes])
                if f is not None:
                    t = f
                    yes = self.yes[yes]
                    continue
            if self.merge_words and yes >= 0:
                t2 = self.tests[yes]
                if (t2.base == t.base and t2.offset == t.offset and not t.short
                        and not t2.short and self.no[yes] == no
                        and (t.value & t2.mask) == (t2.value & t.mask)):
                    t = Test(t.base, t.offset, t.mask | t2.mask, t.value | t2.value,
                             max(t.need, t2.need), False)
                    yes = self.yes[yes]
                    continue
            key = (t, yes, no)
            n = self._index.get(key)
            if n is None:
                n = len(self.tests)
                self.tests.append(t)
                self.yes.append(yes)
                self.no.append(no)
                self._index[key] = n
            return n

    def compile(self, e, yes: int, no: int) -> int:
        k = e[0]
        if k == "const":
            return yes if e[1] else no
        if k == "test":
            return self.mk(e[1], yes, no)
        if k == "not":
            return self.compile(e[1], no, yes)
        if k == "and":
            t = yes
            for sub in reversed(e[1]):
                t = self.compile(sub, t, no)
            return t
        if k == "or":
            t = no
            for sub in reversed(e[1]):
                t = self.compile(sub, yes, t)
            return t
        if k == "ite":
            return self.compile(e[1], self.compile(e[2], yes, no), self.compile(e[3], yes, no))
        raise ValueError(k)

    def reachable(self, root: int) -> list[int]:
        """Reachable node ids in topological order (parents first)."""
        if root < 0:
            return []
        post = []
        state: dict[int, int] = {}
        stack = [(root, 0)]
        while stack:
            n, i = stack.pop()
            if i == 0:
                if n in state:
                    continue
                state[n] = 1
            succ = (self.yes[n], self.no[n])
            if i < 2:
                stack.append((n, i + 1))
                m = succ[i]
                if m >= 0 and m not in state:
                    stack.append((m, 0))
            else:
                post.append(n)
        post.reverse()
        return post

    def rebuild(self, root: int, merge_words: bool = False,
                wide: bool = False, fuse: bool = True) -> tuple["Dag", int]:
        """A fresh DAG holding only what ``root`` reaches, re-hash-consed.
        ``wide``: convert 4-byte word tests to 8-byte windows and fuse
        and-chains of tests that fit one window."""
        new = Dag()
        new.merge_words = merge_words
        new.fuse_wide = wide and fuse
        remap: dict[int, int] = {}

        def m(t):
            return t if t < 0 else remap[t]

        for n in reversed(self.reachable(root)):
            t = to_wide(self.tests[n]) if wide else self.tests[n]
            remap[n] = new.mk(t, m(self.yes[n]), m(self.no[n]))
        return new, m(root)


# ---------------------------------------------------------------------------
# 8-byte windows: what the C matcher runs.  A wide test's mask and value are
# the 8 bytes at its offset as a big-endian integer; its offset is the first
# byte it tests.

M64 = 0xFFFFFFFFFFFFFFFF


def _lead(mask: int) -> int:
    """Leading zero bytes of a 64-bit mask."""
    k = 0
    while k < 7 and not (mask >> (8 * (7 - k))) & 0xFF:
        k += 1
    return k


def _span(mask: int) -> int:
    """Bytes from the window start to the last byte the mask tests."""
    k = 8
    while k > 0 and not (mask >> (8 * (8 - k))) & 0xFF:
        k -= 1
    return k


def to_wide(t: Test) -> Test:
    m, v = t.mask << 32, t.value << 32
    s = _lead(m) if m else 0
    return Test(t.base, t.offset + s, (m << (8 * s)) & M64, (v << (8 * s)) & M64,
                t.need - s, t.short)


def fuse_wide(a: Test, b: Test):
    """One wide test equivalent to "a and then b" when both fail (and fail
    short packets) to the same place, or None."""
    if a.short or b.short or a.base != b.base:
        return None
    lo = min(a.offset, b.offset)
    hi = max(a.offset + _span(a.mask), b.offset + _span(b.mask))
    if hi - lo > 8:
        return None
    am, av = a.mask >> (8 * (a.offset - lo)), a.value >> (8 * (a.offset - lo))
    bm, bv = b.mask >> (8 * (b.offset - lo)), b.value >> (8 * (b.offset - lo))
    if (av & bm) != (bv & am):
        return None
    need = max(a.offset + a.need, b.offset + b.need) - lo
    if need > 255:
        return None
    return Test(a.base, lo, am | bm, av | bv, need, False)


def build_dag(rules) -> tuple[Dag, int]:
    """rules: iterable of (expression, output), first match wins; output -1
    drops.  A packet matching no rule is dropped."""
    dag = Dag()
    rules = list(rules)
    t = enc_out(-1)
    for e, out in reversed(rules):
        t = dag.compile(e, enc_out(out), t)
    return dag, t


# ---------------------------------------------------------------------------
# Rule-list level rewriting: test order, and dispatch on a common field

def _rank(t: Test):
    if t.base == BASE_NET:
        return (0, {8: 0, 4: 1}.get(t.offset, 2), t.offset)
    return ({BASE_TRANS: 1, BASE_MAC: 2, BASE_DATA: 3}[t.base], 0, t.offset)


def _key(e):
    """Sort key of an and-operand: its word if it tests a single word."""
    if e[0] == "test":
        return _rank(e[1])
    words = set()

    def walk(x):
        if x[0] == "test":
            words.add((x[1].base, x[1].offset))
        elif x[0] in ("and", "or"):
            for y in x[1]:
                walk(y)
        else:
            words.add(None)

    walk(e)
    if len(words) == 1 and None not in words:
        b, o = words.pop()
        return _rank(Test(b, o, 0, 0, 1))
    return (9, 0, 0)


def sort_ands(e):
    """Order and-operands as Click does: IP protocol first, then the fragment
    word, the rest of the IP header, the transport header.  Tests on one
    word end up next to each other, where the optimizer can use them."""
    k = e[0]
    if k == "and":
        return ("and", tuple(sorted((sort_ands(x) for x in e[1]), key=_key)))
    if k == "or":
        return ("or", tuple(sort_ands(x) for x in e[1]))
    if k == "not":
        return ("not", sort_ands(e[1]))
    if k == "ite":
        return ("ite", sort_ands(e[1]), sort_ands(e[2]), sort_ands(e[3]))
    return e


def specialize(e, base, off, mask, need, v):
    """``e`` for packets whose word (base, off) & mask == v (and long enough
    for ``need``): tests decided by that are replaced by constants."""
    k = e[0]
    if k == "test":
        t = e[1]
        if t.base == base and t.offset == off and not (t.mask & ~mask) and t.need <= need:
            return TRUE if (v & t.mask) == t.value else FALSE
        return e
    if k == "and":
        return AND(*(specialize(x, base, off, mask, need, v) for x in e[1]))
    if k == "or":
        return OR(*(specialize(x, base, off, mask, need, v) for x in e[1]))
    if k == "not":
        return NOT(specialize(e[1], base, off, mask, need, v))
    if k == "ite":
        return ITE(*(specialize(x, base, off, mask, need, v) for x in e[1:]))
    return e


def specialize_other(e, base, off, mask, need, values):
    """``e`` for packets long enough for the word, whose value is none of
    ``values``."""
    k = e[0]
    if k == "test":
        t = e[1]
        if t.base == base and t.offset == off and t.mask == mask and t.need <= need \
                and t.value in values:
            return FALSE
        return e
    if k in ("and", "or"):
        return (AND if k == "and" else OR)(
            *(specialize_other(x, base, off, mask, need, values) for x in e[1]))
    if k == "not":
        return NOT(specialize_other(e[1], base, off, mask, need, values))
    if k == "ite":
        return ITE(*(specialize_other(x, base, off, mask, need, values) for x in e[1:]))
    return e


def specialize_short(e, base, end):
    """``e`` for packets whose header ``base`` ends before ``end``: tests
    that need that byte take their short result."""
    k = e[0]
    if k == "test":
        t = e[1]
        if t.base == base and t.offset + t.need >= end:
            return TRUE if t.short else FALSE
        return e
    if k in ("and", "or"):
        return (AND if k == "and" else OR)(*(specialize_short(x, base, end) for x in e[1]))
    if k == "not":
        return NOT(specialize_short(e[1], base, end))
    if k == "ite":
        return ITE(*(specialize_short(x, base, end) for x in e[1:]))
    return e


def _choose_dispatch(rules):
    """The (base, offset, mask, need) word that most rules compare with a
    constant, if splitting on its values keeps the program small."""
    keys: dict = {}
    for idx, (e, _) in enumerate(rules):
        stack = [e]
        while stack:
            x = stack.pop()
            if x[0] == "test":
                t = x[1]
                ent = keys.setdefault((t.base, t.offset, t.mask, t.need), [set(), set()])
                ent[0].add(t.value)
                ent[1].add(idx)
            elif x[0] in ("and", "or"):
                stack.extend(x[1])
            elif x[0] == "not":
                stack.append(x[1])
            elif x[0] == "ite":
                stack.extend(x[1:])
    n = len(rules)
    best = None
    for key, (values, users) in keys.items():
        k = len(values)
        if k > 64 or len(users) < 3 or key[2] == 0:
            continue
        if (k + 2) * (n - len(users)) + len(users) > 3 * n + 32:
            continue
        score = (len(users), -k)
        if best is None or score > best[0]:
            best = (score, key, values)
    return None if best is None else (best[1], best[2])


def _chain(dag: Dag, rules) -> int:
    t = enc_out(-1)
    for e, out in reversed(rules):
        t = dag.compile(e, enc_out(out), t)
    return t


def _filter(rules):
    out = []
    for e, o in rules:
        if e == FALSE:
            continue
        out.append((e, o))
        if e == TRUE:
            break
    return out


def _dispatch(dag: Dag, rules, depth: int) -> int:
    choice = None
    if depth > 0 and len(rules) >= DISPATCH_MIN and len(dag.tests) < dag.budget:
        choice = _choose_dispatch(rules)
    if choice is None:
        return _chain(dag, rules)
    (base, off, mask, need), values = choice
    other = _filter([(specialize_other(e, base, off, mask, need, values), o) for e, o in rules])
    short = _filter([(specialize_short(e, base, off + need), o) for e, o in rules])
    # long enough but another value / too short
    t = dag.mk(Test(base, off, 0, 0, need, False), _dispatch(dag, other, depth - 1),
               _chain(dag, short))
    for v in sorted(values, reverse=True):
        sub = _filter([(specialize(e, base, off, mask, need, v), o) for e, o in rules])
        t = dag.mk(Test(base, off, mask, v, need, False), _dispatch(dag, sub, depth - 1), t)
    return t


def build_dispatch(rules, depth: int = 3) -> tuple[Dag, int]:
    """Like build_dag, but when many rules compare one field with constants
    (typically the IP protocol), first branch on that field's value and
    compile, for each value, only the rules that can still match."""
    rules = list(rules)
    dag = Dag()
    plain, _ = build_dag(rules)
    dag.budget = 4 * len(plain.tests) + 256     # bound on the code dispatch duplicates
    return dag, _dispatch(dag, rules, depth)


# ---------------------------------------------------------------------------
# What is known about a packet on an edge

class Know:
    """Facts that hold for every packet travelling along an edge.

    ``long[base]``: that many bytes of the header are known to exist.
    ``words[(base, offset)][mask] = (pos, neg)``: ``pos`` maps a value v to a
    condition c meaning "word & mask == v" and ``neg`` the same for "!=".  The
    condition is None (always true) or an end position e: the fact holds if
    the packet has e bytes (a test whose short result equals its outcome may
    have been short instead of matching)."""

    __slots__ = ("long", "words")

    def __init__(self, long=None, words=None):
        self.long = long if long is not None else {}
        self.words = words if words is not None else {}

    def add(self, t: Test, outcome: bool) -> "Know":
        long = self.long
        e = t.offset + t.need
        known = long.get(t.base, 0)
        if outcome != t.short:
            cond = None
            if e > known:
                long = dict(long)
                long[t.base] = e
        else:
            cond = None if e <= known else e
        key = (t.base, t.offset)
        words = dict(self.words)
        wf = dict(words.get(key, ()))
        pos, neg = wf.get(t.mask, ({}, {}))
        if outcome:
            pos = dict(pos)
            pos[t.value] = _stronger(pos.get(t.value, _MISSING), cond)
        else:
            if len(neg) >= NEG_FACTS_MAX and t.value not in neg:
                return Know(long, self.words)
            neg = dict(neg)
            neg[t.value] = _stronger(neg.get(t.value, _MISSING), cond)
        wf[t.mask] = (pos, neg)
        words[key] = wf
        return Know(long, words)

    def implies(self, t: Test):
        """True or False if every packet here gives that result for ``t``,
        None if unknown."""
        known = self.long.get(t.base, 0)
        e2 = t.offset + t.need
        wf = self.words.get((t.base, t.offset))
        m = None
        if wf:
            m2, v2 = t.mask, t.value

            def ok(c):
                return c is None or c <= known or c <= e2

            for m1, (pos, neg) in wf.items():
                for v1, c in pos.items():
                    if not ok(c):
                        continue
                    if (m2 & ~m1) == 0:
                        m = (v1 & m2) == v2
                        break
                    if (v1 ^ v2) & m1 & m2:
                        m = False
                        break
                if m is not None:
                    break
                if neg and (m1 & ~m2) == 0:
                    c = neg.get(v2 & m1, _MISSING)
                    if c is not _MISSING and ok(c):
                        m = False
                        break
                    if m1 == m2 and (m1 & (m1 - 1)) == 0:
                        c = neg.get(v2 ^ m1, _MISSING)
                        if c is not _MISSING and ok(c):
                            m = True
                            break
        if m is None:
            return None
        if e2 <= known or m == t.short:
            return m
        return None


def _stronger(a, b):
    """Combine two conditions for the same fact on one path (either holds)."""
    if a is _MISSING:
        return b
    if a is None or b is None:
        return None
    return min(a, b)


def _weaker(a, b):
    """Condition for a fact known on two merging paths (both must hold)."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def intersect(a: Know, b: Know) -> Know:
    if a is b:
        return a
    long = {k: min(v, b.long[k]) for k, v in a.long.items() if k in b.long}
    words = {}
    for key, wa in a.words.items():
        wb = b.words.get(key)
        if not wb:
            continue
        wf = {}
        for mask, (pa, na) in wa.items():
            pb_nb = wb.get(mask)
            if pb_nb is None:
                continue
            pb, nb = pb_nb
            pos = {v: _weaker(c, pb[v]) for v, c in pa.items() if v in pb}
            neg = {v: _weaker(c, nb[v]) for v, c in na.items() if v in nb}
            if pos or neg:
                wf[mask] = (pos, neg)
        if wf:
            words[key] = wf
    return Know(long, words)


def drift(dag: Dag, root: int) -> bool:
    """Redirect every branch past tests whose result is implied on that
    branch.  Returns True if anything changed."""
    if root < 0:
        return False
    changed = False
    pending: dict[int, Know] = {root: Know()}
    for n in dag.reachable(root):
        k = pending.pop(n, None)
        if k is None:           # no longer reachable
            continue
        t = dag.tests[n]
        for outcome in (True, False):
            ke = k.add(t, outcome)
            tgt = dag.yes[n] if outcome else dag.no[n]
            orig = tgt
            while tgt >= 0:
                r = ke.implies(dag.tests[tgt])
                if r is None:
                    break
                ke = ke.add(dag.tests[tgt], r)
                tgt = dag.yes[tgt] if r else dag.no[tgt]
            if tgt != orig:
                changed = True
                if outcome:
                    dag.yes[n] = tgt
                else:
                    dag.no[n] = tgt
            if tgt >= 0:
                prev = pending.get(tgt)
                pending[tgt] = ke if prev is None else intersect(prev, ke)
    return changed


def prefuse(dag: Dag, root: int) -> None:
    """Prepare and-chains for fusion into one wide test.  Where test A's yes
    branch goes to test B on a nearby word, and A's no branch X, for packets
    that pass A and fail B, leads to where B's no branch goes, B's no branch
    can go to X instead: A and B then fail to the same place and become one
    test (``udp && unfrag``: the fused test fails over to the TCP rule, which
    such a packet fails at once)."""
    for n in dag.reachable(root):
        m = dag.yes[n]
        if m < 0 or dag.no[m] == dag.no[n]:
            continue
        t1, t2 = dag.tests[n], dag.tests[m]
        if t1.short or t2.short or fuse_wide(to_wide(t1), to_wide(t2)) is None:
            continue
        k = Know().add(t1, True).add(t2, False)
        x = dag.no[n]
        while x >= 0:
            r = k.implies(dag.tests[x])
            if r is None:
                break
            k = k.add(dag.tests[x], r)
            x = dag.yes[x] if r else dag.no[x]
        if x == dag.no[m]:
            m2 = dag.mk(t2, dag.yes[m], dag.no[n])
            dag._index.pop((t1, m, dag.no[n]), None)
            dag.yes[n] = m2


def optimize(dag: Dag, root: int, rounds: int = 4) -> tuple[Dag, int]:
    dag, root = dag.rebuild(root)
    for _ in range(rounds):
        changed = drift(dag, root)
        n_before = len(dag.reachable(root))
        dag, root = dag.rebuild(root, merge_words=True)
        if not changed and len(dag.reachable(root)) == n_before:
            break
    return dag, root


# ---------------------------------------------------------------------------
# The flat program

class Program:
    """A flat decision program, ready for the C matcher (``_engine.CProgram``).

    ``insns``: list of Insn; ``output_everything``: set (an output, or -1 for
    drop) when the result does not depend on the packet, in which case
    ``insns`` is empty.  ``noutputs``: outputs the element has.  ``warnings``:
    (message, pattern index) pairs, e.g. patterns that can never match.
    """

    def __init__(self, insns, output_everything=None, noutputs=0, warnings=()):
        self.insns: list[Insn] = list(insns)
        self.output_everything = output_everything
        self.noutputs = noutputs
        self.warnings: list = list(warnings)
        self.safe = [0] * NBASES
        for i in self.insns:
            self.safe[i.base] = max(self.safe[i.base], i.offset + max(8, i.need))

    def __len__(self):
        return len(self.insns)

    def on_network_header(self, header_length: int = 20) -> "Program":
        """This program with its transport-header reads turned into
        network-header reads header_length bytes further: what it reads on a
        packet whose transport header follows an IP header of that length.
        The C matcher runs such a program from one pointer."""
        insns = [i._replace(base=BASE_NET, offset=i.offset + header_length) if i.base == BASE_TRANS else i
                 for i in self.insns]
        return Program(insns, self.output_everything, self.noutputs, self.warnings)

    def outputs_used(self) -> set[int]:
        if self.output_everything is not None:
            return {self.output_everything}
        used = set()
        for i in self.insns:
            targets = [i.yes, i.no] + [t for _, t in i.cases]
            used.update(-t - 1 for t in targets if t <= 0)
        return used

    def match(self, pkt: PacketView) -> int:
        """Slow Python interpreter of the flat program (tests)."""
        if self.output_everything is not None:
            return self.output_everything
        pc = 0
        while True:
            i = self.insns[pc]
            if pkt.avail(i.base) < i.offset + i.need:
                j = i.yes if i.short and i.op == OP_TEST else i.no
            else:
                w = pkt.word(i.base, i.offset, 8) & i.mask
                if i.op == OP_TEST:
                    j = i.yes if w == i.value else i.no
                else:
                    j = i.no
                    for v, tgt in i.cases:
                        if v == w:
                            j = tgt
                            break
            if j <= 0:
                return -j - 1
            pc = j

    def dump(self) -> str:
        """Human-readable program, in the spirit of Click's `program` handler."""
        lines = []

        def jump(j):
            if j > 0:
                return f"step {j}"
            out = -j - 1
            return "[drop]" if out < 0 else f"[{out}]"

        def hexb(x, nb):
            return (x >> (8 * (8 - nb))).to_bytes(nb, "big").hex()

        for n, i in enumerate(self.insns):
            where = f"{BASE_NAMES[i.base]}+{i.offset}"
            nb = max(1, _span(i.mask))
            if i.op == OP_TEST:
                s = (f"{n:3d} {where:>10}/{hexb(i.value, nb)}%{hexb(i.mask, nb)}"
                     f"  yes->{jump(i.yes)}  no->{jump(i.no)}")
                if i.short:
                    s += "  short->yes"
                if i.need != nb:
                    s += f"  (needs {i.need} bytes)"
                lines.append(s)
            else:
                lines.append(f"{n:3d} {where:>10}%{hexb(i.mask, nb)} switch"
                             f" ({len(i.cases)} values)  default->{jump(i.no)}")
                for v, t in i.cases:
                    lines.append(f"{'':15}=={hexb(v, nb)}  ->{jump(t)}")
        if not self.insns:
            out = self.output_everything
            lines.append(f"all->{'[drop]' if out is None or out < 0 else f'[{out}]'}")
        safe = ", ".join(f"{BASE_NAMES[b]} {s}" for b, s in enumerate(self.safe) if s)
        lines.append(f"safe length {safe or 0}")
        return "\n".join(lines) + "\n"

    __str__ = dump


def _topo(dag: Dag, root: int, chains) -> list[int]:
    """Parents-first order of the nodes reachable from root, where a SWITCH
    chain's successors are its cases and default."""
    post, state = [], set()
    stack = [(root, False)]
    while stack:
        n, done = stack.pop()
        if done:
            post.append(n)
            continue
        if n in state:
            continue
        state.add(n)
        stack.append((n, True))
        if n in chains:
            cases, default = chains[n]
            succ = [t for _, t in reversed(cases)] + [default]
        else:
            succ = [dag.yes[n], dag.no[n]]
        for m in reversed(succ):
            if m >= 0 and m not in state:
                stack.append((m, False))
    post.reverse()
    return post


def flatten(dag: Dag, root: int, noutputs: int = 0, use_switch: bool = True) -> Program:
    if root < 0:
        return Program([], dec_out(root), noutputs)

    # SWITCH chains: node -> (cases, default) for chains starting at node
    chains: dict[int, tuple] = {}
    if use_switch:
        for n in dag.reachable(root):
            t = dag.tests[n]
            if t.short:
                continue
            cases = [(t.value, dag.yes[n])]
            seen = {t.value}
            m = dag.no[n]
            while m >= 0:
                t2 = dag.tests[m]
                if (t2.base, t2.offset, t2.mask, t2.need, t2.short) != \
                        (t.base, t.offset, t.mask, t.need, False) or t2.value in seen:
                    break
                seen.add(t2.value)
                cases.append((t2.value, dag.yes[m]))
                m = dag.no[m]
            if len(cases) >= SWITCH_MIN:
                chains[n] = (cases, m)

    # lay out reachable nodes parents first (ids decrease along edges)
    seen = set()
    stack = [root]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n in chains:
            cases, default = chains[n]
            succ = [default] + [t for _, t in cases]
        else:
            succ = [dag.yes[n], dag.no[n]]
        stack.extend(s for s in succ if s >= 0 and s not in seen)
    order = [n for n in _topo(dag, root, chains) if n in seen]
    index = {n: k for k, n in enumerate(order)}

    def j(t):
        return index[t] if t >= 0 else -(dec_out(t) + 1)

    insns = []
    for n in order:
        t = dag.tests[n]
        if n in chains:
            cases, default = chains[n]
            cs = tuple(sorted((v, j(tg)) for v, tg in cases))
            insns.append(Insn(OP_SWITCH, t.base, t.offset, t.mask, 0, t.need, False,
                              0, j(default), cs))
        else:
            insns.append(Insn(OP_TEST, t.base, t.offset, t.mask, t.value, t.need, t.short,
                              j(dag.yes[n]), j(dag.no[n])))
    return Program(insns, None, noutputs)


def compile_rules(rules, noutputs: int = 0, optimize_program: bool = True,
                  use_switch: bool = True) -> Program:
    """rules: list of (expression, output) -- output -1 drops.  Returns the
    flat program; ``optimize_program=False`` gives the plain compiled DAG
    (tests compare the two)."""
    rules = list(rules)
    if optimize_program:
        rules = [(sort_ands(e), out) for e, out in rules]
        dag, root = build_dispatch(rules)
        dag, root = optimize(dag, root)
        prefuse(dag, root)
        dag, root = dag.rebuild(root, wide=True)
    else:
        dag, root = build_dag(rules)
        dag, root = dag.rebuild(root, wide=True, fuse=False)
    prog = flatten(dag, root, noutputs, use_switch=use_switch and optimize_program)
    used = prog.outputs_used()
    for idx, (_, out) in enumerate(rules):
        if out >= 0 and out not in used:
            prog.warnings.append((f"pattern {idx} matches no packets", idx))
    return prog


__all__ = ["Program", "Insn", "OP_TEST", "OP_SWITCH", "compile_rules", "build_dag",
           "optimize", "flatten", "ClassifyError"]

sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
