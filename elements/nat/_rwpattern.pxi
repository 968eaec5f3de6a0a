# Rewrite patterns and input specifications (not an element).
#
# Click's pattern syntax: `SADDR SPORT DADDR DPORT` (address and port
# translation) or `SADDR DADDR` (addresses only); `-` keeps the packet's
# field. SPORT may be a range `L-H` and, in the two-word form, SADDR a range
# `A-B` or a prefix `A/N` (which leaves out the prefix's .0 and broadcast
# addresses); a new flow then gets a value from the range that no live flow
# of the rewriter uses: the packet's own if it is free, else a random one
# (`#` after the range: the next one in turn; `?`: never the packet's own).

cdef enum:
    SPEC_DROP = 0
    SPEC_NOCHANGE = 1
    SPEC_KEEP = 2
    SPEC_PATTERN = 3
    SPEC_MAPPER = 4
    # results of a spec for a packet without a mapping (>= 0: pass to that output)
    RW_DROP = -1
    RW_ADDMAP = -2


ctypedef struct Pattern:
    uint32_t saddr          # network byte order; 0 = keep the packet's
    uint32_t daddr
    uint16_t sport
    uint16_t dport
    uint32_t variation_top  # the range holds variation_top + 1 values; 0 = no range
    uint32_t next_variation
    uint8_t napt            # the range is of source ports (else of source addresses)
    uint8_t sequential
    uint8_t same_first


ctypedef struct Mapper:
    # RoundRobinIPMapper: patterns tried in turn
    int32_t n
    int32_t last
    Pattern** patterns
    int32_t* foutput
    int32_t* routput


ctypedef struct InputSpec:
    int32_t kind
    int32_t foutput
    int32_t routput
    Pattern* pattern
    Mapper* mapper
    uint32_t count          # live flows it made
    uint32_t failures       # flows it could not make


cdef inline uint32_t rand_below(uint32_t* state, uint32_t top) noexcept nogil:
    """A pseudo-random number in [0, top] (xorshift; not for secrets)."""
    cdef uint32_t x = state[0]
    x ^= x << 13
    x ^= x >> 17
    x ^= x << 5
    state[0] = x
    if top == <uint32_t>-1:
        return x
    return x % (top + 1)


cdef inline uint16_t net16(uint32_t host_value) noexcept nogil:
    """A port in host order as the packet holds it."""
    return <uint16_t>(((host_value & 0xFF) << 8) | ((host_value >> 8) & 0xFF))


cdef inline uint32_t host16(uint16_t net_value) noexcept nogil:
    return ((net_value & 0xFF) << 8) | (net_value >> 8)


cdef inline uint32_t net32(uint32_t host_value) noexcept nogil:
    cdef uint32_t v
    store_be32(<uint8_t*>&v, host_value)
    return v


cdef inline uint32_t host32(uint32_t net_value) noexcept nogil:
    return load_be32(<const uint8_t*>&net_value)


cdef inline int pattern_rewrite(const FlowTable* t, Pattern* p, const FlowKey* flow, uint8_t proto,
                                FlowKey* out, uint32_t* rng) noexcept nogil:
    """Click's IPRewriterPattern::rewrite_flowid: the flow's new identity, or
    RW_DROP when every value of the range is taken by a live flow."""
    cdef FlowKey lookup
    cdef uint32_t base, val, count, own
    out[0] = flow[0]
    if p.saddr:
        out.saddr = p.saddr
    if p.sport:
        out.sport = p.sport
    if p.daddr:
        out.daddr = p.daddr
    if p.dport:
        out.dport = p.dport
    if p.variation_top == 0:
        return RW_ADDMAP
    key_reverse(&lookup, out)
    base = host16(p.sport) if p.napt else host32(p.saddr)
    if p.same_first:
        own = host16(flow.sport) if p.napt else host32(flow.saddr)
        if own - base <= p.variation_top:
            if p.napt:
                lookup.dport = flow.sport
            else:
                lookup.daddr = flow.saddr
            if not table_lookup(t, &lookup, proto):
                val = own - base
                p.next_variation = val + 1
                if p.napt:
                    out.sport = lookup.dport
                else:
                    out.saddr = lookup.daddr
                return RW_ADDMAP
    if p.sequential:
        val = 0 if p.next_variation > p.variation_top else p.next_variation
    else:
        val = rand_below(rng, p.variation_top)
    count = 0
    while count <= p.variation_top:
        if p.napt:
            lookup.dport = net16(base + val)
        else:
            lookup.daddr = net32(base + val)
        if not table_lookup(t, &lookup, proto):
            p.next_variation = val + 1
            if p.napt:
                out.sport = lookup.dport
            else:
                out.saddr = lookup.daddr
            return RW_ADDMAP
        val = 0 if val == p.variation_top else val + 1
        count += 1
    return RW_DROP


# ---- parsing (cold) ------------------------------------------------------------

PATTERN_ERRORS = {"saddr": "bad source address", "sport": "bad source port",
                  "daddr": "bad destination address", "dport": "bad destination port"}


def _range_suffix(word):
    """Strip a trailing '#' (sequential) or '?' (random, not the packet's own)."""
    if word.endswith("#"):
        return word[:-1], True, False
    if word.endswith("?"):
        return word[:-1], False, False
    return word, False, True


def _port(word):
    v = parse_click_int(word, False)
    if v is None or not 0 < v < 65536:
        return None
    return v


def _address_variation(word):
    """'A-B' or 'A/N' -> (first address, variation) or None."""
    if "-" in word:
        a, _, b = word.partition("-")
        try:
            lo, hi = IPADDR(a), IPADDR(b)
        except ValueError:
            return None
        return (lo, hi - lo) if hi >= lo else None
    try:
        addr, mask = IPPREFIX(word)
    except ValueError:
        return None
    host_bits = ~mask & 0xFFFFFFFF
    if not addr or not mask or host_bits & (host_bits + 1):
        return None
    if mask == 0xFFFFFFFF:
        return addr, 0
    if mask == 0xFFFFFFFE:
        return addr & mask, 1
    # leave out PREFIX.0 and the broadcast address
    return (addr & mask) | 1, (~mask & 0xFFFFFFFF) - 2


def _port_variation(word):
    lo, _, hi = word.partition("-")
    a, b = parse_click_int(lo, False), parse_click_int(hi, False)
    if a is None or b is None or not 0 <= a <= b < 65536:
        return None
    return a, b - a


cdef class RewritePattern:
    """One parsed pattern, in C memory so that rewriters (and named patterns
    shared by several of them, with their range state) use it directly."""

    cdef Pattern p
    cdef readonly str name

    @staticmethod
    def parse(words, str name=""):
        """Click's IPRewriterPattern::parse for 2 or 4 words; ValueError on bad input."""
        cdef RewritePattern rp = RewritePattern()
        rp.name = name
        memset(&rp.p, 0, sizeof(Pattern))
        rp.p.same_first = 1
        if len(words) not in (2, 4):
            raise ValueError("syntax error, expected 'SADDR SPORT DADDR DPORT' or 'SADDR DADDR'")
        napt = len(words) == 4
        rp.p.napt = napt
        saddr, daddr = words[0], words[2 if napt else 1]
        if saddr != "-":
            word, seq, same = _range_suffix(saddr)
            try:
                rp.p.saddr = net32(IPADDR(word))
            except ValueError:
                var = _address_variation(word) if not napt else None
                if var is None:
                    raise ValueError(PATTERN_ERRORS["saddr"]) from None
                rp.p.saddr = net32(var[0])
                rp.p.variation_top = var[1]
                rp.p.sequential, rp.p.same_first = seq, same
        if napt and words[1] != "-":
            word, seq, same = _range_suffix(words[1])
            port = _port(word)
            if port is not None:
                rp.p.sport = net16(port)
            else:
                var = _port_variation(word)
                if var is None:
                    raise ValueError(PATTERN_ERRORS["sport"])
                if var[0] == 0:
                    raise ValueError(PATTERN_ERRORS["sport"] + " (port 0)")
                rp.p.sport = net16(var[0])
                rp.p.variation_top = var[1]
                rp.p.sequential, rp.p.same_first = seq, same
        if daddr != "-":
            try:
                rp.p.daddr = net32(IPADDR(daddr))
            except ValueError:
                raise ValueError(PATTERN_ERRORS["daddr"]) from None
        if napt and words[3] != "-":
            port = _port(words[3])
            if port is None:
                raise ValueError(PATTERN_ERRORS["dport"])
            rp.p.dport = net16(port)
        return rp

    def changes_ports(self):
        return bool(self.p.sport or self.p.dport or (self.p.napt and self.p.variation_top))

    def changes_daddr(self):
        return bool(self.p.daddr)

    def unparse(self):
        """Click's IPRewriterPattern::unparse."""
        p = self.p
        if not p.napt and p.variation_top:
            a = host32(p.saddr)
            out = [f"{ip_str(a)}-{ip_str(a + p.variation_top)}"]
        else:
            out = [ip_str(host32(p.saddr)) if p.saddr else "-"]
        if p.napt:
            if not p.sport:
                out.append("-")
            elif p.variation_top:
                out.append(f"{host16(p.sport)}-{host16(p.sport) + p.variation_top}")
            else:
                out.append(str(host16(p.sport)))
        out.append(ip_str(host32(p.daddr)) if p.daddr else "-")
        if p.napt:
            out.append(str(host16(p.dport)) if p.dport else "-")
        return " ".join(out)


def parse_port_pair(words):
    """FOUTPUT ROUTPUT -> (int, int); ValueError otherwise."""
    if len(words) != 2:
        raise ValueError("bad forward port")
    f = parse_click_int(words[0], True)
    if f is None:
        raise ValueError("bad forward port")
    r = parse_click_int(words[1], True)
    if r is None:
        raise ValueError("bad reply port")
    return f, r
