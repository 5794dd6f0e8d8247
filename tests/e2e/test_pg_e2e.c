/* test_pg_e2e.c: vigil-node with store = postgres against a real
 * PostgreSQL (tests/pg/pg_server.sh, a temp dir, a free loopback port).
 * Anomalies leave through the LMDB outbox; the test ingests continuously,
 * stops PostgreSQL for several seconds, restarts it, and checks that every
 * anomaly the node reported is in PostgreSQL exactly once and served by
 * its API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>

static char s_dir[128], s_script[600], s_dsn[300];
static e2e_node_t s_node;

/* Runs pg_server.sh CMD DIR [SQL]; its stdout (first line) into out. */
static int s_pg(const char *cmd, const char *sql, char *out, size_t cap)
{
    char line[1200];
    snprintf(line, sizeof line, "PG_SERVER_FAST=1 bash '%s' %s '%s/pg'%s%s%s 2>>'%s/pg.log'",
             s_script, cmd, s_dir, sql ? " \"" : "", sql ? sql : "", sql ? "\"" : "", s_dir);
    FILE *p = popen(line, "r");
    if (!p) return -1;
    char buf[1024] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    int rc = pclose(p);
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    if (out) snprintf(out, cap, "%s", buf);
    return rc;
}

/* A metric of the node without labels (-1 if absent). */
static double s_metric(const char *name)
{
    e2e_resp_t r = e2e_get(&s_node, "/metrics");
    double v = -1;
    size_t n = strlen(name);
    for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, name, n) && p[n] == ' ') v = strtod(p + n + 1, NULL);
    e2e_resp_free(&r);
    return v;
}

static int s_setup(void **state)
{
    (void) state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(s_dir, sizeof s_dir, "/tmp/vigil-pg-e2e-XXXXXX");
    if (!mkdtemp(s_dir) || chmod(s_dir, 0755)) return -1; /* the server runs as postgres */
    const char *src = getenv("VG_SOURCE_DIR") ? getenv("VG_SOURCE_DIR") : ".";
    snprintf(s_script, sizeof s_script, "%s/tests/pg/pg_server.sh", src);
    if (s_pg("start", NULL, s_dsn, sizeof s_dsn) || !s_dsn[0]) {
        fprintf(stderr, "PostgreSQL did not start (see %s/pg.log)\n", s_dir);
        return -1;
    }
    const char *extra[] = {"--store", "postgres", "--pg-dsn", s_dsn, NULL};
    if (e2e_start(&s_node, extra)) return -1;
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    e2e_stop(&s_node, SIGTERM);
    e2e_cleanup(&s_node);
    s_pg("destroy", NULL, NULL, 0);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    int rc = getenv("VG_KEEP_LOGS") ? 0 : system(cmd);
    curl_global_cleanup();
    return rc;
}

/* ---- load: users with a routine history, then spikes ------------------- */

static atomic_bool s_on;
static atomic_int s_sent, s_flagged, s_errors;

static void *s_load(void *arg)
{
    (void) arg;
    char body[64 * 220];
    for (int b = 0; atomic_load(&s_on); b++) {
        size_t off = 0;
        body[off++] = '[';
        for (int i = 0; i < 50; i++) {
            int k = b * 50 + i, user = k % 200, seq = k / 200;
            double amount = seq >= 12 && seq % 4 == 0 ? 5000 + user : 20 + (seq % 3);
            off += (size_t) snprintf(body + off, sizeof body - off,
                                     "%s{\"id\":\"o%d\",\"user_id\":\"ou%d\",\"amount\":%.2f,"
                                     "\"currency\":\"EUR\",\"timestamp\":%lld}",
                                     i ? "," : "", k, user, amount,
                                     1767225600000LL + (long long) seq * 3600000LL);
        }
        body[off++] = ']';
        body[off] = 0;
        e2e_resp_t r = e2e_post(&s_node, "/v1/transactions", body);
        json_t *res = r.status == 200 ? json_object_get(r.json, "results") : NULL;
        if (!res) atomic_fetch_add(&s_errors, 1);
        for (size_t k = 0; res && k < json_array_size(res); k++) {
            json_t *x = json_array_get(res, k);
            atomic_fetch_add(&s_sent, 1);
            if (json_is_true(json_object_get(x, "anomaly")) &&
                !json_is_true(json_object_get(x, "duplicate")))
                atomic_fetch_add(&s_flagged, 1);
        }
        e2e_resp_free(&r);
        usleep(10000);
    }
    return NULL;
}

/* Every anomaly survives a PostgreSQL outage, exactly once. */
static void test_outage_loses_nothing(void **state)
{
    (void) state;
    pthread_t t;
    atomic_store(&s_on, true);
    pthread_create(&t, NULL, s_load, NULL);
    sleep(3);
    assert_int_equal(s_pg("stop", NULL, NULL, 0), 0);
    sleep(2);
    double waiting = s_metric("vigil_outbox_entries{sink=\"postgres\"}");
    e2e_resp_t r = e2e_get(&s_node, "/v1/anomalies?limit=5");
    assert_int_equal(r.status, 503); /* the store is down: said so, not an empty page */
    e2e_resp_free(&r);
    sleep(3);
    double waiting2 = s_metric("vigil_outbox_entries{sink=\"postgres\"}");
    char dsn2[300];
    assert_int_equal(s_pg("start", NULL, dsn2, sizeof dsn2), 0);
    assert_string_equal(dsn2, s_dsn); /* same port */
    sleep(2);
    atomic_store(&s_on, false);
    pthread_join(t, NULL);
    double left = -1;
    for (int k = 0; k < 300 && left != 0; k++, usleep(100000))
        left = s_metric("vigil_outbox_entries{sink=\"postgres\"}");
    char counts[200];
    assert_int_equal(s_pg("sql",
                          "select count(*) || ' ' || count(distinct anomaly_id) from anomalies",
                          counts, sizeof counts),
                     0);
    long rows = -1, distinct = -1;
    sscanf(counts, "%ld %ld", &rows, &distinct);
    fprintf(stderr,
            "outage: %d tx sent, %d anomalies flagged; outbox held %.0f then %.0f during the "
            "outage; PostgreSQL has %ld rows, %ld distinct; %d http errors\n",
            atomic_load(&s_sent), atomic_load(&s_flagged), waiting, waiting2, rows, distinct,
            atomic_load(&s_errors));
    assert_int_equal(atomic_load(&s_errors), 0);
    assert_true(waiting2 > 0); /* the outbox grew while PostgreSQL was down */
    assert_true(left == 0);
    assert_true(atomic_load(&s_flagged) > 50);
    assert_int_equal(rows, atomic_load(&s_flagged));
    assert_int_equal(distinct, rows);
    /* the API pages through them all from PostgreSQL */
    char path[300], cursor[200] = "";
    long listed = 0;
    do {
        snprintf(path, sizeof path, "/v1/anomalies?limit=100%s%s", cursor[0] ? "&cursor=" : "",
                 cursor);
        r = e2e_get(&s_node, path);
        assert_int_equal(r.status, 200);
        listed += (long) json_array_size(json_object_get(r.json, "anomalies"));
        const char *next = json_string_value(json_object_get(r.json, "next_cursor"));
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        e2e_resp_free(&r);
    } while (cursor[0]);
    assert_int_equal(listed, rows);
}

/* The store is shared: a standalone vigil-gateway (in front of another
 * node, a one-node cluster) serves the anomalies the first node wrote. */
static void test_gateway_reads_shared_store(void **state)
{
    (void) state;
    const char *b = getenv("VG_BINARY_DIR") ? getenv("VG_BINARY_DIR") : "build";
    char node_bin[400], gw_bin[400], listen[64], data[300], http[64], log[300], glog[300];
    snprintf(node_bin, sizeof node_bin, "%s/bin/vigil-node", b);
    snprintf(gw_bin, sizeof gw_bin, "%s/bin/vigil-gateway", b);
    int port = e2e_free_listen_port(); /* raft takes port + 1000 */
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(data, sizeof data, "%s/node2", s_dir);
    snprintf(log, sizeof log, "%s/node2.log", s_dir);
    snprintf(glog, sizeof glog, "%s/gateway.log", s_dir);
    const char *nargv[] = {node_bin,  "--listen", listen,     "--data-dir", data,
                           "--store", "postgres", "--pg-dsn", s_dsn,        NULL};
    pid_t node2 = e2e_spawn(nargv, log);
    e2e_node_t g = {.port = e2e_free_port()};
    snprintf(g.url, sizeof g.url, "http://127.0.0.1:%d", g.port);
    snprintf(http, sizeof http, "127.0.0.1:%d", g.port);
    const char *gargv[] = {gw_bin,     "--cluster", listen, "--http", http,  "--store",
                           "postgres", "--pg-dsn",  s_dsn,  "--auth", "off", NULL};
    pid_t gw = e2e_spawn(gargv, glog);
    long total = -1, rows = -1;
    for (int k = 0; k < 200 && total < 0; k++, usleep(100000)) {
        e2e_resp_t r = e2e_get(&g, "/v1/stats/anomalies?bucket=1d&from=2025-12-01T00:00:00Z"
                                   "&to=2026-03-01T00:00:00Z");
        if (r.status == 200) {
            total = 0;
            json_t *bk = json_object_get(r.json, "buckets");
            for (size_t i = 0; i < json_array_size(bk); i++)
                total += (long) json_integer_value(json_object_get(json_array_get(bk, i), "total"));
        }
        e2e_resp_free(&r);
    }
    char counts[64] = "";
    int sql_rc = s_pg("sql", "select count(*) from anomalies", counts, sizeof counts);
    kill(gw, SIGTERM), waitpid(gw, NULL, 0); /* before any assertion can fail */
    kill(node2, SIGTERM), waitpid(node2, NULL, 0);
    assert_int_equal(sql_rc, 0);
    rows = atol(counts);
    fprintf(stderr, "standalone gateway over PostgreSQL: stats total %ld, rows %ld\n", total, rows);
    assert_true(rows > 0);
    assert_int_equal(total, rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outage_loses_nothing),
        cmocka_unit_test(test_gateway_reads_shared_store),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
