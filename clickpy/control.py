"""Click's ControlSocket protocol (version 1.3): the server side of one
connection, and a client.

The server side is transport-free: a `ControlConnection` owns a descriptor
(a TCP or Unix stream socket, a socketpair end, a character device), buffers
what arrives, runs one command line at a time against the router's handlers
and queues replies. The `ControlSocket` element (elements/control) opens
listeners, accepts, and calls `ControlConnection.on_ready` from the driver's
epoll loop; nothing here blocks.

Protocol, as Click's ControlSocket speaks it: on connect the server sends
"Click::ControlSocket/1.3" CRLF. Commands are lines ended by CR, LF or CRLF,
made of space-separated words, the command word case-insensitive. Every
reply is one or more lines "CODE-text" (continued) / "CODE text" (last),
ended by CRLF; READ and friends then send "DATA n" CRLF and n bytes.

Limits that keep a hostile client from hurting the router (Click has none):
a command line longer than MAX_LINE, a DATA length above MAX_DATA, or more
than MAX_PENDING bytes waiting for a READUNTIL/WRITEUNTIL terminator gets a
5xx reply and the connection is closed; a client that does not read its
replies is not read from while OUT_HIGH bytes wait for it (so it cannot make
the router buffer without bound), and the ControlSocket drops it when its
output has made no progress for CLIENT_TIMEOUT seconds.
"""
from __future__ import annotations

import os

PROTOCOL_VERSION = "1.3"
GREETING = f"Click::ControlSocket/{PROTOCOL_VERSION}\r\n".encode()

# Reply codes (Click's CSERR_*)
OK = 200
OK_WITH_WARNINGS = 220
SYNTAX_ERROR = 500
UNIMPLEMENTED = 501
NO_SUCH_ELEMENT = 510
NO_SUCH_HANDLER = 511
HANDLER_ERROR = 520
DATA_TOO_BIG = 521
LLRPC_ERROR = 522
PERMISSION_DENIED = 530
NO_ROUTER = 540
UNSPECIFIED = 590

MAX_LINE = 65536                 # bytes in one command line
MAX_DATA = 64 << 20              # READDATA/WRITEDATA/LLRPC payload
MAX_PENDING = 64 << 20           # unconsumed input while waiting for a terminator
OUT_HIGH = 1 << 20               # stop reading a client while this much output waits
COMMANDS_PER_WAKEUP = 16         # then let the driver run packets again
READ_CHUNK = 65536

EPOLLIN = 0x001
EPOLLOUT = 0x004
EPOLLERR = 0x008
EPOLLHUP = 0x010

HELP_LINES = [
    "Commands supported:",
    "READ handler [arg...]   call read handler, return DATA",
    "READDATA handler len    call read handler with len data bytes, return DATA",
    "READUNTIL handler term  call read handler, take data until term, return DATA",
    "WRITE handler [arg...]  call write handler",
    "WRITEDATA handler len   call write handler, pass len data bytes",
    "WRITEUNTIL handler term call write handler, take data until term",
    "CHECKREAD handler       check if read handler is valid",
    "CHECKWRITE handler      check if write handler is valid",
    "LLRPC elt#number [len]  call LLRPC, pass len data bytes, return DATA",
    "QUIT                    close connection",
]


def to_wire(text: str) -> bytes:
    """Handler text as bytes: byte-transparent for text that came from bytes
    (latin-1), UTF-8 for real Unicode text."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")


def from_wire(data: bytes) -> str:
    return data.decode("latin-1")


def printable(text: str) -> str:
    """Click's String::printable: control characters as ^X, high bytes as \\ooo."""
    out = []
    for ch in text:
        c = ord(ch)
        if c < 32:
            out.append("^" + chr(c + 64))
        elif c == 127:
            out.append("^?")
        elif c > 127:
            out.append("\\%03o" % (c & 0xFF) if c < 256 else ch)
        else:
            out.append(ch)
    return "".join(out)


class Pending:
    """A handler result that arrives later (hotconfig: the new configuration is
    built while the old one keeps forwarding). A write handler returns one;
    the ControlSocket parks the client's connection until it is resolved."""

    def __init__(self) -> None:
        self.done = False
        self.ok = False
        self.messages: list[str] = []
        self._callbacks: list = []

    def add_done_callback(self, fn) -> None:
        if self.done:
            fn(self)
        else:
            self._callbacks.append(fn)

    def resolve(self, ok: bool, messages: list[str] | None = None) -> None:
        if self.done:
            return
        self.done, self.ok, self.messages = True, ok, list(messages or [])
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn(self)


def _error_lines(exc: BaseException) -> list[str]:
    from clickpy.lang.graph import ConfigError
    if isinstance(exc, ConfigError):
        lines = []
        for d in exc.diagnostics:
            lines.extend(d.format().splitlines() or [""])
        return lines
    text = str(exc) or type(exc).__name__
    return text.splitlines() or [text]


class _NeedMore(Exception):
    """The command's data has not all arrived yet: keep it and wait."""


class ControlConnection:
    """One client of a ControlSocket. `server` provides `router` (the router
    whose handlers it serves), `read_only`, and `interest_changed(conn)`
    (called whenever the connection's wanted epoll events may have changed,
    or it has finished)."""

    def __init__(self, server, fd: int, *, greet: bool = True, description: str = "") -> None:
        self.server = server
        self.fd = fd
        self.description = description
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.in_closed = False
        self.out_closed = False
        self.closed = False
        self.pending: Pending | None = None
        self.last_progress = 0.0          # monotonic time output last moved (or was empty)
        if greet:
            self.outbuf += GREETING

    # ---- what the server asks --------------------------------------------------
    def wanted_events(self) -> int:
        events = 0
        if not self.in_closed and len(self.outbuf) < OUT_HIGH and self.pending is None:
            events |= EPOLLIN
        if self.outbuf or (self.inbuf and self.pending is None and not self._blocked_on_input):
            # writable wakes us again: flush, or run the next buffered command
            events |= EPOLLOUT
        return events

    @property
    def finished(self) -> bool:
        """Nothing more to do: the peer is gone and every reply is out."""
        if self.out_closed:
            return True
        return self.in_closed and self.pending is None and not self.outbuf and not self.inbuf

    _blocked_on_input = False

    # ---- driver callback ---------------------------------------------------------
    def on_ready(self, events: int) -> None:
        if self.closed:
            return
        if events & (EPOLLIN | EPOLLHUP | EPOLLERR) and not self.in_closed and self.pending is None:
            self._read_some()
        self._run_commands()
        self.flush()
        self.server.interest_changed(self)

    def _read_some(self) -> None:
        if len(self.outbuf) >= OUT_HIGH:
            return
        try:
            data = os.read(self.fd, READ_CHUNK)
        except BlockingIOError:
            return
        except InterruptedError:
            return
        except OSError:
            self.in_closed = True
            return
        if not data:
            self.in_closed = True
            return
        self.inbuf += data
        self._blocked_on_input = False

    def flush(self) -> None:
        import time
        while self.outbuf and not self.out_closed:
            try:
                n = os.write(self.fd, self.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.out_closed = True
                self.outbuf.clear()
                break
            if n <= 0:
                break
            del self.outbuf[:n]
            self.last_progress = time.monotonic()
        if not self.outbuf:
            self.last_progress = time.monotonic()

    # ---- replies -------------------------------------------------------------------
    def message(self, code: int, text: str, more: bool = False) -> None:
        if not self.out_closed:
            self.outbuf += f"{code}{'-' if more else ' '}".encode() + to_wire(printable(text)) + b"\r\n"

    def messages(self, code: int, first: str, lines: list[str]) -> None:
        """Click's transfer_messages: `first` ends with ':' when detail lines follow."""
        if first:
            self.message(code, first + ":" if lines else first, bool(lines))
        for i, line in enumerate(lines):
            self.message(code, line, i < len(lines) - 1)

    def data(self, payload: bytes) -> None:
        if not self.out_closed:
            self.outbuf += b"DATA %d\r\n" % len(payload) + payload

    def fatal(self, code: int, text: str) -> None:
        """Reply, then hang up: the client broke a limit we cannot recover from."""
        self.message(code, text)
        self.inbuf.clear()
        self.in_closed = True

    # ---- the command loop -----------------------------------------------------------
    def _run_commands(self) -> None:
        done = 0
        while self.inbuf and self.pending is None and not self.out_closed \
                and done < COMMANDS_PER_WAKEUP and len(self.outbuf) < OUT_HIGH:
            end = self._line_end()
            if end is None:
                if len(self.inbuf) > MAX_LINE:
                    self.fatal(SYNTAX_ERROR, f"Line too long (more than {MAX_LINE} bytes)")
                    return
                if not self.in_closed:
                    self._blocked_on_input = True
                    return
                end = (len(self.inbuf), len(self.inbuf))
            line_end, next_start = end
            if line_end > MAX_LINE:
                self.fatal(SYNTAX_ERROR, f"Line too long (more than {MAX_LINE} bytes)")
                return
            line = from_wire(bytes(self.inbuf[:line_end]))
            saved = bytes(self.inbuf)
            del self.inbuf[:next_start]
            try:
                self.execute(line)
            except _NeedMore:
                self.inbuf[:0] = saved[:next_start]
                if len(self.inbuf) > MAX_PENDING:
                    self.fatal(DATA_TOO_BIG, "Data too large")
                    return
                self._blocked_on_input = True
                return
            done += 1

    def _line_end(self) -> tuple[int, int] | None:
        """(end of the first line, start of the next) or None if incomplete."""
        buf = self.inbuf
        cr = buf.find(b"\r")
        lf = buf.find(b"\n")
        if cr < 0 and lf < 0:
            return None
        if cr >= 0 and (lf < 0 or cr < lf):
            # CRLF, or CR alone (then an LF arriving later is an empty line, as in Click)
            return cr, cr + 2 if cr + 1 < len(buf) and buf[cr + 1] == 0x0A else cr + 1
        return lf, lf + 1

    def _take(self, n: int) -> bytes:
        if len(self.inbuf) < n:
            if self.in_closed:
                raise _Reply(SYNTAX_ERROR, "Not enough data")
            raise _NeedMore()
        data = bytes(self.inbuf[:n])
        del self.inbuf[:n]
        return data

    def _take_until(self, terminator: str) -> bytes:
        """Input up to the first line equal to `terminator` (trailing spaces
        ignored); the terminator line is consumed."""
        buf = self.inbuf
        term = to_wire(terminator)
        pos = 0
        while True:
            i = pos
            n = len(buf)
            while i < n and buf[i] not in (0x0A, 0x0D):
                i += 1
            if i >= n:
                if self.in_closed:
                    raise _Reply(SYNTAX_ERROR, "Not enough data")
                raise _NeedMore()
            line = bytes(buf[pos:i]).rstrip(b" \t\v\f")
            nxt = i + 2 if buf[i] == 0x0D and i + 1 < n and buf[i + 1] == 0x0A else i + 1
            if buf[i] == 0x0D and i + 1 >= n and not self.in_closed:
                raise _NeedMore()          # CRLF may be split: wait for the LF
            if line == term:
                data = bytes(buf[:pos])
                del buf[:nxt]
                return data
            pos = nxt

    def execute(self, line: str) -> None:
        try:
            self._execute(line)
        except _Reply as r:
            self.message(r.code, r.text)

    def _execute(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        cmd = words[0].upper()
        if cmd in ("READ", "GET", "WRITE", "SET"):
            if len(words) < 2:
                raise _Reply(SYNTAX_ERROR, "Wrong number of arguments")
            rest = _after_words(line, 2)
            if cmd in ("READ", "GET"):
                self._read(words[1], rest)
            else:
                self._write(words[1], rest)
        elif cmd in ("READDATA", "WRITEDATA", "SETDATA"):
            if len(words) != 3:
                raise _Reply(SYNTAX_ERROR, "Wrong number of arguments")
            n = _parse_int(words[2])
            if n is None or n < 0:
                raise _Reply(SYNTAX_ERROR, f"Syntax error in '{cmd}'")
            if n > MAX_DATA:
                self.fatal(DATA_TOO_BIG, f"Data too large for handler '{words[1]}' (more than {MAX_DATA} bytes)")
                return
            data = from_wire(self._take(n))
            if cmd == "READDATA":
                self._read(words[1], data)
            else:
                self._write(words[1], data)
        elif cmd in ("READUNTIL", "WRITEUNTIL"):
            if len(words) < 2:
                raise _Reply(SYNTAX_ERROR, "Wrong number of arguments")
            data = from_wire(self._take_until(_after_words(line, 2)))
            if cmd == "READUNTIL":
                self._read(words[1], data)
            else:
                self._write(words[1], data)
        elif cmd in ("CHECKREAD", "CHECKWRITE"):
            if len(words) != 2:
                raise _Reply(SYNTAX_ERROR, "Wrong number of arguments")
            self._check(words[1], cmd == "CHECKWRITE")
        elif cmd == "LLRPC":
            if len(words) not in (2, 3):
                raise _Reply(SYNTAX_ERROR, "Wrong number of arguments")
            n = 0
            if len(words) == 3:
                n = _parse_int(words[2])
                if n is None or n < 0:
                    raise _Reply(SYNTAX_ERROR, "Syntax error in 'llrpc'")
                if n > MAX_DATA:
                    self.fatal(DATA_TOO_BIG, "Data too large for LLRPC")
                    return
            self._take(n)
            self._llrpc(words[1])
        elif cmd in ("QUIT", "CLOSE"):
            if len(words) != 1:
                self.message(SYNTAX_ERROR, "Bad command syntax")
            self.message(OK, "Goodbye!")
            self.in_closed = True
            self.inbuf.clear()
        elif cmd == "HELP":
            for i, text in enumerate(HELP_LINES):
                self.message(OK, text, i < len(HELP_LINES) - 1)
        else:
            raise _Reply(UNIMPLEMENTED, f"Command '{cmd}' unimplemented")

    # ---- handlers ---------------------------------------------------------------------
    def _resolve(self, full: str):
        """(element or None for a global handler, handler name); raises _Reply."""
        router = self.server.router
        if router is None:
            raise _Reply(NO_ROUTER, "No router installed")
        name = full
        dot = name.find(".")
        if dot == 0 or (dot == 1 and name[0] == "0"):
            name = name[dot + 1:]
            dot = name.find(".")
        if dot >= 0:
            ename, hname = name[:dot], name[dot + 1:]
            elem = router.element(ename)
            if elem is None:
                index = _parse_int(ename)
                if index is not None and 0 < index <= len(router.elements):
                    elem = router.elements[index - 1]
            if elem is None:
                raise _Reply(NO_SUCH_ELEMENT, f"No element named '{ename}'")
            if not (elem.has_read_handler(hname) or elem.has_write_handler(hname)) \
                    or not _visible(elem, hname):
                raise _Reply(NO_SUCH_HANDLER, f"No handler named '{full}'")
            return elem, hname
        if not (router.has_global_handler(name, write=False) or router.has_global_handler(name, write=True)):
            raise _Reply(NO_SUCH_HANDLER, f"No handler named '{full}'")
        return None, name

    def _readable(self, elem, hname) -> bool:
        if elem is None:
            return self.server.router.has_global_handler(hname, write=False)
        return elem.has_read_handler(hname)

    def _writable(self, elem, hname) -> bool:
        if elem is None:
            return self.server.router.has_global_handler(hname, write=True)
        return elem.has_write_handler(hname)

    def _read(self, full: str, param: str) -> None:
        elem, hname = self._resolve(full)
        if not self._readable(elem, hname):
            raise _Reply(PERMISSION_DENIED, f"Handler '{full}' write-only")
        router = self.server.router
        try:
            value = router.read_handler_of(elem, hname, param)
        except Exception as e:   # a handler's failure is the client's answer, not our crash
            self.messages(UNSPECIFIED, f"Read handler '{full}' error", _error_lines(e))
            return
        self.message(OK, f"Read handler '{full}' OK")
        self.data(to_wire(value))

    def _write(self, full: str, value: str) -> None:
        elem, hname = self._resolve(full)
        if not self._writable(elem, hname):
            raise _Reply(PERMISSION_DENIED, f"Handler '{full}' read-only")
        if self.server.read_only:
            raise _Reply(PERMISSION_DENIED, f"Permission denied for '{full}'")
        router = self.server.router
        try:
            result = router.write_handler_of(elem, hname, value)
        except Exception as e:
            self.messages(HANDLER_ERROR, f"Write handler '{full}' error", _error_lines(e))
            return
        if isinstance(result, Pending):
            self.pending = result
            result.add_done_callback(lambda p: self._resolved(full, p))
            return
        self._write_reply(full, True, [])

    def _write_reply(self, full: str, ok: bool, messages: list[str]) -> None:
        lines = [line for m in messages for line in (m.splitlines() or [""])]
        if ok:
            code = OK_WITH_WARNINGS if lines else OK
            first = f"Write handler '{full}' OK" + (" with warnings" if lines else "")
        else:
            code, first = HANDLER_ERROR, f"Write handler '{full}' error"
        self.messages(code, first, lines)

    def _resolved(self, full: str, p: Pending) -> None:
        self.pending = None
        if self.closed:
            return
        self._write_reply(full, p.ok, p.messages)
        # Send it from the next epoll round (writable), not now: this runs in
        # the middle of a hot swap, and waking the client here would let the
        # kernel run it instead of the new router.
        self.server.interest_changed(self)

    def _check(self, full: str, write: bool) -> None:
        elem, hname = self._resolve(full)
        ok = self._writable(elem, hname) if write else self._readable(elem, hname)
        if write and ok and self.server.read_only:
            raise _Reply(PERMISSION_DENIED, f"Permission denied for '{full}'")
        if ok:
            self.message(OK, f"{'Write' if write else 'Read'} handler '{full}' OK")
        else:
            self.message(NO_SUCH_HANDLER, f"Handler '{full}' not {'writable' if write else 'readable'}")

    def _llrpc(self, name: str) -> None:
        ename, hash_, number = name.partition("#")
        if not hash_ or _parse_int(number, 16) is None:
            raise _Reply(SYNTAX_ERROR, f"Syntax error in LLRPC name '{name}'")
        self._resolve(ename + ".name")
        # clickpy elements have no LLRPCs (binary ioctl-style calls); handlers do their work
        raise _Reply(UNIMPLEMENTED, f"Cannot call LLRPC '{name}' remotely")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            os.close(self.fd)
        except OSError:
            pass


class _Reply(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


def _visible(elem, hname: str) -> bool:
    hidden = getattr(elem, "control_hidden_handlers", ())
    return hname not in hidden


def _after_words(line: str, k: int) -> str:
    """The raw text of `line` from its k-th word (0-based) to its last word."""
    pos, n = 0, len(line)
    for _ in range(k):
        while pos < n and line[pos].isspace():
            pos += 1
        while pos < n and not line[pos].isspace():
            pos += 1
    return line[pos:].strip()


def _parse_int(text: str, base: int = 0) -> int | None:
    try:
        if base == 0:
            return int(text, 0) if not (len(text) > 1 and text[0] == "0" and text[1].isdigit()) \
                else int(text, 8)
        return int(text, base)
    except ValueError:
        return None


# ---------------------------------------------------------------------- client
class ControlError(Exception):
    """A ControlSocket reply with an error code."""

    def __init__(self, code: int, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.code = code
        self.lines = lines


class ControlClient:
    """A blocking client of a ControlSocket (what `clickpy handler` and
    `clickpy top` use). `ControlClient.connect("7777")`, `("/tmp/sock")` or
    `("host:port")`."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self.buf = bytearray()
        greeting = self._line()
        if not greeting.startswith("Click::ControlSocket/"):
            raise ControlError(0, [f"not a Click ControlSocket (said {greeting!r})"])
        self.version = greeting.split("/", 1)[1]

    @classmethod
    def connect(cls, where: str, timeout: float | None = 10.0) -> "ControlClient":
        import socket
        if "/" in where or where.startswith("@") or not where.replace(":", "").replace(".", "").isalnum():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(where)
        else:
            host, _, port = where.rpartition(":")
            s = socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout)
        return cls(s)

    def close(self) -> None:
        try:
            self.sock.sendall(b"QUIT\r\n")
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> "ControlClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("control socket closed the connection")
        self.buf += data

    def _line(self) -> str:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return from_wire(line)
            self._fill()

    def _bytes(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def reply(self) -> tuple[int, list[str]]:
        lines = []
        while True:
            line = self._line()
            code = int(line[:3])
            lines.append(line[4:])
            if line[3:4] != "-":
                return code, lines

    def command(self, line: str, payload: bytes = b"") -> tuple[int, list[str]]:
        self.sock.sendall(to_wire(line) + b"\r\n" + payload)
        return self.reply()

    def _data_reply(self, code: int, lines: list[str]) -> str:
        if code >= 300:
            raise ControlError(code, lines)
        header = self._line()
        if not header.startswith("DATA "):
            raise ControlError(0, [f"expected DATA, got {header!r}"])
        return from_wire(self._bytes(int(header[5:])))

    def read(self, handler: str, param: str = "") -> str:
        if param:
            data = to_wire(param)
            code, lines = self.command(f"READDATA {handler} {len(data)}", data)
        else:
            code, lines = self.command(f"READ {handler}")
        return self._data_reply(code, lines)

    def write(self, handler: str, value: str = "") -> list[str]:
        data = to_wire(value)
        code, lines = self.command(f"WRITEDATA {handler} {len(data)}", data)
        if code >= 300:
            raise ControlError(code, lines)
        return lines

    def check(self, handler: str, write: bool = False) -> bool:
        code, _ = self.command(f"{'CHECKWRITE' if write else 'CHECKREAD'} {handler}")
        return code < 300

    def handlers(self) -> list[tuple[str, str]]:
        """Every handler of the router as (name, 'r'|'w'|'rw')."""
        out = []
        for name in self.read("handlers").splitlines():
            out.append(_split_flags(name, ""))
        for ename in self.read("list").splitlines()[1:]:
            for line in self.read(f"{ename}.handlers").splitlines():
                hname, flags = _split_flags(line, "")
                out.append((f"{ename}.{hname}", flags))
        return out


def _split_flags(line: str, prefix: str) -> tuple[str, str]:
    name, _, flags = line.partition("\t")
    return prefix + name, flags
