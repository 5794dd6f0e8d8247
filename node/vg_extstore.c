/* vg_extstore.c: vg_pg opened lazily by the outbox thread, shared with the
 * HTTP threads through an atomic pointer (never closed before stop). */
#include "vg_extstore.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_outbox.h"
#include "vg_pg.h"

#include <stdatomic.h>
#include <string.h>

#define S_MOD "extstore"

struct vg_extstore {
    vg_extstore_config_t cfg;
    char *dsn;
    _Atomic(vg_pg_t *) pg;
    vg_outbox_t *outbox;
    bool warned;
};

/* The connection, opened on first need (outbox thread only opens). */
static vg_pg_t *s_pg(vg_extstore_t *x, bool open)
{
    vg_pg_t *pg = atomic_load(&x->pg);
    if (pg || !open) return pg;
    vg_pg_config_t pc = {
        .dsn = x->dsn, .pool_size = x->cfg.pool_size, .retention_days = x->cfg.retention_days};
    char err[512];
    if (vg_pg_open(&pc, &pg, err, sizeof err)) {
        if (!x->warned)
            vg_warn(S_MOD, "PostgreSQL not available yet: %s (anomalies wait in the outbox)", err);
        x->warned = true;
        return NULL;
    }
    vg_info(S_MOD, "PostgreSQL connected; migrations applied");
    x->warned = false;
    atomic_store(&x->pg, pg);
    return pg;
}

static int s_deliver(void *ctx, const vg_str_t *recs, size_t n)
{
    vg_extstore_t *x = ctx;
    vg_pg_t *pg = s_pg(x, true);
    if (!pg) return VG_ERR_UNREACHABLE;
    /* a record the store refuses (INVALID; *inserted = its index) would
     * block the outbox forever: it is logged and set aside, the rest goes */
    for (size_t off = 0; off < n;) {
        size_t inserted = 0;
        int rc = vg_pg_insert(pg, recs + off, n - off, &inserted);
        if (rc != VG_ERR_INVALID) return rc;
        vg_error(S_MOD, "an outbox record (%u bytes) is refused by PostgreSQL: set aside",
                 recs[off + inserted].len);
        off += inserted + 1;
    }
    return 0;
}

static void s_maintain(void *ctx)
{
    vg_extstore_t *x = ctx;
    vg_pg_t *pg = s_pg(x, true);
    int rc = pg ? vg_pg_maintain(pg) : 0;
    if (rc) vg_warn(S_MOD, "partition maintenance failed: %s (retried later)", vg_strerror(rc));
}

int vg_extstore_start(const vg_extstore_config_t *cfg, vg_extstore_t **out)
{
    VG_ASSERT(cfg && cfg->dsn && cfg->store && out);
    vg_extstore_t *x = VG_NEW(vg_extstore_t);
    x->cfg = *cfg;
    x->dsn = vg_strdup(cfg->dsn);
    x->cfg.dsn = x->dsn;
    vg_outbox_config_t oc = {.store = cfg->store,
                             .sink = cfg->sink,
                             .name = "postgres",
                             .deliver = s_deliver,
                             .maintain = s_maintain,
                             .ctx = x,
                             .maintain_every_s = 600};
    int rc = vg_outbox_start(&oc, &x->outbox);
    if (rc) {
        free(x->dsn);
        free(x);
        return rc;
    }
    *out = x;
    return 0;
}

void vg_extstore_stop(vg_extstore_t **x_p)
{
    vg_extstore_t *x = x_p ? *x_p : NULL;
    if (!x) return;
    vg_outbox_stop(&x->outbox);
    vg_pg_t *pg = atomic_load(&x->pg);
    vg_pg_close(&pg);
    free(x->dsn);
    free(x);
    *x_p = NULL;
}

int vg_extstore_query(vg_extstore_t *x, const vg_anomaly_query_t *q, vg_anomaly_fn *fn, void *arg,
                      char *next_cursor, size_t cap)
{
    vg_pg_t *pg = s_pg(x, false);
    return pg ? vg_pg_anomaly_query(pg, q, fn, arg, next_cursor, cap) : VG_ERR_UNREACHABLE;
}

int vg_extstore_get(vg_extstore_t *x, vg_str_t id, vg_anomaly_fn *fn, void *arg)
{
    vg_pg_t *pg = s_pg(x, false);
    return pg ? vg_pg_anomaly_get(pg, id, fn, arg) : VG_ERR_UNREACHABLE;
}

int vg_extstore_stats(vg_extstore_t *x, int64_t from_ms, int64_t to_ms, int64_t bucket_ms,
                      vg_bucket_fn *fn, void *arg)
{
    vg_pg_t *pg = s_pg(x, false);
    return pg ? vg_pg_anomaly_stats(pg, from_ms, to_ms, bucket_ms, fn, arg) : VG_ERR_UNREACHABLE;
}

vg_outbox_t *vg_extstore_outbox(vg_extstore_t *x)
{
    return x->outbox;
}

void vg_extstore_metrics(vg_extstore_t *x, vg_prom_t *p)
{
    vg_pg_t *pg = s_pg(x, false);
    vg_prom_header(p, "vigil_pg_connected", "gauge", "1 when PostgreSQL is connected.");
    vg_prom_sample(p, "vigil_pg_connected", NULL, pg && vg_pg_healthy(pg) ? 1 : 0);
    if (pg) vg_pg_metrics(pg, p);
}
