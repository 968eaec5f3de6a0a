"""`clickpy run -p/-u/-a/--metrics/--user`, `clickpy handler` and `clickpy top`, as processes."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from control_helpers import wait_for

CLICKPY = [sys.executable, "-m", "clickpy"]
TRAFFIC = ("src :: InfiniteSource(LENGTH 64, BURST 32, LIMIT -1) -> q :: Queue(500) "
           "-> Unqueue(BURST 32) -> c :: Counter -> Discard;\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(CLICKPY + ["run", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def handler(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(CLICKPY + ["handler", *args], capture_output=True, text=True,
                              input=input, timeout=60)

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


@pytest.fixture
def router_proc(tmp_path):
    made = []

    def start(config: str, *args: str) -> tuple[Running, str]:
        path = tmp_path / "router.click"
        path.write_text(config)
        sock = str(tmp_path / "ctl.sock")
        r = Running("-u", sock, *args, str(path))
        made.append(r)
        assert wait_for(lambda: os.path.exists(sock) or r.proc.poll() is not None, timeout=30)
        assert r.proc.poll() is None, r.proc.communicate()
        return r, sock
    yield start
    for r in made:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.communicate()


def test_handler_read_write_check_list_send(router_proc):
    r, sock = router_proc(TRAFFIC)
    res = r.handler("-u", sock, "read", "q.capacity")
    assert (res.returncode, res.stdout) == (0, "500\n")
    assert r.handler("-u", sock, "write", "q.capacity", "600").returncode == 0
    assert r.handler("-u", sock, "read", "q.capacity").stdout == "600\n"
    res = r.handler("-u", sock, "write", "c.count", "1")
    assert res.returncode == 1 and "530 Handler 'c.count' read-only" in res.stderr
    res = r.handler("-u", sock, "read", "nosuch.x")
    assert res.returncode == 1 and "510 No element named 'nosuch'" in res.stderr
    assert r.handler("-u", sock, "check", "c.count").returncode == 0
    assert r.handler("-u", sock, "checkwrite", "c.count").returncode == 1
    listing = r.handler("-u", sock, "list").stdout.splitlines()
    assert "c.count\tr" in listing and "stop\tw" in listing
    res = r.handler("-u", sock, "send", "FROB")
    assert (res.returncode, res.stdout) == (1, "501 Command 'FROB' unimplemented\n")
    env = dict(os.environ, CLICKPY_CONTROL=sock)
    res = subprocess.run(CLICKPY + ["handler", "read", "version"], capture_output=True, text=True, env=env)
    assert res.returncode == 0 and res.stdout.strip()
    assert r.handler("-u", sock, "write", "stop").returncode == 0
    status, _, err = r.stop()
    assert status == 0, err


def test_signals_while_shutting_down_end_cleanly(router_proc):
    """The first signal stops the router; more of them, arriving while it cleans
    up and exits, neither kill it by signal nor print a traceback."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        r, sock = router_proc(TRAFFIC)
        # answered from the driver's loop: start-up (where a signal may kill) is over
        assert r.handler("-u", sock, "read", "c.count").returncode == 0
        deadline = time.monotonic() + 30
        while r.proc.poll() is None and time.monotonic() < deadline:
            try:
                r.proc.send_signal(sig)
            except ProcessLookupError:
                break
        status, _, err = r.stop()
        assert (status, err) == (0, "")


def test_handler_usage_and_connection_errors(tmp_path):
    res = subprocess.run(CLICKPY + ["handler"], capture_output=True, text=True)
    assert res.returncode == 2
    res = subprocess.run(CLICKPY + ["handler", "-u", str(tmp_path / "none"), "read", "x"],
                         capture_output=True, text=True)
    assert res.returncode == 4 and "cannot connect" in res.stderr


def test_top_shows_counters_and_rates(router_proc):
    r, sock = router_proc(TRAFFIC)
    res = subprocess.run(CLICKPY + ["top", "-u", sock, "-n", "2", "-d", "0.3", "c"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    frames = [f for f in res.stdout.split("clickpy top") if f.strip()]
    assert len(frames) == 2
    rows = [line.split() for line in frames[1].splitlines() if line.startswith("c ")]
    by_handler = {row[2]: row for row in rows}
    assert int(by_handler["count"][3]) > 0
    assert float(by_handler["count"][4]) > 0          # packets per second, from two samples
    r.stop()


def test_hotconfig_over_the_socket_and_sighup(router_proc, tmp_path):
    r, sock = router_proc(TRAFFIC, "-a")
    new = TRAFFIC.replace("Queue(500)", "Queue(700)")
    res = r.handler("-u", sock, "write", "hotconfig", "-", input=new)
    assert res.returncode == 0, res.stderr
    assert r.handler("-u", sock, "read", "q.capacity").stdout == "700\n"
    # the control socket from -u is part of the new configuration too
    res = r.handler("-u", sock, "write", "hotconfig", "-", input="broken ->")
    assert res.returncode == 1 and "520 Write handler 'hotconfig' error" in res.stderr
    assert r.handler("-u", sock, "read", "q.capacity").stdout == "700\n"
    # SIGHUP re-reads the file
    (tmp_path / "router.click").write_text(TRAFFIC.replace("Queue(500)", "Queue(900)"))
    r.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: r.handler("-u", sock, "read", "q.capacity").stdout == "900\n", timeout=30)
    status, _, err = r.stop()
    assert status == 0, err


def test_hotconfig_needs_dash_a(router_proc):
    r, sock = router_proc(TRAFFIC)
    res = r.handler("-u", sock, "write", "hotconfig", "-", input=TRAFFIC)
    assert res.returncode == 1 and "511 No handler named 'hotconfig'" in res.stderr
    r.stop()


def test_tcp_port_option(router_proc):
    port = free_port()
    r, sock = router_proc(TRAFFIC, "-p", str(port))
    res = subprocess.run(CLICKPY + ["handler", "-p", str(port), "read", "c.class"], capture_output=True, text=True)
    assert res.stdout == "Counter\n"
    r.stop()


def test_metrics_endpoint(router_proc):
    port = free_port()
    r, sock = router_proc(TRAFFIC, "--metrics", str(port))
    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain")
            return resp.read().decode()

    def ready() -> bool:
        try:
            return 'handler="count"' in scrape()
        except urllib.error.URLError:       # not listening yet
            return False
    assert wait_for(ready, timeout=30)
    text = scrape()
    line = next(l for l in text.splitlines()
                if l.startswith('clickpy_handler{class="Counter",element="c",handler="count"}'))
    assert float(line.split()[-1]) > 0
    assert "clickpy_pool_size" in text and 'handler="capacity"} 500.0' in text
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing", timeout=10)
    assert e.value.code == 404
    r.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_user_drops_privileges_after_opening_sockets(router_proc):
    r, sock = router_proc(TRAFFIC, "--user", "nobody")
    import pwd
    nobody = pwd.getpwnam("nobody").pw_uid

    def uid() -> int:
        with open(f"/proc/{r.proc.pid}/status") as f:
            return int(next(l for l in f if l.startswith("Uid:")).split()[1])
    assert wait_for(lambda: uid() == nobody, timeout=30)
    # the socket opened as root still serves (it is 0600 root's, but already listening)
    status, _, err = r.stop()
    assert status == 0, err


def test_exit_statuses(tmp_path):
    res = subprocess.run(CLICKPY + ["run", "-e", "x :: NoSuch;"], capture_output=True, text=True)
    assert res.returncode == 1 and "unknown element class" in res.stderr
    res = subprocess.run(CLICKPY + ["run", "--user", "no-such-user-here", "-q", "-e", "Script(stop);"],
                         capture_output=True, text=True)
    assert res.returncode == 3 and "no user named" in res.stderr
    res = subprocess.run(CLICKPY + ["run", "--log-level", "loud", "-e", "Script(stop);"],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "--log-level" in res.stderr
