# EXPORT_ELEMENT IPRewriterPatterns

cdef class IPRewriterPatterns(Element):
    """IPRewriterPatterns(NAME PATTERN, ...)

    Names rewrite patterns that rewriters share.

    Ports: none.
    Processing: none.

    Each argument is a name and a pattern, as in IPRewriter's
    ``pattern SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT`` without the outputs
    (``NAME SADDR SPORT DADDR DPORT``, or ``NAME SADDR DADDR`` for address
    rewriters). Rewriters use one with ``pattern NAME FOUTPUT ROUTPUT``;
    every input spec naming it shares the pattern and its port or address
    range, so flows of different inputs or rewriters take values in turn
    from one range. Names are unique across the configuration.

    Example:
      IPRewriterPatterns(to_world 10.0.0.1 1024-65535 - -);
      rw :: IPRewriter(pattern to_world 0 1, drop);
    """

    port_count = "0/0"
    processing = "a/a"
    configure_phase = 20        # before the rewriters that use the names

    cdef readonly dict patterns

    def configure(self, args):
        self.patterns = {}
        for text in args.rest():
            words = split_words(text)
            if not words:
                continue
            name, words = words[0], words[1:]
            if name in self.patterns or self._defined_elsewhere(name):
                raise self.error(f"pattern '{name}' already defined")
            try:
                self.patterns[name] = RewritePattern.parse(words, name)
            except ValueError as e:
                raise self.error(f"pattern '{name}': {e}") from None

    def _defined_elsewhere(self, name):
        for e in self.router.elements:
            if e is not self and isinstance(e, IPRewriterPatterns) \
                    and (<IPRewriterPatterns>e).patterns is not None and name in (<IPRewriterPatterns>e).patterns:
                return True
        return False


def find_named_pattern(router, str name):
    """The pattern an IPRewriterPatterns element of `router` defines as `name`."""
    if router is not None:
        for e in router.elements:
            if isinstance(e, IPRewriterPatterns) and (<IPRewriterPatterns>e).patterns is not None:
                p = (<IPRewriterPatterns>e).patterns.get(name)
                if p is not None:
                    return p
    raise ValueError(f"no such pattern '{name}'")
