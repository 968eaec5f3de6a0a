"""`clickpy handler` and `clickpy top`: clients of a running router's ControlSocket.

    clickpy handler [-p [HOST:]PORT | -u PATH] read HANDLER [PARAMS...]
    clickpy handler [-p ... | -u ...] write HANDLER [VALUE...]
    clickpy handler [-p ... | -u ...] check HANDLER | list | send LINE
    clickpy top [-p ... | -u ...] [-d SECONDS] [-n ITERATIONS] [PATTERN...]

They speak Click's ControlSocket protocol only, so they work against Click
routers too. Exit status: 0 success, 1 the router answered with an error
(the reply is printed), 2 bad usage, 4 cannot connect.
"""
from __future__ import annotations

import os
import sys
import time

from clickpy.control import ControlClient, ControlError

EXIT_REPLY_ERROR = 1
EXIT_CONNECT = 4

HANDLER_USAGE = """\
Usage: clickpy handler [-p [HOST:]PORT | -u PATH] COMMAND ...
Commands:
  read HANDLER [PARAMS...]   print a read handler's value
  write HANDLER [VALUE...]   call a write handler ('-' as VALUE: read it from stdin)
  check HANDLER              exit 0 if HANDLER is readable (checkwrite: writable)
  list                       every handler, with r/w flags
  send LINE                  send one raw protocol line and print the reply
The socket defaults to $CLICKPY_CONTROL (a port, HOST:PORT or a Unix socket path).
"""

TOP_USAGE = """\
Usage: clickpy top [-p [HOST:]PORT | -u PATH] [-d SECONDS] [-n ITERATIONS] [PATTERN...]
Shows every element's numeric read handlers and how fast each changes,
refreshed every SECONDS (1). PATTERNs (glob) select elements. -n stops after
ITERATIONS refreshes (for scripts); without a terminal it prints each
refresh one after another.
"""


class UsageError(Exception):
    pass


def _options(argv: list[str], takes: dict[str, str]) -> tuple[dict, list[str]]:
    opts: dict = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest.extend(argv[i + 1:])
            break
        name, eq, value = a.partition("=")
        key = takes.get(name)
        if key is not None and not rest:
            if key == "help":
                opts["help"] = True
                i += 1
                continue
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"option '{name}' requires an argument")
                value = argv[i + 1]
                i += 1
            opts[key] = value
        elif a.startswith("-") and len(a) > 1 and not rest and a not in ("-",):
            raise UsageError(f"unrecognized option '{a}'")
        else:
            rest.append(a)
        i += 1
    return opts, rest


_CONNECT_OPTIONS = {"-p": "port", "--port": "port", "-u": "unix", "--unix-socket": "unix",
                    "--help": "help", "-h": "help"}


def _connect(opts: dict) -> ControlClient:
    where = opts.get("unix") or opts.get("port") or os.environ.get("CLICKPY_CONTROL")
    if not where:
        raise UsageError("say where the router listens: -p PORT or -u PATH (or set CLICKPY_CONTROL)")
    if "unix" in opts and "/" not in where:
        where = "./" + where
    try:
        return ControlClient.connect(where)
    except (OSError, ControlError, ValueError) as e:
        print(f"clickpy: cannot connect to {where}: {getattr(e, 'strerror', None) or e}", file=sys.stderr)
        raise SystemExit(EXIT_CONNECT) from None


def _print_error(e: ControlError) -> None:
    for line in e.lines:
        print(f"clickpy: {e.code} {line}" if e.code else f"clickpy: {line}", file=sys.stderr)


def cmd_handler(argv: list[str]) -> int:
    opts, rest = _options(argv, _CONNECT_OPTIONS)
    if opts.get("help"):
        sys.stdout.write(HANDLER_USAGE)
        return 0
    if not rest:
        raise UsageError("missing command (read, write, check, checkwrite, list, send)")
    command, args = rest[0], rest[1:]
    if command in ("read", "write", "check", "checkwrite") and not args:
        raise UsageError(f"'{command}' needs a handler name")
    if command not in ("read", "write", "check", "checkwrite", "list", "send"):
        raise UsageError(f"unknown command '{command}'")
    try:
        with _connect(opts) as client:
            if command == "read":
                value = client.read(args[0], " ".join(args[1:]))
                sys.stdout.write(value if not value or value.endswith("\n") else value + "\n")
            elif command == "write":
                value = " ".join(args[1:])
                if value == "-":
                    value = sys.stdin.read()
                for line in client.write(args[0], value):
                    if "OK" not in line or "warning" in line:
                        print(line, file=sys.stderr)
            elif command in ("check", "checkwrite"):
                return 0 if client.check(args[0], write=command == "checkwrite") else EXIT_REPLY_ERROR
            elif command == "list":
                for name, flags in client.handlers():
                    print(f"{name}\t{flags}")
            else:
                code, lines = client.command(" ".join(args))
                for i, line in enumerate(lines):
                    print(f"{code}{'-' if i < len(lines) - 1 else ' '}{line}")
                return 0 if code < 300 else EXIT_REPLY_ERROR
    except ControlError as e:
        _print_error(e)
        return EXIT_REPLY_ERROR
    except (ConnectionError, OSError) as e:
        print(f"clickpy: connection lost: {e}", file=sys.stderr)
        return EXIT_CONNECT
    return 0


# ---------------------------------------------------------------------- top
_SKIP = {"name", "class", "config", "ports", "handlers"}


def snapshot(client: ControlClient, patterns: list[str]) -> dict[tuple[str, str, str], float]:
    """{(element, class, handler): value} for every numeric read handler."""
    from fnmatch import fnmatchcase
    values = {}
    for ename in client.read("list").splitlines()[1:]:
        if patterns and not any(fnmatchcase(ename, p) for p in patterns):
            continue
        cls = client.read(f"{ename}.class")
        for line in client.read(f"{ename}.handlers").splitlines():
            hname, _, flags = line.partition("\t")
            if "r" not in flags or hname in _SKIP:
                continue
            try:
                text = client.read(f"{ename}.{hname}").strip()
            except ControlError:
                continue          # e.g. a read handler that needs parameters
            try:
                values[(ename, cls, hname)] = float(text)
            except ValueError:
                continue
    return values


def render(prev: dict, cur: dict, interval: float, title: str) -> str:
    lines = [title, f"{'ELEMENT':24} {'CLASS':16} {'HANDLER':18} {'VALUE':>16} {'PER SEC':>14}"]
    for key in sorted(cur, key=lambda k: (k[0], k[2])):
        value = cur[key]
        rate = ""
        if key in prev and interval > 0:
            rate = f"{(value - prev[key]) / interval:14.1f}"
        shown = f"{int(value)}" if value == int(value) and abs(value) < 1e18 else f"{value:.6g}"
        lines.append(f"{key[0][:24]:24} {key[1][:16]:16} {key[2][:18]:18} {shown:>16} {rate:>14}")
    return "\n".join(lines) + "\n"


def cmd_top(argv: list[str]) -> int:
    opts, patterns = _options(argv, dict(_CONNECT_OPTIONS, **{"-d": "delay", "--delay": "delay",
                                                              "-n": "iterations", "--iterations": "iterations"}))
    if opts.get("help"):
        sys.stdout.write(TOP_USAGE)
        return 0
    try:
        delay = float(opts.get("delay", "1"))
        iterations = int(opts["iterations"]) if "iterations" in opts else None
    except ValueError:
        raise UsageError("-d takes seconds and -n a count") from None
    if delay <= 0 or (iterations is not None and iterations < 1):
        raise UsageError("-d must be positive and -n at least 1")
    tty = sys.stdout.isatty()
    try:
        with _connect(opts) as client:
            prev: dict = {}
            t_prev = 0.0
            n = 0
            while iterations is None or n < iterations:
                t = time.monotonic()
                cur = snapshot(client, patterns)
                title = f"clickpy top - {time.strftime('%H:%M:%S')} - {len(cur)} values"
                text = render(prev, cur, t - t_prev if prev else 0.0, title)
                sys.stdout.write(("\x1b[H\x1b[2J" if tty else "") + text + ("" if tty else "\n"))
                sys.stdout.flush()
                prev, t_prev = cur, t
                n += 1
                if iterations is None or n < iterations:
                    time.sleep(max(0.0, delay - (time.monotonic() - t)))
    except ControlError as e:
        _print_error(e)
        return EXIT_REPLY_ERROR
    except (ConnectionError, OSError) as e:
        print(f"clickpy: connection lost: {e}", file=sys.stderr)
        return EXIT_CONNECT
    except KeyboardInterrupt:
        return 0
    return 0
