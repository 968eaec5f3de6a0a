# EXPORT_ELEMENT Discard

cdef class Discard(Element):
    """Discard([KEYWORDS])

    Drops all packets.

    Ports: 1 input, no outputs.
    Processing: agnostic. On a pull input a task pulls up to BURST packets
    whenever the upstream has any (it sleeps on the upstream empty
    notifiers, such as a Queue's).

    Keywords:
      ACTIVE  Boolean. Pull packets; only meaningful on a pull input, an
              error on a push input (default true).
      BURST   Unsigned. Packets pulled per scheduling, 0 for no limit (default 1).

    Handlers:
      count (read)          packets discarded
      reset_counts (write)  set count to 0
      active (read/write)   ACTIVE (pull input only)
    """

    port_count = "1/0"
    processing = "a/a"

    cdef readonly uint64_t count
    cdef bint active
    cdef uint32_t burst
    cdef Task task
    cdef NotifierSignal signal

    def configure(self, args):
        self.active = args.read("ACTIVE", BOOL, True)
        burst = args.read("BURST", UINT, 1)
        if not self.active and self.input_is_push(0):
            raise self.error("ACTIVE is meaningless in push context")
        self.burst = burst if burst else 0xFFFFFFFF

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
        cdef uint32_t left = self.burst, got = 0
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
        self.active = BOOL(value.strip())
        if self.active:
            self.task.schedule()
        else:
            self.task.unschedule_()

    def _reset(self, value=""):
        self.count = 0

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_write_handler("reset_counts", self._reset)
        if self.task is not None:
            self.add_read_handler("active", lambda: self.active)
            self.add_write_handler("active", self._write_active)
