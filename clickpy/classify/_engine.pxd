# cython: language_level=3
from clickpy.classify.engine cimport cls_program, cls_insn
from libc.stdint cimport uint64_t, int32_t

cdef class CProgram:
    """A flat decision program in C memory; `prog` is what cls_classify runs."""
    cdef cls_program prog
    cdef cls_insn* _insns
    cdef uint64_t* _sw_values
    cdef int32_t* _sw_targets
    cdef readonly object program    # the Python Program it was built from
