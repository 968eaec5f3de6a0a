# EXPORT_ELEMENT IPInputCombo

cdef class IPInputCombo(Element):
    """IPInputCombo(COLOR [, BADSRC, KEYWORDS])

    Input combo for IP routing.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    One element for the common steps of an IP router's input path, the
    same as

      Paint(COLOR) -> Strip(14) -> CheckIPHeader(BADSRC) -> GetIPAddress(16)

    Packets that fail the header check (including frames too short for an
    Ethernet header) are dropped and counted. The positional BADSRC uses
    CheckIPHeader's old syntax (it also rejects 0.0.0.0 and
    255.255.255.255).

    Keywords:
      INTERFACES  List of ADDR/LEN. As CheckIPHeader.
      BADSRC      IP address list. As CheckIPHeader.
      GOODDST     IP address list. As CheckIPHeader.

    Handlers:
      drops (read)         packets dropped
      drop_details (read)  drops by reason, one "count<TAB>reason" line each

    Example:
      FromDevice(eth0) -> c :: Classifier(12/0800, ...) -> IPInputCombo(1) -> ...
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint8_t color
    cdef AddressArray bad_src, good_dst
    cdef readonly uint64_t drops
    cdef uint64_t reason_drops[6]

    def configure(self, args):
        self.color = args.read_mp("COLOR", Int(0, 255))
        bad, good, _ = parse_bad_src_args(self, args, False)
        self.bad_src = AddressArray(bad)
        self.good_dst = AddressArray(good)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef const uint32_t* bad_src = self.bad_src.addrs
        cdef const uint32_t* good_dst = self.good_dst.addrs
        cdef int nbad_src = self.bad_src.n, ngood_dst = self.good_dst.n
        cdef uint8_t color = self.color
        cdef uint32_t i, x, k = 0
        cdef int r, first = -1         # the reason of the element's first drop, reported once
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            a.user[PAINT_ANNO] = color
            if a.len < 14:
                r = CHECKIP_TINY
            else:
                a.data += 14
                a.headroom += 14
                a.len -= 14
                r = check_ip_header(a, 0, True, bad_src, nbad_src, good_dst, ngood_dst)
            if r == CHECKIP_OK:
                b.idx[k] = x
                k += 1
            else:
                if self.drops == 0:
                    first = r
                self.drops += 1
                self.reason_drops[r] += 1
                self.pool.free(x)
        b.n = k
        if first >= 0:
            self._report(first)
        return 0

    cdef int _report(self, int reason) except -1:
        chatter(self, f"IP header check failed: {CHECKIP_REASONS[reason]}")
        return 0

    def _drop_details(self):
        return "".join(f"{self.reason_drops[i]}\t{CHECKIP_REASONS[i]}\n" for i in range(CHECKIP_NREASONS))

    def add_handlers(self):
        self.add_read_handler("drops", lambda: self.drops)
        self.add_read_handler("drop_details", self._drop_details)
