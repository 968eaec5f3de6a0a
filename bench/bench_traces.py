"""Throughput of the trace elements: FromDump -> Discard, InfiniteSource -> ToDump,
FromDump -> ToDump, and the bridge's EtherSwitch, on tmpfs.

    .venv/bin/python bench/bench_traces.py [--packets N] [--length L] [--runs R] [--dir D]

Prints, per config, the median of R runs as packets per second of wall time
and of CPU time (user + system of this process: the machines these run on
are shared, so CPU time is the steadier figure), and the split between user
and kernel time (the kernel's share is reading and writing the files).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clickpy.router import Router  # noqa: E402


def cpu() -> tuple[float, float]:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime, u.ru_stime


def measure(config: str, packets: int, runs: int, before=None) -> dict:
    wall, total, user, system = [], [], [], []
    for _ in range(runs):
        if before:
            before()
        r = Router.from_string(config)
        u0, s0 = cpu()
        t0 = time.perf_counter()
        r.run()
        r.cleanup()               # ToDump's last block reaches the file here
        t1 = time.perf_counter()
        u1, s1 = cpu()
        wall.append(packets / (t1 - t0))
        total.append(packets / max((u1 - u0) + (s1 - s0), 1e-9))
        user.append((u1 - u0) / packets * 1e9)
        system.append((s1 - s0) / packets * 1e9)
    return {"wall": statistics.median(wall), "cpu": statistics.median(total),
            "user_ns": statistics.median(user), "sys_ns": statistics.median(system)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=5_000_000)
    ap.add_argument("--length", type=int, default=64)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default="/dev/shm")
    args = ap.parse_args()
    n, length = args.packets, args.length
    trace = os.path.join(args.dir, f"bench-traces-{length}.pcap")
    out = os.path.join(args.dir, "bench-traces-out.pcap")

    def remove_out():
        if os.path.exists(out):
            os.unlink(out)

    # the input trace, written by ToDump once
    Router.from_string(f"InfiniteSource(LENGTH {length}, BURST 256, LIMIT {n}, STOP true) "
                       f"-> ToDump({trace}, SNAPLEN 0);").run()
    frame = "\\<0000000000bb 0000000000aa 0800>"
    configs = [
        ("InfiniteSource -> Discard (baseline)",
         f"InfiniteSource(LENGTH {length}, BURST 256, LIMIT {n}, STOP true) -> Discard;", None),
        ("FromDump -> Discard", f"FromDump({trace}, STOP true) -> Discard;", None),
        ("FromDump(MMAP false) -> Discard", f"FromDump({trace}, STOP true, MMAP false) -> Discard;", None),
        ("InfiniteSource -> ToDump", f"InfiniteSource(LENGTH {length}, BURST 256, LIMIT {n}, STOP true) "
                                     f"-> ToDump({out}, SNAPLEN 0);", remove_out),
        ("FromDump -> ToDump", f"FromDump({trace}, STOP true) -> ToDump({out}, SNAPLEN 0);", remove_out),
        ("FromDump(MMAP false) -> ToDump", f"FromDump({trace}, STOP true, MMAP false) -> ToDump({out}, SNAPLEN 0);",
         remove_out),
        ("InfiniteSource -> EtherSwitch(2 ports) -> Discard",
         f"s :: InfiniteSource({frame}, LENGTH {length}, BURST 256, LIMIT {n}, STOP true) -> [0]sw :: EtherSwitch;"
         "quiet :: InfiniteSource(ACTIVE false) -> [1]sw; sw[0] -> Discard; sw[1] -> Discard;", None),
    ]
    size = os.path.getsize(trace)
    print(f"{n} packets of {length} bytes; trace {size / 1e6:.0f} MB in {args.dir}; median of {args.runs} runs")
    print(f"{'config':48} {'wall Mpps':>10} {'CPU Mpps':>10} {'user ns/pkt':>12} {'sys ns/pkt':>11}")
    for name, config, before in configs:
        m = measure(config, n, args.runs, before)
        print(f"{name:48} {m['wall'] / 1e6:10.2f} {m['cpu'] / 1e6:10.2f} {m['user_ns']:12.1f} {m['sys_ns']:11.1f}")
    for path in (trace, out):
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main()
