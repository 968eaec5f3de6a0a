"""TCP/UDP checksums (and so clickpy/checksum.pxd) against scapy; header checks; UDPIPEncap."""
import random

import pytest
from scapy.layers.inet import IP, TCP, UDP

from ipharness import Harness, user_anno


def rand_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def zeroed_checksum(pkt, layer):
    raw = bytearray(bytes(pkt))
    off = (raw[0] & 15) * 4 + (6 if layer is UDP else 16)
    raw[off:off + 2] = b"\x12\x34"
    return bytes(raw)


@pytest.mark.parametrize("layer", [UDP, TCP])
def test_set_checksum_matches_scapy_for_every_length(layer):
    """Lengths 0..300 cover odd tails, every 8-byte remainder and long runs of the checksum loop."""
    rng = random.Random(5)
    pkts = []
    for n in range(0, 301):
        l4 = UDP(sport=rng.randrange(65536), dport=rng.randrange(65536)) if layer is UDP else \
            TCP(sport=rng.randrange(65536), dport=rng.randrange(65536), seq=rng.getrandbits(32), flags="PA")
        pkts.append(IP(src=f"10.{rng.randrange(256)}.{rng.randrange(256)}.1", dst="172.16.0.9") / l4 / rand_bytes(rng, n))
    h = Harness("SetUDPChecksum" if layer is UDP else "SetTCPChecksum")
    out = h.push([zeroed_checksum(p, layer) for p in pkts], network_offset=0)[0]
    assert [o.data for o in out] == [bytes(p) for p in pkts]    # scapy computed each checksum


def test_set_checksum_on_unaligned_headers_with_options():
    rng = random.Random(9)
    pkt = IP(src="1.2.3.4", dst="5.6.7.8", options=b"\x01\x01\x01\x00") / UDP() / rand_bytes(rng, 77)
    frame = b"\xee" * 3 + zeroed_checksum(pkt, UDP)              # odd offset in the buffer
    out = Harness("SetUDPChecksum").push([frame], network_offset=3)[0]
    assert out[0].data[3:] == bytes(pkt)


def test_set_checksum_drops_what_it_cannot_sum():
    h = Harness("SetUDPChecksum")
    tcp = bytes(IP() / TCP())
    short = bytearray(bytes(IP() / UDP() / b"abc"))
    short[24:26] = (40).to_bytes(2, "big")                        # UDP length past the payload
    assert h.push([tcp, bytes(short)], network_offset=0) == [[]]
    assert h.handler("drops") == "2"
    h = Harness("SetTCPChecksum")
    assert h.push([bytes(IP() / UDP())], network_offset=0) == [[]]


def test_settcpchecksum_fixes_data_offsets():
    pkt = IP(src="1.1.1.1", dst="2.2.2.2") / TCP(dataofs=2) / b"payload"
    out = Harness("SetTCPChecksum").push([bytes(pkt)], network_offset=0)[0]
    fixed = IP(out[0].data)
    assert fixed[TCP].dataofs == 5
    expect = IP(src="1.1.1.1", dst="2.2.2.2") / TCP(dataofs=5) / b"payload"
    assert out[0].data == bytes(expect)


def test_zero_udp_checksum_is_sent_as_ffff():
    # find a payload whose UDP checksum computes to 0 and check it goes out as 0xFFFF
    for n in range(65536):
        pkt = IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=2) / n.to_bytes(2, "big")
        if IP(bytes(pkt))[UDP].chksum == 0xFFFF:
            break
    out = Harness("SetUDPChecksum").push([zeroed_checksum(pkt, UDP)], network_offset=0)[0]
    assert out[0].data[26:28] == b"\xff\xff"


def details(h):
    return {reason: int(count) for count, reason in (line.split("\t") for line in h.handler("drop_details").splitlines())}


def test_checkudpheader():
    good = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=3, dport=4) / b"hello")
    nosum = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=3, dport=4, chksum=0) / b"hello")
    bad = bytearray(good)
    bad[-1] ^= 1
    badlen = bytearray(good)
    badlen[24:26] = (200).to_bytes(2, "big")
    h = Harness("CheckUDPHeader", outputs=2)
    out = h.push([good, nosum, bytes(bad), bytes(badlen), bytes(IP() / TCP())], network_offset=0)
    assert [o.data for o in out[0]] == [good, nosum]
    assert details(h) == {"not UDP": 1, "bad packet length": 1, "bad UDP checksum": 1}


def test_checktcpheader():
    good = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / TCP(sport=3, dport=4, flags="S", options=[("MSS", 1460)]) / b"x")
    bad = bytearray(good)
    bad[30] ^= 1
    badoff = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / TCP(dataofs=15))
    h = Harness("CheckTCPHeader", outputs=2)
    out = h.push([good, bytes(bad), badoff, bytes(IP() / UDP())], network_offset=0)
    assert [o.data for o in out[0]] == [good]
    assert details(h) == {"not TCP": 1, "bad packet length": 1, "bad TCP checksum": 1}


def test_udpipencap_builds_what_scapy_builds():
    payload = b"DNS query bytes"
    h = Harness("UDPIPEncap(192.168.1.1, 1234, 10.1.2.3, 53)")
    out = h.push([payload, payload])[0]
    for i, o in enumerate(out):
        expect = IP(src="192.168.1.1", dst="10.1.2.3", id=i, ttl=250) / UDP(sport=1234, dport=53) / payload
        assert o.data == bytes(expect)
        assert o.dst_ip == "10.1.2.3" and o.anno["network_offset"] == 0 and o.anno["transport_offset"] == 20
    h.write("dport", "5353")
    h.write("src", "1.1.1.1")
    assert (h.handler("dport"), h.handler("src"), h.handler("sport")) == ("5353", "1.1.1.1", "1234")
    o = h.push([payload])[0][0]
    assert o.data == bytes(IP(src="1.1.1.1", dst="10.1.2.3", id=2, ttl=250) / UDP(sport=1234, dport=5353) / payload)


def test_udpipencap_without_checksum_and_dst_anno():
    h = Harness("UDPIPEncap(1.1.1.1, 1, DST_ANNO, 2, false)")
    o = h.push([b"abc"], user=user_anno("9.9.9.9"))[0][0]
    assert o.data == bytes(IP(src="1.1.1.1", dst="9.9.9.9", id=0, ttl=250) / UDP(sport=1, dport=2, chksum=0) / b"abc")
