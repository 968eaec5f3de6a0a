# EXPORT_ELEMENT Paint

cdef class Paint(Element):
    """Paint(COLOR, [ANNO])

    Sets packets' paint annotation.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Sets each packet's paint annotation to COLOR, an integer 0..255. ANNO
    names another one-byte annotation to set instead (a name such as
    PAINT, or a byte offset 0..47).

    Keywords:
      COLOR  Integer 0..255.
      ANNO   Annotation. The byte to set (default PAINT).

    Handlers:
      color (read/write)  COLOR

    Example:
      FromDevice(eth0) -> Paint(1) -> ...
    """

    port_count = "1/1"
    processing = "a/a"

    cdef public uint8_t color
    cdef uint32_t anno

    def configure(self, args):
        self.color = args.read_mp("COLOR", COLOR)
        self.anno = args.read_p("ANNO", AnnoArg(1), PAINT_ANNO)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef uint32_t i
        for i in range(b.n):
            anno[b.idx[i]].user[self.anno] = self.color
        return 0

    def add_handlers(self):
        self.add_read_handler("color", lambda: self.color)
        self.add_write_handler("color", lambda v: setattr(self, "color", COLOR(v.strip())))
