# EXPORT_ELEMENT PrioSched

cdef class PrioSched(Element):
    """PrioSched

    Pulls from priority-scheduled inputs.

    Ports: any number of inputs, 1 output.
    Processing: pull.

    Each pull takes packets from input 0 first, then input 1, and so on: a
    strict priority scheduler. A pull of up to N packets takes what input 0
    has, fills the rest from input 1, and so on.

    Inputs usually come from Queues or other pull schedulers. It skips
    inputs whose upstream notifiers say they are empty, and passes its
    inputs' notifiers on: a puller downstream sleeps while all inputs are
    empty.

    Example:
      high :: Queue;  low :: Queue;  ps :: PrioSched;
      high -> [0] ps;  low -> [1] ps;  ps -> ToDevice(eth0);
    """

    port_count = "-/1"
    processing = "l/l"

    cdef SignalArray signals

    def initialize(self):
        self.signals = upstream_signals(self)

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef int i
        cdef Batch* part
        if self.ninputs == 0:
            return 0
        if self.signals.active(0):
            self.input_pull(0, b, max)
        if <int>b.n == max or self.ninputs == 1:
            return b.n
        part = self.pool.batch_get()
        try:
            for i in range(1, self.ninputs):
                if <int>b.n == max:
                    break
                if self.signals.active(i):
                    part.n = 0
                    if self.input_pull(i, part, max - <int>b.n):
                        memcpy(&b.idx[b.n], part.idx, part.n * sizeof(uint32_t))
                        b.n += part.n
        finally:
            self.pool.batch_put(part)
        return b.n
