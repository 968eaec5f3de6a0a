"""Glue between the classification engine and the elements that use it (cold code).

`compile_for(elem, compile_fn, patterns, ...)` compiles an element's patterns,
turns a ClassifyError into a ConfigError whose location is the offending
word inside the config file (not just the element), and reports the
compiler's warnings through `elem.warn`.

Finding the word: the element knows its config string and where it was
declared; the router keeps the config text.  The config string sits between
the first '(' after the declaration and its ')'.  Argument i is found by
splitting that text the way `argvec` does (quotes, comments, `\\<..>`),
keeping the source position of every character.  Whenever the source does
not hold the config string verbatim (a `$variable`, a compound element's
formal argument, a config not read from text), the error points at the
element instead, which is what every other config error does.
"""
from __future__ import annotations

import re

from clickpy.lang.graph import ConfigError, Location
from clickpy.lang.strings import (SPACE, argvec, skip_backslash, skip_comment, skip_double_quote,
                                  skip_single_quote, unquote)

from .ir import ClassifyError

_NEWLINE = re.compile(r"\r\n?|\n")


def compile_for(elem, compile_fn, patterns: list[str], *args, **kwargs):
    """compile_fn(patterns, *args, **kwargs) for `elem`: errors become
    ConfigErrors at the offending word, warnings go to elem.warn."""
    try:
        program = compile_fn(patterns, *args, **kwargs)
    except ClassifyError as e:
        raise config_error(elem, e) from None
    for message, index, _column in program.warnings:
        elem.warn(f"pattern {index}: {message}" if index >= 0 else message)
    return program


def config_error(elem, err: ClassifyError) -> ConfigError:
    where = f"pattern {err.index}: " if err.index >= 0 else ""
    return ConfigError(f"{elem.name} :: {type(elem).__name__}: {where}{err.message}",
                       argument_location(elem, err.index, err.column))


def argument_location(elem, index: int, column: int) -> Location:
    """The source location of character `column` of the element's argument
    `index` (after uncommenting and unquoting), or the element's location."""
    loc = elem.location
    router = elem.router
    text = getattr(router, "config_text", None) if router is not None else None
    if not text or index < 0 or loc.line <= 0:
        return loc
    decl = _location_offset(text, loc)
    if decl is None:
        return loc
    config = elem.config_string
    paren = text.find("(", decl)
    if paren < 0 or text[paren + 1:paren + 1 + len(config)] != config \
            or text[paren + 1 + len(config):paren + 2 + len(config)] != ")":
        return loc
    regions = _argument_regions(config)
    if index >= len(regions) or len(regions) != len(argvec(config)):
        return loc
    start, end = regions[index]
    chars, where = _uncommented(config, start, end)
    chars, where = _unquoted(chars, where)
    if not where:
        return loc
    if "".join(chars) != unquote(argvec(config)[index]):
        column = 0              # quoting we cannot follow: point at the argument
    column = min(max(column, 0), len(where) - 1)
    return _offset_location(text, loc, decl, paren + 1 + where[column])


def _location_offset(text: str, loc: Location) -> int | None:
    """Offset in text of loc, if loc's line is where the text says it is."""
    starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
    if loc.line > len(starts):
        return None
    start = starts[loc.line - 1]
    m = _NEWLINE.search(text, start)
    line = text[start:m.start() if m else len(text)]
    if line != loc.source_line.rstrip("\r\n"):
        return None
    return start + loc.col - 1


def _offset_location(text: str, loc: Location, base: int, offset: int) -> Location:
    """The Location of `offset`, counting lines from loc (at `base`), so line
    directives that renumbered loc's line carry over."""
    line = loc.line + len(_NEWLINE.findall(text, base, offset))
    nl = None
    for nl in _NEWLINE.finditer(text, 0, offset):
        pass
    line_start = nl.end() if nl else 0
    m = _NEWLINE.search(text, offset)
    source_line = text[line_start:m.start() if m else len(text)]
    return Location(loc.file, line, offset - line_start + 1, source_line)


def _is_comment(s: str, i: int, end: int) -> bool:
    return s[i] == "/" and i + 1 < end and s[i + 1] in "/*"


def _argument_regions(s: str) -> list[tuple[int, int]]:
    """(start, end) of each argument of s, split at top-level commas as argvec does."""
    regions = []
    n = len(s)
    pos = 0
    while pos < n:
        i = pos
        while i < n and s[i] != ",":
            c = s[i]
            if _is_comment(s, i, n):
                i = skip_comment(s, i)
            elif c == "'":
                i = skip_single_quote(s, i)
            elif c == '"':
                i = skip_double_quote(s, i)
            elif c == "\\" and i + 1 < n and s[i + 1] == "<":
                i = skip_backslash(s, i)
            else:
                i += 1
        if s[pos:i].strip(SPACE) or i < n:
            regions.append((pos, i))
        pos = i + 1
    return regions


def _uncommented(s: str, start: int, end: int) -> tuple[list[str], list[int]]:
    """The characters of s[start:end] as argvec leaves them (leading and
    trailing space gone, a gap holding a comment turned into one space), with
    the source index of each."""
    chars: list[str] = []
    where: list[int] = []
    i = start
    while i < end:
        c = s[i]
        if c in SPACE or _is_comment(s, i, end):
            gap = i
            commented = False
            while i < end and (s[i] in SPACE or _is_comment(s, i, end)):
                if s[i] in SPACE:
                    i += 1
                else:
                    commented = True
                    i = min(skip_comment(s, i), end)
            if chars and i < end:
                if commented:
                    chars.append(" ")
                    where.append(gap)
                else:
                    chars.extend(s[gap:i])
                    where.extend(range(gap, i))
            continue
        if c == "'":
            j = skip_single_quote(s, i)
        elif c == '"':
            j = skip_double_quote(s, i)
        elif c == "\\" and i + 1 < end and s[i + 1] == "<":
            j = skip_backslash(s, i)
        else:
            j = i + 1
        j = min(j, end)
        chars.extend(s[i:j])
        where.extend(range(i, j))
        i = j
    return chars, where


def _unquoted(chars: list[str], where: list[int]) -> tuple[list[str], list[int]]:
    """Drop quote characters (patterns rarely hold escapes; the caller checks
    the result against the real unquoted text)."""
    if "'" not in chars and '"' not in chars:
        return chars, where
    kept = [(c, w) for c, w in zip(chars, where) if c not in "'\""]
    return [c for c, _ in kept], [w for _, w in kept]
