# EXPORT_ELEMENT SetTimestamp

cdef class SetTimestamp(Element):
    """SetTimestamp([TIMESTAMP, KEYWORDS])

    Stores a time in packets' timestamp annotation.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Sets each packet's timestamp annotation to TIMESTAMP (seconds since
    1970, such as 1000000000.25), or, without TIMESTAMP, to the current
    time (read once per batch).

    Keywords:
      TIMESTAMP  Timestamp. The time to store (default: now).
      FIRST      Boolean. Set the "first timestamp" annotation
                 (FIRST_TIMESTAMP_ANNO, nanoseconds since 1970) instead
                 (default false).

    Example:
      ... -> SetTimestamp -> ...
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint64_t timestamp         # 0: now
    cdef bint first

    def configure(self, args):
        self.timestamp = args.read_p("TIMESTAMP", TIMESTAMP, 0)
        self.first = args.read("FIRST", BOOL, False)
        if args.read("DELTA", BOOL, False):
            raise self.error("SetTimestamp(DELTA) is deprecated, use SetTimestampDelta(TYPE FIRST)")

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef uint64_t ts = self.timestamp if self.timestamp else realtime_ns()
        cdef uint32_t i
        if self.first:
            for i in range(b.n):
                memcpy(&anno[b.idx[i]].user[FIRST_TIMESTAMP_ANNO], &ts, 8)
        else:
            for i in range(b.n):
                anno[b.idx[i]].timestamp = ts
        return 0
