"""Click's Classifier pattern language.

A pattern is whitespace-separated clauses, all of which must hold:
``OFFSET/VALUE`` or ``OFFSET/VALUE%MASK``, optionally preceded by ``!``.
OFFSET is decimal, counted from the packet data start; VALUE and MASK are an
even number (at least 2) of hex digits, where ``?`` is a nibble that is not
tested; MASK has as many digits as VALUE.  The pattern ``-`` (and, as in
Click, an empty pattern) matches every packet.  One pattern per output; the
first matching pattern wins; a packet matching none is dropped.

Short packets, as in Click: a clause holds only if the packet has every byte
that its mask tests (``12/08??`` needs 13 bytes, ``12/0800`` 14), so a packet
too short for a clause fails it -- and therefore matches its negation.
"""
from __future__ import annotations

from .ir import AND, BASE_DATA, NOT, TRUE, ClassifyError, make_test
from .program import Program, compile_rules

_HEX = "0123456789abcdefABCDEF"


def _nibble(c: str) -> tuple[int, int]:
    if c == "?":
        return 0, 0
    return int(c, 16), 0xF


def parse_pattern(text: str, index: int = -1) -> tuple:
    """One Classifier pattern -> boolean expression over DATA-based tests."""
    s = text
    n = len(s)
    if s.strip() == "-":
        return TRUE
    i = 0
    clauses = []
    while True:
        while i < n and s[i].isspace():
            i += 1
        if i >= n:
            break
        negated = False
        if s[i] == "!":
            negated = True
            i += 1
            while i < n and s[i].isspace():
                i += 1
        start = i
        if i >= n or not s[i].isdigit():
            got = f"'{s[i]}'" if i < n else "end of pattern"
            raise ClassifyError(f"expected a digit (offset), got {got}", i, index)
        while i < n and s[i].isdigit():
            i += 1
        offset = int(s[start:i])
        if i >= n or s[i] != "/":
            got = f"'{s[i]}'" if i < n else "end of pattern"
            raise ClassifyError(f"expected '/' after offset, got {got}", i, index)
        i += 1
        vpos = i
        while i < n and (s[i] in _HEX or s[i] == "?"):
            i += 1
        value = s[vpos:i]
        mask = None
        mpos = i
        if i < n and s[i] == "%":
            i += 1
            mpos = i
            while i < n and (s[i] in _HEX or s[i] == "?"):
                i += 1
            mask = s[mpos:i]
        if i < n and not s[i].isspace():
            raise ClassifyError(f"unexpected '{s[i]}' in clause (value and mask are hex digits or '?')",
                                i, index)
        if len(value) < 2:
            raise ClassifyError("value has less than 2 hex digits", vpos, index)
        if len(value) % 2:
            raise ClassifyError("value has an odd number of hex digits", vpos, index)
        if mask is not None and len(mask) != len(value):
            which = "many" if len(mask) > len(value) else "few"
            raise ClassifyError(f"mask has too {which} hex digits", mpos, index)
        if offset + len(value) // 2 > 0xFFF0:
            raise ClassifyError(f"offset {offset} too large", start, index)
        # bytes -> aligned 32-bit word tests
        words: dict[int, list[int]] = {}
        for k in range(len(value) // 2):
            hv, hm = _nibble(value[2 * k])
            lv, lm = _nibble(value[2 * k + 1])
            v = (hv << 4) | lv
            m = (hm << 4) | lm
            if mask is not None:
                mh, mmh = _nibble(mask[2 * k])
                ml, mml = _nibble(mask[2 * k + 1])
                m &= ((mh << 4) | ml) & ((mmh << 4) | mml)
            pos = offset + k
            w = words.setdefault(pos & ~3, [0, 0])
            shift = 8 * (3 - (pos & 3))
            w[0] |= m << shift
            w[1] |= (v & m) << shift
        tests = [make_test(BASE_DATA, woff, m, v) for woff, (m, v) in sorted(words.items())]
        clause = AND(*tests)
        clauses.append(NOT(clause) if negated else clause)
    return AND(*clauses)


def compile_classifier(patterns: list[str], optimize: bool = True) -> Program:
    """Compile Click `Classifier(p0, p1, ...)`: pattern i sends to output i."""
    rules = [(parse_pattern(p, idx), idx) for idx, p in enumerate(patterns)]
    prog = compile_rules(rules, noutputs=len(patterns), optimize_program=optimize)
    prog.warnings = [(m, i, -1) for m, i in prog.warnings]
    return prog
