/* vg_outbox.c: the outbox delivery thread. */
#include "vg_outbox.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_MOD "outbox"

struct vg_outbox {
    vg_outbox_config_t cfg;
    char name[64];
    pthread_t thread;
    atomic_bool stop, healthy;
    vg_counter_t m_delivered, m_failures;
    vg_hist_t m_delivery;
};

/* Sleeps ms in small steps, returning early when stopping. */
static void s_nap(vg_outbox_t *o, int ms)
{
    for (int left = ms; left > 0 && !atomic_load(&o->stop); left -= 10) usleep(10000);
}

static void *s_main(void *arg)
{
    vg_outbox_t *o = arg;
    vg_store_outbox_t batch = {0};
    int backoff = 0, failures_logged = 0;
    uint64_t last_maintain = 0;
    while (!atomic_load(&o->stop)) {
        uint64_t now = vg_now_ns();
        if (o->cfg.maintain &&
            (!last_maintain ||
             now - last_maintain >= (uint64_t) o->cfg.maintain_every_s * 1000000000u)) {
            o->cfg.maintain(o->cfg.ctx);
            last_maintain = now;
        }
        int rc = vg_store_outbox_take(o->cfg.store, o->cfg.sink, o->cfg.batch, &batch);
        if (!rc && batch.n == 0) {
            s_nap(o, o->cfg.idle_ms);
            continue;
        }
        uint64_t t0 = vg_now_ns();
        if (!rc) rc = o->cfg.deliver(o->cfg.ctx, batch.recs, batch.n);
        if (!rc) rc = vg_store_outbox_ack(o->cfg.store, o->cfg.sink, batch.last_seq);
        if (!rc) {
            vg_hist_observe_ns(&o->m_delivery, vg_now_ns() - t0);
            vg_counter_add(&o->m_delivered, batch.n);
            if (failures_logged) vg_info(S_MOD, "%s: delivering again", o->name);
            atomic_store(&o->healthy, true);
            backoff = failures_logged = 0;
            continue;
        }
        vg_counter_add(&o->m_failures, 1);
        atomic_store(&o->healthy, false);
        if (failures_logged++ == 0)
            vg_warn(S_MOD, "%s: delivery failed (%s): %zu+ anomalies wait in the outbox; retrying",
                    o->name, vg_strerror(rc), batch.n);
        backoff = backoff ? backoff * 2 : 100;
        if (backoff > o->cfg.max_backoff_ms) backoff = o->cfg.max_backoff_ms;
        s_nap(o, backoff);
    }
    vg_store_outbox_fini(&batch);
    return NULL;
}

int vg_outbox_start(const vg_outbox_config_t *cfg, vg_outbox_t **out)
{
    VG_ASSERT(cfg && cfg->store && cfg->deliver && out);
    vg_outbox_t *o = VG_NEW(vg_outbox_t);
    o->cfg = *cfg;
    const char *name = cfg->name ? cfg->name : vg_store_outbox_sink_name(cfg->store, cfg->sink);
    snprintf(o->name, sizeof o->name, "%s", name ? name : "?");
    o->cfg.name = o->name;
    if (!o->cfg.batch) o->cfg.batch = 2000;
    if (o->cfg.idle_ms <= 0) o->cfg.idle_ms = 20;
    if (o->cfg.max_backoff_ms <= 0) o->cfg.max_backoff_ms = 5000;
    if (o->cfg.maintain_every_s <= 0) o->cfg.maintain_every_s = 600;
    atomic_store(&o->healthy, true);
    vg_hist_init(&o->m_delivery, vg_hist_latency_bounds, vg_hist_latency_n);
    if (pthread_create(&o->thread, NULL, s_main, o)) {
        free(o);
        return VG_ERR_INTERNAL;
    }
    *out = o;
    return 0;
}

void vg_outbox_stop(vg_outbox_t **o_p)
{
    vg_outbox_t *o = o_p ? *o_p : NULL;
    if (!o) return;
    atomic_store(&o->stop, true);
    pthread_join(o->thread, NULL);
    free(o);
    *o_p = NULL;
}

bool vg_outbox_healthy(vg_outbox_t *o)
{
    return atomic_load(&o->healthy);
}

/* One sample per outbox of the value fn gives. */
static void s_samples(vg_outbox_t *const *obs, size_t n, vg_prom_t *p, const char *metric,
                      double (*fn)(vg_outbox_t *o))
{
    for (size_t i = 0; i < n; i++) {
        if (!obs[i]) continue;
        char label[96];
        snprintf(label, sizeof label, "sink=\"%s\"", obs[i]->name);
        vg_prom_sample(p, metric, label, fn(obs[i]));
    }
}

static double s_entries(vg_outbox_t *o)
{
    return (double) vg_store_outbox_count(o->cfg.store, o->cfg.sink);
}

static double s_delivered(vg_outbox_t *o)
{
    return (double) vg_counter_get(&o->m_delivered);
}

static double s_failures(vg_outbox_t *o)
{
    return (double) vg_counter_get(&o->m_failures);
}

void vg_outbox_metrics(vg_outbox_t *const *obs, size_t n, vg_prom_t *p)
{
    size_t live = 0;
    for (size_t i = 0; i < n; i++) live += obs[i] != NULL;
    if (!live) return;
    vg_prom_header(p, "vigil_outbox_entries", "gauge",
                   "Anomalies waiting in the outbox for a sink.");
    s_samples(obs, n, p, "vigil_outbox_entries", s_entries);
    vg_prom_header(p, "vigil_outbox_delivered_total", "counter", "Anomalies delivered to a sink.");
    s_samples(obs, n, p, "vigil_outbox_delivered_total", s_delivered);
    vg_prom_header(p, "vigil_outbox_failures_total", "counter", "Failed delivery attempts.");
    s_samples(obs, n, p, "vigil_outbox_failures_total", s_failures);
    vg_prom_header(p, "vigil_outbox_delivery_seconds", "histogram",
                   "Time to deliver and ack one batch.");
    for (size_t i = 0; i < n; i++) {
        if (!obs[i]) continue;
        char label[96];
        snprintf(label, sizeof label, "sink=\"%s\"", obs[i]->name);
        vg_prom_hist_series(p, "vigil_outbox_delivery_seconds", label, &obs[i]->m_delivery);
    }
}
