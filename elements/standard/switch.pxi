# EXPORT_ELEMENT Switch

cdef class Switch(Element):
    """Switch([K])

    Sends the packet stream to a settable output.

    Ports: 1 input, any number of outputs.
    Processing: push.

    Sends every packet out output K (default 0). A negative K, or one with
    no such output, drops the packets instead. The switch handler changes
    K at run time.

    Handlers:
      switch (read/write)  K (a write of an output the element lacks sets -1)

    Example:
      s :: Switch(0);  s[0] -> ...;  s[1] -> ...;   // write s.switch 1 to redirect
    """

    port_count = "1/-"
    processing = "h/h"

    cdef readonly int output

    def configure(self, args):
        self.output = args.read_p("K", INT, 0)

    cdef int push(self, int port, Batch* b) except -1:
        if 0 <= self.output < self.noutputs:
            return self.output_push(self.output, b)
        self.pool.free_batch(b)
        return 0

    def _write_switch(self, value):
        k = INT(value.strip())
        self.output = k if 0 <= k < self.noutputs else -1

    def add_handlers(self):
        self.add_read_handler("switch", lambda: self.output)
        self.add_write_handler("switch", self._write_switch)
