"""Hot reconfiguration: swaps under traffic lose no buffer and carry state;
failed swaps leave the old configuration running and say why."""
from __future__ import annotations

import signal
import threading
import time

import pytest

from clickpy.control import ControlClient, ControlError
from clickpy.hotswap import LiveRouter
from clickpy.router import Router

from control_helpers import serve, wait_for

TRAFFIC = """cs :: ControlSocket(TCP, 0);
src :: InfiniteSource(LENGTH 64, BURST 32, LIMIT -1) -> c :: Counter -> q :: Queue(4000) -> u :: Unqueue(BURST 32) -> sink :: Counter -> Discard;
"""


def _client(live) -> ControlClient:
    return ControlClient.connect(str(live.router.element("cs").bound_port))


def test_swap_under_traffic_carries_state_and_loses_no_buffer():
    new_cfg = TRAFFIC.replace("Queue(4000)", "Queue(5000)") + "extra :: Script(TYPE PASSIVE);"

    def client(live):
        out = {}
        with _client(live) as cl:
            assert wait_for(lambda: int(cl.read("c.count")) > 100_000)
            out["before"] = int(cl.read("c.count"))
            lines = cl.write("hotconfig", new_cfg)
            out["reply"] = lines
            # same client, same connection: now served by the new router
            out["after"] = int(cl.read("c.count"))
            out["capacity"] = cl.read("q.capacity")
            out["extra"] = cl.check("extra.run")
            out["status"] = cl.read("hotconfig_status")
            time.sleep(0.05)
            out["later"] = int(cl.read("c.count"))
        return out
    live, out = serve(TRAFFIC, client, allow_hotconfig=True)
    old_pool = live.router.pool
    assert out["reply"] == ["Write handler 'hotconfig' OK"]
    assert out["capacity"] == "5000"                   # the new configuration runs
    assert out["extra"]
    assert out["after"] >= out["before"]               # Counter.count carried over
    assert out["later"] > out["after"]                 # and traffic flows on
    assert "swaps 1" in out["status"] and "last_stall_us" in out["status"]
    live.cleanup()
    assert old_pool.free_count == old_pool.size        # every buffer came back


def test_queue_contents_move_to_the_new_queue():
    cfg = """cs :: ControlSocket(TCP, 0);
             src :: InfiniteSource(LENGTH 64, LIMIT 300, STOP false) -> q :: Queue(1000) -> u :: Unqueue(ACTIVE false) -> Discard;"""
    def client(live):
        with _client(live) as cl:
            assert wait_for(lambda: cl.read("q.length") == "300")
            cl.write("hotconfig", cfg.replace("LIMIT 300", "LIMIT 0").replace("Queue(1000)", "Queue(200)"))
            length, drops = cl.read("q.length"), cl.read("q.drops")
            pool_free = int(cl.read("pool_free"))
            pool_size = int(cl.read("pool_size"))
        return length, drops, pool_free, pool_size
    live, (length, drops, pool_free, pool_size) = serve(cfg, client, allow_hotconfig=True)
    live.cleanup()
    # 300 queued packets into a queue of 200: 200 moved, 100 dropped (counted), none leaked
    assert (length, drops) == ("200", "100")
    assert pool_free == pool_size - 200


@pytest.mark.parametrize("bad, why", [
    ("src :: InfiniteSource( -> ;", "<hotconfig>:1:28: expected ')'"),
    ("x :: NoSuchElement;", "unknown element class 'NoSuchElement'"),
    ("q :: Queue(-5);", "q :: Queue"),
    ("e :: Error;", "Error element always fails"),
    ("m :: Message(no, ERROR);", "m :: Message: no"),
])
def test_failed_swap_keeps_the_old_configuration(bad, why):
    def client(live):
        with _client(live) as cl:
            assert wait_for(lambda: int(cl.read("c.count")) > 0)
            with pytest.raises(ControlError) as e:
                cl.write("hotconfig", bad)
            before = int(cl.read("c.count"))
            time.sleep(0.05)
            after = int(cl.read("c.count"))
            return e.value, before, after, cl.read("hotconfig_status"), cl.read("q.capacity")
    live, (err, before, after, status, capacity) = serve(TRAFFIC, client, allow_hotconfig=True)
    live.cleanup()
    assert err.code == 520
    assert err.lines[0] == "Write handler 'hotconfig' error:"
    assert why in "\n".join(err.lines)
    assert after > before                       # still forwarding, the old graph
    assert capacity == "4000"
    assert "swaps 0" in status and "failed 1" in status


def test_failed_swap_that_cannot_take_a_resource_keeps_the_old_one():
    """A new ControlSocket on a port someone else holds fails at initialize:
    nothing of the new router stays open."""
    import socket
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        def client(live):
            with _client(live) as cl:
                with pytest.raises(ControlError) as e:
                    cl.write("hotconfig", TRAFFIC + f"other :: ControlSocket(TCP, {port});")
                return "\n".join(e.value.lines), cl.read("c.class")
        live, (text, cls) = serve(TRAFFIC, client, allow_hotconfig=True)
        live.cleanup()
        assert "Address already in use" in text and cls == "Counter"
    finally:
        holder.close()


def test_second_reconfiguration_while_one_is_building_is_refused():
    r = Router.from_string("s :: Script(TYPE PASSIVE);")
    live = LiveRouter(r, allow_hotconfig=True)
    try:
        first = live.reconfigure("s :: Script(TYPE PASSIVE);")
        second = live.reconfigure("s :: Script(TYPE PASSIVE);")
        assert second.done and not second.ok and "already in progress" in second.messages[0]
        live.run(timeout=0.5)
        assert first.done and first.ok
    finally:
        live.cleanup()


def test_repeated_swaps_under_traffic_lose_nothing():
    def client(live):
        results = []
        with _client(live) as cl:
            for k in range(5):
                cfg = TRAFFIC.replace("Queue(4000)", f"Queue({4000 + k})")
                results.append(cl.write("hotconfig", cfg)[0])
            return results, cl.read("hotconfig_status"), int(cl.read("sink.count"))
    live, (results, status, sunk) = serve(TRAFFIC, client, allow_hotconfig=True)
    pool = live.router.pool
    live.cleanup()
    assert results == ["Write handler 'hotconfig' OK"] * 5
    assert "swaps 5" in status and sunk > 0
    assert pool.free_count == pool.size


def test_sighup_rereads_the_configuration_file(tmp_path):
    path = tmp_path / "router.click"
    path.write_text(TRAFFIC)
    router = Router.from_file(str(path))
    live = LiveRouter(router, config_file=str(path))
    main = threading.main_thread().ident
    seen = {}

    def poke():
        try:
            with ControlClient.connect(str(router.element("cs").bound_port)) as cl:
                assert wait_for(lambda: int(cl.read("c.count")) > 0)
                path.write_text(TRAFFIC.replace("Queue(4000)", "Queue(123)"))
                signal.pthread_kill(main, signal.SIGHUP)   # to the driver's thread, where it is blocked
            assert wait_for(lambda: live.swaps == 1)
            with ControlClient.connect(str(live.router.element("cs").bound_port)) as cl:
                seen["capacity"] = cl.read("q.capacity")
                path.write_text("broken ->")
                signal.pthread_kill(main, signal.SIGHUP)
                assert wait_for(lambda: live.failed_swaps == 1)
                seen["still"] = cl.read("q.capacity")
                cl.write("stop")
        except BaseException as e:
            seen["error"] = e
            live.router.driver.stop()
    t = threading.Thread(target=poke)
    t.start()
    live.run(timeout=30)
    t.join()
    live.cleanup()
    assert "error" not in seen, seen.get("error")
    assert seen == {"capacity": "123", "still": "123"}


def test_take_state_failure_is_reported_and_the_swap_goes_on():
    """An element whose take_state raises keeps its fresh state; the swap
    completes and the reply says which state was not carried (220)."""
    from clickpy import registry
    from clickpy.element import Element

    class Fussy(Element):
        port_count = "0/0"

        def take_state(self, old):
            raise ValueError("cannot take that")
    registry.register("FussyTestElement", Fussy)
    cfg = "cs :: ControlSocket(TCP, 0); f :: FussyTestElement;"

    def client(live):
        with _client(live) as cl:
            code, lines = cl.command("WRITEDATA hotconfig %d" % len(cfg), cfg.encode())
            return code, lines
    live, (code, lines) = serve(cfg, client, allow_hotconfig=True)
    live.cleanup()
    assert code == 220
    assert lines == ["Write handler 'hotconfig' OK with warnings:", "f: state not carried over: cannot take that"]


def test_hotconfig_reply_and_pipelined_commands_follow_the_swap():
    """Commands sent right after hotconfig, before its reply, run on the new router."""
    def client(live):
        with _client(live) as cl:
            new = TRAFFIC.replace("Queue(4000)", "Queue(77)").encode()
            cl.sock.sendall(b"WRITEDATA hotconfig %d\r\n" % len(new) + new + b"READ q.capacity\r\n")
            first = cl.reply()
            second = cl.reply()
            data = cl._data_reply(*second)
            return first, data
    live, (first, data) = serve(TRAFFIC, client, allow_hotconfig=True)
    live.cleanup()
    assert first == (200, ["Write handler 'hotconfig' OK"])
    assert data == "77"


def test_client_leaving_during_a_reconfiguration():
    """The writer of hotconfig hangs up before the reply: the swap still
    happens and the router neither spins nor fails."""
    def client(live):
        new = TRAFFIC.replace("Queue(4000)", "Queue(88)").encode()
        import socket as socket_module
        s = socket_module.create_connection(("127.0.0.1", live.router.element("cs").bound_port))
        s.sendall(b"WRITEDATA hotconfig %d\r\n" % len(new) + new)
        s.close()
        assert wait_for(lambda: live.swaps == 1)
        with _client(live) as cl:
            return cl.read("q.capacity"), cl.read("cs.connections")
    live, (capacity, conns) = serve(TRAFFIC, client, allow_hotconfig=True)
    live.cleanup()
    assert capacity == "88" and conns == "1"
