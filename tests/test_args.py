"""clickpy.args: Click's argument conventions and value types."""
import pytest

from clickpy.args import (ANNO, ANY, BANDWIDTH, BOOL, DATA, DOUBLE, ELEMENT, ETHERADDR, FILENAME,
                          INT, INT64, IP6ADDR, IP6PREFIX, IPADDR, IPADDR_OR_PREFIX, IPPREFIX,
                          MISSING, NSECONDS, SECONDS, STRING, UINT, WORD, Anno, ArgError, Args, Int,
                          Keyword, quote, split_args, split_words)
from clickpy.lang import ConfigError, Location

LOC = Location("r.click", 3, 5, "c :: Counter(x)")

# -- splitting -------------------------------------------------------------------


@pytest.mark.parametrize("config,args", [
    ("", []),
    ("a, b, c", ["a", "b", "c"]),
    ("  a /*?*/ b,  c, ", ["a b", "c"]),
    ('"x, y" // ?', ['"x, y"']),
    ("a,,b", ["a", "", "b"]),
    (", a", ["", "a"]),
    ("a, ", ["a"]),
    ("'a,b', \"c,\\\"d\"", ["'a,b'", '"c,\\"d"']),
    ("\\<01, 02>, x", ["\\<01, 02>", "x"]),
    ("a // c, d\n, e", ["a", "e"]),
    ("a   b", ["a   b"]),
    ("a /* x */   b", ["a b"]),
])
def test_split_args(config, args):
    assert split_args(config) == args


def test_split_words():
    assert split_words("a  b, c") == ["a", "b,", "c"]
    assert split_words("  'a /*?*/ b'c") == ["'a /*?*/ b'c"]


# -- positional and keyword arguments ---------------------------------------------------


def test_positional_then_keywords():
    a = Args("10, STOP true, BURST 4")
    assert a.read_p("LIMIT", INT) == 10
    assert a.read_p("BURST", INT) == 4
    assert a.read("STOP", BOOL) is True
    a.complete()


def test_keyword_given_in_place_of_positional():
    a = Args("LIMIT 5")
    assert a.read_p("LIMIT", INT) == 5
    a.complete()


def test_last_duplicate_keyword_wins():
    a = Args("X 1, X 2, X 3")
    assert a.read("X", INT) == 3
    a.complete()


def test_keyword_after_positional_overrides():
    a = Args("1, X 2")
    assert a.read_p("X", INT) == 2
    a.complete()


def test_positional_cannot_follow_consumed_keyword():
    a = Args("X 1, 2")
    assert a.read("X", INT) == 1
    assert a.read_p("Y", INT) is None
    with pytest.raises(ConfigError, match="too many arguments"):
        a.complete()


def test_keyword_looking_argument_taken_by_mandatory_positional():
    a = Args("hello world")
    assert a.read_mp("LABEL", ANY) == "hello world"
    a.complete()
    b = Args("hello world")
    assert b.read_p("LABEL", ANY) is None
    with pytest.raises(ConfigError, match="hello: unknown argument"):
        b.complete()


def test_keywords_are_case_sensitive_and_need_a_value():
    a = Args("limit 5, LIMIT")
    assert a.read("LIMIT", ANY) is None          # "limit" is another keyword; "LIMIT" has no value
    assert a.read_p("FIRST", ANY) is None        # a keyword argument is not taken positionally...
    assert a.read_mp("FIRST", ANY) == "limit 5"  # ...unless a mandatory positional would be missing
    assert a.read_p("SECOND", ANY) == "LIMIT"
    a.complete()


def test_defaults_and_missing():
    a = Args("")
    assert a.read("X", INT) is None
    assert a.read("X", INT, 7) == 7
    assert a.read_p("Y", INT, MISSING) is None
    assert not MISSING


def test_mandatory_missing_error_names_context_keyword_location():
    a = Args("", context="c :: Counter", location=LOC)
    with pytest.raises(ConfigError) as ei:
        a.read_m("LIMIT", UINT)
    (d,) = ei.value.diagnostics
    assert d.location == LOC
    assert d.message == "c :: Counter: LIMIT: required argument missing"
    assert str(ei.value).startswith("r.click:3:5: c :: Counter: LIMIT: required argument missing")


def test_parse_error_names_context_and_keyword():
    with pytest.raises(ConfigError) as ei:
        Args("LIMIT -1", context="c :: Counter").read("LIMIT", UINT)
    assert ei.value.diagnostics[0].message == "c :: Counter: LIMIT: expected unsigned integer"


def test_complete_reports_every_leftover():
    a = Args("1, 2, FOO 3, BAR 4", context="x :: X", location=LOC)
    a.read_p("A", INT)
    with pytest.raises(ConfigError) as ei:
        a.complete()
    assert [d.message for d in ei.value.diagnostics] == [
        "x :: X: FOO: unknown argument", "x :: X: BAR: unknown argument",
        "x :: X: too many arguments (unexpected '2')"]


def test_deprecated_warns():
    a = Args("OLD 1", context="x :: X")
    assert a.read("OLD", INT, deprecated=True) == 1
    assert [(w.severity, w.message) for w in a.warnings] == [
        ("warning", "x :: X: OLD: argument deprecated")]


def test_read_all_has_rest():
    a = Args("a, b, PORT 1, PORT 2, X 3")
    assert a.has("PORT") and not a.has("Y")
    assert a.read_all("PORT", INT) == [1, 2]
    assert not a.has("PORT")
    assert a.rest() == ["a", "b", "X 3"]
    assert a.rest() == []
    a.complete()


def test_element_resolver():
    elems = {"q": object()}
    a = Args("q, ELEM zz", resolver=lambda n: elems.get(n), context="u :: Unqueue")
    assert a.read_p("QUEUE", ELEMENT) is elems["q"]
    with pytest.raises(ConfigError, match="'zz' does not name an element"):
        a.read("ELEM", ELEMENT)

    def raising(name):
        raise ConfigError(f"no element named '{name}'")
    with pytest.raises(ConfigError, match="does not name an element"):
        Args("x", resolver=raising).read_p("E", ELEMENT)
    assert Args('"q"').read_p("E", ELEMENT) == "q"


def test_bad_custom_type_becomes_config_error():
    def picky(s):
        raise ValueError("nope")
    with pytest.raises(ConfigError, match="X: parse error"):
        Args("X 1").read("X", picky)


# -- value types -----------------------------------------------------------------------


@pytest.mark.parametrize("text,value", [
    ("true", True), ("yes", True), ("1", True), ("t", True), ("y", True),
    ("false", False), ("no", False), ("0", False), ("f", False), ("n", False)])
def test_bool(text, value):
    assert BOOL(text) is value


@pytest.mark.parametrize("text", ["True", "2", "", "yes please"])
def test_bool_bad(text):
    with pytest.raises(ArgError):
        BOOL(text)


@pytest.mark.parametrize("type_,text,value", [
    (INT, "10", 10), (INT, "-10", -10), (INT, "+7", 7), (INT, "0x1F", 31), (INT, "010", 8),
    (INT, "0b101", 5), (INT, "1_000", 1000), (INT, "0", 0), (UINT, "4294967295", 4294967295),
    (INT64, "-9223372036854775808", -2**63), (Int(1, 5), "5", 5)])
def test_integers(type_, text, value):
    assert type_(text) == value


@pytest.mark.parametrize("type_,text", [
    (INT, ""), (INT, "08"), (INT, "1_"), (INT, "1__0"), (INT, "0x"), (INT, "1.0"), (INT, " 1"),
    (UINT, "-1"), (UINT, "4294967296"), (INT, "2147483648"), (Int(1, 5), "6"), (Int(1, 5), "0")])
def test_integers_bad(type_, text):
    with pytest.raises(ArgError):
        type_(text)


def test_integer_range_message():
    with pytest.raises(ArgError, match="out of range, bound 5"):
        Int(1, 5)("9")


@pytest.mark.parametrize("text,value", [("1", 1.0), ("-2.5", -2.5), ("1e-3", 0.001), (".5", 0.5),
                                        ("5.", 5.0), ("+1E+2", 100.0), ("inf", float("inf")),
                                        ("-Infinity", float("-inf"))])
def test_double(text, value):
    assert DOUBLE(text) == value


@pytest.mark.parametrize("text", ["", "1,0", "1_0", " 1", "e3", "1e999", "-1e999", "--1", "1e",
                                  ".", "+-inf", "infinit", "1.5 "])
def test_double_bad(text):
    with pytest.raises(ArgError):
        DOUBLE(text)


@pytest.mark.parametrize("text,value", [
    ("1.5", 1.5), ("1.5s", 1.5), ("10ms", 0.01), ("500us", 0.0005), ("20ns", 2e-08),
    ("2min", 120.0), ("2m", 120.0), ("1h", 3600.0), ("1hr", 3600.0), ("1 hr", 3600.0),
    ("1d", 86400.0), ("3.6e6 msec", 3600.0), ("1sec", 1.0), ("5usec", 5e-06)])
def test_seconds(text, value):
    assert SECONDS(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text", ["", "ms", "1 2s", "-1s", "1x", "1.2.3"])
def test_seconds_bad(text):
    with pytest.raises(ArgError):
        SECONDS(text)


def test_nseconds():
    assert NSECONDS("1.5ms") == 1_500_000
    assert NSECONDS("1") == 1_000_000_000
    assert NSECONDS("0.0000000015") == 2          # halves round up
    assert NSECONDS("0.0000000014999") == 1
    assert NSECONDS("1_000.000_000_001") == 1_000_000_000_001
    assert NSECONDS("1e-99999999999") == 0
    assert NSECONDS("18446744073.709551615") == 2**64 - 1
    with pytest.raises(ArgError, match="out of range"):
        NSECONDS("18446744073.7095516155")
    with pytest.raises(ArgError, match="out of range"):
        NSECONDS("1e99999999999")


def test_huge_exponents_are_range_errors():
    assert SECONDS("1e-99999999999") == 0.0
    for bad in ("1e99999999999", "1e309"):
        with pytest.raises(ArgError, match="out of range"):
            SECONDS(bad)
    with pytest.raises(ArgError, match="out of range"):
        BANDWIDTH("1e20Bps")
    assert BANDWIDTH("1.8446744073709551615e19") == 2**64 - 1


@pytest.mark.parametrize("text,value", [
    ("1000", 1000), ("10Mbps", 1_250_000), ("10 Mb/s", 1_250_000), ("1GBps", 1_000_000_000),
    ("1kBps", 1000), ("8kbps", 1000), ("9600baud", 1200), ("1.5MBps", 1_500_000), ("0", 0)])
def test_bandwidth(text, value):
    assert BANDWIDTH(text) == value


@pytest.mark.parametrize("text", ["", "Mbps", "10 Mbits", "-1", "1TBps"])
def test_bandwidth_bad(text):
    with pytest.raises(ArgError):
        BANDWIDTH(text)


def test_ip_addresses():
    assert IPADDR("18.26.4.15") == (18 << 24) | (26 << 16) | (4 << 8) | 15
    assert IPADDR("0.0.0.0") == 0
    for bad in ("1.2.3", "1.2.3.256", "1.2.3.4.5", "a.b.c.d", "", "1..2.3"):
        with pytest.raises(ArgError):
            IPADDR(bad)


@pytest.mark.parametrize("text,value", [
    ("10.0.0.0/8", (0x0A000000, 0xFF000000)), ("10/8", (0x0A000000, 0xFF000000)),
    ("10.0.0.0 255.0.0.0", (0x0A000000, 0xFF000000)),
    ("18.26.4/24", (0x121A0400, 0xFFFFFF00)),
    ("18.26.4.9/24", (0x121A0409, 0xFFFFFF00)),
    ("18.26.4.0/255.255.255.0", (0x121A0400, 0xFFFFFF00)),
    ("0.0.0.0/0", (0, 0)), ("1.2.3.4/32", (0x01020304, 0xFFFFFFFF))])
def test_ip_prefix(text, value):
    assert IPPREFIX(text) == value


@pytest.mark.parametrize("text", ["10.0.0.0", "10/33", "18.26/24", "1.2.3.4/", "1.2.3.4/x",
                                  "1.2.3.4 255.0.0", ""])
def test_ip_prefix_bad(text):
    with pytest.raises(ArgError):
        IPPREFIX(text)


def test_ip_address_or_prefix():
    assert IPADDR_OR_PREFIX("1.2.3.4") == (0x01020304, 0xFFFFFFFF)
    assert IPADDR_OR_PREFIX("1.2.3.0/24") == (0x01020300, 0xFFFFFF00)


def test_ether_address():
    assert ETHERADDR("0:a0:c9:9c:fd:9c") == bytes([0, 0xA0, 0xC9, 0x9C, 0xFD, 0x9C])
    assert ETHERADDR("00-15-58-2D-FB-8F") == bytes([0, 0x15, 0x58, 0x2D, 0xFB, 0x8F])
    assert ETHERADDR("1:2:3:4:5:6") == bytes(range(1, 7))
    for bad in ("1:2:3:4:5", "1:2:3:4:5:6:7", "001:2:3:4:5:6", "g:2:3:4:5:6", "1:2-3:4:5:6"):
        with pytest.raises(ArgError):
            ETHERADDR(bad)


def test_ip6():
    assert IP6ADDR("::") == bytes(16)
    assert IP6ADDR("::18.26.4.15")[-4:] == bytes([18, 26, 4, 15])
    assert IP6ADDR("1080::8:800:200C:417A")[:2] == b"\x10\x80"
    assert IP6PREFIX("fe80::/10") == (bytes([0xFE, 0x80]) + bytes(14), 10)
    assert IP6PREFIX("::1/ffff:ffff::") == (bytes(15) + b"\x01", 32)
    for bad in ("1.2.3.4", "::g", "fe80::1%eth0"):
        with pytest.raises(ArgError):
            IP6ADDR(bad)
    for bad in ("::1", "::/129", "::/::1"):
        with pytest.raises(ArgError):
            IP6PREFIX(bad)


@pytest.mark.parametrize("text,value", [
    ("abc", "abc"), ('"a b"', "a b"), ("'a b'", "a b"), ('a"b c"d', "ab cd"),
    ('"\\n\\t\\x41\\101"', "\n\tAA"), ('"a\\"b"', 'a"b'), ("\\<41 42>", "AB"),
    ('"$x"', "$x"), ('"a\\\nb"', "ab")])
def test_string(text, value):
    assert STRING(text) == value


@pytest.mark.parametrize("text", ["", "a b", '"a" b'])
def test_string_bad(text):
    with pytest.raises(ArgError):
        STRING(text)


def test_word():
    assert WORD("abc") == "abc"
    assert WORD('"abc"') == "abc"
    for bad in ('"a b"', '"a,b"', "a\\b", ""):
        with pytest.raises(ArgError):
            WORD(bad)


def test_data():
    assert DATA("\\<0800 4500>") == b"\x08\x00\x45\x00"
    assert DATA('"\\x00\\xff\\377é"') == b"\x00\xff\xff" + "é".encode()
    assert DATA('"\\<00 01 /* comment */ 02>"') == b"\x00\x01\x02"
    assert DATA("abc\\<0d0a>") == b"abc\r\n"
    with pytest.raises(ArgError):
        DATA("a b")


def test_any_and_filename(monkeypatch):
    assert ANY(" raw, text ") == " raw, text "
    monkeypatch.setenv("HOME", "/home/u")
    assert FILENAME("~/x.pcap") == "/home/u/x.pcap"
    assert FILENAME('"a b.pcap"') == "a b.pcap"


@pytest.mark.parametrize("name,value", [
    ("DST_IP", (0, 4)), ("PAINT", (16, 1)), ("ICMP_PARAMPROB", (17, 1)), ("FIX_IP_SRC", (19, 1)),
    ("VLAN_TCI", (20, 2)), ("AGGREGATE", (20, 4)), ("MISC_IP", (20, 4)),
    ("EXTRA_PACKETS", (26, 2)), ("EXTRA_LENGTH", (28, 4)), ("FIRST_TIMESTAMP", (32, 8)),
    ("PACKET_NUMBER", (32, 4)), ("SEQUENCE_NUMBER", (36, 4)), ("PERFCTR", (40, 8)),
    ("PAINT_ANNO", (16, 1)), ("4", (4, 0)), ("0x2f", (47, 0))])
def test_anno(name, value):
    assert ANNO(name) == value


def test_anno_bad_and_sized():
    for bad in ("NOPE", "48", "-1", ""):
        with pytest.raises(ArgError):
            ANNO(bad)
    assert Anno(1)("PAINT") == 16
    assert Anno(4)("20") == 20
    for bad in ("PAINT", "18", "46"):
        with pytest.raises(ArgError):
            Anno(4)(bad)


def test_keyword_type():
    assert Keyword("fast", "slow")("fast") == "fast"
    with pytest.raises(ArgError, match="expected one of fast, slow"):
        Keyword("fast", "slow")("medium")


def test_quote_roundtrip():
    for s in ["", "a b", 'q"uote', "back\\slash", "$var", "tab\tnl\nnul\0", "é\x7f\xff", "€"]:
        assert STRING(quote(s)) == s


def test_read_with_element_arguments_full_example():
    a = Args("DATA \\<00 11>, LIMIT 5, STOP true, INTERVAL 10ms, RATE 10Mbps", context="s :: Src")
    assert a.read_p("DATA", DATA) == b"\x00\x11"
    assert a.read_p("LIMIT", INT) == 5
    assert a.read("STOP", BOOL) is True
    assert a.read("INTERVAL", SECONDS) == pytest.approx(0.01)
    assert a.read("RATE", BANDWIDTH) == 1_250_000
    a.complete()
