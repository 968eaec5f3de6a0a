# EXPORT_ELEMENT CheckIPHeader2

cdef class CheckIPHeader2(CheckIPHeader):
    """CheckIPHeader2([OFFSET, KEYWORDS])

    Checks IP headers, without checksums.

    Ports: 1 input, 1 or 2 outputs.
    Processing: agnostic; output 1 push.

    Behaves exactly like CheckIPHeader, except that CHECKSUM defaults to
    false: header checksums are not checked unless asked for.

    Keywords:
      CHECKSUM    Boolean. Check header checksums (false).
      OFFSET      Unsigned. As CheckIPHeader.
      BADSRC      IP address list. As CheckIPHeader.
      GOODDST     IP address list. As CheckIPHeader.
      INTERFACES  List of ADDR/LEN. As CheckIPHeader.
      VERBOSE     Boolean. As CheckIPHeader.
      DETAILS     Boolean. As CheckIPHeader.

    Handlers:
      drops (read)         invalid packets seen
      drop_details (read)  invalid packets by reason
    """

    default_checksum = False
