# EXPORT_ELEMENT Align

cdef class Align(Element):
    """Align(MODULUS, OFFSET)

    Aligns packet data.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Aligns each packet so that its first byte is OFFSET bytes past a
    MODULUS-byte boundary in memory, moving the data within its buffer
    (header annotations move with it) when it is not. MODULUS must be 2, 4
    or 8 and OFFSET less than MODULUS. A packet that cannot be moved
    (it fills its buffer) is dropped and counted.

    Handlers:
      drops (read)  packets that could not be aligned

    Example:
      ... -> Align(4, 2) -> ...   // IP header 4-aligned after a 14-byte Ethernet header
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint32_t modulus, offset
    cdef readonly uint64_t drops

    def configure(self, args):
        modulus = args.read_mp("MODULUS", UINT)
        offset = args.read_mp("OFFSET", UINT)
        if modulus not in (2, 4, 8):
            raise self.error("MODULUS must be 2, 4, or 8")
        if offset >= modulus:
            raise self.error("OFFSET must be less than MODULUS")
        self.modulus = modulus
        self.offset = offset

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* a
        cdef uint8_t* head
        cdef uint32_t i, k = 0, x, headroom
        cdef uint32_t mask = self.modulus - 1
        cdef uint32_t delta
        for i in range(b.n):
            x = b.idx[i]
            a = &pool.anno[x]
            delta = <uint32_t>((<size_t>a.data - self.offset) & mask)
            if delta:
                # move the data back by delta bytes, or forward to the next boundary
                headroom = a.headroom - delta if a.headroom >= delta else a.headroom + self.modulus - delta
                if headroom + a.len > pool.buf_size(x):
                    pool.free(x)
                    self.drops += 1
                    continue
                head = a.data - a.headroom
                memmove(head + headroom, a.data, a.len)
                pool._shift_headers(a, <int32_t>headroom - <int32_t>a.headroom)
                a.data = head + headroom
                a.headroom = headroom
            b.idx[k] = x
            k += 1
        b.n = k
        return 0

    def add_handlers(self):
        self.add_read_handler("drops", lambda: self.drops)
