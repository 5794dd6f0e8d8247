/* vg_pg.c: the PostgreSQL anomaly store (the only file that includes
 * libpq-fe.h): connection pool with reconnect backoff, migrations under an
 * advisory lock, daily partitions, batches COPYed (BINARY) straight into
 * the table -- or, when a row is stored already, through a staging table
 * and INSERT ... ON CONFLICT DO NOTHING -- and keyset queries that walk an
 * index exactly as the LMDB store walks its B-tree (docs/POSTGRES.md). */
#include "vg_pg.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_pg_internal.h"
#include "vg_time.h"
#include "vg_tx.h"

#include <libpq-fe.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MOD            "pg"
#define S_POOL_DEFAULT   4
#define S_TIMEOUT_MS     5000
#define S_AHEAD_DAYS     7
#define S_CONNECT_WAIT   10000
#define S_SCAN_DEFAULT   100000
#define S_LIMIT_MAX      1000
#define S_BUCKETS_MAX    10000
#define S_MINUTE_MS      60000LL
#define S_TIME_ABS_MAX   ((int64_t) 1 << 60)
#define S_BACKOFF_MIN_MS 100
#define S_BACKOFF_MAX_MS 2000
#define S_WAIT_NS        50000000L    /* acquire: recheck backing-off connections */
#define S_LOCK_MIGRATE   7451580101LL /* pg_advisory_lock keys ("vigl" + n) */
#define S_LOCK_PARTS     7451580102LL
#define S_MAX_PARAMS     11
#define S_COPY_CHUNK     ((size_t) 1 << 17) /* COPY bytes encoded per PQputCopyData */
#define S_MINUTE_COLS    9 /* anomaly_minutes: minute, total, 4 severities, 3 decisions */

/* Type OIDs of the parameters we send (pg_type.dat). */
enum { S_BYTEA = 17, S_INT8 = 20, S_INT4 = 23, S_TEXT = 25, S_INT8_ARRAY = 1016, S_TSTZ = 1184 };

/* ---- SQL ------------------------------------------------------------------
 * Every statement is prepared on each connection (names "vg_*"); values go
 * as binary parameters, never into the text. Partition DDL is built from
 * day numbers only. */

/* Adds a batch's per-minute counters (rows "excluded") to anomaly_minutes. */
#define S_SQL_MINUTES_ADD                                                                       \
    "ON CONFLICT (minute) DO UPDATE SET total = c.total + excluded.total, "                     \
    "sev_low = c.sev_low + excluded.sev_low, sev_medium = c.sev_medium + excluded.sev_medium, " \
    "sev_high = c.sev_high + excluded.sev_high, "                                               \
    "sev_critical = c.sev_critical + excluded.sev_critical, "                                   \
    "dec_allow = c.dec_allow + excluded.dec_allow, "                                            \
    "dec_review = c.dec_review + excluded.dec_review, "                                         \
    "dec_block = c.dec_block + excluded.dec_block"

/* The fallback: the staged rows not stored yet, and the counters of those. */
#define S_SQL_INSERT                                                                           \
    "WITH ins AS (INSERT INTO anomalies (" VG__PG_STAGING_COLS ") SELECT " VG__PG_STAGING_COLS \
    " FROM vg_staging ON CONFLICT (ts, anomaly_id) DO NOTHING RETURNING ts, severity, "        \
    "decision), "                                                                              \
    "m AS (SELECT div((extract(epoch FROM ts) * 1000)::bigint, 60000) AS minute, severity, "   \
    "decision FROM ins), "                                                                     \
    "up AS (INSERT INTO anomaly_minutes AS c SELECT minute, count(*), "                        \
    "count(*) FILTER (WHERE severity = 0), count(*) FILTER (WHERE severity = 1), "             \
    "count(*) FILTER (WHERE severity = 2), count(*) FILTER (WHERE severity = 3), "             \
    "count(*) FILTER (WHERE decision = 0), count(*) FILTER (WHERE decision = 1), "             \
    "count(*) FILTER (WHERE decision = 2) FROM m GROUP BY minute ORDER BY "                    \
    "minute " S_SQL_MINUTES_ADD ") SELECT count(*) FROM ins"

/* The fast path's counters, computed by the client (every row of the
 * batch is new): one int8[] per column, minutes ascending. */
#define S_SQL_MINUTES                                                                      \
    "INSERT INTO anomaly_minutes AS c (minute, total, sev_low, sev_medium, sev_high, "     \
    "sev_critical, dec_allow, dec_review, dec_block) SELECT * FROM unnest($1::int8[], "    \
    "$2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::int8[], " \
    "$9::int8[]) " S_SQL_MINUTES_ADD

/* The walk of vg_store_anomaly_query: rows of the range (ts >= $1, (ts, id)
 * < ($2, $3), [user_id = $11]) newest first, at most max_scan + 1 ($8),
 * numbered (rn) and flagged by the other filters (m). Returned: the
 * matches, the row after each match (is there a next page?) and rows
 * max_scan and max_scan + 1 ($9: where a scan-capped walk stops), at most
 * $10 = 2 * limit + 2 of them; the record only for matches. Evaluation is
 * lazy: the index scan stops once the outer LIMIT is met. */
#define S_SQL_WALK(user_cond)                                                           \
    "SELECT w.rn, w.ts, w.anomaly_id, CASE WHEN w.m THEN w.record END FROM ("           \
    "SELECT s.*, row_number() OVER o AS rn, lag(s.m) OVER o AS pm FROM ("               \
    "SELECT a.ts, a.anomaly_id, a.record, "                                             \
    "($4 < 0 OR a.severity >= $4) AND ($5 < 0 OR a.decision = $5) "                     \
    "AND ($6::text IS NULL OR $6::text = ANY (a.detectors)) "                           \
    "AND ($7::text IS NULL OR $7::text = ANY (a.rules)) AS m "                          \
    "FROM anomalies a WHERE a.ts >= $1 AND a.ts <= $2 AND (a.ts, a.anomaly_id) < ($2, " \
    "$3)" user_cond " ORDER BY a.ts DESC, a.anomaly_id DESC LIMIT $8) s "               \
    "WINDOW o AS (ORDER BY s.ts DESC, s.anomaly_id DESC)) w "                           \
    "WHERE w.m OR w.pm OR w.rn >= $9 LIMIT $10"
#define S_SQL_WALK_ALL  S_SQL_WALK("")
#define S_SQL_WALK_USER S_SQL_WALK(" AND a.user_id = $11")

#define S_SQL_GET "SELECT record FROM anomalies WHERE anomaly_id = $1 ORDER BY ts DESC LIMIT 1"

/* Minute counters summed per bucket: $1 first minute, $2 minutes per
 * bucket, $3 end minute (exclusive). */
#define S_SQL_STATS                                                                            \
    "SELECT (minute - $1) / $2, sum(total)::int8, sum(sev_low)::int8, sum(sev_medium)::int8, " \
    "sum(sev_high)::int8, sum(sev_critical)::int8, sum(dec_allow)::int8, "                     \
    "sum(dec_review)::int8, sum(dec_block)::int8 FROM anomaly_minutes "                        \
    "WHERE minute >= $1 AND minute < $3 GROUP BY 1 ORDER BY 1"

#define S_SQL_PARTS                                                              \
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid " \
    "WHERE i.inhparent = 'anomalies'::regclass"

typedef struct {
    const char *name, *sql;
    int n;
    Oid types[S_MAX_PARAMS];
} s_stmt_t;

enum { S_ST_INSERT, S_ST_MINUTES, S_ST_WALK_ALL, S_ST_WALK_USER, S_ST_GET, S_ST_STATS, S_NSTMT };

#define S_MINUTE_TYPES                                                                  \
    S_INT8_ARRAY, S_INT8_ARRAY, S_INT8_ARRAY, S_INT8_ARRAY, S_INT8_ARRAY, S_INT8_ARRAY, \
        S_INT8_ARRAY, S_INT8_ARRAY, S_INT8_ARRAY
#define S_WALK_TYPES S_TSTZ, S_TSTZ, S_BYTEA, S_INT4, S_INT4, S_TEXT, S_TEXT, S_INT8, S_INT8, S_INT8
static const s_stmt_t s_stmts[S_NSTMT] = {
    [S_ST_INSERT] = {"vg_insert", S_SQL_INSERT, 0, {0}},
    [S_ST_MINUTES] = {"vg_minutes", S_SQL_MINUTES, S_MINUTE_COLS, {S_MINUTE_TYPES}},
    [S_ST_WALK_ALL] = {"vg_walk_all", S_SQL_WALK_ALL, 10, {S_WALK_TYPES}},
    [S_ST_WALK_USER] = {"vg_walk_user", S_SQL_WALK_USER, 11, {S_WALK_TYPES, S_BYTEA}},
    [S_ST_GET] = {"vg_get", S_SQL_GET, 1, {S_BYTEA}},
    [S_ST_STATS] = {"vg_stats", S_SQL_STATS, 3, {S_INT8, S_INT8, S_INT8}},
};

/* ---- types ---------------------------------------------------------------- */

typedef struct {
    PGconn *conn;         /* NULL while down */
    bool busy;            /* taken by a call */
    bool ever;            /* connected once: a later connect is a reconnect */
    uint64_t retry_at_ns; /* no connect attempt before this */
    uint32_t backoff_ms;
} s_conn_t;

struct vg_pg {
    char *dsn;
    int pool_size, timeout_ms, retention_days, ahead_days, connect_wait_ms;
    uint32_t max_scan;
    bool async_commit, no_json;
    bool hypertable; /* TimescaleDB manages the chunks */

    pthread_mutex_t mu; /* pool */
    pthread_cond_t cv;
    s_conn_t *conns;
    int in_use;

    pthread_mutex_t part_mu; /* days whose partition is known to exist, ascending */
    int64_t *days;
    size_t n_days, cap_days;

    atomic_bool healthy;
    vg_counter_t inserted, conflicts, errors, reconnects, batches, fallbacks, migrations;
    vg_counter_t parts_created, parts_dropped;
    vg_hist_t query_lat, insert_lat;
};

/* Binary parameters of one statement. */
typedef struct {
    int n;
    const char *values[S_MAX_PARAMS];
    int lengths[S_MAX_PARAMS], formats[S_MAX_PARAMS];
    uint8_t store[S_MAX_PARAMS][8];
} s_params_t;

/* ---- small helpers ----------------------------------------------------------- */

static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool s_id_ok(vg_str_t id)
{
    return id.ptr && id.len >= 1 && id.len <= VG_TX_ID_MAX;
}

static uint64_t s_get_be(const char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | (uint8_t) p[i];
    return v;
}

static void s_p_int(s_params_t *p, int64_t v, int bytes)
{
    int i = p->n++;
    for (int k = 0; k < bytes; k++)
        p->store[i][k] = (uint8_t) ((uint64_t) v >> (8 * (bytes - 1 - k)));
    p->values[i] = (const char *) p->store[i];
    p->lengths[i] = bytes;
    p->formats[i] = 1;
}

static void s_p_bytes(s_params_t *p, const void *ptr, size_t len)
{
    int i = p->n++;
    p->values[i] = ptr ? ptr : "";
    p->lengths[i] = (int) len;
    p->formats[i] = 1;
}

static void s_p_null(s_params_t *p)
{
    int i = p->n++;
    p->values[i] = NULL;
    p->lengths[i] = 0;
    p->formats[i] = 1;
}

/* A binary int8 / timestamptz column value of row r. */
static int64_t s_col64(const PGresult *res, int r, int c)
{
    return PQgetlength(res, r, c) == 8 ? (int64_t) s_get_be(PQgetvalue(res, r, c), 8) : 0;
}

static void s_notice(void *arg, const char *message)
{
    (void) arg;
    vg_debug(S_MOD, "server: %.*s", (int) strcspn(message, "\n"), message);
}

/* ---- the libpq -> vg_err border ------------------------------------------------ */

static void s_mark_down(vg_pg_t *pg, const char *why)
{
    if (atomic_exchange(&pg->healthy, false))
        vg_warn(S_MOD, "server unreachable: %s", why);
    else
        vg_debug(S_MOD, "server unreachable: %s", why);
}

/* Closes c's connection; the next use reconnects (at once, then with
 * backoff if that fails). */
static void s_disconnect(s_conn_t *c)
{
    if (c->conn) PQfinish(c->conn);
    c->conn = NULL;
}

/* Converts a failed result (res may be NULL; it is cleared) into a vg_err,
 * logging the original: connection-level failures are UNREACHABLE (the
 * connection is dropped), a statement timeout TIMEOUT, the rest STORAGE. */
static int s_fail(vg_pg_t *pg, s_conn_t *c, PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : "";
    if (!msg[0]) msg = PQerrorMessage(c->conn);
    char line[512];
    snprintf(line, sizeof line, "%s: %.*s", what, (int) strcspn(msg, "\n"), msg);
    int e = VG_ERR_STORAGE;
    if (PQstatus(c->conn) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P0", 4) == 0)
        e = VG_ERR_UNREACHABLE;
    else if (strcmp(state, "57014") == 0)
        e = VG_ERR_TIMEOUT;
    vg_counter_add(&pg->errors, 1);
    if (e == VG_ERR_UNREACHABLE) {
        s_mark_down(pg, line);
        s_disconnect(c);
    } else {
        vg_error(S_MOD, "%s (sqlstate %s -> %s)", line, state, vg_errname(e));
    }
    PQclear(res);
    return e;
}

/* Runs sql (no parameters, one or more statements); 0 or a vg_err. */
static int s_exec(vg_pg_t *pg, s_conn_t *c, const char *sql, const char *what)
{
    PGresult *res = PQexec(c->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return s_fail(pg, c, res, what);
    PQclear(res);
    return 0;
}

/* Runs a prepared statement; *out holds the rows (binary) on success. */
static int s_run(vg_pg_t *pg, s_conn_t *c, int st, const s_params_t *p, PGresult **out)
{
    PGresult *res = PQexecPrepared(c->conn, s_stmts[st].name, p ? p->n : 0, p ? p->values : NULL,
                                   p ? p->lengths : NULL, p ? p->formats : NULL, 1);
    ExecStatusType rs = PQresultStatus(res);
    if (rs != PGRES_TUPLES_OK && rs != PGRES_COMMAND_OK)
        return s_fail(pg, c, res, s_stmts[st].name);
    *out = res;
    return 0;
}

/* ---- connections and the pool ----------------------------------------------------- */

/* Per-connection session: settings, the staging table, prepared statements. */
static int s_setup(vg_pg_t *pg, s_conn_t *c)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SET statement_timeout = %d; SET TimeZone = 'UTC'; SET synchronous_commit = %s; "
             "SET temp_buffers = '128MB'; "
             "CREATE TEMP TABLE IF NOT EXISTS vg_staging (" VG__PG_STAGING_DEF
             ") WITH (toast_tuple_target = 8160) ON COMMIT DELETE ROWS",
             pg->timeout_ms, pg->async_commit ? "off" : "on");
    int rc = s_exec(pg, c, sql, "session setup");
    for (int i = 0; !rc && i < S_NSTMT; i++) {
        const s_stmt_t *s = &s_stmts[i];
        PGresult *res = PQprepare(c->conn, s->name, s->sql, s->n, s->types);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = s_fail(pg, c, res, s->name);
        else
            PQclear(res);
    }
    return rc;
}

static PGconn *s_dial(const char *dsn)
{
    /* expand_dbname: the DSN's own keywords override the defaults before it */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"5", "vigil", dsn, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn) PQsetNoticeProcessor(conn, s_notice, NULL);
    return conn;
}

/* Connects c (and sets its session up); on failure schedules the next
 * attempt with exponential backoff. */
static int s_connect(vg_pg_t *pg, s_conn_t *c)
{
    c->conn = s_dial(pg->dsn);
    int rc = 0;
    if (PQstatus(c->conn) != CONNECTION_OK) {
        char why[300];
        const char *m = PQerrorMessage(c->conn);
        snprintf(why, sizeof why, "connect: %.*s", (int) strcspn(m, "\n"), m);
        s_mark_down(pg, why);
        s_disconnect(c);
        rc = VG_ERR_UNREACHABLE;
    } else {
        rc = s_setup(pg, c);
    }
    if (rc) {
        s_disconnect(c);
        c->backoff_ms =
            c->backoff_ms ? VG_MIN(2 * c->backoff_ms, S_BACKOFF_MAX_MS) : S_BACKOFF_MIN_MS;
        c->retry_at_ns = vg_now_ns() + (uint64_t) c->backoff_ms * 1000000u;
        return rc;
    }
    if (c->ever) vg_counter_add(&pg->reconnects, 1);
    if (!atomic_exchange(&pg->healthy, true) && c->ever) vg_info(S_MOD, "server reachable again");
    c->ever = true;
    c->backoff_ms = 0;
    return 0;
}

/* Gives c back, rolled back to idle (or dropped if that fails). */
static void s_release(vg_pg_t *pg, s_conn_t *c)
{
    if (c->conn && PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
        PGresult *res = PQexec(c->conn, "ROLLBACK");
        PQclear(res);
        if (PQtransactionStatus(c->conn) != PQTRANS_IDLE) s_disconnect(c);
    }
    pthread_mutex_lock(&pg->mu);
    c->busy = false;
    pg->in_use--;
    pthread_cond_signal(&pg->cv);
    pthread_mutex_unlock(&pg->mu);
}

/* Takes a connection: an idle live one, else an idle one due for a
 * (re)connect; waits while the others are busy (a busy one comes back
 * soon). UNREACHABLE when none is busy and every idle one is backing off,
 * or when the connect fails. */
static int s_acquire(vg_pg_t *pg, s_conn_t **out)
{
    s_conn_t *c = NULL;
    pthread_mutex_lock(&pg->mu);
    for (;;) {
        s_conn_t *due = NULL;
        bool idle = false;
        uint64_t now = vg_now_ns();
        for (int i = 0; i < pg->pool_size && !c; i++) {
            s_conn_t *x = &pg->conns[i];
            if (x->busy) continue;
            idle = true;
            if (x->conn && PQstatus(x->conn) == CONNECTION_OK)
                c = x;
            else if (!due && now >= x->retry_at_ns)
                due = x;
        }
        if (!c) c = due;
        if (c || pg->in_use == 0) break;
        if (idle) { /* the idle ones back off: wait a little for a busy one */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += S_WAIT_NS;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&pg->cv, &pg->mu, &ts);
        } else {
            pthread_cond_wait(&pg->cv, &pg->mu);
        }
    }
    if (c) {
        c->busy = true;
        pg->in_use++;
    }
    pthread_mutex_unlock(&pg->mu);
    if (!c) return VG_ERR_UNREACHABLE;
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
        s_disconnect(c);
        int rc = s_connect(pg, c);
        if (rc) {
            s_release(pg, c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

/* A read statement on a pooled connection, timed into the query
 * histogram; *res holds its rows on success. */
static int s_read(vg_pg_t *pg, int st, const s_params_t *p, PGresult **res)
{
    s_conn_t *c;
    uint64_t t0 = vg_now_ns();
    int rc = s_acquire(pg, &c);
    if (!rc) {
        rc = s_run(pg, c, st, p, res);
        s_release(pg, c);
    }
    vg_hist_observe_ns(&pg->query_lat, vg_now_ns() - t0);
    return rc;
}

/* ---- migrations ---------------------------------------------------------------------- */

static int s_migrate_one(vg_pg_t *pg, s_conn_t *c, const vg__pg_migration_t *m)
{
    int rc = s_exec(pg, c, "BEGIN", "migration");
    if (!rc) rc = s_exec(pg, c, m->sql, m->name);
    if (!rc) {
        s_params_t p = {0};
        s_p_int(&p, m->version, 4);
        s_p_bytes(&p, m->name, strlen(m->name));
        Oid types[2] = {S_INT4, S_TEXT};
        PGresult *res =
            PQexecParams(c->conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                         2, types, p.values, p.lengths, p.formats, 0);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK ? (PQclear(res), 0)
                                                     : s_fail(pg, c, res, "schema_migrations");
    }
    if (!rc) rc = s_exec(pg, c, "COMMIT", "migration commit");
    if (!rc) {
        vg_counter_add(&pg->migrations, 1);
        vg_info(S_MOD, "migration %s applied", m->name);
    }
    return rc;
}

/* Applies the embedded migrations the database lacks, holding the
 * migration advisory lock (a concurrent opener waits, then finds them
 * applied). */
static int s_migrate(vg_pg_t *pg, s_conn_t *c)
{
    int rc = s_exec(pg, c, "SET statement_timeout = 0", "migrate");
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", S_LOCK_MIGRATE);
    if (!rc) rc = s_exec(pg, c, sql, "migration lock");
    if (rc) return rc;
    rc = s_exec(pg, c,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                "schema_migrations");
    PGresult *res = rc ? NULL : PQexec(c->conn, "SELECT max(version) FROM schema_migrations");
    int have = 0;
    if (!rc && PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = s_fail(pg, c, res, "schema_migrations"), res = NULL;
    if (!rc && !PQgetisnull(res, 0, 0)) have = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    for (size_t i = 0; !rc && i < vg__pg_n_migrations; i++) {
        const vg__pg_migration_t *m = &vg__pg_migrations[i];
        VG_ASSERT(i == 0 || m->version > vg__pg_migrations[i - 1].version);
        if (m->version > have && (rc = s_migrate_one(pg, c, m)))
            vg_error(S_MOD, "migration %s failed", m->name);
    }
    if (!rc && vg__pg_n_migrations && have > vg__pg_migrations[vg__pg_n_migrations - 1].version)
        vg_warn(S_MOD, "schema version %d is newer than this binary's %d", have,
                vg__pg_migrations[vg__pg_n_migrations - 1].version);
    if (c->conn) { /* the lock is the session's: release it even after a failure */
        PGresult *r = PQexec(c->conn, "ROLLBACK");
        PQclear(r);
        snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)", S_LOCK_MIGRATE);
        r = PQexec(c->conn, sql);
        PQclear(r);
    }
    return rc;
}

/* ---- partitions ------------------------------------------------------------------------ */

static bool s_day_known(vg_pg_t *pg, int64_t day)
{
    size_t lo = 0, hi = pg->n_days;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pg->days[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < pg->n_days && pg->days[lo] == day;
}

static int s_day_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

/* Sorts days and drops duplicates; returns the new count. */
static size_t s_days_unique(int64_t *days, size_t n)
{
    size_t k = 0;
    if (n > 1) qsort(days, n, sizeof *days, s_day_cmp);
    for (size_t i = 0; i < n; i++)
        if (!k || days[k - 1] != days[i]) days[k++] = days[i];
    return k;
}

/* Replaces the cache with the partitions the catalog lists (ours only). */
static int s_parts_load(vg_pg_t *pg, s_conn_t *c)
{
    PGresult *res = PQexec(c->conn, S_SQL_PARTS);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) return s_fail(pg, c, res, "list partitions");
    int n = PQntuples(res);
    pthread_mutex_lock(&pg->part_mu);
    if ((size_t) n > pg->cap_days) {
        pg->cap_days = (size_t) n + 64;
        pg->days = vg_realloc(pg->days, pg->cap_days * sizeof *pg->days);
    }
    pg->n_days = 0;
    for (int i = 0; i < n; i++)
        if (vg__pg_part_day(PQgetvalue(res, i, 0), &pg->days[pg->n_days])) pg->n_days++;
    pg->n_days = s_days_unique(pg->days, pg->n_days);
    pthread_mutex_unlock(&pg->part_mu);
    PQclear(res);
    return 0;
}

/* Appends one DDL statement for day to sql (a growing string). */
static void s_ddl(vg_mpw_t *sql, bool create, int64_t day)
{
    char name[VG__PG_PART_NAME_MAX], line[256];
    vg__pg_part_name(day, name);
    long long from = (long long) (day * (VG__PG_DAY_MS / 1000));
    if (create)
        snprintf(line, sizeof line,
                 "CREATE TABLE IF NOT EXISTS %s PARTITION OF anomalies FOR VALUES FROM "
                 "(to_timestamp(%lld)) TO (to_timestamp(%lld));",
                 name, from, from + VG__PG_DAY_MS / 1000);
    else
        snprintf(line, sizeof line, "DROP TABLE IF EXISTS %s;", name);
    vg_mpw_raw(sql, line, strlen(line));
}

/* Runs DDL for days (create or drop) in one transaction under the
 * partition advisory lock; extra (may be NULL) is appended before COMMIT. */
static int s_parts_ddl(vg_pg_t *pg, s_conn_t *c, const int64_t *days, size_t n, bool create,
                       const char *extra)
{
    vg_mpw_t sql;
    char head[96];
    vg_mpw_init(&sql);
    snprintf(head, sizeof head, "BEGIN; SELECT pg_advisory_xact_lock(%lld);", S_LOCK_PARTS);
    vg_mpw_raw(&sql, head, strlen(head));
    for (size_t i = 0; i < n; i++) s_ddl(&sql, create, days[i]);
    if (extra) vg_mpw_raw(&sql, extra, strlen(extra));
    vg_mpw_raw(&sql, "COMMIT;", 8); /* with the NUL */
    int rc = sql.err ? sql.err : s_exec(pg, c, (const char *) sql.buf, "partition DDL");
    vg_mpw_fini(&sql);
    if (!rc) {
        vg_counter_add(create ? &pg->parts_created : &pg->parts_dropped, n);
        if (n) vg_info(S_MOD, "%s %zu partition(s)", create ? "created" : "dropped", n);
    }
    return rc;
}

/* Makes sure a partition exists for each of days (sorted, unique). */
static int s_parts_ensure(vg_pg_t *pg, s_conn_t *c, const int64_t *days, size_t n)
{
    if (pg->hypertable || !n) return 0;
    int64_t *missing = vg_malloc(n * sizeof *missing);
    size_t k = 0;
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        k = 0;
        pthread_mutex_lock(&pg->part_mu);
        for (size_t i = 0; i < n; i++)
            if (!s_day_known(pg, days[i])) missing[k++] = days[i];
        pthread_mutex_unlock(&pg->part_mu);
        if (!k) break;
        if (pass == 0) rc = s_parts_load(pg, c); /* another process may have made them */
    }
    if (!rc && k) rc = s_parts_ddl(pg, c, missing, k, true, NULL);
    if (!rc && k) rc = s_parts_load(pg, c);
    vg_free(missing);
    return rc;
}

static int64_t s_today(void)
{
    return s_floor_div(vg_wall_ms(), VG__PG_DAY_MS);
}

/* Partitions from yesterday to today + ahead. */
static int s_parts_ahead(vg_pg_t *pg, s_conn_t *c)
{
    int64_t today = s_today(), days[400];
    size_t n = 0;
    for (int64_t d = today - 1; d <= today + pg->ahead_days && n < VG_ARRAY_LEN(days); d++)
        days[n++] = d;
    return s_parts_ensure(pg, c, days, n);
}

/* ---- open / close ----------------------------------------------------------------------- */

static int s_detect_mode(vg_pg_t *pg, s_conn_t *c)
{
    PGresult *res =
        PQexec(c->conn, "SELECT relkind FROM pg_class WHERE oid = 'anomalies'::regclass");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) return s_fail(pg, c, res, "anomalies table");
    pg->hypertable = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] != 'p';
    PQclear(res);
    if (pg->hypertable) vg_info(S_MOD, "anomalies is a TimescaleDB hypertable");
    return 0;
}

static int s_config(vg_pg_t *pg, const vg_pg_config_t *cfg)
{
    if (!cfg || !cfg->dsn || cfg->pool_size < 0 || cfg->statement_timeout_ms < 0 ||
        cfg->retention_days < 0 || cfg->partitions_ahead_days < 0 ||
        cfg->partitions_ahead_days > 365 || cfg->connect_wait_ms < 0)
        return VG_ERR_INVALID;
    pg->dsn = vg_strdup(cfg->dsn);
    pg->pool_size = cfg->pool_size ? cfg->pool_size : S_POOL_DEFAULT;
    pg->timeout_ms = cfg->statement_timeout_ms ? cfg->statement_timeout_ms : S_TIMEOUT_MS;
    pg->retention_days = cfg->retention_days;
    pg->ahead_days = cfg->partitions_ahead_days ? cfg->partitions_ahead_days : S_AHEAD_DAYS;
    pg->connect_wait_ms = cfg->connect_wait_ms ? cfg->connect_wait_ms : S_CONNECT_WAIT;
    pg->max_scan = cfg->max_scan ? cfg->max_scan : S_SCAN_DEFAULT;
    pg->async_commit = cfg->async_commit;
    pg->no_json = cfg->no_json;
    return 0;
}

/* The first connection, retried with backoff until connect_wait_ms. */
static int s_first_connect(vg_pg_t *pg, s_conn_t *c)
{
    uint64_t deadline = vg_now_ns() + (uint64_t) pg->connect_wait_ms * 1000000u;
    uint32_t wait_ms = S_BACKOFF_MIN_MS;
    for (;;) {
        c->conn = s_dial(pg->dsn);
        if (PQstatus(c->conn) == CONNECTION_OK) return 0;
        uint64_t now = vg_now_ns();
        if (now >= deadline) return VG_ERR_UNREACHABLE; /* c->conn keeps the message */
        PQfinish(c->conn);
        c->conn = NULL;
        uint64_t left_ms = (deadline - now) / 1000000u;
        struct timespec ts = {0, 0};
        uint64_t ms = VG_MIN((uint64_t) wait_ms, left_ms + 1);
        ts.tv_sec = (time_t) (ms / 1000);
        ts.tv_nsec = (long) (ms % 1000) * 1000000L;
        nanosleep(&ts, NULL);
        wait_ms = VG_MIN(wait_ms * 2, 1000u);
    }
}

int vg_pg_open(const vg_pg_config_t *cfg, vg_pg_t **out, char *errbuf, size_t errlen)
{
    VG_ASSERT(out);
    *out = NULL;
    vg_pg_t *pg = VG_NEW(vg_pg_t);
    if (s_config(pg, cfg)) {
        vg_free(pg);
        return vg_errf(errbuf, errlen, VG_ERR_INVALID, "pg: no DSN or a setting out of range");
    }
    pthread_mutex_init(&pg->mu, NULL);
    pthread_cond_init(&pg->cv, NULL);
    pthread_mutex_init(&pg->part_mu, NULL);
    pg->conns = vg_calloc((size_t) pg->pool_size, sizeof *pg->conns);
    vg_hist_init(&pg->query_lat, vg_hist_latency_bounds, vg_hist_latency_n);
    vg_hist_init(&pg->insert_lat, vg_hist_latency_bounds, vg_hist_latency_n);
    atomic_store(&pg->healthy, true);
    s_conn_t *c = &pg->conns[0];
    const char *stage = "migrations";
    int rc = s_first_connect(pg, c);
    if (rc) {
        const char *m = PQerrorMessage(c->conn);
        vg_errf(errbuf, errlen, rc, "pg: cannot connect within %d ms: %.*s", pg->connect_wait_ms,
                (int) strcspn(m, "\n"), m);
        vg_error(S_MOD, "cannot connect within %d ms: %.*s", pg->connect_wait_ms,
                 (int) strcspn(m, "\n"), m);
        vg_pg_close(&pg);
        return rc;
    }
    rc = s_migrate(pg, c);
    if (!rc) stage = "session setup", rc = s_detect_mode(pg, c);
    if (!rc) rc = s_setup(pg, c);
    if (!rc) stage = "partitions", rc = s_parts_ahead(pg, c);
    if (rc) {
        vg_errf(errbuf, errlen, rc, "pg: %s failed: %s (see the log)", stage, vg_strerror(rc));
        vg_pg_close(&pg);
        return rc == VG_ERR_UNREACHABLE ? rc : VG_ERR_STORAGE;
    }
    c->ever = true;
    *out = pg;
    return 0;
}

void vg_pg_close(vg_pg_t **pg_p)
{
    vg_pg_t *pg = pg_p ? *pg_p : NULL;
    if (!pg) return;
    VG_ASSERT(pg->in_use == 0);
    for (int i = 0; i < pg->pool_size; i++) s_disconnect(&pg->conns[i]);
    vg_free(pg->conns);
    vg_free(pg->days);
    vg_free(pg->dsn);
    pthread_mutex_destroy(&pg->mu);
    pthread_cond_destroy(&pg->cv);
    pthread_mutex_destroy(&pg->part_mu);
    vg_free(pg);
    *pg_p = NULL;
}

/* ---- insert --------------------------------------------------------------------------------- */

/* A batch being inserted: its records (all valid: s_scan_batch), the days
 * of its rows, its per-minute counters as the fast path's parameters, and
 * the scratch space of s_copy_rows, which encodes rows as it sends them. */
typedef struct {
    const vg_str_t *records;
    size_t n;
    bool json;        /* fill the JSON columns */
    int64_t *days;    /* sorted, unique */
    size_t n_days;    /* of days */
    vg_mpw_t minutes; /* S_MINUTE_COLS int8[] values, back to back */
    s_params_t mp;    /* S_ST_MINUTES's parameters: into minutes */
    vg_anomaly_rec_t *rec;
    vg__pg_rowbuf_t rowbuf;
    vg_mpw_t chunk; /* COPY data not sent yet */
} s_batch_t;

/* One row's counter key. */
typedef struct {
    int64_t minute;
    uint8_t severity, decision;
} s_tick_t;

static int s_tick_cmp(const void *a, const void *b)
{
    int64_t x = ((const s_tick_t *) a)->minute, y = ((const s_tick_t *) b)->minute;
    return (x > y) - (x < y);
}

/* The counters of n rows (ticks; sorted here) as S_ST_MINUTES's
 * parameters: per minute, ascending, total, severities, decisions. */
static void s_minutes(s_tick_t *ticks, size_t n, s_batch_t *b)
{
    size_t sorted = 1;
    while (sorted < n && ticks[sorted - 1].minute <= ticks[sorted].minute) sorted++;
    if (sorted < n) qsort(ticks, n, sizeof *ticks, s_tick_cmp);
    int64_t *col = vg_calloc(n * S_MINUTE_COLS, sizeof *col); /* col[c * n + minute index] */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!k || col[k - 1] != ticks[i].minute) col[k++] = ticks[i].minute;
        col[1 * n + k - 1]++;
        col[(2 + ticks[i].severity) * n + k - 1]++;
        col[(6 + ticks[i].decision) * n + k - 1]++;
    }
    size_t at[S_MINUTE_COLS];
    for (int c = 0; c < S_MINUTE_COLS; c++) {
        at[c] = b->minutes.len;
        vg__pg_int8_array(&b->minutes, col + (size_t) c * n, k);
    }
    for (int c = 0; c < S_MINUTE_COLS && !b->minutes.err; c++) {
        size_t end = c + 1 < S_MINUTE_COLS ? at[c + 1] : b->minutes.len;
        s_p_bytes(&b->mp, b->minutes.buf + at[c], end - at[c]);
    }
    vg_free(col);
}

/* Validates every record (nothing is sent before all of them decode) and
 * computes the batch's days and counters; 0, or -1 with *bad = the index
 * of the first record that does not decode. */
static int s_scan_batch(s_batch_t *b, size_t *bad)
{
    s_tick_t *ticks = vg_malloc(b->n * sizeof *ticks);
    for (size_t i = 0; i < b->n; i++) {
        vg_perr_t perr;
        vg_perr_clear(&perr);
        if (vg_anomaly_decode(b->records[i].ptr, b->records[i].len, b->rec, &perr)) {
            char msg[300];
            vg_warn(S_MOD, "insert: record %zu refused, nothing written: %s", i,
                    vg_perr_str(&perr, msg, sizeof msg));
            *bad = i;
            vg_free(ticks);
            return -1;
        }
        const vg_anomaly_rec_t *r = b->rec;
        VG_ASSERT(r->severity <= VG_SEV_CRITICAL && r->decision <= VG_DECISION_BLOCK);
        b->days[i] = s_floor_div(r->ts_ms, VG__PG_DAY_MS);
        ticks[i] = (s_tick_t){s_floor_div(r->ts_ms, S_MINUTE_MS), r->severity, r->decision};
    }
    b->n_days = s_days_unique(b->days, b->n);
    s_minutes(ticks, b->n, b);
    vg_free(ticks);
    return 0;
}

/* Encodes the batch's rows into COPY data and sends it a chunk at a time,
 * so that the server works on one chunk while the next is encoded (the
 * records are decoded again: cheaper than keeping them decoded): 1, or
 * what PQputCopyData / PQputCopyEnd returned. */
static int s_copy_rows(s_conn_t *c, s_batch_t *b)
{
    int ok = 1;
    vg_mpw_reset(&b->chunk);
    vg__pg_copy_begin(&b->chunk);
    for (size_t i = 0; ok == 1 && i < b->n; i++) {
        int bad = vg_anomaly_decode(b->records[i].ptr, b->records[i].len, b->rec, NULL);
        VG_ASSERT(!bad); /* s_scan_batch decoded it */
        vg__pg_copy_row(&b->chunk, b->rec, b->records[i], b->json ? &b->rowbuf : NULL);
        if (i + 1 == b->n) vg__pg_copy_end(&b->chunk);
        VG_ASSERT(!b->chunk.err); /* a growing writer */
        if (b->chunk.len >= S_COPY_CHUNK || i + 1 == b->n) {
            ok = PQputCopyData(c->conn, (const char *) b->chunk.buf, (int) b->chunk.len);
            vg_mpw_reset(&b->chunk);
        }
    }
    return ok == 1 ? PQputCopyEnd(c->conn, NULL) : ok;
}

/* Why an insert attempt is rolled back and tried again rather than failed. */
enum {
    S_RETRY_DUP = 1,  /* 23505 / 40P01 on the fast path: a row is stored already */
    S_RETRY_PART = 2, /* 23514: no partition for a row (dropped meanwhile?) */
};

/* A failed insert statement: VG_ERR_EXISTS (S_RETRY_DUP) or
 * VG_ERR_NOT_FOUND (S_RETRY_PART) when retry allows its SQLSTATE (res is
 * cleared, nothing logged), else s_fail. */
static int s_insert_fail(vg_pg_t *pg, s_conn_t *c, PGresult *res, unsigned retry, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    int rc = 0;
    if (state && (retry & S_RETRY_DUP) &&
        (strcmp(state, "23505") == 0 || strcmp(state, "40P01") == 0))
        rc = VG_ERR_EXISTS;
    else if (state && (retry & S_RETRY_PART) && strcmp(state, "23514") == 0)
        rc = VG_ERR_NOT_FOUND;
    if (!rc) return s_fail(pg, c, res, what);
    vg_debug(S_MOD, "%s: sqlstate %s, retrying the batch", what, state);
    PQclear(res);
    return rc;
}

/* The batch's rows through sql (COPY anomalies or vg_staging ... FROM
 * STDIN BINARY); *rows = rows copied. */
static int s_copy(vg_pg_t *pg, s_conn_t *c, const char *sql, s_batch_t *b, unsigned retry,
                  size_t *rows)
{
    PGresult *res = PQexec(c->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) return s_fail(pg, c, res, "copy");
    PQclear(res);
    int ok = s_copy_rows(c, b);
    res = PQgetResult(c->conn);
    for (PGresult *more; (more = PQgetResult(c->conn));) PQclear(more);
    if (ok != 1) return s_fail(pg, c, res, "copy");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) return s_insert_fail(pg, c, res, retry, "copy");
    *rows = (size_t) strtoull(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return 0;
}

/* The fast path: COPY straight into anomalies (the server routes each row
 * to its partition and writes them in multi-row batches), then the batch's
 * counters. Any row already stored fails the COPY (VG_ERR_EXISTS). */
static int s_insert_direct(vg_pg_t *pg, s_conn_t *c, s_batch_t *b, unsigned retry, size_t *inserted)
{
    int rc = s_copy(pg, c, "COPY anomalies (" VG__PG_STAGING_COLS ") FROM STDIN BINARY", b, retry,
                    inserted);
    PGresult *res = NULL;
    if (!rc) rc = s_run(pg, c, S_ST_MINUTES, &b->mp, &res);
    PQclear(res);
    return rc;
}

/* The fallback: COPY into the staging table, then INSERT ... ON CONFLICT
 * DO NOTHING, counting only the rows inserted. */
static int s_insert_staged(vg_pg_t *pg, s_conn_t *c, s_batch_t *b, unsigned retry, size_t *inserted)
{
    size_t staged;
    int rc =
        s_copy(pg, c, "COPY vg_staging (" VG__PG_STAGING_COLS ") FROM STDIN BINARY", b, 0, &staged);
    if (rc) return rc;
    PGresult *res = PQexecPrepared(c->conn, s_stmts[S_ST_INSERT].name, 0, NULL, NULL, NULL, 1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return s_insert_fail(pg, c, res, retry & S_RETRY_PART, "insert");
    *inserted = (size_t) s_col64(res, 0, 0);
    PQclear(res);
    return 0;
}

/* One transaction of the batch: partitions first, then the fast path or,
 * with staged, the fallback. VG_ERR_EXISTS / NOT_FOUND (as retry allows,
 * s_insert_fail): rolled back, to be retried. */
static int s_insert_once(vg_pg_t *pg, s_conn_t *c, s_batch_t *b, bool staged, unsigned retry,
                         size_t *inserted)
{
    int rc = s_parts_ensure(pg, c, b->days, b->n_days);
    if (!rc) rc = s_exec(pg, c, "BEGIN", "insert");
    if (!rc && staged) rc = s_insert_staged(pg, c, b, retry, inserted);
    if (!rc && !staged) rc = s_insert_direct(pg, c, b, retry, inserted);
    if (!rc) rc = s_exec(pg, c, "COMMIT", "insert commit");
    if ((rc == VG_ERR_EXISTS || rc == VG_ERR_NOT_FOUND) && c->conn)
        PQclear(PQexec(c->conn, "ROLLBACK"));
    return rc;
}

/* The batch on c: the fast path, redone through the staging table when a
 * row is stored already, and once more after reloading the partitions when
 * a row found none (at most once each: then it is an error). */
static int s_insert_batch(vg_pg_t *pg, s_conn_t *c, s_batch_t *b, size_t *inserted)
{
    bool staged = false, reloaded = false;
    for (;;) {
        unsigned retry = (staged ? 0 : S_RETRY_DUP) | (reloaded ? 0 : S_RETRY_PART);
        int rc = s_insert_once(pg, c, b, staged, retry, inserted);
        if (rc == VG_ERR_EXISTS) {
            staged = true;
            vg_counter_add(&pg->fallbacks, 1);
        } else if (rc == VG_ERR_NOT_FOUND) {
            reloaded = true;
            if ((rc = s_parts_load(pg, c))) return rc; /* the catalog changed under us */
        } else {
            return rc;
        }
    }
}

int vg_pg_insert(vg_pg_t *pg, const vg_str_t *records, size_t n, size_t *inserted)
{
    VG_ASSERT(pg && (records || !n));
    size_t ins = 0, bad = 0;
    if (inserted) *inserted = 0;
    if (!n) return 0;
    uint64_t t0 = vg_now_ns();
    s_batch_t b = {.records = records,
                   .n = n,
                   .json = !pg->no_json,
                   .days = vg_malloc(n * sizeof *b.days),
                   .rec = vg_malloc(sizeof *b.rec)};
    vg_mpw_init(&b.minutes);
    vg_mpw_init(&b.chunk);
    vg__pg_rowbuf_init(&b.rowbuf);
    int rc = s_scan_batch(&b, &bad) ? VG_ERR_INVALID : b.minutes.err;
    s_conn_t *c = NULL;
    if (!rc) rc = s_acquire(pg, &c);
    if (!rc) rc = s_insert_batch(pg, c, &b, &ins);
    if (c) s_release(pg, c);
    vg_mpw_fini(&b.minutes);
    vg_mpw_fini(&b.chunk);
    vg__pg_rowbuf_fini(&b.rowbuf);
    vg_free(b.rec);
    vg_free(b.days);
    if (rc == VG_ERR_INVALID && inserted) *inserted = bad;
    if (rc) return rc;
    vg_counter_add(&pg->batches, 1);
    vg_counter_add(&pg->inserted, ins);
    vg_counter_add(&pg->conflicts, n - ins);
    vg_hist_observe_ns(&pg->insert_lat, vg_now_ns() - t0);
    if (inserted) *inserted = ins;
    return 0;
}

/* ---- queries ------------------------------------------------------------------------------------
 */

/* The walk's parameters; false when no record can be in range. */
static bool s_walk_params(vg_pg_t *pg, const vg_anomaly_query_t *q, const uint8_t *cpk,
                          size_t cpk_len, s_params_t *p)
{
    /* exclusive bound = min(cursor pk, (to_ms, "")), like vg_store's walk */
    int64_t bts = VG_TX_TS_MAX + 1;
    const uint8_t *bid = NULL;
    size_t bid_len = 0;
    if (cpk) {
        bts = (int64_t) (s_get_be((const char *) cpk, 8) ^ ((uint64_t) 1 << 63));
        bid = cpk + 8;
        bid_len = cpk_len - 8;
    }
    if (q->to_ms != INT64_MAX && (!cpk || q->to_ms <= bts)) bts = q->to_ms, bid_len = 0;
    if (bts > VG_TX_TS_MAX) bts = VG_TX_TS_MAX + 1, bid_len = 0; /* past every record */
    int64_t from = VG_MAX(q->from_ms, 0);
    if (bts < 0 || from > VG_TX_TS_MAX) return false;
    s_p_int(p, vg__pg_ts_from_ms(from), 8);
    s_p_int(p, vg__pg_ts_from_ms(bts), 8);
    s_p_bytes(p, bid, bid_len);
    s_p_int(p, q->min_severity < 0 ? -1 : VG_MIN(q->min_severity, 1000), 4);
    s_p_int(p, q->decision < 0 ? -1 : VG_MIN(q->decision, 1000), 4);
    return true;
}

/* A text parameter (NULL when absent) as the server stores text
 * (vg__pg_text), its bytes in buf (which must not change afterwards). */
static void s_p_text(s_params_t *p, vg_str_t s, vg_mpw_t *buf)
{
    if (!s.ptr) {
        s_p_null(p);
        return;
    }
    vg__pg_text(buf, s);
    s_p_bytes(p, buf->len ? (const char *) buf->buf : "", buf->len);
}

/* All the walk's parameters; 1 when no record can be in range. The text
 * ones live in tbuf[0..1]. */
static int s_query_params(vg_pg_t *pg, const vg_anomaly_query_t *q, const uint8_t *cpk,
                          size_t cpk_len, s_params_t *p, vg_mpw_t *tbuf)
{
    if (!s_walk_params(pg, q, cpk, cpk_len, p)) return 1;
    s_p_text(p, q->detector, &tbuf[0]);
    s_p_text(p, q->rule, &tbuf[1]);
    s_p_int(p, (int64_t) pg->max_scan + 1, 8);
    s_p_int(p, (int64_t) pg->max_scan, 8);
    s_p_int(p, 2 * (int64_t) q->limit + 2, 8);
    if (q->user_id.ptr) s_p_bytes(p, q->user_id.ptr, q->user_id.len);
    return 0;
}

/* vg_store_anomaly_query's argument checks, in its order: a vg_err, 0, or
 * 1 when nothing can match (no statement is run). */
static int s_query_check(const vg_anomaly_query_t *q, char *next, size_t cap, uint8_t *cpk,
                         size_t *cpk_len)
{
    if (!q || !next || cap < VG_ANOMALY_CURSOR_MAX + 1) return VG_ERR_INVALID;
    next[0] = 0;
    if (q->limit < 1 || q->limit > S_LIMIT_MAX) return VG_ERR_INVALID;
    *cpk_len = 0;
    if (q->cursor.ptr && vg_anomaly_cursor_decode(q->cursor, cpk, cpk_len)) return VG_ERR_INVALID;
    if (q->user_id.ptr && !s_id_ok(q->user_id)) return 1;
    if (q->from_ms >= q->to_ms) return 1;
    return 0;
}

/* Hands the walk's matches to fn and writes the next page's cursor: after
 * the limit-th match if any row follows it, else after row max_scan when
 * row max_scan + 1 exists (the scan cap stopped the walk). */
static int s_walk_rows(vg_pg_t *pg, PGresult *res, const vg_anomaly_query_t *q, vg_anomaly_fn *fn,
                       void *arg, char *next)
{
    int rows = PQntuples(res), last = -1;
    uint32_t returned = 0;
    vg_anomaly_rec_t rec;
    for (int r = 0; r < rows && last < 0; r++) {
        if (s_col64(res, r, 0) > (int64_t) pg->max_scan || PQgetisnull(res, r, 3)) continue;
        vg_perr_t perr;
        vg_perr_clear(&perr);
        if (vg_anomaly_decode(PQgetvalue(res, r, 3), (size_t) PQgetlength(res, r, 3), &rec,
                              &perr)) {
            char msg[300];
            vg_warn(S_MOD, "anomaly query: damaged record skipped: %s",
                    vg_perr_str(&perr, msg, sizeof msg));
            continue;
        }
        int rc = fn(arg, &rec);
        if (rc) return rc;
        if (++returned == q->limit) {
            if (r + 1 == rows) return 0; /* nothing after it */
            last = r;
        }
    }
    for (int r = 0; r < rows && last < 0; r++)
        if (s_col64(res, r, 0) == (int64_t) pg->max_scan + 1) last = r - 1;
    if (last < 0 || PQgetlength(res, last, 2) > VG_TX_ID_MAX) return 0;
    uint8_t pk[VG_ANOMALY_PK_MAX];
    vg_str_t id = {PQgetvalue(res, last, 2), (uint32_t) PQgetlength(res, last, 2)};
    size_t len = vg_anomaly_pk(vg__pg_ts_to_ms(s_col64(res, last, 1)), id, pk);
    if (len > 8) vg_anomaly_cursor_encode(pk, len, next);
    return 0;
}

int vg_pg_anomaly_query(vg_pg_t *pg, const vg_anomaly_query_t *q, vg_anomaly_fn *fn, void *arg,
                        char *next_cursor, size_t cursor_cap)
{
    VG_ASSERT(pg && fn);
    uint8_t cpk[VG_ANOMALY_PK_MAX];
    size_t cpk_len;
    int rc = s_query_check(q, next_cursor, cursor_cap, cpk, &cpk_len);
    if (rc) return rc > 0 ? 0 : rc;
    s_params_t p = {0};
    vg_mpw_t tbuf[2];
    vg_mpw_init(&tbuf[0]);
    vg_mpw_init(&tbuf[1]);
    PGresult *res = NULL;
    if (s_query_params(pg, q, cpk_len ? cpk : NULL, cpk_len, &p, tbuf) == 0) {
        rc = s_read(pg, q->user_id.ptr ? S_ST_WALK_USER : S_ST_WALK_ALL, &p, &res);
    }
    vg_mpw_fini(&tbuf[0]);
    vg_mpw_fini(&tbuf[1]);
    if (!rc && res) rc = s_walk_rows(pg, res, q, fn, arg, next_cursor);
    PQclear(res);
    return rc;
}

int vg_pg_anomaly_get(vg_pg_t *pg, vg_str_t id, vg_anomaly_fn *fn, void *arg)
{
    VG_ASSERT(pg && fn);
    if (!s_id_ok(id)) return VG_ERR_NOT_FOUND;
    s_params_t p = {0};
    s_p_bytes(&p, id.ptr, id.len);
    PGresult *res = NULL;
    int rc = s_read(pg, S_ST_GET, &p, &res);
    if (rc) return rc;
    vg_anomaly_rec_t rec;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    if (PQntuples(res) == 0) {
        rc = VG_ERR_NOT_FOUND;
    } else if (vg_anomaly_decode(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), &rec,
                                 &perr)) {
        char msg[300];
        vg_error(S_MOD, "anomaly %.*s: damaged record: %s", (int) id.len, id.ptr,
                 vg_perr_str(&perr, msg, sizeof msg));
        rc = VG_ERR_STORAGE;
    } else {
        rc = fn(arg, &rec);
    }
    PQclear(res);
    return rc;
}

/* ---- trend buckets ----------------------------------------------------------------------- */

/* Emits the n buckets from the summed rows (bucket index ascending), empty
 * ones included. */
static int s_stats_emit(const PGresult *res, int64_t start_min, int64_t bucket_ms, int64_t n,
                        vg_bucket_fn *fn, void *arg)
{
    int rows = PQntuples(res), r = 0;
    for (int64_t idx = 0; idx < n; idx++) {
        vg_anomaly_bucket_t b;
        memset(&b, 0, sizeof b);
        b.start_ms = start_min * S_MINUTE_MS + idx * bucket_ms;
        while (r < rows && s_col64(res, r, 0) < idx) r++;
        if (r < rows && s_col64(res, r, 0) == idx) {
            b.total = (uint64_t) s_col64(res, r, 1);
            for (int i = 0; i < 4; i++) b.by_severity[i] = (uint64_t) s_col64(res, r, 2 + i);
            for (int i = 0; i < 3; i++) b.by_decision[i] = (uint64_t) s_col64(res, r, 6 + i);
        }
        int rc = fn(arg, &b);
        if (rc) return rc;
    }
    return 0;
}

int vg_pg_anomaly_stats(vg_pg_t *pg, int64_t from_ms, int64_t to_ms, int64_t bucket_ms,
                        vg_bucket_fn *fn, void *arg)
{
    VG_ASSERT(pg && fn);
    if (bucket_ms <= 0 || bucket_ms % S_MINUTE_MS || from_ms >= to_ms) return VG_ERR_INVALID;
    if (from_ms < -S_TIME_ABS_MAX || to_ms > S_TIME_ABS_MAX || bucket_ms > S_TIME_ABS_MAX)
        return VG_ERR_INVALID;
    int64_t per = bucket_ms / S_MINUTE_MS;
    int64_t start_min = s_floor_div(s_floor_div(from_ms, S_MINUTE_MS), per) * per;
    int64_t end_min = s_floor_div(to_ms - 1, S_MINUTE_MS) + 1;
    int64_t n = (end_min - start_min + per - 1) / per;
    if (n > S_BUCKETS_MAX) return VG_ERR_LIMIT;
    s_params_t p = {0};
    s_p_int(&p, start_min, 8);
    s_p_int(&p, per, 8);
    s_p_int(&p, start_min + n * per, 8);
    PGresult *res = NULL;
    int rc = s_read(pg, S_ST_STATS, &p, &res);
    if (!rc) rc = s_stats_emit(res, start_min, bucket_ms, n, fn, arg);
    PQclear(res);
    return rc;
}

/* ---- housekeeping, health, metrics, diagnostics ------------------------------------------- */

static int s_retention(vg_pg_t *pg, s_conn_t *c)
{
    int64_t cutoff = s_today() - pg->retention_days;
    char extra[160];
    snprintf(extra, sizeof extra, "DELETE FROM anomaly_minutes WHERE minute < %lld;",
             (long long) (cutoff * (VG__PG_DAY_MS / S_MINUTE_MS)));
    if (pg->hypertable) {
        char sql[384];
        snprintf(sql, sizeof sql,
                 "BEGIN; SELECT drop_chunks('anomalies', older_than => to_timestamp(%lld)); %s "
                 "COMMIT;",
                 (long long) (cutoff * (VG__PG_DAY_MS / 1000)), extra);
        return s_exec(pg, c, sql, "retention");
    }
    pthread_mutex_lock(&pg->part_mu);
    size_t n = 0;
    while (n < pg->n_days && pg->days[n] < cutoff) n++;
    int64_t *old = vg_malloc((n + 1) * sizeof *old);
    memcpy(old, pg->days, n * sizeof *old);
    pthread_mutex_unlock(&pg->part_mu);
    int rc = s_parts_ddl(pg, c, old, n, false, extra);
    vg_free(old);
    return rc ? rc : s_parts_load(pg, c);
}

int vg_pg_maintain(vg_pg_t *pg)
{
    VG_ASSERT(pg);
    s_conn_t *c;
    int rc = s_acquire(pg, &c);
    if (rc) return rc;
    if (!pg->hypertable) rc = s_parts_load(pg, c);
    if (!rc) rc = s_parts_ahead(pg, c);
    if (!rc && pg->retention_days) rc = s_retention(pg, c);
    s_release(pg, c);
    return rc;
}

bool vg_pg_healthy(vg_pg_t *pg)
{
    VG_ASSERT(pg);
    return atomic_load(&pg->healthy);
}

static void s_prom_counter(vg_prom_t *p, const char *name, const char *help, const vg_counter_t *c)
{
    vg_prom_header(p, name, "counter", help);
    vg_prom_sample(p, name, NULL, (double) vg_counter_get(c));
}

void vg_pg_metrics(vg_pg_t *pg, vg_prom_t *p)
{
    VG_ASSERT(pg && p);
    s_prom_counter(p, "vigil_pg_inserted_total", "Anomalies inserted into PostgreSQL.",
                   &pg->inserted);
    s_prom_counter(p, "vigil_pg_conflicts_total",
                   "Anomalies offered again and left unchanged (already stored).", &pg->conflicts);
    s_prom_counter(p, "vigil_pg_insert_batches_total", "Committed insert batches.", &pg->batches);
    s_prom_counter(p, "vigil_pg_insert_fallbacks_total",
                   "Insert batches redone through the staging table (a row was stored already).",
                   &pg->fallbacks);
    s_prom_counter(p, "vigil_pg_errors_total", "Failed PostgreSQL statements.", &pg->errors);
    s_prom_counter(p, "vigil_pg_reconnects_total", "PostgreSQL reconnections.", &pg->reconnects);
    s_prom_counter(p, "vigil_pg_migrations_applied_total",
                   "Schema migrations this process applied.", &pg->migrations);
    s_prom_counter(p, "vigil_pg_partitions_created_total", "Daily partitions created.",
                   &pg->parts_created);
    s_prom_counter(p, "vigil_pg_partitions_dropped_total", "Daily partitions dropped by retention.",
                   &pg->parts_dropped);
    pthread_mutex_lock(&pg->mu);
    int in_use = pg->in_use;
    pthread_mutex_unlock(&pg->mu);
    vg_prom_header(p, "vigil_pg_pool_in_use", "gauge", "PostgreSQL connections in use.");
    vg_prom_sample(p, "vigil_pg_pool_in_use", NULL, in_use);
    vg_prom_header(p, "vigil_pg_pool_size", "gauge", "PostgreSQL connections in the pool.");
    vg_prom_sample(p, "vigil_pg_pool_size", NULL, pg->pool_size);
    vg_prom_header(p, "vigil_pg_up", "gauge",
                   "1 when the last attempt to reach PostgreSQL worked.");
    vg_prom_sample(p, "vigil_pg_up", NULL, vg_pg_healthy(pg) ? 1 : 0);
    vg_prom_hist(p, "vigil_pg_query_seconds", "Anomaly query, get and stats latency (PostgreSQL).",
                 &pg->query_lat);
    vg_prom_hist(p, "vigil_pg_insert_seconds", "Insert batch latency, to COMMIT.", &pg->insert_lat);
}

int vg_pg_explain(vg_pg_t *pg, const vg_anomaly_query_t *q, vg_str_t id, char *out, size_t cap)
{
    VG_ASSERT(pg && out && cap);
    out[0] = 0;
    s_params_t p = {0};
    vg_mpw_t tbuf[2];
    vg_mpw_init(&tbuf[0]);
    vg_mpw_init(&tbuf[1]);
    int st = S_ST_GET, rc = 0;
    if (q) {
        uint8_t cpk[VG_ANOMALY_PK_MAX];
        size_t cpk_len;
        char next[VG_ANOMALY_CURSOR_MAX + 1];
        st = q->user_id.ptr ? S_ST_WALK_USER : S_ST_WALK_ALL;
        rc = s_query_check(q, next, sizeof next, cpk, &cpk_len);
        if (!rc) rc = s_query_params(pg, q, cpk_len ? cpk : NULL, cpk_len, &p, tbuf);
    } else {
        s_p_bytes(&p, id.ptr, id.len);
    }
    s_conn_t *c;
    if (rc > 0) snprintf(out, cap, "(no statement: nothing can match)");
    if (!rc && !(rc = s_acquire(pg, &c))) {
        char sql[4096];
        snprintf(sql, sizeof sql, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) %s",
                 s_stmts[st].sql);
        PGresult *res =
            PQexecParams(c->conn, sql, p.n, s_stmts[st].types, p.values, p.lengths, p.formats, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            rc = s_fail(pg, c, res, "explain");
        } else {
            size_t len = 0;
            for (int r = 0; r < PQntuples(res) && len + 1 < cap; r++)
                len += (size_t) snprintf(out + len, cap - len, "%s\n", PQgetvalue(res, r, 0));
            PQclear(res);
        }
        s_release(pg, c);
    }
    vg_mpw_fini(&tbuf[0]);
    vg_mpw_fini(&tbuf[1]);
    return rc > 0 ? 0 : rc;
}
