# EXPORT_ELEMENT UDPRewriter

cdef class UDPRewriter(IPRewriterBase):
    """UDPRewriter(INPUTSPEC_1, ..., INPUTSPEC_N [, KEYWORDS])

    Rewrites UDP (and TCP) packets' addresses and ports.

    Ports: N inputs (one per INPUTSPEC), 1 or more outputs.
    Processing: push.

    IPRewriter with one table keyed by the (source address, source port,
    destination address, destination port) quadruple, whatever the protocol:
    it rewrites UDP, TCP and DCCP packets alike, with UDP's timeouts. TCP and
    UDP checksums are updated (DCCP's are not, as in Click); other protocols
    and non-first fragments are dropped unless they arrive on a ``pass``
    input. See IPRewriter for the INPUTSPECs and the mapping table.

    Keywords:
      TIMEOUT           Time. Flows expire this long after their last packet (5 minutes). UDP_TIMEOUT is a synonym.
      STREAMING_TIMEOUT  Time. Timeout of streaming flows: 3 or more packets, some in each direction (TIMEOUT). UDP_STREAMING_TIMEOUT is a synonym.
      GUARANTEE         Time. Each packet keeps its flow at least this long, even when the table is full (5 s). UDP_GUARANTEE is a synonym.
      REAP_INTERVAL     Time. How often expired flows are removed (15 minutes).
      MAPPING_CAPACITY  Integer. Most flows the table holds (no limit); see TCPRewriter.
      DST_ANNO          Boolean. Set the destination address annotation to the new destination (true).
      REPLY_ANNO        Annotation byte. Stored from a flow's first packet, set on its replies.

    Handlers:
      table, mappings (read)  the flows, both directions: flow => new flow [outputs] input expiry
      table_size, nmappings (read)  flows made by the input specs
      size (read)  flows in the table
      mapping_failures (read)  flows that could not be made (no free port, table full)
      capacity (read/write)  MAPPING_CAPACITY; lowering it drops flows at once
      clear (write)  drop every flow
      patterns (read)  the input specs, with the flows each made
      pattern0 (read/write)  input spec 0 (pattern1 for input 1, ...); writing one replaces it and drops its flows
      drops (read)  packets dropped (no mapping and no pass input, or no flow could be made)

    Example:
      UDPRewriter(pattern 10.0.0.1 1024-65535# - - 0 1, drop);
    """

    timeout_keyword = "udp_timeout"
    guarantee_keyword = "udp_guarantee"

    def __cinit__(self):
        self.mode = MODE_UDP

    def _read_keywords(self, args, tm):
        self._read_annos(args)
        read_udp_keywords(args, tm, True)

    cdef int push(self, int port, Batch* b) except -1:
        return push_tcpudp(self, port, b)

    cdef uint32_t reply_entry(self, uint8_t ip_p, const FlowKey* search) noexcept:
        cdef uint32_t ref = table_lookup(&self.t, search, 0)
        if ref and ip_p and self.t.flows[ref >> 1].ip_p != ip_p:
            return 0
        return ref


def read_udp_keywords(args, tm, bint short_names):
    """UDP timeouts; UDPRewriter also takes them without the UDP_ prefix."""
    tm["udp_timeout"] = args.read("UDP_TIMEOUT", SECONDS, DEFAULT_TIMEOUT)
    if short_names:
        tm["udp_timeout"] = args.read("TIMEOUT", SECONDS, tm["udp_timeout"])
    streaming = args.read("UDP_STREAMING_TIMEOUT", SECONDS, None)
    if short_names:
        streaming = args.read("STREAMING_TIMEOUT", SECONDS, streaming)
    tm["udp_streaming"] = tm["udp_timeout"] if streaming is None else streaming
    tm["udp_guarantee"] = args.read("UDP_GUARANTEE", SECONDS, DEFAULT_GUARANTEE)
