# EXPORT_ELEMENT Strip

cdef class Strip(Element):
    """Strip(N)

    Strips bytes from the front of packets.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Deletes the first N bytes from each packet (all of a shorter packet's
    bytes, as Click does). The bytes stay in the buffer's headroom, so
    Unstrip can put them back.

    Handlers:
      length (read/write)  N

    Example:
      Strip(14)   // remove the Ethernet header
    """

    port_count = "1/1"
    processing = "a/a"

    cdef public uint32_t nbytes

    def configure(self, args):
        self.nbytes = args.read_mp("N", UINT)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint32_t i, n
        cdef uint32_t nbytes = self.nbytes   # a local: stores to annotations might alias the field
        for i in range(b.n):
            a = &anno[b.idx[i]]
            n = nbytes if nbytes < a.len else a.len
            a.data += n
            a.headroom += n
            a.len -= n
        return 0

    def add_handlers(self):
        self.add_read_handler("length", lambda: self.nbytes)
        self.add_write_handler("length", lambda v: setattr(self, "nbytes", UINT(v.strip())))
