/* vg_api.c: REST handlers. Every error reply goes through s_error (one
 * status mapping: vg_api_status_of); every reply through s_send, which
 * records the per-route metrics. Per-thread buffers make the ingest path
 * allocation-free once warm. */
#include "vg_api.h"
#include "vg_api_internal.h"

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

typedef vg__api_thread_t s_thread_t;
typedef vg__api_item_t s_item_t;
#define S_ITEM_TX  VG__ITEM_TX
#define S_ITEM_ERR VG__ITEM_ERR

static const int s_codes[VG__API_N_CODES] = {200, 201, 204, 400, 401, 403, 404, 405, 409,
                                             413, 415, 422, 429, 500, 503, 504, 431};

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
    case VG_ERR_EXISTS: return 409;
    case VG_ERR_TOO_LARGE: return 413;
    case VG_ERR_UNSUPPORTED: return 415;
    case VG_ERR_UNPROCESSABLE: return 422;
    case VG_ERR_RATE_LIMITED: return 429;
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
    char both[1024];
    if (t->cors[0]) {
        snprintf(both, sizeof both, "%s%s", extra ? extra : "", t->cors);
        extra = both;
    }
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

/* Sends {"error":{...}} with status and extra header lines. */
static void s_error_send(vg_http_conn_t *c, s_thread_t *t, int err, int status, const char *field,
                         int32_t index, const char *msg, const char *extra)
{
    vg_jw_reset(&t->jw);
    vg_jw_obj_begin(&t->jw);
    vg_jw_key(&t->jw, "error");
    s_error_obj(&t->jw, err, field, index, msg);
    vg_jw_obj_end(&t->jw);
    s_send(c, t, status, "application/json", t->jw.buf, t->jw.len, extra);
}

/* The one error reply: status from the vg_err, body {"error":{...}}. */
static void s_error(vg_http_conn_t *c, s_thread_t *t, int err, const char *field, int32_t index,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void s_verror(vg_http_conn_t *c, s_thread_t *t, int err, const char *field, int32_t index,
                     const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    s_error_send(c, t, err, vg_api_status_of(err), field, index, msg, NULL);
}

static void s_error(vg_http_conn_t *c, s_thread_t *t, int err, const char *field, int32_t index,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_verror(c, t, err, field, index, fmt, ap);
    va_end(ap);
}

static void s_perr_reply(vg_http_conn_t *c, s_thread_t *t, const vg_perr_t *e)
{
    char msg[300];
    s_error(c, t, e->code, e->field, e->index, "%s", vg_perr_str(e, msg, sizeof msg));
}

/* Is m one of the comma-separated methods of allowed (GET admits HEAD)? */
static bool s_method_in(const char *m, const char *allowed)
{
    size_t n = strlen(m);
    for (const char *p = allowed; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        if ((len == n && strncmp(p, m, n) == 0) ||
            (len == 3 && strncmp(p, "GET", 3) == 0 && strcmp(m, "HEAD") == 0))
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static bool s_method(vg_http_conn_t *c, s_thread_t *t, const char *want)
{
    const char *m = vg_http_method(c);
    if (s_method_in(m, want)) return true;
    char allow[96], msg[160];
    snprintf(allow, sizeof allow, "Allow: %s\r\n", want);
    snprintf(msg, sizeof msg, "method %s not allowed; use %s", m, want);
    s_error_send(c, t, VG_ERR_UNSUPPORTED, 405, NULL, -1, msg, allow);
    return false;
}

/* ---- shared with the other API files (vg_api_internal.h) ---------------- */

void vg__api_error(vg_http_conn_t *c, vg__api_thread_t *t, int err, const char *field,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_verror(c, t, err, field, -1, fmt, ap);
    va_end(ap);
}

void vg__api_retry_later(vg_http_conn_t *c, vg__api_thread_t *t, int retry_s, const char *msg)
{
    char extra[64];
    snprintf(extra, sizeof extra, "Retry-After: %d\r\n", retry_s);
    s_error_send(c, t, VG_ERR_RATE_LIMITED, 429, NULL, -1, msg, extra);
}

void vg__api_send(vg_http_conn_t *c, vg__api_thread_t *t, int status, const char *type,
                  const char *body, size_t len, const char *extra)
{
    s_send(c, t, status, type, body, len, extra);
}

void vg__api_send_json(vg_http_conn_t *c, vg__api_thread_t *t, int status)
{
    s_send_json(c, t, status);
}

bool vg__api_method(vg_http_conn_t *c, vg__api_thread_t *t, const char *allowed)
{
    return s_method(c, t, allowed);
}

/* Content types a JSON endpoint takes: none, any JSON, or curl's default
 * form type (curl -d without -H). */
static bool s_json_type(vg_http_conn_t *c)
{
    const char *ct = vg_http_header(c, "Content-Type");
    return !ct || !*ct || strstr(ct, "json") ||
           strncmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

bool vg__api_raw_body(vg_http_conn_t *c, vg__api_thread_t *t, size_t max, size_t *len)
{
    int rc = vg_http_read_body(c, max, &t->body, &t->body_cap, len);
    if (rc == VG_ERR_TOO_LARGE) {
        s_error(c, t, rc, NULL, -1, "request body larger than %zu bytes", max);
        return false;
    }
    if (rc) {
        s_error(c, t, VG_ERR_PARSE, NULL, -1, "could not read the request body");
        return false;
    }
    return true;
}

json_t *vg__api_json_body(vg_http_conn_t *c, vg__api_thread_t *t, size_t max)
{
    if (!s_json_type(c)) {
        s_error(c, t, VG_ERR_UNSUPPORTED, "Content-Type", -1,
                "Content-Type must be application/json");
        return NULL;
    }
    size_t len;
    if (!vg__api_raw_body(c, t, max, &len)) return NULL;
    json_error_t jerr;
    json_t *o = json_loadb(t->body ? t->body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        s_error(c, t, VG_ERR_PARSE, NULL, -1, "body: a JSON object is required%s%s", o ? "" : ": ",
                o ? "" : jerr.text);
        return NULL;
    }
    return o;
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

/* One result: the verdict, or {"index","id","error"} for a rejected or
 * unscored item. */
static void s_result_json(vg_jw_t *w, const s_thread_t *t, uint32_t index)
{
    const s_item_t *it = &t->items[index];
    const vg_verdict_t *v = it->kind == S_ITEM_TX ? &t->verdicts[it->pos] : NULL;
    if (v && !v->status) {
        vg_verdict_json(w, v);
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
    if (!s_json_type(c)) {
        s_error(c, t, VG_ERR_UNSUPPORTED, "Content-Type", -1,
                "Content-Type must be application/json or application/x-ndjson");
        return;
    }
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
            /* well-formed JSON that breaks the schema: 422 */
            if (t->errs[0].code == VG_ERR_INVALID) t->errs[0].code = VG_ERR_UNPROCESSABLE;
            s_perr_reply(c, t, &t->errs[0]);
        } else if (score_rc) {
            s_error(c, t, score_rc, NULL, -1, "transaction not scored: %s", vg_strerror(score_rc));
        } else {
            vg_verdict_json(&t->jw, &t->verdicts[0]);
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

static void s_anomaly_json(vg_api_t *api, vg_jw_t *w, const vg_anomaly_rec_t *a, bool details)
{
    vg_jw_obj_begin(w);
    vg_anomaly_rec_json_fields(w, a, details);
    vg__api_label_of(api, a->id, w);
    vg_jw_obj_end(w);
}

typedef struct {
    vg_api_t *api;
    vg_jw_t *w;
    bool details;
} s_emit_ctx_t;

static int s_emit_anomaly(void *arg, const vg_anomaly_rec_t *rec)
{
    s_emit_ctx_t *e = arg;
    s_anomaly_json(e->api, e->w, rec, e->details);
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
    s_emit_ctx_t e = {api, &t->jw, true};
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
    const char *path = vg_http_path(c);
    const char *prefix = "/v1/anomalies";
    if (path[strlen(prefix)] == '/' && path[strlen(prefix) + 1]) {
        const char *id = path + strlen(prefix) + 1;
        size_t n = strlen(id);
        if (n > 6 && strcmp(id + n - 6, "/label") == 0) { /* POST /v1/anomalies/{id}/label */
            if (!s_method(c, t, "POST")) return;
            char buf[VG_TX_ID_MAX + 1];
            if (n - 6 > VG_TX_ID_MAX) {
                s_error(c, t, VG_ERR_NOT_FOUND, "id", -1, "no anomaly with such a long id");
                return;
            }
            memcpy(buf, id, n - 6);
            buf[n - 6] = 0;
            vg__api_label_post(api, c, t, buf);
            return;
        }
        if (!s_method(c, t, "GET")) return;
        s_anomaly_one(api, c, t, id);
        return;
    }
    if (!s_method(c, t, "GET")) return;
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    q.limit = 50;
    if (!s_query_params(c, t, &q)) return;
    char next[160] = "";
    vg_jw_obj_begin(&t->jw);
    vg_jw_key(&t->jw, "anomalies");
    vg_jw_arr_begin(&t->jw);
    s_emit_ctx_t e = {api, &t->jw, false};
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
    if (vg__api_rules_admin(api, c, t)) return;
    if (!s_method(c, t, "GET,POST")) return;
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
    if (vg__api_models_admin(api, c, t)) return;
    if (!s_method(c, t, "GET,POST")) return;
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
#define S_ROUTE_LABEL(ID, path, label, access) label,
        VG__API_ROUTES(S_ROUTE_LABEL)
#undef S_ROUTE_LABEL
    };
    vg_prom_t p;
    vg_prom_init(&p);
    vg_prom_header(&p, "vigil_http_requests_total", "counter",
                   "HTTP requests by route and status.");
    for (int r = 0; r < VG__R_COUNT; r++)
        for (int k = 0; k <= VG__API_N_CODES; k++) {
            uint64_t n = vg_counter_get(&api->m_requests[r][k]);
            if (!n) continue;
            char code[16], l[96];
            if (k < VG__API_N_CODES)
                snprintf(code, sizeof code, "%d", s_codes[k]);
            else
                snprintf(code, sizeof code, "other");
            snprintf(l, sizeof l, "route=\"%s\",code=\"%s\"", labels[r], code);
            vg_prom_sample(&p, "vigil_http_requests_total", l, (double) n);
        }
    vg_prom_hist(&p, "vigil_http_request_duration_seconds",
                 "POST /v1/transactions latency (parse, score, commit, reply).",
                 &api->m_latency[VG__R_TRANSACTIONS]);
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
    if (api->cfg.auth) vg_auth_metrics(api->cfg.auth, &p);
    if (api->be.metrics) api->be.metrics(api->be.ctx, &p);
    s_send(c, t, 200, "text/plain; version=0.0.4", p.buf ? p.buf : "", p.len, NULL);
    vg_prom_fini(&p);
}

/* Shown at / when the dashboard is not built (frontend/: make). */
static const char s_index_html[] =
    "<!doctype html><html><head><meta charset=utf-8><title>Vigil</title>"
    "<style>body{font:15px system-ui,sans-serif;margin:3em;max-width:46em;color:#222}"
    "code{background:#f3f3f3;padding:.1em .3em}</style></head><body><h1>Vigil</h1>"
    "<p>The dashboard is not built on this machine: run <code>make</code> (it builds "
    "<code>frontend/</code>) and restart, or start the gateway with <code>--dashboard-dir</code>."
    "</p><p>The REST API is described at <a href=/v1/openapi.json>/v1/openapi.json</a>; get a "
    "token with <code>POST /v1/auth/token</code>. Health: <a href=/readyz>/readyz</a>, metrics: "
    "<a href=/metrics>/metrics</a>.</p></body></html>";

static void s_root(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    const char *path = vg_http_path(c);
    if (strcmp(vg_http_method(c), "GET") != 0 && strcmp(vg_http_method(c), "HEAD") != 0) {
        s_method(c, t, "GET");
        return;
    }
    if (vg__api_static_serve(api->files, c, t, path)) return;
    if (strcmp(path, "/") != 0 && strcmp(path, "/index.html") != 0) {
        s_error(c, t, VG_ERR_NOT_FOUND, NULL, -1, "no such endpoint: %s", path);
        return;
    }
    s_send(c, t, 200, "text/html; charset=utf-8", s_index_html, sizeof s_index_html - 1, NULL);
}

/* /v1 itself and unknown /v1/... paths. */
static void s_v1(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    (void) api;
    s_error(c, t, VG_ERR_NOT_FOUND, NULL, -1,
            "no such endpoint: %s (the API is described at /v1/openapi.json)", vg_http_path(c));
}

/* ---- wiring: CORS, authentication, authorisation, rate limits ------------ */

typedef void(s_handler_fn)(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t);

static void s_users(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    vg__api_users(api, c, t);
}

static s_handler_fn *const s_handlers[VG__R_COUNT] = {
    [VG__R_TRANSACTIONS] = s_transactions,
    [VG__R_ANOMALIES] = s_anomalies,
    [VG__R_STATS] = s_stats,
    [VG__R_PRECISION] = vg__api_precision,
    [VG__R_LABELS] = vg__api_labels,
    [VG__R_CLUSTER] = vg__api_cluster,
    [VG__R_RULES] = s_rules,
    [VG__R_MODELS] = s_models,
    [VG__R_ALERTS] = vg__api_alerts,
    [VG__R_USERS] = s_users,
    [VG__R_APIKEYS] = vg__api_apikeys,
    [VG__R_AUTH] = vg__api_auth,
    [VG__R_OPENAPI] = vg__api_openapi,
    [VG__R_V1] = s_v1,
    [VG__R_HEALTHZ] = s_healthz,
    [VG__R_READYZ] = s_readyz,
    [VG__R_METRICS] = s_metrics,
    [VG__R_ROOT] = s_root,
};

static const char s_access[VG__R_COUNT] = {
#define S_ROUTE_ACCESS(ID, path, label, access) [VG__R_##ID] = access,
    VG__API_ROUTES(S_ROUTE_ACCESS)
#undef S_ROUTE_ACCESS
};

/* The role a request needs: 0 public, else a vg_role (admin passes all). */
static int s_need(int route, const char *method)
{
    bool read = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    switch (s_access[route]) {
    case 'I': return VG_ROLE_INGEST;
    case 'R': return VG_ROLE_ANALYST;
    case 'A': return read ? VG_ROLE_ANALYST : VG_ROLE_ADMIN;
    case 'D': return VG_ROLE_ADMIN;
    default: return 0;
    }
}

/* Is origin among the configured ones ("*" = any)? */
static bool s_origin_ok(const char *list, const char *origin)
{
    size_t n = strlen(origin);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        while (len && *p == ' ') p++, len--;
        if ((len == 1 && *p == '*') || (len == n && strncmp(p, origin, n) == 0)) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* CORS: the headers for an allowed Origin; true when the request was a
 * preflight (answered here). */
static bool s_cors(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t)
{
    const char *origin = vg_http_header(c, "Origin");
    t->cors[0] = 0;
    if (!api->cfg.cors_origins || !origin || strlen(origin) > 200 ||
        !s_origin_ok(api->cfg.cors_origins, origin))
        return false;
    snprintf(t->cors, sizeof t->cors,
             "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
             "Access-Control-Expose-Headers: Retry-After\r\n",
             origin);
    if (strcmp(vg_http_method(c), "OPTIONS") != 0) return false;
    char extra[600];
    snprintf(extra, sizeof extra,
             "%sAccess-Control-Allow-Methods: GET, POST, PUT, PATCH, DELETE, OPTIONS\r\n"
             "Access-Control-Allow-Headers: Authorization, Content-Type, X-API-Key\r\n"
             "Access-Control-Max-Age: 600\r\n",
             t->cors);
    t->status = 204;
    vg_http_respond(c, 204, "text/plain", "", 0, extra);
    return true;
}

/* Authenticates, authorises and rate-limits; false after answering. */
static bool s_gate(vg_api_t *api, vg_http_conn_t *c, s_thread_t *t, int route)
{
    memset(&t->who, 0, sizeof t->who);
    int need = s_need(route, vg_http_method(c));
    if (!api->cfg.auth) {
        t->who.role = VG_ROLE_ADMIN; /* authentication is off: every caller is trusted */
        return true;
    }
    if (!need) return true; /* public: credentials are not looked at, nor counted */
    const char *authz = vg_http_header(c, "Authorization");
    const char *key = vg_http_header(c, "X-API-Key");
    char why[200];
    if (vg_auth_check(api->cfg.auth, authz, key, &t->who, why, sizeof why)) {
        s_error(c, t, VG_ERR_AUTH, "Authorization", -1, "%s", why);
        return false;
    }
    if (t->who.role != VG_ROLE_ADMIN && t->who.role != need) {
        s_error(c, t, VG_ERR_FORBIDDEN, NULL, -1, "role %s may not %s %s (needs %s)",
                vg_role_name(t->who.role), vg_http_method(c), vg_http_path(c), vg_role_name(need));
        return false;
    }
    int retry = 1;
    if (vg_auth_rate(api->cfg.auth, &t->who, &retry)) {
        char msg[160];
        snprintf(msg, sizeof msg, "rate limit exceeded for %s %s: retry in %d s",
                 t->who.is_key ? "API key" : "user", t->who.name, retry);
        vg__api_retry_later(c, t, retry, msg);
        return false;
    }
    return true;
}

static void s_entry(void *ctx, vg_http_conn_t *c)
{
    vg__api_route_ref_t *ref = ctx;
    vg_api_t *api = ref->api;
    uint64_t t0 = vg_now_ns();
    s_thread_t *t = s_thread(api);
    if (!s_cors(api, c, t) && s_gate(api, c, t, ref->id)) s_handlers[ref->id](api, c, t);
    vg_hist_observe_ns(&api->m_latency[ref->id], vg_now_ns() - t0);
    int k = 0;
    while (k < VG__API_N_CODES && s_codes[k] != t->status) k++;
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
    for (int r = 0; r < VG__R_COUNT; r++) {
        api->refs[r] = (vg__api_route_ref_t){api, r};
        vg_hist_init(&api->m_latency[r], vg_hist_latency_bounds, vg_hist_latency_n);
    }
    api->files = vg__api_static_new(cfg->dashboard_dir);
    if (cfg->admin) api->labels = vg__api_labels_new();
    api->started_ns = vg_now_ns();
    return api;
}

void vg_api_mount(vg_api_t *api, vg_http_server_t *s)
{
    static const char *paths[] = {
#define S_ROUTE_PATH(ID, path, label, access) path,
        VG__API_ROUTES(S_ROUTE_PATH)
#undef S_ROUTE_PATH
    };
    for (int r = 0; r < VG__R_COUNT; r++) vg_http_route(s, paths[r], s_entry, &api->refs[r]);
}

size_t vg_api_route_prefixes(const char **out, size_t cap)
{
    static const char *paths[] = {
#define S_ROUTE_PATH(ID, path, label, access) path,
        VG__API_ROUTES(S_ROUTE_PATH)
#undef S_ROUTE_PATH
    };
    size_t n = VG_ARRAY_LEN(paths);
    for (size_t i = 0; i < n && i < cap; i++) out[i] = paths[i];
    return n;
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
    vg__api_static_free(&api->files);
    vg__api_labels_free(&api->labels);
    s_thread_free(pthread_getspecific(api->tls));
    pthread_key_delete(api->tls);
    free(api);
    *api_p = NULL;
}
