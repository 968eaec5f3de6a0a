# EXPORT_ELEMENT BandwidthRatedUnqueue

cdef class BandwidthRatedUnqueue(RatedUnqueue):
    """BandwidthRatedUnqueue(RATE, [KEYWORDS])

    Pulls packets at a given bandwidth and pushes them out.

    Ports: 1 input, 1 output.
    Processing: pull input, push output.

    Pulls packets at the bandwidth RATE (such as "384 kbps") and pushes
    them out its output. The rate is kept by a token bucket of bytes
    holding 20 ms of tokens unless BURST_DURATION or BURST_BYTES say
    otherwise; the bucket starts full. A packet may leave while any token
    is left: a packet longer than the tokens becomes a debt that later
    packets wait out, so the long-run rate is exact. Each pull takes at
    most the tokens divided by the largest packet seen so far.

    Keywords:
      RATE            Bandwidth. Bytes per second ("10Mbps", "1MBps", "125000").
      BURST_DURATION  Time. The bucket holds RATE * BURST_DURATION bytes.
      BURST_BYTES     Unsigned. The bucket holds this many bytes.
      ACTIVE          Boolean. Pull packets (default true).

    Handlers:
      rate (read/write)    RATE, in bytes per second
      active (read/write)  ACTIVE
      count (read)         packets pushed
      calls (read)         task statistics: runs, empty runs, pushes, failed pulls
    """

    cdef bint is_bandwidth(self):
        return True

    cdef int _want(self) noexcept:
        cdef double n
        tb_refill(&self.tb, rate_now())
        if self.tb.tokens <= 0:
            return 0
        n = self.tb.tokens / self.max_length
        return BATCH_MAX if n >= BATCH_MAX else (<int>n if n >= 1 else 1)

    cdef double _cost(self, Batch* b) noexcept:
        return batch_bytes(self.pool.anno, b, &self.max_length)
