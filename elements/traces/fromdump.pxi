# EXPORT_ELEMENT FromDump

cdef enum:
    FILL_MORE = 0        # stopped at max packets: more to come
    FILL_END = 1         # end of the file, or a truncated or corrupt record
    FILL_END_TIME = 2    # reached END / END_AFTER / INTERVAL
    FILL_WAIT = 3        # TIMING: the next packet is not due yet (timer set)
    FILL_NOMEM = 4       # the packet pool is empty: retry later
    FILL_SHORT = 5       # (from _fill only) no whole record: the end of the file, truncated, or an error
    FILL_CORRUPT = 6     # (from _fill only) a record header that cannot be right


cdef extern from *:
    """
    /* How far ahead of the record being copied FromDump prefetches a mapped
       file: at ~40 ns a packet, 4 KiB (~23 records) is ~1 us, the time memory
       takes to answer with some margin; 1 KiB was 7% slower, 16 KiB no
       better. */
    #define CLICKPY_PREFETCH_BYTES 4096

    /* FromDump's fast loop (FromDump._fill_plain) in C: plain pcap records
       into fresh small buffers, annotations from a prototype held in vector
       registers (the buffer geometry as constants), so that fewer values
       live across the memcpy call (in Cython the loop spilled most of them
       around it). Compiled twice like clickpy_annos_from: with AVX2 the
       prototype takes 4 stores. (An inline 32-byte block copy instead of
       memcpy took more instructions: GCC splits unaligned 32-byte moves.) */
    typedef struct clickpy_pcap_plain {
        const uint8_t *buf;         /* the reader's window */
        size_t pos, end, hdr;       /* in: where to start; out: after the last record taken */
        size_t last;                /* out: the last record taken (when pos moved) */
        uint64_t base;              /* the window's file offset */
        uint64_t ts_unit;
        int swapped, old_format, mapped;
        uint32_t stop;              /* b->n to reach */
        clickpy_anno *anno;
        const clickpy_anno *proto;  /* a fresh packet's annotations but data and len */
        uint8_t *arena;             /* the small buffers */
        uint32_t *stack;            /* the pool's free small buffers ... */
        uint32_t *nfree;            /* ... and how many: taken one by one, each stored at once */
        clickpy_batch *b;
        uint64_t *starts;           /* each packet's record offset, by its place in b */
    } clickpy_pcap_plain;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    __attribute__((target_clones("avx2", "default")))
#endif
    static void clickpy_pcap_fill_plain(clickpy_pcap_plain *f) {
        const clickpy_v32 *pv = (const clickpy_v32 *)f->proto;
        clickpy_v32 v0 = pv[0], v1 = pv[1], v2 = pv[2], v3 = pv[3];
        /* everything in locals: the loop's stores could alias f's fields */
        const uint8_t *buf = f->buf;
        size_t pos = f->pos, end = f->end, hdr = f->hdr, last = f->last;
        uint64_t base = f->base, ts_unit = f->ts_unit;
        int swapped = f->swapped, old_format = f->old_format, mapped = f->mapped;
        uint32_t stop = f->stop;
        clickpy_anno *anno = f->anno;
        uint8_t *arena = f->arena;
        uint32_t *stack = f->stack, *nfree_at = f->nfree;
        uint64_t *starts = f->starts;
        clickpy_batch *b = f->b;
        uint32_t n = b->n, nfree = *nfree_at;
        while (n < stop && pos + hdr <= end && nfree > 0) {
            const uint8_t *p = buf + pos;
            uint32_t sec, sub, caplen, wirelen, x;
            if (mapped) {
                /* the lines CLICKPY_PREFETCH_BYTES ahead are on their way
                   while this record is copied (a mapped file has no read(2)
                   to bring them into the cache, a read block is there
                   already): three a record, as many as a 64-256-byte
                   packet's record takes on average (a loop prefetching each
                   line exactly once cost more than it saved) */
                __builtin_prefetch(p + CLICKPY_PREFETCH_BYTES);
                __builtin_prefetch(p + CLICKPY_PREFETCH_BYTES + 64);
                __builtin_prefetch(p + CLICKPY_PREFETCH_BYTES + 128);
            }
            __builtin_memcpy(&sec, p, 4);
            __builtin_memcpy(&sub, p + 4, 4);
            __builtin_memcpy(&caplen, p + 8, 4);
            __builtin_memcpy(&wirelen, p + 12, 4);
            if (swapped) {
                sec = __builtin_bswap32(sec);
                sub = __builtin_bswap32(sub);
                caplen = __builtin_bswap32(caplen);
                wirelen = __builtin_bswap32(wirelen);
            }
            if (old_format) {
                uint32_t t = caplen;
                caplen = wirelen;
                wirelen = t;
            }
            if (caplen > wirelen || caplen > CLICKPY_BUF_SIZE - CLICKPY_HEADROOM || pos + hdr + caplen > end)
                break;
            x = stack[nfree - 1];
            if (CLICKPY_DEBUG_BUILD && anno[x].owner != 0)
                break;              /* not OWNER_FREE: the general loop's alloc reports it */
            *nfree_at = --nfree;
            b->idx[n] = x;
            starts[n] = base + pos;
            b->n = ++n;
            uint8_t *d = clickpy_anno_from_proto(anno, x, arena, CLICKPY_BUF_SIZE, CLICKPY_HEADROOM,
                                                 v0, v1, v2, v3);
            clickpy_anno *a = &anno[x];
            a->len = caplen;
            a->timestamp = (uint64_t)sec * 1000000000ULL + (uint64_t)sub * ts_unit;
            if (wirelen > caplen) {
                uint32_t extra = wirelen - caplen;
                __builtin_memcpy(&a->user[CLICKPY_EXTRA_LENGTH_ANNO], &extra, 4);
            }
            /* the packet is in b, with its length and record offset (and
               the pool without it), before its data is read: see
               FromDump._fill */
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
            /* glibc's vector copy: hide the length's bound from GCC, which
               would otherwise inline a `rep movsq` (slower for 64-256 bytes) */
            __asm__("" : "+r"(caplen));
            memcpy(d, p + hdr, caplen);
            last = pos;
            pos += hdr + caplen;
        }
        f->pos = pos;
        f->last = last;
    }
    """
    ctypedef struct PcapPlain "clickpy_pcap_plain":
        const uint8_t* buf
        size_t pos, end, hdr, last
        uint64_t base, ts_unit
        int swapped, old_format, mapped
        uint32_t stop
        Anno* anno
        const Anno* proto
        uint8_t* arena
        uint32_t* stack
        uint32_t* nfree
        Batch* b
        uint64_t* starts
    void pcap_fill_plain "clickpy_pcap_fill_plain"(PcapPlain* f) noexcept nogil


# a fill of a mapped file (_fill_batch), as the guarded _fill_mapped sees it
cdef struct FillCall:
    void* element                   # the FromDump, borrowed: nothing guarded may own a reference
    Batch* b
    Batch* rejects
    int max
    int code                        # what _fill returned
    uint32_t b_from, rejects_from   # the batches' sizes before the fill
    uint64_t position               # the reader's position before the fill
    uint64_t packet_filepos         # and packet_filepos


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
    standard input. A regular file is mapped in memory 8 MiB at a time (see
    MMAP), other input read in 256 KiB blocks, and each packet is copied
    once into a pool buffer.

    Every packet gets its timestamp annotation from the file, the extra
    length annotation (EXTRA_LENGTH) set to the bytes the capture left out
    (wire length - capture length), and its MAC header annotation at its
    first byte. A file of raw IP packets (link type RAW) sets the network
    header annotation instead, as if FORCE_IP were true. Link types other
    than Ethernet and raw IP are emitted unchanged.

    A truncated file ends the trace at the last whole packet, and a corrupt
    record header ends it there; both print a warning naming the file
    offset. So does a file that another process truncates while FromDump
    reads it, mapped (MMAP) or not. A file that is not pcap (or is pcapng)
    is a configuration error.

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
      MMAP         Boolean. Map a regular uncompressed file in memory (8 MiB
                   at a time) instead of reading it with read(2), so that the
                   kernel copies nothing; files that cannot be mapped are read.
                   Default true. Click's is false on Linux, where a file
                   truncated while mapped kills the process (SIGBUS); here
                   the fault is caught and ends the trace as above, and
                   mapping measured faster (bench/bench_pcap.py, a 10 M
                   packet round trip through ToDump on tmpfs: 15.4 Mpps
                   against 14.4 reading, medians of 12 alternating
                   invocations).

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
    cdef size_t short_need                    # FILL_SHORT: the record's size
    cdef uint32_t corrupt_caplen              # FILL_CORRUPT: the capture length it has
    cdef uint64_t wait_until                  # FILL_WAIT: when the next packet is due
    # the file offset of each packet's record, by its place in the batch being
    # filled (b, and rejects under FORCE_IP): what _truncated keeps goes by them
    cdef uint64_t record_starts[BATCH_MAX]
    cdef uint64_t reject_starts[BATCH_MAX]
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
        self.use_mmap = args.read("MMAP", BOOL, True)
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
        cdef uint8_t header[PCAP_FILE_HEADER_LEN]
        cdef const uint8_t* h = header
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
        if not self.reader.copy_out(header, PCAP_FILE_HEADER_LEN):
            self.reader.close()
            raise self.error(f"{self.filename}: truncated while being read")
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

    cdef inline int _short(self, size_t need) noexcept:
        """The reader cannot supply a whole record of `need` bytes: the end of
        the file, a truncated record or a read error (_fill_batch tells which)."""
        self.short_need = need
        return FILL_SHORT

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

    cdef int _fill(self, Batch* b, Batch* rejects, int max) noexcept:
        """Read up to max packets into b (non-IP ones into rejects under
        FORCE_IP, or freed when rejects is NULL). Returns a FILL_* code, and
        leaves what needs Python (warnings, the timer) to _fill_batch.

        On a mapped file this runs under the reader's guard (TraceReader.guarded),
        which may abandon it at any read of the file. Hence it owns no Python
        reference (the reader and the pool are reached as self.reader and
        self.pool, never kept in object locals), and each packet joins its
        batch, with its record's offset in record_starts, before its data is
        read: _truncated then finds every packet allocated."""
        cdef Anno* anno = self.pool.anno
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
        if self.reader.fd < 0:
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
            if self.reader.end - self.reader.pos < hdr and self.reader.fill(hdr) < hdr:
                return self._short(hdr)
            p = self.reader.buf + self.reader.pos
            signal_fence()          # the batches are in memory before the file is read
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
                self.corrupt_caplen = caplen
                return FILL_CORRUPT
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
                    if self.reader.end - self.reader.pos < rec and self.reader.fill(rec) < rec:
                        return self._short(rec)
                    self.reader.pos += rec
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
                    self.wait_until = self.timing_real0 + (ts - self.timing_trace0)
                    return FILL_WAIT
            if self.reader.end - self.reader.pos < rec:
                if self.reader.fill(rec) < rec:
                    return self._short(rec)
                p = self.reader.buf + self.reader.pos
            if sampling and (xorshift32(&self.rng) & ((1u << SAMPLING_SHIFT) - 1)) >= self.sampling_prob:
                self.reader.pos += rec
                continue
            x = self.pool.alloc(caplen)
            if x == NO_PACKET:
                if caplen > BUF_SIZE - HEADROOM and self.pool.nbig == 0:
                    self.reader.pos += rec          # can never fit this pool: a counted drop
                    self.drops += 1
                    continue
                return FILL_NOMEM
            self.packet_filepos = self.reader.buf_offset + self.reader.pos
            self.record_starts[b.n] = self.packet_filepos
            b.idx[b.n] = x
            b.n += 1
            signal_fence()          # the packet is in b before its data is read
            a = &anno[x]
            memcpy(a.data, p + hdr, caplen)
            self.reader.pos += rec
            a.timestamp = ts
            if wirelen > caplen:
                extra = wirelen - caplen
                memcpy(&a.user[EXTRA_LENGTH_ANNO], &extra, 4)
            if self.linktype != LINKTYPE_RAW:
                a.mac_off = <int32_t>a.headroom
            if force_ip and not mark_ip_header(a, self.linktype):
                b.n -= 1
                if rejects != NULL:
                    self.reject_starts[rejects.n] = self.record_starts[b.n]
                    rejects.idx[rejects.n] = x
                    rejects.n += 1
                else:
                    self.pool.free(x)
                    self.drops += 1
        return FILL_MORE

    cdef void _fill_plain(self, Batch* b, int max) noexcept:
        """The common case of _fill in one tight loop (clickpy_pcap_fill_plain,
        in C): packets wanted whatever their time (no TIMING, START, END or
        SAMPLE), not FORCE_IP, records whole in the buffer, well formed and
        fitting a small buffer. Stops at the first record that is anything
        else (or when the buffer or the pool's small buffers run out) and
        leaves it to _fill's general loop. Guarded like _fill (no reference
        owned; each packet in b, with its record's offset and length, before
        its data is read)."""
        # the pool as a plain pointer: a local of its type would own a reference
        cdef void* pool = <void*>self.pool
        cdef PcapPlain f
        cdef Anno proto
        anno_reset(&proto, NULL, 0, HEADROOM)
        proto.mac_off = HEADROOM
        if CLICKPY_DEBUG_BUILD:
            proto.owner = OWNER_ALLOCATED
        f.buf = self.reader.buf
        f.pos = f.last = self.reader.pos
        f.end = self.reader.end
        f.hdr = PCAP_RECORD_HEADER_LEN + self.record_extra
        f.base = self.reader.buf_offset
        f.ts_unit = self.ts_unit
        f.swapped = self.swapped
        f.old_format = self.minor_version < 3
        f.mapped = self.reader.mapped
        f.stop = <uint32_t>max
        f.anno = (<PacketPool>pool).anno
        f.proto = &proto
        f.arena = (<PacketPool>pool).small_arena
        f.stack = (<PacketPool>pool).small_free
        f.nfree = &(<PacketPool>pool).nsmall_free
        f.b = b
        f.starts = self.record_starts
        signal_fence()              # b is in memory before the file is read
        pcap_fill_plain(&f)
        if f.pos != self.reader.pos:
            self.packet_filepos = f.base + f.last
            self.reader.pos = f.pos

    cdef int _fill_batch(self, Batch* b, Batch* rejects, int max) except -1:
        """_fill, then what it leaves to Python: the warnings that end a trace
        and the TIMING timer. A mapped file is read under the reader's guard:
        if another process truncates it meanwhile, _truncated ends the trace
        there, as the end of a truncated file would."""
        cdef TraceReader r = self.reader
        cdef FillCall call
        cdef int code
        if r.mapped:
            call.element = <void*>self
            call.b = b
            call.rejects = rejects
            call.max = max
            call.b_from = b.n
            call.rejects_from = rejects.n if rejects != NULL else 0
            call.position = r.buf_offset + r.pos
            call.packet_filepos = self.packet_filepos
            if r.guarded(_fill_mapped, &call) != 0:
                return self._truncated(&call)
            code = call.code
        else:
            code = self._fill(b, rejects, max)
        if code == FILL_SHORT:
            self._warn_end(self.short_need)
            return FILL_END
        if code == FILL_CORRUPT:
            self._warn_corrupt(self.corrupt_caplen)
            return FILL_END
        if code == FILL_WAIT:
            self.timer.schedule_at(self.wait_until)
        return code

    cdef int _truncated(self, FillCall* call) except -1:
        """The file shrank while this fill read it (a read faulted, or confirm
        found it shorter than what was read): free the packets whose records
        the file no longer holds whole (read from pages it lost, or from the
        zeros a truncation leaves in the rest of its last page), keep the
        others, and end the trace after them."""
        cdef TraceReader r = self.reader
        cdef PacketPool pool = self.pool
        cdef Batch* b = call.b
        cdef Batch* rejects = call.rejects
        cdef uint64_t hdr = PCAP_RECORD_HEADER_LEN + self.record_extra
        cdef int64_t size = r.current_size()
        cdef uint64_t limit = <uint64_t>size if size >= 0 else 0
        cdef uint64_t ends_at = call.position, rec_end
        if r.lost_at < limit:
            limit = r.lost_at          # the file still has that byte: an I/O error, not a truncation
        self.packet_filepos = call.packet_filepos
        while b.n > call.b_from and self.record_starts[b.n - 1] + hdr + pool.anno[b.idx[b.n - 1]].len > limit:
            b.n -= 1
            pool.free(b.idx[b.n])
        if b.n > call.b_from:
            self.packet_filepos = self.record_starts[b.n - 1]
            ends_at = self.packet_filepos + hdr + pool.anno[b.idx[b.n - 1]].len
        if rejects != NULL:
            while (rejects.n > call.rejects_from and
                   self.reject_starts[rejects.n - 1] + hdr + pool.anno[rejects.idx[rejects.n - 1]].len > limit):
                rejects.n -= 1
                pool.free(rejects.idx[rejects.n])
            if rejects.n > call.rejects_from:
                rec_end = self.reject_starts[rejects.n - 1] + hdr + pool.anno[rejects.idx[rejects.n - 1]].len
                if rec_end > ends_at:
                    self.packet_filepos = self.reject_starts[rejects.n - 1]
                    ends_at = rec_end
        if size >= 0 and r.lost_at < <uint64_t>size:
            self.warn(f"{self.filename}: read error at offset {r.lost_at} (a mapped page could not be read); "
                      f"ending the trace at offset {ends_at}")
        else:
            self.warn(f"{self.filename}: truncated to {size if size >= 0 else 'an unknown size'} bytes "
                      f"while being read; ending the trace at offset {ends_at}")
        # what is left before the new end is part of a record: skip it, as
        # _warn_end does at a truncated record, so that the trace stays ended
        r.stop_at(ends_at if ends_at > limit else limit)
        return FILL_END

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
        """_fill_batch into b; non-IP packets (FORCE_IP) go out of output 1 if there is one."""
        cdef Batch* rejects = NULL
        cdef uint32_t before = b.n
        cdef int code
        if self.noutputs < 2:
            try:
                code = self._fill_batch(b, NULL, max)
            except BaseException:
                self.pool.free_batch(b)
                raise
            self.count += b.n - before
            return code
        rejects = self.pool.batch_get()
        try:
            try:
                code = self._fill_batch(b, rejects, max)
            except BaseException:
                self.pool.free_batch(b)
                self.pool.free_batch(rejects)
                raise
            self.count += b.n - before
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


cdef int _fill_mapped(void* arg) noexcept:
    """FromDump._fill, then TraceReader.confirm, as TraceReader.guarded runs
    them on a mapped file (0: the file held every byte they read)."""
    cdef FillCall* c = <FillCall*>arg
    c.code = (<FromDump>c.element)._fill(c.b, c.rejects, c.max)
    return 0 if (<FromDump>c.element).reader.confirm(
        PCAP_RECORD_HEADER_LEN + (<FromDump>c.element).record_extra) else 1


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
