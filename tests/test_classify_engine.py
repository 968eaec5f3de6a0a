"""The C matcher: no Python on the per-packet path, header pointer handling."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from clickpy.classify import compile_classifier, compile_ipfilter
from clickpy.classify._engine import CProgram, match_bytes, run_batch
from clickpy.classify.ir import BASE_DATA, BASE_NET, BASE_TRANS
from clickpy.classify.program import Insn, OP_TEST, Program

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOT = ["cls_classify", "_cls_run_fast", "_cls_run_fast_branchy", "_cls_run_checked", "_cls_switch"]


def function_bodies(c_source: str):
    out = {}
    for name in HOT:
        mangled = "__pyx_f_7clickpy_8classify_6engine_" + name
        m = re.search(r"^static CYTHON_INLINE [^\n;]*\b" + mangled + r"\([^;{]*\)\s*\{", c_source, re.M)
        assert m, f"definition of {name} not found in the generated C"
        depth, i = 1, m.end()
        while depth:
            c = c_source[i]
            depth += c == "{"
            depth -= c == "}"
            i += 1
        out[name] = c_source[m.end():i]
    return out


def test_inline_matcher_has_no_python_api(tmp_path):
    out = tmp_path / "_engine.c"
    subprocess.run([sys.executable, "-m", "cython", "-3", "-I", ROOT, "-o", str(out),
                    os.path.join(ROOT, "clickpy", "classify", "_engine.pyx")],
                   check=True, cwd=ROOT)
    bodies = function_bodies(out.read_text())
    for name, body in bodies.items():
        code = re.sub(r"/\*.*?\*/", "", body, flags=re.S)      # Cython's source comments
        code = code.replace("Py_ssize_t", "")
        bad = re.findall(r"\b(?:Py\w*|__Pyx\w*|_Py\w*)\b|__pyx_L\d+_error|PyGILState", code)
        assert not bad, f"{name} touches Python: {sorted(set(bad))}"


def test_header_pointers():
    p = compile_ipfilter(["allow src port 7"], 1)
    pkt = bytes([0x45]) + bytes(19) + b"\x00\x07\x00\x00"
    cp = CProgram(p)
    pkt = bytearray(pkt)
    pkt[9] = 6
    pkt = bytes(pkt)
    assert match_bytes(cp, pkt, net=0) == 0                 # transport from IHL
    assert match_bytes(cp, pkt, net=0, trans=20) == 0
    assert match_bytes(cp, pkt, net=0, trans=22) == -1      # explicit pointer wins
    assert match_bytes(cp, pkt) == -1                       # no network header
    assert match_bytes(cp, pkt[:21], net=0) == -1           # port cut in half
    with pytest.raises(ValueError):
        match_bytes(cp, pkt, net=100)


def test_data_offset_is_where_classifier_counts_from():
    cp = CProgram(compile_classifier(["0/45"]))
    assert match_bytes(cp, b"\x00\x00\x45", data=2) == 0
    assert match_bytes(cp, b"\x00\x00\x45", data=3) == -1


def test_switch_instruction():
    pats = [f"12/08{k:02x}" for k in range(40)] + ["-"]
    p = compile_classifier(pats)
    assert any(i.cases for i in p.insns), p.dump()
    cp = CProgram(p)
    for k in range(40):
        assert match_bytes(cp, bytes(12) + bytes([8, k])) == k
    assert match_bytes(cp, bytes(12) + bytes([8, 99])) == 40
    assert match_bytes(cp, bytes(13)) == 40                 # short: default


def test_run_batch_agrees_with_match_bytes():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(64, 48), dtype=np.uint8)
    frames[:, 12] = 8
    frames[:, 13] = rng.choice([0, 6], size=64)
    lengths = rng.integers(0, 49, size=64).astype(np.int32)
    cp = CProgram(compile_classifier(["12/0806", "12/0800 23/11", "12/0800", "-"]))
    res = np.zeros(64, dtype=np.int32)
    total = run_batch(cp, frames, lengths, results=res)
    want = [match_bytes(cp, bytes(frames[i, :lengths[i]])) for i in range(64)]
    assert list(res) == want and total == sum(want)


def test_program_validation():
    bad = Program([Insn(OP_TEST, BASE_DATA, 0, 0xFF000000, 0, 1, False, 0, 5)])
    with pytest.raises(ValueError):
        CProgram(bad)


def test_constant_programs():
    assert match_bytes(CProgram(compile_ipfilter(["drop all"], 1)), b"") == -1
    assert match_bytes(CProgram(compile_ipfilter(["allow"], 1)), b"") == 0
