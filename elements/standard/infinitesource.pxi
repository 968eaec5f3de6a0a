# EXPORT_ELEMENT InfiniteSource

cdef class InfiniteSource(Element):
    """InfiniteSource([DATA, LIMIT, BURST, ACTIVE, KEYWORDS])

    Generates packets whenever scheduled.

    Ports: no inputs, 1 output.
    Processing: agnostic. Push: a task sends BURST packets each time it
    runs. Pull: a pull gets the packets it asks for (BURST does not apply).

    Creates packets consisting of DATA and pushes BURST of them each time it
    is scheduled (which is often), until LIMIT packets are sent; a negative
    LIMIT sends forever. Sends only while ACTIVE. Every packet is an
    independent copy of the template, with its timestamp annotation set to
    the current time (read once per batch).

    Listens to downstream full notification: sleeps while a downstream
    queue is full. Its pull output is an empty notifier, active while it
    can produce packets.

    Keywords:
      DATA       String. Packet contents (default: 69 bytes of text).
      LENGTH     Integer. Packet length; DATA is repeated or cut to fit.
      DATASIZE   Integer. Deprecated synonym for LENGTH.
      LIMIT      Integer. Total packets to send; negative means no limit (default -1).
      BURST      Integer >= 1. Packets per scheduling (default 1).
      ACTIVE     Boolean. Send packets (default true).
      STOP       Boolean. Stop the driver once LIMIT packets are sent (default false).
      END_CALL   Handler call ("element.handler value") made once LIMIT
                 packets are sent; excludes STOP.
      TIMESTAMP  Boolean. Set the timestamp annotation (default true).

    Handlers:
      count (read)          packets generated
      reset (write)         set count to 0: send another LIMIT packets
      data (read/write)     DATA (a write takes the raw bytes)
      length (read/write)   LENGTH (-1 when unset)
      limit (read/write)    LIMIT
      burst (read/write)    BURST
      active (read/write)   ACTIVE
      datasize (read/write) deprecated synonym for length
      burstsize (read/write) deprecated synonym for burst

    Example:
      InfiniteSource(LENGTH 64, BURST 256, LIMIT 10000000, STOP true) -> Counter -> Discard;
    """

    port_count = "0/1"
    processing = "a/a"

    cdef PacketTemplate tmpl
    cdef readonly int64_t limit
    cdef readonly uint64_t count
    cdef readonly int burst
    cdef readonly bint active, stop, timestamp
    cdef object end_call
    cdef Task task
    cdef NotifierSignal nonfull
    cdef Notifier notifier
    cdef bint ended

    def __cinit__(self):
        self.tmpl = PacketTemplate()
        self.notifier = Notifier(True)

    def configure(self, args):
        data = args.read_p("DATA", DATA, DEFAULT_SOURCE_DATA)
        self.limit = args.read_p("LIMIT", INT64, -1)
        self.burst = args.read_p("BURST", INT, 1)
        self.active = args.read_p("ACTIVE", BOOL, True)
        self.timestamp = args.read("TIMESTAMP", BOOL, True)
        length = args.read("LENGTH", INT, None)
        datasize = args.read("DATASIZE", INT, None, deprecated=True)
        self.stop = args.read("STOP", BOOL, False)
        self.end_call = args.read("END_CALL", ANY, None)
        if self.burst < 1:
            raise self.error("BURST must be at least 1")
        if self.stop and self.end_call is not None:
            raise self.error("STOP and END_CALL are mutually exclusive")
        self.tmpl.set(data, length if length is not None else (datasize if datasize is not None else -1))

    def initialize(self):
        self.notifier.active = self.active
        if self.output_is_push(0):
            self.task = self.add_task(self.active)
            self.nonfull = self.downstream_full_signal(0)
            self.nonfull.add_listener(self.task)

    def empty_notifier(self):
        return self.notifier

    cdef inline int _quota(self, int n) noexcept:
        """n, or fewer if LIMIT is near."""
        if self.limit >= 0 and <int64_t>self.count + n > self.limit:
            n = <int>(self.limit - <int64_t>self.count) if <int64_t>self.count < self.limit else 0
        return n

    cdef int run_task(self, Task task) except -1:
        cdef int n, k
        cdef Batch* b
        cdef PacketPool pool = self.pool
        cdef uint64_t ts
        if not self.active:
            return 0
        if not self.nonfull.is_active():
            return 0          # a listener of the full notifiers: woken when there is room
        n = self._quota(self.burst)
        if n <= 0:
            self._end()
            return 0
        ts = realtime_ns() if self.timestamp else 0
        while n > 0:
            b = pool.batch_get()
            k = pool.alloc_batch(b, BATCH_MAX if n > BATCH_MAX else n, self.tmpl.length, self.tmpl.ptr, ts)
            self.count += <uint64_t>k
            if k:
                try:
                    self.output_push(0, b)
                finally:
                    pool.batch_put(b)
            else:
                pool.batch_put(b)
                break         # pool exhausted (counted): retry on the next run
            n -= k
        task.reschedule()
        return 1

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef int n
        if not self.active:
            self.notifier.sleep()
            return 0
        n = self._quota(max)
        if n <= 0:
            self._end()
            return 0
        n = self.pool.alloc_batch(b, n, self.tmpl.length, self.tmpl.ptr,
                                  realtime_ns() if self.timestamp else 0)
        self.count += <uint64_t>n
        return n

    cdef int _end(self) except -1:
        if self.ended:
            return 0
        self.ended = True
        self.notifier.sleep()
        if self.stop:
            self.please_stop()
        elif self.end_call is not None:
            call_write_handler(self, self.end_call)
        return 0

    def _restart(self):
        """After a handler write: run again if there is something to send."""
        if self.active and (self.limit < 0 or <int64_t>self.count < self.limit):
            self.ended = False
            self.notifier.wake()
            if self.task is not None:
                self.task.schedule()

    def _write_active(self, value):
        self.active = BOOL(value.strip())
        if not self.active:
            self.notifier.sleep()
        self._restart()

    def _write_reset(self, value):
        self.count = 0
        self._restart()

    def _write_limit(self, value):
        self.limit = INT64(value.strip())
        self._restart()

    def _write_burst(self, value):
        burst = INT(value.strip())
        if burst < 1:
            raise HandlerError("burst must be at least 1")
        self.burst = burst
        self._restart()

    def _write_data(self, value):
        self.tmpl.set(value.encode("utf-8", "surrogateescape"), self.tmpl.datasize)
        self._restart()

    def _write_length(self, value):
        self.tmpl.set(self.tmpl.data, INT(value.strip()))
        self._restart()

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_write_handler("reset", self._write_reset)
        self.add_read_handler("data", lambda: self.tmpl.data)
        self.add_write_handler("data", self._write_data)
        self.add_read_handler("length", lambda: self.tmpl.datasize)
        self.add_write_handler("length", self._write_length)
        self.add_read_handler("limit", lambda: self.limit)
        self.add_write_handler("limit", self._write_limit)
        self.add_read_handler("burst", lambda: self.burst)
        self.add_write_handler("burst", self._write_burst)
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", self._write_active)
        self.add_read_handler("datasize", lambda: self.tmpl.datasize)
        self.add_write_handler("datasize", self._write_length)
        self.add_read_handler("burstsize", lambda: self.burst)
        self.add_write_handler("burstsize", self._write_burst)
