/* vg_member.c: cluster membership of a node. Threads: the transport's I/O
 * thread runs s_on_msg (decode, ownership check, hand TX_BATCH to the
 * engine; answer MAP_GET); blocking control work (raft proposals for JOIN,
 * ADMIN drain/remove) runs on short-lived worker threads; one maintenance
 * thread (every 250 ms) connects the transport to every member, and on
 * the leader bootstraps the map and fails over members that went silent.
 * Rule sets and models (push, fetch, sync) are in vg_member_blobs.c. */
#include "vg_member.h"
#include "vg_member_internal.h"

#include "vg_anomaly_svc.h"

#include "vg_cstate.h"
#include "vg_err.h"
#include "vg_hash.h"
#include "vg_jw.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_raft.h"
#include "vg_time.h"
#include "vg_transport.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- replies ------------------------------------------------------------- */

vg_env_t vg__member_reply_env(vg_member_t *mb, const vg_transport_msg_t *req, int type)
{
    vg_env_t e = req->env;
    e.type = (uint8_t) type;
    e.src = mb->cfg.node_id;
    e.flags = 0;
    return e;
}

void vg__member_send(vg_member_t *mb, uint32_t peer, vg_msg_t *m)
{
    int rc = vg_transport_send_msg(mb->tr, peer, m);
    if (rc)
        vg_warn(S_MOD, "reply %s to %u not sent: %s", vg_msg_type_name(m->env.type), peer,
                vg_strerror(rc));
}

static void s_reply_error(vg_member_t *mb, const vg_transport_msg_t *req, int code, const char *msg)
{
    vg_msg_t m = {.env = vg__member_reply_env(mb, req, VG_MSG_ERROR)};
    m.body.error = (vg_body_error_t){code, vg_str_c(msg)};
    vg__member_send(mb, req->peer, &m);
}

/* ---- TX_BATCH ------------------------------------------------------------ */

typedef struct {
    vg_member_t *mb;
    vg_transport_msg_t *msg; /* owns the body the transactions point into */
    vg_msg_t req;
    vg_arena_t arena;
    vg_verdict_t *out;
} s_batch_t;

typedef struct {
    uint32_t shard, owner;
    uint64_t epoch;
    int rc;
} s_owner_q_t;

static void s_owner_read(const vg_cstate_t *st, void *arg)
{
    s_owner_q_t *q = arg;
    q->rc = vg_cstate_shard(st, q->shard, &q->owner, &q->epoch);
}

static void s_batch_free(s_batch_t *b)
{
    vg_arena_fini(&b->arena);
    vg_transport_msg_destroy(&b->msg);
    free(b->out);
    free(b);
}

static void s_batch_done(void *arg, int rc)
{
    s_batch_t *b = arg;
    (void) rc; /* per-verdict status says which failed */
    atomic_fetch_sub(&b->mb->inflight[b->msg->env.shard], 1);
    vg_msg_t m = {.env = vg__member_reply_env(b->mb, b->msg, VG_MSG_VERDICT_BATCH)};
    m.body.verdict_batch.verdicts = (vg_verdict_list_t){b->req.body.tx_batch.txs.n, b->out};
    vg__member_send(b->mb, b->msg->peer, &m);
    s_batch_free(b);
}

/* Checks the shard is ours at the sender's epoch; answers NOT_OWNER if not. */
static bool s_owned(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    s_owner_q_t q = {.shard = msg->env.shard};
    vg_raft_read(mb->raft, s_owner_read, &q);
    bool frozen = msg->env.shard >= mb->cfg.shards || atomic_load(&mb->frozen[msg->env.shard]);
    if (q.rc == 0 && q.owner == mb->cfg.node_id && msg->env.epoch <= q.epoch && !frozen)
        return true;
    vg_counter_add(&mb->m_not_owner, 1);
    vg_msg_t m = {.env = vg__member_reply_env(mb, msg, VG_MSG_NOT_OWNER)};
    m.env.epoch = q.rc ? 0 : q.epoch;
    m.body.not_owner =
        (vg_body_not_owner_t){msg->env.shard, q.rc ? 0 : q.epoch, q.rc ? 0 : q.owner};
    vg__member_send(mb, msg->peer, &m);
    return false;
}

static void s_tx_batch(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    if (atomic_load(&mb->stopping) || !atomic_load(&mb->ready)) {
        s_reply_error(mb, msg, VG_ERR_CLOSED, "node not ready or stopping");
        return;
    }
    if (!s_owned(mb, msg)) return;
    s_batch_t *b = VG_NEW(s_batch_t);
    b->mb = mb;
    b->msg = vg_transport_msg_dup(msg);
    b->req.env = b->msg->env;
    vg_perr_t err;
    vg_perr_clear(&err);
    if (vg_msg_body_decode(b->msg->body, b->msg->body_len, &b->req, &b->arena, &err)) {
        char text[300];
        vg_counter_add(&mb->m_bad, 1);
        s_reply_error(mb, msg, err.code, vg_perr_str(&err, text, sizeof text));
        s_batch_free(b);
        return;
    }
    vg_tx_list_t *txs = &b->req.body.tx_batch.txs;
    uint32_t n_shards = vg_engine_shards(mb->engine);
    for (uint32_t i = 0; i < txs->n; i++)
        if (vg_shard_of(txs->items[i].user_id, n_shards) != msg->env.shard) {
            vg_counter_add(&mb->m_bad, 1);
            s_reply_error(mb, msg, VG_ERR_INVALID, "a transaction is not of envelope.shard");
            s_batch_free(b);
            return;
        }
    vg_counter_add(&mb->m_batches, 1);
    vg_counter_add(&mb->m_txs, txs->n);
    atomic_fetch_add(&mb->inflight[msg->env.shard], 1);
    b->out = vg_calloc(txs->n ? txs->n : 1, sizeof *b->out);
    vg_engine_submit(mb->engine, txs->items, txs->n, b->out, &b->arena, s_batch_done, b);
}

/* ---- MAP_GET ------------------------------------------------------------- */

typedef struct {
    vg_mpw_t owners, members;
    uint64_t epoch;
    uint32_t n_shards;
} s_map_t;

static void s_map_read(const vg_cstate_t *st, void *arg)
{
    s_map_t *m = arg;
    m->epoch = vg_cstate_map_epoch(st);
    m->n_shards = vg_cstate_n_shards(st);
    for (uint32_t s = 0; s < m->n_shards; s++) {
        uint32_t owner = 0;
        uint64_t epoch = 0;
        vg_cstate_shard(st, s, &owner, &epoch);
        uint8_t rec[12];
        for (int i = 0; i < 4; i++) rec[i] = (uint8_t) (owner >> (24 - 8 * i));
        for (int i = 0; i < 8; i++) rec[4 + i] = (uint8_t) (epoch >> (56 - 8 * i));
        vg_mpw_raw(&m->owners, rec, 12);
    }
    size_t n = vg_cstate_member_count(st);
    vg_mpw_array(&m->members, (uint32_t) n);
    for (size_t i = 0; i < n; i++) {
        vg_cstate_member_t mem;
        vg_cstate_member_at(st, i, &mem);
        vg_mpw_array(&m->members, 3);
        vg_mpw_uint(&m->members, mem.id);
        vg_mpw_uint(&m->members, (uint64_t) mem.state);
        vg_mpw_str(&m->members, mem.data_addr, (uint32_t) strlen(mem.data_addr));
    }
}

static void s_map_get(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    s_map_t map;
    memset(&map, 0, sizeof map);
    vg_mpw_init(&map.owners);
    vg_mpw_init(&map.members);
    vg_raft_read(mb->raft, s_map_read, &map);
    vg_msg_t m = {.env = vg__member_reply_env(mb, msg, VG_MSG_MAP)};
    m.body.map = (vg_body_map_t){map.epoch,
                                 map.n_shards,
                                 {(const char *) map.owners.buf, (uint32_t) map.owners.len},
                                 {(const char *) map.members.buf, (uint32_t) map.members.len}};
    m.env.epoch = map.epoch;
    vg__member_send(mb, msg->peer, &m);
    vg_mpw_fini(&map.owners);
    vg_mpw_fini(&map.members);
}

/* ---- raft proposals (control threads only) ------------------------------- */

/* Proposes one command built by the caller into w. */
int vg__member_propose(vg_member_t *mb, vg_mpw_t *w, vg_raft_result_t *res)
{
    if (w->err) return w->err;
    int rc = vg_raft_propose(mb->raft, w->buf, w->len, S_PROPOSE_MS, res);
    if (rc && rc != VG_ERR_EXISTS)
        vg_warn(S_MOD, "proposal failed: %s (%s)", vg_strerror(rc), res->msg);
    return rc == VG_ERR_EXISTS ? 0 : rc;
}

typedef struct {
    uint32_t node;
    int kind; /* 'j' join, 'd' drain, 'x' down */
    vg_cstate_plan_t plan;
    int rc;
} s_plan_q_t;

static void s_plan_read(const vg_cstate_t *st, void *arg)
{
    s_plan_q_t *q = arg;
    if (q->kind == 'j')
        q->rc = vg_cstate_plan_join(st, q->node, &q->plan);
    else if (q->kind == 'd')
        q->rc = vg_cstate_plan_drain(st, q->node, &q->plan);
    else
        q->rc = vg_cstate_plan_down(st, q->node, &q->plan);
}

/* ---- hand-off: the old owner streams a shard's LMDB range ------------------ */

#define S_CHUNK_BYTES (512u << 10)

typedef struct {
    vg_member_t *mb;
    uint32_t to;
    vg_mpw_t items; /* msgpack [kind, shard, key, value] entries of this chunk */
    uint32_t n_items;
    uint32_t shard;
    uint64_t users, seen;
    int rc;
} s_stream_t;

/* One request/reply with the new owner, retried while it is not yet
 * reachable (it may have been added a moment ago). */
static int s_request(vg_member_t *mb, uint32_t to, vg_msg_t *m, int want, vg_msg_t *reply_out,
                     vg_transport_msg_t **raw, int timeout_ms)
{
    vg_mpw_t body;
    vg_mpw_init(&body);
    vg_msg_body_encode(m, &body);
    int rc = VG_ERR_UNREACHABLE;
    for (int attempt = 0; attempt < 40 && (rc == VG_ERR_UNREACHABLE || rc == VG_ERR_FULL);
         attempt++) {
        if (attempt) usleep(250 * 1000);
        rc = vg_transport_request(mb->tr, to, &m->env, body.buf, body.len, timeout_ms, raw);
    }
    vg_mpw_fini(&body);
    if (rc) return rc;
    reply_out->env = (*raw)->env;
    if ((*raw)->env.type != want) return VG_ERR_PROTO;
    return vg_msg_body_decode((*raw)->body, (*raw)->body_len, reply_out, NULL, NULL);
}

static int s_send_chunk(s_stream_t *st, bool last)
{
    vg_mpw_t kvs;
    vg_mpw_init(&kvs);
    vg_mpw_array(&kvs, st->n_items);
    vg_mpw_raw(&kvs, st->items.buf, st->items.len);
    vg_msg_t m = {.env = {.version = VG_PROTO_VERSION,
                          .type = VG_MSG_HANDOFF_DATA,
                          .src = st->mb->cfg.node_id}};
    m.body.handoff_data =
        (vg_body_handoff_data_t){last, {(const char *) kvs.buf, (uint32_t) kvs.len}};
    vg_msg_t reply;
    vg_transport_msg_t *raw = NULL;
    int rc = s_request(st->mb, st->to, &m, VG_MSG_HANDOFF_ACK, &reply, &raw, 30000);
    if (!rc) rc = reply.body.handoff_ack.code;
    vg_transport_msg_destroy(&raw);
    vg_mpw_fini(&kvs);
    vg_mpw_reset(&st->items);
    st->n_items = 0;
    return rc;
}

static int s_stream_kv(void *arg, char kind, vg_str_t key, const void *val, size_t len)
{
    s_stream_t *st = arg;
    vg_mpw_array(&st->items, 4);
    vg_mpw_uint(&st->items, (uint8_t) kind);
    vg_mpw_uint(&st->items, st->shard);
    vg_mpw_bin(&st->items, key.ptr, key.len);
    vg_mpw_bin(&st->items, val, (uint32_t) len);
    st->n_items++;
    if (kind == 'u')
        st->users++;
    else
        st->seen++;
    if (st->items.len >= S_CHUNK_BYTES) return s_send_chunk(st, false);
    return 0;
}

/* The old owner's side: stop taking the shards' batches, wait for those in
 * flight, drop their cached users, stream their range to `to`. The shards
 * stay frozen: the leader's ASSIGN gives them to `to` next. */
static int s_handoff_out(vg_member_t *mb, uint32_t to, const uint32_t *shards, size_t n,
                         uint64_t *users, uint64_t *seen)
{
    uint8_t *flags = vg_calloc(mb->cfg.shards, 1);
    for (size_t i = 0; i < n; i++)
        if (shards[i] < mb->cfg.shards)
            atomic_store(&mb->frozen[shards[i]], 1), flags[shards[i]] = 1;
    for (size_t i = 0; i < n; i++) /* batches accepted before the freeze finish first */
        for (int k = 0;
             k < 5000 && shards[i] < mb->cfg.shards && atomic_load(&mb->inflight[shards[i]]); k++)
            usleep(2000);
    vg_engine_evict_shards(mb->engine, flags);
    free(flags);
    s_stream_t st = {.mb = mb, .to = to};
    vg_mpw_init(&st.items);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        st.shard = shards[i];
        rc = vg_store_shard_scan(mb->cfg.store, shards[i], s_stream_kv, &st);
    }
    if (!rc) rc = s_send_chunk(&st, true);
    vg_mpw_fini(&st.items);
    if (rc) /* nothing moved: take the shards back */
        for (size_t i = 0; i < n; i++)
            if (shards[i] < mb->cfg.shards) atomic_store(&mb->frozen[shards[i]], 0);
    *users = st.users, *seen = st.seen;
    return rc;
}

static uint64_t s_rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

/* The new owner's side: one LMDB transaction per chunk. */
static int s_handoff_in(vg_member_t *mb, vg_str_t kvs)
{
    vg_mpr_t r;
    vg_mpr_init(&r, kvs.ptr, kvs.len);
    uint32_t n;
    if (vg_mpr_array(&r, &n)) return VG_ERR_PARSE;
    uint8_t *flags = vg_calloc(mb->cfg.shards, 1);
    vg_store_batch_t *b = NULL;
    int rc = vg_store_batch_begin(mb->cfg.store, &b);
    for (uint32_t i = 0; i < n && !rc; i++) {
        uint32_t k, shard, klen, vlen;
        uint64_t kind;
        const uint8_t *key, *val;
        if (vg_mpr_array(&r, &k) || k < 4 || vg_mpr_uint(&r, &kind) || vg_mpr_u32(&r, &shard) ||
            vg_mpr_bin(&r, &key, &klen) || vg_mpr_bin(&r, &val, &vlen) || shard >= mb->cfg.shards) {
            rc = VG_ERR_PARSE;
            break;
        }
        flags[shard] = 1;
        if (kind == 'u')
            rc = vg_store_put_user(b, shard, (vg_str_t){(const char *) key, klen}, val, vlen);
        else if (kind == 's' && klen > 8)
            rc = vg_store_put_seen(b, shard, (int64_t) (s_rd64(key) ^ (1ull << 63)),
                                   (vg_str_t){(const char *) key + 8, klen - 8}, val, vlen);
        else
            rc = VG_ERR_PARSE;
    }
    if (rc)
        vg_store_batch_abort(&b);
    else
        rc = vg_store_batch_commit(&b);
    if (!rc) {
        vg_engine_evict_shards(mb->engine, flags); /* stale copies from an earlier stay */
        for (uint32_t s2 = 0; s2 < mb->cfg.shards; s2++)
            if (flags[s2]) atomic_store(&mb->frozen[s2], 0);
    }
    free(flags);
    return rc;
}

static void s_handoff_data(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    vg_msg_t req = {.env = msg->env};
    int rc = vg_msg_body_decode(msg->body, msg->body_len, &req, NULL, NULL);
    if (!rc) rc = s_handoff_in(mb, req.body.handoff_data.kvs);
    if (rc) vg_warn(S_MOD, "hand-off chunk from %u refused: %s", msg->peer, vg_strerror(rc));
    vg_msg_t m = {.env = vg__member_reply_env(mb, msg, VG_MSG_HANDOFF_ACK)};
    m.body.handoff_ack.code = rc;
    vg__member_send(mb, msg->peer, &m);
}

static int s_shard_list(vg_str_t bin, uint32_t **out, size_t *n)
{
    if (bin.len % 4) return VG_ERR_PARSE;
    *n = bin.len / 4;
    *out = vg_calloc(*n ? *n : 1, sizeof **out);
    const uint8_t *p = (const uint8_t *) bin.ptr;
    for (size_t i = 0; i < *n; i++)
        (*out)[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 |
                    (uint32_t) p[4 * i + 2] << 8 | p[4 * i + 3];
    return 0;
}

static void s_handoff(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    vg_msg_t req = {.env = msg->env};
    uint32_t *shards = NULL;
    size_t n = 0;
    uint64_t users = 0, seen = 0;
    int rc = vg_msg_body_decode(msg->body, msg->body_len, &req, NULL, NULL);
    if (!rc) rc = s_shard_list(req.body.handoff.shards, &shards, &n);
    if (!rc) rc = s_handoff_out(mb, req.body.handoff.to, shards, n, &users, &seen);
    vg_info(S_MOD, "hand-off of %zu shards to node %u: %s (%llu users, %llu seen ids)", n,
            req.body.handoff.to, rc ? vg_strerror(rc) : "streamed", (unsigned long long) users,
            (unsigned long long) seen);
    free(shards);
    vg_msg_t m = {.env = vg__member_reply_env(mb, msg, VG_MSG_HANDOFF_DONE)};
    m.body.handoff_done = (vg_body_handoff_done_t){rc, users, seen};
    vg__member_send(mb, msg->peer, &m);
}

/* Leader: moves of one (from, to) pair: hand-off (unless `from` is down:
 * its state is lost), then ASSIGN. */
static int s_move_group(vg_member_t *mb, const vg_cstate_plan_t *plan, uint32_t from, uint32_t to,
                        bool with_data)
{
    vg_cstate_plan_t sub = {
        .moves = vg_calloc(plan->n, sizeof *sub.moves), .n = 0, .map_epoch = plan->map_epoch};
    vg_mpw_t list;
    vg_mpw_init(&list);
    for (size_t i = 0; i < plan->n; i++) {
        if (plan->moves[i].from != from || plan->moves[i].to != to) continue;
        sub.moves[sub.n++] = plan->moves[i];
        uint8_t be[4] = {(uint8_t) (plan->moves[i].shard >> 24),
                         (uint8_t) (plan->moves[i].shard >> 16),
                         (uint8_t) (plan->moves[i].shard >> 8), (uint8_t) plan->moves[i].shard};
        vg_mpw_raw(&list, be, 4);
    }
    int rc = 0;
    uint64_t t0 = vg_now_ns();
    if (with_data && from == mb->cfg.node_id) {
        uint32_t *shards;
        size_t n;
        uint64_t users, seen;
        s_shard_list((vg_str_t){(const char *) list.buf, (uint32_t) list.len}, &shards, &n);
        rc = s_handoff_out(mb, to, shards, n, &users, &seen);
        free(shards);
    } else if (with_data) {
        vg_msg_t m = {
            .env = {.version = VG_PROTO_VERSION, .type = VG_MSG_HANDOFF, .src = mb->cfg.node_id}};
        m.body.handoff = (vg_body_handoff_t){to, {(const char *) list.buf, (uint32_t) list.len}};
        vg_msg_t reply;
        vg_transport_msg_t *raw = NULL;
        rc = s_request(mb, from, &m, VG_MSG_HANDOFF_DONE, &reply, &raw, 120000);
        if (!rc) rc = reply.body.handoff_done.code;
        vg_transport_msg_destroy(&raw);
    }
    if (!rc && sub.n) {
        vg_mpw_t w;
        vg_mpw_init(&w);
        vg_raft_result_t res;
        sub.map_epoch = 0; /* other groups may have moved meanwhile; shard epochs guard */
        vg_cstate_cmd_assign_plan(&w, &sub);
        rc = vg__member_propose(mb, &w, &res);
        vg_mpw_fini(&w);
    }
    double ms = (double) (vg_now_ns() - t0) / 1e6;
    vg_hist_observe_ns(&mb->m_handoff, vg_now_ns() - t0);
    vg_info(S_MOD, "moved %zu shards %u -> %u%s in %.1f ms: %s", sub.n, from, to,
            with_data ? " with their state" : " (no state: owner down)", ms,
            rc ? vg_strerror(rc) : "ok");
    free(sub.moves);
    vg_mpw_fini(&list);
    return rc;
}

/* Plans and commits shard moves for node; returns the number moved.
 * Hand-off of the moved users' state is not implemented yet: the new owner
 * starts them afresh (see README, "Cluster"). */
static int s_move(vg_member_t *mb, uint32_t node, int kind, size_t *moved)
{
    s_plan_q_t q = {.node = node, .kind = kind};
    vg_raft_read(mb->raft, s_plan_read, &q);
    *moved = 0;
    if (q.rc) return q.rc == VG_ERR_NOT_FOUND && kind != 'j' ? 0 : q.rc;
    int rc = 0;
    /* one hand-off per (from, to) pair, in plan order */
    for (size_t i = 0; i < q.plan.n && !rc; i++) {
        uint32_t from = q.plan.moves[i].from, to = q.plan.moves[i].to;
        bool seen_pair = false;
        for (size_t k = 0; k < i && !seen_pair; k++)
            seen_pair = q.plan.moves[k].from == from && q.plan.moves[k].to == to;
        if (seen_pair) continue;
        rc = s_move_group(mb, &q.plan, from, to, kind != 'x');
    }
    if (!rc) *moved = q.plan.n;
    vg_cstate_plan_fini(&q.plan);
    return rc;
}

static int s_set_state(vg_member_t *mb, uint32_t node, vg_member_state state)
{
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_raft_result_t res;
    vg_cstate_cmd_set_member_state(&w, node, state);
    int rc = vg__member_propose(mb, &w, &res);
    vg_mpw_fini(&w);
    return rc;
}

/* ---- control requests on worker threads ---------------------------------- */

typedef struct {
    vg_member_t *mb;
    vg_transport_msg_t *msg;
} s_ctl_t;

typedef struct {
    uint32_t id;
    char *addr;
    size_t cap;
} s_addr_q_t;

static void s_addr_read(const vg_cstate_t *st, void *arg)
{
    s_addr_q_t *q = arg;
    vg_cstate_member_t mem;
    if (vg_cstate_member_get(st, q->id, &mem) == 0) snprintf(q->addr, q->cap, "%s", mem.data_addr);
}

/* The leader's id and transport address (0 / "" when unknown). */
void vg__member_leader_info(vg_member_t *mb, uint32_t *id, char *addr, size_t cap)
{
    *id = 0;
    addr[0] = 0;
    if (vg_raft_leader(mb->raft, id, NULL, 0)) return;
    s_addr_q_t q = {*id, addr, cap};
    vg_raft_read(mb->raft, s_addr_read, &q);
}

static void s_join_reply(vg_member_t *mb, const vg_transport_msg_t *req, int code, uint32_t id,
                         const char *text)
{
    char addr[256];
    uint32_t leader;
    vg__member_leader_info(mb, &leader, addr, sizeof addr);
    vg_msg_t m = {.env = vg__member_reply_env(mb, req, VG_MSG_JOIN_REPLY)};
    m.body.join_reply = (vg_body_join_reply_t){code, id, leader, vg_str_c(addr), vg_str_c(text)};
    vg__member_send(mb, req->peer, &m);
}

/* What JOIN needs to know of the ids in use. */
typedef struct {
    uint32_t id;      /* the joiner's id, 0 = none yet */
    const char *data; /* the joiner's data address */
    uint32_t max_id;  /* highest id ever given (removed members included) */
    bool taken;       /* id belongs to a member at another address */
    char taken_by[VG_CSTATE_ADDR_MAX + 1];
} s_idq_t;

static void s_id_read(const vg_cstate_t *st, void *arg)
{
    s_idq_t *q = arg;
    size_t n = vg_cstate_member_count(st);
    for (size_t i = 0; i < n; i++) {
        vg_cstate_member_t m;
        if (vg_cstate_member_at(st, i, &m)) continue;
        if (m.id > q->max_id) q->max_id = m.id;
        if (m.id == q->id && m.state != VG_MEMBER_REMOVED && strcmp(m.data_addr, q->data)) {
            q->taken = true;
            snprintf(q->taken_by, sizeof q->taken_by, "%s", m.data_addr);
        }
    }
}

/* Leader: JOIN with node_id 0 reserves an id (answered at once); with an
 * id: raft configuration, ADD_MEMBER, a minimal move plan, ACTIVE. */
static void s_join(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    vg_msg_t req = {.env = msg->env};
    vg_perr_t err;
    vg_perr_clear(&err);
    if (vg_msg_body_decode(msg->body, msg->body_len, &req, NULL, &err)) {
        s_join_reply(mb, msg, VG_ERR_INVALID, 0, "malformed JOIN");
        return;
    }
    if (!vg_raft_is_leader(mb->raft)) {
        s_join_reply(mb, msg, VG_ERR_NOT_OWNER, 0, "not the leader");
        return;
    }
    vg_body_join_t *j = &req.body.join;
    uint32_t id = j->node_id;
    char data[VG_CSTATE_ADDR_MAX + 1], raft[VG_CSTATE_ADDR_MAX + 1], text[200];
    snprintf(data, sizeof data, "%.*s", (int) j->data_addr.len, j->data_addr.ptr);
    snprintf(raft, sizeof raft, "%.*s", (int) j->raft_addr.len, j->raft_addr.ptr);
    s_idq_t q = {.id = id, .data = data};
    vg_raft_read(mb->raft, s_id_read, &q);
    if (!id) { /* reserve an id: the joiner restarts its transport with it, then joins */
        uint32_t next = q.max_id + 1, last = atomic_load(&mb->last_reserved);
        if (next <= last) next = last + 1;
        atomic_store(&mb->last_reserved, next);
        snprintf(text, sizeof text, "assigned node id %u", next);
        vg_info(S_MOD, "joiner at %s: %s", data, text);
        s_join_reply(mb, msg, 0, next, text);
        return;
    }
    if (q.taken) {
        snprintf(text, sizeof text, "node id %u is taken by the member at %s", id, q.taken_by);
        s_join_reply(mb, msg, VG_ERR_EXISTS, 0, text);
        return;
    }
    vg_raft_result_t res;
    int rc = vg_raft_join(mb->raft, id, raft, S_PROPOSE_MS, &res);
    bool voter = res.voter;
    vg_mpw_t w;
    vg_mpw_init(&w);
    if (!rc) {
        vg_cstate_cmd_add_member(&w, id, data, raft, voter, VG_MEMBER_JOINING);
        rc = vg__member_propose(mb, &w, &res);
    }
    vg_mpw_fini(&w);
    size_t moved = 0;
    if (!rc) rc = s_move(mb, id, 'j', &moved);
    if (!rc) rc = s_set_state(mb, id, VG_MEMBER_ACTIVE);
    if (rc)
        snprintf(text, sizeof text, "join failed: %s", vg_strerror(rc));
    else
        snprintf(text, sizeof text, "joined as %s, %zu shards moved to it",
                 voter ? "voter" : "standby", moved);
    vg_info(S_MOD, "node %u (%s): %s", id, data, text);
    s_join_reply(mb, msg, rc, id, text);
}

/* ---- ADMIN ---------------------------------------------------------------- */

/* A copy of the member list: JSON is built outside the raft read lock,
 * because transport calls must never nest inside it (the transport's I/O
 * thread takes that lock too: a queued raft writer would deadlock us). */
typedef struct {
    size_t n;
    struct {
        vg_cstate_member_t m;
        char data[VG_CSTATE_ADDR_MAX + 1], raft[VG_CSTATE_ADDR_MAX + 1];
    } * v;
    uint64_t map_epoch;
    uint32_t n_shards;
} s_members_t;

static void s_members_read(const vg_cstate_t *st, void *arg)
{
    s_members_t *q = arg;
    q->map_epoch = vg_cstate_map_epoch(st);
    q->n_shards = vg_cstate_n_shards(st);
    q->n = vg_cstate_member_count(st);
    q->v = vg_calloc(q->n ? q->n : 1, sizeof *q->v);
    for (size_t i = 0; i < q->n; i++) {
        vg_cstate_member_at(st, i, &q->v[i].m);
        snprintf(q->v[i].data, sizeof q->v[i].data, "%s", q->v[i].m.data_addr);
        snprintf(q->v[i].raft, sizeof q->v[i].raft, "%s", q->v[i].m.raft_addr);
    }
}

static void s_members_json(vg_member_t *mb, vg_jw_t *w)
{
    s_members_t q = {0};
    vg_raft_read(mb->raft, s_members_read, &q);
    vg_jw_key(w, "members");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < q.n; i++) {
        const vg_cstate_member_t *mem = &q.v[i].m;
        bool self = mem->id == mb->cfg.node_id;
        vg_jw_obj_begin(w);
        vg_jw_kint(w, "id", mem->id);
        vg_jw_kcstr(w, "state", vg_cstate_member_state_name(mem->state));
        vg_jw_kbool(w, "voter", mem->voter);
        vg_jw_kcstr(w, "data_addr", q.v[i].data);
        vg_jw_kcstr(w, "raft_addr", q.v[i].raft);
        vg_jw_kint(w, "shards", mem->n_shards);
        vg_jw_kbool(w, "alive", self || vg_transport_peer_alive(mb->tr, mem->id));
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    vg_jw_kint(w, "map_epoch", (int64_t) q.map_epoch);
    vg_jw_kint(w, "shards", q.n_shards);
    vg_jw_key(w, "warnings");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < q.n; i++) {
        char text[200];
        if (q.v[i].m.state != VG_MEMBER_DOWN) continue;
        snprintf(text, sizeof text,
                 "node %u is down: the state of its users is lost until replication exists",
                 q.v[i].m.id);
        vg_jw_cstr(w, text);
    }
    vg_jw_arr_end(w);
    free(q.v);
}

static void s_status_json(vg_member_t *mb, vg_jw_t *w)
{
    vg_raft_status_t st;
    vg_raft_status(mb->raft, &st);
    char addr[256];
    uint32_t leader;
    vg__member_leader_info(mb, &leader, addr, sizeof addr);
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "node", mb->cfg.node_id);
    vg_jw_kint(w, "leader", leader);
    vg_jw_kcstr(w, "leader_addr", addr);
    vg_jw_kint(w, "term", (int64_t) st.term);
    s_members_json(mb, w);
    if (mb->cfg.status) mb->cfg.status(mb->cfg.status_ctx, w); /* e.g. "kafka" */
    vg_jw_obj_end(w);
}

void vg__member_admin_reply(vg_member_t *mb, const vg_transport_msg_t *req, int code, vg_jw_t *w)
{
    vg_msg_t m = {.env = vg__member_reply_env(mb, req, VG_MSG_ADMIN_REPLY)};
    m.body.admin_reply = (vg_body_admin_reply_t){code, {w->buf ? w->buf : "{}", (uint32_t) w->len}};
    vg__member_send(mb, req->peer, &m);
}

void vg__member_admin_error(vg_member_t *mb, const vg_transport_msg_t *req, int code,
                            const char *text)
{
    vg_jw_t w;
    vg_jw_init(&w);
    char addr[256];
    uint32_t leader;
    vg__member_leader_info(mb, &leader, addr, sizeof addr);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "error", text);
    vg_jw_kint(&w, "leader", leader);
    vg_jw_kcstr(&w, "leader_addr", addr);
    vg_jw_obj_end(&w);
    vg__member_admin_reply(mb, req, code, &w);
    vg_jw_fini(&w);
}

/* drain: DRAINING, move every shard off; remove: the same, then out of raft
 * and the member list. */
static int s_drain_remove(vg_member_t *mb, uint32_t node, bool remove, size_t *moved)
{
    int rc = s_set_state(mb, node, VG_MEMBER_DRAINING);
    if (!rc) rc = s_move(mb, node, 'd', moved);
    if (rc || !remove) return rc;
    vg_raft_result_t res;
    rc = vg_raft_remove(mb->raft, node, S_PROPOSE_MS, &res);
    if (rc == VG_ERR_NOT_FOUND) rc = 0;
    if (!rc) {
        vg_mpw_t w;
        vg_mpw_init(&w);
        vg_cstate_cmd_remove_member(&w, node);
        rc = vg__member_propose(mb, &w, &res);
        vg_mpw_fini(&w);
    }
    return rc;
}

/* {"node": id, "prometheus": "<text exposition>"}: this node's metrics. */
static void s_metrics_json(vg_member_t *mb, vg_jw_t *w)
{
    vg_prom_t p;
    vg_prom_init(&p);
    if (mb->cfg.metrics) {
        mb->cfg.metrics(mb->cfg.metrics_ctx, &p);
    } else {
        vg_engine_metrics(mb->engine, &p);
        vg_member_metrics(mb, &p);
    }
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "node", mb->cfg.node_id);
    vg_jw_key(w, "prometheus");
    vg_jw_str(w, (vg_str_t){p.buf ? p.buf : "", (uint32_t) p.len});
    vg_jw_obj_end(w);
    vg_prom_fini(&p);
}

static void s_admin(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    vg_msg_t req = {.env = msg->env};
    vg_perr_t err;
    vg_perr_clear(&err);
    if (vg_msg_body_decode(msg->body, msg->body_len, &req, NULL, &err)) {
        vg__member_admin_error(mb, msg, err.code, "malformed ADMIN");
        return;
    }
    vg_str_t cmd = req.body.admin.command;
    uint32_t node = req.body.admin.node;
    int code = 0;
    vg_jw_t w;
    vg_jw_init(&w);
    if (vg_str_eq_c(cmd, "status") || vg_str_eq_c(cmd, "nodes")) {
        s_status_json(mb, &w);
        vg__member_admin_reply(mb, msg, 0, &w);
    } else if (vg_str_eq_c(cmd, "drain") || vg_str_eq_c(cmd, "remove")) {
        bool remove = vg_str_eq_c(cmd, "remove");
        size_t moved = 0;
        if (!vg_raft_is_leader(mb->raft)) {
            vg__member_admin_error(mb, msg, VG_ERR_NOT_OWNER,
                                   "not the leader: send this to the leader");
        } else {
            int rc = s_drain_remove(mb, node, remove, &moved);
            if (rc) {
                char text[160];
                snprintf(text, sizeof text, "%s of node %u failed: %s", remove ? "remove" : "drain",
                         node, vg_strerror(rc));
                vg__member_admin_error(mb, msg, rc, text);
            } else {
                vg_jw_obj_begin(&w);
                vg_jw_kint(&w, "node", node);
                vg_jw_kcstr(&w, "state", remove ? "removed" : "draining");
                vg_jw_kint(&w, "moved", (int64_t) moved);
                vg_jw_obj_end(&w);
                vg__member_admin_reply(mb, msg, 0, &w);
            }
        }
    } else if (vg__member_admin_rules(mb, msg, cmd, node, &w) ||
               vg__member_admin_models(mb, msg, cmd, node, &w) ||
               vg__member_admin_kv(mb, msg, cmd, req.body.admin.arg, &w)) {
        /* answered */
    } else if (vg_str_eq_c(cmd, "metrics")) {
        s_metrics_json(mb, &w);
        vg__member_admin_reply(mb, msg, 0, &w);
    } else if (mb->cfg.admin &&
               mb->cfg.admin(mb->cfg.admin_ctx, cmd, req.body.admin.arg, &w, &code)) {
        vg__member_admin_reply(mb, msg, code, &w);
    } else {
        vg__member_admin_error(
            mb, msg, VG_ERR_INVALID,
            "unknown command (status, nodes, metrics, drain, remove, rules.list, "
            "rules.show, rules.stats, rules.rollback, models.list, models.stats, "
            "models.activate, models.rollback, models.shadow, kv.get, kv.list, kv.gens, "
            "kv.put, kv.add, kv.del)");
    }
    vg_jw_fini(&w);
}

/* ANOMALY_QUERY: this node's stored anomalies (the asking gateway merges). */
static void s_anomaly_query(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    vg_msg_t req = {.env = msg->env};
    vg_perr_t err;
    vg_perr_clear(&err);
    if (vg_msg_body_decode(msg->body, msg->body_len, &req, NULL, &err)) {
        char text[300];
        s_reply_error(mb, msg, err.code, vg_perr_str(&err, text, sizeof text));
        return;
    }
    vg_mpw_t records, buckets;
    vg_mpw_init(&records);
    vg_mpw_init(&buckets);
    char next[VG_STORE_CURSOR_MAX + 1];
    int rc =
        vg_anomaly_svc_answer(mb->cfg.store, &req.body.anomaly_query, &records, next, &buckets);
    vg_msg_t m = {.env = vg__member_reply_env(mb, msg, VG_MSG_ANOMALY_REPLY)};
    m.body.anomaly_reply =
        (vg_body_anomaly_reply_t){rc,
                                  {(const char *) records.buf, (uint32_t) records.len},
                                  vg_str_c(next),
                                  {(const char *) buckets.buf, (uint32_t) buckets.len}};
    vg__member_send(mb, msg->peer, &m);
    vg_mpw_fini(&records);
    vg_mpw_fini(&buckets);
}

static void *s_ctl_main(void *arg)
{
    s_ctl_t *c = arg;
    switch (c->msg->env.type) {
    case VG_MSG_JOIN: s_join(c->mb, c->msg); break;
    case VG_MSG_HANDOFF: s_handoff(c->mb, c->msg); break;
    case VG_MSG_HANDOFF_DATA: s_handoff_data(c->mb, c->msg); break;
    case VG_MSG_ANOMALY_QUERY: s_anomaly_query(c->mb, c->msg); break;
    case VG_MSG_BLOB_PUT: vg__member_blob_put(c->mb, c->msg); break;
    case VG_MSG_BLOB_GET: vg__member_blob_get(c->mb, c->msg); break;
    default: s_admin(c->mb, c->msg); break;
    }
    atomic_fetch_sub(&c->mb->workers, 1);
    vg_transport_msg_destroy(&c->msg);
    free(c);
    return NULL;
}

/* Blocking control work leaves the I/O thread for a short-lived thread. */
static void s_spawn_ctl(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    if (atomic_load(&mb->stopping)) return;
    s_ctl_t *c = VG_NEW(s_ctl_t);
    c->mb = mb;
    c->msg = vg_transport_msg_dup(msg);
    atomic_fetch_add(&mb->workers, 1);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, s_ctl_main, c) != 0) {
        atomic_fetch_sub(&mb->workers, 1);
        vg_transport_msg_destroy(&c->msg);
        free(c);
    }
    pthread_attr_destroy(&attr);
}

static void s_on_msg(void *arg, const vg_transport_msg_t *m)
{
    vg_member_t *mb = arg;
    switch (m->env.type) {
    case VG_MSG_TX_BATCH: s_tx_batch(mb, m); break;
    case VG_MSG_MAP_GET: s_map_get(mb, m); break;
    case VG_MSG_JOIN:
    case VG_MSG_HANDOFF:
    case VG_MSG_HANDOFF_DATA:
    case VG_MSG_ANOMALY_QUERY:
    case VG_MSG_BLOB_PUT:
    case VG_MSG_BLOB_GET:
    case VG_MSG_ADMIN: s_spawn_ctl(mb, m); break;
    default: vg_counter_add(&mb->m_bad, 1); break;
    }
}

/* ---- maintenance thread --------------------------------------------------- */

void vg__member_tick_read(const vg_cstate_t *st, void *arg)
{
    vg__member_tick_q_t *q = arg;
    q->has_map = vg_cstate_n_shards(st) > 0;
    q->n = 0;
    q->n_owners = 0;
    for (size_t i = 0; i < vg_cstate_member_count(st) && q->n < 64; i++) {
        vg_cstate_member_t mem;
        vg_cstate_member_at(st, i, &mem);
        if (mem.id == q->mb->cfg.node_id) q->self_member = mem.state != VG_MEMBER_REMOVED;
        q->ids[q->n] = mem.id;
        q->states[q->n] = mem.state;
        q->shards[q->n] = mem.n_shards;
        q->n_owners += mem.n_shards > 0;
        snprintf(q->addrs[q->n++], VG_CSTATE_ADDR_MAX + 1, "%s", mem.data_addr);
    }
}

static void s_connect_members(vg_member_t *mb, const vg__member_tick_q_t *q)
{
    for (size_t i = 0; i < q->n; i++) {
        uint32_t id = q->ids[i];
        if (id == mb->cfg.node_id || q->states[i] == VG_MEMBER_REMOVED) continue;
        size_t k = 0;
        while (k < VG_CSTATE_MAX_MEMBERS && mb->connected[k] && mb->connected_id[k] != id) k++;
        if (k >= VG_CSTATE_MAX_MEMBERS || mb->connected[k]) continue;
        char ep[300];
        snprintf(ep, sizeof ep, "tcp://%s", q->addrs[i]);
        if (vg_transport_connect(mb->tr, id, ep) == 0) {
            mb->connected[k] = true;
            mb->connected_id[k] = id;
        }
    }
}

static void s_bootstrap(vg_member_t *mb)
{
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_raft_result_t res;
    vg_cstate_cmd_add_member(&w, mb->cfg.node_id, mb->listen, mb->raft_addr, true,
                             VG_MEMBER_ACTIVE);
    int rc = vg__member_propose(mb, &w, &res);
    uint32_t self = mb->cfg.node_id; /* every shard starts on the first node */
    vg_mpw_reset(&w);
    vg_cstate_cmd_init_map(&w, mb->cfg.shards, &self, 1);
    if (!rc) rc = vg__member_propose(mb, &w, &res);
    vg_mpw_fini(&w);
    if (!rc)
        vg_info(S_MOD, "bootstrapped the cluster: %u shards on node %u", mb->cfg.shards,
                mb->cfg.node_id);
}

/* Leader, own thread: a member that came back gets its share of shards
 * again (the join plan: about S/N, taken from the most loaded, with
 * hand-off, so its users' state moves with them). */
typedef struct {
    vg_member_t *mb;
    uint32_t id;
} s_rebalance_t;

static void *s_rebalance_main(void *arg)
{
    s_rebalance_t *r = arg;
    vg_member_t *mb = r->mb;
    size_t moved = 0;
    int rc = vg_raft_is_leader(mb->raft) ? s_move(mb, r->id, 'j', &moved) : 0;
    if (rc)
        vg_warn(S_MOD, "node %u is back, giving it shards failed: %s (next tick retries)", r->id,
                vg_strerror(rc));
    else
        vg_info(S_MOD, "node %u is back: %zu shards moved to it", r->id, moved);
    atomic_store(&mb->rebalancing, false);
    atomic_fetch_sub(&mb->workers, 1);
    free(r);
    return NULL;
}

static void s_rebalance_start(vg_member_t *mb, uint32_t id)
{
    bool idle = false;
    if (atomic_load(&mb->stopping) ||
        !atomic_compare_exchange_strong(&mb->rebalancing, &idle, true))
        return;
    s_rebalance_t *r = VG_NEW(s_rebalance_t);
    *r = (s_rebalance_t){mb, id};
    atomic_fetch_add(&mb->workers, 1);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, s_rebalance_main, r) != 0) {
        atomic_fetch_sub(&mb->workers, 1);
        atomic_store(&mb->rebalancing, false);
        free(r);
    }
    pthread_attr_destroy(&attr);
}

/* Leader: a member silent past dead_after_ms is DOWN, its shards move; a
 * DOWN member heard from again is ACTIVE and is given shards back; an
 * ACTIVE member owning none while others own many (a rebalance that
 * failed) is retried. */
static void s_failover(vg_member_t *mb, const vg__member_tick_q_t *q)
{
    for (size_t i = 0; i < q->n; i++) {
        uint32_t id = q->ids[i];
        vg_transport_peer_info_t info;
        if (id == mb->cfg.node_id || vg_transport_peer_info(mb->tr, id, &info)) continue;
        if (q->states[i] == VG_MEMBER_DOWN && info.state == VG_TRANSPORT_PEER_UP) {
            if (s_set_state(mb, id, VG_MEMBER_ACTIVE) == 0) {
                vg_info(S_MOD, "node %u answers again: active, rebalancing", id);
                s_rebalance_start(mb, id);
            }
            continue;
        }
        if (q->states[i] == VG_MEMBER_ACTIVE && info.state == VG_TRANSPORT_PEER_UP &&
            q->shards[i] == 0 && q->n_owners > 0) {
            s_rebalance_start(mb, id);
            continue;
        }
        if (q->states[i] != VG_MEMBER_ACTIVE || info.state != VG_TRANSPORT_PEER_DOWN) continue;
        size_t moved = 0;
        int rc = s_set_state(mb, id, VG_MEMBER_DOWN);
        if (!rc) rc = s_move(mb, id, 'x', &moved);
        vg_counter_add(&mb->m_failovers, 1);
        vg_warn(S_MOD, "node %u stopped answering: marked down, %zu shards reassigned (%s)", id,
                moved, rc ? vg_strerror(rc) : "ok");
    }
}

/* A shard frozen for a hand-off the leader never completed (it failed or
 * died before its ASSIGN) must not stay unavailable: still ours after 30 s,
 * it is served again. */
#define S_FREEZE_MAX_MS 30000

typedef struct {
    vg_member_t *mb;
    int64_t now_ms;
    uint32_t released;
} s_thaw_q_t;

static void s_thaw_read(const vg_cstate_t *st, void *arg)
{
    s_thaw_q_t *q = arg;
    vg_member_t *mb = q->mb;
    for (uint32_t sh = 0; sh < mb->cfg.shards && sh < vg_cstate_n_shards(st); sh++) {
        if (!atomic_load(&mb->frozen[sh]) ||
            q->now_ms - atomic_load(&mb->frozen_at[sh]) < S_FREEZE_MAX_MS)
            continue;
        uint32_t owner;
        uint64_t epoch;
        if (vg_cstate_shard(st, sh, &owner, &epoch) == 0 && owner == mb->cfg.node_id) {
            atomic_store(&mb->frozen[sh], 0);
            q->released++;
        }
    }
}

static void s_thaw(vg_member_t *mb)
{
    s_thaw_q_t q = {mb, (int64_t) (vg_now_ns() / 1000000), 0};
    vg_raft_read(mb->raft, s_thaw_read, &q);
    if (q.released)
        vg_warn(S_MOD, "%u shards frozen for a hand-off that never completed: serving them again",
                q.released);
}

static void *s_tick_main(void *arg)
{
    vg_member_t *mb = arg;
    while (!atomic_load(&mb->stopping)) {
        vg__member_tick_q_t q = {.mb = mb};
        vg_raft_read(mb->raft, vg__member_tick_read, &q);
        s_connect_members(mb, &q);
        s_thaw(mb);
        if (vg_raft_is_leader(mb->raft)) {
            if (!q.has_map)
                s_bootstrap(mb);
            else
                s_failover(mb, &q);
        }
        atomic_store(&mb->ready, q.has_map && q.self_member);
        usleep(S_TICK_MS * 1000);
    }
    return NULL;
}

/* ---- joining ---------------------------------------------------------------- */

#define S_SEED_ID 0x7fffffffu /* provisional peer id of an address we were given */

/* Sends JOIN to addr; on NOT_OWNER follows the leader. Returns 0 when in. */
/* One JOIN(node_id) over tr to addr; *assigned gets the reply's node_id. */
static int s_join_once(vg_member_t *mb, vg_transport_t *tr, uint32_t node_id, const char *addr,
                       char *leader_addr, size_t cap, uint32_t *assigned)
{
    char ep[300];
    snprintf(ep, sizeof ep, "tcp://%s", addr);
    vg_transport_disconnect(tr, S_SEED_ID);
    int rc = vg_transport_connect(tr, S_SEED_ID, ep);
    if (rc) return rc;
    vg_msg_t m = {.env = {.version = VG_PROTO_VERSION, .type = VG_MSG_JOIN, .src = node_id}};
    m.body.join = (vg_body_join_t){node_id, vg_str_c(mb->listen), vg_str_c(mb->raft_addr)};
    vg_mpw_t body;
    vg_mpw_init(&body);
    vg_msg_body_encode(&m, &body);
    vg_transport_msg_t *reply = NULL;
    rc = vg_transport_request(tr, S_SEED_ID, &m.env, body.buf, body.len, 15000, &reply);
    vg_mpw_fini(&body);
    vg_transport_disconnect(tr, S_SEED_ID);
    if (rc) return rc;
    vg_msg_t r = {.env = reply->env};
    vg_perr_t err;
    vg_perr_clear(&err);
    rc = reply->env.type != VG_MSG_JOIN_REPLY
             ? VG_ERR_PROTO
             : vg_msg_body_decode(reply->body, reply->body_len, &r, NULL, &err);
    if (!rc) {
        rc = r.body.join_reply.code;
        *assigned = r.body.join_reply.node_id;
        snprintf(leader_addr, cap, "%.*s", (int) r.body.join_reply.leader_addr.len,
                 r.body.join_reply.leader_addr.ptr);
        vg_info(S_MOD, "join via %s: %.*s", addr, (int) r.body.join_reply.message.len,
                r.body.join_reply.message.ptr);
    }
    vg_transport_msg_destroy(&reply);
    return rc;
}

/* SIGINT/SIGTERM are blocked (vg_signals_block): a pending one means the
 * operator gave up waiting for the join. */
static bool s_signal_pending(void)
{
    sigset_t set;
    return sigpending(&set) == 0 && (sigismember(&set, SIGINT) || sigismember(&set, SIGTERM));
}

/* JOIN(node_id) through tr, following redirects to the leader and
 * retrying for about 30 s; *assigned as s_join_once. */
static int s_join_loop(vg_member_t *mb, vg_transport_t *tr, uint32_t node_id, uint32_t *assigned)
{
    char target[256], leader[256];
    snprintf(target, sizeof target, "%s", mb->join);
    for (int attempt = 0; attempt < 60 && !atomic_load(&mb->stopping) && !s_signal_pending();
         attempt++) {
        leader[0] = 0;
        int rc = s_join_once(mb, tr, node_id, target, leader, sizeof leader, assigned);
        if (!rc) return 0;
        if (rc == VG_ERR_NOT_OWNER && leader[0]) {
            snprintf(target, sizeof target, "%s", leader); /* ask the leader */
            continue;
        }
        if (rc == VG_ERR_EXISTS || rc == VG_ERR_INVALID) return rc; /* retrying will not help */
        vg_warn(S_MOD, "join via %s: %s; retrying", target, vg_strerror(rc));
        snprintf(target, sizeof target, "%s", mb->join);
        usleep(500 * 1000);
    }
    return VG_ERR_TIMEOUT;
}

static int s_join_cluster(vg_member_t *mb)
{
    uint32_t assigned = 0;
    return s_join_loop(mb, mb->tr, mb->cfg.node_id, &assigned);
}

/* ---- node id: given, remembered in <data_dir>/node_id, or assigned ------- */

static void s_id_path(const vg_member_t *mb, char *out, size_t cap)
{
    snprintf(out, cap, "%s/node_id", mb->data_dir);
}

/* The id remembered in the data dir, 0 if none. */
static uint32_t s_id_load(const vg_member_t *mb)
{
    char path[600];
    s_id_path(mb, path, sizeof path);
    FILE *f = fopen(path, "r");
    unsigned long v = 0;
    if (f && fscanf(f, "%lu", &v) != 1) v = 0;
    if (f) fclose(f);
    return v <= UINT32_MAX ? (uint32_t) v : 0;
}

static int s_id_save(const vg_member_t *mb, uint32_t id)
{
    char path[600], tmp[610];
    s_id_path(mb, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return VG_ERR_IO;
    int ok = fprintf(f, "%u\n", id) > 0;
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? 0 : VG_ERR_IO;
}

/* Settles mb->cfg.node_id: the configured one (it must match a remembered
 * one), else the remembered one, else 1 for a bootstrap, else one the
 * leader assigns (JOIN with node_id 0 over a temporary client transport).
 * The result is remembered in the data dir. */
static int s_settle_id(vg_member_t *mb, char *errbuf, size_t errlen)
{
    uint32_t known = s_id_load(mb), id = mb->cfg.node_id;
    if (id && known && id != known) {
        snprintf(errbuf, errlen, "--node-id %u, but %s belongs to node %u", id, mb->data_dir,
                 known);
        return VG_ERR_INVALID;
    }
    if (!id) id = known;
    if (!id && !mb->join[0]) id = 1;
    if (!id) {
        vg_transport_t *tmp = NULL;
        vg_transport_config_t tc = {.self_id = vg_transport_random_client_id()};
        int rc = vg_transport_new(&tc, &tmp);
        if (!rc) rc = s_join_loop(mb, tmp, 0, &id);
        vg_transport_destroy(&tmp);
        if (!rc && !id) rc = VG_ERR_PROTO;
        if (rc) {
            snprintf(errbuf, errlen, "no node id assigned via %s: %s", mb->join, vg_strerror(rc));
            return rc;
        }
    }
    if (id != known && s_id_save(mb, id)) {
        snprintf(errbuf, errlen, "cannot write %s/node_id", mb->data_dir);
        return VG_ERR_IO;
    }
    mb->cfg.node_id = id;
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------- */

static void s_default_raft_addr(const char *listen, char *out, size_t cap)
{
    const char *colon = strrchr(listen, ':');
    int port = colon ? atoi(colon + 1) : 0;
    snprintf(out, cap, "%.*s:%d", colon ? (int) (colon - listen) : 0, listen, port + 1000);
}

int vg_member_start(const vg_member_config_t *cfg, vg_engine_t *engine, vg_member_t **out,
                    char *errbuf, size_t errlen)
{
    if (!cfg->listen || !strchr(cfg->listen, ':')) {
        snprintf(errbuf, errlen, "cluster mode needs --listen host:port");
        return VG_ERR_INVALID;
    }
    vg_member_t *mb = VG_NEW(vg_member_t);
    mb->cfg = *cfg;
    mb->engine = engine;
    snprintf(mb->listen, sizeof mb->listen, "%s", cfg->listen);
    if (cfg->raft && cfg->raft[0])
        snprintf(mb->raft_addr, sizeof mb->raft_addr, "%s", cfg->raft);
    else
        s_default_raft_addr(cfg->listen, mb->raft_addr, sizeof mb->raft_addr);
    snprintf(mb->join, sizeof mb->join, "%s", cfg->join ? cfg->join : "");
    snprintf(mb->data_dir, sizeof mb->data_dir, "%s", cfg->data_dir);
    mb->cfg.listen = mb->listen, mb->cfg.raft = mb->raft_addr, mb->cfg.join = mb->join;
    mb->cfg.data_dir = mb->data_dir;
    mb->state = vg_cstate_new();
    pthread_mutex_init(&mb->push_mu, NULL);
    mb->frozen = vg_calloc(cfg->shards, sizeof *mb->frozen);
    mb->inflight = vg_calloc(cfg->shards, sizeof *mb->inflight);
    mb->frozen_at = vg_calloc(cfg->shards, sizeof *mb->frozen_at);
    vg_hist_init(&mb->m_handoff, vg_hist_latency_bounds, vg_hist_latency_n);
    int rc = s_settle_id(mb, errbuf, errlen);
    if (rc) goto fail;
    cfg = &mb->cfg;
    char bind[160];
    snprintf(bind, sizeof bind, "tcp://%s", mb->listen);
    vg_transport_config_t tc = {.self_id = cfg->node_id,
                                .bind = bind,
                                .heartbeat_ms = cfg->heartbeat_ms,
                                .dead_after_ms = cfg->dead_after_ms ? cfg->dead_after_ms : 2500,
                                .on_msg = s_on_msg,
                                .arg = mb};
    rc = vg_transport_new(&tc, &mb->tr);
    if (rc) {
        snprintf(errbuf, errlen, "cannot listen on %s: %s", mb->listen, vg_strerror(rc));
        goto fail;
    }
    /* a node with raft state is already a member: raft reconnects it */
    char raft_dir[600];
    snprintf(raft_dir, sizeof raft_dir, "%s/raft", mb->data_dir);
    struct stat sb;
    bool member_before = stat(raft_dir, &sb) == 0 && S_ISDIR(sb.st_mode);
    vg_raft_config_t rcfg = {.node_id = cfg->node_id,
                             .raft_addr = mb->raft_addr,
                             .data_dir = mb->data_dir,
                             .bootstrap = !mb->join[0]};
    if ((rc = vg_raft_new(&rcfg, mb->state, &mb->raft)) || (rc = vg_raft_start(mb->raft))) {
        snprintf(errbuf, errlen, "raft on %s: %s", mb->raft_addr, vg_strerror(rc));
        goto fail;
    }
    /* join before the maintenance thread dials members: our seed connection
     * and a member connection to the same node would share a routing id */
    if (mb->join[0] && !member_before && (rc = s_join_cluster(mb))) {
        snprintf(errbuf, errlen, "could not join the cluster via %s: %s", mb->join,
                 vg_strerror(rc));
        vg_member_stop(&mb);
        return rc;
    }
    if (member_before && mb->join[0])
        vg_info(S_MOD, "already a member (raft state in %s): --join ignored", raft_dir);
    mb->rules_started = pthread_create(&mb->rules_thread, NULL, vg__member_rules_main, mb) == 0;
    if (pthread_create(&mb->tick, NULL, s_tick_main, mb) == 0) {
        mb->tick_started = true;
    } else {
        rc = VG_ERR_INTERNAL;
        snprintf(errbuf, errlen, "cannot start the maintenance thread");
        goto fail;
    }
    vg_info(S_MOD, "node %u: transport %s, raft %s", cfg->node_id, mb->listen, mb->raft_addr);
    *out = mb;
    return 0;
fail:
    vg_raft_destroy(&mb->raft);
    vg_transport_destroy(&mb->tr);
    vg_cstate_destroy(&mb->state);
    free(mb->frozen);
    free(mb->inflight);
    free(mb->frozen_at);
    free(mb);
    return rc ? rc : VG_ERR_INTERNAL;
}

uint32_t vg_member_node_id(vg_member_t *m)
{
    return m->cfg.node_id;
}

bool vg_member_ready(vg_member_t *m)
{
    return m && atomic_load(&m->ready);
}

void vg_member_metrics(vg_member_t *m, vg_prom_t *p)
{
    vg_prom_header(p, "vigil_cluster_batches_total", "counter", "TX_BATCH messages accepted.");
    vg_prom_sample(p, "vigil_cluster_batches_total", NULL, (double) vg_counter_get(&m->m_batches));
    vg_prom_header(p, "vigil_cluster_not_owner_total", "counter", "TX_BATCH answered NOT_OWNER.");
    vg_prom_sample(p, "vigil_cluster_not_owner_total", NULL,
                   (double) vg_counter_get(&m->m_not_owner));
    vg_prom_header(p, "vigil_cluster_failovers_total", "counter",
                   "Members marked down by this leader.");
    vg_prom_sample(p, "vigil_cluster_failovers_total", NULL,
                   (double) vg_counter_get(&m->m_failovers));
    vg_prom_header(p, "vigil_cluster_leader", "gauge", "1 on the raft leader.");
    vg_prom_sample(p, "vigil_cluster_leader", NULL, vg_raft_is_leader(m->raft) ? 1 : 0);
    vg_prom_hist(p, "vigil_cluster_handoff_seconds",
                 "Leader: time to move a group of shards (freeze, stream, ASSIGN).", &m->m_handoff);
    vg_transport_metrics(m->tr, p);
}

void vg_member_stop(vg_member_t **m_p)
{
    vg_member_t *mb = *m_p;
    if (!mb) return;
    atomic_store(&mb->stopping, true);
    if (mb->tick_started) pthread_join(mb->tick, NULL);
    if (mb->rules_started) pthread_join(mb->rules_thread, NULL);
    for (int i = 0; i < 200 && atomic_load(&mb->workers) > 0; i++) usleep(25000);
    vg_raft_destroy(&mb->raft);
    vg_transport_destroy(&mb->tr); /* in-flight batches: replies after this are dropped */
    vg_cstate_destroy(&mb->state);
    free(mb->frozen);
    free(mb->inflight);
    free(mb->frozen_at);
    free(mb);
    *m_p = NULL;
}
