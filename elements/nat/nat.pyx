# cython: language_level=3
"""Click's rewriters: IPRewriter, TCPRewriter, UDPRewriter, IPAddrRewriter,
IPAddrPairRewriter, ICMPPingRewriter, ICMPRewriter, with IPRewriterPatterns
and RoundRobinIPMapper.

Flows live in a C hash table (_flowtable.pxi) with Click's expiry policy;
packets are rewritten in C with incremental checksum updates. One element
per .pxi file, included here so the group builds as one module.
"""
import os

from cpython.object cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memset, memcmp
from libc.stdlib cimport malloc, calloc, realloc, free

from clickpy.packet cimport (PacketPool, Batch, Anno, BATCH_MAX, DST_IP_ANNO, load_be16, load_be32,
                             store_be16, store_be32)
from clickpy.element cimport Element, monotonic_ns
from clickpy.checksum cimport csum_update16, csum_update32, csum_add, csum_fold
from clickpy.ipv4 cimport IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP
from clickpy.dispatch cimport push_by_port

from clickpy.args import ANY, BOOL, IPADDR, IPPREFIX, SECONDS, split_words
from clickpy.args import Anno as AnnoArg
from clickpy.element import HandlerError
from clickpy.lang.graph import ConfigError
from clickpy.lang.strings import parse_click_int
from clickpy.elements.ip.ipnames import ip_str

include "_flowtable.pxi"
include "_rwpattern.pxi"
include "_rwapply.pxi"
include "_rewriterbase.pxi"
include "iprewriterpatterns.pxi"
include "roundrobinipmapper.pxi"
include "tcprewriter.pxi"
include "udprewriter.pxi"
include "iprewriter.pxi"
include "ipaddrrewriter.pxi"
include "ipaddrpairrewriter.pxi"
include "icmppingrewriter.pxi"
include "icmprewriter.pxi"
