"""configs/firewall.click, stateful-firewall.click and nat.click end to end on
pcap traces written here with scapy: what each lets through, what it drops
(non-IPv4 frames included, as their comments say), and how NAT rewrites."""
from __future__ import annotations

from pathlib import Path

import pytest

scapy = pytest.importorskip("scapy.all")
from scapy.all import (ARP, ICMP, IP, TCP, UDP, Ether, IPerror, IPv6, PcapWriter, Raw,  # noqa: E402
                       UDPerror, rdpcap)

from clickpy import registry  # noqa: E402
from clickpy.element import Element  # noqa: E402
from clickpy.router import Router  # noqa: E402

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
NEEDED = ("FromDump", "ToDump", "TimeSortedSched", "PaintSwitch", "Classifier", "ARPResponder", "ARPQuerier",
          "Strip", "Unstrip", "Paint", "CheckIPHeader", "RadixIPLookup", "ICMPPingResponder", "ICMPError",
          "DecIPTTL", "Null", "Unqueue")


class _DeviceNameOnly(Element):
    """Lets the parser know FromDevice/ToDevice while the device group is not in
    this tree; the pcap variant never instantiates them, and doing so fails."""
    port_count = "-/-"

    def configure(self, args):
        raise self.error("the device elements are not built in this tree")


@pytest.fixture
def run_config(tmp_path, monkeypatch):
    missing = [c for c in NEEDED if not registry.has_class(c)]
    if missing:
        pytest.skip(f"elements not in this tree: {', '.join(missing)}")
    for name in ("FromDevice", "ToDevice"):
        if not registry.has_class(name):
            monkeypatch.setitem(registry._extra, name, type(name, (_DeviceNameOnly,), {}))

    def run(config, side0, side1, **defines):
        """Replay (time, frame) lists on ports 0 and 1; return the frames sent
        on each port and the router (still alive, for its handlers)."""
        for k, frames in enumerate((side0, side1)):
            w = PcapWriter(str(tmp_path / f"in{k}.pcap"), linktype=1, sync=True)
            w._write_header(None)
            for t, f in frames:
                w.write_packet(bytes(f), sec=int(t), usec=int(round((t % 1) * 1e6)))
            w.close()
        for k in (0, 1):
            defines[f"PORT{k}"] = f"{tmp_path}/in{k}.pcap,{tmp_path}/out{k}.pcap"
        r = Router.from_file(str(CONFIGS / config), defines=defines, warnings=False)
        r.run(timeout=30)
        outs = [[bytes(p) for p in rdpcap(str(tmp_path / f"out{k}.pcap"))] for k in (0, 1)]
        return outs, r
    return run


IN_MAC, OUT_MAC = "02:00:00:00:00:05", "02:00:00:00:00:07"
A, SERVER, X = "10.0.0.5", "10.0.0.10", "198.51.100.7"


def e(src=IN_MAC, dst=OUT_MAC):
    return Ether(src=src, dst=dst)


def ipv6_frame():
    return Ether(src=IN_MAC, dst=OUT_MAC) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP()


def by_type(frames):
    """IPv4 frames in order, and the others: a batch leaves a Classifier output
    by output, so only frames of one kind keep their relative order."""
    return ([f for f in frames if f[12:14] == b"\x08\x00"], [f for f in frames if f[12:14] != b"\x08\x00"])


def bad_checksum(frame):
    raw = bytearray(bytes(frame))
    raw[24] ^= 0xFF
    return bytes(raw)


# ---------------------------------------------------------------------------
# firewall.click

def test_stateless_firewall(run_config):
    out_ok = [e() / IP(src=A, dst=X) / TCP(sport=40000, dport=80, flags="S"),
              e() / IP(src=A, dst=X, flags="MF", id=9) / UDP(sport=1, dport=2) / Raw(b"a" * 16),
              e() / IP(src=A, dst=X, frag=3, id=9, proto=17) / Raw(b"b" * 8)]
    out_bad = [e() / IP(src="172.16.0.1", dst=X) / UDP(sport=1, dport=2)]       # not from inside
    arp_out = e(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=IN_MAC, psrc=A, pdst=X)
    ok_in = [e(OUT_MAC, IN_MAC) / IP(src=X, dst=A) / TCP(sport=80, dport=40000, flags="SA"),
             e(OUT_MAC, IN_MAC) / IP(src=X, dst=SERVER) / TCP(sport=5555, dport=443, flags="S"),
             e(OUT_MAC, IN_MAC) / IP(src=X, dst=A) / UDP(sport=53, dport=5353) / Raw(b"dns"),
             e(OUT_MAC, IN_MAC) / IP(src=X, dst=A) / ICMP(type=0),
             e(OUT_MAC, IN_MAC) / IP(src=X, dst=A) / ICMP(type=3, code=3) / bytes(IP(src=A, dst=X) / UDP())[:28]]
    bad_in = [e(OUT_MAC, IN_MAC) / IP(src=X, dst=A) / TCP(sport=80, dport=22, flags="S"),     # no ACK
              e(OUT_MAC, IN_MAC) / IP(src=X, dst=SERVER) / TCP(sport=5555, dport=25, flags="S"),
              e(OUT_MAC, IN_MAC) / IP(src=X, dst=A) / TCP(sport=5555, dport=80, flags="S"),  # not the server
              e(OUT_MAC, IN_MAC) / IP(src=X, dst=A) / UDP(sport=123, dport=123),
              e(OUT_MAC, IN_MAC) / IP(src=X, dst=A) / ICMP(type=8),
              e(OUT_MAC, IN_MAC) / IP(src="10.0.0.99", dst=A) / TCP(flags="A"),         # spoofed inside
              e(OUT_MAC, IN_MAC) / IP(src=X, dst=A, frag=5, proto=6) / Raw(b"c" * 8)]   # later fragment
    arp_in = e(OUT_MAC, IN_MAC) / ARP(op=2, hwsrc=OUT_MAC, psrc=X, hwdst=IN_MAC, pdst=A)
    side0 = [(1 + i / 10, f) for i, f in enumerate(out_ok + out_bad + [arp_out, ipv6_frame(),
                                                                      bad_checksum(out_ok[0])])]
    side1 = [(2 + i / 10, f) for i, f in enumerate(ok_in + bad_in + [arp_in, ipv6_frame()])]
    (got0, got1), r = run_config("firewall.click", side0, side1)
    assert by_type(got1) == ([bytes(f) for f in out_ok], [bytes(arp_out)])
    assert by_type(got0) == ([bytes(f) for f in ok_in], [bytes(arp_in)])
    assert (r.handler("nonip0.count"), r.handler("nonip1.count")) == ("1", "1")
    assert r.handler("check0.drops") == "1"
    assert (r.handler("passed0.count"), r.handler("passed1.count")) == ("3", "5")
    r.cleanup()


# ---------------------------------------------------------------------------
# stateful-firewall.click

def test_stateful_firewall(run_config):
    i = lambda layer: e() / IP(src=A, dst=X) / layer  # noqa: E731
    o = lambda layer: e(OUT_MAC, IN_MAC) / IP(src=X, dst=A) / layer  # noqa: E731
    syn = i(TCP(sport=40000, dport=80, flags="S"))
    query = i(UDP(sport=5353, dport=53) / Raw(b"q"))
    ping = i(ICMP(type=8, id=7, seq=1))
    gre_out = e() / IP(src=A, dst=X, proto=47) / Raw(b"g" * 8)
    arp_out = e(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=IN_MAC, psrc=A, pdst=X)
    side0 = [(1, syn), (3, query), (5, ping), (7, arp_out), (7.1, ipv6_frame()), (8, gre_out)]
    replies = {
        "synack": (2, o(TCP(sport=80, dport=40000, flags="SA"))),
        "answer": (4, o(UDP(sport=53, dport=5353) / Raw(b"a"))),
        "pong": (6, o(ICMP(type=0, id=7, seq=1))),
        "unreach": (6.5, o(ICMP(type=3, code=3) / bytes(query[IP])[:28])),
    }
    unsolicited = [(0.5, o(TCP(sport=80, dport=22, flags="S"))),
                   (2.1, o(TCP(sport=80, dport=40001, flags="SA"))),
                   (4.1, o(UDP(sport=53, dport=5354))),
                   (6.1, o(ICMP(type=0, id=8, seq=1))),
                   (6.6, o(ICMP(type=3, code=3) / bytes(IP(src=A, dst=X) / UDP(sport=1, dport=2))[:28])),
                   (9, e(OUT_MAC, IN_MAC) / IP(src=X, dst=A, proto=47) / Raw(b"g" * 8)),
                   (9.1, o(ICMP(type=8)))]
    arp_in = e(OUT_MAC, IN_MAC) / ARP(op=2, hwsrc=OUT_MAC, psrc=X, hwdst=IN_MAC, pdst=A)
    side1 = sorted(list(replies.values()) + unsolicited + [(9.2, arp_in), (9.3, ipv6_frame())],
                   key=lambda tf: tf[0])
    (got0, got1), r = run_config("stateful-firewall.click", side0, side1)
    assert by_type(got1) == ([bytes(f) for f in (syn, query, ping, gre_out)], [bytes(arp_out)])
    assert by_type(got0) == ([bytes(f) for _, f in sorted(replies.values(), key=lambda tf: tf[0])],
                             [bytes(arp_in)])
    assert (r.handler("nonip0.count"), r.handler("nonip1.count")) == ("1", "1")
    assert (r.handler("rw.drops"), r.handler("pings.drops")) == ("3", "1")
    assert (r.handler("icmperr_dropped.count"), r.handler("other_in.count")) == ("2", "1")
    assert r.handler("rw.nmappings") == "2" and r.handler("pings.nmappings") == "1"
    r.cleanup()


# ---------------------------------------------------------------------------
# nat.click

IN_GW_MAC, OUT_GW_MAC = "02:00:00:00:01:01", "02:00:00:00:02:01"       # the config's defaults
INSIDE_IP, PUBLIC_IP, GATEWAY = "10.0.0.1", "192.0.2.1", "192.0.2.254"
H1, H1_MAC, H2 = "10.0.0.5", "02:00:00:00:00:55", "10.0.0.6"
ROUTER_MAC = "02:00:00:00:09:fe"
S = "198.51.100.7"


def checksums_valid(p):
    fresh = IP(bytes(p))
    del fresh.chksum
    for layer in (TCP, UDP, ICMP):
        if layer in fresh:
            del fresh[layer].chksum
    fresh = IP(bytes(fresh))
    return fresh.chksum == p.chksum and all(fresh[layer].chksum == p[layer].chksum
                                            for layer in (TCP, UDP, ICMP) if layer in p)


def test_nat_gateway(run_config):
    to_gw = lambda src, layer: Ether(src=H1_MAC, dst=IN_GW_MAC) / IP(src=src, dst=S, ttl=64) / layer  # noqa: E731
    from_out = lambda layer: Ether(src=ROUTER_MAC, dst=OUT_GW_MAC) / IP(src=S, dst=PUBLIC_IP, ttl=50) / layer  # noqa: E731
    side0 = [
        (1.0, Ether(src=H1_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=H1_MAC, psrc=H1, pdst=INSIDE_IP)),
        (1.1, to_gw(H1, TCP(sport=40000, dport=80, flags="S", seq=1))),
        (1.2, to_gw(H2, TCP(sport=40000, dport=80, flags="S", seq=2))),
        (1.3, to_gw(H1, UDP(sport=5353, dport=53) / Raw(b"query"))),
        (1.4, to_gw(H1, ICMP(type=8, id=1500, seq=1) / Raw(b"ping"))),
        (1.5, ipv6_frame()),
        (1.6, Ether(src=H1_MAC, dst=IN_GW_MAC) / IP(src=H1, dst=INSIDE_IP) / ICMP(type=8, id=3)),
        (1.65, Ether(src=H1_MAC, dst=IN_GW_MAC) / ARP(op=2, hwsrc=H1_MAC, psrc=H1, hwdst=IN_GW_MAC, pdst=INSIDE_IP)),
        (1.7, Ether(src=H1_MAC, dst=IN_GW_MAC) / IP(src=H1, dst=S, proto=47) / Raw(b"gre!")),
    ]
    quote = bytes(IP(src=PUBLIC_IP, dst=S, ttl=63) / UDP(sport=5353, dport=53) / Raw(b"query"))[:28]
    side1 = [
        (1.15, Ether(src=ROUTER_MAC, dst=OUT_GW_MAC) / ARP(op=2, hwsrc=ROUTER_MAC, psrc=GATEWAY,
                                                              hwdst=OUT_GW_MAC, pdst=PUBLIC_IP)),
        (2.0, from_out(TCP(sport=80, dport=40000, flags="SA", seq=100, ack=2))),
        (2.1, from_out(UDP(sport=53, dport=5353) / Raw(b"answer"))),
        (2.2, from_out(ICMP(type=0, id=1500, seq=1) / Raw(b"ping"))),
        (2.3, from_out(TCP(sport=80, dport=22, flags="S"))),
        (2.4, Ether(src=ROUTER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=ROUTER_MAC, psrc=GATEWAY,
                                                                   pdst=PUBLIC_IP)),
        (2.5, from_out(ICMP(type=8, id=77))),
        (2.6, from_out(ICMP(type=3, code=3) / quote)),
        (2.7, ipv6_frame()),
    ]
    (got0, got1), r = run_config("nat.click", side0, side1)
    f0 = [Ether(f) for f in got0]
    f1 = [Ether(f) for f in got1]
    ip1 = [f for f in f1 if IP in f]
    # outside: translated packets from the public address, to the gateway's MAC, one hop less
    assert all(f.src == OUT_GW_MAC and f.dst == ROUTER_MAC for f in ip1)
    translated = [f[IP] for f in ip1 if f[IP].src == PUBLIC_IP and not (ICMP in f and f[ICMP].type == 0)]
    assert len(translated) == 4 and all(p.ttl == 63 and checksums_valid(p) for p in translated)
    tcp = [f[IP] for f in ip1 if TCP in f]
    assert [(p.src, p.dst, p[TCP].dport) for p in tcp] == [(PUBLIC_IP, S, 80)] * 2
    assert tcp[0][TCP].sport == 40000                       # H1 keeps its port
    assert tcp[1][TCP].sport != 40000 and 1024 <= tcp[1][TCP].sport <= 65535    # H2 cannot
    udp = [f[IP] for f in ip1 if UDP in f and IPerror not in f]
    assert [(p.src, p[UDP].sport, p.dst, bytes(p[UDP].payload)) for p in udp] == [(PUBLIC_IP, 5353, S, b"query")]
    pings = [f[IP] for f in ip1 if ICMP in f and f[ICMP].type == 8]
    assert [(p.src, p[ICMP].id) for p in pings] == [(PUBLIC_IP, 1500)]
    pongs = [f[IP] for f in ip1 if ICMP in f and f[ICMP].type == 0]
    assert [(p.src, p.dst, p[ICMP].id) for p in pongs] == [(PUBLIC_IP, S, 77)]     # the gateway answers
    arp1 = [f[ARP] for f in f1 if ARP in f]
    assert any(a.op == 1 and a.pdst == GATEWAY for a in arp1)                      # it asked for its gateway
    assert any(a.op == 2 and a.psrc == PUBLIC_IP and a.hwsrc == OUT_GW_MAC for a in arp1)
    # inside: replies translated back to H1, to H1's MAC, one hop less
    ip0 = [f for f in f0 if IP in f]
    assert all(f.dst == H1_MAC and f.src == IN_GW_MAC and f[IP].dst == H1 for f in ip0)
    back = [(f[IP].src, f[IP].ttl) for f in ip0 if TCP in f or (UDP in f and IPerror not in f)]
    assert back == [(S, 49), (S, 49)]
    assert [f[TCP].dport for f in ip0 if TCP in f] == [40000]
    assert [(f[UDP].dport, bytes(f[UDP].payload)) for f in ip0 if UDP in f and IPerror not in f] == [(5353, b"answer")]
    assert [f[ICMP].id for f in ip0 if ICMP in f and f[ICMP].type == 0 and f[IP].src == S] == [1500]
    assert [f[ICMP].id for f in ip0 if ICMP in f and f[ICMP].type == 0 and f[IP].src == INSIDE_IP] == [3]
    errors = [f[IP] for f in ip0 if ICMP in f and f[ICMP].type == 3]
    assert len(errors) == 1
    err = errors[0]
    assert (err[IPerror].src, err[UDPerror].sport, err[IPerror].dst) == (H1, 5353, S)
    assert all(checksums_valid(f[IP]) for f in ip0)
    arp0 = [f[ARP] for f in f0 if ARP in f]
    assert any(a.op == 2 and a.psrc == INSIDE_IP and a.hwsrc == IN_GW_MAC for a in arp0)
    # what was dropped, and counted
    assert (r.handler("nonip0.count"), r.handler("nonip1.count")) == ("1", "1")
    assert r.handler("rw.drops") == "1" and r.handler("other_out.count") == "1"
    assert r.handler("rw.nmappings") == "3" and r.handler("pings.nmappings") == "1"
    r.cleanup()
