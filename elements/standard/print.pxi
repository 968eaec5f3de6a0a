# EXPORT_ELEMENT Print

cdef class Print(Element):
    """Print([LABEL, MAXLENGTH, KEYWORDS])

    Prints packet contents.

    Ports: 1 input, 1 output.
    Processing: agnostic.

    Prints a line per packet on standard error and passes the packet on
    unchanged: LABEL, then (with TIMESTAMP) the timestamp, then the packet
    length in 4 columns, then up to MAXLENGTH bytes of data. Parts are
    separated as Click's Print does: "LABEL: 1000000000.000001:   64 |
    45000054 00000000 ...". Hexadecimal data is grouped in 4-byte words;
    ASCII data shows unprintable bytes as "." in groups of 8. The lines of
    a batch are formatted in C and written at once.

    Keywords:
      LABEL      String. Text before each line (default none).
      MAXLENGTH  Integer. Bytes of data to print; negative prints the
                 whole packet (default 24).
      CONTENTS   NONE, HEX or ASCII (or a Boolean: false NONE, true HEX).
                 How to print the data (default HEX).
      TIMESTAMP  Boolean. Print each packet's timestamp annotation as
                 seconds.microseconds since 1970 (default false).
      PRINTANNO  Boolean. Print the 48 user annotation bytes in hex (default false).
      HEADROOM   Boolean. Print headroom and tailroom as "(h[headroom]
                 t[tailroom])" (default false).
      ACTIVE     Boolean. Print (default true).

    Handlers:
      active (read/write)  ACTIVE

    Example:
      ... -> Print(in, 64) -> ...
    """

    port_count = "1/1"
    processing = "a/a"

    cdef bytes label
    cdef size_t label_length
    cdef int maxlength
    cdef int contents               # 0 none, 1 hex, 2 ascii
    cdef public bint active
    cdef bint timestamp, print_anno, headroom
    cdef char* text
    cdef size_t text_cap

    def __dealloc__(self):
        c_free(self.text)

    def configure(self, args):
        self.label = args.read_p("LABEL", STRING, "").encode("utf-8", "surrogateescape")
        self.label_length = len(self.label)
        self.maxlength = args.read_p("MAXLENGTH", INT, 24)
        for old in ("LENGTH", "NBYTES"):
            value = args.read(old, INT, None, deprecated=True)
            if value is not None:
                self.maxlength = value
        contents = args.read("CONTENTS", WORD, "HEX")
        self.timestamp = args.read("TIMESTAMP", BOOL, False)
        self.print_anno = args.read("PRINTANNO", BOOL, False)
        self.active = args.read("ACTIVE", BOOL, True)
        self.headroom = args.read("HEADROOM", BOOL, False)
        try:
            self.contents = 1 if BOOL(contents) else 0
        except ValueError:
            modes = {"NONE": 0, "HEX": 1, "ASCII": 2}
            if contents.upper() not in modes:
                raise self.error(f"bad contents value '{contents}'; should be 'NONE', 'HEX', or 'ASCII'") from None
            self.contents = modes[contents.upper()]

    cdef int _reserve(self, size_t need) except -1:
        cdef char* grown
        if need > self.text_cap:
            grown = <char*>realloc(self.text, need)
            if grown == NULL:
                raise MemoryError()
            self.text = grown
            self.text_cap = need
        return 0

    cdef size_t _format(self, char* out, uint32_t x) noexcept:
        """One packet's line, newline included; returns its length."""
        cdef PacketPool pool = self.pool
        cdef Anno* a = &pool.anno[x]
        cdef const char* hexdigits = b"0123456789abcdef"
        cdef char* p = out
        cdef const char* sep = ""
        cdef int nbytes = self.maxlength if self.contents else 0
        cdef int i
        cdef uint8_t c
        if nbytes < 0 or <uint32_t>nbytes > a.len:
            nbytes = a.len
        if self.label_length:
            memcpy(p, <const char*>self.label, self.label_length)
            p += self.label_length
            sep = ": "
        if self.timestamp:
            p += sprintf(p, "%s%lu.%06lu", sep, <unsigned long>(a.timestamp // 1000000000ULL),
                         <unsigned long>((a.timestamp % 1000000000ULL) // 1000))
            sep = ": "
        p += sprintf(p, "%s%4u", sep, a.len)
        if self.headroom:
            p += sprintf(p, " (h%u t%u)", a.headroom, pool.buf_size(x) - a.headroom - a.len)
        if self.print_anno:
            memcpy(p, b" | ", 3)
            p += 3
            for i in range(48):
                p[0] = hexdigits[a.user[i] >> 4]
                p[1] = hexdigits[a.user[i] & 15]
                p += 2
        if nbytes:
            memcpy(p, b" | ", 3)
            p += 3
            if self.contents == 1:
                for i in range(nbytes):
                    if i and i % 4 == 0:
                        p[0] = c' '
                        p += 1
                    c = a.data[i]
                    p[0] = hexdigits[c >> 4]
                    p[1] = hexdigits[c & 15]
                    p += 2
            else:
                for i in range(nbytes):
                    if i % 8 == 0:
                        p[0] = c' '
                        p += 1
                    c = a.data[i]
                    p[0] = c'.' if c < 32 or c > 126 else <char>c
                    p += 1
        p[0] = c'\n'
        p += 1
        return p - out

    cdef int process(self, Batch* b) except -1:
        cdef Anno* anno = self.pool.anno
        cdef size_t need = 1, used = 0
        cdef uint32_t i, nbytes
        if not self.active or b.n == 0:
            return 0
        for i in range(b.n):
            nbytes = anno[b.idx[i]].len
            if self.maxlength >= 0 and <uint32_t>self.maxlength < nbytes:
                nbytes = self.maxlength
            need += self.label_length + 2 + 32 + 16 + 24 + 3 + 96 + 3 + 3 * nbytes + 2
        self._reserve(need)
        for i in range(b.n):
            used += self._format(self.text + used, b.idx[i])
        if sys.stderr is not None:        # none in a daemon with no stderr
            sys.stderr.write(self.text[:used].decode("utf-8", "replace"))
        return 0

    def add_handlers(self):
        self.add_read_handler("active", lambda: self.active)
        self.add_write_handler("active", lambda v: setattr(self, "active", BOOL(v.strip())))
