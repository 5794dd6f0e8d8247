/* vg_pg.h: the PostgreSQL anomaly store (the only module that includes
 * libpq-fe.h): a pool of connections, versioned migrations embedded in the
 * binary, a table partitioned by event time (one partition per UTC day, or
 * a TimescaleDB hypertable), batched idempotent inserts, and the queries of
 * GET /v1/anomalies[/{id}] and /v1/stats/anomalies with exactly the
 * semantics of the LMDB store (vg_store_anomaly_*): same order, cursors,
 * filters, scan cap, buckets and return codes. docs/POSTGRES.md.
 *
 * Every function may be called from any thread (the pool serialises use of
 * each connection); none may be called during or after vg_pg_close. They
 * block on the network: never call them from a shard worker. */
#ifndef VG_PG_H
#define VG_PG_H

#include "vg_anomaly.h"
#include "vg_metrics.h"
#include "vg_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *dsn;           /* libpq connection string (copied) */
    int pool_size;             /* connections; 0 = 4 */
    int statement_timeout_ms;  /* per statement; 0 = 5000 */
    int retention_days;        /* partitions wholly older than this many days before
                                  today (UTC) are dropped by vg_pg_maintain; 0 = keep */
    int partitions_ahead_days; /* partitions kept ready after today; 0 = 7 */
    int connect_wait_ms;       /* vg_pg_open retries connecting this long; 0 = 10000 */
    uint32_t max_scan;         /* query scan cap (vg_store_anomaly_query's max_scan); 0 = 100000 */
    bool async_commit;         /* synchronous_commit=off for inserts: faster, but a server
                                  crash may lose inserts already acknowledged (never set it
                                  when the caller deletes what it delivered) */
    bool no_json;              /* leave the JSON columns (transaction, features, reasons)
                                  NULL: about 3x the insert rate; queries are unaffected */
} vg_pg_config_t;

typedef struct vg_pg vg_pg_t;

/* Connects (retrying with backoff for up to connect_wait_ms), applies the
 * embedded migrations that the database lacks (under a session advisory
 * lock, so processes starting together apply each one once; recorded in
 * schema_migrations(version, name, applied_at)), ensures the partitions
 * from yesterday to today + partitions_ahead_days and prepares its
 * statements. Further pool connections are made on demand. Returns 0 (*out
 * owned by the caller: vg_pg_close) or, with a message in errbuf (may be
 * NULL; also logged): VG_ERR_INVALID (no cfg/dsn, negative sizes),
 * VG_ERR_UNREACHABLE (cannot connect or authenticate in time), VG_ERR_STORAGE
 * (a migration or the setup failed). */
int vg_pg_open(const vg_pg_config_t *cfg, vg_pg_t **out, char *errbuf, size_t errlen);
/* Disconnects and frees; NULL-safe; clears *pg_p. No call may be running. */
void vg_pg_close(vg_pg_t **pg_p);

/* Stores n records, each in vg_anomaly_encode form (the outbox's entries),
 * in ONE transaction: 0 is returned only after it committed (durable unless
 * async_commit), with *inserted = records that were new. A record whose
 * (event time, id) is already stored is left unchanged (a retried batch
 * inserts nothing); unlike the LMDB store, the same id at another event time
 * is another anomaly (node dedupe is by id and event time too). A batch
 * of new records is COPYed straight into the table; one with a stored
 * record (a redelivery) fails that, is rolled back and redone through a
 * staging table (about twice the server's work; counted in
 * vigil_pg_insert_fallbacks_total). Partitions missing for the records'
 * days are created first. Errors (nothing
 * written): VG_ERR_INVALID when a record does not decode (vg_anomaly_decode;
 * logged with its index, and *inserted = that index, so the caller can set
 * the record aside); VG_ERR_UNREACHABLE (connection lost or server down:
 * retry later, the pool reconnects with backoff); VG_ERR_TIMEOUT (statement
 * timeout); VG_ERR_STORAGE (any other server error, logged). n = 0 is a
 * no-op. inserted may be NULL. */
int vg_pg_insert(vg_pg_t *pg, const vg_str_t *records, size_t n, size_t *inserted);

/* vg_store_anomaly_query with max_scan = cfg.max_scan: walks matching
 * records newest first (event time, then id bytewise, both descending),
 * at most q->limit, scanning at most max_scan rows of the walked range (the
 * time range and cursor, and with q->user_id that user's rows only); writes
 * the cursor of the next page (or "") to next_cursor. Records handed to fn
 * are decoded from the stored msgpack and valid during the call only.
 * VG_ERR_INVALID: limit outside 1..1000, cursor_cap <= VG_ANOMALY_CURSOR_MAX
 * or a malformed cursor. fn's nonzero value stops the walk, is returned,
 * and next_cursor is then "". Also VG_ERR_UNREACHABLE / TIMEOUT / STORAGE
 * as vg_pg_insert; fn is not called when an error is returned before the
 * first record. */
int vg_pg_anomaly_query(vg_pg_t *pg, const vg_anomaly_query_t *q, vg_anomaly_fn *fn, void *arg,
                        char *next_cursor, size_t cursor_cap);
/* vg_store_anomaly_get: fn called once with the record of this id (the one
 * with the latest event time if the id was stored at several) and its value
 * returned; VG_ERR_NOT_FOUND; VG_ERR_STORAGE when the stored record does not
 * decode; connection errors as above. */
int vg_pg_anomaly_get(vg_pg_t *pg, vg_str_t id, vg_anomaly_fn *fn, void *arg);
/* vg_store_anomaly_stats: buckets over [from, to) of bucket_ms (a positive
 * multiple of 60000, aligned to multiples of bucket_ms since the epoch; the
 * first contains from, the last to - 1), oldest first, empty ones included.
 * VG_ERR_INVALID (from >= to, bad bucket, |values| > 2^60), VG_ERR_LIMIT
 * (more than 10000 buckets), connection errors as above, or fn's nonzero
 * value (which stops the walk). */
int vg_pg_anomaly_stats(vg_pg_t *pg, int64_t from_ms, int64_t to_ms, int64_t bucket_ms,
                        vg_bucket_fn *fn, void *arg);

/* Housekeeping, for a timer of the caller (hourly is plenty; it must run at
 * least daily so that tomorrow's partition exists before it is needed --
 * inserts create missing ones anyway): ensures partitions from yesterday to
 * today + partitions_ahead_days, and with retention_days drops the
 * partitions (TimescaleDB: chunks) wholly older than today - retention_days
 * and their trend counters. Safe to run from several processes at once.
 * Returns 0 or a connection / storage error. */
int vg_pg_maintain(vg_pg_t *pg);

/* True when the last attempt to reach the server succeeded (no I/O of its
 * own: it reflects the latest call, connect or reconnect). */
bool vg_pg_healthy(vg_pg_t *pg);

/* Appends the vigil_pg_* series: inserted rows, conflicts (rows already
 * stored), insert batches and those redone through the staging table
 * (fallbacks: a row was stored already), errors, reconnects, query and
 * insert latency histograms, pool size and connections in use, up,
 * partitions created / dropped. */
void vg_pg_metrics(vg_pg_t *pg, vg_prom_t *p);

/* Diagnostics (benchmarks, docs): EXPLAIN (ANALYZE) of the statement that
 * vg_pg_anomaly_query (q) or, with q NULL, vg_pg_anomaly_get (id) runs,
 * with the same parameters; the plan's lines go to out (NUL-terminated,
 * truncated to cap). Same errors as the query. */
int vg_pg_explain(vg_pg_t *pg, const vg_anomaly_query_t *q, vg_str_t id, char *out, size_t cap);

#endif
