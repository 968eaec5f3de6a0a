"""Network address translation: Click's IPRewriter family (one .pxi per element)."""
