"""The packet paths of the IPv4 groups touch no Python objects.

Reads the C that Cython generated for every element's push/process and
fails on any call that builds, reads or calls a Python object (module
globals, attribute or item access, string formatting, method calls). Error
unwinding (tracebacks, reference counts of locals set once per call) is
allowed. Reports and messages live in separate cold methods.
"""
import os
import re

import pytest

from clickpy import _build

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUPS = ["ip", "iproute", "icmp", "tcpudp"]
PYTHON_OBJECT_CALLS = re.compile(
    r"\b(__Pyx_GetModuleGlobalName|__Pyx_PyObject_\w+|__Pyx_GetItemInt\w*|__Pyx_PyUnicode_\w+|"
    r"__Pyx_PyInt_From\w+|__Pyx_PyBool_From\w+|__Pyx_Py\w+_From\w+|__Pyx_GetAttr\w*|"
    r"PyObject_\w+|PyUnicode_\w+|PyTuple_\w+|PyList_\w+|PyDict_\w+|PyLong_\w+|PyFloat_\w+|PyMethod_\w+|"
    r"__Pyx_PyNumber_\w+|__Pyx_Print\w*)\s*\(")


def hot_functions(group):
    path = os.path.join(ROOT, "build", f"cython-{_build.MODE}", "elements", group, f"{group}.c")
    if not os.path.exists(path):
        pytest.skip(f"generated C not found at {path} (build with make dev)")
    src = open(path).read()
    for m in re.finditer(r"\nstatic int __pyx_f_\w+?_\d+([A-Za-z][A-Za-z0-9]*)_(process|push)\(struct [^)]*\) \{\n", src):
        i, depth = m.end(), 1
        while depth:
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            i += 1
        body = "\n".join(line for line in src[m.end():i].splitlines()
                         if not line.strip().startswith(("*", "/*")))
        yield f"{m.group(1)}.{m.group(2)}", body


@pytest.mark.parametrize("group", GROUPS)
def test_packet_paths_make_no_python_calls(group):
    found = dict(hot_functions(group))
    assert found, "no push/process functions found"
    offenders = {name: sorted(set(PYTHON_OBJECT_CALLS.findall(body))) for name, body in found.items()}
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}
