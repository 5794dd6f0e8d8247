/* vg_api.h: Vigil's REST API under /v1 plus /healthz, /readyz, /metrics
 * and the dashboard at /. Independent of where scoring and storage live:
 * the API calls a backend (in-process engine + store in `vigil-node
 * --gateway`; remote nodes later). */
#ifndef VG_API_H
#define VG_API_H

#include "vg_admin.h"
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
    /* Runs an ADMIN command (arg: JSON or NULL) on every member (or in
     * this process when there is no cluster) and calls fn with each
     * answer; 0, fn's return, or a vg_err when none answered. Used for
     * /v1/alerts (each node alerts on its own anomalies). NULL = none. */
    int (*admin_all)(void *ctx, const char *command, const char *arg,
                     int (*fn)(void *fctx, uint32_t node, int code, const char *json, size_t len),
                     void *fctx);
    /* Extra members of GET /v1/cluster (a JSON object written into w, e.g.
     * {"kafka": {...}}); NULL = none. */
    void (*cluster_extra)(void *ctx, vg_jw_t *w);
    bool (*ready)(void *ctx);
    void (*metrics)(void *ctx, vg_prom_t *p); /* backend metrics appended to /metrics */
} vg_api_backend_t;

typedef struct vg_auth vg_auth_t;

typedef struct {
    size_t max_body;           /* bytes per request body; 0 = 8 MiB; larger: 413 */
    uint32_t max_items;        /* transactions per request; 0 = 10000; more: 413 */
    vg_auth_t *auth;           /* borrowed; NULL = authentication off (every caller is admin) */
    vg_admin_t *admin;         /* borrowed; the cluster's control channel (users, keys, labels,
                                  rules/models administration, /v1/cluster); NULL = none */
    const char *cors_origins;  /* "*" or "https://a,https://b"; NULL = no CORS headers */
    const char *dashboard_dir; /* the built dashboard (frontend/dist); NULL = built-in page */
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

/* The dashboard's built files when nothing is configured: frontend/dist of
 * the source tree the binary was built in, else /usr/share/vigil/dashboard;
 * "" when neither exists. */
void vg_api_default_dashboard_dir(char *out, size_t cap);

/* The route prefixes the API serves (for the OpenAPI walking test). */
size_t vg_api_route_prefixes(const char **out, size_t cap);

/* HTTP status for a vg_err (the one mapping used for every error reply). */
int vg_api_status_of(int err);

#endif
