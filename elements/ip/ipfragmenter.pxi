# EXPORT_ELEMENT IPFragmenter

cdef uint32_t copied_options(const uint8_t* iph, uint32_t hlen, uint8_t* out) noexcept:
    """Copy the options of iph that belong in every fragment (the copied flag,
    RFC 791) to out (NULL: just measure), padded with EOL to a multiple of 4;
    returns their length."""
    cdef uint32_t i = IP_MIN_HEADER, n = 0, olen
    while i < hlen:
        if iph[i] == IPOPT_NOP:
            i += 1
            continue
        if iph[i] == IPOPT_EOL or i + 1 >= hlen:
            break
        olen = iph[i + 1]
        if olen < 2 or i + olen > hlen:
            break
        if iph[i] & 0x80:
            if out != NULL:
                memcpy(out + n, iph + i, olen)
            n += olen
        i += olen
    while n & 3:
        if out != NULL:
            out[n] = IPOPT_EOL
        n += 1
    return n


cdef class IPFragmenter(Element):
    """IPFragmenter(MTU [, HONOR_DF, VERBOSE, KEYWORDS])

    Fragments large IP packets.

    Ports: 1 input, 1 or 2 outputs.
    Processing: push.

    Expects IP packets with the network header annotation set. A packet
    whose IP part is at most MTU bytes leaves on output 0 unchanged. A
    larger one is split into fragments of at most MTU bytes (RFC 791),
    emitted on output 0 in order, first fragment first; later fragments
    carry only the options marked for copying. If the packet has the
    don't-fragment bit set (and HONOR_DF is true), or the MTU leaves no room
    for 8 bytes of data, it goes to output 1 instead (usually an
    ICMPError(..., unreachable, needfrag)), or is dropped.

    Fragments copy the packet's annotations. Bytes before the network
    header (a MAC header, say) are kept on the first fragment only: strip
    them first. When HONOR_DF is false and DF is set, DF is cleared and the
    fragments get a fresh random IP ID.

    Keywords:
      HONOR_DF  Boolean. Send DF packets that are too big to output 1 (true).
      VERBOSE   Boolean. Report every DF packet, not just the first five (false).
      HEADROOM  Unsigned. Accepted for Click compatibility; fragments get the
                pool's standard headroom.

    Handlers:
      fragments (read)  fragments emitted
      drops (read)      packets sent to output 1 (or dropped) and fragments
                        that could not be allocated

    Example:
      ... -> fr :: IPFragmenter(1500) -> Queue -> ...
      fr[1] -> ICMPError(10.0.0.1, unreachable, needfrag, PMTU 1500) -> ...
    """

    port_count = "1/1-2"
    processing = "h/h"

    cdef uint32_t mtu
    cdef bint honor_df, verbose
    cdef readonly uint64_t fragments, drops
    cdef uint32_t rng
    cdef uint32_t reported

    def configure(self, args):
        self.mtu = args.read_mp("MTU", UINT)
        self.honor_df = args.read_p("HONOR_DF", BOOL, True)
        self.verbose = args.read_p("VERBOSE", BOOL, False)
        args.read("HEADROOM", UINT, 0)
        if self.mtu < 8:
            raise self.error("MTU must be at least 8")
        self.rng = <uint32_t>(realtime_ns() | 1)

    cdef int push(self, int port, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint8_t* iph
        cdef uint32_t rejected[256]
        cdef uint32_t i, x, nrej = 0, hlen, ip_len, first_dlen
        cdef int32_t netlen
        cdef Batch* ob = pool.batch_get()
        try:
            for i in range(b.n):
                x = b.idx[i]
                a = &anno[x]
                netlen = network_length(a)
                if netlen >= 0 and <uint32_t>netlen <= self.mtu:
                    self._append(ob, x)
                    continue
                iph = ip_header(a)
                if iph == NULL or netlen < IP_MIN_HEADER or a.net_off < <int32_t>a.headroom:
                    self.drops += 1            # not an IP packet: nothing to fragment
                    pool.free(x)
                    continue
                hlen = (iph[0] & 15) << 2
                ip_len = load_be16(iph + 2)
                first_dlen = ((self.mtu - hlen) & ~7u) if self.mtu > hlen else 0
                if (load_be16(iph + 6) & IP_DF and self.honor_df) or first_dlen < 8 \
                        or hlen < IP_MIN_HEADER or ip_len > <uint32_t>netlen or ip_len <= hlen:
                    self.drops += 1
                    rejected[nrej] = x
                    nrej += 1
                    continue
                self._fragment(ob, x, iph, hlen, ip_len, first_dlen)
            if ob.n:
                self.output_push(0, ob)
        finally:
            pool.batch_put(ob)
        b.n = 0
        if nrej and (self.verbose or self.reported < 5):
            self._report(nrej)
        return emit_list(self, 1, rejected, nrej)

    def _report(self, n):
        """Click reports the first five packets it cannot fragment (all with VERBOSE)."""
        if not self.verbose:
            n = min(n, 5 - self.reported)
        self.reported += n
        for _ in range(n):
            chatter(self, f"packet too big for MTU {self.mtu} with DF set, or with bad lengths")

    cdef inline int _append(self, Batch* ob, uint32_t x) except -1:
        ob.idx[ob.n] = x
        ob.n += 1
        if ob.n == BATCH_MAX:
            self.output_push(0, ob)
            ob.n = 0
        return 0

    cdef int _fragment(self, Batch* ob, uint32_t x, uint8_t* iph, uint32_t hlen,
                       uint32_t ip_len, uint32_t first_dlen) except -1:
        """Emit the fragments of x into ob, in order, then free x. Every
        fragment is a new buffer, so x stays intact until the last is made."""
        cdef PacketPool pool = self.pool
        cdef Anno* a = &pool.anno[x]
        cdef uint32_t pre = <uint32_t>(a.net_off - <int32_t>a.headroom)   # bytes before the IP header
        cdef uint32_t in_dlen = ip_len - hlen, off, dlen, out_hlen, y, offfield
        cdef uint8_t* q
        cdef Anno* qa
        cdef bint had_mf
        offfield = load_be16(iph + 6)
        if offfield & IP_DF:
            # fragmenting despite DF: the old ID cannot be trusted to be unique
            store_be16(iph + 4, <uint16_t>xorshift32(&self.rng))
            offfield &= ~(<uint32_t>IP_DF)
        had_mf = (offfield & IP_MF) != 0
        store_be16(iph + 6, <uint16_t>(offfield | IP_MF))
        store_be16(iph + 2, <uint16_t>(hlen + first_dlen))
        # first fragment: everything up to the end of its data, MAC header included
        y = pool.alloc(pre + hlen + first_dlen)
        if y == NO_PACKET:
            self.drops += 1
        else:
            qa = &pool.anno[y]
            copy_annotations(qa, a)
            memcpy(qa.data, a.data, pre + hlen + first_dlen)
            if a.mac_off >= <int32_t>a.headroom:
                qa.mac_off = <int32_t>qa.headroom + (a.mac_off - <int32_t>a.headroom)
            set_ip_header(qa, qa.data + pre, hlen)
            ip_set_checksum(qa.data + pre, hlen)
            self.fragments += 1
            self._append(ob, y)
        out_hlen = IP_MIN_HEADER + copied_options(iph, hlen, NULL)
        off = first_dlen
        while off < in_dlen:
            dlen = (self.mtu - out_hlen) & ~7u
            if dlen + off > in_dlen:
                dlen = in_dlen - off
            y = pool.alloc(out_hlen + dlen)
            if y == NO_PACKET:
                self.drops += 1
            else:
                qa = &pool.anno[y]
                copy_annotations(qa, a)
                q = qa.data
                memcpy(q, iph, IP_MIN_HEADER)
                copied_options(iph, hlen, q + IP_MIN_HEADER)
                memcpy(q + out_hlen, iph + hlen + off, dlen)
                q[0] = 0x40 | <uint8_t>(out_hlen >> 2)
                store_be16(q + 2, <uint16_t>(out_hlen + dlen))
                if off + dlen >= in_dlen and not had_mf:
                    store_be16(q + 6, <uint16_t>((offfield & ~(<uint32_t>IP_MF)) + (off >> 3)))
                else:
                    store_be16(q + 6, <uint16_t>((offfield | IP_MF) + (off >> 3)))
                set_ip_header(qa, q, out_hlen)
                ip_set_checksum(q, out_hlen)
                self.fragments += 1
                self._append(ob, y)
            off += dlen
        pool.free(x)
        return 0

    def add_handlers(self):
        self.add_read_handler("fragments", lambda: self.fragments)
        self.add_read_handler("drops", lambda: self.drops)
