/* test_loadgen.c: vigil-loadgen without a server: generator determinism
 * and labels (anomaly share, schema validity, impossible-travel speed,
 * routine amounts near the user's median), the latency histogram against
 * exact percentiles, confusion-matrix arithmetic, the response parser,
 * the CLI's error messages, the HTTP client against a scripted socket
 * server, and --dry-run output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lg_cli.h"
#include "lg_gen.h"
#include "lg_hist.h"
#include "lg_http.h"
#include "lg_quality.h"
#include "lg_report.h"
#include "lg_resp.h"
#include "lg_run.h"
#include "vg_arena.h"
#include "vg_err.h"
#include "vg_jw.h"
#include "vg_tx.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define T_START 1767225600000LL /* 2026-01-01T00:00:00Z */

static lg_gen_t *s_gen(uint64_t seed, uint32_t users, double rate, uint32_t part, uint32_t parts)
{
    lg_gen_opts_t o = {0};
    o.seed = seed;
    o.users = users;
    o.anomaly_rate = rate;
    o.part = part;
    o.parts = parts;
    o.start_ms = T_START;
    o.tag = "7";
    lg_gen_t *g = NULL;
    char err[128];
    assert_int_equal(lg_gen_new(&o, &g, err, sizeof err), 0);
    return g;
}

/* JSON of the next n transactions, concatenated. */
static char *s_stream(lg_gen_t *g, int n, size_t *len)
{
    vg_jw_t w;
    vg_jw_init(&w);
    vg_jw_arr_begin(&w);
    lg_tx_t tx;
    for (int i = 0; i < n; i++) {
        lg_gen_next(g, &tx);
        lg_tx_to_json(&tx, &w);
    }
    vg_jw_arr_end(&w);
    *len = w.len;
    return w.buf; /* the caller frees */
}

/* ---- generator --------------------------------------------------------- */

static void test_same_seed_identical(void **state)
{
    (void) state;
    lg_gen_t *a = s_gen(42, 500, 0.05, 0, 1), *b = s_gen(42, 500, 0.05, 0, 1);
    size_t la, lb;
    char *ja = s_stream(a, 20000, &la), *jb = s_stream(b, 20000, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ja, jb, la);
    free(ja);
    free(jb);
    lg_gen_destroy(&a);
    lg_gen_destroy(&b);
    assert_null(a);
}

static void test_different_seeds_differ(void **state)
{
    (void) state;
    lg_gen_t *a = s_gen(1, 500, 0.05, 0, 1), *b = s_gen(2, 500, 0.05, 0, 1);
    lg_tx_t ta, tb;
    int same_amount = 0;
    for (int i = 0; i < 2000; i++) {
        lg_gen_next(a, &ta);
        lg_gen_next(b, &tb);
        same_amount += ta.amount_minor == tb.amount_minor && ta.user == tb.user;
    }
    assert_true(same_amount < 20);
    lg_gen_destroy(&a);
    lg_gen_destroy(&b);
}

/* Split between 3 generators (as between 3 connections), the users emit
 * exactly the same transactions as with one generator. */
static void test_parts_merge_to_same_stream(void **state)
{
    (void) state;
    lg_gen_t *one = s_gen(9, 300, 0.05, 0, 1), *p[3];
    for (uint32_t i = 0; i < 3; i++) p[i] = s_gen(9, 300, 0.05, i, 3);
    lg_tx_t head[3], tx;
    for (int i = 0; i < 3; i++) lg_gen_next(p[i], &head[i]);
    for (int n = 0; n < 20000; n++) {
        int best = 0;
        for (int i = 1; i < 3; i++)
            if (head[i].ts_ms < head[best].ts_ms ||
                (head[i].ts_ms == head[best].ts_ms && head[i].user < head[best].user))
                best = i;
        lg_gen_next(one, &tx);
        assert_string_equal(tx.id, head[best].id);
        assert_int_equal(tx.ts_ms, head[best].ts_ms);
        assert_int_equal(tx.amount_minor, head[best].amount_minor);
        assert_int_equal(tx.kind, head[best].kind);
        assert_int_equal(tx.user % 3, (uint32_t) best);
        lg_gen_next(p[best], &head[best]);
    }
    lg_gen_destroy(&one);
    for (int i = 0; i < 3; i++) lg_gen_destroy(&p[i]);
}

static void s_check_share(double rate)
{
    lg_gen_t *g = s_gen(3, 2000, rate, 0, 1);
    lg_tx_t tx;
    const int n = 200000;
    int anomalies = 0, kinds[LG_KIND_COUNT] = {0};
    int64_t last = 0;
    for (int i = 0; i < n; i++) {
        lg_gen_next(g, &tx);
        assert_true(tx.ts_ms >= last); /* time-ordered stream */
        last = tx.ts_ms;
        assert_int_equal(tx.anomaly, lg_kind_is_anomaly(tx.kind));
        anomalies += tx.anomaly;
        kinds[tx.kind]++;
    }
    double share = (double) anomalies / n;
    print_message("anomaly rate %.3f -> share %.4f\n", rate, share);
    if (rate == 0) {
        assert_int_equal(anomalies, 0);
    } else {
        assert_true(fabs(share - rate) <= 0.1 * rate);
        for (int k = LG_KIND_FIRST_ANOMALY; k < LG_KIND_COUNT; k++) assert_true(kinds[k] > 0);
    }
    /* legitimate novelty exists too, so not every novelty is fraud */
    for (int k = 0; k < LG_KIND_FIRST_ANOMALY; k++) assert_true(kinds[k] > 0);
    lg_gen_destroy(&g);
}

static void test_anomaly_share_matches_rate(void **state)
{
    (void) state;
    s_check_share(0.02);
    s_check_share(0.1);
    s_check_share(0);
}

static void test_every_tx_valid_per_schema(void **state)
{
    (void) state;
    lg_gen_t *g = s_gen(5, 1000, 0.1, 0, 1);
    vg_jw_t w;
    vg_jw_init(&w);
    vg_arena_t arena = VG_ARENA_INIT;
    lg_tx_t tx;
    vg_tx_t parsed;
    vg_perr_t err;
    for (int i = 0; i < 50000; i++) {
        lg_gen_next(g, &tx);
        vg_jw_reset(&w);
        lg_tx_to_json(&tx, &w);
        vg_arena_reset(&arena);
        int rc = vg_tx_from_json(w.buf, w.len, &parsed, &arena, &err);
        if (rc) {
            char buf[300];
            print_error("%s: %s\n", w.buf, vg_perr_str(&err, buf, sizeof buf));
        }
        assert_int_equal(rc, 0);
        assert_true(vg_str_eq_c(parsed.id, tx.id));
        assert_true(vg_str_eq_c(parsed.user_id, tx.user_id));
        assert_true(parsed.amount == tx.amount);
        assert_int_equal(parsed.ts_ms, tx.ts_ms);
        assert_string_equal(parsed.currency, tx.currency);
        assert_string_equal(parsed.country, tx.country);
        assert_true(vg_tx_has_geo(&parsed));
        assert_int_equal(parsed.n_attrs, 2);
        assert_true(strlen(tx.id) <= VG_TX_ID_MAX);
    }
    vg_arena_fini(&arena);
    vg_jw_fini(&w);
    lg_gen_destroy(&g);
}

typedef struct {
    double lat, lon;
    int64_t ts;
    bool seen, anomaly;
} s_last_t;

static void test_impossible_travel_is_impossible(void **state)
{
    (void) state;
    enum { USERS = 1000 };
    static s_last_t last[USERS];
    memset(last, 0, sizeof last);
    lg_gen_t *g = s_gen(11, USERS, 0.1, 0, 1);
    lg_tx_t tx;
    int pairs = 0, trips = 0;
    for (int i = 0; i < 300000; i++) {
        lg_gen_next(g, &tx);
        s_last_t *l = &last[tx.user];
        if (l->seen) {
            double km = lg_geo_km(l->lat, l->lon, tx.lat, tx.lon);
            double hours = (double) (tx.ts_ms - l->ts) / 3.6e6;
            if (tx.kind == LG_KIND_IMPOSSIBLE_TRAVEL) {
                assert_true(hours > 0 && hours <= 1.0);
                assert_true(km / hours > 1000);
                pairs++;
            }
            if (tx.kind == LG_KIND_TRIP && !l->anomaly && km > 100) { /* flyable */
                if (km / hours >= 1000) print_error("%s: %.0f km in %.2f h\n", tx.id, km, hours);
                assert_true(km / hours < 1000);
                trips++;
            }
        }
        *l = (s_last_t){tx.lat, tx.lon, tx.ts_ms, true, tx.anomaly};
    }
    print_message("%d impossible-travel pairs, %d trip legs checked\n", pairs, trips);
    assert_true(pairs > 100);
    assert_true(trips > 50);
    lg_gen_destroy(&g);
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void test_routine_near_user_median(void **state)
{
    (void) state;
    enum { USERS = 300, PER = 4000 };
    static double amounts[USERS][PER];
    static int cnt[USERS];
    memset(cnt, 0, sizeof cnt);
    lg_gen_t *g = s_gen(13, USERS, 0.05, 0, 1);
    lg_tx_t tx;
    int spikes = 0;
    for (int i = 0; i < 300000; i++) {
        lg_gen_next(g, &tx);
        if (tx.kind == LG_KIND_AMOUNT_SPIKE) { /* 8-50x the median of the user's habits */
            double x = tx.amount / lg_gen_user_median(g, tx.user);
            assert_true(x >= 7.9 && x <= 50.5);
            spikes++;
        }
        if (tx.kind != LG_KIND_ROUTINE || cnt[tx.user] >= PER) continue;
        amounts[tx.user][cnt[tx.user]++] = tx.amount;
    }
    assert_true(spikes > 50);
    long within = 0, total = 0;
    for (int u = 0; u < USERS; u++) {
        if (cnt[u] < 20) continue;
        qsort(amounts[u], (size_t) cnt[u], sizeof(double), s_cmp_double);
        double med = amounts[u][cnt[u] / 2];
        /* the empirical median tracks the user's habit */
        double ratio = med / lg_gen_user_median(g, (uint32_t) u);
        assert_true(ratio > 0.4 && ratio < 2.5);
        for (int i = 0; i < cnt[u]; i++) {
            within += amounts[u][i] <= 5 * med && amounts[u][i] >= med / 5;
            total++;
        }
    }
    double share = (double) within / (double) total;
    print_message("routine within 5x of the user's median: %.2f%% of %ld\n", 100 * share, total);
    assert_true(total > 100000);
    assert_true(share >= 0.95);
    lg_gen_destroy(&g);
}

static void test_velocity_is_a_burst(void **state)
{
    (void) state;
    enum { USERS = 500 };
    static int64_t prev[USERS];
    static int run[USERS];
    static char dev[USERS][20];
    memset(prev, 0, sizeof prev);
    memset(run, 0, sizeof run);
    lg_gen_t *g = s_gen(17, USERS, 0.1, 0, 1);
    lg_tx_t tx;
    int bursts = 0;
    for (int i = 0; i < 200000; i++) {
        lg_gen_next(g, &tx);
        if (tx.kind == LG_KIND_VELOCITY) {
            if (run[tx.user] > 0 && strcmp(tx.device_id, dev[tx.user]) != 0) {
                assert_true(run[tx.user] >= 6 && run[tx.user] <= 15); /* next burst */
                run[tx.user] = 0;
                bursts++;
            }
            if (run[tx.user] > 0) { /* one fraudster device, seconds apart */
                assert_true(tx.ts_ms - prev[tx.user] <= 45000);
                assert_string_equal(tx.device_id, dev[tx.user]);
            }
            memcpy(dev[tx.user], tx.device_id, sizeof dev[0]);
            assert_string_equal(tx.channel, "ecom");
            run[tx.user]++;
        } else if (run[tx.user] > 0) {
            assert_true(run[tx.user] >= 6 && run[tx.user] <= 15);
            run[tx.user] = 0;
            bursts++;
        }
        prev[tx.user] = tx.ts_ms;
    }
    assert_true(bursts > 20);
    lg_gen_destroy(&g);
}

/* ---- histogram --------------------------------------------------------- */

static uint64_t s_exact(const uint64_t *sorted, size_t n, double q)
{
    size_t rank = (size_t) ceil(q * (double) n);
    if (rank < 1) rank = 1;
    return sorted[rank - 1];
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static void test_hist_percentiles_within_1pct(void **state)
{
    (void) state;
    enum { N = 200000 };
    static uint64_t v[N];
    static lg_hist_t h, h2, merged;
    lg_hist_init(&h);
    lg_hist_init(&h2);
    lg_hist_init(&merged);
    srand(1);
    for (int i = 0; i < N; i++) { /* lognormal latencies around 300 us, tail to ~100 ms */
        double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = rand() / (RAND_MAX + 1.0);
        double z = sqrt(-2 * log(u1)) * cos(6.283185307 * u2);
        v[i] = (uint64_t) (300000 * exp(1.1 * z));
        lg_hist_record(i % 2 ? &h : &h2, v[i]);
    }
    lg_hist_merge(&merged, &h);
    lg_hist_merge(&merged, &h2);
    qsort(v, N, sizeof v[0], s_cmp_u64);
    assert_int_equal(lg_hist_count(&merged), N);
    assert_int_equal(lg_hist_max(&merged), v[N - 1]);
    const double qs[] = {0.001, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double exact = (double) s_exact(v, N, qs[i]);
        double got = (double) lg_hist_quantile(&merged, qs[i]);
        assert_true(fabs(got - exact) <= 0.01 * exact);
    }
    /* small exact values and an evenly spread set */
    lg_hist_t *e = calloc(1, sizeof *e);
    for (uint64_t x = 1; x <= 100; x++) lg_hist_record(e, x);
    assert_int_equal(lg_hist_quantile(e, 0.5), 50);
    assert_int_equal(lg_hist_quantile(e, 0.99), 99);
    lg_hist_init(e);
    for (uint64_t x = 1; x <= 1000000; x += 7) lg_hist_record(e, x * 1000);
    assert_true(fabs((double) lg_hist_quantile(e, 0.5) - 500e6) < 0.01 * 500e6);
    assert_true(fabs((double) lg_hist_quantile(e, 0.999) - 999e6) < 0.01 * 999e6);
    /* every bucket contains the values mapped to it */
    for (uint64_t x = 1; x < (1ull << 40); x = x * 3 + 1) {
        uint64_t lo, width;
        lg_hist_bucket(lg_hist_index(x), &lo, &width);
        assert_true(x >= lo && x < lo + width);
        assert_true((double) width <= (double) lo / 100 || width == 1);
    }
    free(e);
}

/* ---- quality ----------------------------------------------------------- */

static void test_quality_arithmetic(void **state)
{
    (void) state;
    lg_confusion_t c = {80, 20, 40, 860};
    lg_scores_t s;
    lg_confusion_scores(&c, &s);
    assert_true(fabs(s.precision - 0.8) < 1e-12);
    assert_true(fabs(s.recall - 80.0 / 120) < 1e-12);
    assert_true(fabs(s.f1 - 2 * 0.8 * (2.0 / 3) / (0.8 + 2.0 / 3)) < 1e-12);
    assert_true(fabs(s.fpr - 20.0 / 880) < 1e-12);
    lg_confusion_t none = {0, 0, 0, 10};
    lg_confusion_scores(&none, &s);
    assert_true(isnan(s.precision) && isnan(s.recall) && isnan(s.f1));
    assert_true(s.fpr == 0);

    /* per-kind tallies fold into the same matrix */
    lg_quality_t q;
    memset(&q, 0, sizeof q);
    for (int i = 0; i < 50; i++) lg_quality_add(&q, LG_KIND_AMOUNT_SPIKE, i < 45, i < 40);
    for (int i = 0; i < 70; i++) lg_quality_add(&q, LG_KIND_VELOCITY, i < 35, i < 50);
    for (int i = 0; i < 800; i++) lg_quality_add(&q, LG_KIND_ROUTINE, i < 10, i < 30);
    for (int i = 0; i < 80; i++) lg_quality_add(&q, LG_KIND_TRIP, i < 10, i < 12);
    lg_confusion_t a = lg_quality_confusion(&q, false), d = lg_quality_confusion(&q, true);
    assert_int_equal(a.tp, 80);
    assert_int_equal(a.fn, 40);
    assert_int_equal(a.fp, 20);
    assert_int_equal(a.tn, 860);
    assert_int_equal(d.tp, 90);
    assert_int_equal(d.fp, 42);
    lg_quality_t sum;
    memset(&sum, 0, sizeof sum);
    lg_quality_merge(&sum, &q);
    lg_quality_merge(&sum, &q);
    assert_int_equal(lg_quality_total(&sum), 2000);
}

/* ---- responses --------------------------------------------------------- */

static void s_txs(lg_tx_t *txs, int n)
{
    memset(txs, 0, sizeof(lg_tx_t) * (size_t) n);
    for (int i = 0; i < n; i++) snprintf(txs[i].id, sizeof txs[i].id, "t%d", i);
}

static void test_response_parsing(void **state)
{
    (void) state;
    lg_tx_t txs[4];
    s_txs(txs, 4);
    lg_result_t res[4];
    vg_arena_t arena = VG_ARENA_INIT;
    char err[160];
    const char *body =
        "{\"results\":[{\"id\":\"t0\",\"decision\":\"allow\",\"anomaly\":false,\"score\":0.1,"
        "\"reasons\":[],\"late\":true},"
        "{\"id\":\"t1\",\"decision\":\"block\",\"anomaly\":true,\"score\":0.97,\"reasons\":"
        "[{\"detector\":\"mad\",\"feature\":\"amount\",\"value\":900,\"baseline\":30,"
        "\"threshold\":6,\"contribution\":1}]},"
        "{\"index\":2,\"id\":\"t2\",\"error\":{\"code\":\"INVALID\",\"message\":\"amount: bad\"}},"
        "{\"id\":\"tX\",\"decision\":\"review\",\"anomaly\":false,\"score\":0.5,\"reasons\":[],"
        "\"duplicate\":true}]}";
    assert_int_equal(lg_resp_parse(body, strlen(body), false, txs, 4, res, &arena, err, sizeof err),
                     0);
    assert_true(res[0].scored && !res[0].anomaly && !res[0].flagged && res[0].late);
    assert_true(res[1].scored && res[1].anomaly && res[1].flagged);
    assert_false(res[2].scored);
    assert_string_equal(res[2].error, "INVALID");
    assert_true(res[3].scored && res[3].flagged && res[3].duplicate && res[3].id_mismatch);
    /* wrong count, not JSON, single object */
    assert_int_not_equal(
        lg_resp_parse(body, strlen(body), false, txs, 3, res, &arena, err, sizeof err), 0);
    assert_int_not_equal(lg_resp_parse("oops", 4, false, txs, 1, res, &arena, err, sizeof err), 0);
    const char *one = "{\"id\":\"t0\",\"decision\":\"review\",\"anomaly\":true,\"score\":0.6}";
    assert_int_equal(lg_resp_parse(one, strlen(one), true, txs, 1, res, &arena, err, sizeof err),
                     0);
    assert_true(res[0].scored && res[0].anomaly && res[0].flagged);
    char text[200];
    const char *e = "{\"error\":{\"code\":\"INVALID\",\"message\":\"currency: must be 3 upper-case "
                    "letters\",\"field\":\"currency\",\"index\":3}}";
    lg_resp_error_text(e, strlen(e), text, sizeof text);
    assert_string_equal(text, "INVALID: currency: must be 3 upper-case letters (field currency)");
    vg_arena_fini(&arena);
}

/* ---- CLI --------------------------------------------------------------- */

static int s_parse(lg_opts_t *o, char *err, const char *a1, const char *a2, const char *a3)
{
    char *argv[] = {"vigil-loadgen", (char *) a1, (char *) a2, (char *) a3, NULL};
    int argc = 1 + (a1 != NULL) + (a2 != NULL) + (a3 != NULL);
    lg_opts_defaults(o);
    return lg_cli_parse(argc, argv, o, stdout, err, 256);
}

static void test_cli(void **state)
{
    (void) state;
    lg_opts_t o;
    char err[256];
    assert_int_equal(s_parse(&o, err, "--rate", "abc", NULL), VG_ERR_INVALID);
    assert_true(strncmp(err, "--rate: ", 8) == 0);
    assert_int_equal(s_parse(&o, err, "--batch=0", NULL, NULL), VG_ERR_INVALID);
    assert_true(strncmp(err, "--batch: ", 9) == 0);
    assert_int_equal(s_parse(&o, err, "--bogus", NULL, NULL), VG_ERR_INVALID);
    assert_non_null(strstr(err, "--bogus"));
    assert_int_equal(s_parse(&o, err, "--anomaly-mix", "spike=1", NULL), VG_ERR_INVALID);
    assert_true(strncmp(err, "--anomaly-mix: ", 15) == 0);
    assert_int_equal(s_parse(&o, err, "--target", "https://x", NULL), VG_ERR_INVALID);
    assert_true(strncmp(err, "--target: ", 10) == 0);
    assert_int_equal(s_parse(&o, err, "--users", "2", "--concurrency=3"), VG_ERR_INVALID);
    assert_true(strncmp(err, "--concurrency: ", 15) == 0);
    assert_int_equal(s_parse(&o, err, "--count", NULL, NULL), VG_ERR_INVALID);
    assert_true(strncmp(err, "--count: missing", 16) == 0);

    assert_int_equal(s_parse(&o, err, "--target=http://[::1]:9000/x", "--duration", "2m"), 0);
    assert_string_equal(o.url.host, "::1");
    assert_string_equal(o.url.port, "9000");
    assert_string_equal(o.url.path, "/x");
    assert_true(o.duration == 120);
    assert_int_equal(s_parse(&o, err, "--anomaly-mix", "velocity=2,amount_spike=1", NULL), 0);
    assert_true(o.mix[LG_KIND_VELOCITY - LG_KIND_FIRST_ANOMALY] == 2);
    assert_true(o.mix[LG_KIND_IMPOSSIBLE_TRAVEL - LG_KIND_FIRST_ANOMALY] == 0);
    assert_int_equal(s_parse(&o, err, "--start", "2026-03-01T00:00:00Z", NULL), 0);
    assert_int_equal(o.start_ms, 1772323200000LL);
    assert_string_equal(o.url.path, "/v1/transactions");
}

/* ---- HTTP client against a scripted server ----------------------------- */

typedef struct {
    int lfd;
    int requests;
} s_srv_t;

/* Reads one request (head + Content-Length body); false on EOF. */
static bool s_read_request(int fd)
{
    char buf[65536];
    size_t len = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r <= 0) return false;
        len += (size_t) r;
        buf[len] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        char *cl = strcasestr(buf, "Content-Length:");
        size_t body = cl ? (size_t) atol(cl + 15) : 0;
        if (len >= (size_t) (end + 4 - buf) + body) return true;
    }
}

static void *s_server(void *arg)
{
    s_srv_t *s = arg;
    /* connection 1: a Content-Length answer, a chunked one, then an idle close */
    int fd = accept(s->lfd, NULL, NULL);
    assert_true(s_read_request(fd));
    const char *a = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
                    "{\"a\":1}";
    send(fd, a, strlen(a), 0);
    s->requests++;
    assert_true(s_read_request(fd));
    const char *b1 = "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"b\"";
    const char *b2 = "\r\n3;ext=1\r\n:2}\r\n0\r\n\r\n";
    send(fd, b1, strlen(b1), 0);
    usleep(20000);
    send(fd, b2, strlen(b2), 0);
    s->requests++;
    close(fd);
    /* connection 2: the client retries after the idle close */
    fd = accept(s->lfd, NULL, NULL);
    assert_true(s_read_request(fd));
    const char *c = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"c\":3}";
    send(fd, c, strlen(c), 0);
    s->requests++;
    close(fd);
    return NULL;
}

static void test_http_client(void **state)
{
    (void) state;
    s_srv_t srv = {0};
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(srv.lfd, (struct sockaddr *) &addr, sizeof addr), 0);
    socklen_t al = sizeof addr;
    getsockname(srv.lfd, (struct sockaddr *) &addr, &al);
    listen(srv.lfd, 4);
    char url_s[64];
    snprintf(url_s, sizeof url_s, "http://127.0.0.1:%d", ntohs(addr.sin_port));
    lg_url_t url;
    char err[160];
    assert_int_equal(lg_url_parse(url_s, &url, err, sizeof err), 0);
    pthread_t th;
    pthread_create(&th, NULL, s_server, &srv);

    lg_http_t *c = lg_http_new(&url, "X-Test: 1\r\n", 2000);
    lg_http_resp_t r;
    assert_int_equal(lg_http_post(c, "application/json", "[1]", 3, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 7);
    assert_memory_equal(r.body, "{\"a\":1}", 7);
    assert_int_equal(lg_http_post(c, "application/json", "[2]", 3, &r), 0);
    assert_int_equal(r.status, 400);
    assert_int_equal(r.body_len, 7);
    assert_memory_equal(r.body, "{\"b\":2}", 7);
    usleep(50000); /* the server has closed the kept-alive connection by now */
    assert_int_equal(lg_http_post(c, "application/json", "[3]", 3, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"c\":3}");
    pthread_join(th, NULL);
    assert_int_equal(srv.requests, 3);
    close(srv.lfd);
    /* nobody listens any more */
    assert_int_equal(lg_http_post(c, "application/json", "[4]", 3, &r), VG_ERR_UNREACHABLE);
    assert_non_null(strstr(lg_http_error(c), "refused"));
    assert_int_equal(lg_http_probe(&url, 500, err, sizeof err), VG_ERR_UNREACHABLE);
    lg_http_destroy(&c);
}

/* ---- --dry-run --------------------------------------------------------- */

static char *s_dry(uint64_t count, size_t *len, char **labels, size_t *lab_len)
{
    lg_opts_t o;
    lg_opts_defaults(&o);
    o.dry_run = true;
    o.count = count;
    o.users = 200;
    o.history_days = 2;
    o.anomaly_rate = 0.05;
    atomic_bool stop = false;
    char *out_buf = NULL, *lab_buf = NULL;
    FILE *out = open_memstream(&out_buf, len), *lab = open_memstream(&lab_buf, lab_len);
    lg_run_cfg_t cfg = {&o, "3", T_START, &stop, lab, NULL};
    lg_report_t *rep = lg_report_new();
    rep->opts = &o;
    assert_int_equal(lg_run_dry(&cfg, out, rep), 0);
    uint64_t measured = 0;
    for (int k = 0; k < LG_KIND_COUNT; k++) measured += rep->generated[k];
    assert_int_equal(measured, count);
    assert_true(rep->wu_tx > 500); /* 200 users x 2 days of history */
    fclose(out);
    fclose(lab);
    int lines = 0;
    for (size_t i = 0; i < *len; i++) lines += out_buf[i] == '\n';
    assert_int_equal((uint64_t) lines, rep->wu_tx + count);
    lg_report_destroy(&rep);
    *labels = lab_buf;
    return out_buf;
}

static void test_dry_run_reproducible(void **state)
{
    (void) state;
    size_t la, lb, lla, llb;
    char *laba, *labb;
    char *a = s_dry(3000, &la, &laba, &lla), *b = s_dry(3000, &lb, &labb, &llb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_int_equal(lla, llb);
    assert_memory_equal(laba, labb, lla);
    /* one label row per line, same id order */
    const char *first_id = strstr(a, "\"id\":\"") + 6;
    assert_int_equal(strncmp(laba, first_id, (size_t) (strchr(first_id, '"') - first_id)), 0);
    free(a);
    free(b);
    free(laba);
    free(labb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_identical),
        cmocka_unit_test(test_different_seeds_differ),
        cmocka_unit_test(test_parts_merge_to_same_stream),
        cmocka_unit_test(test_anomaly_share_matches_rate),
        cmocka_unit_test(test_every_tx_valid_per_schema),
        cmocka_unit_test(test_impossible_travel_is_impossible),
        cmocka_unit_test(test_routine_near_user_median),
        cmocka_unit_test(test_velocity_is_a_burst),
        cmocka_unit_test(test_hist_percentiles_within_1pct),
        cmocka_unit_test(test_quality_arithmetic),
        cmocka_unit_test(test_response_parsing),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_http_client),
        cmocka_unit_test(test_dry_run_reproducible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
