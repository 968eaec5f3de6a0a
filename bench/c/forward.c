/* The reference forwarder of bench/devices.py: the same kernel interfaces as
 * clickpy's FromDevice -> ToDevice, with nothing else around them, so the
 * benchmark can show what the kernel itself costs.
 *
 *   forward IN OUT [BURST]
 *
 * Receives on IN through a TPACKET_V3 ring (128 KiB x 256 blocks, 1 ms block
 * timeout, virtio-net header, outgoing frames ignored) and sends every frame
 * out of OUT through a TPACKET_V2 TX ring (1024 x 2048-byte slots, virtio-net
 * header whose hdr_len makes the kernel copy the whole frame into the skb),
 * copying each frame straight from the RX ring to a TX slot and kicking the
 * kernel once per batch of up to BURST (256) frames. Sleeps in poll(2) when
 * no block is ready, as clickpy sleeps in epoll. Runs until SIGTERM/SIGINT,
 * then prints "forwarded N" on stdout. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define RX_BLOCK_SIZE (1u << 17)
#define RX_BLOCKS 256u
#define TX_FRAME_SIZE 2048u
#define TX_FRAMES 1024u
#define TX_DATA_OFFSET (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))
#define VNET_LEN sizeof(struct virtio_net_hdr)

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void die(const char *what) { perror(what); exit(1); }

static int packet_socket(int version) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) die("socket");
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0) die("PACKET_VERSION");
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) die("PACKET_VNET_HDR");
    return fd;
}

static void bind_to(int fd, const char *dev, int protocol) {
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(protocol);
    sll.sll_ifindex = if_nametoindex(dev);
    if (!sll.sll_ifindex) die(dev);
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) die("bind");
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s IN OUT [BURST]\n", argv[0]);
        return 2;
    }
    unsigned burst = argc > 3 ? (unsigned)atoi(argv[3]) : 256;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    int rx = packet_socket(TPACKET_V3), one = 1;
    struct tpacket_req3 rq = {0};
    rq.tp_block_size = RX_BLOCK_SIZE;
    rq.tp_block_nr = RX_BLOCKS;
    rq.tp_frame_size = 2048;
    rq.tp_frame_nr = RX_BLOCK_SIZE / 2048 * RX_BLOCKS;
    rq.tp_retire_blk_tov = 1;
    if (setsockopt(rx, SOL_PACKET, PACKET_RX_RING, &rq, sizeof(rq)) < 0) die("PACKET_RX_RING");
    uint8_t *rx_ring = mmap(NULL, (size_t)RX_BLOCK_SIZE * RX_BLOCKS, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_POPULATE, rx, 0);
    if (rx_ring == MAP_FAILED) die("mmap rx");
    setsockopt(rx, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
    bind_to(rx, argv[1], ETH_P_ALL);

    int tx = packet_socket(TPACKET_V2);
    setsockopt(tx, SOL_PACKET, PACKET_LOSS, &one, sizeof(one));
    struct tpacket_req tq = {0};
    tq.tp_frame_size = TX_FRAME_SIZE;
    tq.tp_frame_nr = TX_FRAMES;
    tq.tp_block_size = 1u << 16;
    tq.tp_block_nr = TX_FRAMES * TX_FRAME_SIZE / tq.tp_block_size;
    if (setsockopt(tx, SOL_PACKET, PACKET_TX_RING, &tq, sizeof(tq)) < 0) die("PACKET_TX_RING");
    uint8_t *tx_ring = mmap(NULL, (size_t)TX_FRAMES * TX_FRAME_SIZE, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_POPULATE, tx, 0);
    if (tx_ring == MAP_FAILED) die("mmap tx");
    bind_to(tx, argv[2], 0);

    unsigned block = 0, head = 0, queued = 0;
    uint64_t forwarded = 0;
    struct pollfd pfd = {.fd = rx, .events = POLLIN};
    while (!stop) {
        struct tpacket_block_desc *b = (void *)(rx_ring + (size_t)block * RX_BLOCK_SIZE);
        if (!(__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
            if (queued) {
                send(tx, NULL, 0, MSG_DONTWAIT);
                queued = 0;
            }
            poll(&pfd, 1, 100);
            continue;
        }
        uint8_t *p = (uint8_t *)b + b->hdr.bh1.offset_to_first_pkt;
        for (unsigned i = 0; i < b->hdr.bh1.num_pkts; i++) {
            struct tpacket3_hdr *h = (void *)p;
            struct tpacket2_hdr *t = (void *)(tx_ring + (size_t)(head % TX_FRAMES) * TX_FRAME_SIZE);
            while (__atomic_load_n(&t->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE) {
                /* the TX ring is full: have the kernel send, then wait for room */
                send(tx, NULL, 0, MSG_DONTWAIT);
                queued = 0;
                struct pollfd w = {.fd = tx, .events = POLLOUT};
                poll(&w, 1, 2);
            }
            uint8_t *slot = (uint8_t *)t + TX_DATA_OFFSET;
            struct virtio_net_hdr *vh = (void *)slot;
            memset(vh, 0, VNET_LEN);
            vh->hdr_len = (uint16_t)h->tp_snaplen;
            memcpy(slot + VNET_LEN, p + h->tp_mac, h->tp_snaplen);
            t->tp_len = h->tp_snaplen + VNET_LEN;
            __atomic_store_n(&t->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
            head++;
            forwarded++;
            if (++queued >= burst) {
                send(tx, NULL, 0, MSG_DONTWAIT);
                queued = 0;
            }
            p += h->tp_next_offset;
        }
        __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        block = (block + 1) % RX_BLOCKS;
    }
    printf("forwarded %llu\n", (unsigned long long)forwarded);
    return 0;
}
