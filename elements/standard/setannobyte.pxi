# EXPORT_ELEMENT SetAnnoByte

cdef class SetAnnoByte(Element):
    """SetAnnoByte(ANNO, VALUE)

    Sets a byte of packets' user annotations.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Sets each packet's user annotation byte ANNO to VALUE, an integer
    0..255. ANNO is a byte offset 0..47 or the name of a one-byte
    annotation such as PAINT.

    Handlers:
      anno (read)          ANNO as a byte offset
      value (read/write)   VALUE

    Example:
      ... -> SetAnnoByte(PAINT, 3) -> ...
    """

    port_count = "1/1"
    processing = "a/a"

    cdef readonly uint32_t anno
    cdef public uint8_t value

    def configure(self, args):
        self.anno = args.read_mp("ANNO", AnnoArg(1))
        self.value = args.read_mp("VALUE", COLOR)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef uint32_t i
        for i in range(b.n):
            anno[b.idx[i]].user[self.anno] = self.value
        return 0

    def add_handlers(self):
        self.add_read_handler("anno", lambda: self.anno)
        self.add_read_handler("value", lambda: self.value)
        self.add_write_handler("value", lambda v: setattr(self, "value", COLOR(v.strip())))
