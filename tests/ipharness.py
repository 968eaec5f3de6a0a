"""Test harness for single elements: push crafted packets in, collect each output.

    h = Harness("CheckIPHeader", outputs=2)
    out = h.push([bytes(IP(dst="1.2.3.4") / UDP())])
    out[0] -> [Out(data, anno), ...] for output 0, out[1] for output 1

The element `e` is fed by an inactive InfiniteSource (so its input is push)
and each output ends in a Queue that the harness drains, so packets come
back as bytes plus annotations and every buffer returns to the pool.
"""
from __future__ import annotations

from dataclasses import dataclass

from clickpy.router import Router


@dataclass
class Out:
    data: bytes
    anno: dict

    @property
    def user(self) -> bytes:
        return self.anno["user"]

    @property
    def dst_ip(self) -> str:
        return ".".join(str(b) for b in self.user[0:4])

    @property
    def paint(self) -> int:
        return self.user[16]

    @property
    def network(self) -> bytes:
        """The data from the network header annotation on."""
        off = self.anno["network_offset"]
        assert off is not None, "no network header annotation"
        return self.data[off:]


def drain_queues(router, outputs: int, make=Out) -> list[list]:
    """Every packet waiting in queues q0 .. q{outputs-1}, as make(bytes, annotations), freed."""
    pool = router.pool
    result = []
    for k in range(outputs):
        q = router.element(f"q{k}")
        got = []
        while True:
            xs = q.pull_packets(0, 256)
            if not xs:
                break
            for x in xs:
                got.append(make(pool.packet_bytes(x), pool.annotations(x)))
                pool.free_packet(x)
        result.append(got)
    return result


class Harness:
    def __init__(self, decl: str, outputs: int = 1, *, chain: str = "", extra: str = "",
                 pool_size: int | None = None, big_pool_size: int | None = None) -> None:
        """`chain`: elements between output 0 and its queue (`CheckIPHeader -> IPReassembler`)."""
        lines = ["src :: InfiniteSource(ACTIVE false);", f"e :: {decl};", "src -> e;"]
        for k in range(outputs):
            via = f" {chain} ->" if chain and k == 0 else ""
            lines.append(f"e[{k}] ->{via} q{k} :: Queue(1000000) -> Discard(ACTIVE false);")
        kwargs = {}
        if pool_size is not None:
            kwargs["pool_size"] = pool_size
        if big_pool_size is not None:
            kwargs["big_pool_size"] = big_pool_size
        self.router = Router.from_string("\n".join(lines) + extra, warnings=False, **kwargs)
        self.pool = self.router.pool
        self.elem = self.router.element("e")
        self.outputs = outputs

    def packet(self, data, *, network_offset: int | None = None, user: bytes | None = None,
               **annotations) -> int:
        x = self.pool.new_packet(bytes(data))
        if network_offset is not None:
            self.pool.set_annotation(x, "network_offset", network_offset)
        if user is not None:
            self.pool.set_annotation(x, "user", user)
        for name, value in annotations.items():
            self.pool.set_annotation(x, name, value)
        return x

    def push(self, packets, **annotations) -> list[list[Out]]:
        """Push packets (bytes or scapy packets, or pool indices) and collect every output."""
        xs = [p if isinstance(p, int) else self.packet(p, **annotations) for p in packets]
        self.elem.push_packets(0, xs)
        return self.collect()

    def collect(self) -> list[list[Out]]:
        return drain_queues(self.router, self.outputs)

    def handler(self, name: str, params: str = "") -> str:
        return self.router.handler(f"e.{name}", params)

    def write(self, name: str, value: str = "") -> None:
        self.router.write(f"e.{name}", value)


def user_anno(dst_ip: str | None = None, paint: int = 0, **offsets) -> bytes:
    """A 48-byte user annotation area with the destination IP and paint set."""
    u = bytearray(48)
    if dst_ip is not None:
        u[0:4] = bytes(int(p) for p in dst_ip.split("."))
    u[16] = paint
    for off, value in offsets.values():
        u[off:off + len(value)] = value
    return bytes(u)
