"""FromIPSummaryDump and ToIPSummaryDump: hand-written dumps, scapy-checked packets, round trips."""
import pytest
from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, ARP
from scapy.utils import PcapWriter

import sink  # noqa: F401
from clickpy.lang.graph import ConfigError
from clickpy.router import Router
from sink import anno_u32

T0 = 1_700_000_000


def built(packets):
    """Packets with every field computed (scapy leaves lengths and checksums None until built)."""
    return [Ether(bytes(p)) for p in packets]


def write_pcap(path, packets, times=None):
    w = PcapWriter(str(path), linktype=1, sync=True)
    w._write_header(None)
    for i, p in enumerate(packets):
        sec, usec = times[i] if times else (T0 + i, 250000)
        w.write_packet(bytes(p), sec=sec, usec=usec)
    w.close()


def run(config, timeout=10):
    r = Router.from_string(config)
    r.run(timeout=timeout)
    return r


def checksums_ok(ip: IP) -> bool:
    """scapy recomputes the checksums of a copy with them deleted."""
    fresh = ip.copy()
    del fresh.chksum
    if fresh.payload and hasattr(fresh.payload, "chksum"):
        del fresh.payload.chksum
    rebuilt = IP(bytes(fresh))
    return rebuilt.chksum == ip.chksum and (not hasattr(ip.payload, "chksum")
                                            or rebuilt.payload.chksum == ip.payload.chksum)


HAND_WRITTEN = """!IPSummaryDump 1.3
!creator "a person with an editor"
# comments and blank lines are skipped

!data timestamp ip_src sport ip_dst dport ip_proto ip_len ip_ttl ip_tos tcp_flags tcp_seq tcp_ack payload
1700000000.000001 10.0.0.1 1234 10.0.0.2 80 T 60 64 16 S 1000 0 "GET /"
1700000000.5 10.0.0.2 80 10.0.0.1 1234 T 40 63 0 SA 5000 1001 ""
1700000001.25 192.168.1.1 53 192.168.1.2 33333 U 33 - - - - - "\\001\\002abc"
"""


def test_hand_written_dump_makes_packets_scapy_understands(tmp_path):
    path = tmp_path / "hand.ipsum"
    path.write_text(HAND_WRITTEN)
    r = run(f"FromIPSummaryDump({path}, STOP true, CHECKSUM true) -> s :: PacketSink;")
    got = r.element("s").packets
    assert len(got) == 3
    ips = [IP(d) for d, _ in got]
    a = ips[0]
    assert (a.src, a.dst, a.ttl, a.tos, a.len, a.proto) == ("10.0.0.1", "10.0.0.2", 64, 16, 60, 6)
    assert (a[TCP].sport, a[TCP].dport, a[TCP].flags, a[TCP].seq, a[TCP].ack) == (1234, 80, "S", 1000, 0)
    assert bytes(a[TCP].payload)[:5] == b"GET /"
    assert len(got[0][0]) == 60                          # CHECKSUM: as long as the IP length
    b = ips[1]
    assert (b[TCP].flags, b[TCP].seq, b[TCP].ack, b.ttl) == ("SA", 5000, 1001, 63)
    c = ips[2]
    assert (c.proto, c[UDP].sport, c[UDP].dport, c[UDP].len, c.ttl) == (17, 53, 33333, 13, 100)
    assert bytes(c[UDP].payload)[:5] == b"\x01\x02abc"
    assert all(checksums_ok(ip) for ip in ips)
    # an IP length longer than headers and payload means options, as Click reads it
    path.write_text("!data ip_proto ip_len payload\nT 50 \"ab\"\n")
    r = run(f"FromIPSummaryDump({path}, STOP true, CHECKSUM true) -> s :: PacketSink;")
    tcp = IP(r.element("s").packets[0][0])
    assert (tcp.len, tcp[TCP].dataofs * 4, bytes(tcp[TCP].payload)) == (50, 28, b"ab")
    assert checksums_ok(tcp)
    # annotations: timestamps, network header at the start
    assert [x["timestamp"] for _, x in got] == [T0 * 10**9 + 1000, T0 * 10**9 + 500_000_000,
                                                (T0 + 1) * 10**9 + 250_000_000]
    assert all(x["network_offset"] == 0 for _, x in got)
    assert got[0][1]["transport_offset"] == 20
    assert got[0][1]["user"][0:4] == bytes([10, 0, 0, 2])   # DST_IP annotation


def test_without_checksum_packets_are_short_with_extra_length(tmp_path):
    path = tmp_path / "short.ipsum"
    path.write_text("!data ip_src ip_dst ip_len ip_proto\n1.1.1.1 2.2.2.2 1500 U\n")
    r = run(f"FromIPSummaryDump({path}, STOP true) -> s :: PacketSink;")
    (data, anno), = r.element("s").packets
    ip = IP(data)
    assert ip.len == 1500 and ip.proto == 17 and ip[UDP].len == 1480
    assert len(data) == 28
    assert anno_u32(anno, 28) == 1500 - 28                 # EXTRA_LENGTH


def test_todump_summary_of_scapy_packets(tmp_path):
    pkts = [Ether() / IP(src="1.2.3.4", dst="5.6.7.8", ttl=33, id=777, tos=0x28) /
            TCP(sport=4444, dport=22, flags="PA", seq=123456, ack=654321, window=999) / Raw(b"hello"),
            Ether() / IP(src="9.8.7.6", dst="5.4.3.2", flags="DF") / UDP(sport=53, dport=5353) / Raw(b"q" * 10),
            Ether() / IP(src="1.1.1.1", dst="2.2.2.2", frag=10) / Raw(b"frag"),
            Ether() / IP(src="3.3.3.3", dst="4.4.4.4") / ICMP(type=8, code=0),
            Ether() / ARP()]
    pkts = built(pkts)
    src, out = tmp_path / "in.pcap", tmp_path / "out.ipsum"
    write_pcap(src, pkts)
    fields = ("timestamp ip_src ip_dst ip_proto sport dport ip_len ip_ttl ip_tos ip_id ip_frag ip_fragoff "
              "tcp_flags tcp_seq tcp_ack tcp_window payload_len payload icmp_type udp_len")
    r = run(f"FromDump({src}, STOP true, FORCE_IP true) -> ToIPSummaryDump({out}, FIELDS {fields}, BANNER hi);")
    r.cleanup()
    lines = out.read_text().splitlines()
    assert lines[0] == "!IPSummaryDump 1.3"
    assert lines[1] == '!creator "hi"'
    assert lines[2] == "!data " + fields
    rows = [line.split(" ") for line in lines[3:]]
    assert len(rows) == 4                                  # the ARP frame is not IP
    tcp = pkts[0][IP]
    assert rows[0] == [f"{T0}.250000", "1.2.3.4", "5.6.7.8", "T", "4444", "22", str(tcp.len), "33", "40",
                       "777", ".", "0", "PA", "123456", "654321", "999", "5", '"hello"', "-", "-"]
    udp = pkts[1][IP]
    assert rows[1][3:12] == ["U", "53", "5353", str(udp.len), "64", "0", "1", "!", "0!"]
    assert rows[1][16:18] == ["10", '"qqqqqqqqqq"'] and rows[1][19] == str(udp[UDP].len)
    assert rows[2][3:6] == ["0", "-", "-"] and rows[2][10:12] == ["f", "80"]
    assert rows[3][3] == "I" and rows[3][18] == "8"


def test_text_round_trip_preserves_the_fields(tmp_path):
    pkts = [Ether() / IP(src=f"10.1.{i}.1", dst="10.2.0.1", ttl=10 + i, id=i) /
            (TCP(sport=1000 + i, dport=80, flags="S" if i % 2 else "A", seq=i * 1000) if i % 3
             else UDP(sport=2000 + i, dport=53)) / Raw(bytes(range(i)))
            for i in range(12)]
    pkts = built(pkts)
    src, mid = tmp_path / "in.pcap", tmp_path / "mid.ipsum"
    write_pcap(src, pkts, times=[(T0 + i, i * 1000) for i in range(12)])
    fields = "timestamp ip_src ip_dst ip_ttl ip_id ip_proto sport dport tcp_flags tcp_seq ip_len payload"
    run(f"FromDump({src}, STOP true, FORCE_IP true) -> ToIPSummaryDump({mid}, FIELDS {fields});").cleanup()
    r = run(f"FromIPSummaryDump({mid}, STOP true, CHECKSUM true) -> s :: PacketSink;")
    got = r.element("s").packets
    assert len(got) == 12
    for (data, anno), p in zip(got, pkts):
        want, ip = p[IP], IP(data)
        assert (ip.src, ip.dst, ip.ttl, ip.id, ip.proto, ip.len) == (want.src, want.dst, want.ttl, want.id,
                                                                      want.proto, want.len)
        assert bytes(ip.payload.payload) == bytes(want.payload.payload)
        if TCP in want:
            assert (ip[TCP].sport, ip[TCP].flags, ip[TCP].seq) == (want[TCP].sport, want[TCP].flags, want[TCP].seq)
        else:
            assert (ip[UDP].sport, ip[UDP].dport) == (want[UDP].sport, want[UDP].dport)
        assert checksums_ok(ip)
    assert [a["timestamp"] for _, a in got] == [(T0 + i) * 10**9 + i * 10**6 for i in range(12)]


def test_binary_round_trip(tmp_path):
    pkts = [Ether() / IP(src="7.7.7.7", dst=f"8.8.8.{i}", ttl=i + 1) / TCP(sport=i, dport=443, flags="FA", seq=99)
            for i in range(20)]
    src, mid = tmp_path / "in.pcap", tmp_path / "mid.ipsumb"
    write_pcap(src, pkts)
    fields = "timestamp ip_src ip_dst ip_ttl ip_proto sport dport tcp_flags tcp_seq ip_len"
    run(f"FromDump({src}, STOP true, FORCE_IP true) -> ToIPSummaryDump({mid}, FIELDS {fields}, BINARY true);").cleanup()
    raw = mid.read_bytes()
    assert b"\n!binary\n" in raw
    r = run(f"FromIPSummaryDump({mid}, STOP true, CHECKSUM true) -> s :: PacketSink;")
    got = r.element("s").packets
    assert len(got) == 20
    for (data, anno), p in zip(got, pkts):
        ip = IP(data)
        assert (ip.dst, ip.ttl, ip[TCP].sport, ip[TCP].flags, ip[TCP].seq) == (p[IP].dst, p[IP].ttl, p[TCP].sport,
                                                                                "FA", 99)
        assert checksums_ok(ip)
    assert got[3][1]["timestamp"] == (T0 + 3) * 10**9 + 250_000_000
    with pytest.raises(ConfigError, match="cannot be written in binary"):
        Router.from_string(f"InfiniteSource -> ToIPSummaryDump({mid}, FIELDS payload, BINARY true);")


def test_truncated_binary_dump_ends_with_a_warning(tmp_path):
    pkts = [Ether() / IP(dst="1.1.1.1") / UDP() for _ in range(5)]
    src, mid = tmp_path / "in.pcap", tmp_path / "mid.ipsumb"
    write_pcap(src, pkts)
    run(f"FromDump({src}, STOP true, FORCE_IP true) -> ToIPSummaryDump({mid}, FIELDS ip_dst sport, BINARY true);").cleanup()
    mid.write_bytes(mid.read_bytes()[:-3])
    r = run(f"FromIPSummaryDump({mid}, STOP true) -> s :: PacketSink;")
    assert len(r.element("s").packets) == 4
    assert any("truncated binary record" in w.message for w in r.warnings)


def test_flowid_proto_and_bad_lines(tmp_path):
    path = tmp_path / "f.ipsum"
    path.write_text("!data ip_len tcp_flags\n!flowid 1.1.1.1 10 2.2.2.2 20 T\n40 S\nnot-a-number Q\n"
                    "!proto U\n!flowid 3.3.3.3 30 4.4.4.4 40\n28 -\n")
    r = run(f"FromIPSummaryDump({path}, STOP true, CHECKSUM true) -> s :: PacketSink;")
    got = [IP(d) for d, _ in r.element("s").packets]
    assert len(got) == 2
    assert (got[0].src, got[0][TCP].sport, got[0].dst, got[0][TCP].dport, got[0][TCP].flags) == \
        ("1.1.1.1", 10, "2.2.2.2", 20, "S")
    assert (got[1].src, got[1].proto, got[1][UDP].sport, got[1][UDP].dport) == ("3.3.3.3", 17, 30, 40)
    assert sum("packet parse error" in w.message for w in r.warnings) == 1
    assert all(checksums_ok(ip) for ip in got)


def test_multipacket_and_data_keyword():
    dump = "!data ip_src ip_dst count ip_len timestamp first_timestamp\\n1.1.1.1 2.2.2.2 3 300 10.3 10.1\\n"
    r = run(f'FromIPSummaryDump(DATA "{dump}", STOP true, MULTIPACKET true) -> s :: PacketSink;')
    got = r.element("s").packets
    assert len(got) == 3
    assert [IP(d).len for d, _ in got] == [100, 100, 100]
    assert [a["timestamp"] for _, a in got] == [10_100_000_000, 10_200_000_000, 10_300_000_000]
    r = run(f'FromIPSummaryDump(DATA "{dump}", STOP true) -> s :: PacketSink;')
    (d, a), = r.element("s").packets
    assert int.from_bytes(a["user"][26:28], "little") == 2      # EXTRA_PACKETS annotation


def test_contents_keyword_default_fields_and_unknown_field(tmp_path):
    path = tmp_path / "c.ipsum"
    path.write_text("5.5.5.5 6.6.6.6\n")
    r = run(f"FromIPSummaryDump({path}, CONTENTS src dst, STOP true) -> s :: PacketSink;")
    (d, _), = r.element("s").packets
    assert (IP(d).src, IP(d).dst) == ("5.5.5.5", "6.6.6.6")
    with pytest.raises(ConfigError, match="unknown field"):
        Router.from_string(f"InfiniteSource -> ToIPSummaryDump({path}, FIELDS ip_src bogus);")
    path.write_text("!data ip_src wat ip_dst\n5.5.5.5 x 6.6.6.6\n")
    r = run(f"FromIPSummaryDump({path}, STOP true) -> s :: PacketSink;")
    assert any("unknown content type 'wat'" in w.message for w in r.warnings)
    assert IP(r.element("s").packets[0][0]).dst == "6.6.6.6"


def test_bad_packets_lines(tmp_path):
    pkts = [Ether() / IP(dst="1.1.1.1") / TCP(), Ether() / IP(dst="1.1.1.1", len=500) / UDP()]
    src, out = tmp_path / "in.pcap", tmp_path / "o.ipsum"
    write_pcap(src, pkts)
    run(f"FromDump({src}, STOP true, FORCE_IP true) -> ToIPSummaryDump({out}, FIELDS ip_dst sport, "
        "BAD_PACKETS true);").cleanup()
    lines = out.read_text().splitlines()[2:]
    assert lines[0] == "1.1.1.1 20"
    assert lines[1].startswith("!bad truncated IP missing")
    assert lines[2] == "1.1.1.1 53"


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="No such file"):
        Router.from_string(f"FromIPSummaryDump({tmp_path}/none) -> Discard;")
    r = run(f"FromIPSummaryDump({tmp_path}/none, ALLOW_NONEXISTENT true, STOP true) -> c :: Counter -> Discard;")
    assert r.handler("c.count") == "0"
