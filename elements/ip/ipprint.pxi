# EXPORT_ELEMENT IPPrint

cdef extern from *:
    """
    #include <stdio.h>
    #include <string.h>
    typedef struct {
        const char *label;
        int contents;           /* 0 none, 1 hex, 2 ascii */
        int payload;            /* contents start at the transport payload */
        int maxlength;          /* bytes of contents; negative: all */
        int id, ttl, tos, length, timestamp, paint, aggregate, ether, swap;
    } clickpy_ipprint_opts;

    static const char *clickpy_ip_proto_name(int p) {
        switch (p) {
        case 1: return "icmp"; case 2: return "igmp"; case 4: return "ipip"; case 6: return "tcp";
        case 17: return "udp"; case 41: return "ipv6"; case 47: return "gre"; case 50: return "esp";
        case 51: return "ah"; case 58: return "icmp6"; case 89: return "ospf"; case 132: return "sctp";
        default: return 0;
        }
    }
    static const char *clickpy_icmp_type_name(int t) {
        switch (t) {
        case 0: return "echo-reply"; case 3: return "unreachable"; case 4: return "sourcequench";
        case 5: return "redirect"; case 8: return "echo"; case 9: return "routeradvert";
        case 10: return "routersolicit"; case 11: return "timeexceeded"; case 12: return "parameterproblem";
        case 13: return "timestamp"; case 14: return "timestamp-reply"; case 15: return "inforeq";
        case 16: return "inforeq-reply"; case 17: return "maskreq"; case 18: return "maskreq-reply";
        default: return 0;
        }
    }
    static const char *clickpy_icmp_code_name(int t, int c) {
        static const char *unreach[] = {"net", "host", "protocol", "port", "needfrag", "srcroutefail",
            "net-unknown", "host-unknown", "isolated", "net-prohibited", "host-prohibited", "tos-net",
            "tos-host", "filterprohibited", "host-precedence", "precedence-cutoff"};
        static const char *redirect[] = {"net", "host", "tos-net", "tos-host"};
        static const char *timxceed[] = {"transit", "reassembly"};
        static const char *paramprob[] = {"erroratptr", "missingopt", "length"};
        if (t == 3 && c < 16) return unreach[c];
        if (t == 5 && c < 4) return redirect[c];
        if (t == 11 && c < 2) return timxceed[c];
        if (t == 12 && c < 3) return paramprob[c];
        return 0;
    }

    #define CLICKPY_PUT(...) (pos += (size_t)snprintf(out + pos, pos < cap ? cap - pos : 0, __VA_ARGS__))

    static size_t clickpy_put_addr(char *out, size_t pos, size_t cap, const uint8_t *a) {
        return pos + (size_t)snprintf(out + pos, pos < cap ? cap - pos : 0, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    }

    /* One line of IPPrint text (with the final newline) for the packet whose
       annotations are `a`; returns its length (at most cap - 1 is written). */
    static size_t clickpy_ipprint_line(char *out, size_t cap, const clickpy_ipprint_opts *o,
                                       const clickpy_anno *a) {
        size_t pos = 0;
        const uint8_t *head = a->data - a->headroom;
        const uint8_t *end = a->data + a->len;
        const uint8_t *iph = head + a->net_off;
        const uint8_t *th, *data;
        long netlen = (long)(end - iph), tlen, bytes;
        int ip_len, hlen, payload_len, offfield, firstfrag;
        if (o->label && o->label[0]) CLICKPY_PUT("%s: ", o->label);
        if (o->timestamp)
            CLICKPY_PUT("%llu.%06llu: ", (unsigned long long)(a->timestamp / 1000000000ULL),
                        (unsigned long long)(a->timestamp % 1000000000ULL / 1000ULL));
        if (o->aggregate) {
            uint32_t agg; memcpy(&agg, a->user + 20, 4);
            CLICKPY_PUT("#%u", (unsigned)__builtin_bswap32(agg));
        }
        if (o->paint) CLICKPY_PUT("%s%u", o->aggregate ? "." : "paint ", a->user[16]);
        if (o->aggregate || o->paint) CLICKPY_PUT(": ");
        if (o->ether && a->mac_off >= 0 && a->mac_off + 14 <= a->net_off
            && head + a->mac_off + 14 <= end) {
            const uint8_t *e = head + a->mac_off;
            CLICKPY_PUT("%02x:%02x:%02x:%02x:%02x:%02x > %02x:%02x:%02x:%02x:%02x:%02x: ",
                        e[6], e[7], e[8], e[9], e[10], e[11], e[0], e[1], e[2], e[3], e[4], e[5]);
        }
        if (netlen < 20) {
            CLICKPY_PUT("truncated-ip\\n");
            return pos < cap ? pos : cap - 1;
        }
        ip_len = (iph[2] << 8) | iph[3];
        hlen = (iph[0] & 15) << 2;
        payload_len = ip_len - hlen;
        offfield = (iph[6] << 8) | iph[7];
        firstfrag = (offfield & 0x1FFF) == 0;
        th = a->trans_off >= 0 ? head + a->trans_off : iph + hlen;
        tlen = (long)(end - th);
        if (tlen > payload_len) tlen = payload_len;
        if (o->id) CLICKPY_PUT("id %u ", (iph[4] << 8) | iph[5]);
        if (o->ttl) CLICKPY_PUT("ttl %u ", iph[8]);
        if (o->tos) CLICKPY_PUT("tos %u ", iph[1]);
        if (o->length) CLICKPY_PUT("length %d ", ip_len);

        if (iph[9] == 6 || iph[9] == 17) {
            const char *proto = iph[9] == 6 ? "tcp" : "udp";
            if (tlen < 4 || !firstfrag) {
                pos = clickpy_put_addr(out, pos, cap, iph + 12); CLICKPY_PUT(" > ");
                pos = clickpy_put_addr(out, pos, cap, iph + 16);
                CLICKPY_PUT(firstfrag ? ": truncated-%s" : ": %s", proto);
            } else {
                pos = clickpy_put_addr(out, pos, cap, iph + 12); CLICKPY_PUT(".%u > ", (th[0] << 8) | th[1]);
                pos = clickpy_put_addr(out, pos, cap, iph + 16); CLICKPY_PUT(".%u: ", (th[2] << 8) | th[3]);
                if (iph[9] == 17) {
                    if (tlen < 8) CLICKPY_PUT("truncated-udp");
                    else CLICKPY_PUT("udp %u", (th[4] << 8) | th[5]);
                } else if (tlen < 14) {
                    CLICKPY_PUT("truncated-tcp");
                } else {
                    int flags = th[13];
                    uint32_t seq = ((uint32_t)th[4] << 24) | (th[5] << 16) | (th[6] << 8) | th[7];
                    uint32_t seqlen = (uint32_t)(payload_len - ((th[12] >> 4) << 2));
                    if (flags & 0x02) { CLICKPY_PUT("S"); seqlen++; }
                    if (flags & 0x01) { CLICKPY_PUT("F"); seqlen++; }
                    if (flags & 0x04) CLICKPY_PUT("R");
                    if (flags & 0x08) CLICKPY_PUT("P");
                    if (!(flags & 0x0F)) CLICKPY_PUT(".");
                    CLICKPY_PUT(" %u:%u(%u,%u,%d)", seq, seq + seqlen, seqlen, a->len, ip_len);
                    if (flags & 0x10)
                        CLICKPY_PUT(" ack %u", ((uint32_t)th[8] << 24) | (th[9] << 16) | (th[10] << 8) | th[11]);
                    if (tlen < 16) CLICKPY_PUT("truncated-tcp");
                    else CLICKPY_PUT(" win %u", (th[14] << 8) | th[15]);
                }
            }
        } else if (iph[9] == 1) {
            pos = clickpy_put_addr(out, pos, cap, iph + 12); CLICKPY_PUT(" > ");
            pos = clickpy_put_addr(out, pos, cap, iph + 16); CLICKPY_PUT(": ");
            if (!firstfrag) CLICKPY_PUT("icmp");
            else if (tlen < 2) CLICKPY_PUT("truncated-icmp");
            else if (th[0] == 0 || th[0] == 8) {
                CLICKPY_PUT(th[0] == 0 ? "icmp echo-reply " : "icmp echo ");
                if (tlen < 8) CLICKPY_PUT("truncated-icmp");
                else {
                    unsigned ident = (th[4] << 8) | th[5], sq = (th[6] << 8) | th[7];
                    if (!o->swap) { ident = ((ident & 0xFF) << 8) | (ident >> 8); sq = ((sq & 0xFF) << 8) | (sq >> 8); }
                    CLICKPY_PUT("(%u, %u)", ident, sq);
                }
            } else if (th[0] == 3) {
                const char *code = clickpy_icmp_code_name(3, th[1]);
                char codebuf[16];
                const uint8_t *eiph = th + 8;
                long eiph_len = tlen - 8;
                if (!code) { snprintf(codebuf, sizeof codebuf, "code %u", th[1]); code = codebuf; }
                if (eiph_len < 20) CLICKPY_PUT("icmp unreachable %s truncated-icmp", code);
                else {
                    long elen = eiph_len - ((eiph[0] & 15) << 2);
                    const uint8_t *eth = eiph + ((eiph[0] & 15) << 2);
                    const char *pname = clickpy_ip_proto_name(eiph[9]);
                    CLICKPY_PUT("icmp ");
                    pos = clickpy_put_addr(out, pos, cap, eiph + 16);
                    CLICKPY_PUT(" unreachable %s", code);
                    if (th[1] == 2) {
                        if (pname) CLICKPY_PUT(" %s", pname); else CLICKPY_PUT(" %u", eiph[9]);
                    } else if (th[1] == 3) {
                        if (pname) CLICKPY_PUT(" %s", pname); else CLICKPY_PUT(" protocol %u", eiph[9]);
                        if (elen < 4) CLICKPY_PUT("truncated-icmp");
                        else CLICKPY_PUT("/%u", (eth[2] << 8) | eth[3]);
                    } else if (th[1] == 4 && tlen >= 8 && ((th[6] << 8) | th[7]))
                        CLICKPY_PUT(" (mtu %u)", (th[6] << 8) | th[7]);
                }
            } else {
                const char *tname = clickpy_icmp_type_name(th[0]);
                const char *cname = clickpy_icmp_code_name(th[0], th[1]);
                if (tname) CLICKPY_PUT("icmp %s", tname); else CLICKPY_PUT("icmp type %u", th[0]);
                if (cname) CLICKPY_PUT(" %s", cname); else if (th[1]) CLICKPY_PUT(" code %u", th[1]);
            }
        } else {
            pos = clickpy_put_addr(out, pos, cap, iph + 12); CLICKPY_PUT(" > ");
            pos = clickpy_put_addr(out, pos, cap, iph + 16); CLICKPY_PUT(": ip-proto-%u", iph[9]);
        }
        if (offfield & 0x3FFF)
            CLICKPY_PUT(" (frag %u:%d@%d%s)", (iph[4] << 8) | iph[5], payload_len,
                        (offfield & 0x1FFF) << 3, (offfield & 0x2000) ? "+" : "");

        if (o->contents) {
            data = a->data;
            if (o->payload) {
                data = th;
                if (firstfrag && iph[9] == 6 && tlen >= 13) data = th + ((th[12] >> 4) << 2);
                else if (firstfrag && iph[9] == 17) data = th + 8;
            }
            bytes = data >= end ? 0 : (long)(end - data);
            if (o->maxlength >= 0 && bytes > o->maxlength) bytes = o->maxlength;
            for (long i = 0; i < bytes; i++) {
                if (o->contents == 1) {
                    if (i % 24 == 0) CLICKPY_PUT("\\n  "); else if (i % 4 == 0) CLICKPY_PUT(" ");
                    CLICKPY_PUT("%02x", data[i]);
                } else {
                    if (i % 48 == 0) CLICKPY_PUT("\\n  "); else if (i % 8 == 0) CLICKPY_PUT(" ");
                    CLICKPY_PUT("%c", data[i] < 32 || data[i] > 126 ? '.' : data[i]);
                }
            }
        }
        CLICKPY_PUT("\\n");
        return pos < cap ? pos : cap - 1;
    }
    #undef CLICKPY_PUT
    """
    ctypedef struct IPPrintOptions "clickpy_ipprint_opts":
        const char* label
        int contents, payload, maxlength
        int id, ttl, tos, length, timestamp, paint, aggregate, ether, swap
    size_t ipprint_line "clickpy_ipprint_line"(char* out, size_t cap, const IPPrintOptions* o,
                                               const Anno* a) noexcept nogil

cdef extern from "<unistd.h>" nogil:
    ssize_t c_write "write"(int fd, const void* buf, size_t n)


def _contents_value(text):
    """IPPrint's CONTENTS/PAYLOAD: a boolean, NONE, HEX or ASCII -> 0, 1, 2."""
    try:
        return 1 if BOOL(text) else 0
    except ValueError:
        pass
    v = {"NONE": 0, "HEX": 1, "ASCII": 2}.get(text.upper())
    if v is None:
        raise ValueError("expected NONE, HEX or ASCII")
    return v


cdef class IPPrint(Element):
    """IPPrint([LABEL, KEYWORDS])

    Pretty-prints IP packets.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Prints one line per packet with an IP header annotation, in Click's
    tcpdump-like format, to standard error (or OUTFILE), and passes the
    packet on unchanged: the optional LABEL and timestamp, then addresses,
    ports and protocol details, for example

      ok: 1700000000.000000: 192.168.1.1.1234 > 10.1.2.3.53: udp 22
      10.0.0.2.80 > 10.0.1.2.5000: S 100:100(0,74,60) win 65535
      10.0.0.1 > 10.0.1.2: icmp echo (1, 7)
      10.0.0.1 > 10.0.1.2: icmp 10.0.1.9 unreachable port udp/53
      10.0.0.1 > 10.0.1.2: udp (frag 7:1480@1480+)

    Packets without an IP header annotation are not printed.

    Keywords:
      CONTENTS   NONE, HEX or ASCII (or a boolean for HEX). Also print the packet
                 bytes (NONE).
      PAYLOAD    Like CONTENTS, but print only the transport payload (NONE).
      MAXLENGTH  Integer. Most bytes of contents to print; negative: all (1500).
      NBYTES     Integer. Old name of MAXLENGTH.
      TIMESTAMP  Boolean. Print the timestamp annotation (true).
      ID         Boolean. Print the IP ID (false).
      TTL        Boolean. Print the TTL (false).
      TOS        Boolean. Print the TOS byte (false).
      LENGTH     Boolean. Print the IP length (false).
      PAINT      Boolean. Print the paint annotation (false).
      AGGREGATE  Boolean. Print the aggregate annotation (false).
      ETHER      Boolean. Print Ethernet addresses when there is a MAC header (false).
      SWAP       Boolean. Print ICMP echo identifiers and sequence numbers in
                 host order; false prints them byte-swapped, as old Click did (true).
      OUTFILE    Filename. Append lines to this file instead of standard error.
      ACTIVE     Boolean. Print anything at all (true).

    Handlers:
      active (read/write)  ACTIVE

    Example:
      FromDump(trace.pcap) -> Strip(14) -> CheckIPHeader -> IPPrint(in) -> Discard;
    """

    port_count = "1/1"
    processing = "a/a"

    cdef IPPrintOptions opts
    cdef bytes label
    cdef bint active
    cdef str outfile_name
    cdef object outfile
    cdef int fd
    cdef char* buf
    cdef size_t buf_cap

    def __dealloc__(self):
        c_free(self.buf)

    def configure(self, args):
        self.label = args.read_p("LABEL", STRING, "").encode()
        contents = args.read("CONTENTS", _contents_value, 0)
        payload = args.read("PAYLOAD", _contents_value, 0)
        maxlength = args.read("MAXLENGTH", INT, None)
        nbytes = args.read("NBYTES", INT, None, deprecated=True)
        if contents and payload:
            raise self.error("specify at most one of PAYLOAD and CONTENTS")
        self.opts.contents = payload or contents
        self.opts.payload = payload != 0
        self.opts.maxlength = maxlength if maxlength is not None else (nbytes if nbytes is not None else 1500)
        self.opts.timestamp = args.read("TIMESTAMP", BOOL, True)
        self.opts.id = args.read("ID", BOOL, False)
        self.opts.ttl = args.read("TTL", BOOL, False)
        self.opts.tos = args.read("TOS", BOOL, False)
        self.opts.length = args.read("LENGTH", BOOL, False)
        self.opts.paint = args.read("PAINT", BOOL, False)
        self.opts.aggregate = args.read("AGGREGATE", BOOL, False)
        self.opts.ether = args.read("ETHER", BOOL, False)
        self.opts.swap = args.read("SWAP", BOOL, True)
        self.active = args.read("ACTIVE", BOOL, True)
        self.outfile_name = args.read("OUTFILE", FILENAME, None)
        self.opts.label = self.label

    def initialize(self):
        self.fd = 2
        if self.outfile_name is not None:
            self.outfile = open(self.outfile_name, "ab", buffering=0)
            self.fd = self.outfile.fileno()

    def cleanup(self):
        if self.outfile is not None:
            self.outfile.close()
            self.outfile = None

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint32_t i
        cdef size_t pos = 0, need, room
        cdef char* grown
        if not self.active:
            return 0
        for i in range(b.n):
            a = &anno[b.idx[i]]
            if a.net_off < 0:
                continue
            need = 640 + 4 * <size_t>(a.len if self.opts.maxlength < 0 or a.len < <uint32_t>self.opts.maxlength
                                      else <uint32_t>self.opts.maxlength) + strlen(self.opts.label)
            if pos + need > self.buf_cap:
                room = max(2 * self.buf_cap, pos + need)
                grown = <char*>realloc(self.buf, room)
                if grown == NULL:
                    break             # out of memory: print what fits, the packets go on
                self.buf = grown
                self.buf_cap = room
            pos += ipprint_line(self.buf + pos, self.buf_cap - pos, &self.opts, a)
        if pos:
            self._write(pos)
        return 0

    cdef int _write(self, size_t n) except -1:
        cdef size_t done = 0
        cdef ssize_t r
        while done < n:
            r = c_write(self.fd, self.buf + done, n - done)
            if r <= 0:
                break              # a closed or full output loses the text, never the packets
            done += <size_t>r
        return 0

    def add_handlers(self):
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", self._set_active)

    def _set_active(self, value):
        self.active = BOOL(value.strip())
