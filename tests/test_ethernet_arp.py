"""ARPResponder, ARPQuerier and ARPPrint, with ARP packets crafted and checked by scapy."""
import socket
import time

import pytest
from scapy.all import ARP, IP, UDP, Ether, Raw

import sink  # noqa: F401
from clickpy.element import HandlerError
from clickpy.lang.graph import ConfigError
from clickpy.router import Router

MY_IP, MY_ETH = "10.0.0.1", "00:00:00:00:00:01"
PEER_ETH = "00:00:00:00:00:55"


def who_has(pdst, psrc="10.0.0.9", hwsrc="00:00:00:00:00:09", pad=0):
    return Ether(src=hwsrc, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=hwsrc, psrc=psrc, pdst=pdst) / Raw(bytes(pad))


def is_at(psrc, hwsrc, pdst=MY_IP, hwdst=MY_ETH, op=2):
    return Ether(src=hwsrc, dst=hwdst) / ARP(op=op, hwsrc=hwsrc, psrc=psrc, hwdst=hwdst, pdst=pdst)


def out(r, name):
    return [d for d, _ in r.element(name).packets]


def feed(r, name, frames, port=0):
    r.element(name).push_packets(port, [r.pool.new_packet(bytes(f)) for f in frames])


# ---- ARPResponder ---------------------------------------------------------------

def responder(config):
    return Router.from_string("src :: InfiniteSource(ACTIVE false);"
                              f"src -> ar :: ARPResponder({config}) -> s :: PacketSink; ar[1] -> other :: PacketSink;")


def test_arpresponder_answers_for_its_addresses():
    r = responder("10.0.0.1 10.0.7.0/24 00:00:c0:ae:67:ef, 10.0.7.128/25 00:00:00:00:00:02")
    feed(r, "ar", [who_has("10.0.0.1", pad=18), who_has("10.0.7.5"), who_has("10.0.7.200"), who_has("10.0.0.2"),
                   is_at("10.0.0.9", "00:00:00:00:00:09"), b"junk"])
    replies = [Ether(d) for d in out(r, "s")]
    assert [len(d) for d in out(r, "s")] == [42, 42, 42]
    want = [("10.0.0.1", "00:00:c0:ae:67:ef"), ("10.0.7.5", "00:00:c0:ae:67:ef"), ("10.0.7.200", "00:00:00:00:00:02")]
    for f, (ip, eth) in zip(replies, want):
        assert (f.dst, f.src, f.type) == ("00:00:00:00:00:09", eth, 0x0806)
        a = f[ARP]
        assert (a.op, a.psrc, a.hwsrc, a.pdst, a.hwdst) == (2, ip, eth, "10.0.0.9", "00:00:00:00:00:09")
        assert (a.hwtype, a.ptype, a.hwlen, a.plen) == (1, 0x0800, 6, 4)
    assert [Ether(d)[ARP].pdst for d in out(r, "other")[:1]] == ["10.0.0.2"]
    assert len(out(r, "other")) == 3
    assert r.handler("ar.replies") == "3"


def test_arpresponder_table_add_remove():
    r = responder("10.0.0.1 00:00:00:00:00:01")
    r.write("ar.add", "192.168.0.0/16 00:00:00:00:00:03")
    # most specific first: the order they are matched in
    assert r.handler("ar.table") == "10.0.0.1/32 00-00-00-00-00-01\n192.168.0.0/16 00-00-00-00-00-03\n"
    feed(r, "ar", [who_has("192.168.4.4")])
    assert Ether(out(r, "s")[0])[ARP].hwsrc == "00:00:00:00:00:03"
    r.write("ar.remove", "10.0.0.1")
    feed(r, "ar", [who_has("10.0.0.1")])
    assert len(out(r, "other")) == 1
    with pytest.raises(HandlerError):
        r.write("ar.remove", "1.2.3.4")
    with pytest.raises(HandlerError):
        r.write("ar.add", "1.2.3.4")
    with pytest.raises(ConfigError, match="exactly one Ethernet address"):
        responder("10.0.0.1")


# ---- ARPQuerier -----------------------------------------------------------------

def querier(keywords=""):
    r = Router.from_string(
        "src :: InfiniteSource(ACTIVE false); arps :: InfiniteSource(ACTIVE false);"
        f"src -> [0]q :: ARPQuerier({MY_IP}/24, {MY_ETH}{', ' + keywords if keywords else ''}) -> s :: PacketSink;"
        "arps -> [1]q; q[1] -> queries :: PacketSink;")
    return r


def send_ip(r, packets):
    xs = []
    for p in packets:
        x = r.pool.new_packet(bytes(p))
        r.pool.set_annotation(x, "user", socket.inet_aton(p[IP].dst))     # DST_IP annotation
        xs.append(x)
    r.element("q").push_packets(0, xs)


def test_unknown_destination_waits_for_the_reply():
    r = querier()
    p1 = IP(src=MY_IP, dst="10.0.0.5") / UDP(dport=1) / Raw(b"first")
    p2 = IP(src=MY_IP, dst="10.0.0.5") / UDP(dport=2) / Raw(b"second")
    send_ip(r, [p1, p2])
    assert out(r, "s") == []
    q, = [Ether(d) for d in out(r, "queries")]           # one query for both (rate limit)
    assert (q.dst, q.src, q.type) == ("ff:ff:ff:ff:ff:ff", MY_ETH, 0x0806)
    assert (q[ARP].op, q[ARP].psrc, q[ARP].hwsrc, q[ARP].pdst, q[ARP].hwdst) == \
        (1, MY_IP, MY_ETH, "10.0.0.5", "00:00:00:00:00:00")
    assert r.handler("q.length") == "2" and r.handler("q.queries") == "1"
    feed(r, "q", [is_at("10.0.0.5", PEER_ETH)], port=1)
    frames = [Ether(d) for d in out(r, "s")]
    assert [bytes(f.payload) for f in frames] == [bytes(p1), bytes(p2)]       # in order
    assert all((f.dst, f.src, f.type) == (PEER_ETH, MY_ETH, 0x0800) for f in frames)
    assert r.handler("q.length") == "0" and r.handler("q.responses") == "1"
    # now known: the next packet goes straight out
    send_ip(r, [IP(dst="10.0.0.5") / UDP()])
    assert len(out(r, "s")) == 3 and len(out(r, "queries")) == 1
    table = r.handler("q.table").split()
    assert table[:3] == ["10.0.0.5", "1", "00-00-00-00-00-55"]


def test_broadcast_multicast_and_zero_destinations():
    r = querier()
    send_ip(r, [IP(dst="255.255.255.255") / UDP(), IP(dst="10.0.0.255") / UDP(), IP(dst="224.1.2.3") / UDP(),
                IP(dst="239.129.2.3") / UDP(), IP(dst="0.0.0.0") / UDP()])
    dsts = [Ether(d).dst for d in out(r, "s")]
    assert dsts == ["ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff", "01:00:5e:01:02:03", "01:00:5e:01:02:03"]
    assert out(r, "queries") == []
    assert r.handler("q.drops") == "1"
    assert any("0.0.0.0" in w.message for w in r.warnings)


def test_replies_for_unasked_addresses_are_learned_and_junk_ignored():
    r = querier()
    feed(r, "q", [is_at("10.0.0.7", "00:00:00:00:00:77"), b"x" * 10,
                  is_at("10.0.0.8", "01:00:00:00:00:88"),          # a group address: ignored
                  Ether() / IP()], port=1)
    assert r.handler("q.count") == "1"
    send_ip(r, [IP(dst="10.0.0.7") / UDP()])
    assert Ether(out(r, "s")[0]).dst == "00:00:00:00:00:77"
    assert r.pool.free_count == r.pool.size - 0     # input 1 packets were all consumed


def test_gratuitous_arp_updates_an_existing_entry_and_is_sent_on_request():
    r = querier()
    feed(r, "q", [is_at("10.0.0.7", "00:00:00:00:00:77")], port=1)
    # a gratuitous announcement (request with sender == target) for a known address
    feed(r, "q", [who_has("10.0.0.7", psrc="10.0.0.7", hwsrc="00:00:00:00:00:78"),
                  who_has("10.0.0.20", psrc="10.0.0.20", hwsrc="00:00:00:00:00:20")], port=1)
    assert r.handler("q.count") == "1"                      # unknown addresses are not added
    send_ip(r, [IP(dst="10.0.0.7") / UDP()])
    assert Ether(out(r, "s")[0]).dst == "00:00:00:00:00:78"
    r.write("q.gratuitous")
    g = Ether(out(r, "queries")[-1])
    assert (g.dst, g[ARP].op, g[ARP].psrc, g[ARP].pdst, g[ARP].hwsrc) == \
        ("ff:ff:ff:ff:ff:ff", 1, MY_IP, MY_IP, MY_ETH)


def test_entries_expire_and_waiting_packets_are_dropped():
    r = querier("TIMEOUT 0.3, POLL_TIMEOUT 0")
    feed(r, "q", [is_at("10.0.0.5", PEER_ETH)], port=1)
    send_ip(r, [IP(dst="10.0.0.6") / UDP()])          # waits for an answer that never comes
    assert r.handler("q.length") == "1"
    r.run(timeout=0.8)                                 # the expiry timer runs
    assert r.handler("q.count") == "0" and r.handler("q.length") == "0"
    assert r.handler("q.drops") == "1"
    send_ip(r, [IP(dst="10.0.0.5") / UDP()])          # forgotten: query again
    assert out(r, "s") == [] and len(out(r, "queries")) == 2


def test_expired_entry_is_not_used_before_the_timer_runs():
    r = querier("TIMEOUT 0.1, POLL_TIMEOUT 0")
    feed(r, "q", [is_at("10.0.0.5", PEER_ETH)], port=1)
    time.sleep(0.15)
    send_ip(r, [IP(dst="10.0.0.5") / UDP()])
    assert out(r, "s") == [] and len(out(r, "queries")) == 1


def test_poll_renews_a_known_entry_with_a_unicast_query():
    r = querier("POLL_TIMEOUT 0.05")
    feed(r, "q", [is_at("10.0.0.5", PEER_ETH)], port=1)
    time.sleep(0.1)
    send_ip(r, [IP(dst="10.0.0.5") / UDP()])
    assert len(out(r, "s")) == 1                     # still sent
    poll = Ether(out(r, "queries")[0])
    assert poll.dst == PEER_ETH and poll[ARP].pdst == "10.0.0.5"


def test_capacities_drop_packets():
    r = querier("ENTRY_PACKET_CAPACITY 2, CAPACITY 3")
    send_ip(r, [IP(dst="10.0.0.5") / UDP()] * 3 + [IP(dst="10.0.0.6") / UDP()] * 2)
    assert r.handler("q.length") == "3"
    assert r.handler("q.drops") == "2"
    r = querier("ENTRY_CAPACITY 1")
    send_ip(r, [IP(dst="10.0.0.5") / UDP(), IP(dst="10.0.0.6") / UDP()])
    assert r.handler("q.count") == "1" and r.handler("q.drops") == "1"


def test_insert_delete_clear_handlers():
    r = querier()
    send_ip(r, [IP(dst="10.0.0.5") / UDP(), IP(dst="10.0.0.6") / UDP()])
    r.write("q.insert", "10.0.0.5 00:00:00:00:00:aa")
    assert [Ether(d).dst for d in out(r, "s")] == ["00:00:00:00:00:aa"]
    r.write("q.delete", "10.0.0.6")
    assert r.handler("q.length") == "0" and r.handler("q.drops") == "1"
    with pytest.raises(HandlerError):
        r.write("q.delete", "10.0.0.99")
    with pytest.raises(HandlerError):
        r.write("q.insert", "10.0.0.5")
    r.write("q.clear")
    assert r.handler("q.count") == "0" and r.handler("q.queries") == "0"
    assert r.handler("q.stats") == "0 packets killed\n0 ARP queries sent\n"
    assert r.handler("q.broadcast") == "10.0.0.255" and r.handler("q.ipaddr") == MY_IP


def test_single_output_carries_queries_and_packets():
    r = Router.from_string("src :: InfiniteSource(ACTIVE false); arps :: InfiniteSource(ACTIVE false);"
                           f"src -> [0]q :: ARPQuerier({MY_IP}, {MY_ETH}) -> s :: PacketSink; arps -> [1]q;")
    send_ip(r, [IP(dst="10.9.9.9") / UDP()])
    assert Ether(out(r, "s")[0])[ARP].pdst == "10.9.9.9"
    assert r.handler("q.broadcast") == "255.255.255.255"


def test_querier_config_errors():
    with pytest.raises(ConfigError, match="ETH"):
        Router.from_string("a :: InfiniteSource; b :: InfiniteSource; a -> [0]q :: ARPQuerier(10.0.0.1) -> Discard;"
                           "b -> [1]q;")
    with pytest.raises(ConfigError, match="expected IP address"):
        Router.from_string("a :: InfiniteSource; b :: InfiniteSource;"
                           "a -> [0]q :: ARPQuerier(10.0.0, 0:0:0:0:0:1) -> Discard; b -> [1]q;")


def test_responder_and_querier_talk_to_each_other():
    """Two hosts: A's queries go through B's ARPResponder, whose replies teach A's ARPQuerier."""
    r = Router.from_string(f"""
        src :: InfiniteSource(ACTIVE false);
        src -> [0]q :: ARPQuerier({MY_IP}, {MY_ETH});
        q[1] -> ARPResponder(10.0.0.2 00:00:00:00:00:02) -> [1]q;
        q[0] -> s :: PacketSink;
    """)
    send_ip(r, [IP(src=MY_IP, dst="10.0.0.2") / UDP() / Raw(b"hello")])
    f, = [Ether(d) for d in out(r, "s")]
    assert (f.dst, f.src) == ("00:00:00:00:00:02", MY_ETH)
    assert bytes(f[UDP].payload) == b"hello"


# ---- ARPPrint ---------------------------------------------------------------------

def test_arpprint_lines(tmp_path):
    path = tmp_path / "arp.txt"
    r = Router.from_string(f"src :: InfiniteSource(ACTIVE false); src -> p :: ARPPrint(me, OUTFILE {path}, "
                           "TIMESTAMP false, ETHER true) -> s :: PacketSink;")
    feed(r, "p", [who_has("10.0.0.1"), is_at("10.0.0.5", PEER_ETH),
                  Ether(src="00:00:00:00:00:03", dst="ff:ff:ff:ff:ff:ff") /
                  ARP(op=3, hwsrc="00:00:00:00:00:03", hwdst="00:00:00:00:00:04"),
                  Ether() / IP(), Ether(src="00:00:00:00:00:00", dst="ff:ff:ff:ff:ff:ff", type=0x0806) / Raw(b"\x00\x01")])
    r.cleanup()
    lines = path.read_text().splitlines()
    assert lines == [
        "me: 00-00-00-00-00-09 > FF-FF-FF-FF-FF-FF: arp who-has 10.0.0.1 tell 10.0.0.9",
        f"me: 00-00-00-00-00-55 > 00-00-00-00-00-01: arp reply 10.0.0.5 is-at 00-00-00-00-00-55",
        "me: 00-00-00-00-00-03 > FF-FF-FF-FF-FF-FF: rarp who-is 00-00-00-00-00-04 tell 00-00-00-00-00-03",
        "me: 00-00-00-00-00-00 > FF-FF-FF-FF-FF-FF: truncated-arp (2)",
    ]
    assert len(out(r, "s")) == 5          # every packet passes through


def test_hot_swap_carries_the_table_and_the_waiting_packets():
    from test_traces_pcap import hot_swap
    old = querier()
    feed(old, "q", [is_at("10.0.0.7", "00:00:00:00:00:77")], port=1)
    send_ip(old, [IP(dst="10.0.0.5") / UDP() / Raw(b"waiting")])
    assert old.handler("q.length") == "1"
    text = old.config_text
    new = hot_swap(old, text)
    assert new.handler("q.count") == "2" and new.handler("q.length") == "1"
    feed(new, "q", [is_at("10.0.0.5", PEER_ETH)], port=1)
    f, = [Ether(d) for d in out(new, "s")]
    assert f.dst == PEER_ETH and bytes(f[UDP].payload) == b"waiting"
    send_ip(new, [IP(dst="10.0.0.7") / UDP()])
    assert Ether(out(new, "s")[1]).dst == "00:00:00:00:00:77"
