# cython: language_level=3
"""The data plane's types: PacketPool, Batch and per-buffer annotations.

A packet is an index into the pool. Its bytes live in one of two arenas
(2 KiB buffers, or 64 KiB buffers for large frames) and its annotations in a
parallel array of 128-byte, 64-byte-aligned `Anno` structs. What crosses an
edge of the graph is a `Batch*`: up to BATCH_MAX indices and a count.

Ownership: every index is owned by exactly one batch, queue, or the pool.
`push(port, b)` hands the packets to the callee; the batch struct itself stays
the caller's, who returns it to the freelist after the call.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, uint64_t
from libc.string cimport memcpy, memmove, memset

cdef extern from *:
    """
    #ifndef CLICKPY_PACKET_H
    #define CLICKPY_PACKET_H
    #include <stdint.h>
    #include <stddef.h>
    #ifdef CLICKPY_DEBUG
    #define CLICKPY_DEBUG_BUILD 1
    #else
    #define CLICKPY_DEBUG_BUILD 0
    #endif
    #define CLICKPY_BATCH_MAX 256
    /* buffer geometry and an annotation offset, for C helpers as well
       (Cython names: BUF_SIZE, HEADROOM, EXTRA_LENGTH_ANNO) */
    #define CLICKPY_BUF_SIZE 2048
    #define CLICKPY_HEADROOM 128
    #define CLICKPY_EXTRA_LENGTH_ANNO 28
    #define CLICKPY_NO_PACKET 0xFFFFFFFFu

    /* Click's annotations as one C struct (two cache lines: the first holds
       what every element touches). Header offsets count from the buffer's
       first byte and are -1 when unset, so pushing or pulling data never moves
       them. `user` is Click's 48-byte annotation area with Click's layout
       (DST_IP at 0, PAINT at 16, VLAN_TCI at 20, ...), so ANNO arguments of
       Click configs mean the same bytes here. */
    typedef struct __attribute__((aligned(64))) clickpy_anno {
        uint8_t *data;          /* first byte of packet data */
        uint32_t len;           /* bytes of packet data */
        uint32_t headroom;      /* bytes between buffer start and data */
        int32_t mac_off;
        int32_t net_off;
        int32_t trans_off;
        uint8_t packet_type;    /* Click's packet_type_anno: HOST, BROADCAST, ... */
        uint8_t offload;        /* OFFLOAD_* flags */
        uint16_t device_vlan;   /* VLAN TCI a device took out of the frame */
        uint64_t timestamp;     /* ns since the epoch; 0 = unset */
        int32_t ifindex;        /* input device, 0 = none */
        uint16_t csum_start;    /* partial checksum: from the buffer's first byte, like the header offsets */
        uint16_t csum_offset;
        uint16_t gso_size;
        uint8_t gso_type;
        uint8_t _pad0;
        uint32_t owner;         /* debug builds: 0 free, 1 allocated, 2+ element id + 2 */
        uint64_t _reserved0;
        uint8_t user[48];       /* Click's annotation area */
        uint8_t _reserved1[16];
    } clickpy_anno;

    _Static_assert(sizeof(clickpy_anno) == 128, "clickpy_anno must be two cache lines");
    _Static_assert(offsetof(clickpy_anno, user) == 64, "user annotations start the second line");

    typedef struct clickpy_batch {
        uint32_t n;
        uint32_t idx[CLICKPY_BATCH_MAX];
    } clickpy_batch;

    /* Zero an annotation struct with eight 16-byte stores: a plain memset of
       128 bytes compiles to `rep stos`, which costs more than the rest of a
       packet's creation. */
    typedef uint8_t clickpy_v16 __attribute__((vector_size(16)));
    static inline void clickpy_anno_reset(clickpy_anno *a, uint8_t *data, uint32_t len, uint32_t headroom) {
        clickpy_v16 z = {0};
        clickpy_v16 *v = (clickpy_v16 *)a;
        v[0] = z; v[1] = z; v[2] = z; v[3] = z; v[4] = z; v[5] = z; v[6] = z; v[7] = z;
        a->data = data;
        a->len = len;
        a->headroom = headroom;
        a->mac_off = -1;
        a->net_off = -1;
        a->trans_off = -1;
    }

    /* Copy len bytes in 32-byte blocks, so short copies need no libc call.
       It may write up to 31 bytes past dst+len and read as far past src+len:
       callers guarantee that slack (buffers and templates are sized for it). */
    static inline void clickpy_copy_blocks(uint8_t *dst, const uint8_t *src, uint32_t len) {
        for (uint32_t i = 0; i < len; i += 32)
            __builtin_memcpy(dst + i, src + i, 32);
    }

    /* Set up n fresh buffers' annotations from one prototype, all alike but
       for the data pointer (arena + x * stride + headroom): its 128 bytes
       stay in vector registers across the loop. With copy, also copy that
       many bytes of src into each, by 32-byte blocks (a 64-byte copy keeps
       its source in registers too). Creating a packet is mostly these
       stores, so the function is compiled twice, the loader picking the
       AVX2 version (32-byte stores, half as many) on processors that have
       it; without AVX2 each 32-byte vector is two 16-byte ones. Called once
       per batch. */
    typedef uint8_t clickpy_v32 __attribute__((vector_size(32)));
    /* Buffer x's annotations from the prototype in v0..v3; returns its data. */
    static inline __attribute__((always_inline)) uint8_t *
    clickpy_anno_from_proto(clickpy_anno *anno, uint32_t x, uint8_t *arena, size_t stride, uint32_t headroom,
                            clickpy_v32 v0, clickpy_v32 v1, clickpy_v32 v2, clickpy_v32 v3) {
        clickpy_v32 *a = (clickpy_v32 *)&anno[x];
        uint8_t *d = arena + (size_t)x * stride + headroom;
        a[0] = v0; a[1] = v1; a[2] = v2; a[3] = v3;
        anno[x].data = d;
        return d;
    }
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    __attribute__((target_clones("avx2", "default")))
#endif
    static void clickpy_annos_from(clickpy_anno *anno, const uint32_t *idx, uint32_t n,
                                   const clickpy_anno *proto, uint8_t *arena, size_t stride,
                                   uint32_t headroom, const uint8_t *src, uint32_t copy) {
        const clickpy_v32 *p = (const clickpy_v32 *)proto;
        clickpy_v32 v0 = p[0], v1 = p[1], v2 = p[2], v3 = p[3];
        if (copy == 64) {
            clickpy_v32 d0, d1;
            __builtin_memcpy(&d0, src, 32);
            __builtin_memcpy(&d1, src + 32, 32);
            for (uint32_t i = 0; i < n; i++) {
                uint8_t *d = clickpy_anno_from_proto(anno, idx[i], arena, stride, headroom, v0, v1, v2, v3);
                __builtin_memcpy(d, &d0, 32);
                __builtin_memcpy(d + 32, &d1, 32);
            }
            return;
        }
        for (uint32_t i = 0; i < n; i++)
            clickpy_copy_blocks(clickpy_anno_from_proto(anno, idx[i], arena, stride, headroom, v0, v1, v2, v3),
                                src, copy);
    }

    static inline uint32_t clickpy_load_be32(const uint8_t *p) {
        uint32_t v; __builtin_memcpy(&v, p, 4); return __builtin_bswap32(v);
    }
    static inline uint16_t clickpy_load_be16(const uint8_t *p) {
        uint16_t v; __builtin_memcpy(&v, p, 2); return __builtin_bswap16(v);
    }
    static inline void clickpy_store_be32(uint8_t *p, uint32_t v) {
        v = __builtin_bswap32(v); __builtin_memcpy(p, &v, 4);
    }
    static inline void clickpy_store_be16(uint8_t *p, uint16_t v) {
        v = __builtin_bswap16(v); __builtin_memcpy(p, &v, 2);
    }
    #endif
    """
    const bint CLICKPY_DEBUG_BUILD
    const int BATCH_MAX "CLICKPY_BATCH_MAX"
    const uint32_t NO_PACKET "CLICKPY_NO_PACKET"
    enum:
        BUF_SIZE "CLICKPY_BUF_SIZE"
        HEADROOM "CLICKPY_HEADROOM"
        EXTRA_LENGTH_ANNO "CLICKPY_EXTRA_LENGTH_ANNO"

    ctypedef struct Anno "clickpy_anno":
        uint8_t* data
        uint32_t len
        uint32_t headroom
        int32_t mac_off
        int32_t net_off
        int32_t trans_off
        uint8_t packet_type
        uint8_t offload
        uint16_t device_vlan
        uint64_t timestamp
        int32_t ifindex
        uint16_t csum_start
        uint16_t csum_offset
        uint16_t gso_size
        uint8_t gso_type
        uint32_t owner
        uint8_t user[48]

    ctypedef struct Batch "clickpy_batch":
        uint32_t n
        uint32_t idx[256]

    void anno_reset "clickpy_anno_reset"(Anno* a, uint8_t* data, uint32_t len, uint32_t headroom) noexcept nogil
    void copy_blocks "clickpy_copy_blocks"(uint8_t* dst, const uint8_t* src, uint32_t len) noexcept nogil
    void annos_from "clickpy_annos_from"(Anno* anno, const uint32_t* idx, uint32_t n, const Anno* proto,
                                         uint8_t* arena, size_t stride, uint32_t headroom,
                                         const uint8_t* src, uint32_t copy) noexcept nogil
    uint32_t load_be32 "clickpy_load_be32"(const uint8_t* p) noexcept nogil
    uint16_t load_be16 "clickpy_load_be16"(const uint8_t* p) noexcept nogil
    void store_be32 "clickpy_store_be32"(uint8_t* p, uint32_t v) noexcept nogil
    void store_be16 "clickpy_store_be16"(uint8_t* p, uint16_t v) noexcept nogil

cdef inline void ring_put(uint32_t* ring, uint32_t mask, uint64_t pos, const uint32_t* src, uint32_t n) noexcept nogil:
    """Copy n indices into a ring of mask + 1 slots (a power of two) at position
    pos (taken modulo the size), in at most two pieces: the copy may wrap."""
    cdef uint32_t at = <uint32_t>(pos & mask)
    cdef uint32_t first = mask + 1 - at
    if first > n:
        first = n
    memcpy(&ring[at], src, first * sizeof(uint32_t))
    if first < n:
        memcpy(ring, &src[first], (n - first) * sizeof(uint32_t))


cdef inline void ring_take(const uint32_t* ring, uint32_t mask, uint64_t pos, uint32_t* dst, uint32_t n) noexcept nogil:
    """Copy n indices out of a ring from position pos, in at most two pieces."""
    cdef uint32_t at = <uint32_t>(pos & mask)
    cdef uint32_t first = mask + 1 - at
    if first > n:
        first = n
    memcpy(dst, &ring[at], first * sizeof(uint32_t))
    if first < n:
        memcpy(&dst[first], ring, (n - first) * sizeof(uint32_t))


cdef enum:
    BIG_BUF_SIZE = 69632        # 64 KiB of frame, VLAN/encapsulation room, headroom
    COPY_SLACK = 32             # bytes copy_blocks may touch past the end
    OWNER_FREE = 0
    OWNER_ALLOCATED = 1
    OWNER_ELEMENT_BASE = 2

# debug-build ownership errors
cdef enum:
    DEBUG_ALLOC_IN_USE = 1
    DEBUG_BAD_INDEX = 2
    DEBUG_DOUBLE_FREE = 3
    DEBUG_FREE_IN_BATCH = 4
    DEBUG_DUPLICATE_IN_BATCH = 5
    DEBUG_BATCH_TOO_BIG = 6

# Click's packet types (packet_type_anno)
cdef enum:
    PACKET_HOST = 0
    PACKET_BROADCAST = 1
    PACKET_MULTICAST = 2
    PACKET_OTHERHOST = 3
    PACKET_OUTGOING = 4
    PACKET_LOOPBACK = 5
    PACKET_FASTROUTE = 6

# Anno.offload flags
cdef enum:
    OFFLOAD_CSUM_PARTIAL = 1    # transport checksum still to be completed (csum_start/offset)
    OFFLOAD_CSUM_VALID = 2      # a device verified the checksums
    OFFLOAD_VLAN = 4            # device_vlan holds a tag a device took out of the frame

# Click's annotation area offsets (user[])
cdef enum:
    DST_IP_ANNO = 0
    PAINT_ANNO = 16
    ICMP_PARAMPROB_ANNO = 17
    FIX_IP_SRC_ANNO = 19
    VLAN_TCI_ANNO = 20
    AGGREGATE_ANNO = 20
    MISC_IP_ANNO = 20
    EXTRA_PACKETS_ANNO = 26
    # EXTRA_LENGTH_ANNO = 28: with the C definitions above
    FIRST_TIMESTAMP_ANNO = 32
    PACKET_NUMBER_ANNO = 32
    SEQUENCE_NUMBER_ANNO = 36


cdef class PacketPool:
    cdef uint8_t* small_arena
    cdef uint8_t* big_arena
    cdef size_t small_arena_bytes, big_arena_bytes
    cdef Anno* anno
    cdef size_t anno_bytes
    cdef uint32_t nsmall, nbig        # small indices are [0, nsmall), big ones [nsmall, nsmall + nbig)
    cdef uint32_t* small_free         # LIFO stacks of free indices
    cdef uint32_t* big_free
    cdef uint32_t nsmall_free, nbig_free
    # counted failures, reported by the pool handlers
    cdef readonly uint64_t alloc_failures, big_alloc_failures, headroom_failures, tailroom_failures
    # batch freelist (grows on demand; never per batch in steady state)
    cdef Batch** batches
    cdef int nbatches_free, batches_cap, batches_total
    # debug builds: duplicate detection within a batch, ownership errors
    cdef uint32_t* debug_mark
    cdef uint32_t debug_stamp
    cdef readonly uint64_t debug_errors
    cdef bytes debug_first_error

    cdef Batch* _grow_batches(self) except NULL
    cdef void _debug_error(self, int kind, uint32_t x) noexcept
    cdef int debug_check_batch(self, Batch* b, uint32_t owner) except -1
    cdef uint32_t clone(self, uint32_t x) noexcept
    cdef uint32_t alloc_big(self, uint32_t length) noexcept
    cdef uint8_t* _push_slow(self, uint32_t x, uint32_t nbytes) noexcept

    # ---- batches ---------------------------------------------------------
    cdef inline Batch* batch_get(self) except NULL:
        """An empty batch from the freelist (LIFO: the hottest first)."""
        cdef Batch* b
        if self.nbatches_free == 0:
            return self._grow_batches()
        self.nbatches_free -= 1
        b = self.batches[self.nbatches_free]
        b.n = 0
        return b

    cdef inline void batch_put(self, Batch* b) noexcept:
        self.batches[self.nbatches_free] = b
        self.nbatches_free += 1

    # ---- buffers ---------------------------------------------------------
    cdef inline uint32_t buf_size(self, uint32_t x) noexcept:
        return BUF_SIZE if x < self.nsmall else BIG_BUF_SIZE

    cdef inline uint8_t* head(self, uint32_t x) noexcept:
        """The first byte of buffer x (data - headroom)."""
        return self.anno[x].data - self.anno[x].headroom

    cdef inline void init_anno(self, uint32_t x, uint32_t length) noexcept:
        cdef Anno* a = &self.anno[x]
        cdef uint32_t owner = a.owner
        cdef uint8_t* base
        if x < self.nsmall:
            base = self.small_arena + <size_t>x * BUF_SIZE
        else:
            base = self.big_arena + <size_t>(x - self.nsmall) * BIG_BUF_SIZE
        anno_reset(a, base + HEADROOM, length, HEADROOM)
        if CLICKPY_DEBUG_BUILD:
            a.owner = owner

    cdef inline uint32_t alloc(self, uint32_t length) noexcept:
        """A fresh buffer with `length` bytes of (uninitialized) data, or NO_PACKET (counted)."""
        cdef uint32_t x
        if length > BUF_SIZE - HEADROOM:
            return self.alloc_big(length)
        if self.nsmall_free == 0:
            self.alloc_failures += 1
            return NO_PACKET
        self.nsmall_free -= 1
        x = self.small_free[self.nsmall_free]
        if CLICKPY_DEBUG_BUILD:
            if self.anno[x].owner != OWNER_FREE:
                self._debug_error(DEBUG_ALLOC_IN_USE, x)
            self.anno[x].owner = OWNER_ALLOCATED
        self.init_anno(x, length)
        return x

    cdef inline int alloc_n(self, uint32_t* out, int n) noexcept:
        """Pop up to n small buffers (annotations NOT initialized); returns how
        many. They are the top n of the stack, copied in stack order (one copy,
        not a reversing loop)."""
        cdef int i
        # the stack top in a local: stores to out[] may alias the pool's fields
        cdef uint32_t top = self.nsmall_free
        cdef uint32_t* stack = self.small_free
        if <uint32_t>n > top:
            self.alloc_failures += <uint32_t>n - top
            n = top
        top -= <uint32_t>n
        memcpy(out, &stack[top], <uint32_t>n * sizeof(uint32_t))
        self.nsmall_free = top
        if CLICKPY_DEBUG_BUILD:
            for i in range(n):
                if self.anno[out[i]].owner != OWNER_FREE:
                    self._debug_error(DEBUG_ALLOC_IN_USE, out[i])
                self.anno[out[i]].owner = OWNER_ALLOCATED
        return n

    cdef inline int alloc_batch(self, Batch* b, int n, uint32_t length, const uint8_t* data,
                                uint64_t timestamp) noexcept:
        """Fill the empty batch b with up to n fresh small buffers of `length`
        bytes each (at most BUF_SIZE - HEADROOM), annotations as alloc leaves
        them with the timestamp set; returns how many (a shortfall is
        counted). With `data` (not NULL), each packet gets a copy of the
        `length` bytes there, which must stay readable up to COPY_SLACK
        bytes past max(length, 32): copies go by 32-byte blocks, and a
        packet of at most 64 bytes takes two whatever its length. The
        annotations are copied from one prototype (annos_from), in the same
        loop as the data."""
        cdef Anno proto
        cdef int i
        n = self.alloc_n(b.idx, n)
        anno_reset(&proto, NULL, length, HEADROOM)
        proto.timestamp = timestamp
        if CLICKPY_DEBUG_BUILD:
            proto.owner = OWNER_ALLOCATED
        if data == NULL:
            annos_from(self.anno, b.idx, n, &proto, self.small_arena, BUF_SIZE, HEADROOM, NULL, 0)
        elif length <= 64:      # annos_from's fastest copy
            annos_from(self.anno, b.idx, n, &proto, self.small_arena, BUF_SIZE, HEADROOM, data, 64)
        elif HEADROOM + length + COPY_SLACK <= BUF_SIZE:
            annos_from(self.anno, b.idx, n, &proto, self.small_arena, BUF_SIZE, HEADROOM, data, length)
        else:
            annos_from(self.anno, b.idx, n, &proto, self.small_arena, BUF_SIZE, HEADROOM, NULL, 0)
            for i in range(n):
                memcpy(self.anno[b.idx[i]].data, data, length)
        b.n = n
        return n

    cdef inline void free(self, uint32_t x) noexcept:
        if CLICKPY_DEBUG_BUILD:
            if x >= self.nsmall + self.nbig:
                self._debug_error(DEBUG_BAD_INDEX, x)
                return
            if self.anno[x].owner == OWNER_FREE:
                self._debug_error(DEBUG_DOUBLE_FREE, x)
                return
            self.anno[x].owner = OWNER_FREE
        if x < self.nsmall:
            self.small_free[self.nsmall_free] = x
            self.nsmall_free += 1
        else:
            self.big_free[self.nbig_free] = x
            self.nbig_free += 1

    cdef inline void free_batch(self, Batch* b) noexcept:
        """Free every packet of b; b is left empty."""
        cdef uint32_t i, x, highest = 0
        # the stack top and bound in locals: stores to the stack may alias the pool's fields
        cdef uint32_t top = self.nsmall_free, nsmall = self.nsmall
        cdef uint32_t* stack = self.small_free
        if CLICKPY_DEBUG_BUILD:
            for i in range(b.n):
                self.free(b.idx[i])
        else:
            # usually every buffer is small: then the indices go on the stack in
            # one copy (the compiler vectorizes the search for the highest)
            for i in range(b.n):
                highest = highest if highest > b.idx[i] else b.idx[i]
            if highest < nsmall:
                memcpy(&stack[top], b.idx, b.n * sizeof(uint32_t))
                self.nsmall_free = top + b.n
                b.n = 0
                return
            for i in range(b.n):
                x = b.idx[i]
                if x < nsmall:
                    stack[top] = x
                    top += 1
                else:
                    self.big_free[self.nbig_free] = x
                    self.nbig_free += 1
            self.nsmall_free = top
        b.n = 0

    # ---- data operations (Click's push/pull/put/take) --------------------
    cdef inline uint8_t* push(self, uint32_t x, uint32_t nbytes) noexcept:
        """Prepend nbytes; returns the new data start, or NULL (counted) if the buffer
        cannot hold them even after moving the data back."""
        cdef Anno* a = &self.anno[x]
        if nbytes > a.headroom:
            return self._push_slow(x, nbytes)
        a.data -= nbytes
        a.headroom -= nbytes
        a.len += nbytes
        return a.data

    cdef inline void _shift_headers(self, Anno* a, int32_t delta) noexcept:
        if a.mac_off >= 0: a.mac_off += delta
        if a.net_off >= 0: a.net_off += delta
        if a.trans_off >= 0: a.trans_off += delta

    cdef inline bint pull(self, uint32_t x, uint32_t nbytes) noexcept:
        """Remove nbytes from the front; false if the packet is shorter."""
        cdef Anno* a = &self.anno[x]
        if nbytes > a.len:
            return False
        a.data += nbytes
        a.headroom += nbytes
        a.len -= nbytes
        return True

    cdef inline uint8_t* put(self, uint32_t x, uint32_t nbytes) noexcept:
        """Append nbytes (uninitialized); returns a pointer to them, or NULL (counted)."""
        cdef Anno* a = &self.anno[x]
        cdef uint8_t* h
        cdef uint8_t* tail
        if a.headroom + a.len + nbytes > self.buf_size(x):
            if a.len + nbytes > self.buf_size(x):
                self.tailroom_failures += 1
                return NULL
            # slide the data toward the head to make tailroom
            h = a.data - a.headroom
            memmove(h, a.data, a.len)
            self._shift_headers(a, -<int32_t>a.headroom)
            a.data = h
            a.headroom = 0
        tail = a.data + a.len
        a.len += nbytes
        return tail

    cdef inline void take(self, uint32_t x, uint32_t nbytes) noexcept:
        """Remove nbytes from the end (all of them if the packet is shorter)."""
        cdef Anno* a = &self.anno[x]
        if nbytes > a.len:
            nbytes = a.len
        a.len -= nbytes

    # ---- headers ---------------------------------------------------------
    cdef inline uint8_t* mac_header(self, uint32_t x) noexcept:
        cdef Anno* a = &self.anno[x]
        return NULL if a.mac_off < 0 else a.data - a.headroom + a.mac_off

    cdef inline uint8_t* network_header(self, uint32_t x) noexcept:
        cdef Anno* a = &self.anno[x]
        return NULL if a.net_off < 0 else a.data - a.headroom + a.net_off

    cdef inline uint8_t* transport_header(self, uint32_t x) noexcept:
        cdef Anno* a = &self.anno[x]
        return NULL if a.trans_off < 0 else a.data - a.headroom + a.trans_off

    cdef inline void set_mac_header(self, uint32_t x, const uint8_t* p) noexcept:
        cdef Anno* a = &self.anno[x]
        a.mac_off = <int32_t>(p - (a.data - a.headroom))

    cdef inline void set_network_header(self, uint32_t x, const uint8_t* p, uint32_t length) noexcept:
        """Network header at p, `length` bytes long; the transport header follows it."""
        cdef Anno* a = &self.anno[x]
        a.net_off = <int32_t>(p - (a.data - a.headroom))
        a.trans_off = a.net_off + <int32_t>length


cdef class BatchView:
    cdef PacketPool pool
    cdef Batch* batch

    @staticmethod
    cdef BatchView wrap(PacketPool pool, Batch* b)
