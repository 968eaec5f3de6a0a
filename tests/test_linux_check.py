"""Device configurations checked without devices or privileges (`clickpy check`, as click-check)."""
import subprocess
import sys

import pytest

from clickpy.router import Router

CONFIG = "FromDevice(nosuchdev0, SNIFFER false) -> q :: Queue -> ToDevice(nosuchdev1); KernelTap(10.9.0.1/24) -> Discard;"


def check(config: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clickpy", "check", "-e", config],
                          capture_output=True, text=True, timeout=60)


def test_check_opens_no_device():
    r = check(CONFIG)
    assert (r.returncode, r.stderr) == (0, "")


def test_check_still_reports_configuration_errors():
    r = check("FromDevice(eth0, BLOCK_SIZE 1000) -> Discard; InfiniteSource -> ToDevice(eth0, RING_SIZE 100);")
    assert r.returncode == 1
    assert "BLOCK_SIZE must be a power of two" in r.stderr and "RING_SIZE must be a power of two" in r.stderr


def test_an_uninitialized_router_cannot_run():
    router = Router.from_string(CONFIG, initialize=False)
    with pytest.raises(RuntimeError, match="cannot run"):
        router.run(timeout=0.1)
    router.cleanup()
