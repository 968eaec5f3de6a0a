"""The examples of Click's language reference, click(5), parse to the graphs it describes.

`shape(g)` writes a flat graph as edges between readable labels: a named
element is its name, an anonymous one (`Class@N`, possibly inside a compound)
its class, so "a -> X -> b" in the manual page is {"a[0]->[0]X", "X[0]->[0]b"}.
"""
import pytest
from langutil import conns, elems, is_class, messages, names, parse

from clickpy.args import split_args


def label(e) -> str:
    last = e.name.rsplit("/", 1)[-1]
    return e.class_name if "@" in last else e.name


def shape(g) -> set[str]:
    lab = {e.name: label(e) for e in g.elements}
    return {f"{lab[c.from_elem]}[{c.from_port}]->[{c.to_port}]{lab[c.to_elem]}"
            for c in g.connections}


def same(a: str, b: str, decls: str = "") -> None:
    assert shape(parse(decls + a)) == shape(parse(decls + b))


# -- DESCRIPTION ---------------------------------------------------------------------

def test_declaration_and_connection():
    g = parse("name :: Class(config); name2 :: Class2; name [1] -> [2] name2;")
    assert elems(g) == [("name", "Class", "config"), ("name2", "Class2", "")]
    assert conns(g) == ["name[1]->[2]name2"]


# -- SHORTHAND ---------------------------------------------------------------------------

def test_declaration_shorthand():
    g = parse("name1, name2, name3 :: Class(config);")
    assert elems(g) == [(n, "Class", "config") for n in ("name1", "name2", "name3")]
    g = parse("Class(config);")
    assert elems(g) == [("Class@1", "Class", "config")]


def test_connection_chains():
    d = "a :: A; x :: X; b :: B; "
    same("a [1] -> [2] x [3] -> [4] b;", "a [1] -> [2] x; x [3] -> [4] b;", d)
    same("a [0] -> [0] b;", "a -> b;", d)


def test_declarations_inside_connections():
    d = "a :: A; b :: B; "
    same("a -> [1] name :: Class(config) [2] -> b;",
         "name :: Class(config); a -> [1] name [2] -> b;", d)
    g = parse(d + "a -> [1] Class(config) [2] -> b;")
    assert ("Class@3", "Class", "config") in elems(g)
    assert set(conns(g)) == {"a[0]->[1]Class@3", "Class@3[2]->[0]b"}


def test_many_to_one():
    d = "n1 :: A; n2 :: B; n3 :: C; x :: X; "
    same("n1, n2, n3 -> x;", "n1 -> x; n2 -> x; n3 -> x;", d)
    same("n1 [1], n2 [2] -> [3] x;", "n1 [1] -> [3] x; n2 [2] -> [3] x;", d)
    same("x -> n1, n2;", "x -> n1; x -> n2;", d)


def test_declaration_within_many_to_one():
    g = parse("n1 :: A; n1, n2 :: Class -> n3 :: N;")
    assert elems(g) == [("n1", "A", ""), ("n2", "Class", ""), ("n3", "N", "")]
    assert set(conns(g)) == {"n1[0]->[0]n3", "n2[0]->[0]n3"}
    # "Note that n1 was not declared."
    assert messages("n1, n2 :: Class -> n3 :: N;") == ["undeclared element 'n1'"]


def test_many_to_many():
    d = "c :: Classifier(00/01, 00/02, 00/03); next :: N; "
    long = "c [0] -> Paint(0) -> next; c [1] -> Paint(1) -> next; c [2] -> Paint(2) -> next;"
    for short in ("c [0], c [1], c [2] => Paint(0), Paint(1), Paint(2) -> next;",
                  "c [0,1,2] => Paint(0), Paint(1), Paint(2) -> next;",
                  "c => Paint(0), Paint(1), Paint(2) -> next;"):
        assert shape(parse(d + short)) == shape(parse(d + long))
        assert shape(parse(d + short)) == {"c[0]->[0]Paint", "c[1]->[0]Paint", "c[2]->[0]Paint",
                                           "Paint[0]->[0]next"}
    g = parse(d + "c [0,1,2] => Paint(0), Paint(1), Paint(2) -> next;")
    assert [e.config for e in g.elements if e.class_name == "Paint"] == ["0", "1", "2"]


def test_element_groups_detour():
    d = "x :: X; y :: Y; "
    g1 = parse(d + "c :: Classifier(00/01); x -> c -> y; c [1] -> Paint(1) -> y;")
    g2 = parse(d + "x -> c :: Classifier(00/01) => ( input [0] -> output;"
                   " input [1] -> Paint(1) -> output ) -> y;")
    assert shape(g1) == shape(g2)


def test_five_equivalent_lines():
    d = "x :: X; y :: Y; "
    for line in ("x -> ( input -> output ) -> y;", "x -> ( [0] -> [0] ) -> y;",
                 "x -> (->) -> y;",
                 "x -> ( [0]->[0]; [1]->[1] ) => ( [0]->[0]; [1]->[1] ) -> y;"):
        assert shape(parse(d + line)) == {"x[0]->[0]y"}, line


def test_group_implicit_port_specifications():
    d = "x :: X; y :: Y; "
    want = {"x[0]->[0]y", "x[1]->[0]y"}
    assert shape(parse(d + "x => ( [0]->[0]; [1]->[1] ) -> y;")) == want
    assert shape(parse(d + "x => [0,1] ( [0]->[0]; [1]->[1] ) [0,1] -> y;")) == want
    assert shape(parse(d + "x -> y; x [1] -> y;")) == want


def test_group_errors():
    assert messages("x :: X; y :: Y; x => [0] ( [0]->[0]; [1]->Idle ) -> y;")
    assert "'<anonymous group>' input 1 missing" in messages(
        "x :: X; y :: Y; x => ( [0]->[0]; [2]->Idle ) -> y;")


def test_group_is_not_a_scope():
    g = parse("( a :: A ); a -> Discard;")
    assert "a" in names(g)


# -- COMPOUND ELEMENTS ---------------------------------------------------------------------

def test_compound_examples():
    d = "a :: A; b :: B; c :: C; d :: D; "
    same("a -> { input -> X -> output } -> b;", "a -> X -> b;", d)
    g = parse(d + "compound :: { input -> X -> output; input [1] -> Y -> [1] output; };"
                  "a -> compound -> b; c -> [1] compound [1] -> d;")
    assert shape(g) == {"a[0]->[0]X", "X[0]->[0]b", "c[0]->[0]Y", "Y[0]->[0]d"}
    g = parse(d + "compound :: { input -> x :: X -> output }; a -> compound -> b;")
    assert conns(g) == ["a[0]->[0]compound/x", "compound/x[0]->[0]b"]
    assert ("compound/x", "X", "") in elems(g)


def test_anonymous_compound_names():
    g = parse("a :: A; b :: B; a -> { input -> x :: X -> output } -> b;")
    assert "@3/x" in names(g)


def test_pseudoelement_port_errors():
    assert messages("elementclass E { input -> output; x :: X; x -> input }") == [
        "'E' pseudoelement 'input' may only be used as output"]
    assert messages("elementclass E { input [0] -> output; input [2] -> output }") == [
        "'E' input 1 missing"]


def test_elementclass_statement():
    d = "a :: A; b :: B; "
    g1 = parse(d + "elementclass MyQueue { input -> Queue -> Shaper(1000) -> output; }"
                   " q :: MyQueue; a -> q -> b;")
    g2 = parse(d + "q :: { input -> Queue -> Shaper(1000) -> output }; a -> q -> b;")
    assert elems(g1) == elems(g2) and conns(g1) == conns(g2)
    assert shape(g1) == {"a[0]->[0]Queue", "Queue[0]->[0]Shaper", "Shaper[0]->[0]b"}
    assert ("q/Shaper@2", "Shaper", "1000") in elems(g1)


def test_redefining_a_class_uses_the_original_inside():
    g = parse("elementclass Queue { input -> Queue -> Shaper(1000) -> output }"
              "a :: A; b :: B; a -> Queue -> b;")
    assert shape(g) == {"a[0]->[0]Queue", "Queue[0]->[0]Shaper", "Shaper[0]->[0]b"}


def test_synonym():
    g = parse("elementclass MyQueue Queue; q :: MyQueue;")
    assert elems(g) == [("q", "Queue", "")]


# -- configuration parameters -----------------------------------------------------------

def test_parameter_count_errors():
    d = "a :: A; b :: B; "
    for call in ("a -> { $a, $b | input -> output } (1) -> b;",
                 "a -> { $a, $b | input -> output } (1, 2, 3) -> b;",
                 "a -> { COUNT $count | input -> output } (1) -> b;"):
        (msg,) = messages(d + call)
        assert msg.startswith("no match for '<anonymous>[")


def test_rest_parameter():
    g = parse("a :: A; b :: B; a -> { $a, COUNT $count, __REST__ $rest |"
              " input -> X(a $a; count $count; rest $rest) -> output }"
              " (1, 2, COUNT 3, FOO 4) -> b;")
    assert [e.config for e in g.elements if e.class_name == "X"] == ["a 1; count 3; rest 2, FOO 4"]


def test_parameter_substitution():
    g = parse("a :: A; b :: B; a -> { $a | input -> A(1, $a, 3) -> output } (100) -> b;")
    assert [e.config for e in g.elements if e.class_name == "A" and e.name != "a"] == ["1, 100, 3"]


def test_single_quotes_prevent_substitution_and_braces_delimit():
    g = parse("a :: A; b :: B; a -> { $a | input -> A('$a', ${a}x, ${zz-dflt}) -> output } (7) -> b;")
    assert [e.config for e in g.elements if e.name.endswith("A@1")] == ["'$a', 7x, dflt"]


def test_overloading():
    cls = ("elementclass MyQueue { input -> Queue -> Shaper(1000) -> output;"
           " || $cap | input -> Queue($cap) -> Shaper(1000) -> output; }")
    g = parse(cls + "a :: A; b :: B; a -> q1 :: MyQueue -> b; a -> q2 :: MyQueue(10) -> b;")
    assert ("q1/Queue@1", "Queue", "") in elems(g)
    assert ("q2/Queue@1", "Queue", "10") in elems(g)


def test_extension():
    g = parse("elementclass Queue { $cap, $rate | input -> Queue($cap) -> Shaper($rate) -> output"
              " || ... }"
              "a :: A; b :: B; a -> Queue(5, 100) -> b; a -> Queue(5) -> b;")
    assert ("Queue@3/Shaper@2", "Shaper", "100") in elems(g)
    assert ("Queue@4", "Queue", "5") in elems(g)


def test_overloads_visible_only_after_definition():
    msgs = messages("elementclass Test { $a | /* nothing */ }\n"
                    "test :: Test(1, 2);\n"
                    "elementclass Test { $a, $b | /* nothing */ || ... }")
    assert len(msgs) == 1 and msgs[0].startswith("no match for 'Test[2 arguments")


# -- CONFIGURATION STRINGS ------------------------------------------------------------------

def test_empty_last_argument_is_ignored():
    assert split_args("1, ") == split_args("1, /* comment */") == split_args("1") == ["1"]


# -- REQUIREMENTS, PARAMETER DEFINITIONS ------------------------------------------------------

def test_require_packages():
    g = parse("require(package fastclassifier, package specialcode);")
    assert g.requirements == ["fastclassifier", "specialcode"]


def test_require_library_included_once(tmp_path):
    (tmp_path / "mycompounds.click").write_text("x :: Idle;\n")
    from clickpy.lang import parse_file
    main = tmp_path / "main.click"
    main.write_text("require(library mycompounds.click);\nrequire(library mycompounds.click);\n")
    g = parse_file(str(main), is_class=is_class)
    assert names(g) == ["x"]


def test_define():
    g = parse("define($DEVNAME eth0, $COUNT 1); FromDevice($DEVNAME) -> Counter($COUNT);")
    assert [e.config for e in g.elements] == ["eth0", "1"]
    assert elems(parse("define($a 2); Message($a)")) == elems(parse("Message($a); define($a 2)"))
    assert messages("define($a 1); define($a 2)") == ["parameter '$a' multiply defined"]
    g = parse("define($a 2); Message($a)", defines={"a": "cmdline"})
    assert elems(g) == [("Message@1", "Message", "cmdline")]


# -- LEXICAL ISSUES -------------------------------------------------------------------------

def test_identifier_with_slashes_and_comment():
    g = parse("an/identifier/with/slashes//too/many\n:: Idle;")
    assert names(g) == ["an/identifier/with/slashes"]


def test_all_digit_component_is_illegal():
    assert messages("1/x :: Idle;") == ["element name '1/x' has all-digit component"]


@pytest.mark.parametrize("text,config", [
    ("C1(#simple string#)", "#simple string#"),
    ("C2(#string with (balanced parens)#)", "#string with (balanced parens)#"),
    ('C3(#string with ")quoted" paren#)', '#string with ")quoted" paren#'),
    ("C4(#// end-of-line comment)\n   still going!#)", "#// end-of-line comment)\n   still going!#"),
    ("C5(#/* slash-star comment) */ and backslash \\#)",
     "#/* slash-star comment) */ and backslash \\#"),
])
def test_configuration_string_examples(text, config):
    (e,) = parse(text).elements
    assert e.config == config


def test_line_directives():
    g = parse('a :: A;\n# 100 "orig.click"\nb :: B;\n#line 7\nc :: C;\n# 3 ""\nd :: D;')
    assert [(e.location.file, e.location.line) for e in g.elements] == [
        ("test.click", 1), ("orig.click", 100), ("orig.click", 7), ("test.click", 3)]
