# EXPORT_ELEMENT IPReassembler

cdef enum:
    REASM_BUCKETS = 256
    REASM_TIMEOUT = 30           # seconds a datagram may wait for its fragments
    REASM_REAP_INTERVAL = 10
    REASM_FRAGMENT_COST = 40     # bytes charged per held fragment besides its data


cdef struct ReasmFragment:
    uint32_t packet
    int32_t next                 # next fragment of the datagram, or of the free list
    uint16_t off, lastoff        # payload bytes [off, lastoff)


cdef struct ReasmDatagram:
    uint32_t src, dst
    uint16_t id
    uint8_t proto
    bint used
    int32_t next                 # bucket chain, or free list
    int32_t first, last          # fragments in arrival order
    uint32_t nfrags
    uint32_t start_sec           # when the first fragment arrived
    int32_t total                # payload length once the last fragment is known, else -1
    uint32_t mem
    uint16_t max_fragment        # longest fragment (network length), for MAX_MTU_ANNO
    uint32_t data_bytes          # payload bytes held, overlaps counted twice


cdef int _cmp_u32(const void* a, const void* b) noexcept nogil:
    cdef uint32_t x = (<const uint32_t*>a)[0], y = (<const uint32_t*>b)[0]
    return (x > y) - (x < y)


cdef class IPReassembler(Element):
    """IPReassembler([KEYWORDS])

    Reassembles fragmented IP packets.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic; output 1 push.

    Expects IP packets with the network header annotation set. Packets that
    are not fragments pass through. Fragments are held until all of their
    datagram's have arrived; the reassembled datagram then leaves on output
    0 in place of the fragment that completed it. It has the MAC header and
    annotations of the fragment at offset 0, that fragment's IP header with
    a new length, offset and checksum, and the timestamp of the last
    fragment. Overlapping data is taken from the later fragment.

    A datagram still incomplete 30 seconds after its first fragment
    (packet timestamps, or the clock when they are unset) is given up: if
    output 1 is connected, a packet with every received fragment at its
    offset (holes zeroed) leaves there (for an ICMPError(...,
    timeexceeded, reassembly)); otherwise its fragments are dropped. Memory
    is bounded: when held fragments pass HIMEM bytes, the oldest datagrams
    are given up until use falls to 3/4 HIMEM. Malformed fragments (bad
    lengths, a middle fragment not a multiple of 8 bytes, data past the
    end of the datagram) are dropped and counted.

    Keywords:
      HIMEM         Unsigned. Memory bound in bytes (262144).
      MAX_MTU_ANNO  2-byte annotation. Store there the length of the longest
                    fragment of each reassembled datagram (unset).

    Handlers:
      dump (read)  statistics and the datagrams in progress
      frags_seen, good_assem, failed_assem, bad_pkts, mem_used (read)  counters
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef ReasmDatagram* dgrams
    cdef int32_t ndgrams_cap, dgram_free
    cdef ReasmFragment* frags
    cdef int32_t nfrags_cap, frag_free
    cdef int32_t buckets[256]
    cdef uint32_t himem, lowmem
    cdef int mtu_anno                # user-area offset, or -1
    cdef uint32_t reap_time
    cdef readonly uint64_t frags_seen, good_assem, failed_assem, bad_pkts
    cdef readonly uint32_t mem_used
    cdef uint32_t expired[256]       # given-up datagrams waiting for output 1
    cdef uint32_t nexpired
    cdef uint32_t* scratch           # coverage check: packed (off, lastoff) pairs
    cdef uint32_t scratch_cap

    def __cinit__(self):
        cdef int i
        for i in range(REASM_BUCKETS):
            self.buckets[i] = -1
        self.dgram_free = -1
        self.frag_free = -1

    def __dealloc__(self):
        c_free(self.dgrams)
        c_free(self.frags)
        c_free(self.scratch)

    def configure(self, args):
        self.himem = args.read("HIMEM", UINT, 256 * 1024)
        self.lowmem = (self.himem >> 2) * 3
        self.mtu_anno = args.read("MAX_MTU_ANNO", AnnoArg(2), -1)

    def cleanup(self):
        cdef int32_t i, f
        if self.dgrams == NULL or self.pool is None:
            return
        for i in range(self.ndgrams_cap):
            if self.dgrams[i].used:
                f = self.dgrams[i].first
                while f >= 0:
                    self.pool.free(self.frags[f].packet)
                    f = self.frags[f].next
                self.dgrams[i].used = False
        for i in range(REASM_BUCKETS):
            self.buckets[i] = -1
        self.mem_used = 0
        for i in range(self.nexpired):
            self.pool.free(self.expired[i])
        self.nexpired = 0

    # ---- storage (grows, never per packet in steady state) ------------------
    cdef int32_t _new_fragment(self) except -2:
        cdef int32_t i, cap
        cdef ReasmFragment* grown
        if self.frag_free < 0:
            cap = max(64, 2 * self.nfrags_cap)
            grown = <ReasmFragment*>realloc(self.frags, cap * sizeof(ReasmFragment))
            if grown == NULL:
                raise MemoryError()
            self.frags = grown
            for i in range(self.nfrags_cap, cap):
                self.frags[i].next = i + 1 if i + 1 < cap else self.frag_free
            self.frag_free = self.nfrags_cap
            self.nfrags_cap = cap
        i = self.frag_free
        self.frag_free = self.frags[i].next
        self.frags[i].next = -1
        return i

    cdef int32_t _new_datagram(self) except -2:
        cdef int32_t i, cap
        cdef ReasmDatagram* grown
        if self.dgram_free < 0:
            cap = max(16, 2 * self.ndgrams_cap)
            grown = <ReasmDatagram*>realloc(self.dgrams, cap * sizeof(ReasmDatagram))
            if grown == NULL:
                raise MemoryError()
            self.dgrams = grown
            for i in range(self.ndgrams_cap, cap):
                self.dgrams[i].used = False
                self.dgrams[i].next = i + 1 if i + 1 < cap else self.dgram_free
            self.dgram_free = self.ndgrams_cap
            self.ndgrams_cap = cap
        i = self.dgram_free
        self.dgram_free = self.dgrams[i].next
        return i

    cdef void _release(self, int32_t d, bint free_packets) noexcept:
        """Unlink datagram d from its bucket and recycle it and its fragment records."""
        cdef ReasmDatagram* g = &self.dgrams[d]
        cdef int32_t* link = &self.buckets[g.id % REASM_BUCKETS]
        cdef int32_t f, nxt
        while link[0] != d:
            link = &self.dgrams[link[0]].next
        link[0] = g.next
        f = g.first
        while f >= 0:
            nxt = self.frags[f].next
            if free_packets:
                self.pool.free(self.frags[f].packet)
            self.frags[f].next = self.frag_free
            self.frag_free = f
            f = nxt
        self.mem_used -= g.mem
        g.used = False
        g.next = self.dgram_free
        self.dgram_free = d

    # ---- the datagram --------------------------------------------------------
    cdef int _complete(self, ReasmDatagram* g) except -1:
        """True when the fragments cover [0, total) (total known)."""
        cdef uint32_t covered = 0, n = 0, i
        cdef int32_t f
        cdef uint32_t* grown
        if g.total < 0 or g.data_bytes < <uint32_t>g.total:
            return False
        if g.nfrags > self.scratch_cap:
            grown = <uint32_t*>realloc(self.scratch, g.nfrags * sizeof(uint32_t))
            if grown == NULL:
                raise MemoryError()
            self.scratch = grown
            self.scratch_cap = g.nfrags
        f = g.first
        while f >= 0:
            self.scratch[n] = (<uint32_t>self.frags[f].off << 16) | self.frags[f].lastoff
            n += 1
            f = self.frags[f].next
        qsort(self.scratch, n, sizeof(uint32_t), _cmp_u32)
        for i in range(n):
            if (self.scratch[i] >> 16) > covered:
                return False
            if (self.scratch[i] & 0xFFFF) > covered:
                covered = self.scratch[i] & 0xFFFF
        return covered >= <uint32_t>g.total

    cdef uint32_t _assemble(self, ReasmDatagram* g, bint complete) noexcept:
        """A new packet holding g's datagram (holes zeroed when incomplete), or NO_PACKET."""
        cdef PacketPool pool = self.pool
        cdef int32_t f, head = -1
        cdef uint32_t payload = 0, pre = 0, hlen = IP_MIN_HEADER, y
        cdef Anno* ha
        cdef Anno* qa
        cdef Anno* fa
        cdef uint8_t* hiph
        cdef const uint8_t* fiph
        cdef uint8_t* q
        f = g.first
        while f >= 0:
            if self.frags[f].off == 0:
                head = f                 # the latest fragment at offset 0 gives the header
            if self.frags[f].lastoff > payload:
                payload = self.frags[f].lastoff
            f = self.frags[f].next
        if head < 0:
            head = g.first
        ha = &pool.anno[self.frags[head].packet]
        hiph = ip_header(ha)
        if self.frags[head].off == 0:
            hlen = (hiph[0] & 15) << 2
            pre = <uint32_t>(ha.net_off - <int32_t>ha.headroom)
        if hlen + payload > 65535:
            return NO_PACKET
        y = pool.alloc(pre + hlen + payload)
        if y == NO_PACKET:
            return NO_PACKET
        qa = &pool.anno[y]
        q = qa.data
        memcpy(q, hiph - pre, pre + IP_MIN_HEADER)
        if hlen > IP_MIN_HEADER:
            memcpy(q + pre + IP_MIN_HEADER, hiph + IP_MIN_HEADER, hlen - IP_MIN_HEADER)
        q[pre] = 0x40 | <uint8_t>(hlen >> 2)
        if not complete:
            memset(q + pre + hlen, 0, payload)
        f = g.first
        while f >= 0:
            fa = &pool.anno[self.frags[f].packet]
            fiph = ip_header(fa)
            memcpy(q + pre + hlen + self.frags[f].off, fiph + ((fiph[0] & 15) << 2),
                   self.frags[f].lastoff - self.frags[f].off)
            f = self.frags[f].next
        copy_annotations(qa, ha)
        if pre and ha.mac_off >= <int32_t>ha.headroom:
            qa.mac_off = <int32_t>qa.headroom + (ha.mac_off - <int32_t>ha.headroom)
        set_ip_header(qa, q + pre, hlen)
        store_be16(q + pre + 2, <uint16_t>(hlen + payload))
        store_be16(q + pre + 6, load_be16(q + pre + 6) & (IP_DF | IP_RF))
        ip_set_checksum(q + pre, hlen)
        qa.timestamp = pool.anno[self.frags[g.last].packet].timestamp
        if self.mtu_anno >= 0:
            store_be16(&qa.user[self.mtu_anno], g.max_fragment)
        return y

    cdef int _give_up(self, int32_t d) except -1:
        """Expire datagram d: its partial datagram to output 1, or drop it."""
        cdef uint32_t y = NO_PACKET
        self.failed_assem += 1
        if self.noutputs > 1:
            y = self._assemble(&self.dgrams[d], False)
        self._release(d, True)
        if y != NO_PACKET:
            self.expired[self.nexpired] = y
            self.nexpired += 1
            if self.nexpired == 256:
                self._flush_expired()
        return 0

    cdef int _flush_expired(self) except -1:
        cdef uint32_t n = self.nexpired
        cdef uint32_t xs[256]
        memcpy(xs, self.expired, n * sizeof(uint32_t))
        self.nexpired = 0
        return emit_list(self, 1, xs, n)

    cdef int _reap(self, uint32_t now) except -1:
        cdef int32_t d
        for d in range(self.ndgrams_cap):
            if self.dgrams[d].used and self.dgrams[d].start_sec + REASM_TIMEOUT < now:
                self._give_up(d)
        self.reap_time = now + REASM_REAP_INTERVAL
        return 0

    cdef int _reap_overfull(self) except -1:
        cdef int32_t d, oldest
        while self.mem_used > self.lowmem:
            oldest = -1
            for d in range(self.ndgrams_cap):
                if self.dgrams[d].used and (oldest < 0 or self.dgrams[d].start_sec < self.dgrams[oldest].start_sec):
                    oldest = d
            if oldest < 0:
                break
            self._give_up(oldest)
        return 0

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint8_t* iph
        cdef uint32_t i, x, k = 0, y, hlen, offfield, p_off, p_lastoff, now
        cdef uint64_t clock = 0
        cdef int32_t d, f, tlen
        cdef ReasmDatagram* g
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            iph = ip_header(a)
            if iph == NULL or network_length(a) < IP_MIN_HEADER or not ip_is_fragment(iph):
                b.idx[k] = x
                k += 1
                continue
            self.frags_seen += 1
            if a.timestamp == 0:
                if clock == 0:
                    clock = realtime_ns()
                a.timestamp = clock
            now = <uint32_t>(a.timestamp // 1000000000ULL)
            if now >= self.reap_time:
                self._reap(now)
            hlen = (iph[0] & 15) << 2
            offfield = load_be16(iph + 6)
            p_off = (offfield & IP_OFFMASK) << 3
            p_lastoff = p_off + load_be16(iph + 2) - hlen
            tlen = network_length(a) - <int32_t>hlen
            if (hlen < IP_MIN_HEADER or load_be16(iph + 2) < hlen or p_lastoff > 0xFFFF
                    or p_lastoff <= p_off or (p_lastoff & 7 and offfield & IP_MF)
                    or tlen < <int32_t>(p_lastoff - p_off)):
                self.bad_pkts += 1
                pool.free(x)
                continue
            a.len -= <uint32_t>tlen - (p_lastoff - p_off)       # trailing padding
            if self.mem_used > self.himem:
                self._reap_overfull()
            d = self._find(iph)
            if d < 0:
                d = self._new_datagram()
                g = &self.dgrams[d]
                g.src = load_be32(iph + 12)
                g.dst = load_be32(iph + 16)
                g.id = load_be16(iph + 4)
                g.proto = iph[9]
                g.used = True
                g.first = g.last = -1
                g.nfrags = 0
                g.start_sec = now
                g.total = -1
                g.mem = 0
                g.max_fragment = 0
                g.data_bytes = 0
                g.next = self.buckets[g.id % REASM_BUCKETS]
                self.buckets[g.id % REASM_BUCKETS] = d
            g = &self.dgrams[d]
            if not self._consistent(g, p_off, p_lastoff, (offfield & IP_MF) != 0):
                self.bad_pkts += 1
                pool.free(x)
                continue
            if not offfield & IP_MF:
                g.total = <int32_t>p_lastoff
            f = self._new_fragment()
            g = &self.dgrams[d]
            self.frags[f].packet = x
            self.frags[f].off = <uint16_t>p_off
            self.frags[f].lastoff = <uint16_t>p_lastoff
            if g.last >= 0:
                self.frags[g.last].next = f
            else:
                g.first = f
            g.last = f
            g.nfrags += 1
            g.mem += REASM_FRAGMENT_COST + p_lastoff - p_off
            g.data_bytes += p_lastoff - p_off
            self.mem_used += REASM_FRAGMENT_COST + p_lastoff - p_off
            if <uint32_t>network_length(a) > g.max_fragment:
                g.max_fragment = <uint16_t>network_length(a)
            if self._complete(g):
                y = self._assemble(g, True)
                self._release(d, True)
                if y == NO_PACKET:
                    self.failed_assem += 1
                else:
                    self.good_assem += 1
                    b.idx[k] = y
                    k += 1
        b.n = k
        if self.nexpired:
            self._flush_expired()
        return 0

    cdef int32_t _find(self, const uint8_t* iph) noexcept:
        cdef uint16_t ip_id = load_be16(iph + 4)
        cdef uint32_t src = load_be32(iph + 12), dst = load_be32(iph + 16)
        cdef int32_t d = self.buckets[ip_id % REASM_BUCKETS]
        while d >= 0:
            if (self.dgrams[d].id == ip_id and self.dgrams[d].src == src
                    and self.dgrams[d].dst == dst and self.dgrams[d].proto == iph[9]):
                return d
            d = self.dgrams[d].next
        return -1

    cdef bint _consistent(self, ReasmDatagram* g, uint32_t p_off, uint32_t p_lastoff, bint mf) noexcept:
        """False if the fragment contradicts the datagram's known end."""
        cdef int32_t f
        if g.total >= 0 and (p_lastoff > <uint32_t>g.total or (not mf and p_lastoff != <uint32_t>g.total)):
            return False
        if not mf:
            f = g.first
            while f >= 0:
                if self.frags[f].lastoff > p_lastoff:
                    return False
                f = self.frags[f].next
        return True

    def _dump(self):
        cdef int32_t d, f
        cdef ReasmDatagram* g
        lines = [f"frags seen total:    {self.frags_seen}",
                 f"good reassemblies:   {self.good_assem}",
                 f"failed reassemblies: {self.failed_assem}",
                 f"bad fragments seen:  {self.bad_pkts}",
                 "cached chunk data:"]
        for d in range(self.ndgrams_cap):
            if self.dgrams[d].used:
                g = &self.dgrams[d]
                chunks = []
                f = g.first
                while f >= 0:
                    chunks.append(f"({self.frags[f].off},{self.frags[f].lastoff})")
                    f = self.frags[f].next
                lines.append(f" {ip_str(g.src)} > {ip_str(g.dst)} proto {g.proto} id {g.id} " + " ".join(chunks))
        return "\n".join(lines) + "\n"

    def add_handlers(self):
        self.add_read_handler("dump", self._dump)
        self.add_read_handler("frags_seen", lambda: self.frags_seen)
        self.add_read_handler("good_assem", lambda: self.good_assem)
        self.add_read_handler("failed_assem", lambda: self.failed_assem)
        self.add_read_handler("bad_pkts", lambda: self.bad_pkts)
        self.add_read_handler("mem_used", lambda: self.mem_used)
