# EXPORT_ELEMENT StoreIPAddress

cdef class StoreIPAddress(Element):
    """StoreIPAddress([ADDR,] OFFSET)

    Stores an IP address in the packet.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic; output 1 push.

    The one-argument form writes the destination-IP annotation into the
    packet at byte OFFSET, but leaves the packet alone when the annotation
    is zero. The two-argument form writes ADDR (which may be zero).

    OFFSET may be `src` or `dst`: then the address goes into the source or
    destination field of the packet's (annotated) IP header, and the IP
    checksum, and the TCP or UDP checksum of a first fragment (a UDP
    checksum only when it is in use), are updated incrementally. With a
    numeric OFFSET no checksum changes (see SetIPChecksum).

    Packets where the address does not fit (OFFSET beyond the end, or no
    IP header for `src`/`dst`) leave on output 1, or are dropped.

    Example:
      ... -> StoreIPAddress(10.0.0.9, dst) -> ...
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef bint use_address
    cdef uint8_t address[4]
    cdef int32_t offset          # >= 0: byte offset; -12 or -16: IP src or dst field

    def configure(self, args):
        self.use_address = args.remaining() > 1
        if self.use_address:
            store_be32(self.address, args.read_mp("ADDR", IPADDR))
        where = args.read_mp("OFFSET", WORD).lower()
        if where in ("src", "dst"):
            self.offset = -12 if where == "src" else -16
        else:
            try:
                self.offset = UINT(where)
            except ValueError:
                raise self.error("OFFSET must be an unsigned integer, 'src' or 'dst'") from None

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint32_t rejected[256]
        cdef uint32_t i, x, k = 0, nrej = 0
        cdef const uint8_t* addr
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            if self.use_address:
                addr = &self.address[0]
            else:
                addr = &a.user[DST_IP_ANNO]
            if self.offset >= 0:
                if <uint32_t>self.offset + 4 > a.len:
                    rejected[nrej] = x
                    nrej += 1
                    continue
                if self.use_address or load_be32(addr) != 0:
                    memcpy(a.data + self.offset, addr, 4)
            elif not self._store_in_header(a, addr):
                rejected[nrej] = x
                nrej += 1
                continue
            b.idx[k] = x
            k += 1
        b.n = k
        return emit_list(self, 1, rejected, nrej)

    cdef inline bint _store_in_header(self, Anno* a, const uint8_t* addr) noexcept:
        cdef uint8_t* iph = ip_header(a)
        cdef uint8_t* field
        cdef uint8_t* th
        cdef uint32_t old_v, new_v, hlen
        cdef int32_t tlen
        if iph == NULL or network_length(a) < IP_MIN_HEADER:
            return False
        hlen = (iph[0] & 15) << 2
        field = iph - self.offset
        old_v = load_be32(field)
        new_v = load_be32(addr)
        memcpy(field, addr, 4)
        store_be16(iph + 10, csum_update32(load_be16(iph + 10), old_v, new_v))
        if ip_first_fragment(iph):
            th = iph + hlen
            tlen = network_length(a) - <int32_t>hlen
            if iph[9] == IP_PROTO_TCP and tlen >= TCP_MIN_HEADER:
                store_be16(th + 16, csum_update32(load_be16(th + 16), old_v, new_v))
            elif iph[9] == IP_PROTO_UDP and tlen >= UDP_HEADER and load_be16(th + 6) != 0:
                store_be16(th + 6, csum_update32(load_be16(th + 6), old_v, new_v))
        return True
