/* vg_kafka.h: Vigil's Kafka bridge (the only module that includes
 * librdkafka): the consumer bridge that scores transactions read from
 * Kafka topics, and the producer sink that publishes a node's anomalies
 * from its durable outbox.
 *
 * Consumer bridge (vigil-gateway, vigil-node --gateway): a consumer group
 * member reading the configured topics. Each message is one transaction,
 * JSON (the object of POST /v1/transactions) or msgpack (the 15-element
 * array of PROTOCOL.md), validated by the same code as HTTP. Messages are
 * taken in batches (up to batch_max or batch_linger_ms); the valid ones
 * are scored in one call of the score function (the router or the
 * engine: it returns only once the verdicts are durable), the invalid ones
 * are produced to the dead-letter topic with headers naming the error and
 * the source topic, partition and offset. A batch's offsets (the highest
 * offset + 1 per partition) are stored only after its verdicts are durable
 * and every message it produced (dead letters, verdicts, transactions) is
 * acknowledged by the brokers; they are committed by the consumer's
 * auto-commit and on rebalance/close. At-least-once consumption; the node
 * dedupes by transaction id, so effects are exactly-once. While scoring
 * fails (the cluster is saturated or unreachable) the batch is retried with
 * backoff and every assigned partition is paused; nothing is skipped.
 * Batches are pipelined: the next one is read and parsed while the
 * previous one is scored.
 *
 * Anomaly sink (vigil-node): vg_kafka_sink_deliver is an outbox deliver
 * function (node/vg_outbox.h): each record is produced as the JSON of
 * GET /v1/anomalies/{id}, keyed by user_id, header anomaly_id, with the
 * idempotent producer; it returns 0 only once every message is
 * acknowledged. */
#ifndef VG_KAFKA_H
#define VG_KAFKA_H

#include "vg_arena.h"
#include "vg_jw.h"
#include "vg_metrics.h"
#include "vg_str.h"
#include "vg_tx.h"
#include "vg_verdict.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The score function of vg_api_backend_t: out[i] for txs[i]; returns 0
 * only when every verdict is durable. Called on the bridge's scoring
 * thread, one batch at a time. */
typedef int(vg_kafka_score_fn)(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                               vg_arena_t *arena);
/* Its asynchronous form (vg_engine_submit): returns at once; done(arg, rc)
 * runs exactly once, on any thread, when every verdict is durable or
 * failed (rc as score would return). A nonzero return means it did not
 * start (done is not called). Batches are submitted in order, several at
 * once, so a group-committing engine overlaps them. */
typedef void(vg_kafka_done_fn)(void *arg, int rc);
typedef int(vg_kafka_submit_fn)(void *ctx, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                                vg_arena_t *arena, vg_kafka_done_fn *done, void *arg);

typedef struct {
    const char *brokers;        /* bootstrap.servers (required) */
    const char *topics;         /* comma-separated topics to consume (required) */
    const char *group;          /* group.id; NULL/"" = "vigil" */
    const char *dlq_topic;      /* dead letters; NULL/"" = "vigil.dlq" */
    const char *verdicts_topic; /* every verdict (JSON, key user_id); NULL/"" = none */
    const char *tx_topic;       /* validated transactions (msgpack, ingest_ms set); NULL = none */
    /* Extra librdkafka properties for every client, "k=v,k=v" (security,
     * timeouts); NULL = none. Ours win for the delivery guarantees
     * (enable.auto.offset.store, enable.idempotence). */
    const char *options;
    vg_kafka_score_fn *score;   /* this, or: */
    vg_kafka_submit_fn *submit; /* preferred when set (in-process engine) */
    void *score_ctx;            /* for either */
    uint32_t batch_max;         /* messages per batch; 0 = 5000 */
    int batch_linger_ms;        /* wait for a fuller batch at most this long; 0 = 5 */
} vg_kafka_bridge_config_t;

typedef struct vg_kafka_bridge vg_kafka_bridge_t;

/* Creates the clients, subscribes and starts the bridge's threads (the
 * consumer, the scorer). Brokers need not be up. Returns 0, or
 * VG_ERR_INVALID with errbuf naming the bad setting. */
int vg_kafka_bridge_start(const vg_kafka_bridge_config_t *cfg, vg_kafka_bridge_t **out,
                          char *errbuf, size_t errlen);
/* Stops reading, finishes the batches in flight (at most ~10 s: scoring
 * must still work, so stop the bridge before the engine/router), stores
 * and commits their offsets, leaves the group and frees. NULL-safe;
 * clears *b_p. */
void vg_kafka_bridge_stop(vg_kafka_bridge_t **b_p);

/* {"group","topics":[...],"paused","consumed","scored","dead_letters",
 *  "lag","partitions":[{"topic","partition","position","committed","high",
 *  "lag","paused"}...]}: "committed" is the offset stored after the last
 * durable batch (-1 unknown), "position" the next offset read, "lag" =
 * high watermark - committed (or - position when nothing was stored yet;
 * -1 unknown). Any thread. */
void vg_kafka_bridge_status_json(vg_kafka_bridge_t *b, vg_jw_t *w);

/* ---- anomaly sink ------------------------------------------------------ */

typedef struct {
    const char *brokers; /* required */
    const char *topic;   /* required */
    const char *options; /* as in the bridge */
    int timeout_ms;      /* a delivery not acknowledged by then fails; 0 = 10000 */
} vg_kafka_sink_config_t;

typedef struct vg_kafka_sink vg_kafka_sink_t;

int vg_kafka_sink_new(const vg_kafka_sink_config_t *cfg, vg_kafka_sink_t **out, char *errbuf,
                      size_t errlen);
/* vg_outbox_deliver_fn over a vg_kafka_sink_t *ctx: produces each record
 * (vg_anomaly_encode bytes; one that does not decode is logged and set
 * aside) and waits for every acknowledgement. Returns 0, VG_ERR_UNREACHABLE
 * (a message failed or timed out: the whole batch is retried later) or
 * VG_ERR_CLOSED (cancelled). One thread at a time. */
int vg_kafka_sink_deliver(void *ctx, const vg_str_t *recs, size_t n);
/* Makes a delivery in progress give up (VG_ERR_CLOSED) so the outbox
 * thread stops at once; any thread. */
void vg_kafka_sink_cancel(vg_kafka_sink_t *s);
/* Waits for queued messages (at most timeout_ms) and frees; NULL-safe. */
void vg_kafka_sink_destroy(vg_kafka_sink_t **s_p);

/* ---- metrics ----------------------------------------------------------- */

/* The Kafka metrics of this process (either may be NULL):
 * vigil_kafka_consumed_total, vigil_kafka_scored_total,
 * vigil_kafka_dlq_total, vigil_kafka_batches_total,
 * vigil_kafka_score_failures_total, vigil_kafka_rebalances_total,
 * vigil_kafka_paused, vigil_kafka_consumer_lag{topic,partition},
 * vigil_kafka_produced_total{topic} and
 * vigil_kafka_produce_errors_total{topic}. Any thread. */
void vg_kafka_metrics(vg_kafka_bridge_t *b, vg_kafka_sink_t *s, vg_prom_t *p);

#endif
