"""`make bench`: packet rates of the benchmark configs, beside C and Python references.

For each config of bench/configs.py (and bench/configs_*.py): a calibration
run picks LIMIT so that a run lasts at least --seconds (2 s); then --runs (3)
runs, each asserting that the counter saw LIMIT packets and that the pool
got every buffer back. A run's rate is Counter.count divided by the driver's
run time: the driver starts its clock as its loop begins, the source makes
its first batch in that loop's first round, and the driver stops in the
round after the last packet, so the time is first-to-last packet to within
a few microseconds. In the same run, alternating with the config's runs,
the config's C reference loop (clickpy/benchref.pyx: the same packet work
with the project's pool operations, no element framework) runs as long,
and the plain-Python pipeline once per run. The table shows medians, the
clickpy / C ratio and the goal. Then the start-up time of `clickpy run -q`
on a small config and the peak RSS of a small config running with the
default pool.

    python bench/report.py [--only a,d] [--seconds 2] [--runs 3] [--no-python]
"""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_startup import clickpy_command, wall  # noqa: E402
from configs import BenchConfig  # noqa: E402

STARTUP_GOAL_MS = 60
RSS_GOAL_MB = 30
RATIO_GOAL = 0.80
SMALL_CONFIG = "InfiniteSource(LENGTH 64, LIMIT 1000) -> Counter -> Discard;"


def load_configs() -> list[BenchConfig]:
    configs: list[BenchConfig] = []
    for path in [HERE / "configs.py"] + sorted(HERE.glob("configs_*.py")):
        configs.extend(importlib.import_module(path.stem).CONFIGS)
    keys = [c.key for c in configs]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise SystemExit(f"bench: duplicate config keys {sorted(dupes)}")
    return configs


# ------------------------------------------------------------------- runs
CPU_SHARE: dict[str, list[float]] = {}     # config key -> CPU time / run time of each run


def run_clickpy(cfg: BenchConfig, limit: int) -> tuple[float, float]:
    """One run: (Mpps, seconds). Asserts the count and the pool."""
    from clickpy.router import Router
    kwargs = {"pool_size": cfg.pool_size} if cfg.pool_size else {}
    r = Router.from_string(cfg.config, defines={"LIMIT": str(limit)}, warnings=False, **kwargs)
    try:
        gc.disable()
        cpu = time.thread_time()
        try:
            r.run()
        finally:
            cpu = time.thread_time() - cpu
            gc.enable()
        CPU_SHARE.setdefault(cfg.key, []).append(min(cpu / max(r.driver.run_seconds, 1e-9), 1.0))
        count = int(r.handler(f"{cfg.counter}.count"))
        seconds = r.driver.run_seconds
    finally:
        r.cleanup()
    assert count == limit, f"({cfg.key}) {cfg.counter}.count is {count}, LIMIT {limit}"
    assert r.pool.free_count == r.pool.size, \
        f"({cfg.key}) pool has {r.pool.free_count} of {r.pool.size} buffers free after the run"
    return count / seconds / 1e6, seconds


def run_c(cfg: BenchConfig, limit: int) -> tuple[float, float]:
    from clickpy.packet import PacketPool
    pool = PacketPool(cfg.pool_size) if cfg.pool_size else PacketPool()
    count, seconds = cfg.c_reference(pool, limit)
    assert count == limit and pool.free_count == pool.size, f"({cfg.key}) C reference lost packets"
    return count / seconds / 1e6, seconds


def run_python(cfg: BenchConfig, limit: int) -> tuple[float, float]:
    count, seconds = cfg.py_reference(limit)
    assert count == limit, f"({cfg.key}) Python pipeline counted {count} of {limit}"
    return count / seconds / 1e6, seconds


def timed_runs(run, cfg: BenchConfig, first_limit: int, seconds: float, runs: int,
               between=None) -> list[float]:
    """Calibrate LIMIT to last `seconds`, then `runs` runs of at least that long;
    `between(i)` runs after run i (the references interleave with the config)."""
    rate, took = run(cfg, first_limit)
    limit = max(int(rate * 1e6 * seconds * 1.15), 1000)
    rates = []
    for i in range(runs):
        for _ in range(4):
            rate, took = run(cfg, limit)
            if took >= seconds:
                break
            limit = int(limit * seconds / took * 1.15)   # the machine sped up: run longer
        rates.append(rate)
        if between is not None:
            between(i)
    return rates


class Calibrated:
    """A reference run that lasts at least `seconds`: the first call calibrates."""

    def __init__(self, run, cfg: BenchConfig, first_limit: int, seconds: float) -> None:
        self.fn, self.cfg, self.seconds = run, cfg, seconds
        self.limit = 0
        self.first_limit = first_limit

    def run(self) -> float:
        if not self.limit:
            rate, _ = self.fn(self.cfg, self.first_limit)
            self.limit = max(int(rate * 1e6 * self.seconds * 1.15), 1000)
        for _ in range(4):
            rate, took = self.fn(self.cfg, self.limit)
            if took >= self.seconds:
                break
            self.limit = int(self.limit * self.seconds / took * 1.15)
        return rate


# --------------------------------------------------------------- process figures
def startup_ms(samples: int = 9) -> tuple[float, float, float]:
    """`clickpy run -q` on a small config, process start to ready (the router
    is built; interpreter exit included), alternating with a bare `python -c
    pass`: (median, best, median of the bare interpreter) in ms."""
    cmd = clickpy_command(["run", "-q", "-e", SMALL_CONFIG])
    bare = [sys.executable, "-c", "pass"]
    wall(cmd)                       # warm the page cache
    times, bare_times = [], []
    for _ in range(samples):
        times.append(wall(cmd) * 1e3)
        bare_times.append(wall(bare) * 1e3)
    return statistics.median(times), min(times), statistics.median(bare_times)


def peak_rss_mb() -> float:
    """Peak resident memory of a small config running for a second or so.

    Read from the child's VmHWM while it runs: its ru_maxrss would count the
    pages of this (large) process it was forked from."""
    config = "InfiniteSource(LENGTH 64, BURST 256, LIMIT 100000000, STOP true) -> Counter -> Discard;"
    proc = subprocess.Popen(clickpy_command(["run", "-e", config]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_kb = 0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak_kb = max(peak_kb, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    if proc.returncode:
        raise SystemExit(f"bench: the RSS run failed: {proc.stderr.read().decode(errors='replace')}")
    return peak_kb / 1024


# ------------------------------------------------------------------- report
def fmt(value: float | None, width: int = 7, digits: int = 1) -> str:
    return f"{value:{width}.{digits}f}" if value is not None else " " * (width - 1) + "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated config keys")
    ap.add_argument("--seconds", type=float, default=2.0, help="least duration of a run (default 2)")
    ap.add_argument("--runs", type=int, default=3, help="runs per config (default 3)")
    ap.add_argument("--no-python", action="store_true", help="skip the plain-Python pipelines")
    ap.add_argument("--no-process", action="store_true", help="skip start-up and RSS")
    args = ap.parse_args(argv)

    from clickpy import _build
    configs = load_configs()
    if args.only:
        wanted = set(args.only.split(","))
        configs = [c for c in configs if c.key in wanted]
    if _build.DEBUG:
        print("bench: warning: this is a debug build (make build-debug); figures are not representative")

    rows = []
    for cfg in configs:
        print(f"({cfg.key}) {cfg.name} ...", file=sys.stderr, flush=True)
        c_rates: list[float] = []
        py_rates: list[float] = []
        c_ref = Calibrated(run_c, cfg, cfg.first_limit, args.seconds) if cfg.c_reference else None
        py_ref = (Calibrated(run_python, cfg, 300_000, args.seconds)
                  if cfg.py_reference and not args.no_python else None)

        def references(i: int, c_ref=c_ref, py_ref=py_ref, c_rates=c_rates, py_rates=py_rates) -> None:
            if c_ref is not None:
                c_rates.append(c_ref.run())
            if py_ref is not None:
                py_rates.append(py_ref.run())

        rates = timed_runs(run_clickpy, cfg, cfg.first_limit, args.seconds, args.runs, references)
        rows.append((cfg, rates, c_rates, py_rates))

    print()
    print(f"clickpy benchmarks: median of {args.runs} runs of at least {args.seconds:g} s each "
          f"(Mpps = packets counted / first-to-last-packet time)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; cpu = the driver's share of "
          f"a CPU during its runs (below 100%: the machine was busy, rates are low)")
    print()
    print(f"{'config':<58} {'Mpps':>7} {'goal':>5} {'C ref':>7} {'ratio':>6} {'Python':>7} {'cpu':>5}  runs (Mpps)")
    verdicts = []
    for cfg, rates, c_rates, py_rates in rows:
        mpps = statistics.median(rates)
        c = statistics.median(c_rates) if c_rates else None
        py = statistics.median(py_rates) if py_rates else None
        ratio = mpps / c if c else None
        label = f"({cfg.key}) {cfg.name}"
        share = statistics.median(CPU_SHARE[cfg.key][-len(rates):])
        print(f"{label:<58} {fmt(mpps)} {fmt(cfg.goal_mpps, 5, 0)} {fmt(c)} {fmt(ratio, 6, 2)} {fmt(py, 7, 2)} "
              f"{share:5.0%}  " + " ".join(f"{x:.1f}" for x in rates))
        if cfg.goal_mpps is not None:
            verdicts.append((f"({cfg.key}) >= {cfg.goal_mpps:g} Mpps", mpps >= cfg.goal_mpps))
        if ratio is not None:
            verdicts.append((f"({cfg.key}) within {RATIO_GOAL:.0%} of C", ratio >= RATIO_GOAL))
    if not args.no_process:
        median_ms, best_ms, bare_ms = startup_ms()
        rss = peak_rss_mb()
        print()
        print(f"start-up, `clickpy run -q` on a small config: {median_ms:.0f} ms median, {best_ms:.0f} ms best "
              f"(goal < {STARTUP_GOAL_MS} ms; `python -c pass`: {bare_ms:.0f} ms)")
        print(f"peak RSS of a small running config, default pool: {rss:.1f} MB (goal < {RSS_GOAL_MB} MB)")
        verdicts.append((f"start-up < {STARTUP_GOAL_MS} ms", median_ms < STARTUP_GOAL_MS))
        verdicts.append((f"peak RSS < {RSS_GOAL_MB} MB", rss < RSS_GOAL_MB))
    print()
    print("goals: " + ", ".join(f"{what}: {'met' if ok else 'MISSED'}" for what, ok in verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
