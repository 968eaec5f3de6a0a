"""Random and mangled packets through every IPv4 element: counted drops or
passes, never a crash, a hang or a lost buffer (the pool fixture checks)."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from scapy.layers.inet import IP, TCP, UDP, ICMP, IPOption_RR, IPOption_LSRR, IPOption_Timestamp

from ipharness import Harness

ELEMENTS = [
    ("CheckIPHeader(VERBOSE false)", 2), ("CheckIPHeader2", 2), ("MarkIPHeader", 1),
    ("StripToNetworkHeader", 1), ("GetIPAddress(IP src)", 1), ("StoreIPAddress(1.2.3.4, dst)", 2),
    ("DecIPTTL", 2), ("SetIPChecksum", 1), ("FixIPSrc(9.9.9.9)", 1), ("IPGWOptions(9.9.9.9)", 2),
    ("IPEncap(4, 1.1.1.1, DST_ANNO)", 1), ("IPInputCombo(1)", 1), ("IPOutputCombo(1, 9.9.9.9, 100)", 5),
    ("IPFragmenter(68, HONOR_DF false)", 2), ("IPReassembler(HIMEM 20000)", 2), ("IPPrint(CONTENTS hex, OUTFILE /dev/null)", 1),
    ("ICMPError(9.9.9.9, parameterproblem)", 1), ("ICMPError(9.9.9.9, redirect)", 1), ("ICMPPingResponder", 2),
    ("CheckICMPHeader", 2), ("CheckUDPHeader", 2), ("CheckTCPHeader", 2), ("SetUDPChecksum", 1),
    ("SetTCPChecksum", 1), ("UDPIPEncap(1.1.1.1, 1, DST_ANNO, 2)", 1),
    ("RadixIPLookup(0/0 0, 10/8 1.1.1.1 1)", 2), ("DirectIPLookup(10/8 0, 10.1.2.0/25 1)", 2),
    ("LinearIPLookup(1.0.0.0/255.0.255.0 0)", 1),
]

seeds = st.sampled_from([
    bytes(IP(src="10.0.0.2", dst="10.0.1.2") / UDP() / b"payload"),
    bytes(IP(src="10.0.0.2", dst="10.0.1.2", flags="MF", frag=3) / TCP() / (b"t" * 40)),
    bytes(IP(src="10.0.0.2", dst="10.0.1.2", options=[IPOption_RR(routers=["0.0.0.0"] * 2)]) / ICMP()),
    bytes(IP(src="10.0.0.2", dst="10.0.1.2", options=[IPOption_LSRR(routers=["1.1.1.1"], pointer=8)]) / ICMP(type=8)),
    bytes(IP(src="10.0.0.2", dst="10.0.1.2", options=[IPOption_Timestamp(flg=3, pointer=5, internet_address="9.9.9.9", timestamp=0)]) / UDP()),
    bytes(IP(src="10.0.0.2", dst="10.0.1.2") / ICMP(type=3) / IP(dst="1.2.3.4") / UDP()),
])


@st.composite
def mangled(draw):
    """A real IPv4 packet with random bytes overwritten, cut short or extended, or random bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=120))
    data = bytearray(draw(seeds))
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=16))


@pytest.mark.parametrize("decl, outputs", ELEMENTS, ids=[d.split("(")[0] for d, _ in ELEMENTS])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(packets=st.lists(mangled(), min_size=1, max_size=12), annotate=st.booleans(),
       user=st.binary(min_size=48, max_size=48))
def test_mangled_packets_never_crash_or_leak(decl, outputs, packets, annotate, user):
    h = Harness(decl, outputs=outputs, big_pool_size=4)
    xs = []
    for p in packets:
        extra = {"network_offset": 0} if annotate and len(p) >= 1 else {}
        xs.append(h.packet(p, user=user, **extra))
    out = h.push(xs)
    assert sum(len(o) for o in out) <= 64 * len(packets)        # fragments multiply, nothing explodes
    h.router.cleanup()
    assert h.pool.free_count == h.pool.size
