"""The `clickpy` command: run, check, flatten and draw Click configurations.

    clickpy run [FILE | -f FILE | -e EXPR] [NAME=VALUE ...] [OPTIONS]
    clickpy check [FILE | -e EXPR] [NAME=VALUE ...]
    clickpy flatten [FILE | -e EXPR] [NAME=VALUE ...] [-o OUT]
    clickpy elements [CLASS]
    clickpy viz [FILE | -e EXPR] [-o graph.svg|graph.dot]

`run` takes the options of Click's `click` program and prints handler values
in its format, so a Click user's scripts keep working (`clickpy FILE ...`
without a subcommand means `clickpy run FILE ...`).  Errors are printed as
`file:line:col: message` with the source line and a caret, and the exit
status is 1; a Python traceback is never shown.

Start-up time is part of the interface (C Click starts in milliseconds): the
`run` path imports only what it needs, with no heavy standard module (typing,
re, enum, inspect, ...); tests/test_cli.py checks the list and
bench/bench_startup.py measures the time.  Imports used only by errors,
`viz`, `flatten` or `elements` stay inside the functions that need them.
"""
from __future__ import annotations

import gc
import os
import sys

PROG = "clickpy"

USAGE = """\
Usage: clickpy COMMAND [OPTION]... [ROUTERFILE] [NAME=VALUE]...

Commands:
  run        Run a router configuration (the default command).
  check      Parse, instantiate, configure and check a configuration (no device
             is opened); exit status says.
  flatten    Print the configuration as a flat Click configuration.
  elements   List the element classes, or print one class's documentation.
  viz        Draw the configuration's graph (Graphviz .dot or .svg).
  testbed    Make (up) or remove (down) namespaces A - R - B to try a router in.
  handler    Read or write handlers of a running router (its ControlSocket).
  top        Live view of a running router's counters and rates.
  appliance  Build a bootable VM image for a configuration, or boot one
             (`clickpy appliance build CONFIG -o DIR`, `... run DIR --nic TAP`).

Options for run, check, flatten and viz:
  -f, --file FILE               Read router configuration from FILE.
  -e, --expression EXPR         Use EXPR as router configuration.
  NAME=VALUE                    Define configuration parameter $NAME.
  -C, --clickpath PATH          Search PATH (colon-separated) for libraries.
  -w, --no-warnings             Do not print warnings.
Options for run:
  -h, --handler ELEMENT.H       Print ELEMENT's read handler H after running.
  -x, --exit-handler ELEMENT.H  Use handler ELEMENT.H's value as exit status.
  -o, --output FILE             Write flat configuration to FILE.
  -q, --quit                    Initialize, then quit without running.
  -t, --time                    Print how long the driver ran.
  -p, --port [ADDR:]PORT        Listen for control connections on TCP port
                                (on 127.0.0.1 unless ADDR is given).
  -u, --unix-socket FILE        Listen for control connections on Unix socket.
  -a, --allow-reconfigure       Provide a writable 'hotconfig' handler.
      --metrics [ADDR:]PORT     Serve every numeric handler to Prometheus.
      --user NAME               Drop root privileges to NAME once initialized.
      --log-level LEVEL         debug, info, warning (default) or error.
  -j, --threads N               Run N worker processes (devices shared by
                                PACKET_FANOUT; handlers summed, or ELEM.H#I
                                for worker I, ELEM.H#* for each worker).
      --pool N                  Use a pool of N packet buffers (also for check).
      --help                    Print this message and exit.
  -v, --version                 Print version number and exit.
"""

VERSION = "0.1"


# Exit statuses of `clickpy run`: what failed.
EXIT_OK = 0
EXIT_CONFIG = 1          # the configuration did not parse, check or initialize
EXIT_USAGE = 2           # bad command line (handler, top)
EXIT_PRIVILEGES = 3      # --user could not drop privileges
EXIT_INTERNAL = 70       # a bug in clickpy (EX_SOFTWARE)


class _Fail(Exception):
    """A user-facing error: print the message and exit 1."""


class _Exit(Exception):
    """A user-facing error with its own exit status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# Set by main() when the command has the process to itself: start-up creates many
# long-lived objects (modules, classes, the graph, the router) and little garbage,
# so the cyclic GC stays off until the router is ready (_router_ready), which saves
# a tenth of the start-up time and, with gc.freeze(), most of the exit time.
_gc_deferred = False
_process_is_ours = False     # main() runs as the `clickpy` command, not inside another program


def _router_ready() -> None:
    global _gc_deferred
    if _gc_deferred:
        _gc_deferred = False
        gc.freeze()
        gc.enable()


def _block_stop_signals() -> set:
    """Keep SIGINT/SIGTERM/SIGHUP pending instead of delivered: one arriving
    after the router has stopped, while it cleans up and reports, must not kill
    it half-way (a pending one is dropped at exit). Returns the previous mask."""
    import _signal
    return _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})


def _unblock_stop_signals(previous: set) -> None:
    """Undo _block_stop_signals when the command runs inside another program
    (main(argv)), whose signals they are; a `clickpy` process keeps them
    blocked until it exits."""
    if not _process_is_ours:
        import _signal
        _signal.pthread_sigmask(_signal.SIG_SETMASK, previous)


def _write(stream, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.write(text.encode(getattr(stream, "encoding", None) or "utf-8",
                                 "backslashreplace").decode(getattr(stream, "encoding", None)
                                                            or "utf-8", "replace"))


def _eprint(text: str) -> None:
    _write(sys.stderr, text if text.endswith("\n") else text + "\n")


def _print_diagnostics(diags, warnings: bool = True) -> None:
    from clickpy.lang.graph import NOWHERE
    for d in diags:
        if d.severity != "error" and not warnings:
            continue
        if d.location == NOWHERE:   # no source position: say who is talking instead
            _eprint(f"{PROG}: {'' if d.severity == 'error' else 'warning: '}{d.message}")
        else:
            _eprint(d.format())


# ---------------------------------------------------------------------------
# Option parsing (Click's Clp conventions: -xVALUE, -x VALUE, --long=VALUE, --long VALUE)

# option name -> (key, takes a value, repeatable)
_COMMON = {
    "f": ("file", True, False), "file": ("file", True, False),
    "e": ("expr", True, False), "expression": ("expr", True, False),
    "C": ("clickpath", True, True), "clickpath": ("clickpath", True, True),
    "w": ("nowarn", False, False), "no-warnings": ("nowarn", False, False),
    "warnings": ("warn", False, False),
    "help": ("help", False, False),
}
_RUN = dict(_COMMON, **{
    "h": ("handler", True, True), "handler": ("handler", True, True),
    "x": ("exit_handler", True, False), "exit-handler": ("exit_handler", True, False),
    "o": ("output", True, False), "output": ("output", True, False),
    "q": ("quit", False, False), "quit": ("quit", False, False),
    "t": ("time", False, False), "time": ("time", False, False),
    "p": ("port", True, True), "port": ("port", True, True),
    "u": ("unix", True, True), "unix-socket": ("unix", True, True),
    "j": ("threads", True, False), "threads": ("threads", True, False),
    "v": ("version", False, False), "version": ("version", False, False),
    "a": ("allow", False, False), "allow-reconfigure": ("allow", False, False),
    "metrics": ("metrics", True, False), "user": ("user", True, False),
    "log-level": ("log_level", True, False),
    "pool": ("pool", True, False),
})
_CHECK = dict(_COMMON, pool=("pool", True, False))
_FLATTEN = dict(_COMMON, **{"o": ("output", True, False), "output": ("output", True, False)})


def _long_option(name: str, spec: dict, arg: str) -> str:
    """The long option `name` means: itself, or as in click(1) (Clp) the one option
    it is an unambiguous prefix of (`--expr` for `--expression`)."""
    if len(name) > 1 and name in spec:
        return name
    matches = sorted(k for k in spec if len(k) > 1 and name and k.startswith(name))
    if len({spec[k][0] for k in matches}) == 1:
        return matches[0]
    if matches:
        raise _Fail(f"option '{arg}' is ambiguous ({', '.join('--' + k for k in matches)})")
    raise _Fail(f"unrecognized option '{arg}'")


def _parse_options(argv: list[str], spec: dict) -> tuple[dict, list[str]]:
    opts: dict = {}
    pos: list[str] = []

    def put(name: str, value) -> None:
        key, _, repeat = spec[name]
        if repeat:
            opts.setdefault(key, []).append(value)
        elif key in opts and value is not True:
            raise _Fail(f"option '{'-' if len(name) == 1 else '--'}{name}' given twice")
        else:
            opts[key] = value

    i = 0
    n = len(argv)
    while i < n:
        a = argv[i]
        i += 1
        if a == "--":
            pos.extend(argv[i:])
            break
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            name = _long_option(name, spec, a)
            if spec[name][1]:
                if not eq:
                    if i >= n:
                        raise _Fail(f"option '--{name}' requires an argument")
                    value = argv[i]
                    i += 1
                put(name, value)
            elif eq:
                raise _Fail(f"option '--{name}' takes no argument")
            else:
                put(name, True)
        elif a.startswith("-") and a != "-":
            j = 1
            while j < len(a):
                ch = a[j]
                j += 1
                if ch not in spec:
                    raise _Fail(f"unrecognized option '-{ch}'")
                if spec[ch][1]:
                    value = a[j:]
                    if not value:
                        if i >= n:
                            raise _Fail(f"option '-{ch}' requires an argument")
                        value = argv[i]
                        i += 1
                    put(ch, value)
                    break
                put(ch, True)
        else:
            pos.append(a)
    return opts, pos


def _is_definition(arg: str) -> bool:
    eq = arg.find("=")
    return eq > 0 and all(c.isascii() and (c.isalnum() or c == "_") for c in arg[:eq])


def _config_source(opts: dict, pos: list[str]) -> tuple[str | None, bool, dict[str, str]]:
    """(router file or expression, is it an expression, NAME=VALUE definitions)."""
    source = None
    is_expr = False
    if "file" in opts:
        source = opts["file"]
    if "expr" in opts:
        if source is not None:
            raise _Fail("router configuration specified twice")
        source, is_expr = opts["expr"], True
    defines: dict[str, str] = {}
    for a in pos:
        if _is_definition(a):
            name, _, value = a.partition("=")
            if name in defines:
                raise _Fail(f"parameter '{name}' multiply defined")
            defines[name] = value
        elif source is not None:
            raise _Fail("router configuration specified twice")
        else:
            source = a
    return source, is_expr, defines


def _load(opts: dict, pos: list[str]):
    """Parse the configuration named by the options; return (graph, source name, text)."""
    from clickpy.lang import parse_config
    source, is_expr, defines = _config_source(opts, pos)
    search = []
    for p in opts.get("clickpath", []):
        search.extend(d for d in p.split(":") if d)
    if is_expr:
        text, name = source, "<expr>"
    elif source is None or source == "-":
        text, name = sys.stdin.buffer.read().decode("utf-8", "surrogateescape"), "<stdin>"
    else:
        try:
            with open(source, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
        except OSError as e:
            raise _Fail(f"{source}: {e.strerror or e}") from None
        name = source
    graph = parse_config(text, name, defines=defines, search_path=search)
    return graph, name, text


def _warnings_on(opts: dict) -> bool:
    return not opts.get("nowarn") or bool(opts.get("warn"))


MAX_POOL = 1 << 31     # 4 TiB of 2 KiB buffers: beyond any machine, within PacketPool's range


def _pool_size(opts: dict) -> int | None:
    value = opts.get("pool")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) < 12 and 0 < int(value) <= MAX_POOL):
        raise _Fail(f"'--pool' expects a number of buffers from 1 to {MAX_POOL}, not '{value}'")
    return int(value)


def _threads(opts: dict) -> int:
    value = opts.get("threads", "1")
    if not (value.isascii() and value.isdigit() and len(value) < 12):
        raise _Fail(f"'--threads' expects a number, not '{value}'")
    return max(int(value), 1)


def _make_router(graph, text: str, opts: dict, initialize: bool = True):
    """The router for a parsed graph (configured and initialized, unless not
    `initialize`: `check` opens no device, as click-check), as the options say."""
    from clickpy.router import Router
    kwargs = {"warnings": _warnings_on(opts), "config_text": text, "pool_size": _pool_size(opts)}
    if not initialize:
        kwargs["initialize"] = False
    threads = _threads(opts)
    if threads > 1 and initialize:
        from clickpy.workers import WorkerGroup
        try:
            return WorkerGroup(graph, threads, **kwargs)
        except MemoryError:
            raise _Fail("not enough memory for the packet pool") from None
    try:
        return Router.from_graph(graph, **kwargs)
    except MemoryError:
        raise _Fail("not enough memory for the packet pool"
                    + (" (see --pool)" if kwargs["pool_size"] else "")) from None


# ---------------------------------------------------------------------------
# Handlers, as click(1) prints them


def _read_value(router, full: str, names: set[str]) -> str | None:
    """The value of read handler `full`, or None after printing why there is none."""
    if full not in names:
        _eprint(f"{PROG}: no '{full}' handler")
        return None
    try:
        value = router.handler(full)
    except Exception as e:     # write-only, or the read itself failed
        _eprint(f"{PROG}: {e}")
        return None
    return "" if value is None else str(value)


def _read_handler(router, full: str, names: set[str], print_name: bool, out) -> bool:
    value = _read_value(router, full, names)
    if value is None:
        return False
    if print_name:
        out.write(f"{full}:\n")
    if value and not value.endswith("\n"):
        value += "\n"
    _write(out, value)
    if print_name:
        out.write("\n")
    return True


def call_read_handlers(router, graph, handlers: list[str], out=None) -> bool:
    """Print each handler's value as click(1) does: just the value for a single
    handler, `name:\\nvalue\\n` blocks when there are several.  An element part
    may be a glob pattern or a class name."""
    out = out or sys.stdout
    print_names = len(handlers) > 1
    names = set(router.handler_names())
    ok = True
    for h in handlers:
        ename, dot, hname = h.partition(".")
        if not dot or router.element(ename) is not None:
            ok &= _read_handler(router, h, names, print_names, out)
            continue
        is_pattern = any(c in ename for c in "?*[")
        if is_pattern:
            from fnmatch import fnmatchcase
        matched = [e.name for e in graph.elements
                   if (fnmatchcase(e.name, ename) if is_pattern else e.class_name == ename)]
        if not matched:
            _eprint(f"{PROG}: no element {'matching ' if is_pattern else ''}'{ename}'")
            ok = False
            continue
        for e in matched:       # as click(1): elements without the read handler are skipped
            if router.element(e).has_read_handler(hname):
                ok &= _read_handler(router, f"{e}.{hname}", names, True, out)
    return ok


def _exit_value(router, handler: str) -> int:
    """The exit status -x HANDLER gives: its integer or boolean value (true: 0), as
    click(1) does; 255 when it cannot be read or is neither."""
    from clickpy.lang.strings import parse_click_int, uncomment
    value = _read_value(router, handler, set(router.handler_names()))
    if value is None:
        return 255
    text = uncomment(value)
    v = parse_click_int(text, True)
    if v is not None:
        return v & 0xFF
    b = {"true": 0, "yes": 0, "1": 0, "t": 0, "y": 0,
         "false": 1, "no": 1, "0": 1, "f": 1, "n": 1}.get(text)
    if b is not None:
        return b
    _eprint(f"{PROG}: exit handler value should be integer")
    return 255


# ---------------------------------------------------------------------------
# Subcommands


def _control_sockets(graph, opts: dict) -> None:
    from clickpy.lang.graph import ElementDecl, Location
    from clickpy.lang.strings import is_word, quote
    loc = Location("<command line>")
    n = 0
    for port in opts.get("port", []):
        address, port_text = _address_port(port, "--port", allow_plus=True)
        name = "click_driver@@ControlSocket" + (f"@{n}" if n else "")
        config = f"TCP, {port_text}" + (f", ADDRESS {address}" if address else "")
        graph.elements.append(ElementDecl(name, "ControlSocket", config, loc))
        n += 1
    for path in opts.get("unix", []):
        name = "click_driver@@ControlSocket" + (f"@{n}" if n else "")
        graph.elements.append(ElementDecl(name, "ControlSocket",
                                          f"UNIX, {path if is_word(path) else quote(path)}", loc))
        n += 1


def _address_port(text: str, option: str, allow_plus: bool = False) -> tuple[str, str]:
    """'PORT' or 'ADDR:PORT' ('[v6]:PORT') -> (address or '', port text)."""
    address, colon, port = text.rpartition(":")
    if not colon:
        address, port = "", text
    address = address.strip("[]")
    p = port[:-1] if allow_plus and port.endswith("+") else port
    if not (p.isascii() and p.isdigit() and len(p) < 6 and 0 < int(p) < 65536):
        raise _Fail(f"'{option}' expects a TCP port number or ADDR:PORT, not '{text}'")
    return address, port


def _drop_privileges(user: str) -> None:
    """Become `user` (and its groups) once devices and sockets are open."""
    import pwd
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise _Exit(EXIT_PRIVILEGES, f"--user: no user named '{user}'") from None
    try:
        os.setgroups(os.getgrouplist(pw.pw_name, pw.pw_gid))
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    except OSError as e:
        raise _Exit(EXIT_PRIVILEGES, f"--user {user}: {e.strerror}") from None


class Log:
    """Leveled messages on stderr. Under systemd (JOURNAL_STREAM set) each
    line starts with its syslog priority as <N>, which journald reads."""

    LEVELS = {"debug": 7, "info": 6, "warning": 4, "error": 3}

    def __init__(self, level_name: str | None) -> None:
        name = (level_name or "warning").lower()
        if name not in self.LEVELS:
            raise _Fail(f"'--log-level' expects debug, info, warning or error, not '{level_name}'")
        self.threshold = self.LEVELS[name]
        self.journal = bool(os.environ.get("JOURNAL_STREAM"))

    def log(self, level: str, message: str) -> None:
        priority = self.LEVELS[level]
        if priority > self.threshold:
            return
        if self.journal:
            text = "".join(f"<{priority}>{line}\n" for line in message.splitlines())
        else:
            text = f"{PROG}: {level}: {message}\n"
        _write(sys.stderr, text)
        sys.stderr.flush()

    def warning(self, message: str) -> None:
        self.log("warning", message)


def _write_output(path: str, text: str) -> None:
    if path == "-":
        _write(sys.stdout, text)
        return
    try:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
    except OSError as e:
        raise _Fail(f"{path}: {e.strerror or e}") from None


def cmd_run(argv: list[str]) -> int:
    opts, pos = _parse_options(argv, _RUN)
    if opts.get("help"):
        _write(sys.stdout, USAGE)
        return 0
    if opts.get("version"):
        _write(sys.stdout, f"clickpy {VERSION}\n")
        return 0
    warnings = _warnings_on(opts)
    log = Log(opts.get("log_level"))
    metrics_at = _address_port(opts["metrics"], "--metrics") if "metrics" in opts else None
    graph, name, text = _load(opts, pos)
    _print_diagnostics(graph.warnings, warnings)
    if "output" in opts:
        from clickpy.lang import unparse
        flat = unparse(graph)
    workers = _threads(opts) > 1
    if workers:
        alone = [flag for key, flag in (("port", "-p"), ("unix", "-u"), ("allow", "-a"),
                                        ("metrics", "--metrics"), ("user", "--user")) if opts.get(key)]
        if alone:
            raise _Fail(f"{', '.join(alone)}: not available with -j (the workers are separate routers)")
    _control_sockets(graph, opts)
    router = _make_router(graph, text, opts)
    live = None
    if not opts.get("quit") and not workers:
        from clickpy.hotswap import LiveRouter
        source, is_expr, defines = _config_source(opts, pos)
        live = LiveRouter(router, config_file=None if is_expr or source in (None, "-") else source,
                          allow_hotconfig=bool(opts.get("allow")), defines=defines,
                          search_path=[d for p in opts.get("clickpath", []) for d in p.split(":") if d],
                          log=log.warning, graph_hook=lambda g: _control_sockets(g, opts))
    _router_ready()
    # From here on SIGINT/SIGTERM/SIGHUP only reach the driver's signalfd (or,
    # with -j, the handlers that forward them to the workers, unblocked while
    # they run); threads started from now on (the metrics server) inherit the
    # mask, so they cannot take a signal meant for the driver.
    previous_mask = _block_stop_signals()
    metrics = None
    status = 0
    try:
        if metrics_at is not None:
            from clickpy.metrics import MetricsServer
            try:
                metrics = MetricsServer(lambda: live.router if live else router,
                                        metrics_at[0] or "127.0.0.1", int(metrics_at[1]))
            except ImportError:
                raise _Exit(EXIT_CONFIG, "--metrics needs the prometheus-client package") from None
            except OSError as e:
                raise _Exit(EXIT_CONFIG, f"--metrics {opts['metrics']}: {e.strerror or e}") from None
            metrics.install(router)
            if live is not None:
                live.on_install.append(metrics.install)
        if "user" in opts:
            _drop_privileges(opts["user"])
        if "output" in opts:
            _write_output(opts["output"], flat)
        timing = opts.get("time")
        if timing:
            import resource
            import time
            before = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.monotonic()
        if not opts.get("quit"):
            if graph.elements and live is None:
                router.run()                  # the workers
            elif graph.elements:
                live.run()
                router = live.router          # the configuration running last
                graph = router.graph
            elif warnings:
                _eprint(f"{PROG}: warning: {name}: configuration has no elements, exiting")
        if timing:
            wall = time.monotonic() - t0
            after = resource.getrusage(resource.RUSAGE_SELF)
            _write(sys.stdout, "%.3fu %.3fs %d:%05.2f\n" % (
                after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
                int(wall // 60), wall % 60))
        if opts.get("handler"):
            if not call_read_handlers(router, graph, opts["handler"]):
                status = 1
        if "exit_handler" in opts:
            status = _exit_value(router, opts["exit_handler"])
        sys.stdout.flush()
    finally:
        try:
            if metrics is not None:
                metrics.close()
            (live or router).cleanup()
        except Exception as e:  # cleanup problems must not hide the run's result
            _eprint(f"{PROG}: warning: cleanup failed: {e}")
        _unblock_stop_signals(previous_mask)
    return status


def cmd_check(argv: list[str]) -> int:
    opts, pos = _parse_options(argv, _CHECK)
    if opts.get("help"):
        _write(sys.stdout, USAGE)
        return 0
    graph, _, text = _load(opts, pos)
    _print_diagnostics(graph.warnings, _warnings_on(opts))
    router = _make_router(graph, text, opts, initialize=False)
    _router_ready()
    router.cleanup()
    return 0


def cmd_flatten(argv: list[str]) -> int:
    opts, pos = _parse_options(argv, _FLATTEN)
    if opts.get("help"):
        _write(sys.stdout, USAGE)
        return 0
    graph, _, _ = _load(opts, pos)
    _print_diagnostics(graph.warnings, _warnings_on(opts))
    from clickpy.lang import unparse
    _write_output(opts.get("output", "-"), unparse(graph))
    return 0


def cmd_elements(argv: list[str]) -> int:
    opts, pos = _parse_options(argv, {"help": ("help", False, False)})
    if opts.get("help"):
        _write(sys.stdout, "Usage: clickpy elements [CLASS]\n")
        return 0
    from clickpy import registry
    names = registry.class_names()
    if not pos:
        _write(sys.stdout, "".join(n + "\n" for n in names))
        return 0
    status = 0
    for cls in pos:
        if not registry.has_class(cls):
            s = registry.suggest(cls)
            _eprint(f"{PROG}: no element class '{cls}'" + (f" (did you mean '{s}'?)" if s else ""))
            status = 1
            continue
        doc = registry.doc(cls) or f"{cls}: no documentation"
        _write(sys.stdout, doc if doc.endswith("\n") else doc + "\n")
    return status


def _dot_escape(s: str) -> str:
    out = []
    for ch in s:
        if ch in '\\{}|<>"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        else:
            out.append(ch)
    return "".join(out)


def graph_to_dot(graph) -> str:
    """Graphviz text for a flat graph: one record node per element, with ports."""
    nin: dict[str, int] = {}
    nout: dict[str, int] = {}
    for c in graph.connections:
        nout[c.from_elem] = max(nout.get(c.from_elem, 0), c.from_port + 1)
        nin[c.to_elem] = max(nin.get(c.to_elem, 0), c.to_port + 1)
    lines = ["digraph clickpy {",
             '  node [shape=record, fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for e in graph.elements:
        parts = []
        ni, no = nin.get(e.name, 0), nout.get(e.name, 0)
        if ni:
            parts.append("{" + "|".join(f"<i{k}> {k}" for k in range(ni)) + "}")
        parts.append(_dot_escape(e.name) + "\\n:: " + _dot_escape(e.class_name))
        if no:
            parts.append("{" + "|".join(f"<o{k}> {k}" for k in range(no)) + "}")
        label = "{" + "|".join(parts) + "}"
        tooltip = e.config.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
        lines.append(f'  "{_dot_id(e.name)}" [label="{label}", tooltip="{tooltip}"];')
    for c in graph.connections:
        lines.append(f'  "{_dot_id(c.from_elem)}":o{c.from_port} -> '
                     f'"{_dot_id(c.to_elem)}":i{c.to_port};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_id(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def cmd_viz(argv: list[str]) -> int:
    opts, pos = _parse_options(argv, _FLATTEN)
    if opts.get("help"):
        _write(sys.stdout, "Usage: clickpy viz [FILE | -e EXPR] [-o graph.svg|graph.dot]\n")
        return 0
    graph, _, _ = _load(opts, pos)
    _print_diagnostics(graph.warnings, _warnings_on(opts))
    dot = graph_to_dot(graph)
    out = opts.get("output", "-")
    ext = os.path.splitext(out)[1].lower()
    if out == "-" or ext in ("", ".dot", ".gv"):
        _write_output(out, dot)
        return 0
    import shutil
    import subprocess
    exe = shutil.which("dot")
    if exe is None:
        base = os.path.splitext(out)[0] + ".dot"
        _write_output(base, dot)
        raise _Fail(f"Graphviz 'dot' not found; wrote {base} instead of {out}")
    try:
        r = subprocess.run([exe, "-T" + ext[1:], "-o", out], input=dot.encode("utf-8",
                           "surrogateescape"), capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        raise _Fail(f"dot: {e}") from None
    if r.returncode != 0:
        raise _Fail(f"dot: {r.stderr.decode('utf-8', 'replace').strip() or 'failed'}")
    return 0


def cmd_testbed(argv: list[str]) -> int:
    from clickpy import testbed
    return testbed.cli(argv)


COMMANDS = {"run": cmd_run, "check": cmd_check, "flatten": cmd_flatten,
            "elements": cmd_elements, "viz": cmd_viz, "testbed": cmd_testbed}


def _main(argv: list[str]) -> int:
    if not argv:
        _write(sys.stderr, USAGE)
        return 1
    cmd = argv[0]
    if cmd in ("--help", "help"):
        _write(sys.stdout, USAGE)
        return 0
    if cmd in ("--version", "-v"):
        _write(sys.stdout, f"clickpy {VERSION}\n")
        return 0
    if cmd in ("handler", "top"):
        from clickpy import ctlcli
        try:
            return (ctlcli.cmd_handler if cmd == "handler" else ctlcli.cmd_top)(argv[1:])
        except ctlcli.UsageError as e:
            _eprint(f"{PROG} {cmd}: {e}")
            return EXIT_USAGE
    if cmd == "appliance":
        from clickpy.appliance.cli import main as appliance_main
        return appliance_main(argv[1:])
    func = COMMANDS.get(cmd)
    if func is None:
        return cmd_run(argv)          # `clickpy FILE ...` as `click FILE ...`
    return func(argv[1:])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `clickpy` console script; returns the exit status.

    Without `argv` (the console script, `python -m clickpy`) the process is the
    command's own, and main() also tunes the garbage collector for start-up."""
    global _gc_deferred, _process_is_ours
    from clickpy.lang.graph import ConfigError
    if argv is None:
        argv = sys.argv[1:]
        _process_is_ours = True
        if gc.isenabled():
            gc.disable()
            _gc_deferred = True
    try:
        return _main(list(argv))
    except ConfigError as e:
        _print_diagnostics(e.diagnostics)
        return 1
    except _Fail as e:
        _eprint(f"{PROG}: {e}")
        return 1
    except _Exit as e:
        _eprint(f"{PROG}: {e}")
        return e.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except Exception as e:
        _eprint(f"{PROG}: internal error: {type(e).__name__}: {e}")
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
