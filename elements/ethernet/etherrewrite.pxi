# EXPORT_ELEMENT EtherRewrite

cdef class EtherRewrite(Element):
    """EtherRewrite(SRC, DST)

    Rewrites the source and destination Ethernet addresses.

    Ports: 1 input, 1 output. Processing: agnostic.

    Sets the first 12 bytes of each packet (its Ethernet header) to DST and
    SRC, leaving the type alone. Packets shorter than an Ethernet header are
    dropped (counted).

    Handlers:
      src, dst (read/write)  the addresses
      drops (read)           short packets dropped

    Example:
      EtherRewrite(1:1:1:1:1:1, 2:2:2:2:2:2)
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint8_t addrs[12]
    cdef readonly uint64_t drops

    def configure(self, args):
        src = args.read_mp("SRC", ETHERADDR)
        dst = args.read_mp("DST", ETHERADDR)
        self._set(dst, src)

    def _set(self, bytes dst, bytes src):
        memcpy(self.addrs, <const uint8_t*>dst, 6)
        memcpy(&self.addrs[6], <const uint8_t*>src, 6)

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef uint32_t i, k = 0, x
        for i in range(b.n):
            x = b.idx[i]
            if anno[x].len < ETHER_HEADER_LEN:
                pool.free(x)
                self.drops += 1
                continue
            memcpy(anno[x].data, self.addrs, 12)
            b.idx[k] = x
            k += 1
        b.n = k
        return 0

    def add_handlers(self):
        a = lambda: bytes(self.addrs[:12])
        self.add_read_handler("dst", lambda: unparse_ether(a()[0:6]))
        self.add_read_handler("src", lambda: unparse_ether(a()[6:12]))
        self.add_read_handler("drops", lambda: self.drops)
        self.add_write_handler("dst", lambda v: self._set(ETHERADDR(v.strip()), a()[6:12]))
        self.add_write_handler("src", lambda v: self._set(a()[0:6], ETHERADDR(v.strip())))
