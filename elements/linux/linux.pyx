# cython: language_level=3
"""Linux devices: AF_PACKET rings (FromDevice, ToDevice) and TUN/TAP (KernelTun, KernelTap).

One element per .pxi file, included here so the group builds as one module.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memset
from libc.stdlib cimport malloc, calloc, free as c_free

from clickpy.packet cimport (PacketPool, Batch, Anno, BATCH_MAX, NO_PACKET, HEADROOM, BUF_SIZE,
                             OFFLOAD_CSUM_PARTIAL, OFFLOAD_CSUM_VALID, OFFLOAD_VLAN,
                             VLAN_TCI_ANNO, EXTRA_LENGTH_ANNO, PACKET_BROADCAST, PACKET_HOST,
                             load_be16, load_be32, store_be16, store_be32)
from clickpy.element cimport Element, Task, Timer, NotifierSignal, realtime_ns
from clickpy.checksum cimport csum_add, csum_fold, in_cksum, pseudo_sum

from clickpy.args import BOOL, Int, STRING, SECONDS, IPADDR, IPPREFIX, ETHERADDR, Keyword

include "_linux.pxi"
include "_offload.pxi"
include "_uring.pxi"
include "_receiver.pxi"
include "fromdevice.pxi"
include "todevice.pxi"
include "kerneltun.pxi"
include "kerneltap.pxi"
