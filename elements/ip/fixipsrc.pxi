# EXPORT_ELEMENT FixIPSrc

cdef inline void fix_ip_src(Anno* a, const uint8_t* addr) noexcept:
    """If a's Fix IP Source annotation is set, put addr in its IP source field
    (checksum recomputed) and clear the annotation."""
    cdef uint8_t* iph
    if a.user[FIX_IP_SRC_ANNO] and a.net_off >= 0 and network_length(a) >= IP_MIN_HEADER:
        iph = a.data - a.headroom + a.net_off
        a.user[FIX_IP_SRC_ANNO] = 0
        memcpy(iph + 12, addr, 4)
        ip_set_checksum(iph, min(<uint32_t>((iph[0] & 15) << 2), <uint32_t>network_length(a)))


cdef class FixIPSrc(Element):
    """FixIPSrc(IPADDR)

    Sets the IP source field if the Fix IP Source annotation asks for it.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Expects IP packets. If a packet's Fix IP Source annotation is set, its
    IP source address becomes IPADDR and its header checksum is
    recomputed; the annotation is cleared. ICMPError sets the annotation,
    since an error must come from the address of the interface it leaves
    by (RFC 1812).

    Example:
      ... -> FixIPSrc(10.0.1.1) -> DecIPTTL -> ...
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint8_t addr[4]

    def configure(self, args):
        store_be32(self.addr, args.read_mp("IPADDR", IPADDR))

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef uint32_t i
        for i in range(b.n):
            fix_ip_src(&anno[b.idx[i]], self.addr)
        return 0
