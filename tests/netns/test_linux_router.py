"""configs/router.click between two namespaces, with real kernel stacks on both
sides and the veths' offloads left at their defaults (partial checksums,
TSO): ARP resolved by clickpy, ping, and an HTTP download through the router."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from clickpy.router import Router

from devnet import PYTHON, routed, run_while, testbed  # noqa: F401

pytestmark = pytest.mark.netns

ROUTER = Path(__file__).resolve().parents[2] / "configs" / "router.click"

HTTP_CLIENT = r'''
import hashlib, sys, urllib.request
data = urllib.request.urlopen(sys.argv[1], timeout=30).read()
print(len(data), hashlib.sha256(data).hexdigest(), flush=True)
'''


# what router.click uses on devices, from the other element groups
NEEDED = ("Classifier", "ARPResponder", "ARPQuerier", "Strip", "CheckIPHeader", "RadixIPLookup", "Tee",
          "Paint", "PaintTee", "DropBroadcasts", "IPGWOptions", "FixIPSrc", "DecIPTTL", "IPFragmenter",
          "ICMPError", "ICMPPingResponder", "Queue", "Counter", "Discard")


def start_router(topo) -> Router:
    from clickpy import registry
    missing = [c for c in NEEDED if not registry.has_class(c)]
    if not ROUTER.exists() or missing:
        pytest.skip("configs/router.click or its elements are not in this tree yet: "
                    + ", ".join(missing or ["configs/router.click"]))
    with topo.tb.inside(topo.r):
        return Router.from_file(str(ROUTER), defines=topo.router_defines())


def test_router_click_answers_arp_and_forwards_pings(routed):
    topo = routed
    router = start_router(topo)
    ping = topo.tb.popen(topo.a, "ping", "-c", "3", "-i", "0.2", "-W", "2", topo.b_ip, stdout=subprocess.PIPE,
                         text=True)
    run_while(router, lambda: ping.poll() is None, 20)
    out = ping.communicate()[0]
    assert ping.returncode == 0, out
    assert "3 received" in out
    assert "ttl=63" in out                  # B's replies crossed one router hop
    # R's kernel has no addresses on a0: the answer to A's ARP query came from clickpy
    neigh = topo.tb.run(topo.a, "ip", "neigh", "show", topo.r_a_ip).stdout
    assert topo.r_a_mac in neigh
    # the router's own address answers pings too (ICMPPingResponder)
    ping = topo.tb.popen(topo.a, "ping", "-c", "2", "-i", "0.2", "-W", "2", topo.r_a_ip, stdout=subprocess.PIPE,
                         text=True)
    run_while(router, lambda: ping.poll() is None, 20)
    assert ping.wait() == 0, ping.communicate()[0]


def test_router_click_carries_an_http_download(routed, tmp_path):
    topo = routed
    content = bytes(range(256)) * (16 << 10) * 2            # 8 MiB
    (tmp_path / "blob").write_bytes(content)
    router = start_router(topo)
    server = topo.tb.popen(topo.b, PYTHON, "-m", "http.server", "--bind", topo.b_ip, "8000",
                           "--directory", str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = None
        for _ in range(50):          # until the server listens
            client = topo.tb.popen(topo.a, PYTHON, "-c", HTTP_CLIENT, f"http://{topo.b_ip}:8000/blob",
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            run_while(router, lambda: client.poll() is None, 60)
            if client.returncode == 0:
                break
        out, err = client.communicate()
        assert client.returncode == 0, err
        assert out.split() == [str(len(content)), hashlib.sha256(content).hexdigest()]
    finally:
        server.kill()
        server.wait()


TCP_SINK = r'''
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 5001))
s.listen(16)
print("ready", flush=True)
for _ in range(int(sys.argv[2])):
    c, _ = s.accept()
    n = 0
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        n += len(d)
    print(n, flush=True)
'''
TCP_FLOWS = r'''
import socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.create_connection((sys.argv[1], 5001), timeout=30)
    s.sendall(b"x" * 500000)
    s.close()
'''


def test_router_click_with_two_workers(routed):
    """`clickpy run -j 2 configs/router.click`: every flow gets through, and both workers carry some."""
    topo = routed
    tb = topo.tb
    start_router(topo).cleanup()            # skips unless the config and its elements are here
    args = [PYTHON, "-m", "clickpy", "run", "-j", "2", str(ROUTER), "-h", "FromDevice.count#*"]
    args += [f"{k}={v}" for k, v in topo.router_defines().items()]
    router = tb.popen(topo.r, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ping = tb.run(topo.a, "ping", "-c", "3", "-i", "0.3", "-W", "5", topo.b_ip, check=False, timeout=60)
        assert ping.returncode == 0, ping.stdout
        flows = 8
        sink = tb.popen(topo.b, PYTHON, "-c", TCP_SINK, topo.b_ip, str(flows), stdout=subprocess.PIPE, text=True)
        assert sink.stdout.readline().strip() == "ready"
        tb.run(topo.a, PYTHON, "-c", TCP_FLOWS, topo.b_ip, str(flows), timeout=120)
        assert sink.communicate(timeout=60)[0].split() == ["500000"] * flows
    finally:
        router.terminate()
        out, err = router.communicate(timeout=60)
    assert router.returncode == 0, err
    per_worker = [0, 0]
    for line in out.splitlines():
        if line.startswith("worker "):
            i, n = line[len("worker "):].split(": ")
            per_worker[int(i)] += int(n)
    assert all(n > 0 for n in per_worker), out
