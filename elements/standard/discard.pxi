# EXPORT_ELEMENT Discard

cdef class Discard(Element):
    """Discard([KEYWORDS])

    Drops all packets.

    Ports: 1 input, no outputs. Processing: agnostic. On a pull input a
    task pulls BURST packets whenever the upstream has any (it sleeps on
    the upstream empty notifiers).

    Keywords:
      ACTIVE  Boolean. Pull packets (pull input only; default true).
      BURST   Integer. Packets pulled per scheduling (default 256).

    Handlers:
      count (read)         packets discarded
      reset_counts (write) set count to 0
      active (read/write)  ACTIVE
    """

    port_count = "1/0"
    processing = "a/a"

    cdef readonly uint64_t count
    cdef bint active
    cdef int burst
    cdef Task task
    cdef NotifierSignal signal

    def configure(self, args):
        self.active = args.read("ACTIVE", BOOL, True)
        self.burst = args.read("BURST", INT, 256)
        if self.burst < 1:
            raise self.error("BURST must be at least 1")

    def initialize(self):
        if self.input_is_pull(0):
            self.task = self.add_task(self.active)
            self.signal = self.upstream_empty_signal(0)
            self.signal.add_listener(self.task)

    cdef int push(self, int port, Batch* b) except -1:
        self.count += b.n
        self.pool.free_batch(b)
        return 0

    cdef int run_task(self, Task task) except -1:
        cdef Batch* b
        cdef int left = self.burst, got = 0
        if not self.active:
            return 0
        b = self.pool.batch_get()
        try:
            while left > 0:
                if not self.input_pull(0, b, BATCH_MAX if left > BATCH_MAX else left):
                    break
                left -= b.n
                got += b.n
                self.count += b.n
                self.pool.free_batch(b)
        finally:
            self.pool.batch_put(b)
        if got or self.signal.is_active():
            task.reschedule()
        return got

    def _write_active(self, value):
        self.active = BOOL(value)
        if self.active and self.task is not None:
            self.task.schedule()

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_write_handler("reset_counts", lambda v: self._reset())
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", self._write_active)

    def _reset(self):
        self.count = 0
