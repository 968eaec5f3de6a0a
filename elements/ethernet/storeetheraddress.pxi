# EXPORT_ELEMENT StoreEtherAddress

cdef class StoreEtherAddress(Element):
    """StoreEtherAddress(ADDR, OFFSET)

    Stores an Ethernet address in packets.

    Ports: 1 input, 1 or 2 outputs. Processing: input and output 0
    agnostic, output 1 push.

    Writes ADDR into each packet at byte OFFSET. OFFSET may be `src` or
    `dst` (6 and 0, the address fields of an Ethernet header). A packet too
    short for the address goes to output 1, or is dropped if there is none.

    Handlers:
      addr (read/write)  ADDR
      drops (read)       packets too short (whether dropped or emitted on output 1)

    Example:
      StoreEtherAddress(0:1:2:3:4:5, src)
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef uint8_t addr[6]
    cdef uint32_t offset
    cdef readonly uint64_t drops

    def configure(self, args):
        addr = args.read_mp("ADDR", ETHERADDR)
        offset = args.read_mp("OFFSET", WORD)
        if offset == "src":
            self.offset = 6
        elif offset == "dst":
            self.offset = 0
        else:
            try:
                self.offset = UINT(offset)
            except ValueError:
                raise self.error("OFFSET: expected 'src', 'dst' or an offset") from None
        memcpy(self.addr, <const uint8_t*>addr, 6)

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef uint32_t i, k = 0, x
        cdef Batch* short = pool.batch_get()
        try:
            for i in range(b.n):
                x = b.idx[i]
                if anno[x].len < self.offset + 6 or self.offset + 6 < self.offset:
                    short.idx[short.n] = x
                    short.n += 1
                    continue
                memcpy(anno[x].data + self.offset, self.addr, 6)
                b.idx[k] = x
                k += 1
            b.n = k
            self.drops += short.n
            self.emit_or_free(1, short)
        finally:
            pool.batch_put(short)
        return 0

    def add_handlers(self):
        self.add_read_handler("addr", lambda: unparse_ether(bytes(self.addr[:6])))
        self.add_write_handler("addr", lambda v: self._set_addr(ETHERADDR(v.strip())))
        self.add_read_handler("drops", lambda: self.drops)

    def _set_addr(self, bytes a):
        memcpy(self.addr, <const uint8_t*>a, 6)
