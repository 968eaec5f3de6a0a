# EXPORT_ELEMENT ARPResponder

ctypedef struct ResponderEntry:
    uint32_t net          # address & mask, host order
    uint32_t mask
    uint8_t eth[6]


cdef inline bint is_arp_for_ip(const uint8_t* d, uint32_t length) noexcept:
    """An Ethernet frame holding an Ethernet/IPv4 ARP packet."""
    return (length >= ARP_PACKET_LEN and load_be16(d + 12) == ETHERTYPE_ARP
            and load_be16(d + 14) == ARPHRD_ETHER and load_be16(d + 16) == ETHERTYPE_IP
            and d[18] == 6 and d[19] == 4)


def parse_responder_entries(text: str) -> list:
    """`IP/MASK [IP/MASK...] ETH` -> [(net, mask, eth bytes)]; ValueError if bad."""
    prefixes, eths = [], []
    for word in split_words(text):
        try:
            eths.append(ETHERADDR(word))
            continue
        except ValueError:
            pass
        try:
            if "/" in word:
                addr, mask = IPPREFIX(word)
            else:
                addr, mask = IPADDR(word), 0xFFFFFFFF
        except ValueError:
            raise ValueError(f"'{word}' is neither an IP address or prefix nor an Ethernet address") from None
        prefixes.append((addr & mask, mask))
    if len(eths) != 1:
        raise ValueError(f"'{text}': expected exactly one Ethernet address")
    if not prefixes:
        raise ValueError(f"'{text}': expected at least one IP address or prefix")
    return [(net, mask, eths[0]) for net, mask in prefixes]


cdef class ARPResponder(Element):
    """ARPResponder(IP/MASK [IP/MASK...] ETH, IP2/MASK2 ETH2, ...)

    Generates responses to ARP queries.

    Ports: 1 input, 1 or 2 outputs. Processing: input and output 0
    agnostic, output 1 push.

    Input packets should be ARP requests, with their Ethernet header. For a
    request whose target IP address falls in one of the IP prefixes (a plain
    address is a /32), emits an ARP reply giving that prefix's Ethernet
    address (the most specific prefix wins): the request's buffer becomes
    the reply, so the reply keeps the request's annotations (input device,
    VLAN_TCI). Other packets (requests for unknown addresses, replies,
    anything not Ethernet/IPv4 ARP) go to output 1 if it exists, or are
    dropped. Usable for the host's own addresses and for proxy ARP.

    Handlers:
      table (read)    `IP/MASK ETH` per line
      add (write)     add entries: `IP/MASK [IP/MASK...] ETH`
      remove (write)  remove the entry for `IP/MASK`
      replies (read)  replies sent

    Example:
      c :: Classifier(12/0806 20/0001, ...);
      c[0] -> ARPResponder(18.26.4.24 18.26.7.0/24 00-00-C0-AE-67-EF) -> ToDevice(eth0);
    """

    port_count = "1/1-2"
    processing = "a/ah"

    cdef ResponderEntry* entries
    cdef int nentries
    cdef list table
    cdef readonly uint64_t replies

    def __dealloc__(self):
        c_free(self.entries)

    def configure(self, args):
        table = []
        for arg in args.rest():
            try:
                table.extend(parse_responder_entries(arg))
            except ValueError as e:
                raise self.error(str(e)) from None
        self._install(table)

    def _install(self, list table):
        cdef int i
        cdef ResponderEntry* e
        # most specific first, so the first match is the best
        table = sorted({(net, mask): eth for net, mask, eth in table}.items(), key=lambda t: -t[0][1])
        e = <ResponderEntry*>malloc(max(len(table), 1) * sizeof(ResponderEntry))
        if e == NULL:
            raise MemoryError()
        for i, ((net, mask), eth) in enumerate(table):
            e[i].net = net
            e[i].mask = mask
            memcpy(e[i].eth, <const uint8_t*>eth, 6)
        c_free(self.entries)
        self.entries = e
        self.nentries = len(table)
        self.table = [(net, mask, eth) for (net, mask), eth in table]

    cdef inline const uint8_t* lookup(self, uint32_t ip) noexcept:
        cdef int i
        for i in range(self.nentries):
            if (ip & self.entries[i].mask) == self.entries[i].net:
                return self.entries[i].eth
        return NULL

    cdef int process(self, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint32_t i, k = 0, x
        cdef uint8_t* d
        cdef const uint8_t* eth
        cdef uint8_t requester[10]
        cdef Batch* others = pool.batch_get()
        try:
            for i in range(b.n):
                x = b.idx[i]
                a = &anno[x]
                d = a.data
                eth = NULL
                if is_arp_for_ip(d, a.len) and load_be16(d + 20) == ARPOP_REQUEST:
                    eth = self.lookup(load_be32(d + 38))
                if eth == NULL:
                    others.idx[others.n] = x
                    others.n += 1
                    continue
                # the request becomes the reply, in place
                memcpy(requester, d + 22, 10)            # sender hardware + protocol address
                memcpy(d + 28, d + 38, 4)                # our address: the target asked about
                memcpy(d + 22, eth, 6)
                memcpy(d + 32, requester, 10)            # the requester becomes the target
                store_be16(d + 20, ARPOP_REPLY)
                memcpy(d, requester, 6)
                memcpy(d + 6, eth, 6)
                pool.take(x, a.len - ARP_PACKET_LEN)
                a.mac_off = <int32_t>a.headroom
                a.net_off = a.mac_off + ETHER_HEADER_LEN
                a.trans_off = a.net_off + 28
                b.idx[k] = x
                k += 1
            b.n = k
            self.replies += k
            self.emit_or_free(1, others)
        finally:
            pool.batch_put(others)
        return 0

    def _table_text(self):
        import ipaddress
        lines = []
        for net, mask, eth in self.table:
            plen = bin(mask).count("1")
            lines.append(f"{ipaddress.IPv4Address(net)}/{plen} {unparse_ether(eth)}")
        return "\n".join(lines) + ("\n" if lines else "")

    def _add(self, value):
        try:
            self._install(self.table + parse_responder_entries(value))
        except ValueError as e:
            raise HandlerError(f"{self.name}.add: {e}") from None

    def _remove(self, value):
        try:
            addr, mask = IPPREFIX(value.strip()) if "/" in value else (IPADDR(value.strip()), 0xFFFFFFFF)
        except ValueError as e:
            raise HandlerError(f"{self.name}.remove: {e}") from None
        kept = [t for t in self.table if (t[0], t[1]) != (addr & mask, mask)]
        if len(kept) == len(self.table):
            raise HandlerError(f"{self.name}.remove: no entry for '{value.strip()}'")
        self._install(kept)

    def add_handlers(self):
        self.add_read_handler("table", self._table_text)
        self.add_write_handler("add", self._add)
        self.add_write_handler("remove", self._remove)
        self.add_read_handler("replies", lambda: self.replies)
