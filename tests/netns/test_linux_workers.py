"""`clickpy run -j 2` on real devices: flows spread over the workers by
PACKET_FANOUT, ARP to every worker."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from devnet import PYTHON, bridge, packet_socket, testbed  # noqa: F401

pytestmark = pytest.mark.netns


def start_clickpy(tb, ns, config: str, *handlers: str) -> subprocess.Popen:
    args = [PYTHON, "-m", "clickpy", "run", "-j", "2", "-e", config]
    for h in handlers:
        args += ["-h", h]
    return tb.popen(ns, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_sockets(tb, ns, count: int, proc, timeout: float = 30) -> None:
    """Until `count` packet sockets are open in ns and every receiving one
    (a protocol set) is bound and running: the workers are ready. A socket
    still setting up its ring is listed before it receives anything."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        rows = [line.split() for line in tb.run(ns, "cat", "/proc/net/packet").stdout.splitlines()[1:]]
        # columns: sk RefCnt Type Proto Iface R Rmem User Inode
        if len(rows) >= count and all(row[5] == "1" for row in rows if int(row[3], 16) != 0):
            return
        time.sleep(0.1)
    raise AssertionError("the workers did not open their sockets")


def stop(proc) -> str:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out


def per_worker(text: str) -> list[int]:
    return [int(line.split(": ")[1]) for line in text.splitlines() if line.startswith("worker ")]


def test_flows_spread_over_two_workers_and_arp_reaches_both(testbed):
    tb = testbed
    a, r = tb.namespace("a"), tb.namespace("r")
    tb.veth(a, "eth0", r, "a0", "10.0.0.1/24")
    proc = start_clickpy(tb, r, "f :: FromDevice(a0) -> c :: Counter -> Discard;", "c.count#*")
    wait_for_sockets(tb, r, 4, proc)            # per worker: the fanout ring and the ARP socket
    tx = packet_socket(tb, a, "eth0")
    flows, per_flow, arps = 64, 5, 3
    for i in range(flows * per_flow):
        port = 10000 + i % flows
        tx.send(bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                      / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=port, dport=9) / b"data"))
    for i in range(arps):
        tx.send(bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
                      / ARP(op=1, hwsrc="02:00:00:00:00:01", psrc="10.0.0.1", pdst=f"10.0.0.{10 + i}")))
    time.sleep(0.5)
    counts = per_worker(stop(proc))
    assert len(counts) == 2
    assert sum(counts) == flows * per_flow + 2 * arps
    assert all(c > arps for c in counts), f"one worker got no flows: {counts}"


UDP_SINK = r'''
import socket, collections
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.0.2", 9000))
s.settimeout(3)
print("ready", flush=True)
got = collections.Counter()
try:
    while True:
        got[s.recv(100)] += 1
except socket.timeout:
    pass
print(len(got), sum(got.values()), flush=True)
'''
UDP_FLOWS = r'''
import socket, time
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(32)]
for rnd in range(20):
    for i, s in enumerate(socks):
        s.sendto(b"%d-%d" % (i, rnd), ("10.0.0.2", 9000))
    time.sleep(0.01)
'''


def test_two_workers_forward_between_veths(bridge):
    tb, a, b, r = bridge
    proc = start_clickpy(tb, r, """
        fa :: FromDevice(a0, SNIFFER false) -> ca :: Counter -> ToDevice(b0);
        fb :: FromDevice(b0, SNIFFER false) -> cb :: Counter -> ToDevice(a0);""", "ca.count#*")
    wait_for_sockets(tb, r, 8, proc)
    sink = tb.popen(b, PYTHON, "-c", UDP_SINK, stdout=subprocess.PIPE, text=True)
    assert sink.stdout.readline().strip() == "ready"
    subprocess.run(a.command(PYTHON, "-c", UDP_FLOWS), check=True, timeout=30)
    distinct, total = map(int, sink.communicate(timeout=30)[0].split())
    assert (distinct, total) == (32 * 20, 32 * 20)      # every datagram once, none lost or doubled
    counts = per_worker(stop(proc))
    assert len(counts) == 2 and all(c > 0 for c in counts), counts


UDP_TO_MANY = r'''
import socket
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(40)]
for rnd in range(5):
    for i, s in enumerate(socks):
        s.sendto(b"x", ("10.9.0.%d" % (2 + i), 9000 + i))
'''


def test_workers_share_one_multiqueue_tap(testbed):
    tb = testbed
    n = tb.namespace("n")
    proc = start_clickpy(tb, n, "tap :: KernelTap(10.9.0.1/24, 10.9.0.254, DEVNAME cpmq0) -> c :: Counter -> Discard;",
                         "c.count#*")
    deadline = time.monotonic() + 30
    while "python(" not in tb.run(n, "ip", "-d", "tuntap", "show").stdout.split("cpmq0", 1)[-1].split(")", 1)[-1]:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the workers did not attach to the tap"
        time.sleep(0.1)
    shown = tb.run(n, "ip", "-d", "tuntap", "show").stdout
    assert "multi_queue" in shown and shown.count("python(") == 2
    for i in range(40):          # no ARP: the frames are only the datagrams
        tb.neighbor(n, "cpmq0", f"10.9.0.{2 + i}", f"02:00:00:00:01:{i:02x}")
    subprocess.run(n.command(PYTHON, "-c", UDP_TO_MANY), check=True, timeout=30)
    time.sleep(0.5)
    counts = per_worker(stop(proc))
    assert sum(counts) == 200
    assert all(c > 0 for c in counts), f"one queue got every flow: {counts}"
