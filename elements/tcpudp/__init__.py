"""TCP and UDP elements: header checks, checksums, UDP/IP encapsulation."""
