# EXPORT_ELEMENT CheckLength

cdef class CheckLength(Element):
    """CheckLength(LENGTH)

    Drops large packets.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic input and output 0, push output 1.

    Checks every packet's length against LENGTH. A packet no longer than
    LENGTH goes out output 0; a longer one goes out output 1, or is
    dropped if it is not connected.

    Handlers:
      length (read/write)  LENGTH

    Example:
      ... -> CheckLength(1500) -> ...
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef public uint32_t length

    def configure(self, args):
        self.length = args.read_mp("LENGTH", UINT)

    cdef int _split(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Batch* longer = self.pool.batch_get()
        cdef uint32_t i, k = 0
        try:
            for i in range(b.n):
                if anno[b.idx[i]].len <= self.length:
                    b.idx[k] = b.idx[i]
                    k += 1
                else:
                    longer.idx[longer.n] = b.idx[i]
                    longer.n += 1
            b.n = k
            self.emit_or_free(1, longer)
        finally:
            self.pool.batch_put(longer)
        return 0

    cdef int push(self, int port, Batch* b) except -1:
        self._split(b)
        if b.n:
            return self.output_push(0, b)
        return 0

    cdef int pull(self, int port, Batch* b, int max) except -1:
        if self.input_pull(0, b, max):
            self._split(b)
        return b.n

    def add_handlers(self):
        self.add_read_handler("length", lambda: self.length)
        self.add_write_handler("length", lambda v: setattr(self, "length", UINT(v.strip())))
