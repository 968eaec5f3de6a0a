"""IPFilter and IPClassifier as elements: ports, batches, handlers, errors.

The languages themselves are tested against a reference evaluator in
test_classify_ipfilter.py; here the same generated rules and packets go
through the elements (annotations, per-output batches, compaction), and
every keyword and operator is exercised on packets crafted with scapy.
"""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

scapy = pytest.importorskip("scapy.all")
from scapy.all import ICMP, IP, TCP, UDP, Ether, IPOption_NOP, Raw  # noqa: E402

from clickpy.lang.graph import ConfigError  # noqa: E402
from clickpy.router import Router  # noqa: E402
from ipharness import Harness  # noqa: E402
from test_classify_ipfilter import (FIELDS, POOL, Rnd, action, action_output, ev, expr,  # noqa: E402
                                    render)

ETH = Ether(src="00:11:22:33:44:55", dst="66:77:88:99:aa:bb")


def filter_outputs(decl, frames, outputs, *, with_transport=False):
    """Push Ethernet frames (MAC and IP header annotations set) through decl;
    return, per output, the frames that came out, in order."""
    h = Harness(decl, outputs=outputs)
    xs = []
    for f in frames:
        kw = {"mac_offset": 0, "network_offset": 14}
        if with_transport:
            kw["transport_offset"] = 14 + (f[14] & 15) * 4
        xs.append(h.packet(f, **kw))
    out = h.push(xs)
    return [[o.data for o in port] for port in out]


def expected_outputs(frames, decide, outputs):
    want = [[] for _ in range(outputs)]
    for f, fields in zip(frames, FIELDS):
        k = decide(fields)
        if 0 <= k < outputs:
            want[k].append(f)
    return want


def rules_text(items):
    # commas separate rules in a config: none of the rendered rules has one
    return ", ".join(items)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(action, expr), min_size=1, max_size=4), st.integers(0, 2**32), st.booleans())
def test_ipfilter_element_matches_reference(rules, seed, with_transport):
    texts = [f"{a} {render(e, Rnd(seed + i))}" for i, (a, e) in enumerate(rules)]

    def decide(fields):
        for a, e in rules:
            if ev(e, fields):
                return action_output(a)
        return -1
    got = filter_outputs(f"IPFilter({rules_text(texts)})", POOL, 3, with_transport=with_transport)
    assert got == expected_outputs(POOL, decide, 3), texts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(expr, min_size=1, max_size=4), st.integers(0, 2**32))
def test_ipclassifier_element_matches_reference(patterns, seed):
    texts = [render(e, Rnd(seed + i)) for i, e in enumerate(patterns)]

    def decide(fields):
        return next((i for i, e in enumerate(patterns) if ev(e, fields)), -1)
    got = filter_outputs(f"IPClassifier({rules_text(texts)})", POOL, len(texts))
    assert got == expected_outputs(POOL, decide, len(texts)), texts


def test_ipfilter_with_a_switch_matches_the_packet_fields():
    # host lists compile to a SWITCH instruction; ports need the transport header
    hosts = ["10.0.0.1", "10.1.2.3", "192.168.1.77", "172.16.5.4"]
    rules = [f"allow dst host {' or dst host '.join(hosts)}", "1 udp && dst port 53", "deny all"]
    h = Router.from_string(f"Idle -> f :: IPFilter({rules_text(rules)}) -> Discard; f[1] -> Discard;")
    assert "switch" in h.handler("f.program")
    addrs = [int.from_bytes(bytes(map(int, a.split("."))), "big") for a in hosts]

    def decide(fields):
        if fields["dst"] in addrs:
            return 0
        if fields["proto"] == 17 and fields["first"] and fields["tlen"] >= 4 and fields["dport"] == 53:
            return 1
        return -1
    for with_transport in (True, False):
        got = filter_outputs(f"IPFilter({rules_text(rules)})", POOL, 2, with_transport=with_transport)
        assert got == expected_outputs(POOL, decide, 2)


# ---------------------------------------------------------------------------
# every keyword and operator, one packet at a time

def udp(**kw):
    return ETH / IP(src="10.0.0.1", dst="192.168.1.2", **kw) / UDP(sport=1234, dport=53) / Raw(b"q" * 12)


def tcp(flags="S", sport=40000, dport=80, **kw):
    return ETH / IP(src="10.0.0.1", dst="192.168.1.2", **kw) / TCP(sport=sport, dport=dport, flags=flags,
                                                                   window=8192)


def icmp(type_=8, **kw):
    return ETH / IP(src="10.0.0.1", dst="192.168.1.2", **kw) / ICMP(type=type_)


# (pattern, packet, matches?) -- expectations from the packets' fields
CASES = [
    ("host 10.0.0.1", udp(), True),
    ("host 192.168.1.2", udp(), True),
    ("host 10.0.0.2", udp(), False),
    ("src host 10.0.0.1", udp(), True),
    ("dst host 10.0.0.1", udp(), False),
    ("src and dst host 10.0.0.1", udp(), False),
    ("src or dst host 192.168.1.2", udp(), True),
    ("src 10.0.0.1", udp(), True),
    ("dst net 192.168.0.0/16", udp(), True),
    ("dst net 192.168.2.0/24", udp(), False),
    ("src net 10.0.0.0 mask 255.255.255.0", udp(), True),
    ("dst 192.168/16", udp(), True),
    ("ip proto 17", udp(), True),
    ("ip proto udp", udp(), True),
    ("proto 6", udp(), False),
    ("udp", udp(), True),
    ("tcp", udp(), False),
    ("icmp", icmp(), True),
    ("igmp", udp(), False),
    ("tcpudp", tcp(), True),
    ("port 53", udp(), True),
    ("dst port 53", udp(), True),
    ("src port 53", udp(), False),
    ("udp port domain", udp(), True),
    ("dst port dns", udp(), True),
    ("tcp port www", tcp(dport=80), True),
    ("tcp dst port http", tcp(dport=8080), False),
    ("dst port 50-60", udp(), True),
    ("dst port 54-60", udp(), False),
    ("src port 1000-2000", udp(), True),
    ("dst port != 53", udp(), False),
    ("dst port > 52", udp(), True),
    ("dst port < 53", udp(), False),
    ("dst port >= 53", udp(), True),
    ("dst port <= 52", udp(), False),
    ("src port > 1023", tcp(sport=40000), True),
    ("ip ttl 64", udp(ttl=64), True),
    ("ttl > 64", udp(ttl=64), False),
    ("ip ttl < 2", udp(ttl=1), True),
    ("ip tos 16", udp(tos=16), True),
    ("ip tos & 0xf0 == 0x10", udp(tos=0x13), True),
    ("ip dscp 46", udp(tos=46 << 2), True),
    ("ip dscp 46", udp(tos=46), False),
    ("ip len 40", udp(), True),          # 20 + 8 + 12
    ("ip len > 100", udp(), False),
    ("ip id 4242", udp(id=4242), True),
    ("ip vers 4", udp(), True),
    ("ip hl 5", udp(), True),
    ("ip hl > 5", udp(options=[IPOption_NOP()] * 4), True),
    ("ip frag", udp(flags="MF"), True),
    ("ip frag", udp(frag=3), True),
    ("ip frag", udp(), False),
    ("ip unfrag", udp(), True),
    ("ip unfrag", udp(frag=3), False),
    ("ip ect", udp(tos=1), True),
    ("ip ect", udp(tos=0), False),
    ("ip ce", udp(tos=3), True),
    ("ip ce", udp(tos=2), False),
    ("tcp opt syn", tcp(flags="S"), True),
    ("tcp opt ack", tcp(flags="S"), False),
    ("syn && !ack", tcp(flags="S"), True),
    ("syn && !ack", tcp(flags="SA"), False),
    ("fin or rst", tcp(flags="R"), True),
    ("tcp opt psh", tcp(flags="PA"), True),
    ("tcp opt urg", tcp(flags="U"), True),
    ("tcp win 8192", tcp(), True),
    ("tcp win > 9000", tcp(), False),
    ("icmp type echo", icmp(8), True),
    ("icmp type echo-reply", icmp(0), True),
    ("icmp type 3", icmp(3), True),
    ("icmp type != echo", icmp(0), True),
    ("unreachable", icmp(3), True),
    ("ether src host 00:11:22:33:44:55", udp(), True),
    ("ether dst 66:77:88:99:aa:bb", udp(), True),
    ("ether src 66:77:88:99:aa:bb", udp(), False),
    ("ip[9] 17", udp(), True),
    ("ip[12:4] 0x0a000001", udp(), True),
    ("udp[2:2] 53", udp(), True),
    ("transp[0:2] > 1000", udp(), True),
    ("tcp[13] & 2 != 0", tcp(flags="S"), True),
    ("udp and dst port 53", udp(), True),
    ("udp && dst port 54", udp(), False),
    ("tcp or dst port 53", udp(), True),
    ("tcp || icmp", udp(), False),
    ("not tcp", udp(), True),
    ("! udp", udp(), False),
    ("!(tcp or icmp)", udp(), True),
    ("udp dst port 53", udp(), True),           # implicit and
    ("(udp or tcp) and (src host 10.0.0.1)", udp(), True),
    ("udp ? dst port 53 : tcp", udp(), True),
    ("udp ? dst port 54 : true", udp(), False),
    ("-", udp(), True),
    ("any", tcp(), True),
    ("all", icmp(), True),
    ("true", udp(), True),
    ("false", udp(), False),
    ("src port 1234 or 5678", udp(), True),     # data borrows "src port"
]


@pytest.mark.parametrize("pattern,packet,matches", CASES, ids=[c[0] for c in CASES])
def test_every_keyword_and_operator(pattern, packet, matches):
    frame = bytes(packet)
    for decl, outputs in ((f"IPClassifier({pattern})", 1), (f"IPFilter(allow {pattern})", 1),
                          (f"IPFilter(drop {pattern}, 1 all)", 2)):
        h = Harness(decl, outputs=outputs)
        out = h.push([h.packet(frame, mac_offset=0, network_offset=14)])
        if decl.startswith("IPFilter(drop"):
            assert [len(o) for o in out] == [0, 0 if matches else 1], decl
        else:
            assert len(out[0]) == (1 if matches else 0), decl


def test_actions_allow_deny_drop_and_numbers():
    rules = "0 udp, 2 icmp, deny tcp && dst port 22, drop src host 10.0.0.9, allow tcp, 1 all"
    frames = [udp(), icmp(), tcp(dport=22), tcp(dport=80), ETH / IP(src="10.0.0.9") / UDP(),
              ETH / IP(src="10.0.0.9", proto=47) / Raw(b"x" * 20), ETH / IP(proto=47) / Raw(b"y" * 20)]
    h = Harness(f"IPFilter({rules})", outputs=3)
    out = h.push([h.packet(bytes(f), network_offset=14) for f in frames])
    data = [[o.data for o in port] for port in out]
    b = [bytes(f) for f in frames]
    assert data == [[b[0], b[3], b[4]], [b[6]], [b[1]]]


def test_deny_with_several_outputs_warns_and_drops():
    r = Router.from_string("InfiniteSource(ACTIVE false) -> f :: IPFilter(deny tcp, 1 all) -> Discard; f[1] -> Discard;",
                           warnings=False)
    assert any("meaning of 'deny' has changed" in w.message for w in r.warnings)
    assert all(w.location == r.element("f").location for w in r.warnings)


def test_pattern_that_never_matches_warns():
    r = Router.from_string("InfiniteSource(ACTIVE false) -> c :: IPClassifier(tcp, tcp port 80, -);"
                           "c[0] -> Discard; c[1] -> Discard; c[2] -> Discard;", warnings=False)
    assert any("pattern 1" in w.message and "matches no packets" in w.message for w in r.warnings)


def test_zero_outputs_drops_everything():
    r = Router.from_string("src :: InfiniteSource(ACTIVE false) -> f :: IPFilter(drop all);", warnings=False)
    f = r.element("f")
    f.push_packets(0, [r.pool.new_packet(bytes(udp())) for _ in range(300)])
    assert r.pool.free_count == r.pool.size


def test_allow_with_zero_outputs_is_an_error():
    with pytest.raises(ConfigError, match="'allow' is meaningless"):
        Router.from_string("InfiniteSource(ACTIVE false) -> IPFilter(allow tcp);")


def test_ipclassifier_needs_an_output_per_pattern():
    with pytest.raises(ConfigError, match="3 patterns but 2 outputs"):
        Router.from_string("InfiniteSource(ACTIVE false) -> c :: IPClassifier(tcp, udp, -) -> Discard; c[1] -> Discard;")


def test_multiple_outputs_keep_packet_order():
    frames = []
    for i in range(600):
        frames.append(bytes(udp(id=i)) if i % 3 else bytes(tcp(sport=1000 + i)))
    out = filter_outputs("IPFilter(0 udp, 1 tcp)", frames, 2)
    assert out[0] == [f for i, f in enumerate(frames) if i % 3]
    assert out[1] == [f for i, f in enumerate(frames) if not i % 3]


def test_single_output_compacts_in_order():
    frames = [bytes(udp(id=i)) if i % 2 else bytes(tcp(sport=1000 + i)) for i in range(700)]
    assert filter_outputs("IPFilter(allow udp)", frames, 1) == [[f for i, f in enumerate(frames) if i % 2]]


def test_packets_without_annotations_or_truncated_are_handled():
    """No IP header annotation, or a header cut short: tests on missing bytes
    fail (as in Click's short-packet rule), nothing crashes, nothing leaks."""
    h = Harness("IPFilter(allow udp && dst port 53, 1 not tcp)", outputs=2)
    full = bytes(udp())
    xs = [h.packet(full)]                                     # no network header annotation
    xs += [h.packet(full[:n], network_offset=14) for n in (14, 20, 34, 36, 40)]
    xs.append(h.packet(full, network_offset=14))
    out = h.push(xs)
    # unset or cut IP header, or UDP header cut before the destination port:
    # "udp" or "dst port 53" fails, "not tcp" holds
    assert [o.data for o in out[0]] == [full[:40], full]
    assert len(out[1]) == 5


def test_program_handler():
    h = Harness("IPFilter(allow udp && dst port 53, deny all)")
    text = h.handler("program")
    assert "transp+2/0035%ffff" in text and "safe length" in text


# ---------------------------------------------------------------------------
# errors point at the offending word in the config file

def error_of(config):
    with pytest.raises(ConfigError) as ei:
        Router.from_string(config, "fw.click")
    (diag,) = ei.value.diagnostics
    return diag


@pytest.mark.parametrize("config,line,word", [
    ("InfiniteSource(ACTIVE false) -> IPFilter(allow udp && dst prot 53, deny all) -> Discard;", 1, "dst"),
    ("InfiniteSource(ACTIVE false)\n  -> IPFilter(allow tcp,\n     allow udp port >> 5,\n  deny all) -> Discard;", 3, ">"),
    ("f :: IPFilter(\n  // the rules\n  allow tcp, /* web */ frob udp,\n  deny all);\nInfiniteSource(ACTIVE false) -> f -> Discard;", 3, "frob"),
    ("InfiniteSource(ACTIVE false) -> IPFilter(allow tcp, 3 udp) -> Discard;", 1, "3"),
    ("InfiniteSource(ACTIVE false) -> c :: IPClassifier(tcp,\n\tudp port foo) -> Discard;\nc[1] -> Discard;",
     2, "port"),
    ("InfiniteSource(ACTIVE false) -> c :: IPClassifier(tcp port, -) -> Discard; c[1] -> Discard;", 1, "port"),
])
def test_error_location_is_the_offending_word(config, line, word):
    d = error_of(config)
    assert d.location.file == "fw.click"
    assert d.location.line == line
    assert d.location.source_line[d.location.col - 1:].startswith(word), d.format()
    assert d.format().splitlines()[-1].strip() == "^"


def test_error_in_expanded_variable_points_at_the_element():
    config = "define($RULES allow tcp port);\nInfiniteSource(ACTIVE false) -> f :: IPFilter($RULES) -> Discard;"
    d = error_of(config)
    assert d.location.line == 2
    assert d.location.source_line[d.location.col - 1:].startswith("f :: IPFilter")
    assert "pattern 0" in d.message
