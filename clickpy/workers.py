"""`clickpy run -j N`: N worker processes, each running its own copy of the graph.

The parent parses the configuration once and forks N workers; each builds
its own router (its own pool, queues, counters and device sockets). Device
elements find their worker through `current_worker()`: FromDevice elements on
the same device join one PACKET_FANOUT group, so the kernel spreads flows
over the workers by a symmetric flow hash, and every worker sees the ARP
frames.

The parent stays a small supervisor: it starts the workers once all of them
have initialized (a configuration error in any worker stops them all and is
reported once), forwards SIGINT/SIGTERM to them, waits until every worker has
stopped, and answers handler reads by asking each worker:

    elem.handler       numbers are summed over the workers; a value every
                       worker agrees on is given once; otherwise one line per
                       worker, "worker I: value"
    elem.handler#I     worker I's value
    elem.handler#*     every worker's value, one "worker I: value" line each

Elements whose state spans flows cannot be split across workers (a NAT's
mappings: the reply of a rewritten flow hashes to another worker), so a
configuration that uses one makes `-j N` refuse with an error. An element
class says so with a true `cross_flow_state` class attribute; Click's
rewriters are known by name as well.
"""
from __future__ import annotations

import os
import pickle
import selectors
import signal
import socket
import struct
import sys
import zlib

from clickpy.lang.graph import ConfigError, Diagnostic

# Click classes that keep per-connection state shared by all flows.
CROSS_FLOW_CLASSES = frozenset({
    "IPRewriter", "TCPRewriter", "UDPRewriter", "IPAddrRewriter", "IPAddrPairRewriter",
    "ICMPRewriter", "ICMPPingRewriter", "FTPPortMapper",
})


class WorkerInfo:
    """What a worker process knows about itself."""

    def __init__(self, index: int, count: int, group_base: int) -> None:
        self.index = index
        self.count = count
        self.group_base = group_base

    def fanout_group(self, devname: str) -> int:
        """The PACKET_FANOUT group id shared by every worker's FromDevice on devname
        (group ids are per namespace and a group spans one device)."""
        return (self.group_base + zlib.crc32(devname.encode())) & 0xFFFF


_current: WorkerInfo | None = None


def current_worker() -> WorkerInfo | None:
    """This process's worker, or None outside `clickpy run -j N`."""
    return _current


def check_splittable(graph) -> None:
    """Raise ConfigError if an element of graph cannot run in several workers."""
    from clickpy import registry
    errors = []
    for decl in graph.elements:
        cls = None
        try:
            cls = registry.lookup(decl.class_name)
        except ImportError:
            pass
        if decl.class_name in CROSS_FLOW_CLASSES or getattr(cls, "cross_flow_state", False):
            errors.append(Diagnostic(decl.location,
                f"'{decl.name} :: {decl.class_name}' keeps state across flows, which separate "
                f"worker processes cannot share: run this configuration without -j"))
    if errors:
        raise ConfigError(errors)


# ---- messages between the parent and a worker: length-prefixed pickles ----------
def _send(sock: socket.socket, msg) -> None:
    data = pickle.dumps(msg)
    sock.sendall(struct.pack("!I", len(data)) + data)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except InterruptedError:
            continue
        if not chunk:
            return None
        buf += chunk
    return buf


def _recv(sock: socket.socket):
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    data = _recv_exact(sock, struct.unpack("!I", head)[0])
    return None if data is None else pickle.loads(data)


def _number(text: str):
    t = text.strip()
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return None


class WorkerGroup:
    """The parent's view of N workers; answers what the CLI asks of a Router
    (run, handler, handler_names, write, cleanup)."""

    def __init__(self, graph, count: int, *, warnings: bool = True, **router_kwargs) -> None:
        if count < 2:
            raise ValueError("a worker group needs at least 2 workers")
        check_splittable(graph)
        self.graph = graph
        self.count = count
        self.socks: list[socket.socket] = []
        self.pids: list[int] = []
        self.running = False
        self._cleaned = False
        self._names: list[str] | None = None
        group_base = (os.getpid() * 2654435761) & 0xFFFF
        parent = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            for i in range(count):
                parent_end, child_end = socket.socketpair()
                pid = os.fork()
                if pid == 0:       # the worker
                    parent_end.close()
                    for s in self.socks:
                        s.close()
                    _stop_with_parent(parent)
                    _worker_main(child_end, graph, WorkerInfo(i, count, group_base), warnings and i == 0,
                                 router_kwargs)
                child_end.close()
                self.socks.append(parent_end)
                self.pids.append(pid)
            self._wait_ready()
        except BaseException:
            self.cleanup()
            raise

    def _wait_ready(self) -> None:
        errors = None
        for i, s in enumerate(self.socks):
            msg = _recv(s)
            if msg is None:
                errors = errors or ConfigError(f"worker {i} exited while initializing").diagnostics
            elif msg[0] == "error" and errors is None:
                errors = msg[1]
        if errors is not None:
            raise ConfigError(errors)

    # ---- running ---------------------------------------------------------------
    def run(self) -> None:
        """Start every worker and wait until all have stopped; SIGINT and
        SIGTERM are passed on to the workers."""
        def forward(signo, frame):
            for pid in self.pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        old = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        # delivered, whatever mask this process was started with (the
        # handlers run only for signals that are not blocked)
        old_mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            for s in self.socks:
                _send(s, ("run",))
            self.running = True
            waiting = set(range(self.count))
            sel = selectors.DefaultSelector()
            for i, s in enumerate(self.socks):
                sel.register(s, selectors.EVENT_READ, i)
            while waiting:
                for key, _ in sel.select():
                    i = key.data
                    msg = _recv(self.socks[i])
                    waiting.discard(i)
                    sel.unregister(self.socks[i])
                    if msg is None:
                        print(f"clickpy: worker {i} exited unexpectedly", file=sys.stderr)
            sel.close()
        finally:
            self.running = False
            # the mask first: `clickpy run` keeps these signals blocked after
            # the run, and none may reach the old handlers in between
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            for sig, handler in old.items():
                signal.signal(sig, handler)

    # ---- handlers ----------------------------------------------------------------
    def _ask(self, i: int, *request):
        s = self.socks[i]
        try:
            _send(s, request)
            reply = _recv(s)
        except OSError:
            reply = None
        if reply is None:
            raise RuntimeError(f"worker {i} is gone")
        return reply

    def _read_all(self, name: str) -> list[str]:
        from clickpy.element import HandlerError
        values = []
        for i in range(self.count):
            status, value = self._ask(i, "read", name)
            if status != "ok":
                raise HandlerError(value)
            values.append(value)
        return values

    def handler(self, full: str) -> str:
        from clickpy.element import HandlerError
        name, hash_, which = full.partition("#")
        if name == "workers":
            return str(self.count)
        if hash_:
            if which == "*":
                return "\n".join(f"worker {i}: {v}" for i, v in enumerate(self._read_all(name)))
            if not which.isdigit() or int(which) >= self.count:
                raise HandlerError(f"{full}: no worker '{which}' (there are {self.count})")
            status, value = self._ask(int(which), "read", name)
            if status != "ok":
                raise HandlerError(value)
            return value
        values = self._read_all(name)
        numbers = [_number(v) for v in values]
        if all(n is not None for n in numbers):
            total = sum(numbers)
            return str(total) if all(isinstance(n, int) for n in numbers) else f"{total:g}"
        if all(v == values[0] for v in values):
            return values[0]
        return "\n".join(f"worker {i}: {v}" for i, v in enumerate(values))

    read = handler

    def handler_names(self) -> list[str]:
        """Every handler name, also in its per-worker forms NAME#I and NAME#*."""
        if self._names is None:
            status, names = self._ask(0, "names")
            suffixes = ["#*"] + [f"#{i}" for i in range(self.count)]
            self._names = list(names) + [n + s for n in names for s in suffixes] + ["workers"]
        return self._names

    def element(self, name: str):
        """A stand-in for element `name` (every worker has the same elements), or None."""
        names = set(self.handler_names())
        return _WorkerElement(name, names) if f"{name}.name" in names else None

    def write(self, full: str, value: str = "") -> None:
        from clickpy.element import HandlerError
        name, hash_, which = full.partition("#")
        targets = range(self.count) if not hash_ or which == "*" else [int(which)] if which.isdigit() else []
        if not targets or max(targets) >= self.count:
            raise HandlerError(f"{full}: no worker '{which}'")
        for i in targets:
            status, message = self._ask(i, "write", name, value)
            if status != "ok":
                raise HandlerError(message)

    def cleanup(self) -> None:
        """Stop every worker (cleaning up its router) and reap it; idempotent."""
        if self._cleaned:
            return
        self._cleaned = True
        for s in self.socks:
            try:
                _send(s, ("exit",))
            except OSError:
                pass
        for pid in self.pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for s in self.socks:
            s.close()


class _WorkerElement:
    """What the CLI asks of an element, answered from the workers' handler names."""

    def __init__(self, name: str, names: set[str]) -> None:
        self.name = name
        self._names = names

    def has_read_handler(self, handler: str) -> bool:
        return f"{self.name}.{handler}" in self._names


def _stop_with_parent(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when the parent dies (even by
    SIGKILL), so a worker never runs on alone: its driver stops and cleans up
    (flushing outputs), then it exits."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:          # the parent died before prctl took effect
        os._exit(1)


def _worker_main(sock: socket.socket, graph, info: WorkerInfo, warnings: bool, router_kwargs: dict) -> None:
    """A worker's life: build, wait for "run", run, then answer handler
    requests until "exit". Never returns."""
    global _current
    _current = info
    status = 0
    router = None
    try:
        # The parent forwards SIGINT/SIGTERM. Kept pending outside the driver's
        # loop: one arriving before the run stops it as soon as it starts, and
        # one arriving after it (a second Ctrl-C) cannot kill the worker before
        # it has answered the parent's handler reads and cleaned up.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        from clickpy.router import Router
        try:
            router = Router.from_graph(graph, warnings=warnings, **router_kwargs)
        except ConfigError as e:
            _send(sock, ("error", e.diagnostics))
            os._exit(1)
        _send(sock, ("ready",))
        msg = _recv(sock)
        if msg is None or msg[0] != "run":
            router.cleanup()
            os._exit(0)
        router.run()
        _send(sock, ("stopped",))
        _serve(sock, router)
    except BaseException as e:
        print(f"clickpy: worker {info.index}: {type(e).__name__}: {e}", file=sys.stderr)
        status = 1
    finally:
        try:
            if router is not None:
                router.cleanup()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)


def _serve(sock: socket.socket, router) -> None:
    while True:
        msg = _recv(sock)
        if msg is None or msg[0] == "exit":
            return
        try:
            if msg[0] == "read":
                reply = ("ok", router.handler(msg[1]))
            elif msg[0] == "write":
                router.write(msg[1], msg[2])
                reply = ("ok", "")
            elif msg[0] == "names":
                reply = ("ok", router.handler_names())
            else:
                reply = ("error", f"unknown request {msg[0]!r}")
        except Exception as e:
            reply = ("error", str(e))
        _send(sock, reply)
