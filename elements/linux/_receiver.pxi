# The base of elements that turn kernel frames into packets (not an element):
# FromDevice and KernelTun/KernelTap. `emit` is where a full batch leaves, so
# software GSO (gso_segment) can flush a batch it fills through the same path.

cdef class Receiver(Element):
    cdef readonly uint64_t count             # packets emitted
    cdef readonly uint64_t drops             # frames lost here: pool exhausted
    cdef readonly uint64_t bad_frames        # frames with offload data we cannot use
    cdef readonly uint64_t checksums_completed
    cdef readonly uint64_t gso_frames, gso_segments
    cdef bint keep_offload                   # pass partial checksums and GSO frames on as they are
    cdef bint force_ip                       # non-IP packets go to output 1
    cdef bint raw_ip                         # frames are bare IP packets (TUN), no link header

    cdef int emit(self, Batch* b) except -1:
        """Push b's packets out (non-IP ones to output 1 under FORCE_IP); b is left empty."""
        cdef PacketPool pool = self.pool
        cdef Batch* other
        cdef uint32_t i, k, x
        cdef uint32_t off
        cdef uint16_t ether_type
        cdef Anno* a
        if b.n == 0:
            return 0
        self.count += b.n
        if not self.force_ip:
            self.output_push(0, b)
            b.n = 0
            return 0
        other = pool.batch_get()
        try:
            k = 0
            for i in range(b.n):
                x = b.idx[i]
                a = &pool.anno[x]
                if a.net_off < 0 and not self.raw_ip:
                    ether_type = 0
                    off = network_offset(a.data, a.len, &ether_type)
                    if off != 0 and (ether_type == ETHERTYPE_IP or ether_type == ETHERTYPE_IP6):
                        a.net_off = <int32_t>(a.headroom + off)
                if a.net_off >= 0:
                    b.idx[k] = x
                    k += 1
                else:
                    other.idx[other.n] = x
                    other.n += 1
            b.n = k
            if b.n:
                self.output_push(0, b)
            self.emit_or_free(1, other)
        finally:
            pool.batch_put(other)
        b.n = 0
        return 0

    cdef int take_offloaded(self, Batch* b, const uint8_t* frame, uint32_t len, const virtio_net_hdr* vh,
                            const FrameMeta* meta) except -1:
        """Turn one frame that carries offload work (a virtio-net header with
        a partial checksum or GSO) into packets appended to b."""
        cdef PacketPool pool = self.pool
        cdef uint32_t shift = VLAN_HEADER_LEN if meta.tag != 0 else 0
        cdef uint32_t x, l3_off
        cdef uint16_t ether_type = 0
        cdef int r
        cdef Anno* a
        if vh.gso_type != VIRTIO_NET_HDR_GSO_NONE and not self.keep_offload:
            self.gso_frames += 1
            if b.n + (len // max(vh.gso_size, 1)) + 1 > BATCH_MAX:
                self.emit(b)
            if meta.raw_ip:
                l3_off = 0
                ether_type = raw_ip_type(frame, len)
            else:
                l3_off = network_offset(frame, len, &ether_type)
            r = self.gso_segment(b, frame, len, l3_off, ether_type, vh.csum_start, vh.gso_type, vh.gso_size, meta)
            if r == OFFLOAD_BAD:
                self.bad_frames += 1
            elif r == OFFLOAD_NOMEM:
                self.drops += 1
            return 0
        x = pool.alloc(len + shift)
        if x == NO_PACKET:
            self.drops += 1
            return 0
        a = &pool.anno[x]
        copy_frame(a.data, frame, len, meta.tag)
        apply_meta(a, meta)
        if vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM:
            if self.keep_offload:
                a.offload |= OFFLOAD_CSUM_PARTIAL
                a.csum_start = <uint16_t>(a.headroom + vh.csum_start + shift)
                a.csum_offset = vh.csum_offset
            elif complete_checksum(a.data, a.len, vh.csum_start + shift, vh.csum_offset) == OFFLOAD_OK:
                self.checksums_completed += 1
                a.offload |= OFFLOAD_CSUM_VALID
            else:
                self.bad_frames += 1
                pool.free(x)
                return 0
        if vh.gso_type != VIRTIO_NET_HDR_GSO_NONE:
            a.gso_type = vh.gso_type
            a.gso_size = vh.gso_size
        b.idx[b.n] = x
        b.n += 1
        return 0

    cdef int gso_segment(self, Batch* b, const uint8_t* frame, uint32_t len, uint32_t l3_off,
                         uint16_t ether_type, uint32_t l4_off, uint8_t gso_type, uint32_t gso_size,
                         const FrameMeta* meta) except -2:
        """Cut a TCP or UDP GSO frame into packets of at most gso_size bytes of
        payload, each with its own headers and complete checksums, appended to b
        (emitted whenever b fills up). Returns OFFLOAD_OK,
        OFFLOAD_BAD (the frame is not a GSO frame we can cut), or OFFLOAD_NOMEM
        (the pool ran dry: the segments made so far are kept)."""
        cdef PacketPool pool = self.pool
        cdef uint32_t hdr_len, payload, seg, done, i, shift, total
        cdef uint32_t seq = 0, x, l4_len
        cdef uint16_t ip_id = 0, udp_csum
        cdef uint8_t proto
        cdef bint ipv6, tcp
        cdef uint8_t* out
        cdef uint8_t* net
        cdef uint8_t* l4
        cdef Anno* a
        gso_type &= ~VIRTIO_NET_HDR_GSO_ECN
        tcp = gso_type == VIRTIO_NET_HDR_GSO_TCPV4 or gso_type == VIRTIO_NET_HDR_GSO_TCPV6
        if (l3_off == 0 and not meta.raw_ip) or gso_size == 0 or not (tcp or gso_type == GSO_UDP_L4):
            return OFFLOAD_BAD
        if ether_type == ETHERTYPE_IP:
            ipv6 = False
            if l3_off + 20 > len or (frame[l3_off] >> 4) != 4 or gso_type == VIRTIO_NET_HDR_GSO_TCPV6:
                return OFFLOAD_BAD
            proto = frame[l3_off + 9]
            ip_id = load_be16(frame + l3_off + 4)
            if ((frame[l3_off] & 0xf) << 2) < 20 or l3_off + ((frame[l3_off] & 0xf) << 2) > l4_off:
                return OFFLOAD_BAD
        elif ether_type == ETHERTYPE_IP6:
            ipv6 = True
            if l3_off + 40 > len or (frame[l3_off] >> 4) != 6 or gso_type == VIRTIO_NET_HDR_GSO_TCPV4:
                return OFFLOAD_BAD
            proto = IPPROTO_TCP_ if tcp else IPPROTO_UDP_     # the header chain ends at l4_off
        else:
            return OFFLOAD_BAD
        if l4_off < l3_off + (40 if ipv6 else 20):
            return OFFLOAD_BAD
        if tcp:
            if l4_off + 20 > len or (not ipv6 and proto != IPPROTO_TCP_):
                return OFFLOAD_BAD
            hdr_len = l4_off + ((frame[l4_off + 12] >> 4) << 2)
            if hdr_len < l4_off + 20:
                return OFFLOAD_BAD
            seq = load_be32(frame + l4_off + 4)
        else:
            if not ipv6 and proto != IPPROTO_UDP_:
                return OFFLOAD_BAD
            hdr_len = l4_off + 8
        if hdr_len > len:
            return OFFLOAD_BAD
        payload = len - hdr_len
        shift = VLAN_HEADER_LEN if meta.tag != 0 else 0
        done = 0
        i = 0
        while done < payload or (payload == 0 and i == 0):
            seg = payload - done
            if seg > gso_size:
                seg = gso_size
            total = hdr_len + shift + seg
            x = pool.alloc(total)
            if x == NO_PACKET:
                return OFFLOAD_NOMEM
            a = &pool.anno[x]
            out = a.data
            copy_frame(out, frame, hdr_len, meta.tag)
            memcpy(out + hdr_len + shift, frame + hdr_len + done, seg)
            apply_meta(a, meta)
            a.offload |= OFFLOAD_CSUM_VALID
            net = out + l3_off + shift
            l4 = out + l4_off + shift
            l4_len = total - l4_off - shift
            a.net_off = <int32_t>(net - (a.data - a.headroom))
            a.trans_off = <int32_t>(l4 - (a.data - a.headroom))
            if ipv6:
                store_be16(net + 4, <uint16_t>(total - l3_off - shift - 40))
            else:
                store_be16(net + 2, <uint16_t>(total - l3_off - shift))
                store_be16(net + 4, <uint16_t>(ip_id + i))
                store_be16(net + 10, 0)
                store_be16(net + 10, in_cksum(net, (net[0] & 0xf) << 2))
            if tcp:
                store_be32(l4 + 4, seq + done)
                if done + seg < payload:
                    l4[13] = l4[13] & ~(TCP_FIN | TCP_PSH)
                if i > 0:
                    l4[13] = l4[13] & ~TCP_CWR
                store_be16(l4 + 16, 0)
                store_be16(l4 + 16, csum_fold(csum_add(l4_pseudo_sum(net, ipv6, IPPROTO_TCP_, l4_len), l4, l4_len)))
            else:
                store_be16(l4 + 4, <uint16_t>l4_len)
                store_be16(l4 + 6, 0)
                udp_csum = csum_fold(csum_add(l4_pseudo_sum(net, ipv6, IPPROTO_UDP_, l4_len), l4, l4_len))
                store_be16(l4 + 6, udp_csum if udp_csum != 0 else 0xffff)
            b.idx[b.n] = x
            b.n += 1
            if b.n == BATCH_MAX:
                self.emit(b)
            done += seg
            i += 1
            self.gso_segments += 1
        return OFFLOAD_OK

    def _reset_counts(self, value=""):
        self.count = 0
        self.drops = 0
        self.bad_frames = 0
        self.checksums_completed = 0
        self.gso_frames = 0
        self.gso_segments = 0

    def _offload_text(self) -> str:
        return (f"checksums_completed {self.checksums_completed}\n"
                f"gso_frames {self.gso_frames}\n"
                f"gso_segments {self.gso_segments}\n"
                f"bad_frames {self.bad_frames}")
