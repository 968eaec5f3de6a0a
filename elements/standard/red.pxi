# EXPORT_ELEMENT RED

cdef class RED(Element):
    """RED(MIN_THRESH, MAX_THRESH, MAX_P, [KEYWORDS])

    Drops packets according to Random Early Detection.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic input and output 0, push output 1.

    Implements the Random Early Detection dropping algorithm (Floyd and
    Jacobson, 1993). RED keeps a running average of the summed lengths of
    one or more queues (SimpleQueue, NotifierQueue, FullNoteQueue, Queue)
    and marks packets with a probability that grows with that average.
    By default the queues are found by following the graph: a push RED uses
    the nearest queues downstream, a pull RED the nearest upstream. Marked
    packets are dropped, or go out output 1 if it is connected. When the
    queues are the nearest ones, each packet of a batch sees the queue
    length it would meet on its own: the queue plus the packets of the
    batch accepted before it (push), or the packets still behind it (pull).

    At an average at or below MIN_THRESH no packet is marked; between
    MIN_THRESH and MAX_THRESH the probability grows linearly from 0 to
    MAX_P; above, see GENTLE. Marks are spaced as RED's "uniform" method
    does (a count since the last mark against a random threshold).

    Keywords:
      MIN_THRESH  Unsigned. Average queue length below which nothing is marked.
      MAX_THRESH  Unsigned, at least MIN_THRESH, at most 65535. The average at
                  which packets are marked with probability MAX_P.
      MAX_P       Real between 0 and 1. Mark probability at MAX_THRESH.
      QUEUES      Space-separated names of the queue elements to watch.
      STABILITY   Unsigned, 0 to 16. The average moves 2^-STABILITY of the way
                  to each new sample (w_q = 2^-STABILITY); 0 uses the current
                  length. Empty periods decay it once per 20 ms (default 4).
      GENTLE      Boolean. Between MAX_THRESH and 2*MAX_THRESH the probability
                  grows from MAX_P to 1, above that every packet is marked; if
                  false every packet above MAX_THRESH is (default true).

    Handlers:
      min_thresh (read/write)  MIN_THRESH
      max_thresh (read/write)  MAX_THRESH
      max_p (read/write)       MAX_P
      drops (read)             packets marked so far
      queues (read)            the queues watched, one per line
      avg_queue_size (read)    the current average queue length
      stats (read)             current and average queue length, drops

    Example:
      ... -> RED(5, 50, 0.02) -> Queue(200) -> ...
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef double min_thresh, max_thresh, kill_thresh, max_p
    cdef int stability
    cdef bint gentle
    cdef double weight               # 2^-stability
    cdef double average
    cdef int mark_count               # packets since the last mark, -1 outside the random zone
    cdef double mark_threshold        # uniform in [0, 1): the next mark comes when count > it / p_b
    cdef uint64_t last_empty_period   # 20 ms periods; 0: the queue was not empty
    cdef readonly uint64_t drops
    cdef uint64_t random_state
    cdef PyObject** queues            # SimpleQueue elements (the router keeps them alive)
    cdef int nqueues
    cdef list queue_elements
    cdef bint batch_offset            # count the batch's packets into the queue length
    cdef str queue_names

    def __dealloc__(self):
        c_free(self.queues)

    def configure(self, args):
        min_thresh = args.read_mp("MIN_THRESH", UINT)
        max_thresh = args.read_mp("MAX_THRESH", UINT)
        max_p = args.read_mp("MAX_P", DOUBLE)
        self.queue_names = args.read("QUEUES", ANY, None)
        stability = args.read("STABILITY", UINT, 4)
        gentle = args.read("GENTLE", BOOL, True)
        self._set_params(min_thresh, max_thresh, max_p, stability, gentle)
        self.queue_elements = []
        if self.queue_names is not None:
            for name in split_words(self.queue_names):
                e = self.router.element(name)
                if e is None:
                    raise self.error(f"QUEUES: no element named '{name}'")
                self.queue_elements.append(e)

    def _set_params(self, min_thresh, max_thresh, double max_p, stability, bint gentle):
        if max_thresh > 0xFFFF:
            raise ValueError("MAX_THRESH must be <= 65535")
        if min_thresh > max_thresh:
            raise ValueError("MIN_THRESH must be <= MAX_THRESH")
        if not 0 <= max_p <= 1:
            raise ValueError("MAX_P must be between 0 and 1")
        if stability > 16:
            raise ValueError("STABILITY must be between 0 and 16")
        self.min_thresh = min_thresh
        self.max_thresh = max_thresh
        self.max_p = max_p
        self.stability = stability
        self.weight = 1.0 / (1 << stability)
        self.gentle = gentle
        self.kill_thresh = 2.0 * max_thresh if gentle and max_p != 1 else max_thresh

    def initialize(self):
        nearby = self._nearby_queues()
        if not self.queue_elements:
            self.queue_elements = nearby
        # the packets of a batch reach the queues in the batch's wake only if
        # the queues are the ones next to RED (otherwise they see no offset)
        self.batch_offset = all(e in nearby for e in self.queue_elements)
        if not self.queue_elements:
            raise self.error("no nearby Queues")
        for e in self.queue_elements:
            if not isinstance(e, SimpleQueue):
                raise self.error(f"'{e.name}' is not a Storage element")
        self.queues = <PyObject**>malloc(len(self.queue_elements) * sizeof(PyObject*))
        if self.queues == NULL:
            raise MemoryError()
        for i, e in enumerate(self.queue_elements):
            self.queues[i] = <PyObject*>e
        self.nqueues = len(self.queue_elements)
        self.mark_count = -1
        self.random_state = int.from_bytes(os_urandom(8), "little") | 1
        self.mark_threshold = self._random()

    def _nearby_queues(self) -> list:
        """The first queues on each path downstream (push) or upstream (pull)."""
        downstream = self.output_is_push(0)
        found, seen = [], set()
        stack = [(self, 0)]
        while stack:
            elem, port = stack.pop()
            peers = (self.router._connections_from(elem, port) if downstream
                     else self.router._connections_to(elem, port))
            for name, peer_port in peers:
                if (name, peer_port) in seen:
                    continue
                seen.add((name, peer_port))
                peer = self.router.element(name)
                if isinstance(peer, SimpleQueue):
                    if peer not in found:
                        found.append(peer)
                    continue
                links = flow_links(type(peer).flow_code, peer.ninputs, peer.noutputs)
                if downstream:
                    stack.extend((peer, o) for o in links[peer_port])
                else:
                    stack.extend((peer, i) for i in range(peer.ninputs) if peer_port in links[i])
        return found

    cdef inline double _random(self) noexcept:
        """Uniform in [0, 1) (xorshift64*)."""
        cdef uint64_t x = self.random_state
        x ^= x >> 12
        x ^= x << 25
        x ^= x >> 27
        self.random_state = x
        return <double>((x * 0x2545F4914F6CDD1DULL) >> 11) * (1.0 / 9007199254740992.0)

    cdef inline uint32_t _queue_size(self) noexcept:
        cdef uint32_t s = 0
        cdef int i
        for i in range(self.nqueues):
            s += (<SimpleQueue>self.queues[i]).length()
        return s

    cdef bint _should_drop(self, uint32_t size) noexcept:
        cdef uint64_t period
        cdef double p_b
        if self.stability == 0:
            self.average = size
        elif size:
            self.average += (size - self.average) * self.weight
            self.last_empty_period = 0
        else:
            # decay once per 20 ms the queue has been empty
            period = rate_now() // 20000000ULL
            self.average *= (1.0 - self.weight) ** <double>(
                period - self.last_empty_period if self.last_empty_period and period > self.last_empty_period else 1)
            self.last_empty_period = period
        if self.average <= self.min_thresh:
            self.mark_count = -1
            return False
        if self.average > self.kill_thresh:
            self.mark_count = -1
            return True
        if self.average <= self.max_thresh:
            p_b = (self.max_p * (self.average - self.min_thresh) / (self.max_thresh - self.min_thresh)
                   if self.max_thresh > self.min_thresh else 0.0)
        else:
            p_b = self.max_p + (1.0 - self.max_p) * (self.average - self.max_thresh) / self.max_thresh
        self.mark_count += 1
        if self.mark_count > 0 and p_b > 0 and self.mark_count > self.mark_threshold / p_b:
            self.mark_count = 0
            self.mark_threshold = self._random()
            return True
        if self.mark_count == 0:
            self.mark_threshold = self._random()
        return False

    cdef int _filter(self, Batch* b, Batch* marked, bint pushing) noexcept:
        """Move the marked packets of b to `marked`, keeping the others in order."""
        cdef uint32_t base = self._queue_size()
        cdef uint32_t i, k = 0, size = base
        for i in range(b.n):
            if self.batch_offset:
                size = base + k if pushing else base + (b.n - 1 - i)
            if self._should_drop(size):
                marked.idx[marked.n] = b.idx[i]
                marked.n += 1
            else:
                b.idx[k] = b.idx[i]
                k += 1
        b.n = k
        self.drops += marked.n
        return 0

    cdef int push(self, int port, Batch* b) except -1:
        cdef Batch* marked = self.pool.batch_get()
        try:
            self._filter(b, marked, True)
            if b.n:
                self.output_push(0, b)
            self.emit_or_free(1, marked)
        finally:
            self.pool.batch_put(marked)
        return 0

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef Batch* marked
        if not self.input_pull(0, b, max):
            return 0
        marked = self.pool.batch_get()
        try:
            self._filter(b, marked, False)
            self.emit_or_free(1, marked)
        finally:
            self.pool.batch_put(marked)
        return b.n

    def take_state(self, old):
        if isinstance(old, RED):
            self.average = (<RED>old).average

    def _write_param(self, str which, value):
        params = {"min": self.min_thresh, "max": self.max_thresh, "p": self.max_p}
        params[which] = (DOUBLE if which == "p" else UINT)(value.strip())
        self._set_params(int(params["min"]), int(params["max"]), params["p"], self.stability, self.gentle)

    def _stats(self):
        return (f"{self._queue_size()} current queue\n{format_real(self.average)} avg queue\n"
                f"{self.drops} drops\n")

    def add_handlers(self):
        self.add_read_handler("min_thresh", lambda: int(self.min_thresh))
        self.add_write_handler("min_thresh", lambda v: self._write_param("min", v))
        self.add_read_handler("max_thresh", lambda: int(self.max_thresh))
        self.add_write_handler("max_thresh", lambda v: self._write_param("max", v))
        self.add_read_handler("max_p", lambda: format_real(self.max_p))
        self.add_write_handler("max_p", lambda v: self._write_param("p", v))
        self.add_read_handler("drops", lambda: self.drops)
        self.add_read_handler("queues", lambda: "\n".join(e.name for e in self.queue_elements))
        self.add_read_handler("avg_queue_size", lambda: format_real(self.average))
        self.add_read_handler("stats", self._stats)
