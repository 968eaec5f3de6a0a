# EXPORT_ELEMENT EtherEncap

cdef class EtherEncap(Element):
    """EtherEncap(ETHERTYPE, SRC, DST)

    Encapsulates packets in an Ethernet header.

    Ports: 1 input, 1 output. Processing: agnostic.

    Prepends a 14-byte Ethernet header with destination DST, source SRC and
    type ETHERTYPE (a number such as 0x0800) to each packet, and sets the MAC
    header annotation. A packet that cannot grow is dropped (counted; the
    pool's headroom failures). For IP packets you probably want ARPQuerier.

    Handlers:
      src, dst (read/write)   the addresses
      ethertype (read/write)  the type, a number
      drops (read)            packets dropped

    Example:
      EtherEncap(0x0800, 1:1:1:1:1:1, 2:2:2:2:2:2)
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint8_t header[ETHER_HEADER_LEN]
    cdef readonly uint64_t drops

    def configure(self, args):
        ethertype = args.read_mp("ETHERTYPE", Int(0, 0xFFFF))
        src = args.read_mp("SRC", ETHERADDR)
        dst = args.read_mp("DST", ETHERADDR)
        self._set(dst, src, ethertype)

    def _set(self, bytes dst, bytes src, int ethertype):
        memcpy(self.header, <const uint8_t*>dst, 6)
        memcpy(&self.header[6], <const uint8_t*>src, 6)
        store_be16(&self.header[12], ethertype)

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef uint32_t i, x, nfail = 0
        cdef uint32_t at[256]           # positions of the packets that could not grow
        cdef uint32_t failed[256]
        cdef Anno* a
        cdef uint8_t* p
        cdef uint64_t head, tail        # the header's bytes 0-7 and 6-13, in locals for the loop
        memcpy(&head, self.header, 8)
        memcpy(&tail, &self.header[6], 8)
        for i in range(b.n):
            x = b.idx[i]
            p = pool.push(x, ETHER_HEADER_LEN)
            if p == NULL:
                at[nfail] = i
                nfail += 1
                continue
            memcpy(p, &head, 8)
            memcpy(p + 6, &tail, 8)
            a = &anno[x]
            a.mac_off = <int32_t>a.headroom
        if nfail:
            take_out(b, at, nfail, failed)
            for i in range(nfail):
                pool.free(failed[i])
            self.drops += nfail
        return 0

    def _ethertype(self) -> int:
        return load_be16(&self.header[12])

    def add_handlers(self):
        h = lambda: bytes(self.header[:ETHER_HEADER_LEN])
        self.add_read_handler("dst", lambda: unparse_ether(h()[0:6]))
        self.add_read_handler("src", lambda: unparse_ether(h()[6:12]))
        self.add_read_handler("ethertype", lambda: f"0x{self._ethertype():04X}")
        self.add_read_handler("drops", lambda: self.drops)
        self.add_write_handler("dst", lambda v: self._set(ETHERADDR(v.strip()), h()[6:12], self._ethertype()))
        self.add_write_handler("src", lambda v: self._set(h()[0:6], ETHERADDR(v.strip()), self._ethertype()))
        self.add_write_handler("ethertype", lambda v: self._set(h()[0:6], h()[6:12], Int(0, 0xFFFF)(v.strip())))
