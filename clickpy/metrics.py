"""A Prometheus endpoint: every numeric read handler of the running router.

`clickpy run --metrics PORT` serves `GET /metrics` on 127.0.0.1:PORT (or
ADDR:PORT) from the driver's epoll loop, like the ControlSocket: a scrape
reads the handlers between task rounds, so values are consistent and no
second thread touches the router. Each value is a gauge

    clickpy_handler{element="c",class="Counter",handler="count"} 1234

(global handlers have element=""), plus clickpy_pool_free / clickpy_pool_size.
The exposition format comes from prometheus-client.
"""
from __future__ import annotations

import socket
import time

# read handlers that are descriptions, not measurements
_SKIP = frozenset({"name", "class", "config", "ports", "handlers"})
MAX_REQUEST = 8192
REQUEST_TIMEOUT = 10.0


def collect(router) -> list:
    """Metric families for every numeric read handler of `router`."""
    from prometheus_client.core import GaugeMetricFamily
    family = GaugeMetricFamily("clickpy_handler", "Numeric read handler values of the running router",
                               labels=["element", "class", "handler"])
    for elem in router.elements:
        for h in elem.handler_names():
            if h in _SKIP or not elem.has_read_handler(h) or elem.read_handler_takes_params(h):
                continue
            value = _number(_safe_read(lambda: elem.read_handler(h)))
            if value is not None:
                family.add_metric([elem.name, type(elem).__name__, h], value)
    for h in ("runcount", "run_seconds"):
        value = _number(_safe_read(lambda: router.handler(h)))
        if value is not None:
            family.add_metric(["", "", h], value)
    pool_free = GaugeMetricFamily("clickpy_pool_free", "Free packet buffers")
    pool_free.add_metric([], router.pool.free_count)
    pool_size = GaugeMetricFamily("clickpy_pool_size", "Packet buffers in the pool")
    pool_size.add_metric([], router.pool.size)
    return [family, pool_free, pool_size]


def _safe_read(fn) -> str:
    try:
        return fn()
    except Exception:   # a failing handler is simply not a metric
        return ""


def _number(text: str) -> float | None:
    text = text.strip()
    if not text or "\n" in text:
        return None
    if text in ("true", "false"):
        return 1.0 if text == "true" else 0.0
    try:
        return float(text)
    except ValueError:
        return None


def exposition(router) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest

    class _Collector:
        def collect(self):
            return collect(router)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)


class MetricsServer:
    """Serves /metrics for whatever router `get_router()` returns now."""

    def __init__(self, get_router, address: str, port: int) -> None:
        import prometheus_client  # noqa: F401  (fail now, with a clear message, if missing)
        self.get_router = get_router
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((address, port))
            self.sock.listen(16)
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.clients: dict[int, tuple[socket.socket, bytearray, float]] = {}
        self.driver = None

    def install(self, router) -> None:
        """Serve from this router's driver loop (after every hot swap too)."""
        if self.driver is not None:
            for fd in [self.sock.fileno(), *self.clients]:
                self.driver.remove_select(fd)
        self.driver = router.driver
        self.driver.add_select(self.sock.fileno(), 1, self._accept)
        for fd in self.clients:
            self.driver.add_select(fd, 1, lambda ev, fd=fd: self._serve(fd))

    def _accept(self, events: int) -> None:
        now = time.monotonic()
        for fd, (s, _, t0) in list(self.clients.items()):
            if now - t0 > REQUEST_TIMEOUT:
                self._drop(fd)
        for _ in range(16):
            try:
                s, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            s.setblocking(False)
            fd = s.fileno()
            self.clients[fd] = (s, bytearray(), now)
            self.driver.add_select(fd, 1, lambda ev, fd=fd: self._serve(fd))

    def _drop(self, fd: int) -> None:
        s, _, _ = self.clients.pop(fd)
        self.driver.remove_select(fd)
        s.close()

    def _serve(self, fd: int) -> None:
        s, buf, _ = self.clients[fd]
        try:
            data = s.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(fd)
            return
        buf += data
        if b"\r\n\r\n" not in buf and b"\n\n" not in buf:
            if len(buf) > MAX_REQUEST:
                self._reply(fd, b"431 Request Header Fields Too Large", b"text/plain", b"too large\n")
            return
        request = bytes(buf).split(b"\r\n", 1)[0].split()
        if len(request) < 2 or request[0] not in (b"GET", b"HEAD"):
            self._reply(fd, b"405 Method Not Allowed", b"text/plain", b"GET /metrics\n")
        elif request[1].split(b"?")[0] not in (b"/metrics", b"/"):
            self._reply(fd, b"404 Not Found", b"text/plain", b"GET /metrics\n")
        else:
            from prometheus_client import CONTENT_TYPE_LATEST
            body = exposition(self.get_router())
            self._reply(fd, b"200 OK", CONTENT_TYPE_LATEST.encode(), body if request[0] == b"GET" else b"")

    def _reply(self, fd: int, status: bytes, ctype: bytes, body: bytes) -> None:
        s, _, t0 = self.clients[fd]
        out = bytearray(b"HTTP/1.0 " + status + b"\r\nContent-Type: " + ctype +
                        b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        self.clients[fd] = (s, out, t0)
        self.driver.add_select(fd, 4, lambda ev, fd=fd: self._send(fd))
        self._send(fd)

    def _send(self, fd: int) -> None:
        """Write what the socket takes now; the rest when it is writable again."""
        s, out, _ = self.clients[fd]
        try:
            n = s.send(out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            n = len(out)
        del out[:n]
        if not out:
            self._drop(fd)

    def close(self) -> None:
        for fd in list(self.clients):
            self._drop(fd)
        if self.driver is not None:
            self.driver.remove_select(self.sock.fileno())
        self.sock.close()
