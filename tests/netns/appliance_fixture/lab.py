"""Test bench for the appliance: two network namespaces, A and B, each with
one end of a host TAP that QEMU drives, so traffic from A to B goes through
the VM (A -- tapA == eth0 [appliance] eth1 == tapB -- B).

QEMU opens a TAP by name in its own namespace, so the TAPs are made in the
root namespace, QEMU attaches to them, and then they move into A and B
(a TAP keeps its attached file descriptor when it changes namespace).
Addresses come from 198.18.0.0/15 (RFC 2544's benchmarking range) and exist
only inside the namespaces made here; everything is removed by ``close()``.

Two layouts: bridged (the default), A and B on one subnet, for an appliance
that passes frames through; routed (``Lab(routed=True)``), A on
198.18.0.0/24 and B on 198.19.0.0/24 with the appliance as the gateway of
both, for an IP router such as configs/router.click (``router_defines()``
gives its NAME=value definitions, ``ROUTER_MACS`` the guest NICs' MACs).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

ADDR_A = "198.18.0.1"
ADDR_B = "198.18.0.2"

# routed: A -- (198.18.0.1 eth0 [router] eth1 198.19.0.1) -- B
ROUTED_A, ROUTED_GW_A = "198.18.0.2", "198.18.0.1"
ROUTED_B, ROUTED_GW_B = "198.19.0.2", "198.19.0.1"
ROUTER_MACS = ["02:c1:1c:00:00:01", "02:c1:1c:00:00:02"]  # the guest's eth0, eth1


def sh(*args: str, check: bool = True, ns: str | None = None) -> subprocess.CompletedProcess:
    cmd = list(args)
    if ns is not None:
        cmd = ["ip", "netns", "exec", ns] + cmd
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def can_make_namespaces() -> str | None:
    """None if this host can run the lab, else the reason it cannot."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, TAP devices)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    try:
        subprocess.run(["ip", "-V"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return "no iproute2 `ip` command"
    return None


class Lab:
    def __init__(self, routed: bool = False) -> None:
        tag = secrets.token_hex(3)
        self.ns_a, self.ns_b = f"cpa-{tag}", f"cpb-{tag}"
        self.tap_a, self.tap_b = f"cpta{tag}", f"cptb{tag}"
        self.made: list[tuple[str, str]] = []
        self.routed = routed
        self.addr_a, self.addr_b = (ROUTED_A, ROUTED_B) if routed else (ADDR_A, ADDR_B)

    @staticmethod
    def router_defines() -> list[str]:
        """configs/router.click's definitions for the routed layout, the
        guest's eth0 facing A (interface 0) and eth1 facing B (interface 1,
        with B as the default gateway)."""
        return [
            "PORTS=DEV0 eth0, DEV1 eth1",
            f"IP0={ROUTED_GW_A}", "PREFIX0=24", "NET0=198.18.0.0", "BCAST0=198.18.0.255",
            f"MAC0={ROUTER_MACS[0]}", "MTU0=1500",
            f"IP1={ROUTED_GW_B}", "PREFIX1=24", "NET1=198.19.0.0", "BCAST1=198.19.0.255",
            f"MAC1={ROUTER_MACS[1]}", "MTU1=1500", f"GW1={ROUTED_B}",
            # the guest has no tc/pyroute2 to hide the NICs from its stack
            # (which has no address on them anyway)
            "SNIFFER=true",
        ]

    # -- set up ------------------------------------------------------------
    def create_taps(self) -> list[str]:
        for tap in (self.tap_a, self.tap_b):
            sh("ip", "tuntap", "add", "dev", tap, "mode", "tap")
            self.made.append(("tap", tap))
            sh("ip", "link", "set", tap, "up")
        for ns in (self.ns_a, self.ns_b):
            sh("ip", "netns", "add", ns)
            self.made.append(("ns", ns))
        return [self.tap_a, self.tap_b]

    def wait_attached(self, timeout: float = 10.0) -> None:
        """Wait until QEMU holds both TAPs (carrier comes up when attached)."""
        deadline = time.monotonic() + timeout
        for tap in (self.tap_a, self.tap_b):
            path = Path(f"/sys/class/net/{tap}/carrier")
            while True:
                try:
                    if path.read_text().strip() == "1":
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"QEMU did not attach {tap}")
                time.sleep(0.005)

    def move_into_namespaces(self) -> None:
        sides = [(self.tap_a, self.ns_a, self.addr_a, ROUTED_GW_A, ROUTER_MACS[0]),
                 (self.tap_b, self.ns_b, self.addr_b, ROUTED_GW_B, ROUTER_MACS[1])]
        for tap, ns, addr, gw, gw_mac in sides:
            sh("ip", "link", "set", tap, "netns", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", tap)
            sh("ip", "-n", ns, "link", "set", tap, "up")
            if self.routed:
                sh("ip", "-n", ns, "route", "add", "default", "via", gw)
                # the gateway's MAC is known: no ARP wait (a kernel retries an
                # unanswered ARP request only every second) while the VM boots
                sh("ip", "-n", ns, "neigh", "replace", gw, "lladdr", gw_mac,
                   "dev", tap, "nud", "permanent")

    # -- traffic -------------------------------------------------------------
    def ping(self, count: int = 3, timeout: int = 10) -> subprocess.CompletedProcess:
        return sh("ping", "-c", str(count), "-W", str(timeout), "-i", "0.2", self.addr_b,
                  ns=self.ns_a, check=False)

    def tcp_transfer(self, nbytes: int, port: int = 5201, timeout: float = 60.0,
                     rate: int = 250_000) -> tuple[int, float]:
        """Send ``nbytes`` from A to B over TCP; return (bytes B received, seconds)."""
        server = subprocess.Popen(
            ["ip", "netns", "exec", self.ns_b, "python3", "-c", _TCP_SINK, self.addr_b, str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            time.sleep(0.3)
            t0 = time.monotonic()
            client = subprocess.run(
                ["ip", "netns", "exec", self.ns_a, "python3", "-c", _TCP_SOURCE,
                 self.addr_b, str(port), str(nbytes), str(rate)],
                capture_output=True, text=True, timeout=timeout,
            )
            out, err = server.communicate(timeout=timeout)
            elapsed = time.monotonic() - t0
            if client.returncode != 0:
                raise RuntimeError("TCP client failed: " + client.stderr[-2000:])
            return int(out.strip() or 0), elapsed
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()

    def first_frame_time(self, started: float, timeout: float = 30.0,
                         interval: float = 0.01) -> float:
        """Seconds from ``started`` (time.monotonic) until B sees a frame that
        crossed the VM. Bridged, A sends ARP requests for B every
        ``interval``; routed, UDP datagrams to B. The first one that reaches
        B was forwarded by the appliance."""
        if self.routed:
            args = [_FIRST_DATAGRAM, self.addr_b, self.ns_a]
        else:
            args = [_FIRST_FRAME, self.tap_b, self.ns_a, self.addr_a, self.addr_b, self.tap_a]
        proc = subprocess.run(
            ["ip", "netns", "exec", self.ns_b, "python3", "-c", *args, str(timeout), str(interval)],
            capture_output=True, text=True, timeout=timeout + 10,
        )
        if proc.returncode != 0:
            raise RuntimeError("no frame crossed the VM: " + proc.stderr[-2000:])
        # the helper prints CLOCK_MONOTONIC when the frame arrived
        return float(proc.stdout.strip()) - started

    # -- tear down -----------------------------------------------------------
    def close(self) -> None:
        for kind, name in reversed(self.made):
            if kind == "ns":
                sh("ip", "netns", "del", name, check=False)
            else:
                sh("ip", "link", "del", name, check=False)
        self.made.clear()

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_TCP_SINK = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(120)
c, _ = s.accept(); c.settimeout(120); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
print(n)
"""

# Paced (SO_MAX_PACING_RATE, bytes/s): the stand-in forwarder is pure Python
# under TCG; an unpaced burst overflows its queues and TCP then spends its
# time in retransmission back-off instead of testing the data path.
_TCP_SOURCE = r"""
import socket, sys
SO_MAX_PACING_RATE = 47
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, int(sys.argv[4]))
s.settimeout(120)
s.connect((sys.argv[1], int(sys.argv[2])))
left = int(sys.argv[3]); chunk = bytes(range(256)) * 256
while left > 0:
    n = s.send(chunk[:left]); left -= n
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
"""

# Runs in namespace B: listen on B's TAP; in a child process in namespace A,
# send an ARP request for B on A's TAP every `interval`. Print the monotonic
# time at which the first frame from A's MAC arrives on B's TAP.
_FIRST_FRAME = r"""
import os, socket, struct, subprocess, sys, time
tap_b, ns_a, addr_a, addr_b, tap_a, timeout, interval = sys.argv[1:]
rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
rx.bind((tap_b, 0x0806)); rx.settimeout(float(timeout))
sender = subprocess.Popen(["ip", "netns", "exec", ns_a, "python3", "-c", r'''
import socket, sys, time
tap, a, b, interval = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((tap, 0))
mac = s.getsockname()[4]
frame = (b"\xff" * 6 + mac + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x01" + mac
         + socket.inet_aton(a) + b"\x00" * 6 + socket.inet_aton(b))
for _ in range(100000):
    try:
        s.send(frame)
    except OSError:
        pass
    time.sleep(interval)
''', tap_a, addr_a, addr_b, interval])
try:
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        frame = rx.recv(2048)
        if frame[28:32] == socket.inet_aton(addr_a) and frame[38:42] == socket.inet_aton(addr_b):
            print(time.monotonic()); break
    else:
        sys.exit("timeout")
finally:
    sender.kill()
"""

# Runs in namespace B: a UDP socket on B's address; in a child process in
# namespace A, send a datagram to it every `interval` (through A's gateway,
# the router). Print the monotonic time at which the first one arrives.
_FIRST_DATAGRAM = r"""
import socket, subprocess, sys, time
addr_b, ns_a, timeout, interval = sys.argv[1:]
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind((addr_b, 9)); rx.settimeout(float(timeout))
sender = subprocess.Popen(["ip", "netns", "exec", ns_a, "python3", "-c", r'''
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(100000):
    try:
        s.sendto(b"first", (sys.argv[1], 9))
    except OSError:
        pass
    time.sleep(float(sys.argv[2]))
''', addr_b, interval])
try:
    rx.recv(2048)
    print(time.monotonic())
except socket.timeout:
    sys.exit("timeout")
finally:
    sender.kill()
"""
