# EXPORT_ELEMENT PullNull

cdef class PullNull(Element):
    """PullNull

    Passes pulled packets unchanged.

    Ports: 1 input, 1 output.
    Processing: pull.

    Responds to each pull by pulling from its input and returning the
    packets unchanged.
    """

    port_count = "1/1"
    processing = "l/l"
