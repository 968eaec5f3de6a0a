"""Click's configuration-string primitives, as its `confparse` defines them.

These functions treat a configuration string the way Click does: comments
(`//`, `/* */`) count as space, single and double quotes protect commas and
spaces, and a `\\<...>` hex-data sequence is one token.  They never raise on
bad input; malformed quotes simply run to the end of the string.

Used by the config-language front end (`define`, `require`, compound
arguments, variable expansion) and by `clickpy.args`.
"""
from __future__ import annotations

SPACE = " \t\n\r\f\v"
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_VAR_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_KEYWORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:?!")
_HEX = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}

# Characters that end a run needing no special treatment while splitting.
_NOT_PLAIN = frozenset(SPACE + "/,'\"\\")


def skip_comment(s: str, i: int) -> int:
    """Index just past the comment starting at s[i] (`//...` or `/*...*/`)."""
    end = len(s)
    if s[i + 1] == "/":
        j = i + 2
        while j < end and s[j] != "\n" and s[j] != "\r":
            j += 1
        if j >= end:
            return end
        if s[j] == "\r" and j + 1 < end and s[j + 1] == "\n":
            j += 1
        return j + 1
    k = s.find("*/", i + 2)
    return end if k < 0 else k + 2


def skip_comment_space(s: str, i: int) -> int:
    """First index at or after i that is neither space nor inside a comment."""
    end = len(s)
    while i < end:
        c = s[i]
        if c in SPACE:
            i += 1
        elif c == "/" and i + 1 < end and s[i + 1] in "/*":
            i = skip_comment(s, i)
        else:
            break
    return i


def skip_backslash(s: str, i: int) -> int:
    """Index past the backslash escape at s[i] (a `\\<...>` runs to `>`)."""
    end = len(s)
    if i + 1 >= end:
        return i + 1
    c = s[i + 1]
    if c == "<":
        j = i + 2
        while j < end:
            if s[j] == ">":
                return j + 1
            if s[j] == "/" and j + 1 < end and s[j + 1] in "/*":
                j = skip_comment(s, j)
            else:
                j += 1
        return end
    if c == "\r" and i + 2 < end and s[i + 2] == "\n":
        return i + 3
    return i + 2


def skip_double_quote(s: str, i: int) -> int:
    """Index past the double-quoted string starting at s[i] == '"'."""
    end = len(s)
    j = i + 1
    while j < end:
        c = s[j]
        if c == "\\":
            j = skip_backslash(s, j)
        elif c == '"':
            return j + 1
        else:
            j += 1
    return end


def skip_single_quote(s: str, i: int) -> int:
    k = s.find("'", i + 1)
    return len(s) if k < 0 else k + 1


def _partial_uncomment(s: str, i: int, comma: bool) -> tuple[str, int]:
    """Click's partial_uncomment: one argument starting at i, comments -> one space."""
    end = len(s)
    i = skip_comment_space(s, i)
    parts: list[str] | None = None
    left = right = i
    closed = False
    not_plain = _NOT_PLAIN
    while i < end:
        c = s[i]
        if c in SPACE:
            i += 1
            continue
        if c == "/" and i + 1 < end and s[i + 1] in "/*":
            i = skip_comment(s, i)
            closed = True
            continue
        if c == "," and comma:
            break
        if closed:
            if parts is None:
                parts = []
            parts.append(s[left:right])
            parts.append(" ")
            left = i
            closed = False
        if c == "'":
            i = skip_single_quote(s, i)
        elif c == '"':
            i = skip_double_quote(s, i)
        elif c == "\\" and i + 1 < end and s[i + 1] == "<":
            i = skip_backslash(s, i)
        else:
            i += 1
            while i < end and s[i] not in not_plain:
                i += 1
        right = i
    if parts is None:
        return s[left:right], i
    parts.append(s[left:right])
    return "".join(parts), i


def uncomment(s: str) -> str:
    """Strip leading/trailing space and replace comments by single spaces."""
    return _partial_uncomment(s, 0, False)[0]


def argvec(s: str) -> list[str]:
    """Split a configuration string at top-level commas (Click's cp_argvec).

    Each argument is uncommented and stripped; an empty final argument is
    dropped, so `X(1, )` has one argument, but `X(, 1)` has two."""
    out: list[str] = []
    n = len(s)
    pos = 0
    while pos < n:
        arg, pos = _partial_uncomment(s, pos, True)
        if arg or pos < n:
            out.append(arg)
        pos += 1
    return out


def _skip_spacevec_item(s: str, i: int) -> int:
    end = len(s)
    while i < end:
        c = s[i]
        if c == "/":
            if i + 1 < end and s[i + 1] in "/*":
                return i
            i += 1
        elif c == '"':
            i = skip_double_quote(s, i)
        elif c == "'":
            i = skip_single_quote(s, i)
        elif c == "\\":
            i = skip_backslash(s, i) if i + 1 < end and s[i + 1] == "<" else i + 1
        elif c in SPACE:
            return i
        else:
            i += 1
    return i


def spacevec(s: str) -> list[str]:
    """Split at unquoted spaces (Click's cp_spacevec)."""
    out: list[str] = []
    end = len(s)
    i = skip_comment_space(s, 0)
    while i < end:
        j = _skip_spacevec_item(s, i)
        out.append(s[i:j])
        i = skip_comment_space(s, j)
    return out


def shift_spacevec(s: str) -> tuple[str, str]:
    """(first space-separated word, the rest) as Click's cp_shift_spacevec."""
    i = skip_comment_space(s, 0)
    j = _skip_spacevec_item(s, i)
    word = s[i:j]
    j = skip_comment_space(s, j)
    return word, s[j:]


# ---------------------------------------------------------------------------
# Quoting


def _process_backslash(s: str, i: int, text: list, data: list | None) -> int:
    """Expand the backslash escape at s[i]; append str pieces to `text`.

    Byte-valued escapes (octal, `\\x`, `\\<hex>`) are appended as `bytes`
    objects, so a caller can build either a str or exact bytes."""
    end = len(s)
    if i == end - 1:
        text.append("\\")
        return end
    c = s[i + 1]
    if c == "\r":
        return i + 3 if i + 2 < end and s[i + 2] == "\n" else i + 2
    if c == "\n":
        return i + 2
    simple = _C_ESCAPES.get(c)
    if simple is not None:
        text.append(simple)
        return i + 2
    if "0" <= c <= "7":
        v = 0
        j = i + 1
        d = 0
        while j < end and "0" <= s[j] <= "7" and d < 3:
            v = v * 8 + ord(s[j]) - 48
            j += 1
            d += 1
        text.append(bytes((v & 255,)))
        return j
    if c == "x":
        v = 0
        j = i + 2
        while j < end and s[j] in _HEX:
            v = (v * 16 + _HEX[s[j]]) & 0xFFFF
            j += 1
        text.append(bytes((v & 255,)))
        return j
    if c == "<":
        out = bytearray()
        v = 0
        d = 0
        j = i + 2
        while j < end:
            ch = s[j]
            if ch == ">":
                text.append(bytes(out))
                return j + 1
            h = _HEX.get(ch)
            if h is not None:
                v = v * 16 + h
                d += 1
                if d == 2:
                    out.append(v)
                    v = d = 0
                j += 1
            elif ch == "/" and j + 1 < end and s[j + 1] in "/*":
                j = skip_comment(s, j)
            else:
                j += 1
        text.append(bytes(out))
        return end
    text.append(c)
    return i + 2


_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unquote_pieces(s: str) -> list:
    x = _partial_uncomment(s, 0, False)[0]
    if "'" not in x and '"' not in x and "\\" not in x:
        return [x]
    pieces: list = []
    end = len(x)
    start = 0
    quote = ""
    i = 0
    while i < end:
        c = x[i]
        if c == '"' or c == "'":
            if not quote:
                pieces.append(x[start:i])
                start = i + 1
                quote = c
            elif quote == c:
                pieces.append(x[start:i])
                start = i + 1
                quote = ""
            i += 1
        elif c == "\\" and i + 1 < end and (quote == '"' or (not quote and x[i + 1] == "<")):
            pieces.append(x[start:i])
            i = _process_backslash(x, i, pieces, None)
            start = i
        else:
            i += 1
    pieces.append(x[start:i])
    return pieces


def unquote(s: str) -> str:
    """Remove one level of quoting (Click's cp_unquote).

    Byte escapes become the characters U+0000..U+00FF."""
    pieces = _unquote_pieces(s)
    if len(pieces) == 1 and isinstance(pieces[0], str):
        return pieces[0]
    return "".join(p if isinstance(p, str) else p.decode("latin-1") for p in pieces)


def unquote_bytes(s: str) -> bytes:
    """Like unquote, but gives exact bytes: text is UTF-8, escapes are raw bytes."""
    return b"".join(p.encode("utf-8", "surrogateescape") if isinstance(p, str) else p
                    for p in _unquote_pieces(s))


def quote(s: str) -> str:
    """A double-quoted string that unquote() turns back into `s` (cp_quote)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '\\"$':
            out.append("\\" + ch)
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif o < 32 or 127 <= o < 256:
            out.append("\\%03o" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def is_word(s: str) -> bool:
    """Click's cp_is_word: printable ASCII without quotes, backslash or comma."""
    if not s:
        return False
    for ch in s:
        o = ord(ch)
        if o <= 32 or o >= 127 or ch in "\"'\\,":
            return False
    return True


def split_keyword(arg: str) -> tuple[str, str] | None:
    """Click's cp_keyword with a rest: ('KEYWORD', 'value') or None.

    A keyword is [A-Za-z0-9_.:?!]+ followed by whitespace and a nonempty rest."""
    n = len(arg)
    i = 0
    while i < n and arg[i] in _KEYWORD_CHARS:
        i += 1
    if i == 0 or (i < n and arg[i] not in SPACE):
        return None
    j = i
    while j < n and arg[j] in SPACE:
        j += 1
    if j == n:
        return None
    return arg[:i], arg[j:]


def string_arg(s: str) -> str | None:
    """Click's cp_string: one (possibly quoted) word, unquoted; None if invalid."""
    end = len(s)
    i = 0
    while i < end:
        c = s[i]
        if c in SPACE:
            break
        if c == '"':
            i = skip_double_quote(s, i)
        elif c == "'":
            i = skip_single_quote(s, i)
        elif c == "\\":
            i = skip_backslash(s, i) if i + 1 < end and s[i + 1] == "<" else i + 1
        else:
            i += 1
    if i == 0 or i != end:
        return None
    return unquote(s)


def word_arg(s: str) -> str | None:
    w = string_arg(s)
    return w if w is not None and is_word(w) else None


# ---------------------------------------------------------------------------
# Variables


MAX_EXPANSION = 1 << 20


class ExpansionTooLarge(Exception):
    """Variable expansion produced more than MAX_EXPANSION characters."""


class VarEnv:
    """A scope of `$name` parameters (Click's VariableEnvironment)."""

    __slots__ = ("names", "values", "depth", "parent")

    def __init__(self, parent: VarEnv | None = None):
        self.names: list[str] = []
        self.values: list[str] = []
        self.parent = parent
        self.depth = parent.depth + 1 if parent is not None else 0

    def define(self, name: str, value: str, override: bool) -> bool:
        """Add name=value; False (and maybe overwrite) if already defined here."""
        try:
            k = self.names.index(name)
        except ValueError:
            self.names.append(name)
            self.values.append(value)
            return True
        if override:
            self.values[k] = value
        return False

    def parent_of(self, depth: int) -> VarEnv | None:
        v: VarEnv | None = self
        while v is not None and v.depth >= depth:
            v = v.parent
        return v

    def lookup(self, name: str) -> str | None:
        v: VarEnv | None = self
        while v is not None:
            names = v.names
            for k in range(len(names)):
                if names[k] == name:
                    return v.values[k]
            v = v.parent
        return None

    def expand_var(self, var: str, vtype: str, depth: int) -> str | None:
        """The text of `$var` / `${var...}`, or None to leave it unexpanded."""
        name = var
        minus = -1
        index = -1
        if vtype == "{":
            end = len(var)
            i = 0
            while i < end and var[i] in SPACE:
                i += 1
            nb = i
            while i < end and var[i] in _VAR_CHARS:
                i += 1
            name = var[nb:i]
            while i < end and var[i] in SPACE:
                i += 1
            if i < end and var[i] == "[":
                j = i + 1
                while j < end and var[j] in SPACE:
                    j += 1
                k = j
                while k < end and var[k].isdigit() and var[k].isascii():
                    k += 1
                if k > j and k < end and var[k] == "]":
                    index = int(var[j:k])
                    i = k + 1
                    while i < end and var[i] in SPACE:
                        i += 1
            if i < end and var[i] == "-":
                minus = i
        val = self.lookup(name)
        if val is not None:
            value = expand(val, self, False, depth + 1)
            if len(value) > MAX_EXPANSION:
                raise ExpansionTooLarge(name)
            if index >= 0:
                word = ""
                while index >= 0 and (value or word):
                    word, value = shift_spacevec(value)
                    index -= 1
                return word
            return value
        if minus >= 0:
            return expand(var[minus + 1:], self, False, depth + 1)
        return None


def expand(config: str, env: VarEnv, expand_quote: bool = False, depth: int = 0) -> str:
    """Substitute `$a`, `${a}`, `${a-default}`, `${a[i]}` from env (cp_expand).

    Unknown variables are left as written; nothing inside single quotes is
    expanded; a value substituted inside double quotes is quoted."""
    if "$" not in config:
        return config
    s = config
    end = len(s)
    out: list[str] = []
    uninterpolated = 0
    quote_c = ""
    i = 0
    while i < end:
        c = s[i]
        if c == "\\":
            if i + 1 < end and quote_c == '"':
                i += 1
        elif c == "'" or c == '"':
            if not quote_c:
                quote_c = c
            elif quote_c == c:
                quote_c = ""
        elif c == "/":
            if i + 1 < end and s[i + 1] in "/*" and not quote_c:
                i = skip_comment_space(s, i) - 1
        elif c == "$" and i + 1 < end and quote_c != "'" and depth <= 10:
            before = i
            expand_vname = False
            n = s[i + 1]
            if n == "{":
                vtype = "{"
                j = i + 2
                cstart = j
                while j < end and s[j] != "}":
                    if s[j] == "$":
                        expand_vname = True
                    j += 1
                if j == end:
                    break
                vname = s[cstart:j]
                i = j + 1
            elif n == "(":
                vtype = "("
                level = 1
                nquote = ""
                j = i + 2
                cstart = j
                while j < end and level:
                    ch = s[j]
                    if ch == "(":
                        if not nquote:
                            level += 1
                    elif ch == ")":
                        if not nquote:
                            level -= 1
                    elif ch == '"' or ch == "'":
                        if not nquote:
                            nquote = ch
                        elif nquote == ch:
                            nquote = ""
                    elif ch == "\\":
                        if j + 1 < end and nquote != "'":
                            j += 1
                    elif ch == "$":
                        if nquote != "'":
                            expand_vname = True
                    j += 1
                if j == cstart or s[j - 1] != ")":
                    break
                vname = s[cstart:j - 1]
                i = j
            elif n in _VAR_CHARS:
                vtype = "a"
                j = i + 1
                while j < end and s[j] in _VAR_CHARS:
                    j += 1
                vname = s[i + 1:j]
                i = j
            elif n in "?#$":
                vtype = "a"
                vname = n
                i += 2
            else:
                i += 1
                continue
            out.append(s[uninterpolated:before])
            if expand_vname:
                vname = expand(vname, env, False, depth + 1)
            text = env.expand_var(vname, vtype, depth)
            uninterpolated = i
            if text is None:
                if expand_vname:
                    out.append(s[before:before + 2] + vname + s[i - 1])
                else:
                    uninterpolated = before
            elif quote_c == '"' or (expand_quote and not quote_c):
                q = quote(text)[1:-1]
                out.append(q if quote_c == '"' else '"' + q + '"')
            else:
                out.append(text)
            continue
        i += 1
    if not out:
        return config
    out.append(s[uninterpolated:])
    result = "".join(out)
    if len(result) > MAX_EXPANSION:
        raise ExpansionTooLarge(config[:20])
    return result


def parse_click_int(s: str, signed: bool = True) -> int | None:
    """An integer as Click's IntArg reads it, or None.

    Optional sign ('-' only if signed), then `0x`/`0X` hex, `0b`/`0B` binary,
    a leading `0` for octal, else decimal; `_` may separate digits.  The
    whole string must be consumed (so "08" is not an integer, as in Click)."""
    n = len(s)
    i = 0
    neg = False
    if i < n and (s[i] == "+" or (signed and s[i] == "-")):
        neg = s[i] == "-"
        i += 1
    if i + 2 < n and s[i] == "0" and s[i + 1] in "xX":
        base = 16
        i += 2
    elif i + 2 < n and s[i] == "0" and s[i + 1] in "bB":
        base = 2
        i += 2
    elif i < n and s[i] == "0":
        base = 8
    else:
        base = 10
    if i >= n:
        return None
    v = 0
    prev_digit = False
    for k in range(i, n):
        c = s[k]
        if c == "_" and prev_digit:
            prev_digit = False
            continue
        d = _HEX.get(c)
        if d is None or d >= base:
            return None
        v = v * base + d
        prev_digit = True
    if not prev_digit:
        return None
    return -v if neg else v
