# EXPORT_ELEMENT ARPQuerier

cdef enum:
    ARP_QUERY_GAP_NS = 100000000        # at most 10 queries a second per address

ctypedef struct ArpEntry:
    uint32_t ip                 # host order; the map's key
    uint8_t mac[6]
    uint8_t known               # the MAC address is valid
    uint8_t used
    uint64_t live_at            # when the address was learned (or the entry made)
    uint64_t polled_at          # when we last sent a query for it (0 = never)
    uint32_t head, tail         # packets waiting for the address (linked by pending_next)
    uint32_t npending


cdef class ARPQuerier(Element):
    """ARPQuerier(IP, ETH [, KEYWORDS])

    Encapsulates IP packets in Ethernet headers found via ARP.

    Ports: 2 inputs; 1 or 2 outputs. Processing: push.

    IP is this host's address (optionally with a prefix length, which gives
    the broadcast address) and ETH its Ethernet address. Packets arriving on
    input 0 are IP packets with their destination IP annotation set. When
    the Ethernet address for the destination is known, the packet gets an
    Ethernet header (type 0x0800, source ETH) and goes to output 0.
    Otherwise it waits in the ARP table and an ARP query is sent (at most
    10 a second per address); when the reply arrives on input 1, the
    mapping is recorded and the waiting packets leave in order. Queries go
    to the last output (output 1 if there are two). Input 1 takes ARP
    packets with their Ethernet header: replies (and gratuitous ARP
    announcements for addresses already in the table) update the table; all
    input 1 packets are consumed.

    255.255.255.255 and the BROADCAST address go to FF-FF-FF-FF-FF-FF,
    multicast addresses to 01-00-5E-xx-xx-xx (RFC 1112), and 0.0.0.0 is
    dropped (the destination annotation is probably missing). Entries
    expire TIMEOUT after they were learned; after POLL_TIMEOUT a packet for
    the address also sends a renewal query (unicast unless BROADCAST_POLL).
    A waiting packet is dropped when its entry expires unanswered. Queries
    carry the timestamp and VLAN_TCI annotations of the packet that caused
    them.

    Keywords:
      CAPACITY               Integer. Packets waiting in the whole table; more
                             are dropped (default 2048; 0 = no limit).
      ENTRY_CAPACITY         Integer. Entries in the table (default 0 = no limit).
      ENTRY_PACKET_CAPACITY  Integer. Packets waiting per entry (default 0 = no limit).
      TIMEOUT                Time. Entry lifetime (default 5 min).
      POLL_TIMEOUT           Time. Age after which entries are renewed; 0 = never
                             (default 1 min).
      BROADCAST              IP address. The local broadcast address (default from
                             IP's prefix, or 255.255.255.255).
      BROADCAST_POLL         Boolean. Send renewal queries to broadcast (default false).

    Handlers:
      table (read)        `IP OK ETH AGE` per entry
      stats (read)        packets killed and queries sent
      count (read)        entries in the table
      length (read)       packets waiting
      queries, responses, drops (read)  counters
      ipaddr, broadcast (read/write)    IP, BROADCAST
      insert (write)      `IP ETH`: add or update an entry (sends its waiting packets)
      delete (write)      `IP`: remove an entry (dropping its waiting packets)
      clear (write)       empty the table and zero the counters
      gratuitous (write)  send a gratuitous ARP announcement for IP

    Example:
      c :: Classifier(12/0806 20/0002, 12/0800, ...);
      a :: ARPQuerier(18.26.4.24, 00:00:C0:AE:67:EF);
      c[0] -> [1]a;  c[1] -> ... -> [0]a;  a -> Queue -> ToDevice(eth0);
    """

    port_count = "2/1-2"
    processing = "h/h"
    flow_code = "xy/x"

    cdef uint32_t my_ip, my_bcast
    cdef uint8_t my_eth[6]
    cdef uint64_t timeout, poll_timeout
    cdef bint broadcast_poll
    cdef uint32_t capacity, entry_capacity, entry_packet_capacity
    cdef U64Map index                 # ip -> entry number
    cdef ArpEntry* entries
    cdef uint32_t nentries_cap
    cdef uint32_t* free_entries
    cdef uint32_t nfree
    cdef uint32_t* pending_next       # per pool buffer: the next waiting packet
    cdef readonly uint32_t npending
    cdef readonly uint64_t queries, responses, drops
    cdef bint zero_warned
    cdef Timer expire_timer
    cdef uint64_t expire_every

    def __cinit__(self):
        self.index = U64Map(64)

    def __dealloc__(self):
        c_free(self.entries)
        c_free(self.free_entries)
        c_free(self.pending_next)

    def configure(self, args):
        self.capacity = args.read("CAPACITY", UINT, 2048)
        self.entry_capacity = args.read("ENTRY_CAPACITY", UINT, 0)
        self.entry_packet_capacity = args.read("ENTRY_PACKET_CAPACITY", UINT, 0)
        self.timeout = args.read("TIMEOUT", NSECONDS, 300 * 1000000000)
        self.poll_timeout = args.read("POLL_TIMEOUT", NSECONDS, 60 * 1000000000)
        bcast = args.read("BROADCAST", IPADDR, None)
        self.broadcast_poll = args.read("BROADCAST_POLL", BOOL, False)
        ip_text = args.read_mp("IP", ANY)
        eth = args.read_mp("ETH", ETHERADDR)
        try:
            ip, mask = IPPREFIX(ip_text) if "/" in ip_text else (IPADDR(ip_text), 0xFFFFFFFF)
        except ValueError:
            raise self.error(f"IP: expected IP address or prefix, not '{ip_text}'") from None
        if self.timeout == 0:
            raise self.error("TIMEOUT must be positive")
        self.my_ip = ip
        memcpy(self.my_eth, <const uint8_t*>eth, 6)
        if bcast is not None:
            self.my_bcast = bcast
        else:
            self.my_bcast = (ip | (~mask & 0xFFFFFFFF)) & 0xFFFFFFFF
            if self.my_bcast == ip:
                self.my_bcast = 0xFFFFFFFF

    def initialize(self):
        cdef uint32_t i
        self.pending_next = <uint32_t*>malloc(self.pool.size * sizeof(uint32_t))
        if self.pending_next == NULL:
            raise MemoryError()
        self._grow_entries(16)
        self.expire_timer = self.add_timer()
        self.expire_every = min(max(self.timeout // 2, 10000000), 1000000000)
        self.expire_timer.schedule_after(self.expire_every)

    cdef int _grow_entries(self, uint32_t want) except -1:
        cdef uint32_t old = self.nentries_cap, i
        cdef ArpEntry* e
        cdef uint32_t* f
        if want <= old:
            return 0
        e = <ArpEntry*>realloc(self.entries, want * sizeof(ArpEntry))
        if e == NULL:
            raise MemoryError()
        self.entries = e
        f = <uint32_t*>realloc(self.free_entries, want * sizeof(uint32_t))
        if f == NULL:
            raise MemoryError()
        self.free_entries = f
        memset(&self.entries[old], 0, (want - old) * sizeof(ArpEntry))
        for i in range(want - old):
            # lowest numbers on top of the free stack
            self.free_entries[self.nfree] = want - 1 - i
            self.nfree += 1
        self.nentries_cap = want
        return 0

    # ---- the table -----------------------------------------------------------
    cdef inline ArpEntry* _find(self, uint32_t ip) noexcept:
        cdef MapSlot* s = self.index.find(ip)
        return &self.entries[s.value] if s != NULL else NULL

    cdef ArpEntry* _create(self, uint32_t ip, uint64_t now) except? NULL:
        """A new entry for ip (NULL if ENTRY_CAPACITY is reached)."""
        cdef uint32_t n
        cdef ArpEntry* e
        cdef MapSlot* s
        if self.entry_capacity and self.index.count >= self.entry_capacity:
            return NULL
        if self.nfree == 0:
            self._grow_entries(self.nentries_cap * 2)
        self.nfree -= 1
        n = self.free_entries[self.nfree]
        e = &self.entries[n]
        memset(e, 0, sizeof(ArpEntry))
        e.ip = ip
        e.used = 1
        e.live_at = now
        e.head = e.tail = NO_PACKET
        s = self.index.insert(ip)
        s.value = <int32_t>n
        return e

    cdef void _remove(self, ArpEntry* e) noexcept:
        cdef MapSlot* s = self.index.find(e.ip)
        cdef uint32_t x, nxt
        x = e.head
        while x != NO_PACKET:
            nxt = self.pending_next[x]
            self.pool.free(x)
            self.drops += 1
            x = nxt
        self.npending -= e.npending
        if s != NULL:
            self.index.erase(s)
        e.used = 0
        self.free_entries[self.nfree] = <uint32_t>(e - self.entries)
        self.nfree += 1

    # ---- queries -------------------------------------------------------------
    cdef int _add_query(self, Batch* q, Anno* cause, uint32_t target, const uint8_t* unicast) except -1:
        """Make an ARP request for target into q (unicast to a known address or broadcast)."""
        cdef PacketPool pool = self.pool
        cdef uint32_t x = pool.alloc(ARP_PACKET_LEN)
        cdef Anno* a
        cdef uint8_t* d
        if x == NO_PACKET:
            self.drops += 1
            return 0
        a = &pool.anno[x]
        d = a.data
        if unicast != NULL and not self.broadcast_poll:
            memcpy(d, unicast, 6)
        else:
            memset(d, 0xFF, 6)
        memcpy(d + 6, self.my_eth, 6)
        store_be16(d + 12, ETHERTYPE_ARP)
        store_be16(d + 14, ARPHRD_ETHER)
        store_be16(d + 16, ETHERTYPE_IP)
        d[18] = 6
        d[19] = 4
        store_be16(d + 20, ARPOP_REQUEST)
        memcpy(d + 22, self.my_eth, 6)
        store_be32(d + 28, self.my_ip)
        memset(d + 32, 0, 6)
        store_be32(d + 38, target)
        a.mac_off = <int32_t>a.headroom
        a.net_off = a.mac_off + ETHER_HEADER_LEN
        a.trans_off = a.net_off + 28
        if cause != NULL:
            a.timestamp = cause.timestamp
            memcpy(&a.user[VLAN_TCI_ANNO], &cause.user[VLAN_TCI_ANNO], 2)
        q.idx[q.n] = x
        q.n += 1
        self.queries += 1
        if q.n == BATCH_MAX:
            self.output_push(self.noutputs - 1, q)
            q.n = 0
        return 0

    # ---- input 0: IP packets ---------------------------------------------------
    cdef int push(self, int port, Batch* b) except -1:
        cdef Batch* q = self.pool.batch_get()
        try:
            if port == 0:
                self._handle_ip(b, q, monotonic_ns())
            else:
                self._handle_arp(b, q, monotonic_ns())
            # queries first: with a single output they share it with the packets
            if q.n:
                self.output_push(self.noutputs - 1, q)
        finally:
            self.pool.batch_put(q)
        return 0

    cdef int _handle_ip(self, Batch* b, Batch* q, uint64_t now) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint32_t i, k = 0, x, dst
        cdef uint8_t* p
        cdef ArpEntry* e
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            dst = load_be32(&a.user[DST_IP_ANNO])
            if self.my_ip == 0:
                pool.free(x)
                self.drops += 1
                continue
            p = pool.push(x, ETHER_HEADER_LEN)
            if p == NULL:
                pool.free(x)
                self.drops += 1
                continue
            store_be16(p + 12, ETHERTYPE_IP)
            a.mac_off = <int32_t>a.headroom
            e = self._find(dst)
            if e != NULL and e.known and now - e.live_at < self.timeout:
                memcpy(p, e.mac, 6)
                if (self.poll_timeout and now - e.live_at >= self.poll_timeout
                        and now - e.polled_at >= ARP_QUERY_GAP_NS):
                    e.polled_at = now
                    self._add_query(q, a, dst, e.mac)
            elif dst == 0xFFFFFFFFu or dst == self.my_bcast:
                memset(p, 0xFF, 6)
            elif (dst >> 28) == 14:
                p[0] = 0x01
                p[1] = 0x00
                p[2] = 0x5E
                p[3] = (dst >> 16) & 0x7F
                p[4] = (dst >> 8) & 0xFF
                p[5] = dst & 0xFF
            elif dst == 0:
                if not self.zero_warned:
                    self._warn_zero()
                pool.free(x)
                self.drops += 1
                continue
            else:
                self._wait(x, a, dst, e, q, now)
                continue
            memcpy(p + 6, self.my_eth, 6)
            b.idx[k] = x
            k += 1
        b.n = k
        if k:
            self.output_push(0, b)
        return 0

    cdef int _warn_zero(self) except -1:
        self.zero_warned = True
        self.warn("would query for 0.0.0.0; missing destination IP annotation?")
        return 0

    cdef int _wait(self, uint32_t x, Anno* a, uint32_t dst, ArpEntry* e, Batch* q, uint64_t now) except -1:
        """Park packet x until dst is resolved, and query for it."""
        if e == NULL:
            e = self._create(dst, now)
            if e == NULL:
                self.pool.free(x)
                self.drops += 1
                return 0
        elif e.known:
            # expired: forget the address, keep asking
            e.known = 0
            e.live_at = now
        if ((self.capacity and self.npending >= self.capacity)
                or (self.entry_packet_capacity and e.npending >= self.entry_packet_capacity)):
            self.pool.free(x)
            self.drops += 1
        else:
            self.pending_next[x] = NO_PACKET
            if e.tail == NO_PACKET:
                e.head = x
            else:
                self.pending_next[e.tail] = x
            e.tail = x
            e.npending += 1
            self.npending += 1
        if e.polled_at == 0 or now - e.polled_at >= ARP_QUERY_GAP_NS:
            e.polled_at = now
            self._add_query(q, a, dst, NULL)
        return 0

    # ---- input 1: ARP packets ----------------------------------------------------
    cdef int _handle_arp(self, Batch* b, Batch* q, uint64_t now) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef uint32_t i, x
        cdef const uint8_t* d
        cdef uint16_t op
        cdef ArpEntry* e
        cdef Batch* out = pool.batch_get()
        try:
            for i in range(b.n):
                x = b.idx[i]
                d = anno[x].data
                if anno[x].len >= ARP_PACKET_LEN:
                    self.responses += 1
                if is_arp_for_ip(d, anno[x].len) and not is_group(d + 22):
                    op = load_be16(d + 20)
                    if op == ARPOP_REPLY:
                        self._learn(load_be32(d + 28), d + 22, now, out, True)
                    elif op == ARPOP_REQUEST and load_be32(d + 28) == load_be32(d + 38):
                        # gratuitous ARP: update an entry we already have (RFC 826, 5227)
                        self._learn(load_be32(d + 28), d + 22, now, out, False)
                pool.free(x)
            b.n = 0
            if out.n:
                self.output_push(0, out)
        finally:
            pool.batch_put(out)
        return 0

    cdef int _learn(self, uint32_t ip, const uint8_t* mac, uint64_t now, Batch* out, bint create) except -1:
        """Record ip -> mac and send the packets waiting for it into out."""
        cdef ArpEntry* e = self._find(ip)
        cdef uint32_t x, nxt
        cdef Anno* a
        if e == NULL:
            if not create or ip == 0:
                return 0
            e = self._create(ip, now)
            if e == NULL:
                return 0
        memcpy(e.mac, mac, 6)
        e.known = 1
        e.live_at = now
        x = e.head
        e.head = e.tail = NO_PACKET
        self.npending -= e.npending
        e.npending = 0
        while x != NO_PACKET:
            nxt = self.pending_next[x]
            a = &self.pool.anno[x]
            memcpy(a.data, mac, 6)
            memcpy(a.data + 6, self.my_eth, 6)     # our address as of sending time
            out.idx[out.n] = x
            out.n += 1
            if out.n == BATCH_MAX:
                self.output_push(0, out)
                out.n = 0
            x = nxt
        return 0

    # ---- expiry ----------------------------------------------------------------
    cdef int run_timer(self, Timer timer) except -1:
        cdef uint64_t now = monotonic_ns()
        cdef uint32_t i
        for i in range(self.nentries_cap):
            if self.entries[i].used and now - self.entries[i].live_at >= self.timeout:
                self._remove(&self.entries[i])
        timer.schedule_after(self.expire_every)
        return 0

    def cleanup(self):
        cdef uint32_t i
        if self.expire_timer is not None:
            self.expire_timer.unschedule()
        if self.pending_next != NULL:
            for i in range(self.nentries_cap):
                if self.entries[i].used:
                    self._remove(&self.entries[i])

    def take_state(self, old):
        """Hot swap with the same IP and Ethernet address: take over the old
        element's entries, with the packets waiting in them (the routers share
        their pool), and its counters."""
        cdef ARPQuerier o
        cdef uint32_t i, x, nxt
        cdef ArpEntry* oe
        cdef ArpEntry* e
        if not isinstance(old, ARPQuerier):
            return
        o = <ARPQuerier>old
        if o.my_ip != self.my_ip or memcmp(o.my_eth, self.my_eth, 6) != 0 or o.pool is not self.pool:
            return
        for i in range(o.nentries_cap):
            oe = &o.entries[i]
            if not oe.used:
                continue
            e = self._find(oe.ip)
            if e == NULL:
                e = self._create(oe.ip, oe.live_at)
                if e == NULL:
                    continue          # ENTRY_CAPACITY: the old element's cleanup drops its packets
            memcpy(e.mac, oe.mac, 6)
            e.known = oe.known
            e.live_at = oe.live_at
            e.polled_at = oe.polled_at
            x = oe.head
            while x != NO_PACKET:
                nxt = o.pending_next[x]
                self.pending_next[x] = NO_PACKET
                if e.tail == NO_PACKET:
                    e.head = x
                else:
                    self.pending_next[e.tail] = x
                e.tail = x
                e.npending += 1
                self.npending += 1
                x = nxt
            o.npending -= oe.npending
            oe.head = oe.tail = NO_PACKET
            oe.npending = 0
        self.queries, self.responses, self.drops = o.queries, o.responses, o.drops

    # ---- handlers --------------------------------------------------------------
    def _insert_known(self, uint32_t ip, bytes mac, uint64_t live_at):
        cdef Batch* out = self.pool.batch_get()
        cdef ArpEntry* e
        try:
            self._learn(ip, <const uint8_t*>mac, live_at, out, True)
            if out.n:
                self.output_push(0, out)
        finally:
            self.pool.batch_put(out)

    def _write_insert(self, value):
        words = split_words(value)
        if len(words) != 2:
            raise HandlerError(f"{self.name}.insert: expected 'IP ETH'")
        try:
            ip, mac = IPADDR(words[0]), ETHERADDR(words[1])
        except ValueError as e:
            raise HandlerError(f"{self.name}.insert: {e}") from None
        self._insert_known(ip, mac, monotonic_ns())

    def _write_delete(self, value):
        cdef ArpEntry* e
        try:
            ip = IPADDR(value.strip())
        except ValueError as err:
            raise HandlerError(f"{self.name}.delete: {err}") from None
        e = self._find(ip)
        if e == NULL:
            raise HandlerError(f"{self.name}.delete: {value.strip()} is not in the table")
        self._remove(e)

    def _write_clear(self, value):
        cdef uint32_t i
        for i in range(self.nentries_cap):
            if self.entries[i].used:
                self._remove(&self.entries[i])
        self.queries = self.responses = self.drops = 0

    def _write_gratuitous(self, value):
        cdef Batch* q = self.pool.batch_get()
        try:
            self._add_query(q, NULL, self.my_ip, NULL)
            if q.n:
                self.output_push(self.noutputs - 1, q)
        finally:
            self.pool.batch_put(q)

    def _table_text(self):
        cdef uint32_t i
        cdef uint64_t now = monotonic_ns()
        cdef ArpEntry* e
        lines = []
        for i in range(self.nentries_cap):
            e = &self.entries[i]
            if not e.used:
                continue
            ok = 1 if e.known and now - e.live_at < self.timeout else 0
            mac = bytes(e.mac[:6]) if e.known else bytes(6)
            lines.append((e.ip, f"{unparse_ip(ip_bytes(e.ip))} {ok} {unparse_ether(mac)} "
                                f"{(now - e.live_at) / 1e9:.6f}"))
        return "".join(text + "\n" for _, text in sorted(lines))

    def _set_ip(self, attr, value):
        try:
            v = IPADDR(value.strip())
        except ValueError as e:
            raise HandlerError(f"{self.name}.{attr}: {e}") from None
        if attr == "ipaddr":
            self.my_ip = v
        else:
            self.my_bcast = v

    def add_handlers(self):
        self.add_read_handler("table", self._table_text)
        self.add_read_handler("stats", lambda: f"{self.drops} packets killed\n{self.queries} ARP queries sent\n")
        self.add_read_handler("count", lambda: self.index.count)
        self.add_read_handler("length", lambda: self.npending)
        self.add_read_handler("queries", lambda: self.queries)
        self.add_read_handler("responses", lambda: self.responses)
        self.add_read_handler("drops", lambda: self.drops)
        self.add_read_handler("ipaddr", lambda: unparse_ip(ip_bytes(self.my_ip)))
        self.add_write_handler("ipaddr", lambda v: self._set_ip("ipaddr", v))
        self.add_read_handler("broadcast", lambda: unparse_ip(ip_bytes(self.my_bcast)))
        self.add_write_handler("broadcast", lambda v: self._set_ip("broadcast", v))
        self.add_write_handler("insert", self._write_insert)
        self.add_write_handler("delete", self._write_delete)
        self.add_write_handler("clear", self._write_clear)
        self.add_write_handler("gratuitous", self._write_gratuitous)
