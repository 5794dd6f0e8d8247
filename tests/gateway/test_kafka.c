/* test_kafka.c: the Kafka bridge and anomaly sink in-process against
 * librdkafka's mock cluster (the real protocol on loopback) and the real
 * engine: every valid message scored exactly once and every invalid one
 * in the dead-letter topic with its headers; verdicts and transactions
 * topics; scoring failures pause and nothing is skipped; members joining
 * and leaving lose nothing; offsets committed at close; the anomaly sink
 * publishes records keyed by user with an anomaly_id header and fails
 * (in time) while the broker is down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vt_kafka.h"

#include "vg_anomaly.h"
#include "vg_engine.h"
#include "vg_err.h"
#include "vg_kafka.h"
#include "vg_store.h"
#include "vg_strmap.h"
#include "vg_time.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* The mock coordinator waits session.timeout.ms - 1 s for members at
 * each rebalance (3 s at the first join; a shorter session than that
 * times the members out): short sessions keep the tests short. */
#define S_FAST_GROUP "session.timeout.ms=3500,heartbeat.interval.ms=500"

typedef struct {
    char dir[64];
    vg_store_t *store;
    vg_engine_t *engine;
    vt_kafka_t k;
} t_fix_t;

static int s_setup(void **state)
{
    t_fix_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vigil-kafka-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    vg_store_config_t sc = {.dir = f->dir, .map_size = 1u << 30, .no_sync = true};
    char err[256];
    if (vg_store_open(&sc, &f->store, err, sizeof err)) return -1;
    vg_engine_config_t ec;
    vg_engine_config_default(&ec);
    ec.workers = 2;
    if (vg_engine_new(&ec, f->store, &f->engine) || vg_engine_start(f->engine)) return -1;
    vt_kafka_start(&f->k, 1);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    t_fix_t *f = *state;
    vg_engine_destroy(&f->engine);
    vg_store_close(&f->store);
    vt_kafka_stop(&f->k);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd)) return -1;
    free(f);
    return 0;
}

/* An integer of the bridge's status object. */
static int64_t s_status(vg_kafka_bridge_t *b, const char *key)
{
    vg_jw_t w;
    vg_jw_init(&w);
    vg_kafka_bridge_status_json(b, &w);
    json_t *j = json_loadb(w.buf, w.len, 0, NULL);
    vg_jw_fini(&w);
    assert_non_null(j);
    json_t *v = json_object_get(j, key);
    int64_t x = json_is_boolean(v) ? json_is_true(v) : (int64_t) json_integer_value(v);
    json_decref(j);
    return x;
}

/* Waits up to secs for status[key] >= want. */
static bool s_wait_status(vg_kafka_bridge_t *b, const char *key, int64_t want, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        if (s_status(b, key) >= want) return true;
        usleep(50000);
    }
    return s_status(b, key) >= want;
}

static double s_engine_metric(vg_engine_t *e, const char *name)
{
    vg_prom_t p;
    vg_prom_init(&p);
    vg_engine_metrics(e, &p);
    double v = -1;
    size_t n = strlen(name);
    for (const char *q = p.buf; q && *q; q = strchr(q, '\n') ? strchr(q, '\n') + 1 : NULL)
        if (!strncmp(q, name, n) && q[n] == ' ') v = strtod(q + n + 1, NULL);
    vg_prom_fini(&p);
    return v;
}

static uint32_t s_count_invalid(const char *run, uint32_t n, uint32_t users, uint32_t every)
{
    uint32_t bad = 0;
    vt_msg_t m;
    for (uint32_t i = 0; i < n; i++) {
        vt_msg(&m, run, i, users, every);
        bad += m.kind != VT_VALID;
    }
    return bad;
}

typedef struct {
    char id[VG_TX_ID_MAX + 1];
    int n;
} t_count_t;

/* Frees a map whose values are malloc'd and own their keys. */
static void s_map_free(vg_strmap_t *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->slots[i].val);
    vg_strmap_fini(m);
}

/* Every invalid message of the input topic is in the dead-letter topic
 * with its bytes and headers naming the error and where it came from. */
static void s_check_dlq(t_fix_t *f, const char *in, const char *dlq, uint32_t want)
{
    vt_recs_t src = {0}, dead = {0};
    assert_int_equal(vt_kafka_read(&f->k, in, &src), 0);
    assert_int_equal(vt_kafka_read(&f->k, dlq, &dead), 0);
    assert_true(dead.n >= want);
    uint32_t matched = 0;
    for (size_t i = 0; i < dead.n; i++) {
        const vt_rec_t *d = &dead.v[i];
        assert_non_null(vt_header(d, "error"));
        assert_non_null(vt_header(d, "error_code"));
        assert_string_equal(vt_header(d, "source_topic"), in);
        int32_t part = atoi(vt_header(d, "source_partition"));
        int64_t off = atoll(vt_header(d, "source_offset"));
        for (size_t k = 0; k < src.n; k++) {
            if (src.v[k].partition != part || src.v[k].offset != off) continue;
            assert_int_equal(src.v[k].value_len, d->value_len);
            assert_memory_equal(src.v[k].value, d->value, d->value_len);
            matched++;
        }
    }
    assert_int_equal(matched, dead.n);
    vt_recs_free(&src);
    vt_recs_free(&dead);
}

/* Scores through the engine unless "down" (the cluster unreachable). */
typedef struct {
    vg_engine_t *engine;
    atomic_bool down;
} t_gate_t;

static int s_gated_score(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                         vg_arena_t *arena)
{
    t_gate_t *g = ctx;
    if (atomic_load(&g->down)) return VG_ERR_UNREACHABLE;
    return vg_engine_score(g->engine, txs, n, out, arena);
}

/* The same asynchronously (how vigil-node feeds its engine): a failure
 * is reported through done, as the engine would. */
static int s_gated_submit(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                          vg_arena_t *arena, vg_kafka_done_fn *done, void *arg)
{
    t_gate_t *g = ctx;
    if (!atomic_load(&g->down)) return vg_engine_submit(g->engine, txs, n, out, arena, done, arg);
    done(arg, VG_ERR_UNREACHABLE);
    return 0;
}

/* Transactions the engine scored once (re-read ones are duplicates). */
static double s_scored_once(t_fix_t *f)
{
    return s_engine_metric(f->engine, "vigil_transactions_total") -
           s_engine_metric(f->engine, "vigil_duplicates_total");
}

static bool s_wait_scored_once(t_fix_t *f, double want, int secs)
{
    for (int i = 0; i < secs * 20 && s_scored_once(f) < want; i++) usleep(50000);
    return s_scored_once(f) == want;
}

/* Partitions assigned to b. */
static size_t s_parts(vg_kafka_bridge_t *b)
{
    vg_jw_t w;
    vg_jw_init(&w);
    vg_kafka_bridge_status_json(b, &w);
    json_t *j = json_loadb(w.buf, w.len, 0, NULL);
    vg_jw_fini(&w);
    size_t n = json_array_size(json_object_get(j, "partitions"));
    json_decref(j);
    return n;
}

static bool s_wait_parts(vg_kafka_bridge_t *b, size_t want, int secs)
{
    for (int i = 0; i < secs * 20 && s_parts(b) != want; i++) usleep(50000);
    return s_parts(b) == want;
}

/* Waits until the high watermarks of b's partitions add up to want. */
static bool s_wait_high(vg_kafka_bridge_t *b, int64_t want, int secs)
{
    int64_t sum = 0;
    for (int i = 0; i < secs * 20; i++, usleep(50000)) {
        vg_jw_t w;
        vg_jw_init(&w);
        vg_kafka_bridge_status_json(b, &w);
        json_t *j = json_loadb(w.buf, w.len, 0, NULL), *ps = json_object_get(j, "partitions");
        vg_jw_fini(&w);
        sum = 0;
        for (size_t k = 0; k < json_array_size(ps); k++)
            sum += json_integer_value(json_object_get(json_array_get(ps, k), "high"));
        json_decref(j);
        if (sum == want) return true;
    }
    fprintf(stderr, "high watermarks add up to %lld, not %lld\n", (long long) sum,
            (long long) want);
    return false;
}

/* Every verdict of the topic once, each with a decision; the validated
 * transactions (msgpack, ingest time set) keyed by user. */
static void s_check_outputs(t_fix_t *f, uint32_t valid)
{
    vt_recs_t v = {0}, t = {0};
    assert_int_equal(vt_kafka_read(&f->k, "verdicts", &v), 0);
    assert_int_equal(v.n, valid);
    vg_strmap_t seen;
    vg_strmap_init(&seen, 4096);
    for (size_t i = 0; i < v.n; i++) {
        json_t *j = json_loads(v.v[i].value, 0, NULL);
        assert_non_null(j);
        const char *id = json_string_value(json_object_get(j, "id"));
        assert_non_null(id);
        assert_null(vg_strmap_get(&seen, vg_str_c(id))); /* once each */
        t_count_t *c = calloc(1, sizeof *c);
        snprintf(c->id, sizeof c->id, "%s", id);
        vg_strmap_put(&seen, vg_str_c(c->id), c);
        assert_non_null(json_object_get(j, "decision"));
        json_decref(j);
    }
    s_map_free(&seen);
    assert_int_equal(vt_kafka_read(&f->k, "txs", &t), 0);
    assert_int_equal(t.n, valid);
    vg_tx_t tx;
    vg_mpr_t r;
    vg_mpr_init(&r, t.v[0].value, t.v[0].value_len);
    assert_int_equal(vg_tx_decode(&r, &tx, NULL), 0);
    assert_true(tx.ingest_ms > 0);
    assert_true(vg_str_eq_c(tx.user_id, t.v[0].key)); /* keyed by user */
    vt_recs_free(&v);
    vt_recs_free(&t);
}

/* The bridge over the real engine, in phases (one consumer group: the mock
 * coordinator takes ~3 s per membership change):
 * 1. N messages, some invalid: every valid one scored once, its verdict
 *    and transaction published once; every invalid one dead-lettered with
 *    its headers; lag 0.
 * 2. Scoring fails (cluster unreachable) while more arrive: the partitions
 *    pause, nothing is skipped, and consumption resumes when it works.
 * 3. A second member joins, then the first leaves mid-stream: nothing is
 *    lost (re-read messages are duplicates the engine answers).
 * 4. The last member leaves and a new one joins: the offsets were
 *    committed, it reads only what is new. */
static void test_bridge(void **state)
{
    t_fix_t *f = *state;
    const uint32_t n = 3000, users = 60, every = 50, more = 1000;
    uint32_t bad = s_count_invalid("e", n, users, every);
    vt_kafka_topic(&f->k, "in", 4);
    rd_kafka_t *p = vt_kafka_producer(&f->k);
    vt_kafka_send_run(p, "in", "e", 0, n, users, every);
    rd_kafka_flush(p, 10000);
    t_gate_t gate = {.engine = f->engine};
    vg_kafka_bridge_config_t bc = {.brokers = f->k.bootstraps,
                                   .topics = "in",
                                   .group = "g1",
                                   .options = S_FAST_GROUP,
                                   .dlq_topic = "in.dlq",
                                   .verdicts_topic = "verdicts",
                                   .tx_topic = "txs",
                                   .score = s_gated_score,
                                   .submit = s_gated_submit,
                                   .score_ctx = &gate,
                                   .batch_max = 300};
    vg_kafka_bridge_t *b1 = NULL, *b2 = NULL;
    char err[256];
    assert_int_equal(vg_kafka_bridge_start(&bc, &b1, err, sizeof err), 0);
    /* 1 */
    assert_true(s_wait_status(b1, "scored", n - bad, 20));
    assert_true(s_wait_status(b1, "dead_letters", bad, 10));
    assert_int_equal(s_status(b1, "consumed"), n);
    assert_true(s_wait_status(b1, "lag", 0, 5));
    assert_true(s_wait_high(b1, n, 5)); /* the watermarks are known: the lag is real */
    vg_prom_t pm;
    vg_prom_init(&pm);
    vg_kafka_metrics(b1, NULL, &pm);
    assert_non_null(strstr(pm.buf, "vigil_kafka_consumer_lag{topic=\"in\",partition=\"2\"} 0"));
    assert_non_null(strstr(pm.buf, "vigil_kafka_produced_total{topic=\"verdicts\"}"));
    vg_prom_fini(&pm);
    assert_int_equal(s_engine_metric(f->engine, "vigil_transactions_total"), n - bad);
    assert_int_equal(s_engine_metric(f->engine, "vigil_duplicates_total"), 0);
    s_check_dlq(f, "in", "in.dlq", bad);
    s_check_outputs(f, n - bad);
    /* 2 */
    atomic_store(&gate.down, true);
    vt_kafka_send_run(p, "in", "e", n, n + more, users, 0);
    rd_kafka_flush(p, 10000);
    assert_true(s_wait_status(b1, "paused", 1, 10));
    usleep(500000);
    assert_int_equal(s_status(b1, "paused"), 1);
    vg_prom_init(&pm);
    vg_kafka_metrics(b1, NULL, &pm);
    assert_non_null(strstr(pm.buf, "vigil_kafka_paused 1"));
    vg_prom_fini(&pm);
    atomic_store(&gate.down, false);
    assert_true(s_wait_status(b1, "scored", n - bad + more, 20));
    assert_true(s_wait_scored_once(f, n - bad + more, 5));
    assert_int_equal(s_engine_metric(f->engine, "vigil_duplicates_total"), 0); /* none twice */
    usleep(100000);
    assert_int_equal(s_status(b1, "paused"), 0);
    /* 3: the second member scores synchronously (as through the router) */
    vg_kafka_bridge_config_t bc2 = bc;
    bc2.submit = NULL;
    assert_int_equal(vg_kafka_bridge_start(&bc2, &b2, err, sizeof err), 0);
    assert_true(s_wait_parts(b2, 2, 10));
    assert_true(s_wait_parts(b1, 2, 10));
    uint32_t total = n + 3 * more;
    vt_kafka_send_run(p, "in", "e", n + more, n + 2 * more, users, 0);
    rd_kafka_flush(p, 10000);
    assert_true(s_wait_status(b2, "consumed", 1, 10));
    vg_kafka_bridge_stop(&b1); /* mid-stream */
    vt_kafka_send_run(p, "in", "e", n + 2 * more, total, users, 0);
    rd_kafka_flush(p, 10000);
    assert_true(s_wait_parts(b2, 4, 15));
    assert_true(s_wait_scored_once(f, total - bad, 20));
    printf("rebalance: %.0f re-read (duplicates)\n",
           s_engine_metric(f->engine, "vigil_duplicates_total"));
    /* 4 */
    vg_kafka_bridge_stop(&b2);
    assert_int_equal(vg_kafka_bridge_start(&bc, &b1, err, sizeof err), 0);
    vt_kafka_send_run(p, "in", "e", total, total + 100, users, 0);
    rd_kafka_flush(p, 10000);
    assert_true(s_wait_status(b1, "scored", 100, 20));
    usleep(300000);
    assert_int_equal(s_status(b1, "consumed"), 100);
    vg_kafka_bridge_stop(&b1);
    rd_kafka_destroy(p);
}

/* ---- the anomaly sink ---------------------------------------------------------- */

static void s_record(vg_mpw_t *w, const char *id, const char *user)
{
    vg_tx_t tx;
    vg_tx_init(&tx);
    tx.id = vg_str_c(id);
    tx.user_id = vg_str_c(user);
    tx.amount = 999;
    tx.ts_ms = 1780000000000LL;
    memcpy(tx.currency, "EUR", 4);
    vg_verdict_t v = {.id = tx.id, .decision = VG_DECISION_BLOCK, .anomaly = true, .score = 0.9};
    v.n_reasons = 1;
    v.reasons[0] = (vg_reason_t){VG_STR_LIT("mad"), VG_STR_LIT("amount"), 999, 50, 4, 0.9};
    vg_anomaly_t a = {.tx = &tx, .verdict = &v, .detected_ms = 1780000001000LL};
    vg_anomaly_encode(&a, w);
}

static void test_sink(void **state)
{
    t_fix_t *f = *state;
    vt_kafka_topic(&f->k, "anomalies", 2);
    vg_kafka_sink_config_t kc = {
        .brokers = f->k.bootstraps, .topic = "anomalies", .timeout_ms = 1500};
    vg_kafka_sink_t *s = NULL;
    char err[256];
    assert_int_equal(vg_kafka_sink_new(&kc, &s, err, sizeof err), 0);
    vg_mpw_t w[3];
    vg_str_t recs[3];
    const char *ids[] = {"a1", "a2", "a3"}, *users[] = {"alice", "bob", "alice"};
    for (int i = 0; i < 3; i++) {
        vg_mpw_init(&w[i]);
        s_record(&w[i], ids[i], users[i]);
        recs[i] = (vg_str_t){(const char *) w[i].buf, (uint32_t) w[i].len};
    }
    vg_str_t junk = VG_STR_LIT("\x01\x02"); /* set aside, does not block */
    vg_str_t batch[4] = {recs[0], junk, recs[1], recs[2]};
    assert_int_equal(vg_kafka_sink_deliver(s, batch, 4), 0);
    vt_recs_t out = {0};
    assert_int_equal(vt_kafka_read(&f->k, "anomalies", &out), 0);
    assert_int_equal(out.n, 3);
    for (size_t i = 0; i < out.n; i++) {
        json_t *j = json_loads(out.v[i].value, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "id"));
        assert_string_equal(vt_header(&out.v[i], "anomaly_id"), id);
        assert_string_equal(out.v[i].key, json_string_value(json_object_get(j, "user_id")));
        assert_non_null(json_object_get(j, "transaction"));
        assert_non_null(json_object_get(j, "features"));
        assert_string_equal(json_string_value(json_object_get(j, "severity")), "high");
        json_decref(j);
    }
    vt_recs_free(&out);
    rd_kafka_mock_broker_set_down(f->k.mc, 1); /* down: the delivery fails, in time */
    uint64_t t0 = vg_now_ns();
    assert_int_equal(vg_kafka_sink_deliver(s, recs, 1), VG_ERR_UNREACHABLE);
    assert_true(vg_now_ns() - t0 < 5000000000ull);
    rd_kafka_mock_broker_set_up(f->k.mc, 1);
    int rc = -1; /* as the outbox does: again until it goes through */
    for (int i = 0; i < 10 && rc; i++) rc = vg_kafka_sink_deliver(s, recs, 1);
    assert_int_equal(rc, 0);
    vg_prom_t pm;
    vg_prom_init(&pm);
    vg_kafka_metrics(NULL, s, &pm);
    assert_null(strstr(pm.buf, "vigil_kafka_produce_errors_total{topic=\"anomalies\"} 0"));
    vg_prom_fini(&pm);
    vg_kafka_sink_destroy(&s);
    for (int i = 0; i < 3; i++) vg_mpw_fini(&w[i]);
}

/* An output topic the brokers do not have and will not create is refused
 * at start, named: the mock broker answers for the topic as a broker with
 * auto.create.topics.enable=false answers for a missing one
 * (UNKNOWN_TOPIC_OR_PART). Once it is there, the same configuration starts. */
static void s_topic_missing(t_fix_t *f, const char *topic, bool missing)
{
    if (missing) vt_kafka_topic(&f->k, topic, 1);
    rd_kafka_mock_topic_set_error(f->k.mc, topic,
                                  missing ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                                          : RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void test_missing_output_topics(void **state)
{
    t_fix_t *f = *state;
    vt_kafka_topic(&f->k, "in", 2);
    s_topic_missing(f, "lost-dlq", true);
    s_topic_missing(f, "lost-verdicts", true);
    t_gate_t gate = {.engine = f->engine};
    vg_kafka_bridge_config_t bc = {.brokers = f->k.bootstraps,
                                   .topics = "in",
                                   .group = "g-missing",
                                   .dlq_topic = "lost-dlq",
                                   .verdicts_topic = "lost-verdicts",
                                   .score = s_gated_score,
                                   .score_ctx = &gate};
    vg_kafka_bridge_t *b = NULL;
    char err[256] = "";
    assert_int_equal(vg_kafka_bridge_start(&bc, &b, err, sizeof err), VG_ERR_INVALID);
    assert_null(b);
    assert_non_null(strstr(err, "--kafka-dlq-topic: no topic 'lost-dlq'"));
    s_topic_missing(f, "lost-dlq", false);
    assert_int_equal(vg_kafka_bridge_start(&bc, &b, err, sizeof err), VG_ERR_INVALID);
    assert_non_null(strstr(err, "--kafka-verdicts-topic: no topic 'lost-verdicts'"));
    s_topic_missing(f, "lost-verdicts", false);
    assert_int_equal(vg_kafka_bridge_start(&bc, &b, err, sizeof err), 0);
    vg_kafka_bridge_stop(&b);
    s_topic_missing(f, "lost-anomalies", true);
    vg_kafka_sink_config_t kc = {.brokers = f->k.bootstraps, .topic = "lost-anomalies"};
    vg_kafka_sink_t *s = NULL;
    assert_int_equal(vg_kafka_sink_new(&kc, &s, err, sizeof err), VG_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(err, "--kafka-anomalies-topic: no topic 'lost-anomalies'"));
    s_topic_missing(f, "lost-anomalies", false);
    assert_int_equal(vg_kafka_sink_new(&kc, &s, err, sizeof err), 0);
    vg_kafka_sink_destroy(&s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_bridge),
        T(test_sink),
        T(test_missing_output_topics),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
