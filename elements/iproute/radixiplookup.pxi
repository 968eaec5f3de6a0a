# EXPORT_ELEMENT RadixIPLookup

cdef class TrieIPLookup(IPRouteTable):
    """Route table in a multibit trie (see _lpm.pxi); subclasses fix the strides."""

    root_bits = 16
    stride = 4

    cdef LPM lpm
    cdef RouteSet routeset
    cdef uint32_t seq
    cdef bint ready

    def __cinit__(self):
        if lpm_init(&self.lpm, type(self).root_bits, type(self).stride) < 0 or routeset_init(&self.routeset, 64) < 0:
            raise MemoryError()
        self.ready = True

    def __dealloc__(self):
        if self.ready:
            lpm_destroy(&self.lpm)
            c_free(self.routeset.slots)

    def _check_mask(self, uint32_t mask):
        if mask_prefix_length(mask) < 0:
            raise RouteError(f"mask {ip_str(mask)} is not a prefix")

    def _get(self, uint32_t addr, uint32_t mask):
        cdef int64_t i = routeset_find(&self.routeset, addr, mask_prefix_length(mask))
        if i < 0:
            return None
        gw, port = self._nexthop_value(self.routeset.slots[i].nexthop)
        return addr, mask, gw, port

    def _put(self, uint32_t addr, uint32_t mask, uint32_t gw, int port):
        cdef uint32_t plen = mask_prefix_length(mask)
        cdef uint32_t nh = self._nexthop(gw, port)
        cdef int64_t i = routeset_find(&self.routeset, addr, plen)
        if lpm_update(&self.lpm, addr, plen, LPM_LEAF(plen, nh), 0) < 0:
            self._release_nexthop(nh)
            raise RouteError("no memory to store route")
        if i >= 0:
            self._release_nexthop(self.routeset.slots[i].nexthop)
            self.routeset.slots[i].nexthop = nh
        elif routeset_insert(&self.routeset, addr, plen, nh, self.seq) < 0:
            raise MemoryError()
        self.seq += 1

    def _delete(self, uint32_t addr, uint32_t mask):
        cdef uint32_t plen = mask_prefix_length(mask)
        cdef int64_t i = routeset_find(&self.routeset, addr, plen)
        cdef int64_t cover
        cdef uint32_t nh = self.routeset.slots[i].nexthop, leaf = 0
        routeset_delete(&self.routeset, <uint32_t>i)
        cover = routeset_cover(&self.routeset, addr, plen)
        if cover >= 0:
            leaf = LPM_LEAF(self.routeset.slots[cover].plen, self.routeset.slots[cover].nexthop)
        lpm_update(&self.lpm, addr, plen, leaf, 1)       # removing never allocates
        self._release_nexthop(nh)

    def _routes(self):
        cdef uint32_t i
        cdef RouteSlot* s
        out = []
        for i in range(self.routeset.mask + 1):
            s = &self.routeset.slots[i]
            if s.used:
                gw, port = self._nexthop_value(s.nexthop)
                out.append((s.seq, s.addr, (0xFFFFFFFF << (32 - s.plen)) & 0xFFFFFFFF if s.plen else 0, gw, port))
        out.sort()
        return [r[1:] for r in out]

    def _clear(self):
        cdef uint32_t i
        for i in range(self.routeset.mask + 1):
            if self.routeset.slots[i].used:
                self._release_nexthop(self.routeset.slots[i].nexthop)
                self.routeset.slots[i].used = 0
        self.routeset.count = 0
        lpm_clear(&self.lpm)

    def lookup_route(self, uint32_t addr):
        cdef uint32_t leaf = lpm_lookup(self.lpm.root, self.lpm.nodes, addr, self.lpm.root_bits, self.lpm.stride)
        if leaf == 0:
            return -1, 0
        return self._nexthop_value((leaf & 0xFFFFFF) - 1)[::-1]

    def lookup_array(self, const uint32_t[::1] addrs not None, int32_t[::1] ports not None):
        """Look up host-order addresses in bulk (cold API for tests and benchmarks):
        ports[i] gets the output for addrs[i], -1 if no route. Same lookup as
        the packet path; returns how many had a route."""
        cdef size_t i, j, end, n = addrs.shape[0]
        cdef uint64_t found = 0
        cdef uint32_t leaf
        cdef uint32_t leaves[256]
        cdef const uint32_t* root = self.lpm.root
        cdef const uint32_t* nodes = self.lpm.nodes
        cdef const int32_t* nh_port = self.nh_port
        cdef bint direct = self.lpm.root_bits == 24
        if ports.shape[0] < n:
            raise ValueError("ports is shorter than addrs")
        # in batches of 256, as packets come: DIR-24-8 prefetches a batch first, as push does
        for j in range(0, n, 256):
            end = min(j + 256, n)
            if direct:
                for i in range(j, end):
                    prefetch(&root[addrs[i] >> 8])
                for i in range(j, end):
                    leaf = lpm_lookup(root, nodes, addrs[i], 24, 8)
                    ports[i] = nh_port[(leaf & 0xFFFFFF) - 1] if leaf else -1
                    found += leaf != 0
            else:
                lpm_lookup_batch(root, nodes, &addrs[j], leaves, end - j, 16, 4)
                for i in range(j, end):
                    leaf = leaves[i - j]
                    ports[i] = nh_port[(leaf & 0xFFFFFF) - 1] if leaf else -1
                    found += leaf != 0
        return found

    def load_routes(self, routes):
        """Add many (addr, mask, gw, port) routes at once, replacing same prefixes
        (cold API for benchmarks; the configuration and handlers check more)."""
        for addr, mask, gw, port in routes:
            self._put(addr, mask, gw, port)

    @property
    def route_count(self):
        return self.routeset.count

    @property
    def node_count(self):
        return self.lpm.nodes_live


cdef class RadixIPLookup(TrieIPLookup):
    """RadixIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)

    IP lookup using a radix trie.

    Ports: 1 input, any number of outputs.
    Processing: push.

    Expects a destination-IP annotation on each packet. Looks the address up
    with longest-prefix match, replaces the annotation with the route's
    gateway GW if it has one, and sends the packet out of output OUT.
    Packets without a route are dropped (counted; the first few are
    reported).

    Each argument is a route: a prefix (`10.0.0.0/8`, `10/8`,
    `10.0.0.0/255.0.0.0`, or an address for /32), an optional gateway (`-`
    for none) and an output. A later route for the same prefix replaces an
    earlier one (with a warning). Masks must be prefixes.

    The trie has a 65536-entry first level and 16-way nodes below it, with
    each route expanded into the entries it covers, so a lookup reads at
    most five entries whatever the table size. Adding and removing routes
    costs time proportional to the entries a prefix covers.

    Handlers:
      table (read)      the routes, one `addr/len<TAB>gw<TAB>output` line each
      lookup (read)     with an address parameter: "OUTPUT [GW]" for it
                        (-1 when no route)
      add (write)       add a route `ADDR/MASK [GW] OUT`; fails if the prefix has one
      set (write)       add or replace a route
      remove (write)    remove `ADDR/MASK [GW OUT]` (GW and OUT must match if given)
      ctrl (write)      lines of `add ...`, `set ...`, `remove ...`, applied all or none
      flush (write)     remove every route
      drops (read)      packets without a route

    Example:
      rt :: RadixIPLookup(10.0.0.0/8 0, 192.168.1.0/24 10.0.0.1 1, 0.0.0.0/0 2);
    """

    root_bits = 16
    stride = 4

    cdef int push(self, int port, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef int32_t ports[256]
        cdef const uint32_t* root = self.lpm.root
        cdef const uint32_t* nodes = self.lpm.nodes
        cdef const uint32_t* nh_gw = self.nh_gw
        cdef const int32_t* nh_port = self.nh_port
        cdef uint32_t dst[256]
        cdef uint32_t leaves[256]
        cdef uint32_t i, n = b.n
        cdef int32_t p, same
        cdef Anno* a
        if self.lpm.nodes_live == 0 and n:
            # no route longer than /16: one read of the first table per packet, one pass
            a = &anno[b.idx[0]]
            same = ports[0] = route_packet(a, root[a.user[DST_IP_ANNO] << 8 | a.user[DST_IP_ANNO + 1]],
                                           nh_gw, nh_port)
            for i in range(1, n):
                a = &anno[b.idx[i]]
                p = route_packet(a, root[a.user[DST_IP_ANNO] << 8 | a.user[DST_IP_ANNO + 1]], nh_gw, nh_port)
                ports[i] = p
                if p != same:
                    same = -2
            return self._emit(b, ports, same)
        else:
            for i in range(n):
                dst[i] = load_be32(&anno[b.idx[i]].user[DST_IP_ANNO])
            lpm_lookup_batch(root, nodes, dst, leaves, n, 16, 4)
        return self._emit(b, ports, route_leaves(anno, b, leaves, nh_gw, nh_port, ports))
