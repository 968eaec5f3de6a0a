"""Recursive-descent parser and flattener for Click's configuration language.

The parser follows Click's own lexer (lib/lexer.cc) closely, because a Click
user's configs must mean the same thing here: the same anonymous names
(`Class@N`, numbered by position in the enclosing scope), the same implicit
`input`/`output` rules inside groups and compounds, the same many-to-many
port assignment for `=>`, the same overload resolution and the same
compound/tunnel expansion with its error messages.

Phase 1 (parsing) fills one `Compound` per scope: its elements (name, type,
raw config, location), its connections, its `$parameters`.  The file itself
is the top-level compound.  Element classes defined by `elementclass` are
`Compound` objects (a chain of overloads); primitive classes are plain
strings and stay in the graph for the runtime to resolve.

Phase 2 (flattening) expands every compound element into
`compound/component` elements, splices connections through the compounds'
`input`/`output` pseudo-elements ("tunnels"), expands `$variables` in config
strings, and produces a `FlatGraph`.
"""
from __future__ import annotations

import os

from clickpy.lang.graph import (ConfigError, Connection, Diagnostic, ElementDecl, FlatGraph,
                                Location, NOWHERE)
from clickpy.lang.lexer import EOF, IDENT, VARIABLE, Lexer, Token
from clickpy.lang.strings import (ExpansionTooLarge, VarEnv, argvec, expand, parse_click_int,
                                  shift_spacevec, spacevec, split_keyword, string_arg, word_arg)

MAX_DEPTH = 50            # nesting of groups and compounds
MAX_PORT = 0xFFFF         # larger port numbers are certainly mistakes
MAX_ELEMENTS = 200_000    # bound on compound expansion
MAX_MISSING_REPORTS = 10  # per pseudo-element

_PORT_NAMES = ("input", "output")
_VAR_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable

# Set to False in tests so that parser bugs surface as real tracebacks.
SAFETY_NET = True


class _Tunnel:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<tunnel>"


TUNNEL = _Tunnel()


class ErrorType:
    """The class of an element whose declaration was in error."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class Compound:
    """A scope: the file itself, or one definition of a compound element class."""

    __slots__ = ("name", "loc", "overload", "vars", "nformals", "ninputs", "noutputs",
                 "order_error", "emap", "etypes", "enames", "econfigs", "elocs", "nin", "nout",
                 "anon_offset", "conns", "tunnel_used")

    def __init__(self, name: str, loc: Location, parent_vars: VarEnv | None):
        self.name = name
        self.loc = loc
        self.overload: object = None      # next overload: Compound, class name, ErrorType or None
        self.vars = VarEnv(parent_vars)
        self.nformals = 0
        self.ninputs = 0
        self.noutputs = 0
        self.order_error = False
        self.emap: dict[str, int] = {}
        self.etypes: list[object] = []
        self.enames: list[str] = []
        self.econfigs: list[str] = []
        self.elocs: list[Location] = []
        self.nin: list[int] = []
        self.nout: list[int] = []
        self.anon_offset = 0
        self.conns: list[tuple[int, int, int, int, Location]] = []
        self.tunnel_used: dict[tuple[int, bool], set[int]] = {}

    def formal_types(self) -> list[str]:
        return self.vars.values[:self.nformals]

    def connect(self, f: int, fp: int, t: int, tp: int, loc: Location) -> None:
        if fp < 0:
            fp = 0
        if tp < 0:
            tp = 0
        self.conns.append((f, fp, t, tp, loc))
        if self.nin[t] <= tp:
            self.nin[t] = tp + 1
        if self.nout[f] <= fp:
            self.nout[f] = fp + 1
        if self.etypes[f] is TUNNEL:
            self.tunnel_used.setdefault((f, True), set()).add(fp)
        if self.etypes[t] is TUNNEL:
            self.tunnel_used.setdefault((t, False), set()).add(tp)


class _PS:
    """Parse state of one statement sequence (file, compound body or group)."""

    __slots__ = ("kind", "parent", "depth", "last_ends_output")

    def __init__(self, kind: str, parent: _PS | None):
        self.kind = kind
        self.parent = parent
        self.depth = parent.depth + 1 if parent is not None else 0
        self.last_ends_output = True


class _Ref:
    """One element reference in a connection, with its port lists (-1 ends an expandable list)."""

    __slots__ = ("idx", "inports", "outports", "pos")

    def __init__(self, pos: int):
        self.idx = -1
        self.inports: list[int] = []
        self.outports: list[int] = []
        self.pos = pos


class _Elem:
    """An element named in a connection, before it is entered in the scope."""

    __slots__ = ("name", "type", "decl", "bare", "config", "pos", "lexer")

    def __init__(self, name: str, type_: object, bare: bool, pos: int, lexer: Lexer):
        self.name = name
        self.type = type_
        self.decl: object = None
        self.bare = bare
        self.config = ""
        self.pos = pos
        self.lexer = lexer

    @property
    def loc(self) -> Location:
        return self.lexer.location(self.pos)


class _Conn:
    __slots__ = ("last", "elements", "head", "any_implicit", "any_ports", "cur", "connector")

    def __init__(self) -> None:
        self.last: list[_Ref] = []
        self.elements: list[_Ref] = []
        self.head: list[_Elem] = []
        self.any_implicit = False
        self.any_ports = False
        self.cur: _Ref | None = None
        self.connector: Token | None = None


_FIRST, _ELEMENT, _NEXT, _CONNECTOR, _DONE = range(5)


class _TEnd:
    """One end of a connection tunnel (Click's Lexer::TunnelEnd)."""

    __slots__ = ("idx", "port", "isout", "other", "correspond", "expanded")

    def __init__(self, idx: int, port: int, isout: bool):
        self.idx = idx
        self.port = port
        self.isout = isout
        self.other: _TEnd | None = None
        self.correspond: list[tuple[int, int]] = []
        self.expanded = 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _signature(name: str, formal_types: list[str] | None, nargs: int, nin: int, nout: int) -> str:
    s = name or "<anonymous>"
    if formal_types:
        s += "(" + ", ".join("<arg>" if t == "" else "..." if t == "__REST__" else t
                             for t in formal_types) + ")"
    parts = []
    if formal_types is None and nargs > 0:
        parts.append(_plural(nargs, "argument"))
    parts.append(_plural(nin, "input"))
    parts.append(_plural(nout, "output"))
    return s + "[" + ", ".join(parts) + "]"


def _visible(name: str) -> str:
    return name[1:] if name.startswith(";") else name


class Parser:
    def __init__(self, *, defines: dict[str, str] | None = None,
                 search_path: list[str] | None = None,
                 is_class: Callable[[str], bool] | None = None,
                 class_candidates: Callable[[], list[str]] | None = None):
        self.diags: list[Diagnostic] = []
        self.defines = dict(defines or {})
        self.search_path = list(search_path or [])
        self._is_class = is_class or (lambda name: False)
        self._class_cache: dict[str, bool] = {}
        self.class_candidates = class_candidates
        self.type_map: dict[str, object] = {}
        self.top = Compound("", NOWHERE, None)
        self.c = self.top
        self.requirements: list[str] = []
        self.libraries: list[str] = []
        self.lx: Lexer | None = None
        self.base: dict[tuple[int, bool], int] = {}
        self.ends: dict[tuple[int, int, bool], _TEnd] = {}

    # -- diagnostics ---------------------------------------------------------

    def err(self, where: Token | int | Location, message: str, severity: str = "error") -> None:
        if isinstance(where, Location):
            self.diags.append(Diagnostic(where, message, severity))
        else:
            pos = where.pos if isinstance(where, Token) else where
            self.diags.append(Diagnostic(self.lx.location(pos), message, severity))

    def syntax_error(self, t: Token) -> None:
        self.err(t, f"syntax error near {t.describe()}")

    # -- classes -------------------------------------------------------------

    def is_class(self, name: str) -> bool:
        r = self._class_cache.get(name)
        if r is None:
            try:
                r = bool(self._is_class(name))
            except Exception:
                r = False
            self._class_cache[name] = r
        return r

    def element_type(self, name: str) -> object:
        t = self.type_map.get(name)
        if t is None and name and self.is_class(name):
            return name
        return t

    def force_type(self, name: str) -> object:
        t = self.element_type(name)
        return name if t is None else t

    # -- scope helpers ---------------------------------------------------------

    def get_element(self, scope: Compound, name: str, etype: object, config: str,
                    loc: Location) -> int:
        idx = scope.emap.get(name)
        if idx is not None:
            return idx
        idx = len(scope.etypes)
        if idx >= MAX_ELEMENTS:
            raise _TooLarge()
        scope.emap[name] = idx
        if "0" <= name[:1] <= "9" or "/" in name:
            for comp in name.split("/"):
                if not comp or (comp.isdigit() and comp.isascii()):
                    self.err(loc, f"element name '{_visible(name)}' has all-digit component")
                    break
        scope.enames.append(name)
        scope.etypes.append(etype)
        scope.econfigs.append(config)
        scope.elocs.append(loc)
        scope.nin.append(0)
        scope.nout.append(0)
        return idx

    def anon_name(self, cls: str) -> str:
        c = self.c
        return f";{cls}@{len(c.etypes) - c.anon_offset + 1}"

    @staticmethod
    def deanonymize(scope: Compound, idx: int) -> str:
        name = scope.enames[idx][1:]
        if name in scope.emap:
            at = name.rfind("@")
            prefix = name[:at + 1]
            j = at + 1
            while j < len(name) and "0" <= name[j] <= "9":
                j += 1
            n = int(name[at + 1:j]) if j > at + 1 else 0
            while True:
                n += 1
                name = prefix + str(n)
                if name not in scope.emap:
                    break
        scope.emap[name] = idx
        scope.enames[idx] = name
        return name

    def redeclaration(self, what: str, name: str, loc: Location, old: Location) -> None:
        sp = " " if what else ""
        self.err(loc, f"redeclaration of {what}{sp}'{_visible(name)}'")
        self.err(old, f"'{_visible(name)}' previously declared here")

    def add_tunnels(self, scope: Compound, name: str, loc: Location) -> list[int]:
        names3 = (name, name + "/input", name + "/output")
        idx: list[int] = []
        ok = True
        for nm in names3:
            j = self.get_element(scope, nm, TUNNEL, "", loc)
            idx.append(j)
            if scope.etypes[j] is not TUNNEL:
                self.redeclaration("element", nm, loc, scope.elocs[j])
                ok = False
        if ok and scope is self.top:
            keys = ((idx[0], False), (idx[1], True), (idx[2], False), (idx[0], True))
            for key, nm in zip(keys, (names3[0], names3[1], names3[2], names3[0])):
                if key in self.base:
                    self.redeclaration("connection tunnel", nm, loc, scope.elocs[key[0]])
                    ok = False
            if ok:
                self.base[(idx[0], False)] = idx[1]
                self.base[(idx[1], True)] = idx[0]
                self.base[(idx[2], False)] = idx[0]
                self.base[(idx[0], True)] = idx[2]
        return idx

    def check_pseudo(self, scope: Compound, which: int, isoutput: bool, name: str,
                     loc: Location) -> int:
        """Check an input/output pseudo-element; return its number of ports."""
        if isoutput:
            nports, wrong = scope.nin[which], scope.nout[which]
        else:
            nports, wrong = scope.nout[which], scope.nin[which]
        used = scope.tunnel_used.get((which, not isoutput), set())
        pn = _PORT_NAMES[isoutput]
        if wrong:
            self.err(loc, f"'{name}' pseudoelement '{pn}' may only be used as "
                          f"{_PORT_NAMES[not isoutput]}")
        if len(used) < nports:
            missing = [i for i in range(nports) if i not in used]
            for i in missing[:MAX_MISSING_REPORTS]:
                self.err(loc, f"'{name}' {pn} {i} missing")
            if len(missing) > MAX_MISSING_REPORTS:
                self.err(loc, f"'{name}': {len(missing) - MAX_MISSING_REPORTS} more {pn}s missing")
        return nports

    # -- statements ------------------------------------------------------------

    def parse_file_text(self, text: str, filename: str) -> None:
        old = self.lx
        self.lx = Lexer(text, filename, self.diags)
        try:
            self.statements(_PS("file", None))
        finally:
            self.lx = old

    def statements(self, ps: _PS) -> Token:
        """Parse statements until the end of this sequence; return the ending token."""
        lx = self.lx
        while True:
            t = lx.lex()
            k = t.kind
            if k == IDENT or k in ("[", "{", "(", "->", "=>"):
                lx.unlex(t)
                self.connection(ps)
            elif k == ";":
                pass
            elif k == "elementclass":
                self.elementclass(ps)
            elif k == "require":
                self.require(t)
            elif k == "define":
                self.define(t)
            elif k == "}" or k == "||":
                if ps.kind == "compound":
                    return t
                self.syntax_error(t)
                if ps.kind == "group":
                    lx.unlex(t)
                    return t
            elif k == ")":
                if ps.kind == "group":
                    return t
                self.syntax_error(t)
            elif k == EOF:
                if ps.kind == "group":
                    self.err(t, "expected ')'")
                elif ps.kind == "compound":
                    self.err(t, "expected '}'")
                return t
            else:
                self.syntax_error(t)

    # -- connections -------------------------------------------------------------

    def connection(self, ps: _PS) -> None:
        st = _Conn()
        state = _FIRST
        while True:
            if state == _ELEMENT:
                state = self.element_name(ps, st)
            elif state == _NEXT:
                state = self.element_next(ps, st)
            elif state == _CONNECTOR:
                state = self.connector(ps, st)
            elif state == _FIRST:
                st.elements = []
                st.head = []
                st.any_implicit = st.any_ports = False
                state = _ELEMENT
            else:
                self.check_useless(st.last, True)
                last = st.last
                ps.last_ends_output = (len(last) == 1
                                       and last[0].idx == self.c.emap.get("output", -1))
                return

    def port(self, ref: _Ref, isoutput: bool) -> None:
        lx = self.lx
        if lx.expect("[", report=False) is None:
            return
        ports = ref.outports if isoutput else ref.inports
        last = -1
        dash = False
        while True:
            t = lx.lex()
            if t.kind == IDENT:
                p = parse_click_int(t.text, True)
                if p is None or p < 0:
                    self.err(t, "syntax error: port number should be integer")
                    p = 0
                elif p > MAX_PORT:
                    self.err(t, f"port number {p} too large")
                    p = 0
                if dash:
                    ports.extend(range(last + 1, p + 1))
                    last = max(last, p)
                else:
                    ports.append(p)
                    last = p
            elif t.kind == "]":
                if not ports:
                    ports.append(0)
                ports.append(-1)
                break
            else:
                self.err(t, "syntax error: expected port number")
                lx.unlex(t)
                break
            t = lx.lex()
            if t.kind == "]":
                break
            if t.kind == "-" and not dash:
                dash = True
            elif t.kind == ",":
                dash = False
            else:
                self.err(t, "syntax error: expected ','")
                lx.unlex(t)

    def element_name(self, ps: _PS, st: _Conn) -> int:
        lx = self.lx
        t = lx.lex()
        cur = _Ref(t.pos)
        st.elements.append(cur)
        st.cur = cur
        if t.kind == "[":
            lx.unlex(t)
            self.port(cur, False)
            t = lx.lex()
        this_implicit = False
        this_ident = False
        if t.kind == IDENT:
            name = t.text
            this_ident = True
        elif t.kind == "{":
            typ = self.compound(ps, "", t)
            return self.element_type_(ps, st, "", typ, False, False, t)
        elif t.kind == "(":
            return self.group(ps, st, self.anon_name(""), t)
        else:
            nested = self.c.vars.depth > 0 or ps.parent is not None
            first_set = not st.last
            cur_first = len(st.elements) == 1
            if nested and t.kind in ("->", "=>"):
                this_implicit = first_set and (bool(cur.inports) or cur_first)
                if this_implicit and not cur.inports and not ps.last_ends_output:
                    self.err(t, f"suggest 'input {t.text}' or '[0] {t.text}' to start connection",
                             "warning")
            elif nested and t.kind == ",":
                this_implicit = bool(cur.inports)
            elif nested and t.kind != "::":
                this_implicit = (not first_set) and (bool(cur.inports) or cur_first)
            if this_implicit:
                name = "input" if first_set else "output"
                st.any_implicit = True
                if first_set:
                    cur.inports, cur.outports = cur.outports, cur.inports
                lx.unlex(t)
            else:
                if cur.inports:
                    self.err(t, "stranded port ignored")
                st.elements.pop()
                if not st.elements:
                    if nested and first_set:
                        lx.unlex(t)
                    else:
                        self.syntax_error(t)
                    return _DONE
                return _NEXT
        return self.element_type_(ps, st, name, self.element_type(name), this_ident,
                                  this_implicit, t)

    def element_type_(self, ps: _PS, st: _Conn, name: str, typ: object, this_ident: bool,
                      this_implicit: bool, tok: Token) -> int:
        """After an element's name: `:: Class`, `(config)` and output `[ports]`."""
        lx = self.lx
        e = _Elem(name, typ, this_ident, tok.pos, lx)
        st.head.append(e)
        t = lx.lex()
        if this_implicit:
            lx.unlex(t)
            return self.element_ports(st)
        if t.kind == "::":
            e.bare = False
            t = lx.lex()
            if t.kind == IDENT:
                e.decl = self.force_type(t.text)
                t = lx.lex()
            elif t.kind == "{":
                e.decl = self.compound(ps, "", t)
                t = lx.lex()
            else:
                self.err(t, "missing element type in declaration")
                e.decl = self.force_type(e.name)
        if t.kind == "(":
            if e.name in self.c.emap:
                self.err(t, "configuration string ignored on element reference")
            e.config, _ = lx.config()
            lx.expect(")")
            e.bare = False
            t = lx.lex()
        lx.unlex(t)
        if t.kind == "[":
            st.cur.outports = []
            self.port(st.cur, True)
        return self.element_ports(st)

    @staticmethod
    def element_ports(st: _Conn) -> int:
        cur = st.cur
        if cur.inports or cur.outports:
            st.any_ports = True
        return _NEXT

    def element_next(self, ps: _PS, st: _Conn) -> int:
        lx = self.lx
        t = lx.lex()
        if t.kind == ",":
            return _ELEMENT
        lx.unlex(t)
        is_arrow = t.kind == "->" or t.kind == "=>"
        first_set = not st.last
        if st.any_implicit and not first_set and is_arrow:
            self.err(t, "implicit ports used in the middle of a chain")
        head = st.head
        # `a, b, c :: Class(config)` declares all three
        if len(head) > 1 and first_set and not is_arrow and not st.any_ports \
                and not st.any_implicit:
            k = 0
            while k < len(head) - 1 and head[k].bare:
                k += 1
            if k == len(head) - 1:
                last = head[k]
                for e in head[:-1]:
                    e.decl = last.decl
                    e.config = last.config
        c = self.c
        for e, ref in zip(head, st.elements):
            if e.type is not None or e.name not in c.emap:
                if e.decl is not None and e.type is not None:
                    self.err(e.loc, f"class '{e.name}' used as element name")
                elif e.decl is None and e.type is None:
                    self.err(e.loc, self.undeclared_message(e.name))
                    e.type = ErrorType(e.name)
                    self.type_map[e.name] = e.type
                if e.type is not None:
                    e.name = self.anon_name(e.name)
                ref.idx = self.get_element(c, e.name, e.type if e.type is not None else e.decl,
                                           e.config, e.loc)
            else:
                ref.idx = c.emap[e.name]
                if e.decl is not None:
                    self.err(e.loc, f"redeclaration of element '{e.name}'")
                    if c.etypes[ref.idx] is not TUNNEL:
                        self.err(c.elocs[ref.idx], f"element '{e.name}' previously declared here")
        st.head = []
        return _CONNECTOR

    def undeclared_message(self, name: str) -> str:
        msg = f"undeclared element '{name}'"
        if self.class_candidates is not None and name[:1].isupper():
            try:
                cands = list(self.class_candidates()) + list(self.type_map)
            except Exception:
                cands = list(self.type_map)
            s = suggest(name, cands)
            if s:
                msg += f" (unknown class? did you mean '{s}'?)"
        return msg

    def check_useless(self, refs: list[_Ref], isoutput: bool) -> None:
        for r in refs:
            if r.outports if isoutput else r.inports:
                self.err(r.pos, "output ports ignored at end of chain" if isoutput
                         else "input ports ignored at start of chain")
                break

    def connector(self, ps: _PS, st: _Conn) -> int:
        if not st.last:
            self.check_useless(st.elements, False)
        else:
            self.connect_all(st.last, st.elements, st.connector)
        st.last = st.elements
        st.elements = []
        lx = self.lx
        while True:
            t = lx.lex()
            k = t.kind
            if k == "," or k == "::":
                self.syntax_error(t)
                continue
            if k == "->" or k == "=>":
                st.connector = t
                return _FIRST
            if k in (IDENT, "{", "}", "[", ")", "||", "elementclass", "require", "provide",
                     "define"):
                lx.unlex(t)
                return _DONE
            if k == ";" or k == EOF:
                return _DONE
            self.syntax_error(t)
            if k == VARIABLE or k == "...":
                lx.unlex(t)
            return _DONE

    def connect_all(self, outputs: list[_Ref], inputs: list[_Ref], tok: Token) -> None:
        if len(outputs) == 1 and len(inputs) == 1:
            # the common case `a [p] -> [q] b`, with at most one port on each side
            o = outputs[0].outports
            i = inputs[0].inports
            if len(o) <= 1 and len(i) <= 1:
                self.c.connect(outputs[0].idx, o[0] if o else 0, inputs[0].idx,
                               i[0] if i else 0, self.lx.location(tok.pos))
                return
        minp = [0, 0]
        expandable = [0, 0]
        for k, refs in ((0, inputs), (1, outputs)):
            for r in refs:
                ports = r.outports if k else r.inports
                n = len(ports)
                if n <= 1:
                    minp[k] += 1
                elif ports[-1] == -1:
                    minp[k] += n - 1
                    expandable[k] += 1
                else:
                    minp[k] += n
        if expandable[0] + expandable[1] > 1:
            self.err(tok, "at most one expandable port allowed per connection")
            expandable[1 if minp[0] < minp[1] else 0] = 0
        double = tok.kind == "=>"
        if double:
            for k in (0, 1):
                first = outputs[0] if k else inputs[0]
                fports = first.outports if k else first.inports
                if minp[k] == 1 and minp[1 - k] > 1 and not fports:
                    expandable[k] = 1
        step = [minp[0] > 1 or bool(expandable[0]), minp[1] > 1 or bool(expandable[1])]
        nexp = [minp[1] - minp[0] if expandable[0] else 0,
                minp[0] - minp[1] if expandable[1] else 0]
        if step[0] and step[1]:
            if not double:
                self.err(tok, "syntax error: many-to-many connections require '=>'")
            if not expandable[0] and not expandable[1] and minp[0] != minp[1]:
                self.err(tok, f"connection mismatch: {minp[1]} outputs connected to "
                              f"{minp[0]} inputs")
            elif not expandable[0] and minp[0] < minp[1]:
                self.err(tok, f"connection mismatch: {minp[1]} or more outputs connected to "
                              f"{minp[0]} inputs")
            elif not expandable[1] and minp[1] < minp[0]:
                self.err(tok, f"connection mismatch: {minp[1]} outputs connected to "
                              f"{minp[0]} or more inputs")
        elif not step[0] and not step[1]:
            step[0] = True

        loc = self.lx.location(tok.pos)
        c = self.c
        sides = (inputs, outputs)
        it = [0, 0]
        ppos = [0, 0]
        port = [-1, -1]
        while it[0] < len(inputs) and it[1] < len(outputs):
            for k in (0, 1):
                if port[k] < 0:
                    r = sides[k][it[k]]
                    pv = r.outports if k else r.inports
                    port[k] = pv[0] if pv else 0
            c.connect(outputs[it[1]].idx, port[1], inputs[it[0]].idx, port[0], loc)
            for k in (0, 1):
                if not step[k]:
                    continue
                r = sides[k][it[k]]
                pv = r.outports if k else r.inports
                np_ = len(pv)
                ppos[k] += 1
                if ppos[k] < np_ and pv[ppos[k]] >= 0:
                    port[k] = pv[ppos[k]]
                elif np_ and pv[np_ - 1] == -1 and nexp[k] > 0:
                    port[k] = pv[np_ - 2] + ppos[k] - (np_ - 2)
                    nexp[k] -= 1
                elif np_ == 0 and minp[k] == 1 and nexp[k] > 0:
                    port[k] = ppos[k]
                    nexp[k] -= 1
                else:
                    port[k] = -1
                    ppos[k] = 0
                    it[k] += 1

    # -- groups and compounds ------------------------------------------------------

    def group(self, ps: _PS, st: _Conn, name: str, tok: Token) -> int:
        c = self.c
        loc = self.lx.location(tok.pos)
        idx3 = self.add_tunnels(c, name, loc)
        saved = (c.emap.get("input"), c.emap.get("output"))
        c.emap["input"] = idx3[1]
        c.emap["output"] = idx3[2]
        new_ps = _PS("group", ps)
        if new_ps.depth >= MAX_DEPTH:
            self.err(tok, "maximum element group nesting depth exceeded")
        else:
            self.statements(new_ps)
        pname = "<anonymous group>"
        nin = self.check_pseudo(c, c.emap["input"], False, pname, loc)
        nout = self.check_pseudo(c, c.emap["output"], True, pname, loc)
        for key, value in zip(("input", "output"), saved):
            if value is None:
                c.emap.pop(key, None)
            else:
                c.emap[key] = value
        cur = st.cur
        if not cur.inports:
            cur.inports = list(range(nin))
        if not cur.outports:
            cur.outports = list(range(nout))
        return self.element_type_(ps, st, name, None, False, False, tok)

    def compound(self, ps: _PS, name: str, tok: Token) -> object:
        """Parse `{ ... || ... }` after its `{`; return the (first) class."""
        lx = self.lx
        saved_types = self.type_map
        saved_c = self.c
        first: Compound | None = None
        last: Compound | None = None
        extension: object = None
        start = tok
        while True:
            t = lx.lex()
            if t.kind == "...":
                et = self.element_type(name) if name else None
                if et is None:
                    self.err(t, f"cannot extend unknown element class '{name}'")
                    et = ErrorType(name)
                extension = et
                t2 = lx.lex()
                if first is None or t2.kind != "}":
                    self.err(t, "'...' should occur last, after one or more compounds")
                if t2.kind == "}":
                    break
                lx.unlex(t2)
                continue
            comp = Compound(name, lx.location(start.pos), saved_c.vars)
            self.type_map = dict(saved_types)
            self.c = comp
            comp.anon_offset = 2
            self.get_element(comp, "input", TUNNEL, "", comp.loc)
            self.get_element(comp, "output", TUNNEL, "", comp.loc)
            lx.unlex(t)
            new_ps = _PS("compound", ps)
            end: Token | None = None
            try:
                self.compound_arguments(comp)
                if new_ps.depth >= MAX_DEPTH:
                    self.err(t, "maximum compound element nesting depth exceeded")
                else:
                    end = self.statements(new_ps)
            finally:
                self.type_map = saved_types
                self.c = saved_c
            self.finish_compound(comp)
            if last is not None:
                last.overload = comp
            else:
                first = comp
            last = comp
            if end is not None and end.kind == "||":
                start = end
                continue
            break
        if last is not None:
            last.overload = extension
        typ: object = first if first is not None else (extension or ErrorType(name))
        if name:
            self.type_map[name] = typ
        return typ

    def compound_arguments(self, comp: Compound) -> None:
        lx = self.lx
        while True:
            t1 = lx.lex()
            if t1.kind == IDENT:
                t2 = lx.lex()
                if t2.kind == VARIABLE:
                    vartype, varname, vtok = t1.text, t2.text, t2
                else:
                    if comp.vars.names:
                        self.err(t1, "expected variable")
                    lx.unlex(t2)
                    lx.unlex(t1)
                    return
            elif t1.kind == VARIABLE:
                vartype, varname, vtok = "", t1.text, t1
            elif t1.kind == "|":
                return
            else:
                if comp.nformals > 0:
                    self.err(t1, "expected variable")
                lx.unlex(t1)
                return
            self.define_param(comp, varname, vartype, True, vtok)
            tsep = lx.lex()
            if tsep.kind == "|":
                return
            if tsep.kind != ",":
                self.err(tsep, "expected ',' or '|'")
                lx.unlex(tsep)
                return

    def define_param(self, comp: Compound, name: str, value: str, isformal: bool,
                     where: Token | Location) -> None:
        if not comp.vars.define(name, value, False):
            self.err(where, f"parameter '${name}' multiply defined")
            return
        if isformal:
            comp.nformals = n = len(comp.vars.names)
            values = comp.vars.values
            if value and value in values[:-1]:
                self.err(where, f"repeated keyword parameter '{value}' in compound element")
            if not comp.order_error and n > 1:
                prev = values[n - 2]
                if (not value and prev) or prev == "__REST__":
                    self.err(where, "compound element parameters out of order (the correct "
                                    "order is '[positional], [keywords], [__REST__]')")
                    comp.order_error = True

    def finish_compound(self, comp: Compound) -> None:
        pname = comp.name or "<anonymous>"
        comp.ninputs = self.check_pseudo(comp, 0, False, pname, comp.loc)
        comp.noutputs = self.check_pseudo(comp, 1, True, pname, comp.loc)
        for i, nm in enumerate(comp.enames):
            if nm.startswith(";"):
                self.deanonymize(comp, i)

    def elementclass(self, ps: _PS) -> None:
        lx = self.lx
        tname = lx.lex()
        if tname.kind == IDENT:
            name = tname.text
        else:
            lx.unlex(tname)
            self.err(tname, "expected element type name")
            name = ""
        tnext = lx.lex()
        if tnext.kind == "{":
            self.compound(ps, name, tnext)
        elif tnext.kind == IDENT:
            t = self.force_type(tnext.text)
            if name:
                self.type_map[name] = t
        else:
            self.syntax_error(tnext)
            if name:
                self.type_map[name] = ErrorType(name)

    # -- require and define ---------------------------------------------------------

    def require(self, tok: Token) -> None:
        lx = self.lx
        if lx.expect("(") is None:
            return
        text, _ = lx.config()
        lx.expect(")")
        lx.expect(";", report=False)
        for arg in argvec(text):
            words = spacevec(arg)
            if not words:
                continue
            typ = word_arg(words[0]) or ""
            if typ and typ not in ("compact_config", "package", "library") and len(words) == 1:
                words = [words[0], typ]
                typ = "package"
            value = string_arg(words[1]) if len(words) == 2 else None
            if typ == "compact_config" and len(words) == 1:
                continue
            if typ == "package" and value is not None:
                if value not in self.requirements:
                    self.requirements.append(value)
            elif typ == "library" and value is not None:
                self.require_library(value, tok)
            else:
                self.err(tok, "syntax error at requirement")

    def find_library(self, value: str) -> str | None:
        if os.path.isabs(value):
            return value if os.path.isfile(value) else None
        dirs = [os.path.dirname(self.lx.filename) or "."]
        dirs.extend(self.search_path)
        env = os.environ.get("CLICKPATH")
        if env:
            dirs.extend(d for d in env.split(":") if d)
        for d in dirs:
            for cand in (os.path.join(d, value), os.path.join(d, "conf", value)):
                if os.path.isfile(cand):
                    return cand
        return None

    def require_library(self, value: str, tok: Token) -> None:
        if self.c is not self.top:
            self.err(tok, "'require library' must be used at file scope")
            return
        try:
            fn = self.find_library(value)
        except (OSError, ValueError):
            fn = None
        if fn is None:
            self.err(tok, f"library '{value}' not found in CLICKPATH/conf")
            return
        key = os.path.realpath(fn)
        if key in self.libraries:
            return
        self.libraries.append(key)
        try:
            with open(fn, "rb") as f:
                data = f.read().decode("utf-8", "surrogateescape")
        except (OSError, ValueError) as e:
            self.err(tok, f"{fn}: {getattr(e, 'strerror', None) or e}")
            return
        self.parse_file_text(data, fn)

    def define(self, tok: Token) -> None:
        lx = self.lx
        if lx.expect("(") is None:
            return
        text, _ = lx.config()
        lx.expect(")")
        for arg in argvec(text):
            if not arg:
                continue
            var, rest = shift_spacevec(arg)
            if len(var) < 2 or var[0] != "$" or any(ch not in _VAR_CHARS for ch in var[1:]):
                self.err(tok, "bad 'define' declaration: not a variable")
            else:
                self.define_param(self.c, var[1:], rest, False, tok)

    # -- flattening ---------------------------------------------------------------

    def expand(self, text: str, ve: VarEnv, loc: Location) -> str:
        try:
            return expand(text, ve)
        except ExpansionTooLarge:
            self.err(loc, "parameter expansion too large (more than 1 MB)")
            return text

    def assign_arguments(self, comp: Compound, args: list[str]) -> list[str] | None:
        """Match args to comp's formals as Click's cp_assign_arguments; None if no match."""
        keys = comp.formal_types()
        if not keys or not keys[-1]:
            return list(args) if len(args) == len(keys) else None
        rest = keys[-1] == "__REST__"
        nvalues = len(keys) - 1 if rest else len(keys)
        npos = 0
        while npos < nvalues and keys[npos] == "":
            npos += 1
        values: list[str] = [""] * len(keys)
        kw_set = [False] * len(keys)
        used = [False] * len(args)
        supplied = 0
        any_kw = False
        kw_error = False
        for i, a in enumerate(args):
            if supplied >= npos:
                kv = split_keyword(a)
                j = -1
                if kv is not None:
                    for jj in range(npos, nvalues):
                        if keys[jj] == kv[0]:
                            j = jj
                            break
                if j >= 0:
                    values[j] = kv[1]
                    kw_set[j] = True
                    used[i] = True
                    any_kw = True
                    continue
                if any_kw:
                    if not rest:
                        kw_error = True
                    continue
            if supplied < npos:
                used[i] = True
                values[supplied] = a
            supplied += 1
        if kw_error or not all(kw_set[npos:nvalues]):
            return None
        if supplied < npos or (supplied > npos and not rest):
            return None
        if rest:
            values[nvalues] = ", ".join(a for a, u in zip(args, used) if not u)
        return values

    def resolve(self, first: Compound, nin: int, nout: int, args: list[str],
                loc: Location) -> tuple[object, list[str] | None]:
        ct: object = first
        closest: Compound | None = None
        nct = 0
        while isinstance(ct, Compound):
            nct += 1
            vals = self.assign_arguments(ct, args)
            if ct.ninputs == nin and ct.noutputs == nout and vals is not None:
                return ct, vals
            if vals is not None:
                closest = ct
            nxt = ct.overload
            if isinstance(nxt, Compound):
                ct = nxt
            elif nxt is not None:
                return nxt, None
            else:
                break
        if nct != 1 or closest is None:
            cands = []
            ct = first
            while isinstance(ct, Compound):
                cands.append(f"'{_signature(ct.name, ct.formal_types(), -1, ct.ninputs, ct.noutputs)}'"
                             f" ({ct.loc})")
                ct = ct.overload
            self.err(loc, f"no match for '{_signature(first.name, None, len(args), nin, nout)}'; "
                          f"candidates are: " + ", ".join(cands))
        if closest is not None:
            return closest, self.assign_arguments(closest, args)
        return None, None

    def expand_one(self, which: int, ve: VarEnv) -> tuple[list[int], VarEnv] | None:
        top = self.top
        if top.enames[which].startswith(";"):
            self.deanonymize(top, which)
        et = top.etypes[which]
        if et is TUNNEL:
            return None
        top.econfigs[which] = self.expand(top.econfigs[which], ve, top.elocs[which])
        if not isinstance(et, Compound):
            return None
        args = argvec(top.econfigs[which])
        found, vals = self.resolve(et, top.nin[which], top.nout[which], args, top.elocs[which])
        if found is None:
            top.etypes[which] = ErrorType(et.name)
            return None
        if not isinstance(found, Compound):
            top.etypes[which] = found
            return None
        new_ve = VarEnv(ve.parent_of(found.vars.depth))
        names = found.vars.names
        for k in range(found.nformals):
            new_ve.define(names[k], vals[k], True)
        for k in range(found.nformals, len(names)):
            new_ve.define(names[k], self.expand(found.vars.values[k], new_ve, top.elocs[which]),
                          True)
        return self.expand_into(found, which, new_ve), new_ve

    def expand_into(self, comp: Compound, which: int, ve: VarEnv) -> list[int]:
        top = self.top
        ename = top.enames[which]
        loc = top.elocs[which]
        top.etypes[which] = TUNNEL
        idx3 = self.add_tunnels(top, ename, loc)
        eidx_map = [idx3[1], idx3[2]]
        prefix = ename + "/"
        i = 2
        n = len(comp.enames)
        while i < n:
            cname = prefix + comp.enames[i]
            old = top.emap.get(cname)
            if old is not None:
                self.redeclaration("element", cname, loc, top.elocs[old])
                eidx_map.append(-1)
                i += 1
                continue
            if self.type_map.get(cname) is not None:
                self.err(loc, f"'{cname}' is an element class")
            if comp.etypes[i] is TUNNEL:
                eidx_map.extend(self.add_tunnels(top, cname, comp.elocs[i]))
                i += 3
            else:
                eidx_map.append(self.get_element(top, cname, comp.etypes[i],
                                                 self.expand(comp.econfigs[i], ve, comp.elocs[i]),
                                                 comp.elocs[i]))
                i += 1
        for f, fp, t, tp, cloc in comp.conns:
            if f < len(eidx_map) and t < len(eidx_map) and eidx_map[f] >= 0 and eidx_map[t] >= 0:
                top.connect(eidx_map[f], fp, eidx_map[t], tp, cloc)
        return [j for j in eidx_map[2:] if j >= 0]

    def find_tunnel(self, idx: int, port: int, isout: bool, insert: bool) -> _TEnd | None:
        key = (idx, port, isout)
        te = self.ends.get(key)
        if te is not None:
            return te
        if insert:
            te = self.ends[key] = _TEnd(idx, port, isout)
            return te
        other_idx = self.base.get((idx, isout))
        if other_idx is None:
            return None
        te = self.ends[key] = _TEnd(idx, port, isout)
        ote = self.find_tunnel(other_idx, port, not isout, True)
        te.other = ote
        ote.other = te
        return te

    def report_unused(self, te: _TEnd) -> None:
        top = self.top
        other = te.other
        inh, outh = (other, te) if te.isout else (te, other)
        in_name = _visible(top.enames[inh.idx])
        out_name = _visible(top.enames[outh.idx])
        if in_name + "/input" == out_name:
            msg = "'%s' input %d unused" if te.isout else "'%s' has no input %d"
            self.err(top.elocs[inh.idx], msg % (in_name, inh.port))
        elif in_name == out_name + "/output":
            msg = "'%s' has no output %d" if te.isout else "'%s' output %d unused"
            self.err(top.elocs[outh.idx], msg % (out_name, outh.port))
        else:
            self.err(top.elocs[other.idx], f"tunnel '{in_name} -> {out_name}' "
                                           f"{_PORT_NAMES[te.isout]} {te.port} unused")

    def expand_tunnel(self, root: _TEnd) -> list[tuple[int, int]]:
        """All real ports a tunnel end leads to (Click's TunnelEnd::expand, iterative)."""
        if root.expanded == 2:
            return root.correspond
        if root.expanded == 1:
            return []
        etypes = self.top.etypes

        def start(te: _TEnd) -> list:
            te.expanded = 1
            pending = te.correspond
            te.correspond = []
            if not pending:
                self.report_unused(te)
            return [te, pending, 0]

        stack = [start(root)]
        while stack:
            fr = stack[-1]
            te, pending, i = fr
            if i >= len(pending):
                te.expanded = 2
                stack.pop()
                if stack:
                    stack[-1][0].correspond.extend(te.correspond)
                continue
            fr[2] = i + 1
            idx, p = pending[i]
            if etypes[idx] is not TUNNEL:
                te.correspond.append((idx, p))
                continue
            child = self.find_tunnel(idx, p, te.isout, False)
            if child is None:
                if self.find_tunnel(idx, p, not te.isout, False) is not None:
                    self.err(self.top.elocs[idx], f"'{_visible(self.top.enames[idx])}' used as "
                                                  f"{_PORT_NAMES[te.isout]}")
                continue
            if child.expanded == 2:
                te.correspond.extend(child.correspond)
            elif child.expanded == 0:
                stack.append(start(child))
        return root.correspond

    def expand_port(self, idx: int, port: int, isout: bool) -> list[tuple[int, int]]:
        top = self.top
        if top.etypes[idx] is not TUNNEL:
            return [(idx, port)]
        te = self.find_tunnel(idx, port, isout, False)
        if te is not None:
            return self.expand_tunnel(te)
        if self.find_tunnel(idx, port, not isout, False) is not None:
            self.err(top.elocs[idx], f"'{_visible(top.enames[idx])}' used as {_PORT_NAMES[isout]}")
        return []

    def flatten(self) -> FlatGraph:
        top = self.top
        self.c = top
        for name, value in self.defines.items():
            top.vars.define(name, value, True)
        n0 = len(top.etypes)
        stack: list[list] = [[list(range(n0)), 0, top.vars]]
        while stack:
            fr = stack[-1]
            if fr[1] >= len(fr[0]):
                stack.pop()
                continue
            i = fr[0][fr[1]]
            fr[1] += 1
            res = self.expand_one(i, fr[2])
            if res is not None:
                stack.append([res[0], 0, res[1]])

        etypes = top.etypes
        rid = []
        nreal = 0
        for t in etypes:
            if t is TUNNEL:
                rid.append(-1)
            else:
                rid.append(nreal)
                nreal += 1

        conns = top.conns
        if self.base:
            for f, fp, t, tp, _ in conns:
                if rid[t] < 0:
                    te = self.find_tunnel(t, tp, False, False)
                    if te is not None:
                        te.other.correspond.append((f, fp))
                if rid[f] < 0:
                    te = self.find_tunnel(f, fp, True, False)
                    if te is not None:
                        te.other.correspond.append((t, tp))
        final: list[tuple[int, int, int, int, Location]] = []
        for f, fp, t, tp, loc in conns[:]:
            if rid[f] >= 0 and rid[t] >= 0:
                final.append((rid[f], fp, rid[t], tp, loc))
                continue
            hfrom = self.expand_port(f, fp, True)
            hto = self.expand_port(t, tp, False)
            for ff, ffp in hfrom:
                if rid[ff] < 0:
                    continue
                for tt, ttp in hto:
                    if rid[tt] >= 0:
                        final.append((rid[ff], ffp, rid[tt], ttp, loc))

        graph = FlatGraph()
        names: list[str] = []
        for i, t in enumerate(etypes):
            if t is TUNNEL:
                continue
            name = top.enames[i]
            names.append(name)
            cls = t if isinstance(t, str) else getattr(t, "name", "") or "<error>"
            graph.elements.append(ElementDecl(name, cls, top.econfigs[i], top.elocs[i]))
        final.sort(key=lambda c: c[:4])  # by (from, port, to, port), not by location
        prev = None
        gconns = graph.connections
        for f, fp, t, tp, loc in final:
            key = (f, fp, t, tp)
            if key == prev:
                continue
            prev = key
            gconns.append(Connection(names[f], fp, names[t], tp, loc))
        graph.requirements = list(self.requirements)
        return graph


class _TooLarge(Exception):
    pass


def suggest(name: str, candidates) -> str | None:
    """The closest candidate to `name` (for "did you mean" hints), or None."""
    import difflib
    try:
        m = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    except Exception:
        return None
    return m[0] if m else None


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in diags:
        key = (d.location, d.message, d.severity)
        if key in seen:
            continue
        seen.add(key)
        out.append(d)
    return out


def run(text: str, filename: str, **kwargs) -> FlatGraph:
    """Parse and flatten; raise ConfigError with every diagnostic if any is an error."""
    p = Parser(**kwargs)
    try:
        p.parse_file_text(text, filename)
        graph = p.flatten()
    except _TooLarge:
        p.diags.append(Diagnostic(Location(filename), f"configuration too large (more than "
                                                      f"{MAX_ELEMENTS} elements after expansion)"))
        graph = None
    diags = _dedupe(p.diags)
    if graph is None or any(d.severity == "error" for d in diags):
        raise ConfigError(diags)
    graph.warnings = diags
    return graph
