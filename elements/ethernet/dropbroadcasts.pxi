# EXPORT_ELEMENT DropBroadcasts

cdef class DropBroadcasts(Element):
    """DropBroadcasts

    Drops packets that arrived as link-level broadcast or multicast.

    Ports: 1 input, 1 output. Processing: agnostic.

    Drops every packet whose packet type annotation is BROADCAST or
    MULTICAST (set by FromDevice or HostEtherFilter), and passes the others.

    Handlers:
      drops (read)  packets dropped
    """

    port_count = "1/1"
    processing = "a/a"

    cdef readonly uint64_t drops

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef uint32_t i, k = 0, x
        cdef uint8_t t
        for i in range(b.n):
            x = b.idx[i]
            t = anno[x].packet_type
            if t == PACKET_BROADCAST or t == PACKET_MULTICAST:
                pool.free(x)
                self.drops += 1
                continue
            b.idx[k] = x
            k += 1
        b.n = k
        return 0

    def add_handlers(self):
        self.add_read_handler("drops", lambda: self.drops)
