# EXPORT_ELEMENT VLANDecap

cdef class VLANDecap(Element):
    """VLANDecap([KEYWORDS])

    Strips 802.1Q VLAN tags from Ethernet packets.

    Ports: 1 input, 1 output. Processing: agnostic.

    If a packet is VLAN-tagged (its Ethernet type is ETHERTYPE), removes the
    tag, leaving a plain Ethernet packet, and with ANNO sets the VLAN_TCI
    annotation to the tag's TCI (0 for an untagged packet). A tag that a
    device took out of the frame (the offloaded VLAN of FromDevice) counts as
    the packet's tag. The MAC header annotation is set.

    Keywords:
      ANNO       Boolean. Set the VLAN_TCI annotation (default true).
      ETHERTYPE  Integer. The tag's type: 0x8100 (default), 0x88A8, 0x9100.
    """

    port_count = "1/1"
    processing = "a/a"

    cdef bint anno_
    cdef uint16_t ethertype

    def configure(self, args):
        self.anno_ = args.read("ANNO", BOOL, True)
        self.ethertype = args.read("ETHERTYPE", Int(0, 0xFFFF), ETHERTYPE_8021Q)

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint32_t i
        cdef uint16_t tci
        cdef uint8_t* d
        for i in range(b.n):
            a = &anno[b.idx[i]]
            d = a.data
            tci = 0
            if a.len >= ETHER_HEADER_LEN + VLAN_HEADER_LEN and load_be16(d + 12) == self.ethertype:
                tci = load_be16(d + 14)
                memmove(d + VLAN_HEADER_LEN, d, 12)
                pool.pull(b.idx[i], VLAN_HEADER_LEN)
            elif a.offload & OFFLOAD_VLAN:
                tci = a.device_vlan
                a.offload &= ~OFFLOAD_VLAN
            if self.anno_:
                store_be16(&a.user[VLAN_TCI_ANNO], tci)
            a.mac_off = <int32_t>a.headroom
        return 0
