/* vg_time.h: clocks. Monotonic nanoseconds for durations and deadlines,
 * wall-clock milliseconds since the Unix epoch for timestamps. */
#ifndef VG_TIME_H
#define VG_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t vg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static inline int64_t vg_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
