"""The per-packet loops of the core and of every element group stay free of Python.

Reads the C that Cython generated for this build (build/cython-<mode>/) and
checks every `for` loop inside every cdef function: no Python C-API call, no
reference counting. Cython turns `for i in range(n)` into such C loops; per-
batch `while` loops around pushes may touch Python (a push is one C call
through a Python-object reference).
"""
import re
from pathlib import Path

import pytest

from clickpy import _build

ROOT = Path(__file__).resolve().parent.parent
C_DIR = ROOT / "build" / f"cython-{_build.MODE}"

# cdef functions that are allowed to touch Python inside a loop, and why.
COLD_CDEF = {
    "PyElement__dispatch": "elements written in Python: the slow path by design",
    "_6driver_6Driver_": "the driver's loops run once per task, timer or event, never per packet",
}

PYTHON_CALL = re.compile(r"\b(Py[A-Z]\w*|_Py\w+|__Pyx_(?!RefNanny)\w+)\s*\(")
FUNC_START = re.compile(r"^static [^;{]*?\b(__pyx_f_\w+)\s*\([^;]*?\)\s*\{", re.M)


def strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def balanced(text: str, open_at: int) -> str:
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at:i + 1]
    return text[open_at:]


def cdef_functions(c_text: str):
    for m in FUNC_START.finditer(c_text):
        yield m.group(1), balanced(c_text, m.end() - 1)


def for_loops(body: str):
    for m in re.finditer(r"\bfor \(", body):
        brace = body.find("{", m.end())
        if brace >= 0:
            yield balanced(body, brace)


def generated_sources():
    files = sorted(C_DIR.glob("clickpy/*.c")) + sorted(C_DIR.glob("elements/*/*.c"))
    return [f for f in files if f.stem != "benchref"]


def test_generated_sources_exist():
    assert generated_sources(), f"no generated C under {C_DIR}: build with `make dev` first"


@pytest.mark.parametrize("source", generated_sources(), ids=lambda p: p.stem)
def test_per_packet_loops_touch_no_python(source):
    text = strip_comments(source.read_text())
    offenders = []
    for name, body in cdef_functions(text):
        if any(cold in name for cold in COLD_CDEF):
            continue
        for loop in for_loops(body):
            calls = sorted(set(PYTHON_CALL.findall(loop)))
            if calls:
                offenders.append(f"{name}: {', '.join(calls)}")
    assert not offenders, "Python interaction inside per-packet loops:\n" + "\n".join(offenders)


def test_the_checker_sees_python_in_a_loop():
    sample = """static int __pyx_f_7clickpy_x_push(void) {
      for (i = 0; i < n; i++) { __pyx_t_1 = PyLong_FromLong(i); __Pyx_DECREF(__pyx_t_1); }
      return 0;
    }"""
    found = [set(PYTHON_CALL.findall(loop)) for _, body in cdef_functions(sample) for loop in for_loops(body)]
    assert found == [{"PyLong_FromLong", "__Pyx_DECREF"}]
