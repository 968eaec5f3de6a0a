"""An element-like extension module can cimport the engine and run a program
(the way Classifier/IPFilter elements will), with no Python per packet."""
import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ELEMENT = textwrap.dedent('''
    # cython: language_level=3
    from libc.stdint cimport uint8_t
    from clickpy.classify.engine cimport cls_program, cls_classify
    from clickpy.classify._engine cimport CProgram

    cdef class FakeIPFilter:
        cdef CProgram cprog
        def __init__(self, CProgram cprog):
            self.cprog = cprog
        def push_many(self, list packets):
            cdef const cls_program* prog = &self.cprog.prog
            cdef const uint8_t* p
            cdef bytes b
            out = []
            for b in packets:
                p = <const uint8_t*>b
                out.append(cls_classify(prog, p, p + len(b), p, p + 14, NULL))
            return out
''')


@pytest.mark.slow
def test_cimport_from_another_module(tmp_path):
    src = tmp_path / "fake_ipfilter.pyx"
    src.write_text(ELEMENT)
    setup = tmp_path / "setup.py"
    setup.write_text(textwrap.dedent(f'''
        from setuptools import setup, Extension
        from Cython.Build import cythonize
        setup(ext_modules=cythonize([Extension("fake_ipfilter", ["fake_ipfilter.pyx"],
                                               extra_compile_args=["-O2"])],
                                    include_path=[{ROOT!r}], language_level=3, quiet=True))
    '''))
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tmp_path,
                   check=True, capture_output=True)
    so = next(f for f in os.listdir(tmp_path) if f.startswith("fake_ipfilter") and f.endswith(".so"))
    spec = importlib.util.spec_from_file_location("fake_ipfilter", tmp_path / so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    from clickpy.classify import compile_ipfilter
    from clickpy.classify._engine import CProgram
    scapy = pytest.importorskip("scapy.all")
    cp = CProgram(compile_ipfilter(["allow udp && dst port 53", "1 ether src 00:00:00:00:00:01",
                                    "deny all"], 2))
    pk = [bytes(scapy.Ether() / scapy.IP() / scapy.UDP(dport=53)),
          bytes(scapy.Ether(src="00:00:00:00:00:01") / scapy.IP() / scapy.TCP()),
          bytes(scapy.Ether() / scapy.IP() / scapy.TCP())]
    assert mod.FakeIPFilter(cp).push_many(pk) == [0, 1, -1]
