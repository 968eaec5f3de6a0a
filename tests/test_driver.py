"""The driver: tasks, timers, notifier sleep and wake, signals, stop."""
import os
import resource
import signal
import threading
import time

import pytest

from clickpy.graph import Graph


def cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def idle_pipeline(limit=1000):
    g = Graph()
    g.add("InfiniteSource", f"LENGTH 60, BURST 50, LIMIT {limit}, ACTIVE false, STOP true", name="s") \
        >> g.add("Queue", "200", name="q") >> g.add("Unqueue", "BURST 64", name="u") \
        >> g.add("Counter", name="c") >> g.add("Discard")
    return g.router()


def test_idle_queue_and_unqueue_use_no_cpu():
    r = idle_pipeline()
    u = r.element("u")
    cpu0 = cpu_seconds()
    r.run(timeout=0.5)
    cpu = cpu_seconds() - cpu0
    # Unqueue ran once at start, found the queue empty and went to sleep on its notifier.
    assert r.scheduler.ntasks_scheduled == 0
    assert r.handler("c.count") == "0"
    assert cpu < 0.2, f"idle router used {cpu:.3f} s of CPU in 0.5 s"


def test_notifier_wakes_the_puller_when_packets_arrive():
    r = idle_pipeline(limit=1000)
    s = r.element("s")
    timer = s.add_timer(lambda: r.write("s.active", "true"))
    timer.schedule_after(100_000_000)          # 100 ms into the run
    r.run(timeout=10)
    assert r.handler("c.count") == "1000"       # the source stopped the driver after LIMIT
    assert r.handler("q.drops") == "0"          # the source slept while the queue was full
    assert r.handler("q.length") == "0"


def test_timers_fire_in_order_and_can_be_cancelled():
    g = Graph()
    g.add("InfiniteSource", "ACTIVE false", name="s") >> g.add("Discard")
    r = g.router()
    s = r.element("s")
    fired = []
    t3 = s.add_timer(lambda: (fired.append(3), r.stop()))
    t1 = s.add_timer(lambda: fired.append(1))
    t2 = s.add_timer(lambda: fired.append(2))
    cancelled = s.add_timer(lambda: fired.append("x"))
    t3.schedule_after(60_000_000)
    t2.schedule_after(30_000_000)
    t1.schedule_after(10_000_000)
    cancelled.schedule_after(20_000_000)
    cancelled.unschedule()
    assert not cancelled.scheduled()
    start = time.monotonic()
    r.run(timeout=5)
    assert fired == [1, 2, 3]
    assert time.monotonic() - start < 4       # stopped by the last timer, not the timeout


def test_sigint_stops_the_driver_cleanly():
    g = Graph()
    g.add("InfiniteSource", "LENGTH 64, BURST 64", name="s") >> g.add("Counter", name="c") >> g.add("Discard")
    r = g.router()
    main = threading.main_thread().ident
    killer = threading.Timer(0.2, lambda: signal.pthread_kill(main, signal.SIGINT))
    killer.start()
    try:
        r.run(timeout=20)
    finally:
        killer.cancel()
    assert r.driver.stop_signal == signal.SIGINT
    assert int(r.handler("c.count")) > 0
    # the signal was taken by the driver, not left pending for Python
    assert signal.SIGINT not in signal.sigpending()


def test_please_stop_votes_with_runcount():
    g = Graph()
    g.add("InfiniteSource", "LIMIT 10, STOP true", name="a") >> g.add("Discard")
    g.add("InfiniteSource", "LIMIT 20000, STOP true", name="b") >> g.add("Counter", name="c") >> g.add("Discard")
    r = g.router()
    r.driver.runcount = 2                      # stop only when both sources are done
    r.run(timeout=10)
    assert r.handler("c.count") == "20000"


def test_stop_handler_and_timeout():
    g = Graph()
    g.add("InfiniteSource", "BURST 16", name="s") >> g.add("Discard")
    r = g.router()
    start = time.monotonic()
    r.run(timeout=0.3)
    assert 0.25 < time.monotonic() - start < 5
    s = r.element("s")
    t = s.add_timer(lambda: r.write("stop"))
    t.schedule_after(50_000_000)
    r.run(timeout=10)
    assert r.driver.run_seconds < 5


def test_descriptor_readiness_calls_back():
    g = Graph()
    g.add("InfiniteSource", "ACTIVE false", name="s") >> g.add("Discard")
    r = g.router()
    rfd, wfd = os.pipe()
    got = []

    def readable(events):
        got.append(os.read(rfd, 100))
        r.stop()

    r.element("s").add_select(rfd, 1, readable)
    t = r.element("s").add_timer(lambda: os.write(wfd, b"ping"))
    t.schedule_after(20_000_000)
    r.run(timeout=5)
    r.element("s").remove_select(rfd)
    os.close(rfd)
    os.close(wfd)
    assert got == [b"ping"]
