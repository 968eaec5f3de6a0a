# EXPORT_ELEMENT ToIPSummaryDump


cdef inline uint32_t anno_u32(Anno* a, int offset) noexcept:
    cdef uint32_t v
    memcpy(&v, &a.user[offset], 4)
    return v


cdef inline uint16_t anno_u16(Anno* a, int offset) noexcept:
    cdef uint16_t v
    memcpy(&v, &a.user[offset], 2)
    return v


cdef inline uint64_t anno_u64(Anno* a, int offset) noexcept:
    cdef uint64_t v
    memcpy(&v, &a.user[offset], 8)
    return v


cdef object summary_packet(PacketPool pool, uint32_t x):
    """Packet x as the ipsumdump module's Packet (cold path: one per line)."""
    cdef Anno* a = &pool.anno[x]
    cdef int32_t h = <int32_t>a.headroom
    from clickpy.elements.traces.ipsumdump import Packet
    return Packet((<char*>a.data)[:a.len],
                  a.mac_off - h if a.mac_off >= 0 and a.mac_off >= h else None,
                  a.net_off - h if a.net_off >= 0 and a.net_off >= h else None,
                  a.trans_off - h if a.trans_off >= 0 and a.trans_off >= h else None,
                  a.timestamp, anno_u32(a, EXTRA_LENGTH_ANNO), anno_u16(a, EXTRA_PACKETS_ANNO),
                  a.user[PAINT_ANNO], anno_u32(a, AGGREGATE_ANNO), anno_u64(a, FIRST_TIMESTAMP_ANNO))


cdef class ToIPSummaryDump(Element):
    """ToIPSummaryDump(FILENAME [, KEYWORDS])

    Writes packet summaries to a text (or binary) IP summary dump.

    Ports: 1 input; 0 or 1 outputs. Processing: input agnostic, output push.

    Writes one line per packet to FILENAME (`-` = standard output; .gz,
    .bz2, .xz names are compressed), with the fields FIELDS names, in
    Click's IP summary dump format, which FromIPSummaryDump reads back. A
    field that does not apply to a packet (`sport` of an ICMP packet) is
    `-`. IP fields need the packet's network header annotation (set by
    FromDump FORCE_IP, CheckIPHeader, Strip, ...). The dump starts with `!`
    lines naming the format and the fields. Packets then go to the output,
    or are freed if there is none; a pull input with no output is pulled by
    a task.

    Fields: timestamp ntimestamp ts_sec ts_usec ts_usec1 first_timestamp
    count link paint direction aggregate wire_len ip_src ip_dst ip_tos
    ip_dscp ip_ecn ip_ttl ip_frag ip_fragoff ip_id ip_sum ip_proto ip_hl
    ip_len ip_capture_len sport dport tcp_seq tcp_ack tcp_off tcp_flags
    tcp_window tcp_urp udp_len icmp_type icmp_code payload payload_len
    payload_md5_hex eth_src eth_dst (and Click's synonyms: `src` means
    ip_src, `tcp seq` means tcp_seq, ...). Not supported: ip_opt, tcp_opt,
    tcp_ntopt, tcp_sack, payload_md5, icmp_type_name, icmp_code_name.

    Keywords:
      FIELDS         Field names, space separated (default `ip_src ip_dst`);
                     CONTENTS is a synonym.
      HEADER         Boolean. Write the `!` header lines (default true).
      VERBOSE        Boolean. Add `!host` and `!runtime` lines (default false).
      BANNER         String. Add a `!creator "BANNER"` line.
      BINARY         Boolean. Write binary records after a `!binary` line
                     (default false; `payload` cannot be binary).
      BAD_PACKETS    Boolean. Write a `!bad MESSAGE` line before each packet
                     with a bad IP, TCP or UDP header (default false).
      CAREFUL_TRUNC  Boolean. With BAD_PACKETS, flag packets whose data plus
                     extra length is shorter than their IP length (default true).
      EXTRA_LENGTH   Boolean. Count the extra length annotation in lengths
                     (default true).

    Handlers:
      count (read)         packets written
      reset_counts (write) set count to 0
      filename (read)      FILENAME
      flush (write)        write buffered lines to the file now

    Example:
      ... -> ToIPSummaryDump(out.ipsum, FIELDS timestamp ip_src sport ip_dst dport ip_proto ip_len);
    """

    port_count = "1/0-1"
    processing = "a/h"
    flow_code = "x/x"

    cdef TraceWriter writer
    cdef readonly str filename
    cdef list fields
    cdef bint header, verbose, binary, bad_packets, careful_trunc, extra_length
    cdef object banner
    cdef readonly uint64_t count
    cdef Task task
    cdef NotifierSignal signal
    cdef Timer flush_timer
    cdef object summarize

    def __cinit__(self):
        self.writer = TraceWriter()

    def configure(self, args):
        from clickpy.elements.traces import ipsumdump
        self.summarize = ipsumdump.summarize
        self.filename = args.read_mp("FILENAME", FILENAME)
        fields = args.read("FIELDS", ANY, None)
        contents = args.read("CONTENTS", ANY, None)
        self.header = args.read("HEADER", BOOL, True)
        self.verbose = args.read("VERBOSE", BOOL, False)
        self.banner = args.read("BANNER", STRING, None)
        self.binary = args.read("BINARY", BOOL, False)
        self.bad_packets = args.read("BAD_PACKETS", BOOL, False)
        self.careful_trunc = args.read("CAREFUL_TRUNC", BOOL, True)
        self.extra_length = args.read("EXTRA_LENGTH", BOOL, True)
        text = fields if fields is not None else contents if contents is not None else "ip_src ip_dst"
        self.fields, unknown = ipsumdump.parse_field_list(text)
        if unknown:
            raise self.error(f"unknown field {', '.join(repr(u) for u in unknown)}")
        if not self.fields:
            raise self.error("no FIELDS given")
        if self.binary:
            for f in self.fields:
                if f.btype is None:
                    raise self.error(f"field '{f.name}' cannot be written in binary")

    def initialize(self):
        from clickpy.elements.traces import ipsumdump
        try:
            self.writer.open(self.filename)
        except OSError as e:
            raise self.error(f"{self.filename}: {e.strerror or e}") from None
        if self.header or self.binary:
            # a binary dump cannot be read without its !data and !binary lines
            self.writer.write_bytes(ipsumdump.header_lines(self.fields, binary=self.binary,
                                                           banner=self.banner, verbose=self.verbose))
        self.flush_timer = self.add_timer()
        if self.input_is_pull(0):
            self.task = self.add_task(True)
            self.signal = self.upstream_empty_signal(0)
            self.signal.add_listener(self.task)
        self.router.driver.stop_hooks.append(self._flush_on_stop)

    def _flush_on_stop(self):
        self._flush()
        return False

    def _flush(self):
        if self.writer.is_open and self.writer.flush_buffer() < 0:
            self.warn(f"{self.filename}: {self.writer.error_text()}")

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
                self.warn(f"{self.filename}: {e.strerror}; lines lost")

    cdef int _write(self, Batch* b) except -1:
        cdef BatchView view
        if not self.writer.is_open:
            return 0
        view = BatchView.wrap(self.pool, b)
        try:
            self._write_lines(view)
        finally:
            view.batch = NULL
        if self.flush_timer.heap_pos < 0:
            self.flush_timer.schedule_after(TODUMP_FLUSH_DELAY_NS)
        return 0

    def _write_lines(self, BatchView view):
        # a text format: Python per packet, the slow path by design
        for i in range(len(view)):
            self.writer.write_bytes(self.summarize(
                summary_packet(self.pool, view.index(i)), self.fields, binary=self.binary,
                bad_packets=self.bad_packets, careful_trunc=self.careful_trunc,
                extra_length=self.extra_length))
            self.count += 1

    cdef int run_timer(self, Timer timer) except -1:
        self._flush()
        return 0

    cdef int push(self, int port, Batch* b) except -1:
        try:
            self._write(b)
        except OSError as e:
            self.warn(f"{self.filename}: {e.strerror}")
            self.writer.close_quietly()
        if self.noutputs:
            return self.output_push(0, b)
        self.pool.free_batch(b)
        return 0

    cdef int run_task(self, Task task) except -1:
        cdef Batch* b = self.pool.batch_get()
        cdef int got = 0
        try:
            if self.input_pull(0, b, BATCH_MAX):
                got = b.n
                self.push(0, b)
        finally:
            self.pool.batch_put(b)
        if got or self.signal.is_active():
            task.reschedule()
        return got

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_write_handler("reset_counts", lambda v: self._reset_counts())
        self.add_read_handler("filename", lambda: self.filename)
        self.add_write_handler("flush", lambda v: self._flush())

    def _reset_counts(self):
        self.count = 0
