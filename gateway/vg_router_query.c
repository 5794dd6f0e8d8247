/* vg_router_query.c: the anomaly queries of a gateway in front of a
 * cluster. Every node keeps the anomalies it detected, so a query asks
 * every member (one thread each, concurrently) and merges: lists by their
 * global key (event time, id; see vg_anomaly_pk), so one cursor pages
 * through all nodes; stats by summing the buckets of the common grid; get
 * returns the first node's record. */
#include "vg_router.h"
#include "vg_router_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_json.h"
#include "vg_msg.h"
#include "vg_rule_stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define S_MOD        "router"
#define S_MAX_ASK    64
#define S_TIMEOUT_MS 5000

enum { S_LIST = 0, S_GET = 1, S_STATS = 2 };

typedef struct {
    vg_router_t *r;
    uint32_t peer;
    const vg_msg_t *req;
    int want;                /* the reply's type */
    vg_transport_msg_t *raw; /* the reply; owned */
    vg_msg_t reply;
    int rc;
} s_ask_t;

static void *s_ask_main(void *arg)
{
    s_ask_t *a = arg;
    vg_mpw_t body;
    vg_mpw_init(&body);
    vg_msg_body_encode(a->req, &body);
    a->rc = vg_transport_request(vg__router_transport(a->r), a->peer, &a->req->env, body.buf,
                                 body.len, S_TIMEOUT_MS, &a->raw);
    vg_mpw_fini(&body);
    if (a->rc) return NULL;
    vg_perr_t err;
    vg_perr_clear(&err);
    a->reply.env = a->raw->env;
    if (a->raw->env.type == VG_MSG_ERROR) {
        vg_msg_body_decode(a->raw->body, a->raw->body_len, &a->reply, NULL, &err);
        a->rc = a->reply.body.error.code < 0 ? a->reply.body.error.code : VG_ERR_PROTO;
    } else if (a->raw->env.type != a->want ||
               vg_msg_body_decode(a->raw->body, a->raw->body_len, &a->reply, NULL, &err)) {
        a->rc = VG_ERR_PROTO;
    } else {
        a->rc = a->want == VG_MSG_ADMIN_REPLY ? a->reply.body.admin_reply.code
                                              : a->reply.body.anomaly_reply.code;
    }
    return NULL;
}

/* Sends q to every member holding anomalies; *asks gets one entry per
 * member (free with s_asks_free). Returns 0 when every one answered with
 * code 0, else the first failure (a member's INVALID wins: the query was
 * bad). */
static int s_ask_all(vg_router_t *r, vg_msg_t *q, int want, s_ask_t **asks_out, size_t *n_out)
{
    uint32_t ids[S_MAX_ASK];
    size_t skipped;
    size_t n = vg__router_holders(r, ids, S_MAX_ASK, &skipped);
    if (skipped)
        vg_warn(S_MOD, "anomaly query: %zu member(s) down; their anomalies are not included",
                skipped);
    s_ask_t *asks = vg_calloc(n ? n : 1, sizeof *asks);
    pthread_t *th = vg_calloc(n ? n : 1, sizeof *th);
    q->env.version = VG_PROTO_VERSION;
    q->env.src = vg__router_self(r);
    for (size_t i = 0; i < n; i++) {
        asks[i] = (s_ask_t){.r = r, .peer = ids[i], .req = q, .want = want};
        if (pthread_create(&th[i], NULL, s_ask_main, &asks[i])) s_ask_main(&asks[i]), th[i] = 0;
    }
    int rc = n ? 0 : VG_ERR_UNREACHABLE;
    for (size_t i = 0; i < n; i++) {
        if (th[i]) pthread_join(th[i], NULL);
        if (asks[i].rc) {
            vg_warn(S_MOD, "anomaly query: node %u: %s", asks[i].peer, vg_strerror(asks[i].rc));
            if (!rc || asks[i].rc == VG_ERR_INVALID) rc = asks[i].rc;
        }
    }
    free(th);
    if (rc && rc != VG_ERR_INVALID && rc != VG_ERR_LIMIT) rc = VG_ERR_UNREACHABLE;
    *asks_out = asks;
    *n_out = n;
    return rc;
}

static void s_asks_free(s_ask_t *asks, size_t n)
{
    for (size_t i = 0; i < n; i++) vg_transport_msg_destroy(&asks[i].raw);
    free(asks);
}

/* ---- list ------------------------------------------------------------------- */

typedef struct {
    vg_anomaly_rec_t rec;
    uint8_t pk[VG_ANOMALY_PK_MAX];
    size_t pk_len;
} s_item_t;

static int s_item_cmp_desc(const void *a, const void *b)
{
    const s_item_t *x = a, *y = b;
    return -vg_anomaly_pk_cmp(x->pk, x->pk_len, y->pk, y->pk_len);
}

/* Decodes a reply's records into items (appending); PROTO when damaged. */
static int s_take_records(vg_str_t bin, s_item_t **items, size_t *n, size_t *cap)
{
    vg_mpr_t r;
    uint32_t count;
    vg_mpr_init(&r, bin.ptr, bin.len);
    if (vg_mpr_array(&r, &count) || count > vg_mpr_remaining(&r)) return VG_ERR_PROTO;
    for (uint32_t i = 0; i < count; i++) {
        const char *start = (const char *) r.p;
        if (vg_mpr_skip(&r)) return VG_ERR_PROTO;
        if (*n == *cap) *items = vg_realloc(*items, (*cap = *cap * 2 + 16) * sizeof **items);
        s_item_t *it = &(*items)[*n];
        vg_perr_t err;
        vg_perr_clear(&err);
        if (vg_anomaly_decode(start, (size_t) ((const char *) r.p - start), &it->rec, &err))
            return VG_ERR_PROTO;
        it->pk_len = vg_anomaly_pk(it->rec.ts_ms, it->rec.id, it->pk);
        ++*n;
    }
    return 0;
}

int vg_router_anomaly_query(vg_router_t *r, const vg_anomaly_query_t *q, vg_anomaly_fn *fn,
                            void *arg, char *next_cursor, size_t cap)
{
    VG_ASSERT(r && q && fn && next_cursor && cap > VG_ANOMALY_CURSOR_MAX);
    next_cursor[0] = 0;
    if (q->limit < 1 || q->limit > 1000) return VG_ERR_INVALID;
    vg_msg_t m = {.env = {.type = VG_MSG_ANOMALY_QUERY}};
    m.body.anomaly_query = (vg_body_anomaly_query_t){.kind = S_LIST,
                                                     .from_ms = q->from_ms,
                                                     .to_ms = q->to_ms,
                                                     .user_id = q->user_id,
                                                     .min_severity = q->min_severity,
                                                     .detector = q->detector,
                                                     .rule = q->rule,
                                                     .decision = q->decision,
                                                     .limit = q->limit,
                                                     .cursor = q->cursor};
    s_ask_t *asks;
    size_t n_asks, n = 0, cap_items = 0;
    s_item_t *items = NULL;
    int rc = s_ask_all(r, &m, VG_MSG_ANOMALY_REPLY, &asks, &n_asks);
    /* frontier: the highest key at which some node stopped early; below
     * it that node was not read, so nothing below may be returned yet */
    uint8_t front[VG_ANOMALY_PK_MAX];
    size_t front_len = 0;
    for (size_t i = 0; !rc && i < n_asks; i++) {
        const vg_body_anomaly_reply_t *b = &asks[i].reply.body.anomaly_reply;
        rc = s_take_records(b->records, &items, &n, &cap_items);
        uint8_t pk[VG_ANOMALY_PK_MAX];
        size_t pk_len;
        if (!rc && b->next_cursor.len) {
            rc = vg_anomaly_cursor_decode(b->next_cursor, pk, &pk_len) ? VG_ERR_PROTO : 0;
            if (!rc && (!front_len || vg_anomaly_pk_cmp(pk, pk_len, front, front_len) > 0))
                memcpy(front, pk, front_len = pk_len);
        }
    }
    if (!rc) {
        if (n) qsort(items, n, sizeof *items, s_item_cmp_desc); /* items may be NULL */
        size_t take = 0;
        while (take < n && take < q->limit &&
               (!front_len ||
                vg_anomaly_pk_cmp(items[take].pk, items[take].pk_len, front, front_len) >= 0))
            take++;
        for (size_t i = 0; i < take && !rc; i++) rc = fn(arg, &items[i].rec);
        bool more = front_len || take < n;
        if (!rc && more && take == q->limit)
            vg_anomaly_cursor_encode(items[take - 1].pk, items[take - 1].pk_len, next_cursor);
        else if (!rc && more)
            vg_anomaly_cursor_encode(front, front_len, next_cursor);
    }
    free(items);
    s_asks_free(asks, n_asks);
    return rc;
}

/* ---- get -------------------------------------------------------------------- */

int vg_router_anomaly_get(vg_router_t *r, vg_str_t id, vg_anomaly_fn *fn, void *arg)
{
    VG_ASSERT(r && fn);
    vg_msg_t m = {.env = {.type = VG_MSG_ANOMALY_QUERY}};
    m.body.anomaly_query = (vg_body_anomaly_query_t){
        .kind = S_GET, .id = id, .min_severity = -1, .decision = -1, .limit = 1};
    s_ask_t *asks;
    size_t n_asks, n = 0, cap_items = 0;
    s_item_t *items = NULL;
    int rc = s_ask_all(r, &m, VG_MSG_ANOMALY_REPLY, &asks, &n_asks);
    for (size_t i = 0; !rc && i < n_asks; i++)
        rc = s_take_records(asks[i].reply.body.anomaly_reply.records, &items, &n, &cap_items);
    if (!rc) rc = n ? fn(arg, &items[0].rec) : VG_ERR_NOT_FOUND;
    free(items);
    s_asks_free(asks, n_asks);
    return rc;
}

/* ---- stats ------------------------------------------------------------------ */

/* Adds a reply's buckets into sum (grown to the grid on the first). */
static int s_take_buckets(vg_str_t bin, vg_anomaly_bucket_t **sum, uint32_t *n, bool first)
{
    vg_mpr_t r;
    uint32_t count, k;
    vg_mpr_init(&r, bin.ptr, bin.len);
    if (vg_mpr_array(&r, &count) || count > vg_mpr_remaining(&r)) return VG_ERR_PROTO;
    if (first) {
        *sum = vg_calloc(count ? count : 1, sizeof **sum);
        *n = count;
    } else if (count != *n) {
        return VG_ERR_PROTO; /* every node computes the same grid */
    }
    for (uint32_t i = 0; i < count; i++) {
        int64_t start;
        uint64_t v[8];
        if (vg_mpr_array(&r, &k) || k < 9 || vg_mpr_int(&r, &start)) return VG_ERR_PROTO;
        for (int j = 0; j < 8; j++)
            if (vg_mpr_uint(&r, &v[j])) return VG_ERR_PROTO;
        for (uint32_t j = 9; j < k; j++) vg_mpr_skip(&r);
        vg_anomaly_bucket_t *b = &(*sum)[i];
        if (!first && b->start_ms != start) return VG_ERR_PROTO;
        b->start_ms = start;
        b->total += v[0];
        for (int j = 0; j < 4; j++) b->by_severity[j] += v[1 + j];
        for (int j = 0; j < 3; j++) b->by_decision[j] += v[5 + j];
    }
    return 0;
}

int vg_router_anomaly_stats(vg_router_t *r, int64_t from_ms, int64_t to_ms, int64_t bucket_ms,
                            vg_bucket_fn *fn, void *arg)
{
    VG_ASSERT(r && fn);
    vg_msg_t m = {.env = {.type = VG_MSG_ANOMALY_QUERY}};
    m.body.anomaly_query = (vg_body_anomaly_query_t){.kind = S_STATS,
                                                     .from_ms = from_ms,
                                                     .to_ms = to_ms,
                                                     .min_severity = -1,
                                                     .decision = -1,
                                                     .limit = 1,
                                                     .bucket_ms = bucket_ms};
    s_ask_t *asks;
    size_t n_asks;
    vg_anomaly_bucket_t *sum = NULL;
    uint32_t n = 0;
    int rc = s_ask_all(r, &m, VG_MSG_ANOMALY_REPLY, &asks, &n_asks);
    for (size_t i = 0; !rc && i < n_asks; i++)
        rc = s_take_buckets(asks[i].reply.body.anomaly_reply.buckets, &sum, &n, i == 0);
    for (uint32_t i = 0; !rc && i < n; i++) rc = fn(arg, &sum[i]);
    free(sum);
    s_asks_free(asks, n_asks);
    return rc;
}

/* ---- any ADMIN command, every member ------------------------------------------- */

int vg_router_admin_all(vg_router_t *r, const char *command, const char *arg,
                        int (*fn)(void *ctx, uint32_t node, int code, const char *json, size_t len),
                        void *ctx)
{
    VG_ASSERT(r && command && fn);
    vg_msg_t m = {.env = {.type = VG_MSG_ADMIN}};
    m.body.admin =
        (vg_body_admin_t){vg_str_c(command), 0, {arg ? arg : "", arg ? (uint32_t) strlen(arg) : 0}};
    s_ask_t *asks;
    size_t n_asks;
    int rc = s_ask_all(r, &m, VG_MSG_ADMIN_REPLY, &asks, &n_asks);
    size_t answered = 0;
    rc = 0; /* a member's refusal is passed to fn; one that did not answer is skipped */
    for (size_t i = 0; !rc && i < n_asks; i++) {
        if (!asks[i].raw || asks[i].raw->env.type != VG_MSG_ADMIN_REPLY) continue;
        vg_str_t j = asks[i].reply.body.admin_reply.json;
        answered++;
        rc = fn(ctx, asks[i].peer, asks[i].reply.body.admin_reply.code, j.ptr, j.len);
    }
    if (!rc && !answered) rc = VG_ERR_UNREACHABLE;
    s_asks_free(asks, n_asks);
    return rc;
}

/* ---- rule statistics ----------------------------------------------------------- */

int vg_router_rules_stats(vg_router_t *r, vg_jw_t *w)
{
    VG_ASSERT(r && w);
    vg_msg_t m = {.env = {.type = VG_MSG_ADMIN}};
    m.body.admin = (vg_body_admin_t){VG_STR_LIT("rules.stats"), 0, {"", 0}};
    s_ask_t *asks;
    size_t n_asks;
    int rc = s_ask_all(r, &m, VG_MSG_ADMIN_REPLY, &asks, &n_asks);
    if (!rc) {
        vg_rule_stats_t st;
        vg_rule_stats_init(&st);
        for (size_t i = 0; !rc && i < n_asks; i++) {
            vg_str_t j = asks[i].reply.body.admin_reply.json;
            rc = vg_rule_stats_add_json(&st, j.ptr, j.len) ? VG_ERR_PROTO : 0;
        }
        if (!rc) vg_rule_stats_write(&st, w);
        vg_rule_stats_fini(&st);
    }
    s_asks_free(asks, n_asks);
    return rc;
}

/* ---- model statistics ---------------------------------------------------------- */

static const char *const s_model_keys[] = {"scored", "flagged", "shadow_scored", "shadow_flagged",
                                           "both_flagged"};

/* Reads the integer of key in a flat JSON object (-1 if absent or bad). */
static int64_t s_json_int(vg_str_t json, const char *key)
{
    vg_arena_t a = VG_ARENA_INIT;
    vg_jr_t r;
    vg_jr_init(&r, json.ptr, json.len, &a);
    bool first = true;
    vg_str_t k;
    int64_t out = -1;
    if (!vg_jr_obj_begin(&r))
        while (vg_jr_obj_next(&r, &first, &k) == 1) {
            vg_jnum_t num;
            if (vg_str_eq_c(k, key) && !vg_jr_number(&r, &num) && num.is_int)
                out = num.i;
            else if (!vg_str_eq_c(k, key))
                vg_jr_skip(&r);
        }
    vg_arena_fini(&a);
    return r.err ? -1 : out;
}

void vg_model_stats_write(vg_jw_t *w, size_t nodes, const uint64_t *active, const uint64_t *shadow,
                          const uint64_t sums[5])
{
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "nodes", (int64_t) nodes);
    vg_jw_key(w, "active_versions");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < nodes; i++) {
        bool seen = false;
        for (size_t k = 0; k < i; k++) seen = seen || active[k] == active[i];
        if (!seen) vg_jw_int(w, (int64_t) active[i]);
    }
    vg_jw_arr_end(w);
    vg_jw_key(w, "shadow_versions");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < nodes; i++) {
        bool seen = false;
        for (size_t k = 0; k < i; k++) seen = seen || shadow[k] == shadow[i];
        if (!seen) vg_jw_int(w, (int64_t) shadow[i]);
    }
    vg_jw_arr_end(w);
    for (int k = 0; k < 5; k++) vg_jw_kint(w, s_model_keys[k], (int64_t) sums[k]);
    vg_jw_obj_end(w);
}

int vg_router_models_stats(vg_router_t *r, vg_jw_t *w)
{
    VG_ASSERT(r && w);
    vg_msg_t m = {.env = {.type = VG_MSG_ADMIN}};
    m.body.admin = (vg_body_admin_t){VG_STR_LIT("models.stats"), 0, {"", 0}};
    s_ask_t *asks;
    size_t n_asks;
    int rc = s_ask_all(r, &m, VG_MSG_ADMIN_REPLY, &asks, &n_asks);
    uint64_t *active = vg_calloc(n_asks + 1, sizeof *active);
    uint64_t *shadow = vg_calloc(n_asks + 1, sizeof *shadow), sums[5] = {0};
    for (size_t i = 0; !rc && i < n_asks; i++) {
        vg_str_t j = asks[i].reply.body.admin_reply.json;
        int64_t a = s_json_int(j, "active"), sh = s_json_int(j, "shadow");
        if (a < 0 || sh < 0) rc = VG_ERR_PROTO;
        active[i] = (uint64_t) a, shadow[i] = (uint64_t) sh;
        for (int k = 0; !rc && k < 5; k++) {
            int64_t v = s_json_int(j, s_model_keys[k]);
            if (v < 0) rc = VG_ERR_PROTO;
            sums[k] += (uint64_t) v;
        }
    }
    if (!rc) vg_model_stats_write(w, n_asks, active, shadow, sums);
    free(active);
    free(shadow);
    s_asks_free(asks, n_asks);
    return rc;
}
