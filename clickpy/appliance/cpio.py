"""A pure-Python writer for the Linux initramfs format: "newc" cpio, compressed.

No root is needed: device nodes (``/dev/console``) and ownership are written
into the archive, not made on the build host. Output is deterministic: the
same entries give the same bytes (mtime 0 unless given, inode numbers in
order).
"""

from __future__ import annotations

import gzip
import io
import lzma
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable

_TRAILER = "TRAILER!!!"


@dataclass
class Entry:
    """One archive member. ``path`` is absolute in the guest ("/usr/bin/x")."""

    path: str
    mode: int  # full st_mode: type bits | permission bits
    data: bytes = b""  # file contents, or the target of a symlink
    rdev: tuple[int, int] = (0, 0)  # (major, minor) for device nodes
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    origin: str = field(default="", compare=False)  # host file it came from (reports)

    @property
    def size(self) -> int:
        return len(self.data)


def directory(path: str, perm: int = 0o755) -> Entry:
    return Entry(path, stat.S_IFDIR | perm)


def regular(path: str, data: bytes, perm: int = 0o644, origin: str = "") -> Entry:
    return Entry(path, stat.S_IFREG | perm, data, origin=origin)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, stat.S_IFLNK | 0o777, target.encode())


def chardev(path: str, major: int, minor: int, perm: int = 0o600) -> Entry:
    return Entry(path, stat.S_IFCHR | perm, rdev=(major, minor))


def _pad4(n: int) -> bytes:
    return b"\0" * (-n % 4)


def write_newc(entries: Iterable[Entry], out: BinaryIO) -> int:
    """Write entries as a newc cpio archive (with trailer); return bytes written."""
    written = 0

    def member(ino: int, e: Entry, name: str) -> int:
        nlink = 2 if stat.S_ISDIR(e.mode) else 1
        name_b = name.encode() + b"\0"
        header = "070701" + "".join(
            f"{v:08X}"
            for v in (
                ino, e.mode, e.uid, e.gid, nlink, e.mtime, len(e.data),
                0, 0,  # dev major/minor of the archive's own file system
                e.rdev[0], e.rdev[1],
                len(name_b), 0,  # name size, checksum (unused by newc)
            )
        )
        chunk = header.encode() + name_b
        chunk += _pad4(len(chunk))
        out.write(chunk)
        out.write(e.data)
        out.write(_pad4(len(e.data)))
        return len(chunk) + len(e.data) + (-len(e.data) % 4)

    ino = 1
    for e in entries:
        name = e.path.lstrip("/") or "."
        written += member(ino, e, name)
        ino += 1
    written += member(0, Entry(_TRAILER, 0), _TRAILER)
    return written


def newc_bytes(entries: Iterable[Entry]) -> bytes:
    buf = io.BytesIO()
    write_newc(entries, buf)
    return buf.getvalue()


# The kernel's xz decoder (lib/xz) accepts only CRC32 or no integrity check,
# LZMA2, and the BCJ filter of its own architecture. Its dictionary is
# allocated at the size the stream declares, so cap it near the archive's
# size: a 64 MiB dictionary (xz -9) would not fit a 64 MB guest.
# The kernel allocates the xz dictionary whole while it unpacks the
# initramfs, beside the archive and the files unpacked so far: with a 16 MiB
# dictionary a 16 MB image could not unpack in a 64 MB VM. Beyond 8 MiB the
# image gets only ~4 kB smaller.
XZ_DICT_MAX = 8 << 20


def compress(data: bytes, method: str = "xz") -> bytes:
    if method == "xz":
        dict_size = 1 << max(20, (len(data) - 1).bit_length())
        dict_size = min(dict_size, XZ_DICT_MAX)
        filters = [
            {"id": lzma.FILTER_X86},
            {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME,
             "dict_size": dict_size},
        ]
        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                             filters=filters)
    if method == "gzip":
        return gzip.compress(data, compresslevel=9, mtime=0)
    if method == "zstd":
        # Python 3.11 has no zstd module: the zstd program. Level 19's
        # window (8 MiB) is what the kernel allocates to decode.
        exe = shutil.which("zstd")
        if exe is None:
            raise ValueError("zstd compression needs the zstd program (apt install zstd)")
        return subprocess.run([exe, "-q", "-19", "-c"], input=data, capture_output=True,
                              check=True).stdout
    if method == "none":
        return data
    raise ValueError(f"unknown compression {method!r} (xz, zstd, gzip, none)")


def have_zstd() -> bool:
    return shutil.which("zstd") is not None
