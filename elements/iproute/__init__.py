"""IPv4 route lookup elements: StaticIPLookup, LinearIPLookup, RadixIPLookup, DirectIPLookup."""
