# EXPORT_ELEMENT InfiniteSource

DEFAULT_SOURCE_DATA = b"Random bullshit in a packet, at least 64 bytes long. Well, now it is."


cdef class InfiniteSource(Element):
    """InfiniteSource([DATA, LIMIT, BURST, ACTIVE, KEYWORDS])

    Generates packets whenever scheduled.

    Ports: no inputs; 1 output. Processing: agnostic (push: a task sends
    BURST packets each time it runs; pull: packets are made on demand).

    Creates packets consisting of DATA and sends BURST of them each time it
    is scheduled, until LIMIT packets are sent (LIMIT negative: forever).
    Sends only while ACTIVE. Every packet is an independent copy of the
    template.

    Arguments and keywords:
      DATA       String. Packet contents (default: 69 bytes of text).
      LENGTH     Integer. Packet length; DATA is repeated or cut to fit.
      LIMIT      Integer. Total packets to send; negative means no limit (default -1).
      BURST      Integer >= 1. Packets per scheduling (default 1).
      ACTIVE     Boolean. Send packets (default true).
      STOP       Boolean. Stop the driver once LIMIT packets are sent (default false).
      END_CALL   Handler call (`element.handler value`) made once LIMIT packets are sent.
      TIMESTAMP  Boolean. Set the timestamp annotation, read once per batch (default true).

    Listens to downstream full notification: sleeps while a downstream
    queue is full. Acts as an empty notifier for pull outputs (active while ACTIVE).

    Handlers:
      count (read)          packets generated
      reset (write)         set count to 0 and resume sending
      data, length, limit, burst, active (read/write)   the parameters

    Example:
      InfiniteSource(LENGTH 64, BURST 256, LIMIT 10000000, STOP true) -> Counter -> Discard;
    """

    port_count = "0/1"
    processing = "a/a"

    cdef uint8_t* template
    cdef uint32_t length
    cdef readonly int64_t limit
    cdef readonly uint64_t count
    cdef readonly int burst
    cdef readonly bint active, stop, timestamp
    cdef bytes data
    cdef object end_call
    cdef Task task
    cdef NotifierSignal nonfull
    cdef Notifier notifier
    cdef bint ended

    def __dealloc__(self):
        c_free(self.template)

    def configure(self, args):
        data = args.read_p("DATA", DATA, DEFAULT_SOURCE_DATA)
        self.limit = args.read_p("LIMIT", INT, -1)
        self.burst = args.read_p("BURST", INT, 1)
        self.active = args.read_p("ACTIVE", BOOL, True)
        length = args.read("LENGTH", INT, -1)
        self.stop = args.read("STOP", BOOL, False)
        self.end_call = args.read("END_CALL", ANY, None)
        self.timestamp = args.read("TIMESTAMP", BOOL, True)
        if self.burst < 1:
            raise self.error("BURST must be at least 1")
        if self.stop and self.end_call is not None:
            raise self.error("STOP and END_CALL are mutually exclusive")
        self._set_data(data, length)

    def _set_data(self, bytes data, int length):
        if length < 0:
            length = len(data)
        if length > BUF_SIZE - HEADROOM:
            raise self.error(f"LENGTH {length} exceeds the {BUF_SIZE - HEADROOM}-byte buffer")
        if length > len(data):
            data = (data * (length // max(len(data), 1) + 1))[:length] if data else bytes(length)
        data = data[:length]
        c_free(self.template)
        self.template = <uint8_t*>malloc(length + COPY_SLACK)
        if self.template == NULL:
            raise MemoryError()
        if length:
            memcpy(self.template, <const uint8_t*>data, length)
        self.length = length
        self.data = data

    def initialize(self):
        self.notifier = Notifier(self.active)
        if self.output_is_push(0):
            self.task = self.add_task(self.active)
            self.nonfull = self.downstream_full_signal(0)
            self.nonfull.add_listener(self.task)

    def empty_notifier(self):
        return self.notifier

    cdef inline int _fill(self, Batch* b, int n) except -1:
        """Put n fresh copies of the template into b (fewer if the pool runs dry)."""
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint32_t x, length = self.length
        cdef uint64_t ts = realtime_ns() if self.timestamp else 0
        cdef bint blocks = HEADROOM + length + COPY_SLACK <= BUF_SIZE
        cdef int i
        n = pool.alloc_n(b.idx, n)
        for i in range(n):
            x = b.idx[i]
            pool.init_anno(x, length)
            a = &anno[x]
            a.timestamp = ts
            if blocks:
                copy_blocks(a.data, self.template, length)
            else:
                memcpy(a.data, self.template, length)
        b.n = n
        self.count += <uint64_t>n
        return n

    cdef inline int _quota(self) noexcept:
        cdef int n = self.burst
        if self.limit >= 0 and <int64_t>self.count + n > self.limit:
            n = <int>(self.limit - <int64_t>self.count)
        return n

    cdef int run_task(self, Task task) except -1:
        cdef int n, k
        cdef Batch* b
        if not self.active:
            return 0
        if not self.nonfull.is_active():
            return 0          # a listener of the full notifiers: woken when there is room
        n = self._quota()
        if n <= 0:
            self._end()
            return 0
        while n > 0:
            b = self.pool.batch_get()
            k = self._fill(b, BATCH_MAX if n > BATCH_MAX else n)
            if k:
                try:
                    self.output_push(0, b)
                finally:
                    self.pool.batch_put(b)
            else:
                self.pool.batch_put(b)
                break         # pool exhausted (counted): retry on the next run
            n -= k
        task.reschedule()
        return 1

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef int n
        if not self.active:
            return 0
        n = self._quota()
        if n <= 0:
            self._end()
            return 0
        self._fill(b, min(n, max))
        return b.n

    cdef int _end(self) except -1:
        if self.ended:
            return 0
        self.ended = True
        self.notifier.sleep()
        if self.stop:
            self.please_stop()
        elif self.end_call is not None:
            target, _, value = self.end_call.strip().partition(" ")
            self.router.write(target, value)
        return 0

    def _restart(self):
        self.ended = False
        if self.active:
            self.notifier.wake()
            if self.task is not None:
                self.task.schedule()

    def _write_active(self, value):
        self.active = BOOL(value)
        if self.active:
            self._restart()
        else:
            self.notifier.sleep()

    def _write_reset(self, value):
        self.count = 0
        self._restart()

    def _write_limit(self, value):
        self.limit = INT(value)
        self._restart()

    def _write_burst(self, value):
        burst = INT(value)
        if burst < 1:
            raise HandlerError("burst must be at least 1")
        self.burst = burst

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_write_handler("reset", self._write_reset)
        self.add_read_handler("data", lambda: self.data)
        self.add_write_handler("data", lambda v: self._set_data(DATA(v), -1))
        self.add_read_handler("length", lambda: self.length)
        self.add_write_handler("length", lambda v: self._set_data(self.data, INT(v)))
        self.add_read_handler("limit", lambda: self.limit)
        self.add_write_handler("limit", self._write_limit)
        self.add_read_handler("burst", lambda: self.burst)
        self.add_write_handler("burst", self._write_burst)
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", self._write_active)
