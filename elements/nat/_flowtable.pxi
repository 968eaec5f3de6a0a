# The rewriters' flow table, in C memory (not an element).
#
# A flow (Click's IPRewriterFlow) is one record holding both of its keys:
# key[0] is the flow as it arrives (the "forward" direction) and key[1] the
# reply flow as it arrives (the reverse of the rewritten flow). A packet is
# looked up by its key; the hit says which flow and which direction, and the
# rewrite for direction d is "become the reverse of key[!d]".
#
# Index: open addressing with linear probing over 64-bit slots
# (hash tag << 32 | flow << 1 | direction; 0 = empty), at most half full,
# backward-shift deletion (no tombstones). The hash is keyed with a random
# seed so that chosen flows cannot pile up in one chain.
#
# Expiry, Click's policy: a flow is guaranteed for GUARANTEE after each of its
# packets and expires TIMEOUT (which for TCP depends on the connection's
# state) after its last packet. Two heaps, as in Click: guaranteed flows
# ordered by the end of their guarantee, best-effort flows by their expiry.
# Unlike Click, a packet does not sift its flow in a heap: it only records the
# time. Heap keys are lower bounds of the true deadlines and are corrected
# when a flow reaches the top of its heap (while reaping or making room), so
# the per-packet cost is O(1) and the order seen by reaping and eviction is
# exactly Click's. The one way a deadline moves earlier (a TCP connection
# closing, a UDP flow becoming streaming with a shorter timeout) sifts the
# flow up at once.

cdef extern from *:
    """
    #define NAT_EMPTY 0ULL
    #define nat_prefetch(p) __builtin_prefetch((p))
    #include <stdlib.h>
    #include <string.h>
    /* Flow records are 64 bytes: aligned to cache lines, a lookup touches one. */
    static void *nat_alloc_lines(size_t bytes) {
        void *p = NULL;
        bytes = (bytes + 63) & ~(size_t)63;
        if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
            return NULL;
        memset(p, 0, bytes);
        return p;
    }
    """
    const uint64_t NAT_EMPTY
    void nat_prefetch(const void* p) noexcept nogil
    void* nat_alloc_lines(size_t bytes) noexcept nogil


cdef enum:
    KIND_OTHER = 0          # one timeout, one guarantee
    KIND_TCP = 1
    KIND_UDP = 2
    NKINDS = 3
    HEAP_BEST_EFFORT = 0
    HEAP_GUARANTEED = 1
    FLOW_FREE = 2           # Flow.heap of a record on the free list
    # Flow.tflags, TCP (Click's TCPFlow): done = FIN seen / RST, data = payload seen
    TCP_FORWARD_DONE = 1
    TCP_REPLY_DONE = 2
    TCP_BOTH_DONE = 3
    TCP_FORWARD_DATA = 4
    TCP_REPLY_DATA = 8
    TCP_BOTH_DATA = 12
    # UDP (Click's UDPFlow): bit 0 = reply seen, plus 2 per packet up to 6
    UDP_STREAMING_ABOVE = 6
    SEQ_MAX_TRANSITIONS = 4


ctypedef struct FlowKey:
    uint32_t saddr          # as the packet holds them (network byte order)
    uint32_t daddr
    uint16_t sport
    uint16_t dport


ctypedef struct Flow:           # 64 bytes: one cache line
    FlowKey key[2]
    uint64_t last           # element clock (ns) at the flow's last packet
    uint64_t heap_key       # its key in its heap: a lower bound of its deadline there
    uint32_t heap_pos       # free flows: the next free index
    uint32_t seq            # sequence-number deltas (TCPRewriter), 0 = none
    uint16_t ip_delta       # one's complement sum of the address changes (forward)
    uint16_t l4_delta       # the same with the port changes
    uint16_t output[2]
    uint16_t input          # the input spec that made the flow
    uint8_t proto           # part of the key (0 where the element's keys leave it out)
    uint8_t ip_p            # the IP protocol of the packet that made the flow
    uint8_t kind            # KIND_*: which timeouts apply
    uint8_t heap            # HEAP_*, or FLOW_FREE
    uint8_t tflags
    uint8_t reply_anno


ctypedef struct HeapEntry:
    uint64_t key
    uint32_t flow


ctypedef struct SeqTransitions:
    # Click's TCPRewriter delta transitions, per direction: from sequence
    # number trigger[i] on, add delta[i] (cumulative); before the first
    # trigger, add base. Triggers increase.
    int32_t base[2]
    int32_t n[2]
    uint32_t trigger[2][SEQ_MAX_TRANSITIONS]
    int32_t delta[2][SEQ_MAX_TRANSITIONS]
    uint32_t next_free


ctypedef struct Timeouts:
    uint64_t timeout[NKINDS]        # best-effort timeout (TCP: no data both ways yet)
    uint64_t guarantee[NKINDS]
    uint64_t tcp_data               # TCP: payload seen both ways
    uint64_t tcp_done               # TCP: closed (FIN both ways, or RST)
    uint64_t udp_streaming          # UDP: 3+ packets and a reply


ctypedef struct FlowTable:
    Flow* flows             # flows[0] is never used
    uint32_t flows_cap
    uint32_t flows_used     # flows[1 .. flows_used-1] have been handed out
    uint32_t free_head
    uint32_t nflows
    uint64_t* slots
    uint32_t slot_mask
    HeapEntry* heap[2]
    uint32_t heap_n[2]
    uint32_t heap_cap[2]
    SeqTransitions* seqs
    uint32_t seqs_cap
    uint32_t seqs_used
    uint32_t seq_free
    uint64_t seed
    Timeouts t


cdef inline int table_init(FlowTable* t, uint32_t flows, uint64_t seed) noexcept nogil:
    """An empty table with room for `flows` flows; -1 if out of memory."""
    cdef uint32_t nslots = 16
    memset(t, 0, sizeof(FlowTable))
    while nslots < 4 * flows:
        nslots <<= 1
    t.flows = <Flow*>nat_alloc_lines((flows + 1) * sizeof(Flow))
    t.slots = <uint64_t*>calloc(nslots, sizeof(uint64_t))
    t.heap[0] = <HeapEntry*>malloc((flows + 1) * sizeof(HeapEntry))
    t.heap[1] = <HeapEntry*>malloc((flows + 1) * sizeof(HeapEntry))
    if t.flows == NULL or t.slots == NULL or t.heap[0] == NULL or t.heap[1] == NULL:
        table_free(t)
        return -1
    t.flows_cap = flows + 1
    t.flows_used = 1
    t.slot_mask = nslots - 1
    t.heap_cap[0] = t.heap_cap[1] = flows + 1
    t.seed = seed
    return 0


cdef inline void table_free(FlowTable* t) noexcept nogil:
    free(t.flows)
    free(t.slots)
    free(t.heap[0])
    free(t.heap[1])
    free(t.seqs)
    t.flows = NULL
    t.slots = NULL
    t.heap[0] = t.heap[1] = NULL
    t.seqs = NULL


# ---- keys and hashing ----------------------------------------------------

cdef inline bint key_eq(const FlowKey* a, const FlowKey* b) noexcept nogil:
    cdef uint64_t x, y
    cdef uint32_t u, v
    memcpy(&x, a, 8)
    memcpy(&y, b, 8)
    memcpy(&u, &a.sport, 4)
    memcpy(&v, &b.sport, 4)
    return x == y and u == v


cdef inline void key_reverse(FlowKey* out, const FlowKey* k) noexcept nogil:
    out.saddr = k.daddr
    out.daddr = k.saddr
    out.sport = k.dport
    out.dport = k.sport


cdef inline uint64_t key_hash(const FlowTable* t, const FlowKey* k, uint8_t proto) noexcept nogil:
    cdef uint64_t a, b
    cdef uint32_t ports
    memcpy(&a, k, 8)
    memcpy(&ports, &k.sport, 4)
    b = ((<uint64_t>ports << 8) | proto) ^ (t.seed >> 17)
    a ^= t.seed
    a = (a ^ (a >> 31)) * 0x9E3779B97F4A7C15ULL
    a ^= b * 0xC2B2AE3D27D4EB4FULL
    a ^= a >> 29
    a *= 0xBF58476D1CE4E5B9ULL
    return a ^ (a >> 32)


cdef inline uint32_t slot_tag(uint64_t slot) noexcept nogil:
    return <uint32_t>(slot >> 32)


cdef inline uint32_t slot_ref(uint64_t slot) noexcept nogil:
    return <uint32_t>slot


cdef inline uint32_t table_lookup(const FlowTable* t, const FlowKey* k, uint8_t proto) noexcept nogil:
    """The entry for key k: flow << 1 | direction, or 0."""
    cdef uint32_t tag = <uint32_t>(key_hash(t, k, proto) >> 32)
    cdef uint32_t i = tag & t.slot_mask
    cdef uint64_t s
    cdef const Flow* f
    while True:
        s = t.slots[i]
        if s == NAT_EMPTY:
            return 0
        if slot_tag(s) == tag:
            f = &t.flows[slot_ref(s) >> 1]
            if f.proto == proto and key_eq(&f.key[slot_ref(s) & 1], k):
                return slot_ref(s)
        i = (i + 1) & t.slot_mask


cdef inline uint32_t key_tag(const FlowTable* t, const FlowKey* k, uint8_t proto) noexcept nogil:
    return <uint32_t>(key_hash(t, k, proto) >> 32)


cdef inline uint32_t table_candidate(const FlowTable* t, uint32_t tag) noexcept nogil:
    """The first entry whose tag matches (0 if none): batch loops prefetch its
    flow before checking the key with flow_matches, so the misses of a batch
    overlap."""
    cdef uint32_t i = tag & t.slot_mask
    cdef uint64_t s
    while True:
        s = t.slots[i]
        if s == NAT_EMPTY:
            return 0
        if slot_tag(s) == tag:
            return slot_ref(s)
        i = (i + 1) & t.slot_mask


cdef inline bint flow_matches(const FlowTable* t, uint32_t ref, const FlowKey* k, uint8_t proto) noexcept nogil:
    """Whether entry ref is a live flow's entry for key k."""
    cdef const Flow* f = &t.flows[ref >> 1]
    return (ref >> 1) < t.flows_used and f.heap != FLOW_FREE and f.proto == proto \
        and key_eq(&f.key[ref & 1], k)


cdef inline void slots_insert(FlowTable* t, uint32_t tag, uint32_t ref) noexcept nogil:
    cdef uint32_t i = tag & t.slot_mask
    while t.slots[i] != NAT_EMPTY:
        i = (i + 1) & t.slot_mask
    t.slots[i] = (<uint64_t>tag << 32) | ref


cdef inline void slots_remove(FlowTable* t, const FlowKey* k, uint8_t proto, uint32_t ref) noexcept nogil:
    """Remove the slot holding `ref` under key k, if any (backward shift)."""
    cdef uint32_t tag = <uint32_t>(key_hash(t, k, proto) >> 32)
    cdef uint32_t mask = t.slot_mask
    cdef uint32_t i = tag & mask
    cdef uint32_t j, home
    cdef uint64_t s
    while True:
        s = t.slots[i]
        if s == NAT_EMPTY:
            return
        if slot_ref(s) == ref:
            break
        i = (i + 1) & mask
    j = i
    while True:
        j = (j + 1) & mask
        s = t.slots[j]
        if s == NAT_EMPTY:
            break
        home = slot_tag(s) & mask
        # move s back to the hole unless its home lies cyclically in (i, j]
        if ((j - home) & mask) >= ((j - i) & mask):
            t.slots[i] = s
            i = j
    t.slots[i] = NAT_EMPTY


cdef inline void slots_replace(FlowTable* t, const FlowKey* k, uint8_t proto,
                               uint32_t old_ref, uint32_t new_ref) noexcept nogil:
    cdef uint32_t tag = <uint32_t>(key_hash(t, k, proto) >> 32)
    cdef uint32_t i = tag & t.slot_mask
    cdef uint64_t s
    while True:
        s = t.slots[i]
        if s == NAT_EMPTY:
            return
        if slot_ref(s) == old_ref:
            t.slots[i] = (s & 0xFFFFFFFF00000000ULL) | new_ref
            return
        i = (i + 1) & t.slot_mask


cdef inline int slots_grow(FlowTable* t) noexcept nogil:
    """Double the index (it holds two entries per flow and stays at most half full)."""
    cdef uint32_t n = t.slot_mask + 1
    cdef uint64_t* old = t.slots
    cdef uint64_t* new = <uint64_t*>calloc(2 * <size_t>n, sizeof(uint64_t))
    cdef uint32_t i
    if new == NULL:
        return -1
    t.slots = new
    t.slot_mask = 2 * n - 1
    for i in range(n):
        if old[i] != NAT_EMPTY:
            slots_insert(t, slot_tag(old[i]), slot_ref(old[i]))
    free(old)
    return 0


# ---- heaps -----------------------------------------------------------------

cdef inline void heap_set(FlowTable* t, int h, uint32_t pos, HeapEntry e) noexcept nogil:
    t.heap[h][pos] = e
    t.flows[e.flow].heap_pos = pos


cdef inline void heap_sift_up(FlowTable* t, int h, uint32_t pos) noexcept nogil:
    cdef HeapEntry e = t.heap[h][pos]
    cdef uint32_t parent
    while pos > 0:
        parent = (pos - 1) >> 1
        if t.heap[h][parent].key <= e.key:
            break
        heap_set(t, h, pos, t.heap[h][parent])
        pos = parent
    heap_set(t, h, pos, e)


cdef inline void heap_sift_down(FlowTable* t, int h, uint32_t pos) noexcept nogil:
    cdef HeapEntry e = t.heap[h][pos]
    cdef HeapEntry* a = t.heap[h]
    cdef uint32_t n = t.heap_n[h]
    cdef uint32_t child
    while True:
        child = 2 * pos + 1
        if child >= n:
            break
        if child + 1 < n and a[child + 1].key < a[child].key:
            child += 1
        if a[child].key >= e.key:
            break
        heap_set(t, h, pos, a[child])
        pos = child
    heap_set(t, h, pos, e)


cdef inline int heap_push(FlowTable* t, int h, uint32_t flow, uint64_t key) noexcept nogil:
    cdef HeapEntry* grown
    cdef HeapEntry e
    if t.heap_n[h] == t.heap_cap[h]:
        grown = <HeapEntry*>realloc(t.heap[h], 2 * <size_t>t.heap_cap[h] * sizeof(HeapEntry))
        if grown == NULL:
            return -1
        t.heap[h] = grown
        t.heap_cap[h] *= 2
    e.key = key
    e.flow = flow
    t.flows[flow].heap = h
    t.flows[flow].heap_key = key
    t.heap[h][t.heap_n[h]] = e
    t.flows[flow].heap_pos = t.heap_n[h]
    t.heap_n[h] += 1
    heap_sift_up(t, h, t.heap_n[h] - 1)
    return 0


cdef inline void heap_remove(FlowTable* t, uint32_t flow) noexcept nogil:
    cdef Flow* f = &t.flows[flow]
    cdef int h = f.heap
    cdef uint32_t pos = f.heap_pos
    cdef HeapEntry last
    t.heap_n[h] -= 1
    if pos == t.heap_n[h]:
        return
    last = t.heap[h][t.heap_n[h]]
    heap_set(t, h, pos, last)
    if pos > 0 and t.heap[h][(pos - 1) >> 1].key > last.key:
        heap_sift_up(t, h, pos)
    else:
        heap_sift_down(t, h, pos)


cdef inline void heap_rekey(FlowTable* t, uint32_t flow, uint64_t key) noexcept nogil:
    """Give the flow a new key in its heap (either way)."""
    cdef Flow* f = &t.flows[flow]
    cdef uint64_t old = t.heap[f.heap][f.heap_pos].key
    t.heap[f.heap][f.heap_pos].key = key
    f.heap_key = key
    if key < old:
        heap_sift_up(t, f.heap, f.heap_pos)
    else:
        heap_sift_down(t, f.heap, f.heap_pos)


cdef inline int heap_move(FlowTable* t, uint32_t flow, int to, uint64_t key) noexcept nogil:
    heap_remove(t, flow)
    return heap_push(t, to, flow, key)


# ---- deadlines -------------------------------------------------------------

cdef inline uint64_t flow_timeout(const Timeouts* tm, const Flow* f) noexcept nogil:
    """How long the flow lives after its last packet once it is best effort
    (Click's tcp_flow_timeout / udp_flow_timeout)."""
    if f.kind == KIND_TCP:
        if (f.tflags & TCP_BOTH_DONE) == TCP_BOTH_DONE:
            return tm.tcp_done
        if (f.tflags & TCP_BOTH_DATA) == TCP_BOTH_DATA:
            return tm.tcp_data
    elif f.kind == KIND_UDP:
        if f.tflags > UDP_STREAMING_ABOVE:
            return tm.udp_streaming
    return tm.timeout[f.kind]


cdef inline uint64_t flow_expiry(const Timeouts* tm, const Flow* f) noexcept nogil:
    return f.last + flow_timeout(tm, f)


cdef inline void flow_touch(FlowTable* t, uint32_t flow, uint64_t now) noexcept nogil:
    """Record a packet at `now`; if that moves the flow's best-effort expiry
    below its heap key (its timeout got shorter), fix its heap position now."""
    cdef Flow* f = &t.flows[flow]
    cdef uint64_t e
    f.last = now
    if f.heap == HEAP_BEST_EFFORT:
        e = flow_expiry(&t.t, f)
        if e < f.heap_key:
            heap_rekey(t, flow, e)


cdef inline bint fix_top(FlowTable* t, int h, uint64_t now) noexcept nogil:
    """Make the top of heap h exact: correct a stale key, move a flow to the
    heap it belongs in now. Returns True when the top was already exact."""
    cdef uint32_t flow = t.heap[h][0].flow
    cdef Flow* f = &t.flows[flow]
    cdef uint64_t g = t.t.guarantee[f.kind]
    cdef uint64_t k
    if h == HEAP_GUARANTEED:
        k = f.last + g
        if k > t.heap[h][0].key:
            heap_rekey(t, flow, k)
            return False
        return True
    if g and f.last + g > now:
        # a packet since it became best effort: guaranteed again
        heap_move(t, flow, HEAP_GUARANTEED, f.last + g)
        return False
    k = flow_expiry(&t.t, f)
    if k > t.heap[h][0].key:
        heap_rekey(t, flow, k)
        return False
    return True


cdef inline void shift_guarantees(FlowTable* t, uint64_t now) noexcept nogil:
    """Flows whose guarantee has ended become best effort (Click's
    shift_heap_best_effort)."""
    cdef uint32_t flow
    while t.heap_n[HEAP_GUARANTEED] and t.heap[HEAP_GUARANTEED][0].key <= now:
        if not fix_top(t, HEAP_GUARANTEED, now):
            continue
        flow = t.heap[HEAP_GUARANTEED][0].flow
        heap_move(t, flow, HEAP_BEST_EFFORT, flow_expiry(&t.t, &t.flows[flow]))


cdef inline uint32_t best_effort_first(FlowTable* t, uint64_t now) noexcept nogil:
    """The best-effort flow that expires first (0 if none), keys made exact."""
    while t.heap_n[HEAP_BEST_EFFORT]:
        if fix_top(t, HEAP_BEST_EFFORT, now):
            return t.heap[HEAP_BEST_EFFORT][0].flow
    return 0


cdef inline uint32_t guaranteed_first(FlowTable* t, uint64_t now) noexcept nogil:
    while t.heap_n[HEAP_GUARANTEED]:
        if fix_top(t, HEAP_GUARANTEED, now):
            return t.heap[HEAP_GUARANTEED][0].flow
    return 0


# ---- flows -----------------------------------------------------------------

cdef inline uint32_t flow_alloc(FlowTable* t) noexcept nogil:
    """A free flow record (zeroed), growing the table if needed; 0 if out of memory."""
    cdef uint32_t idx
    cdef Flow* grown
    if t.free_head:
        idx = t.free_head
        t.free_head = t.flows[idx].heap_pos
    else:
        if t.flows_used == t.flows_cap:
            if t.flows_cap >= 0x7FFFFFFF:
                return 0
            grown = <Flow*>nat_alloc_lines(2 * <size_t>t.flows_cap * sizeof(Flow))
            if grown == NULL:
                return 0
            memcpy(grown, t.flows, <size_t>t.flows_cap * sizeof(Flow))
            free(t.flows)
            t.flows = grown
            t.flows_cap *= 2
        idx = t.flows_used
        t.flows_used += 1
    memset(&t.flows[idx], 0, sizeof(Flow))
    return idx


cdef inline void seq_release(FlowTable* t, uint32_t s) noexcept nogil:
    t.seqs[s].next_free = t.seq_free
    t.seq_free = s


cdef inline void flow_unlink(FlowTable* t, uint32_t flow) noexcept nogil:
    """Take a flow out of the index and its heap and free its record (the
    caller adjusts the owning input's count)."""
    cdef Flow* f = &t.flows[flow]
    slots_remove(t, &f.key[0], f.proto, flow << 1)
    slots_remove(t, &f.key[1], f.proto, (flow << 1) | 1)
    heap_remove(t, flow)
    if f.seq:
        seq_release(t, f.seq)
        f.seq = 0
    f.heap = FLOW_FREE
    f.heap_pos = t.free_head
    t.free_head = flow
    t.nflows -= 1


cdef inline int flow_link(FlowTable* t, uint32_t flow, uint32_t* displaced) noexcept nogil:
    """Index a filled-in flow under both keys and put it in its heap.
    A different flow already holding the reply key is unlinked first, as
    Click does, and returned in *displaced. -1 if out of memory."""
    cdef Flow* f = &t.flows[flow]
    cdef uint32_t ref
    cdef uint64_t g = t.t.guarantee[f.kind]
    displaced[0] = 0
    if 4 * (<uint64_t>t.nflows + 1) > <uint64_t>t.slot_mask + 1:
        if slots_grow(t) < 0:
            return -1
        f = &t.flows[flow]
    if g:
        if heap_push(t, HEAP_GUARANTEED, flow, f.last + g) < 0:
            return -1
    elif heap_push(t, HEAP_BEST_EFFORT, flow, flow_expiry(&t.t, f)) < 0:
        return -1
    t.nflows += 1
    slots_insert(t, <uint32_t>(key_hash(t, &f.key[0], f.proto) >> 32), flow << 1)
    ref = table_lookup(t, &f.key[1], f.proto)
    if ref and ref >> 1 != flow:
        displaced[0] = ref >> 1
        flow_unlink(t, ref >> 1)
        f = &t.flows[flow]
    if ref and ref >> 1 == flow:
        # the reply key is the forward key: replies win the entry, as in Click
        slots_replace(t, &f.key[1], f.proto, ref, (flow << 1) | 1)
    else:
        slots_insert(t, <uint32_t>(key_hash(t, &f.key[1], f.proto) >> 32), (flow << 1) | 1)
    return 0


# ---- checksums ---------------------------------------------------------------

cdef inline uint16_t csum_delta_start() noexcept nogil:
    # a running "checksum" whose complement accumulates sum(~old + new)
    return 0xFFFF


cdef inline uint16_t csum_apply(uint16_t hc, uint16_t delta, bint reverse) noexcept nogil:
    """Checksum hc after the changes summed in delta (forward), or after
    undoing them (reverse): RFC 1624 with precomputed sums."""
    if reverse:
        return csum_update16(hc, delta, 0xFFFF)
    return csum_update16(hc, 0xFFFF, delta)


cdef inline bint csum_delta_is_zero(uint16_t delta) noexcept nogil:
    return delta == 0 or delta == 0xFFFF


# ---- TCP sequence deltas (Click's TCPRewriter::TCPFlow) ------------------------

cdef inline bint seq_geq(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) >= 0


cdef inline uint32_t seq_new(const SeqTransitions* s, int d, uint32_t seqno) noexcept nogil:
    """A sequence number of direction d, shifted by the delta in force at it."""
    cdef int i = s.n[d] - 1
    while i >= 0:
        if seq_geq(seqno, s.trigger[d][i]):
            return seqno + <uint32_t>s.delta[d][i]
        i -= 1
    return seqno + <uint32_t>s.base[d]


cdef inline uint32_t seq_new_ack(const SeqTransitions* s, int d, uint32_t ackno) noexcept nogil:
    """An acknowledgment sent in direction d acknowledges the other
    direction's (shifted) sequence numbers: shift it back."""
    cdef int o = 1 - d
    cdef int i = s.n[o] - 1
    while i >= 0:
        if seq_geq(ackno - <uint32_t>s.delta[o][i], s.trigger[o][i]):
            return ackno - <uint32_t>s.delta[o][i]
        i -= 1
    return ackno - <uint32_t>s.base[o]


cdef inline void seq_forget_old(SeqTransitions* s, int d, uint32_t seqno) noexcept nogil:
    """Transitions 1G or more behind seqno can no longer be told apart from
    later ones: the newest such one becomes the base (Click drops them)."""
    cdef int i, k = -1
    for i in range(s.n[d]):
        if seq_geq(seqno, s.trigger[d][i] + (1U << 30)):
            k = i
    if k >= 0:
        s.base[d] = s.delta[d][k]
        for i in range(k + 1, s.n[d]):
            s.trigger[d][i - k - 1] = s.trigger[d][i]
            s.delta[d][i - k - 1] = s.delta[d][i]
        s.n[d] -= k + 1


if sizeof(Flow) != 64:
    raise ImportError(f"flow records are {sizeof(Flow)} bytes, not one 64-byte cache line")
