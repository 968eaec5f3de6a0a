# EXPORT_ELEMENT Tee

cdef class Tee(Element):
    """Tee([N])

    Duplicates packets.

    Ports: 1 input, 1 or more outputs.
    Processing: push.

    Sends a copy of each incoming packet out each output: outputs 0 to n-2
    get copies (bytes and annotations, in new buffers), the last output
    gets the original. Tee has as many outputs as the configuration uses;
    N, if given, must equal that number. Copies the pool cannot make are
    counted by the pool and skipped.

    Example:
      ... -> t :: Tee;  t[0] -> Queue -> ...;  t[1] -> Counter -> Discard;
    """

    port_count = "1/1-"
    processing = "h/h"

    def configure(self, args):
        n = args.read_p("N", UINT, self.noutputs)
        if n != self.noutputs:
            raise self.error(f"{self.noutputs} outputs implies {self.noutputs} arms")

    cdef int push(self, int port, Batch* b) except -1:
        cdef int i = 0
        cdef Batch* copy
        while i < self.noutputs - 1:        # once per output, not per packet
            copy = self.pool.batch_get()
            try:
                if clone_batch(self.pool, b, copy):
                    self.output_push(i, copy)
            finally:
                self.pool.batch_put(copy)
            i += 1
        return self.output_push(self.noutputs - 1, b)
