/* test_jw.c: the JSON writer: commas, nesting, escaping, invalid UTF-8
 * replacement, numbers; every output is re-parsed by jansson. Numbers are
 * also checked byte for byte against their printf definition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_jw.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *s_parse(const vg_jw_t *w)
{
    json_error_t e;
    json_t *j = json_loadb(w->buf, w->len, 0, &e);
    if (!j) fail_msg("invalid JSON '%s': %s", w->buf, e.text);
    return j;
}

static void test_structure_and_values(void **state)
{
    (void) state;
    vg_jw_t w;
    vg_jw_init(&w);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "s", "a\"b\\c\n\x01");
    vg_jw_knum(&w, "pi", 3.141592653589793);
    vg_jw_knum(&w, "nan", NAN);
    vg_jw_kint(&w, "big", -9007199254740993LL);
    vg_jw_kbool(&w, "t", true);
    vg_jw_key(&w, "arr");
    vg_jw_arr_begin(&w);
    vg_jw_num(&w, 1);
    vg_jw_obj_begin(&w);
    vg_jw_obj_end(&w);
    vg_jw_null(&w);
    vg_jw_str(&w, (vg_str_t){"\xff\xc3\xa9", 3});
    vg_jw_arr_end(&w);
    vg_jw_key(&w, "ts");
    vg_jw_ts(&w, 0);
    vg_jw_obj_end(&w);
    json_t *j = s_parse(&w);
    assert_string_equal(json_string_value(json_object_get(j, "s")), "a\"b\\c\n\x01");
    assert_true(json_real_value(json_object_get(j, "pi")) == 3.141592653589793);
    assert_true(json_is_null(json_object_get(j, "nan")));
    assert_true(json_integer_value(json_object_get(j, "big")) == -9007199254740993LL);
    json_t *arr = json_object_get(j, "arr");
    assert_int_equal(json_array_size(arr), 4);
    assert_string_equal(json_string_value(json_array_get(arr, 3)), "\xef\xbf\xbd\xc3\xa9");
    assert_string_equal(json_string_value(json_object_get(j, "ts")), "1970-01-01T00:00:00.000Z");
    json_decref(j);
    /* reuse after reset */
    vg_jw_reset(&w);
    vg_jw_arr_begin(&w);
    vg_jw_arr_end(&w);
    assert_string_equal(w.buf, "[]");
    vg_jw_fini(&w);
}

/* vg_jw_num's definition, through printf: what the formatter must match. */
static size_t s_num_ref(double v, char *buf, size_t cap)
{
    int n;
    if (!isfinite(v)) {
        n = snprintf(buf, cap, "null");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        n = snprintf(buf, cap, "%.0f", v);
    } else {
        n = snprintf(buf, cap, "%.15g", v);
        if (strtod(buf, NULL) != v) n = snprintf(buf, cap, "%.17g", v);
    }
    return (size_t) n;
}

static void s_num_check(vg_jw_t *w, double v)
{
    char want[40];
    size_t n = s_num_ref(v, want, sizeof want);
    vg_jw_reset(w);
    vg_jw_num(w, v);
    if (w->len != n || memcmp(w->buf, want, n)) fail_msg("%a: '%s', want '%s'", v, w->buf, want);
}

static uint64_t s_rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static double s_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* The same bytes as printf for every kind of double: integers, the exact
 * path's range (1e-5 <= |v| < 1e15) with its edges, ties at 15 and 17
 * digits (short dyadic values), powers of two and ten and their
 * neighbours, and the rest (printf itself). */
static void test_numbers_match_printf(void **state)
{
    (void) state;
    vg_jw_t w;
    vg_jw_init(&w);
    static const struct {
        double v;
        const char *text;
    } fixed[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {42, "42"},
        {-7, "-7"},
        {999999999999999.0, "999999999999999"},
        {1e15, "1e+15"},
        {0.1, "0.1"},
        {1.0 / 3, "0.33333333333333331"},
        {-2.5e-5, "-2.5e-05"},
        {1e-5, "1e-05"},
        {123456.789, "123456.789"},
        {100000000000000.5, "100000000000000.5"},
        {0.97, "0.97"},
        {5e-324, "4.94065645841247e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {NAN, "null"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        vg_jw_reset(&w);
        vg_jw_num(&w, fixed[i].v);
        assert_string_equal(w.buf, fixed[i].text);
        s_num_check(&w, fixed[i].v);
    }
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 100000; i++) {
        uint64_t exp = 1000 + s_rng(&x) % 90; /* about 2^-23 .. 2^66 */
        double v = s_bits((s_rng(&x) >> 12) | exp << 52 | (s_rng(&x) & 1) << 63);
        s_num_check(&w, v);
        s_num_check(&w, s_bits(s_rng(&x))); /* any double */
        double dec = (double) (s_rng(&x) % 2000000000) / pow(10, (double) (s_rng(&x) % 16));
        s_num_check(&w, dec);
        s_num_check(&w, nextafter(dec, 0));
        s_num_check(&w, nextafter(dec, INFINITY));
        s_num_check(&w, ldexp((double) (s_rng(&x) >> 11), -(int) (s_rng(&x) % 60)));
        double p10 = pow(10, (double) (s_rng(&x) % 24) - 7);
        s_num_check(&w, p10);
        s_num_check(&w, nextafter(p10, 0));
        s_num_check(&w, nextafter(p10, INFINITY));
        double p2 = ldexp(1, (int) (s_rng(&x) % 72) - 20);
        s_num_check(&w, p2);
        s_num_check(&w, nextafter(p2, 0));
        s_num_check(&w, nextafter(p2, INFINITY));
    }
    vg_jw_fini(&w);
}

static void test_int(void **state)
{
    (void) state;
    vg_jw_t w;
    vg_jw_init(&w);
    const int64_t vals[] = {0, -1, 7, INT64_MAX, INT64_MIN, 1000000, -987654321012345LL};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long) vals[i]);
        vg_jw_reset(&w);
        vg_jw_int(&w, vals[i]);
        assert_string_equal(w.buf, want);
    }
    vg_jw_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_structure_and_values),
                                       cmocka_unit_test(test_numbers_match_printf),
                                       cmocka_unit_test(test_int)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
