# EXPORT_ELEMENT RoundRobinSwitch

cdef class RoundRobinSwitch(Element):
    """RoundRobinSwitch

    Sends packets to its outputs in turn.

    Ports: 1 input, 1 or more outputs.
    Processing: push.

    Pushes each arriving packet out one of its outputs; the next packet
    goes out the following output, in round-robin order. A batch is split
    so that packet i goes where it would have gone alone.
    """

    port_count = "1/1-"
    processing = "h/h"

    cdef int next_output

    cdef int push(self, int port, Batch* b) except -1:
        cdef int32_t port_of[BATCH_MAX]
        cdef uint32_t i
        cdef int out = self.next_output, n = self.noutputs
        if n == 1:
            return self.output_push(0, b)
        for i in range(b.n):
            port_of[i] = out
            out += 1
            if out == n:
                out = 0
        self.next_output = out
        return push_grouped(self, b, port_of)
