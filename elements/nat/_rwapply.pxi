# Rewriting one packet by its flow (inline C, not an element). Direction d of
# a flow rewrites the packet into the reverse of the flow's other key:
# forward packets take the new identity, replies get the original one back.

cdef inline void rewrite_ip_header(const Flow* f, int d, uint8_t* iph, Anno* a,
                                   bint dst_anno, int reply_anno) noexcept nogil:
    """Both addresses, the header checksum and the annotations (Click's
    IPRewriterFlow::apply, IP part)."""
    cdef const FlowKey* rev = &f.key[1 - d]
    memcpy(iph + 12, &rev.daddr, 4)
    memcpy(iph + 16, &rev.saddr, 4)
    if dst_anno:
        memcpy(&a.user[DST_IP_ANNO], &rev.saddr, 4)
    if d and reply_anno >= 0:
        a.user[reply_anno] = f.reply_anno
    if not csum_delta_is_zero(f.ip_delta):
        store_be16(iph + 10, csum_apply(load_be16(iph + 10), f.ip_delta, d))


cdef inline void rewrite_ports(const Flow* f, int d, uint8_t* th) noexcept nogil:
    cdef const FlowKey* rev = &f.key[1 - d]
    memcpy(th, &rev.dport, 2)
    memcpy(th + 2, &rev.sport, 2)


cdef inline void update_l4_checksum(uint16_t delta, int d, uint8_t* field, bint udp) noexcept nogil:
    """Apply a flow's transport checksum change; a UDP checksum of 0 means
    "none", so one that comes out as 0 is sent as 0xFFFF (RFC 768)."""
    cdef uint16_t v
    if csum_delta_is_zero(delta):
        return
    v = csum_apply(load_be16(field), delta, d)
    if udp and v == 0:
        v = 0xFFFF
    store_be16(field, v)


cdef inline void store_seq32(uint8_t* field, uint32_t value, uint8_t* csum) noexcept nogil:
    """Replace a 32-bit TCP field, updating the checksum at csum."""
    store_be16(csum, csum_update32(load_be16(csum), load_be32(field), value))
    store_be32(field, value)


cdef inline uint16_t folded_sum(const uint8_t* p, size_t n) noexcept nogil:
    """The one's complement sum of n bytes (n even), folded to 16 bits."""
    return <uint16_t>~csum_fold(csum_add(0, p, n))


cdef inline void sack_rewrite(const SeqTransitions* s, int d, uint8_t* th, int32_t len) noexcept nogil:
    """Shift the SACK blocks of a TCP header's options back, as acknowledgments
    (Click's TCPFlow::apply_sack). The blocks need not be 16-bit aligned: the
    checksum is updated with the sums of the aligned words around them."""
    cdef int32_t hl = (th[12] >> 4) << 2
    cdef uint8_t* opt = th + 20
    cdef uint8_t* end
    cdef uint8_t* block
    cdef uint8_t* sack_end
    cdef uint8_t* lo
    cdef uint8_t* hi
    cdef uint16_t before
    if hl < len:
        len = hl
    end = th + len
    while opt < end:
        if opt[0] == 0:             # end of options
            return
        if opt[0] == 1:             # no-op
            opt += 1
            continue
        if opt + 1 >= end or opt[1] < 2:
            return
        if opt[0] == 5:             # SACK: 2 + 8n bytes of edges
            if opt + opt[1] > end or opt[1] % 8 != 2:
                return
            sack_end = opt + opt[1]
            lo = th + ((opt + 2 - th) & ~1)
            hi = th + ((sack_end - th + 1) & ~1)
            before = folded_sum(lo, hi - lo)
            block = opt + 2
            while block < sack_end:
                store_be32(block, seq_new_ack(s, d, load_be32(block)))
                block += 4
            store_be16(th + 16, csum_update16(load_be16(th + 16), before, folded_sum(lo, hi - lo)))
        opt += opt[1]


cdef inline void tcp_track(Flow* f, int d, const uint8_t* iph, uint32_t ihl, const uint8_t* th) noexcept nogil:
    """Click's TCP connection state: FIN/RST mark a side done, a SYN or data
    reopens it; data marks a side as having sent payload."""
    cdef uint8_t flags = th[13]
    cdef bint payload = ihl + ((th[12] >> 4) << 2) < load_be16(iph + 2)
    if flags & 0x04:                # RST
        f.tflags |= TCP_BOTH_DONE
    elif flags & 0x01:              # FIN
        f.tflags |= TCP_FORWARD_DONE << d
    elif (flags & 0x02) or payload:
        f.tflags &= ~(TCP_FORWARD_DONE << d)
    if payload:
        f.tflags |= TCP_FORWARD_DATA << d


cdef inline void tcp_rewrite(FlowTable* t, Flow* f, int d, uint8_t* iph, uint32_t ihl,
                             uint8_t* th, int32_t tlen, bint track) noexcept nogil:
    """Ports, checksum, connection state and sequence numbers of a first
    fragment with at least 18 bytes of TCP header (Click's TCPFlow::apply)."""
    cdef SeqTransitions* s
    cdef int o = 1 - d
    rewrite_ports(f, d, th)
    update_l4_checksum(f.l4_delta, d, th + 16, False)
    if track:
        tcp_track(f, d, iph, ihl, th)
    if f.seq == 0 or tlen < ((th[12] >> 4) << 2):
        return
    s = &t.seqs[f.seq]
    seq_forget_old(s, d, load_be32(th + 4))
    if s.n[d] or s.base[d]:
        store_seq32(th + 4, seq_new(s, d, load_be32(th + 4)), th + 16)
    if s.n[o] or s.base[o]:
        store_seq32(th + 8, seq_new_ack(s, d, load_be32(th + 8)), th + 16)
        # options other than a lone timestamp may hold SACK blocks
        if (th[12] >> 4) > 8 or ((th[12] >> 4) == 8 and load_be32(th + 20) != 0x0101080A):
            sack_rewrite(s, d, th, tlen)


cdef inline void udp_track(Flow* f, int d) noexcept nogil:
    """Click's UDP state: bit 0 = a reply was seen, +2 per packet up to 6."""
    if d:
        f.tflags |= 1
    if f.tflags < UDP_STREAMING_ABOVE:
        f.tflags += 2


cdef inline uint8_t* ip_header_of(Anno* a, uint32_t* ihl, int32_t* tlen) noexcept nogil:
    """The IPv4 header the annotation points at, with its length and the
    bytes after it, or NULL if there is none or it does not fit the packet."""
    cdef uint8_t* iph
    cdef int32_t netlen
    if a.net_off < 0:
        return NULL
    iph = a.data - a.headroom + a.net_off
    netlen = <int32_t>(a.data + a.len - iph)
    if netlen < 20 or (iph[0] >> 4) != 4:
        return NULL
    ihl[0] = (iph[0] & 15) << 2
    if ihl[0] < 20 or <int32_t>ihl[0] > netlen:
        return NULL
    tlen[0] = netlen - <int32_t>ihl[0]
    return iph
