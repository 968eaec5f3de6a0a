# EXPORT_ELEMENT GetIPAddress

cdef enum:
    GETIP_FROM_OFFSET = 0
    GETIP_FROM_SRC = 1
    GETIP_FROM_DST = 2


cdef class GetIPAddress(Element):
    """GetIPAddress(OFFSET [, ANNO, KEYWORDS])

    Sets the destination IP address annotation from packet data.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Copies the 4 bytes at OFFSET into the destination-IP annotation (or
    the 4-byte annotation ANNO). OFFSET is usually 16, to fetch the
    destination of an IP packet. Instead of OFFSET, IP may be `src` or
    `dst`: the address comes from the source or destination field of the
    packet's IP header (which must be annotated). Packets too short for
    OFFSET + 4, or without an IP header for IP, pass unchanged.

    Keywords:
      IP    `src` or `dst`. Take the address from the marked IP header.
      ANNO  4-byte annotation. Where to store the address (DST_IP).

    Example:
      ... -> Strip(14) -> GetIPAddress(16) -> rt :: RadixIPLookup(...);
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint32_t offset
    cdef uint32_t anno_offset
    cdef int source

    def configure(self, args):
        offset = args.read_p("OFFSET", UINT, None)
        self.anno_offset = args.read_p("ANNO", AnnoArg(4), DST_IP_ANNO)
        ip = args.read("IP", WORD, None)
        if (offset is None) == (ip is None):
            raise self.error("set one of OFFSET, IP")
        if ip is None:
            self.source = GETIP_FROM_OFFSET
            self.offset = offset
        elif ip.lower() in ("src", "dst"):
            self.source = GETIP_FROM_SRC if ip.lower() == "src" else GETIP_FROM_DST
        else:
            raise self.error("IP must be 'src' or 'dst'")

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint32_t i, offset = self.offset, where = self.anno_offset
        cdef const uint8_t* iph
        for i in range(b.n):
            a = &anno[b.idx[i]]
            if self.source == GETIP_FROM_OFFSET:
                if offset + 4 <= a.len:
                    memcpy(&a.user[where], a.data + offset, 4)
            else:
                iph = ip_header(a)
                if iph != NULL and network_length(a) >= IP_MIN_HEADER:
                    memcpy(&a.user[where], iph + (12 if self.source == GETIP_FROM_SRC else 16), 4)
        return 0
