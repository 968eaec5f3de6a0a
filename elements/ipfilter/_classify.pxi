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


cdef class IPClassification(Element):
    """Runs a compiled classification program over each batch: one C call per
    packet (no Python), then the packets go out by output, in order. With a
    single output the batch is compacted in place as it is classified (no
    second batch, no second pass)."""

    port_count = "1/-"
    processing = "h/h"

    cdef CProgram cprog
    cdef object program
    cdef bint ip_only           # the program reads only the network and transport headers

    def _install(self, program):
        self.program = program
        self.cprog = CProgram(program)
        self.ip_only = (self.cprog.prog.bases & ~IP_ONLY_BASES) == 0

    cdef int push(self, int port, Batch* b) except -1:
        cdef const cls_program* prog = &self.cprog.prog
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef int32_t ports[BATCH_MAX]
        cdef int32_t nout = self.noutputs
        cdef int32_t safe_net = prog.safe[CLS_BASE_NET]
        cdef int32_t safe_trans = prog.safe[CLS_BASE_TRANS]
        cdef uint32_t i
        cdef int32_t out
        if prog.everything != CLS_RUN:
            if 0 <= prog.everything < nout:
                return self.output_push(prog.everything, b)
            pool.free_batch(b)
            return 0
        if nout == 1:
            self._filter(b)
            if b.n:
                return self.output_push(0, b)
            return 0
        for i in range(b.n):
            if self.ip_only:
                out = ip_output_of(prog, &anno[b.idx[i]], safe_net, safe_trans)
            else:
                out = classify_packet(prog, &anno[b.idx[i]])
            ports[i] = out if out < nout else -1
        return push_by_port(self, b, ports)

    cdef int _filter(self, Batch* b) except -1:
        """One output: keep the packets for output 0, in order, and free the others."""
        cdef const cls_program* prog = &self.cprog.prog
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef int32_t safe_net = prog.safe[CLS_BASE_NET]
        cdef int32_t safe_trans = prog.safe[CLS_BASE_TRANS]
        cdef uint32_t i, k = 0, x
        # a loop per kind of program rather than a test per packet
        if self.ip_only:
            for i in range(b.n):
                x = b.idx[i]
                if ip_output_of(prog, &anno[x], safe_net, safe_trans) == 0:
                    if k != i:          # compact only once something was dropped
                        b.idx[k] = x
                    k += 1
                else:
                    pool.free(x)
        else:
            for i in range(b.n):
                x = b.idx[i]
                if classify_packet(prog, &anno[x]) == 0:
                    if k != i:
                        b.idx[k] = x
                    k += 1
                else:
                    pool.free(x)
        b.n = k
        return 0

    def add_handlers(self):
        self.add_read_handler("program", lambda: self.program.dump())
