"""Find what a Python program needs at run time: modules and shared libraries.

``trace_imports(python, args)`` runs ``python <args>`` on the build host with
a small shim that, at exit, records every module in ``sys.modules`` with the
file it came from, and every shared object mapped into the process
(``/proc/self/maps``: catches libraries that extension modules ``dlopen``).
``ldd_closure`` adds the libraries each ELF file links against.

The appliance packages only what this finds (plus a few modules named
explicitly), so the program being traced must reach every import it will do
in the guest: for clickpy that is a check of the config, which imports the
element modules the config uses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Runs inside the traced interpreter: hooks exit (normal, sys.exit, SIGTERM),
# then runs the real program as `python <args>` would.
_SHIM = r"""
import atexit, os, signal, sys
_out = os.environ.pop("CLICKPY_TRACE_OUT")
# run with -S (as the appliance does): sys.path is given, no .pth is run
_paths = os.environ.pop("CLICKPY_TRACE_SYSPATH", "")
if _paths:
    sys.path[1:] = [p for p in _paths.split(os.pathsep) if p]
def _dump():
    mods = {}
    for name, m in list(sys.modules.items()):
        f = getattr(m, "__file__", None)
        spec = getattr(m, "__spec__", None)
        mods[name] = {
            "file": f,
            "package": bool(getattr(m, "__path__", None)),
            "origin": getattr(spec, "origin", None) if spec else None,
        }
    maps = []
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].startswith("/"):
                    maps.append(parts[5].strip())
    except OSError:
        pass
    import json  # after the snapshot, so it is not counted
    with open(_out, "w") as fh:
        json.dump({"modules": mods, "maps": sorted(set(maps)),
                   "executable": sys.executable, "prefix": sys.prefix,
                   "base_prefix": sys.base_prefix,
                   "stdlib": __import__("sysconfig").get_paths()["stdlib"],
                   "platstdlib": __import__("sysconfig").get_paths()["platstdlib"],
                   "purelib": __import__("sysconfig").get_paths()["purelib"],
                   "platlib": __import__("sysconfig").get_paths()["platlib"],
                   "version": list(sys.version_info[:2])}, fh)
atexit.register(_dump)
def _term(signum, frame):
    raise SystemExit(128 + signum)
signal.signal(signal.SIGTERM, _term)
_args = sys.argv[1:]
if not _args:
    pass
elif _args[0] == "-c":
    sys.argv = ["-c"] + _args[2:]
    exec(compile(_args[1], "<string>", "exec"), {"__name__": "__main__"})
elif _args[0] == "-m":
    import runpy
    sys.argv = [_args[1]] + _args[2:]
    runpy.run_module(_args[1], run_name="__main__", alter_sys=True)
else:
    import runpy
    sys.argv = _args
    runpy.run_path(_args[0], run_name="__main__")
"""


@dataclass
class Trace:
    executable: str
    version: tuple[int, int]
    stdlib: str  # pure stdlib dir, e.g. /usr/lib/python3.11
    platstdlib: str
    purelib: str  # site-packages
    platlib: str
    modules: dict[str, dict] = field(default_factory=dict)
    maps: list[str] = field(default_factory=list)

    def files(self) -> dict[str, str]:
        """module name -> file for modules that came from a file."""
        return {n: m["file"] for n, m in self.modules.items() if m.get("file")}

    def merge(self, other: "Trace") -> None:
        self.modules.update(other.modules)
        self.maps = sorted(set(self.maps) | set(other.maps))


class TraceError(RuntimeError):
    pass


def trace_imports(
    python: str,
    args: list[str],
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    cwd: str | None = None,
    ok_returncodes: tuple[int, ...] = (0,),
) -> Trace:
    """Run ``python <args>`` and return what it imported and mapped."""
    # The appliance runs python -S with site-packages put on sys.path by
    # /init, so no .pth file runs there: trace the same way, with the host's
    # full sys.path (editable installs that add a path work; import hooks
    # installed by a .pth do not).
    syspath = subprocess.run(
        [python, "-c", "import os, sys; print(os.pathsep.join(sys.path[1:]))"],
        capture_output=True, text=True, check=True, env=env, cwd=cwd,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="clickpy-trace-") as tmp:
        out = os.path.join(tmp, "trace.json")
        shim = os.path.join(tmp, "shim.py")
        Path(shim).write_text(_SHIM)
        full_env = dict(os.environ if env is None else env)
        full_env["CLICKPY_TRACE_OUT"] = out
        full_env["CLICKPY_TRACE_SYSPATH"] = syspath
        proc = subprocess.run(
            [python, "-S", shim, *args], env=full_env, cwd=cwd, timeout=timeout,
            capture_output=True, text=True,
        )
        if proc.returncode not in ok_returncodes or not os.path.exists(out):
            raise TraceError(
                f"tracing {' '.join([python, *args])} failed "
                f"(exit {proc.returncode}):\n{proc.stderr[-3000:]}"
            )
        data = json.loads(Path(out).read_text())
    t = Trace(
        executable=data["executable"],
        version=tuple(data["version"]),  # type: ignore[arg-type]
        stdlib=data["stdlib"],
        platstdlib=data["platstdlib"],
        purelib=data["purelib"],
        platlib=data["platlib"],
        modules=data["modules"],
        maps=data["maps"],
    )
    return t


_LDD_LINE = re.compile(r"^\s*(?:(\S+)\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)\s*$")


def ldd(path: str) -> list[str]:
    """Absolute paths of the shared libraries ``path`` needs (incl. the loader)."""
    try:
        proc = subprocess.run(["ldd", path], capture_output=True, text=True)
    except OSError:
        return []
    if proc.returncode != 0:  # "not a dynamic executable"
        return []
    libs = []
    for line in proc.stdout.splitlines():
        m = _LDD_LINE.match(line)
        if m:
            libs.append(m.group(2))
    return libs


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def ldd_closure(paths: list[str]) -> list[str]:
    """All shared libraries needed by the ELF files in ``paths`` (transitively)."""
    seen: set[str] = set()
    todo = [p for p in paths if is_elf(p)]
    while todo:
        p = todo.pop()
        for lib in ldd(p):
            if lib not in seen:
                seen.add(lib)
                todo.append(lib)
    return sorted(seen)


if __name__ == "__main__":  # python -m clickpy.appliance.trace ARGS...
    t = trace_imports(sys.executable, sys.argv[1:])
    for name, f in sorted(t.files().items()):
        print(f"{name:40} {f}")
    for m in t.maps:
        print("map", m)
