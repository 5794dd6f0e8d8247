/* vg_router.h: the gateway side of the cluster data path. Learns the
 * shard map from the cluster (MAP_GET to any member), splits a batch of
 * transactions into one TX_BATCH per shard, sends each to the shard's
 * owner over the transport and gathers the VERDICT_BATCH replies. A
 * NOT_OWNER, an unreachable owner or a timeout refreshes the map and
 * retries (safe: nodes dedupe by transaction). Several gateways may run. */
#ifndef VG_ROUTER_H
#define VG_ROUTER_H

#include "vg_anomaly.h"
#include "vg_arena.h"
#include "vg_jw.h"
#include "vg_metrics.h"
#include "vg_tx.h"
#include "vg_verdict.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *seeds; /* "host:port[,host:port...]": members' listen addresses */
    int timeout_ms;    /* per attempt; 0 = 3000 */
    int max_attempts;  /* 0 = 8 */
} vg_router_config_t;

typedef struct vg_router vg_router_t;

/* Starts a client transport and fetches the map (retrying for up to 10 s).
 * Returns 0 or a vg_err with errbuf set. */
int vg_router_new(const vg_router_config_t *cfg, vg_router_t **out, char *errbuf, size_t errlen);

/* Same contract as vg_engine_score: out[i] for txs[i]; strings of out are
 * copied into arena. Any thread, concurrently. */
int vg_router_score(vg_router_t *r, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                    vg_arena_t *arena);

/* The asynchronous form (the Kafka bridge's submit): sends the batch at
 * once, in the caller's order, and returns; done(arg, rc) is called on
 * the router's waiter thread once every transaction is answered or given
 * up on (after the same retries as vg_router_score; out as there). txs,
 * out and arena must stay valid until then. Returns nonzero only when
 * nothing was started (done is not called then): VG_ERR_UNREACHABLE (no
 * shard map), VG_ERR_CLOSED (destroying). Used by bench_kafka --cluster;
 * the Kafka bridges do not use it yet (see gateway/main.c). */
typedef void(vg_router_done_fn)(void *arg, int rc);
int vg_router_submit(vg_router_t *r, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                     vg_arena_t *arena, vg_router_done_fn *done, void *arg);

/* The anomaly queries of vg_api_backend_t, answered by every member that
 * is not down (a down member's anomalies are left out, with a warning in
 * the log) and merged: lists newest first across nodes, with a cursor
 * valid on any gateway; stats summed per bucket; get from whichever node
 * stored it. A member that does not answer: VG_ERR_UNREACHABLE (the API's
 * 503); a query a node refuses: its error (VG_ERR_INVALID: 400). Any
 * thread, concurrently (each query uses one thread per member). */
int vg_router_anomaly_query(vg_router_t *r, const vg_anomaly_query_t *q, vg_anomaly_fn *fn,
                            void *arg, char *next_cursor, size_t cap);
int vg_router_anomaly_get(vg_router_t *r, vg_str_t id, vg_anomaly_fn *fn, void *arg);
int vg_router_anomaly_stats(vg_router_t *r, int64_t from_ms, int64_t to_ms, int64_t bucket_ms,
                            vg_bucket_fn *fn, void *arg);

/* GET /v1/rules across the cluster: every member's ADMIN rules.stats,
 * summed (vg_rule_stats_write form); w is written only on success. */
int vg_router_rules_stats(vg_router_t *r, vg_jw_t *w);

/* GET /v1/models across the cluster: the model versions in use and the
 * active vs shadow counters (scored, flagged, shadow_scored,
 * shadow_flagged, both_flagged), summed; w written only on success. */
int vg_router_models_stats(vg_router_t *r, vg_jw_t *w);
/* The object of GET /v1/models from per-node versions and summed counters
 * (in the order above). */
void vg_model_stats_write(vg_jw_t *w, size_t nodes, const uint64_t *active, const uint64_t *shadow,
                          const uint64_t sums[5]);

/* Sends ADMIN(command, arg JSON or NULL) to every member that is not down
 * and calls fn with each answer (code 0 or the member's refusal, and its
 * JSON); members that do not answer are skipped (logged). Returns 0, fn's
 * nonzero return, or VG_ERR_UNREACHABLE when none answered. */
int vg_router_admin_all(vg_router_t *r, const char *command, const char *arg,
                        int (*fn)(void *ctx, uint32_t node, int code, const char *json, size_t len),
                        void *ctx);

/* At shutdown, before stopping what scores through r (HTTP, the Kafka
 * bridge): requests in progress end after their current attempt instead
 * of retrying for up to max_attempts (minutes while the cluster is
 * unreachable); new ones still get one attempt. What fails is not
 * acknowledged, so clients and Kafka send it again. */
void vg_router_shutdown(vg_router_t *r);

/* True while a shard map is known and at least one member answers. */
bool vg_router_ready(vg_router_t *r);

void vg_router_metrics(vg_router_t *r, vg_prom_t *p);
void vg_router_destroy(vg_router_t **r_p);

#endif
