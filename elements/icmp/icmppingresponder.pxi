# EXPORT_ELEMENT ICMPPingResponder

cdef class ICMPPingResponder(Element):
    """ICMPPingResponder()

    Responds to ICMP echo requests.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic; output 1 push.

    Turns each ICMP echo request (network header annotation set) into the
    echo reply, in place, and emits it on output 0: source and destination
    are swapped, the fragment field is cleared, the TTL becomes 255, the
    type becomes echo reply (0) with code 0, and both checksums are updated
    incrementally. The reply's destination-IP annotation is set to its
    destination, its paint annotation is cleared and its timestamp set to
    now; other annotations stay. Other packets (not ICMP, not an echo
    request, too short for an ICMP header, or a later fragment) go to output
    1, or are dropped.

    Example:
      ... -> IPClassifier(icmp type echo) -> ICMPPingResponder -> rt;
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint8_t* iph
        cdef uint8_t* icmp
        cdef uint32_t others[256]
        cdef uint32_t i, x, k = 0, nothers = 0, hlen, old_v
        cdef uint8_t tmp[4]
        cdef uint64_t now = 0
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            iph = ip_header(a)
            if iph == NULL or network_length(a) < IP_MIN_HEADER or iph[9] != IP_PROTO_ICMP:
                others[nothers] = x
                nothers += 1
                continue
            hlen = (iph[0] & 15) << 2
            icmp = iph + hlen
            if (hlen < IP_MIN_HEADER or <int32_t>(hlen + 4) > network_length(a)
                    or not ip_first_fragment(iph) or icmp[0] != ICMP_ECHO):
                others[nothers] = x
                nothers += 1
                continue
            memcpy(tmp, iph + 12, 4)
            memcpy(iph + 12, iph + 16, 4)          # the checksum stays valid
            memcpy(iph + 16, tmp, 4)
            store_be16(iph + 10, csum_update16(load_be16(iph + 10), load_be16(iph + 6), 0))
            store_be16(iph + 6, 0)
            old_v = load_be16(iph + 8)
            iph[8] = 255
            store_be16(iph + 10, csum_update16(load_be16(iph + 10), old_v, load_be16(iph + 8)))
            old_v = load_be16(icmp)
            icmp[0] = ICMP_ECHOREPLY
            icmp[1] = 0
            store_be16(icmp + 2, csum_update16(load_be16(icmp + 2), old_v, 0))
            memcpy(&a.user[DST_IP_ANNO], iph + 16, 4)
            a.user[PAINT_ANNO] = 0
            if now == 0:
                now = realtime_ns()
            a.timestamp = now
            b.idx[k] = x
            k += 1
        b.n = k
        return emit_list(self, 1, others, nothers)
