"""``clickpy appliance``: build and boot a clickpy VM appliance.

    clickpy appliance build CONFIG [NAME=VALUE ...] -o DIR
                                   kernel + initramfs that run CONFIG with
                                   these definitions (and only the element
                                   groups it uses, unless --all-elements)
    clickpy appliance build -o DIR            an image with no config built in
    clickpy appliance run DIR [NAME=VALUE ...] --nic TAP[,mac=MAC] ...
                                   boot it under QEMU (definitions over the
                                   built-in ones); exits with the router's
                                   exit status
    clickpy appliance kernel                  build (or find) the cached kernel

The main ``clickpy`` command dispatches ``appliance`` here: ``main(argv)``
gets the words after ``appliance`` and returns the exit status.
"""

from __future__ import annotations

import argparse
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from . import build as B
from . import kernel, qemu
from .initramfs import BuildError, BuildOptions
from .trace import TraceError


_EXIT_RE = re.compile(rb"clickpy-appliance: exit status (-?\d+), powering off")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clickpy appliance",
                                description="Build and boot clickpy VM appliances.")
    sub = p.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("build", help="build an appliance (kernel + initramfs) into DIR")
    b.add_argument("words", nargs="*", metavar="CONFIG [NAME=VALUE ...]",
                   help="config built into the image (optional: give one at boot instead), "
                        "and definitions of its $NAMEs, as `clickpy run` takes them")
    b.add_argument("--all-elements", action="store_true",
                   help="ship every element group, not only those CONFIG uses (for "
                        "configs given at boot or hot-swapped in); without CONFIG, every "
                        "group is shipped anyway")
    b.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    b.add_argument("--compression", choices=["auto", "xz", "zstd", "gzip", "mixed", "none"],
                   default="auto",
                   help="initramfs compression: gzip unpacks fastest, then zstd, xz is the "
                        "smallest; auto (default): the fastest that keeps the image within "
                        "6 MB, else xz; mixed: gzip with xz for only as many files as the "
                        "6 MB need")
    b.add_argument("--python", default=sys.executable,
                   help="interpreter to package (default: this one)")
    b.add_argument("-O", "--optimize", type=int, choices=[0, 1, 2], default=2,
                   help="byte-code optimization level: 0, 1 (no asserts), 2 (the default: "
                        "no docstrings either; `clickpy doc` in the guest then has none "
                        "for pure-Python elements)")
    b.add_argument("--no-strip", action="store_true", help="do not strip ELF files")
    g = b.add_argument_group("payload (default: clickpy's own `run`)")
    g.add_argument("--payload-file", type=Path,
                   help="a single Python file to run instead of clickpy (tests, demos)")
    g.add_argument("--entry", default="main", help="function of --payload-file to call")
    g.add_argument("--arg", action="append", default=[], dest="payload_args",
                   help="argument for the payload (repeat); {config} and {control} "
                        "are replaced in the guest")
    g.add_argument("--module", action="append", default=[],
                   help="an extra module to package (repeat)")

    r = sub.add_parser("run", help="boot an appliance under QEMU")
    r.add_argument("dir", type=Path, metavar="DIR")
    r.add_argument("defines", nargs="*", metavar="NAME=VALUE",
                   help="definition of the config's $NAME, over the one built in")
    r.add_argument("--nic", action="append", default=[], metavar="TAP[,mac=MAC]",
                   help="host TAP device for the next guest NIC (eth0, eth1, ...), "
                        "with the NIC's MAC address (default: one derived from DIR)")
    r.add_argument("--control", type=Path, metavar="PATH",
                   help="host Unix socket for the ControlSocket (default DIR/control.sock)")
    r.add_argument("--no-control", action="store_true", help="no control channel")
    r.add_argument("-m", "--memory", type=int, default=B.DEFAULT_MEMORY_MB, metavar="MB",
                   help="guest memory (default %(default)s MB)")
    r.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto")
    r.add_argument("--machine", choices=["microvm", "pc"], default="microvm")
    r.add_argument("--config", type=Path, help="run this config instead of the built-in one")
    r.add_argument("--config-via", choices=["auto", "cmdline", "initrd"], default="auto",
                   help="how --config reaches the guest (auto: command line if small)")
    r.add_argument("--append", action="append", default=[], metavar="ARG",
                   help="extra kernel command-line word (repeat)")
    r.add_argument("--print-command", action="store_true",
                   help="print the QEMU command line and exit")

    sub.add_parser("kernel", help="build the appliance kernel (cached) and print its path")
    return p


def _is_definition(word: str) -> bool:
    name, eq, _ = word.partition("=")
    return bool(eq and name) and all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def _config_and_defines(words: list[str]) -> tuple[Path | None, list[str]]:
    """CONFIG and NAME=VALUE words, as `clickpy run` tells them apart."""
    config = None
    defines = []
    for w in words:
        if _is_definition(w):
            defines.append(w)
        elif config is None:
            config = Path(w)
        else:
            raise B.ApplianceError(f"{w}: a second config (NAME=VALUE defines a parameter)")
    return config, defines


def _nics(specs: list[str]) -> tuple[list[str], list[str]]:
    """--nic TAP[,mac=MAC] options: (TAPs, MACs; all or none given)."""
    taps, macs = [], []
    for spec in specs:
        tap, _, rest = spec.partition(",")
        taps.append(tap)
        if rest:
            key, eq, mac = rest.partition("=")
            if key != "mac" or not eq:
                raise B.ApplianceError(f"--nic {spec}: expected TAP or TAP,mac=MAC")
            macs.append(mac)
    if macs and len(macs) != len(taps):
        raise B.ApplianceError("give a MAC address for every --nic or for none")
    return taps, macs


def _build(a: argparse.Namespace) -> int:
    opts = BuildOptions(python=a.python, compression=a.compression,
                        optimize=a.optimize, strip=not a.no_strip)
    a.config, defines = _config_and_defines(a.words)
    payload = None
    if a.payload_file is not None:
        payload = B.file_payload(a.payload_file.resolve(), a.entry, a.payload_args,
                                 a.module, B._python_version(a.python))
    elif a.payload_args or a.module:
        payload = B.clickpy_payload(a.config, defines, a.all_elements)
        payload.argv = a.payload_args or payload.argv
        payload.modules += a.module
    if a.config is not None and not a.config.is_file():
        print(f"clickpy appliance: {a.config}: no such file", file=sys.stderr)
        return 2
    B.build(a.output, a.config, payload, opts, defines=defines, all_elements=a.all_elements)
    return 0


def _run(a: argparse.Namespace) -> int:
    control = None if a.no_control else (a.control or a.dir / "control.sock")
    for d in a.defines:
        if not _is_definition(d):
            raise B.ApplianceError(f"{d}: expected NAME=VALUE after DIR")
    taps, macs = _nics(a.nic)
    opts = B.BootOptions(nics=taps, macs=macs, control=control, memory_mb=a.memory,
                         accel=a.accel, machine=a.machine, config=a.config,
                         config_via=a.config_via, append=a.append, defines=a.defines)
    vm, tmp = B.prepare(a.dir, opts)
    try:
        if a.print_command:
            print(shlex.join(qemu.build_command(vm, qemu.choose_accel(vm))))
            return 0
        running = qemu.start(vm, stdout=subprocess.PIPE,
                             stdin=None if sys.stdin.isatty() else subprocess.DEVNULL)
        if control is not None:
            print(f"clickpy appliance: control socket {control}", file=sys.stderr)
        status = None
        try:
            # echo the console; the guest's exit status becomes ours
            out = sys.stdout.buffer
            assert running.proc.stdout is not None
            for line in iter(running.proc.stdout.readline, b""):
                out.write(line)
                out.flush()
                m = _EXIT_RE.search(line)
                if m:
                    status = int(m.group(1))
            rc = running.wait()
        except KeyboardInterrupt:
            running.proc.send_signal(signal.SIGTERM)
            return running.stop() or 130
        return status if status is not None else (rc or 1)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    # NAME=VALUE words may come after the options too (`build CONFIG -o DIR
    # A=1`), which argparse's positionals do not allow: collect them here
    a, rest = parser.parse_known_args(argv)
    late = [w for w in rest if _is_definition(w)]
    if len(late) < len(rest) or (late and a.cmd not in ("build", "run")):
        parser.error("unrecognized arguments: " + " ".join(rest))
    if a.cmd == "build":
        a.words += late
    elif a.cmd == "run":
        a.defines += late
    try:
        if a.cmd == "build":
            return _build(a)
        if a.cmd == "run":
            return _run(a)
        if a.cmd == "kernel":
            print(kernel.build_kernel())
            return 0
    except (B.ApplianceError, BuildError, TraceError, kernel.KernelError,
            qemu.QemuError) as e:
        print(f"clickpy appliance: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
