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
 *               [--cluster: the node a vigil-node process in cluster mode,
 *                reached through the router (vg_router_submit; with
 *                --sync-score vg_router_score, as vigil-gateway scores)]
 * Prints "BENCH kafka_ingest_tx_per_s <value> tx/s" (with --cluster
 * "kafka_gateway_ingest_tx_per_s"). */
#include "vt_kafka.h"

#include "vg_engine.h"
#include "vg_err.h"
#include "vg_kafka.h"
#include "vg_log.h"
#include "vg_router.h"
#include "vg_store.h"
#include "vg_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

/* CPU seconds of process pid so far (0 for pid <= 0 or unreadable). */
static double s_proc_cpu_s(pid_t pid)
{
    if (pid <= 0) return 0;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    const char *p = strrchr(buf, ')'); /* the command may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

/* --cluster: through the router, as a vigil-gateway scores. */
static int s_router_score(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                          vg_arena_t *arena)
{
    return vg_router_score(ctx, txs, n, out, arena);
}

static int s_router_submit(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                           vg_arena_t *arena, vg_kafka_done_fn *done, void *arg)
{
    return vg_router_submit(ctx, txs, n, out, arena, done, arg);
}

/* A free loopback TCP port (bound once to ask the kernel). */
static int s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && !bind(fd, (struct sockaddr *) &a, sizeof a) &&
        !getsockname(fd, (struct sockaddr *) &a, &len))
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* --cluster: vigil-node (next to this program) as a one-member cluster
 * listening on 127.0.0.1:port, its LMDB in dir/node; its log in dir. */
static pid_t s_spawn_node(const char *dir, int port, int workers, bool no_sync)
{
    char self[512], bin[600], listen[32], data[300], log[300], wk[16];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return -1;
    self[len] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(bin, sizeof bin, "%s/vigil-node", self);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(data, sizeof data, "%s/node", dir);
    snprintf(log, sizeof log, "%s/node.log", dir);
    snprintf(wk, sizeof wk, "%d", workers);
    const char *argv[] = {
        bin,          "--listen", listen,      "--node-id", "1",
        "--data-dir", data,       "--workers", wk,          no_sync ? "--unsafe-no-sync" : NULL,
        NULL};
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "a", stderr)) _exit(127);
        execv(bin, (char *const *) argv);
        _exit(127);
    }
    return pid;
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
    bool no_sync = false, null_score = false, sync = false, cluster = false;
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
        else if (!strcmp(argv[i], "--cluster"))
            cluster = true;
        else {
            fprintf(stderr, "usage: bench_kafka [--messages N] [--partitions P] [--workers W] "
                            "[--no-sync] [--null-score] [--sync-score] [--cluster]\n");
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
    pid_t node = 0;
    vg_router_t *router = NULL;
    if (cluster) {
        int port = s_free_port();
        char seeds[32];
        snprintf(seeds, sizeof seeds, "127.0.0.1:%d", port);
        node = s_spawn_node(dir, port, workers, no_sync);
        if (node <= 0 ||
            vg_router_new(&(vg_router_config_t){.seeds = seeds}, &router, err, sizeof err)) {
            fprintf(stderr, "bench_kafka: no vigil-node at %s: %s (log: %s/node.log)\n", seeds, err,
                    dir);
            if (node > 0) kill(node, SIGKILL);
            return 1;
        }
    } else if (vg_store_open(&sc, &store, err, sizeof err) || vg_engine_new(&ec, store, &engine) ||
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
                                   .score = null_score ? s_null_score
                                            : cluster  ? s_router_score
                                                       : s_score,
                                   .submit = null_score || sync ? NULL
                                             : cluster          ? s_router_submit
                                                                : s_submit,
                                   .score_ctx = cluster ? (void *) router : (void *) engine};
    vg_kafka_bridge_t *b = NULL;
    if (vg_kafka_bridge_start(&bc, &b, err, sizeof err)) {
        fprintf(stderr, "bench_kafka: %s\n", err);
        return 1;
    }
    while (s_status(b, "partitions") < (long long) parts) usleep(2000);
    uint64_t start = vg_now_ns();
    double cpu0 = s_cpu_s(), node_cpu0 = s_proc_cpu_s(node);
    vg_store_stats_t st0 = {0}, st1 = {0};
    if (store) vg_store_stats(store, &st0);
    uint64_t deadline = start + 120ull * 1000000000u;
    while (s_status(b, "scored") < (long long) n && vg_now_ns() < deadline) usleep(2000);
    double secs = (double) (vg_now_ns() - start) / 1e9;
    long long scored = s_status(b, "scored");
    double cpu = s_cpu_s() - cpu0 + (node ? s_proc_cpu_s(node) - node_cpu0 : 0);
    if (store) vg_store_stats(store, &st1);
    uint64_t commits = st1.commits - st0.commits;
    int used = engine ? vg_engine_workers(engine) : workers;
    vg_kafka_bridge_stop(&b);
    vg_router_destroy(&router);
    if (node > 0) {
        kill(node, SIGTERM);
        waitpid(node, NULL, 0);
    }
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
    printf("cpu %.2f s (%.2f cores, %.2f us per tx%s)", cpu, cpu / secs, cpu * 1e6 / n,
           node ? ", the node's included" : "");
    if (commits)
        printf("; %llu commits, %.0f tx and %.2f ms each", (unsigned long long) commits,
               (double) n / (double) commits,
               (double) (st1.commit_ns_total - st0.commit_ns_total) / 1e6 / (double) commits);
    printf("\n");
    printf("BENCH %s %.0f tx/s\n",
           null_score ? "kafka_bridge_only_tx_per_s"
           : cluster
               ? (sync ? "kafka_gateway_sync_ingest_tx_per_s" : "kafka_gateway_ingest_tx_per_s")
               : "kafka_ingest_tx_per_s",
           n / secs);
    return 0;
}
