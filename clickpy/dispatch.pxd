# cython: language_level=3
"""Sending packets of one batch out of several outputs (inline, for element groups).

Elements that sort packets between outputs (route lookups, header checks
with a reject output, the IP output combo) decide a port per packet in a
tight loop, then hand the result to these helpers once per batch.
"""
from libc.stdint cimport uint32_t, int32_t
from libc.string cimport memcpy
from clickpy.packet cimport Batch
from clickpy.element cimport Element


cdef inline void take_out(Batch* b, const uint32_t* at, uint32_t n, uint32_t* taken) noexcept nogil:
    """Take the packets at the n increasing positions `at` out of b (the
    others keep their order); taken[j] gets the packet that was at at[j].
    A batch loop that rejects few packets records their positions and calls
    this after the loop, rather than compacting the batch as it goes."""
    cdef uint32_t i, j, k
    if n == 0:
        return
    for j in range(n):
        taken[j] = b.idx[at[j]]
    k = at[0]
    j = 1
    for i in range(at[0] + 1, b.n):
        if j < n and i == at[j]:
            j += 1
        else:
            b.idx[k] = b.idx[i]
            k += 1
    b.n = k


cdef inline int emit_list(Element e, int port, const uint32_t* xs, uint32_t n) except -1:
    """Send the n packets listed in xs out of `port`, or free them when the
    element has no such output (Click's optional outputs)."""
    cdef Batch* ob
    cdef uint32_t i
    if n == 0:
        return 0
    if port >= e.noutputs:
        for i in range(n):
            e.pool.free(xs[i])
        return 0
    ob = e.pool.batch_get()
    memcpy(ob.idx, xs, n * sizeof(uint32_t))
    ob.n = n
    try:
        e.output_push(port, ob)
    finally:
        e.pool.batch_put(ob)
    return 0


cdef inline int push_by_port(Element e, Batch* b, int32_t* ports) except -1:
    """Send packet i of b out of output ports[i]; a negative port frees it.
    A batch bound for one output goes on as it is; otherwise each output gets
    one batch, in the order of the packets. b is left empty. `ports` is
    scratch: its contents are destroyed."""
    cdef uint32_t i, j, n = b.n
    cdef int32_t p = ports[0] if n else -1
    cdef Batch* ob
    for i in range(1, n):
        if ports[i] != p:
            break
    else:
        if p >= 0 and n:
            return e.output_push(p, b)
    for i in range(n):
        if ports[i] < 0:
            e.pool.free(b.idx[i])
    i = 0
    while i < n:              # once per output used, not per packet
        p = ports[i]
        if p >= 0:
            ob = e.pool.batch_get()
            for j in range(i, n):
                if ports[j] == p:
                    ob.idx[ob.n] = b.idx[j]
                    ob.n += 1
                    ports[j] = -1
            try:
                e.output_push(p, ob)
            finally:
                e.pool.batch_put(ob)
        i += 1
    b.n = 0
    return 0
