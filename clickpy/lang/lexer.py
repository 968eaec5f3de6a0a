"""Tokens of Click's configuration language.

The lexer works on positions only: a token is (kind, text, pos), and a
`Location` (file, line, column, source line) is computed from a position
when it is needed, honouring `# line N "file"` directives.  Configuration
strings are not tokens: after a `(` the parser asks for `config()`, which
reads raw text up to the balancing `)` as Click's lexer does (nested
parentheses, quotes, comments and `\\<hex>` are skipped over; a line
directive inside is processed and removed).
"""
from __future__ import annotations

from _bisect import bisect_right   # the C function bisect.py re-exports, minus its import cost

from clickpy.lang.graph import Diagnostic, Location

KEYWORDS = frozenset(("elementclass", "require", "provide", "define"))

IDENT = "ident"
VARIABLE = "variable"
EOF = "eof"

# The scanner is hand-written rather than a regular expression: importing `re`
# and compiling patterns would be most of the command's start-up time.
_SPACE = frozenset(" \t\n\r\f\v")
_IDENT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@")
_VARIABLE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_TWO_CHAR_TOKENS = frozenset(("->", "=>", "::", "||"))
# what config() must look at inside a configuration string
_CONFIG_SPECIAL = frozenset("()#/'\"\\")


class Token:
    __slots__ = ("kind", "text", "pos")

    def __init__(self, kind: str, text: str, pos: int):
        self.kind = kind
        self.text = text
        self.pos = pos

    def describe(self) -> str:
        """The token as Click names it in `syntax error near ...`."""
        if self.kind == EOF:
            return "end of file"
        if self.kind == VARIABLE:
            return "'$" + self.text + "'"
        return "'" + self.text + "'"

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Token({self.kind!r}, {self.text!r}, {self.pos})"


class Lexer:
    """One file's text, read token by token with a small pushback stack."""

    def __init__(self, text: str, filename: str, diagnostics: list[Diagnostic]):
        self.text = text
        self.filename = filename
        self.diagnostics = diagnostics
        self.pos = 0
        self.pushback: list[Token] = []
        self._line_starts: list[int] | None = None
        self._line_cache: dict[int, tuple[int, str, int, str]] = {}
        # (position from which it applies, physical line index there, logical line, file)
        self._directives: list[tuple[int, int, int, str]] = []
        self._directive_pos: list[int] = []
        # the text with each \r made \n, so that one find() gives a line's end
        self._breaks = text.replace("\r", "\n") if "\r" in text else text
        if text.startswith("#!"):
            # a script's "#!" line is a comment (an extension to Click)
            self.pos = self._line_end(0)

    # -- lines and locations -----------------------------------------------

    def _line_end(self, i: int) -> int:
        """Index of the first line break (\\n or \\r) at or after i, or the text's end."""
        k = self._breaks.find("\n", i)
        return len(self.text) if k < 0 else k

    def _next_line(self, i: int) -> int:
        """Index just past the line break at i (\\r\\n counts as one)."""
        return i + 2 if self.text.startswith("\r\n", i) else i + 1

    def _starts(self) -> list[int]:
        if self._line_starts is None:
            starts = [0]
            find = self._breaks.find
            i = find("\n")
            while i >= 0:
                i = self._next_line(i)
                starts.append(i)
                i = find("\n", i)
            self._line_starts = starts
        return self._line_starts

    def location(self, pos: int) -> Location:
        starts = self._starts()
        phys = bisect_right(starts, pos) - 1
        info = self._line_cache.get(phys)
        if info is None:
            start = starts[phys]
            if phys + 1 < len(starts):
                line_text = self.text[start:starts[phys + 1]].rstrip("\r\n")
            else:
                line_text = self.text[start:]
            line = phys + 1
            file = self.filename
            if self._directives:
                k = bisect_right(self._directive_pos, start) - 1
                if k >= 0:
                    _, dphys, dline, dfile = self._directives[k]
                    line = dline + (phys - dphys)
                    file = dfile
            info = self._line_cache[phys] = (start, line_text, line, file)
        return Location(info[3], info[2], pos - info[0] + 1, info[1])

    def error(self, pos: int, message: str, severity: str = "error") -> None:
        self.diagnostics.append(Diagnostic(self.location(pos), message, severity))

    # -- low level ---------------------------------------------------------

    def _at_line_start(self, i: int) -> bool:
        return i == 0 or self.text[i - 1] in "\n\r"

    def _line_directive(self, i: int) -> int:
        """Process the `#` directive at text[i]; return the index of its line end."""
        s = self.text
        end = len(s)
        j = i + 1
        while j < end and s[j] in " \t":
            j += 1
        if s.startswith("line", j) and j + 4 < end and s[j + 4] in " \t":
            j += 5
            while j < end and s[j] in " \t":
                j += 1
        if j >= end or not ("0" <= s[j] <= "9"):
            self.error(i, "unknown preprocessor directive")
            return self._line_end(j)
        k = j
        while k < end and "0" <= s[k] <= "9":
            k += 1
        number = int(s[j:k])
        while k < end and s[k] in " \t":
            k += 1
        filename = None
        if k < end and s[k] == '"':
            first = k
            k += 1
            while k < end and s[k] not in '"\n\r':
                if s[k] == "\\" and k + 1 < end and s[k + 1] not in "\n\r":
                    k += 1
                k += 1
            from clickpy.lang.strings import unquote
            filename = unquote(s[first:k] + '"') or self.filename
        eol = self._line_end(k)
        if eol < end:
            starts = self._starts()
            next_start = self._next_line(eol)
            phys = bisect_right(starts, next_start) - 1
            if filename is None:
                filename = self.location(i).file
            self._directives.append((next_start, phys, number, filename))
            self._line_cache.clear()
            self._directive_pos.append(next_start)
        return eol

    # -- tokens ------------------------------------------------------------

    def lex(self) -> Token:
        if self.pushback:
            return self.pushback.pop()
        s = self.text
        end = len(s)
        i = self.pos
        while True:
            while i < end:                      # space and comments
                c = s[i]
                if c in _SPACE:
                    i += 1
                elif c == "/" and s.startswith("//", i):
                    i = self._line_end(i + 2)
                elif c == "/" and s.startswith("/*", i):
                    k = s.find("*/", i + 2)
                    i = end if k < 0 else k + 2
                else:
                    break
            if i >= end:
                self.pos = end
                return Token(EOF, "", end)
            c = s[i]
            if c in _IDENT_CHARS:               # a word, maybe a compound path a/b/c
                j = i + 1
                while True:
                    while j < end and s[j] in _IDENT_CHARS:
                        j += 1
                    if j + 1 < end and s[j] == "/" and s[j + 1] in _IDENT_CHARS:
                        j += 2
                    else:
                        break
                self.pos = j
                text = s[i:j]
                return Token(text if text in KEYWORDS else IDENT, text, i)
            if c == "$":
                j = i + 1
                while j < end and s[j] in _VARIABLE_CHARS:
                    j += 1
                self.pos = j
                return Token(VARIABLE, s[i + 1:j], i)
            two = s[i:i + 2]
            if two in _TWO_CHAR_TOKENS:
                self.pos = i + 2
                return Token(two, two, i)
            if c == "." and s.startswith("...", i):
                self.pos = i + 3
                return Token("...", "...", i)
            if c == "#" and (i == 0 or s[i - 1] in "\n\r"):
                i = self._line_directive(i)
                continue
            self.pos = i + 1
            return Token(c, c, i)

    def unlex(self, tok: Token) -> None:
        self.pushback.append(tok)

    def peek(self) -> Token:
        t = self.lex()
        self.pushback.append(t)
        return t

    def expect(self, kind: str, report: bool = True) -> Token | None:
        """Consume a token of `kind`, or leave the input alone (and maybe complain)."""
        t = self.lex()
        if t.kind == kind:
            return t
        self.pushback.append(t)
        if report:
            self.error(t.pos, f"expected '{kind}'")
        return None

    def config(self) -> tuple[str, int]:
        """Raw configuration text from here to the balancing ')' (not consumed).

        Returns (text, start position)."""
        if self.pushback:
            self.pos = min(t.pos for t in self.pushback)
            self.pushback.clear()
        s = self.text
        end = len(s)
        i = start = self.pos
        begin = start
        depth = 1
        pieces: list[str] = []
        special = _CONFIG_SPECIAL
        while True:
            while i < end and s[i] not in special:
                i += 1
            if i >= end:
                break
            c = s[i]
            if c == "(":
                depth += 1
                i += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    break
                i += 1
            elif c == "#":
                if i > 0 and s[i - 1] in "\n\r":
                    pieces.append(s[start:i])
                    i = self._line_directive(i)
                    start = i
                else:
                    i += 1
            elif c == "/":
                if i + 1 < end and s[i + 1] == "/":
                    i = self._line_end(i + 2)
                elif i + 1 < end and s[i + 1] == "*":
                    k = s.find("*/", i + 2)
                    i = end if k < 0 else k + 2
                else:
                    i += 1
            elif c == "'" or c == '"':
                i = self._skip_quote(i + 1, c)
            else:  # backslash
                if i + 1 < end and s[i + 1] == "<":
                    i = self._skip_backslash_angle(i + 2)
                else:
                    i += 1
        self.pos = i
        pieces.append(s[start:i])
        return "".join(pieces), begin

    def _skip_backslash_angle(self, i: int) -> int:
        s = self.text
        end = len(s)
        while i < end:
            c = s[i]
            if c == ">":
                return i + 1
            if c == "/" and i + 1 < end and s[i + 1] == "/":
                i = self._line_end(i + 2)
            elif c == "/" and i + 1 < end and s[i + 1] == "*":
                k = s.find("*/", i + 2)
                i = end if k < 0 else k + 2
            else:
                i += 1
        return end

    def _skip_quote(self, i: int, endc: str) -> int:
        s = self.text
        end = len(s)
        while i < end:
            c = s[i]
            if c == "\\" and endc == '"' and i + 1 < end:
                if s[i + 1] == "<":
                    i = self._skip_backslash_angle(i + 2)
                else:
                    i += 2
                continue
            if c == endc:
                return i + 1
            i += 1
        return end
