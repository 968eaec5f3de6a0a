"""Route lookups: agreement with a brute-force longest-prefix match, handlers, gateways, drops."""
import random

import pytest
from scapy.layers.inet import IP, UDP

from clickpy.element import HandlerError
from clickpy.lang.graph import ConfigError
from ipharness import Harness, user_anno

LOOKUPS = ["LinearIPLookup", "StaticIPLookup", "RadixIPLookup", "DirectIPLookup"]
TRIES = ["RadixIPLookup", "DirectIPLookup"]


def ip_int(s):
    a, b, c, d = (int(x) for x in s.split("."))
    return a << 24 | b << 16 | c << 8 | d


def ip_text(v):
    return f"{v >> 24 & 255}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"


def mask(plen):
    return (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0


def brute_force(routes, addr):
    """(port, gw) of the longest prefix in routes {(addr, plen): (gw, port)} matching addr."""
    best = None
    for (a, plen), (gw, port) in routes.items():
        if addr & mask(plen) == a and (best is None or plen > best[0]):
            best = (plen, port, gw)
    return (-1, 0) if best is None else (best[2], best[1])[::-1]


def random_table(rng, n, nports, lengths=range(0, 33)):
    routes = {}
    while len(routes) < n:
        plen = rng.choice(lengths)
        a = rng.getrandbits(32) & mask(plen)
        gw = rng.choice([0, 0, rng.getrandbits(32) | 1])
        routes[(a, plen)] = (gw, rng.randrange(nports))
    return routes


def config_of(routes):
    return ", ".join(f"{ip_text(a)}/{plen} {ip_text(gw) if gw else '-'} {port}"
                     for (a, plen), (gw, port) in routes.items())


def probe_addresses(rng, routes, n):
    """Random addresses plus addresses inside, at the edges of and just outside each prefix."""
    out = [rng.getrandbits(32) for _ in range(n)]
    for (a, plen) in list(routes)[:200]:
        span = (1 << (32 - plen)) - 1
        out += [a, a | span, (a + span + 1) & 0xFFFFFFFF, (a - 1) & 0xFFFFFFFF, a | (rng.getrandbits(32) & span)]
    return out


@pytest.mark.parametrize("cls", LOOKUPS)
def test_random_tables_agree_with_brute_force(cls):
    rng = random.Random(hash(cls) & 0xFFFF)
    nports = 4
    routes = random_table(rng, 60 if cls in ("LinearIPLookup", "StaticIPLookup") else 400, nports)
    h = Harness(f"{cls}({config_of(routes)})", outputs=nports)
    for addr in probe_addresses(rng, routes, 300):
        port, gw = brute_force(routes, addr)
        got = h.handler("lookup", ip_text(addr))
        assert got == (f"{port} {ip_text(gw)}" if gw else str(port)), ip_text(addr)


@pytest.mark.parametrize("cls", TRIES)
def test_tries_follow_random_adds_and_removes(cls):
    rng = random.Random(7)
    nports = 3
    h = Harness(f"{cls}()", outputs=nports)
    routes = {}
    for step in range(600):
        if routes and rng.random() < 0.4:
            a, plen = rng.choice(list(routes))
            del routes[(a, plen)]
            h.write("remove", f"{ip_text(a)}/{plen}")
        else:
            plen = rng.choice([0, 1, 7, 8, 9, 15, 16, 17, 20, 23, 24, 25, 28, 31, 32])
            a = rng.getrandbits(32) & mask(plen)
            # prefixes clustered so that routes nest inside each other
            a = (ip_int("10.0.0.0") | (a & 0x00FFFFFF)) & mask(plen) if rng.random() < 0.7 else a
            gw, port = rng.choice([0, ip_int("10.9.9.9")]), rng.randrange(nports)
            h.write("set", f"{ip_text(a)}/{plen} {ip_text(gw) if gw else '-'} {port}")
            routes[(a, plen)] = (gw, port)
        if step % 50 == 49:
            for addr in probe_addresses(rng, routes, 50):
                port, gw = brute_force(routes, addr)
                assert h.handler("lookup", ip_text(addr)) == (f"{port} {ip_text(gw)}" if gw else str(port))
    # removing everything leaves no trie nodes behind
    for a, plen in list(routes):
        h.write("remove", f"{ip_text(a)}/{plen}")
    assert h.elem.node_count == 0 and h.elem.route_count == 0
    assert h.handler("lookup", "10.1.2.3") == "-1"


@pytest.mark.parametrize("cls", LOOKUPS)
def test_packets_go_to_the_route_port_and_take_the_gateway(cls):
    h = Harness(f"{cls}(10.0.0.0/8 0, 10.1.0.0/16 10.0.0.254 1, 0.0.0.0/0 192.168.0.1 2)", outputs=3)
    dsts = ["10.2.3.4", "10.1.9.9", "8.8.8.8", "10.1.0.0", "11.0.0.1"]
    xs = [h.packet(bytes(IP(dst=d) / UDP()), user=user_anno(d)) for d in dsts]
    out = h.push(xs)
    assert [IP(o.data).dst for o in out[0]] == ["10.2.3.4"]
    assert [o.dst_ip for o in out[0]] == ["10.2.3.4"]                 # no gateway: unchanged
    assert [IP(o.data).dst for o in out[1]] == ["10.1.9.9", "10.1.0.0"]
    assert {o.dst_ip for o in out[1]} == {"10.0.0.254"}
    assert [IP(o.data).dst for o in out[2]] == ["8.8.8.8", "11.0.0.1"]
    assert {o.dst_ip for o in out[2]} == {"192.168.0.1"}


@pytest.mark.parametrize("cls", LOOKUPS)
def test_no_route_is_a_counted_drop(cls, capfd):
    h = Harness(f"{cls}(10.0.0.0/8 0)", outputs=1)
    out = h.push([b"x"] * 3 + [b"y"], user=user_anno("11.0.0.1"))
    assert out == [[]]
    assert h.handler("drops") == "4"
    assert "no route for 11.0.0.1" in capfd.readouterr().err


@pytest.mark.parametrize("cls", ["LinearIPLookup", "RadixIPLookup", "DirectIPLookup"])
def test_handlers_add_set_remove_ctrl_flush_table(cls):
    h = Harness(f"{cls}(10.0.0.0/8 0, 18.26.4.0/24 18.26.4.1 1)", outputs=2)
    assert h.handler("table") == "10.0.0.0/8\t\t-\t\t0\n18.26.4.0/24\t\t18.26.4.1\t1\n"
    h.write("add", "192.168.0.0/16 1")
    with pytest.raises(HandlerError, match="conflict with existing route"):
        h.write("add", "192.168.0.0/16 0")
    h.write("set", "192.168.0.0/16 10.0.0.1 0")
    assert h.handler("lookup", "192.168.3.3") == "0 10.0.0.1"
    with pytest.raises(HandlerError, match="not found"):
        h.write("remove", "192.168.0.0/16 1.1.1.1 0")       # gateway must match when given
    h.write("remove", "192.168.0.0/16")
    assert h.handler("lookup", "192.168.3.3") == "-1"
    with pytest.raises(HandlerError, match="bad OUTPUT"):
        h.write("add", "1.0.0.0/8 5")
    with pytest.raises(HandlerError, match="expected"):
        h.write("add", "not a route")
    before = h.handler("table")
    with pytest.raises(HandlerError, match="not found"):
        h.write("ctrl", "add 1.0.0.0/8 1\nset 10.0.0.0/8 1\nremove 2.0.0.0/8")
    assert h.handler("table") == before                     # all or nothing
    h.write("ctrl", "add 1.0.0.0/8 1\nset 10.0.0.0/8 1\n\nremove 18.26.4.0/24")
    assert h.handler("lookup", "1.2.3.4") == "1" and h.handler("lookup", "10.0.0.1") == "1"
    assert h.handler("lookup", "18.26.4.9") == "-1"
    h.write("flush")
    assert h.handler("table") == "" and h.handler("lookup", "10.0.0.1") == "-1"
    with pytest.raises(HandlerError):
        h.handler("lookup")
    with pytest.raises(HandlerError, match="expected IP address"):
        h.handler("lookup", "nonsense")


def test_staticiplookup_refuses_changes():
    h = Harness("StaticIPLookup(10.0.0.0/8 0)", outputs=1)
    for name, value in (("add", "1.0.0.0/8 0"), ("remove", "10.0.0.0/8"), ("set", "10.0.0.0/8 0")):
        with pytest.raises(HandlerError, match="dynamically"):
            h.write(name, value)
    assert h.handler("lookup", "10.1.1.1") == "0"


def test_later_config_routes_replace_earlier_ones_with_a_warning():
    h = Harness("RadixIPLookup(10.0.0.0/8 0, 10.0.0.0/8 1)", outputs=2)
    assert h.handler("lookup", "10.0.0.1") == "1"
    assert any("replaced by later versions" in d.message for d in h.router.warnings)


@pytest.mark.parametrize("bad", ["RadixIPLookup(10.0.0.0/8 3)", "RadixIPLookup(10.0.0.0/8)",
                                 "DirectIPLookup(10.0.0.0/255.0.255.0 0)", "LinearIPLookup(10.0.0.0/8 0 junk)",
                                 "RadixIPLookup(10.0.0.0/40 0)"])
def test_bad_routes_are_config_errors(bad):
    with pytest.raises(ConfigError):
        Harness(bad, outputs=1)


def test_linear_accepts_noncontiguous_masks_like_click():
    h = Harness("LinearIPLookup(10.0.0.5/255.0.0.255 0, 10.0.0.0/8 1)", outputs=2)
    assert h.handler("lookup", "10.77.1.5") == "0"
    assert h.handler("lookup", "10.77.1.6") == "1"


def test_route_syntax_forms():
    h = Harness("RadixIPLookup(18.26.4/24 0, 1.2.3.4 1, 5.0.0.0/255.0.0.0 - 0)", outputs=2)
    assert h.handler("table").splitlines() == ["18.26.4.0/24\t\t-\t\t0", "1.2.3.4/32\t\t-\t\t1",
                                                "5.0.0.0/8\t\t-\t\t0"]


def brute_force_many(routes, addrs):
    """Vectorized brute force: the port of the longest matching prefix for each address."""
    import numpy as np
    best_len = np.full(len(addrs), -1, dtype=np.int64)
    best_port = np.full(len(addrs), -1, dtype=np.int64)
    a = np.asarray(addrs, dtype=np.uint64)
    for (prefix, plen), (gw, port) in routes.items():
        hit = ((a & mask(plen)) == prefix) & (plen > best_len)
        best_len[hit] = plen
        best_port[hit] = port
    return best_port


@pytest.mark.parametrize("cls", TRIES)
def test_bulk_and_packet_paths_agree_with_brute_force(cls):
    import numpy as np
    rng = random.Random(99)
    routes = random_table(rng, 3000, 4, lengths=range(8, 33))
    h = Harness(f"{cls}()", outputs=4)
    h.elem.load_routes([(a, mask(plen), gw, port) for (a, plen), (gw, port) in routes.items()])
    addrs = np.array(probe_addresses(rng, routes, 20000), dtype=np.uint32)
    ports = np.empty(len(addrs), dtype=np.int32)
    h.elem.lookup_array(addrs, ports)
    assert (ports == brute_force_many(routes, addrs)).all()
    # the packet path, in full batches
    sample = addrs[:1024]
    xs = [h.packet(b"p" + i.to_bytes(4, "big"), user=user_anno(ip_text(int(a)))) for i, a in enumerate(sample)]
    out = h.push(xs)
    expect = brute_force_many(routes, sample)
    for port in range(4):
        got = sorted(int.from_bytes(o.data[1:5], "big") for o in out[port])
        assert got == [i for i in range(len(sample)) if expect[i] == port]
    assert int(h.handler("drops")) == int((expect < 0).sum())
