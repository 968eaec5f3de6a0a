"""pytest-benchmark entries for the configs of bench/report.py:

    .venv/bin/python -m pytest bench --benchmark-only

Each entry times whole runs of LIMIT packets (router set-up included) and
records the driver-measured rate in extra_info["mpps"]; `make bench` is the
report with calibrated, longer runs.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import load_configs, run_c, run_clickpy, run_python  # noqa: E402

LIMIT = 20_000_000
PY_LIMIT = 1_000_000
CONFIGS = load_configs()


@pytest.mark.parametrize("cfg", CONFIGS, ids=[c.key for c in CONFIGS])
def test_clickpy(benchmark, cfg):
    mpps, _ = benchmark.pedantic(run_clickpy, args=(cfg, LIMIT), rounds=3, iterations=1)
    benchmark.extra_info["mpps"] = round(mpps, 1)


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c.c_reference], ids=[c.key for c in CONFIGS if c.c_reference])
def test_c_reference(benchmark, cfg):
    mpps, _ = benchmark.pedantic(run_c, args=(cfg, LIMIT), rounds=3, iterations=1)
    benchmark.extra_info["mpps"] = round(mpps, 1)


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c.py_reference], ids=[c.key for c in CONFIGS if c.py_reference])
def test_python_pipeline(benchmark, cfg):
    mpps, _ = benchmark.pedantic(run_python, args=(cfg, PY_LIMIT), rounds=3, iterations=1)
    benchmark.extra_info["mpps"] = round(mpps, 2)
