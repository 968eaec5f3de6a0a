# EXPORT_ELEMENT ICMPRewriter

cdef enum:
    ICMP_UNREACH = 3
    ICMP_SOURCEQUENCH = 4
    ICMP_REDIRECT = 5
    ICMP_TIMXCEED = 11
    ICMP_PARAMPROB = 12
    MAX_CHANGED_WORDS = 8


cdef class ICMPRewriter(Element):
    """ICMPRewriter(MAPS [, KEYWORDS])

    Rewrites ICMP error messages by the mappings of IP rewriters.

    Ports: 1 input, 1 or more outputs.
    Processing: push.

    ICMP errors (destination unreachable, time exceeded, parameter problem,
    source quench, redirect) quote the header of the packet they are about.
    When that packet went out through one of the rewriters in MAPS (a
    space-separated list of IPRewriter, TCPRewriter, UDPRewriter,
    IPAddrRewriter, IPAddrPairRewriter or ICMPPingRewriter elements, tried in
    order), the error is rewritten to be about the original packet: the
    quoted addresses and ports (or ping identifier), the quoted checksums,
    the outer destination if it was the rewritten source, and the outer ICMP
    and IP checksums. It then leaves on output 0, or, for a map written
    ``NAME:OFFSET``, on OFFSET plus the output of the rewriter's mapping.
    Errors no map knows, and ICMP messages that are not errors, go to
    output 1 if there is one and are dropped otherwise; non-ICMP packets
    are dropped.

    Keywords:
      DST_ANNO    Boolean. Set the destination address annotation when the destination changes (true).
      REPLY_ANNO  Annotation byte. Set to the mapping's stored reply annotation.

    Example:
      ICMPRewriter(rw pr);
    """

    port_count = "1/1-"
    processing = "h/h"

    cdef list maps                  # rewriter elements (keeps map_refs alive)
    cdef PyObject* map_refs[64]
    cdef int32_t offsets[64]
    cdef int nmaps
    cdef bint dst_anno
    cdef int reply_anno

    def configure(self, args):
        text = args.read_mp("MAPS", ANY)
        self.dst_anno = args.read("DST_ANNO", BOOL, True)
        reply = args.read("REPLY_ANNO", AnnoArg(1), None)
        self.reply_anno = -1 if reply is None else reply
        self.maps = []
        for word in split_words(text):
            name, colon, offset = word.partition(":")
            off = -1
            if colon:
                off = parse_click_int(offset, False)
                if off is None:
                    raise self.error(f"{word} not an IP rewriter")
            e = self.router.element(name) if self.router is not None else None
            if not isinstance(e, IPRewriterBase):
                raise self.error(f"{word} not an IP rewriter")
            if off >= 0 and off + (<Element>e).noutputs > self.noutputs:
                n = self.noutputs
                raise self.error(f"{word} port offset requires more than {n} output{'' if n == 1 else 's'}")
            if len(self.maps) == 64:
                raise self.error("too many rewriters (64 at most)")
            self.offsets[len(self.maps)] = off
            self.map_refs[len(self.maps)] = <PyObject*>e
            self.maps.append(e)
        if not self.maps:
            raise self.error("no IP rewriters supplied")
        self.nmaps = len(self.maps)

    cdef int push(self, int port, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef int32_t ports[BATCH_MAX]
        cdef uint32_t i
        for i in range(b.n):
            ports[i] = self.rewrite(&anno[b.idx[i]])
            if ports[i] >= self.noutputs:
                ports[i] = -1
        return push_by_port(self, b, ports)

    cdef int32_t rewrite(self, Anno* a) noexcept:
        """Click's ICMPRewriter::handle for one packet: its output, or -1."""
        cdef uint8_t* iph
        cdef uint8_t* icmp
        cdef uint8_t* enc
        cdef uint8_t* enc_th
        cdef uint8_t* end
        cdef uint32_t ihl, enc_hl, ref, k
        cdef int32_t tlen
        cdef uint8_t enc_p
        cdef bint use_transport = False
        cdef FlowKey search, new
        cdef IPRewriterBase rw = None
        cdef Flow* f
        cdef int d
        cdef uint16_t old_w[MAX_CHANGED_WORDS]
        cdef uint16_t new_w[MAX_CHANGED_WORDS]
        cdef int n = 0, j, w
        cdef int32_t unmapped = 1 if self.noutputs > 1 else -1
        iph = ip_header_of(a, &ihl, &tlen)
        if iph == NULL or iph[9] != IP_PROTO_ICMP:
            return -1
        icmp = iph + ihl
        end = a.data + a.len
        if tlen < 8 or not (icmp[0] == ICMP_UNREACH or icmp[0] == ICMP_TIMXCEED
                            or icmp[0] == ICMP_PARAMPROB or icmp[0] == ICMP_SOURCEQUENCH
                            or icmp[0] == ICMP_REDIRECT):
            return unmapped
        enc = icmp + 8
        if tlen < 8 + 20 or (enc[0] >> 4) != 4 or (enc[0] & 15) < 5:
            return unmapped
        enc_hl = (enc[0] & 15) << 2
        enc_th = enc + enc_hl
        enc_p = enc[9]
        # the quoted packet's reply flow: what the rewriter keyed its replies by
        memset(&search, 0, sizeof(FlowKey))
        memcpy(&search.saddr, enc + 16, 4)
        memcpy(&search.daddr, enc + 12, 4)
        if enc_p == IP_PROTO_TCP or enc_p == IP_PROTO_UDP or enc_p == IP_PROTO_DCCP:
            if enc_th + 8 <= end and is_first_fragment(enc):
                memcpy(&search.sport, enc_th + 2, 2)
                memcpy(&search.dport, enc_th, 2)
                use_transport = True
        elif enc_p == IP_PROTO_ICMP:
            if enc_th + 6 <= end and is_first_fragment(enc) and enc_th[0] == 8:
                memcpy(&search.sport, enc_th + 4, 2)
                use_transport = True
        ref = 0
        for k in range(self.nmaps):
            if (<IPRewriterBase>self.map_refs[k]).have_table:
                ref = (<IPRewriterBase>self.map_refs[k]).reply_entry(enc_p, &search)
                if ref:
                    break
        if ref == 0:
            return unmapped
        rw = <IPRewriterBase>self.map_refs[k]
        f = &rw.t.flows[ref >> 1]
        d = ref & 1
        key_reverse(&new, &f.key[1 - d])        # the entry's rewritten flow
        # the outer destination, if it is the address the quoted packet came from
        if memcmp(iph + 16, &search.daddr, 4) == 0:
            old_w[0] = load_be16(iph + 16)
            old_w[1] = load_be16(iph + 18)
            memcpy(iph + 16, &new.daddr, 4)
            store_be16(iph + 10, csum_update32(load_be16(iph + 10), (<uint32_t>old_w[0] << 16) | old_w[1],
                                               load_be32(iph + 16)))
            if self.dst_anno:
                memcpy(&a.user[DST_IP_ANNO], &new.daddr, 4)
        if d and self.reply_anno >= 0:
            a.user[self.reply_anno] = f.reply_anno
        # the quoted IP header: addresses and its checksum
        n = 0
        old_w[n] = load_be16(enc + 10)
        n += 1
        for j in range(4):
            old_w[n + j] = load_be16(enc + 12 + 2 * j)
        memcpy(enc + 12, &new.daddr, 4)
        memcpy(enc + 16, &new.saddr, 4)
        for j in range(4):
            new_w[n + j] = load_be16(enc + 12 + 2 * j)
            store_be16(enc + 10, csum_update16(load_be16(enc + 10), old_w[n + j], new_w[n + j]))
        new_w[0] = load_be16(enc + 10)
        n += 4
        if use_transport:
            if enc_p != IP_PROTO_ICMP:
                old_w[n] = load_be16(enc_th)
                old_w[n + 1] = load_be16(enc_th + 2)
                memcpy(enc_th, &new.dport, 2)
                memcpy(enc_th + 2, &new.sport, 2)
                new_w[n] = load_be16(enc_th)
                new_w[n + 1] = load_be16(enc_th + 2)
                n += 2
                # the quoted TCP/UDP checksum, when quoted: pseudo header and ports changed
                if ((enc_p == IP_PROTO_TCP and enc_th + 18 <= end)
                        or (enc_p == IP_PROTO_UDP and load_be16(enc_th + 6) != 0)):
                    j = 16 if enc_p == IP_PROTO_TCP else 6
                    old_w[n] = load_be16(enc_th + j)
                    new_w[n] = old_w[n]
                    for w in range(1, n):
                        new_w[n] = csum_update16(new_w[n], old_w[w], new_w[w])
                    if enc_p == IP_PROTO_UDP and new_w[n] == 0:
                        new_w[n] = 0xFFFF
                    store_be16(enc_th + j, new_w[n])
                    n += 1
            else:
                old_w[n] = load_be16(enc_th + 4)
                memcpy(enc_th + 4, &new.dport, 2)
                new_w[n] = load_be16(enc_th + 4)
                n += 1
                # the quoted echo's own checksum covers the identifier
                old_w[n] = load_be16(enc_th + 2)
                new_w[n] = csum_update16(old_w[n], old_w[n - 1], new_w[n - 1])
                store_be16(enc_th + 2, new_w[n])
                n += 1
        # the outer ICMP checksum covers every changed word of the quote
        for j in range(n):
            store_be16(icmp + 2, csum_update16(load_be16(icmp + 2), old_w[j], new_w[j]))
        if self.offsets[k] >= 0:
            return self.offsets[k] + f.output[d]
        return 0
