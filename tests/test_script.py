"""Script, DriverManager, Message and Error: each instruction and expression."""
from __future__ import annotations

import signal
import threading
import time

import pytest

from clickpy.element import HandlerError
from clickpy.lang.graph import ConfigError
from clickpy.router import Router


def run(config: str, timeout: float = 10.0) -> Router:
    r = Router.from_string(config)
    r.run(timeout=timeout)
    return r


def test_loop_with_arithmetic_prints_and_stops(capsys):
    r = run("""Script(set x 0, label begin_loop, print $x, set x $(add $x 1),
                      goto begin_loop $(lt $x 5), stop);""")
    assert capsys.readouterr().out == "0\n1\n2\n3\n4\n"
    assert r.driver.stopping
    r.cleanup()


def test_print_forms_and_quoting(capsys, tmp_path):
    out = tmp_path / "out.txt"
    r = run(f"""src :: InfiniteSource(LIMIT 3, BURST 3, STOP false) -> c :: Counter -> Discard;
        Script(wait 50ms,
               print c.count, print "c.count", print '"c.count"',
               set x c.count, print $x, print $($x),
               set y "$(c.count)", print $y, setq z "$(c.count)", print $z,
               printn "no newline", print "",
               print >{out} "to a file", print >>{out} appended,
               printq "\\"quoted\\"",
               stop);""")
    r.cleanup()
    assert capsys.readouterr().out.splitlines() == [
        "3", "c.count", '"c.count"', "c.count", "3", '"3"', "3", "no newline", '"quoted"']
    # `print appended` treats a word as a handler name: no such handler, nothing printed
    assert out.read_text() == "to a file\n"


def test_read_and_write_and_status(capsys):
    r = run("""src :: InfiniteSource(LIMIT 4, BURST 4, STOP false) -> c :: Counter -> Discard;
        Script(wait 20ms, read c.count, write c.reset, print $?, read c.count,
               write c.nosuch 1, print $?, writeq "c.reset", print $?, stop);""")
    r.cleanup()
    cap = capsys.readouterr()
    assert cap.out.splitlines() == ["0", "-22", "0"]
    assert "c.count:\n4\n" in cap.err and "c.count:\n0\n" in cap.err
    assert "no handler c.nosuch" in cap.err


def test_init_export_and_handlers():
    r = Router.from_string("""s :: Script(TYPE PASSIVE, init a 5, export b $(mul 6 7), initq c "x y",
                                         return "$a $b $c");""")
    try:
        assert r.handler("s.b") == "42"
        assert r.handler("s.run") == '"5 42 x y"'
        assert r.handler("s.get", "a") == "5"
        r.write("s.set", "a 9")
        assert r.handler("s.get", "a") == "9"
    finally:
        r.cleanup()


@pytest.mark.parametrize("expr, value", [
    ("add 1 2 3", "6"), ("add 1.5 2", "3.5"), ("sub 10 5 2", "3"), ("mul 2 3 4", "24"),
    ("div 7 2", "3.5"), ("idiv 7 2", "3"), ("mod 7 3", "1"), ("rem 7.5 2", "1.5"),
    ("neg 4", "-4"), ("abs -4", "4"), ("min 5 10 2", "2"), ("max 5 10 2", "10"),
    ("eq 10 0xA", "true"), ("ne 1 2", "true"), ("lt 1 2", "true"), ("gt 1 2", "false"),
    ("le 9 8", "false"), ("ge 2 2", "true"), ("eq 10x 10x", "true"), ("lt abc abd", "true"),
    ("not true", "false"), ("not no", "true"), ("and true yes 1", "true"), ("and true false", "false"),
    ("or false true", "true"), ("or false false", "false"), ("nand true true", "false"), ("nor false false", "true"),
    ("if true a b", "a"), ("if false a b", "b"), ("in foo bar foo", "true"), ("in foo bar", "false"),
    ("first a b c", "a"), ("length abcdef", "6"), ("unquote \"a b\"", "a b"),
    ('sprintf "%05x" 127', "0007f"), ('sprintf "%d-%s" 3 x', "3-x"), ('sprintf "%5.1f%%" 2.25', "  2.2%"),
])
def test_expressions(expr, value):
    r = Router.from_string(f"s :: Script(TYPE PASSIVE, return $({expr}));")
    try:
        assert r.handler("s.run") == value
        name, _, params = expr.partition(" ")
        assert r.handler(f"s.{name}", params) == value        # also as read handlers with parameters
    finally:
        r.cleanup()


def test_expression_errors_are_reported_not_raised(capsys):
    r = Router.from_string("s :: Script(TYPE PASSIVE, return $(add 1 x));")
    try:
        assert r.handler("s.run") == "$(add 1 x)"            # left unexpanded, as Click does
        assert "expected list of numbers" in capsys.readouterr().err
        with pytest.raises(HandlerError):
            r.handler("s.div", "1 0")
        with pytest.raises(HandlerError):
            r.handler("s.not", "maybe")
    finally:
        r.cleanup()


def test_random_and_now():
    r = Router.from_string("s :: Script(TYPE PASSIVE);")
    try:
        values = {int(r.handler("s.random", "3")) for _ in range(200)}
        assert values == {0, 1, 2}
        assert all(5 <= int(r.handler("s.random", "5 7")) <= 7 for _ in range(50))
        assert abs(float(r.handler("s.now")) - time.time()) < 5
    finally:
        r.cleanup()


def test_passive_run_arguments():
    r = Router.from_string("s :: Script(TYPE PASSIVE, return \"$# [$1] [$2] [$args]\");")
    try:
        assert r.handler("s.run", "a b") == '"2 [a] [b] [a b]"'
        assert r.handler("s.run") == '"0 [] [] []"'
    finally:
        r.cleanup()


def test_error_instruction_fails_the_run_handler(capsys):
    r = Router.from_string("s :: Script(TYPE PASSIVE, goto bad $(eq $1 x), return ok, label bad, error bad input $1);")
    try:
        assert r.handler("s.run", "y") == "ok"
        with pytest.raises(HandlerError, match="bad input x"):
            r.handler("s.run", "x")
    finally:
        r.cleanup()


def test_pause_and_step_and_goto_handlers(capsys):
    r = Router.from_string('s :: Script(print "a", pause, print "b", pause 2, print "c", label l, print "d", end);')
    try:
        r.run(timeout=0.1)
        assert capsys.readouterr().out == "a\n"
        r.write("s.step", "")
        assert capsys.readouterr().out == "b\n"
        r.write("s.step", "1")
        assert capsys.readouterr().out == ""
        r.write("s.step", "1")
        assert capsys.readouterr().out == "c\nd\n"
        r.write("s.goto", "l")
        assert capsys.readouterr().out == "d\n"
        with pytest.raises(HandlerError):
            r.write("s.goto", "nowhere")
    finally:
        r.cleanup()


def test_wait_is_ended_early_by_a_step(capsys):
    r = Router.from_string('s :: Script(wait 1h, print "woke", stop);')
    t = r.element("s").add_timer(lambda: r.write("s.step", ""))
    t.schedule_after(20_000_000)
    r.run(timeout=5)
    r.cleanup()
    assert capsys.readouterr().out == "woke\n"


def test_loop_and_goto_special_labels(capsys):
    r = run("""Script(init n 0, set n $(add $n 1), print $n, goto exit $(ge $n 3), loop);
               Script(wait 50ms, stop);""")
    r.cleanup()
    assert capsys.readouterr().out == "1\n2\n3\n"


def test_runaway_script_is_disabled(capsys):
    r = run("s :: Script(label a, goto a); Script(wait 20ms, stop);")
    r.cleanup()
    assert "too many jumps, giving up" in capsys.readouterr().err


def test_bad_scripts_are_configuration_errors():
    for cfg, msg in [("Script(frobnicate x);", "syntax error at 'frobnicate'"),
                     ("Script(goto nowhere);", "no such label 'nowhere'"),
                     ("Script(wait soon);", "expected a time"),
                     ("Script(TYPE SOMETIMES);", "bad TYPE"),
                     ("Script(TYPE SIGNAL NOPE);", "bad signal number"),
                     ("Script(set x);", "syntax error at 'set'"),
                     ("DriverManager(stop); DriverManager(stop);", "more than one driver script")]:
        with pytest.raises(ConfigError, match=msg):
            Router.from_string(cfg)


def test_drivermanager_waits_for_stop_events(capsys):
    r = run("""a :: InfiniteSource(LIMIT 10, STOP true) -> ca :: Counter -> Discard;
               b :: InfiniteSource(LIMIT 20, BURST 1, STOP true) -> cb :: Counter -> Discard;
               DriverManager(wait_stop 2, print "both done $(ca.count) $(cb.count)", wait 10ms, stop);""")
    r.cleanup()
    assert capsys.readouterr().out == "both done 10 20\n"


def test_drivermanager_keeps_running_past_a_stop_event():
    r = Router.from_string("""s :: InfiniteSource(LIMIT 5, STOP true) -> c :: Counter -> Discard;
                              DriverManager(pause, write c.reset, wait 30ms, stop);""")
    t0 = time.monotonic()
    r.run(timeout=10)
    elapsed = time.monotonic() - t0
    try:
        assert r.handler("c.count") == "0"          # the reset ran after the source stopped
        assert elapsed >= 0.03
    finally:
        r.cleanup()


def test_drivermanager_without_instructions_stops_at_the_first_event():
    r = run("s :: InfiniteSource(LIMIT 7, STOP true) -> c :: Counter -> Discard; DriverManager;")
    try:
        assert r.handler("c.count") == "7"
    finally:
        r.cleanup()


def test_script_stop_goes_through_the_drivermanager(capsys):
    r = run("""Script(wait 10ms, stop);
               DriverManager(pause, print "intercepted", stop);""")
    r.cleanup()
    assert capsys.readouterr().out == "intercepted\n"


def test_signal_scripts_run_on_their_signals(capsys):
    r = Router.from_string("""s :: Script(TYPE SIGNAL USR1 HUP, print "got $(add $n 0)", set n $(add $n 1), end);
                              Script(init n 0);
                              Script(wait 2s, stop);""")
    r.element("s").vars["n"] = "0"
    main = threading.main_thread().ident

    def poke():
        time.sleep(0.2)
        signal.pthread_kill(main, signal.SIGUSR1)
        time.sleep(0.2)
        signal.pthread_kill(main, signal.SIGHUP)
        time.sleep(0.2)
    t = threading.Thread(target=poke)
    t.start()
    r.run(timeout=5)
    t.join()
    r.cleanup()
    assert capsys.readouterr().out == "got 0\ngot 1\n"
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL      # restored at cleanup


def test_handler_names_resolve_inside_compound_elements(capsys):
    r = run("""elementclass Box { c :: Counter; input -> c -> output;
                                  Script(wait 20ms, print c.count, stop) }
               InfiniteSource(LIMIT 2, BURST 2, STOP false) -> b :: Box -> Discard;""")
    r.cleanup()
    assert capsys.readouterr().out == "2\n"


def test_message_and_error_elements(capsys):
    r = Router.from_string('Message("deprecated config", WARNING); Message(hello);', warnings=False)
    try:
        assert any("deprecated config" in d.format() for d in r.warnings)
        assert "hello" in capsys.readouterr().err
    finally:
        r.cleanup()
    with pytest.raises(ConfigError, match="stop here"):
        Router.from_string('Message("stop here", ERROR);')
    with pytest.raises(ConfigError, match="Error element always fails"):
        Router.from_string("InfiniteSource -> Error(anything, at all) -> Discard;")


def test_addressinfo_names_addresses_for_other_elements():
    from clickpy import registry
    from clickpy.args import ETHERADDR, IP6ADDR, IPADDR, IPPREFIX
    from clickpy.element import Element

    class Takes(Element):
        port_count = "0/0"

        def configure(self, args):
            self.ip = args.read("IP", IPADDR, None)
            self.net = args.read("NET", IPPREFIX, None)
            self.eth = args.read("ETH", ETHERADDR, None)
            self.ip6 = args.read("IP6", IP6ADDR, None)
    registry.register("AddressTaker", Takes)
    r = Router.from_string("""
        AddressInfo(mauer 10.0.0.1/24 00:50:BA:85:84:A9, v6 fe80::1);
        a :: AddressTaker(IP mauer, NET mauer, ETH mauer, IP6 v6);
        b :: AddressTaker(IP mauer:ip, ETH 1:2:3:4:5:6);
        elementclass Box { AddressInfo(mauer 192.168.1.1, inner 1.2.3.4); t :: AddressTaker(IP mauer) }
        box :: Box;""")
    try:
        a = r.element("a")
        assert a.ip == IPADDR("10.0.0.1") and a.net == IPPREFIX("10.0.0.1/24")
        assert a.eth == bytes.fromhex("0050ba8584a9") and a.ip6 == IP6ADDR("fe80::1")
        assert r.element("b").ip == IPADDR("10.0.0.1")
        assert r.element("box/t").ip == IPADDR("192.168.1.1")     # the inner name hides the outer
        assert "mauer\tipnet=10.0.0.1/24 ip=10.0.0.1 eth=00:50:BA:85:84:A9" in r.handler("AddressInfo@1.table")
    finally:
        r.cleanup()
    for cfg, msg in [("AddressInfo(a); ", "expected 'NAME ADDRESS"),
                     ("AddressInfo(a b);", "is not an IP, IPv6 or Ethernet address"),
                     ("AddressInfo(v6 fe80::1); AddressTaker(IP v6);", "expected IP address"),
                     ("x :: AddressTaker(IP inner);", "expected IP address"),
                     ("elementclass Box { AddressInfo(inner 1.2.3.4); } b :: Box; AddressTaker(IP inner);",
                      "expected IP address")]:
        with pytest.raises(ConfigError, match=msg):
            Router.from_string(cfg)
