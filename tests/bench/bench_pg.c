/* bench_pg.c: the PostgreSQL anomaly store on its own throw-away server
 * (tests/pg/pg_server.sh; durable settings: fsync and synchronous_commit
 * on). Measures the writer's CPU per row without a server (pg_encode),
 * the sustained vg_pg_insert rate (--insert rows, at least 200000 for a
 * sustained figure, in batches of --batch, with 1 and 2 threads, JSON
 * columns on and off) into an empty table, the server's own ceiling on
 * the same rows (server-side COPY FROM a file, 1 and 2 sessions, into a
 * fresh table), then generates --rows anomalies server-side (INSERT ...
 * SELECT over generate_series, records spliced from real encoded
 * templates), the insert rate again into that loaded table, the latency
 * of --queries API queries of each kind and their EXPLAIN plans, and last
 * the ceiling into the loaded table itself. Prints "BENCH name value unit"
 * lines.
 *   bench_pg [--rows N] [--insert N] [--batch N] [--queries N] [--async] [--keep] */
#include "vg_err.h"
#include "vg_mem.h"
#include "vg_pg.h"
#include "vg_pg_internal.h"
#include "vg_time.h"
#include "vt_anom.h"
#include "vt_pg.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_USERS   100000
#define N_TMPL    16
#define SPAN_DAYS 14
#define DAY_MS    86400000LL

typedef struct {
    long rows, insert, batch, queries;
    bool async, keep;
} s_opts_t;

static vt_pg_t s_srv;
static vg_pg_t *s_pg, *s_pg_nojson; /* the second: JSON columns off */

static double s_secs(uint64_t ns)
{
    return (double) ns / 1e9;
}

static void s_sql(const char *sql, char *out, size_t cap)
{
    if (vt_pg_sql(&s_srv, "bench", sql, out, cap)) {
        fprintf(stderr, "bench_pg: SQL failed: %.200s\n", sql);
        exit(1);
    }
}

/* ---- insert rate ------------------------------------------------------------ */

/* Pre-encoded batches of realistic anomalies (not timed). */
typedef struct {
    vg_mpw_t buf;
    vg_str_t *recs;
    size_t n;
} s_recs_t;

static void s_make_recs(s_recs_t *r, size_t n, uint64_t seq0, int64_t t_end)
{
    size_t *offs = vg_malloc((n + 1) * sizeof *offs);
    vt_anom_t *a = vg_malloc(sizeof *a);
    uint64_t rng = seq0 * 7 + 1;
    vg_mpw_init(&r->buf);
    for (size_t i = 0; i < n; i++) {
        offs[i] = r->buf.len;
        int64_t ts = t_end - (int64_t) (n - i) * 20 - (int64_t) (vt_rand(&rng) % 1000);
        vt_anom_random(a, &rng, seq0 + i, (int) (vt_rand(&rng) % N_USERS), ts);
        vt_anom_encode(a, &r->buf);
    }
    offs[n] = r->buf.len;
    r->recs = vg_malloc(n * sizeof *r->recs);
    for (size_t i = 0; i < n; i++)
        r->recs[i] =
            (vg_str_t){(const char *) r->buf.buf + offs[i], (uint32_t) (offs[i + 1] - offs[i])};
    r->n = n;
    vg_free(offs);
    vg_free(a);
}

typedef struct {
    vg_pg_t *pg;
    const s_recs_t *r;
    size_t from, to, batch;
    int failures;
} s_ins_job_t;

static void *s_ins_thread(void *arg)
{
    s_ins_job_t *j = arg;
    for (size_t i = j->from; i < j->to; i += j->batch) {
        size_t n = VG_MIN(j->batch, j->to - i), ins = 0;
        if (vg_pg_insert(j->pg, j->r->recs + i, n, &ins) || ins != n) j->failures++;
    }
    return NULL;
}

/* Inserts r with threads threads; returns anomalies per second. */
static double s_insert_rate(vg_pg_t *pg, const s_recs_t *r, int threads, size_t batch)
{
    s_ins_job_t jobs[8];
    pthread_t th[8];
    uint64_t t0 = vg_now_ns();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (s_ins_job_t){pg,
                                r,
                                r->n * (size_t) t / (size_t) threads,
                                r->n * (size_t) (t + 1) / (size_t) threads,
                                batch,
                                0};
        pthread_create(&th[t], NULL, s_ins_thread, &jobs[t]);
    }
    int failures = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        failures += jobs[t].failures;
    }
    double s = s_secs(vg_now_ns() - t0);
    if (failures) fprintf(stderr, "bench_pg: %d insert batches failed\n", failures);
    return (double) r->n / s;
}

/* The writer's own CPU per row, without a server: decoding a record and
 * encoding its COPY row (as vg_pg_insert does), JSON columns on and off. */
static void s_bench_encode(long n, int64_t t_end)
{
    s_recs_t r;
    s_make_recs(&r, (size_t) n, 3000000000u, t_end);
    vg_anomaly_rec_t *rec = vg_malloc(sizeof *rec);
    vg__pg_rowbuf_t rowbuf;
    vg_mpw_t w;
    vg__pg_rowbuf_init(&rowbuf);
    vg_mpw_init(&w);
    for (int json = 1; json >= 0; json--) {
        uint64_t t0 = vg_now_ns();
        size_t bytes = 0;
        for (size_t i = 0; i < r.n; i++) {
            if (vg_anomaly_decode(r.recs[i].ptr, r.recs[i].len, rec, NULL)) exit(1);
            vg__pg_copy_row(&w, rec, r.recs[i], json ? &rowbuf : NULL);
            if (w.len > 1 << 20) bytes += w.len, vg_mpw_reset(&w);
        }
        bytes += w.len;
        vg_mpw_reset(&w);
        double us = s_secs(vg_now_ns() - t0) * 1e6 / (double) r.n;
        printf("BENCH pg_encode%s %.2f us/row\n", json ? "" : "_nojson", us);
        fprintf(stderr, "bench_pg: %.0f COPY bytes per row%s\n", (double) bytes / (double) r.n,
                json ? "" : " (no JSON)");
    }
    fflush(stdout);
    vg_mpw_fini(&w);
    vg__pg_rowbuf_fini(&rowbuf);
    vg_free(rec);
    vg_mpw_fini(&r.buf);
    vg_free(r.recs);
}

/* The insert rate with 1 and 2 threads, JSON columns on and off. */
static void s_bench_inserts(const s_opts_t *o, const char *tag, uint64_t seq0, int64_t t_end)
{
    for (int k = 0; k < 4; k++) {
        s_recs_t r;
        int threads = 1 + k % 2;
        bool json = k < 2;
        s_make_recs(&r, (size_t) o->insert, seq0 + (uint64_t) k * 10000000u, t_end);
        double rate = s_insert_rate(json ? s_pg : s_pg_nojson, &r, threads, (size_t) o->batch);
        printf("BENCH pg_insert_%s%s_%dthr %.0f anomalies/s\n", json ? "" : "nojson_", tag, threads,
               rate);
        fflush(stdout);
        vg_mpw_fini(&r.buf);
        vg_free(r.recs);
    }
}

/* ---- the server's own ceiling ------------------------------------------------------ */

typedef struct {
    const char *sql;
    int rc;
} s_sess_t;

static void *s_sess_thread(void *arg)
{
    s_sess_t *x = arg;
    x->rc = vt_pg_sql(&s_srv, "bench", x->sql, NULL, 0);
    return NULL;
}

/* Runs sql[0..n) in n concurrent sessions; returns the seconds they took. */
static double s_sessions(const char *const *sql, int n)
{
    s_sess_t x[2];
    pthread_t th[2];
    uint64_t t0 = vg_now_ns();
    for (int i = 0; i < n; i++) {
        x[i] = (s_sess_t){sql[i], 0};
        pthread_create(&th[i], NULL, s_sess_thread, &x[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (x[i].rc) {
            fprintf(stderr, "bench_pg: SQL failed: %.200s\n", sql[i]);
            exit(1);
        }
    }
    return s_secs(vg_now_ns() - t0);
}

/* A fresh table of the same shape as anomalies (daily partitions for the
 * days of bench_src, same indexes, lz4). */
static void s_ceiling_table(void)
{
    s_sql("DROP TABLE IF EXISTS bench_ceil; "
          "CREATE TABLE bench_ceil (LIKE anomalies INCLUDING ALL) PARTITION BY RANGE (ts); "
          "DO $$ DECLARE d timestamptz; BEGIN FOR d IN SELECT generate_series("
          "date_trunc('day', min(ts), 'UTC'), date_trunc('day', max(ts), 'UTC'), "
          "interval '1 day') FROM bench_src LOOP EXECUTE format('CREATE TABLE %I "
          "PARTITION OF bench_ceil FOR VALUES FROM (%L) TO (%L)', 'bench_ceil_' || "
          "to_char(d AT TIME ZONE 'UTC', 'YYYYMMDD'), d, d + interval '1 day'); "
          "END LOOP; END $$",
          NULL, 0);
}

/* What PostgreSQL itself does with the rows of an insert run (ids a<seq0>
 * .. a<seq0 + n - 1>) on this machine, without a client: the server writes
 * them to two files (the halves in time order, as two insert threads split
 * them; a letter appended to the ids), then loads them back with
 * server-side COPY FROM (binary) in 1 session (both files) and in 2
 * concurrent sessions (one file each); and again with the JSON columns
 * NULL. Into a fresh table of the same shape, or with into_anomalies into
 * anomalies itself (as loaded as the writer found it). No per-minute
 * counters, no network: the ceiling our writer is compared with. */
static void s_bench_ceiling(uint64_t seq0, long n, bool into_anomalies, const char *tag)
{
    char sql[2048], files[2][160], got[32];
    snprintf(sql, sizeof sql,
             "CREATE TABLE bench_src AS SELECT row_number() OVER (ORDER BY ts, anomaly_id) AS rn, "
             "a.* FROM anomalies a WHERE length(anomaly_id) = 11 AND anomaly_id BETWEEN "
             "convert_to('a%llu', 'UTF8') AND convert_to('a%llu', 'UTF8')",
             (unsigned long long) seq0, (unsigned long long) seq0 + (unsigned long long) n - 1);
    s_sql(sql, NULL, 0);
    s_sql("SELECT count(*) FROM bench_src", got, sizeof got);
    long rows = strtol(got, NULL, 10);
    const char *table = into_anomalies ? "anomalies" : "bench_ceil";
    for (int run = 0; run < 4; run++) {
        bool nojson = run >= 2;
        int sessions = 1 + run % 2;
        for (int h = 0; h < 2; h++) { /* the server's dir is the server's */
            snprintf(files[h], sizeof files[h], "%s/vg_ceiling_%d.bin", s_srv.dir, h);
            snprintf(sql, sizeof sql,
                     "COPY (SELECT ts, anomaly_id || '\\x%02x'::bytea, user_id, detected_at, "
                     "score, severity, decision, detectors, rules, %s, record FROM bench_src "
                     "WHERE rn %s %ld ORDER BY rn) TO '%s' (FORMAT binary)",
                     'c' + run,
                     nojson ? "NULL::jsonb, NULL::jsonb, NULL::jsonb"
                            : "transaction, features, reasons",
                     h ? ">" : "<=", rows / 2, files[h]);
            s_sql(sql, NULL, 0);
        }
        if (!into_anomalies) s_ceiling_table();
        char one[2][256];
        for (int h = 0; h < 2; h++)
            snprintf(one[h], sizeof one[h],
                     "COPY %s (ts, anomaly_id, user_id, detected_at, score, severity, decision, "
                     "detectors, rules, transaction, features, reasons, record) FROM '%s' "
                     "(FORMAT binary)",
                     table, files[h]);
        snprintf(sql, sizeof sql, "%s; %s", one[0], one[1]);
        const char *both[1] = {sql}, *each[2] = {one[0], one[1]};
        double secs = sessions == 1 ? s_sessions(both, 1) : s_sessions(each, 2);
        if (!into_anomalies) {
            s_sql("SELECT count(*) FROM bench_ceil", got, sizeof got);
            if (strtol(got, NULL, 10) != rows) {
                fprintf(stderr, "bench_pg: ceiling: %s rows loaded, %ld expected\n", got, rows);
                exit(1);
            }
        }
        printf("BENCH pg_ceiling_copy_%s%dsess%s %.0f rows/s\n", tag, sessions,
               nojson ? "_nojson" : "", (double) rows / secs);
        fflush(stdout);
        for (int h = 0; h < 2; h++) unlink(files[h]);
    }
    s_sql("DROP TABLE IF EXISTS bench_ceil; DROP TABLE bench_src", NULL, 0);
    fprintf(stderr, "bench_pg: ceiling over %ld rows into %s\n", rows,
            into_anomalies ? "anomalies" : "a fresh table");
}

/* ---- server-side generation ---------------------------------------------------- */

/* 1-based position of the n-th occurrence of pat in buf (0 = none). */
static long s_find(const vg_mpw_t *w, const void *pat, size_t len, int nth)
{
    const uint8_t *p = w->buf, *end = w->buf + w->len;
    for (int k = 0; p && p < end; k++) {
        p = memmem(p, (size_t) (end - p), pat, len);
        if (!p) break;
        if (k == nth) return (long) (p - w->buf) + 1;
        p++;
    }
    return 0;
}

/* Template k: inserted through vg_pg_insert (so every derived column is
 * the module's own), with where its id, user id, event time and detection
 * time sit in the record bytes. */
static void s_template(int k, int64_t ts, char *values, size_t cap)
{
    vt_anom_t *a = vg_malloc(sizeof *a);
    char id[16], user[16];
    snprintf(id, sizeof id, "T%011d", k);
    snprintf(user, sizeof user, "V%06d", k);
    vt_anom_set(a, vg_str_c(id), vg_str_c(user), ts, 0.72 + k * 0.018, k % 3);
    vt_anom_reason(a, "zscore", "amount");
    if (k % 4 == 0) vt_anom_reason(a, "iforest", "model-v1");
    if (k % 5 == 0) vt_anom_reason(a, "rule", "big_amount");
    vg_mpw_t w;
    vg_mpw_init(&w);
    vt_anom_encode(a, &w);
    vg_str_t rec = {(const char *) w.buf, (uint32_t) w.len};
    if (vg_pg_insert(s_pg, &rec, 1, NULL)) exit(1);
    uint8_t tsb[8], detb[8];
    for (int i = 0; i < 8; i++) {
        tsb[i] = (uint8_t) ((uint64_t) ts >> (56 - 8 * i));
        detb[i] = (uint8_t) ((uint64_t) (ts + 250) >> (56 - 8 * i));
    }
    long pos[7] = {s_find(&w, id, 12, 0),  s_find(&w, id, 12, 1), s_find(&w, user, 7, 0),
                   s_find(&w, user, 7, 1), s_find(&w, tsb, 8, 0), s_find(&w, tsb, 8, 1),
                   s_find(&w, detb, 8, 0)};
    for (int i = 0; i < 7; i++)
        if (!pos[i]) {
            fprintf(stderr, "bench_pg: template field %d not found\n", i);
            exit(1);
        }
    snprintf(values + strlen(values), cap - strlen(values),
             "%s(%d,'%s',%ld,%ld,%ld,%ld,%ld,%ld,%ld)", k ? "," : "", k, id, pos[0], pos[1], pos[2],
             pos[3], pos[4], pos[5], pos[6]);
    vg_mpw_fini(&w);
    vg_free(a);
}

/* rows anomalies over the SPAN_DAYS days before t_end, in time order. */
static void s_generate(long rows, int64_t t_end)
{
    char values[4096] = "", sql[8192];
    int64_t t_start = t_end - SPAN_DAYS * DAY_MS;
    for (int k = 0; k < N_TMPL; k++) s_template(k, t_start + 1000 + k, values, sizeof values);
    /* partitions for the span: one real anomaly per day makes them */
    vt_anom_t *a = vg_malloc(sizeof *a);
    for (int d = 0; d <= SPAN_DAYS; d++) {
        vg_mpw_t w;
        uint64_t rng = (uint64_t) d;
        vg_mpw_init(&w);
        vt_anom_random(a, &rng, 900000000u + (uint64_t) d, d, t_start + d * DAY_MS);
        vt_anom_encode(a, &w);
        vg_str_t rec = {(const char *) w.buf, (uint32_t) w.len};
        if (vg_pg_insert(s_pg, &rec, 1, NULL)) exit(1);
        vg_mpw_fini(&w);
    }
    vg_free(a);
    snprintf(sql, sizeof sql,
             "CREATE TABLE bench_tmpl AS SELECT o.k, a.score, a.severity, a.decision, a.detectors, "
             "a.rules, a.transaction, a.features, a.reasons, a.record, o.id1, o.id2, o.u1, o.u2, "
             "o.ts1, o.ts2, o.d1 FROM (VALUES %s) o(k, id, id1, id2, u1, u2, ts1, ts2, d1) "
             "JOIN anomalies a ON a.anomaly_id = convert_to(o.id, 'UTF8')",
             values);
    s_sql(sql, NULL, 0);
    s_sql("DELETE FROM anomalies WHERE anomaly_id IN (SELECT convert_to('T' || lpad(k::text, 11, "
          "'0'), 'UTF8') FROM bench_tmpl)",
          NULL, 0);
    const long chunk = 1000000;
    double step = (double) (SPAN_DAYS * DAY_MS - 10000) / (double) rows;
    uint64_t t0 = vg_now_ns();
    for (long from = 0; from < rows; from += chunk) {
        long to = VG_MIN(rows, from + chunk) - 1;
        snprintf(
            sql, sizeof sql,
            "INSERT INTO anomalies (ts, anomaly_id, user_id, detected_at, score, severity, "
            "decision, detectors, rules, transaction, features, reasons, record) "
            "SELECT timestamptz 'epoch' + g.ms * interval '1 millisecond', g.id, g.uid, "
            "timestamptz 'epoch' + (g.ms + 250) * interval '1 millisecond', t.score, t.severity, "
            "t.decision, t.detectors, t.rules, t.transaction || jsonb_build_object('id', "
            "convert_from(g.id, 'UTF8'), 'user_id', convert_from(g.uid, 'UTF8'), 'timestamp', "
            "to_char(timestamptz 'epoch' + g.ms * interval '1 millisecond', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')), t.features, t.reasons, "
            "overlay(overlay(overlay(overlay(overlay(overlay(overlay(t.record "
            "placing g.id from t.id1 for 12) placing g.id from t.id2 for 12) "
            "placing g.uid from t.u1 for 7) placing g.uid from t.u2 for 7) "
            "placing int8send(g.ms) from t.ts1 for 8) placing int8send(g.ms) from t.ts2 for 8) "
            "placing int8send(g.ms + 250) from t.d1 for 8) "
            "FROM (SELECT i, %lld + (i * %.6f)::bigint AS ms, "
            "convert_to('g' || lpad(i::text, 11, '0'), 'UTF8') AS id, "
            "convert_to('u' || lpad(((hashint8(i) & 2147483647) %% %d)::text, 6, '0'), 'UTF8') "
            "AS uid, (hashint8(i + 7) & 2147483647) %% %d AS k "
            "FROM generate_series(%ld, %ld) i) g JOIN bench_tmpl t ON t.k = g.k",
            (long long) (t_start + 5000), step, N_USERS, N_TMPL, from, to);
        s_sql(sql, NULL, 0);
        fprintf(stderr, "bench_pg: generated %ld rows (%.0f rows/s)\n", to + 1,
                (double) (to + 1) / s_secs(vg_now_ns() - t0));
    }
    double s = s_secs(vg_now_ns() - t0);
    printf("BENCH pg_generate_rows_per_s %.0f rows/s\n", (double) rows / s);
    /* the trend counters, as inserts would have kept them */
    uint64_t t1 = vg_now_ns();
    s_sql("TRUNCATE anomaly_minutes; INSERT INTO anomaly_minutes SELECT "
          "div((extract(epoch FROM ts) * 1000)::bigint, 60000), count(*), "
          "count(*) FILTER (WHERE severity = 0), count(*) FILTER (WHERE severity = 1), "
          "count(*) FILTER (WHERE severity = 2), count(*) FILTER (WHERE severity = 3), "
          "count(*) FILTER (WHERE decision = 0), count(*) FILTER (WHERE decision = 1), "
          "count(*) FILTER (WHERE decision = 2) FROM anomalies GROUP BY 1",
          NULL, 0);
    s_sql("ANALYZE anomalies", NULL, 0);
    fprintf(stderr, "bench_pg: counters + ANALYZE in %.1f s\n", s_secs(vg_now_ns() - t1));
    fflush(stdout);
}

/* ---- query latency ---------------------------------------------------------------- */

typedef enum { Q_FIRST, Q_USER, Q_SEVERITY, Q_DETECTOR, Q_DEEP, Q_GET, Q_STATS, Q_KINDS } s_kind_t;
static const char *const s_kind_names[Q_KINDS] = {"first_page",  "user", "severity",    "detector",
                                                  "deep_cursor", "get",  "stats_24h_1m"};

static int s_count(void *arg, const vg_anomaly_rec_t *rec)
{
    (void) rec;
    (*(long *) arg)++;
    return 0;
}

static int s_bucket(void *arg, const vg_anomaly_bucket_t *b)
{
    (void) b;
    (*(long *) arg)++;
    return 0;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return (x > y) - (x < y);
}

/* One query of kind (its parameters from rng) into q (cursor kept in c). */
static void s_query_of(s_kind_t kind, uint64_t *rng, int64_t t_lo, int64_t t_hi,
                       vg_anomaly_query_t *q, char *c, char *user)
{
    vg_anomaly_query_init(q);
    switch (kind) {
    case Q_USER:
        snprintf(user, 16, "u%06d", (int) (vt_rand(rng) % N_USERS));
        q->user_id = vg_str_c(user);
        break;
    case Q_SEVERITY: q->min_severity = VG_SEV_CRITICAL; break;
    case Q_DETECTOR: q->detector = VG_STR_LIT("iforest"); break;
    case Q_DEEP: {
        uint8_t pk[VG_ANOMALY_PK_MAX];
        int64_t ts = t_lo + (int64_t) (vt_rand(rng) % (uint64_t) (t_hi - t_lo));
        vg_anomaly_cursor_encode(pk, vg_anomaly_pk(ts, VG_STR_LIT("g"), pk), c);
        q->cursor = vg_str_c(c);
        break;
    }
    default: break;
    }
}

static void s_bench_queries(long n, long rows, int64_t t_end)
{
    int64_t t_lo = t_end - SPAN_DAYS * DAY_MS, t_hi = t_end;
    uint64_t *lat = vg_malloc((size_t) n * sizeof *lat);
    char next[VG_ANOMALY_CURSOR_MAX + 1], c[VG_ANOMALY_CURSOR_MAX + 1], user[16], id[16];
    for (int kind = 0; kind < Q_KINDS; kind++) {
        uint64_t rng = 99 + (uint64_t) kind;
        long got = 0;
        for (long i = 0; i < n; i++) {
            vg_anomaly_query_t q;
            s_query_of((s_kind_t) kind, &rng, t_lo, t_hi, &q, c, user);
            snprintf(id, sizeof id, "g%011ld", (long) (vt_rand(&rng) % (uint64_t) VG_MAX(rows, 1)));
            uint64_t t0 = vg_now_ns();
            int rc;
            if (kind == Q_GET)
                rc = vg_pg_anomaly_get(s_pg, vg_str_c(id), s_count, &got);
            else if (kind == Q_STATS)
                rc = vg_pg_anomaly_stats(s_pg, t_end - DAY_MS, t_end, 60000, s_bucket, &got);
            else
                rc = vg_pg_anomaly_query(s_pg, &q, s_count, &got, next, sizeof next);
            lat[i] = vg_now_ns() - t0;
            if (rc && rc != VG_ERR_NOT_FOUND) {
                fprintf(stderr, "bench_pg: %s: %s\n", s_kind_names[kind], vg_strerror(rc));
                exit(1);
            }
        }
        qsort(lat, (size_t) n, sizeof *lat, s_cmp_u64);
        printf("BENCH pg_query_%s_p50 %.3f ms\n", s_kind_names[kind], lat[n / 2] / 1e6);
        printf("BENCH pg_query_%s_p99 %.3f ms\n", s_kind_names[kind], lat[n * 99 / 100] / 1e6);
        fprintf(stderr, "bench_pg: %s: %.1f results per call\n", s_kind_names[kind],
                (double) got / (double) n);
        fflush(stdout);
    }
    vg_free(lat);
}

/* The plan of each kind, reduced to its scan nodes. */
static void s_explain(int64_t t_end)
{
    static char plan[16384];
    char c[VG_ANOMALY_CURSOR_MAX + 1], user[16];
    uint64_t rng = 5;
    for (int kind = 0; kind <= Q_GET; kind++) {
        vg_anomaly_query_t q;
        s_query_of((s_kind_t) kind, &rng, t_end - SPAN_DAYS * DAY_MS, t_end, &q, c, user);
        int rc = kind == Q_GET
                     ? vg_pg_explain(s_pg, NULL, VG_STR_LIT("g00000012345"), plan, sizeof plan)
                     : vg_pg_explain(s_pg, &q, VG_STR_NULL, plan, sizeof plan);
        if (rc) {
            printf("EXPLAIN %s: %s\n", s_kind_names[kind], vg_strerror(rc));
            continue;
        }
        /* the first scan that returned rows (every plan starts with empty partitions) */
        const char *first = NULL, *busy = NULL, *exec = NULL;
        for (char *line = strtok(plan, "\n"); line; line = strtok(NULL, "\n")) {
            bool scan = strstr(line, "Scan") && !strstr(line, "Subquery Scan");
            if (scan && !first) first = line;
            if (scan && !busy && !strstr(line, "actual rows=0 ")) busy = line;
            if (strstr(line, "Execution Time")) exec = line;
        }
        const char *show[2] = {busy ? busy : first, exec};
        for (int i = 0; i < 2; i++)
            if (show[i])
                printf("EXPLAIN %-12s %s\n", s_kind_names[kind], show[i] + strspn(show[i], " ->"));
    }
}

static long s_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "bench_pg: %s needs a value\n", argv[*i]);
        exit(2);
    }
    return strtol(argv[++*i], NULL, 10);
}

int main(int argc, char **argv)
{
    s_opts_t o = {.rows = 10000000, .insert = 300000, .batch = 5000, .queries = 1000};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rows"))
            o.rows = s_arg(argc, argv, &i);
        else if (!strcmp(argv[i], "--insert"))
            o.insert = s_arg(argc, argv, &i);
        else if (!strcmp(argv[i], "--batch"))
            o.batch = s_arg(argc, argv, &i);
        else if (!strcmp(argv[i], "--queries"))
            o.queries = s_arg(argc, argv, &i);
        else if (!strcmp(argv[i], "--async"))
            o.async = true;
        else if (!strcmp(argv[i], "--keep"))
            o.keep = true;
        else {
            fprintf(stderr, "usage: bench_pg [--rows N] [--insert N] [--batch N] [--queries N] "
                            "[--async] [--keep]\n");
            return 2;
        }
    }
    if (o.batch < 1 || o.insert < 2 || o.queries < 1 || o.rows < 0) return 2;
    if (o.insert < 200000)
        fprintf(stderr,
                "bench_pg: --insert %ld: below 200000 rows the insert and ceiling "
                "figures are not sustained ones\n",
                o.insert);
    snprintf(s_srv.opts, sizeof s_srv.opts,
             "-c shared_buffers=2GB -c max_wal_size=8GB -c wal_buffers=64MB "
             "-c checkpoint_timeout=30min -c max_connections=50");
    char dsn[256], err[256];
    if (vt_pg_start(&s_srv, false) || vt_pg_createdb(&s_srv, "bench", dsn)) {
        fprintf(stderr, "bench_pg: cannot start PostgreSQL\n");
        return 1;
    }
    fprintf(stderr, "bench_pg: server in %s (%s)\n", s_srv.dir, dsn);
    vg_pg_config_t cfg = {
        .dsn = dsn, .pool_size = 4, .async_commit = o.async, .statement_timeout_ms = 600000};
    if (vg_pg_open(&cfg, &s_pg, err, sizeof err)) {
        fprintf(stderr, "bench_pg: %s\n", err);
        return 1;
    }
    cfg.no_json = true;
    if (vg_pg_open(&cfg, &s_pg_nojson, err, sizeof err)) return 1;
    int64_t t_end = (vg_wall_ms() / 60000) * 60000;
    s_bench_encode(VG_MIN(o.insert, 100000), t_end);
    s_bench_inserts(&o, "empty", 1000000000u, t_end);
    s_bench_ceiling(1000000000u, o.insert, false, "");
    if (o.rows) s_generate(o.rows, t_end - DAY_MS / 2);
    s_bench_inserts(&o, "loaded", 2000000000u, t_end);
    s_bench_queries(o.queries, o.rows, t_end - DAY_MS / 2);
    s_explain(t_end - DAY_MS / 2);
    s_bench_ceiling(2000000000u, o.insert, true, "loaded_"); /* adds rows: last */
    char size[64];
    s_sql("SELECT pg_size_pretty(pg_database_size('bench'))", size, sizeof size);
    fprintf(stderr, "bench_pg: database size %s\n", size);
    vg_pg_close(&s_pg);
    vg_pg_close(&s_pg_nojson);
    if (!o.keep) vt_pg_destroy(&s_srv);
    return 0;
}
