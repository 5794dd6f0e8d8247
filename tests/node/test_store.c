/* test_store.c: the LMDB store on a real environment in a temp dir:
 * user/seen round trips, restart continuity, aborted batches, the anomaly
 * store (get, idempotent put, keyset paging, filters, scan cap, trend
 * buckets), shard scans, open errors, and group-commit throughput. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_err.h"
#include "vg_store.h"
#include "vg_time.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0  1795514400000LL /* 2026-11-24T10:00:00Z, a whole minute */
#define MIN 60000LL

/* ---- fixture: a store in a fresh temp dir ------------------------------ */

typedef struct {
    char dir[64];
    vg_store_t *s;
} t_fix_t;

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    return remove(path);
}

static void s_open(t_fix_t *f)
{
    vg_store_config_t cfg = {.dir = f->dir, .map_size = 1u << 30};
    char err[256];
    int rc = vg_store_open(&cfg, &f->s, err, sizeof err);
    if (rc) fail_msg("open %s: %s", f->dir, err);
}

static int s_setup(void **state)
{
    t_fix_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/vg_store_test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    s_open(f);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    t_fix_t *f = *state;
    vg_store_close(&f->s);
    assert_null(f->s);
    nftw(f->dir, s_rm_one, 8, FTW_DEPTH | FTW_PHYS);
    assert_int_not_equal(access(f->dir, F_OK), 0);
    free(f);
    return 0;
}

/* ---- anomaly builder ---------------------------------------------------- */

typedef struct {
    char id[32], user[32];
    vg_tx_t tx;
    vg_features_t f;
    vg_verdict_t v;
    vg_anomaly_t a;
} t_anom_t;

/* One anomaly: id, user, event time, score, decision, and a reason of
 * detector det (feature = rule name when det is "rule"). */
static t_anom_t *s_anom(const char *id, const char *user, int64_t ts_ms, double score, int decision,
                        const char *det, const char *feature)
{
    static t_anom_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "%s", id);
    snprintf(t.user, sizeof t.user, "%s", user);
    vg_tx_init(&t.tx);
    t.tx.id = vg_str_c(t.id);
    t.tx.user_id = vg_str_c(t.user);
    t.tx.amount = 100;
    t.tx.ts_ms = ts_ms;
    memcpy(t.tx.currency, "USD", 4);
    double *fv = (double *) &t.f;
    for (int i = 0; i < VG_FEATURE_COUNT; i++) fv[i] = i;
    t.v.id = t.tx.id;
    t.v.anomaly = true;
    t.v.score = score;
    t.v.decision = (uint8_t) decision;
    t.v.n_reasons = 1;
    t.v.reasons[0] = (vg_reason_t){vg_str_c(det), vg_str_c(feature), 1, 2, 3, 1};
    t.a = (vg_anomaly_t){.tx = &t.tx, .features = &t.f, .verdict = &t.v, .detected_ms = ts_ms + 5};
    return &t;
}

static void s_put_anom(vg_store_batch_t *b, const t_anom_t *t)
{
    assert_int_equal(vg_store_put_anomaly(b, &t->a), 0);
}

/* Collects query results (ids copied: records are borrowed). */
typedef struct {
    int n;
    char ids[1200][32];
    int64_t ts[1200];
    vg_anomaly_rec_t last; /* slices invalid after the callback */
    int stop_after;        /* nonzero: return 7 after this many */
} t_col_t;

static int s_collect(void *arg, const vg_anomaly_rec_t *rec)
{
    t_col_t *c = arg;
    assert_true(c->n < 1200);
    snprintf(c->ids[c->n], 32, "%.*s", (int) rec->id.len, rec->id.ptr);
    c->ts[c->n++] = rec->ts_ms;
    c->last = *rec;
    return c->stop_after && c->n >= c->stop_after ? 7 : 0;
}

static int s_query(vg_store_t *s, const vg_anomaly_query_t *q, uint32_t max_scan, t_col_t *c,
                   char *next)
{
    return vg_store_anomaly_query(s, q, max_scan, s_collect, c, next, VG_STORE_CURSOR_MAX + 1);
}

/* ---- users and seen ------------------------------------------------------ */

static void test_users_seen_round_trip(void **state)
{
    t_fix_t *f = *state;
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    assert_int_equal(vg_store_put_user(b, 5, VG_STR_LIT("alice"), "state-1", 7), 0);
    assert_int_equal(vg_store_put_seen(b, 5, 1000, VG_STR_LIT("tx-1"), "\x93\x01\x02\x03", 4), 0);
    assert_int_equal(vg_store_put_user(b, 70000, VG_STR_LIT("bob"), "x", 1), VG_ERR_INVALID);
    assert_int_equal(vg_store_put_user(b, 1, VG_STR_NULL, "x", 1), VG_ERR_INVALID);
    char big[300];
    memset(big, 'k', sizeof big);
    assert_int_equal(vg_store_put_seen(b, 1, 1000, (vg_str_t){big, sizeof big}, "x", 1),
                     VG_ERR_INVALID);
    assert_int_equal(vg_store_batch_commit(&b), 0); /* argument errors do not poison it */
    assert_null(b);

    vg_store_reader_t *r = vg_store_reader_new(f->s);
    const void *val;
    size_t len;
    assert_int_equal(vg_store_reader_begin(r), 0);
    assert_int_equal(vg_store_get_user(r, 5, VG_STR_LIT("alice"), &val, &len), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(val, "state-1", 7);
    assert_int_equal(vg_store_get_seen(r, 5, 1000, VG_STR_LIT("tx-1"), &val, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(val, "\x93\x01\x02\x03", 4);
    assert_int_equal(vg_store_get_user(r, 6, VG_STR_LIT("alice"), &val, &len), VG_ERR_NOT_FOUND);
    assert_int_equal(vg_store_get_user(r, 5, VG_STR_LIT("alic"), &val, &len), VG_ERR_NOT_FOUND);
    assert_int_equal(vg_store_get_seen(r, 5, 1000, VG_STR_LIT("alice"), &val, &len),
                     VG_ERR_NOT_FOUND);
    /* the key is (shard, event time, id): another timestamp is another transaction */
    assert_int_equal(vg_store_get_seen(r, 5, 1001, VG_STR_LIT("tx-1"), &val, &len),
                     VG_ERR_NOT_FOUND);
    assert_int_equal(vg_store_get_seen(r, 6, 1000, VG_STR_LIT("tx-1"), &val, &len),
                     VG_ERR_NOT_FOUND);

    /* the snapshot holds while a newer value commits; renew sees it */
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    assert_int_equal(vg_store_put_user(b, 5, VG_STR_LIT("alice"), "state-22", 8), 0);
    assert_int_equal(vg_store_batch_commit(&b), 0);
    assert_int_equal(vg_store_get_user(r, 5, VG_STR_LIT("alice"), &val, &len), 0);
    assert_int_equal(len, 7);
    vg_store_reader_end(r);
    assert_int_equal(vg_store_reader_begin(r), 0);
    assert_int_equal(vg_store_get_user(r, 5, VG_STR_LIT("alice"), &val, &len), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(val, "state-22", 8);
    vg_store_reader_end(r);
    vg_store_reader_destroy(&r);
    assert_null(r);
    vg_store_reader_destroy(&r); /* NULL-safe */
}

/* Everything committed is there after close + reopen. */
static void test_restart_continuity(void **state)
{
    t_fix_t *f = *state;
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    assert_int_equal(vg_store_put_user(b, 9, VG_STR_LIT("carol"), "persisted", 9), 0);
    assert_int_equal(vg_store_put_seen(b, 9, 1000, VG_STR_LIT("tx-9"), "v", 1), 0);
    s_put_anom(b, s_anom("a-1", "carol", T0, 0.99, VG_DECISION_BLOCK, "mad", "amount"));
    assert_int_equal(vg_store_batch_commit(&b), 0);
    vg_store_close(&f->s);
    assert_null(f->s);
    vg_store_close(&f->s); /* NULL-safe */
    s_open(f);

    vg_store_reader_t *r = vg_store_reader_new(f->s);
    const void *val;
    size_t len;
    assert_int_equal(vg_store_reader_begin(r), 0);
    assert_int_equal(vg_store_get_user(r, 9, VG_STR_LIT("carol"), &val, &len), 0);
    assert_memory_equal(val, "persisted", 9);
    assert_int_equal(vg_store_get_seen(r, 9, 1000, VG_STR_LIT("tx-9"), &val, &len), 0);
    vg_store_reader_end(r);
    vg_store_reader_destroy(&r);
    t_col_t *c = calloc(1, sizeof *c);
    assert_int_equal(vg_store_anomaly_get(f->s, VG_STR_LIT("a-1"), s_collect, c), 0);
    assert_int_equal(c->n, 1);
    vg_store_stats_t st;
    vg_store_stats(f->s, &st);
    assert_int_equal(st.users, 1);
    assert_int_equal(st.seen, 1);
    assert_int_equal(st.anomalies, 1);
    free(c);
}

static int s_count_bucket(void *arg, const vg_anomaly_bucket_t *bk)
{
    *(uint64_t *) arg += bk->total;
    return 0;
}

static void test_aborted_batch_writes_nothing(void **state)
{
    t_fix_t *f = *state;
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    assert_int_equal(vg_store_put_user(b, 1, VG_STR_LIT("dave"), "s", 1), 0);
    assert_int_equal(vg_store_put_seen(b, 1, 1000, VG_STR_LIT("tx-d"), "v", 1), 0);
    s_put_anom(b, s_anom("a-d", "dave", T0, 0.9, VG_DECISION_BLOCK, "mad", "amount"));
    vg_store_batch_abort(&b);
    assert_null(b);
    vg_store_batch_abort(&b); /* NULL-safe */

    vg_store_reader_t *r = vg_store_reader_new(f->s);
    const void *val;
    size_t len;
    assert_int_equal(vg_store_reader_begin(r), 0);
    assert_int_equal(vg_store_get_user(r, 1, VG_STR_LIT("dave"), &val, &len), VG_ERR_NOT_FOUND);
    assert_int_equal(vg_store_get_seen(r, 1, 1000, VG_STR_LIT("tx-d"), &val, &len),
                     VG_ERR_NOT_FOUND);
    vg_store_reader_end(r);
    vg_store_reader_destroy(&r);
    t_col_t *c = calloc(1, sizeof *c);
    assert_int_equal(vg_store_anomaly_get(f->s, VG_STR_LIT("a-d"), s_collect, c), VG_ERR_NOT_FOUND);
    uint64_t total = 0;
    assert_int_equal(vg_store_anomaly_stats(f->s, T0, T0 + MIN, MIN, s_count_bucket, &total), 0);
    assert_int_equal(total, 0);
    vg_store_stats_t st;
    vg_store_stats(f->s, &st);
    assert_int_equal(st.users + st.seen + st.anomalies, 0);
    assert_int_equal(st.commits, 0);
    free(c);
}

/* ---- anomalies ------------------------------------------------------------ */

/* Slices checked while valid. */
static int s_check_full(void *arg, const vg_anomaly_rec_t *rec)
{
    (void) arg;
    assert_true(vg_str_eq_c(rec->user_id, "erin"));
    assert_true(vg_str_eq_c(rec->tx.merchant_id, "m-9"));
    assert_true(vg_str_eq_c(rec->tx.merchant_category, "7995"));
    assert_true(vg_str_eq_c(rec->tx.channel, "app"));
    assert_true(vg_str_eq_c(rec->tx.device_id, "d-1"));
    assert_true(vg_str_eq_c(rec->tx.ip, "2001:db8::7"));
    assert_true(vg_str_eq_c(rec->tx.attrs[0].str, "vip"));
    bool speed = false, dist = false;
    for (uint32_t i = 0; i < rec->n_features; i++) {
        if (vg_str_eq_c(rec->feature_names[i], "speed_kmh")) speed = rec->feature_values[i] == 950;
        if (vg_str_eq_c(rec->feature_names[i], "distance_km")) dist = isnan(rec->feature_values[i]);
    }
    assert_true(speed && dist);
    assert_true(vg_str_eq_c(rec->reasons[0].detector, "rule"));
    assert_true(vg_str_eq_c(rec->reasons[0].feature, "big_eu"));
    assert_true(vg_str_eq_c(rec->reasons[1].detector, "travel"));
    assert_true(rec->reasons[1].threshold == 900);
    return 42;
}

static void test_anomaly_get_all_fields(void **state)
{
    t_fix_t *f = *state;
    t_anom_t *t = s_anom("a-full", "erin", T0 + 1234, 0.97, VG_DECISION_BLOCK, "rule", "big_eu");
    t->tx.amount = 9876.5;
    t->tx.ingest_ms = T0 + 2000;
    memcpy(t->tx.country, "FR", 3);
    t->tx.merchant_id = VG_STR_LIT("m-9");
    t->tx.merchant_category = VG_STR_LIT("7995");
    t->tx.channel = VG_STR_LIT("app");
    t->tx.device_id = VG_STR_LIT("d-1");
    t->tx.ip = VG_STR_LIT("2001:db8::7");
    t->tx.lat = 48.85;
    t->tx.lon = 2.35;
    t->tx.n_attrs = 1;
    t->tx.attrs[0] =
        (vg_tx_attr_t){.key = VG_STR_LIT("tier"), .str = VG_STR_LIT("vip"), .kind = VG_ATTR_STR};
    t->f.speed_kmh = 950;
    t->f.distance_km = NAN;
    t->v.n_reasons = 2;
    t->v.reasons[1] = (vg_reason_t){VG_STR_LIT("travel"), VG_STR_LIT("speed_kmh"), 950, 0, 900, .5};
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    s_put_anom(b, t);
    assert_int_equal(vg_store_batch_commit(&b), 0);

    t_col_t *c = calloc(1, sizeof *c);
    assert_int_equal(vg_store_anomaly_get(f->s, VG_STR_LIT("a-full"), s_collect, c), 0);
    assert_int_equal(c->n, 1);
    assert_string_equal(c->ids[0], "a-full");
    assert_true(c->last.ts_ms == T0 + 1234);
    assert_true(c->last.detected_ms == T0 + 1234 + 5);
    assert_true(c->last.score == 0.97);
    assert_int_equal(c->last.decision, VG_DECISION_BLOCK);
    assert_int_equal(c->last.severity, VG_SEV_CRITICAL);
    assert_true(c->last.tx.amount == 9876.5);
    assert_string_equal(c->last.tx.country, "FR");
    assert_true(c->last.tx.lat == 48.85 && c->last.tx.lon == 2.35);
    assert_true(c->last.tx.ingest_ms == T0 + 2000);
    assert_int_equal(c->last.tx.n_attrs, 1);
    assert_int_equal(c->last.n_features, VG_FEATURE_COUNT);
    assert_int_equal(c->last.n_reasons, 2);
    /* the slices, inside the callback where they are valid; its value returns */
    assert_int_equal(vg_store_anomaly_get(f->s, VG_STR_LIT("a-full"), s_check_full, NULL), 42);
    assert_int_equal(vg_store_anomaly_get(f->s, VG_STR_LIT("a-none"), s_collect, c),
                     VG_ERR_NOT_FOUND);
    free(c);
}

static void test_duplicate_put_is_idempotent(void **state)
{
    t_fix_t *f = *state;
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    s_put_anom(b, s_anom("dup", "frank", T0, 0.9, VG_DECISION_BLOCK, "mad", "amount"));
    s_put_anom(b, s_anom("dup", "frank", T0 + 5, 0.5, VG_DECISION_ALLOW, "iqr", "amount"));
    assert_int_equal(vg_store_batch_commit(&b), 0);
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    s_put_anom(b, s_anom("dup", "gina", T0 + 9 * MIN, 0.75, VG_DECISION_REVIEW, "mad", "x"));
    assert_int_equal(vg_store_batch_commit(&b), 0);

    t_col_t *c = calloc(1, sizeof *c);
    assert_int_equal(vg_store_anomaly_get(f->s, VG_STR_LIT("dup"), s_collect, c), 0);
    assert_true(c->last.score == 0.9 && c->last.ts_ms == T0);
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    char next[VG_STORE_CURSOR_MAX + 1];
    c->n = 0;
    assert_int_equal(s_query(f->s, &q, 0, c, next), 0);
    assert_int_equal(c->n, 1);
    uint64_t total = 0;
    assert_int_equal(vg_store_anomaly_stats(f->s, T0, T0 + 10 * MIN, MIN, s_count_bucket, &total),
                     0);
    assert_int_equal(total, 1);
    vg_store_stats_t st;
    vg_store_stats(f->s, &st);
    assert_int_equal(st.anomalies, 1);
    free(c);
}

/* n anomalies "p<i>" of user "u<i % users>", one per second, except that
 * each i with i % 3 == 1 shares the time of i - 1 (ties ordered by id);
 * decision i % 3, detector "mad" for odd i else "zscore", score
 * 0.70/0.79/0.88/0.97 by i % 4 (medium, medium, high, critical). */
static void s_fill(vg_store_t *s, int n, int users)
{
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(s, &b), 0);
    for (int i = 0; i < n; i++) {
        char id[16], user[16];
        snprintf(id, sizeof id, "p%03d", i);
        snprintf(user, sizeof user, "u%d", i % users);
        int64_t ts = T0 + (i - (i % 3 == 1)) * 1000LL;
        s_put_anom(b, s_anom(id, user, ts, 0.7 + (i % 4) * 0.09, i % 3, i % 2 ? "mad" : "zscore",
                             "amount"));
    }
    assert_int_equal(vg_store_batch_commit(&b), 0);
}

static void test_query_paging(void **state)
{
    t_fix_t *f = *state;
    s_fill(f->s, 25, 3);
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    q.limit = 10;
    t_col_t *c = calloc(1, sizeof *c);
    char next[VG_STORE_CURSOR_MAX + 1], cur[VG_STORE_CURSOR_MAX + 1];
    int pages = 0, sizes[4] = {0};
    do {
        int before = c->n;
        assert_int_equal(s_query(f->s, &q, 0, c, next), 0);
        assert_true(strlen(next) <= VG_STORE_CURSOR_MAX);
        sizes[pages++] = c->n - before;
        strcpy(cur, next);
        q.cursor = vg_str_c(cur);
    } while (next[0] && pages < 4);
    assert_int_equal(pages, 3);
    assert_int_equal(sizes[0], 10);
    assert_int_equal(sizes[1], 10);
    assert_int_equal(sizes[2], 5);
    assert_int_equal(c->n, 25);
    /* newest first; ties (same time) by id descending; each exactly once */
    for (int i = 1; i < c->n; i++)
        assert_true(c->ts[i - 1] > c->ts[i] ||
                    (c->ts[i - 1] == c->ts[i] && strcmp(c->ids[i - 1], c->ids[i]) > 0));
    int seen[25] = {0};
    for (int i = 0; i < c->n; i++) seen[atoi(c->ids[i] + 1)]++;
    for (int i = 0; i < 25; i++) assert_int_equal(seen[i], 1);

    /* an exact multiple of the limit: the last full page says "no more" */
    vg_anomaly_query_init(&q);
    q.limit = 25;
    c->n = 0;
    assert_int_equal(s_query(f->s, &q, 0, c, next), 0);
    assert_int_equal(c->n, 25);
    assert_string_equal(next, "");

    /* a callback that stops the walk: its value comes back, no cursor */
    q.limit = 10;
    c->n = 0;
    c->stop_after = 3;
    assert_int_equal(s_query(f->s, &q, 0, c, next), 7);
    assert_int_equal(c->n, 3);
    assert_string_equal(next, "");
    free(c);
}

/* A query without filters and the largest page. */
static void s_query_all(vg_anomaly_query_t *q)
{
    vg_anomaly_query_init(q);
    q->limit = 1000;
}

/* Runs q (one page) and expects n records "p<i>" with lo <= i % mod <= hi. */
static void s_expect_ids(vg_store_t *s, const vg_anomaly_query_t *q, t_col_t *c, int n, int mod,
                         int lo, int hi)
{
    char next[VG_STORE_CURSOR_MAX + 1];
    c->n = 0;
    assert_int_equal(s_query(s, q, 0, c, next), 0);
    assert_int_equal(c->n, n);
    for (int i = 0; i < c->n; i++) {
        int r = atoi(c->ids[i] + 1) % mod;
        assert_true(r >= lo && r <= hi);
    }
}

static void test_query_filters(void **state)
{
    t_fix_t *f = *state;
    s_fill(f->s, 60, 3);
    t_col_t *c = calloc(1, sizeof *c);
    char next[VG_STORE_CURSOR_MAX + 1];
    vg_anomaly_query_t q;

#define RUN(max_scan)                                                \
    do {                                                             \
        c->n = 0;                                                    \
        assert_int_equal(s_query(f->s, &q, (max_scan), c, next), 0); \
    } while (0)

    /* user_id; min_severity: scores 0.70, 0.79, 0.88, 0.97 -> medium,
     * medium, high, critical; detector; decision */
    s_query_all(&q);
    q.user_id = VG_STR_LIT("u1");
    s_expect_ids(f->s, &q, c, 20, 3, 1, 1);
    s_query_all(&q);
    q.min_severity = VG_SEV_HIGH;
    s_expect_ids(f->s, &q, c, 30, 4, 2, 3);
    s_query_all(&q);
    q.detector = VG_STR_LIT("mad");
    s_expect_ids(f->s, &q, c, 30, 2, 1, 1);
    s_query_all(&q);
    q.decision = VG_DECISION_BLOCK;
    s_expect_ids(f->s, &q, c, 20, 3, 2, 2);
    /* from (inclusive) / to (exclusive): [10 s, 19 s) holds p011..p019
     * (p010 is at 9 s, p019 at 18 s tied with p018) */
    vg_anomaly_query_init(&q);
    q.from_ms = T0 + 10000;
    q.to_ms = T0 + 19000;
    q.limit = 1000;
    RUN(0);
    assert_int_equal(c->n, 9);
    for (int i = 0; i < c->n; i++) assert_true(c->ts[i] >= q.from_ms && c->ts[i] < q.to_ms);
    assert_string_equal(c->ids[0], "p019");
    assert_string_equal(c->ids[1], "p018");
    assert_string_equal(c->ids[c->n - 1], "p011");
    /* combined and paged: user u2, block, from 30 s, 2 a page */
    vg_anomaly_query_init(&q);
    q.user_id = VG_STR_LIT("u2");
    q.decision = VG_DECISION_BLOCK;
    q.from_ms = T0 + 30000;
    q.limit = 2;
    char cur[VG_STORE_CURSOR_MAX + 1];
    int total = 0, pages = 0;
    do {
        RUN(0);
        total += c->n;
        pages++;
        strcpy(cur, next);
        q.cursor = vg_str_c(cur);
    } while (next[0] && pages < 20);
    assert_int_equal(total, 10); /* i % 3 == 2, i >= 30, i < 60 */

    /* rule: only a rule reason with that name counts */
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    s_put_anom(b, s_anom("r-1", "u9", T0 + 500, 0.8, 1, "rule", "night_owl"));
    s_put_anom(b, s_anom("r-2", "u9", T0 + 600, 0.8, 1, "rule", "big_eu"));
    s_put_anom(b, s_anom("r-3", "u9", T0 + 700, 0.8, 1, "mad", "night_owl"));
    assert_int_equal(vg_store_batch_commit(&b), 0);
    vg_anomaly_query_init(&q);
    q.rule = VG_STR_LIT("night_owl");
    RUN(0);
    assert_int_equal(c->n, 1);
    assert_string_equal(c->ids[0], "r-1");
    q.detector = VG_STR_LIT("rule");
    q.rule = VG_STR_NULL;
    RUN(0);
    assert_int_equal(c->n, 2);
    free(c);
#undef RUN
}

/* A user query walks the by-user index: a scan cap far below the number of
 * other users' newer records still finds all of the user's records. Ids
 * that prefix each other, or hold a NUL byte, stay apart. */
static void test_query_user_uses_index(void **state)
{
    t_fix_t *f = *state;
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    s_put_anom(b, s_anom("old-1", "zed", T0, 0.8, 1, "mad", "amount"));
    s_put_anom(b, s_anom("old-2", "zed", T0 + 1, 0.8, 1, "mad", "amount"));
    s_put_anom(b, s_anom("old-3", "zed", T0 + 2, 0.8, 1, "mad", "amount"));
    s_put_anom(b, s_anom("zz-1", "zedd", T0 + 3, 0.8, 1, "mad", "amount"));
    t_anom_t *t = s_anom("nul-1", "zed", T0 + 4, 0.8, 1, "mad", "amount");
    t->tx.user_id.len = 5; /* "zed\0x": a NUL inside the id */
    t->user[4] = 'x';
    s_put_anom(b, t);
    assert_int_equal(vg_store_batch_commit(&b), 0);
    s_fill(f->s, 300, 5); /* newer, other users */
    t_col_t *c = calloc(1, sizeof *c);
    char next[VG_STORE_CURSOR_MAX + 1];
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    q.user_id = VG_STR_LIT("zed");
    assert_int_equal(s_query(f->s, &q, 10, c, next), 0);
    assert_int_equal(c->n, 3);
    assert_string_equal(c->ids[0], "old-3");
    assert_string_equal(c->ids[2], "old-1");
    assert_string_equal(next, "");
    c->n = 0;
    q.user_id = (vg_str_t){"zed\0x", 5};
    assert_int_equal(s_query(f->s, &q, 10, c, next), 0);
    assert_int_equal(c->n, 1);
    assert_string_equal(c->ids[0], "nul-1");
    c->n = 0;
    q.user_id = VG_STR_LIT("ze");
    assert_int_equal(s_query(f->s, &q, 10, c, next), 0);
    assert_int_equal(c->n, 0);
    /* without the index the same cap stops long before */
    vg_anomaly_query_init(&q);
    q.detector = VG_STR_LIT("nothing-matches");
    assert_int_equal(s_query(f->s, &q, 10, c, next), 0);
    assert_int_equal(c->n, 0);
    assert_int_not_equal(next[0], 0);
    free(c);
}

static void test_malformed_cursor(void **state)
{
    t_fix_t *f = *state;
    s_fill(f->s, 5, 1);
    t_col_t *c = calloc(1, sizeof *c);
    char next[VG_STORE_CURSOR_MAX + 1], good[VG_STORE_CURSOR_MAX + 1];
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    q.limit = 2;
    assert_int_equal(s_query(f->s, &q, 0, c, next), 0);
    assert_int_not_equal(next[0], 0);
    strcpy(good, next);
    char long_cursor[300];
    memset(long_cursor, 'A', sizeof long_cursor - 1);
    long_cursor[sizeof long_cursor - 1] = 0;
    const char *bad[] = {
        "", "!!!!", "AAAA", "A", "not a cursor", "AAAAAAAAAAAAAAAAAAAAAAAA", long_cursor};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q.cursor = vg_str_c(bad[i]);
        c->n = 0;
        assert_int_equal(s_query(f->s, &q, 0, c, next), VG_ERR_INVALID);
        assert_int_equal(c->n, 0);
    }
    /* tampered: every other character at every position, truncation,
     * extension */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char t[VG_STORE_CURSOR_MAX + 2];
    size_t len = strlen(good);
    for (size_t i = 0; i < len; i++)
        for (size_t j = 0; j < 64; j++) {
            if (alphabet[j] == good[i]) continue;
            strcpy(t, good);
            t[i] = alphabet[j];
            q.cursor = vg_str_c(t);
            c->n = 0;
            assert_int_equal(s_query(f->s, &q, 0, c, next), VG_ERR_INVALID);
            assert_int_equal(c->n, 0);
        }
    q.cursor = (vg_str_t){good, (uint32_t) len - 1};
    assert_int_equal(s_query(f->s, &q, 0, c, next), VG_ERR_INVALID);
    strcpy(t, good);
    strcat(t, "A");
    q.cursor = vg_str_c(t);
    assert_int_equal(s_query(f->s, &q, 0, c, next), VG_ERR_INVALID);
    /* the genuine one still works; bad arguments are refused */
    q.cursor = vg_str_c(good);
    c->n = 0;
    assert_int_equal(s_query(f->s, &q, 0, c, next), 0);
    assert_int_equal(c->n, 2);
    q.limit = 0;
    assert_int_equal(s_query(f->s, &q, 0, c, next), VG_ERR_INVALID);
    q.limit = 1001;
    assert_int_equal(s_query(f->s, &q, 0, c, next), VG_ERR_INVALID);
    q.limit = 2;
    assert_int_equal(vg_store_anomaly_query(f->s, &q, 0, s_collect, c, next, 64), VG_ERR_INVALID);
    free(c);
}

static void test_scan_cap_continues(void **state)
{
    t_fix_t *f = *state;
    s_fill(f->s, 60, 3);
    t_col_t *c = calloc(1, sizeof *c);
    char next[VG_STORE_CURSOR_MAX + 1], cur[VG_STORE_CURSOR_MAX + 1];
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    q.detector = VG_STR_LIT("zscore");
    q.from_ms = T0;
    q.to_ms = T0 + 60000;
    q.decision = VG_DECISION_BLOCK; /* i % 3 == 2 and i even: i % 6 == 2 -> 10 of 60 */
    q.limit = 1000;
    int pages = 0;
    do {
        int before = c->n;
        assert_int_equal(s_query(f->s, &q, 7, c, next), 0);
        assert_true(c->n - before <= 7);
        pages++;
        strcpy(cur, next);
        q.cursor = vg_str_c(cur);
    } while (next[0] && pages < 100);
    assert_int_equal(c->n, 10);
    assert_int_equal(pages, 9); /* ceil(60 / 7): every page hit the cap but the last */
    for (int i = 0; i < c->n; i++) assert_int_equal(atoi(c->ids[i] + 1) % 6, 2);
    free(c);
}

/* ---- trend buckets -------------------------------------------------------- */

typedef struct {
    int n;
    vg_anomaly_bucket_t b[64];
} t_buckets_t;

static int s_bucket(void *arg, const vg_anomaly_bucket_t *bk)
{
    t_buckets_t *x = arg;
    assert_true(x->n < 64);
    x->b[x->n++] = *bk;
    return 0;
}

static void test_stats_buckets(void **state)
{
    t_fix_t *f = *state;
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    /* minute 0: two (medium/review, critical/block); minute 2: one low
     * allow; minute 7: one high block; one before the range */
    s_put_anom(b, s_anom("s1", "u", T0 + 10, 0.75, VG_DECISION_REVIEW, "mad", "amount"));
    s_put_anom(b, s_anom("s2", "u", T0 + 59999, 0.99, VG_DECISION_BLOCK, "mad", "amount"));
    s_put_anom(b, s_anom("s3", "u", T0 + 2 * MIN + 1, 0.2, VG_DECISION_ALLOW, "mad", "amount"));
    s_put_anom(b, s_anom("s4", "u", T0 + 7 * MIN, 0.9, VG_DECISION_BLOCK, "mad", "amount"));
    s_put_anom(b, s_anom("s0", "u", T0 - 1, 0.9, VG_DECISION_BLOCK, "mad", "amount"));
    assert_int_equal(vg_store_batch_commit(&b), 0);

    t_buckets_t *x = calloc(1, sizeof *x);
    assert_int_equal(vg_store_anomaly_stats(f->s, T0, T0 + 8 * MIN, MIN, s_bucket, x), 0);
    assert_int_equal(x->n, 8); /* empty minutes included */
    for (int i = 0; i < 8; i++) assert_true(x->b[i].start_ms == T0 + i * MIN);
    assert_int_equal(x->b[0].total, 2);
    assert_int_equal(x->b[0].by_severity[VG_SEV_MEDIUM], 1);
    assert_int_equal(x->b[0].by_severity[VG_SEV_CRITICAL], 1);
    assert_int_equal(x->b[0].by_decision[VG_DECISION_REVIEW], 1);
    assert_int_equal(x->b[0].by_decision[VG_DECISION_BLOCK], 1);
    assert_int_equal(x->b[1].total, 0);
    assert_int_equal(x->b[2].total, 1);
    assert_int_equal(x->b[2].by_severity[VG_SEV_LOW], 1);
    assert_int_equal(x->b[2].by_decision[VG_DECISION_ALLOW], 1);
    assert_int_equal(x->b[7].total, 1);
    assert_int_equal(x->b[7].by_severity[VG_SEV_HIGH], 1);

    /* 5-minute buckets aligned to multiples of 5 min since the epoch: T0
     * is 10:00, so [T0 - 1 ms, T0 + 8 min) spans 09:55, 10:00, 10:05 */
    memset(x, 0, sizeof *x);
    assert_int_equal(vg_store_anomaly_stats(f->s, T0 - 1, T0 + 8 * MIN, 5 * MIN, s_bucket, x), 0);
    assert_int_equal(x->n, 3);
    assert_true(x->b[0].start_ms == T0 - 5 * MIN);
    assert_int_equal(x->b[0].total, 1);
    assert_int_equal(x->b[1].total, 3);
    assert_int_equal(x->b[2].total, 1);
    assert_int_equal(x->b[1].by_decision[VG_DECISION_BLOCK], 1);

    /* limits and arguments */
    memset(x, 0, sizeof *x);
    assert_int_equal(vg_store_anomaly_stats(f->s, T0, T0 + 10000 * MIN + 1, MIN, s_bucket, x),
                     VG_ERR_LIMIT); /* 10001 buckets */
    assert_int_equal(x->n, 0);
    assert_int_equal(vg_store_anomaly_stats(f->s, T0 - 1, T0 + 100000 * MIN, 10 * MIN, s_bucket, x),
                     VG_ERR_LIMIT); /* aligned: 09:50 .. +100000 min = 10001 buckets */
    memset(x, 0, sizeof *x);
    assert_int_equal(vg_store_anomaly_stats(f->s, T0, T0 + MIN, 1000, s_bucket, x), VG_ERR_INVALID);
    assert_int_equal(vg_store_anomaly_stats(f->s, T0, T0, MIN, s_bucket, x), VG_ERR_INVALID);
    assert_int_equal(vg_store_anomaly_stats(f->s, INT64_MIN, INT64_MAX, MIN, s_bucket, x),
                     VG_ERR_INVALID);
    uint64_t total = 0; /* exactly 10000 buckets is allowed */
    assert_int_equal(
        vg_store_anomaly_stats(f->s, T0, T0 + 10000 * MIN, MIN, s_count_bucket, &total), 0);
    assert_int_equal(total, 4);
    free(x);
}

/* ---- shard scan ------------------------------------------------------------ */

typedef struct {
    int n;
    char kinds[16];
    char keys[16][16];
    char vals[16][16];
} t_kv_t;

static int s_kv(void *arg, char kind, vg_str_t key, const void *val, size_t len)
{
    t_kv_t *x = arg;
    assert_true(x->n < 16);
    x->kinds[x->n] = kind;
    if (kind == 's') { /* seen keys: ord64(ts_ms) big-endian, then the id */
        assert_true(key.len > 8);
        const uint8_t *k = (const uint8_t *) key.ptr;
        uint64_t ord = 0;
        for (int i = 0; i < 8; i++) ord = ord << 8 | k[i];
        assert_int_equal((int64_t) (ord ^ (1ull << 63)), 1000);
        key.ptr += 8, key.len -= 8;
    }
    snprintf(x->keys[x->n], 16, "%.*s", (int) key.len, key.ptr);
    snprintf(x->vals[x->n++], 16, "%.*s", (int) len, (const char *) val);
    return 0;
}

static void test_shard_scan(void **state)
{
    t_fix_t *f = *state;
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    /* shards 1 and 256 differ in byte order only; 0 and 2 are neighbours */
    const uint32_t shards[] = {0, 1, 2, 256, 1, 1023};
    const char *users[] = {"u-a", "u-b", "u-c", "u-d", "u-e", "u-f"};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(vg_store_put_user(b, shards[i], vg_str_c(users[i]), users[i], 3), 0);
        char tx[8];
        snprintf(tx, sizeof tx, "t-%d", i);
        assert_int_equal(vg_store_put_seen(b, shards[i], 1000, vg_str_c(tx), "v", 1), 0);
    }
    assert_int_equal(vg_store_batch_commit(&b), 0);
    t_kv_t *x = calloc(1, sizeof *x);
    assert_int_equal(vg_store_shard_scan(f->s, 1, s_kv, x), 0);
    assert_int_equal(x->n, 4);
    assert_memory_equal(x->kinds, "uuss", 4);
    assert_string_equal(x->keys[0], "u-b");
    assert_string_equal(x->vals[0], "u-b");
    assert_string_equal(x->keys[1], "u-e");
    assert_string_equal(x->keys[2], "t-1");
    assert_string_equal(x->keys[3], "t-4");
    memset(x, 0, sizeof *x);
    assert_int_equal(vg_store_shard_scan(f->s, 256, s_kv, x), 0);
    assert_int_equal(x->n, 2);
    assert_string_equal(x->keys[0], "u-d");
    memset(x, 0, sizeof *x);
    assert_int_equal(vg_store_shard_scan(f->s, 7, s_kv, x), 0);
    assert_int_equal(x->n, 0);
    assert_int_equal(vg_store_shard_scan(f->s, 70000, s_kv, x), VG_ERR_INVALID);
    free(x);
}

/* ---- open errors ------------------------------------------------------------- */

static void test_open_errors(void **state)
{
    t_fix_t *f = *state;
    char path[128], err[256];
    vg_store_t *s = NULL;
    /* a regular file */
    snprintf(path, sizeof path, "%s/plain-file", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    vg_store_config_t cfg = {.dir = path};
    assert_int_equal(vg_store_open(&cfg, &s, err, sizeof err), VG_ERR_STORAGE);
    assert_null(s);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "not a directory"));
    /* below a regular file */
    snprintf(path, sizeof path, "%s/plain-file/sub", f->dir);
    assert_int_equal(vg_store_open(&cfg, &s, err, sizeof err), VG_ERR_STORAGE);
    assert_non_null(strstr(err, "plain-file"));
    /* a map too small for the databases */
    snprintf(path, sizeof path, "%s/tiny", f->dir);
    cfg.map_size = 8192;
    assert_int_equal(vg_store_open(&cfg, &s, err, sizeof err), VG_ERR_STORAGE);
    assert_non_null(strstr(err, path));
    assert_null(s);
    /* missing parents are created */
    snprintf(path, sizeof path, "%s/a/b/c", f->dir);
    cfg.map_size = 0; /* 64 GiB, sparse */
    assert_int_equal(vg_store_open(&cfg, &s, err, sizeof err), 0);
    vg_store_stats_t st;
    vg_store_stats(s, &st);
    assert_true(st.map_size == (uint64_t) 64 << 30);
    assert_true(st.map_used > 0 && st.map_used < (uint64_t) 1 << 20);
    vg_store_close(&s);
    cfg.dir = "";
    assert_int_equal(vg_store_open(&cfg, &s, NULL, 0), VG_ERR_INVALID);
}

/* A full map is VG_ERR_FULL, the batch is aborted, the store stays usable. */
static void test_map_full(void **state)
{
    t_fix_t *f = *state;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/small", f->dir);
    vg_store_config_t cfg = {.dir = path, .map_size = 256 * 1024, .no_sync = true};
    vg_store_t *s;
    assert_int_equal(vg_store_open(&cfg, &s, err, sizeof err), 0);
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(s, &b), 0);
    char state_bytes[1024] = {0};
    int rc = 0, i;
    for (i = 0; i < 10000 && !rc; i++) {
        char user[16];
        snprintf(user, sizeof user, "user-%d", i);
        rc = vg_store_put_user(b, 3, vg_str_c(user), state_bytes, sizeof state_bytes);
    }
    assert_int_equal(rc, VG_ERR_FULL);
    assert_int_equal(vg_store_put_user(b, 3, VG_STR_LIT("x"), "s", 1), VG_ERR_FULL); /* poisoned */
    assert_int_equal(vg_store_batch_commit(&b), VG_ERR_FULL);
    assert_null(b);
    assert_int_equal(vg_store_batch_begin(s, &b), 0);
    assert_int_equal(vg_store_put_user(b, 3, VG_STR_LIT("x"), "s", 1), 0);
    assert_int_equal(vg_store_batch_commit(&b), 0);
    vg_store_close(&s);
}

/* ---- throughput (informational) ------------------------------------------- */

static double s_put_batches(vg_store_t *s, int batches, int per_batch, int base)
{
    char state_bytes[256];
    memset(state_bytes, 7, sizeof state_bytes);
    uint64_t t0 = vg_now_ns();
    for (int k = 0; k < batches; k++) {
        vg_store_batch_t *b;
        assert_int_equal(vg_store_batch_begin(s, &b), 0);
        for (int i = 0; i < per_batch; i++) {
            char user[24];
            int n = base + k * per_batch + i;
            snprintf(user, sizeof user, "user-%08d", (n * 7919) % 1000003);
            assert_int_equal(vg_store_put_user(b, (uint32_t) n % 1024, vg_str_c(user), state_bytes,
                                               sizeof state_bytes),
                             0);
        }
        assert_int_equal(vg_store_batch_commit(&b), 0);
    }
    return (double) (vg_now_ns() - t0) / 1e9;
}

static void test_group_commit_throughput(void **state)
{
    t_fix_t *f = *state;
    double secs = s_put_batches(f->s, 1, 10000, 0);
    vg_store_stats_t st;
    vg_store_stats(f->s, &st);
    assert_int_equal(st.users, 10000);
    assert_int_equal(st.commits, 1);
    printf("store: 10000 puts in one batch: %.1f ms (commit %.2f ms)\n", secs * 1e3,
           st.commit_ns_last / 1e6);
    int batches = 40;
    secs = s_put_batches(f->s, batches, 500, 10000);
    vg_store_stats(f->s, &st);
    printf("store: batches of 500 (fsync): %.0f commits/s, %.0f puts/s, mean commit %.2f ms\n",
           batches / secs, batches * 500 / secs, st.commit_ns_total / 1e6 / (double) st.commits);
    assert_int_equal(st.commits, 1 + batches);
}

/* Outbox mode: anomalies are queued in commit order, not stored locally;
 * take/ack consume them; the sequence survives a reopen. */
static void test_outbox(void **state)
{
    t_fix_t *f = *state;
    vg_store_close(&f->s);
    vg_store_config_t cfg = {.dir = f->dir, .map_size = 1u << 30, .outbox = true};
    char err[256];
    assert_int_equal(vg_store_open(&cfg, &f->s, err, sizeof err), 0);
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "ob%d", i);
        s_put_anom(b, s_anom(id, "u", T0 + i * MIN, 0.9, 2, "mad", "amount"));
    }
    assert_int_equal(vg_store_batch_commit(&b), 0);
    assert_int_equal(vg_store_outbox_count(f->s, 0), 5);
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    t_col_t *c = calloc(1, sizeof *c);
    char next[VG_STORE_CURSOR_MAX + 1];
    assert_int_equal(s_query(f->s, &q, 0, c, next), 0);
    assert_int_equal(c->n, 0); /* not in the local store */
    vg_store_outbox_t ob = {0};
    assert_int_equal(vg_store_outbox_take(f->s, 0, 3, &ob), 0);
    assert_int_equal(ob.n, 3);
    assert_int_equal(ob.last_seq, 3);
    vg_anomaly_rec_t rec;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    assert_int_equal(vg_anomaly_decode(ob.recs[2].ptr, ob.recs[2].len, &rec, &perr), 0);
    assert_true(vg_str_eq_c(rec.id, "ob2"));
    assert_int_equal(vg_store_outbox_ack(f->s, 0, ob.last_seq), 0);
    assert_int_equal(vg_store_outbox_count(f->s, 0), 2);
    vg_store_close(&f->s); /* the sequence continues after a reopen */
    assert_int_equal(vg_store_open(&cfg, &f->s, err, sizeof err), 0);
    assert_int_equal(vg_store_batch_begin(f->s, &b), 0);
    s_put_anom(b, s_anom("ob5", "u", T0 + 5 * MIN, 0.9, 2, "mad", "amount"));
    assert_int_equal(vg_store_batch_commit(&b), 0);
    assert_int_equal(vg_store_outbox_take(f->s, 0, 10, &ob), 0);
    assert_int_equal(ob.n, 3);
    assert_int_equal(ob.last_seq, 6);
    assert_int_equal(vg_anomaly_decode(ob.recs[0].ptr, ob.recs[0].len, &rec, &perr), 0);
    assert_true(vg_str_eq_c(rec.id, "ob3"));
    assert_int_equal(vg_store_outbox_ack(f->s, 0, 6), 0);
    assert_int_equal(vg_store_outbox_count(f->s, 0), 0);
    assert_int_equal(vg_store_outbox_take(f->s, 0, 10, &ob), 0);
    assert_int_equal(ob.n, 0);
    assert_int_equal(vg_store_outbox_take(f->s, 1, 10, &ob), VG_ERR_INVALID); /* one sink */
    vg_store_outbox_fini(&ob);
    free(c);
}

/* Ids of the records in ob, comma-separated. */
static void s_outbox_ids(const vg_store_outbox_t *ob, char *out, size_t cap)
{
    out[0] = 0;
    for (size_t i = 0; i < ob->n; i++) {
        vg_anomaly_rec_t rec;
        vg_perr_t perr;
        vg_perr_clear(&perr);
        assert_int_equal(vg_anomaly_decode(ob->recs[i].ptr, ob->recs[i].len, &rec, &perr), 0);
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%.*s", i ? "," : "", (int) rec.id.len, rec.id.ptr);
    }
}

static void s_put_ids(vg_store_t *s, const char *const *ids)
{
    vg_store_batch_t *b;
    assert_int_equal(vg_store_batch_begin(s, &b), 0);
    for (int i = 0; ids[i]; i++)
        s_put_anom(b, s_anom(ids[i], "u", T0 + i * MIN, 0.9, 2, "mad", "amount"));
    assert_int_equal(vg_store_batch_commit(&b), 0);
}

/* Sinks over the embedded store: records are kept locally and queued for
 * every sink (a repeated id is not queued again); each sink has its own
 * cursor, persisted by name; an entry goes once all sinks acked it; the
 * sequence never restarts, even with the outbox empty; a sink added later
 * starts at the oldest entry, one removed no longer holds entries. */
static void test_outbox_sinks(void **state)
{
    t_fix_t *f = *state;
    vg_store_close(&f->s);
    vg_store_config_t cfg = {.dir = f->dir,
                             .map_size = 1u << 30,
                             .outbox_sinks = 2,
                             .outbox_sink_names = {"kafka", "alerts"}};
    char err[256], ids[256];
    assert_int_equal(vg_store_open(&cfg, &f->s, err, sizeof err), 0);
    assert_int_equal(vg_store_outbox_sinks(f->s), 2);
    assert_string_equal(vg_store_outbox_sink_name(f->s, 1), "alerts");
    s_put_ids(f->s, (const char *[]){"a1", "a2", "a3", NULL});
    s_put_ids(f->s, (const char *[]){"a1", NULL}); /* already stored: not queued again */
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    t_col_t *c = calloc(1, sizeof *c);
    char next[VG_STORE_CURSOR_MAX + 1];
    assert_int_equal(s_query(f->s, &q, 0, c, next), 0);
    assert_int_equal(c->n, 3); /* kept locally too */
    free(c);
    vg_store_outbox_t ob = {0};
    assert_int_equal(vg_store_outbox_take(f->s, 0, 2, &ob), 0);
    s_outbox_ids(&ob, ids, sizeof ids);
    assert_string_equal(ids, "a1,a2");
    assert_int_equal(vg_store_outbox_ack(f->s, 0, ob.last_seq), 0);
    assert_int_equal(vg_store_outbox_count(f->s, 0), 1);
    assert_int_equal(vg_store_outbox_count(f->s, 1), 3); /* nothing deleted: alerts lags */
    assert_int_equal(vg_store_outbox_take(f->s, 1, 10, &ob), 0);
    s_outbox_ids(&ob, ids, sizeof ids);
    assert_string_equal(ids, "a1,a2,a3");
    assert_int_equal(vg_store_outbox_ack(f->s, 1, 1), 0); /* alerts acks a1 only */
    assert_int_equal(vg_store_outbox_ack(f->s, 1, 0), 0); /* never back */
    vg_store_close(&f->s);                                /* cursors survive a reopen */
    assert_int_equal(vg_store_open(&cfg, &f->s, err, sizeof err), 0);
    assert_int_equal(vg_store_outbox_take(f->s, 0, 10, &ob), 0);
    s_outbox_ids(&ob, ids, sizeof ids);
    assert_string_equal(ids, "a3");
    assert_int_equal(vg_store_outbox_ack(f->s, 0, ob.last_seq), 0);
    assert_int_equal(vg_store_outbox_take(f->s, 1, 10, &ob), 0);
    s_outbox_ids(&ob, ids, sizeof ids);
    assert_string_equal(ids, "a2,a3");
    assert_int_equal(vg_store_outbox_ack(f->s, 1, ob.last_seq), 0);
    assert_int_equal(vg_store_outbox_count(f->s, 0), 0);
    assert_int_equal(vg_store_outbox_count(f->s, 1), 0);
    vg_store_close(&f->s); /* empty outbox: the sequence continues after the cursors */
    assert_int_equal(vg_store_open(&cfg, &f->s, err, sizeof err), 0);
    s_put_ids(f->s, (const char *[]){"b1", NULL});
    assert_int_equal(vg_store_outbox_take(f->s, 1, 10, &ob), 0);
    s_outbox_ids(&ob, ids, sizeof ids);
    assert_string_equal(ids, "b1");
    assert_true(ob.last_seq > 3);
    vg_store_close(&f->s); /* alerts removed, pg added: kafka keeps its place */
    vg_store_config_t cfg2 = {.dir = f->dir,
                              .map_size = 1u << 30,
                              .outbox_sinks = 2,
                              .outbox_sink_names = {"pg", "kafka"}};
    assert_int_equal(vg_store_open(&cfg2, &f->s, err, sizeof err), 0);
    s_put_ids(f->s, (const char *[]){"c1", NULL});
    assert_int_equal(vg_store_outbox_take(f->s, 1, 10, &ob), 0);
    s_outbox_ids(&ob, ids, sizeof ids);
    assert_string_equal(ids, "b1,c1");
    assert_int_equal(vg_store_outbox_ack(f->s, 1, ob.last_seq), 0);
    assert_int_equal(vg_store_outbox_count(f->s, 0), 2); /* pg: from the oldest entry */
    assert_int_equal(vg_store_outbox_take(f->s, 0, 10, &ob), 0);
    assert_int_equal(ob.n, 2);
    assert_int_equal(vg_store_outbox_ack(f->s, 0, ob.last_seq), 0);
    assert_int_equal(vg_store_outbox_count(f->s, 0), 0);
    vg_store_outbox_fini(&ob);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_users_seen_round_trip),
        T(test_restart_continuity),
        T(test_aborted_batch_writes_nothing),
        T(test_anomaly_get_all_fields),
        T(test_duplicate_put_is_idempotent),
        T(test_query_paging),
        T(test_query_filters),
        T(test_query_user_uses_index),
        T(test_malformed_cursor),
        T(test_scan_cap_continues),
        T(test_stats_buckets),
        T(test_shard_scan),
        T(test_open_errors),
        T(test_map_full),
        T(test_group_commit_throughput),
        T(test_outbox),
        T(test_outbox_sinks),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
