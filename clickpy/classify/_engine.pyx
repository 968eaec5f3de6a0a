# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Program container for the C matcher, and test/benchmark entry points.

    from clickpy.classify import compile_ipfilter
    from clickpy.classify._engine import CProgram, match_bytes
    cp = CProgram(compile_ipfilter(["allow udp && dst port 53", "deny all"], 1))
    match_bytes(cp, ip_packet_bytes, net=0)    # -> 0, or -1 for drop
"""
import sys

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t
from clickpy.classify.engine cimport (cls_program, cls_insn, cls_classify, CLS_RUN,
                                      CLS_SHORT_YES, CLS_SWITCH, CLS_SWITCH_JUMP)

_LITTLE = sys.byteorder == "little"


cdef inline uint64_t _mem64(object v):
    """8 bytes as a big-endian integer -> the uint64 that memcpy of them gives."""
    v = int(v) & 0xFFFFFFFFFFFFFFFF
    if _LITTLE:
        v = int.from_bytes(v.to_bytes(8, "big"), "little")
    return <uint64_t>v


cdef inline int32_t _jump(int32_t target):
    """An instruction index (> 0) as the matcher's jump: its byte offset from
    the first instruction (no scaling per step); outputs (<= 0) as they are."""
    return target * <int32_t>sizeof(cls_insn) if target > 0 else target


# Measured on this machine class (bench/classify_bench.py): letting the CPU
# predict each test's outcome beat a branch-free select at every program size,
# on repeated and on random traffic; the select is kept as an option.
BRANCHY_MIN_INSNS = 0


cdef class CProgram:
    def __cinit__(self, program, branchy=None):
        """branchy: predicted branches (default) or, if False, a branch-free
        select of the next instruction."""
        cdef Py_ssize_t n, ncases, k, c
        cdef cls_insn* ins
        self.program = program
        memset(&self.prog, 0, sizeof(cls_program))
        insns = program.insns
        n = len(insns)
        ncases = sum(len(i.cases) + 1 for i in insns if i.cases)     # each switch: a header, its cases
        self._insns = <cls_insn*>malloc(max(n, 1) * sizeof(cls_insn))
        self._sw_values = <uint64_t*>malloc(max(ncases, 1) * sizeof(uint64_t))
        self._sw_targets = <int32_t*>malloc(max(ncases, 1) * sizeof(int32_t))
        if self._insns == NULL or self._sw_values == NULL or self._sw_targets == NULL:
            raise MemoryError()
        memset(self._insns, 0, max(n, 1) * sizeof(cls_insn))
        if n >= 0x7FFFFFFF // sizeof(cls_insn):
            raise ValueError("program too long")
        c = 0
        for k in range(n):
            i = insns[k]
            ins = &self._insns[k]
            if not (0 <= i.offset <= 0xFFFF and 1 <= i.need <= 255 and 0 <= i.base < 4):
                raise ValueError(f"bad instruction {i}")
            ins.offset = i.offset
            ins.base = i.base
            ins.need = i.need
            ins.mask = _mem64(i.mask)
            ins.flags = CLS_SHORT_YES if i.short else 0
            if i.cases:
                ins.flags = CLS_SWITCH
                cases = sorted((_mem64(v), t) for v, t in i.cases)
                ins.value = c
                ins.j[0] = ins.j[1] = CLS_SWITCH_JUMP
                self._sw_values[c] = len(cases)
                self._sw_targets[c] = _jump(i.no)
                c += 1
                for v, t in cases:
                    self._sw_values[c] = v
                    self._sw_targets[c] = _jump(t)
                    c += 1
            else:
                ins.value = _mem64(i.value)
                ins.j[0] = _jump(i.no)
                ins.j[1] = _jump(i.yes)
            for t in ([i.no] + ([i.yes] if not i.cases else []) + [t for _, t in i.cases]):
                if t > 0 and not (k < t < n):
                    raise ValueError(f"instruction {k} jumps to {t}")
            self.prog.bases |= 1u << i.base
        self.prog.insns = self._insns
        self.prog.sw_values = self._sw_values
        self.prog.sw_targets = self._sw_targets
        self.prog.ninsns = n
        if program.output_everything is not None or n == 0:
            oe = program.output_everything
            self.prog.everything = -1 if oe is None else oe
        else:
            self.prog.everything = CLS_RUN
        for k in range(4):
            self.prog.safe[k] = program.safe[k]
        if branchy is None:
            branchy = n >= BRANCHY_MIN_INSNS
        self.prog.branchy = 1 if branchy else 0

    def __dealloc__(self):
        free(self._insns)
        free(self._sw_values)
        free(self._sw_targets)

    def __len__(self):
        return self.prog.ninsns

    def dump(self):
        return self.program.dump()


cdef inline const uint8_t* _ptr(const uint8_t* base, object off):
    if off is None:
        return NULL
    return base + <Py_ssize_t>off


def match_bytes(CProgram program, bytes packet, data=0, mac=None, net=None, trans=None):
    """Classify one packet held in `packet`; the header arguments are byte
    offsets into it (None = header pointer unset).  Returns the output port,
    or -1 for drop."""
    cdef const uint8_t* buf = <const uint8_t*>PyBytes_AS_STRING(packet)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(packet)
    for o in (data, mac, net, trans):
        if o is not None and not (0 <= o <= n):
            raise ValueError("header offset outside the packet")
    return cls_classify(&program.prog, _ptr(buf, data), buf + n, _ptr(buf, mac),
                        _ptr(buf, net), _ptr(buf, trans))


def run_batch(CProgram program, const uint8_t[:, ::1] frames, const int32_t[::1] lengths,
              int net_offset=-1, int mac_offset=-1, int trans_offset=-1,
              int repeat=1, int32_t[::1] results=None):
    """Classify every row of `frames` (row i holds a packet of lengths[i] bytes),
    `repeat` times, with no Python per packet.  Header offsets are per batch
    (-1 = unset).  Returns the total of the outputs (drop counts as -1), for
    benchmarks; the per-packet outputs go into `results` if given."""
    cdef Py_ssize_t npk = frames.shape[0], i
    cdef int r, out
    cdef int64_t total = 0
    cdef const uint8_t* p
    cdef const cls_program* prog = &program.prog
    if lengths.shape[0] < npk:
        raise ValueError("lengths too short")
    if results is not None and results.shape[0] < npk:
        raise ValueError("results too short")
    for i in range(npk):
        if lengths[i] < 0 or lengths[i] > frames.shape[1]:
            raise ValueError("bad length")
    with nogil:
        for r in range(repeat):
            for i in range(npk):
                p = &frames[i, 0]
                out = cls_classify(prog, p, p + lengths[i],
                                   p + mac_offset if mac_offset >= 0 else NULL,
                                   p + net_offset if net_offset >= 0 else NULL,
                                   p + trans_offset if trans_offset >= 0 else NULL)
                total += out
                if results is not None:
                    results[i] = out
    return total
