"""Write the bundled traces of configs/router.click: router-if0.pcap and router-if1.pcap.

    .venv/bin/python configs/traces/make_router_traces.py [OUTDIR]

Two Ethernet segments meet at the router: if0 (10.0.0.0/24, router 10.0.0.1,
02:00:00:00:00:01) with hosts A 10.0.0.2 and B 10.0.0.3, and if1
(10.0.1.0/24, router 10.0.1.1, 02:00:00:00:00:02) with hosts C 10.0.1.2, D
10.0.1.3 and the default gateway G 10.0.1.254. Each file holds what the
router would receive on that interface; timestamps interleave the two, so
replaying both in timestamp order (TimeSortedSched) is a conversation:
ARP, UDP, TCP and ICMP both ways, pings to the router, an expired TTL, a
packet for the default route, large packets to fragment (if1 has the
smaller MTU) or to refuse with DF, a record-route option, a redirect, a
directed broadcast, and some malformed or foreign frames to drop.
Deterministic: the same files every time.
"""
import os
import sys

from scapy.layers.inet import IP, TCP, UDP, ICMP, IPOption_RR
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

R0_IP, R0_MAC = "10.0.0.1", "02:00:00:00:00:01"
R1_IP, R1_MAC = "10.0.1.1", "02:00:00:00:00:02"
HOSTS = {
    "A": ("10.0.0.2", "02:00:00:00:0a:02", 0), "B": ("10.0.0.3", "02:00:00:00:0a:03", 0),
    "C": ("10.0.1.2", "02:00:00:00:0b:02", 1), "D": ("10.0.1.3", "02:00:00:00:0b:03", 1),
    "G": ("10.0.1.254", "02:00:00:00:0b:fe", 1),
}
ROUTER_MAC = (R0_MAC, R1_MAC)
ROUTER_IP = (R0_IP, R1_IP)
T0 = 1_700_000_000.0


def payload(n, seed):
    return bytes((seed * 31 + i * 7) & 0xFF for i in range(n))


def build():
    frames = ([], [])
    t = [T0]

    def send(host, pkt, to_router=True):
        """A frame from host, on its segment, addressed to the router's MAC
        (raw bytes go in an IPv4-typed frame as they are)."""
        ip, mac, side = HOSTS[host]
        dst = ROUTER_MAC[side] if to_router else "ff:ff:ff:ff:ff:ff"
        if isinstance(pkt, bytes):
            frame = Ether(src=mac, dst=dst, type=0x0800) / Raw(pkt)
        else:
            frame = Ether(src=mac, dst=dst) / pkt
        t[0] += 0.001
        frame.time = round(t[0], 6)
        frames[side].append(frame)

    def arp_reply(host):
        ip, mac, side = HOSTS[host]
        send(host, ARP(op=2, hwsrc=mac, psrc=ip, hwdst=ROUTER_MAC[side], pdst=ROUTER_IP[side]))

    def ip(src, dst, **kw):
        return IP(src=HOSTS[src][0] if src in HOSTS else src, dst=HOSTS[dst][0] if dst in HOSTS else dst, **kw)

    # A asks for the router; C asks for its side of the router too
    send("A", ARP(op=1, hwsrc=HOSTS["A"][1], psrc=HOSTS["A"][0], pdst=R0_IP), to_router=False)
    send("C", ARP(op=1, hwsrc=HOSTS["C"][1], psrc=HOSTS["C"][0], pdst=R1_IP), to_router=False)
    # A -> C: UDP, TCP, ping (the router must ARP for C and hold them)
    send("A", ip("A", "C", id=1) / UDP(sport=5353, dport=53) / payload(40, 1))
    send("A", ip("A", "C", id=2) / TCP(sport=40000, dport=80, flags="S", seq=1000, window=64240))
    send("A", ip("A", "C", id=3) / ICMP(type=8, id=7, seq=1) / payload(56, 3))
    arp_reply("C")
    # the answers come back; the router ARPs for A
    send("C", ip("C", "A", id=11) / UDP(sport=53, dport=5353) / payload(80, 11))
    send("C", ip("C", "A", id=12) / TCP(sport=80, dport=40000, flags="SA", seq=5000, ack=1001, window=65535))
    send("C", ip("C", "A", id=13) / ICMP(type=0, id=7, seq=1) / payload(56, 3))
    arp_reply("A")
    # D and B talk, more TCP
    send("A", ip("A", "D", id=4) / TCP(sport=40001, dport=22, flags="PA", seq=77, ack=99) / payload(120, 4))
    arp_reply("D")
    send("D", ip("D", "B", id=14) / UDP(sport=123, dport=123) / payload(48, 14))
    arp_reply("B")
    # pings to both router addresses
    send("A", ip("A", R0_IP, id=5) / ICMP(type=8, id=9, seq=1) / payload(32, 5))
    send("C", ip("C", R1_IP, id=15) / ICMP(type=8, id=10, seq=2) / payload(32, 15))
    send("A", ip("A", R1_IP, id=6) / ICMP(type=8, id=11, seq=3))
    # expired TTLs: time exceeded back to the sender
    send("A", ip("A", "C", id=7, ttl=1) / UDP(sport=33434, dport=33435) / payload(24, 7))
    send("C", ip("C", "A", id=16, ttl=1) / UDP(sport=33434, dport=33436) / payload(24, 16))
    # the default route, through G
    send("A", ip("A", "8.8.8.8", id=8) / UDP(sport=5000, dport=53) / payload(30, 8))
    arp_reply("G")
    send("B", ip("B", "192.0.2.77", id=9) / TCP(sport=41000, dport=443, flags="S", seq=1))
    # large packets into the smaller MTU of if1: fragmented, or refused with DF
    send("A", ip("A", "C", id=20) / UDP(sport=6000, dport=6001) / payload(1400, 20))
    send("A", ip("A", "D", id=21, flags="DF") / UDP(sport=6000, dport=6002) / payload(1200, 21))
    send("B", ip("B", "C", id=22) / TCP(sport=42000, dport=80, flags="PA", seq=1, ack=1) / payload(1300, 22))
    # record route: the router adds its outgoing address
    send("A", ip("A", "C", id=23, options=[IPOption_RR(routers=["0.0.0.0"] * 3)]) / UDP(sport=7, dport=7) / payload(8, 23))
    # A sends to B through the router: forwarded back out if0, and a redirect to A
    send("A", ip("A", "B", id=24) / UDP(sport=9000, dport=9001) / payload(16, 24))
    # to the router itself, not a ping, and a directed broadcast: both for the host
    send("C", ip("C", R1_IP, id=25) / UDP(sport=520, dport=520) / payload(24, 25))
    send("A", ip("A", "10.0.1.255", id=26) / UDP(sport=137, dport=137) / payload(20, 26))
    # things to drop: bad checksum, bad version, truncated header, bad source, not IP
    bad = bytearray(bytes(ip("A", "C", id=30) / UDP(sport=1, dport=2) / payload(10, 30)))
    bad[10] ^= 0x55
    send("A", bytes(bad))
    send("A", b"\x65" + bytes(ip("A", "C", id=31) / UDP())[1:])
    send("C", bytes(ip("C", "A", id=32) / UDP())[:12])
    send("A", ip("10.0.0.255", "C", id=33) / UDP(sport=1, dport=2))
    ip6 = bytes.fromhex("6000000000083a40" + "fe80" + "00" * 13 + "01" + "ff02" + "00" * 13 + "01") + bytes(8)
    frames[0].append(Ether(src=HOSTS["A"][1], dst="33:33:00:00:00:01", type=0x86DD) / ip6)
    t[0] += 0.001
    frames[0][-1].time = round(t[0], 6)
    # an ICMP error from C is routed like any packet
    send("C", ip("C", "A", id=34) / ICMP(type=3, code=3) / ip("A", "C", id=99) / UDP(sport=1, dport=2))
    # a last exchange after everything is learned
    send("D", ip("D", "A", id=35) / TCP(sport=22, dport=40001, flags="A", seq=99, ack=197))
    send("B", ip("B", "D", id=36) / UDP(sport=3, dport=4) / payload(12, 36))
    return frames


def main(outdir: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    for side, frames in enumerate(build()):
        wrpcap(os.path.join(outdir, f"router-if{side}.pcap"), frames)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
