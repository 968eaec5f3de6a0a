"""TEMPORARY minimal argument parser for runtime bring-up; replaced by the language branch."""
from __future__ import annotations
from clickpy.lang.graph import ConfigError, NOWHERE

MISSING = object()

class ArgError(ValueError):
    pass

def split_args(config: str) -> list[str]:
    out, cur, depth, q = [], [], 0, False
    for ch in config:
        if ch == '"':
            q = not q
        if ch == "," and not q and depth == 0:
            out.append("".join(cur).strip()); cur = []
            continue
        if not q and ch in "([{": depth += 1
        if not q and ch in ")]}": depth -= 1
        cur.append(ch)
    last = "".join(cur).strip()
    if last or out:
        out.append(last)
    return [a for a in out if a != ""]

def _bool(s):
    s = s.strip().lower()
    if s in ("true", "yes", "1"): return True
    if s in ("false", "no", "0"): return False
    raise ArgError("expected boolean")
BOOL = _bool
def INT(s): return int(s.strip(), 0)
def UINT(s):
    v = int(s.strip(), 0)
    if v < 0: raise ArgError("expected unsigned integer")
    return v
def ANY(s): return s
def DATA(s):
    s = s.strip()
    if s.startswith('"') and s.endswith('"'): s = s[1:-1]
    import re
    out = bytearray()
    i = 0
    while i < len(s):
        if s.startswith("\\<", i):
            j = s.index(">", i)
            out += bytes.fromhex(s[i+2:j].replace(" ", ""))
            i = j + 1
        else:
            out.append(ord(s[i])); i += 1
    return bytes(out)

class Args:
    def __init__(self, config: str, *, context: str = "", location=NOWHERE, resolver=None):
        self.args = split_args(config)
        self.used = [False] * len(self.args)
        self.context = context
        self.location = location
        self.resolver = resolver
    def _err(self, msg):
        return ConfigError(f"{self.context}: {msg}", self.location)
    def read(self, keyword, type_, default=MISSING, *, positional=False, mandatory=False, deprecated=False):
        for i, a in enumerate(self.args):
            if not self.used[i] and (a == keyword or a.startswith(keyword + " ")):
                self.used[i] = True
                return self._conv(keyword, type_, a[len(keyword):].strip())
        if positional:
            for i, a in enumerate(self.args):
                if not self.used[i]:
                    w = a.split(None, 1)[0]
                    if w.isupper() and " " in a:
                        break
                    self.used[i] = True
                    return self._conv(keyword, type_, a)
                break
        if mandatory:
            raise self._err(f"missing mandatory {keyword} argument")
        return None if default is MISSING else default
    def _conv(self, kw, t, v):
        try:
            return t(v)
        except (ArgError, ValueError) as e:
            raise self._err(f"{kw}: {e}") from None
    def read_p(self, k, t, default=MISSING, **kw): return self.read(k, t, default, positional=True, **kw)
    def read_m(self, k, t, **kw): return self.read(k, t, mandatory=True, **kw)
    def read_mp(self, k, t, **kw): return self.read(k, t, positional=True, mandatory=True, **kw)
    def rest(self):
        r = [a for a, u in zip(self.args, self.used) if not u]
        self.used = [True] * len(self.args)
        return r
    def complete(self):
        left = [a for a, u in zip(self.args, self.used) if not u]
        if left:
            raise self._err(f"too many arguments: {left[0]!r}")
