# EXPORT_ELEMENT AddressInfo
"""AddressInfo: names for addresses, usable in other elements' arguments."""
from __future__ import annotations

from clickpy.args import ETHERADDR, IP6ADDR, IP6PREFIX, IPADDR, IPPREFIX, ArgError
from clickpy.element import Element
from clickpy.lang.strings import spacevec

_SUFFIXES = {"ip": "ip", "ipnet": "ipnet", "ip6": "ip6", "ip6net": "ip6net", "eth": "eth"}


class AddressInfo(Element):
    """AddressInfo(NAME ADDRESS [ADDRESS...], ...)

    Specifies address information.

    Ports: none.

    Lets other elements' arguments use mnemonic names for IPv4 and IPv6
    addresses, IPv4 and IPv6 network prefixes, and Ethernet addresses. Each
    argument is `NAME ADDRESS [ADDRESS...]`; one name may stand for an IPv4
    address, an IPv4 prefix, an IPv6 address and an Ethernet address at once,
    and the argument's type picks which:

      AddressInfo(mauer 10.0.0.1/24 00:50:BA:85:84:A9);
      ... -> IPEncap(6, mauer, ...)              // 10.0.0.1
          -> EtherEncap(0x0800, mauer, ...)      // 00:50:BA:85:84:A9

    An address with a prefix (10.0.0.1/24) gives both the address
    (10.0.0.1) and the network (10.0.0.1/24). A suffix makes the kind explicit: NAME:ip,
    NAME:ipnet, NAME:ip6, NAME:ip6net, NAME:eth. Names are local to the
    compound element that declares them and its subelements; inner names
    hide outer ones.

    Handlers:
      table (read)  every name and its addresses, one per line
    """

    port_count = "0/0"
    configure_phase = 0          # before everything that reads addresses

    def configure(self, args) -> None:
        self.entries: dict[str, dict[str, str]] = {}
        for arg in args.rest():
            words = spacevec(arg)
            if len(words) < 2:
                raise self.error(f"expected 'NAME ADDRESS [ADDRESS...]', not '{arg}'")
            name, addresses = words[0], words[1:]
            entry = self.entries.setdefault(name, {})
            for text in addresses:
                kinds = self._classify(text)
                if not kinds:
                    raise self.error(f"{name}: '{text}' is not an IP, IPv6 or Ethernet address")
                for kind, value in kinds.items():
                    entry.setdefault(kind, value)

    @staticmethod
    def _classify(text: str) -> dict[str, str]:
        """{kind: address text} for what `text` is."""
        def parses(fn) -> bool:
            try:
                fn(text)
                return True
            except ArgError:
                return False
        if parses(IPADDR):
            return {"ip": text}
        if "/" in text and parses(IPPREFIX):
            return {"ipnet": text, "ip": text.partition("/")[0]}
        if parses(IP6ADDR):
            return {"ip6": text}
        if "/" in text and parses(IP6PREFIX):
            return {"ip6net": text, "ip6": text.partition("/")[0]}
        if parses(ETHERADDR):
            return {"eth": text}
        return {}

    def lookup_address(self, text: str, kinds: tuple) -> str | None:
        name, colon, suffix = text.rpartition(":")
        if colon and suffix in _SUFFIXES and name in self.entries:
            return self.entries[name].get(_SUFFIXES[suffix]) if _SUFFIXES[suffix] in kinds else None
        entry = self.entries.get(text)
        if entry is None:
            return None
        for kind in kinds:
            if kind in entry:
                return entry[kind]
        return None

    def add_handlers(self) -> None:
        self.add_read_handler("table", lambda: "\n".join(
            f"{name}\t" + " ".join(f"{k}={v}" for k, v in entry.items()) for name, entry in self.entries.items()))
