# cython: language_level=3
"""Click's IPv4 elements: header checks, address annotations, TTL, options,
fragmentation and reassembly, encapsulation, the router combos and IPPrint.

One element per .pxi file, included here so the group builds as one module.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, uint64_t
from libc.string cimport memcpy, memset, strlen
from libc.stdlib cimport malloc, realloc, free as c_free, qsort

from clickpy.packet cimport (PacketPool, Batch, Anno, BATCH_MAX, NO_PACKET, load_be16, load_be32,
                             store_be16, store_be32, DST_IP_ANNO, PAINT_ANNO, FIX_IP_SRC_ANNO,
                             ICMP_PARAMPROB_ANNO, PACKET_BROADCAST, PACKET_MULTICAST, OFFLOAD_VLAN)
from clickpy.element cimport Element, realtime_ns
from clickpy.checksum cimport csum_add, csum_fold, csum_update32
from clickpy.ipv4 cimport (IP_PROTO_TCP, IP_PROTO_UDP, IP_DF, IP_MF, IP_RF, IP_OFFMASK, IP_MIN_HEADER,
                           IPOPT_EOL, IPOPT_NOP, IPOPT_RR, IPOPT_TS, UDP_HEADER, TCP_MIN_HEADER,
                           ip_header, network_length, transport_length, set_ip_header,
                           copy_dst_ip_anno, ip_is_fragment, ip_first_fragment, ip_set_checksum, addr_in,
                           ip_header_checksum_ok, ip_decrement_ttl, likely, unlikely)
from clickpy.dispatch cimport emit_list, push_by_port, take_out

from clickpy.args import ANY, BOOL, FILENAME, INT, IPADDR, STRING, UINT, WORD, Int
from clickpy.args import Anno as AnnoArg
from clickpy.elements.ip.ipnames import IP_LIST, IP_PROTO, chatter, interfaces_arg, ip_str

include "_common.pxi"
include "checkipheader.pxi"
include "checkipheader2.pxi"
include "markipheader.pxi"
include "striptonetworkheader.pxi"
include "getipaddress.pxi"
include "setipaddress.pxi"
include "storeipaddress.pxi"
include "decipttl.pxi"
include "setipchecksum.pxi"
include "fixipsrc.pxi"
include "ipgwoptions.pxi"
include "ipencap.pxi"
include "ipinputcombo.pxi"
include "ipoutputcombo.pxi"
include "ipfragmenter.pxi"
include "ipreassembler.pxi"
include "ipprint.pxi"
