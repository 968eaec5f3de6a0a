# Helpers shared by the standard elements (not an element).

cdef inline uint64_t coarse_ns() noexcept nogil:
    """A cheap clock for statistics (a few ms resolution)."""
    cdef timespec_c ts
    clock_gettime_c(CLOCK_MONOTONIC_COARSE_C, &ts)
    return <uint64_t>ts.tv_sec * 1000000000ULL + <uint64_t>ts.tv_nsec

cdef extern from "<time.h>" nogil:
    cdef struct timespec_c "timespec":
        long tv_sec
        long tv_nsec
    int clock_gettime_c "clock_gettime"(int clk, timespec_c* ts)
    int CLOCK_MONOTONIC_COARSE_C "CLOCK_MONOTONIC_COARSE"


def _parse_limit(text):
    """Click's LIMIT: an integer; negative means no limit."""
    return INT(text)


cdef class RateEWMA:
    """Packets (or bytes) per second as an exponentially weighted moving
    average over 1/16 s epochs with a weight of 1/8 per epoch (about a
    half-second memory), updated once per batch."""
    cdef uint64_t epoch_start
    cdef uint64_t epoch_count
    cdef double rate

    cdef inline void update(self, uint64_t now, uint64_t amount) noexcept:
        if now - self.epoch_start >= 62500000ULL:
            self._roll(now)
        self.epoch_count += amount

    cdef void _roll(self, uint64_t now) noexcept:
        cdef uint64_t epochs = (now - self.epoch_start) // 62500000ULL
        cdef double sample = self.epoch_count * 16.0
        self.rate += (sample - self.rate) / 8.0
        if epochs > 1:
            # idle epochs decay the average
            self.rate *= (7.0 / 8.0) ** <double>min(epochs - 1, 1000)
        self.epoch_start += epochs * 62500000ULL
        self.epoch_count = 0

    cdef double current(self, uint64_t now) noexcept:
        if self.epoch_start == 0:
            return 0.0
        if now - self.epoch_start >= 62500000ULL:
            self._roll(now)
        return self.rate

    cdef void reset(self) noexcept:
        self.epoch_start = 0
        self.epoch_count = 0
        self.rate = 0.0
