# Helpers shared by the Ethernet and ARP elements (not an element): header
# constants, address text forms, and a hash table keyed by 64-bit integers
# (MAC addresses, IPv4 addresses) for the bridge and the ARP table.

cdef enum:
    ETHER_HEADER_LEN = 14
    VLAN_HEADER_LEN = 4
    ETHERTYPE_IP = 0x0800
    ETHERTYPE_ARP = 0x0806
    ETHERTYPE_8021Q = 0x8100
    ARP_PACKET_LEN = 42              # Ethernet header + Ethernet/IPv4 ARP body
    ARPHRD_ETHER = 1
    ARPOP_REQUEST = 1
    ARPOP_REPLY = 2
    ARPOP_REVREQUEST = 3
    ARPOP_REVREPLY = 4
    ARPOP_INVREQUEST = 8
    ARPOP_INVREPLY = 9
    ETHERTYPE_TRAIL = 0x1000


def unparse_ether(const uint8_t[:] a) -> str:
    """Click's EtherAddress text: 00-1A-2B-3C-4D-5E."""
    return "-".join(f"{a[i]:02X}" for i in range(6))


def unparse_ip(const uint8_t[:] a) -> str:
    return f"{a[0]}.{a[1]}.{a[2]}.{a[3]}"


def ip_bytes(uint32_t host_order) -> bytes:
    return host_order.to_bytes(4, "big")


cdef inline uint64_t mac_key(const uint8_t* p) noexcept:
    """A MAC address as a 48-bit integer (its bytes in network order)."""
    return (<uint64_t>load_be16(p) << 32) | load_be32(p + 2)


cdef inline void mac_from_key(uint8_t* p, uint64_t k) noexcept:
    store_be16(p, <uint16_t>(k >> 32))
    store_be32(p + 2, <uint32_t>k)


cdef inline bint is_group(const uint8_t* mac) noexcept:
    return (mac[0] & 1) != 0


cdef inline bint is_broadcast(const uint8_t* mac) noexcept:
    return load_be32(mac) == 0xFFFFFFFFu and load_be16(mac + 4) == 0xFFFF


# ---- the hash table ----------------------------------------------------------

cdef enum:
    SLOT_EMPTY = -1
    SLOT_DELETED = -2

ctypedef struct MapSlot:
    uint64_t key
    uint64_t stamp          # the user's: last-seen time (EtherSwitch)
    int32_t value           # >= 0 while the slot is in use
    int32_t aux


cdef class U64Map:
    """Open addressing with linear probing; deleted slots are tombstones that
    a rehash clears. Slot pointers are valid until the next insert."""
    cdef MapSlot* slots
    cdef uint32_t mask
    cdef int shift
    cdef readonly uint32_t count
    cdef uint32_t filled         # used + deleted slots

    def __cinit__(self, uint32_t capacity=64):
        self._allocate(capacity)

    def __dealloc__(self):
        c_free(self.slots)

    cdef int _allocate(self, uint32_t capacity) except -1:
        cdef uint32_t n = 16, i
        cdef int bits = 4
        while n < capacity * 2:
            n <<= 1
            bits += 1
        self.slots = <MapSlot*>malloc(n * sizeof(MapSlot))
        if self.slots == NULL:
            raise MemoryError()
        for i in range(n):
            self.slots[i].value = SLOT_EMPTY
        self.mask = n - 1
        self.shift = 64 - bits
        self.count = 0
        self.filled = 0
        return 0

    cdef inline uint32_t _home(self, uint64_t key) noexcept:
        return <uint32_t>((key * 0x9E3779B97F4A7C15ULL) >> self.shift)

    cdef inline MapSlot* find(self, uint64_t key) noexcept:
        cdef uint32_t i = self._home(key)
        cdef MapSlot* s
        while True:
            s = &self.slots[i]
            if s.value == SLOT_EMPTY:
                return NULL
            if s.value >= 0 and s.key == key:
                return s
            i = (i + 1) & self.mask

    cdef MapSlot* insert(self, uint64_t key) except NULL:
        """The slot for key, claimed (value 0) if it was absent."""
        cdef uint32_t i
        cdef MapSlot* s
        cdef MapSlot* reuse = NULL
        if (self.filled + 1) * 4 > (self.mask + 1) * 3:
            self._rehash(self.count + 1)
        i = self._home(key)
        while True:
            s = &self.slots[i]
            if s.value == SLOT_EMPTY:
                break
            if s.value >= 0 and s.key == key:
                return s
            if s.value == SLOT_DELETED and reuse == NULL:
                reuse = s
            i = (i + 1) & self.mask
        if reuse != NULL:
            s = reuse
        else:
            self.filled += 1
        s.key = key
        s.stamp = 0
        s.value = 0
        s.aux = 0
        self.count += 1
        return s

    cdef void erase(self, MapSlot* s) noexcept:
        s.value = SLOT_DELETED
        self.count -= 1

    cdef int _rehash(self, uint32_t want) except -1:
        cdef MapSlot* old = self.slots
        cdef uint32_t n = self.mask + 1, i
        cdef MapSlot* s
        self._allocate(want if want > 8 else 8)
        for i in range(n):
            if old[i].value >= 0:
                s = self.insert(old[i].key)
                s.stamp = old[i].stamp
                s.value = old[i].value
                s.aux = old[i].aux
        c_free(old)
        return 0

    cdef inline MapSlot* slot_at(self, uint32_t i) noexcept:
        return &self.slots[i] if self.slots[i].value >= 0 else NULL

    cdef inline uint32_t capacity(self) noexcept:
        return self.mask + 1

    def clear(self) -> None:
        cdef uint32_t i
        for i in range(self.mask + 1):
            self.slots[i].value = SLOT_EMPTY
        self.count = 0
        self.filled = 0

    def items(self) -> list:
        """(key, stamp, value) of every entry (cold path)."""
        cdef uint32_t i
        return [(self.slots[i].key, self.slots[i].stamp, self.slots[i].value)
                for i in range(self.mask + 1) if self.slots[i].value >= 0]
