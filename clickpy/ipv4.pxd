# cython: language_level=3
"""IPv4 header helpers shared by the ip, icmp, tcpudp and iproute element groups.

Inline C only (cross-module calls are not inlined). Addresses handed around
as integers are in host order; the destination-IP annotation holds the
address bytes in network order at user[DST_IP_ANNO], as in Click.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, uint64_t
from libc.string cimport memcpy
from clickpy.packet cimport Anno, load_be16, load_be32, store_be16, store_be32, DST_IP_ANNO
from clickpy.checksum cimport csum_add, csum_fold, pseudo_sum

cdef extern from *:
    """
    #define CLICKPY_LIKELY(x) __builtin_expect(!!(x), 1)
    #define CLICKPY_UNLIKELY(x) __builtin_expect(!!(x), 0)
    """
    # branch hints for per-packet tests: the valid packet is the fall-through path
    bint likely "CLICKPY_LIKELY"(bint) noexcept nogil
    bint unlikely "CLICKPY_UNLIKELY"(bint) noexcept nogil

cdef enum:
    IP_PROTO_ICMP = 1
    IP_PROTO_TCP = 6
    IP_PROTO_UDP = 17
    # fragment field flags (host order)
    IP_RF = 0x8000
    IP_DF = 0x4000
    IP_MF = 0x2000
    IP_OFFMASK = 0x1FFF
    IP_MIN_HEADER = 20
    # options
    IPOPT_EOL = 0
    IPOPT_NOP = 1
    IPOPT_RR = 7
    IPOPT_TS = 68
    IPOPT_LSRR = 131
    IPOPT_SSRR = 137
    # header lengths
    UDP_HEADER = 8
    TCP_MIN_HEADER = 20
    ICMP_HEADER = 8
    # ICMP types
    ICMP_ECHOREPLY = 0
    ICMP_UNREACH = 3
    ICMP_SOURCEQUENCH = 4
    ICMP_REDIRECT = 5
    ICMP_ECHO = 8
    ICMP_TIMXCEED = 11
    ICMP_PARAMPROB = 12


cdef inline uint8_t* ip_header(Anno* a) noexcept nogil:
    """The network header, or NULL when the annotation is unset."""
    return NULL if a.net_off < 0 else a.data - a.headroom + a.net_off


cdef inline int32_t network_length(Anno* a) noexcept nogil:
    """Bytes from the network header to the end of the packet (negative if unset)."""
    return <int32_t>(a.headroom + a.len) - a.net_off if a.net_off >= 0 else -1


cdef inline int32_t transport_length(Anno* a) noexcept nogil:
    return <int32_t>(a.headroom + a.len) - a.trans_off if a.trans_off >= 0 else -1


cdef inline void set_ip_header(Anno* a, const uint8_t* iph, uint32_t hlen) noexcept nogil:
    a.net_off = <int32_t>(iph - (a.data - a.headroom))
    a.trans_off = a.net_off + <int32_t>hlen


cdef inline uint32_t dst_ip_anno(const Anno* a) noexcept nogil:
    return load_be32(&a.user[DST_IP_ANNO])


cdef inline void set_dst_ip_anno(Anno* a, uint32_t addr) noexcept nogil:
    store_be32(&a.user[DST_IP_ANNO], addr)


cdef inline void copy_dst_ip_anno(Anno* a, const uint8_t* addr_bytes) noexcept nogil:
    memcpy(&a.user[DST_IP_ANNO], addr_bytes, 4)


cdef inline bint ip_is_fragment(const uint8_t* iph) noexcept nogil:
    return (load_be16(iph + 6) & (IP_MF | IP_OFFMASK)) != 0


cdef inline bint ip_first_fragment(const uint8_t* iph) noexcept nogil:
    return (load_be16(iph + 6) & IP_OFFMASK) == 0


cdef inline void ip_set_checksum(uint8_t* iph, uint32_t hlen) noexcept nogil:
    """Recompute and store the IP header checksum."""
    iph[10] = 0
    iph[11] = 0
    store_be16(iph + 10, csum_fold(csum_add(0, iph, hlen)))


cdef inline void ip_decrement_ttl(uint8_t* iph) noexcept nogil:
    """Decrement the TTL (which must be at least 1) and update the header
    checksum incrementally: RFC 1624 eq. 3 with m' = m - 0x0100, HC' =
    ~(~HC + 0xFEFF). The sum is done on the field's bytes as they lie in
    memory: a ones'-complement sum commutes with swapping bytes (RFC 1071),
    so on this little-endian host the constant is 0xFFFE and no byte is
    swapped."""
    cdef uint16_t hc
    cdef uint32_t s
    iph[8] -= 1
    memcpy(&hc, iph + 10, 2)
    s = <uint16_t>~hc + <uint32_t>0xFFFE
    hc = <uint16_t>~(s + (s >> 16))
    memcpy(iph + 10, &hc, 2)


cdef inline uint16_t transport_checksum(const uint8_t* iph, const uint8_t* th, uint32_t length,
                                        uint8_t proto) noexcept nogil:
    """The TCP/UDP checksum of `length` bytes at th over iph's pseudo header
    (the checksum field itself must read as zero)."""
    return csum_fold(csum_add(pseudo_sum(load_be32(iph + 12), load_be32(iph + 16), proto, length),
                              th, length))


cdef inline bint transport_checksum_ok(const uint8_t* iph, const uint8_t* th, uint32_t length,
                                       uint8_t proto) noexcept nogil:
    """True when the TCP/UDP checksum field at th verifies (sum over everything is 0xFFFF)."""
    return csum_fold(csum_add(pseudo_sum(load_be32(iph + 12), load_be32(iph + 16), proto, length),
                              th, length)) == 0


cdef inline bint addr_in(const uint32_t* addrs, int n, uint32_t addr) noexcept nogil:
    """True if the host-order address is among the n in addrs."""
    cdef int i
    for i in range(n):
        if addrs[i] == addr:
            return True
    return False


cdef extern from *:
    """
    /* Headers with options: out of line, so the 20-byte case keeps callers' loops small. */
    static __attribute__((noinline)) int clickpy_ip_header_checksum_ok_slow(const uint8_t *iph, uint32_t hlen) {
        return clickpy_csum_fold(clickpy_csum_add(0, iph, hlen)) == 0;
    }
    """
    bint ip_header_checksum_ok_slow "clickpy_ip_header_checksum_ok_slow"(const uint8_t* iph, uint32_t hlen) noexcept nogil


cdef inline bint ip_header_checksum_ok(const uint8_t* iph, uint32_t hlen) noexcept nogil:
    """True when the IP header checksum verifies. The usual 20-byte header is
    added up from two 8-byte and one 4-byte load with end-around carries: a
    ones'-complement sum of 64-bit words is congruent, modulo 0xFFFF, to the
    sum of the header's 16-bit words (2^16 = 1 modulo 0xFFFF), and that sum
    folds to 0xFFFF, the header being valid, exactly when it is a nonzero
    multiple of 0xFFFF (nonzero: the header's first byte is not). The test
    is byte-order free and the compiler makes the modulo a multiplication.
    Longer headers take the general loop."""
    cdef uint64_t w0, w1, s
    cdef uint32_t w2
    if hlen != 20:
        return ip_header_checksum_ok_slow(iph, hlen)
    memcpy(&w0, iph, 8)
    memcpy(&w1, iph + 8, 8)
    memcpy(&w2, iph + 16, 4)
    s = w0 + w1
    s += s < w1
    s += w2
    s += s < w2
    return s % 0xFFFF == 0
