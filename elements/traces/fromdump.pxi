# EXPORT_ELEMENT FromDump

cdef enum:
    FILL_MORE = 0        # stopped at max packets: more to come
    FILL_END = 1         # end of the file, or a truncated or corrupt record
    FILL_END_TIME = 2    # reached END / END_AFTER / INTERVAL
    FILL_WAIT = 3        # TIMING: the next packet is not due yet (timer set)
    FILL_NOMEM = 4       # the packet pool is empty: retry later


cdef class FromDump(Element):
    """FromDump(FILENAME [, TIMING, KEYWORDS])

    Reads packets from a pcap (tcpdump) file.

    Ports: no inputs; 1 or 2 outputs. Processing: output 0 agnostic, output 1
    push.

    Reads packets from a file written by `tcpdump -w`, Wireshark, scapy or
    ToDump and emits them, optionally stopping the driver at the end of the
    file. Reads both pcap formats (microsecond and nanosecond timestamps),
    in either byte order, and the old modified-pcap format; gzip, bzip2 and
    xz compressed files are decompressed on the fly; FILENAME `-` reads
    standard input. The file is read in 256 KiB blocks (or mapped, with
    MMAP) and each packet is copied once into a pool buffer.

    Every packet gets its timestamp annotation from the file, the extra
    length annotation (EXTRA_LENGTH) set to the bytes the capture left out
    (wire length - capture length), and its MAC header annotation at its
    first byte. A file of raw IP packets (link type RAW) sets the network
    header annotation instead, as if FORCE_IP were true. Link types other
    than Ethernet and raw IP are emitted unchanged.

    A truncated file ends the trace at the last whole packet, and a corrupt
    record header ends it there; both print a warning naming the file
    offset. A file that is not pcap (or is pcapng) is a configuration error.

    Keywords:
      TIMING       Boolean. Emit packets at the pace they were recorded: the
                   first at once, then keeping the recorded gaps (default false).
      STOP         Boolean. Stop the driver at the end of the trace (default false).
      ACTIVE       Boolean. Emit packets; see the `active` handler (default true).
      SAMPLE       Real in [0, 1]. Emit each packet with this probability,
                   in Click's fixed point (see `sampling_prob`; default 1).
      FORCE_IP     Boolean. Emit only IP packets (Ethernet, 802.1Q, Linux
                   cooked or raw IP frames), with the network header
                   annotation and the destination IP annotation set; other
                   packets go to output 1 if it exists, or are dropped (default false).
      START        Absolute time (seconds since the epoch): skip packets before it.
      START_AFTER  Time: skip the trace's first T seconds.
      END          Absolute time: end the trace at the first packet at or after it.
      END_AFTER    Time: end at the first packet T seconds after the trace's first.
      INTERVAL     Time: end at the first packet T seconds after the first emitted.
      END_CALL     Handler call (`element.handler value`) made at the end of
                   the trace. Default: `NAME.stop` with STOP, `NAME.active
                   false` with an END time. Exclusive with STOP.
      FILEPOS      Integer. Start reading at this file offset (a record boundary).
      BURST        Integer. Packets emitted per scheduling (default 256).
      MMAP         Boolean. Map the file in memory instead of reading it: the
                   kernel copies nothing, which makes FromDump faster, but a
                   file truncated by another process while FromDump reads it
                   kills the router (SIGBUS), hence the default, as Click's on
                   Linux (default false).

    At most one of START and START_AFTER, and of END, END_AFTER and INTERVAL.

    FromDump is an empty notifier on a pull output: active while it is
    active and the trace has more packets.

    Handlers:
      count (read)            packets emitted on output 0
      reset_counts (write)    set count to 0
      active (read/write)     ACTIVE
      stop (write)            deactivate and stop the driver
      encap (read)            the file's link type: ETHER, IP, ...
      filename (read)         FILENAME
      filesize (read)         the file's size in bytes, or `-` if unknown
      filepos (read/write)    the offset of the next record; write to seek
      packet_filepos (read)   the offset of the last packet emitted
      sampling_prob (read)    the actual sampling probability
      extend_interval (write) add a time to the END time and reactivate
      reset_timing (write)    restart TIMING and relative times from the next packet
      drops (read)            packets dropped (non-IP with FORCE_IP and no
                              output 1, or too long for the pool)

    Example:
      FromDump(trace.pcap, STOP true) -> Classifier(12/0800, -) -> ...
    """

    port_count = "0/1-2"
    processing = "a/ah"
    flow_code = "x/x"

    cdef TraceReader reader
    cdef readonly str filename
    cdef bint swapped, timing, stop, force_ip, active, ended, use_mmap
    cdef int linktype, minor_version, record_extra, burst
    cdef uint64_t ts_unit
    cdef uint32_t sampling_prob, rng
    cdef bint have_first_time, first_relative, have_last_time, last_relative, last_interval
    cdef bint have_any_times
    cdef uint64_t first_time, last_time
    cdef bint timing_started
    cdef uint64_t timing_trace0, timing_real0
    cdef readonly uint64_t count, drops
    cdef uint64_t packet_filepos
    cdef int64_t start_filepos
    cdef object end_call
    cdef Task task
    cdef Timer timer
    cdef Notifier notifier

    def __cinit__(self):
        self.reader = TraceReader()
        self.notifier = Notifier(True)
        self.start_filepos = -1

    def configure(self, args):
        self.filename = args.read_mp("FILENAME", FILENAME)
        self.timing = args.read_p("TIMING", BOOL, False)
        self.stop = args.read("STOP", BOOL, False)
        self.active = args.read("ACTIVE", BOOL, True)
        sample = args.read("SAMPLE", ANY, None)
        self.force_ip = args.read("FORCE_IP", BOOL, False)
        start = args.read("START", NSECONDS, None)
        start_after = args.read("START_AFTER", NSECONDS, None)
        end = args.read("END", NSECONDS, None)
        end_after = args.read("END_AFTER", NSECONDS, None)
        interval = args.read("INTERVAL", NSECONDS, None)
        end_call = args.read("END_CALL", ANY, None)
        filepos = args.read("FILEPOS", Int(0, 2**62), None)
        self.burst = args.read("BURST", Int(1, 2**30), BATCH_MAX)
        self.use_mmap = args.read("MMAP", BOOL, False)
        if sample is not None:
            try:
                self.sampling_prob = parse_sample(sample)
            except ValueError as e:
                raise self.error(f"SAMPLE: {e}")
        else:
            self.sampling_prob = 1 << SAMPLING_SHIFT
        if self.sampling_prob > (1 << SAMPLING_SHIFT):
            self.warn("SAMPLE probability reduced to 1")
            self.sampling_prob = 1 << SAMPLING_SHIFT
        elif self.sampling_prob == 0:
            self.warn("SAMPLE probability is 0; emitting no packets")
        import os
        self.rng = (int.from_bytes(os.urandom(4), "little") | 1) & 0xFFFFFFFF
        if start is not None and start_after is not None:
            raise self.error("START and START_AFTER are mutually exclusive")
        if sum(v is not None for v in (end, end_after, interval)) > 1:
            raise self.error("END, END_AFTER, and INTERVAL are mutually exclusive")
        self.have_first_time = start is not None or start_after is not None
        self.first_relative = start is None
        self.first_time = start if start is not None else (start_after or 0)
        self.have_last_time = end is not None or end_after is not None or interval is not None
        self.last_relative = end_after is not None
        self.last_interval = interval is not None
        self.last_time = next((v for v in (end, end_after, interval) if v is not None), 0)
        if self.stop and end_call is not None:
            raise self.error("END_CALL and STOP are mutually exclusive")
        if end_call is not None:
            self.end_call = end_call
        elif self.stop:
            self.end_call = f"{self.name}.stop"
        elif self.have_last_time:
            self.end_call = f"{self.name}.active false"
        self.start_filepos = -1 if filepos is None else filepos

    def initialize(self):
        if self.end_call is not None:
            self.end_call = check_handler_call(self, self.end_call)
        self.timer = self.add_timer()
        if self.output_is_push(0):
            self.task = self.add_task(self.active)
        self._open()
        self.notifier.set_active(self.active)

    def _open(self):
        cdef const uint8_t* h
        cdef uint32_t magic
        try:
            self.reader.open(self.filename, self.use_mmap)
        except OSError as e:
            raise self.error(f"{self.filename}: {e.strerror or e}") from None
        if self.reader.fill(PCAP_FILE_HEADER_LEN) < PCAP_FILE_HEADER_LEN:
            self.reader.close()
            if self.reader.read_errno:
                raise self.error(f"{self.filename}: {self.reader.error_text()}")
            raise self.error(f"{self.filename}: " + ("empty file" if self.reader.available() == 0
                                                     else "not a pcap file (too short)"))
        h = self.reader.data()
        magic = load_host32(h)
        self.swapped = magic in (PCAP_MAGIC_SWAPPED, PCAP_MAGIC_NANO_SWAPPED, PCAP_MAGIC_MODIFIED_SWAPPED)
        if self.swapped:
            magic = bswap32(magic)
        if magic == PCAPNG_MAGIC:
            self.reader.close()
            raise self.error(f"{self.filename}: pcapng files are not supported "
                             "(convert with 'editcap -F pcap' or 'tcpdump -r IN -w OUT')")
        if magic not in (PCAP_MAGIC, PCAP_MAGIC_NANO, PCAP_MAGIC_MODIFIED):
            self.reader.close()
            raise self.error(f"{self.filename}: not a pcap file (bad magic number)")
        self.ts_unit = 1 if magic == PCAP_MAGIC_NANO else 1000
        self.record_extra = 8 if magic == PCAP_MAGIC_MODIFIED else 0
        cdef uint16_t major, minor
        memcpy(&major, h + 4, 2)
        memcpy(&minor, h + 6, 2)
        if self.swapped:
            major = bswap16(major)
            minor = bswap16(minor)
        if major != 2:
            self.reader.close()
            raise self.error(f"{self.filename}: unknown pcap major version {major}")
        self.minor_version = minor
        cdef uint32_t lt = load_host32(h + 20)
        self.linktype = canonical_linktype(<int>(bswap32(lt) if self.swapped else lt) & 0xFFFF)
        if self.force_ip:
            if self.linktype not in (LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL):
                self.reader.close()
                raise self.error(f"{self.filename}: unknown linktype {self.linktype}; can't force IP packets")
        elif self.linktype == LINKTYPE_RAW:
            self.force_ip = True
        self.reader.consume(PCAP_FILE_HEADER_LEN)
        if self.start_filepos >= 0:
            try:
                self.reader.seek(self.start_filepos)
            except OSError as e:
                self.reader.close()
                raise self.error(f"FILEPOS: {e.strerror}") from None

    def cleanup(self):
        self.reader.close()
        if self.timer is not None:
            self.timer.unschedule()

    def take_state(self, old):
        """Keep reading the same file where the old configuration left off."""
        cdef FromDump o
        if not isinstance(old, FromDump):
            return
        o = <FromDump>old
        if o.filename != self.filename or not o.reader.is_open:
            return
        self.reader.close()
        self.reader, o.reader = o.reader, TraceReader()
        self.swapped = o.swapped
        self.ts_unit = o.ts_unit
        self.record_extra = o.record_extra
        self.minor_version = o.minor_version
        self.linktype = o.linktype
        if self.linktype == LINKTYPE_RAW:
            self.force_ip = True
        self.timing_started = o.timing_started
        self.timing_trace0 = o.timing_trace0
        self.timing_real0 = o.timing_real0
        self.packet_filepos = o.packet_filepos

    def empty_notifier(self):
        return self.notifier if not self.output_is_push(0) else None

    @property
    def encap(self) -> str:
        """The link type as Click names it (ToDump's USE_ENCAP_FROM reads it)."""
        return ENCAP_NAMES.get(self.linktype, str(self.linktype))

    # ---- the hot path ------------------------------------------------------
    cdef void _prepare_times(self, uint64_t ts) noexcept:
        # relative times count from the first packet; INTERVAL from the first emitted
        if self.first_relative:
            self.first_time += ts
        if self.last_relative:
            self.last_time += ts
        elif self.last_interval:
            self.last_time += self.first_time
        self.have_any_times = True

    cdef int _at_end(self, size_t need) except -1:
        """The reader could not supply a whole record: clean end, truncation or error."""
        self._warn_end(need)
        return FILL_END

    def _warn_end(self, size_t need):
        cdef TraceReader r = self.reader
        if r.read_errno:
            self.warn(f"{self.filename}: read error at offset {r.position}: {r.error_text()}")
        elif r.available() > 0:
            self.warn(f"{self.filename}: truncated packet record at offset {r.position} "
                      f"(needs {need} bytes, the file has {r.available()}); ending the trace")
            r.consume(r.available())

    def _warn_corrupt(self, uint32_t caplen):
        self.warn(f"{self.filename}: bad packet header at offset {self.reader.position} "
                  f"(capture length {caplen}); giving up")
        self.reader.consume(self.reader.available())

    cdef int _fill(self, Batch* b, Batch* rejects, int max) except -1:
        """Read up to max packets into b (non-IP ones into rejects under
        FORCE_IP, or freed when rejects is NULL). Returns a FILL_* code."""
        cdef TraceReader r = self.reader
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef const uint8_t* p
        cdef size_t hdr = PCAP_RECORD_HEADER_LEN + self.record_extra
        cdef size_t rec
        cdef uint32_t sec, sub, caplen, wirelen, skip, tmp, x, extra
        cdef uint64_t ts, now = 0
        cdef bint swapped = self.swapped
        cdef bint old_format = self.minor_version < 3
        cdef bint sampling = self.sampling_prob < (1u << SAMPLING_SHIFT)
        cdef bint force_ip = self.force_ip
        cdef uint64_t ts_unit = self.ts_unit
        if r.fd < 0:
            return FILL_END
        cdef bint plain = not (self.timing or self.have_first_time or self.have_last_time or sampling or force_ip)
        if self.timing:
            now = monotonic_ns()
        while b.n < <uint32_t>max and (rejects == NULL or rejects.n < BATCH_MAX):
            # the fast loop takes what it can; this loop takes one record it cannot
            # (the first, one to read more for, a malformed one) and lets it go on
            if plain and self.have_any_times:
                self._fill_plain(b, max)
                if b.n >= <uint32_t>max:
                    break
            if r.end - r.pos < hdr and r.fill(hdr) < hdr:
                return self._at_end(hdr)
            p = r.buf + r.pos
            sec = load_host32(p)
            sub = load_host32(p + 4)
            caplen = load_host32(p + 8)
            wirelen = load_host32(p + 12)
            if swapped:
                sec = bswap32(sec)
                sub = bswap32(sub)
                caplen = bswap32(caplen)
                wirelen = bswap32(wirelen)
            # pcap 2.2 and older (and some 2.3 writers) swapped these two fields
            if old_format or (self.minor_version == 3 and caplen > wirelen):
                tmp = caplen
                caplen = wirelen
                wirelen = tmp
            if caplen > PCAP_MAX_CAPLEN:
                self._warn_corrupt(caplen)
                return FILL_END
            # tcptrace writes capture lengths one too long (Click and tcpdump forgive it)
            skip = 0
            if caplen > wirelen:
                skip = caplen - wirelen
                caplen = wirelen
            rec = hdr + caplen + skip
            ts = <uint64_t>sec * 1000000000ULL + <uint64_t>sub * ts_unit
            if not self.have_any_times:
                self._prepare_times(ts)
            if self.have_first_time:
                if ts < self.first_time:
                    if r.end - r.pos < rec and r.fill(rec) < rec:
                        return self._at_end(rec)
                    r.pos += rec
                    continue
                self.have_first_time = False
            if self.have_last_time and ts >= self.last_time:
                self.have_last_time = False
                return FILL_END_TIME
            if self.timing:
                if not self.timing_started:
                    self.timing_started = True
                    self.timing_trace0 = ts
                    self.timing_real0 = now
                elif ts > self.timing_trace0 and ts - self.timing_trace0 > now - self.timing_real0:
                    self.timer.schedule_at(self.timing_real0 + (ts - self.timing_trace0))
                    return FILL_WAIT
            if r.end - r.pos < rec:
                if r.fill(rec) < rec:
                    return self._at_end(rec)
                p = r.buf + r.pos
            if sampling and (xorshift32(&self.rng) & ((1u << SAMPLING_SHIFT) - 1)) >= self.sampling_prob:
                r.pos += rec
                continue
            x = pool.alloc(caplen)
            if x == NO_PACKET:
                if caplen > BUF_SIZE - HEADROOM and pool.nbig == 0:
                    r.pos += rec          # can never fit this pool: a counted drop
                    self.drops += 1
                    continue
                return FILL_NOMEM
            self.packet_filepos = r.buf_offset + r.pos
            a = &anno[x]
            memcpy(a.data, p + hdr, caplen)
            r.pos += rec
            a.timestamp = ts
            if wirelen > caplen:
                extra = wirelen - caplen
                memcpy(&a.user[EXTRA_LENGTH_ANNO], &extra, 4)
            if self.linktype != LINKTYPE_RAW:
                a.mac_off = <int32_t>a.headroom
            if force_ip and not mark_ip_header(a, self.linktype):
                if rejects != NULL:
                    rejects.idx[rejects.n] = x
                    rejects.n += 1
                else:
                    pool.free(x)
                    self.drops += 1
                continue
            b.idx[b.n] = x
            b.n += 1
            self.count += 1
        return FILL_MORE

    cdef void _fill_plain(self, Batch* b, int max) noexcept:
        """The common case of _fill in one tight loop: packets wanted whatever
        their time (no TIMING, START, END or SAMPLE), not FORCE_IP, records
        whole in the buffer and well formed. Stops at the first record that
        is anything else (or when the buffer or the pool runs out) and leaves
        it to _fill's general loop. Copies with memcpy: glibc's vector copy
        takes fewer instructions for 64-256 bytes than copy_blocks' 32-byte
        loop and needs no slack after the record."""
        cdef TraceReader r = self.reader
        cdef PacketPool pool = self.pool
        cdef Anno* anno = pool.anno
        cdef Anno* a
        cdef const uint8_t* buf = r.buf
        cdef const uint8_t* p
        cdef size_t pos = r.pos, last = r.pos, end = r.end
        cdef size_t ahead = (pos + PREFETCH_BYTES) & ~(<size_t>63)
        cdef size_t hdr = PCAP_RECORD_HEADER_LEN + self.record_extra
        cdef uint32_t sec, sub, caplen, wirelen, tmp, x, extra
        cdef uint32_t n = b.n, stop = <uint32_t>max
        cdef bint swapped = self.swapped, mapped = r.mapped
        cdef bint old_format = self.minor_version < 3
        cdef uint64_t ts_unit = self.ts_unit
        while n < stop and pos + hdr <= end:
            p = buf + pos
            # every cache line PREFETCH_BYTES ahead is on its way while this
            # record is copied: a mapped file has no read(2) to bring it into
            # the cache (a read block is there already)
            if mapped:
                while ahead < pos + PREFETCH_BYTES:
                    prefetch(buf + ahead)
                    ahead += 64
            sec = load_host32(p)
            sub = load_host32(p + 4)
            caplen = load_host32(p + 8)
            wirelen = load_host32(p + 12)
            if swapped:
                sec = bswap32(sec)
                sub = bswap32(sub)
                caplen = bswap32(caplen)
                wirelen = bswap32(wirelen)
            if old_format:
                tmp = caplen
                caplen = wirelen
                wirelen = tmp
            if caplen > wirelen or caplen > PCAP_MAX_CAPLEN or pos + hdr + caplen > end:
                break
            x = pool.alloc(caplen)
            if x == NO_PACKET:
                break
            a = &anno[x]
            memcpy(a.data, p + hdr, caplen)
            a.timestamp = <uint64_t>sec * 1000000000ULL + <uint64_t>sub * ts_unit
            if wirelen > caplen:
                extra = wirelen - caplen
                memcpy(&a.user[EXTRA_LENGTH_ANNO], &extra, 4)
            a.mac_off = <int32_t>a.headroom
            b.idx[n] = x
            n += 1
            last = pos
            pos += hdr + caplen
        if n > b.n:
            self.count += n - b.n
            self.packet_filepos = r.buf_offset + last
            b.n = n
            r.pos = pos

    cdef int run_task(self, Task task) except -1:
        cdef Batch* b
        cdef int code = FILL_MORE, left = self.burst
        cdef uint64_t emitted = 0
        if not self.active:
            return 0
        while left > 0 and code == FILL_MORE:
            b = self.pool.batch_get()
            try:
                code = self._fill_and_reject(b, BATCH_MAX if left > BATCH_MAX else left)
                left -= b.n
                emitted += b.n
                if b.n:
                    self.output_push(0, b)
            finally:
                self.pool.batch_put(b)
        return self._after_fill(code, emitted)

    cdef int _fill_and_reject(self, Batch* b, int max) except -1:
        """_fill into b; non-IP packets (FORCE_IP) go out of output 1 if there is one."""
        cdef Batch* rejects = NULL
        cdef int code
        if self.noutputs < 2:
            try:
                return self._fill(b, NULL, max)
            except BaseException:
                self.pool.free_batch(b)
                raise
        rejects = self.pool.batch_get()
        try:
            try:
                code = self._fill(b, rejects, max)
            except BaseException:
                self.pool.free_batch(b)
                self.pool.free_batch(rejects)
                raise
            if rejects.n:
                self.output_push(1, rejects)
        finally:
            self.pool.batch_put(rejects)
        return code

    cdef int _after_fill(self, int code, uint64_t emitted) except -1:
        """Schedule the next step after a fill: reschedule, sleep, or end the trace."""
        cdef bint push = self.task is not None
        if code == FILL_MORE:
            if push:
                self.task.reschedule()
        elif code == FILL_NOMEM:
            # the pool is empty: downstream queues hold every buffer; try again soon
            if push and emitted:
                self.task.reschedule()
            else:
                self.timer.schedule_after(1000000)
                if not push:
                    self.notifier.sleep()
        elif code == FILL_WAIT:
            if not push:
                self.notifier.sleep()
        elif code == FILL_END_TIME:
            if self.end_call is not None:
                call_handler(self.router, self.end_call)
            if self.active:
                # the call left us active (or extended the interval): go on
                if push:
                    self.task.reschedule()
            else:
                self.ended = True
                self.notifier.sleep()
        else:
            self._end()
        return 0

    cdef int _end(self) except -1:
        """The trace ran out: sleep, and make the END_CALL once."""
        self.notifier.sleep()
        if self.ended:
            return 0
        self.ended = True
        if self.end_call is not None:
            call_handler(self.router, self.end_call)
        return 0

    cdef int pull(self, int port, Batch* b, int max) except -1:
        if not self.active:
            self.notifier.sleep()
            return 0
        self._after_fill(self._fill_and_reject(b, max), b.n)
        return b.n

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
        if active:
            self.ended = False
            if self.task is not None:
                self.task.schedule()
            else:
                self.notifier.wake()
        else:
            self.notifier.sleep()

    def _write_stop(self, value):
        self._set_active(False)
        self.please_stop()

    def _write_filepos(self, value):
        try:
            pos = UINT64(value.strip())
        except ValueError as e:
            raise HandlerError(f"{self.name}.filepos: {e}") from None
        try:
            self.reader.seek(pos)
        except OSError as e:
            raise HandlerError(f"{self.name}.filepos: {e.strerror}") from None
        if self.active:
            self._set_active(True)

    def _write_extend_interval(self, value):
        try:
            t = NSECONDS(value.strip())
        except ValueError as e:
            raise HandlerError(f"{self.name}.extend_interval: {e}") from None
        self.last_time += t
        if self.end_call is not None:
            self.have_last_time = True
            self._set_active(True)

    def _write_reset_timing(self, value):
        self.first_relative = False
        self.last_relative = self.last_interval = False
        self.have_any_times = False
        self.timing_started = False

    def add_handlers(self):
        self.add_read_handler("count", lambda: self.count)
        self.add_read_handler("drops", lambda: self.drops)
        self.add_write_handler("reset_counts", lambda v: self._reset_counts())
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", lambda v: self._set_active(BOOL(v.strip())))
        self.add_write_handler("stop", self._write_stop)
        self.add_read_handler("encap", lambda: self.encap)
        self.add_read_handler("filename", lambda: self.filename)
        self.add_read_handler("filesize", lambda: self.reader.size if self.reader.size >= 0 else "-")
        self.add_read_handler("filepos", lambda: self.reader.position)
        self.add_write_handler("filepos", self._write_filepos)
        self.add_read_handler("packet_filepos", lambda: self.packet_filepos)
        self.add_read_handler("sampling_prob", lambda: unparse_sample(self.sampling_prob))
        self.add_write_handler("extend_interval", self._write_extend_interval)
        self.add_write_handler("reset_timing", self._write_reset_timing)

    def _reset_counts(self):
        self.count = 0
        self.drops = 0


cdef inline bint mark_ip_header(Anno* a, int linktype) noexcept:
    """Click's FORCE_IP test: find the IP header behind the link header; for a
    well-formed IPv4 or IPv6 header set the network (and transport) header
    annotations, and for IPv4 the destination IP annotation. False if the
    packet is not IP."""
    cdef const uint8_t* d = a.data
    cdef uint32_t n = a.len, off, ihl
    cdef uint16_t ethertype
    if linktype == LINKTYPE_RAW:
        off = 0
    elif linktype == LINKTYPE_ETHERNET:
        if n < 14:
            return False
        ethertype = load_be16(d + 12)
        off = 14
        if ethertype == 0x8100 and n >= 18:
            ethertype = load_be16(d + 16)
            off = 18
        if ethertype != 0x0800 and ethertype != 0x86DD:
            return False
    elif linktype == LINKTYPE_LINUX_SLL:
        if n < 16:
            return False
        ethertype = load_be16(d + 14)
        if ethertype != 0x0800 and ethertype != 0x86DD:
            return False
        off = 16
    else:
        return False
    if off >= n:
        return False
    if d[off] >> 4 == 4:
        ihl = (d[off] & 0x0F) << 2
        if ihl < 20 or off + ihl > n:
            return False
        a.net_off = <int32_t>(a.headroom + off)
        a.trans_off = a.net_off + <int32_t>ihl
        memcpy(&a.user[DST_IP_ANNO], d + off + 16, 4)
        return True
    if d[off] >> 4 == 6 and off + 40 <= n:
        a.net_off = <int32_t>(a.headroom + off)
        a.trans_off = a.net_off + 40
        return True
    return False
