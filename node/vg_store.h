/* vg_store.h: a node's durable state on LMDB (the only module that
 * includes lmdb.h): per-user feature state and seen transaction ids
 * (dedupe, holding the stored verdict), both keyed by shard so a shard's
 * range can be streamed to another node; and the embedded anomaly store
 * (records, indexes by id and user, per-minute trend counters).
 *
 * Writes: one write transaction per batch (group commit), from one thread
 * at a time (LMDB allows a single writer). Reads: any thread, through a
 * vg_store_reader_t owned by that thread. */
#ifndef VG_STORE_H
#define VG_STORE_H

#include "vg_anomaly.h"
#include "vg_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest query cursor, without its NUL (next_cursor needs one more). */
#define VG_STORE_CURSOR_MAX VG_ANOMALY_CURSOR_MAX

typedef struct vg_store vg_store_t;
typedef struct vg_store_batch vg_store_batch_t;
typedef struct vg_store_reader vg_store_reader_t;

/* Most independent outbox consumers ("sinks") a store serves. */
#define VG_STORE_SINKS_MAX 8

typedef struct {
    const char *dir; /* created if missing */
    size_t map_size; /* bytes of address space; 0 = 64 GiB (sparse file) */
    bool no_sync;    /* skip fsync at commit (benchmarks only: loses durability) */
    /* Anomalies are not kept in the local anomaly databases: an external
     * store has them (through the outbox). Implies at least one sink. */
    bool outbox;
    /* Outbox sinks (0..VG_STORE_SINKS_MAX); with >= 1 every new anomaly is
     * appended to the outbox (see "outbox" below). 0 with outbox = 1. */
    uint32_t outbox_sinks;
    /* Sink names (the key of each one's persisted cursor, so a sink keeps
     * its place when others are added or removed); NULL = "sink<i>". */
    const char *outbox_sink_names[VG_STORE_SINKS_MAX];
} vg_store_config_t;

/* Opens (creating) the environment and its named databases. Returns 0 or
 * a vg_err with a message naming the path in errbuf (also logged):
 * VG_ERR_STORAGE (cannot create/open, not a directory, map too small),
 * VG_ERR_UNSUPPORTED (another on-disk format version), VG_ERR_INVALID (no
 * dir). errbuf may be NULL. */
int vg_store_open(const vg_store_config_t *cfg, vg_store_t **out, char *errbuf, size_t errlen);
/* Closes; NULL-safe; clears *s. No batch or reader may be open. */
void vg_store_close(vg_store_t **s);

/* ---- write side (one writer thread at a time) ------------------------- */
/* Starts the batch's write transaction (blocks while another thread holds
 * one). Errors of the put calls below: VG_ERR_INVALID (bad argument: shard
 * > 65535, id empty or > 255 bytes; nothing written), VG_ERR_FULL (map
 * full), VG_ERR_STORAGE/IO; a storage error poisons the batch: later puts
 * return it and commit aborts with it. LMDB errors are logged. */
int vg_store_batch_begin(vg_store_t *s, vg_store_batch_t **out);
int vg_store_put_user(vg_store_batch_t *b, uint32_t shard, vg_str_t user_id, const void *state,
                      size_t len);
/* Records tx_id (with its event time) as seen in shard, with its verdict
 * bytes (msgpack). The key is (shard, ts_ms, id): a retry is recognised
 * when it repeats the transaction, i.e. the same id and timestamp. */
int vg_store_put_seen(vg_store_batch_t *b, uint32_t shard, int64_t ts_ms, vg_str_t tx_id,
                      const void *verdict, size_t len);
/* Stores the anomaly record, its indexes and trend counters. A record with
 * an id already stored is left unchanged (returns 0). VG_ERR_INVALID
 * (logged, nothing written) when id or user_id is not 1..VG_TX_ID_MAX
 * bytes or the record would not decode back (vg_anomaly_decode: invalid
 * tx, score outside 0..1, ...). */
int vg_store_put_anomaly(vg_store_batch_t *b, const vg_anomaly_t *a);
/* Commits; durable on return unless no_sync. Frees *b either way (and
 * NULLs it); a poisoned batch is aborted and its error returned. */
int vg_store_batch_commit(vg_store_batch_t **b);
void vg_store_batch_abort(vg_store_batch_t **b);

/* ---- read side -------------------------------------------------------- */
vg_store_reader_t *vg_store_reader_new(vg_store_t *s);
void vg_store_reader_destroy(vg_store_reader_t **r);
/* A consistent snapshot from begin to end; cheap (txn renew/reset). A
 * reader holds one LMDB reader slot (256 per environment) until destroyed;
 * destroy every reader before vg_store_close. */
int vg_store_reader_begin(vg_store_reader_t *r);
void vg_store_reader_end(vg_store_reader_t *r);
/* Lookups between begin and end. *val borrows LMDB memory valid until
 * vg_store_reader_end. Return 0 or VG_ERR_NOT_FOUND. */
int vg_store_get_user(vg_store_reader_t *r, uint32_t shard, vg_str_t user_id, const void **val,
                      size_t *len);
int vg_store_get_seen(vg_store_reader_t *r, uint32_t shard, int64_t ts_ms, vg_str_t tx_id,
                      const void **val, size_t *len);

/* ---- anomaly queries (any thread; each opens its own snapshot) -------- */
/* Walks matching records newest first, at most q->limit; scans at most
 * max_scan records (0 = 100000) so a selective filter cannot stall the
 * server. When more may follow, writes an opaque NUL-terminated cursor
 * (<= 128 bytes) to next_cursor, else next_cursor[0] = 0. A malformed
 * q->cursor is VG_ERR_INVALID. The next page continues strictly after
 * the last record scanned (returned, or passed over when the scan cap
 * was hit). With q->user_id set it walks the by-user index only.
 * VG_ERR_INVALID also for limit outside 1..1000 or cursor_cap <=
 * VG_STORE_CURSOR_MAX. If fn returns nonzero the walk stops, that value is
 * returned and next_cursor is empty. Damaged records are logged and
 * skipped. */
int vg_store_anomaly_query(vg_store_t *s, const vg_anomaly_query_t *q, uint32_t max_scan,
                           vg_anomaly_fn *fn, void *arg, char *next_cursor, size_t cursor_cap);
/* The record with this id: fn called once (its value returned), or
 * VG_ERR_NOT_FOUND; VG_ERR_STORAGE when the stored record is damaged. */
int vg_store_anomaly_get(vg_store_t *s, vg_str_t id, vg_anomaly_fn *fn, void *arg);
/* Trend buckets over [from, to) (event time) of width bucket_ms (a
 * multiple of 60000), oldest first, including empty buckets; at most
 * 10000 buckets (VG_ERR_LIMIT beyond). Buckets start at multiples of
 * bucket_ms since the epoch: the first contains from, the last to - 1.
 * VG_ERR_INVALID when from >= to, bucket_ms is not a positive multiple
 * of 60000, or |from|, |to|, bucket_ms > 2^60. fn's nonzero value stops
 * the walk and is returned. */
int vg_store_anomaly_stats(vg_store_t *s, int64_t from_ms, int64_t to_ms, int64_t bucket_ms,
                           vg_bucket_fn *fn, void *arg);

/* ---- hand-off support (cluster) --------------------------------------- */
/* Walks every user state ('u', key = user_id) and then every seen id
 * ('s', key = ord64(ts_ms) big-endian + tx id; a full scan of the
 * time-ordered seen database, filtered) of shard (<= 65535, else VG_ERR_INVALID), in key
 * order, in one snapshot. key and val borrow LMDB memory valid during the
 * callback only. fn's nonzero value stops the walk and is returned. */
typedef int(vg_store_kv_fn)(void *arg, char kind, vg_str_t key, const void *val, size_t len);
int vg_store_shard_scan(vg_store_t *s, uint32_t shard, vg_store_kv_fn *fn, void *arg);

/* Metrics: time spent in the last commit, counts. Any thread. */
typedef struct {
    uint64_t commits, commit_ns_total, commit_ns_last;
    uint64_t users, seen, anomalies; /* entries */
    uint64_t map_size, map_used;     /* bytes */
} vg_store_stats_t;
void vg_store_stats(vg_store_t *s, vg_store_stats_t *out);

/* ---- blobs: rule sets and models, by content hash (any thread) ---------- */

/* Stores val under key (one write transaction of its own, durable on
 * return). Returns 0 or VG_ERR_STORAGE. */
int vg_store_blob_put(vg_store_t *s, const void *key, size_t key_len, const void *val, size_t len);
/* Copies the blob into *out (vg_malloc'd, the caller frees). Returns 0,
 * VG_ERR_NOT_FOUND or VG_ERR_STORAGE. */
int vg_store_blob_get(vg_store_t *s, const void *key, size_t key_len, void **out, size_t *len);

/* ---- outbox: anomalies awaiting delivery to sinks ------------------------
 * With cfg.outbox_sinks >= 1 (or cfg.outbox), vg_store_put_anomaly also
 * appends each new record to the outbox, in the batch's transaction:
 * durable with the verdict. With cfg.outbox the record goes to the outbox
 * only (an external store keeps it; a repeat is appended again and that
 * store ignores it); without, it is appended only when it is new to the
 * local store. Entries carry an ascending sequence number (gaps possible).
 *
 * Every sink (0 .. outbox_sinks - 1: PostgreSQL, Kafka, alerts, ...)
 * consumes the outbox independently through its own cursor, persisted in
 * LMDB under the sink's name: take returns the oldest entries the sink
 * has not acked, ack moves its cursor. An entry is deleted once every
 * sink acked it. A sink that crashes between delivering and acking gets
 * the same entries again (at-least-once: sinks deduplicate by anomaly
 * id). A sink new to the data dir starts at the oldest entry kept. */

typedef struct {
    size_t n;          /* records taken */
    vg_str_t *recs;    /* their bytes (into buf), oldest first */
    uint64_t last_seq; /* key of the last one: ack up to it */
    vg_mpw_t buf;      /* owned; reused between takes */
    size_t *offs, cap;
} vg_store_outbox_t;

/* Copies up to max of the oldest entries sink (< the configured sinks,
 * else VG_ERR_INVALID) has not acked into out (zero it before the first
 * use; vg_store_outbox_fini frees). Any thread but a writer's. */
int vg_store_outbox_take(vg_store_t *s, uint32_t sink, size_t max, vg_store_outbox_t *out);
void vg_store_outbox_fini(vg_store_outbox_t *o);
/* Marks every entry up to upto_seq delivered to sink (its own write
 * transaction; durable on return) and deletes the entries every sink has
 * acked. A cursor never moves back (an older upto_seq is a no-op).
 * Returns 0, VG_ERR_INVALID (no such sink) or a storage error. */
int vg_store_outbox_ack(vg_store_t *s, uint32_t sink, uint64_t upto_seq);
/* Entries waiting for sink (an upper bound when sequence numbers have
 * gaps: aborted batches); 0 for a sink that is not configured. */
uint64_t vg_store_outbox_count(vg_store_t *s, uint32_t sink);
/* Configured sinks and the name of one (NULL when out of range). */
uint32_t vg_store_outbox_sinks(vg_store_t *s);
const char *vg_store_outbox_sink_name(vg_store_t *s, uint32_t sink);

#endif
