"""`clickpy run -j N`: worker processes, summed and per-worker handlers, signals, refusals."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from clickpy import registry
from clickpy.element import Element
from clickpy.lang import parse_config
from clickpy.lang.graph import ConfigError
from clickpy.workers import check_splittable

CLICKPY = [sys.executable, "-m", "clickpy"]


def clickpy(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(CLICKPY + list(args), capture_output=True, text=True, timeout=timeout)


def test_each_worker_runs_the_whole_graph_and_handlers_are_summed():
    r = clickpy("run", "-j", "3", "-e",
                "InfiniteSource(LIMIT 1000, BURST 50, STOP true) -> c :: Counter -> Discard;",
                "-h", "c.count", "-h", "c.count#*", "-h", "c.count#2", "-h", "c.class", "-h", "workers")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("c.count:\n3000\n\n"
                        "c.count#*:\nworker 0: 1000\nworker 1: 1000\nworker 2: 1000\n\n"
                        "c.count#2:\n1000\n\n"
                        "c.class:\nCounter\n\n"
                        "workers:\n3\n\n")


def test_handler_errors_and_bad_worker_numbers():
    r = clickpy("run", "-j", "2", "-e", "InfiniteSource(LIMIT 10, STOP true) -> c :: Counter -> Discard;",
                "-h", "c.count#5")
    assert r.returncode == 1
    assert "no worker '5'" in r.stderr or "c.count#5" in r.stderr


def test_a_configuration_error_is_reported_once():
    r = clickpy("run", "-j", "3", "-e", "InfiniteSource(LIMIT -x) -> Discard;")
    assert r.returncode == 1
    assert r.stderr.count("expected integer") == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_sigterm_stops_every_worker_and_handlers_are_still_read():
    p = subprocess.Popen(CLICKPY + ["run", "-j", "2", "-e",
                                    "InfiniteSource(BURST 8) -> q :: Queue -> u :: Unqueue -> c :: Counter -> Discard;",
                                    "-h", "c.count#*"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    lines = out.splitlines()              # one handler: its value alone, as click(1) prints it
    assert len(lines) == 2 and lines[0].startswith("worker 0: ") and lines[1].startswith("worker 1: ")
    assert int(lines[0].split(": ")[1]) > 0 and int(lines[1].split(": ")[1]) > 0


def test_repeated_signals_still_let_workers_report():
    """A second and third Ctrl-C while the workers stop and answer the
    parent's handler reads neither kill a worker nor lose its count; and the
    parent forwards them even when it was started with them blocked."""
    p = subprocess.Popen(CLICKPY + ["run", "-j", "2", "-e",
                                    "InfiniteSource(BURST 8) -> c :: Counter -> Discard;",
                                    "-h", "c.count#*"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK,
                                                                   {signal.SIGINT, signal.SIGTERM}))
    try:
        time.sleep(2.0)
        deadline = time.monotonic() + 30
        while p.poll() is None and time.monotonic() < deadline:
            try:
                p.send_signal(signal.SIGINT)
            except ProcessLookupError:
                break
            time.sleep(0.0005)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert (p.returncode, err) == (0, "")
    counts = [int(line.split(": ")[1]) for line in out.splitlines()]
    assert len(counts) == 2 and min(counts) > 0


def test_workers_stop_when_the_parent_is_killed():
    p = subprocess.Popen(CLICKPY + ["run", "-j", "2", "-e", "InfiniteSource(BURST 8) -> Discard;"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2.0)
        children = [int(pid) for pid in
                    open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()]
        assert len(children) == 2
    finally:
        p.kill()
        p.wait()
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{pid}") for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in children if os.path.exists(f"/proc/{pid}")
            and open(f"/proc/{pid}/stat").read().split(") ")[1].split()[0] != "Z"]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "workers kept running after their parent was killed"


def test_nat_rewriters_make_j_refuse():
    graph = parse_config("FromDevice(eth0) -> nat :: IPRewriter(pattern - - - - 0 0) -> Discard;")
    with pytest.raises(ConfigError, match="keeps state across flows"):
        check_splittable(graph)
    r = clickpy("run", "-j", "2", "-e", "InfiniteSource -> nat :: IPRewriter(pattern - - - - 0 0) -> Discard;")
    assert r.returncode == 1
    assert "'nat :: IPRewriter' keeps state across flows" in r.stderr


class _SharedState(Element):
    """A class declaring that its state cannot be split by flow."""
    cross_flow_state = True
    port_count = "1/1"


def test_a_class_can_declare_cross_flow_state():
    registry.register("TestSharedState", _SharedState)
    graph = parse_config("InfiniteSource -> s :: TestSharedState -> Discard;")
    with pytest.raises(ConfigError, match="'s :: TestSharedState' keeps state across flows"):
        check_splittable(graph)
    check_splittable(parse_config("InfiniteSource -> Counter -> Discard;"))


def test_control_sockets_are_refused_with_workers():
    r = clickpy("run", "-j", "2", "-p", "7777", "-e", "InfiniteSource(ACTIVE false) -> Discard;")
    assert r.returncode == 1
    assert "-p: not available with -j" in r.stderr
