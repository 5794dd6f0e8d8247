/* vg_config.h: vigil-node configuration. Sources, later wins: built-in
 * defaults < config file (--config / VIGIL_CONFIG) < VIGIL_* environment
 * variables < command-line flags. Every key is declared once in
 * VG_NODE_KEYS; flags (--data-dir), environment (VIGIL_DATA_DIR) and file
 * keys (data_dir) are derived from it. Detector and feature options
 * ("mad.k = 5") are keys too (env: VIGIL_MAD__K, "__" for "."). */
#ifndef VG_CONFIG_H
#define VG_CONFIG_H

#include "vg_engine.h"
#include "vg_perr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    char config_path[512];
    char data_dir[512];
    char http[128];
    bool gateway;
    int http_threads;
    size_t max_body;
    uint32_t max_items;
    char log_level[16];
    bool no_sync;
    uint32_t node_id;
    char listen[128];
    char raft[128];
    char join[128];
    uint32_t heartbeat_ms, dead_after_ms;
    char rules_file[512];
    char model_file[512];
    char store[16];
    char pg_dsn[1024];
    int pg_pool, retention_days;
    char rules_policy[16];
    char kafka_brokers[512], kafka_topics[512], kafka_group[128], kafka_options[1024];
    char kafka_dlq_topic[256], kafka_anomalies_topic[256], kafka_verdicts_topic[256],
        kafka_tx_topic[256];
    char auth[8];
    char jwt_secret[300];
    char cors_origins[512];
    char dashboard_dir[512];
    char alerts_file[512];
    char dashboard_url[256];
    double rate_limit, rate_burst;
    int token_ttl_s;
    vg_engine_config_t engine;
} vg_node_config_t;

/* X(key, TYPE, field, default, help) */
#define VG_NODE_KEYS(X)                                                                        \
    X(data_dir, STR, data_dir, "var/data", "directory of the node's LMDB state (created)")     \
    X(http, STR, http, "127.0.0.1:8080", "HTTP listen address, host:port")                     \
    X(gateway, BOOL, gateway, "false", "also run the HTTP gateway in this process")            \
    X(workers, INT, engine.workers, "0", "scoring worker threads (0 = one per core)")          \
    X(shards, U32, engine.shards, "1024", "virtual shards (fixed for the life of a data dir)") \
    X(cache_users, U32, engine.cache_users, "65536", "user states cached per worker")          \
    X(http_threads, INT, http_threads, "16", "HTTP worker threads")                            \
    X(max_body, SIZE, max_body, "8m", "largest request body (bytes; k/m suffix), else 413")    \
    X(max_items, U32, max_items, "10000", "most transactions per request, else 413")           \
    X(log_level, STR, log_level, "info", "error, warn, info or debug")                         \
    X(ewma_alpha, F64, engine.features.ewma_alpha, "0.05", "EWMA weight of the newest amount") \
    X(late_tolerance_ms, I64, engine.features.late_tolerance_ms, "300000",                     \
      "events older than the user's latest by more are late (scored, not applied)")            \
    X(unsafe_no_sync, BOOL, no_sync, "false", "skip fsync at commit (benchmarks only!)")       \
    X(node_id, U32, node_id, "0",                                                              \
      "cluster: this node's id (>= 1, unique); 0 = the one remembered in the data dir, else "  \
      "1 when bootstrapping, else one the leader assigns at --join")                           \
    X(listen, STR, listen, "", "cluster: transport address host:port (enables cluster mode)")  \
    X(raft, STR, raft, "", "cluster: raft address host:port (default: listen port + 1000)")    \
    X(join, STR, join, "", "cluster: a member's listen address to join (none: bootstrap)")     \
    X(heartbeat_ms, U32, heartbeat_ms, "500", "cluster: heartbeat period")                     \
    X(dead_after_ms, U32, dead_after_ms, "2500", "cluster: silence before a member is down")   \
    X(rules, STR, rules_file, "",                                                              \
      "single node: a rule set file compiled at start (cluster: vigilctl rules push)")         \
    X(rules_policy, STR, rules_policy, "action",                                               \
      "how rule hits decide: action (a hit's review/block is the least decision) or score "    \
      "(they only add their weight to the score)")                                             \
    X(model_threshold, F64, engine.model_threshold, "0.65",                                    \
      "an active model's score at or above it adds a reason (README \"Models\")")              \
    X(model_weight, F64, engine.model_weight, "0.6", "the most a model reason contributes")    \
    X(store, STR, store, "lmdb",                                                               \
      "where anomalies are kept: lmdb (embedded) or postgres (shared; through the outbox)")    \
    X(pg_dsn, STR, pg_dsn, "", "store = postgres: libpq connection string")                    \
    X(pg_pool, INT, pg_pool, "4", "store = postgres: connections per process")                 \
    X(retention_days, INT, retention_days, "0",                                                \
      "store = postgres: drop day partitions older than this (0 = keep)")                      \
    X(kafka_brokers, STR, kafka_brokers, "",                                                   \
      "Kafka bootstrap servers host:port[,...]: anomalies are published there (README Kafka)") \
    X(kafka_anomalies_topic, STR, kafka_anomalies_topic, "vigil.anomalies",                    \
      "Kafka: topic of this node's anomalies (JSON, key user_id; \"\" = none)")                \
    X(kafka_topics, STR, kafka_topics, "",                                                     \
      "Kafka: with --gateway, consume transactions from these topics (comma-separated)")       \
    X(kafka_group, STR, kafka_group, "vigil", "Kafka: consumer group of the bridge")           \
    X(kafka_dlq_topic, STR, kafka_dlq_topic, "vigil.dlq",                                      \
      "Kafka: dead-letter topic for invalid messages")                                         \
    X(kafka_verdicts_topic, STR, kafka_verdicts_topic, "",                                     \
      "Kafka: also publish every verdict there (JSON, key user_id; \"\" = none)")              \
    X(kafka_tx_topic, STR, kafka_tx_topic, "",                                                 \
      "Kafka: also publish the validated transactions there (msgpack; \"\" = none)")           \
    X(kafka_options, STR, kafka_options, "",                                                   \
      "Kafka: extra librdkafka properties for every client, k=v,k=v (security, timeouts)")     \
    X(model, STR, model_file, "",                                                              \
      "single node: a vigil-train model artifact scoring from the start (cluster: vigilctl "   \
      "models push)")                                                                          \
    X(auth, STR, auth, "auto",                                                                 \
      "API authentication: on, off, or auto (on when the node has a control plane: --listen)") \
    X(jwt_secret, STR, jwt_secret, "",                                                         \
      "HS256 secret for API tokens (>= 32 bytes); empty = one generated for the cluster")      \
    X(token_ttl_s, INT, token_ttl_s, "3600", "lifetime of an API token (seconds)")             \
    X(rate_limit, F64, rate_limit, "2000",                                                     \
      "API requests per second per user or API key (token bucket; -1 = unlimited)")            \
    X(rate_burst, F64, rate_burst, "0", "token bucket size (0 = 2 x rate_limit)")              \
    X(cors_origins, STR, cors_origins, "",                                                     \
      "origins allowed to call the API from a browser: * or a comma list (empty = none)")      \
    X(dashboard_dir, STR, dashboard_dir, "",                                                   \
      "the built dashboard served at / (empty = frontend/dist next to the binary's build)")    \
    X(alerts, STR, alerts_file, "",                                                            \
      "alerting: an alerts.json routing file (docs/ALERTS.md); empty = no alerts")             \
    X(dashboard_url, STR, dashboard_url, "",                                                   \
      "alerting: the dashboard's base URL for links (empty = alerts.json's)")

/* Built-in defaults. */
void vg_node_config_default(vg_node_config_t *cfg);

/* Sets one key from text (node key, or detector key such as "mad.k" or
 * "block_threshold"). Returns 0, VG_ERR_NOT_FOUND or VG_ERR_INVALID with
 * err naming the key. */
int vg_node_config_set(vg_node_config_t *cfg, const char *key, const char *value, vg_perr_t *err);

/* Parses "key = value" lines ('#' comments, blank lines, optional quotes
 * around the value) and calls fn for each. Errors name the line:
 * field "line 12". Returns 0, fn's nonzero return, or VG_ERR_PARSE. */
typedef int(vg_config_kv_fn)(void *arg, const char *key, const char *value, int line,
                             vg_perr_t *err);
int vg_config_parse(const char *text, size_t len, vg_config_kv_fn *fn, void *arg, vg_perr_t *err);

/* Loads defaults, file, environment and argv (in that order). Sets *exit
 * to true when --help or --version printed something and the program
 * should exit 0. Returns 0 or VG_ERR_INVALID/NOT_FOUND/IO with err set. */
int vg_node_config_load(vg_node_config_t *cfg, int argc, char **argv, bool *exit_now,
                        vg_perr_t *err);

void vg_node_config_usage(FILE *out, const char *prog);

#endif
