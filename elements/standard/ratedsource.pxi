# EXPORT_ELEMENT RatedSource

cdef class RatedSource(Element):
    """RatedSource([DATA, RATE, LIMIT, ACTIVE, KEYWORDS])

    Generates packets at a specified rate.

    Ports: no inputs, 1 output.
    Processing: agnostic. Push: a task sends packets as the rate allows and
    sleeps on a timer in between. Pull: a pull gets the packets the rate
    allows at that moment (maybe none).

    Creates packets consisting of DATA and emits at most LIMIT of them (a
    negative LIMIT means forever) at RATE packets per second, from a token
    bucket holding 1/100 s of packets (at least 2). Sends only while ACTIVE.
    Each packet's timestamp annotation is set to the current time.

    Keywords:
      DATA       String. Packet contents (default: 69 bytes of text).
      RATE       Unsigned. Packets per second (default 10).
      LIMIT      Integer. Total packets to send; negative means no limit (default -1).
      ACTIVE     Boolean. Send packets (default true).
      LENGTH     Integer. Packet length; DATA is repeated or cut to fit.
      DATASIZE   Integer. Deprecated synonym for LENGTH.
      BANDWIDTH  Bandwidth. If set, RATE is BANDWIDTH divided by the packet length.
      STOP       Boolean. Stop the driver once LIMIT packets are sent (default false).

    Handlers:
      count (read)          packets generated
      reset (write)         set count to 0: send another LIMIT packets
      data (read/write)     DATA (a write takes the raw bytes)
      length (read/write)   LENGTH (-1 when unset)
      datasize (read/write) deprecated synonym for length
      rate (read/write)     RATE
      limit (read/write)    LIMIT (-1: no limit)
      active (read/write)   ACTIVE

    Example:
      RatedSource(\\<0800>, 10, 1000) -> Queue -> ...
    """

    port_count = "0/1"
    processing = "a/a"

    cdef PacketTemplate tmpl
    cdef TokenBucket tb
    cdef readonly uint32_t rate
    cdef readonly int64_t limit
    cdef readonly uint64_t count
    cdef readonly bint active, stop
    cdef bint voted_stop
    cdef Task task
    cdef Timer timer

    def __cinit__(self):
        self.tmpl = PacketTemplate()

    def configure(self, args):
        data = args.read_p("DATA", DATA, DEFAULT_SOURCE_DATA)
        rate = args.read_p("RATE", UINT, 10)
        self.limit = args.read_p("LIMIT", INT64, -1)
        self.active = args.read_p("ACTIVE", BOOL, True)
        length = args.read("LENGTH", INT, None)
        datasize = args.read("DATASIZE", INT, None, deprecated=True)
        self.stop = args.read("STOP", BOOL, False)
        bandwidth = args.read("BANDWIDTH", BANDWIDTH, 0)
        self.tmpl.set(data, length if length is not None else (datasize if datasize is not None else -1))
        if bandwidth > 0:
            rate = bandwidth // max(self.tmpl.length, 1)
            if rate > 0xFFFFFFFF:
                raise self.error("BANDWIDTH too large for the packet length")
        self._set_rate(rate)
        if bandwidth > 0 and self.tb.capacity < 2 * self.tmpl.length:
            self.tb.capacity = 2 * self.tmpl.length

    def _set_rate(self, uint32_t rate):
        self.rate = rate
        tb_assign(&self.tb, rate, 2 if rate < 200 else rate // 100, 1)

    def initialize(self):
        if self.output_is_push(0):
            self.task = self.add_task(self.active)
            self.timer = self.add_timer()

    cdef inline int _quota(self, int max) noexcept:
        """Packets allowed now: tokens, LIMIT and max (refills the bucket)."""
        cdef double n
        tb_refill(&self.tb, rate_now())
        n = self.tb.tokens
        if n > max:
            n = max
        if self.limit >= 0 and <double>(self.limit - <int64_t>self.count) < n:
            n = <double>(self.limit - <int64_t>self.count)
        return <int>n if n >= 1 else 0

    cdef inline bint _done(self) noexcept:
        return self.limit >= 0 and <int64_t>self.count >= self.limit

    cdef int run_task(self, Task task) except -1:
        cdef int n
        cdef uint64_t wait
        cdef Batch* b
        cdef PacketPool pool = self.pool
        if not self.active:
            return 0
        if self._done():
            if self.stop and not self.voted_stop:
                self.voted_stop = True
                self.please_stop()
            return 0
        n = self._quota(BATCH_MAX)
        if n == 0:
            wait = tb_wait_ns(&self.tb, 1)
            if wait != 0xFFFFFFFFFFFFFFFFULL:
                self.timer.schedule_after(wait)
            return 0
        b = pool.batch_get()
        try:
            n = pool.alloc_batch(b, n, self.tmpl.length, self.tmpl.ptr, realtime_ns())
            self.tb.tokens -= n
            self.count += <uint64_t>n
            if n:
                self.output_push(0, b)
        finally:
            pool.batch_put(b)
        task.reschedule()
        return n

    cdef int run_timer(self, Timer timer) except -1:
        self.task.reschedule()
        return 0

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef int n
        if not self.active:
            return 0
        if self._done():
            if self.stop and not self.voted_stop:
                self.voted_stop = True
                self.please_stop()
            return 0
        n = self._quota(max)
        if n:
            n = self.pool.alloc_batch(b, n, self.tmpl.length, self.tmpl.ptr, realtime_ns())
            self.tb.tokens -= n
            self.count += <uint64_t>n
        return n

    def _wake(self):
        if self.task is not None and self.active:
            self.task.schedule()

    def _write_active(self, value):
        self.active = BOOL(value.strip())
        if self.active:
            self.tb.tokens = max(self.tb.tokens, 1.0)
        self._wake()

    def _write_reset(self, value):
        self.count = 0
        self.voted_stop = False
        self.tb.tokens = max(self.tb.tokens, 1.0)
        self._wake()

    def _write_rate(self, value):
        rate = UINT(value.strip())
        tokens = self.tb.tokens
        self._set_rate(rate)
        self.tb.tokens = min(tokens, self.tb.capacity)
        self._wake()

    def _write_limit(self, value):
        self.limit = INT64(value.strip())
        self.voted_stop = False
        self._wake()

    def _write_data(self, value):
        self.tmpl.set(value.encode("utf-8", "surrogateescape"), self.tmpl.datasize)

    def _write_length(self, value):
        self.tmpl.set(self.tmpl.data, INT(value.strip()))

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_write_handler("reset", self._write_reset)
        self.add_read_handler("data", lambda: self.tmpl.data)
        self.add_write_handler("data", self._write_data)
        self.add_read_handler("length", lambda: self.tmpl.datasize)
        self.add_write_handler("length", self._write_length)
        self.add_read_handler("datasize", lambda: self.tmpl.datasize)
        self.add_write_handler("datasize", self._write_length)
        self.add_read_handler("rate", lambda: self.rate)
        self.add_write_handler("rate", self._write_rate)
        self.add_read_handler("limit", lambda: self.limit)
        self.add_write_handler("limit", self._write_limit)
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", self._write_active)
