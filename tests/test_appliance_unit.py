"""Unit tests of the appliance builder's parts that need no QEMU or root."""

from __future__ import annotations

import base64
import lzma
import os
import shutil
import stat
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

try:
    import clickpy.appliance  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clickpy.appliance import build as B
from clickpy.appliance import cpio, kernel, qemu
from clickpy.appliance.initramfs import _module_relpath
from clickpy.appliance.trace import ldd, trace_imports


def parse_newc(data: bytes) -> list[tuple[str, int, bytes, tuple[int, int]]]:
    """An independent reader of newc archives, for checking the writer."""
    out, off = [], 0
    while True:
        assert data[off:off + 6] == b"070701", data[off:off + 6]
        f = [int(data[off + 6 + 8 * i: off + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = f[1], f[6], f[9], f[10], f[11]
        name_off = off + 110
        name = data[name_off:name_off + namesize - 1].decode()
        data_off = name_off + namesize + (-(110 + namesize) % 4)
        body = data[data_off:data_off + size]
        off = data_off + size + (-size % 4)
        if name == "TRAILER!!!":
            return out
        out.append((name, mode, body, (rmaj, rmin)))


def test_newc_roundtrip() -> None:
    entries = [
        cpio.directory("/etc"),
        cpio.regular("/etc/hello", b"hello\n", 0o644),
        cpio.regular("/init", b"#!/bin/sh\n", 0o755),
        cpio.symlink("/bin/sh", "busybox"),
        cpio.chardev("/dev/console", 5, 1),
        cpio.regular("/empty", b""),
    ]
    parsed = parse_newc(cpio.newc_bytes(entries))
    assert [p[0] for p in parsed] == ["etc", "etc/hello", "init", "bin/sh", "dev/console", "empty"]
    assert parsed[1][2] == b"hello\n"
    assert stat.S_ISLNK(parsed[3][1]) and parsed[3][2] == b"busybox"
    assert stat.S_ISCHR(parsed[4][1]) and parsed[4][3] == (5, 1)
    assert stat.S_IMODE(parsed[2][1]) == 0o755


@pytest.mark.skipif(shutil.which("cpio") is None, reason="no cpio tool")
def test_newc_readable_by_cpio() -> None:
    data = cpio.newc_bytes([cpio.directory("/a"), cpio.regular("/a/b", b"xyz")])
    listing = subprocess.run(["cpio", "-t", "--quiet"], input=data, capture_output=True, check=True)
    assert listing.stdout.split() == [b"a", b"a/b"]


def test_xz_fits_the_kernel_decoder() -> None:
    raw = cpio.newc_bytes([cpio.regular("/x", bytes(range(256)) * 100)])
    packed = cpio.compress(raw, "xz")
    assert lzma.decompress(packed) == raw
    # stream flags: check type CRC32 (1), as the kernel's xz decoder needs
    assert packed[6:8] == b"\x00\x01"
    assert cpio.compress(raw, "none") == raw


def test_config_on_the_command_line_roundtrip() -> None:
    cfg = b"FromDevice(eth0) -> Counter -> ToDevice(eth1);\n"
    arg = B.config_cmdline_arg(cfg)
    assert arg is not None and arg.startswith("clickpy.config=") and " " not in arg
    b64 = arg.split("=", 1)[1]
    # what /init does
    raw = base64.b64decode(b64 + "=" * (-len(b64) % 4), altchars=b"-_")
    assert zlib.decompress(raw) == cfg
    assert B.config_cmdline_arg(os.urandom(2000)) is None  # too big


def test_check_config_reports_dropped_options() -> None:
    frag = "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n"
    final = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=y\n"
    assert kernel.check_config(final, frag) == ["CONFIG_B=y (got n)", "CONFIG_C=n (got y)"]


def test_fragment_has_what_the_appliance_needs() -> None:
    frag = kernel.FRAGMENT.read_text()
    for opt in ("VIRTIO_PCI", "VIRTIO_MMIO", "VIRTIO_MMIO_CMDLINE_DEVICES", "VIRTIO_NET",
                "VIRTIO_CONSOLE", "PACKET", "UNIX", "BLK_DEV_INITRD", "RD_XZ",
                "RD_GZIP", "RD_ZSTD", "SERIAL_8250_CONSOLE", "DEVTMPFS", "PROC_FS", "SYSFS"):
        assert f"CONFIG_{opt}=y" in frag, opt
    # user space routes; no IP stack in the kernel (allnoconfig leaves it off)
    assert "CONFIG_MODULES=y" not in frag and "CONFIG_INET=y" not in frag


def test_module_relpath() -> None:
    assert _module_relpath("a.b.c", "/x/a/b/c.py", False) == "a/b/c.py"
    assert _module_relpath("a.b", "/x/a/b/__init__.py", True) == "a/b/__init__.py"
    assert _module_relpath("a.m", "/x/a/m.cpython-311-x86_64-linux-gnu.so", False) == \
        "a/m.cpython-311-x86_64-linux-gnu.so"


def test_trace_records_modules_and_libraries() -> None:
    t = trace_imports(sys.executable, ["-c", "import socket, json"])
    files = t.files()
    assert "socket" in files and files["socket"].endswith("socket.py")
    assert "json.decoder" in files
    assert "site" not in t.modules  # traced as the appliance runs: python -S
    assert any("libc.so" in m for m in t.maps)
    assert any("ld-linux" in lib for lib in ldd(sys.executable))


def test_qemu_command(tmp_path: Path) -> None:
    if qemu.qemu_binary() is None:
        pytest.skip("QEMU not installed")
    vm = qemu.VMConfig(kernel=tmp_path / "k", initrd=tmp_path / "i", nics=["t0", "t1"],
                       control_socket=tmp_path / "c.sock", memory_mb=64, hash_seed=7)
    cmd = qemu.build_command(vm, "tcg")
    s = " ".join(cmd)
    assert "-no-reboot" in cmd and "microvm,acpi=off" in s
    assert s.count("virtio-net-device") == 2
    assert "ifname=t0" in s and "ifname=t1" in s
    assert "PYTHONHASHSEED=7" in s and "reboot=t" in s
    assert "name=org.clickpy.control" in s and f"path={tmp_path / 'c.sock'}" in s
    pc = " ".join(qemu.build_command(qemu.VMConfig(kernel=tmp_path / "k", initrd=tmp_path / "i",
                                                   nics=["t0"], machine="pc"), "tcg"))
    assert "virtio-net-pci" in pc


def test_control_frames_roundtrip() -> None:
    from clickpy.appliance import control
    buf = bytearray(control.frame(control.F_OPEN, 1) + control.frame(control.F_DATA, 1, b"READ x\n")
                    + control.frame(control.F_CLOSE, 1) + control.frame(control.F_DATA, 2, b"par"))
    buf = buf[:-1]  # a partial frame stays in the buffer
    assert control.parse(buf) == [(1, 1, b""), (2, 1, b"READ x\n"), (3, 1, b"")]
    assert bytes(buf) == control.frame(control.F_DATA, 2, b"par")[:-1]


def test_control_relay_multiplexes_clients(tmp_path: Path) -> None:
    """The host relay against a fake guest that echoes each channel's bytes."""
    import socket
    import threading
    from clickpy.appliance import control
    port_path = tmp_path / "c.sock.qemu"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(port_path))
    srv.listen(1)
    relay = control.ControlRelay(tmp_path / "c.sock", port_path)
    relay.start()
    guest, _ = srv.accept()

    def fake_guest() -> None:
        buf = bytearray()
        while True:
            try:
                data = guest.recv(4096)
            except OSError:  # closed by the test at the end
                return
            if not data:
                return
            buf += data
            for kind, ch, payload in control.parse(buf):
                if kind == control.F_OPEN:
                    guest.sendall(control.frame(control.F_DATA, ch, b"hello %d\r\n" % ch))
                elif kind == control.F_DATA:
                    if payload == b"bye\n":
                        guest.sendall(control.frame(control.F_CLOSE, ch))
                    else:
                        guest.sendall(control.frame(control.F_DATA, ch, payload.upper()))

    t = threading.Thread(target=fake_guest, daemon=True)
    t.start()
    a = socket.socket(socket.AF_UNIX)
    a.connect(str(tmp_path / "c.sock"))
    b = socket.socket(socket.AF_UNIX)
    b.connect(str(tmp_path / "c.sock"))
    a.settimeout(5)
    b.settimeout(5)
    assert a.recv(100) == b"hello 1\r\n"
    assert b.recv(100) == b"hello 2\r\n"
    b.sendall(b"read y\n")
    a.sendall(b"read x\n")
    assert a.recv(100) == b"READ X\n"
    assert b.recv(100) == b"READ Y\n"
    a.sendall(b"bye\n")
    assert a.recv(100) == b""  # the guest closed channel 1
    assert stat.S_IMODE((tmp_path / "c.sock").stat().st_mode) == 0o600
    relay.stop()
    b.close()
    t.join(5)
    guest.close()
    srv.close()
    assert relay.error is None


def test_definitions_reach_the_router_with_boot_ones_winning() -> None:
    from clickpy.appliance import init
    arg = B.defines_cmdline_arg(["PORTS=DEV0 eth0, DEV1 eth1", "N=7"])
    assert arg.startswith("clickpy.defines=") and " " not in arg
    cmdline = {"defines": arg.split("=", 1)[1]}
    merged = init.merged_defines(["PORTS=TRACES x", "IP0=10.0.0.1"], cmdline)
    assert merged == ["PORTS=DEV0 eth0, DEV1 eth1", "IP0=10.0.0.1", "N=7"]
    assert init.merged_defines(["A=1"], {}) == ["A=1"]
    with pytest.raises(B.ApplianceError):
        B.defines_cmdline_arg(["no definition"])
    with pytest.raises(B.ApplianceError):
        B.defines_cmdline_arg([f"X{i}={os.urandom(8).hex()}" for i in range(100)])


def test_cli_tells_config_from_definitions_and_reads_nic_macs() -> None:
    from clickpy.appliance import cli
    assert cli._config_and_defines(["r.click", "A=1", "PORTS=DEV0 eth0, DEV1 eth1"]) == (
        Path("r.click"), ["A=1", "PORTS=DEV0 eth0, DEV1 eth1"])
    assert cli._config_and_defines(["A=1"]) == (None, ["A=1"])
    with pytest.raises(B.ApplianceError):
        cli._config_and_defines(["a.click", "b.click"])
    assert cli._nics(["tap0", "tap1"]) == (["tap0", "tap1"], [])
    assert cli._nics(["tap0,mac=02:00:00:00:00:01", "tap1,mac=02:00:00:00:00:02"]) == (
        ["tap0", "tap1"], ["02:00:00:00:00:01", "02:00:00:00:00:02"])
    with pytest.raises(B.ApplianceError):
        cli._nics(["tap0,mac=02:00:00:00:00:01", "tap1"])  # all or none
    with pytest.raises(B.ApplianceError):
        cli._nics(["tap0,speed=10"])


def test_qemu_command_uses_the_given_macs(tmp_path: Path) -> None:
    if qemu.qemu_binary() is None:
        pytest.skip("QEMU is not installed")
    vm = qemu.VMConfig(kernel=tmp_path / "k", initrd=tmp_path / "i", nics=["t0", "t1"],
                       macs=["02:00:00:00:00:0a", "02:00:00:00:00:0b"])
    cmd = " ".join(qemu.build_command(vm, "tcg"))
    assert "netdev=n0,mac=02:00:00:00:00:0a" in cmd and "netdev=n1,mac=02:00:00:00:00:0b" in cmd


def test_zstd_archive_decodes() -> None:
    if not cpio.have_zstd():
        pytest.skip("no zstd program")
    raw = cpio.newc_bytes([cpio.regular("/etc/x", b"clickpy " * 1000)])
    packed = cpio.compress(raw, "zstd")
    assert packed[:4] == b"\x28\xb5\x2f\xfd"  # zstd frame magic: what the kernel detects
    out = subprocess.run(["zstd", "-d", "-c"], input=packed, capture_output=True, check=True)
    assert out.stdout == raw


def test_trace_ships_traced_subpackages_and_scans_only_shipped_sources(tmp_path: Path) -> None:
    """A package whose subpackage `used` the payload imports, `unused` it does
    not, `skip` excluded: the walk imports neither of the last two (nor the
    stdlib modules only they import), nor counts its own tools; lazy imports
    of shipped modules are found, but those listed to ignore."""
    from clickpy.appliance.initramfs import BuildOptions, Payload, trace_payload
    pkg = tmp_path / "pkgx"
    for sub in ("", "used", "unused", "skip"):
        (pkg / sub).mkdir(parents=True, exist_ok=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "lazy.py").write_text("def f():\n    import difflib\n    import colorsys\n")
    (pkg / "unused" / "__init__.py").write_text("import json\n")
    (pkg / "skip" / "__init__.py").write_text("import csv\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    payload = Payload(entry="pkgx:main", argv=[], trace_args=["-c", "import pkgx.used"],
                      packages=["pkgx"], exclude=["pkgx.skip"], traced_only=["pkgx"],
                      lazy_ignore={"pkgx.lazy": ["colorsys"]}, trace_env=env)
    trace, exclude = trace_payload(payload, BuildOptions())
    assert exclude == ["pkgx.skip", "pkgx.unused"]
    mods = trace.modules
    assert "pkgx.used" in mods and "pkgx.lazy" in mods
    assert "pkgx.unused" not in mods and "pkgx.skip" not in mods
    assert "json" not in mods and "csv" not in mods
    assert "difflib" in mods and "colorsys" not in mods
    assert "pkgutil" not in mods and "inspect" not in mods


def test_frozen_modules_are_not_shipped_but_the_path_landmark(tmp_path: Path) -> None:
    """The interpreter loads its frozen modules (codecs, io, importlib's
    bootstrap, ...) from its own image: their .pyc files are left out, but
    os.pyc, by which Python's start-up finds the standard library."""
    import _imp
    from clickpy.appliance.initramfs import BuildOptions, build_initramfs
    if not _imp.is_frozen("codecs"):
        pytest.skip("this interpreter has no frozen standard modules")
    prog = tmp_path / "prog.py"
    prog.write_text("import codecs, os\ndef main(argv):\n    return 0\n")
    img = build_initramfs(B.file_payload(prog), opts=BuildOptions(compression="none"))
    paths = {e.path for e in img.entries}
    ver = "%d.%d" % sys.version_info[:2]
    std = f"/usr/lib/python{ver}"
    assert f"{std}/os.pyc" in paths
    for frozen in ("codecs", "io", "stat", "posixpath", "importlib/_bootstrap"):
        assert f"{std}/{frozen}.pyc" not in paths, frozen
    assert f"{std}/encodings/__init__.pyc" in paths  # not frozen: shipped
