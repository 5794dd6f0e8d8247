/* vg_metrics.h: lock-free counters, gauges and fixed-bucket histograms,
 * and their Prometheus text exposition. Metrics are plain structs the
 * owning module embeds (static storage or inside its object); updates are
 * relaxed atomics, safe from any thread. */
#ifndef VG_METRICS_H
#define VG_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    _Atomic uint64_t v;
} vg_counter_t;

static inline void vg_counter_add(vg_counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

static inline uint64_t vg_counter_get(const vg_counter_t *c)
{
    return atomic_load_explicit(&((vg_counter_t *) c)->v, memory_order_relaxed);
}

#define VG_HIST_MAX_BUCKETS 24

/* Histogram of durations in seconds, cumulative buckets per Prometheus. */
typedef struct {
    const double *bounds; /* upper bounds, ascending, n_bounds of them (+Inf implied) */
    int n_bounds;
    _Atomic uint64_t counts[VG_HIST_MAX_BUCKETS + 1];
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t count;
} vg_hist_t;

/* Latency bounds from 100 us to 10 s, for request/commit timings. */
extern const double vg_hist_latency_bounds[];
extern const int vg_hist_latency_n;

void vg_hist_init(vg_hist_t *h, const double *bounds, int n_bounds);
void vg_hist_observe_ns(vg_hist_t *h, uint64_t ns);
/* Approximate quantile q (0..1) in seconds from the buckets. */
double vg_hist_quantile(const vg_hist_t *h, double q);

/* Text exposition into a growing buffer. */
typedef struct {
    char *buf;
    size_t len, cap;
} vg_prom_t;

void vg_prom_init(vg_prom_t *p);
void vg_prom_fini(vg_prom_t *p);
/* "# HELP name help\n# TYPE name type\n" */
void vg_prom_header(vg_prom_t *p, const char *name, const char *type, const char *help);
/* "name{labels} value\n"; labels may be NULL or "" */
void vg_prom_sample(vg_prom_t *p, const char *name, const char *labels, double value);
/* The _bucket/_sum/_count series of a histogram (header included). */
void vg_prom_hist(vg_prom_t *p, const char *name, const char *help, const vg_hist_t *h);
/* The same series without the header, with labels ("k=\"v\"", may be
 * NULL): one histogram of a labelled family. */
void vg_prom_hist_series(vg_prom_t *p, const char *name, const char *labels, const vg_hist_t *h);
void vg_prom_printf(vg_prom_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
