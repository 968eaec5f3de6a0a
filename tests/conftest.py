import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _build_engine():
    """Build clickpy.classify._engine in place if it is missing or stale."""
    d = os.path.join(ROOT, "clickpy", "classify")
    srcs = [os.path.join(d, f) for f in ("_engine.pyx", "_engine.pxd", "engine.pxd")]
    sos = [f for f in os.listdir(d) if f.startswith("_engine") and f.endswith(".so")]
    newest = max(os.path.getmtime(s) for s in srcs)
    if sos and all(os.path.getmtime(os.path.join(d, s)) >= newest for s in sos):
        return
    subprocess.run([sys.executable, "-m", "Cython.Build.Cythonize", "-i", "-3",
                    "clickpy/classify/_engine.pyx"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


try:
    _build_engine()
except Exception as e:  # pragma: no cover - reported by the tests that need it
    print("could not build clickpy.classify._engine:", e, file=sys.stderr)


@pytest.fixture(scope="session")
def engine():
    from clickpy.classify import _engine
    return _engine


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds an extension module (about 20 s)")
