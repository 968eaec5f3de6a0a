"""Standard elements: sources, counters, queues, schedulers, shapers (one .pxi per element)."""
