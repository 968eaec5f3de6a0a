# EXPORT_ELEMENT StaticSwitch

cdef class StaticSwitch(Element):
    """StaticSwitch(K)

    Sends the packet stream to a fixed output.

    Ports: 1 input, any number of outputs.
    Processing: push.

    Sends every packet out output K. A negative K, or one with no such
    output, drops the packets instead. Unlike Switch, K cannot change at
    run time.

    Example:
      StaticSwitch(1)
    """

    port_count = "1/-"
    processing = "h/h"

    cdef readonly int output

    def configure(self, args):
        self.output = args.read_mp("K", INT)

    cdef int push(self, int port, Batch* b) except -1:
        if 0 <= self.output < self.noutputs:
            return self.output_push(self.output, b)
        self.pool.free_batch(b)
        return 0
