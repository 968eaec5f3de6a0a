# EXPORT_ELEMENT CheckIPHeader

CHECKIP_REASONS = ("tiny packet", "bad IP version", "bad IP header length",
                   "bad IP length", "bad IP checksum", "bad source address")

cdef enum:
    CHECKIP_OK = -1
    CHECKIP_TINY = 0
    CHECKIP_BAD_VERSION = 1
    CHECKIP_BAD_HLEN = 2
    CHECKIP_BAD_LENGTH = 3
    CHECKIP_BAD_CHECKSUM = 4
    CHECKIP_BAD_SRC = 5
    CHECKIP_NREASONS = 6


cdef inline int check_ip_header(Anno* a, uint32_t offset, bint checksum,
                                const uint32_t* bad_src, int nbad_src,
                                const uint32_t* good_dst, int ngood_dst) noexcept nogil:
    """Check the IPv4 header `offset` bytes into a's data (Click's CheckIPHeader
    rules). A valid packet gets its network header and destination-IP
    annotations set and loses any bytes past the IP length; returns
    CHECKIP_OK, else the reason."""
    cdef uint8_t* iph = a.data + offset
    cdef int32_t plen = <int32_t>a.len - <int32_t>offset
    cdef uint32_t hlen, length
    if unlikely(plen < IP_MIN_HEADER):
        return CHECKIP_TINY
    # The common case in one comparison of the first 32 bits: version 4, no
    # options, any TOS, IP length equal to the packet's (so at least 20).
    if likely((load_be32(iph) & <uint32_t>0xFF00FFFF) == <uint32_t>0x45000000 + <uint32_t>plen
             and nbad_src == 0):
        if unlikely(checksum and not ip_header_checksum_ok(iph, IP_MIN_HEADER)):
            return CHECKIP_BAD_CHECKSUM
        a.net_off = <int32_t>(a.headroom + offset)
        a.trans_off = a.net_off + IP_MIN_HEADER
        copy_dst_ip_anno(a, iph + 16)
        return CHECKIP_OK
    if iph[0] >> 4 != 4:
        return CHECKIP_BAD_VERSION
    hlen = (iph[0] & 15) << 2
    if hlen < IP_MIN_HEADER:
        return CHECKIP_BAD_HLEN
    length = load_be16(iph + 2)
    if length > <uint32_t>plen or length < hlen:
        return CHECKIP_BAD_LENGTH
    if checksum and not ip_header_checksum_ok(iph, hlen):
        return CHECKIP_BAD_CHECKSUM
    # RFC 1812 5.3.7: drop illegal sources, unless sent to one of our addresses
    if (nbad_src and addr_in(bad_src, nbad_src, load_be32(iph + 12))
            and not addr_in(good_dst, ngood_dst, load_be32(iph + 16))):
        return CHECKIP_BAD_SRC
    set_ip_header(a, iph, hlen)
    a.len -= <uint32_t>plen - length       # Ethernet padding and the like
    copy_dst_ip_anno(a, iph + 16)
    return CHECKIP_OK


cdef inline uint32_t check_ip_batch(Anno* anno, Batch* b, uint32_t offset, bint checksum,
                                    const uint32_t* bad_src, int nbad_src,
                                    const uint32_t* good_dst, int ngood_dst,
                                    uint32_t* rejected, uint8_t* why) noexcept nogil:
    """Check every packet of b: valid ones stay (in order), invalid ones go to
    rejected[] with their reason in why[]; returns how many were rejected."""
    cdef uint32_t at[256]               # positions of the rejected packets
    cdef uint32_t i, nrej = 0
    cdef int r
    for i in range(b.n):
        r = check_ip_header(&anno[b.idx[i]], offset, checksum, bad_src, nbad_src, good_dst, ngood_dst)
        if unlikely(r != CHECKIP_OK):
            at[nrej] = i
            why[nrej] = <uint8_t>r
            nrej += 1
    take_out(b, at, nrej, rejected)
    return nrej


def parse_bad_src_args(elem, args, bint allow_offset):
    """CheckIPHeader's address keywords and its old positional syntax
    ([BADSRC2, OFFSET]); returns (bad sources, good destinations, offset)."""
    bad, good = [], []
    interfaces = args.read("INTERFACES", ANY, None)
    if interfaces is not None:
        try:
            ibad, igood = interfaces_arg(interfaces)
        except ValueError as e:
            raise args.error("INTERFACES", str(e)) from None
        bad += ibad
        good += igood
    bad += args.read("BADSRC", IP_LIST, [])
    good += args.read("GOODDST", IP_LIST, [])
    offset = args.read("OFFSET", UINT, 0) if allow_offset else 0
    rest = args.rest()
    if len(rest) == 1 and allow_offset and _parses(UINT, rest[0]):
        offset = UINT(rest[0])
    elif rest:
        # deprecated syntax: a positional BADSRC also rejects 0.0.0.0 and 255.255.255.255
        if not _parses(IP_LIST, rest[0]):
            raise args.error("BADSRC", "expected list of IP addresses")
        bad += IP_LIST(rest[0]) + [0, 0xFFFFFFFF]
        if len(rest) > 1:
            if not allow_offset or len(rest) > 2 or not _parses(UINT, rest[1]):
                raise args.error("", f"too many arguments (unexpected '{rest[1]}')")
            offset = UINT(rest[1])
    return bad, good, offset


def _parses(type_, text):
    try:
        type_(text)
        return True
    except ValueError:
        return False


cdef class CheckIPHeader(Element):
    """CheckIPHeader([OFFSET, KEYWORDS])

    Checks IP headers.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic; output 1 push.

    Input packets have IP headers starting OFFSET bytes in (default 0).
    Checks that the packet is long enough for an IP header, that the
    version is 4, that the header length is at least 20 and the IP length
    at least the header length and at most the packet length, and that the
    header checksum is valid. Checks that the source address is not on the
    BADSRC list unless the destination is on the GOODDST list (RFC 1812
    5.3.7). Valid packets get their network header and destination-IP
    annotations set, are cut to the IP length (Ethernet padding goes) and
    leave on output 0. Invalid packets leave on output 1 if it is
    connected, else are dropped; every drop is counted by reason.

    Prints a message the first time it meets an invalid packet (every time
    with VERBOSE).

    The old syntax CheckIPHeader(BADSRC2, OFFSET) is accepted: BADSRC2 acts
    like BADSRC and also rejects 0.0.0.0 and 255.255.255.255.

    Keywords:
      OFFSET      Unsigned. Byte offset of the IP header (0).
      CHECKSUM    Boolean. Check header checksums (true).
      BADSRC      IP address list. Reject packets from these sources (empty).
      GOODDST     IP address list. Exempt packets to these destinations from BADSRC (empty).
      INTERFACES  List of ADDR/LEN. The router's interfaces: their subnet broadcast
                  addresses, 0.0.0.0 and 255.255.255.255 join BADSRC and the
                  addresses join GOODDST.
      VERBOSE     Boolean. Print a message for every invalid packet (false).
      DETAILS     Boolean. Accepted for Click compatibility; counts by reason are always kept.

    Handlers:
      drops (read)         invalid packets seen
      drop_details (read)  invalid packets by reason, one "count<TAB>reason" line each

    Example:
      ... -> Strip(14) -> CheckIPHeader(INTERFACES 10.0.0.1/24 10.0.1.1/24) -> ...
    """

    port_count = "1/1-2"
    processing = "a/ah"
    default_checksum = True

    cdef uint32_t offset
    cdef bint checksum, verbose
    cdef AddressArray bad_src, good_dst
    cdef readonly uint64_t drops
    cdef uint64_t reason_drops[6]

    def configure(self, args):
        self.checksum = args.read("CHECKSUM", BOOL, type(self).default_checksum)
        self.verbose = args.read("VERBOSE", BOOL, False)
        args.read("DETAILS", BOOL, False)
        bad, good, offset = parse_bad_src_args(self, args, True)      # last: it takes the rest
        self.offset = offset
        self.bad_src = AddressArray(bad)
        self.good_dst = AddressArray(good)

    cdef int process(self, Batch* b) except -1:
        cdef uint32_t rejected[256]
        cdef uint8_t why[256]
        cdef uint32_t nrej
        # the common configurations get loops with their options as constants
        if self.bad_src.n == 0 and self.checksum and self.offset == 0:
            nrej = check_ip_batch(self.pool.anno, b, 0, True, NULL, 0, NULL, 0, rejected, why)
        elif self.bad_src.n == 0:
            nrej = check_ip_batch(self.pool.anno, b, self.offset, self.checksum, NULL, 0, NULL, 0, rejected, why)
        else:
            nrej = check_ip_batch(self.pool.anno, b, self.offset, self.checksum, self.bad_src.addrs,
                                  self.bad_src.n, self.good_dst.addrs, self.good_dst.n, rejected, why)
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
            chatter(self, f"IP header check failed: {CHECKIP_REASONS[r]}")

    def _drop_details(self):
        return "".join(f"{self.reason_drops[i]}\t{CHECKIP_REASONS[i]}\n" for i in range(CHECKIP_NREASONS))

    def add_handlers(self):
        self.add_read_handler("drops", lambda: self.drops)
        self.add_read_handler("drop_details", self._drop_details)
