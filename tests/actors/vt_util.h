/* vt_util.h: helpers shared by the actor tests: polling waits with a
 * deadline, a message constructor, and a slack factor that widens timing
 * bounds in sanitizer builds (ASan on a loaded 2-core machine is slow). */
#ifndef VT_UTIL_H
#define VT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_actor.h"
#include "vg_time.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#ifdef VG_SANITIZED
#define VT_SLOW 4
#else
#define VT_SLOW 1
#endif

/* Polls expr every 0.5 ms until it holds or ms milliseconds pass, then
 * asserts it. */
#define VT_WAIT(expr, ms)                                                \
    do {                                                                 \
        uint64_t vt_deadline_ = vg_now_ns() + (uint64_t) (ms) *1000000u; \
        while (!(expr) && vg_now_ns() < vt_deadline_) usleep(500);       \
        assert_true(expr);                                               \
    } while (0)

/* cmocka asserts must not run on worker threads: handlers use VT_CHECK,
 * which counts failures that the test body then asserts are zero. */
static atomic_int vt_errors __attribute__((unused));
#define VT_CHECK(expr)                                                               \
    do {                                                                             \
        if (!(expr)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
            atomic_fetch_add(&vt_errors, 1);                                         \
        }                                                                            \
    } while (0)
#define VT_NO_ERRORS() assert_int_equal(atomic_load(&vt_errors), 0)

static inline vg_amsg_t *vt_msg(uint16_t type, vg_addr_t to, uint64_t a0, uint64_t a1)
{
    vg_amsg_t *m = vg_amsg_new(type);
    m->to = to;
    m->arg[0] = a0;
    m->arg[1] = a1;
    return m;
}

static inline vg_rt_t *vt_rt(int workers)
{
    vg_rt_config_t cfg = {.workers = workers, .node_id = 1};
    return vg_rt_new(&cfg);
}

#endif
