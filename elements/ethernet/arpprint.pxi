# EXPORT_ELEMENT ARPPrint

cdef extern from "<stdio.h>" nogil:
    int snprintf(char* buf, size_t n, const char* fmt, ...)

cdef enum:
    ARPPRINT_LINE_MAX = 256         # one line, without the label


cdef inline int fmt_ip(char* p, const uint8_t* a) noexcept:
    return snprintf(p, 16, "%u.%u.%u.%u", a[0], a[1], a[2], a[3])


cdef inline int fmt_eth(char* p, const uint8_t* a) noexcept:
    return snprintf(p, 18, "%02X-%02X-%02X-%02X-%02X-%02X", a[0], a[1], a[2], a[3], a[4], a[5])


cdef int fmt_arp(char* p, const uint8_t* arp, int64_t n) noexcept:
    """The body of an ARPPrint line (describe_arp in C): at most 200 bytes."""
    cdef char* start = p
    cdef uint16_t hrd, pro, op
    cdef uint8_t hln, pln
    cdef const uint8_t* sha
    cdef const uint8_t* spa
    cdef const uint8_t* tha
    cdef const uint8_t* tpa
    cdef int i
    cdef bint zero = True
    if n < 8:
        return snprintf(p, 40, "truncated-arp (%d)", <int>n)
    hrd = load_be16(arp)
    pro = load_be16(arp + 2)
    hln = arp[4]
    pln = arp[5]
    op = load_be16(arp + 6)
    if (pro != ETHERTYPE_IP and pro != ETHERTYPE_TRAIL) or pln != 4 or hln == 0:
        return snprintf(p, 100, "arp-#%u for proto #%u (%u) hardware #%u (%u)", op, pro, pln, hrd, hln)
    if n < 28:
        return snprintf(p, 40, "truncated-arp (%d)", <int>n)
    sha = arp + 8
    spa = arp + 14
    tha = arp + 18
    tpa = arp + 24
    if pro == ETHERTYPE_TRAIL:
        p += snprintf(p, 10, "trailer-")
    if op == ARPOP_REQUEST:
        p += snprintf(p, 20, "arp who-has ")
        p += fmt_ip(p, tpa)
        for i in range(6):
            if tha[i]:
                zero = False
        if not zero:
            p += snprintf(p, 3, " (")
            p += fmt_eth(p, tha)
            p += snprintf(p, 2, ")")
        p += snprintf(p, 8, " tell ")
        p += fmt_ip(p, spa)
    elif op == ARPOP_REPLY:
        p += snprintf(p, 20, "arp reply ")
        p += fmt_ip(p, spa)
        p += snprintf(p, 8, " is-at ")
        p += fmt_eth(p, sha)
    elif op == ARPOP_REVREQUEST or op == ARPOP_INVREQUEST:
        p += snprintf(p, 20, "rarp who-is " if op == ARPOP_REVREQUEST else "invarp who-is ")
        p += fmt_eth(p, tha)
        p += snprintf(p, 8, " tell ")
        p += fmt_eth(p, sha)
    elif op == ARPOP_REVREPLY or op == ARPOP_INVREPLY:
        p += snprintf(p, 20, "rarp reply " if op == ARPOP_REVREPLY else "invarp reply ")
        p += fmt_eth(p, tha)
        p += snprintf(p, 6, " at ")
        p += fmt_ip(p, tpa)
    else:
        p += snprintf(p, 20, "arp-#%u", op)
    if hrd != ARPHRD_ETHER:
        p += snprintf(p, 24, "hardware #%u", hrd)
    return <int>(p - start)


cdef class ARPPrint(Element):
    """ARPPrint([LABEL, KEYWORDS])

    Pretty-prints ARP packets a la tcpdump.

    Ports: 1 input, 1 output. Processing: agnostic.

    Prints one line per ARP packet to standard error (or OUTFILE), preceded
    by LABEL, and passes the packet on unchanged: `who-has` requests,
    `is-at` replies, RARP and InARP, or what is wrong with it. The ARP
    header is at the network header annotation; a packet without one is
    read as an Ethernet frame (ARP at byte 14) if its type is ARP, and
    otherwise not printed. Lines are formatted in C and written once per
    batch.

    Keywords:
      TIMESTAMP  Boolean. Print each packet's timestamp (default true).
      ETHER      Boolean. Print the Ethernet addresses (default false).
      OUTFILE    Filename. Print there instead of standard error.
      ACTIVE     Boolean. Print (default true).

    Handlers:
      active (read/write)  ACTIVE
    """

    port_count = "1/1"
    processing = "a/a"

    cdef bytes label
    cdef bint timestamp, ether, active
    cdef object outfile_name
    cdef object outfile
    cdef char* text
    cdef size_t text_cap

    def __dealloc__(self):
        c_free(self.text)

    def configure(self, args):
        label = args.read_p("LABEL", STRING, "")
        self.label = label.encode("utf-8", "surrogateescape")[:200]
        self.timestamp = args.read("TIMESTAMP", BOOL, True)
        self.ether = args.read("ETHER", BOOL, False)
        self.outfile_name = args.read("OUTFILE", FILENAME, None)
        self.active = args.read("ACTIVE", BOOL, True)

    def initialize(self):
        if self.outfile_name is not None:
            try:
                self.outfile = open(self.outfile_name, "w", encoding="utf-8")
            except OSError as e:
                raise self.error(f"{self.outfile_name}: {e.strerror}") from None

    def cleanup(self):
        if self.outfile is not None:
            self.outfile.close()
            self.outfile = None

    cdef int process(self, Batch* b) except -1:
        cdef uint32_t i
        cdef size_t used = 0, need
        cdef char* grown
        if not self.active or b.n == 0:
            return 0
        need = b.n * (len(self.label) + ARPPRINT_LINE_MAX)
        if need > self.text_cap:
            grown = <char*>realloc(self.text, need)
            if grown == NULL:
                raise MemoryError()
            self.text = grown
            self.text_cap = need
        for i in range(b.n):
            used += self._format(self.text + used, b.idx[i])
        if used:
            self._emit(self.text[:used].decode("utf-8", "replace"))
        return 0

    cdef size_t _format(self, char* out, uint32_t x) noexcept:
        """One line (with its newline) into out, or nothing if x is not ARP."""
        cdef Anno* a = &self.pool.anno[x]
        cdef const uint8_t* base = a.data - a.headroom
        cdef const uint8_t* end = a.data + a.len
        cdef int32_t net, mac
        cdef char* p = out
        cdef size_t nlabel = len(self.label)
        if a.net_off >= <int32_t>a.headroom:
            net = a.net_off
        elif a.len >= ETHER_HEADER_LEN and load_be16(a.data + 12) == ETHERTYPE_ARP:
            net = <int32_t>a.headroom + ETHER_HEADER_LEN
        else:
            return 0
        mac = a.mac_off if a.mac_off >= 0 else <int32_t>a.headroom
        if nlabel:
            memcpy(p, <const char*>self.label, nlabel)
            p += nlabel
            p[0] = c':'
            p[1] = c' '
            p += 2
        if self.timestamp:
            p += snprintf(p, 40, "%llu.%06llu: ", <unsigned long long>(a.timestamp // 1000000000ULL),
                          <unsigned long long>(a.timestamp % 1000000000ULL // 1000))
        if self.ether and mac + ETHER_HEADER_LEN <= net and base + mac + ETHER_HEADER_LEN <= end:
            p += fmt_eth(p, base + mac + 6)
            p += snprintf(p, 4, " > ")
            p += fmt_eth(p, base + mac)
            p += snprintf(p, 3, ": ")
        p += fmt_arp(p, base + net, end - (base + net))
        p[0] = c'\n'
        p += 1
        return <size_t>(p - out)

    def _emit(self, str text):
        if self.outfile is not None:
            self.outfile.write(text)
        else:
            import sys
            sys.stderr.write(text)

    def add_handlers(self):
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", lambda v: self._set_active(BOOL(v.strip())))

    def _set_active(self, bint active):
        self.active = active
