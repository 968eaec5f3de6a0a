"""Appliance figures (`make bench`): configs/router.click as a VM appliance.

    python bench/appliance_bench.py [--runs 3] [--memory 128,96,80,72,64] [--no-pps]

The appliance is built for configs/router.click on two NICs (the
definitions of the tests' routed lab: A on 198.18.0.0/24, B on
198.19.0.0/24, the VM the gateway of both) and booted under QEMU between
namespaces A and B. Printed:

- image size: kernel, initramfs, total, for the config (only the element
  groups it uses), with --all-elements, and with no config (all groups);
- boot to the first forwarded packet: wall time from starting QEMU until B
  receives the first of the UDP datagrams A sends every 10 ms through the
  router, median of --runs; beside it the CPU time QEMU had used by then
  (on a busy shared machine wall time stretches with the load, CPU time
  much less) and the guest's own clock when /init was ready (after the
  kernel, the initramfs's unpacking and Python's start-up; before clickpy);
- the memory: the host RSS of QEMU after a TCP transfer (what the VM costs
  the host), and the smallest -m of --memory with which the router boots
  and forwards;
- UDP frames per second through the router (A sends 18-byte datagrams as
  fast as it can for 3 s; B counts what arrives).

Needs root, QEMU and linux-source (scripts/install-deps.sh appliance);
without them it says why and exits 0, so that `make bench` goes on.
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
sys.path.insert(0, str(ROOT / "tests" / "netns" / "appliance_fixture"))

from lab import ROUTER_MACS, Lab, can_make_namespaces  # noqa: E402

from clickpy.appliance import build as B  # noqa: E402
from clickpy.appliance import kernel, qemu  # noqa: E402

ROUTER = ROOT / "configs" / "router.click"
BOOT_GOAL_S = 1.5
SIZE_GOAL = 6_000_000
MEMORY_GOAL_MB = 64


def missing() -> str | None:
    if qemu.qemu_binary() is None:
        return "QEMU (qemu-system-x86_64) is not installed"
    if not os.environ.get("CLICKPY_KERNEL"):
        try:
            kernel.find_source()
        except kernel.KernelError as e:
            return str(e)
    return can_make_namespaces()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (QEMU: mostly the TCG vCPU)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Boot:
    """The router appliance booted between A and B (routed lab)."""

    def __init__(self, d: Path, memory: int) -> None:
        self.lab = Lab(routed=True)
        self.running: qemu.RunningVM | None = None
        try:
            taps = self.lab.create_taps()
            # with the control channel, as `clickpy appliance run` boots it
            vm, _ = B.prepare(d, B.BootOptions(nics=taps, macs=ROUTER_MACS,
                                               control=d / "control.sock", memory_mb=memory))
            self.running = qemu.start(vm, stdout=subprocess.PIPE)
            self.lab.wait_attached()
            self.lab.move_into_namespaces()
        except BaseException:
            self.close()
            raise

    def first_packet(self, timeout: float = 120.0) -> float:
        """Seconds from QEMU's start to the first forwarded datagram."""
        return self.lab.first_frame_time(self.running.started, timeout=timeout)

    def forwards(self, timeout: float = 90.0) -> bool:
        """Whether the router forwards before ``timeout``; False as soon as
        the VM ends (out of memory: the kernel panics and QEMU exits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running.proc.poll() is None:
            try:
                self.lab.first_frame_time(self.running.started, timeout=2.0)
                return True
            except RuntimeError:
                continue
        return False

    def close(self) -> str:
        console = ""
        if self.running is not None:
            self.running.stop()
            out = self.running.proc.stdout
            console = out.read().decode(errors="replace") if out else ""
        self.lab.close()
        return console


def boot_to_first_packet(d: Path, memory: int) -> tuple[float, float, float | None, float]:
    """(wall s, QEMU CPU s, guest's /init-ready s, QEMU RSS MB after a transfer)."""
    boot = Boot(d, memory)
    try:
        wall = boot.first_packet()
        cpu = cpu_seconds(boot.running.proc.pid)
        received, _ = boot.lab.tcp_transfer(1 << 20, timeout=180, rate=2_000_000)
        if received != 1 << 20:
            raise SystemExit(f"appliance bench: TCP through the router: {received} of {1 << 20} bytes")
        rss = rss_mb(boot.running.proc.pid)
    finally:
        console = boot.close()
    m = re.search(r"clickpy-appliance: ready at ([\d.]+) s", console)
    return wall, cpu, float(m.group(1)) if m else None, rss


def forwards_with(d: Path, memory: int) -> bool:
    boot = Boot(d, memory)
    try:
        return boot.forwards()
    finally:
        boot.close()


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


def frames_per_second(d: Path, memory: int, seconds: float = 3.0) -> tuple[int, int, float]:
    boot = Boot(d, memory)
    lab = boot.lab
    try:
        boot.first_packet()
        rx = subprocess.Popen(["ip", "netns", "exec", lab.ns_b, "python3", "-c", _UDP_RX,
                               lab.addr_b, str(seconds)], stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        tx = subprocess.run(["ip", "netns", "exec", lab.ns_a, "python3", "-c", _UDP_TX,
                             lab.addr_b, str(seconds)], capture_output=True, text=True)
        received = int(rx.communicate(timeout=seconds + 10)[0].strip() or 0)
        return int(tx.stdout.strip() or 0), received, seconds
    finally:
        boot.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--memory", default="128,96,80,64,56,48",
                    help="memory sizes to try, MB, largest first")
    ap.add_argument("--no-pps", action="store_true")
    a = ap.parse_args()
    reason = missing()
    if reason:
        print(f"appliance: skipped ({reason})")
        return 0
    memories = [int(x) for x in a.memory.split(",")]
    quiet = lambda msg: None  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="clickpy-appliance-bench-") as tmp:
        d = Path(tmp) / "router"
        man = B.build(d, ROUTER, defines=Lab.router_defines(), log=quiet)
        vm, _ = B.prepare(d, B.BootOptions())
        print(f"appliance: configs/router.click on two NICs, accelerator {qemu.choose_accel(vm)}, "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"appliance image: kernel {man.kernel_bytes / 1e6:.2f} MB + initramfs "
              f"{man.initramfs_bytes / 1e6:.2f} MB ({man.compression}, "
              f"{man.initramfs_raw_bytes / 1e6:.1f} MB unpacked) = {man.total_bytes / 1e6:.2f} MB "
              f"(goal <= {SIZE_GOAL / 1e6:g} MB); groups left out: "
              f"{', '.join(g.rsplit('.', 1)[1] for g in man.left_out) or 'none'}")
        for label, kwargs in (("--all-elements", {"config": ROUTER, "all_elements": True,
                                                  "defines": Lab.router_defines()}),
                              ("no config (all groups)", {"config": None})):
            other = B.build(Path(tmp) / "other", log=quiet, **kwargs)
            print(f"appliance image, {label}: {other.total_bytes / 1e6:.2f} MB "
                  f"(initramfs {other.initramfs_bytes / 1e6:.2f} MB)")
        walls, cpus, readies, rsss = [], [], [], []
        for _ in range(a.runs):
            wall, cpu, ready, rss = boot_to_first_packet(d, B.DEFAULT_MEMORY_MB)
            walls.append(wall)
            cpus.append(cpu)
            rsss.append(rss)
            if ready is not None:
                readies.append(ready)
        runs = ", ".join(f"{w:.2f}" for w in walls)
        print(f"appliance boot to first forwarded packet: {statistics.median(walls):.2f} s median "
              f"wall (runs: {runs}; goal <= {BOOT_GOAL_S:g} s under TCG); QEMU CPU time by then "
              f"{statistics.median(cpus):.2f} s median; /init ready at "
              f"{statistics.median(readies) if readies else float('nan'):.2f} s guest time")
        print(f"appliance memory: QEMU RSS on the host after a 1 MiB TCP transfer "
              f"{statistics.median(rsss):.0f} MB (-m {B.DEFAULT_MEMORY_MB})")
        smallest = None
        for mb in memories:
            if not forwards_with(d, mb):
                break
            smallest = mb
        print(f"appliance smallest -m that boots and forwards (of {a.memory}): "
              f"{smallest} MB (goal {MEMORY_GOAL_MB} MB)")
        if not a.no_pps:
            sent, got, secs = frames_per_second(d, B.DEFAULT_MEMORY_MB)
            print(f"appliance UDP through the router: sent {sent / secs:.0f}/s, "
                  f"received {got / secs:.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
