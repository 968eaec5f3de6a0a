"""IPv4 elements: header checks, annotations, TTL, options, fragmentation, reassembly, encapsulation, IPPrint."""
