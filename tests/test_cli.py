"""The clickpy command against the real runtime and element registry.

Most tests call cli.main() in this process (stdout/stderr captured); a few run
the installed console script and `python -m clickpy` as a user would.
"""
import os
import re
import shutil
import subprocess
import sys
import types

import pytest

from clickpy import cli, registry
from clickpy.lang import graph_key, parse_config
from clickpy.lang.graph import FlatGraph
from clickpy.packet import DEFAULT_POOL_SIZE
from clickpy.router import Router

SOURCE = "src :: InfiniteSource(LIMIT 5, STOP true)"
CHAIN = f"{SOURCE} -> c :: Counter -> d :: Discard;"
BIN = os.path.dirname(sys.executable)


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# ---------------------------------------------------------------------------
# run: handlers, in click(1)'s formats


def test_single_handler_prints_just_the_value(capsys):
    assert run(capsys, "run", "-e", CHAIN, "-h", "c.count") == (0, "5\n", "")


def test_several_handlers_print_name_blocks(capsys):
    status, out, err = run(capsys, "run", "-e", CHAIN, "-h", "c.count", "-h", "d.count",
                           "-h", "c.class", "-h", "src.limit")
    assert (status, err) == (0, "")
    assert out == "c.count:\n5\n\nd.count:\n5\n\nc.class:\nCounter\n\nsrc.limit:\n5\n\n"


def test_global_handlers(capsys):
    status, out, _ = run(capsys, "run", "-e", CHAIN, "-h", "list")
    assert (status, out) == (0, "3\nsrc\nc\nd\n")
    status, out, _ = run(capsys, "run", "-e", CHAIN, "-h", "pool_free", "-h", "config")
    assert status == 0
    size = Router.from_string(CHAIN).pool.size
    assert out == f"pool_free:\n{size}\n\nconfig:\n{CHAIN}\n\n"


def test_glob_pattern_names_each_element_even_for_one_option(capsys):
    cfg = f"{SOURCE} -> c1 :: Counter -> c2 :: Counter -> x :: Counter -> Discard;"
    status, out, _ = run(capsys, "run", "-e", cfg, "-h", "c*.count")
    assert (status, out) == (0, "c1.count:\n5\n\nc2.count:\n5\n\n")
    status, out, _ = run(capsys, "run", "-e", cfg, "-h", "c[2-9].count")
    assert (status, out) == (0, "c2.count:\n5\n\n")
    status, out, _ = run(capsys, "run", "-e", cfg, "-h", "?1.count")
    assert (status, out) == (0, "c1.count:\n5\n\n")


def test_pattern_skips_elements_without_that_read_handler(capsys):
    # only InfiniteSource has a `limit` handler
    cfg = f"{SOURCE} -> c :: Counter -> Discard;"
    status, out, _ = run(capsys, "run", "-e", cfg, "-h", "*.limit")
    assert (status, out) == (0, "src.limit:\n5\n\n")
    status, out, _ = run(capsys, "run", "-e", cfg, "-h", "*.count")
    assert (status, out) == (0, "src.count:\n5\n\nc.count:\n5\n\nDiscard@3.count:\n5\n\n")


def test_class_name_selects_every_element_of_the_class(capsys):
    cfg = f"{SOURCE} -> a :: Counter -> b :: Counter -> Discard;"
    status, out, _ = run(capsys, "run", "-e", cfg, "-h", "Counter.count")
    assert (status, out) == (0, "a.count:\n5\n\nb.count:\n5\n\n")


def test_handler_errors_keep_going_and_exit_1(capsys):
    status, out, err = run(capsys, "run", "-e", CHAIN, "-h", "nope.count", "-h", "c.nope",
                           "-h", "zz*.count", "-h", "Queue.length", "-h", "c.reset",
                           "-h", "c.count")
    assert status == 1
    assert out == "c.count:\n5\n\n"
    lines = err.splitlines()
    assert lines[:4] == ["clickpy: no element 'nope'", "clickpy: no 'c.nope' handler",
                         "clickpy: no element matching 'zz*'", "clickpy: no element 'Queue'"]
    assert lines[4].startswith("clickpy: ") and "write-only" in lines[4]
    assert len(lines) == 5


def test_exit_handler(capsys):
    assert run(capsys, "run", "-e", CHAIN, "-x", "c.count")[0] == 5
    # a boolean: true is success, false is failure, as in click(1)
    assert run(capsys, "run", "-q", "-e", CHAIN, "-x", "src.active")[0] == 0
    inactive = "src :: InfiniteSource(ACTIVE false) -> Discard;"
    assert run(capsys, "run", "-q", "-e", inactive, "-x", "src.active")[0] == 1
    status, _, err = run(capsys, "run", "-e", CHAIN, "-x", "c.class")
    assert status == 255 and err == "clickpy: exit handler value should be integer\n"
    status, _, err = run(capsys, "run", "-e", CHAIN, "-x", "c.nope")
    assert status == 255 and err == "clickpy: no 'c.nope' handler\n"


def test_quit_initializes_without_running(capsys):
    status, out, _ = run(capsys, "run", "-q", "-e", CHAIN, "-h", "c.count", "-h", "src.count")
    assert (status, out) == (0, "c.count:\n0\n\nsrc.count:\n0\n\n")


def test_time_option(capsys):
    status, out, _ = run(capsys, "run", "-t", "-e", CHAIN, "-h", "c.count")
    assert status == 0
    assert re.fullmatch(r"\d+\.\d{3}u \d+\.\d{3}s \d+:\d\d\.\d\d\n5\n", out), out


def test_output_writes_the_flat_config(capsys, tmp_path):
    flat = tmp_path / "flat.click"
    cfg = f"elementclass W {{ input -> n :: Counter -> output }} {SOURCE} -> w :: W -> Discard;"
    status, out, _ = run(capsys, "run", "-o", str(flat), "-e", cfg, "-h", "w/n.count")
    assert (status, out) == (0, "5\n")
    assert flat.read_text() == ("src :: InfiniteSource(LIMIT 5, STOP true);\n"
                                "Discard@3 :: Discard;\nw/n :: Counter;\n"
                                "src -> w/n;\nw/n -> Discard@3;\n")
    # the flat config runs the same way
    assert run(capsys, "run", str(flat), "-h", "w/n.count") == (0, "5\n", "")


def test_definitions_on_the_command_line(capsys, tmp_path):
    f = tmp_path / "gen.click"
    f.write_text("define($N 1, $BURST 1);\n"
                 "src :: InfiniteSource(LIMIT $N, BURST $BURST, STOP true) -> c :: Counter -> Discard;\n")
    assert run(capsys, "run", str(f), "-h", "c.count") == (0, "1\n", "")
    assert run(capsys, "run", str(f), "N=7", "BURST=3", "-h", "c.count", "-h", "src.burst") == \
        (0, "c.count:\n7\n\nsrc.burst:\n3\n\n", "")
    assert run(capsys, "run", str(f), "N=1", "N=2")[1:] == \
        ("", "clickpy: parameter 'N' multiply defined\n")


def test_file_forms_and_the_default_command(capsys, tmp_path):
    f = tmp_path / "x.click"
    f.write_text(CHAIN)
    assert run(capsys, "run", "-f", str(f), "-h", "c.count")[1] == "5\n"
    assert run(capsys, str(f), "-h", "c.count")[1] == "5\n"        # click-style, no subcommand
    assert run(capsys, "run", f"--file={f}", "--handler=c.count")[1] == "5\n"
    assert run(capsys, "run", str(f), "-hc.count")[1] == "5\n"


def test_long_options_may_be_abbreviated_as_in_click(capsys):
    assert run(capsys, "run", "--expr", CHAIN, "--hand=c.count") == (0, "5\n", "")
    assert run(capsys, "run", "--q", "--exp", CHAIN, "--exit", "c.count")[0] == 0
    assert run(capsys, "run", "--h", "c.count", "-e", CHAIN)[2] == \
        "clickpy: option '--h' is ambiguous (--handler, --help)\n"
    assert run(capsys, "run", "--e", CHAIN)[2] == \
        "clickpy: option '--e' is ambiguous (--exit-handler, --expression)\n"
    assert run(capsys, "run", "--expressions", CHAIN)[2] == \
        "clickpy: unrecognized option '--expressions'\n"


def test_config_from_stdin(capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(CHAIN.encode())))
    assert run(capsys, "run", "-h", "c.count") == (0, "5\n", "")


def test_pool_option(capsys):
    status, out, _ = run(capsys, "run", "-q", "--pool", "100", "-e", CHAIN, "-h", "pool")
    assert status == 0
    stats = dict(line.split("\t") for line in out.splitlines())
    assert stats["small_size"] == stats["small_free"] == "100"
    # a pool smaller than one burst still runs: InfiniteSource waits for free buffers
    cfg = "src :: InfiniteSource(LIMIT 50, BURST 8, STOP true) -> c :: Counter -> Discard;"
    assert run(capsys, "run", "--pool=4", "-e", cfg, "-h", "c.count") == (0, "50\n", "")
    for bad in ("0", "-3", "x", str(cli.MAX_POOL + 1), "9" * 5000):
        status, _, err = run(capsys, "run", "--pool", bad, "-e", CHAIN)
        assert status == 1 and err.startswith("clickpy: '--pool' expects a number of buffers")


def test_empty_configuration_warns(capsys):
    status, _, err = run(capsys, "run", "-e", "")
    assert status == 0 and err == "clickpy: warning: <expr>: configuration has no elements, exiting\n"
    assert run(capsys, "run", "-w", "-e", "") == (0, "", "")


def test_warnings_and_no_warnings(capsys):
    cfg = f"elementclass X {{ c :: Counter; -> c -> output }} {SOURCE} -> X -> Discard;"
    status, _, err = run(capsys, "run", "-q", "-e", cfg)
    assert status == 0 and "warning: suggest 'input ->'" in err
    assert run(capsys, "run", "-q", "-w", "-e", cfg) == (0, "", "")


def test_clickpath_option(capsys, tmp_path):
    (tmp_path / "lib.click").write_text("elementclass L { input -> n :: Counter -> output }")
    status, out, err = run(capsys, "run", "-C", str(tmp_path), "-e",
                           f"require(library lib.click); {SOURCE} -> l :: L -> Discard;",
                           "-h", "l/n.count")
    assert (status, out, err) == (0, "5\n", "")


def test_threads_option(capsys):
    status, _, err = run(capsys, "run", "-q", "-j", "1", "-e", CHAIN)
    assert (status, err) == (0, "")
    # two workers, each running the graph (more in tests/test_workers.py)
    assert run(capsys, "run", "-j", "2", "-e", CHAIN, "-h", "c.count") == (0, "10\n", "")
    assert run(capsys, "run", "-j", "x", "-e", CHAIN)[2] == \
        "clickpy: '--threads' expects a number, not 'x'\n"
    status, _, err = run(capsys, "run", "-q", "-p", "7777", "-j", "2", "-e", CHAIN)
    assert status == 1 and "-p: not available with -j" in err


def test_control_socket_options_add_click_driver_elements():
    graph = FlatGraph()
    cli._control_sockets(graph, {"port": ["7777", "8000+"], "unix": ["/tmp/my socket"]})
    assert [(e.name, e.class_name, e.config) for e in graph.elements] == [
        ("click_driver@@ControlSocket", "ControlSocket", "TCP, 7777"),
        ("click_driver@@ControlSocket@1", "ControlSocket", "TCP, 8000+"),
        ("click_driver@@ControlSocket@2", "ControlSocket", 'UNIX, "/tmp/my socket"')]
    graph = FlatGraph()
    cli._control_sockets(graph, {"port": ["127.0.0.2:7777", "[::1]:7778"]})
    assert [e.config for e in graph.elements] == ["TCP, 7777, ADDRESS 127.0.0.2", "TCP, 7778, ADDRESS ::1"]


def test_bad_port_option(capsys):
    for bad in ("x", "0", "65536", "٣"):
        assert run(capsys, "run", "-p", bad, "-e", CHAIN)[2] == \
            f"clickpy: '--port' expects a TCP port number or ADDR:PORT, not '{bad}'\n"


def test_internal_error_is_one_line_and_cleans_up(capsys, monkeypatch, pool_accounting):
    def broken_run(self, *args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(Router, "run", broken_run)
    status, _, err = run(capsys, "run", "-e", CHAIN)
    # 70 (EX_SOFTWARE): a bug, not a bad configuration
    assert (status, err) == (cli.EXIT_INTERNAL, "clickpy: internal error: RuntimeError: boom\n")
    (router,) = pool_accounting
    assert router._cleaned


# ---------------------------------------------------------------------------
# errors: file:line:col, the line, a caret; exit status 1; no traceback


def assert_diagnostics(err: str, expected: list[tuple[str, str, str]]) -> None:
    """err holds exactly these (location, message, source line) diagnostics, carets
    under the column."""
    lines = err.splitlines()
    assert len(lines) == 3 * len(expected), err
    for k, (where, message, source) in enumerate(expected):
        head, text, caret = lines[3 * k:3 * k + 3]
        assert head == f"{where}: {message}"
        assert text == "  " + source
        col = int(where.rsplit(":", 1)[1])
        assert caret == " " * (col + 1) + "^"


def test_unknown_class_with_suggestion(capsys):
    cfg = "c :: Cuonter;\nInfiniteSource(LIMIT 1, STOP true) -> c -> Discard;"
    status, out, err = run(capsys, "run", "-e", cfg)
    assert (status, out) == (1, "")
    assert_diagnostics(err, [("<expr>:1:1", "unknown element class 'Cuonter' (did you mean 'Counter'?)",
                              "c :: Cuonter;")])
    # used inline, an unknown word is an undeclared element (Click's rule)
    status, _, err = run(capsys, "run", "-e", "InfiniteSource -> Cuonter -> Discard;")
    assert_diagnostics(err, [("<expr>:1:19",
                              "undeclared element 'Cuonter' (unknown class? did you mean 'Counter'?)",
                              "InfiniteSource -> Cuonter -> Discard;")])
    assert status == 1


def test_port_errors(capsys):
    cfg = "InfiniteSource(LIMIT 1, STOP true) -> d :: Discard -> Discard;"
    status, _, err = run(capsys, "run", "-e", cfg)
    assert status == 1
    assert_diagnostics(err, [("<expr>:1:39", "'d :: Discard' has 1 outputs but allows 0", cfg)])
    cfg = "q :: Queue;\nInfiniteSource -> q;"
    status, _, err = run(capsys, "check", "-e", cfg)
    assert status == 1
    assert_diagnostics(err, [("<expr>:1:1", "'q :: Queue' output 0 is not connected", "q :: Queue;")])


def test_push_pull_error(capsys):
    cfg = "q :: Queue; InfiniteSource -> q -> Queue -> Discard;"
    status, _, err = run(capsys, "run", "-e", cfg)
    assert status == 1
    assert_diagnostics(err, [("<expr>:1:33", "pull output 0 of 'q :: Queue' connected to "
                              "push input 0 of 'Queue@3 :: Queue'", cfg)])


def test_configure_errors_are_all_reported(capsys, tmp_path):
    f = tmp_path / "bad.click"
    f.write_text("// two bad elements\n"
                 "src :: InfiniteSource(LIMIT x) -> Discard;\n"
                 "  q :: Queue(-5); InfiniteSource -> q -> Unqueue -> Discard;\n")
    status, out, err = run(capsys, "run", str(f))
    assert (status, out) == (1, "")
    assert_diagnostics(err, [
        (f"{f}:2:1", "src :: InfiniteSource: LIMIT: expected integer",
         "src :: InfiniteSource(LIMIT x) -> Discard;"),
        (f"{f}:3:3", "q :: Queue: CAPACITY: expected unsigned integer",
         "  q :: Queue(-5); InfiniteSource -> q -> Unqueue -> Discard;")])


def test_syntax_error(capsys):
    status, out, err = run(capsys, "run", "-e", "a :: Counter;\na -> ;")
    assert (status, out) == (1, "")
    assert err.startswith("<expr>:2:6: syntax error near ';'\n  a -> ;\n       ^\n")


def test_missing_file_and_bad_options(capsys):
    status, _, err = run(capsys, "run", "/nonexistent.click")
    assert status == 1 and err == "clickpy: /nonexistent.click: No such file or directory\n"
    assert run(capsys, "run", "--bogus")[2] == "clickpy: unrecognized option '--bogus'\n"
    assert run(capsys, "run", "-e")[2] == "clickpy: option '-e' requires an argument\n"
    assert run(capsys, "run", "-e", "x", "y.click")[2] == \
        "clickpy: router configuration specified twice\n"
    assert run(capsys, "check", "-h", "c.count", "-e", CHAIN)[2] == \
        "clickpy: unrecognized option '-h'\n"


# ---------------------------------------------------------------------------
# check, flatten, elements, viz


def test_check(capsys, pool_accounting):
    assert run(capsys, "check", "-e", CHAIN) == (0, "", "")
    assert run(capsys, "check", "--pool", "64", "-e", CHAIN) == (0, "", "")
    assert [r.pool.stats()["small_size"] for r in pool_accounting] == [DEFAULT_POOL_SIZE, 64]
    assert all(r._cleaned for r in pool_accounting)
    assert run(capsys, "check", "-e", "InfiniteSource -> x")[0] == 1


def test_flatten_round_trip(capsys, tmp_path):
    cfg = ("elementclass Gen { $n | InfiniteSource(LIMIT $n, STOP true) -> output }\n"
           "elementclass Pipe { input -> q :: Queue(10) -> Unqueue -> c :: Counter -> output }\n"
           "g :: Gen(6) -> p :: Pipe -> Discard;\n")
    status, flat, err = run(capsys, "flatten", "-e", cfg)
    assert (status, err) == (0, "")
    assert graph_key(parse_config(flat)) == graph_key(parse_config(cfg))
    assert "p/q :: Queue(10);" in flat.splitlines()
    out_file = tmp_path / "flat.click"
    assert run(capsys, "flatten", "-o", str(out_file), "-e", cfg)[0] == 0
    assert out_file.read_text() == flat
    # and the flat config runs to the same result
    assert run(capsys, "run", str(out_file), "-h", "p/c.count") == (0, "6\n", "")
    assert run(capsys, "run", "-e", cfg, "-h", "p/c.count") == (0, "6\n", "")


def test_elements_lists_the_registry(capsys):
    status, out, err = run(capsys, "elements")
    assert (status, err) == (0, "")
    names = out.splitlines()
    assert names == sorted(registry.class_names()) and len(names) == len(set(names))
    assert {"InfiniteSource", "Counter", "Discard", "Queue", "Unqueue"} <= set(names)


def test_elements_name_prints_the_documentation(capsys):
    status, out, _ = run(capsys, "elements", "Counter")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("Counter(")
    assert "Handlers:" in lines
    assert any(line.startswith("  count (read)") for line in lines)
    status, out, _ = run(capsys, "elements", "Queue", "Discard")
    assert status == 0 and out.startswith("Queue(") and "\nDiscard(" in out


def test_elements_unknown_name(capsys):
    status, out, err = run(capsys, "elements", "Cuonter")
    assert (status, out) == (1, "")
    assert err == "clickpy: no element class 'Cuonter' (did you mean 'Counter'?)\n"
    assert run(capsys, "elements", "Zzzzz")[2] == "clickpy: no element class 'Zzzzz'\n"


def test_viz_dot(capsys, tmp_path):
    cfg = "q :: Queue; InfiniteSource -> q; InfiniteSource -> [0] q; q -> Unqueue -> Discard;"
    status, out, _ = run(capsys, "viz", "-e", cfg)
    assert status == 0
    assert out.startswith("digraph clickpy {")
    assert '"q" [label="{{<i0> 0}|q\\n:: Queue|{<o0> 0}}"' in out
    assert '"InfiniteSource@2":o0 -> "q":i0;' in out and '"q":o0 -> "Unqueue@4":i0;' in out
    dot_file = tmp_path / "g.dot"
    assert run(capsys, "viz", "-o", str(dot_file), "-e", cfg) == (0, "", "")
    assert dot_file.read_text() == out


def test_viz_svg_with_graphviz(capsys, tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed (scripts/install-deps.sh installs it)")
    svg = tmp_path / "g.svg"
    assert run(capsys, "viz", "-o", str(svg), "-e", CHAIN) == (0, "", "")
    text = svg.read_text()
    assert "<svg" in text and "Counter" in text


def test_viz_svg_without_graphviz(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    status, _, err = run(capsys, "viz", "-o", str(tmp_path / "g.svg"), "-e", CHAIN)
    assert status == 1 and "Graphviz 'dot' not found" in err
    assert (tmp_path / "g.dot").read_text().startswith("digraph clickpy {")


def test_help_version_and_reserved_commands(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0 and out.startswith("Usage: clickpy") and "--pool N" in out
    assert run(capsys, "run", "--help")[1] == out
    assert run(capsys)[0] == 1
    assert run(capsys, "--version")[1].startswith("clickpy ")
    assert run(capsys, "handler")[0] == 2
    assert run(capsys, "top")[:2] == (2, "")         # no router named: a usage error


# ---------------------------------------------------------------------------
# the installed command, in its own process


def test_console_script_runs_a_config_file(tmp_path):
    script = os.path.join(BIN, "clickpy")
    assert os.access(script, os.X_OK), f"the console script is not installed in {BIN}"
    f = tmp_path / "gen.click"
    f.write_text("define($N 3);\n" + "src :: InfiniteSource(LIMIT $N, STOP true) -> c :: Counter -> Discard;\n")
    r = subprocess.run([script, "run", str(f), "N=9", "-h", "c.count", "-h", "src.count"],
                       capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (0, "c.count:\n9\n\nsrc.count:\n9\n\n", "")
    r = subprocess.run([script, "run", str(f), "-x", "c.count"], capture_output=True, text=True,
                       timeout=120)
    assert (r.returncode, r.stderr) == (3, "")


def test_console_script_error_has_no_traceback(tmp_path):
    f = tmp_path / "bad.click"
    f.write_text("x :: Cuonter;\n")
    r = subprocess.run([os.path.join(BIN, "clickpy"), "check", str(f)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == (f"{f}:1:1: unknown element class 'Cuonter' (did you mean 'Counter'?)\n"
                        "  x :: Cuonter;\n  ^\n")


def test_python_dash_m():
    r = subprocess.run([sys.executable, "-m", "clickpy", "run", "-e", CHAIN, "-h", "c.count"],
                       capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout, r.stderr) == (0, "5\n", "")


# ---------------------------------------------------------------------------
# start-up: what `clickpy run` imports (a regression test of the start-up work;
# bench/bench_startup.py measures the time)

# Each of these costs start-up time and is not needed to run a standard config:
# typing, enum, re and dataclasses (and what they pull in) alone used to cost
# more than all of clickpy.
FORBIDDEN_AT_STARTUP = {
    "typing", "dataclasses", "inspect", "enum", "ipaddress", "pathlib", "argparse", "optparse",
    "re", "decimal", "fractions", "numbers", "collections", "functools", "contextlib",
    "threading", "signal", "subprocess", "shutil", "difflib", "textwrap", "fnmatch", "importlib",
    "tempfile", "logging", "json", "socket", "selectors", "asyncio", "multiprocessing",
    "numpy", "scapy", "pyroute2",
}

_MODULES_AFTER = """
import sys
from clickpy.cli import main
sys.argv = ["clickpy"] + sys.argv[1:]
status = main()
sys.stdout.flush()
print("MODULES", " ".join(sorted(sys.modules)))
sys.exit(status)
"""


def modules_imported(*argv: str, status: int = 0) -> set[str]:
    """Top-level names of the modules that `clickpy ARGV` imports beyond a bare Python's."""
    bare = subprocess.run([sys.executable, "-c", "import sys; print(' '.join(sys.modules))"],
                          capture_output=True, text=True, check=True).stdout.split()
    r = subprocess.run([sys.executable, "-c", _MODULES_AFTER, *argv], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == status, r.stderr
    line = [x for x in r.stdout.splitlines() if x.startswith("MODULES ")][0]
    return {m.split(".")[0] for m in set(line.split()[1:]) - set(bare)}


def test_run_quit_imports_nothing_heavy():
    loaded = modules_imported("run", "-q", "-e", "InfiniteSource(LIMIT 1, STOP true) -> Discard;")
    assert "clickpy" in loaded
    assert loaded & FORBIDDEN_AT_STARTUP == set()


def test_a_real_run_with_handlers_imports_nothing_heavy():
    loaded = modules_imported("run", "-t", "-e",
                              "src :: InfiniteSource(LIMIT 10, STOP true) -> q :: Queue -> Unqueue"
                              " -> c :: Counter -> Discard;", "-h", "c.count", "-x", "c.count", status=10)
    assert loaded & FORBIDDEN_AT_STARTUP == set()


def test_run_inside_a_program_leaves_its_signal_mask():
    """`clickpy run` blocks SIGINT/SIGTERM/SIGHUP for its own process (so one
    arriving during clean-up cannot kill it); run through cli.main(argv)
    inside another program, it gives that program its mask back."""
    import signal
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert cli.main(["run", "-e", "InfiniteSource(LIMIT 10, STOP true) -> Discard;"]) == 0
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
