"""ICMP elements: ICMPError, ICMPPingResponder, CheckICMPHeader."""
