# EXPORT_ELEMENT PaintTee

cdef class PaintTee(Element):
    """PaintTee(COLOR, [ANNO])

    Duplicates packets with a given paint annotation.

    Ports: 1 input, 2 outputs.
    Processing: agnostic input and output 0, push output 1.

    Sends every packet out output 0. If a packet's paint annotation (or the
    one-byte annotation ANNO) equals COLOR, a copy also goes out output 1.

    Keywords:
      COLOR  Integer 0..255.
      ANNO   Annotation. The byte to compare (default PAINT).

    Handlers:
      color (read/write)  COLOR

    Example:
      routes[7] -> pt :: PaintTee(7) -> ... -> ToDevice(eth7);
      pt[1] -> ICMPError(18.26.4.24, redirect, host) -> ...;
    """

    port_count = "1/2"
    processing = "a/ah"

    cdef public uint8_t color
    cdef uint32_t anno

    def configure(self, args):
        self.color = args.read_mp("COLOR", COLOR)
        self.anno = args.read_p("ANNO", AnnoArg(1), PAINT_ANNO)

    cdef int _copy_painted(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Batch* copies = self.pool.batch_get()
        cdef uint32_t i, y
        try:
            for i in range(b.n):
                if anno[b.idx[i]].user[self.anno] == self.color:
                    y = self.pool.clone(b.idx[i])
                    if y != NO_PACKET:
                        copies.idx[copies.n] = y
                        copies.n += 1
            if copies.n:
                self.output_push(1, copies)
        finally:
            self.pool.batch_put(copies)
        return 0

    cdef int push(self, int port, Batch* b) except -1:
        self._copy_painted(b)
        return self.output_push(0, b)

    cdef int pull(self, int port, Batch* b, int max) except -1:
        if self.input_pull(0, b, max):
            self._copy_painted(b)
        return b.n

    def add_handlers(self):
        self.add_read_handler("color", lambda: self.color)
        self.add_write_handler("color", lambda v: setattr(self, "color", COLOR(v.strip())))
