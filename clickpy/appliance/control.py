"""The host end of the appliance's control channel.

QEMU exposes the guest's virtio-serial port ``org.clickpy.control`` as a Unix
socket (``<control>.qemu``). A serial port is one byte stream and cannot
tell the guest reliably when a client connects or leaves (a quick close and
reconnect is invisible), so the host never hands that socket to clients:
``ControlRelay`` holds it open for the VM's life, listens on the public
socket (``--control``, default ``DIR/control.sock``, mode 0600), and
multiplexes its clients over the port in frames::

    struct "!BHH": type, channel, length; then `length` bytes
    type 1 OPEN   host -> guest: a client connected on `channel`
    type 2 DATA   both ways: bytes of that client's stream
    type 3 CLOSE  both ways: that client's stream ended

In the guest, /init's bridge (init.py) connects each channel to the router's
Unix ControlSocket (/run/clickpy/control.sock) and relays it. So any number
of ControlSocket clients (`clickpy handler`, `clickpy top`, Click's tools)
talk to the router in the VM as to a local one.
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import threading
import time
from pathlib import Path

F_OPEN, F_DATA, F_CLOSE = 1, 2, 3
HDR = struct.Struct("!BHH")
MAX_DATA = 65535


def frame(kind: int, ch: int, data: bytes = b"") -> bytes:
    return HDR.pack(kind, ch, len(data)) + data


def parse(buf: bytearray) -> list[tuple[int, int, bytes]]:
    """Complete frames at the head of ``buf`` (consumed from it)."""
    out = []
    while len(buf) >= HDR.size:
        kind, ch, n = HDR.unpack_from(buf)
        if len(buf) < HDR.size + n:
            break
        out.append((kind, ch, bytes(buf[HDR.size:HDR.size + n])))
        del buf[:HDR.size + n]
    return out


def qemu_socket_path(public: Path) -> Path:
    return public.with_name(public.name + ".qemu")


class ControlRelay(threading.Thread):
    """Accept clients on ``public``; multiplex them over QEMU's ``port`` socket."""

    def __init__(self, public: Path, port: Path, connect_timeout: float = 30.0):
        super().__init__(name="clickpy-appliance-control", daemon=True)
        self.public = public
        self.port_path = port
        self.connect_timeout = connect_timeout
        self._stop_r, self._stop_w = os.pipe()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            public.unlink()
        except FileNotFoundError:
            pass
        old = os.umask(0o177)
        try:
            self.listener.bind(str(public))
        finally:
            os.umask(old)
        self.listener.listen(16)
        self.error: BaseException | None = None

    def _connect_port(self) -> socket.socket:
        deadline = time.monotonic() + self.connect_timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(self.port_path))
                return s
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:  # reported by stop()
            self.error = e
        finally:
            self.listener.close()
            try:
                self.public.unlink()
            except FileNotFoundError:
                pass

    def _run(self) -> None:
        port = self._connect_port()
        sel = selectors.DefaultSelector()
        sel.register(self._stop_r, selectors.EVENT_READ, "stop")
        sel.register(self.listener, selectors.EVENT_READ, "listen")
        sel.register(port, selectors.EVENT_READ, "port")
        clients: dict[int, socket.socket] = {}
        next_ch = 1
        buf = bytearray()

        def drop(ch: int, tell_guest: bool) -> None:
            c = clients.pop(ch, None)
            if c is not None:
                sel.unregister(c)
                c.close()
                if tell_guest:
                    port.sendall(frame(F_CLOSE, ch))

        while True:
            for key, _ in sel.select():
                what = key.data
                if what == "stop":
                    for ch in list(clients):
                        drop(ch, True)
                    port.close()
                    return
                if what == "listen":
                    c, _ = self.listener.accept()
                    ch = next_ch
                    next_ch = next_ch % 65535 + 1
                    clients[ch] = c
                    sel.register(c, selectors.EVENT_READ, ch)
                    port.sendall(frame(F_OPEN, ch))
                elif what == "port":
                    data = port.recv(65536)
                    if not data:  # QEMU went away
                        for ch in list(clients):
                            drop(ch, False)
                        return
                    buf += data
                    for kind, ch, payload in parse(buf):
                        c = clients.get(ch)
                        if c is None:
                            continue
                        if kind == F_DATA:
                            try:
                                c.sendall(payload)
                            except OSError:
                                drop(ch, True)
                        elif kind == F_CLOSE:
                            drop(ch, False)
                else:
                    ch = what
                    try:
                        data = key.fileobj.recv(MAX_DATA)  # type: ignore[union-attr]
                    except OSError:
                        data = b""
                    if data:
                        port.sendall(frame(F_DATA, ch, data))
                    else:
                        drop(ch, True)

    def stop(self, timeout: float = 5.0) -> None:
        try:
            os.write(self._stop_w, b"x")
        except OSError:
            pass
        if self.is_alive():
            self.join(timeout)
        for fd in (self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass
