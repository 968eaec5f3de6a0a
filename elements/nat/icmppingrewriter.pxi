# EXPORT_ELEMENT ICMPPingRewriter

cdef inline uint16_t plus_one(uint16_t raw) noexcept nogil:
    # Click adds 1 to the identifier as stored (network order) to tell
    # requests from replies in its keys; so do we, for the same keys
    return <uint16_t>(raw + 1)


cdef class ICMPPingRewriter(IPRewriterBase):
    """ICMPPingRewriter(INPUTSPEC_1, ..., INPUTSPEC_N [, KEYWORDS])

    Rewrites ICMP echo requests and replies (so pings cross a NAT).

    Ports: N inputs (one per INPUTSPEC), 1 or more outputs.
    Processing: push.

    An echo request without a mapping is handled by its input's INPUTSPEC
    (as in IPRewriter); a pattern changes its addresses and, through the
    SPORT field, its identifier (``pattern 1.0.0.1 1024-65535 - - 0 1``
    gives each ping a free identifier). The mapping (src, dst, id) =>
    (src', dst', id') is stored with its reply, so echo replies to the
    rewritten request are rewritten back. Echo replies without a mapping,
    other ICMP messages, other protocols and non-first fragments are dropped
    unless they arrive on a ``pass`` input. IP and ICMP checksums are
    updated.

    Keywords:
      TIMEOUT           Time. Mappings expire this long after their last packet (5 minutes).
      GUARANTEE         Time. Each packet keeps its mapping at least this long (5 s).
      REAP_INTERVAL     Time. How often expired mappings are removed (15 minutes).
      MAPPING_CAPACITY  Integer. Most mappings the table holds (no limit); see TCPRewriter.
      DST_ANNO          Boolean. Set the destination address annotation to the new destination (true).
      REPLY_ANNO        Annotation byte. Stored from a mapping's first packet, set on its replies.

    Handlers:
      table, mappings (read)  (src, dst, id) => (src', dst', id') [outputs] input expiry
      table_size, nmappings (read)  flows made by the input specs
      size (read)  flows in the table
      mapping_failures (read)  flows that could not be made (no free port, table full)
      capacity (read/write)  MAPPING_CAPACITY; lowering it drops flows at once
      clear (write)  drop every flow
      patterns (read)  the input specs, with the flows each made
      pattern0 (read/write)  input spec 0 (pattern1 for input 1, ...); writing one replaces it and drops its flows
      drops (read)  packets dropped (no mapping and no pass input, or no flow could be made)

    Example:
      ICMPPingRewriter(pattern 1.0.0.1 - - - 0 1, drop);
    """

    timeout_keyword = "timeout"
    guarantee_keyword = "guarantee"

    def __cinit__(self):
        self.mode = MODE_PING

    def _read_keywords(self, args, tm):
        self._read_annos(args)

    cdef bint flow_allowed(self, const FlowKey* key, FlowKey* rw) noexcept:
        rw.dport = plus_one(rw.sport)
        return plus_one(key.sport) == key.dport

    cdef void set_deltas(self, Flow* f, const FlowKey* old, const FlowKey* new) noexcept:
        # the ICMP checksum covers the identifier, not the addresses
        cdef uint16_t d = csum_delta_start()
        d = csum_update32(d, host32(old.saddr), host32(new.saddr))
        d = csum_update32(d, host32(old.daddr), host32(new.daddr))
        f.ip_delta = <uint16_t>~d
        f.l4_delta = <uint16_t>~csum_update16(csum_delta_start(), host16(old.sport), host16(new.sport))

    cdef uint32_t reply_entry(self, uint8_t ip_p, const FlowKey* search) noexcept:
        cdef FlowKey k
        if ip_p != IP_PROTO_ICMP:
            return 0
        k.saddr = search.saddr
        k.daddr = search.daddr
        k.sport = plus_one(search.sport)
        k.dport = search.sport
        return table_lookup(&self.t, &k, IP_PROTO_ICMP)

    cdef int push(self, int port, Batch* b) except -1:
        cdef FlowTable* t = &self.t
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef int32_t ports[BATCH_MAX]
        cdef uint64_t now = self.now_ns()
        cdef bint dst_anno = self.dst_anno
        cdef int reply_anno = self.reply_anno
        cdef uint8_t* iph
        cdef uint8_t* th
        cdef uint32_t ihl, ref, flow, i
        cdef int32_t tlen
        cdef uint16_t ident
        cdef bint echo
        cdef FlowKey key
        cdef Flow* f
        cdef int d
        for i in range(b.n):
            a = &anno[b.idx[i]]
            iph = ip_header_of(a, &ihl, &tlen)
            if (iph == NULL or iph[9] != IP_PROTO_ICMP or not is_first_fragment(iph) or tlen < 6
                    or (iph[ihl] != 8 and iph[ihl] != 0)):
                ports[i] = self.unmapped(port)
                continue
            th = iph + ihl
            echo = th[0] == 8
            memcpy(&ident, th + 4, 2)
            memcpy(&key.saddr, iph + 12, 8)
            key.sport = plus_one(ident) if not echo else ident
            key.dport = plus_one(ident) if echo else ident
            ref = table_lookup(t, &key, IP_PROTO_ICMP)
            if ref == 0:
                if not echo:
                    ports[i] = self.unmapped(port)
                    continue
                flow = self.new_flow(port, &key, IP_PROTO_ICMP, IP_PROTO_ICMP, KIND_OTHER, now, a, &ports[i])
                if flow == 0:
                    continue
                ref = flow << 1
            flow = ref >> 1
            d = ref & 1
            f = &t.flows[flow]
            rewrite_ip_header(f, d, iph, a, dst_anno, reply_anno)
            memcpy(th + 4, &f.key[1 - d].sport if d else &f.key[1 - d].dport, 2)
            if not csum_delta_is_zero(f.l4_delta):
                store_be16(th + 2, csum_apply(load_be16(th + 2), f.l4_delta, d))
            flow_touch(t, flow, now)
            ports[i] = f.output[d]
        count_drops(self, ports, b.n)
        return push_by_port(self, b, ports)

    def _unparse_flow(self, info, int d):
        k, r = info["key"][d], info["key"][1 - d]
        ident = k[1] if d == 0 else k[3]
        new_ident = r[3] if d == 0 else r[1]
        return (f"({ip_str(k[0])}, {ip_str(k[2])}, {ident}) => "
                f"({ip_str(r[2])}, {ip_str(r[0])}, {new_ident})")
