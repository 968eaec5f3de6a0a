"""FastUDPFlows: valid UDP/IP/Ethernet packets of FLOWS random flows, LIMIT,
STOP, FLOWSIZE, pull mode, handlers."""
import pytest

scapy = pytest.importorskip("scapy.all")
from scapy.all import IP, UDP, Ether  # noqa: E402

from clickpy.lang.graph import ConfigError  # noqa: E402
from clickpy.router import Router  # noqa: E402
from ipharness import drain_queues  # noqa: E402

ARGS = "0, {limit}, {length}, 02:00:00:00:00:01, 10.0.0.1, 02:00:00:00:00:02, 10.0.0.2, {flows}, {flowsize}"


def run(limit=2000, length=64, flows=10, flowsize=1000000, extra=", true, true, true"):
    r = Router.from_string(
        f"src :: FastUDPFlows({ARGS.format(limit=limit, length=length, flows=flows, flowsize=flowsize)}{extra})"
        " -> q0 :: Queue(100000) -> Discard(ACTIVE false);", warnings=False)
    r.run(timeout=20)
    return r, drain_queues(r, 1, make=lambda data, anno: (data, anno))[0]


def test_packets_are_valid_udp_of_the_flows():
    r, frames = run(limit=3000, flows=10)
    assert len(frames) == 3000 and r.handler("src.count") == "3000"
    flows = set()
    for data, anno in frames:
        p = Ether(data)
        assert len(data) == 64 and (p.src, p.dst) == ("02:00:00:00:00:01", "02:00:00:00:00:02")
        assert (p[IP].src, p[IP].dst, p[IP].ttl, p[IP].len) == ("10.0.0.1", "10.0.0.2", 250, 50)
        fresh = IP(bytes(p[IP]))
        del fresh.chksum
        del fresh[UDP].chksum
        fresh = IP(bytes(fresh))
        assert (fresh.chksum, fresh[UDP].chksum) == (p[IP].chksum, p[UDP].chksum)
        assert anno["network_offset"] == 14 and anno["transport_offset"] == 34
        assert bytes(anno["user"][0:4]) == bytes([10, 0, 0, 2])
        flows.add((p[UDP].sport, p[UDP].dport))
    assert len(flows) <= 10 and len(flows) >= 8      # random choice over 10 flows


def test_flowsize_changes_ports():
    r, frames = run(limit=2000, flows=1, flowsize=10)
    ports = [(Ether(d)[UDP].sport, Ether(d)[UDP].dport) for d, _ in frames]
    runs = [ports[i:i + 10] for i in range(0, 2000, 10)]
    assert all(len(set(run_)) == 1 for run_ in runs)
    assert len({run_[0] for run_ in runs}) > 150          # new random ports each time


def test_no_checksum_and_length():
    r, frames = run(limit=100, length=100, extra=", false, true, true")
    assert all(len(d) == 100 and Ether(d)[UDP].chksum == 0 for d, _ in frames)


def test_pull_mode_and_handlers():
    r = Router.from_string(
        f"src :: FastUDPFlows({ARGS.format(limit=600, length=60, flows=5, flowsize=9)}) "
        "-> u :: Unqueue(BURST 256) -> c :: Counter -> Discard;", warnings=False)
    r.run(timeout=2)
    assert r.handler("c.count") == "600" and int(r.handler("src.rate")) > 0
    r.write("src.limit", "700")
    r.write("src.reset", "")
    assert r.handler("src.count") == "0"
    assert r.handler("src.length") == "60"


def test_configuration_errors():
    with pytest.raises(ConfigError, match="FLOWS must be at least 1"):
        Router.from_string(f"FastUDPFlows({ARGS.format(limit=1, length=64, flows=0, flowsize=1)}) -> Discard;")
    with pytest.raises(ConfigError, match="required argument missing"):
        Router.from_string("FastUDPFlows(0, 10, 64) -> Discard;")
