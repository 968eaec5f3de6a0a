# cython: language_level=3
"""Internet checksums (RFC 1071) and incremental updates (RFC 1624), inline C.

Every 16-bit value here is in host order, as load_be16 reads it from a header
and store_be16 writes it back.  A partial sum is a uint32 accumulator that
csum_fold turns into the final checksum.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from *:
    """
    #ifndef CLICKPY_CHECKSUM_H
    #define CLICKPY_CHECKSUM_H
    #include <stdint.h>
    #include <stddef.h>
    /* One's-complement sum of big-endian 16-bit words, added to `sum`. The
       words are summed in native order 64 bits at a time (the sum is
       byte-order independent up to a final swap). */
    static inline uint32_t clickpy_csum_add(uint32_t sum, const uint8_t *p, size_t len) {
        uint64_t acc = 0;
        while (len >= 8) {
            uint64_t w; __builtin_memcpy(&w, p, 8);
            acc += (uint32_t)w; acc += (uint32_t)(w >> 32);
            p += 8; len -= 8;
        }
        if (len >= 4) { uint32_t w; __builtin_memcpy(&w, p, 4); acc += w; p += 4; len -= 4; }
        if (len >= 2) { uint16_t w; __builtin_memcpy(&w, p, 2); acc += w; p += 2; len -= 2; }
        if (len) acc += *p;          /* little-endian: the odd byte is the high byte of its word */
        acc = (acc & 0xffffffffu) + (acc >> 32);
        acc = (acc & 0xffffffffu) + (acc >> 32);
        uint32_t s = (uint32_t)acc;
        s = (s & 0xffff) + (s >> 16);
        s = (s & 0xffff) + (s >> 16);
        return sum + __builtin_bswap16((uint16_t)s);
    }
    static inline uint16_t clickpy_csum_fold(uint32_t sum) {
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)~sum;
    }
    static inline uint16_t clickpy_in_cksum(const uint8_t *p, size_t len) {
        return clickpy_csum_fold(clickpy_csum_add(0, p, len));
    }
    /* RFC 1624 eq. 3: HC' = ~(~HC + ~m + m') */
    static inline uint16_t clickpy_csum_update16(uint16_t hc, uint16_t old_v, uint16_t new_v) {
        uint32_t s = (uint16_t)~hc;
        s += (uint16_t)~old_v;
        s += new_v;
        return clickpy_csum_fold(s);
    }
    static inline uint16_t clickpy_csum_update32(uint16_t hc, uint32_t old_v, uint32_t new_v) {
        uint32_t s = (uint16_t)~hc;
        s += (uint16_t)~(old_v >> 16); s += (uint16_t)~(old_v & 0xffff);
        s += new_v >> 16; s += new_v & 0xffff;
        return clickpy_csum_fold(s);
    }
    /* Partial sum of the IPv4 pseudo header for TCP/UDP (addresses in host order). */
    static inline uint32_t clickpy_pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len) {
        return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
    }
    #endif
    """
    uint32_t csum_add "clickpy_csum_add"(uint32_t sum, const uint8_t* p, size_t len) noexcept nogil
    uint16_t csum_fold "clickpy_csum_fold"(uint32_t sum) noexcept nogil
    uint16_t in_cksum "clickpy_in_cksum"(const uint8_t* p, size_t len) noexcept nogil
    uint16_t csum_update16 "clickpy_csum_update16"(uint16_t hc, uint16_t old_v, uint16_t new_v) noexcept nogil
    uint16_t csum_update32 "clickpy_csum_update32"(uint16_t hc, uint32_t old_v, uint32_t new_v) noexcept nogil
    uint32_t pseudo_sum "clickpy_pseudo_sum"(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len) noexcept nogil
