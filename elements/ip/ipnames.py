"""Cold helpers of the IPv4 element groups (ip, icmp, tcpudp, iproute).

Click's NameInfo tables for IP protocols and ICMP types and codes, argument
types for address lists and names, and the console message Click calls
click_chatter.
"""
from __future__ import annotations

import sys

from clickpy.args import IPADDR, IPPREFIX, ArgError, Int, split_words
from clickpy.lang.strings import word_arg

IP_PROTOCOLS = {
    "icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17, "dccp": 33, "ipv6": 41,
    "rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "icmp6": 58, "ipv6-icmp": 58, "ospf": 89,
    "pim": 103, "sctp": 132, "udplite": 136,
}
_PROTOCOL_NAMES = {v: k for k, v in reversed(IP_PROTOCOLS.items())}

ICMP_TYPES = {
    "echo-reply": 0, "unreachable": 3, "sourcequench": 4, "redirect": 5, "echo": 8,
    "routeradvert": 9, "routersolicit": 10, "timeexceeded": 11, "parameterproblem": 12,
    "timestamp": 13, "timestamp-reply": 14, "inforeq": 15, "inforeq-reply": 16,
    "maskreq": 17, "maskreq-reply": 18,
}
_ICMP_TYPE_NAMES = {v: k for k, v in ICMP_TYPES.items()}

ICMP_CODES = {
    3: {"net": 0, "host": 1, "protocol": 2, "port": 3, "needfrag": 4, "srcroutefail": 5,
        "net-unknown": 6, "host-unknown": 7, "isolated": 8, "net-prohibited": 9,
        "host-prohibited": 10, "tos-net": 11, "tos-host": 12, "filterprohibited": 13,
        "host-precedence": 14, "precedence-cutoff": 15},
    5: {"net": 0, "host": 1, "tos-net": 2, "tos-host": 3},
    11: {"transit": 0, "reassembly": 1},
    12: {"erroratptr": 0, "missingopt": 1, "length": 2},
}
_ICMP_CODE_NAMES = {t: {v: k for k, v in codes.items()} for t, codes in ICMP_CODES.items()}

_BYTE = Int(0, 255)


def ip_str(addr: int) -> str:
    """Dotted-quad text of a host-order address."""
    return f"{addr >> 24 & 255}.{addr >> 16 & 255}.{addr >> 8 & 255}.{addr & 255}"


def prefix_str(addr: int, mask: int) -> str:
    """`addr/len` for a contiguous mask (Click's unparse_with_mask), else `addr/mask`."""
    n = 32 - (~mask & 0xFFFFFFFF).bit_length()
    if mask == (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF:
        return f"{ip_str(addr)}/{n}"
    return f"{ip_str(addr)}/{ip_str(mask)}"


def IP_LIST(text: str) -> list[int]:
    """A space-separated list of IPv4 addresses."""
    try:
        return [IPADDR(w) for w in split_words(text)]
    except ArgError:
        raise ArgError("expected list of IP addresses") from None


def interfaces_arg(text: str) -> tuple[list[int], list[int]]:
    """Click's INTERFACES: `addr/len ...` -> (bad sources: each subnet's
    broadcast address plus 0.0.0.0 and 255.255.255.255; good destinations:
    the interface addresses)."""
    bad, good = [], []
    for w in split_words(text):
        try:
            addr, mask = IPPREFIX(w)
        except ArgError:
            raise ArgError("expected list of IP address prefixes") from None
        bad.append((addr & mask) | (~mask & 0xFFFFFFFF))
        good.append(addr)
    return bad + [0, 0xFFFFFFFF], good


def IP_PROTO(text: str) -> int:
    """An IP protocol: a number 0-255 or a name such as `tcp`, `udp`, `icmp`, `ipip`."""
    w = word_arg(text)
    if w is not None and w.lower() in IP_PROTOCOLS:
        return IP_PROTOCOLS[w.lower()]
    try:
        return _BYTE(text)
    except ArgError:
        raise ArgError("expected IP protocol") from None


def protocol_name(proto: int) -> str | None:
    return _PROTOCOL_NAMES.get(proto)


def ICMP_TYPE(text: str) -> int:
    """An ICMP type: a number 0-255 or a name such as `unreachable`, `timeexceeded`."""
    w = word_arg(text)
    if w is not None and w in ICMP_TYPES:
        return ICMP_TYPES[w]
    try:
        return _BYTE(text)
    except ArgError:
        raise ArgError("expected ICMP type") from None


def icmp_code(icmp_type: int, text: str) -> int:
    """An ICMP code for `icmp_type`: a number 0-255 or a name (`port`, `needfrag`, `transit`...)."""
    w = word_arg(text)
    codes = ICMP_CODES.get(icmp_type, {})
    if w is not None and w in codes:
        return codes[w]
    try:
        return _BYTE(text)
    except ArgError:
        raise ArgError("expected ICMP code") from None


def icmp_type_name(icmp_type: int) -> str | None:
    return _ICMP_TYPE_NAMES.get(icmp_type)


def icmp_code_name(icmp_type: int, code: int) -> str | None:
    return _ICMP_CODE_NAMES.get(icmp_type, {}).get(code)


def chatter(elem, message: str) -> None:
    """A console message from an element (Click's click_chatter)."""
    print(f"{elem.name}: {message}", file=sys.stderr, flush=True)
