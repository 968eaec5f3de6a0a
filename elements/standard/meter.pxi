# EXPORT_ELEMENT Meter

cdef class Meter(BandwidthMeter):
    """Meter(RATE1, RATE2, ..., RATEn)

    Classifies a packet stream by its arrival rate (packets per second).

    Ports: 1 input, n+1 outputs.
    Processing: push.

    Measures the arrival rate in packets per second with an exponentially
    weighted moving average (1 ms epochs, each weighted 1/16) and sends
    every packet out the output for the current rate: output 0 below
    RATE1, output 1 from RATE1 to below RATE2, and so on, output n at or
    above RATEn. Later rates must be larger than earlier ones, and there
    must be one output more than rates. The whole stream goes to one
    output at a time.

    Handlers:
      rate (read)    the current rate
      meters (read)  the RATE arguments, one per line

    Example:
      ... -> m :: Meter(10000) -> ...;  m[1] -> Discard;   // drop above 10000 packets/s
    """

    def parse_rate(self, str text):
        rate = UINT(text)
        if rate == 0:
            raise ValueError("rate must be positive")
        return rate

    cdef uint64_t amount(self, Batch* b) noexcept:
        return b.n
