"""configs/router.click end to end on its bundled traces, against a reference
router written here from the protocols (RFC 791, 792, 826, 1812) with scapy.

The model replays both traces in timestamp order, as the config does, and
predicts every frame the router sends on each interface and to its host:
ARP replies and requests, forwarded packets (TTL, options, fragments, next-hop
MACs), ICMP echo replies, time-exceeded, fragmentation-needed and redirect
errors with their quotes. Frames are compared as multisets: only the
interleaving that ARP resolution introduces may differ.
"""
from __future__ import annotations

import ipaddress
import os
import shutil

import pytest
import scapy.layers.l2  # noqa: F401  (registers Ethernet for rdpcap)
from scapy.layers.inet import ICMP, IP, IPOption_RR, fragment
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import checksum, rdpcap

from clickpy.router import Router
from test_ethernet_switch import known_device_classes   # FromDevice/ToDevice names until the device group lands

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "router.click")
TRACES = os.path.join(ROOT, "configs", "traces")

IFACES = [  # address, prefix length, MAC, MTU: the config's defaults
    ("10.0.0.1", 24, "02:00:00:00:00:01", 1500),
    ("10.0.1.1", 24, "02:00:00:00:00:02", 1000),
]
GW1 = "10.0.1.254"
BROADCASTS = {"10.0.0.255", "10.0.1.255", "10.0.0.0", "10.0.1.0"}


class ReferenceRouter:
    def __init__(self):
        self.out = ([], [], [])          # frames sent on if0, if1, to the host
        self.arp = {}                    # IP -> MAC learned from ARP replies
        self.asked = (set(), set())      # next hops the router had to ARP for
        self.icmp_ids = {}               # (iface, kind) -> next IP ID of that ICMPError
        self.dropped = {"checkip": 0, "nonip": 0}

    # ---- routing table: StaticIPLookup-style longest prefix match
    def route(self, dst: str):
        if dst in {i[0] for i in IFACES} or dst in BROADCASTS:
            return "local", None
        for k, (addr, plen, _, _) in enumerate(IFACES):
            if ipaddress.ip_address(dst) in ipaddress.ip_network(f"{addr}/{plen}", strict=False):
                return k, dst
        return 1, GW1

    # ---- input
    def receive(self, side: int, frame: Ether):
        if frame.type == 0x0806:
            arp = frame[ARP]
            if arp.op == 1 and arp.pdst == IFACES[side][0]:
                self.out[side].append(bytes(
                    Ether(src=IFACES[side][2], dst=arp.hwsrc) /
                    ARP(op=2, hwsrc=IFACES[side][2], psrc=IFACES[side][0], hwdst=arp.hwsrc, pdst=arp.psrc)))
            elif arp.op == 2:
                self.arp[arp.psrc] = arp.hwsrc
            return
        if frame.type != 0x0800:
            self.dropped["nonip"] += 1
            return
        raw = bytes(frame.payload)
        if not self.valid(raw, side):
            self.dropped["checkip"] += 1
            return
        pkt = IP(raw[:int.from_bytes(raw[2:4], "big")])
        self.routed(pkt, paint=side + 1)

    def valid(self, raw: bytes, side: int) -> bool:
        if len(raw) < 20 or raw[0] >> 4 != 4 or (raw[0] & 15) * 4 < 20:
            return False
        hlen = (raw[0] & 15) * 4
        length = int.from_bytes(raw[2:4], "big")
        if length > len(raw) or length < hlen or checksum(raw[:hlen]) != 0:
            return False
        src = ".".join(str(b) for b in raw[12:16])
        dst = ".".join(str(b) for b in raw[16:20])
        bad = {"0.0.0.0", "255.255.255.255", "10.0.0.255", "10.0.1.255"}
        return not (src in bad and dst not in {i[0] for i in IFACES})

    def routed(self, pkt: IP, paint: int, fix_src: bool = False):
        where, nexthop = self.route(pkt.dst)
        if where == "local":
            if pkt.proto == 1 and pkt.frag == 0 and pkt[ICMP].type == 8:
                reply = IP(src=pkt.dst, dst=pkt.src, ttl=255, id=pkt.id, tos=pkt.tos, proto=1,
                           options=pkt.options) / ICMP(bytes(pkt[ICMP]))
                reply[ICMP].type = 0
                reply[ICMP].code = 0
                del reply[ICMP].chksum
                self.routed(IP(bytes(reply)), paint=0)
            else:
                self.out[2].append(bytes(Ether(src="01:01:01:01:01:01", dst="02:02:02:02:02:02") / pkt))
            return
        self.forward(where, nexthop, pkt, paint, fix_src)

    def icmp_error(self, iface: int, kind: str, pkt: IP, type_: int, code: int, **fields):
        quote = bytes(pkt)
        if pkt.proto == 1 and pkt.frag == 0 and bytes(pkt[ICMP])[0] in (3, 4, 5, 11, 12):
            return
        n = self.icmp_ids.get((iface, kind), 1)
        self.icmp_ids[(iface, kind)] = n + 1
        err = IP(src=IFACES[iface][0], dst=pkt.src, ttl=200, id=n, proto=1) / ICMP(type=type_, code=code, **fields) \
            / Raw(quote[:576 - 28])
        self.routed(IP(bytes(err)), paint=0, fix_src=True)

    def forward(self, iface: int, nexthop: str, pkt: IP, paint: int, fix_src: bool):
        addr, _, mac, mtu = IFACES[iface]
        if paint == iface + 1:                               # PaintTee: back out where it came in
            self.icmp_error(iface, "redirect", pkt.copy(), 5, 1, gw=nexthop)
        pkt = pkt.copy()
        for opt in pkt.options:                              # IPGWOptions: record route
            if opt.option == 7 and opt.pointer + 3 <= opt.length:
                i = (opt.pointer - 4) // 4
                opt.routers[i] = addr
                opt.pointer += 4
        if fix_src:                                          # FixIPSrc
            pkt.src = addr
        del pkt.chksum
        pkt = IP(bytes(pkt))
        if pkt.ttl <= 1:                                     # DecIPTTL
            self.icmp_error(iface, "timeexceeded", pkt, 11, 0)
            return
        pkt.ttl -= 1
        del pkt.chksum
        pkt = IP(bytes(pkt))
        if len(pkt) > mtu:                                   # IPFragmenter
            if pkt.flags.DF:
                self.icmp_error(iface, "needfrag", pkt, 3, 4, nexthopmtu=mtu)
                return
            pieces = [IP(bytes(f)) for f in fragment(pkt, fragsize=(mtu - pkt.ihl * 4) & ~7)]
        else:
            pieces = [pkt]
        if nexthop not in self.arp:
            self.asked[iface].add(nexthop)
        for p in pieces:
            self.out[iface].append(("wait", nexthop, p))

    def finish(self):
        """Resolve next hops (every one is answered in the traces) into Ethernet frames."""
        for iface in (0, 1):
            frames = []
            for item in self.out[iface]:
                if isinstance(item, tuple):
                    _, nexthop, p = item
                    item = bytes(Ether(src=IFACES[iface][2], dst=self.arp[nexthop]) / p)
                frames.append(item)
            self.out[iface][:] = frames


def merged_traces():
    frames = []
    for side in (0, 1):
        for k, f in enumerate(rdpcap(os.path.join(TRACES, f"router-if{side}.pcap"))):
            frames.append((float(f.time), side, k, f))
    frames.sort(key=lambda t: t[:3])
    return [(side, f) for _, side, _, f in frames]


def split_arp(frames):
    arp = {bytes(f)[:42] for f in frames if f[12:14] == b"\x08\x06"}
    ip = sorted(f for f in frames if f[12:14] != b"\x08\x06")
    return arp, ip


NEEDED = ("FromDump", "ToDump", "TimeSortedSched", "PaintSwitch", "Classifier", "ARPResponder", "ARPQuerier",
          "EtherEncap", "DropBroadcasts", "Strip", "Paint", "PaintTee", "Tee")


@pytest.fixture
def routed(tmp_path, monkeypatch):
    from clickpy import registry
    missing = [c for c in NEEDED if not registry.has_class(c)]
    if missing:
        pytest.skip(f"the trace, Ethernet and standard elements are not in this tree: {', '.join(missing)}")
    known_device_classes(monkeypatch)
    out = str(tmp_path / "router")
    r = Router.from_file(CONFIG, defines={"OUT": out}, warnings=False)       # the bundled traces by default
    r.run(timeout=30)
    counters = {name: r.handler(name) for name in ("nonip0.count", "nonip1.count")}
    counters["checkip"] = r.handler("ipcheck.drops")
    r.cleanup()
    got = [[bytes(f) for f in rdpcap(f"{out}-{name}.pcap")] for name in ("if0", "if1", "host")]
    return got, counters


def test_bundled_traces_are_routed_as_the_protocols_say(routed):
    got, counters = routed
    model = ReferenceRouter()
    for side, frame in merged_traces():
        model.receive(side, frame)
    model.finish()
    for iface in (0, 1):
        want_arp, want_ip = split_arp(model.out[iface])
        got_arp, got_ip = split_arp(got[iface])
        # ARP requests for every next hop the router had to resolve, and the replies it owes
        requests = {a for a in got_arp if a[20:22] == b"\x00\x01"}
        assert {ARP(a[14:]).pdst for a in requests} == model.asked[iface]
        for a in requests:
            req = Ether(a)
            assert req.dst == "ff:ff:ff:ff:ff:ff" and req.src == IFACES[iface][2]
            assert req[ARP].psrc == IFACES[iface][0] and req[ARP].hwsrc == IFACES[iface][2]
        assert {a for a in got_arp if a[20:22] == b"\x00\x02"} == want_arp
        assert got_ip == want_ip, f"interface {iface}"
    assert sorted(got[2]) == sorted(model.out[2])
    assert int(counters["nonip0.count"]) + int(counters["nonip1.count"]) == model.dropped["nonip"]
    assert int(counters["checkip"]) == model.dropped["checkip"]


def test_the_model_sees_every_kind_of_traffic():
    """Guard against a trace that no longer exercises what the router must do."""
    model = ReferenceRouter()
    for side, frame in merged_traces():
        model.receive(side, frame)
    model.finish()
    sent = [IP(f[14:]) for f in model.out[0] + model.out[1] if f[12:14] == b"\x08\x00"]
    icmp = [(p[ICMP].type, p[ICMP].code) for p in sent if p.proto == 1 and p.frag == 0]
    assert {(0, 0), (11, 0), (3, 4), (5, 1)} <= set(icmp)
    assert any(p.flags.MF for p in sent)                          # fragments
    assert any(p.options and p.options[0].option == 7 for p in sent)
    assert {6, 17, 1} <= {p.proto for p in sent}
    assert model.dropped["checkip"] == 4 and model.dropped["nonip"] == 1
    assert len(model.out[2]) == 2


def test_config_parses_in_device_mode():
    """The same file runs on devices ('PORTS=DEV0 eth0, DEV1 eth1'), checked without opening them."""
    from clickpy.lang import parse_config
    with open(CONFIG) as f:
        text = f.read()
    primitives = {"TimeSortedSched", "FromDump", "Paint", "Unqueue", "PaintSwitch", "ToDump", "EtherEncap",
                  "FromDevice", "Queue", "ToDevice", "Counter", "Discard", "Strip", "CheckIPHeader",
                  "RadixIPLookup", "Tee", "Classifier", "ARPResponder", "ARPQuerier", "ICMPPingResponder",
                  "DropBroadcasts", "PaintTee", "IPGWOptions", "FixIPSrc", "DecIPTTL", "IPFragmenter", "ICMPError"}
    graph = parse_config(text, CONFIG, defines={"PORTS": "DEV0 eth0, DEV1 eth1"}, is_class=primitives.__contains__)
    classes = {e.class_name for e in graph.elements}
    assert {"FromDevice", "ToDevice"} <= classes and "FromDump" not in classes
    configs = {e.config for e in graph.elements if e.class_name == "FromDevice"}
    assert configs == {"eth0, SNIFFER false", "eth1, SNIFFER false"}
