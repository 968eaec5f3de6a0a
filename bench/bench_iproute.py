"""Route lookup benchmark: RadixIPLookup and DirectIPLookup with random routes and
random destinations, and how they scale from 1,000 to 1,000,000 routes.

    .venv/bin/python bench/bench_iproute.py [--routes 1000,10000,100000,1000000] [--lookups 4000000] [--runs 3]

Routes are random prefixes with lengths uniform in /8../32 (a nested, deep
mix: a third are longer than /24) to 4 outputs, half with a gateway; the
destinations are uniform random addresses. Each lookup is the element's own
packet-path lookup (batches of 256, DirectIPLookup prefetching a batch
first), run over a numpy array of addresses through lookup_array; the
figure is the median of --runs runs. Goals: DirectIPLookup >= 20 M
lookups/s and RadixIPLookup >= 10 M with 100,000 routes.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from clickpy.router import Router

GOALS = {"DirectIPLookup": 20e6, "RadixIPLookup": 10e6}


def random_routes(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    plens = rng.integers(8, 33, size=2 * n)
    addrs = rng.integers(0, 2**32, size=2 * n, dtype=np.uint64)
    masks = np.where(plens > 0, (0xFFFFFFFF << (32 - plens)) & 0xFFFFFFFF, 0).astype(np.uint64)
    addrs &= masks
    seen, routes = set(), []
    for a, m, p in zip(addrs.tolist(), masks.tolist(), plens.tolist()):
        if (a, p) in seen:
            continue
        seen.add((a, p))
        gw = (0x0A000000 | len(routes) % 250 + 1) if len(routes) % 2 else 0
        routes.append((a, m, gw, len(routes) % 4))
        if len(routes) == n:
            break
    return routes


def make_table(cls: str, routes):
    r = Router.from_string(
        f"InfiniteSource(ACTIVE false) -> rt :: {cls}; " + " ".join(f"rt[{i}] -> Discard;" for i in range(4)),
        warnings=False)
    t0 = time.perf_counter()
    r.element("rt").load_routes(routes)
    return r, time.perf_counter() - t0


def measure(elem, addrs, runs: int) -> float:
    ports = np.empty(len(addrs), dtype=np.int32)
    elem.lookup_array(addrs[:100000], ports)          # warm up
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        elem.lookup_array(addrs, ports)
        rates.append(len(addrs) / (time.perf_counter() - t0))
    return statistics.median(rates)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routes", default="1000,10000,100000,1000000")
    ap.add_argument("--lookups", type=int, default=4_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    addrs = np.random.default_rng(2).integers(0, 2**32, size=args.lookups, dtype=np.uint64).astype(np.uint32)
    print(f"{'element':16} {'routes':>9} {'setup s':>8} {'M lookups/s':>12}  goal")
    ok = True
    for n in (int(x) for x in args.routes.split(",")):
        routes = random_routes(n)
        for cls in ("RadixIPLookup", "DirectIPLookup"):
            r, setup = make_table(cls, routes)
            rate = measure(r.element("rt"), addrs, args.runs)
            goal = ""
            if n == 100000:
                met = rate >= GOALS[cls]
                ok &= met
                goal = f">= {GOALS[cls] / 1e6:.0f} M: {'met' if met else 'NOT MET'}"
            print(f"{cls:16} {n:>9} {setup:>8.2f} {rate / 1e6:>12.1f}  {goal}", flush=True)
            r.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
