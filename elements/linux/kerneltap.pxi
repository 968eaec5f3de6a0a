# EXPORT_ELEMENT KernelTap

cdef class KernelTap(KernelTun):
    """KernelTap(ADDR/MASK [, GATEWAY, KEYWORDS])

    Interface to a TAP device (user level, Linux).

    Ports: 0 or 1 input; 1 or 2 outputs. Processing: agnostic input (push or pull),
    push outputs.

    Like KernelTun, but the device is a TAP: it produces and expects
    Ethernet frames, so the kernel side is an Ethernet interface (it sends
    ARP queries to the graph, which must answer them, for instance with
    ARPResponder, to receive IP packets). ETHER sets the interface's Ethernet
    address; frames written to the device should be addressed to it (or be
    broadcast), since the kernel ignores frames for other hosts. Frames
    shorter than an Ethernet header, or longer than MTU plus the header, are
    dropped. A network namespace or a VM's NIC bridged to the device thus
    becomes a port of the graph. Keywords are KernelTun's.

    Handlers: as KernelTun (dev_name, count, packets, sent, drops, errors,
    offload, selected_calls, reset_counts).

    Example:
      tap :: KernelTap(10.9.0.1/24, ETHER 2:0:0:0:0:1)
        -> c :: Classifier(12/0806 20/0001, 12/0800, -);
      c[0] -> ARPResponder(10.9.0.2 2:0:0:0:0:2) -> tap;
    """

    tap = True
