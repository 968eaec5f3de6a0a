"""Build an appliance directory and boot one: the library behind the CLI.

An appliance directory holds::

    bzImage            the kernel (a copy of the cached build)
    initramfs.img      compressed cpio: Python, modules, /init, the config
    kernel.config      the kernel's full .config
    appliance.json     manifest: sizes, payload, Python version, options
    size-report.txt    what takes the space in the initramfs
    config.click       the config built in, if any (for reference)

The interface with the clickpy runtime (see RUNTIME_* below) is all /init
needs from it: a module and function to call with an argv, and a command
that imports everything ``run`` will import.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from . import initramfs, kernel, qemu
from .initramfs import BuildOptions, Payload

# --- the seam with the runtime ----------------------------------------------
# /init calls clickpy.cli.main(argv) in its own process (PID 1) with this
# argv; {config} is the config's path in the guest, {control} the Unix
# socket path on which the router must serve its ControlSocket (Click's
# `click -u FILE`), which /init bridges to the host.
RUNTIME_ENTRY = "clickpy.cli:main"
RUNTIME_ARGV = ["run", "-u", "{control}", "{config}"]
# Run on the build host to find every module `run` imports: parse, check and
# instantiate the config's elements without opening devices or running.
RUNTIME_TRACE_ARGV = ["-m", "clickpy", "check", "{config}"]
RUNTIME_TRACE_NO_CONFIG = ["-c", "import clickpy.cli"]
# Element classes RUNTIME_ARGV adds to every config (-u: a ControlSocket):
# their groups are packaged whatever the config uses.
RUNTIME_ARGV_CLASSES = ["ControlSocket"]
# Imported lazily at run time (not reached by `check`): packaged anyway.
RUNTIME_EXTRA_MODULES = ["select", "signal", "socket", "mmap", "errno", "struct"]
# The package of element groups (one subpackage each; the registry imports a
# group when a config names one of its classes): an image built for a config
# ships only the groups that config's check imported.
RUNTIME_ELEMENT_GROUPS = "clickpy.elements"
# Imported lazily by these modules, but off the appliance's run path: not
# packaged for their sake. `viz` runs Graphviz's dot, a program the image
# does not have (shutil would bring bz2, lzma and their libraries).
RUNTIME_LAZY_IGNORE = {"clickpy.cli": ["shutil", "subprocess"]}

# The goal for kernel + initramfs; with compression "auto" the initramfs is
# gzip (fastest to unpack) when that fits, else zstd if that fits, else xz.
SIZE_BUDGET = 6_000_000

# A config up to this size goes on the kernel command line (base64 of zlib);
# larger ones in a second initramfs. x86's command line holds 2048 bytes.
CMDLINE_CONFIG_LIMIT = 1200
# Definitions given at boot go there too; a config shares the room with them.
CMDLINE_DEFINES_LIMIT = 600


class ApplianceError(RuntimeError):
    pass


def clickpy_payload(config: Path | None, defines: list[str] | None = None,
                   all_elements: bool = False) -> Payload:
    """The product: clickpy's own `run` of ``config`` with ``defines``
    (NAME=VALUE words, as `clickpy run` takes them). With a config, only the
    element groups its check imports are shipped (unless ``all_elements``);
    with none, every group (the config comes at boot)."""
    defines = list(defines or [])
    modules = list(RUNTIME_EXTRA_MODULES)
    from clickpy import registry
    modules += [registry.INDEX[c] for c in RUNTIME_ARGV_CLASSES if c in registry.INDEX]
    if config is not None:
        trace = [a.replace("{config}", str(config)) for a in RUNTIME_TRACE_ARGV] + defines
    else:
        trace = list(RUNTIME_TRACE_NO_CONFIG)
    return Payload(
        entry=RUNTIME_ENTRY,
        argv=list(RUNTIME_ARGV),
        defines=defines,
        trace_args=trace,
        packages=["clickpy"],
        exclude=["clickpy.appliance", "clickpy.testbed", "clickpy.benchref"],
        traced_only=[] if config is None or all_elements else [RUNTIME_ELEMENT_GROUPS],
        lazy_ignore=dict(RUNTIME_LAZY_IGNORE),
        modules=modules,
        trace_cwd="/",  # the installed clickpy, not a checkout in the cwd
    )


def file_payload(path: Path, entry_func: str = "main", argv: list[str] | None = None,
                 modules: list[str] | None = None, python_version: str = "") -> Payload:
    """A single-file module as payload (tests use it for stand-in programs)."""
    name = path.stem
    ver = python_version or "%d.%d" % sys.version_info[:2]
    loader = (
        "import importlib.util as u; s = u.spec_from_file_location(%r, %r); "
        "m = u.module_from_spec(s); s.loader.exec_module(m)" % (name, str(path))
    )
    return Payload(
        entry=f"{name}:{entry_func}",
        argv=list(argv or []),
        trace_args=["-c", loader],
        modules=list(modules or []),
        files={f"/usr/lib/python{ver}/site-packages/{path.name}": str(path)},
    )


@dataclass
class Manifest:
    kernel_bytes: int
    initramfs_bytes: int
    initramfs_raw_bytes: int
    compression: str
    python: str
    entry: str
    argv: list[str]
    has_config: bool
    kernel_key: str
    build_seconds: float
    extra: dict = field(default_factory=dict)
    defines: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # element groups not shipped

    @property
    def total_bytes(self) -> int:
        return self.kernel_bytes + self.initramfs_bytes


def _python_version(python: str) -> str:
    import subprocess
    return subprocess.run(
        [python, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()


def build(
    out: Path,
    config: Path | None = None,
    payload: Payload | None = None,
    opts: BuildOptions | None = None,
    log=lambda msg: print(msg, file=sys.stderr, flush=True),
    defines: list[str] | None = None,
    all_elements: bool = False,
) -> Manifest:
    """Build an appliance into ``out``: by default clickpy running ``config``
    with ``defines`` (NAME=VALUE), shipping the element groups the config
    uses (every group with ``all_elements`` or without a config)."""
    t0 = time.monotonic()
    config = config.resolve() if config is not None else None
    opts = opts or BuildOptions()
    config_bytes = config.read_bytes() if config is not None else None
    if payload is None:
        payload = clickpy_payload(config, defines, all_elements)
    image = kernel.build_kernel(log=log)
    log(f"appliance: kernel {image}")
    if opts.compression in ("auto", "mixed") and opts.budget is None:
        opts.budget = SIZE_BUDGET - image.stat().st_size - 4
    img = initramfs.build_initramfs(payload, config_bytes, opts)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image, out / "bzImage")
    kconfig = image.parent / "config"
    if kconfig.exists():
        shutil.copyfile(kconfig, out / "kernel.config")
    data = img.compressed + b"\0" * (-len(img.compressed) % 4)  # later archives start 4-aligned
    (out / "initramfs.img").write_bytes(data)
    (out / "size-report.txt").write_text(img.report + "\n")
    if config_bytes is not None:
        (out / "config.click").write_bytes(config_bytes)
    elif (out / "config.click").exists():
        (out / "config.click").unlink()
    man = Manifest(
        kernel_bytes=(out / "bzImage").stat().st_size,
        initramfs_bytes=len(data),
        initramfs_raw_bytes=img.raw_size,
        compression=img.compression,
        python=_python_version(opts.python),
        entry=payload.entry,
        argv=payload.argv,
        has_config=config_bytes is not None,
        kernel_key=image.parent.name,
        build_seconds=round(time.monotonic() - t0, 1),
        defines=payload.defines,
        left_out=img.left_out,
    )
    (out / "appliance.json").write_text(json.dumps(man.__dict__, indent=1) + "\n")
    log(img.report)
    log(f"appliance: {out}: kernel {man.kernel_bytes / 1e6:.2f} MB + initramfs "
        f"{man.initramfs_bytes / 1e6:.2f} MB = {man.total_bytes / 1e6:.2f} MB "
        f"({man.build_seconds:.0f} s)")
    return man


def load_manifest(d: Path) -> Manifest:
    try:
        data = json.loads((d / "appliance.json").read_text())
    except FileNotFoundError:
        raise ApplianceError(f"{d}: not an appliance (no appliance.json); "
                             "make one with `clickpy appliance build`") from None
    return Manifest(**data)


def _pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data, 9), altchars=b"-_").decode().rstrip("=")


def config_cmdline_arg(config: bytes, limit: int = CMDLINE_CONFIG_LIMIT) -> str | None:
    """``clickpy.config=...`` for a small config, or None if too large."""
    packed = _pack(config)
    if len(packed) > limit:
        return None
    return "clickpy.config=" + packed


def defines_cmdline_arg(defines: list[str]) -> str:
    """``clickpy.defines=...``: NAME=VALUE words (values may hold spaces),
    one per line, packed as a config is."""
    for d in defines:
        name, eq, _ = d.partition("=")
        if not eq or not name or "\n" in d:
            raise ApplianceError(f"{d!r}: a definition is NAME=VALUE on one line")
    packed = _pack("\n".join(defines).encode())
    if len(packed) > CMDLINE_DEFINES_LIMIT:
        raise ApplianceError("the definitions are too long for the kernel command line")
    return "clickpy.defines=" + packed


_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


# Guest memory (QEMU maps it lazily: the host pays for what the guest
# touches). configs/router.click on two NICs needs 56 MB: the unpacked image
# (15 MB of tmpfs), the kernel, Python, the control bridge, and the NICs'
# rings (FromDevice and ToDevice size them to the guest's memory).
DEFAULT_MEMORY_MB = 128


@dataclass
class BootOptions:
    nics: list[str] = field(default_factory=list)
    control: Path | None = None
    memory_mb: int = DEFAULT_MEMORY_MB
    accel: str = "auto"
    machine: str = "microvm"
    config: Path | None = None
    config_via: str = "auto"  # auto, cmdline, initrd
    append: list[str] = field(default_factory=list)
    hash_seed: int | None = None
    defines: list[str] = field(default_factory=list)  # NAME=VALUE, over the built-in ones
    macs: list[str] = field(default_factory=list)  # the NICs' MAC addresses, in order


def prepare(d: Path, opts: BootOptions) -> tuple[qemu.VMConfig, Path | None]:
    """The VM to start for appliance directory ``d``; and a temporary initrd
    to delete after the run (when a config is added at boot)."""
    load_manifest(d)
    for mac in opts.macs:
        if not _MAC_RE.match(mac):
            raise ApplianceError(f"{mac!r}: not a MAC address (xx:xx:xx:xx:xx:xx)")
    initrd = d / "initramfs.img"
    extra = list(opts.append)
    tmp_initrd: Path | None = None
    room = CMDLINE_CONFIG_LIMIT
    if opts.defines:
        extra.append(defines_cmdline_arg(opts.defines))
        room -= len(extra[-1])
    if opts.config is not None:
        cfg = opts.config.read_bytes()
        arg = config_cmdline_arg(cfg, room) if opts.config_via in ("auto", "cmdline") else None
        if arg is not None:
            extra.append(arg)
        elif opts.config_via == "cmdline":
            raise ApplianceError(f"{opts.config}: too large for the kernel command line; "
                                 "use --config-via initrd")
        else:
            fd, name = tempfile.mkstemp(prefix="initramfs-", suffix=".img", dir=d)
            with os.fdopen(fd, "wb") as fh:
                fh.write(initrd.read_bytes())
                fh.write(initramfs.config_overlay(cfg))
            tmp_initrd = initrd = Path(name)
    machine = opts.machine
    if machine == "microvm" and (d / "kernel.config").exists() and not (
        kernel.kernel_supports(d, "CONFIG_VIRTIO_MMIO")
        and kernel.kernel_supports(d, "CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES")
    ):
        machine = "pc"  # a kernel without virtio-mmio needs virtio-pci
    if machine == "microvm":
        extra.append("pci=off")  # microvm has no PCI bus: skip the probe
    vm = qemu.VMConfig(
        kernel=d / "bzImage", initrd=initrd, nics=list(opts.nics),
        control_socket=opts.control, memory_mb=opts.memory_mb, accel=opts.accel,
        machine=machine, cmdline_extra=extra, hash_seed=opts.hash_seed,
        macs=list(opts.macs),
    )
    return vm, tmp_initrd
