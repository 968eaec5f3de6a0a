# EXPORT_ELEMENT SetIPChecksum

cdef class SetIPChecksum(Element):
    """SetIPChecksum()

    Sets the IP header checksum.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Computes the checksum of each packet's (annotated) IP header and stores
    it in the header. Elements that change IP headers, such as DecIPTTL,
    already update the checksum themselves. Packets without an IP header
    annotation, or whose header length is under 20 or runs past the end of
    the packet, are dropped (counted).

    Handlers:
      drops (read)  packets dropped for bad lengths
    """

    port_count = "1/1"
    processing = "a/a"

    cdef readonly uint64_t drops
    cdef bint reported

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint8_t* iph
        cdef uint32_t i, x, k = 0, hlen
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            iph = ip_header(a)
            if iph != NULL and network_length(a) >= IP_MIN_HEADER:
                hlen = (iph[0] & 15) << 2
                if IP_MIN_HEADER <= hlen <= <uint32_t>network_length(a):
                    ip_set_checksum(iph, hlen)
                    b.idx[k] = x
                    k += 1
                    continue
            self.drops += 1
            self.pool.free(x)
        if self.drops and not self.reported:
            self._report()
        b.n = k
        return 0

    cdef int _report(self) except -1:
        self.reported = True
        chatter(self, "bad lengths")
        return 0

    def add_handlers(self):
        self.add_read_handler("drops", lambda: self.drops)
