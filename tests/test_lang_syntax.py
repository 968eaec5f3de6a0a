"""Every syntax form of Click's configuration language."""
from langutil import conns, elems, names, parse

# -- declarations ---------------------------------------------------------------


def test_declaration_with_config():
    g = parse("a :: Counter(1, 2);")
    assert elems(g) == [("a", "Counter", "1, 2")]
    assert g.elements[0].location.line == 1 and g.elements[0].location.col == 1


def test_declaration_without_config_and_empty_parens():
    g = parse("a :: Idle; b :: Idle();")
    assert elems(g) == [("a", "Idle", ""), ("b", "Idle", "")]


def test_semicolons_are_optional():
    g = parse("a :: Idle b :: Discard a -> b")
    assert names(g) == ["a", "b"]
    assert conns(g) == ["a[0]->[0]b"]


def test_multiple_declaration():
    g = parse("a, b, c :: Queue(10);")
    assert elems(g) == [("a", "Queue", "10"), ("b", "Queue", "10"), ("c", "Queue", "10")]


def test_config_string_is_raw_text():
    g = parse('a :: X(  "quoted, (paren" , \'single )\', /* ) */ x(1, (2)) // )\n);')
    assert g.elements[0].config == ('  "quoted, (paren" , \'single )\', /* ) */ x(1, (2)) // )\n')


def test_config_backslash_data_and_escapes():
    g = parse(r'a :: X(\<28 29>, "a\"b)c");')
    assert g.elements[0].config == r'\<28 29>, "a\"b)c"'


def test_config_multiline_keeps_newlines():
    g = parse("a :: X(1,\n  2);\nb :: Y;")
    assert g.elements[0].config == "1,\n  2"
    assert g.elements[1].location.line == 3


def test_anonymous_elements_are_numbered_by_position():
    g = parse("a :: Idle; Idle -> Counter -> Discard; b :: Idle;")
    assert names(g) == ["a", "Idle@2", "Counter@3", "Discard@4", "b"]
    assert conns(g) == ["Idle@2[0]->[0]Counter@3", "Counter@3[0]->[0]Discard@4"]


def test_anonymous_name_clash_is_renumbered():
    g = parse("Idle -> Discard; Idle@1 :: Queue;")
    assert elems(g) == [("Idle@2", "Idle", ""), ("Discard@2", "Discard", ""),
                        ("Idle@1", "Queue", "")]


def test_anonymous_with_config():
    g = parse("Idle -> Print(hello) -> Discard;")
    assert elems(g)[1] == ("Print@2", "Print", "hello")


def test_names_with_slash_and_at():
    g = parse("a/b :: Idle; x@y :: Discard; a/b -> x@y;")
    assert conns(g) == ["a/b[0]->[0]x@y"]


def test_comments_everywhere():
    g = parse("// c1\na /* c2 */ :: /* c3 */ Idle // c4\n; /* multi\nline */ a -> Discard;")
    assert names(g) == ["a", "Discard@2"]


def test_identifier_ends_at_double_slash():
    g = parse("an/id//comment\n:: Idle;")
    assert names(g) == ["an/id"]


# -- connections ------------------------------------------------------------------


def test_connection_with_ports():
    g = parse("a :: A; b :: B; c :: C; a [1] -> [2] b [3] -> c;")
    assert conns(g) == ["a[1]->[2]b", "b[3]->[0]c"]
    assert g.connections[0].location.col == 31  # the arrow


def test_chain_with_inline_declarations():
    g = parse("s :: Idle; s -> x :: Counter -> y :: Counter(2) -> Discard;")
    assert elems(g)[:3] == [("s", "Idle", ""), ("x", "Counter", ""), ("y", "Counter", "2")]
    assert conns(g) == ["s[0]->[0]x", "x[0]->[0]y", "y[0]->[0]Discard@4"]


def test_many_to_one_and_one_to_many():
    g = parse("a :: A; b :: B; c :: C; a, b -> c; c -> a, b;")
    assert conns(g) == ["a[0]->[0]c", "b[0]->[0]c", "c[0]->[0]a", "c[0]->[0]b"]


def test_many_to_one_with_ports():
    g = parse("n1 :: A; n2 :: B; x :: X; n1 [1], n2 [2] -> [3] x;")
    assert conns(g) == ["n1[1]->[3]x", "n2[2]->[3]x"]


def test_declaration_inside_many_to_one_applies_to_one_name():
    g = parse("n1 :: A; n1, n2 :: B -> n3 :: C;")
    assert elems(g) == [("n1", "A", ""), ("n2", "B", ""), ("n3", "C", "")]
    assert conns(g) == ["n1[0]->[0]n3", "n2[0]->[0]n3"]


def test_many_to_many_with_port_list():
    g = parse("c :: Classifier(a, b, c); n :: N; c [0,1,2] => Paint(0), Paint(1), Paint(2) -> n;")
    assert conns(g) == ["c[0]->[0]Paint@3", "c[1]->[0]Paint@4", "c[2]->[0]Paint@5",
                        "Paint@3[0]->[0]n", "Paint@4[0]->[0]n", "Paint@5[0]->[0]n"]


def test_many_to_many_with_port_range():
    g = parse("c :: Classifier(a, b, c); x, y, z :: Discard; c [0-2] => x, y, z;")
    assert conns(g) == ["c[0]->[0]x", "c[1]->[0]y", "c[2]->[0]z"]


def test_many_to_many_with_implicit_ports():
    g = parse("c :: Classifier(a, b, c); x, y, z :: Discard; c => x, y, z;")
    assert conns(g) == ["c[0]->[0]x", "c[1]->[0]y", "c[2]->[0]z"]


def test_many_to_many_ports_on_both_sides():
    g = parse("a :: A; b :: B; a [0, 1] => [1, 0] b;")
    assert conns(g) == ["a[0]->[1]b", "a[1]->[0]b"]


def test_many_to_many_elements_on_both_sides():
    g = parse("a, b :: A; c, d :: B; a, b => c, d;")
    assert conns(g) == ["a[0]->[0]c", "b[0]->[0]d"]


def test_expandable_port_list():
    g = parse("a :: A; x, y, z :: B; a [1,] => x, y, z;")
    assert conns(g) == ["a[1]->[0]x", "a[2]->[0]y", "a[3]->[0]z"]


def test_mixed_port_list_and_range():
    g = parse("a :: A; b :: B; a [0-1, 5] => [2, 3-4] b;")
    assert conns(g) == ["a[0]->[2]b", "a[1]->[3]b", "a[5]->[4]b"]


def test_hex_and_octal_port_numbers():
    g = parse("a :: A; b :: B; a [0x10] -> [010] b;")
    assert conns(g) == ["a[16]->[8]b"]


def test_duplicate_connections_collapse():
    g = parse("a :: A; b :: B; a -> b; a -> b; a [0] -> [0] b;")
    assert conns(g) == ["a[0]->[0]b"]


def test_connection_before_declaration_of_anonymous_class():
    g = parse("Idle -> Discard")
    assert elems(g) == [("Idle@1", "Idle", ""), ("Discard@2", "Discard", "")]


# -- groups --------------------------------------------------------------------------


def test_group_detour():
    g = parse("x :: X; y :: Y; x -> c :: Classifier(00/01) => ("
              "input [0] -> output; input [1] -> Paint(1) -> output ) -> y;")
    assert elems(g) == [("x", "X", ""), ("y", "Y", ""), ("c", "Classifier", "00/01"),
                        ("Paint@7", "Paint", "1")]
    assert conns(g) == ["x[0]->[0]c", "c[0]->[0]y", "c[1]->[0]Paint@7", "Paint@7[0]->[0]y"]


def test_five_equivalent_group_lines():
    lines = ["x -> y;", "x -> ( input -> output ) -> y;", "x -> ( [0] -> [0] ) -> y;",
             "x -> (->) -> y;", "x -> ( [0]->[0]; [1]->[1] ) => ( [0]->[0]; [1]->[1] ) -> y;"]
    for line in lines:
        g = parse("x :: X; y :: Y; " + line)
        assert conns(g) == ["x[0]->[0]y"], line


def test_group_implicit_ports_are_overridable():
    expect = ["x[0]->[0]y", "x[1]->[0]y"]
    assert conns(parse("x :: X; y :: Y; x => ( [0]->[0]; [1]->[1] ) -> y;")) == expect
    assert conns(parse("x :: X; y :: Y; x => [0,1] ( [0]->[0]; [1]->[1] ) [0,1] -> y;")) == expect
    assert conns(parse("x :: X; y :: Y; x -> y; x [1] -> y;")) == expect


def test_group_does_not_open_a_scope():
    g = parse("a :: Idle; ( b :: Counter; a -> b ); b -> Discard;")
    assert names(g) == ["a", "b", "Discard@6"]
    assert conns(g) == ["a[0]->[0]b", "b[0]->[0]Discard@6"]


def test_nested_groups():
    g = parse("x :: X; y :: Y; x -> ( -> ( -> c :: Counter -> ) -> ) -> y;")
    assert conns(g) == ["x[0]->[0]c", "c[0]->[0]y"]


# -- compound elements -------------------------------------------------------------


def test_anonymous_compound():
    g = parse("a :: A; b :: B; a -> { input -> X -> output } -> b;")
    assert elems(g) == [("a", "A", ""), ("b", "B", ""), ("@3/X@1", "X", "")]
    assert conns(g) == ["a[0]->[0]@3/X@1", "@3/X@1[0]->[0]b"]


def test_compound_with_two_ports():
    g = parse("compound :: { input -> X -> output; input [1] -> Y -> [1] output; };"
              "a :: A; b :: B; c :: C; d :: D; a -> compound -> b; c -> [1] compound [1] -> d;")
    assert names(g) == ["a", "b", "c", "d", "compound/X@1", "compound/Y@2"]
    assert sorted(conns(g)) == sorted(["a[0]->[0]compound/X@1", "compound/X@1[0]->[0]b",
                                       "c[0]->[0]compound/Y@2", "compound/Y@2[0]->[0]d"])


def test_compound_component_names():
    g = parse("compound :: { input -> x :: X -> output }; a :: A; b :: B; a -> compound -> b;")
    assert names(g) == ["a", "b", "compound/x"]
    assert conns(g) == ["a[0]->[0]compound/x", "compound/x[0]->[0]b"]


def test_compound_component_location_is_in_the_class():
    g = parse("elementclass Q {\n  input -> q :: Queue -> output\n}\na :: A; b :: B; a -> Q -> b;")
    q = g.element("Q@3/q")
    assert q is not None and q.location.line == 2 and q.location.col == 12


def test_compound_input_directly_to_output():
    g = parse("a :: A; b :: B; a -> { input -> output } -> b;")
    assert conns(g) == ["a[0]->[0]b"]


def test_nested_compounds():
    g = parse("elementclass In { input -> c :: Counter -> output }"
              "elementclass Out { input -> i :: In -> output }"
              "a :: A; b :: B; a -> o :: Out -> b;")
    assert names(g) == ["a", "b", "o/i/c"]
    assert conns(g) == ["a[0]->[0]o/i/c", "o/i/c[0]->[0]b"]


def test_compound_in_declaration_after_double_colon():
    g = parse("a :: A; q :: { input -> Queue -> output }; a -> q -> Discard;")
    assert names(g) == ["a", "Discard@3", "q/Queue@1"]


def test_compound_through_group():
    g = parse("a :: A; b :: B; a -> { input -> ( -> Counter -> ) -> output } -> b;")
    assert conns(g) == ["a[0]->[0]@3/Counter@4", "@3/Counter@4[0]->[0]b"]


# -- elementclass --------------------------------------------------------------------


def test_elementclass_and_lexical_scoping():
    g = parse("elementclass Queue { input -> Queue -> Shaper(1000) -> output }"
              "a :: A; b :: B; a -> q :: Queue -> b;")
    assert elems(g) == [("a", "A", ""), ("b", "B", ""), ("q/Queue@1", "Queue", ""),
                        ("q/Shaper@2", "Shaper", "1000")]


def test_elementclass_does_not_affect_earlier_uses():
    g = parse("elementclass A { input -> B -> output }"
              "elementclass B { input -> C -> output }"
              "x :: X; y :: Y; x -> a :: A -> y;")
    assert elems(g)[2] == ("a/B@1", "B", "")


def test_elementclass_synonym():
    g = parse("elementclass MyQueue Queue; q :: MyQueue(5);")
    assert elems(g) == [("q", "Queue", "5")]


def test_synonym_of_compound():
    g = parse("elementclass A { input -> X -> output } elementclass B A;"
              "s :: S; t :: T; s -> B -> t;")
    assert names(g) == ["s", "t", "B@3/X@1"]


def test_elementclass_defined_inside_compound_is_local():
    g = parse("elementclass Outer { elementclass Inner { input -> X -> output }"
              "  input -> Inner -> output }"
              "a :: A; b :: B; a -> Outer -> b; Inner -> b;")
    assert ("Inner@4", "Inner", "") in elems(g)


def test_formal_parameters():
    g = parse("elementclass Q { $cap, $rate | input -> Queue($cap) -> Shaper($rate) -> output }"
              "a :: A; b :: B; a -> Q(10, 20) -> b;")
    assert [e[1:] for e in elems(g)[2:]] == [("Queue", "10"), ("Shaper", "20")]


def test_keyword_and_rest_parameters():
    g = parse("a :: A; b :: B; a -> { $a, COUNT $count, __REST__ $rest | "
              "input -> X($a; $count; $rest) -> output }(1, 2, COUNT 3, FOO 4) -> b")
    assert elems(g)[2] == ("@3/X@1", "X", "1; 3; 2, FOO 4")


def test_keyword_parameters_in_any_order():
    g = parse("elementclass K { A $a, B $b | input -> X($a $b) -> output }"
              "s :: S; t :: T; s -> K(B 2, A 1) -> t;")
    assert elems(g)[2][2] == "1 2"


def test_parameter_braces_default_and_index():
    g = parse("define($w a b c);"
              "X(${w}z) X(${w[1]}) X(${w[7]}) X(${nope-dflt}) X(${w-dflt}) X($nope) X('$w')")
    assert [e[2] for e in elems(g)] == ["a b cz", "b", "", "dflt", "a b c", "$nope", "'$w'"]


def test_parameter_in_double_quotes_is_quoted():
    g = parse('define($v \'a"b\'); X("<$v>")')
    assert elems(g)[0][2] == '"<\'a\\"b\'>"'


def test_define_takes_effect_in_whole_scope():
    assert elems(parse("define($a 2); Message($a)")) == elems(parse("Message($a); define($a 2)"))


def test_command_line_defines_override():
    g = parse("define($a 2); Message($a, $b)", defines={"a": "3", "b": "x y"})
    assert elems(g)[0][2] == "3, x y"


def test_define_values_are_expanded_recursively():
    g = parse("define($a $b, $b 7); X($a)")
    assert elems(g)[0][2] == "7"


def test_compound_variables_are_lexically_scoped():
    g = parse("define($x top);"
              "elementclass C { $x | input -> X($x) -> output }"
              "elementclass D { input -> Y($x) -> output }"
              "a :: A; b :: B; a -> C(inner) -> D -> b;")
    assert [e[2] for e in elems(g)[2:]] == ["inner", "top"]


def test_define_inside_compound():
    g = parse("elementclass C { $n | define($m $n$n); input -> X($m) -> output }"
              "a :: A; b :: B; a -> C(ab) -> b;")
    assert elems(g)[2][2] == "abab"


def test_overloads_choose_by_arguments_and_ports():
    g = parse("elementclass MyQueue { input -> Queue -> Shaper(1000) -> output; "
              "|| $cap | input -> Queue($cap) -> Shaper(1000) -> output; }"
              "a :: A; b :: B; a -> p :: MyQueue -> b; a -> q :: MyQueue(5) -> b;")
    assert ("p/Queue@1", "Queue", "") in elems(g)
    assert ("q/Queue@1", "Queue", "5") in elems(g)


def test_overload_by_port_count():
    g = parse("elementclass T { input -> X -> output || input -> Y -> output; input[1] -> output }"
              "a :: A; b :: B; a -> t1 :: T -> b; a -> t2 :: T -> b; a -> [1] t2;")
    assert "t1/X@1" in names(g) and "t2/Y@1" in names(g)


def test_extension_falls_back_to_primitive():
    g = parse("elementclass Queue { $cap, $rate | input -> Queue($cap) -> Shaper($rate) -> output"
              " || ... }"
              "a :: A; b :: B; a -> Queue(1, 2) -> b; a -> Queue(7) -> b;")
    assert ("Queue@4", "Queue", "7") in elems(g)
    assert ("Queue@3/Shaper@2", "Shaper", "2") in elems(g)


def test_extension_of_compound():
    g = parse("elementclass T { $a | input -> X($a) -> output }"
              "elementclass T { $a, $b | input -> Y($a $b) -> output || ... }"
              "s :: S; u :: U; s -> T(1) -> u; s -> T(1, 2) -> u;")
    assert ("T@3/X@1", "X", "1") in elems(g)
    assert ("T@4/Y@1", "Y", "1 2") in elems(g)


def test_compound_unused_input_drops_connections_only_with_error():
    # a compound input that nobody connects to is an error (modern Click)
    from langutil import messages
    assert messages("b :: B; { input -> X -> output } -> b;") == ["'@2' input 0 unused"]


# -- require ----------------------------------------------------------------------


def test_require_package():
    g = parse("require(package fastclassifier, specialcode); a :: Idle;")
    assert g.requirements == ["fastclassifier", "specialcode"]


def test_require_library(tmp_path):
    lib = tmp_path / "lib.click"
    lib.write_text("elementclass Lib { input -> X -> output }\n")
    main = tmp_path / "main.click"
    main.write_text("require(library lib.click); require(library \"lib.click\");"
                    "a :: A; b :: B; a -> Lib -> b;")
    from clickpy.lang import parse_file
    from langutil import is_class
    g = parse_file(str(main), is_class=is_class)
    assert names(g) == ["a", "b", "Lib@3/X@1"]


def test_require_library_on_search_path_and_clickpath(tmp_path, monkeypatch):
    d1 = tmp_path / "d1"
    d2 = tmp_path / "d2" / "conf"
    d1.mkdir()
    d2.mkdir(parents=True)
    (d1 / "one.click").write_text("elementclass One { input -> X -> output }")
    (d2 / "two.click").write_text("elementclass Two { input -> Y -> output }")
    monkeypatch.setenv("CLICKPATH", str(tmp_path / "d2"))
    g = parse("require(library one.click, library two.click); a :: A; a -> One -> Two -> a;",
              search_path=[str(d1)])
    assert names(g) == ["a", "One@2/X@1", "Two@3/Y@1"]


# -- lexical details ---------------------------------------------------------------------


def test_line_directive_changes_locations():
    g = parse('a :: A;\n# line 10 "other.click"\nb :: B;\n#5\nc :: C;')
    locs = [(e.location.file, e.location.line) for e in g.elements]
    assert locs == [("test.click", 1), ("other.click", 10), ("other.click", 5)]


def test_line_directive_inside_config_is_removed():
    g = parse('a :: X(1,\n# 20 "x"\n2);\nb :: Y;')
    assert g.elements[0].config == "1,\n\n2"  # as Click: the directive's newline stays
    assert (g.elements[1].location.file, g.elements[1].location.line) == ("x", 21)


def test_crlf_line_endings():
    g = parse("a :: A;\r\nb :: B;\r\n\r\nc :: C;")
    assert [e.location.line for e in g.elements] == [1, 2, 4]


def test_cr_and_mixed_line_endings():
    g = parse("a :: A;\rb :: B; // comment\rc :: C; /* x\r\n y */ d :: D;\r\n# 7\re :: E;")
    assert [e.location.line for e in g.elements] == [1, 2, 3, 4, 7]
    assert g.elements[1].location.source_line == "b :: B; // comment"


def test_comments_and_paths_around_slashes():
    g = parse("a/b :: A; a/b -> X//y\n -> c :: C; c -> /* z */ d :: D; /* open")
    assert names(g) == ["a/b", "X@2", "c", "d"]
    assert [(c.from_elem, c.to_elem) for c in g.connections] == [
        ("a/b", "X@2"), ("X@2", "c"), ("c", "d")]


def test_shebang_line_is_ignored():
    g = parse("#!/usr/bin/env clickpy\nIdle -> Discard;")
    assert names(g) == ["Idle@1", "Discard@2"]


def test_empty_config():
    g = parse("")
    assert g.elements == [] and g.connections == []
    assert parse("  // nothing\n/* here */ ;;").elements == []


def test_default_class_heuristic():
    from clickpy.lang import _looks_like_class
    assert _looks_like_class("Counter") and _looks_like_class("IPClassifier")
    assert not _looks_like_class("counter")
    assert not _looks_like_class("Counter@2")
    assert not _looks_like_class("a/B")


def test_warnings_do_not_affect_graph_equality():
    a = parse("elementclass X { input -> Discard; -> c :: Counter -> output } Idle -> X -> Discard;")
    b = parse("elementclass X { input -> Discard; input -> c :: Counter -> output }"
              " Idle -> X -> Discard;")
    assert a.warnings and not b.warnings
    assert [(e.name, e.class_name, e.config) for e in a.elements] == \
        [(e.name, e.class_name, e.config) for e in b.elements]


def test_parse_file_from_stdin(monkeypatch):
    import io
    import sys
    import types

    from clickpy.lang import parse_file
    from langutil import is_class
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(b"Idle -> Discard")))
    g = parse_file("-", is_class=is_class)
    assert names(g) == ["Idle@1", "Discard@2"] and g.elements[0].location.file == "<stdin>"
