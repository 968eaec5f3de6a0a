"""The benchmark pipelines in plain Python, for scale.

The same elements as the configs (a source making copies of a template, a
counter, a sink; a queue and an unqueuer for (d)) as Python objects passing
lists of up to 256 buffer indices, over a pool of bytearrays with a free
list. This is what the design would give without Cython.
"""
from __future__ import annotations

import time
from collections import deque

HEADROOM = 128
BUF_SIZE = 2048


class Pool:
    def __init__(self, size: int = 8192) -> None:
        self.buffers = [bytearray(BUF_SIZE) for _ in range(size)]
        self.length = [0] * size
        self.timestamp = [0] * size
        self.free = list(range(size - 1, -1, -1))


class Source:
    def __init__(self, pool: Pool, data: bytes, limit: int, burst: int, out) -> None:
        self.pool, self.data, self.limit, self.burst, self.out = pool, data, limit, burst, out
        self.count = 0

    def run(self) -> bool:
        pool = self.pool
        n = min(self.burst, self.limit - self.count, len(pool.free))
        if n <= 0:
            return False
        batch = [pool.free.pop() for _ in range(n)]
        now = time.time_ns()
        data, end = self.data, HEADROOM + len(self.data)
        for x in batch:
            pool.buffers[x][HEADROOM:end] = data
            pool.length[x] = len(data)
            pool.timestamp[x] = now
        self.count += n
        self.out.push(batch)
        return True


class Counter:
    def __init__(self, pool: Pool, out) -> None:
        self.pool, self.out = pool, out
        self.count = self.byte_count = 0

    def push(self, batch: list[int]) -> None:
        length = self.pool.length
        self.count += len(batch)
        self.byte_count += sum(length[x] for x in batch)
        self.out.push(batch)


class Discard:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def push(self, batch: list[int]) -> None:
        self.pool.free.extend(batch)


class Queue:
    def __init__(self, pool: Pool, capacity: int) -> None:
        self.pool, self.capacity, self.ring = pool, capacity, deque()

    def push(self, batch: list[int]) -> None:
        room = self.capacity - len(self.ring)
        self.ring.extend(batch[:room])
        self.pool.free.extend(batch[room:])

    def pull(self, n: int) -> list[int]:
        ring = self.ring
        return [ring.popleft() for _ in range(min(n, len(ring)))]


class Unqueue:
    def __init__(self, queue: Queue, burst: int, out) -> None:
        self.queue, self.burst, self.out = queue, burst, out

    def run(self) -> bool:
        batch = self.queue.pull(self.burst)
        if batch:
            self.out.push(batch)
        return bool(batch)


def source_counter_discard(data: bytes, limit: int, burst: int = 256) -> tuple[int, float]:
    """(a) in Python; returns (packets counted, seconds)."""
    pool = Pool()
    counter = Counter(pool, Discard(pool))
    source = Source(pool, data, limit, burst, counter)
    start = time.perf_counter()
    while source.run():
        pass
    return counter.count, time.perf_counter() - start


def source_queue_unqueue(data: bytes, limit: int, capacity: int = 1024, burst: int = 256) -> tuple[int, float]:
    """(d) in Python; the two tasks take turns as the driver runs them."""
    pool = Pool()
    counter = Counter(pool, Discard(pool))
    queue = Queue(pool, capacity)
    source = Source(pool, data, limit, burst, queue)
    unqueue = Unqueue(queue, burst, counter)
    start = time.perf_counter()
    while source.run() | unqueue.run():
        pass
    return counter.count, time.perf_counter() - start
