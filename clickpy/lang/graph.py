"""The flat graph: the only thing the language front end hands to the runtime.

A config, however it was written (compound elements, element classes,
`define`, `require`), flattens to a list of element declarations and a list
of connections.  The runtime (`clickpy.router`) consumes only this, and a
Python program can build one directly (BESS-style) without any config text.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Location:
    """Where something was written: file, 1-based line and column."""

    file: str = "<config>"
    line: int = 0
    col: int = 0
    source_line: str = ""  # the text of that line, for the caret display

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


NOWHERE = Location()


@dataclass
class ElementDecl:
    """One primitive element: its flat name (`compound/component`), class and config string."""

    name: str
    class_name: str
    config: str = ""
    location: Location = NOWHERE


@dataclass
class Connection:
    """A connection `from_elem [from_port] -> [to_port] to_elem` between flat names."""

    from_elem: str
    from_port: int
    to_elem: str
    to_port: int
    location: Location = NOWHERE


@dataclass
class FlatGraph:
    elements: list[ElementDecl] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)  # `require(package X)` names
    # warnings found while parsing (not part of the graph's identity)
    warnings: list[Diagnostic] = field(default_factory=list, compare=False, repr=False)

    def element(self, name: str) -> ElementDecl | None:
        for decl in self.elements:
            if decl.name == name:
                return decl
        return None


@dataclass(frozen=True)
class Diagnostic:
    location: Location
    message: str
    severity: str = "error"  # or "warning"

    def format(self) -> str:
        """`file:line:col: message`, then the source line and a caret under the column."""
        prefix = "" if self.severity == "error" else "warning: "
        text = f"{self.location}: {prefix}{self.message}"
        src = self.location.source_line
        if src and self.location.line > 0:
            shown = src.rstrip("\n").expandtabs(8)
            caret_col = len(src[: max(self.location.col - 1, 0)].expandtabs(8))
            text += f"\n  {shown}\n  {' ' * caret_col}^"
        return text


class ConfigError(Exception):
    """Every error a config can cause (syntax, arguments, graph checks, initialization).

    It carries all the diagnostics found, not only the first, and its str()
    is the user-facing text: never a traceback.
    """

    def __init__(self, diagnostics: list[Diagnostic] | str, location: Location = NOWHERE):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(location, diagnostics)]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__(self.format())

    def format(self) -> str:
        return "\n".join(d.format() for d in self.diagnostics)
