# EXPORT_ELEMENT TimedSource

cdef class TimedSource(Element):
    """TimedSource([INTERVAL, DATA, KEYWORDS])

    Periodically generates a packet.

    Ports: no inputs, 1 output.
    Processing: push.

    Creates packets consisting of DATA and pushes one out about once every
    INTERVAL (default 500 ms), until LIMIT packets are sent (a negative
    LIMIT sends forever). The timer is re-armed from its previous expiry,
    so the period does not drift. Each packet's timestamp annotation is
    set to the current time.

    Keywords:
      INTERVAL  Time. Period between packets (default 0.5 s).
      DATA      String. Packet contents (default: 69 bytes of text).
      LIMIT     Integer. Total packets to send; negative means no limit (default -1).
      ACTIVE    Boolean. Send packets (default true).
      STOP      Boolean. Stop the driver, one INTERVAL after the last of
                LIMIT packets (default false).
      HEADROOM  Unsigned. Bytes of headroom before the packet data (default 128).

    Handlers:
      count (read)            packets generated
      reset (write)           set count to 0 and restart the timer
      data (read/write)       DATA (a write takes the raw bytes)
      interval (read/write)   INTERVAL
      limit (read/write)      LIMIT
      active (read/write)     ACTIVE
      headroom (read/write)   HEADROOM

    Example:
      TimedSource(INTERVAL 0.333) -> ...
    """

    port_count = "0/1"
    processing = "h/h"

    cdef PacketTemplate tmpl
    cdef readonly uint64_t interval
    cdef readonly int64_t limit
    cdef readonly uint64_t count
    cdef readonly bint active, stop
    cdef readonly uint32_t headroom
    cdef Timer timer

    def __cinit__(self):
        self.tmpl = PacketTemplate()

    def configure(self, args):
        self.interval = args.read_p("INTERVAL", NSECONDS, 500000000)
        data = args.read_p("DATA", DATA, DEFAULT_SOURCE_DATA)
        self.limit = args.read("LIMIT", INT64, -1)
        self.active = args.read("ACTIVE", BOOL, True)
        self.stop = args.read("STOP", BOOL, False)
        headroom = args.read("HEADROOM", UINT, HEADROOM)
        if self.interval == 0:
            raise self.error("INTERVAL must be positive")
        self._set(data, headroom)

    def _set(self, bytes data, uint32_t headroom):
        if headroom > BUF_SIZE:
            raise ValueError(f"HEADROOM {headroom} exceeds the {BUF_SIZE}-byte buffer")
        self.tmpl.set(data, -1, BUF_SIZE - headroom)
        self.headroom = headroom

    def initialize(self):
        self.timer = self.add_timer()
        if self.active:
            self.timer.schedule_after(self.interval)

    cdef int run_timer(self, Timer timer) except -1:
        cdef Batch* b
        cdef PacketPool pool = self.pool
        cdef uint32_t x
        cdef Anno* a
        if not self.active:
            return 0
        if self.limit >= 0 and <int64_t>self.count >= self.limit:
            if self.stop:
                self.please_stop()
            return 0
        timer.schedule_at(timer.expiry + self.interval)
        x = pool.alloc(self.tmpl.length)
        if x == NO_PACKET:
            return 0          # pool exhausted (counted by the pool)
        a = &pool.anno[x]
        a.data = a.data - a.headroom + self.headroom
        a.headroom = self.headroom
        memcpy(a.data, self.tmpl.ptr, self.tmpl.length)
        a.timestamp = realtime_ns()
        self.count += 1
        b = pool.batch_get()
        try:
            b.idx[0] = x
            b.n = 1
            self.output_push(0, b)
        finally:
            pool.batch_put(b)
        return 0

    def _restart(self):
        if self.active and not self.timer.scheduled():
            self.timer.schedule_after(0)

    def _write_active(self, value):
        self.active = BOOL(value.strip())
        self._restart()

    def _write_reset(self, value):
        self.count = 0
        self._restart()

    def _write_interval(self, value):
        interval = NSECONDS(value.strip())
        if interval == 0:
            raise HandlerError("bad interval")
        self.interval = interval

    def _write_limit(self, value):
        self.limit = INT64(value.strip())

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_write_handler("reset", self._write_reset)
        self.add_read_handler("data", lambda: self.tmpl.data)
        self.add_write_handler("data", lambda v: self._set(v.encode("utf-8", "surrogateescape"), self.headroom))
        self.add_read_handler("interval", lambda: format_real(self.interval / 1e9))
        self.add_write_handler("interval", self._write_interval)
        self.add_read_handler("limit", lambda: self.limit)
        self.add_write_handler("limit", self._write_limit)
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", self._write_active)
        self.add_read_handler("headroom", lambda: self.headroom)
        self.add_write_handler("headroom", lambda v: self._set(self.tmpl.data, UINT(v.strip())))
