# EXPORT_ELEMENT Null

cdef class Null(Element):
    """Null

    Passes packets unchanged.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Just passes packets along without doing anything else.
    """

    port_count = "1/1"
    processing = "a/a"
