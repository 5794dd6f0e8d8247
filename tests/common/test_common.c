/* test_common.c: common/ helpers: error names, arena, string map (against
 * a brute-force model, with deletions), histogram quantiles, Prometheus
 * text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_arena.h"
#include "vg_err.h"
#include "vg_metrics.h"
#include "vg_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_errors(void **state)
{
    (void) state;
    assert_string_equal(vg_strerror(VG_ERR_NOT_FOUND), "not found");
    assert_string_equal(vg_errname(VG_ERR_TOO_LARGE), "TOO_LARGE");
    assert_string_equal(vg_strerror(12345), "unknown error");
}

static void test_arena(void **state)
{
    (void) state;
    vg_arena_t a = VG_ARENA_INIT;
    a.min_block = 64;
    char *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = vg_arena_alloc(&a, 40);
        assert_int_equal((uintptr_t) p[i] % 16, 0);
        memset(p[i], i, 40);
    }
    for (int i = 0; i < 100; i++) assert_int_equal((unsigned char) p[i][39], i);
    vg_arena_reset(&a);
    assert_non_null(a.head);
    assert_string_equal(vg_arena_strndup(&a, "hello", 3), "hel");
    vg_arena_fini(&a);
    assert_null(a.head);
}

static void test_strmap_against_model(void **state)
{
    (void) state;
    enum { N = 5000 };
    static char keys[N][16];
    static int model[N];
    vg_strmap_t m;
    vg_strmap_init(&m, 4);
    srand(7);
    for (int i = 0; i < N; i++) snprintf(keys[i], 16, "k%d", i);
    for (int step = 0; step < 200000; step++) {
        int k = rand() % N, op = rand() % 3;
        vg_str_t key = vg_str_c(keys[k]);
        if (op == 0) {
            vg_strmap_put(&m, key, &model[k]);
            model[k] = 1;
        } else if (op == 1) {
            void *v = vg_strmap_del(&m, key);
            assert_true((v != NULL) == (model[k] == 1));
            model[k] = 0;
        } else {
            assert_true((vg_strmap_get(&m, key) != NULL) == (model[k] == 1));
        }
    }
    size_t live = 0;
    for (int i = 0; i < N; i++) live += (size_t) model[i];
    assert_int_equal(m.len, live);
    vg_strmap_fini(&m);
}

static void test_histogram_and_prom(void **state)
{
    (void) state;
    vg_hist_t h;
    vg_hist_init(&h, vg_hist_latency_bounds, vg_hist_latency_n);
    for (int i = 0; i < 900; i++) vg_hist_observe_ns(&h, 300000);  /* 0.3 ms */
    for (int i = 0; i < 100; i++) vg_hist_observe_ns(&h, 3000000); /* 3 ms */
    double p50 = vg_hist_quantile(&h, 0.5), p99 = vg_hist_quantile(&h, 0.99);
    assert_true(p50 > 0.00025 && p50 <= 0.0005);
    assert_true(p99 > 0.002 && p99 <= 0.005);
    vg_prom_t p;
    vg_prom_init(&p);
    vg_prom_hist(&p, "x_seconds", "help", &h);
    vg_prom_sample(&p, "y_total", "code=\"200\"", 5);
    assert_non_null(strstr(p.buf, "x_seconds_bucket{le=\"+Inf\"} 1000\n"));
    assert_non_null(strstr(p.buf, "x_seconds_count 1000\n"));
    assert_non_null(strstr(p.buf, "y_total{code=\"200\"} 5\n"));
    vg_prom_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_strmap_against_model),
        cmocka_unit_test(test_histogram_and_prom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
