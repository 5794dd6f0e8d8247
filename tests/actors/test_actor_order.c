/* test_actor_order.c: delivery guarantees under load: per-sender FIFO for
 * 1M messages from each of several senders (plain threads, a thread sending
 * chains, actors on every worker) through a bounded mailbox, and an actor
 * hammered from all workers is never run by two threads at once. */
#include "vt_util.h"

#include "vg_err.h"

#include <pthread.h>
#include <sched.h>

enum { T_SEQ = VG_AMSG_USER, T_GO };

#define N_PER_SENDER 1000000u
#define MAX_SENDERS  8

/* ---- FIFO per sender ---- */

typedef struct {
    uint64_t expect[MAX_SENDERS]; /* next seq per sender; receiver only */
    atomic_ullong total;
} rx_state_t;

static void rx_on_seq(vg_actor_t *self, vg_amsg_t **msg_p)
{
    rx_state_t *st = vg_actor_state(self);
    uint64_t sender = (*msg_p)->arg[0], seq = (*msg_p)->arg[1];
    VT_CHECK(sender < MAX_SENDERS);
    if (sender >= MAX_SENDERS) return;
    if (seq != st->expect[sender])
        fprintf(stderr, "sender %llu: got %llu, expected %llu\n", (unsigned long long) sender,
                (unsigned long long) seq, (unsigned long long) st->expect[sender]);
    VT_CHECK(seq == st->expect[sender]);
    st->expect[sender] = seq + 1;
    atomic_fetch_add_explicit(&st->total, 1, memory_order_relaxed);
}

typedef struct {
    vg_rt_t *rt;
    vg_addr_t to;
    uint64_t id, next, n;
    int chain; /* messages per vg_rt_send_chain, 0 = vg_rt_send */
} tx_state_t;

/* Sends one message (or chain) starting at st->next, retrying on FULL only
 * when may_spin (threads); returns false when the mailbox was full. */
static bool tx_one(tx_state_t *st, bool may_spin)
{
    size_t n = st->chain ? (size_t) st->chain : 1;
    if (n > st->n - st->next) n = (size_t) (st->n - st->next);
    vg_amsg_t *head = NULL, *tail = NULL;
    for (size_t i = 0; i < n; i++) {
        vg_amsg_t *m = vt_msg(T_SEQ, st->to, st->id, st->next + i);
        if (tail)
            tail->next = m;
        else
            head = m;
        tail = m;
    }
    for (;;) {
        int rc = vg_rt_send_chain(st->rt, st->to, head, tail, n);
        if (rc == VG_OK) break;
        VT_CHECK(rc == VG_ERR_FULL);
        if (!may_spin || rc != VG_ERR_FULL) {
            vg_amsg_free_chain(head);
            return false;
        }
        sched_yield();
    }
    st->next += n;
    return true;
}

static void *tx_thread(void *arg)
{
    tx_state_t *st = arg;
    while (st->next < st->n) tx_one(st, true);
    return NULL;
}

/* An actor sender: up to 4096 per turn, then it yields by mailing itself. */
static void tx_on_go(vg_actor_t *self, vg_amsg_t **msg_p)
{
    tx_state_t *st = vg_actor_state(self);
    for (int i = 0; i < 4096 && st->next < st->n; i++)
        if (!tx_one(st, false)) break;
    if (st->next >= st->n) return;
    (*msg_p)->to = vg_actor_addr(self);
    VT_CHECK(vg_rt_send(st->rt, msg_p) == VG_OK);
}

static void test_fifo_per_sender(void **unused)
{
    static const vg_actor_handler_t rx_h[] = {{T_SEQ, rx_on_seq}};
    static const vg_actor_handler_t tx_h[] = {{T_GO, tx_on_go}};
    static rx_state_t rx;
    vg_rt_t *rt = vt_rt(2);
    vg_actor_def_t def = {.name = "rx",
                          .handlers = rx_h,
                          .n_handlers = 1,
                          .state = &rx,
                          .worker = 0,
                          .mailbox_cap = 8192};
    vg_addr_t to;
    assert_int_equal(vg_rt_spawn(rt, &def, &to), VG_OK);
    /* senders 0-1: threads, 2: a thread sending chains of 64, 3-4: actors */
    tx_state_t tx[5];
    for (int i = 0; i < 5; i++)
        tx[i] = (tx_state_t){
            .rt = rt, .to = to, .id = (uint64_t) i, .n = N_PER_SENDER, .chain = i == 2 ? 64 : 0};
    vg_addr_t actors[2];
    for (int i = 0; i < 2; i++) {
        vg_actor_def_t d = {
            .name = "tx", .handlers = tx_h, .n_handlers = 1, .state = &tx[3 + i], .worker = i};
        assert_int_equal(vg_rt_spawn(rt, &d, &actors[i]), VG_OK);
    }
    assert_int_equal(vg_rt_start(rt), VG_OK);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, tx_thread, &tx[i]);
    for (int i = 0; i < 2; i++) {
        vg_amsg_t *m = vt_msg(T_GO, actors[i], 0, 0);
        assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    }
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    VT_WAIT(atomic_load(&rx.total) == 5ull * N_PER_SENDER, 60000 * VT_SLOW);
    for (int i = 0; i < 5; i++) assert_int_equal(rx.expect[i], N_PER_SENDER);
    assert_int_equal(vg_rt_stop(rt, 1000), VG_OK);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

/* ---- never run concurrently ---- */

#define N_HAMMER 20000u

typedef struct {
    atomic_int guard; /* 1 while a handler runs */
    uint64_t counter; /* deliberately not atomic */
    pthread_t thread; /* the one thread that ever runs it */
    int have_thread;
    atomic_ullong done; /* published copy of counter */
} ex_state_t;

static void ex_on_seq(vg_actor_t *self, vg_amsg_t **msg_p)
{
    ex_state_t *st = vg_actor_state(self);
    VT_CHECK(atomic_exchange(&st->guard, 1) == 0);
    if (!st->have_thread) {
        st->thread = pthread_self();
        st->have_thread = 1;
    }
    VT_CHECK(pthread_equal(st->thread, pthread_self()));
    uint64_t c = st->counter;
    for (volatile int spin = 0; spin < 20; spin++) {
    }
    st->counter = c + 1;
    atomic_store(&st->done, st->counter);
    atomic_store(&st->guard, 0);
}

static void test_never_concurrent(void **unused)
{
    static const vg_actor_handler_t ex_h[] = {{T_SEQ, ex_on_seq}};
    static const vg_actor_handler_t tx_h[] = {{T_GO, tx_on_go}};
    static ex_state_t ex;
    vg_rt_t *rt = vt_rt(4);
    vg_actor_def_t def = {
        .name = "ex", .handlers = ex_h, .n_handlers = 1, .state = &ex, .worker = -1};
    vg_addr_t to, senders[8];
    assert_int_equal(vg_rt_spawn(rt, &def, &to), VG_OK);
    tx_state_t tx[10];
    for (int i = 0; i < 10; i++)
        tx[i] = (tx_state_t){.rt = rt,
                             .to = to,
                             .id = (uint64_t) i % MAX_SENDERS,
                             .n = N_HAMMER,
                             .chain = i % 3 == 0 ? 16 : 0};
    for (int i = 0; i < 8; i++) { /* two per worker */
        vg_actor_def_t d = {
            .name = "tx", .handlers = tx_h, .n_handlers = 1, .state = &tx[i], .worker = i % 4};
        assert_int_equal(vg_rt_spawn(rt, &d, &senders[i]), VG_OK);
    }
    assert_int_equal(vg_rt_start(rt), VG_OK);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, tx_thread, &tx[8 + i]);
    for (int i = 0; i < 8; i++) {
        vg_amsg_t *m = vt_msg(T_GO, senders[i], 0, 0);
        assert_int_equal(vg_rt_send(rt, &m), VG_OK);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    VT_WAIT(atomic_load(&ex.done) == 10ull * N_HAMMER, 30000 * VT_SLOW);
    assert_int_equal(vg_rt_stop(rt, 1000), VG_OK);
    assert_int_equal(ex.counter, 10ull * N_HAMMER);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_per_sender),
        cmocka_unit_test(test_never_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
