# EXPORT_ELEMENT IPRewriter

cdef class IPRewriter(IPRewriterBase):
    """IPRewriter(INPUTSPEC_1, ..., INPUTSPEC_N [, KEYWORDS])

    Rewrites TCP and UDP packets' addresses and ports (NAPT).

    Ports: N inputs (one per INPUTSPEC), 1 or more outputs.
    Processing: push.

    Keeps a table of mappings, each (SA, SP, DA, DP, PROTO) => (SA', SP',
    DA', DP') with an output port. A packet whose flow has a mapping is
    rewritten (addresses, ports, and the IP and TCP/UDP checksums, updated
    incrementally) and sent to the mapping's output. A packet without one is
    handled by the INPUTSPEC of its input port:

      drop, discard   drop it.
      pass OUTPUT, nochange OUTPUT   send it to OUTPUT unchanged (OUTPUT 0 if omitted); no mapping.
      keep FOUTPUT ROUTPUT   map the flow to itself: (SA, SP, DA, DP) => (SA, SP, DA, DP) to FOUTPUT,
        and its replies (DA, DP, SA, SP) => (DA, DP, SA, SP) to ROUTPUT.
      pattern SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT   rewrite the flow to (SADDR, SPORT, DADDR, DPORT)
        ("-" keeps the packet's field) and its replies back. SPORT may be a range L-H: the packet's own
        port if free, else a random free one ("L-H#": in turn; "L-H?": never the packet's own); with no
        free port the packet is dropped.
      pattern NAME FOUTPUT ROUTPUT   a pattern named by IPRewriterPatterns.
      ELEMENTNAME   ask a mapper element (RoundRobinIPMapper) for each new flow.

    A new mapping installs (SA, SP, DA, DP, PROTO) => (SA', SP', DA', DP') to
    FOUTPUT and the reply (DA', DP', SA', SP', PROTO) => (DA, DP, SA, SP) to
    ROUTPUT. Non-TCP/UDP packets, non-first fragments and packets without a
    valid IP header annotation are dropped unless they arrive on a ``pass``
    input. Mappings expire (TCP by connection state, UDP after its timeout)
    once their guarantee ends; expired mappings are removed every
    REAP_INTERVAL, and when MAPPING_CAPACITY is reached a new flow replaces
    the best-effort flow closest to expiry, or is dropped (counted in
    mapping_failures) if every flow is still guaranteed. Keys live in a C
    hash table; a packet costs one lookup.

    Keywords:
      TCP_TIMEOUT       Time. TCP connections with payload seen both ways (24 hours). TIMEOUT is a synonym.
      TCP_DONE_TIMEOUT  Time. Closed TCP connections: FIN both ways, or RST (4 minutes).
      TCP_NODATA_TIMEOUT  Time. Other TCP connections (5 minutes).
      TCP_GUARANTEE     Time. Each TCP packet keeps its flow at least this long (5 s). GUARANTEE sets it too.
      UDP_TIMEOUT       Time. UDP flows (5 minutes).
      UDP_STREAMING_TIMEOUT  Time. UDP flows of 3 or more packets, some each way (UDP_TIMEOUT).
      UDP_GUARANTEE     Time. Each UDP packet keeps its flow at least this long (5 s).
      REAP_INTERVAL     Time. How often expired flows are removed (15 minutes).
      MAPPING_CAPACITY  Integer. Most flows the table holds (no limit). CAPACITY is a synonym.
      DST_ANNO          Boolean. Set the destination address annotation to the new destination (true).
      REPLY_ANNO        Annotation byte. Stored from a flow's first packet, set on its replies.

    Handlers:
      table, mappings (read)  every flow, both directions: flow => new flow [outputs] input expiry
      tcp_table, udp_table, tcp_mappings, udp_mappings (read)  the same, one protocol
      tcp_lookup (read)  with parameter "SADDR SPORT DADDR DPORT": the rewritten TCP flow, or nothing
      table_size, nmappings (read)  flows made by the input specs
      size (read)  flows in the table
      mapping_failures (read)  flows that could not be made (no free port, table full)
      capacity (read/write)  MAPPING_CAPACITY; lowering it drops flows at once
      clear (write)  drop every flow
      patterns (read)  the input specs, with the flows each made
      pattern0 (read/write)  input spec 0 (pattern1 for input 1, ...); writing one replaces it and drops its flows
      drops (read)  packets dropped (no mapping and no pass input, or no flow could be made)

    Example:
      // source NAT for 10.0.0.0/8 behind 1.2.3.4
      rw :: IPRewriter(pattern 1.2.3.4 1024-65535 - - 0 1, drop);
    """

    timeout_keyword = "tcp_data"
    guarantee_keyword = "tcp_guarantee"

    def __cinit__(self):
        self.mode = MODE_TCPUDP

    def _read_keywords(self, args, tm):
        read_udp_keywords(args, tm, False)
        read_tcp_keywords(self, args, tm)

    cdef int push(self, int port, Batch* b) except -1:
        return push_tcpudp(self, port, b)

    cdef uint32_t reply_entry(self, uint8_t ip_p, const FlowKey* search) noexcept:
        if ip_p != IP_PROTO_TCP and ip_p != IP_PROTO_UDP:
            return 0
        return table_lookup(&self.t, search, ip_p)

    def _unparse_flow(self, info, int d):
        return unparse_tcp_flow(self, info, d)

    def tcp_lookup(self, param=None):
        return lookup_flow(self, param, IP_PROTO_TCP)

    def update_seqno_delta(self, saddr, sport, daddr, dport, trigger, delta):
        """As TCPRewriter.update_seqno_delta, for TCP flows."""
        return update_seqno_delta(self, saddr, sport, daddr, dport, trigger, delta)

    def add_handlers(self):
        IPRewriterBase.add_handlers(self)
        self.add_read_handler("tcp_table", lambda: self._table((IP_PROTO_TCP,)))
        self.add_read_handler("udp_table", lambda: self._table((IP_PROTO_UDP,)))
        self.add_read_handler("tcp_mappings", lambda: self._table((IP_PROTO_TCP,)))
        self.add_read_handler("udp_mappings", lambda: self._table((IP_PROTO_UDP,)))
        self.add_read_handler("tcp_lookup", self.tcp_lookup, params=True)
