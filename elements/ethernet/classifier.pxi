# EXPORT_ELEMENT Classifier

from clickpy.classify.engine cimport (cls_program, cls_insn, cls_classify, cls_run_safe, CLS_RUN,
                                      CLS_BASE_DATA, CLS_SWITCH)
from clickpy.classify._engine cimport CProgram


cdef enum:
    OUTPUTS_DIFFER = -3          # classify_batch: the packets of a batch take different outputs
    UNCLASSIFIED = -4            # classify_batch's first pass: left for the checked run


cdef void classify_checked(const cls_program* prog, Anno* anno, Batch* b, int32_t* outs) noexcept nogil:
    """The second pass of classify_batch, out of line so that the first
    pass's loops keep their variables in registers: packets marked
    UNCLASSIFIED get the run that checks every read against their length."""
    cdef uint32_t i
    cdef Anno* a
    for i in range(b.n):
        if outs[i] == UNCLASSIFIED:
            a = &anno[b.idx[i]]
            outs[i] = cls_classify(prog, a.data, a.data + a.len, NULL, NULL, NULL)


cdef inline int32_t classify_batch(const cls_program* prog, Anno* anno, Batch* b, int32_t* outs) noexcept nogil:
    """outs[i] = the output of packet i of the non-empty batch b (-1: no
    pattern matched). Returns the output every packet takes if they all take
    the same one, else OUTPUTS_DIFFER. Packets at least as long as the
    program's safe length are classified without length checks first; the
    others (rare) in a second pass."""
    cdef const cls_insn* test = prog.insns
    cdef int32_t safe = prog.safe[CLS_BASE_DATA]
    cdef uint32_t i, n = b.n
    cdef int32_t first, differ = 0
    cdef int32_t yes_out, no_out
    cdef uint32_t offset
    cdef uint64_t w, mask, value
    cdef bint short_ones = False
    cdef Anno* a
    cdef const uint8_t* d
    if prog.bases == (1 << CLS_BASE_DATA) and prog.ninsns == 1 and not (test.flags & CLS_SWITCH):
        # one test on the packet data (`12/0800` against `-`): no interpreter
        yes_out = -test.j[1] - 1
        no_out = -test.j[0] - 1
        offset = test.offset
        mask = test.mask
        value = test.value
        for i in range(n):
            a = &anno[b.idx[i]]
            if <int32_t>a.len >= safe:
                memcpy(&w, a.data + offset, 8)
                outs[i] = yes_out if (w & mask) == value else no_out
            else:
                outs[i] = UNCLASSIFIED
                short_ones = True
    elif prog.bases == (1 << CLS_BASE_DATA):
        # Classifier patterns read only the data: one length test per packet
        for i in range(n):
            a = &anno[b.idx[i]]
            d = a.data
            if <int32_t>a.len >= safe:
                outs[i] = cls_run_safe(prog, &d)
            else:
                outs[i] = UNCLASSIFIED
                short_ones = True
    else:
        for i in range(n):
            outs[i] = UNCLASSIFIED
        short_ones = True
    if short_ones:
        classify_checked(prog, anno, b, outs)
    first = outs[0]
    for i in range(1, n):
        differ |= outs[i] ^ first
    return OUTPUTS_DIFFER if differ else first


cdef class Classifier(Element):
    """Classifier(PATTERN1, ..., PATTERNn)

    Classifies packets by their contents.

    Ports: 1 input, n outputs (one per pattern). Processing: push.

    Each pattern is a set of clauses `OFFSET/VALUE` or `OFFSET/VALUE%MASK`,
    separated by spaces: the packet must have VALUE (hex, two digits a
    byte, `?` for a nibble that does not matter) at byte OFFSET (decimal,
    from the start of the packet data), comparing only the bits set in MASK
    if given. A clause preceded by `!` must not match. The pattern `-`
    matches every packet. A packet goes to the output of the first pattern
    it matches, and is dropped if it matches none. A packet too short for a
    clause does not match it (so it matches the clause's negation), as in
    Click.

    All patterns are compiled together into one decision program: common
    tests are shared and tests whose outcome earlier tests already decide
    are skipped, so a packet is examined once, not once per pattern. The
    `program` handler shows the result. Patterns that can match no packet
    are reported as warnings.

    Handlers:
      program (read)  the compiled decision program
      drops (read)    packets that matched no pattern

    Example:
      Classifier(12/0806 20/0001,   // ARP requests
                 12/0806 20/0002,   // ARP replies
                 12/0800,           // IP
                 -);                // everything else
    """

    port_count = "1/-"
    processing = "h/h"

    cdef CProgram cprog
    cdef int32_t* slot_of_port       # scratch: output -> slot of this batch, -1 if none yet
    cdef readonly uint64_t drops

    def __dealloc__(self):
        c_free(self.slot_of_port)

    def configure(self, args):
        from clickpy.classify import ClassifyError, compile_classifier
        from clickpy.classify._engine import CProgram as MakeCProgram
        from clickpy.lang.strings import unquote
        patterns = [unquote(p) for p in args.rest()]
        if len(patterns) != self.noutputs:
            raise self.error(f"need {self.noutputs} arguments, one per output port "
                             f"(got {len(patterns)})")
        try:
            program = compile_classifier(patterns)
        except ClassifyError as e:
            where = f"pattern {e.index}" if e.index >= 0 else "pattern"
            if e.column >= 0:
                where += f" ('{patterns[e.index]}' column {e.column + 1})" if e.index >= 0 else f", column {e.column + 1}"
            raise self.error(f"{where}: {e.message}") from None
        for w in program.warnings:
            self.warn(w[0])
        self.cprog = MakeCProgram(program)

    def initialize(self):
        cdef int i
        self.slot_of_port = <int32_t*>malloc(max(self.noutputs, 1) * sizeof(int32_t))
        if self.slot_of_port == NULL:
            raise MemoryError()
        for i in range(self.noutputs):
            self.slot_of_port[i] = -1

    cdef int push(self, int port, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef const cls_program* prog = &self.cprog.prog
        cdef int32_t outs[BATCH_MAX]
        cdef Batch* slot_batch[BATCH_MAX]
        cdef int32_t slot_port[BATCH_MAX]
        cdef int nslots = 0, s
        cdef uint32_t i, n = b.n, x
        cdef int32_t out, first
        if n == 0:
            return 0
        if prog.everything != CLS_RUN:
            # one output for every packet (a lone `-`, or patterns that decide nothing)
            if prog.everything < 0:
                self.drops += n
                pool.free_batch(b)
                return 0
            return self.output_push(prog.everything, b)
        first = classify_batch(prog, anno, b, outs)
        if first != OUTPUTS_DIFFER:
            if first < 0:
                self.drops += n
                pool.free_batch(b)
                return 0
            return self.output_push(first, b)
        # scatter into one batch per output, then push them (in the order the
        # outputs first appear), so a re-entrant push finds the scratch map clean
        try:
            for i in range(n):
                x = b.idx[i]
                out = outs[i]
                if out < 0:
                    pool.free(x)
                    self.drops += 1
                    continue
                s = self.slot_of_port[out]
                if s < 0:
                    s = nslots
                    slot_batch[s] = pool.batch_get()
                    slot_port[s] = out
                    self.slot_of_port[out] = s
                    nslots += 1
                slot_batch[s].idx[slot_batch[s].n] = x
                slot_batch[s].n += 1
            b.n = 0
            for s in range(nslots):
                self.slot_of_port[slot_port[s]] = -1
            for s in range(nslots):
                self.output_push(slot_port[s], slot_batch[s])
        finally:
            for s in range(nslots):
                self.slot_of_port[slot_port[s]] = -1
                pool.batch_put(slot_batch[s])
        return 0

    def add_handlers(self):
        self.add_read_handler("program", lambda: self.cprog.program.dump())
        self.add_read_handler("drops", lambda: self.drops)
