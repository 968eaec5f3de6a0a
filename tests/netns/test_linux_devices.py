"""FromDevice and ToDevice between real kernel network stacks in namespaces.

Frames are crafted and checked with scapy; TCP and UDP traffic comes from the
kernels of the host namespaces, with veth offloads left at their defaults
(partial checksums, TSO/GSO), which is what a router between ordinary
interfaces meets.
"""
from __future__ import annotations

import shutil
import socket
import struct
import sys

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether

from clickpy.lang.graph import ConfigError
from clickpy.router import Router

from devnet import (PYTHON, bridge, packet_socket, receive_frames, run_for, run_while,  # noqa: F401
                    tcp_transfer, testbed, transfer_payload)

pytestmark = pytest.mark.netns

PASS_THROUGH = """
    fa :: FromDevice(a0, SNIFFER false{opts}) -> ca :: Counter -> ta :: ToDevice(b0);
    fb :: FromDevice(b0, SNIFFER false{opts}) -> cb :: Counter -> tb :: ToDevice(a0);
"""
MARKER_TYPE = 0x88B5      # IEEE "local experimental" EtherType: no kernel stack reacts to it


def marker_frame(i: int, size: int, dst="02:00:00:00:00:02") -> bytes:
    body = struct.pack("!I", i) + bytes((i + k) & 0xFF for k in range(size - 18))
    return bytes(Ether(src="02:00:00:00:00:01", dst=dst, type=MARKER_TYPE) / body)


def is_marker(frame: bytes) -> bool:
    return len(frame) >= 14 and frame[12:14] == MARKER_TYPE.to_bytes(2, "big")


def build(tb, ns, config: str, **kwargs) -> Router:
    with tb.inside(ns):
        return Router.from_string(config, **kwargs)


# ---- errors ---------------------------------------------------------------------
@pytest.mark.parametrize("config, name", [
    ("FromDevice(nosuchdev0) -> Discard;", "nosuchdev0"),
    ("InfiniteSource -> ToDevice(nosuchdev1);", "nosuchdev1"),
])
def test_a_missing_device_is_a_clear_error(testbed, config, name):
    ns = testbed.namespace("x")
    with pytest.raises(ConfigError) as info:
        build(testbed, ns, config)
    assert f"device '{name}' does not exist" in str(info.value)


@pytest.mark.parametrize("config", ["FromDevice(lo) -> Discard;", "InfiniteSource -> ToDevice(lo);",
                                    "KernelTap(10.3.0.1/24) -> Discard;"])
def test_missing_privileges_are_a_clear_error(testbed, config):
    """Without CAP_NET_RAW/CAP_NET_ADMIN (dropped from the bounding set)."""
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv (util-linux)")
    ns = testbed.namespace("x")
    r = testbed.run(ns, "setpriv", "--bounding-set", "-net_raw,-net_admin", PYTHON, "-m", "clickpy", "run",
                    "-e", config, check=False)
    assert r.returncode == 1
    assert "Operation not permitted (needs root or CAP_NET_RAW/CAP_NET_ADMIN)" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_keywords_are_config_errors(testbed):
    ns = testbed.namespace("x")
    with pytest.raises(ConfigError, match="BLOCK_SIZE"):
        build(testbed, ns, "FromDevice(lo, BLOCK_SIZE 4096) -> Discard;")
    with pytest.raises(ConfigError, match="RING_SIZE"):
        build(testbed, ns, "InfiniteSource -> ToDevice(lo, RING_SIZE 100);")


# ---- passing frames through -----------------------------------------------------
def test_frames_pass_through_unchanged_and_in_order(bridge):
    tb, a, b, r = bridge
    router = build(tb, r, PASS_THROUGH.format(opts=""))
    tx = packet_socket(tb, a, "eth0")
    rx = packet_socket(tb, b, "eth0")
    sizes = [60, 61, 64, 100, 333, 512, 1000, 1499, 1514]
    sent = [marker_frame(i, sizes[i % len(sizes)]) for i in range(300)]
    for f in sent:
        tx.send(f)
    run_for(router, 0.3)
    got = receive_frames(rx, timeout=1.0, want=len(sent), match=is_marker)
    assert got == sent
    assert int(router.handler("fa.count")) == len(sent)
    assert int(router.handler("ta.count")) == len(sent)
    assert router.handler("ta.drops") == "0"
    assert router.handler("fa.kernel_drops") == "0"


def test_ping_and_arp_across_the_pass_through(bridge):
    tb, a, b, r = bridge
    router = build(tb, r, PASS_THROUGH.format(opts=""))
    ping = tb.popen(a, "ping", "-c", "4", "-i", "0.2", "-W", "2", "10.0.0.2", stdout=-1, text=True)
    run_while(router, lambda: ping.poll() is None, 10)
    out = ping.communicate()[0]
    assert ping.returncode == 0, out
    assert "4 received" in out
    # A's ARP request crossed to B, and B's reply came back
    assert int(router.handler("fb.count")) >= 5


def test_a_tcp_transfer_with_default_offloads_is_segmented_and_intact(bridge):
    tb, a, b, r = bridge
    router = build(tb, r, PASS_THROUGH.format(opts=""))
    got = tcp_transfer(tb, router, a, b, "10.0.0.2", 4 << 20)
    assert got == transfer_payload(4 << 20)
    offload = dict(line.split() for line in router.handler("fa.offload").splitlines())
    assert int(offload["gso_frames"]) > 0, "the veth handed over no GSO frames: nothing was tested"
    assert int(offload["gso_segments"]) > int(offload["gso_frames"])
    assert offload["bad_frames"] == "0"
    assert router.handler("ta.drops") == "0"


def test_gso_frames_are_forwarded_whole_with_offload_true(bridge):
    tb, a, b, r = bridge
    router = build(tb, r, PASS_THROUGH.format(opts=", OFFLOAD true"))
    got = tcp_transfer(tb, router, a, b, "10.0.0.2", 4 << 20)
    assert got == transfer_payload(4 << 20)
    frames, nbytes = int(router.handler("ca.count")), int(router.handler("ca.byte_count"))
    assert nbytes / frames > 1514, "no frame larger than the MTU went through whole"
    assert "gso_segments 0" in router.handler("fa.offload")
    assert router.handler("ta.drops") == "0"


UDP_GSO_SENDER = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1000)         # UDP_SEGMENT: the kernel makes one GSO frame
for i in range(5):
    s.sendto(bytes([i]) * 9500, ("10.0.0.2", 6000))
'''
UDP_RECEIVER = r'''
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.0.2", 6000))
s.settimeout(8)
print("ready", flush=True)
got = []
try:
    while len(got) < 50:
        got.append(s.recv(65536))
except socket.timeout:
    pass
print(repr([(len(d), d[0], len(set(d))) for d in got]), flush=True)
'''


def test_udp_gso_frames_become_datagrams(bridge):
    tb, a, b, r = bridge
    router = build(tb, r, PASS_THROUGH.format(opts=""))
    rcv = tb.popen(b, PYTHON, "-c", UDP_RECEIVER, stdout=-1, text=True)
    assert rcv.stdout.readline().strip() == "ready"
    snd = tb.popen(a, PYTHON, "-c", UDP_GSO_SENDER)
    run_while(router, lambda: rcv.poll() is None, 12)
    snd.wait(timeout=5)
    got = eval(rcv.communicate()[0])
    # each 9500-byte send is 9 datagrams of 1000 bytes and one of 500, all intact
    expected = [(1000 if k < 9 else 500, i, 1) for i in range(5) for k in range(10)]
    assert got == expected
    assert "bad_frames 0" in router.handler("fa.offload")


# ---- checksums and VLAN tags, seen at the router ---------------------------------------
UDP_AND_SYN = r'''
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for n in (1, 100, 1000, 1400):
    u.sendto(b"x" * n, ("10.0.0.2", 7000))
t = socket.socket()
t.setblocking(False)
try:
    t.connect(("10.0.0.2", 7001))
except BlockingIOError:
    pass
import time; time.sleep(0.3)
'''


def test_partial_checksums_are_completed(bridge):
    tb, a, b, r = bridge
    tb.neighbor(a, "eth0", "10.0.0.2", "02:00:00:00:00:02")
    router = build(tb, r, "fa :: FromDevice(a0) -> rec :: TestRecorder;")
    sender = tb.popen(a, PYTHON, "-c", UDP_AND_SYN)
    run_while(router, lambda: sender.poll() is None, 10)
    run_for(router, 0.05)
    rec = router.element("rec")
    checked = 0
    for frame in rec.frames:
        pkt = Ether(frame)
        for layer in (UDP, TCP):
            if layer in pkt:
                given = pkt[layer].chksum
                del pkt[layer].chksum
                assert Ether(bytes(pkt))[layer].chksum == given, pkt.summary()
                checked += 1
    assert checked >= 5
    completed = int(dict(line.split() for line in router.handler("fa.offload").splitlines())["checksums_completed"])
    assert completed >= 5, "the veth sent complete checksums: the completion path was not exercised"


def test_vlan_tags_are_put_back(bridge):
    tb, a, b, r = bridge
    router = build(tb, r, "FromDevice(a0) -> rec :: TestRecorder;")
    tx = packet_socket(tb, a, "eth0")
    frames = [bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(prio=p, vlan=v, type=MARKER_TYPE)
                    / (b"v" * 50)) for p, v in ((0, 5), (3, 100), (7, 4094))]
    for f in frames:
        tx.send(f)
    run_for(router, 0.2)
    assert router.element("rec").frames == frames


def test_vlan_tags_kept_as_annotation(bridge):
    tb, a, b, r = bridge
    router = build(tb, r, "FromDevice(a0, VLAN_ANNO true) -> rec :: TestRecorder;")
    tx = packet_socket(tb, a, "eth0")
    inner = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=MARKER_TYPE) / (b"v" * 50)
    tx.send(bytes(Ether(src=inner.src, dst=inner.dst) / Dot1Q(prio=5, vlan=42, type=MARKER_TYPE) / (b"v" * 50)))
    run_for(router, 0.2)
    rec = router.element("rec")
    assert rec.frames == [bytes(inner)]
    tci = (5 << 13) | 42
    assert rec.annos[0]["device_vlan"] == tci
    assert rec.annos[0]["offload"] & 4           # OFFLOAD_VLAN
    assert rec.annos[0]["user"][20:22] == tci.to_bytes(2, "big")


def test_annotations_of_received_frames(bridge):
    tb, a, b, r = bridge
    router = build(tb, r, "FromDevice(a0, PROMISC true) -> rec :: TestRecorder;")
    tx = packet_socket(tb, a, "eth0")
    r_mac = r.link_mac("a0")
    tx.send(marker_frame(1, 60, dst=r_mac))
    tx.send(marker_frame(2, 60, dst="ff:ff:ff:ff:ff:ff"))
    tx.send(marker_frame(3, 60, dst="01:00:5e:00:00:01"))
    tx.send(marker_frame(4, 60, dst="02:00:00:00:00:99"))
    run_for(router, 0.2)
    annos = router.element("rec").annos
    assert [x["packet_type"] for x in annos] == [0, 1, 2, 3]     # HOST, BROADCAST, MULTICAST, OTHERHOST
    ifindex = r.ifindex("a0")
    assert all(x["ifindex"] == ifindex and x["mac_offset"] == 0 and x["timestamp"] > 0 for x in annos)


# ---- SNIFFER -----------------------------------------------------------------
def _ping(tb, ns, ip: str, router=None, count: int = 2) -> bool:
    ping = tb.popen(ns, "ping", "-c", str(count), "-i", "0.2", "-W", "1", ip, stdout=-1, text=True)
    if router is not None:
        run_while(router, lambda: ping.poll() is None, 10)
    ping.communicate(timeout=15)
    return ping.returncode == 0


def test_sniffer_false_hides_frames_from_the_kernel_until_cleanup(bridge):
    tb, a, b, r = bridge
    tb.up(r, "a0", "10.0.0.254/24")          # R's kernel would answer pings on a0
    sniffing = build(tb, r, "f :: FromDevice(a0) -> c :: Counter -> Discard;")
    assert _ping(tb, a, "10.0.0.254", sniffing)
    assert int(sniffing.handler("c.count")) > 0
    sniffing.cleanup()

    router = build(tb, r, "f :: FromDevice(a0, SNIFFER false) -> c :: Counter -> Discard;")
    assert not _ping(tb, a, "10.0.0.254", router)
    assert int(router.handler("c.count")) >= 2       # clickpy still saw the ARP requests
    router.cleanup()
    assert _ping(tb, a, "10.0.0.254"), "the ingress rule was not removed"


# ---- ToDevice -----------------------------------------------------------------
def _hex(frame: bytes) -> str:
    return frame.hex()


@pytest.mark.parametrize("method", ["RING", "SENDMMSG"])
@pytest.mark.parametrize("chain", ["Queue(2000) -> ", "", "Counter -> "])
def test_todevice_sends_what_it_is_given(bridge, method, chain):
    """Pull from a Queue or straight from an agnostic source, and push."""
    tb, a, b, r = bridge
    frame = marker_frame(7, 98)
    push = chain.startswith("Counter")
    source = f"InfiniteSource(DATA \\<{_hex(frame)}>, LIMIT 1500, BURST 100, STOP {'true' if push else 'false'})"
    config = f"{source} -> {chain}t :: ToDevice(r0, METHOD {method});"
    tb.veth(r, "r0", a, "x0")
    rx = packet_socket(tb, a, "x0")
    router = build(tb, r, config)
    run_for(router, 0.5)
    got = receive_frames(rx, timeout=1.0, want=1500, match=is_marker)
    assert len(got) == 1500 and set(got) == {frame}
    assert router.handler("t.count") == "1500"
    assert router.handler("t.drops") == "0"


def test_todevice_rejects_frames_the_device_cannot_take(bridge):
    tb, a, b, r = bridge
    tb.veth(r, "r0", a, "x0")
    rx = packet_socket(tb, a, "x0")
    short = bytes(10)
    long_ = marker_frame(1, 1515)                    # MTU 1500 + 14 bytes of header, plus one
    ok = marker_frame(2, 1514)
    router = build(tb, r, f"""
        s1 :: InfiniteSource(DATA \\<{_hex(short)}>, LIMIT 3, STOP false) -> q :: Queue;
        s2 :: InfiniteSource(DATA \\<{_hex(long_)}>, LIMIT 4, STOP false) -> q;
        s3 :: InfiniteSource(DATA \\<{_hex(ok)}>, LIMIT 5, STOP false) -> q;
        q -> t :: ToDevice(r0);
        t[0] -> sent :: Counter -> Discard;
        t[1] -> failed :: Counter -> Discard;""")
    run_for(router, 0.3)
    assert router.handler("t.drops") == "7"
    assert router.handler("failed.count") == "7"
    assert router.handler("sent.count") == "5"
    assert receive_frames(rx, timeout=0.5, match=is_marker) == [ok] * 5


def test_devices_going_down_and_away_while_running(bridge):
    tb, a, b, r = bridge
    tb.veth(r, "r0", a, "x0")
    frame = marker_frame(3, 60)
    router = build(tb, r, f"""
        InfiniteSource(DATA \\<{_hex(frame)}>, BURST 32) -> Queue(1000) -> t :: ToDevice(r0);
        f :: FromDevice(b0) -> Discard;""")
    run_for(router, 0.2)
    sent_up = int(router.handler("t.count"))
    assert sent_up > 0
    with r.ipr() as ipr:
        ipr.link("set", index=r.ifindex("r0"), state="down")
    run_for(router, 0.2)
    down_drops = int(router.handler("t.drops"))
    with r.ipr() as ipr:
        ipr.link("set", index=r.ifindex("r0"), state="up")
    run_for(router, 0.2)
    assert int(router.handler("t.count")) > sent_up, "sending did not resume after the device came back"
    assert down_drops > 0 or router.handler("t.errors") != "0"
    # the device FromDevice reads disappears
    with r.ipr() as ipr:
        ipr.link("del", index=r.ifindex("b0"))
    run_for(router, 0.2)
    assert router.handler("f.errors").startswith("1")
    router.cleanup()


def test_kernel_drops_when_the_ring_overflows(bridge):
    tb, a, b, r = bridge
    router = build(tb, r, "f :: FromDevice(a0, BLOCK_SIZE 131072, BLOCK_COUNT 2) -> Discard;")
    tx = packet_socket(tb, a, "eth0")
    sent = 0
    for i in range(6000):                 # far more than two 128 KiB blocks hold, before reading any
        try:
            tx.send(marker_frame(i, 200))
            sent += 1
        except BlockingIOError:
            pass
    run_for(router, 0.3)
    drops = int(router.handler("f.kernel_drops"))
    assert drops > 0
    assert int(router.handler("f.count")) + drops == sent


def test_snaplen_truncates_and_sets_extra_length(bridge):
    tb, a, b, r = bridge
    router = build(tb, r, "FromDevice(a0, false, 100) -> rec :: TestRecorder;")   # DEVNAME, PROMISC, SNAPLEN
    tx = packet_socket(tb, a, "eth0")
    frame = marker_frame(9, 500)
    tx.send(frame)
    run_for(router, 0.2)
    rec = router.element("rec")
    assert rec.frames == [frame[:100]]
    assert int.from_bytes(rec.annos[0]["user"][28:32], sys.byteorder) == 400    # EXTRA_LENGTH_ANNO


def test_an_idle_router_sleeps(bridge):
    """With no traffic, FromDevice and a pulling ToDevice wait in epoll (no polling)."""
    import resource
    tb, a, b, r = bridge
    router = build(tb, r, "FromDevice(a0) -> q :: Queue -> ToDevice(b0); FromDevice(b0) -> ToDevice(a0);")
    run_for(router, 0.2)
    before = resource.getrusage(resource.RUSAGE_SELF)
    run_for(router, 1.0)
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert used < 0.1, f"{used:.3f} s of CPU in 1 s of idling"


def test_an_ingress_rule_for_one_ether_type(bridge):
    """The drop rule limited to IPv4 (the benchmarks' sink): ARP is still answered, IP is not."""
    from clickpy.elements.linux.ingress import IngressDrop
    tb, a, b, r = bridge
    tb.up(r, "a0", "10.0.0.254/24")
    rule = IngressDrop("a0", ether_type=0x0800)
    with tb.inside(r):
        rule.install()
    try:
        assert not _ping(tb, a, "10.0.0.254")
        neigh = tb.run(a, "ip", "neigh", "show", "10.0.0.254").stdout
        assert r.link_mac("a0") in neigh            # R's kernel answered the ARP query
    finally:
        rule.remove()
    assert _ping(tb, a, "10.0.0.254")


# ---- configs/bridge.click on devices ----------------------------------------------
def test_bridge_click_learns_both_hosts_and_carries_tcp(bridge):
    from pathlib import Path
    tb, a, b, r = bridge
    config = Path(__file__).resolve().parents[2] / "configs" / "bridge.click"
    with tb.inside(r):
        router = Router.from_file(str(config), defines={"PORT0": "a0", "PORT1": "b0"})
    ping = tb.popen(a, "ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.2", stdout=-1, text=True)
    run_while(router, lambda: ping.poll() is None, 10)
    assert ping.returncode == 0, ping.communicate()[0]
    macs = {ns: tb.run(ns, "cat", "/sys/class/net/eth0/address").stdout.strip().replace(":", "-")
            for ns in (a, b)}   # Click writes Ethernet addresses with dashes
    table = router.handler("sw.table").lower()
    # the bridge learned each host's address on the port it lives behind
    assert f"{macs[a]} 0" in table and f"{macs[b]} 1" in table, table
    assert tcp_transfer(tb, router, a, b, "10.0.0.2", 1 << 20) == transfer_payload(1 << 20)
