# cython: language_level=3
"""PacketPool: the arenas, annotations, free stacks and batch freelist.

Memory comes from anonymous mmap, so buffers that are never touched cost no
resident memory; LIFO reuse keeps the touched set small.
"""
from libc.stdlib cimport malloc, free as c_free, realloc
from libc.string cimport memcpy, memmove, memset
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from posix.mman cimport mmap, munmap, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS, MAP_FAILED
# Python views of packet memory are plain memoryviews made from pointers: Cython's
# typed memoryviews would import `collections` when the module loads (start-up time).
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_READ, PyBUF_WRITE
from cpython.memoryview cimport PyMemoryView_FromMemory

DEFAULT_POOL_SIZE = 8192
DEFAULT_BIG_POOL_SIZE = 32
INITIAL_BATCHES = 64

_DEBUG_MESSAGES = {
    DEBUG_ALLOC_IN_USE: "buffer {} allocated while in use",
    DEBUG_BAD_INDEX: "invalid buffer index {}",
    DEBUG_DOUBLE_FREE: "double free of buffer {}",
    DEBUG_FREE_IN_BATCH: "free buffer {} found in a batch",
    DEBUG_DUPLICATE_IN_BATCH: "buffer {} appears twice in one batch",
    DEBUG_BATCH_TOO_BIG: "batch of {} packets exceeds BATCH_MAX",
}


class PacketOwnershipError(RuntimeError):
    """A debug build caught a buffer freed twice, leaked, or in two places at once."""


def debug_build() -> bool:
    """True when the extension modules were built with CLICKPY_DEBUG=1."""
    return bool(CLICKPY_DEBUG_BUILD)


cdef void* _map(size_t nbytes) except NULL:
    cdef void* p
    if nbytes == 0:
        nbytes = 4096
    p = mmap(NULL, nbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if p == MAP_FAILED:
        raise MemoryError(f"cannot map {nbytes} bytes for the packet pool")
    return p


cdef class PacketPool:
    """A bounded pool of packet buffers named by index.

    PacketPool(size=8192, big=32): `size` 2 KiB buffers (128 bytes of headroom
    each) and `big` 64 KiB buffers for jumbo, GSO and reassembled frames.
    """

    def __cinit__(self, uint32_t size=DEFAULT_POOL_SIZE, uint32_t big=DEFAULT_BIG_POOL_SIZE):
        cdef uint32_t i
        if size < 1:
            raise ValueError("packet pool size must be at least 1")
        if <uint64_t>size + big >= 0xFFFFFFF0u:
            raise ValueError("packet pool too large")
        self.nsmall = size
        self.nbig = big
        self.small_arena_bytes = <size_t>size * BUF_SIZE
        self.big_arena_bytes = <size_t>big * BIG_BUF_SIZE
        self.anno_bytes = <size_t>(size + big) * sizeof(Anno)
        self.small_arena = <uint8_t*>_map(self.small_arena_bytes)
        self.big_arena = <uint8_t*>_map(self.big_arena_bytes)
        self.anno = <Anno*>_map(self.anno_bytes)     # page-aligned, so 64-byte aligned
        self.small_free = <uint32_t*>malloc(size * sizeof(uint32_t))
        self.big_free = <uint32_t*>malloc((big + 1) * sizeof(uint32_t))
        self.debug_mark = <uint32_t*>malloc((size + big) * sizeof(uint32_t))
        if self.small_free == NULL or self.big_free == NULL or self.debug_mark == NULL:
            raise MemoryError()
        memset(self.debug_mark, 0, (size + big) * sizeof(uint32_t))
        # lowest indices on top of the stack, so the first packets use the first buffers
        for i in range(size):
            self.small_free[i] = size - 1 - i
        self.nsmall_free = size
        for i in range(big):
            self.big_free[i] = size + big - 1 - i
        self.nbig_free = big
        for i in range(size + big):
            self.init_anno(i, 0)
            self.anno[i].owner = OWNER_FREE
        self.batches = <Batch**>malloc(INITIAL_BATCHES * sizeof(Batch*))
        if self.batches == NULL:
            raise MemoryError()
        self.batches_cap = INITIAL_BATCHES
        for i in range(INITIAL_BATCHES):
            self.batches[i] = <Batch*>malloc(sizeof(Batch))
            if self.batches[i] == NULL:
                raise MemoryError()
        self.nbatches_free = INITIAL_BATCHES
        self.batches_total = INITIAL_BATCHES
        self.debug_first_error = None

    def __dealloc__(self):
        cdef int i
        if self.small_arena != NULL:
            munmap(self.small_arena, self.small_arena_bytes or 4096)
        if self.big_arena != NULL:
            munmap(self.big_arena, self.big_arena_bytes or 4096)
        if self.anno != NULL:
            munmap(self.anno, self.anno_bytes or 4096)
        c_free(self.small_free)
        c_free(self.big_free)
        c_free(self.debug_mark)
        if self.batches != NULL:
            # batches still lent out at teardown are leaked rather than freed twice
            for i in range(self.nbatches_free):
                c_free(self.batches[i])
            c_free(self.batches)

    cdef Batch* _grow_batches(self) except NULL:
        # Reached only when the graph nests deeper than any earlier call did.
        cdef Batch** grown
        cdef Batch* b
        if self.batches_total >= self.batches_cap:
            grown = <Batch**>realloc(self.batches, 2 * self.batches_cap * sizeof(Batch*))
            if grown == NULL:
                raise MemoryError()
            self.batches = grown
            self.batches_cap *= 2
        b = <Batch*>malloc(sizeof(Batch))
        if b == NULL:
            raise MemoryError()
        self.batches_total += 1
        b.n = 0
        return b

    cdef void _debug_error(self, int kind, uint32_t x) noexcept:
        self.debug_errors += 1
        if self.debug_first_error is None:
            self.debug_first_error = _DEBUG_MESSAGES.get(kind, "ownership error {}").format(x).encode()

    cdef int debug_check_batch(self, Batch* b, uint32_t owner) except -1:
        """Debug builds, at every edge: indices valid, allocated, unique; record the receiver."""
        cdef uint32_t i, x
        if b.n > <uint32_t>BATCH_MAX:
            self._debug_error(DEBUG_BATCH_TOO_BIG, b.n)
        else:
            self.debug_stamp += 1
            if self.debug_stamp == 0:
                memset(self.debug_mark, 0, (self.nsmall + self.nbig) * sizeof(uint32_t))
                self.debug_stamp = 1
            for i in range(b.n):
                x = b.idx[i]
                if x >= self.nsmall + self.nbig:
                    self._debug_error(DEBUG_BAD_INDEX, x)
                    continue
                if self.anno[x].owner == OWNER_FREE:
                    self._debug_error(DEBUG_FREE_IN_BATCH, x)
                if self.debug_mark[x] == self.debug_stamp:
                    self._debug_error(DEBUG_DUPLICATE_IN_BATCH, x)
                self.debug_mark[x] = self.debug_stamp
                self.anno[x].owner = owner
        if self.debug_errors:
            self.raise_debug_errors()
        return 0

    cdef uint32_t alloc_big(self, uint32_t length) noexcept:
        cdef uint32_t x
        if length > BIG_BUF_SIZE - HEADROOM or self.nbig_free == 0:
            self.big_alloc_failures += 1
            return NO_PACKET
        self.nbig_free -= 1
        x = self.big_free[self.nbig_free]
        if CLICKPY_DEBUG_BUILD:
            if self.anno[x].owner != OWNER_FREE:
                self._debug_error(DEBUG_ALLOC_IN_USE, x)
            self.anno[x].owner = OWNER_ALLOCATED
        self.init_anno(x, length)
        return x

    cdef uint8_t* _push_slow(self, uint32_t x, uint32_t nbytes) noexcept:
        """push() without the headroom for nbytes: make room by sliding the data
        toward the tail, within the same buffer (out of line: the inline push
        stays small in callers' loops)."""
        cdef Anno* a = &self.anno[x]
        cdef uint8_t* h
        cdef uint32_t want = nbytes + HEADROOM
        if want + a.len > self.buf_size(x):
            want = nbytes
            if want + a.len > self.buf_size(x):
                self.headroom_failures += 1
                return NULL
        h = a.data - a.headroom
        memmove(h + want, a.data, a.len)
        self._shift_headers(a, <int32_t>want - <int32_t>a.headroom)
        a.data = h + want
        a.headroom = want
        a.data -= nbytes
        a.headroom -= nbytes
        a.len += nbytes
        return a.data

    cdef uint32_t clone(self, uint32_t x) noexcept:
        """A copy of packet x (bytes, headroom and annotations) in a new buffer, or NO_PACKET."""
        cdef Anno* src = &self.anno[x]
        cdef uint32_t y = self.alloc(src.len)
        cdef Anno* dst
        cdef uint8_t* data
        cdef uint32_t owner
        if y == NO_PACKET:
            return y
        dst = &self.anno[y]
        data = dst.data
        owner = dst.owner
        memcpy(dst, src, sizeof(Anno))
        # same headroom where it fits, so header offsets stay valid
        if src.headroom + src.len <= self.buf_size(y):
            dst.data = data - HEADROOM + src.headroom
        else:
            dst.data = data
            dst.mac_off = dst.mac_off - <int32_t>src.headroom + HEADROOM if dst.mac_off >= 0 else -1
            dst.net_off = dst.net_off - <int32_t>src.headroom + HEADROOM if dst.net_off >= 0 else -1
            dst.trans_off = dst.trans_off - <int32_t>src.headroom + HEADROOM if dst.trans_off >= 0 else -1
            dst.headroom = HEADROOM
        dst.owner = owner
        memcpy(dst.data, src.data, src.len)
        return y

    # ------------------------------------------------------------------ Python
    @property
    def size(self) -> int:
        """Total buffers, both classes."""
        return self.nsmall + self.nbig

    @property
    def free_count(self) -> int:
        return self.nsmall_free + self.nbig_free

    @property
    def small_size(self) -> int:
        return self.nsmall

    @property
    def big_size(self) -> int:
        return self.nbig

    @property
    def batches_allocated(self) -> int:
        return self.batches_total

    @property
    def batches_lent(self) -> int:
        return self.batches_total - self.nbatches_free

    def raise_debug_errors(self) -> None:
        if self.debug_errors:
            msg = self.debug_first_error.decode() if self.debug_first_error else "ownership error"
            n = self.debug_errors
            self.debug_errors = 0
            self.debug_first_error = None
            raise PacketOwnershipError(f"{msg} ({n} ownership error{'s' if n > 1 else ''})")

    def stats(self) -> dict:
        return {
            "size": self.size, "free": self.free_count,
            "small_size": self.nsmall, "small_free": self.nsmall_free,
            "big_size": self.nbig, "big_free": self.nbig_free,
            "alloc_failures": self.alloc_failures, "big_alloc_failures": self.big_alloc_failures,
            "headroom_failures": self.headroom_failures, "tailroom_failures": self.tailroom_failures,
            "batches": self.batches_total,
        }

    def leaked(self) -> list:
        """Indices not free (debug builds record who last received each)."""
        cdef uint32_t i
        free_set = set()
        for i in range(self.nsmall_free):
            free_set.add(self.small_free[i])
        for i in range(self.nbig_free):
            free_set.add(self.big_free[i])
        return [(i, self.anno[i].owner) for i in range(self.nsmall + self.nbig) if i not in free_set]

    def _check_index(self, long x):
        if x < 0 or x >= self.nsmall + self.nbig:
            raise IndexError(f"no buffer {x} in this pool")

    def new_packet(self, data: bytes) -> int:
        """Cold path: a buffer holding a copy of `data`; returns its index (MemoryError if exhausted)."""
        cdef Py_buffer view
        cdef uint32_t n, x
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            if view.len > 0xFFFFFFFF:
                raise MemoryError("packet too large for the pool")
            n = <uint32_t>view.len
            x = self.alloc(n)
            if x == NO_PACKET:
                raise MemoryError("packet pool exhausted")
            if n:
                memcpy(self.anno[x].data, view.buf, n)
        finally:
            PyBuffer_Release(&view)
        return x

    def free_packet(self, long x) -> None:
        self._check_index(x)
        self.free(<uint32_t>x)

    def packet_bytes(self, long x) -> bytes:
        """A copy of packet x's data."""
        self._check_index(x)
        return (<char*>self.anno[x].data)[:self.anno[x].len]

    def packet_view(self, long x, bint writable=False) -> memoryview:
        """A memoryview of packet x's data, read-only unless asked (cold path only)."""
        self._check_index(x)
        return PyMemoryView_FromMemory(<char*>self.head(<uint32_t>x) + self.anno[x].headroom,
                                       self.anno[x].len, PyBUF_WRITE if writable else PyBUF_READ)

    # Cold-path forms of the header operations (tests, Python elements).
    def data_push(self, long x, uint32_t nbytes, bytes fill=None) -> bool:
        """Prepend nbytes (optionally set to `fill`); False if they cannot fit (counted)."""
        self._check_index(x)
        cdef uint8_t* p = self.push(<uint32_t>x, nbytes)
        if p == NULL:
            return False
        if fill is not None:
            memcpy(p, <const uint8_t*>fill, min(<size_t>len(fill), nbytes))
        return True

    def data_pull(self, long x, uint32_t nbytes) -> bool:
        self._check_index(x)
        return self.pull(<uint32_t>x, nbytes)

    def data_put(self, long x, uint32_t nbytes, bytes fill=None) -> bool:
        self._check_index(x)
        cdef uint8_t* p = self.put(<uint32_t>x, nbytes)
        if p == NULL:
            return False
        if fill is not None:
            memcpy(p, <const uint8_t*>fill, min(<size_t>len(fill), nbytes))
        return True

    def data_take(self, long x, uint32_t nbytes) -> None:
        self._check_index(x)
        self.take(<uint32_t>x, nbytes)

    def clone_packet(self, long x) -> int:
        self._check_index(x)
        cdef uint32_t y = self.clone(<uint32_t>x)
        if y == NO_PACKET:
            raise MemoryError("packet pool exhausted")
        return y

    def annotations(self, long x) -> dict:
        """Packet x's annotations as a dict (cold path: tests, Print, debugging)."""
        self._check_index(x)
        cdef Anno* a = &self.anno[x]
        return {
            "length": a.len, "headroom": a.headroom,
            "tailroom": self.buf_size(<uint32_t>x) - a.headroom - a.len,
            "mac_offset": a.mac_off - <int>a.headroom if a.mac_off >= 0 else None,
            "network_offset": a.net_off - <int>a.headroom if a.net_off >= 0 else None,
            "transport_offset": a.trans_off - <int>a.headroom if a.trans_off >= 0 else None,
            "packet_type": a.packet_type, "timestamp": a.timestamp, "ifindex": a.ifindex,
            "offload": a.offload, "device_vlan": a.device_vlan,
            "csum_start": a.csum_start, "csum_offset": a.csum_offset,
            "gso_size": a.gso_size, "gso_type": a.gso_type,
            "user": bytes(a.user[:48]),
        }

    def set_annotation(self, long x, str name, value) -> None:
        """Cold path: set one annotation by the name `annotations()` uses."""
        self._check_index(x)
        cdef Anno* a = &self.anno[x]
        cdef bytes u
        if name == "timestamp": a.timestamp = value
        elif name == "packet_type": a.packet_type = value
        elif name == "ifindex": a.ifindex = value
        elif name == "offload": a.offload = value
        elif name == "device_vlan": a.device_vlan = value
        elif name == "user":
            u = bytes(value)[:48]
            memcpy(a.user, <const char*>u, len(u))
        elif name in ("mac_offset", "network_offset", "transport_offset"):
            off = -1 if value is None else int(value) + a.headroom
            if name == "mac_offset": a.mac_off = off
            elif name == "network_offset": a.net_off = off
            else: a.trans_off = off
        else:
            raise KeyError(name)

    def anno_array(self):
        """All annotations as a numpy structured array viewing the pool (cold path)."""
        import numpy as np
        dtype = np.dtype({
            "names": ["len", "headroom", "mac_off", "net_off", "trans_off", "packet_type",
                      "offload", "device_vlan", "timestamp", "ifindex", "user"],
            "formats": ["<u4", "<u4", "<i4", "<i4", "<i4", "u1", "u1", "<u2", "<u8", "<i4", ("u1", 48)],
            "offsets": [8, 12, 16, 20, 24, 28, 29, 30, 32, 40, 64],
            "itemsize": sizeof(Anno),
        })
        raw = PyMemoryView_FromMemory(<char*>self.anno, self.anno_bytes, PyBUF_READ)
        return np.frombuffer(raw, dtype=dtype, count=self.nsmall + self.nbig)


cdef class BatchView:
    """A cold-path Python view of a batch: indices, lengths and packet bytes.

    Valid only during the call that received it (a PyElement's process_batch).
    """

    @staticmethod
    cdef BatchView wrap(PacketPool pool, Batch* b):
        cdef BatchView v = BatchView.__new__(BatchView)
        v.pool = pool
        v.batch = b
        return v

    def __len__(self):
        return self.batch.n if self.batch != NULL else 0

    def _check(self, long i):
        if self.batch == NULL:
            raise RuntimeError("batch view used after its call returned")
        if i < 0 or i >= self.batch.n:
            raise IndexError(i)

    def index(self, long i) -> int:
        self._check(i)
        return self.batch.idx[i]

    @property
    def indices(self):
        import numpy as np
        n = len(self)
        return np.array([self.batch.idx[i] for i in range(n)], dtype=np.uint32)

    @property
    def lengths(self):
        import numpy as np
        n = len(self)
        return np.array([self.pool.anno[self.batch.idx[i]].len for i in range(n)], dtype=np.uint32)

    def data(self, long i, bint writable=True) -> memoryview:
        self._check(i)
        return self.pool.packet_view(self.batch.idx[i], writable)

    def bytes(self, long i) -> bytes:
        self._check(i)
        return self.pool.packet_bytes(self.batch.idx[i])

    def annotations(self, long i) -> dict:
        self._check(i)
        return self.pool.annotations(self.batch.idx[i])

    def __iter__(self):
        for i in range(len(self)):
            yield self.bytes(i)
