# cython: language_level=3
"""Click's TCP and UDP elements: CheckUDPHeader, CheckTCPHeader,
SetUDPChecksum, SetTCPChecksum, UDPIPEncap and FastUDPFlows.

One element per .pxi file, included here so the group builds as one module.
"""
import os

from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memset
from libc.stdlib cimport calloc, free

from clickpy.packet cimport (PacketPool, Batch, Anno, BATCH_MAX, COPY_SLACK, DST_IP_ANNO, copy_blocks,
                             load_be16, load_be32, store_be16, store_be32)
from clickpy.element cimport Element, Task, realtime_ns
from clickpy.checksum cimport csum_update16
from clickpy.ipv4 cimport (IP_PROTO_TCP, IP_PROTO_UDP, IP_MIN_HEADER, UDP_HEADER, TCP_MIN_HEADER,
                           ip_header, network_length, set_ip_header, ip_first_fragment, ip_is_fragment,
                           ip_set_checksum, transport_checksum, transport_checksum_ok)
from clickpy.dispatch cimport emit_list

from clickpy.args import BOOL, ETHERADDR, INT, IPADDR, UINT, Int
from clickpy.element import HandlerError
from clickpy.elements.ip.ipnames import chatter, ip_str


cdef int reject_counted(Element e, uint32_t* xs, uint8_t* why, uint32_t n, str proto, tuple reasons,
                        bint verbose, uint64_t* drops, uint64_t* reason_drops) except -1:
    """Count and report rejected packets by reason (the first one, or each with
    VERBOSE), then send them to output 1 (or drop them)."""
    cdef uint32_t i
    if verbose or drops[0] == 0:
        report_reasons(e, proto, reasons, why[:n] if verbose else why[:1])
    for i in range(n):
        reason_drops[why[i]] += 1
    drops[0] += n
    return emit_list(e, 1, xs, n)


def report_reasons(e, proto, reasons, bytes why):
    for r in why:
        chatter(e, f"{proto} header check failed: {reasons[r]}")


include "checkudpheader.pxi"
include "checktcpheader.pxi"
include "setudpchecksum.pxi"
include "settcpchecksum.pxi"
include "udpipencap.pxi"
include "fastudpflows.pxi"
