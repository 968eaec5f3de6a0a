# EXPORT_ELEMENT SetIPAddress

cdef class SetIPAddress(Element):
    """SetIPAddress(ADDR [, ANNO])

    Sets the destination IP address annotation.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Sets the destination-IP annotation of every packet to ADDR (or the
    4-byte annotation ANNO).

    Handlers:
      addr (read/write)  ADDR

    Example:
      ... -> SetIPAddress(10.0.0.1) -> arpq :: ARPQuerier(...);
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint8_t addr[4]
    cdef uint32_t anno_offset

    def configure(self, args):
        self._set(args.read_mp("ADDR", IPADDR))
        self.anno_offset = args.read_p("ANNO", AnnoArg(4), DST_IP_ANNO)

    def _set(self, uint32_t addr):
        store_be32(self.addr, addr)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef uint32_t i, where = self.anno_offset
        for i in range(b.n):
            memcpy(&anno[b.idx[i]].user[where], self.addr, 4)
        return 0

    def add_handlers(self):
        self.add_read_handler("addr", self._addr)
        self.add_write_handler("addr", lambda v: self._set(IPADDR(v.strip())))

    def _addr(self):
        return ip_str(load_be32(self.addr))
