/* main.c: vigil-gateway, the standalone stateless edge: the HTTP API of
 * `vigil-node --gateway`, routing every transaction to the node that owns
 * its shard (learned from the cluster). Several may run at once. */
#include "vg_api.h"
#include "vg_err.h"
#include "vg_http.h"
#include "vg_log.h"
#include "vg_pg.h"
#include "vg_router.h"
#include "vg_signals.h"
#include "vg_time.h"

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *http, *cluster, *log_level, *store, *pg_dsn;
    int http_threads, pg_pool;
    size_t max_body;
    uint32_t max_items;
} s_cfg_t;

/* The gateway: the router, and with --store postgres the shared anomaly
 * store (opened lazily: PostgreSQL may come up after the gateway). */
typedef struct {
    vg_router_t *router;
    const s_cfg_t *cfg;
    pthread_mutex_t pg_mu;
    vg_pg_t *pg;
    uint64_t pg_next_try_ns;
} s_gw_t;

/* The store connection, or NULL (queries answer 503) while PostgreSQL is
 * unreachable; a new attempt at most every 2 s. */
static vg_pg_t *s_pg(s_gw_t *g)
{
    pthread_mutex_lock(&g->pg_mu);
    if (!g->pg && vg_now_ns() >= g->pg_next_try_ns) {
        vg_pg_config_t pc = {.dsn = g->cfg->pg_dsn, .pool_size = g->cfg->pg_pool};
        char err[512];
        if (vg_pg_open(&pc, &g->pg, err, sizeof err)) {
            vg_warn("gateway", "PostgreSQL: %s (anomaly queries answer 503 meanwhile)", err);
            g->pg = NULL;
            g->pg_next_try_ns = vg_now_ns() + 2000000000ull;
        }
    }
    vg_pg_t *pg = g->pg;
    pthread_mutex_unlock(&g->pg_mu);
    return pg;
}

static void s_usage(FILE *out)
{
    fprintf(out, "usage: vigil-gateway --cluster HOST:PORT[,HOST:PORT...] [options]\n\n"
                 "The Vigil HTTP API of `vigil-node --gateway` (POST /v1/transactions, GET\n"
                 "/v1/anomalies[/ID], /v1/stats/anomalies, /v1/rules, /v1/models, /healthz,\n"
                 "/readyz, /metrics) in front of a cluster: learns the shard map from any\n"
                 "member and sends each transaction to the node owning its shard, retrying\n"
                 "on NOT_OWNER or a dead owner. Anomaly queries ask every member and merge\n"
                 "(newest first; a cursor works on any gateway). Several may run at once.\n\n"
                 "  --cluster ADDRS      members' --listen addresses (env VIGIL_CLUSTER)\n"
                 "  --store lmdb|postgres  where the nodes keep anomalies (env VIGIL_STORE):\n"
                 "                       lmdb asks every member; postgres reads the shared\n"
                 "                       store (default lmdb)\n"
                 "  --pg-dsn DSN         libpq connection string (env VIGIL_PG_DSN)\n"
                 "  --pg-pool N          connections (default 4)\n"
                 "  --http HOST:PORT     listen address (default 127.0.0.1:8080, env VIGIL_HTTP)\n"
                 "  --http-threads N     HTTP worker threads (default 16)\n"
                 "  --max-body SIZE      largest request body in bytes (default 8388608)\n"
                 "  --max-items N        most transactions per request (default 10000)\n"
                 "  --log-level LEVEL    error, warn, info, debug (default info)\n"
                 "  -h, --help           this text;  --version  the version\n"
                 "Exit status: 0 after SIGINT/SIGTERM, 1 when it cannot start, 2 usage error.\n");
}

static int s_parse(int argc, char **argv, s_cfg_t *c)
{
    c->http = getenv("VIGIL_HTTP") ? getenv("VIGIL_HTTP") : "127.0.0.1:8080";
    c->cluster = getenv("VIGIL_CLUSTER");
    c->store = getenv("VIGIL_STORE") ? getenv("VIGIL_STORE") : "lmdb";
    c->pg_dsn = getenv("VIGIL_PG_DSN");
    c->pg_pool = 4;
    c->log_level = "info";
    c->http_threads = 16;
    c->max_body = 8u << 20;
    c->max_items = 10000;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return s_usage(stdout), 1;
        if (!strcmp(a, "--version")) return printf("vigil-gateway %s\n", VG_VERSION), 1;
        if (!v)
            return fprintf(stderr,
                           "vigil-gateway: %s: needs a value (or unknown option; see --help)\n", a),
                   -1;
        char *end;
        if (!strcmp(a, "--cluster"))
            c->cluster = v;
        else if (!strcmp(a, "--http"))
            c->http = v;
        else if (!strcmp(a, "--log-level"))
            c->log_level = v;
        else if (!strcmp(a, "--store"))
            c->store = v;
        else if (!strcmp(a, "--pg-dsn"))
            c->pg_dsn = v;
        else if (!strcmp(a, "--pg-pool") && (c->pg_pool = (int) strtol(v, &end, 10)) > 0 &&
                 c->pg_pool <= 64 && !*end) {
        } else if (!strcmp(a, "--http-threads") &&
                   (c->http_threads = (int) strtol(v, &end, 10)) > 0 && !*end) {
        } else if (!strcmp(a, "--max-body") && (c->max_body = strtoull(v, &end, 10)) > 0 && !*end) {
        } else if (!strcmp(a, "--max-items") &&
                   (c->max_items = (uint32_t) strtoul(v, &end, 10)) > 0 && !*end) {
        } else
            return fprintf(stderr,
                           "vigil-gateway: %s %s: unknown option or bad value (see --help)\n", a,
                           v),
                   -1;
    }
    if (strcmp(c->store, "lmdb") && strcmp(c->store, "postgres"))
        return fprintf(stderr, "vigil-gateway: --store: must be lmdb or postgres\n"), -1;
    if (!strcmp(c->store, "postgres") && (!c->pg_dsn || !*c->pg_dsn))
        return fprintf(stderr, "vigil-gateway: --pg-dsn: required with --store postgres\n"), -1;
    if (!c->cluster || !*c->cluster)
        return fprintf(stderr, "vigil-gateway: --cluster: required (a member's host:port)\n"), -1;
    vg_log_level lv;
    if (vg_log_level_parse(c->log_level, &lv))
        return fprintf(stderr, "vigil-gateway: --log-level: must be error, warn, info or debug\n"),
               -1;
    vg_log_set_level(lv);
    return 0;
}

static int s_score(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out, vg_arena_t *arena)
{
    return vg_router_score(((s_gw_t *) ctx)->router, txs, n, out, arena);
}

static int s_query(void *ctx, const vg_anomaly_query_t *q, vg_anomaly_fn *fn, void *arg, char *next,
                   size_t cap)
{
    s_gw_t *g = ctx;
    if (g->cfg->pg_dsn && !strcmp(g->cfg->store, "postgres")) {
        vg_pg_t *pg = s_pg(g);
        return pg ? vg_pg_anomaly_query(pg, q, fn, arg, next, cap) : VG_ERR_UNREACHABLE;
    }
    return vg_router_anomaly_query(g->router, q, fn, arg, next, cap);
}

static int s_get(void *ctx, vg_str_t id, vg_anomaly_fn *fn, void *arg)
{
    s_gw_t *g = ctx;
    if (g->cfg->pg_dsn && !strcmp(g->cfg->store, "postgres")) {
        vg_pg_t *pg = s_pg(g);
        return pg ? vg_pg_anomaly_get(pg, id, fn, arg) : VG_ERR_UNREACHABLE;
    }
    return vg_router_anomaly_get(g->router, id, fn, arg);
}

static int s_stats(void *ctx, int64_t from, int64_t to, int64_t bucket, vg_bucket_fn *fn, void *arg)
{
    s_gw_t *g = ctx;
    if (g->cfg->pg_dsn && !strcmp(g->cfg->store, "postgres")) {
        vg_pg_t *pg = s_pg(g);
        return pg ? vg_pg_anomaly_stats(pg, from, to, bucket, fn, arg) : VG_ERR_UNREACHABLE;
    }
    return vg_router_anomaly_stats(g->router, from, to, bucket, fn, arg);
}

static int s_rules_stats(void *ctx, vg_jw_t *w)
{
    return vg_router_rules_stats(((s_gw_t *) ctx)->router, w);
}

static int s_models_stats(void *ctx, vg_jw_t *w)
{
    return vg_router_models_stats(((s_gw_t *) ctx)->router, w);
}

static bool s_ready(void *ctx)
{
    return vg_router_ready(((s_gw_t *) ctx)->router);
}

static void s_metrics(void *ctx, vg_prom_t *p)
{
    s_gw_t *g = ctx;
    vg_router_metrics(g->router, p);
    pthread_mutex_lock(&g->pg_mu);
    if (g->pg) vg_pg_metrics(g->pg, p);
    pthread_mutex_unlock(&g->pg_mu);
}

int main(int argc, char **argv)
{
    vg_signals_block();
    s_cfg_t cfg;
    int prc = s_parse(argc, argv, &cfg);
    if (prc) return prc > 0 ? 0 : 2;
    char err[512];
    vg_router_t *router = NULL;
    vg_router_config_t rc = {.seeds = cfg.cluster};
    if (vg_router_new(&rc, &router, err, sizeof err)) {
        fprintf(stderr, "vigil-gateway: %s\n", err);
        return 1;
    }
    s_gw_t gw = {.router = router, .cfg = &cfg};
    pthread_mutex_init(&gw.pg_mu, NULL);
    if (!strcmp(cfg.store, "postgres")) (void) s_pg(&gw); /* connect now if it is there */
    vg_api_backend_t be = {.ctx = &gw,
                           .score = s_score,
                           .anomaly_query = s_query,
                           .anomaly_get = s_get,
                           .anomaly_stats = s_stats,
                           .rules_stats = s_rules_stats,
                           .models_stats = s_models_stats,
                           .ready = s_ready,
                           .metrics = s_metrics};
    vg_http_config_t hc = {.listen = cfg.http, .threads = cfg.http_threads};
    vg_api_t *api =
        vg_api_serve(&(vg_api_config_t){cfg.max_body, cfg.max_items}, &be, &hc, err, sizeof err);
    if (!api) {
        fprintf(stderr, "vigil-gateway: %s\n", err);
        vg_router_destroy(&router);
        return 1;
    }
    vg_info("gateway", "listening on http://%s, cluster %s", cfg.http, cfg.cluster);
    int sig;
    while ((sig = vg_signals_wait(-1)) == 0) {
    }
    vg_info("gateway", "signal %d: stopping", sig);
    vg_api_destroy(&api); /* stops HTTP first: in-flight requests finish */
    vg_router_destroy(&router);
    vg_pg_close(&gw.pg);
    pthread_mutex_destroy(&gw.pg_mu);
    return 0;
}
