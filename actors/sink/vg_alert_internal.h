/* vg_alert_internal.h: what the files of the alert module share: the parsed
 * routing config, the stored alert record and its keys, the LMDB wrapper
 * (vg_alert_db.c, the only file of the module that includes lmdb.h), the
 * message rendering (vg_alert_format.c) and the libcurl channel
 * (vg_alert_curl.c, the only one that includes curl.h and sodium.h).
 *
 * ---- on-disk format (env <data_dir>/alerts, format 1) ----------------------
 *
 *   db      key                                       value
 *   meta    "format"                                  u32 BE 1
 *           "instance"                                8 random bytes (Message-IDs)
 *           "next_seq"                                u64 BE
 *   alerts  seq u64 BE                                alert record (msgpack, below)
 *   status  status u8 | seq u64 BE                    empty   (list by status)
 *   due     clen u8 | channel | next_at ord64 | seq   empty   (pending alerts)
 *   held    clen u8 | channel | seq                   empty   (throttled alerts)
 *   dedup   clen u8 | channel | ulen u8 | user | reason   seq u64 BE | window start ord64
 *   seen    anomaly pk (vg_anomaly_pk)                wall ms ord64 (idempotent deliver)
 *   seen_t  wall ms ord64 | anomaly pk                empty   (pruning of seen)
 *
 * ord64: big-endian with the sign bit flipped, so keys sort by value.
 * The alert record is the msgpack array
 *   [1, seq, channel, status, created_ms, updated_ms, first_ms, last_ms,
 *    count, count_sent, attempts, next_at_ms, delivered_ms, last_error|nil,
 *    reason, last_anomaly_id, repeats_before, digest|nil, anomaly (bin:
 *    vg_anomaly_encode bytes of the anomaly that opened the alert)]
 * (readers skip further trailing elements). */
#ifndef VG_ALERT_INTERNAL_H
#define VG_ALERT_INTERNAL_H

#include "vg_alert.h"
#include "vg_anomaly.h"
#include "vg_jw.h"
#include "vg_metrics.h"
#include "vg_mp.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define VG__ALERT_NAME_MAX   64  /* channel names */
#define VG__ALERT_REASON_MAX 128 /* dedup reason key "detector:feature" */
#define VG__ALERT_ERR_MAX    240 /* stored last_error */
#define VG__ALERT_REC_FIELDS 19
#define VG__ALERT_SEEN_MS    (24 * 3600 * 1000LL)
#define VG__ALERT_DIGEST_MAX 1000 /* alerts one digest covers */

/* ---- routing config (vg_alert_config.c) ----------------------------------- */

typedef enum { VG__CH_SMTP = 0, VG__CH_SLACK, VG__CH_WEBHOOK } vg__chan_type;

typedef struct {
    char *name;
    int type; /* vg__chan_type */
    char *url;
    int timeout_ms, connect_timeout_ms;
    char *ca_file; /* NULL = system CAs */
    bool insecure; /* skip TLS peer/host verification */
    /* smtp */
    char *from;
    char **to;
    size_t n_to;
    bool starttls;
    char *username, *password; /* NULL = no AUTH */
    /* webhook */
    uint8_t *secret; /* NULL = unsigned */
    size_t secret_len;
    /* throttle (the global one unless overridden) */
    double rate_per_min; /* 0 = unlimited */
    double burst;
} vg__chan_cfg_t;

typedef struct {
    int min_severity; /* -1 = any */
    char **rules;
    size_t n_rules;
    char **detectors;
    size_t n_detectors;
    unsigned decisions; /* bit per vg_decision; 0 = any */
    size_t *channels;   /* indices into channels[] */
    size_t n_channels;
} vg__route_t;

struct vg_alert_routing {
    vg__chan_cfg_t *channels;
    size_t n_channels;
    vg__route_t *routes;
    size_t n_routes;
    int64_t dedup_window_ms;
    int64_t group_wait_ms;
    int64_t digest_wait_ms;
    int digest_lines; /* alerts listed one by one in a digest message */
    int max_attempts;
    int64_t retry_base_ms, retry_max_ms;
    char *dashboard_url; /* no trailing '/' */
    int retention_days;
    uint64_t max_pending; /* per channel */
};

/* ---- the stored alert (vg_alert_rec.c) ------------------------------------ */

/* Slices borrow from the bytes it was decoded from (or that the caller
 * set); vg__alert_encode copies them. */
typedef struct {
    uint64_t seq;
    vg_str_t channel;
    uint8_t status; /* vg_alert_status */
    int64_t created_ms, updated_ms;
    int64_t first_ms, last_ms; /* wall clock of the first / latest anomaly */
    uint32_t count;            /* anomalies folded into this alert */
    uint32_t count_sent;       /* count when it was delivered */
    uint32_t attempts;         /* failed sends so far */
    int64_t next_at_ms;        /* pending: due time; throttled: when it was held */
    int64_t delivered_ms;      /* 0 = not delivered */
    vg_str_t last_error;       /* ptr NULL = none */
    vg_str_t reason;           /* dedup reason key */
    vg_str_t last_anomaly_id;
    uint32_t repeats_before; /* occurrences after the previous alert of the key was sent */
    vg_str_t digest;         /* id of the digest that delivered it; ptr NULL = none */
    vg_str_t anomaly;        /* vg_anomaly_encode bytes */
} vg__alert_t;

void vg__alert_encode(const vg__alert_t *al, vg_mpw_t *w);
int vg__alert_decode(const void *buf, size_t len, vg__alert_t *al);

/* Keys; each returns its length. buf sizes: see the VG__K_* caps. */
#define VG__K_DUE_MAX   (1 + VG__ALERT_NAME_MAX + 16)
#define VG__K_DEDUP_MAX (1 + VG__ALERT_NAME_MAX + 1 + VG_TX_ID_MAX + VG__ALERT_REASON_MAX)
void vg__be64(uint8_t *p, uint64_t v);
uint64_t vg__rd64(const uint8_t *p);
void vg__ord64(uint8_t *p, int64_t v);
int64_t vg__rdord64(const uint8_t *p);
size_t vg__key_chan(uint8_t *buf, vg_str_t channel); /* clen | channel */
size_t vg__key_due(uint8_t *buf, vg_str_t channel, int64_t next_at, uint64_t seq);
size_t vg__key_held(uint8_t *buf, vg_str_t channel, uint64_t seq);
size_t vg__key_status(uint8_t *buf, int status, uint64_t seq);
size_t vg__key_dedup(uint8_t *buf, vg_str_t channel, vg_str_t user, vg_str_t reason);
/* "<node>-<seq>" into buf (VG_ALERT_ID_MAX + 1); parse: 0 or VG_ERR_INVALID. */
void vg__alert_id(char *buf, uint32_t node, uint64_t seq);
int vg__alert_id_parse(vg_str_t id, uint32_t *node, uint64_t *seq);
/* The dedup reason key of an anomaly: "detector:feature" of its strongest
 * reason (truncated to VG__ALERT_REASON_MAX), "score" without reasons. */
size_t vg__alert_reason_key(const vg_anomaly_rec_t *rec, char *buf);
/* Exponential backoff with (equal) jitter for the attempt-th failure
 * (1..): a uniform delay in [d/2, d], d = min(max, base * 2^(attempt-1)). */
int64_t vg__alert_backoff(const vg_alert_routing_t *r, uint32_t attempt);

/* ---- LMDB (vg_alert_db.c) ---------------------------------------------- */

enum {
    VG__DB_META = 0,
    VG__DB_ALERTS,
    VG__DB_STATUS,
    VG__DB_DUE,
    VG__DB_HELD,
    VG__DB_DEDUP,
    VG__DB_SEEN,
    VG__DB_SEEN_T,
    VG__DB_N
};

typedef struct vg__adb vg__adb_t;
typedef struct vg__atxn vg__atxn_t;

/* Opens the env in dir (created). 0, VG_ERR_IO, VG_ERR_STORAGE,
 * VG_ERR_UNSUPPORTED, with err filled. */
int vg__adb_open(const char *dir, size_t map_size, bool no_sync, vg__adb_t **out, char *err,
                 size_t errlen);
void vg__adb_close(vg__adb_t **db_p);
/* One transaction at a time per thread. Read transactions may be used from
 * any thread (MDB_NOTLS). */
int vg__adb_begin(vg__adb_t *db, bool write, vg__atxn_t **out);
int vg__adb_commit(vg__atxn_t **t_p); /* frees the txn either way */
void vg__adb_abort(vg__atxn_t **t_p); /* NULL-safe */
/* Values borrow from the map: valid until the next write in this txn or
 * its end. NOT_FOUND when absent. */
int vg__adb_get(vg__atxn_t *t, int db, const void *k, size_t klen, vg_str_t *v);
int vg__adb_put(vg__atxn_t *t, int db, const void *k, size_t klen, const void *v, size_t vlen);
int vg__adb_del(vg__atxn_t *t, int db, const void *k, size_t klen); /* absent: 0 */
/* Walks keys from `from` (forward: first key >= from, NULL = first;
 * reverse: last key <= from, NULL = last). fn's nonzero value stops the
 * walk and is returned. key/val valid during the call; fn must not write. */
typedef int(vg__adb_walk_fn)(void *arg, vg_str_t key, vg_str_t val);
int vg__adb_walk(vg__atxn_t *t, int db, const void *from, size_t flen, bool reverse,
                 vg__adb_walk_fn *fn, void *arg);

/* ---- the module object (vg_alert.c, vg_alert_sender.c) ---------------- */

typedef struct vg__conn vg__conn_t;

typedef struct {
    struct vg_alert *a;
    size_t idx;
    const vg__chan_cfg_t *cfg;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* kick, last_error */
    pthread_cond_t cv;
    bool kick;
    char last_error[VG__ALERT_ERR_MAX];
    /* sender-thread state */
    vg__conn_t *conn;
    double tokens;
    int64_t tokens_ms;
    int64_t digest_retry_ms;
    uint32_t digest_failures;
    /* counters */
    vg_counter_t sent, delivered, failures, dead, dedup, throttled, digests;
    _Atomic int64_t pending, held;
    atomic_bool healthy;
} vg__chan_t;

struct vg_alert {
    vg_alert_routing_t *r;
    vg__adb_t *db;
    uint32_t node_id;
    char *dashboard_url;
    char instance[17]; /* hex of the env's random instance id */
    char host[64];     /* Message-ID right-hand side */
    vg__chan_t *chans;
    atomic_bool stop;
    pthread_t keeper;
    bool keeper_started;
    pthread_mutex_t keeper_mu;
    pthread_cond_t keeper_cv;
    vg_counter_t an_routed, an_unrouted, an_dup, an_invalid;
    vg_hist_t send_hist;
};

/* Channel index by name; -1 when not configured. */
int vg__alert_chan_find(const struct vg_alert *a, vg_str_t name);
/* Wakes a channel's sender. */
void vg__alert_kick(vg__chan_t *c);
/* Reads alert seq in t (slices borrow from the map: valid until the next
 * write in t). VG_ERR_NOT_FOUND, VG_ERR_STORAGE (does not decode). */
int vg__alert_load(vg__atxn_t *t, uint64_t seq, vg__alert_t *al);
/* Writes al (already changed by the caller) in the write txn t with its
 * index keys, moving them from (old_status, old_next_at); old_status -1
 * for a new alert. w is scratch. */
int vg__alert_store(vg__atxn_t *t, const vg__alert_t *al, int old_status, int64_t old_next_at,
                    vg_mpw_t *w);
/* After the commit of such a change: the channel's gauges (and its dead
 * counter). */
void vg__alert_gauge(vg__chan_t *c, int old_status, int new_status);
/* Housekeeping as of now (the keeper thread runs it hourly): drops the
 * idempotency keys of anomalies seen more than 24 h ago, expired dedup
 * windows, and delivered alerts last updated more than retention_days
 * ago (dead ones stay until retried). */
void vg__alert_maintain(struct vg_alert *a, int64_t now);
/* Starts / stops the sender threads (vg_alert_sender.c). */
int vg__alert_senders_start(struct vg_alert *a);
void vg__alert_senders_stop(struct vg_alert *a);

/* ---- messages (vg_alert_format.c) ------------------------------------- */

/* A growing string. */
typedef struct {
    char *buf;
    size_t len, cap;
} vg__sb_t;
void vg__sb_init(vg__sb_t *b);
void vg__sb_fini(vg__sb_t *b);
void vg__sb_add(vg__sb_t *b, const char *s, size_t n);
void vg__sb_printf(vg__sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One alert to render: the record, its decoded anomaly and its id. */
typedef struct {
    const vg__alert_t *al;
    const vg_anomaly_rec_t *an;
    char id[VG_ALERT_ID_MAX + 1];
} vg__item_t;

/* What is sent: body (the whole RFC 5322 message for SMTP), the
 * idempotency id (X-Vigil-Alert-Id) and for SMTP the Message-ID. */
typedef struct {
    vg__sb_t body;
    char id[2 * VG_ALERT_ID_MAX + 8];
} vg__msg_t;

typedef struct {
    const vg__chan_cfg_t *ch;
    const char *dashboard_url;
    const char *instance, *host;
    int64_t now_ms;
    int64_t window_ms;
    int digest_lines;
} vg__render_t;

/* One alert (n == 1, digest false) or a digest of n throttled alerts. */
void vg__alert_render(const vg__render_t *r, const vg__item_t *items, size_t n, bool digest,
                      vg__msg_t *out);
/* The anomaly's dashboard link into b. */
void vg__alert_url(vg__sb_t *b, const char *dashboard_url, vg_str_t anomaly_id);
/* The JSON of one alert (GET /v1/alerts), with the anomaly when full and
 * "cursor" when cursor is not NULL. */
void vg__alert_json(vg_jw_t *w, const struct vg_alert *a, const vg__alert_t *al, bool full,
                    const char *cursor);

/* ---- sending (vg_alert_curl.c) ---------------------------------------- */

typedef struct {
    int rc;         /* 0 = accepted */
    bool permanent; /* retrying cannot help (HTTP 4xx but 408/429, SMTP 5xx) */
    bool aborted;   /* stopped before the message was handed over: not an attempt */
    long status;    /* HTTP status / last SMTP reply code; 0 = none */
    char error[VG__ALERT_ERR_MAX];
} vg__send_t;

/* A channel connection (one curl easy handle, reused for keep-alive).
 * stop: when it turns true a transfer whose message was not completely
 * handed over is aborted. */
vg__conn_t *vg__conn_new(const vg__chan_cfg_t *ch, atomic_bool *stop);
void vg__conn_destroy(vg__conn_t **c_p);
/* Sends msg; webhook messages get X-Vigil-Timestamp (now_s) and, with a
 * secret, X-Vigil-Signature. */
void vg__conn_send(vg__conn_t *c, const vg__msg_t *msg, int64_t now_s, vg__send_t *res);
/* "v1=<hex HMAC-SHA256(secret, "<ts>." + body)>" into out (72 bytes). */
void vg__alert_sign(const uint8_t *secret, size_t secret_len, int64_t ts, const char *body,
                    size_t len, char *out);
/* Uniform random integer in [0, n) (libsodium). */
uint32_t vg__alert_random(uint32_t n);
void vg__alert_random_bytes(void *buf, size_t n);
/* curl_global_init once per process. */
void vg__alert_curl_init(void);

#endif
