# cython: language_level=3
"""Click's IP classification elements: IPClassifier and IPFilter.

Both compile their patterns with the shared classification engine
(clickpy.classify) into one decision program and run it per packet with the
engine's inline C matcher. One element per .pxi file, included here so the
group builds as one module.
"""
from libc.stdint cimport uint8_t, uint32_t, int32_t, int64_t, uint64_t

from clickpy.packet cimport PacketPool, Batch, Anno, BATCH_MAX
from clickpy.element cimport Element
from clickpy.dispatch cimport push_by_port
from clickpy.ipv4 cimport IP_MIN_HEADER
from clickpy.classify.engine cimport (cls_program, cls_insn, cls_classify, cls_run_safe, cls_run_on, CLS_RUN,
                                      CLS_BASE_DATA, CLS_BASE_MAC, CLS_BASE_NET, CLS_BASE_TRANS)
from clickpy.classify._engine cimport CProgram

from clickpy.classify import compile_ipclassifier, compile_ipfilter
from clickpy.classify.element import compile_for
from clickpy.args import unquote

include "_classify.pxi"
include "ipclassifier.pxi"
include "ipfilter.pxi"
