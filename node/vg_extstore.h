/* vg_extstore.h: the PostgreSQL anomaly store as a node uses it: anomalies
 * leave through the LMDB outbox (vg_outbox) into PostgreSQL, and the
 * node's API reads them back from there. PostgreSQL may be down at start
 * or at any time: the connection is (re)opened by the delivery thread, the
 * outbox keeps everything meanwhile, and queries answer 503 until it is
 * back. */
#ifndef VG_EXTSTORE_H
#define VG_EXTSTORE_H

#include "vg_anomaly.h"
#include "vg_metrics.h"
#include "vg_outbox.h"
#include "vg_store.h"

#include <stdbool.h>

typedef struct {
    const char *dsn;    /* libpq connection string (copied) */
    int pool_size;      /* 0 = 4 */
    int retention_days; /* 0 = keep every partition */
    vg_store_t *store;  /* opened with cfg.outbox */
    uint32_t sink;      /* the store's outbox sink delivering to PostgreSQL (named "postgres") */
} vg_extstore_config_t;

typedef struct vg_extstore vg_extstore_t;

/* Starts the delivery thread (which connects); never fails for a
 * PostgreSQL that is down. */
int vg_extstore_start(const vg_extstore_config_t *cfg, vg_extstore_t **out);
void vg_extstore_stop(vg_extstore_t **x_p);

/* The anomaly queries of vg_api_backend_t; VG_ERR_UNREACHABLE while not
 * connected. Any thread. */
int vg_extstore_query(vg_extstore_t *x, const vg_anomaly_query_t *q, vg_anomaly_fn *fn, void *arg,
                      char *next_cursor, size_t cap);
int vg_extstore_get(vg_extstore_t *x, vg_str_t id, vg_anomaly_fn *fn, void *arg);
int vg_extstore_stats(vg_extstore_t *x, int64_t from_ms, int64_t to_ms, int64_t bucket_ms,
                      vg_bucket_fn *fn, void *arg);

/* vigil_pg_connected and the store's metrics (the outbox's are
 * vg_outbox_metrics of vg_extstore_outbox). */
void vg_extstore_metrics(vg_extstore_t *x, vg_prom_t *p);
/* The outbox delivery thread (for vg_outbox_metrics / vg_outbox_healthy). */
vg_outbox_t *vg_extstore_outbox(vg_extstore_t *x);

#endif
