# EXPORT_ELEMENT PullTee

cdef class PullTee(Element):
    """PullTee([N])

    Duplicates pulled packets.

    Ports: 1 input, 1 or more outputs.
    Processing: pull input, pull output 0, push outputs 1 and up.

    Each time output 0 pulls packets, PullTee returns them and pushes a
    copy of each out every other output. PullTee has as many outputs as
    the configuration uses; N, if given, must equal that number.
    """

    port_count = "1/1-"
    processing = "l/lh"

    def configure(self, args):
        n = args.read_p("N", UINT, self.noutputs)
        if n != self.noutputs:
            raise self.error(f"{self.noutputs} outputs implies {self.noutputs} arms")

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef int i = 1
        cdef Batch* copy
        if not self.input_pull(0, b, max):
            return 0
        while i < self.noutputs:            # once per output, not per packet
            copy = self.pool.batch_get()
            try:
                if clone_batch(self.pool, b, copy):
                    self.output_push(i, copy)
            finally:
                self.pool.batch_put(copy)
            i += 1
        return b.n
