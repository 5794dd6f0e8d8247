/* test_anomaly.c: the anomaly record: severity labels, msgpack round trip
 * with every field, the hardened decoder (truncation, corruption, caps,
 * older feature lists, future fields) and the query filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_anomaly.h"
#include "vg_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A record's borrowed parts, kept together. */
typedef struct {
    vg_tx_t tx;
    vg_features_t f;
    vg_verdict_t v;
    vg_anomaly_t a;
} t_anom_t;

static void s_make(t_anom_t *t)
{
    memset(t, 0, sizeof *t);
    vg_tx_init(&t->tx);
    t->tx.id = VG_STR_LIT("tx-42");
    t->tx.user_id = VG_STR_LIT("user-7");
    t->tx.amount = 1234.5;
    t->tx.ts_ms = 1795514400123LL;
    t->tx.ingest_ms = 1795514400200LL;
    memcpy(t->tx.currency, "EUR", 4);
    memcpy(t->tx.country, "DE", 3);
    t->tx.merchant_id = VG_STR_LIT("m-1");
    t->tx.merchant_category = VG_STR_LIT("5411");
    t->tx.channel = VG_STR_LIT("web");
    t->tx.device_id = VG_STR_LIT("dev-9");
    t->tx.ip = VG_STR_LIT("192.0.2.1");
    t->tx.lat = 52.5;
    t->tx.lon = 13.25;
    t->tx.n_attrs = 2;
    t->tx.attrs[0] =
        (vg_tx_attr_t){.key = VG_STR_LIT("tier"), .str = VG_STR_LIT("gold"), .kind = VG_ATTR_STR};
    t->tx.attrs[1] = (vg_tx_attr_t){.key = VG_STR_LIT("risk"), .num = -1.5, .kind = VG_ATTR_NUM};
    double *f = (double *) &t->f;
    for (int i = 0; i < VG_FEATURE_COUNT; i++) f[i] = i * 1.5;
    t->f.distance_km = NAN;
    t->v.id = t->tx.id;
    t->v.anomaly = true;
    t->v.decision = VG_DECISION_BLOCK;
    t->v.score = 0.91;
    t->v.n_reasons = 2;
    t->v.reasons[0] = (vg_reason_t){VG_STR_LIT("mad"), VG_STR_LIT("amount"), 1234.5, 40, 3.5, 0.8};
    t->v.reasons[1] = (vg_reason_t){VG_STR_LIT("rule"), VG_STR_LIT("big_foreign"), 1, 0, 1, 0.2};
    t->a = (vg_anomaly_t){
        .tx = &t->tx, .features = &t->f, .verdict = &t->v, .detected_ms = 1795514400300LL};
}

static int s_feature(const vg_anomaly_rec_t *rec, const char *name, double *out)
{
    for (uint32_t i = 0; i < rec->n_features; i++)
        if (vg_str_eq_c(rec->feature_names[i], name)) {
            *out = rec->feature_values[i];
            return 0;
        }
    return -1;
}

static void test_severity(void **state)
{
    (void) state;
    assert_int_equal(vg_severity_from_score(0), VG_SEV_LOW);
    assert_int_equal(vg_severity_from_score(0.6999), VG_SEV_LOW);
    assert_int_equal(vg_severity_from_score(0.7), VG_SEV_MEDIUM);
    assert_int_equal(vg_severity_from_score(0.8499), VG_SEV_MEDIUM);
    assert_int_equal(vg_severity_from_score(0.85), VG_SEV_HIGH);
    assert_int_equal(vg_severity_from_score(0.95), VG_SEV_CRITICAL);
    assert_int_equal(vg_severity_from_score(1), VG_SEV_CRITICAL);
    assert_int_equal(vg_severity_from_score(NAN), VG_SEV_LOW);
    assert_string_equal(vg_severity_name(VG_SEV_HIGH), "high");
    assert_null(vg_severity_name(4));
    assert_null(vg_severity_name(-1));
    vg_severity sev;
    assert_int_equal(vg_severity_parse(VG_STR_LIT("critical"), &sev), 0);
    assert_int_equal(sev, VG_SEV_CRITICAL);
    assert_int_equal(vg_severity_parse(VG_STR_LIT("Critical"), &sev), VG_ERR_INVALID);
    assert_int_equal(vg_severity_parse(VG_STR_NULL, &sev), VG_ERR_INVALID);
}

static void test_round_trip(void **state)
{
    (void) state;
    t_anom_t t;
    s_make(&t);
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_anomaly_encode(&t.a, &w);
    assert_int_equal(w.err, 0);
    vg_anomaly_rec_t rec;
    vg_perr_t err;
    vg_perr_clear(&err);
    assert_int_equal(vg_anomaly_decode(w.buf, w.len, &rec, &err), 0);
    assert_true(vg_str_eq_c(rec.id, "tx-42"));
    assert_true(vg_str_eq_c(rec.user_id, "user-7"));
    assert_true(rec.ts_ms == 1795514400123LL);
    assert_true(rec.detected_ms == 1795514400300LL);
    assert_true(rec.score == 0.91);
    assert_int_equal(rec.decision, VG_DECISION_BLOCK);
    assert_int_equal(rec.severity, VG_SEV_HIGH);
    /* the transaction, field by field */
    assert_true(rec.tx.amount == 1234.5);
    assert_string_equal(rec.tx.currency, "EUR");
    assert_string_equal(rec.tx.country, "DE");
    assert_true(rec.tx.ingest_ms == 1795514400200LL);
    assert_true(vg_str_eq_c(rec.tx.merchant_id, "m-1"));
    assert_true(vg_str_eq_c(rec.tx.merchant_category, "5411"));
    assert_true(vg_str_eq_c(rec.tx.channel, "web"));
    assert_true(vg_str_eq_c(rec.tx.device_id, "dev-9"));
    assert_true(vg_str_eq_c(rec.tx.ip, "192.0.2.1"));
    assert_true(rec.tx.lat == 52.5 && rec.tx.lon == 13.25);
    assert_int_equal(rec.tx.n_attrs, 2);
    assert_true(vg_str_eq_c(rec.tx.attrs[0].str, "gold"));
    assert_true(rec.tx.attrs[1].num == -1.5);
    /* features by name, NaN kept */
    assert_int_equal(rec.n_features, VG_FEATURE_COUNT);
    double x;
    assert_int_equal(s_feature(&rec, "amount", &x), 0);
    assert_true(x == 0);
    assert_int_equal(s_feature(&rec, "count_1h", &x), 0);
    assert_true(x == VG_FEATURE_count_1h * 1.5);
    assert_int_equal(s_feature(&rec, "distance_km", &x), 0);
    assert_true(isnan(x));
    /* reasons */
    assert_int_equal(rec.n_reasons, 2);
    assert_true(vg_str_eq_c(rec.reasons[0].detector, "mad"));
    assert_true(vg_str_eq_c(rec.reasons[0].feature, "amount"));
    assert_true(rec.reasons[0].value == 1234.5 && rec.reasons[0].baseline == 40);
    assert_true(rec.reasons[0].threshold == 3.5 && rec.reasons[0].contribution == 0.8);
    assert_true(vg_str_eq_c(rec.reasons[1].feature, "big_foreign"));
    /* no features: an empty map */
    t.a.features = NULL;
    vg_mpw_reset(&w);
    vg_anomaly_encode(&t.a, &w);
    assert_int_equal(vg_anomaly_decode(w.buf, w.len, &rec, &err), 0);
    assert_int_equal(rec.n_features, 0);
    vg_mpw_fini(&w);
}

/* A decoded record re-encodes to the very bytes it came from. */
static void test_rec_reencode(void **state)
{
    (void) state;
    t_anom_t t;
    s_make(&t);
    vg_mpw_t w, w2;
    vg_mpw_init(&w);
    vg_mpw_init(&w2);
    vg_anomaly_encode(&t.a, &w);
    vg_anomaly_rec_t rec;
    vg_perr_t err;
    vg_perr_clear(&err);
    assert_int_equal(vg_anomaly_decode(w.buf, w.len, &rec, &err), 0);
    vg_anomaly_rec_encode(&rec, &w2);
    assert_int_equal(w2.len, w.len);
    assert_memory_equal(w2.buf, w.buf, w.len);
    vg_mpw_fini(&w);
    vg_mpw_fini(&w2);
}

/* Keys order by time then id; cursors round-trip and refuse alterations. */
static void test_pk_and_cursor(void **state)
{
    (void) state;
    uint8_t a[VG_ANOMALY_PK_MAX], b[VG_ANOMALY_PK_MAX], c[VG_ANOMALY_PK_MAX];
    size_t na = vg_anomaly_pk(-5, VG_STR_LIT("z"), a);
    size_t nb = vg_anomaly_pk(3, VG_STR_LIT("a"), b);
    assert_int_equal(vg_anomaly_pk_cmp(a, na, b, nb), -1); /* negative times sort first */
    size_t nc = vg_anomaly_pk(3, VG_STR_LIT("ab"), c);
    assert_int_equal(vg_anomaly_pk_cmp(b, nb, c, nc), -1); /* a prefix sorts first */
    assert_int_equal(vg_anomaly_pk_cmp(c, nc, b, nb), 1);
    assert_int_equal(vg_anomaly_pk_cmp(c, nc, c, nc), 0);
    char cur[VG_ANOMALY_CURSOR_MAX + 1];
    uint8_t back[VG_ANOMALY_PK_MAX];
    size_t nback = 0;
    vg_anomaly_cursor_encode(c, nc, cur);
    assert_int_equal(vg_anomaly_cursor_decode(vg_str_c(cur), back, &nback), 0);
    assert_int_equal(nback, nc);
    assert_memory_equal(back, c, nc);
    for (size_t i = 0; cur[i]; i++) { /* any one changed character is caught */
        char saved = cur[i];
        cur[i] = saved == 'A' ? 'B' : 'A';
        assert_int_equal(vg_anomaly_cursor_decode(vg_str_c(cur), back, &nback), VG_ERR_INVALID);
        cur[i] = saved;
    }
    assert_int_equal(vg_anomaly_cursor_decode(VG_STR_LIT("not a cursor"), back, &nback),
                     VG_ERR_INVALID);
    uint8_t longest[VG_ANOMALY_PK_MAX];
    memset(longest, 'x', sizeof longest);
    vg_anomaly_cursor_encode(longest, sizeof longest, cur);
    assert_true(strlen(cur) <= VG_ANOMALY_CURSOR_MAX);
    assert_int_equal(vg_anomaly_cursor_decode(vg_str_c(cur), back, &nback), 0);
    assert_int_equal(nback, sizeof longest);
}

/* Every truncation and every single-byte change either decodes or fails
 * cleanly (ASan/UBSan watch the reads). */
static void test_decode_truncated_and_corrupted(void **state)
{
    (void) state;
    t_anom_t t;
    s_make(&t);
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_anomaly_encode(&t.a, &w);
    vg_anomaly_rec_t rec;
    vg_perr_t err;
    for (size_t n = 0; n < w.len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(copy, w.buf, n);
        vg_perr_clear(&err);
        assert_int_not_equal(vg_anomaly_decode(copy, n, &rec, &err), 0);
        assert_int_not_equal(err.code, 0);
        free(copy);
    }
    uint8_t *copy = malloc(w.len);
    static const uint8_t vals[] = {0x00, 0x7f, 0xc0, 0xcb, 0xdc, 0xdd, 0xde, 0xdf, 0xff, 0x93};
    for (size_t i = 0; i < w.len; i++)
        for (size_t j = 0; j < sizeof vals; j++) {
            memcpy(copy, w.buf, w.len);
            copy[i] = vals[j];
            (void) vg_anomaly_decode(copy, w.len, &rec, NULL);
        }
    free(copy);
    vg_mpw_fini(&w);
}

/* Writes the 8 leading fields of a record by hand. */
static void s_head(vg_mpw_t *w, uint32_t fields, uint64_t version, double score)
{
    vg_mpw_array(w, fields);
    vg_mpw_uint(w, version);
    vg_mpw_str(w, "tx-42", 5);
    vg_mpw_str(w, "user-7", 6);
    vg_mpw_int(w, 1795514400123LL);
    vg_mpw_int(w, 1795514400300LL);
    vg_mpw_f64(w, score);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, 2);
}

static void s_reason(vg_mpw_t *w, const char *det, const char *feat)
{
    vg_mpw_array(w, 6);
    vg_mpw_str(w, det, (uint32_t) strlen(det));
    vg_mpw_str(w, feat, (uint32_t) strlen(feat));
    for (int i = 0; i < 4; i++) vg_mpw_f64(w, i);
}

/* Decodes a hand-made record of tx without features or reasons. */
static int s_bad_record(const vg_tx_t *tx, uint64_t version, double score, vg_perr_t *err)
{
    vg_mpw_t w;
    vg_anomaly_rec_t rec;
    vg_mpw_init(&w);
    s_head(&w, VG_ANOMALY_MP_FIELDS, version, score);
    vg_tx_encode(tx, &w);
    vg_mpw_map(&w, 0);
    vg_mpw_array(&w, 0);
    vg_perr_clear(err);
    int rc = vg_anomaly_decode(w.buf, w.len, &rec, err);
    vg_mpw_fini(&w);
    return rc;
}

static void test_decode_self_describing_and_caps(void **state)
{
    (void) state;
    t_anom_t t;
    s_make(&t);
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_anomaly_rec_t rec;
    vg_perr_t err;
    /* an older record: other feature names, integer and nil values; more
     * features than the cap; more reasons than a verdict holds; one
     * future field */
    s_head(&w, VG_ANOMALY_MP_FIELDS + 1, 1, 0.8);
    vg_tx_encode(&t.tx, &w);
    uint32_t nf = VG_FEATURE_COUNT + 20;
    vg_mpw_map(&w, nf);
    for (uint32_t i = 0; i < nf; i++) {
        char name[32];
        int len = snprintf(name, sizeof name, "legacy_%u", i);
        vg_mpw_str(&w, name, (uint32_t) len);
        if (i == 1)
            vg_mpw_nil(&w);
        else
            vg_mpw_int(&w, i);
    }
    vg_mpw_array(&w, VG_VERDICT_REASONS_MAX + 3);
    for (int i = 0; i < VG_VERDICT_REASONS_MAX + 3; i++) s_reason(&w, "zscore", "amount");
    vg_mpw_str(&w, "future", 6);
    vg_perr_clear(&err);
    assert_int_equal(vg_anomaly_decode(w.buf, w.len, &rec, &err), 0);
    assert_int_equal(rec.n_features, VG_FEATURE_COUNT + 16);
    assert_true(vg_str_eq_c(rec.feature_names[2], "legacy_2"));
    assert_true(rec.feature_values[2] == 2);
    assert_true(isnan(rec.feature_values[1]));
    assert_int_equal(rec.n_reasons, VG_VERDICT_REASONS_MAX);
    assert_int_equal(rec.severity, 2);

    /* another version; score out of range; a tx that disagrees with the
     * record's id */
    assert_int_equal(s_bad_record(&t.tx, 2, 0.8, &err), VG_ERR_UNSUPPORTED);
    assert_string_equal(err.field, "version");
    assert_int_equal(s_bad_record(&t.tx, 1, 1.5, &err), VG_ERR_INVALID);
    assert_string_equal(err.field, "score");
    t.tx.id = VG_STR_LIT("other");
    assert_int_equal(s_bad_record(&t.tx, 1, 0.5, &err), VG_ERR_INVALID);
    assert_string_equal(err.field, "tx");
    t.tx.id = VG_STR_LIT("tx-42");

    /* trailing bytes after the record */
    vg_mpw_reset(&w);
    vg_anomaly_encode(&t.a, &w);
    vg_mpw_nil(&w);
    vg_perr_clear(&err);
    assert_int_equal(vg_anomaly_decode(w.buf, w.len, &rec, &err), VG_ERR_PARSE);

    /* too few fields; a lying map count */
    vg_mpw_reset(&w);
    s_head(&w, 8, 1, 0.5);
    vg_perr_clear(&err);
    assert_int_equal(vg_anomaly_decode(w.buf, w.len, &rec, &err), VG_ERR_PARSE);
    vg_mpw_reset(&w);
    s_head(&w, VG_ANOMALY_MP_FIELDS, 1, 0.5);
    vg_tx_encode(&t.tx, &w);
    vg_mpw_map(&w, 1000000);
    vg_perr_clear(&err);
    assert_int_equal(vg_anomaly_decode(w.buf, w.len, &rec, &err), VG_ERR_PARSE);
    assert_string_equal(err.field, "features");
    vg_mpw_fini(&w);
}

static void test_query_match(void **state)
{
    (void) state;
    t_anom_t t;
    s_make(&t);
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_anomaly_encode(&t.a, &w);
    vg_anomaly_rec_t rec;
    assert_int_equal(vg_anomaly_decode(w.buf, w.len, &rec, NULL), 0);
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    assert_true(q.from_ms == INT64_MIN && q.to_ms == INT64_MAX);
    assert_int_equal(q.limit, 50);
    assert_int_equal(q.min_severity, -1);
    assert_int_equal(q.decision, -1);
    assert_null(q.cursor.ptr);
    assert_true(vg_anomaly_query_match(&q, &rec));

    q.user_id = VG_STR_LIT("user-7");
    assert_true(vg_anomaly_query_match(&q, &rec));
    q.user_id = VG_STR_LIT("user-");
    assert_false(vg_anomaly_query_match(&q, &rec));
    vg_anomaly_query_init(&q);

    q.min_severity = VG_SEV_HIGH;
    assert_true(vg_anomaly_query_match(&q, &rec));
    q.min_severity = VG_SEV_CRITICAL;
    assert_false(vg_anomaly_query_match(&q, &rec));
    vg_anomaly_query_init(&q);

    q.decision = VG_DECISION_BLOCK;
    assert_true(vg_anomaly_query_match(&q, &rec));
    q.decision = VG_DECISION_REVIEW;
    assert_false(vg_anomaly_query_match(&q, &rec));
    vg_anomaly_query_init(&q);

    q.detector = VG_STR_LIT("mad");
    assert_true(vg_anomaly_query_match(&q, &rec));
    q.detector = VG_STR_LIT("zscore");
    assert_false(vg_anomaly_query_match(&q, &rec));
    vg_anomaly_query_init(&q);

    q.rule = VG_STR_LIT("big_foreign");
    assert_true(vg_anomaly_query_match(&q, &rec));
    q.rule = VG_STR_LIT("amount"); /* a feature of a non-rule reason is no rule */
    assert_false(vg_anomaly_query_match(&q, &rec));
    vg_mpw_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_severity),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rec_reencode),
        cmocka_unit_test(test_pk_and_cursor),
        cmocka_unit_test(test_decode_truncated_and_corrupted),
        cmocka_unit_test(test_decode_self_describing_and_caps),
        cmocka_unit_test(test_query_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
