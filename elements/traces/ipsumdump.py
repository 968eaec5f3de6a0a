"""Click's IP summary dump format: field names, text and binary encodings.

A dump is text: `!`-lines describe it (`!IPSummaryDump 1.3`, `!creator`,
`!data FIELD...` / `!contents`, `!proto`, `!flowid`, `!aggregate`,
`!binary`), `#` lines are comments, and every other line is one packet with
one word per field (`-` when a field does not apply). After `!binary` the
rest of the file is binary records: a 4-byte big-endian length (including
itself; the top bit marks a text metadata record) and the fields packed in
network byte order.

This module is the cold half of FromIPSummaryDump and ToIPSummaryDump:
`summarize` turns a packet into a line or a record, `PacketMaker` turns a
line or a record into packet bytes and annotations. It works on plain bytes,
so it is tested on its own.

Supported fields (and Click's synonyms: a name without `_` means `ip_NAME`,
spaces stand for underscores): timestamp, utimestamp, ntimestamp, ts_sec,
ts_usec, ts_usec1, first_timestamp, count, link, paint, direction, aggregate,
wire_len, ip_src, ip_dst, ip_tos, ip_dscp, ip_ecn, ip_ttl, ip_frag,
ip_fragoff, ip_id, ip_sum, ip_proto, ip_hl, ip_len, ip_capture_len, sport,
dport, tcp_seq, tcp_ack, tcp_off, tcp_flags, tcp_window, tcp_urp, udp_len,
icmp_type, icmp_code, payload, payload_len, payload_md5_hex, eth_src,
eth_dst. IP and TCP options (ip_opt, tcp_opt, tcp_ntopt, tcp_sack),
payload_md5 (Click's private MD5 text encoding) and the ICMP name fields are
not supported.
"""
from __future__ import annotations

import struct
from typing import Callable, NamedTuple

from clickpy.args import IPADDR, quote
from clickpy.lang.strings import parse_click_int, spacevec, unquote, unquote_bytes

MAJOR_VERSION = 1
MINOR_VERSION = 3
VERSION_LINE = f"!IPSummaryDump {MAJOR_VERSION}.{MINOR_VERSION}"

IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP = 1, 6, 17
IP_DF, IP_MF, IP_OFFMASK = 0x4000, 0x2000, 0x1FFF
TCP_FLAG_CHARS = "FSRPAUECN"
_FLAG_ALIASES = {"W": 7, "X": 6, "Y": 7}       # CWR; old dumps used X/Y for ECE/CWR

# binary encodings (Click's B_* types): bytes, or None for variable/none
B_0, B_1, B_2, B_4, B_4NET, B_6, B_8, B_16, B_NOTALLOWED = "0", "1", "2", "4", "4n", "6", "8", "16", None
_BSIZE = {B_0: 0, B_1: 1, B_2: 2, B_4: 4, B_4NET: 4, B_6: 6, B_8: 8, B_16: 16}

# injection order (Click's order_anno < order_net < order_transp < order_payload)
ORDER_ANNO, ORDER_NET, ORDER_TRANSP, ORDER_PAYLOAD = 0, 100, 200, 300


class Packet(NamedTuple):
    """What a writer sees of a packet (offsets index `data`; None = unset)."""
    data: bytes
    mac: int | None = None
    net: int | None = None
    trans: int | None = None
    timestamp: int = 0           # ns since the epoch
    extra_length: int = 0
    extra_packets: int = 0
    paint: int = 0
    aggregate: int = 0
    first_timestamp: int = 0


class Field(NamedTuple):
    name: str
    btype: str | None
    order: int
    extract: Callable | None      # (Desc) -> value or None (field missing)
    unparse: Callable             # value -> text
    parse: Callable | None        # text -> value (ValueError if bad); None: not readable
    inject: Callable | None       # (PacketMaker, value)
    pack: Callable | None = None  # value -> bytes (binary), default by btype
    unpack: Callable | None = None


# ---------------------------------------------------------------------------
# Reading packets (writer side)

class Desc:
    """One packet prepared for summarizing, as Click's PacketDesc: the IP,
    TCP, UDP and ICMP headers found valid, the IP length, bad-header notes."""

    def __init__(self, p: Packet, careful_trunc: bool, use_extra_length: bool):
        self.p = p
        self.extra = p.extra_length if use_extra_length else 0
        self.bad: str | None = None
        self.tailpad = 0
        d = p.data
        self.ip = None
        self.ip_hl = 0
        self.ip_len = 0
        self.tcp = self.udp = self.icmp = None
        if p.net is None or p.net > len(d):
            return
        ip = d[p.net:]
        if len(ip) < 6:
            self._bad("truncated IP header")
            return
        if ip[0] >> 4 != 4:
            self._bad(f"IP version {ip[0] >> 4}")
            return
        hl = (ip[0] & 15) << 2
        if hl < 20:
            self._bad(f"IP header length {hl >> 2}")
            return
        if len(ip) < 4:
            return
        ip_len = struct.unpack_from(">H", ip, 2)[0]
        if ip_len < hl:
            self._bad(f"IP length {ip_len}")
            return
        self.ip, self.ip_hl, self.ip_len = ip, hl, ip_len
        if len(ip) > ip_len:
            self.tailpad = len(ip) - ip_len
            self.extra += self.tailpad
        elif careful_trunc and len(ip) + self.extra < ip_len:
            self._bad(f"truncated IP missing {ip_len - len(ip) - self.extra}")
        # the extra length beyond what the IP length covers
        if self.extra > 0:
            full = len(ip) + self.extra
            self.extra = full - 0xFFFF if (ip_len == 0xFFFF and full > 0xFFFF) else 0
        first_frag = len(ip) >= 8 and (struct.unpack_from(">H", ip, 6)[0] & IP_OFFMASK) == 0
        proto = ip[9] if len(ip) > 9 else -1
        transport = ip[hl:len(ip) - self.tailpad] if len(ip) > hl else b""
        if transport and first_frag:
            if proto == IP_PROTO_TCP:
                if len(transport) > 12 and (transport[12] >> 4) < 5:
                    self._bad(f"TCP header length {transport[12] >> 4}")
                else:
                    self.tcp = transport
            elif proto == IP_PROTO_UDP:
                self.udp = transport
            elif proto == IP_PROTO_ICMP:
                self.icmp = transport

    def _bad(self, msg: str) -> None:
        if self.bad is None:
            self.bad = msg

    @property
    def proto(self):
        return self.ip[9] if self.ip is not None and len(self.ip) > 9 else None

    def missing(self, proto: str, need: int):
        """A field that does not apply: None, noting why as Click does."""
        if self.bad is not None:
            return None
        if self.ip is None:
            self.bad = "no IP header"
        elif proto == "IP":
            self.bad = "truncated IP header capture"
        elif self.proto is not None and proto != "TCP/UDP" and self.proto != _PROTO_NUMBER[proto]:
            return None                         # wrong protocol: not a bad packet
        elif proto == "TCP/UDP" and self.proto not in (IP_PROTO_TCP, IP_PROTO_UDP, 33, 136):
            return None
        elif len(self.ip) >= 8 and struct.unpack_from(">H", self.ip, 6)[0] & IP_OFFMASK:
            self.bad = f"fragmented {proto} header"
        else:
            have = len(self.ip) - self.ip_hl - self.tailpad + self.extra
            self.bad = f"truncated {proto} header" + (" capture" if have >= need else "")
        return None


_PROTO_NUMBER = {"TCP": IP_PROTO_TCP, "UDP": IP_PROTO_UDP, "ICMP": IP_PROTO_ICMP}


def _ip_get(offset: int, size: int, fmt: str):
    def get(d: Desc):
        if d.ip is None or len(d.ip) < offset + size:
            return d.missing("IP", offset + size)
        return struct.unpack_from(fmt, d.ip, offset)[0]
    return get


def _ip_addr(offset: int):
    def get(d: Desc):
        if d.ip is None or len(d.ip) < offset + 4:
            return d.missing("IP", offset + 4)
        return bytes(d.ip[offset:offset + 4])
    return get


def _ip_frag(d: Desc):
    off = _ip_get(6, 2, ">H")(d)
    if off is None:
        return None
    if off & (IP_MF | IP_OFFMASK):
        return "F" if (off & IP_OFFMASK) == 0 else "f"
    return "!" if off & IP_DF else "."


def _ip_len(d: Desc):
    if d.ip is not None:
        return d.ip_len + d.extra
    return len(d.p.data) + d.p.extra_length


def _ip_capture_len(d: Desc):
    if d.ip is not None:
        return min(d.ip_len, len(d.ip))
    return len(d.p.data)


def _port(offset: int):
    def get(d: Desc):
        t = d.tcp if d.tcp is not None else d.udp
        if t is None and d.ip is not None and d.proto in (33, 136) and len(d.ip) > d.ip_hl:
            t = d.ip[d.ip_hl:]                 # DCCP and UDP-Lite have ports too
        if t is None or len(t) < offset + 2:
            return d.missing("TCP/UDP", offset + 2)
        return struct.unpack_from(">H", t, offset)[0]
    return get


def _tcp_get(offset: int, size: int, fmt: str, transform=None):
    def get(d: Desc):
        if d.tcp is None or len(d.tcp) < offset + size:
            return d.missing("TCP", offset + size)
        v = struct.unpack_from(fmt, d.tcp, offset)[0]
        return transform(v) if transform else v
    return get


def _tcp_flags(d: Desc):
    if d.tcp is None or len(d.tcp) < 14:
        return d.missing("TCP", 14)
    return d.tcp[13] | ((d.tcp[12] & 1) << 8)


def _udp_len(d: Desc):
    if d.udp is None or len(d.udp) < 6:
        return d.missing("UDP", 6)
    return struct.unpack_from(">H", d.udp, 4)[0]


def _icmp_get(offset: int):
    def get(d: Desc):
        if d.icmp is None or len(d.icmp) < offset + 1:
            return d.missing("ICMP", offset + 1)
        return d.icmp[offset]
    return get


def _payload_span(d: Desc) -> tuple[int, int]:
    """(offset in data, length) of the payload, as Click's payload_info."""
    p = d.p
    if d.ip is None:
        return 0, len(p.data) - d.tailpad
    off = p.net + d.ip_hl
    first_frag = len(d.ip) >= 8 and (struct.unpack_from(">H", d.ip, 6)[0] & IP_OFFMASK) == 0
    if first_frag and d.proto == IP_PROTO_TCP:
        t = d.ip[d.ip_hl:]
        off += (t[12] >> 4) << 2 if len(t) - d.tailpad >= 13 and (t[12] >> 4) >= 5 else 20
    elif first_frag and d.proto in (IP_PROTO_UDP, 136):
        off += 8
    return off, d.ip_len - (off - p.net)


def _payload(d: Desc):
    off, n = _payload_span(d)
    n = max(min(n, len(d.p.data) - off), 0)
    return bytes(d.p.data[off:off + n])


def _payload_len(d: Desc):
    off, n = _payload_span(d)
    return n + (d.extra if d.ip is not None else d.p.extra_length)


def _payload_md5_hex(d: Desc):
    import hashlib
    return hashlib.md5(_payload(d)).digest()


def _eth(offset: int):
    def get(d: Desc):
        m = d.p.mac
        if m is None or len(d.p.data) < m + 14:
            if d.bad is None:
                d.bad = "Ethernet header"
            return None
        return bytes(d.p.data[m + offset:m + offset + 6])
    return get


def _anno(name: str):
    return lambda d: getattr(d.p, name)


def _ts_split(ns: int) -> tuple[int, int]:
    return ns // 1_000_000_000, ns % 1_000_000_000


# ---- text forms -----------------------------------------------------------

def unparse_timestamp(ns: int) -> str:
    sec, sub = _ts_split(ns)
    if sub % 1000 == 0:
        return f"{sec}.{sub // 1000:06d}"
    return f"{sec}.{sub:09d}"


def parse_timestamp(s: str) -> int:
    """`sec[.frac]` -> ns (Click's cp_time)."""
    whole, dot, frac = s.partition(".")
    if not whole.isdigit() or (dot and frac and not frac.isdigit()) or not whole.isascii():
        raise ValueError(f"bad timestamp '{s}'")
    frac = (frac + "000000000")[:9]
    return int(whole) * 1_000_000_000 + int(frac or "0")


def _uint(bits: int):
    def parse(s: str) -> int:
        v = parse_click_int(s, False)
        if v is None or v >= 1 << bits:
            raise ValueError(f"bad number '{s}'")
        return v
    return parse


def _unparse_ip(v: bytes) -> str:
    return ".".join(str(b) for b in v)


def _parse_ip(s: str) -> bytes:
    return IPADDR(s).to_bytes(4, "big")


def _unparse_proto(v: int) -> str:
    return {IP_PROTO_TCP: "T", IP_PROTO_UDP: "U", IP_PROTO_ICMP: "I"}.get(v, str(v))


def parse_proto(s: str) -> int:
    v = {"T": IP_PROTO_TCP, "U": IP_PROTO_UDP, "I": IP_PROTO_ICMP, "tcp": IP_PROTO_TCP,
         "udp": IP_PROTO_UDP, "icmp": IP_PROTO_ICMP}.get(s)
    if v is None:
        v = _uint(8)(s)
    return v


def _unparse_fragoff(v: int) -> str:
    return f"{(v & IP_OFFMASK) << 3}" + ("+" if v & IP_MF else "") + ("!" if v & IP_DF else "")


def _parse_fragoff(s: str, minor_version: int = MINOR_VERSION) -> int:
    if s == ".":
        return 0
    if s == "!":
        return IP_DF
    if s == "F":
        return IP_MF
    if s == "f":
        return 100            # any nonzero offset (Click does the same)
    i = 0
    while i < len(s) and s[i].isdigit():
        i += 1
    if i == 0:
        raise ValueError(f"bad fragment '{s}'")
    v = int(s[:i])
    if minor_version > 0:
        v >>= 3               # version 1.0 counted 8-byte units
    for ch in s[i:]:
        if ch == "!":
            v |= IP_DF
        elif ch == "+":
            v |= IP_MF
        else:
            raise ValueError(f"bad fragment '{s}'")
    return v


_ECN_NAMES = {0: "no", 1: "ect1", 2: "ect2", 3: "ce"}
_ECN_PARSE = {"no": 0, "-": 0, "ect1": 1, "ECT(1)": 1, "ect2": 2, "ECT(0)": 2, "ce": 3, "CE": 3}


def _parse_ecn(s: str) -> int:
    if len(s) == 1 and s in "0123":
        return int(s)
    if s in _ECN_PARSE:
        return _ECN_PARSE[s]
    raise ValueError(f"bad ECN '{s}'")


def unparse_tcp_flags(v: int) -> str:
    if v == 0x18:
        return "PA"
    if v == 0x10:
        return "A"
    if v == 0:
        return "."
    return "".join(TCP_FLAG_CHARS[i] for i in range(9) if v & (1 << i))


def parse_tcp_flags(s: str) -> int:
    if s == ".":
        return 0
    if not s:
        raise ValueError("empty TCP flags")
    if s[0].isdigit():
        v = _uint(12)(s)
        return v
    v = 0
    for ch in s:
        i = TCP_FLAG_CHARS.find(ch)
        if i < 0:
            i = _FLAG_ALIASES.get(ch, -1)
        if i < 0:
            raise ValueError(f"bad TCP flags '{s}'")
        v |= 1 << i
    return v


def _unparse_direction(v: int) -> str:
    return ">" if v == 0 else "<" if v == 1 else str(v)


def _parse_direction(s: str) -> int:
    if s in (">", "L"):
        return 0
    if s in ("<", "R", "X"):
        return 1
    return _uint(8)(s)


def _unparse_eth(v: bytes) -> str:
    return "-".join(f"{b:02X}" for b in v)


def _parse_eth(s: str) -> bytes:
    from clickpy.args import ETHERADDR
    return ETHERADDR(s)


# ---- binary forms -----------------------------------------------------------

def _pack_int(btype: str):
    size = _BSIZE[btype]
    return lambda v: int(v).to_bytes(size, "big")


def _unpack_int(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _pack_ts_usec(v: int) -> bytes:
    sec, sub = _ts_split(v)
    return struct.pack(">II", sec & 0xFFFFFFFF, sub // 1000)


def _unpack_ts_usec(b: bytes) -> int:
    sec, usec = struct.unpack(">II", b)
    return sec * 1_000_000_000 + usec * 1000


def _pack_ts_nsec(v: int) -> bytes:
    sec, sub = _ts_split(v)
    return struct.pack(">II", sec & 0xFFFFFFFF, sub)


def _unpack_ts_nsec(b: bytes) -> int:
    sec, nsec = struct.unpack(">II", b)
    return sec * 1_000_000_000 + nsec


def _pack_char(v: str) -> bytes:
    return v.encode("latin-1")[:1]


# ---------------------------------------------------------------------------
# Making packets (reader side)

class PacketMaker:
    """Builds one IPv4 packet from field values, as Click's PacketOdesc:
    version 4, header length 5, TTL 100, the default protocol and flow; the
    transport header appears when a field needs it; lengths, the UDP length
    and (with CHECKSUM) checksums are fixed up at the end."""

    def __init__(self, default_proto: int, flowid, minor_version: int):
        self.default_proto = default_proto
        self.flowid = flowid            # (src bytes, sport, dst bytes, dport) or None
        self.minor_version = minor_version
        self.ip = bytearray(20)
        self.ip[0] = 0x45
        self.ip[8] = 100
        self.ip[9] = default_proto
        if flowid is not None:
            self.ip[12:16] = flowid[0]
            self.ip[16:20] = flowid[2]
        self.trans = bytearray()
        self.have_trans = False
        self.payload = bytearray()
        self.want_len = 0
        self.have_ip_hl = False
        self.have_tcp_hl = False
        self.timestamp = 0
        self.first_timestamp = 0
        self.extra_packets = 0
        self.paint = 0
        self.aggregate = 0

    # -- the IP header --
    def set_ip(self, offset: int, value: bytes) -> None:
        self.ip[offset:offset + len(value)] = value

    def set_ip_hl(self, v: int) -> None:
        self.have_ip_hl = True
        v = (v + 3) & ~3
        if v > len(self.ip):
            self.ip += bytes(v - len(self.ip))       # EOL options
        if v >= 20:
            self.ip[0] = 0x40 | (min(v, 60) >> 2)

    @property
    def proto(self) -> int:
        return self.ip[9]

    @property
    def first_frag(self) -> bool:
        return (struct.unpack_from(">H", self.ip, 6)[0] & IP_OFFMASK) == 0

    # -- the transport header --
    def make_transport(self) -> bool:
        if self.have_trans:
            return True
        if not self.first_frag:
            return False
        n = {IP_PROTO_TCP: 20, IP_PROTO_UDP: 8, 136: 8, 33: 12, IP_PROTO_ICMP: 8}.get(self.proto)
        if n is None:
            return False
        if 0 < self.want_len < len(self.ip) + n:
            n = max(self.want_len - len(self.ip), 0)
        self.trans = bytearray(n)
        if self.proto == IP_PROTO_TCP and n >= 13:
            self.trans[12] = 5 << 4
        if self.flowid is not None and len(self.trans) >= 4:
            self.trans[0:4] = struct.pack(">HH", self.flowid[1], self.flowid[3])
        self.have_trans = True
        return True

    def set_trans(self, proto: int | None, offset: int, value: bytes) -> None:
        if proto is not None and self.proto != proto:
            return
        if not self.make_transport():
            return
        end = offset + len(value)
        if len(self.trans) < end:
            self.trans += bytes(end - len(self.trans))
        self.trans[offset:end] = value

    def set_tcp_off(self, v: int) -> None:
        if self.proto != IP_PROTO_TCP or not self.make_transport():
            return
        self.have_tcp_hl = True
        v = (v + 3) & ~3
        if v > len(self.trans):
            self.trans += bytes(v - len(self.trans))
        self.trans[12] = (self.trans[12] & 0x0F) | ((min(v, 60) >> 2) << 4)

    def set_payload(self, data: bytes) -> None:
        self.make_transport()
        self.payload = bytearray(data)
        self._account_payload(len(data))

    def set_payload_len(self, n: int) -> None:
        self.make_transport()
        self._account_payload(n)

    def _header_len(self) -> int:
        if self.proto == IP_PROTO_TCP and self.have_trans and len(self.trans) >= 13:
            return len(self.ip) + ((self.trans[12] >> 4) << 2 if (self.trans[12] >> 4) >= 5 else 20)
        return len(self.ip) + len(self.trans)

    def _account_payload(self, plen: int) -> None:
        ip_len = struct.unpack_from(">H", self.ip, 2)[0]
        off = self._header_len()
        if ip_len == 0 and self.want_len == 0:
            self.want_len = off + plen
            return
        total = ip_len or self.want_len
        delta = total - (off + plen)
        # a longer IP length than headers and payload account for: grow the
        # TCP, then the IP header with options, as Click does
        if (delta > 0 and self.first_frag and self.proto == IP_PROTO_TCP and not self.have_tcp_hl
                and self.have_trans and len(self.trans) >= 13 and self.trans[12] >> 4 == 5):
            grow = min(delta - (delta & 3), 40)
            self.trans += bytes(grow)
            self.trans[12] = (self.trans[12] & 0x0F) | (((20 + grow) >> 2) << 4)
            delta -= grow
        if delta > 0 and not self.have_ip_hl and len(self.ip) == 20:
            grow = min(delta - (delta & 3), 40)
            self.ip += bytes(grow)
            self.ip[0] = 0x40 | ((20 + grow) >> 2)

    # -- the result --
    def finish(self, checksum: bool, zero: bool) -> tuple[bytes, int, int]:
        """(packet bytes, transport header offset, extra length)."""
        self.make_transport()
        head = bytes(self.ip)
        trans = bytes(self.trans)
        if self.proto == IP_PROTO_TCP and len(trans) >= 13:
            toff = ((trans[12] >> 4) << 2)
            if len(trans) < toff:
                trans += bytes(toff - len(trans))
        data = bytearray(head + trans + bytes(self.payload))
        ip_len = struct.unpack_from(">H", data, 2)[0]
        if ip_len == 0:
            ip_len = self.want_len if self.want_len else len(data)
            ip_len = min(ip_len, 0xFFFF)
            struct.pack_into(">H", data, 2, ip_len)
        hl = (data[0] & 15) << 2
        if data[9] == IP_PROTO_UDP and self.first_frag and len(data) >= hl + 6 \
                and struct.unpack_from(">H", data, hl + 4)[0] == 0:
            struct.pack_into(">H", data, hl + 4, max(ip_len - hl, 0) & 0xFFFF)
        if checksum:
            if ip_len > len(data):
                data += bytes(ip_len - len(data))
            _set_checksums(data, hl, ip_len)
        want = self.want_len
        extra = want - len(data) if want > len(data) else 0
        return bytes(data), hl, extra


def _fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _sum16(b: bytes) -> int:
    if len(b) & 1:
        b = b + b"\0"
    return sum(struct.unpack(f">{len(b) // 2}H", b))


def _set_checksums(data: bytearray, hl: int, ip_len: int) -> None:
    data[10:12] = b"\0\0"
    struct.pack_into(">H", data, 10, ~_fold(_sum16(bytes(data[:hl]))) & 0xFFFF)
    frag = struct.unpack_from(">H", data, 6)[0] & (IP_MF | IP_OFFMASK)
    if frag:
        return
    proto = data[9]
    seg = data[hl:ip_len]
    pseudo = _sum16(bytes(data[12:20])) + proto + len(seg)
    if proto == IP_PROTO_TCP and len(seg) >= 18:
        seg[16:18] = b"\0\0"
        struct.pack_into(">H", seg, 16, ~_fold(pseudo + _sum16(bytes(seg))) & 0xFFFF)
    elif proto == IP_PROTO_UDP and len(seg) >= 8:
        seg[6:8] = b"\0\0"
        c = ~_fold(pseudo + _sum16(bytes(seg))) & 0xFFFF
        struct.pack_into(">H", seg, 6, c or 0xFFFF)
    elif proto == IP_PROTO_ICMP and len(seg) >= 4:
        seg[2:4] = b"\0\0"
        struct.pack_into(">H", seg, 2, ~_fold(_sum16(bytes(seg))) & 0xFFFF)
    data[hl:ip_len] = seg


def _inject_ip(offset: int, fmt: str):
    return lambda m, v: m.set_ip(offset, struct.pack(fmt, v))


def _inject_addr(offset: int):
    return lambda m, v: m.set_ip(offset, v)


def _inject_tos_part(mask: int, shift: int):
    def inject(m, v):
        m.ip[1] = (m.ip[1] & ~mask & 0xFF) | ((v << shift) & mask)
    return inject


def _inject_ts(field: str):
    def inject(m, v):
        if field == "sec":
            m.timestamp = v * 1_000_000_000 + m.timestamp % 1_000_000_000
        elif field == "usec":
            m.timestamp = (m.timestamp // 1_000_000_000) * 1_000_000_000 + v * 1000
        else:
            setattr(m, field, v)
    return inject


def _inject_port(offset: int):
    def inject(m, v):
        if m.proto and m.proto not in (IP_PROTO_TCP, IP_PROTO_UDP, 33, 136):
            return
        m.set_trans(None, offset, struct.pack(">H", v))
    return inject


def _inject_tcp(offset: int, fmt: str):
    return lambda m, v: m.set_trans(IP_PROTO_TCP, offset, struct.pack(fmt, v))


def _inject_tcp_flags(m, v):
    if m.proto != IP_PROTO_TCP or not m.make_transport() or len(m.trans) < 14:
        return
    m.trans[13] = v & 0xFF
    m.trans[12] = (m.trans[12] & 0xFE) | ((v >> 8) & 1)


def _inject_want_len(m, v):
    m.want_len = v


def _inject_ip_len(m, v):
    m.want_len = v


def _ignore(m, v):
    pass


def _num(bits: int):
    return _uint(bits)


_F = Field
FIELDS: dict[str, Field] = {f.name: f for f in [
    # annotations
    _F("timestamp", B_8, ORDER_ANNO, _anno("timestamp"), unparse_timestamp, parse_timestamp,
       _inject_ts("timestamp"), _pack_ts_usec, _unpack_ts_usec),
    _F("ntimestamp", B_8, ORDER_ANNO, _anno("timestamp"), unparse_timestamp, parse_timestamp,
       _inject_ts("timestamp"), _pack_ts_nsec, _unpack_ts_nsec),
    _F("ts_sec", B_4, ORDER_ANNO, lambda d: d.p.timestamp // 1_000_000_000, str, _num(32),
       _inject_ts("sec")),
    _F("ts_usec", B_4, ORDER_ANNO, lambda d: d.p.timestamp % 1_000_000_000 // 1000, str, _num(32),
       _inject_ts("usec")),
    _F("ts_usec1", B_8, ORDER_ANNO, lambda d: d.p.timestamp // 1000, str, _num(64),
       lambda m, v: setattr(m, "timestamp", v * 1000)),
    _F("first_timestamp", B_8, ORDER_ANNO, _anno("first_timestamp"), unparse_timestamp,
       parse_timestamp, _inject_ts("first_timestamp"), _pack_ts_usec, _unpack_ts_usec),
    _F("count", B_4, ORDER_ANNO, lambda d: 1 + d.p.extra_packets, str, _num(32),
       lambda m, v: setattr(m, "extra_packets", v - 1 if v else 0)),
    _F("link", B_1, ORDER_ANNO, _anno("paint"), str, _parse_direction, _inject_ts("paint")),
    _F("paint", B_1, ORDER_ANNO, _anno("paint"), str, _parse_direction, _inject_ts("paint")),
    _F("direction", B_1, ORDER_ANNO, _anno("paint"), _unparse_direction, _parse_direction,
       _inject_ts("paint")),
    _F("aggregate", B_4, ORDER_ANNO, _anno("aggregate"), str, _num(32), _inject_ts("aggregate")),
    _F("wire_len", B_4, ORDER_ANNO, lambda d: len(d.p.data) + d.p.extra_length, str, _num(32),
       _inject_want_len),
    # IP
    _F("ip_src", B_4NET, ORDER_NET, _ip_addr(12), _unparse_ip, _parse_ip, _inject_addr(12),
       lambda v: v, bytes),
    _F("ip_dst", B_4NET, ORDER_NET, _ip_addr(16), _unparse_ip, _parse_ip, _inject_addr(16),
       lambda v: v, bytes),
    _F("ip_tos", B_1, ORDER_NET, _ip_get(1, 1, ">B"), str, _num(8), _inject_ip(1, ">B")),
    _F("ip_dscp", B_1, ORDER_NET, lambda d: None if _ip_get(1, 1, ">B")(d) is None else d.ip[1] >> 2,
       str, _num(6), _inject_tos_part(0xFC, 2)),
    _F("ip_ecn", B_1, ORDER_NET, lambda d: None if _ip_get(1, 1, ">B")(d) is None else d.ip[1] & 3,
       lambda v: _ECN_NAMES[v], _parse_ecn, _inject_tos_part(0x03, 0)),
    _F("ip_ttl", B_1, ORDER_NET, _ip_get(8, 1, ">B"), str, _num(8), _inject_ip(8, ">B")),
    _F("ip_frag", B_1, ORDER_NET - 2, _ip_frag, str, _parse_fragoff, _inject_ip(6, ">H"),
       _pack_char, lambda b: b.decode("latin-1")),
    _F("ip_fragoff", B_2, ORDER_NET - 1, _ip_get(6, 2, ">H"), _unparse_fragoff, _parse_fragoff,
       _inject_ip(6, ">H")),
    _F("ip_id", B_2, ORDER_NET, _ip_get(4, 2, ">H"), str, _num(16), _inject_ip(4, ">H")),
    _F("ip_sum", B_2, ORDER_NET + 2, _ip_get(10, 2, ">H"), str, _num(16), _inject_ip(10, ">H")),
    _F("ip_proto", B_1, ORDER_NET, _ip_get(9, 1, ">B"), _unparse_proto, parse_proto,
       _inject_ip(9, ">B")),
    _F("ip_hl", B_1, ORDER_NET - 1, lambda d: d.ip_hl if d.ip is not None else d.missing("IP", 1),
       str, _num(8), lambda m, v: m.set_ip_hl(v)),
    _F("ip_len", B_4, ORDER_NET + 1, _ip_len, str, _num(32), _inject_ip_len),
    _F("ip_capture_len", B_4, ORDER_PAYLOAD + 2, _ip_capture_len, str, _num(32), _ignore),
    _F("sport", B_2, ORDER_TRANSP, _port(0), str, _num(16), _inject_port(0)),
    _F("dport", B_2, ORDER_TRANSP, _port(2), str, _num(16), _inject_port(2)),
    # TCP, UDP, ICMP
    _F("tcp_seq", B_4, ORDER_TRANSP, _tcp_get(4, 4, ">I"), str, _num(32), _inject_tcp(4, ">I")),
    _F("tcp_ack", B_4, ORDER_TRANSP, _tcp_get(8, 4, ">I"), str, _num(32), _inject_tcp(8, ">I")),
    _F("tcp_off", B_1, ORDER_TRANSP, _tcp_get(12, 1, ">B", lambda v: (v >> 4) << 2), str, _num(8),
       lambda m, v: m.set_tcp_off(v)),
    _F("tcp_flags", B_1, ORDER_TRANSP, _tcp_flags, unparse_tcp_flags, parse_tcp_flags,
       _inject_tcp_flags),
    _F("tcp_window", B_2, ORDER_TRANSP, _tcp_get(14, 2, ">H"), str, _num(16), _inject_tcp(14, ">H")),
    _F("tcp_urp", B_2, ORDER_TRANSP, _tcp_get(18, 2, ">H"), str, _num(16), _inject_tcp(18, ">H")),
    _F("udp_len", B_4, ORDER_TRANSP, _udp_len, str, _num(16),
       lambda m, v: m.set_trans(IP_PROTO_UDP, 4, struct.pack(">H", v))),
    _F("icmp_type", B_1, ORDER_TRANSP, _icmp_get(0), str, _num(8),
       lambda m, v: m.set_trans(IP_PROTO_ICMP, 0, bytes([v]))),
    _F("icmp_code", B_1, ORDER_TRANSP, _icmp_get(1), str, _num(8),
       lambda m, v: m.set_trans(IP_PROTO_ICMP, 1, bytes([v]))),
    # payload
    _F("payload", B_NOTALLOWED, ORDER_PAYLOAD, _payload, lambda v: quote(v.decode("latin-1")),
       unquote_bytes, lambda m, v: m.set_payload(v)),
    _F("payload_len", B_4, ORDER_PAYLOAD + 1, _payload_len, str, _num(32),
       lambda m, v: m.set_payload_len(v)),
    _F("payload_md5_hex", B_16, ORDER_PAYLOAD, _payload_md5_hex, lambda v: v.hex(), None, None,
       lambda v: v, bytes),
    # link
    _F("eth_src", B_6, ORDER_ANNO, _eth(6), _unparse_eth, None, None, lambda v: v, bytes),
    _F("eth_dst", B_6, ORDER_ANNO, _eth(0), _unparse_eth, None, None, lambda v: v, bytes),
]}

SYNONYMS = {
    "utimestamp": "timestamp", "ts": "timestamp", "sec": "ts_sec", "usec": "ts_usec",
    "usec1": "ts_usec1", "first_utimestamp": "first_timestamp", "first_ts": "first_timestamp",
    "pkt_count": "count", "packet_count": "count", "agg": "aggregate",
    "wire_length": "wire_len", "length": "ip_len", "ip_p": "ip_proto",
    "payload_length": "payload_len",
}


def find_field(name: str) -> Field | None:
    """A field by name, following Click's synonyms and spellings
    (`tcp seq` = `tcp_seq`, `src` = `ip_src`)."""
    for _ in range(3):
        name = SYNONYMS.get(name, name)
        f = FIELDS.get(name)
        if f is not None:
            return f
        if " " in name:
            name = name.replace(" ", "_", 1)
        elif "_" not in name:
            name = "ip_" + name
        else:
            return None
    return None


def parse_field_list(text: str) -> tuple[list[Field], list[str]]:
    """Field names (space separated, quoted names may contain spaces) ->
    (fields, names that are unknown)."""
    fields, unknown = [], []
    for word in spacevec(text):
        name = unquote(word)
        f = find_field(name)
        if f is None:
            unknown.append(name)
        else:
            fields.append(f)
    return fields, unknown


# ---------------------------------------------------------------------------
# The writer's side: one packet -> text line or binary record

def _binary_value(f: Field, v) -> bytes:
    size = _BSIZE[f.btype]
    if v is None:
        return bytes(size)
    if f.pack is not None:
        out = f.pack(v)
    else:
        out = int(v).to_bytes(size, "big") if size else b""
    return out[:size].ljust(size, b"\0")


def summarize(p: Packet, fields: list[Field], *, binary: bool = False, bad_packets: bool = False,
              careful_trunc: bool = True, extra_length: bool = True) -> bytes:
    """The dump line (with its newline) or binary record for one packet,
    preceded by a `!bad` line when bad_packets is set and a header is bad."""
    d = Desc(p, careful_trunc, extra_length)
    values = [f.extract(d) for f in fields]
    bad = b""
    if bad_packets and d.bad is not None:
        text = f"!bad {d.bad}\n".encode()
        bad = struct.pack(">I", 0x80000000 | (len(text) + 4)) + text if binary else text
    if binary:
        body = b"".join(_binary_value(f, v) for f, v in zip(fields, values))
        return bad + struct.pack(">I", len(body) + 4) + body
    return bad + (" ".join("-" if v is None else f.unparse(v) for f, v in zip(fields, values)) + "\n").encode()


def header_lines(fields: list[Field], *, binary: bool = False, banner: str | None = None,
                 verbose: bool = False) -> bytes:
    lines = [VERSION_LINE]
    if banner is not None:
        lines.append(f"!creator {quote(banner)}")
    if verbose:
        import socket
        import time
        now = time.time()
        lines.append(f"!host {socket.gethostname()}")
        lines.append(f"!runtime {now:.6f} ({time.strftime('%a %b %d %H:%M:%S %Y', time.localtime(now))})")
    lines.append("!data " + " ".join(f.name for f in fields))
    if binary:
        lines.append("!binary")
    return ("\n".join(lines) + "\n").encode()


# ---------------------------------------------------------------------------
# The reader's side: dump lines -> packets

class ReaderState:
    """What the `!` lines of a dump (and the element's keywords) set."""

    def __init__(self, default_proto: int = IP_PROTO_TCP):
        self.fields: list[Field] = []
        self.default_proto = default_proto
        self.flowid = None
        self.aggregate: int | None = None
        self.binary = False
        self.minor_version = MINOR_VERSION
        self.warnings: list[str] = []

    def set_fields(self, text: str) -> None:
        self.fields = []
        for word in spacevec(text):
            name = unquote(word)
            f = find_field(name)
            if f is None:
                self.warnings.append(f"unknown content type '{name}'")
            elif f.inject is None or f.parse is None:
                self.warnings.append(f"content type '{name}' ignored on input")
                f = None
            self.fields.append(f)
        if not self.fields:
            self.warnings.append("no contents specified")

    def set_flowid(self, text: str) -> None:
        w = spacevec(text)
        try:
            if len(w) < 4:
                raise ValueError
            src = _parse_ip(w[0]) if w[0] != "-" else bytes(4)
            sport = _uint(16)(w[1]) if w[1] != "-" else 0
            dst = _parse_ip(w[2]) if w[2] != "-" else bytes(4)
            dport = _uint(16)(w[3]) if w[3] != "-" else 0
            if len(w) >= 5:
                self.default_proto = parse_proto(w[4])
            self.flowid = (src, sport, dst, dport)
        except ValueError:
            self.warnings.append("bad !flowid specification")
            self.flowid = None

    def bang(self, line: str) -> None:
        """Interpret a `!` line (unknown ones are comments)."""
        word, _, rest = line.partition(" ")
        word = word.split("\t")[0]
        rest = line[len(word):].strip()
        if word in ("!data", "!contents"):
            self.set_fields(rest)
        elif word == "!flowid":
            self.set_flowid(rest)
        elif word == "!proto":
            try:
                self.default_proto = parse_proto(rest)
            except ValueError:
                self.warnings.append("bad protocol in !proto")
        elif word == "!aggregate":
            v = parse_click_int(rest, False)
            if v is None:
                self.warnings.append("bad !aggregate specification")
            self.aggregate = v
        elif word == "!binary":
            self.binary = True
        elif word == "!IPSummaryDump":
            major, _, minor = rest.partition(".")
            if major.isdigit() and minor.isdigit():
                if int(major) != MAJOR_VERSION or int(minor) > MINOR_VERSION:
                    self.warnings.append(f"unexpected IPSummaryDump version {rest}")
                else:
                    self.minor_version = int(minor)

    def _maker(self) -> PacketMaker:
        m = PacketMaker(self.default_proto, self.flowid, self.minor_version)
        if self.aggregate is not None:
            m.aggregate = self.aggregate
        return m

    def _inject(self, m: PacketMaker, pairs) -> int:
        n = 0
        for f, v in sorted(pairs, key=lambda fv: fv[0].order):
            f.inject(m, v)
            n += 1
        return n

    def text_packet(self, line: str) -> PacketMaker | None:
        """A packet line -> a PacketMaker with its fields injected, or None (parse error)."""
        words = _split_line(line, len(self.fields))
        pairs = []
        for f, w in zip(self.fields, words):
            if f is None or w == "-" or w == "":
                continue
            try:
                v = f.parse(w) if f.name not in ("ip_frag", "ip_fragoff") else \
                    _parse_fragoff(w, self.minor_version)
            except ValueError:
                continue
            pairs.append((f, v))
        if not pairs:
            return None
        m = self._maker()
        self._inject(m, pairs)
        return m

    def binary_packet(self, data: bytes) -> PacketMaker | None:
        pairs = []
        pos = 0
        for f in self.fields:
            if f is None or f.btype is None:
                break
            size = _BSIZE[f.btype]
            if pos + size > len(data):
                break
            raw = data[pos:pos + size]
            pos += size
            if f.unpack is not None:
                v = f.unpack(raw)
            else:
                v = _unpack_int(raw)
            if f.name in ("ip_frag",):
                v = _parse_fragoff(v, self.minor_version) if v in ".!Ff" else 0
            pairs.append((f, v))
        if not pairs:
            return None
        m = self._maker()
        self._inject(m, pairs)
        return m


def _split_line(line: str, n: int) -> list[str]:
    """The first n words of a packet line; double quotes protect spaces."""
    out = []
    i, end = 0, len(line)
    while len(out) < n:
        while i < end and line[i].isspace():
            i += 1
        if i >= end:
            break
        start = i
        while i < end and not line[i].isspace():
            if line[i] == '"':
                i += 1
                while i < end and line[i] != '"':
                    i += 2 if line[i] == "\\" else 1
                i += 1
            else:
                i += 1
        out.append(line[start:i])
    return out


def split_multipacket(data: bytes, hl: int, extra: int, count: int, timestamp: int,
                      first_timestamp: int) -> list[tuple[bytes, int, int]]:
    """Click's MULTIPACKET: one record standing for `count` packets -> count
    (data, extra length, timestamp) triples sharing the total length, with
    timestamps spread from first_timestamp to timestamp."""
    if count <= 1:
        return [(data, extra, timestamp)]
    total = len(data) + extra
    each = max(total // count, len(data))
    step = (timestamp - first_timestamp) // (count - 1) if first_timestamp else 0
    ts = first_timestamp if first_timestamp else timestamp
    out = []
    left = total
    for i in range(count):
        length = each if i < count - 1 else max(left, len(data))
        left -= length
        out.append((_with_lengths(data, hl, length), max(length - len(data), 0),
                    timestamp if i == count - 1 else ts))
        ts += step
    return out


def _with_lengths(data: bytes, hl: int, length: int) -> bytes:
    """data with its IP (and UDP) length fields set to length."""
    if len(data) < 4:
        return data
    b = bytearray(data)
    struct.pack_into(">H", b, 2, min(length, 0xFFFF))
    if len(b) >= hl + 6 and b[9] == IP_PROTO_UDP:
        struct.pack_into(">H", b, hl + 4, max(min(length, 0xFFFF) - hl, 0))
    return bytes(b)
