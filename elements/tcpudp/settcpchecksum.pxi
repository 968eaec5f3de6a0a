# EXPORT_ELEMENT SetTCPChecksum

cdef class SetTCPChecksum(Element):
    """SetTCPChecksum([FIXOFF])

    Sets TCP checksums.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Computes the TCP checksum of each TCP packet (network header annotation
    set), over the pseudo header and the IP payload, and stores it. With
    FIXOFF, a data offset under 20 bytes is raised to 20 and one past the
    payload (in an unfragmented packet) is cut to it first. Packets that are
    not TCP, whose IP payload is shorter than a TCP header or runs past the
    end of the packet, are dropped (counted).

    Keywords:
      FIXOFF  Boolean. Repair impossible data offsets (true).

    Handlers:
      drops (read)  packets dropped for bad lengths
    """

    port_count = "1/1"
    processing = "a/a"

    cdef bint fixoff
    cdef readonly uint64_t drops
    cdef bint reported

    def configure(self, args):
        self.fixoff = args.read_p("FIXOFF", BOOL, True)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint8_t* iph
        cdef uint8_t* tcp
        cdef uint32_t i, x, k = 0, hlen, ip_len, length, off
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            iph = ip_header(a)
            if iph != NULL and network_length(a) >= IP_MIN_HEADER and iph[9] == IP_PROTO_TCP:
                hlen = (iph[0] & 15) << 2
                ip_len = load_be16(iph + 2)
                length = ip_len - hlen if ip_len >= hlen else 0
                if hlen >= IP_MIN_HEADER and length >= TCP_MIN_HEADER and <int32_t>ip_len <= network_length(a):
                    tcp = iph + hlen
                    off = (tcp[12] >> 4) << 2
                    if self.fixoff:
                        if off < TCP_MIN_HEADER:
                            tcp[12] = (tcp[12] & 0x0F) | (5 << 4)
                        elif off > length and not ip_is_fragment(iph):
                            tcp[12] = (tcp[12] & 0x0F) | <uint8_t>((length >> 2) << 4)
                    tcp[16] = 0
                    tcp[17] = 0
                    store_be16(tcp + 16, transport_checksum(iph, tcp, length, IP_PROTO_TCP))
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
