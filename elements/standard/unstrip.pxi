# EXPORT_ELEMENT Unstrip

cdef class Unstrip(Element):
    """Unstrip(N)

    Puts bytes back at the front of packets.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Puts N bytes at the front of each packet: the bytes already in the
    buffer before the data, such as those a Strip removed. If the buffer
    cannot hold N more bytes the packet is dropped (counted by the pool's
    headroom_failures and the drops handler).

    Handlers:
      length (read/write)  N
      drops (read)         packets dropped for lack of room

    Example:
      Strip(14) -> ... -> Unstrip(14)
    """

    port_count = "1/1"
    processing = "a/a"

    cdef public uint32_t nbytes
    cdef readonly uint64_t drops

    def configure(self, args):
        self.nbytes = args.read_mp("N", UINT)

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint32_t i, k, x
        cdef uint32_t nbytes = self.nbytes   # a local: stores to annotations might alias the field
        # the common case, every packet with the headroom, without compacting b
        for i in range(b.n):
            a = &anno[b.idx[i]]
            if nbytes > a.headroom:
                break
            a.data -= nbytes
            a.headroom -= nbytes
            a.len += nbytes
        else:
            return 0
        k = i
        for i in range(i, b.n):
            x = b.idx[i]
            if pool.push(x, nbytes) == NULL:
                pool.free(x)
                self.drops += 1
            else:
                b.idx[k] = x
                k += 1
        b.n = k
        return 0

    def add_handlers(self):
        self.add_read_handler("length", lambda: self.nbytes)
        self.add_write_handler("length", lambda v: setattr(self, "nbytes", UINT(v.strip())))
        self.add_read_handler("drops", lambda: self.drops)
