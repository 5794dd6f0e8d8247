/* test_tx.c: the transaction schema: JSON parsing (every rejection names
 * its field), timestamps, UTF-8, msgpack round trip, batch shapes, and
 * the shard function. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proto_samples.h"
#include "vg_err.h"
#include "vg_tx_json.h"

#include <stdio.h>
#include <string.h>

#define BASE "\"id\":\"t1\",\"user_id\":\"u1\",\"amount\":10.5,\"currency\":\"USD\""
#define TS   "\"timestamp\":\"2026-11-24T10:00:00Z\""

static int s_parse(const char *json, vg_tx_t *tx, vg_perr_t *err, vg_arena_t *a)
{
    return vg_tx_from_json(json, strlen(json), tx, a, err);
}

static void test_full_transaction(void **state)
{
    (void) state;
    const char *json =
        "{" BASE "," TS ",\"merchant_id\":\"m1\",\"merchant_category\":\"5411\","
        "\"country\":\"DE\",\"channel\":\"web\",\"device_id\":\"d1\",\"ip\":\"2001:db8::1\","
        "\"lat\":52.5,\"lon\":-13.25,\"attributes\":{\"tier\":\"gold\",\"score\":-1.5e2},"
        "\"unknown\":{\"nested\":[1,2,{\"x\":null}]}}";
    vg_tx_t tx;
    vg_perr_t err;
    vg_arena_t a = VG_ARENA_INIT;
    assert_int_equal(s_parse(json, &tx, &err, &a), 0);
    assert_true(vg_str_eq_c(tx.id, "t1"));
    assert_true(vg_str_eq_c(tx.user_id, "u1"));
    assert_true(tx.amount == 10.5);
    assert_string_equal(tx.currency, "USD");
    assert_true(tx.ts_ms == 1795514400000LL);
    assert_string_equal(tx.country, "DE");
    assert_true(vg_str_eq_c(tx.ip, "2001:db8::1"));
    assert_true(tx.lat == 52.5 && tx.lon == -13.25);
    assert_int_equal(tx.n_attrs, 2);
    assert_int_equal(tx.attrs[1].kind, VG_ATTR_NUM);
    assert_true(tx.attrs[1].num == -150.0);
    assert_null(a.head); /* no escapes: zero-copy, nothing allocated */
    vg_arena_fini(&a);
}

static void test_minimal_and_nulls(void **state)
{
    (void) state;
    vg_tx_t tx;
    vg_perr_t err;
    assert_int_equal(s_parse("{" BASE ",\"timestamp\":1764000000000,\"country\":null,\"lat\":null,"
                             "\"lon\":null,\"attributes\":null,\"ip\":null}",
                             &tx, &err, NULL),
                     0);
    assert_true(tx.ts_ms == 1764000000000LL);
    assert_false(vg_tx_has_geo(&tx));
    assert_null(tx.ip.ptr);
    assert_int_equal(tx.country[0], 0);
}

static void test_escapes(void **state)
{
    (void) state;
    vg_tx_t tx;
    vg_perr_t err;
    vg_arena_t a = VG_ARENA_INIT;
    const char *json = "{\"id\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\",\"user_id\":\"u\\/1\","
                       "\"amount\":1,\"currency\":\"USD\"," TS "}";
    assert_int_equal(s_parse(json, &tx, &err, &a), 0);
    assert_true(vg_str_eq_c(tx.id, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80"));
    assert_true(vg_str_eq_c(tx.user_id, "u/1"));
    vg_arena_fini(&a);
}

struct bad_case {
    const char *json;
    int code;
    const char *field;
    const char *reason; /* substring */
};

static void test_rejections_name_field(void **state)
{
    (void) state;
    static const struct bad_case cases[] = {
        {"{\"user_id\":\"u1\",\"amount\":1,\"currency\":\"USD\"," TS "}", VG_ERR_INVALID, "id",
         "required"},
        {"{\"id\":\"\",\"user_id\":\"u1\",\"amount\":1,\"currency\":\"USD\"," TS "}",
         VG_ERR_INVALID, "id", "1 to 64 bytes"},
        {"{\"id\":\"t\",\"user_id\":\"u1\",\"amount\":1,\"currency\":\"USD\"}", VG_ERR_INVALID,
         "timestamp", "required"},
        {"{\"id\":\"t\",\"user_id\":\"u1\",\"currency\":\"USD\"," TS "}", VG_ERR_INVALID, "amount",
         "required"},
        {"{\"id\":\"t\",\"user_id\":\"u1\",\"amount\":1," TS "}", VG_ERR_INVALID, "currency",
         "required"},
        {"{\"id\":\"t\",\"amount\":1,\"currency\":\"USD\"," TS "}", VG_ERR_INVALID, "user_id",
         "required"},
        {"{\"id\":12,\"user_id\":\"u1\",\"amount\":1,\"currency\":\"USD\"," TS "}", VG_ERR_INVALID,
         "id", "must be a string (got number)"},
        {"{" BASE ",\"amount\":-1," TS "}", VG_ERR_INVALID, "amount", "duplicate field"},
        {"{\"id\":\"t\",\"user_id\":\"u1\",\"amount\":-0.01,\"currency\":\"USD\"," TS "}",
         VG_ERR_INVALID, "amount", ">= 0"},
        {"{\"id\":\"t\",\"user_id\":\"u1\",\"amount\":\"12\",\"currency\":\"USD\"," TS "}",
         VG_ERR_INVALID, "amount", "must be a number (got string)"},
        {"{\"id\":\"t\",\"user_id\":\"u1\",\"amount\":1e400,\"currency\":\"USD\"," TS "}",
         VG_ERR_INVALID, "amount", "finite"},
        {"{\"id\":\"t\",\"user_id\":\"u1\",\"amount\":1,\"currency\":\"usd\"," TS "}",
         VG_ERR_INVALID, "currency", "ISO 4217"},
        {"{\"id\":\"t\",\"user_id\":\"u1\",\"amount\":1,\"currency\":\"US\"," TS "}",
         VG_ERR_INVALID, "currency", "ISO 4217"},
        {"{" BASE ",\"timestamp\":\"2026-02-30T00:00:00Z\"}", VG_ERR_INVALID, "timestamp",
         "RFC 3339"},
        {"{" BASE ",\"timestamp\":\"2026-11-24 10:00\"}", VG_ERR_INVALID, "timestamp", "RFC 3339"},
        {"{" BASE ",\"timestamp\":-5}", VG_ERR_INVALID, "timestamp", "1970"},
        {"{" BASE ",\"timestamp\":1.5}", VG_ERR_INVALID, "timestamp", "integer"},
        {"{" BASE ",\"timestamp\":true}", VG_ERR_INVALID, "timestamp", "got boolean"},
        {"{" BASE "," TS ",\"country\":\"de\"}", VG_ERR_INVALID, "country", "alpha-2"},
        {"{" BASE "," TS ",\"country\":\"DEU\"}", VG_ERR_INVALID, "country", "alpha-2"},
        {"{" BASE "," TS ",\"ip\":\"999.1.1.1\"}", VG_ERR_INVALID, "ip", "IPv4 or IPv6"},
        {"{" BASE "," TS ",\"lat\":10}", VG_ERR_INVALID, "lon", "required when lat"},
        {"{" BASE "," TS ",\"lat\":91,\"lon\":0}", VG_ERR_INVALID, "lat", "-90 and 90"},
        {"{" BASE "," TS ",\"lat\":0,\"lon\":-180.5}", VG_ERR_INVALID, "lon", "-180 and 180"},
        {"{" BASE "," TS ",\"device_id\":\"\"}", VG_ERR_INVALID, "device_id", "must not be empty"},
        {"{" BASE "," TS ",\"channel\":[1]}", VG_ERR_INVALID, "channel", "got array"},
        {"{" BASE "," TS ",\"attributes\":{\"vip\":true}}", VG_ERR_INVALID, "attributes.vip",
         "string or a number"},
        {"{" BASE "," TS ",\"attributes\":[]}", VG_ERR_INVALID, "attributes", "an object"},
        {"{" BASE "," TS ",\"attributes\":{\"a\":1,\"a\":2}}", VG_ERR_INVALID, "attributes.a",
         "duplicate key"},
        {"{" BASE "," TS ",\"attributes\":{\"\":1}}", VG_ERR_INVALID, "attributes", "keys must be"},
        {"{\"id\":\"\xff\xfe\",\"user_id\":\"u1\",\"amount\":1,\"currency\":\"USD\"," TS "}",
         VG_ERR_INVALID, "id", "UTF-8"},
        {"{" BASE "," TS, VG_ERR_PARSE, "", "invalid JSON at line 1"},
        {"{" BASE "," TS "} x", VG_ERR_PARSE, "", "unexpected data"},
        {"{" BASE "," TS ",\"x\":NaN}", VG_ERR_PARSE, "", "invalid JSON"},
        {"{" BASE "," TS ",\"x\":01}", VG_ERR_PARSE, "", "invalid JSON"},
        {"{" BASE "," TS ",\"x\":\"a\tb\"}", VG_ERR_PARSE, "", "control character"},
        {"{" BASE "," TS ",\"x\":\"\\ud800\"}", VG_ERR_PARSE, "", "surrogate"},
        {"[1]", VG_ERR_INVALID, "", "must be a JSON object (got array)"},
        {"", VG_ERR_PARSE, "", "expected a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vg_tx_t tx;
        vg_perr_t err;
        vg_arena_t a = VG_ARENA_INIT;
        int rc = s_parse(cases[i].json, &tx, &err, &a);
        char msg[512];
        snprintf(msg, sizeof msg, "case %zu: rc=%d field='%s' reason='%s'", i, rc, err.field,
                 err.reason);
        if (rc != cases[i].code || strcmp(err.field, cases[i].field) != 0 ||
            !strstr(err.reason, cases[i].reason))
            fail_msg("%s (want %d '%s' '%s')", msg, cases[i].code, cases[i].field, cases[i].reason);
        vg_arena_fini(&a);
    }
}

static void test_limits(void **state)
{
    (void) state;
    char json[4096];
    vg_tx_t tx;
    vg_perr_t err;
    /* id of 65 bytes */
    snprintf(json, sizeof json,
             "{\"id\":\"%065d\",\"user_id\":\"u\",\"amount\":1,\"currency\":\"USD\"," TS "}", 0);
    assert_int_equal(s_parse(json, &tx, &err, NULL), VG_ERR_INVALID);
    assert_string_equal(err.field, "id");
    /* 17 attributes */
    int n = snprintf(json, sizeof json, "{" BASE "," TS ",\"attributes\":{");
    for (int i = 0; i < 17; i++)
        n += snprintf(json + n, sizeof json - (size_t) n, "%s\"k%d\":%d", i ? "," : "", i, i);
    snprintf(json + n, sizeof json - (size_t) n, "}}");
    assert_int_equal(s_parse(json, &tx, &err, NULL), VG_ERR_INVALID);
    assert_string_equal(err.field, "attributes");
    assert_non_null(strstr(err.reason, "at most 16"));
    /* nesting 40 deep inside an unknown field */
    n = snprintf(json, sizeof json, "{" BASE "," TS ",\"deep\":");
    for (int i = 0; i < 40; i++) json[n++] = '[';
    for (int i = 0; i < 40; i++) json[n++] = ']';
    json[n++] = '}';
    json[n] = 0;
    assert_int_equal(s_parse(json, &tx, &err, NULL), VG_ERR_LIMIT);
    assert_non_null(strstr(err.reason, "nesting too deep"));
}

static void test_timestamps(void **state)
{
    (void) state;
    struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-24T10:00:00.123Z", 1795514400123LL},
        {"2026-11-24T10:00:00.1Z", 1795514400100LL},
        {"2026-11-24T10:00:00.123456789z", 1795514400123LL},
        {"2026-11-24t11:30:00+01:30", 1795514400000LL},
        {"2026-11-24 05:00:00-05:00", 1795514400000LL},
        {"2024-02-29T00:00:00Z", 1709164800000LL},
        {"2016-12-31T23:59:60Z", 1483228799000LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -1;
        assert_int_equal(vg_ts_parse_rfc3339(ok[i].s, strlen(ok[i].s), &ms), 0);
        assert_true(ms == ok[i].ms);
    }
    const char *bad[] = {"2026-11-24T10:00:00",      "2026-13-01T00:00:00Z",
                         "2023-02-29T00:00:00Z",     "2026-11-24T24:00:00Z",
                         "2026-11-24T10:00:00.Z",    "2026-11-24T10:00:00+1:00",
                         "2026-11-24T10:00:00Zjunk", "2026-1-24T10:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        assert_int_equal(vg_ts_parse_rfc3339(bad[i], strlen(bad[i]), &ms), VG_ERR_INVALID);
    }
    char buf[25];
    vg_ts_format(1795514400123LL, buf);
    assert_string_equal(buf, "2026-11-24T10:00:00.123Z");
}

static void test_msgpack_round_trip(void **state)
{
    (void) state;
    vg_tx_t in, out;
    sample_tx_full(&in);
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_tx_encode(&in, &w);
    vg_mpr_t r;
    vg_mpr_init(&r, w.buf, w.len);
    vg_perr_t err;
    vg_perr_clear(&err);
    assert_int_equal(vg_tx_decode(&r, &out, &err), 0);
    assert_true(vg_str_eq(in.id, out.id) && vg_str_eq(in.device_id, out.device_id));
    assert_true(out.id.ptr >= (const char *) w.buf &&
                out.id.ptr < (const char *) w.buf + w.len); /* zero-copy */
    assert_true(in.amount == out.amount && in.lat == out.lat && in.ingest_ms == out.ingest_ms);
    assert_int_equal(out.n_attrs, 2);
    /* re-encode is byte-identical */
    vg_mpw_t w2;
    vg_mpw_init(&w2);
    vg_tx_encode(&out, &w2);
    assert_int_equal(w.len, w2.len);
    assert_memory_equal(w.buf, w2.buf, w.len);
    /* an invalid transaction in msgpack is rejected with its field */
    in.currency[0] = 'u';
    vg_mpw_reset(&w);
    vg_tx_encode(&in, &w);
    vg_mpr_init(&r, w.buf, w.len);
    vg_perr_clear(&err);
    assert_int_equal(vg_tx_decode(&r, &out, &err), VG_ERR_INVALID);
    assert_string_equal(err.field, "currency");
    vg_mpw_fini(&w);
    vg_mpw_fini(&w2);
}

struct collect {
    int ok, bad;
    int32_t bad_index[8];
    char bad_field[8][96];
};

static int s_collect(void *arg, uint32_t index, const vg_tx_t *tx, const vg_perr_t *err)
{
    struct collect *c = arg;
    assert_non_null(tx);
    if (!err) {
        c->ok++;
    } else {
        assert_int_equal(err->index, (int32_t) index);
        c->bad_index[c->bad] = err->index;
        snprintf(c->bad_field[c->bad], 96, "%s", err->field);
        c->bad++;
    }
    return 0;
}

static void test_batch_shapes(void **state)
{
    (void) state;
    const char *arr = "[{" BASE "," TS "},{\"id\":\"x\"},  {" BASE "," TS ",\"country\":\"x\"}, 5]";
    struct collect c = {0};
    vg_txj_result_t res;
    vg_perr_t err;
    assert_int_equal(vg_tx_json_each(arr, strlen(arr), NULL, NULL, s_collect, &c, &res, &err), 0);
    assert_int_equal(res.shape, VG_TXJ_ARRAY);
    assert_int_equal(res.count, 4);
    assert_int_equal(c.ok, 1);
    assert_int_equal(c.bad, 3);
    assert_int_equal(c.bad_index[0], 1);
    assert_string_equal(c.bad_field[0], "user_id");
    assert_string_equal(c.bad_field[1], "country");
    /* NDJSON: a broken line fails alone */
    const char *nd = "{" BASE "," TS "}\n{broken\n\n{" BASE "," TS "}\n";
    memset(&c, 0, sizeof c);
    assert_int_equal(vg_tx_json_each(nd, strlen(nd), NULL, NULL, s_collect, &c, &res, &err), 0);
    assert_int_equal(res.shape, VG_TXJ_NDJSON);
    assert_int_equal(c.ok, 2);
    assert_int_equal(c.bad, 1);
    assert_int_equal(c.bad_index[0], 1);
    /* a syntax error inside an array fails the body, naming the position */
    const char *broken = "[{" BASE "," TS "},\n {\"id\": }]";
    memset(&c, 0, sizeof c);
    assert_int_equal(vg_tx_json_each(broken, strlen(broken), NULL, NULL, s_collect, &c, &res, &err),
                     VG_ERR_PARSE);
    assert_non_null(strstr(err.reason, "line 2 column 9: expected a value"));
    /* item cap */
    vg_txj_opts_t o = {.max_items = 2};
    const char *three = "[{},{},{}]";
    memset(&c, 0, sizeof c);
    assert_int_equal(vg_tx_json_each(three, strlen(three), &o, NULL, s_collect, &c, &res, &err),
                     VG_ERR_TOO_LARGE);
    assert_int_equal(c.bad, 2);
    /* empty body and a bare string */
    assert_int_equal(vg_tx_json_each("  ", 2, NULL, NULL, s_collect, &c, &res, &err), VG_ERR_PARSE);
    assert_non_null(strstr(err.reason, "empty"));
    assert_int_equal(vg_tx_json_each("\"x\"", 3, NULL, NULL, s_collect, &c, &res, &err),
                     VG_ERR_PARSE);
}

static void test_shard_function(void **state)
{
    (void) state;
    /* golden values: xxhash64(user_id, seed 0) % 1024 (PROTOCOL.md) */
    assert_int_equal(vg_shard_of(VG_STR_LIT("u-42"), 1024), vg_shard_of(VG_STR_LIT("u-42"), 1024));
    uint32_t counts[16] = {0};
    char id[32];
    for (int i = 0; i < 16000; i++) {
        snprintf(id, sizeof id, "user-%d", i);
        counts[vg_shard_of(vg_str_c(id), 16)]++;
    }
    for (int s = 0; s < 16; s++) assert_in_range(counts[s], 800, 1200); /* roughly uniform */
    assert_int_equal(vg_shard_of(VG_STR_LIT(""), 1024), 0xef46db3751d8e999ull % 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_transaction),
        cmocka_unit_test(test_minimal_and_nulls),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_rejections_name_field),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_msgpack_round_trip),
        cmocka_unit_test(test_batch_shapes),
        cmocka_unit_test(test_shard_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
