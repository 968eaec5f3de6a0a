# Helpers shared by the IPv4 elements of this group (not an element).

cdef class AddressArray:
    """A C array of host-order IPv4 addresses (BADSRC, GOODDST, OTHERADDRS lists)."""
    cdef uint32_t* addrs
    cdef int n

    def __cinit__(self, addrs=()):
        cdef int i
        values = list(addrs)
        self.n = len(values)
        self.addrs = <uint32_t*>malloc(max(self.n, 1) * sizeof(uint32_t))
        if self.addrs == NULL:
            raise MemoryError()
        for i in range(self.n):
            self.addrs[i] = values[i]

    def __dealloc__(self):
        c_free(self.addrs)

    def __len__(self):
        return self.n

    def __iter__(self):
        return iter([self.addrs[i] for i in range(self.n)])

    def __contains__(self, addr):
        return addr_in(self.addrs, self.n, addr)


cdef inline uint32_t ms_since_midnight() noexcept:
    """Milliseconds since midnight UT, as IP timestamp options carry them (RFC 791)."""
    cdef uint64_t now = realtime_ns()
    return <uint32_t>((now // 1000000000ULL) % 86400ULL * 1000ULL + (now // 1000000ULL) % 1000ULL)


cdef inline void copy_annotations(Anno* dst, const Anno* src) noexcept:
    """Click's copy_annotations: timestamp, packet type, input device, VLAN
    tag and the user annotation area; not the data or header offsets."""
    dst.timestamp = src.timestamp
    dst.packet_type = src.packet_type
    dst.ifindex = src.ifindex
    dst.device_vlan = src.device_vlan
    dst.offload = src.offload & OFFLOAD_VLAN
    memcpy(dst.user, src.user, 48)


cdef inline uint32_t xorshift32(uint32_t* state) noexcept:
    cdef uint32_t x = state[0]
    x ^= x << 13
    x ^= x >> 17
    x ^= x << 5
    state[0] = x
    return x
