# EXPORT_ELEMENT CheckPaint

cdef class CheckPaint(Element):
    """CheckPaint(COLOR, [ANNO])

    Checks packets' paint annotation.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic input and output 0, push output 1.

    Packets whose paint annotation (or the one-byte annotation ANNO) equals
    COLOR go out output 0; the others go out output 1, or are dropped if
    it is not connected.

    Keywords:
      COLOR  Integer 0..255.
      ANNO   Annotation. The byte to compare (default PAINT).

    Handlers:
      color (read/write)  COLOR
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef public uint8_t color
    cdef uint32_t anno

    def configure(self, args):
        self.color = args.read_mp("COLOR", COLOR)
        self.anno = args.read_p("ANNO", AnnoArg(1), PAINT_ANNO)

    cdef int _split(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Batch* other = self.pool.batch_get()
        cdef uint32_t i, k = 0
        try:
            for i in range(b.n):
                if anno[b.idx[i]].user[self.anno] == self.color:
                    b.idx[k] = b.idx[i]
                    k += 1
                else:
                    other.idx[other.n] = b.idx[i]
                    other.n += 1
            b.n = k
            self.emit_or_free(1, other)
        finally:
            self.pool.batch_put(other)
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
        self.add_read_handler("color", lambda: self.color)
        self.add_write_handler("color", lambda v: setattr(self, "color", COLOR(v.strip())))
