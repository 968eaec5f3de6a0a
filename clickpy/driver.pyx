# cython: language_level=3
"""The driver: one loop per process that runs tasks, fires timers and waits.

Ready tasks run round-robin. When no task is ready the loop blocks in epoll
(device and control descriptors, a signalfd for SIGINT/SIGTERM/SIGHUP, a
timerfd armed for the next timer), so an idle router uses no CPU.
"""
from cpython.object cimport PyObject
from libc.stdint cimport uint32_t, uint64_t, int64_t
from libc.errno cimport errno, EINTR, EAGAIN
from clickpy.element cimport Scheduler, Task, Timer, Element, monotonic_ns

import os

cdef extern from "<sys/epoll.h>" nogil:
    cdef union epoll_data_t "epoll_data":
        int fd
        uint64_t u64
    cdef struct epoll_event:
        uint32_t events
        epoll_data_t data
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event* event)
    int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout)
    enum:
        EPOLL_CLOEXEC
        EPOLL_CTL_ADD
        EPOLL_CTL_DEL
        EPOLL_CTL_MOD
        EPOLLIN
        EPOLLOUT
        EPOLLERR
        EPOLLHUP

cdef extern from "<signal.h>" nogil:
    ctypedef struct sigset_t:
        pass
    int sigemptyset(sigset_t* s)
    int sigaddset(sigset_t* s, int signo)
    int pthread_sigmask(int how, const sigset_t* s, sigset_t* old)
    enum:
        SIG_BLOCK
        SIG_SETMASK
        SIGINT
        SIGTERM
        SIGHUP

cdef extern from "<sys/signalfd.h>" nogil:
    cdef struct signalfd_siginfo:
        uint32_t ssi_signo
    int signalfd(int fd, const sigset_t* mask, int flags)
    enum:
        SFD_NONBLOCK
        SFD_CLOEXEC

cdef extern from "<sys/timerfd.h>" nogil:
    cdef struct timespec_t "timespec":
        long tv_sec
        long tv_nsec
    cdef struct itimerspec:
        timespec_t it_interval
        timespec_t it_value
    int timerfd_create(int clockid, int flags)
    int timerfd_settime(int fd, int flags, const itimerspec* new_value, itimerspec* old_value)
    enum:
        TFD_NONBLOCK
        TFD_CLOEXEC
        TFD_TIMER_ABSTIME

cdef extern from "<time.h>" nogil:
    enum:
        CLOCK_MONOTONIC

cdef extern from "<unistd.h>" nogil:
    ssize_t read(int fd, void* buf, size_t n)
    int close(int fd)
    int getpid()
    int gettid()

DEF MAX_EVENTS = 64
# While tasks are busy, poll descriptors once every this many task rounds.
DEF BUSY_POLL_ROUNDS = 8


cdef class Driver:
    """Runs one router's tasks, timers and descriptors until asked to stop."""
    cdef readonly Scheduler scheduler
    cdef int epfd, timerfd
    cdef uint64_t timerfd_armed      # expiry the timerfd is armed for, 0 = disarmed
    cdef dict selects                # fd -> callback(events)
    cdef public int runcount
    cdef bint stop_flag
    cdef public list stop_hooks      # callables run when runcount drops to 0; True = keep running
    cdef public object signal_callback   # callable(signo) -> bool (True: handled, keep running)
    cdef readonly uint64_t started_ns, stopped_ns
    cdef readonly bint running
    cdef readonly int stop_signal

    def __cinit__(self, Scheduler scheduler):
        self.scheduler = scheduler
        self.epfd = epoll_create1(EPOLL_CLOEXEC)
        if self.epfd < 0:
            raise OSError(errno, os.strerror(errno))
        self.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if self.timerfd < 0:
            raise OSError(errno, os.strerror(errno))
        self._ctl(EPOLL_CTL_ADD, self.timerfd, EPOLLIN)
        self.selects = {}
        self.runcount = 1
        self.stop_hooks = []
        self.signal_callback = None

    def __dealloc__(self):
        if self.epfd >= 0:
            close(self.epfd)
        if self.timerfd >= 0:
            close(self.timerfd)

    cdef int _ctl(self, int op, int fd, uint32_t events) except -1:
        cdef epoll_event ev
        ev.events = events
        ev.data.fd = fd
        if epoll_ctl(self.epfd, op, fd, &ev) < 0:
            raise OSError(errno, f"epoll_ctl on descriptor {fd}: {os.strerror(errno)}")
        return 0

    # ---- descriptors --------------------------------------------------------
    def add_select(self, int fd, int events, callback) -> None:
        """Call callback(events) whenever fd is ready for `events` (EPOLLIN/EPOLLOUT bits)."""
        if fd in self.selects:
            self._ctl(EPOLL_CTL_MOD, fd, events)
        else:
            self._ctl(EPOLL_CTL_ADD, fd, events)
        self.selects[fd] = callback

    def remove_select(self, int fd) -> None:
        if self.selects.pop(fd, None) is not None:
            try:
                self._ctl(EPOLL_CTL_DEL, fd, 0)
            except OSError:
                pass   # already closed: the kernel dropped it from the set

    # ---- stopping -----------------------------------------------------------
    def adjust_runcount(self, int delta) -> None:
        self.runcount += delta
        if self.runcount <= 0:
            self.stop_flag = True

    def please_stop(self) -> None:
        """One vote to stop (Click's please_stop_driver)."""
        self.adjust_runcount(-1)

    def stop(self) -> None:
        """Stop now, whatever the runcount (the `stop` handler, signals)."""
        self.runcount = 0
        self.stop_flag = True
        self.stop_hooks = []

    @property
    def stopping(self) -> bool:
        return self.stop_flag

    @property
    def run_seconds(self) -> float:
        end = self.stopped_ns if not self.running else monotonic_ns()
        return (end - self.started_ns) / 1e9 if self.started_ns else 0.0

    # ---- the loop -----------------------------------------------------------
    cdef int _run_tasks(self) except -1:
        """One round: every task queued now runs at most once. Returns tasks run."""
        cdef Scheduler s = self.scheduler
        cdef uint32_t k, n = s.ring_tail - s.ring_head
        cdef int ran = 0
        cdef Task t
        for k in range(n):
            t = <Task>s.tasks[s.ring[s.ring_head & s.ring_mask]]
            s.ring_head += 1
            t.queued = False
            if t.scheduled:
                t.scheduled = False
                t.runs += 1
                ran += 1
                if t.callback is None:
                    t.owner.run_task(t)
                else:
                    t.callback()
                if self.stop_flag:
                    break
        return ran

    cdef int _run_timers(self) except -1:
        cdef Scheduler s = self.scheduler
        cdef uint64_t now
        cdef Timer t
        if s.nheap == 0:
            return 0
        now = monotonic_ns()
        while s.nheap > 0 and (<Timer>s.heap[0]).expiry <= now and not self.stop_flag:
            t = <Timer>s.heap[0]
            s.timer_remove(t)
            t.owner.run_timer(t)
        return 0

    cdef int _arm_timerfd(self) except -1:
        cdef Scheduler s = self.scheduler
        cdef itimerspec its
        cdef uint64_t expiry = (<Timer>s.heap[0]).expiry if s.nheap > 0 else 0
        if expiry == self.timerfd_armed:
            return 0
        its.it_interval.tv_sec = 0
        its.it_interval.tv_nsec = 0
        its.it_value.tv_sec = <long>(expiry // 1000000000ULL)
        its.it_value.tv_nsec = <long>(expiry % 1000000000ULL)
        if expiry == 0:
            its.it_value.tv_nsec = 0     # disarm
        timerfd_settime(self.timerfd, TFD_TIMER_ABSTIME, &its, NULL)
        self.timerfd_armed = expiry
        return 0

    cdef int _poll(self, int timeout_ms, int sigfd) except -1:
        cdef epoll_event events[MAX_EVENTS]
        cdef int i, n, fd
        cdef uint64_t expirations
        cdef signalfd_siginfo info
        if timeout_ms != 0:
            self._arm_timerfd()
        if timeout_ms == 0:
            n = epoll_wait(self.epfd, events, MAX_EVENTS, 0)
        else:
            with nogil:      # other Python threads (tests, tools) run while we sleep
                n = epoll_wait(self.epfd, events, MAX_EVENTS, timeout_ms)
        if n < 0:
            if errno == EINTR:
                return 0
            raise OSError(errno, os.strerror(errno))
        for i in range(n):
            fd = events[i].data.fd
            if fd == self.timerfd:
                read(self.timerfd, &expirations, 8)
                self.timerfd_armed = 0
            elif fd == sigfd:
                while read(sigfd, &info, sizeof(info)) == sizeof(info):
                    self._on_signal(info.ssi_signo)
            else:
                callback = self.selects.get(fd)
                if callback is not None:
                    callback(events[i].events)
        return n

    cdef int _on_signal(self, int signo) except -1:
        if self.signal_callback is not None and self.signal_callback(signo):
            return 0
        if signo != SIGHUP:
            self.stop_signal = signo
            self.stop()
        return 0

    def run(self, timeout=None, bint handle_signals=True) -> None:
        """Run until the runcount reaches 0 (and no stop hook objects), a stop
        request, SIGINT/SIGTERM, or `timeout` seconds."""
        cdef sigset_t mask, old_mask
        cdef int sigfd = -1
        cdef uint64_t deadline = 0, now
        cdef int rounds = 0, wait_ms
        cdef Scheduler s = self.scheduler
        # signals are the main thread's business (tid == pid there on Linux; checked
        # in C rather than with the threading module, which costs start-up time)
        if handle_signals and gettid() != getpid():
            handle_signals = False
        if handle_signals:
            sigemptyset(&mask)
            sigaddset(&mask, SIGINT)
            sigaddset(&mask, SIGTERM)
            sigaddset(&mask, SIGHUP)
            pthread_sigmask(SIG_BLOCK, &mask, &old_mask)
            sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)
            if sigfd < 0:
                pthread_sigmask(SIG_SETMASK, &old_mask, NULL)
                raise OSError(errno, os.strerror(errno))
            self._ctl(EPOLL_CTL_ADD, sigfd, EPOLLIN)
        if timeout is not None:
            deadline = monotonic_ns() + <uint64_t>(float(timeout) * 1e9)
        self.running = True
        self.stop_signal = 0
        self.started_ns = monotonic_ns()
        try:
            while True:
                if self.stop_flag:
                    if self._keep_running():
                        continue
                    break
                self._run_tasks()
                self._run_timers()
                rounds += 1
                if s.ring_tail != s.ring_head:
                    # busy: look at descriptors now and then without sleeping
                    if rounds % BUSY_POLL_ROUNDS == 0:
                        self._poll(0, sigfd)
                        with nogil:
                            # lets other Python threads of the process take the
                            # GIL when they have asked for it (a few ns otherwise)
                            pass
                        if deadline and monotonic_ns() >= deadline:
                            break
                    continue
                if self.stop_flag:
                    continue
                wait_ms = -1
                if deadline:
                    now = monotonic_ns()
                    if now >= deadline:
                        break
                    wait_ms = <int>((deadline - now) // 1000000) + 1
                self._poll(wait_ms, sigfd)
        finally:
            self.stopped_ns = monotonic_ns()
            self.running = False
            if sigfd >= 0:
                try:
                    self._ctl(EPOLL_CTL_DEL, sigfd, 0)
                finally:
                    close(sigfd)
                    pthread_sigmask(SIG_SETMASK, &old_mask, NULL)

    cdef bint _keep_running(self) except -1:
        """Ask the stop hooks (DriverManager) whether the driver should go on."""
        cdef bint keep = False
        for hook in list(self.stop_hooks):
            if hook():
                keep = True
        if keep:
            self.stop_flag = False
            if self.runcount <= 0:
                self.runcount = 1
        return keep

    def reset_stop(self) -> None:
        """Clear a finished run's stop so the router can run again."""
        self.stop_flag = False
        if self.runcount <= 0:
            self.runcount = 1
