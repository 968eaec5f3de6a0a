# The packet path shared by IPClassifier and IPFilter (not an element).

cdef enum:
    # programs that read only the network and transport headers take the
    # short path: two length checks, then the engine's unchecked run
    IP_ONLY_BASES = (1 << CLS_BASE_NET) | (1 << CLS_BASE_TRANS)


cdef inline int32_t classify_packet(const cls_program* prog, Anno* a) noexcept nogil:
    """The output for one packet (-1: drop), with every header the program
    may read taken from the packet's annotations."""
    cdef uint8_t* head = a.data - a.headroom
    return cls_classify(prog, a.data, a.data + a.len,
                        head + a.mac_off if a.mac_off >= 0 else NULL,
                        head + a.net_off if a.net_off >= 0 else NULL,
                        head + a.trans_off if a.trans_off >= 0 else NULL)


cdef inline int32_t ip_output_of(const cls_program* prog, Anno* a, int32_t safe_net,
                                int32_t safe_trans) noexcept nogil:
    """classify_packet for a program that reads only the network and
    transport headers (safe_net, safe_trans: its safe lengths): unchecked
    when both headers are set and long enough for it."""
    cdef const uint8_t* bases[4]
    cdef int32_t net = a.net_off, trans = a.trans_off
    cdef int32_t span = <int32_t>(a.headroom + a.len)
    cdef uint8_t* head
    # offsets set (not negative), and the bytes the program reads there:
    # four signs, one test
    if (net | trans | (span - net - safe_net) | (span - trans - safe_trans)) >= 0:
        head = a.data - a.headroom
        bases[CLS_BASE_NET] = head + net
        bases[CLS_BASE_TRANS] = head + trans
        return cls_run_safe(prog, bases)
    return classify_packet(prog, a)


cdef enum:
    UNCLASSIFIED = -4            # first pass of classify_batch: left for the second


cdef void classify_rest(const cls_program* prog, bint ip_only, Anno* anno, Batch* b,
                        int32_t* outs) noexcept nogil:
    """The second pass of IPClassification._classify_batch, out of line so
    that the first keeps its variables in registers: packets marked
    UNCLASSIFIED get the program with two header pointers, unchecked if
    they are long enough, else checked."""
    cdef int32_t safe_net = prog.safe[CLS_BASE_NET]
    cdef int32_t safe_trans = prog.safe[CLS_BASE_TRANS]
    cdef uint32_t i
    for i in range(b.n):
        if outs[i] == UNCLASSIFIED:
            if ip_only:
                outs[i] = ip_output_of(prog, &anno[b.idx[i]], safe_net, safe_trans)
            else:
                outs[i] = classify_packet(prog, &anno[b.idx[i]])


cdef inline bint classify_on_ip_header(const cls_program* flat, Anno* anno, Batch* b, int32_t* outs,
                                       bint branchy, bint switches) noexcept nogil:
    """The first pass of _classify_batch for a program that reads only the
    IP headers, as `flat` (Program.on_network_header): outs[i] = the output
    of packet i when its transport header follows a 20-byte IP header and
    the packet is long enough for the program, else UNCLASSIFIED. Returns
    true if some packet is left. `branchy` and `switches` are cls_run_on's,
    constants at each call site."""
    cdef int64_t safe = flat.safe[CLS_BASE_NET]
    cdef const cls_insn* insns = flat.insns
    cdef int32_t net
    cdef uint32_t i
    cdef bint left = False
    cdef Anno* a
    for i in range(b.n):
        a = &anno[b.idx[i]]
        net = a.net_off
        # no IP options, and the header set with the bytes the program reads
        # (net taken unsigned: an unset header's -1 is past any packet's end)
        if (a.trans_off == net + IP_MIN_HEADER
                and <int64_t>(a.headroom + a.len) - safe >= <int64_t><uint32_t>net):
            outs[i] = cls_run_on(flat, insns, a.data - a.headroom + net, branchy, switches)
        else:
            outs[i] = UNCLASSIFIED
            left = True
    return left


cdef class IPClassification(Element):
    """Runs a compiled classification program over each batch: one C call per
    packet (no Python), then the packets go out by output, in order. With a
    single output the batch is compacted in place (no second batch).
    Programs that read only the IP headers run on packets without IP
    options from one pointer, the network header's (see
    Program.on_network_header)."""

    port_count = "1/-"
    processing = "h/h"

    cdef CProgram cprog
    cdef CProgram flat          # ip_only programs as read from the network header
    cdef object program
    cdef bint ip_only           # the program reads only the network and transport headers
    cdef bint switches          # the program has SWITCH instructions

    def _install(self, program):
        self.program = program
        self.cprog = CProgram(program)
        self.ip_only = (self.cprog.prog.bases & ~IP_ONLY_BASES) == 0
        self.flat = CProgram(program.on_network_header(IP_MIN_HEADER)) if self.ip_only else None
        self.switches = any(i.cases for i in program.insns)

    cdef int _classify_batch(self, Batch* b, int32_t* outs) except -1:
        """outs[i] = output of packet i (-1: drop)."""
        cdef const cls_program* prog = &self.cprog.prog
        cdef Anno* anno = self.pool.anno
        cdef bint left = True
        cdef uint32_t i
        if self.ip_only:
            # a loop per kind of program, its kind as constants
            if self.flat.prog.branchy and self.switches:
                left = classify_on_ip_header(&self.flat.prog, anno, b, outs, True, True)
            elif self.flat.prog.branchy:
                left = classify_on_ip_header(&self.flat.prog, anno, b, outs, True, False)
            elif self.switches:
                left = classify_on_ip_header(&self.flat.prog, anno, b, outs, False, True)
            else:
                left = classify_on_ip_header(&self.flat.prog, anno, b, outs, False, False)
        else:
            for i in range(b.n):
                outs[i] = UNCLASSIFIED
        if left:
            classify_rest(prog, self.ip_only, anno, b, outs)
        return 0

    cdef int push(self, int port, Batch* b) except -1:
        cdef const cls_program* prog = &self.cprog.prog
        cdef PacketPool pool = self.pool
        cdef int32_t outs[BATCH_MAX]
        cdef int32_t nout = self.noutputs
        cdef uint32_t i, k = 0, x
        cdef int32_t any_other = 0
        if prog.everything != CLS_RUN:
            if 0 <= prog.everything < nout:
                return self.output_push(prog.everything, b)
            pool.free_batch(b)
            return 0
        self._classify_batch(b, outs)
        if nout == 1:
            for i in range(b.n):        # vectorized: is every packet for output 0?
                any_other |= outs[i]
            if any_other == 0:
                return self.output_push(0, b) if b.n else 0
            for i in range(b.n):
                x = b.idx[i]
                if outs[i] == 0:
                    if k != i:          # compact only once something was dropped
                        b.idx[k] = x
                    k += 1
                else:
                    pool.free(x)
            b.n = k
            if k:
                return self.output_push(0, b)
            return 0
        for i in range(b.n):
            if outs[i] >= nout:
                outs[i] = -1
        return push_by_port(self, b, outs)

    def add_handlers(self):
        self.add_read_handler("program", lambda: self.program.dump())
