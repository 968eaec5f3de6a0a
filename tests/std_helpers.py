"""Helpers for the standard-element tests: a recording sink and packet injection."""
from __future__ import annotations

from clickpy import registry
from clickpy.element import PyElement
from clickpy.router import Router


class Record(PyElement):
    """Test sink: remembers each packet's bytes and annotations, then frees it.
    Every instance appends to its own `packets` list of (bytes, annotations)."""

    port_count = "1/0"
    processing = "h/h"

    def __init__(self):
        self.packets = []
        self.batches = []

    def process_batch(self, batch):
        self.batches.append(len(batch))
        for i in range(len(batch)):
            self.packets.append((batch.bytes(i), batch.annotations(i)))
        return [-1] * len(batch)

    @property
    def data(self) -> list[bytes]:
        return [p for p, _ in self.packets]


registry.register("Record", Record)


def router(text: str, **kwargs) -> Router:
    return Router.from_string(text, **kwargs)


def inject(r: Router, name: str, packets, port: int = 0) -> None:
    """Push packets (bytes, or (bytes, {annotation: value})) into element `name`."""
    xs = []
    for p in packets:
        data, annos = (p, {}) if isinstance(p, (bytes, bytearray)) else p
        x = r.pool.new_packet(bytes(data))
        for key, value in annos.items():
            r.pool.set_annotation(x, key, value)
        xs.append(x)
    r.element(name).push_packets(port, xs)


def pull(r: Router, name: str, port: int = 0, max: int = 256) -> list[bytes]:
    """Pull from element `name`'s pull output; returns the packets' bytes (freed)."""
    xs = r.element(name).pull_packets(port, max)
    out = [r.pool.packet_bytes(x) for x in xs]
    for x in xs:
        r.pool.free_packet(x)
    return out


def user_anno(offset: int, value: bytes) -> dict:
    area = bytearray(48)
    area[offset:offset + len(value)] = value
    return {"user": bytes(area)}
