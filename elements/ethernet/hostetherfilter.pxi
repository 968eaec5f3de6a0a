# EXPORT_ELEMENT HostEtherFilter

cdef class HostEtherFilter(Element):
    """HostEtherFilter(ETHER [, DROP_OWN, DROP_OTHER, KEYWORDS])

    Drops Ethernet packets sent to other machines.

    Ports: 1 input, 1 or 2 outputs. Processing: input and output 0
    agnostic, output 1 push.

    Acts like the Ethernet input hardware of a device with address ETHER:
    sets each packet's packet type annotation to HOST, BROADCAST, MULTICAST
    or OTHERHOST from its destination address. With DROP_OWN, drops packets
    whose source is ETHER; with DROP_OTHER, drops packets for other hosts
    (unicast destinations other than ETHER). Dropped packets go to output 1
    if it exists. Packets too short for an Ethernet header are dropped too.

    Keywords:
      DROP_OWN    Boolean. Drop packets from ETHER (default false).
      DROP_OTHER  Boolean. Drop packets to other hosts (default true).
      OFFSET      Integer. The Ethernet header starts OFFSET bytes into the packet (default 0).

    Handlers:
      ethernet (read/write)  ETHER
      drops (read)           packets filtered
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef uint8_t addr[6]
    cdef bint drop_own, drop_other
    cdef uint32_t offset
    cdef readonly uint64_t drops

    def configure(self, args):
        a = args.read_mp("ETHER", ETHERADDR)
        self.drop_own = args.read_p("DROP_OWN", BOOL, False)
        self.drop_other = args.read_p("DROP_OTHER", BOOL, True)
        self.offset = args.read("OFFSET", UINT, 0)
        memcpy(self.addr, <const uint8_t*>a, 6)

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint32_t i, k = 0, x
        cdef const uint8_t* e
        cdef bint drop
        cdef Batch* dropped = pool.batch_get()
        try:
            for i in range(b.n):
                x = b.idx[i]
                a = &anno[x]
                if a.len < self.offset + ETHER_HEADER_LEN:
                    drop = True
                else:
                    e = a.data + self.offset
                    drop = self.drop_own and memcmp(e + 6, self.addr, 6) == 0
                    if memcmp(e, self.addr, 6) == 0:
                        a.packet_type = PACKET_HOST
                    elif is_group(e):
                        a.packet_type = PACKET_BROADCAST if is_broadcast(e) else PACKET_MULTICAST
                    else:
                        a.packet_type = PACKET_OTHERHOST
                        drop = drop or self.drop_other
                if drop:
                    dropped.idx[dropped.n] = x
                    dropped.n += 1
                else:
                    b.idx[k] = x
                    k += 1
            b.n = k
            self.drops += dropped.n
            self.emit_or_free(1, dropped)
        finally:
            pool.batch_put(dropped)
        return 0

    def add_handlers(self):
        self.add_read_handler("ethernet", lambda: unparse_ether(bytes(self.addr[:6])))
        self.add_write_handler("ethernet", lambda v: self._set(ETHERADDR(v.strip())))
        self.add_read_handler("drops", lambda: self.drops)

    def _set(self, bytes a):
        memcpy(self.addr, <const uint8_t*>a, 6)
