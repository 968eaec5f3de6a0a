# cython: language_level=3
"""Click's ICMP elements: ICMPError, ICMPPingResponder, CheckICMPHeader.

One element per .pxi file, included here so the group builds as one module.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, uint64_t
from libc.string cimport memcpy, memset
from libc.stdlib cimport malloc, free as c_free

from clickpy.packet cimport (PacketPool, Batch, Anno, NO_PACKET, load_be16, load_be32, store_be16,
                             store_be32, DST_IP_ANNO, PAINT_ANNO, FIX_IP_SRC_ANNO, ICMP_PARAMPROB_ANNO,
                             PACKET_BROADCAST, PACKET_MULTICAST)
from clickpy.element cimport Element, realtime_ns
from clickpy.checksum cimport csum_add, csum_fold, csum_update16
from clickpy.ipv4 cimport (IP_PROTO_ICMP, IP_MIN_HEADER, IPOPT_EOL, IPOPT_NOP, IPOPT_LSRR, IPOPT_SSRR,
                           ICMP_HEADER, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_UNREACH, ICMP_SOURCEQUENCH,
                           ICMP_REDIRECT, ICMP_TIMXCEED, ICMP_PARAMPROB, ip_header, network_length,
                           set_ip_header, ip_first_fragment, ip_set_checksum, addr_in)
from clickpy.dispatch cimport emit_list

from clickpy.args import ANY, BOOL, IPADDR, UINT, Int
from clickpy.elements.ip.ipnames import ICMP_TYPE, IP_LIST, chatter, icmp_code, ip_str

include "icmperror.pxi"
include "icmppingresponder.pxi"
include "checkicmpheader.pxi"
