"""Appliance figures: image size, boot time to the first forwarded packet,
the smallest memory that boots, and frames per second through the VM.

    python bench/appliance_bench.py [--compression xz,gzip] [--runs 3]

Until the clickpy runtime exists the payload is the test fixture (a
pure-Python AF_PACKET forwarder, tests/netns/appliance_fixture/fwd.py): the
boot figures are the appliance's own (kernel, /init, Python start), the
forwarding rate is the fixture's, not clickpy's. Needs root, QEMU and
linux-source (scripts/install-deps.sh appliance).

Boot time is wall-clock from starting QEMU to the first frame that A sent
arriving in B (A sends an ARP request every 10 ms), median of --runs. Beside
it, the CPU time QEMU had used by then: on a busy shared machine the wall
time stretches with the load, the CPU time much less (a quiet machine gives
wall ~= CPU). The guest's own clock is no use here: /proc/uptime misses
about a second of early boot under TCG.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "netns" / "appliance_fixture"))

from lab import ADDR_B, Lab  # noqa: E402

from clickpy.appliance import build as B  # noqa: E402
from clickpy.appliance import qemu  # noqa: E402
from clickpy.appliance.initramfs import BuildOptions  # noqa: E402

FWD = ROOT / "tests" / "netns" / "appliance_fixture" / "fwd.py"
ARGV = ["eth0", "eth1", "--control={control}", "--config={config}"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (QEMU: mostly the TCG vCPU)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def boot_to_first_packet(d: Path, memory: int = 64) -> tuple[float, float | None, float]:
    with Lab() as lab:
        taps = lab.create_taps()
        vm, _ = B.prepare(d, B.BootOptions(nics=taps, control=d / "control.sock",
                                           memory_mb=memory))
        running = qemu.start(vm, stdout=subprocess.PIPE)
        try:
            lab.wait_attached()
            lab.move_into_namespaces()
            wall = lab.first_frame_time(running.started, timeout=60)
            cpu = cpu_seconds(running.proc.pid)
        finally:
            running.stop()
            out = running.proc.stdout.read().decode(errors="replace") if running.proc.stdout else ""
        m = re.search(r"first packet forwarded at ([\d.]+) s", out)
        return wall, float(m.group(1)) if m else None, cpu


def boots_with(d: Path, memory: int) -> bool:
    vm, _ = B.prepare(d, B.BootOptions(memory_mb=memory, control=None))
    running = qemu.start(vm, stdout=subprocess.PIPE)
    try:
        out, _ = running.proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        running.stop()
        return False
    text = out.decode(errors="replace")
    return "clickpy-appliance: ready at" in text and "exit status 3" in text


_UDP_RX = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 9))
s.settimeout(1.0); n = 0; end = time.monotonic() + float(sys.argv[2]) + 2
while time.monotonic() < end:
    try:
        s.recv(2048); n += 1
    except socket.timeout:
        pass
print(n)
"""

_UDP_TX = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setblocking(False)
end = time.monotonic() + float(sys.argv[2]); n = 0; p = b"x" * 18
while time.monotonic() < end:
    for _ in range(64):
        try:
            s.sendto(p, (sys.argv[1], 9)); n += 1
        except BlockingIOError:
            time.sleep(0.0005)
print(n)
"""


def frames_per_second(d: Path, seconds: float = 3.0) -> tuple[int, int, float]:
    with Lab() as lab:
        taps = lab.create_taps()
        vm, _ = B.prepare(d, B.BootOptions(nics=taps, control=None, memory_mb=128))
        running = qemu.start(vm, stdout=subprocess.DEVNULL)
        try:
            lab.wait_attached()
            lab.move_into_namespaces()
            lab.first_frame_time(running.started, timeout=60)
            assert lab.ping(count=1).returncode == 0
            rx = subprocess.Popen(["ip", "netns", "exec", lab.ns_b, "python3", "-c", _UDP_RX,
                                   ADDR_B, str(seconds)], stdout=subprocess.PIPE, text=True)
            time.sleep(0.3)
            tx = subprocess.run(["ip", "netns", "exec", lab.ns_a, "python3", "-c", _UDP_TX,
                                 ADDR_B, str(seconds)], capture_output=True, text=True)
            received = int(rx.communicate(timeout=seconds + 10)[0].strip() or 0)
            return int(tx.stdout.strip() or 0), received, seconds
        finally:
            running.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compression", default="xz,gzip")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--memory", default="64,48,40,32,24",
                    help="memory sizes to try, MB, largest first")
    ap.add_argument("--no-pps", action="store_true")
    a = ap.parse_args()
    accel = None
    with tempfile.TemporaryDirectory(prefix="clickpy-appliance-bench-") as tmp:
        cfg = Path(tmp) / "bench.click"
        cfg.write_text("// bench\n")
        for comp in a.compression.split(","):
            d = Path(tmp) / comp
            man = B.build(d, cfg, B.file_payload(FWD, "main", ARGV),
                          BuildOptions(compression=comp), log=lambda m: None)
            if accel is None:
                vm, _ = B.prepare(d, B.BootOptions())
                accel = qemu.choose_accel(vm)
                print(f"accelerator: {accel}")
            print(f"[{comp}] image: kernel {man.kernel_bytes / 1e6:.2f} MB, initramfs "
                  f"{man.initramfs_bytes / 1e6:.2f} MB ({man.initramfs_raw_bytes / 1e6:.1f} MB "
                  f"unpacked), total {man.total_bytes / 1e6:.2f} MB")
            walls, cpus = [], []
            for _ in range(a.runs):
                wall, _guest, cpu = boot_to_first_packet(d)
                walls.append(wall)
                cpus.append(cpu)
            print(f"[{comp}] boot to first forwarded packet (-m 64): median "
                  f"{statistics.median(walls):.2f} s wall from QEMU start "
                  f"(runs: {', '.join('%.2f' % w for w in walls)}); QEMU CPU time by then: "
                  f"median {statistics.median(cpus):.2f} s "
                  f"(runs: {', '.join('%.2f' % c for c in cpus)})")
            smallest = None
            for mb in [int(x) for x in a.memory.split(",")]:
                if boots_with(d, mb):
                    smallest = mb
                else:
                    break
            print(f"[{comp}] smallest -m that boots (of {a.memory}): {smallest} MB")
            if not a.no_pps and comp == a.compression.split(",")[0]:
                sent, got, secs = frames_per_second(d)
                print(f"[{comp}] UDP through the VM (fixture forwarder, pure Python): "
                      f"sent {sent / secs:.0f}/s, received {got / secs:.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
