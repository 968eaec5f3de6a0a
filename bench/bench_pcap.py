"""Benchmark (e): a pcap round trip through the IPv4 input checks, on tmpfs.

    .venv/bin/python bench/bench_pcap.py [--packets 10000000] [--runs 5] [--dir DIR] [--mmap [true|false]]

FromDump(TRACE, STOP true) -> Classifier(12/0800, -) -> Strip(14) ->
CheckIPHeader -> Unstrip(14) -> ToDump(OUT), over a trace of --packets
Ethernet frames of 64 to 256 bytes (a mix of UDP, TCP and ICMP with valid
checksums), read from and written to tmpfs. Goal: 16 Mpps on one core (C
Click about 8).

Where: run as root without --dir, the benchmark mounts its own tmpfs with
`huge=always` in a temporary directory (unmounted at the end): still tmpfs,
but the kernel gives the output file 2 MiB pages, so the page allocation
and zeroing that every newly written byte of a tmpfs file costs is done
once per 2 MiB instead of once per 4 KiB (on /dev/shm that cost is most of
the run). When it cannot mount (not root, no tmpfs), it uses /dev/shm and
says so. The trace is written there at the start and removed at the end.

Each run writes a new output file (ToDump truncates the last one) and is
checked: FromDump and ToDump each counted --packets packets, and the output
holds exactly the input's records, byte for byte (compared in full). One
warm-up run is printed but not counted. The figure is packets over the
driver's first-to-last-packet time, median of --runs; beside it, packets
per CPU second the process used during the runs (user + system, so one
core's worth however the kernel did the I/O) and the user and system
nanoseconds per packet. FromDump maps the trace (its MMAP default);
`--mmap false` adds MMAP false to read it with read(2) instead, `--mmap`
alone MMAP true.

The machine is a VM whose freed memory goes back to the host at once
(free page reporting): when the new output file gets pages the host took
back, each costs a host fault and the run's system time can triple, so
single runs vary widely; compare medians.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import struct
import subprocess
import sys
import tempfile

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


def mount_tmpfs(size: int) -> tuple[str, bool]:
    """A private tmpfs with transparent huge pages, or /dev/shm: (dir, mounted)."""
    path = tempfile.mkdtemp(prefix="clickpy-bench-e-")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},huge=always,mode=0700",
                             "clickpy-bench-e", path], capture_output=True, text=True)
    if result.returncode == 0:
        return path, True
    os.rmdir(path)
    why = result.stderr.strip() or f"mount exited {result.returncode}"
    print(f"(e) note: cannot mount a tmpfs with huge pages ({why}); using /dev/shm, "
          "where page allocation for the output file costs much more", file=sys.stderr)
    return "/dev/shm", False


def same_records(trace: str, out: str) -> bool:
    """The output's records are the input's, byte for byte (the file headers
    differ in the snap length only)."""
    with open(trace, "rb") as a, open(out, "rb") as b:
        ha, hb = a.read(24), b.read(24)
        if ha[:16] != hb[:16] or ha[20:] != hb[20:]:
            return False
        while True:
            x, y = a.read(1 << 24), b.read(1 << 24)
            if x != y:
                return False
            if not x:
                return True


def run_once(trace: str, out: str, mmap: str | None) -> dict:
    """One run: rate over the driver's run time, CPU times, both counts."""
    config = (f"src :: FromDump({trace}, STOP true{f', MMAP {mmap}' if mmap else ''})"
              f" -> cl :: Classifier(12/0800, -) -> Strip(14) -> CheckIPHeader"
              f" -> Unstrip(14) -> dump :: ToDump({out}); cl[1] -> Discard;")
    r = Router.from_string(config, warnings=False)
    try:
        t0 = os.times()
        r.run()
        t1 = os.times()
        read, written = int(r.handler("src.count")), int(r.handler("dump.count"))
        seconds = r.driver.run_seconds
    finally:
        r.cleanup()          # ToDump's last flush
    return {"mpps": written / seconds / 1e6, "read": read, "written": written,
            "user": t1.user - t0.user, "sys": t1.system - t0.system}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", help="where to put the files (default: a tmpfs of our own, else /dev/shm)")
    ap.add_argument("--mmap", nargs="?", const="true", choices=("true", "false"),
                    help="give FromDump this MMAP keyword (alone: true; default: none, FromDump's default)")
    args = ap.parse_args(argv)
    trace_bytes = 24 + args.packets * 176          # frames average 160 bytes, records 16 more
    mounted = False
    where = args.dir
    if where is None:
        if os.geteuid() == 0:
            where, mounted = mount_tmpfs(2 * trace_bytes + (256 << 20))
        else:
            where = "/dev/shm"
            print("(e) note: not root, so no tmpfs with huge pages; using /dev/shm", file=sys.stderr)
    trace = os.path.join(where, f"clickpy-bench-e-{os.getpid()}.pcap")
    out = os.path.join(where, f"clickpy-bench-e-{os.getpid()}-out.pcap")
    runs = []
    try:
        make_trace(trace, args.packets)
        for i in range(args.runs + 1):
            run = run_once(trace, out, args.mmap)
            assert run["read"] == run["written"] == args.packets, \
                f"read {run['read']}, wrote {run['written']} of {args.packets} packets"
            assert same_records(trace, out), "ToDump's records differ from FromDump's"
            if i == 0:
                print(f"(e) warm-up run (not counted): {run['mpps']:.1f} Mpps", file=sys.stderr)
            else:
                runs.append(run)
    finally:
        for f in (trace, out, trace + ".part"):
            if os.path.exists(f):
                os.unlink(f)
        if mounted:
            subprocess.run(["umount", where], check=False)
            os.rmdir(where)
    n = args.packets
    mpps = statistics.median(r["mpps"] for r in runs)
    cpu_mpps = statistics.median(n / (r["user"] + r["sys"]) / 1e6 for r in runs)
    user_ns = statistics.median(r["user"] / n * 1e9 for r in runs)
    sys_ns = statistics.median(r["sys"] / n * 1e9 for r in runs)
    fs = "tmpfs huge=always" if mounted else where
    each = " ".join(f"{r['mpps']:.1f}" for r in runs)
    print(f"(e) pcap round trip{f' (FromDump MMAP {args.mmap})' if args.mmap else ''}, {n} packets of 64-256 "
          f"bytes on {fs}: {mpps:.1f} Mpps median of {len(runs)} "
          f"(runs {each}); goal >= {GOAL_MPPS:g}: "
          f"{'met' if mpps >= GOAL_MPPS else 'MISSED'}; per CPU second of the process: "
          f"{cpu_mpps:.1f} Mpps (user {user_ns:.0f} + system {sys_ns:.0f} ns/packet); "
          "every packet written, records identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
