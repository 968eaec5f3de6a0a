"""Every error the config language reports, with its exact location."""
import pytest
from langutil import errors, parse

from clickpy.lang import ConfigError, parse_config

CASES = [
    # lexical / statement level
    ("a :: Idle; a -> ;", [(1, 17, "syntax error near ';'")]),
    ("a :: Idle; a ->", [(1, 16, "syntax error near end of file")]),
    ("a :: A;\n#foo\nb :: B;", [(2, 1, "unknown preprocessor directive")]),
    ("a :: A(1, 2;", [(1, 13, "expected ')'")]),
    ("provide(x);", [(1, 1, "syntax error near 'provide'"), (1, 9, "undeclared element 'x'")]),
    ("a :: A; b :: B; a -> ( input -> b;", None),
    # ports
    ("a :: A; b :: B; a [x] -> b;", [(1, 20, "syntax error: port number should be integer")]),
    ("a :: A; b :: B; a [-> b;", [(1, 20, "syntax error: expected port number")]),
    ("a :: A; b :: B; a [1 2] -> b;", [(1, 22, "syntax error: expected ','")]),
    ("a :: A; b :: B; a [70000] -> b;", [(1, 20, "port number 70000 too large")]),
    ("a :: A; b :: B; a -> [1] ;", [(1, 26, "stranded port ignored"),
                                   (1, 26, "syntax error near ';'")]),
    ("a :: A; [1] a -> Discard;", [(1, 9, "input ports ignored at start of chain")]),
    ("a :: A; Idle -> a [1];", [(1, 17, "output ports ignored at end of chain")]),
    # declarations
    ("a :: ;", [(1, 6, "missing element type in declaration")]),
    ("a :: A; b :: B; a(1) -> b;", [(1, 18, "configuration string ignored on element reference")]),
    ("Idle :: Discard;", [(1, 1, "class 'Idle' used as element name")]),
    ("a :: Idle;\na -> b;", [(2, 6, "undeclared element 'b'")]),
    ("a :: Idle;\n  a :: Discard;", [(2, 3, "redeclaration of element 'a'"),
                                     (1, 1, "element 'a' previously declared here")]),
    ("1 :: Idle;", [(1, 1, "element name '1' has all-digit component")]),
    ("x/2 :: Idle;", [(1, 1, "element name 'x/2' has all-digit component")]),
    # connections
    ("a :: A; b :: B; a [1,] => [1,] b;",
     [(1, 24, "at most one expandable port allowed per connection")]),
    ("a, b :: A; c, d :: B; a, b -> c, d;",
     [(1, 28, "syntax error: many-to-many connections require '=>'")]),
    ("a, b :: A; c, d, e :: B; a, b => c, d, e;",
     [(1, 31, "connection mismatch: 2 outputs connected to 3 inputs")]),
    ("a :: A; c, d :: B; a [0,1,2,] => c, d;",
     [(1, 31, "connection mismatch: 3 or more outputs connected to 2 inputs")]),
    ("a, b :: A; c :: B; a, b => [0,1,2,] c;",
     [(1, 25, "connection mismatch: 2 outputs connected to 3 or more inputs")]),
    ("elementclass X { input -> [0], A -> output }",
     [(1, 34, "implicit ports used in the middle of a chain"),
      (1, 16, "'X' pseudoelement 'output' may only be used as input")]),
    # elementclass and parameters
    ("elementclass ;", [(1, 14, "expected element type name"), (1, 14, "syntax error near ';'")]),
    ("elementclass X { $a $b | input -> output }",
     [(1, 21, "expected ',' or '|'"), (1, 21, "syntax error near '$b'"),
      (1, 24, "syntax error near '|'")]),
    ("elementclass X { $a, b | input -> output }",
     [(1, 22, "expected variable"), (1, 22, "undeclared element 'b'"),
      (1, 24, "syntax error near '|'")]),
    ("elementclass X { $a, $a | input -> output }", [(1, 22, "parameter '$a' multiply defined")]),
    ("elementclass X { K $a, K $b | input -> output }",
     [(1, 26, "repeated keyword parameter 'K' in compound element")]),
    ("elementclass X { K $a, $b | input -> output }",
     [(1, 24, "compound element parameters out of order (the correct order is "
              "'[positional], [keywords], [__REST__]')")]),
    ("define($a 1, $a 2);", [(1, 1, "parameter '$a' multiply defined")]),
    ("elementclass nope { ... }", [(1, 21, "cannot extend unknown element class 'nope'"),
                                   (1, 21, "'...' should occur last, after one or more compounds")]),
    ("elementclass Idle { ... || input -> output }",
     [(1, 21, "'...' should occur last, after one or more compounds")]),
    ("elementclass X { input -> output", [(1, 33, "expected '}'")]),
    # pseudo-elements and tunnels
    ("elementclass X { input -> input; input -> output }",
     [(1, 16, "'X' pseudoelement 'input' may only be used as output")]),
    ("elementclass X { input [1] -> output }", [(1, 16, "'X' input 0 missing")]),
    ("elementclass X { input -> [1] output }", [(1, 16, "'X' output 0 missing")]),
    ("x :: X; y :: Y; x => ( [0]->[0]; [2]->Idle ) -> y;",
     [(1, 22, "'<anonymous group>' input 1 missing"), (1, 22, "'@3' has no input 1")]),
    ("x :: X; y :: Y; x => [0] ( [0]->[0]; [1]->Idle ) -> y;", [(1, 26, "'@3' input 1 unused")]),
    ("c :: { input -> X -> output }; a :: A; b :: B; a -> [1] c -> b;",
     [(1, 1, "'c' has no input 1"), (1, 1, "'c' input 0 unused")]),
    ("c :: { input -> X -> output }; a :: A; b :: B; a -> c [1] -> b;",
     [(1, 1, "'c' has no output 1"), (1, 1, "'c' output 0 unused")]),
    ("c :: { input -> X -> output }; a :: A; a -> c;", [(1, 1, "'c' output 0 unused")]),
    ("elementclass X { input -> output; Idle -> input } a :: A; a -> X -> a;",
     [(1, 16, "'X' pseudoelement 'input' may only be used as output"),
      (1, 64, "'X@2/input' used as input")]),
    ("elementclass c/y { input -> output } elementclass C { input -> y :: Idle -> output }"
     " Idle -> c :: C -> Discard;", [(1, 94, "'c/y' is an element class")]),
    ("elementclass T { $a | input -> output }\nIdle -> T(1, 2) -> Discard;",
     [(2, 9, "no match for 'T[2 arguments, 1 input, 1 output]'; candidates are: "
             "'T(<arg>)[1 input, 1 output]' (test.click:1:16)")]),
    ("elementclass T { COUNT $c | input -> output }\nIdle -> T(1) -> Discard;",
     [(2, 9, "no match for 'T[1 argument, 1 input, 1 output]'; candidates are: "
             "'T(COUNT)[1 input, 1 output]' (test.click:1:16)")]),
    # require and define
    ("elementclass X { require(library foo); input -> output }",
     [(1, 18, "'require library' must be used at file scope")]),
    ("require(library nonexistent.click);",
     [(1, 1, "library 'nonexistent.click' not found in CLICKPATH/conf")]),
    ("require(package a b);", [(1, 1, "syntax error at requirement")]),
    ("define(a 1);", [(1, 1, "bad 'define' declaration: not a variable")]),
    ("define $a;", [(1, 8, "expected '('"), (1, 8, "syntax error near '$a'")]),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_error(text, expected):
    got = errors(text)
    if expected is None:
        assert got
    else:
        assert got == expected


def test_all_errors_are_reported_not_only_the_first():
    got = errors("a :: Idle;\na -> b;\nc -> a;\nd :: X; d :: Y;")
    assert [m for _, _, m in got] == ["undeclared element 'b'", "undeclared element 'c'",
                                      "redeclaration of element 'd'",
                                      "element 'd' previously declared here"]


def test_undeclared_is_reported_once_per_name():
    got = errors("a :: Idle; a -> b; b -> a; a -> b;")
    assert [m for _, _, m in got] == ["undeclared element 'b'"]


def test_error_format_has_caret():
    with pytest.raises(ConfigError) as ei:
        parse("a :: Idle;\n\ta -> b;")
    assert str(ei.value) == ("test.click:2:7: undeclared element 'b'\n"
                             "          a -> b;\n"
                             "               ^")


def test_errors_in_included_library_point_into_it(tmp_path):
    (tmp_path / "lib.click").write_text("x :: Idle;\nx -> y;\n")
    main = tmp_path / "main.click"
    main.write_text("require(library lib.click);\n")
    from clickpy.lang import parse_file
    from langutil import is_class
    with pytest.raises(ConfigError) as ei:
        parse_file(str(main), is_class=is_class)
    (d,) = ei.value.diagnostics
    assert (d.location.file, d.location.line, d.location.col) == (str(tmp_path / "lib.click"), 2, 6)


def test_missing_file():
    from clickpy.lang import parse_file
    with pytest.raises(ConfigError) as ei:
        parse_file("/nonexistent/x.click")
    assert "No such file" in str(ei.value)


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(ConfigError) as ei:
        parse("a :: A; a -> " + "(" * 60 + "->" + ")" * 60 + " -> a;")
    assert "maximum element group nesting depth exceeded" in str(ei.value)
    with pytest.raises(ConfigError) as ei:
        parse("a :: A; a -> " + "{" * 60 + "->" + "}" * 60 + " -> a;")
    assert "maximum compound element nesting depth exceeded" in str(ei.value)


def test_warning_suggest_input():
    g = parse("elementclass X { input -> Discard; -> c :: Counter -> output }"
              "Idle -> X -> Discard;")
    assert [(w.severity, w.location.col, w.message) for w in g.warnings] == [
        ("warning", 36, "suggest 'input ->' or '[0] ->' to start connection")]


def test_no_warning_after_output():
    g = parse("elementclass X { input -> c :: Counter -> output; -> Discard }"
              "Idle -> X -> Discard;")
    assert g.warnings == []


def test_non_text_input_is_a_config_error():
    with pytest.raises(ConfigError):
        parse_config(12)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        parse_config("a :: Idle", defines={"a": 1})  # type: ignore[dict-item]
    g = parse_config(b"Idle -> Discard", is_class=str.istitle)
    assert len(g.elements) == 2
