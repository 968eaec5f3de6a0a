# EXPORT_ELEMENT RoundRobinSched

cdef class RoundRobinSched(Element):
    """RoundRobinSched

    Pulls from its inputs in turn.

    Ports: any number of inputs, 1 output.
    Processing: pull.

    Each pull takes packets from the inputs in round-robin order, starting
    after the input that last produced packets: a pull of up to N packets
    takes at most N divided by the number of inputs (at least 1) from each
    input in turn, going round until it has N packets or a full round
    brings nothing. So backlogged inputs share the output equally.

    Inputs usually come from Queues or other pull schedulers. It skips
    inputs whose upstream notifiers say they are empty, and passes its
    inputs' notifiers on: a puller downstream sleeps while all inputs are
    empty.

    Example:
      q1 :: Queue;  q2 :: Queue;  rr :: RoundRobinSched;
      q1 -> [0] rr;  q2 -> [1] rr;  rr -> ToDevice(eth0);
    """

    port_count = "-/1"
    processing = "l/l"

    cdef int next_input
    cdef SignalArray signals

    def initialize(self):
        self.signals = upstream_signals(self)

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef int n = self.ninputs, i = self.next_input, tried = 0, share
        cdef Batch* part
        if n == 0:
            return 0
        share = max // n if max >= n else 1
        part = self.pool.batch_get()
        try:
            while <int>b.n < max and tried < n:
                if i >= n:
                    i = 0
                if self.signals.active(i):
                    part.n = 0
                    self.input_pull(i, part, share if share < max - <int>b.n else max - <int>b.n)
                    if part.n:
                        memcpy(&b.idx[b.n], part.idx, part.n * sizeof(uint32_t))
                        b.n += part.n
                        tried = 0
                        i += 1
                        self.next_input = i
                        continue
                tried += 1
                i += 1
        finally:
            self.pool.batch_put(part)
        return b.n
