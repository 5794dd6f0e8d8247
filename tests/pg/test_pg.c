/* test_pg.c: the PostgreSQL anomaly store against a real server started in
 * a temp dir (pg_server.sh): migrations (repeated, concurrent), idempotent
 * batches, malformed records, queries/get/stats, partitions ahead and
 * retention, the pool under threads, open errors, EXPLAIN, and reconnect
 * after the server stops and starts again. Each test has its own database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_anomaly_json.h"
#include "vg_err.h"
#include "vg_pg.h"
#include "vg_pg_internal.h"
#include "vg_time.h"
#include "vt_anom.h"
#include "vt_pg.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400000LL)

static vt_pg_t s_server;

/* ---- helpers -------------------------------------------------------------- */

/* Encoded records of a set of anomalies (recs point into buf). */
typedef struct {
    vg_mpw_t buf;
    size_t n;
    vg_str_t *recs;
} t_batch_t;

static void s_batch(t_batch_t *b, const vt_anom_t *a, size_t n)
{
    size_t *offs = calloc(n + 1, sizeof *offs);
    vg_mpw_init(&b->buf);
    for (size_t i = 0; i < n; i++) {
        offs[i] = b->buf.len;
        vt_anom_encode(&a[i], &b->buf);
    }
    offs[n] = b->buf.len;
    b->n = n;
    b->recs = calloc(n, sizeof *b->recs);
    for (size_t i = 0; i < n; i++)
        b->recs[i] =
            (vg_str_t){(const char *) b->buf.buf + offs[i], (uint32_t) (offs[i + 1] - offs[i])};
    free(offs);
}

static void s_batch_fini(t_batch_t *b)
{
    vg_mpw_fini(&b->buf);
    free(b->recs);
}

/* The record of one anomaly (a batch of one, kept in b). */
static vg_str_t s_batch_rec(const vt_anom_t *a, t_batch_t *b)
{
    s_batch(b, a, 1);
    return b->recs[0];
}

/* n random anomalies from ts0, step_ms apart, ids a<seq0>... */
static vt_anom_t *s_anoms(size_t n, uint64_t seq0, int64_t ts0, int64_t step_ms)
{
    vt_anom_t *a = calloc(n, sizeof *a);
    uint64_t rng = seq0 + 1;
    for (size_t i = 0; i < n; i++)
        vt_anom_random(&a[i], &rng, seq0 + i, (int) (i % 5), ts0 + (int64_t) i * step_ms);
    return a;
}

static vg_pg_t *s_open_db(const char *db, const vg_pg_config_t *base)
{
    static char dsn[256];
    assert_int_equal(vt_pg_createdb(&s_server, db, dsn), 0);
    vg_pg_config_t cfg = base ? *base : (vg_pg_config_t){0};
    cfg.dsn = dsn;
    vg_pg_t *pg = NULL;
    char err[256] = "";
    int rc = vg_pg_open(&cfg, &pg, err, sizeof err);
    if (rc) fail_msg("open %s: %s (%s)", db, err, vg_errname(rc));
    return pg;
}

static vg_pg_t *s_reopen(const char *db, const vg_pg_config_t *base)
{
    char dsn[256];
    snprintf(dsn, sizeof dsn, "%s dbname=%s", s_server.dsn, db);
    vg_pg_config_t cfg = base ? *base : (vg_pg_config_t){0};
    cfg.dsn = dsn;
    vg_pg_t *pg = NULL;
    char err[256] = "";
    int rc = vg_pg_open(&cfg, &pg, err, sizeof err);
    if (rc) fail_msg("reopen %s: %s", db, err);
    return pg;
}

static double s_metric(vg_pg_t *pg, const char *name)
{
    vg_prom_t p;
    char key[128];
    vg_prom_init(&p);
    vg_pg_metrics(pg, &p);
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = strstr(p.buf, key);
    double v = at ? strtod(at + strlen(key), NULL) : -1;
    vg_prom_fini(&p);
    return v;
}

static long s_sql_long(const char *db, const char *sql)
{
    char out[256] = "";
    assert_int_equal(vt_pg_sql(&s_server, db, sql, out, sizeof out), 0);
    return strtol(out, NULL, 10);
}

static int s_count_fn(void *arg, const vg_anomaly_rec_t *rec)
{
    (void) rec;
    (*(size_t *) arg)++;
    return 0;
}

/* Records matching q, over all pages. */
static size_t s_count(vg_pg_t *pg, vg_anomaly_query_t q)
{
    size_t n = 0;
    char next[VG_ANOMALY_CURSOR_MAX + 1], cur[VG_ANOMALY_CURSOR_MAX + 1];
    q.limit = 1000;
    for (;;) {
        assert_int_equal(vg_pg_anomaly_query(pg, &q, s_count_fn, &n, next, sizeof next), 0);
        if (!next[0]) return n;
        strcpy(cur, next);
        q.cursor = vg_str_c(cur);
    }
}

static size_t s_count_all(vg_pg_t *pg)
{
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    return s_count(pg, q);
}

static int s_setup_server(void **state)
{
    (void) state;
    if (vt_pg_start(&s_server, true)) fail_msg("cannot start PostgreSQL (pg_server.sh)");
    return 0;
}

static int s_teardown_server(void **state)
{
    (void) state;
    vt_pg_destroy(&s_server);
    return 0;
}

/* ---- migrations ------------------------------------------------------------ */

static void test_migrations_twice(void **state)
{
    (void) state;
    vg_pg_t *pg = s_open_db("t_mig", NULL);
    assert_int_equal((int) s_metric(pg, "vigil_pg_migrations_applied_total"),
                     (int) vg__pg_n_migrations);
    vg_pg_close(&pg);
    assert_null(pg);
    vg_pg_close(&pg); /* NULL-safe */
    pg = s_reopen("t_mig", NULL);
    assert_int_equal((int) s_metric(pg, "vigil_pg_migrations_applied_total"), 0);
    vg_pg_close(&pg);
    assert_int_equal(s_sql_long("t_mig", "SELECT count(*) FROM schema_migrations"),
                     (long) vg__pg_n_migrations);
    assert_int_equal(s_sql_long("t_mig", "SELECT max(version) FROM schema_migrations"),
                     vg__pg_migrations[vg__pg_n_migrations - 1].version);
    assert_int_equal(s_sql_long("t_mig", "SELECT count(*) FROM pg_partitioned_table "
                                         "WHERE partrelid = 'anomalies'::regclass"),
                     1);
}

typedef struct {
    char dsn[256];
    int rc;
    double applied;
} t_opener_t;

static void *s_opener(void *arg)
{
    t_opener_t *o = arg;
    vg_pg_config_t cfg = {.dsn = o->dsn};
    vg_pg_t *pg = NULL;
    o->rc = vg_pg_open(&cfg, &pg, NULL, 0);
    if (!o->rc) {
        o->applied = s_metric(pg, "vigil_pg_migrations_applied_total");
        vg_pg_close(&pg);
    }
    return NULL;
}

/* Two processes' worth of opens at once: each migration applied once. */
static void test_migrations_concurrent(void **state)
{
    (void) state;
    t_opener_t o[3];
    pthread_t th[3];
    char dsn[256];
    assert_int_equal(vt_pg_createdb(&s_server, "t_mig2", dsn), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(o[i].dsn, sizeof o[i].dsn, "%s", dsn);
        pthread_create(&th[i], NULL, s_opener, &o[i]);
    }
    double sum = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(o[i].rc, 0);
        sum += o[i].applied;
    }
    assert_int_equal((int) sum, (int) vg__pg_n_migrations);
    assert_int_equal(s_sql_long("t_mig2", "SELECT count(*) FROM schema_migrations"),
                     (long) vg__pg_n_migrations);
}

/* ---- inserts ------------------------------------------------------------------ */

typedef struct {
    int n;
    char id[VG_TX_ID_MAX + 1];
    uint8_t enc[4096];
    size_t enc_len;
} t_one_t;

static int s_one(void *arg, const vg_anomaly_rec_t *rec)
{
    t_one_t *o = arg;
    o->n++;
    snprintf(o->id, sizeof o->id, "%.*s", (int) rec->id.len, rec->id.ptr);
    vg_mpw_t w;
    vg_mpw_init_fixed(&w, o->enc, sizeof o->enc);
    vg_anomaly_rec_encode(rec, &w);
    o->enc_len = w.len;
    return 0;
}

static void test_insert_dedupe(void **state)
{
    (void) state;
    vg_pg_t *pg = s_open_db("t_ins", NULL);
    int64_t t0 = (vg_wall_ms() / 60000) * 60000 - 3600000;
    vt_anom_t *a = s_anoms(150, 1000, t0, 1000);
    t_batch_t b1, b2, b3;
    s_batch(&b1, a, 100);
    s_batch(&b2, a, 100);
    s_batch(&b3, a + 50, 100); /* 50 stored, 50 new */
    size_t ins = 99;
    assert_int_equal(vg_pg_insert(pg, b1.recs, 0, &ins), 0);
    assert_int_equal(ins, 0);
    assert_int_equal(vg_pg_insert(pg, b1.recs, b1.n, &ins), 0);
    assert_int_equal(ins, 100);
    assert_int_equal(vg_pg_insert(pg, b2.recs, b2.n, &ins), 0); /* a retried batch */
    assert_int_equal(ins, 0);
    assert_int_equal(vg_pg_insert(pg, b3.recs, b3.n, NULL), 0);
    assert_int_equal(s_count_all(pg), 150);
    assert_int_equal((int) s_metric(pg, "vigil_pg_inserted_total"), 150);
    assert_int_equal((int) s_metric(pg, "vigil_pg_conflicts_total"), 150);

    /* get returns the record exactly as it was encoded */
    t_one_t one = {0};
    assert_int_equal(vg_pg_anomaly_get(pg, VG_STR_LIT("a1077"), s_one, &one), 0);
    assert_int_equal(one.n, 1);
    assert_string_equal(one.id, "a1077");
    assert_int_equal(one.enc_len, b3.recs[27].len);
    assert_memory_equal(one.enc, b3.recs[27].ptr, one.enc_len);
    assert_int_equal(vg_pg_anomaly_get(pg, VG_STR_LIT("nope"), s_one, &one), VG_ERR_NOT_FOUND);
    assert_int_equal(vg_pg_anomaly_get(pg, VG_STR_LIT(""), s_one, &one), VG_ERR_NOT_FOUND);

    /* stats count each anomaly once */
    assert_int_equal(s_sql_long("t_ins", "SELECT sum(total) FROM anomaly_minutes"), 150);

    /* derived columns, including text the server would refuse (NUL, bad UTF-8) */
    vt_anom_t odd;
    vt_anom_set(&odd, (vg_str_t){"n\0l", 3}, VG_STR_LIT("u\xc3\xa9"), t0, 0.97, 2);
    vt_anom_reason(&odd, "rule", "big_amount");
    vt_anom_reason(&odd, "mad", "amount");
    vt_anom_reason(&odd, "rule", "bad\xff");
    t_batch_t b4;
    s_batch(&b4, &odd, 1);
    assert_int_equal(vg_pg_insert(pg, b4.recs, 1, &ins), 0);
    assert_int_equal(ins, 1);
    char out[512];
    assert_int_equal(vt_pg_sql(&s_server, "t_ins",
                               "SELECT transaction->>'id', convert_from(user_id, 'UTF8'), "
                               "severity, decision, array_to_string(detectors, ','), "
                               "array_to_string(rules, ','), reasons->0->>'feature', "
                               "features->>'amount', length(anomaly_id) FROM anomalies "
                               "WHERE anomaly_id = '\\x6e006c'",
                               out, sizeof out),
                     0);
    assert_string_equal(
        out,
        "n\xef\xbf\xbdl|u\xc3\xa9|3|2|rule,mad,rule|big_amount,bad\xef\xbf\xbd|big_amount|0.97|3");
    one.n = 0;
    assert_int_equal(vg_pg_anomaly_get(pg, (vg_str_t){"n\0l", 3}, s_one, &one), 0);
    assert_int_equal(one.enc_len, b4.recs[0].len);
    assert_memory_equal(one.enc, b4.recs[0].ptr, one.enc_len);
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    q.rule = VG_STR_LIT("bad\xff"); /* compared as stored */
    assert_int_equal(s_count(pg, q), 1);

    s_batch_fini(&b1);
    s_batch_fini(&b2);
    s_batch_fini(&b3);
    s_batch_fini(&b4);
    free(a);
    vg_pg_close(&pg);
}

/* The JSON columns are the jsonb of vg_anomaly_json's objects (the writer
 * sends the features' keys in jsonb's own order), duplicate feature names
 * included (the last one wins, as when the server sorts them). */
static void test_json_columns(void **state)
{
    (void) state;
    vg_pg_t *pg = s_open_db("t_json", NULL);
    vt_anom_t *a = s_anoms(3, 70, vg_wall_ms() - 60000, 1000);
    t_batch_t b;
    s_batch(&b, a, 3);
    vg_anomaly_rec_t *rec = calloc(1, sizeof *rec);
    vg_mpw_t enc, sql;
    vg_jw_t jw;
    vg_mpw_init(&enc);
    vg_mpw_init(&sql);
    vg_jw_init(&jw);
    assert_int_equal(vg_anomaly_decode(b.recs[1].ptr, b.recs[1].len, rec, NULL), 0);
    rec->feature_names[5] = rec->feature_names[2]; /* a duplicate key, then others */
    rec->feature_names[9] = rec->feature_names[0];
    rec->tx.id = VG_STR_LIT("dup");
    vg_anomaly_rec_encode(rec, &enc);
    vg_str_t recs[4] = {
        b.recs[0], b.recs[1], b.recs[2], {(const char *) enc.buf, (uint32_t) enc.len}};
    size_t ins = 0;
    assert_int_equal(vg_pg_insert(pg, recs, 4, &ins), 0);
    assert_int_equal(ins, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(vg_anomaly_decode(recs[i].ptr, recs[i].len, rec, NULL), 0);
        vg_mpw_reset(&sql);
        vg_jw_reset(&jw);
        vg_anomaly_features_json(&jw, rec);
        char head[160];
        snprintf(head, sizeof head,
                 "SELECT count(*) FROM anomalies WHERE anomaly_id = convert_to('%.*s', 'UTF8') "
                 "AND features = '",
                 (int) rec->id.len, rec->id.ptr);
        vg_mpw_raw(&sql, head, strlen(head));
        vg_mpw_raw(&sql, jw.buf, jw.len); /* no quotes in these names or values */
        vg_mpw_raw(&sql, "'::jsonb", 9);
        assert_int_equal(s_sql_long("t_json", (const char *) sql.buf), 1);
    }
    vg_jw_fini(&jw);
    vg_mpw_fini(&sql);
    vg_mpw_fini(&enc);
    free(rec);
    s_batch_fini(&b);
    free(a);
    vg_pg_close(&pg);
}

static void test_malformed_refused(void **state)
{
    (void) state;
    vg_pg_t *pg = s_open_db("t_bad", NULL);
    vt_anom_t *a = s_anoms(3, 1, vg_wall_ms(), 1);
    t_batch_t b;
    s_batch(&b, a, 3);
    vg_str_t recs[3] = {b.recs[0], VG_STR_LIT("\x93\x01\x02\x03"), b.recs[2]};
    size_t ins = 0;
    assert_int_equal(vg_pg_insert(pg, recs, 3, &ins), VG_ERR_INVALID);
    assert_int_equal(ins, 1);                               /* the index of the bad record */
    recs[1] = (vg_str_t){b.recs[1].ptr, b.recs[1].len - 1}; /* truncated */
    assert_int_equal(vg_pg_insert(pg, recs, 3, &ins), VG_ERR_INVALID);
    assert_int_equal(ins, 1);
    uint8_t v2[4096];
    memcpy(v2, b.recs[2].ptr, b.recs[2].len);
    v2[1] = 2; /* record version 2 */
    recs[1] = b.recs[1];
    recs[2] = (vg_str_t){(const char *) v2, b.recs[2].len};
    assert_int_equal(vg_pg_insert(pg, recs, 3, &ins), VG_ERR_INVALID);
    assert_int_equal(ins, 2);
    assert_int_equal(s_count_all(pg), 0); /* nothing written */
    assert_int_equal(vg_pg_insert(pg, b.recs, 3, &ins), 0);
    assert_int_equal(ins, 3);
    s_batch_fini(&b);
    free(a);
    vg_pg_close(&pg);
}

/* ---- queries ---------------------------------------------------------------------- */

typedef struct {
    int n, stop_at; /* stop_at: return 9 after this many */
    int64_t ts[64];
    char ids[64][16];
} t_page_t;

static int s_page(void *arg, const vg_anomaly_rec_t *rec)
{
    t_page_t *p = arg;
    p->ts[p->n] = rec->ts_ms;
    snprintf(p->ids[p->n++], 16, "%.*s", (int) rec->id.len, rec->id.ptr);
    return p->n == p->stop_at ? 9 : 0;
}

static int s_bucket_sum(void *arg, const vg_anomaly_bucket_t *b)
{
    uint64_t *acc = arg;
    acc[0]++;
    acc[1] += b->total;
    acc[2] += b->by_severity[VG_SEV_CRITICAL];
    return 0;
}

static void test_query_get_stats(void **state)
{
    (void) state;
    vg_pg_t *pg = s_open_db("t_query", NULL);
    int64_t t0 = 1795514400000LL; /* 2026-11-24T10:00Z */
    vt_anom_t a[25];
    char id[16];
    for (int i = 0; i < 25; i++) { /* 5 per timestamp: ties broken by id, descending */
        snprintf(id, sizeof id, "k%02d", i);
        vt_anom_set(&a[i], vg_str_c(id), VG_STR_LIT("u1"), t0 + (i / 5) * 60000, 0.96, i % 3);
    }
    t_batch_t b;
    s_batch(&b, a, 25);
    assert_int_equal(vg_pg_insert(pg, b.recs, 25, NULL), 0);
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    q.limit = 10;
    char next[VG_ANOMALY_CURSOR_MAX + 1], cur[VG_ANOMALY_CURSOR_MAX + 1];
    t_page_t p = {.stop_at = 3};
    assert_int_equal(vg_pg_anomaly_query(pg, &q, s_page, &p, next, sizeof next), 9);
    assert_int_equal(p.n, 3);
    assert_string_equal(next, ""); /* the callback stopped it */
    q.from_ms = t0 + 60000;
    q.to_ms = t0 + 4 * 60000; /* minutes 1..3: 15 records */
    memset(&p, 0, sizeof p);
    assert_int_equal(vg_pg_anomaly_query(pg, &q, s_page, &p, next, sizeof next), 0);
    assert_int_equal(p.n, 10);
    assert_string_equal(p.ids[0], "k19");
    assert_string_equal(p.ids[4], "k15");
    assert_string_equal(p.ids[5], "k14");
    assert_int_equal(p.ts[5], t0 + 2 * 60000);
    assert_true(next[0]);
    strcpy(cur, next);
    q.cursor = vg_str_c(cur);
    memset(&p, 0, sizeof p);
    assert_int_equal(vg_pg_anomaly_query(pg, &q, s_page, &p, next, sizeof next), 0);
    assert_int_equal(p.n, 5);
    assert_string_equal(p.ids[0], "k09");
    assert_string_equal(p.ids[4], "k05");
    assert_string_equal(next, "");
    q.cursor = VG_STR_LIT("bogus");
    assert_int_equal(vg_pg_anomaly_query(pg, &q, s_page, &p, next, sizeof next), VG_ERR_INVALID);
    q.cursor = VG_STR_NULL;
    q.limit = 0;
    assert_int_equal(vg_pg_anomaly_query(pg, &q, s_page, &p, next, sizeof next), VG_ERR_INVALID);
    q.limit = 1001;
    assert_int_equal(vg_pg_anomaly_query(pg, &q, s_page, &p, next, sizeof next), VG_ERR_INVALID);
    q.limit = 5;
    assert_int_equal(vg_pg_anomaly_query(pg, &q, s_page, &p, next, 10), VG_ERR_INVALID);

    uint64_t acc[3] = {0};
    assert_int_equal(
        vg_pg_anomaly_stats(pg, t0 - 60000, t0 + 10 * 60000, 120000, s_bucket_sum, acc), 0);
    assert_int_equal(acc[0], 6); /* [t0-2m, t0+10m) in 2-minute buckets */
    assert_int_equal(acc[1], 25);
    assert_int_equal(acc[2], 25);
    assert_int_equal(vg_pg_anomaly_stats(pg, t0, t0, 60000, s_bucket_sum, acc), VG_ERR_INVALID);
    assert_int_equal(vg_pg_anomaly_stats(pg, t0, t0 + 1, 90000, s_bucket_sum, acc), VG_ERR_INVALID);
    assert_int_equal(vg_pg_anomaly_stats(pg, 0, t0, 60000, s_bucket_sum, acc), VG_ERR_LIMIT);
    s_batch_fini(&b);
    vg_pg_close(&pg);
}

/* anomaly_minutes holds exactly the counts of the stored rows (each row
 * counted once): 0 rows differ, either way. */
static long s_minutes_mismatch(const char *db)
{
    return s_sql_long(
        db, "WITH c AS (SELECT minute, total, sev_low, sev_medium, sev_high, sev_critical, "
            "dec_allow, dec_review, dec_block FROM anomaly_minutes), "
            "r AS (SELECT div((extract(epoch FROM ts) * 1000)::bigint, 60000) AS minute, count(*) "
            "AS total, count(*) FILTER (WHERE severity = 0) AS sev_low, count(*) FILTER (WHERE "
            "severity = 1) AS sev_medium, count(*) FILTER (WHERE severity = 2) AS sev_high, "
            "count(*) FILTER (WHERE severity = 3) AS sev_critical, count(*) FILTER (WHERE "
            "decision = 0) AS dec_allow, count(*) FILTER (WHERE decision = 1) AS dec_review, "
            "count(*) FILTER (WHERE decision = 2) AS dec_block FROM anomalies GROUP BY 1) "
            "SELECT (SELECT count(*) FROM (TABLE c EXCEPT TABLE r) x) + "
            "(SELECT count(*) FROM (TABLE r EXCEPT TABLE c) y)");
}

/* A batch that is all new goes through the fast path (COPY into the
 * table); one with a stored row (a redelivery) is redone through the
 * staging table: only the new rows are inserted and counted, no error. */
static void test_insert_fallback(void **state)
{
    (void) state;
    vg_pg_t *pg = s_open_db("t_fallback", NULL);
    int64_t t0 = (vg_wall_ms() / 60000) * 60000 - 7200000;
    vt_anom_t *a = s_anoms(400, 5000, t0, 20000); /* 3 per minute */
    t_batch_t b1, b2, b3, b4;
    s_batch(&b1, a, 100);
    s_batch(&b2, a + 60, 100); /* 40 stored, 60 new */
    s_batch(&b3, a + 200, 100);
    size_t ins = 0;
    assert_int_equal(vg_pg_insert(pg, b1.recs, b1.n, &ins), 0);
    assert_int_equal(ins, 100);
    assert_int_equal((int) s_metric(pg, "vigil_pg_insert_fallbacks_total"), 0);
    assert_int_equal(vg_pg_insert(pg, b2.recs, b2.n, &ins), 0);
    assert_int_equal(ins, 60);
    assert_int_equal((int) s_metric(pg, "vigil_pg_insert_fallbacks_total"), 1);
    assert_int_equal(vg_pg_insert(pg, b3.recs, b3.n, &ins), 0); /* fast again */
    assert_int_equal(ins, 100);
    assert_int_equal((int) s_metric(pg, "vigil_pg_insert_fallbacks_total"), 1);
    assert_int_equal((int) s_metric(pg, "vigil_pg_inserted_total"), 260);
    assert_int_equal((int) s_metric(pg, "vigil_pg_conflicts_total"), 40);
    assert_int_equal((int) s_metric(pg, "vigil_pg_errors_total"), 0);

    /* the same row twice in one batch: stored once */
    vg_str_t twice[2];
    twice[0] = twice[1] = s_batch_rec(a + 300, &b4);
    assert_int_equal(vg_pg_insert(pg, twice, 2, &ins), 0);
    assert_int_equal(ins, 1);
    assert_int_equal((int) s_metric(pg, "vigil_pg_insert_fallbacks_total"), 2);

    assert_int_equal(s_count_all(pg), 261);
    uint64_t acc[3] = {0};
    assert_int_equal(
        vg_pg_anomaly_stats(pg, t0 - 60000, t0 + 400 * 20000, 60000, s_bucket_sum, acc), 0);
    assert_int_equal(acc[1], 261); /* each row counted once */
    assert_int_equal(s_minutes_mismatch("t_fallback"), 0);
    assert_int_equal((int) s_metric(pg, "vigil_pg_errors_total"), 0);
    assert_int_equal(vt_pg_sql(&s_server, "t_fallback",
                               "UPDATE anomaly_minutes SET total = total + 1 "
                               "WHERE minute = (SELECT min(minute) FROM anomaly_minutes)",
                               NULL, 0),
                     0);
    assert_int_equal(s_minutes_mismatch("t_fallback"), 2); /* the check sees a difference */
    s_batch_fini(&b1);
    s_batch_fini(&b2);
    s_batch_fini(&b3);
    s_batch_fini(&b4);
    free(a);
    vg_pg_close(&pg);
}

/* ---- partitions and retention ------------------------------------------------------ */

static long s_parts(const char *db)
{
    return s_sql_long(db,
                      "SELECT count(*) FROM pg_inherits WHERE inhparent = 'anomalies'::regclass");
}

static bool s_has_part(const char *db, int64_t day)
{
    char name[VG__PG_PART_NAME_MAX], sql[200];
    vg__pg_part_name(day, name);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_class WHERE relname = '%s'", name);
    return s_sql_long(db, sql) == 1;
}

static void test_partitions_retention(void **state)
{
    (void) state;
    vg_pg_config_t cfg = {.partitions_ahead_days = 3};
    vg_pg_t *pg = s_open_db("t_part", &cfg);
    int64_t now = vg_wall_ms(), today = now / DAY_MS;
    assert_int_equal(s_parts("t_part"), 5); /* yesterday .. today + 3 */
    for (int64_t d = today - 1; d <= today + 3; d++) assert_true(s_has_part("t_part", d));
    assert_false(s_has_part("t_part", today + 4));

    vt_anom_t a[4];
    uint64_t rng = 7;
    vt_anom_random(&a[0], &rng, 1, 1, now - 10 * DAY_MS);
    vt_anom_random(&a[1], &rng, 2, 1, now - 5 * DAY_MS);
    vt_anom_random(&a[2], &rng, 3, 1, now);
    vt_anom_random(&a[3], &rng, 4, 1, now + 100 * DAY_MS);
    t_batch_t b;
    s_batch(&b, a, 4);
    size_t ins;
    assert_int_equal(vg_pg_insert(pg, b.recs, 4, &ins), 0); /* partitions made on demand */
    assert_int_equal(ins, 4);
    assert_true(s_has_part("t_part", today - 10));
    assert_true(s_has_part("t_part", today + 100));
    assert_int_equal(s_parts("t_part"), 8);

    vg_pg_config_t rcfg = {.partitions_ahead_days = 4, .retention_days = 7};
    vg_pg_t *keeper = s_reopen("t_part", &rcfg);
    assert_int_equal(vg_pg_maintain(keeper), 0);
    assert_false(s_has_part("t_part", today - 10));
    assert_true(s_has_part("t_part", today - 5));
    assert_true(s_has_part("t_part", today + 4));
    assert_int_equal(s_metric(keeper, "vigil_pg_partitions_dropped_total"), 1);
    assert_int_equal(s_count_all(pg), 3);
    uint64_t acc[3] = {0};
    assert_int_equal(vg_pg_anomaly_stats(pg, (today - 10) * DAY_MS, (today - 9) * DAY_MS, DAY_MS,
                                         s_bucket_sum, acc),
                     0);
    assert_int_equal(acc[0], 1);
    assert_int_equal(acc[1], 0); /* its counters went with it */
    assert_int_equal(vg_pg_anomaly_get(pg, a[0].tx.id, s_one, &(t_one_t){0}), VG_ERR_NOT_FOUND);

    /* the other handle's cache still lists the dropped day: recreated on demand */
    assert_int_equal(vg_pg_insert(pg, b.recs, 1, &ins), 0);
    assert_int_equal(ins, 1);
    assert_true(s_has_part("t_part", today - 10));
    assert_int_equal(vg_pg_maintain(keeper), 0);
    assert_false(s_has_part("t_part", today - 10));
    assert_int_equal(s_metric(pg, "vigil_pg_insert_fallbacks_total"), 0);

    /* both at once, either order: a stored row (fallback) and a row whose
     * partition was dropped behind the cache (reload, recreate) */
    vg_str_t mixed[2] = {b.recs[2], b.recs[0]};
    for (int order = 0; order < 2; order++) {
        assert_int_equal(vg_pg_insert(pg, mixed, 2, &ins), 0);
        assert_int_equal(ins, 1);
        assert_true(s_has_part("t_part", today - 10));
        assert_int_equal(s_metric(pg, "vigil_pg_insert_fallbacks_total"), order + 1);
        assert_int_equal(vg_pg_maintain(keeper), 0);
        assert_false(s_has_part("t_part", today - 10));
        mixed[0] = b.recs[0], mixed[1] = b.recs[2];
    }
    assert_int_equal(s_metric(pg, "vigil_pg_errors_total"), 0);
    assert_int_equal(vg_pg_maintain(keeper), 0); /* idempotent */
    assert_int_equal(s_count_all(pg), 3);
    s_batch_fini(&b);
    vg_pg_close(&keeper);
    vg_pg_close(&pg);
}

/* ---- pool under threads -------------------------------------------------------------- */

typedef struct {
    vg_pg_t *pg;
    int idx, failures;
} t_worker_t;

static void *s_worker(void *arg)
{
    t_worker_t *w = arg;
    int64_t t0 = vg_wall_ms();
    for (int k = 0; k < 10; k++) {
        vt_anom_t *a = s_anoms(50, (uint64_t) (w->idx * 100000 + k * 50), t0, 3);
        t_batch_t b;
        s_batch(&b, a, 50);
        size_t ins = 0;
        if (vg_pg_insert(w->pg, b.recs, 50, &ins) || ins != 50) w->failures++;
        vg_anomaly_query_t q;
        vg_anomaly_query_init(&q);
        q.user_id = VG_STR_LIT("u2");
        size_t n = 0;
        char next[VG_ANOMALY_CURSOR_MAX + 1];
        if (vg_pg_anomaly_query(w->pg, &q, s_count_fn, &n, next, sizeof next)) w->failures++;
        s_batch_fini(&b);
        free(a);
    }
    return NULL;
}

static void test_pool_threads(void **state)
{
    (void) state;
    vg_pg_config_t cfg = {.pool_size = 2};
    vg_pg_t *pg = s_open_db("t_pool", &cfg);
    t_worker_t w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (t_worker_t){pg, i + 1, 0};
        pthread_create(&th[i], NULL, s_worker, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(s_count_all(pg), 4 * 10 * 50);
    assert_int_equal((int) s_metric(pg, "vigil_pg_pool_in_use"), 0);
    vg_pg_close(&pg);
}

/* ---- open errors, explain ---------------------------------------------------------------- */

/* The DSN's own settings win over the module's defaults (connect_timeout,
 * application_name). */
static void test_dsn_overrides_defaults(void **state)
{
    (void) state;
    char dsn[256];
    assert_int_equal(vt_pg_createdb(&s_server, "t_dsn", dsn), 0);
    strcat(dsn, " application_name=vt_custom");
    vg_pg_config_t cfg = {.dsn = dsn};
    vg_pg_t *pg = NULL;
    assert_int_equal(vg_pg_open(&cfg, &pg, NULL, 0), 0);
    assert_int_equal(s_sql_long(NULL, "SELECT count(*) FROM pg_stat_activity "
                                      "WHERE application_name = 'vt_custom'"),
                     1);
    vg_pg_close(&pg);
}

static void test_open_errors(void **state)
{
    (void) state;
    vg_pg_t *pg = (vg_pg_t *) 1;
    char err[256] = "";
    assert_int_equal(vg_pg_open(NULL, &pg, err, sizeof err), VG_ERR_INVALID);
    assert_null(pg);
    vg_pg_config_t cfg = {0};
    assert_int_equal(vg_pg_open(&cfg, &pg, err, sizeof err), VG_ERR_INVALID);
    cfg = (vg_pg_config_t){.dsn = "host=127.0.0.1 port=1 user=postgres", .connect_wait_ms = 300};
    uint64_t t0 = vg_now_ns();
    err[0] = 0;
    assert_int_equal(vg_pg_open(&cfg, &pg, err, sizeof err), VG_ERR_UNREACHABLE);
    uint64_t ms = (vg_now_ns() - t0) / 1000000;
    assert_true(ms >= 250 && ms < 5000);
    assert_non_null(strstr(err, "cannot connect"));
    assert_null(pg);

    /* a failed migration: rolled back, reported, and the lock is released */
    char dsn[256];
    assert_int_equal(vt_pg_createdb(&s_server, "t_badmig", dsn), 0);
    assert_int_equal(vt_pg_sql(&s_server, "t_badmig", "CREATE TABLE anomalies (x int)", NULL, 0),
                     0);
    cfg = (vg_pg_config_t){.dsn = dsn};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(vg_pg_open(&cfg, &pg, err, sizeof err), VG_ERR_STORAGE);
        assert_non_null(strstr(err, "migrations failed"));
    }
    assert_int_equal(s_sql_long("t_badmig", "SELECT count(*) FROM schema_migrations"), 0);
}

static void test_explain_uses_indexes(void **state)
{
    (void) state;
    vg_pg_t *pg = s_open_db("t_explain", NULL);
    vt_anom_t *a = s_anoms(200, 1, vg_wall_ms() - 100000, 500);
    t_batch_t b;
    s_batch(&b, a, 200);
    assert_int_equal(vg_pg_insert(pg, b.recs, 200, NULL), 0);
    char plan[8192];
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    assert_int_equal(vg_pg_explain(pg, &q, VG_STR_NULL, plan, sizeof plan), 0);
    assert_non_null(strstr(plan, "Index Scan Backward"));
    q.user_id = VG_STR_LIT("u3");
    assert_int_equal(vg_pg_explain(pg, &q, VG_STR_NULL, plan, sizeof plan), 0);
    assert_non_null(strstr(plan, "user_id_ts_anomaly_id_idx"));
    assert_int_equal(vg_pg_explain(pg, NULL, VG_STR_LIT("a5"), plan, sizeof plan), 0);
    if (!strstr(plan, "anomaly_id_ts_idx")) fail_msg("%s", plan);
    s_batch_fini(&b);
    free(a);
    vg_pg_close(&pg);
}

/* ---- reconnect (stops the shared server: runs last) -------------------------------------------
 */

static void test_reconnect(void **state)
{
    (void) state;
    vg_pg_config_t cfg = {.pool_size = 2};
    vg_pg_t *pg = s_open_db("t_reconnect", &cfg);
    int64_t t0 = vg_wall_ms();
    vt_anom_t *a = s_anoms(30, 1, t0, 10);
    t_batch_t b1, b2, b3;
    s_batch(&b1, a, 10);
    s_batch(&b2, a + 10, 10);
    s_batch(&b3, a + 20, 10);
    assert_int_equal(vg_pg_insert(pg, b1.recs, 10, NULL), 0);
    assert_true(vg_pg_healthy(pg));

    assert_int_equal(vt_pg_stop(&s_server), 0);
    size_t ins;
    assert_int_equal(vg_pg_insert(pg, b2.recs, 10, &ins), VG_ERR_UNREACHABLE);
    assert_false(vg_pg_healthy(pg));
    assert_int_equal(vg_pg_insert(pg, b2.recs, 10, &ins), VG_ERR_UNREACHABLE);
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    char next[VG_ANOMALY_CURSOR_MAX + 1];
    size_t n = 0;
    assert_int_equal(vg_pg_anomaly_query(pg, &q, s_count_fn, &n, next, sizeof next),
                     VG_ERR_UNREACHABLE);
    assert_int_equal(vg_pg_anomaly_get(pg, VG_STR_LIT("a1"), s_one, &(t_one_t){0}),
                     VG_ERR_UNREACHABLE);
    assert_int_equal(vg_pg_maintain(pg), VG_ERR_UNREACHABLE);

    assert_int_equal(vt_pg_restart(&s_server), 0);
    int rc = -1;
    uint64_t deadline = vg_now_ns() + 15000000000ull;
    while ((rc = vg_pg_insert(pg, b2.recs, 10, &ins)) == VG_ERR_UNREACHABLE &&
           vg_now_ns() < deadline)
        usleep(50000);
    assert_int_equal(rc, 0);
    assert_int_equal(ins, 10);
    assert_true(vg_pg_healthy(pg));
    assert_int_equal(vg_pg_insert(pg, b3.recs, 10, &ins), 0);
    assert_int_equal(s_count_all(pg), 30);
    assert_true(s_metric(pg, "vigil_pg_reconnects_total") >= 1);
    assert_true(s_metric(pg, "vigil_pg_errors_total") >= 1);
    s_batch_fini(&b1);
    s_batch_fini(&b2);
    s_batch_fini(&b3);
    free(a);
    vg_pg_close(&pg);
}

/* ---- wire forms (no server) ------------------------------------------------------------------ */

static void test_text_and_names(void **state)
{
    (void) state;
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg__pg_text(&w, VG_STR_LIT("ok \xc3\xa9"));
    assert_int_equal(w.len, 5);
    vg_mpw_reset(&w);
    vg__pg_text(&w, (vg_str_t){"a\0\xff\xc3", 4});
    assert_int_equal(w.len, 10);
    assert_memory_equal(w.buf, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 10);
    vg_mpw_fini(&w);
    char name[VG__PG_PART_NAME_MAX];
    int64_t day;
    vg__pg_part_name(1795514400000LL / DAY_MS, name);
    assert_string_equal(name, "anomalies_p20261124");
    assert_true(vg__pg_part_day(name, &day));
    assert_int_equal(day, 1795514400000LL / DAY_MS);
    assert_false(vg__pg_part_day("anomalies_p20261131", &day));
    assert_false(vg__pg_part_day("anomalies_p2026112", &day));
    assert_false(vg__pg_part_day("other_p20261124", &day));
    vg__pg_part_name(VG_TX_TS_MAX / DAY_MS, name);
    assert_string_equal(name, "anomalies_p99991231");
    assert_int_equal(vg__pg_ts_to_ms(vg__pg_ts_from_ms(1795514400123LL)), 1795514400123LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_names),         cmocka_unit_test(test_migrations_twice),
        cmocka_unit_test(test_migrations_concurrent),  cmocka_unit_test(test_insert_dedupe),
        cmocka_unit_test(test_malformed_refused),      cmocka_unit_test(test_query_get_stats),
        cmocka_unit_test(test_insert_fallback),        cmocka_unit_test(test_json_columns),
        cmocka_unit_test(test_partitions_retention),   cmocka_unit_test(test_pool_threads),
        cmocka_unit_test(test_dsn_overrides_defaults), cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_explain_uses_indexes),   cmocka_unit_test(test_reconnect),
    };
    return cmocka_run_group_tests(tests, s_setup_server, s_teardown_server);
}
