# Helpers shared by the standard elements (not an element).

cdef extern from "<time.h>" nogil:
    cdef struct timespec_c "timespec":
        long tv_sec
        long tv_nsec
    int clock_gettime_c "clock_gettime"(int clk, timespec_c* ts)
    int CLOCK_MONOTONIC_COARSE_C "CLOCK_MONOTONIC_COARSE"


cdef inline uint64_t coarse_ns() noexcept nogil:
    """A cheap clock for statistics (a few ms resolution)."""
    cdef timespec_c ts
    clock_gettime_c(CLOCK_MONOTONIC_COARSE_C, &ts)
    return <uint64_t>ts.tv_sec * 1000000000ULL + <uint64_t>ts.tv_nsec


# ---------------------------------------------------------------- rate clock
# The rate-keeping elements (RatedSource, RatedUnqueue, Shaper, Meter, RED...)
# read time through rate_now(), so a test or a trace replay can run them on a
# simulated clock (Click's --simtime, scoped to these elements); 0 = real time.
cdef uint64_t simulated_now = 0


cdef inline uint64_t rate_now() noexcept nogil:
    return simulated_now if simulated_now else monotonic_ns()


def set_simulated_time(ns=None):
    """Run the rate-keeping elements of this module on a simulated monotonic
    clock at `ns` nanoseconds (None or 0: back to the real clock)."""
    global simulated_now
    simulated_now = int(ns or 0)


# -------------------------------------------------------------- token bucket
ctypedef struct TokenBucket:
    double rate          # tokens per second
    double capacity      # most tokens the bucket holds
    double tokens        # may go negative: a packet larger than the tokens left is a debt
    uint64_t stamp       # time of the last refill, ns (0: not started)


cdef inline void tb_assign(TokenBucket* tb, double rate, double capacity, double tokens) noexcept nogil:
    tb.rate = rate
    tb.capacity = capacity if capacity > 0 else 1.0
    tb.tokens = tokens if tokens < tb.capacity else tb.capacity
    tb.stamp = 0


cdef inline void tb_refill(TokenBucket* tb, uint64_t now) noexcept nogil:
    if tb.stamp != 0 and now > tb.stamp:
        tb.tokens += <double>(now - tb.stamp) * tb.rate * 1e-9
        if tb.tokens > tb.capacity:
            tb.tokens = tb.capacity
    tb.stamp = now


cdef inline uint64_t tb_wait_ns(TokenBucket* tb, double amount) noexcept nogil:
    """Nanoseconds until the bucket holds `amount` tokens (0 if it does; a
    huge value if the rate is 0)."""
    if tb.tokens >= amount:
        return 0
    if tb.rate <= 0:
        return 0xFFFFFFFFFFFFFFFFULL
    return <uint64_t>((amount - tb.tokens) / tb.rate * 1e9) + 1


# ---------------------------------------------------------- packet templates
DEFAULT_SOURCE_DATA = b"Random bullshit in a packet, at least 64 bytes long. Well, now it is."


def template_data(bytes data, long length) -> bytes:
    """DATA cut or repeated to LENGTH bytes (Click's sources; LENGTH < 0: DATA as is)."""
    if length < 0:
        return data
    if length > len(data):
        return (data * (length // max(len(data), 1) + 1))[:length] if data else bytes(length)
    return data[:length]


@cython.final
cdef class PacketTemplate:
    """What a source sends: DATA cut or repeated to LENGTH, copied into a C
    buffer with the room PacketPool.alloc_batch reads past it."""
    cdef uint8_t* ptr
    cdef readonly uint32_t length
    cdef readonly int datasize        # LENGTH as configured, -1 when unset
    cdef readonly bytes data          # DATA as configured

    def __cinit__(self):
        self.datasize = -1
        self.data = b""

    def __dealloc__(self):
        c_free(self.ptr)

    def set(self, bytes data, int datasize, uint32_t limit=BUF_SIZE - HEADROOM):
        """Raise ValueError if the packet would exceed `limit` bytes."""
        cdef bytes contents = template_data(data, datasize)
        cdef uint8_t* t
        cdef size_t size
        if len(contents) > limit:
            raise ValueError(f"LENGTH {len(contents)} exceeds the {limit}-byte buffer")
        size = max(len(contents), 32) + COPY_SLACK      # what alloc_batch may read
        t = <uint8_t*>malloc(size)
        if t == NULL:
            raise MemoryError()
        memset(t, 0, size)
        if len(contents):
            memcpy(t, <const uint8_t*>contents, len(contents))
        c_free(self.ptr)
        self.ptr = t
        self.length = len(contents)
        self.data = data
        self.datasize = datasize


# ------------------------------------------------------- batches and outputs
cdef int clone_batch(PacketPool pool, Batch* src, Batch* dst) noexcept:
    """Append a copy of each packet of src to dst (packets the pool cannot
    copy are skipped; the pool counts the failure). Returns how many."""
    cdef uint32_t i, y
    cdef int made = 0
    for i in range(src.n):
        y = pool.clone(src.idx[i])
        if y != NO_PACKET:
            dst.idx[dst.n] = y
            dst.n += 1
            made += 1
    return made


cdef int push_grouped(Element e, Batch* b, int32_t* port_of) except -1:
    """Push each packet b.idx[i] out of output port_of[i], one batch per port in
    order of first appearance; packets for a port the element lacks are freed.
    b is consumed (left empty); port_of is used as scratch. Re-entrant: the
    per-port batches come from the pool's freelist, not from the element."""
    cdef PacketPool pool = e.pool
    cdef Batch* out
    cdef uint32_t i, k
    cdef int32_t port
    cdef int nout = e.noutputs
    k = 0
    for i in range(b.n):
        port = port_of[i]
        if port < 0 or port >= nout:
            pool.free(b.idx[i])
        else:
            b.idx[k] = b.idx[i]
            port_of[k] = port
            k += 1
    b.n = k
    while b.n:
        port = port_of[0]
        out = pool.batch_get()
        try:
            k = 0
            for i in range(b.n):
                if port_of[i] == port:
                    out.idx[out.n] = b.idx[i]
                    out.n += 1
                else:
                    b.idx[k] = b.idx[i]
                    port_of[k] = port_of[i]
                    k += 1
            b.n = k
            e.output_push(port, out)
        finally:
            pool.batch_put(out)
    return 0


cdef inline double batch_bytes(Anno* anno, Batch* b, uint32_t* max_length) noexcept:
    """Bytes in b; raises *max_length to the longest packet (byte-rate elements
    size their next pull by it)."""
    cdef uint64_t nbytes = 0
    cdef uint32_t i, length
    for i in range(b.n):
        length = anno[b.idx[i]].len
        nbytes += length
        if length > max_length[0]:
            max_length[0] = length
    return <double>nbytes


# ------------------------------------------------------------------ signals
cdef class SignalArray:
    """The upstream empty signals of an element's inputs, as a C array for hot code."""
    cdef PyObject** items
    cdef int n
    cdef list _keep

    def __cinit__(self, list signals):
        self._keep = list(signals)
        self.n = len(signals)
        self.items = <PyObject**>malloc((self.n + 1) * sizeof(PyObject*))
        if self.items == NULL:
            raise MemoryError()
        for i, s in enumerate(self._keep):
            self.items[i] = <PyObject*>s

    def __dealloc__(self):
        c_free(self.items)

    cdef inline bint active(self, int i) noexcept:
        return (<NotifierSignal>self.items[i]).is_active()

    def add_listener(self, Task task):
        for s in self._keep:
            (<NotifierSignal>s).add_listener(task)


def upstream_signals(Element e) -> SignalArray:
    return SignalArray([e.upstream_empty_signal(i) for i in range(e.ninputs)])


# --------------------------------------------------------------- statistics
ctypedef struct MeterEWMA:
    # Click's RateEWMA: 1 ms epochs, each epoch's count weighted 1/16
    double average       # per epoch
    uint64_t epoch
    uint64_t count       # in the current epoch


cdef inline void meter_update(MeterEWMA* m, uint64_t now, uint64_t delta) noexcept nogil:
    cdef uint64_t epoch = now // 1000000ULL
    cdef uint64_t idle
    if epoch != m.epoch:
        if m.epoch != 0:
            m.average += (<double>m.count - m.average) / 16.0
            idle = epoch - m.epoch - 1
            if idle > 0:
                m.average *= (15.0 / 16.0) ** <double>(idle if idle < 100000 else 100000)
        m.epoch = epoch
        m.count = 0
    m.count += delta


cdef inline double meter_rate(MeterEWMA* m) noexcept nogil:
    """Per second."""
    return m.average * 1000.0



cdef class RateEWMA:
    """Packets (or bytes) per second as an exponentially weighted moving
    average over 1/16 s epochs with a weight of 1/8 per epoch (about a
    half-second memory), updated once per batch."""
    cdef uint64_t epoch_start
    cdef uint64_t epoch_count
    cdef double rate

    cdef inline void update(self, uint64_t now, uint64_t amount) noexcept:
        if now - self.epoch_start >= 62500000ULL:
            self._roll(now)
        self.epoch_count += amount

    cdef void _roll(self, uint64_t now) noexcept:
        cdef uint64_t epochs = (now - self.epoch_start) // 62500000ULL
        cdef double sample = self.epoch_count * 16.0
        self.rate += (sample - self.rate) / 8.0
        if epochs > 1:
            # idle epochs decay the average
            self.rate *= (7.0 / 8.0) ** <double>min(epochs - 1, <uint64_t>1000)
        self.epoch_start += epochs * 62500000ULL
        self.epoch_count = 0

    cdef double current(self, uint64_t now) noexcept:
        if self.epoch_start == 0:
            return 0.0
        if now - self.epoch_start >= 62500000ULL:
            self._roll(now)
        return self.rate

    cdef void reset(self) noexcept:
        self.epoch_start = 0
        self.epoch_count = 0
        self.rate = 0.0


# ------------------------------------------------------------ handler calls
def call_write_handler(Element e, str text) -> None:
    """Click's HandlerCall: `element.handler [VALUE]` (or a global handler). A
    failing call is reported as a warning, as Click's HandlerCall reports it;
    the packets go on."""
    target, _, value = text.strip().partition(" ")
    try:
        e.router.write(target, value.strip())
    except (HandlerError, ConfigError, ValueError) as err:
        e.warn(f"handler call '{text.strip()}' failed: {err}")


def format_real(double v) -> str:
    """A rate as Click prints reals: no trailing zeros or point."""
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
