/* vg_alert.h: alerting on anomalies (issue 11). A node hands its anomaly
 * outbox to vg_alert_deliver; each anomaly is routed by the rules of an
 * alerts.json file (severity, rule, detector, decision -> channels),
 * deduplicated per (channel, user, reason) over a window, and written to a
 * durable alert outbox in the module's own LMDB env (<data_dir>/alerts).
 * One sender thread per channel delivers over libcurl (SMTP, Slack incoming
 * webhook, signed generic webhook) with retries (exponential backoff with
 * jitter), dead-lettering after max_attempts, and a token bucket whose
 * overflow goes out as one digest. docs/ALERTS.md has the config reference,
 * payload formats and guarantees.
 *
 * Threads: vg_alert_deliver is the outbox's deliver function (its thread);
 * list/get/retry/stats/metrics may be called from any thread (HTTP
 * handlers, vigilctl requests). None of them blocks on a channel; none may
 * run during or after vg_alert_close. Never call them from a shard worker
 * (they do LMDB I/O). */
#ifndef VG_ALERT_H
#define VG_ALERT_H

#include "vg_jw.h"
#include "vg_metrics.h"
#include "vg_perr.h"
#include "vg_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_alert vg_alert_t;

/* ---- routing configuration (alerts.json) -------------------------------- */

/* The parsed alerts.json: channels, routes, dedup, throttle, retry. */
typedef struct vg_alert_routing vg_alert_routing_t;

#define VG_ALERT_CONFIG_MAX (1u << 20) /* bytes of alerts.json */

/* Parses alerts.json text (len bytes; NUL not needed). source names the
 * input in messages ("alerts.json"; NULL = "alerts"). Secrets named by
 * *_env fields are read from the environment now. Returns 0 with *out owned
 * by the caller (vg_alert_routing_free, or hand it to vg_alert_open), or
 * VG_ERR_PARSE (not JSON) / VG_ERR_INVALID (a field is wrong) /
 * VG_ERR_TOO_LARGE, with a message that names the source and the field:
 * "alerts.json: channels[1].url: required". */
int vg_alert_routing_parse(const char *json, size_t len, const char *source,
                           vg_alert_routing_t **out, char *err, size_t errlen);
/* Reads the file at path (at most VG_ALERT_CONFIG_MAX bytes) and parses it
 * with the file name as source. VG_ERR_IO / VG_ERR_TOO_LARGE as well. */
int vg_alert_routing_load(const char *path, vg_alert_routing_t **out, char *err, size_t errlen);
/* NULL-safe; clears *r_p. */
void vg_alert_routing_free(vg_alert_routing_t **r_p);

/* ---- the module ----------------------------------------------------------- */

typedef struct {
    const char *data_dir;      /* required: the env lives in <data_dir>/alerts (created) */
    uint32_t node_id;          /* alert ids are "<node_id>-<seq>": unique across the cluster */
    const char *dashboard_url; /* links; NULL = alerts.json's dashboard_url */
    size_t map_size;           /* LMDB map size; 0 = 1 GiB */
    bool no_sync;              /* MDB_NOSYNC (tests, benchmarks only) */
} vg_alert_config_t;

/* Opens (creating) the alert env and starts one sender thread per channel
 * and a housekeeping thread. Ownership of *routing_p moves to the module
 * (it is freed and *routing_p cleared whatever the result). Alerts stored
 * by an earlier run resume: due ones are sent, throttled ones go out in a
 * digest; those of a channel that is no longer configured become dead
 * ("channel not configured", retryable once it is back). Returns 0 with
 * *out owned by the caller (vg_alert_close) or, with a message in err:
 * VG_ERR_INVALID (missing data_dir/routing), VG_ERR_IO (cannot create the
 * directory), VG_ERR_STORAGE (LMDB), VG_ERR_UNSUPPORTED (a newer format). */
int vg_alert_open(const vg_alert_config_t *cfg, vg_alert_routing_t **routing_p, vg_alert_t **out,
                  char *err, size_t errlen);
/* Stops the threads and closes the env; NULL-safe; clears *a_p. A send in
 * flight is abandoned if its message was not completely handed to the
 * server yet (it is sent again at the next open), else it is finished
 * (bounded by the channel's timeout_ms). Nothing stored is lost. */
void vg_alert_close(vg_alert_t **a_p);

/* The anomaly outbox's deliver function (vg_outbox_deliver_fn; alert is a
 * vg_alert_t *): routes each record (vg_anomaly_encode bytes), applies
 * dedup and writes the resulting alerts (or count increments) in ONE LMDB
 * transaction; returns 0 once it committed, and only then wakes the
 * senders. Never blocks on a channel. Idempotent: a record seen in the
 * last 24 h (same event time and id: the outbox redelivers a batch after a
 * crash between commit and ack) changes nothing. A record that does not
 * decode is logged, counted and skipped (it cannot become valid later).
 * Returns VG_ERR_STORAGE / VG_ERR_FULL (map full) when nothing was written:
 * the outbox retries the batch. */
int vg_alert_deliver(void *alert, const vg_str_t *recs, size_t n);

/* ---- history ---------------------------------------------------------- */

typedef enum {
    VG_ALERT_PENDING = 0,   /* waiting for its first send or a retry */
    VG_ALERT_THROTTLED = 1, /* over the channel's rate: goes out in the next digest */
    VG_ALERT_DELIVERED = 2, /* the channel accepted it (alone or in a digest) */
    VG_ALERT_DEAD = 3       /* gave up (max_attempts, permanent error, queue full or
                               channel not configured); vg_alert_retry re-queues it */
} vg_alert_status;

/* "pending", "throttled", "delivered", "dead"; NULL out of range. */
const char *vg_alert_status_name(int status);
int vg_alert_status_parse(vg_str_t s, vg_alert_status *out); /* 0 or VG_ERR_INVALID */

#define VG_ALERT_ID_MAX     32 /* "<node_id>-<seq>", NUL excluded */
#define VG_ALERT_CURSOR_MAX 32 /* characters, NUL excluded */
#define VG_ALERT_LIMIT_MAX  1000

/* GET /v1/alerts filters; newest first (by id sequence). */
typedef struct {
    int status;       /* -1 = any; else vg_alert_status */
    vg_str_t channel; /* ptr NULL = any */
    vg_str_t user_id; /* ptr NULL = any */
    int64_t since_ms; /* created at or after (wall clock ms); INT64_MIN = open */
    int64_t until_ms; /* created before; INT64_MAX = open */
    uint32_t limit;   /* 1..VG_ALERT_LIMIT_MAX; vg_alert_query_init sets 50 */
    vg_str_t cursor;  /* ptr NULL = first page; else next_cursor of the previous page */
    /* each listed alert also carries "cursor": the next_cursor that goes on
     * after it (a gateway merging several nodes' pages keeps, per node, the
     * position after the last alert it took) */
    bool item_cursors;
} vg_alert_query_t;

void vg_alert_query_init(vg_alert_query_t *q);
/* Sets one filter from a query-string parameter (value NUL-terminated and
 * already URL-decoded): status, channel, user_id, since / until (RFC 3339
 * or epoch ms), limit, cursor. q keeps pointers into value (keep it alive
 * for the query). Unknown keys and bad values: VG_ERR_INVALID with err
 * naming the key ("limit: must be 1..1000"). */
int vg_alert_query_set(vg_alert_query_t *q, const char *key, const char *value, vg_perr_t *err);

/* Appends {"alerts":[alert...], "next_cursor": string or null} to out
 * (one JSON value). An alert is {"id", "channel", "type", "status",
 * "created", "updated", "count", "count_sent", "repeats_before",
 * "attempts", "next_attempt", "delivered", "digest", "last_error",
 * "user_id", "reason", "anomaly_id", "last_anomaly_id", "severity",
 * "decision", "score", "amount", "currency", "url"} (absent times and
 * strings are null). Scans at most 100000 stored alerts per page (a page
 * may hold fewer than limit with a next_cursor). Returns 0,
 * VG_ERR_INVALID (limit out of range, cursor altered or not ours: out is
 * unchanged) or VG_ERR_STORAGE. */
int vg_alert_list(vg_alert_t *a, const vg_alert_query_t *q, vg_jw_t *out);
/* The node id of this module's alert ids (vg_alert_config_t.node_id). */
uint32_t vg_alert_node_id(const vg_alert_t *a);
/* Appends the alert with this id (as in the list) plus "anomaly": the
 * anomaly that opened it, as GET /v1/anomalies/{id} shows it
 * (vg_anomaly_rec_json with details). Returns 0,
 * VG_ERR_NOT_FOUND (unknown or another node's id: out unchanged) or
 * VG_ERR_STORAGE. */
int vg_alert_get(vg_alert_t *a, vg_str_t id, vg_jw_t *out);
/* Admin: re-queues a dead alert (status pending, attempts 0, due now).
 * VG_ERR_NOT_FOUND, VG_ERR_INVALID (not dead, or its channel is not
 * configured: err says which), VG_ERR_STORAGE. */
int vg_alert_retry(vg_alert_t *a, vg_str_t id, char *err, size_t errlen);

/* ---- observability ------------------------------------------------------ */

typedef struct {
    uint64_t sent;      /* messages the channel accepted (digests count once) */
    uint64_t delivered; /* alerts delivered (alone or in a digest) */
    uint64_t failures;  /* failed send attempts */
    uint64_t dead;      /* alerts that became dead */
    uint64_t dedup;     /* anomalies folded into an open alert */
    uint64_t throttled; /* alerts held back for a digest */
    uint64_t digests;   /* digests sent */
    uint64_t pending;   /* now: alerts waiting to be sent (pending status) */
    uint64_t held;      /* now: throttled alerts waiting for a digest */
    bool healthy;       /* the last send attempt succeeded (or none failed yet) */
} vg_alert_stats_t;

/* Counters of one channel since open (pending/held: current, from the
 * store). VG_ERR_NOT_FOUND for an unknown channel. */
int vg_alert_stats(vg_alert_t *a, const char *channel, vg_alert_stats_t *out);
/* Appends {"channels":[{"name", "type", "healthy", "last_error",
 * "pending", "throttled", "sent", "delivered", "failures", "dead",
 * "dedup", "digests"}...]} for the dashboard / vigilctl. */
void vg_alert_channels_json(vg_alert_t *a, vg_jw_t *out);
/* vigil_alert_sent_total, _delivered_total, _failures_total, _dead_total,
 * _dedup_total, _throttled_total, _digests_total, _queue (per channel,
 * state pending|throttled), vigil_alert_anomalies_total (result routed|
 * unrouted|duplicate|invalid), vigil_alert_send_seconds. */
void vg_alert_metrics(vg_alert_t *a, vg_prom_t *p);

#endif
