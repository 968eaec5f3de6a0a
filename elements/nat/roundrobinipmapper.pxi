# EXPORT_ELEMENT RoundRobinIPMapper

cdef class RoundRobinIPMapper(Element):
    """RoundRobinIPMapper(PATTERN_1, ..., PATTERN_N)

    Round-robin mapper for the IPRewriter family.

    Ports: none.
    Processing: none.

    Each PATTERN is ``SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT`` (or a name
    from IPRewriterPatterns followed by FOUTPUT ROUTPUT), as in IPRewriter's
    ``pattern`` input spec. A rewriter input spec naming this element asks it
    for each new flow: it tries the patterns in round-robin order, starting
    after the one it used last, and the first that can map the flow wins;
    the flow goes to that pattern's outputs. Useful for load balancing.
    Warns when given a single pattern.

    Example:
      rr :: RoundRobinIPMapper(- - 10.0.0.1 - 0 1, - - 10.0.0.2 - 0 1);
      rw :: IPRewriter(rr, drop);
    """

    port_count = "0/0"
    processing = "a/a"
    configure_phase = 49        # before the rewriters (Click's CONFIGURE_PHASE_MAPPER)

    cdef Mapper m
    cdef readonly list pattern_objects
    cdef readonly list foutputs, routputs

    def __cinit__(self):
        memset(&self.m, 0, sizeof(Mapper))

    def __dealloc__(self):
        free(self.m.patterns)
        free(self.m.foutput)
        free(self.m.routput)

    def configure(self, args):
        cdef int i
        texts = args.rest()
        if not texts:
            raise self.error("no patterns given")
        if len(texts) == 1:
            self.warn("only one pattern given")
        self.pattern_objects, self.foutputs, self.routputs = [], [], []
        for i, text in enumerate(texts):
            words = split_words(text)
            try:
                if len(words) <= 2:
                    raise ValueError("syntax error")
                f, r = parse_port_pair(words[-2:])
                if len(words) == 3:
                    pattern = find_named_pattern(self.router, words[0])
                else:
                    pattern = RewritePattern.parse(words[:-2])
            except ValueError as e:
                raise self.error(f"pattern {i}: {e}") from None
            self.pattern_objects.append(pattern)
            self.foutputs.append(f)
            self.routputs.append(r)
        n = len(texts)
        self.m.patterns = <Pattern**>calloc(n, sizeof(Pattern*))
        self.m.foutput = <int32_t*>calloc(n, sizeof(int32_t))
        self.m.routput = <int32_t*>calloc(n, sizeof(int32_t))
        if self.m.patterns == NULL or self.m.foutput == NULL or self.m.routput == NULL:
            raise MemoryError()
        for i in range(n):
            self.m.patterns[i] = &(<RewritePattern>self.pattern_objects[i]).p
            self.m.foutput[i] = self.foutputs[i]
            self.m.routput[i] = self.routputs[i]
        self.m.n = n
        self.m.last = 0
