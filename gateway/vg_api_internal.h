/* vg_api_internal.h: what the REST API's files share: vg_api.c (routing,
 * auth gate, CORS, ingest, anomaly queries, health), vg_api_admin.c
 * (auth token, users, API keys, cluster, labels, precision, rules/models
 * administration) and vg_api_static.c (the dashboard's files and the
 * OpenAPI document). */
#ifndef VG_API_INTERNAL_H
#define VG_API_INTERNAL_H

#include "vg_api.h"
#include "vg_auth.h"

#include <jansson.h>
#include <pthread.h>

/* id, path prefix, metrics label, access: P public, I ingest, A analyst
 * (GET) / admin (anything else), R analyst for every method, D admin. */
#define VG__API_ROUTES(X)                                    \
    X(TRANSACTIONS, "/v1/transactions", "transactions", 'I') \
    X(ANOMALIES, "/v1/anomalies", "anomalies", 'R')          \
    X(STATS, "/v1/stats/anomalies", "stats", 'R')            \
    X(PRECISION, "/v1/stats/precision", "precision", 'R')    \
    X(LABELS, "/v1/labels", "labels", 'R')                   \
    X(CLUSTER, "/v1/cluster", "cluster", 'R')                \
    X(RULES, "/v1/rules", "rules", 'A')                      \
    X(MODELS, "/v1/models", "models", 'A')                   \
    X(ALERTS, "/v1/alerts", "alerts", 'A')                   \
    X(USERS, "/v1/users", "users", 'D')                      \
    X(APIKEYS, "/v1/apikeys", "apikeys", 'D')                \
    X(AUTH, "/v1/auth", "auth", 'P')                         \
    X(OPENAPI, "/v1/openapi.json", "openapi", 'P')           \
    X(V1, "/v1", "v1", 'P')                                  \
    X(HEALTHZ, "/healthz", "healthz", 'P')                   \
    X(READYZ, "/readyz", "readyz", 'P')                      \
    X(METRICS, "/metrics", "metrics", 'P')                   \
    X(ROOT, "/", "root", 'P')

enum {
#define VG__API_ROUTE_ENUM(ID, path, label, access) VG__R_##ID,
    VG__API_ROUTES(VG__API_ROUTE_ENUM)
#undef VG__API_ROUTE_ENUM
        VG__R_COUNT
};

#define VG__API_N_CODES 17

typedef struct {
    vg_api_t *api;
    int id;
} vg__api_route_ref_t;

typedef struct vg__api_static vg__api_static_t;
typedef struct vg__api_labels vg__api_labels_t;

struct vg_api {
    vg_api_config_t cfg;
    vg_api_backend_t be;
    vg__api_route_ref_t refs[VG__R_COUNT];
    pthread_key_t tls;
    vg_counter_t m_requests[VG__R_COUNT][VG__API_N_CODES + 1];
    vg_counter_t m_tx_accepted, m_tx_rejected;
    vg_hist_t m_latency[VG__R_COUNT];
    uint64_t started_ns;
    vg_http_server_t *http; /* owned when started by vg_api_serve */
    vg__api_static_t *files;
    vg__api_labels_t *labels;
};

/* Per-thread scratch, reused across requests. */
typedef enum { VG__ITEM_TX, VG__ITEM_ERR } vg__api_item_kind;

typedef struct {
    uint8_t kind;
    uint32_t pos; /* index into txs (TX) or errs (ERR) */
} vg__api_item_t;

typedef struct vg__api_thread {
    char *body;
    size_t body_cap;
    vg_arena_t arena;
    vg_tx_t *txs;
    vg_verdict_t *verdicts;
    uint32_t n_txs, cap_txs;
    vg_perr_t *errs;
    vg_str_t *err_ids;
    uint32_t n_errs, cap_errs;
    vg__api_item_t *items;
    uint32_t n_items, cap_items;
    vg_jw_t jw;
    int status;         /* of the reply being sent */
    vg_principal_t who; /* the caller (role VG_ROLE_ADMIN, name "" when auth is off) */
    char cors[300];     /* CORS header lines for this reply, "" = none */
} vg__api_thread_t;

/* ---- vg_api.c --------------------------------------------------------------- */

/* The one error reply: {"error":{"code","message","field"}} with the
 * status of err (vg_api_status_of). field may be NULL. */
void vg__api_error(vg_http_conn_t *c, vg__api_thread_t *t, int err, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 429 RATE_LIMITED with Retry-After: retry_s. */
void vg__api_retry_later(vg_http_conn_t *c, vg__api_thread_t *t, int retry_s, const char *msg);
void vg__api_send(vg_http_conn_t *c, vg__api_thread_t *t, int status, const char *type,
                  const char *body, size_t len, const char *extra);
/* t->jw as application/json. */
void vg__api_send_json(vg_http_conn_t *c, vg__api_thread_t *t, int status);
/* True when the request's method is one of allowed ("GET,POST"; GET
 * admits HEAD); otherwise answers 405 with Allow and returns false. */
bool vg__api_method(vg_http_conn_t *c, vg__api_thread_t *t, const char *allowed);
/* Reads a JSON object body (at most max bytes; Content-Type JSON when
 * given). NULL after answering 400/413/415; else owned (json_decref). */
json_t *vg__api_json_body(vg_http_conn_t *c, vg__api_thread_t *t, size_t max);
/* The raw body (t->body) for non-JSON uploads; false after answering. */
bool vg__api_raw_body(vg_http_conn_t *c, vg__api_thread_t *t, size_t max, size_t *len);

/* ---- vg_api_admin.c --------------------------------------------------------- */

void vg__api_auth(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t);
void vg__api_users(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t);
void vg__api_apikeys(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t);
void vg__api_cluster(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t);
void vg__api_labels(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t);
void vg__api_precision(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t);
/* /v1/alerts[/{id}[/retry]|/channels]: every node's alerts (be.admin_all). */
void vg__api_alerts(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t);
/* POST /v1/anomalies/{id}/label. */
void vg__api_label_post(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t, const char *id);
/* The label object of anomaly id into w ("label": {...}), nothing if none. */
void vg__api_label_of(vg_api_t *api, vg_str_t id, vg_jw_t *w);
/* Rules / models administration below /v1/rules/... and /v1/models/...;
 * false when the path is not one of them (the caller serves GET stats). */
bool vg__api_rules_admin(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t);
bool vg__api_models_admin(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t);
vg__api_labels_t *vg__api_labels_new(void);
void vg__api_labels_free(vg__api_labels_t **l_p);

/* ---- vg_api_static.c -------------------------------------------------------- */

/* Loads the file map of dir (NULL or missing: none). */
vg__api_static_t *vg__api_static_new(const char *dir);
void vg__api_static_free(vg__api_static_t **s_p);
/* Serves path from the map; false when it is not there. */
bool vg__api_static_serve(vg__api_static_t *s, vg_http_conn_t *c, vg__api_thread_t *t,
                          const char *path);
void vg__api_openapi(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t);
/* The OpenAPI document (NUL-terminated). */
const char *vg__api_openapi_doc(size_t *len);

#endif
