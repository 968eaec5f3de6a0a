# EXPORT_ELEMENT RatedUnqueue

cdef class RatedUnqueue(Element):
    """RatedUnqueue(RATE, [KEYWORDS])

    Pulls packets at a given rate and pushes them out.

    Ports: 1 input, 1 output.
    Processing: pull input, push output.

    Pulls packets at RATE packets per second and pushes them out its
    output. The rate is kept by a token bucket holding 20 ms of tokens
    unless BURST_DURATION or BURST_SIZE say otherwise; the bucket starts
    full. While the bucket is empty a timer wakes the element when the next
    token is due; while the upstream queues are empty their notifiers wake it.

    Keywords:
      RATE            Unsigned. Packets per second.
      BURST_DURATION  Time. The bucket holds RATE * BURST_DURATION tokens.
      BURST_SIZE      Unsigned. The bucket holds this many tokens.
      ACTIVE          Boolean. Pull packets (default true).

    Handlers:
      rate (read/write)    RATE
      active (read/write)  ACTIVE
      count (read)         packets pushed
      calls (read)         task statistics: runs, empty runs, pushes, failed pulls

    Example:
      ... -> Queue -> RatedUnqueue(1000) -> ...
    """

    port_count = "1/1"
    processing = "l/h"

    cdef TokenBucket tb
    cdef readonly uint64_t rate
    cdef double burst_ns            # bucket size as a duration (0: fixed size)
    cdef readonly bint active
    cdef readonly uint64_t count
    cdef uint64_t runs, empty_runs, pushes, failed_pulls
    cdef uint32_t max_length        # largest packet seen: sizes byte-rated pulls
    cdef Task task
    cdef Timer timer
    cdef NotifierSignal signal

    cdef bint is_bandwidth(self):
        return False

    def configure(self, args):
        rate = args.read_mp("RATE", BANDWIDTH if self.is_bandwidth() else UINT)
        duration = args.read("BURST_DURATION", NSECONDS, None)
        size_keyword = "BURST_BYTES" if self.is_bandwidth() else "BURST_SIZE"
        size = args.read(size_keyword, UINT, None)
        self.active = args.read("ACTIVE", BOOL, True)
        if duration is not None and size is not None:
            raise self.error(f"cannot specify both BURST_DURATION and {size_keyword}")
        if size is not None:
            self.burst_ns = 0
            capacity = size
        else:
            self.burst_ns = 20e6 if duration is None else duration
            capacity = rate * self.burst_ns / 1e9
        self.rate = rate
        tb_assign(&self.tb, rate, max(capacity, 1.0), max(capacity, 1.0))
        self.max_length = 64

    def initialize(self):
        self.task = self.add_task(self.active)
        self.timer = self.add_timer()
        self.signal = self.upstream_empty_signal(0)
        self.signal.add_listener(self.task)

    cdef int _want(self) noexcept:
        """Packets to pull now, from the tokens (the bucket is refilled)."""
        cdef double n
        tb_refill(&self.tb, rate_now())
        n = self.tb.tokens
        return BATCH_MAX if n >= BATCH_MAX else (<int>n if n >= 1 else 0)

    cdef double _cost(self, Batch* b) noexcept:
        return b.n

    cdef int run_task(self, Task task) except -1:
        cdef int want
        cdef uint64_t wait
        cdef Batch* b
        self.runs += 1
        if not self.active:
            return 0
        want = self._want()
        if want == 0:
            self.empty_runs += 1
            wait = tb_wait_ns(&self.tb, 1)
            if wait != 0xFFFFFFFFFFFFFFFFULL:
                self.timer.schedule_after(wait)
            return 0
        b = self.pool.batch_get()
        try:
            if not self.input_pull(0, b, want):
                self.failed_pulls += 1
                self.empty_runs += 1
                if self.signal.is_active():
                    task.reschedule()
                return 0           # else the upstream notifiers wake us
            self.tb.tokens -= self._cost(b)
            self.pushes += b.n
            self.count += b.n
            self.output_push(0, b)
        finally:
            self.pool.batch_put(b)
        task.reschedule()
        return 1

    cdef int run_timer(self, Timer timer) except -1:
        self.task.reschedule()
        return 0

    def _write_rate(self, value):
        rate = (BANDWIDTH if self.is_bandwidth() else UINT)(value.strip())
        capacity = self.tb.capacity if self.burst_ns == 0 else max(rate * self.burst_ns / 1e9, 1.0)
        tokens = self.tb.tokens
        tb_assign(&self.tb, rate, capacity, min(tokens, capacity))
        self.rate = rate
        self.task.schedule()

    def _write_active(self, value):
        self.active = BOOL(value.strip())
        if self.active:
            self.task.schedule()

    def _calls(self):
        return (f"{self.runs} calls to run_task()\n{self.empty_runs} empty runs\n"
                f"{self.pushes} pushes\n{self.failed_pulls} failed pulls\n")

    def add_handlers(self):
        self.add_read_handler("rate", lambda: self.rate)
        self.add_write_handler("rate", self._write_rate)
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", self._write_active)
        self.add_read_handler("count", lambda: self.count)
        self.add_read_handler("calls", self._calls)
