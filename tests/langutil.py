"""Helpers for the config-language tests."""
from __future__ import annotations

import re

import pytest

from clickpy.lang import ConfigError, parse_config

_CLASS = re.compile(r"[A-Z][A-Za-z0-9_]*\Z")


def is_class(name: str) -> bool:
    """Test classes: any word that starts with an uppercase letter."""
    return bool(_CLASS.match(name))


def parse(text: str, **kw):
    kw.setdefault("is_class", is_class)
    return parse_config(text, "test.click", **kw)


def elems(g) -> list[tuple[str, str, str]]:
    return [(e.name, e.class_name, e.config) for e in g.elements]


def names(g) -> list[str]:
    return [e.name for e in g.elements]


def conns(g) -> list[str]:
    return [f"{c.from_elem}[{c.from_port}]->[{c.to_port}]{c.to_elem}" for c in g.connections]


def errors(text: str, **kw) -> list[tuple[int, int, str]]:
    """(line, col, message) of every error diagnostic."""
    with pytest.raises(ConfigError) as ei:
        parse(text, **kw)
    return [(d.location.line, d.location.col, d.message) for d in ei.value.diagnostics
            if d.severity == "error"]


def messages(text: str, **kw) -> list[str]:
    return [m for _, _, m in errors(text, **kw)]
