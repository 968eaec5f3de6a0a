# EXPORT_ELEMENT IPOutputCombo

cdef class IPOutputCombo(Element):
    """IPOutputCombo(COLOR, IPADDR, MTU)

    Output combo for IP routing.

    Ports: 1 input, 5 outputs.
    Processing: push.

    One element for the common steps of an IP router's output path, the
    same as

      input -> DropBroadcasts -> p :: PaintTee(COLOR) -> g :: IPGWOptions(IPADDR)
            -> FixIPSrc(IPADDR) -> d :: DecIPTTL -> l :: CheckLength(MTU) -> [0]output;
      p[1] -> [1]output;  g[1] -> [2]output;  d[1] -> [3]output;  l[1] -> [4]output;

    Packets a link layer received as broadcast or multicast are dropped.
    A copy of each packet painted COLOR (it would leave by the interface it
    came in on: a redirect candidate) goes to output 1 while the packet
    itself goes on. Packets with bad options go to output 2, with expired
    TTL to output 3, and longer than MTU bytes to output 4. It does not
    fragment: connect output 4 to an IPFragmenter, or to an ICMPError for
    "fragmentation needed".

    Handlers:
      drops (read)  broadcasts dropped, copies that could not be made and
                    packets without an IP header

    Example:
      rt[1] -> IPOutputCombo(2, 10.0.1.1, 1500) -> ...
    """

    port_count = "1/5"
    processing = "h/h"

    cdef uint8_t color
    cdef uint8_t my_addr[4]
    cdef uint32_t my_addr_host
    cdef uint32_t mtu
    cdef readonly uint64_t drops

    def configure(self, args):
        self.color = args.read_mp("COLOR", Int(0, 255))
        self.my_addr_host = args.read_mp("IPADDR", IPADDR)
        self.mtu = args.read_mp("MTU", UINT)
        store_be32(self.my_addr, self.my_addr_host)

    cdef int push(self, int port, Batch* b) except -1:
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef uint8_t* iph
        cdef int32_t ports[256]
        cdef uint32_t copies[256]
        cdef uint32_t i, x, y, ncopies = 0, hlen
        cdef int problem
        for i in range(b.n):
            x = b.idx[i]
            a = &anno[x]
            ports[i] = -1
            if a.packet_type == PACKET_BROADCAST or a.packet_type == PACKET_MULTICAST:
                self.drops += 1
                continue
            if a.user[PAINT_ANNO] == self.color:
                y = pool.clone(x)
                if y == NO_PACKET:
                    self.drops += 1
                else:
                    copies[ncopies] = y
                    ncopies += 1
            iph = ip_header(a)
            if iph == NULL or network_length(a) < IP_MIN_HEADER:
                self.drops += 1
                continue
            hlen = (iph[0] & 15) << 2
            if hlen > IP_MIN_HEADER:
                problem = process_gw_options(iph, min(hlen, <uint32_t>network_length(a)),
                                             self.my_addr, &self.my_addr_host, 1)
                if problem >= 0:
                    a.user[ICMP_PARAMPROB_ANNO] = <uint8_t>problem
                    ports[i] = 2
                    continue
            fix_ip_src(a, self.my_addr)
            if iph[8] <= 1:
                ports[i] = 3
                continue
            ip_decrement_ttl(iph)
            ports[i] = 4 if a.len > self.mtu else 0
        emit_list(self, 1, copies, ncopies)
        return push_by_port(self, b, ports)

    def add_handlers(self):
        self.add_read_handler("drops", lambda: self.drops)
