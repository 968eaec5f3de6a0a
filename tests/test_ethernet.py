"""Ethernet elements: EtherEncap, EtherRewrite, StoreEtherAddress, HostEtherFilter,
DropBroadcasts, VLANEncap, VLANDecap, SetVLANAnno (frames checked with scapy)."""
import pytest
from scapy.all import ARP, IP, UDP, Dot1Q, Ether, Raw

import sink  # noqa: F401
from clickpy.element import HandlerError
from clickpy.lang.graph import ConfigError
from clickpy.router import Router

HOST, BROADCAST, MULTICAST, OTHERHOST = 0, 1, 2, 3
VLAN_TCI = 20


def router(body):
    """A router where `e` is fed by hand (its source never runs) and `s` collects output 0."""
    return Router.from_string("src :: InfiniteSource(ACTIVE false);\n" + body)


def inject(r, name, frames, port=0):
    r.element(name).push_packets(port, [r.pool.new_packet(bytes(f)) for f in frames])


def out(r, name="s"):
    return [d for d, _ in r.element(name).packets]


def annos(r, name="s"):
    return [a for _, a in r.element(name).packets]


def test_etherencap_prepends_the_header():
    r = router("src -> e :: EtherEncap(0x0800, 1:2:3:4:5:6, a:b:c:d:e:f) -> s :: PacketSink;")
    ip = IP(src="1.1.1.1", dst="2.2.2.2") / UDP()
    inject(r, "e", [ip, ip])
    frames = [Ether(d) for d in out(r)]
    assert len(frames) == 2
    f = frames[0]
    assert (f.src, f.dst, f.type) == ("01:02:03:04:05:06", "0a:0b:0c:0d:0e:0f", 0x0800)
    assert bytes(f.payload) == bytes(ip)
    assert annos(r)[0]["mac_offset"] == 0
    r.write("e.dst", "ff:ff:ff:ff:ff:ff")
    r.write("e.ethertype", "0x86DD")
    assert r.handler("e.dst") == "FF-FF-FF-FF-FF-FF"
    assert r.handler("e.ethertype") == "0x86DD"
    inject(r, "e", [b"xyz"])
    f = Ether(out(r)[-1])
    assert (f.dst, f.type, bytes(f.payload)) == ("ff:ff:ff:ff:ff:ff", 0x86DD, b"xyz")
    with pytest.raises(HandlerError):
        r.write("e.src", "not-an-address")


def test_etherencap_bad_arguments():
    with pytest.raises(ConfigError, match="ETHERTYPE"):
        router("src -> EtherEncap(0x10000, 1:2:3:4:5:6, 1:2:3:4:5:6) -> Discard;")
    with pytest.raises(ConfigError, match="SRC"):
        router("src -> EtherEncap(0x0800, 1:2:3:4:5, 1:2:3:4:5:6) -> Discard;")


def test_etherrewrite_sets_addresses_and_drops_runts():
    r = router("src -> e :: EtherRewrite(1:1:1:1:1:1, 2:2:2:2:2:2) -> s :: PacketSink;")
    pkt = Ether(src="aa:aa:aa:aa:aa:aa", dst="bb:bb:bb:bb:bb:bb") / ARP()
    inject(r, "e", [pkt, b"short"])
    f, = [Ether(d) for d in out(r)]
    assert (f.src, f.dst, f.type) == ("01:01:01:01:01:01", "02:02:02:02:02:02", 0x0806)
    assert bytes(f.payload) == bytes(pkt.payload)
    assert r.handler("e.drops") == "1"


def test_storeetheraddress_src_dst_and_offset():
    r = router("src -> e :: StoreEtherAddress(5:5:5:5:5:5, src) -> s :: PacketSink;"
               "e[1] -> short :: PacketSink;")
    pkt = Ether(src="aa:aa:aa:aa:aa:aa", dst="bb:bb:bb:bb:bb:bb") / IP()
    inject(r, "e", [pkt, b"0123456789"])
    assert Ether(out(r)[0]).src == "05:05:05:05:05:05"
    assert out(r, "short") == [b"0123456789"]
    r = router("src -> e :: StoreEtherAddress(5:5:5:5:5:5, 20) -> s :: PacketSink;")
    inject(r, "e", [bytes(30), bytes(25)])
    assert out(r) == [bytes(20) + bytes([5] * 6) + bytes(4)]
    assert r.handler("e.drops") == "1"


def test_hostetherfilter_packet_types_and_drops():
    me = "00:00:00:00:00:01"
    frames = [Ether(dst=me, src="00:00:00:00:00:09"),          # to us
              Ether(dst="ff:ff:ff:ff:ff:ff", src="00:00:00:00:00:09"),
              Ether(dst="01:00:5e:00:00:01", src="00:00:00:00:00:09"),
              Ether(dst="00:00:00:00:00:07", src="00:00:00:00:00:09"),   # other host
              Ether(dst=me, src=me)]                              # our own
    frames = [f / IP() for f in frames]
    r = router(f"src -> e :: HostEtherFilter({me}, DROP_OWN true) -> s :: PacketSink; e[1] -> d :: PacketSink;")
    inject(r, "e", frames + [b"tiny"])
    assert [a["packet_type"] for a in annos(r)] == [HOST, BROADCAST, MULTICAST]
    assert [Ether(d).dst for d in out(r)] == [me, "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01"]
    assert [a["packet_type"] for a in annos(r, "d")][:2] == [OTHERHOST, HOST]
    assert len(out(r, "d")) == 3 and r.handler("e.drops") == "3"
    r = router(f"src -> e :: HostEtherFilter({me}, DROP_OTHER false) -> s :: PacketSink;")
    inject(r, "e", frames)
    assert [a["packet_type"] for a in annos(r)] == [HOST, BROADCAST, MULTICAST, OTHERHOST, HOST]


def test_hostetherfilter_offset():
    me = "00:00:00:00:00:01"
    r = router(f"src -> e :: HostEtherFilter({me}, OFFSET 4) -> s :: PacketSink;")
    inject(r, "e", [b"abcd" + bytes(Ether(dst=me) / IP()), b"abcd" + bytes(Ether(dst="00:00:00:00:00:02") / IP())])
    assert len(out(r)) == 1 and out(r)[0][:4] == b"abcd"


def test_dropbroadcasts_uses_the_packet_type():
    r = router("src -> h :: HostEtherFilter(0:0:0:0:0:1, DROP_OTHER false) -> e :: DropBroadcasts -> s :: PacketSink;")
    inject(r, "h", [Ether(dst="ff:ff:ff:ff:ff:ff") / IP(), Ether(dst="0:0:0:0:0:1") / IP(),
                    Ether(dst="33:33:0:0:0:1") / IP(), Ether(dst="0:0:0:0:0:2") / IP()])
    assert [Ether(d).dst for d in out(r)] == ["00:00:00:00:00:01", "00:00:00:00:00:02"]
    assert r.handler("e.drops") == "2"


def test_vlanencap_decap_round_trip():
    frame = Ether(src="00:00:00:00:00:0a", dst="00:00:00:00:00:0b") / IP(dst="9.9.9.9") / UDP(dport=7)
    r = router("src -> e :: VLANEncap(VLAN_ID 100, VLAN_PCP 5) -> t :: PacketSink;")
    inject(r, "e", [frame])
    tagged = Ether(out(r, "t")[0])
    assert tagged.type == 0x8100
    assert (tagged[Dot1Q].vlan, tagged[Dot1Q].prio, tagged[Dot1Q].type) == (100, 5, 0x0800)
    assert (tagged.src, tagged.dst) == (frame.src, frame.dst)
    assert bytes(tagged[Dot1Q].payload) == bytes(frame.payload)
    r2 = router("src -> d :: VLANDecap -> s :: PacketSink;")
    inject(r2, "d", [bytes(tagged), frame])
    plain, untouched = out(r2)
    assert plain == bytes(frame) and untouched == bytes(frame)
    tci = (5 << 13) | 100
    assert [a["user"][VLAN_TCI:VLAN_TCI + 2] for a in annos(r2)] == [tci.to_bytes(2, "big"), b"\0\0"]


def test_vlanencap_native_vlan_anno_mode_and_qinq():
    frame = Ether() / IP()
    r = router("src -> e :: VLANEncap(VLAN_ID 0) -> s :: PacketSink;")   # NATIVE_VLAN 0: untagged
    inject(r, "e", [frame])
    assert out(r)[0] == bytes(frame)
    r = router("src -> v :: SetVLANAnno(VLAN_ID 42, VLAN_PCP 1) -> e :: VLANEncap(ANNO, ETHERTYPE 0x88a8) -> s :: PacketSink;")
    inject(r, "v", [frame])
    d = out(r)[0]
    assert d[12:14] == b"\x88\xa8" and int.from_bytes(d[14:16], "big") == (1 << 13) | 42
    r = router("src -> e :: VLANEncap(0x2007, NATIVE_VLAN -1) -> s :: PacketSink;")
    inject(r, "e", [frame, b"runt"])
    assert Ether(out(r)[0])[Dot1Q].vlan == 7 and Ether(out(r)[0])[Dot1Q].prio == 1
    assert r.handler("e.drops") == "1"
    assert r.handler("e.config") == "VLAN_ID 7, VLAN_PCP 1, NATIVE_VLAN -1"
    with pytest.raises(ConfigError, match="at most one"):
        router("src -> VLANEncap(5, VLAN_ID 6) -> Discard;")


def test_setvlananno_handlers():
    r = router("src -> e :: SetVLANAnno(VLAN_ID 10, VLAN_PCP 2) -> s :: PacketSink;")
    assert (r.handler("e.vlan_id"), r.handler("e.vlan_pcp")) == ("10", "2")
    r.write("e.vlan_id", "99")
    assert r.handler("e.vlan_tci") == str((2 << 13) | 99)
    inject(r, "e", [b"x" * 20])
    assert annos(r)[0]["user"][VLAN_TCI:VLAN_TCI + 2] == ((2 << 13) | 99).to_bytes(2, "big")
    with pytest.raises(HandlerError):
        r.write("e.vlan_pcp", "8")


def test_vlandecap_takes_an_offloaded_tag():
    r = router("src -> d :: VLANDecap -> s :: PacketSink;")
    frame = Ether() / IP()
    x = r.pool.new_packet(bytes(frame))
    r.pool.set_annotation(x, "offload", 4)          # OFFLOAD_VLAN: a device took the tag out
    r.pool.set_annotation(x, "device_vlan", 0x3064)
    r.element("d").push_packets(0, [x])
    (d, a), = r.element("s").packets
    assert d == bytes(frame)
    assert a["user"][VLAN_TCI:VLAN_TCI + 2] == b"\x30\x64" and a["offload"] == 0


def test_elements_in_pull_context():
    r = Router.from_string("src :: InfiniteSource(DATA \\<000000000002 000000000001 0800 4500>, LIMIT 5, STOP true)"
                           " -> q :: Queue -> EtherRewrite(3:3:3:3:3:3, 4:4:4:4:4:4) -> VLANEncap(VLAN_ID 3)"
                           " -> Unqueue -> s :: PacketSink;")
    r.run(timeout=5)
    got = [Ether(d) for d in out(r)]
    assert len(got) == 5 and all(f.src == "03:03:03:03:03:03" and f[Dot1Q].vlan == 3 for f in got)
