"""Element classes by name.

The index (class name -> module) is generated at build time from the
`# EXPORT_ELEMENT Name` lines of the element sources, so finding a class
imports only the one group module that defines it.
"""
from __future__ import annotations

import sys

try:
    from clickpy._element_index import INDEX
except ImportError:  # not built yet: `make dev` generates the index
    INDEX = {}

_extra: dict[str, type] = {}


def register(name: str, cls: type) -> None:
    """Make a class available to configs (Python programs adding their own elements)."""
    _extra[name] = cls


def has_class(name: str) -> bool:
    return name in _extra or name in INDEX


def class_names() -> list[str]:
    return sorted(set(INDEX) | set(_extra))


def lookup(name: str) -> type | None:
    cls = _extra.get(name)
    if cls is not None:
        return cls
    module = INDEX.get(name)
    if module is None:
        return None
    __import__(module)      # (importlib.import_module, without importing importlib)
    return getattr(sys.modules[module], name)


def suggest(name: str) -> str | None:
    """The closest known class name, for 'unknown class' errors."""
    lowered = {n.lower(): n for n in class_names()}
    if name.lower() in lowered:
        return lowered[name.lower()]
    import difflib
    close = difflib.get_close_matches(name, class_names(), n=1, cutoff=0.7)
    return close[0] if close else None


def doc(name: str) -> str:
    cls = lookup(name)
    if cls is None:
        raise KeyError(name)
    import textwrap
    # a docstring's first line starts right after the quotes, unindented:
    # dedent the others by themselves (as inspect.cleandoc does)
    first, _, rest = (cls.__doc__ or "").strip("\n").partition("\n")
    text = first.strip() + "\n" + textwrap.dedent(rest)
    return text.strip() or f"{name}: no documentation"
