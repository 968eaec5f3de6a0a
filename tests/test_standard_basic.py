"""Standard elements that pass, drop, copy, modify or route packets."""
import struct
import sys

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from clickpy.element import HandlerError
from clickpy.lang.graph import ConfigError
from std_helpers import inject, pull, router, user_anno

PAINT = 16


def udp_frame(payload: bytes = b"x" * 18) -> bytes:
    return bytes(Ether(src="00:00:00:00:00:01", dst="00:00:00:00:00:02")
                 / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / payload)


# ---------------------------------------------------------------- Discard, Idle, Null
def test_discard_push_counts_and_resets():
    r = router("s :: InfiniteSource(LIMIT 300, BURST 100, STOP true) -> d :: Discard;")
    r.run(timeout=10)
    assert r.handler("d.count") == "300"
    r.write("d.reset_counts")
    assert r.handler("d.count") == "0"
    assert not r.element("d").has_read_handler("active")     # push context: no active handler


def test_discard_active_is_an_error_on_a_push_input():
    with pytest.raises(ConfigError, match="ACTIVE is meaningless in push context"):
        router("InfiniteSource -> Discard(ACTIVE false);")


def test_pull_discard_burst_and_active():
    r = router("s :: InfiniteSource(LIMIT 10, BURST 10, STOP true) -> q :: Queue(100) -> d :: Discard(BURST 3, ACTIVE false);")
    r.run(timeout=0.2)
    assert r.handler("q.length") == "10" and r.handler("d.count") == "0"
    r.write("d.active", "true")
    r.run(timeout=0.2)
    assert r.handler("d.count") == "10" and r.handler("q.length") == "0"
    with pytest.raises(HandlerError):
        r.write("d.active", "perhaps")


def test_idle_fills_ports_and_frees_pushed_packets():
    r = router("Idle -> q :: Queue -> u :: Unqueue -> c :: Counter -> i :: Idle; src :: Idle -> Idle;")
    inject(r, "i", [b"abc", b"def"])
    assert r.pool.free_count == r.pool.size
    r.run(timeout=0.2)
    assert r.handler("c.count") == "0"
    # Idle is a never-active empty notifier: the Unqueue went to sleep for good
    assert r.scheduler.ntasks_scheduled == 0


def test_null_pushnull_pullnull_pass_packets_unchanged():
    r = router("Idle -> a :: Null -> b :: PushNull -> rec :: Record; Idle -> q :: Queue -> PullNull -> n :: Null -> u :: Unqueue(ACTIVE false) -> Discard;")
    frame = udp_frame()
    inject(r, "a", [frame])
    assert r.element("rec").data == [frame]
    inject(r, "q", [frame])
    assert pull(r, "n") == [frame]
    with pytest.raises(ConfigError, match="pull output 0 of 'p :: PullNull' connected to push input"):
        router("InfiniteSource -> PushNull -> q :: Queue -> p :: PullNull -> PushNull -> Discard;")


# ---------------------------------------------------------------- Tee, PullTee
def test_tee_copies_each_packet_to_every_output():
    r = router("Idle -> t :: Tee(3); t[0] -> r0 :: Record; t[1] -> r1 :: Record; t[2] -> r2 :: Record;")
    frames = [udp_frame(bytes([i]) * 20) for i in range(5)]
    inject(r, "t", [(f, {"timestamp": 1234, **user_anno(PAINT, b"\x07")}) for f in frames])
    for name in ("r0", "r1", "r2"):
        rec = r.element(name)
        assert rec.data == frames
        assert all(a["timestamp"] == 1234 and a["user"][PAINT] == 7 for _, a in rec.packets)


def test_tee_copies_are_independent_buffers():
    r = router("Idle -> t :: Tee; t[0] -> s :: Strip(14) -> r0 :: Record; t[1] -> r1 :: Record;")
    frame = udp_frame()
    inject(r, "t", [frame])
    assert r.element("r0").data == [frame[14:]]
    assert r.element("r1").data == [frame]


def test_tee_n_must_match_outputs():
    with pytest.raises(ConfigError, match="2 outputs implies 2 arms"):
        router("t :: Tee(3); Idle -> t; t[0] -> Discard; t[1] -> Discard;")


def test_tee_out_of_buffers_skips_copies_and_counts():
    r = router("Idle -> t :: Tee; t[0] -> r0 :: Record; t[1] -> r1 :: Record;", pool_size=3, big_pool_size=0)
    inject(r, "t", [b"a" * 60, b"b" * 60])      # two buffers used, one left for copies
    assert len(r.element("r0").data) == 1
    assert r.element("r1").data == [b"a" * 60, b"b" * 60]
    assert r.pool.stats()["alloc_failures"] == 1


def test_pulltee_returns_packets_and_pushes_copies():
    r = router("Idle -> q :: Queue -> pt :: PullTee(2) -> u :: Unqueue(ACTIVE false) -> Discard; pt[1] -> rec :: Record;")
    frames = [udp_frame(bytes([i]) * 10) for i in range(3)]
    inject(r, "q", frames)
    assert pull(r, "pt") == frames
    assert r.element("rec").data == frames


# ---------------------------------------------------------------- Counter
def test_counter_counts_packets_and_bytes_and_rates():
    r = router("s :: InfiniteSource(LENGTH 100, LIMIT 1000, BURST 50, STOP true) -> c :: Counter -> Discard;")
    r.run(timeout=10)
    assert r.handler("c.count") == "1000"
    assert r.handler("c.byte_count") == "100000"
    assert float(r.handler("c.rate")) >= 0
    assert float(r.handler("c.bit_rate")) == pytest.approx(8 * float(r.handler("c.byte_rate")), rel=1e-3, abs=1)
    r.write("c.reset")
    assert r.handler("c.count") == "0" and r.handler("c.byte_count") == "0"
    r.write("c.reset_counts")


def test_counter_count_call_fires_once_per_reset():
    r = router("""s :: InfiniteSource(LIMIT 100, BURST 10, STOP true) -> c :: Counter(COUNT_CALL 25 s.active false) -> Discard;""")
    r.run(timeout=2)
    # the call stopped the source after the batch that reached 25
    assert r.handler("c.count") == "30" and r.handler("s.active") == "false"
    assert r.handler("c.count_call") == "25"
    r.write("c.reset")
    r.write("s.active", "true")
    r.run(timeout=2)
    assert r.handler("c.count") == "30"          # re-armed by the reset


def test_counter_byte_count_call_and_handler_writes():
    r = router("s :: InfiniteSource(LENGTH 10, LIMIT 100, BURST 1, STOP true) -> c :: Counter(BYTE_COUNT_CALL 95 s.active false) -> Discard;")
    r.run(timeout=2)
    assert r.handler("c.byte_count") == "100"
    r.write("c.count_call", "5 s.limit 0")
    r.write("c.count_call", "3")                 # handler omitted: keeps s.limit 0
    assert r.handler("c.count_call") == "3"
    with pytest.raises(HandlerError, match="unsigned"):
        r.write("c.count_call", "many s.limit 0")
    with pytest.raises(ConfigError, match="COUNT_CALL needs"):
        router("Idle -> Counter(COUNT_CALL 5) -> Discard;")


# ---------------------------------------------------------------- Strip, Unstrip, Truncate, Align
def test_strip_and_unstrip_restore_the_header():
    r = router("Idle -> s :: Strip(14) -> a :: Record; Idle -> u :: Unstrip(14) -> b :: Record;")
    frame = udp_frame()
    inject(r, "s", [frame, b"short"])
    ip_part, short = r.element("a").data
    assert IP(ip_part).dst == "10.0.0.2" and ip_part == bytes(Ether(frame).payload)
    assert short == b""                          # shorter than N: everything stripped
    r2 = router("Idle -> s :: Strip(14) -> u :: Unstrip(14) -> b :: Record;")
    inject(r2, "s", [frame])
    assert r2.element("b").data == [frame]
    assert r2.handler("u.length") == "14"
    r2.write("s.length", "20")
    assert r2.handler("s.length") == "20"


def test_unstrip_without_room_drops_and_counts():
    r = router("Idle -> u :: Unstrip(2000) -> b :: Record;")
    inject(r, "u", [b"x" * 100])
    assert r.element("b").data == [] and r.handler("u.drops") == "1"
    assert r.pool.stats()["headroom_failures"] == 1


def test_truncate_and_extra_length_annotation():
    r = router("Idle -> t :: Truncate(20) -> a :: Record; Idle -> t2 :: Truncate(20, EXTRA_LENGTH false) -> b :: Record;")
    inject(r, "t", [b"y" * 64, b"z" * 10, (b"w" * 30, user_anno(28, struct.pack("=I", 5)))])
    got = r.element("a").packets
    assert [p for p, _ in got] == [b"y" * 20, b"z" * 10, b"w" * 20]
    extras = [struct.unpack_from("=I", a["user"], 28)[0] for _, a in got]
    assert extras == [44, 0, 15]
    inject(r, "t2", [b"y" * 64])
    p, a = r.element("b").packets[0]
    assert p == b"y" * 20 and struct.unpack_from("=I", a["user"], 28)[0] == 0
    r.write("t.length", "5")
    assert r.handler("t.length") == "5" and r.handler("t.extra_length") == "true"


@pytest.mark.parametrize("modulus,offset", [(4, 2), (8, 0), (2, 1), (8, 6)])
def test_align_moves_data_to_the_requested_alignment(modulus, offset):
    r = router(f"Idle -> s :: Strip(3) -> a :: Align({modulus}, {offset}) -> b :: Record;")
    frame = udp_frame()
    inject(r, "s", [(frame, {"network_offset": 14})])
    data, annos = r.element("b").packets[0]
    assert data == frame[3:]
    # the packet's first byte sits OFFSET past a MODULUS boundary: the headroom
    # carries the alignment because buffers start on 64-byte boundaries
    assert annos["headroom"] % modulus == offset
    assert annos["network_offset"] == 11      # header annotations moved with the data


def test_align_arguments_are_checked():
    with pytest.raises(ConfigError, match="MODULUS must be 2, 4, or 8"):
        router("Idle -> Align(3, 0) -> Discard;")
    with pytest.raises(ConfigError, match="OFFSET must be less than MODULUS"):
        router("Idle -> Align(4, 4) -> Discard;")


# ---------------------------------------------------------------- paint and annotations
def test_paint_sets_the_paint_or_another_annotation_byte():
    r = router("Idle -> p :: Paint(7) -> q :: Paint(9, 40) -> b :: Record;")
    inject(r, "p", [b"abc"])
    user = r.element("b").packets[0][1]["user"]
    assert user[PAINT] == 7 and user[40] == 9
    r.write("p.color", "200")
    assert r.handler("p.color") == "200"
    with pytest.raises(HandlerError):
        r.write("p.color", "256")
    with pytest.raises(ConfigError, match="COLOR"):
        router("Idle -> Paint(300) -> Discard;")
    with pytest.raises(ConfigError, match="ANNO"):
        router("Idle -> Paint(1, DST_IP) -> Discard;")     # a 4-byte annotation


def test_paintswitch_routes_by_paint_copies_255_and_drops_unknown():
    r = router("Idle -> ps :: PaintSwitch; ps[0] -> r0 :: Record; ps[1] -> r1 :: Record;")
    pkts = [(bytes([i]) * 8, user_anno(PAINT, bytes([paint]))) for i, paint in enumerate([0, 1, 1, 5, 255, 0])]
    inject(r, "ps", pkts)
    assert r.element("r0").data == [b"\x00" * 8, b"\x05" * 8, b"\x04" * 8]
    assert r.element("r1").data == [b"\x01" * 8, b"\x02" * 8, b"\x04" * 8]


def test_paintswitch_anno_argument():
    r = router("Idle -> ps :: PaintSwitch(ANNO 41); ps[0] -> r0 :: Record; ps[1] -> r1 :: Record;")
    inject(r, "ps", [(b"a", user_anno(41, b"\x01")), (b"b", user_anno(PAINT, b"\x01"))])
    assert r.element("r1").data == [b"a"] and r.element("r0").data == [b"b"]


def test_painttee_copies_matching_packets():
    r = router("Idle -> pt :: PaintTee(3) -> r0 :: Record; pt[1] -> r1 :: Record;")
    inject(r, "pt", [(b"a", user_anno(PAINT, b"\x03")), (b"b", user_anno(PAINT, b"\x04"))])
    assert r.element("r0").data == [b"a", b"b"]
    assert r.element("r1").data == [b"a"]
    r.write("pt.color", "4")
    assert r.handler("pt.color") == "4"


def test_checkpaint_push_and_pull():
    r = router("Idle -> cp :: CheckPaint(2) -> r0 :: Record; cp[1] -> r1 :: Record;"
               "Idle -> q :: Queue -> cp2 :: CheckPaint(2) -> u :: Unqueue(ACTIVE false) -> Discard;")
    pkts = [(b"a", user_anno(PAINT, b"\x02")), (b"b", user_anno(PAINT, b"\x01"))]
    inject(r, "cp", pkts)
    assert r.element("r0").data == [b"a"] and r.element("r1").data == [b"b"]
    inject(r, "q", pkts)
    assert pull(r, "cp2") == [b"a"]             # no output 1: b was dropped


def test_setannobyte():
    r = router("Idle -> s :: SetAnnoByte(PAINT, 200) -> t :: SetAnnoByte(33, 1) -> b :: Record;")
    inject(r, "s", [b"abc"])
    user = r.element("b").packets[0][1]["user"]
    assert user[PAINT] == 200 and user[33] == 1
    assert r.handler("s.anno") == "16" and r.handler("t.value") == "1"
    r.write("t.value", "5")
    assert r.handler("t.value") == "5"
    with pytest.raises(ConfigError, match="VALUE"):
        router("Idle -> SetAnnoByte(PAINT, -1) -> Discard;")


def test_settimestamp_now_fixed_and_first():
    r = router("Idle -> a :: SetTimestamp -> ra :: Record; Idle -> b :: SetTimestamp(1000000000.25) -> rb :: Record;"
               "Idle -> c :: SetTimestamp(7.000000001, FIRST true) -> rc :: Record;")
    import time
    before = time.time_ns()
    inject(r, "a", [b"x"])
    after = time.time_ns()
    assert before <= r.element("ra").packets[0][1]["timestamp"] <= after
    inject(r, "b", [b"x"])
    assert r.element("rb").packets[0][1]["timestamp"] == 1_000_000_000_250_000_000
    inject(r, "c", [(b"x", {"timestamp": 5})])
    annos = r.element("rc").packets[0][1]
    assert annos["timestamp"] == 5
    assert struct.unpack_from("=Q", annos["user"], 32)[0] == 7_000_000_001
    with pytest.raises(ConfigError, match="TIMESTAMP"):
        router("Idle -> SetTimestamp(yesterday) -> Discard;")


def test_checklength_push_and_pull():
    r = router("Idle -> c :: CheckLength(60) -> r0 :: Record; c[1] -> r1 :: Record;"
               "Idle -> q :: Queue -> c2 :: CheckLength(60) -> Unqueue(ACTIVE false) -> Discard;")
    inject(r, "c", [b"a" * 60, b"b" * 61, b"c"])
    assert r.element("r0").data == [b"a" * 60, b"c"] and r.element("r1").data == [b"b" * 61]
    inject(r, "q", [b"a" * 60, b"b" * 61])
    assert pull(r, "c2") == [b"a" * 60]
    r.write("c.length", "100")
    assert r.handler("c.length") == "100"


# ---------------------------------------------------------------- Print
def test_print_formats_like_click(capsys):
    r = router("Idle -> p :: Print(ok, 8, TIMESTAMP true) -> Discard; Idle -> h :: Print(CONTENTS ASCII, MAXLENGTH -1, HEADROOM true) -> Discard;"
               "Idle -> n :: Print(CONTENTS NONE) -> Discard; Idle -> a :: Print(x, 2, PRINTANNO true) -> Discard;")
    inject(r, "p", [(bytes(range(10)), {"timestamp": 1_000_000_000_000_001_000})])
    inject(r, "h", [b"hello\x00world"])
    inject(r, "n", [b"abc"])
    inject(r, "a", [(b"\xff\xee\xdd", user_anno(0, b"\x0a\x0b"))])
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "ok: 1000000000.000001:   10 | 00010203 04050607"
    assert lines[1] == f"  11 (h128 t{2048 - 128 - 11}) |  hello.wo rld"
    assert lines[2] == "   3"
    assert lines[3] == "x:    3 | 0a0b" + "00" * 46 + " | ffee"


def test_print_active_handler_and_bad_contents(capsys):
    r = router("Idle -> p :: Print(a) -> Discard;")
    r.write("p.active", "false")
    inject(r, "p", [b"abc"])
    assert capsys.readouterr().err == ""
    with pytest.raises(ConfigError, match="bad contents value 'BINARY'"):
        router("Idle -> Print(CONTENTS BINARY) -> Discard;")


def test_print_whole_large_packet(capsys):
    r = router("Idle -> p :: Print(MAXLENGTH -1) -> Discard;")
    inject(r, "p", [bytes(1500)] * 3)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("1500 | 00000000 ") for line in lines)
    assert all(len(line.split(" | ")[1].replace(" ", "")) == 3000 for line in lines)


# ---------------------------------------------------------------- switches
def test_switch_and_its_handler():
    r = router("Idle -> s :: Switch(1); s[0] -> r0 :: Record; s[1] -> r1 :: Record;")
    inject(r, "s", [b"a"])
    r.write("s.switch", "0")
    inject(r, "s", [b"b"])
    r.write("s.switch", "7")                    # no such output: -1, drops
    assert r.handler("s.switch") == "-1"
    inject(r, "s", [b"c"])
    assert r.element("r0").data == [b"b"] and r.element("r1").data == [b"a"]


def test_staticswitch_fixed_and_negative():
    r = router("Idle -> s :: StaticSwitch(1); s[0] -> r0 :: Record; s[1] -> r1 :: Record; Idle -> n :: StaticSwitch(-1) -> Discard;")
    inject(r, "s", [b"a", b"b"])
    inject(r, "n", [b"c"])
    assert r.element("r1").data == [b"a", b"b"] and r.element("r0").data == []
    assert not r.element("s").has_write_handler("switch")
    with pytest.raises(ConfigError, match="K"):
        router("Idle -> StaticSwitch -> Discard;")


def test_roundrobinswitch_continues_across_batches():
    r = router("Idle -> s :: RoundRobinSwitch; s[0] -> r0 :: Record; s[1] -> r1 :: Record; s[2] -> r2 :: Record;")
    inject(r, "s", [bytes([i]) for i in range(4)])
    inject(r, "s", [bytes([i]) for i in range(4, 7)])
    assert r.element("r0").data == [b"\x00", b"\x03", b"\x06"]
    assert r.element("r1").data == [b"\x01", b"\x04"]
    assert r.element("r2").data == [b"\x02", b"\x05"]


# ---------------------------------------------------------------- PoolInfo
def test_poolinfo_sets_the_pool_size():
    r = router("PoolInfo(100, BIG 2);")
    assert r.pool.small_size == 100 and r.pool.big_size == 2
    r2 = router("pi :: PoolInfo(100);", pool_size=50)
    assert r2.pool.small_size == 50                    # the caller's size wins
    assert r2.handler("pi.size") == "50"
    with pytest.raises(ConfigError, match="more than one PoolInfo"):
        router("PoolInfo(10); PoolInfo(20);")
    with pytest.raises(ConfigError, match="SIZE must be at least 1"):
        router("PoolInfo(0);")


def test_a_failing_handler_call_is_a_warning_not_a_crash():
    r = router("s :: InfiniteSource(LIMIT 10, BURST 5, STOP true) -> c :: Counter(COUNT_CALL 5 nobody.reset) -> Discard;",
               warnings=False)
    r.run(timeout=2)
    assert r.handler("c.count") == "10"
    assert any("handler call 'nobody.reset' failed" in w.message for w in r.warnings)
