"""The clickpy command, with a fake runtime standing in for clickpy.router."""
import sys
import types

import pytest

import clickpy.lang
from clickpy import cli
from clickpy.lang import ConfigError


CLASSES = {"Counter", "Discard", "Idle", "Queue", "Classifier", "Broken", "ControlSocket"}


class FakeRouter:
    instances: list = []
    fail_run = None

    def __init__(self, graph, warnings):
        self.graph = graph
        self.warnings = warnings
        self.ran = False
        self.cleaned = False
        self.values = {"version": "1.0"}
        for e in graph.elements:
            self.values[f"{e.name}.count"] = "42"
            self.values[f"{e.name}.config"] = e.config
            self.values[f"{e.name}.class"] = e.class_name

    @classmethod
    def from_graph(cls, graph, *, pool_size=None, warnings=True):
        for e in graph.elements:
            if e.class_name == "Broken":
                raise ConfigError(f"{e.name} :: Broken: LIMIT: expected integer", e.location)
        r = cls(graph, warnings)
        cls.instances.append(r)
        return r

    def run(self, timeout=None):
        if FakeRouter.fail_run:
            raise FakeRouter.fail_run
        self.ran = True

    def handler(self, name):
        if name not in self.values:
            raise ConfigError(f"no '{name}' handler")
        return self.values[name]

    def write(self, name, value):
        self.values[name] = value

    def handler_names(self):
        return list(self.values)

    def cleanup(self):
        self.cleaned = True


@pytest.fixture(autouse=True)
def fake_runtime(monkeypatch):
    FakeRouter.instances = []
    FakeRouter.fail_run = None
    router_mod = types.ModuleType("clickpy.router")
    router_mod.Router = FakeRouter
    monkeypatch.setitem(sys.modules, "clickpy.router", router_mod)
    registry = types.ModuleType("clickpy.registry")
    registry.has_class = CLASSES.__contains__
    registry.class_names = lambda: ["Counter", "Discard", "Idle", "Queue"]
    registry.doc = lambda name: f"{name} -- documentation\n"
    monkeypatch.setitem(sys.modules, "clickpy.registry", registry)
    monkeypatch.setattr(clickpy.lang, "_registry_cache",
                        [registry.has_class, registry.class_names])


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_run_expression_and_single_handler(capsys):
    status, out, err = run(capsys, "run", "-e", "c :: Counter; Idle -> c -> Discard;",
                           "-h", "c.count")
    assert (status, out, err) == (0, "42\n", "")
    (r,) = FakeRouter.instances
    assert r.ran and r.cleaned


def test_several_handlers_print_names(capsys):
    status, out, _ = run(capsys, "run", "-e", "c :: Counter; d :: Counter; Idle -> c -> d -> Discard",
                         "-h", "c.count", "-h", "d.config", "-h", "version")
    assert status == 0
    assert out == "c.count:\n42\n\nd.config:\n\nversion:\n1.0\n\n"


def test_handler_pattern_and_class_name(capsys):
    cfg = "c1 :: Counter; c2 :: Counter; Idle -> c1 -> c2 -> Discard"
    status, out, _ = run(capsys, "run", "-e", cfg, "-h", "c*.count")
    assert (status, out) == (0, "c1.count:\n42\n\nc2.count:\n42\n\n")
    status, out, _ = run(capsys, "run", "-e", cfg, "-h", "Counter.class")
    assert (status, out) == (0, "c1.class:\nCounter\n\nc2.class:\nCounter\n\n")


def test_missing_handler_is_an_error(capsys):
    status, out, err = run(capsys, "run", "-e", "Idle -> Discard", "-h", "nope.count",
                           "-h", "Idle@1.nope")
    assert status == 1
    assert err == "clickpy: no element 'nope'\nclickpy: no 'Idle@1.nope' handler\n"


def test_exit_handler(capsys):
    base = ["run", "-e", "c :: Counter; Idle -> c -> Discard"]
    assert run(capsys, *base, "-x", "c.count")[0] == 42
    FakeRouter.instances.clear()
    assert cli.main(base + ["-x", "version"]) == 255
    out, err = capsys.readouterr()
    assert "exit handler value should be integer" in err


def test_quit_does_not_run(capsys):
    status, _, _ = run(capsys, "run", "-q", "-e", "Idle -> Discard")
    assert status == 0 and not FakeRouter.instances[0].ran


def test_output_flat_config(capsys, tmp_path):
    out_file = tmp_path / "flat.click"
    status, _, _ = run(capsys, "run", "-q", "-o", str(out_file), "-e",
                       "elementclass W { input -> Counter -> output } Idle -> W -> Discard")
    assert status == 0
    assert out_file.read_text() == ("Idle@1 :: Idle;\nDiscard@3 :: Discard;\n"
                                    "W@2/Counter@1 :: Counter;\nIdle@1 -> W@2/Counter@1;\n"
                                    "W@2/Counter@1 -> Discard@3;\n")


def test_time_option(capsys):
    status, out, _ = run(capsys, "run", "-t", "-e", "Idle -> Discard")
    assert status == 0
    import re
    assert re.fullmatch(r"\d+\.\d{3}u \d+\.\d{3}s \d+:\d\d\.\d\d\n", out)


def test_definitions_on_the_command_line(capsys, tmp_path):
    f = tmp_path / "x.click"
    f.write_text("define($N 1); c :: Counter($N, $M); Idle -> c -> Discard;")
    status, out, _ = run(capsys, "run", str(f), "N=5", "M=x y", "-h", "c.config")
    assert (status, out) == (0, "5, x y\n")
    assert run(capsys, "run", str(f), "N=1", "N=2")[2] == "clickpy: parameter 'N' multiply defined\n"


def test_file_option_and_default_command(capsys, tmp_path):
    f = tmp_path / "x.click"
    f.write_text("c :: Counter; Idle -> c -> Discard;")
    assert run(capsys, "run", "-f", str(f), "-h", "c.count")[1] == "42\n"
    assert run(capsys, str(f), "-h", "c.count")[1] == "42\n"        # click-style, no subcommand
    assert run(capsys, "run", f"--file={f}", "--handler=c.count")[1] == "42\n"


def test_config_error_output(capsys):
    status, out, err = run(capsys, "run", "-e", "a :: Idle;\na -> nope;")
    assert status == 1 and out == ""
    assert err == "<expr>:2:6: undeclared element 'nope'\n  a -> nope;\n       ^\n"
    assert not FakeRouter.instances


def test_runtime_config_error_output(capsys):
    status, _, err = run(capsys, "run", "-e", "b :: Broken(x);")
    assert status == 1
    assert err.startswith("<expr>:1:1: b :: Broken: LIMIT: expected integer\n")


def test_internal_error_is_one_line(capsys):
    FakeRouter.fail_run = RuntimeError("boom")
    status, _, err = run(capsys, "run", "-e", "Idle -> Discard")
    assert status == 1
    assert err == "clickpy: internal error: RuntimeError: boom\n"
    assert FakeRouter.instances[0].cleaned


def test_missing_file_and_bad_options(capsys):
    status, _, err = run(capsys, "run", "/nonexistent.click")
    assert status == 1 and err.startswith("clickpy: /nonexistent.click: No such file")
    assert run(capsys, "run", "--bogus")[2] == "clickpy: unrecognized option '--bogus'\n"
    assert run(capsys, "run", "-e")[2] == "clickpy: option '-e' requires an argument\n"
    assert run(capsys, "run", "-e", "x", "y.click")[2] == \
        "clickpy: router configuration specified twice\n"


def test_warnings_and_no_warnings(capsys):
    cfg = "elementclass X { input -> Discard; -> c :: Counter -> output } Idle -> X -> Discard"
    _, _, err = run(capsys, "run", "-q", "-e", cfg)
    assert "warning: suggest 'input ->'" in err
    _, _, err = run(capsys, "run", "-q", "-w", "-e", cfg)
    assert err == ""
    assert FakeRouter.instances[-1].warnings is False


def test_empty_configuration_warns(capsys):
    status, _, err = run(capsys, "run", "-e", "")
    assert status == 0 and "configuration has no elements" in err


def test_control_socket_and_threads(capsys):
    status, _, err = run(capsys, "run", "-q", "-p", "7777", "-u", "/tmp/s", "-e", "Idle -> Discard")
    assert status == 0
    g = FakeRouter.instances[0].graph
    assert [(e.name, e.class_name, e.config) for e in g.elements[2:]] == [
        ("click_driver@@ControlSocket", "ControlSocket", "TCP, 7777"),
        ("click_driver@@ControlSocket@1", "ControlSocket", "UNIX, /tmp/s")]
    # workers (-j, tests/test_workers.py) cannot share one control socket
    status, _, err = run(capsys, "run", "-q", "-p", "7777", "-j", "2", "-e", "Idle -> Discard")
    assert status == 1 and "-p and -u are not available with -j" in err
    assert run(capsys, "run", "-p", "x", "-e", "Idle")[2] == \
        "clickpy: '--port' expects a TCP port number, not 'x'\n"


def test_clickpath_option(capsys, tmp_path):
    (tmp_path / "lib.click").write_text("elementclass L { input -> Counter -> output }")
    status, out, err = run(capsys, "run", "-q", "-C", str(tmp_path), "-e",
                           "require(library lib.click); Idle -> L -> Discard")
    assert status == 0, err


def test_check(capsys, monkeypatch):
    assert run(capsys, "check", "-e", "Idle -> Discard") == (0, "", "")
    assert FakeRouter.instances[0].cleaned
    assert run(capsys, "check", "-e", "Idle -> x")[0] == 1
    monkeypatch.setitem(sys.modules, "clickpy.router", None)
    status, _, err = run(capsys, "check", "-e", "Idle -> Discard")
    assert status == 0 and "checked the syntax only" in err


def test_flatten(capsys):
    status, out, _ = run(capsys, "flatten", "-e", "a :: Idle; a -> Counter -> Discard")
    assert status == 0
    assert out == ("a :: Idle;\nCounter@2 :: Counter;\nDiscard@3 :: Discard;\n"
                   "a -> Counter@2;\nCounter@2 -> Discard@3;\n")
    assert clickpy.lang.parse_config(out, is_class=CLASSES.__contains__).elements[1].name == "Counter@2"


def test_elements(capsys):
    assert run(capsys, "elements") == (0, "Counter\nDiscard\nIdle\nQueue\n", "")
    assert run(capsys, "elements", "Queue") == (0, "Queue -- documentation\n", "")
    status, _, err = run(capsys, "elements", "Cuonter")
    assert status == 1 and err == "clickpy: no element class 'Cuonter' (did you mean 'Counter'?)\n"


def test_undeclared_suggests_class(capsys):
    _, _, err = run(capsys, "flatten", "-e", "Idle -> Cuonter -> Discard")
    assert "undeclared element 'Cuonter' (unknown class? did you mean 'Counter'?)" in err


def test_viz_dot(capsys, tmp_path):
    status, out, _ = run(capsys, "viz", "-e", "c :: Classifier(a, b); Idle -> c; c [1] -> Discard")
    assert status == 0
    assert '"c" [label="{{<i0> 0}|c\\n:: Classifier|{<o0> 0|<o1> 1}}"' in out
    assert '"c":o1 -> "Discard@3":i0;' in out
    dot_file = tmp_path / "g.dot"
    assert run(capsys, "viz", "-o", str(dot_file), "-e", "Idle -> Discard")[0] == 0
    assert dot_file.read_text().startswith("digraph clickpy {")


def test_viz_svg_without_graphviz(capsys, tmp_path, monkeypatch):
    import shutil
    monkeypatch.setattr(shutil, "which", lambda name: None)
    status, _, err = run(capsys, "viz", "-o", str(tmp_path / "g.svg"), "-e", "Idle -> Discard")
    assert status == 1 and "Graphviz 'dot' not found" in err
    assert (tmp_path / "g.dot").exists()


def test_viz_svg_with_graphviz(capsys, tmp_path):
    import shutil
    if shutil.which("dot") is None:
        pytest.skip("Graphviz not installed")
    out = tmp_path / "g.svg"
    assert run(capsys, "viz", "-o", str(out), "-e", "Idle -> Discard")[0] == 0
    assert "<svg" in out.read_text()


def test_reserved_commands_and_help(capsys):
    assert run(capsys, "handler")[0] == 2
    assert run(capsys, "top")[2] == "clickpy: 'top' is not implemented yet\n"
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "Usage: clickpy" in out
    assert run(capsys)[0] == 1
    assert run(capsys, "--version")[1].startswith("clickpy ")


def test_no_runtime(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "clickpy.router", None)
    status, _, err = run(capsys, "run", "-e", "Idle -> Discard")
    assert status == 1 and err.startswith("clickpy: the runtime is not available")


def test_config_from_stdin(capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(
        buffer=io.BytesIO(b"c :: Counter; Idle -> c -> Discard")))
    assert run(capsys, "run", "-h", "c.count") == (0, "42\n", "")
