/* lg_hist.h: an HDR-style latency histogram: log-linear buckets (128
 * sub-buckets per power of two, so any recorded value is reported within
 * 0.4 %), constant memory, O(1) record. Counters are relaxed atomics: one
 * thread records, others may read percentiles while it does. */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define LG_HIST_SUB_BITS 7
#define LG_HIST_SUB      (1u << LG_HIST_SUB_BITS)
#define LG_HIST_BUCKETS  ((64 - LG_HIST_SUB_BITS + 1) * LG_HIST_SUB)

typedef struct {
    _Atomic uint64_t counts[LG_HIST_BUCKETS];
    _Atomic uint64_t n, sum, max;
} lg_hist_t;

/* Zeroes h (a zero-filled lg_hist_t is also valid). */
void lg_hist_init(lg_hist_t *h);
/* Records one value (any unit; vigil-loadgen records nanoseconds). */
void lg_hist_record(lg_hist_t *h, uint64_t v);
/* Adds src's counts into dst. */
void lg_hist_merge(lg_hist_t *dst, const lg_hist_t *src);
uint64_t lg_hist_count(const lg_hist_t *h);
uint64_t lg_hist_max(const lg_hist_t *h);
double lg_hist_mean(const lg_hist_t *h);
/* The value at quantile q (0..1): the smallest recorded value v such that
 * at least ceil(q * n) values are <= v, reported as its bucket's midpoint
 * (never above the maximum). 0 when empty. */
uint64_t lg_hist_quantile(const lg_hist_t *h, double q);

/* Bucket index of v and the bucket's [lo, lo + width) range (exposed for tests). */
uint32_t lg_hist_index(uint64_t v);
void lg_hist_bucket(uint32_t idx, uint64_t *lo, uint64_t *width);

#endif
