# EXPORT_ELEMENT ARPPrint

def describe_arp(bytes arp, bytes ether=None) -> str:
    """tcpdump's one-line description of an ARP packet (Click's ARPPrint)."""
    out = ""
    if ether is not None:
        out += f"{unparse_ether(ether[6:12])} > {unparse_ether(ether[0:6])}: "
    if len(arp) < 8:
        return out + f"truncated-arp ({len(arp)})"
    hrd, pro = load_be16(arp), load_be16(<const uint8_t*>arp + 2)
    hln, pln, op = arp[4], arp[5], load_be16(<const uint8_t*>arp + 6)
    if (pro != ETHERTYPE_IP and pro != ETHERTYPE_TRAIL) or pln != 4 or hln == 0:
        return out + f"arp-#{op} for proto #{pro} ({pln}) hardware #{hrd} ({hln})"
    if len(arp) < 28:
        return out + f"truncated-arp ({len(arp)})"
    sha, spa, tha, tpa = arp[8:14], arp[14:18], arp[18:24], arp[24:28]
    if pro == ETHERTYPE_TRAIL:
        out += "trailer-"
    if op == ARPOP_REQUEST:
        out += f"arp who-has {unparse_ip(tpa)}"
        if tha != bytes(6):
            out += f" ({unparse_ether(tha)})"
        out += f" tell {unparse_ip(spa)}"
    elif op == ARPOP_REPLY:
        out += f"arp reply {unparse_ip(spa)} is-at {unparse_ether(sha)}"
    elif op == ARPOP_REVREQUEST:
        out += f"rarp who-is {unparse_ether(tha)} tell {unparse_ether(sha)}"
    elif op == ARPOP_REVREPLY:
        out += f"rarp reply {unparse_ether(tha)} at {unparse_ip(tpa)}"
    elif op == ARPOP_INVREQUEST:
        out += f"invarp who-is {unparse_ether(tha)} tell {unparse_ether(sha)}"
    elif op == ARPOP_INVREPLY:
        out += f"invarp reply {unparse_ether(tha)} at {unparse_ip(tpa)}"
    else:
        out += f"arp-#{op}"
    if hrd != ARPHRD_ETHER:
        out += f"hardware #{hrd}"
    return out


cdef class ARPPrint(Element):
    """ARPPrint([LABEL, KEYWORDS])

    Pretty-prints ARP packets a la tcpdump.

    Ports: 1 input, 1 output. Processing: agnostic.

    Prints one line per ARP packet to standard error (or OUTFILE), preceded
    by LABEL, and passes the packet on unchanged: `who-has` requests,
    `is-at` replies, RARP and InARP, or what is wrong with it. The ARP
    header is at the network header annotation; a packet without one is
    read as an Ethernet frame (ARP at byte 14) if its type is ARP, and
    otherwise not printed.

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

    cdef object label
    cdef bint timestamp, ether, active
    cdef object outfile_name
    cdef object outfile

    def configure(self, args):
        self.label = args.read_p("LABEL", STRING, "")
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
        if not self.active:
            return 0
        for i in range(b.n):
            line = self._line(b.idx[i])
            if line is not None:
                if self.outfile is not None:
                    self.outfile.write(line + "\n")
                else:
                    import sys
                    print(line, file=sys.stderr)
        return 0

    cdef object _line(self, uint32_t x):
        cdef Anno* a = &self.pool.anno[x]
        cdef const uint8_t* base = a.data - a.headroom
        cdef int32_t net, mac
        cdef const uint8_t* end = a.data + a.len
        if a.net_off >= <int32_t>a.headroom:
            net = a.net_off
        elif a.len >= ETHER_HEADER_LEN and load_be16(a.data + 12) == ETHERTYPE_ARP:
            net = <int32_t>a.headroom + ETHER_HEADER_LEN
        else:
            return None
        mac = a.mac_off if a.mac_off >= 0 else <int32_t>a.headroom
        text = ""
        if self.label:
            text += f"{self.label}: "
        if self.timestamp:
            text += f"{a.timestamp // 1000000000}.{a.timestamp % 1000000000 // 1000:06d}: "
        ether = None
        if self.ether and mac + ETHER_HEADER_LEN <= net and base + mac + ETHER_HEADER_LEN <= end:
            ether = (<const char*>base + mac)[:ETHER_HEADER_LEN]
        arp = (<const char*>base + net)[:max(<int>(end - (base + net)), 0)]
        return text + describe_arp(arp, ether)

    def add_handlers(self):
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", lambda v: self._set_active(BOOL(v.strip())))

    def _set_active(self, bint active):
        self.active = active
