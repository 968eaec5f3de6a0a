"""Assemble the appliance's initramfs: a Python interpreter, the modules a
payload needs, their shared libraries, ``/init`` and the config.

Layout in the guest (relocated from wherever the host keeps them)::

    /init                           clickpy/appliance/init.py
    /usr/bin/python3                the host interpreter, stripped
    /lib64/ld-linux-x86-64.so.2     the loader, at its fixed path
    /lib/x86_64-linux-gnu/*.so*     every shared library needed, stripped
    /usr/lib/python3.X/             stdlib modules as sourceless .pyc
    /usr/lib/python3.X/lib-dynload/ stdlib extension modules, stripped
    /usr/lib/python3.X/site-packages/  everything else (clickpy, ...)
    /etc/clickpy/appliance.conf     what /init runs (a Python dict literal)
    /etc/clickpy/config.click       the config, when given at build time
    /dev/console                    so the kernel can give /init a console

Modules are found by tracing (see trace.py); whole packages (clickpy itself)
can be included so that element modules imported later (a hot-swapped
config) are there too.
"""

from __future__ import annotations

import json
import os
import pprint
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import cpio
from .trace import Trace, is_elf, ldd_closure, trace_imports

INIT_SOURCE = Path(__file__).with_name("init.py")
GUEST_PYTHON = "/usr/bin/python3"
GUEST_LIBDIR = "/lib/x86_64-linux-gnu"

# What /init itself imports (see init.py), traced to get their dependencies.
INIT_MODULES = [
    "_ctypes", "fcntl", "_socket", "socket", "struct", "select", "signal",
    "base64", "zlib", "importlib", "termios", "traceback", "time",
    # for child interpreters the router may start (no -S there)
    "site",
    "encodings.utf_8", "encodings.ascii", "encodings.latin_1", "encodings.aliases",
]

# Files of included packages that are not needed at run time.
_SKIP_SUFFIXES = (".pyx", ".pxd", ".pxi", ".c", ".h", ".cpp", ".html", ".pyc", ".pyo")


@dataclass
class Payload:
    """What the appliance runs, and how to find what it needs.

    ``entry`` is ``module:function``; /init calls ``function(argv)`` in its
    own process. In ``argv``, ``{config}`` becomes the config's path in the
    guest and ``{control}`` the path of the Unix socket the control bridge
    connects to. ``trace_args`` are arguments to the host interpreter that
    import everything the payload will import in the guest.
    """

    entry: str
    argv: list[str]
    trace_args: list[str]
    # NAME=VALUE words /init appends to argv (after merging those given at boot)
    defines: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    # subpackages/modules of ``packages`` the guest never runs (build tools,
    # test helpers): neither imported by the walk nor shipped
    exclude: list[str] = field(default_factory=list)
    # packages whose subpackages ship only if ``trace_args`` imports them
    # (clickpy.elements: only the element groups the config uses)
    traced_only: list[str] = field(default_factory=list)
    # module -> the stdlib modules it imports lazily off the payload's run
    # path: not packaged for that module's sake (another may still need them)
    lazy_ignore: dict[str, list[str]] = field(default_factory=dict)
    modules: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # guest path -> host path
    trace_env: dict[str, str] | None = None
    trace_cwd: str | None = None


@dataclass
class BuildOptions:
    python: str = sys.executable
    # "auto": the fastest to unpack of gzip, zstd (when the zstd program is
    # there) and xz that fits ``budget`` bytes, else xz.
    # "mixed": gzip, with xz for as few files as fit the budget (_pack_auto;
    # measured with the runtime: 25 of 133 files, 11 of 14 MB, went to xz,
    # so it saved little decoding time for 0.7 MB more than xz).
    # Measured under TCG, router.click's 16 MB initramfs: gzip 6.07 MB and
    # ~0.6 s to unpack, zstd 4.67 MB and ~0.8 s, xz 4.16 MB and ~2 s.
    compression: str = "auto"
    budget: int | None = None
    # 0, 1 (no asserts) or 2 (no docstrings either): 2 makes router.click's
    # image 0.08 MB smaller (zstd); nothing on the run path reads a docstring
    optimize: int = 2
    strip: bool = True


@dataclass
class Item:
    """A planned file: guest path, where its bytes come from, how to treat it."""

    guest: str
    host: str
    kind: str  # "py" (compile), "elf" (strip), "file" (copy), "data" (bytes)
    data: bytes = b""
    perm: int = 0o644


@dataclass
class Image:
    entries: list[cpio.Entry]
    raw_size: int
    compressed: bytes
    report: str
    compression: str
    left_out: list[str] = field(default_factory=list)  # subpackages not shipped


class BuildError(RuntimeError):
    pass


def _module_relpath(name: str, file: str, is_package: bool) -> str:
    """Path of a module's file relative to its sys.path entry."""
    parts = name.split(".")
    dirs = parts if is_package else parts[:-1]
    return "/".join(dirs + [os.path.basename(file)])


class Planner:
    def __init__(self, trace: Trace, opts: BuildOptions):
        self.trace = trace
        self.opts = opts
        ver = "python%d.%d" % tuple(trace.version)
        self.guest_stdlib = "/usr/lib/" + ver
        self.guest_dynload = self.guest_stdlib + "/lib-dynload"
        self.guest_site = self.guest_stdlib + "/site-packages"
        self.items: dict[str, Item] = {}
        self.host_stdlib = os.path.realpath(trace.stdlib)
        self.host_platstdlib = os.path.realpath(trace.platstdlib)

    def add(self, item: Item) -> None:
        self.items.setdefault(item.guest, item)

    def _root_for(self, host_file: str) -> str:
        real = os.path.realpath(host_file)
        for std in (self.host_stdlib, self.host_platstdlib):
            if real.startswith(std + os.sep):
                rest = real[len(std) + 1:]
                if rest.startswith("lib-dynload" + os.sep):
                    return self.guest_dynload
                if rest.startswith("site-packages" + os.sep):
                    return self.guest_site
                return self.guest_stdlib
        return self.guest_site

    def add_module(self, name: str, file: str, is_package: bool) -> None:
        if not file or not os.path.isfile(file):
            return
        root = self._root_for(file)
        if root == self.guest_dynload:
            self.add(Item(root + "/" + os.path.basename(file), file, "elf", perm=0o755))
            return
        stem = os.path.basename(file).split(".")[0]
        if not is_package and stem != name.rsplit(".", 1)[-1]:
            return  # an alias (os.path -> posixpath, _frozen_importlib...)
        rel = _module_relpath(name, file, is_package)
        if file.endswith(".py"):
            self.add(Item(root + "/" + rel[:-3] + ".pyc", file, "py"))
        elif is_elf(file):
            self.add(Item(root + "/" + rel, file, "elf", perm=0o755))
        else:
            self.add(Item(root + "/" + rel, file, "file"))

    def add_package_tree(self, pkg_dir: str, pkg_name: str, root: str, exclude: list[str]) -> None:
        """Every module and data file of a package (for lazily imported parts),
        but for the modules and subpackages named in exclude."""
        base = Path(pkg_dir)
        for path in sorted(base.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            if path.name.endswith(_SKIP_SUFFIXES):
                continue
            rel = pkg_name.replace(".", "/") + "/" + path.relative_to(base).as_posix()
            module = rel.split(".", 1)[0].replace("/", ".")
            if any(module == x or module.startswith(x + ".") for x in exclude):
                continue
            if path.suffix == ".py":
                self.add(Item(root + "/" + rel[:-3] + ".pyc", str(path), "py"))
            elif is_elf(str(path)):
                self.add(Item(root + "/" + rel, str(path), "elf", perm=0o755))
            else:
                self.add(Item(root + "/" + rel, str(path), "file"))

    def add_shared_libraries(self) -> None:
        elves = [it.host for it in self.items.values() if it.kind == "elf"]
        # ldd names libraries as the loader looks them up (their soname);
        # /proc/self/maps adds those opened with dlopen, by their real path
        libs = ldd_closure(elves)
        for m in self.trace.maps:
            base = os.path.basename(m)
            if ".so" in base and "lib-dynload" not in m:
                libs.append(m)
        planned = {os.path.realpath(it.host) for it in self.items.values()}
        for lib in libs:
            real = os.path.realpath(lib)
            if real in planned:
                continue  # already there (an extension module, or by soname)
            planned.add(real)
            base = os.path.basename(lib)
            if base.startswith("ld-linux"):
                self.add(Item(lib, lib, "elf", perm=0o755))  # PT_INTERP: fixed path
            elif os.path.exists(lib):
                self.add(Item(GUEST_LIBDIR + "/" + base, lib, "elf", perm=0o755))


# The interpreter has these modules frozen in (importlib's bootstrap, os,
# codecs, io, site, ...: Python 3.11 loads them from its own image, never from
# their files), so their .pyc would only take room (~0.37 MB unpacked). But
# os: Python's start-up finds the standard library by looking for os.py[c].
_PATH_LANDMARKS = {"os"}


def _frozen(name: str, mod: dict) -> bool:
    return mod.get("origin") == "frozen" and name not in _PATH_LANDMARKS


def _compile_all(python: str, jobs: list[tuple[str, str, str]], optimize: int) -> None:
    """Byte-compile (src, dst, guest_name) with the interpreter being packaged."""
    if not jobs:
        return
    script = (
        "import json, py_compile, sys\n"
        "jobs, opt = json.load(sys.stdin)\n"
        "for src, dst, dfile in jobs:\n"
        "    py_compile.compile(src, cfile=dst, dfile=dfile, doraise=True, optimize=opt,\n"
        "        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n"
    )
    proc = subprocess.run([python, "-S", "-c", script], input=json.dumps([jobs, optimize]),
                          text=True, capture_output=True)
    if proc.returncode != 0:
        raise BuildError("byte-compiling failed:\n" + proc.stderr[-3000:])


def _strip(src: str, dst: str) -> None:
    strip = shutil.which("strip")
    if strip:
        proc = subprocess.run([strip, "--strip-unneeded", "-o", dst, src],
                              capture_output=True)
        if proc.returncode == 0:
            return
    shutil.copyfile(src, dst)


def _dirs_of(paths: list[str]) -> list[str]:
    dirs: set[str] = set()
    for p in paths:
        d = os.path.dirname(p)
        while d and d != "/":
            dirs.add(d)
            d = os.path.dirname(d)
    return sorted(dirs)


def size_report(entries: list[cpio.Entry], compressed: int, top: int = 15) -> str:
    files = [e for e in entries if stat.S_ISREG(e.mode)]
    total = sum(e.size for e in files)
    groups: dict[str, int] = defaultdict(int)
    for e in files:
        p = e.path
        if "/site-packages/" in p:
            key = "/".join(p.split("/")[:6])  # .../site-packages/<pkg>
        elif "/lib-dynload/" in p:
            key = p.rsplit("/", 1)[0]
        elif p.startswith("/usr/lib/python"):
            parts = p.split("/")
            key = "/".join(parts[:5]) if len(parts) > 5 else "/".join(parts[:4]) + "/*.pyc"
        else:
            key = os.path.dirname(p) or "/"
        groups[key] += e.size
    lines = [
        f"initramfs: {len(files)} files, {total / 1e6:.2f} MB uncompressed, "
        f"{compressed / 1e6:.2f} MB compressed ({compressed / max(total, 1):.0%})",
        "by directory (uncompressed):",
    ]
    for key, size in sorted(groups.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {size / 1e3:9.1f} kB  {key}")
    lines.append("largest files (uncompressed):")
    for e in sorted(files, key=lambda e: -e.size)[:top]:
        lines.append(f"  {e.size / 1e3:9.1f} kB  {e.path}")
    return "\n".join(lines)


# OpenSSL's libcrypto (4.7 MB) would be the largest file of an image, there
# only for hashlib (IPSummaryDump's payload_md5). Without _hashlib, hashlib
# falls back to CPython's own hash modules, which are small.
_OPENSSL_MODULES = ("_hashlib", "_ssl")
_OPENSSL_LIBS = ("libcrypto.so", "libssl.so")
_BUILTIN_HASHES = ["_md5", "_sha1", "_sha256", "_sha512", "_blake2", "_sha3"]


def _without_openssl(trace: Trace, opts: BuildOptions) -> None:
    if not any(m in trace.modules for m in _OPENSSL_MODULES):
        return
    for m in _OPENSSL_MODULES:
        trace.modules.pop(m, None)
    trace.maps = [m for m in trace.maps if not os.path.basename(m).startswith(_OPENSSL_LIBS)]
    probe = "import importlib\nfor n in %r:\n    try:\n        importlib.import_module(n)\n" \
            "    except ImportError:\n        pass\n" % (_BUILTIN_HASHES,)
    hashes = trace_imports(opts.python, ["-c", probe])
    for name in _BUILTIN_HASHES:
        if name in hashes.modules:
            trace.modules.setdefault(name, hashes.modules[name])


# Imports every module of whole packages (element modules a later config may
# use) but the excluded ones, walking the directories itself: pkgutil's walk
# would import inspect (and ast, dis, tokenize, ...) and count them, and it
# imports a subpackage to look inside even when the subpackage is excluded.
_WALK = r"""
import importlib, os, sys
from importlib.machinery import EXTENSION_SUFFIXES
tops = [a for a in sys.argv[1:] if not a.startswith('!')]
skip = tuple(a[1:] for a in sys.argv[1:] if a.startswith('!'))
def skipped(name):
    return any(name == s or name.startswith(s + '.') for s in skip)
def load(name):
    try:
        importlib.import_module(name)
    except BaseException:
        pass
for top in tops:
    pkg = importlib.import_module(top)
    for base in pkg.__path__:
        for d, subdirs, files in os.walk(base, followlinks=True):
            rel = os.path.relpath(d, base)
            prefix = top if rel == '.' else top + '.' + rel.replace(os.sep, '.')
            if skipped(prefix) or '__init__.py' not in files:
                subdirs[:] = []
                continue
            subdirs[:] = sorted(x for x in subdirs if x != '__pycache__')
            load(prefix)
            for f in sorted(files):
                stem = f[:-3] if f.endswith('.py') else next(
                    (f[:-len(x)] for x in EXTENSION_SUFFIXES if f.endswith(x)), None)
                # __main__ runs a program when imported
                if stem and stem not in ('__init__', '__main__') and '.' not in stem:
                    if not skipped(prefix + '.' + stem):
                        load(prefix + '.' + stem)
"""


def unused_subpackages(trace: Trace, packages: list[str]) -> list[str]:
    """Subpackages of ``packages`` (e.g. clickpy.elements: its element groups)
    that the trace did not import, sorted."""
    out = []
    for pkg in packages:
        mod = trace.modules.get(pkg)
        if not mod or not mod.get("file") or not mod.get("package"):
            continue  # nothing of it imported: every subpackage is unused
        base = os.path.dirname(mod["file"])
        for name in sorted(os.listdir(base)):
            if os.path.isfile(os.path.join(base, name, "__init__.py")):
                sub = pkg + "." + name
                if sub not in trace.modules:
                    out.append(sub)
    return out


def trace_payload(payload: Payload, opts: BuildOptions) -> tuple[Trace, list[str]]:
    """What the payload needs, and the modules of its packages left out (its
    ``exclude`` and the subpackages of ``traced_only`` it does not use)."""
    init_args = ["-c", "import " + ", ".join(INIT_MODULES + payload.modules)]
    trace = trace_imports(opts.python, init_args)
    trace.merge(trace_imports(opts.python, payload.trace_args, env=payload.trace_env,
                              cwd=payload.trace_cwd))
    exclude = list(payload.exclude)
    if payload.traced_only:
        exclude += [x for x in unused_subpackages(trace, payload.traced_only)
                    if not _is_excluded(x, exclude)]
    if payload.packages:
        # Third-party modules come only from the payload's own trace: a
        # module that imports numpy at the top must not pull it into every image.
        whole = trace_imports(opts.python, ["-c", _WALK, *payload.packages,
                                            *("!" + x for x in exclude)],
                              env=payload.trace_env, cwd=payload.trace_cwd)
        # Imports inside functions (lazy, e.g. fnmatch when a handler glob is
        # matched) run neither in the payload's trace nor in the walk: scan
        # the sources of the modules shipped for import statements and
        # import the stdlib ones found, with their dependencies.
        lazy = _scan_imports(whole, payload.packages, exclude, payload.lazy_ignore)
        if lazy:
            imp = (
                "import importlib, sys\n"
                "for n in sys.argv[1:]:\n"
                "    if n.split('.')[0] in sys.stdlib_module_names:\n"
                "        try:\n"
                "            importlib.import_module(n)\n"
                "        except BaseException:\n"
                "            pass\n"
            )
            whole.merge(trace_imports(opts.python, ["-c", imp, *sorted(lazy)],
                                      env=payload.trace_env, cwd=payload.trace_cwd))
        std = (os.path.realpath(whole.stdlib), os.path.realpath(whole.platstdlib))
        for name, mod in whole.modules.items():
            f = mod.get("file")
            real = os.path.realpath(f) if f else ""
            in_std = any(real.startswith(d + os.sep) for d in std) and "site-packages" not in real
            if name.split(".")[0] in payload.packages or in_std or not f:
                trace.modules.setdefault(name, mod)
    _without_openssl(trace, opts)
    return trace, exclude


_IMPORT_RE = re.compile(
    r"^[ \t]*(?:from[ \t]+([A-Za-z_][\w.]*)[ \t]+c?import\b|c?import[ \t]+([\w., \t]+))",
    re.MULTILINE,
)


def _is_excluded(name: str, exclude: list[str]) -> bool:
    return any(name == x or name.startswith(x + ".") for x in exclude)


def _scan_imports(trace: Trace, packages: list[str], exclude: list[str],
                  ignore: dict[str, list[str]] | None = None) -> set[str]:
    """Absolute module names named in import statements of the sources of the
    packages' traced modules (a Cython module's .pyx and the .pxi files beside
    it), but those ``ignore`` lists for the module."""
    sources: dict[str, str] = {}  # source file -> module
    for name, mod in trace.modules.items():
        f = mod.get("file")
        if not f or name.split(".")[0] not in packages or _is_excluded(name, exclude):
            continue
        if f.endswith(".py"):
            sources[f] = name
            continue
        d = os.path.dirname(f)
        stem = os.path.basename(f).split(".")[0]
        sources[os.path.join(d, stem + ".pyx")] = name
        for fn in os.listdir(d):
            if fn.endswith(".pxi"):
                sources[os.path.join(d, fn)] = name
    names: set[str] = set()
    for path, module in sources.items():
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        found: set[str] = set()
        for m in _IMPORT_RE.finditer(text):
            if m.group(1):
                found.add(m.group(1))
            else:
                for part in m.group(2).split(","):
                    word = part.strip().split()
                    if word:
                        found.add(word[0])
        names |= found - set((ignore or {}).get(module, ()))
    return {n for n in names if n and not n.startswith(".")}


def build_initramfs(
    payload: Payload,
    config: bytes | None = None,
    opts: BuildOptions | None = None,
    extra_settings: dict | None = None,
) -> Image:
    opts = opts or BuildOptions()
    trace, exclude = trace_payload(payload, opts)
    plan = Planner(trace, opts)

    for name, mod in sorted(trace.modules.items()):
        if mod.get("file") and not _is_excluded(name, exclude) and not _frozen(name, mod):
            plan.add_module(name, mod["file"], bool(mod.get("package")))
    for pkg in payload.packages:
        mod = trace.modules.get(pkg)
        if not mod or not mod.get("file") or not mod.get("package"):
            raise BuildError(f"package {pkg!r} not found by {opts.python}")
        pkg_dir = os.path.dirname(mod["file"])
        plan.add_package_tree(pkg_dir, pkg, plan._root_for(mod["file"]), exclude)

    exe = os.path.realpath(trace.executable)
    plan.add(Item(GUEST_PYTHON, exe, "elf", perm=0o755))
    plan.add_shared_libraries()
    # getpath's landmark for exec_prefix: lib-dynload must exist
    for guest, host in payload.files.items():
        plan.add(Item(guest, host, "file", perm=0o755 if os.access(host, os.X_OK) else 0o644))

    settings = {
        "entry": payload.entry,
        "argv": payload.argv,
        "defines": payload.defines,
        "site_packages": plan.guest_site,
        "python": "%d.%d" % tuple(trace.version),
    }
    settings.update(extra_settings or {})
    init_text = INIT_SOURCE.read_bytes()

    entries: list[cpio.Entry] = []
    with tempfile.TemporaryDirectory(prefix="clickpy-initramfs-") as tmp:
        compile_jobs = []
        staged: dict[str, str] = {}
        for i, item in enumerate(sorted(plan.items.values(), key=lambda it: it.guest)):
            dst = os.path.join(tmp, str(i))
            if item.kind == "py":
                compile_jobs.append((item.host, dst, item.guest[:-1]))
            elif item.kind == "elf" and opts.strip:
                _strip(item.host, dst)
            else:
                shutil.copyfile(item.host, dst)
            staged[item.guest] = dst
        _compile_all(opts.python, compile_jobs, opts.optimize)

        guest_files = list(staged) + ["/init", "/etc/clickpy/appliance.conf"]
        if config is not None:
            guest_files.append("/etc/clickpy/config.click")
        dirs = set(_dirs_of(guest_files)) | {
            "/proc", "/sys", "/dev", "/run", "/tmp", "/etc", "/etc/clickpy",
            "/bin", "/usr/bin", plan.guest_dynload, plan.guest_site,
        }
        for d in sorted(dirs):
            entries.append(cpio.directory(d, 0o1777 if d == "/tmp" else 0o755))
        entries.append(cpio.chardev("/dev/console", 5, 1))
        entries.append(cpio.chardev("/dev/null", 1, 3, 0o666))
        # Python reads /dev/urandom at start-up when getrandom() would block
        # and PYTHONHASHSEED is unset (any VMM but ours), before /init mounts /dev
        entries.append(cpio.chardev("/dev/urandom", 1, 9, 0o666))
        entries.append(cpio.chardev("/dev/random", 1, 8, 0o666))
        for guest in sorted(staged):
            item = plan.items[guest]
            entries.append(cpio.regular(guest, Path(staged[guest]).read_bytes(),
                                        item.perm, origin=item.host))
    pyver = "%d.%d" % tuple(trace.version)
    entries.append(cpio.symlink("/usr/bin/python" + pyver, "python3"))
    entries.append(cpio.symlink("/bin/python3", GUEST_PYTHON))
    entries.append(cpio.regular("/init", init_text, 0o755, origin=str(INIT_SOURCE)))
    entries.append(cpio.regular("/etc/clickpy/appliance.conf",
                                (pprint.pformat(settings) + "\n").encode()))
    if config is not None:
        entries.append(cpio.regular("/etc/clickpy/config.click", config))

    raw = cpio.newc_bytes(entries)
    method = opts.compression
    if method == "auto":
        packed, method = _pack_fastest(raw, opts.budget)
    elif method == "mixed":
        packed, method = _pack_auto(entries, raw, opts.budget, force_mixed=True)
    else:
        try:
            packed = cpio.compress(raw, method)
        except ValueError as e:
            raise BuildError(str(e)) from None
    report = size_report(entries, len(packed)) + f"\ncompression: {method}"
    unused = [x for x in exclude if x not in payload.exclude]
    if unused:
        report += "\nleft out (not used by the config): " + ", ".join(unused)
    return Image(entries, len(raw), packed, report, method, unused)


def _pack_fastest(raw: bytes, budget: int | None) -> tuple[bytes, str]:
    """The archive compressed with the fastest to unpack of gzip, zstd and xz
    that fits ``budget``, else xz. zstd and xz run at once (each ~10 s for
    router.click's 16 MB; lzma and the zstd program leave the GIL)."""
    gz = cpio.compress(raw, "gzip")
    if budget is None or len(gz) <= budget:
        return gz, "gzip"
    if not cpio.have_zstd():
        return cpio.compress(raw, "xz"), "xz"
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        zst = pool.submit(cpio.compress, raw, "zstd")
        xz = pool.submit(cpio.compress, raw, "xz")
        if len(zst.result()) <= budget:
            return zst.result(), "zstd"
        return xz.result(), "xz"


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _pack_auto(entries: list[cpio.Entry], raw: bytes, budget: int | None,
               force_mixed: bool = False) -> tuple[bytes, str]:
    """gzip if it fits the budget; else two concatenated archives, the files
    that xz shrinks most (per byte to decode) in an xz one and the rest in a
    gzip one, adding files to the xz part until it fits; else all xz.

    Under TCG the kernel decodes gzip ~3x faster than xz, so this spends xz's
    decoding time only where it is needed to meet the size goal."""
    gz = cpio.compress(raw, "gzip")
    if budget is None or (len(gz) <= budget and not force_mixed):
        return gz, "gzip"
    files = [e for e in entries if stat.S_ISREG(e.mode) and e.size > 4096]
    gain = {}
    for e in files:  # per-file estimate of what xz saves over gzip
        gain[e.path] = len(cpio.compress(e.data, "gzip")) - len(cpio.compress(e.data, "xz"))
    order = sorted(files, key=lambda e: -gain[e.path] / max(e.size, 1))
    need = len(gz) - budget
    chosen: set[str] = set()
    saved = 0
    best: tuple[bytes, str] | None = None
    for e in order:
        chosen.add(e.path)
        saved += gain[e.path]
        if saved < need * 1.05 and len(chosen) < len(order):
            continue
        # the gzip part comes first: it makes the directories the xz part's
        # files go into (the kernel does not create parents)
        first = [x for x in entries if x.path not in chosen]
        second = [x for x in entries if x.path in chosen]
        packed = _pad4(cpio.compress(cpio.newc_bytes(first), "gzip")) + \
            cpio.compress(cpio.newc_bytes(second), "xz")
        best = (packed, f"mixed (xz for {len(second)} files, "
                        f"{sum(x.size for x in second) / 1e6:.1f} MB; gzip for the rest)")
        if len(packed) <= budget:
            return best
        need += len(packed) - budget  # the estimate was short: go on
    xz = cpio.compress(raw, "xz")
    return xz, "xz"


def config_overlay(config: bytes, compression: str = "none") -> bytes:
    """A second initramfs that only carries a config: append it to the first
    (the kernel unpacks concatenated archives in order, later files win)."""
    entries = [
        cpio.directory("/etc"), cpio.directory("/etc/clickpy"),
        cpio.regular("/etc/clickpy/config.click", config),
    ]
    return cpio.compress(cpio.newc_bytes(entries), compression)
