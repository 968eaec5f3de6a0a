"""How long does forwarding stop when the configuration is hot-swapped?

    .venv/bin/python bench/hotswap_stall.py [--swaps N] [--runs R]

Traffic: InfiniteSource -> Queue -> Unqueue -> GapMeter -> Counter -> Discard.
GapMeter (a Python element, cold enough here: one call per batch) records
when each batch passes; the longest gap between two batches is the longest
time no packet moved. Reported per run: the longest gap with no swap going
on (baseline), the longest gap while a new configuration is built in the
background (GIL sharing), the longest gap across the swap itself, and the
swap's own stall as the router measures it (old loop stopped -> new loop
running). Medians over runs are printed last. On a shared machine other
processes preempt ours for tens of ms (see the baseline column); run it as
`chrt -f 10 .venv/bin/python bench/hotswap_stall.py` to keep them out of
the figures.
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

from clickpy import registry
from clickpy.element import PyElement
from clickpy.hotswap import LiveRouter
from clickpy.router import Router


class GapMeter(PyElement):
    """Records the time of every batch (bench only)."""

    def initialize(self):
        self.times = []

    def process_batch(self, batch):
        self.times.append(time.monotonic_ns())
        return None

    def take_state(self, old):
        self.times = old.times


registry.register("GapMeter", GapMeter)

CONFIG = """src :: InfiniteSource(LENGTH 64, BURST 32, LIMIT -1) -> q :: Queue(1024)
  -> u :: Unqueue(BURST 32) -> g :: GapMeter -> c :: Counter -> Discard;
// padding: a config of realistic size to parse, check and initialize
%s
"""


def padding(n: int) -> str:
    return "\n".join(f"p{i} :: InfiniteSource(ACTIVE false) -> Queue(64) -> Unqueue -> Counter -> Discard;"
                     for i in range(n))


def max_gap(times: list[int], t0: int, t1: int) -> float:
    xs = [t for t in times if t0 <= t <= t1]
    return max((b - a for a, b in zip(xs, xs[1:])), default=0) / 1e6


def one_run(nswaps: int, pad: int) -> dict:
    cfg = CONFIG % padding(pad)
    live = LiveRouter(Router.from_string(cfg), allow_hotconfig=True)
    marks = []      # (build start, swap start (router's clock), swap done)

    def driver():
        time.sleep(0.3)
        for k in range(nswaps):
            t_build = time.monotonic_ns()
            p = live.reconfigure(cfg.replace("Queue(1024)", f"Queue({1024 + k})"))
            while not p.done:
                time.sleep(0.001)
            assert p.ok, p.messages
            time.sleep(0.1)
            marks.append((t_build, live.last_swap_start_ns, live.router.driver.started_ns))
            time.sleep(0.1)
        live.router.stop()
    t = threading.Thread(target=driver)
    t.start()
    t_start = time.monotonic_ns()
    live.run(timeout=60)
    t.join()
    times = live.router.element("g").times
    base_end = marks[0][0] if marks else time.monotonic_ns()
    result = {
        "baseline_gap_ms": max_gap(times, t_start + 100_000_000, base_end),
        "build_gap_ms": max(max_gap(times, b, s - 1) for b, s, _ in marks),
        "swap_gap_ms": max(max_gap(times, s - 5_000_000, r + 5_000_000) for _, s, r in marks),
        "swap_stall_ms": max((r - s) / 1e6 for _, s, r in marks),
        "build_ms": statistics.median((s - b) / 1e6 for b, s, _ in marks),
        "elements": len(live.router.elements),
    }
    pool = live.router.pool
    live.cleanup()
    assert pool.free_count == pool.size, "buffers lost"
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--swaps", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--padding", type=int, default=40, help="extra 5-element chains in the config")
    args = ap.parse_args()
    rows = [one_run(args.swaps, args.padding) for _ in range(args.runs)]
    keys = ["elements", "build_ms", "baseline_gap_ms", "build_gap_ms", "swap_gap_ms", "swap_stall_ms"]
    print(" ".join(f"{k:>16}" for k in keys))
    for row in rows:
        print(" ".join(f"{row[k]:16.3f}" if isinstance(row[k], float) else f"{row[k]:16}" for k in keys))
    print("median " + " ".join(f"{statistics.median(r[k] for r in rows):16.3f}" for k in keys[1:]))


if __name__ == "__main__":
    main()
