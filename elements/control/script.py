# EXPORT_ELEMENT Script
"""Script: Click's little language for controlling a running router (cold code).

The instruction machine follows Click's Script: a program of instructions,
an instruction pointer and a count of "steps" (wake-ups) that blocking
instructions consume. A timer's expiry, the `step` handler and, for driver
scripts, a driver stop event each deliver one step.
"""
from __future__ import annotations

import math
import os
import random as _rng
import signal as _signal
import sys
import time

from clickpy.args import ANY, BOOL, SECONDS, ArgError
from clickpy.element import Element, HandlerError
from clickpy.lang.strings import expand, parse_click_int, shift_spacevec, spacevec, unquote

# instructions (blocking ones first)
INITIAL, WAIT_STEP, WAIT_TIME = "initial", "wait_step", "wait_time"
MAX_JUMPS = 1000

# goto targets that are not labels
EXIT, END, STOP, ERROR, BEGIN = "exit", "end", "stop", "error", "begin"

_INSTRUCTIONS = {
    "set", "setq", "init", "initq", "export", "exportq",
    "print", "printq", "printn", "printnq", "read", "readq", "write", "writeq",
    "pause", "wait_step", "wait_stop", "wait", "wait_time", "wait_for",
    "label", "goto", "loop", "end", "exit", "stop", "return", "returnq", "error", "errorq",
}

_SIGNALS = {"ABRT": _signal.SIGABRT, "HUP": _signal.SIGHUP, "INT": _signal.SIGINT,
            "PIPE": _signal.SIGPIPE, "QUIT": _signal.SIGQUIT, "TERM": _signal.SIGTERM,
            "TSTP": _signal.SIGTSTP, "USR1": _signal.SIGUSR1, "USR2": _signal.SIGUSR2}
# the driver's signalfd receives these; others come through Python's wakeup fd
_DRIVER_SIGNALS = {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP}


class _Insn:
    __slots__ = ("op", "arg", "count", "seen", "target", "var")

    def __init__(self, op: str, arg: str = "", count: int = 0, var: str = "") -> None:
        self.op = op
        self.arg = arg          # raw text, expanded when the instruction runs
        self.count = count      # pause: steps needed; wait_time: nanoseconds
        self.seen = 0           # pause: steps consumed so far
        self.target = None      # goto: instruction index or one of EXIT/END/STOP/ERROR
        self.var = var          # set/init/export/return: the variable


def _number(text: str):
    """A number as Script's arithmetic reads it: int if it is one, else float, else None."""
    v = parse_click_int(text, True)
    if v is not None:
        return v
    try:
        f = float(text)
    except ValueError:
        return None
    return f


def _unparse_number(x) -> str:
    if isinstance(x, float):
        if x == int(x) and abs(x) < 1e15:
            return str(int(x))
        return "%.12g" % x
    return str(x)


def _bool(text: str) -> bool:
    try:
        return BOOL(text.strip())
    except ArgError:
        raise HandlerError(f"expected boolean, not '{text.strip()}'") from None


def _bool_text(b: bool) -> str:
    return "true" if b else "false"


class Script(Element):
    """Script(INSTRUCTIONS... [, TYPE type])

    Scripts a Click router configuration.

    Ports: none.

    Runs a program of instructions, one per argument, that set variables,
    call handlers, wait for time or prodding, and stop the router. Text in
    instructions is expanded first: `$x` (a script variable), `$(HANDLER
    [ARGS])` (a read handler's value; nested expansions allowed; a handler
    name without an element is the Script's own, else a global handler),
    `$?` (status of the last write: 0 or negative), `$args`, `$1`...`$9`
    and `$#` (a PASSIVE script's run arguments), `$$` (process id).
    Forms ending in q remove a layer of quotes after expanding.

    Instructions:
      set VAR TEXT, setq      set a variable
      init VAR TEXT, initq    set a variable once, when the router initializes
      export VAR [TEXT], exportq   like init, and a read handler VAR shows it
      print [>FILE|>>FILE] [TEXT|HANDLER], printq, printn, printnq
                              print text, or a handler's value when the text
                              starts with a letter, '@' or '_'; newline added
                              unless printn; to stdout or FILE
      read HANDLER [ARGS], readq    print "HANDLER:\\nVALUE" to standard error
      write HANDLER [ARGS], writeq  call a write handler; $? is its status
      pause [COUNT]           block until stepped COUNT times (also wait_step,
                              wait_stop, and wait without argument)
      wait TIME               block TIME seconds or until stepped (also wait_time, wait_for)
      label LABEL             a goto target
      goto LABEL [CONDITION]  jump, if CONDITION (a boolean) is true; LABEL may
                              be exit, end, stop, error or begin
      loop                    jump to the first instruction
      end                     end the script (signal scripts re-arm)
      exit                    end the script (signal scripts do not re-arm)
      stop                    end the script and ask the driver to stop
      return [VALUE], returnq end; a PASSIVE script's run handler returns VALUE
      error [MSG], errorq     end with an error

    A script that jumps 1000 times without blocking is disabled.

    Keywords:
      TYPE  ACTIVE (starts when the router starts; the default), PASSIVE (runs
            when its run handler is called), DRIVER (steps at each driver stop
            event; the driver stops when it ends, see DriverManager), or
            SIGNAL SIGNO... (runs when one of the signals arrives: INT, TERM,
            HUP, USR1, USR2, ... or numbers).

    Handlers:
      step (write)     deliver steps (a count, default 1) to a blocking instruction
      goto (write)     move to a label and run
      run (read/write) run from the start; reads return the return value
      add, sub, mul, div, idiv, mod, rem, min, max, neg, abs (read with params)
                       arithmetic on space-separated numbers
      eq, ne, lt, gt, le, ge (read with params)  compare two numbers (or strings)
      not, and, or, nand, nor (read with params)  booleans
      if (read with params)      "BOOL A B": A if BOOL else B
      in (read with params)      true if the first word equals any later one
      first, length, unquote, sprintf, random, get, readable, writable
                                 (read with params) as in Click
      now (read)                 the current time, seconds since the epoch
      cat (read with params)     a file's contents (not over ControlSocket)
      set (write)                "VAR VALUE"

    Example:
      Script(set x 0, label again, print $x, set x $(add $x 1),
             goto again $(lt $x 5), stop);
    """

    port_count = "0/0"
    default_type = "ACTIVE"
    control_hidden_handlers = ("cat",)

    def configure(self, args) -> None:
        type_text = args.read("TYPE", ANY, None)
        words = spacevec(type_text) if type_text is not None else [self.default_type]
        kind = words[0].upper() if words else self.default_type
        self.signos: list[int] = []
        if kind in ("ACTIVE", "PASSIVE", "DRIVER") and len(words) == 1:
            self.type = kind
        elif kind == "SIGNAL":
            self.type = kind
            for w in words[1:]:
                signo = _SIGNALS.get(w.upper().removeprefix("SIG"))
                if signo is None:
                    n = parse_click_int(w, False)
                    signo = n if n is not None and 0 < n < 32 else None
                if signo is None or signo in (_signal.SIGKILL, _signal.SIGSTOP):
                    raise self.error(f"bad signal number '{w}'")
                self.signos.append(signo)
            if not self.signos:
                raise self.error("TYPE SIGNAL needs at least one signal")
        else:
            raise self.error("bad TYPE; expected 'ACTIVE', 'PASSIVE', 'DRIVER', or 'SIGNAL'")
        if self.type == "DRIVER":
            for other in self.router.elements:
                if other is not self and isinstance(other, Script) and getattr(other, "type", None) == "DRIVER" \
                        and other.eindex < self.eindex:
                    raise self.error("router has more than one driver script (DriverManager)")
        self.vars: dict[str, str] = {}
        self.exports: list[str] = []
        self.insns: list[_Insn] = []
        errors = []
        for text in args.rest():
            try:
                self._compile(text)
            except ValueError as e:
                errors.append(str(e))
        labels = {i.arg: k for k, i in enumerate(self.insns) if i.op == "label"}
        for insn in self.insns:
            if insn.op == "goto" and insn.target is None:
                label, insn.arg = shift_spacevec(insn.arg)
                if label in labels:
                    insn.target = labels[label]
                elif label in (EXIT, END, STOP, ERROR):
                    insn.target = label
                elif label in (BEGIN, "loop"):
                    insn.target = 0
                else:
                    errors.append(f"no such label '{label}'")
        if errors:
            raise self.error("; ".join(errors))
        if not self.insns and self.type == "DRIVER":
            self._add(_Insn(WAIT_STEP, count=1))
        self._add(_Insn("stop" if self.type == "DRIVER" else "end"))

    def _add(self, insn: _Insn) -> None:
        # the program starts blocked: an INITIAL step lets it run when started
        if not self.insns and insn.op not in (WAIT_STEP, WAIT_TIME):
            self.insns.append(_Insn(INITIAL))
        self.insns.append(insn)

    def _compile(self, text: str) -> None:
        name, rest = shift_spacevec(text)
        if not name:
            return                                        # an empty argument is benign
        if name not in _INSTRUCTIONS:
            raise ValueError(f"syntax error at '{name}'")
        rest = rest.strip()
        if name in ("pause", "wait_step", "wait_stop") or (name == "wait" and not rest):
            n = 1 if not rest else parse_click_int(rest, False)
            if n is None:
                raise ValueError(f"syntax error at '{name}'")
            self._add(_Insn(WAIT_STEP, count=n))
        elif name in ("wait", "wait_time", "wait_for"):
            try:
                seconds = SECONDS(rest)
            except (ArgError, ValueError):
                raise ValueError(f"syntax error at '{name}': expected a time") from None
            self._add(_Insn(WAIT_TIME, count=int(round(seconds * 1e9))))
        elif name in ("set", "setq", "init", "initq", "export", "exportq", "return", "returnq"):
            if name.startswith("return"):
                var, value = "_", rest
            else:
                var, value = shift_spacevec(rest)
                if not var or (name.startswith("set") and not value):
                    raise ValueError(f"syntax error at '{name}'")
            self.vars.setdefault(var, "")
            if name.startswith("export") and var not in self.exports:
                self.exports.append(var)
            self._add(_Insn(name, value, var=var))
        elif name == "label":
            words = spacevec(rest)
            if len(words) != 1:
                raise ValueError("syntax error at 'label'")
            self._add(_Insn("label", words[0]))
        elif name == "loop":
            if rest:
                raise ValueError("syntax error at 'loop'")
            insn = _Insn("goto")
            insn.target = 0
            self._add(insn)
        elif name in ("end", "exit", "stop"):
            if rest:
                raise ValueError(f"syntax error at '{name}'")
            self._add(_Insn(name))
        else:       # print*, read*, write*, goto, error*
            self._add(_Insn(name, rest))

    # ---- lifecycle --------------------------------------------------------------
    def initialize(self) -> None:
        self.pos = 0
        self.step_count = 0
        self.write_status = 0
        self.run_args = ""
        self.disabled = False
        self.running = False
        self.extra_steps = -1
        self.timer = self.add_timer(self._on_timer)
        self.inits_done = False
        first = self.insns[0]
        if self.type in ("PASSIVE", "SIGNAL"):
            pass
        elif first.op == WAIT_TIME:
            self.timer.schedule_after(first.count)
        elif first.op == INITIAL:
            first.count = 1                     # one step to get going
            self.timer.schedule_after(0)
        if self.type == "DRIVER":
            self.router.driver.stop_hooks.append(self._driver_stop_event)
        if self.type == "SIGNAL":
            # installing signal handlers must happen in the driver's thread
            self._signal_setup = self.add_timer(self._install_signals)
            self._signal_setup.schedule_after(0)

    def cleanup(self) -> None:
        if getattr(self, "timer", None) is not None:
            self.timer.unschedule()
        if self.type == "DRIVER" and self.router is not None:
            try:
                self.router.driver.stop_hooks.remove(self._driver_stop_event)
            except ValueError:
                pass
        if self.type == "SIGNAL":
            _signal_dispatch.remove(self)

    def _do_inits(self) -> None:
        """Evaluate init and export once, before the script first runs or is
        read: every element's handlers exist by then."""
        if self.inits_done:
            return
        self.inits_done = True
        for insn in self.insns:
            if insn.op in ("init", "initq", "export", "exportq"):
                value = self._expand(insn.arg)
                self.vars[insn.var] = unquote(value) if insn.op.endswith("q") else value

    # ---- the machine ----------------------------------------------------------------
    def _on_timer(self) -> None:
        self._run_steps(1, "timer")

    def _driver_stop_event(self) -> bool:
        """A driver stop hook: True keeps the driver running."""
        events = max(1, 1 - self.router.driver.runcount)
        return self._run_steps(events, "router") == "blocked"

    def _run_steps(self, nsteps: int, kind: str) -> str:
        """Deliver nsteps and run until the script blocks or ends. Returns
        'blocked', or how it ended: 'end', 'exit', 'stop', 'error', 'return'."""
        if self.running:
            # a handler called from the script stepped it: run those steps later
            if kind == "step":
                self.extra_steps = max(self.extra_steps, 0) + nsteps
            return "blocked"
        self._do_inits()
        self.running = True
        try:
            result = self._step(nsteps, kind)
            while self.extra_steps >= 0 and result == "blocked":
                n, self.extra_steps = self.extra_steps, -1
                result = self._step(n, "step")
            self.extra_steps = -1
        finally:
            self.running = False
        if result in ("end",) and self.type == "SIGNAL":
            _signal_dispatch.rearm(self)
        return result

    def _step(self, nsteps: int, kind: str) -> str:
        nsteps += self.step_count
        jumps = 0
        insns = self.insns
        while nsteps - self.step_count >= 0 and self.pos < len(insns) and jumps < MAX_JUMPS \
                and not self.disabled:
            ipos = self.pos
            self.pos += 1
            insn = insns[ipos]
            op = insn.op
            if op == "stop":
                self.step_count += 1
                self.pos = ipos
                if kind != "router":
                    self.please_stop()
                return "stop"
            if op == WAIT_STEP:
                while self.step_count < nsteps and insn.seen < insn.count:
                    insn.seen += 1
                    self.step_count += 1
                if insn.seen < insn.count:
                    self.pos = ipos
                    return "blocked"
                insn.seen = 0
            elif op == WAIT_TIME:
                if self.step_count == nsteps:
                    self.timer.schedule_after(insn.count)
                    self.pos = ipos
                    return "blocked"
                self.step_count += 1
                self.timer.unschedule()
            elif op == INITIAL:
                if insn.count:
                    self.step_count += 1
                    insn.count = 0
            elif op in ("print", "printq", "printn", "printnq"):
                self._print(insn)
            elif op in ("read", "readq"):
                self._read_insn(insn)
            elif op in ("write", "writeq"):
                self._write_insn(insn)
            elif op in ("set", "setq", "return", "returnq"):
                value = self._expand(insn.arg)
                self.vars[insn.var] = unquote(value) if op.endswith("q") else value
                if op.startswith("return"):
                    self.pos = ipos
                    return "return"
            elif op in ("init", "initq", "export", "exportq", "label"):
                pass
            elif op == "goto":
                cond_text = self._expand(insn.arg).strip() if insn.arg else ""
                take = True
                if cond_text:
                    try:
                        take = BOOL(cond_text)
                    except ArgError:
                        self._report(f"bad condition '{cond_text}'")
                        take = False
                if take:
                    if insn.target in (EXIT, END, STOP, ERROR):
                        self.pos = ipos
                        if insn.target == STOP:
                            self.step_count += 1
                            if kind != "router":
                                self.please_stop()
                        return insn.target
                    for i in range(insn.target, ipos):
                        if insns[i].op == WAIT_STEP:
                            insns[i].seen = 0
                    self.pos = insn.target
            elif op in ("error", "errorq"):
                msg = self._expand(insn.arg) if insn.arg else ""
                if op == "errorq":
                    msg = unquote(msg)
                if msg:
                    self._report(msg)
                self.pos = ipos
                self.error_message = msg or "script error"
                return "error"
            elif op in ("end", "exit"):
                self.pos = ipos
                return op
            if self.pos != ipos + 1:
                jumps += 1
        if jumps >= MAX_JUMPS:
            self._report("too many jumps, giving up")
            self.disabled = True
            self.pos = len(insns)
            self.timer.unschedule()
            return "exit"
        if self.pos >= len(insns):
            return "end"
        return "blocked"

    # ---- instructions with effects ---------------------------------------------------
    def _report(self, message: str) -> None:
        print(f"{self.name} :: {type(self).__name__}: {message}", file=sys.stderr, flush=True)

    def _print(self, insn: _Insn) -> None:
        text = insn.arg
        out = None
        if text.startswith(">"):
            append = text.startswith(">>")
            filename, text = shift_spacevec(text[2 if append else 1:].lstrip())
            filename = unquote(self._expand(filename))
            if filename and filename != "-":
                try:
                    out = open(filename, "a" if append else "w", encoding="utf-8", errors="surrogateescape")
                except OSError as e:
                    self._report(f"{filename}: {e.strerror}")
                    return
        try:
            ok = True
            if text and (text[0].isalpha() or text[0] in "@_"):
                expanded = self._expand(text)
                if insn.op.endswith("q"):
                    expanded = unquote(expanded)
                try:
                    result = self._call_read(expanded)
                except HandlerError as e:
                    self._report(str(e))
                    result, ok = "", False
            else:
                result = unquote(self._expand(text, quote_values=True))
            if ok and not insn.op.startswith("printn") and not result.endswith("\n"):
                result += "\n"
            stream = out or sys.stdout
            stream.write(result)
            stream.flush()
        finally:
            if out is not None:
                out.close()

    def _read_insn(self, insn: _Insn) -> None:
        arg = insn.arg if insn.op == "read" else unquote(insn.arg)
        call = self._expand(arg)
        name, _ = shift_spacevec(call)
        try:
            value = self._call_read(call)
        except HandlerError as e:
            self._report(str(e))
            return
        sys.stderr.write(f"{name}:\n{value}\n")
        sys.stderr.flush()

    def _write_insn(self, insn: _Insn) -> None:
        arg = insn.arg if insn.op == "write" else unquote(insn.arg)
        call = self._expand(arg)
        name, value = shift_spacevec(call)
        try:
            self._call_write(name, value)
            self.write_status = 0
        except HandlerError as e:
            self._report(str(e))
            self.write_status = -22          # -EINVAL, as a failed Click write handler
        except Exception as e:
            from clickpy.lang.graph import ConfigError
            if not isinstance(e, (ConfigError, ValueError)):
                raise
            self._report(str(e))
            self.write_status = -22

    # ---- handler calls ---------------------------------------------------------------
    def _find(self, name: str):
        """(element or None for global, handler name) as Click's HandlerCall
        resolves it from this element: own handlers first, then names in the
        same compound, then the router's."""
        router = self.router
        ename, dot, hname = name.rpartition(".")
        if not dot:
            if self.has_read_handler(name) or self.has_write_handler(name):
                return self, name
            if router.has_global_handler(name) or router.has_global_handler(name, write=True):
                return None, name
            raise HandlerError(f"no handler '{name}'")
        prefix = self.name.rpartition("/")[0]
        while True:
            full = f"{prefix}/{ename}" if prefix else ename
            elem = router.element(full)
            if elem is not None:
                return elem, hname
            if not prefix:
                break
            prefix = prefix.rpartition("/")[0]
        if ename == "" or ename == "0":
            return None, hname
        raise HandlerError(f"no element named '{ename}'")

    def _call_read(self, call: str) -> str:
        name, params = shift_spacevec(call.strip())
        elem, hname = self._find(name)
        try:
            return self.router.read_handler_of(elem, hname, params)
        except HandlerError:
            raise
        except Exception as e:
            raise HandlerError(f"{name}: {e}") from None

    def _call_write(self, name: str, value: str):
        elem, hname = self._find(name)
        return self.router.write_handler_of(elem, hname, value)

    # ---- expansion -------------------------------------------------------------------
    def _expand(self, text: str, quote_values: bool = False) -> str:
        return expand(text, _Expander(self), quote_values)

    def _variable(self, name: str) -> str | None:
        if name in self.vars:
            return self.vars[name]
        if name == "?":
            return str(self.write_status)
        if name == "args":
            return self.run_args
        if name == "$":
            return str(os.getpid())
        if name == "#":
            return str(len(spacevec(self.run_args)))
        if name[:1].isdigit() and name.isdigit() and name[0] != "0":
            words = spacevec(self.run_args)
            k = int(name)
            return words[k - 1] if k <= len(words) else ""
        return None

    # ---- handlers ----------------------------------------------------------------------
    def _step_handler(self, value: str) -> None:
        text = value.strip()
        if text == "router":
            n, kind = 1, "router"
        elif not text:
            n, kind = 1, "step"
        else:
            n = parse_click_int(text, True)
            if n is None:
                raise HandlerError("syntax error")
            kind = "step"
        self._finish(self._run_steps(n, kind))

    def _goto_handler(self, value: str) -> None:
        label = value.strip()
        target = next((k for k, i in enumerate(self.insns) if i.op == "label" and i.arg == label), None)
        if target is None:
            if label in (BEGIN, "loop"):
                target = 0
            else:
                raise HandlerError("jump to nonexistent label")
        for i in range(target, len(self.insns)):
            if self.insns[i].op == WAIT_STEP:
                self.insns[i].seen = 0
        self.pos = target
        self.timer.unschedule()
        self._finish(self._run_steps(0, "jump"))

    def _run(self, args: str) -> str:
        if self.running:
            raise HandlerError("script is already running")
        self.pos = 0
        self.run_args = args
        for insn in self.insns:
            if insn.op == WAIT_STEP:
                insn.seen = 0
        self.timer.unschedule()
        result = self._run_steps(0, "jump")
        self._finish(result)
        return self.vars.get("_", "") if result == "return" else ""

    def _finish(self, result: str) -> None:
        if result == "error":
            raise HandlerError(getattr(self, "error_message", "script error"))

    def _set_handler(self, value: str) -> None:
        var, text = shift_spacevec(value)
        if not var:
            raise HandlerError("expected 'VAR VALUE'")
        self.vars[var] = text

    def add_handlers(self) -> None:
        self.add_write_handler("step", self._step_handler)
        self.add_write_handler("goto", self._goto_handler)
        self.add_read_handler("run", self._run, params=True)
        self.add_write_handler("run", self._run)
        self.add_write_handler("set", self._set_handler)
        self.add_read_handler("now", lambda: "%.9f" % time.time())
        for name, fn in _ARITHMETIC.items():
            self.add_read_handler(name, fn, params=True)
        self.add_read_handler("get", lambda v: (self._do_inits(), self.vars.get(v.strip(), ""))[1], params=True)
        self.add_read_handler("readable", lambda v: self._accessible(v, False), params=True)
        self.add_read_handler("writable", lambda v: self._accessible(v, True), params=True)
        self.add_read_handler("cat", _cat, params=True)
        for var in self.exports:
            self.add_read_handler(var, lambda var=var: (self._do_inits(), self.vars.get(var, ""))[1])

    def _accessible(self, names: str, write: bool) -> str:
        for name in spacevec(names):
            try:
                elem, h = self._find(name)
            except HandlerError:
                return "false"
            if elem is None:
                ok = self.router.has_global_handler(h, write=write)
            else:
                ok = elem.has_write_handler(h) if write else elem.has_read_handler(h)
            if not ok:
                return "false"
        return "true"

    # ---- signals -----------------------------------------------------------------
    def _install_signals(self) -> None:
        _signal_dispatch.add(self)

    def _on_signal(self) -> None:
        _signal_dispatch.disarm(self)
        self.pos = 0
        self.timer.unschedule()
        self._run_steps(0, "jump")


class _Expander:
    """The variable source for clickpy.lang.strings.expand: script variables,
    then $(handler ...) calls."""

    __slots__ = ("script",)

    def __init__(self, script: Script) -> None:
        self.script = script

    def expand_var(self, var: str, vtype: str, depth: int) -> str | None:
        s = self.script
        value = s._variable(var.strip() if vtype == "{" else var)
        if value is not None:
            return value
        if vtype == "(":
            try:
                return s._call_read(var)
            except HandlerError as e:
                s._report(str(e))
                return None
        return None


# ---------------------------------------------------------------- arithmetic
def _numbers(text: str) -> list:
    out = []
    for w in spacevec(text):
        x = _number(w)
        if x is None:
            raise HandlerError("expected list of numbers")
        out.append(x)
    return out


def _fold(op):
    def handler(text: str) -> str:
        xs = _numbers(text)
        if not xs:
            return "0" if op in ("add", "sub") else "1"
        acc = xs[0]
        for x in xs[1:]:
            if op == "add":
                acc += x
            elif op == "sub":
                acc -= x
            elif op == "mul":
                acc *= x
            else:
                if x == 0:
                    raise HandlerError("division by zero")
                acc = acc / x
        if op == "idiv":
            return str(int(acc))
        return _unparse_number(acc)
    return handler


def _mod(text: str) -> str:
    xs = _numbers(text)
    if len(xs) != 2 or not all(isinstance(x, int) for x in xs):
        raise HandlerError("expected two integers")
    if xs[1] == 0:
        raise HandlerError("division by zero")
    return str(int(math.fmod(xs[0], xs[1])))


def _rem(text: str) -> str:
    xs = _numbers(text)
    if len(xs) != 2:
        raise HandlerError("expected two numbers")
    if xs[1] == 0:
        raise HandlerError("division by zero")
    return _unparse_number(math.fmod(xs[0], xs[1]))


def _one(fn):
    def handler(text: str) -> str:
        xs = _numbers(text)
        if len(xs) != 1:
            raise HandlerError("expected one number")
        return _unparse_number(fn(xs[0]))
    return handler


def _extreme(pick):
    def handler(text: str) -> str:
        xs = _numbers(text)
        if not xs:
            raise HandlerError("expected list of numbers")
        return _unparse_number(pick(xs))
    return handler


def _compare(op):
    def handler(text: str) -> str:
        words = spacevec(text)
        if len(words) != 2:
            raise HandlerError("expected two numbers")
        a, b = _number(words[0]), _number(words[1])
        if a is None or b is None:
            a, b = unquote(words[0]).encode("latin-1", "replace"), unquote(words[1]).encode("latin-1", "replace")
        result = {"eq": a == b, "ne": a != b, "lt": a < b, "gt": a > b, "le": a <= b, "ge": a >= b}[op]
        return _bool_text(result)
    return handler


def _logic(op):
    def handler(text: str) -> str:
        values = [_bool(w) for w in spacevec(text)]
        if op == "not":
            if len(values) != 1:
                raise HandlerError("syntax error")
            return _bool_text(not values[0])
        result = all(values) if op in ("and", "nand") else any(values)
        return _bool_text(not result if op in ("nand", "nor") else result)
    return handler


def _if(text: str) -> str:
    words = spacevec(text)
    if len(words) not in (2, 3):
        raise HandlerError("expected 'BOOL THEN [ELSE]'")
    if _bool(words[0]):
        return words[1]
    return words[2] if len(words) == 3 else ""


def _in(text: str) -> str:
    words = spacevec(text)
    if not words:
        raise HandlerError("expected arguments")
    return _bool_text(words[0] in words[1:])


def _random(text: str) -> str:
    xs = _numbers(text)
    if not xs:
        return str(_rng.randrange(0, 2 ** 31))
    if len(xs) == 1 and isinstance(xs[0], int) and xs[0] > 0:
        return str(_rng.randrange(0, xs[0]))
    if len(xs) == 2 and all(isinstance(x, int) for x in xs) and xs[0] <= xs[1]:
        return str(_rng.randint(xs[0], xs[1]))
    raise HandlerError("expected 'random [N1] [N2]'")


def _sprintf(text: str) -> str:
    words = spacevec(text)
    if not words:
        raise HandlerError("expected a format")
    fmt = unquote(words[0])
    args = words[1:]
    out = []
    i = 0
    k = 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        j = i + 1
        while j < len(fmt) and fmt[j] in "0#- +":
            j += 1
        while j < len(fmt) and (fmt[j].isdigit() or fmt[j] == "."):
            j += 1
        while j < len(fmt) and fmt[j] in "hlLq":
            j += 1
        if j >= len(fmt):
            raise HandlerError("syntax error")
        conv = fmt[j]
        spec = "".join(ch for ch in fmt[i:j] if ch not in "hlLq") + conv
        if conv == "%":
            out.append("%")
        else:
            if k >= len(args):
                raise HandlerError("syntax error: too few arguments")
            arg = args[k]
            k += 1
            if conv in "diouxX":
                n = parse_click_int(arg, True)
                if n is None:
                    raise HandlerError("syntax error")
                if conv in "ouxX" and n < 0:
                    n &= (1 << 64) - 1
                out.append(spec.replace("i", "d").replace("u", "d") % n)
            elif conv in "eEfgG":
                x = _number(arg)
                if x is None:
                    raise HandlerError("syntax error")
                out.append(spec % x)
            elif conv == "s":
                out.append(spec % unquote(arg))
            else:
                raise HandlerError("syntax error")
        i = j + 1
    if k != len(args):
        raise HandlerError("syntax error: too many arguments")
    return "".join(out)


def _cat(text: str) -> str:
    path = unquote(text.strip())
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1")
    except OSError as e:
        raise HandlerError(f"{path}: {e.strerror}") from None


_ARITHMETIC = {
    "add": _fold("add"), "sub": _fold("sub"), "mul": _fold("mul"),
    "div": _fold("div"), "idiv": _fold("idiv"),
    "mod": _mod, "rem": _rem,
    "neg": _one(lambda x: -x), "abs": _one(abs),
    "min": _extreme(min), "max": _extreme(max),
    "eq": _compare("eq"), "ne": _compare("ne"), "lt": _compare("lt"),
    "gt": _compare("gt"), "le": _compare("le"), "ge": _compare("ge"),
    "not": _logic("not"), "and": _logic("and"), "or": _logic("or"),
    "nand": _logic("nand"), "nor": _logic("nor"),
    "if": _if, "in": _in, "random": _random, "sprintf": _sprintf,
    "first": lambda t: shift_spacevec(t)[0],
    "length": lambda t: str(len(t)),
    "unquote": lambda t: unquote(t),
}


# ---------------------------------------------------------------- signals
class _SignalDispatch:
    """Runs SIGNAL scripts. Signals the driver already receives through its
    signalfd (INT, TERM, HUP) are taken from its signal callback; others get
    a Python handler, whose wakeup descriptor wakes the driver's epoll."""

    def __init__(self) -> None:
        self.armed: dict[int, list[Script]] = {}
        self.members: dict[Script, list[int]] = {}
        self.pipe_r = -1
        self.drivers: set = set()
        self.previous: dict[int, object] = {}

    def add(self, script: Script) -> None:
        self.members[script] = list(script.signos)
        driver = script.router.driver
        if driver not in self.drivers:
            previous = driver.signal_callback

            def callback(signo, previous=previous):
                if self.deliver(signo):
                    return True
                return previous(signo) if previous is not None else False
            driver.signal_callback = callback
            self.drivers.add(driver)
        for signo in script.signos:
            if signo not in _DRIVER_SIGNALS and signo not in self.previous:
                self._catch(script, signo)
        self.rearm(script)

    def _catch(self, script: Script, signo: int) -> None:
        if self.pipe_r < 0:
            r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            self.pipe_r = r
            _signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        script.add_select(self.pipe_r, 1, self._drain)
        self.previous[signo] = _signal.signal(signo, lambda s, f: None)

    def _drain(self, events: int) -> None:
        try:
            data = os.read(self.pipe_r, 256)
        except OSError:
            return
        for signo in data:
            self.deliver(signo)

    def deliver(self, signo: int) -> bool:
        scripts = self.armed.pop(signo, [])
        for s in scripts:
            s._on_signal()
        return bool(scripts) or any(signo in sigs for sigs in self.members.values())

    def rearm(self, script: Script) -> None:
        for signo in self.members.get(script, []):
            lst = self.armed.setdefault(signo, [])
            if script not in lst:
                lst.append(script)

    def disarm(self, script: Script) -> None:
        for lst in self.armed.values():
            if script in lst:
                lst.remove(script)

    def remove(self, script: Script) -> None:
        self.disarm(script)
        self.members.pop(script, None)
        still = {s for sigs in self.members.values() for s in sigs}
        for signo in list(self.previous):
            if signo not in still:
                try:
                    _signal.signal(signo, self.previous.pop(signo))
                except (ValueError, TypeError):
                    self.previous.pop(signo, None)


_signal_dispatch = _SignalDispatch()
