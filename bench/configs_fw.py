"""Benchmark rows of the firewall and NAT elements (loaded by bench/report.py).

(c)     the firewall benchmark of the project brief: one 64-byte UDP packet
        (192.168.1.1:1234 -> 10.1.2.3:53, valid checksums) through
        Strip -> CheckIPHeader -> a three-rule IPFilter. Its C reference
        (clickpy.benchref.ip_filter) does the same checks with the filter
        written out in C, each packet in one pass.
(f200)  a 200-rule IPFilter on random traffic: FastUDPFlows picks each
        packet's flow at random among 100,000 flows with random ports, and
        the rules test ports, addresses and protocols at random.
(f10), (f100), (f1000)  the same with 10, 100 and 1,000 rules: how the
        cost grows with the rule count.
(nat)   IPRewriter source NAT with 100,000 live flows: random traffic from
        FastUDPFlows over 100,000 flows; every flow has a mapping after the
        first million or so packets of a run.

The Counter sits before the element under test in the random-traffic rows
(the filter drops some packets), so count == LIMIT holds for every row.
"""
from __future__ import annotations

import random

from configs import BenchConfig


def udp_packet() -> bytes:
    """The 64-byte Ethernet/IPv4/UDP packet of row (c), checksums computed here."""
    def csum(b: bytes) -> int:
        s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        return ~s & 0xFFFF
    src, dst = bytes([192, 168, 1, 1]), bytes([10, 1, 2, 3])
    payload = bytes(64 - 14 - 20 - 8)
    udp_len = 8 + len(payload)
    ip = bytearray(b"\x45\x00" + (20 + udp_len).to_bytes(2, "big") + b"\x00\x01\x00\x00\x40\x11\x00\x00"
                   + src + dst)
    ip[10:12] = csum(bytes(ip)).to_bytes(2, "big")
    udp = bytearray((1234).to_bytes(2, "big") + (53).to_bytes(2, "big") + udp_len.to_bytes(2, "big")
                    + b"\x00\x00" + payload)
    pseudo = src + dst + b"\x00\x11" + udp_len.to_bytes(2, "big")
    udp[6:8] = (csum(pseudo + bytes(udp)) or 0xFFFF).to_bytes(2, "big")
    eth = bytes.fromhex("020000000002") + bytes.fromhex("020000000001") + b"\x08\x00"
    frame = eth + bytes(ip) + bytes(udp)
    assert len(frame) == 64
    return frame


def random_rules(n: int, seed: int = 7) -> str:
    """n IPFilter rules testing random protocols, hosts, nets and ports, then allow all."""
    rnd = random.Random(seed)

    def host():
        return f"10.0.{rnd.randrange(4)}.{rnd.randrange(1, 255)}"

    def net():
        return f"10.{rnd.randrange(4)}.{rnd.randrange(256)}.0/{rnd.choice([16, 24])}"

    def port_test():
        lo = rnd.randrange(1, 65000)
        return rnd.choice([f"dst port {lo}", f"src port {lo}", f"dst port {lo}-{lo + rnd.randrange(1, 500)}",
                           f"port {lo}", f"dst port > {lo}"])

    forms = [
        lambda: f"udp && {port_test()}",
        lambda: f"tcp && {port_test()} && syn",
        lambda: f"src host {host()} && udp && {port_test()}",
        lambda: f"dst net {net()} && {rnd.choice(['tcp', 'udp'])} && {port_test()}",
        lambda: f"src net {net()} && dst host {host()}",
        lambda: f"icmp type {rnd.choice(['echo', 'echo-reply', 'unreachable'])} && src net {net()}",
        lambda: f"ip ttl < {rnd.randrange(2, 64)} && udp && {port_test()}",
    ]
    rules = [f"{rnd.choice(['allow', 'deny'])} {rnd.choice(forms)()}" for _ in range(n - 1)]
    return ", ".join(rules + ["allow all"])


PACKET = udp_packet().hex()


def _c_c(pool, limit):
    from clickpy.benchref import ip_filter
    count, _, seconds = ip_filter(pool, udp_packet(), limit)
    return count, seconds


FLOWS = ("FastUDPFlows(0, $LIMIT, 64, 02:00:00:00:00:01, 10.0.0.1, 02:00:00:00:00:02, 10.0.0.2, "
         "100000, 4000000000, true, true, true)")


def filter_row(key: str, n: int) -> BenchConfig:
    return BenchConfig(
        key=key, name=f"random traffic -> IPFilter, {n} rules",
        config=f"{FLOWS} -> Strip(14) -> CheckIPHeader -> c :: Counter -> IPFilter({random_rules(n)}) -> Discard;",
        first_limit=5_000_000)


CONFIGS = [
    BenchConfig(
        key="c", name="InfiniteSource -> Strip -> CheckIPHeader -> IPFilter(3)",
        config=(f"InfiniteSource(DATA \\<{PACKET}>, LENGTH 64, BURST 256, LIMIT $LIMIT, STOP true) "
                "-> Strip(14) -> CheckIPHeader "
                "-> IPFilter(allow udp && dst port 53, allow tcp && dst port 80, deny all) "
                "-> c :: Counter -> Discard;"),
        goal_mpps=60.0,
        c_reference=_c_c),
    filter_row("f10", 10),
    filter_row("f100", 100),
    filter_row("f200", 200),
    filter_row("f1000", 1000),
    BenchConfig(
        key="nat", name="random traffic, 100,000 flows -> IPRewriter (NAPT)",
        config=(f"{FLOWS} -> Strip(14) -> CheckIPHeader -> c :: Counter "
                "-> rw :: IPRewriter(pattern 192.0.2.1 1024-65535 - - 0 1, drop) -> Discard; "
                "rw[1] -> Discard; Idle -> [1] rw;"),
        first_limit=5_000_000),
]
