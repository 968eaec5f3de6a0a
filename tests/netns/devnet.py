"""Helpers for the end-to-end device tests: the testbed fixture, raw packet
sockets inside namespaces, Python test elements, and running a router while
real kernel stacks talk through it.

Every test makes its own namespaces (tests never touch the host's
interfaces) and removes them. Without root the tests skip, unless CI is set:
then they fail (see require_netns in tests/conftest.py).
"""
from __future__ import annotations

import os
import select
import socket
import sys
import time
from typing import Callable

import pytest

from clickpy import registry
from clickpy.element import PyElement
from clickpy.testbed import RouterTopology, Testbed, TestbedError

ETH_P_ALL = 0x0003
PYTHON = sys.executable


def _require_netns() -> None:
    from conftest import require_netns
    require_netns()


@pytest.fixture
def testbed():
    """A Testbed whose namespaces are removed after the test."""
    _require_netns()
    try:
        tb = Testbed()
    except TestbedError as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))
    try:
        yield tb
    finally:
        tb.close()


@pytest.fixture
def bridge(testbed):
    """Hosts A (10.0.0.1) and B (10.0.0.2) on one subnet, each linked by a veth
    pair to namespace R (a0, b0), where clickpy will pass frames between them."""
    tb = testbed
    a, b, r = tb.namespace("a"), tb.namespace("b"), tb.namespace("r")
    tb.veth(a, "eth0", r, "a0", "10.0.0.1/24")
    tb.veth(b, "eth0", r, "b0", "10.0.0.2/24")
    return tb, a, b, r


@pytest.fixture
def routed(testbed):
    """A — R — B with A and B on different subnets (RouterTopology)."""
    return RouterTopology(testbed)


def packet_socket(tb: Testbed, ns, ifname: str) -> socket.socket:
    """A non-blocking AF_PACKET socket bound to ifname inside ns."""
    with tb.inside(ns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((ifname, 0))
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    return s


def receive_frames(s: socket.socket, timeout: float = 1.0, want: int | None = None,
                   match: Callable[[bytes], bool] | None = None) -> list[bytes]:
    """Frames arriving on s (only incoming ones) until `want` matched or `timeout`."""
    frames: list[bytes] = []
    deadline = time.monotonic() + timeout
    while want is None or len(frames) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if not select.select([s], [], [], left)[0]:
            continue
        while True:
            try:
                data, addr = s.recvfrom(65536)
            except BlockingIOError:
                break
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            if match is None or match(data):
                frames.append(data)
    return frames


def run_while(router, condition: Callable[[], bool], timeout: float, step: float = 0.05) -> float:
    """Run the router in slices until condition() is false or timeout; returns the time taken."""
    t0 = time.monotonic()
    while condition() and time.monotonic() - t0 < timeout:
        router.run(timeout=step)
    return time.monotonic() - t0


def run_for(router, seconds: float) -> None:
    router.run(timeout=seconds)


class TestRecorder(PyElement):
    """TestRecorder: a sink that keeps every packet's bytes and annotations (tests only)."""

    port_count = "1/0"
    processing = "h/h"

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.annos: list[dict] = []

    def process_batch(self, batch):
        for i in range(len(batch)):
            self.frames.append(batch.bytes(i))
            self.annos.append(batch.annotations(i))
        return [-1] * len(batch)


class TestResponder(PyElement):
    """TestResponder(MAC, IP): answers ARP requests for IP and ICMP echo
    requests to IP in place (Ethernet frames), for the TAP tests; with RAW
    true it answers echo requests in bare IP packets (TUN). Other packets
    are dropped. Replies are built by scapy from the protocol."""

    port_count = "1/1"
    processing = "a/a"

    def configure(self, args):
        from clickpy.args import BOOL, ETHERADDR, IPADDR
        self.mac = ":".join(f"{b:02x}" for b in args.read_mp("MAC", ETHERADDR))
        self.ip = socket.inet_ntoa(args.read_mp("IP", IPADDR).to_bytes(4, "big"))
        self.raw = args.read("RAW", BOOL, False)
        self.answered = 0

    def process_batch(self, batch):
        from scapy.layers.inet import ICMP, IP
        from scapy.layers.l2 import ARP, Ether
        ports = []
        for i in range(len(batch)):
            data = batch.bytes(i)
            reply = None
            if self.raw:
                pkt = IP(data)
                if ICMP in pkt and pkt[ICMP].type == 8 and pkt[IP].dst == self.ip:
                    reply = bytes(IP(src=self.ip, dst=pkt[IP].src, id=pkt[IP].id)
                                  / ICMP(type=0, id=pkt[ICMP].id, seq=pkt[ICMP].seq) / bytes(pkt[ICMP].payload))
            else:
                pkt = Ether(data)
                if ARP in pkt and pkt[ARP].op == 1 and pkt[ARP].pdst == self.ip:
                    reply = bytes(Ether(src=self.mac, dst=pkt.src)
                                  / ARP(op=2, hwsrc=self.mac, psrc=self.ip, hwdst=pkt.src, pdst=pkt[ARP].psrc))
                elif ICMP in pkt and pkt[ICMP].type == 8 and pkt[IP].dst == self.ip:
                    reply = bytes(Ether(src=self.mac, dst=pkt.src)
                                  / IP(src=self.ip, dst=pkt[IP].src, id=pkt[IP].id)
                                  / ICMP(type=0, id=pkt[ICMP].id, seq=pkt[ICMP].seq) / bytes(pkt[ICMP].payload))
            view = batch.data(i)
            if reply is not None and len(reply) <= len(view):
                reply = reply + bytes(len(view) - len(reply))      # keep the packet's length
                view[:] = reply
                self.answered += 1
                ports.append(0)
            else:
                ports.append(-1)
        return ports


registry.register("TestRecorder", TestRecorder)
registry.register("TestResponder", TestResponder)


TCP_SERVER = r'''
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
h, n = hashlib.sha256(), 0
while True:
    d = c.recv(1 << 16)
    if not d:
        break
    h.update(d)
    n += len(d)
print(n, h.hexdigest(), flush=True)
'''

TCP_CLIENT = r'''
import socket, sys
data = bytes(range(256)) * (int(sys.argv[3]) // 256)
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.sendall(data)
s.close()
'''


def transfer_payload(nbytes: int) -> tuple[int, str]:
    import hashlib
    data = bytes(range(256)) * (nbytes // 256)
    return len(data), hashlib.sha256(data).hexdigest()


def tcp_transfer(tb: Testbed, router, client_ns, server_ns, server_ip: str, nbytes: int,
                 timeout: float = 40.0) -> tuple[int, str]:
    """A real TCP transfer from a client in client_ns to a server in
    server_ns while the router runs; returns (bytes, sha256) the server got."""
    srv = tb.popen(server_ns, PYTHON, "-c", TCP_SERVER, server_ip, "5001", stdout=-1, text=True)
    try:
        assert srv.stdout.readline().strip() == "ready"
        cli = tb.popen(client_ns, PYTHON, "-c", TCP_CLIENT, server_ip, "5001", str(nbytes))
        run_while(router, lambda: srv.poll() is None, timeout)
        cli.wait(timeout=5)
        out = srv.communicate(timeout=5)[0].split()
        return (int(out[0]), out[1]) if len(out) == 2 else (0, "")
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


# ---- connection attempts through a firewall or NAT ------------------------------------
# Kernel stacks in their namespaces make real connection attempts while a router
# runs in this process. ECHO_SERVER answers on TCP and UDP ports and logs who
# reached it; PROBE makes attempts (concurrently, so blocked ones time out
# together) and reports for each: "ok" (connected and the echo came back),
# "refused" (a TCP reset, or an ICMP unreachable for UDP), or "timeout".

ECHO_SERVER = r'''
import selectors, socket, sys
tcp_ports = [int(p) for p in sys.argv[1].split(",") if p]
udp_ports = [int(p) for p in sys.argv[2].split(",") if p]
sel = selectors.DefaultSelector()
for port in tcp_ports:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    sel.register(s, selectors.EVENT_READ, ("listen", port))
for port in udp_ports:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)    # a probe may send from this port too
    s.bind(("0.0.0.0", port))
    sel.register(s, selectors.EVENT_READ, ("udp", port))
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        kind, port = key.data
        s = key.fileobj
        if kind == "listen":
            c, peer = s.accept()
            print("tcp", port, peer[0], flush=True)
            sel.register(c, selectors.EVENT_READ, ("conn", port))
        elif kind == "conn":
            try:
                data = s.recv(1 << 16)
                if data:
                    s.sendall(data)
                    continue
            except OSError:
                pass
            sel.unregister(s)
            s.close()
        else:
            data, peer = s.recvfrom(1 << 16)
            print("udp", port, peer[0], flush=True)
            s.sendto(data, peer)
'''

PROBE = r'''
import concurrent.futures, json, socket, subprocess, sys
TIMEOUT = float(sys.argv[1])
def tcp(dst, port, src=None):
    s = socket.socket()
    s.settimeout(TIMEOUT)
    try:
        if src:
            s.bind((src, 0))
        s.connect((dst, port))
        s.sendall(b"hello through")
        return "ok" if s.recv(64) == b"hello through" else "bad echo"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"
    finally:
        s.close()
def udp(dst, port, src=None, sport=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)    # the server here may hold sport too
    try:
        s.bind((src or "0.0.0.0", sport))
        s.connect((dst, port))
        s.send(b"hello by udp")
        return "ok" if s.recv(64) == b"hello by udp" else "bad echo"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"
    finally:
        s.close()
def ping(dst):
    p = subprocess.run(["ping", "-c", "1", "-W", str(int(TIMEOUT)), dst], capture_output=True, text=True)
    return "ok" if p.returncode == 0 else "timeout"
actions = json.loads(sys.argv[2])
with concurrent.futures.ThreadPoolExecutor(len(actions)) as ex:
    futures = [ex.submit({"tcp": tcp, "udp": udp, "ping": ping}[a[0]], *a[1:]) for a in actions]
print(json.dumps([f.result() for f in futures]), flush=True)
'''


def run_command(tb: Testbed, router, ns, *argv: str, timeout: float = 30.0) -> str:
    """Run a command in ns while the router runs; its standard output (it must succeed)."""
    import subprocess
    p = tb.popen(ns, *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_while(router, lambda: p.poll() is None, timeout)
    if p.poll() is None:
        p.kill()
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, f"{argv!r} failed: {err}"
    return out


def probe(tb: Testbed, router, ns, *actions: tuple, timeout: float = 2.0) -> list[str]:
    """Connection attempts from ns (("tcp", dst, port[, src]), ("udp", dst, port[,
    src, sport]), ("ping", dst)), made at once while the router runs; one result each."""
    import json
    out = run_command(tb, router, ns, PYTHON, "-c", PROBE, str(timeout), json.dumps(actions),
                      timeout=timeout * 3 + 20)
    return json.loads(out)


class EchoServer:
    """ECHO_SERVER in a namespace; stop() returns who reached it: ("tcp"|"udp", port, peer IP)."""

    def __init__(self, tb: Testbed, ns, tcp_ports=(), udp_ports=()) -> None:
        import subprocess
        self.proc = tb.popen(ns, PYTHON, "-c", ECHO_SERVER, ",".join(map(str, tcp_ports)),
                             ",".join(map(str, udp_ports)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            self.proc.kill()
            raise RuntimeError(f"echo server did not start: {self.proc.communicate()[1]}")

    def stop(self) -> set[tuple[str, int, str]]:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return {(kind, int(port), peer) for kind, port, peer in (line.split() for line in out.splitlines())}
