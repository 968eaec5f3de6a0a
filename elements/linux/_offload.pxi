# Offloads a kernel hands to us with a frame (not an element): partial
# checksums, GSO super-frames, VLAN tags held outside the frame. Shared by
# FromDevice, ToDevice and KernelTap/KernelTun.
#
# A frame a local stack sends through a veth or tap carries a partial
# TCP/UDP checksum (the pseudo-header sum, waiting for "hardware" to finish
# it from csum_start to the end) and may be a TCP/UDP GSO frame of up to 64
# KiB with one set of headers. Downstream elements expect ordinary packets, so
# by default these are completed and segmented here, as the kernel's own
# software fallback (skb_checksum_help, skb_gso_segment) would.

cdef struct FrameMeta:
    uint64_t timestamp
    int32_t ifindex
    uint8_t packet_type
    uint8_t offload            # OFFLOAD_* flags for every packet made from the frame
    uint16_t device_vlan       # VLAN TCI kept as an annotation (with OFFLOAD_VLAN)
    uint32_t tag               # VLAN tag to put back into the frame: TPID << 16 | TCI; 0 = none
    bint raw_ip                # the frame is a bare IP packet (TUN): no link header

# Why a frame could not be used (counted per element).
cdef enum:
    OFFLOAD_OK = 0
    OFFLOAD_BAD = -1           # malformed headers or offsets
    OFFLOAD_NOMEM = -2         # the pool ran out of buffers

cdef enum:
    ETHERTYPE_IP = 0x0800
    ETHERTYPE_IP6 = 0x86DD
    ETHERTYPE_VLAN = 0x8100
    ETHERTYPE_QINQ = 0x88A8
    IPPROTO_TCP_ = 6
    IPPROTO_UDP_ = 17
    TCP_FIN = 0x01
    TCP_PSH = 0x08
    TCP_CWR = 0x80
    UDP_CSUM_OFFSET = 6


cdef inline uint32_t copy_frame(uint8_t* dst, const uint8_t* src, uint32_t len, uint32_t tag) noexcept nogil:
    """Copy a frame, putting a VLAN tag back after the MAC addresses when
    `tag` is set; returns the bytes written."""
    if tag == 0 or len < 12:
        memcpy(dst, src, len)
        return len
    memcpy(dst, src, 12)
    store_be16(dst + 12, <uint16_t>(tag >> 16))
    store_be16(dst + 14, <uint16_t>(tag & 0xffff))
    memcpy(dst + 16, src + 12, len - 12)
    return len + VLAN_HEADER_LEN


cdef inline void apply_meta(Anno* a, const FrameMeta* m) noexcept nogil:
    if m.raw_ip:
        a.net_off = <int32_t>a.headroom
    else:
        a.mac_off = <int32_t>a.headroom
    a.timestamp = m.timestamp
    a.ifindex = m.ifindex
    a.packet_type = m.packet_type
    a.offload = m.offload
    a.device_vlan = m.device_vlan
    if m.offload & OFFLOAD_VLAN:
        store_be16(&a.user[VLAN_TCI_ANNO], m.device_vlan)


cdef inline uint32_t raw_ip_type(const uint8_t* packet, uint32_t len) noexcept nogil:
    """The EtherType of a bare IP packet, from its version; 0 if it is neither IPv4 nor IPv6."""
    if len == 0:
        return 0
    if packet[0] >> 4 == 4:
        return ETHERTYPE_IP
    if packet[0] >> 4 == 6:
        return ETHERTYPE_IP6
    return 0


cdef inline uint32_t network_offset(const uint8_t* frame, uint32_t len, uint16_t* ether_type) noexcept nogil:
    """Offset of the network header after the Ethernet header and any VLAN
    tags in the frame, with its EtherType; 0 if the frame is too short."""
    cdef uint32_t off = 12
    cdef uint16_t t
    while off + 2 <= len:
        t = load_be16(frame + off)
        if t == ETHERTYPE_VLAN or t == ETHERTYPE_QINQ:
            off += 4
            continue
        ether_type[0] = t
        return off + 2
    return 0


cdef inline int complete_checksum(uint8_t* data, uint32_t len, uint32_t start, uint32_t offset) noexcept nogil:
    """Finish a partial checksum: sum from `start` to the end of the data
    (the field already holds the pseudo-header sum) and store it at
    start + offset. 0, or OFFLOAD_BAD if the offsets do not fit."""
    cdef uint16_t sum
    if start + offset + 2 > len or start < 20:          # 20: the shortest IP header
        return OFFLOAD_BAD
    sum = csum_fold(csum_add(0, data + start, len - start))
    if sum == 0 and offset == UDP_CSUM_OFFSET:
        sum = 0xffff          # a zero UDP checksum means "none"
    store_be16(data + start + offset, sum)
    return OFFLOAD_OK


cdef inline uint32_t l4_pseudo_sum(const uint8_t* net, bint ipv6, uint8_t proto, uint32_t l4_len) noexcept nogil:
    if ipv6:
        return csum_add(0, net + 8, 32) + proto + (l4_len >> 16) + (l4_len & 0xffff)
    return pseudo_sum(load_be32(net + 12), load_be32(net + 16), proto, l4_len)
