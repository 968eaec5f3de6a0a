# EXPORT_ELEMENT ICMPError

def _is_error_type(int t):
    return t in (ICMP_UNREACH, ICMP_SOURCEQUENCH, ICMP_REDIRECT, ICMP_TIMXCEED, ICMP_PARAMPROB)


cdef inline bint icmp_error_type(uint8_t t) noexcept nogil:
    return (t == ICMP_UNREACH or t == ICMP_SOURCEQUENCH or t == ICMP_REDIRECT
            or t == ICMP_TIMXCEED or t == ICMP_PARAMPROB)


cdef const uint8_t* valid_source_route(const uint8_t* iph, uint32_t hlen) noexcept nogil:
    """The packet's loose or strict source route option, if well formed, else NULL."""
    cdef uint32_t oi = IP_MIN_HEADER, opt, xlen
    while oi < hlen:
        opt = iph[oi]
        if opt == IPOPT_NOP:
            oi += 1
            continue
        if opt == IPOPT_EOL or oi + 1 >= hlen:
            return NULL
        xlen = iph[oi + 1]
        if xlen < 2 or oi + xlen > hlen:
            return NULL
        if ((opt == IPOPT_LSRR or opt == IPOPT_SSRR) and xlen >= 3 and iph[oi + 2] >= 4
                and iph[oi + 2] % 4 == 0 and iph[oi + 2] <= xlen + 1):
            return iph + oi
        oi += xlen
    return NULL


cdef class ICMPError(Element):
    """ICMPError(SRC, TYPE [, CODE, BADADDRS, KEYWORDS])

    Generates ICMP error packets.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    For each incoming IP packet (network header annotation set), emits an
    ICMP error of type TYPE and code CODE addressed to the packet's source,
    from SRC, quoting the packet's IP header and as much of its data as fits
    in MTU bytes (RFC 1812 4.3.2.3). TYPE and CODE are numbers or names:
    TYPE `unreachable` (3), `sourcequench` (4), `redirect` (5),
    `timeexceeded` (11) or `parameterproblem` (12); CODE (default 0) such as
    `net`, `host`, `protocol`, `port`, `needfrag` for unreachable, `net`,
    `host` for redirect, `transit`, `reassembly` for timeexceeded, and
    `erroratptr`, `missingopt`, `length` for parameterproblem. The input
    packet is consumed either way.

    Following RFC 1812 4.3.2.7, no error is sent for: an ICMP error, a
    packet to a broadcast or multicast address (255.255.255.255, 224/4, or
    one of BADADDRS), a packet a link layer received as broadcast or
    multicast, a packet from an invalid source (0/8, 127/8, 240/4,
    broadcast, multicast or BADADDRS), a fragment other than the first, or
    (for redirects) a source-routed packet. If the packet carries a source
    route, the error carries it reversed (RFC 1812 4.3.2.6).

    A parameter problem with code 0 takes its pointer from the packet's
    ICMP parameter-problem annotation (IPGWOptions sets it); a redirect
    takes its gateway from the destination-IP annotation; an unreachable
    with code `needfrag` reports PMTU as the next-hop MTU. The error's
    destination-IP annotation is set to its destination and, with
    SET_FIX_ANNO, its Fix IP Source annotation is set so a FixIPSrc on the
    way out can replace SRC with the outgoing interface's address. Errors
    have TTL 200 and IP IDs counting from 1. Rate-limit them downstream if
    needed (e.g. with a RatedSplitter).

    Keywords:
      BADADDRS      IP address list. Broadcast addresses of the attached subnets (empty).
      MTU           Unsigned. Largest error packet, quote included (576).
      PMTU          Unsigned. Next-hop MTU reported in needfrag errors (0).
      SET_FIX_ANNO  Boolean. Set the Fix IP Source annotation (true). USE_FIX_ANNO
                    is accepted as another name.

    Handlers:
      src, mtu, pmtu (read/write)  SRC, MTU and PMTU
      drops (read)  packets that got no error by the rules above, or for want
                    of a buffer

    Example:
      dt :: DecIPTTL;
      dt[1] -> ICMPError(18.26.4.24, timeexceeded) -> rt;
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint8_t src[4]
    cdef uint8_t icmp_type, icmp_code
    cdef uint32_t* bad_addrs
    cdef int nbad_addrs
    cdef uint32_t mtu, pmtu
    cdef bint fix_anno
    cdef uint16_t ip_id
    cdef readonly uint64_t drops

    def __dealloc__(self):
        c_free(self.bad_addrs)

    def configure(self, args):
        store_be32(self.src, args.read_mp("SRC", IPADDR))
        icmp_type = args.read_mp("TYPE", ICMP_TYPE)
        code = args.read_p("CODE", ANY, "0")
        bad = args.read_p("BADADDRS", IP_LIST, [])
        mtu = args.read("MTU", UINT, 576)
        self.pmtu = args.read("PMTU", Int(0, 65535), 0)
        fix = args.read("SET_FIX_ANNO", BOOL, None)
        use = args.read("USE_FIX_ANNO", BOOL, None)
        if not _is_error_type(icmp_type):
            raise self.error(f"ICMP type {icmp_type} is not an error type")
        try:
            self.icmp_code = icmp_code(icmp_type, code)
        except ValueError:
            raise self.error("CODE: expected ICMP code (integer between 0 and 255 or a name)") from None
        self.icmp_type = icmp_type
        self._set_mtu(mtu)
        self.fix_anno = True if fix is None and use is None else bool(fix if fix is not None else use)
        self.bad_addrs = <uint32_t*>malloc(max(len(bad), 1) * sizeof(uint32_t))
        if self.bad_addrs == NULL:
            raise MemoryError()
        for i, addr in enumerate(bad):
            self.bad_addrs[i] = addr
        self.nbad_addrs = len(bad)
        self.ip_id = 1

    def _set_mtu(self, mtu):
        if mtu < IP_MIN_HEADER + ICMP_HEADER + 40 or mtu > 65535:
            raise ValueError("MTU must be between 68 and 65535")
        self.mtu = mtu

    cdef inline bint _unicast(self, uint32_t addr) noexcept:
        return addr != 0xFFFFFFFF and (addr & 0xF0000000) != 0xE0000000 \
            and not addr_in(self.bad_addrs, self.nbad_addrs, addr)

    cdef inline bint _valid_source(self, uint32_t addr) noexcept:
        cdef uint32_t net = addr >> 24
        return self._unicast(addr) and net != 0 and net != 127 and (net & 0xF0) != 0xF0

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef uint32_t i, x, y, k = 0
        cdef uint64_t now = 0
        for i in range(b.n):
            x = b.idx[i]
            y = self._make_error(&anno[x], &now)
            pool.free(x)
            if y == NO_PACKET:
                self.drops += 1
            else:
                b.idx[k] = y
                k += 1
        b.n = k
        return 0

    cdef uint32_t _make_error(self, Anno* a, uint64_t* now) noexcept:
        """The error packet for the packet a describes, or NO_PACKET."""
        cdef PacketPool pool = self.pool
        cdef const uint8_t* iph = ip_header(a)
        cdef const uint8_t* route
        cdef uint32_t hlen, netlen, olen, nhlen, xlen, y, pointer
        cdef const uint8_t* oo
        cdef uint8_t* q
        cdef uint8_t* icmp
        cdef Anno* qa
        if iph == NULL or network_length(a) < IP_MIN_HEADER:
            return NO_PACKET
        netlen = <uint32_t>network_length(a)
        hlen = (iph[0] & 15) << 2
        if hlen < IP_MIN_HEADER or hlen > netlen:
            return NO_PACKET
        # the "don'ts" of RFC 1812 4.3.2.7
        if iph[9] == IP_PROTO_ICMP and ip_first_fragment(iph) and (hlen + 4 > netlen or icmp_error_type(iph[hlen])):
            return NO_PACKET
        if not self._unicast(load_be32(iph + 16)):
            return NO_PACKET
        if a.packet_type == PACKET_BROADCAST or a.packet_type == PACKET_MULTICAST:
            return NO_PACKET
        if not self._valid_source(load_be32(iph + 12)):
            return NO_PACKET
        if not ip_first_fragment(iph):
            return NO_PACKET
        route = valid_source_route(iph, hlen)
        if route != NULL:
            if self.icmp_type == ICMP_REDIRECT:
                return NO_PACKET
            pointer = a.user[ICMP_PARAMPROB_ANNO]
            if (self.icmp_type == ICMP_PARAMPROB and self.icmp_code == 0
                    and route <= iph + pointer < route + route[1]):
                route = NULL          # the problem is in the source route itself
        olen = <uint32_t>route[2] - 1 if route != NULL else 0
        nhlen = (IP_MIN_HEADER + olen + 3) & ~3u if route != NULL else IP_MIN_HEADER
        xlen = self.mtu - nhlen - ICMP_HEADER
        if xlen > netlen:
            xlen = netlen
        y = pool.alloc(nhlen + ICMP_HEADER + xlen)
        if y == NO_PACKET:
            return NO_PACKET
        qa = &pool.anno[y]
        q = qa.data
        memset(q, 0, nhlen + ICMP_HEADER)
        q[0] = 0x40 | <uint8_t>(nhlen >> 2)
        store_be16(q + 2, <uint16_t>(nhlen + ICMP_HEADER + xlen))
        store_be16(q + 4, self.ip_id)
        self.ip_id += 1
        q[8] = 200
        q[9] = IP_PROTO_ICMP
        memcpy(q + 12, self.src, 4)
        memcpy(q + 16, iph + 12, 4)
        if route != NULL:
            # the recorded route, reversed (RFC 1812 4.3.2.6)
            q[20] = route[0]
            q[21] = <uint8_t>olen
            q[22] = 4
            oo = route + route[2] - 5
            olen = 23
            while oo >= route + 3:
                memcpy(q + olen, oo, 4)
                olen += 4
                oo -= 4
        ip_set_checksum(q, nhlen)
        icmp = q + nhlen
        icmp[0] = self.icmp_type
        icmp[1] = self.icmp_code
        if self.icmp_type == ICMP_PARAMPROB and self.icmp_code == 0:
            icmp[4] = a.user[ICMP_PARAMPROB_ANNO]
        elif self.icmp_type == ICMP_REDIRECT:
            memcpy(icmp + 4, &a.user[DST_IP_ANNO], 4)
        elif self.icmp_type == ICMP_UNREACH and self.icmp_code == 4:
            store_be16(icmp + 6, <uint16_t>self.pmtu)
        memcpy(icmp + ICMP_HEADER, iph, xlen)
        store_be16(icmp + 2, csum_fold(csum_add(0, icmp, ICMP_HEADER + xlen)))
        set_ip_header(qa, q, nhlen)
        memcpy(&qa.user[DST_IP_ANNO], iph + 12, 4)
        if self.fix_anno:
            qa.user[FIX_IP_SRC_ANNO] = 1
        if now[0] == 0:
            now[0] = realtime_ns()
        qa.timestamp = now[0]
        return y

    def _src(self):
        return ip_str(load_be32(self.src))

    def _set_src(self, value):
        store_be32(self.src, IPADDR(value.strip()))

    def add_handlers(self):
        self.add_read_handler("src", self._src)
        self.add_write_handler("src", self._set_src)
        self.add_read_handler("mtu", lambda: self.mtu)
        self.add_write_handler("mtu", lambda v: self._set_mtu(UINT(v.strip())))
        self.add_read_handler("pmtu", lambda: self.pmtu)
        self.add_write_handler("pmtu", self._set_pmtu)
        self.add_read_handler("drops", lambda: self.drops)

    def _set_pmtu(self, value):
        self.pmtu = Int(0, 65535)(value.strip())
