# EXPORT_ELEMENT PoolInfo

cdef class PoolInfo(Element):
    """PoolInfo(SIZE, [KEYWORDS])

    Sets the size of the packet pool.

    Ports: none.
    Processing: none.

    Sets how many packet buffers the router's pool holds: SIZE buffers of
    2 KiB (128 bytes of headroom each) and BIG buffers of 64 KiB for jumbo,
    GSO and reassembled frames. The pool is made after every element is
    configured, so PoolInfo may appear anywhere in the configuration. A
    size given to the router by its caller (Router(pool_size=...)) wins
    over PoolInfo's. Memory is mapped lazily: buffers never used cost no
    resident memory, but their annotations (128 bytes each) do.

    Keywords:
      SIZE  Unsigned >= 1. Buffers of 2 KiB (default 8192).
      BIG   Unsigned. Buffers of 64 KiB (default 32).

    Handlers:
      size (read)  buffers of 2 KiB in the pool
      big (read)   buffers of 64 KiB in the pool

    Example:
      PoolInfo(65536, BIG 128);
    """

    port_count = "0/0"
    processing = "a/a"
    configure_phase = 0

    def configure(self, args):
        size = args.read_p("SIZE", UINT, None)
        big = args.read("BIG", UINT, None)
        if size is not None and size < 1:
            raise self.error("SIZE must be at least 1")
        router = self.router
        if any(isinstance(e, PoolInfo) and e is not self for e in router.elements[:self.eindex]):
            raise self.error("more than one PoolInfo")
        if router.pool is None:
            if size is not None and router.pool_size is None:
                router.pool_size = size
            if big is not None and router.big_pool_size is None:
                router.big_pool_size = big

    def add_handlers(self):
        self.add_read_handler("size", lambda: self.pool.small_size)
        self.add_read_handler("big", lambda: self.pool.big_size)
