"""Ethernet and ARP elements."""
