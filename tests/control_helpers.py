"""Run a router in the test's main thread while client code runs beside it."""
from __future__ import annotations

import socket
import threading
import time

from clickpy.hotswap import LiveRouter
from clickpy.router import Router


def tcp_port(router, name: str = "cs") -> int:
    return int(router.handler(f"{name}.port"))


def connect_tcp(port: int, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def recv_until_closed(sock: socket.socket, limit: int = 1 << 24) -> bytes:
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def serve(config: str, client, *, timeout: float = 30.0, allow_hotconfig: bool = False,
          stop_with: str | None = None, **live_kw):
    """Run `config` (with LiveRouter) until client(live) returns, then stop it.

    The client runs in a thread; it gets the LiveRouter and may use any
    socket. Its exception, if any, is raised here. Returns (live, result);
    the caller cleans up with live.cleanup()."""
    router = Router.from_string(config)
    live = LiveRouter(router, allow_hotconfig=allow_hotconfig, **live_kw)
    box: dict = {}

    def run_client():
        try:
            box["result"] = client(live)
        except BaseException as e:        # reported in the main thread
            box["error"] = e
        finally:
            # stop through the driver's own loop: a timer is the one thing
            # that wakes it from epoll
            box["done"] = True
            _stop_soon(live)

    t = threading.Thread(target=run_client, daemon=True)
    t.start()
    try:
        live.run(timeout=timeout)
    finally:
        t.join(timeout=10)
    if "error" in box:
        live.cleanup()
        raise box["error"]
    assert box.get("done"), "client did not finish before the router stopped"
    return live, box.get("result")


def _stop_soon(live) -> None:
    """Ask the running driver to stop, from another thread."""
    r = live.router
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            port = None
            for e in r.elements:
                if type(e).__name__ == "ControlSocket" and e.socktype == "TCP" and e.listener is not None \
                        and not e.read_only:
                    port = e.bound_port
                    break
            if port is not None:
                s.settimeout(5)
                s.connect(("127.0.0.1", port))
                s.sendall(b"WRITE stop\r\nQUIT\r\n")
                recv_until_closed(s)
                return
    except OSError:
        pass
    r.driver.stop()        # the timeout of run() ends it otherwise


def wait_for(pred, timeout: float = 10.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()
