"""InfiniteSource: Click's arguments, keywords, handlers, push and pull."""
import time

import pytest

from clickpy.element import HandlerError
from clickpy.lang.graph import ConfigError
from std_helpers import pull, router

DEFAULT = b"Random bullshit in a packet, at least 64 bytes long. Well, now it is."


def test_positional_arguments_data_limit_burst_active():
    r = router("s :: InfiniteSource(\\<0800>, 10, 4, true) -> rec :: Record;")
    r.run(timeout=0.1)
    rec = r.element("rec")
    assert rec.data == [b"\x08\x00"] * 10
    assert rec.batches == [4, 4, 2]
    assert r.handler("s.count") == "10"


def test_default_data_and_length_cut_or_repeated():
    r = router("a :: InfiniteSource(LIMIT 1) -> ra :: Record; b :: InfiniteSource(LIMIT 1, LENGTH 150) -> rb :: Record;"
               "c :: InfiniteSource(abc, LIMIT 1, LENGTH 2) -> rc :: Record; d :: InfiniteSource(LIMIT 1, DATASIZE 5) -> rd :: Record;")
    r.run(timeout=0.1)
    assert r.element("ra").data == [DEFAULT]
    assert r.element("rb").data == [(DEFAULT * 3)[:150]]
    assert r.element("rc").data == [b"ab"]
    assert r.element("rd").data == [DEFAULT[:5]]
    assert r.handler("a.length") == "-1" and r.handler("b.length") == "150"


@pytest.mark.parametrize("length", [1, 31, 32, 33, 63, 64, 65, 200, 1888, 1889, 1920])
def test_every_packet_is_the_template_whatever_the_length(length):
    # lengths on both sides of each way PacketPool.alloc_batch copies data
    r = router(f"InfiniteSource(abcdefghij, LENGTH {length}, LIMIT 300, BURST 300) -> rec :: Record;")
    r.run(timeout=0.2)
    assert r.element("rec").data == [(b"abcdefghij" * 200)[:length]] * 300


def test_timestamps_are_set_unless_disabled():
    r = router("a :: InfiniteSource(LIMIT 3, BURST 3) -> ra :: Record; b :: InfiniteSource(LIMIT 3, TIMESTAMP false) -> rb :: Record;")
    before = time.time_ns()
    r.run(timeout=0.1)
    after = time.time_ns()
    stamps = [a["timestamp"] for _, a in r.element("ra").packets]
    assert len(set(stamps)) == 1 and before <= stamps[0] <= after     # read once per batch
    assert [a["timestamp"] for _, a in r.element("rb").packets] == [0, 0, 0]


def test_packets_are_independent_copies():
    r = router("s :: InfiniteSource(LIMIT 2, BURST 2) -> Strip(5) -> rec :: Record;")
    r.run(timeout=0.1)
    assert r.element("rec").data == [DEFAULT[5:]] * 2
    assert r.handler("s.data") == DEFAULT.decode()


def test_stop_and_end_call():
    r = router("s :: InfiniteSource(LIMIT 100, BURST 30, STOP true) -> c :: Counter -> Discard;")
    r.run(timeout=5)
    assert r.handler("c.count") == "100" and r.driver.run_seconds < 4
    r2 = router("s :: InfiniteSource(LIMIT 50, BURST 30, END_CALL t.active true) -> Discard;"
                "t :: InfiniteSource(LIMIT 7, ACTIVE false, STOP true) -> c :: Counter -> Discard;")
    r2.run(timeout=5)
    assert r2.handler("c.count") == "7"
    with pytest.raises(ConfigError, match="mutually exclusive"):
        router("InfiniteSource(STOP true, END_CALL x.y) -> Discard;")


def test_handlers_change_the_source():
    r = router("s :: InfiniteSource(LIMIT 5, BURST 5) -> rec :: Record;")
    r.run(timeout=0.1)
    r.write("s.data", "\\<41>")              # written raw, not parsed as Click data
    r.write("s.limit", "8")
    r.write("s.burst", "2")
    r.run(timeout=0.1)
    data = r.element("rec").data
    assert data[:5] == [DEFAULT] * 5 and data[5:] == [b"\\<41>"] * 3
    assert (r.handler("s.limit"), r.handler("s.burst"), r.handler("s.burstsize")) == ("8", "2", "2")
    r.write("s.length", "3")
    r.write("s.reset")
    r.write("s.limit", "1")
    r.run(timeout=0.1)
    assert r.element("rec").data[-1] == b"\\<4"
    with pytest.raises(HandlerError):
        r.write("s.burst", "0")
    with pytest.raises(HandlerError):
        r.write("s.limit", "lots")


def test_active_false_then_true():
    r = router("s :: InfiniteSource(LIMIT 10, ACTIVE false) -> c :: Counter -> Discard;")
    r.run(timeout=0.05)
    assert r.handler("c.count") == "0" and r.scheduler.ntasks_scheduled == 0
    r.write("s.active", "true")
    r.run(timeout=0.2)
    assert r.handler("c.count") == "10" and r.handler("s.active") == "true"


def test_pull_output_makes_packets_on_demand_and_notifies():
    r = router("s :: InfiniteSource(LIMIT 5, BURST 2) -> u :: Unqueue(ACTIVE false) -> Discard;")
    assert len(pull(r, "s", max=3)) == 3         # BURST is for pushing
    assert len(pull(r, "s", max=3)) == 2         # LIMIT
    assert pull(r, "s") == []
    r2 = router("s :: InfiniteSource(LIMIT 300, BURST 10) -> u :: Unqueue(BURST 64) -> c :: Counter -> Discard;")
    r2.run(timeout=0.3)
    assert r2.handler("c.count") == "300"
    assert r2.scheduler.ntasks_scheduled == 0   # its empty notifier put the Unqueue to sleep


def test_pool_exhaustion_is_counted_not_fatal():
    r = router("s :: InfiniteSource(LIMIT 40, BURST 40) -> q :: Queue(100) -> u :: Unqueue(ACTIVE false) -> Discard;",
               pool_size=16, big_pool_size=0)
    r.run(timeout=0.1)
    assert r.handler("q.length") == "16"
    assert r.pool.stats()["alloc_failures"] > 0
    r.write("q.reset")
    r.write("u.active", "true")
    r.run(timeout=0.2)
    assert r.handler("s.count") == "40"


def test_bad_arguments():
    with pytest.raises(ConfigError, match="BURST must be at least 1"):
        router("InfiniteSource(BURST 0) -> Discard;")
    with pytest.raises(ConfigError, match="LENGTH 5000 exceeds"):
        router("InfiniteSource(LENGTH 5000) -> Discard;")
    with pytest.raises(ConfigError, match="LIMIT"):
        router("InfiniteSource(LIMIT many) -> Discard;")
