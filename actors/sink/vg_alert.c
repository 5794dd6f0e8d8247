/* vg_alert.c: the alert module's object: open/close, the outbox deliver
 * function (routing, dedup, one LMDB write per batch), alert history
 * (list/get/retry), stats and metrics, and housekeeping (pruning of the
 * idempotency keys, expired dedup windows and old delivered alerts). The
 * senders are in vg_alert_sender.c. */
#include "vg_alert_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"
#include "vg_tx.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define S_MOD      "alert"
#define S_MAX_SCAN 100000

static const char *const s_status_names[] = {"pending", "throttled", "delivered", "dead"};

const char *vg_alert_status_name(int status)
{
    return status >= 0 && status <= VG_ALERT_DEAD ? s_status_names[status] : NULL;
}

int vg_alert_status_parse(vg_str_t s, vg_alert_status *out)
{
    for (int i = 0; i <= VG_ALERT_DEAD; i++)
        if (vg_str_eq_c(s, s_status_names[i])) {
            *out = (vg_alert_status) i;
            return 0;
        }
    return VG_ERR_INVALID;
}

int vg__alert_chan_find(const vg_alert_t *a, vg_str_t name)
{
    for (size_t i = 0; i < a->r->n_channels; i++)
        if (vg_str_eq_c(name, a->r->channels[i].name)) return (int) i;
    return -1;
}

void vg__alert_kick(vg__chan_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->kick = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- storing an alert with its index keys --------------------------------- */

int vg__alert_store(vg__atxn_t *t, const vg__alert_t *al, int old_status, int64_t old_next_at,
                    vg_mpw_t *w)
{
    uint8_t k[VG__K_DUE_MAX];
    int rc = 0;
    if (old_status >= 0 && old_status != al->status)
        rc = vg__adb_del(t, VG__DB_STATUS, k, vg__key_status(k, old_status, al->seq));
    if (!rc && old_status == VG_ALERT_PENDING &&
        (al->status != VG_ALERT_PENDING || al->next_at_ms != old_next_at))
        rc = vg__adb_del(t, VG__DB_DUE, k, vg__key_due(k, al->channel, old_next_at, al->seq));
    if (!rc && old_status == VG_ALERT_THROTTLED && al->status != VG_ALERT_THROTTLED)
        rc = vg__adb_del(t, VG__DB_HELD, k, vg__key_held(k, al->channel, al->seq));
    if (!rc && old_status != al->status)
        rc = vg__adb_put(t, VG__DB_STATUS, k, vg__key_status(k, al->status, al->seq), "", 0);
    if (!rc && al->status == VG_ALERT_PENDING &&
        (old_status != VG_ALERT_PENDING || al->next_at_ms != old_next_at))
        rc = vg__adb_put(t, VG__DB_DUE, k, vg__key_due(k, al->channel, al->next_at_ms, al->seq), "",
                         0);
    if (!rc && al->status == VG_ALERT_THROTTLED && old_status != VG_ALERT_THROTTLED)
        rc = vg__adb_put(t, VG__DB_HELD, k, vg__key_held(k, al->channel, al->seq), "", 0);
    if (rc) return rc;
    vg_mpw_reset(w);
    vg__alert_encode(al, w);
    if (w->err) return VG_ERR_INTERNAL;
    uint8_t sk[8];
    vg__be64(sk, al->seq);
    return vg__adb_put(t, VG__DB_ALERTS, sk, 8, w->buf, w->len);
}

void vg__alert_gauge(vg__chan_t *c, int old_status, int new_status)
{
    if (old_status == new_status) return;
    if (old_status == VG_ALERT_PENDING) atomic_fetch_sub(&c->pending, 1);
    if (old_status == VG_ALERT_THROTTLED) atomic_fetch_sub(&c->held, 1);
    if (new_status == VG_ALERT_PENDING) atomic_fetch_add(&c->pending, 1);
    if (new_status == VG_ALERT_THROTTLED) atomic_fetch_add(&c->held, 1);
    if (new_status == VG_ALERT_DEAD) vg_counter_add(&c->dead, 1);
}

int vg__alert_load(vg__atxn_t *t, uint64_t seq, vg__alert_t *al)
{
    uint8_t sk[8];
    vg__be64(sk, seq);
    vg_str_t v;
    int rc = vg__adb_get(t, VG__DB_ALERTS, sk, 8, &v);
    if (rc) return rc;
    if (vg__alert_decode(v.ptr, v.len, al)) {
        vg_error(S_MOD, "alert %" PRIu64 ": stored record does not decode", seq);
        return VG_ERR_STORAGE;
    }
    return 0;
}

/* ---- routing ---------------------------------------------------------------- */

static bool s_in(vg_str_t s, char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (vg_str_eq_c(s, list[i])) return true;
    return false;
}

static bool s_route_match(const vg__route_t *rt, const vg_anomaly_rec_t *an)
{
    if (rt->min_severity >= 0 && an->severity < rt->min_severity) return false;
    if (rt->decisions && !(rt->decisions & (1u << an->decision))) return false;
    if (rt->n_rules) {
        bool hit = false;
        for (unsigned i = 0; i < an->n_reasons && !hit; i++)
            hit = vg_str_eq_c(an->reasons[i].detector, "rule") &&
                  s_in(an->reasons[i].feature, rt->rules, rt->n_rules);
        if (!hit) return false;
    }
    if (rt->n_detectors) {
        bool hit = false;
        for (unsigned i = 0; i < an->n_reasons && !hit; i++)
            hit = s_in(an->reasons[i].detector, rt->detectors, rt->n_detectors);
        if (!hit) return false;
    }
    return true;
}

/* Bit i set: channel i gets this anomaly (at most 64 channels). */
static uint64_t s_route(const vg_alert_routing_t *r, const vg_anomaly_rec_t *an)
{
    uint64_t mask = 0;
    for (size_t i = 0; i < r->n_routes; i++)
        if (s_route_match(&r->routes[i], an))
            for (size_t k = 0; k < r->routes[i].n_channels; k++)
                mask |= (uint64_t) 1 << r->routes[i].channels[k];
    return mask;
}

/* ---- deliver ---------------------------------------------------------------- */

typedef struct {
    vg_alert_t *a;
    vg__atxn_t *t;
    vg_mpw_t w;
    int64_t now;
    uint64_t next_seq;
    int64_t d_pending[64], d_dead[64], d_dedup[64];
} s_batch_t;

/* An anomaly for channel ci: folds it into the open alert of its dedup
 * key, or opens a new alert. */
static int s_alert_one(s_batch_t *b, size_t ci, const vg_anomaly_rec_t *an, vg_str_t reason,
                       vg_str_t raw)
{
    vg_alert_t *a = b->a;
    const vg_alert_routing_t *r = a->r;
    vg_str_t chan = vg_str_c(r->channels[ci].name);
    uint8_t dk[VG__K_DEDUP_MAX];
    size_t dkl = vg__key_dedup(dk, chan, an->user_id, reason);
    vg_str_t v;
    vg__alert_t al;
    int rc = vg__adb_get(b->t, VG__DB_DEDUP, dk, dkl, &v);
    if (rc && rc != VG_ERR_NOT_FOUND) return rc;
    uint32_t repeats = 0;
    if (!rc && v.len == 16) {
        uint64_t seq = vg__rd64((const uint8_t *) v.ptr);
        int64_t start = vg__rdord64((const uint8_t *) v.ptr + 8);
        int lrc = vg__alert_load(b->t, seq, &al);
        if (lrc && lrc != VG_ERR_NOT_FOUND) return lrc;
        if (!lrc && b->now - start < r->dedup_window_ms && b->now >= start) {
            al.count++;
            al.last_ms = al.updated_ms = b->now;
            al.last_anomaly_id = an->id;
            b->d_dedup[ci]++;
            return vg__alert_store(b->t, &al, al.status, al.next_at_ms, &b->w);
        }
        if (!lrc && al.status == VG_ALERT_DELIVERED && al.count > al.count_sent)
            repeats = al.count - al.count_sent;
    }
    memset(&al, 0, sizeof al);
    al.seq = b->next_seq++;
    al.channel = chan;
    al.created_ms = al.updated_ms = al.first_ms = al.last_ms = b->now;
    al.count = 1;
    al.next_at_ms = b->now + r->group_wait_ms;
    al.reason = reason;
    al.last_anomaly_id = an->id;
    al.repeats_before = repeats;
    al.anomaly = raw;
    vg__chan_t *c = &a->chans[ci];
    uint64_t queued =
        (uint64_t) (atomic_load(&c->pending) + atomic_load(&c->held) + b->d_pending[ci]);
    if (queued >= r->max_pending) {
        al.status = VG_ALERT_DEAD;
        al.last_error = VG_STR_LIT("queue full (max_pending)");
        b->d_dead[ci]++;
    } else {
        al.status = VG_ALERT_PENDING;
        b->d_pending[ci]++;
    }
    rc = vg__alert_store(b->t, &al, -1, 0, &b->w);
    uint8_t dv[16];
    vg__be64(dv, al.seq);
    vg__ord64(dv + 8, b->now);
    if (!rc) rc = vg__adb_put(b->t, VG__DB_DEDUP, dk, dkl, dv, 16);
    return rc;
}

/* One record: 0 (alerted, skipped or folded) or a storage error. */
static int s_deliver_one(s_batch_t *b, vg_str_t raw, vg_anomaly_rec_t *an)
{
    vg_alert_t *a = b->a;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    if (vg_anomaly_decode(raw.ptr, raw.len, an, &perr)) {
        char msg[300];
        vg_warn(S_MOD, "skipping an anomaly record that does not decode: %s",
                vg_perr_str(&perr, msg, sizeof msg));
        vg_counter_add(&a->an_invalid, 1);
        return 0;
    }
    uint8_t pk[VG_ANOMALY_PK_MAX + 8];
    size_t pkl = vg_anomaly_pk(an->ts_ms, an->id, pk);
    vg_str_t v;
    int rc = vg__adb_get(b->t, VG__DB_SEEN, pk, pkl, &v);
    if (rc != VG_ERR_NOT_FOUND) {
        if (!rc) vg_counter_add(&a->an_dup, 1);
        return rc;
    }
    rc = 0;
    uint64_t mask = s_route(a->r, an);
    if (!mask) {
        vg_counter_add(&a->an_unrouted, 1);
        return 0;
    }
    vg_counter_add(&a->an_routed, 1);
    char reason[VG__ALERT_REASON_MAX];
    vg_str_t rk = {reason, (uint32_t) vg__alert_reason_key(an, reason)};
    for (size_t ci = 0; ci < a->r->n_channels && !rc; ci++)
        if (mask & ((uint64_t) 1 << ci)) rc = s_alert_one(b, ci, an, rk, raw);
    uint8_t ts[8], tk[8 + sizeof pk];
    vg__ord64(ts, b->now);
    memcpy(tk, ts, 8);
    memcpy(tk + 8, pk, pkl);
    if (!rc) rc = vg__adb_put(b->t, VG__DB_SEEN, pk, pkl, ts, 8);
    if (!rc) rc = vg__adb_put(b->t, VG__DB_SEEN_T, tk, 8 + pkl, "", 0);
    return rc;
}

int vg_alert_deliver(void *alert, const vg_str_t *recs, size_t n)
{
    vg_alert_t *a = alert;
    if (n == 0) return 0;
    s_batch_t *b = VG_NEW(s_batch_t);
    b->a = a;
    b->now = vg_wall_ms();
    vg_mpw_init(&b->w);
    vg_anomaly_rec_t *an = VG_NEW(vg_anomaly_rec_t);
    vg_str_t v;
    int rc = vg__adb_begin(a->db, true, &b->t);
    if (!rc) {
        rc = vg__adb_get(b->t, VG__DB_META, "next_seq", 8, &v);
        b->next_seq = !rc && v.len == 8 ? vg__rd64((const uint8_t *) v.ptr) : 1;
        rc = rc == VG_ERR_NOT_FOUND ? 0 : rc;
    }
    for (size_t i = 0; i < n && !rc; i++) rc = s_deliver_one(b, recs[i], an);
    uint8_t seq[8];
    vg__be64(seq, b->next_seq);
    if (!rc) rc = vg__adb_put(b->t, VG__DB_META, "next_seq", 8, seq, 8);
    if (!rc)
        rc = vg__adb_commit(&b->t);
    else
        vg__adb_abort(&b->t);
    if (!rc) {
        for (size_t ci = 0; ci < a->r->n_channels; ci++) {
            vg__chan_t *c = &a->chans[ci];
            atomic_fetch_add(&c->pending, b->d_pending[ci]);
            vg_counter_add(&c->dead, (uint64_t) b->d_dead[ci]);
            vg_counter_add(&c->dedup, (uint64_t) b->d_dedup[ci]);
            if (b->d_pending[ci] || b->d_dedup[ci]) vg__alert_kick(c);
        }
    } else {
        vg_error(S_MOD, "cannot store %zu anomalies as alerts: %s (the outbox retries)", n,
                 vg_strerror(rc));
    }
    vg_mpw_fini(&b->w);
    free(an);
    free(b);
    return rc == VG_ERR_FULL ? rc : rc ? VG_ERR_STORAGE : 0;
}

/* ---- history -------------------------------------------------------------- */

void vg_alert_query_init(vg_alert_query_t *q)
{
    memset(q, 0, sizeof *q);
    q->status = -1;
    q->since_ms = INT64_MIN;
    q->until_ms = INT64_MAX;
    q->limit = 50;
}

static int s_time_param(const char *v, int64_t *out)
{
    char *end;
    long long ms = strtoll(v, &end, 10);
    if (end != v && *end == 0) {
        *out = ms;
        return 0;
    }
    return vg_ts_parse_rfc3339(v, strlen(v), out);
}

int vg_alert_query_set(vg_alert_query_t *q, const char *key, const char *value, vg_perr_t *err)
{
    if (!strcmp(key, "status")) {
        vg_alert_status s;
        if (vg_alert_status_parse(vg_str_c(value), &s))
            return vg_perr_set(err, VG_ERR_INVALID, key,
                               "must be pending, throttled, delivered or dead");
        q->status = (int) s;
    } else if (!strcmp(key, "channel")) {
        q->channel = vg_str_c(value);
    } else if (!strcmp(key, "user_id")) {
        q->user_id = vg_str_c(value);
    } else if (!strcmp(key, "since") || !strcmp(key, "until")) {
        int64_t ms;
        if (s_time_param(value, &ms))
            return vg_perr_set(err, VG_ERR_INVALID, key, "must be RFC 3339 or epoch milliseconds");
        *(key[0] == 's' ? &q->since_ms : &q->until_ms) = ms;
    } else if (!strcmp(key, "limit")) {
        char *end;
        long v = strtol(value, &end, 10);
        if (end == value || *end || v < 1 || v > VG_ALERT_LIMIT_MAX)
            return vg_perr_set(err, VG_ERR_INVALID, key, "must be 1..%d", VG_ALERT_LIMIT_MAX);
        q->limit = (uint32_t) v;
    } else if (!strcmp(key, "cursor")) {
        q->cursor = vg_str_c(value);
    } else {
        return vg_perr_set(err, VG_ERR_INVALID, key, "unknown parameter");
    }
    return 0;
}

/* Cursor: base64url(seq u64 BE | fnv1a32(instance | seq)) = 16 characters. */
static const char s_b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static uint32_t s_cursor_check(const vg_alert_t *a, const uint8_t *seq)
{
    uint32_t h = 2166136261u;
    for (const char *p = a->instance; *p; p++) h = (h ^ (uint8_t) *p) * 16777619u;
    for (int i = 0; i < 8; i++) h = (h ^ seq[i]) * 16777619u;
    return h;
}

static void s_cursor_encode(const vg_alert_t *a, uint64_t seq, char *out)
{
    uint8_t raw[12];
    vg__be64(raw, seq);
    uint32_t h = s_cursor_check(a, raw);
    for (int i = 0; i < 4; i++) raw[8 + i] = (uint8_t) (h >> (24 - 8 * i));
    for (int i = 0; i < 4; i++) {
        uint32_t v = (uint32_t) raw[3 * i] << 16 | (uint32_t) raw[3 * i + 1] << 8 | raw[3 * i + 2];
        for (int k = 0; k < 4; k++) out[4 * i + k] = s_b64u[v >> (18 - 6 * k) & 63];
    }
    out[16] = 0;
}

static int s_cursor_decode(const vg_alert_t *a, vg_str_t c, uint64_t *seq)
{
    if (c.len != 16) return VG_ERR_INVALID;
    uint8_t raw[12];
    for (int i = 0; i < 4; i++) {
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            const char *p = memchr(s_b64u, c.ptr[4 * i + k], 64);
            if (!p || !c.ptr[4 * i + k]) return VG_ERR_INVALID;
            v = v << 6 | (uint32_t) (p - s_b64u);
        }
        raw[3 * i] = (uint8_t) (v >> 16);
        raw[3 * i + 1] = (uint8_t) (v >> 8);
        raw[3 * i + 2] = (uint8_t) v;
    }
    uint32_t h =
        (uint32_t) raw[8] << 24 | (uint32_t) raw[9] << 16 | (uint32_t) raw[10] << 8 | raw[11];
    if (h != s_cursor_check(a, raw)) return VG_ERR_INVALID;
    *seq = vg__rd64(raw);
    return *seq ? 0 : VG_ERR_INVALID;
}

typedef struct {
    vg_alert_t *a;
    const vg_alert_query_t *q;
    vg__atxn_t *t;
    vg_jw_t *out;
    bool by_status;
    uint32_t emitted, scanned;
    uint64_t last_seq; /* last scanned */
    bool more;
    int err;
} s_list_t;

static int s_list_visit(void *arg, vg_str_t key, vg_str_t val)
{
    s_list_t *l = arg;
    const vg_alert_query_t *q = l->q;
    vg__alert_t al;
    vg_str_t rec = val;
    uint64_t seq;
    if (l->by_status) {
        if (key.len != 9 || (uint8_t) key.ptr[0] != q->status) return 1;
        seq = vg__rd64((const uint8_t *) key.ptr + 1);
        uint8_t sk[8];
        vg__be64(sk, seq);
        if (vg__adb_get(l->t, VG__DB_ALERTS, sk, 8, &rec)) return 0; /* index ahead of a prune */
    } else {
        if (key.len != 8) return 0;
        seq = vg__rd64((const uint8_t *) key.ptr);
    }
    if (l->emitted == q->limit || l->scanned == S_MAX_SCAN) {
        l->more = true;
        return 1;
    }
    l->scanned++;
    l->last_seq = seq;
    if (vg__alert_decode(rec.ptr, rec.len, &al)) return 0;
    if (q->since_ms != INT64_MIN && al.created_ms < q->since_ms - 60000)
        return 1; /* ids follow creation (a minute of clock slack) */
    if (al.created_ms < q->since_ms || al.created_ms >= q->until_ms) return 0;
    if (q->status >= 0 && al.status != q->status) return 0;
    if (q->channel.ptr && !vg_str_eq(q->channel, al.channel)) return 0;
    if (q->user_id.ptr) {
        vg_anomaly_rec_t *an = vg_malloc(sizeof *an);
        vg_perr_t perr;
        bool ok = !vg_anomaly_decode(al.anomaly.ptr, al.anomaly.len, an, &perr) &&
                  vg_str_eq(an->user_id, q->user_id);
        free(an);
        if (!ok) return 0;
    }
    char cur[VG_ALERT_CURSOR_MAX + 1];
    if (q->item_cursors) s_cursor_encode(l->a, seq, cur); /* goes on below seq */
    vg__alert_json(l->out, l->a, &al, false, q->item_cursors ? cur : NULL);
    l->emitted++;
    return 0;
}

int vg_alert_list(vg_alert_t *a, const vg_alert_query_t *q, vg_jw_t *out)
{
    if (q->limit < 1 || q->limit > VG_ALERT_LIMIT_MAX) return VG_ERR_INVALID;
    uint64_t from = UINT64_MAX;
    if (q->cursor.ptr && s_cursor_decode(a, q->cursor, &from)) return VG_ERR_INVALID;
    if (q->cursor.ptr) from--;
    s_list_t l = {.a = a, .q = q, .out = out, .by_status = q->status >= 0};
    int rc = vg__adb_begin(a->db, false, &l.t);
    if (rc) return VG_ERR_STORAGE;
    vg_jw_obj_begin(out);
    vg_jw_key(out, "alerts");
    vg_jw_arr_begin(out);
    uint8_t k[9];
    if (from) {
        if (l.by_status)
            rc = vg__adb_walk(l.t, VG__DB_STATUS, k, vg__key_status(k, q->status, from), true,
                              s_list_visit, &l);
        else {
            vg__be64(k, from);
            rc = vg__adb_walk(l.t, VG__DB_ALERTS, k, 8, true, s_list_visit, &l);
        }
    }
    vg__adb_abort(&l.t);
    vg_jw_arr_end(out);
    char cur[VG_ALERT_CURSOR_MAX + 1];
    if (l.more && l.last_seq > 1) s_cursor_encode(a, l.last_seq, cur);
    vg_jw_kcstr(out, "next_cursor", l.more && l.last_seq > 1 ? cur : NULL);
    vg_jw_obj_end(out);
    return rc < 0 ? VG_ERR_STORAGE : 0;
}

uint32_t vg_alert_node_id(const vg_alert_t *a)
{
    return a->node_id;
}

int vg_alert_get(vg_alert_t *a, vg_str_t id, vg_jw_t *out)
{
    uint32_t node;
    uint64_t seq;
    if (vg__alert_id_parse(id, &node, &seq) || node != a->node_id) return VG_ERR_NOT_FOUND;
    vg__atxn_t *t;
    if (vg__adb_begin(a->db, false, &t)) return VG_ERR_STORAGE;
    vg__alert_t al;
    int rc = vg__alert_load(t, seq, &al);
    if (!rc) vg__alert_json(out, a, &al, true, NULL);
    vg__adb_abort(&t);
    return rc == VG_ERR_NOT_FOUND ? rc : rc ? VG_ERR_STORAGE : 0;
}

int vg_alert_retry(vg_alert_t *a, vg_str_t id, char *err, size_t errlen)
{
    uint32_t node;
    uint64_t seq;
    if (vg__alert_id_parse(id, &node, &seq) || node != a->node_id)
        return vg_errf(err, errlen, VG_ERR_NOT_FOUND, "no alert with this id on this node");
    vg__atxn_t *t;
    if (vg__adb_begin(a->db, true, &t))
        return vg_errf(err, errlen, VG_ERR_STORAGE, "storage error");
    vg__alert_t al;
    vg_mpw_t w;
    vg_mpw_init(&w);
    int ci = -1, rc = vg__alert_load(t, seq, &al);
    if (rc == VG_ERR_NOT_FOUND)
        vg_errf(err, errlen, rc, "no alert with this id on this node");
    else if (rc)
        vg_errf(err, errlen, rc = VG_ERR_STORAGE, "storage error");
    else if (al.status != VG_ALERT_DEAD)
        vg_errf(err, errlen, rc = VG_ERR_INVALID, "alert is %s, not dead",
                vg_alert_status_name(al.status));
    else if ((ci = vg__alert_chan_find(a, al.channel)) < 0)
        vg_errf(err, errlen, rc = VG_ERR_INVALID, "channel '%.*s' is not configured",
                (int) al.channel.len, al.channel.ptr);
    if (!rc) {
        al.status = VG_ALERT_PENDING;
        al.attempts = 0;
        al.next_at_ms = al.updated_ms = vg_wall_ms();
        rc = vg__alert_store(t, &al, VG_ALERT_DEAD, 0, &w);
        if (rc) vg_errf(err, errlen, rc = VG_ERR_STORAGE, "storage error");
    }
    if (!rc && (rc = vg__adb_commit(&t)))
        vg_errf(err, errlen, rc = VG_ERR_STORAGE, "storage error");
    vg__adb_abort(&t);
    vg_mpw_fini(&w);
    if (rc) return rc;
    atomic_fetch_add(&a->chans[ci].pending, 1);
    vg_info(S_MOD, "alert %.*s re-queued by an admin", (int) id.len, id.ptr);
    vg__alert_kick(&a->chans[ci]);
    return 0;
}

/* ---- stats and metrics ------------------------------------------------------ */

static void s_stats(vg__chan_t *c, vg_alert_stats_t *s)
{
    s->sent = vg_counter_get(&c->sent);
    s->delivered = vg_counter_get(&c->delivered);
    s->failures = vg_counter_get(&c->failures);
    s->dead = vg_counter_get(&c->dead);
    s->dedup = vg_counter_get(&c->dedup);
    s->throttled = vg_counter_get(&c->throttled);
    s->digests = vg_counter_get(&c->digests);
    int64_t p = atomic_load(&c->pending), h = atomic_load(&c->held);
    s->pending = p > 0 ? (uint64_t) p : 0;
    s->held = h > 0 ? (uint64_t) h : 0;
    s->healthy = atomic_load(&c->healthy);
}

int vg_alert_stats(vg_alert_t *a, const char *channel, vg_alert_stats_t *out)
{
    int ci = vg__alert_chan_find(a, vg_str_c(channel));
    if (ci < 0) return VG_ERR_NOT_FOUND;
    s_stats(&a->chans[ci], out);
    return 0;
}

void vg_alert_channels_json(vg_alert_t *a, vg_jw_t *w)
{
    static const char *const types[] = {"smtp", "slack", "webhook"};
    vg_jw_obj_begin(w);
    vg_jw_key(w, "channels");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < a->r->n_channels; i++) {
        vg__chan_t *c = &a->chans[i];
        vg_alert_stats_t s;
        s_stats(c, &s);
        char err[VG__ALERT_ERR_MAX];
        pthread_mutex_lock(&c->mu);
        memcpy(err, c->last_error, sizeof err);
        pthread_mutex_unlock(&c->mu);
        vg_jw_obj_begin(w);
        vg_jw_kcstr(w, "name", c->cfg->name);
        vg_jw_kcstr(w, "type", types[c->cfg->type]);
        vg_jw_kbool(w, "healthy", s.healthy);
        vg_jw_kcstr(w, "last_error", err[0] ? err : NULL);
        vg_jw_kint(w, "pending", (int64_t) s.pending);
        vg_jw_kint(w, "throttled", (int64_t) s.held);
        vg_jw_kint(w, "sent", (int64_t) s.sent);
        vg_jw_kint(w, "delivered", (int64_t) s.delivered);
        vg_jw_kint(w, "failures", (int64_t) s.failures);
        vg_jw_kint(w, "dead", (int64_t) s.dead);
        vg_jw_kint(w, "dedup", (int64_t) s.dedup);
        vg_jw_kint(w, "digests", (int64_t) s.digests);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
}

void vg_alert_metrics(vg_alert_t *a, vg_prom_t *p)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } ctrs[] = {
        {"vigil_alert_sent_total", "Messages a channel accepted (a digest counts once).",
         offsetof(vg_alert_stats_t, sent)},
        {"vigil_alert_delivered_total", "Alerts delivered, alone or in a digest.",
         offsetof(vg_alert_stats_t, delivered)},
        {"vigil_alert_failures_total", "Failed send attempts.",
         offsetof(vg_alert_stats_t, failures)},
        {"vigil_alert_dead_total", "Alerts that became dead.", offsetof(vg_alert_stats_t, dead)},
        {"vigil_alert_dedup_total",
         "Anomalies folded into an open alert of the same user and reason.",
         offsetof(vg_alert_stats_t, dedup)},
        {"vigil_alert_throttled_total", "Alerts held back by the rate limit for a digest.",
         offsetof(vg_alert_stats_t, throttled)},
        {"vigil_alert_digests_total", "Digests sent.", offsetof(vg_alert_stats_t, digests)},
    };
    size_t n = a->r->n_channels;
    vg_alert_stats_t *st = vg_calloc(n, sizeof *st);
    for (size_t i = 0; i < n; i++) s_stats(&a->chans[i], &st[i]);
    char labels[160];
    for (size_t m = 0; m < VG_ARRAY_LEN(ctrs); m++) {
        vg_prom_header(p, ctrs[m].name, "counter", ctrs[m].help);
        for (size_t i = 0; i < n; i++) {
            snprintf(labels, sizeof labels, "channel=\"%s\"", a->chans[i].cfg->name);
            uint64_t v;
            memcpy(&v, (const char *) &st[i] + ctrs[m].off, sizeof v);
            vg_prom_sample(p, ctrs[m].name, labels, (double) v);
        }
    }
    vg_prom_header(p, "vigil_alert_queue", "gauge", "Alerts waiting per channel and state.");
    for (size_t i = 0; i < n; i++) {
        snprintf(labels, sizeof labels, "channel=\"%s\",state=\"pending\"", a->chans[i].cfg->name);
        vg_prom_sample(p, "vigil_alert_queue", labels, (double) st[i].pending);
        snprintf(labels, sizeof labels, "channel=\"%s\",state=\"throttled\"",
                 a->chans[i].cfg->name);
        vg_prom_sample(p, "vigil_alert_queue", labels, (double) st[i].held);
    }
    vg_prom_header(p, "vigil_alert_channel_up", "gauge", "1 when the last send attempt succeeded.");
    for (size_t i = 0; i < n; i++) {
        snprintf(labels, sizeof labels, "channel=\"%s\"", a->chans[i].cfg->name);
        vg_prom_sample(p, "vigil_alert_channel_up", labels, st[i].healthy ? 1 : 0);
    }
    free(st);
    vg_prom_header(p, "vigil_alert_anomalies_total", "counter",
                   "Anomalies handed to alerting, by result.");
    vg_prom_sample(p, "vigil_alert_anomalies_total", "result=\"routed\"",
                   (double) vg_counter_get(&a->an_routed));
    vg_prom_sample(p, "vigil_alert_anomalies_total", "result=\"unrouted\"",
                   (double) vg_counter_get(&a->an_unrouted));
    vg_prom_sample(p, "vigil_alert_anomalies_total", "result=\"duplicate\"",
                   (double) vg_counter_get(&a->an_dup));
    vg_prom_sample(p, "vigil_alert_anomalies_total", "result=\"invalid\"",
                   (double) vg_counter_get(&a->an_invalid));
    vg_prom_hist(p, "vigil_alert_send_seconds", "Time of one send attempt.", &a->send_hist);
}

/* ---- housekeeping ------------------------------------------------------------ */

#define S_PRUNE_BATCH 1000

typedef struct {
    vg__atxn_t *t;
    int64_t cutoff;
    size_t n;
    uint8_t keys[S_PRUNE_BATCH][VG__K_DEDUP_MAX + 8];
    size_t lens[S_PRUNE_BATCH];
} s_prune_t;

static void s_prune_keep(s_prune_t *p, vg_str_t key)
{
    size_t n = VG_MIN(key.len, sizeof p->keys[0]);
    memcpy(p->keys[p->n], key.ptr, n);
    p->lens[p->n++] = n;
}

static int s_prune_seen(void *arg, vg_str_t key, vg_str_t val)
{
    s_prune_t *p = arg;
    if (p->n == S_PRUNE_BATCH || key.len < 8 || vg__rdord64((const uint8_t *) key.ptr) >= p->cutoff)
        return 1;
    s_prune_keep(p, key);
    return 0;
}

static int s_prune_dedup(void *arg, vg_str_t key, vg_str_t val)
{
    s_prune_t *p = arg;
    if (p->n == S_PRUNE_BATCH) return 1;
    if (val.len == 16 && vg__rdord64((const uint8_t *) val.ptr + 8) < p->cutoff)
        s_prune_keep(p, key);
    return 0;
}

static int s_prune_delivered(void *arg, vg_str_t key, vg_str_t val)
{
    s_prune_t *p = arg;
    if (p->n == S_PRUNE_BATCH || key.len != 9 || key.ptr[0] != VG_ALERT_DELIVERED) return 1;
    vg__alert_t al;
    if (vg__alert_load(p->t, vg__rd64((const uint8_t *) key.ptr + 1), &al) == 0 &&
        al.updated_ms >= p->cutoff)
        return 1;
    s_prune_keep(p, key);
    return 0;
}

/* One pass of one kind; returns how many were pruned (-1 on error). */
static long s_prune_pass(vg_alert_t *a, int kind, int64_t cutoff)
{
    s_prune_t *p = VG_NEW(s_prune_t);
    p->cutoff = cutoff;
    long out = -1;
    if (vg__adb_begin(a->db, true, &p->t)) goto done;
    int rc = 0;
    if (kind == 0)
        rc = vg__adb_walk(p->t, VG__DB_SEEN_T, NULL, 0, false, s_prune_seen, p);
    else if (kind == 1)
        rc = vg__adb_walk(p->t, VG__DB_DEDUP, NULL, 0, false, s_prune_dedup, p);
    else
        rc = vg__adb_walk(p->t, VG__DB_STATUS, (uint8_t[]){VG_ALERT_DELIVERED}, 1, false,
                          s_prune_delivered, p);
    rc = rc < 0 ? rc : 0;
    for (size_t i = 0; i < p->n && !rc; i++) {
        const uint8_t *k = p->keys[i];
        if (kind == 0) {
            rc = vg__adb_del(p->t, VG__DB_SEEN_T, k, p->lens[i]);
            if (!rc) rc = vg__adb_del(p->t, VG__DB_SEEN, k + 8, p->lens[i] - 8);
        } else if (kind == 1) {
            rc = vg__adb_del(p->t, VG__DB_DEDUP, k, p->lens[i]);
        } else {
            rc = vg__adb_del(p->t, VG__DB_STATUS, k, p->lens[i]);
            if (!rc) rc = vg__adb_del(p->t, VG__DB_ALERTS, k + 1, 8);
        }
    }
    if (!rc) rc = vg__adb_commit(&p->t);
    vg__adb_abort(&p->t);
    out = rc ? -1 : (long) p->n;
done:
    free(p);
    return out;
}

void vg__alert_maintain(vg_alert_t *a, int64_t now)
{
    const vg_alert_routing_t *r = a->r;
    int64_t cutoffs[3] = {now - VG__ALERT_SEEN_MS, now - VG_MAX(r->dedup_window_ms, 1),
                          r->retention_days ? now - (int64_t) r->retention_days * 86400000
                                            : INT64_MIN};
    long total[3] = {0, 0, 0};
    for (int kind = 0; kind < 3; kind++) {
        if (cutoffs[kind] == INT64_MIN) continue;
        long n;
        while (!atomic_load(&a->stop) && (n = s_prune_pass(a, kind, cutoffs[kind])) > 0) {
            total[kind] += n;
            if (n < S_PRUNE_BATCH) break;
        }
    }
    if (total[0] + total[1] + total[2])
        vg_debug(S_MOD, "pruned %ld idempotency keys, %ld dedup windows, %ld delivered alerts",
                 total[0], total[1], total[2]);
}

static void *s_keeper(void *arg)
{
    vg_alert_t *a = arg;
    int64_t next = vg_wall_ms() + 5000;
    pthread_mutex_lock(&a->keeper_mu);
    while (!atomic_load(&a->stop)) {
        if (vg_wall_ms() >= next) {
            pthread_mutex_unlock(&a->keeper_mu);
            vg__alert_maintain(a, vg_wall_ms());
            pthread_mutex_lock(&a->keeper_mu);
            next = vg_wall_ms() + 3600 * 1000;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&a->keeper_cv, &a->keeper_mu, &ts);
    }
    pthread_mutex_unlock(&a->keeper_mu);
    return NULL;
}

/* ---- open / close ------------------------------------------------------------- */

typedef struct {
    vg_alert_t *a;
    bool held;
    uint64_t *orphans;
    size_t n_orphans, cap;
} s_scan_t;

static int s_scan_queue(void *arg, vg_str_t key, vg_str_t val)
{
    s_scan_t *s = arg;
    if (key.len < 1 + (uint32_t) (uint8_t) key.ptr[0] + 8) return 0;
    vg_str_t chan = {key.ptr + 1, (uint8_t) key.ptr[0]};
    int ci = vg__alert_chan_find(s->a, chan);
    if (ci >= 0) {
        atomic_fetch_add(s->held ? &s->a->chans[ci].held : &s->a->chans[ci].pending, 1);
        return 0;
    }
    if (s->n_orphans == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->orphans = vg_realloc(s->orphans, s->cap * sizeof *s->orphans);
    }
    s->orphans[s->n_orphans++] = vg__rd64((const uint8_t *) key.ptr + key.len - 8);
    return 0;
}

/* Counts the queues per channel; alerts of channels that are gone die. */
static int s_resume(vg_alert_t *a)
{
    s_scan_t s = {.a = a};
    vg__atxn_t *t;
    int rc = vg__adb_begin(a->db, true, &t);
    if (rc) return rc;
    rc = vg__adb_walk(t, VG__DB_DUE, NULL, 0, false, s_scan_queue, &s);
    s.held = true;
    if (!rc) rc = vg__adb_walk(t, VG__DB_HELD, NULL, 0, false, s_scan_queue, &s);
    vg_mpw_t w;
    vg_mpw_init(&w);
    for (size_t i = 0; i < s.n_orphans && !rc; i++) {
        vg__alert_t al;
        if (vg__alert_load(t, s.orphans[i], &al)) continue;
        int old = al.status;
        int64_t old_next = al.next_at_ms;
        al.status = VG_ALERT_DEAD;
        al.updated_ms = vg_wall_ms();
        al.last_error = VG_STR_LIT("channel not configured");
        rc = vg__alert_store(t, &al, old, old_next, &w);
    }
    if (!rc) rc = vg__adb_commit(&t);
    vg__adb_abort(&t);
    vg_mpw_fini(&w);
    if (s.n_orphans && !rc)
        vg_warn(S_MOD, "%zu queued alerts belong to channels that are no longer configured: dead",
                s.n_orphans);
    free(s.orphans);
    return rc;
}

int vg_alert_open(const vg_alert_config_t *cfg, vg_alert_routing_t **routing_p, vg_alert_t **out,
                  char *err, size_t errlen)
{
    VG_ASSERT(out);
    *out = NULL;
    if (err && errlen) err[0] = 0;
    vg_alert_routing_t *r = routing_p ? *routing_p : NULL;
    if (routing_p) *routing_p = NULL;
    if (!cfg || !cfg->data_dir || !cfg->data_dir[0] || !r) {
        vg_alert_routing_free(&r);
        return vg_errf(err, errlen, VG_ERR_INVALID, "alerts: data_dir and routing are required");
    }
    vg_alert_t *a = VG_NEW(vg_alert_t);
    a->r = r;
    a->node_id = cfg->node_id;
    a->dashboard_url = vg_strdup(cfg->dashboard_url ? cfg->dashboard_url : r->dashboard_url);
    size_t dl = strlen(a->dashboard_url);
    while (dl && a->dashboard_url[dl - 1] == '/') a->dashboard_url[--dl] = 0;
    snprintf(a->host, sizeof a->host, "vigil.invalid");
    vg_hist_init(&a->send_hist, vg_hist_latency_bounds, vg_hist_latency_n);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&a->keeper_mu, NULL);
    pthread_cond_init(&a->keeper_cv, &ca);
    a->chans = vg_calloc(r->n_channels, sizeof *a->chans);
    for (size_t i = 0; i < r->n_channels; i++) {
        vg__chan_t *c = &a->chans[i];
        c->a = a;
        c->idx = i;
        c->cfg = &r->channels[i];
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->cv, &ca);
        atomic_store(&c->healthy, true);
    }
    pthread_condattr_destroy(&ca);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/alerts", cfg->data_dir);
    int rc = vg__adb_open(dir, cfg->map_size, cfg->no_sync, &a->db, err, errlen);
    vg__atxn_t *t = NULL;
    vg_str_t v;
    if (!rc && !(rc = vg__adb_begin(a->db, false, &t)) &&
        !(rc = vg__adb_get(t, VG__DB_META, "instance", 8, &v)) && v.len == 8)
        for (int i = 0; i < 8; i++) snprintf(a->instance + 2 * i, 3, "%02x", (uint8_t) v.ptr[i]);
    vg__adb_abort(&t);
    if (rc == VG_ERR_NOT_FOUND || (!rc && !a->instance[0]))
        rc = vg_errf(err, errlen, VG_ERR_STORAGE, "alerts: %s: no instance id", dir);
    if (!rc && (rc = s_resume(a)))
        vg_errf(err, errlen, rc, "alerts: cannot read the queues: %s", vg_strerror(rc));
    if (!rc && (rc = vg__alert_senders_start(a)))
        vg_errf(err, errlen, rc, "alerts: cannot start the sender threads");
    if (!rc) {
        if (pthread_create(&a->keeper, NULL, s_keeper, a) == 0)
            a->keeper_started = true;
        else
            rc = vg_errf(err, errlen, VG_ERR_INTERNAL, "alerts: cannot start a thread");
    }
    if (rc && err && errlen && !err[0])
        vg_errf(err, errlen, rc, "alerts: cannot read %s: %s", dir, vg_strerror(rc));
    if (rc) {
        vg_error(S_MOD, "%s", err ? err : "cannot open");
        vg_alert_close(&a);
        return rc == VG_ERR_NOT_FOUND ? VG_ERR_STORAGE : rc;
    }
    vg_info(S_MOD, "alerting to %zu channel(s) with %zu route(s); store %s", r->n_channels,
            r->n_routes, dir);
    *out = a;
    return 0;
}

void vg_alert_close(vg_alert_t **a_p)
{
    vg_alert_t *a = a_p ? *a_p : NULL;
    if (!a) return;
    atomic_store(&a->stop, true);
    vg__alert_senders_stop(a);
    if (a->keeper_started) {
        pthread_mutex_lock(&a->keeper_mu);
        pthread_cond_broadcast(&a->keeper_cv);
        pthread_mutex_unlock(&a->keeper_mu);
        pthread_join(a->keeper, NULL);
    }
    for (size_t i = 0; i < a->r->n_channels; i++) {
        pthread_mutex_destroy(&a->chans[i].mu);
        pthread_cond_destroy(&a->chans[i].cv);
    }
    pthread_mutex_destroy(&a->keeper_mu);
    pthread_cond_destroy(&a->keeper_cv);
    vg__adb_close(&a->db);
    free(a->chans);
    free(a->dashboard_url);
    vg_alert_routing_free(&a->r);
    free(a);
    *a_p = NULL;
}
