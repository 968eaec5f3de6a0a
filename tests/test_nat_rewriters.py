"""The IPRewriter family: sessions rewritten both ways (checked by scapy),
port allocation, timeouts on a simulated clock, the capacity policy against
a model of Click's, the other rewriters, handlers, hot swap and bad input."""
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

scapy = pytest.importorskip("scapy.all")
from scapy.all import ICMP, IP, TCP, UDP, IPerror, Raw, TCPerror, UDPerror  # noqa: E402

from clickpy.lang.graph import ConfigError  # noqa: E402
from clickpy.router import Router  # noqa: E402
from ipharness import drain_queues  # noqa: E402

INSIDE = "10.0.0.5"
SERVER = "8.8.8.8"
PUBLIC = "1.2.3.4"


class Rig:
    """A rewriter fed by inactive sources on each input, each output drained
    through a queue; packets go in as raw IP (network header at 0)."""

    def __init__(self, decl, inputs=2, outputs=2, extra="", pool=None):
        lines = [f"rw :: {decl};"]
        lines += [f"s{i} :: InfiniteSource(ACTIVE false) -> [{i}] rw;" for i in range(inputs)]
        lines += [f"rw[{k}] -> q{k} :: Queue(1000000) -> Discard(ACTIVE false);" for k in range(outputs)]
        kw = {"pool": pool} if pool is not None else {}
        self.router = Router.from_string("\n".join(lines) + extra, warnings=False, **kw)
        self.pool = self.router.pool
        self.rw = self.router.element("rw")
        self.outputs = outputs

    def push(self, port, packets, network_offset=0):
        xs = []
        for p in packets:
            x = self.pool.new_packet(bytes(p))
            if network_offset is not None:
                self.pool.set_annotation(x, "network_offset", network_offset)
            xs.append(x)
        self.rw.push_packets(port, xs)
        return self.collect()

    def collect(self):
        return drain_queues(self.router, self.outputs, make=lambda data, anno: (data, anno))

    def one(self, port, packet):
        """Push one packet; return (output, rewritten IP packet) or None if dropped."""
        out = self.push(port, [packet])
        hits = [(k, IP(o[0][0])) for k, o in enumerate(out) if o]
        assert len(hits) <= 1
        return hits[0] if hits else None

    def h(self, name, param=None):
        return self.router.handler(f"rw.{name}", param)


def assert_checksums_valid(p):
    """Every checksum as scapy computes it from scratch."""
    raw = bytes(p)
    fresh = IP(raw)
    del fresh.chksum
    for layer in (TCP, UDP, ICMP):
        if layer in fresh and not (layer is UDP and fresh[UDP].chksum == 0):
            del fresh[layer].chksum
    fresh = IP(bytes(fresh))
    assert fresh.chksum == p.chksum, "IP checksum"
    for layer in (TCP, UDP, ICMP):
        if layer in p:
            assert fresh[layer].chksum == p[layer].chksum, f"{layer.__name__} checksum"


NAPT = "IPRewriter(pattern 1.2.3.4 1024-65535 - - 0 1, drop)"


# ---------------------------------------------------------------------------
# a TCP session and a UDP exchange, both ways

def test_tcp_session_rewritten_both_ways():
    r = Rig(NAPT)
    c, s = INSIDE, SERVER
    out_syn = r.one(0, IP(src=c, dst=s) / TCP(sport=40000, dport=80, flags="S", seq=1000))
    assert out_syn[0] == 0
    p = out_syn[1]
    assert (p.src, p.dst, p[TCP].dport, p[TCP].seq) == (PUBLIC, s, 80, 1000)
    nat_port = p[TCP].sport
    assert nat_port == 40000                       # the packet's own port, free
    assert_checksums_valid(p)
    exchange = [
        (1, IP(src=s, dst=PUBLIC) / TCP(sport=80, dport=nat_port, flags="SA", seq=5000, ack=1001)),
        (0, IP(src=c, dst=s) / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=5001)),
        (0, IP(src=c, dst=s) / TCP(sport=40000, dport=80, flags="PA", seq=1001, ack=5001) / Raw(b"GET / HTTP/1.0\r\n\r\n")),
        (1, IP(src=s, dst=PUBLIC) / TCP(sport=80, dport=nat_port, flags="PA", seq=5001, ack=1019) / Raw(b"x" * 301)),
        (0, IP(src=c, dst=s) / TCP(sport=40000, dport=80, flags="FA", seq=1019, ack=5302)),
        (1, IP(src=s, dst=PUBLIC) / TCP(sport=80, dport=nat_port, flags="FA", seq=5302, ack=1020)),
        (0, IP(src=c, dst=s) / TCP(sport=40000, dport=80, flags="A", seq=1020, ack=5303)),
    ]
    for port, pkt in exchange:
        got = r.one(port, pkt)
        assert got is not None
        k, q = got
        assert_checksums_valid(q)
        assert q[TCP].seq == pkt[TCP].seq and q[TCP].ack == pkt[TCP].ack
        assert bytes(q[TCP].payload) == bytes(pkt[TCP].payload)
        if port == 0:
            assert k == 0 and (q.src, q[TCP].sport, q.dst, q[TCP].dport) == (PUBLIC, nat_port, s, 80)
        else:
            assert k == 1 and (q.src, q[TCP].sport, q.dst, q[TCP].dport) == (s, 80, c, 40000)
    assert r.h("nmappings") == "1" and r.h("size") == "1"


def test_udp_exchange_rewritten_both_ways():
    r = Rig(NAPT)
    q1 = IP(src=INSIDE, dst=SERVER) / UDP(sport=5353, dport=53) / Raw(b"query")
    k, p = r.one(0, q1)
    assert k == 0 and (p.src, p[UDP].sport, p.dst, p[UDP].dport) == (PUBLIC, 5353, SERVER, 53)
    assert_checksums_valid(p)
    k, p = r.one(1, IP(src=SERVER, dst=PUBLIC) / UDP(sport=53, dport=5353) / Raw(b"answer!"))
    assert k == 1 and (p.src, p[UDP].sport, p.dst, p[UDP].dport) == (SERVER, 53, INSIDE, 5353)
    assert_checksums_valid(p)
    assert bytes(p[UDP].payload) == b"answer!"


def test_udp_without_checksum_keeps_none():
    r = Rig(NAPT)
    pkt = IP(src=INSIDE, dst=SERVER) / UDP(sport=1, dport=2, chksum=0) / Raw(b"abc")
    k, p = r.one(0, pkt)
    assert p[UDP].chksum == 0 and p.src == PUBLIC
    assert_checksums_valid(p)


def test_checksums_on_many_random_flows():
    """Incremental checksum updates agree with scapy's full computation
    over many addresses and ports (every carry case of RFC 1624)."""
    rnd = random.Random(3)
    r = Rig("IPRewriter(pattern 1.2.3.4 1024-65535? - - 0 1, drop)")
    pkts = []
    for i in range(400):
        src = ".".join(str(rnd.randrange(256)) for _ in range(4))
        dst = ".".join(str(rnd.randrange(256)) for _ in range(4))
        l4 = (TCP(sport=rnd.randrange(65536), dport=rnd.randrange(1, 65536), seq=rnd.randrange(2**32), flags="S")
              if i % 2 else UDP(sport=rnd.randrange(65536), dport=rnd.randrange(1, 65536)))
        pkts.append(IP(src=src, dst=dst, ttl=rnd.randrange(256), id=rnd.randrange(65536)) / l4 / Raw(bytes(rnd.randrange(256) for _ in range(i % 37))))
    out = r.push(0, pkts)
    assert len(out[0]) == 400
    for data, _ in out[0]:
        p = IP(data)
        assert p.src == PUBLIC
        assert_checksums_valid(p)


# ---------------------------------------------------------------------------
# input specs, allocation, unmapped packets

def test_unsolicited_inbound_dropped_and_counted():
    r = Rig(NAPT)
    assert r.one(1, IP(src=SERVER, dst=PUBLIC) / TCP(sport=80, dport=4444, flags="S")) is None
    assert r.h("drops") == "1" and r.h("size") == "0"


def test_port_allocation():
    r = Rig("IPRewriter(pattern 1.2.3.4 5000-5002 - - 0 1, drop)")
    got = []
    for host in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        res = r.one(0, IP(src=host, dst=SERVER) / UDP(sport=5000, dport=53))
        got.append(res[1][UDP].sport if res else None)
    assert got[0] == 5000                       # the packet's own port when free
    assert sorted(got[:3]) == [5000, 5001, 5002]
    assert got[3] is None                       # range exhausted: dropped, counted
    assert r.h("mapping_failures") == "1"
    # TCP has its own table: the same public port is free there
    k, p = r.one(0, IP(src="10.0.0.4", dst=SERVER) / TCP(sport=5000, dport=80))
    assert p[TCP].sport == 5000


def test_sequential_ports():
    r = Rig("IPRewriter(pattern 1.2.3.4 2000-2999# - - 0 1, drop)")
    ports = [r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=7000 + i, dport=53))[1][UDP].sport
             for i in range(5)]
    assert ports == [2000, 2001, 2002, 2003, 2004]


def test_keep_pass_and_fragments():
    r = Rig("IPRewriter(keep 0 1, pass 1)", inputs=2, outputs=2)
    k, p = r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=9, dport=10))
    assert k == 0 and (p.src, p[UDP].sport) == (INSIDE, 9)
    k, p = r.one(1, IP(src=SERVER, dst=INSIDE) / UDP(sport=10, dport=9))
    assert k == 1                                 # the kept flow's reply
    k, p = r.one(1, IP(src=SERVER, dst=INSIDE) / ICMP())
    assert k == 1                                 # pass: any packet, unchanged
    assert r.one(0, IP(src=INSIDE, dst=SERVER) / ICMP()) is None     # not TCP/UDP
    assert r.one(0, IP(src=INSIDE, dst=SERVER, frag=10) / Raw(b"x" * 20)) is None
    assert r.one(1, IP(src=INSIDE, dst=SERVER, frag=10) / Raw(b"x" * 20))[0] == 1


def test_tcp_rewriter_udp_rewriter_protocols():
    r = Rig("TCPRewriter(pattern 1.2.3.4 - - - 0 1)", inputs=1)
    assert r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=1, dport=2)) is None
    assert r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=1, dport=2))[1].src == PUBLIC
    # UDPRewriter: one table for TCP and UDP alike, UDP's timeouts
    r = Rig("UDPRewriter(pattern 1.2.3.4 3000-3000 - - 0 1)", inputs=1)
    k, p = r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=1, dport=2))
    assert p[TCP].sport == 3000
    assert_checksums_valid(p)
    # the same 4-tuple in UDP is the same flow
    k, p = r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=1, dport=2))
    assert p[UDP].sport == 3000 and r.h("size") == "1"


def test_round_robin_mapper_and_named_patterns():
    extra = """
    pats :: IPRewriterPatterns(web1 - - 10.1.0.1 8080, web2 - - 10.1.0.2 8080);
    rr :: RoundRobinIPMapper(web1 0 1, web2 0 1);
    """
    r = Rig("IPRewriter(rr, drop)", extra=extra)
    dsts = [r.one(0, IP(src=f"192.0.2.{i}", dst="198.51.100.1") / TCP(sport=1000, dport=80))[1]
            for i in range(1, 5)]
    assert [(p.dst, p[TCP].dport) for p in dsts] == [("10.1.0.1", 8080), ("10.1.0.2", 8080)] * 2
    k, p = r.one(1, IP(src="10.1.0.2", dst="192.0.2.2") / TCP(sport=8080, dport=1000))
    assert (k, p.src, p[TCP].sport) == (1, "198.51.100.1", 80)
    assert "<mapper>" in r.h("patterns")


def test_shared_named_pattern_between_rewriters():
    extra = """
    pats :: IPRewriterPatterns(out 1.2.3.4 4000-4999# - -);
    rw2 :: IPRewriter(pattern out 0 0);
    s9 :: InfiniteSource(ACTIVE false) -> rw2 -> Discard;
    """
    r = Rig("IPRewriter(pattern out 0 1, drop)", extra=extra)
    a = r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=1, dport=2))[1][UDP].sport
    x = r.pool.new_packet(bytes(IP(src=INSIDE, dst=SERVER) / UDP(sport=3, dport=2)))
    r.pool.set_annotation(x, "network_offset", 0)
    r.router.element("rw2").push_packets(0, [x])
    assert r.router.handler("rw2.size") == "1"
    b = r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=5, dport=2))[1][UDP].sport
    assert (a, b) == (4000, 4002)                 # rw2 took 4001 from the shared range


# ---------------------------------------------------------------------------
# timeouts, on the element's simulated clock

def exp_of(r, direction_line=0):
    line = r.h("table").splitlines()[direction_line]
    return int(re.search(r"exp(-?\d+)", line).group(1))


def test_tcp_timeouts_follow_connection_state():
    r = Rig(NAPT)
    r.rw.set_clock(1000.0)
    syn = IP(src=INSIDE, dst=SERVER) / TCP(sport=40000, dport=80, flags="S")
    r.one(0, syn)
    assert exp_of(r) == 300                        # TCP_NODATA_TIMEOUT
    r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=40000, dport=80, flags="PA") / Raw(b"x"))
    assert exp_of(r) == 300                        # data one way only
    r.one(1, IP(src=SERVER, dst=PUBLIC) / TCP(sport=80, dport=40000, flags="PA") / Raw(b"y"))
    assert exp_of(r) == 86400                      # data both ways: TCP_TIMEOUT
    r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=40000, dport=80, flags="FA"))
    assert exp_of(r) == 86400
    r.one(1, IP(src=SERVER, dst=PUBLIC) / TCP(sport=80, dport=40000, flags="FA"))
    assert exp_of(r) == 240                        # FIN both ways: TCP_DONE_TIMEOUT
    r.rw.advance_clock(200)
    r.rw.reap()
    assert r.h("size") == "1"
    r.rw.advance_clock(41)
    r.rw.reap()
    assert r.h("size") == "0" and r.h("nmappings") == "0"
    # the closed connection's port is free again, the same flow gets a new mapping
    assert r.one(1, IP(src=SERVER, dst=PUBLIC) / TCP(sport=80, dport=40000, flags="A")) is None


def test_rst_closes_and_udp_timeouts_expire():
    r = Rig("IPRewriter(pattern 1.2.3.4 1024-65535 - - 0 1, drop, UDP_TIMEOUT 30, "
            "UDP_STREAMING_TIMEOUT 100, TCP_DONE_TIMEOUT 10)")
    r.rw.set_clock(50.0)
    r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=1, dport=2, flags="S"))
    r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=1, dport=2, flags="R"))
    nat_port = r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=7, dport=8))[1][UDP].sport
    table = r.h("table")
    assert "exp10" in table and "exp30" in table
    # 3 packets with a reply: streaming, a longer timeout
    assert r.one(1, IP(src=SERVER, dst=PUBLIC) / UDP(sport=8, dport=nat_port))[0] == 1
    r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=7, dport=8))
    assert "exp100" in r.h("udp_table")
    r.rw.advance_clock(31)
    r.rw.reap()
    assert r.h("tcp_table") == "" and r.h("udp_table") != ""
    r.rw.advance_clock(70)
    r.rw.reap()
    assert r.h("size") == "0"


def test_guarantee_outlives_timeout_but_not_after():
    r = Rig("UDPRewriter(pattern 1.2.3.4 - - - 0 0, TIMEOUT 1, GUARANTEE 20)", inputs=1, outputs=1)
    r.rw.set_clock(0.0)
    r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=7, dport=8))
    r.rw.advance_clock(10)
    r.rw.reap()
    assert r.h("size") == "1"                      # still guaranteed
    r.rw.advance_clock(15)
    r.rw.reap()
    assert r.h("size") == "0"


def test_expiry_by_the_timer():
    r = Rig("IPRewriter(pattern 1.2.3.4 - - - 0 1, UDP_TIMEOUT 0.05, UDP_GUARANTEE 0, REAP_INTERVAL 0.02)",
            inputs=1)
    r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=7, dport=8))
    assert r.h("size") == "1"
    # the driver runs the reap timer; nothing else is scheduled
    r.router.run(timeout=1.0)
    assert r.h("size") == "0"


# ---------------------------------------------------------------------------
# capacity: the table never exceeds it, and Click's policy picks the victim

def test_capacity_evicts_best_effort_first_expiring():
    r = Rig("IPRewriter(pattern 1.2.3.4 - - - 0 1, MAPPING_CAPACITY 3, UDP_GUARANTEE 0)", inputs=1)
    r.rw.set_clock(0.0)
    for i in range(3):
        r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=100 + i, dport=53))
        r.rw.advance_clock(1)
    r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=100, dport=53))     # flow 100 is fresh again
    r.rw.advance_clock(1)
    r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=200, dport=53))
    assert r.h("size") == "3"
    flows = {int(m) for m in re.findall(r"\(10\.0\.0\.5, (\d+),", r.h("table"))}
    assert flows == {100, 102, 200}                # 101 expired first


def test_capacity_full_of_guaranteed_flows_drops_new_ones():
    r = Rig("IPRewriter(pattern 1.2.3.4 - - - 0 1, MAPPING_CAPACITY 2, UDP_GUARANTEE 5)", inputs=1)
    r.rw.set_clock(0.0)
    r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=1, dport=53))
    r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=2, dport=53))
    assert r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=3, dport=53)) is None
    assert r.h("mapping_failures") == "1" and r.h("size") == "2"
    r.rw.advance_clock(6)
    assert r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=3, dport=53)) is not None
    assert r.h("size") == "2"


def test_capacity_handler_shrinks_now():
    r = Rig("IPRewriter(pattern 1.2.3.4 - - - 0 1, UDP_GUARANTEE 0)", inputs=1)
    r.push(0, [IP(src=INSIDE, dst=SERVER) / UDP(sport=i, dport=53) for i in range(1, 50)])
    assert r.h("size") == "49"
    r.router.write("rw.capacity", "10")
    assert (r.h("capacity"), r.h("size")) == ("10", "10")
    r.router.write("rw.clear", "")
    assert r.h("size") == "0" and r.h("table") == ""


class ClickPolicyModel:
    """Click's flow set for UDP flows sent one way: a flow is guaranteed G
    after each packet and expires T after it; a full table drops the
    best-effort flow that expires first, or the new flow if none is."""

    def __init__(self, capacity, T, G):
        self.cap, self.T, self.G = capacity, T, G
        self.last = {}
        self.failures = 0

    def packet(self, flow, now):
        if flow in self.last:
            self.last[flow] = now
            return True
        self.last[flow] = now
        if len(self.last) > self.cap:
            best_effort = [f for f, t in self.last.items() if t + self.G <= now]
            if not best_effort:
                del self.last[flow]
                self.failures += 1
                return False
            victim = min(best_effort, key=lambda f: self.last[f] + self.T)
            del self.last[victim]
            if victim == flow:
                self.failures += 1
                return False
        return True

    def reap(self, now):
        for f, t in list(self.last.items()):
            if t + self.G <= now and t + self.T <= now:
                del self.last[f]


ops = st.lists(st.one_of(
    st.tuples(st.just("pkt"), st.integers(0, 24)),
    st.tuples(st.just("wait"), st.integers(1, 40)),
    st.tuples(st.just("reap"), st.just(0))), min_size=1, max_size=120)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.integers(1, 12), st.sampled_from([0, 3, 10]))
def test_capacity_policy_matches_click_model(operations, capacity, guarantee):
    T = 30
    r = Rig(f"IPRewriter(pattern 1.2.3.4 - - - 0 1, MAPPING_CAPACITY {capacity}, "
            f"UDP_TIMEOUT {T}, UDP_GUARANTEE {guarantee})", inputs=1)
    model = ClickPolicyModel(capacity, T * 1000, guarantee * 1000)
    now = 1_000_000                     # ms; every event at its own instant
    r.rw.set_clock(now / 1000)
    for op, arg in operations:
        now += 1
        r.rw.set_clock(now / 1000)
        if op == "pkt":
            ok = r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=1000 + arg, dport=53)) is not None
            assert ok == model.packet(arg, now)
        elif op == "wait":
            now += arg * 1000
        else:
            r.rw.set_clock(now / 1000)
            r.rw.reap()
            model.reap(now)
        assert int(r.h("size")) <= capacity
        table = r.h("table")
        flows = {int(m) - 1000 for m in re.findall(r"\(10\.0\.0\.5, (\d+), 8\.8\.8\.8", table)}
        assert flows == set(model.last)
        assert int(r.h("mapping_failures")) == model.failures


# ---------------------------------------------------------------------------
# the other rewriters

def test_ipaddrrewriter_basic_nat():
    r = Rig("IPAddrRewriter(pattern 1.0.0.1-1.0.0.10# - 0 1, drop)")
    k, p = r.one(0, IP(src="10.0.0.7", dst=SERVER) / ICMP(type=8))
    assert (k, p.src, p.dst) == (0, "1.0.0.1", SERVER)
    assert_checksums_valid(p)
    k, p = r.one(0, IP(src="10.0.0.7", dst="9.9.9.9") / TCP(sport=5, dport=6))
    assert (p.src, p[TCP].sport) == ("1.0.0.1", 5)         # same host, same address
    assert_checksums_valid(p)
    k, p = r.one(0, IP(src="10.0.0.8", dst=SERVER) / UDP(sport=5, dport=6))
    assert p.src == "1.0.0.2"
    k, p = r.one(1, IP(src=SERVER, dst="1.0.0.2") / UDP(sport=6, dport=5) / Raw(b"r"))
    assert (k, p.src, p.dst) == (1, SERVER, "10.0.0.8")
    assert_checksums_valid(p)
    out = r.push(1, [IP(src=SERVER, dst="1.0.0.2") / ICMP(type=0)])
    anno = out[1][0][1]
    assert bytes(anno["user"][0:4]) == bytes([10, 0, 0, 8])     # destination annotation
    assert "10.0.0.8 => 1.0.0.2" in r.h("table")


def test_ipaddrpairrewriter():
    r = Rig("IPAddrPairRewriter(pattern 1.0.0.1 2.0.0.2 0 1, drop)")
    k, p = r.one(0, IP(src="10.0.0.7", dst=SERVER) / UDP(sport=5, dport=6))
    assert (p.src, p.dst) == ("1.0.0.1", "2.0.0.2")
    assert_checksums_valid(p)
    k, p = r.one(1, IP(src="2.0.0.2", dst="1.0.0.1") / TCP(sport=6, dport=5))
    assert (k, p.src, p.dst) == (1, SERVER, "10.0.0.7")
    assert_checksums_valid(p)
    assert "(10.0.0.7, 8.8.8.8) => (1.0.0.1, 2.0.0.2)" in r.h("table")


def test_icmppingrewriter():
    r = Rig("ICMPPingRewriter(pattern 1.2.3.4 3000-3999# - - 0 1, drop)")
    k, p = r.one(0, IP(src=INSIDE, dst=SERVER) / ICMP(type=8, id=77, seq=1) / Raw(b"ping"))
    assert (k, p.src, p[ICMP].id, p[ICMP].seq) == (0, PUBLIC, 3000, 1)
    assert_checksums_valid(p)
    k, p = r.one(1, IP(src=SERVER, dst=PUBLIC) / ICMP(type=0, id=3000, seq=1) / Raw(b"ping"))
    assert (k, p.dst, p[ICMP].id) == (1, INSIDE, 77)
    assert_checksums_valid(p)
    assert r.one(1, IP(src=SERVER, dst=PUBLIC) / ICMP(type=0, id=3001, seq=1)) is None
    assert r.one(0, IP(src=INSIDE, dst=SERVER) / ICMP(type=3)) is None
    assert f"({INSIDE}, {SERVER}, 77) => ({PUBLIC}, {SERVER}, 3000)" in r.h("table")


def test_icmprewriter_rewrites_errors_about_nated_packets():
    extra = """
    icmprw :: ICMPRewriter(rw pr);
    pr :: ICMPPingRewriter(pattern 1.2.3.4 - - - 0 1, drop);
    s8 :: InfiniteSource(ACTIVE false) -> [0] pr; s9 :: InfiniteSource(ACTIVE false) -> [1] pr;
    pr[0] -> Discard; pr[1] -> Discard;
    s7 :: InfiniteSource(ACTIVE false) -> icmprw -> iq0 :: Queue(100) -> Discard(ACTIVE false);
    icmprw[1] -> iq1 :: Queue(100) -> Discard(ACTIVE false);
    """
    r = Rig(NAPT, extra=extra)
    sent = r.one(0, IP(src=INSIDE, dst=SERVER, ttl=1) / UDP(sport=5000, dport=33434) / Raw(b"probe"))[1]
    assert sent.src == PUBLIC
    # a router on the way answers the rewritten packet with time exceeded
    err = IP(src="192.0.2.99", dst=PUBLIC) / ICMP(type=11, code=0) / bytes(sent)[:28]
    icmprw = r.router.element("icmprw")
    x = r.pool.new_packet(bytes(err))
    r.pool.set_annotation(x, "network_offset", 0)
    icmprw.push_packets(0, [x])
    (data,) = r.router.element("iq0").pull_packets(0)
    p = IP(r.pool.packet_bytes(data))
    r.pool.free_packet(data)
    assert p.dst == INSIDE
    quoted = p[IPerror]
    assert (quoted.src, quoted.dst, quoted[UDPerror].sport, quoted[UDPerror].dport) == \
        (INSIDE, SERVER, 5000, 33434)
    assert_checksums_valid(p)
    q = IP(bytes(quoted))                       # the quoted header's own checksum
    del q.chksum
    assert IP(bytes(q)).chksum == quoted.chksum


def test_icmprewriter_outputs():
    extra = """
    icmprw :: ICMPRewriter(rw);
    s7 :: InfiniteSource(ACTIVE false) -> icmprw -> iq0 :: Queue(100) -> Discard(ACTIVE false);
    icmprw[1] -> iq1 :: Queue(100) -> Discard(ACTIVE false);
    """
    r = Rig(NAPT, extra=extra)
    r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=6000, dport=22, flags="S"))
    pkts = [IP(src="192.0.2.99", dst=PUBLIC) / ICMP(type=3, code=3)
            / bytes(IP(src=PUBLIC, dst=SERVER) / TCP(sport=6000, dport=22, flags="S"))[:48],
            IP(src="192.0.2.99", dst=PUBLIC) / ICMP(type=3) / bytes(IP(src="5.5.5.5", dst="6.6.6.6") / UDP())[:28],
            IP(src="192.0.2.99", dst=PUBLIC) / ICMP(type=8),
            IP(src="192.0.2.99", dst=PUBLIC) / UDP()]
    icmprw = r.router.element("icmprw")
    xs = []
    for pkt in pkts:
        x = r.pool.new_packet(bytes(pkt))
        r.pool.set_annotation(x, "network_offset", 0)
        xs.append(x)
    icmprw.push_packets(0, xs)
    mapped = r.router.element("iq0").pull_packets(0)
    other = r.router.element("iq1").pull_packets(0)
    assert (len(mapped), len(other)) == (1, 2)          # the UDP packet is dropped
    p = IP(r.pool.packet_bytes(mapped[0]))
    assert p.dst == INSIDE and p[TCPerror].sport == 6000 and p[IPerror].src == INSIDE
    assert_checksums_valid(p)
    for x in mapped + other:
        r.pool.free_packet(x)


# ---------------------------------------------------------------------------
# TCP sequence number deltas (what FTPPortMapper asks TCPRewriter for)

def test_tcp_sequence_deltas_and_sack():
    r = Rig("TCPRewriter(pattern 1.2.3.4 - - - 0 1, drop)")
    r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=21, dport=4000, flags="S", seq=100))
    assert r.rw.update_seqno_delta(INSIDE, 21, SERVER, 4000, 1000, 5)
    k, p = r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=21, dport=4000, flags="A", seq=999, ack=1))
    assert p[TCP].seq == 999                       # before the trigger
    k, p = r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=21, dport=4000, flags="A", seq=1000, ack=1))
    assert p[TCP].seq == 1005
    assert_checksums_valid(p)
    # the reply acknowledges shifted numbers: they are shifted back, SACK blocks too
    reply = (IP(src=SERVER, dst=PUBLIC)
             / TCP(sport=4000, dport=21, flags="A", seq=1, ack=1010,
                   options=[("NOP", None), ("NOP", None), ("SAck", (1020, 1030))]))
    k, p = r.one(1, reply)
    assert k == 1 and p[TCP].ack == 1005
    sack = dict(p[TCP].options)["SAck"]
    assert sack == (1015, 1025)
    assert_checksums_valid(p)
    # an odd-aligned SACK block
    reply = (IP(src=SERVER, dst=PUBLIC)
             / TCP(sport=4000, dport=21, flags="A", seq=1, ack=1010,
                   options=[("NOP", None), ("SAck", (1020, 1030)), ("NOP", None)]))
    k, p = r.one(1, reply)
    assert dict(p[TCP].options)["SAck"] == (1015, 1025)
    assert_checksums_valid(p)
    assert "seq +5" in r.h("table")
    assert not r.rw.update_seqno_delta(INSIDE, 21, SERVER, 4000, 500, 1)   # triggers must increase


# ---------------------------------------------------------------------------
# handlers, configuration errors, hot swap, bad input

def test_handlers():
    r = Rig("IPRewriter(pattern 1.2.3.4 1024-65535 - - 0 1, drop)")
    r.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=40000, dport=80, flags="S"))
    table = r.h("table")
    assert table.splitlines()[0].startswith(
        f"({INSIDE}, 40000, {SERVER}, 80) => ({PUBLIC}, 40000, {SERVER}, 80) [*0 1] i0 exp")
    assert table.splitlines()[1].startswith(
        f"({SERVER}, 80, {PUBLIC}, 40000) => ({SERVER}, 80, {INSIDE}, 40000) [0 *1] i0 exp")
    assert r.h("mappings") == table and r.h("tcp_table") == table and r.h("udp_table") == ""
    assert r.h("tcp_lookup", f"{INSIDE} 40000 {SERVER} 80") == f"{PUBLIC} 40000 {SERVER} 80"
    assert r.h("tcp_lookup", f"{INSIDE} 1 {SERVER} 80") == ""
    assert r.h("patterns") == "1.2.3.4 1024-65535 - - [1]\n<drop>\n"
    assert r.h("pattern1") == "<drop>"
    r.router.write("rw.pattern0", "pattern 5.6.7.8 - - - 0 1")
    assert r.h("size") == "0"                      # the old pattern's flows went
    k, p = r.one(0, IP(src=INSIDE, dst=SERVER) / UDP(sport=1, dport=2))
    assert p.src == "5.6.7.8"
    from clickpy.element import HandlerError
    with pytest.raises(HandlerError):
        r.router.write("rw.pattern0", "pattern 1.2.3 - - - 0 1")
    with pytest.raises(HandlerError):
        r.router.write("rw.capacity", "lots")


@pytest.mark.parametrize("decl,message", [
    ("IPRewriter(drop, drop, drop)", "need 2 arguments, one per input port"),
    ("IPRewriter(pattern 1.2.3 - - - 0 1, drop)", "input spec 0: bad source address"),
    ("IPRewriter(pattern 1.2.3.4 70000 - - 0 1, drop)", "bad source port"),
    ("IPRewriter(pattern 1.2.3.4 - - - 0 7, drop)", "output port out of range"),
    ("IPRewriter(pattern - - - 0 1, drop)", "syntax error"),
    ("IPRewriter(pattern nosuch 0 1, drop)", "no such pattern 'nosuch'"),
    ("IPRewriter(frob, drop)", "unknown specification"),
    ("IPRewriter(drop 3, drop)", "syntax error, expected 'drop'"),
    ("IPRewriter(drop, drop, MAPPING_CAPACITY lots)", "bad MAPPING_CAPACITY"),
    ("IPRewriter(drop, drop, MAPPING_CAPACITY s0)", "not supported"),
    ("IPAddrRewriter(pattern 1.2.3.4 5.6.7.8 0 1, drop)", "change the source address only"),
    ("IPRewriter(s0, drop)", "element is not an IPMapper"),
])
def test_configuration_errors(decl, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Rig(decl)


def test_take_state_carries_flows():
    old = Rig(NAPT)
    k, p = old.one(0, IP(src=INSIDE, dst=SERVER) / TCP(sport=40000, dport=80, flags="S"))
    old.one(0, IP(src="10.0.0.6", dst=SERVER) / UDP(sport=40000, dport=53))
    new = Rig(NAPT + "", pool=old.pool)
    new.rw.take_state(old.rw)
    assert new.h("size") == "2" and old.h("size") == "0" and new.h("nmappings") == "2"
    k, p = new.one(1, IP(src=SERVER, dst=PUBLIC) / TCP(sport=80, dport=40000, flags="SA"))
    assert (k, p.dst, p[TCP].dport) == (1, INSIDE, 40000)
    # a config whose outputs cannot hold the flows: they are dropped and counted
    smaller = Rig("IPRewriter(pattern 1.2.3.4 1024-65535 - - 0 0)", inputs=1, outputs=1, pool=old.pool)
    smaller.rw.take_state(new.rw)
    assert smaller.h("size") == "0" and smaller.h("mapping_failures") == "2"
    # a smaller capacity keeps as many flows as fit
    a = Rig("IPRewriter(pattern 1.2.3.4 - - - 0 1, UDP_GUARANTEE 0)", inputs=1)
    a.push(0, [IP(src=INSIDE, dst=SERVER) / UDP(sport=i, dport=53) for i in range(1, 21)])
    b = Rig("IPRewriter(pattern 1.2.3.4 - - - 0 1, UDP_GUARANTEE 0, MAPPING_CAPACITY 5)", inputs=1, pool=a.pool)
    b.rw.take_state(a.rw)
    assert b.h("size") == "5"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=120), st.sampled_from([None, 0, 3, 60]),
       st.sampled_from(["IPRewriter(pattern 1.2.3.4 1024-65535 - - 0 1, pass 1)",
                        "UDPRewriter(pattern 1.2.3.4 - - - 0 1, drop)",
                        "IPAddrRewriter(pattern 1.2.3.4 - 0 1, drop)",
                        "IPAddrPairRewriter(pattern 1.2.3.4 - 0 1, drop)",
                        "ICMPPingRewriter(pattern 1.2.3.4 - - - 0 1, drop)"]))
def test_random_bytes_never_crash(data, offset, decl):
    r = Rig(decl)
    if offset is not None and offset > len(data):
        offset = None
    r.push(0, [data], network_offset=offset)
    r.push(1, [data], network_offset=offset)


def test_truncated_headers_are_dropped_or_passed():
    r = Rig("IPRewriter(pattern 1.2.3.4 - - - 0 1, pass 1)")
    full = bytes(IP(src=INSIDE, dst=SERVER) / TCP(sport=1, dport=2))
    for n in (0, 10, 19, 20, 27):
        assert r.push(0, [full[:n]]) == [[], []]
        out = r.push(1, [full[:n]])
        assert [len(o) for o in out] == [0, 1] and out[1][0][0] == full[:n]    # unchanged
    assert r.h("size") == "0" and r.h("drops") == "5"
    # a TCP header cut after 8 bytes: addresses change, ports stay (as in Click)
    k, p = r.one(0, full[:28])
    assert p.src == PUBLIC
