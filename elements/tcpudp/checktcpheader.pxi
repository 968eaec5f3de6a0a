# EXPORT_ELEMENT CheckTCPHeader

CHECKTCP_REASONS = ("not TCP", "bad packet length", "bad TCP checksum")


cdef class CheckTCPHeader(Element):
    """CheckTCPHeader([KEYWORDS])

    Checks TCP headers.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic; output 1 push.

    Expects TCP packets with the network header annotation set. Checks that
    the packet is TCP and not a fragment, that the TCP data offset is at
    least 20 bytes and within the IP payload, that the payload lies within
    the packet, and that the TCP checksum (over the pseudo header and the
    whole segment) is valid. Invalid packets go to output 1, or are dropped;
    a message is printed for the first (every one with VERBOSE).

    Keywords:
      CHECKSUM  Boolean. Check checksums (true).
      VERBOSE   Boolean. Report every invalid packet (false).
      DETAILS   Boolean. Accepted for Click compatibility; counts by reason are always kept.

    Handlers:
      drops (read)         invalid packets
      drop_details (read)  invalid packets by reason, one "count<TAB>reason" line each
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef bint verbose, checksum
    cdef readonly uint64_t drops
    cdef uint64_t reason_drops[3]

    def configure(self, args):
        self.checksum = args.read("CHECKSUM", BOOL, True)
        self.verbose = args.read("VERBOSE", BOOL, False)
        args.read("DETAILS", BOOL, False)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef const uint8_t* iph
        cdef const uint8_t* tcp
        cdef uint32_t rejected[256]
        cdef uint8_t why[256]
        cdef uint32_t i, x, k = 0, nrej = 0, hlen, ip_len, length, off
        cdef int r
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            iph = ip_header(a)
            r = -1
            if iph == NULL or network_length(a) < IP_MIN_HEADER or iph[9] != IP_PROTO_TCP or ip_is_fragment(iph):
                r = 0
            else:
                hlen = (iph[0] & 15) << 2
                ip_len = load_be16(iph + 2)
                tcp = iph + hlen
                length = ip_len - hlen if ip_len >= hlen else 0
                if length < TCP_MIN_HEADER or <int32_t>ip_len > network_length(a):
                    r = 1
                else:
                    off = (tcp[12] >> 4) << 2
                    if off < TCP_MIN_HEADER or off > length:
                        r = 1
                    elif self.checksum and not transport_checksum_ok(iph, tcp, length, IP_PROTO_TCP):
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
        return reject_counted(self, xs, why, n, "TCP", CHECKTCP_REASONS, self.verbose, &self.drops, self.reason_drops)

    def _drop_details(self):
        return "".join(f"{self.reason_drops[i]}\t{CHECKTCP_REASONS[i]}\n" for i in range(3))

    def add_handlers(self):
        self.add_read_handler("drops", lambda: self.drops)
        self.add_read_handler("drop_details", self._drop_details)
