"""The IPv4 forwarding benchmark, row (b) of `make bench` (see configs.py).

(b) is Click's classic forwarding path on one core: a 64-byte
Ethernet/IPv4/UDP frame (192.168.1.1:1234 -> 10.1.2.3:53, valid checksums)
classified as IP, stripped, checked, routed by RadixIPLookup, its TTL
decremented and a new Ethernet header put on. Goal: 40 Mpps (C Click 6.6,
FastClick 9.7 on this machine class). Its C reference (clickpy.benchref.
ip_forward) does each packet's work in one pass with the elements' inline
helpers: the ratio is the cost of passing batches between eight elements.
"""
from __future__ import annotations

import struct

from configs import BenchConfig


def _checksum(data: bytes) -> int:
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame_64() -> bytes:
    """Ethernet/IPv4/UDP, 192.168.1.1:1234 -> 10.1.2.3:53, both checksums valid, 64 bytes."""
    src, dst = bytes([192, 168, 1, 1]), bytes([10, 1, 2, 3])
    payload = bytes(64 - 14 - 20 - 8)
    udp = struct.pack("!HHHH", 1234, 53, 8 + len(payload), 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(udp))
    udp = udp[:6] + struct.pack("!H", _checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    return eth + ip + udp


FRAME_B = udp_frame_64()


def _c_b(pool, limit):
    from clickpy.benchref import ip_forward
    count, _, seconds = ip_forward(pool, FRAME_B, limit)
    return count, seconds


CONFIGS = [
    BenchConfig(
        key="b", name="IP forwarding: Classifier -> ... -> EtherEncap",
        config=(f"InfiniteSource(DATA \\<{FRAME_B.hex()}>, LENGTH 64, BURST 256, LIMIT $LIMIT, STOP true)"
                " -> cl :: Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader"
                " -> rt :: RadixIPLookup(10.0.0.0/8 0, 0.0.0.0/0 1) -> DecIPTTL"
                " -> EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2) -> c :: Counter -> Discard;"
                " cl[1] -> Discard; rt[1] -> Discard;"),
        goal_mpps=40.0,
        c_reference=_c_b),
]
