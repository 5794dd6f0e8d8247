/* vg_alert_sender.c: one sender thread per channel, so a slow or dead
 * channel delays nobody else (and never scoring, which only writes the
 * outbox). Each takes its channel's due alerts from the durable queue in
 * due order, spends a token of the channel's bucket per message, and
 * records the outcome in LMDB: delivered; failed -> retry after an
 * exponential backoff with jitter; dead after max_attempts or a permanent
 * refusal. When the bucket is empty, due alerts are held (status
 * throttled) and go out together as one digest once a token is back and
 * the oldest has waited digest_wait. */
#include "vg_alert_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_MOD     "alert"
#define S_TAKE    16   /* due alerts taken per scan */
#define S_POLL_MS 1000 /* longest sleep (a safety net: kicks wake earlier) */

/* An alert copied out of a read txn, decoded. */
typedef struct {
    uint8_t *bytes;
    vg__alert_t al;
    vg_anomaly_rec_t an;
    bool ok; /* the anomaly decoded */
} s_copy_t;

static void s_copy_free(s_copy_t *c)
{
    free(c->bytes);
    c->bytes = NULL;
}

/* Copies alert seq out of the store: 0, NOT_FOUND, STORAGE. */
static int s_copy(vg_alert_t *a, uint64_t seq, s_copy_t *out)
{
    vg__atxn_t *t;
    memset(out, 0, sizeof *out);
    if (vg__adb_begin(a->db, false, &t)) return VG_ERR_STORAGE;
    uint8_t sk[8];
    vg__be64(sk, seq);
    vg_str_t v;
    int rc = vg__adb_get(t, VG__DB_ALERTS, sk, 8, &v);
    if (!rc) {
        out->bytes = vg_malloc(v.len ? v.len : 1);
        memcpy(out->bytes, v.ptr, v.len);
        rc = vg__alert_decode(out->bytes, v.len, &out->al) ? VG_ERR_STORAGE : 0;
    }
    vg__adb_abort(&t);
    if (rc) {
        s_copy_free(out);
        return rc;
    }
    vg_perr_t perr;
    out->ok = vg_anomaly_decode(out->al.anomaly.ptr, out->al.anomaly.len, &out->an, &perr) == 0;
    return 0;
}

/* ---- token bucket ------------------------------------------------------------ */

static void s_refill(vg__chan_t *c, int64_t now)
{
    const vg__chan_cfg_t *cfg = c->cfg;
    if (cfg->rate_per_min <= 0) {
        c->tokens = cfg->burst;
        return;
    }
    if (now > c->tokens_ms)
        c->tokens += (double) (now - c->tokens_ms) * cfg->rate_per_min / 60000.0;
    if (c->tokens > cfg->burst) c->tokens = cfg->burst;
    c->tokens_ms = now;
}

/* When the next whole token is there. */
static int64_t s_token_at(const vg__chan_t *c, int64_t now)
{
    if (c->tokens >= 1 || c->cfg->rate_per_min <= 0) return now;
    return now + (int64_t) ((1 - c->tokens) * 60000.0 / c->cfg->rate_per_min) + 1;
}

/* ---- outcome -------------------------------------------------------------- */

static void s_set_error(vg__chan_t *c, const char *msg)
{
    pthread_mutex_lock(&c->mu);
    snprintf(c->last_error, sizeof c->last_error, "%s", msg ? msg : "");
    pthread_mutex_unlock(&c->mu);
}

/* What happened to one alert of a send. */
typedef struct {
    uint64_t seq;
    uint32_t count; /* as rendered */
    int old_status, new_status;
} s_out_t;

/* Records the result of a send of n alerts (one, or a digest with id
 * digest) in one write txn; fills new_status. */
static int s_record(vg__chan_t *c, s_out_t *outs, size_t n, const vg__send_t *res,
                    const char *digest)
{
    vg_alert_t *a = c->a;
    const vg_alert_routing_t *r = a->r;
    int64_t now = vg_wall_ms();
    vg__atxn_t *t;
    int rc = vg__adb_begin(a->db, true, &t);
    if (rc) return rc;
    vg_mpw_t w;
    vg_mpw_init(&w);
    for (size_t i = 0; i < n && !rc; i++) {
        vg__alert_t al;
        outs[i].new_status = outs[i].old_status = -1;
        if ((rc = vg__alert_load(t, outs[i].seq, &al))) {
            rc = rc == VG_ERR_NOT_FOUND ? 0 : rc; /* pruned meanwhile: nothing to record */
            continue;
        }
        int old = outs[i].old_status = al.status;
        int64_t old_next = al.next_at_ms;
        if (old != VG_ALERT_PENDING && old != VG_ALERT_THROTTLED) continue; /* changed meanwhile */
        al.updated_ms = now;
        if (res->rc == 0) {
            al.status = VG_ALERT_DELIVERED;
            al.delivered_ms = now;
            al.count_sent = outs[i].count;
            if (digest) al.digest = vg_str_c(digest);
        } else {
            al.attempts++;
            al.last_error = vg_str_c(res->error);
            if (res->permanent || al.attempts >= (uint32_t) r->max_attempts)
                al.status = VG_ALERT_DEAD;
            else if (old == VG_ALERT_PENDING)
                al.next_at_ms = now + vg__alert_backoff(r, al.attempts);
        }
        outs[i].new_status = al.status;
        rc = vg__alert_store(t, &al, old, old_next, &w);
    }
    if (!rc)
        rc = vg__adb_commit(&t);
    else
        vg__adb_abort(&t);
    vg_mpw_fini(&w);
    if (rc) {
        vg_error(S_MOD, "%s: cannot record a send result: %s", c->cfg->name, vg_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (outs[i].new_status < 0) continue;
        vg__alert_gauge(c, outs[i].old_status, outs[i].new_status);
        if (outs[i].new_status == VG_ALERT_DELIVERED) vg_counter_add(&c->delivered, 1);
        if (outs[i].new_status == VG_ALERT_DEAD) {
            char id[VG_ALERT_ID_MAX + 1];
            vg__alert_id(id, a->node_id, outs[i].seq);
            vg_warn(S_MOD, "%s: alert %s is dead: %s", c->cfg->name, id, res->error);
        }
    }
    return 0;
}

/* Sends the rendered items; false when stopping (nothing recorded). */
static bool s_send(vg__chan_t *c, const vg__item_t *items, size_t n, bool digest, s_out_t *outs)
{
    vg_alert_t *a = c->a;
    vg__render_t rr = {.ch = c->cfg,
                       .dashboard_url = a->dashboard_url,
                       .instance = a->instance,
                       .host = a->host,
                       .now_ms = vg_wall_ms(),
                       .window_ms = a->r->dedup_window_ms,
                       .digest_lines = a->r->digest_lines};
    vg__msg_t msg;
    vg__alert_render(&rr, items, n, digest, &msg);
    vg__send_t res;
    uint64_t t0 = vg_now_ns();
    vg__conn_send(c->conn, &msg, rr.now_ms / 1000, &res);
    vg_hist_observe_ns(&a->send_hist, vg_now_ns() - t0);
    if (res.aborted) {
        vg__sb_fini(&msg.body);
        return false;
    }
    c->tokens -= 1; /* every request counts against the channel's rate, refused ones too */
    if (res.rc == 0) {
        vg_counter_add(&c->sent, 1);
        if (digest) vg_counter_add(&c->digests, 1);
        if (!atomic_exchange(&c->healthy, true))
            vg_info(S_MOD, "%s: delivering again", c->cfg->name);
    } else {
        vg_counter_add(&c->failures, 1);
        if (atomic_exchange(&c->healthy, false))
            vg_warn(S_MOD, "%s: send failed: %s%s", c->cfg->name, res.error,
                    res.permanent ? " (permanent)" : " (retrying with backoff)");
        s_set_error(c, res.error);
    }
    s_record(c, outs, n, &res, digest ? msg.id : NULL);
    vg__sb_fini(&msg.body);
    if (digest) {
        if (res.rc == 0) {
            c->digest_failures = 0;
            c->digest_retry_ms = 0;
        } else {
            c->digest_retry_ms = vg_wall_ms() + vg__alert_backoff(a->r, ++c->digest_failures);
        }
    }
    return true;
}

/* ---- one alert, holding, digests ---------------------------------------------- */

/* An alert whose stored anomaly cannot be read cannot be rendered: dead. */
static void s_unreadable(vg__chan_t *c, uint64_t seq)
{
    vg__send_t res = {.rc = VG_ERR_STORAGE, .permanent = true};
    snprintf(res.error, sizeof res.error, "stored anomaly does not decode");
    s_out_t o = {.seq = seq};
    s_record(c, &o, 1, &res, NULL);
}

static bool s_send_one(vg__chan_t *c, uint64_t seq, int64_t now)
{
    s_copy_t cp;
    if (s_copy(c->a, seq, &cp)) return true;
    bool go = true;
    if (cp.al.status != VG_ALERT_PENDING || cp.al.next_at_ms > now) {
        /* changed meanwhile */
    } else if (!cp.ok) {
        s_unreadable(c, seq);
    } else {
        vg__item_t it = {.al = &cp.al, .an = &cp.an};
        vg__alert_id(it.id, c->a->node_id, seq);
        s_out_t o = {.seq = seq, .count = cp.al.count};
        go = s_send(c, &it, 1, false, &o);
    }
    s_copy_free(&cp);
    return go;
}

/* Moves due alerts to the digest queue (status throttled). */
static void s_hold(vg__chan_t *c, const uint64_t *seqs, size_t n)
{
    vg_alert_t *a = c->a;
    int64_t now = vg_wall_ms();
    vg__atxn_t *t;
    if (vg__adb_begin(a->db, true, &t)) return;
    vg_mpw_t w;
    vg_mpw_init(&w);
    size_t held = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        vg__alert_t al;
        if (vg__alert_load(t, seqs[i], &al) || al.status != VG_ALERT_PENDING) continue;
        int64_t old_next = al.next_at_ms;
        al.status = VG_ALERT_THROTTLED;
        al.next_at_ms = al.updated_ms = now; /* held since */
        rc = vg__alert_store(t, &al, VG_ALERT_PENDING, old_next, &w);
        held++;
    }
    if (!rc) rc = vg__adb_commit(&t);
    vg__adb_abort(&t);
    vg_mpw_fini(&w);
    if (rc) return;
    for (size_t i = 0; i < held; i++) vg__alert_gauge(c, VG_ALERT_PENDING, VG_ALERT_THROTTLED);
    vg_counter_add(&c->throttled, held);
}

typedef struct {
    uint8_t prefix[1 + VG__ALERT_NAME_MAX];
    size_t plen;
    uint64_t *seqs;
    size_t n, max;
    int64_t now;
    int64_t next_due; /* due walk: first time after now; INT64_MAX = none */
} s_walk_t;

static int s_walk_held(void *arg, vg_str_t key, vg_str_t val)
{
    s_walk_t *w = arg;
    if (key.len != w->plen + 8 || memcmp(key.ptr, w->prefix, w->plen) || w->n == w->max) return 1;
    w->seqs[w->n++] = vg__rd64((const uint8_t *) key.ptr + w->plen);
    return 0;
}

static int s_walk_due(void *arg, vg_str_t key, vg_str_t val)
{
    s_walk_t *w = arg;
    if (key.len != w->plen + 16 || memcmp(key.ptr, w->prefix, w->plen)) return 1;
    int64_t at = vg__rdord64((const uint8_t *) key.ptr + w->plen);
    if (at > w->now) {
        w->next_due = at;
        return 1;
    }
    if (w->n == w->max) {
        w->next_due = w->now;
        return 1;
    }
    w->seqs[w->n++] = vg__rd64((const uint8_t *) key.ptr + w->plen + 8);
    return 0;
}

/* Lists up to max seqs of the channel's held (due: due by now) alerts. */
static void s_list(vg__chan_t *c, bool due, s_walk_t *w, uint64_t *seqs, size_t max, int64_t now)
{
    w->plen = vg__key_chan(w->prefix, vg_str_c(c->cfg->name));
    w->seqs = seqs;
    w->n = 0;
    w->max = max;
    w->now = now;
    w->next_due = INT64_MAX;
    vg__atxn_t *t;
    if (vg__adb_begin(c->a->db, false, &t)) return;
    vg__adb_walk(t, due ? VG__DB_DUE : VG__DB_HELD, w->prefix, w->plen, false,
                 due ? s_walk_due : s_walk_held, w);
    vg__adb_abort(&t);
}

/* When the oldest held alert was held; INT64_MAX when none is. */
static int64_t s_oldest_held(vg__chan_t *c)
{
    uint64_t seq;
    s_walk_t w;
    s_list(c, false, &w, &seq, 1, 0);
    if (!w.n) return INT64_MAX;
    s_copy_t cp;
    if (s_copy(c->a, seq, &cp)) return 0;
    int64_t at = cp.al.next_at_ms;
    s_copy_free(&cp);
    return at;
}

static bool s_send_digest(vg__chan_t *c)
{
    uint64_t *seqs = vg_malloc(VG__ALERT_DIGEST_MAX * sizeof *seqs);
    s_walk_t w;
    s_list(c, false, &w, seqs, VG__ALERT_DIGEST_MAX, 0);
    s_copy_t *cps = vg_calloc(w.n ? w.n : 1, sizeof *cps);
    vg__item_t *items = vg_calloc(w.n ? w.n : 1, sizeof *items);
    s_out_t *outs = vg_calloc(w.n ? w.n : 1, sizeof *outs);
    size_t n = 0;
    for (size_t i = 0; i < w.n; i++) {
        if (s_copy(c->a, seqs[i], &cps[n])) continue;
        if (cps[n].al.status != VG_ALERT_THROTTLED || !cps[n].ok) {
            if (!cps[n].ok) s_unreadable(c, seqs[i]);
            s_copy_free(&cps[n]);
            continue;
        }
        items[n] = (vg__item_t){.al = &cps[n].al, .an = &cps[n].an};
        vg__alert_id(items[n].id, c->a->node_id, seqs[i]);
        outs[n] = (s_out_t){.seq = seqs[i], .count = cps[n].al.count};
        n++;
    }
    bool go = n ? s_send(c, items, n, true, outs) : true;
    for (size_t i = 0; i < n; i++) s_copy_free(&cps[i]);
    free(outs);
    free(items);
    free(cps);
    free(seqs);
    return go;
}

/* ---- the thread ------------------------------------------------------------- */

static void s_wait(vg__chan_t *c, int64_t until_ms)
{
    int64_t ms = until_ms - vg_wall_ms();
    if (ms <= 0) return;
    if (ms > S_POLL_MS) ms = S_POLL_MS;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&c->mu);
    if (!c->kick && !atomic_load(&c->a->stop)) pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    c->kick = false;
    pthread_mutex_unlock(&c->mu);
}

/* One round: a digest if one is due, else the due alerts; returns when to
 * look again (now = at once). */
static int64_t s_round(vg__chan_t *c)
{
    vg_alert_t *a = c->a;
    int64_t now = vg_wall_ms();
    s_refill(c, now);
    int64_t wake = now + S_POLL_MS;
    if (atomic_load(&c->held) > 0) {
        int64_t oldest = s_oldest_held(c);
        if (oldest != INT64_MAX) {
            int64_t at = VG_MAX(oldest + a->r->digest_wait_ms, c->digest_retry_ms);
            at = VG_MAX(at, s_token_at(c, now));
            if (at <= now) {
                s_send_digest(c);
                return now;
            }
            wake = VG_MIN(wake, at);
        }
    }
    uint64_t seqs[S_TAKE];
    s_walk_t w;
    s_list(c, true, &w, seqs, S_TAKE, now);
    for (size_t i = 0; i < w.n && !atomic_load(&a->stop); i++) {
        now = vg_wall_ms();
        s_refill(c, now);
        if (atomic_load(&c->held) > 0 || c->tokens < 1) {
            s_hold(c, seqs + i, w.n - i); /* the rest of this scan waits for the digest */
            return now;
        }
        if (!s_send_one(c, seqs[i], now)) break;
    }
    if (w.n) return now;
    return VG_MIN(wake, w.next_due);
}

static void *s_main(void *arg)
{
    vg__chan_t *c = arg;
    vg_alert_t *a = c->a;
    c->conn = vg__conn_new(c->cfg, &a->stop);
    c->tokens = c->cfg->burst;
    c->tokens_ms = vg_wall_ms();
    while (!atomic_load(&a->stop)) {
        int64_t next = s_round(c);
        if (!atomic_load(&a->stop)) s_wait(c, next);
    }
    vg__conn_destroy(&c->conn);
    return NULL;
}

int vg__alert_senders_start(vg_alert_t *a)
{
    for (size_t i = 0; i < a->r->n_channels; i++) {
        vg__chan_t *c = &a->chans[i];
        if (pthread_create(&c->thread, NULL, s_main, c)) return VG_ERR_INTERNAL;
        c->started = true;
    }
    return 0;
}

void vg__alert_senders_stop(vg_alert_t *a)
{
    for (size_t i = 0; i < a->r->n_channels; i++) {
        vg__chan_t *c = &a->chans[i];
        pthread_mutex_lock(&c->mu);
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    for (size_t i = 0; i < a->r->n_channels; i++)
        if (a->chans[i].started) {
            pthread_join(a->chans[i].thread, NULL);
            a->chans[i].started = false;
        }
}
