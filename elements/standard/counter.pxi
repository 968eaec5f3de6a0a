# EXPORT_ELEMENT Counter

cdef class Counter(Element):
    """Counter([KEYWORDS])

    Measures packet count and rate.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Passes packets unchanged from its input to its output, counting them and
    their bytes and estimating their rate with an exponentially weighted
    moving average.

    Keywords:
      COUNT_CALL       "N HANDLER [VALUE]". When the packet count reaches N,
                       call write handler HANDLER with VALUE before the
                       packet goes on (once; a reset re-arms it).
      BYTE_COUNT_CALL  "N HANDLER [VALUE]". The same, once the byte count
                       reaches or exceeds N.

    Handlers:
      count (read)            packets that passed since the last reset
      byte_count (read)       bytes that passed since the last reset
      rate (read)             recent arrival rate, packets per second
      bit_rate (read)         recent arrival rate, bits per second
      byte_rate (read)        recent arrival rate, bytes per second
      reset (write)           set counts and rates to zero
      reset_counts (write)    same as reset
      count_call (read/write) the COUNT_CALL count; write "N [HANDLER [VALUE]]"
      byte_count_call (write) write "N [HANDLER [VALUE]]"

    Example:
      ... -> c :: Counter -> ...   (then read c.count)
    """

    port_count = "1/1"
    processing = "a/a"

    cdef readonly uint64_t count, byte_count
    cdef RateEWMA packet_rate, byte_rate
    cdef uint64_t count_trigger, byte_trigger
    cdef bint count_triggered, byte_triggered
    cdef object count_call, byte_count_call

    def __cinit__(self):
        self.packet_rate = RateEWMA()
        self.byte_rate = RateEWMA()
        self.count_trigger = <uint64_t>-1
        self.byte_trigger = <uint64_t>-1

    def _parse_call(self, str text, str what, old_call, bint need_handler):
        """'N HANDLER [VALUE]' -> (N, call text); the handler may be omitted
        in a handler write, keeping the old one."""
        parts = text.split(None, 1)
        if not parts:
            raise HandlerError(f"{what} needs 'N HANDLER [VALUE]'")
        try:
            n = UINT64(parts[0])
        except ValueError:
            raise HandlerError(f"{what}: first word should be unsigned (count)") from None
        if len(parts) < 2:
            if need_handler or old_call is None:
                raise HandlerError(f"{what} needs 'N HANDLER [VALUE]'")
            return n, old_call
        return n, parts[1]

    def configure(self, args):
        count_call = args.read("COUNT_CALL", ANY, None)
        byte_count_call = args.read("BYTE_COUNT_CALL", ANY, None)
        try:
            if count_call is not None:
                self.count_trigger, self.count_call = self._parse_call(count_call, "COUNT_CALL", None, True)
            if byte_count_call is not None:
                self.byte_trigger, self.byte_count_call = self._parse_call(
                    byte_count_call, "BYTE_COUNT_CALL", None, True)
        except HandlerError as e:
            raise self.error(str(e)) from None

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
        if ((self.count >= self.count_trigger and not self.count_triggered)
                or (self.byte_count >= self.byte_trigger and not self.byte_triggered)):
            self._fire_calls()
        return 0

    def _fire_calls(self):
        if self.count >= self.count_trigger and not self.count_triggered:
            self.count_triggered = True
            call_write_handler(self, self.count_call)
        if self.byte_count >= self.byte_trigger and not self.byte_triggered:
            self.byte_triggered = True
            call_write_handler(self, self.byte_count_call)

    def _reset(self, value=""):
        self.count = 0
        self.byte_count = 0
        self.count_triggered = self.byte_triggered = False
        self.packet_rate.reset()
        self.byte_rate.reset()

    def _rate(self, RateEWMA r, double scale):
        return format_real(r.current(coarse_ns()) * scale)

    def take_state(self, old):
        if isinstance(old, Counter):
            self.count = (<Counter>old).count
            self.byte_count = (<Counter>old).byte_count

    def _write_count_call(self, value):
        self.count_trigger, self.count_call = self._parse_call(value, "count_call", self.count_call, False)
        self.count_triggered = False

    def _write_byte_count_call(self, value):
        self.byte_trigger, self.byte_count_call = self._parse_call(
            value, "byte_count_call", self.byte_count_call, False)
        self.byte_triggered = False

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_read_handler("byte_count", lambda: self.byte_count)
        self.add_read_handler("rate", lambda: self._rate(self.packet_rate, 1.0))
        self.add_read_handler("byte_rate", lambda: self._rate(self.byte_rate, 1.0))
        self.add_read_handler("bit_rate", lambda: self._rate(self.byte_rate, 8.0))
        self.add_write_handler("reset", self._reset)
        self.add_write_handler("reset_counts", self._reset)
        self.add_read_handler("count_call", lambda: self.count_trigger if self.count_call is not None else "")
        self.add_write_handler("count_call", self._write_count_call)
        self.add_write_handler("byte_count_call", self._write_byte_count_call)
