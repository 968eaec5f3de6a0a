# EXPORT_ELEMENT IPEncap

def _ip_or_dst_anno(text):
    """An IP address, or DST_ANNO (-> None): take the address from the annotation."""
    return None if text == "DST_ANNO" else IPADDR(text)


def _ect_value(text):
    """IPEncap's ECT: a boolean (ECT(1)... Click sets 1 for true) or "2"."""
    if text == "2":
        return 2
    return 1 if BOOL(text) else 0


def ip_tos_from_args(elem, args):
    """The TOS byte from IPEncap-style keywords: TOS, or DSCP with ECT/CE."""
    tos = args.read("TOS", Int(0, 255), None)
    dscp = args.read("DSCP", Int(0, 63), None)
    ect = args.read("ECT", _ect_value, None)
    ce = args.read("CE", BOOL, None)
    if tos is not None:
        if dscp is not None or ect is not None or ce is not None:
            raise elem.error("TOS cannot be combined with DSCP, ECT or CE")
        return tos
    if ect and ce:
        raise elem.error("ECT and CE are mutually exclusive")
    return ((dscp or 0) << 2) | (3 if ce else (ect or 0))


cdef class IPEncap(Element):
    """IPEncap(PROTO, SRC, DST, KEYWORDS)

    Encapsulates packets in a static IP header.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Prepends to each packet a 20-byte IP header with protocol PROTO (a
    number or a name such as `ipip`, `udp`), source SRC and destination DST,
    an IP ID counting up from 0, and a correct length and checksum; sets the
    network header and destination-IP annotations. If DST is `DST_ANNO`,
    the destination comes from each packet's destination-IP annotation.
    Packets that cannot take the header (no room, or longer than 65535
    bytes with it) are dropped and counted. StripIPHeader or Strip(20)
    removes the header again.

    Keywords:
      TTL   Byte. Time to live (250).
      TOS   Byte. Type of service; excludes DSCP, ECT and CE (0).
      DSCP  0-63. Differentiated services code point (0).
      ECT   Boolean or 2. ECN capable transport: true sets ECN 1, 2 sets 2 (false).
      CE    Boolean. ECN congestion experienced, ECN 3 (false).
      DF    Boolean. Set the don't-fragment bit (false).

    Handlers:
      src, dst (read/write)  SRC and DST
      drops (read)           packets dropped

    Example:
      IPEncap(ipip, 18.26.4.24, 140.247.60.147)
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint8_t header[20]          # template: length, ID and checksum zero
    cdef bint dst_from_anno
    cdef uint16_t ip_id
    cdef readonly uint64_t drops

    def configure(self, args):
        proto = args.read_mp("PROTO", IP_PROTO)
        src = args.read_mp("SRC", IPADDR)
        dst = args.read_mp("DST", _ip_or_dst_anno)
        tos = ip_tos_from_args(self, args)
        ttl = args.read("TTL", Int(0, 255), 250)
        df = args.read("DF", BOOL, False)
        memset(self.header, 0, 20)
        self.header[0] = 0x45
        self.header[1] = tos
        store_be16(self.header + 6, IP_DF if df else 0)
        self.header[8] = ttl
        self.header[9] = proto
        store_be32(self.header + 12, src)
        self._set_dst(dst)

    def _set_dst(self, dst):
        self.dst_from_anno = dst is None
        store_be32(self.header + 16, 0 if dst is None else dst)

    def initialize(self):
        self.ip_id = 0

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint8_t* iph
        cdef uint32_t i, x, k = 0, base = csum_add(0, self.header, 20)
        cdef uint32_t length
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            if a.len > 65535 - 20:
                pool.free(x)
                self.drops += 1
                continue
            iph = pool.push(x, 20)
            if iph == NULL:
                pool.free(x)
                self.drops += 1
                continue
            memcpy(iph, self.header, 20)
            if self.dst_from_anno:
                memcpy(iph + 16, &a.user[DST_IP_ANNO], 4)
            length = a.len
            store_be16(iph + 2, <uint16_t>length)
            store_be16(iph + 4, self.ip_id)
            self.ip_id += 1
            if self.dst_from_anno:
                store_be16(iph + 10, csum_fold(csum_add(base + length + load_be16(iph + 4), iph + 16, 4)))
            else:
                store_be16(iph + 10, csum_fold(base + length + load_be16(iph + 4)))
                copy_dst_ip_anno(a, iph + 16)
            set_ip_header(a, iph, 20)
            b.idx[k] = x
            k += 1
        b.n = k
        return 0

    def _src(self):
        return ip_str(load_be32(self.header + 12))

    def _set_src(self, value):
        store_be32(self.header + 12, IPADDR(value.strip()))

    def _dst(self):
        return "DST_ANNO" if self.dst_from_anno else ip_str(load_be32(self.header + 16))

    def add_handlers(self):
        self.add_read_handler("src", self._src)
        self.add_write_handler("src", self._set_src)
        self.add_read_handler("dst", self._dst)
        self.add_write_handler("dst", lambda v: self._set_dst(_ip_or_dst_anno(v.strip())))
        self.add_read_handler("drops", lambda: self.drops)
