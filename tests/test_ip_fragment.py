"""IPFragmenter and IPReassembler: fragments that scapy reassembles, datagrams rebuilt from scapy's fragments."""
import random

import pytest
from scapy.layers.inet import IP, UDP, TCP, ICMP, IPOption_RR, IPOption_LSRR, fragment, defragment
from scapy.layers.l2 import Ether
from scapy.utils import checksum

from ipharness import Harness


def big_udp(n, **ip):
    rng = random.Random(n)
    return IP(src="10.0.0.1", dst="10.0.1.2", id=4242, **ip) / UDP(sport=9, dport=10) / bytes(
        rng.getrandbits(8) for _ in range(n))


def reassembled_by_scapy(frags):
    whole = defragment([IP(f) for f in frags])
    assert len(whole) == 1, "scapy could not rebuild one datagram"
    return whole[0]


@pytest.mark.parametrize("size, mtu", [(3000, 1500), (1473, 1500), (5000, 576), (100, 68), (65000, 1500)])
def test_fragments_reassemble_to_the_original(size, mtu):
    pkt = big_udp(size)
    raw = bytes(pkt)
    h = Harness(f"IPFragmenter({mtu})", outputs=2, big_pool_size=4)
    out = h.push([raw], network_offset=0)
    frags = [o.data for o in out[0]]
    assert out[1] == []
    if len(raw) <= mtu:
        assert frags == [raw]
        return
    assert all(len(f) <= mtu for f in frags)
    offsets = [IP(f).frag * 8 for f in frags]
    assert offsets == sorted(offsets) and offsets[0] == 0          # in order, first first
    for f, o in zip(frags, out[0]):
        assert checksum(f[:20]) == 0
        assert o.anno["network_offset"] == 0
        assert IP(f).id == 4242
    assert [IP(f).flags.MF for f in frags] == [1] * (len(frags) - 1) + [0]
    whole = reassembled_by_scapy(frags)
    assert bytes(whole) == raw
    assert h.handler("fragments") == str(len(frags))


def test_df_goes_to_output_1_unless_honor_df_is_false():
    raw = bytes(big_udp(2000, flags="DF"))
    h = Harness("IPFragmenter(1500)", outputs=2)
    out = h.push([raw], network_offset=0)
    assert out[0] == [] and [o.data for o in out[1]] == [raw]
    assert h.handler("drops") == "1"
    h = Harness("IPFragmenter(1500, HONOR_DF false)", outputs=2)
    out = h.push([raw], network_offset=0)
    frags = [o.data for o in out[0]]
    assert len(frags) == 2 and not any(IP(f).flags.DF for f in frags)
    assert len({IP(f).id for f in frags}) == 1
    payload = b"".join(bytes(IP(f).payload) for f in frags)
    assert payload == bytes(IP(raw).payload)


def test_only_copied_options_repeat_in_later_fragments():
    pkt = IP(src="10.0.0.1", dst="10.0.1.2", options=[IPOption_RR(routers=["0.0.0.0"]), IPOption_LSRR(routers=["1.1.1.1"])]) \
        / UDP() / (b"q" * 2000)
    raw = bytes(pkt)
    h = Harness("IPFragmenter(1000)")
    frags = [o.data for o in h.push([raw], network_offset=0)[0]]
    assert IP(frags[0]).ihl == IP(raw).ihl
    for f in frags[1:]:
        opts = IP(f).options
        assert [o.option for o in opts if o.option not in (0,)] == [3]     # LSRR only (copied flag set)
        assert checksum(f[:IP(f).ihl * 4]) == 0
    whole = reassembled_by_scapy(frags)
    assert bytes(whole[UDP]) == bytes(pkt[UDP])


def test_mac_header_stays_on_the_first_fragment_and_annotations_copy():
    frame = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / big_udp(2500))
    h = Harness("IPFragmenter(1500)")
    user = bytes(range(48))
    out = h.push([frame], network_offset=14, mac_offset=0, user=user, timestamp=1234)[0]
    assert out[0].data[:14] == frame[:14] and out[0].anno["network_offset"] == 14
    assert out[0].anno["mac_offset"] == 0
    assert out[1].anno["network_offset"] == 0 and out[1].anno["mac_offset"] is None
    assert all(o.user == user and o.anno["timestamp"] == 1234 for o in out)
    whole = reassembled_by_scapy([out[0].data[14:]] + [o.data for o in out[1:]])
    assert bytes(whole) == frame[14:]


def test_fragmenting_a_fragment_keeps_offsets():
    original = bytes(big_udp(6000))
    first_pass = [bytes(f) for f in fragment(IP(original), fragsize=2952)]
    h = Harness("IPFragmenter(1500)")
    frags = [o.data for o in h.push(first_pass, network_offset=0)[0]]
    assert all(len(f) <= 1500 for f in frags)
    assert bytes(reassembled_by_scapy(frags)) == original


def test_unannotated_or_short_mtu_packets_are_dropped_or_rejected():
    h = Harness("IPFragmenter(1500)", outputs=2)
    out = h.push([bytes(big_udp(3000))])                       # no network header
    assert out == [[], []] and h.handler("drops") == "1"
    h = Harness("IPFragmenter(26)", outputs=2)                 # no room for 8 bytes of data
    out = h.push([bytes(big_udp(100))], network_offset=0)
    assert out[0] == [] and len(out[1]) == 1


# ---- IPReassembler --------------------------------------------------------------------

def scapy_fragments(pkt, size, rng=None):
    frags = [bytes(f) for f in fragment(pkt, fragsize=size)]
    if rng:
        rng.shuffle(frags)
    return frags


def test_reassembles_scapy_fragments_in_any_order():
    rng = random.Random(3)
    h = Harness("IPReassembler", outputs=2, big_pool_size=8)
    originals = [big_udp(n) for n in (1000, 3000, 9000, 40000)]
    for i, p in enumerate(originals):
        p.id = 100 + i
    frags = []
    for p in originals:
        frags += scapy_fragments(p, 1480)
    rng.shuffle(frags)
    other = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / UDP() / b"whole")
    out = h.push(frags + [other], network_offset=0)
    assert sorted(o.data for o in out[0]) == sorted([bytes(p) for p in originals] + [other])
    for o in out[0]:
        assert checksum(o.data[:20]) == 0
    assert out[1] == []
    assert h.handler("good_assem") == "3" and h.handler("mem_used") == "0"   # 1000 bytes fit unfragmented


def test_overlapping_and_duplicate_fragments():
    pkt = big_udp(3000)
    raw = bytes(pkt)
    payload = raw[20:]
    hdr = IP(raw)

    def frag(off, data, mf):
        return bytes(IP(src=hdr.src, dst=hdr.dst, id=hdr.id, proto=17, frag=off // 8, flags="MF" if mf else 0) / data)

    h = Harness("IPReassembler", outputs=2)
    pieces = [frag(0, payload[:1600], True), frag(800, payload[800:2400], True),   # overlap
              frag(800, payload[800:2400], True),                                  # duplicate
              frag(2400, payload[2400:], False)]
    out = h.push(pieces, network_offset=0)
    assert [o.data for o in out[0]] == [raw]


def test_reassembled_datagram_keeps_the_first_fragments_header_and_mac():
    pkt = IP(src="10.0.0.1", dst="10.0.1.2", id=9, ttl=33, options=[IPOption_RR(routers=["0.0.0.0"])]) / UDP() / (b"r" * 3000)
    frags = scapy_fragments(pkt, 1200)
    eth = bytes(Ether(src="02:00:00:00:00:09", dst="02:00:00:00:00:0a", type=0x800))
    h = Harness("IPReassembler(MAX_MTU_ANNO 24)", outputs=1)
    xs = [h.packet(eth + f, network_offset=14, timestamp=1000 + i, mac_offset=0) for i, f in enumerate(reversed(frags))]
    out = h.push(xs)[0]
    assert len(out) == 1
    o = out[0]
    assert o.data[:14] == eth and o.anno["network_offset"] == 14
    assert bytes(IP(o.data[14:])) == bytes(pkt)
    assert o.anno["timestamp"] == 1000 + len(frags) - 1              # the last fragment's
    assert int.from_bytes(o.user[24:26], "big") == max(len(f) for f in frags)


def test_incomplete_datagrams_time_out_to_output_1():
    pkt = big_udp(4000)
    frags = scapy_fragments(pkt, 1480)
    h = Harness("IPReassembler", outputs=2)
    out = h.push([frags[0], frags[2]], network_offset=0, timestamp=10 * 10**9)
    assert out == [[], []]
    assert "cached chunk data" in h.handler("dump") and "(0,1480)" in h.handler("dump")
    later = bytes(IP(src="9.9.9.9", dst="8.8.8.8", id=1, flags="MF") / (b"z" * 16))
    out = h.push([later], network_offset=0, timestamp=50 * 10**9)      # 40 s later: reaped
    assert out[0] == [] and len(out[1]) == 1
    partial = IP(out[1][0].data)
    data = bytes(partial.payload)
    assert data[:1480] == bytes(pkt)[20:1500]
    assert data[1480:2960] == bytes(1480)                               # the hole
    assert data[2960:] == bytes(pkt)[2980:2980 + len(data) - 2960]
    assert h.handler("failed_assem") == "1"


def test_memory_bound_gives_up_the_oldest():
    h = Harness("IPReassembler(HIMEM 4000)", outputs=1)
    frags = []
    for i in range(10):
        p = big_udp(2000)
        p.id = i
        frags.append(scapy_fragments(p, 1000)[0])
    h.push(frags, network_offset=0, timestamp=5 * 10**9)
    assert int(h.handler("mem_used")) <= 4000 + 1040       # checked before each fragment is added
    assert int(h.handler("failed_assem")) >= 5


@pytest.mark.parametrize("mutate", ["bad_length", "middle_not_multiple_of_8", "past_the_end"])
def test_malformed_fragments_are_counted(mutate):
    h = Harness("IPReassembler", outputs=1)
    if mutate == "bad_length":
        raw = bytearray(bytes(IP(src="1.1.1.1", dst="2.2.2.2", flags="MF", id=5) / (b"a" * 16)))
        raw[2:4] = (100).to_bytes(2, "big")        # longer than the packet
        frags = [bytes(raw)]
    elif mutate == "middle_not_multiple_of_8":
        frags = [bytes(IP(src="1.1.1.1", dst="2.2.2.2", flags="MF", id=5) / (b"a" * 13))]
    else:
        frags = [bytes(IP(src="1.1.1.1", dst="2.2.2.2", id=5, frag=2) / (b"a" * 8)),          # last ends at 24
                 bytes(IP(src="1.1.1.1", dst="2.2.2.2", flags="MF", id=5, frag=4) / (b"a" * 8))]
    out = h.push(frags, network_offset=0)
    assert out == [[]]
    assert h.handler("bad_pkts") == "1"


def test_fragmenter_then_reassembler_round_trip():
    rng = random.Random(11)
    pkts = [bytes(big_udp(rng.randrange(10, 8000))) for _ in range(40)]
    for i in range(len(pkts)):
        p = IP(pkts[i])
        p.id = i
        del p.chksum
        pkts[i] = bytes(p)
    h = Harness("IPFragmenter(576)", chain="CheckIPHeader -> IPReassembler", outputs=1, big_pool_size=16)
    out = []
    for i in range(0, len(pkts), 4):
        out += h.push(pkts[i:i + 4], network_offset=0)[0]
    assert sorted(o.data for o in out) == sorted(pkts)
