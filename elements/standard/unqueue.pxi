# EXPORT_ELEMENT Unqueue

cdef class Unqueue(Element):
    """Unqueue([BURST, KEYWORDS])

    Pulls packets and pushes them out.

    Ports: 1 input, 1 output.
    Processing: pull input, push output.

    Whenever scheduled, pulls up to BURST packets from its input and pushes
    them out. Sleeps while the upstream queues are empty (their empty
    notifiers wake it).

    Keywords:
      BURST   Integer. Packets per scheduling; negative means no limit
              beyond what the input has; 0 pulls nothing (default 1).
      ACTIVE  Boolean. Pull packets (default true).
      LIMIT   Integer. Pull at most LIMIT packets in all; negative means
              no limit (default -1).

    Handlers:
      count (read)          packets pushed
      reset (write)         set count to 0 (LIMIT more packets may follow)
      reset_counts (write)  same as reset
      burst (read/write)    BURST
      active (read/write)   ACTIVE
      limit (read/write)    LIMIT
    """

    port_count = "1/1"
    processing = "l/h"

    cdef int burst_config
    cdef int burst
    cdef readonly bint active
    cdef readonly int64_t limit
    cdef readonly uint64_t count
    cdef Task task
    cdef NotifierSignal signal

    def configure(self, args):
        self._set_burst(args.read_p("BURST", INT, 1))
        self.active = args.read("ACTIVE", BOOL, True)
        self.limit = args.read("LIMIT", INT64, -1)
        if self.burst_config == 0:
            self.warn("BURST size 0, no packets will be pulled")

    def _set_burst(self, int burst):
        self.burst_config = burst
        self.burst = burst if burst >= 0 else 0x7FFFFFFF

    def initialize(self):
        self.task = self.add_task(self.active)
        self.signal = self.upstream_empty_signal(0)
        self.signal.add_listener(self.task)

    cdef int run_task(self, Task task) except -1:
        cdef int left = self.burst, want, got = 0
        cdef Batch* b
        if not self.active:
            return 0
        if self.limit >= 0:
            if <int64_t>self.count >= self.limit:
                return 0
            if self.limit - <int64_t>self.count < left:
                left = <int>(self.limit - <int64_t>self.count)
        while left > 0:
            want = BATCH_MAX if left > BATCH_MAX else left
            b = self.pool.batch_get()
            try:
                if not self.input_pull(0, b, want):
                    break
                left -= b.n
                got += b.n
                self.count += b.n
                self.output_push(0, b)
            finally:
                self.pool.batch_put(b)
        if got or self.signal.is_active():
            task.reschedule()
        return got

    def _wake(self):
        if self.active and (self.limit < 0 or <int64_t>self.count < self.limit):
            self.task.schedule()

    def _write_active(self, value):
        self.active = BOOL(value.strip())
        self._wake()

    def _write_burst(self, value):
        self._set_burst(INT(value.strip()))
        self._wake()

    def _write_limit(self, value):
        self.limit = INT64(value.strip())
        self._wake()

    def _reset(self, value=""):
        self.count = 0
        self._wake()

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_write_handler("reset", self._reset)
        self.add_write_handler("reset_counts", self._reset)
        self.add_read_handler("burst", lambda: self.burst_config)
        self.add_write_handler("burst", self._write_burst)
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", self._write_active)
        self.add_read_handler("limit", lambda: self.limit)
        self.add_write_handler("limit", self._write_limit)
