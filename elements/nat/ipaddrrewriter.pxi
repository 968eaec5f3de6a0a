# EXPORT_ELEMENT IPAddrRewriter

cdef class IPAddrRewriter(IPRewriterBase):
    """IPAddrRewriter(INPUTSPEC_1, ..., INPUTSPEC_N [, KEYWORDS])

    Rewrites IP packets' source addresses (basic NAT).

    Ports: N inputs (one per INPUTSPEC), 1 or more outputs.
    Processing: push.

    Maps internal source addresses to external ones, for any IP protocol: a
    packet whose source address has a mapping gets the new source address
    and goes to the mapping's forward output; a packet sent to a mapped
    external address gets the internal address back as destination and goes
    to the reply output. IP, TCP and UDP checksums are updated. Other packets
    follow the INPUTSPEC of their input, as in IPRewriter (``drop``, ``pass
    OUTPUT``, ``keep FOUTPUT ROUTPUT``, a mapper element, or
    ``pattern SADDR - FOUTPUT ROUTPUT`` where SADDR is an address, ``-``, a
    range ``A-B`` or a prefix ``A/N`` from which a free address is taken
    (``#`` after it: in turn), and the destination must be ``-``). Packets
    without a valid IP header annotation are dropped unless the input is
    ``pass``. The destination address annotation is set on replies.

    Keywords:
      TIMEOUT           Time. Mappings expire this long after their last packet (2 hours, as Click's code has it).
      GUARANTEE         Time. Each packet keeps its mapping at least this long (5 s).
      REAP_INTERVAL     Time. How often expired mappings are removed (15 minutes).
      MAPPING_CAPACITY  Integer. Most mappings the table holds (no limit); see TCPRewriter.
      REPLY_ANNO        Annotation byte. Stored from a mapping's first packet, set on its replies.

    Handlers:
      table, mappings (read)  SADDR => NEW [outputs] input expiry, both directions
      table_size, nmappings (read)  flows made by the input specs
      size (read)  flows in the table
      mapping_failures (read)  flows that could not be made (no free port, table full)
      capacity (read/write)  MAPPING_CAPACITY; lowering it drops flows at once
      clear (write)  drop every flow
      patterns (read)  the input specs, with the flows each made
      pattern0 (read/write)  input spec 0 (pattern1 for input 1, ...); writing one replaces it and drops its flows
      drops (read)  packets dropped (no mapping and no pass input, or no flow could be made)

    Example:
      IPAddrRewriter(pattern 1.0.0.1-1.0.0.254# - 0 1, drop);
    """

    timeout_keyword = "timeout"
    guarantee_keyword = "guarantee"

    def __cinit__(self):
        self.mode = MODE_ADDR

    def _read_keywords(self, args, tm):
        tm["timeout"] = 2 * 3600.0
        self._read_annos(args, False)
        self.dst_anno = True

    def _check_pattern(self, pattern, bad):
        if pattern.changes_ports() or pattern.changes_daddr():
            raise bad("IPAddrRewriter patterns change the source address only ('SADDR -')")

    cdef bint flow_allowed(self, const FlowKey* key, FlowKey* rw) noexcept:
        return rw.sport == 0 and rw.dport == 0 and rw.daddr == 0

    cdef uint32_t lookup_addr(self, uint32_t saddr, uint32_t daddr) noexcept:
        """Click's lookup: by source address, else (replies) by destination."""
        cdef FlowKey k
        cdef uint32_t ref
        memset(&k, 0, sizeof(FlowKey))
        k.saddr = saddr
        ref = table_lookup(&self.t, &k, 0)
        if ref == 0:
            k.saddr = 0
            k.daddr = daddr
            ref = table_lookup(&self.t, &k, 0)
        return ref

    cdef uint32_t reply_entry(self, uint8_t ip_p, const FlowKey* search) noexcept:
        return self.lookup_addr(search.saddr, search.daddr)

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
            memcpy(&key.saddr, iph + 12, 4)
            memcpy(&key.daddr, iph + 16, 4)
            ref = self.lookup_addr(key.saddr, key.daddr)
            if ref == 0:
                key.daddr = 0
                key.sport = key.dport = 0
                flow = self.new_flow(port, &key, 0, iph[9], KIND_OTHER, now, a, &ports[i])
                if flow == 0:
                    continue
                ref = flow << 1
            flow = ref >> 1
            d = ref & 1
            f = &t.flows[flow]
            # one address changes: the source forward, the destination back
            if d == 0:
                memcpy(iph + 12, &f.key[1].daddr, 4)
            else:
                memcpy(iph + 16, &f.key[0].saddr, 4)
                memcpy(&a.user[DST_IP_ANNO], &f.key[0].saddr, 4)
                if reply_anno >= 0:
                    a.user[reply_anno] = f.reply_anno
            rewrite_addr_checksums(f, d, iph, ihl, tlen)
            flow_touch(t, flow, now)
            ports[i] = f.output[d]
        count_drops(self, ports, b.n)
        return push_by_port(self, b, ports)

    def _unparse_flow(self, info, int d):
        k, r = info["key"][d], info["key"][1 - d]
        if d == 0:
            return f"{ip_str(k[0])} => {ip_str(r[2])}"
        return f"{ip_str(k[2])} => {ip_str(r[0])}"


cdef inline void rewrite_addr_checksums(const Flow* f, int d, uint8_t* iph, uint32_t ihl,
                                        int32_t tlen) noexcept nogil:
    """The IP checksum, and the TCP or UDP checksum of a first fragment
    (their pseudo header holds the addresses)."""
    cdef uint8_t* th = iph + ihl
    if not csum_delta_is_zero(f.ip_delta):
        store_be16(iph + 10, csum_apply(load_be16(iph + 10), f.ip_delta, d))
    if not is_first_fragment(iph):
        return
    if iph[9] == IP_PROTO_TCP and tlen >= 18:
        update_l4_checksum(f.l4_delta, d, th + 16, False)
    elif iph[9] == IP_PROTO_UDP and tlen >= 8 and (th[6] | th[7]):
        update_l4_checksum(f.l4_delta, d, th + 6, True)
