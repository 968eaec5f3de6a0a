"""Boot an appliance under QEMU: command line, accelerator choice, KVM probe.

Machine: ``-M microvm,acpi=off`` (virtio-mmio devices, announced to the
kernel on its command line by QEMU; an MP table for the IO-APIC; the 8250
UART as ttyS0). ``-M pc`` with virtio-pci is the fallback (``machine="pc"``).

Accelerator: KVM when /dev/kvm can actually boot our kernel (probed once per
host kernel and QEMU version, cached), else TCG. On some nested hosts
/dev/kvm opens but the guest hangs or QEMU aborts setting MSRs: the probe
boots the real kernel for a few seconds and looks for its first line.

NICs: one ``virtio-net`` per host TAP, in order (guest eth0, eth1, ...),
with QEMU opening the TAP by name (``script=no``): the TAP must exist in
QEMU's network namespace when it starts.

Control: a virtio-serial port named ``org.clickpy.control`` whose host end
QEMU serves as a Unix socket (``<control>.qemu``); a ``ControlRelay``
thread (control.py) holds that open and serves the public socket
``<control>``, multiplexing clients over the port. In the guest, /init
bridges each client to the router's ControlSocket (see init.py), so a
ControlSocket client on the host connects to ``<control>`` and speaks Click's
ControlSocket protocol to the router in the VM.

Stop: the guest reboots to stop; ``-no-reboot`` turns that into QEMU exiting.
"""

from __future__ import annotations

import hashlib
import os
import platform
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .control import ControlRelay, qemu_socket_path
from .kernel import cache_root

QEMU = "qemu-system-x86_64"
CONTROL_PORT_NAME = "org.clickpy.control"

# Kernel command line. reboot=t: a reboot is a triple fault (works on every
# machine type, no ACPI needed) and QEMU exits on it (-no-reboot); panic=-1:
# a panic reboots at once; quiet: serial output is slow under TCG;
# noapictimer: under TCG the local APIC timer fails its calibration anyway,
# after ~0.25 s spent calibrating it (the PIT serves as clock event device).
BASE_CMDLINE = [
    "console=ttyS0", "reboot=t", "panic=-1", "quiet", "random.trust_cpu=on",
    "8250.nr_uarts=1", "tsc=reliable", "no_timer_check",
]
TCG_CMDLINE = ["noapictimer"]
# The emulated CPU under TCG: qemu64 (SSE2, the x86-64 baseline clickpy is
# built for) boots router.click ~0.3 s sooner than max (measured, QEMU 7.2:
# 2.65 s against 3.04 s of QEMU CPU time to the first forwarded packet): with
# AVX2 and the rest, glibc picks string and memory functions that TCG
# emulates more slowly.
TCG_CPU = "qemu64"


# A router sees frames as they are on the wire: no checksum offload, no
# TSO/GSO/UFO super-frames in either direction (the host kernel segments
# before the TAP). Otherwise a TCP flow hands the guest 64 KB frames that an
# AF_PACKET forwarder cannot send out as they are.
NIC_NO_OFFLOADS = ",".join(
    f"{prop}=off" for prop in (
        "csum", "guest_csum", "gso", "guest_tso4", "guest_tso6", "guest_ecn",
        "guest_ufo", "host_tso4", "host_tso6", "host_ecn", "host_ufo",
    )
)


class QemuError(RuntimeError):
    pass


def qemu_binary() -> str | None:
    return shutil.which(QEMU)


@dataclass
class VMConfig:
    kernel: Path
    initrd: Path
    nics: list[str] = field(default_factory=list)  # host TAP names
    control_socket: Path | None = None
    memory_mb: int = 128  # build.DEFAULT_MEMORY_MB
    accel: str = "auto"  # auto, kvm, tcg
    machine: str = "microvm"  # microvm (virtio-mmio) or pc (virtio-pci)
    cmdline_extra: list[str] = field(default_factory=list)
    hash_seed: int | None = None  # PYTHONHASHSEED for the guest; random if None
    macs: list[str] = field(default_factory=list)


def _mac(i: int, seed: str) -> str:
    # locally administered, stable per appliance directory and NIC index
    h = hashlib.sha256(f"{seed}:{i}".encode()).digest()
    return "52:54:%02x:%02x:%02x:%02x" % (h[0], h[1], h[2], i & 0xFF)


def build_command(vm: VMConfig, accel: str) -> list[str]:
    qemu = qemu_binary()
    if qemu is None:
        raise QemuError(f"{QEMU} not found: run scripts/install-deps.sh appliance")
    seed = vm.hash_seed if vm.hash_seed is not None else secrets.randbelow(2**32)
    cmdline = BASE_CMDLINE + (TCG_CMDLINE if accel == "tcg" else [])
    cmdline += [f"PYTHONHASHSEED={seed}"] + vm.cmdline_extra
    if vm.machine == "microvm":
        # keep the RTC: without it the kernel spends 1 s (TCG) failing to read it
        machine = "microvm,acpi=off,x-option-roms=off"
        net_dev, serial_bus = "virtio-net-device", "virtio-serial-device"
    elif vm.machine == "pc":
        machine = "pc"
        net_dev, serial_bus = "virtio-net-pci", "virtio-serial-pci"
    else:
        raise QemuError(f"unknown machine {vm.machine!r} (microvm, pc)")
    cpu = "host" if accel == "kvm" else os.environ.get("CLICKPY_APPLIANCE_CPU", TCG_CPU)
    cmd = [
        qemu, "-M", machine, "-accel", accel, "-cpu", cpu,
        "-m", str(vm.memory_mb), "-smp", "1",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-serial", "stdio",
        "-kernel", str(vm.kernel), "-initrd", str(vm.initrd),
        "-append", " ".join(cmdline),
    ]
    for i, tap in enumerate(vm.nics):
        mac = vm.macs[i] if i < len(vm.macs) else _mac(i, str(vm.initrd))
        cmd += [
            "-netdev", f"tap,id=n{i},ifname={tap},script=no,downscript=no",
            "-device", f"{net_dev},netdev=n{i},mac={mac},{NIC_NO_OFFLOADS}",
        ]
    if vm.control_socket is not None:
        cmd += [
            "-chardev",
            f"socket,id=ctl,path={qemu_socket_path(vm.control_socket)},server=on,wait=off",
            # two ports (port 0 is the console's): with the default 31 the
            # guest's driver sets up queues for all of them, 4 MB of a 64 MB VM
            "-device", f"{serial_bus},id=vser,max_ports=2",
            "-device", f"virtserialport,bus=vser.0,chardev=ctl,name={CONTROL_PORT_NAME}",
        ]
    return cmd


def _probe_key(kernel: Path) -> str:
    qemu = qemu_binary() or ""
    try:
        qstat = os.stat(qemu)
        qv = f"{qstat.st_size}-{int(qstat.st_mtime)}"
    except OSError:
        qv = "none"
    h = hashlib.sha256(f"{platform.release()}|{qv}|{kernel.stat().st_size}".encode())
    return h.hexdigest()[:16]


def kvm_works(kernel: Path, timeout: float = 4.0) -> bool:
    """Whether KVM can boot ``kernel`` here (cached per host kernel + QEMU)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK) or qemu_binary() is None:
        return False
    cache = cache_root() / f"kvm-probe-{_probe_key(kernel)}"
    if cache.exists():
        return cache.read_text().strip() == "yes"
    cmd = [
        qemu_binary() or QEMU, "-M", "microvm,acpi=off,x-option-roms=off", "-accel", "kvm",
        "-cpu", "host", "-m", "64", "-nodefaults", "-no-user-config",
        "-display", "none", "-no-reboot", "-serial", "stdio", "-kernel", str(kernel),
        # no initramfs: the kernel panics at once and panic=-1 reboots, exit
        "-append", "console=ttyS0 reboot=t panic=-1",
    ]
    ok = False
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        ok = b"Linux version" in proc.stdout
    except subprocess.TimeoutExpired as exc:
        ok = b"Linux version" in (exc.stdout or b"")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("yes\n" if ok else "no\n")
    return ok


def choose_accel(vm: VMConfig) -> str:
    if vm.accel in ("kvm", "tcg"):
        return vm.accel
    if os.environ.get("CLICKPY_APPLIANCE_ACCEL") in ("kvm", "tcg"):
        return os.environ["CLICKPY_APPLIANCE_ACCEL"]
    return "kvm" if kvm_works(vm.kernel) else "tcg"


@dataclass
class RunningVM:
    proc: subprocess.Popen
    command: list[str]
    started: float  # time.monotonic() when QEMU was started
    accel: str
    relay: ControlRelay | None = None

    def _done(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            try:
                qemu_socket_path(self.relay.public).unlink()
            except FileNotFoundError:
                pass
            self.relay = None

    def wait(self, timeout: float | None = None) -> int:
        rc = self.proc.wait(timeout)
        self._done()
        return rc

    def stop(self, timeout: float = 5.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        rc = self.proc.wait()
        self._done()
        return rc


def start(vm: VMConfig, stdout=None, stdin=subprocess.DEVNULL) -> RunningVM:
    """Start QEMU (and the control relay, if the VM has a control socket)."""
    accel = choose_accel(vm)
    cmd = build_command(vm, accel)
    relay = None
    if vm.control_socket is not None:
        try:
            qemu_socket_path(vm.control_socket).unlink()
        except FileNotFoundError:
            pass
        relay = ControlRelay(vm.control_socket, qemu_socket_path(vm.control_socket))
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.STDOUT, stdin=stdin)
    if relay is not None:
        relay.start()
    return RunningVM(proc, cmd, t0, accel, relay)
