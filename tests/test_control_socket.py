"""ControlSocket: Click's protocol 1.3 byte for byte, errors, many and hostile clients."""
from __future__ import annotations

import os
import socket
import stat
import threading
import time

import pytest

from clickpy.control import ControlClient, ControlError
from clickpy.lang.graph import ConfigError
from clickpy.router import Router

from control_helpers import connect_tcp, recv_exactly, recv_until_closed, serve, wait_for

# A router with a known state: the source pushes 5 packets at start, then idles.
BASE = """
cs :: ControlSocket(TCP, 0);
src :: InfiniteSource(LENGTH 60, LIMIT 5, STOP false) -> c :: Counter -> q :: Queue(10) -> Unqueue(ACTIVE false) -> Discard;
s :: Script(TYPE PASSIVE, return $(add $1 $2));
"""


class Conversation:
    """A Click ControlSocket client talking raw bytes."""

    def __init__(self, port: int) -> None:
        self.sock = connect_tcp(port)
        self.buf = b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; had {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line + b"\r\n"

    def take(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> list[bytes]:
        """Lines of one reply: up to the first line with a space after the code."""
        lines = [self.line()]
        while lines[-1][3:4] == b"-":
            lines.append(self.line())
        return lines

    def close(self) -> None:
        self.sock.close()


def run_conversation(config: str, talk, **kw):
    def client(live):
        port = int(_wait_port(live))
        conv = Conversation(port)
        try:
            return talk(conv)
        finally:
            conv.close()
    live, result = serve(config, client, **kw)
    live.cleanup()
    return result


def _wait_port(live) -> int:
    # the listener is open once the router is built
    return live.router.element("cs").bound_port


def test_click_client_exchange_verbatim():
    """What a Click ControlSocket client sends and gets back, byte for byte."""
    def talk(c: Conversation):
        assert c.line() == b"Click::ControlSocket/1.3\r\n"
        # wait until the 5 packets went through
        assert wait_for(lambda: (c.send(b"READ c.count\r\n"), c.reply(), c.take(int(c.line()[5:-2])))[2] == b"5")
        c.send(b"READ c.count\r\n")
        assert c.reply() == [b"200 Read handler 'c.count' OK\r\n"]
        assert c.line() == b"DATA 1\r\n" and c.take(1) == b"5"
        c.send(b"get q.length\n")                      # lowercase alias, LF only
        assert c.reply() == [b"200 Read handler 'q.length' OK\r\n"]
        assert c.line() == b"DATA 1\r\n" and c.take(1) == b"5"
        c.send(b"READ 2.class\r")                      # element by index, CR only
        assert c.reply() == [b"200 Read handler '2.class' OK\r\n"]
        assert c.line() == b"DATA 14\r\n" and c.take(14) == b"InfiniteSource"
        c.send(b"READ s.run 40 2\r\n")                  # read handler with parameters
        assert c.reply() == [b"200 Read handler 's.run' OK\r\n"]
        assert c.line() == b"DATA 2\r\n" and c.take(2) == b"42"
        c.send(b"READDATA s.add 5\r\n1 2 3")
        assert c.reply() == [b"200 Read handler 's.add' OK\r\n"]
        assert c.line() == b"DATA 1\r\n" and c.take(1) == b"6"
        c.send(b"READUNTIL s.add END\r\n10\r\n20\r\nEND  \r\n")   # trailing spaces ignored
        assert c.reply() == [b"200 Read handler 's.add' OK\r\n"]
        assert c.line() == b"DATA 2\r\n" and c.take(2) == b"30"
        c.send(b"READUNTIL s.add\r\n1\r\n1\r\n\r\n")             # no terminator: a blank line
        assert c.reply() == [b"200 Read handler 's.add' OK\r\n"]
        assert c.line() == b"DATA 1\r\n" and c.take(1) == b"2"
        c.send(b"WRITE c.reset\r\n")
        assert c.reply() == [b"200 Write handler 'c.reset' OK\r\n"]
        c.send(b"SET q.capacity 20\r\n")
        assert c.reply() == [b"200 Write handler 'q.capacity' OK\r\n"]
        c.send(b"WRITEDATA q.capacity 2\r\n30")
        assert c.reply() == [b"200 Write handler 'q.capacity' OK\r\n"]
        c.send(b"READ q.capacity\r\n")
        assert c.reply() == [b"200 Read handler 'q.capacity' OK\r\n"]
        assert c.line() == b"DATA 2\r\n" and c.take(2) == b"30"
        c.send(b"WRITEUNTIL s.set .\r\nx 4\r\n0\r\n.\r\n")      # the lines before the terminator
        assert c.reply() == [b"200 Write handler 's.set' OK\r\n"]
        c.send(b"READ s.get x\r\n")
        assert c.reply() == [b"200 Read handler 's.get' OK\r\n"]
        assert c.line() == b"DATA 6\r\n" and c.take(6) == b"4\r\n0\r\n"
        c.send(b"READ c.count\r\n")
        c.reply()
        assert c.line() == b"DATA 1\r\n" and c.take(1) == b"0"
        c.send(b"CHECKREAD c.count\r\n")
        assert c.reply() == [b"200 Read handler 'c.count' OK\r\n"]
        c.send(b"CHECKWRITE c.reset\r\n")
        assert c.reply() == [b"200 Write handler 'c.reset' OK\r\n"]
        c.send(b"READ version\r\n")
        assert c.reply() == [b"200 Read handler 'version' OK\r\n"]
        n = int(c.line()[5:-2])
        assert c.take(n)
        c.send(b"READ list\r\n")
        c.reply()
        names = c.take(int(c.line()[5:-2])).decode().split("\n")
        assert names[0] == "7" and names[1:4] == ["cs", "src", "c"]
        c.send(b"\r\n")                                 # an empty line is ignored
        c.send(b"QUIT\r\n")
        assert c.reply() == [b"200 Goodbye!\r\n"]
        assert c.sock.recv(10) == b""                   # and the server hangs up
    run_conversation(BASE, talk)


def test_every_error_code():
    def talk(c: Conversation):
        c.line()
        cases = [
            (b"READ nosuch.count\r\n", [b"510 No element named 'nosuch'\r\n"]),
            (b"READ c.nosuch\r\n", [b"511 No handler named 'c.nosuch'\r\n"]),
            (b"READ nosuch\r\n", [b"511 No handler named 'nosuch'\r\n"]),
            (b"READ 99.count\r\n", [b"510 No element named '99'\r\n"]),
            (b"WRITE c.count 1\r\n", [b"530 Handler 'c.count' read-only\r\n"]),
            (b"READ c.reset\r\n", [b"530 Handler 'c.reset' write-only\r\n"]),
            (b"CHECKWRITE c.count\r\n", [b"511 Handler 'c.count' not writable\r\n"]),
            (b"CHECKREAD c.reset\r\n", [b"511 Handler 'c.reset' not readable\r\n"]),
            (b"CHECKREAD\r\n", [b"500 Wrong number of arguments\r\n"]),
            (b"READ\r\n", [b"500 Wrong number of arguments\r\n"]),
            (b"WRITEDATA c.reset\r\n", [b"500 Wrong number of arguments\r\n"]),
            (b"READDATA c.count x\r\n", [b"500 Syntax error in 'READDATA'\r\n"]),
            (b"FROB c.count\r\n", [b"501 Command 'FROB' unimplemented\r\n"]),
            (b"LLRPC c#0xC0106300\r\n", [b"501 Cannot call LLRPC 'c#0xC0106300' remotely\r\n"]),
            (b"LLRPC c#zz\r\n", [b"500 Syntax error in LLRPC name 'c#zz'\r\n"]),
            (b"LLRPC nosuch#1\r\n", [b"510 No element named 'nosuch'\r\n"]),
            (b"LLRPC c#1 2 3\r\n", [b"500 Wrong number of arguments\r\n"]),
            (b"WRITE q.capacity lots\r\n", [b"520-Write handler 'q.capacity' error:\r\n",
                                            b"520 q.capacity: expected unsigned integer\r\n"]),
            (b"READ s.add 1 x\r\n", [b"590-Read handler 's.add' error:\r\n",
                                     b"590 expected list of numbers\r\n"]),
            (b"READ c.count extra\r\n", [b"590-Read handler 'c.count' error:\r\n",
                                         b"590 read handler 'c.count' does not take parameters\r\n"]),
            (b"WRITE hotconfig x\r\n", [b"511 No handler named 'hotconfig'\r\n"]),   # needs -a
            (b"QUIT now\r\n", [b"500 Bad command syntax\r\n"]),
        ]
        for command, expected in cases:
            c.send(command)
            got = c.reply()
            assert got == expected, command
        assert c.reply() == [b"200 Goodbye!\r\n"]        # QUIT with extra words still quits
    run_conversation(BASE, talk)


def test_help_lists_the_commands():
    def talk(c: Conversation):
        c.line()
        c.send(b"HELP\r\n")
        lines = c.reply()
        assert lines[0] == b"200-Commands supported:\r\n"
        assert lines[-1] == b"200 QUIT                    close connection\r\n"
        text = b"".join(lines)
        for word in (b"READ ", b"READDATA", b"READUNTIL", b"WRITE ", b"WRITEDATA", b"WRITEUNTIL",
                     b"CHECKREAD", b"CHECKWRITE", b"LLRPC"):
            assert word in text
    run_conversation(BASE, talk)


def test_readonly_refuses_writes():
    cfg = BASE.replace("ControlSocket(TCP, 0)", "ControlSocket(TCP, 0, READONLY true)") + \
        "ctl :: ControlSocket(TCP, 0);"
    def talk(c: Conversation):
        c.line()
        c.send(b"WRITE c.reset\r\n")
        assert c.reply() == [b"530 Permission denied for 'c.reset'\r\n"]
        c.send(b"CHECKWRITE c.reset\r\n")
        assert c.reply() == [b"530 Permission denied for 'c.reset'\r\n"]
        c.send(b"READ c.count\r\n")
        assert c.reply()[0].startswith(b"200")
    run_conversation(cfg, talk)


def test_data_commands_wait_for_their_data_across_reads():
    def talk(c: Conversation):
        c.line()
        c.send(b"READDATA s.add 7\r\n1 ")
        time.sleep(0.05)
        c.send(b"2 ")
        time.sleep(0.05)
        c.send(b"300READ c.class\r")       # the rest of the data, then the next command
        time.sleep(0.05)
        c.send(b"\n")
        assert c.reply() == [b"200 Read handler 's.add' OK\r\n"]
        assert c.line() == b"DATA 3\r\n" and c.take(3) == b"303"
        assert c.reply() == [b"200 Read handler 'c.class' OK\r\n"]
        assert c.line() == b"DATA 7\r\n" and c.take(7) == b"Counter"
        # data announced but never sent: the peer hangs up, we say so and close
        c.send(b"READDATA s.add 100\r\n1 2")
        c.sock.shutdown(socket.SHUT_WR)
        assert c.reply() == [b"500 Not enough data\r\n"]
        assert c.sock.recv(10) == b""
    run_conversation(BASE, talk)


def test_unix_socket_is_private_and_removed(tmp_path):
    path = str(tmp_path / "ctl.sock")
    cfg = BASE + f"u :: ControlSocket(UNIX, {path});"
    seen = {}

    def client(live):
        seen["mode"] = stat.S_IMODE(os.stat(path).st_mode)
        with ControlClient.connect(path) as c:
            seen["count"] = c.read("c.class")
    live, _ = serve(cfg, client)
    live.cleanup()
    assert seen == {"mode": 0o600, "count": "Counter"}
    assert not os.path.exists(path)


def test_unix_socket_path_that_is_not_a_socket_is_an_error(tmp_path):
    path = tmp_path / "file"
    path.write_text("keep me")
    with pytest.raises(ConfigError, match="not a socket"):
        Router.from_string(f"ControlSocket(UNIX, {path});")
    assert path.read_text() == "keep me"


def test_tcp_listens_on_loopback_unless_an_address_is_given():
    r = Router.from_string("a :: ControlSocket(TCP, 0); b :: ControlSocket(TCP, 0, LOCALHOST false);"
                           "d :: ControlSocket(TCP, 0, ADDRESS 127.0.0.2);")
    try:
        assert r.element("a").listener.getsockname()[0] == "127.0.0.1"
        assert r.element("b").listener.getsockname()[0] == "0.0.0.0"
        assert r.element("d").listener.getsockname()[0] == "127.0.0.2"
    finally:
        r.cleanup()


def test_bad_configurations_are_clear_errors():
    for cfg, msg in [("ControlSocket(FOO, 1);", "unknown socket type"),
                     ("ControlSocket(TCP, 70000);", "PORT requires TCP port"),
                     ("ControlSocket(TCP, 1, PROXY x);", "PROXY is not supported"),
                     ("ControlSocket(SOCKET, 987);", "Bad file descriptor"),
                     ("ControlSocket(DEVICE, /nonexistent/dev);", "No such file")]:
        with pytest.raises(ConfigError, match=msg):
            Router.from_string(cfg)


def test_port_in_use_fails_or_scans():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError, match="Address already in use"):
            Router.from_string(f"ControlSocket(TCP, {port});")
        r = Router.from_string(f"c :: ControlSocket(TCP, {port}+);")     # Click's "N+": the next free port
        try:
            assert int(r.handler("c.port")) > port
        finally:
            r.cleanup()


def test_retries_open_the_socket_once_it_is_free():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    r = Router.from_string(f"c :: ControlSocket(TCP, {port}, RETRIES 5, RETRY_WARNINGS false); Script(wait 1.6s, stop);")
    try:
        assert r.element("c").listener is None           # not yet, but no error either
        t = r.element("c").add_timer(holder.close)
        t.schedule_after(300_000_000)
        r.run(timeout=10)
        assert r.element("c").listener is not None
        assert r.element("c").listener.getsockname()[1] == port
    finally:
        r.cleanup()
        holder.close()


def test_ipv6_address():
    r = Router.from_string("c :: ControlSocket(TCP, 0, ADDRESS ::1);")
    try:
        assert r.element("c").listener.getsockname()[0] == "::1"
    finally:
        r.cleanup()
    with pytest.raises(ConfigError, match="expected an IPv4 or IPv6 address"):
        Router.from_string("c :: ControlSocket(TCP, 0, ADDRESS nowhere);")


def test_descriptor_and_device_transports():
    """SOCKET FD serves an already-open stream; DEVICE a character device
    (here a pseudo-terminal, as a virtio-serial port would be)."""
    ours, theirs = socket.socketpair()
    master, slave = os.openpty()
    device = os.ttyname(slave)
    cfg = BASE + f"fd :: ControlSocket(SOCKET, {theirs.fileno()}); dev :: ControlSocket(DEVICE, {device});"
    got = {}

    def client(live):
        f = ours.makefile("rwb", buffering=0)
        got["fd_greeting"] = f.readline()
        ours.sendall(b"READ c.class\r\n")
        got["fd_reply"] = f.readline() + f.readline() + recv_exactly(ours, 7)
        buf = b""
        os.write(master, b"READ q.capacity\r\n")
        deadline = time.monotonic() + 5
        while buf.count(b"\r\n") < 3 and time.monotonic() < deadline:
            buf += os.read(master, 4096)
        got["dev"] = buf
    live, _ = serve(cfg, client)
    live.cleanup()
    theirs.detach()          # the element owned and closed that descriptor
    ours.close()
    os.close(master)
    os.close(slave)
    assert got["fd_greeting"] == b"Click::ControlSocket/1.3\r\n"
    assert got["fd_reply"] == b"200 Read handler 'c.class' OK\r\nDATA 7\r\nCounter"
    assert got["dev"].startswith(b"Click::ControlSocket/1.3\r\n200 Read handler 'q.capacity' OK\r\nDATA 2\r\n10")


def test_many_clients_at_once_while_forwarding():
    cfg = """cs :: ControlSocket(TCP, 0);
             src :: InfiniteSource(LENGTH 60, BURST 32, LIMIT -1) -> q :: Queue(256) -> Unqueue(BURST 32) -> c :: Counter -> Discard;"""
    nclients, nreads = 40, 25

    def client(live):
        port = live.router.element("cs").bound_port
        errors = []
        counts = []

        def one(k):
            try:
                with ControlClient.connect(str(port)) as cl:
                    last = -1
                    for i in range(nreads):
                        n = int(cl.read("c.count"))
                        assert n >= last
                        last = n
                        assert cl.read("q.capacity") == "256"
                    counts.append(last)
            except Exception as e:        # collected and reported below
                errors.append(repr(e))
        threads = [threading.Thread(target=one, args=(k,)) for k in range(nclients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return errors, counts
    live, (errors, counts) = serve(cfg, client, timeout=60)
    final = int(live.router.handler("c.count"))
    live.cleanup()
    assert errors == []
    assert len(counts) == nclients
    assert final > max(counts) > 0          # packets kept flowing throughout


HOSTILE = """cs :: ControlSocket(TCP, 0, CLIENT_TIMEOUT 0.5);
             src :: InfiniteSource(LENGTH 60, BURST 32, LIMIT -1) -> q :: Queue(256) -> Unqueue(BURST 32) -> c :: Counter -> Discard;
             s :: Script(TYPE PASSIVE);"""


def _count(port: int) -> int:
    with ControlClient.connect(str(port)) as cl:
        return int(cl.read("c.count"))


def test_hostile_huge_line_binary_junk_and_huge_data():
    def client(live):
        port = live.router.element("cs").bound_port
        out = {}
        before = _count(port)
        # a line that never ends
        s = connect_tcp(port)
        s.sendall(b"READ " + b"x" * 200_000)
        out["huge"] = recv_until_closed(s)
        s.close()
        # binary junk: every line gets an error, the connection survives
        s = connect_tcp(port)
        junk = bytes(range(256)) * 4 + b"\r\n\x00\xff\xfe garbage\r\nREAD c.class\r\n"
        s.sendall(junk)
        s.sendall(b"QUIT\r\n")
        out["junk"] = recv_until_closed(s)
        s.close()
        # an absurd data length
        s = connect_tcp(port)
        s.sendall(b"WRITEDATA c.reset 99999999999\r\n")
        out["bigdata"] = recv_until_closed(s)
        s.close()
        out["after"] = _count(port)
        out["before"] = before
        return out
    live, out = serve(HOSTILE, client)
    live.cleanup()
    assert out["huge"].startswith(b"Click::ControlSocket/1.3\r\n500 Line too long")
    assert b"501 Command '" in out["junk"]
    assert b"200 Read handler 'c.class' OK\r\nDATA 7\r\nCounter" in out["junk"]
    assert out["junk"].endswith(b"200 Goodbye!\r\n")
    assert b"521 Data too large" in out["bigdata"]
    assert out["after"] > out["before"]        # the router forwarded throughout


def test_hostile_slow_reader_is_dropped_and_others_are_served():
    def client(live):
        port = live.router.element("cs").bound_port
        out = {}
        slow = connect_tcp(port)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        payload = b"a" * 1_000_000
        # each command asks for a 1 MB reply; the client never reads
        request = b"READDATA s.unquote %d\r\n" % len(payload) + payload
        slow.settimeout(5)
        sent = 0
        try:
            for _ in range(20):
                slow.sendall(request)
                sent += 1
        except (socket.timeout, OSError):
            pass                                # the server stopped reading us: good
        out["sent"] = sent
        # others are served meanwhile, and packets flow
        c1 = _count(port)
        time.sleep(0.1)
        out["flowing"] = _count(port) > c1
        # after CLIENT_TIMEOUT without progress, the server hangs up
        def dropped():
            with ControlClient.connect(str(port)) as cl:
                return cl.read("cs.connections") == "1"     # just this one
        out["dropped"] = wait_for(dropped, timeout=10, interval=0.2)
        slow.close()
        return out
    live, out = serve(HOSTILE, client)
    live.cleanup()
    assert out["sent"] < 20          # the server applied backpressure
    assert out["flowing"]
    assert out["dropped"]


def test_client_vanishing_mid_command_is_harmless():
    def client(live):
        port = live.router.element("cs").bound_port
        for data in (b"READDATA s.add 50\r\n1 2", b"READUNTIL s.add END\r\n1\r\n", b"READ c.co"):
            s = connect_tcp(port)
            s.sendall(data)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()                    # RST
        time.sleep(0.2)
        with ControlClient.connect(str(port)) as cl:
            return cl.read("cs.connections"), int(cl.read("c.count"))
    live, (conns, count) = serve(HOSTILE, client)
    live.cleanup()
    assert conns == "1" and count > 0


def test_client_library_errors():
    def client(live):
        port = live.router.element("cs").bound_port
        with ControlClient.connect(str(port)) as cl:
            assert cl.version == "1.3"
            with pytest.raises(ControlError) as e:
                cl.read("nosuch.x")
            assert e.value.code == 510
            assert cl.check("c.count") and not cl.check("c.count", write=True)
            names = dict(cl.handlers())
            assert names["c.count"] == "r" and names["c.reset"] == "w" and names["stop"] == "w"
    live, _ = serve(BASE, client)
    live.cleanup()
