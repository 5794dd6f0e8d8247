/* test_node_e2e.c: a real vigil-node --gateway on a free loopback port:
 * scoring in every request shape, anomaly queries, idempotent retries,
 * state continuity across a restart and across kill -9, and the
 * bad-input table (the server keeps serving and stores nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e_util.h"

static e2e_node_t s_node;

#define T0   1767225600000LL /* 2026-01-01T00:00:00Z */
#define HOUR 3600000LL

/* A routine-looking transaction of user u at hour h with the amount. */
static char *s_tx(char *buf, size_t cap, const char *id, const char *user, double amount,
                  int64_t ts, const char *device, const char *country)
{
    snprintf(buf, cap,
             "{\"id\":\"%s\",\"user_id\":\"%s\",\"amount\":%.2f,\"currency\":\"EUR\","
             "\"timestamp\":%lld,\"merchant_id\":\"m-1\",\"country\":\"%s\",\"device_id\":\"%s\","
             "\"channel\":\"pos\",\"lat\":48.85,\"lon\":2.35}",
             id, user, amount, (long long) ts, country, device);
    return buf;
}

/* Posts 40 routine transactions of user as one array. */
static void s_history(const char *user, int n)
{
    size_t cap = (size_t) n * 300 + 16;
    char *body = malloc(cap), one[300];
    size_t off = 0;
    body[off++] = '[';
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-h%d", user, i);
        s_tx(one, sizeof one, id, user, 30 + (i * 7) % 20, T0 + i * 6 * HOUR, "d-1", "FR");
        off += (size_t) snprintf(body + off, cap - off, "%s%s", i ? "," : "", one);
    }
    body[off++] = ']';
    body[off] = 0;
    e2e_resp_t r = e2e_post(&s_node, "/v1/transactions", body);
    assert_int_equal(r.status, 200);
    json_t *results = json_object_get(r.json, "results");
    assert_int_equal(json_array_size(results), (size_t) n);
    for (int i = 0; i < n; i++) {
        json_t *v = json_array_get(results, (size_t) i);
        assert_non_null(json_object_get(v, "decision"));
    }
    e2e_resp_free(&r);
    free(body);
}

static int s_setup(void **state)
{
    (void) state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    memset(&s_node, 0, sizeof s_node);
    if (e2e_start(&s_node, NULL)) {
        fprintf(stderr, "vigil-node did not become ready; log: %s\n", s_node.log);
        return -1;
    }
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    int rc = e2e_stop(&s_node, SIGTERM);
    e2e_cleanup(&s_node);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

static void test_single_object_verdict(void **state)
{
    (void) state;
    char tx[300];
    e2e_resp_t r = e2e_post(&s_node, "/v1/transactions",
                            s_tx(tx, sizeof tx, "single-1", "bob", 12.5, T0, "d-1", "FR"));
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "id")), "single-1");
    assert_string_equal(json_string_value(json_object_get(r.json, "decision")), "allow");
    assert_true(json_is_false(json_object_get(r.json, "anomaly")));
    assert_true(json_is_array(json_object_get(r.json, "reasons")));
    double score = json_number_value(json_object_get(r.json, "score"));
    assert_true(score >= 0 && score <= 1);
    e2e_resp_free(&r);
}

static void test_mixed_batch_and_ndjson(void **state)
{
    (void) state;
    char a[300], b[300], body[1200];
    snprintf(body, sizeof body,
             "[%s,{\"id\":\"bad-1\",\"user_id\":\"carol\",\"amount\":\"ten\"},%s]",
             s_tx(a, sizeof a, "mix-1", "carol", 10, T0, "d-1", "FR"),
             s_tx(b, sizeof b, "mix-2", "carol", 11, T0 + HOUR, "d-1", "FR"));
    e2e_resp_t r = e2e_post(&s_node, "/v1/transactions", body);
    assert_int_equal(r.status, 200);
    json_t *res = json_object_get(r.json, "results");
    assert_int_equal(json_array_size(res), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "id")), "mix-1");
    json_t *bad = json_array_get(res, 1);
    assert_int_equal(json_integer_value(json_object_get(bad, "index")), 1);
    assert_string_equal(json_string_value(json_object_get(bad, "id")), "bad-1");
    json_t *err = json_object_get(bad, "error");
    assert_string_equal(json_string_value(json_object_get(err, "field")), "amount");
    assert_non_null(strstr(json_string_value(json_object_get(err, "message")), "must be a number"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 2), "id")), "mix-2");
    e2e_resp_free(&r);
    /* NDJSON by content type, a broken line fails alone */
    snprintf(body, sizeof body, "%s\n{oops\n%s\n",
             s_tx(a, sizeof a, "nd-1", "dave", 5, T0, "d", "FR"),
             s_tx(b, sizeof b, "nd-2", "dave", 6, T0 + HOUR, "d", "FR"));
    r = e2e_http(&s_node, "POST", "/v1/transactions", body, strlen(body), "application/x-ndjson");
    assert_int_equal(r.status, 200);
    res = json_object_get(r.json, "results");
    assert_int_equal(json_array_size(res), 3);
    assert_non_null(json_object_get(json_array_get(res, 1), "error"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 2), "id")), "nd-2");
    e2e_resp_free(&r);
    /* the rejected item was not stored: resubmitting it valid is not a duplicate */
    r = e2e_post(&s_node, "/v1/transactions",
                 s_tx(a, sizeof a, "bad-1", "carol", 12, T0 + 2 * HOUR, "d-1", "FR"));
    assert_int_equal(r.status, 200);
    assert_null(json_object_get(r.json, "duplicate"));
    e2e_resp_free(&r);
}

/* History, then a spike: an anomaly with reasons, stored and queryable. */
static void test_anomaly_query_and_idempotency(void **state)
{
    (void) state;
    s_history("alice", 40);
    char tx[300];
    s_tx(tx, sizeof tx, "alice-spike", "alice", 5000, T0 + 41 * 6 * HOUR, "d-1", "FR");
    e2e_resp_t r = e2e_post(&s_node, "/v1/transactions", tx);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "anomaly")));
    assert_string_not_equal(json_string_value(json_object_get(r.json, "decision")), "allow");
    json_t *reasons = json_object_get(r.json, "reasons");
    assert_true(json_array_size(reasons) >= 1);
    double score = json_number_value(json_object_get(r.json, "score"));
    char *first = json_dumps(r.json, JSON_SORT_KEYS);
    e2e_resp_free(&r);

    /* idempotent retry: same verdict, flagged duplicate, nothing changes */
    r = e2e_post(&s_node, "/v1/transactions", tx);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    assert_true(json_number_value(json_object_get(r.json, "score")) == score);
    json_object_del(r.json, "duplicate");
    char *second = json_dumps(r.json, JSON_SORT_KEYS);
    assert_string_equal(first, second);
    free(first), free(second);
    e2e_resp_free(&r);

    r = e2e_get(&s_node, "/v1/anomalies?user_id=alice");
    assert_int_equal(r.status, 200);
    json_t *list = json_object_get(r.json, "anomalies");
    assert_int_equal(json_array_size(list), 1); /* the retry stored nothing new */
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
                        "alice-spike");
    e2e_resp_free(&r);

    r = e2e_get(&s_node, "/v1/anomalies/alice-spike");
    assert_int_equal(r.status, 200);
    json_t *txj = json_object_get(r.json, "transaction");
    assert_true(json_number_value(json_object_get(txj, "amount")) == 5000);
    json_t *feats = json_object_get(r.json, "features");
    assert_true(json_number_value(json_object_get(feats, "n_prior")) == 40);
    assert_non_null(json_object_get(r.json, "reasons"));
    e2e_resp_free(&r);

    r = e2e_get(&s_node, "/v1/anomalies/no-such-id");
    assert_int_equal(r.status, 404);
    e2e_resp_free(&r);

    char path[200];
    snprintf(path, sizeof path, "/v1/stats/anomalies?bucket=1h&from=%lld&to=%lld",
             (long long) (T0 + 40 * 6 * HOUR), (long long) (T0 + 42 * 6 * HOUR));
    r = e2e_get(&s_node, path);
    assert_int_equal(r.status, 200);
    json_t *buckets = json_object_get(r.json, "buckets");
    assert_int_equal(json_array_size(buckets), 12);
    long long total = 0;
    for (size_t i = 0; i < json_array_size(buckets); i++)
        total += json_integer_value(json_object_get(json_array_get(buckets, i), "total"));
    assert_int_equal(total, 1);
    e2e_resp_free(&r);
}

/* SIGTERM + restart, then kill -9 + restart: features continue, ids stay seen. */
static void test_restart_continuity(void **state)
{
    (void) state;
    s_history("erin", 20);
    assert_int_equal(e2e_stop(&s_node, SIGTERM), 0);
    assert_int_equal(e2e_start(&s_node, NULL), 0);
    char tx[300];
    e2e_resp_t r =
        e2e_post(&s_node, "/v1/transactions",
                 s_tx(tx, sizeof tx, "erin-h3", "erin", 36, T0 + 3 * 6 * HOUR, "d-1", "FR"));
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    e2e_resp_free(&r);
    r = e2e_post(&s_node, "/v1/transactions",
                 s_tx(tx, sizeof tx, "erin-spike", "erin", 9000, T0 + 21 * 6 * HOUR, "d-1", "FR"));
    assert_true(json_is_true(json_object_get(r.json, "anomaly")));
    e2e_resp_free(&r);
    r = e2e_get(&s_node, "/v1/anomalies/erin-spike");
    assert_true(
        json_number_value(json_object_get(json_object_get(r.json, "features"), "n_prior")) == 20);
    e2e_resp_free(&r);

    /* acknowledged, then kill -9: the effects survive */
    r = e2e_post(&s_node, "/v1/transactions",
                 s_tx(tx, sizeof tx, "erin-after", "erin", 40, T0 + 22 * 6 * HOUR, "d-1", "FR"));
    assert_int_equal(r.status, 200);
    e2e_resp_free(&r);
    e2e_stop(&s_node, SIGKILL);
    assert_int_equal(e2e_start(&s_node, NULL), 0);
    r = e2e_post(&s_node, "/v1/transactions",
                 s_tx(tx, sizeof tx, "erin-after", "erin", 40, T0 + 22 * 6 * HOUR, "d-1", "FR"));
    assert_true(json_is_true(json_object_get(r.json, "duplicate")));
    e2e_resp_free(&r);
    r = e2e_post(&s_node, "/v1/transactions",
                 s_tx(tx, sizeof tx, "erin-spike2", "erin", 8000, T0 + 23 * 6 * HOUR, "d-1", "FR"));
    e2e_resp_free(&r);
    r = e2e_get(&s_node, "/v1/anomalies/erin-spike2");
    assert_int_equal(r.status, 200);
    assert_true(
        json_number_value(json_object_get(json_object_get(r.json, "features"), "n_prior")) == 22);
    e2e_resp_free(&r);
}

struct bad {
    const char *method, *path, *body;
    long status;
    const char *field;  /* expected error.field, or NULL */
    const char *needle; /* substring of error.message */
};

static void test_bad_input_table(void **state)
{
    (void) state;
    char deep[400] = "{\"id\":\"x\",\"deep\":", huge[64];
    for (int i = 0; i < 60; i++) strcat(deep, "[");
    strcat(deep, "]}");
    const struct bad cases[] = {
        {"POST", "/v1/transactions", "{\"id\":", 400, NULL, "invalid JSON"},
        {"POST", "/v1/transactions", "", 400, NULL, "empty"},
        {"POST", "/v1/transactions", "[1,", 400, NULL, "invalid JSON"},
        {"POST", "/v1/transactions",
         "{\"id\":1,\"user_id\":\"u\",\"amount\":1,\"currency\":\"EUR\",\"timestamp\":1}", 422,
         "id", "must be a string"},
        {"POST", "/v1/transactions",
         "{\"id\":\"m1\",\"amount\":1,\"currency\":\"EUR\",\"timestamp\":1}", 422, "user_id",
         "required"},
        {"POST", "/v1/transactions",
         "{\"id\":\"m2\",\"user_id\":\"u\",\"amount\":1,\"currency\":\"eur\",\"timestamp\":1}", 422,
         "currency", "ISO 4217"},
        {"POST", "/v1/transactions", deep, 400, NULL, "nesting too deep"},
        {"GET", "/v1/transactions", NULL, 405, NULL, "not allowed"},
        {"GET", "/v1/anomalies?limit=0", NULL, 400, "limit", "1 to 1000"},
        {"GET", "/v1/anomalies?severity=huge", NULL, 400, "severity", "low, medium"},
        {"GET", "/v1/anomalies?from=yesterday", NULL, 400, "from", "RFC 3339"},
        {"GET", "/v1/anomalies?cursor=garbage", NULL, 400, "cursor", "cursor"},
        {"GET", "/v1/stats/anomalies?bucket=7s", NULL, 400, "bucket", "1m"},
        {"GET", "/nope", NULL, 404, NULL, "no such endpoint"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad *c = &cases[i];
        e2e_resp_t r =
            e2e_http(&s_node, c->method, c->path, c->body, c->body ? strlen(c->body) : 0, NULL);
        json_t *err = json_object_get(r.json, "error");
        const char *field = json_string_value(json_object_get(err, "field"));
        const char *msg = json_string_value(json_object_get(err, "message"));
        if (r.status != c->status || !msg || !strstr(msg, c->needle) ||
            (c->field && (!field || strcmp(field, c->field))))
            fail_msg("case %zu (%s %s): status %ld body %s", i, c->method, c->path, r.status,
                     r.body);
        e2e_resp_free(&r);
    }
    /* too many items (max_items 10000 by default) -> 413 */
    size_t cap = 10001 * 3 + 3, off = 0;
    char *many = malloc(cap);
    many[off++] = '[';
    for (int i = 0; i < 10001; i++)
        off += (size_t) snprintf(many + off, cap - off, "%s{}", i ? "," : "");
    many[off++] = ']';
    many[off] = 0;
    e2e_resp_t r = e2e_post(&s_node, "/v1/transactions", many);
    assert_int_equal(r.status, 413);
    e2e_resp_free(&r);
    free(many);
    /* nothing of the rejected single objects was stored */
    r = e2e_get(&s_node, "/v1/anomalies/m2");
    assert_int_equal(r.status, 404);
    e2e_resp_free(&r);
    snprintf(huge, sizeof huge, "/healthz");
    r = e2e_get(&s_node, huge);
    assert_int_equal(r.status, 200); /* still serving */
    e2e_resp_free(&r);
}

static void test_body_limit(void **state)
{
    (void) state;
    e2e_node_t small = {0};
    const char *extra[] = {"--max-body", "1k", NULL};
    assert_int_equal(e2e_start(&small, extra), 0);
    char *body = malloc(4096);
    memset(body, ' ', 4095);
    body[0] = '[';
    body[4094] = ']';
    body[4095] = 0;
    e2e_resp_t r = e2e_post(&small, "/v1/transactions", body);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "larger than 1024 bytes"));
    e2e_resp_free(&r);
    r = e2e_get(&small, "/healthz");
    assert_int_equal(r.status, 200);
    e2e_resp_free(&r);
    free(body);
    assert_int_equal(e2e_stop(&small, SIGTERM), 0);
    e2e_cleanup(&small);
}

/* A single node with --rules: hits act on the verdict (reason: rule id,
 * version 1), GET /v1/rules counts them; a bad file stops the start with
 * file:line:column. */
static void test_rules_file(void **state)
{
    (void) state;
    char dir[] = "/tmp/vigil-rules-XXXXXX", path[200], badp[200];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ok.vr", dir);
    snprintf(badp, sizeof badp, "%s/bad.vr", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("rule fr_big {\n  action = block\n  when = amount > 1000 and country = \"FR\"\n}\n"
          "rule shadowed {\n  mode = shadow\n  when = amount > 1\n}\n",
          f);
    fclose(f);
    f = fopen(badp, "w");
    assert_non_null(f);
    fputs("rule x {\n  when = amount >\n}\n", f);
    fclose(f);
    e2e_node_t n = {0};
    const char *extra[] = {"--rules", path, NULL};
    assert_int_equal(e2e_start(&n, extra), 0);
    e2e_resp_t r = e2e_post(&n, "/v1/transactions",
                            "{\"id\":\"r1\",\"user_id\":\"u\",\"amount\":2000,\"currency\":"
                            "\"EUR\",\"country\":\"FR\",\"timestamp\":1767225600000}");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "decision")), "block");
    json_t *reason = json_array_get(json_object_get(r.json, "reasons"), 0);
    assert_string_equal(json_string_value(json_object_get(reason, "detector")), "rule");
    assert_string_equal(json_string_value(json_object_get(reason, "feature")), "fr_big");
    assert_true(json_number_value(json_object_get(reason, "value")) == 1);
    e2e_resp_free(&r);
    r = e2e_post(&n, "/v1/transactions",
                 "{\"id\":\"r2\",\"user_id\":\"v\",\"amount\":20,\"currency\":"
                 "\"EUR\",\"country\":\"FR\",\"timestamp\":1767225600000}");
    assert_string_equal(json_string_value(json_object_get(r.json, "decision")), "allow");
    e2e_resp_free(&r);
    r = e2e_get(&n, "/v1/rules");
    assert_int_equal(r.status, 200);
    json_t *rules = json_object_get(r.json, "rules");
    assert_int_equal(json_array_size(rules), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 0), "hits")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rules, 1), "hits")), 2);
    e2e_resp_free(&r);
    assert_int_equal(e2e_stop(&n, SIGTERM), 0);
    e2e_cleanup(&n);
    e2e_node_t b = {0};
    const char *bad_extra[] = {"--rules", badp, NULL};
    assert_int_not_equal(e2e_start(&b, bad_extra), 0);
    FILE *log = fopen(b.log, "r");
    char text[4096] = "";
    size_t got = log ? fread(text, 1, sizeof text - 1, log) : 0;
    text[got] = 0;
    if (log) fclose(log);
    assert_non_null(strstr(text, "bad.vr:3:1: expected a value"));
    e2e_stop(&b, SIGKILL);
    e2e_cleanup(&b);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A single node with --model (a vigil-train artifact): every transaction
 * is scored by it (GET /v1/models); a file that is not a model stops the
 * start with a clear message. */
static void test_model_file(void **state)
{
    (void) state;
    char dir[] = "/tmp/vigil-model-XXXXXX", cmd[1200], model[200], hist[200];
    assert_non_null(mkdtemp(dir));
    snprintf(hist, sizeof hist, "%s/h.ndjson", dir);
    snprintf(model, sizeof model, "%s/m.vgm", dir);
    const char *b = getenv("VG_BINARY_DIR") ? getenv("VG_BINARY_DIR") : "build";
    snprintf(cmd, sizeof cmd,
             "%s/bin/vigil-loadgen --dry-run --count 3000 --users 50 --history-days 1 --quiet > "
             "'%s' && %s/bin/vigil-train --data '%s' --out '%s' --trees 30 --registry "
             "'%s/runs.ndjson' > /dev/null 2>&1",
             b, hist, b, hist, model, dir);
    assert_int_equal(system(cmd), 0);
    e2e_node_t n = {0};
    const char *extra[] = {"--model", model, NULL};
    assert_int_equal(e2e_start(&n, extra), 0);
    for (int k = 0; k < 5; k++) {
        char body[200];
        snprintf(body, sizeof body,
                 "{\"id\":\"mf%d\",\"user_id\":\"u\",\"amount\":%d,\"currency\":\"EUR\","
                 "\"timestamp\":%lld}",
                 k, 10 + k, 1767225600000LL + k * 60000LL);
        e2e_resp_t r = e2e_post(&n, "/v1/transactions", body);
        assert_int_equal(r.status, 200);
        e2e_resp_free(&r);
    }
    e2e_resp_t r = e2e_get(&n, "/v1/models");
    assert_int_equal(r.status, 200);
    assert_int_equal(
        json_integer_value(json_array_get(json_object_get(r.json, "active_versions"), 0)), 1);
    assert_int_equal(json_integer_value(json_object_get(r.json, "scored")), 5);
    e2e_resp_free(&r);
    assert_int_equal(e2e_stop(&n, SIGTERM), 0);
    e2e_cleanup(&n);
    e2e_node_t bad = {0};
    const char *bad_extra[] = {"--model", hist, NULL}; /* NDJSON, not a model */
    assert_int_not_equal(e2e_start(&bad, bad_extra), 0);
    FILE *log = fopen(bad.log, "r");
    char text[4096] = "";
    size_t got = log ? fread(text, 1, sizeof text - 1, log) : 0;
    text[got] = 0;
    if (log) fclose(log);
    assert_non_null(strstr(text, "model: "));
    e2e_stop(&bad, SIGKILL);
    e2e_cleanup(&bad);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_health_and_metrics(void **state)
{
    (void) state;
    e2e_resp_t r = e2e_get(&s_node, "/healthz");
    assert_int_equal(r.status, 200);
    e2e_resp_free(&r);
    r = e2e_get(&s_node, "/readyz");
    assert_int_equal(r.status, 200);
    e2e_resp_free(&r);
    r = e2e_get(&s_node, "/metrics");
    assert_int_equal(r.status, 200);
    const char *names[] = {"vigil_http_requests_total{route=\"transactions\",code=\"200\"}",
                           "vigil_transactions_total",
                           "vigil_verdicts_total{decision=\"allow\"}",
                           "vigil_http_request_duration_seconds_bucket",
                           "vigil_lmdb_commit_seconds_count",
                           "vigil_ingest_tx_per_second",
                           "vigil_duplicates_total"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(r.body, names[i])) fail_msg("/metrics lacks %s", names[i]);
    e2e_resp_free(&r);
    r = e2e_get(&s_node, "/");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<title>Vigil</title>"));
    e2e_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_object_verdict),
        cmocka_unit_test(test_mixed_batch_and_ndjson),
        cmocka_unit_test(test_anomaly_query_and_idempotency),
        cmocka_unit_test(test_restart_continuity),
        cmocka_unit_test(test_bad_input_table),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_health_and_metrics),
        cmocka_unit_test(test_rules_file),
        cmocka_unit_test(test_model_file),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
