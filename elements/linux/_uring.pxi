# A minimal io_uring (raw system calls, no liburing) for batched writes to a
# TAP/TUN descriptor: one io_uring_enter submits a whole batch of writes,
# where write(2) costs a system call per packet. Not an element.

cdef extern from *:
    """
    #include <linux/io_uring.h>
    #include <sys/syscall.h>

    typedef struct clickpy_uring {
        int fd;
        unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
        unsigned *cq_head, *cq_tail, *cq_mask;
        struct io_uring_sqe *sqes;
        struct io_uring_cqe *cqes;
        void *sq_map, *cq_map;
        size_t sq_map_size, cq_map_size, sqes_size;
        unsigned sq_entries;
        unsigned pending;          /* submitted, not yet completed */
    } clickpy_uring;

    #ifndef IORING_SETUP_COOP_TASKRUN
    #define IORING_SETUP_COOP_TASKRUN (1U << 8)
    #endif
    #ifndef IORING_SETUP_SINGLE_ISSUER
    #define IORING_SETUP_SINGLE_ISSUER (1U << 12)
    #endif

    /* A ring whose writes all go to `target`, registered once as a fixed file
       (no file lookup per write). 0, or -errno (ENOSYS/EPERM where io_uring
       is unavailable or disabled). */
    static int clickpy_uring_init(clickpy_uring *r, unsigned entries, int target) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        memset(r, 0, sizeof(*r));
        r->fd = -1;
        /* one thread submits and reaps: no cross-thread wakeups needed */
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
        int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
        if (fd < 0 && errno == EINVAL) {           /* kernels before 6.0 */
            memset(&p, 0, sizeof(p));
            fd = (int)syscall(__NR_io_uring_setup, entries, &p);
        }
        if (fd < 0)
            return -errno;
        r->fd = fd;
        r->sq_entries = p.sq_entries;
        r->sq_map_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
        r->cq_map_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
        if (p.features & IORING_FEAT_SINGLE_MMAP) {
            if (r->cq_map_size > r->sq_map_size)
                r->sq_map_size = r->cq_map_size;
            r->cq_map_size = 0;
        }
        r->sq_map = mmap(NULL, r->sq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
        if (r->sq_map == MAP_FAILED) { r->sq_map = NULL; goto fail; }
        if (r->cq_map_size) {
            r->cq_map = mmap(NULL, r->cq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
            if (r->cq_map == MAP_FAILED) { r->cq_map = NULL; goto fail; }
        }
        char *sq = r->sq_map, *cq = r->cq_map ? r->cq_map : r->sq_map;
        r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
        r->sqes = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
        if (r->sqes == MAP_FAILED) { r->sqes = NULL; goto fail; }
        r->sq_head = (unsigned *)(sq + p.sq_off.head);
        r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
        r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
        r->sq_array = (unsigned *)(sq + p.sq_off.array);
        r->cq_head = (unsigned *)(cq + p.cq_off.head);
        r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
        r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
        r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
        if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_FILES, &target, 1) < 0)
            goto fail;
        return 0;
    fail: {
            int err = errno;
            if (r->sqes) munmap(r->sqes, r->sqes_size);
            if (r->cq_map) munmap(r->cq_map, r->cq_map_size);
            if (r->sq_map) munmap(r->sq_map, r->sq_map_size);
            close(fd);
            memset(r, 0, sizeof(*r));
            r->fd = -1;
            return -err;
        }
    }

    static void clickpy_uring_exit(clickpy_uring *r) {
        if (r->fd < 0)
            return;
        munmap(r->sqes, r->sqes_size);
        if (r->cq_map) munmap(r->cq_map, r->cq_map_size);
        munmap(r->sq_map, r->sq_map_size);
        close(r->fd);
        r->fd = -1;
    }

    /* Room for this many more submissions. */
    static inline unsigned clickpy_uring_space(const clickpy_uring *r) {
        return r->sq_entries - r->pending;
    }

    static inline void clickpy_uring_prep_write(clickpy_uring *r, const void *buf, unsigned len,
                                                uint64_t user_data) {
        unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask;
        struct io_uring_sqe *sqe = &r->sqes[idx];
        memset(sqe, 0, sizeof(*sqe));
        sqe->opcode = IORING_OP_WRITE;
        sqe->flags = IOSQE_FIXED_FILE;
        sqe->fd = 0;                      /* the registered target */
        sqe->addr = (uint64_t)(uintptr_t)buf;
        sqe->len = len;
        sqe->off = (uint64_t)-1;          /* the file's position: a stream */
        sqe->user_data = user_data;
        r->sq_array[idx] = idx;
        __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
    }

    /* Submit the n entries prepared last, in order; returns how many the
       kernel took (the first ones). Entries it did not take are withdrawn,
       so their buffers are the caller's again. */
    static inline unsigned clickpy_uring_submit(clickpy_uring *r, unsigned n) {
        unsigned done = 0;
        while (done < n) {
            int ret = (int)syscall(__NR_io_uring_enter, r->fd, n - done, 0, 0, NULL, 0);
            if (ret < 0 && errno == EINTR)
                continue;
            if (ret <= 0)
                break;
            done += (unsigned)ret;
        }
        if (done < n)
            __atomic_store_n(r->sq_tail, __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
        r->pending += done;
        return done;
    }

    /* Wait until at least one submission completes (cleanup). */
    static inline int clickpy_uring_wait(clickpy_uring *r) {
        int ret;
        do {
            ret = (int)syscall(__NR_io_uring_enter, r->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0);
        } while (ret < 0 && errno == EINTR);
        return ret < 0 ? -errno : 0;
    }

    /* Take up to max completions: their user_data and result. */
    static inline unsigned clickpy_uring_reap(clickpy_uring *r, uint64_t *user, int32_t *res, unsigned max) {
        unsigned head = *r->cq_head, tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE), n = 0;
        while (head != tail && n < max) {
            struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
            user[n] = c->user_data;
            res[n] = c->res;
            n++;
            head++;
        }
        __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
        r->pending -= n;
        return n;
    }
    """
    ctypedef struct Uring "clickpy_uring":
        int fd
        unsigned pending
    int uring_init "clickpy_uring_init"(Uring* r, unsigned entries, int target) noexcept nogil
    void uring_exit "clickpy_uring_exit"(Uring* r) noexcept nogil
    unsigned uring_space "clickpy_uring_space"(const Uring* r) noexcept nogil
    void uring_prep_write "clickpy_uring_prep_write"(Uring* r, const void* buf, unsigned len,
                                                    uint64_t user_data) noexcept nogil
    unsigned uring_submit "clickpy_uring_submit"(Uring* r, unsigned n) noexcept nogil
    int uring_wait "clickpy_uring_wait"(Uring* r) noexcept nogil
    unsigned uring_reap "clickpy_uring_reap"(Uring* r, uint64_t* user, int32_t* res, unsigned max) noexcept nogil
