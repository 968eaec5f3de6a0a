"""`clickpy testbed up|down|status`: the A - R - B namespaces for people."""
from __future__ import annotations

import os
import subprocess

import pytest

from devnet import PYTHON, _require_netns

pytestmark = pytest.mark.netns


def run_testbed_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "clickpy", "testbed", *args], capture_output=True, text=True, timeout=60)


def test_testbed_up_and_down():
    _require_netns()
    names = ["clickpy-a", "clickpy-b", "clickpy-r"]
    if any(os.path.exists(f"/run/netns/{n}") for n in names):
        pytest.skip("a `clickpy testbed` is up on this machine; not touching it")
    up = run_testbed_cli("up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "ip netns exec clickpy-r" in up.stdout
        assert run_testbed_cli("status").stdout.strip() == "up: " + ", ".join(names)
        addr = subprocess.run(["ip", "-n", "clickpy-a", "-4", "-o", "addr", "show", "eth0"],
                              capture_output=True, text=True).stdout
        assert "10.0.0.2/24" in addr
        links = subprocess.run(["ip", "-n", "clickpy-r", "-o", "link"], capture_output=True, text=True).stdout
        assert "a0@" in links and "b0@" in links
        assert run_testbed_cli("up").returncode == 1            # already up
    finally:
        down = run_testbed_cli("down")
    assert down.returncode == 0
    assert not any(os.path.exists(f"/run/netns/{n}") for n in names)
    assert run_testbed_cli("status").stdout.strip() == "down"
