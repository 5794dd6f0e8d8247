/* test_kafka_e2e.c: the Kafka path with real processes against
 * librdkafka's mock cluster (running in this test process; the binaries
 * reach it over loopback): a vigil-node (cluster mode, publishing its
 * anomalies to Kafka) behind a vigil-gateway consuming the transactions.
 *
 * 1. Transactions (some invalid: bad JSON, a missing field, bad msgpack,
 *    empty) produced while the brokers fail Fetch, Produce and
 *    OffsetCommit requests and the broker goes down and comes back: every
 *    valid id is scored exactly once, every invalid message is in the
 *    dead-letter topic with its headers, every anomaly is on the
 *    anomalies topic once.
 * 2. The gateway killed (-9) twice while it consumes (processed, offsets
 *    not yet committed) and restarted: no id missing, none scored twice,
 *    no anomaly published twice.
 * 3. The node's own bridge (vigil-node --listen --gateway --kafka-topics)
 *    and its state in vigilctl status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e_util.h"
#include "vt_kafka.h"

#include "vg_str.h"
#include "vg_strmap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define USERS 70
#define EVERY 40 /* every 40th message is invalid */
/* Short sessions: the mock coordinator waits session.timeout.ms - 1 s at
 * each membership change (a killed member is dropped after it); short
 * request timeouts: a connection to a broker that was down is given up
 * in 3 s, not 30-60. */
#define GROUP_OPTS                                                              \
    "session.timeout.ms=3500,heartbeat.interval.ms=500,socket.timeout.ms=3000," \
    "request.timeout.ms=3000"
#define NODE_OPTS   "socket.timeout.ms=3000,request.timeout.ms=3000"
#define RUN_A_COUNT 3000
#define RUN_B_COUNT 3000

static vt_kafka_t s_k;
static char s_root[64];
static e2e_node_t s_node, s_gw; /* HTTP endpoints (pids too) */
static int s_listen;

static const char *s_bin(const char *name)
{
    static char path[2][512];
    static int k;
    k ^= 1;
    snprintf(path[k], sizeof path[k], "%s/bin/%s",
             getenv("VG_BINARY_DIR") ? getenv("VG_BINARY_DIR") : "build", name);
    return path[k];
}

static bool s_ready(e2e_node_t *n, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        e2e_resp_t r = e2e_get(n, "/readyz");
        long st = r.status;
        e2e_resp_free(&r);
        if (st == 200) return true;
        int status;
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) return false;
        usleep(50000);
    }
    return false;
}

static void s_http(e2e_node_t *n)
{
    n->port = e2e_free_port();
    snprintf(n->url, sizeof n->url, "http://127.0.0.1:%d", n->port);
}

static void s_start_node(void)
{
    s_http(&s_node);
    char listen[64], http[64], data[128];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s_listen);
    snprintf(http, sizeof http, "127.0.0.1:%d", s_node.port);
    snprintf(data, sizeof data, "%s/node", s_root);
    snprintf(s_node.log, sizeof s_node.log, "%s/node.log", s_root);
    const char *argv[] = {s_bin("vigil-node"),
                          "--listen",
                          listen,
                          "--node-id",
                          "1",
                          "--gateway",
                          "--http",
                          http,
                          "--data-dir",
                          data,
                          "--workers",
                          "2",
                          "--kafka-brokers",
                          s_k.bootstraps,
                          "--kafka-anomalies-topic",
                          "anomalies",
                          "--kafka-options",
                          NODE_OPTS "," GROUP_OPTS,
                          "--kafka-topics", /* its own bridge too, on another topic */
                          "tx2",
                          "--kafka-group",
                          "node",
                          "--kafka-dlq-topic",
                          "dlq2",
                          NULL};
    s_node.pid = e2e_spawn(argv, s_node.log);
}

static void s_start_gateway(void)
{
    s_http(&s_gw);
    char cluster[64], http[64];
    snprintf(cluster, sizeof cluster, "127.0.0.1:%d", s_listen);
    snprintf(http, sizeof http, "127.0.0.1:%d", s_gw.port);
    snprintf(s_gw.log, sizeof s_gw.log, "%s/gateway.log", s_root);
    const char *argv[] = {s_bin("vigil-gateway"),
                          "--cluster",
                          cluster,
                          "--http",
                          http,
                          "--kafka-brokers",
                          s_k.bootstraps,
                          "--kafka-topics",
                          "tx",
                          "--kafka-group",
                          "gw",
                          "--kafka-dlq-topic",
                          "dlq",
                          "--kafka-verdicts-topic",
                          "verdicts",
                          "--kafka-options",
                          GROUP_OPTS,
                          NULL};
    s_gw.pid = e2e_spawn(argv, s_gw.log);
}

/* A sample of n's /metrics ("name" or "name{labels}"); -1 when absent. */
static double s_metric(e2e_node_t *n, const char *name)
{
    e2e_resp_t r = e2e_get(n, "/metrics");
    double v = -1;
    size_t len = strlen(name);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, name, len) && p[len] == ' ') v = strtod(p + len + 1, NULL);
    e2e_resp_free(&r);
    return v;
}

static double s_scored_once(void)
{
    return s_metric(&s_node, "vigil_transactions_total") -
           s_metric(&s_node, "vigil_duplicates_total");
}

static int s_setup(void **state)
{
    (void) state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(s_root, sizeof s_root, "/tmp/vigil-e2e-XXXXXX");
    if (!mkdtemp(s_root)) return -1;
    vt_kafka_start(&s_k, 1);
    vt_kafka_topic(&s_k, "tx", 4);
    vt_kafka_topic(&s_k, "dlq", 1);
    vt_kafka_topic(&s_k, "verdicts", 2);
    vt_kafka_topic(&s_k, "anomalies", 2);
    vt_kafka_topic(&s_k, "tx2", 2);
    vt_kafka_topic(&s_k, "dlq2", 1);
    s_listen = e2e_free_listen_port(); /* raft takes listen + 1000 */
    s_start_node();
    if (!s_ready(&s_node, 20)) return -1;
    s_start_gateway();
    return s_ready(&s_gw, 20) ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void) state;
    if (s_gw.pid > 0) e2e_stop(&s_gw, SIGTERM);
    if (s_node.pid > 0) e2e_stop(&s_node, SIGTERM);
    vt_kafka_stop(&s_k);
    if (!getenv("VG_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_root);
        if (system(cmd)) return -1;
    } else {
        fprintf(stderr, "logs kept in %s\n", s_root);
    }
    curl_global_cleanup();
    return 0;
}

/* ---- producing in the background ------------------------------------------ */

typedef struct {
    const char *run;
    uint32_t n, per_s;
    atomic_uint sent;
    pthread_t t;
} t_load_t;

static void *s_load_main(void *arg)
{
    t_load_t *l = arg;
    rd_kafka_t *p = vt_kafka_producer(&s_k);
    uint32_t step = l->per_s / 20;
    for (uint32_t i = 0; i < l->n; i += step) {
        uint32_t to = i + step < l->n ? i + step : l->n;
        vt_kafka_send_run(p, "tx", l->run, i, to, USERS, EVERY);
        atomic_store(&l->sent, to);
        usleep(50000);
    }
    rd_kafka_flush(p, 30000);
    rd_kafka_destroy(p);
    return NULL;
}

/* ---- checks ------------------------------------------------------------------ */

typedef struct {
    char id[64];
    int n;
} t_count_t;

static t_count_t *s_count(vg_strmap_t *m, const char *id)
{
    t_count_t *c = vg_strmap_get(m, vg_str_c(id));
    if (!c) {
        c = calloc(1, sizeof *c);
        snprintf(c->id, sizeof c->id, "%s", id);
        vg_strmap_put(m, vg_str_c(c->id), c);
    }
    return c;
}

static void s_map_free(vg_strmap_t *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].val);
    vg_strmap_fini(m);
}

/* A quoted JSON string field's value (enough for our own flat output). */
static const char *s_json_str(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    out[0] = 0;
    if (!p) return NULL;
    p += strlen(pat);
    const char *q = strchr(p, '"');
    snprintf(out, cap, "%.*s", (int) (q - p), p);
    return out;
}

/* The payloads the runs generated as valid (key: the bytes). The input
 * topic can hold a message twice (a produce retried under the injected
 * broker errors: seen under load, 22 invalid messages of one retried
 * batch), and each copy is consumed, so the input is classified record
 * by record. */
typedef struct {
    size_t len;
    char bytes[];
} t_blob_t;

static void s_valid_payloads(vg_strmap_t *m, const char *const *runs, const uint32_t *counts,
                             size_t n_runs)
{
    vg_strmap_init(m, 8192);
    vt_msg_t g;
    for (size_t r = 0; r < n_runs; r++)
        for (uint32_t i = 0; i < counts[r]; i++) {
            vt_msg(&g, runs[r], i, USERS, EVERY);
            if (g.kind != VT_VALID) continue;
            t_blob_t *b = malloc(sizeof *b + g.len);
            b->len = g.len;
            memcpy(b->bytes, g.buf, g.len);
            vg_strmap_put(m, (vg_str_t){b->bytes, (uint32_t) b->len}, b);
        }
}

/* What the runs produced so far: valid ids, invalid (partition, offset). */
typedef struct {
    uint32_t valid, invalid;
} t_expect_t;

static t_expect_t s_expect(const char *const *runs, const uint32_t *counts, size_t n_runs)
{
    t_expect_t e = {0};
    vt_msg_t m;
    for (size_t r = 0; r < n_runs; r++)
        for (uint32_t i = 0; i < counts[r]; i++) {
            vt_msg(&m, runs[r], i, USERS, EVERY);
            if (m.kind == VT_VALID)
                e.valid++;
            else
                e.invalid++;
        }
    return e;
}

/* The gateway's total consumer lag (-1 before any partition is known). */
static double s_gateway_lag(void)
{
    e2e_resp_t r = e2e_get(&s_gw, "/metrics");
    const char *name = "vigil_kafka_consumer_lag{";
    double sum = -1;
    for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, name, strlen(name)))
            sum = (sum < 0 ? 0 : sum) + strtod(strchr(p, ' ') + 1, NULL);
    e2e_resp_free(&r);
    return sum;
}

/* Waits until the node scored `valid` transactions once, its anomaly
 * outbox to Kafka is empty and the gateway has stored every offset (its
 * re-read duplicates answered and their verdicts published). */
static void s_wait_done(uint32_t valid, int secs)
{
    double got = 0;
    for (int i = 0; i < secs * 10; i++) {
        got = s_scored_once();
        if (got >= valid && s_metric(&s_node, "vigil_outbox_entries{sink=\"kafka\"}") == 0 &&
            s_gateway_lag() == 0)
            break;
        usleep(100000);
    }
    assert_int_equal(got, valid);
    assert_int_equal(s_gateway_lag(), 0);
}

/* Every valid id has a verdict (dups allowed: at-least-once topic), every
 * invalid message is dead-lettered with its headers, and every anomaly is
 * on the anomalies topic exactly once. */
static void s_check_topics(const char *const *runs, const uint32_t *counts, size_t n_runs,
                           bool exact_verdicts)
{
    vt_recs_t in = {0}, dead = {0}, verdicts = {0}, anomalies = {0};
    assert_int_equal(vt_kafka_read(&s_k, "tx", &in), 0);
    assert_int_equal(vt_kafka_read(&s_k, "dlq", &dead), 0);
    assert_int_equal(vt_kafka_read(&s_k, "verdicts", &verdicts), 0);
    assert_int_equal(vt_kafka_read(&s_k, "anomalies", &anomalies), 0);
    vg_strmap_t v, a, d;
    vg_strmap_init(&v, 8192), vg_strmap_init(&a, 1024), vg_strmap_init(&d, 1024);
    char id[96], key[64];
    uint32_t flagged = 0;
    for (size_t i = 0; i < verdicts.n; i++) {
        s_json_str(verdicts.v[i].value, "id", id, sizeof id);
        t_count_t *c = s_count(&v, id);
        if (!c->n++ && strstr(verdicts.v[i].value, "\"anomaly\":true")) flagged++;
    }
    if (getenv("VG_KEEP") && anomalies.n) printf("an anomaly: %s\n", anomalies.v[0].value);
    for (size_t i = 0; i < anomalies.n; i++) {
        const char *aid = vt_header(&anomalies.v[i], "anomaly_id");
        assert_non_null(aid);
        assert_int_equal(s_count(&a, aid)->n++, 0); /* each anomaly once */
        assert_non_null(vg_strmap_get(&v, vg_str_c(aid)));
        s_json_str(anomalies.v[i].value, "user_id", id, sizeof id);
        assert_string_equal(anomalies.v[i].key, id);
    }
    for (size_t i = 0; i < dead.n; i++) {
        assert_string_equal(vt_header(&dead.v[i], "source_topic"), "tx");
        assert_non_null(vt_header(&dead.v[i], "error"));
        int part = atoi(vt_header(&dead.v[i], "source_partition")); /* one static buffer */
        snprintf(key, sizeof key, "%d/%s", part, vt_header(&dead.v[i], "source_offset"));
        s_count(&d, key)->n++;
    }
    uint32_t valid = 0, invalid = 0, in_invalid = 0, verdict_dups = 0;
    vg_strmap_t gv;
    s_valid_payloads(&gv, runs, counts, n_runs);
    for (size_t i = 0; i < in.n; i++) { /* a dead letter carries its source's bytes */
        const vt_rec_t *r = &in.v[i];
        bool gen_valid = vg_strmap_get(&gv, (vg_str_t){r->value, (uint32_t) r->value_len});
        if (!gen_valid) in_invalid++;
        snprintf(key, sizeof key, "%d/%lld", (int) r->partition, (long long) r->offset);
        if (!vg_strmap_get(&d, vg_str_c(key))) continue;
        assert_false(gen_valid); /* a valid message is never dead-lettered */
        invalid++;
        for (size_t k = 0; k < dead.n; k++)
            if (atoi(vt_header(&dead.v[k], "source_partition")) == r->partition &&
                atoll(vt_header(&dead.v[k], "source_offset")) == r->offset) {
                assert_int_equal(dead.v[k].value_len, r->value_len);
                assert_memory_equal(dead.v[k].value, r->value, r->value_len);
            }
    }
    assert_int_equal(invalid, d.len); /* every dead letter names a real message */
    /* every expected id: valid ones have a verdict, invalid ones a dead letter */
    vt_msg_t m;
    for (size_t k = 0; k < n_runs; k++)
        for (uint32_t i = 0; i < counts[k]; i++) {
            vt_msg(&m, runs[k], i, USERS, EVERY);
            if (m.kind != VT_VALID) continue;
            t_count_t *c = vg_strmap_get(&v, vg_str_c(m.id));
            assert_non_null(c);
            if (c->n > 1) verdict_dups++;
            valid++;
        }
    t_expect_t e = s_expect(runs, counts, n_runs);
    assert_int_equal(valid, e.valid);
    assert_int_equal(invalid, in_invalid); /* each invalid record, and only those */
    assert_true(in_invalid >= e.invalid);  /* more: the input held some twice */
    assert_true(in.n - in_invalid >= e.valid);
    assert_int_equal(anomalies.n, flagged);
    assert_int_equal(anomalies.n, s_metric(&s_node, "vigil_anomalies_total"));
    assert_true(anomalies.n > 0);
    if (exact_verdicts) assert_int_equal(verdict_dups, 0);
    printf("kafka e2e: %u valid, %u dead letters (%zu messages), %zu anomalies, %u verdicts "
           "repeated, %zu input records twice\n",
           valid, invalid, dead.n, anomalies.n, verdict_dups, in.n - e.valid - e.invalid);
    s_map_free(&v), s_map_free(&a), s_map_free(&d), s_map_free(&gv);
    vt_recs_free(&in), vt_recs_free(&dead), vt_recs_free(&verdicts), vt_recs_free(&anomalies);
}

/* ---- the tests ------------------------------------------------------------------ */

/* 1: while the brokers misbehave. */
static void test_broker_errors(void **state)
{
    (void) state;
    t_load_t l = {.run = "a", .n = RUN_A_COUNT, .per_s = 1500};
    pthread_create(&l.t, NULL, s_load_main, &l);
    while (atomic_load(&l.sent) < RUN_A_COUNT / 4) usleep(10000);
    rd_kafka_mock_push_request_errors(
        s_k.mc, 1 /* Fetch */, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    rd_kafka_mock_push_request_errors(
        s_k.mc, 0 /* Produce */, 3, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT);
    rd_kafka_mock_push_request_errors(
        s_k.mc, 8 /* OffsetCommit */, 3, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
    while (atomic_load(&l.sent) < RUN_A_COUNT / 2) usleep(10000);
    rd_kafka_mock_broker_set_down(s_k.mc, 1);
    sleep(1);
    rd_kafka_mock_broker_set_up(s_k.mc, 1);
    pthread_join(l.t, NULL);
    const char *runs[] = {"a"};
    uint32_t counts[] = {RUN_A_COUNT};
    s_wait_done(s_expect(runs, counts, 1).valid, 30);
    s_check_topics(runs, counts, 1, false);
    assert_int_equal(s_metric(&s_gw, "vigil_kafka_paused"), 0);
}

/* Waits until the gateway's bridge has consumed at least n. */
static bool s_wait_consuming(double n, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        if (s_metric(&s_gw, "vigil_kafka_consumed_total") >= n) return true;
        usleep(50000);
    }
    return false;
}

/* 2: kill -9 while consuming, twice. */
static void test_gateway_killed(void **state)
{
    (void) state;
    double dup0 = s_metric(&s_node, "vigil_duplicates_total");
    t_load_t l = {.run = "b", .n = RUN_B_COUNT, .per_s = 300};
    pthread_create(&l.t, NULL, s_load_main, &l);
    for (int kill_no = 0; kill_no < 2; kill_no++) {
        assert_true(s_wait_consuming(150, 20)); /* this incarnation is at work */
        usleep(300000);
        assert_int_equal(e2e_stop(&s_gw, SIGKILL), 128 + SIGKILL);
        s_start_gateway();
        assert_true(s_ready(&s_gw, 20));
    }
    pthread_join(l.t, NULL);
    const char *runs[] = {"a", "b"};
    uint32_t counts[] = {RUN_A_COUNT, RUN_B_COUNT};
    s_wait_done(s_expect(runs, counts, 2).valid, 40);
    double dups = s_metric(&s_node, "vigil_duplicates_total") - dup0;
    printf("kafka e2e: %.0f transactions re-read after the kills (answered as duplicates)\n", dups);
    assert_true(dups > 0); /* the kills did land between processing and commit */
    s_check_topics(runs, counts, 2, false);
}

/* Runs vigilctl (the build's) with args; its output in out. */
static int s_vigilctl(const char *const *args, char *out, size_t cap)
{
    char log[128];
    snprintf(log, sizeof log, "%s/vigilctl.out", s_root);
    return e2e_run("vigilctl", args, log, out, cap);
}

/* 3 (last: the node scores more): vigil-node --listen --gateway with its
 * own bridge (on tx2), through its router: scored, dead-lettered, and
 * shown by vigilctl status. */
static void test_node_bridge(void **state)
{
    (void) state;
    double scored0 = s_scored_once();
    rd_kafka_t *p = vt_kafka_producer(&s_k);
    vt_kafka_send_run(p, "tx2", "c", 0, 400, USERS, EVERY);
    rd_kafka_flush(p, 10000);
    rd_kafka_destroy(p);
    const char *runs[] = {"c"};
    uint32_t counts[] = {400};
    t_expect_t e = s_expect(runs, counts, 1);
    double got = 0;
    for (int i = 0; i < 200 && got < e.valid; i++, usleep(100000)) got = s_scored_once() - scored0;
    assert_int_equal(got, e.valid);
    for (int i = 0; i < 100 && s_metric(&s_node, "vigil_kafka_dlq_total") < e.invalid; i++)
        usleep(100000);
    assert_int_equal(s_metric(&s_node, "vigil_kafka_dlq_total"), e.invalid);
    char node[64], out[8192];
    snprintf(node, sizeof node, "127.0.0.1:%d", s_listen);
    const char *json[] = {"--node", node, "--json", "status", NULL};
    assert_int_equal(s_vigilctl(json, out, sizeof out), 0);
    json_t *j = json_loads(out, 0, NULL), *k = json_object_get(j, "kafka");
    assert_non_null(k);
    assert_string_equal(json_string_value(json_object_get(k, "group")), "node");
    assert_int_equal(json_array_size(json_object_get(k, "partitions")), 2);
    json_decref(j);
    const char *text[] = {"--node", node, "status", NULL};
    assert_int_equal(s_vigilctl(text, out, sizeof out), 0);
    assert_non_null(strstr(out, "kafka      group node, 2 partitions, lag "));
    assert_non_null(strstr(out, "TOPIC  PARTITION"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_errors),
        cmocka_unit_test(test_gateway_killed),
        cmocka_unit_test(test_node_bridge),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
