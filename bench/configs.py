"""The benchmark configurations: one row of `make bench` (bench/report.py) each.

A row is a `BenchConfig`: a key and name, a Click config whose `$LIMIT`
variable is the number of packets the run sends, the element whose `count`
handler counts the packets delivered, the goal in Mpps, and optionally a C
reference loop and a plain-Python version of the same pipeline. Add rows to
`CONFIGS` here, or keep a group's rows in its own `bench/configs_<group>.py`
with a `CONFIGS` list: report.py loads every such module.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pyref

# InfiniteSource's default DATA cut to LENGTH 64: the template of (a) and (d)
DATA64 = b"Random bullshit in a packet, at least 64 bytes long. Well, now it is."[:64]


@dataclass(frozen=True)
class BenchConfig:
    key: str                          # short id in the table, such as "a"
    name: str                         # what the row measures
    config: str                       # Click config; $LIMIT is the packet count of a run
    goal_mpps: float | None = None    # the rate the row must reach
    counter: str = "c"                # element whose `count` is the packets delivered
    # (pool, limit) -> (packets, seconds): the same work as one C loop
    c_reference: Callable | None = None
    # limit -> (packets, seconds): the same pipeline in plain Python
    py_reference: Callable | None = None
    pool_size: int | None = None      # Router(pool_size=...), default pool if None
    first_limit: int = 20_000_000     # packets of the calibration run


def _c_a(pool, limit):
    from clickpy.benchref import source_counter_discard
    count, _, seconds = source_counter_discard(pool, DATA64, limit)
    return count, seconds


def _c_d(pool, limit):
    from clickpy.benchref import source_queue_unqueue
    count, _, seconds = source_queue_unqueue(pool, DATA64, limit, 1024)
    return count, seconds


CONFIGS = [
    BenchConfig(
        key="a", name="InfiniteSource -> Counter -> Discard",
        config="InfiniteSource(LENGTH 64, BURST 256, LIMIT $LIMIT, STOP true) -> c :: Counter -> Discard;",
        goal_mpps=100.0,
        c_reference=_c_a,
        py_reference=lambda limit: pyref.source_counter_discard(DATA64, limit)),
    BenchConfig(
        key="d", name="InfiniteSource -> Queue -> Unqueue -> Counter -> Discard",
        config=("InfiniteSource(LENGTH 64, BURST 256, LIMIT $LIMIT, STOP true) -> Queue(1024) "
                "-> Unqueue(BURST 256) -> c :: Counter -> Discard;"),
        goal_mpps=80.0,
        c_reference=_c_d,
        py_reference=lambda limit: pyref.source_queue_unqueue(DATA64, limit)),
]
