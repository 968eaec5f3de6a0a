# EXPORT_ELEMENT Shaper

cdef class Shaper(Element):
    """Shaper(RATE)

    Shapes traffic to a maximum rate (packets per second).

    Ports: 1 input, 1 output.
    Processing: pull.

    Lets at most RATE packets per second through: a pull gets packets only
    while the element's allowance lasts. Shaper depends on the timing of
    its pull requests; if it receives only sporadic pull requests it emits
    packets only sporadically, and with frequent, evenly spaced pulls it
    emits RATE packets per second with little burstiness. As Click's gap
    rate does, it catches up on up to one second of allowance missed while
    pulls were late, and starts with an allowance of one packet.

    Handlers:
      rate (read/write)  RATE

    Example:
      ... -> Queue -> Shaper(1000) -> ToDevice(eth0);
    """

    port_count = "1/1"
    processing = "l/l"

    cdef TokenBucket tb
    cdef readonly uint64_t rate
    cdef uint32_t max_length        # largest packet seen: sizes byte-rated pulls

    cdef bint is_bandwidth(self):
        return False

    def configure(self, args):
        self._set_rate(args.read_mp("RATE", BANDWIDTH if self.is_bandwidth() else UINT))
        self.max_length = 64

    def _set_rate(self, rate):
        self.rate = rate
        # one second of allowance, as Click's GapRate can owe at most about a second
        tb_assign(&self.tb, rate, max(rate, 1), 1)

    cdef int _allowed(self, int max) noexcept:
        cdef double n
        tb_refill(&self.tb, rate_now())
        n = self.tb.tokens
        if n >= max:
            return max
        return <int>n if n >= 1 else 0

    cdef double _cost(self, Batch* b) noexcept:
        return b.n

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef int n = self._allowed(max)
        if n and self.input_pull(0, b, n):
            self.tb.tokens -= self._cost(b)
        return b.n

    def _write_rate(self, value):
        tokens = self.tb.tokens
        stamp = self.tb.stamp
        self._set_rate((BANDWIDTH if self.is_bandwidth() else UINT)(value.strip()))
        self.tb.tokens = min(tokens, self.tb.capacity)
        self.tb.stamp = stamp

    def add_handlers(self):
        self.add_read_handler("rate", lambda: self.rate)
        self.add_write_handler("rate", self._write_rate)
