"""Rate elements: RatedSource, RatedUnqueue, BandwidthRatedUnqueue, Shaper,
BandwidthShaper, Meter, BandwidthMeter, RED.

Rates are checked within 5%: on the simulated clock of the standard
elements (set_simulated_time) where an element is driven by pulls or
pushes, and on the real clock, against the driver's own run time, where a
task and its timer keep the rate.
"""
import pytest

from clickpy.elements.standard.standard import set_simulated_time
from clickpy.element import HandlerError
from clickpy.lang.graph import ConfigError
from std_helpers import inject, pull, router

MS = 1_000_000
START = 1_000 * 1_000_000_000      # any positive simulated instant


@pytest.fixture
def simclock():
    """A simulated clock for the rate elements; yields a function that moves it."""
    now = [START]
    set_simulated_time(now[0])

    def advance(ns: int) -> int:
        now[0] += ns
        set_simulated_time(now[0])
        return now[0]
    try:
        yield advance
    finally:
        set_simulated_time(None)


def within(value: float, expected: float, tolerance: float = 0.05) -> bool:
    return abs(value - expected) <= tolerance * expected


def fill(r, queue: str, n: int, length: int = 60) -> None:
    for start in range(0, n, 256):
        inject(r, queue, [bytes(length)] * min(256, n - start))


# ---------------------------------------------------------------- Shaper
@pytest.mark.parametrize("step_ms", [1, 7, 50])
def test_shaper_holds_its_rate_whatever_the_pull_spacing(simclock, step_ms):
    r = router("Idle -> q :: Queue(5000) -> sh :: Shaper(1000) -> Unqueue(ACTIVE false) -> Discard;")
    fill(r, "q", 4000)
    sent = 0
    for _ in range(2000 // step_ms):
        simclock(step_ms * MS)
        sent += len(pull(r, "sh"))
    elapsed = (2000 // step_ms) * step_ms / 1000
    assert within(sent, 1000 * elapsed)
    assert sent <= 1000 * elapsed + 1           # the one packet of allowance it starts with


def test_shaper_catches_up_at_most_one_second(simclock):
    r = router("Idle -> q :: Queue(5000) -> sh :: Shaper(500) -> Unqueue(ACTIVE false) -> Discard;")
    fill(r, "q", 3000)
    assert len(pull(r, "sh")) == 1               # it starts with one packet of allowance
    simclock(5000 * MS)                          # five seconds without a pull
    burst = sum(len(pull(r, "sh")) for _ in range(10))
    assert burst == 500
    r.write("sh.rate", "100")
    assert r.handler("sh.rate") == "100"
    simclock(1000 * MS)
    assert sum(len(pull(r, "sh")) for _ in range(10)) == 100
    with pytest.raises(HandlerError):
        r.write("sh.rate", "fast")


def test_bandwidthshaper_holds_bytes_per_second(simclock):
    r = router("Idle -> q :: Queue(7000) -> sh :: BandwidthShaper(800kbps) -> Unqueue(ACTIVE false) -> Discard;")
    assert r.handler("sh.rate") == "100000"
    for length in (100, 1000, 60):
        fill(r, "q", 2000, length)
    sent = 0
    for _ in range(3000):                        # 3 s in 1 ms steps
        simclock(MS)
        sent += sum(len(p) for p in pull(r, "sh"))
    assert within(sent, 300_000)
    assert sent <= 300_000 + 1000               # at most one packet of debt


# ---------------------------------------------------------------- RatedSource
def test_ratedsource_pull_rate_and_limit(simclock):
    r = router("src :: RatedSource(\\<0800>, 2000, 3000, LENGTH 50) -> u :: Unqueue(ACTIVE false) -> Discard;")
    got = []
    for _ in range(1000):                        # 1 s in 1 ms steps
        simclock(MS)
        got += pull(r, "src")
    assert within(len(got), 2000)
    assert all(p == (b"\x08\x00" * 25) for p in got)
    for _ in range(2000):
        simclock(MS)
        got += pull(r, "src")
    assert len(got) == 3000 and r.handler("src.count") == "3000"   # LIMIT
    r.write("src.reset")
    simclock(10 * MS)
    assert len(pull(r, "src")) > 0


def test_ratedsource_bandwidth_sets_the_rate():
    r = router("src :: RatedSource(LENGTH 100, BANDWIDTH 800kbps) -> Discard;")
    assert r.handler("src.rate") == "1000"


def test_ratedsource_push_keeps_its_rate_on_the_real_clock():
    r = router("src :: RatedSource(LENGTH 64, RATE 2000) -> c :: Counter -> Discard;")
    r.run(timeout=1.0)
    count, seconds = int(r.handler("c.count")), r.driver.run_seconds
    # never faster; slower only when the machine starves the driver for more
    # than the bucket's 10 ms, which a loaded test machine may do
    assert count <= 2000 * seconds * 1.05 + 20
    assert count >= 2000 * seconds * 0.5
    r.write("src.active", "false")
    r.run(timeout=0.1)
    stopped = int(r.handler("c.count"))
    r.run(timeout=0.1)
    assert int(r.handler("c.count")) == stopped


def test_ratedsource_stop_and_handlers():
    r = router("src :: RatedSource(RATE 1000, LIMIT 20, STOP true) -> c :: Counter -> Discard;")
    r.run(timeout=5)
    assert r.handler("c.count") == "20" and r.driver.run_seconds < 4
    r.write("src.rate", "50")
    r.write("src.limit", "-1")
    r.write("src.data", "hello")
    assert (r.handler("src.rate"), r.handler("src.limit"), r.handler("src.data")) == ("50", "-1", "hello")
    with pytest.raises(HandlerError):
        r.write("src.rate", "-5")


# ---------------------------------------------------------------- RatedUnqueue
def run_rated(config: str, seconds: float = 1.5):
    r = router(config)
    r.run(timeout=seconds)
    return r, int(r.handler("c.count")), int(r.handler("c.byte_count")), r.driver.run_seconds


def test_ratedunqueue_holds_its_rate_on_the_real_clock():
    # a bucket of a second's tokens rides out scheduling hiccups of the test machine
    r, count, _, seconds = run_rated("s :: InfiniteSource(BURST 64) -> q :: Queue(10000) "
                                     "-> ru :: RatedUnqueue(4000, BURST_SIZE 4000) -> c :: Counter -> Discard;")
    assert within(count - 4000, 4000 * seconds)    # the bucket starts full
    assert "calls to run_task()" in r.handler("ru.calls")


def test_bandwidthratedunqueue_holds_its_rate_on_the_real_clock():
    r, _, nbytes, seconds = run_rated("s :: InfiniteSource(LENGTH 100, BURST 64) -> q :: Queue(10000) "
                                      "-> ru :: BandwidthRatedUnqueue(3.2Mbps, BURST_BYTES 400000) -> c :: Counter -> Discard;")
    assert within(nbytes - 400_000, 400_000 * seconds, 0.05)
    assert r.handler("ru.rate") == "400000"


def test_ratedunqueue_burst_duration_and_handlers():
    r = router("s :: InfiniteSource(BURST 64) -> q :: Queue(10000) -> ru :: RatedUnqueue(100, BURST_DURATION 2) -> c :: Counter -> Discard;")
    r.run(timeout=0.2)
    assert 200 <= int(r.handler("c.count")) <= 230   # the full bucket of 2 s, then 100/s
    r.write("ru.active", "false")
    before = int(r.handler("c.count"))
    r.run(timeout=0.2)
    assert int(r.handler("c.count")) == before
    r.write("ru.rate", "1000")
    assert r.handler("ru.rate") == "1000"
    with pytest.raises(ConfigError, match="cannot specify both BURST_DURATION and BURST_SIZE"):
        router("Idle -> Queue -> RatedUnqueue(10, BURST_DURATION 1, BURST_SIZE 5) -> Discard;")
    with pytest.raises(ConfigError, match="RATE"):
        router("Idle -> Queue -> RatedUnqueue -> Discard;")


def test_ratedunqueue_sleeps_on_an_empty_queue():
    r = router("s :: InfiniteSource(LIMIT 10, BURST 10, ACTIVE false) -> q :: Queue -> ru :: RatedUnqueue(1000) -> c :: Counter -> Discard;")
    r.run(timeout=0.1)
    assert r.scheduler.ntasks_scheduled == 0 and r.scheduler.ntimers == 0
    r.write("s.active", "true")
    r.run(timeout=0.3)
    assert r.handler("c.count") == "10"


# ---------------------------------------------------------------- TimedSource
def test_timedsource_interval_limit_and_stop():
    r = router("t :: TimedSource(0.01, \\<aabb>, LIMIT 30, STOP true) -> c :: Counter -> rec :: Record;")
    r.run(timeout=5)
    assert r.handler("c.count") == "30"
    assert r.element("rec").data == [b"\xaa\xbb"] * 30
    # 30 intervals (the first armed when the router was built), one more, then the stop
    assert 0.2 <= r.driver.run_seconds < 3


def test_timedsource_handlers_and_headroom():
    r = router("t :: TimedSource(0.005, hello, HEADROOM 40) -> rec :: Record;")
    r.run(timeout=0.1)
    packets = r.element("rec").packets
    assert packets and all(p == b"hello" and a["headroom"] == 40 for p, a in packets)
    assert r.handler("t.interval") == "0.005" and r.handler("t.headroom") == "40"
    r.write("t.active", "false")
    n = int(r.handler("t.count"))
    r.run(timeout=0.05)
    assert int(r.handler("t.count")) == n
    r.write("t.interval", "1")
    r.write("t.data", "bye")
    assert r.handler("t.data") == "bye"
    with pytest.raises(HandlerError):
        r.write("t.interval", "0")
    with pytest.raises(ConfigError, match="HEADROOM"):
        router("TimedSource(HEADROOM 5000) -> Discard;")


# ---------------------------------------------------------------- Meter
def test_meter_classifies_by_packet_rate(simclock):
    r = router("Idle -> m :: Meter(1000, 5000); m[0] -> r0 :: Record; m[1] -> r1 :: Record; m[2] -> r2 :: Record;")
    assert r.handler("m.meters") == "1000\n5000"
    for _ in range(300):                         # 2 packets per ms: 2000 packets/s
        simclock(MS)
        inject(r, "m", [b"a", b"a"])
    assert within(float(r.handler("m.rate")), 2000)
    assert r.element("r1").data[-10:] == [b"a"] * 10
    for _ in range(300):                         # 8 per ms: 8000/s
        simclock(MS)
        inject(r, "m", [b"b"] * 8)
    assert within(float(r.handler("m.rate")), 8000)
    assert r.element("r2").data[-8:] == [b"b"] * 8
    simclock(1000 * MS)                          # a second of silence decays the rate
    inject(r, "m", [b"c"])
    assert r.element("r0").data[-1:] == [b"c"]
    assert r.element("r0").data[:1] == [b"a"]     # the very first packets saw no rate yet


def test_bandwidthmeter_classifies_by_byte_rate(simclock):
    r = router("Idle -> m :: BandwidthMeter(100kBps) -> r0 :: Record; m[1] -> r1 :: Record;")
    for _ in range(300):                         # 200 bytes per ms: 200 kB/s
        simclock(MS)
        inject(r, "m", [bytes(200)])
    assert within(float(r.handler("m.rate")), 200_000)
    assert len(r.element("r1").data) > 200


def test_meter_arguments_are_checked():
    with pytest.raises(ConfigError, match="rate 2 must be > rate 1"):
        router("Idle -> m :: Meter(5000, 1000); m[0] -> Discard; m[1] -> Discard; m[2] -> Discard;")
    with pytest.raises(ConfigError, match="need 2 arguments"):
        router("Idle -> m :: Meter(5000); m[0] -> Discard; m[1] -> Discard; m[2] -> Discard;")
    with pytest.raises(ConfigError, match="expected one or more rates"):
        router("Idle -> m :: Meter; m[0] -> Discard; m[1] -> Discard;")


# ---------------------------------------------------------------- RED
def red_router(params: str) -> str:
    return (f"Idle -> red :: RED({params}, QUEUES q) -> pass :: Record; red[1] -> marked :: Record;"
            "Idle -> q :: Queue(1000) -> Unqueue(ACTIVE false) -> Discard;")


def red_fraction(params: str, queue_length: int, packets: int = 20000) -> float:
    """Fraction of packets RED marks while the watched queue holds queue_length."""
    r = router(red_router(params))
    inject(r, "q", [b"q"] * queue_length)
    for start in range(0, packets, 256):
        inject(r, "red", [b"p"] * min(256, packets - start))
    marked = len(r.element("marked").data)
    assert marked + len(r.element("pass").data) == packets
    assert r.handler("red.drops") == str(marked)
    r.write("q.reset")
    return marked / packets


def test_red_below_min_marks_nothing_and_above_kill_marks_everything():
    assert red_fraction("5, 10, 0.2, STABILITY 0", 5) == 0
    assert red_fraction("5, 10, 0.2, STABILITY 0", 21) == 1          # gentle: above 2 * MAX_THRESH
    assert red_fraction("5, 10, 0.2, STABILITY 0, GENTLE false", 11) == 1


@pytest.mark.parametrize("queue_length,p_b", [(6, 0.1), (10, 0.5), (15, 0.75)])
def test_red_marks_with_the_probability_of_the_average(queue_length, p_b):
    # MIN 5, MAX 10, MAX_P 0.5: linear to 0.5 at 10, gentle from 0.5 to 1 at 20
    fraction = red_fraction("5, 10, 0.5, STABILITY 0", queue_length)
    expected = {0.1: 1 / 5.5, 0.5: 1 / 1.5, 0.75: None}[p_b]
    if expected is None:
        # p_b = 0.75: gaps floor(R / 0.75) + 1 are 1 (R < 0.75) or 2
        expected = 1 / (0.75 * 1 + 0.25 * 2)
    assert within(fraction, expected)


def test_red_average_follows_the_queue_with_stability():
    r = router(red_router("5, 10, 0.1, STABILITY 1"))
    inject(r, "q", [b"q"] * 8)
    inject(r, "red", [b"p"] * 40)
    assert float(r.handler("red.avg_queue_size")) == pytest.approx(8, abs=0.01)
    assert r.handler("red.queues") == "q"
    assert "8 current queue" in r.handler("red.stats")
    r.write("q.reset")


def test_red_average_decays_while_the_queue_is_empty(simclock):
    r = router(red_router("5, 10, 0.1, STABILITY 2"))
    inject(r, "q", [b"q"] * 100)
    inject(r, "red", [b"p"] * 100)
    r.write("q.reset")
    high = float(r.handler("red.avg_queue_size"))
    simclock(20 * MS)
    inject(r, "red", [b"p"])
    simclock(200 * MS)                           # ten more empty periods
    inject(r, "red", [b"p"])
    assert float(r.handler("red.avg_queue_size")) == pytest.approx(high * 0.75 ** 11, rel=0.01)


def test_red_finds_its_queues_by_flow():
    r = router("Idle -> red :: RED(5, 50, 0.02) -> Counter -> q :: Queue -> Unqueue(ACTIVE false) -> Discard;")
    assert r.handler("red.queues") == "q"
    r2 = router("Idle -> q1 :: Queue -> red :: RED(5, 50, 0.02) -> Unqueue(ACTIVE false) -> Discard;")
    assert r2.handler("red.queues") == "q1"
    with pytest.raises(ConfigError, match="no nearby Queues"):
        router("Idle -> RED(5, 50, 0.02) -> Discard;")
    with pytest.raises(ConfigError, match="'c' is not a Storage element"):
        router("Idle -> RED(5, 50, 0.02, QUEUES c) -> c :: Counter -> Discard;")


def test_red_push_counts_the_batch_into_the_queue():
    # 20 packets at once into an empty queue with instantaneous averaging:
    # the first 6 see lengths 0..5 (no mark), the last ones lengths above 20 are all marked
    r = router("Idle -> red :: RED(5, 10, 0.5, STABILITY 0) -> q :: Queue(100) -> Unqueue(ACTIVE false) -> Discard; red[1] -> marked :: Record;")
    inject(r, "red", [bytes([i]) for i in range(30)])
    marked = r.element("marked").data
    accepted = int(r.handler("q.length"))
    assert accepted + len(marked) == 30
    assert all(m[0] >= 6 for m in marked)        # nothing marked below MIN_THRESH
    assert accepted <= 21                        # at most 20 queued before everything is marked
    r.write("q.reset")


def test_red_parameters_and_errors():
    r = router(red_router("5, 10, 0.1"))
    r.write("red.max_p", "0.3")
    r.write("red.min_thresh", "2")
    r.write("red.max_thresh", "40")
    assert (r.handler("red.min_thresh"), r.handler("red.max_thresh"), r.handler("red.max_p")) == ("2", "40", "0.3")
    with pytest.raises(HandlerError, match="MIN_THRESH must be <= MAX_THRESH"):
        r.write("red.min_thresh", "50")
    with pytest.raises(ConfigError, match="MAX_P must be between 0 and 1"):
        router(red_router("5, 10, 1.5"))
    with pytest.raises(ConfigError, match="STABILITY must be between 0 and 16"):
        router(red_router("5, 10, 0.1, STABILITY 17"))


def test_ratedsource_pull_stop_votes_once(simclock):
    r = router("src :: RatedSource(RATE 1000, LIMIT 5, STOP true) -> u :: Unqueue(ACTIVE false) -> Discard;")
    r.driver.runcount = 2                        # another vote is needed to stop
    assert len(pull(r, "src")) == 1             # the bucket starts with one token
    simclock(100 * MS)
    assert len(pull(r, "src")) == 4             # LIMIT 5
    for _ in range(3):
        assert pull(r, "src") == []
    assert r.driver.runcount == 1
