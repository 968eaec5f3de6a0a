# EXPORT_ELEMENT Truncate

cdef class Truncate(Element):
    """Truncate(LENGTH, [KEYWORDS])

    Limits packet length.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Shortens packets to at most LENGTH bytes, removing bytes from the end.

    Keywords:
      LENGTH        Unsigned. The longest packet let through.
      EXTRA_LENGTH  Boolean. Add the bytes removed to the packet's extra
                    length annotation (EXTRA_LENGTH_ANNO) (default true).

    Handlers:
      length (read/write)        LENGTH
      extra_length (read/write)  EXTRA_LENGTH

    Example:
      ... -> Truncate(1500) -> ...
    """

    port_count = "1/1"
    processing = "a/a"

    cdef public uint32_t length
    cdef public bint extra_length

    def configure(self, args):
        self.length = args.read_mp("LENGTH", UINT)
        self.extra_length = args.read("EXTRA_LENGTH", BOOL, True)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint32_t i, cut, extra
        for i in range(b.n):
            a = &anno[b.idx[i]]
            if a.len > self.length:
                cut = a.len - self.length
                a.len = self.length
                if self.extra_length:
                    memcpy(&extra, &a.user[EXTRA_LENGTH_ANNO], 4)
                    extra += cut
                    memcpy(&a.user[EXTRA_LENGTH_ANNO], &extra, 4)
        return 0

    def add_handlers(self):
        self.add_read_handler("length", lambda: self.length)
        self.add_write_handler("length", lambda v: setattr(self, "length", UINT(v.strip())))
        self.add_read_handler("extra_length", lambda: self.extra_length)
        self.add_write_handler("extra_length", lambda v: setattr(self, "extra_length", BOOL(v.strip())))
