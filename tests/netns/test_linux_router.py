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
