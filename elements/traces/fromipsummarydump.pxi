# EXPORT_ELEMENT FromIPSummaryDump


class _TextSource:
    """The DATA keyword's dump, read like a file."""

    def __init__(self, data: bytes):
        import io
        self.f = io.BytesIO(data)
        self.size = len(data)

    def read_line(self):
        line = self.f.readline()
        if not line:
            return None
        return line[:len(line) - 1] if line.endswith(b"\n") else line

    def read_bytes(self, n: int) -> bytes:
        return self.f.read(n)

    @property
    def position(self) -> int:
        return self.f.tell()

    def close(self) -> None:
        pass

    @property
    def is_open(self) -> bool:
        return True


cdef class FromIPSummaryDump(Element):
    """FromIPSummaryDump(FILENAME [, KEYWORDS])

    Reads packets from an IP summary dump.

    Ports: no inputs; 1 output. Processing: agnostic.

    Reads a dump written by ToIPSummaryDump, or by hand: `!data FIELD...`
    (or `!contents`) names the fields of the lines that follow, one packet
    per line, `-` for a field not given; `!proto P` and `!flowid SRC SPORT
    DST DPORT [PROTO]` give defaults, `!binary` switches to binary records,
    `#` lines are comments. Each line becomes an IPv4 packet whose data
    starts at the IP header (network header annotation set): version 4, a
    correct header length, TTL 100, protocol PROTO unless the dump says
    otherwise; a TCP, UDP or ICMP header when a field needs one; the rest is
    zero. Packets are short, with the extra length annotation covering the
    IP length the dump asks for (unless CHECKSUM). The timestamp, paint
    (`link`, `direction`), aggregate, extra packets (`count`) and first
    timestamp annotations come from their fields. A line that does not
    parse is skipped (reported once). See ToIPSummaryDump for the fields.

    Keywords:
      STOP         Boolean. Stop the driver at the end of the dump (default false).
      ACTIVE       Boolean. Emit packets (default true).
      TIMING       Boolean. Emit packets at the pace of their timestamps (default false).
      ZERO         Boolean. Accepted for Click compatibility; data not set by
                   the dump is always zero.
      CHECKSUM     Boolean. Make packets as long as their IP length and set the
                   IP, TCP, UDP and ICMP checksums (default false).
      PROTO        Protocol (number, or T, U, I). Default IP protocol (default 6, TCP).
      MULTIPACKET  Boolean. Emit `count` packets for a line with a count field
                   (default false).
      SAMPLE       Real in [0, 1]. Emit each packet with this probability (default 1).
      CONTENTS     Field names: the fields of lines before any `!data`
                   (FIELDS, DEFAULT_CONTENTS, DEFAULT_FIELDS are synonyms).
      FLOWID       `SRC SPORT DST DPORT [PROTO]`: default addresses and ports
                   (DEFAULT_FLOWID is a synonym).
      DATA         String. The dump itself, instead of FILENAME.
      ALLOW_NONEXISTENT  Boolean. A missing file is an empty dump (default false).
      BURST        Integer. Packets per scheduling (default 32).

    Handlers:
      count (read)          packets emitted
      reset_counts (write)  set count to 0
      active (read/write)   ACTIVE
      stop (write)          deactivate and stop the driver
      encap (read)          `IP`
      filename (read)       FILENAME
      filesize (read)       the size in bytes, or `-`
      filepos (read)        bytes read so far
      sampling_prob (read)  the sampling probability

    Example:
      FromIPSummaryDump(trace.ipsum, STOP true, CHECKSUM true) -> ToDump(out.pcap, ENCAP IP);
    """

    port_count = "0/1"
    processing = "a/a"

    cdef object source
    cdef object state
    cdef readonly str filename
    cdef bytes data
    cdef bint stop, active, timing, checksum, multipacket, allow_nonexistent
    cdef bint ended, complained, timing_started
    cdef double sample
    cdef int burst
    cdef uint64_t timing_trace0, timing_real0
    cdef list pending              # made packets not yet emitted (MULTIPACKET, TIMING)
    cdef int lineno
    cdef object _pending_line      # the first line, read at initialize to check the banner
    cdef object filesize
    cdef readonly uint64_t count
    cdef Task task
    cdef Timer timer
    cdef Notifier notifier
    cdef object rng

    def __cinit__(self):
        self.notifier = Notifier(True)
        self.pending = []

    def configure(self, args):
        from clickpy.elements.traces import ipsumdump
        import random
        self.filename = args.read_p("FILENAME", FILENAME, None)
        self.stop = args.read("STOP", BOOL, False)
        self.active = args.read("ACTIVE", BOOL, True)
        args.read("ZERO", BOOL, True)
        self.timing = args.read("TIMING", BOOL, False)
        self.checksum = args.read("CHECKSUM", BOOL, False)
        sample = args.read("SAMPLE", DOUBLE, 1.0)
        proto = args.read("PROTO", ANY, None)
        self.multipacket = args.read("MULTIPACKET", BOOL, False)
        contents = None
        for kw in ("DEFAULT_CONTENTS", "DEFAULT_FIELDS", "CONTENTS", "FIELDS"):
            v = args.read(kw, ANY, None)
            if v is not None:
                contents = v
        flowid = None
        for kw in ("DEFAULT_FLOWID", "FLOWID"):
            v = args.read(kw, ANY, None)
            if v is not None:
                flowid = v
        self.allow_nonexistent = args.read("ALLOW_NONEXISTENT", BOOL, False)
        data = args.read("DATA", STRING, None)
        self.burst = args.read("BURST", Int(1, 2**30), 32)
        if sample < 0:
            raise self.error("SAMPLE must be between 0 and 1")
        if sample > 1:
            self.warn("SAMPLE probability reduced to 1")
            sample = 1.0
        elif sample == 0:
            self.warn("SAMPLE probability is 0; emitting no packets")
        self.sample = sample
        self.rng = random.Random()
        if data is not None and self.filename is not None:
            raise self.error("FILENAME and DATA conflict")
        if data is None and self.filename is None:
            raise self.error("FILENAME: required argument missing")
        self.data = data.encode("utf-8", "surrogateescape") if data is not None else None
        self.state = ipsumdump.ReaderState()
        if proto is not None:
            try:
                self.state.default_proto = ipsumdump.parse_proto(proto)
            except ValueError:
                raise self.error(f"PROTO: bad protocol '{proto}'") from None
        if contents is not None:
            self.state.set_fields(contents)
            self._report(None)
        if flowid is not None:
            self.state.set_flowid(flowid)
            if self.state.flowid is None:
                raise self.error(f"FLOWID: bad flow '{flowid}'")

    def initialize(self):
        self.timer = self.add_timer()
        if self.output_is_push(0):
            self.task = self.add_task(self.active)
        if self.data is not None:
            self.source = _TextSource(self.data)
        else:
            reader = TraceReader()
            try:
                reader.open(self.filename)
            except OSError as e:
                import errno as errno_module
                if not (self.allow_nonexistent and e.errno == errno_module.ENOENT):
                    raise self.error(f"{self.filename}: {e.strerror or e}") from None
                reader = None
            self.source = reader
        self.filesize = self.source.size if self.source is not None else None
        self.notifier.set_active(self.active and self.source is not None)
        if self.source is not None:
            first = self.source.read_line()
            self.lineno = 1
            if first is None:
                if not self.allow_nonexistent:
                    self.warn(f"{self.filename or 'DATA'}: empty dump")
                self._close()
            else:
                text = first.decode("utf-8", "surrogateescape").rstrip("\r")
                if not text.startswith(("!IPSummaryDump", "!creator", "!data", "!contents", "!proto",
                                         "!flowid")) and not self.state.fields:
                    self.warn(f"{self._where()}: missing banner line; is this an IP summary dump?")
                self._pending_line = text

    def _where(self) -> str:
        return f"{self.filename or 'DATA'}:{self.lineno}"

    def _report(self, where) -> None:
        for w in self.state.warnings:
            self.warn(f"{where}: {w}" if where else w)
        self.state.warnings.clear()

    def _close(self):
        if self.source is not None:
            self.source.close()
        self.source = None

    def cleanup(self):
        self._close()
        if self.timer is not None:
            self.timer.unschedule()
        self.pending = []

    def empty_notifier(self):
        return self.notifier if not self.output_is_push(0) else None

    @property
    def encap(self) -> str:
        return "IP"

    # ---- reading (cold: Python per line) -------------------------------------
    def _next_record(self):
        """The next packet as (data, transport offset, extra length, maker), or None at the end."""
        cdef bint binary
        while self.source is not None:
            binary = False
            if self._pending_line is not None:
                text, self._pending_line = self._pending_line, None
            elif self.state.binary:
                head = self.source.read_bytes(4)
                if len(head) < 4:
                    if head:
                        self.warn(f"{self._where()}: truncated binary record")
                    self._close()
                    return None
                word = int.from_bytes(head, "big")
                length = word & 0x7FFFFFFF
                if length < 4:
                    self.warn(f"{self._where()}: binary record too short; giving up")
                    self._close()
                    return None
                body = self.source.read_bytes(length - 4)
                self.lineno += 1
                if len(body) < length - 4:
                    self.warn(f"{self._where()}: truncated binary record")
                    self._close()
                    return None
                if word & 0x80000000:
                    text = body.rstrip(b"\0").decode("utf-8", "surrogateescape").rstrip("\n")
                else:
                    binary = True
                    text = body
            else:
                line = self.source.read_line()
                if line is None:
                    self._close()
                    return None
                self.lineno += 1
                text = line.decode("utf-8", "surrogateescape").rstrip("\r")
            if not binary:
                if not text.strip() or text.startswith("#"):
                    continue
                if text.startswith("!"):
                    self.state.bang(text)
                    self._report(self._where())
                    continue
            maker = self.state.binary_packet(text) if binary else self.state.text_packet(text)
            if maker is None:
                if not self.complained:
                    self.complained = True
                    self.warn(f"{self._where()}: " + ("no '!data' provided" if not self.state.fields
                                                       else "packet parse error"))
                continue
            data, hl, extra = maker.finish(self.checksum, True)
            return data, hl, extra, maker
        return None

    def _refill_pending(self) -> bool:
        """Queue the next record's packets (several with MULTIPACKET); False at the end."""
        from clickpy.elements.traces.ipsumdump import split_multipacket
        while True:
            rec = self._next_record()
            if rec is None:
                return False
            data, hl, extra, m = rec
            if self.multipacket and m.extra_packets:
                parts = split_multipacket(data, hl, extra, m.extra_packets + 1, m.timestamp,
                                          m.first_timestamp)
                extra_packets = 0
            else:
                parts = [(data, extra, m.timestamp)]
                extra_packets = m.extra_packets
            for d, x, ts in parts:
                if self.sample >= 1.0 or self.rng.random() < self.sample:
                    self.pending.append((d, hl, x, ts, extra_packets, m.paint, m.aggregate,
                                         m.first_timestamp))
            if self.pending:
                return True

    cdef int _fill(self, Batch* b, int max) except -1:
        """Emit up to max packets into b; returns a FILL_* code. Each packet is
        made from a parsed text line: Python per packet, the slow path by design."""
        cdef int64_t x
        cdef uint64_t now = monotonic_ns() if self.timing else 0
        while b.n < <uint32_t>max:
            x = self._next_packet(now)
            if x < 0:
                return <int>-x
            b.idx[b.n] = <uint32_t>x
            b.n += 1
        return FILL_MORE

    cdef int64_t _next_packet(self, uint64_t now) except? -100:
        """A packet made from the next dump record, or -FILL_* (end, wait, no memory)."""
        cdef PacketPool pool = self.pool
        cdef Anno* a
        cdef uint32_t x, extra, agg
        cdef uint16_t extra_packets
        cdef uint64_t first_ts, ts
        cdef const uint8_t[:] view
        if not self.pending and not self._refill_pending():
            return -FILL_END
        rec = self.pending[0]     # (data, header length, extra length, timestamp, extra packets,
        d = rec[0]                #  paint, aggregate, first timestamp)
        ts = rec[3]
        if self.timing:
            if not self.timing_started:
                self.timing_started = True
                self.timing_trace0 = ts
                self.timing_real0 = now
            elif ts > self.timing_trace0 and ts - self.timing_trace0 > now - self.timing_real0:
                self.timer.schedule_at(self.timing_real0 + (ts - self.timing_trace0))
                return -FILL_WAIT
        x = pool.alloc(len(d))
        if x == NO_PACKET:
            return -FILL_NOMEM
        self.pending.pop(0)
        a = &pool.anno[x]
        view = d
        if len(d):
            memcpy(a.data, &view[0], len(d))
        a.timestamp = ts
        a.net_off = <int32_t>a.headroom
        a.trans_off = a.net_off + <int32_t>rec[1]
        if len(d) >= 20:
            memcpy(&a.user[DST_IP_ANNO], &view[16], 4)
        extra = rec[2]
        memcpy(&a.user[EXTRA_LENGTH_ANNO], &extra, 4)
        extra_packets = rec[4]
        memcpy(&a.user[EXTRA_PACKETS_ANNO], &extra_packets, 2)
        a.user[PAINT_ANNO] = <uint8_t>(rec[5] & 0xFF)
        agg = rec[6]
        memcpy(&a.user[AGGREGATE_ANNO], &agg, 4)
        first_ts = rec[7]
        memcpy(&a.user[FIRST_TIMESTAMP_ANNO], &first_ts, 8)
        self.count += 1
        return x

    cdef int run_task(self, Task task) except -1:
        cdef Batch* b
        cdef int code
        if not self.active:
            return 0
        b = self.pool.batch_get()
        try:
            try:
                code = self._fill(b, self.burst if self.burst < BATCH_MAX else BATCH_MAX)
            except BaseException:
                self.pool.free_batch(b)
                raise
            if b.n:
                self.output_push(0, b)
        finally:
            self.pool.batch_put(b)
        self._after_fill(code)
        return 1

    cdef int pull(self, int port, Batch* b, int max) except -1:
        cdef int code
        if not self.active:
            self.notifier.sleep()
            return 0
        try:
            code = self._fill(b, max)
        except BaseException:
            self.pool.free_batch(b)
            raise
        self._after_fill(code)
        return b.n

    cdef int _after_fill(self, int code) except -1:
        cdef bint push = self.task is not None
        if code == FILL_MORE:
            if push:
                self.task.reschedule()
        elif code == FILL_NOMEM:
            self.timer.schedule_after(1000000)
            if not push:
                self.notifier.sleep()
        elif code == FILL_WAIT:
            if not push:
                self.notifier.sleep()
        else:
            self.notifier.sleep()
            if not self.ended:
                self.ended = True
                if self.stop:
                    self.please_stop()
        return 0

    cdef int run_timer(self, Timer timer) except -1:
        if self.active:
            if self.task is not None:
                self.task.reschedule()
            else:
                self.notifier.wake()
        return 0

    # ---- handlers ----------------------------------------------------------
    def _set_active(self, bint active):
        self.active = active
        if active and (self.source is not None or self.pending):
            if self.task is not None:
                self.task.schedule()
            else:
                self.notifier.wake()
        if not active:
            self.notifier.sleep()

    def _write_stop(self, value):
        self._set_active(False)
        self.please_stop()

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_write_handler("reset_counts", lambda v: self._reset())
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", lambda v: self._set_active(BOOL(v.strip())))
        self.add_write_handler("stop", self._write_stop)
        self.add_read_handler("encap", lambda: "IP")
        self.add_read_handler("filename", lambda: self.filename or "")
        self.add_read_handler("filesize", self._filesize)
        self.add_read_handler("filepos", lambda: self.source.position if self.source is not None else "-")
        self.add_read_handler("sampling_prob", lambda: f"{self.sample:.6g}")

    def _filesize(self):
        return "-" if self.filesize is None or self.filesize < 0 else self.filesize

    def _reset(self):
        self.count = 0
