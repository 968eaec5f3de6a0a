"""Queues, Unqueue, pull switches and schedulers, and how they pass notifiers."""
import pytest

from clickpy.element import HandlerError
from clickpy.lang.graph import ConfigError
from std_helpers import inject, pull, router


# ---------------------------------------------------------------- queues
@pytest.mark.parametrize("cls", ["SimpleQueue", "NotifierQueue", "FullNoteQueue", "Queue"])
def test_queue_drops_go_out_output_1_when_connected(cls):
    r = router(f"Idle -> q :: {cls}(3) -> u :: Unqueue(ACTIVE false) -> Discard; q[1] -> rec :: Record;")
    inject(r, "q", [bytes([i]) for i in range(5)])
    assert r.handler("q.length") == "3" and r.handler("q.drops") == "2"
    assert r.element("rec").data == [b"\x03", b"\x04"]
    assert pull(r, "q") == [b"\x00", b"\x01", b"\x02"]


def test_queue_handlers_highwater_reset_capacity():
    r = router("Idle -> q :: Queue(4) -> Unqueue(ACTIVE false) -> Discard; q[1] -> rec :: Record;")
    inject(r, "q", [bytes([i]) for i in range(4)])
    assert pull(r, "q", max=3) == [b"\x00", b"\x01", b"\x02"]
    assert r.handler("q.highwater_length") == "4" and r.handler("q.length") == "1"
    r.write("q.reset_counts")
    assert r.handler("q.highwater_length") == "1" and r.handler("q.drops") == "0"
    inject(r, "q", [b"a", b"b"])
    r.write("q.capacity", "2")                   # shrinking drops from the tail
    assert r.handler("q.capacity") == "2" and r.handler("q.length") == "2"
    r.write("q.reset")                           # queued packets go out output 1
    assert r.handler("q.length") == "0"
    assert r.element("rec").data[-2:] == [b"\x03", b"a"]
    with pytest.raises(HandlerError):
        r.write("q.capacity", "0")
    with pytest.raises(ConfigError, match="CAPACITY"):
        router("Idle -> Queue(-1) -> Discard;")


def test_queue_reset_without_output_1_frees():
    r = router("Idle -> q :: Queue -> Unqueue(ACTIVE false) -> Discard;")
    inject(r, "q", [b"a", b"b"])
    r.write("q.reset")
    assert r.handler("q.length") == "0" and r.pool.free_count == r.pool.size


def test_simplequeue_has_no_notifier_so_its_puller_polls():
    r = router("s :: InfiniteSource(LIMIT 5, BURST 5, ACTIVE false, STOP true) -> q :: SimpleQueue -> u :: Unqueue -> c :: Counter -> Discard;")
    r.run(timeout=0.1)
    assert r.scheduler.ntasks_scheduled == 1       # the Unqueue keeps polling
    r2 = router("s :: InfiniteSource(LIMIT 5, BURST 5, ACTIVE false, STOP true) -> q :: NotifierQueue -> u :: Unqueue -> c :: Counter -> Discard;")
    r2.run(timeout=0.1)
    assert r2.scheduler.ntasks_scheduled == 0      # asleep on the empty notifier


def test_fullnotequeue_puts_its_source_to_sleep():
    r = router("s :: InfiniteSource(BURST 10) -> q :: FullNoteQueue(30) -> u :: Unqueue(ACTIVE false) -> Discard;")
    r.run(timeout=0.2)
    assert r.handler("q.length") == "30" and r.handler("q.drops") == "0"
    assert r.scheduler.ntasks_scheduled == 0
    r2 = router("s :: InfiniteSource(BURST 10) -> q :: NotifierQueue(30) -> u :: Unqueue(ACTIVE false) -> Discard;")
    r2.run(timeout=0.2)
    assert int(r2.handler("q.drops")) > 0          # no full notifier: the source keeps pushing


# ---------------------------------------------------------------- Unqueue
def test_unqueue_burst_and_limit():
    r = router("s :: InfiniteSource(LIMIT 100, BURST 100) -> q :: Queue(200) -> u :: Unqueue(BURST 7, LIMIT 30) -> c :: Counter -> rec :: Record;")
    r.run(timeout=0.3)
    assert r.handler("c.count") == "30" and r.handler("u.count") == "30"
    assert max(r.element("rec").batches) <= 7
    r.write("u.reset")                            # 30 more
    r.run(timeout=0.3)
    assert r.handler("c.count") == "60"
    r.write("u.limit", "-1")
    r.write("u.burst", "-1")                      # no limit per run
    r.run(timeout=0.3)
    assert r.handler("c.count") == "100" and r.handler("u.burst") == "-1"
    r.write("u.reset_counts")
    assert r.handler("u.count") == "0"


def test_unqueue_burst_zero_warns_and_pulls_nothing():
    r = router("s :: InfiniteSource(LIMIT 10, BURST 10) -> q :: Queue -> u :: Unqueue(0) -> c :: Counter -> Discard;",
               warnings=False)
    assert any("BURST size 0" in w.message for w in r.warnings)
    r.run(timeout=0.1)
    assert r.handler("c.count") == "0"


def test_unqueue_active_handler():
    r = router("s :: InfiniteSource(LIMIT 10, BURST 10) -> q :: Queue -> u :: Unqueue(BURST 256, ACTIVE false) -> c :: Counter -> Discard;")
    r.run(timeout=0.1)
    assert r.handler("c.count") == "0"
    r.write("u.active", "true")
    r.run(timeout=0.1)
    assert r.handler("c.count") == "10"


# ---------------------------------------------------------------- PullSwitch
def test_pullswitch_selects_an_input():
    r = router("Idle -> a :: Queue -> [0] ps :: PullSwitch(1); Idle -> b :: Queue -> [1] ps;"
               "ps -> u :: Unqueue(ACTIVE false) -> Discard;")
    inject(r, "a", [b"a1", b"a2"])
    inject(r, "b", [b"b1"])
    assert pull(r, "ps") == [b"b1"]
    r.write("ps.switch", "0")
    assert pull(r, "ps") == [b"a1", b"a2"]
    r.write("ps.switch", "5")
    assert r.handler("ps.switch") == "-1" and pull(r, "ps") == []


def test_pullswitch_notifier_follows_the_selected_input():
    r = router("sa :: InfiniteSource(LIMIT 20, BURST 20, ACTIVE false) -> a :: Queue -> [0] ps :: PullSwitch(0);"
               "sb :: InfiniteSource(LIMIT 20, BURST 20, ACTIVE false) -> b :: Queue -> [1] ps;"
               "ps -> u :: Unqueue(BURST 256) -> c :: Counter -> Discard;")
    r.run(timeout=0.1)
    assert r.scheduler.ntasks_scheduled == 0       # everything asleep
    r.write("sb.active", "true")                  # packets on the unselected input
    r.run(timeout=0.1)
    assert r.handler("b.length") == "20" and r.handler("c.count") == "0"
    assert r.scheduler.ntasks_scheduled == 0       # the Unqueue did not spin on b
    r.write("ps.switch", "1")                     # selecting b wakes the Unqueue
    r.run(timeout=0.1)
    assert r.handler("c.count") == "20"
    r.write("sa.active", "false")
    r.write("ps.switch", "0")
    r.write("sa.active", "true")                  # packets arrive on the selected input: woken
    r.run(timeout=0.1)
    assert r.handler("c.count") == "40"


# ---------------------------------------------------------------- schedulers
def sched_router(cls: str, n: int = 3) -> str:
    text = "".join(f"Idle -> q{i} :: Queue(500) -> [{i}] s;" for i in range(n))
    return f"s :: {cls};" + text + "s -> u :: Unqueue(ACTIVE false) -> Discard;"


def test_priosched_takes_the_highest_priority_first():
    r = router(sched_router("PrioSched"))
    inject(r, "q2", [b"c1", b"c2"])
    inject(r, "q1", [b"b1"])
    inject(r, "q0", [b"a1", b"a2"])
    assert pull(r, "s", max=4) == [b"a1", b"a2", b"b1", b"c1"]
    assert pull(r, "s", max=4) == [b"c2"]
    assert pull(r, "s") == []


def test_roundrobinsched_shares_between_backlogged_inputs():
    r = router(sched_router("RoundRobinSched", 2))
    inject(r, "q0", [b"a"] * 300)
    inject(r, "q1", [b"b"] * 300)
    got = pull(r, "s", max=256) + pull(r, "s", max=256)
    assert got.count(b"a") == 256 and got.count(b"b") == 256
    r2 = router(sched_router("RoundRobinSched", 3))
    inject(r2, "q1", [b"b1", b"b2"])
    inject(r2, "q2", [b"c1"])
    # a pull of 1 goes to the next input with packets, then moves on
    assert [pull(r2, "s", max=1) for _ in range(4)] == [[b"b1"], [b"c1"], [b"b2"], []]


def test_schedulers_pass_notifiers_through():
    for cls in ("PrioSched", "RoundRobinSched", "TimeSortedSched"):
        r = router(f"s0 :: InfiniteSource(LIMIT 5, BURST 5, ACTIVE false) -> q0 :: Queue -> [0] s :: {cls};"
                   f"s1 :: InfiniteSource(LIMIT 5, BURST 5, ACTIVE false) -> q1 :: Queue -> [1] s;"
                   f"s -> u :: Unqueue(BURST 256) -> c :: Counter -> Discard;")
        r.run(timeout=0.1)
        assert r.scheduler.ntasks_scheduled == 0, cls
        r.write("s1.active", "true")
        r.run(timeout=0.1)
        assert r.handler("c.count") == "5", cls
        assert r.scheduler.ntasks_scheduled == 0, cls


def test_timesortedsched_merges_by_timestamp():
    r = router(sched_router("TimeSortedSched", 2))
    inject(r, "q0", [(b"a%d" % t, {"timestamp": t}) for t in (1, 4, 5, 9)])
    inject(r, "q1", [(b"b%d" % t, {"timestamp": t}) for t in (2, 3, 7)])
    assert pull(r, "s") == [b"a1", b"b2", b"b3", b"a4", b"a5", b"b7", b"a9"]
    assert r.handler("s.well_ordered") == "true"


def test_timesortedsched_buffer_repairs_minor_reordering():
    for buffer, ordered in ((1, "false"), (3, "true")):
        r = router(sched_router(f"TimeSortedSched(BUFFER {buffer})", 1))
        inject(r, "q0", [(b"%d" % t, {"timestamp": t}) for t in (1, 3, 2, 4)])
        got = pull(r, "s")
        assert (got == [b"1", b"2", b"3", b"4"]) == (ordered == "true")
        assert r.handler("s.well_ordered") == ordered
    with pytest.raises(ConfigError, match="BUFFER must be at least 1"):
        router(sched_router("TimeSortedSched(BUFFER 0)", 1))


def test_timesortedsched_stop_when_inputs_are_exhausted():
    r = router("s0 :: InfiniteSource(LIMIT 30, BURST 10) -> q0 :: Queue -> [0] t :: TimeSortedSched(STOP true);"
               "s1 :: InfiniteSource(LIMIT 20, BURST 10) -> q1 :: Queue -> [1] t;"
               "t -> u :: Unqueue(BURST 8) -> c :: Counter -> Discard;")
    r.run(timeout=5)
    assert r.handler("c.count") == "50"
    assert r.driver.run_seconds < 4                 # stopped by TimeSortedSched, not the timeout
