# Helpers shared by the trace elements (not an element): block-buffered
# trace file reading and writing, pcap constants, sampling, handler calls.

cdef extern from "<unistd.h>" nogil:
    ssize_t c_read "read"(int fd, void* buf, size_t n)
    ssize_t c_write "write"(int fd, const void* buf, size_t n)
    int c_close "close"(int fd)
    long c_lseek "lseek"(int fd, long off, int whence)
    int c_ftruncate "ftruncate"(int fd, long length)

cdef extern from "<fcntl.h>" nogil:
    int c_open "open"(const char* path, int flags, int mode)
    enum:
        O_RDONLY
        O_WRONLY
        O_CREAT
        O_TRUNC
        O_CLOEXEC

cdef extern from "<sys/mman.h>" nogil:
    void* c_mmap "mmap"(void* addr, size_t length, int prot, int flags, int fd, long offset)
    int c_munmap "munmap"(void* addr, size_t length)
    int c_madvise "madvise"(void* addr, size_t length, int advice)
    void* MAP_FAILED
    enum:
        PROT_READ
        MAP_SHARED
        MAP_POPULATE
        MADV_SEQUENTIAL

cdef extern from "<sys/stat.h>" nogil:
    cdef struct c_stat "stat":
        long st_size
    int c_fstat "fstat"(int fd, c_stat* st)

cdef extern from "<errno.h>" nogil:
    int errno
    enum:
        EINTR
        EAGAIN
        ENOMEM

cdef extern from "<string.h>" nogil:
    char* strerror(int errnum)

# ---- reading a mapped file that another process may truncate -----------------
#
# A page of a mapped file that a truncation took away raises SIGBUS when read,
# which kills the process. Checking the file size before each read would not
# help (the truncation can come between the check and the read) and costs a
# system call, so instead the reads run under a guard: a SIGBUS handler that,
# when the fault is in the window the current thread's guarded code is reading,
# jumps back (siglongjmp) to where the guard was set, and the guarded call
# returns "lost" instead of the process dying. Any other SIGBUS goes to the
# handler that was there before ours (faulthandler's, Python's, or the default
# action), as if ours were not there.
#
# The jump abandons the guarded code mid-way, so that code must be plain C in
# effect: no Python reference owned by a frame it skips (it would leak), and
# whatever its caller needs to clean up (the packets it allocated) stored in
# memory before each read of the window, with signal_fence() so that the
# compiler cannot move those stores past the read.
#
# The guard is per thread (a thread-local pointer), so elements read their files
# in any thread at once; the mark is set once per call (a batch), not per packet.
# A handler installed for SIGBUS after ours (signal.signal, faulthandler.enable
# called later) replaces it, and putting ours back could make a loop of
# handlers that call each other; so a reader maps the file only while ours is
# the one installed (checked at each new window), and otherwise uses read(2).
ctypedef int (*map_reader)(void* arg) noexcept

cdef extern from *:
    """
    #include <stdint.h>
    #include <setjmp.h>
    #include <signal.h>
    #include <string.h>
    #include <errno.h>
    #include <pthread.h>

    typedef int (*clickpy_map_reader)(void *arg);

    typedef struct clickpy_map_guard {
        sigjmp_buf env;
        uint8_t *const *window;         /* the reader's window: read at the fault, as */
        const size_t *window_len;       /* the guarded code may map another one */
        volatile size_t fault_at;       /* offset in the window of the faulting access */
    } clickpy_map_guard;

    /* initial-exec: the handler reads it in whatever thread faults, and the
       general TLS model may allocate on a thread's first access */
    static __thread clickpy_map_guard *clickpy_map_guard_active __attribute__((tls_model("initial-exec")));
    static struct sigaction clickpy_sigbus_previous;
    static int clickpy_sigbus_installed;

    static void clickpy_sigbus_handler(int sig, siginfo_t *info, void *context) {
        clickpy_map_guard *g = clickpy_map_guard_active;
        /* BUS_ADRERR: an access to a page the file no longer has (not a signal
           sent by kill(), nor a hardware memory error, which may come at any point) */
        if (g != NULL && info->si_code == BUS_ADRERR) {
            const uint8_t *start = *g->window, *addr = (const uint8_t *)info->si_addr;
            if (start != NULL && addr >= start && addr < start + *g->window_len) {
                g->fault_at = (size_t)(addr - start);
                clickpy_map_guard_active = NULL;
                siglongjmp(g->env, 1);
            }
        }
        if (clickpy_sigbus_previous.sa_flags & SA_SIGINFO) {
            clickpy_sigbus_previous.sa_sigaction(sig, info, context);
        } else if (clickpy_sigbus_previous.sa_handler != SIG_DFL && clickpy_sigbus_previous.sa_handler != SIG_IGN) {
            clickpy_sigbus_previous.sa_handler(sig);
        } else if (clickpy_sigbus_previous.sa_handler == SIG_DFL || info->si_code > 0) {
            /* the default action (the kernel does not let a fault be ignored
               either): a fault repeats when we return, a sent signal is sent
               again and arrives then (SIGBUS is blocked in here) */
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigaction(sig, &dfl, NULL);
            if (info->si_code <= 0)
                raise(sig);
        }
    }

    /* Whether our handler is the one installed (installing it the first time) */
    static int clickpy_sigbus_guarding(void) {
        struct sigaction sa;
        if (clickpy_sigbus_installed)
            return sigaction(SIGBUS, NULL, &sa) == 0 && (sa.sa_flags & SA_SIGINFO)
                   && sa.sa_sigaction == clickpy_sigbus_handler;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = clickpy_sigbus_handler;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, &clickpy_sigbus_previous) != 0)
            return 0;
        clickpy_sigbus_installed = 1;
        return 1;
    }

    /* read(arg) under the guard: its result, or -1 if it touched a page of the
       window that the file lost (*fault_at: where in the window) */
    static int clickpy_map_guarded(uint8_t *const *window, const size_t *window_len,
                                   clickpy_map_reader read, void *arg, size_t *fault_at) {
        clickpy_map_guard guard;
        int result;
        guard.window = window;
        guard.window_len = window_len;
        guard.fault_at = 0;
        if (sigsetjmp(guard.env, 0) != 0) {
            /* no mask saved (a system call per batch): unblock what the handler blocked */
            sigset_t bus;
            sigemptyset(&bus);
            sigaddset(&bus, SIGBUS);
            pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
            *fault_at = guard.fault_at;
            return -1;
        }
        clickpy_map_guard_active = &guard;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        result = read(arg);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        clickpy_map_guard_active = NULL;
        return result;
    }

    #define clickpy_signal_fence() __atomic_signal_fence(__ATOMIC_SEQ_CST)
    #define clickpy_touch(p) ((void)*(volatile const uint8_t *)(p))
    """
    int map_guarded "clickpy_map_guarded"(uint8_t** window, size_t* window_len, map_reader read,
                                          void* arg, size_t* fault_at) noexcept
    bint sigbus_guarding "clickpy_sigbus_guarding"() noexcept
    void signal_fence "clickpy_signal_fence"() noexcept nogil
    void touch "clickpy_touch"(const uint8_t* p) noexcept nogil

cdef enum:
    SEEK_SET_ = 0
    READ_BLOCK = 1 << 18         # bytes per read(2) of a trace file
    MMAP_WINDOW = 1 << 23        # bytes of a trace file mapped at a time (MMAP)
    PAGE_MASK = 4095
    WRITE_BLOCK = 1 << 18        # bytes buffered before a write(2)
    SAMPLING_SHIFT = 28          # Click's fixed-point sampling probability

# pcap magic numbers, as read in host byte order (C globals: too big for an enum)
cdef uint32_t PCAP_MAGIC = 0xA1B2C3D4u
cdef uint32_t PCAP_MAGIC_NANO = 0xA1B23C4Du
cdef uint32_t PCAP_MAGIC_MODIFIED = 0xA1B2CD34u      # Kuznetsov's patched libpcap: 8 more bytes per record
cdef uint32_t PCAP_MAGIC_SWAPPED = 0xD4C3B2A1u
cdef uint32_t PCAP_MAGIC_NANO_SWAPPED = 0x4D3CB2A1u
cdef uint32_t PCAP_MAGIC_MODIFIED_SWAPPED = 0x34CDB2A1u
cdef uint32_t PCAPNG_MAGIC = 0x0A0D0D0Au

cdef enum:
    PCAP_FILE_HEADER_LEN = 24
    PCAP_RECORD_HEADER_LEN = 16
    PCAP_MAX_CAPLEN = 65535 + 64    # what a 64 KiB buffer of the pool holds, with VLAN room

# link types as stored in pcap files (LINKTYPE_*)
cdef enum:
    LINKTYPE_NULL = 0
    LINKTYPE_ETHERNET = 1
    LINKTYPE_PPP = 9
    LINKTYPE_FDDI = 10
    LINKTYPE_ATM_RFC1483 = 11
    LINKTYPE_RAW_OLD = 12         # DLT_RAW on most systems, in old files
    LINKTYPE_RAW_OPENBSD = 14
    LINKTYPE_PPP_HDLC = 50
    LINKTYPE_RAW = 101
    LINKTYPE_C_HDLC = 104
    LINKTYPE_IEEE802_11 = 105
    LINKTYPE_LINUX_SLL = 113
    LINKTYPE_PRISM = 119
    LINKTYPE_AIRONET = 120
    LINKTYPE_SUNATM = 123
    LINKTYPE_IEEE802_11_RADIO = 127
    LINKTYPE_IPV4 = 228

# Click's ENCAP names (fake_pcap_parse_dlt / fake_pcap_unparse_dlt)
ENCAP_BY_NAME = {
    "ETHER": LINKTYPE_ETHERNET, "IP": LINKTYPE_RAW, "FDDI": LINKTYPE_FDDI,
    "ATM": LINKTYPE_ATM_RFC1483, "RFC1483": LINKTYPE_ATM_RFC1483, "ATM-RFC1483": LINKTYPE_ATM_RFC1483,
    "802_11": LINKTYPE_IEEE802_11, "SLL": LINKTYPE_LINUX_SLL, "AIRONET": LINKTYPE_AIRONET,
    "HDLC": LINKTYPE_C_HDLC, "PPP_HDLC": LINKTYPE_PPP_HDLC, "PPP": LINKTYPE_PPP,
    "SUNATM": LINKTYPE_SUNATM, "PRISM": LINKTYPE_PRISM, "NULL": LINKTYPE_NULL,
    "802_11_RADIO": LINKTYPE_IEEE802_11_RADIO,
}
ENCAP_NAMES = {
    LINKTYPE_ETHERNET: "ETHER", LINKTYPE_RAW: "IP", LINKTYPE_FDDI: "FDDI",
    LINKTYPE_ATM_RFC1483: "ATM", LINKTYPE_IEEE802_11: "802_11", LINKTYPE_LINUX_SLL: "SLL",
    LINKTYPE_AIRONET: "AIRONET", LINKTYPE_C_HDLC: "HDLC", LINKTYPE_PPP_HDLC: "PPP_HDLC",
    LINKTYPE_PPP: "PPP", LINKTYPE_SUNATM: "SUNATM", LINKTYPE_PRISM: "PRISM",
    LINKTYPE_NULL: "NULL", LINKTYPE_IEEE802_11_RADIO: "802_11_RADIO",
}


def encap_linktype(name: str) -> int:
    """Click's ENCAP word -> pcap link type (ValueError if unknown)."""
    lt = ENCAP_BY_NAME.get(name.upper())
    if lt is None:
        raise ValueError(f"bad encapsulation type '{name}' (expected one of {', '.join(sorted(ENCAP_BY_NAME))})")
    return lt


cdef inline int canonical_linktype(int linktype) noexcept:
    """Old and platform-specific raw-IP link types -> LINKTYPE_RAW."""
    if linktype == LINKTYPE_RAW_OLD or linktype == LINKTYPE_RAW_OPENBSD or linktype == LINKTYPE_IPV4:
        return LINKTYPE_RAW
    return linktype


cdef inline uint32_t bswap32(uint32_t v) noexcept nogil:
    return ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | (v >> 24)


cdef inline uint16_t bswap16(uint16_t v) noexcept nogil:
    return <uint16_t>((v << 8) | (v >> 8))


cdef inline uint32_t load_host32(const uint8_t* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef inline void store_host32(uint8_t* p, uint32_t v) noexcept nogil:
    memcpy(p, &v, 4)


# ---- sampling: Click's fixed-point probability and a small fast PRNG -------

def parse_sample(text: str) -> int:
    """SAMPLE: a real in [0, 1] -> probability scaled by 2^28 (Click's FixedPointArg)."""
    v = DOUBLE(text)
    if v < 0:
        raise ValueError("SAMPLE must be between 0 and 1")
    return min(int(v * (1 << SAMPLING_SHIFT) + 0.5), 1 << (SAMPLING_SHIFT + 1))


def unparse_sample(int prob) -> str:
    return f"{<double>prob / <double>(1 << SAMPLING_SHIFT):.6g}"


cdef inline uint32_t xorshift32(uint32_t* state) noexcept nogil:
    cdef uint32_t x = state[0]
    x ^= x << 13
    x ^= x >> 17
    x ^= x << 5
    state[0] = x
    return x


# ---- handler calls (END_CALL) -----------------------------------------------

def check_handler_call(elem, text: str) -> str:
    """Validate an `element.handler [value]` call and return it with the
    element's full name: as in Click, a name inside a compound element is
    looked up first among the caller's siblings (`end.active` called from
    `p0/FromDump@1` means `p0/end.active`), then outward."""
    target, _, value = text.strip().partition(" ")
    name, dot, handler = target.partition(".")
    if not dot:
        if not target:
            raise elem.error(f"bad handler call '{text}' (expected 'element.handler [value]')")
        return text.strip()          # a global handler such as `stop`
    if not name or not handler:
        raise elem.error(f"bad handler call '{text}' (expected 'element.handler [value]')")
    scope = elem.name
    while True:
        slash = scope.rfind("/")
        if slash < 0:
            break
        scope = scope[:slash]
        if elem.router.element(f"{scope}/{name}") is not None:
            name = f"{scope}/{name}"
            break
    if elem.router.element(name) is None:
        raise elem.error(f"handler call '{text}': no element named '{name}'")
    return f"{name}.{handler}" + (f" {value.strip()}" if value.strip() else "")


def call_handler(router, text: str) -> None:
    target, _, value = text.strip().partition(" ")
    router.write(target, value.strip())


# ---- compressed files --------------------------------------------------------

_DECOMPRESSORS = ((b"\x1f\x8b", "zcat"), (b"BZh", "bzcat"), (b"\xfd7zXZ\x00", "xzcat"))
_COMPRESSORS = ((".gz", "gzip"), (".bz2", "bzip2"), (".xz", "xz"))


def _decompressor_for(path: str):
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return None
    for magic, cmd in _DECOMPRESSORS:
        if head.startswith(magic):
            return cmd
    return None


# ---- reading ---------------------------------------------------------------

cdef class TraceReader:
    """A trace file read in large blocks (Click's FromFile): `buf[pos:end]`
    holds the unread bytes; `fill(n)` makes n of them available with one
    read(2) per block, never per packet. Compressed files (gzip, bzip2, xz)
    are read through a decompressing child process, standard input as `-`.

    With `mmap`, a regular file is instead mapped in 8 MiB windows, so the
    kernel copies nothing (read(2) is used where mapping fails). Another
    process may truncate the file meanwhile: then the pages it lost fault
    (SIGBUS) and the ones before read as zeros. So code that reads the window
    runs under `guarded()` and ends with `confirm()`; read_bytes and read_line
    do neither and are for files read with read(2)."""
    cdef int fd
    cdef uint8_t* buf
    cdef size_t cap
    cdef size_t pos, end
    cdef uint64_t buf_offset          # file offset of buf[0]
    cdef bint mapped                  # buf is a window of the file mapped in memory
    cdef uint64_t lost_at             # after guarded(): the file offset of the fault, if any
    cdef readonly bint at_eof
    cdef readonly int read_errno
    cdef readonly str filename
    cdef readonly int64_t size        # -1: unknown (pipe, compressed)
    cdef object process

    def __cinit__(self):
        self.fd = -1

    def __dealloc__(self):
        self._unmap()
        c_free(self.buf)
        if self.fd > 2:
            c_close(self.fd)

    cdef void _unmap(self) noexcept:
        if self.mapped:
            if self.buf != NULL:
                c_munmap(self.buf, self.end)
            self.buf = NULL
            self.mapped = False

    def open(self, str filename, bint mmap=False) -> None:
        """Open filename (`-` = standard input); OSError if that fails.
        With mmap, a regular uncompressed file is mapped instead of read."""
        import os
        import subprocess
        self.close()
        self.filename = filename
        self.size = -1
        if filename == "-":
            self.fd = 0
        else:
            cmd = _decompressor_for(filename)
            if cmd is not None:
                try:
                    self.process = subprocess.Popen([cmd, "-c", filename], stdout=subprocess.PIPE,
                                                    stdin=subprocess.DEVNULL, close_fds=True)
                except OSError as e:
                    raise OSError(e.errno, f"{filename}: cannot run {cmd} to decompress it: {e.strerror}") from None
                self.fd = os.dup(self.process.stdout.fileno())
                self.process.stdout.close()
            else:
                self.fd = os.open(filename, os.O_RDONLY | os.O_CLOEXEC)
                st = os.fstat(self.fd)
                import stat
                if stat.S_ISREG(st.st_mode):
                    self.size = st.st_size
        self.pos = self.end = 0
        self.buf_offset = 0
        self.at_eof = False
        self.read_errno = 0
        if mmap and self.size >= 0 and sigbus_guarding():
            self.mapped = True
            c_free(self.buf)
            self.buf = NULL
            return
        if self.buf == NULL:
            self.cap = READ_BLOCK
            self.buf = <uint8_t*>malloc(self.cap)
            if self.buf == NULL:
                raise MemoryError()

    def close(self) -> None:
        self._unmap()
        if self.fd > 2:
            c_close(self.fd)
        self.fd = -1
        if self.process is not None:
            try:
                self.process.kill()
                self.process.wait(timeout=5)
            except Exception:
                pass
            self.process = None

    @property
    def is_open(self) -> bool:
        return self.fd >= 0

    @property
    def position(self) -> int:
        """File offset of the next unread byte."""
        return self.buf_offset + self.pos

    @property
    def seekable(self) -> bool:
        return self.size >= 0

    def seek(self, uint64_t offset) -> None:
        if self.size < 0:
            raise OSError(29, f"{self.filename}: cannot seek in a pipe or a compressed file")
        if not self.mapped and c_lseek(self.fd, <long>offset, SEEK_SET_) < 0:
            raise OSError(errno, f"{self.filename}: {strerror(errno).decode()}")
        self._unmap_keep_mode()
        self.buf_offset = offset
        self.pos = self.end = 0
        self.at_eof = False

    cdef void _unmap_keep_mode(self) noexcept:
        if self.mapped and self.buf != NULL:
            c_munmap(self.buf, self.end)
            self.buf = NULL

    cdef inline const uint8_t* data(self) noexcept:
        return self.buf + self.pos

    cdef inline size_t available(self) noexcept:
        return self.end - self.pos

    cdef inline void consume(self, size_t n) noexcept:
        self.pos += n

    cdef size_t fill(self, size_t need) noexcept:
        """Make at least `need` unread bytes available (fewer only at the end of
        the file or on a read error, then at_eof / read_errno say which)."""
        cdef ssize_t got
        cdef uint8_t* grown
        if self.end - self.pos >= need or self.fd < 0:
            return self.end - self.pos
        if self.mapped:
            return self._map(need)
        if self.pos:
            memmove(self.buf, self.buf + self.pos, self.end - self.pos)
            self.buf_offset += self.pos
            self.end -= self.pos
            self.pos = 0
        if need > self.cap:
            grown = <uint8_t*>realloc(self.buf, need)
            if grown == NULL:
                self.read_errno = 12
                return self.end
            self.buf = grown
            self.cap = need
        while self.end < need:
            got = c_read(self.fd, self.buf + self.end, self.cap - self.end)
            if got > 0:
                self.end += <size_t>got
            elif got == 0:
                self.at_eof = True
                break
            elif errno != EINTR and errno != EAGAIN:
                self.read_errno = errno
                break
        return self.end

    cdef size_t _map(self, size_t need) noexcept:
        """Map the window holding the next `need` bytes (fewer at the end of the file)."""
        cdef uint64_t at = self.buf_offset + self.pos
        cdef uint64_t start = at & ~(<uint64_t>PAGE_MASK)
        cdef uint64_t length
        cdef c_stat st
        cdef void* p
        if c_fstat(self.fd, &st) < 0:
            self.read_errno = errno
            return self.end - self.pos
        self.size = st.st_size                   # a file still being written grows
        self._unmap_keep_mode()
        self.buf_offset = at
        self.pos = self.end = 0
        if <uint64_t>st.st_size <= at:
            self.at_eof = True
            return 0
        if not sigbus_guarding():
            return self._read_instead(need)
        length = need + (at - start)
        if length < MMAP_WINDOW:
            length = MMAP_WINDOW
        if length > <uint64_t>st.st_size - start:
            length = <uint64_t>st.st_size - start
        p = c_mmap(NULL, length, PROT_READ, MAP_SHARED | MAP_POPULATE, self.fd, <long>start)
        if p == MAP_FAILED:
            return self._read_instead(need)
        c_madvise(p, length, MADV_SEQUENTIAL)
        self.buf = <uint8_t*>p
        self.buf_offset = start
        self.pos = at - start
        self.end = length
        if self.end - self.pos < need:
            self.at_eof = True
        return self.end - self.pos

    cdef size_t _read_instead(self, size_t need) noexcept:
        """Read the rest of the file with read(2): it cannot be mapped (a file
        system without mmap, no address space left), or not safely (another
        SIGBUS handler replaced the guard's)."""
        self.mapped = False
        self.buf = <uint8_t*>malloc(READ_BLOCK)
        if self.buf == NULL:
            self.read_errno = ENOMEM
            return 0
        self.cap = READ_BLOCK
        if c_lseek(self.fd, <long>(self.buf_offset + self.pos), SEEK_SET_) < 0:
            self.read_errno = errno
            return 0
        self.buf_offset += self.pos
        self.pos = self.end = 0
        return self.fill(need)

    # ---- mapped files: reading under a guard against truncation ------------
    cdef int guarded(self, map_reader read, void* arg) noexcept:
        """read(arg), which reads this reader's window: its result, or -1 if it
        touched a page that the file lost meanwhile (lost_at says where; it is
        UINT64_MAX otherwise); then read went no further than that access (see
        the guard's comment above)."""
        cdef size_t fault_at = 0
        cdef int result = map_guarded(&self.buf, &self.end, read, arg, &fault_at)
        self.lost_at = self.buf_offset + fault_at if result < 0 else UINT64_MAX
        return result

    cdef bint confirm(self, size_t ahead) noexcept:
        """Whether the file still held, after they were read, every byte read
        so far up to `ahead` bytes past the position. A truncation leaves the
        rest of the page the file now ends in as zeros, which read without a
        fault; but the pages after it are gone. So touch the page that follows
        those bytes (it faults if the truncation came first: call under
        guarded()), or, at the end of the window, ask fstat."""
        cdef uint64_t upto, probe
        cdef c_stat st
        if not self.mapped:
            return True
        upto = self.buf_offset + (self.pos + ahead if self.pos + ahead < self.end else self.end)
        probe = (upto + PAGE_MASK) & ~(<uint64_t>PAGE_MASK)
        if self.buf != NULL and probe < self.buf_offset + self.end:
            signal_fence()
            touch(self.buf + (probe - self.buf_offset))
            return True
        return c_fstat(self.fd, &st) < 0 or <uint64_t>st.st_size >= upto

    cdef bint copy_out(self, uint8_t* dst, size_t n) noexcept:
        """Copy n of the available bytes to dst; False if the file lost them
        (truncated under the mapping)."""
        cdef CopyCall call
        if not self.mapped:
            memcpy(dst, self.buf + self.pos, n)
            return True
        call.reader = <void*>self
        call.dst = dst
        call.n = n
        return self.guarded(_copy_mapped, &call) == 0

    cdef int64_t current_size(self) noexcept:
        """The file's size now (fstat), -1 if unknown."""
        cdef c_stat st
        if self.size < 0 or c_fstat(self.fd, &st) < 0:
            return -1
        return st.st_size

    cdef void stop_at(self, uint64_t offset) noexcept:
        """Make offset the position and the end of the data: the file was
        truncated there. A later fill maps what the file has then afresh."""
        self._unmap_keep_mode()
        self.buf_offset = offset
        self.pos = self.end = 0
        self.at_eof = True

    def read_bytes(self, size_t n) -> bytes:
        """Cold path: up to n bytes (fewer at the end of the file)."""
        cdef size_t have = self.fill(n)
        if have > n:
            have = n
        out = (<char*>self.buf + self.pos)[:have]
        self.pos += have
        return out

    def read_line(self):
        """Cold path: the next line without its newline (bytes), or None at the end."""
        cdef size_t i, scanned = 0, have
        while True:
            for i in range(self.pos + scanned, self.end):
                if self.buf[i] == 10:
                    line = (<char*>self.buf + self.pos)[:i - self.pos]
                    self.pos = i + 1
                    return line
            have = self.end - self.pos
            scanned = have
            if self.fill(have + 4096) == have:
                # the end of the file (or a read error): the last line has no newline
                if have == 0:
                    return None
                line = (<char*>self.buf + self.pos)[:have]
                self.pos = self.end
                return line

    def error_text(self) -> str:
        return strerror(self.read_errno).decode() if self.read_errno else ""


cdef struct CopyCall:
    void* reader          # the TraceReader, borrowed (nothing guarded may own a reference)
    uint8_t* dst
    size_t n


cdef int _copy_mapped(void* arg) noexcept:
    """TraceReader.copy_out's guarded part."""
    cdef CopyCall* c = <CopyCall*>arg
    memcpy(c.dst, (<TraceReader>c.reader).data(), c.n)
    return 0 if (<TraceReader>c.reader).confirm(c.n) else 1


# ---- writing -----------------------------------------------------------------

cdef class TraceWriter:
    """A trace file written in large blocks: `reserve(n)` returns room for n
    bytes in the buffer, `commit(n)` keeps them; full blocks go out with one
    write(2). Files named *.gz, *.bz2, *.xz are compressed by a child process;
    `-` is standard output.

    An existing file is truncated at the first write, not at open, so that a
    hot-swapped configuration can take over the old writer (take_state)
    without the new element wiping what it wrote."""
    cdef int fd
    cdef bint truncate_pending
    cdef uint8_t* buf
    cdef size_t cap, used
    cdef readonly uint64_t written       # bytes handed to the kernel
    cdef readonly int write_errno
    cdef readonly str filename
    cdef object process

    def __cinit__(self):
        self.fd = -1

    def __dealloc__(self):
        c_free(self.buf)
        if self.fd > 2:
            c_close(self.fd)

    def open(self, str filename, bint append=False) -> None:
        import os
        import stat
        import subprocess
        self.filename = filename
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if append else 0)
        self.truncate_pending = False
        if filename == "-":
            self.fd = 1
        else:
            cmd = next((c for suffix, c in _COMPRESSORS if filename.endswith(suffix)), None)
            out = os.open(filename, flags, 0o644)
            if cmd is None:
                self.fd = out
                # only a regular file has contents to truncate (/dev/null and
                # FIFOs refuse ftruncate and lseek)
                self.truncate_pending = not append and stat.S_ISREG(os.fstat(out).st_mode)
            else:
                os.ftruncate(out, 0)
                try:
                    self.process = subprocess.Popen([cmd, "-c"], stdin=subprocess.PIPE, stdout=out,
                                                    close_fds=True)
                except OSError as e:
                    os.close(out)
                    raise OSError(e.errno, f"{filename}: cannot run {cmd} to compress it: {e.strerror}") from None
                os.close(out)
                self.fd = os.dup(self.process.stdin.fileno())
                self.process.stdin.close()
        if self.buf == NULL:
            self.cap = WRITE_BLOCK
            self.buf = <uint8_t*>malloc(self.cap + COPY_SLACK)
            if self.buf == NULL:
                raise MemoryError()
        self.used = 0
        self.written = 0
        self.write_errno = 0

    @property
    def is_open(self) -> bool:
        return self.fd >= 0

    @property
    def pending(self) -> int:
        return self.used

    cdef inline uint8_t* reserve(self, size_t n) noexcept:
        """Room for n bytes (plus COPY_SLACK), flushing first if needed; NULL on a write error."""
        if self.used + n > self.cap:
            if self.flush_buffer() < 0:
                return NULL
            if n > self.cap:
                return NULL
        return self.buf + self.used

    cdef inline void commit(self, size_t n) noexcept:
        self.used += n

    cdef int flush_buffer(self) noexcept:
        """Write out everything buffered; -1 (write_errno set) on failure."""
        cdef size_t off = 0
        cdef ssize_t got
        if self.fd < 0:
            self.used = 0
            return -1
        if self.truncate_pending:
            self.truncate_pending = False
            if c_ftruncate(self.fd, 0) < 0 or c_lseek(self.fd, 0, SEEK_SET_) < 0:
                self.write_errno = errno
                self.used = 0
                return -1
        while off < self.used:
            got = c_write(self.fd, self.buf + off, self.used - off)
            if got > 0:
                off += <size_t>got
            elif got < 0 and (errno == EINTR or errno == EAGAIN):
                continue
            else:
                self.write_errno = errno if got < 0 else 28
                self.used = 0
                return -1
        self.written += self.used
        self.used = 0
        return 0

    def take_over(self, TraceWriter other) -> None:
        """Become `other` (same file, hot swap); other is left closed."""
        self.close_quietly()
        self.fd, other.fd = other.fd, -1
        self.buf, other.buf = other.buf, self.buf
        self.cap, other.cap = other.cap, self.cap
        self.used, other.used = other.used, 0
        self.written = other.written
        self.truncate_pending = other.truncate_pending
        self.filename = other.filename
        self.process, other.process = other.process, None

    def close_quietly(self) -> None:
        """Close without flushing or truncating (the file is someone else's now)."""
        if self.fd > 2:
            c_close(self.fd)
        self.fd = -1
        self.used = 0
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def write_bytes(self, bytes data) -> None:
        """Cold path: buffer data (OSError if the file cannot be written)."""
        cdef size_t n = len(data)
        cdef uint8_t* p = self.reserve(n)
        if p == NULL:
            if n > self.cap:
                if self.flush_buffer() < 0 or c_write(self.fd, <const char*>data, n) != <ssize_t>n:
                    self.raise_error()
                self.written += n
                return
            self.raise_error()
        memcpy(p, <const char*>data, n)
        self.commit(n)

    def flush(self) -> None:
        if self.flush_buffer() < 0 and self.fd >= 0:
            self.raise_error()

    def raise_error(self):
        raise OSError(self.write_errno, f"{self.filename}: {strerror(self.write_errno).decode()}")

    def error_text(self) -> str:
        return strerror(self.write_errno).decode() if self.write_errno else ""

    def close(self) -> None:
        """Flush and close (idempotent); OSError if the last write failed."""
        cdef int status = 0
        if self.fd < 0:
            return
        if self.used or self.truncate_pending:
            status = self.flush_buffer()
        if self.fd > 2:
            c_close(self.fd)
        self.fd = -1
        if self.process is not None:
            try:
                self.process.wait(timeout=30)
            except Exception:
                self.process.kill()
            self.process = None
        if status < 0:
            self.raise_error()
