"""IPFilter / IPClassifier: compiled programs vs an independent reference.

Rules are generated as syntax trees, rendered to text in Click's many
spellings, compiled, and run by the C matcher on a pool of packets built
with scapy (TCP/UDP/ICMP/other, IP options, fragments, truncated transport
headers).  The reference evaluates the same trees directly on the fields
scapy parses from each packet, following Click's documented semantics.
"""
import ipaddress
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

scapy = pytest.importorskip("scapy.all")
from scapy.all import ICMP, IP, TCP, UDP, Ether, IPOption_NOP, IPOption_Router_Alert, Raw  # noqa: E402

from clickpy.classify import ClassifyError, compile_ipclassifier, compile_ipfilter  # noqa: E402
from clickpy.classify._engine import CProgram, match_bytes  # noqa: E402

HOSTS = ["10.0.0.1", "10.0.0.2", "10.1.2.3", "192.168.1.1", "192.168.1.77", "172.16.5.4"]
MACS = ["00:11:22:33:44:55", "66:77:88:99:aa:bb", "ff:ff:ff:ff:ff:ff"]
PORTS = [0, 7, 22, 53, 80, 443, 1023, 1024, 1500, 2000, 5353, 65535]
PORT_NAMES = {"www": 80, "domain": 53, "ssh": 22, "https": 443}


# ---------------------------------------------------------------------------
# packets

def make_pool(n=260, seed=7):
    rnd = random.Random(seed)
    pool = []
    for _ in range(n):
        ip = IP(src=rnd.choice(HOSTS), dst=rnd.choice(HOSTS), ttl=rnd.choice([1, 5, 64, 128, 255]),
                tos=rnd.choice([0, 1, 2, 3, 0x10, 0xB8, 0xFF]), id=rnd.choice([0, 1, 1234, 65535]))
        if rnd.random() < 0.2:
            ip.options = rnd.choice([[IPOption_NOP()] * 4, [IPOption_Router_Alert()]])
        r = rnd.random()
        if r < 0.15:
            ip.frag = rnd.choice([1, 100])
            ip.flags = rnd.choice([0, "MF"])
        elif r < 0.25:
            ip.flags = "MF"
        kind = rnd.choice(["tcp", "tcp", "udp", "udp", "icmp", "gre"])
        if kind == "tcp":
            l4 = TCP(sport=rnd.choice(PORTS), dport=rnd.choice(PORTS),
                     flags="".join(f for f in "FSRPAU" if rnd.random() < 0.35),
                     window=rnd.choice([0, 512, 8192, 65535]))
        elif kind == "udp":
            l4 = UDP(sport=rnd.choice(PORTS), dport=rnd.choice(PORTS))
        elif kind == "icmp":
            l4 = ICMP(type=rnd.choice([0, 3, 8, 11, 13]))
        else:
            ip.proto = 47
            l4 = Raw(bytes(rnd.randrange(256) for _ in range(8)))
        pkt = Ether(src=rnd.choice(MACS), dst=rnd.choice(MACS)) / ip / l4 / Raw(b"x" * rnd.randrange(6))
        frame = bytes(pkt)
        ihl = (frame[14] & 15) * 4
        if rnd.random() < 0.3:
            frame = frame[:14 + ihl + rnd.randrange(0, 24)]
        pool.append(frame)
    return pool


def parse_fields(frame):
    """What the reference sees: fields parsed by scapy, plus byte counts."""
    ip = IP(frame[14:])
    raw_ip = frame[14:]
    ihl = ip.ihl * 4
    tb = raw_ip[ihl:]
    f = {
        "mac_dst": frame[0:6], "mac_src": frame[6:12],
        "src": int(ipaddress.IPv4Address(ip.src)), "dst": int(ipaddress.IPv4Address(ip.dst)),
        "proto": ip.proto, "ttl": ip.ttl, "tos": ip.tos, "dscp": ip.tos >> 2, "len": ip.len,
        "id": ip.id, "vers": ip.version, "hl": ip.ihl,
        "fragbits": ((int(ip.flags) & 1) << 13) | ip.frag,
        "first": ip.frag == 0, "tlen": len(tb), "raw_ip": raw_ip, "tb": tb,
    }
    padded = tb + bytes(24)
    if ip.proto == 6:
        t = TCP(padded)
        f.update(sport=t.sport, dport=t.dport, flags=int(t.flags), win=t.window)
    elif ip.proto == 17:
        u = UDP(padded)
        f.update(sport=u.sport, dport=u.dport)
    elif ip.proto == 1:
        f.update(icmptype=ICMP(padded).type)
    return f


POOL = make_pool()
FIELDS = [parse_fields(p) for p in POOL]


# ---------------------------------------------------------------------------
# the reference evaluator

POS_OPS = {"==": lambda a, b: a == b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
NEG_OPS = {"!=": "==", "<": ">=", "<=": ">"}


def cmp(op, a, b):
    if op in POS_OPS:
        return POS_OPS[op](a, b)
    return not POS_OPS[NEG_OPS[op]](a, b)


def combine(sd, s, d):
    return {"src": s, "dst": d, "src and dst": s and d}.get(sd, s or d)


def side_test(op, present, value, target, rng=None):
    """One side of a src/dst test: (holds, present)."""
    if rng:
        return present and rng[0] <= value <= rng[1]
    base = op if op in POS_OPS else NEG_OPS[op]
    return present and POS_OPS[base](value, target)


def transport_ok(f, proto):
    if not f["first"]:
        return False
    return f["proto"] in ({6, 17} if proto is None else {proto})


def ev(node, f):
    k = node[0]
    if k == "const":
        return node[1]
    if k == "not":
        return not ev(node[1], f)
    if k == "and":
        return ev(node[1], f) and ev(node[2], f)
    if k == "or":
        return ev(node[1], f) or ev(node[2], f)
    if k == "ite":
        return ev(node[2], f) if ev(node[1], f) else ev(node[3], f)
    if k == "host":
        _, sd, neg, addr, plen, _style = node
        m = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
        a = int(ipaddress.IPv4Address(addr))
        r = combine(sd, (f["src"] & m) == (a & m), (f["dst"] & m) == (a & m))
        return not r if neg else r
    if k == "ether":
        _, sd, mac = node
        b = bytes(int(x, 16) for x in mac.split(":"))
        return combine(sd, f["mac_src"] == b, f["mac_dst"] == b)
    if k == "proto":
        _, op, val, _style = node
        return cmp(op, f["proto"], val)
    if k in ("port", "portrange", "portmulti"):
        sd, proto = node[1], node[2]
        if not transport_ok(f, proto):
            return False
        if k == "portmulti":
            return any(ev(("port", sd, proto, "==", v, "num"), f) for v in node[3])
        if k == "port":
            op, val, rng = node[3], node[4], None
        else:
            op, val, rng = ("!=" if node[5] else "=="), None, (node[3], node[4])
        sp, dp = f["tlen"] >= 2, f["tlen"] >= 4
        if op in POS_OPS:
            return combine(sd, side_test(op, sp, f.get("sport"), val, rng),
                           side_test(op, dp, f.get("dport"), val, rng))
        # negated operators negate the whole src/dst test; a missing side counts as matching
        s = (not sp) or side_test(op, True, f.get("sport"), val, rng)
        d = (not dp) or side_test(op, True, f.get("dport"), val, rng)
        return not combine(sd, s, d)
    if k == "tcpopt":
        return transport_ok(f, 6) and f["tlen"] >= 14 and bool(f["flags"] & node[1])
    if k == "field":
        _, name, op, val, mask, _style = node
        if name == "win":
            if not (transport_ok(f, 6) and f["tlen"] >= 16):
                return False
            v = f["win"]
        elif name == "type":
            if not (transport_ok(f, 1) and f["tlen"] >= 1):
                return False
            v = f["icmptype"]
        else:
            v = f[name]
        if mask is not None:
            v &= mask
        return cmp(op, v, val)
    if k == "frag":
        return f["fragbits"] != 0
    if k == "unfrag":
        return f["fragbits"] == 0
    if k == "ect":
        return f["tos"] & 3 != 0
    if k == "ce":
        return f["tos"] & 3 == 3
    if k == "ipbytes":
        _, pos, ln, op, val = node
        return cmp(op, int.from_bytes(f["raw_ip"][pos:pos + ln], "big"), val)
    if k == "transpbytes":
        _, proto, pos, ln, op, val = node
        if proto is not None and not transport_ok(f, proto) or proto is None and not f["first"]:
            return False
        if f["tlen"] < pos + ln:
            return False
        return cmp(op, int.from_bytes(f["tb"][pos:pos + ln], "big"), val)
    raise ValueError(k)


# ---------------------------------------------------------------------------
# rendering

PROTO_WORD = {6: "tcp", 17: "udp", 1: "icmp", 2: "igmp", 4: "ipip"}
ICMP_NAMES = {0: "echo-reply", 3: "unreachable", 8: "echo", 11: "timeexceeded", 13: "timestamp"}
FLAG_NAMES = {0x01: "fin", 0x02: "syn", 0x04: "rst", 0x08: "psh", 0x10: "ack", 0x20: "urg"}


def r_op(op, rnd):
    if op == "==":
        return rnd.choice(["", "== ", "= "])
    return op + " "


class Rnd(random.Random):
    """Random choices for rendering.  A test written without qualifiers
    borrows from the previous test in Click (`src port 80 or 81`; after an
    `ether` test, data is Ethernet data), so bare forms are written only
    where that cannot change their meaning: a bare port name only as the
    first test of a rule, `syn` or `echo-reply` only before any `ether` test."""
    ether_seen = False
    first = True


PRIMITIVES = {"host", "ether", "proto", "port", "portrange", "portmulti", "tcpopt", "field", "frag",
              "unfrag", "ect", "ce", "ipbytes", "transpbytes"}


def render(node, rnd):
    text = _render(node, rnd)
    if node[0] in PRIMITIVES:
        rnd.first = False
    return text


def _render(node, rnd):
    k = node[0]
    if k == "const":
        return "true" if node[1] else "false"
    if k == "not":
        inner = render(node[1], rnd)
        return rnd.choice(["not ({})", "!({})", "! ({})", "not({})"]).format(inner)
    if k == "and":
        a, b = render(node[1], rnd), render(node[2], rnd)
        return rnd.choice(["({}) and ({})", "({}) && ({})", "({})&&({})", "({}) ({})"]).format(a, b)
    if k == "or":
        a, b = render(node[1], rnd), render(node[2], rnd)
        return rnd.choice(["({}) or ({})", "({}) || ({})", "({})||({})"]).format(a, b)
    if k == "ite":
        return "(({}) ? ({}) : ({}))".format(*(render(x, rnd) for x in node[1:]))
    if k == "host":
        _, sd, neg, addr, plen, style = node
        sdw = (sd + " ") if sd else ""
        op = "!= " if neg else r_op("==", rnd)
        if plen == 32:
            if style == 0 and not neg:
                return f"{sdw}{addr}" if sd else f"host {addr}"
            if style == 1:
                return f"{sdw}ip host {op}{addr}"
            return f"{sdw}host {op}{addr}"
        net = str(ipaddress.IPv4Network(f"{addr}/{plen}", strict=False).network_address)
        if style == 0 and not neg:
            return f"{sdw}{net}/{plen}" if sd else f"net {net}/{plen}"
        if style == 1:
            mask = str(ipaddress.IPv4Network(f"0.0.0.0/{plen}").netmask)
            return f"{sdw}net {op}{net} mask {mask}"
        if style == 2:
            mask = str(ipaddress.IPv4Network(f"0.0.0.0/{plen}").netmask)
            return f"{sdw}host & {mask} {addr}" if not neg else f"{sdw}net {op}{net}/{plen}"
        return f"{sdw}net {op}{addr}/{plen}"
    if k == "ether":
        _, sd, mac = node
        sdw = (sd + " ") if sd else ""
        rnd.ether_seen = True
        return rnd.choice([f"ether {sdw}host {mac}", f"ether {sdw}{mac}", f"{sdw}ether host {mac}"]) \
            if sd else rnd.choice([f"ether host {mac}", f"ether {mac}"])
    if k == "proto":
        _, op, val, style = node
        if op == "==" and val in PROTO_WORD and style == 0:
            return PROTO_WORD[val]
        if op == "==" and val in PROTO_WORD and style == 1:
            return f"ip proto {PROTO_WORD[val]}"
        return f"{rnd.choice(['ip proto', 'proto'])} {r_op(op, rnd)}{val}"
    if k in ("port", "portrange", "portmulti"):
        sd, proto = node[1], node[2]
        quals = [w for w in (sd, {6: "tcp", 17: "udp", None: None}[proto]) if w]
        if rnd.random() < 0.5:
            quals.reverse()
        q = " ".join(quals + ["port"])
        if k == "portmulti":
            return f"{q} " + " or ".join(str(v) for v in node[3])
        if k == "portrange":
            return f"{q} {'!= ' if node[5] else ''}{node[3]}-{node[4]}"
        op, val, style = node[3], node[4], node[5]
        names = {v: n for n, v in PORT_NAMES.items()}
        word = names[val] if style == "name" and val in names else str(val)
        if style == "name" and val in names and op == "==" and not sd and not proto \
                and rnd.first:
            return word
        return f"{q} {r_op(op, rnd)}{word}"
    if k == "tcpopt":
        name = FLAG_NAMES[node[1]]
        return rnd.choice([f"tcp opt {name}", f"opt {name}"] + ([] if rnd.ether_seen else [name]))
    if k == "field":
        _, name, op, val, mask, style = node
        head = {"win": "tcp win", "type": "icmp type"}.get(name, rnd.choice([f"ip {name}", name]))
        m = f" & {rnd.choice([str(mask), hex(mask)])}" if mask is not None else ""
        if name == "type" and val in ICMP_NAMES and style and mask is None:
            if op == "==" and rnd.random() < 0.5 and val != 8 \
                    and not rnd.ether_seen:  # bare "echo" is ambiguous
                return ICMP_NAMES[val]
            return f"{head}{m} {r_op(op, rnd)}{ICMP_NAMES[val]}"
        return f"{head}{m} {r_op(op, rnd)}{val}"
    if k in ("frag", "unfrag", "ect", "ce"):
        return rnd.choice([f"ip {k}", k])
    if k == "ipbytes":
        _, pos, ln, op, val = node
        idx = f"{pos}" if ln == 1 and rnd.random() < 0.5 else f"{pos}:{ln}"
        return f"ip[{idx}] {r_op(op, rnd)}{val}"
    if k == "transpbytes":
        _, proto, pos, ln, op, val = node
        word = {6: "tcp", 17: "udp", 1: "icmp", None: "transp"}[proto]
        return f"{word}[{pos}:{ln}] {r_op(op, rnd)}{val}"
    raise ValueError(k)


# ---------------------------------------------------------------------------
# strategies

ops = st.sampled_from(["==", "!=", ">", "<", ">=", "<="])
sds = st.sampled_from([None, "src", "dst", "src or dst", "src and dst"])


def rel_value(lo, hi):
    # relations on transport fields avoid the always-true/false bounds (a warning case)
    return st.integers(lo, hi)


host = st.builds(lambda sd, neg, addr, plen, style: ("host", sd, neg, addr, plen, style),
                 sds, st.booleans(), st.sampled_from(HOSTS), st.sampled_from([32, 32, 24, 16, 8]),
                 st.integers(0, 3))
ether = st.builds(lambda sd, mac: ("ether", sd, mac), st.sampled_from([None, "src", "dst"]),
                  st.sampled_from(MACS))
proto = st.one_of(
    st.builds(lambda v, s: ("proto", "==", v, s), st.sampled_from([6, 17, 1, 2, 47]), st.integers(0, 2)),
    st.builds(lambda op, v: ("proto", op, v, 2), ops, st.integers(1, 254)))
port = st.one_of(
    st.builds(lambda sd, p, v, s: ("port", sd, p, "==", v, s), sds, st.sampled_from([None, 6, 17]),
              st.sampled_from(PORTS), st.sampled_from(["num", "name"])),
    st.builds(lambda sd, p, op, v: ("port", sd, p, op, v, "num"), sds, st.sampled_from([None, 6, 17]),
              ops, st.sampled_from([1, 22, 53, 80, 1023, 1024, 2000, 65534])),
    st.builds(lambda sd, p, lo, n, neg: ("portrange", sd, p, lo, min(lo + n, 65535), neg), sds,
              st.sampled_from([None, 6, 17]), st.sampled_from([0, 1, 22, 53, 1000, 1024]),
              st.sampled_from([0, 1, 30, 1000, 64000]), st.booleans()),
    st.builds(lambda sd, p, vs: ("portmulti", sd, p, vs), sds, st.sampled_from([None, 6, 17]),
              st.lists(st.sampled_from(PORTS), min_size=2, max_size=3)))
tcpopt = st.builds(lambda f: ("tcpopt", f), st.sampled_from(list(FLAG_NAMES)))
IPFIELDS = {"ttl": 255, "tos": 255, "dscp": 63, "len": 65535, "id": 65535, "vers": 15, "hl": 15}
ipfield = st.sampled_from(sorted(IPFIELDS)).flatmap(lambda name: st.one_of(
    st.builds(lambda v: ("field", name, "==", v, None, 0), st.integers(0, IPFIELDS[name])),
    st.builds(lambda op, v: ("field", name, op, v, None, 0), ops, st.integers(1, IPFIELDS[name] - 1)),
    st.builds(lambda op, m, v: ("field", name, op, v & m if op in ("==", "!=") else v, m, 0), ops,
              st.integers(1, IPFIELDS[name]), st.integers(1, IPFIELDS[name] - 1))))
tfield = st.one_of(
    st.builds(lambda op, v: ("field", "win", op, v, None, 0), ops, st.integers(1, 65534)),
    st.builds(lambda op, v, s: ("field", "type", op, v, None, s), ops,
              st.sampled_from([1, 3, 8, 11, 13]), st.booleans()),
    st.builds(lambda v, s: ("field", "type", "==", v, None, s), st.sampled_from([0, 3, 8, 11]), st.booleans()))
flags = st.sampled_from([("frag",), ("unfrag",), ("ect",), ("ce",)])


@st.composite
def ipbytes(draw):
    ln = draw(st.sampled_from([1, 2, 4]))
    word = draw(st.integers(0, 4)) * 4
    pos = word + draw(st.integers(0, 4 - ln))
    op = draw(ops)
    top = (1 << (8 * ln)) - 1
    v = draw(st.integers(0, top)) if op in ("==", "!=") else draw(st.integers(1, top - 1))
    return ("ipbytes", pos, ln, op, v)


@st.composite
def transpbytes(draw):
    ln = draw(st.sampled_from([1, 2]))
    pos = draw(st.sampled_from([0, 2, 12, 13]))
    pos = pos if (pos & 3) + ln <= 4 else pos - 1
    op = draw(ops)
    top = (1 << (8 * ln)) - 1
    v = draw(st.integers(0, top)) if op in ("==", "!=") else draw(st.integers(1, top - 1))
    return ("transpbytes", draw(st.sampled_from([None, 6, 17, 1])), pos, ln, op, v)


prim = st.one_of(host, ether, proto, port, tcpopt, ipfield, tfield, flags, ipbytes(), transpbytes(),
                 st.sampled_from([("const", True), ("const", False)]))
expr = st.recursive(prim, lambda sub: st.one_of(
    st.builds(lambda a: ("not", a), sub),
    st.builds(lambda a, b: ("and", a, b), sub, sub),
    st.builds(lambda a, b: ("or", a, b), sub, sub),
    st.builds(lambda c, a, b: ("ite", c, a, b), sub, sub, sub)), max_leaves=6)
action = st.sampled_from(["allow", "drop", "deny", "0", "1", "2"])


def action_output(a):
    return {"allow": 0, "drop": -1, "deny": -1}.get(a, None) if a in ("allow", "drop", "deny") else int(a)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(action, expr), min_size=1, max_size=4), st.integers(0, 2**32))
def test_ipfilter_matches_reference(rules, seed):
    texts = [f"{a} {render(e, Rnd(seed + i))}" for i, (a, e) in enumerate(rules)]
    prog = compile_ipfilter(texts, noutputs=3)
    plain = compile_ipfilter(texts, noutputs=3, optimize=False)
    cp, cplain = CProgram(prog), CProgram(plain)
    for frame, f in zip(POOL, FIELDS):
        want = -1
        for a, e in rules:
            if ev(e, f):
                want = action_output(a)
                break
        got = match_bytes(cp, frame, mac=0, net=14)
        assert got == want, (texts, frame.hex(), f, prog.dump())
        assert match_bytes(cplain, frame, mac=0, net=14) == want
        # the same with the transport header pointer given explicitly
        assert match_bytes(cp, frame, mac=0, net=14, trans=14 + (frame[14] & 15) * 4) == want


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(expr, min_size=1, max_size=4), st.integers(0, 2**32))
def test_ipclassifier_matches_reference(patterns, seed):
    texts = [render(e, Rnd(seed + i)) for i, e in enumerate(patterns)]
    cp = CProgram(compile_ipclassifier(texts))
    for frame, f in zip(POOL, FIELDS):
        want = next((i for i, e in enumerate(patterns) if ev(e, f)), -1)
        assert match_bytes(cp, frame, mac=0, net=14) == want, texts


# ---------------------------------------------------------------------------
# specific behaviours

def run(rules, pkt, noutputs=2, **kw):
    frame = bytes(pkt)
    return match_bytes(CProgram(compile_ipfilter(rules, noutputs)), frame, net=0, **kw)


def test_three_rule_firewall():
    rules = ["allow udp && dst port 53", "allow tcp && dst port 80", "deny all"]
    assert run(rules, IP() / UDP(dport=53)) == 0
    assert run(rules, IP() / TCP(dport=80)) == 0
    assert run(rules, IP() / TCP(dport=53)) == -1
    assert run(rules, IP() / ICMP()) == -1
    assert run(rules, IP(frag=10) / UDP(dport=53)) == -1          # not a first fragment
    assert run(rules, IP(flags="MF") / UDP(dport=53)) == 0        # first fragment
    assert run(rules, IP(options=[IPOption_NOP()] * 4) / UDP(dport=53)) == 0


def test_not_equal_vs_not():
    assert run(["allow src tcp port != 5"], IP() / UDP(sport=6)) == -1
    assert run(["allow not src tcp port 5"], IP() / UDP(sport=6)) == 0
    assert run(["allow src tcp port != 5"], IP() / TCP(sport=6)) == 0
    assert run(["allow icmp type != echo"], IP() / UDP()) == -1
    # a truncated header: the port is missing; != fails, not succeeds
    cut = bytes(IP() / TCP(sport=5))[:21]
    cp = CProgram(compile_ipfilter(["allow src port != 5"], 1))
    assert match_bytes(cp, cut, net=0) == -1
    cp = CProgram(compile_ipfilter(["allow not src port 5"], 1))
    assert match_bytes(cp, cut, net=0) == 0


def test_port_shorthand_and_names():
    rules = ["allow src port 80 or 81", "1 dst port www", "deny all"]
    assert run(rules, IP() / TCP(sport=81)) == 0
    assert run(rules, IP() / UDP(dport=80)) == 1
    assert run(["allow domain"], IP() / UDP(sport=53)) == 0
    assert run(["allow udp port domain"], IP() / UDP(dport=53)) == 0


def test_port_range():
    rules = ["allow dst port 1000-2000"]
    for p, want in [(999, -1), (1000, 0), (1500, 0), (2000, 0), (2001, -1)]:
        assert run(rules, IP() / TCP(dport=p)) == want, p


def test_relations():
    assert run(["allow ip ttl > 5"], IP(ttl=6) / UDP()) == 0
    assert run(["allow ip ttl > 5"], IP(ttl=5) / UDP()) == -1
    assert run(["allow ttl <= 5"], IP(ttl=5) / UDP()) == 0
    assert run(["allow ip len >= 29"], IP() / UDP() / b"x") == 0
    assert run(["allow ip tos & 0xfc == 0xb8"], IP(tos=0xBB) / UDP()) == 0
    assert run(["allow dst port > 1023"], IP() / TCP(dport=1024)) == 0
    assert run(["allow dst port > 1023"], IP() / TCP(dport=1023)) == -1


def test_tcp_flags_and_icmp():
    rules = ["0 syn && !ack", "1 tcp opt fin ack", "drop all"]
    assert run(rules, IP() / TCP(flags="S")) == 0
    assert run(rules, IP() / TCP(flags="SA")) == -1
    assert run(rules, IP() / TCP(flags="FA")) == 1
    assert run(["allow icmp type echo"], IP() / ICMP(type=8)) == 0
    assert run(["allow echo-reply"], IP() / ICMP(type=0)) == 0


def test_ether_tests_need_mac_pointer():
    frame = bytes(Ether(src="00:11:22:33:44:55") / IP() / UDP())
    cp = CProgram(compile_ipfilter(["allow ether src 00:11:22:33:44:55"], 1))
    assert match_bytes(cp, frame, mac=0, net=14) == 0
    assert match_bytes(cp, frame, net=14) == -1                 # MAC header unset
    assert match_bytes(cp, frame[14:], net=0) == -1


def test_ternary_and_precedence():
    rules = ["allow tcp ? dst port 80 : udp && src port 53"]
    assert run(rules, IP() / TCP(dport=80)) == 0
    assert run(rules, IP() / TCP(dport=81)) == -1
    assert run(rules, IP() / UDP(sport=53)) == 0
    # and binds tighter than or
    rules = ["allow tcp or udp and dst port 9"]
    assert run(rules, IP() / TCP(dport=1)) == 0
    assert run(rules, IP() / UDP(dport=1)) == -1


def test_any_all_dash_and_numbered_outputs():
    for w in ["-", "any", "all", ""]:
        p = compile_ipfilter([f"1 {w}".strip()], 2)
        assert p.output_everything == 1
    assert compile_ipclassifier(["-"]).output_everything == 0
    p = compile_ipfilter(["drop all"], 1)
    assert p.output_everything == -1


def test_nets():
    for rule in ["allow src net 10.0.0.0/8", "allow src 10/8", "allow src net 10.0.0.0 mask 255.0.0.0",
                 "allow src host & 255.0.0.0 10.9.9.9", "allow src 10.0.0.0/255.0.0.0"]:
        assert run([rule], IP(src="10.1.2.3") / UDP()) == 0, rule
        assert run([rule], IP(src="11.1.2.3") / UDP()) == -1, rule


def test_program_handler_text():
    text = compile_ipfilter(["allow udp && dst port 53", "deny all"], 1).dump()
    assert "ip+6/00000011%1fff00ff" in text      # first fragment and UDP, one test
    assert "transp+2/0035%ffff" in text


def test_warnings():
    p = compile_ipfilter(["allow ttl > 300"], 1)
    assert any("always false" in w[0] for w in p.warnings)
    p = compile_ipfilter(["allow src ip ttl 5"], 1)
    assert any("ignored" in w[0] for w in p.warnings)


ERRORS = [
    ("allow tcp port", 10, "value missing"),
    ("allow foo", 6, "unknown word 'foo'"),
    ("allow tcp and", 13, "missing expression after 'and'"),
    ("allow (tcp", 10, "missing ')'"),
    ("allow ()", 7, "missing expression after '('"),
    ("allow not", 9, "missing expression after 'not'"),
    ("allow tcp )", 10, "garbage after expression at ')'"),
    ("allow tcp ? udp", 15, "missing ':'"),
    ("frob tcp", 0, "unknown action"),
    ("7 tcp", 0, "out of range"),
    ("allow echo", 6, "ambiguous"),
    ("allow udp opt syn", 14, "meaningless here; try 'tcp opt syn'"),
    ("allow tcp udp", 10, "specified twice"),
    ("allow src dst host 1.2.3.4", 10, "specified twice"),
    ("allow ttl 300", 10, "out of range"),
    ("allow host > 1.2.3.4", 11, "operator not supported"),
    ("allow ttl >", 6, "value missing"),
    ("allow ttl > foo", 12, "dangling operator"),
    ("allow tcp opt != syn", 14, "operator or mask not supported"),
    ("allow 80", 6, "specify header field"),
    ("allow src", 6, "partial directive"),
    ("allow ip[1:8] 5", 9, "out of range"),
    ("allow ip[3:2] 5", 9, "single word"),
    ("allow ip[x] 5", 9, "syntax error after '['"),
    ("allow ttl & 0 5", 12, "zero mask"),
    ("allow ttl & 0x1ff 5", 12, "mask out of range"),
    ("allow dst port 2000-1000", 15, "bad port range"),
    ("allow ether src 1.2.3.4", 6, "partial directive"),
    ("allow ether host 1.2.3.4", 12, "address missing"),
    ("allow ip ce 3", 12, "value not supported"),
    ("", 0, "empty pattern"),
]


@pytest.mark.parametrize("rule,column,fragment", ERRORS)
def test_errors_point_at_the_word(rule, column, fragment):
    with pytest.raises(ClassifyError) as ei:
        compile_ipfilter(["allow tcp", rule], noutputs=2)
    err = ei.value
    assert fragment in err.message, err.message
    assert err.column == column, (err.message, err.column)
    assert err.index == 1


def test_ipclassifier_columns_are_pattern_relative():
    with pytest.raises(ClassifyError) as ei:
        compile_ipclassifier(["tcp", "udp port"])
    assert ei.value.column == 4 and ei.value.index == 1


def test_bare_data_borrows_from_the_previous_test():
    # as in Click, a test with no qualifiers takes src/dst and protocol from
    # the test before it, even across parentheses
    rules = ["allow (src 10.0.0.1) (ssh)"]
    assert run(rules, IP(src="10.0.0.1") / TCP(sport=22)) == 0
    assert run(rules, IP(src="10.0.0.1") / TCP(dport=22)) == -1
    rules = ["allow (udp dst port 53) or 5353"]
    assert run(rules, IP() / UDP(dport=5353)) == 0
    assert run(rules, IP() / TCP(dport=5353)) == -1
    assert run(rules, IP() / UDP(sport=5353, dport=1)) == -1
