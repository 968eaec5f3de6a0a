"""Classification engine micro-benchmark: ns per packet in the C matcher.

    python3 bench/classify_bench.py [--quick]

Runs `cls_classify` over arrays of IPv4 packets (network header at offset 0,
transport header from the IHL, as after Strip(14) -> CheckIPHeader) with no
Python per packet (`_engine.run_batch`), and prints:

1. the 3-rule IPFilter of the firewall benchmark (allow udp && dst port 53,
   allow tcp && dst port 80, deny all) on the benchmark's single packet and on
   random traffic, next to a constant program (the loop's own cost);
2. how the cost grows from 10 to 1,000 random rules on random traffic, with
   compile time and program size.

Numbers are the best of several runs; the machine is shared, so compare
rows of one run, not runs of different days.
"""
from __future__ import annotations

import argparse
import os
import random
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from clickpy.classify import compile_ipfilter  # noqa: E402
from clickpy.classify._engine import CProgram, run_batch  # noqa: E402

WIDTH = 64


def csum(b: bytes) -> int:
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_packet(src, dst, proto, sport, dport, flags=0, ttl=64, frag=0, options=b"", total=50):
    ihl = 5 + len(options) // 4
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 8192, 0, 0)
    elif proto == 17:
        l4 = struct.pack("!HHHH", sport, dport, 8, 0)
    else:
        l4 = struct.pack("!BBHI", 8, 0, 0, 0)
    length = max(total, ihl * 4 + len(l4))
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, length, 1, frag, ttl, proto, 0,
                      bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    hdr += options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    pkt = hdr + l4
    return pkt + bytes(length - len(pkt))


def frames_array(pkts):
    arr = np.zeros((len(pkts), WIDTH), dtype=np.uint8)
    lens = np.zeros(len(pkts), dtype=np.int32)
    for i, p in enumerate(pkts):
        p = p[:WIDTH]
        arr[i, :len(p)] = np.frombuffer(p, dtype=np.uint8)
        lens[i] = len(p)
    return arr, lens


def rand_ip(rnd, pool):
    return rnd.choice(pool) if rnd.random() < 0.5 else \
        f"{rnd.randrange(1, 224)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"


def random_traffic(rnd, n, addrs, ports):
    pkts = []
    for _ in range(n):
        proto = rnd.choice([6, 6, 17, 17, 1])
        frag = 0 if rnd.random() < 0.95 else rnd.choice([0x2000, 0x0010])
        opts = b"" if rnd.random() < 0.9 else b"\x01\x01\x01\x00"
        pkts.append(ip_packet(rand_ip(rnd, addrs), rand_ip(rnd, addrs), proto,
                              rnd.choice(ports) if rnd.random() < 0.5 else rnd.randrange(65536),
                              rnd.choice(ports) if rnd.random() < 0.5 else rnd.randrange(65536),
                              flags=rnd.choice([0x02, 0x10, 0x12, 0x18, 0x11]),
                              ttl=rnd.choice([1, 32, 64, 128]), frag=frag, options=opts))
    return pkts


def random_rules(rnd, n, addrs, ports):
    rules = []
    for _ in range(n - 1):
        a, p = rnd.choice(addrs), rnd.choice(ports)
        net = ".".join(a.split(".")[:3]) + ".0/24"
        act = rnd.choice(["allow", "allow", "drop", "1"])
        form = rnd.randrange(8)
        rules.append(act + " " + [
            f"src host {a} && dst port {p}",
            f"dst net {net} && tcp",
            f"udp && src port {p}",
            f"tcp && dst port {p} && syn && !ack",
            f"dst host {a}",
            f"src net {net} && dst port > {max(p, 1024)}",
            f"icmp && dst host {a}",
            f"tcp dst port {p} or {p + 1} and ip ttl > 1",
        ][form])
    rules.append("deny all")
    return rules


def measure(cp, arr, lens, repeat, runs=41):
    """ns per packet: the best of `runs` runs of `repeat` passes (the machine
    is shared; the fastest run is the one least disturbed)."""
    out = []
    n = len(lens) * repeat
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        run_batch(cp, arr, lens, net_offset=0, repeat=repeat)
        out.append((time.perf_counter_ns() - t0) / n)
    return min(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer packets and passes")
    args = ap.parse_args()
    rnd = random.Random(42)
    npk = 4096
    repeat = 5 if args.quick else 20      # short runs, many of them: see measure()

    three = ["allow udp && dst port 53", "allow tcp && dst port 80", "deny all"]
    cp3 = CProgram(compile_ipfilter(three, 1))
    const = CProgram(compile_ipfilter(["allow all"], 1))
    print("3-rule IPFilter program:")
    print(cp3.dump())

    bench_pkt = ip_packet("192.168.1.1", "10.1.2.3", 17, 1234, 53)
    one = frames_array([bench_pkt] * npk)
    addrs = [f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}" for _ in range(64)]
    ports = [53, 80, 443, 22, 25, 123, 8080, 1234, 5000, 6000]
    traffic = frames_array(random_traffic(rnd, npk, addrs, ports))

    t_const = measure(const, *one, repeat)
    t_one = measure(cp3, *one, repeat)
    t_mix = measure(cp3, *traffic, repeat)
    t_const_mix = measure(const, *traffic, repeat)
    print(f"{'case':44} {'ns/pkt':>8} {'Mpps':>8}")
    for name, t in [("loop only (constant program)", t_const),
                    ("3-rule IPFilter, benchmark packet (UDP 53)", t_one),
                    ("loop only, random traffic", t_const_mix),
                    ("3-rule IPFilter, random traffic", t_mix)]:
        print(f"{name:44} {t:8.2f} {1e3 / t:8.1f}")
    print(f"matcher cost over the loop: {t_one - t_const:.2f} ns (benchmark packet), "
          f"{t_mix - t_const_mix:.2f} ns (random traffic)")

    print()
    print(f"{'rules':>6} {'insns':>6} {'compile s':>10} {'ns/pkt':>8} {'Mpps':>8}  (random traffic)")
    for n in ([10, 30, 100] if args.quick else [10, 30, 100, 300, 1000]):
        rules = random_rules(random.Random(n), n, addrs, ports)
        t0 = time.perf_counter()
        prog = compile_ipfilter(rules, 2)
        tc = time.perf_counter() - t0
        cp = CProgram(prog)
        t = measure(cp, *traffic, 1 if len(prog) > 100 else 4, runs=21 if args.quick else 41)
        print(f"{n:6d} {len(prog):6d} {tc:10.2f} {t:8.2f} {1e3 / t:8.1f}")


if __name__ == "__main__":
    main()
