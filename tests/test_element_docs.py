"""Every element's documentation follows one format, and `clickpy elements NAME` prints it.

The format (DESIGN.md, "Writing an element"): the signature line `Name` or
`Name(ARGS)`, a blank line, a one-line summary ending in a period, a
`Ports:` line and `Processing:` (its own line, or after Ports:; not for an
element without ports), the behaviour, then `Keywords:` (entries `  NAME  Type. Meaning`), `Handlers:`
(entries `  name (read|write|read/write)  meaning`, or `Handlers: as Base`)
whenever the class adds handlers, and `Example:` as needed.
"""
import re
import subprocess
import sys

import pytest

from clickpy import registry
from clickpy.element import Element
from std_helpers import router

try:
    from clickpy._element_index import INDEX
except ImportError:  # not built
    INDEX = {}

HANDLER_ENTRY = re.compile(r"^  ([a-z_0-9]+(?:, [a-z_0-9]+)*) \((read|write|read/write)\b[^)]*\)(\s+\S|$)")
KEYWORD_ENTRY = re.compile(r"^  [A-Z][A-Z0-9_]*\s+\S")
SECTIONS = ("Keywords:", "Handlers:", "Example:")
BASE_HANDLERS = {"name", "class", "config", "ports", "handlers"}


def section(lines: list[str], title: str) -> list[str]:
    """The entry lines of a section (up to the next blank line or section)."""
    if title not in lines:
        return []
    out = []
    for line in lines[lines.index(title) + 1:]:
        if not line.strip() or line in SECTIONS:
            break
        out.append(line)
    return out


def entries(lines: list[str]) -> list[str]:
    """A section's entries: a line indented by two spaces, joined with the
    more deeply indented lines that continue it."""
    out: list[str] = []
    for line in lines:
        if line.startswith("    ") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def documented_handlers(doc: str) -> set[str]:
    names = set()
    for entry in entries(section(doc.splitlines(), "Handlers:")):
        m = HANDLER_ENTRY.match(entry)
        if m:
            names.update(m.group(1).split(", "))
    return names


@pytest.mark.parametrize("name", sorted(INDEX))
def test_docstring_follows_the_format(name):
    cls = registry.lookup(name)
    doc = registry.doc(name)
    lines = doc.splitlines()
    assert re.fullmatch(rf"{name}(\(.*\))?", lines[0]), f"signature line: {lines[0]!r}"
    assert lines[1] == "", "a blank line after the signature"
    assert lines[2].strip() and lines[2].endswith(".") and not lines[2].startswith(("Ports:", "Processing:")), \
        f"one-line summary: {lines[2]!r}"
    assert any(line.startswith("Ports: ") for line in lines), "a Ports: line"
    if getattr(cls, "port_count", "0/0") not in ("0/0", "0"):     # no ports, nothing to process
        assert re.search(r"(^|\. )Processing: \S", doc, re.M), "Processing: (its own line, or after Ports:)"
    for entry in entries(section(lines, "Keywords:")):
        assert KEYWORD_ENTRY.match(entry), f"keyword entry: {entry!r}"
    handlers = section(lines, "Handlers:")
    if cls.add_handlers is not Element.add_handlers:
        # a subclass may point at its base's list: "Handlers: as Script (...)"
        assert handlers or any(line.startswith("Handlers: as ") for line in lines), \
            "the class adds handlers: a Handlers: section"
    for entry in entries(handlers):
        assert HANDLER_ENTRY.match(entry), f"handler entry: {entry!r}"


# One small config per standard element, to compare documented and actual handlers.
STANDARD_CONFIGS = {
    "Align": "Idle -> x :: Align(4, 0) -> Discard;",
    "BandwidthMeter": "Idle -> x :: BandwidthMeter(1kBps) -> Discard; x[1] -> Discard;",
    "BandwidthRatedUnqueue": "Idle -> Queue -> x :: BandwidthRatedUnqueue(1Mbps) -> Discard;",
    "BandwidthShaper": "Idle -> Queue -> x :: BandwidthShaper(1Mbps) -> Discard;",
    "CheckLength": "Idle -> x :: CheckLength(100) -> Discard;",
    "CheckPaint": "Idle -> x :: CheckPaint(1) -> Discard;",
    "Counter": "Idle -> x :: Counter -> Discard;",
    "Discard": "Idle -> Queue -> x :: Discard;",
    "FullNoteQueue": "Idle -> x :: FullNoteQueue -> Discard;",
    "Idle": "x :: Idle;",
    "InfiniteSource": "x :: InfiniteSource(ACTIVE false) -> Discard;",
    "Meter": "Idle -> x :: Meter(100) -> Discard; x[1] -> Discard;",
    "NotifierQueue": "Idle -> x :: NotifierQueue -> Discard;",
    "Null": "Idle -> x :: Null -> Discard;",
    "Paint": "Idle -> x :: Paint(1) -> Discard;",
    "PaintSwitch": "Idle -> x :: PaintSwitch -> Discard;",
    "PaintTee": "Idle -> x :: PaintTee(1) -> Discard; x[1] -> Discard;",
    "PoolInfo": "x :: PoolInfo(100);",
    "Print": "Idle -> x :: Print -> Discard;",
    "PrioSched": "Idle -> Queue -> x :: PrioSched -> Discard;",
    "PullNull": "Idle -> Queue -> x :: PullNull -> Discard;",
    "PullSwitch": "Idle -> Queue -> x :: PullSwitch -> Discard;",
    "PullTee": "Idle -> Queue -> x :: PullTee -> Discard;",
    "PushNull": "Idle -> x :: PushNull -> Discard;",
    "Queue": "Idle -> x :: Queue -> Discard;",
    "RED": "Idle -> x :: RED(1, 2, 0.1) -> Queue -> Discard;",
    "RatedSource": "x :: RatedSource(ACTIVE false) -> Discard;",
    "RatedUnqueue": "Idle -> Queue -> x :: RatedUnqueue(10) -> Discard;",
    "RoundRobinSched": "Idle -> Queue -> x :: RoundRobinSched -> Discard;",
    "RoundRobinSwitch": "Idle -> x :: RoundRobinSwitch -> Discard;",
    "SetAnnoByte": "Idle -> x :: SetAnnoByte(PAINT, 1) -> Discard;",
    "SetTimestamp": "Idle -> x :: SetTimestamp -> Discard;",
    "Shaper": "Idle -> Queue -> x :: Shaper(10) -> Discard;",
    "SimpleQueue": "Idle -> x :: SimpleQueue -> Discard;",
    "StaticSwitch": "Idle -> x :: StaticSwitch(0) -> Discard;",
    "Strip": "Idle -> x :: Strip(1) -> Discard;",
    "Switch": "Idle -> x :: Switch -> Discard;",
    "Tee": "Idle -> x :: Tee -> Discard;",
    "TimeSortedSched": "Idle -> Queue -> x :: TimeSortedSched -> Discard;",
    "TimedSource": "x :: TimedSource(ACTIVE false) -> Discard;",
    "Truncate": "Idle -> x :: Truncate(10) -> Discard;",
    "Unqueue": "Idle -> Queue -> x :: Unqueue -> Discard;",
    "Unstrip": "Idle -> x :: Unstrip(1) -> Discard;",
}


def test_every_standard_element_has_a_handler_check_config():
    standard = {n for n, m in INDEX.items() if m == "clickpy.elements.standard.standard"}
    assert standard == set(STANDARD_CONFIGS)


@pytest.mark.parametrize("name", sorted(STANDARD_CONFIGS))
def test_documented_handlers_are_the_real_ones(name):
    r = router(STANDARD_CONFIGS[name])
    actual = set(r.element("x").handler_names()) - BASE_HANDLERS
    assert documented_handlers(registry.doc(name)) == actual


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "clickpy", *args], capture_output=True, text=True, timeout=60)


def test_clickpy_elements_prints_the_documentation():
    done = run_cli("elements", "RatedUnqueue")
    assert done.returncode == 0
    assert done.stdout == registry.doc("RatedUnqueue") + "\n"
    listing = run_cli("elements")
    assert "RatedUnqueue" in listing.stdout.split() and "Print" in listing.stdout.split()


def test_clickpy_elements_unknown_class():
    done = run_cli("elements", "Shapr")
    assert done.returncode == 1
    assert "no element class 'Shapr'" in done.stderr and "Shaper" in done.stderr
