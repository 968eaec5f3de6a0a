"""Click's IPFilter / IPClassifier expression language.

Grammar (as Click's):

    expr   ::= orexpr | orexpr ? expr : orexpr [? expr : orexpr ...]
    orexpr ::= term (or|'||') term ...
    term   ::= factor [and|'&&'] factor ...       (juxtaposition is "and")
    factor ::= (not|'!') factor | '(' expr ')' | test
    test   ::= true | false | QUALIFIERS [ '[' POS[:LEN] ']' ] [& MASK] [RELOP] DATA

Qualifiers: src, dst (dest), src and dst, src or dst, ip, ether, not,
protocol names (tcp, udp, icmp, igmp, ipip, tcpudp, transp) and type words
(host, net, port, proto, opt, frag, unfrag, ect, ce, vers, hl, id, tos, dscp,
len, ttl, win, type).  DATA is a number, an IP address, a prefix
(10/8, 10.0.0.0/255.0.0.0, ADDR mask MASK), an Ethernet address, or a name
(port, protocol, TCP flag, ICMP type).  A test that only gives data borrows
its type from the previous test ("src port 80 or 81").

Semantics that are easy to get wrong, all Click's:
- transport tests (port, tcp opt, tcp win, icmp type, transp[...]) test the
  protocol and that the packet is a first fragment (fragment offset 0);
- ``X != v`` and the relations hold only where X exists: ``tcp port != 80``
  does not match UDP, but ``not tcp port 80`` does;
- ``port != 80`` and ``port <= 1023`` negate "src or dst port 80/ > 1023" as
  a whole: both ports must differ / be low;
- a test on bytes the packet does not have fails (so ``not`` of it holds).

Extension (not in Click): port ranges, ``dst port 1000-2000``.
One deliberate difference: a relation on a field the packet holds only part
of (a transport header cut inside a port) fails; Click may decide it from
the bytes present.
"""
from __future__ import annotations

import re
from collections import namedtuple

from .ir import (AND, BASE_MAC, BASE_NET, BASE_TRANS, FALSE, ITE, NOT, OR, TRUE,
                 ClassifyError, make_test)
from .program import Program, compile_rules

# ---------------------------------------------------------------------------
# Names

IP_PROTO_NAMES = {"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "udp": 17,
                  "tcpudp": 256, "transp": 257}
PROTO_TCP, PROTO_UDP, PROTO_ICMP = 6, 17, 1
PROTO_TCP_OR_UDP, PROTO_TRANSP = 256, 257

PORT_NAMES = {
    "echo": 7, "discard": 9, "daytime": 13, "chargen": 19, "ftp-data": 20, "ftp": 21,
    "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "dns": 53, "bootps": 67,
    "bootpc": 68, "tftp": 69, "finger": 79, "www": 80, "http": 80, "pop3": 110,
    "sunrpc": 111, "auth": 113, "nntp": 119, "ntp": 123, "netbios-ns": 137,
    "netbios-dgm": 138, "netbios-ssn": 139, "snmp": 161, "snmp-trap": 162,
    "irc": 194, "imap3": 220, "https": 443, "rip": 520, "route": 520,
    "imaps": 993, "pop3s": 995,
}
TCP_OPT_NAMES = {"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10, "urg": 0x20}
ICMP_TYPE_NAMES = {
    "echo-reply": 0, "unreachable": 3, "sourcequench": 4, "redirect": 5, "echo": 8,
    "routeradvert": 9, "routersolicit": 10, "timeexceeded": 11, "parameterproblem": 12,
    "timestamp": 13, "timestamp-reply": 14, "inforeq": 15, "inforeq-reply": 16,
    "maskreq": 17, "maskreq-reply": 18,
}

# Primitive types.  Header fields are Field tuples.
T_NONE, T_INT, T_HOST, T_PROTO, T_IPFRAG, T_PORT, T_TCPOPT, T_ETHER = \
    "none", "int", "host", "proto", "frag", "port", "tcpopt", "ether"
T_NET, T_IPUNFRAG, T_IPECT, T_IPCE, T_PORTRANGE = "net", "unfrag", "ect", "ce", "portrange"


class Field(namedtuple("Field", "name proto bitoff nbits")):
    """A header field: proto is the transport protocol (None for IP header
    fields); bitoff counts from the header start."""
    __slots__ = ()


F_LEN = Field("ip len", None, 16, 16)
F_ID = Field("ip id", None, 32, 16)
F_VERS = Field("ip vers", None, 0, 4)
F_HL = Field("ip hl", None, 4, 4)
F_TOS = Field("ip tos", None, 8, 8)
F_DSCP = Field("ip dscp", None, 8, 6)
F_TTL = Field("ip ttl", None, 64, 8)
F_TCP_WIN = Field("tcp win", PROTO_TCP, 112, 16)
F_ICMP_TYPE = Field("icmp type", PROTO_ICMP, 0, 8)

TYPE_WORDS = {
    "ce": T_IPCE, "dscp": F_DSCP, "ect": T_IPECT, "frag": T_IPFRAG, "hl": F_HL,
    "host": T_HOST, "id": F_ID, "len": F_LEN, "net": T_NET, "opt": T_TCPOPT,
    "port": T_PORT, "proto": T_PROTO, "tos": F_TOS, "ttl": F_TTL, "type": F_ICMP_TYPE,
    "unfrag": T_IPUNFRAG, "vers": F_VERS, "win": F_TCP_WIN,
}
SYNTAX_WORDS = {"dest", "dst", "ether", "ip", "not", "src"}

SD_SRC, SD_DST, SD_AND, SD_OR = "src", "dst", "src and dst", "src or dst"
OP_EQ, OP_GT, OP_LT = "==", ">", "<"


def _proto_name(p):
    for k, v in IP_PROTO_NAMES.items():
        if v == p:
            return k
    return f"ip proto {p}"


def _type_name(t, srcdst=None):
    if isinstance(t, Field):
        s = t.name
    else:
        s = {T_NONE: "<none>", T_HOST: "ip host", T_PROTO: "proto", T_ETHER: "ether host",
             T_IPFRAG: "ip frag", T_PORT: "port", T_TCPOPT: "tcp opt", T_NET: "ip net",
             T_IPUNFRAG: "ip unfrag", T_IPECT: "ip ect", T_IPCE: "ip ce"}.get(t, str(t))
    return f"{srcdst} {s}" if srcdst else s


# ---------------------------------------------------------------------------
# Words

class Word(namedtuple("Word", "text col")):
    __slots__ = ()


_WORDCH = re.compile(r"[A-Za-z0-9\-./@_:]+")


def tokenize(text: str) -> list[Word]:
    words = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return words
        c = text[i]
        if c in "&|" and i + 1 < n and text[i + 1] == c:
            words.append(Word(text[i:i + 2], i))
            i += 2
        elif c in "<>!=" and i + 1 < n and text[i + 1] == "=":
            words.append(Word(text[i:i + 2], i))
            i += 2
        else:
            m = _WORDCH.match(text, i)
            if m:
                words.append(Word(m.group(), i))
                i = m.end()
            else:
                words.append(Word(c, i))
                i += 1


def parse_int(s: str):
    """Click's IntArg: decimal, 0x hex, leading-0 octal, optional sign."""
    m = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", s)
    if not m:
        return None
    body = m.group(2)
    if body[:2].lower() == "0x":
        v = int(body, 16)
    elif len(body) > 1 and body[0] == "0":
        v = int(body, 8)
    else:
        v = int(body)
    v = -v if m.group(1) == "-" else v
    if not -0x80000000 <= v <= 0xFFFFFFFF:
        return None
    return v


def parse_ip(s: str):
    parts = s.split(".")
    if len(parts) != 4:
        return None
    try:
        vals = [int(p, 10) for p in parts]
    except ValueError:
        return None
    if any(not p.isdigit() or v > 255 for p, v in zip(parts, vals)):
        return None
    return (vals[0] << 24) | (vals[1] << 16) | (vals[2] << 8) | vals[3]


def parse_prefix(s: str, bare_ok: bool = False):
    """'10/8', '10.0.0.0/8', '10.0.0.0/255.0.0.0' -> (addr, mask)."""
    if "/" not in s:
        if bare_ok:
            a = parse_ip(s)
            return None if a is None else (a, 0xFFFFFFFF)
        return None
    addr, _, plen = s.partition("/")
    parts = addr.split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        return None
    vals = [int(p) for p in parts] + [0] * (4 - len(parts))
    a = (vals[0] << 24) | (vals[1] << 16) | (vals[2] << 8) | vals[3]
    if plen.isdigit():
        n = int(plen)
        if n > 32:
            return None
        mask = (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF
    else:
        mask = parse_ip(plen)
        if mask is None:
            return None
    return a & mask, mask


def parse_ether(s: str):
    parts = re.split(r"[:\-]", s)
    if len(parts) != 6 or not all(re.fullmatch(r"[0-9a-fA-F]{1,2}", p) for p in parts):
        return None
    if ":" in s and "-" in s:
        return None
    return bytes(int(p, 16) for p in parts)


# ---------------------------------------------------------------------------
# Primitives

class Prim:
    __slots__ = ("type", "data", "op", "op_negated", "srcdst", "transp", "u", "mask",
                 "col", "data_col", "type_col", "mask_col")

    def __init__(self):
        self.clear()

    def clear(self):
        self.type = T_NONE
        self.data = T_NONE
        self.op = OP_EQ
        self.op_negated = False
        self.srcdst = None
        self.transp = None
        self.u = 0
        self.mask = 0
        self.col = self.data_col = self.type_col = self.mask_col = -1

    def copy(self):
        p = Prim()
        for s in Prim.__slots__:
            setattr(p, s, getattr(self, s))
        return p

    def op_text(self):
        if self.op == OP_GT:
            return "<=" if self.op_negated else ">"
        if self.op == OP_LT:
            return ">=" if self.op_negated else "<"
        return "!=" if self.op_negated else "=="


class _Parser:
    def __init__(self, text: str, words: list[Word], index: int, warnings: list):
        self.text = text
        self.w = words
        self.n = len(words)
        self.index = index
        self.warnings = warnings
        self.prev = Prim()

    # -- helpers
    def err(self, msg, pos=None, col=None):
        if col is None:
            if pos is None or pos >= self.n:
                col = len(self.text)
            else:
                col = self.w[pos].col
        length = len(self.w[pos].text) if pos is not None and pos < self.n else 1
        raise ClassifyError(msg, col, self.index, length)

    def warn(self, msg, col):
        self.warnings.append((msg, self.index, col))

    def word(self, pos):
        return self.w[pos].text if pos < self.n else None

    # -- grammar
    def parse_expr(self, pos):
        parts = []
        e, pos = self.parse_orexpr(pos)
        parts.append(e)
        while self.word(pos) == "?":
            start = pos + 1
            then, pos = self.parse_expr(start)
            if pos == start or self.word(pos) != ":":
                self.err("missing ':' in ternary expression (the ':' needs spaces around it)", pos)
            els, pos = self.parse_orexpr(pos + 1)
            parts += [then, els]
        e = parts[-1]
        for k in range(len(parts) - 3, -1, -2):
            e = ITE(parts[k], parts[k + 1], e)
        return e, pos

    def parse_orexpr(self, pos):
        terms = []
        while True:
            t, pos = self.parse_term(pos)
            terms.append(t)
            if self.word(pos) in ("or", "||"):
                pos += 1
            else:
                return OR(*terms), pos

    def parse_term(self, pos):
        factors = []
        required = True
        while True:
            f, npos = self.parse_factor(pos, False)
            if npos == pos:
                if required:
                    if pos > 0 and self.w[pos - 1].text in ("and", "&&", "or", "||", "(", "?",
                                                            ":", "not", "!"):
                        self.err(f"missing expression after '{self.w[pos - 1].text}'", pos)
                    self.err("missing expression", pos)
                break
            factors.append(f)
            pos = npos
            if self.word(pos) in ("and", "&&"):
                pos += 1
                required = True
            else:
                required = False
        return AND(*factors), pos

    def parse_factor(self, pos, negated):
        wd = self.word(pos)
        if wd in ("not", "!"):
            f, npos = self.parse_factor(pos + 1, not negated)
            if npos == pos + 1:
                self.err(f"missing expression after '{wd}'", pos + 1)
            return f, npos
        if wd == "(":
            e, npos = self.parse_expr(pos + 1)
            if npos == pos + 1:
                self.err("missing expression after '('", pos + 1)
            if self.word(npos) == ")":
                npos += 1
            else:
                self.err("missing ')'", npos)
            return (NOT(e) if negated else e), npos
        return self.parse_test(pos, negated)

    def lookup(self, wd, typ, proto, pos=None):
        """-> ('type', T) | ('proto'|'port'|'tcpopt'|'icmptype', value) | None.
        Raises on ambiguous or meaningless names when pos is given."""
        if typ in (T_NONE, "typequery"):
            if wd in SYNTAX_WORDS:
                return None
            if wd in TYPE_WORDS:
                return ("type", TYPE_WORDS[wd])
        got = []
        if wd in IP_PROTO_NAMES:
            got.append(("proto", IP_PROTO_NAMES[wd], typ in (T_NONE, T_PROTO)))
        if wd in PORT_NAMES:
            got.append(("port", PORT_NAMES[wd], typ in (T_NONE, T_PORT)
                        and proto in (None, PROTO_TCP, PROTO_UDP, PROTO_TCP_OR_UDP)))
        if wd in TCP_OPT_NAMES:
            got.append(("tcpopt", TCP_OPT_NAMES[wd], typ in (T_NONE, T_TCPOPT)
                        and proto in (None, PROTO_TCP, PROTO_TCP_OR_UDP)))
        if wd in ICMP_TYPE_NAMES:
            got.append(("icmptype", ICMP_TYPE_NAMES[wd], typ in (T_NONE, F_ICMP_TYPE)
                        and proto in (None, PROTO_ICMP)))
        if not got:
            return None
        ok = [g for g in got if g[2]]
        if len(ok) == 1:
            return (ok[0][0], ok[0][1])
        if pos is None:
            return ("bad", None)
        tries = ", ".join(f"'{_kind_prefix(g[0])}{wd}'" for g in got)
        self.err(f"'{wd}' is {'ambiguous' if len(ok) > 1 else 'meaningless here'}; try {tries}",
                 pos)

    def parse_test(self, pos, negated):
        wd = self.word(pos)
        if wd is None or wd in (")", "||", "or", "?", ":"):
            return None, pos
        if wd == "true":
            return (FALSE if negated else TRUE), pos + 1
        if wd == "false":
            return (TRUE if negated else FALSE), pos + 1

        first = pos
        prim = Prim()
        prim.col = self.w[pos].col
        header = None

        # qualifiers
        while pos < self.n:
            wd = self.w[pos].text
            lk = self.lookup(wd, T_NONE, None)
            if lk and lk[0] == "type":
                if prim.type != T_NONE:
                    self.err("type specified twice", pos)
                prim.type = lk[1]
                prim.type_col = self.w[pos].col
                if isinstance(lk[1], Field) and lk[1].proto is not None:
                    self._set_transp(prim, lk[1].proto, pos)
            elif lk and lk[0] == "proto":
                self._set_transp(prim, lk[1], pos)
            elif lk is not None:
                break
            elif wd == "src":
                nxt = self.word(pos + 2)
                if nxt in ("dst", "dest") and self.word(pos + 1) in ("and", "&&", "or", "||"):
                    sd = SD_AND if self.word(pos + 1) in ("and", "&&") else SD_OR
                    self._set_srcdst(prim, sd, pos)
                    pos += 2
                else:
                    self._set_srcdst(prim, SD_SRC, pos)
            elif wd in ("dst", "dest"):
                self._set_srcdst(prim, SD_DST, pos)
            elif wd in ("ip", "ether"):
                if header:
                    break
                header = wd[0]
            elif wd in ("not", "!"):
                negated = not negated
            else:
                break
            pos += 1

        if pos != first:
            self.prev.clear()
        if self.prev.data == T_ETHER:
            header = "e"

        def cur():
            return self.w[pos].text if pos < self.n - 1 else None

        wd = cur()
        if wd == "[" and pos > first and prim.type == T_NONE:
            pos = self._parse_brackets(prim, pos)
            wd = cur()

        mask_kind, provided = None, 0
        if wd == "&" and pos < self.n - 1:
            mw = self.w[pos + 1].text
            prim.mask_col = self.w[pos + 1].col
            v = parse_int(mw)
            if v is not None:
                mask_kind, provided = T_INT, v & 0xFFFFFFFF
            elif header != "e" and parse_ip(mw) is not None:
                mask_kind, provided = T_HOST, parse_ip(mw)
            elif header != "i" and parse_ether(mw) is not None:
                mask_kind, provided = T_ETHER, parse_ether(mw)
            else:
                self.err(f"bad mask '{mw}'", pos + 1)
            if mask_kind != T_ETHER and not provided:
                self.err("zero mask", pos + 1)
            pos += 2
            wd = cur()

        op_col = -1
        if wd in ("=", "==", "!=", ">", "<", ">=", "<="):
            op_col = self.w[pos].col
            prim.op, prim.op_negated = {"=": (OP_EQ, False), "==": (OP_EQ, False),
                                        "!=": (OP_EQ, True), ">": (OP_GT, False),
                                        "<": (OP_LT, False), ">=": (OP_LT, True),
                                        "<=": (OP_GT, True)}[wd]
            pos += 1

        if pos < self.n:
            wd = self.w[pos].text
            dpos = pos
            lk = self.lookup(wd, prim.type, prim.transp, pos)
            pos += 1
            prim.data_col = self.w[dpos].col
            if lk is not None and lk[0] != "type":
                kind, val = lk
                prim.data = {"proto": T_PROTO, "port": T_PORT, "tcpopt": T_TCPOPT,
                             "icmptype": F_ICMP_TYPE}[kind]
                prim.u = val
            elif parse_int(wd) is not None:
                prim.data, prim.u = T_INT, parse_int(wd)
            elif header != "e" and parse_ip(wd) is not None:
                prim.u = parse_ip(wd)
                if self.word(pos) == "mask" and pos + 1 < self.n and \
                        parse_ip(self.w[pos + 1].text) is not None:
                    prim.mask = parse_ip(self.w[pos + 1].text)
                    prim.data = T_NET
                    pos += 2
                elif prim.type == T_NET:
                    prim.data, prim.mask = T_NET, 0xFFFFFFFF
                else:
                    prim.data = T_HOST
            elif header != "e" and parse_prefix(wd) is not None:
                prim.data = T_NET
                prim.u, prim.mask = parse_prefix(wd)
            elif header != "i" and parse_ether(wd) is not None:
                prim.data, prim.u = T_ETHER, parse_ether(wd)
            elif re.fullmatch(r"\d+-\d+", wd):
                lo, hi = (int(x) for x in wd.split("-"))
                if lo > hi or hi > 0xFFFF:
                    self.err(f"bad port range '{wd}'", dpos)
                prim.data, prim.u = T_PORTRANGE, (lo, hi)
            else:
                if prim.op != OP_EQ or prim.op_negated:
                    self.err(f"dangling operator near '{wd}'", dpos)
                pos -= 1
                prim.data_col = -1

        if pos == first:
            self.err(f"unknown word '{self.w[pos].text}'" if pos < self.n else "empty term", pos)

        self.check(prim, header, mask_kind, provided, first, op_col)
        e = self.compile_prim(prim)
        self.prev = prim
        return (NOT(e) if negated else e), pos

    def _set_transp(self, prim, p, pos):
        if prim.transp is not None and prim.transp != p:
            self.err("transport protocol specified twice", pos)
        prim.transp = p

    def _set_srcdst(self, prim, sd, pos):
        if prim.srcdst is not None:
            self.err("'src' or 'dst' specified twice", pos)
        prim.srcdst = sd

    def _parse_brackets(self, prim, pos):
        start = pos
        pos += 1
        combo = ""
        while pos < self.n and self.w[pos].text != "]":
            combo += self.w[pos].text
            pos += 1
        if pos >= self.n:
            self.err("missing ']'", pos)
        pos += 1
        m = re.fullmatch(r"(\w+)(?::(\w+)|,(\w+))?", combo)
        fpos = flen = None
        if m:
            fpos = parse_int(m.group(1))
            if m.group(2) is not None:
                flen = parse_int(m.group(2))
            elif m.group(3) is not None:
                p2 = parse_int(m.group(3))
                flen = None if p2 is None or fpos is None else p2 - fpos + 1
            else:
                flen = 1
        if fpos is None or flen is None or fpos < 0:
            self.err("syntax error after '[', expected '[POS]' or '[POS:LEN]'", start + 1)
        if not 1 <= flen <= 4:
            self.err("LEN in '[POS:LEN]' out of range, should be between 1 and 4", start + 1)
        if (fpos & ~3) != ((fpos + flen - 1) & ~3):
            self.err(f"field [{fpos}:{flen}] does not fit in a single word", start + 1)
        if fpos + flen > 0xFF00:
            self.err("field position too large", start + 1)
        hdr = "ip" if prim.transp is None else _proto_name(prim.transp)
        prim.type = Field(f"{hdr}[{fpos}:{flen}]", prim.transp if prim.transp is not None else None,
                          fpos * 8, flen * 8)
        prim.type_col = self.w[start].col
        return pos

    # -- semantic checks (Click's Primitive::check)
    def check(self, prim, header, mask_kind, provided, first, op_col):
        prev = self.prev
        old_srcdst = prim.srcdst

        def bad(msg, col=None):
            if col is None:
                col = prim.data_col if prim.data_col >= 0 else (
                    prim.type_col if prim.type_col >= 0 else prim.col)
            raise ClassifyError(f"'{_type_name(prim.type, prim.srcdst)}': {msg}", col, self.index)

        if prim.type == T_NONE:
            d = prim.data
            if d == T_INT:
                if not (isinstance(prev.type, Field) or prev.type in (T_PROTO, T_PORT)):
                    raise ClassifyError("specify header field or 'port'",
                                        prim.data_col, self.index)
                d = prev.type
                prim.data = d
            if d in (T_HOST, T_NET, T_TCPOPT, T_ETHER):
                prim.type = d
                if prim.srcdst is None:
                    prim.srcdst = prev.srcdst
            elif d == T_PROTO:
                prim.type = T_PROTO
            elif d in (T_PORT, T_PORTRANGE):
                prim.type = T_PORT
                if prim.srcdst is None:
                    prim.srcdst = prev.srcdst
                if prim.transp is None:
                    prim.transp = prev.transp
            elif d == T_NONE:
                if prim.transp is not None:
                    prim.type = T_PROTO
                else:
                    raise ClassifyError("partial directive", prim.col, self.index)
            elif isinstance(d, Field):
                prim.type = d
                if d.proto is not None and prim.transp is None:
                    prim.transp = d.proto
            else:
                raise ClassifyError("unknown type", prim.col, self.index)

        if header is None:
            header = "e" if prim.data == T_ETHER else "i"
        if header == "e" and prim.type == T_HOST:
            prim.type = T_ETHER

        t = prim.type
        if t != T_ETHER and header != "i":
            bad("ip only")
        if t == T_PORTRANGE:
            t = prim.type = T_PORT

        if t == T_HOST:
            if prim.data != T_HOST:
                bad("address missing")
            if prim.op != OP_EQ:
                bad("operator not supported", op_col)
            prim.mask = 0xFFFFFFFF
            if mask_kind not in (None, T_INT, T_HOST):
                bad("bad mask")
            if mask_kind:
                prim.mask = provided
        elif t == T_NET:
            if prim.data != T_NET:
                bad("address missing")
            if prim.op != OP_EQ:
                bad("operator not supported", op_col)
            prim.type = T_HOST
            if mask_kind not in (None, T_INT, T_HOST):
                bad("bad mask")
            if mask_kind:
                prim.mask = provided
        elif t == T_ETHER:
            if header != "e" or prim.data != T_ETHER:
                bad("address missing")
            if prim.op != OP_EQ:
                bad("operator not supported", op_col)
            prim.mask = b"\xff" * 6
            if mask_kind not in (None, T_ETHER):
                bad("bad mask")
            if mask_kind:
                prim.mask = provided
        elif t == T_PROTO:
            if prim.data in (T_INT, T_PROTO):
                if prim.transp is not None and prim.transp != prim.u:
                    bad("specified twice")
                prim.data = T_NONE
            else:
                prim.u = prim.transp if prim.transp is not None else -1
            prim.transp = None
            if prim.data != T_NONE or prim.u == -1:
                bad("value missing")
            if prim.u >= 256:
                if prim.op != OP_EQ or mask_kind:
                    bad("operator or mask not supported")
                prim.mask = 0xFF
            else:
                if mask_kind not in (None, T_INT):
                    bad("bad mask")
                self.set_mask(prim, 0xFF, provided if mask_kind else 0)
            if prim.op == OP_EQ and prim.mask == 0xFF and not prim.op_negated:
                prim.transp = prim.u
        elif t == T_PORT:
            if prim.data == T_INT:
                prim.data = T_PORT
            if prim.data not in (T_PORT, T_PORTRANGE):
                bad("value missing")
            if prim.transp is None:
                prim.transp = PROTO_TCP_OR_UDP
            elif prim.transp not in (PROTO_TCP, PROTO_UDP, PROTO_TCP_OR_UDP):
                bad(f"bad protocol {_proto_name(prim.transp)}")
            if mask_kind not in (None, T_INT):
                bad("bad mask")
            if prim.data == T_PORTRANGE:
                if prim.op != OP_EQ or mask_kind:
                    bad("operator or mask not supported with a port range", op_col)
                prim.mask = 0xFFFF
            else:
                self.set_mask(prim, 0xFFFF, provided if mask_kind else 0)
        elif t == T_TCPOPT:
            if prim.data == T_INT:
                prim.data = T_TCPOPT
            if prim.data != T_TCPOPT:
                bad("value missing")
            if prim.transp is None:
                prim.transp = PROTO_TCP
            elif prim.transp != PROTO_TCP:
                bad(f"bad protocol {_proto_name(prim.transp)}")
            if prim.op != OP_EQ or prim.op_negated or mask_kind:
                bad("operator or mask not supported", op_col)
            if not 0 <= prim.u <= 255:
                bad("value out of range")
            prim.mask = prim.u
        elif t == T_IPECT:
            if prim.data not in (T_NONE, T_INT):
                bad("value missing")
            if prim.data == T_NONE:
                prim.u = 0
                prim.op_negated = True
            elif mask_kind not in (None, T_INT):
                bad("bad mask")
            prim.type = F_TOS
            self.set_mask(prim, 0x3, provided if mask_kind else 0)
        elif t == T_IPCE:
            if prim.data != T_NONE or mask_kind:
                bad("value not supported")
            prim.mask, prim.u, prim.type = 3, 3, F_TOS
        elif t in (T_IPFRAG, T_IPUNFRAG):
            if prim.data != T_NONE or mask_kind:
                bad("value not supported")
            if t == T_IPUNFRAG:
                prim.op_negated = True
            prim.type = T_IPFRAG
        elif isinstance(t, Field):
            if prim.data != T_INT and prim.data != t:
                bad("value missing")
            if mask_kind not in (None, T_INT):
                bad("bad mask")
            self.set_mask(prim, (1 << t.nbits) - 1, provided if mask_kind else 0)
        else:
            bad("unknown type")

        if prim.type in (T_HOST, T_PORT, T_ETHER):
            if prim.srcdst is None:
                prim.srcdst = SD_OR
        elif old_srcdst is not None:
            self.warn(f"'{_type_name(prim.type)}': 'src' or 'dst' ignored", prim.col)

    def set_mask(self, prim, full, provided):
        this = provided or full
        if this & ~full:
            raise ClassifyError(f"'{_type_name(prim.type, prim.srcdst)}': mask out of range, "
                                f"bound 0x{full:X}", prim.mask_col, self.index)
        u = prim.u
        if prim.op in (OP_GT, OP_LT):
            if u < 0 or (prim.op == OP_LT and (u == 0 or u > this)) or \
                    (prim.op == OP_GT and u >= this):
                will_be = (not prim.op_negated) if (prim.op == OP_LT and u > this) \
                    else prim.op_negated
                if u < 0:
                    will_be = (prim.op == OP_GT) != prim.op_negated
                self.warn(f"relation '{prim.op_text()} {u}' is always "
                          f"{'true' if will_be else 'false'} (range 0-{this})", prim.data_col)
                prim.op, prim.u, prim.mask = OP_EQ, 0, 0
                prim.op_negated = not will_be
                return
            if prim.op == OP_LT:
                u -= 1
                prim.op_negated = not prim.op_negated
                prim.op = OP_GT
            # largest value <= u made of mask bits only
            if u & ~this:
                top = u & ~this
                hb = top.bit_length() - 1
                u = (u | ((1 << hb) - 1)) & this
            prim.u, prim.mask = u, this
            return
        if u < 0 or u > full:
            raise ClassifyError(f"'{_type_name(prim.type, prim.srcdst)}': value out of range, "
                                f"bound {full}", prim.data_col, self.index)
        prim.u, prim.mask = u & this, this

    # -- code generation
    def compile_prim(self, prim):
        parts = []
        t = prim.type
        if prim.transp is not None:
            parts.append(proto_expr(prim.transp))
        if t in (T_PORT, T_TCPOPT) or (isinstance(t, Field) and t.proto is not None):
            parts.append(FIRST_FRAG)

        if t == T_HOST:
            src = make_test(BASE_NET, 12, prim.mask, prim.u)
            dst = make_test(BASE_NET, 16, prim.mask, prim.u)
            parts.append(_srcdst(prim, src, dst))
        elif t == T_ETHER:
            parts.append(_srcdst(prim, _ether_test(6, prim.u, prim.mask),
                                 _ether_test(0, prim.u, prim.mask)))
        elif t == T_PROTO:
            if prim.u < 256:
                parts.append(comparison(prim, BASE_NET, 8, 16, 2, negate=True))
        elif t == T_IPFRAG:
            unfrag = make_test(BASE_NET, 4, 0x3FFF, 0)
            parts.append(unfrag if prim.op_negated else NOT(unfrag, flip=True))
        elif t == T_PORT:
            if prim.data == T_PORTRANGE:
                lo, hi = prim.u
                src = _range(BASE_TRANS, 0, 16, 2, lo, hi)
                dst = _range(BASE_TRANS, 0, 0, 4, lo, hi)
            else:
                src = comparison(prim, BASE_TRANS, 0, 16, 2, negate=False)
                dst = comparison(prim, BASE_TRANS, 0, 0, 4, negate=False)
            parts.append(_srcdst(prim, src, dst))
        elif t == T_TCPOPT:
            parts.append(make_test(BASE_TRANS, 12, prim.mask << 16, prim.u << 16, need=2))
        elif isinstance(t, Field):
            woff = (t.bitoff // 8) & ~3
            bit = t.bitoff & 31
            shift = 32 - (bit + t.nbits)
            need = (bit + t.nbits + 7) // 8
            base = BASE_TRANS if t.proto is not None else BASE_NET
            parts.append(comparison(prim, base, woff, shift, need, negate=True))
        return AND(*parts)


def _kind_prefix(kind):
    return {"proto": "ip proto ", "port": "port ", "tcpopt": "tcp opt ",
            "icmptype": "icmp type "}[kind]


FIRST_FRAG = make_test(BASE_NET, 4, 0x1FFF, 0)


def proto_expr(p):
    if p == PROTO_TCP_OR_UDP:
        return OR(proto_expr(PROTO_TCP), proto_expr(PROTO_UDP))
    if p >= 256:
        return TRUE
    return make_test(BASE_NET, 8, 0xFF << 16, p << 16)


def _srcdst(prim, src, dst):
    sd = prim.srcdst
    if sd == SD_SRC:
        e = src
    elif sd == SD_DST:
        e = dst
    elif sd == SD_AND:
        e = AND(src, dst)
    else:
        e = OR(src, dst)
    return NOT(e, flip=True) if prim.op_negated else e


def _ether_test(off, addr, mask):
    """6 bytes at MAC header offset `off`; every word needs all 6 bytes."""
    a = int.from_bytes(addr, "big")
    m = int.from_bytes(mask, "big")
    parts = []
    for woff in sorted({off & ~3, (off + 4) & ~3, (off + 5) & ~3}):
        wm = wv = 0
        for k in range(4):
            pos = woff + k
            if off <= pos < off + 6:
                sh = 8 * (3 - k)
                byte_sh = 8 * (5 - (pos - off))
                wm |= ((m >> byte_sh) & 0xFF) << sh
                wv |= ((a >> byte_sh) & 0xFF) << sh
        parts.append(make_test(BASE_MAC, woff, wm, wv, need=off + 6 - woff))
    return AND(*parts)


def _greater(base, woff, shift, need, mask, u):
    """(field & mask) > u, where u is made of mask bits; field = word >> shift."""
    bits = [b for b in range(31, -1, -1) if mask >> b & 1]
    return _greater_bits(base, woff, shift, need, bits, u)


def _greater_bits(base, woff, shift, need, bits, u):
    if not bits or all(u >> b & 1 for b in bits):
        return FALSE
    top = u >> bits[0] & 1
    run = []
    for b in bits:
        if (u >> b & 1) != top:
            break
        run.append(b)
    rest = bits[len(run):]
    rmask = sum(1 << b for b in run)
    if top:
        t = make_test(base, woff, (rmask << shift) & 0xFFFFFFFF, (rmask << shift) & 0xFFFFFFFF, need)
        return AND(t, _greater_bits(base, woff, shift, need, rest, u))
    t = make_test(base, woff, (rmask << shift) & 0xFFFFFFFF, 0, need)
    return OR(NOT(t, flip=True), _greater_bits(base, woff, shift, need, rest, u))


def comparison(prim, base, woff, shift, need, negate):
    """The relation prim.op/prim.u/prim.mask on the field word>>shift.  With
    ``negate``, a negated operator is applied here (keeping short packets
    failing); otherwise the caller applies it."""
    if prim.op == OP_EQ:
        e = make_test(base, woff, (prim.mask << shift) & 0xFFFFFFFF,
                      (prim.u << shift) & 0xFFFFFFFF, need)
    else:
        e = _greater(base, woff, shift, need, prim.mask, prim.u)
    if prim.op_negated and negate:
        e = NOT(e, flip=True)
    return e


def _range(base, woff, shift, need, lo, hi):
    lo_e = TRUE if lo == 0 else _greater(base, woff, shift, need, 0xFFFF, lo - 1)
    hi_e = NOT(_greater(base, woff, shift, need, 0xFFFF, hi), flip=True)
    return AND(lo_e, hi_e)


# ---------------------------------------------------------------------------
# Entry points

def parse_expression(text: str, index: int = -1, warnings: list | None = None,
                     words: list[Word] | None = None, start: int = 0):
    """An IPClassifier pattern (no action word) -> boolean expression."""
    if warnings is None:
        warnings = []
    if words is None:
        words = tokenize(text)
    rest = [w.text for w in words[start:]]
    if not rest or rest in (["-"], ["any"], ["all"]):
        return TRUE
    p = _Parser(text, words, index, warnings)
    e, pos = p.parse_expr(start)
    if pos < len(words):
        p.err(f"garbage after expression at '{words[pos].text}'", pos)
    return e


def parse_rule(text: str, noutputs: int, index: int = -1, warnings: list | None = None):
    """An IPFilter rule 'ACTION PATTERN' -> (expression, output or -1)."""
    if warnings is None:
        warnings = []
    words = tokenize(text)
    if not words:
        raise ClassifyError("empty pattern", 0, index)
    act = words[0]
    if act.text == "allow":
        if noutputs == 0:
            raise ClassifyError("'allow' is meaningless, element has zero outputs", act.col, index)
        out = 0
    elif act.text in ("deny", "drop"):
        out = -1
        if act.text == "deny" and noutputs > 1:
            warnings.append(("meaning of 'deny' has changed (now it means 'drop')", index, act.col))
    else:
        v = parse_int(act.text)
        if v is None:
            raise ClassifyError(f"unknown action '{act.text}' (expected allow, deny, drop or "
                                f"an output number)", act.col, index, len(act.text))
        if not 0 <= v < noutputs:
            raise ClassifyError(f"output {v} out of range (element has {noutputs} outputs)",
                                act.col, index, len(act.text))
        out = v
    return parse_expression(text, index, warnings, words, 1), out


def compile_ipfilter(rules: list[str], noutputs: int = 1, optimize: bool = True) -> Program:
    warnings: list = []
    parsed = [parse_rule(r, noutputs, idx, warnings) for idx, r in enumerate(rules)]
    prog = compile_rules(parsed, noutputs=noutputs, optimize_program=optimize)
    prog.warnings = [(m, i, c) for m, i, c in warnings] + \
        [(m, i, -1) for m, i in prog.warnings if not parsed[i][1] < 0]
    return prog


def compile_ipclassifier(patterns: list[str], optimize: bool = True) -> Program:
    warnings: list = []
    parsed = [(parse_expression(p, idx, warnings), idx) for idx, p in enumerate(patterns)]
    prog = compile_rules(parsed, noutputs=len(patterns), optimize_program=optimize)
    prog.warnings = [(m, i, c) for m, i, c in warnings] + [(m, i, -1) for m, i in prog.warnings]
    return prog
