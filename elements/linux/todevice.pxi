# EXPORT_ELEMENT ToDevice

cdef enum:
    SEND_RING = 0
    SEND_MMSG = 1

cdef uint64_t RETRY_NS = 2000000        # re-check a full TX ring after 2 ms at the latest


cdef class ToDevice(Element):
    """ToDevice(DEVNAME [, KEYWORDS])

    Sends packets to a network device (user level, Linux).

    Ports: 1 input; 0 to 2 outputs. Processing: agnostic input (pull, as in Click, or
    push), push outputs.

    Sends each packet, which must start with its link-level header, out of
    the device named DEVNAME through an AF_PACKET socket. As in Click the
    input is normally pull (`Queue -> ToDevice(eth0)`): the task pulls up to
    BURST packets whenever it runs and sleeps while the queues upstream are
    empty; it also pulls straight from an agnostic source such as
    InfiniteSource. A push input sends packets as they arrive.

    By default packets are copied into a TX ring shared with the kernel and
    the kernel is told once per batch to send what the ring holds (METHOD
    RING); METHOD SENDMMSG instead hands the kernel a batch of pool buffers
    in one sendmmsg call. When the ring is full a pull input waits until the
    kernel has sent frames (no packet is pulled that cannot be sent); a push
    input drops what does not fit (counted). Packets longer than the device
    MTU plus the link header, or shorter than an Ethernet header, are not
    sent (counted).

    Every frame carries a virtio-net header: a packet whose checksum was
    left partial (FromDevice or KernelTap with OFFLOAD true) is sent with its
    checksum offset for the kernel or device to finish, and a GSO packet of up
    to 64 KiB is sent whole, for the kernel or device to segment.

    Packets that were sent leave on output 0 if it exists; packets that could
    not be sent leave on output 1 if it exists; otherwise they are freed.

    Keywords:
      BURST         Integer. Most packets to pull per scheduling (default 256).
      QDISC_BYPASS  Boolean. Hand frames to the driver directly, skipping the
                    device's queueing discipline (default false).
      METHOD        RING or SENDMMSG (default RING). LINUX and PCAP mean RING.
      RING_SIZE     Integer. Frames in the TX ring, a power of two (default 1024;
                    on a machine with less than 64 MiB of memory, as many 2 KiB
                    frames as fit in 1/32 of it, at least 16).
      DEBUG         Boolean. Accepted for compatibility; no effect.

    Handlers:
      count (read)        packets sent
      drops (read)        packets not sent (ring full under a push input, too long or too
                          short, device down)
      pulls (read)        pulls from the input
      signal (read)       whether the upstream notifier says packets may be waiting
      errors (read)       send errors (the device went down or away), and the last one
      reset_counts (write)  zero the counters

    Example:
      q :: Queue(1024) -> ToDevice(eth1, BURST 256);
    """

    port_count = "1/0-2"
    processing = "a/h"
    configure_phase = 60      # after the queues it pulls from, whose notifiers it listens to

    cdef readonly str devname
    cdef int fd, big_fd
    cdef int method
    cdef uint8_t* ring
    cdef size_t ring_bytes
    cdef uint32_t frame_size, frame_count, frame_mask, head
    cdef uint32_t max_len             # longest frame the device takes (MTU + link header)
    cdef uint32_t ring_capacity       # longest frame a ring slot holds
    cdef int ifindex
    cdef int burst
    cdef bint qdisc_bypass, waiting
    cdef readonly uint64_t count, drops, pulls, send_errors
    cdef str last_error
    cdef Task task
    cdef Timer retry
    cdef NotifierSignal signal
    cdef mmsghdr* msgs
    cdef iovec* iovs
    cdef virtio_net_hdr* vnet_hdrs

    def __cinit__(self):
        self.fd = -1
        self.big_fd = -1
        self.last_error = ""

    def __dealloc__(self):
        c_free(self.msgs)
        c_free(self.iovs)
        c_free(self.vnet_hdrs)

    def configure(self, args):
        self.devname = args.read_mp("DEVNAME", STRING)
        self.burst = args.read("BURST", Int(1, 1 << 30), 256)
        self.qdisc_bypass = args.read("QDISC_BYPASS", BOOL, False)
        method = args.read("METHOD", Keyword("RING", "SENDMMSG", "LINUX", "PCAP"), "RING")
        ring_size = args.read("RING_SIZE", Int(16, 1 << 20), None)
        if ring_size is None:
            ring_size = 1024
            while ring_size > 16 and ring_size * 2048 > ring_bytes_for_memory(1024 * 2048):
                ring_size >>= 1
        args.read("DEBUG", BOOL, False)
        if ring_size & (ring_size - 1):
            raise self.error("RING_SIZE must be a power of two")
        self.method = SEND_MMSG if method == "SENDMMSG" else SEND_RING
        self.frame_count = ring_size

    def initialize(self):
        self.ifindex = device_index(self, self.devname)
        self.max_len = device_mtu(self.devname) + ETHER_HEADER_LEN
        self.fd = self._open_socket()
        if self.method == SEND_RING:
            self._map_ring()
            # for frames too large for a ring slot (GSO): a socket without a ring
            self.big_fd = self._open_socket()
        else:
            self.msgs = <mmsghdr*>calloc(BATCH_MAX, sizeof(mmsghdr))
            self.iovs = <iovec*>calloc(2 * BATCH_MAX, sizeof(iovec))
            self.vnet_hdrs = <virtio_net_hdr*>calloc(BATCH_MAX, sizeof(virtio_net_hdr))
            if self.msgs == NULL or self.iovs == NULL or self.vnet_hdrs == NULL:
                raise MemoryError()
        if self.input_is_pull(0):
            self.task = self.add_task(True)
            self.signal = self.upstream_empty_signal(0)
            self.signal.add_listener(self.task)
            self.retry = self.add_timer(self._retry)

    def _open_socket(self) -> int:
        cdef int fd = open_packet_socket(self, self.devname)
        try:
            if set_int_option(fd, SOL_PACKET, PACKET_VNET_HDR, 1) < 0:
                raise os_error(self, f"{self.devname}: PACKET_VNET_HDR is not supported", errno)
            if self.qdisc_bypass and set_int_option(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1) < 0:
                raise os_error(self, f"{self.devname}: QDISC_BYPASS is not supported", errno)
            # protocol 0: a send-only socket, so the kernel never queues received frames on it
            bind_packet_socket(self, fd, self.ifindex, self.devname, 0)
        except BaseException:
            c_close(fd)
            raise
        return fd

    def _map_ring(self):
        cdef tpacket_req req
        cdef void* p
        cdef uint32_t need = TPACKET2_DATA_OFFSET + VNET_HDR_LEN + self.max_len + VLAN_HEADER_LEN
        self.frame_size = 2048
        while self.frame_size < need:
            self.frame_size <<= 1
        self.ring_capacity = self.frame_size - TPACKET2_DATA_OFFSET - VNET_HDR_LEN
        if set_int_option(self.fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2) < 0:
            raise os_error(self, f"{self.devname}: TPACKET_V2 rings are not supported", errno)
        # a malformed frame is skipped instead of stopping the ring
        set_int_option(self.fd, SOL_PACKET, PACKET_LOSS, 1)
        memset(&req, 0, sizeof(req))
        req.tp_frame_size = self.frame_size
        req.tp_frame_nr = self.frame_count
        req.tp_block_size = max(self.frame_size, 1 << 16)
        req.tp_block_nr = (self.frame_count * self.frame_size) // req.tp_block_size
        if req.tp_block_nr == 0:
            req.tp_block_nr = 1
            req.tp_frame_nr = req.tp_block_size // self.frame_size
            self.frame_count = req.tp_frame_nr
        if setsockopt(self.fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)) < 0:
            raise os_error(self, f"{self.devname}: cannot make a {self.frame_count}-frame TX ring", errno)
        self.ring_bytes = <size_t>req.tp_block_size * req.tp_block_nr
        p = mmap(NULL, self.ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, self.fd, 0)
        if p == MAP_FAILED:
            self.ring_bytes = 0
            raise os_error(self, f"{self.devname}: cannot map the TX ring", errno)
        self.ring = <uint8_t*>p
        self.frame_mask = self.frame_count - 1
        self.head = 0

    # ---- the send path ---------------------------------------------------------
    cdef inline tpacket2_hdr* _slot(self, uint32_t i) noexcept:
        return <tpacket2_hdr*>(self.ring + <size_t>(i & self.frame_mask) * self.frame_size)

    cdef inline bint _fits_device(self, const Anno* a) noexcept:
        if a.len < ETHER_HEADER_LEN:
            return False
        if a.gso_size != 0:
            return True                  # the kernel cuts it to the MTU
        if a.len <= self.max_len:
            return True
        # one VLAN tag beyond the MTU is allowed, as the kernel allows it
        return a.len <= self.max_len + VLAN_HEADER_LEN and load_be16(a.data + 12) == ETHERTYPE_VLAN

    cdef inline void _fill_vnet(self, virtio_net_hdr* vh, const Anno* a) noexcept:
        cdef uint32_t start
        memset(vh, 0, VNET_HDR_LEN)
        if a.gso_size == 0:
            # hdr_len is how much of the frame the kernel copies into the new
            # skb's own buffer; the rest would stay in the ring as zero-copy
            # page fragments, which a veth into another namespace must copy
            # again into freshly allocated pages (skb_copy_ubufs), costing more.
            vh.hdr_len = <uint16_t>a.len
        if a.offload & OFFLOAD_CSUM_PARTIAL:
            start = a.csum_start - a.headroom      # csum_start counts from the buffer's first byte
            vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM
            vh.csum_start = <uint16_t>start
            vh.csum_offset = a.csum_offset
            if a.gso_size != 0:
                vh.hdr_len = <uint16_t>(start + a.csum_offset + 2)
        if a.gso_size != 0:
            vh.gso_type = a.gso_type
            vh.gso_size = a.gso_size

    cdef int _room(self, int want) noexcept:
        """Free ring slots from the head, up to want."""
        cdef int n = 0
        while n < want and load_acquire(&self._slot(self.head + n).tp_status) == TP_STATUS_AVAILABLE:
            n += 1
        return n

    cdef int _kick(self) except -1:
        """Ask the kernel to send what the ring holds; a device that is down
        or gone gets the pending frames back as drops."""
        cdef int err
        cdef uint32_t i
        cdef tpacket2_hdr* h
        if send(self.fd, NULL, 0, MSG_DONTWAIT) >= 0:
            return 0
        err = errno
        if err == EAGAIN or err == ENOBUFS or err == EINTR:
            return 0                     # the kernel sends them at the next kick
        self._note_error(err)
        # Nothing else sends on this socket, so frames still waiting are ours to take back.
        for i in range(self.frame_count):
            h = self._slot(i)
            if load_acquire(&h.tp_status) == TP_STATUS_SEND_REQUEST:
                store_release(&h.tp_status, TP_STATUS_AVAILABLE)
                self.drops += 1
                self.count -= 1
        return 0

    cdef int _send_big(self, const Anno* a) except -1:
        """A frame larger than a ring slot (GSO) goes whole through a plain sendmsg."""
        cdef virtio_net_hdr vh
        cdef iovec iov[2]
        cdef msghdr msg
        self._fill_vnet(&vh, a)
        iov[0].iov_base = &vh
        iov[0].iov_len = VNET_HDR_LEN
        iov[1].iov_base = a.data
        iov[1].iov_len = a.len
        memset(&msg, 0, sizeof(msg))
        msg.msg_iov = iov
        msg.msg_iovlen = 2
        if sendmsg(self.big_fd, &msg, MSG_DONTWAIT) < 0:
            self._note_error(errno)
            return 1
        return 0

    cdef int _send_ring(self, Batch* b, Batch* failed) except -1:
        """Copy b's packets into the ring and kick once; packets that could
        not go are moved to `failed`. b keeps the ones sent."""
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef tpacket2_hdr* h
        cdef uint8_t* slot_data
        cdef uint32_t i, k = 0, x, queued = 0
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            if not self._fits_device(a):
                failed.idx[failed.n] = x
                failed.n += 1
                continue
            if a.len > self.ring_capacity:
                if queued:
                    self._kick()         # keep the frames in order
                    queued = 0
                if self._send_big(a) != 0:
                    failed.idx[failed.n] = x
                    failed.n += 1
                    continue
                self.count += 1
                b.idx[k] = x
                k += 1
                continue
            h = self._slot(self.head)
            if load_acquire(&h.tp_status) != TP_STATUS_AVAILABLE:
                failed.idx[failed.n] = x
                failed.n += 1
                continue
            slot_data = <uint8_t*>h + TPACKET2_DATA_OFFSET
            self._fill_vnet(<virtio_net_hdr*>slot_data, a)
            memcpy(slot_data + VNET_HDR_LEN, a.data, a.len)
            h.tp_len = a.len + VNET_HDR_LEN
            store_release(&h.tp_status, TP_STATUS_SEND_REQUEST)
            self.head += 1
            queued += 1
            self.count += 1
            b.idx[k] = x
            k += 1
        b.n = k
        if queued:
            self._kick()
        return 0

    cdef int _send_mmsg(self, Batch* b, Batch* failed) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint32_t i, n = 0, x, k
        cdef int sent, err
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            if not self._fits_device(a):
                failed.idx[failed.n] = x
                failed.n += 1
                continue
            self._fill_vnet(&self.vnet_hdrs[n], a)
            self.iovs[2 * n].iov_base = &self.vnet_hdrs[n]
            self.iovs[2 * n].iov_len = VNET_HDR_LEN
            self.iovs[2 * n + 1].iov_base = a.data
            self.iovs[2 * n + 1].iov_len = a.len
            self.msgs[n].msg_hdr.msg_iov = &self.iovs[2 * n]
            self.msgs[n].msg_hdr.msg_iovlen = 2
            b.idx[n] = x
            n += 1
        k = 0
        while k < n:
            sent = sendmmsg(self.fd, &self.msgs[k], n - k, MSG_DONTWAIT)
            if sent <= 0:
                err = errno
                if err != EAGAIN and err != ENOBUFS and err != EINTR:
                    self._note_error(err)
                break
            k += sent
        for i in range(k, n):
            failed.idx[failed.n] = b.idx[i]
            failed.n += 1
        b.n = k
        self.count += k
        return 0

    cdef int _send(self, Batch* b) except -1:
        """Send b's packets: sent ones out of output 0, the rest out of output 1
        (or freed, counted as drops)."""
        cdef PacketPool pool = self.pool
        cdef Batch* failed = pool.batch_get()
        try:
            if self.method == SEND_RING:
                self._send_ring(b, failed)
            else:
                self._send_mmsg(b, failed)
            self.drops += failed.n
            self.emit_or_free(0, b)
            self.emit_or_free(1, failed)
        finally:
            pool.batch_put(failed)
        b.n = 0
        return 0

    cdef int push(self, int port, Batch* b) except -1:
        return self._send(b)

    cdef int run_task(self, Task task) except -1:
        cdef PacketPool pool = self.pool
        cdef Batch* b
        cdef int want, room, sent = 0
        if self.waiting:
            return 0
        while sent < self.burst:
            want = self.burst - sent
            if want > BATCH_MAX:
                want = BATCH_MAX
            if self.method == SEND_RING:
                room = self._room(want)
                if room == 0:
                    self._wait_for_room()
                    return sent
                want = room
            b = pool.batch_get()
            try:
                self.pulls += 1
                if self.input_pull(0, b, want) == 0:
                    break
                sent += b.n
                self._send(b)
            finally:
                pool.batch_put(b)
        if sent or self.signal.is_active():
            task.reschedule()
        return sent

    def _wait_for_room(self):
        # The kernel makes the socket writable when it hands slots back; the
        # timer is a backstop should that wakeup be missed.
        self.waiting = True
        self.add_select(self.fd, EPOLL_OUT, self._writable)
        self.retry.schedule_after(RETRY_NS)

    def _writable(self, int events):
        if events & EPOLL_ERR:
            err = socket_error(self.fd)
            if err:
                self._note_error(err)
        self._retry()

    def _retry(self):
        if self.waiting:
            self.remove_select(self.fd)
            self.retry.unschedule()
            self.waiting = False
            self.task.reschedule()

    cdef int _note_error(self, int err) except -1:
        self.send_errors += 1
        self.last_error = _os.strerror(err)
        return 0

    # ---- cold ------------------------------------------------------------------
    def _reset(self, value=""):
        self.count = 0
        self.drops = 0
        self.pulls = 0
        self.send_errors = 0

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_read_handler("drops", lambda: self.drops)
        self.add_read_handler("pulls", lambda: self.pulls)
        self.add_read_handler("signal", lambda: self.signal.is_active() if self.signal is not None else False)
        self.add_read_handler("errors", lambda: f"{self.send_errors}" + (f" ({self.last_error})" if self.last_error else ""))
        self.add_write_handler("reset_counts", self._reset)

    def cleanup(self):
        if self.fd >= 0 and self.router is not None:
            self.remove_select(self.fd)
        if self.ring != NULL:
            munmap(self.ring, self.ring_bytes)
            self.ring = NULL
        for fd in (self.fd, self.big_fd):
            if fd >= 0:
                c_close(fd)
        self.fd = self.big_fd = -1
