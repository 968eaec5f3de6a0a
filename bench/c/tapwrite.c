/* The reference TAP writer of bench/devices.py: writes one 60-byte Ethernet
 * frame over and over into a TAP device it creates, with nothing else
 * around the system calls, so the benchmark can show what the kernel itself
 * costs per frame written.
 *
 *   tapwrite DEVNAME METHOD [OPTION...]      METHOD: write | uring
 *
 *   write    one write(2) per frame
 *   uring    io_uring: BURST (256) IORING_OP_WRITE entries per io_uring_enter,
 *            the descriptor registered as a fixed file (as KernelTap does)
 *
 * Options (for experiments): novnet (no virtio-net header), napi (IFF_NAPI),
 * distinct (uring: copy the frame into one of BURST buffers 2 KiB apart before
 * each write, as a packet pool would hand over distinct buffers), burst=N. The frame is the hex string in the environment variable FRAME.
 * The device is brought up (promiscuous, as KernelTap does) by the caller.
 * Runs until SIGTERM/SIGINT, then prints "written N" on stdout. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IFF_NAPI
#define IFF_NAPI 0x0010
#endif

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }
static void die(const char *what) { perror(what); exit(1); }

struct uring {
    int fd;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
};

static void uring_init(struct uring *r, unsigned entries, int target) {
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
    if (r->fd < 0) die("io_uring_setup");
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (cq_size > sq_size) sq_size = cq_size;          /* IORING_FEAT_SINGLE_MMAP */
    char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
    r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
    if (sq == MAP_FAILED || r->sqes == MAP_FAILED) die("mmap io_uring");
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(sq + p.cq_off.head);
    r->cq_tail = (unsigned *)(sq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(sq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(sq + p.cq_off.cqes);
    if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_FILES, &target, 1) < 0) die("register");
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s DEVNAME write|uring [novnet] [napi] [burst=N]\n", argv[0]);
        return 2;
    }
    int vnet = 1, napi = 0, distinct = 0;
    unsigned burst = 256;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "novnet")) vnet = 0;
        else if (!strcmp(argv[i], "napi")) napi = 1;
        else if (!strcmp(argv[i], "distinct")) distinct = 1;
        else if (!strncmp(argv[i], "burst=", 6)) burst = (unsigned)atoi(argv[i] + 6);
    }
    const char *hex = getenv("FRAME");
    if (!hex) { fprintf(stderr, "FRAME not set\n"); return 2; }
    uint8_t frame[2048];
    size_t hdr = vnet ? sizeof(struct virtio_net_hdr) : 0, len = hdr;
    memset(frame, 0, hdr);              /* no offload: an all-zero virtio-net header */
    for (; hex[0] && hex[1] && len < sizeof(frame); hex += 2)
        sscanf(hex, "%2hhx", &frame[len++]);

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) die("/dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0) | (napi ? IFF_NAPI : 0);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
    /* ready: the caller configures the device once it exists */
    printf("ready\n");
    fflush(stdout);

    uint64_t written = 0;
    if (!strcmp(argv[2], "write")) {
        while (!stop)
            if (write(fd, frame, len) == (ssize_t)len)
                written++;
    } else if (!strcmp(argv[2], "uring")) {
        struct uring r;
        uring_init(&r, 2 * burst, fd);
        uint8_t *buffers = distinct ? malloc((size_t)burst * 2048) : NULL;
        if (distinct && !buffers) die("malloc");
        while (!stop) {
            unsigned tail = *r.sq_tail;
            for (unsigned i = 0; i < burst; i++, tail++) {
                unsigned idx = tail & *r.sq_mask;
                struct io_uring_sqe *sqe = &r.sqes[idx];
                memset(sqe, 0, sizeof(*sqe));
                sqe->opcode = IORING_OP_WRITE;
                sqe->flags = IOSQE_FIXED_FILE;
                uint8_t *buf = frame;
                if (distinct) {
                    buf = buffers + (size_t)i * 2048 + 128;
                    memcpy(buf, frame, len);
                }
                sqe->addr = (uint64_t)(uintptr_t)buf;
                sqe->len = (unsigned)len;
                sqe->off = (uint64_t)-1;
                r.sq_array[idx] = idx;
            }
            __atomic_store_n(r.sq_tail, tail, __ATOMIC_RELEASE);
            if (syscall(__NR_io_uring_enter, r.fd, burst, 0, 0, NULL, 0) < 0 && errno != EINTR)
                die("io_uring_enter");
            unsigned head = *r.cq_head, ctail = __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE);
            for (; head != ctail; head++)
                if (r.cqes[head & *r.cq_mask].res == (int)len)
                    written++;
            __atomic_store_n(r.cq_head, head, __ATOMIC_RELEASE);
        }
    } else {
        fprintf(stderr, "unknown method %s\n", argv[2]);
        return 2;
    }
    printf("written %llu\n", (unsigned long long)written);
    return 0;
}
