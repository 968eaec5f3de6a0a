# EXPORT_ELEMENT SetUDPChecksum

cdef class SetUDPChecksum(Element):
    """SetUDPChecksum()

    Sets UDP checksums.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Computes the UDP checksum of each UDP packet (network header annotation
    set), over the pseudo header and the UDP length bytes, and stores it (a
    computed 0 is sent as 0xFFFF, RFC 768). Packets that are not UDP, later
    fragments, and packets whose UDP length is under 8 or runs past the IP
    payload or the packet are dropped (counted).

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
        cdef uint8_t* udp
        cdef uint32_t i, x, k = 0, hlen, ip_len, ulen
        cdef uint16_t sum
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            iph = ip_header(a)
            if (iph != NULL and network_length(a) >= IP_MIN_HEADER and iph[9] == IP_PROTO_UDP
                    and ip_first_fragment(iph)):
                hlen = (iph[0] & 15) << 2
                ip_len = load_be16(iph + 2)
                udp = iph + hlen
                if ip_len >= hlen + UDP_HEADER and <int32_t>ip_len <= network_length(a):
                    ulen = load_be16(udp + 4)
                    if UDP_HEADER <= ulen <= ip_len - hlen:
                        udp[6] = 0
                        udp[7] = 0
                        sum = transport_checksum(iph, udp, ulen, IP_PROTO_UDP)
                        store_be16(udp + 6, sum if sum else 0xFFFF)
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
