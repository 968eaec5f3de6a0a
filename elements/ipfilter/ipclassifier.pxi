# EXPORT_ELEMENT IPClassifier

cdef class IPClassifier(IPClassification):
    """IPClassifier(PATTERN_1, ..., PATTERN_N)

    Classifies IP packets by contents, with tcpdump(1)-like patterns.

    Ports: 1 input, N outputs (one per pattern).
    Processing: push.

    Sends each packet to the output of the first pattern it matches; packets
    matching no pattern are dropped. Input packets must have their IP header
    annotation set (CheckIPHeader and MarkIPHeader set it); ``ether`` tests
    also need the MAC header annotation.

    A pattern is an expression of primitives joined by ``and``/``&&``,
    ``or``/``||``, ``not``/``!``, parentheses and ``?:``; two primitives
    side by side mean ``and``. Primitives:

      ip proto PROTO, or a protocol name: tcp, udp, icmp, igmp, ipip, tcpudp
      [src|dst|src and dst|src or dst] host ADDR, net ADDR/LEN or ADDR mask MASK
      [src|dst] [tcp|udp] port PORT, a port name (www, domain, ...) or a
        range LO-HI (a clickpy extension)
      ip vers, hl, id, tos, dscp, len, ttl V; ip frag, ip unfrag, ip ect, ip ce
      tcp opt syn|ack|fin|rst|psh|urg (or the bare flag), tcp win V
      icmp type TYPE or an ICMP type name (echo, echo-reply, unreachable, ...)
      ether [src|dst] host ETHADDR
      ip[POS:LEN], tcp[POS:LEN], udp[POS:LEN], icmp[POS:LEN], transp[POS:LEN] V
      true, false, and "-", "any" or "all" for a pattern matching everything
    Numeric tests take an optional "& MASK" and a relation (=, ==, !=, <,
    >, <=, >=). A primitive giving only data borrows its type from the one
    before ("src port 80 or 81"). Transport tests hold only for the first
    fragment of the right protocol. Errors point at the offending word.

    Handlers:
      program (read)  the compiled decision program

    Example:
      IPClassifier(dst tcp port 8000 or 8080, dst tcp port > 1023, tcp);
    """

    def configure(self, args):
        patterns = [unquote(p) for p in args.rest()]
        if len(patterns) > self.noutputs:
            raise self.error(f"{len(patterns)} patterns but {self.noutputs} output"
                             f"{'' if self.noutputs == 1 else 's'}: IPClassifier needs one "
                             f"output per pattern")
        self._install(compile_for(self, compile_ipclassifier, patterns))
