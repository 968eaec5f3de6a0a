# EXPORT_ELEMENT Idle

cdef class Idle(Element):
    """Idle

    Discards packets; never produces one.

    Ports: any number of inputs, any number of outputs.
    Processing: agnostic.

    Never pushes a packet to any output or pulls a packet from any input;
    any packet it does receive is discarded. Used to fill ports that must
    be connected ("input not connected" errors). Idle is an empty notifier
    that is never active, so a puller downstream of Idle sleeps for good
    instead of polling it.
    """

    port_count = "-/-"
    processing = "a/a"
    flow_code = "x/y"

    cdef Notifier never

    def __cinit__(self):
        self.never = Notifier(False)

    def empty_notifier(self):
        return self.never

    cdef int push(self, int port, Batch* b) except -1:
        self.pool.free_batch(b)
        return 0

    cdef int pull(self, int port, Batch* b, int max) except -1:
        return 0
