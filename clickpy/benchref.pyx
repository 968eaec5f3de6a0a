# cython: language_level=3
"""C reference loops for the benchmarks (bench/report.py).

Each loop does a benchmark pipeline's packet work with the project's own
pool operations but without the element framework (no tasks, no batches
from the freelist, no calls between elements, no notifiers): per batch it
reads the wall clock once (the source's timestamp), pops buffers,
initializes their annotations and copies the template into them, counts
packets and bytes, and frees them; for (d) the indices also pass through a
ring as a queue keeps them; (b) and (c) do each packet's IPv4 work in one
pass with the inline helpers the elements use. The ratio of a config's rate to its loop's rate
is the cost of the framework.
"""
from libc.stdint cimport uint8_t, uint32_t, int32_t, uint64_t
from libc.stdlib cimport malloc, free as c_free
from libc.string cimport memcpy, memset
from clickpy.packet cimport (PacketPool, Anno, Batch, BATCH_MAX, COPY_SLACK, HEADROOM, BUF_SIZE,
                             DST_IP_ANNO, load_be16, ring_put, ring_take)
from clickpy.element cimport monotonic_ns, realtime_ns
from clickpy.ipv4 cimport (IP_MIN_HEADER, IP_OFFMASK, IP_PROTO_TCP, IP_PROTO_UDP, copy_dst_ip_anno,
                           ip_decrement_ttl, ip_header_checksum_ok)


cdef uint8_t* _template(bytes data) except NULL:
    cdef uint8_t* t
    if len(data) + HEADROOM + COPY_SLACK > BUF_SIZE:
        raise ValueError("template too long")
    t = <uint8_t*>malloc(max(len(data), 32) + COPY_SLACK)      # what alloc_batch may read
    if t == NULL:
        raise MemoryError()
    memset(t, 0, max(len(data), 32) + COPY_SLACK)
    memcpy(t, <const uint8_t*>data, len(data))
    return t


cdef inline int _make(PacketPool pool, Batch* b, int n, const uint8_t* t, uint32_t length) noexcept:
    """Pop n buffers into b and fill them with the template, timestamped (the source)."""
    return pool.alloc_batch(b, n, length, t, realtime_ns())


cdef inline uint64_t _count_and_free(PacketPool pool, Batch* b) noexcept:
    """Sum the lengths (the counter), then free every buffer (the sink)."""
    cdef Anno* anno = pool.anno
    cdef uint64_t nbytes = 0
    cdef uint32_t i
    for i in range(b.n):
        nbytes += anno[b.idx[i]].len
    pool.free_batch(b)
    return nbytes


def source_counter_discard(PacketPool pool, bytes data, uint64_t limit, int burst=BATCH_MAX):
    """Config (a) as one loop. Returns (packets, bytes, seconds)."""
    cdef uint8_t* t = _template(data)
    cdef Batch batch
    cdef uint32_t length = len(data)
    cdef uint64_t count = 0, nbytes = 0, start, end
    cdef int n
    if not 0 < burst <= BATCH_MAX:
        c_free(t)
        raise ValueError("bad burst")
    start = monotonic_ns()
    while count < limit:
        n = burst if limit - count > <uint64_t>burst else <int>(limit - count)
        n = _make(pool, &batch, n, t, length)
        if n == 0:
            break
        count += n
        nbytes += _count_and_free(pool, &batch)
    end = monotonic_ns()
    c_free(t)
    return count, nbytes, (end - start) / 1e9


def source_queue_unqueue(PacketPool pool, bytes data, uint64_t limit, uint32_t capacity=1024,
                         int burst=BATCH_MAX):
    """Config (d) as one loop: the indices also pass through a ring of
    `capacity` packets (its size the next power of two), as Queue keeps them.
    Returns (packets, bytes, seconds)."""
    cdef uint8_t* t = _template(data)
    cdef Batch batch, out
    cdef uint32_t length = len(data)
    cdef uint32_t size = 1, mask, room, k
    cdef uint32_t* ring
    cdef uint64_t head = 0, tail = 0
    cdef uint64_t count = 0, nbytes = 0, start, end
    cdef int n
    if not 0 < burst <= BATCH_MAX or capacity == 0:
        c_free(t)
        raise ValueError("bad burst or capacity")
    while size < capacity:
        size <<= 1
    mask = size - 1
    ring = <uint32_t*>malloc(size * sizeof(uint32_t))
    if ring == NULL:
        c_free(t)
        raise MemoryError()
    start = monotonic_ns()
    while count < limit:
        n = burst if limit - count > <uint64_t>burst else <int>(limit - count)
        n = _make(pool, &batch, n, t, length)
        if n == 0:
            break
        # enqueue what fits; the rest is dropped, as Queue drops
        room = capacity - <uint32_t>(tail - head)
        if <uint32_t>n > room:
            for k in range(room, <uint32_t>n):
                pool.free(batch.idx[k])
            n = room
        ring_put(ring, mask, tail, batch.idx, n)
        tail += n
        # dequeue a burst
        k = <uint32_t>(tail - head)
        if k > <uint32_t>burst:
            k = burst
        ring_take(ring, mask, head, out.idx, k)
        head += k
        out.n = k
        count += k
        nbytes += _count_and_free(pool, &out)
    end = monotonic_ns()
    while head != tail:
        pool.free(ring[head & mask])
        head += 1
    c_free(ring)
    c_free(t)
    return count, nbytes, (end - start) / 1e9


cdef inline bint _check_ip(PacketPool pool, uint32_t x) noexcept:
    """Strip(14), then CheckIPHeader's test for a 20-byte header and its
    annotations (network and transport header, destination IP, IP length)."""
    cdef Anno* a = &pool.anno[x]
    cdef uint8_t* iph
    cdef uint32_t length
    if not pool.pull(x, 14) or a.len < IP_MIN_HEADER:
        return False
    iph = a.data
    length = load_be16(iph + 2)
    if iph[0] != 0x45 or length - IP_MIN_HEADER > a.len - IP_MIN_HEADER or not ip_header_checksum_ok(iph, 20):
        return False
    a.net_off = <int32_t>a.headroom
    a.trans_off = a.net_off + IP_MIN_HEADER
    a.len = length
    copy_dst_ip_anno(a, iph + 16)
    return True


def ip_forward(PacketPool pool, bytes data, uint64_t limit):
    """Config (b) as one loop, each packet in one pass: Classifier(12/0800),
    Strip(14), the header check, a lookup in a 65536-entry first-level table
    as RadixIPLookup makes for routes of /16 or shorter (10.0.0.0/8 to the
    counted output), DecIPTTL, EtherEncap and the counter; other packets are
    freed. Sends `limit` packets; returns (packets counted, bytes, seconds)."""
    cdef uint8_t* t = _template(data)
    cdef uint8_t* table = <uint8_t*>malloc(65536)    # /16 prefix -> output
    cdef uint8_t header[14]
    cdef Batch batch, out
    cdef Anno* a
    cdef uint8_t* iph
    cdef uint8_t* p
    cdef uint32_t length = len(data), x
    cdef uint64_t sent = 0, count = 0, nbytes = 0, start, end
    cdef int n, i
    if table == NULL:
        c_free(t)
        raise MemoryError()
    memset(table, 1, 65536)
    memset(&table[10 << 8], 0, 256)
    memcpy(header, b"\x02\x02\x02\x02\x02\x02\x01\x01\x01\x01\x01\x01\x08\x00", 14)
    start = monotonic_ns()
    while sent < limit:
        n = BATCH_MAX if limit - sent > BATCH_MAX else <int>(limit - sent)
        n = _make(pool, &batch, n, t, length)
        if n == 0:
            break
        sent += n
        out.n = 0
        for i in range(n):
            x = batch.idx[i]
            a = &pool.anno[x]
            if a.len < 14 or load_be16(a.data + 12) != 0x0800 or not _check_ip(pool, x):
                pool.free(x)
                continue
            iph = a.data
            if table[load_be16(&a.user[DST_IP_ANNO])] != 0 or iph[8] <= 1:
                pool.free(x)
                continue
            ip_decrement_ttl(iph)
            p = pool.push(x, 14)
            if p == NULL:
                pool.free(x)
                continue
            memcpy(p, header, 14)
            a.mac_off = <int32_t>a.headroom
            out.idx[out.n] = x
            out.n += 1
        count += out.n
        nbytes += _count_and_free(pool, &out)
    end = monotonic_ns()
    c_free(table)
    c_free(t)
    return count, nbytes, (end - start) / 1e9


def ip_filter(PacketPool pool, bytes data, uint64_t limit):
    """Config (c) as one loop, each packet in one pass: Strip(14), the header
    check, the filter `allow udp && dst port 53, allow tcp && dst port 80,
    deny all` written out in C, and the counter. Sends `limit` packets;
    returns (packets counted, bytes, seconds)."""
    cdef uint8_t* t = _template(data)
    cdef Batch batch, out
    cdef Anno* a
    cdef uint8_t* iph
    cdef uint32_t length = len(data), x, dport
    cdef uint64_t sent = 0, count = 0, nbytes = 0, start, end
    cdef int n, i
    start = monotonic_ns()
    while sent < limit:
        n = BATCH_MAX if limit - sent > BATCH_MAX else <int>(limit - sent)
        n = _make(pool, &batch, n, t, length)
        if n == 0:
            break
        sent += n
        out.n = 0
        for i in range(n):
            x = batch.idx[i]
            a = &pool.anno[x]
            if not _check_ip(pool, x) or a.len < IP_MIN_HEADER + 4 or load_be16(a.data + 6) & IP_OFFMASK:
                pool.free(x)
                continue
            iph = a.data
            dport = load_be16(iph + IP_MIN_HEADER + 2)
            if not ((iph[9] == IP_PROTO_UDP and dport == 53) or (iph[9] == IP_PROTO_TCP and dport == 80)):
                pool.free(x)
                continue
            out.idx[out.n] = x
            out.n += 1
        count += out.n
        nbytes += _count_and_free(pool, &out)
    end = monotonic_ns()
    c_free(t)
    return count, nbytes, (end - start) / 1e9
