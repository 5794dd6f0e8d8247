/* vg_outbox.c: the outbox delivery thread. */
#include "vg_outbox.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define S_MOD "outbox"

struct vg_outbox {
    vg_outbox_config_t cfg;
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
        int rc = vg_store_outbox_take(o->cfg.store, o->cfg.batch, &batch);
        if (!rc && batch.n == 0) {
            s_nap(o, o->cfg.idle_ms);
            continue;
        }
        uint64_t t0 = vg_now_ns();
        if (!rc) rc = o->cfg.deliver(o->cfg.ctx, batch.recs, batch.n);
        if (!rc) rc = vg_store_outbox_ack(o->cfg.store, batch.last_seq);
        if (!rc) {
            vg_hist_observe_ns(&o->m_delivery, vg_now_ns() - t0);
            vg_counter_add(&o->m_delivered, batch.n);
            if (failures_logged) vg_info(S_MOD, "delivering again");
            atomic_store(&o->healthy, true);
            backoff = failures_logged = 0;
            continue;
        }
        vg_counter_add(&o->m_failures, 1);
        atomic_store(&o->healthy, false);
        if (failures_logged++ == 0)
            vg_warn(S_MOD, "delivery failed (%s): %zu+ anomalies wait in the outbox; retrying",
                    vg_strerror(rc), batch.n);
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

void vg_outbox_metrics(vg_outbox_t *o, vg_prom_t *p)
{
    vg_prom_header(p, "vigil_outbox_entries", "gauge",
                   "Anomalies waiting in the outbox for the external store.");
    vg_prom_sample(p, "vigil_outbox_entries", NULL, (double) vg_store_outbox_count(o->cfg.store));
    vg_prom_header(p, "vigil_outbox_delivered_total", "counter", "Anomalies delivered.");
    vg_prom_sample(p, "vigil_outbox_delivered_total", NULL,
                   (double) vg_counter_get(&o->m_delivered));
    vg_prom_header(p, "vigil_outbox_failures_total", "counter", "Failed delivery attempts.");
    vg_prom_sample(p, "vigil_outbox_failures_total", NULL, (double) vg_counter_get(&o->m_failures));
    vg_prom_hist(p, "vigil_outbox_delivery_seconds", "Time to deliver and ack one batch.",
                 &o->m_delivery);
}
