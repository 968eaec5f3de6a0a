# EXPORT_ELEMENT VLANEncap

def parse_vlan_args(elem, args, bint allow_anno):
    """VLAN_TCI [, VLAN_PCP] or VLAN_ID/VLAN_PCP keywords -> (tci, use_anno)."""
    tci_word = args.read_p("VLAN_TCI", WORD, None)
    pcp = args.read_p("VLAN_PCP", Int(0, 7), 0)
    vid = args.read("VLAN_ID", Int(0, 0xFFF), None)
    use_anno = allow_anno and tci_word == "ANNO"
    tci = 0
    if tci_word is not None and not use_anno:
        if vid is not None:
            raise elem.error("specify at most one of VLAN_TCI and VLAN_ID")
        try:
            tci = Int(0, 0xFFFF)(tci_word)
        except ValueError as e:
            raise elem.error(f"VLAN_TCI: {e}") from None
    elif vid is not None:
        tci = vid
    return (tci | (pcp << 13)) & 0xFFFF, use_anno


cdef class VLANEncap(Element):
    """VLANEncap([VLAN_TCI, VLAN_PCP, KEYWORDS])

    Adds an 802.1Q VLAN tag to Ethernet packets.

    Ports: 1 input, 1 output. Processing: agnostic.

    Inserts a 4-byte 802.1Q tag after the Ethernet addresses: type ETHERTYPE
    and the tag control information VLAN_TCI (VLAN ID in the low 12 bits,
    priority code point in the top 3). VLAN_TCI `ANNO` takes the TCI from
    each packet's VLAN_TCI annotation instead. A packet whose VLAN ID is
    NATIVE_VLAN is sent untagged. The MAC header annotation is set. Packets
    shorter than an Ethernet header, or that cannot grow, are dropped.

    Keywords:
      VLAN_ID      Integer 0-4095. The VLAN ID (instead of VLAN_TCI).
      VLAN_PCP     Integer 0-7. The priority code point (default 0).
      NATIVE_VLAN  Integer -1-4095. VLAN sent untagged; -1 = none (default 0).
      ETHERTYPE    Integer. The tag's type: 0x8100 (default), 0x88A8 (QinQ), 0x9100.

    Handlers:
      vlan_tci (read/write)  the TCI (not in ANNO mode)
      config (read)          the configuration
      drops (read)           packets dropped

    Example:
      VLANEncap(VLAN_ID 10, VLAN_PCP 3)
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint16_t tci
    cdef bint use_anno
    cdef int native_vlan
    cdef uint16_t ethertype
    cdef readonly uint64_t drops

    def configure(self, args):
        self.tci, self.use_anno = parse_vlan_args(self, args, True)
        self.native_vlan = args.read("NATIVE_VLAN", Int(-1, 0xFFF), 0)
        self.ethertype = args.read("ETHERTYPE", Int(0, 0xFFFF), ETHERTYPE_8021Q)

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint32_t i, k = 0, x
        cdef uint16_t tci = self.tci
        cdef uint8_t* p
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            if a.len < ETHER_HEADER_LEN:
                pool.free(x)
                self.drops += 1
                continue
            if self.use_anno:
                tci = load_be16(&a.user[VLAN_TCI_ANNO])
            if <int>(tci & 0xFFF) != self.native_vlan:
                p = pool.push(x, VLAN_HEADER_LEN)
                if p == NULL:
                    pool.free(x)
                    self.drops += 1
                    continue
                memmove(p, p + VLAN_HEADER_LEN, 12)
                store_be16(p + 12, self.ethertype)
                store_be16(p + 14, tci)
            a.mac_off = <int32_t>a.headroom
            b.idx[k] = x
            k += 1
        b.n = k
        return 0

    def _config(self):
        if self.use_anno:
            text = "ANNO"
        else:
            text = f"VLAN_ID {self.tci & 0xFFF}, VLAN_PCP {self.tci >> 13}"
        if self.native_vlan != 0:
            text += f", NATIVE_VLAN {self.native_vlan}"
        if self.ethertype != ETHERTYPE_8021Q:
            text += f", ETHERTYPE 0x{self.ethertype:04X}"
        return text

    def add_handlers(self):
        self.add_read_handler("config", self._config)
        self.add_read_handler("vlan_tci", lambda: self.tci)
        self.add_write_handler("vlan_tci", lambda v: self._set_tci(Int(0, 0xFFFF)(v.strip())))
        self.add_read_handler("drops", lambda: self.drops)

    def _set_tci(self, int tci):
        self.tci = tci
