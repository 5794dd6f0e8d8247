/* vg_metrics.c: histogram bucketing and Prometheus text format 0.0.4. */
#include "vg_metrics.h"

#include "vg_mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const double vg_hist_latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,     2.5,   5,    10};
const int vg_hist_latency_n = (int) VG_ARRAY_LEN(vg_hist_latency_bounds);

void vg_hist_init(vg_hist_t *h, const double *bounds, int n_bounds)
{
    VG_ASSERT(n_bounds <= VG_HIST_MAX_BUCKETS);
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->n_bounds = n_bounds;
}

void vg_hist_observe_ns(vg_hist_t *h, uint64_t ns)
{
    double s = (double) ns / 1e9;
    int i = 0;
    while (i < h->n_bounds && s > h->bounds[i]) i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

double vg_hist_quantile(const vg_hist_t *h, double q)
{
    uint64_t total = 0, counts[VG_HIST_MAX_BUCKETS + 1];
    for (int i = 0; i <= h->n_bounds; i++)
        total += counts[i] =
            atomic_load_explicit(&((vg_hist_t *) h)->counts[i], memory_order_relaxed);
    if (!total) return 0;
    double rank = q * (double) total, seen = 0;
    for (int i = 0; i <= h->n_bounds; i++) {
        if (seen + (double) counts[i] >= rank) {
            double lo = i ? h->bounds[i - 1] : 0;
            double hi = i < h->n_bounds ? h->bounds[i] : h->bounds[h->n_bounds - 1] * 2;
            double frac = counts[i] ? (rank - seen) / (double) counts[i] : 0;
            return lo + (hi - lo) * frac;
        }
        seen += (double) counts[i];
    }
    return h->bounds[h->n_bounds - 1];
}

void vg_prom_init(vg_prom_t *p)
{
    memset(p, 0, sizeof *p);
}

void vg_prom_fini(vg_prom_t *p)
{
    free(p->buf);
    memset(p, 0, sizeof *p);
}

void vg_prom_printf(vg_prom_t *p, const char *fmt, ...)
{
    for (;;) {
        size_t room = p->cap - p->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(p->buf ? p->buf + p->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t) n < room) {
            p->len += (size_t) n;
            return;
        }
        p->cap = p->cap ? p->cap * 2 : 4096;
        while (p->cap - p->len <= (size_t) n) p->cap *= 2;
        p->buf = vg_realloc(p->buf, p->cap);
    }
}

void vg_prom_header(vg_prom_t *p, const char *name, const char *type, const char *help)
{
    vg_prom_printf(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void vg_prom_sample(vg_prom_t *p, const char *name, const char *labels, double value)
{
    if (labels && *labels)
        vg_prom_printf(p, "%s{%s} %.17g\n", name, labels, value);
    else
        vg_prom_printf(p, "%s %.17g\n", name, value);
}

void vg_prom_hist(vg_prom_t *p, const char *name, const char *help, const vg_hist_t *h)
{
    vg_prom_header(p, name, "histogram", help);
    vg_prom_hist_series(p, name, NULL, h);
}

void vg_prom_hist_series(vg_prom_t *p, const char *name, const char *labels, const vg_hist_t *h)
{
    vg_hist_t *m = (vg_hist_t *) h;
    const char *l = labels && labels[0] ? labels : "", *sep = l[0] ? "," : "";
    uint64_t cum = 0;
    for (int i = 0; i <= h->n_bounds; i++) {
        cum += atomic_load_explicit(&m->counts[i], memory_order_relaxed);
        if (i < h->n_bounds)
            vg_prom_printf(p, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, l, sep, h->bounds[i],
                           (unsigned long long) cum);
        else
            vg_prom_printf(p, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, l, sep,
                           (unsigned long long) cum);
    }
    const char *lb = l[0] ? "{" : "", *rb = l[0] ? "}" : "";
    vg_prom_printf(p, "%s_sum%s%s%s %.9f\n%s_count%s%s%s %llu\n", name, lb, l, rb,
                   (double) atomic_load_explicit(&m->sum_ns, memory_order_relaxed) / 1e9, name, lb,
                   l, rb,
                   (unsigned long long) atomic_load_explicit(&m->count, memory_order_relaxed));
}
