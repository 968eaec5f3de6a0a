"""Network namespace topologies for tests, demos and benchmarks (pyroute2).

A Testbed creates namespaces (named `<prefix>-<name>`, visible to
`ip netns`), veth pairs between them, TAP-free addresses and routes, and
removes all of it on close() (removing a namespace removes its interfaces).
Nothing is created outside the testbed's own namespaces, so it cannot
disturb the host's network.

    with Testbed("t1") as tb:
        a, b = tb.namespace("a"), tb.namespace("b")
        tb.veth(a, "eth0", b, "eth0", "10.0.0.1/24", "10.0.0.2/24")
        tb.run(a, "ping", "-c1", "10.0.0.2")

`router_topology()` builds the usual test network: host A and host B, each
in its own namespace, and a router namespace R between them whose two
interfaces have no kernel addresses (the router is clickpy's). The
addresses are configs/router.click's defaults:

    A eth0 10.0.0.2/24 ---- R a0   (R b0) ---- B eth0 10.0.1.2/24
    A's default route: 10.0.0.1     B's default route: 10.0.1.1

`clickpy testbed up` / `clickpy testbed down` make and remove that topology
for people, with namespaces `clickpy-a`, `clickpy-b`, `clickpy-r`.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import threading
from typing import Iterator, Sequence

NETNS_DIR = "/run/netns"
_CLONE_NEWNET = 0x40000000
_counter = 0
_counter_lock = threading.Lock()


class TestbedError(RuntimeError):
    """Namespaces or links could not be made (no root, no pyroute2, ...)."""


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc().setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise TestbedError(f"setns: {os.strerror(err)}")


class Namespace:
    """One network namespace of a testbed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = os.path.join(NETNS_DIR, name)

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    def ipr(self):
        """A pyroute2 IPRoute working inside this namespace (close it after use)."""
        from pyroute2 import NetNS
        return NetNS(self.name, flags=0)

    def ifindex(self, ifname: str) -> int:
        with self.ipr() as ipr:
            found = ipr.link_lookup(ifname=ifname)
        if not found:
            raise TestbedError(f"no interface {ifname} in {self.name}")
        return found[0]

    def link_mac(self, ifname: str) -> str:
        with self.ipr() as ipr:
            link = ipr.get_links(self.ifindex(ifname))[0]
        return link.get_attr("IFLA_ADDRESS")

    def command(self, *argv: str) -> list[str]:
        """argv run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]


class Testbed:
    """Namespaces and links made for one test or demo; close() removes them."""

    def __init__(self, prefix: str | None = None) -> None:
        global _counter
        try:
            import pyroute2  # noqa: F401
        except ImportError:
            raise TestbedError("the testbed needs pyroute2 (pip install pyroute2)") from None
        if os.geteuid() != 0:
            raise TestbedError("network namespaces need root")
        if prefix is None:
            with _counter_lock:
                _counter += 1
                prefix = f"cp{os.getpid()}-{_counter}"
        self.prefix = prefix
        self.namespaces: list[Namespace] = []

    def __enter__(self) -> "Testbed":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- building ------------------------------------------------------------
    def namespace(self, name: str, *, ipv6: bool = False) -> Namespace:
        """A new namespace `<prefix>-<name>` with its loopback up. IPv6 is off
        unless asked for, so links carry only the traffic a test makes (no
        router solicitations or neighbour discovery)."""
        from pyroute2 import netns
        ns = Namespace(f"{self.prefix}-{name}")
        try:
            netns.create(ns.name)
        except OSError as e:
            raise TestbedError(f"cannot create namespace {ns.name}: {e.strerror or e}") from None
        self.namespaces.append(ns)
        if not ipv6:
            with self.inside(ns):
                for scope in ("all", "default"):
                    with open(f"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6", "w") as f:
                        f.write("1")
        with ns.ipr() as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        return ns

    def veth(self, a: Namespace, a_if: str, b: Namespace, b_if: str,
             a_addr: str | None = None, b_addr: str | None = None, *, mtu: int | None = None) -> None:
        """A veth pair: a_if in a, b_if in b, both up, with optional addresses ("10.0.0.1/24")."""
        with a.ipr() as ipr:
            ipr.link("add", ifname=a_if, kind="veth", peer={"ifname": b_if, "net_ns_fd": b.path})
        for ns, ifname, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            self.up(ns, ifname, addr, mtu=mtu)

    def up(self, ns: Namespace, ifname: str, addr: str | None = None, *, mtu: int | None = None) -> None:
        with ns.ipr() as ipr:
            idx = ipr.link_lookup(ifname=ifname)[0]
            if mtu:
                ipr.link("set", index=idx, mtu=mtu)
            if addr:
                ip, _, plen = addr.partition("/")
                ipr.addr("add", index=idx, address=ip, prefixlen=int(plen or 32))
            ipr.link("set", index=idx, state="up")

    def route(self, ns: Namespace, dst: str, gateway: str | None = None, *, dev: str | None = None) -> None:
        """A route in ns: dst ("default" or "10.0.2.0/24") via gateway, or
        on-link out of interface `dev` (its hosts answer ARP there directly)."""
        if (gateway is None) == (dev is None):
            raise TestbedError("a route needs a gateway or a device, not both")
        with ns.ipr() as ipr:
            where = {"gateway": gateway} if gateway else {"oif": ipr.link_lookup(ifname=dev)[0]}
            ipr.route("add", dst="0.0.0.0/0" if dst == "default" else dst, **where)

    def neighbor(self, ns: Namespace, ifname: str, ip: str, mac: str) -> None:
        """A permanent ARP entry in ns."""
        with ns.ipr() as ipr:
            ipr.neigh("add", dst=ip, lladdr=mac, ifindex=ipr.link_lookup(ifname=ifname)[0], state=0x80)

    def sysctl(self, ns: Namespace, key: str, value: str) -> None:
        self.run(ns, "sysctl", "-q", "-w", f"{key}={value}")

    # ---- using -------------------------------------------------------------------
    def run(self, ns: Namespace, *argv: str, timeout: float = 60, check: bool = True,
            **kwargs) -> subprocess.CompletedProcess:
        """Run a command inside ns and wait for it (output captured as text)."""
        return subprocess.run(ns.command(*argv), capture_output=True, text=True, timeout=timeout,
                              check=check, **kwargs)

    def popen(self, ns: Namespace, *argv: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(ns.command(*argv), **kwargs)

    @staticmethod
    @contextlib.contextmanager
    def inside(ns: Namespace) -> Iterator[None]:
        """Run the calling thread inside ns for the duration (sockets and
        devices opened meanwhile belong to ns, and stay there)."""
        here = os.open(f"/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            there = os.open(ns.path, os.O_RDONLY)
            try:
                _setns(there)
            finally:
                os.close(there)
            try:
                yield
            finally:
                _setns(here)
        finally:
            os.close(here)

    def close(self) -> None:
        """Remove every namespace the testbed made (and so their interfaces)."""
        from pyroute2 import netns
        errors = []
        for ns in reversed(self.namespaces):
            try:
                netns.remove(ns.name)
            except OSError as e:
                if os.path.exists(ns.path):
                    errors.append(f"{ns.name}: {e.strerror or e}")
        self.namespaces.clear()
        if errors:
            raise TestbedError("cannot remove namespaces: " + "; ".join(errors))


class RouterTopology:
    """Host A — router R — host B (see the module docstring)."""

    def __init__(self, tb: Testbed, *, mtu: int | None = None) -> None:
        self.tb = tb
        self.a = tb.namespace("a")
        self.b = tb.namespace("b")
        self.r = tb.namespace("r")
        tb.veth(self.a, "eth0", self.r, "a0", "10.0.0.2/24", None, mtu=mtu)
        tb.veth(self.b, "eth0", self.r, "b0", "10.0.1.2/24", None, mtu=mtu)
        tb.route(self.a, "default", "10.0.0.1")
        tb.route(self.b, "default", "10.0.1.1")
        self.a_ip, self.b_ip = "10.0.0.2", "10.0.1.2"
        self.r_a_ip, self.r_b_ip = "10.0.0.1", "10.0.1.1"
        self.a_mac = self.a.link_mac("eth0")
        self.b_mac = self.b.link_mac("eth0")
        self.r_a_mac = self.r.link_mac("a0")
        self.r_b_mac = self.r.link_mac("b0")

    def router_defines(self) -> dict[str, str]:
        """configs/router.click's NAME=value definitions for R's two interfaces
        (B is interface 1's default gateway)."""
        return {
            "PORTS": "DEV0 a0, DEV1 b0",
            "IP0": self.r_a_ip, "MAC0": self.r_a_mac,
            "IP1": self.r_b_ip, "MAC1": self.r_b_mac, "MTU1": "1500", "GW1": self.b_ip,
        }


def router_topology(tb: Testbed, **kwargs) -> RouterTopology:
    return RouterTopology(tb, **kwargs)


# ---- `clickpy testbed up|down` -------------------------------------------------
CLI_PREFIX = "clickpy"


def cli(argv: Sequence[str]) -> int:
    """`clickpy testbed up|down|status`: the router topology, for people."""
    usage = "usage: clickpy testbed up|down|status"
    if len(argv) != 1 or argv[0] not in ("up", "down", "status"):
        print(usage)
        return 0 if argv and argv[0] in ("-h", "--help") else 1
    names = [f"{CLI_PREFIX}-{n}" for n in ("a", "b", "r")]
    existing = [n for n in names if os.path.exists(os.path.join(NETNS_DIR, n))]
    if argv[0] == "status":
        print("up: " + ", ".join(existing) if existing else "down")
        return 0
    try:
        tb = Testbed(CLI_PREFIX)
    except TestbedError as e:
        print(f"clickpy testbed: {e}")
        return 1
    if argv[0] == "down":
        tb.namespaces = [Namespace(n) for n in existing]
        tb.close()
        print("removed " + ", ".join(existing) if existing else "nothing to remove")
        return 0
    if existing:
        print(f"clickpy testbed: already up ({', '.join(existing)}); `clickpy testbed down` first")
        return 1
    try:
        topo = RouterTopology(tb)
    except Exception:
        tb.close()
        raise
    defs = " ".join(f"'{k}={v}'" if " " in v else f"{k}={v}" for k, v in topo.router_defines().items())
    print(f"""host A: namespace {topo.a.name}, eth0 {topo.a_ip}/24 ({topo.a_mac}), default via {topo.r_a_ip}
host B: namespace {topo.b.name}, eth0 {topo.b_ip}/24 ({topo.b_mac}), default via {topo.r_b_ip}
router: namespace {topo.r.name}, a0 ({topo.r_a_mac}) to A, b0 ({topo.r_b_mac}) to B, no kernel addresses

  sudo ip netns exec {topo.r.name} .venv/bin/clickpy run configs/router.click {defs}
  sudo ip netns exec {topo.a.name} ping {topo.b_ip}
  clickpy testbed down""")
    return 0
