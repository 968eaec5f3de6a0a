"""Build a flat graph from Python, without config text (BESS-style).

    g = Graph()
    src = g.add("InfiniteSource", "LENGTH 64, LIMIT 1000, STOP true", name="src")
    cls = g.add("Classifier", "12/0800, -")
    src >> cls
    cls[0] >> g.add("Counter", name="ip") >> g.add("Discard")
    cls[1] >> g.add("Discard")
    router = g.router()

`elem[n]` names port n: an output when it is on the left of `>>`, an input
when it is on the right.
"""
from __future__ import annotations

from clickpy.lang.graph import Connection, ElementDecl, FlatGraph


class PortRef:
    def __init__(self, elem: "ElementRef", port: int) -> None:
        self.elem = elem
        self.port = port

    def __rshift__(self, other: "ElementRef | PortRef") -> "ElementRef":
        return self.elem.graph._link(self.elem, self.port, other)


class ElementRef:
    def __init__(self, graph: "Graph", name: str) -> None:
        self.graph = graph
        self.name = name

    def __getitem__(self, port: int) -> PortRef:
        return PortRef(self, port)

    def __rshift__(self, other: "ElementRef | PortRef") -> "ElementRef":
        return self.graph._link(self, 0, other)

    def __repr__(self) -> str:
        return f"<ElementRef {self.name}>"


class Graph:
    def __init__(self) -> None:
        self.flat = FlatGraph()
        self._anon: dict[str, int] = {}

    def add(self, class_name: str, config: str = "", name: str | None = None) -> ElementRef:
        if name is None:
            n = self._anon.get(class_name, 0) + 1
            self._anon[class_name] = n
            name = f"{class_name}@{n}"
        self.flat.elements.append(ElementDecl(name, class_name, config))
        return ElementRef(self, name)

    def connect(self, src: ElementRef, dst: ElementRef, from_port: int = 0, to_port: int = 0) -> None:
        self.flat.connections.append(Connection(src.name, from_port, dst.name, to_port))

    def _link(self, src: ElementRef, port: int, other: "ElementRef | PortRef") -> ElementRef:
        if isinstance(other, PortRef):
            self.connect(src, other.elem, port, other.port)
            return other.elem
        self.connect(src, other, port, 0)
        return other

    def router(self, **kwargs):
        from clickpy.router import Router
        return Router(self.flat, **kwargs)
