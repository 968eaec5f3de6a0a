"""Shared fixtures: every router a test makes must give back every buffer."""
from __future__ import annotations

import os

import pytest

from clickpy import router as router_module


@pytest.fixture(autouse=True)
def pool_accounting():
    """After each test, clean up every router it made and check its pool:
    free count == size, and no ownership error in debug builds."""
    made: list = []
    router_module.router_created_hooks.append(made.append)
    try:
        yield made
    finally:
        router_module.router_created_hooks.remove(made.append)
    problems = []
    for r in made:
        try:
            r.cleanup()
        except Exception as e:  # report, then keep checking the others
            problems.append(f"cleanup failed: {e}")
        pool = r.pool
        if pool is None:
            continue
        if pool.free_count != pool.size:
            leaked = pool.leaked()[:10]
            names = {e.eindex + 2: e.name for e in r.elements}
            where = ", ".join(f"buffer {i} (last in {names.get(o, o)})" for i, o in leaked)
            problems.append(f"pool leak: {pool.size - pool.free_count} of {pool.size} buffers not returned: {where}")
        if pool.debug_errors:
            try:
                pool.raise_debug_errors()
            except Exception as e:
                problems.append(str(e))
    if problems:
        pytest.fail("; ".join(problems))


def require_netns():
    """Skip (or, in CI, fail) when namespaces cannot be made here."""
    reason = None
    if os.geteuid() != 0:
        reason = "needs root for network namespaces"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _no_parser_safety_net(monkeypatch):
    """Let parser bugs surface as real exceptions instead of ConfigError."""
    from clickpy.lang import parser as _parser
    monkeypatch.setattr(_parser, "SAFETY_NET", False)


@pytest.fixture(scope="session")
def engine():
    """The classification engine's extension module (built by setup.py)."""
    from clickpy.classify import _engine
    return _engine
