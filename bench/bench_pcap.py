"""Benchmark (e): a pcap round trip through the IPv4 input checks, on tmpfs.

    .venv/bin/python bench/bench_pcap.py [--packets 10000000] [--runs 3] [--dir /dev/shm]

FromDump -> Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader -> Unstrip(14)
-> Counter -> ToDump, over a trace of --packets Ethernet frames of 64 to 256
bytes (a mix of UDP, TCP and ICMP with valid checksums), read from and
written to tmpfs. The trace is made once and kept (it is about 1.7 GB for
10 million packets); every run checks that all packets were written. The
figure is packets / first-to-last-packet time, median of --runs (and, for
a shared machine, packets per CPU second the process used). Goal: 16 Mpps
(C Click about 8).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import struct
import sys
import time

import numpy as np

from clickpy.router import Router

GOAL_MPPS = 16.0
BLOCK = 1000          # distinct frames, repeated through the trace


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(rng: random.Random, length: int) -> bytes:
    """An Ethernet/IPv4 frame of `length` bytes: UDP, TCP or ICMP echo, valid checksums."""
    src = bytes([10, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)])
    dst = bytes([172, 16, rng.randrange(256), rng.randrange(1, 255)])
    kind = rng.choice(("udp", "tcp", "icmp"))
    l4len = length - 14 - 20
    if kind == "udp":
        proto, body = 17, bytearray(struct.pack("!HHHH", rng.randrange(1024, 65536), 53, l4len, 0))
    elif kind == "tcp":
        proto = 6
        body = bytearray(struct.pack("!HHIIBBHHH", rng.randrange(1024, 65536), 80, rng.getrandbits(32),
                                     rng.getrandbits(32), 5 << 4, 0x18, 65535, 0, 0))
    else:
        proto, body = 1, bytearray(struct.pack("!BBHHH", 8, 0, 0, rng.randrange(65536), rng.randrange(65536)))
    body += bytes(rng.getrandbits(8) for _ in range(l4len - len(body)))
    if proto == 1:
        body[2:4] = struct.pack("!H", checksum(bytes(body)))
    else:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, l4len)
        at = 6 if proto == 17 else 16
        body[at:at + 2] = struct.pack("!H", checksum(pseudo + bytes(body)) or 0xFFFF)
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + l4len, rng.randrange(65536), 0x4000, 64,
                               proto, 0, src, dst))
    ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
    eth = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0])
    return eth + bytes(ip) + bytes(body)


def make_trace(path: str, packets: int) -> None:
    """A microsecond pcap of `packets` frames: a block of distinct frames, repeated
    with increasing timestamps (every length a multiple of 4, so the record
    headers are 4-byte aligned and each block's timestamps are set in one step)."""
    rng = random.Random(5)
    frames = [frame(rng, 4 * rng.randrange(16, 65)) for _ in range(BLOCK)]
    records, sec_at = [], []
    pos = 0
    for i, f in enumerate(frames):
        sec_at.append(pos // 4)
        records.append(struct.pack("<IIII", 0, i * 997 % 1000000, len(f), len(f)) + f)
        pos += 16 + len(f)
    block = np.frombuffer(bytearray(b"".join(records)), dtype=np.uint32).copy()
    sec_at = np.array(sec_at)
    tmp = path + ".part"
    with open(tmp, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k in range(0, packets, BLOCK):
            block[sec_at] = 1_700_000_000 + k // BLOCK
            n = min(BLOCK, packets - k)
            out.write(block.tobytes() if n == BLOCK else b"".join(records[:n]))
    os.replace(tmp, path)


def run_once(trace: str, out: str) -> tuple[float, float, int]:
    """(Mpps over the run's wall time, Mpps over the process's CPU time, packets)."""
    config = (f"FromDump({trace}, STOP true) -> cl :: Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader"
              f" -> Unstrip(14) -> c :: Counter -> ToDump({out}); cl[1] -> Discard;")
    r = Router.from_string(config, warnings=False)
    try:
        cpu0 = time.process_time()
        r.run()
        cpu = time.process_time() - cpu0
        count = int(r.handler("c.count"))
        seconds = r.driver.run_seconds
    finally:
        r.cleanup()
    return count / seconds / 1e6, count / cpu / 1e6, count


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/dev/shm")
    args = ap.parse_args(argv)
    trace = os.path.join(args.dir, f"clickpy-bench-e-{args.packets}.pcap")
    out = os.path.join(args.dir, "clickpy-bench-e-out.pcap")
    if not os.path.exists(trace):
        print(f"(e) writing {args.packets} packets to {trace} ...", file=sys.stderr, flush=True)
        make_trace(trace, args.packets)
    rates, cpu_rates = [], []
    try:
        for _ in range(args.runs):
            rate, cpu_rate, count = run_once(trace, out)
            assert count == args.packets, f"counted {count} of {args.packets}"
            assert os.path.getsize(out) == os.path.getsize(trace), "ToDump wrote a different trace"
            rates.append(rate)
            cpu_rates.append(cpu_rate)
    finally:
        if os.path.exists(out):
            os.unlink(out)
    mpps = statistics.median(rates)
    print(f"(e) pcap round trip, {args.packets} packets of 64-256 bytes on {args.dir}: "
          f"{mpps:.1f} Mpps median (runs {' '.join(f'{x:.1f}' for x in rates)}); "
          f"goal >= {GOAL_MPPS:g}: {'met' if mpps >= GOAL_MPPS else 'MISSED'}; "
          f"per CPU second of the process (user + system): {statistics.median(cpu_rates):.1f} Mpps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
