"""IPv4 header elements, checked against scapy: TTL, addresses, checksums, options, encapsulation, combos, IPPrint."""
import random
import re
import struct

import pytest
from scapy.layers.inet import IP, TCP, UDP, ICMP, IPOption_RR, IPOption_Timestamp, IPOption_LSRR
from scapy.layers.l2 import Ether
from scapy.utils import checksum

from ipharness import Harness, user_anno


def recomputed(raw: bytes) -> bytes:
    """raw with every checksum recomputed by scapy."""
    p = IP(raw)
    del p.chksum
    if p.haslayer(UDP) and p[UDP].chksum:
        del p[UDP].chksum
    if p.haslayer(TCP):
        del p[TCP].chksum
    return bytes(p)


def ip_checksum_ok(raw: bytes) -> bool:
    hlen = (raw[0] & 15) * 4
    return checksum(raw[:hlen]) == 0


# ---- DecIPTTL -------------------------------------------------------------------

def test_decipttl_decrements_and_keeps_the_checksum_right():
    rng = random.Random(1)
    pkts = [IP(src=f"10.0.{rng.randrange(256)}.{rng.randrange(256)}", dst="192.168.0.1",
               ttl=rng.randrange(2, 256), id=rng.randrange(65536), tos=rng.randrange(256)) / UDP() / (b"x" * rng.randrange(30))
            for _ in range(300)]
    h = Harness("DecIPTTL", outputs=2)
    out = h.push([bytes(p) for p in pkts], network_offset=0)
    assert len(out[0]) == 300 and out[1] == []
    for p, o in zip(pkts, out[0]):
        expect = p.copy()
        expect.ttl -= 1
        del expect.chksum
        assert o.data == bytes(expect)          # scapy recomputed the checksum from scratch


def test_decipttl_expired_packets_go_to_output_1():
    h = Harness("DecIPTTL", outputs=2)
    pkts = [bytes(IP(dst="1.2.3.4", ttl=t) / UDP()) for t in (0, 1, 2)]
    out = h.push(pkts, network_offset=0)
    assert [IP(o.data).ttl for o in out[0]] == [1]
    assert [o.data for o in out[1]] == pkts[:2]
    assert h.handler("drops") == "2"


def test_decipttl_without_output_1_drops_and_multicast_keyword():
    h = Harness("DecIPTTL(MULTICAST false)")
    pkts = [bytes(IP(dst="224.0.0.5", ttl=1) / UDP()), bytes(IP(dst="10.0.0.5", ttl=1) / UDP()),
            bytes(IP(dst="239.1.1.1", ttl=9) / UDP())]
    out = h.push(pkts, network_offset=0)
    assert [o.data for o in out[0]] == [pkts[0], pkts[2]]    # multicast untouched
    assert h.handler("drops") == "1"
    h.write("active", "false")
    out = h.push([pkts[1]], network_offset=0)
    assert [o.data for o in out[0]] == [pkts[1]]


def test_decipttl_expired_packets_anywhere_in_a_batch_keep_both_orders():
    rng = random.Random(4)
    ttls = [rng.choice([0, 1, 2, 64]) for _ in range(256)]
    pkts = [bytes(IP(dst="1.2.3.4", ttl=t, id=i) / UDP()) for i, t in enumerate(ttls)]
    out = Harness("DecIPTTL", outputs=2).push(pkts, network_offset=0)
    assert [IP(o.data).id for o in out[0]] == [i for i, t in enumerate(ttls) if t > 1]
    assert [o.data for o in out[1]] == [p for p, t in zip(pkts, ttls) if t <= 1]


def test_decipttl_without_network_header_counts_a_drop():
    h = Harness("DecIPTTL", outputs=2)
    out = h.push([bytes(IP() / UDP())])
    assert out[0] == [] and len(out[1]) == 1


# ---- annotations and addresses ----------------------------------------------------

def test_getipaddress_offset_anno_and_ip_keyword():
    pkt = bytes(IP(src="1.2.3.4", dst="5.6.7.8") / UDP())
    out = Harness("GetIPAddress(16)").push([pkt, b"short"])
    assert out[0][0].dst_ip == "5.6.7.8" and out[0][1].dst_ip == "0.0.0.0"
    out = Harness("GetIPAddress(12, 4)").push([pkt])
    assert out[0][0].user[4:8] == bytes([1, 2, 3, 4])
    out = Harness("GetIPAddress(IP src)").push([pkt], network_offset=0)
    assert out[0][0].dst_ip == "1.2.3.4"
    from clickpy.lang.graph import ConfigError
    with pytest.raises(ConfigError):
        Harness("GetIPAddress(16, IP dst)")
    with pytest.raises(ConfigError):
        Harness("GetIPAddress(IP foo)")


def test_setipaddress_and_handler():
    h = Harness("SetIPAddress(9.8.7.6)")
    assert h.push([b"x"])[0][0].dst_ip == "9.8.7.6"
    h.write("addr", "1.1.1.1")
    assert h.handler("addr") == "1.1.1.1"
    assert h.push([b"x"])[0][0].dst_ip == "1.1.1.1"


@pytest.mark.parametrize("proto", ["udp", "tcp", "udp0"])
@pytest.mark.parametrize("field", ["src", "dst"])
def test_storeipaddress_header_fields_update_checksums_incrementally(proto, field):
    l4 = {"udp": UDP(sport=5, dport=7), "tcp": TCP(sport=5, dport=7, flags="S"), "udp0": UDP(sport=5, dport=7, chksum=0)}[proto]
    pkt = IP(src="10.0.0.1", dst="10.0.0.2") / l4 / b"some data here"
    raw = bytes(pkt)
    h = Harness(f"StoreIPAddress(192.168.77.3, {field})", outputs=2)
    o = h.push([raw], network_offset=0)[0][0]
    expect = IP(raw)
    setattr(expect, field, "192.168.77.3")
    del expect.chksum
    if proto == "tcp":
        del expect[TCP].chksum
    elif proto == "udp":
        del expect[UDP].chksum
    assert o.data == bytes(expect)


def test_storeipaddress_numeric_offset_and_annotation_forms():
    raw = bytes(range(40))
    h = Harness("StoreIPAddress(4)", outputs=2)
    out = h.push([raw], user=user_anno("1.2.3.4"))
    assert out[0][0].data == raw[:4] + bytes([1, 2, 3, 4]) + raw[8:]
    out = h.push([raw])                                   # zero annotation: unchanged
    assert out[0][0].data == raw
    out = h.push([raw[:6]], user=user_anno("1.2.3.4"))    # does not fit: output 1
    assert out[0] == [] and len(out[1]) == 1
    out = Harness("StoreIPAddress(0.0.0.0, 0)").push([raw])
    assert out[0][0].data == bytes(4) + raw[4:]


def test_setipchecksum_sets_and_drops_bad_lengths():
    pkt = IP(src="3.3.3.3", dst="4.4.4.4", options=[IPOption_RR(routers=["1.1.1.1"])]) / UDP()
    bad = bytearray(bytes(pkt))
    bad[10:12] = b"\x12\x34"
    h = Harness("SetIPChecksum")
    out = h.push([bytes(bad)], network_offset=0)
    assert out[0][0].data == bytes(pkt)
    out = h.push([bytes(bad)])                            # no network header
    assert out[0] == [] and h.handler("drops") == "1"
    trunc = bytearray(bytes(IP() / UDP()))
    trunc[0] = 0x4F                                        # header longer than the packet
    assert h.push([bytes(trunc)], network_offset=0)[0] == []


def test_fixipsrc_only_when_annotated():
    raw = bytes(IP(src="6.6.6.6", dst="7.7.7.7") / ICMP())
    h = Harness("FixIPSrc(10.9.8.7)")
    anno = bytearray(48)
    anno[19] = 1
    out = h.push([raw], network_offset=0, user=bytes(anno))
    o = out[0][0]
    expect = IP(raw)
    expect.src = "10.9.8.7"
    del expect.chksum
    assert o.data == bytes(expect) and o.user[19] == 0
    assert h.push([raw], network_offset=0)[0][0].data == raw


def test_striptonetworkheader():
    frame = bytes(Ether() / IP() / UDP())
    out = Harness("StripToNetworkHeader").push([frame], network_offset=14)
    assert out[0][0].data == frame[14:]
    assert Harness("StripToNetworkHeader").push([frame])[0][0].data == frame


# ---- IPGWOptions --------------------------------------------------------------------

def test_ipgwoptions_record_route_and_timestamps():
    pkt = IP(src="1.1.1.1", dst="2.2.2.2", options=[IPOption_RR(routers=["0.0.0.0"] * 3, pointer=4)]) / UDP()
    h = Harness("IPGWOptions(10.0.0.1)", outputs=2)
    o = h.push([bytes(pkt)], network_offset=0)[0][0]
    got = IP(o.data)
    assert got.options[0].routers[0] == "10.0.0.1" and got.options[0].pointer == 8
    assert ip_checksum_ok(o.data)
    # a full record route passes untouched
    full = IP(src="1.1.1.1", dst="2.2.2.2", options=[IPOption_RR(routers=["9.9.9.9"], pointer=8)]) / UDP()
    assert h.push([bytes(full)], network_offset=0)[0][0].data == bytes(full)

    ts = IP(src="1.1.1.1", dst="2.2.2.2", options=[IPOption_Timestamp(flg=1, pointer=5, timestamp=0, internet_address="0.0.0.0")]) / UDP()
    raw = bytes(ts)
    o = h.push([raw], network_offset=0)[0][0]
    opt = o.data[20:]
    assert opt[2] == raw[22] + 8 and opt[4:8] == bytes([10, 0, 0, 1])
    ms = struct.unpack("!I", opt[8:12])[0]
    assert ms < 86400 * 1000
    assert ip_checksum_ok(o.data)


def test_ipgwoptions_bad_options_set_the_parameter_problem_pointer():
    h = Harness("IPGWOptions(10.0.0.1)", outputs=2)
    base = bytes(IP(src="1.1.1.1", dst="2.2.2.2", ihl=6) / UDP())
    for opt, where in ((b"\x07\x09\x04\x00", 21),     # option length runs past the header
                       (b"\x07\x04\x02\x00", 22),     # record route pointer 2: bad
                       (b"\x44\x04\x02\x00", 22),     # timestamp pointer 2: bad
                       (b"\x01\x44\x01\x00", 22)):    # timestamp too short for its fields
        raw = bytearray(base[:20] + opt + base[20:])
        raw[2:4] = struct.pack("!H", len(raw))
        out = h.push([bytes(raw)], network_offset=0)
        assert out[0] == [] and len(out[1]) == 1, opt
        assert out[1][0].user[17] == where, opt
    assert h.handler("drops") == "4"


# ---- IPEncap ------------------------------------------------------------------------

def test_ipencap_builds_the_header_scapy_expects():
    payload = bytes(IP(src="9.9.9.9", dst="8.8.8.8") / UDP() / b"inner")
    h = Harness("IPEncap(ipip, 18.26.4.24, 140.247.60.147, TTL 64, DSCP 10, ECT true, DF true)")
    out = h.push([payload, payload])
    for i, o in enumerate(out[0]):
        expect = IP(src="18.26.4.24", dst="140.247.60.147", proto=4, ttl=64, tos=(10 << 2) | 1,
                    flags="DF", id=i) / payload
        assert o.data == bytes(expect)
        assert o.dst_ip == "140.247.60.147" and o.anno["network_offset"] == 0
    assert h.handler("src") == "18.26.4.24"
    h.write("dst", "1.2.3.4")
    assert IP(h.push([payload])[0][0].data).dst == "1.2.3.4"


def test_ipencap_dst_anno_and_errors():
    h = Harness("IPEncap(17, 1.1.1.1, DST_ANNO, TOS 7)")
    o = h.push([b"abcdefgh"], user=user_anno("3.4.5.6"))[0][0]
    assert o.data == bytes(IP(src="1.1.1.1", dst="3.4.5.6", proto=17, tos=7, ttl=250, id=0) / b"abcdefgh")
    from clickpy.lang.graph import ConfigError
    for bad in ("IPEncap(4, 1.1.1.1, 2.2.2.2, TOS 1, DSCP 2)", "IPEncap(4, 1.1.1.1, 2.2.2.2, ECT 1, CE 1)",
                "IPEncap(nosuchproto, 1.1.1.1, 2.2.2.2)", "IPEncap(4, 1.1.1.1)"):
        with pytest.raises(ConfigError):
            Harness(bad)


# ---- IPOutputCombo ------------------------------------------------------------------

def test_ipoutputcombo_paths():
    h = Harness("IPOutputCombo(2, 10.0.0.1, 100)", outputs=5)
    normal = bytes(IP(src="1.1.1.1", dst="2.2.2.2", ttl=9) / UDP())
    painted = bytes(IP(src="1.1.1.1", dst="2.2.2.2", ttl=9) / UDP() / b"p")
    badopt = bytearray(bytes(IP(src="1.1.1.1", dst="2.2.2.2", ihl=6) / UDP()))
    badopt = bytes(badopt[:20] + b"\x07\x02\x00\x00" + badopt[20:])
    badopt = badopt[:2] + struct.pack("!H", len(badopt)) + badopt[4:]
    expired = bytes(IP(src="1.1.1.1", dst="2.2.2.2", ttl=1) / UDP())
    big = bytes(IP(src="1.1.1.1", dst="2.2.2.2", ttl=9) / UDP() / (b"z" * 200))
    fix = bytes(IP(src="6.6.6.6", dst="2.2.2.2", ttl=9) / UDP())
    xs = [h.packet(normal, network_offset=0), h.packet(painted, network_offset=0, user=user_anno(paint=2)),
          h.packet(badopt, network_offset=0), h.packet(expired, network_offset=0),
          h.packet(big, network_offset=0), h.packet(fix, network_offset=0, user=bytes(19) + b"\x01" + bytes(28)),
          h.packet(normal, network_offset=0, packet_type=1)]
    out = h.push(xs)
    assert [o.data for o in out[0]] == [_dec(normal), _dec(painted), _dec(fix, src="10.0.0.1")]
    assert [o.data for o in out[1]] == [painted]           # the copy, before any change
    assert [o.data for o in out[2]] == [badopt] and out[2][0].user[17] == 22
    assert [o.data for o in out[3]] == [expired]
    assert [o.data for o in out[4]] == [_dec(big)]
    assert h.handler("drops") == "1"                        # the link-level broadcast


def _dec(raw, **changes):
    p = IP(raw)
    p.ttl -= 1
    for k, v in changes.items():
        setattr(p, k, v)
    del p.chksum
    return bytes(p)


# ---- IPPrint ------------------------------------------------------------------------

def print_lines(decl, packets, tmp_path, **annotations):
    out = tmp_path / "print.txt"
    h = Harness(f"IPPrint({decl}OUTFILE {out})")
    res = h.push(packets, **annotations)
    assert len(res[0]) == len(packets)
    return out.read_text().splitlines()


def test_ipprint_formats(tmp_path):
    pkts = [IP(src="192.168.1.1", dst="10.1.2.3") / UDP(sport=1234, dport=53) / b"0123456789",
            IP(src="10.0.0.2", dst="10.0.1.2") / TCP(sport=80, dport=5000, flags="S", seq=100, window=65535),
            IP(src="10.0.0.2", dst="10.0.1.2") / TCP(sport=80, dport=5000, flags="PA", seq=7, ack=9, window=512) / b"hello",
            IP(src="10.0.0.1", dst="10.0.1.2") / ICMP(type=8, id=1, seq=7),
            IP(src="10.0.0.1", dst="10.0.1.2") / ICMP(type=3, code=3) / IP(src="10.0.1.2", dst="10.0.1.9") / UDP(dport=53),
            IP(src="10.0.0.1", dst="10.0.1.2") / ICMP(type=11, code=0),
            IP(src="10.0.0.1", dst="10.0.1.2", proto=47) / b"gre",
            IP(src="10.0.0.1", dst="10.0.1.2", id=7, flags="MF", frag=185, proto=1) / (b"x" * 8)]
    lines = print_lines("ok, TIMESTAMP false, ", [bytes(p) for p in pkts], tmp_path, network_offset=0)
    assert lines == [
        "ok: 192.168.1.1.1234 > 10.1.2.3.53: udp 18",
        "ok: 10.0.0.2.80 > 10.0.1.2.5000: S 100:101(1,40,40) win 65535",
        "ok: 10.0.0.2.80 > 10.0.1.2.5000: P 7:12(5,45,45) ack 9 win 512",
        "ok: 10.0.0.1 > 10.0.1.2: icmp echo (1, 7)",
        "ok: 10.0.0.1 > 10.0.1.2: icmp 10.0.1.9 unreachable port udp/53",
        "ok: 10.0.0.1 > 10.0.1.2: icmp timeexceeded transit",
        "ok: 10.0.0.1 > 10.0.1.2: ip-proto-47",
        "ok: 10.0.0.1 > 10.0.1.2: icmp (frag 7:8@1480+)",
    ]


def test_ipprint_fields_contents_and_timestamp(tmp_path):
    raw = bytes(IP(src="1.2.3.4", dst="5.6.7.8", id=77, ttl=12, tos=3) / UDP(sport=1, dport=2) / b"ABCDEFGH")
    lines = print_lines("ID true, TTL true, TOS true, LENGTH true, PAINT true, CONTENTS ascii, MAXLENGTH 10, ",
                        [raw], tmp_path, network_offset=0, timestamp=1_700_000_000_123_456_789,
                        user=user_anno(paint=5))
    assert lines[0] == "1700000000.123456: paint 5: id 77 ttl 12 tos 3 length 36 1.2.3.4.1 > 5.6.7.8.2: udp 16"
    shown = "".join(chr(c) if 32 <= c <= 126 else "." for c in raw[:10])
    assert lines[1] == "  " + shown[:8] + " " + shown[8:]
    lines = print_lines("TIMESTAMP false, PAYLOAD hex, ", [raw], tmp_path, network_offset=0)
    assert lines[-1] == "  41424344 45464748"


def test_ipprint_skips_packets_without_ip_header(tmp_path):
    out = tmp_path / "p.txt"
    h = Harness(f"IPPrint(OUTFILE {out})")
    h.push([b"not ip"])
    assert out.read_text() == ""
