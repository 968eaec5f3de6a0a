# cython: language_level=3
"""The element model: Element, Task, Timer, notifiers, and the scheduler state.

Hot entry points are cdef methods with `except -1`; a batch crosses an edge
with one C-level call through the OutPort table filled at initialization.
"""
from cpython.object cimport PyObject
from libc.stdint cimport uint8_t, uint32_t, int64_t, uint64_t
from clickpy.packet cimport PacketPool, Batch, Anno, CLICKPY_DEBUG_BUILD, OWNER_ELEMENT_BASE

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    cdef struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec* ts)
    enum:
        CLOCK_REALTIME
        CLOCK_MONOTONIC


cdef inline uint64_t monotonic_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <uint64_t>ts.tv_sec * 1000000000ULL + <uint64_t>ts.tv_nsec


cdef inline uint64_t realtime_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return <uint64_t>ts.tv_sec * 1000000000ULL + <uint64_t>ts.tv_nsec


ctypedef struct PortRef:
    PyObject* elem      # borrowed: the router keeps every element alive
    int port


cdef class Scheduler:
    """Run queue (FIFO ring of task ids) and timer heap, shared by Task and Timer."""
    cdef PyObject** tasks          # borrowed; the owning elements keep them alive
    cdef int ntasks, tasks_cap
    cdef int* ring
    cdef uint32_t ring_head, ring_tail, ring_mask
    cdef PyObject** heap           # Timer objects, a binary min-heap on expiry
    cdef int nheap, heap_cap
    cdef list _keep                # strong references to registered tasks and timers

    cdef int add_task(self, Task t) except -1
    cdef inline void enqueue(self, int task_id) noexcept:
        self.ring[self.ring_tail & self.ring_mask] = task_id
        self.ring_tail += 1
    cdef int timer_insert(self, Timer t) except -1
    cdef void timer_remove(self, Timer t) noexcept
    cdef void _sift_up(self, int i) noexcept
    cdef void _sift_down(self, int i) noexcept


cdef class Task:
    """A unit of scheduled work: the driver calls owner.run_task(self).

    As in Click, a task is taken off the run queue before it runs; an element
    that has more to do calls reschedule().
    """
    cdef readonly Element owner
    cdef Scheduler sched
    cdef int id
    cdef bint scheduled        # wants to run
    cdef bint queued           # sits in the ring
    cdef readonly uint64_t runs
    cdef object callback       # Python elements: called instead of owner.run_task

    cdef inline void reschedule(self) noexcept:
        self.scheduled = True
        if not self.queued and self.sched is not None:
            self.queued = True
            self.sched.enqueue(self.id)

    cdef inline void unschedule(self) noexcept:
        self.scheduled = False


cdef class Timer:
    """Fires owner.run_timer(self) at or after `expiry` (monotonic ns)."""
    cdef readonly Element owner
    cdef Scheduler sched
    cdef readonly uint64_t expiry
    cdef int heap_pos          # -1 when not scheduled
    cdef object callback       # optional Python callable instead of run_timer

    cpdef schedule_at(self, uint64_t when_ns)
    cpdef schedule_after(self, uint64_t delay_ns)
    cpdef unschedule(self)
    cpdef bint scheduled(self)


cdef class Notifier:
    """Click's notifier: a signal that is active or not, and the tasks that
    sleep on it. A Queue's empty notifier is active while it holds packets;
    its full notifier is active while it has room."""
    cdef public bint active
    cdef PyObject** listeners      # Task objects, borrowed (their elements keep them)
    cdef int nlisteners
    cdef list _keep

    cdef inline void wake(self) noexcept:
        cdef int i
        if not self.active:
            self.active = True
            for i in range(self.nlisteners):
                (<Task>self.listeners[i]).reschedule()

    cdef inline void sleep(self) noexcept:
        self.active = False

    cpdef add_listener(self, Task t)


cdef class NotifierSignal:
    """What a listener tests: active if any notifier it depends on is active.
    `always` is set when some upstream path has no notifier (it may always
    produce packets), so the listener must keep polling."""
    cdef PyObject** notifiers
    cdef int n
    cdef public bint always
    cdef list _keep

    cdef inline bint is_active(self) noexcept:
        cdef int i
        if self.always:
            return True
        for i in range(self.n):
            if (<Notifier>self.notifiers[i]).active:
                return True
        return False

    cpdef add(self, Notifier notifier)


cdef class Element:
    cdef readonly str name
    cdef readonly object router
    cdef readonly int eindex
    cdef readonly object location
    cdef readonly str config_string
    cdef public PacketPool pool
    cdef readonly int ninputs, noutputs
    cdef PortRef* outs               # downstream of each output (push outputs)
    cdef PortRef* ins                # upstream of each input (pull inputs)
    cdef uint8_t* in_is_push
    cdef uint8_t* out_is_push
    cdef dict _read_handlers, _write_handlers
    cdef uint32_t debug_owner_id

    # ---- the hot interface, overridden by elements ------------------------
    cdef int push(self, int port, Batch* b) except -1
    cdef int pull(self, int port, Batch* b, int max) except -1
    cdef int process(self, Batch* b) except -1
    cdef int run_task(self, Task task) except -1
    cdef int run_timer(self, Timer timer) except -1

    cdef inline int output_push(self, int port, Batch* b) except -1:
        """Send b out of push output `port` (the callee takes the packets)."""
        cdef PortRef* o = &self.outs[port]
        if CLICKPY_DEBUG_BUILD:
            (<Element>o.elem)._debug_receive(b)
        return (<Element>o.elem).push(o.port, b)

    cdef inline int input_pull(self, int port, Batch* b, int max) except -1:
        """Fill the empty batch b with up to max packets from pull input `port`."""
        cdef PortRef* o = &self.ins[port]
        (<Element>o.elem).pull(o.port, b, max)
        if CLICKPY_DEBUG_BUILD:
            self._debug_receive(b)
        return b.n

    cdef int _debug_receive(self, Batch* b) except -1
    cdef inline int emit_or_free(self, int port, Batch* b) except -1:
        """Push b out of `port` if the element has it (Click's optional reject
        outputs), else free its packets."""
        if b.n == 0:
            return 0
        if port < self.noutputs:
            return self.output_push(port, b)
        self.pool.free_batch(b)
        return 0


cdef class PyElement(Element):
    cdef int _dispatch(self, Batch* b, bint pushing) except -1
