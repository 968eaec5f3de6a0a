"""TEST FIXTURE ONLY — not a clickpy feature.

A stand-in payload for the appliance's boot machinery until the clickpy
runtime exists: a tiny pure-Python AF_PACKET forwarder between two NICs
(eth0 <-> eth1), plus a stand-in for the ControlSocket on a Unix socket that
answers just enough of Click's ControlSocket protocol for the tests
(greeting, ``READ fwd.count``, ``READ fwd.first``, ``WRITE stop``, ``QUIT``).

/init calls ``main(argv)`` in its own process, as it will call
``clickpy.cli:main``.
"""

import os
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_IGNORE_OUTGOING = 23


SO_RCVBUFFORCE = 33


def open_tx(name):
    """A blocking send-only socket: a full device queue waits, never drops."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((name, 0))
    return s


def open_nic(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, ETH_P_ALL))
    try:  # room for bursts while Python catches up (TCG is slow)
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
    except OSError:
        pass
    ifindex = socket.if_nametoindex(name)
    s.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP,
                 struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b""))
    try:
        s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError:
        pass
    s.setblocking(False)
    return s


def uptime():
    with open("/proc/uptime") as fh:
        return float(fh.read().split()[0])


class Control:
    """Just enough of Click's ControlSocket protocol for the tests."""

    def __init__(self, path, handlers):
        self.handlers = handlers
        try:
            os.unlink(path)
        except OSError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(4)
        self.conns = {}  # fd -> (socket, buffer)
        self.stop = False

    def fds(self):
        return [self.listener.fileno()] + list(self.conns)

    def ready(self, fd):
        if fd == self.listener.fileno():
            c, _ = self.listener.accept()
            c.sendall(b"Click::ControlSocket/1.3\r\n")
            self.conns[c.fileno()] = [c, b""]
            return
        c, buf = self.conns[fd]
        data = c.recv(4096)
        if not data:
            del self.conns[fd]
            c.close()
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            words = line.decode(errors="replace").strip().split()
            if not words:
                continue
            cmd = words[0].upper()
            if cmd == "READ" and len(words) == 2 and words[1] in self.handlers:
                value = str(self.handlers[words[1]]()).encode()
                c.sendall(b"200 Read handler '%s' OK\r\nDATA %d\r\n" % (words[1].encode(), len(value)) + value)
            elif cmd == "WRITE" and len(words) >= 2 and words[1] == "stop":
                c.sendall(b"200 Write handler 'stop' OK\r\n")
                self.stop = True
            elif cmd == "QUIT":
                c.sendall(b"200 Goodbye!\r\n")
                del self.conns[fd]
                c.close()
                return
            else:
                c.sendall(b"501 Unimplemented\r\n")
        self.conns[fd][1] = buf


def main(argv):
    names = [a for a in argv if not a.startswith("--")] or ["eth0", "eth1"]
    control_path = config = None
    for a in argv:
        if a.startswith("--control="):
            control_path = a.split("=", 1)[1]
        if a.startswith("--config="):
            config = a.split("=", 1)[1]
    if config:
        with open(config) as fh:
            print("fwd: config: %s" % fh.readline().strip(), flush=True)
    present = set(os.listdir("/sys/class/net"))
    if not all(n in present for n in names[:2]):
        print("fwd: no %s: nothing to forward" % " and ".join(names[:2]), flush=True)
        return 3
    socks = [open_nic(n) for n in names[:2]]
    txs = [open_tx(n) for n in names[:2]]
    peer = {socks[0].fileno(): txs[1], socks[1].fileno(): txs[0]}
    count = [0]
    first = [None]
    handlers = {"fwd.count": lambda: count[0],
                "fwd.first": lambda: first[0] if first[0] is not None else -1}
    control = Control(control_path, handlers) if control_path else None
    print("fwd: forwarding %s <-> %s" % (names[0], names[1]), flush=True)
    ep = select.epoll()
    for s in socks:
        ep.register(s.fileno(), select.EPOLLIN)
    if control:
        ep.register(control.listener.fileno(), select.EPOLLIN)
    registered = set()
    while not (control and control.stop):
        if control:
            for fd in control.conns:
                if fd not in registered:
                    ep.register(fd, select.EPOLLIN)
                    registered.add(fd)
        for fd, _ev in ep.poll():
            if fd in peer:
                src = socks[0] if socks[0].fileno() == fd else socks[1]
                dst = peer[fd]
                for _ in range(64):
                    try:
                        frame = src.recv(65536)
                    except BlockingIOError:
                        break
                    try:
                        dst.send(frame)
                    except OSError:
                        continue
                    count[0] += 1
                    if first[0] is None:
                        first[0] = uptime()
                        print("fwd: first packet forwarded at %.3f s" % first[0], flush=True)
            elif control:
                if fd in registered and fd not in control.conns:
                    registered.discard(fd)
                    continue
                control.ready(fd)
                for gone in [f for f in registered if f not in control.conns]:
                    try:
                        ep.unregister(gone)
                    except (OSError, ValueError):
                        pass
                    registered.discard(gone)
    print("fwd: stopped after %d packets" % count[0], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
