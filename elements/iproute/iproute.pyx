# cython: language_level=3
"""Click's IPv4 route lookup elements: StaticIPLookup, LinearIPLookup,
RadixIPLookup and DirectIPLookup, over Click's IPRouteTable interface.

One element per .pxi file, included here so the group builds as one module.
"""
from libc.stdint cimport uint8_t, uint32_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy
from libc.stdlib cimport malloc, realloc, free as c_free

from clickpy.packet cimport Batch, Anno, DST_IP_ANNO, load_be32, store_be32
from clickpy.element cimport Element
from clickpy.dispatch cimport push_by_port

from clickpy.args import INT, IPADDR, IPADDR_OR_PREFIX, split_words
from clickpy.element import HandlerError
from clickpy.elements.ip.ipnames import chatter, ip_str, prefix_str

cdef extern from *:
    """
    #define clickpy_prefetch(p) __builtin_prefetch(p)
    """
    void prefetch "clickpy_prefetch"(const void* p) noexcept nogil

include "_lpm.pxi"
include "iproutetable.pxi"
include "lineariplookup.pxi"
include "staticiplookup.pxi"
include "radixiplookup.pxi"
include "directiplookup.pxi"
