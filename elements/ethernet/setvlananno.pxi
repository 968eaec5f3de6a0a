# EXPORT_ELEMENT SetVLANAnno

cdef class SetVLANAnno(Element):
    """SetVLANAnno([VLAN_TCI, VLAN_PCP, KEYWORDS])

    Sets the VLAN_TCI annotation.

    Ports: 1 input, 1 output. Processing: agnostic.

    Sets each packet's VLAN_TCI annotation (what VLANEncap(ANNO) and
    ARPQuerier's queries use), given whole as VLAN_TCI or as VLAN_ID and
    VLAN_PCP.

    Keywords:
      VLAN_ID   Integer 0-4095. The VLAN ID (instead of VLAN_TCI).
      VLAN_PCP  Integer 0-7. The priority code point (default 0).

    Handlers:
      vlan_tci, vlan_id, vlan_pcp (read/write)  the annotation's value and parts
    """

    port_count = "1/1"
    processing = "a/a"

    cdef uint16_t tci

    def configure(self, args):
        self.tci = parse_vlan_args(self, args, False)[0]

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef uint32_t i
        for i in range(b.n):
            store_be16(&anno[b.idx[i]].user[VLAN_TCI_ANNO], self.tci)
        return 0

    def _set(self, int tci):
        self.tci = tci & 0xFFFF

    def add_handlers(self):
        self.add_read_handler("vlan_tci", lambda: self.tci)
        self.add_read_handler("vlan_id", lambda: self.tci & 0xFFF)
        self.add_read_handler("vlan_pcp", lambda: self.tci >> 13)
        self.add_write_handler("vlan_tci", lambda v: self._set(Int(0, 0xFFFF)(v.strip())))
        self.add_write_handler("vlan_id", lambda v: self._set((self.tci & 0xF000) | Int(0, 0xFFF)(v.strip())))
        self.add_write_handler("vlan_pcp", lambda v: self._set((self.tci & 0x1FFF) | (Int(0, 7)(v.strip()) << 13)))
