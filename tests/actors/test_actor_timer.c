/* test_actor_timer.c: timers as messages: a one-shot fires no earlier than
 * its deadline and within a loose bound, many timers fire once each in
 * deadline order, periodic timers repeat, and cancel stops a timer even
 * when its ticks are already queued. Bounds are loose (loaded CI, ASan). */
#include "vt_util.h"

#include "vg_err.h"

#include <string.h>

enum { T_START = VG_AMSG_USER, T_MANY, T_CANCEL_NOW, T_BUSY };

#define MAX_FIRES 1100

typedef struct {
    uint64_t set_ns;       /* when the (last) timer was started */
    uint64_t id;           /* the (last) timer */
    uint64_t cancel_after; /* cancel in the handler after this many fires */
    int cancel_rc, recancel_rc;
    uint64_t fire_ns[MAX_FIRES], tag[MAX_FIRES], due_ns[MAX_FIRES];
    uint64_t arm_span_ns; /* how long arming the 1000 timers took */
    atomic_int fires;
} tm_state_t;

/* arg[0] = delay ms, arg[1] = period ms */
static void tm_on_start(vg_actor_t *self, vg_amsg_t **msg_p)
{
    tm_state_t *st = vg_actor_state(self);
    st->set_ns = vg_now_ns();
    uint32_t delay = (uint32_t) (*msg_p)->arg[0], period = (uint32_t) (*msg_p)->arg[1];
    VT_CHECK(vg_actor_timer(self, delay, period, delay, &st->id) == VG_OK);
}

/* 1000 one-shots with scattered delays; due_ns is indexed by tag */
static void tm_on_many(vg_actor_t *self, vg_amsg_t **msg_p)
{
    tm_state_t *st = vg_actor_state(self);
    uint64_t t0 = vg_now_ns();
    for (uint64_t i = 0; i < 1000; i++) {
        uint32_t delay = (uint32_t) ((i * 7919) % 60);
        st->due_ns[i] = vg_now_ns() + delay * 1000000ull;
        VT_CHECK(vg_actor_timer(self, delay, 0, i, NULL) == VG_OK);
    }
    st->arm_span_ns = vg_now_ns() - t0;
}

static void tm_on_cancel_now(vg_actor_t *self, vg_amsg_t **msg_p)
{
    tm_state_t *st = vg_actor_state(self);
    VT_CHECK(vg_actor_timer(self, 30, 0, 1, &st->id) == VG_OK);
    st->cancel_rc = vg_actor_timer_cancel(self, st->id);
    st->recancel_rc = vg_actor_timer_cancel(self, st->id);
}

/* a 1 ms periodic timer whose ticks pile up while the handler is busy */
static void tm_on_busy(vg_actor_t *self, vg_amsg_t **msg_p)
{
    tm_state_t *st = vg_actor_state(self);
    VT_CHECK(vg_actor_timer(self, 1, 1, 9, &st->id) == VG_OK);
    uint64_t until = vg_now_ns() + 20000000u;
    while (vg_now_ns() < until) {
    }
    st->cancel_rc = vg_actor_timer_cancel(self, st->id);
}

static void tm_on_timer(vg_actor_t *self, vg_amsg_t **msg_p)
{
    tm_state_t *st = vg_actor_state(self);
    int n = atomic_load(&st->fires);
    VT_CHECK((*msg_p)->arg[1] != 0);
    if (n < MAX_FIRES) {
        st->fire_ns[n] = vg_now_ns();
        st->tag[n] = (*msg_p)->arg[0];
    }
    atomic_store(&st->fires, n + 1);
    if (st->cancel_after && (uint64_t) n + 1 == st->cancel_after) {
        st->cancel_rc = vg_actor_timer_cancel(self, (*msg_p)->arg[1]);
        st->recancel_rc = vg_actor_timer_cancel(self, (*msg_p)->arg[1]);
    }
}

static tm_state_t s_st;

static vg_rt_t *tm_setup(vg_addr_t *addr)
{
    static const vg_actor_handler_t h[] = {{T_START, tm_on_start},
                                           {T_MANY, tm_on_many},
                                           {T_CANCEL_NOW, tm_on_cancel_now},
                                           {T_BUSY, tm_on_busy},
                                           {VG_AMSG_TIMER, tm_on_timer}};
    memset(&s_st, 0, sizeof s_st);
    vg_rt_t *rt = vt_rt(2);
    vg_actor_def_t def = {
        .name = "timed", .handlers = h, .n_handlers = 5, .state = &s_st, .worker = -1};
    assert_int_equal(vg_rt_spawn(rt, &def, addr), VG_OK);
    assert_int_equal(vg_rt_start(rt), VG_OK);
    return rt;
}

static void tm_send(vg_rt_t *rt, vg_addr_t to, uint16_t type, uint64_t a0, uint64_t a1)
{
    vg_amsg_t *m = vt_msg(type, to, a0, a1);
    assert_int_equal(vg_rt_send(rt, &m), VG_OK);
}

static void test_one_shot_accuracy(void **unused)
{
    vg_addr_t a;
    vg_rt_t *rt = tm_setup(&a);
    tm_send(rt, a, T_START, 50, 0);
    VT_WAIT(atomic_load(&s_st.fires) == 1, 5000);
    uint64_t late = s_st.fire_ns[0] - s_st.set_ns;
    assert_true(late >= 50000000u);                         /* never early */
    assert_true(late <= (50u + 200u * VT_SLOW) * 1000000u); /* loose */
    assert_int_equal(s_st.tag[0], 50);
    usleep(60 * 1000);
    assert_int_equal(atomic_load(&s_st.fires), 1); /* one-shot */
    assert_int_equal(vg_rt_stop(rt, 1000), VG_OK);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

static void test_many_in_order(void **unused)
{
    vg_addr_t a;
    vg_rt_t *rt = tm_setup(&a);
    tm_send(rt, a, T_MANY, 0, 0);
    VT_WAIT(atomic_load(&s_st.fires) == 1000, 10000);
    usleep(20 * 1000);
    assert_int_equal(atomic_load(&s_st.fires), 1000);
    static int seen[1000];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 1000; i++) {
        uint64_t tag = s_st.tag[i];
        assert_true(tag < 1000);
        seen[tag]++;
        assert_true(s_st.fire_ns[i] >= s_st.due_ns[tag]);
        /* deadlines are whole ms apart or equal: order by deadline, give or
         * take how long the arming loop ran (a loaded machine preempts it) */
        if (i > 0)
            assert_true(s_st.due_ns[s_st.tag[i - 1]] <=
                        s_st.due_ns[tag] + 1000000u + s_st.arm_span_ns);
    }
    for (int i = 0; i < 1000; i++) assert_int_equal(seen[i], 1);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

static void test_periodic(void **unused)
{
    vg_addr_t a;
    vg_rt_t *rt = tm_setup(&a);
    s_st.cancel_after = 5;
    tm_send(rt, a, T_START, 20, 20);
    VT_WAIT(atomic_load(&s_st.fires) == 5, 5000);
    usleep(100 * 1000);
    assert_int_equal(atomic_load(&s_st.fires), 5);
    assert_int_equal(s_st.cancel_rc, VG_OK);
    assert_int_equal(s_st.recancel_rc, VG_ERR_NOT_FOUND);
    /* ticks follow deadlines (20, 40, ... ms), not handler times */
    assert_true(s_st.fire_ns[4] - s_st.set_ns >= 100000000u);
    assert_true(s_st.fire_ns[4] - s_st.set_ns <= (100u + 300u * VT_SLOW) * 1000000u);
    for (int i = 1; i < 5; i++) assert_true(s_st.fire_ns[i] > s_st.fire_ns[i - 1]);
    assert_int_equal(vg_rt_stop(rt, 1000), VG_OK);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

static void test_cancel(void **unused)
{
    vg_addr_t a;
    vg_rt_t *rt = tm_setup(&a);
    tm_send(rt, a, T_CANCEL_NOW, 0, 0);
    usleep(100 * 1000);
    assert_int_equal(atomic_load(&s_st.fires), 0);
    assert_int_equal(s_st.cancel_rc, VG_OK);
    assert_int_equal(s_st.recancel_rc, VG_ERR_NOT_FOUND);
    /* ticks already queued when cancel runs are not handled either */
    tm_send(rt, a, T_BUSY, 0, 0);
    usleep(100 * 1000);
    assert_int_equal(s_st.cancel_rc, VG_OK);
    assert_int_equal(atomic_load(&s_st.fires), 0);
    vg_rt_stats_t stats;
    vg_rt_stats(rt, &stats);
    assert_true(stats.dropped >= 1); /* the queued ticks */
    assert_int_equal(vg_rt_stop(rt, 1000), VG_OK);
    vg_rt_destroy(&rt);
    VT_NO_ERRORS();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_shot_accuracy),
        cmocka_unit_test(test_many_in_order),
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
