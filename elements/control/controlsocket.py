# EXPORT_ELEMENT ControlSocket
"""ControlSocket: Click's control protocol for other programs (cold code)."""
from __future__ import annotations

import errno
import os
# _socket, not socket: the wrapper imports enum and selectors (~0.1 s of a VM
# appliance's boot under emulation); a listener needs only the C module
import _socket
import stat
import sys
import time

from clickpy.args import ANY, BOOL, FILENAME, INT, IP6ADDR, IPADDR, SECONDS, UINT, WORD, ArgError
from clickpy.control import ControlConnection, EPOLLIN
from clickpy.element import Element


class ControlSocket(Element):
    """ControlSocket(TYPE, ARGUMENT [, KEYWORDS])

    Opens control sockets for other programs.

    Ports: none.

    Lets other programs call the router's read and write handlers over
    Click's ControlSocket protocol, version 1.3 (what Click's own tools,
    clicky and `clickpy handler` speak). The forms are:

      ControlSocket(TCP, PORT)       listen on a TCP port ("N+": N or the next free one)
      ControlSocket(UNIX, FILENAME)  listen on a Unix-domain stream socket, mode 0600
      ControlSocket(SOCKET, FD)      serve an open descriptor: a connected stream
                                     (one client) or a listening socket (systemd
                                     socket activation)
      ControlSocket(DEVICE, PATH)    serve a character device such as a virtio-serial
                                     port (/dev/vport0p1) or a tty; reopened when the
                                     other side hangs up

    A TCP ControlSocket listens on the loopback address unless ADDRESS is
    given or LOCALHOST is false (Click listens on every address by default;
    a control port open to the network is rarely what anyone wants).

    On connect the server sends "Click::ControlSocket/1.3". Commands, one a
    line (CR, LF or CRLF), the command word in any case:

      READ handler [params]      (also GET) reply 200 and "DATA n" + n bytes
      READDATA handler n         read with the n bytes after the line as parameters
      READUNTIL handler [term]   read with the lines up to a line equal to term
                                 (a blank line when term is absent) as parameters
      WRITE handler [value]      (also SET) call a write handler
      WRITEDATA handler n        write the n bytes after the line
      WRITEUNTIL handler [term]  write the lines up to the terminator line
      CHECKREAD handler, CHECKWRITE handler   200 if the handler can be called
      LLRPC element#hex [n]      501: clickpy elements have no LLRPCs
      HELP, QUIT (also CLOSE)

    A handler is "element.handler", "N.handler" (the Nth element, from 1) or a
    global handler ("version", "list", "config", "hotconfig", ...). Replies
    are "CODE text" lines, "CODE-text" when more lines follow: 200 OK, 220 OK
    with warnings, 500 syntax error, 501 unimplemented command, 510 no such
    element, 511 no such handler, 520 handler error, 521 data too large, 530
    permission denied, 590 read handler error.

    Hostile clients cannot stall the router: each client is served a few
    commands at a time from the driver's epoll loop, a line over 64 KiB or
    a data length over 64 MiB gets 500/521 and a hang-up, a client that
    stops reading its replies is no longer read from, and it is dropped when
    its replies have not moved for CLIENT_TIMEOUT.

    Hot reconfiguration keeps clients connected: a ControlSocket of the new
    configuration with the same name, type and address takes over the old
    one's socket and connections (a client that wrote `hotconfig` gets its
    reply from the new one).

    Keywords:
      READONLY        Boolean. Refuse every write handler (530) (false)
      VERBOSE         Boolean. Print connections opened and closed (false)
      LOCALHOST       Boolean. TCP: listen on 127.0.0.1 only (true)
      ADDRESS         IPv4 or IPv6 address. TCP: listen on this address (127.0.0.1)
      RETRIES         Integer. If the socket cannot be opened, retry once a second
                      this many times before stopping the router (0)
      RETRY_WARNINGS  Boolean. Warn at every failed retry (true)
      MAX_CONNECTIONS Integer. Clients at once; more are refused (256)
      CLIENT_TIMEOUT  Time. Drop a client whose replies have not moved for this long (60s)
      PROXY           Not supported (Click's kernel handler proxy); an error.

    Handlers:
      port (read)         the TCP port listened on (useful with port 0 or N+)
      connections (read)  clients connected now

    Example:
      ControlSocket(TCP, 7777);
      ControlSocket(unix, /run/clickpy.sock, READONLY true);
    """

    port_count = "0/0"
    configure_phase = 10

    def configure(self, args) -> None:
        self.socktype = args.read_mp("TYPE", WORD).upper()
        self.read_only = args.read("READONLY", BOOL, False)
        self.verbose = args.read("VERBOSE", BOOL, False)
        localhost = args.read("LOCALHOST", BOOL, True)
        address = args.read("ADDRESS", ANY, None)
        self.retries = args.read("RETRIES", INT, 0)
        self.retry_warnings = args.read("RETRY_WARNINGS", BOOL, True)
        self.max_connections = args.read("MAX_CONNECTIONS", UINT, 256)
        self.client_timeout = args.read("CLIENT_TIMEOUT", SECONDS, 60.0)
        if args.read("PROXY", ANY, None) is not None:
            raise self.error("PROXY is not supported (clickpy has no kernel driver to proxy)")
        self.port_text = ""
        self.path = ""
        self.fd_arg = -1
        if self.socktype == "TCP":
            text = args.read_mp("PORT", WORD)
            base = text[:-1] if text.endswith("+") else text
            if not (base.isdigit() and 0 <= int(base) < 65536):
                raise self.error("PORT requires TCP port")
            self.port_text = text
            if address is not None:
                try:
                    (IP6ADDR if ":" in address else IPADDR)(address)
                except ArgError:
                    raise self.error(f"ADDRESS: expected an IPv4 or IPv6 address, not '{address}'") from None
                self.bind_address = address
            else:
                self.bind_address = "127.0.0.1" if localhost else "0.0.0.0"
        elif self.socktype == "UNIX":
            self.path = args.read_mp("FILENAME", FILENAME)
            if len(os.fsencode(self.path)) >= 108:
                raise self.error("filename too long")
        elif self.socktype == "SOCKET":
            self.fd_arg = args.read_mp("FD", UINT)
        elif self.socktype == "DEVICE":
            self.path = args.read_mp("FILENAME", FILENAME)
        else:
            raise self.error(f"unknown socket type '{self.socktype}' (expected TCP, UNIX, SOCKET or DEVICE)")
        self.listener: _socket.socket | None = None
        self.conns: dict[int, ControlConnection] = {}
        self.registered: dict[int, int] = {}
        self.bound_port = 0
        self.device_fd = -1

    # ---- identity for hot swap -----------------------------------------------
    def _endpoint(self) -> tuple:
        return (self.socktype, self.port_text, getattr(self, "bind_address", ""), self.path, self.fd_arg)

    def initialize(self) -> None:
        self._timeout_timer = self.add_timer(self._check_timeouts)
        self._retry_timer = self.add_timer(self._retry)
        self._deferred = False
        old_router = self.router.hotswap_router
        if old_router is not None:
            old = old_router.element(self.name)
            if isinstance(old, ControlSocket) and old._endpoint() == self._endpoint():
                self._deferred = True     # take_state moves its socket and clients to us
                return
        self._open_or_retry(first=True)

    def _open_or_retry(self, first: bool) -> bool:
        try:
            self._open()
            return True
        except OSError as e:
            what = f"{self._describe()}: {e.strerror or e}"
            if self.retries <= 0:
                if first:
                    raise OSError(e.errno, what) from None
                self._log(f"{what}; giving up")
                self.please_stop()
                return False
            self.retries -= 1
            if self.retry_warnings:
                self.warn(f"{what} ({self.retries + 1} {'try' if self.retries == 0 else 'tries'} left)")
            self._retry_timer.schedule_after(1_000_000_000)
            return False

    def _retry(self) -> None:
        self._open_or_retry(first=False)

    def _describe(self) -> str:
        if self.socktype == "TCP":
            return f"TCP {self.bind_address}:{self.port_text}"
        if self.socktype == "SOCKET":
            return f"descriptor {self.fd_arg}"
        return f"{self.socktype.lower()} {self.path}"

    def _open(self) -> None:
        if self.socktype == "TCP":
            self._open_tcp()
        elif self.socktype == "UNIX":
            self._open_unix()
        elif self.socktype == "SOCKET":
            self._open_fd()
        else:
            self._open_device()

    def _listen_on(self, sock: _socket.socket) -> None:
        sock.listen(64)
        sock.setblocking(False)
        self.listener = sock
        self._register(sock.fileno(), EPOLLIN)

    def _open_tcp(self) -> None:
        family = _socket.AF_INET6 if ":" in self.bind_address else _socket.AF_INET
        port = int(self.port_text.rstrip("+"))
        scan = self.port_text.endswith("+")
        sock = _socket.socket(family, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            tries = 0
            while True:
                try:
                    sock.bind((self.bind_address, port))
                    break
                except OSError:
                    if not scan or tries >= 10 or port >= 65535:
                        raise
                    port += 1
                    tries += 1
            self.bound_port = sock.getsockname()[1]
            self._listen_on(sock)
        except BaseException:
            sock.close()
            raise

    def _open_unix(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISSOCK(st.st_mode):
                raise OSError(errno.EEXIST, f"{self.path} exists and is not a socket")
            os.unlink(self.path)     # a stale socket of an earlier run
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            old_mask = os.umask(0o177)       # the socket file is born 0600
            try:
                sock.bind(self.path)
            finally:
                os.umask(old_mask)
            os.chmod(self.path, 0o600)
            self._listen_on(sock)
        except BaseException:
            sock.close()
            raise

    def _open_fd(self) -> None:
        fd = self.fd_arg
        os.fstat(fd)                          # EBADF now, not later
        os.set_inheritable(fd, False)
        os.set_blocking(fd, False)
        try:
            probe = _socket.socket(fileno=fd)
        except OSError:
            probe = None                      # not a socket: a pipe-like stream or a device
        if probe is not None:
            try:
                listening = probe.getsockopt(_socket.SOL_SOCKET, _socket.SO_ACCEPTCONN)
            except OSError:
                listening = 0
            if listening:
                self.listener = probe
                self._register(fd, EPOLLIN)
                return
            probe.detach()
        self._add_connection(fd, "descriptor")

    def _open_device(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            if os.isatty(fd):
                import termios
                import tty
                tty.setraw(fd, termios.TCSANOW)
        except BaseException:
            os.close(fd)
            raise
        self.device_fd = fd
        self._add_connection(fd, self.path)

    # ---- connections --------------------------------------------------------------
    def _register(self, fd: int, events: int) -> None:
        if self.registered.get(fd) == events:
            return
        if fd == (self.listener.fileno() if self.listener is not None else -1):
            self.add_select(fd, events, self._accept)
        else:
            self.add_select(fd, events, self.conns[fd].on_ready)
        self.registered[fd] = events

    def _unregister(self, fd: int) -> None:
        if self.registered.pop(fd, None) is not None:
            self.remove_select(fd)

    def _add_connection(self, fd: int, description: str) -> ControlConnection:
        conn = ControlConnection(self, fd, description=description)
        self.conns[fd] = conn
        if self.verbose:
            self._log(f"opened connection {fd} from {description}")
        conn.flush()
        self.interest_changed(conn)
        return conn

    def _accept(self, events: int) -> None:
        for _ in range(16):                  # a few per wakeup; epoll calls again if more wait
            try:
                # _accept: the C socket's accept4(SOCK_CLOEXEC), a new fd
                fd, addr = self.listener._accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._log(f"accept: {e.strerror}")
                return
            if len(self.conns) >= self.max_connections:
                try:
                    os.write(fd, b"Click::ControlSocket/1.3\r\n590 Too many connections\r\n")
                except OSError:
                    pass
                os.close(fd)
                continue
            os.set_blocking(fd, False)
            if isinstance(addr, tuple):
                desc = f"{addr[0]}:{addr[1]}"
            else:
                desc = addr or "unix socket"
            self._add_connection(fd, desc)

    # ---- what a ControlConnection asks of its server ----------------------------------
    def interest_changed(self, conn: ControlConnection) -> None:
        if conn.closed:
            return
        if conn.finished:
            self._close(conn)
            return
        events = conn.wanted_events()
        if events:
            self._register(conn.fd, events)
        else:
            # waiting for a Pending with nothing to read or write: leave epoll,
            # which would otherwise report a hung-up peer at every round
            self._unregister(conn.fd)
        if conn.outbuf and not self._timeout_timer.scheduled():
            self._timeout_timer.schedule_after(self._timeout_tick())

    def _timeout_tick(self) -> int:
        return int(min(max(self.client_timeout / 4, 0.01), 1.0) * 1e9)

    def _close(self, conn: ControlConnection) -> None:
        self._unregister(conn.fd)
        self.conns.pop(conn.fd, None)
        conn.close()
        if self.verbose:
            self._log(f"closed connection {conn.fd}")
        if self.socktype == "DEVICE" and conn.fd == self.device_fd:
            self.device_fd = -1
            # the other side hung up: open the device again for the next client
            self.retries = max(self.retries, 1 << 30)
            self.retry_warnings = False
            self._retry_timer.schedule_after(1_000_000_000)

    def _check_timeouts(self) -> None:
        now = time.monotonic()
        waiting = False
        for conn in list(self.conns.values()):
            if conn.outbuf:
                if now - conn.last_progress > self.client_timeout:
                    if self.verbose:
                        self._log(f"connection {conn.fd} stopped reading; dropped")
                    conn.outbuf.clear()
                    conn.out_closed = True
                    self._close(conn)
                else:
                    waiting = True
        if waiting:
            self._timeout_timer.schedule_after(self._timeout_tick())

    def _log(self, message: str) -> None:
        print(f"{self.name}: {message}", file=sys.stderr, flush=True)

    # ---- hot swap and cleanup ---------------------------------------------------------
    def take_state(self, old) -> None:
        if not (isinstance(old, ControlSocket) and self._deferred and old._endpoint() == self._endpoint()):
            return
        self._deferred = False
        for fd in list(old.registered):
            old._unregister(fd)
        self.listener, old.listener = old.listener, None
        self.bound_port = old.bound_port
        self.device_fd, old.device_fd = old.device_fd, -1
        self.conns, old.conns = old.conns, {}
        if self.listener is not None:
            self._register(self.listener.fileno(), EPOLLIN)
        for conn in list(self.conns.values()):
            conn.server = self
            self.interest_changed(conn)
        if old._retry_timer.scheduled():
            old._retry_timer.unschedule()
            self.retries = old.retries
            self._retry_timer.schedule_after(1_000_000_000)

    def cleanup(self) -> None:
        if not hasattr(self, "conns"):
            return
        for conn in list(self.conns.values()):
            conn.flush()                       # one last try to send what is queued
            self._unregister(conn.fd)
            conn.close()
        self.conns.clear()
        if self.listener is not None:
            fd = self.listener.fileno()
            self._unregister(fd)
            try:
                self.listener.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
            if self.socktype == "UNIX":
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
        if getattr(self, "_retry_timer", None) is not None:
            self._retry_timer.unschedule()
            self._timeout_timer.unschedule()

    def add_handlers(self) -> None:
        self.add_read_handler("port", lambda: self.bound_port)
        self.add_read_handler("connections", lambda: len(self.conns))
