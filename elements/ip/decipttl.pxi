# EXPORT_ELEMENT DecIPTTL

cdef class DecIPTTL(Element):
    """DecIPTTL([KEYWORDS])

    Decrements the IP time-to-live, drops dead packets.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic; output 1 push.

    Expects IP packets with the network header annotation set. If the TTL
    is 1 or less (expired), the packet leaves on output 1 (usually to an
    ICMPError for time exceeded), or is dropped when there is no output 1.
    Otherwise the TTL is decremented, the header checksum is updated
    incrementally (RFC 1624), and the packet leaves on output 0. Packets
    without an IP header annotation count as drops and go to output 1.

    Keywords:
      ACTIVE     Boolean. If false, pass every packet unchanged (true).
      MULTICAST  Boolean. If false, leave multicast packets' TTL alone (true).

    Handlers:
      drops (read)          packets with expired TTL (or no IP header)
      active (read/write)   ACTIVE

    Example:
      ... -> CheckIPHeader -> dt :: DecIPTTL -> ...
      dt[1] -> ICMPError(18.26.4.24, timeexceeded) -> ...
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef readonly uint64_t drops
    cdef bint active, multicast

    def configure(self, args):
        self.active = args.read("ACTIVE", BOOL, True)
        self.multicast = args.read("MULTICAST", BOOL, True)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint8_t* iph
        cdef uint32_t rejected[256]
        cdef uint32_t at[256]           # positions of the rejected packets
        cdef uint32_t i, nrej = 0
        cdef bint multicast = self.multicast
        if not self.active:
            return 0
        for i in range(b.n):
            a = &anno[b.idx[i]]
            if unlikely(a.net_off < 0):
                at[nrej] = i
                nrej += 1
                continue
            iph = a.data - a.headroom + a.net_off
            if unlikely(not multicast) and (iph[16] & 0xF0) == 0xE0:
                pass
            elif unlikely(iph[8] <= 1):
                at[nrej] = i
                nrej += 1
            else:
                ip_decrement_ttl(iph)
        take_out(b, at, nrej, rejected)
        self.drops += nrej
        return emit_list(self, 1, rejected, nrej)

    def add_handlers(self):
        self.add_read_handler("drops", lambda: self.drops)
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", self._set_active)

    def _set_active(self, value):
        self.active = BOOL(value.strip())
