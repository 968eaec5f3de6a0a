"""The flat graph: the only thing the language front end hands to the runtime.

A config, however it was written (compound elements, element classes,
`define`, `require`), flattens to a list of element declarations and a list
of connections.  The runtime (`clickpy.router`) consumes only this, and a
Python program can build one directly (BESS-style) without any config text.
"""
from __future__ import annotations

# Plain classes rather than dataclasses: importing dataclasses (and with it
# inspect) would cost more than the whole parser at start-up.


class Location:
    """Where something was written: file, 1-based line and column."""

    __slots__ = ("file", "line", "col", "source_line")

    def __init__(self, file: str = "<config>", line: int = 0, col: int = 0, source_line: str = "") -> None:
        self.file = file
        self.line = line
        self.col = col
        self.source_line = source_line  # the text of that line, for the caret display

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"

    def _key(self) -> tuple:
        return (self.file, self.line, self.col, self.source_line)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Location({self.file!r}, {self.line}, {self.col})"


NOWHERE = Location()


class ElementDecl:
    """One primitive element: its flat name (`compound/component`), class and config string."""

    __slots__ = ("name", "class_name", "config", "location")

    def __init__(self, name: str, class_name: str, config: str = "", location: Location = NOWHERE) -> None:
        self.name = name
        self.class_name = class_name
        self.config = config
        self.location = location

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ElementDecl) and self.name == other.name and self.class_name == other.class_name
                and self.config == other.config and self.location == other.location)

    def __repr__(self) -> str:
        return f"ElementDecl({self.name!r}, {self.class_name!r}, {self.config!r})"


class Connection:
    """A connection `from_elem [from_port] -> [to_port] to_elem` between flat names."""

    __slots__ = ("from_elem", "from_port", "to_elem", "to_port", "location")

    def __init__(self, from_elem: str, from_port: int, to_elem: str, to_port: int,
                 location: Location = NOWHERE) -> None:
        self.from_elem = from_elem
        self.from_port = from_port
        self.to_elem = to_elem
        self.to_port = to_port
        self.location = location

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Connection) and self.from_elem == other.from_elem
                and self.from_port == other.from_port and self.to_elem == other.to_elem
                and self.to_port == other.to_port and self.location == other.location)

    def __repr__(self) -> str:
        return f"Connection({self.from_elem!r}, {self.from_port}, {self.to_elem!r}, {self.to_port})"


class FlatGraph:
    __slots__ = ("elements", "connections", "requirements", "warnings")

    def __init__(self, elements: "list[ElementDecl] | None" = None, connections: "list[Connection] | None" = None,
                 requirements: "list[str] | None" = None, warnings: "list[Diagnostic] | None" = None) -> None:
        self.elements: list[ElementDecl] = elements if elements is not None else []
        self.connections: list[Connection] = connections if connections is not None else []
        self.requirements: list[str] = requirements if requirements is not None else []  # `require(package X)`
        # warnings found while parsing (not part of the graph's identity)
        self.warnings: list[Diagnostic] = warnings if warnings is not None else []

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FlatGraph) and self.elements == other.elements
                and self.connections == other.connections and self.requirements == other.requirements)

    def __repr__(self) -> str:
        return f"FlatGraph({len(self.elements)} elements, {len(self.connections)} connections)"

    def element(self, name: str) -> "ElementDecl | None":
        for decl in self.elements:
            if decl.name == name:
                return decl
        return None


class Diagnostic:
    __slots__ = ("location", "message", "severity")

    def __init__(self, location: Location, message: str, severity: str = "error") -> None:
        self.location = location
        self.message = message
        self.severity = severity  # or "warning"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Diagnostic) and self.location == other.location
                and self.message == other.message and self.severity == other.severity)

    def __hash__(self) -> int:
        return hash((self.location, self.message, self.severity))

    def __repr__(self) -> str:
        return f"Diagnostic({self.location!r}, {self.message!r}, {self.severity!r})"

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
