/* test_actor_basic.c: messaging between actors and with plain threads:
 * ping-pong across workers, request/reply with timeouts and late replies,
 * vg_rt_call from a non-actor thread, backpressure, remote addresses,
 * spawn rules and dropped message types. Real threads throughout. */
#include "vt_util.h"

#include "vg_err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { T_GO = VG_AMSG_USER, T_PING, T_PONG, T_ECHO, T_SLOW, T_SINK, T_REPLY, T_NOTE, T_BLOCK };

/* ---- ping-pong between two workers ---- */

typedef struct {
    vg_addr_t peer;
    uint64_t rounds;
    atomic_ulong count;
    atomic_int done;
    pthread_t thread;
} pp_state_t;

static void pp_send(vg_actor_t *self, vg_amsg_t **msg_p, uint16_t type, vg_addr_t to)
{
    vg_amsg_t *m = *msg_p;
    m->type = type;
    m->to = to;
    m->from = 0; /* stamped with self by vg_rt_send */
    VT_CHECK(vg_rt_send(vg_actor_rt(self), msg_p) == VG_OK);
    VT_CHECK(*msg_p == NULL);
}

static void pp_on_ping(vg_actor_t *self, vg_amsg_t **msg_p)
{
    pp_state_t *st = vg_actor_state(self);
    st->thread = pthread_self();
    atomic_fetch_add(&st->count, 1);
    pp_send(self, msg_p, T_PONG, (*msg_p)->from);
}

static void pp_on_pong(vg_actor_t *self, vg_amsg_t **msg_p)
{
    pp_state_t *st = vg_actor_state(self);
    st->thread = pthread_self();
    if (atomic_fetch_add(&st->count, 1) + 1 >= st->rounds) {
        atomic_store(&st->done, 1);
        return;
    }
    pp_send(self, msg_p, T_PING, st->peer);
}

static void test_ping_pong(void **unused)
{
    static const vg_actor_handler_t ping_h[] = {{T_PING, pp_on_ping}};
    static const vg_actor_handler_t pong_h[] = {{T_PONG, pp_on_pong}, {T_GO, pp_on_pong}};
    pp_state_t b = {0}, a = {.rounds = 20000};
    vg_rt_t *rt = vt_rt(2);
    vg_addr_t addr_a, addr_b;
    vg_actor_def_t def_b = {
        .name = "pong", .handlers = ping_h, .n_handlers = 1, .state = &b, .worker = 1};
    vg_actor_def_t def_a = {
        .name = "ping", .handlers = pong_h, .n_handlers = 2, .state = &a, .worker = 0};
    assert_int_equal(vg_rt_spawn(rt, &def_b, &addr_b), VG_OK);
    assert_int_equal(vg_rt_spawn(rt, &def_a, &addr_a), VG_OK);
    a.peer = addr_b;
    assert_int_equal(vg_rt_start(rt), VG_OK);
    vg_amsg_t *go = vt_msg(T_GO, addr_a, 0, 0);
    assert_int_equal(vg_rt_send(rt, &go), VG_OK);
    VT_WAIT(atomic_load(&a.done), 20000);
    assert_int_equal(atomic_load(&a.count), a.rounds);
    assert_int_equal(atomic_load(&b.count), a.rounds - 1);
    assert_false(pthread_equal(a.thread, b.thread));
    assert_int_equal(vg_rt_stop(rt, 1000), VG_OK);
    vg_rt_stats_t stats;
    vg_rt_stats(rt, &stats);
    assert_int_equal(stats.delivered, 2 * a.rounds - 1); /* T_GO + pongs + pings */
    vg_rt_destroy(&rt);
    assert_null(rt);
    VT_NO_ERRORS();
}

/* ---- request / reply ---- */

typedef struct {
    vg_amsg_t *held; /* T_SLOW request, answered by a timer */
} srv_state_t;

static void srv_on_echo(vg_actor_t *self, vg_amsg_t **msg_p)
{
    vg_amsg_t *r = vt_msg(T_REPLY, 0, (*msg_p)->arg[0] + 1, 0);
    VT_CHECK(vg_actor_reply(self, *msg_p, &r) == VG_OK);
}

static void srv_on_slow(vg_actor_t *self, vg_amsg_t **msg_p)
{
    srv_state_t *st = vg_actor_state(self);
    VT_CHECK(st->held == NULL);
    st->held = *msg_p;
    *msg_p = NULL;
    VT_CHECK(vg_actor_timer(self, 100, 0, 7, NULL) == VG_OK);
}

static void srv_on_timer(vg_actor_t *self, vg_amsg_t **msg_p)
{
    srv_state_t *st = vg_actor_state(self);
    VT_CHECK((*msg_p)->arg[0] == 7);
    srv_on_echo(self, &st->held);
    vg_amsg_free(&st->held);
}

static void srv_fini(vg_actor_t *self)
{
    srv_state_t *st = vg_actor_state(self);
    vg_amsg_free(&st->held);
}

static const vg_actor_handler_t srv_handlers[] = {
    {T_ECHO, srv_on_echo}, {T_SLOW, srv_on_slow}, {VG_AMSG_TIMER, srv_on_timer}};

static vg_addr_t spawn_server(vg_rt_t *rt, srv_state_t *st, int worker)
{
    vg_actor_def_t def = {.name = "server",
                          .handlers = srv_handlers,
                          .n_handlers = 3,
                          .state = st,
                          .fini = srv_fini,
                          .worker = worker};
    vg_addr_t addr;
    assert_int_equal(vg_rt_spawn(rt, &def, &addr), VG_OK);
    return addr;
}

typedef struct {
    vg_addr_t server;
    uint64_t corr;
    atomic_int replies, timeouts;
    atomic_ullong value;
    int32_t status;
} cli_state_t;

/* arg[0]: the request type to send, arg[1]: timeout ms */
static void cli_on_go(vg_actor_t *self, vg_amsg_t **msg_p)
{
    cli_state_t *st = vg_actor_state(self);
    vg_amsg_t *req = vt_msg((uint16_t) (*msg_p)->arg[0], st->server, 41, 0);
    VT_CHECK(vg_actor_request(self, &req, (uint32_t) (*msg_p)->arg[1]) == VG_OK);
    VT_CHECK(req == NULL);
    st->corr = vg_actor_last_corr(self);
}

static void cli_on_reply(vg_actor_t *self, vg_amsg_t **msg_p)
{
    cli_state_t *st = vg_actor_state(self);
    VT_CHECK((*msg_p)->flags & VG_AMSG_F_REPLY);
    VT_CHECK((*msg_p)->corr == st->corr);
    VT_CHECK((*msg_p)->from == st->server);
    atomic_store(&st->value, (*msg_p)->arg[0]);
    atomic_fetch_add(&st->replies, 1);
}

static void cli_on_timeout(vg_actor_t *self, vg_amsg_t **msg_p)
{
    cli_state_t *st = vg_actor_state(self);
    VT_CHECK((*msg_p)->corr == st->corr);
    st->status = (*msg_p)->status;
    atomic_fetch_add(&st->timeouts, 1);
}

static vg_addr_t spawn_client(vg_rt_t *rt, cli_state_t *st, int worker)
{
    static const vg_actor_handler_t h[] = {
        {T_GO, cli_on_go}, {T_REPLY, cli_on_reply}, {VG_AMSG_TIMEOUT, cli_on_timeout}};
    vg_actor_def_t def = {
        .name = "client", .handlers = h, .n_handlers = 3, .state = st, .worker = worker};
    vg_addr_t addr;
    assert_int_equal(vg_rt_spawn(rt, &def, &addr), VG_OK);
    return addr;
}

static void go(vg_rt_t *rt, vg_addr_t to, uint64_t type, uint64_t timeout_ms)
{
    vg_amsg_t *m = vt_msg(T_GO, to, type, timeout_ms);
    assert_int_equal(vg_rt_send(rt, &m), VG_OK);
}

/* A server on worker 1 and a client on worker 0, started. */
static vg_rt_t *rr_start(srv_state_t *srv, cli_state_t *cli, vg_addr_t *client)
{
    vg_rt_t *rt = vt_rt(2);
    cli->server = spawn_server(rt, srv, 1);
    *client = spawn_client(rt, cli, 0);
    assert_int_equal(vg_rt_start(rt), VG_OK);
    return rt;
}

static void rr_finish(vg_rt_t *rt)
{
    assert_int_equal(vg_rt_stop(rt, 1000), VG_OK);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

static void test_request_reply(void **unused)
{
    srv_state_t srv = {0};
    cli_state_t cli = {0};
    vg_addr_t c;
    vg_rt_t *rt = rr_start(&srv, &cli, &c);
    go(rt, c, T_ECHO, 150);
    VT_WAIT(atomic_load(&cli.replies) == 1, 5000);
    assert_int_equal(atomic_load(&cli.value), 42);
    usleep(250 * 1000); /* past the timeout: it was cancelled by the reply */
    assert_int_equal(atomic_load(&cli.timeouts), 0);
    rr_finish(rt);
}

static void test_request_timeout_and_late_reply(void **unused)
{
    srv_state_t srv = {0};
    cli_state_t cli = {0};
    vg_addr_t c;
    vg_rt_t *rt = rr_start(&srv, &cli, &c);
    /* the server has no handler for T_SINK: no reply ever comes */
    go(rt, c, T_SINK, 30);
    VT_WAIT(atomic_load(&cli.timeouts) == 1, 5000);
    assert_int_equal(cli.status, VG_ERR_TIMEOUT);
    /* the server answers after 100 ms, the client gives up after 20 ms */
    go(rt, c, T_SLOW, 20);
    VT_WAIT(atomic_load(&cli.timeouts) == 2, 5000);
    vg_rt_stats_t stats;
    vg_rt_stats(rt, &stats);
    uint64_t dropped = stats.dropped;
    VT_WAIT((vg_rt_stats(rt, &stats), stats.dropped == dropped + 1), 5000);
    assert_int_equal(atomic_load(&cli.replies), 0);
    assert_int_equal(atomic_load(&cli.timeouts), 2);
    rr_finish(rt);
}

/* ---- vg_rt_call from a plain thread ---- */

static void test_call_from_thread(void **unused)
{
    vg_rt_t *rt = vt_rt(2);
    srv_state_t srv = {0};
    vg_addr_t s = spawn_server(rt, &srv, 1);
    assert_int_equal(vg_rt_start(rt), VG_OK);
    vg_inbox_t *in = vg_inbox_new(rt);
    assert_int_equal(VG_ADDR_NODE(vg_inbox_addr(in)), 1);
    vg_amsg_t *req = vt_msg(T_ECHO, s, 9, 0), *rep = NULL;
    assert_int_equal(vg_rt_call(rt, in, &req, 5000, &rep), VG_OK);
    assert_null(req);
    assert_int_equal(rep->arg[0], 10);
    assert_true(rep->flags & VG_AMSG_F_REPLY);
    vg_amsg_free(&rep);
    /* a call that times out; its reply arrives later and must not be
     * mistaken for the next call's */
    req = vt_msg(T_SLOW, s, 100, 0);
    assert_int_equal(vg_rt_call(rt, in, &req, 20, &rep), VG_ERR_TIMEOUT);
    assert_null(rep);
    vg_amsg_t *note = vt_msg(T_NOTE, vg_inbox_addr(in), 5, 0);
    assert_int_equal(vg_rt_send(rt, &note), VG_OK);
    usleep(200 * 1000 * VT_SLOW); /* the stale reply is now queued too */
    req = vt_msg(T_ECHO, s, 1, 0);
    assert_int_equal(vg_rt_call(rt, in, &req, 5000, &rep), VG_OK);
    assert_int_equal(rep->arg[0], 2);
    vg_amsg_free(&rep);
    /* the note was kept for recv; the stale reply was discarded */
    assert_int_equal(vg_inbox_recv(in, 0, &rep), VG_OK);
    assert_int_equal(rep->type, T_NOTE);
    vg_amsg_free(&rep);
    assert_int_equal(vg_inbox_recv(in, 10, &rep), VG_ERR_TIMEOUT);
    vg_addr_t gone = vg_inbox_addr(in);
    vg_inbox_destroy(&in);
    assert_null(in);
    note = vt_msg(T_NOTE, gone, 0, 0); /* a destroyed inbox's address is gone */
    assert_int_equal(vg_rt_send(rt, &note), VG_ERR_NOT_FOUND);
    vg_amsg_free(&note);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

/* ---- backpressure ---- */

typedef struct {
    atomic_int entered, release, handled;
} gate_state_t;

static void gate_on_block(vg_actor_t *self, vg_amsg_t **msg_p)
{
    gate_state_t *st = vg_actor_state(self);
    atomic_store(&st->entered, 1);
    while (!atomic_load(&st->release)) usleep(200);
    atomic_fetch_add(&st->handled, 1);
}

static void gate_on_note(vg_actor_t *self, vg_amsg_t **msg_p)
{
    gate_state_t *st = vg_actor_state(self);
    atomic_fetch_add(&st->handled, 1);
}

static void test_mailbox_cap(void **unused)
{
    static const vg_actor_handler_t h[] = {{T_BLOCK, gate_on_block}, {T_NOTE, gate_on_note}};
    gate_state_t st = {0};
    vg_rt_t *rt = vt_rt(2);
    vg_actor_def_t def = {.name = "gate",
                          .handlers = h,
                          .n_handlers = 2,
                          .state = &st,
                          .worker = -1,
                          .mailbox_cap = 4};
    vg_addr_t g;
    assert_int_equal(vg_rt_spawn(rt, &def, &g), VG_OK);
    assert_int_equal(vg_rt_start(rt), VG_OK);
    vg_amsg_t *m = vt_msg(T_BLOCK, g, 0, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    VT_WAIT(atomic_load(&st.entered), 5000);
    for (int i = 0; i < 4; i++) {
        m = vt_msg(T_NOTE, g, 0, 0);
        assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    }
    m = vt_msg(T_NOTE, g, 0, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_ERR_FULL);
    assert_non_null(m); /* the caller keeps a refused message */
    vg_amsg_t *m2 = vt_msg(T_NOTE, g, 0, 0);
    m->next = m2;
    assert_int_equal(vg_rt_send_chain(rt, g, m, m2, 2), VG_ERR_FULL);
    vg_amsg_free_chain(m);
    atomic_store(&st.release, 1);
    VT_WAIT(atomic_load(&st.handled) == 5, 5000);
    m = vt_msg(T_NOTE, g, 0, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    VT_WAIT(atomic_load(&st.handled) == 6, 5000);
    vg_rt_destroy(&rt);
}

/* ---- remote addresses ---- */

typedef struct {
    int calls, fail;
} hook_state_t;

static int remote_hook(void *arg, vg_amsg_t **msg_p)
{
    hook_state_t *st = arg;
    st->calls++;
    if (st->fail) return VG_ERR_IO;
    vg_amsg_free(msg_p);
    return VG_OK;
}

static void test_remote(void **unused)
{
    vg_rt_t *rt = vt_rt(1);
    assert_int_equal(vg_rt_start(rt), VG_OK);
    vg_amsg_t *m = vt_msg(T_NOTE, VG_ADDR(2, 5), 0, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_ERR_UNREACHABLE);
    assert_non_null(m);
    hook_state_t hs = {0};
    vg_rt_set_remote(rt, remote_hook, &hs);
    assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    assert_null(m);
    vg_amsg_t *a = vt_msg(T_NOTE, VG_ADDR(2, 5), 0, 0), *b = vt_msg(T_NOTE, VG_ADDR(2, 5), 0, 0);
    a->next = b;
    assert_int_equal(vg_rt_send_chain(rt, VG_ADDR(2, 5), a, b, 2), VG_OK);
    hs.fail = 1;
    m = vt_msg(T_NOTE, VG_ADDR(3, 1), 0, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_ERR_IO);
    assert_non_null(m);
    vg_amsg_free(&m);
    assert_int_equal(hs.calls, 4);
    vg_rt_stats_t stats;
    vg_rt_stats(rt, &stats);
    assert_int_equal(stats.sent_remote, 3);
    /* a local id nobody has */
    m = vt_msg(T_NOTE, VG_ADDR(1, 77), 0, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_ERR_NOT_FOUND);
    vg_amsg_free(&m);
    vg_rt_destroy(&rt);
}

/* ---- spawn rules ---- */

typedef struct {
    int rc;
    pthread_t thread;
    atomic_int inits, handled;
    vg_addr_t child;
} sp_state_t;

static int sp_init(vg_actor_t *self)
{
    sp_state_t *st = vg_actor_state(self);
    st->thread = pthread_self();
    atomic_fetch_add(&st->inits, 1);
    return st->rc;
}

static void sp_on_note(vg_actor_t *self, vg_amsg_t **msg_p)
{
    sp_state_t *st = vg_actor_state(self);
    atomic_fetch_add(&st->handled, 1);
}

static const vg_actor_handler_t sp_handlers[] = {{T_NOTE, sp_on_note}};

/* T_GO: spawn a child on the other worker from inside a handler */
static void sp_on_go(vg_actor_t *self, vg_amsg_t **msg_p)
{
    sp_state_t *st = vg_actor_state(self), *child = (sp_state_t *) (uintptr_t) (*msg_p)->arg[0];
    vg_actor_def_t def = {.name = "child",
                          .handlers = sp_handlers,
                          .n_handlers = 1,
                          .state = child,
                          .init = sp_init,
                          .worker = 1 - vg_actor_worker(self)};
    VT_CHECK(vg_rt_spawn(vg_actor_rt(self), &def, &st->child) == VG_OK);
    vg_amsg_t *m = vt_msg(T_NOTE, st->child, 0, 0);
    VT_CHECK(vg_rt_send(vg_actor_rt(self), &m) == VG_OK);
}

static void test_spawn(void **unused)
{
    vg_rt_t *rt = vt_rt(2);
    sp_state_t bad = {.rc = VG_ERR_STORAGE}, good = {0}, late_bad = {.rc = VG_ERR_IO}, child = {0};
    vg_actor_handler_t dup[] = {{T_NOTE, sp_on_note}, {T_NOTE, sp_on_note}};
    vg_actor_def_t def = {.name = "dup", .handlers = dup, .n_handlers = 2, .worker = -1};
    assert_int_equal(vg_rt_spawn(rt, &def, NULL), VG_ERR_INVALID);
    vg_actor_handler_t h[] = {{T_NOTE, sp_on_note}, {T_GO, sp_on_go}};
    def = (vg_actor_def_t){
        .name = "bad", .handlers = h, .n_handlers = 2, .state = &bad, .init = sp_init, .worker = 0};
    vg_addr_t a_bad, a_good, a_late = 0;
    assert_int_equal(vg_rt_spawn(rt, &def, &a_bad), VG_OK); /* init runs at start */
    def.state = &good;
    def.name = "good";
    assert_int_equal(vg_rt_spawn(rt, &def, &a_good), VG_OK);
    vg_amsg_t *m = vt_msg(T_NOTE, a_good, 0, 0); /* queued before start */
    assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    assert_int_equal(vg_rt_start(rt), VG_ERR_STORAGE);
    assert_false(pthread_equal(bad.thread, pthread_self()));
    m = vt_msg(T_NOTE, a_bad, 0, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_ERR_CLOSED);
    vg_amsg_free(&m);
    VT_WAIT(atomic_load(&good.handled) == 1, 5000);
    /* after start: init runs now, on the worker, and its result is ours */
    def.state = &late_bad;
    def.name = "late";
    assert_int_equal(vg_rt_spawn(rt, &def, &a_late), VG_ERR_IO);
    assert_int_equal(a_late, 0);
    assert_int_equal(atomic_load(&late_bad.inits), 1);
    assert_false(pthread_equal(late_bad.thread, pthread_self()));
    /* a handler spawning onto the other worker */
    m = vt_msg(T_GO, a_good, (uint64_t) (uintptr_t) &child, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    VT_WAIT(atomic_load(&child.handled) == 1, 5000);
    assert_int_equal(atomic_load(&child.inits), 1);
    assert_int_equal(vg_rt_stop(rt, 1000), VG_OK);
    def.state = &good;
    assert_int_equal(vg_rt_spawn(rt, &def, NULL), VG_ERR_CLOSED);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

/* ---- two workers spawning onto each other at the same time ---- */

#define N_CROSS 50

static atomic_int s_cross_ok;

/* arg[0]: the child state array; spawns N_CROSS children on the other worker */
static void cross_on_go(vg_actor_t *self, vg_amsg_t **msg_p)
{
    sp_state_t *kids = (sp_state_t *) (uintptr_t) (*msg_p)->arg[0];
    for (int i = 0; i < N_CROSS; i++) {
        vg_actor_def_t def = {.name = "kid",
                              .handlers = sp_handlers,
                              .n_handlers = 1,
                              .state = &kids[i],
                              .init = sp_init,
                              .worker = 1 - vg_actor_worker(self)};
        if (vg_rt_spawn(vg_actor_rt(self), &def, NULL) == VG_OK) atomic_fetch_add(&s_cross_ok, 1);
    }
}

static void test_cross_spawn(void **unused)
{
    static sp_state_t kids[2][N_CROSS];
    vg_actor_handler_t h[] = {{T_GO, cross_on_go}};
    vg_rt_t *rt = vt_rt(2);
    vg_addr_t a[2];
    for (int i = 0; i < 2; i++) {
        vg_actor_def_t def = {.name = "parent", .handlers = h, .n_handlers = 1, .worker = i};
        assert_int_equal(vg_rt_spawn(rt, &def, &a[i]), VG_OK);
    }
    assert_int_equal(vg_rt_start(rt), VG_OK);
    for (int i = 0; i < 2; i++) {
        vg_amsg_t *m = vt_msg(T_GO, a[i], (uint64_t) (uintptr_t) kids[i], 0);
        assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    }
    VT_WAIT(atomic_load(&s_cross_ok) == 2 * N_CROSS, 10000);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < N_CROSS; k++) assert_int_equal(atomic_load(&kids[i][k].inits), 1);
    vg_amsg_t *m = vt_msg(T_GO, VG_ADDR_NONE, 0, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_ERR_INVALID);
    vg_amsg_free(&m);
    vg_rt_destroy(&rt);
}

/* ---- unhandled types ---- */

static atomic_int s_fallback_hits;

static void on_any(vg_actor_t *self, vg_amsg_t **msg_p)
{
    atomic_fetch_add(&s_fallback_hits, 1);
}

static void test_unhandled_and_fallback(void **unused)
{
    vg_rt_t *rt = vt_rt(1);
    vg_actor_handler_t h[] = {{T_NOTE, sp_on_note}};
    sp_state_t st = {0};
    vg_actor_def_t plain = {
        .name = "plain", .handlers = h, .n_handlers = 1, .state = &st, .worker = -1};
    vg_actor_def_t fb = {.name = "fb", .fallback = on_any, .worker = -1};
    vg_addr_t p, f;
    assert_int_equal(vg_rt_spawn(rt, &plain, &p), VG_OK);
    assert_int_equal(vg_rt_spawn(rt, &fb, &f), VG_OK);
    assert_int_equal(vg_rt_start(rt), VG_OK);
    for (int i = 0; i < 3; i++) {
        vg_amsg_t *m = vt_msg(0x7f, p, 0, 0);
        m->ptr = malloc(16); /* freed with the dropped message */
        m->ptr_free = free;
        assert_int_equal(vg_rt_send(rt, &m), VG_OK);
        m = vt_msg(0x7f, f, 0, 0);
        assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    }
    vg_rt_stats_t stats;
    VT_WAIT((vg_rt_stats(rt, &stats), stats.dropped == 3 && stats.delivered == 3), 5000);
    assert_int_equal(atomic_load(&s_fallback_hits), 3);
    vg_rt_destroy(&rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_request_reply),
        cmocka_unit_test(test_request_timeout_and_late_reply),
        cmocka_unit_test(test_call_from_thread),
        cmocka_unit_test(test_mailbox_cap),
        cmocka_unit_test(test_remote),
        cmocka_unit_test(test_spawn),
        cmocka_unit_test(test_cross_spawn),
        cmocka_unit_test(test_unhandled_and_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
