# EXPORT_ELEMENT UDPIPEncap

def _ip_or_dst_anno(text):
    """An IP address, or DST_ANNO (-> None): take the address from the annotation."""
    return None if text == "DST_ANNO" else IPADDR(text)


cdef class UDPIPEncap(Element):
    """UDPIPEncap(SRC, SPORT, DST, DPORT [, CHECKSUM])

    Encapsulates packets in static UDP/IP headers.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Prepends to each packet a UDP header from SPORT to DPORT and a 20-byte
    IP header from SRC to DST (TTL 250, an IP ID counting up from 0, correct
    lengths and header checksum), and sets the network header and
    destination-IP annotations. The UDP checksum is computed when CHECKSUM
    is true (the default); otherwise it is 0. If DST is `DST_ANNO`, the
    destination comes from each packet's destination-IP annotation. Packets
    that cannot take the headers (no room, or over 65535 bytes with them)
    are dropped and counted. Strip(28) removes the headers again.

    Handlers:
      src, sport, dst, dport (read/write)  the arguments
      drops (read)  packets dropped

    Example:
      InfiniteSource(LENGTH 22) -> UDPIPEncap(1.0.0.1, 1234, 2.0.0.2, 53) -> ...
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint8_t header[28]       # IP + UDP template: lengths, ID and checksums zero
    cdef bint dst_from_anno, checksum
    cdef uint16_t ip_id
    cdef readonly uint64_t drops

    def configure(self, args):
        src = args.read_mp("SRC", IPADDR)
        sport = args.read_mp("SPORT", Int(0, 65535))
        dst = args.read_mp("DST", _ip_or_dst_anno)
        dport = args.read_mp("DPORT", Int(0, 65535))
        self.checksum = args.read_p("CHECKSUM", BOOL, True)
        memset(self.header, 0, 28)
        self.header[0] = 0x45
        self.header[8] = 250
        self.header[9] = IP_PROTO_UDP
        store_be32(self.header + 12, src)
        store_be16(self.header + 20, sport)
        store_be16(self.header + 22, dport)
        self._set_dst(dst)

    def _set_dst(self, dst):
        self.dst_from_anno = dst is None
        store_be32(self.header + 16, 0 if dst is None else dst)

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint8_t* iph
        cdef uint8_t* udp
        cdef uint32_t i, x, k = 0, length
        cdef uint16_t sum
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            if a.len > 65535 - 28:
                pool.free(x)
                self.drops += 1
                continue
            iph = pool.push(x, 28)
            if iph == NULL:
                pool.free(x)
                self.drops += 1
                continue
            memcpy(iph, self.header, 28)
            if self.dst_from_anno:
                memcpy(iph + 16, &a.user[DST_IP_ANNO], 4)
            else:
                memcpy(&a.user[DST_IP_ANNO], iph + 16, 4)
            length = a.len
            store_be16(iph + 2, <uint16_t>length)
            store_be16(iph + 4, self.ip_id)
            self.ip_id += 1
            ip_set_checksum(iph, 20)
            udp = iph + 20
            store_be16(udp + 4, <uint16_t>(length - 20))
            if self.checksum:
                sum = transport_checksum(iph, udp, length - 20, IP_PROTO_UDP)
                store_be16(udp + 6, sum if sum else 0xFFFF)
            set_ip_header(a, iph, 20)
            b.idx[k] = x
            k += 1
        b.n = k
        return 0

    def _addr(self, int offset):
        return ip_str(load_be32(self.header + offset))

    def _port(self, int offset):
        return load_be16(self.header + offset)

    def _set_src(self, value):
        store_be32(self.header + 12, IPADDR(value.strip()))

    def _set_port(self, int offset, value):
        store_be16(self.header + offset, Int(0, 65535)(value.strip()))

    def add_handlers(self):
        self.add_read_handler("src", lambda: self._addr(12))
        self.add_write_handler("src", self._set_src)
        self.add_read_handler("dst", lambda: "DST_ANNO" if self.dst_from_anno else self._addr(16))
        self.add_write_handler("dst", lambda v: self._set_dst(_ip_or_dst_anno(v.strip())))
        self.add_read_handler("sport", lambda: self._port(20))
        self.add_write_handler("sport", lambda v: self._set_port(20, v))
        self.add_read_handler("dport", lambda: self._port(22))
        self.add_write_handler("dport", lambda v: self._set_port(22, v))
        self.add_read_handler("drops", lambda: self.drops)
