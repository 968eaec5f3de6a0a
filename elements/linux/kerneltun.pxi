# EXPORT_ELEMENT KernelTun

cdef enum:
    TUN_WRITE = 0
    TUN_URING = 1
    TUN_DEFAULT_MTU = 1500
    TUN_STAGING = 65536 + VNET_HDR_LEN + 64    # one read: a GSO frame and its virtio-net header

_TUN_METHODS = ("URING", "WRITE")


cdef class KernelTun(Receiver):
    """KernelTun(ADDR/MASK [, GATEWAY, KEYWORDS])

    Interface to a TUN device (user level, Linux).

    Ports: 0 or 1 input; 1 or 2 outputs. Processing: agnostic input (push or pull),
    push outputs.

    Creates a TUN device, gives it the kernel-side address ADDR with netmask
    MASK (as ifconfig would; ADDR 0.0.0.0 leaves it without one), brings it
    up and, if GATEWAY is nonzero, adds a default route through GATEWAY (which
    must be on the device's network). IP packets the kernel routes to the
    device come out of output 0, with the network header annotation set;
    anything else the kernel passes up goes to output 1, or is dropped.
    Packets arriving on the input are handed to the kernel's IP stack as if
    received on the device: each must have its network header annotation set
    (link headers before it are stripped) and be IPv4 or IPv6, and no longer
    than MTU; others are dropped (counted). The device disappears when the
    router stops.

    Under `clickpy run -j N` the device is a multi-queue one: each worker
    attaches a queue of the same device (named DEVNAME, or after the element
    if none is given) and the kernel spreads the device's flows over them.

    Reads are one packet per system call (the kernel offers no batched read
    on TUN/TAP short of vhost-net). Writes are batched: with METHOD URING (the
    default, where the kernel has io_uring) one io_uring_enter call submits a
    whole batch; METHOD WRITE makes one write(2) per packet.

    Offloads: the device is opened with a virtio-net header and tells the
    kernel it accepts partial checksums and TCP/UDP GSO, so the host stack
    sends fewer, larger frames. KernelTun completes the checksums and cuts
    GSO frames into ordinary packets (OFFLOAD false, the default), or passes
    them on whole with their offload annotations (OFFLOAD true). Packets with
    offload annotations written to the device are handed to the kernel with
    them, so a GSO packet of up to 64 KiB is written whole.

    Keywords:
      GATEWAY     IP address. Add a default route through it (default none).
      MTU         Integer. The device's MTU, without link header (default 1500).
      DEVNAME     String. The device's name; may contain %d (default: the kernel picks).
      ETHER       Ethernet address. The device's address (KernelTap; default: the kernel picks).
      BURST       Integer. Most packets to read, or to pull, per scheduling (default 256).
      METHOD      URING or WRITE: how packets are written (default URING, or WRITE
                  where io_uring is unavailable).
      OFFLOAD     Boolean. Pass partial checksums and GSO frames read from the kernel
                  on whole instead of completing and segmenting them (default false).
      HEADROOM    Integer. Bytes of headroom before packet data; packets always have
                  128, so only values up to 128 are accepted (default 128).
      IGNORE_QUEUE_OVERFLOWS  Boolean. Accepted for compatibility: clickpy never prints
                  per-packet errors, it counts them (see the errors handler).

    Handlers:
      dev_name (read)       the device's name
      count, packets (read) packets read from the device
      sent (read)           packets written to the device
      drops (read)          packets lost: pool exhausted, or not writable (bad or too long)
      errors (read)         failed reads and writes, and the last error
      offload (read)        checksums completed, GSO frames and segments, unusable frames
      selected_calls (read) times the device was found readable
      reset_counts (write)  zero the counters

    Example:
      tun :: KernelTun(10.9.0.1/24);
      tun -> IPClassifier(icmp type echo) -> ICMPPingResponder -> tun;
    """

    port_count = "0-1/1-2"
    processing = "a/h"
    flow_code = "x/y"
    configure_phase = 60      # after the queues it pulls from, whose notifiers it listens to
    tap = False

    cdef int fd
    cdef bint is_tap
    cdef str wanted_name
    cdef readonly str dev_name
    cdef uint32_t addr, mask, gateway
    cdef bytes ether
    cdef int mtu, burst, method
    cdef Uring uring
    cdef uint64_t* done_user
    cdef int32_t* done_res
    cdef uint8_t* staging
    cdef readonly uint64_t sent, write_drops, io_errors, selected_calls
    cdef str last_error
    cdef Task read_task, write_task
    cdef NotifierSignal signal

    def __cinit__(self):
        self.fd = -1
        self.uring.fd = -1
        self.last_error = ""

    def __dealloc__(self):
        c_free(self.staging)
        c_free(self.done_user)
        c_free(self.done_res)

    def configure(self, args):
        self.is_tap = type(self).tap
        self.raw_ip = not self.is_tap
        self.force_ip = not self.is_tap
        self.addr, self.mask = args.read_mp("ADDR", IPPREFIX)
        self.gateway = args.read_p("GATEWAY", IPADDR, 0)
        self.mtu = args.read("MTU", Int(68, 65535), TUN_DEFAULT_MTU)
        self.wanted_name = args.read("DEVNAME", STRING, "")
        self.wanted_name = args.read("DEV_NAME", STRING, self.wanted_name)
        self.ether = args.read("ETHER", ETHERADDR, None)
        self.burst = args.read("BURST", Int(1, 1 << 30), 256)
        method = args.read("METHOD", Keyword(*_TUN_METHODS), "URING")
        self.keep_offload = args.read("OFFLOAD", BOOL, False)
        headroom = args.read("HEADROOM", Int(0, 8192), HEADROOM)
        args.read("IGNORE_QUEUE_OVERFLOWS", BOOL, False)
        if headroom > HEADROOM:
            raise self.error(f"HEADROOM larger than {HEADROOM} is not supported")
        if self.gateway and (self.gateway & self.mask) != (self.addr & self.mask):
            raise self.error("bad GATEWAY: not on the device's network")
        if len(self.wanted_name.encode()) >= IFNAMSIZ:
            raise self.error(f"DEVNAME '{self.wanted_name}' is too long")
        self.method = TUN_URING if method == "URING" else TUN_WRITE

    def initialize(self):
        self.staging = <uint8_t*>malloc(TUN_STAGING)
        self.done_user = <uint64_t*>malloc(2 * BATCH_MAX * sizeof(uint64_t))
        self.done_res = <int32_t*>malloc(2 * BATCH_MAX * sizeof(int32_t))
        if self.staging == NULL or self.done_user == NULL or self.done_res == NULL:
            raise MemoryError()
        self._open_device()
        try:
            configure_interface(self.dev_name, self.addr, self.mask, self.ether if self.is_tap else None,
                                self.mtu if self.mtu != TUN_DEFAULT_MTU else 0, self.is_tap)
        except OSError as e:
            raise self.error(f"cannot configure '{self.dev_name}': {e.strerror}") from None
        if self.gateway:
            self._add_default_route()      # (by the first worker; the others find it there)
        if self.method == TUN_URING and uring_init(&self.uring, 2 * BATCH_MAX, self.fd) < 0:
            self.method = TUN_WRITE        # io_uring unavailable or disabled here
        self.read_task = self.add_task(True)
        self.add_select(self.fd, EPOLL_IN, self._selected)
        if self.ninputs and self.input_is_pull(0):
            self.write_task = self.add_task(True)
            self.signal = self.upstream_empty_signal(0)
            self.signal.add_listener(self.write_task)

    def _open_device(self):
        cdef int fd = _os.open("/dev/net/tun", _os.O_RDWR | _os.O_NONBLOCK | _os.O_CLOEXEC) \
            if _os.path.exists("/dev/net/tun") else -1
        cdef unsigned int offloads
        if fd < 0:
            raise self.error("/dev/net/tun does not exist (is the tun driver enabled?)")
        self.fd = fd
        flags = (IFF_TAP if self.is_tap else IFF_TUN) | IFF_NO_PI | IFF_VNET_HDR
        worker = current_worker()
        if worker is not None and worker.count > 1:
            # every worker attaches one queue of the same multi-queue device,
            # and the kernel spreads the device's flows over the queues
            flags |= IFF_MULTI_QUEUE
            if not self.wanted_name:
                self.wanted_name = f"cp{worker.fanout_group(self.name):04x}"
        ifr = _struct.pack("16sH22x", self.wanted_name.encode(), flags)
        try:
            ifr = _fcntl.ioctl(fd, TUNSETIFF, ifr)
        except OSError as e:
            raise os_error(self, f"cannot create a {'TAP' if self.is_tap else 'TUN'} device"
                                 + (f" '{self.wanted_name}'" if self.wanted_name else ""), e.errno) from None
        self.dev_name = ifr[:16].split(b"\0", 1)[0].decode()
        # what the kernel may hand us: partial checksums and TCP/UDP GSO frames
        offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6
        if ioctl(fd, TUNSETOFFLOAD, offloads) < 0:
            offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN    # kernels before USO
            ioctl(fd, TUNSETOFFLOAD, offloads)

    def _add_default_route(self):
        try:
            from pyroute2 import IPRoute
        except ImportError:
            raise self.error("GATEWAY needs pyroute2 (pip install pyroute2)") from None
        with IPRoute() as ipr:
            try:
                ipr.route("add", dst="0.0.0.0/0", gateway=_socket.inet_ntoa(_struct.pack("!I", self.gateway)),
                          oif=_socket.if_nametoindex(self.dev_name))
            except Exception as e:
                if getattr(e, "code", None) != 17:     # EEXIST: another worker added it
                    raise self.error(f"cannot add a default route through GATEWAY: {e}") from None

    def _selected(self, int events):
        self.selected_calls += 1
        self.read_task.reschedule()

    # ---- reading ---------------------------------------------------------------
    cdef int _read(self, int budget) except -1:
        cdef PacketPool pool = self.pool
        cdef Batch* b = pool.batch_get()
        cdef virtio_net_hdr* vh = <virtio_net_hdr*>self.staging
        cdef uint8_t* frame = self.staging + VNET_HDR_LEN
        cdef FrameMeta meta
        cdef ssize_t n
        cdef uint32_t length, x
        cdef int got = 0, err
        cdef Anno* a
        memset(&meta, 0, sizeof(meta))
        meta.raw_ip = self.raw_ip
        try:
            while got < budget:
                n = c_read(self.fd, self.staging, TUN_STAGING)
                if n < 0:
                    err = errno
                    if err != EAGAIN and err != EINTR:
                        self._note_error(err)
                    break
                got += 1
                if n <= VNET_HDR_LEN:
                    continue
                length = <uint32_t>(n - VNET_HDR_LEN)
                meta.timestamp = realtime_ns()
                if not self.is_tap and raw_ip_type(frame, length) == 0:
                    meta.raw_ip = False             # not IP: out of output 1 as it is
                else:
                    meta.raw_ip = self.raw_ip
                if vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM or vh.gso_type != VIRTIO_NET_HDR_GSO_NONE:
                    self.take_offloaded(b, frame, length, vh, &meta)
                else:
                    x = pool.alloc(length)
                    if x == NO_PACKET:
                        self.drops += 1
                        continue
                    a = &pool.anno[x]
                    memcpy(a.data, frame, length)
                    apply_meta(a, &meta)
                    if vh.flags & VIRTIO_NET_HDR_F_DATA_VALID:
                        a.offload |= OFFLOAD_CSUM_VALID
                    b.idx[b.n] = x
                    b.n += 1
                if b.n >= BATCH_MAX - 1:
                    self.emit(b)
            if b.n:
                self.emit(b)
        finally:
            pool.batch_put(b)
        return got

    # ---- writing ---------------------------------------------------------------
    cdef inline uint8_t* _prepare(self, uint32_t x) noexcept:
        """Make packet x writable as it is: strip link headers (TUN), check
        its length, and put a virtio-net header before it. NULL if it cannot
        be written."""
        cdef PacketPool pool = self.pool
        cdef Anno* a = &pool.anno[x]
        cdef uint32_t start, l3_len, strip
        cdef uint8_t* p
        if self.is_tap:
            if a.len < ETHER_HEADER_LEN:
                return NULL
            l3_len = a.len - ETHER_HEADER_LEN
        else:
            if a.net_off < 0 or <uint32_t>a.net_off < a.headroom:
                return NULL
            strip = <uint32_t>a.net_off - a.headroom
            if strip > a.len or raw_ip_type(a.data + strip, a.len - strip) == 0:
                return NULL
            pool.pull(x, strip)
            l3_len = a.len
        if l3_len > <uint32_t>self.mtu and a.gso_size == 0:
            return NULL
        p = pool.push(x, VNET_HDR_LEN)
        if p == NULL:
            return NULL
        memset(p, 0, VNET_HDR_LEN)
        if a.offload & OFFLOAD_CSUM_PARTIAL:
            # csum_start counts from the buffer's first byte, so pushes and pulls leave it valid
            start = a.csum_start - a.headroom - VNET_HDR_LEN
            (<virtio_net_hdr*>p).flags = VIRTIO_NET_HDR_F_NEEDS_CSUM
            (<virtio_net_hdr*>p).csum_start = <uint16_t>start
            (<virtio_net_hdr*>p).csum_offset = a.csum_offset
            (<virtio_net_hdr*>p).hdr_len = <uint16_t>(start + a.csum_offset + 2)
        if a.gso_size != 0:
            (<virtio_net_hdr*>p).gso_type = a.gso_type
            (<virtio_net_hdr*>p).gso_size = a.gso_size
        return p

    cdef int _write_batch(self, Batch* b) except -1:
        """Write b's packets to the device; b is left empty."""
        cdef PacketPool pool = self.pool
        cdef uint32_t i, x
        cdef uint8_t* p
        cdef ssize_t w
        if self.method == TUN_URING:
            return self._write_uring(b)
        for i in range(b.n):
            x = b.idx[i]
            p = self._prepare(x)
            if p == NULL:
                self.write_drops += 1
            else:
                w = c_write(self.fd, p, pool.anno[x].len)
                if w == <ssize_t>pool.anno[x].len:
                    self.sent += 1
                else:
                    self.write_drops += 1
                    if w < 0:
                        self._note_error(errno)
            pool.free(x)
        b.n = 0
        return 0

    cdef int _write_uring(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef uint32_t i, x, queued = 0, taken
        cdef uint8_t* p
        if uring_space(&self.uring) < b.n:
            self._reap(True)
        for i in range(b.n):
            x = b.idx[i]
            p = self._prepare(x)
            if p == NULL:
                self.write_drops += 1
                pool.free(x)
                continue
            uring_prep_write(&self.uring, p, pool.anno[x].len, x)
            b.idx[queued] = x
            queued += 1
        taken = uring_submit(&self.uring, queued)
        for i in range(taken, queued):
            self.write_drops += 1            # the kernel refused the submission
            pool.free(b.idx[i])
        b.n = 0
        self._reap(False)
        return 0

    cdef int _reap(self, bint wait_for_all) except -1:
        """Free the buffers of completed writes (writes to TUN/TAP complete
        while they are submitted, so there is rarely anything to wait for)."""
        cdef PacketPool pool = self.pool
        cdef unsigned i, n
        while True:
            n = uring_reap(&self.uring, self.done_user, self.done_res, 2 * BATCH_MAX)
            for i in range(n):
                if self.done_res[i] >= 0:
                    self.sent += 1
                else:
                    self.write_drops += 1
                    self.io_errors += 1
                pool.free(<uint32_t>self.done_user[i])
            if not wait_for_all or self.uring.pending == 0:
                return 0
            if n == 0 and uring_wait(&self.uring) < 0:
                return 0

    cdef int push(self, int port, Batch* b) except -1:
        return self._write_batch(b)

    cdef int run_task(self, Task task) except -1:
        cdef PacketPool pool = self.pool
        cdef Batch* b
        cdef int got = 0, want
        if task is self.read_task:
            got = self._read(self.burst)
            if got >= self.burst:
                task.reschedule()
            return got
        while got < self.burst:
            want = self.burst - got
            if want > BATCH_MAX:
                want = BATCH_MAX
            b = pool.batch_get()
            try:
                if self.input_pull(0, b, want) == 0:
                    break
                got += b.n
                self._write_batch(b)
            finally:
                pool.batch_put(b)
        if got or self.signal.is_active():
            task.reschedule()
        return got

    cdef int _note_error(self, int err) except -1:
        self.io_errors += 1
        self.last_error = _os.strerror(err)
        return 0

    # ---- cold ------------------------------------------------------------------
    def _write_reset(self, value=""):
        self._reset_counts()
        self.sent = self.write_drops = self.io_errors = self.selected_calls = 0

    def add_handlers(self):
        self.add_read_handler("dev_name", lambda: self.dev_name)
        self.add_read_handler("count", lambda: self.count)
        self.add_read_handler("packets", lambda: self.count)
        self.add_read_handler("sent", lambda: self.sent)
        self.add_read_handler("drops", lambda: self.drops + self.write_drops)
        self.add_read_handler("errors", lambda: f"{self.io_errors}" + (f" ({self.last_error})" if self.last_error else ""))
        self.add_read_handler("offload", self._offload_text)
        self.add_read_handler("selected_calls", lambda: self.selected_calls)
        self.add_write_handler("reset_counts", self._write_reset)

    def cleanup(self):
        if self.uring.fd >= 0:
            if self.pool is not None:
                self._reap(True)
            uring_exit(&self.uring)
        if self.fd >= 0:
            if self.router is not None:
                self.remove_select(self.fd)
            c_close(self.fd)          # the device goes away with its last descriptor
            self.fd = -1
