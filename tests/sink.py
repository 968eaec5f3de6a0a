"""A test sink: `PacketSink` keeps a copy of every packet it receives
(bytes and annotations) and frees the buffers, so tests check a graph's
output with scapy instead of with another element of ours.

    import sink                      # registers the class
    r = Router.from_string("... -> s :: PacketSink;")
    r.run(...)
    for data, anno in r.element("s").packets: ...
"""
from clickpy import registry
from clickpy.element import PyElement


class PacketSink(PyElement):
    port_count = "1/0"
    processing = "h/h"

    def __init__(self):
        self.packets = []

    def process_batch(self, batch):
        got = [(batch.bytes(i), batch.annotations(i)) for i in range(len(batch))]
        self.packets.extend(got)
        return [-1] * len(batch)

    def add_handlers(self):
        self.add_read_handler("count", lambda: len(self.packets))


registry.register("PacketSink", PacketSink)


def anno_u32(anno: dict, offset: int) -> int:
    """A 4-byte host-order integer from the annotation area (EXTRA_LENGTH at 28, ...)."""
    return int.from_bytes(anno["user"][offset:offset + 4], "little")
