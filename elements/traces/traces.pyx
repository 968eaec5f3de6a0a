# cython: language_level=3
"""Trace elements: pcap files (FromDump, ToDump) and Click's IP summary dumps
(FromIPSummaryDump, ToIPSummaryDump).

One element per .pxi file, included here so the group builds as one module.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, int64_t, uint64_t, UINT64_MAX
from libc.string cimport memcpy, memset, memmove
from libc.stdlib cimport malloc, realloc, free as c_free

from clickpy.packet cimport (PacketPool, Batch, BatchView, Anno, BATCH_MAX, NO_PACKET, HEADROOM,
                             BUF_SIZE, BIG_BUF_SIZE, COPY_SLACK, CLICKPY_DEBUG_BUILD, OWNER_ALLOCATED, anno_reset,
                             copy_blocks, load_be16, load_be32, store_be16, store_be32,
                             DST_IP_ANNO, PAINT_ANNO, EXTRA_PACKETS_ANNO, EXTRA_LENGTH_ANNO,
                             AGGREGATE_ANNO, FIRST_TIMESTAMP_ANNO)
from clickpy.element cimport (Element, Task, Timer, Notifier, NotifierSignal,
                              monotonic_ns, realtime_ns)

from clickpy.args import (BOOL, INT, UINT, UINT64, Int, DOUBLE, NSECONDS, FILENAME, WORD, ANY, STRING,
                          ELEMENT, split_words)
from clickpy.element import HandlerError

include "_tracefile.pxi"
include "fromdump.pxi"
include "todump.pxi"
include "fromipsummarydump.pxi"
include "toipsummarydump.pxi"
