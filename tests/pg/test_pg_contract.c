/* test_pg_contract.c: one query suite run against both anomaly store
 * backends -- the embedded LMDB store (node/vg_store.h, the reference) and
 * PostgreSQL (vg_pg.h) -- through a small vtable, on the same few thousand
 * generated anomalies (ties in event time, ids that sort differently by
 * byte and by collation, NUL bytes, extreme timestamps). Every call must
 * give the same return code, the same records in the same order (compared
 * as re-encoded bytes), the same cursors and the same trend buckets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_err.h"
#include "vg_mem.h"
#include "vg_pg.h"
#include "vg_store.h"
#include "vt_anom.h"
#include "vt_pg.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>

#define N_ANOM     3000
#define T0         1795514400000LL /* 2026-11-24T10:00:00Z */
#define DAY        86400000LL
#define TIE_STEP   7001LL
#define SMALL_SCAN 97 /* the scan cap of the "small" variants */

/* ---- the backends ------------------------------------------------------------ */

typedef struct t_be t_be_t;
struct t_be {
    const char *name;
    int (*put)(t_be_t *be, const vt_anom_t *a, size_t n);
    int (*query)(t_be_t *be, const vg_anomaly_query_t *q, bool small_scan, vg_anomaly_fn *fn,
                 void *arg, char *next, size_t cap);
    int (*get)(t_be_t *be, vg_str_t id, vg_anomaly_fn *fn, void *arg);
    int (*stats)(t_be_t *be, int64_t from, int64_t to, int64_t bucket, vg_bucket_fn *fn, void *arg);
    vg_store_t *store;
    vg_pg_t *pg, *pg_small;
};

static int s_lmdb_put(t_be_t *be, const vt_anom_t *a, size_t n)
{
    vg_store_batch_t *b;
    int rc = vg_store_batch_begin(be->store, &b);
    for (size_t i = 0; !rc && i < n; i++) {
        vg_anomaly_t v = vt_anom_view(&a[i]);
        rc = vg_store_put_anomaly(b, &v);
    }
    if (rc) {
        vg_store_batch_abort(&b);
        return rc;
    }
    return vg_store_batch_commit(&b);
}

static int s_lmdb_query(t_be_t *be, const vg_anomaly_query_t *q, bool small_scan, vg_anomaly_fn *fn,
                        void *arg, char *next, size_t cap)
{
    return vg_store_anomaly_query(be->store, q, small_scan ? SMALL_SCAN : 0, fn, arg, next, cap);
}

static int s_lmdb_get(t_be_t *be, vg_str_t id, vg_anomaly_fn *fn, void *arg)
{
    return vg_store_anomaly_get(be->store, id, fn, arg);
}

static int s_lmdb_stats(t_be_t *be, int64_t from, int64_t to, int64_t bucket, vg_bucket_fn *fn,
                        void *arg)
{
    return vg_store_anomaly_stats(be->store, from, to, bucket, fn, arg);
}

static int s_pg_put(t_be_t *be, const vt_anom_t *a, size_t n)
{
    vg_mpw_t w;
    size_t *offs = calloc(n + 1, sizeof *offs);
    vg_str_t *recs = calloc(n, sizeof *recs);
    vg_mpw_init(&w);
    for (size_t i = 0; i < n; i++) {
        offs[i] = w.len;
        vt_anom_encode(&a[i], &w);
    }
    offs[n] = w.len;
    for (size_t i = 0; i < n; i++)
        recs[i] = (vg_str_t){(const char *) w.buf + offs[i], (uint32_t) (offs[i + 1] - offs[i])};
    size_t ins;
    int rc = vg_pg_insert(be->pg, recs, n, &ins);
    vg_mpw_fini(&w);
    free(offs);
    free(recs);
    return rc;
}

static int s_pg_query(t_be_t *be, const vg_anomaly_query_t *q, bool small_scan, vg_anomaly_fn *fn,
                      void *arg, char *next, size_t cap)
{
    return vg_pg_anomaly_query(small_scan ? be->pg_small : be->pg, q, fn, arg, next, cap);
}

static int s_pg_get(t_be_t *be, vg_str_t id, vg_anomaly_fn *fn, void *arg)
{
    return vg_pg_anomaly_get(be->pg, id, fn, arg);
}

static int s_pg_stats(t_be_t *be, int64_t from, int64_t to, int64_t bucket, vg_bucket_fn *fn,
                      void *arg)
{
    return vg_pg_anomaly_stats(be->pg, from, to, bucket, fn, arg);
}

/* ---- fixture: the data set in both ----------------------------------------------------- */

static t_be_t s_be[2] = {
    {.name = "lmdb",
     .put = s_lmdb_put,
     .query = s_lmdb_query,
     .get = s_lmdb_get,
     .stats = s_lmdb_stats},
    {.name = "pg", .put = s_pg_put, .query = s_pg_query, .get = s_pg_get, .stats = s_pg_stats},
};
static vt_pg_t s_server;
static char s_dir[64];
static vt_anom_t *s_set;
static int s_calls; /* compared calls */

static int64_t s_ts(uint64_t *rng, int i)
{
    if (i == 0) return 0;
    if (i == 1) return VG_TX_TS_MAX;
    if (i == 2) return T0 - 1;
    uint64_t k = vt_rand(rng) % 100;
    if (k < 85) return T0 + (int64_t) (vt_rand(rng) % 400) * TIE_STEP;
    if (k < 95)
        return T0 - (int64_t) (1 + vt_rand(rng) % 3) * DAY + (int64_t) (vt_rand(rng) % 50) * 60000;
    return T0 + (int64_t) (vt_rand(rng) % 2) * DAY + (int64_t) (vt_rand(rng) % 20) * 1000;
}

/* Ids that order differently bytewise and by a linguistic collation. */
static uint32_t s_id(int i, char *out)
{
    switch (i % 7) {
    case 0: return (uint32_t) sprintf(out, "a%d", i);
    case 1: return (uint32_t) sprintf(out, "A%d", i);
    case 2: return (uint32_t) sprintf(out, "\xc3\xa9%d", i);
    case 3: return (uint32_t) sprintf(out, "%.*s%d", 1 + i % 5, "zzzzz", i);
    case 4: return (uint32_t) sprintf(out, "_%d", i);
    case 5: {
        int n = sprintf(out, "n_%d", i);
        out[1] = 0; /* a NUL inside */
        return (uint32_t) n;
    }
    default: {
        int n = sprintf(out, "L%d", i);
        memset(out + n, '-', (size_t) (VG_TX_ID_MAX - n));
        return VG_TX_ID_MAX;
    }
    }
}

static void s_make_set(void)
{
    uint64_t rng = 42;
    s_set = calloc(N_ANOM, sizeof *s_set);
    for (int i = 0; i < N_ANOM; i++) {
        char id[VG_TX_ID_MAX + 8], user[16];
        uint32_t id_len = s_id(i, id), user_len;
        uint64_t u = vt_rand(&rng) % 100;
        if (u < 3)
            user_len = 3, memcpy(user, "w\0x", 3);
        else if (u < 6)
            user_len = (uint32_t) sprintf(user, "\xc3\xbc");
        else
            user_len = (uint32_t) sprintf(user, "u%d", (int) (u % 20));
        int64_t ts = s_ts(&rng, i);
        double score = 0.3 + (double) (vt_rand(&rng) % 7001) / 10000.0;
        vt_anom_set(&s_set[i], (vg_str_t){id, id_len}, (vg_str_t){user, user_len}, ts, score,
                    (int) (vt_rand(&rng) % 3));
        int n = (int) (vt_rand(&rng) % 4);
        if (i % 97 == 0) n = 10; /* more than a verdict keeps */
        for (int k = 0; k < n; k++) {
            const char *d = vt_detectors[vt_rand(&rng) % 5];
            vt_anom_reason(&s_set[i], d,
                           strcmp(d, "rule") == 0 ? vt_rules[vt_rand(&rng) % 3] : "amount");
        }
    }
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    return remove(path);
}

static int s_setup(void **state)
{
    (void) state;
    s_make_set();
    strcpy(s_dir, "/tmp/vg_contract.XXXXXX");
    if (!mkdtemp(s_dir)) fail_msg("mkdtemp");
    vg_store_config_t scfg = {.dir = s_dir, .map_size = 1u << 30, .no_sync = true};
    char err[256];
    if (vg_store_open(&scfg, &s_be[0].store, err, sizeof err)) fail_msg("lmdb: %s", err);
    char dsn[256];
    if (vt_pg_start(&s_server, true) || vt_pg_createdb(&s_server, "contract", dsn))
        fail_msg("cannot start PostgreSQL");
    vg_pg_config_t cfg = {.dsn = dsn};
    if (vg_pg_open(&cfg, &s_be[1].pg, err, sizeof err)) fail_msg("pg: %s", err);
    cfg.max_scan = SMALL_SCAN;
    if (vg_pg_open(&cfg, &s_be[1].pg_small, err, sizeof err)) fail_msg("pg: %s", err);
    for (int b = 0; b < 2; b++) {
        for (int i = 0; i < N_ANOM; i += 500)
            assert_int_equal(s_be[b].put(&s_be[b], s_set + i, VG_MIN(500, N_ANOM - i)), 0);
        assert_int_equal(s_be[b].put(&s_be[b], s_set + 1000, 500), 0); /* a retried batch */
    }
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    printf("compared %d calls on %d anomalies\n", s_calls, N_ANOM);
    vg_pg_close(&s_be[1].pg);
    vg_pg_close(&s_be[1].pg_small);
    vt_pg_destroy(&s_server);
    vg_store_close(&s_be[0].store);
    nftw(s_dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
    free(s_set);
    return 0;
}

/* ---- transcripts: what a call handed back --------------------------------------------- */

typedef struct {
    vg_mpw_t w;
    int n, stop_after;
} t_tr_t;

static int s_tr_rec(void *arg, const vg_anomaly_rec_t *rec)
{
    t_tr_t *t = arg;
    vg_anomaly_rec_encode(rec, &t->w);
    t->n++;
    return t->stop_after && t->n >= t->stop_after ? 7 : 0;
}

static int s_tr_bucket(void *arg, const vg_anomaly_bucket_t *b)
{
    t_tr_t *t = arg;
    vg_mpw_raw(&t->w, b, sizeof *b);
    t->n++;
    return t->stop_after && t->n >= t->stop_after ? 7 : 0;
}

static void s_same(const char *what, int rc0, int rc1, const t_tr_t *t)
{
    s_calls++;
    if (rc0 != rc1) fail_msg("%s: lmdb returned %s, pg %s", what, vg_errname(rc0), vg_errname(rc1));
    if (t[0].n != t[1].n) fail_msg("%s: lmdb gave %d items, pg %d", what, t[0].n, t[1].n);
    if (t[0].w.len != t[1].w.len || (t[0].w.len && memcmp(t[0].w.buf, t[1].w.buf, t[0].w.len) != 0))
        fail_msg("%s: the items differ", what);
}

/* One query on both; the shared next cursor into next. Returns records. */
static int s_cmp_query(const char *what, const vg_anomaly_query_t *q, bool small, int stop_after,
                       char *next)
{
    t_tr_t t[2];
    char nx[2][VG_ANOMALY_CURSOR_MAX + 1];
    int rc[2];
    for (int b = 0; b < 2; b++) {
        t[b] = (t_tr_t){.stop_after = stop_after};
        vg_mpw_init(&t[b].w);
        strcpy(nx[b], "untouched");
        rc[b] = s_be[b].query(&s_be[b], q, small, s_tr_rec, &t[b], nx[b], sizeof nx[b]);
    }
    s_same(what, rc[0], rc[1], t);
    if (strcmp(nx[0], nx[1]) != 0)
        fail_msg("%s: next cursor lmdb \"%s\", pg \"%s\"", what, nx[0], nx[1]);
    if (next) strcpy(next, nx[0]);
    int n = t[0].n;
    vg_mpw_fini(&t[0].w);
    vg_mpw_fini(&t[1].w);
    return n;
}

/* Pages through q on both; returns the records of all pages. */
static int s_cmp_pages(const char *label, vg_anomaly_query_t q, bool small)
{
    char next[VG_ANOMALY_CURSOR_MAX + 1], cur[VG_ANOMALY_CURSOR_MAX + 1], what[160];
    int total = 0;
    for (int page = 0; page < 5000; page++) {
        snprintf(what, sizeof what, "%s limit %u%s page %d", label, q.limit,
                 small ? " small scan" : "", page);
        total += s_cmp_query(what, &q, small, 0, next);
        if (!next[0]) return total;
        strcpy(cur, next);
        q.cursor = vg_str_c(cur);
    }
    fail_msg("%s: does not end", label);
    return -1;
}

/* ---- the query suite ------------------------------------------------------------------------ */

#define N_FILTERS 32

/* Filter set k into q (after vg_anomaly_query_init); its label. */
static const char *s_filter(int k, vg_anomaly_query_t *q)
{
    switch (k) {
    case 0: return "none";
    case 1: q->user_id = VG_STR_LIT("u3"); return "user u3";
    case 2: q->user_id = (vg_str_t){"w\0x", 3}; return "user with NUL";
    case 3: q->user_id = VG_STR_LIT("nobody"); return "unknown user";
    case 4: q->user_id = (vg_str_t){"", 0}; return "empty user";
    case 5: q->min_severity = 0; return "severity >= low";
    case 6: q->min_severity = 2; return "severity >= high";
    case 7: q->min_severity = 3; return "severity critical";
    case 8: q->min_severity = 4; return "severity beyond critical";
    case 9: q->decision = 0; return "decision allow";
    case 10: q->decision = 2; return "decision block";
    case 11: q->decision = 5; return "decision 5";
    case 12: q->detector = VG_STR_LIT("iforest"); return "detector iforest";
    case 13: q->detector = VG_STR_LIT("rule"); return "detector rule";
    case 14: q->detector = VG_STR_LIT("nope"); return "detector nope";
    case 15: q->detector = (vg_str_t){"", 0}; return "detector empty";
    case 16: q->rule = VG_STR_LIT("night_owl"); return "rule night_owl";
    case 17: q->rule = VG_STR_LIT("nope"); return "rule nope";
    case 18: q->user_id = VG_STR_LIT("u5"), q->min_severity = 2; return "user u5 + high";
    case 19: q->detector = VG_STR_LIT("mad"), q->decision = 1; return "mad + review";
    case 20: q->rule = VG_STR_LIT("big_amount"), q->user_id = VG_STR_LIT("u7"); return "rule+user";
    case 21: q->from_ms = T0, q->to_ms = T0 + 200 * TIE_STEP + 3; return "window";
    case 22: q->from_ms = T0 + 100 * TIE_STEP, q->to_ms = T0 + 200 * TIE_STEP; return "tie edges";
    case 23: q->from_ms = T0 - 2 * DAY, q->to_ms = T0; return "days before";
    case 24: q->from_ms = 1; return "from 1";
    case 25: q->to_ms = 1; return "to 1";
    case 26: q->from_ms = q->to_ms = T0; return "from = to";
    case 27: q->from_ms = T0 + 5, q->to_ms = T0; return "from > to";
    case 28: q->to_ms = VG_TX_TS_MAX; return "to max";
    case 29: q->from_ms = VG_TX_TS_MAX; return "from max";
    case 30:
        q->user_id = VG_STR_LIT("u4"), q->from_ms = T0 + 50 * TIE_STEP;
        q->to_ms = T0 + DAY, q->detector = VG_STR_LIT("zscore");
        return "user + window + detector";
    default:
        q->min_severity = 1, q->decision = 2, q->detector = VG_STR_LIT("rule");
        q->rule = VG_STR_LIT("geo_jump");
        return "severity + decision + detector + rule";
    }
}

/* What paging without a scan cap must return: every match. */
static int s_expected(const vg_anomaly_query_t *q)
{
    int n = 0;
    for (int i = 0; i < N_ANOM; i++) {
        vg_anomaly_t a = vt_anom_view(&s_set[i]);
        vg_mpw_t w;
        vg_anomaly_rec_t rec;
        vg_perr_t err;
        vg_mpw_init(&w);
        vg_anomaly_encode(&a, &w);
        assert_int_equal(vg_anomaly_decode(w.buf, w.len, &rec, &err), 0);
        n += rec.ts_ms >= q->from_ms && rec.ts_ms < q->to_ms &&
             (!q->user_id.ptr || (q->user_id.len >= 1 && vg_str_eq(q->user_id, rec.user_id))) &&
             vg_anomaly_query_match(q, &rec);
        vg_mpw_fini(&w);
    }
    return n;
}

static void test_filters_and_paging(void **state)
{
    (void) state;
    static const uint32_t limits[] = {7, 50, 1000};
    for (int k = 0; k < N_FILTERS; k++) {
        vg_anomaly_query_t q;
        vg_anomaly_query_init(&q);
        const char *label = s_filter(k, &q);
        int want = s_expected(&q);
        for (size_t l = 0; l < VG_ARRAY_LEN(limits); l++) {
            q.limit = limits[l];
            int got = s_cmp_pages(label, q, false);
            if (got != want) fail_msg("%s: %d records over all pages, %d match", label, got, want);
        }
        q.limit = 13;
        s_cmp_pages(label, q, true);
        q.limit = 1000;
        s_cmp_pages(label, q, true);
        if (k == 1 || k == 22 || k == 17) {
            q.limit = 1;
            s_cmp_pages(label, q, k != 17);
        }
    }
}

static void test_cursors(void **state)
{
    (void) state;
    vg_anomaly_query_t q;
    char c[VG_ANOMALY_CURSOR_MAX + 1], next[VG_ANOMALY_CURSOR_MAX + 1];
    uint8_t pk[VG_ANOMALY_PK_MAX];
    struct {
        int64_t ts;
        const char *id;
        int64_t to;
    } crafted[] = {
        {T0 + 150 * TIE_STEP, "m", INT64_MAX},    /* between stored records */
        {T0 + 150 * TIE_STEP, "\xff", INT64_MAX}, /* after every id of that time */
        {-5, "x", INT64_MAX},                     /* before every record */
        {INT64_MAX, "x", INT64_MAX},              /* after every record */
        {VG_TX_TS_MAX, "\xff", INT64_MAX},
        {T0 + 150 * TIE_STEP, "m", T0 + 100 * TIE_STEP}, /* to before the cursor */
        {T0 + 150 * TIE_STEP, "m", T0 + 150 * TIE_STEP}, /* to at the cursor's time */
        {T0 + 150 * TIE_STEP, "m", T0 + 150 * TIE_STEP + 1},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(crafted); i++) {
        vg_anomaly_query_init(&q);
        vg_anomaly_cursor_encode(pk, vg_anomaly_pk(crafted[i].ts, vg_str_c(crafted[i].id), pk), c);
        q.cursor = vg_str_c(c);
        q.to_ms = crafted[i].to;
        q.limit = 20;
        s_cmp_pages("crafted cursor", q, false);
        q.user_id = VG_STR_LIT("u9");
        s_cmp_pages("crafted cursor + user", q, true);
    }
    /* a cursor from one backend continues on the other: they are the same */
    vg_anomaly_query_init(&q);
    q.limit = 333;
    s_cmp_query("first page", &q, false, 0, next);
    q.cursor = vg_str_c(next);
    s_cmp_query("second page", &q, false, 0, NULL);

    /* errors and early stops */
    vg_anomaly_query_init(&q);
    const char *bad[] = {"garbage!", "AAAA", "", next + 1};
    for (size_t i = 0; i < VG_ARRAY_LEN(bad); i++) {
        q.cursor = vg_str_c(bad[i]);
        s_cmp_query("malformed cursor", &q, false, 0, NULL);
    }
    char cut[VG_ANOMALY_CURSOR_MAX + 1];
    snprintf(cut, sizeof cut, "%.*s", (int) strlen(next) - 1, next);
    q.cursor = vg_str_c(cut);
    s_cmp_query("truncated cursor", &q, false, 0, NULL);
    q.cursor = VG_STR_NULL;
    q.limit = 0;
    s_cmp_query("limit 0", &q, false, 0, NULL);
    q.limit = 1001;
    s_cmp_query("limit 1001", &q, false, 0, NULL);
    q.limit = 50;
    s_cmp_query("callback stops", &q, false, 3, NULL);
    q.min_severity = 3;
    s_cmp_query("callback stops, filtered", &q, true, 2, NULL);
    for (int b = 0; b < 2; b++) { /* cursor buffer too small */
        t_tr_t t = {0};
        vg_mpw_init(&t.w);
        assert_int_equal(s_be[b].query(&s_be[b], &q, false, s_tr_rec, &t, next, 64),
                         VG_ERR_INVALID);
        vg_mpw_fini(&t.w);
    }
}

static void s_cmp_get(const char *what, vg_str_t id, int stop)
{
    t_tr_t t[2];
    int rc[2];
    for (int b = 0; b < 2; b++) {
        t[b] = (t_tr_t){.stop_after = stop};
        vg_mpw_init(&t[b].w);
        rc[b] = s_be[b].get(&s_be[b], id, s_tr_rec, &t[b]);
    }
    s_same(what, rc[0], rc[1], t);
    vg_mpw_fini(&t[0].w);
    vg_mpw_fini(&t[1].w);
}

static void test_get(void **state)
{
    (void) state;
    for (int i = 0; i < N_ANOM; i++) s_cmp_get("get", s_set[i].tx.id, 0);
    s_cmp_get("get, callback value", s_set[5].tx.id, 1);
    s_cmp_get("get unknown", VG_STR_LIT("nope"), 0);
    s_cmp_get("get empty", (vg_str_t){"", 0}, 0);
    s_cmp_get("get NULL", VG_STR_NULL, 0);
    char big[VG_TX_ID_MAX + 1];
    memset(big, 'L', sizeof big);
    s_cmp_get("get too long", (vg_str_t){big, sizeof big}, 0);
}

static void s_cmp_stats(int64_t from, int64_t to, int64_t bucket, int stop)
{
    t_tr_t t[2];
    int rc[2];
    char what[128];
    snprintf(what, sizeof what, "stats [%lld, %lld) by %lld", (long long) from, (long long) to,
             (long long) bucket);
    for (int b = 0; b < 2; b++) {
        t[b] = (t_tr_t){.stop_after = stop};
        vg_mpw_init(&t[b].w);
        rc[b] = s_be[b].stats(&s_be[b], from, to, bucket, s_tr_bucket, &t[b]);
    }
    s_same(what, rc[0], rc[1], t);
    vg_mpw_fini(&t[0].w);
    vg_mpw_fini(&t[1].w);
}

static void test_stats(void **state)
{
    (void) state;
    const int64_t M = 60000;
    s_cmp_stats(T0, T0 + 3600000, M, 0);
    s_cmp_stats(T0 - 3 * DAY, T0 + 2 * DAY, 3600000, 0);
    s_cmp_stats(T0 - 3 * DAY + 12345, T0 + DAY - 777, 5 * M, 0);
    s_cmp_stats(T0 + 59999, T0 + 60001, M, 0);
    s_cmp_stats(T0 + 1, T0 + 2, 7 * DAY, 0);
    s_cmp_stats(0, VG_TX_TS_MAX + 1, 365 * DAY, 0);
    s_cmp_stats(-5 * M - 7, 3 * M, 2 * M, 0);
    s_cmp_stats(T0 - DAY, T0 + DAY, 17 * M, 0);
    s_cmp_stats(T0, T0 + DAY, M, 5); /* the callback stops it */
    s_cmp_stats(0, T0, M, 0);        /* too many buckets */
    s_cmp_stats(T0, T0, M, 0);
    s_cmp_stats(T0 + 1, T0, M, 0);
    s_cmp_stats(T0, T0 + 1, 0, 0);
    s_cmp_stats(T0, T0 + 1, 90000, 0);
    s_cmp_stats(T0, T0 + 1, -M, 0);
    s_cmp_stats(-((int64_t) 1 << 61), 0, M, 0);
    s_cmp_stats(0, (int64_t) 1 << 61, M, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters_and_paging),
        cmocka_unit_test(test_cursors),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
