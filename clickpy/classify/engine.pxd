# cython: language_level=3
"""The packet classification matcher: C structs and the inline hot path.

Element modules `cimport` this file and call `cls_classify` once per packet,
with the program held by a `clickpy.classify._engine.CProgram`:

    from clickpy.classify.engine cimport cls_program, cls_classify
    from clickpy.classify._engine cimport CProgram
    ...
    cdef const cls_program* prog = &self.cprog.prog      # once per batch
    out = cls_classify(prog, data, end, mac, net, trans)  # per packet

`data` is where Classifier offsets count from, `end` one past the last byte.
`mac`, `net`, `trans` are the MAC, network and transport header pointers, or
NULL when unset (tests against a NULL header see a zero-length header and
take their short branch).  When `trans` is NULL but `net` is set, the
transport header is taken to start IHL*4 bytes past `net`.  The result is an
output port, or -1 to drop.

Everything here is `noexcept nogil` and touches no Python object.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from libc.string cimport memcpy

cdef enum:
    CLS_BASE_DATA = 0
    CLS_BASE_MAC = 1
    CLS_BASE_NET = 2
    CLS_BASE_TRANS = 3
    CLS_NBASES = 4
    CLS_SHORT_YES = 1      # insn flag: a packet too short for the test takes j[1]
    CLS_SWITCH = 2         # insn flag: a switch over case values (see cls_insn.value)
    CLS_RUN = -2           # cls_program.everything: the result depends on the packet
    # both jumps of a SWITCH insn: its test leaves the loop through the output
    # test (j <= 0), so a plain insn pays no test for switches
    CLS_SWITCH_JUMP = -0x7FFFFFFF - 1

ctypedef struct cls_insn:
    uint16_t offset        # bytes past the base pointer
    uint8_t base           # CLS_BASE_*
    uint8_t flags          # CLS_SHORT_YES | CLS_SWITCH
    uint8_t need           # bytes from offset the packet must have for the test
    uint8_t pad0
    uint16_t pad1
    int32_t j[2]           # j[0] = no, j[1] = yes: > 0 the next insn, as its byte
                           # offset from the first; <= 0 output -j-1; both
                           # CLS_SWITCH_JUMP in a SWITCH insn
    uint64_t mask          # 8 bytes at offset, in memory order: (load64(p) & mask) == value
    uint64_t value         # SWITCH: index s in sw_values/sw_targets: sw_values[s] = case
                           # count, sw_targets[s] = the no-match jump, cases from s + 1

ctypedef struct cls_program:
    const cls_insn* insns
    const uint64_t* sw_values    # SWITCH case values, sorted per insn (memory order)
    const int32_t* sw_targets    # and their jumps
    int32_t ninsns
    int32_t everything     # CLS_RUN, or the constant result (-1 = drop)
    uint32_t bases         # bit b set if some insn reads base b
    int32_t safe[4]        # per base: packets at least this long need no checks
    int32_t branchy        # fast path: predicted branches instead of a select


cdef inline int32_t _cls_switch(const cls_program* prog, const cls_insn* ins,
                                uint64_t w) noexcept nogil:
    cdef int32_t s = <int32_t>ins.value
    cdef int32_t lo = s + 1
    cdef int32_t hi = lo + <int32_t>prog.sw_values[s]
    cdef int32_t mid
    cdef uint64_t v
    while lo < hi:
        mid = (lo + hi) >> 1
        v = prog.sw_values[mid]
        if v == w:
            return prog.sw_targets[mid]
        if v < w:
            lo = mid + 1
        else:
            hi = mid
    return prog.sw_targets[s]


cdef inline int _cls_run_fast(const cls_program* prog, const uint8_t** b) noexcept nogil:
    # every base is long enough for every instruction: no length checks
    cdef const cls_insn* insns = prog.insns
    cdef const cls_insn* ins = insns
    cdef uint64_t w
    cdef int32_t j
    while True:
        memcpy(&w, b[ins.base] + ins.offset, 8)
        w &= ins.mask
        j = ins.j[w == ins.value]
        if j <= 0:
            if j != CLS_SWITCH_JUMP:
                return -j - 1
            j = _cls_switch(prog, ins, w)
            if j <= 0:
                return -j - 1
        ins = <const cls_insn*>(<const uint8_t*>insns + j)


cdef inline int _cls_run_fast_branchy(const cls_program* prog, const uint8_t** b) noexcept nogil:
    # as _cls_run_fast, but the CPU predicts each test's outcome: long rule
    # lists, where most tests fail, then run tests in parallel
    cdef const cls_insn* insns = prog.insns
    cdef const cls_insn* ins = insns
    cdef uint64_t w
    cdef int32_t j
    while True:
        memcpy(&w, b[ins.base] + ins.offset, 8)
        w &= ins.mask
        if w == ins.value:
            j = ins.j[1]
        else:
            j = ins.j[0]
        if j <= 0:
            if j != CLS_SWITCH_JUMP:
                return -j - 1
            j = _cls_switch(prog, ins, w)
            if j <= 0:
                return -j - 1
        ins = <const cls_insn*>(<const uint8_t*>insns + j)


cdef inline int _cls_run_checked(const cls_program* prog, const uint8_t** b,
                                 const Py_ssize_t* avail) noexcept nogil:
    # some header is shorter than the program's safe length: check each test
    cdef const cls_insn* insns = prog.insns
    cdef const cls_insn* ins = insns
    cdef uint64_t w
    cdef int32_t j
    cdef Py_ssize_t have
    while True:
        have = avail[ins.base] - ins.offset
        if have < ins.need:
            if ins.flags & CLS_SWITCH:
                j = prog.sw_targets[ins.value]      # too short for any case
            else:
                j = ins.j[ins.flags & CLS_SHORT_YES]
        else:
            if have >= 8:
                memcpy(&w, b[ins.base] + ins.offset, 8)
            else:
                w = 0
                memcpy(&w, b[ins.base] + ins.offset, <size_t>have)
            w &= ins.mask
            j = ins.j[w == ins.value]
            if j == CLS_SWITCH_JUMP:
                j = _cls_switch(prog, ins, w)
        if j <= 0:
            return -j - 1
        ins = <const cls_insn*>(<const uint8_t*>insns + j)


cdef inline int cls_classify(const cls_program* prog, const uint8_t* data,
                             const uint8_t* end, const uint8_t* mac,
                             const uint8_t* net, const uint8_t* trans) noexcept nogil:
    cdef const uint8_t* b[4]
    cdef Py_ssize_t avail[4]
    cdef int k
    if prog.everything != CLS_RUN:
        return prog.everything
    if trans == NULL and net != NULL and net < end:
        trans = net + ((net[0] & 0x0F) << 2)
    b[0] = data
    b[1] = mac
    b[2] = net
    b[3] = trans
    # common case: every header the program reads is long enough
    if ((prog.safe[0] == 0 or (data != NULL and end - data >= prog.safe[0]))
            and (prog.safe[1] == 0 or (mac != NULL and end - mac >= prog.safe[1]))
            and (prog.safe[2] == 0 or (net != NULL and end - net >= prog.safe[2]))
            and (prog.safe[3] == 0 or (trans != NULL and end - trans >= prog.safe[3]))):
        if prog.branchy:
            return _cls_run_fast_branchy(prog, b)
        return _cls_run_fast(prog, b)
    for k in range(4):
        if b[k] != NULL and b[k] < end:
            avail[k] = end - b[k]
        else:
            avail[k] = 0
    return _cls_run_checked(prog, b, avail)


cdef inline int cls_run_safe(const cls_program* prog, const uint8_t** bases) noexcept nogil:
    """Run prog on a packet whose headers the caller has checked: for every
    base b that prog reads (bit b of prog.bases), bases[b] is set and has at
    least prog.safe[b] bytes before the packet's end. A batch loop can check
    just the bases its programs use and take cls_classify otherwise. Only
    valid when prog.everything == CLS_RUN."""
    if prog.branchy:
        return _cls_run_fast_branchy(prog, bases)
    return _cls_run_fast(prog, bases)


cdef inline int cls_run_on(const cls_program* prog, const cls_insn* insns, const uint8_t* p,
                           bint branchy, bint switches) noexcept nogil:
    """Run prog, whose instructions all read one header, on a packet whose
    header at p has at least prog.safe bytes of that header before the
    packet's end (the caller checked): cls_run_safe without a base pointer
    per instruction. `insns` is prog.insns, which a batch loop keeps in a
    register (its stores could alias prog). `branchy` is prog.branchy and
    `switches` whether prog has SWITCH instructions, constants at each call
    site: a loop without switches leaves the registers of the binary search
    to its caller. Only valid when prog.everything == CLS_RUN."""
    cdef const cls_insn* ins = insns
    cdef uint64_t w
    cdef int32_t j
    while True:
        memcpy(&w, p + ins.offset, 8)
        w &= ins.mask
        if branchy:
            if w == ins.value:
                j = ins.j[1]
            else:
                j = ins.j[0]
        else:
            j = ins.j[w == ins.value]
        if j <= 0:
            if not switches or j != CLS_SWITCH_JUMP:
                return -j - 1
            j = _cls_switch(prog, ins, w)
            if j <= 0:
                return -j - 1
        ins = <const cls_insn*>(<const uint8_t*>insns + j)


cdef inline int classify(const cls_program* prog, const uint8_t* data,
                         const uint8_t* end, const uint8_t* mac,
                         const uint8_t* net, const uint8_t* trans) noexcept nogil:
    """Alias of cls_classify."""
    return cls_classify(prog, data, end, mac, net, trans)
