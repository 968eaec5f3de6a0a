# EXPORT_ELEMENT IPFilter

cdef class IPFilter(IPClassification):
    """IPFilter(ACTION_1 PATTERN_1, ..., ACTION_N PATTERN_N)

    Filters IP packets by contents, with tcpdump(1)-like patterns.

    Ports: 1 input, any number of outputs (zero included).
    Processing: push.

    Tests each packet against the rules in order; the first rule whose
    PATTERN matches decides: ACTION ``allow`` sends it to output 0, an
    output number N to output N, ``drop`` (or ``deny``) drops it. A packet
    no rule matches is dropped. PATTERN is IPClassifier's language (see
    IPClassifier); ``allow all``, ``deny all`` and a bare ACTION match every
    packet. Input packets must have their IP header annotation set
    (CheckIPHeader and MarkIPHeader set it).

    ``deny`` used to mean output 1 when the element had two outputs; with
    more than one output it warns that it now means ``drop``, as Click does.
    Errors point at the offending word; a rule that can never match (an
    earlier rule takes all its packets) gives a warning.

    Handlers:
      program (read)  the compiled decision program

    Example:
      IPFilter(allow udp && dst port 53, allow tcp && dst port www, deny all);
    """

    def configure(self, args):
        rules = [unquote(r) for r in args.rest()]
        self._install(compile_for(self, compile_ipfilter, rules, self.noutputs))
