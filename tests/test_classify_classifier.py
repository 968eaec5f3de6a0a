"""Classifier patterns: compiled program vs a brute-force byte matcher."""
import random

import pytest
from hypothesis import given, settings, strategies as st

from clickpy.classify import ClassifyError, compile_classifier
from clickpy.classify._engine import CProgram, match_bytes
from clickpy.classify.ir import PacketView

# --- a brute-force matcher, written from Click's documentation -------------


def clause_holds(clause, frame: bytes) -> bool:
    """clause: (negated, offset, [(value, mask) per byte]).  A byte with a
    nonzero mask must exist and match; a packet too short fails the clause."""
    neg, off, bts = clause
    ok = True
    for k, (v, m) in enumerate(bts):
        if m == 0:
            continue
        if off + k >= len(frame) or (frame[off + k] & m) != (v & m):
            ok = False
            break
    return not ok if neg else ok


def brute(patterns, frame):
    for i, pat in enumerate(patterns):
        if pat == "-" or all(clause_holds(c, frame) for c in pat):
            return i
    return -1


def render_byte(v, m, style):
    """One byte as two hex/? digits plus the mask digits (or None)."""
    digits = ""
    for shift in (4, 0):
        nm = (m >> shift) & 0xF
        nv = (v >> shift) & 0xF
        if nm == 0 and style != "mask":
            digits += "?"
        else:
            digits += "%x" % nv if style != "upper" else "%X" % nv
    return digits


def render(patterns, rnd):
    out = []
    for pat in patterns:
        if pat == "-":
            out.append("-")
            continue
        clauses = []
        for neg, off, bts in pat:
            use_mask = any(m not in (0, 0xFF, 0xF0, 0x0F) for _, m in bts) or rnd.random() < 0.3
            if use_mask:
                val = "".join("%02x" % (v & m) for v, m in bts)
                msk = "".join("%02x" % m for _, m in bts)
                text = f"{off}/{val}%{msk}"
            else:
                text = f"{off}/" + "".join(render_byte(v, m, rnd.choice(["lower", "upper"]))
                                           for v, m in bts)
            if neg:
                text = rnd.choice(["!", "! "]) + text
            clauses.append(text)
        out.append(rnd.choice([" ", "  ", "\t"]).join(clauses))
    return out


byte_pair = st.tuples(st.sampled_from([0, 1, 2, 8, 0x45, 0xFF, 0x80]),
                      st.sampled_from([0xFF, 0xFF, 0xF0, 0x0F, 0, 0x81, 0x01]))
clause = st.tuples(st.booleans(), st.integers(0, 22), st.lists(byte_pair, min_size=1, max_size=6))
pattern = st.one_of(st.just("-"), st.lists(clause, min_size=1, max_size=4))
frame = st.binary(min_size=0, max_size=30).map(
    lambda b: b)  # values biased below


@st.composite
def frames(draw):
    n = draw(st.integers(0, 32))
    alphabet = [0, 1, 2, 8, 0x45, 0xFF, 0x80, 0x81, 0x0F]
    return bytes(draw(st.lists(st.sampled_from(alphabet), min_size=n, max_size=n)))


@settings(max_examples=300, deadline=None)
@given(st.lists(pattern, min_size=1, max_size=6), st.lists(frames(), min_size=1, max_size=25),
       st.integers(0, 2**32))
def test_random_patterns_match_brute_force(patterns, frames_, seed):
    rnd = random.Random(seed)
    texts = render(patterns, rnd)
    opt = compile_classifier(texts)
    plain = compile_classifier(texts, optimize=False)
    c_opt, c_plain = CProgram(opt), CProgram(plain)
    for f in frames_:
        want = brute(patterns, f)
        assert match_bytes(c_opt, f) == want, (texts, f.hex(), opt.dump())
        assert match_bytes(c_plain, f) == want, (texts, f.hex(), plain.dump())
        assert opt.match(PacketView(f)) == want


ARP_IP = ["12/0806 20/0001", "12/0806 20/0002", "12/0800", "-"]


def eth(ethertype: bytes, rest: bytes = b"") -> bytes:
    return bytes(12) + ethertype + rest


def test_click_documentation_example():
    cp = CProgram(compile_classifier(ARP_IP))
    assert match_bytes(cp, eth(b"\x08\x06", bytes(6) + b"\x00\x01" + bytes(20))) == 0
    assert match_bytes(cp, eth(b"\x08\x06", bytes(6) + b"\x00\x02" + bytes(20))) == 1
    assert match_bytes(cp, eth(b"\x08\x06", bytes(6) + b"\x00\x03" + bytes(20))) == 3
    assert match_bytes(cp, eth(b"\x08\x00", bytes(40))) == 2
    assert match_bytes(cp, eth(b"\x86\xdd", bytes(40))) == 3
    # ARP frame cut before the opcode: not an ARP request/reply, falls to "-"
    assert match_bytes(cp, eth(b"\x08\x06", bytes(5))) == 3


def test_no_match_drops():
    cp = CProgram(compile_classifier(["12/0800"]))
    assert match_bytes(cp, eth(b"\x08\x00")) == 0
    assert match_bytes(cp, eth(b"\x08\x06")) == -1


def test_short_packets():
    cp = CProgram(compile_classifier(["12/08??", "!12/0800", "-"]))
    assert match_bytes(cp, bytes(12) + b"\x08") == 0           # 13 bytes: 08?? tests byte 12 only
    assert match_bytes(cp, bytes(12)) == 1                      # too short: !12/0800 holds
    assert match_bytes(cp, bytes(12) + b"\x09\x00") == 1
    assert match_bytes(cp, b"") == 1


def test_wildcards_and_masks():
    cp = CProgram(compile_classifier(["0/4?", "0/?5", "0/0f%0f", "0/80%c0"]))
    assert match_bytes(cp, b"\x4a") == 0
    assert match_bytes(cp, b"\x35") == 1
    assert match_bytes(cp, b"\x3f") == 2
    assert match_bytes(cp, b"\xb0") == 3
    assert match_bytes(cp, b"\xc0") == -1


def test_long_value_unaligned_offset():
    cp = CProgram(compile_classifier(["3/0102030405060708090a", "-"]))
    f = b"xyz" + bytes(range(1, 11))
    assert match_bytes(cp, f) == 0
    assert match_bytes(cp, f[:-1]) == 1
    assert match_bytes(cp, f[:-1] + b"\x0b") == 1


def test_dash_and_empty_match_everything():
    p = compile_classifier(["-", "12/0800"])
    assert p.output_everything == 0
    assert match_bytes(CProgram(p), b"") == 0
    assert ("pattern 1 matches no packets", 1, -1) in p.warnings
    assert compile_classifier([" "]).output_everything == 0


def test_contradiction_warns():
    p = compile_classifier(["12/0806 12/0800", "-"])
    assert ("pattern 0 matches no packets", 0, -1) in p.warnings
    assert p.output_everything == 1


def test_program_dump():
    text = compile_classifier(ARP_IP).dump()
    assert "data+12/0806%ffff" in text
    assert "data+20/0001%ffff" in text
    assert "safe length data 28" in text
    assert "yes->[0]" in text and "no->[3]" in text


def test_optimizer_removes_repeated_tests():
    plain = compile_classifier(ARP_IP, optimize=False)
    opt = compile_classifier(ARP_IP)
    assert len(opt) < len(plain)
    # the ethertype word is tested once on every path
    assert sum(1 for i in opt.insns if i.offset == 12 and i.value >> 48 == 0x0806) == 1


@pytest.mark.parametrize("pattern,column,fragment", [
    ("x", 0, "expected a digit"),
    ("12/0800 zz", 8, "expected a digit"),
    ("!", 1, "expected a digit"),
    ("12", 2, "expected '/'"),
    ("12-0800", 2, "expected '/'"),
    ("12/", 3, "less than 2 hex digits"),
    ("12/8", 3, "less than 2 hex digits"),
    ("12/080", 3, "odd number"),
    ("12/0800%ff", 8, "too few"),
    ("12/0800%ffffff", 8, "too many"),
    ("12/08g0", 5, "unexpected 'g'"),
    ("12/0800 14/45,", 13, "unexpected ','"),
    ("70000/00", 0, "too large"),
])
def test_errors_have_columns(pattern, column, fragment):
    with pytest.raises(ClassifyError) as ei:
        compile_classifier(["-", pattern])
    err = ei.value
    assert err.column == column, err
    assert err.index == 1
    assert fragment in err.message
