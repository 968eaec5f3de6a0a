# EXPORT_ELEMENT IPGWOptions

cdef int process_gw_options(uint8_t* iph, uint32_t hlen, const uint8_t* my_addr,
                            const uint32_t* my_addrs, int nmy_addrs) noexcept:
    """Process the Record Route and Timestamp options every router handles
    (RFC 791, RFC 1812 4.2.2.2), recomputing the header checksum if anything
    changed. Returns -1, or the offset of the offending byte in the header."""
    cdef int oi = IP_MIN_HEADER, end = <int>hlen, xlen, p
    cdef uint32_t opt, flg, oflw
    cdef bint changed = False, overflowed
    cdef uint32_t ms = 0
    cdef bint have_ms = False
    while oi < end:
        opt = iph[oi]
        if opt == IPOPT_NOP:
            oi += 1
            continue
        if opt == IPOPT_EOL:
            break
        if oi + 1 >= end:
            return oi + 1
        xlen = iph[oi + 1]
        if xlen < 2 or oi + xlen > end:
            return oi + 1
        if opt != IPOPT_RR and opt != IPOPT_TS:
            oi += xlen
            continue
        if oi + 2 >= end:
            return oi + 1
        p = <int>iph[oi + 2] - 1      # the pointer is 1-origin
        if opt == IPOPT_RR:
            if p >= 3 and p + 4 <= xlen:
                memcpy(iph + oi + p, my_addr, 4)
                iph[oi + 2] += 4
                changed = True
            elif p != xlen:
                return oi + 2
        else:
            if p < 4:
                return oi + 2
            if oi + 3 >= end:
                return oi + 2
            oflw = iph[oi + 3] >> 4
            flg = iph[oi + 3] & 15
            overflowed = False
            if not have_ms:
                ms = ms_since_midnight()
                have_ms = True
            if flg == 0:
                if p + 4 <= xlen:
                    store_be32(iph + oi + p, ms)
                    iph[oi + 2] += 4
                    changed = True
                else:
                    overflowed = True
            elif flg == 1:
                if p + 8 <= xlen:
                    memcpy(iph + oi + p, my_addr, 4)
                    store_be32(iph + oi + p + 4, ms)
                    iph[oi + 2] += 8
                    changed = True
                else:
                    overflowed = True
            elif flg == 3 and p + 8 <= xlen:
                # prespecified addresses: stamp only where ours is next
                if addr_in(my_addrs, nmy_addrs, load_be32(iph + oi + p)):
                    store_be32(iph + oi + p + 4, ms)
                    iph[oi + 2] += 8
                    changed = True
            else:
                return oi + 3
            if overflowed:
                if oflw < 15:
                    iph[oi + 3] = <uint8_t>(((oflw + 1) << 4) | flg)
                    changed = True
                else:
                    return oi + 3
        oi += xlen
    if changed:
        ip_set_checksum(iph, hlen)
    return -1


cdef class IPGWOptions(Element):
    """IPGWOptions(MYADDR [, OTHERADDRS])

    Processes router IP options.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic; output 1 push.

    Processes the IP options every router must handle, not only the packet's
    destination: Record Route and Timestamp (not source routes). MYADDR is
    the router's address on the interface the packet leaves by (RFC 1812
    4.2.2.2), so the element belongs on the output path. OTHERADDRS lists
    the router's other addresses, for prespecified timestamps. Recomputes
    the header checksum when it changes an option.

    A malformed option sends the packet to output 1 (dropped if absent)
    with its ICMP parameter-problem annotation pointing at the bad byte, for
    an ICMPError(..., parameterproblem). Packets without options pass
    untouched.

    Handlers:
      drops (read)  packets with bad options

    Example:
      ... -> gw :: IPGWOptions(10.0.1.1) -> FixIPSrc(10.0.1.1) -> ...
      gw[1] -> ICMPError(10.0.1.1, parameterproblem) -> ...
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef uint8_t my_addr[4]
    cdef AddressArray my_addrs
    cdef readonly uint64_t drops

    def configure(self, args):
        addr = args.read_mp("MYADDR", IPADDR)
        others = args.read_p("OTHERADDRS", IP_LIST, [])
        store_be32(self.my_addr, addr)
        self.my_addrs = AddressArray(others + [addr])

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint8_t* iph
        cdef uint32_t rejected[256]
        cdef uint32_t i, x, k = 0, nrej = 0, hlen
        cdef int problem
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            iph = ip_header(a)
            problem = -1
            if iph == NULL or network_length(a) < IP_MIN_HEADER:
                problem = 0
            else:
                hlen = (iph[0] & 15) << 2
                if hlen > <uint32_t>network_length(a):
                    problem = 0
                elif hlen > IP_MIN_HEADER:
                    problem = process_gw_options(iph, hlen, self.my_addr, self.my_addrs.addrs, self.my_addrs.n)
            if problem < 0:
                b.idx[k] = x
                k += 1
            else:
                a.user[ICMP_PARAMPROB_ANNO] = <uint8_t>problem
                rejected[nrej] = x
                nrej += 1
        b.n = k
        self.drops += nrej
        return emit_list(self, 1, rejected, nrej)

    def add_handlers(self):
        self.add_read_handler("drops", lambda: self.drops)
