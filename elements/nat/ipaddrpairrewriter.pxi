# EXPORT_ELEMENT IPAddrPairRewriter

cdef class IPAddrPairRewriter(IPRewriterBase):
    """IPAddrPairRewriter(INPUTSPEC_1, ..., INPUTSPEC_N [, KEYWORDS])

    Rewrites IP packets' source and destination addresses by address pair.

    Ports: N inputs (one per INPUTSPEC), 1 or more outputs.
    Processing: push.

    Like IPAddrRewriter, but a mapping is for a (source, destination)
    address pair and may change both: (SA, DA) => (SA', DA') forward, and
    (DA', SA') => (DA, SA) for replies, for any IP protocol. Patterns are
    ``pattern SADDR DADDR FOUTPUT ROUTPUT`` (``-`` keeps an address; SADDR
    may be a range or prefix as in IPAddrRewriter). The destination address
    annotation is set in both directions.

    Keywords:
      TIMEOUT           Time. Mappings expire this long after their last packet (2 hours).
      GUARANTEE         Time. Each packet keeps its mapping at least this long (5 s).
      REAP_INTERVAL     Time. How often expired mappings are removed (15 minutes).
      MAPPING_CAPACITY  Integer. Most mappings the table holds (no limit); see TCPRewriter.
      REPLY_ANNO        Annotation byte. Stored from a mapping's first packet, set on its replies.

    Handlers:
      table, mappings (read)  (SA, DA) => (SA', DA') [outputs] input expiry, both directions
      table_size, nmappings (read)  flows made by the input specs
      size (read)  flows in the table
      mapping_failures (read)  flows that could not be made (no free port, table full)
      capacity (read/write)  MAPPING_CAPACITY; lowering it drops flows at once
      clear (write)  drop every flow
      patterns (read)  the input specs, with the flows each made
      pattern0 (read/write)  input spec 0 (pattern1 for input 1, ...); writing one replaces it and drops its flows
      drops (read)  packets dropped (no mapping and no pass input, or no flow could be made)

    Example:
      IPAddrPairRewriter(pattern 1.0.0.1 - 0 1, drop);
    """

    timeout_keyword = "timeout"
    guarantee_keyword = "guarantee"

    def __cinit__(self):
        self.mode = MODE_ADDRPAIR

    def _read_keywords(self, args, tm):
        tm["timeout"] = 2 * 3600.0
        self._read_annos(args, False)
        self.dst_anno = True

    def _check_pattern(self, pattern, bad):
        if pattern.changes_ports():
            raise bad("IPAddrPairRewriter patterns change addresses only ('SADDR DADDR')")

    cdef bint flow_allowed(self, const FlowKey* key, FlowKey* rw) noexcept:
        return rw.sport == 0 and rw.dport == 0

    cdef uint32_t reply_entry(self, uint8_t ip_p, const FlowKey* search) noexcept:
        cdef FlowKey k
        memset(&k, 0, sizeof(FlowKey))
        k.saddr = search.saddr
        k.daddr = search.daddr
        return table_lookup(&self.t, &k, 0)

    cdef int push(self, int port, Batch* b) except -1:
        cdef FlowTable* t = &self.t
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef int32_t ports[BATCH_MAX]
        cdef uint64_t now = self.now_ns()
        cdef int reply_anno = self.reply_anno
        cdef uint8_t* iph
        cdef uint32_t ihl, ref, flow, i
        cdef int32_t tlen
        cdef FlowKey key
        cdef Flow* f
        cdef int d
        for i in range(b.n):
            a = &anno[b.idx[i]]
            iph = ip_header_of(a, &ihl, &tlen)
            if iph == NULL:
                ports[i] = self.unmapped(port)
                continue
            memcpy(&key.saddr, iph + 12, 8)
            key.sport = key.dport = 0
            ref = table_lookup(t, &key, 0)
            if ref == 0:
                flow = self.new_flow(port, &key, 0, iph[9], KIND_OTHER, now, a, &ports[i])
                if flow == 0:
                    continue
                ref = flow << 1
            flow = ref >> 1
            d = ref & 1
            f = &t.flows[flow]
            memcpy(iph + 12, &f.key[1 - d].daddr, 4)
            memcpy(iph + 16, &f.key[1 - d].saddr, 4)
            memcpy(&a.user[DST_IP_ANNO], &f.key[1 - d].saddr, 4)
            if d and reply_anno >= 0:
                a.user[reply_anno] = f.reply_anno
            rewrite_addr_checksums(f, d, iph, ihl, tlen)
            flow_touch(t, flow, now)
            ports[i] = f.output[d]
        count_drops(self, ports, b.n)
        return push_by_port(self, b, ports)

    def _unparse_flow(self, info, int d):
        k, r = info["key"][d], info["key"][1 - d]
        return f"({ip_str(k[0])}, {ip_str(k[2])}) => ({ip_str(r[2])}, {ip_str(r[0])})"
