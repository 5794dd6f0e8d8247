/* test_transport.c: the ZeroMQ transport over real tcp sockets on
 * 127.0.0.1 (ephemeral ports): heartbeats, request/reply, ordering,
 * backpressure, unreachable peers, malformed frames from a raw DEALER,
 * failure detection and recovery, timeouts, metrics and shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proto_samples.h"
#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"
#include "vg_transport.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h> /* the raw DEALER that sends malformed frames */

#ifdef VG_SANITIZED
#define SLOW 3
#else
#define SLOW 1
#endif

/* Polls expr every 1 ms until it holds or ms pass, then asserts it. */
#define WAIT_FOR(expr, ms)                                             \
    do {                                                               \
        uint64_t dl_ = vg_now_ns() + (uint64_t) (ms) *SLOW * 1000000u; \
        while (!(expr) && vg_now_ns() < dl_) usleep(1000);             \
        assert_true(expr);                                             \
    } while (0)

/* cmocka asserts must not run on the I/O thread: callbacks count failures. */
static atomic_int g_cb_errors;
#define CB_CHECK(expr)                                                               \
    do {                                                                             \
        if (!(expr)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
            atomic_fetch_add(&g_cb_errors, 1);                                       \
        }                                                                            \
    } while (0)

/* Failure detection tests use dead_after 400 ms; the others 2 s, so that
 * a loaded machine never turns a slow moment into a DOWN. */
#define FAST_DEAD 400

static double s_ms_since(uint64_t t0)
{
    return (double) (vg_now_ns() - t0) / 1e6;
}

/* ---- a node under test: a transport plus what its callbacks saw ---- */

enum { MODE_COUNT, MODE_ECHO, MODE_SEQ, MODE_STALL, MODE_KEEP, MODE_REQ_IN_CB, MODE_SLOW };

typedef struct {
    uint32_t peer;
    bool up;
    uint64_t at_ns;
} ev_t;

typedef struct {
    uint32_t peer;
    uint64_t corr;
    int err;
} undel_t;

typedef struct {
    vg_transport_t *t;
    int mode;
    atomic_int n_msgs;
    atomic_int n_type[256];
    atomic_ullong next_seq; /* MODE_SEQ: the corr expected next */
    atomic_int stall;       /* MODE_STALL: on_msg blocks while set */
    atomic_int stalled;     /* MODE_STALL: on_msg is blocking */
    pthread_mutex_t mu;     /* guards the logs */
    ev_t ev[64];
    int n_ev;
    undel_t undel[256];
    int n_undel;
    vg_transport_msg_t *kept; /* MODE_KEEP: the last message */
    int cb_request_err;       /* MODE_REQ_IN_CB */
} node_t;

static void s_echo_verdicts(node_t *n, const vg_transport_msg_t *m)
{
    vg_msg_t req = {.env = m->env};
    vg_arena_t arena = VG_ARENA_INIT;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    int err = vg_msg_body_decode(m->body, m->body_len, &req, &arena, &perr);
    CB_CHECK(err == 0);
    if (!err) {
        uint32_t k = req.body.tx_batch.txs.n;
        vg_verdict_t *vs = calloc(k ? k : 1, sizeof *vs);
        for (uint32_t i = 0; i < k; i++) {
            vs[i].id = req.body.tx_batch.txs.items[i].id;
            vs[i].score = 0.25;
        }
        vg_msg_t rep = {.env = m->env}; /* same corr: that is the reply */
        rep.env.type = VG_MSG_VERDICT_BATCH;
        rep.env.src = vg_transport_id(n->t);
        rep.body.verdict_batch.verdicts = (vg_verdict_list_t){k, vs};
        CB_CHECK(vg_transport_send_msg(n->t, m->peer, &rep) == 0);
        free(vs);
    }
    vg_arena_fini(&arena);
}

static void s_on_msg(void *arg, const vg_transport_msg_t *m)
{
    node_t *n = arg;
    atomic_fetch_add(&n->n_msgs, 1);
    atomic_fetch_add(&n->n_type[m->env.type], 1);
    switch (n->mode) {
    case MODE_ECHO:
        if (m->env.type == VG_MSG_TX_BATCH) s_echo_verdicts(n, m);
        break;
    case MODE_SEQ: {
        unsigned long long want = atomic_fetch_add(&n->next_seq, 1);
        CB_CHECK(m->env.corr == want);
        break;
    }
    case MODE_STALL:
        atomic_store(&n->stalled, 1);
        while (atomic_load(&n->stall)) usleep(1000);
        atomic_store(&n->stalled, 0);
        break;
    case MODE_SLOW: usleep(1000); break;
    case MODE_KEEP:
        pthread_mutex_lock(&n->mu);
        vg_transport_msg_destroy(&n->kept);
        n->kept = vg_transport_msg_dup(m);
        pthread_mutex_unlock(&n->mu);
        break;
    case MODE_REQ_IN_CB: {
        vg_transport_msg_t *r = NULL;
        n->cb_request_err =
            vg_transport_request(n->t, m->peer, &m->env, m->body, m->body_len, 100, &r);
        CB_CHECK(r == NULL);
        break;
    }
    default: break;
    }
}

static void s_on_peer(void *arg, uint32_t peer, bool up)
{
    node_t *n = arg;
    pthread_mutex_lock(&n->mu);
    if (n->n_ev < (int) VG_ARRAY_LEN(n->ev)) n->ev[n->n_ev++] = (ev_t){peer, up, vg_now_ns()};
    pthread_mutex_unlock(&n->mu);
}

static void s_on_undeliverable(void *arg, const vg_transport_msg_t *m, int err)
{
    node_t *n = arg;
    pthread_mutex_lock(&n->mu);
    if (n->n_undel < (int) VG_ARRAY_LEN(n->undel))
        n->undel[n->n_undel++] = (undel_t){m->peer, m->env.corr, err};
    pthread_mutex_unlock(&n->mu);
}

static int s_n_ev(node_t *n)
{
    pthread_mutex_lock(&n->mu);
    int k = n->n_ev;
    pthread_mutex_unlock(&n->mu);
    return k;
}

static int s_n_undel(node_t *n)
{
    pthread_mutex_lock(&n->mu);
    int k = n->n_undel;
    pthread_mutex_unlock(&n->mu);
    return k;
}

static vg_transport_stats_t s_stats(vg_transport_t *t)
{
    vg_transport_stats_t s;
    vg_transport_stats(t, &s);
    return s;
}

static bool s_has_kept(node_t *n)
{
    pthread_mutex_lock(&n->mu);
    bool k = n->kept != NULL;
    pthread_mutex_unlock(&n->mu);
    return k;
}

static vg_transport_config_t s_cfg(node_t *n, uint32_t id, const char *bind)
{
    return (vg_transport_config_t){.self_id = id,
                                   .bind = bind,
                                   .heartbeat_ms = 50,
                                   .dead_after_ms = FAST_DEAD,
                                   .on_msg = s_on_msg,
                                   .on_peer = s_on_peer,
                                   .on_undeliverable = s_on_undeliverable,
                                   .arg = n};
}

static void s_node_init(node_t *n, int mode)
{
    memset(n, 0, sizeof *n);
    pthread_mutex_init(&n->mu, NULL);
    n->mode = mode;
}

static void s_node_start(node_t *n, const vg_transport_config_t *cfg)
{
    assert_int_equal(vg_transport_new(cfg, &n->t), 0);
    assert_non_null(n->t);
}

/* A node on an ephemeral port, heartbeat 50 ms, down after dead_ms. */
static void s_node_dead(node_t *n, uint32_t id, int mode, uint32_t dead_ms)
{
    s_node_init(n, mode);
    vg_transport_config_t cfg = s_cfg(n, id, "tcp://127.0.0.1:*");
    cfg.dead_after_ms = dead_ms;
    s_node_start(n, &cfg);
}

static void s_node(node_t *n, uint32_t id, int mode)
{
    s_node_dead(n, id, mode, 2000);
}

static void s_node_fini(node_t *n)
{
    vg_transport_destroy(&n->t);
    assert_null(n->t);
    vg_transport_msg_destroy(&n->kept);
    pthread_mutex_destroy(&n->mu);
}

/* Connects a to b and waits until each sees the other up. */
static void s_link(node_t *a, node_t *b)
{
    uint32_t bid = vg_transport_id(b->t), aid = vg_transport_id(a->t);
    assert_int_equal(vg_transport_connect(a->t, bid, vg_transport_endpoint(b->t)), 0);
    assert_int_equal(vg_transport_wait_up(a->t, bid, 3000 * SLOW), 0);
    assert_int_equal(vg_transport_wait_up(b->t, aid, 3000 * SLOW), 0);
}

/* An endpoint on which nothing listens (a port just released). */
static void s_dead_endpoint(char *buf, size_t size)
{
    node_t tmp;
    s_node(&tmp, 999, MODE_COUNT); /* bound, then destroyed: the port is free */
    snprintf(buf, size, "%s", vg_transport_endpoint(tmp.t));
    s_node_fini(&tmp);
}

static vg_env_t s_env(int type, uint64_t corr)
{
    return (vg_env_t){
        .version = VG_PROTO_VERSION, .type = (uint8_t) type, .corr = corr, .shard = 17, .epoch = 3};
}

/* A TX_BATCH body with n transactions whose ids are "<prefix>-<i>". */
static void s_tx_batch(vg_mpw_t *w, const char *prefix, int n, char (*ids)[32])
{
    vg_tx_t *txs = calloc((size_t) n, sizeof *txs);
    for (int i = 0; i < n; i++) {
        sample_tx_full(&txs[i]);
        snprintf(ids[i], 32, "%s-%d", prefix, i);
        txs[i].id = vg_str_c(ids[i]);
    }
    vg_msg_t m = {.env = s_env(VG_MSG_TX_BATCH, 0)};
    m.body.tx_batch.txs = (vg_tx_list_t){(uint32_t) n, txs};
    vg_mpw_reset(w);
    assert_int_equal(vg_msg_body_encode(&m, w), 0);
    free(txs);
}

/* Decodes a VERDICT_BATCH reply and checks its ids against ids. */
static void s_check_verdicts(const vg_transport_msg_t *r, char (*ids)[32], int n)
{
    assert_int_equal(r->env.type, VG_MSG_VERDICT_BATCH);
    vg_msg_t v = {.env = r->env};
    vg_arena_t arena = VG_ARENA_INIT;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    assert_int_equal(vg_msg_body_decode(r->body, r->body_len, &v, &arena, &perr), 0);
    assert_int_equal(v.body.verdict_batch.verdicts.n, n);
    for (int i = 0; i < n; i++)
        assert_true(vg_str_eq_c(v.body.verdict_batch.verdicts.items[i].id, ids[i]));
    vg_arena_fini(&arena);
}

/* Nodes 1 (mode ma) and 2 (mode mb), 1 connected to 2, both up. */
static void s_pair(node_t *a, int ma, node_t *b, int mb, uint32_t dead_ms)
{
    s_node_dead(a, 1, ma, dead_ms);
    s_node_dead(b, 2, mb, dead_ms);
    s_link(a, b);
}

/* Requests a TX_BATCH of n transactions "<prefix>-<i>" from peer and
 * checks the VERDICT_BATCH reply; returns the reply's corr. */
static uint64_t s_roundtrip(vg_transport_t *t, uint32_t peer, const char *prefix, int n)
{
    char ids[4][32];
    assert_true(n <= 4);
    vg_mpw_t w;
    vg_mpw_init(&w);
    s_tx_batch(&w, prefix, n, ids);
    vg_env_t env = s_env(VG_MSG_TX_BATCH, 0);
    vg_transport_msg_t *r = NULL;
    assert_int_equal(vg_transport_request(t, peer, &env, w.buf, w.len, 2000 * SLOW, &r), 0);
    s_check_verdicts(r, ids, n);
    uint64_t corr = r->env.corr;
    vg_transport_msg_destroy(&r);
    vg_mpw_fini(&w);
    return corr;
}

/* ---- heartbeats ---- */

static void test_ping_pong(void **unused)
{
    node_t a, b;
    s_pair(&a, MODE_COUNT, &b, MODE_COUNT, 2000);
    WAIT_FOR(s_stats(a.t).pongs_recv >= 2, 2000);
    /* b counts a PONG after sending it: a may see it first */
    WAIT_FOR(s_stats(b.t).pings_recv >= 2 && s_stats(b.t).pongs_sent >= 2, 1000);
    vg_transport_stats_t sa, sb;
    vg_transport_stats(a.t, &sa);
    vg_transport_stats(b.t, &sb);
    assert_true(sa.pings_sent >= 2);
    assert_true(sb.pings_recv >= 2 && sb.pongs_sent >= 2);
    WAIT_FOR(s_stats(b.t).pongs_recv >= 1, 1000); /* b pings a through its ROUTER */
    assert_int_equal(sa.peers_up, 1);
    assert_int_equal(sb.peers_up, 1);
    assert_int_equal(sa.malformed + sb.malformed, 0);
    assert_int_equal(atomic_load(&a.n_msgs) + atomic_load(&b.n_msgs), 0); /* consumed */

    vg_transport_peer_info_t pi;
    assert_int_equal(vg_transport_peer_info(a.t, 2, &pi), 0);
    assert_int_equal(pi.state, VG_TRANSPORT_PEER_UP);
    assert_true(pi.outgoing && !pi.inbound);
    assert_true(pi.rtt_us > 0);
    assert_true(pi.last_seen_ms >= 0 && pi.last_seen_ms < 400);
    assert_int_equal(vg_transport_peer_info(b.t, 1, &pi), 0);
    assert_true(pi.inbound && !pi.outgoing);
    assert_true(pi.rtt_us > 0);
    assert_true(vg_transport_peer_alive(b.t, 1));
    assert_int_equal(vg_transport_peer_info(a.t, 77, &pi), VG_ERR_NOT_FOUND);
    assert_int_equal(pi.state, VG_TRANSPORT_PEER_UNKNOWN);

    /* one UP event each, no flapping */
    usleep(300 * 1000);
    assert_int_equal(s_n_ev(&a), 1);
    assert_true(a.ev[0].peer == 2 && a.ev[0].up);
    assert_int_equal(s_n_ev(&b), 1);
    assert_true(b.ev[0].peer == 1 && b.ev[0].up);
    s_node_fini(&a);
    s_node_fini(&b);
}

/* ---- request/reply ---- */

typedef struct {
    vg_transport_t *t;
    uint32_t peer;
    int thread, rounds, ok;
} req_thread_t;

static void *s_req_thread(void *arg)
{
    req_thread_t *rt = arg;
    vg_mpw_t w;
    vg_mpw_init(&w);
    char ids[3][32], prefix[16];
    for (int i = 0; i < rt->rounds; i++) {
        snprintf(prefix, sizeof prefix, "t%d.%d", rt->thread, i);
        s_tx_batch(&w, prefix, 3, ids);
        vg_env_t env = s_env(VG_MSG_TX_BATCH, 0);
        vg_transport_msg_t *r = NULL;
        if (vg_transport_request(rt->t, rt->peer, &env, w.buf, w.len, 5000 * SLOW, &r) == 0) {
            vg_msg_t v = {.env = r->env};
            vg_arena_t arena = VG_ARENA_INIT;
            if (vg_msg_body_decode(r->body, r->body_len, &v, &arena, NULL) == 0 &&
                v.body.verdict_batch.verdicts.n == 3 &&
                vg_str_eq_c(v.body.verdict_batch.verdicts.items[2].id, ids[2]))
                rt->ok++;
            vg_arena_fini(&arena);
            vg_transport_msg_destroy(&r);
        }
    }
    vg_mpw_fini(&w);
    return NULL;
}

static void test_request_reply(void **unused)
{
    node_t a, b;
    /* a has a DEALER to b; b reaches a through its ROUTER */
    s_pair(&a, MODE_ECHO, &b, MODE_ECHO, 2000);

    /* a -> b over a's DEALER: the proto sample batch */
    vg_msg_t sm;
    vg_tx_t txs[2];
    vg_verdict_t vs[2];
    sample_msg(4, &sm, txs, vs);
    vg_mpw_t w;
    vg_mpw_init(&w);
    assert_int_equal(vg_msg_body_encode(&sm, &w), 0);
    vg_transport_msg_t *r = NULL;
    assert_int_equal(vg_transport_request(a.t, 2, &sm.env, w.buf, w.len, 2000 * SLOW, &r), 0);
    assert_non_null(r);
    assert_int_equal(r->peer, 2);
    assert_true(r->env.corr & VG_TRANSPORT_CORR_REQ);
    assert_int_equal((uint32_t) (r->env.corr >> 31), 1); /* a's id: a's request */
    assert_int_equal(r->env.src, 2);
    assert_int_equal(r->env.shard, 17);
    char ids[2][32] = {"tx-1", "tx-2"};
    s_check_verdicts(r, ids, 2);
    vg_transport_msg_destroy(&r);
    assert_null(r);

    /* b -> a over b's ROUTER (b never connected to a) */
    assert_int_equal((uint32_t) (s_roundtrip(b.t, 1, "back", 3) >> 31), 2);

    /* concurrent requests from 4 threads: every reply finds its caller */
    req_thread_t rt[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        rt[i] = (req_thread_t){.t = a.t, .peer = 2, .thread = i, .rounds = 100};
        pthread_create(&th[i], NULL, s_req_thread, &rt[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(rt[i].ok, 100);
    }
    /* replies were consumed by the waiters, never handed to on_msg */
    assert_int_equal(atomic_load(&a.n_type[VG_MSG_VERDICT_BATCH]), 0);
    assert_int_equal(atomic_load(&b.n_type[VG_MSG_VERDICT_BATCH]), 0);
    assert_int_equal(atomic_load(&b.n_type[VG_MSG_TX_BATCH]), 401);
    vg_transport_stats_t s;
    vg_transport_stats(a.t, &s);
    assert_int_equal(s.requests, 401);
    assert_int_equal(s.late_replies + s.request_timeouts + s.undeliverable, 0);
    assert_int_equal(atomic_load(&g_cb_errors), 0);
    vg_mpw_fini(&w);
    s_node_fini(&a);
    s_node_fini(&b);
}

static void test_request_timeout_and_late_reply(void **unused)
{
    node_t a, b;
    s_pair(&a, MODE_COUNT, &b, MODE_KEEP, 2000); /* b keeps the request, answers late */
    vg_mpw_t w;
    vg_mpw_init(&w);
    char ids[1][32];
    s_tx_batch(&w, "slow", 1, ids);
    vg_env_t env = s_env(VG_MSG_TX_BATCH, 0);
    vg_transport_msg_t *r = (vg_transport_msg_t *) &w; /* must be cleared */
    uint64_t t0 = vg_now_ns();
    assert_int_equal(vg_transport_request(a.t, 2, &env, w.buf, w.len, 200, &r), VG_ERR_TIMEOUT);
    double ms = s_ms_since(t0);
    assert_null(r);
    assert_true(ms >= 195 && ms < 200 + 300 * SLOW);

    /* the reply comes after all: counted as late, never given to on_msg */
    WAIT_FOR(s_has_kept(&b), 1000);
    vg_msg_t rep = {.env = b.kept->env};
    rep.env.type = VG_MSG_VERDICT_BATCH;
    vg_verdict_t v = {.id = VG_STR_LIT("slow-0")};
    rep.body.verdict_batch.verdicts = (vg_verdict_list_t){1, &v};
    assert_int_equal(vg_transport_send_msg(b.t, 1, &rep), 0);
    WAIT_FOR(s_stats(a.t).late_replies == 1, 1000);
    vg_transport_stats_t s;
    vg_transport_stats(a.t, &s);
    assert_int_equal(s.request_timeouts, 1);
    assert_int_equal(atomic_load(&a.n_msgs), 0);
    vg_mpw_fini(&w);
    s_node_fini(&a);
    s_node_fini(&b);
}

/* ---- ordering ---- */

static void test_many_in_order(void **unused)
{
    enum { N = 20000 };
    node_t a, b;
    s_pair(&a, MODE_COUNT, &b, MODE_SEQ, 2000);
    vg_msg_t m = {.env = s_env(VG_MSG_NOT_OWNER, 0)};
    m.body.not_owner = (vg_body_not_owner_t){.shard = 17, .epoch = 4, .owner = 2};
    int full = 0;
    for (uint64_t i = 0; i < N;) {
        m.env.corr = i;
        int err = vg_transport_send_msg(a.t, 2, &m);
        if (err == VG_ERR_FULL) {
            full++;
            usleep(100);
            continue;
        }
        assert_int_equal(err, 0);
        i++;
    }
    WAIT_FOR(atomic_load(&b.n_msgs) == N, 10000);
    assert_int_equal(atomic_load(&b.next_seq), N);
    assert_int_equal(atomic_load(&g_cb_errors), 0);
    vg_transport_stats_t s;
    vg_transport_stats(a.t, &s);
    assert_int_equal(s.undeliverable, 0);
    assert_int_equal(s.queue_full, (uint64_t) full);
    WAIT_FOR(s_stats(a.t).queued_msgs == 0, 1000);
    s_node_fini(&a);
    s_node_fini(&b);
}

/* A peer busy with a backlog of our messages is not declared down: our
 * PINGs wait behind the backlog, but its own PINGs reach us. */
static void test_busy_peer_stays_up(void **unused)
{
    enum { N = 1500 }; /* 1 ms each: 1.5 s of backlog, dead_after 400 ms */
    node_t a, b;
    s_pair(&a, MODE_COUNT, &b, MODE_SLOW, FAST_DEAD);
    vg_msg_t m = {.env = s_env(VG_MSG_NOT_OWNER, 0)};
    for (int i = 0; i < N; i++) assert_int_equal(vg_transport_send_msg(a.t, 2, &m), 0);
    WAIT_FOR(atomic_load(&b.n_msgs) == N, 20000);
    assert_int_equal(s_n_ev(&a), 1); /* the first UP only */
    assert_int_equal(s_n_undel(&a), 0);
    assert_true(vg_transport_peer_alive(a.t, 2));
    s_node_fini(&a);
    s_node_fini(&b);
}

/* ---- backpressure ---- */

static void test_backpressure_full(void **unused)
{
    node_t a, b, c;
    s_node_init(&a, MODE_COUNT);
    vg_transport_config_t cfg = s_cfg(&a, 1, "tcp://127.0.0.1:*");
    cfg.queue_cap = 50;
    cfg.hwm = 4;
    cfg.dead_after_ms = 20000; /* b stalls: don't declare it down meanwhile */
    s_node_start(&a, &cfg);
    s_node_init(&b, MODE_STALL);
    cfg = s_cfg(&b, 2, "tcp://127.0.0.1:*");
    cfg.hwm = 4;
    cfg.dead_after_ms = 20000;
    s_node_start(&b, &cfg);
    s_node(&c, 3, MODE_COUNT);
    s_link(&a, &b);
    s_link(&a, &c);

    /* b's I/O thread blocks in its first on_msg: it stops receiving */
    atomic_store(&b.stall, 1);
    size_t len = 64 * 1024;
    uint8_t *body = calloc(1, len);
    body[0] = 0x91; /* the transport does not look inside bodies */
    vg_env_t env = s_env(VG_MSG_TX_BATCH, 0);
    int accepted = 0, err = 0;
    uint64_t t0 = vg_now_ns(), full_since = 0;
    while (accepted < 20000 && s_ms_since(t0) < 10000.0 * SLOW) {
        env.corr = (uint64_t) accepted;
        err = vg_transport_send(a.t, 2, &env, body, len);
        if (err == VG_ERR_FULL) {
            /* saturated once FULL lasts: b's socket buffers, both ZeroMQ
             * pipes and a's FIFO are all full and nothing drains them */
            if (!full_since) full_since = vg_now_ns();
            if (s_ms_since(full_since) > 300.0 * SLOW) break;
            usleep(1000);
            continue;
        }
        assert_int_equal(err, 0);
        full_since = 0;
        accepted++;
    }
    assert_int_equal(err, VG_ERR_FULL);
    assert_true(accepted >= 50 && accepted < 20000);
    for (int i = 0; i < 10; i++)
        assert_int_equal(vg_transport_send(a.t, 2, &env, body, len), VG_ERR_FULL);
    assert_int_equal(atomic_load(&b.stalled), 1);
    vg_transport_peer_info_t pi;
    assert_int_equal(vg_transport_peer_info(a.t, 2, &pi), 0);
    assert_int_equal(pi.queued, 50);

    /* per peer: c is not held up by b */
    env.corr = 424242;
    assert_int_equal(vg_transport_send(a.t, 3, &env, body, len), 0);
    WAIT_FOR(atomic_load(&c.n_msgs) == 1, 2000);

    /* b resumes: everything accepted arrives, nothing else */
    atomic_store(&b.stall, 0);
    WAIT_FOR(atomic_load(&b.n_msgs) == accepted, 10000);
    usleep(100 * 1000);
    assert_int_equal(atomic_load(&b.n_msgs), accepted);
    vg_transport_stats_t sa, sb;
    vg_transport_stats(a.t, &sa);
    vg_transport_stats(b.t, &sb);
    assert_int_equal(sa.undeliverable, 0);
    assert_true(sa.queue_full >= 11);
    assert_int_equal(sb.malformed, 0);
    assert_int_equal(sa.queued_msgs, 0);
    assert_int_equal(s_n_undel(&a), 0);
    fprintf(stderr, "backpressure: %d x 64 KiB accepted before FULL\n", accepted);
    free(body);
    s_node_fini(&a);
    s_node_fini(&b);
    s_node_fini(&c);
}

static void test_byte_budget_full(void **unused)
{
    node_t a;
    s_node_init(&a, MODE_COUNT);
    vg_transport_config_t cfg = s_cfg(&a, 1, NULL);
    cfg.queue_max_bytes = 100000;
    cfg.dead_after_ms = 20000;
    s_node_start(&a, &cfg);
    char dead[128];
    s_dead_endpoint(dead, sizeof dead);
    assert_int_equal(vg_transport_connect(a.t, 5, dead), 0); /* never connects: all waits */
    uint8_t body[40000] = {0x91};
    vg_env_t env = s_env(VG_MSG_TX_BATCH, 1);
    assert_int_equal(vg_transport_send(a.t, 5, &env, body, sizeof body), 0);
    assert_int_equal(vg_transport_send(a.t, 5, &env, body, sizeof body), 0);
    assert_int_equal(vg_transport_send(a.t, 5, &env, body, sizeof body), VG_ERR_FULL);
    vg_transport_stats_t s;
    vg_transport_stats(a.t, &s);
    assert_int_equal(s.queued_bytes, 80000);
    assert_int_equal(s.queued_msgs, 2);
    s_node_fini(&a);
    assert_int_equal(a.n_undel, 2); /* destroy handed both back */
    assert_int_equal(a.undel[0].err, VG_ERR_CLOSED);
}

/* ---- unreachable ---- */

static void test_unreachable(void **unused)
{
    node_t a, b;
    s_node_dead(&a, 1, MODE_COUNT, FAST_DEAD);
    s_node_dead(&b, 2, MODE_COUNT, FAST_DEAD);
    vg_msg_t m = {.env = s_env(VG_MSG_NOT_OWNER, 0)};
    vg_mpw_t w;
    vg_mpw_init(&w);
    assert_int_equal(vg_msg_body_encode(&m, &w), 0);
    vg_transport_msg_t *r = NULL;

    /* unknown peer: refused at once, counted */
    assert_int_equal(vg_transport_send(a.t, 42, &m.env, w.buf, w.len), VG_ERR_UNREACHABLE);
    assert_int_equal(vg_transport_send_msg(a.t, 42, &m), VG_ERR_UNREACHABLE);
    assert_int_equal(vg_transport_request(a.t, 42, &m.env, w.buf, w.len, 100, &r),
                     VG_ERR_UNREACHABLE);

    /* a peer that never answers: sends wait, then come back at DOWN */
    char dead[128];
    s_dead_endpoint(dead, sizeof dead);
    assert_int_equal(vg_transport_connect(a.t, 7, dead), 0);
    vg_transport_peer_info_t pi;
    assert_int_equal(vg_transport_peer_info(a.t, 7, &pi), 0);
    assert_int_equal(pi.state, VG_TRANSPORT_PEER_CONNECTING);
    for (uint64_t i = 0; i < 5; i++) {
        m.env.corr = 100 + i;
        assert_int_equal(vg_transport_send_msg(a.t, 7, &m), 0);
    }
    WAIT_FOR(s_n_undel(&a) == 5, 2000);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(a.undel[i].peer, 7);
        assert_int_equal(a.undel[i].corr, 100 + i); /* in send order */
        assert_int_equal(a.undel[i].err, VG_ERR_UNREACHABLE);
    }
    assert_int_equal(s_n_ev(&a), 1);
    assert_true(a.ev[0].peer == 7 && !a.ev[0].up); /* reported DOWN once */
    assert_int_equal(vg_transport_send_msg(a.t, 7, &m), VG_ERR_UNREACHABLE);
    assert_false(vg_transport_peer_alive(a.t, 7));

    /* a request to a peer that goes down fails at DOWN, not at its timeout */
    char dead2[128];
    s_dead_endpoint(dead2, sizeof dead2);
    assert_int_equal(vg_transport_connect(a.t, 9, dead2), 0);
    uint64_t t0 = vg_now_ns();
    assert_int_equal(vg_transport_request(a.t, 9, &m.env, w.buf, w.len, 20000, &r),
                     VG_ERR_UNREACHABLE);
    assert_true(s_ms_since(t0) < 400 + 600 * SLOW);

    /* disconnect: waiting messages come back CLOSED, then unknown */
    char dead3[128];
    s_dead_endpoint(dead3, sizeof dead3);
    assert_int_equal(vg_transport_connect(a.t, 8, dead3), 0);
    for (uint64_t i = 0; i < 3; i++) {
        m.env.corr = 200 + i;
        assert_int_equal(vg_transport_send_msg(a.t, 8, &m), 0);
    }
    assert_int_equal(vg_transport_disconnect(a.t, 8), 0);
    assert_int_equal(s_n_undel(&a), 8); /* before disconnect returned */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(a.undel[5 + i].corr, 200 + i);
        assert_int_equal(a.undel[5 + i].err, VG_ERR_CLOSED);
    }
    assert_int_equal(vg_transport_send_msg(a.t, 8, &m), VG_ERR_UNREACHABLE);
    assert_int_equal(vg_transport_disconnect(a.t, 8), VG_ERR_NOT_FOUND);

    /* disconnect from a live peer */
    s_link(&a, &b);
    assert_int_equal(vg_transport_disconnect(a.t, 2), 0);
    assert_int_equal(vg_transport_send_msg(a.t, 2, &m), VG_ERR_UNREACHABLE);

    vg_transport_stats_t s;
    vg_transport_stats(a.t, &s);
    assert_int_equal(s.unreachable, 6);
    assert_int_equal(s.undeliverable, 9); /* 5 + the request + 3 */
    vg_mpw_fini(&w);
    s_node_fini(&a);
    s_node_fini(&b);
}

/* A reply through the ROUTER to a peer that went away: EHOSTUNREACH inside
 * the I/O thread, held, then handed back when the peer is declared down. */
static void test_inbound_peer_gone(void **unused)
{
    node_t a, b;
    s_node_dead(&a, 1, MODE_COUNT, FAST_DEAD);
    s_node_dead(&b, 2, MODE_COUNT, FAST_DEAD);
    s_link(&b, &a); /* b -> a: a reaches b only through its ROUTER */
    s_node_fini(&b);
    usleep(100 * 1000 * SLOW);                    /* a's ZeroMQ notices the closed connection */
    assert_true(vg_transport_peer_alive(a.t, 2)); /* not yet declared down */
    vg_msg_t m = {.env = s_env(VG_MSG_NOT_OWNER, 31)};
    assert_int_equal(vg_transport_send_msg(a.t, 2, &m), 0);
    WAIT_FOR(s_n_undel(&a) == 1, 2000);
    assert_int_equal(a.undel[0].corr, 31);
    assert_int_equal(a.undel[0].err, VG_ERR_UNREACHABLE);
    vg_transport_peer_info_t pi;
    assert_int_equal(vg_transport_peer_info(a.t, 2, &pi), VG_ERR_NOT_FOUND); /* forgotten */
    vg_transport_stats_t s;
    vg_transport_stats(a.t, &s);
    assert_int_equal(s.peers, 0);
    s_node_fini(&a);
}

/* ---- malformed input from a raw DEALER ---- */

static void *s_raw_dealer(void *ctx, const char *endpoint, uint32_t id)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, tmo = 3000 * SLOW;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    if (id) {
        uint8_t rid[5] = {'V', (uint8_t) (id >> 24), (uint8_t) (id >> 16), (uint8_t) (id >> 8),
                          (uint8_t) id};
        zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, sizeof rid);
    }
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

static void s_raw_send(void *s, int n, const void *const *frames, const size_t *lens)
{
    for (int i = 0; i < n; i++)
        assert_true(zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

static size_t s_env_bytes(int type, uint64_t corr, uint8_t *buf)
{
    vg_mpw_t w;
    vg_mpw_init_fixed(&w, buf, VG_ENV_MAX);
    vg_env_t e = s_env(type, corr);
    vg_env_encode(&e, &w);
    return w.len;
}

static void test_malformed_frames(void **unused)
{
    node_t a;
    s_node(&a, 1, MODE_ECHO);
    void *ctx = zmq_ctx_new();
    void *raw = s_raw_dealer(ctx, vg_transport_endpoint(a.t), 99);
    uint8_t env[VG_ENV_MAX], env_unknown[VG_ENV_MAX], env_ping[VG_ENV_MAX];
    size_t env_len = s_env_bytes(VG_MSG_NOT_OWNER, 5, env);
    size_t unk_len = s_env_bytes(0x7e, 6, env_unknown);
    size_t ping_len = s_env_bytes(VG_MSG_PING, 7, env_ping);
    uint8_t body[4] = {0x93, 0x11, 0x04, 0x02};
    uint8_t big_env[70];
    memset(big_env, 0x90, sizeof big_env);
    uint8_t bad_magic[VG_ENV_MAX];
    memcpy(bad_magic, env, env_len);
    bad_magic[2] = 'X'; /* "VX" */
    size_t huge_len = (size_t) VG_FRAME_MAX + 1;
    uint8_t *huge = calloc(1, huge_len);
    const uint8_t bad_ping_body[1] = {0xc1}; /* never valid msgpack */

    s_raw_send(raw, 1, (const void *[]){env}, (size_t[]){env_len});                   /* 1 frame */
    s_raw_send(raw, 3, (const void *[]){env, body, body}, (size_t[]){env_len, 4, 4}); /* 3 */
    s_raw_send(raw, 2, (const void *[]){"hello", body}, (size_t[]){5, 4});            /* garbage */
    s_raw_send(raw, 2, (const void *[]){big_env, body}, (size_t[]){70, 4});           /* > 64 */
    s_raw_send(raw, 2, (const void *[]){bad_magic, body}, (size_t[]){env_len, 4});
    s_raw_send(raw, 2, (const void *[]){env, body}, (size_t[]){env_len, 0});        /* empty */
    s_raw_send(raw, 2, (const void *[]){env, huge}, (size_t[]){env_len, huge_len}); /* > max */
    s_raw_send(raw, 2, (const void *[]){env_ping, bad_ping_body}, (size_t[]){ping_len, 1});
    /* unknown type: answered ERROR(UNSUPPORTED) with its corr */
    s_raw_send(raw, 2, (const void *[]){env_unknown, body}, (size_t[]){unk_len, 4});
    /* a peer without a Vigil routing id */
    void *anon = s_raw_dealer(ctx, vg_transport_endpoint(a.t), 0);
    s_raw_send(anon, 2, (const void *[]){env, body}, (size_t[]){env_len, 4});

    uint8_t rbuf[256];
    int n = zmq_recv(raw, rbuf, sizeof rbuf, 0);
    assert_true(n > 0);
    vg_env_t re;
    assert_int_equal(vg_env_decode(rbuf, (size_t) n, &re, NULL), 0);
    assert_int_equal(re.type, VG_MSG_ERROR);
    assert_int_equal(re.corr, 6);
    assert_int_equal(re.src, 1);
    int more;
    size_t ml = sizeof more;
    zmq_getsockopt(raw, ZMQ_RCVMORE, &more, &ml);
    assert_true(more);
    n = zmq_recv(raw, rbuf, sizeof rbuf, 0);
    vg_msg_t em = {.env = re};
    vg_arena_t arena = VG_ARENA_INIT;
    assert_int_equal(vg_msg_body_decode(rbuf, (size_t) n, &em, &arena, NULL), 0);
    assert_int_equal(em.body.error.code, VG_ERR_UNSUPPORTED);
    vg_arena_fini(&arena);

    /* a valid PING still gets its PONG: the transport kept working */
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_msg_t ping = {.env = s_env(VG_MSG_PING, 8)};
    ping.body.ping.sent_ns = 123456789;
    assert_int_equal(vg_msg_body_encode(&ping, &w), 0);
    s_raw_send(raw, 2, (const void *[]){env_ping, w.buf}, (size_t[]){ping_len, w.len});
    n = zmq_recv(raw, rbuf, sizeof rbuf, 0);
    assert_int_equal(vg_env_decode(rbuf, (size_t) n, &re, NULL), 0);
    assert_int_equal(re.type, VG_MSG_PONG);
    n = zmq_recv(raw, rbuf, sizeof rbuf, 0);
    vg_msg_t pong = {.env = re};
    assert_int_equal(vg_msg_body_decode(rbuf, (size_t) n, &pong, &arena, NULL), 0);
    assert_int_equal(pong.body.pong.sent_ns, 123456789);

    WAIT_FOR(s_stats(a.t).malformed == 9, 2000);
    vg_transport_stats_t s = s_stats(a.t);
    assert_int_equal(s.unhandled, 1);
    assert_int_equal(atomic_load(&a.n_msgs), 0); /* nothing malformed reached on_msg */

    /* and a real peer still gets served */
    node_t b;
    s_node(&b, 2, MODE_COUNT);
    s_link(&b, &a);
    s_roundtrip(b.t, 1, "after", 2);
    vg_transport_stats(a.t, &s);
    assert_int_equal(s.malformed, 9);

    vg_mpw_fini(&w);
    free(huge);
    zmq_close(raw);
    zmq_close(anon);
    zmq_ctx_term(ctx);
    s_node_fini(&b);
    s_node_fini(&a);
}

/* ---- failure detection ---- */

static void test_down_then_up(void **unused)
{
    node_t a, b;
    s_node_dead(&a, 1, MODE_COUNT, FAST_DEAD);
    s_node_dead(&b, 2, MODE_ECHO, FAST_DEAD);
    char ep[128];
    snprintf(ep, sizeof ep, "%s", vg_transport_endpoint(b.t));
    s_link(&a, &b);

    uint64_t t0 = vg_now_ns();
    s_node_fini(&b); /* kill */
    WAIT_FOR(s_n_ev(&a) == 2, 3000);
    double down_ms = (double) (a.ev[1].at_ns - t0) / 1e6;
    assert_true(a.ev[0].up && !a.ev[1].up && a.ev[1].peer == 2);
    /* dead_after 400 after the last message, heard <= 50 ms before the kill */
    assert_true(down_ms >= 300);
    assert_true(down_ms <= 400 + 100 * SLOW);
    fprintf(stderr, "down reported %.0f ms after the kill (dead_after 400)\n", down_ms);
    assert_false(vg_transport_peer_alive(a.t, 2));
    vg_msg_t m = {.env = s_env(VG_MSG_NOT_OWNER, 1)};
    assert_int_equal(vg_transport_send_msg(a.t, 2, &m), VG_ERR_UNREACHABLE);

    /* restart on the same address: a's DEALER reconnects, b is up again */
    s_node_init(&b, MODE_ECHO);
    vg_transport_config_t cfg = s_cfg(&b, 2, ep);
    uint64_t t1 = vg_now_ns();
    s_node_start(&b, &cfg);
    WAIT_FOR(s_n_ev(&a) == 3, 3000);
    assert_true(a.ev[2].up && a.ev[2].peer == 2);
    fprintf(stderr, "up again %.0f ms after the restart\n", (double) (a.ev[2].at_ns - t1) / 1e6);
    assert_int_equal(vg_transport_wait_up(b.t, 1, 2000 * SLOW), 0);

    s_roundtrip(a.t, 2, "again", 1);
    vg_transport_stats_t s;
    vg_transport_stats(a.t, &s);
    assert_int_equal(s.peer_up_events, 2);
    assert_int_equal(s.peer_down_events, 1);
    s_node_fini(&a);
    s_node_fini(&b);
}

/* The defaults: heartbeat 500 ms, down after 3 s of silence. */
static void test_default_dead_after(void **unused)
{
    node_t a, b;
    s_node_init(&a, MODE_COUNT);
    s_node_init(&b, MODE_COUNT);
    vg_transport_config_t ca = {.self_id = 1, .on_peer = s_on_peer, .arg = &a};
    vg_transport_config_t cb = {.self_id = 2, .bind = "tcp://127.0.0.1:*", .arg = &b};
    s_node_start(&a, &ca);
    s_node_start(&b, &cb);
    s_link(&a, &b);
    uint64_t t0 = vg_now_ns();
    s_node_fini(&b);
    WAIT_FOR(s_n_ev(&a) == 2, 5000);
    double ms = (double) (a.ev[1].at_ns - t0) / 1e6;
    fprintf(stderr, "default: down reported %.0f ms after the kill\n", ms);
    /* reported dead_after after the last message, itself <= 500 ms before the kill */
    assert_true(!a.ev[1].up && ms >= 2400 && ms <= 3000 + 100 * SLOW);
    s_node_fini(&a);
}

/* ---- API contract ---- */

static void test_api_errors(void **unused)
{
    node_t a, b;
    vg_transport_t *t = (vg_transport_t *) &a;
    vg_transport_config_t cfg = {.self_id = 0};
    assert_int_equal(vg_transport_new(&cfg, &t), VG_ERR_INVALID);
    assert_null(t);
    cfg = (vg_transport_config_t){.self_id = 1, .heartbeat_ms = 500, .dead_after_ms = 600};
    assert_int_equal(vg_transport_new(&cfg, &t), VG_ERR_INVALID);
    cfg = (vg_transport_config_t){.self_id = 1, .bind = "nonsense://x"};
    assert_int_equal(vg_transport_new(&cfg, &t), VG_ERR_INVALID);

    s_node(&a, 1, MODE_COUNT);
    s_node_init(&b, MODE_REQ_IN_CB);
    cfg = s_cfg(&b, 2, vg_transport_endpoint(a.t)); /* address in use */
    assert_int_equal(vg_transport_new(&cfg, &t), VG_ERR_IO);
    assert_null(t);
    s_node(&b, 2, MODE_REQ_IN_CB);
    assert_true(vg_transport_random_client_id() >= VG_TRANSPORT_CLIENT_ID_MIN);
    assert_int_equal(vg_transport_id(a.t), 1);

    assert_int_equal(vg_transport_connect(a.t, 0, "tcp://127.0.0.1:1"), VG_ERR_INVALID);
    assert_int_equal(vg_transport_connect(a.t, 1, "tcp://127.0.0.1:1"), VG_ERR_INVALID);
    assert_int_equal(vg_transport_connect(a.t, 5, "bogus"), VG_ERR_INVALID);
    assert_int_equal(vg_transport_peer_alive(a.t, 5), false);
    s_link(&a, &b);
    assert_int_equal(vg_transport_connect(a.t, 2, vg_transport_endpoint(b.t)), VG_ERR_EXISTS);

    uint8_t body[4] = {0x93, 0x11, 0x04, 0x02};
    vg_env_t env = s_env(VG_MSG_NOT_OWNER, 1);
    assert_int_equal(vg_transport_send(a.t, 2, &env, body, 0), VG_ERR_INVALID);
    assert_int_equal(vg_transport_send(a.t, 2, &env, body, (size_t) VG_FRAME_MAX + 1),
                     VG_ERR_TOO_LARGE);
    vg_env_t bad = s_env(0x7e, 1);
    assert_int_equal(vg_transport_send(a.t, 2, &bad, body, sizeof body), VG_ERR_INVALID);
    vg_transport_msg_t *r = NULL;
    assert_int_equal(vg_transport_request(a.t, 2, &env, body, sizeof body, 0, &r), VG_ERR_INVALID);

    /* request() from a callback would deadlock the I/O thread: refused */
    assert_int_equal(vg_transport_send(a.t, 2, &env, body, sizeof body), 0);
    WAIT_FOR(atomic_load(&b.n_msgs) == 1, 2000);
    assert_int_equal(b.cb_request_err, VG_ERR_INVALID);
    assert_int_equal(atomic_load(&g_cb_errors), 0);

    vg_transport_destroy(NULL);
    vg_transport_t *none = NULL;
    vg_transport_destroy(&none);
    s_node_fini(&a);
    s_node_fini(&b);
}

static void test_metrics_text(void **unused)
{
    node_t a, b;
    s_pair(&a, MODE_COUNT, &b, MODE_ECHO, 2000);
    s_roundtrip(a.t, 2, "m", 1);
    vg_prom_t p;
    vg_prom_init(&p);
    vg_transport_metrics(a.t, &p);
    const char *want[] = {"# TYPE vg_transport_sent_messages_total counter",
                          "vg_transport_requests_total 1\n",
                          "vg_transport_peers_up 1\n",
                          "vg_transport_peer_up{peer=\"2\"} 1\n",
                          "vg_transport_peer_rtt_seconds{peer=\"2\"}",
                          "vg_transport_request_seconds_count 1\n",
                          "vg_transport_malformed_total 0\n"};
    for (size_t i = 0; i < VG_ARRAY_LEN(want); i++) {
        if (!strstr(p.buf, want[i])) fprintf(stderr, "missing: %s\n%s", want[i], p.buf);
        assert_non_null(strstr(p.buf, want[i]));
    }
    vg_prom_fini(&p);
    s_node_fini(&a);
    s_node_fini(&b);
}

int main(void)
{
    if (!getenv("VIGIL_LOG")) vg_log_set_level(VG_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_request_reply),
        cmocka_unit_test(test_request_timeout_and_late_reply),
        cmocka_unit_test(test_many_in_order),
        cmocka_unit_test(test_busy_peer_stays_up),
        cmocka_unit_test(test_backpressure_full),
        cmocka_unit_test(test_byte_budget_full),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_inbound_peer_gone),
        cmocka_unit_test(test_malformed_frames),
        cmocka_unit_test(test_down_then_up),
        cmocka_unit_test(test_default_dead_after),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_metrics_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
