/* test_train_io.c: vigil-train's inputs: the numeric CSV reader (quoting,
 * missing cells, errors naming row and column), the three label file
 * shapes, and the replay of transactions through the node's feature code
 * (same snapshots as calling vg_features_update directly, duplicates and
 * invalid items skipped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_csv.h"
#include "vg_err.h"
#include "vg_labels.h"
#include "vg_mem.h"
#include "vg_replay.h"
#include "vg_txcsv.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static char *s_dup(const char *s)
{
    return vg_strdup(s);
}

/* ---- CSV ---------------------------------------------------------------- */

static void test_csv_parse(void **state)
{
    (void) state;
    const char *text = "\xef\xbb\xbf"
                       "a,\"b c\",label\r\n"
                       "1,2.5,0\r\n"
                       "\n"
                       "-3e2,,1\n"
                       "\"4\", nan ,0";
    vg_csv_t t;
    char err[256];
    assert_int_equal(vg_csv_parse(text, strlen(text), "x.csv", &t, err, sizeof err), 0);
    assert_int_equal(t.cols, 3);
    assert_int_equal(t.rows, 3);
    assert_string_equal(t.names[1], "b c");
    assert_int_equal(vg_csv_column(&t, "label"), 2);
    assert_int_equal(vg_csv_column(&t, "nope"), -1);
    assert_float_equal(t.cells[1], 2.5, 0);
    assert_float_equal(t.cells[3], -300, 0);
    assert_true(isnan(t.cells[4])); /* empty cell: missing */
    assert_float_equal(t.cells[6], 4, 0);
    assert_true(isnan(t.cells[7]));
    vg_csv_fini(&t);
}

static void s_csv_fails(const char *text, const char *why)
{
    vg_csv_t t;
    char err[256] = "";
    assert_int_equal(vg_csv_parse(text, strlen(text), "x.csv", &t, err, sizeof err), VG_ERR_PARSE);
    if (!strstr(err, why)) fail_msg("expected '%s' in '%s'", why, err);
}

static void test_csv_errors(void **state)
{
    (void) state;
    s_csv_fails("a,b\n1,2\n3,abc\n", "x.csv: row 2 (line 3), column 2 'b': 'abc' is not a number");
    s_csv_fails("a,b\n1,2,3\n", "row 1 (line 2): more than the header's 2 columns");
    s_csv_fails("a,b\n1\n", "row 1 (line 2): 1 columns, the header has 2");
    s_csv_fails("a,a\n1,2\n", "'a' appears twice");
    s_csv_fails("a,b\n\"1,2\n", "unterminated quote");
    s_csv_fails("", "empty");
    s_csv_fails("a\n1x\n", "'1x' is not a number");
}

/* ---- labels ------------------------------------------------------------- */

static void s_labels(const char *text, vg_labels_t *l)
{
    char err[256];
    int rc = vg_labels_parse(s_dup(text), strlen(text), "labels", l, err, sizeof err);
    if (rc) fail_msg("%s", err);
}

static void test_labels_shapes(void **state)
{
    (void) state;
    vg_labels_t l;
    s_labels("id,label,kind\nt1,0,routine\nt2,1,velocity\n\"t3\",1,x\r\n", &l);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.n_pos, 2);
    assert_int_equal(vg_labels_get(&l, vg_str_c("t1")), 0);
    assert_int_equal(vg_labels_get(&l, vg_str_c("t2")), 1);
    assert_int_equal(vg_labels_get(&l, vg_str_c("t3")), 1);
    assert_int_equal(vg_labels_get(&l, vg_str_c("t4")), -1);
    vg_labels_fini(&l);
    s_labels("kind,label,id\nx,1,a\n", &l); /* columns found by name */
    assert_int_equal(vg_labels_get(&l, vg_str_c("a")), 1);
    vg_labels_fini(&l);
    s_labels(" {\"a\": 1, \"b\": 0, \"c\": true, \"d\\u0021\": false}", &l);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.n_pos, 2);
    assert_int_equal(vg_labels_get(&l, vg_str_c("c")), 1);
    assert_int_equal(vg_labels_get(&l, vg_str_c("d!")), 0);
    assert_int_equal(vg_labels_get(&l, vg_str_c("zz")), -1);
    vg_labels_fini(&l);
    s_labels("[\"x\", \"y\"]\n", &l);
    assert_int_equal(vg_labels_get(&l, vg_str_c("x")), 1);
    assert_int_equal(vg_labels_get(&l, vg_str_c("other")), 0); /* unlisted: normal */
    vg_labels_fini(&l);
}

static void s_labels_fail(const char *text, const char *why)
{
    vg_labels_t l;
    char err[256] = "";
    assert_int_equal(vg_labels_parse(s_dup(text), strlen(text), "labels", &l, err, sizeof err),
                     VG_ERR_PARSE);
    if (!strstr(err, why)) fail_msg("expected '%s' in '%s'", why, err);
}

static void test_labels_errors(void **state)
{
    (void) state;
    s_labels_fail("a,b\n1,2\n", "must name an 'id' and a 'label' column");
    s_labels_fail("id,label\nt1,2\n", "line 2: label must be 0 or 1 (got '2')");
    s_labels_fail("id,label\nt1\n", "line 2: 1 columns, too few");
    s_labels_fail("{\"a\": 3}", "label must be 1, 0, true or false");
    s_labels_fail("[1, 2]", "must be strings");
    s_labels_fail("{\"a\": 1", "invalid JSON");
    s_labels_fail("[\"a\"] x", "unexpected data");
    s_labels_fail("", "empty");
}

/* ---- replay ------------------------------------------------------------- */

static const char *const s_txs[] = {
    "{\"id\":\"t1\",\"user_id\":\"a\",\"amount\":10,\"currency\":\"EUR\","
    "\"timestamp\":\"2026-01-01T10:00:00Z\",\"device_id\":\"d1\",\"country\":\"FR\"}",
    "{\"id\":\"t2\",\"user_id\":\"b\",\"amount\":99.5,\"currency\":\"EUR\","
    "\"timestamp\":\"2026-01-01T10:01:00Z\"}",
    "{\"id\":\"t3\",\"user_id\":\"a\",\"amount\":12,\"currency\":\"EUR\","
    "\"timestamp\":\"2026-01-01T10:02:00Z\",\"device_id\":\"d2\",\"country\":\"FR\"}",
    "{\"id\":\"t3\",\"user_id\":\"a\",\"amount\":12,\"currency\":\"EUR\","
    "\"timestamp\":\"2026-01-01T10:02:00Z\",\"device_id\":\"d2\",\"country\":\"FR\"}",
    "{\"id\":\"t4\",\"user_id\":\"a\",\"amount\":-5,\"currency\":\"EUR\","
    "\"timestamp\":\"2026-01-01T10:03:00Z\"}",
    "{\"id\":\"t5\",\"user_id\":\"a\",\"amount\":500,\"currency\":\"EUR\","
    "\"timestamp\":1767262200000,\"device_id\":\"d1\",\"country\":\"DE\"}",
};

static int s_progress_calls;

static void s_progress(void *arg, size_t done, size_t total, size_t rows)
{
    (void) arg;
    assert_true(done <= total);
    assert_int_equal(rows, 4);
    s_progress_calls++;
}

static void s_expect_rows(const vg_replay_t *r, const uint8_t *feat, uint32_t nf)
{
    /* the same transactions through vg_features_update directly */
    vg_features_config_t cfg;
    vg_features_config_default(&cfg);
    vg_user_state_t a, b;
    vg_user_state_init(&a);
    vg_user_state_init(&b);
    const int which[4] = {0, 1, 2, 5};
    vg_arena_t arena = VG_ARENA_INIT;
    for (int k = 0; k < 4; k++) {
        vg_tx_t tx;
        vg_perr_t err;
        const char *j = s_txs[which[k]];
        assert_int_equal(vg_tx_from_json(j, strlen(j), &tx, &arena, &err), 0);
        vg_features_t f;
        vg_features_update(k == 1 ? &b : &a, &tx, &cfg, &f);
        const double *fa = vg_features_array(&f);
        for (uint32_t i = 0; i < nf; i++) {
            double got = r->x[k * nf + i], want = fa[feat[i]];
            assert_true(got == want || (isnan(got) && isnan(want)));
        }
        assert_true(vg_str_eq(r->ids[k], tx.id));
    }
    vg_arena_fini(&arena);
}

static void test_replay_matches_feature_engine(void **state)
{
    (void) state;
    const uint8_t feat[] = {VG_FEATURE_log_amount, VG_FEATURE_amount_to_median,
                            VG_FEATURE_new_device, VG_FEATURE_new_country, VG_FEATURE_n_prior};
    vg_replay_opts_t o = {.features = feat, .n_features = 5, .progress = s_progress};
    vg_features_config_default(&o.fcfg);
    /* NDJSON and a JSON array give the same rows */
    for (int shape = 0; shape < 2; shape++) {
        size_t cap = 4096, len = 0;
        char *buf = vg_malloc(cap); /* owned by the replay from here */
        len += (size_t) snprintf(buf + len, cap - len, "%s", shape ? "[" : "");
        for (size_t i = 0; i < VG_ARRAY_LEN(s_txs); i++)
            len += (size_t) snprintf(buf + len, cap - len, "%s%s%s", i && shape ? "," : "",
                                     s_txs[i], shape ? "" : "\n");
        len += (size_t) snprintf(buf + len, cap - len, "%s", shape ? "]" : "");
        vg_replay_t r;
        char err[256];
        s_progress_calls = 0;
        assert_int_equal(vg_replay_buffer(buf, len, "tx", &o, &r, err, sizeof err), 0);
        assert_int_equal(r.n_items, 6);
        assert_int_equal(r.rows, 4);
        assert_int_equal(r.d, 5);
        assert_int_equal(r.n_duplicate, 1);
        assert_int_equal(r.n_invalid, 1);
        assert_non_null(strstr(r.first_error, "item 4: amount"));
        assert_int_equal(r.n_users, 2);
        assert_int_equal(s_progress_calls, 1);
        s_expect_rows(&r, feat, 5);
        /* t5: a's known device d1, a new country, 2 prior transactions */
        assert_float_equal(r.x[3 * 5 + 2], 0, 0);
        assert_float_equal(r.x[3 * 5 + 3], 1, 0);
        assert_float_equal(r.x[3 * 5 + 4], 2, 0);
        vg_replay_fini(&r);
    }
    vg_replay_t r;
    char err[256];
    char *junk = s_dup("not json at all");
    assert_int_equal(vg_replay_buffer(junk, strlen(junk), "tx.ndjson", &o, &r, err, sizeof err),
                     VG_ERR_PARSE);
    assert_non_null(strstr(err, "tx.ndjson: "));
    assert_int_equal(vg_replay_file("/nonexistent/tx", &o, &r, err, sizeof err), VG_ERR_IO);
}

/* CSV history becomes the NDJSON the node parses: same rows; quoting,
 * absent cells and attributes; unknown columns and ragged rows refused. */
static void test_tx_csv(void **state)
{
    (void) state;
    const char *csv = "id,user_id,amount,currency,timestamp,country,merchant_id,attributes.mcc\n"
                      "t1,u1,12.5,EUR,1767225600000,DE,\"m,1\",5411\n"
                      "t2,u1,14,EUR,2026-01-01T00:01:00Z,,\"say \"\"hi\"\"\",\n";
    assert_true(vg_txcsv_detect(csv, strlen(csv)));
    assert_false(vg_txcsv_detect(" {\"id\":1}", 10));
    char *json, err[256];
    size_t len;
    assert_int_equal(vg_txcsv_to_ndjson(csv, strlen(csv), "h.csv", &json, &len, err, sizeof err),
                     0);
    assert_string_equal(
        json, "{\"id\":\"t1\",\"user_id\":\"u1\",\"amount\":12.5,\"currency\":\"EUR\","
              "\"timestamp\":1767225600000,\"country\":\"DE\",\"merchant_id\":\"m,1\","
              "\"attributes\":{\"mcc\":5411}}\n"
              "{\"id\":\"t2\",\"user_id\":\"u1\",\"amount\":14,\"currency\":\"EUR\","
              "\"timestamp\":\"2026-01-01T00:01:00Z\",\"merchant_id\":\"say \\\"hi\\\"\"}\n");
    uint8_t feat[1] = {VG_FEATURE_amount};
    vg_replay_opts_t o = {.features = feat, .n_features = 1};
    vg_features_config_default(&o.fcfg);
    vg_replay_t r;
    assert_int_equal(vg_replay_buffer(json, len, "h.csv", &o, &r, err, sizeof err), 0);
    assert_int_equal(r.rows, 2);
    assert_true(r.x[0] == 12.5 && r.x[1] == 14);
    vg_replay_fini(&r);
    const char *bad = "id,user,amount\nt1,u1,3\n";
    assert_int_equal(vg_txcsv_to_ndjson(bad, strlen(bad), "b.csv", &json, &len, err, sizeof err),
                     VG_ERR_PARSE);
    assert_non_null(strstr(err, "unknown column 'user'"));
    const char *ragged = "id,user_id\nt1,u1,extra\n";
    assert_int_equal(
        vg_txcsv_to_ndjson(ragged, strlen(ragged), "r.csv", &json, &len, err, sizeof err),
        VG_ERR_PARSE);
    assert_non_null(strstr(err, "r.csv:2:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_parse),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_labels_shapes),
        cmocka_unit_test(test_labels_errors),
        cmocka_unit_test(test_replay_matches_feature_engine),
        cmocka_unit_test(test_tx_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
