# EXPORT_ELEMENT FastUDPFlows

cdef extern from *:
    """
    #define fastudpflows_prefetch(p) __builtin_prefetch((p))
    """
    void prefetch "fastudpflows_prefetch"(const void* p) noexcept nogil

cdef class FastUDPFlows(Element):
    """FastUDPFlows(RATE, LIMIT, LENGTH, SRCETH, SRCIP, DSTETH, DSTIP, FLOWS, FLOWSIZE [, CHECKSUM, ACTIVE, STOP])

    Creates UDP/IP/Ethernet packets of many flows (a benchmark tool).

    Ports: no inputs; 1 output.
    Processing: agnostic (Click's is pull; in push a task sends up to a batch each time it runs).

    Keeps FLOWS flows of LENGTH-byte packets (60 at least) from SRCETH/SRCIP
    to DSTETH/DSTIP, each with random source and destination ports, and
    sends LIMIT packets (negative: no limit) at RATE packets per second
    (0: as fast as it can). Each packet belongs to a flow chosen at random;
    after FLOWSIZE packets a flow gets new random ports. The UDP checksum is
    computed when CHECKSUM is true (default); packets carry the network
    header and destination address annotations. With STOP (a clickpy
    extension), the driver stops once LIMIT packets are sent. Every packet
    is an independent buffer.

    Handlers:
      count (read)    packets sent
      rate (read/write)  after LIMIT packets, the rate they were sent at; writing sets RATE
      reset (write)   count from 0 again
      active (write)  start or stop sending
      limit (write)   set LIMIT
      length (read/write)  the packet length

    Example:
      FastUDPFlows(0, 1000000, 64, 0:0:0:0:0:1, 10.0.0.1, 0:0:0:0:0:2, 10.0.0.2, 100000, 1000000000)
        -> Strip(14) -> ...
    """

    port_count = "0/1"
    processing = "a/a"

    cdef uint8_t* template
    cdef uint32_t length
    cdef uint32_t nflows
    cdef uint32_t flowsize
    cdef uint32_t* ports            # per flow: source and destination port, as the packet holds them
    cdef uint16_t* sums             # per flow: the UDP checksum with those ports
    cdef uint32_t* sent             # per flow: packets since its ports changed
    cdef uint16_t base_sum          # the UDP checksum with both ports 0 (host order)
    cdef readonly int64_t limit
    cdef readonly uint64_t count
    cdef uint64_t rate
    cdef bint active, stop, checksum, ended
    cdef uint32_t rng
    cdef uint64_t first_ns, last_ns, start_ns, rate_base
    cdef bytes src_eth, dst_eth
    cdef uint32_t src_ip, dst_ip
    cdef Task task
    cdef object wakeup

    def __dealloc__(self):
        free(self.template)
        free(self.ports)
        free(self.sums)
        free(self.sent)

    def configure(self, args):
        self.rate = args.read_mp("RATE", UINT)
        limit = args.read_mp("LIMIT", INT)
        length = args.read_mp("LENGTH", INT)
        self.src_eth = args.read_mp("SRCETH", ETHERADDR)
        self.src_ip = args.read_mp("SRCIP", IPADDR)
        self.dst_eth = args.read_mp("DSTETH", ETHERADDR)
        self.dst_ip = args.read_mp("DSTIP", IPADDR)
        nflows = args.read_mp("FLOWS", UINT)
        self.flowsize = args.read_mp("FLOWSIZE", UINT)
        self.checksum = args.read_p("CHECKSUM", BOOL, True)
        self.active = args.read_p("ACTIVE", BOOL, True)
        self.stop = args.read_p("STOP", BOOL, False)
        if nflows < 1:
            raise self.error("FLOWS must be at least 1")
        if length < 60:
            self.warn("packet length < 60, defaulting to 60")
            length = 60
        if length > 1500 + 14:
            raise self.error("LENGTH must be at most 1514")
        self.limit = limit
        self.length = length
        self.nflows = nflows

    def initialize(self):
        cdef uint32_t i
        self.rng = <uint32_t>int.from_bytes(os.urandom(4), "little") | 1
        self._build()
        if self.output_is_push(0):
            self.task = self.add_task(self.active)
            self.wakeup = self.add_timer(lambda: self.task.schedule())

    def _build(self):
        cdef uint32_t i
        cdef uint8_t* ip
        cdef uint32_t n = self.nflows
        free(self.template)
        free(self.ports)
        free(self.sums)
        free(self.sent)
        self.template = <uint8_t*>calloc(self.length + COPY_SLACK, 1)
        self.ports = <uint32_t*>calloc(n, sizeof(uint32_t))
        self.sums = <uint16_t*>calloc(n, sizeof(uint16_t))
        self.sent = <uint32_t*>calloc(n, sizeof(uint32_t))
        if self.template == NULL or self.ports == NULL or self.sums == NULL or self.sent == NULL:
            raise MemoryError()
        header = self.dst_eth + self.src_eth + b"\x08\x00"
        memcpy(self.template, <const uint8_t*>header, 14)
        ip = self.template + 14
        ip[0] = 0x45
        store_be16(ip + 2, self.length - 14)
        ip[8] = 250
        ip[9] = IP_PROTO_UDP
        store_be32(ip + 12, self.src_ip)
        store_be32(ip + 16, self.dst_ip)
        ip_set_checksum(ip, 20)
        store_be16(ip + 24, self.length - 34)
        self.base_sum = transport_checksum(ip, ip + 20, self.length - 34, IP_PROTO_UDP)
        for i in range(n):
            self._new_ports(i)

    cdef void _new_ports(self, uint32_t flow) noexcept:
        """Random ports for a flow (Click: 0 to 65534), and its checksum."""
        cdef uint16_t sport = <uint16_t>((self._random() >> 2) % 0xFFFF)
        cdef uint16_t dport = <uint16_t>((self._random() >> 2) % 0xFFFF)
        cdef uint16_t s = 0
        cdef uint8_t p[4]
        store_be16(p, sport)
        store_be16(p + 2, dport)
        memcpy(&self.ports[flow], p, 4)
        if self.checksum:
            s = csum_update16(csum_update16(self.base_sum, 0, sport), 0, dport)
            if s == 0:
                s = 0xFFFF
        self.sums[flow] = s
        self.sent[flow] = 0

    cdef inline uint32_t _random(self) noexcept:
        cdef uint32_t x = self.rng
        x ^= x << 13
        x ^= x >> 17
        x ^= x << 5
        self.rng = x
        return x

    cdef int _fill(self, Batch* b, int n, uint64_t now) except -1:
        """n packets of random flows into b (fewer if the pool runs dry)."""
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint32_t flow, length = self.length
        cdef uint8_t* d
        cdef uint32_t flows[BATCH_MAX]
        cdef int i
        n = pool.alloc_batch(b, n, length, NULL, now)      # length <= 1514: small buffers
        # choose the flows first, so the reads of their state overlap
        for i in range(n):
            flows[i] = self._random() % self.nflows
            prefetch(&self.ports[flows[i]])
            prefetch(&self.sent[flows[i]])
        for i in range(n):
            a = &anno[b.idx[i]]
            d = a.data
            copy_blocks(d, self.template, length)
            flow = flows[i]
            if self.sent[flow] >= self.flowsize:
                self._new_ports(flow)
            self.sent[flow] += 1
            memcpy(d + 34, &self.ports[flow], 4)
            store_be16(d + 40, self.sums[flow])
            a.mac_off = <int32_t>a.headroom
            a.net_off = <int32_t>a.headroom + 14
            a.trans_off = <int32_t>a.headroom + 34
            memcpy(&a.user[DST_IP_ANNO], d + 30, 4)
        if n:
            if self.count == 0:
                self.first_ns = now
            self.count += <uint64_t>n
            if self.limit >= 0 and <int64_t>self.count >= self.limit:
                self.last_ns = now
        return n

    cdef int _quota(self, int n, uint64_t now) noexcept:
        """How many packets may go now: LIMIT and RATE."""
        cdef uint64_t due
        if self.limit >= 0:
            if <int64_t>self.count >= self.limit:
                return 0
            if <int64_t>self.count + n > self.limit:
                n = <int>(self.limit - <int64_t>self.count)
        if self.rate:
            if self.start_ns == 0:
                self.start_ns = now
                self.rate_base = self.count
            due = (now - self.start_ns) * self.rate // 1000000000ULL + 1
            if self.count - self.rate_base >= due:
                return 0
            if self.count - self.rate_base + n > due:
                n = <int>(due - (self.count - self.rate_base))
        return n

    cdef int run_task(self, Task task) except -1:
        cdef Batch* b
        cdef uint64_t now = realtime_ns()
        cdef int n
        if not self.active:
            return 0
        n = self._quota(BATCH_MAX, now)
        if n <= 0:
            if self.limit >= 0 and <int64_t>self.count >= self.limit:
                self._end()
            else:
                # rate-limited: wake when the next packet is due
                self.wakeup.schedule_after(1000000000ULL // self.rate + 1)
            return 0
        b = self.pool.batch_get()
        try:
            if self._fill(b, n, now):
                self.output_push(0, b)
        finally:
            self.pool.batch_put(b)
        task.reschedule()
        return 1

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef uint64_t now = realtime_ns()
        cdef int n
        if not self.active:
            return 0
        n = self._quota(max, now)
        if n <= 0:
            if self.limit >= 0 and <int64_t>self.count >= self.limit:
                self._end()
            return 0
        return self._fill(b, n, now)

    cdef int _end(self) except -1:
        if not self.ended:
            self.ended = True
            if self.stop:
                self.please_stop()
        return 0

    def _restart(self):
        self.ended = False
        self.start_ns = 0
        if self.task is not None and self.active:
            self.task.schedule()

    def _read_rate(self):
        if self.last_ns == 0:
            return 0
        d = max(self.last_ns - self.first_ns, 1)
        return int(self.count * 1000000000 // d)

    def _write_rate(self, value):
        self.rate = UINT(value.strip())
        self._restart()

    def _write_reset(self, value=""):
        self.count = 0
        self.first_ns = self.last_ns = 0
        self._restart()

    def _write_active(self, value):
        self.active = BOOL(value.strip())
        if self.active:
            self._write_reset()

    def _write_limit(self, value):
        self.limit = INT(value.strip())
        self._restart()

    def _write_length(self, value):
        length = INT(value.strip())
        if not 60 <= length <= 1514:
            raise HandlerError(f"{self.name}.length: expected 60 to 1514")
        if length != self.length:
            self.length = length
            self._build()

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_read_handler("rate", self._read_rate)
        self.add_write_handler("rate", self._write_rate)
        self.add_write_handler("reset", self._write_reset)
        self.add_write_handler("active", self._write_active)
        self.add_write_handler("limit", self._write_limit)
        self.add_read_handler("length", lambda: self.length)
        self.add_write_handler("length", self._write_length)
