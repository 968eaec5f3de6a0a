# EXPORT_ELEMENT BandwidthMeter

cdef class BandwidthMeter(Element):
    """BandwidthMeter(RATE1, RATE2, ..., RATEn)

    Classifies a packet stream by its arrival rate (bytes per second).

    Ports: 1 input, n+1 outputs.
    Processing: push.

    Measures the arrival rate in bytes per second with an exponentially
    weighted moving average (1 ms epochs, each weighted 1/16) and sends
    every packet out the output for the current rate: output 0 below
    RATE1, output 1 from RATE1 to below RATE2, and so on, output n at or
    above RATEn. Each RATE is a bandwidth such as "384 kbps"; later rates
    must be larger than earlier ones, and there must be one output more
    than rates. A whole batch arrives at one instant, so it all goes to one
    output.

    Handlers:
      rate (read)    the current rate
      meters (read)  the RATE arguments, one per line

    Example:
      ... -> m :: BandwidthMeter(20kBps) -> ...;  m[1] -> Discard;
    """

    port_count = "1/2-"
    processing = "h/h"

    cdef double* meters
    cdef int nmeters
    cdef MeterEWMA ewma

    def __dealloc__(self):
        c_free(self.meters)

    def parse_rate(self, str text):
        return BANDWIDTH(text)

    cdef uint64_t amount(self, Batch* b) noexcept:
        cdef uint32_t longest = 0
        return <uint64_t>batch_bytes(self.pool.anno, b, &longest)

    def configure(self, args):
        texts = args.rest()
        if not texts:
            raise self.error("expected one or more rates")
        rates = []
        for i, text in enumerate(texts):
            try:
                rate = self.parse_rate(text.strip())
            except ValueError as e:
                raise self.error(f"argument {i + 1}: {e}") from None
            if rates and rate <= rates[len(rates) - 1]:
                raise self.error(f"rate {i + 1} must be > rate {i}")
            rates.append(rate)
        if len(rates) + 1 != self.noutputs:
            raise self.error(f"need {self.noutputs - 1} arguments, one less than the number of output ports")
        c_free(self.meters)
        self.meters = <double*>malloc(len(rates) * sizeof(double))
        if self.meters == NULL:
            raise MemoryError()
        for i, rate in enumerate(rates):
            self.meters[i] = rate
        self.nmeters = len(rates)

    cdef int push(self, int port, Batch* b) except -1:
        cdef double rate
        cdef int out = 0
        meter_update(&self.ewma, rate_now(), self.amount(b))
        rate = meter_rate(&self.ewma)
        while out < self.nmeters and rate >= self.meters[out]:
            out += 1
        return self.output_push(out, b)

    def _rate(self):
        meter_update(&self.ewma, rate_now(), 0)
        return format_real(meter_rate(&self.ewma))

    def add_handlers(self):
        self.add_read_handler("rate", self._rate)
        self.add_read_handler("meters", lambda: "\n".join(format_real(self.meters[i]) for i in range(self.nmeters)))
