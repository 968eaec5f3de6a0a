# cython: language_level=3
"""Element base class, tasks, timers and notifiers."""
from cpython.object cimport PyObject
from libc.stdlib cimport malloc, realloc, free as c_free
from libc.string cimport memset
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from clickpy.packet cimport PacketPool, Batch, BatchView, OWNER_ELEMENT_BASE, CLICKPY_DEBUG_BUILD, BATCH_MAX

from clickpy.lang.graph import ConfigError, Location, NOWHERE


class HandlerError(Exception):
    """A handler read or write failed; the message is for the user."""


class _ReadWithParams:
    """Marks a read handler that takes parameters (Click's READ_PARAM)."""
    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


# ---------------------------------------------------------------- scheduler
cdef class Scheduler:
    def __cinit__(self):
        self.tasks_cap = 16
        self.tasks = <PyObject**>malloc(self.tasks_cap * sizeof(PyObject*))
        self.ring = <int*>malloc(self.tasks_cap * sizeof(int))
        self.ring_mask = self.tasks_cap - 1
        self.heap_cap = 16
        self.heap = <PyObject**>malloc(self.heap_cap * sizeof(PyObject*))
        if self.tasks == NULL or self.ring == NULL or self.heap == NULL:
            raise MemoryError()
        self._keep = []

    def __dealloc__(self):
        c_free(self.tasks)
        c_free(self.ring)
        c_free(self.heap)

    cdef int add_task(self, Task t) except -1:
        cdef int* ring
        cdef uint32_t i, n
        if self.ntasks == self.tasks_cap:
            self.tasks = <PyObject**>realloc(self.tasks, 2 * self.tasks_cap * sizeof(PyObject*))
            ring = <int*>malloc(2 * self.tasks_cap * sizeof(int))
            if self.tasks == NULL or ring == NULL:
                raise MemoryError()
            n = self.ring_tail - self.ring_head
            for i in range(n):
                ring[i] = self.ring[(self.ring_head + i) & self.ring_mask]
            c_free(self.ring)
            self.ring = ring
            self.ring_head = 0
            self.ring_tail = n
            self.tasks_cap *= 2
            self.ring_mask = self.tasks_cap - 1
        t.id = self.ntasks
        t.sched = self
        self.tasks[self.ntasks] = <PyObject*>t
        self.ntasks += 1
        self._keep.append(t)
        return 0

    cdef int timer_insert(self, Timer t) except -1:
        if self.nheap == self.heap_cap:
            self.heap = <PyObject**>realloc(self.heap, 2 * self.heap_cap * sizeof(PyObject*))
            if self.heap == NULL:
                raise MemoryError()
            self.heap_cap *= 2
        self.heap[self.nheap] = <PyObject*>t
        t.heap_pos = self.nheap
        self.nheap += 1
        self._sift_up(t.heap_pos)
        return 0

    cdef void timer_remove(self, Timer t) noexcept:
        cdef int i = t.heap_pos
        cdef Timer last
        if i < 0:
            return
        t.heap_pos = -1
        self.nheap -= 1
        if i == self.nheap:
            return
        last = <Timer>self.heap[self.nheap]
        self.heap[i] = <PyObject*>last
        last.heap_pos = i
        self._sift_up(i)
        self._sift_down(last.heap_pos)

    cdef void _sift_up(self, int i) noexcept:
        cdef PyObject* x = self.heap[i]
        cdef uint64_t key = (<Timer>x).expiry
        cdef int parent
        while i > 0:
            parent = (i - 1) >> 1
            if (<Timer>self.heap[parent]).expiry <= key:
                break
            self.heap[i] = self.heap[parent]
            (<Timer>self.heap[i]).heap_pos = i
            i = parent
        self.heap[i] = x
        (<Timer>x).heap_pos = i

    cdef void _sift_down(self, int i) noexcept:
        cdef PyObject* x = self.heap[i]
        cdef uint64_t key = (<Timer>x).expiry
        cdef int child
        while True:
            child = 2 * i + 1
            if child >= self.nheap:
                break
            if child + 1 < self.nheap and (<Timer>self.heap[child + 1]).expiry < (<Timer>self.heap[child]).expiry:
                child += 1
            if (<Timer>self.heap[child]).expiry >= key:
                break
            self.heap[i] = self.heap[child]
            (<Timer>self.heap[i]).heap_pos = i
            i = child
        self.heap[i] = x
        (<Timer>x).heap_pos = i

    @property
    def ntasks_scheduled(self) -> int:
        cdef int i, n = 0
        for i in range(self.ntasks):
            if (<Task>self.tasks[i]).scheduled:
                n += 1
        return n

    @property
    def ntimers(self) -> int:
        return self.nheap


cdef class Task:
    def __cinit__(self, Element owner, callback=None):
        self.owner = owner
        self.callback = callback

    def __repr__(self):
        return f"<Task of {self.owner.name} {'scheduled' if self.scheduled else 'idle'}>"

    def schedule(self) -> None:
        """Python-level reschedule (handlers, initialize)."""
        self.reschedule()

    def unschedule_(self) -> None:
        self.unschedule()

    @property
    def is_scheduled(self) -> bool:
        return self.scheduled


cdef class Timer:
    def __cinit__(self, Element owner, callback=None):
        self.owner = owner
        self.heap_pos = -1
        self.callback = callback

    cpdef schedule_at(self, uint64_t when_ns):
        if self.sched is None:
            raise RuntimeError("timer used before the router is initialized")
        if self.heap_pos >= 0:
            self.sched.timer_remove(self)
        self.expiry = when_ns
        self.sched.timer_insert(self)

    cpdef schedule_after(self, uint64_t delay_ns):
        self.schedule_at(monotonic_ns() + delay_ns)

    cpdef unschedule(self):
        if self.sched is not None and self.heap_pos >= 0:
            self.sched.timer_remove(self)

    cpdef bint scheduled(self):
        return self.heap_pos >= 0


cdef class Notifier:
    def __cinit__(self, bint active=False):
        self.active = active
        self.listeners = NULL
        self._keep = []

    def __dealloc__(self):
        c_free(self.listeners)

    cpdef add_listener(self, Task t):
        if t in self._keep:
            return
        self.listeners = <PyObject**>realloc(self.listeners, (self.nlisteners + 1) * sizeof(PyObject*))
        if self.listeners == NULL:
            raise MemoryError()
        self.listeners[self.nlisteners] = <PyObject*>t
        self.nlisteners += 1
        self._keep.append(t)

    def set_active(self, bint active) -> None:
        if active:
            self.wake()
        else:
            self.sleep()


cdef class NotifierSignal:
    def __cinit__(self):
        self._keep = []

    def __dealloc__(self):
        c_free(self.notifiers)

    cpdef add(self, Notifier notifier):
        if notifier in self._keep:
            return
        self.notifiers = <PyObject**>realloc(self.notifiers, (self.n + 1) * sizeof(PyObject*))
        if self.notifiers == NULL:
            raise MemoryError()
        self.notifiers[self.n] = <PyObject*>notifier
        self.n += 1
        self._keep.append(notifier)

    def add_listener(self, Task t) -> None:
        """Wake t whenever any of the signal's notifiers becomes active."""
        for n in self._keep:
            (<Notifier>n).add_listener(t)

    @property
    def active(self) -> bool:
        return self.is_active()

    @property
    def notifier_count(self) -> int:
        return self.n

    def __repr__(self):
        return f"<NotifierSignal {'always' if self.always else ''} {self.n} notifiers>"


# ------------------------------------------------------------------ Element
cdef class Element:
    """Base of every element. Subclasses set the class attributes below and
    override the cdef hot methods they need."""

    port_count = "0/0"
    processing = "a/a"
    flow_code = "x/x"
    configure_phase = 50       # lower configures and initializes first (Click's phases)

    def __cinit__(self):
        self.name = ""
        self.eindex = -1
        self.location = NOWHERE
        self.config_string = ""
        self._read_handlers = {}
        self._write_handlers = {}

    def __dealloc__(self):
        c_free(self.outs)
        c_free(self.ins)
        c_free(self.in_is_push)
        c_free(self.out_is_push)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"

    # ---- hot defaults ----------------------------------------------------
    cdef int push(self, int port, Batch* b) except -1:
        self.process(b)
        if b.n:
            return self.output_push(0, b)
        return 0

    cdef int pull(self, int port, Batch* b, int max) except -1:
        if self.input_pull(0, b, max):
            self.process(b)
        return b.n

    cdef int process(self, Batch* b) except -1:
        return 0

    cdef int run_task(self, Task task) except -1:
        return 0

    cdef int run_timer(self, Timer timer) except -1:
        if timer.callback is not None:
            timer.callback()
        return 0

    cdef int _debug_receive(self, Batch* b) except -1:
        return self.pool.debug_check_batch(b, self.debug_owner_id)

    # ---- lifecycle (cold, overridable from Python-level subclasses) ---------
    def configure(self, args) -> None:
        """Parse the configuration (an Args bound to this element's config string)."""

    def initialize(self) -> None:
        """Allocate, open devices, find notifiers: the graph is connected by now."""

    def take_state(self, old) -> None:
        """Take over state from `old`, the same-named element of a replaced config."""

    def cleanup(self) -> None:
        """Release everything (free queued packets, close descriptors). Idempotent."""

    def add_handlers(self) -> None:
        """Register this element's handlers with add_read_handler/add_write_handler."""

    # ---- set-up done by the router ----------------------------------------
    def _setup(self, str name, router, int eindex, str config, location, PacketPool pool):
        self.name = name
        self.router = router
        self.eindex = eindex
        self.config_string = config
        self.location = location
        self.pool = pool
        self.debug_owner_id = OWNER_ELEMENT_BASE + eindex

    def _set_ports(self, int ninputs, int noutputs, list in_push, list out_push):
        cdef int i
        self.ninputs = ninputs
        self.noutputs = noutputs
        c_free(self.outs); c_free(self.ins); c_free(self.in_is_push); c_free(self.out_is_push)
        self.outs = <PortRef*>malloc((noutputs + 1) * sizeof(PortRef))
        self.ins = <PortRef*>malloc((ninputs + 1) * sizeof(PortRef))
        self.in_is_push = <uint8_t*>malloc(ninputs + 1)
        self.out_is_push = <uint8_t*>malloc(noutputs + 1)
        if self.outs == NULL or self.ins == NULL or self.in_is_push == NULL or self.out_is_push == NULL:
            raise MemoryError()
        memset(self.outs, 0, (noutputs + 1) * sizeof(PortRef))
        memset(self.ins, 0, (ninputs + 1) * sizeof(PortRef))
        for i in range(ninputs):
            self.in_is_push[i] = in_push[i]
        for i in range(noutputs):
            self.out_is_push[i] = out_push[i]

    def _connect_output(self, int port, Element target, int target_port):
        if not 0 <= port < self.noutputs:
            raise IndexError(port)
        self.outs[port].elem = <PyObject*>target
        self.outs[port].port = target_port

    def _connect_input(self, int port, Element source, int source_port):
        if not 0 <= port < self.ninputs:
            raise IndexError(port)
        self.ins[port].elem = <PyObject*>source
        self.ins[port].port = source_port

    # ---- services for elements (cold) -------------------------------------
    def input_is_push(self, int port) -> bool:
        return bool(self.in_is_push[port])

    def output_is_push(self, int port) -> bool:
        return bool(self.out_is_push[port])

    def input_is_pull(self, int port) -> bool:
        return not self.in_is_push[port]

    def output_is_pull(self, int port) -> bool:
        return not self.out_is_push[port]

    def add_task(self, bint scheduled=True, callback=None) -> Task:
        """A task of this element; the driver calls run_task (or `callback`, for
        elements written in Python) while it is scheduled."""
        cdef Task t = Task(self, callback)
        (<Scheduler>self.router.scheduler).add_task(t)
        if scheduled:
            t.reschedule()
        return t

    def add_timer(self, callback=None) -> Timer:
        cdef Timer t = Timer(self, callback)
        cdef Scheduler sched = self.router.scheduler
        t.sched = sched
        sched._keep.append(t)
        return t

    def add_select(self, int fd, int events, callback) -> None:
        """Call callback(events) from the driver when fd is ready (EPOLLIN=1, EPOLLOUT=4)."""
        self.router.driver.add_select(fd, events, callback)

    def remove_select(self, int fd) -> None:
        self.router.driver.remove_select(fd)

    def please_stop(self) -> None:
        """Click's please_stop_driver: one vote for the driver to stop."""
        self.router.please_stop()

    def empty_notifier(self):
        """The Notifier that is active while this element can produce packets on
        its pull outputs (queues), or None."""
        return None

    def full_notifier(self):
        """The Notifier that is active while this element accepts packets on its
        push inputs (queues), or None."""
        return None

    def upstream_empty_signal(self, int port) -> NotifierSignal:
        return self.router._notifier_signal(self, port, upstream=True)

    def downstream_full_signal(self, int port) -> NotifierSignal:
        return self.router._notifier_signal(self, port, upstream=False)

    def error(self, str message):
        """A ConfigError naming this element, at its config location."""
        return ConfigError(f"{self.name} :: {type(self).__name__}: {message}", self.location)

    def warn(self, str message) -> None:
        self.router.warning(self, message)

    # ---- driving an element from Python (tests, tools) --------------------
    def push_packets(self, int port, indices) -> None:
        """Push packets (pool indices, which this call takes) into input `port`."""
        cdef Batch* b
        cdef list xs = list(indices)
        if not 0 <= port < self.ninputs or not self.in_is_push[port]:
            raise ValueError(f"{self.name} has no push input {port}")
        while xs:
            chunk, xs = xs[:BATCH_MAX], xs[BATCH_MAX:]
            b = self.pool.batch_get()
            try:
                for x in chunk:
                    b.idx[b.n] = x
                    b.n += 1
                if CLICKPY_DEBUG_BUILD:
                    self._debug_receive(b)
                self.push(port, b)
            finally:
                self.pool.batch_put(b)

    def pull_packets(self, int port, int max=BATCH_MAX) -> list:
        """Pull up to max packets from pull output `port`; the caller owns them."""
        cdef Batch* b
        if not 0 <= port < self.noutputs or self.out_is_push[port]:
            raise ValueError(f"{self.name} has no pull output {port}")
        b = self.pool.batch_get()
        try:
            self.pull(port, b, min(max, BATCH_MAX))
            return [b.idx[i] for i in range(b.n)]
        finally:
            self.pool.batch_put(b)

    # ---- handlers ----------------------------------------------------------
    def add_read_handler(self, str name, fn, bint params=False) -> None:
        """fn() returns the value; with params=True, fn(params) gets the text
        after the handler name (Click's read handlers with parameters)."""
        self._read_handlers[name] = _ReadWithParams(fn) if params else fn

    def add_write_handler(self, str name, fn) -> None:
        self._write_handlers[name] = fn

    def add_data_handlers(self, str name, str attribute, type_=None, bint writable=False) -> None:
        """A read (and optionally write) handler over a Python-visible attribute."""
        self._read_handlers[name] = lambda: getattr(self, attribute)
        if writable:
            conv = type_ or str
            self._write_handlers[name] = lambda value: setattr(self, attribute, conv(value.strip()))

    def _setup_handlers(self) -> None:
        self._read_handlers.clear()
        self._write_handlers.clear()
        self.add_read_handler("name", lambda: self.name)
        self.add_read_handler("class", lambda: type(self).__name__)
        self.add_read_handler("config", lambda: self.config_string)
        self.add_read_handler("ports", self._ports_text)
        self.add_read_handler("handlers", self._handlers_text)
        self.add_handlers()

    def _ports_text(self) -> str:
        lines = [f"{self.ninputs} input{'s' if self.ninputs != 1 else ''}"]
        for i in range(self.ninputs):
            src = self.router._connections_to(self, i) if self.router else []
            lines.append(f"{'push' if self.in_is_push[i] else 'pull'}\t" + ", ".join(f"{e}[{p}]" for e, p in src))
        lines.append(f"{self.noutputs} output{'s' if self.noutputs != 1 else ''}")
        for i in range(self.noutputs):
            dst = self.router._connections_from(self, i) if self.router else []
            lines.append(f"{'push' if self.out_is_push[i] else 'pull'}\t" + ", ".join(f"[{p}]{e}" for e, p in dst))
        return "\n".join(lines)

    def _handlers_text(self) -> str:
        names = sorted(set(self._read_handlers) | set(self._write_handlers))
        return "\n".join(
            f"{n}\t{'r' if n in self._read_handlers else ''}{'w' if n in self._write_handlers else ''}"
            for n in names)

    def handler_names(self) -> list:
        return sorted(set(self._read_handlers) | set(self._write_handlers))

    def read_handler(self, str name, str params="") -> str:
        fn = self._read_handlers.get(name)
        if fn is None:
            if name in self._write_handlers:
                raise HandlerError(f"{self.name}.{name}: handler is write-only")
            raise HandlerError(f"no handler {self.name}.{name}")
        if isinstance(fn, _ReadWithParams):
            value = (<object>fn).fn(params)
        elif params:
            raise HandlerError(f"read handler '{self.name}.{name}' does not take parameters")
        else:
            value = fn()
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, bytes):
            return value.decode("latin-1")
        return str(value)

    def write_handler(self, str name, str value):
        """Call a write handler; returns what it returns (None, or a
        clickpy.control.Pending for handlers that finish later)."""
        fn = self._write_handlers.get(name)
        if fn is None:
            if name in self._read_handlers:
                raise HandlerError(f"{self.name}.{name}: handler is read-only")
            raise HandlerError(f"no handler {self.name}.{name}")
        try:
            return fn(value)
        except (HandlerError, ConfigError):
            raise
        except (ValueError, TypeError, KeyError) as e:
            raise HandlerError(f"{self.name}.{name}: {e}") from None

    def has_read_handler(self, str name) -> bool:
        return name in self._read_handlers

    def read_handler_takes_params(self, str name) -> bool:
        return isinstance(self._read_handlers.get(name), _ReadWithParams)

    def has_write_handler(self, str name) -> bool:
        return name in self._write_handlers


cdef class PyElement(Element):
    """Base for elements written in Python (slow path: fine for control-rate traffic).

    Override `process_batch(batch)`. It may read and modify packets through the
    BatchView, and returns None (every packet to output 0) or a sequence with
    one output port per packet (-1 drops it).
    """

    port_count = "1/1"
    processing = "a/a"

    def process_batch(self, BatchView batch):
        return None

    cdef int push(self, int port, Batch* b) except -1:
        return self._dispatch(b, True)

    cdef int pull(self, int port, Batch* b, int max) except -1:
        if self.input_pull(0, b, max):
            self._dispatch(b, False)
        return b.n

    cdef int _dispatch(self, Batch* b, bint pushing) except -1:
        cdef BatchView view = BatchView.wrap(self.pool, b)
        cdef Batch* outb
        cdef uint32_t i, k
        cdef int port
        try:
            ports = self.process_batch(view)
        finally:
            view.batch = NULL
        if ports is None:
            if pushing and b.n:
                self.output_push(0, b)
            return 0
        if len(ports) != b.n:
            self.pool.free_batch(b)
            raise RuntimeError(f"{self.name}: process_batch returned {len(ports)} ports for {b.n} packets")
        if not pushing:
            # a pull output delivers in place: keep the packets for port 0, free the rest
            k = 0
            for i in range(b.n):
                if ports[i] == 0:
                    b.idx[k] = b.idx[i]
                    k += 1
                else:
                    self.pool.free(b.idx[i])
            b.n = k
            return 0
        for port in range(self.noutputs):
            outb = self.pool.batch_get()
            for i in range(b.n):
                if ports[i] == port:
                    outb.idx[outb.n] = b.idx[i]
                    outb.n += 1
            try:
                if outb.n:
                    self.output_push(port, outb)
            finally:
                self.pool.batch_put(outb)
        for i in range(b.n):
            if not 0 <= ports[i] < self.noutputs:
                self.pool.free(b.idx[i])
        b.n = 0
        return 0
