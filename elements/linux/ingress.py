"""An ingress drop rule, so the kernel's own stack ignores a device's frames
while packet sockets still see them (FromDevice's SNIFFER false).

Packet sockets bound to ETH_P_ALL receive a frame before tc's ingress hook
runs, so a tc filter on the device's clsact qdisc that drops everything hides
the frames from the kernel stack (ARP, IP, IPv6) without hiding them from
clickpy. The filter is a two-instruction eBPF program in direct-action mode
("return TC_ACT_SHOT"), which needs only cls_bpf (no gact action module).
Rules are made and removed with pyroute2; the qdisc is removed again only if
we added it.
"""
from __future__ import annotations

import contextlib
import ctypes
import os

_BPF_PROG_LOAD = 5
_BPF_PROG_TYPE_SCHED_CLS = 3
_NR_BPF = 321                       # x86_64
_TC_ACT_SHOT = 2
_CLSACT_INGRESS = 0xFFFFFFF2        # parent ffff:fff2
_FILTER_PRIO = 1                    # before any rule a user may have
_FILTER_NAME = "clickpy_nosniff"      # the name marks our rule on the device


class IngressError(RuntimeError):
    pass


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> int:
    """One eBPF instruction as a little-endian 64-bit word."""
    return code | (dst << 8) | (src << 12) | ((off & 0xFFFF) << 16) | ((imm & 0xFFFFFFFF) << 32)


def _load_drop_program(ether_type: int | None) -> int:
    if ether_type is None:
        program = [_insn(0xB7, imm=_TC_ACT_SHOT), _insn(0x95)]          # r0 = SHOT; exit
    else:
        proto = ((ether_type & 0xFF) << 8) | (ether_type >> 8)          # skb->protocol, network order
        program = [_insn(0x61, dst=0, src=1, off=16),                   # r0 = ctx->protocol
                   _insn(0x55, dst=0, off=2, imm=proto),                # if r0 != proto goto pass
                   _insn(0xB7, imm=_TC_ACT_SHOT), _insn(0x95),          # r0 = SHOT; exit
                   _insn(0xB7, imm=0), _insn(0x95)]                     # pass: r0 = OK; exit
    insns = (ctypes.c_uint64 * len(program))(*program)
    license_ = ctypes.create_string_buffer(b"GPL")
    attr = (ctypes.c_uint8 * 128)()
    ctypes.c_uint32.from_buffer(attr, 0).value = _BPF_PROG_TYPE_SCHED_CLS
    ctypes.c_uint32.from_buffer(attr, 4).value = len(program)
    ctypes.c_uint64.from_buffer(attr, 8).value = ctypes.addressof(insns)
    ctypes.c_uint64.from_buffer(attr, 16).value = ctypes.addressof(license_)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(_NR_BPF, _BPF_PROG_LOAD, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        err = ctypes.get_errno()
        raise IngressError(f"cannot load the ingress drop program: {os.strerror(err)}")
    return fd


_CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def _in_namespace(ns_fd: int):
    """Run the calling thread in the network namespace ns_fd refers to."""
    libc = ctypes.CDLL(None, use_errno=True)
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if libc.setns(ns_fd, _CLONE_NEWNET) != 0:
            raise IngressError(f"setns: {os.strerror(ctypes.get_errno())}")
        try:
            yield
        finally:
            libc.setns(here, _CLONE_NEWNET)
    finally:
        os.close(here)


class IngressDrop:
    """The drop rule on one device; `remove()` undoes what `install()` did, in
    the network namespace the rule was installed in (whichever namespace the
    caller is in by then). With `ether_type`, only frames of that protocol are
    dropped (the device benchmarks make a cheap IPv4 sink that still answers ARP)."""

    def __init__(self, ifname: str, ether_type: int | None = None) -> None:
        self.ifname = ifname
        self.ether_type = ether_type
        self.ifindex = 0
        self.added_qdisc = False
        self.added_filter = False
        self.ns_fd = -1

    def install(self) -> None:
        try:
            from pyroute2 import IPRoute
            from pyroute2.netlink.exceptions import NetlinkError
        except ImportError:
            raise IngressError("SNIFFER false needs pyroute2 (pip install pyroute2)") from None
        self.ns_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=self.ifname)
            if not found:
                raise IngressError(f"device '{self.ifname}' does not exist")
            self.ifindex = found[0]
            if self._our_filter(ipr):
                return               # another FromDevice (or worker) installed it
            try:
                ipr.tc("add", "clsact", self.ifindex)
                self.added_qdisc = True
            except NetlinkError as e:
                if e.code != 17:     # EEXIST: a clsact qdisc is already there
                    raise IngressError(f"cannot add a clsact qdisc to '{self.ifname}': {e.args[1]}") from None
            fd = _load_drop_program(self.ether_type)
            try:
                ipr.tc("add-filter", "bpf", self.ifindex, parent=_CLSACT_INGRESS, prio=_FILTER_PRIO,
                       fd=fd, name=_FILTER_NAME, direct_action=True)
                self.added_filter = True
            except NetlinkError as e:
                raise IngressError(f"cannot add an ingress filter to '{self.ifname}': {e.args[1]}") from None
            finally:
                os.close(fd)

    def _our_filter(self, ipr) -> bool:
        try:
            for f in ipr.get_filters(self.ifindex, parent=_CLSACT_INGRESS):
                options = f.get_attr("TCA_OPTIONS")
                if f.get_attr("TCA_KIND") == "bpf" and options is not None \
                        and options.get_attr("TCA_BPF_NAME") == _FILTER_NAME:
                    return True
        except Exception:
            return False
        return False

    def remove(self) -> None:
        try:
            if self.added_filter or self.added_qdisc:
                self._remove()
        finally:
            self.added_filter = self.added_qdisc = False
            if self.ns_fd >= 0:
                os.close(self.ns_fd)
                self.ns_fd = -1

    def _remove(self) -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError
        with _in_namespace(self.ns_fd), IPRoute() as ipr:
            # the device must still be the one we changed
            if ipr.link_lookup(ifname=self.ifname) != [self.ifindex]:
                return
            try:
                if self.added_qdisc:
                    ipr.tc("del", "clsact", self.ifindex)      # takes its filters with it
                else:
                    ipr.tc("del-filter", "bpf", self.ifindex, parent=_CLSACT_INGRESS, prio=_FILTER_PRIO)
            except NetlinkError:
                pass                 # the device went away, and the rule with it
