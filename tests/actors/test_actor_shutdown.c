/* test_actor_shutdown.c: clean shutdown: stop drains queued messages and
 * the chain reactions they cause before running fini, refuses new external
 * sends, fires pending request timeouts early; SIGTERM wakes
 * vg_signals_wait; destroy frees whatever was never delivered (LSan). */
#include "vt_util.h"

#include "vg_err.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

enum { T_HOP = VG_AMSG_USER, T_SLOW, T_ASK, T_SINK };

#define N_QUEUED 100000u
#define HOPS     3u

/* ---- drain with chain reactions ---- */

typedef struct {
    vg_addr_t peer;
    atomic_ullong finished; /* messages that reached their last hop (shared) */
    atomic_ullong from_ext; /* messages of the external thread handled */
    atomic_int fini_ran;
    uint64_t finished_at_fini;
    uint64_t ticks;
} hop_state_t;

static atomic_ullong s_finished; /* both actors count here */

static void hop_on_hop(vg_actor_t *self, vg_amsg_t **msg_p)
{
    hop_state_t *st = vg_actor_state(self);
    vg_amsg_t *m = *msg_p;
    for (volatile int spin = 0; spin < 200; spin++) {
    }
    if (m->arg[0] == 1) atomic_fetch_add(&st->from_ext, 1);
    if (m->arg[1] == 0) {
        atomic_fetch_add(&s_finished, 1);
        return;
    }
    m->arg[1]--;
    m->to = st->peer;
    VT_CHECK(vg_rt_send(vg_actor_rt(self), msg_p) == VG_OK); /* allowed while draining */
}

static void hop_on_tick(vg_actor_t *self, vg_amsg_t **msg_p)
{
    hop_state_t *st = vg_actor_state(self);
    st->ticks++;
}

static int hop_init(vg_actor_t *self)
{
    return vg_actor_timer(self, 1, 1, 0, NULL); /* must not hold up the drain */
}

static void hop_fini(vg_actor_t *self)
{
    hop_state_t *st = vg_actor_state(self);
    st->finished_at_fini = atomic_load(&s_finished);
    atomic_store(&st->fini_ran, 1);
}

typedef struct {
    vg_rt_t *rt;
    vg_addr_t to;
    uint64_t accepted;
    int last_rc;
} ext_state_t;

/* Sends until the runtime refuses with VG_ERR_CLOSED. */
static void *ext_thread(void *arg)
{
    ext_state_t *st = arg;
    for (;;) {
        vg_amsg_t *m = vt_msg(T_HOP, st->to, 1, 0);
        st->last_rc = vg_rt_send(st->rt, &m);
        if (st->last_rc != VG_OK) {
            vg_amsg_free(&m);
            break;
        }
        st->accepted++;
        if (st->accepted % 64 == 0) usleep(100);
    }
    return NULL;
}

static void spawn_hoppers(vg_rt_t *rt, hop_state_t st[2], vg_addr_t addr[2])
{
    static const vg_actor_handler_t h[] = {{T_HOP, hop_on_hop}, {VG_AMSG_TIMER, hop_on_tick}};
    for (int i = 0; i < 2; i++) {
        vg_actor_def_t def = {.name = "hop",
                              .handlers = h,
                              .n_handlers = 2,
                              .state = &st[i],
                              .init = hop_init,
                              .fini = hop_fini,
                              .worker = i};
        assert_int_equal(vg_rt_spawn(rt, &def, &addr[i]), VG_OK);
    }
    st[0].peer = addr[1];
    st[1].peer = addr[0];
}

static void queue_hops(vg_rt_t *rt, vg_addr_t to, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        vg_amsg_t *m = vt_msg(T_HOP, to, 0, HOPS);
        assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    }
}

static void test_stop_drains(void **unused)
{
    static hop_state_t st[2];
    vg_addr_t addr[2];
    atomic_store(&s_finished, 0);
    vg_rt_t *rt = vt_rt(2);
    spawn_hoppers(rt, st, addr);
    assert_int_equal(vg_rt_start(rt), VG_OK);
    ext_state_t ext = {.rt = rt, .to = addr[1]};
    pthread_t th;
    pthread_create(&th, NULL, ext_thread, &ext);
    queue_hops(rt, addr[0], N_QUEUED);
    uint64_t before = atomic_load(&s_finished);
    assert_int_equal(vg_rt_stop(rt, 30000), VG_OK);
    pthread_join(th, NULL);
    print_message("finished before stop: %llu of %u; external accepted %llu\n",
                  (unsigned long long) before, N_QUEUED, (unsigned long long) ext.accepted);
    assert_int_equal(ext.last_rc, VG_ERR_CLOSED);
    uint64_t total = N_QUEUED + ext.accepted;
    assert_int_equal(atomic_load(&s_finished), total);
    assert_int_equal(atomic_load(&st[0].from_ext) + atomic_load(&st[1].from_ext), ext.accepted);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(atomic_load(&st[i].fini_ran), 1);
        assert_int_equal(st[i].finished_at_fini, total); /* fini after the drain */
    }
    vg_amsg_t *m = vt_msg(T_HOP, addr[0], 0, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_ERR_CLOSED);
    vg_amsg_free(&m);
    assert_int_equal(vg_rt_stop(rt, 10), VG_OK); /* idempotent */
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

/* ---- pending request timeouts fire at stop ---- */

typedef struct {
    vg_addr_t server;
    atomic_int status, timeouts;
} ask_state_t;

static void ask_on_ask(vg_actor_t *self, vg_amsg_t **msg_p)
{
    ask_state_t *st = vg_actor_state(self);
    vg_amsg_t *req = vt_msg(T_SINK, st->server, 0, 0);
    VT_CHECK(vg_actor_request(self, &req, 60000) == VG_OK);
}

static void ask_on_timeout(vg_actor_t *self, vg_amsg_t **msg_p)
{
    ask_state_t *st = vg_actor_state(self);
    atomic_store(&st->status, (*msg_p)->status);
    atomic_fetch_add(&st->timeouts, 1);
}

static void sink_on_sink(vg_actor_t *self, vg_amsg_t **msg_p)
{
}

static void test_stop_fires_pending_timeouts(void **unused)
{
    static const vg_actor_handler_t ask_h[] = {{T_ASK, ask_on_ask},
                                               {VG_AMSG_TIMEOUT, ask_on_timeout}};
    static const vg_actor_handler_t sink_h[] = {{T_SINK, sink_on_sink}};
    ask_state_t st = {0};
    vg_rt_t *rt = vt_rt(2);
    vg_actor_def_t sink = {.name = "sink", .handlers = sink_h, .n_handlers = 1, .worker = 1};
    vg_actor_def_t ask = {
        .name = "ask", .handlers = ask_h, .n_handlers = 2, .state = &st, .worker = 0};
    vg_addr_t a;
    assert_int_equal(vg_rt_spawn(rt, &sink, &st.server), VG_OK);
    assert_int_equal(vg_rt_spawn(rt, &ask, &a), VG_OK);
    assert_int_equal(vg_rt_start(rt), VG_OK);
    vg_amsg_t *m = vt_msg(T_ASK, a, 0, 0);
    assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    vg_rt_stats_t stats;
    VT_WAIT((vg_rt_stats(rt, &stats), stats.delivered == 2), 5000);
    uint64_t t0 = vg_now_ns();
    assert_int_equal(vg_rt_stop(rt, 20000), VG_OK);
    assert_true(vg_now_ns() - t0 < 5000000000ull); /* not the 60 s timeout */
    assert_int_equal(atomic_load(&st.timeouts), 1);
    assert_int_equal(atomic_load(&st.status), VG_ERR_CLOSED);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

/* ---- signals ---- */

static void *kill_later(void *arg)
{
    usleep(20 * 1000);
    kill(getpid(), SIGTERM);
    return NULL;
}

static void test_sigterm_then_drain(void **unused)
{
    static hop_state_t st[2];
    vg_addr_t addr[2];
    atomic_store(&s_finished, 0);
    assert_int_equal(vg_signals_wait(10), 0); /* nothing pending: timeout */
    raise(SIGINT);
    assert_int_equal(vg_signals_wait(1000), SIGINT);
    vg_rt_t *rt = vt_rt(2);
    spawn_hoppers(rt, st, addr);
    assert_int_equal(vg_rt_start(rt), VG_OK);
    queue_hops(rt, addr[0], 50000);
    pthread_t th;
    pthread_create(&th, NULL, kill_later, NULL);
    assert_int_equal(vg_signals_wait(10000), SIGTERM);
    pthread_join(th, NULL);
    assert_int_equal(vg_rt_stop(rt, 30000), VG_OK);
    assert_int_equal(atomic_load(&s_finished), 50000);
    assert_int_equal(atomic_load(&st[0].fini_ran) + atomic_load(&st[1].fini_ran), 2);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

/* ---- destroy frees the undelivered ---- */

static atomic_int s_slow_fini;

static void slow_on_slow(vg_actor_t *self, vg_amsg_t **msg_p)
{
    usleep(5000);
}

static void slow_fini(vg_actor_t *self)
{
    atomic_store(&s_slow_fini, 1);
}

static void queue_payloads(vg_rt_t *rt, vg_addr_t to, int n)
{
    for (int i = 0; i < n; i++) {
        vg_amsg_t *m = vt_msg(T_SLOW, to, 0, 0);
        m->ptr = malloc(100);
        m->ptr_free = free;
        assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    }
}

static void test_destroy_undelivered(void **unused)
{
    static const vg_actor_handler_t h[] = {{T_SLOW, slow_on_slow}};
    vg_actor_def_t def = {
        .name = "slow", .handlers = h, .n_handlers = 1, .fini = slow_fini, .worker = -1};
    vg_addr_t a;
    /* never started */
    vg_rt_t *rt = vt_rt(2);
    assert_int_equal(vg_rt_spawn(rt, &def, &a), VG_OK);
    queue_payloads(rt, a, 1000);
    vg_inbox_t *in = vg_inbox_new(rt);
    vg_amsg_t *m = vt_msg(T_SLOW, vg_inbox_addr(in), 0, 0);
    m->ptr = malloc(10);
    m->ptr_free = free;
    assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    vg_inbox_destroy(&in);
    vg_rt_destroy(&rt);
    assert_int_equal(atomic_load(&s_slow_fini), 0); /* init/fini never ran */
    /* started, drain gives up: fini still runs, destroy frees the rest */
    rt = vt_rt(2);
    assert_int_equal(vg_rt_spawn(rt, &def, &a), VG_OK);
    assert_int_equal(vg_rt_start(rt), VG_OK);
    queue_payloads(rt, a, 200);
    assert_int_equal(vg_rt_stop(rt, 30), VG_ERR_TIMEOUT);
    assert_int_equal(atomic_load(&s_slow_fini), 1);
    vg_rt_stats_t stats;
    vg_rt_stats(rt, &stats);
    assert_true(stats.delivered < 200);
    vg_rt_destroy(&rt);
}

int main(void)
{
    vg_signals_block(); /* before any thread exists */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_drains),
        cmocka_unit_test(test_stop_fires_pending_timeouts),
        cmocka_unit_test(test_sigterm_then_drain),
        cmocka_unit_test(test_destroy_undelivered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
