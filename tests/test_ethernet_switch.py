"""EtherSwitch (learning and flooding) and configs/bridge.click on pcap files."""
import os
import time
from pathlib import Path

import pytest
from scapy.all import ARP, IP, UDP, Ether, Raw
from scapy.utils import PcapWriter, RawPcapReader

import sink  # noqa: F401
from clickpy import registry
from clickpy.element import Element
from clickpy.router import Router

A, B, C, D = ("00:00:00:00:00:0a", "00:00:00:00:00:0b", "00:00:00:00:00:0c", "00:00:00:00:00:0d")
BCAST = "ff:ff:ff:ff:ff:ff"
BRIDGE = Path(__file__).resolve().parent.parent / "configs" / "bridge.click"


def frame(src, dst, tag=b""):
    return bytes(Ether(src=src, dst=dst) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP() / Raw(tag))


def switch(ports=3, keywords=""):
    srcs = "".join(f"s{i} :: InfiniteSource(ACTIVE false); s{i} -> [{i}]sw; sw[{i}] -> o{i} :: PacketSink;"
                   for i in range(ports))
    return Router.from_string(f"sw :: EtherSwitch({keywords}); {srcs}")


def send(r, port, frames, timestamp=None):
    xs = []
    for f in frames:
        x = r.pool.new_packet(f)
        if timestamp is not None:
            r.pool.set_annotation(x, "timestamp", timestamp)
        xs.append(x)
    r.element("sw").push_packets(port, xs)


def got(r, port):
    return [d for d, _ in r.element(f"o{port}").packets]


def test_learning_flooding_and_filtering():
    r = switch(3)
    f1 = frame(A, B, b"1")
    send(r, 0, [f1])                                   # B unknown: flood to 1 and 2
    assert (got(r, 0), got(r, 1), got(r, 2)) == ([], [f1], [f1])
    f2 = frame(B, A, b"2")
    send(r, 1, [f2])                                   # A known on port 0
    assert got(r, 0) == [f2] and len(got(r, 2)) == 1
    f3 = frame(C, B, b"3")
    send(r, 2, [f3])                                   # B learned on port 1
    assert got(r, 1) == [f1, f3]
    f4 = frame(B, BCAST, b"4")
    send(r, 1, [f4])                                   # broadcast: everyone else
    assert got(r, 0)[-1] == f4 and got(r, 2)[-1] == f4 and got(r, 1)[-1] == f3
    f5 = frame(D, A, b"5")
    send(r, 0, [f5])                                   # A is on D's own LAN: dropped
    assert f5 not in got(r, 1) + got(r, 2)
    assert r.handler("sw.drops") == "1"
    table = dict(line.split() for line in r.handler("sw.table").splitlines())
    assert table == {"00-00-00-00-00-0A": "0", "00-00-00-00-00-0B": "1", "00-00-00-00-00-0C": "2",
                     "00-00-00-00-00-0D": "0"}


def test_multicast_is_flooded_and_an_address_can_move():
    r = switch(3)
    send(r, 0, [frame(A, "01:00:5e:00:00:01")])
    assert len(got(r, 1)) == 1 and len(got(r, 2)) == 1
    send(r, 2, [frame(A, C)])                          # A moved to port 2
    send(r, 1, [frame(B, A, b"x")])
    assert got(r, 2)[-1] == frame(B, A, b"x") and frame(B, A, b"x") not in got(r, 0)


def test_entries_age_in_packet_time():
    r = switch(2, "TIMEOUT 10")
    t = 1_000 * 10**9
    send(r, 0, [frame(A, BCAST)], timestamp=t)
    send(r, 0, [frame(C, A)], timestamp=t + 5 * 10**9)        # A still on 0: dropped
    assert got(r, 1) == [frame(A, BCAST)]
    send(r, 1, [frame(B, A)], timestamp=t + 9 * 10**9)
    assert got(r, 0) == [frame(B, A)]
    send(r, 0, [frame(C, A, b"late")], timestamp=t + 30 * 10**9)  # A expired: flooded
    assert got(r, 1)[-1] == frame(C, A, b"late")
    r.write("sw.timeout", "0")
    assert r.handler("sw.timeout") == "0"


def test_timeout_zero_is_a_hub_and_runts_are_dropped():
    r = switch(3, "TIMEOUT 0")
    send(r, 0, [frame(A, B), frame(B, A), b"short"])
    assert len(got(r, 1)) == 2 and len(got(r, 2)) == 2
    assert r.handler("sw.count") == "0" and r.handler("sw.drops") == "1"


def test_flood_copies_are_independent_buffers():
    r = switch(4)
    send(r, 0, [frame(A, BCAST, b"c")])
    datas = [got(r, i) for i in (1, 2, 3)]
    assert datas[0] == datas[1] == datas[2] == [frame(A, BCAST, b"c")]


def test_entry_capacity_bounds_the_table():
    r = switch(2, "ENTRY_CAPACITY 2")
    send(r, 0, [frame(A, BCAST), frame(B, BCAST), frame(C, BCAST)])
    assert r.handler("sw.count") == "2"
    r.write("sw.clear")
    assert r.handler("sw.count") == "0"


# ---- configs/bridge.click on pcap files -----------------------------------------------

class _DeviceNameOnly(Element):
    """Lets the parser know FromDevice/ToDevice while the device group is not in this
    branch; the pcap variant never instantiates them, and doing so fails."""
    port_count = "-/-"

    def configure(self, args):
        raise self.error("the device elements are not built in this tree")


def known_device_classes(monkeypatch):
    """Until the device group is in the tree, make its class names known for this test only."""
    for name in ("FromDevice", "ToDevice"):
        if not registry.has_class(name):
            monkeypatch.setitem(registry._extra, name, type(name, (_DeviceNameOnly,), {}))


def write_pcap(path, frames, t0):
    w = PcapWriter(str(path), linktype=1, sync=True)
    w._write_header(None)
    for i, f in enumerate(frames):
        w.write_packet(f, sec=t0 + i, usec=0)
    w.close()


def test_bridge_config_on_pcap_files(tmp_path, monkeypatch):
    known_device_classes(monkeypatch)
    # LAN 0 holds A and C; LAN 1 holds B and D (D never speaks)
    lan0 = [frame(A, BCAST, b"a-who"), frame(C, A, b"c-to-a"), frame(A, D, b"a-to-d"), frame(A, B, b"a-to-b")]
    lan1 = [frame(B, BCAST, b"b-who"), frame(B, D, b"b-to-d"), frame(B, C, b"b-to-c"), frame(B, A, b"b-to-a")]
    write_pcap(tmp_path / "lan0.pcap", lan0, 1000)
    write_pcap(tmp_path / "lan1.pcap", lan1, 2000)
    defines = {"PORT0": f"{tmp_path}/lan0.pcap,{tmp_path}/lan0-out.pcap",
               "PORT1": f"{tmp_path}/lan1.pcap,{tmp_path}/lan1-out.pcap"}
    r = Router.from_file(str(BRIDGE), defines=defines)
    start = time.monotonic()
    r.run(timeout=30)
    assert time.monotonic() - start < 20                 # both traces ended and stopped the run
    assert r.handler("lan0/FromDump@1.count") == "4" and r.handler("lan1/FromDump@1.count") == "4"
    r.cleanup()
    out0 = [(d, m.sec) for d, m in RawPcapReader(str(tmp_path / "lan0-out.pcap"))]
    out1 = [(d, m.sec) for d, m in RawPcapReader(str(tmp_path / "lan1-out.pcap"))]
    # C -> A stays on LAN 0 (A was learned there from its broadcast); everything else
    # from LAN 0 crosses (broadcast, unknown D, B on LAN 1), with its timestamp
    assert out1 == [(lan0[0], 1000), (lan0[2], 1002), (lan0[3], 1003)]
    # B's broadcast, B -> D (D unknown) and B -> C, B -> A (on LAN 0) cross to LAN 0
    assert [d for d, _ in out0] == [lan1[0], lan1[1], lan1[2], lan1[3]]
    assert [s for _, s in out0] == [2000, 2001, 2002, 2003]


def test_bridge_config_device_variant_parses(tmp_path, monkeypatch):
    known_device_classes(monkeypatch)
    from clickpy.lang import parse_config
    graph = parse_config(BRIDGE.read_text(), str(BRIDGE), defines={"PORT0": "veth0", "PORT1": "veth1"},
                         is_class=registry.has_class)
    classes = {e.name: (e.class_name, e.config) for e in graph.elements}
    assert classes["lan0/FromDevice@1"] == ("FromDevice", "veth0, PROMISC true, SNIFFER false")
    assert classes["lan1/ToDevice@3"][0] == "ToDevice"
    assert any(c == "DriverManager" for c, _ in classes.values())
    assert not any(c == "FromDump" for c, _ in classes.values())
