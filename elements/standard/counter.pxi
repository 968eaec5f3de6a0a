# EXPORT_ELEMENT Counter

cdef class Counter(Element):
    """Counter([KEYWORDS])

    Measures packet count and rate.

    Ports: 1 input, 1 output. Processing: agnostic.

    Passes packets unchanged from its input to its output, counting them and
    their bytes and estimating their rate.

    Keywords:
      COUNT_CALL       "N HANDLER [VALUE]": call HANDLER once the count reaches N.
      BYTE_COUNT_CALL  "N HANDLER [VALUE]": call HANDLER once the byte count reaches N.

    Handlers:
      count (read)        packets seen
      byte_count (read)   bytes seen
      rate (read)         recent packets per second (moving average)
      bit_rate, byte_rate (read)  recent bits / bytes per second
      reset, reset_counts (write)  set everything to 0
      count_call, byte_count_call (write)  set the call keywords

    Example:
      ... -> c :: Counter -> ...   (then read c.count)
    """

    port_count = "1/1"
    processing = "a/a"

    cdef readonly uint64_t count, byte_count
    cdef RateEWMA packet_rate, byte_rate
    cdef uint64_t count_trigger, byte_trigger
    cdef object count_call, byte_count_call

    def __cinit__(self):
        self.packet_rate = RateEWMA()
        self.byte_rate = RateEWMA()
        self.count_trigger = <uint64_t>-1
        self.byte_trigger = <uint64_t>-1

    def _parse_call(self, text, str what):
        if text is None:
            return None, <uint64_t>-1
        parts = text.split(None, 1)
        if len(parts) < 2:
            raise self.error(f"{what} needs 'N HANDLER [VALUE]'")
        return parts[1], UINT(parts[0])

    def configure(self, args):
        self.count_call, self.count_trigger = self._parse_call(args.read("COUNT_CALL", ANY, None), "COUNT_CALL")
        self.byte_count_call, self.byte_trigger = self._parse_call(
            args.read("BYTE_COUNT_CALL", ANY, None), "BYTE_COUNT_CALL")

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef uint64_t nbytes = 0
        cdef uint64_t now
        cdef uint32_t i
        for i in range(b.n):
            nbytes += anno[b.idx[i]].len
        self.count += b.n
        self.byte_count += nbytes
        now = coarse_ns()
        self.packet_rate.update(now, b.n)
        self.byte_rate.update(now, nbytes)
        if self.count >= self.count_trigger or self.byte_count >= self.byte_trigger:
            self._fire_calls()
        return 0

    def _fire_calls(self):
        if self.count >= self.count_trigger:
            self.count_trigger = <uint64_t>-1
            self._call(self.count_call)
        if self.byte_count >= self.byte_trigger:
            self.byte_trigger = <uint64_t>-1
            self._call(self.byte_count_call)

    def _call(self, text):
        target, _, value = text.strip().partition(" ")
        self.router.write(target, value)

    def _reset(self, value=""):
        self.count = 0
        self.byte_count = 0
        self.packet_rate.reset()
        self.byte_rate.reset()

    def _rate(self, RateEWMA r, double scale):
        return f"{r.current(coarse_ns()) * scale:.1f}"

    def take_state(self, old):
        if isinstance(old, Counter):
            self.count = (<Counter>old).count
            self.byte_count = (<Counter>old).byte_count

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_read_handler("byte_count", lambda: self.byte_count)
        self.add_read_handler("rate", lambda: self._rate(self.packet_rate, 1.0))
        self.add_read_handler("byte_rate", lambda: self._rate(self.byte_rate, 1.0))
        self.add_read_handler("bit_rate", lambda: self._rate(self.byte_rate, 8.0))
        self.add_write_handler("reset", self._reset)
        self.add_write_handler("reset_counts", self._reset)

        def set_count_call(value):
            self.count_call, self.count_trigger = self._parse_call(value, "count_call")
        def set_byte_count_call(value):
            self.byte_count_call, self.byte_trigger = self._parse_call(value, "byte_count_call")
        self.add_write_handler("count_call", set_count_call)
        self.add_write_handler("byte_count_call", set_byte_count_call)
