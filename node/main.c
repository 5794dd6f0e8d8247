/* main.c: vigil-node. Wires configuration, the LMDB store, the scoring
 * engine and (with --gateway) the HTTP API together, then waits for
 * SIGINT/SIGTERM and shuts down in order: HTTP (finishes in-flight
 * requests), engine (drains), store. */
#include "vg_api.h"
#include "vg_auth.h"
#include "vg_config.h"
#include "vg_engine.h"
#include "vg_err.h"
#include "vg_extstore.h"
#include "vg_http.h"
#include "vg_kafka.h"
#include "vg_node_alerts.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_member.h"
#include "vg_outbox.h"
#include "vg_router.h"
#include "vg_rule_stats.h"
#include "vg_signals.h"
#include "vg_store.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    vg_engine_t *engine;
    vg_store_t *store;
    vg_member_t *member; /* cluster mode */
    vg_router_t *router; /* cluster mode with --gateway: routes by shard owner */
    vg_extstore_t *ext;  /* store = postgres: anomalies live there */
    /* Kafka (README "Kafka"): the anomalies topic through the outbox, and
     * with --gateway --kafka-topics the consumer bridge (under kafka_mu) */
    vg_kafka_sink_t *ksink;
    vg_outbox_t *kafka_outbox;
    pthread_mutex_t kafka_mu;
    vg_kafka_bridge_t *bridge;
    /* Alerting (docs/ALERTS.md): the outbox's "alerts" sink feeds it; opened
     * once the node id is known (under alert_mu: ADMIN alerts.* may ask). */
    pthread_mutex_t alert_mu;
    vg_alert_t *alert;
    vg_outbox_t *alert_outbox;
    uint32_t alert_sink;
} s_node_t;

static int s_score(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out, vg_arena_t *arena)
{
    s_node_t *node = ctx;
    if (node->router) return vg_router_score(node->router, txs, n, out, arena);
    return vg_engine_score(node->engine, txs, n, out, arena);
}

/* Anomaly queries: this node's store, or in cluster mode every member's. */
static int s_query(void *ctx, const vg_anomaly_query_t *q, vg_anomaly_fn *fn, void *arg, char *next,
                   size_t cap)
{
    s_node_t *node = ctx;
    if (node->ext) return vg_extstore_query(node->ext, q, fn, arg, next, cap);
    if (node->router) return vg_router_anomaly_query(node->router, q, fn, arg, next, cap);
    return vg_store_anomaly_query(node->store, q, 0, fn, arg, next, cap);
}

static int s_get(void *ctx, vg_str_t id, vg_anomaly_fn *fn, void *arg)
{
    s_node_t *node = ctx;
    if (node->ext) return vg_extstore_get(node->ext, id, fn, arg);
    if (node->router) return vg_router_anomaly_get(node->router, id, fn, arg);
    return vg_store_anomaly_get(node->store, id, fn, arg);
}

static int s_stats(void *ctx, int64_t from, int64_t to, int64_t bucket, vg_bucket_fn *fn, void *arg)
{
    s_node_t *node = ctx;
    if (node->ext) return vg_extstore_stats(node->ext, from, to, bucket, fn, arg);
    if (node->router) return vg_router_anomaly_stats(node->router, from, to, bucket, fn, arg);
    return vg_store_anomaly_stats(node->store, from, to, bucket, fn, arg);
}

static void s_rules_fn(void *arg, const vg_ruleset_t *rs, uint64_t version)
{
    vg_rule_stats_t *st = arg;
    st->versions[st->n_versions++] = version;
    st->nodes = 1;
    for (size_t i = 0; rs && i < vg_ruleset_count(rs); i++) {
        const vg_rule_meta_t *m = vg_ruleset_rule(rs, i);
        vg_rule_stat_t x = {m->id,
                            m->name,
                            m->shadow ? "shadow" : "active",
                            vg_rule_action_name(m->action),
                            vg_severity_name(m->severity),
                            0,
                            0};
        vg_ruleset_stats(rs, i, &x.hits, &x.errors);
        vg_rule_stats_add(st, &x);
    }
}

/* GET /v1/rules: this node's rule set, or in cluster mode every member's. */
static int s_rules_stats(void *ctx, vg_jw_t *w)
{
    s_node_t *node = ctx;
    if (node->router) return vg_router_rules_stats(node->router, w);
    vg_rule_stats_t st;
    vg_rule_stats_init(&st);
    vg_engine_with_rules(node->engine, s_rules_fn, &st);
    vg_rule_stats_write(&st, w);
    vg_rule_stats_fini(&st);
    return 0;
}

/* GET /v1/models: this node's models, or in cluster mode every member's. */
static int s_models_stats(void *ctx, vg_jw_t *w)
{
    s_node_t *node = ctx;
    if (node->router) return vg_router_models_stats(node->router, w);
    vg_engine_model_stats_t st;
    vg_engine_model_stats(node->engine, &st);
    uint64_t sums[5] = {st.scored, st.flagged, st.shadow_scored, st.shadow_flagged,
                        st.both_flagged};
    vg_model_stats_write(w, 1, &st.active_version, &st.shadow_version, sums);
    return 0;
}

static bool s_ready(void *ctx)
{
    s_node_t *node = ctx;
    if (node->member && !(vg_member_ready(node->member) && vg_router_ready(node->router)))
        return false;
    return vg_engine_ready(node->engine);
}

static void s_metrics(void *ctx, vg_prom_t *p)
{
    s_node_t *node = ctx;
    vg_engine_metrics(node->engine, p);
    if (node->member) vg_member_metrics(node->member, p);
    if (node->router) vg_router_metrics(node->router, p);
    if (node->ext) vg_extstore_metrics(node->ext, p);
    vg_outbox_t *obs[] = {node->ext ? vg_extstore_outbox(node->ext) : NULL, node->kafka_outbox,
                          node->alert_outbox};
    vg_outbox_metrics(obs, VG_ARRAY_LEN(obs), p);
    pthread_mutex_lock(&node->kafka_mu);
    vg_kafka_metrics(node->bridge, node->ksink, p);
    pthread_mutex_unlock(&node->kafka_mu);
    pthread_mutex_lock(&node->alert_mu);
    if (node->alert) vg_alert_metrics(node->alert, p);
    pthread_mutex_unlock(&node->alert_mu);
    vg_store_stats_t st;
    vg_store_stats(node->store, &st);
    vg_prom_header(p, "vigil_lmdb_map_used_bytes", "gauge", "Bytes of the LMDB map in use.");
    vg_prom_sample(p, "vigil_lmdb_map_used_bytes", NULL, (double) st.map_used);
    vg_prom_header(p, "vigil_lmdb_entries", "gauge", "Entries per LMDB database.");
    vg_prom_sample(p, "vigil_lmdb_entries", "db=\"users\"", (double) st.users);
    vg_prom_sample(p, "vigil_lmdb_entries", "db=\"seen\"", (double) st.seen);
    vg_prom_sample(p, "vigil_lmdb_entries", "db=\"anomalies\"", (double) st.anomalies);
}

/* Single node: the rule set file of --rules, compiled once at start. */
static int s_load_rules(const vg_node_config_t *cfg, vg_engine_t *engine)
{
    FILE *f = fopen(cfg->rules_file, "rb");
    if (!f) {
        vg_error("node", "rules: cannot read %s", cfg->rules_file);
        return 1;
    }
    char *src = vg_malloc(VG_RULES_MAX_SOURCE + 1);
    size_t len = fread(src, 1, VG_RULES_MAX_SOURCE + 1, f);
    fclose(f);
    vg_ruleset_t *rs = NULL;
    vg_rules_err_t rerr;
    memset(&rerr, 0, sizeof rerr);
    int rc = vg_ruleset_compile(src, len, cfg->rules_file, NULL, &rs, &rerr);
    free(src);
    if (rc) {
        char msg[400];
        vg_error("node", "rules: %s", vg_rules_err_str(&rerr, msg, sizeof msg));
        return 1;
    }
    vg_info("node", "rules: %zu from %s", vg_ruleset_count(rs), cfg->rules_file);
    vg_engine_set_rules(engine, &rs, 1);
    return 0;
}

/* Single node: the model artifact of --model, scoring from the start. */
static int s_load_model(const vg_node_config_t *cfg, vg_engine_t *engine)
{
    vg_model_t *m = NULL;
    char err[300];
    if (vg_model_load(cfg->model_file, &m, err, sizeof err)) {
        vg_error("node", "model: %s", err);
        return 1;
    }
    vg_info("node", "model: %u trees over %u features from %s", vg_model_info(m)->trees,
            vg_model_info(m)->n_features, cfg->model_file);
    vg_engine_set_model(engine, &m, 1, false);
    return 0;
}

/* ---- Kafka ------------------------------------------------------------- */

/* vg_member's status hook: "kafka": the bridge's state when it runs here. */
static void s_status(void *ctx, vg_jw_t *w)
{
    s_node_t *node = ctx;
    pthread_mutex_lock(&node->kafka_mu);
    if (node->bridge) {
        vg_jw_key(w, "kafka");
        vg_kafka_bridge_status_json(node->bridge, w);
    }
    pthread_mutex_unlock(&node->kafka_mu);
}

/* ---- alerting ---------------------------------------------------------- */

/* vg_member's ADMIN hook: alerts.* (the gateways' /v1/alerts, vigilctl). */
static bool s_admin(void *ctx, vg_str_t cmd, vg_str_t arg, vg_jw_t *w, int *code)
{
    s_node_t *node = ctx;
    pthread_mutex_lock(&node->alert_mu);
    bool handled = vg_node_alerts_admin(node->alert, cmd, arg, w, code);
    pthread_mutex_unlock(&node->alert_mu);
    return handled;
}

/* The API's admin_all: every member (cluster), else this process. */
static int s_admin_all(void *ctx, const char *cmd, const char *arg,
                       int (*fn)(void *fctx, uint32_t node, int code, const char *json, size_t len),
                       void *fctx)
{
    s_node_t *node = ctx;
    if (node->router) return vg_router_admin_all(node->router, cmd, arg, fn, fctx);
    vg_jw_t w;
    vg_jw_init(&w);
    int code = 0;
    bool handled = s_admin(node, vg_str_c(cmd), vg_str_c(arg ? arg : ""), &w, &code);
    int rc =
        handled ? fn(fctx, 0, code, w.buf ? w.buf : "{}", w.buf ? w.len : 2) : VG_ERR_NOT_FOUND;
    vg_jw_fini(&w);
    return rc;
}

/* Opens the alert module (node_id: for unique alert ids) and its sink. */
static int s_alerts_start(const vg_node_config_t *cfg, s_node_t *node, uint32_t node_id)
{
    char err[512];
    vg_alert_routing_t *routing = NULL;
    if (vg_alert_routing_load(cfg->alerts_file, &routing, err, sizeof err)) {
        vg_error("node", "alerts: %s", err);
        return 1;
    }
    vg_alert_config_t ac = {.data_dir = cfg->data_dir,
                            .node_id = node_id,
                            .dashboard_url = cfg->dashboard_url[0] ? cfg->dashboard_url : NULL,
                            .no_sync = cfg->no_sync};
    vg_alert_t *a = NULL;
    if (vg_alert_open(&ac, &routing, &a, err, sizeof err)) {
        vg_error("node", "alerts: %s", err);
        return 1;
    }
    pthread_mutex_lock(&node->alert_mu);
    node->alert = a;
    pthread_mutex_unlock(&node->alert_mu);
    vg_outbox_config_t oc = {.store = node->store,
                             .sink = node->alert_sink,
                             .name = "alerts",
                             .deliver = vg_alert_deliver,
                             .ctx = a};
    if (vg_outbox_start(&oc, &node->alert_outbox)) return 1;
    vg_info("node", "alerting on, routes from %s", cfg->alerts_file);
    return 0;
}

static void s_alerts_stop(s_node_t *node)
{
    vg_outbox_stop(&node->alert_outbox); /* what is not acked stays in the outbox */
    pthread_mutex_lock(&node->alert_mu);
    vg_alert_close(&node->alert);
    pthread_mutex_unlock(&node->alert_mu);
}

/* The anomalies topic: the outbox's sink `sink` produces to it. */
static int s_kafka_sink_start(const vg_node_config_t *cfg, s_node_t *node, uint32_t sink)
{
    char err[512];
    vg_kafka_sink_config_t kc = {.brokers = cfg->kafka_brokers,
                                 .topic = cfg->kafka_anomalies_topic,
                                 .options = cfg->kafka_options};
    if (vg_kafka_sink_new(&kc, &node->ksink, err, sizeof err)) {
        vg_error("node", "%s", err);
        return 1;
    }
    vg_outbox_config_t oc = {.store = node->store,
                             .sink = sink,
                             .name = "kafka",
                             .deliver = vg_kafka_sink_deliver,
                             .ctx = node->ksink};
    return vg_outbox_start(&oc, &node->kafka_outbox) ? 1 : 0;
}

static void s_kafka_sink_stop(s_node_t *node)
{
    vg_kafka_sink_cancel(node->ksink);
    vg_outbox_stop(&node->kafka_outbox); /* what is not acked stays in the outbox */
    vg_kafka_sink_destroy(&node->ksink);
}

/* Single node: the engine asynchronously, so the bridge's batches overlap
 * (in cluster mode one at a time through the router: see gateway/main.c). */
static int s_submit(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out, vg_arena_t *arena,
                    vg_kafka_done_fn *done, void *arg)
{
    return vg_engine_submit(((s_node_t *) ctx)->engine, txs, n, out, arena, done, arg);
}

/* With --gateway --kafka-topics: the consumer bridge, scoring like HTTP. */
static int s_kafka_bridge_start(const vg_node_config_t *cfg, s_node_t *node)
{
    char err[512];
    vg_kafka_bridge_config_t bc = {.brokers = cfg->kafka_brokers,
                                   .topics = cfg->kafka_topics,
                                   .group = cfg->kafka_group,
                                   .dlq_topic = cfg->kafka_dlq_topic,
                                   .verdicts_topic = cfg->kafka_verdicts_topic,
                                   .tx_topic = cfg->kafka_tx_topic,
                                   .options = cfg->kafka_options,
                                   .score = s_score,
                                   .submit = node->router ? NULL : s_submit,
                                   .score_ctx = node};
    vg_kafka_bridge_t *b = NULL;
    if (vg_kafka_bridge_start(&bc, &b, err, sizeof err)) {
        vg_error("node", "%s", err);
        return 1;
    }
    pthread_mutex_lock(&node->kafka_mu);
    node->bridge = b;
    pthread_mutex_unlock(&node->kafka_mu);
    return 0;
}

static void s_kafka_bridge_stop(s_node_t *node)
{
    pthread_mutex_lock(&node->kafka_mu);
    vg_kafka_bridge_t *b = node->bridge;
    node->bridge = NULL;
    pthread_mutex_unlock(&node->kafka_mu);
    vg_kafka_bridge_stop(&b); /* finishes its batches: scoring still works */
}

static int s_run(const vg_node_config_t *cfg, s_node_t *node)
{
    char err[512];
    vg_api_t *api = NULL;
    vg_admin_t *admin = NULL;
    vg_auth_t *auth = NULL;
    if (cfg->rules_file[0] && s_load_rules(cfg, node->engine)) return 1;
    if (cfg->model_file[0] && s_load_model(cfg, node->engine)) return 1;
    if (cfg->listen[0]) {
        vg_member_config_t mc = {.node_id = cfg->node_id,
                                 .listen = cfg->listen,
                                 .raft = cfg->raft,
                                 .join = cfg->join[0] ? cfg->join : NULL,
                                 .data_dir = cfg->data_dir,
                                 .shards = cfg->engine.shards,
                                 .heartbeat_ms = cfg->heartbeat_ms,
                                 .dead_after_ms = cfg->dead_after_ms,
                                 .store = node->store,
                                 .metrics = s_metrics,
                                 .metrics_ctx = node,
                                 .status = s_status,
                                 .status_ctx = node,
                                 .admin = s_admin,
                                 .admin_ctx = node};
        if (vg_member_start(&mc, node->engine, &node->member, err, sizeof err)) {
            vg_error("node", "%s", err);
            return 1;
        }
        if (cfg->alerts_file[0] && s_alerts_start(cfg, node, vg_member_node_id(node->member)))
            return 1;
        if (cfg->gateway) {
            vg_router_config_t rc = {.seeds = cfg->listen};
            if (vg_router_new(&rc, &node->router, err, sizeof err)) {
                vg_error("node", "gateway: %s", err);
                return 1;
            }
        }
    }
    if (!cfg->listen[0] && cfg->alerts_file[0] && s_alerts_start(cfg, node, cfg->node_id)) return 1;
    if (cfg->gateway) {
        vg_api_backend_t be = {.ctx = node,
                               .admin_all = s_admin_all,
                               .score = s_score,
                               .anomaly_query = s_query,
                               .anomaly_get = s_get,
                               .anomaly_stats = s_stats,
                               .rules_stats = s_rules_stats,
                               .models_stats = s_models_stats,
                               .ready = s_ready,
                               .metrics = s_metrics};
        vg_http_config_t hc = {.listen = cfg->http, .threads = cfg->http_threads};
        vg_auth_config_t ac = {.secret = cfg->jwt_secret[0] ? cfg->jwt_secret : NULL,
                               .token_ttl_s = cfg->token_ttl_s,
                               .rate = cfg->rate_limit,
                               .burst = cfg->rate_burst};
        if (vg_auth_setup(cfg->listen, cfg->auth, &ac, &admin, &auth, err, sizeof err)) {
            vg_error("node", "%s", err);
            return 1;
        }
        char dash[512];
        snprintf(dash, sizeof dash, "%s", cfg->dashboard_dir);
        if (!dash[0]) vg_api_default_dashboard_dir(dash, sizeof dash);
        vg_api_config_t apc = {.max_body = cfg->max_body,
                               .max_items = cfg->max_items,
                               .auth = auth,
                               .admin = admin,
                               .cors_origins = cfg->cors_origins[0] ? cfg->cors_origins : NULL,
                               .dashboard_dir = dash[0] ? dash : NULL};
        api = vg_api_serve(&apc, &be, &hc, err, sizeof err);
        if (!api) {
            vg_error("node", "%s", err);
            return 1;
        }
        vg_info("node", "gateway listening on http://%s (data in %s)", cfg->http, cfg->data_dir);
        if (cfg->kafka_topics[0] && s_kafka_bridge_start(cfg, node)) return 1;
    } else if (!cfg->listen[0]) {
        vg_warn("node", "started without --gateway or --listen: nothing accepts transactions");
    }
    int sig;
    while ((sig = vg_signals_wait(-1)) == 0) {
    }
    vg_info("node", "signal %d: shutting down (finishing in-flight requests)", sig);
    vg_router_shutdown(node->router); /* cluster mode: no retries from here on */
    vg_api_destroy(&api);             /* stops HTTP first: in-flight requests finish */
    vg_auth_destroy(&auth);
    vg_admin_destroy(&admin);
    s_kafka_bridge_stop(node); /* before the router and the engine it scores with */
    vg_router_destroy(&node->router);
    return 0;
}

int main(int argc, char **argv)
{
    vg_signals_block();
    vg_node_config_t cfg;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    bool exit_now;
    if (vg_node_config_load(&cfg, argc, argv, &exit_now, &perr)) {
        char msg[300];
        fprintf(stderr, "vigil-node: %s\n", vg_perr_str(&perr, msg, sizeof msg));
        return 2;
    }
    if (exit_now) return 0;
    vg_log_level lv;
    vg_log_level_parse(cfg.log_level, &lv);
    vg_log_set_level(lv);
    char err[512];
    s_node_t node = {0};
    pthread_mutex_init(&node.kafka_mu, NULL);
    pthread_mutex_init(&node.alert_mu, NULL);
    bool pg = !strcmp(cfg.store, "postgres");
    vg_store_config_t sc = {.dir = cfg.data_dir, .no_sync = cfg.no_sync, .outbox = pg};
    if (pg) sc.outbox_sink_names[sc.outbox_sinks++] = "postgres"; /* sink 0 (vg_extstore) */
    uint32_t kafka_sink = sc.outbox_sinks;
    bool kafka = cfg.kafka_brokers[0] && cfg.kafka_anomalies_topic[0];
    if (kafka) sc.outbox_sink_names[sc.outbox_sinks++] = "kafka";
    node.alert_sink = sc.outbox_sinks;
    if (cfg.alerts_file[0]) sc.outbox_sink_names[sc.outbox_sinks++] = "alerts";
    if (vg_store_open(&sc, &node.store, err, sizeof err)) {
        fprintf(stderr, "vigil-node: %s\n", err);
        return 1;
    }
    if (cfg.no_sync) vg_warn("node", "unsafe_no_sync: commits are not fsynced (benchmarks only)");
    int rc = vg_engine_new(&cfg.engine, node.store, &node.engine);
    if (!rc) rc = vg_engine_start(node.engine);
    if (rc) {
        fprintf(stderr, "vigil-node: cannot start the engine: %s\n", vg_strerror(rc));
        vg_engine_destroy(&node.engine);
        vg_store_close(&node.store);
        return 1;
    }
    vg_extstore_config_t xc = {.dsn = cfg.pg_dsn,
                               .pool_size = cfg.pg_pool,
                               .retention_days = cfg.retention_days,
                               .store = node.store};
    if (pg && vg_extstore_start(&xc, &node.ext)) {
        fprintf(stderr, "vigil-node: cannot start the outbox delivery\n");
        rc = 1;
    } else if (kafka && s_kafka_sink_start(&cfg, &node, kafka_sink)) {
        rc = 1;
    } else {
        rc = s_run(&cfg, &node);
    }
    vg_engine_stop(node.engine); /* drains; cluster replies still go out */
    vg_extstore_stop(&node.ext); /* what is not delivered stays in the outbox */
    vg_member_stop(&node.member);
    s_kafka_sink_stop(&node);
    s_alerts_stop(&node);
    vg_engine_destroy(&node.engine);
    vg_store_close(&node.store);
    pthread_mutex_destroy(&node.kafka_mu);
    pthread_mutex_destroy(&node.alert_mu);
    vg_info("node", "stopped");
    return rc;
}
