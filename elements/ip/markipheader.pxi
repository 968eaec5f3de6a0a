# EXPORT_ELEMENT MarkIPHeader

cdef class MarkIPHeader(Element):
    """MarkIPHeader([OFFSET])

    Sets the IP header annotation.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Marks packets as IP packets by setting the network header annotation
    to the IP header OFFSET bytes into the packet (default 0); the header
    length comes from the header's IHL field and the transport header
    annotation follows it. Does no checking: use CheckIPHeader for that.
    Packets too short to hold OFFSET plus 20 bytes pass unmarked.

    Example:
      FromDump(trace.pcap) -> MarkIPHeader(14) -> IPPrint -> Discard;
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint32_t offset

    def configure(self, args):
        self.offset = args.read_p("OFFSET", UINT, 0)

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint32_t i, offset = self.offset
        for i in range(b.n):
            a = &anno[b.idx[i]]
            if a.len >= offset + IP_MIN_HEADER:
                set_ip_header(a, a.data + offset, (a.data[offset] & 15) << 2)
        return 0
