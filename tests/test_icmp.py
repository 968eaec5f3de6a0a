"""ICMPError, ICMPPingResponder, CheckICMPHeader: errors and replies checked with scapy."""
import pytest
from scapy.layers.inet import IP, UDP, TCP, ICMP, IPOption_RR, IPOption_LSRR, IPerror, UDPerror
from scapy.utils import checksum

from ipharness import Harness, user_anno
from clickpy.lang.graph import ConfigError


def original(**ip):
    return IP(src="10.0.0.2", dst="10.0.1.9", ttl=1, id=77, **ip) / UDP(sport=1111, dport=53) / (b"d" * 100)


def error_for(decl, raw, **annotations):
    h = Harness(decl)
    out = h.push([raw], network_offset=0, **annotations)[0]
    return h, out


def test_time_exceeded_quotes_the_packet_and_is_valid():
    raw = bytes(original())
    h, out = error_for("ICMPError(10.0.0.1, timeexceeded)", raw)
    assert len(out) == 1
    o = out[0]
    e = IP(o.data)
    assert (e.src, e.dst, e.proto, e.ttl) == ("10.0.0.1", "10.0.0.2", 1, 200)
    assert checksum(o.data[:20]) == 0
    assert e[ICMP].type == 11 and e[ICMP].code == 0
    assert checksum(o.data[20:]) == 0                           # ICMP checksum over the message
    assert bytes(e[ICMP].payload) == raw                        # fits in 576: the whole datagram
    quoted = e[IPerror]
    assert (quoted.src, quoted.dst, quoted.id) == ("10.0.0.2", "10.0.1.9", 77)
    assert quoted[UDPerror].dport == 53
    assert o.dst_ip == "10.0.0.2" and o.user[19] == 1           # destination and Fix IP Source annotations
    assert o.anno["network_offset"] == 0 and o.anno["timestamp"] > 0


def test_destination_unreachable_quote_is_cut_to_the_mtu():
    raw = bytes(IP(src="10.0.0.2", dst="10.0.1.9") / UDP(dport=7) / (b"u" * 1000))
    h, out = error_for("ICMPError(10.0.0.1, unreachable, port)", raw)
    e = IP(out[0].data)
    assert len(out[0].data) == 576
    assert e[ICMP].type == 3 and e[ICMP].code == 3
    assert out[0].data[28:] == raw[:576 - 28]
    assert checksum(out[0].data[20:]) == 0
    h, out = error_for("ICMPError(10.0.0.1, 3, 1, MTU 68, SET_FIX_ANNO false)", raw)
    assert out[0].data[28:] == raw[:40] and out[0].user[19] == 0


def test_needfrag_reports_the_path_mtu_and_paramprob_the_pointer():
    raw = bytes(original(flags="DF"))
    _, out = error_for("ICMPError(10.0.0.1, unreachable, needfrag, PMTU 1400)", raw)
    icmp = IP(out[0].data)[ICMP]
    assert icmp.type == 3 and icmp.code == 4 and icmp.nexthopmtu == 1400
    anno = bytearray(48)
    anno[17] = 22
    _, out = error_for("ICMPError(10.0.0.1, parameterproblem)", raw, user=bytes(anno))
    assert IP(out[0].data)[ICMP].ptr == 22


def test_redirect_takes_the_gateway_annotation():
    raw = bytes(original())
    _, out = error_for("ICMPError(10.0.0.1, redirect, host)", raw, user=user_anno("10.0.0.254"))
    icmp = IP(out[0].data)[ICMP]
    assert icmp.type == 5 and icmp.code == 1 and icmp.gw == "10.0.0.254"


@pytest.mark.parametrize("raw, annotations", [
    (bytes(IP(src="10.0.0.2", dst="10.0.1.9") / ICMP(type=3, code=1) / (b"x" * 28)), {}),      # an error
    (bytes(IP(src="10.0.0.2", dst="255.255.255.255") / UDP()), {}),                           # broadcast
    (bytes(IP(src="10.0.0.2", dst="224.0.0.9") / UDP()), {}),                                 # multicast
    (bytes(IP(src="10.0.0.2", dst="10.0.1.255") / UDP()), {}),                                # BADADDRS
    (bytes(IP(src="0.1.2.3", dst="10.0.1.9") / UDP()), {}),                                   # source net 0
    (bytes(IP(src="127.0.0.1", dst="10.0.1.9") / UDP()), {}),                                 # loopback source
    (bytes(IP(src="240.0.0.1", dst="10.0.1.9") / UDP()), {}),                                 # class E source
    (bytes(IP(src="10.0.1.255", dst="10.0.1.9") / UDP()), {}),                                # broadcast source
    (bytes(IP(src="10.0.0.2", dst="10.0.1.9", frag=10) / (b"x" * 16)), {}),                     # later fragment
    (bytes(original()), {"packet_type": 1}),                                                  # link broadcast
    (bytes(original()), {"packet_type": 2}),                                                  # link multicast
])
def test_no_error_about_errors_broadcasts_bad_sources_or_fragments(raw, annotations):
    h, out = error_for("ICMPError(10.0.0.1, unreachable, host, 10.0.1.255)", raw, **annotations)
    assert out == []
    assert h.handler("drops") == "1"


def test_first_fragment_and_echo_requests_do_get_errors():
    frag0 = bytes(IP(src="10.0.0.2", dst="10.0.1.9", flags="MF") / UDP() / (b"x" * 16))
    ping = bytes(IP(src="10.0.0.2", dst="10.0.1.9") / ICMP(type=8))
    for raw in (frag0, ping):
        _, out = error_for("ICMPError(10.0.0.1, timeexceeded)", raw)
        assert len(out) == 1


def test_source_route_is_reversed_and_blocks_redirects():
    pkt = IP(src="10.0.0.2", dst="10.0.1.9", options=[IPOption_LSRR(routers=["1.1.1.1", "2.2.2.2", "3.3.3.3"], pointer=12)]) / UDP()
    raw = bytes(pkt)
    _, out = error_for("ICMPError(10.0.0.1, timeexceeded)", raw)
    e = IP(out[0].data)
    assert checksum(out[0].data[:e.ihl * 4]) == 0
    lsrr = [o for o in e.options if o.option == 3][0]
    assert lsrr.pointer == 4 and lsrr.routers == ["2.2.2.2", "1.1.1.1"]
    assert bytes(e[ICMP].payload) == raw
    _, out = error_for("ICMPError(10.0.0.1, redirect)", raw)
    assert out == []


def test_ip_ids_count_and_handlers():
    h = Harness("ICMPError(10.0.0.1, 11, 0)")
    out = h.push([bytes(original())] * 3, network_offset=0)[0]
    assert [IP(o.data).id for o in out] == [1, 2, 3]
    h.write("src", "10.0.0.99")
    assert h.handler("src") == "10.0.0.99"
    assert IP(h.push([bytes(original())], network_offset=0)[0][0].data).src == "10.0.0.99"


@pytest.mark.parametrize("bad", ["ICMPError(10.0.0.1, echo)", "ICMPError(10.0.0.1, 3, nosuchcode)",
                                 "ICMPError(10.0.0.1)", "ICMPError(10.0.0.1, 3, 0, MTU 20)"])
def test_config_errors(bad):
    with pytest.raises(ConfigError):
        Harness(bad)


# ---- ICMPPingResponder ----------------------------------------------------------------

def test_ping_responder_makes_a_valid_reply():
    req = IP(src="10.0.0.2", dst="10.0.1.1", ttl=7, flags="DF", id=99) / ICMP(type=8, id=0x1234, seq=5) / b"ping data"
    h = Harness("ICMPPingResponder", outputs=2)
    other = bytes(IP(src="10.0.0.2", dst="10.0.1.1") / UDP())
    reply_to_reply = bytes(IP(src="10.0.0.2", dst="10.0.1.1") / ICMP(type=0))
    out = h.push([bytes(req), other, reply_to_reply], network_offset=0, user=user_anno(paint=3))
    assert [o.data for o in out[1]] == [other, reply_to_reply]
    o = out[0][0]
    expect = IP(src="10.0.1.1", dst="10.0.0.2", ttl=255, id=99, flags=0) / ICMP(type=0, id=0x1234, seq=5) / b"ping data"
    assert o.data == bytes(expect)
    assert o.dst_ip == "10.0.0.2" and o.paint == 0 and o.anno["timestamp"] > 0


# ---- CheckICMPHeader ----------------------------------------------------------------------

def test_checkicmpheader_reasons():
    good = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=8) / b"abc")
    badsum = bytearray(good)
    badsum[22] ^= 0xFF
    short = bytearray(bytes(IP(src="1.1.1.1", dst="2.2.2.2", proto=1) / b"abcd"))
    h = Harness("CheckICMPHeader", outputs=2)
    out = h.push([good, bytes(badsum), bytes(IP() / UDP()), bytes(short)], network_offset=0)
    assert [o.data for o in out[0]] == [good] and len(out[1]) == 3
    details = dict(reversed(line.split("\t")) for line in h.handler("drop_details").splitlines())
    assert details == {"not ICMP": "1", "bad packet length": "1", "bad ICMP checksum": "1"}
