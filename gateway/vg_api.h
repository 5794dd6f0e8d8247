/* vg_api.h: Vigil's REST API under /v1 plus /healthz, /readyz, /metrics
 * and the dashboard at /. Independent of where scoring and storage live:
 * the API calls a backend (in-process engine + store in `vigil-node
 * --gateway`; remote nodes later). */
#ifndef VG_API_H
#define VG_API_H

#include "vg_anomaly.h"
#include "vg_arena.h"
#include "vg_http.h"
#include "vg_jw.h"
#include "vg_metrics.h"
#include "vg_tx.h"
#include "vg_verdict.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    void *ctx;
    /* Scores n valid transactions (see vg_engine_score for the contract). */
    int (*score)(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out, vg_arena_t *arena);
    int (*anomaly_query)(void *ctx, const vg_anomaly_query_t *q, vg_anomaly_fn *fn, void *arg,
                         char *next_cursor, size_t cap);
    int (*anomaly_get)(void *ctx, vg_str_t id, vg_anomaly_fn *fn, void *arg);
    int (*anomaly_stats)(void *ctx, int64_t from_ms, int64_t to_ms, int64_t bucket_ms,
                         vg_bucket_fn *fn, void *arg);
    /* Writes the rule statistics object of GET /v1/rules into w (only on
     * success; see vg_rule_stats_write); NULL = no rules here. */
    int (*rules_stats)(void *ctx, vg_jw_t *w);
    /* GET /v1/models (vg_model_stats_write form), the same way. */
    int (*models_stats)(void *ctx, vg_jw_t *w);
    bool (*ready)(void *ctx);
    void (*metrics)(void *ctx, vg_prom_t *p); /* backend metrics appended to /metrics */
} vg_api_backend_t;

typedef struct {
    size_t max_body;    /* bytes per request body; 0 = 8 MiB; larger: 413 */
    uint32_t max_items; /* transactions per request; 0 = 10000; more: 413 */
} vg_api_config_t;

typedef struct vg_api vg_api_t;

vg_api_t *vg_api_new(const vg_api_config_t *cfg, const vg_api_backend_t *backend);
/* Registers every route on s. */
void vg_api_mount(vg_api_t *api, vg_http_server_t *s);
/* The usual wiring: an API over backend served by its own HTTP server on
 * hc->listen. Returns NULL with errbuf set when the server cannot start. */
vg_api_t *vg_api_serve(const vg_api_config_t *cfg, const vg_api_backend_t *backend,
                       const vg_http_config_t *hc, char *errbuf, size_t errlen);

/* Stops the server vg_api_serve started (finishing in-flight requests),
 * then frees; with vg_api_new + vg_api_mount, stop your server first.
 * NULL-safe. */
void vg_api_destroy(vg_api_t **api_p);

/* HTTP status for a vg_err (the one mapping used for every error reply). */
int vg_api_status_of(int err);

#endif
