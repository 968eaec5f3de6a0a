"""Property tests: round trips through unparse, and no exception but ConfigError.

Hypothesis builds random valid configurations from the language's grammar
(declarations, chains with ports, groups, compounds, element classes with
parameters, config strings with quotes, comments and nested parentheses) and
random junk (bytes, text, mutations of valid configs).
"""
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from langutil import is_class, parse

from clickpy.args import STRING, quote, split_args
from clickpy.lang import ConfigError, graph_key, parse_config, unparse
from clickpy.lang.strings import VarEnv, argvec, expand, unquote

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

NAMES = ["a", "b", "c", "d", "e", "f/g", "h_1", "x@y"]
CLASSES = ["Idle", "Counter", "Queue", "Discard", "Tee", "Paint", "Classifier"]

# -- config strings -------------------------------------------------------------------------

_atoms = st.sampled_from([
    "1", "10", "0x1f", "abc", "ETH0", "$p", "${p}", "${q-dflt}", ",", ", ", " ", "  ", "\n",
    "/* c, ) */", "// line, )\n", '"q, )"', "'s, ( '", '"esc \\" )"', "\\<0a 0b>", "-", "10/8",
    "DATA \\<00>", "k v", "\\n",
])


@st.composite
def config_text(draw, depth=0):
    parts = draw(st.lists(_atoms, max_size=6))
    if depth < 2 and draw(st.booleans()):
        parts.append("(" + draw(config_text(depth + 1)) + ")")
    text = "".join(parts)
    # a '#' at the start of a line inside a config is a line directive
    return text


# -- statements --------------------------------------------------------------------------


@st.composite
def ports(draw):
    if not draw(st.integers(0, 3)):
        return ""
    return "[" + str(draw(st.integers(0, 3))) + "]"


@st.composite
def element_ref(draw, declared, inner):
    """(text, takes ports): a named or anonymous element, or (inside a chain) a compound/group."""
    kind = draw(st.integers(0, 3 if inner else 1))
    if kind == 0 and declared:
        return draw(st.sampled_from(declared)), True
    cls = draw(st.sampled_from(CLASSES))
    cfg = draw(st.one_of(st.just(""), config_text().map(lambda t: "(" + t + ")")))
    if kind <= 1:
        return cls + cfg, True
    if kind == 2:
        return "{ input -> " + cls + cfg + " -> output }", False
    return "( -> " + cls + cfg + " -> )", False


@st.composite
def chain(draw, declared):
    n = draw(st.integers(2, 4))
    refs = []
    for i in range(n):
        text, ported = draw(element_ref(declared, 0 < i < n - 1))
        inp = draw(ports()) if i and ported else ""
        out = draw(ports()) if i < n - 1 and ported else ""
        refs.append(f"{inp} {text} {out}")
    return " -> ".join(refs) + ";"


@st.composite
def configs(draw):
    decl_names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=5))
    stmts = ["define($p P, $q Q);"]
    if draw(st.booleans()):
        stmts.append("elementclass Wrap { $x | input -> w :: Counter($x) -> output }")
        CLASS_EXTRA = ["Wrap(1)", "Wrap(${p})"]
    else:
        CLASS_EXTRA = []
    for name in decl_names:
        stmts.append(f"{name} :: {draw(st.sampled_from(CLASSES))}({draw(config_text())});")
    for _ in range(draw(st.integers(0, 4))):
        if CLASS_EXTRA and draw(st.booleans()):
            stmts.append(f"Idle -> {draw(st.sampled_from(CLASS_EXTRA))} -> Discard;")
        else:
            stmts.append(draw(chain(decl_names)))
    if draw(st.booleans()):
        stmts.append("require(package pkg1);")
    sep = draw(st.sampled_from(["\n", " ", "\n// comment\n", "\n\n"]))
    return sep.join(stmts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_generated_configs_round_trip(text):
    # (no filter_too_much suppression: most generated configs must be valid)
    try:
        g = parse(text)
    except ConfigError:
        assume(False)
        return
    flat = unparse(g)
    g2 = parse(flat)
    assert graph_key(g2) == graph_key(g)
    assert unparse(g2) == flat


def test_round_trip_of_the_manual_examples():
    texts = [
        "x :: X; y :: Y; x -> c :: Classifier(00/01) => ( input [0] -> output;"
        " input [1] -> Paint(1) -> output ) -> y;",
        "c :: Classifier(a, b, c); n :: N; c => Paint(0), Paint(1), Paint(2) -> n;",
        "elementclass Queue { $cap, $rate | input -> Queue($cap) -> Shaper($rate) -> output"
        " || ... } a :: A; b :: B; a -> Queue(1, 2) -> b; a -> Queue(7) -> b;",
        'a :: X(  "q, (p" , \'s )\', /* ) */ x(1, (2)) // )\n); a -> Discard;',
        "require(package \"odd name\"); Idle -> Discard;",
    ]
    for text in texts:
        g = parse(text)
        assert graph_key(parse(unparse(g))) == graph_key(g)


# -- never anything but ConfigError ---------------------------------------------------------

SEEDS = [
    "a :: A; b :: B; a -> Counter -> b;",
    "x :: X; y :: Y; x -> c :: Classifier(00/01) => ( input [0] -> output; input [1] -> Paint(1)"
    " -> output ) -> y;",
    "elementclass MyQueue { input -> Queue -> Shaper(1000) -> output; || $cap | input ->"
    " Queue($cap) -> Shaper(1000) -> output; } a :: A; b :: B; a -> MyQueue(5) -> b;",
    "elementclass Queue { $cap, $rate | input -> Queue($cap) -> Shaper($rate) -> output; || ... }",
    "define($a 2); Message($a); Message(${a}x) Message(${b-def}) Message(${c[1]}) define($c x y)",
    "a :: A; b :: B; a -> { $a, COUNT $count, __REST__ $rest | input -> X($a, $rest) -> output }"
    "(1, 2, COUNT 3, FOO 4) -> b",
    "c :: Classifier(0, 1, 2); n :: N; c [0-2] => Paint(0), Paint(1), Paint(2) -> n;",
    "x :: X; y :: Y; x -> ( [0]->[0]; [1]->[1] ) => ( [0]->[0]; [1]->[1] ) -> y;",
    '# line 5 "foo"\nrequire(package bar, x); a :: A("x\\<00>)", \'y\') -> [1] B [2] -> C;',
    "elementclass A { input -> B -> output } elementclass B { input -> C -> output } X -> A -> Y",
]
ALPHABET = list("abcAB:;->=[](){}|,.$@/#\"'\\ \n0123") + [
    "->", "=>", "::", "||", "...", "input", "output", "elementclass", "define", "require", "$a",
    "{", "}", "(", ")", "\\<", "/*", "*/", "//", "# 3 \"f\"\n"]


def check_only_config_errors(text) -> None:
    try:
        g = parse_config(text, "fuzz.click", is_class=is_class)
    except ConfigError as e:
        assert e.diagnostics and all(d.message for d in e.diagnostics)
        str(e)
        return
    # whatever parses must round-trip
    assert graph_key(parse_config(unparse(g), is_class=is_class)) == graph_key(g)


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes(data):
    check_only_config_errors(data)


@SETTINGS
@given(st.text(max_size=200))
def test_random_text(text):
    check_only_config_errors(text)


@SETTINGS
@given(st.lists(st.sampled_from(ALPHABET), max_size=80))
def test_random_token_soup(tokens):
    check_only_config_errors("".join(tokens))


@SETTINGS
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 3), st.integers(0, 400),
                                                  st.integers(0, 400),
                                                  st.sampled_from(ALPHABET)), max_size=6))
def test_mutated_configs(seed, edits):
    s = list(seed)
    for op, i, j, tok in edits:
        i = min(i, len(s))
        j = min(max(i, j), len(s))
        if op == 0:
            del s[i:i + 1]
        elif op == 1:
            s.insert(i, tok)
        elif op == 2:
            s[i:j] = s[i:j][::-1]
        else:
            s[i:j] = []
    check_only_config_errors("".join(s))


@SETTINGS
@given(configs(), st.integers(0, 10_000))
def test_truncated_configs(text, cut):
    check_only_config_errors(text[:cut % (len(text) + 1)])


# -- strings ----------------------------------------------------------------------------------

@SETTINGS
@given(st.text(max_size=50))
def test_quote_unquote(s):
    q = quote(s)
    assert split_args(q) == [q]
    assert STRING(q) == s
    assert unquote(q) == s


@SETTINGS
@given(st.text(max_size=80), st.dictionaries(st.sampled_from(["a", "b", "c_1"]),
                                             st.text(max_size=10), max_size=3))
def test_expand_and_split_never_crash(text, env_values):
    env = VarEnv()
    for k, v in env_values.items():
        env.define(k, v, True)
    expand(text, env)
    argvec(text)
    unquote(text)


@pytest.mark.parametrize("text", ["$a$a$a", "${a}", "$(a $a)", "\"$a\"", "'$a'"])
def test_expand_self_reference_terminates(text):
    env = VarEnv()
    env.define("a", "$a$a", True)
    assert isinstance(expand(text, env), str)
