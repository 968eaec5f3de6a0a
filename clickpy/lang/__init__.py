"""Click's configuration language: parse a config into a `FlatGraph`, and back.

    parse_config(text, filename="<config>", *, defines=None, search_path=None, is_class=None)
    parse_file(path, **same_kwargs)
    unparse(graph)

`is_class(name)` says which words are primitive element classes (Click's
lexer needs to know: an undeclared word in a connection is an anonymous
element if it names a class, else an error).  By default the runtime
registry (`clickpy.registry.has_class`) is asked when it can be imported;
otherwise any word that looks like a class name (an uppercase letter, then
letters, digits and underscores) counts as one.  Classes defined with
`elementclass` are expanded here; every other class name is left in the
graph for the runtime to resolve.

Every problem is reported as a `ConfigError` carrying all the diagnostics of
the config, each with a file:line:col location; no other exception escapes.
"""
from __future__ import annotations

from clickpy.lang.graph import (NOWHERE, ConfigError, Connection, Diagnostic, ElementDecl,
                                FlatGraph, Location)

__all__ = ["parse_config", "parse_file", "unparse", "suggest", "graph_key", "FlatGraph",
           "ElementDecl", "Connection", "Location", "Diagnostic", "ConfigError", "NOWHERE"]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from collections.abc import Callable


def _looks_like_class(name: str) -> bool:
    if not name or not ("A" <= name[0] <= "Z"):
        return False
    for ch in name:
        if not (ch.isascii() and (ch.isalnum() or ch == "_")):
            return False
    return True


_registry_cache: list | None = None


def _default_class_info() -> tuple[Callable[[str], bool], Callable[[], list[str]] | None]:
    global _registry_cache
    if _registry_cache is None:
        try:
            from clickpy import registry
            _registry_cache = [registry.has_class, getattr(registry, "class_names", None)]
        except Exception:
            _registry_cache = [_looks_like_class, None]
    return _registry_cache[0], _registry_cache[1]


def parse_config(text: str, filename: str = "<config>", *, defines: dict[str, str] | None = None,
                 search_path: list[str] | None = None,
                 is_class: Callable[[str], bool] | None = None) -> FlatGraph:
    """Parse and flatten a Click configuration; raise ConfigError on any error."""
    from clickpy.lang import parser
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", "surrogateescape")
    elif not isinstance(text, str):
        raise ConfigError(f"configuration must be text, not {type(text).__name__}",
                          Location(str(filename)))
    filename = str(filename)
    if defines:
        bad = [k for k, v in defines.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise ConfigError(f"bad definition {bad[0]!r}: names and values must be strings",
                              Location(filename))
    candidates = None
    if is_class is None:
        is_class, candidates = _default_class_info()
    try:
        return parser.run(text, filename, defines=defines, search_path=search_path,
                          is_class=is_class, class_candidates=candidates)
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError("configuration nested too deeply", Location(filename)) from None
    except Exception as e:
        if not parser.SAFETY_NET:
            raise
        raise ConfigError(f"internal error while parsing: {type(e).__name__}: {e}",
                          Location(filename)) from e


def parse_file(path: str, **kwargs) -> FlatGraph:
    """Read `path` and parse it (`-` reads standard input)."""
    import sys
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
            name = "<stdin>"
        else:
            with open(path, "rb") as f:
                data = f.read()
            name = path
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror or e}", Location(str(path))) from None
    return parse_config(data.decode("utf-8", "surrogateescape"), name, **kwargs)


def unparse(graph: FlatGraph) -> str:
    """Click flat-config text for `graph`; parse_config(unparse(g)) gives the same graph.

    (Config strings are written verbatim, so a config that is not balanced
    text, as the parser itself never produces, cannot round-trip.)"""
    from clickpy.lang.strings import is_word, quote
    out: list[str] = []
    for req in graph.requirements:
        out.append(f"require(package {req if is_word(req) else quote(req)});")
    for e in graph.elements:
        cfg = f"({e.config})" if e.config else ""
        out.append(f"{e.name} :: {e.class_name}{cfg};")
    for c in graph.connections:
        fp = f" [{c.from_port}]" if c.from_port else ""
        tp = f"[{c.to_port}] " if c.to_port else ""
        out.append(f"{c.from_elem}{fp} -> {tp}{c.to_elem};")
    return "\n".join(out) + "\n" if out else ""


def graph_key(graph: FlatGraph) -> tuple:
    """What makes two graphs the same, ignoring source locations."""
    return (tuple((e.name, e.class_name, e.config) for e in graph.elements),
            tuple(sorted({(c.from_elem, c.from_port, c.to_elem, c.to_port)
                          for c in graph.connections})),
            tuple(graph.requirements))


def suggest(name: str, candidates) -> str | None:
    """The candidate closest to `name` (difflib), for "did you mean" hints."""
    from clickpy.lang.parser import suggest as _suggest
    return _suggest(name, candidates)
