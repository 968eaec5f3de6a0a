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


cdef class IPClassification(Element):
    """Runs a compiled classification program over each batch: one C call per
    packet (no Python), then the packets go out by output, in order. With a
    single output the batch is compacted in place (no second batch)."""

    port_count = "1/-"
    processing = "h/h"

    cdef CProgram cprog
    cdef object program
    cdef bint ip_only           # the program reads only the network and transport headers

    def _install(self, program):
        self.program = program
        self.cprog = CProgram(program)
        self.ip_only = (self.cprog.prog.bases & ~IP_ONLY_BASES) == 0

    cdef int _classify_batch(self, Batch* b, int32_t* ports) except -1:
        """ports[i] = output of packet i (-1: drop)."""
        cdef const cls_program* prog = &self.cprog.prog
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef const uint8_t* bases[4]
        cdef int32_t span
        cdef uint8_t* head
        cdef int32_t safe_net = prog.safe[CLS_BASE_NET]
        cdef int32_t safe_trans = prog.safe[CLS_BASE_TRANS]
        cdef uint32_t i
        if not self.ip_only:
            for i in range(b.n):
                ports[i] = classify_packet(prog, &anno[b.idx[i]])
            return 0
        bases[CLS_BASE_DATA] = NULL
        bases[CLS_BASE_MAC] = NULL
        for i in range(b.n):
            a = &anno[b.idx[i]]
            # bytes from each header to the end of the packet (negative if unset)
            span = <int32_t>(a.headroom + a.len)
            if ((a.net_off | a.trans_off) >= 0 and span - a.net_off >= safe_net
                    and span - a.trans_off >= safe_trans):
                head = a.data - a.headroom
                bases[CLS_BASE_NET] = head + a.net_off
                bases[CLS_BASE_TRANS] = head + a.trans_off
                ports[i] = cls_run_safe(prog, bases)
            else:
                ports[i] = classify_packet(prog, a)
        return 0

    cdef int push(self, int port, Batch* b) except -1:
        cdef const cls_program* prog = &self.cprog.prog
        cdef PacketPool pool = self.pool
        cdef int32_t ports[BATCH_MAX]
        cdef int32_t nout = self.noutputs
        cdef uint32_t i, k
        if prog.everything != CLS_RUN:
            if 0 <= prog.everything < nout:
                return self.output_push(prog.everything, b)
            pool.free_batch(b)
            return 0
        self._classify_batch(b, ports)
        if nout == 1:
            k = 0
            for i in range(b.n):
                if ports[i] == 0:
                    b.idx[k] = b.idx[i]
                    k += 1
                else:
                    pool.free(b.idx[i])
            b.n = k
            if k:
                return self.output_push(0, b)
            return 0
        for i in range(b.n):
            if ports[i] >= nout:
                ports[i] = -1
        return push_by_port(self, b, ports)

    def add_handlers(self):
        self.add_read_handler("program", lambda: self.program.dump())
