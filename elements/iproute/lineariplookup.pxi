# EXPORT_ELEMENT LinearIPLookup

cdef class LinearIPLookup(IPRouteTable):
    """LinearIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)

    Simple IP routing table.

    Ports: 1 input, any number of outputs.
    Processing: push.

    Expects a destination-IP annotation on each packet (CheckIPHeader or
    GetIPAddress sets it). Looks the address up with longest-prefix match,
    replaces the annotation with the route's gateway GW if it has one, and
    sends the packet out of output OUT. Packets without a route are dropped
    (counted; the first few are reported).

    Each argument is a route: a prefix (`10.0.0.0/8`, `10/8`,
    `10.0.0.0/255.0.0.0`, or an address for /32), an optional gateway (`-`
    for none) and an output. A later route for the same prefix replaces an
    earlier one (with a warning). Masks need not be contiguous: a route
    matches when the address agrees with ADDR on MASK's bits, and a match
    wins over an earlier one whose mask it includes.

    LinearIPLookup checks every route for every packet: it suits small
    tables. RadixIPLookup and DirectIPLookup scale.

    Handlers:
      table (read)           the routes, one `addr/len<TAB>gw<TAB>output` line each
      lookup (read)          with an address parameter: "OUTPUT [GW]" for it
                             (-1 when no route)
      add (write)            add a route `ADDR/MASK [GW] OUT`; fails if the prefix has one
      set (write)            add or replace a route
      remove (write)         remove `ADDR/MASK [GW OUT]` (GW and OUT must match if given)
      ctrl (write)           lines of `add ...`, `set ...`, `remove ...`, applied
                             all or none
      flush (write)          remove every route
      drops (read)           packets without a route

    Example:
      rt :: LinearIPLookup(18.26.4.24/32 0, 18.26.4.255/32 0, 18.26.4.0/32 0,
                           18.26.4/24 1, 0/0 18.26.4.1 1);
    """

    cdef list routes                # [addr, mask, gw, port], oldest first
    cdef uint32_t* addrs
    cdef uint32_t* masks
    cdef uint32_t* leaves           # next hop + 1
    cdef uint32_t n

    def __cinit__(self):
        self.routes = []

    def __dealloc__(self):
        c_free(self.addrs)
        c_free(self.masks)
        c_free(self.leaves)

    def _sync(self):
        """Rebuild the C arrays the packet path scans (after every change)."""
        cdef uint32_t i, count = len(self.routes)
        cdef uint32_t* a = <uint32_t*>malloc(max(count, 1) * sizeof(uint32_t))
        cdef uint32_t* m = <uint32_t*>malloc(max(count, 1) * sizeof(uint32_t))
        cdef uint32_t* l = <uint32_t*>malloc(max(count, 1) * sizeof(uint32_t))
        if a == NULL or m == NULL or l == NULL:
            c_free(a); c_free(m); c_free(l)
            raise MemoryError()
        for i in range(count):
            a[i], m[i] = self.routes[i][0], self.routes[i][1]
            l[i] = self.routes[i][4] + 1
        c_free(self.addrs); c_free(self.masks); c_free(self.leaves)
        self.addrs, self.masks, self.leaves, self.n = a, m, l, count

    def _find(self, uint32_t addr, uint32_t mask):
        for i, r in enumerate(self.routes):
            if r[0] == addr and r[1] == mask:
                return i
        return -1

    def _get(self, uint32_t addr, uint32_t mask):
        i = self._find(addr, mask)
        return None if i < 0 else tuple(self.routes[i][:4])

    def _put(self, uint32_t addr, uint32_t mask, uint32_t gw, int port):
        nh = self._nexthop(gw, port)
        i = self._find(addr, mask)
        if i >= 0:
            self._release_nexthop(self.routes[i][4])
            self.routes[i] = [addr, mask, gw, port, nh]
        else:
            self.routes.append([addr, mask, gw, port, nh])
        self._sync()

    def _delete(self, uint32_t addr, uint32_t mask):
        i = self._find(addr, mask)
        self._release_nexthop(self.routes[i][4])
        del self.routes[i]
        self._sync()

    def _routes(self):
        return [tuple(r[:4]) for r in self.routes]

    def _clear(self):
        for r in self.routes:
            self._release_nexthop(r[4])
        self.routes = []
        self._sync()

    def lookup_route(self, uint32_t addr):
        cdef uint32_t leaf = self._leaf(addr)
        if leaf == 0:
            return -1, 0
        return self.nh_port[leaf - 1], load_be32(<uint8_t*>&self.nh_gw[leaf - 1])

    cdef inline uint32_t _leaf(self, uint32_t addr) noexcept:
        cdef uint32_t i, best = 0, best_mask = 0
        for i in range(self.n):
            if (addr & self.masks[i]) == self.addrs[i] and (best == 0 or (self.masks[i] & best_mask) == best_mask):
                best = self.leaves[i]
                best_mask = self.masks[i]
        return best

    cdef int push(self, int port, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef int32_t ports[256]
        cdef uint32_t leaves[256]
        cdef uint32_t i
        for i in range(b.n):
            leaves[i] = self._leaf(load_be32(&anno[b.idx[i]].user[DST_IP_ANNO]))
        return self._emit(b, ports, route_leaves(anno, b, leaves, self.nh_gw, self.nh_port, ports))
