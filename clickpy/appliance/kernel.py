"""Build (once) and cache the appliance's small Linux kernel.

The kernel is built from Debian's ``linux-source`` package (a tarball under
``/usr/src``) as ``make allnoconfig KCONFIG_ALLCONFIG=kernel.config``: every
option is off except those in the fragment kept beside this file. The result
is cached under ``<cache>/kernel-<key>/bzImage`` where the key hashes the
fragment and the source package's version, so tests and repeated builds reuse
it (a build takes a few minutes on 2 cores).

``CLICKPY_KERNEL=/path/to/bzImage`` skips all of this and uses that image.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

FRAGMENT = Path(__file__).with_name("kernel.config")
SOURCE_GLOB = "/usr/src/linux-source-*.tar.xz"


class KernelError(RuntimeError):
    """The kernel cannot be built here (no source, missing tools, build error)."""


def cache_root() -> Path:
    """Where clickpy keeps built kernels: $CLICKPY_CACHE, else XDG cache."""
    env = os.environ.get("CLICKPY_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "clickpy"


@dataclass(frozen=True)
class KernelSource:
    tarball: Path
    version: str  # Debian package version, e.g. "6.1.192-2"

    @property
    def name(self) -> str:
        # linux-source-6.1.tar.xz -> linux-source-6.1
        return self.tarball.name.split(".tar")[0]


def _version_key(path: str) -> tuple[int, ...]:
    m = re.search(r"linux-source-([\d.]+)\.tar", path)
    return tuple(int(x) for x in m.group(1).split(".") if x) if m else ()


def find_source() -> KernelSource:
    """The newest Debian ``linux-source-X.Y`` tarball installed on this host."""
    tarballs = sorted(glob.glob(SOURCE_GLOB), key=_version_key)
    if not tarballs:
        raise KernelError(
            "no kernel source: install Debian's linux-source package "
            "(scripts/install-deps.sh appliance)"
        )
    tarball = Path(tarballs[-1])
    pkg = tarball.name.split(".tar")[0]
    try:
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", pkg],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        st = tarball.stat()
        version = f"size{st.st_size}-mtime{int(st.st_mtime)}"
    return KernelSource(tarball, version)


def kernel_key(fragment: bytes, source: KernelSource) -> str:
    h = hashlib.sha256()
    h.update(fragment)
    h.update(b"\0" + source.name.encode() + b"\0" + source.version.encode())
    return h.hexdigest()[:16]


def _lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _extract_source(source: KernelSource, root: Path, log: Callable[[str], None]) -> Path:
    """Unpack the source tarball once into ``root/src/<name>-<version>``."""
    dest = root / "src" / f"{source.name}-{source.version}"
    if (dest / ".clickpy-extracted").exists():
        return dest
    fd = _lock(root / "src" / f"{dest.name}.lock")
    try:
        if (dest / ".clickpy-extracted").exists():
            return dest
        tmp = root / "src" / f"{dest.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.mkdir(parents=True)
        log(f"kernel: extracting {source.tarball} ...")
        subprocess.run(["tar", "-xf", str(source.tarball), "-C", str(tmp)], check=True)
        (tmp / source.name).rename(dest)
        tmp.rmdir()
        (dest / ".clickpy-extracted").write_text(source.version + "\n")
        return dest
    finally:
        _unlock(fd)


def _fragment_options(text: str) -> dict[str, str]:
    opts: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
        if m:
            opts[m.group(1)] = m.group(2)
        m = re.match(r"^# (CONFIG_\w+) is not set$", line)
        if m:
            opts[m.group(1)] = "n"
    return opts


def check_config(config_text: str, fragment_text: str) -> list[str]:
    """Fragment options that did not survive into the final .config."""
    final = _fragment_options(config_text)
    missing = []
    for key, want in _fragment_options(fragment_text).items():
        got = final.get(key, "n")
        if got != want:
            missing.append(f"{key}={want} (got {got})")
    return missing


def _default_log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_kernel(
    fragment: Path = FRAGMENT,
    jobs: int | None = None,
    log: Callable[[str], None] = _default_log,
    build_log: TextIO | None = None,
) -> Path:
    """Return the path of a bzImage built with ``fragment``; build it if needed."""
    override = os.environ.get("CLICKPY_KERNEL")
    if override:
        if not Path(override).is_file():
            raise KernelError(f"CLICKPY_KERNEL={override}: no such file")
        return Path(override)

    fragment_text = fragment.read_text()
    source = find_source()
    root = cache_root()
    key = kernel_key(fragment_text.encode(), source)
    outdir = root / f"kernel-{key}"
    image = outdir / "bzImage"
    if image.exists():
        return image

    for tool in ("make", "gcc", "bison", "flex", "bc"):
        if shutil.which(tool) is None:
            raise KernelError(
                f"kernel build needs {tool!r}: run scripts/install-deps.sh appliance"
            )

    srcdir = _extract_source(source, root, log)
    fd = _lock(root / f"kernel-{key}.lock")
    try:
        if image.exists():
            return image
        objdir = root / f"kernel-{key}.build"
        objdir.mkdir(parents=True, exist_ok=True)
        jobs = jobs or os.cpu_count() or 1
        out = build_log if build_log is not None else subprocess.DEVNULL
        t0 = time.monotonic()
        log(f"kernel: building {source.name} ({source.version}) into {outdir} ...")
        make = ["make", "-C", str(srcdir), f"O={objdir}", "ARCH=x86_64"]
        try:
            subprocess.run(
                make + [f"KCONFIG_ALLCONFIG={fragment.resolve()}", "allnoconfig"],
                check=True, stdout=out, stderr=subprocess.STDOUT,
            )
            missing = check_config((objdir / ".config").read_text(), fragment_text)
            if missing:
                raise KernelError(
                    "kernel config fragment options not satisfied: " + ", ".join(missing)
                )
            subprocess.run(
                make + [f"-j{jobs}", "bzImage"],
                check=True, stdout=out, stderr=subprocess.STDOUT,
            )
        except subprocess.CalledProcessError as exc:
            raise KernelError(f"kernel build failed: {exc}; see the build log") from exc
        built = objdir / "arch" / "x86" / "boot" / "bzImage"
        tmpdir = root / f"kernel-{key}.tmp"
        shutil.rmtree(tmpdir, ignore_errors=True)
        tmpdir.mkdir()
        shutil.copy2(built, tmpdir / "bzImage")
        shutil.copy2(objdir / ".config", tmpdir / "config")
        (tmpdir / "BUILD").write_text(
            f"source={source.tarball} version={source.version}\n"
            f"seconds={time.monotonic() - t0:.1f} jobs={jobs}\n"
        )
        shutil.rmtree(outdir, ignore_errors=True)
        tmpdir.rename(outdir)
        # the object tree (~100 MB) and the unpacked source (1.5 GB) are
        # kept only if asked, for quick rebuilds while editing the fragment
        if not os.environ.get("CLICKPY_KEEP_KERNEL_BUILD"):
            shutil.rmtree(objdir, ignore_errors=True)
            shutil.rmtree(srcdir, ignore_errors=True)
        log(f"kernel: built in {time.monotonic() - t0:.0f} s, "
            f"{image.stat().st_size / 1e6:.2f} MB")
        return image
    finally:
        _unlock(fd)


def kernel_supports(image_dir: Path, option: str) -> bool:
    """Whether the kernel config beside a bzImage (``config`` in the cache,
    ``kernel.config`` in an appliance directory) has ``option``=y."""
    config = image_dir / "config"
    if not config.exists():
        config = image_dir / "kernel.config"
    if not config.exists():
        return False
    return f"{option}=y" in config.read_text().splitlines()


if __name__ == "__main__":  # python -m clickpy.appliance.kernel
    print(build_kernel(build_log=sys.stderr))
