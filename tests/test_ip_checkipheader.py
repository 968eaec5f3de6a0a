"""CheckIPHeader, CheckIPHeader2, MarkIPHeader, IPInputCombo: header checks against scapy-built packets."""
import random
import struct

import pytest
from scapy.layers.inet import IP, TCP, UDP, ICMP
from scapy.layers.l2 import Ether
from scapy.utils import checksum

from ipharness import Harness


def udp_packet(**ip):
    return IP(src="192.168.1.1", dst="10.1.2.3", **ip) / UDP(sport=1234, dport=53) / b"payload!"


def details(h):
    return {reason: int(count) for count, reason in
            (line.split("\t") for line in h.handler("drop_details").splitlines())}


def with_checksum_fixed(raw: bytes) -> bytes:
    """Recompute the header checksum of a raw IPv4 header we tampered with."""
    b = bytearray(raw)
    hlen = (b[0] & 15) * 4
    b[10:12] = b"\0\0"
    b[10:12] = struct.pack("!H", checksum(bytes(b[:hlen])))
    return bytes(b)


def test_valid_packet_passes_with_annotations():
    h = Harness("CheckIPHeader", outputs=2)
    pkt = bytes(udp_packet())
    out = h.push([pkt])
    assert len(out[0]) == 1 and out[1] == []
    o = out[0][0]
    assert o.data == pkt
    assert o.anno["network_offset"] == 0 and o.anno["transport_offset"] == 20
    assert o.dst_ip == "10.1.2.3"
    assert h.handler("drops") == "0"


def test_ethernet_padding_is_cut_to_the_ip_length():
    h = Harness("CheckIPHeader(14)")
    frame = bytes(Ether(dst="02:00:00:00:00:01") / udp_packet())
    padded = frame + b"\0" * 10
    out = h.push([padded])
    assert out[0][0].data == frame
    assert out[0][0].anno["network_offset"] == 14


@pytest.mark.parametrize("make, reason", [
    (lambda p: p[:19], "tiny packet"),
    (lambda p: bytes([0x65]) + p[1:], "bad IP version"),
    (lambda p: with_checksum_fixed(bytes([0x44]) + p[1:]), "bad IP header length"),
    (lambda p: with_checksum_fixed(p[:2] + struct.pack("!H", len(p) + 1) + p[4:]), "bad IP length"),
    (lambda p: with_checksum_fixed(p[:2] + struct.pack("!H", 19) + p[4:]), "bad IP length"),
    (lambda p: p[:10] + bytes([p[10] ^ 0xFF]) + p[11:], "bad IP checksum"),
])
def test_each_malformed_header_is_dropped_and_counted_by_reason(make, reason):
    h = Harness("CheckIPHeader", outputs=2)
    bad = make(bytes(udp_packet()))
    out = h.push([bad, bytes(udp_packet())])
    assert len(out[0]) == 1                # the good one still passes
    assert [o.data for o in out[1]] == [bad]
    assert h.handler("drops") == "1"
    d = details(h)
    assert d[reason] == 1 and sum(d.values()) == 1


def test_every_reason_counted_in_one_batch_and_dropped_without_output_1(capfd):
    h = Harness("CheckIPHeader(BADSRC 6.6.6.6, VERBOSE true)", outputs=1)
    good = bytes(udp_packet())
    cases = [good[:10], bytes([0x55]) + good[1:], with_checksum_fixed(bytes([0x43]) + good[1:]),
             with_checksum_fixed(good[:2] + b"\xff\xff" + good[4:]),
             good[:10] + b"\x12\x34" + good[12:], bytes(IP(src="6.6.6.6", dst="1.2.3.4") / UDP())]
    out = h.push(cases + [good])
    assert [o.data for o in out[0]] == [good]
    assert set(details(h).values()) == {1}
    assert h.handler("drops") == "6"
    err = capfd.readouterr().err
    assert err.count("IP header check failed") == 6        # VERBOSE: every one reported


def test_invalid_packets_anywhere_in_a_batch_keep_both_orders():
    rng = random.Random(3)
    good = bytes(udp_packet())
    bad = [good[:10], bytes([0x55]) + good[1:], good[:10] + b"\x12\x34" + good[12:]]
    pkts = [rng.choice(bad) if rng.random() < 0.3 else good[:4] + bytes([i >> 8, i & 255]) + good[6:]
            for i in range(256)]
    pkts = [p if p in bad else with_checksum_fixed(p) for p in pkts]
    out = Harness("CheckIPHeader", outputs=2).push(pkts)
    assert [o.data for o in out[0]] == [p for p in pkts if p not in bad]
    assert [o.data for o in out[1]] == [p for p in pkts if p in bad]


def test_reported_only_once_without_verbose(capfd):
    h = Harness("CheckIPHeader")
    h.push([b"\x45" * 10] * 3)
    assert capfd.readouterr().err.count("IP header check failed: tiny packet") == 1


def test_bad_source_and_interfaces():
    h = Harness("CheckIPHeader(INTERFACES 10.0.0.1/24 192.168.5.9/16)", outputs=2)
    pkts = [IP(src="10.0.0.255", dst="8.8.8.8") / UDP(),          # subnet broadcast: bad
            IP(src="192.168.255.255", dst="8.8.8.8") / UDP(),     # the other subnet's broadcast
            IP(src="0.0.0.0", dst="8.8.8.8") / UDP(),
            IP(src="255.255.255.255", dst="8.8.8.8") / UDP(),
            IP(src="0.0.0.0", dst="10.0.0.1") / UDP(),            # to one of our addresses: allowed
            IP(src="10.0.0.7", dst="8.8.8.8") / UDP()]
    out = h.push([bytes(p) for p in pkts])
    assert [IP(o.data).src for o in out[0]] == ["0.0.0.0", "10.0.0.7"]
    assert len(out[1]) == 4
    assert details(h)["bad source address"] == 4


def test_old_positional_badsrc_adds_zero_and_broadcast():
    h = Harness("CheckIPHeader(1.2.3.4, 0)", outputs=2)
    out = h.push([bytes(IP(src=s, dst="9.9.9.9") / UDP()) for s in ("1.2.3.4", "0.0.0.0", "255.255.255.255", "5.5.5.5")])
    assert [IP(o.data).src for o in out[0]] == ["5.5.5.5"]


def test_checksum_false_and_checkipheader2():
    bad = bytearray(bytes(udp_packet()))
    bad[10] ^= 1
    for decl in ("CheckIPHeader(CHECKSUM false)", "CheckIPHeader2"):
        h = Harness(decl, outputs=2)
        out = h.push([bytes(bad)])
        assert len(out[0]) == 1, decl
    h = Harness("CheckIPHeader2(CHECKSUM true)", outputs=2)
    assert len(h.push([bytes(bad)])[1]) == 1


def test_options_header_length_and_offset_keyword():
    from scapy.layers.inet import IPOption_RR
    pkt = IP(src="1.1.1.1", dst="2.2.2.2", options=[IPOption_RR(routers=["0.0.0.0"] * 2)]) / TCP()
    raw = b"\xaa" * 6 + bytes(pkt)
    h = Harness("CheckIPHeader(OFFSET 6)")
    o = h.push([raw])[0][0]
    hl = IP(bytes(pkt)).ihl * 4
    assert hl > 20
    assert o.anno["network_offset"] == 6 and o.anno["transport_offset"] == 6 + hl


def test_config_errors():
    from clickpy.lang.graph import ConfigError
    for bad in ("CheckIPHeader(BADSRC 1.2.3)", "CheckIPHeader(INTERFACES 10.0.0.1/40)",
                "CheckIPHeader(foo, 3, 4)", "CheckIPHeader(OFFSET -1)"):
        with pytest.raises(ConfigError):
            Harness(bad)


def test_pull_path_filters_too():
    from clickpy.router import Router
    good = bytes(udp_packet())
    r = Router.from_string("""
        q :: Queue -> c :: CheckIPHeader -> Discard(ACTIVE false);
        InfiniteSource(ACTIVE false) -> q;
    """, warnings=False)
    q = r.element("q")
    q.push_packets(0, [r.pool.new_packet(good), r.pool.new_packet(good[:5])])
    got = r.element("c").pull_packets(0, 10)
    assert [r.pool.packet_bytes(x) for x in got] == [good]
    for x in got:
        r.pool.free_packet(x)
    assert r.handler("c.drops") == "1"


def test_markipheader_sets_offsets_without_checking():
    pkt = IP(src="1.1.1.1", dst="2.2.2.2", ihl=6, options=b"\x01\x01\x01\x00") / UDP()
    h = Harness("MarkIPHeader(4)")
    out = h.push([b"abcd" + bytes(pkt), b"short"])
    assert out[0][0].anno["network_offset"] == 4 and out[0][0].anno["transport_offset"] == 28
    assert out[0][1].anno["network_offset"] is None       # too short: unmarked


def test_ipinputcombo_paints_strips_checks_and_annotates():
    h = Harness("IPInputCombo(7, INTERFACES 10.0.0.1/24)")
    ok = bytes(Ether() / udp_packet())
    bad = bytes(Ether() / IP(src="10.0.0.255", dst="1.1.1.1") / UDP())
    out = h.push([ok, bad, b"\x00" * 10])
    assert len(out[0]) == 1
    o = out[0][0]
    assert o.data == bytes(udp_packet()) and o.paint == 7 and o.dst_ip == "10.1.2.3"
    assert o.anno["network_offset"] == 0
    assert h.handler("drops") == "2"
    d = details(h)
    assert d["bad source address"] == 1 and d["tiny packet"] == 1
