# cython: language_level=3
"""Ethernet and ARP elements: encapsulation, rewriting, filtering, VLANs,
the learning bridge, ARP responder, querier and printer, and Classifier
(here rather than in `standard`, which Click uses, so that configs without
a Classifier do not load the classification engine at start-up).

One element per .pxi file, included here so the group builds as one module.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memset, memmove, memcmp
from libc.stdlib cimport malloc, calloc, realloc, free as c_free

from clickpy.packet cimport (PacketPool, Batch, Anno, BATCH_MAX, NO_PACKET, HEADROOM,
                             BUF_SIZE, CLICKPY_DEBUG_BUILD, load_be16, load_be32,
                             store_be16, store_be32, DST_IP_ANNO, VLAN_TCI_ANNO,
                             PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST,
                             OFFLOAD_VLAN)
from clickpy.dispatch cimport take_out
from clickpy.element cimport (Element, Task, Timer, Notifier, NotifierSignal,
                              monotonic_ns, realtime_ns)

from clickpy.args import (BOOL, INT, UINT, Int, IPADDR, IPPREFIX, ETHERADDR, SECONDS, NSECONDS,
                          WORD, STRING, ANY, FILENAME, split_words)
from clickpy.element import HandlerError

include "_ether.pxi"
include "etherencap.pxi"
include "etherrewrite.pxi"
include "storeetheraddress.pxi"
include "hostetherfilter.pxi"
include "dropbroadcasts.pxi"
include "etherswitch.pxi"
include "vlanencap.pxi"
include "vlandecap.pxi"
include "setvlananno.pxi"
include "arpresponder.pxi"
include "arpquerier.pxi"
include "arpprint.pxi"
include "classifier.pxi"
