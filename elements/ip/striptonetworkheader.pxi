# EXPORT_ELEMENT StripToNetworkHeader

cdef class StripToNetworkHeader(Element):
    """StripToNetworkHeader()

    Strips everything before the network header.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Removes all bytes before the packet's network header annotation, so
    the packet starts with it (an Ethernet header, say, goes). Packets
    without a network header annotation, or whose network header lies
    before the data start, pass unchanged. Unstrip can put the bytes back.

    Example:
      ... -> CheckIPHeader(14) -> StripToNetworkHeader -> ...
    """

    port_count = "1/1"
    processing = "a/a"

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint32_t i
        cdef int32_t skip
        for i in range(b.n):
            a = &anno[b.idx[i]]
            if a.net_off >= 0:
                skip = a.net_off - <int32_t>a.headroom
                if 0 < skip <= <int32_t>a.len:
                    a.data += skip
                    a.headroom += <uint32_t>skip
                    a.len -= <uint32_t>skip
        return 0
