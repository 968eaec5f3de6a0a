# EXPORT_ELEMENT TCPRewriter

def read_tcp_keywords(elem, args, tm):
    """TCPRewriter's keywords, in Click's order (IPRewriter reads them too)."""
    tm["tcp_nodata"] = args.read("TCP_NODATA_TIMEOUT", SECONDS, 300.0)
    tm["tcp_guarantee"] = args.read("TCP_GUARANTEE", SECONDS, DEFAULT_GUARANTEE)
    tm["tcp_data"] = args.read("TIMEOUT", SECONDS, 86400.0)
    tm["tcp_data"] = args.read("TCP_TIMEOUT", SECONDS, tm["tcp_data"])
    tm["tcp_done"] = args.read("TCP_DONE_TIMEOUT", SECONDS, 240.0)
    elem._read_annos(args)


cdef class TCPRewriter(IPRewriterBase):
    """TCPRewriter(INPUTSPEC_1, ..., INPUTSPEC_N [, KEYWORDS])

    Rewrites TCP packets' addresses, ports and sequence numbers.

    Ports: N inputs (one per INPUTSPEC), 1 or more outputs.
    Processing: push.

    IPRewriter for TCP alone (see IPRewriter for the INPUTSPECs and the
    mapping table): non-TCP packets and non-first fragments are dropped
    unless they arrive on a ``pass`` input. In addition, a flow can shift its
    sequence numbers: other elements (Click's FTPPortMapper, or Python code
    through update_seqno_delta) ask for a delta from a given sequence
    number on, and the rewriter then adjusts sequence numbers, the other
    direction's acknowledgments and their SACK blocks, with the checksum.

    Keywords:
      TCP_TIMEOUT       Time. Timeout of connections with payload seen both ways (24 hours). TIMEOUT is a synonym.
      TCP_DONE_TIMEOUT  Time. Timeout of closed connections: FIN both ways, or RST (4 minutes).
      TCP_NODATA_TIMEOUT  Time. Timeout of other connections (5 minutes).
      TCP_GUARANTEE     Time. Each packet keeps its flow at least this long, even when the table is full (5 s). GUARANTEE sets it too.
      REAP_INTERVAL     Time. How often expired flows are removed (15 minutes).
      MAPPING_CAPACITY  Integer. Most flows the table holds; a new flow then replaces the best-effort flow closest to expiry, or is dropped if all are guaranteed (no limit). CAPACITY is a synonym.
      DST_ANNO          Boolean. Set the destination address annotation to the new destination (true).
      REPLY_ANNO        Annotation byte. Stored from a flow's first packet, set on its replies.

    Handlers:
      table, mappings (read)  the flows, both directions: flow => new flow [outputs] input expiry
      lookup (read)  with parameter "SADDR SPORT DADDR DPORT": the rewritten flow, or nothing
      table_size, nmappings (read)  flows made by the input specs
      size (read)  flows in the table
      mapping_failures (read)  flows that could not be made (no free port, table full)
      capacity (read/write)  MAPPING_CAPACITY; lowering it drops flows at once
      clear (write)  drop every flow
      patterns (read)  the input specs, with the flows each made
      pattern0 (read/write)  input spec 0 (pattern1 for input 1, ...); writing one replaces it and drops its flows
      drops (read)  packets dropped (no mapping and no pass input, or no flow could be made)

    Example:
      TCPRewriter(pattern 1.0.0.1 1024-65535 - - 0 1, drop);
    """

    timeout_keyword = "tcp_data"
    guarantee_keyword = "tcp_guarantee"

    def __cinit__(self):
        self.mode = MODE_TCP

    def _read_keywords(self, args, tm):
        read_tcp_keywords(self, args, tm)

    cdef int push(self, int port, Batch* b) except -1:
        return push_tcpudp(self, port, b)

    cdef uint32_t reply_entry(self, uint8_t ip_p, const FlowKey* search) noexcept:
        if ip_p != IP_PROTO_TCP:
            return 0
        return table_lookup(&self.t, search, ip_p)

    def _unparse_flow(self, info, int d):
        return unparse_tcp_flow(self, info, d)

    def lookup(self, param=None):
        """The rewritten flow of forward flow "SADDR SPORT DADDR DPORT", or ""."""
        return lookup_flow(self, param, IP_PROTO_TCP)

    def update_seqno_delta(self, saddr, sport, daddr, dport, trigger, delta):
        """From sequence number `trigger` on, shift the sequence numbers of the
        flow's packets sent as (saddr, sport, daddr, dport) by `delta` more
        (Click's TCPFlow::update_seqno_delta). False if there is no such flow
        or the trigger is below the last one."""
        return update_seqno_delta(self, saddr, sport, daddr, dport, trigger, delta)

    def add_handlers(self):
        IPRewriterBase.add_handlers(self)
        self.add_read_handler("lookup", self.lookup, params=True)


def lookup_flow(IPRewriterBase e, param, int proto):
    """Click's tcp_lookup handler."""
    cdef FlowKey key
    cdef uint32_t ref
    cdef Flow* f
    if not param or not e.have_table:
        return ""
    words = param.split()
    if len(words) != 4:
        raise HandlerError(f"{e.name}: expected 'SADDR SPORT DADDR DPORT'")
    try:
        key.saddr, key.daddr = net32(IPADDR(words[0])), net32(IPADDR(words[2]))
        sport, dport = int(words[1]), int(words[3])
        if not (0 <= sport < 65536 and 0 <= dport < 65536):
            raise ValueError
    except ValueError:
        raise HandlerError(f"{e.name}: expected 'SADDR SPORT DADDR DPORT'") from None
    key.sport, key.dport = net16(sport), net16(dport)
    ref = table_lookup(&e.t, &key, proto if e.mode != MODE_UDP else 0)
    if ref == 0 or ref & 1:
        return ""
    f = &e.t.flows[ref >> 1]
    return (f"{ip_str(host32(f.key[1].daddr))} {host16(f.key[1].dport)} "
            f"{ip_str(host32(f.key[1].saddr))} {host16(f.key[1].sport)}")


def update_seqno_delta(IPRewriterBase e, saddr, int sport, daddr, int dport, trigger, int delta):
    cdef FlowKey key
    cdef uint32_t ref, s
    cdef Flow* f
    cdef SeqTransitions* st
    cdef SeqTransitions* grown
    cdef int d, n
    cdef uint32_t trig = <uint32_t>(int(trigger) & 0xFFFFFFFF)
    if not e.have_table:
        return False
    key.saddr, key.daddr = net32(IPADDR(saddr)), net32(IPADDR(daddr))
    key.sport, key.dport = net16(sport), net16(dport)
    ref = table_lookup(&e.t, &key, IP_PROTO_TCP)
    if ref == 0:
        return False
    d = ref & 1
    f = &e.t.flows[ref >> 1]
    if f.seq == 0:
        if e.t.seq_free:
            s = e.t.seq_free
            e.t.seq_free = e.t.seqs[s].next_free
        else:
            if e.t.seqs_used == 0:
                e.t.seqs_used = 1           # record 0 means "none"
            if e.t.seqs_used >= e.t.seqs_cap:
                grown = <SeqTransitions*>realloc(e.t.seqs, 2 * (e.t.seqs_cap + 4) * sizeof(SeqTransitions))
                if grown == NULL:
                    raise MemoryError()
                e.t.seqs = grown
                e.t.seqs_cap = 2 * (e.t.seqs_cap + 4)
            s = e.t.seqs_used
            e.t.seqs_used += 1
        memset(&e.t.seqs[s], 0, sizeof(SeqTransitions))
        f = &e.t.flows[ref >> 1]
        f.seq = s
    st = &e.t.seqs[f.seq]
    n = st.n[d]
    if n and not seq_geq(trig, st.trigger[d][n - 1]):
        return False
    if n and trig == st.trigger[d][n - 1]:
        st.delta[d][n - 1] += delta
    else:
        if n == SEQ_MAX_TRANSITIONS:
            # the oldest transition becomes the base (Click keeps a list; four
            # pending changes per direction is far more than FTP ever makes)
            seq_forget_old(st, d, st.trigger[d][0] + (1U << 30))
            n = st.n[d]
        st.trigger[d][n] = trig
        st.delta[d][n] = (st.delta[d][n - 1] if n else st.base[d]) + delta
        st.n[d] = n + 1
    seq_forget_old(st, d, trig)
    return True


def unparse_tcp_flow(IPRewriterBase e, info, int d):
    """A flow line, with the direction's sequence number shift if any."""
    cdef SeqTransitions* s
    text = IPRewriterBase._unparse_flow(e, info, d)
    if info["seq"]:
        s = &e.t.seqs[<uint32_t>info["seq"]]
        delta = s.delta[d][s.n[d] - 1] if s.n[d] else s.base[d]
        if delta:
            text += f" seq {delta:+d}"
    return text
