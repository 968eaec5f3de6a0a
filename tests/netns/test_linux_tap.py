"""KernelTap and KernelTun: a namespace's kernel stack exchanging traffic with a graph."""
from __future__ import annotations

import pytest

from clickpy.lang.graph import ConfigError
from clickpy.router import Router

from devnet import PYTHON, run_while, tcp_transfer, testbed, transfer_payload  # noqa: F401

pytestmark = pytest.mark.netns


def build(tb, ns, config: str) -> Router:
    with tb.inside(ns):
        return Router.from_string(config)


def ping(tb, ns, ip: str, router, count: int = 3) -> str:
    p = tb.popen(ns, "ping", "-c", str(count), "-i", "0.2", "-W", "2", ip, stdout=-1, text=True)
    run_while(router, lambda: p.poll() is None, 15)
    out = p.communicate(timeout=5)[0]
    assert p.returncode == 0, out
    return out


@pytest.mark.parametrize("method", ["URING", "WRITE"])
def test_a_namespace_pings_the_graph_through_a_tap(testbed, method):
    ns = testbed.namespace("n")
    router = build(testbed, ns, f"""
        tap :: KernelTap(10.9.0.1/24, DEVNAME cptap0, ETHER 02:00:00:00:09:01, METHOD {method})
            -> resp :: TestResponder(02:00:00:00:09:02, 10.9.0.2) -> tap;""")
    assert router.handler("tap.dev_name") == "cptap0"
    assert ns.link_mac("cptap0") == "02:00:00:00:09:01"
    out = ping(testbed, ns, "10.9.0.2", router)
    assert "3 received" in out
    assert router.element("resp").answered >= 4          # the ARP request and three echoes
    assert int(router.handler("tap.sent")) >= 4
    assert int(router.handler("tap.count")) >= 4


def test_a_namespace_pings_the_graph_through_a_tun(testbed):
    ns = testbed.namespace("n")
    router = build(testbed, ns, """
        tun :: KernelTun(10.8.0.1/24, MTU 1400)
            -> resp :: TestResponder(0:0:0:0:0:0, 10.8.0.2, RAW true) -> tun;""")
    dev = router.handler("tun.dev_name")
    with ns.ipr() as ipr:
        link = ipr.get_links(ipr.link_lookup(ifname=dev)[0])[0]
    assert link.get_attr("IFLA_MTU") == 1400
    out = ping(testbed, ns, "10.8.0.2", router)
    assert "3 received" in out
    assert router.element("resp").answered >= 3


@pytest.mark.parametrize("offload", ["false", "true"])
def test_tcp_both_ways_between_a_veth_and_a_tap(testbed, offload):
    """Host A's stack talks TCP to R's stack, which sits behind a tap; clickpy
    joins A's veth and the tap. Both kernels use GSO and partial checksums."""
    tb = testbed
    a, r = tb.namespace("a"), tb.namespace("r")
    tb.veth(a, "eth0", r, "r0", "10.0.0.1/24")
    router = build(tb, r, f"""
        tap :: KernelTap(10.0.0.2/24, ETHER 02:00:00:00:00:22, OFFLOAD {offload});
        f :: FromDevice(r0, SNIFFER false, OFFLOAD {offload}) -> tap -> t :: ToDevice(r0);""")
    assert tcp_transfer(tb, router, a, r, "10.0.0.2", 2 << 20) == transfer_payload(2 << 20)
    assert tcp_transfer(tb, router, r, a, "10.0.0.1", 2 << 20) == transfer_payload(2 << 20)
    assert router.handler("t.drops") == "0"
    assert "bad_frames 0" in router.handler("tap.offload")
    if offload == "false":
        frames = dict(line.split() for line in router.handler("tap.offload").splitlines())
        assert int(frames["gso_frames"]) > 0, "the tap handed over no GSO frames: nothing was tested"


def test_tap_configuration_errors(testbed):
    ns = testbed.namespace("n")
    with pytest.raises(ConfigError, match="GATEWAY"):
        build(testbed, ns, "KernelTap(10.9.0.1/24, 10.10.0.1) -> Discard;")
    with pytest.raises(ConfigError, match="too long"):
        build(testbed, ns, "KernelTap(10.9.0.1/24, DEVNAME averyveryverylongname) -> Discard;")
    with pytest.raises(ConfigError, match="HEADROOM"):
        build(testbed, ns, "KernelTap(10.9.0.1/24, HEADROOM 4096) -> Discard;")


def test_tap_gateway_route_and_unwritable_packets(testbed):
    ns = testbed.namespace("n")
    short = "00" * 10
    router = build(testbed, ns, f"""
        tap :: KernelTap(10.9.0.1/24, 10.9.0.254) -> Discard;
        InfiniteSource(DATA \\<{short}>, LIMIT 5, STOP true) -> tap;""")
    with ns.ipr() as ipr:
        routes = [r for r in ipr.get_routes(family=2) if r.get_attr("RTA_GATEWAY") == "10.9.0.254"]
    assert routes, "no default route through GATEWAY"
    router.run(timeout=1)
    assert router.handler("tap.drops") == "5"
    assert router.handler("tap.sent") == "0"
