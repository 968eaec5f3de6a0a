"""The Classifier element: Click's example with scapy frames, errors, and the element
against a brute-force matcher written here from Click's documentation (hypothesis)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.all import ARP, IP, IPv6, UDP, Ether

import sink  # noqa: F401
from clickpy.lang.graph import ConfigError
from clickpy.router import Router


def classifier(patterns):
    outs = "".join(f"c[{i}] -> o{i} :: PacketSink;" for i in range(len(patterns)))
    return Router.from_string(f"src :: InfiniteSource(ACTIVE false) -> c :: Classifier({', '.join(patterns)});"
                              + outs)


def classify(r, frames):
    r.element("c").push_packets(0, [r.pool.new_packet(f) for f in frames])
    n = r.element("c").noutputs
    return [[d for d, _ in r.element(f"o{i}").packets] for i in range(n)]


def test_clicks_example():
    req = bytes(Ether() / ARP(op=1))
    rep = bytes(Ether() / ARP(op=2))
    ip = bytes(Ether() / IP() / UDP())
    ip6 = bytes(Ether() / IPv6())
    r = classifier(["12/0806 20/0001", "12/0806 20/0002", "12/0800", "-"])
    assert classify(r, [req, ip, rep, ip6, ip, req]) == [[req, req], [rep], [ip, ip], [ip6]]
    assert r.handler("c.program")            # the compiled program is shown
    assert r.handler("c.drops") == "0"


def test_unmatched_packets_are_dropped_and_short_packets_fail_clauses():
    r = classifier(["12/0800", "!12/0800 0/ff"])
    frames = [bytes(13), b"\xff" + bytes(12), bytes(12) + b"\x08\x00", b"\x00" * 20]
    # 13 bytes: too short for 12/0800, so "!12/0800" holds, but 0/ff does not: dropped;
    # the second is short and starts with ff: output 1
    assert classify(r, frames) == [[frames[2]], [frames[1]]]
    assert r.handler("c.drops") == "2"


def test_masks_and_wildcards():
    r = classifier(["12/08?? 14/45%f0", "0/01%01", "-"])
    a = bytes(12) + b"\x08\x06\x4f"
    b = b"\x03" + bytes(20)
    c = bytes(12) + b"\x07\x00\x45"
    assert classify(r, [a, b, c]) == [[a], [b], [c]]


def test_lone_dash_and_uniform_batches_skip_per_packet_work():
    r = classifier(["-"])
    frames = [bytes([i % 256]) * 20 for i in range(300)]
    assert classify(r, frames) == [frames]


def test_configuration_errors():
    with pytest.raises(ConfigError, match="need 2 arguments"):
        Router.from_string("InfiniteSource -> c :: Classifier(12/0800); c[0] -> Discard; c[1] -> Discard;")
    with pytest.raises(ConfigError, match="pattern 1"):
        classifier(["12/0800", "12/080"])
    with pytest.raises(ConfigError, match="pattern 0"):
        classifier(["12x0800"])


def test_unreachable_pattern_is_a_warning():
    r = classifier(["-", "12/0800"])
    assert any("matches no packets" in w.message for w in r.warnings)


# ---- against a brute-force matcher ------------------------------------------------

def brute_force(patterns, frame):
    """Click's documented semantics, evaluated directly: the first pattern all of
    whose clauses hold; a clause holds if the packet has every byte its mask tests
    and those bits are equal; `!` negates."""
    for out, pattern in enumerate(patterns):
        if pattern.strip() == "-":
            return out
        ok = True
        for clause in pattern.split():
            neg = clause.startswith("!")
            clause = clause.lstrip("!")
            off_text, rest = clause.split("/")
            value, _, mask = rest.partition("%")
            off = int(off_text)
            holds = True
            for k in range(len(value) // 2):
                vm = 0
                vv = 0
                for nib in range(2):
                    ch = value[2 * k + nib]
                    m = 0 if ch == "?" else 0xF
                    if mask:
                        mch = mask[2 * k + nib]
                        m &= 0 if mch == "?" else int(mch, 16)
                    vm = (vm << 4) | m
                    vv = (vv << 4) | (0 if ch == "?" else int(ch, 16))
                if vm == 0:
                    continue
                if off + k >= len(frame) or (frame[off + k] & vm) != (vv & vm):
                    holds = False
                    break
            if holds == neg:
                ok = False
                break
        if ok:
            return out
    return -1


BYTE = st.sampled_from([0x00, 0x08, 0x45, 0xFF])
HEXDIGIT = st.sampled_from("0845f?")


@st.composite
def clauses(draw):
    nbytes = draw(st.integers(1, 3))
    value = "".join(draw(HEXDIGIT) for _ in range(2 * nbytes))
    mask = ""
    if draw(st.booleans()):
        mask = "%" + "".join(draw(st.sampled_from("0f8?")) for _ in range(2 * nbytes))
    neg = "!" if draw(st.integers(0, 3)) == 0 else ""
    return f"{neg}{draw(st.integers(0, 20))}/{value}{mask}"


@st.composite
def pattern_lists(draw):
    n = draw(st.integers(1, 4))
    pats = [" ".join(draw(st.lists(clauses(), min_size=1, max_size=3))) for _ in range(n)]
    if draw(st.booleans()):
        pats.append("-")
    return pats


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern_lists(), st.lists(st.lists(BYTE, max_size=24).map(bytes), min_size=1, max_size=40))
def test_classifier_matches_brute_force(patterns, frames):
    r = classifier(patterns)
    try:
        got = classify(r, frames)
    finally:
        r.cleanup()
    want = [[] for _ in patterns]
    for f in frames:
        out = brute_force(patterns, f)
        if out >= 0:
            want[out].append(f)
    assert got == want
