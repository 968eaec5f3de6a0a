# EXPORT_ELEMENT PullSwitch

cdef class PullSwitch(Element):
    """PullSwitch([INPUT])

    Forwards pull requests to a settable input.

    Ports: any number of inputs, 1 output.
    Processing: pull.

    On every pull, returns the packets pulled from input INPUT (default 0);
    a negative INPUT, or one with no such input, returns nothing. The
    switch handler changes INPUT at run time.

    PullSwitch is an empty notifier that follows its selected input: a
    puller downstream sleeps while the selected input is dormant (its
    upstream queues are empty) and is woken when it has packets again,
    whatever the other inputs do.

    Handlers:
      switch (read/write)  INPUT (a write of an input the element lacks sets -1)
    """

    port_count = "-/1"
    processing = "l/l"

    cdef readonly int input
    cdef Notifier notifier
    cdef SignalArray signals
    cdef Task relay          # woken by any input's notifiers; wakes ours if the selected input woke

    def __cinit__(self):
        self.notifier = Notifier(True)

    def configure(self, args):
        self.input = args.read_p("INPUT", INT, 0)
        if not 0 <= self.input < self.ninputs:
            self.input = -1
        self.notifier.active = self.input >= 0

    def initialize(self):
        self.signals = upstream_signals(self)
        self.relay = self.add_task(False)
        self.signals.add_listener(self.relay)

    def empty_notifier(self):
        return self.notifier

    cdef int run_task(self, Task task) except -1:
        if self.input >= 0 and self.signals.active(self.input):
            self.notifier.wake()
        return 0

    cdef int pull(self, int port, Batch* b, int max) except -1:
        if self.input < 0:
            return 0
        if self.input_pull(self.input, b, max):
            self.notifier.active = True
        elif not self.signals.active(self.input):
            self.notifier.sleep()
        return b.n

    def _write_switch(self, value):
        k = INT(value.strip())
        self.input = k if 0 <= k < self.ninputs else -1
        if self.input < 0:
            self.notifier.sleep()
        elif self.signals.active(self.input):
            self.notifier.wake()

    def add_handlers(self):
        self.add_read_handler("switch", lambda: self.input)
        self.add_write_handler("switch", self._write_switch)
