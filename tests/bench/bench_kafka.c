/* bench_kafka.c: Kafka ingest into one node: the consumer bridge in-process
 * with the real engine and LMDB store (fsync per commit unless --no-sync),
 * reading from librdkafka's mock cluster in this process (the real
 * protocol on loopback). N transactions (JSON, every 5th msgpack) are
 * produced first; the figure is N over the time from the group
 * assignment to the last batch's offsets stored ("scored" counts a batch
 * then). The mock's fetch scans a
 * partition linearly (keep N <= 200k per topic) and it keeps at most 5 MB
 * per partition (older messages are dropped): 8 partitions hold 200k.
 *   bench_kafka [--messages N] [--partitions P] [--workers W] [--no-sync]
 *               [--null-score: no engine, the bridge's own ceiling]
 *               [--sync-score: one batch at a time, as through the router]
 * Prints "BENCH kafka_ingest_tx_per_s <value> tx/s". */
#include "vt_kafka.h"

#include "vg_engine.h"
#include "vg_err.h"
#include "vg_kafka.h"
#include "vg_log.h"
#include "vg_store.h"
#include "vg_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* CPU seconds (user + system) of this process so far. */
static double s_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int s_score(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out, vg_arena_t *arena)
{
    return vg_engine_score(ctx, txs, n, out, arena);
}

/* The engine asynchronously: batches overlap (group commit). */
static int s_submit(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out, vg_arena_t *arena,
                    vg_kafka_done_fn *done, void *arg)
{
    return vg_engine_submit(ctx, txs, n, out, arena, done, arg);
}

/* --null-score: the bridge alone (consume, parse, store offsets). */
static int s_null_score(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                        vg_arena_t *arena)
{
    (void) ctx, (void) arena;
    for (uint32_t i = 0; i < n; i++) out[i] = (vg_verdict_t){.id = txs[i].id};
    return 0;
}

/* An integer of the bridge's status ("partitions": the count). */
static long long s_status(vg_kafka_bridge_t *b, const char *key)
{
    vg_jw_t w;
    vg_jw_init(&w);
    vg_kafka_bridge_status_json(b, &w);
    char *text = strndup(w.buf, w.len), pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    long long v = -1;
    if (!strcmp(key, "partitions")) {
        v = 0;
        for (const char *p = text; (p = strstr(p, "\"partition\":")); p++) v++;
    } else {
        const char *p = strstr(text, pat);
        if (p) v = atoll(p + strlen(pat));
    }
    free(text);
    vg_jw_fini(&w);
    return v;
}

int main(int argc, char **argv)
{
    uint32_t n = 200000, parts = 8;
    int workers = 0;
    bool no_sync = false, null_score = false, sync = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--messages") && i + 1 < argc)
            n = (uint32_t) atoi(argv[++i]);
        else if (!strcmp(argv[i], "--partitions") && i + 1 < argc)
            parts = (uint32_t) atoi(argv[++i]);
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
            workers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-sync"))
            no_sync = true;
        else if (!strcmp(argv[i], "--null-score"))
            null_score = true;
        else if (!strcmp(argv[i], "--sync-score"))
            sync = true;
        else {
            fprintf(stderr, "usage: bench_kafka [--messages N] [--partitions P] [--workers W] "
                            "[--no-sync] [--null-score] [--sync-score]\n");
            return 2;
        }
    }
    vg_log_set_level(getenv("VG_DEBUG") ? VG_LOG_DEBUG : VG_LOG_WARN);
    char dir[] = "/tmp/vigil-bench-kafka-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    vg_store_config_t sc = {.dir = dir, .no_sync = no_sync};
    vg_store_t *store = NULL;
    vg_engine_t *engine = NULL;
    char err[256];
    vg_engine_config_t ec;
    vg_engine_config_default(&ec);
    ec.workers = workers;
    if (vg_store_open(&sc, &store, err, sizeof err) || vg_engine_new(&ec, store, &engine) ||
        vg_engine_start(engine)) {
        fprintf(stderr, "bench_kafka: cannot start the engine: %s\n", err);
        return 1;
    }
    vt_kafka_t k;
    vt_kafka_start(&k, 1);
    vt_kafka_topic(&k, "bench", (int) parts);
    rd_kafka_t *p = vt_kafka_producer(&k);
    uint64_t t0 = vg_now_ns();
    vt_kafka_send_run(p, "bench", "k", 0, n, 10000, 0);
    rd_kafka_flush(p, 60000);
    rd_kafka_destroy(p);
    printf("produced %u transactions to %u partitions in %.1f s\n", n, parts,
           (double) (vg_now_ns() - t0) / 1e9);
    vg_kafka_bridge_config_t bc = {.brokers = k.bootstraps,
                                   .topics = "bench",
                                   .group = "bench",
                                   .score = null_score ? s_null_score : s_score,
                                   .submit = null_score || sync ? NULL : s_submit,
                                   .score_ctx = engine};
    vg_kafka_bridge_t *b = NULL;
    if (vg_kafka_bridge_start(&bc, &b, err, sizeof err)) {
        fprintf(stderr, "bench_kafka: %s\n", err);
        return 1;
    }
    while (s_status(b, "partitions") < (long long) parts) usleep(2000);
    uint64_t start = vg_now_ns();
    double cpu0 = s_cpu_s();
    vg_store_stats_t st0;
    vg_store_stats(store, &st0);
    uint64_t deadline = start + 120ull * 1000000000u;
    while (s_status(b, "scored") < (long long) n && vg_now_ns() < deadline) usleep(2000);
    double secs = (double) (vg_now_ns() - start) / 1e9;
    long long scored = s_status(b, "scored");
    double cpu = s_cpu_s() - cpu0;
    vg_store_stats_t st1;
    vg_store_stats(store, &st1);
    uint64_t commits = st1.commits - st0.commits;
    int used = vg_engine_workers(engine);
    vg_kafka_bridge_stop(&b);
    vg_engine_destroy(&engine);
    vg_store_close(&store);
    vt_kafka_stop(&k);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return 1;
    if (scored < (long long) n) {
        fprintf(stderr, "bench_kafka: only %lld of %u scored in time\n", scored, n);
        return 1;
    }
    printf("scored %u transactions from Kafka in %.2f s (%s, %d workers)\n", n, secs,
           no_sync ? "no fsync" : "fsync per commit", used);
    printf("cpu %.2f s (%.2f cores, %.2f us per tx); %llu commits, %.0f tx and %.2f ms each\n", cpu,
           cpu / secs, cpu * 1e6 / n, (unsigned long long) commits,
           commits ? (double) n / (double) commits : 0,
           commits ? (double) (st1.commit_ns_total - st0.commit_ns_total) / 1e6 / (double) commits
                   : 0);
    printf("BENCH %s %.0f tx/s\n",
           null_score ? "kafka_bridge_only_tx_per_s" : "kafka_ingest_tx_per_s", n / secs);
    return 0;
}
