# EXPORT_ELEMENT FromDevice

_FANOUT_MODES = {"HASH": PACKET_FANOUT_HASH, "LB": PACKET_FANOUT_LB, "CPU": PACKET_FANOUT_CPU,
                 "ROLLOVER": PACKET_FANOUT_ROLLOVER, "RND": PACKET_FANOUT_RND, "QM": PACKET_FANOUT_QM}


DEFAULT_RX_RING_BYTES = 32 << 20


cdef class FromDevice(Receiver):
    """FromDevice(DEVNAME [, PROMISC, SNAPLEN, KEYWORDS])

    Reads packets from a network device (user level, Linux).

    Ports: no inputs; 1 or 2 outputs. Processing: push.

    Reads the frames the device named DEVNAME receives through an AF_PACKET
    socket with a TPACKET_V3 receive ring shared with the kernel. The kernel
    fills a block of the ring and wakes the router (no polling while idle);
    each frame is copied into a packet buffer and the block is handed back to
    the kernel at once, so packets waiting in queues never hold ring memory.
    Emits each packet with its Ethernet header, the MAC header annotation,
    the packet type annotation (HOST, BROADCAST, MULTICAST, OTHERHOST,
    OUTGOING), the device's interface index and, unless TIMESTAMP is false,
    the kernel's receive timestamp.

    As in Click, FromDevice behaves like a packet sniffer by default: the
    kernel also processes the frames. With SNIFFER false it installs an
    ingress filter on the device (a tc clsact rule, removed at cleanup), so
    the kernel stack no longer sees the frames FromDevice reads: what a
    router needs when clickpy, not the kernel, answers ARP and forwards.
    FromDevice does not see frames a ToDevice sends on the same device unless
    OUTBOUND is true.

    Offloads: frames that a local stack sends through a veth or tap often
    carry a partial TCP/UDP checksum (the kernel expected hardware to finish
    it) and may be GSO frames of up to 64 KiB with a single set of headers.
    FromDevice reads them with their virtio-net header and, by default,
    completes the checksums and cuts GSO frames into ordinary packets of the
    original segment size (with correct IP lengths, IDs, TCP sequence numbers
    and flags, and checksums), so a router between default-configured veths
    needs no `ethtool -K ... off`. With OFFLOAD true they are passed on
    whole instead, with the checksum-offload and GSO annotations set, for a
    ToDevice (or KernelTap) to hand to the kernel as they are.

    VLAN tags: the kernel takes the outer VLAN tag out of every frame before
    packet sockets see it. FromDevice puts it back into the frame, or with
    VLAN_ANNO true leaves it out and stores the TCI in the VLAN annotation
    (VLAN_TCI_ANNO, as VLANDecap would).

    Fanout: with FANOUT set, the socket joins that PACKET_FANOUT group, so
    several FromDevice elements (in different processes, as `clickpy run -j
    N` makes) share the device's traffic, spread by a symmetric flow hash
    (both directions of a flow reach the same member). ARP frames are not
    spread but reach every member, so each one's ARP table stays complete.
    Under `clickpy run -j N` FromDevice joins a group by itself.

    Keywords:
      PROMISC        Boolean. Put the device in promiscuous mode while running (default false).
      SNAPLEN        Integer. Bytes of each frame to keep; longer frames are
                     truncated and their EXTRA_LENGTH annotation set, and offload
                     work (checksums, GSO) is not done on them (default 65536).
      SNIFFER        Boolean. Let the kernel stack process the frames too (default true).
      OUTBOUND       Boolean. Also emit frames the host sends on the device (default false).
      BURST          Integer. Most frames to read per scheduling (default 256).
      TIMESTAMP      Boolean. Set the timestamp annotation (default true).
      FORCE_IP       Boolean. Emit only IPv4/IPv6 frames on output 0 (network header
                     annotation set); others go to output 1, or are dropped (default false).
      OFFLOAD        Boolean. Pass partial checksums and GSO frames on as they are,
                     annotated, instead of completing and segmenting them (default false).
      VLAN_ANNO      Boolean. Keep a VLAN tag the kernel took out as the VLAN
                     annotation instead of putting it back into the frame (default false).
      BLOCK_SIZE     Integer. Bytes per ring block, a power of two of at least
                     128 KiB so 64 KiB GSO frames fit (default 131072).
      BLOCK_COUNT    Integer. Ring blocks (default: as many as make a 32 MiB ring,
                     256 of the default size; on a machine with less than 1 GiB of
                     memory, as many as fit in 1/32 of it, at least 2). The kernel
                     hands over a block when it is full or BLOCK_TIMEOUT old, so
                     the ring holds at least BLOCK_COUNT x BLOCK_TIMEOUT of
                     traffic (256 ms by default): how long the router may be
                     kept off the CPU without losing frames.
      BLOCK_TIMEOUT  Time. Longest a partly filled block waits for more frames
                     before the kernel hands it over, in milliseconds resolution (default 1ms).
      FANOUT         Integer 0-65535. PACKET_FANOUT group to join (default none).
      FANOUT_MODE    HASH (symmetric flow hash), LB, CPU, ROLLOVER, RND or QM (default HASH).
      METHOD         LINUX (the only method; PCAP is accepted and means the same).

    Handlers:
      count (read)          packets emitted
      kernel_drops (read)   frames the kernel dropped because the ring was full
      drops (read)          frames dropped because the packet pool was empty
      offload (read)        checksums completed, GSO frames and segments, unusable offload frames
      errors (read)         socket errors seen (the device went down or away), and the last one
      encap (read)          ETHER
      reset_counts (write)  zero the counters

    Example:
      FromDevice(eth0, SNIFFER false) -> Queue -> ToDevice(eth1);
    """

    port_count = "0/1-2"
    processing = "h/h"
    configure_phase = 40

    cdef readonly str devname
    cdef int fd, arp_fd
    cdef uint8_t* ring
    cdef size_t ring_bytes
    cdef uint32_t block_size, block_count, block_timeout_ms
    cdef uint32_t next_block
    cdef tpacket_block_desc* block      # the user-owned block being read, or NULL
    cdef uint8_t* frame                 # its next frame
    cdef uint32_t frames_left
    cdef int ifindex
    cdef bint promisc, sniffer, outbound, vlan_anno, timestamp
    cdef int burst
    cdef uint32_t snaplen
    cdef int fanout_id, fanout_mode
    cdef uint64_t kernel_packets_total, kernel_drops_total
    cdef readonly uint64_t socket_errors
    cdef str last_error
    cdef Task task
    cdef object ingress

    def __cinit__(self):
        self.fd = -1
        self.arp_fd = -1
        self.fanout_id = -1
        self.last_error = ""

    def configure(self, args):
        self.devname = args.read_mp("DEVNAME", STRING)
        self.promisc = args.read_p("PROMISC", BOOL, False)
        self.snaplen = args.read_p("SNAPLEN", Int(14, 1 << 20), 65536)
        self.sniffer = args.read("SNIFFER", BOOL, True)
        self.outbound = args.read("OUTBOUND", BOOL, False)
        self.burst = args.read("BURST", Int(1, 1 << 30), 256)
        self.timestamp = args.read("TIMESTAMP", BOOL, True)
        self.force_ip = args.read("FORCE_IP", BOOL, False)
        self.keep_offload = args.read("OFFLOAD", BOOL, False)
        self.vlan_anno = args.read("VLAN_ANNO", BOOL, False)
        # many small blocks rather than few large ones: a block is handed over
        # whole, often part-filled (BLOCK_TIMEOUT), so the count sets how long
        # the ring can wait for a busy machine to run the router. 256 ms: at
        # 0.4 Mpps on a shared 2-core machine, 64 (the first default) lost
        # frames whenever other tenants kept the router off the CPU that long.
        block_size = args.read("BLOCK_SIZE", Int(1, 1 << 30), 1 << 17)
        block_count = args.read("BLOCK_COUNT", Int(2, 1 << 16), None)
        timeout = args.read("BLOCK_TIMEOUT", SECONDS, 0.001)
        fanout = args.read("FANOUT", Int(0, 65535), None)
        mode = args.read("FANOUT_MODE", Keyword(*_FANOUT_MODES), "HASH")
        args.read("METHOD", Keyword("LINUX", "PCAP"), "LINUX")     # one method here; Click's PCAP configs run as they are
        if block_size < (1 << 17) or block_size & (block_size - 1):
            raise self.error("BLOCK_SIZE must be a power of two of at least 131072")
        if not 0 < timeout <= 60:
            raise self.error("BLOCK_TIMEOUT must be between 1ms and 60s")
        self.block_size = block_size
        if block_count is None:
            block_count = max(2, ring_bytes_for_memory(DEFAULT_RX_RING_BYTES) // block_size)
        self.block_count = block_count
        self.block_timeout_ms = max(1, int(round(timeout * 1000)))
        self.fanout_id = -1 if fanout is None else fanout
        self.fanout_mode = _FANOUT_MODES[mode]

    def initialize(self):
        self.ifindex = device_index(self, self.devname)
        self._join_workers()
        self.fd = open_packet_socket(self, self.devname)
        if set_int_option(self.fd, SOL_PACKET, PACKET_VERSION, TPACKET_V3) < 0:
            raise os_error(self, f"{self.devname}: TPACKET_V3 rings are not supported", errno)
        if set_int_option(self.fd, SOL_PACKET, PACKET_VNET_HDR, 1) < 0:
            raise os_error(self, f"{self.devname}: PACKET_VNET_HDR is not supported", errno)
        self._map_ring()
        if not self.outbound:
            # the kernel then does not even copy our own transmissions to us
            set_int_option(self.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        if self.fanout_id >= 0 and self.fanout_mode == PACKET_FANOUT_HASH:
            attach_ether_type_filter(self, self.fd, ETH_P_ARP, False)
        bind_packet_socket(self, self.fd, self.ifindex, self.devname, ETH_P_ALL)
        if self.fanout_id >= 0:
            self._join_fanout()
        if self.promisc:
            self._set_promiscuous(self.fd)
        self.task = self.add_task(True)
        self.add_select(self.fd, EPOLL_IN, self._selected)
        if self.arp_fd >= 0:
            self.add_select(self.arp_fd, EPOLL_IN, self._selected)
        if not self.sniffer:
            self._block_kernel_stack()
        if not device_is_up(self.devname):
            self.warn(f"device '{self.devname}' is down")

    def _join_workers(self):
        worker = current_worker()
        if worker is not None and worker.count > 1 and self.fanout_id < 0:
            self.fanout_id = worker.fanout_group(self.devname)

    def _map_ring(self):
        cdef tpacket_req3 req
        cdef void* p
        memset(&req, 0, sizeof(req))
        req.tp_block_size = self.block_size
        req.tp_block_nr = self.block_count
        req.tp_frame_size = 2048          # V3 frames are variable; this only sizes the checks
        req.tp_frame_nr = (self.block_size // 2048) * self.block_count
        req.tp_retire_blk_tov = self.block_timeout_ms
        if setsockopt(self.fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0:
            raise os_error(self, f"{self.devname}: cannot make a {self.block_count} x {self.block_size}-byte "
                                 f"receive ring", errno)
        self.ring_bytes = <size_t>self.block_size * self.block_count
        p = mmap(NULL, self.ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, self.fd, 0)
        if p == MAP_FAILED:
            self.ring_bytes = 0
            raise os_error(self, f"{self.devname}: cannot map the receive ring", errno)
        self.ring = <uint8_t*>p

    def _join_fanout(self):
        cdef int arg = (self.fanout_id & 0xffff) | ((self.fanout_mode | PACKET_FANOUT_FLAG_DEFRAG) << 16)
        if setsockopt(self.fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(int)) < 0:
            raise os_error(self, f"{self.devname}: cannot join fanout group {self.fanout_id}", errno)
        if self.fanout_mode == PACKET_FANOUT_HASH:
            # ARP goes to every member: a plain socket that takes only ARP
            self.arp_fd = open_packet_socket(self, self.devname)
            attach_ether_type_filter(self, self.arp_fd, ETH_P_ARP, True)
            if not self.outbound:
                set_int_option(self.arp_fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            bind_packet_socket(self, self.arp_fd, self.ifindex, self.devname, ETH_P_ALL)

    def _set_promiscuous(self, int fd):
        # a membership, not IFF_PROMISC: the kernel counts it and drops it when the socket closes
        cdef packet_mreq mr
        memset(&mr, 0, sizeof(mr))
        mr.mr_ifindex = self.ifindex
        mr.mr_type = PACKET_MR_PROMISC
        if setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0:
            raise os_error(self, f"{self.devname}: cannot enable promiscuous mode", errno)

    def _block_kernel_stack(self):
        from clickpy.elements.linux.ingress import IngressDrop, IngressError
        self.ingress = IngressDrop(self.devname)     # cleanup undoes whatever part got installed
        try:
            self.ingress.install()
        except IngressError as e:
            raise self.error(f"SNIFFER false: {e}") from None

    def _selected(self, int events):
        if events & EPOLL_ERR:
            self._note_socket_error()
        self.task.reschedule()

    def _note_socket_error(self):
        for fd in (self.fd, self.arp_fd):
            if fd >= 0:
                err = socket_error(fd)
                if err:
                    self.socket_errors += 1
                    self.last_error = _os.strerror(err)

    # ---- the receive path ----------------------------------------------------
    cdef inline tpacket_block_desc* _block_at(self, uint32_t i) noexcept:
        return <tpacket_block_desc*>(self.ring + <size_t>i * self.block_size)

    cdef inline void _release_block(self) noexcept:
        store_release(&self.block.hdr.bh1.block_status, TP_STATUS_KERNEL)
        self.block = NULL
        self.next_block += 1
        if self.next_block == self.block_count:
            self.next_block = 0

    cdef inline bint _block_ready(self) noexcept:
        return (load_acquire(&self._block_at(self.next_block).hdr.bh1.block_status) & TP_STATUS_USER) != 0

    cdef int _take_frame(self, uint8_t* hp, Batch* b) except -1:
        cdef tpacket3_hdr* h = <tpacket3_hdr*>hp
        cdef sockaddr_ll* sll = <sockaddr_ll*>(hp + TPACKET3_HDRLEN_ALIGNED)
        cdef const uint8_t* mac = hp + h.tp_mac
        cdef const virtio_net_hdr* vh = <const virtio_net_hdr*>(mac - VNET_HDR_LEN)
        cdef uint32_t status = h.tp_status, snap = h.tp_snaplen, wire = h.tp_len, length, x
        cdef uint16_t tpid
        cdef FrameMeta meta
        cdef Anno* a
        cdef PacketPool pool = self.pool
        if sll.sll_pkttype == PACKET_OUTGOING and not self.outbound:
            return 0
        meta.timestamp = (<uint64_t>h.tp_sec * 1000000000ULL + h.tp_nsec) if self.timestamp else 0
        meta.ifindex = self.ifindex
        meta.packet_type = sll.sll_pkttype
        meta.offload = OFFLOAD_CSUM_VALID if (status & TP_STATUS_CSUM_VALID) or (vh.flags & VIRTIO_NET_HDR_F_DATA_VALID) else 0
        meta.device_vlan = 0
        meta.tag = 0
        meta.raw_ip = False
        if status & TP_STATUS_VLAN_VALID:
            tpid = h.hv1.tp_vlan_tpid if status & TP_STATUS_VLAN_TPID_VALID else ETHERTYPE_VLAN
            if self.vlan_anno:
                meta.offload |= OFFLOAD_VLAN
                meta.device_vlan = <uint16_t>h.hv1.tp_vlan_tci
            else:
                meta.tag = (<uint32_t>tpid << 16) | (h.hv1.tp_vlan_tci & 0xffff)
        if ((vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) or vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) \
                and snap == wire and snap <= self.snaplen:
            return self.take_offloaded(b, mac, snap, vh, &meta)
        # an ordinary frame, or one cut short by SNAPLEN or the ring (delivered as it is, like a sniffer)
        length = snap if snap < self.snaplen else self.snaplen
        x = pool.alloc(length + (VLAN_HEADER_LEN if meta.tag else 0))
        if x == NO_PACKET:
            self.drops += 1
            return 0
        a = &pool.anno[x]
        copy_frame(a.data, mac, length, meta.tag)
        apply_meta(a, &meta)
        if wire > length:
            (<uint32_t*>&a.user[EXTRA_LENGTH_ANNO])[0] = wire - length
        b.idx[b.n] = x
        b.n += 1
        return 0

    cdef int _receive(self, int budget) except -1:
        """Copy up to `budget` frames out of the ring and push them; returns frames taken."""
        cdef PacketPool pool = self.pool
        cdef Batch* b = pool.batch_get()
        cdef tpacket_block_desc* blk
        cdef uint32_t next_offset
        cdef int frames = 0
        try:
            while frames < budget:
                if self.frames_left == 0:
                    if self.block != NULL:
                        self._release_block()
                    if not self._block_ready():
                        break
                    blk = self._block_at(self.next_block)
                    self.block = blk
                    self.frames_left = blk.hdr.bh1.num_pkts
                    self.frame = <uint8_t*>blk + blk.hdr.bh1.offset_to_first_pkt
                    continue
                next_offset = (<tpacket3_hdr*>self.frame).tp_next_offset
                self._take_frame(self.frame, b)
                self.frame += next_offset
                self.frames_left -= 1
                frames += 1
                if b.n >= BATCH_MAX - 1:
                    self.emit(b)
            if self.frames_left == 0 and self.block != NULL:
                self._release_block()
            if b.n:
                self.emit(b)
        finally:
            pool.batch_put(b)
        return frames

    cdef int _receive_arp(self) except -1:
        """Read the ARP frames waiting on the fanout group's ARP socket."""
        cdef PacketPool pool = self.pool
        cdef Batch* b = pool.batch_get()
        cdef FrameMeta meta
        cdef uint32_t x
        cdef ssize_t n
        cdef Anno* a
        memset(&meta, 0, sizeof(meta))
        meta.ifindex = self.ifindex
        try:
            while b.n < BATCH_MAX:
                x = pool.alloc(BUF_SIZE - HEADROOM)
                if x == NO_PACKET:
                    self.drops += 1
                    break
                a = &pool.anno[x]
                n = recv(self.arp_fd, a.data, a.len, MSG_DONTWAIT)
                if n <= 0:
                    pool.free(x)
                    break
                a.len = <uint32_t>n
                apply_meta(a, &meta)
                a.packet_type = PACKET_BROADCAST if a.data[0] & 1 else PACKET_HOST
                if self.timestamp:
                    a.timestamp = realtime_ns()
                b.idx[b.n] = x
                b.n += 1
            if b.n:
                self.emit(b)
        finally:
            pool.batch_put(b)
        return 0

    cdef int run_task(self, Task task) except -1:
        cdef int frames
        if self.arp_fd >= 0:
            self._receive_arp()
        frames = self._receive(self.burst)
        if frames >= self.burst or self.frames_left or self._block_ready():
            task.reschedule()
        return frames

    # ---- cold ------------------------------------------------------------------
    def _read_kernel_stats(self):
        cdef tpacket_stats_v3 st
        cdef socklen_t n = sizeof(st)
        if self.fd >= 0 and getsockopt(self.fd, SOL_PACKET, PACKET_STATISTICS, &st, &n) == 0:
            # reading the statistics resets them in the kernel
            self.kernel_packets_total += st.tp_packets
            self.kernel_drops_total += st.tp_drops

    def _kernel_drops(self):
        self._read_kernel_stats()
        return self.kernel_drops_total

    def _write_reset(self, value=""):
        self._read_kernel_stats()
        self.kernel_drops_total = 0
        self.kernel_packets_total = 0
        self._reset_counts()

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_read_handler("kernel_drops", self._kernel_drops)
        self.add_read_handler("drops", lambda: self.drops)
        self.add_read_handler("offload", self._offload_text)
        self.add_read_handler("errors", lambda: f"{self.socket_errors}" + (f" ({self.last_error})" if self.last_error else ""))
        self.add_read_handler("encap", lambda: "ETHER")
        self.add_write_handler("reset_counts", self._write_reset)

    def cleanup(self):
        if self.ingress is not None:
            try:
                self.ingress.remove()
            finally:
                self.ingress = None
        for fd in (self.fd, self.arp_fd):
            if fd >= 0 and self.router is not None:
                self.remove_select(fd)
        if self.ring != NULL:
            munmap(self.ring, self.ring_bytes)
            self.ring = NULL
            self.block = NULL
            self.frames_left = 0
        if self.fd >= 0:
            c_close(self.fd)
            self.fd = -1
        if self.arp_fd >= 0:
            c_close(self.arp_fd)
            self.arp_fd = -1
