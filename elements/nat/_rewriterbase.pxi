# The rewriters' common part (Click's IPRewriterBase; not an element itself).

DEFAULT_TIMEOUT = 300.0
DEFAULT_GUARANTEE = 5.0
DEFAULT_REAP_INTERVAL = 15 * 60.0
UNLIMITED_CAPACITY = 0x7FFFFFFF
INITIAL_FLOWS = 1024
NS = 1000000000

cdef enum:
    # how a rewriter keys, checks and rewrites packets (new_flow, unparse)
    MODE_TCPUDP = 0         # IPRewriter: TCP and UDP, the protocol in the key
    MODE_TCP = 1            # TCPRewriter: TCP only
    MODE_UDP = 2            # UDPRewriter: TCP, UDP and DCCP by 4-tuple alone
    MODE_ADDR = 3           # IPAddrRewriter: source address (replies: destination)
    MODE_ADDRPAIR = 4       # IPAddrPairRewriter: address pair
    MODE_PING = 5           # ICMPPingRewriter: addresses and echo identifier
    PREFETCH_AHEAD = 6      # packets between a prefetch and its use
    IP_PROTO_DCCP = 33


def _ns(seconds):
    return int(round(seconds * NS))


cdef class IPRewriterBase(Element):
    """Input specs, the flow table and its expiry, handlers, hot swap."""

    port_count = "1-/1-"
    processing = "h/h"
    configure_phase = 50        # after IPRewriterPatterns (20) and mappers (49)

    cdef FlowTable t
    cdef bint have_table
    cdef InputSpec* specs
    cdef int nspecs
    cdef list spec_owners           # RewritePattern / mapper objects the specs point into
    cdef list spec_texts
    cdef readonly uint32_t capacity
    cdef readonly uint64_t reap_interval
    cdef uint64_t clock_skew
    cdef bint clock_frozen          # tests: time moves only by set_clock/advance_clock
    cdef uint32_t rng
    cdef bint dst_anno
    cdef int reply_anno             # annotation byte for the reply anno, or -1
    cdef readonly uint64_t drops
    cdef object gc_timer
    cdef int mode

    def __cinit__(self):
        memset(&self.t, 0, sizeof(FlowTable))
        self.specs = NULL
        self.reply_anno = -1
        self.dst_anno = True
        self.spec_owners = []
        self.spec_texts = []

    def __dealloc__(self):
        table_free(&self.t)
        free(self.specs)

    # ---- configuration (cold) ----------------------------------------------
    def _read_keywords(self, args, timeouts):
        """Subclasses read their own keywords into `timeouts` (seconds by name)."""

    # the timeouts that the common TIMEOUT and GUARANTEE keywords set (Click
    # reads them in IPRewriterBase after the subclass took its own)
    timeout_keyword = "timeout"
    guarantee_keyword = "guarantee"

    def configure(self, args):
        tm = {"timeout": DEFAULT_TIMEOUT, "guarantee": DEFAULT_GUARANTEE}
        self._read_keywords(args, tm)
        capacity = args.read("CAPACITY", ANY, None)
        capacity = args.read("MAPPING_CAPACITY", ANY, capacity)
        tm[self.timeout_keyword] = args.read("TIMEOUT", SECONDS, tm[self.timeout_keyword])
        tm[self.guarantee_keyword] = args.read("GUARANTEE", SECONDS, tm[self.guarantee_keyword])
        reap = args.read("REAP_INTERVAL", SECONDS, DEFAULT_REAP_INTERVAL)
        reap = args.read("REAP_TIME", SECONDS, reap, deprecated=True)
        self.capacity = UNLIMITED_CAPACITY
        if capacity is not None:
            cap = parse_click_int(capacity, False)
            if cap is None:
                if self.router is not None and self.router.element(capacity) is not None:
                    raise self.error("MAPPING_CAPACITY: sharing another rewriter's capacity "
                                     "is not supported; give a number")
                raise self.error("bad MAPPING_CAPACITY")
            self.capacity = min(cap, UNLIMITED_CAPACITY)
        self.reap_interval = _ns(reap)
        self._set_timeouts(tm)
        specs = args.rest()
        if len(specs) != self.ninputs:
            raise self.error(f"need {self.ninputs} argument{'s' if self.ninputs != 1 else ''}, "
                             f"one per input port")
        self._install_specs(specs)

    def _set_timeouts(self, tm):
        cdef Timeouts* t = &self.t.t
        cdef int k
        for k in range(NKINDS):
            t.timeout[k] = _ns(tm["timeout"])
            t.guarantee[k] = _ns(tm["guarantee"])
        if "tcp_nodata" in tm:
            t.timeout[KIND_TCP] = _ns(tm["tcp_nodata"])
            t.guarantee[KIND_TCP] = _ns(tm["tcp_guarantee"])
            t.tcp_data = _ns(tm["tcp_data"])
            t.tcp_done = _ns(tm["tcp_done"])
        if "udp_timeout" in tm:
            t.timeout[KIND_UDP] = _ns(tm["udp_timeout"])
            t.guarantee[KIND_UDP] = _ns(tm["udp_guarantee"])
            t.udp_streaming = _ns(tm["udp_streaming"])

    def _read_annos(self, args, bint dst_anno_keyword=True):
        if dst_anno_keyword:
            self.dst_anno = args.read("DST_ANNO", BOOL, True)
        reply = args.read("REPLY_ANNO", AnnoArg(1), None)
        self.reply_anno = -1 if reply is None else reply

    def _install_specs(self, texts):
        parsed = [self._parse_spec(text, i) for i, text in enumerate(texts)]
        free(self.specs)
        self.specs = <InputSpec*>calloc(max(len(parsed), 1), sizeof(InputSpec))
        if self.specs == NULL:
            raise MemoryError()
        self.nspecs = len(parsed)
        self.spec_owners = [None] * len(parsed)
        self.spec_texts = list(texts)
        for i, spec in enumerate(parsed):
            self._set_spec(i, spec)

    def _parse_spec(self, str text, int i):
        """Click's parse_input_spec -> (kind, foutput, routput, owner object)."""
        words = split_words(text)
        if not words:
            raise self.error(f"input spec {i}: empty argument")
        word, rest = words[0], words[1:]

        def bad(message):
            return self.error(f"input spec {i}: {message}")

        if word in ("pass", "passthrough", "nochange"):
            out = 0
            if rest:
                out = parse_click_int(" ".join(rest), True) if len(rest) == 1 else None
                if out is None:
                    raise bad("syntax error, expected 'nochange [OUTPUT]'")
            if not 0 <= out < self.noutputs:
                raise bad("output port out of range")
            return SPEC_NOCHANGE, out, 0, None
        if word in ("drop", "discard"):
            if rest:
                raise bad(f"syntax error, expected '{word}'")
            return SPEC_DROP, 0, 0, None
        if word == "keep":
            try:
                f, r = parse_port_pair(rest)
            except ValueError as e:
                raise bad(str(e)) from None
            self._check_outputs(f, r, bad)
            return SPEC_KEEP, f, r, None
        if word in ("pattern", "xpattern"):
            if len(rest) <= 2:
                raise bad("syntax error")
            try:
                f, r = parse_port_pair(rest[-2:])
                if len(rest) == 3:
                    pattern = find_named_pattern(self.router, rest[0])
                else:
                    pattern = RewritePattern.parse(rest[:-2])
            except ValueError as e:
                raise bad(str(e)) from None
            self._check_outputs(f, r, bad)
            self._check_pattern(pattern, bad)
            return SPEC_PATTERN, f, r, pattern
        elem = self.router.element(word) if self.router is not None else None
        if elem is not None:
            if rest:
                raise bad("syntax error, expected element name")
            if not isinstance(elem, RoundRobinIPMapper):
                raise bad("element is not an IPMapper")
            for k, pattern in enumerate((<RoundRobinIPMapper>elem).pattern_objects):
                self._check_pattern(pattern, lambda m: bad(f"{word} pattern {k}: {m}"))
            return SPEC_MAPPER, 0, 0, elem
        raise bad("unknown specification")

    def _check_outputs(self, f, r, bad):
        if not 0 <= f < self.noutputs or not 0 <= r < self.noutputs:
            raise bad("output port out of range")

    def _check_pattern(self, pattern, bad):
        """Patterns this element cannot apply (subclasses)."""

    def _set_spec(self, int i, spec):
        cdef InputSpec* s = &self.specs[i]
        kind, f, r, owner = spec
        s.kind = kind
        s.foutput = f
        s.routput = r
        s.pattern = NULL
        s.mapper = NULL
        if kind == SPEC_PATTERN:
            s.pattern = &(<RewritePattern>owner).p
        elif kind == SPEC_MAPPER:
            s.mapper = &(<RoundRobinIPMapper>owner).m
        self.spec_owners[i] = owner

    def initialize(self):
        cdef Timeouts tm = self.t.t
        cdef uint32_t first = min(self.capacity, INITIAL_FLOWS)
        seed = int.from_bytes(os.urandom(12), "little")
        if table_init(&self.t, first, <uint64_t>(seed & 0xFFFFFFFFFFFFFFFF)) < 0:
            raise MemoryError("no memory for the flow table")
        self.t.t = tm
        self.have_table = True
        self.rng = <uint32_t>(seed >> 64) | 1
        for i in range(self.nspecs):
            if self.specs[i].kind == SPEC_MAPPER:
                mapper = self.spec_owners[i]
                for k, (f, r) in enumerate(zip(mapper.foutputs, mapper.routputs)):
                    if not (0 <= f < self.noutputs and 0 <= r < self.noutputs):
                        raise self.error(f"input spec {i}: output port out of range in "
                                         f"{mapper.name} pattern {k}")
        if self.reap_interval:
            self.gc_timer = self.add_timer(self._gc)
            self.gc_timer.schedule_after(self.reap_interval)

    def _gc(self):
        self.reap()
        self.gc_timer.schedule_after(self.reap_interval)

    def cleanup(self):
        if self.gc_timer is not None:
            self.gc_timer.unschedule()
        if self.have_table:
            self._destroy_all()
            table_free(&self.t)
            self.have_table = False

    # ---- the clock -------------------------------------------------------------
    cdef inline uint64_t now_ns(self) noexcept:
        if self.clock_frozen:
            return self.clock_skew
        return monotonic_ns() + self.clock_skew

    def set_clock(self, double seconds):
        """Stop this element's clock at `seconds` (tests of expiry and of the
        capacity policy run on simulated time)."""
        self.clock_frozen = True
        self.clock_skew = _ns(seconds)

    def advance_clock(self, double seconds):
        """Move this element's clock forward."""
        self.clock_skew += _ns(seconds)

    # ---- flows (C) ---------------------------------------------------------------
    cdef inline int32_t unmapped(self, int port) noexcept:
        """A packet the rewriter cannot map: Click sends it to a 'pass' input's
        output and drops it otherwise."""
        if self.specs[port].kind == SPEC_NOCHANGE:
            return self.specs[port].foutput
        return RW_DROP

    cdef void destroy(self, uint32_t flow) noexcept:
        self.specs[self.t.flows[flow].input].count -= 1
        flow_unlink(&self.t, flow)

    cdef void _destroy_all(self) noexcept:
        cdef uint32_t i
        for i in range(1, self.t.flows_used):
            if self.t.flows[i].heap != FLOW_FREE:
                self.destroy(i)

    cdef bint make_room(self, uint32_t new_flow, uint64_t now) noexcept:
        """The table holds one flow too many: drop the best-effort flow that
        expires first, or the new one if every flow is guaranteed (Click's
        shrink_heap_for_new_flow). True if the new flow went."""
        cdef uint32_t victim
        shift_guarantees(&self.t, now)
        victim = best_effort_first(&self.t, now)
        if victim == 0:
            victim = new_flow
        self.destroy(victim)
        return victim == new_flow

    cdef void shrink(self, uint64_t now, uint32_t capacity) noexcept:
        """Drop expired flows, then flows beyond `capacity` (Click's shrink_heap)."""
        cdef uint32_t f
        shift_guarantees(&self.t, now)
        while True:
            f = best_effort_first(&self.t, now)
            if f == 0 or flow_expiry(&self.t.t, &self.t.flows[f]) > now:
                break
            self.destroy(f)
        while self.t.nflows > capacity:
            f = best_effort_first(&self.t, now)
            if f == 0:
                f = guaranteed_first(&self.t, now)
            self.destroy(f)

    cdef bint flow_allowed(self, const FlowKey* key, FlowKey* rw) noexcept:
        """Class-specific fix-ups and checks of a new flow's identity."""
        return True

    cdef uint32_t new_flow(self, int port, const FlowKey* key, uint8_t kproto, uint8_t ip_p,
                           uint8_t kind, uint64_t now, const Anno* a, int32_t* result) noexcept:
        """Apply input spec `port` to a packet that has no mapping. Returns the
        new flow, or 0 with *result = the output for the packet (-1: drop)."""
        cdef InputSpec* spec = &self.specs[port]
        cdef FlowKey rw
        cdef int32_t r, fout = spec.foutput, rout = spec.routput
        cdef uint32_t idx, displaced
        cdef Flow* f
        result[0] = RW_DROP
        if spec.kind == SPEC_NOCHANGE:
            result[0] = spec.foutput
            return 0
        if spec.kind == SPEC_KEEP:
            rw = key[0]
            r = RW_ADDMAP
        elif spec.kind == SPEC_PATTERN:
            r = pattern_rewrite(&self.t, spec.pattern, key, kproto, &rw, &self.rng)
        elif spec.kind == SPEC_MAPPER:
            r = mapper_rewrite(&self.t, spec.mapper, key, kproto, &rw, &self.rng, &fout, &rout)
        else:
            return 0
        if r != RW_ADDMAP or not self.flow_allowed(key, &rw):
            spec.failures += 1
            return 0
        idx = flow_alloc(&self.t)
        if idx == 0:
            spec.failures += 1
            return 0
        f = &self.t.flows[idx]
        f.key[0] = key[0]
        key_reverse(&f.key[1], &rw)
        f.proto = kproto
        f.ip_p = ip_p
        f.kind = kind
        f.input = <uint16_t>port
        f.output[0] = <uint16_t>fout
        f.output[1] = <uint16_t>rout
        f.last = now
        if self.reply_anno >= 0:
            f.reply_anno = a.user[self.reply_anno]
        self.set_deltas(f, key, &rw)
        if flow_link(&self.t, idx, &displaced) < 0:
            flow_discard(&self.t, idx)
            spec.failures += 1
            return 0
        if displaced:
            self.specs[self.t.flows[displaced].input].count -= 1
        spec.count += 1
        if self.t.nflows > self.capacity and self.make_room(idx, now):
            spec.failures += 1
            return 0
        return idx

    cdef void set_deltas(self, Flow* f, const FlowKey* old, const FlowKey* new) noexcept:
        """Checksum changes of the forward rewrite: addresses for the IP
        header, addresses and ports for TCP/UDP (their pseudo header)."""
        cdef uint16_t d = csum_delta_start()
        d = csum_update32(d, host32(old.saddr), host32(new.saddr))
        d = csum_update32(d, host32(old.daddr), host32(new.daddr))
        f.ip_delta = <uint16_t>~d
        d = csum_update16(d, host16(old.sport), host16(new.sport))
        d = csum_update16(d, host16(old.dport), host16(new.dport))
        f.l4_delta = <uint16_t>~d

    cdef uint32_t reply_entry(self, uint8_t ip_p, const FlowKey* search) noexcept:
        """The entry ICMPRewriter uses for an error about a packet this element
        sent: `search` is that packet's reply flow (Click's get_entry with
        get_entry_reply). Subclasses key it their way."""
        return 0

    # ---- handlers (cold) -------------------------------------------------------------
    def reap(self):
        """Drop expired flows now (the REAP_INTERVAL timer does this)."""
        if self.have_table:
            self.shrink(self.now_ns(), self.capacity)

    def _nmappings(self):
        return sum(self.specs[i].count for i in range(self.nspecs))

    def _failures(self):
        return sum(self.specs[i].failures for i in range(self.nspecs))

    def _pattern_text(self, int i):
        kind = self.specs[i].kind
        owner = self.spec_owners[i]
        text = {SPEC_DROP: "<drop>", SPEC_NOCHANGE: "<nochange>", SPEC_KEEP: "<keep>",
                SPEC_MAPPER: "<mapper>"}.get(kind)
        if kind == SPEC_PATTERN:
            text = owner.unparse()
        if self.specs[i].count:
            text += f" [{self.specs[i].count}]"
        return text

    def _patterns(self):
        return "".join(self._pattern_text(i) + "\n" for i in range(self.nspecs))

    def _write_capacity(self, value):
        cap = parse_click_int(value.strip(), False)
        if cap is None:
            raise HandlerError(f"{self.name}.capacity: expected a number of flows")
        self.capacity = min(cap, UNLIMITED_CAPACITY)
        if self.have_table:
            self.shrink(self.now_ns(), self.capacity)

    def _write_clear(self, value=""):
        if self.have_table:
            self._destroy_all()

    def _write_pattern(self, int i, value):
        """Replace input spec i; the flows it made go (Click's pattern_write_handler)."""
        cdef uint32_t f
        try:
            spec = self._parse_spec(value.strip(), i)
        except ConfigError as e:
            raise HandlerError(e.diagnostics[0].message) from None
        if self.have_table:
            for f in range(1, self.t.flows_used):
                if self.t.flows[f].heap != FLOW_FREE and self.t.flows[f].input == i:
                    self.destroy(f)
        self._set_spec(i, spec)
        self.spec_texts[i] = value.strip()

    def flow_info(self, uint32_t idx):
        cdef Flow* f = &self.t.flows[idx]
        return {"key": [(host32(f.key[d].saddr), host16(f.key[d].sport), host32(f.key[d].daddr),
                         host16(f.key[d].dport)) for d in (0, 1)],
                "output": (f.output[0], f.output[1]), "input": f.input, "ip_p": f.ip_p,
                "expiry": flow_expiry(&self.t.t, f), "seq": f.seq, "kind": f.kind}

    def _unparse_flow(self, info, int d):
        """Click's IPRewriterFlow::unparse: flow => rewritten flow."""
        k, r = info["key"][d], info["key"][1 - d]
        return (f"({ip_str(k[0])}, {k[1]}, {ip_str(k[2])}, {k[3]}) => "
                f"({ip_str(r[2])}, {r[3]}, {ip_str(r[0])}, {r[1]})")

    def _unparse_ports(self, info, int d, uint64_t now):
        f, r = info["output"]
        outs = f"[*{f} {r}]" if d == 0 else f"[{f} *{r}]"
        exp = (<int64_t>info["expiry"] - <int64_t>now + NS // 2) // NS
        return f" {outs} i{info['input']} exp{exp}"

    def table_lines(self, protocols=None):
        """Both entries of every flow (of the given IP protocols), one line each."""
        cdef uint32_t i
        cdef uint64_t now = self.now_ns()
        if not self.have_table:
            return []
        lines = []
        for i in range(1, self.t.flows_used):
            if self.t.flows[i].heap == FLOW_FREE:
                continue
            info = self.flow_info(i)
            if protocols is not None and info["ip_p"] not in protocols:
                continue
            for d in (0, 1):
                lines.append(self._unparse_flow(info, d) + self._unparse_ports(info, d, now))
        return lines

    def _table(self, protocols=None):
        return "".join(line + "\n" for line in self.table_lines(protocols))

    def add_handlers(self):
        self.add_read_handler("table", self._table)
        self.add_read_handler("mappings", self._table)
        self.add_read_handler("nmappings", self._nmappings)
        self.add_read_handler("table_size", self._nmappings)
        self.add_read_handler("mapping_failures", self._failures)
        self.add_read_handler("patterns", self._patterns)
        self.add_read_handler("size", lambda: self.t.nflows)
        self.add_read_handler("capacity", lambda: self.capacity)
        self.add_write_handler("capacity", self._write_capacity)
        self.add_write_handler("clear", self._write_clear)
        self.add_read_handler("drops", lambda: self.drops)
        for i in range(self.ninputs):
            self.add_read_handler(f"pattern{i}", lambda i=i: self._pattern_text(i))
            self.add_write_handler(f"pattern{i}", lambda v, i=i: self._write_pattern(i, v))

    # ---- hot swap ------------------------------------------------------------------
    def take_state(self, old):
        """Carry the flows of the same-named rewriter of the replaced config:
        the table moves as it is (no copy); flows whose input spec or outputs
        this config does not have are dropped (counted in mapping_failures),
        then the table is cut to this element's capacity by Click's policy."""
        cdef IPRewriterBase o = old
        cdef FlowTable fresh
        cdef Timeouts mine = self.t.t
        cdef uint32_t i, n
        cdef Flow* f
        cdef HeapEntry* grown
        cdef int k, h
        cdef bint retime, recount
        if not o.have_table or not self.have_table or o.t.nflows == 0:
            return
        if o.mode != self.mode:
            raise ValueError("different kinds of rewriter")
        # everything that can fail comes before the first move
        if table_init(&fresh, INITIAL_FLOWS, o.t.seed) < 0:
            raise MemoryError("no memory to swap flow tables")
        n = o.t.nflows + 1
        for h in range(2):
            if o.t.heap_cap[h] < n:
                grown = <HeapEntry*>realloc(o.t.heap[h], n * sizeof(HeapEntry))
                if grown == NULL:
                    table_free(&fresh)
                    raise MemoryError("no memory to swap flow tables")
                o.t.heap[h] = grown
                o.t.heap_cap[h] = n
        fresh.t = o.t.t
        retime = memcmp(&mine, &o.t.t, sizeof(Timeouts)) != 0
        recount = self.nspecs != o.nspecs or self.noutputs < o.noutputs
        table_free(&self.t)
        self.t = o.t
        self.t.t = mine
        o.t = fresh
        self.clock_skew = o.clock_skew
        self.clock_frozen = o.clock_frozen
        for k in range(self.nspecs):
            self.specs[k].count = o.specs[k].count if not recount else 0
        if recount:
            for i in range(1, self.t.flows_used):
                f = &self.t.flows[i]
                if f.heap == FLOW_FREE:
                    continue
                if f.input >= self.nspecs or f.output[0] >= self.noutputs or f.output[1] >= self.noutputs:
                    self.specs[f.input if f.input < self.nspecs else 0].failures += 1
                    flow_unlink(&self.t, i)
                else:
                    self.specs[f.input].count += 1
        for k in range(o.nspecs):
            o.specs[k].count = 0
        if retime:
            rebuild_heaps(&self.t)
        self.shrink(self.now_ns(), self.capacity)


cdef inline void flow_discard(FlowTable* t, uint32_t idx) noexcept nogil:
    """Return a record that was never linked."""
    t.flows[idx].heap = FLOW_FREE
    t.flows[idx].heap_pos = t.free_head
    t.free_head = idx


cdef void rebuild_heaps(FlowTable* t) noexcept nogil:
    """Heap keys from the current timeouts (after a hot swap changed them)."""
    cdef uint32_t i
    cdef Flow* f
    cdef uint64_t g
    t.heap_n[0] = t.heap_n[1] = 0
    for i in range(1, t.flows_used):
        f = &t.flows[i]
        if f.heap == FLOW_FREE:
            continue
        g = t.t.guarantee[f.kind]
        # a guaranteed flow stays in the guaranteed heap; the heap pass
        # corrects guarantees that ended
        if f.heap == HEAP_GUARANTEED and g:
            heap_push(t, HEAP_GUARANTEED, i, f.last + g)
        else:
            heap_push(t, HEAP_BEST_EFFORT, i, flow_expiry(&t.t, f))


cdef inline int mapper_rewrite(const FlowTable* t, Mapper* m, const FlowKey* key, uint8_t proto,
                               FlowKey* out, uint32_t* rng, int32_t* fout, int32_t* rout) noexcept nogil:
    """RoundRobinIPMapper: the next pattern in turn that can map the flow."""
    cdef int32_t i, k
    for i in range(m.n):
        k = m.last
        m.last = 0 if m.last + 1 == m.n else m.last + 1
        if pattern_rewrite(t, m.patterns[k], key, proto, out, rng) == RW_ADDMAP:
            fout[0] = m.foutput[k]
            rout[0] = m.routput[k]
            return RW_ADDMAP
    return RW_DROP


cdef inline bint is_first_fragment(const uint8_t* iph) noexcept nogil:
    return (load_be16(iph + 6) & 0x1FFF) == 0


cdef int count_drops(IPRewriterBase e, const int32_t* ports, uint32_t n) noexcept:
    cdef uint32_t i
    cdef uint64_t k = 0
    for i in range(n):
        k += ports[i] < 0
    e.drops += k
    return 0


cdef int push_tcpudp(IPRewriterBase e, int port, Batch* b) except -1:
    """IPRewriter, TCPRewriter and UDPRewriter: look up each packet's flow,
    make one from the input spec if there is none, rewrite the packet (Click's
    TCPFlow/UDPFlow::apply) and send it out of the flow's output.

    The table's cache misses overlap: after parsing and hashing the whole
    batch, one loop prefetches the index slot of packet i + 2 * PREFETCH_AHEAD,
    finds the candidate entry of packet i + PREFETCH_AHEAD and prefetches its
    flow, and handles packet i."""
    cdef FlowTable* t = &e.t
    cdef Anno* anno = e.pool.anno
    cdef Anno* a
    cdef int32_t ports[BATCH_MAX]
    cdef uint8_t* iphs[BATCH_MAX]
    cdef FlowKey keys[BATCH_MAX]
    cdef uint32_t tags[BATCH_MAX]
    cdef uint32_t refs[BATCH_MAX]
    cdef uint64_t now = e.now_ns()
    cdef int mode = e.mode
    cdef bint dst_anno = e.dst_anno
    cdef int reply_anno = e.reply_anno
    cdef uint8_t* iph
    cdef uint8_t* th
    cdef uint32_t ihl, ref, flow, i, j, n = b.n
    cdef int32_t tlen
    cdef uint8_t proto, kproto, kind
    cdef Flow* f
    cdef int d
    for i in range(n):
        a = &anno[b.idx[i]]
        iph = ip_header_of(a, &ihl, &tlen)
        iphs[i] = NULL
        if iph == NULL:
            ports[i] = e.unmapped(port)
            continue
        proto = iph[9]
        if (not (proto == IP_PROTO_TCP
                 or (mode != MODE_TCP and proto == IP_PROTO_UDP)
                 or (mode == MODE_UDP and proto == IP_PROTO_DCCP))
                or not is_first_fragment(iph) or tlen < 8):
            ports[i] = e.unmapped(port)
            continue
        iphs[i] = iph
        memcpy(&keys[i].saddr, iph + 12, 8)
        memcpy(&keys[i].sport, iph + ihl, 4)
        tags[i] = key_tag(t, &keys[i], 0 if mode == MODE_UDP else proto)
    for j in range(n + 2 * PREFETCH_AHEAD):
        if j < n and iphs[j] != NULL:
            nat_prefetch(&t.slots[tags[j] & t.slot_mask])
        if PREFETCH_AHEAD <= j < n + PREFETCH_AHEAD and iphs[j - PREFETCH_AHEAD] != NULL:
            i = j - PREFETCH_AHEAD
            refs[i] = table_candidate(t, tags[i])
            nat_prefetch(&t.flows[refs[i] >> 1])
        if j < 2 * PREFETCH_AHEAD or iphs[j - 2 * PREFETCH_AHEAD] == NULL:
            continue
        i = j - 2 * PREFETCH_AHEAD
        iph = iphs[i]
        a = &anno[b.idx[i]]
        ihl = (iph[0] & 15) << 2
        tlen = <int32_t>(a.data + a.len - iph) - <int32_t>ihl
        th = iph + ihl
        proto = iph[9]
        kproto = 0 if mode == MODE_UDP else proto
        ref = refs[i]
        # the candidate may be a tag collision, or stale after flows made
        # earlier in this batch: then look the key up properly
        if ref == 0 or not flow_matches(t, ref, &keys[i], kproto):
            ref = table_lookup(t, &keys[i], kproto)
        if ref == 0:
            kind = KIND_TCP if proto == IP_PROTO_TCP and mode != MODE_UDP else KIND_UDP
            flow = e.new_flow(port, &keys[i], kproto, proto, kind, now, a, &ports[i])
            if flow == 0:
                continue
            ref = flow << 1
        flow = ref >> 1
        d = ref & 1
        f = &t.flows[flow]
        rewrite_ip_header(f, d, iph, a, dst_anno, reply_anno)
        if proto == IP_PROTO_TCP and mode != MODE_UDP:
            if tlen >= 18:
                tcp_rewrite(t, f, d, iph, ihl, th, tlen, True)
        else:
            rewrite_ports(f, d, th)
            if proto == IP_PROTO_UDP:
                if th[6] | th[7]:       # 0: no checksum
                    update_l4_checksum(f.l4_delta, d, th + 6, True)
            elif proto == IP_PROTO_TCP and tlen >= 18:
                update_l4_checksum(f.l4_delta, d, th + 16, False)
        if f.kind == KIND_UDP:
            udp_track(f, d)
        flow_touch(t, flow, now)
        ports[i] = f.output[d]
    count_drops(e, ports, n)
    return push_by_port(e, b, ports)
