/* vg_api.c: REST handlers. Every error reply goes through s_error (one
 * status mapping: vg_api_status_of); every reply through s_send, which
 * records the per-route metrics. Per-thread buffers make the ingest path
 * allocation-free once warm. */
#include "vg_api.h"

#include "vg_anomaly_json.h"

#include "vg_err.h"
#include "vg_jw.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"
#include "vg_tx_json.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- routes and metrics ------------------------------------------------ */

#define S_ROUTES(X)                                     \
    X(TRANSACTIONS, "/v1/transactions", "transactions") \
    X(ANOMALIES, "/v1/anomalies", "anomalies")          \
    X(STATS, "/v1/stats/anomalies", "stats")            \
    X(RULES, "/v1/rules", "rules")                      \
    X(MODELS, "/v1/models", "models")                   \
    X(HEALTHZ, "/healthz", "healthz")                   \
    X(READYZ, "/readyz", "readyz")                      \
    X(METRICS, "/metrics", "metrics")                   \
    X(ROOT, "/", "root")

enum {
#define S_ROUTE_ENUM(ID, path, label) R_##ID,
    S_ROUTES(S_ROUTE_ENUM)
#undef S_ROUTE_ENUM
        R_COUNT
};

static const int s_codes[] = {200, 400, 401, 403, 404, 405, 413, 415, 500, 503, 504};
#define S_N_CODES ((int) VG_ARRAY_LEN(s_codes))

typedef struct s_route s_route_t;

typedef struct {
    vg_api_t *api;
    int id;
} s_route_ref_t;

struct vg_api {
    vg_api_config_t cfg;
    vg_api_backend_t be;
    s_route_ref_t refs[R_COUNT];
    pthread_key_t tls;
    vg_counter_t m_requests[R_COUNT][S_N_CODES + 1];
    vg_counter_t m_tx_accepted, m_tx_rejected;
    vg_hist_t m_latency[R_COUNT];
    uint64_t started_ns;
    vg_http_server_t *http; /* owned when started by vg_api_serve */
};

/* Per-thread scratch, reused across requests. */
typedef enum { S_ITEM_TX, S_ITEM_ERR } s_item_kind;

typedef struct {
    uint8_t kind;
    uint32_t pos; /* index into txs (TX) or errs (ERR) */
} s_item_t;

typedef struct {
    char *body;
    size_t body_cap;
    vg_arena_t arena;
    vg_tx_t *txs;
    vg_verdict_t *verdicts;
    uint32_t n_txs, cap_txs;
    vg_perr_t *errs;
    vg_str_t *err_ids;
    uint32_t n_errs, cap_errs;
    s_item_t *items;
    uint32_t n_items, cap_items;
    vg_jw_t jw;
    int status; /* of the reply being sent */
} s_thread_t;

static void s_thread_free(void *p)
{
    s_thread_t *t = p;
    if (!t) return;
    free(t->body), free(t->txs), free(t->verdicts), free(t->errs), free(t->err_ids), free(t->items);
    vg_arena_fini(&t->arena);
    vg_jw_fini(&t->jw);
    free(t);
}

static s_thread_t *s_thread(vg_api_t *api)
{
    s_thread_t *t = pthread_getspecific(api->tls);
    if (!t) {
        t = VG_NEW(s_thread_t);
        vg_jw_init(&t->jw);
        t->arena.min_block = 64 * 1024;
        pthread_setspecific(api->tls, t);
    }
    vg_arena_reset(&t->arena);
    vg_jw_reset(&t->jw);
    t->n_txs = t->n_errs = t->n_items = 0;
    t->status = 0;
    return t;
}

int vg_api_status_of(int err)
{
    switch (err) {
    case VG_OK: return 200;
    case VG_ERR_INVALID:
    case VG_ERR_PARSE:
    case VG_ERR_LIMIT: return 400;
    case VG_ERR_AUTH: return 401;
    case VG_ERR_FORBIDDEN: return 403;
    case VG_ERR_NOT_FOUND: return 404;
    case VG_ERR_TOO_LARGE: return 413;
    case VG_ERR_UNSUPPORTED: return 415;
    case VG_ERR_TIMEOUT: return 504;
    case VG_ERR_CLOSED:
    case VG_ERR_FULL:
    case VG_ERR_STORAGE:
    case VG_ERR_UNREACHABLE: return 503;
    default: return 500;
    }
}

static void s_send(vg_http_conn_t *c, s_thread_t *t, int status, const char *type, const char *body,
                   size_t len, const char *extra)
{
    t->status = status;
    vg_http_respond(c, status, type, body, len, extra);
}

static void s_send_json(vg_http_conn_t *c, s_thread_t *t, int status)
{
    s_send(c, t, status, "application/json", t->jw.buf, t->jw.len, NULL);
}

/* The error object: {"code","message","field"[,"index"]}. */
static void s_error_obj(vg_jw_t *w, int err, const char *field, int32_t index, const char *msg)
{
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "code", vg_errname(err));
    vg_jw_kcstr(w, "message", msg);
    if (field && field[0]) vg_jw_kcstr(w, "field", field);
    if (index >= 0) vg_jw_kint(w, "index", index);
    vg_jw_obj_end(w);
}

/* The one error reply: status from the vg_err, body {"error":{...}}. */
static void s_error(vg_http_conn_t *c, s_thread_t *t, int err, const char *field, int32_t index,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void s_error(vg_http_conn_t *c, s_thread_t *t, int err, const char *field, int32_t index,
                    const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vg_jw_reset(&t->jw);
    vg_jw_obj_begin(&t->jw);
    vg_jw_key(&t->jw, "error");
    s_error_obj(&t->jw, err, field, index, msg);
    vg_jw_obj_end(&t->jw);
    s_send_json(c, t, vg_api_status_of(err));
}

static void s_perr_reply(vg_http_conn_t *c, s_thread_t *t, const vg_perr_t *e)
{
    char msg[300];
    s_error(c, t, e->code, e->field, e->index, "%s", vg_perr_str(e, msg, sizeof msg));
}

static bool s_method(vg_http_conn_t *c, s_thread_t *t, const char *want)
{
    const char *m = vg_http_method(c);
    if (strcmp(m, want) == 0 || (strcmp(want, "GET") == 0 && strcmp(m, "HEAD") == 0)) return true;
    char allow[64];
    snprintf(allow, sizeof allow, "Allow: %s\r\n", want);
    t->status = 405;
    vg_jw_reset(&t->jw);
    vg_jw_obj_begin(&t->jw);
    vg_jw_key(&t->jw, "error");
    char msg[96];
    snprintf(msg, sizeof msg, "method %s not allowed; use %s", m, want);
    s_error_obj(&t->jw, VG_ERR_UNSUPPORTED, NULL, -1, msg);
    vg_jw_obj_end(&t->jw);
    vg_http_respond(c, 405, "application/json", t->jw.buf, t->jw.len, allow);
    return false;
}

/* ---- POST /v1/transactions ---------------------------------------------- */

#define S_GROW(arr, n, cap, min)                                       \
    do {                                                               \
        if ((n) >= (cap)) {                                            \
            (cap) = (cap) ? (cap) *2 : (min);                          \
            (arr) = vg_realloc((arr), (size_t) (cap) * sizeof *(arr)); \
        }                                                              \
    } while (0)

static int s_collect(void *arg, uint32_t index, const vg_tx_t *tx, const vg_perr_t *err)
{
    s_thread_t *t = arg;
    (void) index;
    S_GROW(t->items, t->n_items, t->cap_items, 64);
    s_item_t *it = &t->items[t->n_items++];
    if (!err) {
        if (t->n_txs >= t->cap_txs) {
            t->cap_txs = t->cap_txs ? t->cap_txs * 2 : 64;
            t->txs = vg_realloc(t->txs, t->cap_txs * sizeof *t->txs);
            t->verdicts = vg_realloc(t->verdicts, t->cap_txs * sizeof *t->verdicts);
        }
        it->kind = S_ITEM_TX;
        it->pos = t->n_txs;
        t->txs[t->n_txs++] = *tx;
    } else {
        if (t->n_errs >= t->cap_errs) {
            t->cap_errs = t->cap_errs ? t->cap_errs * 2 : 16;
            t->errs = vg_realloc(t->errs, t->cap_errs * sizeof *t->errs);
            t->err_ids = vg_realloc(t->err_ids, t->cap_errs * sizeof *t->err_ids);
        }
        it->kind = S_ITEM_ERR;
        it->pos = t->n_errs;
        t->errs[t->n_errs] = *err;
        t->err_ids[t->n_errs++] = tx->id;
    }
    return 0;
}

static void s_reasons_json(vg_jw_t *w, const vg_reason_t *r, unsigned n)
{
    vg_jw_key(w, "reasons");
    vg_anomaly_reasons_json(w, r, n);
}

static void s_verdict_json(vg_jw_t *w, const vg_verdict_t *v)
{
    vg_jw_obj_begin(w);
    vg_jw_kstr(w, "id", v->id);
    vg_jw_kcstr(w, "decision", vg_decision_name(v->decision));
    vg_jw_kbool(w, "anomaly", v->anomaly);
    vg_jw_knum(w, "score", v->score);
    s_reasons_json(w, v->reasons, v->n_reasons);
    if (v->flags & VG_VERDICT_F_DUPLICATE) vg_jw_kbool(w, "duplicate", true);
    if (v->flags & VG_VERDICT_F_LATE) vg_jw_kbool(w, "late", true);
    vg_jw_obj_end(w);
}

/* One result: the verdict, or {"index","id","error"} for a rejected or
 * unscored item. */
static void s_result_json(vg_jw_t *w, const s_thread_t *t, uint32_t index)
{
    const s_item_t *it = &t->items[index];
    const vg_verdict_t *v = it->kind == S_ITEM_TX ? &t->verdicts[it->pos] : NULL;
    if (v && !v->status) {
        s_verdict_json(w, v);
        return;
    }
    char msg[300];
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "index", index);
    if (v) {
        vg_jw_kstr(w, "id", v->id);
        vg_jw_key(w, "error");
        snprintf(msg, sizeof msg, "not scored: %s", vg_strerror(v->status));
        s_error_obj(w, v->status, NULL, -1, msg);
    } else {
        const vg_perr_t *e = &t->errs[it->pos];
        vg_jw_kstr(w, "id", t->err_ids[it->pos]);
        vg_jw_key(w, "error");
        s_error_obj(w, e->code, e->field, -1, vg_perr_str(e, msg, sizeof msg));
    }
    vg_jw_obj_end(w);
}

static vg_txj_shape s_shape_of(vg_http_conn_t *c)
{
    const char *ct = vg_http_header(c, "Content-Type");
    if (ct && (strstr(ct, "ndjson") || strstr(ct, "jsonlines") || strstr(ct, "jsonl")))
        return VG_TXJ_NDJSON;
    return VG_TXJ_AUTO;
}

static void s_transactions(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    if (!s_method(c, t, "POST")) return;
    size_t len;
    int rc = vg_http_read_body(c, api->cfg.max_body, &t->body, &t->body_cap, &len);
    if (rc == VG_ERR_TOO_LARGE) {
        s_error(c, t, rc, NULL, -1, "request body larger than %zu bytes", api->cfg.max_body);
        return;
    }
    if (rc) {
        s_error(c, t, VG_ERR_PARSE, NULL, -1, "could not read the request body");
        return;
    }
    vg_txj_opts_t opts = {.shape = s_shape_of(c), .max_items = api->cfg.max_items};
    vg_txj_result_t res;
    vg_perr_t err;
    rc = vg_tx_json_each(t->body, len, &opts, &t->arena, s_collect, t, &res, &err);
    if (rc) {
        vg_counter_add(&api->m_tx_rejected, t->n_items);
        s_perr_reply(c, t, &err);
        return;
    }
    vg_counter_add(&api->m_tx_accepted, t->n_txs);
    vg_counter_add(&api->m_tx_rejected, t->n_errs);
    int score_rc = api->be.score(api->be.ctx, t->txs, t->n_txs, t->verdicts, &t->arena);
    if (res.shape == VG_TXJ_ONE) {
        if (t->n_errs) {
            t->errs[0].index = -1; /* a single object has no index */
            s_perr_reply(c, t, &t->errs[0]);
        } else if (score_rc) {
            s_error(c, t, score_rc, NULL, -1, "transaction not scored: %s", vg_strerror(score_rc));
        } else {
            s_verdict_json(&t->jw, &t->verdicts[0]);
            s_send_json(c, t, 200);
        }
        return;
    }
    vg_jw_obj_begin(&t->jw);
    vg_jw_key(&t->jw, "results");
    vg_jw_arr_begin(&t->jw);
    for (uint32_t i = 0; i < t->n_items; i++) s_result_json(&t->jw, t, i);
    vg_jw_arr_end(&t->jw);
    vg_jw_obj_end(&t->jw);
    s_send_json(c, t, 200);
}

/* ---- GET /v1/anomalies[/{id}] ------------------------------------------ */

static void s_anomaly_json(vg_jw_t *w, const vg_anomaly_rec_t *a, bool details)
{
    vg_jw_obj_begin(w);
    vg_jw_kstr(w, "id", a->id);
    vg_jw_kstr(w, "user_id", a->user_id);
    vg_jw_key(w, "timestamp");
    vg_jw_ts(w, a->ts_ms);
    vg_jw_key(w, "detected_at");
    vg_jw_ts(w, a->detected_ms);
    vg_jw_knum(w, "score", a->score);
    vg_jw_kcstr(w, "severity", vg_severity_name(a->severity));
    vg_jw_kcstr(w, "decision", vg_decision_name(a->decision));
    vg_jw_knum(w, "amount", a->tx.amount);
    vg_jw_kcstr(w, "currency", a->tx.currency);
    s_reasons_json(w, a->reasons, a->n_reasons);
    if (details) {
        vg_jw_key(w, "transaction");
        vg_anomaly_tx_json(w, &a->tx);
        vg_jw_key(w, "features");
        vg_anomaly_features_json(w, a);
    }
    vg_jw_obj_end(w);
}

typedef struct {
    vg_jw_t *w;
    bool details;
} s_emit_ctx_t;

static int s_emit_anomaly(void *arg, const vg_anomaly_rec_t *rec)
{
    s_emit_ctx_t *e = arg;
    s_anomaly_json(e->w, rec, e->details);
    return 0;
}

/* Time parameter: RFC 3339 or epoch ms. Returns 0, 1 if absent, or -1. */
static int s_time_param(vg_http_conn_t *c, const char *name, int64_t *out)
{
    char buf[64];
    int n = vg_http_param(c, name, buf, sizeof buf);
    if (n == -1) return 1;
    if (n < 0) return -1;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (n > 0 && *end == 0) {
        *out = v;
        return 0;
    }
    return vg_ts_parse_rfc3339(buf, (size_t) n, out) == 0 ? 0 : -1;
}

static bool s_str_param(vg_http_conn_t *c, s_thread_t *t, const char *name, vg_str_t *out)
{
    char buf[256];
    int n = vg_http_param(c, name, buf, sizeof buf);
    if (n == -2) {
        s_error(c, t, VG_ERR_INVALID, name, -1, "%s: too long", name);
        return false;
    }
    if (n >= 0) *out = (vg_str_t){vg_arena_strndup(&t->arena, buf, (size_t) n), (uint32_t) n};
    return true;
}

static bool s_query_params(vg_http_conn_t *c, s_thread_t *t, vg_anomaly_query_t *q)
{
    char buf[64];
    int rc;
    if ((rc = s_time_param(c, "from", &q->from_ms)) < 0) {
        s_error(c, t, VG_ERR_INVALID, "from", -1, "from: must be RFC 3339 or epoch milliseconds");
        return false;
    }
    if ((rc = s_time_param(c, "to", &q->to_ms)) < 0) {
        s_error(c, t, VG_ERR_INVALID, "to", -1, "to: must be RFC 3339 or epoch milliseconds");
        return false;
    }
    if (!s_str_param(c, t, "user_id", &q->user_id) ||
        !s_str_param(c, t, "detector", &q->detector) || !s_str_param(c, t, "rule", &q->rule) ||
        !s_str_param(c, t, "cursor", &q->cursor))
        return false;
    int n = vg_http_param(c, "severity", buf, sizeof buf);
    vg_severity sev;
    if (n >= 0) {
        if (vg_severity_parse((vg_str_t){buf, (uint32_t) n}, &sev)) {
            s_error(c, t, VG_ERR_INVALID, "severity", -1,
                    "severity: must be low, medium, high or critical");
            return false;
        }
        q->min_severity = (int) sev;
    }
    vg_decision d;
    if ((n = vg_http_param(c, "decision", buf, sizeof buf)) >= 0) {
        if (vg_decision_parse((vg_str_t){buf, (uint32_t) n}, &d)) {
            s_error(c, t, VG_ERR_INVALID, "decision", -1,
                    "decision: must be allow, review or block");
            return false;
        }
        q->decision = (int) d;
    }
    if ((n = vg_http_param(c, "limit", buf, sizeof buf)) >= 0) {
        char *end;
        long v = strtol(buf, &end, 10);
        if (n == 0 || *end || v < 1 || v > 1000) {
            s_error(c, t, VG_ERR_INVALID, "limit", -1, "limit: must be an integer from 1 to 1000");
            return false;
        }
        q->limit = (uint32_t) v;
    }
    return true;
}

static void s_anomaly_one(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t, const char *id)
{
    s_emit_ctx_t e = {&t->jw, true};
    int rc = api->be.anomaly_get(api->be.ctx, vg_str_c(id), s_emit_anomaly, &e);
    if (rc == VG_ERR_NOT_FOUND) {
        s_error(c, t, rc, "id", -1, "no anomaly with id '%s'", id);
        return;
    }
    if (rc) {
        s_error(c, t, rc, NULL, -1, "anomaly lookup failed: %s", vg_strerror(rc));
        return;
    }
    s_send_json(c, t, 200);
}

static void s_anomalies(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    if (!s_method(c, t, "GET")) return;
    const char *path = vg_http_path(c);
    const char *prefix = "/v1/anomalies";
    if (path[strlen(prefix)] == '/' && path[strlen(prefix) + 1]) {
        s_anomaly_one(api, c, t, path + strlen(prefix) + 1);
        return;
    }
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    q.limit = 50;
    if (!s_query_params(c, t, &q)) return;
    char next[160] = "";
    vg_jw_obj_begin(&t->jw);
    vg_jw_key(&t->jw, "anomalies");
    vg_jw_arr_begin(&t->jw);
    s_emit_ctx_t e = {&t->jw, false};
    int rc = api->be.anomaly_query(api->be.ctx, &q, s_emit_anomaly, &e, next, sizeof next);
    if (rc == VG_ERR_INVALID) {
        s_error(c, t, rc, "cursor", -1, "cursor: not a cursor returned by this API");
        return;
    }
    if (rc) {
        s_error(c, t, rc, NULL, -1, "anomaly query failed: %s", vg_strerror(rc));
        return;
    }
    vg_jw_arr_end(&t->jw);
    vg_jw_kcstr(&t->jw, "next_cursor", next[0] ? next : NULL);
    vg_jw_obj_end(&t->jw);
    s_send_json(c, t, 200);
}

/* ---- GET /v1/stats/anomalies ------------------------------------------- */

/* "30s" is refused; "1m", "15m", "1h", "1d": minutes granularity. */
static int64_t s_bucket_ms(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (v <= 0 || end == s || end[0] == 0 || end[1] != 0) return -1;
    int64_t unit = end[0] == 'm' ? 60000 : end[0] == 'h' ? 3600000 : end[0] == 'd' ? 86400000 : -1;
    return unit < 0 ? -1 : v * unit;
}

static int s_emit_bucket(void *arg, const vg_anomaly_bucket_t *b)
{
    vg_jw_t *w = arg;
    vg_jw_obj_begin(w);
    vg_jw_key(w, "start");
    vg_jw_ts(w, b->start_ms);
    vg_jw_kint(w, "total", (int64_t) b->total);
    vg_jw_key(w, "by_severity");
    vg_jw_obj_begin(w);
    for (int s = 0; s < 4; s++) vg_jw_kint(w, vg_severity_name(s), (int64_t) b->by_severity[s]);
    vg_jw_obj_end(w);
    vg_jw_key(w, "by_decision");
    vg_jw_obj_begin(w);
    for (int d = 0; d < 3; d++) vg_jw_kint(w, vg_decision_name(d), (int64_t) b->by_decision[d]);
    vg_jw_obj_end(w);
    vg_jw_obj_end(w);
    return 0;
}

static void s_stats(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    if (!s_method(c, t, "GET")) return;
    char bucket[16] = "1m";
    if (vg_http_param(c, "bucket", bucket, sizeof bucket) == -2 || s_bucket_ms(bucket) < 0) {
        s_error(c, t, VG_ERR_INVALID, "bucket", -1, "bucket: must be like 1m, 15m, 1h or 1d");
        return;
    }
    int64_t bms = s_bucket_ms(bucket), to = vg_wall_ms(), from;
    if (s_time_param(c, "to", &to) < 0) {
        s_error(c, t, VG_ERR_INVALID, "to", -1, "to: must be RFC 3339 or epoch milliseconds");
        return;
    }
    from = to - 60 * bms;
    if (s_time_param(c, "from", &from) < 0) {
        s_error(c, t, VG_ERR_INVALID, "from", -1, "from: must be RFC 3339 or epoch milliseconds");
        return;
    }
    if (from >= to) {
        s_error(c, t, VG_ERR_INVALID, "from", -1, "from: must be before to");
        return;
    }
    vg_jw_obj_begin(&t->jw);
    vg_jw_kcstr(&t->jw, "bucket", bucket);
    vg_jw_key(&t->jw, "from");
    vg_jw_ts(&t->jw, from);
    vg_jw_key(&t->jw, "to");
    vg_jw_ts(&t->jw, to);
    vg_jw_key(&t->jw, "buckets");
    vg_jw_arr_begin(&t->jw);
    int rc = api->be.anomaly_stats(api->be.ctx, from, to, bms, s_emit_bucket, &t->jw);
    if (rc == VG_ERR_LIMIT) {
        s_error(c, t, rc, "bucket", -1,
                "too many buckets: widen the bucket or narrow from/to (max 10000)");
        return;
    }
    if (rc) {
        s_error(c, t, rc, NULL, -1, "stats query failed: %s", vg_strerror(rc));
        return;
    }
    vg_jw_arr_end(&t->jw);
    vg_jw_obj_end(&t->jw);
    s_send_json(c, t, 200);
}

/* GET /v1/rules: the rule set version(s) in use and every rule's hits and
 * errors, summed over the nodes. */
static void s_rules(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    if (!s_method(c, t, "GET")) return;
    if (!api->be.rules_stats) {
        s_error(c, t, VG_ERR_UNSUPPORTED, NULL, -1, "rules are not available here");
        return;
    }
    int rc = api->be.rules_stats(api->be.ctx, &t->jw);
    if (rc) {
        s_error(c, t, rc, NULL, -1, "rule statistics failed: %s", vg_strerror(rc));
        return;
    }
    s_send_json(c, t, 200);
}

/* GET /v1/models: the model versions in use; active vs shadow counters. */
static void s_models(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    if (!s_method(c, t, "GET")) return;
    if (!api->be.models_stats) {
        s_error(c, t, VG_ERR_UNSUPPORTED, NULL, -1, "models are not available here");
        return;
    }
    int rc = api->be.models_stats(api->be.ctx, &t->jw);
    if (rc) {
        s_error(c, t, rc, NULL, -1, "model statistics failed: %s", vg_strerror(rc));
        return;
    }
    s_send_json(c, t, 200);
}

/* ---- health, metrics, dashboard ---------------------------------------- */

static void s_healthz(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    (void) api;
    const char body[] = "{\"status\":\"ok\"}";
    s_send(c, t, 200, "application/json", body, sizeof body - 1, NULL);
}

static void s_readyz(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    bool ready = api->be.ready(api->be.ctx);
    const char *body = ready ? "{\"status\":\"ready\"}" : "{\"status\":\"not ready\"}";
    s_send(c, t, ready ? 200 : 503, "application/json", body, strlen(body), NULL);
}

static void s_metrics(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    static const char *labels[] = {
#define S_ROUTE_LABEL(ID, path, label) label,
        S_ROUTES(S_ROUTE_LABEL)
#undef S_ROUTE_LABEL
    };
    vg_prom_t p;
    vg_prom_init(&p);
    vg_prom_header(&p, "vigil_http_requests_total", "counter",
                   "HTTP requests by route and status.");
    for (int r = 0; r < R_COUNT; r++)
        for (int k = 0; k <= S_N_CODES; k++) {
            uint64_t n = vg_counter_get(&api->m_requests[r][k]);
            if (!n) continue;
            char code[16], l[96];
            if (k < S_N_CODES)
                snprintf(code, sizeof code, "%d", s_codes[k]);
            else
                snprintf(code, sizeof code, "other");
            snprintf(l, sizeof l, "route=\"%s\",code=\"%s\"", labels[r], code);
            vg_prom_sample(&p, "vigil_http_requests_total", l, (double) n);
        }
    vg_prom_hist(&p, "vigil_http_request_duration_seconds",
                 "POST /v1/transactions latency (parse, score, commit, reply).",
                 &api->m_latency[R_TRANSACTIONS]);
    vg_prom_header(&p, "vigil_ingest_transactions_total", "counter",
                   "Transactions received over HTTP by outcome.");
    vg_prom_sample(&p, "vigil_ingest_transactions_total", "outcome=\"accepted\"",
                   (double) vg_counter_get(&api->m_tx_accepted));
    vg_prom_sample(&p, "vigil_ingest_transactions_total", "outcome=\"rejected\"",
                   (double) vg_counter_get(&api->m_tx_rejected));
    double up = (double) (vg_now_ns() - api->started_ns) / 1e9;
    vg_prom_header(&p, "vigil_ingest_tx_per_second", "gauge",
                   "Accepted transactions per second since start.");
    vg_prom_sample(&p, "vigil_ingest_tx_per_second", NULL,
                   up > 0 ? (double) vg_counter_get(&api->m_tx_accepted) / up : 0);
    if (api->be.metrics) api->be.metrics(api->be.ctx, &p);
    s_send(c, t, 200, "text/plain; version=0.0.4", p.buf ? p.buf : "", p.len, NULL);
    vg_prom_fini(&p);
}

static const char s_index_html[] =
    "<!doctype html><html><head><meta charset=utf-8><title>Vigil</title>"
    "<style>body{font:14px "
    "system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
    "td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
    "<h1>Vigil</h1><p>Latest anomalies (refreshes every 2 s). API: "
    "<a href=/v1/anomalies>/v1/anomalies</a> · <a href=/v1/stats/anomalies>/v1/stats/anomalies</a> "
    "· "
    "<a href=/metrics>/metrics</a> · <a href=/readyz>/readyz</a></p>"
    "<table><thead><tr><th>time</th><th>user</th><th>amount</th><th>score</th><th>decision</th>"
    "<th>reasons</th></tr></thead><tbody id=rows></tbody></table><script>"
    "async function load(){const r=await fetch('/v1/anomalies?limit=25');const j=await r.json();"
    "const "
    "esc=s=>String(s).replace(/[&<>\"]/"
    "g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','\"':'&quot;'}[c]));"
    "document.getElementById('rows').innerHTML=j.anomalies.map(a=>'<tr><td>'+esc(a.timestamp)+'</"
    "td><td>'"
    "+esc(a.user_id)+'</td><td>'+esc(a.amount)+' '+esc(a.currency)+'</td><td>'+a.score.toFixed(2)+"
    "'</td><td>'+esc(a.decision)+'</td><td>'+a.reasons.map(x=>esc(x.detector)+' "
    "('+esc(x.feature)+')')"
    ".join(', ')+'</td></tr>').join('')}load();setInterval(load,2000)</script></body></html>";

static void s_root(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    (void) api;
    const char *path = vg_http_path(c);
    if (strcmp(path, "/") != 0 && strcmp(path, "/index.html") != 0) {
        s_error(c, t, VG_ERR_NOT_FOUND, NULL, -1, "no such endpoint: %s", path);
        return;
    }
    if (!s_method(c, t, "GET")) return;
    s_send(c, t, 200, "text/html; charset=utf-8", s_index_html, sizeof s_index_html - 1, NULL);
}

/* ---- wiring ------------------------------------------------------------ */

typedef void(s_handler_fn)(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t);

static s_handler_fn *const s_handlers[R_COUNT] = {
    [R_TRANSACTIONS] = s_transactions,
    [R_ANOMALIES] = s_anomalies,
    [R_STATS] = s_stats,
    [R_RULES] = s_rules,
    [R_MODELS] = s_models,
    [R_HEALTHZ] = s_healthz,
    [R_READYZ] = s_readyz,
    [R_METRICS] = s_metrics,
    [R_ROOT] = s_root,
};

static void s_entry(void *ctx, vg_http_conn_t *c)
{
    s_route_ref_t *ref = ctx;
    vg_api_t *api = ref->api;
    uint64_t t0 = vg_now_ns();
    s_thread_t *t = s_thread(api);
    s_handlers[ref->id](api, c, t);
    vg_hist_observe_ns(&api->m_latency[ref->id], vg_now_ns() - t0);
    int k = 0;
    while (k < S_N_CODES && s_codes[k] != t->status) k++;
    vg_counter_add(&api->m_requests[ref->id][k], 1);
}

vg_api_t *vg_api_new(const vg_api_config_t *cfg, const vg_api_backend_t *backend)
{
    vg_api_t *api = VG_NEW(vg_api_t);
    api->cfg = *cfg;
    if (!api->cfg.max_body) api->cfg.max_body = 8u << 20;
    if (!api->cfg.max_items) api->cfg.max_items = VG_TXJ_MAX_ITEMS_DEFAULT;
    api->be = *backend;
    pthread_key_create(&api->tls, s_thread_free);
    for (int r = 0; r < R_COUNT; r++) {
        api->refs[r] = (s_route_ref_t){api, r};
        vg_hist_init(&api->m_latency[r], vg_hist_latency_bounds, vg_hist_latency_n);
    }
    api->started_ns = vg_now_ns();
    return api;
}

void vg_api_mount(vg_api_t *api, vg_http_server_t *s)
{
    static const char *paths[] = {
#define S_ROUTE_PATH(ID, path, label) path,
        S_ROUTES(S_ROUTE_PATH)
#undef S_ROUTE_PATH
    };
    for (int r = 0; r < R_COUNT; r++) vg_http_route(s, paths[r], s_entry, &api->refs[r]);
}

vg_api_t *vg_api_serve(const vg_api_config_t *cfg, const vg_api_backend_t *backend,
                       const vg_http_config_t *hc, char *errbuf, size_t errlen)
{
    vg_api_t *api = vg_api_new(cfg, backend);
    if (vg_http_start(hc, &api->http, errbuf, errlen)) {
        vg_api_destroy(&api);
        return NULL;
    }
    vg_api_mount(api, api->http);
    return api;
}

void vg_api_destroy(vg_api_t **api_p)
{
    vg_api_t *api = *api_p;
    if (!api) return;
    vg_http_stop(&api->http);
    s_thread_free(pthread_getspecific(api->tls));
    pthread_key_delete(api->tls);
    free(api);
    *api_p = NULL;
}
