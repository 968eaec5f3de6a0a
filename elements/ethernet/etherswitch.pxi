# EXPORT_ELEMENT EtherSwitch

cdef enum:
    SWITCH_MAX_PORTS = 64


cdef class EtherSwitch(Element):
    """EtherSwitch([KEYWORDS])

    Learning, forwarding Ethernet switch.

    Ports: 2 or more inputs, as many outputs. Processing: push.

    Input I and output I are one LAN. A packet arriving on input I with
    source address A teaches the switch that A is on LAN I. A packet for a
    unicast destination the switch knows goes to that LAN's output (and is
    dropped if that is the LAN it came from); any other packet (broadcast,
    multicast, unknown destination) is flooded to every output but its own,
    as copies. Associations expire TIMEOUT seconds after the address was
    last seen as a source; times come from the packets' timestamp
    annotations (the current time for packets without one), so a switch fed
    from a trace ages entries in trace time, as Click's does. Packets
    shorter than an Ethernet header are dropped.

    Keywords:
      TIMEOUT         Time. How long an association lasts; 0 makes the switch a
                      hub that floods everything (default 300 s).
      ENTRY_CAPACITY  Integer. At most this many addresses are remembered; when
                      full, expired ones are forgotten first, then new ones are
                      not learned (default 65536; 0 = no limit).

    Handlers:
      table (read)            `ADDRESS PORT` per line
      timeout (read/write)    TIMEOUT in seconds
      count (read)            addresses known
      drops (read)            packets dropped (short, for their own LAN, or copies
                              that the pool could not hold)
      clear (write)           forget every address

    Example:
      FromDevice(eth0) -> [0]sw :: EtherSwitch -> [0]Queue -> ToDevice(eth0);
      FromDevice(eth1) -> [1]sw; sw[1] -> Queue -> ToDevice(eth1);
    """

    port_count = "2-/="
    processing = "h/h"

    cdef U64Map table
    cdef uint64_t timeout
    cdef uint32_t capacity
    cdef readonly uint64_t drops

    def __cinit__(self):
        self.table = U64Map(256)

    def configure(self, args):
        self.timeout = args.read("TIMEOUT", NSECONDS, 300 * 1000000000)
        self.capacity = args.read("ENTRY_CAPACITY", UINT, 65536)
        if self.ninputs > SWITCH_MAX_PORTS:
            raise self.error(f"at most {SWITCH_MAX_PORTS} ports")

    cdef bint _learn(self, uint64_t key, int port, uint64_t stamp) noexcept:
        """Remember key on port; False if the table is full of live entries."""
        cdef MapSlot* s = self.table.find(key)
        if s == NULL:
            if self.capacity and self.table.count >= self.capacity:
                self._forget_expired(stamp)
                if self.table.count >= self.capacity:
                    return False
            try:
                s = self.table.insert(key)
            except MemoryError:
                return False
        s.value = port
        s.stamp = stamp
        return True

    cdef void _forget_expired(self, uint64_t now) noexcept:
        cdef uint32_t i
        cdef MapSlot* s
        for i in range(self.table.capacity()):
            s = self.table.slot_at(i)
            if s != NULL and now >= s.stamp + self.timeout:
                self.table.erase(s)

    cdef int push(self, int port, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Batch* outs[SWITCH_MAX_PORTS]
        cdef int n = self.noutputs, j, out, copies
        cdef uint32_t i, x, y
        cdef uint64_t stamp, now = 0
        cdef const uint8_t* e
        cdef MapSlot* s
        for j in range(n):
            outs[j] = NULL
        try:
            for j in range(n):
                outs[j] = pool.batch_get()
            for i in range(b.n):
                x = b.idx[i]
                if anno[x].len < ETHER_HEADER_LEN:
                    pool.free(x)
                    self.drops += 1
                    continue
                e = anno[x].data
                stamp = anno[x].timestamp
                if stamp == 0:
                    if now == 0:
                        now = realtime_ns()
                    stamp = now
                out = -1
                if self.timeout:
                    self._learn(mac_key(e + 6), port, stamp)
                    if not is_group(e):
                        s = self.table.find(mac_key(e))
                        if s != NULL:
                            if stamp < s.stamp + self.timeout:
                                out = s.value
                            else:
                                self.table.erase(s)
                if out == port:
                    pool.free(x)            # the destination is on the LAN it came from
                    self.drops += 1
                elif out >= 0:
                    self._add(outs[out], out, x)
                else:
                    copies = n - 2          # the last port gets the original
                    for j in range(n):
                        if j == port:
                            continue
                        if copies > 0:
                            copies -= 1
                            y = pool.clone(x)
                            if y == NO_PACKET:
                                self.drops += 1
                                continue
                            self._add(outs[j], j, y)
                        else:
                            self._add(outs[j], j, x)
            for j in range(n):
                if outs[j].n:
                    self.output_push(j, outs[j])
        finally:
            for j in range(n):
                if outs[j] != NULL:
                    pool.batch_put(outs[j])
        return 0

    cdef inline int _add(self, Batch* out, int port, uint32_t x) except -1:
        out.idx[out.n] = x
        out.n += 1
        if out.n == BATCH_MAX:
            self.output_push(port, out)
            out.n = 0
        return 0

    def _table_text(self):
        cdef uint8_t mac[6]
        lines = []
        for key, stamp, port in sorted(self.table.items(), key=lambda t: t[0]):
            mac_from_key(mac, key)
            lines.append(f"{unparse_ether(bytes(mac[:6]))} {port}")
        return "\n".join(lines) + ("\n" if lines else "")

    def _write_timeout(self, value):
        self.timeout = NSECONDS(value.strip())

    def add_handlers(self):
        self.add_read_handler("table", self._table_text)
        self.add_read_handler("timeout", lambda: f"{self.timeout / 1e9:g}")
        self.add_write_handler("timeout", self._write_timeout)
        self.add_read_handler("count", lambda: self.table.count)
        self.add_read_handler("drops", lambda: self.drops)
        self.add_write_handler("clear", lambda v: self.table.clear())
