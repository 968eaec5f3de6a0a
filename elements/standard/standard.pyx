# cython: language_level=3
"""Click's standard elements: sources, counters, queues, schedulers and shapers.

One element per .pxi file, included here so the group builds as one module.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memset
from libc.stdlib cimport malloc, free as c_free

from clickpy.packet cimport (PacketPool, Batch, Anno, BATCH_MAX, NO_PACKET, HEADROOM,
                             BUF_SIZE, COPY_SLACK, CLICKPY_DEBUG_BUILD, copy_blocks)
from clickpy.element cimport (Element, Task, Timer, Notifier, NotifierSignal,
                              monotonic_ns, realtime_ns)

from clickpy.args import BOOL, INT, UINT, DATA, ANY
from clickpy.element import HandlerError

include "common.pxi"
include "infinitesource.pxi"
include "counter.pxi"
include "discard.pxi"
include "queue.pxi"
include "unqueue.pxi"
