"""IP packet classification: IPClassifier and IPFilter (one .pxi per element)."""
