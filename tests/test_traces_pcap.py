"""FromDump and ToDump: pcap files written and read by scapy (and tcpdump)."""
import gzip
import os
import shutil
import struct
import subprocess
import time

import pytest
from scapy.all import ARP, IP, TCP, UDP, Ether, IPv6, Raw, Dot1Q
from scapy.utils import PcapWriter, RawPcapReader, rdpcap

import sink  # noqa: F401  (registers PacketSink)
from clickpy.lang.graph import ConfigError
from clickpy.router import Router
from sink import anno_u32

EXTRA_LENGTH = 28
T0 = 1_700_000_000


def frames(n=20):
    return [Ether(src="00:11:22:33:44:55", dst="66:77:88:99:aa:bb") /
            IP(src="10.0.0.1", dst=f"10.0.{i // 256}.{i % 256}") / UDP(sport=1000 + i, dport=53) / Raw(b"x" * (i % 200))
            for i in range(n)]


def write_pcap(path, packets, *, nano=False, endianness="", linktype=1, times=None, caplens=None):
    w = PcapWriter(str(path), linktype=linktype, nano=nano, endianness=endianness, sync=True)
    w._write_header(None)
    for i, p in enumerate(packets):
        data = bytes(p)
        sec, sub = times[i] if times else (T0 + i, i)
        cap = caplens[i] if caplens else len(data)
        w.write_packet(data[:cap], sec=sec, usec=sub, caplen=cap, wirelen=len(data))
    w.close()


def run(config, timeout=10, **kw):
    r = Router.from_string(config, **kw)
    r.run(timeout=timeout)
    return r


@pytest.mark.parametrize("mmap", ["false", "true"])
@pytest.mark.parametrize("nano", [False, True])
@pytest.mark.parametrize("endianness", ["<", ">"])
def test_fromdump_reads_scapy_files_in_both_formats_and_byte_orders(tmp_path, nano, endianness, mmap):
    pkts = frames(30)
    path = tmp_path / "in.pcap"
    write_pcap(path, pkts, nano=nano, endianness=endianness)
    r = run(f"FromDump({path}, STOP true, MMAP {mmap}) -> s :: PacketSink;")
    got = r.element("s").packets
    assert [d for d, _ in got] == [bytes(p) for p in pkts]
    unit = 1 if nano else 1000
    assert [a["timestamp"] for _, a in got] == [(T0 + i) * 10**9 + i * unit for i in range(30)]
    assert all(a["mac_offset"] == 0 and a["network_offset"] is None for _, a in got)
    assert r.handler("FromDump@1.count") == "30"
    assert r.handler("FromDump@1.encap") == "ETHER"


def test_snaplen_capture_sets_extra_length(tmp_path):
    pkts = [Ether() / IP() / UDP() / Raw(b"y" * 300) for _ in range(4)]
    path = tmp_path / "snap.pcap"
    write_pcap(path, pkts, caplens=[60, 100, 342, 20])
    r = run(f"FromDump({path}, STOP true) -> s :: PacketSink;")
    got = r.element("s").packets
    assert [len(d) for d, _ in got] == [60, 100, 342, 20]
    assert [anno_u32(a, EXTRA_LENGTH) for _, a in got] == [282, 242, 0, 322]
    assert [d for d, _ in got] == [bytes(p)[:n] for p, n in zip(pkts, [60, 100, 342, 20])]


@pytest.mark.parametrize("nano", [False, True])
def test_todump_output_is_read_by_scapy(tmp_path, nano):
    pkts = frames(25)
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write_pcap(src, pkts, nano=True, times=[(T0 + i, 123456789 + i) for i in range(25)])
    r = run(f"FromDump({src}, STOP true) -> ToDump({out}, SNAPLEN 0, NANO {str(nano).lower()});")
    r.cleanup()
    reader = RawPcapReader(str(out))
    assert reader.linktype == 1
    got = list(reader)
    assert [d for d, _ in got] == [bytes(p) for p in pkts]
    for i, (_, meta) in enumerate(got):
        assert meta.sec == T0 + i
        assert meta.usec == (123456789 + i if nano else (123456789 + i) // 1000)
        assert meta.wirelen == len(bytes(pkts[i]))
    # scapy decodes the frames back to the same layers
    decoded = rdpcap(str(out))
    assert decoded[3][UDP].sport == 1003 and decoded[3][IP].dst == "10.0.0.3"


def test_todump_snaplen_and_extra_length(tmp_path):
    pkts = [Ether() / IP() / TCP() / Raw(b"z" * 200) for _ in range(3)]
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write_pcap(src, pkts, caplens=[254, 100, 254])
    r = run(f"FromDump({src}, STOP true) -> ToDump({out}, SNAPLEN 80);")
    r.cleanup()
    got = list(RawPcapReader(str(out)))
    assert [len(d) for d, _ in got] == [80, 80, 80]
    # the wire length keeps the bytes the first capture left out
    assert [m.wirelen for _, m in got] == [254, 254, 254]
    assert got[1][0] == bytes(pkts[1])[:80]
    with open(out, "rb") as f:
        magic, major, minor, _, _, snaplen, linktype = struct.unpack("=IHHiIII", f.read(24))
    assert (magic, major, minor, snaplen, linktype) == (0xA1B2C3D4, 2, 4, 80, 1)


def test_todump_output_is_read_by_tcpdump(tmp_path):
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed")
    out = tmp_path / "out.pcap"
    pkts = frames(5)
    src = tmp_path / "in.pcap"
    write_pcap(src, pkts)
    run(f"FromDump({src}, STOP true) -> ToDump({out});").cleanup()
    text = subprocess.run(["tcpdump", "-nn", "-r", str(out)], capture_output=True, text=True, check=True).stdout
    lines = text.strip().splitlines()
    assert len(lines) == 5
    assert "10.0.0.1.1002 > 10.0.0.2.53" in lines[2]


def test_raw_ip_files_set_the_network_header(tmp_path):
    ips = [IP(src="1.2.3.4", dst="5.6.7.8", ihl=6, options=b"\x01\x01\x01\x00") / TCP(sport=80) / Raw(b"a"),
           IP(src="1.2.3.4", dst="9.9.9.9") / UDP(),
           IPv6(dst="::1") / UDP(),
           Raw(b"\x45\x00\x00"),                 # IPv4 header cut short: not IP
           Raw(b"\x00" * 30)]                    # no IP at all
    path = tmp_path / "raw.pcap"
    write_pcap(path, ips, linktype=101)
    r = run(f"fd :: FromDump({path}, STOP true) -> s :: PacketSink; fd[1] -> bad :: PacketSink;")
    got = r.element("s").packets
    assert len(got) == 3
    a0, a1, a2 = (a for _, a in got)
    assert (a0["network_offset"], a0["transport_offset"]) == (0, 24)
    assert a0["user"][0:4] == bytes([5, 6, 7, 8])       # DST_IP annotation
    assert (a1["network_offset"], a1["transport_offset"]) == (0, 20)
    assert a1["user"][0:4] == bytes([9, 9, 9, 9])
    assert (a2["network_offset"], a2["transport_offset"]) == (0, 40)
    assert [d for d, _ in r.element("bad").packets] == [bytes(ips[3]), bytes(ips[4])]
    assert r.handler("fd.encap") == "IP"


def test_force_ip_on_ethernet_sends_non_ip_to_output_1_or_drops(tmp_path):
    pkts = [Ether() / IP(dst="1.1.1.1") / UDP(), Ether() / ARP(), Ether() / Dot1Q(vlan=5) / IP(dst="2.2.2.2") / TCP(),
            Ether() / IPv6() / UDP()]
    path = tmp_path / "e.pcap"
    write_pcap(path, pkts)
    r = run(f"fd :: FromDump({path}, STOP true, FORCE_IP true) -> s :: PacketSink; fd[1] -> n :: PacketSink;")
    ip = r.element("s").packets
    assert [a["network_offset"] for _, a in ip] == [14, 18, 14]
    assert [a["mac_offset"] for _, a in ip] == [0, 0, 0]
    assert ip[1][1]["user"][0:4] == bytes([2, 2, 2, 2])
    assert [d for d, _ in r.element("n").packets] == [bytes(pkts[1])]
    r2 = run(f"fd :: FromDump({path}, STOP true, FORCE_IP true) -> s :: PacketSink;")
    assert len(r2.element("s").packets) == 3
    assert r2.handler("fd.drops") == "1"


@pytest.mark.parametrize("mmap", ["false", "true"])
def test_truncated_file_ends_at_the_last_whole_packet(tmp_path, mmap):
    pkts = frames(10)
    path = tmp_path / "t.pcap"
    write_pcap(path, pkts)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size - 5)                 # cut into the last packet's data
    r = run(f"FromDump({path}, STOP true, MMAP {mmap}) -> s :: PacketSink;")
    assert [d for d, _ in r.element("s").packets] == [bytes(p) for p in pkts[:9]]
    assert any("truncated packet record" in w.message for w in r.warnings)
    # cut inside a record header
    with open(path, "r+b") as f:
        f.truncate(24 + 16 + len(bytes(pkts[0])) + 7)
    r = run(f"FromDump({path}, STOP true, MMAP {mmap}) -> s :: PacketSink;")
    assert len(r.element("s").packets) == 1
    assert any("truncated" in w.message for w in r.warnings)


def write_records(path, records, *, endianness="<", minor=4):
    """A microsecond pcap of (data, capture length field, wire length field) records,
    written field by field (scapy's writer will not write odd ones)."""
    with open(path, "wb") as f:
        f.write(struct.pack(endianness + "IHHiIII", 0xA1B2C3D4, 2, minor, 0, 0, 65535, 1))
        for i, (data, caplen, wirelen) in enumerate(records):
            f.write(struct.pack(endianness + "IIII", T0 + i, i % 1000000, caplen, wirelen) + data)


@pytest.mark.parametrize("mmap", ["false", "true"])
@pytest.mark.parametrize("endianness", ["<", ">"])
def test_odd_records_among_plain_ones_across_read_blocks(tmp_path, mmap, endianness):
    """Most records are plain (FromDump's fast loop); every few is one it leaves
    to the general loop: cut by the snap length, a capture length one too long
    (tcptrace's, forgiven as in Click and tcpdump), a jumbo frame larger than a
    small buffer. The file spans many 256 KiB read blocks."""
    distinct = [bytes(Ether() / IP(dst=f"10.1.0.{i}") / UDP(dport=i) / Raw(bytes([i]) * i)) for i in range(250)]
    expected, records = [], []
    for i in range(12000):
        frame = distinct[i * 7 % 250]
        if i % 97 == 5:                       # cut at 40 bytes by the snap length
            records.append((frame[:40], 40, len(frame)))
            expected.append((frame[:40], len(frame) - 40))
        elif i % 89 == 7:                     # capture length one too long
            records.append((frame + b"\0", len(frame) + 1, len(frame)))
            expected.append((frame, 0))
        elif i % 211 == 11:                   # a jumbo frame
            jumbo = frame + bytes(9000 - len(frame))
            records.append((jumbo, len(jumbo), len(jumbo)))
            expected.append((jumbo, 0))
        else:
            records.append((frame, len(frame), len(frame)))
            expected.append((frame, 0))
    path = tmp_path / "mixed.pcap"
    write_records(path, records, endianness=endianness)
    assert os.path.getsize(path) > 6 * (256 << 10)
    r = run(f"FromDump({path}, STOP true, MMAP {mmap}) -> s :: PacketSink;", timeout=60)
    got = r.element("s").packets
    assert len(got) == len(expected)
    assert [d for d, _ in got] == [d for d, _ in expected]
    assert [anno_u32(a, EXTRA_LENGTH) for _, a in got] == [x for _, x in expected]
    assert [a["timestamp"] for _, a in got] == [(T0 + i) * 10**9 + i * 1000 for i in range(len(got))]
    assert r.handler("FromDump@1.count") == str(len(expected))
    assert int(r.handler("FromDump@1.packet_filepos")) == os.path.getsize(path) - 16 - len(records[-1][0])
    assert not r.warnings


def test_old_pcap_versions_swap_the_length_fields(tmp_path):
    """pcap 2.2 (and older) files store the wire length before the capture length."""
    pkts = [bytes(p) for p in frames(6)]
    path = tmp_path / "old.pcap"
    write_records(path, [(d[:30], len(d), 30) if i == 2 else (d, len(d), len(d)) for i, d in enumerate(pkts)],
                  minor=2)
    r = run(f"FromDump({path}, STOP true) -> s :: PacketSink;")
    got = r.element("s").packets
    assert [d for d, _ in got] == [d[:30] if i == 2 else d for i, d in enumerate(pkts)]
    assert [anno_u32(a, EXTRA_LENGTH) for _, a in got] == [len(pkts[2]) - 30 if i == 2 else 0 for i in range(6)]


def test_corrupt_record_header_stops_with_a_warning(tmp_path):
    pkts = frames(5)
    path = tmp_path / "c.pcap"
    write_pcap(path, pkts)
    data = bytearray(path.read_bytes())
    off = 24 + 16 + len(bytes(pkts[0])) + 16 + len(bytes(pkts[1]))
    struct.pack_into("<I", data, off + 8, 0x7FFFFFFF)     # third record's capture length
    path.write_bytes(bytes(data))
    r = run(f"FromDump({path}, STOP true) -> s :: PacketSink;")
    assert len(r.element("s").packets) == 2
    assert any("bad packet header" in w.message for w in r.warnings)


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"\xd4\xc3\xb2\xa1\x02\x00", "too short"),
    (b"GIF89a" + bytes(40), "bad magic number"),
    (b"\x0a\x0d\x0d\x0a" + bytes(40), "pcapng"),
    (struct.pack("<IHHiIII", 0xA1B2C3D4, 3, 0, 0, 0, 65535, 1), "major version 3"),
])
def test_files_that_are_not_pcap_are_config_errors(tmp_path, content, message):
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        Router.from_string(f"FromDump({path}) -> Discard;")


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="No such file"):
        Router.from_string(f"FromDump({tmp_path}/nope.pcap) -> Discard;")
    with pytest.raises(ConfigError, match="No such file"):
        Router.from_string(f"InfiniteSource -> ToDump({tmp_path}/no/such/dir.pcap);")


def test_random_bytes_after_a_valid_header_never_crash(tmp_path):
    import random
    rnd = random.Random(7)
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i in range(30):
        path = tmp_path / f"r{i}.pcap"
        path.write_bytes(header + bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 3000))))
        r = run(f"FromDump({path}, STOP true, MMAP {'true' if i % 2 else 'false'}) -> s :: PacketSink;")
        for d, a in r.element("s").packets:
            assert len(d) <= 65535
        r.cleanup()


def test_handlers_count_filesize_filepos_active(tmp_path):
    pkts = frames(10)
    path = tmp_path / "h.pcap"
    write_pcap(path, pkts)
    r = Router.from_string(f"fd :: FromDump({path}, ACTIVE false) -> s :: PacketSink;")
    assert r.handler("fd.filesize") == str(os.path.getsize(path))
    assert r.handler("fd.filepos") == "24"
    assert r.handler("fd.active") == "false"
    r.run(timeout=0.2)
    assert r.handler("fd.count") == "0"
    r.write("fd.active", "true")
    r.run(timeout=0.3)
    assert r.handler("fd.count") == "10"
    assert r.handler("fd.filepos") == str(os.path.getsize(path))
    last = 24 + sum(16 + len(bytes(p)) for p in pkts[:9])
    assert r.handler("fd.packet_filepos") == str(last)
    # seek back to the 9th packet and read it again
    r.write("fd.filepos", str(last))
    r.run(timeout=0.3)
    assert r.handler("fd.count") == "11"
    assert r.element("s").packets[-1][0] == bytes(pkts[9])
    r.write("fd.reset_counts")
    assert r.handler("fd.count") == "0"
    assert r.handler("fd.sampling_prob") == "1"


def test_stop_and_end_call(tmp_path):
    path = tmp_path / "s.pcap"
    write_pcap(path, frames(7))
    r = Router.from_string(f"FromDump({path}, STOP true) -> c :: Counter -> Discard;")
    start = time.monotonic()
    r.run(timeout=30)
    assert time.monotonic() - start < 10              # STOP ended the run, not the timeout
    assert r.handler("c.count") == "7"
    r = run(f"FromDump({path}, END_CALL c.reset_counts) -> c :: Counter -> Discard;", timeout=0.3)
    assert r.handler("c.count") == "0"
    with pytest.raises(ConfigError, match="mutually exclusive"):
        Router.from_string(f"FromDump({path}, STOP true, END_CALL c.reset) -> c :: Counter -> Discard;")
    with pytest.raises(ConfigError, match="no element named 'nope'"):
        Router.from_string(f"FromDump({path}, END_CALL nope.reset) -> Discard;")


def test_start_end_and_interval_select_by_timestamp(tmp_path):
    path = tmp_path / "t.pcap"
    write_pcap(path, frames(10), times=[(T0 + i, 0) for i in range(10)])
    def seconds(config):
        r = run(f"FromDump({path}, {config}) -> s :: PacketSink;", timeout=0.5)
        return [a["timestamp"] // 10**9 - T0 for _, a in r.element("s").packets]
    assert seconds("START_AFTER 2.5") == [3, 4, 5, 6, 7, 8, 9]
    assert seconds(f"START {T0 + 4}") == [4, 5, 6, 7, 8, 9]
    assert seconds("END_AFTER 3") == [0, 1, 2]
    assert seconds(f"END {T0 + 5}.5") == [0, 1, 2, 3, 4, 5]
    assert seconds("START_AFTER 2, INTERVAL 3") == [2, 3, 4]
    with pytest.raises(ConfigError, match="mutually exclusive"):
        Router.from_string(f"FromDump({path}, END 5, INTERVAL 3) -> Discard;")


def test_end_with_stop_stops_the_driver(tmp_path):
    path = tmp_path / "t.pcap"
    write_pcap(path, frames(10), times=[(T0 + i, 0) for i in range(10)])
    r = Router.from_string(f"fd :: FromDump({path}, END_AFTER 4, STOP true) -> c :: Counter -> Discard;")
    r.run(timeout=30)
    assert r.handler("c.count") == "4"
    assert r.handler("fd.active") == "false"


def test_sample_keeps_about_the_asked_fraction(tmp_path):
    path = tmp_path / "s.pcap"
    write_pcap(path, [Ether() / IP() for _ in range(4000)])
    r = run(f"fd :: FromDump({path}, STOP true, SAMPLE 0.25) -> c :: Counter -> Discard;")
    n = int(r.handler("c.count"))
    assert 800 < n < 1200                      # binomial(4000, 0.25): mean 1000, sd 27
    assert r.handler("fd.sampling_prob") == "0.25"


def test_timing_replays_at_the_recorded_pace(tmp_path):
    path = tmp_path / "t.pcap"
    write_pcap(path, frames(3), times=[(T0, 0), (T0, 600000), (T0 + 1, 200000)])
    r = Router.from_string(f"FromDump({path}, TIMING true, STOP true) -> s :: PacketSink;")
    r.run(timeout=0.3)
    assert len(r.element("s").packets) == 1     # the first at once, the next 0.6 s later
    r.run(timeout=10)
    assert len(r.element("s").packets) == 3
    assert r.driver.run_seconds >= 0.8          # the third is due 1.2 s after the first


def test_mmap_reads_across_windows_and_seeks(tmp_path):
    # 9 MiB of 1500-byte frames: more than one 8 MiB window
    pkts = [bytes(Ether() / IP(id=i % 65536) / Raw(bytes(1458))) for i in range(6300)]
    path = tmp_path / "big.pcap"
    write_pcap(path, pkts)
    assert os.path.getsize(path) > 9 * 2**20
    r = run(f"fd :: FromDump({path}, STOP true, MMAP true) -> s :: PacketSink;", timeout=60)
    got = [d for d, _ in r.element("s").packets]
    assert len(got) == len(pkts) and got == pkts
    r.write("fd.filepos", str(24 + 3 * (16 + len(pkts[0]))))
    r.write("fd.active", "true")               # STOP deactivated it
    r.run(timeout=60)
    assert r.element("s").packets[len(pkts)][0] == pkts[3]


def test_pull_output_and_notifier(tmp_path):
    path = tmp_path / "p.pcap"
    pkts = frames(600)
    write_pcap(path, pkts)
    r = run(f"FromDump({path}, STOP true) -> Unqueue(BURST 100) -> s :: PacketSink;")
    assert [d for d, _ in r.element("s").packets] == [bytes(p) for p in pkts]


def test_compressed_input_and_output(tmp_path):
    pkts = frames(12)
    plain = tmp_path / "in.pcap"
    write_pcap(plain, pkts)
    gz = tmp_path / "in.pcap.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    out = tmp_path / "out.pcap.gz"
    r = run(f"fd :: FromDump({gz}, STOP true) -> ToDump({out}, SNAPLEN 0);")
    assert r.handler("fd.filesize") == "-"
    r.cleanup()
    assert [d for d, _ in RawPcapReader(gzip.open(out))] == [bytes(p) for p in pkts]


def test_todump_flushes_when_the_driver_stops(tmp_path):
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write_pcap(src, frames(50))
    r = run(f"FromDump({src}, STOP true) -> ToDump({out});")
    # no cleanup yet: the stop must have flushed the records
    assert len(list(RawPcapReader(str(out)))) == 50
    r.cleanup()


def test_todump_to_dev_null_and_a_fifo(tmp_path):
    """Files that cannot be truncated (a character device, a FIFO) take the
    records as they are, without a write error."""
    src, fifo = tmp_path / "in.pcap", tmp_path / "fifo"
    write_pcap(src, frames(50))
    r = run(f"FromDump({src}, STOP true) -> t :: ToDump(/dev/null);")
    r.cleanup()
    assert (r.handler("t.count"), r.warnings) == ("50", [])
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    r = run(f"FromDump({src}, STOP true) -> t :: ToDump({fifo});")
    r.cleanup()
    out = reader.communicate(timeout=30)[0]
    assert (r.handler("t.count"), r.warnings) == ("50", [])
    (tmp_path / "copy.pcap").write_bytes(out)
    assert [bytes(p) for p in rdpcap(str(tmp_path / "copy.pcap"))] == [bytes(f) for f in frames(50)]


def test_todump_pull_input_without_output_runs_a_task(tmp_path):
    out = tmp_path / "out.pcap"
    r = run(f"InfiniteSource(LENGTH 60, LIMIT 1000, BURST 64, STOP true) -> Queue(2000) -> t :: ToDump({out});",
            timeout=1)
    r.cleanup()
    assert r.handler("t.count") == "1000"
    assert len(list(RawPcapReader(str(out)))) == 1000


def test_todump_passes_packets_to_its_output(tmp_path):
    out = tmp_path / "out.pcap"
    r = run(f"InfiniteSource(LENGTH 60, LIMIT 10, STOP true) -> ToDump({out}) -> c :: Counter -> Discard;")
    assert r.handler("c.count") == "10"


def test_todump_encap_ip_and_use_encap_from(tmp_path):
    raw = tmp_path / "raw.pcap"
    write_pcap(raw, [IP(dst="1.2.3.4") / UDP()], linktype=101)
    out1, out2 = tmp_path / "o1.pcap", tmp_path / "o2.pcap"
    run(f"FromDump({raw}, STOP true) -> ToDump({out1}, ENCAP IP);").cleanup()
    run(f"fd :: FromDump({raw}, STOP true) -> ToDump({out2}, USE_ENCAP_FROM fd);").cleanup()
    for out in (out1, out2):
        p = rdpcap(str(out))
        assert p[0][IP].dst == "1.2.3.4"
        assert RawPcapReader(str(out)).linktype == 101
    with pytest.raises(ConfigError, match="bad encapsulation type"):
        Router.from_string(f"InfiniteSource -> ToDump({out1}, ENCAP WHATEVER);")
    with pytest.raises(ConfigError, match="at most one"):
        Router.from_string(f"fd :: FromDump({raw}) -> ToDump({out1}, ENCAP IP, USE_ENCAP_FROM fd);")


def test_todump_timestamps_unset_packets_with_now(tmp_path):
    out = tmp_path / "o.pcap"
    before = int(time.time())
    run(f"InfiniteSource(LENGTH 60, LIMIT 3, TIMESTAMP false, STOP true) -> ToDump({out});").cleanup()
    secs = [m.sec for _, m in RawPcapReader(str(out))]
    assert all(before <= s <= time.time() + 1 for s in secs)


def test_todump_write_error_is_reported_once_not_fatal(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    r = run("InfiniteSource(LENGTH 60, LIMIT 50000, BURST 256, STOP true) -> t :: ToDump(/dev/full) "
            "-> c :: Counter -> Discard;", timeout=10)
    assert r.handler("c.count") == "50000"      # packets still flow on
    assert r.handler("t.active") == "false"
    assert sum("no more packets will be written" in w.message for w in r.warnings) == 1


def hot_swap(old, text):
    """What clickpy.hotswap does: the new router shares the old one's pool, its
    elements take the state of their same-named predecessors, the old one goes."""
    new = Router.from_string(text, pool=old.pool, hotswap_router=old)
    for elem in new.elements:
        prev = old.element(elem.name)
        if prev is not None and type(prev) is type(elem):
            elem.take_state(prev)
    new.hotswap_router = None
    old.cleanup()
    return new


def test_hot_swap_keeps_reading_and_writing_the_same_files(tmp_path):
    pkts = frames(8)
    src, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write_pcap(src, pkts, times=[(T0, i * 100000) for i in range(8)])     # 0.1 s apart
    config = f"fd :: FromDump({src}, TIMING true, STOP true) -> c :: Counter -> td :: ToDump({out});"
    old = Router.from_string(config)
    old.run(timeout=0.25)
    done_before = int(old.handler("c.count"))
    assert 1 <= done_before < 8
    new = hot_swap(old, config.replace("Counter", "Counter(COUNT_CALL 1000 c.reset)"))
    new.run(timeout=10)
    new.cleanup()
    assert [d for d, _ in RawPcapReader(str(out))] == [bytes(p) for p in pkts]   # each once, in order
    assert new.handler("td.count") == "8"
