"""Click's argument conventions for element configuration strings.

A configuration string is split at top-level commas (`split_args`, Click's
`cp_argvec`): quotes protect commas, comments count as space, an empty last
argument is dropped.  Arguments come positionally first, then as
`KEYWORD value`.  An argument "has a keyword" when it starts with a letter or
underscore, continues with letters, digits or `_ : . ? !`, and is followed by
space and a value; such an argument is matched to a keyword read, and is
only taken as a positional value when a mandatory positional argument would
otherwise be missing.  A keyword given twice takes the last value.

    a = Args(config, context="c :: Counter", location=loc)
    limit = a.read_p("LIMIT", UINT, 0)
    stop = a.read("STOP", BOOL, False)
    a.complete()

`read` raises ConfigError (naming the context, the keyword and the problem,
at `location`) as soon as a value does not parse or a mandatory argument is
missing; `complete()` raises for every argument nobody read.  An optional
argument that is absent reads as `default` (None when no default is given).

Value types are plain callables `parse(text) -> value` raising `ArgError`.
"""
from __future__ import annotations

from clickpy.lang.graph import NOWHERE, ConfigError, Diagnostic, Location
from clickpy.lang.strings import SPACE, argvec, is_word, parse_click_int, spacevec, string_arg
from clickpy.lang.strings import quote as _quote
from clickpy.lang.strings import unquote, unquote_bytes, word_arg

__all__ = [
    "Args", "ArgError", "MISSING", "split_args", "split_words", "quote", "unquote",
    "BOOL", "INT", "UINT", "INT64", "UINT64", "Int", "DOUBLE", "SECONDS", "NSECONDS",
    "BANDWIDTH", "IPADDR", "IPPREFIX", "IPADDR_OR_PREFIX", "ETHERADDR", "IP6ADDR", "IP6PREFIX",
    "WORD", "STRING", "DATA", "ANY", "FILENAME", "ELEMENT", "ANNO", "Anno", "ANNOTATIONS",
    "Keyword", "is_word",
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()


class ArgError(ValueError):
    """Raised by a value type when its text does not parse."""


def split_args(config: str) -> list[str]:
    """Split a configuration string into arguments, as Click's cp_argvec."""
    return argvec(config) if config else []


def split_words(arg: str) -> list[str]:
    """Split one argument at unquoted spaces, as Click's cp_spacevec."""
    return spacevec(arg)


def quote(s: str) -> str:
    """A double-quoted Click string that STRING parses back to `s`."""
    return _quote(s)


_KW_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_KW_REST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:.?!")


def _keyword_length(arg: str) -> int:
    """Length of arg's leading keyword, or 0 if it has none (Click's Args::reset_from)."""
    n = len(arg)
    if not n or arg[0] not in _KW_FIRST:
        return 0
    i = 1
    while i < n and arg[i] in _KW_REST:
        i += 1
    t = i
    while t < n and arg[t] in SPACE:
        t += 1
    if t == i or t == n:
        return 0
    return i


class Args:
    """Read an element's arguments the way Click's Args class does."""

    def __init__(self, config: str, *, context: str = "", location: Location = NOWHERE,
                 resolver=None, names=None):
        self.config = config
        # names(text, kinds) -> address text or None: mnemonic addresses
        # (AddressInfo) for the address types, tried when a literal fails
        self.names = names
        self.context = context
        self.location = location
        self.resolver = resolver
        self.warnings: list[Diagnostic] = []
        self._conf = split_args(config)
        # keyword length (>0), 0 = positional, -1 = consumed positionally, -2 = consumed by keyword
        self._kw = [_keyword_length(a) for a in self._conf]

    # -- errors --------------------------------------------------------------

    def _message(self, keyword: str, message: str) -> str:
        return ": ".join(p for p in (self.context, keyword, message) if p)

    def error(self, keyword: str, message: str) -> ConfigError:
        """A ConfigError about `keyword` in this element's configuration."""
        return ConfigError([Diagnostic(self.location, self._message(keyword, message))])

    # -- finding arguments -----------------------------------------------------

    def _find(self, keyword: str, positional: bool, mandatory: bool, deprecated: bool,
              firstmatch: bool = False) -> str | None:
        kw = self._kw
        conf = self._conf
        klen = len(keyword)
        got = -1
        got_kwpos = -1
        position = -1
        for i in range(len(kw)):
            k = kw[i]
            if position == -1 and k != -1:
                position = i if k >= 0 else -2
            if klen and k == klen and conf[i].startswith(keyword):
                got = i
                got_kwpos = k
                kw[i] = -2
                if firstmatch:
                    break
        if (positional and position >= 0 and kw[position] >= 0
                and ((got < 0 and mandatory) or kw[position] == 0)
                and (not firstmatch or got < 0 or position < got)):
            kw[position] = -1
            if firstmatch and 0 <= position < got:
                kw[got] = klen
            if firstmatch or got < position:
                got = position
                got_kwpos = 0
        if got < 0:
            if mandatory:
                raise self.error(keyword, "required argument missing")
            return None
        if deprecated:
            self.warnings.append(Diagnostic(self.location,
                                            self._message(keyword, "argument deprecated"),
                                            "warning"))
        if got_kwpos > 0:
            return conf[got][got_kwpos:].lstrip(SPACE)
        return conf[got]

    def _convert(self, keyword: str, type_, text: str):
        if type_ is ELEMENT:
            return self._element(keyword, text)
        try:
            return type_(text)
        except ArgError as e:
            kinds = _ADDRESS_KINDS.get(type_)
            named = self.names(text.strip(), kinds) if kinds and self.names is not None else None
            if named is None:
                raise self.error(keyword, str(e) or "parse error") from None
        except (ValueError, TypeError, OverflowError) as e:
            raise self.error(keyword, f"parse error ({e})") from None
        try:
            return type_(named)
        except ArgError as e:
            raise self.error(keyword, str(e) or "parse error") from None
        except (ValueError, TypeError, OverflowError) as e:
            raise self.error(keyword, f"parse error ({e})") from None

    def _element(self, keyword: str, text: str):
        name = string_arg(text)
        if name is None:
            raise self.error(keyword, "expected element name")
        if self.resolver is None:
            return name
        try:
            e = self.resolver(name)
        except (ConfigError, LookupError, ValueError):
            e = None
        if e is None:
            raise self.error(keyword, f"'{name}' does not name an element")
        return e

    # -- the API -----------------------------------------------------------------

    def read(self, keyword: str, type_, default=MISSING, *, positional: bool = False,
             mandatory: bool = False, deprecated: bool = False):
        """The value of argument `keyword` (or the next positional one), parsed by type_."""
        text = self._find(keyword, positional, mandatory, deprecated)
        if text is None:
            return None if default is MISSING else default
        return self._convert(keyword, type_, text)

    def read_p(self, keyword: str, type_, default=MISSING, **kw):
        return self.read(keyword, type_, default, positional=True, **kw)

    def read_m(self, keyword: str, type_, default=MISSING, **kw):
        return self.read(keyword, type_, default, mandatory=True, **kw)

    def read_mp(self, keyword: str, type_, default=MISSING, **kw):
        return self.read(keyword, type_, default, positional=True, mandatory=True, **kw)

    def read_all(self, keyword: str, type_) -> list:
        """Every value given for a keyword that may repeat, in order."""
        kw = self._kw
        conf = self._conf
        klen = len(keyword)
        out = []
        for i in range(len(kw)):
            if klen and kw[i] == klen and conf[i].startswith(keyword):
                kw[i] = -2
                out.append(self._convert(keyword, type_, conf[i][klen:].lstrip(SPACE)))
        return out

    def has(self, keyword: str) -> bool:
        """True if an unread argument is given with this keyword."""
        klen = len(keyword)
        return any(klen and k == klen and a.startswith(keyword)
                   for k, a in zip(self._kw, self._conf))

    def rest(self) -> list[str]:
        """All arguments nobody has read yet (raw text), now consumed."""
        out = []
        for i, k in enumerate(self._kw):
            if k >= 0:
                out.append(self._conf[i])
                self._kw[i] = -1
        return out

    def remaining(self) -> int:
        return sum(1 for k in self._kw if k >= 0)

    def complete(self) -> None:
        """Raise ConfigError for every argument that nobody read."""
        msgs = []
        extra = []
        for i, k in enumerate(self._kw):
            if k == 0:
                extra.append(self._conf[i])
            elif k > 0:
                msgs.append(self._message(self._conf[i][:k], "unknown argument"))
        if extra:
            msgs.append(self._message("", f"too many arguments (unexpected '{extra[0]}')"))
        if msgs:
            raise ConfigError([Diagnostic(self.location, m) for m in msgs])


# ---------------------------------------------------------------------------
# Value types


_BOOLS = {"0": False, "n": False, "f": False, "no": False, "false": False,
          "1": True, "y": True, "t": True, "yes": True, "true": True}


def BOOL(s: str) -> bool:
    """Click booleans: true/false, yes/no, 1/0, t/f, y/n."""
    v = _BOOLS.get(s)
    if v is None:
        raise ArgError("expected boolean")
    return v


def Int(lo: int, hi: int, what: str | None = None):
    """An integer type accepting lo..hi (Click syntax: 0x hex, 0b binary, 0 octal, `_`)."""
    signed = lo < 0
    desc = what or ("integer" if signed else "unsigned integer")

    def parse(s: str) -> int:
        v = parse_click_int(s, signed)
        if v is None:
            raise ArgError(f"expected {desc}")
        if v < lo:
            raise ArgError(f"out of range, bound {lo}")
        if v > hi:
            raise ArgError(f"out of range, bound {hi}")
        return v

    parse.__name__ = f"Int({lo}, {hi})"
    return parse


INT = Int(-2**31, 2**31 - 1)
UINT = Int(0, 2**32 - 1)
INT64 = Int(-2**63, 2**63 - 1)
UINT64 = Int(0, 2**64 - 1)

def _digits_end(s: str, i: int, underscores: bool) -> int:
    """End of the run of ASCII digits at s[i] (`1_000` style groups if `underscores`)."""
    end = len(s)
    j = i
    while j < end and "0" <= s[j] <= "9":
        j += 1
    if underscores and j > i:
        while j + 1 < end and s[j] == "_" and "0" <= s[j + 1] <= "9":
            j += 2
            while j < end and "0" <= s[j] <= "9":
                j += 1
    return j


def _decimal(s: str, signs: str, underscores: bool) -> tuple[int, int] | None:
    """(mantissa, exponent) with value mantissa * 10**exponent for a C-style decimal
    number (`12`, `1.5`, `.5`, `5.`, `1e-3`, a sign from `signs`), None if s is not one."""
    end = len(s)
    i = 1 if s[:1] and s[0] in signs else 0
    j = _digits_end(s, i, underscores)
    whole = s[i:j]
    fraction = ""
    if j < end and s[j] == ".":
        k = _digits_end(s, j + 1, underscores)
        fraction = s[j + 1:k]
        j = k
    if not whole and not fraction:
        return None
    exponent = 0
    if j < end and s[j] in "eE":
        k = j + 1
        if k < end and s[k] in "+-":
            k += 1
        m = _digits_end(s, k, False)
        if m == k:
            return None
        exponent = int(s[j + 1:m])
        j = m
    if j != end:
        return None
    fraction = fraction.replace("_", "")
    mantissa = int((whole + fraction).replace("_", ""))
    return (-mantissa if s[0] == "-" else mantissa), exponent - len(fraction)


def DOUBLE(s: str) -> float:
    """A real number in C notation (`1`, `-2.5`, `1e-3`, `inf`)."""
    unsigned = s[1:] if s[:1] in ("+", "-") else s
    if unsigned.lower() in ("inf", "infinity", "nan"):
        return float(s)
    if _decimal(s, "+-", False) is None:
        raise ArgError("expected real number")
    v = float(s)
    if v in (float("inf"), float("-inf")):
        raise ArgError(f"out of range, bound {v}")
    return v


# (suffix, factor, power of ten), in Click's matching order
_SECONDS_UNITS = (("s", 1, 0), ("sec", 1, 0), ("m", 6, 1), ("min", 6, 1), ("h", 36, 2),
                  ("hr", 36, 2), ("d", 864, 2), ("day", 864, 2))
_SECONDS_PREFIXES = {"m": -3, "u": -6, "n": -9}
_BANDWIDTH_UNITS = (("baud", 125, -3), ("bps", 125, -3), ("b/s", 125, -3), ("Bps", 1, 0),
                    ("B/s", 1, 0))
_BANDWIDTH_PREFIXES = {"k": 3, "K": 3, "M": 6, "G": 9}


def _with_unit(s: str, units, prefixes, what: str) -> tuple[int, int]:
    """(mantissa, exponent) of `number[space][prefix]unit` (Click's UnitArg), in base units."""
    factor, power, end = 1, 0, len(s)
    for suffix, f, p in units:
        if s.endswith(suffix):
            factor, power, end = f, p, len(s) - len(suffix)
            if end > 0 and s[end - 1] in prefixes:
                power += prefixes[s[end - 1]]
                end -= 1
            while end > 0 and s[end - 1] in SPACE:
                end -= 1
            break
    number = _decimal(s[:end], "+", True)
    if number is None:
        raise ArgError(f"expected {what}")
    return number[0] * factor, number[1] + power


def _round_u64(mantissa: int, exponent: int) -> int:
    """mantissa * 10**exponent rounded half up, for a value that must fit 64 bits."""
    if mantissa == 0:
        return 0
    if exponent >= 20:          # 10**20 > 2**64
        raise ArgError("out of range")
    if exponent >= 0:
        v = mantissa * 10 ** exponent
    elif -exponent > len(str(mantissa)):   # below 0.1: rounds to 0
        v = 0
    else:
        q, r = divmod(mantissa, 10 ** -exponent)
        v = q + (2 * r >= 10 ** -exponent)
    if v >= 2**64:
        raise ArgError("out of range")
    return v


def SECONDS(s: str) -> float:
    """A time interval in seconds: `1.5`, `1.5s`, `10ms`, `500us`, `20ns`, `2min`, `1h`, `1d`."""
    mantissa, exponent = _with_unit(s, _SECONDS_UNITS, _SECONDS_PREFIXES, "time in seconds")
    v = float(f"{mantissa}e{exponent}")    # correctly rounded, even for huge exponents
    if v == float("inf"):
        raise ArgError("out of range")
    return v


def NSECONDS(s: str) -> int:
    """A time interval as an integer number of nanoseconds (same syntax as SECONDS)."""
    mantissa, exponent = _with_unit(s, _SECONDS_UNITS, _SECONDS_PREFIXES, "time in seconds")
    return _round_u64(mantissa, exponent + 9)


def BANDWIDTH(s: str) -> int:
    """Bytes per second: `1000` (bytes/s), `10Mbps`/`10 Mb/s`/`9600baud` (bits), `1GBps` (bytes)."""
    return _round_u64(*_with_unit(s, _BANDWIDTH_UNITS, _BANDWIDTH_PREFIXES, "bandwidth"))


def _ip_parts(s: str, lo: int = 4) -> list[int] | None:
    parts = s.split(".")
    if not (lo <= len(parts) <= 4):
        return None
    out = []
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit() or not p.isascii():
            return None
        v = int(p)
        if v > 255:
            return None
        out.append(v)
    return out


def _ip_int(parts: list[int]) -> int:
    parts = parts + [0] * (4 - len(parts))
    return (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]


def IPADDR(s: str) -> int:
    """An IPv4 address `n.n.n.n` as an int in host byte order."""
    parts = _ip_parts(s)
    if parts is None:
        raise ArgError("expected IP address")
    return _ip_int(parts)


def _prefix_mask(n: int) -> int:
    return (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF


def IPPREFIX(s: str) -> tuple[int, int]:
    """An IPv4 prefix -> (address, mask): `10.0.0.0/8`, `10/8`, `18.26.4/24`,
    `10.0.0.0/255.0.0.0` or `10.0.0.0 255.0.0.0`."""
    if "/" in s:
        a, _, m = s.partition("/")
    else:
        words = s.split()
        if len(words) != 2:
            raise ArgError("expected IP address prefix")
        a, m = words
    parts = _ip_parts(a, 1)
    if parts is None:
        raise ArgError("expected IP address prefix")
    if m.isdigit() and m.isascii() and len(m) <= 2:
        n = int(m)
        if n > 32 or n > 8 * len(parts):
            raise ArgError("expected IP address prefix")
        mask = _prefix_mask(n)
    else:
        mparts = _ip_parts(m)
        if mparts is None:
            raise ArgError("expected IP address prefix")
        mask = _ip_int(mparts)
        if len(parts) < 4 and mask & ((1 << (32 - 8 * len(parts))) - 1):
            raise ArgError("expected IP address prefix")
    return _ip_int(parts), mask


def IPADDR_OR_PREFIX(s: str) -> tuple[int, int]:
    """An IPv4 address (mask 255.255.255.255) or prefix -> (address, mask)."""
    parts = _ip_parts(s)
    if parts is not None:
        return _ip_int(parts), 0xFFFFFFFF
    try:
        return IPPREFIX(s)
    except ArgError:
        raise ArgError("expected IP address or prefix") from None


def ETHERADDR(s: str) -> bytes:
    """An Ethernet address `0:a0:c9:9c:fd:9c` or `00-A0-C9-9C-FD-9C` -> 6 bytes."""
    sep = ":" if ":" in s else "-"
    parts = s.split(sep)
    if len(parts) != 6:
        raise ArgError("expected Ethernet address")
    out = bytearray()
    for p in parts:
        if not (1 <= len(p) <= 2) or any(ch not in "0123456789abcdefABCDEF" for ch in p):
            raise ArgError("expected Ethernet address")
        out.append(int(p, 16))
    return bytes(out)


def _ip6(s: str) -> bytes | None:
    if not s or "%" in s or "/" in s or not s.isascii():
        return None
    import ipaddress
    try:
        return ipaddress.IPv6Address(s).packed
    except ValueError:
        return None


def IP6ADDR(s: str) -> bytes:
    """An IPv6 address in any RFC 4291 form (`::1`, `::18.26.4.15`) -> 16 bytes."""
    v = _ip6(s)
    if v is None:
        raise ArgError("expected IPv6 address")
    return v


def IP6PREFIX(s: str) -> tuple[bytes, int]:
    """An IPv6 prefix `addr/len` or `addr/mask` -> (16 bytes, prefix length)."""
    a, sep, m = s.partition("/")
    addr = _ip6(a) if sep else None
    if addr is None:
        raise ArgError("expected IPv6 address prefix")
    if m.isdigit() and m.isascii() and len(m) <= 3 and int(m) <= 128:
        return addr, int(m)
    mask = _ip6(m)
    if mask is not None:
        v = int.from_bytes(mask, "big")
        n = 128 - (~v & ((1 << 128) - 1)).bit_length()
        if v == ((1 << 128) - 1) ^ ((1 << (128 - n)) - 1):
            return addr, n
    raise ArgError("expected IPv6 address prefix")


def WORD(s: str) -> str:
    """One word (printable ASCII, no space, comma, quote or backslash after unquoting)."""
    w = word_arg(s)
    if w is None:
        raise ArgError("expected word")
    return w


def STRING(s: str) -> str:
    """A Click string: one word, quoted parts unquoted and concatenated (`a"b c"d`)."""
    v = string_arg(s)
    if v is None:
        raise ArgError("expected string")
    return v


def DATA(s: str) -> bytes:
    """Bytes from a Click string: `"\\x01\\n"`, `\\<0800 4500>`, text as UTF-8."""
    if string_arg(s) is None:
        raise ArgError("expected data string")
    return unquote_bytes(s)


def ANY(s: str) -> str:
    """The argument's raw text."""
    return s


def FILENAME(s: str) -> str:
    """A file name: a Click string, with `~` expanded."""
    v = string_arg(s)
    if not v:
        raise ArgError("expected filename")
    if v.startswith("~"):
        import os.path
        v = os.path.expanduser(v)
    return v


def ELEMENT(s: str) -> str:
    """An element name; Args resolves it to the element through its resolver."""
    v = string_arg(s)
    if v is None:
        raise ArgError("expected element name")
    return v


ANNO_SIZE = 48

# name -> (offset, size) in the 48-byte annotation area (modern Click's layout)
ANNOTATIONS = {
    "DST_IP": (0, 4), "DST_IP6": (0, 16), "PAINT": (16, 1), "ICMP_PARAMPROB": (17, 1),
    "FIX_IP_SRC": (19, 1), "VLAN_TCI": (20, 2), "AGGREGATE": (20, 4), "MISC_IP": (20, 4),
    "EXTRA_PACKETS": (26, 2), "EXTRA_LENGTH": (28, 4), "FIRST_TIMESTAMP": (32, 8),
    "PACKET_NUMBER": (32, 4), "SEQUENCE_NUMBER": (36, 4), "PERFCTR": (40, 8),
}


def ANNO(s: str) -> tuple[int, int]:
    """An annotation: a name such as `PAINT` -> (offset, size), or a byte offset -> (offset, 0)."""
    if s.endswith("_ANNO") and s[:-5] in ANNOTATIONS:
        s = s[:-5]
    v = ANNOTATIONS.get(s)
    if v is not None:
        return v
    n = parse_click_int(s, False)
    if n is None or n >= ANNO_SIZE:
        raise ArgError("expected annotation")
    return n, 0


def Anno(size: int):
    """An annotation of exactly `size` bytes -> its offset (Click's AnnoArg(size))."""

    def parse(s: str) -> int:
        off, sz = ANNO(s)
        if (sz and sz != size) or off + size > ANNO_SIZE or (size in (2, 4, 8) and off % size):
            raise ArgError(f"expected {size}-byte annotation")
        return off

    parse.__name__ = f"Anno({size})"
    return parse


def Keyword(*choices: str):
    """One of the given words (for arguments like `MODE fast|slow`)."""

    def parse(s: str) -> str:
        w = word_arg(s)
        if w not in choices:
            raise ArgError("expected one of " + ", ".join(choices))
        return w

    parse.__name__ = "Keyword"
    return parse


# The kinds of AddressInfo entry each address type can use, in order of preference.
_ADDRESS_KINDS = {IPADDR: ("ip",), IPPREFIX: ("ipnet",), IPADDR_OR_PREFIX: ("ipnet", "ip"),
                  ETHERADDR: ("eth",), IP6ADDR: ("ip6",), IP6PREFIX: ("ip6net",)}
