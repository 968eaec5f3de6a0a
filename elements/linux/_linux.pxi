# Declarations and cold helpers shared by the linux device elements (not an element).

cdef extern from *:
    """
    #include <errno.h>
    #include <unistd.h>
    #include <fcntl.h>
    #include <sys/socket.h>
    #include <sys/ioctl.h>
    #include <sys/mman.h>
    #include <sys/uio.h>
    #include <net/if.h>
    #include <linux/if_packet.h>
    #include <linux/if_ether.h>
    #include <linux/virtio_net.h>
    #include <linux/if_tun.h>
    #include <linux/filter.h>

    /* The ring's status words are shared with the kernel: read them with
       acquire (frame contents are valid after it) and hand frames back with
       release (our writes to the frame are visible before the status). */
    static inline uint32_t clickpy_load_acquire(const uint32_t *p) {
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
    }
    static inline void clickpy_store_release(uint32_t *p, uint32_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
    }
    /* Constants newer than some distributions' uapi headers. */
    #ifndef PACKET_IGNORE_OUTGOING
    #define PACKET_IGNORE_OUTGOING 23
    #endif
    #define CLICKPY_GSO_UDP_L4 5
    #define CLICKPY_TUN_F_USO4 0x20
    #define CLICKPY_TUN_F_USO6 0x40
    #define CLICKPY_TPACKET3_HDRLEN_ALIGNED TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
    #define CLICKPY_TPACKET2_DATA_OFFSET (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))
    """
    uint32_t load_acquire "clickpy_load_acquire"(const uint32_t* p) noexcept nogil
    void store_release "clickpy_store_release"(uint32_t* p, uint32_t v) noexcept nogil
    const int GSO_UDP_L4 "CLICKPY_GSO_UDP_L4"
    const unsigned int TUN_F_USO4 "CLICKPY_TUN_F_USO4"
    const unsigned int TUN_F_USO6 "CLICKPY_TUN_F_USO6"
    const size_t TPACKET3_HDRLEN_ALIGNED "CLICKPY_TPACKET3_HDRLEN_ALIGNED"
    const size_t TPACKET2_DATA_OFFSET "CLICKPY_TPACKET2_DATA_OFFSET"

cdef extern from "<errno.h>" nogil:
    int errno
    enum:
        EAGAIN
        EINTR
        ENOBUFS
        ENETDOWN
        ENXIO
        ENODEV
        EMSGSIZE
        EPERM
        EACCES

cdef extern from "<unistd.h>" nogil:
    ssize_t c_read "read"(int fd, void* buf, size_t n)
    ssize_t c_write "write"(int fd, const void* buf, size_t n)
    int c_close "close"(int fd)
    long syscall(long number, ...)

cdef extern from "<sys/uio.h>" nogil:
    cdef struct iovec:
        void* iov_base
        size_t iov_len
    ssize_t readv(int fd, const iovec* iov, int iovcnt)
    ssize_t writev(int fd, const iovec* iov, int iovcnt)

cdef extern from "<sys/mman.h>" nogil:
    void* mmap(void* addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void* addr, size_t length)
    void* MAP_FAILED
    enum:
        PROT_READ
        PROT_WRITE
        MAP_SHARED
        MAP_POPULATE
        MAP_LOCKED

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    cdef struct sockaddr:
        unsigned short sa_family
    cdef struct msghdr:
        void* msg_name
        socklen_t msg_namelen
        iovec* msg_iov
        size_t msg_iovlen
        void* msg_control
        size_t msg_controllen
        int msg_flags
    cdef struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len
    int socket(int domain, int type, int protocol)
    int bind(int fd, const sockaddr* addr, socklen_t len)
    int setsockopt(int fd, int level, int name, const void* value, socklen_t len)
    int getsockopt(int fd, int level, int name, void* value, socklen_t* len)
    ssize_t send(int fd, const void* buf, size_t n, int flags)
    ssize_t sendmsg(int fd, const msghdr* msg, int flags)
    int sendmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags)
    ssize_t recv(int fd, void* buf, size_t n, int flags)
    enum:
        AF_PACKET
        SOCK_RAW
        SOCK_NONBLOCK
        SOCK_CLOEXEC
        SOL_SOCKET
        SO_ERROR
        SO_ATTACH_FILTER
        MSG_DONTWAIT
        MSG_TRUNC

cdef extern from "<linux/filter.h>" nogil:
    cdef struct sock_filter:
        uint16_t code
        uint8_t jt
        uint8_t jf
        uint32_t k
    cdef struct sock_fprog:
        unsigned short len
        sock_filter* filter

cdef extern from "<linux/if_ether.h>" nogil:
    enum:
        ETH_P_ALL
        ETH_P_ARP

cdef extern from "<linux/if_packet.h>" nogil:
    cdef struct sockaddr_ll:
        unsigned short sll_family
        unsigned short sll_protocol
        int sll_ifindex
        unsigned short sll_hatype
        unsigned char sll_pkttype
        unsigned char sll_halen
        unsigned char sll_addr[8]
    cdef struct packet_mreq:
        int mr_ifindex
        unsigned short mr_type
        unsigned short mr_alen
        unsigned char mr_address[8]
    cdef struct tpacket_req:
        unsigned int tp_block_size
        unsigned int tp_block_nr
        unsigned int tp_frame_size
        unsigned int tp_frame_nr
    cdef struct tpacket_req3:
        unsigned int tp_block_size
        unsigned int tp_block_nr
        unsigned int tp_frame_size
        unsigned int tp_frame_nr
        unsigned int tp_retire_blk_tov
        unsigned int tp_sizeof_priv
        unsigned int tp_feature_req_word
    cdef struct tpacket_hdr_variant1:
        uint32_t tp_rxhash
        uint32_t tp_vlan_tci
        uint16_t tp_vlan_tpid
    cdef struct tpacket3_hdr:
        uint32_t tp_next_offset
        uint32_t tp_sec
        uint32_t tp_nsec
        uint32_t tp_snaplen
        uint32_t tp_len
        uint32_t tp_status
        uint16_t tp_mac
        uint16_t tp_net
        tpacket_hdr_variant1 hv1
    cdef struct tpacket_hdr_v1:
        uint32_t block_status
        uint32_t num_pkts
        uint32_t offset_to_first_pkt
        uint32_t blk_len
    cdef union tpacket_bd_header_u:
        tpacket_hdr_v1 bh1
    cdef struct tpacket_block_desc:
        uint32_t version
        uint32_t offset_to_priv
        tpacket_bd_header_u hdr
    cdef struct tpacket2_hdr:
        uint32_t tp_status
        uint32_t tp_len
        uint32_t tp_snaplen
        uint16_t tp_mac
        uint16_t tp_net
    cdef struct tpacket_stats_v3:
        unsigned int tp_packets
        unsigned int tp_drops
        unsigned int tp_freeze_q_cnt
    enum:
        SOL_PACKET
        PACKET_ADD_MEMBERSHIP
        PACKET_MR_PROMISC
        PACKET_RX_RING
        PACKET_TX_RING
        PACKET_STATISTICS
        PACKET_VERSION
        PACKET_LOSS
        PACKET_VNET_HDR
        PACKET_FANOUT
        PACKET_QDISC_BYPASS
        PACKET_IGNORE_OUTGOING
        PACKET_FANOUT_HASH
        PACKET_FANOUT_LB
        PACKET_FANOUT_CPU
        PACKET_FANOUT_ROLLOVER
        PACKET_FANOUT_RND
        PACKET_FANOUT_QM
        PACKET_FANOUT_FLAG_DEFRAG
        PACKET_OUTGOING
        TPACKET_V2
        TPACKET_V3
        TP_STATUS_KERNEL
        TP_STATUS_USER
        TP_STATUS_CSUMNOTREADY
        TP_STATUS_VLAN_VALID
        TP_STATUS_VLAN_TPID_VALID
        TP_STATUS_CSUM_VALID
        TP_STATUS_AVAILABLE
        TP_STATUS_SEND_REQUEST
        TP_STATUS_WRONG_FORMAT

cdef extern from "<linux/virtio_net.h>" nogil:
    cdef struct virtio_net_hdr:
        uint8_t flags
        uint8_t gso_type
        uint16_t hdr_len
        uint16_t gso_size
        uint16_t csum_start
        uint16_t csum_offset
    enum:
        VIRTIO_NET_HDR_F_NEEDS_CSUM
        VIRTIO_NET_HDR_F_DATA_VALID
        VIRTIO_NET_HDR_GSO_NONE
        VIRTIO_NET_HDR_GSO_TCPV4
        VIRTIO_NET_HDR_GSO_TCPV6
        VIRTIO_NET_HDR_GSO_ECN

cdef extern from "<linux/if_tun.h>" nogil:
    enum:
        TUNSETIFF
        TUNSETOFFLOAD
        IFF_TUN
        IFF_TAP
        IFF_NO_PI
        IFF_VNET_HDR
        IFF_MULTI_QUEUE
        TUN_F_CSUM
        TUN_F_TSO4
        TUN_F_TSO6
        TUN_F_TSO_ECN

cdef extern from "<sys/ioctl.h>" nogil:
    int ioctl(int fd, unsigned long request, ...)

cdef extern from "<net/if.h>" nogil:
    enum:
        IFNAMSIZ

cdef enum:
    ETHER_HEADER_LEN = 14
    VLAN_HEADER_LEN = 4
    VNET_HDR_LEN = 10                  # sizeof(struct virtio_net_hdr)
    EPOLL_IN = 1
    EPOLL_OUT = 4
    EPOLL_ERR = 8


import os as _os
# _socket, not socket: the wrapper imports enum and selectors and converts its
# constants to enums, ~0.1 s of a VM appliance's boot under emulation; these
# elements need only the C module's functions and plain sockets
import _socket
import struct as _struct
import fcntl as _fcntl
import sys as _sys

_SIOCGIFMTU = 0x8921
_SIOCSIFMTU = 0x8922
_SIOCGIFHWADDR = 0x8927
_SIOCSIFHWADDR = 0x8924
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_SIOCSIFADDR = 0x8916
_SIOCSIFNETMASK = 0x891C
_ARPHRD_ETHER = 1
_IFF_UP = 0x1
_IFF_NOARP = 0x80
_IFF_PROMISC = 0x100


def current_worker():
    """This process's worker (clickpy.workers.WorkerInfo), or None. Only a
    worker process has clickpy.workers imported (its parent imported it to
    fork it), so a one-process router does not import it (with pickle, re,
    signal, selectors: ~0.1 s of a VM appliance's boot under emulation)."""
    workers = _sys.modules.get("clickpy.workers")
    return workers.current_worker() if workers is not None else None


def ring_bytes_for_memory(size_t wanted) -> int:
    """`wanted`, or less on a machine with little memory (a small VM): the
    default rings take at most 1/32 of its memory each, so that a router with
    a few devices fits in 64 MB. Unchanged with 32 x `wanted` of memory or more."""
    cdef size_t memory = <size_t>_os.sysconf("SC_PHYS_PAGES") * <size_t>_os.sysconf("SC_PAGE_SIZE")
    return min(wanted, memory // 32)


def device_index(element, str name) -> int:
    """The interface index of `name` in this process's network namespace, or
    a ConfigError that names the device."""
    if not name or len(name.encode()) >= IFNAMSIZ:
        raise element.error(f"bad device name '{name}'")
    try:
        return _socket.if_nametoindex(name)
    except OSError:
        raise element.error(f"device '{name}' does not exist") from None


def _ifreq_ioctl(str name, int request) -> bytes:
    # a unix socket: the device ioctls work on any socket, and a kernel
    # without IPv4 (the VM appliance's) has no AF_INET sockets
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        return _fcntl.ioctl(s.fileno(), request, _struct.pack("16s24x", name.encode()))
    finally:
        s.close()


def device_mtu(str name) -> int:
    return _struct.unpack_from("i", _ifreq_ioctl(name, _SIOCGIFMTU), 16)[0]


def device_ether(str name) -> bytes:
    return _ifreq_ioctl(name, _SIOCGIFHWADDR)[18:24]


def device_is_up(str name) -> bool:
    return bool(_struct.unpack_from("H", _ifreq_ioctl(name, _SIOCGIFFLAGS), 16)[0] & _IFF_UP)


def _sockaddr_in(addr: int) -> bytes:
    return _struct.pack("=H", _socket.AF_INET) + _struct.pack("!HI8x", 0, addr)


def configure_interface(name: str, addr: int, mask: int, ether, mtu: int, arp: bool) -> None:
    """Give an interface its IPv4 address and mask (unless addr is 0), Ethernet
    address and MTU, and bring it up in promiscuous mode, as Click's
    KernelTun does with ifconfig. Raises OSError."""
    ifname = _struct.pack("16s", name.encode())
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        fd = s.fileno()
        if addr:
            _fcntl.ioctl(fd, _SIOCSIFADDR, ifname + _sockaddr_in(addr))
            _fcntl.ioctl(fd, _SIOCSIFNETMASK, ifname + _sockaddr_in(mask))
        if ether is not None:
            _fcntl.ioctl(fd, _SIOCSIFHWADDR, ifname + _struct.pack("=H", _ARPHRD_ETHER) + ether + bytes(8))
        if mtu:
            _fcntl.ioctl(fd, _SIOCSIFMTU, ifname + _struct.pack("=i20x", mtu))
        flags = _struct.unpack_from("=H", _fcntl.ioctl(fd, _SIOCGIFFLAGS, ifname + bytes(24)), 16)[0]
        flags |= _IFF_UP | _IFF_PROMISC
        if arp:
            flags &= ~_IFF_NOARP
        _fcntl.ioctl(fd, _SIOCSIFFLAGS, ifname + _struct.pack("=H22x", flags))
    finally:
        s.close()


def os_error(element, str what, int err):
    """A ConfigError naming the element, the operation and the system error,
    with a hint for the usual cause."""
    hint = ""
    if err in (EPERM, EACCES):
        hint = " (needs root or CAP_NET_RAW/CAP_NET_ADMIN)"
    elif err in (ENODEV, ENXIO):
        hint = " (is the device present and in this network namespace?)"
    return element.error(f"{what}: {_os.strerror(err)}{hint}")


cdef int set_int_option(int fd, int level, int name, int value) noexcept:
    return setsockopt(fd, level, name, &value, sizeof(int))


def open_packet_socket(element, str devname) -> int:
    """A non-blocking AF_PACKET socket, not yet bound (so no frame is queued
    before its ring exists)."""
    cdef int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
    if fd < 0:
        raise os_error(element, f"cannot open a packet socket for '{devname}'", errno)
    return fd


def bind_packet_socket(element, int fd, int ifindex, str devname, int protocol) -> None:
    cdef sockaddr_ll sll
    memset(&sll, 0, sizeof(sll))
    sll.sll_family = AF_PACKET
    sll.sll_protocol = ((protocol & 0xff) << 8) | ((protocol >> 8) & 0xff)   # network order
    sll.sll_ifindex = ifindex
    if bind(fd, <sockaddr*>&sll, sizeof(sll)) < 0:
        raise os_error(element, f"cannot bind a packet socket to '{devname}'", errno)


def socket_error(int fd) -> int:
    """Read and clear the socket's pending error (SO_ERROR)."""
    cdef int err = 0
    cdef socklen_t n = sizeof(int)
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n)
    return err


def attach_ether_type_filter(element, int fd, int ether_type, bint accept) -> None:
    """A classic BPF filter on the socket: keep only frames of `ether_type`
    (accept true) or every frame but those (accept false)."""
    cdef sock_filter code[4]
    cdef sock_fprog prog
    # ldh [12]; jeq #type, 0, 1; ret #keep_if_equal; ret #keep_otherwise
    code[0].code = 0x28; code[0].jt = 0; code[0].jf = 0; code[0].k = 12
    code[1].code = 0x15; code[1].jt = 0; code[1].jf = 1; code[1].k = ether_type
    code[2].code = 0x06; code[2].jt = 0; code[2].jf = 0; code[2].k = 0x40000 if accept else 0
    code[3].code = 0x06; code[3].jt = 0; code[3].jf = 0; code[3].k = 0 if accept else 0x40000
    prog.len = 4
    prog.filter = code
    if setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0:
        raise os_error(element, "cannot attach a socket filter", errno)
