# EXPORT_ELEMENT CheckICMPHeader

CHECKICMP_REASONS = ("not ICMP", "bad packet length", "bad ICMP checksum")


cdef class CheckICMPHeader(Element):
    """CheckICMPHeader([KEYWORDS])

    Checks ICMP headers.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic; output 1 push.

    Expects ICMP packets with the network header annotation set. Checks
    that the packet is ICMP, that the ICMP message (the IP length less the
    header) holds at least the 8-byte ICMP header and lies within the
    packet, and that its checksum is valid. Invalid packets go to output 1,
    or are dropped; a message is printed for the first (every one with
    VERBOSE).

    Keywords:
      VERBOSE  Boolean. Report every invalid packet (false).
      DETAILS  Boolean. Accepted for Click compatibility; counts by reason are always kept.

    Handlers:
      drops (read)         invalid packets
      drop_details (read)  invalid packets by reason, one "count<TAB>reason" line each
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef bint verbose
    cdef readonly uint64_t drops
    cdef uint64_t reason_drops[3]

    def configure(self, args):
        self.verbose = args.read("VERBOSE", BOOL, False)
        args.read("DETAILS", BOOL, False)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef const uint8_t* iph
        cdef uint32_t rejected[256]
        cdef uint8_t why[256]
        cdef uint32_t i, x, k = 0, nrej = 0, hlen, length
        cdef int r
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            iph = ip_header(a)
            r = -1
            if iph == NULL or network_length(a) < IP_MIN_HEADER or iph[9] != IP_PROTO_ICMP:
                r = 0
            else:
                hlen = (iph[0] & 15) << 2
                length = load_be16(iph + 2) - hlen if load_be16(iph + 2) >= hlen else 0
                if length < ICMP_HEADER or <int32_t>(hlen + length) > network_length(a):
                    r = 1
                elif csum_fold(csum_add(0, iph + hlen, length)) != 0:
                    r = 2
            if r < 0:
                b.idx[k] = x
                k += 1
            else:
                rejected[nrej] = x
                why[nrej] = <uint8_t>r
                nrej += 1
        b.n = k
        if nrej:
            self._reject(rejected, why, nrej)
        return 0

    cdef int _reject(self, uint32_t* xs, uint8_t* why, uint32_t n) except -1:
        cdef uint32_t i
        if self.verbose or self.drops == 0:
            self._report(why[:n] if self.verbose else why[:1])
        for i in range(n):
            self.reason_drops[why[i]] += 1
        self.drops += n
        return emit_list(self, 1, xs, n)

    def _report(self, bytes reasons):
        for r in reasons:
            chatter(self, f"ICMP header check failed: {CHECKICMP_REASONS[r]}")

    def _drop_details(self):
        return "".join(f"{self.reason_drops[i]}\t{CHECKICMP_REASONS[i]}\n" for i in range(3))

    def add_handlers(self):
        self.add_read_handler("drops", lambda: self.drops)
        self.add_read_handler("drop_details", self._drop_details)
