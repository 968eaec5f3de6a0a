# EXPORT_ELEMENT StaticIPLookup

cdef class StaticIPLookup(LinearIPLookup):
    """StaticIPLookup(ADDR1/MASK1 [GW1] OUT1, ADDR2/MASK2 [GW2] OUT2, ...)

    Simple static IP routing table.

    Ports: 1 input, any number of outputs.
    Processing: push.

    Acts like LinearIPLookup, but its routes are fixed by its configuration:
    the add, set, remove and ctrl handlers refuse to change them once the
    router runs.

    Handlers:
      table (read)     the routes
      lookup (read)    with an address parameter: "OUTPUT [GW]" for it
      add, set, remove, ctrl (write)  fail: "can't add/remove routes dynamically"
      drops (read)     packets without a route

    Example:
      rt :: StaticIPLookup(18.26.4.24/32 0, 18.26.4/24 1, 0/0 18.26.4.1 1);
    """

    dynamic = False
