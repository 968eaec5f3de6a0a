# Longest-prefix-match tables in C (not an element): a multibit trie with leaf
# pushing, and a hash set of the routes it holds.
#
# The trie has a root table indexed by the top ROOT_BITS of the address and
# nodes of 2^STRIDE entries for each further STRIDE bits. An entry is empty
# (0), a leaf ((prefix length << 24) | (next hop + 1)), or a node (bit 31 |
# node index). A route is painted over every entry its prefix covers whose
# current prefix length is not longer; removing it repaints its entries with
# the longest shorter route that covers it. A lookup reads one entry per
# level: DIR-24-8 (DirectIPLookup) is ROOT_BITS 24, STRIDE 8; RadixIPLookup
# uses 16 and 4.

cdef extern from *:
    """
    #include <stdint.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/mman.h>

    #define LPM_NODE 0x80000000u
    #define LPM_NO_NODE 0xFFFFFFFFu
    #define LPM_MAX_NEXTHOPS 0xFFFFFEu
    #define LPM_LEAF(plen, nh) (((uint32_t)(plen) << 24) | ((uint32_t)(nh) + 1u))
    #define LPM_PLEN(e) (((e) >> 24) & 0x3Fu)

    typedef struct clickpy_lpm {
        uint32_t *root;
        size_t root_bytes;
        uint32_t *nodes;
        uint32_t nodes_used, nodes_cap, free_node, nodes_live;
        int root_bits, stride;
    } clickpy_lpm;

    static int clickpy_lpm_init(clickpy_lpm *t, int root_bits, int stride) {
        memset(t, 0, sizeof *t);
        t->root_bits = root_bits;
        t->stride = stride;
        t->free_node = LPM_NO_NODE;
        t->root_bytes = sizeof(uint32_t) << root_bits;
        /* anonymous memory: zero pages cost nothing until painted, and big
           tables get transparent huge pages (fewer TLB misses on lookups) */
        void *p = mmap(NULL, t->root_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return -1;
    #ifdef MADV_HUGEPAGE
        if (t->root_bytes >= (2u << 20)) madvise(p, t->root_bytes, MADV_HUGEPAGE);
    #endif
        t->root = (uint32_t *)p;
        return 0;
    }

    static void clickpy_lpm_destroy(clickpy_lpm *t) {
        if (t->root) munmap(t->root, t->root_bytes);
        free(t->nodes);
        t->root = 0;
        t->nodes = 0;
    }

    static inline uint32_t *clickpy_lpm_node(const clickpy_lpm *t, uint32_t idx) {
        return t->nodes + ((size_t)idx << t->stride);
    }

    /* A new node with every entry `fill`; its index, or LPM_NO_NODE without memory. */
    static uint32_t clickpy_lpm_new_node(clickpy_lpm *t, uint32_t fill) {
        uint32_t idx, n = 1u << t->stride;
        if (t->free_node != LPM_NO_NODE) {
            idx = t->free_node;
            t->free_node = clickpy_lpm_node(t, idx)[0];
        } else {
            if (t->nodes_used == t->nodes_cap) {
                uint32_t cap = t->nodes_cap ? 2 * t->nodes_cap : 64;
                if (cap > 0x7FFFFFFFu >> 1) return LPM_NO_NODE;
                uint32_t *grown = (uint32_t *)realloc(t->nodes, ((size_t)cap << t->stride) * sizeof(uint32_t));
                if (!grown) return LPM_NO_NODE;
                t->nodes = grown;
                t->nodes_cap = cap;
            }
            idx = t->nodes_used++;
        }
        uint32_t *node = clickpy_lpm_node(t, idx);
        for (uint32_t i = 0; i < n; i++) node[i] = fill;
        t->nodes_live++;
        return idx;
    }

    static void clickpy_lpm_free_node(clickpy_lpm *t, uint32_t idx) {
        clickpy_lpm_node(t, idx)[0] = t->free_node;
        t->free_node = idx;
        t->nodes_live--;
    }

    /* Replace a node whose entries are all the same leaf by that leaf. */
    static void clickpy_lpm_collapse(clickpy_lpm *t, uint32_t *slot) {
        uint32_t idx = *slot & ~LPM_NODE, n = 1u << t->stride;
        uint32_t *node = clickpy_lpm_node(t, idx), v = node[0];
        if (v & LPM_NODE) return;
        for (uint32_t i = 1; i < n; i++)
            if (node[i] != v) return;
        *slot = v;
        clickpy_lpm_free_node(t, idx);
    }

    /* Adding (remove == 0): entries whose prefix is not longer than plen get
       leaf. Removing: entries of exactly plen (the removed route's) get leaf,
       the replacement route or empty. Nodes are entered and collapsed. */
    static void clickpy_lpm_paint(clickpy_lpm *t, uint32_t *slot, uint32_t leaf, uint32_t plen, int remove) {
        uint32_t e = *slot;
        if (e & LPM_NODE) {
            uint32_t n = 1u << t->stride;
            uint32_t *node = clickpy_lpm_node(t, e & ~LPM_NODE);
            for (uint32_t i = 0; i < n; i++)
                clickpy_lpm_paint(t, &node[i], leaf, plen, remove);
            clickpy_lpm_collapse(t, slot);
        } else if (remove ? (e != 0 && LPM_PLEN(e) == plen) : LPM_PLEN(e) <= plen) {
            *slot = leaf;
        }
    }

    /* Paint the prefix addr/plen (see clickpy_lpm_paint). Returns 0, or -1
       when a node cannot be allocated (the table is unchanged then). */
    static int clickpy_lpm_update(clickpy_lpm *t, uint32_t addr, uint32_t plen, uint32_t leaf, int remove) {
        uint32_t path[8];               /* node indices entered, for collapsing on the way back */
        uint32_t *slots[8];
        int depth = 0, bits = t->root_bits, stride = t->stride;
        uint32_t i, first, count;
        if (plen <= (uint32_t)bits) {
            first = plen ? (addr >> (32 - bits)) & ~((1u << (bits - plen)) - 1) : 0;
            count = 1u << (bits - plen);
            for (i = 0; i < count; i++)
                clickpy_lpm_paint(t, &t->root[first + i], leaf, plen, remove);
            return 0;
        }
        uint32_t parent = LPM_NO_NODE, pos = addr >> (32 - bits);
        int rc = 0;
        for (;;) {
            uint32_t *slot = parent == LPM_NO_NODE ? &t->root[pos] : &clickpy_lpm_node(t, parent)[pos];
            uint32_t child;
            if (*slot & LPM_NODE)
                child = *slot & ~LPM_NODE;
            else if (remove)
                break;                  /* nothing this long was ever painted here */
            else {
                child = clickpy_lpm_new_node(t, *slot);     /* may move the nodes */
                if (child == LPM_NO_NODE) {
                    rc = -1;
                    break;
                }
                slot = parent == LPM_NO_NODE ? &t->root[pos] : &clickpy_lpm_node(t, parent)[pos];
                *slot = LPM_NODE | child;
            }
            path[depth] = child;
            depth++;
            pos = (addr >> (32 - bits - stride)) & ((1u << stride) - 1);
            if (plen <= (uint32_t)(bits + stride)) {
                count = 1u << (bits + stride - plen);
                pos &= ~(count - 1);
                uint32_t *node = clickpy_lpm_node(t, child);
                for (i = 0; i < count; i++)
                    clickpy_lpm_paint(t, &node[pos + i], leaf, plen, remove);
                break;
            }
            parent = child;
            bits += stride;
        }
        /* collapse the entered nodes bottom-up (no allocation now, so slot
           pointers stay valid); this also undoes nodes made before a failure */
        {
            uint32_t p = LPM_NO_NODE, q = addr >> (32 - t->root_bits);
            int b = t->root_bits;
            for (int d = 0; d < depth; d++) {
                slots[d] = p == LPM_NO_NODE ? &t->root[q] : &clickpy_lpm_node(t, p)[q];
                p = path[d];
                q = (addr >> (32 - b - stride)) & ((1u << stride) - 1);
                b += stride;
            }
            while (depth-- > 0)
                if (*slots[depth] & LPM_NODE) clickpy_lpm_collapse(t, slots[depth]);
        }
        return rc;
    }

    /* Remove everything. */
    static void clickpy_lpm_clear(clickpy_lpm *t) {
        memset(t->root, 0, t->root_bytes);
        free(t->nodes);
        t->nodes = 0;
        t->nodes_used = t->nodes_cap = t->nodes_live = 0;
        t->free_node = LPM_NO_NODE;
    }

    /* The leaf for addr (0: no route). root_bits and stride are constants at
       each call site, so the shifts compile to immediates. */
    static inline __attribute__((always_inline)) uint32_t
    clickpy_lpm_lookup(const uint32_t *root, const uint32_t *nodes, uint32_t addr, int root_bits, int stride) {
        uint32_t e = root[addr >> (32 - root_bits)];
        int shift = 32 - root_bits;
        while (e & LPM_NODE) {
            shift -= stride;
            e = nodes[((size_t)(e & ~LPM_NODE) << stride) | ((addr >> shift) & ((1u << stride) - 1))];
        }
        return e;
    }

    /* Look up n addresses at once, level by level: every lookup's next read
       is prefetched before any is made, so the cache misses of a batch
       overlap instead of following one another. leaves[i] gets addrs[i]'s
       leaf. */
    static inline __attribute__((always_inline)) void
    clickpy_lpm_lookup_batch(const uint32_t *root, const uint32_t *nodes, const uint32_t *addrs,
                             uint32_t *leaves, uint32_t n, int root_bits, int stride) {
        uint32_t i, pending = 0;
        int shift = 32 - root_bits - stride;
        for (i = 0; i < n; i++) {
            uint32_t e = root[addrs[i] >> (32 - root_bits)];
            leaves[i] = e;
            if (e & LPM_NODE) {
                __builtin_prefetch(&nodes[((size_t)(e & ~LPM_NODE) << stride) | ((addrs[i] >> shift) & ((1u << stride) - 1))]);
                pending++;
            }
        }
        while (pending) {
            pending = 0;
            for (i = 0; i < n; i++) {
                uint32_t e = leaves[i];
                if (!(e & LPM_NODE)) continue;
                e = nodes[((size_t)(e & ~LPM_NODE) << stride) | ((addrs[i] >> shift) & ((1u << stride) - 1))];
                leaves[i] = e;
                if (e & LPM_NODE) {
                    __builtin_prefetch(&nodes[((size_t)(e & ~LPM_NODE) << stride)
                                              | ((addrs[i] >> (shift - stride)) & ((1u << stride) - 1))]);
                    pending++;
                }
            }
            shift -= stride;
        }
    }

    /* ---- the routes a trie holds: open addressing on (prefix, length) ---- */
    typedef struct clickpy_route_slot {
        uint32_t addr;
        uint32_t nexthop;
        uint32_t seq;           /* insertion order, for the table handler */
        uint8_t plen;
        uint8_t used;
    } clickpy_route_slot;

    typedef struct clickpy_routeset {
        clickpy_route_slot *slots;
        uint32_t mask, count;
    } clickpy_routeset;

    static inline uint32_t clickpy_route_hash(uint32_t addr, uint32_t plen) {
        uint64_t h = ((uint64_t)addr << 6 | plen) * 0x9E3779B97F4A7C15ull;
        return (uint32_t)(h >> 32);
    }

    static int clickpy_routeset_init(clickpy_routeset *s, uint32_t cap) {
        s->slots = (clickpy_route_slot *)calloc(cap, sizeof(clickpy_route_slot));
        s->mask = cap - 1;
        s->count = 0;
        return s->slots ? 0 : -1;
    }

    /* The slot holding addr/plen, or -1. */
    static int64_t clickpy_routeset_find(const clickpy_routeset *s, uint32_t addr, uint32_t plen) {
        uint32_t i = clickpy_route_hash(addr, plen) & s->mask;
        while (s->slots[i].used) {
            if (s->slots[i].addr == addr && s->slots[i].plen == plen) return i;
            i = (i + 1) & s->mask;
        }
        return -1;
    }

    static int clickpy_routeset_grow(clickpy_routeset *s) {
        clickpy_routeset bigger;
        if (clickpy_routeset_init(&bigger, 2 * (s->mask + 1)) < 0) return -1;
        for (uint32_t i = 0; i <= s->mask; i++)
            if (s->slots[i].used) {
                uint32_t j = clickpy_route_hash(s->slots[i].addr, s->slots[i].plen) & bigger.mask;
                while (bigger.slots[j].used) j = (j + 1) & bigger.mask;
                bigger.slots[j] = s->slots[i];
            }
        bigger.count = s->count;
        free(s->slots);
        *s = bigger;
        return 0;
    }

    /* Insert addr/plen (absent). Returns 0, or -1 without memory. */
    static int clickpy_routeset_insert(clickpy_routeset *s, uint32_t addr, uint32_t plen, uint32_t nexthop, uint32_t seq) {
        if (2 * (s->count + 1) > s->mask + 1 && clickpy_routeset_grow(s) < 0) return -1;
        uint32_t i = clickpy_route_hash(addr, plen) & s->mask;
        while (s->slots[i].used) i = (i + 1) & s->mask;
        s->slots[i].addr = addr;
        s->slots[i].plen = (uint8_t)plen;
        s->slots[i].nexthop = nexthop;
        s->slots[i].seq = seq;
        s->slots[i].used = 1;
        s->count++;
        return 0;
    }

    /* Delete slot i, shifting later members of its probe run back. */
    static void clickpy_routeset_delete(clickpy_routeset *s, uint32_t i) {
        uint32_t j = i;
        s->slots[i].used = 0;
        s->count--;
        for (;;) {
            j = (j + 1) & s->mask;
            if (!s->slots[j].used) return;
            uint32_t home = clickpy_route_hash(s->slots[j].addr, s->slots[j].plen) & s->mask;
            /* move j into the hole at i unless its home lies cyclically in (i, j] */
            if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
                s->slots[i] = s->slots[j];
                s->slots[j].used = 0;
                i = j;
            }
        }
    }

    /* The longest route strictly shorter than plen that covers addr: its slot, or -1. */
    static int64_t clickpy_routeset_cover(const clickpy_routeset *s, uint32_t addr, uint32_t plen) {
        for (int l = (int)plen - 1; l >= 0; l--) {
            uint32_t m = l ? 0xFFFFFFFFu << (32 - l) : 0;
            int64_t i = clickpy_routeset_find(s, addr & m, (uint32_t)l);
            if (i >= 0) return i;
        }
        return -1;
    }
    """
    const uint32_t LPM_NODE
    const uint32_t LPM_MAX_NEXTHOPS
    ctypedef struct LPM "clickpy_lpm":
        uint32_t* root
        uint32_t* nodes
        uint32_t nodes_live
        int root_bits, stride
    ctypedef struct RouteSlot "clickpy_route_slot":
        uint32_t addr, nexthop, seq
        uint8_t plen, used
    ctypedef struct RouteSet "clickpy_routeset":
        RouteSlot* slots
        uint32_t mask, count
    int lpm_init "clickpy_lpm_init"(LPM* t, int root_bits, int stride) noexcept nogil
    void lpm_destroy "clickpy_lpm_destroy"(LPM* t) noexcept nogil
    int lpm_update "clickpy_lpm_update"(LPM* t, uint32_t addr, uint32_t plen, uint32_t leaf, int remove) noexcept nogil
    void lpm_clear "clickpy_lpm_clear"(LPM* t) noexcept nogil
    uint32_t lpm_lookup "clickpy_lpm_lookup"(const uint32_t* root, const uint32_t* nodes, uint32_t addr,
                                             int root_bits, int stride) noexcept nogil
    void lpm_lookup_batch "clickpy_lpm_lookup_batch"(const uint32_t* root, const uint32_t* nodes,
                                                     const uint32_t* addrs, uint32_t* leaves, uint32_t n,
                                                     int root_bits, int stride) noexcept nogil
    uint32_t LPM_LEAF(uint32_t plen, uint32_t nexthop) noexcept nogil
    int routeset_init "clickpy_routeset_init"(RouteSet* s, uint32_t cap) noexcept nogil
    int64_t routeset_find "clickpy_routeset_find"(const RouteSet* s, uint32_t addr, uint32_t plen) noexcept nogil
    int routeset_insert "clickpy_routeset_insert"(RouteSet* s, uint32_t addr, uint32_t plen, uint32_t nexthop,
                                                 uint32_t seq) noexcept nogil
    void routeset_delete "clickpy_routeset_delete"(RouteSet* s, uint32_t i) noexcept nogil
    int64_t routeset_cover "clickpy_routeset_cover"(const RouteSet* s, uint32_t addr, uint32_t plen) noexcept nogil
