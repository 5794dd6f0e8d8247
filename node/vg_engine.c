/* vg_engine.c: scoring engine. Data flow of one vg_engine_score call:
 *   caller: split tx indices into one part per owning worker, send each
 *   worker: dedupe -> user state (cache | LMDB | new) -> features ->
 *           detectors -> write set (state copies, seen verdicts, anomalies)
 *   committer thread: every queued part in ONE LMDB write txn, commit
 *   worker (COMMITTED): release in-flight marks, count the part done
 *   caller: wakes when all parts are done.
 * Parts and jobs are pooled, so steady state allocates nothing. */
#include "vg_engine.h"

#include "vg_actor.h"
#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_strmap.h"
#include "vg_time.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

enum { S_MSG_SCORE = VG_AMSG_USER + 1, S_MSG_COMMITTED, S_MSG_EVICT };

typedef struct s_worker s_worker_t;
typedef struct s_job s_job_t;
typedef struct s_part s_part_t;

/* A cached user state. `pending` counts uncommitted parts holding a copy:
 * such entries are never evicted (LMDB is behind them). */
typedef struct {
    char key[VG_TX_ID_MAX];
    uint8_t key_len;
    uint8_t ref; /* clock bit */
    uint32_t shard;
    uint32_t pending;
    s_part_t *last_part; /* part whose write set holds this user, if any */
    vg_user_state_t state;
} s_user_t;

typedef struct {
    s_user_t *entry;
    vg_user_state_t state; /* copy taken when the worker finished the part */
} s_user_put_t;

/* A seen id's stored verdict, allocated in the part's arena. */
typedef struct {
    uint32_t shard;
    int64_t ts_ms;
    vg_str_t id;
    uint32_t len;
    uint8_t bytes[];
} s_seen_t;

typedef struct {
    uint32_t tx;   /* index into job->txs */
    uint32_t feat; /* index into part->feats */
} s_anom_put_t;

/* Growable array helper for pooled part buffers. */
#define S_PUSH(arr, n, cap)                                                                   \
    (((n) == (cap)                                                                            \
          ? ((cap) = (cap) ? (cap) *2 : 64, (arr) = vg_realloc((arr), (cap) * sizeof *(arr))) \
          : 0),                                                                               \
     &(arr)[(n)++])

typedef struct {
    uint32_t tx;    /* index into job->txs / job->out */
    uint32_t shard; /* computed once by the caller */
} s_item_t;

struct s_part {
    s_job_t *job;
    s_worker_t *worker;
    s_part_t *next; /* committer queue */
    int status;
    s_item_t *items;
    uint32_t n, cap;
    s_user_put_t *users;
    uint32_t n_users, cap_users;
    s_seen_t **seen;
    uint32_t n_seen, cap_seen;
    vg_features_t *feats;
    uint32_t n_feats, cap_feats;
    s_anom_put_t *anoms;
    uint32_t n_anoms, cap_anoms;
    vg_arena_t arena;
};

struct s_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int remaining;
    int fail; /* refused before dispatch */
    const vg_tx_t *txs;
    vg_verdict_t *out;
    vg_arena_t *arena;
    vg_engine_t *engine;
    vg_engine_done_fn *done; /* async completion, or NULL: a caller waits on cv */
    void *done_arg;
    uint64_t t0;
    s_job_t *next; /* pool */
    s_part_t parts[];
};

/* What scores besides the detectors: the rule set, the active model and
 * a shadow model, each swapped as a whole and freed when the engine and
 * every part scoring with it let go. */
enum { S_RULES = 0, S_MODEL = 1, S_SHADOW = 2, S_NHELD = 3 };

typedef struct {
    void *obj; /* vg_ruleset_t / vg_model_t */
    uint64_t version;
    char label[32]; /* model: "model v<N>", the reason's feature */
    int refs;       /* under vg_engine.held_mu */
} s_held_t;

struct s_worker {
    vg_engine_t *e;
    int index;
    vg_addr_t addr;
    vg_store_reader_t *reader;
    vg_strmap_t users;        /* user_id -> s_user_t */
    vg_strmap_t pending_seen; /* tx id -> s_seen_t of uncommitted parts */
    s_user_t **entries;
    uint32_t n_entries, cap_entries, hand;
    vg_mpw_t scratch;        /* verdict encoding */
    s_held_t *held[S_NHELD]; /* held while a part is scored; NULL = none */
};

struct vg_engine {
    vg_engine_config_t cfg;
    vg_store_t *store;
    vg_rt_t *rt;
    s_worker_t workers[VG_ENGINE_MAX_WORKERS];
    int n_workers;
    atomic_bool started, failed, stopping;
    /* rule set and models in use */
    pthread_mutex_t held_mu;
    s_held_t *held[S_NHELD];
    vg_counter_t m_rule_hits, m_rule_shadow;
    vg_counter_t m_model_scored, m_model_flagged, m_shadow_scored, m_shadow_flagged;
    vg_counter_t m_both_flagged;
    /* job pool */
    pthread_mutex_t pool_mu;
    s_job_t *pool;
    /* committer */
    pthread_t committer;
    pthread_mutex_t q_mu;
    pthread_cond_t q_cv;
    s_part_t *q_head, *q_tail;
    bool q_stop;
    /* metrics */
    vg_counter_t m_tx, m_dup, m_late, m_anom, m_decision[3], m_commits, m_commit_fail;
    vg_hist_t m_commit, m_batch_wait;
};

void vg_engine_config_default(vg_engine_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->shards = 1024;
    cfg->cache_users = 65536;
    cfg->model_threshold = 0.65; /* iForest: ~0.5 is ordinary, near 1 isolated at once */
    cfg->model_weight = 0.6;
    vg_features_config_default(&cfg->features);
    vg_detect_config_default(&cfg->detect);
}

/* ---- user cache (worker thread only) ----------------------------------- */

static s_user_t *s_victim(s_worker_t *w)
{
    for (uint32_t step = 0; step < 2 * w->n_entries; step++) {
        s_user_t *u = w->entries[w->hand];
        w->hand = (w->hand + 1) % w->n_entries;
        if (u->pending) continue;
        if (u->ref) {
            u->ref = 0;
            continue;
        }
        if (u->key_len) vg_strmap_del(&w->users, (vg_str_t){u->key, u->key_len});
        return u;
    }
    return NULL; /* everything is in flight */
}

static s_user_t *s_user_slot(s_worker_t *w)
{
    if (w->n_entries >= w->cap_entries || w->n_entries >= w->e->cfg.cache_users) {
        s_user_t *u = w->n_entries ? s_victim(w) : NULL;
        if (u) return u;
    }
    if (w->n_entries == w->cap_entries) {
        w->cap_entries = w->cap_entries ? w->cap_entries * 2 : 1024;
        w->entries = vg_realloc(w->entries, w->cap_entries * sizeof *w->entries);
    }
    s_user_t *u = vg_malloc(sizeof *u);
    w->entries[w->n_entries++] = u;
    return u;
}

static s_user_t *s_user_get(s_worker_t *w, uint32_t shard, vg_str_t user_id)
{
    s_user_t *u = vg_strmap_get(&w->users, user_id);
    if (u) {
        u->ref = 1;
        return u;
    }
    u = s_user_slot(w);
    memcpy(u->key, user_id.ptr, user_id.len);
    u->key_len = (uint8_t) user_id.len;
    u->shard = shard;
    u->ref = 1;
    u->pending = 0;
    u->last_part = NULL;
    const void *val;
    size_t len;
    if (vg_store_get_user(w->reader, shard, user_id, &val, &len) == 0 &&
        vg_user_state_valid(val, len))
        memcpy(&u->state, val, sizeof u->state);
    else
        vg_user_state_init(&u->state);
    vg_strmap_put(&w->users, (vg_str_t){u->key, u->key_len}, u);
    return u;
}

/* ---- scoring (worker thread) ------------------------------------------- */

/* Fills v from stored verdict bytes (copied: they may be LMDB memory,
 * valid only inside the read txn) and marks it a duplicate. */
static void s_use_stored(s_part_t *p, const void *bytes, size_t len, vg_verdict_t *v)
{
    uint8_t *copy = vg_arena_alloc(&p->arena, len);
    memcpy(copy, bytes, len);
    vg_mpr_t r;
    vg_mpr_init(&r, copy, len);
    vg_verdict_t stored;
    if (vg_verdict_decode(&r, &stored, NULL) == 0) {
        vg_str_t id = v->id;
        *v = stored;
        v->id = id;
    }
    v->flags |= VG_VERDICT_F_DUPLICATE;
}

/* True if tx (same id and event time) was seen, committed or in flight;
 * fills v with the stored verdict. */
static bool s_seen_lookup(s_worker_t *w, s_part_t *p, uint32_t shard, const vg_tx_t *tx,
                          vg_verdict_t *v)
{
    s_seen_t *seen = vg_strmap_get(&w->pending_seen, tx->id);
    if (seen && seen->shard == shard && seen->ts_ms == tx->ts_ms) {
        s_use_stored(p, seen->bytes, seen->len, v);
        return true;
    }
    const void *val;
    size_t len;
    if (vg_store_get_seen(w->reader, shard, tx->ts_ms, tx->id, &val, &len) != 0) return false;
    s_use_stored(p, val, len, v);
    return true;
}

static void s_add_seen(s_worker_t *w, s_part_t *p, uint32_t shard, int64_t ts_ms,
                       const vg_verdict_t *v)
{
    vg_mpw_reset(&w->scratch);
    vg_verdict_encode(v, &w->scratch);
    s_seen_t *seen = vg_arena_alloc(&p->arena, sizeof *seen + w->scratch.len);
    seen->shard = shard;
    seen->ts_ms = ts_ms;
    seen->id = v->id;
    seen->len = (uint32_t) w->scratch.len;
    memcpy(seen->bytes, w->scratch.buf, w->scratch.len);
    *S_PUSH(p->seen, p->n_seen, p->cap_seen) = seen;
    vg_strmap_put(&w->pending_seen, v->id, seen);
}

static void s_add_user(s_part_t *p, s_user_t *u)
{
    if (u->last_part == p) return; /* already in this write set */
    u->last_part = p;
    u->pending++;
    S_PUSH(p->users, p->n_users, p->cap_users)->entry = u;
}

/* ---- rules ------------------------------------------------------------ */

static s_held_t *s_acquire(vg_engine_t *e, int slot)
{
    pthread_mutex_lock(&e->held_mu);
    s_held_t *h = e->held[slot];
    if (h) h->refs++;
    pthread_mutex_unlock(&e->held_mu);
    return h;
}

/* Every slot at once (one lock per part scored). */
static void s_acquire_all(vg_engine_t *e, s_held_t **out)
{
    pthread_mutex_lock(&e->held_mu);
    for (int i = 0; i < S_NHELD; i++)
        if ((out[i] = e->held[i])) out[i]->refs++;
    pthread_mutex_unlock(&e->held_mu);
}

static void s_release(vg_engine_t *e, int slot, s_held_t *h)
{
    if (!h) return;
    pthread_mutex_lock(&e->held_mu);
    bool last = --h->refs == 0;
    pthread_mutex_unlock(&e->held_mu);
    if (!last) return;
    if (slot == S_RULES) {
        vg_ruleset_t *rs = h->obj;
        vg_ruleset_destroy(&rs);
    } else {
        vg_model_t *m = h->obj;
        vg_model_destroy(&m);
    }
    free(h);
}

/* Installs obj (NULL = none) in slot; the old one goes when let go. */
static void s_install(vg_engine_t *e, int slot, void *obj, uint64_t version)
{
    s_held_t *h = NULL;
    if (obj) {
        h = VG_NEW(s_held_t);
        *h = (s_held_t){.obj = obj, .version = version, .refs = 1};
        snprintf(h->label, sizeof h->label, "model v%llu", (unsigned long long) version);
    }
    pthread_mutex_lock(&e->held_mu);
    s_held_t *old = e->held[slot];
    e->held[slot] = h;
    pthread_mutex_unlock(&e->held_mu);
    s_release(e, slot, old);
}

static void s_set_reasons(vg_verdict_t *v, vg_reason_t *all, size_t m);
static int s_decision_of(const vg_detect_config_t *d, double score);

static int s_reason_cmp(const void *a, const void *b)
{
    double x = ((const vg_reason_t *) a)->contribution, y = ((const vg_reason_t *) b)->contribution;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Merges the active rules' hits into v (README "Rules"): a reason each
 * (detector "rule", feature = rule id copied into the part's arena, value
 * = the rule set version, contribution = the rule's weight), the score by
 * noisy-OR with the weights, anomaly on any hit, and under the "action"
 * policy the decision at least the strongest hit's action. Shadow hits
 * are only counted (by the rule set and vigil_rule_shadow_hits_total). */
static void s_apply_rules(vg_engine_t *e, s_part_t *p, const s_held_t *r, const vg_rule_hit_t *hits,
                          size_t n, vg_verdict_t *v)
{
    double keep = 1 - v->score;
    int action = -1;
    vg_reason_t all[VG_VERDICT_REASONS_MAX + 64];
    size_t m = v->n_reasons;
    memcpy(all, v->reasons, m * sizeof *all);
    for (size_t i = 0; i < n; i++) {
        if (hits[i].shadow) {
            vg_counter_add(&e->m_rule_shadow, 1);
            continue;
        }
        const vg_rule_meta_t *meta = vg_ruleset_rule(r->obj, hits[i].rule);
        vg_counter_add(&e->m_rule_hits, 1);
        keep *= 1 - meta->weight;
        if ((int) meta->action > action) action = (int) meta->action;
        if (meta->severity + 1u > v->rule_severity)
            v->rule_severity = (uint8_t) (meta->severity + 1);
        if (m >= sizeof all / sizeof all[0]) continue;
        size_t len = strlen(meta->id);
        char *id = vg_arena_alloc(&p->arena, len + 1);
        memcpy(id, meta->id, len + 1);
        all[m++] = (vg_reason_t){
            VG_STR_LIT("rule"), {id, (uint32_t) len}, (double) r->version, 0, 0, meta->weight};
    }
    if (action < 0) return;
    s_set_reasons(v, all, m);
    v->score = 1 - keep;
    v->anomaly = true;
    int decision = s_decision_of(&e->cfg.detect, v->score);
    if (e->cfg.rules_policy == VG_RULES_POLICY_ACTION && action > decision) decision = action;
    if (decision > v->decision) v->decision = (uint8_t) decision;
}

/* Sorts reasons strongest first, keeps the first VG_VERDICT_REASONS_MAX. */
static void s_set_reasons(vg_verdict_t *v, vg_reason_t *all, size_t m)
{
    qsort(all, m, sizeof *all, s_reason_cmp);
    v->n_reasons = (uint8_t) (m < VG_VERDICT_REASONS_MAX ? m : VG_VERDICT_REASONS_MAX);
    memcpy(v->reasons, all, v->n_reasons * sizeof *all);
}

/* The decision the thresholds give a score. */
static int s_decision_of(const vg_detect_config_t *d, double score)
{
    return score >= d->block_threshold    ? VG_DECISION_BLOCK
           : score >= d->review_threshold ? VG_DECISION_REVIEW
                                          : VG_DECISION_ALLOW;
}

/* The active model (README "Models"): a score s above model_threshold adds
 * the reason {"detector":"iforest","feature":"model v<N>","value":s,
 * "baseline":0.5,"threshold":t,"contribution":c}, c = weight * (s - t) /
 * (1 - t), joined to the score by noisy-OR. A shadow model is scored and
 * counted (and compared with the active one), never acted on. */
static void s_apply_models(vg_engine_t *e, s_part_t *p, s_worker_t *w, const vg_features_t *f,
                           vg_verdict_t *v)
{
    double t = e->cfg.model_threshold; /* in (0, 1): vg_config checks it */
    const s_held_t *h = w->held[S_MODEL];
    double s = h ? vg_model_score_features(h->obj, f) : 0;
    if (h) vg_counter_add(&e->m_model_scored, 1);
    if (w->held[S_SHADOW]) {
        double s2 = vg_model_score_features(w->held[S_SHADOW]->obj, f);
        vg_counter_add(&e->m_shadow_scored, 1);
        if (s2 >= t) vg_counter_add(&e->m_shadow_flagged, 1);
        if (s2 >= t && h && s >= t) vg_counter_add(&e->m_both_flagged, 1);
    }
    if (!h || s < t) return;
    vg_counter_add(&e->m_model_flagged, 1);
    double c = e->cfg.model_weight * (s - t) / (1 - t);
    vg_reason_t all[VG_VERDICT_REASONS_MAX + 1];
    memcpy(all, v->reasons, v->n_reasons * sizeof *all);
    size_t len = strlen(h->label);
    char *label = vg_arena_alloc(&p->arena, len + 1);
    memcpy(label, h->label, len + 1);
    all[v->n_reasons] = (vg_reason_t){VG_STR_LIT("iforest"), {label, (uint32_t) len}, s, 0.5, t, c};
    s_set_reasons(v, all, (size_t) v->n_reasons + 1);
    v->score = 1 - (1 - v->score) * (1 - c);
    v->anomaly = v->anomaly || v->score >= e->cfg.detect.anomaly_threshold;
    int decision = s_decision_of(&e->cfg.detect, v->score);
    if (decision > v->decision) v->decision = (uint8_t) decision;
}

static void s_score_one(s_worker_t *w, s_part_t *p, uint32_t k)
{
    vg_engine_t *e = w->e;
    uint32_t i = p->items[k].tx, shard = p->items[k].shard;
    const vg_tx_t *tx = &p->job->txs[i];
    vg_verdict_t *v = &p->job->out[i];
    memset(v, 0, offsetof(vg_verdict_t, reasons));
    v->id = tx->id;
    vg_counter_add(&e->m_tx, 1);
    if (s_seen_lookup(w, p, shard, tx, v)) {
        vg_counter_add(&e->m_dup, 1);
        return;
    }
    s_user_t *u = s_user_get(w, shard, tx->user_id);
    uint32_t fi = p->n_feats;
    vg_features_t *f = S_PUSH(p->feats, p->n_feats, p->cap_feats);
    if (vg_features_update(&u->state, tx, &e->cfg.features, f)) {
        s_add_user(p, u);
    } else {
        v->flags |= VG_VERDICT_F_LATE;
        vg_counter_add(&e->m_late, 1);
    }
    vg_detect_score(&e->cfg.detect, f, v);
    if (w->held[S_MODEL] || w->held[S_SHADOW]) s_apply_models(e, p, w, f, v);
    if (w->held[S_RULES]) {
        vg_rule_hit_t hits[64];
        size_t n = vg_ruleset_eval(w->held[S_RULES]->obj, tx, f, hits, 64);
        if (n) s_apply_rules(e, p, w->held[S_RULES], hits, n < 64 ? n : 64, v);
    }
    vg_counter_add(&e->m_decision[v->decision], 1);
    s_add_seen(w, p, shard, tx->ts_ms, v);
    if (v->anomaly) {
        vg_counter_add(&e->m_anom, 1);
        *S_PUSH(p->anoms, p->n_anoms, p->cap_anoms) = (s_anom_put_t){i, fi};
    } else {
        p->n_feats--; /* only anomalies keep their snapshot */
    }
}

static void s_job_complete(s_job_t *job);

/* Drops one count of job->remaining; the last one completes the job. */
static void s_job_release(s_job_t *job)
{
    pthread_mutex_lock(&job->mu);
    bool last = --job->remaining == 0;
    if (last && !job->done) pthread_cond_signal(&job->cv);
    pthread_mutex_unlock(&job->mu);
    if (last && job->done) s_job_complete(job);
}

static void s_part_done(s_part_t *p)
{
    s_job_release(p->job);
}

static void s_commit_push(vg_engine_t *e, s_part_t *p)
{
    pthread_mutex_lock(&e->q_mu);
    p->next = NULL;
    if (e->q_tail)
        e->q_tail->next = p;
    else
        e->q_head = p;
    e->q_tail = p;
    pthread_cond_signal(&e->q_cv);
    pthread_mutex_unlock(&e->q_mu);
}

static void s_on_score(vg_actor_t *self, vg_amsg_t **msg_p)
{
    s_worker_t *w = vg_actor_state(self);
    s_part_t *p = (*msg_p)->ptr;
    if (atomic_load(&w->e->failed)) {
        p->status = VG_ERR_STORAGE;
        s_part_done(p);
        return;
    }
    if (vg_store_reader_begin(w->reader) != 0) {
        p->status = VG_ERR_STORAGE;
        s_part_done(p);
        return;
    }
    s_acquire_all(w->e, w->held);
    for (uint32_t k = 0; k < p->n; k++) s_score_one(w, p, k);
    for (int h = 0; h < S_NHELD; h++) s_release(w->e, h, w->held[h]), w->held[h] = NULL;
    vg_store_reader_end(w->reader);
    for (uint32_t k = 0; k < p->n_users; k++) p->users[k].state = p->users[k].entry->state;
    s_commit_push(w->e, p);
}

/* The part is durable (or failed): release in-flight marks, then done. */
static void s_on_committed(vg_actor_t *self, vg_amsg_t **msg_p)
{
    s_worker_t *w = vg_actor_state(self);
    s_part_t *p = (*msg_p)->ptr;
    for (uint32_t k = 0; k < p->n_users; k++) {
        s_user_t *u = p->users[k].entry;
        u->pending--;
        if (u->last_part == p) u->last_part = NULL;
    }
    for (uint32_t k = 0; k < p->n_seen; k++) {
        s_seen_t *seen = p->seen[k];
        if (vg_strmap_get(&w->pending_seen, seen->id) == seen)
            vg_strmap_del(&w->pending_seen, seen->id);
    }
    if (p->status) {
        /* the cache is ahead of LMDB: drop it (the engine refuses work now) */
        for (uint32_t k = 0; k < p->n_users; k++) p->users[k].entry->ref = 0;
    }
    s_part_done(p);
}

/* A synchronous request to every worker: drop cached users of some shards. */
typedef struct {
    const uint8_t *flags; /* n_shards bytes, nonzero = evict */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int remaining;
} s_evict_t;

static void s_on_evict(vg_actor_t *self, vg_amsg_t **msg_p)
{
    s_worker_t *w = vg_actor_state(self);
    s_evict_t *ev = (*msg_p)->ptr;
    for (uint32_t k = 0; k < w->n_entries; k++) {
        s_user_t *u = w->entries[k];
        if (!u->key_len || !ev->flags[u->shard] || u->pending) continue;
        vg_strmap_del(&w->users, (vg_str_t){u->key, u->key_len});
        u->key_len = 0; /* a free slot: the clock takes it first */
        u->ref = 0;
    }
    pthread_mutex_lock(&ev->mu);
    if (--ev->remaining == 0) pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

void vg_engine_evict_shards(vg_engine_t *e, const uint8_t *flags)
{
    s_evict_t ev = {.flags = flags};
    pthread_mutex_init(&ev.mu, NULL);
    pthread_cond_init(&ev.cv, NULL);
    pthread_mutex_lock(&ev.mu);
    for (int w = 0; w < e->n_workers; w++) {
        vg_amsg_t *m = vg_amsg_new(S_MSG_EVICT);
        m->to = e->workers[w].addr;
        m->ptr = &ev;
        if (vg_rt_send(e->rt, &m) == 0)
            ev.remaining++;
        else
            vg_amsg_free(&m);
    }
    while (ev.remaining > 0) pthread_cond_wait(&ev.cv, &ev.mu);
    pthread_mutex_unlock(&ev.mu);
    pthread_mutex_destroy(&ev.mu);
    pthread_cond_destroy(&ev.cv);
}

static int s_worker_init(vg_actor_t *self)
{
    s_worker_t *w = vg_actor_state(self);
    w->reader = vg_store_reader_new(w->e->store);
    return w->reader ? 0 : VG_ERR_STORAGE;
}

static void s_worker_fini(vg_actor_t *self)
{
    s_worker_t *w = vg_actor_state(self);
    vg_store_reader_destroy(&w->reader);
}

static const vg_actor_handler_t s_handlers[] = {
    {S_MSG_SCORE, s_on_score},
    {S_MSG_COMMITTED, s_on_committed},
    {S_MSG_EVICT, s_on_evict},
};

/* ---- committer thread -------------------------------------------------- */

static int s_apply(vg_store_batch_t *b, s_part_t *p, int64_t now_ms)
{
    int rc = 0;
    for (uint32_t k = 0; !rc && k < p->n_users; k++) {
        s_user_t *u = p->users[k].entry;
        rc = vg_store_put_user(b, u->shard, (vg_str_t){u->key, u->key_len}, &p->users[k].state,
                               sizeof p->users[k].state);
    }
    for (uint32_t k = 0; !rc && k < p->n_seen; k++)
        rc = vg_store_put_seen(b, p->seen[k]->shard, p->seen[k]->ts_ms, p->seen[k]->id,
                               p->seen[k]->bytes, p->seen[k]->len);
    for (uint32_t k = 0; !rc && k < p->n_anoms; k++) {
        const s_anom_put_t *a = &p->anoms[k];
        vg_anomaly_t rec = {.tx = &p->job->txs[a->tx],
                            .features = &p->feats[a->feat],
                            .verdict = &p->job->out[a->tx],
                            .detected_ms = now_ms};
        rc = vg_store_put_anomaly(b, &rec);
        if (rc == VG_ERR_INVALID) { /* a record the store refuses: skip it, keep serving */
            vg_warn("engine", "anomaly %.*s not stored: invalid record", (int) rec.tx->id.len,
                    rec.tx->id.ptr);
            rc = 0;
        }
    }
    return rc;
}

static int s_commit(vg_engine_t *e, s_part_t *head)
{
    if (atomic_load(&e->failed)) return VG_ERR_STORAGE;
    uint64_t t0 = vg_now_ns();
    vg_store_batch_t *b = NULL;
    int rc = vg_store_batch_begin(e->store, &b);
    int64_t now_ms = vg_wall_ms();
    for (s_part_t *p = head; !rc && p; p = p->next) rc = s_apply(b, p, now_ms);
    if (rc)
        vg_store_batch_abort(&b);
    else
        rc = vg_store_batch_commit(&b);
    vg_hist_observe_ns(&e->m_commit, vg_now_ns() - t0);
    vg_counter_add(&e->m_commits, 1);
    if (rc) {
        vg_counter_add(&e->m_commit_fail, 1);
        atomic_store(&e->failed, true);
        vg_error("engine", "commit failed (%s): refusing further work until restart",
                 vg_strerror(rc));
    }
    return rc;
}

static void *s_committer_main(void *arg)
{
    vg_engine_t *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->q_mu);
        while (!e->q_head && !e->q_stop) pthread_cond_wait(&e->q_cv, &e->q_mu);
        s_part_t *head = e->q_head;
        e->q_head = e->q_tail = NULL;
        bool stop = e->q_stop;
        pthread_mutex_unlock(&e->q_mu);
        if (!head && stop) break;
        int rc = s_commit(e, head);
        for (s_part_t *p = head, *next; p; p = next) {
            next = p->next;
            p->status = rc;
            vg_amsg_t *m = vg_amsg_new(S_MSG_COMMITTED);
            m->to = p->worker->addr;
            m->ptr = p;
            if (vg_rt_send(e->rt, &m) != 0) {
                vg_amsg_free(&m);
                vg_error("engine", "worker %d unreachable for a commit notice", p->worker->index);
            }
        }
    }
    return NULL;
}

/* ---- jobs (caller side) ------------------------------------------------ */

static s_job_t *s_job_get(vg_engine_t *e)
{
    pthread_mutex_lock(&e->pool_mu);
    s_job_t *job = e->pool;
    if (job) e->pool = job->next;
    pthread_mutex_unlock(&e->pool_mu);
    if (job) return job;
    job = vg_calloc(1, sizeof *job + (size_t) e->n_workers * sizeof(s_part_t));
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->cv, NULL);
    for (int w = 0; w < e->n_workers; w++) {
        job->parts[w].job = job;
        job->parts[w].worker = &e->workers[w];
    }
    return job;
}

static void s_part_reset(s_part_t *p)
{
    p->n = p->n_users = p->n_seen = p->n_feats = p->n_anoms = 0;
    p->status = 0;
    p->next = NULL;
    vg_arena_reset(&p->arena);
}

static void s_job_put(vg_engine_t *e, s_job_t *job)
{
    for (int w = 0; w < e->n_workers; w++) s_part_reset(&job->parts[w]);
    pthread_mutex_lock(&e->pool_mu);
    job->next = e->pool;
    e->pool = job;
    pthread_mutex_unlock(&e->pool_mu);
}

static void s_job_free(s_job_t *job, int n_workers)
{
    for (int w = 0; w < n_workers; w++) {
        s_part_t *p = &job->parts[w];
        free(p->items), free(p->users), free(p->seen), free(p->feats), free(p->anoms);
        vg_arena_fini(&p->arena);
    }
    pthread_mutex_destroy(&job->mu);
    pthread_cond_destroy(&job->cv);
    free(job);
}

/* Duplicates' reasons point into part arenas: copy them to the caller's. */
static void s_copy_dup_strings(vg_verdict_t *v, vg_arena_t *arena)
{
    for (unsigned r = 0; r < v->n_reasons; r++) {
        vg_reason_t *x = &v->reasons[r];
        x->detector.ptr = vg_arena_strndup(arena, x->detector.ptr, x->detector.len);
        x->feature.ptr = vg_arena_strndup(arena, x->feature.ptr, x->feature.len);
    }
}

/* Sends every non-empty part. The caller counted them in job->remaining
 * beforehand; a part that cannot be sent gives its count back. */
static void s_dispatch(vg_engine_t *e, s_job_t *job)
{
    for (int w = 0; w < e->n_workers; w++) {
        s_part_t *p = &job->parts[w];
        if (!p->n) continue;
        vg_amsg_t *m = vg_amsg_new(S_MSG_SCORE);
        m->to = e->workers[w].addr;
        m->ptr = p;
        if (vg_rt_send(e->rt, &m) != 0) {
            vg_amsg_free(&m);
            p->status = VG_ERR_CLOSED;
            s_job_release(job); /* never the last count: the dispatcher holds one */
        }
    }
}

/* Statuses of refused parts, duplicates' strings into the caller's arena;
 * returns the first failure. Runs once every part is done. */
static int s_job_results(vg_engine_t *e, s_job_t *job)
{
    int rc = 0;
    vg_hist_observe_ns(&e->m_batch_wait, vg_now_ns() - job->t0);
    for (int w = 0; w < e->n_workers; w++) {
        s_part_t *p = &job->parts[w];
        int st = job->fail ? job->fail : p->status;
        for (uint32_t k = 0; k < p->n; k++) {
            vg_verdict_t *v = &job->out[p->items[k].tx];
            if (st) {
                memset(v, 0, offsetof(vg_verdict_t, reasons));
                v->id = job->txs[p->items[k].tx].id;
                v->status = st;
            } else if (v->flags & VG_VERDICT_F_DUPLICATE) {
                s_copy_dup_strings(v, job->arena);
            }
        }
        if (st && !rc) rc = st;
    }
    return rc;
}

static void s_job_complete(s_job_t *job)
{
    vg_engine_t *e = job->engine;
    vg_engine_done_fn *done = job->done;
    void *arg = job->done_arg;
    int rc = s_job_results(e, job);
    s_job_put(e, job);
    done(arg, rc);
}

/* Splits txs into per-worker parts and sends them; returns the job with
 * remaining set (0 if nothing was dispatched). */
static s_job_t *s_job_start(vg_engine_t *e, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                            vg_arena_t *arena, vg_engine_done_fn *done, void *arg)
{
    s_job_t *job = s_job_get(e);
    job->txs = txs;
    job->out = out;
    job->arena = arena;
    job->engine = e;
    job->done = done;
    job->done_arg = arg;
    job->t0 = vg_now_ns();
    job->fail = atomic_load(&e->failed)                                  ? VG_ERR_STORAGE
                : !atomic_load(&e->started) || atomic_load(&e->stopping) ? VG_ERR_CLOSED
                                                                         : 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t shard = vg_shard_of(txs[i].user_id, e->cfg.shards);
        s_part_t *p = &job->parts[shard % (uint32_t) e->n_workers];
        *S_PUSH(p->items, p->n, p->cap) = (s_item_t){i, shard};
    }
    /* one count per part to dispatch, set BEFORE any is sent (a worker may
     * finish its part at once), plus one held by the dispatcher, so the
     * job cannot complete before dispatch has finished */
    int parts = 0;
    for (int w = 0; !job->fail && w < e->n_workers; w++) parts += job->parts[w].n > 0;
    pthread_mutex_lock(&job->mu);
    job->remaining = 1 + parts;
    pthread_mutex_unlock(&job->mu);
    if (!job->fail) s_dispatch(e, job);
    return job;
}

int vg_engine_score(vg_engine_t *e, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                    vg_arena_t *arena)
{
    if (!n) return 0;
    s_job_t *job = s_job_start(e, txs, n, out, arena, NULL, NULL);
    pthread_mutex_lock(&job->mu);
    job->remaining--; /* the dispatcher's count */
    while (job->remaining > 0) pthread_cond_wait(&job->cv, &job->mu);
    pthread_mutex_unlock(&job->mu);
    int rc = s_job_results(e, job);
    s_job_put(e, job);
    return rc;
}

int vg_engine_submit(vg_engine_t *e, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                     vg_arena_t *arena, vg_engine_done_fn *done, void *arg)
{
    VG_ASSERT(done != NULL);
    if (!n) {
        done(arg, 0);
        return 0;
    }
    s_job_t *job = s_job_start(e, txs, n, out, arena, done, arg);
    s_job_release(job); /* drop the dispatcher's count */
    return 0;
}

/* ---- lifecycle, metrics ------------------------------------------------ */

int vg_engine_new(const vg_engine_config_t *cfg, vg_store_t *store, vg_engine_t **out)
{
    char err[256];
    if (cfg->shards == 0 || cfg->shards > 65536) {
        vg_error("engine", "shards must be 1..65536 (got %u)", cfg->shards);
        return VG_ERR_INVALID;
    }
    if (vg_detect_config_check(&cfg->detect, err, sizeof err) != 0) {
        vg_error("engine", "detector configuration: %s", err);
        return VG_ERR_INVALID;
    }
    vg_engine_t *e = VG_NEW(vg_engine_t);
    e->cfg = *cfg;
    if (e->cfg.cache_users == 0) e->cfg.cache_users = 65536;
    e->store = store;
    int n = cfg->workers > 0 ? cfg->workers : (int) sysconf(_SC_NPROCESSORS_ONLN);
    e->n_workers = VG_MAX(1, VG_MIN(n, VG_ENGINE_MAX_WORKERS));
    pthread_mutex_init(&e->pool_mu, NULL);
    pthread_mutex_init(&e->held_mu, NULL);
    pthread_mutex_init(&e->q_mu, NULL);
    pthread_cond_init(&e->q_cv, NULL);
    vg_hist_init(&e->m_commit, vg_hist_latency_bounds, vg_hist_latency_n);
    vg_hist_init(&e->m_batch_wait, vg_hist_latency_bounds, vg_hist_latency_n);
    e->rt = vg_rt_new(&(vg_rt_config_t){.workers = e->n_workers, .node_id = 1});
    for (int w = 0; w < e->n_workers; w++) {
        s_worker_t *wk = &e->workers[w];
        wk->e = e;
        wk->index = w;
        vg_strmap_init(&wk->users, 1024);
        vg_strmap_init(&wk->pending_seen, 1024);
        vg_mpw_init(&wk->scratch);
    }
    *out = e;
    return 0;
}

int vg_engine_start(vg_engine_t *e)
{
    for (int w = 0; w < e->n_workers; w++) {
        vg_actor_def_t def = {.name = "shard-worker",
                              .handlers = s_handlers,
                              .n_handlers = VG_ARRAY_LEN(s_handlers),
                              .state = &e->workers[w],
                              .init = s_worker_init,
                              .fini = s_worker_fini,
                              .worker = w};
        int rc = vg_rt_spawn(e->rt, &def, &e->workers[w].addr);
        if (rc) return rc;
    }
    int rc = vg_rt_start(e->rt);
    if (rc) return rc;
    if (pthread_create(&e->committer, NULL, s_committer_main, e) != 0) return VG_ERR_INTERNAL;
    atomic_store(&e->started, true);
    vg_info("engine", "started: %d workers, %u shards, cache %u users/worker", e->n_workers,
            e->cfg.shards, e->cfg.cache_users);
    return 0;
}

bool vg_engine_ready(vg_engine_t *e)
{
    return atomic_load(&e->started) && !atomic_load(&e->failed) && !atomic_load(&e->stopping);
}

int vg_engine_workers(vg_engine_t *e)
{
    return e->n_workers;
}

uint32_t vg_engine_shards(vg_engine_t *e)
{
    return e->cfg.shards;
}

void vg_engine_stop(vg_engine_t *e)
{
    if (!atomic_load(&e->started) || atomic_exchange(&e->stopping, true)) return;
    vg_rt_stop(e->rt, 10000); /* callers are gone: nothing is in flight */
    pthread_mutex_lock(&e->q_mu);
    e->q_stop = true;
    pthread_cond_signal(&e->q_cv);
    pthread_mutex_unlock(&e->q_mu);
    pthread_join(e->committer, NULL);
    vg_info("engine", "stopped");
}

void vg_engine_destroy(vg_engine_t **e_p)
{
    vg_engine_t *e = *e_p;
    if (!e) return;
    vg_engine_stop(e);
    vg_rt_destroy(&e->rt);
    for (int w = 0; w < e->n_workers; w++) {
        s_worker_t *wk = &e->workers[w];
        for (uint32_t k = 0; k < wk->n_entries; k++) free(wk->entries[k]);
        free(wk->entries);
        vg_strmap_fini(&wk->users);
        vg_strmap_fini(&wk->pending_seen);
        vg_mpw_fini(&wk->scratch);
    }
    while (e->pool) {
        s_job_t *next = e->pool->next;
        s_job_free(e->pool, e->n_workers);
        e->pool = next;
    }
    for (int h = 0; h < S_NHELD; h++) s_release(e, h, e->held[h]);
    pthread_mutex_destroy(&e->held_mu);
    pthread_mutex_destroy(&e->pool_mu);
    pthread_mutex_destroy(&e->q_mu);
    pthread_cond_destroy(&e->q_cv);
    free(e);
    *e_p = NULL;
}

void vg_engine_set_rules(vg_engine_t *e, vg_ruleset_t **rs_p, uint64_t version)
{
    s_install(e, S_RULES, rs_p ? *rs_p : NULL, version);
    if (rs_p) *rs_p = NULL;
}

static uint64_t s_version(vg_engine_t *e, int slot)
{
    pthread_mutex_lock(&e->held_mu);
    uint64_t v = e->held[slot] ? e->held[slot]->version : 0;
    pthread_mutex_unlock(&e->held_mu);
    return v;
}

uint64_t vg_engine_rules_version(vg_engine_t *e)
{
    return s_version(e, S_RULES);
}

void vg_engine_with_rules(vg_engine_t *e, vg_engine_rules_fn *fn, void *arg)
{
    s_held_t *h = s_acquire(e, S_RULES);
    fn(arg, h ? h->obj : NULL, h ? h->version : 0);
    s_release(e, S_RULES, h);
}

void vg_engine_set_model(vg_engine_t *e, vg_model_t **m_p, uint64_t version, bool shadow)
{
    s_install(e, shadow ? S_SHADOW : S_MODEL, m_p ? *m_p : NULL, version);
    if (m_p) *m_p = NULL;
}

void vg_engine_model_stats(vg_engine_t *e, vg_engine_model_stats_t *out)
{
    out->active_version = s_version(e, S_MODEL);
    out->shadow_version = s_version(e, S_SHADOW);
    out->scored = vg_counter_get(&e->m_model_scored);
    out->flagged = vg_counter_get(&e->m_model_flagged);
    out->shadow_scored = vg_counter_get(&e->m_shadow_scored);
    out->shadow_flagged = vg_counter_get(&e->m_shadow_flagged);
    out->both_flagged = vg_counter_get(&e->m_both_flagged);
}

void vg_engine_metrics(vg_engine_t *e, vg_prom_t *p)
{
    vg_prom_header(p, "vigil_rule_hits_total", "counter",
                   "Rule hits that acted on a verdict (active rules).");
    vg_prom_sample(p, "vigil_rule_hits_total", NULL, (double) vg_counter_get(&e->m_rule_hits));
    vg_prom_header(p, "vigil_rule_shadow_hits_total", "counter",
                   "Hits of rules in shadow mode (counted, never acted on).");
    vg_prom_sample(p, "vigil_rule_shadow_hits_total", NULL,
                   (double) vg_counter_get(&e->m_rule_shadow));
    vg_prom_header(p, "vigil_model_scored_total", "counter", "Transactions scored by the model.");
    vg_prom_sample(p, "vigil_model_scored_total", "model=\"active\"",
                   (double) vg_counter_get(&e->m_model_scored));
    vg_prom_sample(p, "vigil_model_scored_total", "model=\"shadow\"",
                   (double) vg_counter_get(&e->m_shadow_scored));
    vg_prom_header(p, "vigil_model_flagged_total", "counter",
                   "Model scores at or above model_threshold.");
    vg_prom_sample(p, "vigil_model_flagged_total", "model=\"active\"",
                   (double) vg_counter_get(&e->m_model_flagged));
    vg_prom_sample(p, "vigil_model_flagged_total", "model=\"shadow\"",
                   (double) vg_counter_get(&e->m_shadow_flagged));
    vg_prom_header(p, "vigil_model_version", "gauge", "Model versions in use (0 none).");
    vg_prom_sample(p, "vigil_model_version", "model=\"active\"", (double) s_version(e, S_MODEL));
    vg_prom_sample(p, "vigil_model_version", "model=\"shadow\"", (double) s_version(e, S_SHADOW));
    vg_prom_header(p, "vigil_ruleset_version", "gauge", "Version of the rule set in use (0 none).");
    vg_prom_sample(p, "vigil_ruleset_version", NULL, (double) vg_engine_rules_version(e));
    vg_prom_header(p, "vigil_transactions_total", "counter",
                   "Transactions scored (duplicates included).");
    vg_prom_sample(p, "vigil_transactions_total", NULL, (double) vg_counter_get(&e->m_tx));
    vg_prom_header(p, "vigil_verdicts_total", "counter",
                   "Verdicts by decision (duplicates excluded).");
    for (int d = 0; d < 3; d++) {
        char label[32];
        snprintf(label, sizeof label, "decision=\"%s\"", vg_decision_name(d));
        vg_prom_sample(p, "vigil_verdicts_total", label,
                       (double) vg_counter_get(&e->m_decision[d]));
    }
    vg_prom_header(p, "vigil_anomalies_total", "counter", "Anomalies detected and stored.");
    vg_prom_sample(p, "vigil_anomalies_total", NULL, (double) vg_counter_get(&e->m_anom));
    vg_prom_header(p, "vigil_duplicates_total", "counter",
                   "Repeated transaction ids answered from the store.");
    vg_prom_sample(p, "vigil_duplicates_total", NULL, (double) vg_counter_get(&e->m_dup));
    vg_prom_header(p, "vigil_late_events_total", "counter",
                   "Events older than the lateness tolerance (scored, not applied).");
    vg_prom_sample(p, "vigil_late_events_total", NULL, (double) vg_counter_get(&e->m_late));
    vg_prom_header(p, "vigil_lmdb_commits_total", "counter", "LMDB group commits.");
    vg_prom_sample(p, "vigil_lmdb_commits_total", NULL, (double) vg_counter_get(&e->m_commits));
    vg_prom_header(p, "vigil_lmdb_commit_failures_total", "counter", "Failed LMDB commits.");
    vg_prom_sample(p, "vigil_lmdb_commit_failures_total", NULL,
                   (double) vg_counter_get(&e->m_commit_fail));
    vg_prom_hist(p, "vigil_lmdb_commit_seconds",
                 "Time of one LMDB group commit (write txn, fsync).", &e->m_commit);
    vg_prom_hist(p, "vigil_score_batch_seconds", "Time to score a batch, commit included.",
                 &e->m_batch_wait);
    vg_prom_header(p, "vigil_ready", "gauge", "1 when the engine accepts work.");
    vg_prom_sample(p, "vigil_ready", NULL, vg_engine_ready(e) ? 1 : 0);
}
