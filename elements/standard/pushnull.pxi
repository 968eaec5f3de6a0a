# EXPORT_ELEMENT PushNull

cdef class PushNull(Element):
    """PushNull

    Passes pushed packets unchanged.

    Ports: 1 input, 1 output.
    Processing: push.

    Responds to each pushed batch by pushing it unchanged out its output.
    """

    port_count = "1/1"
    processing = "h/h"
