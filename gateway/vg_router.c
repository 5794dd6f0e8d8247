/* vg_router.c: per-shard fan-out with retries. A request builds one group
 * per shard (all memory taken from the caller's arena BEFORE anything is
 * sent), registers each group's corr in the pending table, sends, and
 * waits; the transport's I/O thread matches replies by corr and fills the
 * verdicts under the request's mutex. Groups not answered in time, or
 * answered NOT_OWNER, are retried after a map refresh. */
#include "vg_router.h"
#include "vg_router_internal.h"

#include "vg_cstate.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_msg.h"
#include "vg_strmap.h"
#include "vg_time.h"
#include "vg_transport.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_MOD        "router"
#define S_SEED_BASE  0x7fff0000u /* provisional peer ids of seed addresses */
#define S_MAX_SEEDS  16
#define S_MAX_MEMBER 256

typedef struct s_req s_req_t;

typedef struct {
    s_req_t *req;
    uint32_t shard;
    uint32_t n;    /* transactions */
    uint32_t *idx; /* their indices in the caller's arrays */
    vg_tx_t *txs;  /* copies, contiguous, for the message */
    uint64_t corr;
    char corr_key[8]; /* pending-table key */
    int status;       /* 0 done, 1 waiting, else the error */
} s_group_t;

struct s_req {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int waiting;
    vg_verdict_t *out;
    const vg_tx_t *txs;
    vg_arena_t *arena;
};

/* A vg_router_submit request: sent by the caller, then waited for (and
 * retried) by the router's waiter thread, oldest first. Pooled. */
typedef struct s_areq s_areq_t;
struct s_areq {
    s_req_t q;
    s_group_t *g;
    uint32_t n_groups;
    struct timespec deadline; /* of the first attempt */
    vg_router_done_fn *done;
    void *arg;
    s_areq_t *next;
};

struct vg_router {
    vg_router_config_t cfg;
    vg_transport_t *tr;
    uint32_t self;
    char seeds[S_MAX_SEEDS][128];
    int n_seeds;
    /* the shard map */
    pthread_rwlock_t map_mu;
    uint32_t n_shards;
    uint32_t *owner;
    uint64_t *epoch, map_epoch;
    uint32_t member_id[S_MAX_MEMBER];
    int n_members;
    uint8_t member_state[S_MAX_MEMBER]; /* as of the last map (vg_cstate states) */
    pthread_mutex_t connect_mu;
    /* pending replies: corr key -> group */
    pthread_mutex_t pend_mu;
    vg_strmap_t pending;
    atomic_uint_fast64_t next_corr;
    /* vg_router_submit: the waiter thread's fifo and the request pool */
    pthread_mutex_t aq_mu;
    pthread_cond_t aq_cv;
    s_areq_t *aq_head, *aq_tail, *aq_free;
    bool aq_started, aq_stop;
    pthread_t waiter;
    atomic_bool closing;  /* vg_router_destroy: retries give up, no new requests */
    atomic_bool shutdown; /* vg_router_shutdown: retries give up */
    vg_counter_t m_sent, m_retries, m_not_owner, m_failed, m_refresh;
};

/* ---- the shard map ---------------------------------------------------------- */

static uint32_t s_rd32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* Connects to every member in the MAP's members list. */
static void s_connect_members(vg_router_t *r, vg_str_t members)
{
    vg_mpr_t m;
    vg_mpr_init(&m, members.ptr, members.len);
    uint32_t n;
    if (vg_mpr_array(&m, &n)) return;
    pthread_mutex_lock(&r->connect_mu);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k, id;
        uint64_t state;
        vg_str_t addr;
        if (vg_mpr_array(&m, &k) || k < 3 || vg_mpr_u32(&m, &id) || vg_mpr_uint(&m, &state) ||
            vg_mpr_str(&m, &addr))
            break;
        for (uint32_t x = 3; x < k; x++) vg_mpr_skip(&m);
        int j = 0;
        while (j < r->n_members && r->member_id[j] != id) j++;
        if (j < r->n_members) r->member_state[j] = (uint8_t) (state < 256 ? state : 0);
        if (j < r->n_members || r->n_members >= S_MAX_MEMBER) continue;
        char ep[300];
        snprintf(ep, sizeof ep, "tcp://%.*s", (int) addr.len, addr.ptr);
        if (vg_transport_connect(r->tr, id, ep) == 0) {
            r->member_state[r->n_members] = (uint8_t) (state < 256 ? state : 0);
            r->member_id[r->n_members++] = id;
        }
    }
    pthread_mutex_unlock(&r->connect_mu);
}

static int s_apply_map(vg_router_t *r, const vg_body_map_t *map)
{
    if (!map->n_shards || map->owners.len != (uint64_t) map->n_shards * 12) return VG_ERR_PROTO;
    s_connect_members(r, map->members);
    pthread_rwlock_wrlock(&r->map_mu);
    if (map->map_epoch >= r->map_epoch || r->n_shards != map->n_shards) {
        if (r->n_shards != map->n_shards) {
            r->owner = vg_realloc(r->owner, map->n_shards * sizeof *r->owner);
            r->epoch = vg_realloc(r->epoch, map->n_shards * sizeof *r->epoch);
            r->n_shards = map->n_shards;
        }
        const uint8_t *p = (const uint8_t *) map->owners.ptr;
        for (uint32_t s = 0; s < map->n_shards; s++, p += 12) {
            r->owner[s] = s_rd32(p);
            r->epoch[s] = (uint64_t) s_rd32(p + 4) << 32 | s_rd32(p + 8);
        }
        r->map_epoch = map->map_epoch;
    }
    pthread_rwlock_unlock(&r->map_mu);
    return 0;
}

/* MAP_GET from one peer. */
static int s_fetch_from(vg_router_t *r, uint32_t peer)
{
    vg_msg_t m = {.env = {.version = VG_PROTO_VERSION, .type = VG_MSG_MAP_GET, .src = r->self}};
    vg_mpw_t body;
    vg_mpw_init(&body);
    vg_msg_body_encode(&m, &body);
    vg_transport_msg_t *reply = NULL;
    int rc = vg_transport_request(r->tr, peer, &m.env, body.buf, body.len, 2000, &reply);
    vg_mpw_fini(&body);
    if (rc) return rc;
    vg_msg_t map = {.env = reply->env};
    vg_perr_t err;
    vg_perr_clear(&err);
    rc = reply->env.type != VG_MSG_MAP
             ? VG_ERR_PROTO
             : vg_msg_body_decode(reply->body, reply->body_len, &map, NULL, &err);
    if (!rc) rc = s_apply_map(r, &map.body.map);
    vg_transport_msg_destroy(&reply);
    return rc;
}

/* Refreshes the map from any known member, then the seeds. */
static int s_refresh(vg_router_t *r)
{
    vg_counter_add(&r->m_refresh, 1);
    pthread_mutex_lock(&r->connect_mu);
    uint32_t ids[S_MAX_MEMBER];
    int n = r->n_members;
    memcpy(ids, r->member_id, (size_t) n * sizeof *ids);
    pthread_mutex_unlock(&r->connect_mu);
    for (int i = 0; i < n; i++)
        if (vg_transport_peer_alive(r->tr, ids[i]) && s_fetch_from(r, ids[i]) == 0) return 0;
    /* seeds are connected only for the fetch: a lasting second connection
     * to a member under the same routing id would fight the member's */
    for (int i = 0; i < r->n_seeds; i++) {
        char ep[160];
        uint32_t id = S_SEED_BASE + (uint32_t) i;
        snprintf(ep, sizeof ep, "tcp://%s", r->seeds[i]);
        if (vg_transport_connect(r->tr, id, ep)) continue;
        int rc = s_fetch_from(r, id);
        vg_transport_disconnect(r->tr, id);
        if (rc == 0) return 0;
    }
    return VG_ERR_UNREACHABLE;
}

/* ---- replies (transport I/O thread) ---------------------------------------- */

static void s_group_finish(s_group_t *g, int status)
{
    s_req_t *q = g->req;
    if (g->status != 1) return; /* already settled (duplicate or late reply) */
    g->status = status;
    if (--q->waiting == 0) pthread_cond_signal(&q->cv);
}

static void s_take_verdicts(s_group_t *g, const vg_verdict_list_t *vs)
{
    s_req_t *q = g->req;
    for (uint32_t i = 0; i < g->n && i < vs->n; i++) {
        vg_verdict_t *v = &q->out[g->idx[i]];
        *v = vs->items[i];
        v->id = q->txs[g->idx[i]].id;
        for (unsigned k = 0; k < v->n_reasons; k++) {
            vg_reason_t *x = &v->reasons[k];
            x->detector.ptr = vg_arena_strndup(q->arena, x->detector.ptr, x->detector.len);
            x->feature.ptr = vg_arena_strndup(q->arena, x->feature.ptr, x->feature.len);
        }
    }
}

/* Replies and undeliverable notices settle a group while holding
 * pend_mu (then the request's mu): once a waiter has taken its unsettled
 * groups out of the pending table under pend_mu, no reply can still be
 * writing into them, so a request that ends (its memory reused: the
 * caller's arena, a pooled request) is never touched by a late reply. */

/* Removes and returns the group waiting for corr (NULL: late or settled).
 * Under r->pend_mu. */
static s_group_t *s_pending_take_locked(vg_router_t *r, uint64_t corr)
{
    char key[8];
    memcpy(key, &corr, 8);
    return vg_strmap_del(&r->pending, (vg_str_t){key, 8});
}

static void s_on_reply(void *arg, const vg_transport_msg_t *m)
{
    vg_router_t *r = arg;
    vg_msg_t msg = {.env = m->env};
    vg_perr_t err;
    vg_perr_clear(&err);
    vg_arena_t tmp = VG_ARENA_INIT;
    int rc = vg_msg_body_decode(m->body, m->body_len, &msg, &tmp, &err);
    pthread_mutex_lock(&r->pend_mu);
    s_group_t *g = s_pending_take_locked(r, m->env.corr);
    if (g) { /* else a late reply of a retried or settled group */
        s_req_t *q = g->req;
        pthread_mutex_lock(&q->mu);
        if (rc) {
            s_group_finish(g, VG_ERR_PROTO);
        } else if (m->env.type == VG_MSG_VERDICT_BATCH &&
                   msg.body.verdict_batch.verdicts.n == g->n) {
            s_take_verdicts(g, &msg.body.verdict_batch.verdicts); /* pending: still waiting */
            s_group_finish(g, 0);
        } else if (m->env.type == VG_MSG_NOT_OWNER) {
            vg_counter_add(&r->m_not_owner, 1);
            s_group_finish(g, VG_ERR_NOT_OWNER);
        } else {
            s_group_finish(g, m->env.type == VG_MSG_ERROR ? msg.body.error.code : VG_ERR_PROTO);
        }
        pthread_mutex_unlock(&q->mu);
    }
    pthread_mutex_unlock(&r->pend_mu);
    vg_arena_fini(&tmp);
}

static void s_on_undeliverable(void *arg, const vg_transport_msg_t *m, int err)
{
    vg_router_t *r = arg;
    (void) err;
    pthread_mutex_lock(&r->pend_mu);
    s_group_t *g = s_pending_take_locked(r, m->env.corr);
    if (g) {
        pthread_mutex_lock(&g->req->mu);
        s_group_finish(g, VG_ERR_UNREACHABLE);
        pthread_mutex_unlock(&g->req->mu);
    }
    pthread_mutex_unlock(&r->pend_mu);
}

/* ---- scoring ------------------------------------------------------------------ */

/* Splits txs by shard into groups (arena memory only). */
static s_group_t *s_groups(vg_router_t *r, s_req_t *q, const vg_tx_t *txs, uint32_t n,
                           uint32_t n_shards, uint32_t *n_groups)
{
    uint32_t *shard = vg_arena_alloc(q->arena, n * sizeof *shard);
    uint32_t *count = vg_arena_calloc(q->arena, n_shards, sizeof *count);
    uint32_t groups = 0;
    for (uint32_t i = 0; i < n; i++) {
        shard[i] = vg_shard_of(txs[i].user_id, n_shards);
        if (count[shard[i]]++ == 0) groups++;
    }
    s_group_t *g = vg_arena_calloc(q->arena, groups, sizeof *g);
    uint32_t *slot = vg_arena_alloc(q->arena, n_shards * sizeof *slot), k = 0;
    for (uint32_t s = 0; s < n_shards; s++) {
        if (!count[s]) continue;
        slot[s] = k;
        g[k] = (s_group_t){.req = q,
                           .shard = s,
                           .status = 1,
                           .idx = vg_arena_alloc(q->arena, count[s] * sizeof(uint32_t)),
                           .txs = vg_arena_alloc(q->arena, count[s] * sizeof(vg_tx_t))};
        k++;
    }
    for (uint32_t i = 0; i < n; i++) {
        s_group_t *x = &g[slot[shard[i]]];
        x->idx[x->n] = i;
        x->txs[x->n++] = txs[i];
    }
    (void) r;
    *n_groups = groups;
    return g;
}

/* Sends one group to its owner; registers it as pending first. */
static int s_send_group(vg_router_t *r, s_group_t *g, vg_mpw_t *body)
{
    pthread_rwlock_rdlock(&r->map_mu);
    uint32_t owner = g->shard < r->n_shards ? r->owner[g->shard] : 0;
    uint64_t epoch = g->shard < r->n_shards ? r->epoch[g->shard] : 0;
    pthread_rwlock_unlock(&r->map_mu);
    if (!owner) return VG_ERR_UNREACHABLE;
    g->corr = atomic_fetch_add(&r->next_corr, 1);
    memcpy(g->corr_key, &g->corr, 8);
    vg_msg_t m = {.env = {.version = VG_PROTO_VERSION,
                          .type = VG_MSG_TX_BATCH,
                          .corr = g->corr,
                          .src = r->self,
                          .shard = g->shard,
                          .epoch = epoch}};
    m.body.tx_batch.txs = (vg_tx_list_t){g->n, g->txs};
    vg_mpw_reset(body);
    vg_msg_body_encode(&m, body);
    pthread_mutex_lock(&r->pend_mu);
    vg_strmap_put(&r->pending, (vg_str_t){g->corr_key, 8}, g);
    pthread_mutex_unlock(&r->pend_mu);
    int rc = vg_transport_send(r->tr, owner, &m.env, body->buf, body->len);
    if (rc) {
        pthread_mutex_lock(&r->pend_mu);
        void *still = vg_strmap_del(&r->pending, (vg_str_t){g->corr_key, 8});
        pthread_mutex_unlock(&r->pend_mu);
        if (!still) rc = 0; /* settled meanwhile (cannot normally happen) */
    }
    if (!rc) vg_counter_add(&r->m_sent, 1);
    return rc;
}

/* Sends every unsettled group of q (the first half of an attempt). */
static void s_attempt_send(vg_router_t *r, s_req_t *q, s_group_t *g, uint32_t n_groups)
{
    vg_mpw_t body;
    vg_mpw_init(&body);
    pthread_mutex_lock(&q->mu);
    for (uint32_t i = 0; i < n_groups; i++)
        if (g[i].status != 0) g[i].status = 1, q->waiting++;
    pthread_mutex_unlock(&q->mu);
    for (uint32_t i = 0; i < n_groups; i++) {
        if (g[i].status != 1) continue;
        int rc = s_send_group(r, &g[i], &body);
        if (rc) {
            pthread_mutex_lock(&q->mu);
            s_group_finish(&g[i], rc);
            pthread_mutex_unlock(&q->mu);
        }
    }
    vg_mpw_fini(&body);
}

/* The attempt's deadline, timeout_ms from now (CLOCK_REALTIME, as the
 * condition variable waits). */
static struct timespec s_deadline(const vg_router_t *r)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    int64_t ns = dl.tv_nsec + (int64_t) r->cfg.timeout_ms * 1000000;
    dl.tv_sec += ns / 1000000000;
    dl.tv_nsec = ns % 1000000000;
    return dl;
}

/* The second half: waits for the answers until dl; what is unanswered
 * then times out. */
static void s_attempt_wait(vg_router_t *r, s_req_t *q, s_group_t *g, uint32_t n_groups,
                           const struct timespec *dl)
{
    pthread_mutex_lock(&q->mu);
    while (q->waiting > 0 && pthread_cond_timedwait(&q->cv, &q->mu, dl) == 0) {
    }
    pthread_mutex_unlock(&q->mu);
    /* unanswered groups: take them out of the pending table */
    pthread_mutex_lock(&r->pend_mu);
    for (uint32_t i = 0; i < n_groups; i++)
        if (g[i].status == 1) vg_strmap_del(&r->pending, (vg_str_t){g[i].corr_key, 8});
    pthread_mutex_unlock(&r->pend_mu);
    pthread_mutex_lock(&q->mu);
    for (uint32_t i = 0; i < n_groups; i++)
        if (g[i].status == 1) s_group_finish(&g[i], VG_ERR_TIMEOUT);
    q->waiting = 0;
    pthread_mutex_unlock(&q->mu);
}

/* The first unsettled group's status (0: every group answered). */
static int s_groups_rc(const s_group_t *g, uint32_t n_groups)
{
    int rc = 0;
    for (uint32_t i = 0; i < n_groups && !rc; i++) rc = g[i].status;
    return rc;
}

/* Attempts from..max_attempts-1 (each after a map refresh and a pause)
 * until every group is answered, then marks the verdicts of groups given
 * up on with their status. Returns the first failure. */
static int s_retry_and_finish(vg_router_t *r, s_req_t *q, s_group_t *g, uint32_t n_groups, int from)
{
    int rc = s_groups_rc(g, n_groups);
    for (int attempt = from; rc && attempt < r->cfg.max_attempts; attempt++) {
        if (atomic_load(&r->closing) || atomic_load(&r->shutdown)) break;
        vg_counter_add(&r->m_retries, 1);
        s_refresh(r);
        /* a shard being handed off answers NOT_OWNER until the leader's
         * ASSIGN lands, a dead owner until the failover: up to ~12 s */
        usleep((useconds_t) (attempt <= 2 ? 20000 : attempt <= 5 ? 100000 : 200000));
        s_attempt_send(r, q, g, n_groups);
        struct timespec dl = s_deadline(r);
        s_attempt_wait(r, q, g, n_groups, &dl);
        rc = s_groups_rc(g, n_groups);
    }
    for (uint32_t i = 0; i < n_groups; i++) {
        if (!g[i].status) continue;
        vg_counter_add(&r->m_failed, g[i].n);
        for (uint32_t k = 0; k < g[i].n; k++) {
            vg_verdict_t *v = &q->out[g[i].idx[k]];
            memset(v, 0, offsetof(vg_verdict_t, reasons));
            v->id = q->txs[g[i].idx[k]].id;
            v->status = g[i].status;
        }
    }
    return rc;
}

/* The number of shards of the map, fetching it when none is known yet
 * (0: no member answers). */
static uint32_t s_shards(vg_router_t *r)
{
    pthread_rwlock_rdlock(&r->map_mu);
    uint32_t n_shards = r->n_shards;
    pthread_rwlock_unlock(&r->map_mu);
    if (!n_shards && !s_refresh(r)) {
        pthread_rwlock_rdlock(&r->map_mu);
        n_shards = r->n_shards;
        pthread_rwlock_unlock(&r->map_mu);
    }
    return n_shards;
}

int vg_router_score(vg_router_t *r, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                    vg_arena_t *arena)
{
    if (!n) return 0;
    uint32_t n_shards = s_shards(r);
    if (!n_shards) return VG_ERR_UNREACHABLE;
    s_req_t q = {.out = out, .txs = txs, .arena = arena};
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.cv, NULL);
    uint32_t n_groups;
    s_group_t *g = s_groups(r, &q, txs, n, n_shards, &n_groups);
    s_attempt_send(r, &q, g, n_groups);
    struct timespec dl = s_deadline(r);
    s_attempt_wait(r, &q, g, n_groups, &dl);
    int rc = s_retry_and_finish(r, &q, g, n_groups, 1);
    pthread_mutex_destroy(&q.mu);
    pthread_cond_destroy(&q.cv);
    return rc;
}

/* ---- vg_router_submit: the waiter thread ------------------------------------ */

static void *s_waiter_main(void *arg)
{
    vg_router_t *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->aq_mu);
        while (!r->aq_head && !r->aq_stop) pthread_cond_wait(&r->aq_cv, &r->aq_mu);
        s_areq_t *a = r->aq_head;
        if (a && !(r->aq_head = a->next)) r->aq_tail = NULL;
        pthread_mutex_unlock(&r->aq_mu);
        if (!a) break; /* stopping, nothing queued */
        s_attempt_wait(r, &a->q, a->g, a->n_groups, &a->deadline);
        int rc = s_retry_and_finish(r, &a->q, a->g, a->n_groups, 1);
        vg_router_done_fn *done = a->done;
        void *done_arg = a->arg;
        pthread_mutex_lock(&r->aq_mu);
        a->next = r->aq_free;
        r->aq_free = a;
        pthread_mutex_unlock(&r->aq_mu);
        done(done_arg, rc);
    }
    return NULL;
}

/* A pooled request (the waiter thread started on first use). */
static s_areq_t *s_areq_get(vg_router_t *r)
{
    pthread_mutex_lock(&r->aq_mu);
    if (!r->aq_started && !r->aq_stop) {
        if (pthread_create(&r->waiter, NULL, s_waiter_main, r) == 0)
            r->aq_started = true;
        else
            vg_error(S_MOD, "cannot start the waiter thread");
    }
    s_areq_t *a = r->aq_started ? r->aq_free : NULL;
    if (a) r->aq_free = a->next;
    bool ok = r->aq_started;
    pthread_mutex_unlock(&r->aq_mu);
    if (!ok) return NULL;
    if (!a) {
        a = VG_NEW(s_areq_t);
        pthread_mutex_init(&a->q.mu, NULL);
        pthread_cond_init(&a->q.cv, NULL);
    }
    return a;
}

int vg_router_submit(vg_router_t *r, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                     vg_arena_t *arena, vg_router_done_fn *done, void *arg)
{
    VG_ASSERT(done != NULL);
    if (!n) {
        done(arg, 0);
        return 0;
    }
    if (atomic_load(&r->closing)) return VG_ERR_CLOSED;
    uint32_t n_shards = s_shards(r);
    if (!n_shards) return VG_ERR_UNREACHABLE;
    s_areq_t *a = s_areq_get(r);
    if (!a) return VG_ERR_INTERNAL; /* no waiter thread */
    a->q.waiting = 0;
    a->q.out = out;
    a->q.txs = txs;
    a->q.arena = arena;
    a->done = done;
    a->arg = arg;
    a->next = NULL;
    a->g = s_groups(r, &a->q, txs, n, n_shards, &a->n_groups);
    /* sent here, in the caller's order: a user's transactions of two
     * batches submitted one after the other reach its node in order */
    s_attempt_send(r, &a->q, a->g, a->n_groups);
    a->deadline = s_deadline(r);
    pthread_mutex_lock(&r->aq_mu);
    if (r->aq_tail)
        r->aq_tail->next = a;
    else
        r->aq_head = a;
    r->aq_tail = a;
    pthread_cond_signal(&r->aq_cv);
    pthread_mutex_unlock(&r->aq_mu);
    return 0;
}

/* ---- for vg_router_query.c -------------------------------------------------------- */

vg_transport_t *vg__router_transport(vg_router_t *r)
{
    return r->tr;
}

uint32_t vg__router_self(vg_router_t *r)
{
    return r->self;
}

size_t vg__router_holders(vg_router_t *r, uint32_t *ids, size_t cap, size_t *skipped)
{
    (void) s_refresh(r); /* members may have joined since the last map */
    size_t n = 0;
    *skipped = 0;
    pthread_mutex_lock(&r->connect_mu);
    for (int i = 0; i < r->n_members; i++) {
        uint8_t st = r->member_state[i];
        if (st == VG_MEMBER_DOWN || st == VG_MEMBER_REMOVED) {
            ++*skipped;
        } else if (n < cap) {
            ids[n++] = r->member_id[i];
        }
    }
    pthread_mutex_unlock(&r->connect_mu);
    return n;
}

/* ---- lifecycle ------------------------------------------------------------------ */

int vg_router_new(const vg_router_config_t *cfg, vg_router_t **out, char *errbuf, size_t errlen)
{
    vg_router_t *r = VG_NEW(vg_router_t);
    r->cfg = *cfg;
    if (r->cfg.timeout_ms <= 0) r->cfg.timeout_ms = 3000;
    if (r->cfg.max_attempts <= 0) r->cfg.max_attempts = 60;
    pthread_rwlock_init(&r->map_mu, NULL);
    pthread_mutex_init(&r->connect_mu, NULL);
    pthread_mutex_init(&r->pend_mu, NULL);
    pthread_mutex_init(&r->aq_mu, NULL);
    pthread_cond_init(&r->aq_cv, NULL);
    vg_strmap_init(&r->pending, 1024);
    atomic_store(&r->next_corr, 1);
    r->self = vg_transport_random_client_id();
    vg_transport_config_t tc = {.self_id = r->self,
                                .bind = NULL,
                                .on_msg = s_on_reply,
                                .on_undeliverable = s_on_undeliverable,
                                .arg = r};
    int rc = vg_transport_new(&tc, &r->tr);
    if (rc) {
        snprintf(errbuf, errlen, "cannot start the transport: %s", vg_strerror(rc));
        vg_router_destroy(&r);
        return rc;
    }
    const char *p = cfg->seeds ? cfg->seeds : "";
    while (*p && r->n_seeds < S_MAX_SEEDS) {
        size_t len = strcspn(p, ",");
        snprintf(r->seeds[r->n_seeds++], sizeof r->seeds[0], "%.*s", (int) len, p);
        p += len + (p[len] == ',');
    }
    if (!r->n_seeds) {
        snprintf(errbuf, errlen, "no cluster address given (--cluster host:port[,host:port])");
        vg_router_destroy(&r);
        return VG_ERR_INVALID;
    }
    for (int i = 0; i < 20 && (rc = s_refresh(r)); i++) usleep(500000);
    if (rc) {
        snprintf(errbuf, errlen, "no cluster member answered at %s", cfg->seeds);
        vg_router_destroy(&r);
        return rc;
    }
    *out = r;
    return 0;
}

void vg_router_shutdown(vg_router_t *r)
{
    if (r && !atomic_exchange(&r->shutdown, true))
        vg_info(S_MOD, "shutting down: failed requests are no longer retried");
}

bool vg_router_ready(vg_router_t *r)
{
    pthread_rwlock_rdlock(&r->map_mu);
    bool ok = r->n_shards > 0;
    pthread_rwlock_unlock(&r->map_mu);
    return ok;
}

void vg_router_metrics(vg_router_t *r, vg_prom_t *p)
{
    vg_prom_header(p, "vigil_router_batches_sent_total", "counter", "TX_BATCH messages sent.");
    vg_prom_sample(p, "vigil_router_batches_sent_total", NULL, (double) vg_counter_get(&r->m_sent));
    vg_prom_header(p, "vigil_router_retries_total", "counter",
                   "Request attempts repeated after a failure.");
    vg_prom_sample(p, "vigil_router_retries_total", NULL, (double) vg_counter_get(&r->m_retries));
    vg_prom_header(p, "vigil_router_not_owner_total", "counter", "NOT_OWNER answers (stale map).");
    vg_prom_sample(p, "vigil_router_not_owner_total", NULL,
                   (double) vg_counter_get(&r->m_not_owner));
    vg_prom_header(p, "vigil_router_failed_transactions_total", "counter",
                   "Transactions given up on.");
    vg_prom_sample(p, "vigil_router_failed_transactions_total", NULL,
                   (double) vg_counter_get(&r->m_failed));
    vg_prom_header(p, "vigil_router_map_epoch", "gauge", "Shard map epoch known to this gateway.");
    vg_prom_sample(p, "vigil_router_map_epoch", NULL, (double) r->map_epoch);
    vg_transport_metrics(r->tr, p);
}

void vg_router_destroy(vg_router_t **r_p)
{
    vg_router_t *r = *r_p;
    if (!r) return;
    /* submitted requests finish first (retries give up at once) */
    atomic_store(&r->closing, true);
    pthread_mutex_lock(&r->aq_mu);
    r->aq_stop = true;
    bool started = r->aq_started;
    pthread_cond_signal(&r->aq_cv);
    pthread_mutex_unlock(&r->aq_mu);
    if (started) pthread_join(r->waiter, NULL);
    for (s_areq_t *a = r->aq_free, *next; a; a = next) {
        next = a->next;
        pthread_mutex_destroy(&a->q.mu);
        pthread_cond_destroy(&a->q.cv);
        free(a);
    }
    vg_transport_destroy(&r->tr);
    vg_strmap_fini(&r->pending);
    pthread_rwlock_destroy(&r->map_mu);
    pthread_mutex_destroy(&r->connect_mu);
    pthread_mutex_destroy(&r->pend_mu);
    pthread_mutex_destroy(&r->aq_mu);
    pthread_cond_destroy(&r->aq_cv);
    free(r->owner);
    free(r->epoch);
    free(r);
    *r_p = NULL;
}
