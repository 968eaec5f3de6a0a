# EXPORT_ELEMENT DirectIPLookup

cdef class DirectIPLookup(TrieIPLookup):
    """DirectIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)

    IP routing lookup using direct-indexed tables (DIR-24-8).

    Ports: 1 input, any number of outputs.
    Processing: push.

    Expects a destination-IP annotation on each packet. Looks the address up
    with longest-prefix match, replaces the annotation with the route's
    gateway GW if it has one, and sends the packet out of output OUT.
    Packets without a route are dropped (counted; the first few are
    reported).

    Each argument is a route: a prefix, an optional gateway (`-` for none)
    and an output. A later route for the same prefix replaces an earlier one
    (with a warning). Masks must be prefixes.

    Implements the DIR-24-8-BASIC scheme of Gupta, Lin and McKeown: a table
    of 2^24 entries indexed by the top 24 address bits, and 256-entry
    tables for the /24s that hold longer routes, so each lookup reads one or
    two entries, regardless of the number of routes, at the cost of 64 MB
    of (lazily committed) memory for the first table. Routes can be added
    and removed at any time.

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
      rt :: DirectIPLookup(10.0.0.0/8 0, 10.1.2.0/25 10.0.0.7 1, 0/0 2);
    """

    root_bits = 24
    stride = 8

    cdef int push(self, int port, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef int32_t ports[256]
        cdef uint32_t dst[256]
        cdef uint32_t leaves[256]
        cdef const uint32_t* root = self.lpm.root
        cdef const uint32_t* nodes = self.lpm.nodes
        cdef const uint32_t* nh_gw = self.nh_gw
        cdef const int32_t* nh_port = self.nh_port
        cdef uint32_t i, n = b.n
        # the first table is far larger than the caches: start every read early
        for i in range(n):
            dst[i] = load_be32(&anno[b.idx[i]].user[DST_IP_ANNO])
            prefetch(&root[dst[i] >> 8])
        for i in range(n):
            leaves[i] = lpm_lookup(root, nodes, dst[i], 24, 8)
        return self._emit(b, ports, route_leaves(anno, b, leaves, nh_gw, nh_port, ports))
