"""Building routers from flat graphs: port and processing checks, handlers, the Python API."""
import pytest

from clickpy import registry
from clickpy.element import HandlerError, PyElement
from clickpy.graph import Graph
from clickpy.lang.graph import ConfigError, Connection, ElementDecl, FlatGraph, Location
from clickpy.packet import debug_build, PacketOwnershipError


def messages(err: ConfigError) -> str:
    return "\n".join(d.message for d in err.diagnostics)


def test_python_builder_runs_a_pipeline():
    g = Graph()
    src = g.add("InfiniteSource", "LENGTH 64, BURST 32, LIMIT 1000, STOP true", name="src")
    src >> g.add("Counter", name="c") >> g.add("Discard", name="d")
    r = g.router()
    r.run(timeout=10)
    assert r.handler("c.count") == "1000"
    assert r.handler("c.byte_count") == "64000"
    assert r.handler("d.count") == "1000"
    assert r.handler("src.count") == "1000"
    assert int(r.handler("pool_free")) == int(r.handler("pool_size"))


def test_flat_graph_with_locations_reports_all_errors():
    loc = lambda line: Location("x.click", line, 1, "text")
    graph = FlatGraph(
        elements=[ElementDecl("s", "InfiniteSource", "", loc(1)),
                  ElementDecl("c", "Countr", "", loc(2)),
                  ElementDecl("d", "NoSuchThing", "", loc(3))],
        connections=[Connection("s", 0, "c", 0, loc(4))])
    with pytest.raises(ConfigError) as info:
        from clickpy.router import Router
        Router(graph)
    text = str(info.value)
    assert "x.click:2:1: unknown element class 'Countr' (did you mean 'Counter'?)" in text
    assert "x.click:3:1: unknown element class 'NoSuchThing'" in text


def test_unconnected_ports_are_errors():
    g = Graph()
    g.add("InfiniteSource", name="s") >> g.add("Counter", name="c")
    with pytest.raises(ConfigError) as info:
        g.router()
    assert "'c :: Counter' output 0 is not connected" in messages(info.value)


def test_too_many_ports():
    g = Graph()
    s = g.add("InfiniteSource", name="s")
    c = g.add("Counter", name="c")
    s >> c >> g.add("Discard")
    c[1] >> g.add("Discard")
    with pytest.raises(ConfigError) as info:
        g.router()
    assert "'c :: Counter' has 2 outputs but allows 1" in messages(info.value)


def test_push_to_pull_mismatch():
    g = Graph()
    g.add("InfiniteSource") >> g.add("Queue", name="q1") >> g.add("Queue", name="q2") >> g.add("Discard")
    with pytest.raises(ConfigError) as info:
        g.router()
    assert "pull output 0 of 'q1 :: Queue' connected to push input 0 of 'q2 :: Queue'" in messages(info.value)


def test_push_output_reuse_and_pull_input_reuse():
    g = Graph()
    s = g.add("InfiniteSource", name="s")
    s >> g.add("Discard")
    s >> g.add("Discard")
    with pytest.raises(ConfigError) as info:
        g.router()
    assert "push output 0 of 's :: InfiniteSource' is connected more than once" in messages(info.value)

    g = Graph()
    q1, q2 = g.add("Queue", name="q1"), g.add("Queue", name="q2")
    g.add("InfiniteSource") >> q1
    g.add("InfiniteSource") >> q2
    u = g.add("Unqueue", name="u")
    q1 >> u
    q2 >> u
    u >> g.add("Discard")
    with pytest.raises(ConfigError) as info:
        g.router()
    assert "pull input 0 of 'u :: Unqueue' is connected more than once" in messages(info.value)


def test_agnostic_elements_take_the_kind_of_their_neighbours():
    g = Graph()
    g.add("InfiniteSource", "LIMIT 10, STOP true", name="s") >> g.add("Queue", name="q") \
        >> g.add("Counter", name="c") >> g.add("Discard", name="d")
    r = g.router()
    assert r.element("c").input_is_pull(0) and r.element("c").output_is_pull(0)
    assert r.element("d").input_is_pull(0)      # a pulling Discard with its own task
    assert r.element("s").output_is_push(0)
    r.run(timeout=10)
    assert r.handler("c.count") == "10" and r.handler("d.count") == "10"


def test_configure_errors_name_element_and_location():
    graph = FlatGraph(elements=[ElementDecl("s", "InfiniteSource", "BURST 0", Location("f.click", 3, 5, "s :: X")),
                                ElementDecl("d", "Discard")],
                      connections=[Connection("s", 0, "d", 0)])
    from clickpy.router import Router
    with pytest.raises(ConfigError) as info:
        Router(graph)
    assert str(info.value).startswith("f.click:3:5: s :: InfiniteSource: BURST must be at least 1")


def test_handlers_read_write_and_errors():
    g = Graph()
    g.add("InfiniteSource", "LIMIT 5, STOP true", name="s") >> g.add("Counter", name="c") >> g.add("Discard")
    r = g.router()
    r.run(timeout=10)
    assert r.handler("c.class") == "Counter"
    assert r.handler("c.name") == "c"
    assert "count\tr" in r.handler("c.handlers")
    assert r.handler("c.ports").startswith("1 input\npush\ts[0]")
    r.write("c.reset")
    assert r.handler("c.count") == "0"
    with pytest.raises(HandlerError, match="no handler c.nothing"):
        r.handler("c.nothing")
    with pytest.raises(HandlerError, match="read-only"):
        r.write("c.count", "5")
    with pytest.raises(HandlerError, match="no element named 'zz'"):
        r.handler("zz.count")
    with pytest.raises(HandlerError):
        r.write("s.active", "maybe")
    assert r.handler("list").splitlines()[0] == "3"
    assert "c.count" in r.handler_names()


def test_run_again_after_reset():
    g = Graph()
    g.add("InfiniteSource", "LIMIT 7, BURST 3, STOP true", name="s") >> g.add("Counter", name="c") >> g.add("Discard")
    r = g.router()
    r.run(timeout=10)
    r.write("s.reset")
    r.run(timeout=10)
    assert r.handler("c.count") == "14"


class Bounce(PyElement):
    """Sends a packet back to its own input until its first byte counts down to zero."""
    port_count = "1/2"
    processing = "h/h"

    def process_batch(self, batch):
        ports = []
        for i in range(len(batch)):
            data = batch.data(i)
            data[0] -= 1
            ports.append(0 if data[0] else 1)
        return ports


def test_reentrant_pushes_through_a_loop():
    registry.register("Bounce", Bounce)
    g = Graph()
    src = g.add("InfiniteSource", r"DATA \<28>, LIMIT 50, BURST 5, STOP true", name="s")
    b = g.add("Bounce", name="b")
    src >> b
    b[0] >> b                                   # the loop: an element pushing into itself
    b[1] >> g.add("Counter", name="c") >> g.add("Discard")
    r = g.router()
    r.run(timeout=10)
    assert r.handler("c.count") == "50"
    assert r.pool.batches_lent == 0             # every batch back on the freelist


def test_inject_and_pull_packets_directly():
    g = Graph()
    g.add("InfiniteSource", "ACTIVE false") >> g.add("Queue", "3", name="q") >> g.add("Discard", "ACTIVE false")
    r = g.router()
    q = r.element("q")
    xs = [r.pool.new_packet(bytes([i]) * 20) for i in range(5)]
    q.push_packets(0, xs)
    assert r.handler("q.length") == "3" and r.handler("q.drops") == "2"
    got = q.pull_packets(0, 10)
    assert [r.pool.packet_bytes(x)[0] for x in got] == [0, 1, 2]
    for x in got:
        r.pool.free_packet(x)


@pytest.mark.skipif(not debug_build(), reason="ownership tracking exists only in debug builds")
def test_debug_build_catches_a_buffer_twice_in_a_batch():
    g = Graph()
    g.add("InfiniteSource", "ACTIVE false") >> g.add("Counter", name="c") >> g.add("Discard")
    r = g.router()
    x = r.pool.new_packet(b"abc")
    with pytest.raises(PacketOwnershipError, match="appears twice"):
        r.element("c").push_packets(0, [x, x])
    # the check runs at the edge, before the element sees the batch: x is still ours
    r.pool.free_packet(x)
    assert r.pool.free_count == r.pool.size
