"""Trace files: pcap (FromDump, ToDump) and Click IP summary dumps."""
