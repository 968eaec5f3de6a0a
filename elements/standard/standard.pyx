# cython: language_level=3
"""Click's standard elements: sources, counters, queues, schedulers and shapers.

One element per .pxi file, included here so the group builds as one module.
"""
cimport cython
from cpython.object cimport PyObject
from libc.stdint cimport uint8_t, uint32_t, int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memmove, memset
from libc.stdlib cimport malloc, realloc, free as c_free
from libc.stdio cimport sprintf

from clickpy.packet cimport (PacketPool, Batch, Anno, BATCH_MAX, NO_PACKET, HEADROOM,
                             BUF_SIZE, COPY_SLACK, copy_blocks, ring_put, ring_take,
                             PAINT_ANNO, EXTRA_LENGTH_ANNO, FIRST_TIMESTAMP_ANNO)
from clickpy.element cimport (Element, Task, Timer, Notifier, NotifierSignal,
                              monotonic_ns, realtime_ns)

import sys
from os import urandom as os_urandom

from clickpy.args import (ArgError, BOOL, INT, UINT, INT64, UINT64, DATA, ANY, BANDWIDTH, NSECONDS,
                          DOUBLE, STRING, WORD, Int, Anno as AnnoArg, split_words)
from clickpy.element import HandlerError
from clickpy.lang.graph import ConfigError
from clickpy.ports import flow_links

COLOR = Int(0, 255, "integer 0..255")


def TIMESTAMP(str text) -> int:
    """Click's Timestamp argument, seconds since 1970 ("1000000000.25"), in ns."""
    seconds, dot, fraction = text.strip().partition(".")
    if (not seconds or not (seconds.isascii() and seconds.isdigit())
            or (fraction and not (fraction.isascii() and fraction.isdigit())) or len(fraction) > 9):
        raise ArgError("expected timestamp")
    return int(seconds) * 1000000000 + int(fraction.ljust(9, "0"))


include "common.pxi"
# sources
include "infinitesource.pxi"
include "ratedsource.pxi"
include "timedsource.pxi"
# sinks and plumbing
include "discard.pxi"
include "idle.pxi"
include "nullelement.pxi"
include "pushnull.pxi"
include "pullnull.pxi"
include "tee.pxi"
include "pulltee.pxi"
# counting and annotations
include "counter.pxi"
include "paint.pxi"
include "paintswitch.pxi"
include "painttee.pxi"
include "checkpaint.pxi"
include "setannobyte.pxi"
include "settimestamp.pxi"
include "print.pxi"
# packet data
include "strip.pxi"
include "unstrip.pxi"
include "truncate.pxi"
include "align.pxi"
include "checklength.pxi"
# queues, unqueuers, shapers, schedulers
include "queue.pxi"
include "unqueue.pxi"
include "ratedunqueue.pxi"
include "bwratedunqueue.pxi"
include "shaper.pxi"
include "bandwidthshaper.pxi"
include "bandwidthmeter.pxi"
include "meter.pxi"
include "red.pxi"
include "switch.pxi"
include "staticswitch.pxi"
include "rrswitch.pxi"
include "pullswitch.pxi"
include "rrsched.pxi"
include "priosched.pxi"
include "timesortedsched.pxi"
# configuration
include "poolinfo.pxi"
