/* test_jw.c: the JSON writer: commas, nesting, escaping, invalid UTF-8
 * replacement, numbers; every output is re-parsed by jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_jw.h"

#include <jansson.h>
#include <math.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_structure_and_values)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
