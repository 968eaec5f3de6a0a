"""configs/nat.click on devices between two namespaces' kernel stacks (offloads
at their defaults): an inside host reaches an outside host, which sees only
the NAT's public address; unsolicited traffic from outside is dropped.

    inside host I 10.0.0.2/24 (default via 10.0.0.1) eth0 ---- p0 [NAT] p1 ---- eth0 outside host X 192.0.2.7/24

X has no route to the inside network unless a test gives it one.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from clickpy.router import Router

from devnet import (EchoServer, packet_socket, probe, receive_frames, run_command, tcp_transfer,  # noqa: F401
                    testbed, transfer_payload)

pytestmark = pytest.mark.netns

NAT = Path(__file__).resolve().parents[2] / "configs" / "nat.click"

INSIDE_HOST, INSIDE_IP = "10.0.0.2", "10.0.0.1"
OUTSIDE_HOST, PUBLIC_IP = "192.0.2.7", "192.0.2.1"


class NatTopology:
    def __init__(self, tb) -> None:
        self.tb = tb
        self.inside, self.outside, self.nat = tb.namespace("in"), tb.namespace("out"), tb.namespace("nat")
        tb.veth(self.inside, "eth0", self.nat, "p0", f"{INSIDE_HOST}/24")
        tb.veth(self.outside, "eth0", self.nat, "p1", f"{OUTSIDE_HOST}/24")
        tb.route(self.inside, "default", INSIDE_IP)

    def start(self) -> Router:
        defines = {"PORT0": "p0", "PORT1": "p1",
                   "INSIDE_IP": INSIDE_IP, "INSIDE_NET": "10.0.0.0/24", "INSIDE_MAC": self.nat.link_mac("p0"),
                   "PUBLIC_IP": PUBLIC_IP, "PUBLIC_NET": "192.0.2.0/24", "PUBLIC_MAC": self.nat.link_mac("p1"),
                   "GATEWAY": "192.0.2.254"}
        with self.tb.inside(self.nat):
            return Router.from_file(str(NAT), defines=defines)


@pytest.fixture
def nat(testbed):
    return NatTopology(testbed)


def test_nat_click_translates_inside_connections(nat):
    tb = nat.tb
    router = nat.start()
    outside = EchoServer(tb, nat.outside, tcp_ports=(80,), udp_ports=(5353,))
    try:
        results = probe(tb, router, nat.inside,
                        ("tcp", OUTSIDE_HOST, 80), ("udp", OUTSIDE_HOST, 5353),
                        ("ping", OUTSIDE_HOST),
                        ("tcp", OUTSIDE_HOST, 81),     # X's reset is translated back
                        ("udp", OUTSIDE_HOST, 9),      # and so is its ICMP port unreachable
                        ("ping", INSIDE_IP))           # the gateway answers
        assert results == ["ok", "ok", "ok", "refused", "refused", "ok"]
        # a TCP transfer with the inside stack's GSO frames and partial checksums
        nbytes = 4 << 20
        assert tcp_transfer(tb, router, nat.inside, nat.outside, OUTSIDE_HOST, nbytes) == transfer_payload(nbytes)
        # X's neighbours: only the NAT's public address, never an inside one
        neigh = tb.run(nat.outside, "ip", "-4", "neigh", "show", "dev", "eth0").stdout
    finally:
        reached = outside.stop()
    assert reached == {("tcp", 80, PUBLIC_IP), ("udp", 5353, PUBLIC_IP)}
    assert PUBLIC_IP in neigh and INSIDE_HOST not in neigh
    assert int(router.handler("rw.nmappings")) >= 4
    assert int(router.handler("pings.nmappings")) >= 1


def test_nat_click_drops_unsolicited_traffic(nat):
    tb = nat.tb
    router = nat.start()
    # X tries the public address, and the inside host directly through the NAT
    tb.route(nat.outside, "10.0.0.0/24", PUBLIC_IP)
    inside = EchoServer(tb, nat.inside, tcp_ports=(80,), udp_ports=(5353,))
    watch = packet_socket(tb, nat.inside, "eth0")
    try:
        results = probe(tb, router, nat.outside,
                        ("tcp", PUBLIC_IP, 80), ("udp", PUBLIC_IP, 5353),
                        ("tcp", INSIDE_HOST, 80), ("udp", INSIDE_HOST, 5353), ("ping", INSIDE_HOST),
                        ("ping", PUBLIC_IP))           # answered by the NAT itself
        assert results == ["timeout"] * 5 + ["ok"]
        from_x = receive_frames(watch, timeout=0.2,
                                match=lambda f: f[12:14] == b"\x08\x00" and f[26:30] == bytes([192, 0, 2, 7]))
    finally:
        watch.close()
        reached = inside.stop()
    assert reached == set() and from_x == []
    assert int(router.handler("rw.drops")) > 0
    assert int(router.handler("other_out.count")) == 0
