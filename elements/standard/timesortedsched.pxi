# EXPORT_ELEMENT TimeSortedSched

cdef class TimeSortedSched(Element):
    """TimeSortedSched([KEYWORDS])

    Merges sorted packet streams by timestamp.

    Ports: any number of inputs, 1 output.
    Processing: pull.

    Responds to pulls with the chronologically next packets of its inputs,
    by timestamp annotation. It expects each input stream to arrive sorted
    by timestamp; up to BUFFER packets per input are held so that minor
    reordering within an input is repaired. If an input is out of order
    beyond that, packets leave out of order and the well_ordered handler
    turns false.

    It skips inputs whose upstream notifiers say they are empty and passes
    its inputs' notifiers on, so a puller downstream sleeps while every
    input is empty (it never sleeps while packets are buffered here: a
    pull that finds none buffered also finds the inputs empty).

    Keywords:
      STOP    Boolean. Stop the driver when no packets are available and the
              upstream notifiers say none will come soon (default false).
      BUFFER  Integer >= 1. Packets buffered per input (default 1).

    Handlers:
      well_ordered (read)  false if packets ever left out of timestamp order

    Example:
      tss :: TimeSortedSched(STOP true);
      FromDump(a.pcap) -> [0] tss;  FromDump(b.pcap) -> [1] tss;
      tss -> ToDump(merged.pcap);
    """

    port_count = "-/1"
    processing = "l/l"

    cdef readonly bint stop
    cdef readonly int buffer
    cdef readonly bint well_ordered
    cdef bint voted_stop
    cdef uint64_t last_emitted
    cdef SignalArray signals
    # a binary min-heap of buffered packets on (timestamp, arrival order)
    cdef uint32_t* heap_idx
    cdef uint64_t* heap_key
    cdef uint64_t* heap_seq
    cdef int* heap_input
    cdef int nheap
    cdef uint64_t seq
    cdef int* space                  # free buffer slots per input

    def __dealloc__(self):
        c_free(self.heap_idx)
        c_free(self.heap_key)
        c_free(self.heap_seq)
        c_free(self.heap_input)
        c_free(self.space)

    def configure(self, args):
        self.stop = args.read("STOP", BOOL, False)
        self.buffer = args.read("BUFFER", INT, 1)
        if self.buffer <= 0:
            raise self.error("BUFFER must be at least 1")
        self.well_ordered = True

    def initialize(self):
        cdef int total = max(self.ninputs * self.buffer, 1)
        self.heap_idx = <uint32_t*>malloc(total * sizeof(uint32_t))
        self.heap_key = <uint64_t*>malloc(total * sizeof(uint64_t))
        self.heap_seq = <uint64_t*>malloc(total * sizeof(uint64_t))
        self.heap_input = <int*>malloc(total * sizeof(int))
        self.space = <int*>malloc(max(self.ninputs, 1) * sizeof(int))
        if (self.heap_idx == NULL or self.heap_key == NULL or self.heap_seq == NULL
                or self.heap_input == NULL or self.space == NULL):
            raise MemoryError()
        for i in range(self.ninputs):
            self.space[i] = self.buffer
        self.signals = upstream_signals(self)

    cdef inline bint _less(self, int a, int b) noexcept:
        return (self.heap_key[a] < self.heap_key[b]
                or (self.heap_key[a] == self.heap_key[b] and self.heap_seq[a] < self.heap_seq[b]))

    cdef inline void _swap(self, int a, int b) noexcept:
        self.heap_idx[a], self.heap_idx[b] = self.heap_idx[b], self.heap_idx[a]
        self.heap_key[a], self.heap_key[b] = self.heap_key[b], self.heap_key[a]
        self.heap_seq[a], self.heap_seq[b] = self.heap_seq[b], self.heap_seq[a]
        self.heap_input[a], self.heap_input[b] = self.heap_input[b], self.heap_input[a]

    cdef void _heap_push(self, uint32_t x, int input) noexcept:
        cdef int i = self.nheap, parent
        self.heap_idx[i] = x
        self.heap_key[i] = self.pool.anno[x].timestamp
        self.heap_seq[i] = self.seq
        self.heap_input[i] = input
        self.seq += 1
        self.nheap += 1
        while i > 0:
            parent = (i - 1) >> 1
            if not self._less(i, parent):
                break
            self._swap(i, parent)
            i = parent

    cdef void _heap_pop(self) noexcept:
        cdef int i = 0, child
        self.nheap -= 1
        if self.nheap == 0:
            return
        self._swap(0, self.nheap)
        while True:
            child = 2 * i + 1
            if child >= self.nheap:
                break
            if child + 1 < self.nheap and self._less(child + 1, child):
                child += 1
            if not self._less(child, i):
                break
            self._swap(i, child)
            i = child

    cdef bint _refill(self, Batch* part) except -1:
        """Fill every input's free slots; true if any input's signal is active."""
        cdef int i
        cdef uint32_t j
        cdef bint signals_on = False
        for i in range(self.ninputs):
            if self.space[i] > 0 and self.signals.active(i):
                signals_on = True
                part.n = 0
                self.input_pull(i, part, self.space[i] if self.space[i] < BATCH_MAX else BATCH_MAX)
                for j in range(part.n):
                    self._heap_push(part.idx[j], i)
                self.space[i] -= part.n
            elif self.space[i] == 0:
                signals_on = True      # a full buffer: the input still has packets for us
        return signals_on

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef Batch* part = self.pool.batch_get()
        cdef bint signals_on = False
        cdef uint32_t x
        cdef uint64_t ts
        try:
            while <int>b.n < max:
                signals_on = self._refill(part)
                if self.nheap == 0:
                    break
                x = self.heap_idx[0]
                ts = self.heap_key[0]
                self.space[self.heap_input[0]] += 1
                self._heap_pop()
                if ts:
                    if self.last_emitted and ts < self.last_emitted:
                        self.well_ordered = False
                    self.last_emitted = ts
                b.idx[b.n] = x
                b.n += 1
        finally:
            self.pool.batch_put(part)
        if b.n == 0 and self.stop and not signals_on and not self.voted_stop:
            self.voted_stop = True
            self.please_stop()
        return b.n

    def cleanup(self):
        cdef int i
        if self.pool is not None:
            for i in range(self.nheap):
                self.pool.free(self.heap_idx[i])
        self.nheap = 0

    def add_handlers(self):
        self.add_read_handler("well_ordered", lambda: self.well_ordered)
