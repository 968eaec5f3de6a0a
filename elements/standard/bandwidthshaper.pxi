# EXPORT_ELEMENT BandwidthShaper

cdef class BandwidthShaper(Shaper):
    """BandwidthShaper(RATE)

    Shapes traffic to a maximum bandwidth (bytes per second).

    Ports: 1 input, 1 output.
    Processing: pull.

    Lets at most the bandwidth RATE (such as "10Mbps") through. A packet
    may pass while any allowance is left; a packet longer than the
    allowance becomes a debt that later pulls wait out, so the long-run
    rate is exact. If it receives many evenly spaced pull requests it
    emits RATE with little burstiness. Like Shaper, it catches up on up to
    one second of missed allowance.

    Handlers:
      rate (read/write)  RATE, in bytes per second
    """

    cdef bint is_bandwidth(self):
        return True

    cdef int _allowed(self, int max) noexcept:
        cdef double n
        tb_refill(&self.tb, rate_now())
        if self.tb.tokens <= 0:
            return 0
        n = self.tb.tokens / self.max_length
        if n >= max:
            return max
        return <int>n if n >= 1 else 1

    cdef double _cost(self, Batch* b) noexcept:
        return batch_bytes(self.pool.anno, b, &self.max_length)
