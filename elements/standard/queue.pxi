# EXPORT_ELEMENT Queue
# EXPORT_ELEMENT SimpleQueue
# EXPORT_ELEMENT NotifierQueue
# EXPORT_ELEMENT FullNoteQueue

cdef class SimpleQueue(Element):
    """SimpleQueue([CAPACITY])

    Stores packets in a FIFO queue.

    Ports: 1 input, 1 or 2 outputs.
    Processing: push input, pull output 0, push output 1.

    Stores incoming packets in a first-in-first-out queue and drops packets
    that arrive when it holds CAPACITY packets (default 1000); dropped
    packets go out output 1 if it is connected. Pulls take packets from the
    head. SimpleQueue has no notifiers: pullers downstream poll it.

    Handlers:
      length (read)            packets in the queue now
      highwater_length (read)  the most packets it has held
      drops (read)             packets dropped because the queue was full
      capacity (read/write)    CAPACITY
      reset_counts (write)     zero drops; highwater_length becomes the length
      reset (write)            drop every queued packet (out output 1 if connected)
    """

    port_count = "1/1-2"
    processing = "h/lh"

    cdef uint32_t* ring
    cdef uint32_t mask
    cdef uint64_t head, tail
    cdef readonly uint32_t capacity
    cdef readonly uint64_t drops
    cdef readonly uint32_t highwater
    cdef Notifier empty_note, full_note

    def __dealloc__(self):
        c_free(self.ring)

    def configure(self, args):
        capacity = args.read_p("CAPACITY", UINT, 1000)
        if capacity < 1 or capacity > (1 << 24):
            raise self.error("CAPACITY must be between 1 and 16777216")
        self.capacity = capacity

    def initialize(self):
        self._allocate(self.capacity)

    def _allocate(self, uint32_t capacity):
        cdef uint32_t size = 1
        while size < capacity:
            size <<= 1
        self.ring = <uint32_t*>malloc(size * sizeof(uint32_t))
        if self.ring == NULL:
            raise MemoryError()
        self.mask = size - 1
        self.head = self.tail = 0

    cdef inline uint32_t length(self) noexcept:
        return <uint32_t>(self.tail - self.head)

    cdef int push(self, int port, Batch* b) except -1:
        cdef uint32_t room = self.capacity - self.length()
        cdef uint32_t i, n = b.n
        cdef bint was_empty = self.tail == self.head
        if n > room:
            n = room
        ring_put(self.ring, self.mask, self.tail, b.idx, n)
        self.tail += n
        if self.length() > self.highwater:
            self.highwater = self.length()
        if self.empty_note is not None:
            if was_empty and n:
                self.empty_note.wake()
            if self.length() == self.capacity:
                self.full_note.sleep()
        if n == b.n:
            b.n = 0
            return 0
        # the rest did not fit: dropped, out output 1 if there is one
        for i in range(n, b.n):
            b.idx[i - n] = b.idx[i]
        b.n -= n
        self.drops += b.n
        return self.emit_or_free(1, b)

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef uint32_t i, n = self.length()
        cdef bint was_full = n == self.capacity
        if <uint32_t>max < n:
            n = max
        ring_take(self.ring, self.mask, self.head, b.idx, n)
        self.head += n
        b.n = n
        if self.empty_note is not None:
            if self.head == self.tail:
                self.empty_note.sleep()
            if was_full and n:
                self.full_note.wake()
        return n

    def _drain(self, bint to_output=False):
        """Empty the queue: packets go out output 1 (to_output and connected) or are freed."""
        cdef Batch* b
        while self.head != self.tail:
            b = self.pool.batch_get()
            try:
                while self.head != self.tail and b.n < BATCH_MAX:
                    b.idx[b.n] = self.ring[self.head & self.mask]
                    b.n += 1
                    self.head += 1
                if to_output:
                    self.emit_or_free(1, b)
                else:
                    self.pool.free_batch(b)
            finally:
                self.pool.batch_put(b)
        if self.empty_note is not None:
            self.empty_note.sleep()
            self.full_note.wake()

    def cleanup(self):
        if self.ring != NULL and self.pool is not None:
            self._drain()
        c_free(self.ring)
        self.ring = NULL

    def take_state(self, old):
        """Move the old queue's packets into this one (what does not fit is dropped)."""
        cdef SimpleQueue q
        cdef uint32_t x
        if not isinstance(old, SimpleQueue) or (<SimpleQueue>old).ring == NULL:
            return
        q = <SimpleQueue>old
        if q.pool is not self.pool:
            return
        while q.head != q.tail:
            x = q.ring[q.head & q.mask]
            q.head += 1
            if self.length() < self.capacity:
                self.ring[self.tail & self.mask] = x
                self.tail += 1
            else:
                self.pool.free(x)
                self.drops += 1
        if self.empty_note is not None and self.tail != self.head:
            self.empty_note.wake()

    def _set_capacity(self, value):
        cdef uint32_t capacity = UINT(value)
        cdef uint32_t* old_ring = self.ring
        cdef uint32_t old_mask = self.mask
        cdef uint64_t head = self.head, tail = self.tail
        if capacity < 1 or capacity > (1 << 24):
            raise HandlerError("capacity must be between 1 and 16777216")
        self._allocate(capacity)
        self.capacity = capacity
        while head != tail:
            if self.length() < capacity:
                self.ring[self.tail & self.mask] = old_ring[head & old_mask]
                self.tail += 1
            else:
                self.pool.free(old_ring[head & old_mask])
                self.drops += 1
            head += 1
        c_free(old_ring)
        if self.full_note is not None:
            self.full_note.set_active(self.length() < capacity)

    def _reset_counts(self, value=""):
        self.drops = 0
        self.highwater = self.length()

    def add_handlers(self):
        self.add_read_handler("length", lambda: self.length())
        self.add_read_handler("highwater_length", lambda: self.highwater)
        self.add_read_handler("drops", lambda: self.drops)
        self.add_read_handler("capacity", lambda: self.capacity)
        self.add_write_handler("capacity", self._set_capacity)
        self.add_write_handler("reset_counts", self._reset_counts)
        self.add_write_handler("reset", lambda v: self._drain(True))


cdef class NotifierQueue(SimpleQueue):
    """NotifierQueue([CAPACITY])

    Stores packets in a FIFO queue that tells pullers when it is empty.

    Ports: 1 input, 1 or 2 outputs.
    Processing: push input, pull output 0, push output 1.

    A SimpleQueue with an empty notifier: tasks pulling from it (Unqueue,
    ToDevice, a pull Discard) sleep while it is empty and wake when a packet
    arrives. Drops as SimpleQueue (out output 1 if connected).

    Handlers:
      length (read)            packets in the queue now
      highwater_length (read)  the most packets it has held
      drops (read)             packets dropped because the queue was full
      capacity (read/write)    CAPACITY
      reset_counts (write)     zero drops; highwater_length becomes the length
      reset (write)            drop every queued packet (out output 1 if connected)
    """

    def __cinit__(self):
        # made now, not at initialize: neighbours ask for them while initializing
        self.empty_note = Notifier(False)
        self.full_note = Notifier(True)

    def empty_notifier(self):
        return self.empty_note


cdef class FullNoteQueue(NotifierQueue):
    """FullNoteQueue([CAPACITY])

    Stores packets in a FIFO queue with empty and full notification.

    Ports: 1 input, 1 or 2 outputs.
    Processing: push input, pull output 0, push output 1.

    A NotifierQueue that also has a full notifier: a pushing source upstream
    (InfiniteSource, RatedSource) sleeps while the queue is full instead of
    having its packets dropped.

    Handlers:
      length (read)            packets in the queue now
      highwater_length (read)  the most packets it has held
      drops (read)             packets dropped because the queue was full
      capacity (read/write)    CAPACITY
      reset_counts (write)     zero drops; highwater_length becomes the length
      reset (write)            drop every queued packet (out output 1 if connected)
    """

    def full_notifier(self):
        return self.full_note


cdef class Queue(FullNoteQueue):
    """Queue([CAPACITY])

    Stores packets in a FIFO queue.

    Ports: 1 input, 1 or 2 outputs.
    Processing: push input, pull output 0, push output 1.

    Click's standard queue: a FullNoteQueue. Drops packets that arrive when
    it holds CAPACITY packets (default 1000), out output 1 if connected.
    Pullers downstream sleep while it is empty; pushing sources upstream
    sleep while it is full.

    Handlers:
      length (read)            packets in the queue now
      highwater_length (read)  the most packets it has held
      drops (read)             packets dropped because the queue was full
      capacity (read/write)    CAPACITY
      reset_counts (write)     zero drops; highwater_length becomes the length
      reset (write)            drop every queued packet (out output 1 if connected)

    Example:
      src -> Queue(1024) -> Unqueue(BURST 256) -> sink;
    """
