"""Click's port-count, processing and flow-code specifications (cold code).

port_count: "1/1", "1/2", "1-/1", "-/-", "0/1", "1/1-2", "1/=", "1-/=+", or a
single side ("1" means "1/1").  A side is N (exactly), N- (N or more),
N-M (range), - (any number, zero included), = (as many as the inputs),
=+ (one more than the inputs).
processing: one code per port, the last repeated: h (push), l (pull),
a (agnostic); e.g. "a/ah", "h/l", "a".
flow_code: which inputs can reach which outputs, as Click's flow codes:
a letter or [set] per port, the last repeated; input i reaches output j when
their letters intersect; "#" links port i to port i only.  Default "x/x".
"""
from __future__ import annotations

PUSH, PULL, AGNOSTIC = "h", "l", "a"
UNLIMITED = 1 << 30


class PortRange:
    __slots__ = ("lo", "hi", "same_as_inputs")

    def __init__(self, lo: int, hi: int, same_as_inputs: int | None = None) -> None:
        self.lo = lo
        self.hi = hi                            # UNLIMITED for no upper bound
        self.same_as_inputs = same_as_inputs    # "=" -> 0, "=+" -> 1

    def bounds(self, ninputs: int) -> tuple[int, int]:
        if self.same_as_inputs is not None:
            n = ninputs + self.same_as_inputs
            return n, n
        return self.lo, self.hi

    def describe(self, ninputs: int = 0) -> str:
        lo, hi = self.bounds(ninputs)
        if lo == hi:
            return str(lo)
        if hi >= UNLIMITED:
            return f"{lo} or more"
        return f"{lo} to {hi}"


def _parse_side(text: str, spec: str, allow_same: bool) -> PortRange:
    if text == "-":
        return PortRange(0, UNLIMITED)
    if text in ("=", "=+"):
        if not allow_same:
            raise ValueError(f"bad port count {spec!r}: '=' only applies to outputs")
        return PortRange(0, 0, 0 if text == "=" else 1)
    if text.endswith("-") and text[:-1].isdigit():
        return PortRange(int(text[:-1]), UNLIMITED)
    lo, sep, hi = text.partition("-")
    if lo.isdigit() and (not sep or hi.isdigit()):
        lo_n = int(lo)
        hi_n = int(hi) if sep else lo_n
        if hi_n < lo_n:
            raise ValueError(f"bad port count {spec!r}")
        return PortRange(lo_n, hi_n)
    raise ValueError(f"bad port count {spec!r}")


def parse_port_count(spec: str) -> tuple[PortRange, PortRange]:
    spec = spec.strip()
    if "/" in spec:
        ins, outs = spec.split("/", 1)
    else:
        ins = outs = spec
    return _parse_side(ins, spec, False), _parse_side(outs, spec, True)


def _expand(codes: str, n: int, spec: str) -> list[str]:
    if not codes:
        raise ValueError(f"bad processing code {spec!r}")
    return [codes[min(i, len(codes) - 1)] for i in range(n)]


def parse_processing(spec: str, ninputs: int, noutputs: int) -> tuple[list[str], list[str]]:
    ins, _, outs = spec.partition("/")
    if not _:
        outs = ins
    for c in ins + outs:
        if c not in "hla":
            raise ValueError(f"bad processing code {spec!r}")
    return _expand(ins, ninputs, spec), _expand(outs, noutputs, spec)


def _flow_tokens(side: str, spec: str) -> list[frozenset[str] | None]:
    """Per-port letter sets; None stands for '#'."""
    tokens: list[frozenset[str] | None] = []
    i = 0
    while i < len(side):
        c = side[i]
        if c == "[":
            j = side.find("]", i)
            if j < 0:
                raise ValueError(f"bad flow code {spec!r}")
            letters = side[i + 1:j]
            if letters.startswith("^"):
                letters_set = frozenset(chr(k) for k in range(65, 123) if chr(k).isalpha()) - frozenset(letters[1:])
            else:
                letters_set = frozenset(letters)
            tokens.append(letters_set)
            i = j + 1
        elif c == "#":
            tokens.append(None)
            i += 1
        elif c.isalpha():
            tokens.append(frozenset(c))
            i += 1
        else:
            raise ValueError(f"bad flow code {spec!r}")
    if not tokens:
        raise ValueError(f"bad flow code {spec!r}")
    return tokens


def flow_links(spec: str, ninputs: int, noutputs: int) -> list[list[int]]:
    """For each input, the outputs its packets can reach."""
    ins, sep, outs = spec.partition("/")
    if not sep:
        outs = ins
    itoks, otoks = _flow_tokens(ins, spec), _flow_tokens(outs, spec)
    result: list[list[int]] = []
    for i in range(ninputs):
        it = itoks[min(i, len(itoks) - 1)]
        reach = []
        for j in range(noutputs):
            ot = otoks[min(j, len(otoks) - 1)]
            if it is None or ot is None:
                if it is None and ot is None and i == j:
                    reach.append(j)
            elif it & ot:
                reach.append(j)
        result.append(reach)
    return result
