/* lg_hist.c: log-linear histogram. Values below 2^(SUB_BITS+1) have exact
 * buckets; above, each power of two [2^e, 2^(e+1)) is split into SUB equal
 * buckets of width 2^(e - SUB_BITS). */
#include "lg_hist.h"

#include <math.h>
#include <string.h>

#define R memory_order_relaxed

void lg_hist_init(lg_hist_t *h)
{
    memset(h, 0, sizeof *h);
}

uint32_t lg_hist_index(uint64_t v)
{
    if (v < LG_HIST_SUB) return (uint32_t) v;
    int e = 63 - __builtin_clzll(v); /* >= SUB_BITS */
    int shift = e - LG_HIST_SUB_BITS;
    return (uint32_t) (shift + 1) * LG_HIST_SUB + (uint32_t) (v >> shift) - LG_HIST_SUB;
}

void lg_hist_bucket(uint32_t idx, uint64_t *lo, uint64_t *width)
{
    if (idx < 2 * LG_HIST_SUB) {
        *lo = idx, *width = 1;
        return;
    }
    uint32_t shift = idx / LG_HIST_SUB - 1;
    *lo = (uint64_t) (idx % LG_HIST_SUB + LG_HIST_SUB) << shift;
    *width = 1ull << shift;
}

void lg_hist_record(lg_hist_t *h, uint64_t v)
{
    atomic_fetch_add_explicit(&h->counts[lg_hist_index(v)], 1, R);
    atomic_fetch_add_explicit(&h->n, 1, R);
    atomic_fetch_add_explicit(&h->sum, v, R);
    uint64_t m = atomic_load_explicit(&h->max, R);
    while (v > m && !atomic_compare_exchange_weak_explicit(&h->max, &m, v, R, R)) {
    }
}

void lg_hist_merge(lg_hist_t *dst, const lg_hist_t *src)
{
    lg_hist_t *s = (lg_hist_t *) src; /* atomic loads need a non-const object */
    for (uint32_t i = 0; i < LG_HIST_BUCKETS; i++) {
        uint64_t c = atomic_load_explicit(&s->counts[i], R);
        if (c) atomic_fetch_add_explicit(&dst->counts[i], c, R);
    }
    atomic_fetch_add_explicit(&dst->n, atomic_load_explicit(&s->n, R), R);
    atomic_fetch_add_explicit(&dst->sum, atomic_load_explicit(&s->sum, R), R);
    uint64_t m = atomic_load_explicit(&s->max, R);
    if (m > atomic_load_explicit(&dst->max, R)) atomic_store_explicit(&dst->max, m, R);
}

uint64_t lg_hist_count(const lg_hist_t *h)
{
    return atomic_load_explicit(&((lg_hist_t *) h)->n, R);
}

uint64_t lg_hist_max(const lg_hist_t *h)
{
    return atomic_load_explicit(&((lg_hist_t *) h)->max, R);
}

double lg_hist_mean(const lg_hist_t *h)
{
    uint64_t n = lg_hist_count(h);
    return n ? (double) atomic_load_explicit(&((lg_hist_t *) h)->sum, R) / (double) n : 0;
}

uint64_t lg_hist_quantile(const lg_hist_t *h, double q)
{
    lg_hist_t *s = (lg_hist_t *) h;
    uint64_t n = 0;
    for (uint32_t i = 0; i < LG_HIST_BUCKETS; i++) n += atomic_load_explicit(&s->counts[i], R);
    if (!n) return 0;
    q = q < 0 ? 0 : q > 1 ? 1 : q;
    uint64_t rank = (uint64_t) ceil(q * (double) n);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += atomic_load_explicit(&s->counts[i], R);
        if (seen >= rank) {
            uint64_t lo, width, max = lg_hist_max(h);
            lg_hist_bucket(i, &lo, &width);
            uint64_t mid = lo + width / 2;
            return max && mid > max ? max : mid;
        }
    }
    return lg_hist_max(h);
}
