"""configs/firewall.click and configs/stateful-firewall.click on devices, in the
wire between two namespaces whose kernel stacks make real connection attempts
(TCP connects, UDP exchanges, pings) with the veths' offloads at their
defaults: what each config's rules allow gets through, what they deny does not.

    inside host I (10.0.0.5, and 10.0.0.10: $SERVER)  eth0 ---- p0 [firewall] p1 ---- eth0  outside host X (198.51.100.7)

The firewall bridges: I and X reach each other's networks on-link (ARP
passes through the firewall) and keep their Ethernet addresses.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from clickpy.router import Router

from devnet import (EchoServer, packet_socket, probe, receive_frames, run_while,  # noqa: F401
                    testbed)

pytestmark = pytest.mark.netns

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

INSIDE_NET, INSIDE_HOST, SERVER = "10.0.0.0/24", "10.0.0.5", "10.0.0.10"
OUTSIDE_HOST = "198.51.100.7"
NOT_INSIDE = "172.16.9.5"          # an address the inside host sends from, outside $INSIDE
FAKE_INSIDE = "10.0.0.77"          # an inside address the outside host claims


class Bridged:
    """I — firewall — X, with no kernel addresses on the firewall's interfaces."""

    def __init__(self, tb) -> None:
        self.tb = tb
        self.inside, self.outside, self.fw = tb.namespace("in"), tb.namespace("out"), tb.namespace("fw")
        tb.veth(self.inside, "eth0", self.fw, "p0", f"{INSIDE_HOST}/24")
        tb.veth(self.outside, "eth0", self.fw, "p1", f"{OUTSIDE_HOST}/24")
        tb.up(self.inside, "eth0", f"{SERVER}/24")
        tb.up(self.inside, "eth0", f"{NOT_INSIDE}/32")
        tb.up(self.outside, "eth0", f"{FAKE_INSIDE}/32")
        tb.route(self.inside, "198.51.100.0/24", dev="eth0")
        tb.route(self.outside, INSIDE_NET, dev="eth0")
        # so that X would answer the spoofed source, were it let through
        tb.route(self.outside, "172.16.9.0/24", dev="eth0")
        self.inside_mac = self.inside.link_mac("eth0")
        self.outside_mac = self.outside.link_mac("eth0")

    def start(self, config: str, **defines: str) -> Router:
        with self.tb.inside(self.fw):
            return Router.from_file(str(CONFIGS / config), defines={"PORT0": "p0", "PORT1": "p1", **defines})


@pytest.fixture
def bridged(testbed):
    return Bridged(testbed)


def forged_ack_reaches_inside(net: Bridged, router) -> bool:
    """X sends a TCP segment with ACK set that answers nothing; True if it
    arrives at I's interface."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    frame = bytes(Ether(src=net.outside_mac, dst=net.inside_mac) / IP(src=OUTSIDE_HOST, dst=SERVER)
                  / TCP(sport=40123, dport=8080, flags="A", seq=1000, ack=2000))
    watch = packet_socket(net.tb, net.inside, "eth0")
    send = packet_socket(net.tb, net.outside, "eth0")
    try:
        send.send(frame)
        run_while(router, lambda: True, 1.0)
        got = receive_frames(watch, timeout=0.2,
                             match=lambda f: f[12:14] == b"\x08\x00" and f[23] == 6 and f[34:36] == b"\x9c\xbb")
    finally:
        watch.close()
        send.close()
    return bool(got)


def test_firewall_click_allows_and_blocks_real_connections(bridged):
    net, tb = bridged, bridged.tb
    router = bridged.start("firewall.click", INSIDE=INSIDE_NET, SERVER=SERVER)
    inside = EchoServer(tb, net.inside, tcp_ports=(22, 80, 8080), udp_ports=(5353,))
    outside = EchoServer(tb, net.outside, tcp_ports=(80,), udp_ports=(53, 5353))
    try:
        outbound = probe(tb, router, net.inside,
                         ("tcp", OUTSIDE_HOST, 80),       # out: allowed; the replies carry ACK
                         ("tcp", OUTSIDE_HOST, 81),       # nobody listens: X's reset comes back
                         ("udp", OUTSIDE_HOST, 53),       # a DNS answer comes back
                         ("udp", OUTSIDE_HOST, 5353),     # goes out, but UDP from 5353 may not come in
                         ("udp", OUTSIDE_HOST, 9),        # ICMP port unreachable comes back
                         ("ping", OUTSIDE_HOST),          # echo reply comes back
                         ("udp", OUTSIDE_HOST, 53, NOT_INSIDE))     # spoofed source: not let out
        assert outbound == ["ok", "refused", "ok", "timeout", "refused", "ok", "timeout"]
        inbound = probe(tb, router, net.outside,
                        ("tcp", SERVER, 80), ("tcp", SERVER, 22), ("tcp", SERVER, 443),   # the server's ports
                        ("tcp", SERVER, 8080),            # another port of the server
                        ("tcp", INSIDE_HOST, 80),         # the server's ports, on another host
                        ("ping", INSIDE_HOST),
                        ("udp", INSIDE_HOST, 5353, None, 53),      # "a DNS answer": allowed
                        ("udp", INSIDE_HOST, 5353, None, 5300),
                        ("udp", INSIDE_HOST, 5353, FAKE_INSIDE, 53))   # claims an inside source
        # port 443 is allowed in; nobody listens there, so I's reset answers
        assert inbound == ["ok", "ok", "refused", "timeout", "timeout", "timeout", "ok", "timeout", "timeout"]
        # being stateless, it lets a forged "reply" in
        assert forged_ack_reaches_inside(net, router)
    finally:
        reached_inside = inside.stop()
        reached_outside = outside.stop()
    assert ("udp", 5353, INSIDE_HOST) in reached_outside         # it went out; only its answer was dropped
    assert not any(peer == NOT_INSIDE for _, _, peer in reached_outside)
    assert not any(peer == FAKE_INSIDE for _, _, peer in reached_inside)
    assert ("tcp", 8080, OUTSIDE_HOST) not in reached_inside
    assert int(router.handler("passed0.count")) > 0 and int(router.handler("passed1.count")) > 0
    assert int(router.handler("check0.drops")) == 0 and int(router.handler("check1.drops")) == 0


def test_stateful_firewall_click_lets_replies_in_and_nothing_else(bridged):
    net, tb = bridged, bridged.tb
    router = bridged.start("stateful-firewall.click")
    inside = EchoServer(tb, net.inside, tcp_ports=(22, 80), udp_ports=(5353,))
    outside = EchoServer(tb, net.outside, tcp_ports=(80,), udp_ports=(53, 5353))
    try:
        outbound = probe(tb, router, net.inside,
                         ("tcp", OUTSIDE_HOST, 80),
                         ("tcp", OUTSIDE_HOST, 81),       # the reset belongs to the flow
                         ("udp", OUTSIDE_HOST, 53),
                         ("udp", OUTSIDE_HOST, 5353),     # any port: the answer belongs to the flow
                         ("udp", OUTSIDE_HOST, 9),        # the ICMP error is about a mapped flow
                         ("ping", OUTSIDE_HOST))
        assert outbound == ["ok", "refused", "ok", "ok", "refused", "ok"]
        inbound = probe(tb, router, net.outside,
                        ("tcp", SERVER, 80), ("tcp", SERVER, 22), ("tcp", INSIDE_HOST, 80),
                        ("ping", INSIDE_HOST),
                        ("udp", INSIDE_HOST, 5353, None, 53))
        assert inbound == ["timeout"] * 5
        assert not forged_ack_reaches_inside(net, router)
    finally:
        reached_inside = inside.stop()
        reached_outside = outside.stop()
    assert {("tcp", 80, INSIDE_HOST), ("udp", 53, INSIDE_HOST), ("udp", 5353, INSIDE_HOST)} <= reached_outside
    assert not any(peer == OUTSIDE_HOST for _, _, peer in reached_inside)
    assert int(router.handler("rw.nmappings")) >= 5
    assert int(router.handler("rw.drops")) > 0                   # unsolicited TCP and UDP
    assert int(router.handler("icmperr_dropped.count")) > 0       # the ping (not an answer to anything)
