# EXPORT_ELEMENT ToDump

cdef enum:
    TODUMP_FLUSH_DELAY_NS = 200000000     # buffered bytes reach the file within 0.2 s
    PCAP_MAXIMUM_SNAPLEN = 262144          # what libpcap writes for "no limit"


cdef class ToDump(Element):
    """ToDump(FILENAME [, SNAPLEN, ENCAP, KEYWORDS])

    Writes packets to a pcap (tcpdump) file.

    Ports: 1 input; 0 or 1 outputs. Processing: agnostic.

    Writes each packet to FILENAME in `tcpdump -w` format, readable by
    tcpdump, Wireshark, scapy and FromDump. FILENAME `-` is standard output;
    names ending in .gz, .bz2 or .xz are compressed. Packets are then passed
    to the output, or freed if there is none; with a pull input and no
    output, ToDump pulls packets itself whenever its upstream has some.

    Writes at most SNAPLEN bytes of each packet, and records its length plus
    its extra length annotation as the wire length. A packet without a
    timestamp annotation is stamped with the current time. Records are
    gathered in a 256 KiB buffer and written in blocks; the buffer is flushed
    when it fills, 0.2 s after the first unflushed packet, when the driver
    stops, on the `flush` handler and at cleanup (so after SIGINT too). A
    write error (a full disk) is reported once and deactivates the element.

    Keywords:
      SNAPLEN         Integer. Bytes of each packet to keep; 0 = all (default 2000).
      ENCAP           Word. The link type in the file header: ETHER (default),
                      IP (raw IP), SLL, FDDI, ATM, 802_11, HDLC, PPP, PPP_HDLC,
                      NULL, PRISM, AIRONET, SUNATM or 802_11_RADIO.
      USE_ENCAP_FROM  Element names. Take ENCAP from their `encap` handlers
                      (which must agree); exclusive with ENCAP.
      EXTRA_LENGTH    Boolean. Add the extra length annotation to the recorded
                      wire length (default true).
      NANO            Boolean. Write nanosecond timestamps (the nanosecond
                      pcap format; default false: microseconds).
      UNBUFFERED      Boolean. Write after every batch (default false).

    Handlers:
      count (read)         packets written
      reset_counts (write) set count to 0
      filename (read)      FILENAME
      active (read/write)  whether packets are written
      flush (write)        write buffered records to the file now

    Example:
      FromDump(in.pcap, STOP true) -> ... -> ToDump(out.pcap, SNAPLEN 0);
    """

    port_count = "1/0-1"
    processing = "a/a"
    flow_code = "x/x"
    configure_phase = 150       # after FromDump and FromDevice (USE_ENCAP_FROM)

    cdef TraceWriter writer
    cdef readonly str filename
    cdef uint32_t snaplen
    cdef int linktype
    cdef list encap_from
    cdef bint extra_length, nano, unbuffered, active
    cdef readonly uint64_t count
    cdef Task task
    cdef NotifierSignal signal
    cdef Timer flush_timer

    def __cinit__(self):
        self.writer = TraceWriter()

    def configure(self, args):
        self.filename = args.read_mp("FILENAME", FILENAME)
        snaplen = args.read_p("SNAPLEN", UINT, 2000)
        encap = args.read_p("ENCAP", WORD, None)
        encap_from = args.read("USE_ENCAP_FROM", ANY, None)
        self.extra_length = args.read("EXTRA_LENGTH", BOOL, True)
        self.nano = args.read("NANO", BOOL, False)
        self.unbuffered = args.read("UNBUFFERED", BOOL, False)
        self.snaplen = snaplen if snaplen else 0xFFFFFFFF
        if encap is not None and encap_from is not None:
            raise self.error("specify at most one of ENCAP and USE_ENCAP_FROM")
        self.linktype = LINKTYPE_ETHERNET
        if encap is not None:
            try:
                self.linktype = encap_linktype(encap)
            except ValueError as e:
                raise self.error(f"ENCAP: {e}") from None
        self.encap_from = None
        if encap_from is not None:
            names = split_words(encap_from)
            if not names:
                raise self.error("element names missing after USE_ENCAP_FROM")
            self.encap_from = []
            for n in names:
                e = self.router.element(n)
                if e is None:
                    raise self.error(f"USE_ENCAP_FROM: no element named '{n}'")
                self.encap_from.append(e)

    def initialize(self):
        if self.encap_from is not None:
            self.linktype = self._encap_from_elements()
        try:
            self.writer.open(self.filename)
        except OSError as e:
            raise self.error(f"{self.filename}: {e.strerror or e}") from None
        self.writer.write_bytes(self._file_header())
        self.active = True
        self.flush_timer = self.add_timer()
        if self.input_is_pull(0) and self.noutputs == 0:
            self.task = self.add_task(True)
            self.signal = self.upstream_empty_signal(0)
            self.signal.add_listener(self.task)
        self.router.driver.stop_hooks.append(self._flush_on_stop)

    def _encap_from_elements(self) -> int:
        found = {}
        for e in self.encap_from:
            # handlers are set up after every initialize; those elements
            # initialized before us (configure_phase), so set theirs up now
            e._setup_handlers()
            if not e.has_read_handler("encap"):
                raise self.error(f"'{e.name}' has no 'encap' read handler")
            text = e.read_handler("encap").strip()
            try:
                found[e.name] = encap_linktype(text)
            except ValueError:
                raise self.error(f"'{e.name}.encap' did not return a valid encapsulation type ('{text}')")
        if len(set(found.values())) > 1:
            raise self.error("source encapsulation types disagree: " +
                             ", ".join(f"{n} has {ENCAP_NAMES.get(t, t)}" for n, t in found.items()))
        return next(iter(found.values()))

    def _file_header(self) -> bytes:
        import struct
        magic = PCAP_MAGIC_NANO if self.nano else PCAP_MAGIC
        snap = self.snaplen if self.snaplen != 0xFFFFFFFF else PCAP_MAXIMUM_SNAPLEN
        return struct.pack("=IHHiIII", magic, 2, 4, 0, 0, snap, self.linktype)

    def _flush_on_stop(self):
        self._flush_quietly()
        return False          # a stop hook that never keeps the driver running

    def _flush_quietly(self):
        if self.writer.is_open and self.writer.flush_buffer() < 0:
            self._write_failed()

    def cleanup(self):
        if self.flush_timer is not None:
            self.flush_timer.unschedule()
        hooks = self.router.driver.stop_hooks if self.router is not None else []
        if self._flush_on_stop in hooks:
            hooks.remove(self._flush_on_stop)
        if self.writer.is_open:
            try:
                self.writer.close()
            except OSError as e:
                self.warn(f"{self.filename}: {e.strerror}; records lost")

    def take_state(self, old):
        """Keep writing the old element's file (same file, link type and
        timestamp format); the file was not truncated by our initialize."""
        cdef ToDump o
        if not isinstance(old, ToDump):
            return
        o = <ToDump>old
        if (o.filename == self.filename and o.linktype == self.linktype and o.nano == self.nano
                and o.writer.is_open):
            self.writer.take_over(o.writer)
            self.count = o.count

    # ---- the hot path ------------------------------------------------------
    cdef int _write(self, Batch* b) except -1:
        cdef TraceWriter w = self.writer
        cdef Anno* anno = self.pool.anno
        cdef Anno* a
        cdef uint32_t i, caplen, wirelen, extra, snaplen = self.snaplen
        cdef bint nano = self.nano
        cdef bint extra_length = self.extra_length
        cdef uint64_t ts, sec, now = 0
        cdef uint8_t* p
        cdef uint8_t* room_end
        cdef bint failed = False
        if not self.active:
            return 0
        # where the buffer's room starts and ends, as locals: the writer's
        # fields would be loaded again after every memcpy
        p = w.buf + w.used
        room_end = w.buf + w.cap
        for i in range(b.n):
            a = &anno[b.idx[i]]
            caplen = a.len if a.len <= snaplen else snaplen
            wirelen = a.len
            if extra_length:
                memcpy(&extra, &a.user[EXTRA_LENGTH_ANNO], 4)
                wirelen += extra
            if <size_t>(room_end - p) < PCAP_RECORD_HEADER_LEN + caplen:
                w.used = p - w.buf
                p = w.reserve(PCAP_RECORD_HEADER_LEN + caplen)
                if p == NULL:
                    failed = True
                    break
                room_end = w.buf + w.cap
            ts = a.timestamp
            if ts == 0:
                if now == 0:
                    now = realtime_ns()
                ts = now
            sec = ts // 1000000000ULL
            ts -= sec * 1000000000ULL
            store_host32(p, <uint32_t>sec)
            # a constant divisor in each branch: a multiplication, not a division
            store_host32(p + 4, <uint32_t>(ts if nano else ts // 1000ULL))
            store_host32(p + 8, caplen)
            store_host32(p + 12, wirelen)
            memcpy(p + PCAP_RECORD_HEADER_LEN, a.data, caplen)
            p += PCAP_RECORD_HEADER_LEN + caplen
        if not failed:
            w.used = p - w.buf
        self.count += i if failed else b.n
        if failed:
            self._write_failed()
            return 0
        if self.unbuffered:
            if w.flush_buffer() < 0:
                self._write_failed()
        elif self.flush_timer.heap_pos < 0 and w.used:
            self.flush_timer.schedule_after(TODUMP_FLUSH_DELAY_NS)
        return 0

    def _write_failed(self):
        if self.active:
            self.active = False
            self.warn(f"{self.filename}: {self.writer.error_text() or 'write failed'}; "
                      "no more packets will be written")

    cdef int run_timer(self, Timer timer) except -1:
        self._flush_quietly()
        return 0

    cdef int push(self, int port, Batch* b) except -1:
        self._write(b)
        if self.noutputs:
            return self.output_push(0, b)
        self.pool.free_batch(b)
        return 0

    cdef int pull(self, int port, Batch* b, int max) except -1:
        if self.input_pull(0, b, max):
            self._write(b)
        return b.n

    cdef int run_task(self, Task task) except -1:
        cdef Batch* b
        cdef int rounds, got = 0
        b = self.pool.batch_get()
        try:
            for rounds in range(4):
                if not self.input_pull(0, b, BATCH_MAX):
                    break
                got += b.n
                self._write(b)
                self.pool.free_batch(b)
        finally:
            self.pool.free_batch(b)
            self.pool.batch_put(b)
        if got or self.signal.is_active():
            task.reschedule()
        return got

    # ---- handlers ----------------------------------------------------------
    def _write_active(self, value):
        active = BOOL(value.strip())
        if active and not self.writer.is_open:
            raise HandlerError(f"{self.name}.active: the file is closed")
        self.active = active

    def _write_flush(self, value):
        if self.writer.is_open and self.writer.flush_buffer() < 0:
            self._write_failed()
            raise HandlerError(f"{self.name}.flush: {self.writer.error_text()}")

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_write_handler("reset_counts", lambda v: self._reset_counts())
        self.add_read_handler("filename", lambda: self.filename)
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", self._write_active)
        self.add_write_handler("flush", self._write_flush)

    def _reset_counts(self):
        self.count = 0
