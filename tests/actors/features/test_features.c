/* test_features.c: per-user features in event time: window rings across
 * bucket boundaries and expiry, EWMA, quantiles/MAD against a brute-force
 * model, gaps, hour profile, novelty sets with eviction, haversine and
 * speed, late and out-of-order events, and the state as raw bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_MS  (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define T0      (1700000000000LL - 1700000000000LL % (24 * HOUR_MS)) /* midnight UTC */

static vg_features_config_t s_cfg;

static int s_setup(void **state)
{
    (void) state;
    vg_features_config_default(&s_cfg);
    return 0;
}

/* A transaction with only what the features read; strings borrowed. */
static vg_tx_t s_tx(int64_t ts, double amount)
{
    vg_tx_t tx;
    vg_tx_init(&tx);
    tx.ts_ms = ts;
    tx.amount = amount;
    return tx;
}

/* Applies tx, which must not be late. */
static vg_features_t s_apply_tx(vg_user_state_t *s, const vg_tx_t *tx)
{
    vg_features_t f;
    assert_true(vg_features_update(s, tx, &s_cfg, &f));
    return f;
}

static vg_features_t s_apply(vg_user_state_t *s, int64_t ts, double amount)
{
    vg_tx_t tx = s_tx(ts, amount);
    return s_apply_tx(s, &tx);
}

static vg_features_t s_peek(const vg_user_state_t *s, int64_t ts, double amount)
{
    vg_tx_t tx = s_tx(ts, amount);
    vg_features_t f;
    vg_features_compute(s, &tx, &s_cfg, &f);
    return f;
}

static void s_expect_counts(const vg_features_t *f, double c1m, double c10m, double c1h,
                            double c24h)
{
    assert_float_equal(f->count_1m, c1m, 1e-9);
    assert_float_equal(f->count_10m, c10m, 1e-9);
    assert_float_equal(f->count_1h, c1h, 1e-9);
    assert_float_equal(f->count_24h, c24h, 1e-9);
}

static void test_windows_across_buckets_and_expiry(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    vg_features_t f = s_apply(&s, T0, 1);
    s_expect_counts(&f, 1, 1, 1, 1);
    f = s_apply(&s, T0 + 30000, 2);
    s_expect_counts(&f, 2, 2, 2, 2);
    assert_float_equal(f.sum_1m, 3, 1e-9);
    f = s_apply(&s, T0 + 5 * MIN_MS, 4); /* 1 min window: the first two expired */
    s_expect_counts(&f, 1, 3, 3, 3);
    assert_float_equal(f.sum_10m, 7, 1e-9);
    assert_float_equal(f.sum_1m, 4, 1e-9);
    f = s_apply(&s, T0 + 2 * HOUR_MS, 8); /* 1 h window: only itself */
    s_expect_counts(&f, 1, 1, 1, 4);
    assert_float_equal(f.sum_1h, 8, 1e-9);
    assert_float_equal(f.sum_24h, 15, 1e-9);
    f = s_apply(&s, T0 + 25 * HOUR_MS, 16); /* 24 h window: the t+2h one and itself */
    s_expect_counts(&f, 1, 1, 1, 2);
    assert_float_equal(f.sum_24h, 24, 1e-9);
}

/* The oldest bucket counts by the share of it inside the window. */
static void test_window_partial_oldest_bucket(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    s_apply(&s, T0, 10);
    /* 1 h = 12 x 5 min + partial: at t0 + 62.5 min half of t0's bucket is inside */
    vg_features_t f = s_peek(&s, T0 + HOUR_MS + 150000, 1);
    assert_float_equal(f.count_1h, 1.5, 1e-9);
    assert_float_equal(f.sum_1h, 6, 1e-9);
    f = s_peek(&s, T0 + HOUR_MS + 5 * MIN_MS, 1); /* fully out */
    assert_float_equal(f.count_1h, 1, 1e-9);
    f = s_peek(&s, T0 + 59 * MIN_MS, 1); /* fully in */
    assert_float_equal(f.count_1h, 2, 1e-9);
}

static void test_ewma(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    for (int i = 1; i <= 10; i++) s_apply(&s, T0 + i * MIN_MS, i);
    /* alpha_eff = max(alpha, 1/n): the first 20 are a plain average */
    vg_features_t f = s_peek(&s, T0 + HOUR_MS, 1);
    assert_float_equal(f.ewma_mean, 5.5, 1e-9);
    assert_float_equal(f.ewma_std, sqrt(8.25), 1e-9);
    double lm = 0, lv = 0;
    for (int i = 1; i <= 10; i++) lm += log1p(i) / 10;
    for (int i = 1; i <= 10; i++) lv += (log1p(i) - lm) * (log1p(i) - lm) / 10;
    assert_float_equal(f.ewma_log_mean, lm, 1e-9);
    assert_float_equal(f.ewma_log_std, sqrt(lv), 1e-9);
    /* then it converges to a new regime: cycle 10,20,30,40 (mean 25, std 11.18) */
    for (int i = 0; i < 800; i++) s_apply(&s, T0 + (100 + i) * MIN_MS, 10 + 10 * (i % 4));
    f = s_peek(&s, T0 + 1000 * MIN_MS, 1);
    assert_float_equal(f.ewma_mean, 25, 1.5);
    assert_float_equal(f.ewma_std, sqrt(125), 1.5);
    vg_user_state_t fresh;
    vg_user_state_init(&fresh);
    f = s_peek(&fresh, T0, 1);
    assert_true(isnan(f.ewma_mean) && isnan(f.median) && isnan(f.secs_since_prev));
}

/* Quantile type 7 and MADs computed the slow, obvious way. */
static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double s_q7(const double *sorted, int m, double p)
{
    double h = (m - 1) * p;
    int i = (int) h;
    return i + 1 < m ? sorted[i] + (h - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
}

static void s_model(const double *vals, int m, double out[5])
{
    double v[VG_RING_AMOUNTS], d[VG_RING_AMOUNTS], ld[VG_RING_AMOUNTS];
    memcpy(v, vals, sizeof(double) * (size_t) m);
    qsort(v, (size_t) m, sizeof *v, s_cmp);
    double med = s_q7(v, m, 0.5);
    for (int i = 0; i < m; i++) d[i] = fabs(v[i] - med), ld[i] = fabs(log1p(v[i]) - log1p(med));
    qsort(d, (size_t) m, sizeof *d, s_cmp);
    qsort(ld, (size_t) m, sizeof *ld, s_cmp);
    out[0] = med, out[1] = s_q7(v, m, 0.25), out[2] = s_q7(v, m, 0.75);
    out[3] = s_q7(d, m, 0.5), out[4] = s_q7(ld, m, 0.5);
}

static void s_expect_model(const vg_user_state_t *s, const double *vals, int m)
{
    double want[5];
    s_model(vals, m, want);
    vg_features_t f = s_peek(s, s->last_ts_ms + 1000, 1);
    double got[5] = {f.median, f.q1, f.q3, f.mad, f.log_mad};
    for (int i = 0; i < 5; i++) assert_float_equal(got[i], want[i], 1e-6 * (1 + fabs(want[i])));
}

static void test_quantiles_known_ring(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    for (int i = 1; i <= 9; i++) s_apply(&s, T0 + i * MIN_MS, 10 - i); /* 9..1 */
    vg_features_t f = s_peek(&s, T0 + HOUR_MS, 20);
    assert_float_equal(f.median, 5, 0);
    assert_float_equal(f.q1, 3, 0);
    assert_float_equal(f.q3, 7, 0);
    assert_float_equal(f.mad, 2, 0); /* |x - 5| = 0,1,1,2,2,3,3,4,4 */
    assert_float_equal(f.amount_to_median, 4, 1e-12);
    s_apply(&s, T0 + 10 * MIN_MS, 10); /* 1..10 */
    f = s_peek(&s, T0 + HOUR_MS, 1);
    assert_float_equal(f.median, 5.5, 0);
    assert_float_equal(f.q1, 3.25, 0);
    assert_float_equal(f.q3, 7.75, 0);
    assert_float_equal(f.mad, 2.5, 0);
}

/* Random amounts (with ties) through the bounded ring vs the last 64. */
static void test_quantiles_against_model(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    double hist[500];
    srand(11);
    for (int i = 0; i < 500; i++) {
        hist[i] = (rand() % 4 == 0) ? 40 : (double) (float) (exp((rand() % 1000) / 150.0));
        s_apply(&s, T0 + i * MIN_MS, hist[i]);
        int m = i + 1 < VG_RING_AMOUNTS ? i + 1 : VG_RING_AMOUNTS;
        if (i < 80 || i % 37 == 0) s_expect_model(&s, hist + i + 1 - m, m);
    }
    assert_int_equal(s.amt_len, VG_RING_AMOUNTS);
}

static void test_gaps_and_rate(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    vg_features_t f = s_apply(&s, T0, 5);
    assert_true(isnan(f.secs_since_prev) && isnan(f.rate_per_hour));
    assert_float_equal(f.n_prior, 0, 0);
    f = s_apply(&s, T0 + 90000, 5);
    assert_float_equal(f.secs_since_prev, 90, 1e-9);
    assert_float_equal(f.n_prior, 1, 0);
    f = s_apply(&s, T0 + 60000, 5); /* out of order: never negative */
    assert_float_equal(f.secs_since_prev, 0, 0);
    f = s_peek(&s, T0 + 100000, 5);
    assert_float_equal(f.rate_per_hour, 3.0 / 24, 1e-12); /* young user: >= 24 h span */
    for (int d = 1; d <= 47; d++) s_apply(&s, T0 + d * 24 * HOUR_MS, 5);
    f = s_peek(&s, T0 + 48 * 24 * HOUR_MS, 5);
    assert_float_equal(f.rate_per_hour, 50.0 / (48 * 24), 1e-12);
}

static void test_hour_profile(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    for (int d = 0; d < 10; d++) s_apply(&s, T0 + d * 24 * HOUR_MS + 14 * HOUR_MS + 5, 5);
    vg_features_t f = s_peek(&s, T0 + 20 * 24 * HOUR_MS + 14 * HOUR_MS + 30 * MIN_MS, 5);
    assert_float_equal(f.hour_of_day, 14, 0);
    assert_float_equal(f.hour_prob, 11.0 / 34, 1e-12);
    f = s_peek(&s, T0 + 20 * 24 * HOUR_MS + 3 * HOUR_MS, 5);
    assert_float_equal(f.hour_of_day, 3, 0);
    assert_float_equal(f.hour_prob, 1.0 / 34, 1e-12);
    /* counters never overflow: they are halved, the profile keeps its shape */
    for (int i = 0; i < 70000; i++) s_apply(&s, T0 + 30 * 24 * HOUR_MS + 3 * HOUR_MS + i, 5);
    f = s_peek(&s, T0 + 60 * 24 * HOUR_MS + 3 * HOUR_MS, 5);
    assert_true(f.hour_prob > 0.95 && f.hour_prob < 1);
    assert_true(s.hour_total <= 1024);
}

typedef struct {
    const char *merchant, *device, *channel, *country;
} s_keys_t;

static vg_features_t s_apply_keys(vg_user_state_t *s, int64_t ts, s_keys_t k)
{
    vg_tx_t tx = s_tx(ts, 10);
    if (k.merchant) tx.merchant_id = vg_str_c(k.merchant);
    if (k.device) tx.device_id = vg_str_c(k.device);
    if (k.channel) tx.channel = vg_str_c(k.channel);
    if (k.country) snprintf(tx.country, sizeof tx.country, "%s", k.country);
    return s_apply_tx(s, &tx);
}

static void test_novelty_flags(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    vg_features_t f = s_apply_keys(&s, T0, (s_keys_t){"m1", NULL, "web", "FR"});
    assert_true(f.new_merchant == 0 && f.new_channel == 0 && f.new_country == 0); /* no history */
    f = s_apply_keys(&s, T0 + 1000, (s_keys_t){"m2", "d1", "web", "DE"});
    assert_true(f.new_merchant == 1 && f.new_country == 1);
    assert_true(f.new_device == 0 && f.new_channel == 0); /* first device: not new */
    f = s_apply_keys(&s, T0 + 2000, (s_keys_t){"m1", "d2", "pos", "FR"});
    assert_true(f.new_merchant == 0 && f.new_device == 1 && f.new_channel == 1);
    assert_true(f.new_country == 0);
    f = s_apply_keys(&s, T0 + 3000, (s_keys_t){NULL, NULL, NULL, ""}); /* absent: never new */
    assert_true(f.new_merchant == 0 && f.new_device == 0 && f.new_channel == 0);
    assert_true(f.new_country == 0);
    f = s_apply_keys(&s, T0 + 4000, (s_keys_t){"m2", "d1", "web", "DE"});
    assert_true(f.new_merchant + f.new_device + f.new_channel + f.new_country == 0);
}

/* Sets stay bounded and evict the least recently seen value. */
static void test_novelty_eviction(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    char dev[VG_SET_DEVICES + 2][8];
    for (int i = 0; i < VG_SET_DEVICES + 2; i++) snprintf(dev[i], sizeof dev[i], "d%d", i);
    int64_t t = T0;
    for (int i = 0; i < VG_SET_DEVICES; i++)
        s_apply_keys(&s, t += 1000, (s_keys_t){.device = dev[i]});
    s_apply_keys(&s, t += 1000, (s_keys_t){.device = dev[0]}); /* d0 is now the most recent */
    vg_features_t f = s_apply_keys(&s, t += 1000, (s_keys_t){.device = dev[VG_SET_DEVICES]});
    assert_true(f.new_device == 1); /* evicts d1, the least recently seen */
    assert_int_equal(s.set_len[1], VG_SET_DEVICES);
    f = s_apply_keys(&s, t += 1000, (s_keys_t){.device = dev[0]});
    assert_true(f.new_device == 0);
    f = s_apply_keys(&s, t += 1000, (s_keys_t){.device = dev[1]});
    assert_true(f.new_device == 1);
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        s_apply_keys(&s, t += 1000, (s_keys_t){.merchant = name});
    }
    assert_int_equal(s.set_len[0], VG_SET_MERCHANTS);
}

static vg_features_t s_apply_geo(vg_user_state_t *s, int64_t ts, double lat, double lon)
{
    vg_tx_t tx = s_tx(ts, 10);
    tx.lat = lat;
    tx.lon = lon;
    return s_apply_tx(s, &tx);
}

static void test_geo_distance_and_speed(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    vg_features_t f = s_apply_geo(&s, T0, 48.8566, 2.3522); /* Paris */
    assert_true(isnan(f.distance_km) && isnan(f.speed_kmh));
    f = s_apply(&s, T0 + HOUR_MS, 5); /* not located: NaN, keeps Paris */
    assert_true(isnan(f.distance_km) && isnan(f.speed_kmh));
    f = s_apply_geo(&s, T0 + 2 * HOUR_MS, 51.5074, -0.1278); /* London */
    assert_float_equal(f.distance_km, 344, 344 * 0.01);
    assert_float_equal(f.speed_kmh, f.distance_km / 2, 1e-9);
    /* 1 km in 5 s is GPS noise, not 720 km/h: dt is at least 60 s */
    f = s_apply_geo(&s, T0 + 2 * HOUR_MS + 5000, 51.5074 + 1 / 111.2, -0.1278);
    assert_float_equal(f.distance_km, 1, 0.01);
    assert_float_equal(f.speed_kmh, f.distance_km * 60, 1e-9);
}

static void test_late_event_leaves_state(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    for (int i = 0; i < 30; i++) s_apply_geo(&s, T0 + i * 10 * MIN_MS, 48.85, 2.35);
    vg_user_state_t before = s;
    vg_tx_t tx = s_tx(s.last_ts_ms - s_cfg.late_tolerance_ms - 1, 999);
    tx.device_id = vg_str_c("other");
    tx.lat = 40.7, tx.lon = -74.0;
    vg_features_t f;
    assert_false(vg_features_update(&s, &tx, &s_cfg, &f));
    assert_memory_equal(&before, &s, sizeof s);
    assert_float_equal(f.late, 1, 0);
    assert_float_equal(f.n_prior, 30, 0); /* scored against the current state */
    assert_true(f.distance_km > 5000);
    tx.ts_ms = s.last_ts_ms - s_cfg.late_tolerance_ms; /* at the tolerance: not late */
    assert_true(vg_features_update(&s, &tx, &s_cfg, &f));
    assert_float_equal(f.late, 0, 0);
}

static void test_out_of_order_within_tolerance(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    s_apply(&s, T0, 1);
    s_apply(&s, T0 + 4 * MIN_MS, 2);
    vg_features_t f = s_apply(&s, T0 + 2 * MIN_MS, 4); /* 2 min late: applied */
    assert_float_equal(f.late, 0, 0);
    assert_float_equal(f.count_10m, 2, 1e-9); /* t0 and itself: not the later one */
    assert_int_equal(s.n, 3);
    assert_int_equal(s.last_ts_ms, T0 + 4 * MIN_MS);
    f = s_peek(&s, T0 + 4 * MIN_MS + 1000, 8);
    assert_float_equal(f.count_10m, 4, 1e-9);
    assert_float_equal(f.sum_10m, 15, 1e-9);
    assert_float_equal(f.count_1m, 2, 1e-9); /* t+4 min and itself */
}

static void test_future_timestamp_advances(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    for (int i = 0; i < 20; i++) s_apply(&s, T0 + i * MIN_MS, 5);
    int64_t far = T0 + 400LL * 24 * HOUR_MS;
    vg_features_t f = s_apply(&s, far, 5);
    s_expect_counts(&f, 1, 1, 1, 1);
    assert_int_equal(s.last_ts_ms, far);
    f = s_apply(&s, far + 70000, 5); /* the old ones have left every window */
    s_expect_counts(&f, 1, 2, 2, 2);
    vg_tx_t tx = s_tx(T0 + 21 * MIN_MS, 5);
    assert_false(vg_features_update(&s, &tx, &s_cfg, &f));
}

static void test_state_raw_bytes(void **state)
{
    (void) state;
    vg_user_state_t s;
    vg_user_state_init(&s);
    assert_true(sizeof s <= 2048);
    for (int i = 0; i < 100; i++) s_apply_geo(&s, T0 + i * 7 * MIN_MS, 48 + i * 0.01, 2);
    unsigned char buf[sizeof s + 1];
    memcpy(buf + 1, &s, sizeof s); /* unaligned, as an LMDB value may be */
    assert_true(vg_user_state_valid(buf + 1, sizeof s));
    assert_false(vg_user_state_valid(buf + 1, sizeof s - 1));
    assert_false(vg_user_state_valid(buf, sizeof s + 1));
    assert_false(vg_user_state_valid(NULL, sizeof s));
    vg_user_state_t copy;
    memcpy(&copy, buf + 1, sizeof copy);
    vg_tx_t tx = s_tx(T0 + 1000 * MIN_MS, 33);
    vg_features_t f1, f2;
    vg_features_update(&s, &tx, &s_cfg, &f1);
    vg_features_update(&copy, &tx, &s_cfg, &f2);
    assert_memory_equal(&s, &copy, sizeof s);
    vg_user_state_t bad = s;
    bad.version = VG_USER_STATE_VERSION + 1;
    assert_false(vg_user_state_valid(&bad, sizeof bad));
    bad = s;
    bad.amt_len = VG_RING_AMOUNTS + 1;
    assert_false(vg_user_state_valid(&bad, sizeof bad));
    bad = s;
    bad.set_len[3] = VG_SET_CHANNELS + 1;
    assert_false(vg_user_state_valid(&bad, sizeof bad));
}

static void test_config_check(void **state)
{
    (void) state;
    vg_features_config_t cfg;
    vg_features_config_default(&cfg);
    char err[96] = "";
    assert_int_equal(vg_features_config_check(&cfg, err, sizeof err), 0);
    cfg.ewma_alpha = 0;
    assert_int_not_equal(vg_features_config_check(&cfg, err, sizeof err), 0);
    assert_non_null(strstr(err, "ewma_alpha"));
    vg_features_config_default(&cfg);
    cfg.late_tolerance_ms = -1;
    assert_int_not_equal(vg_features_config_check(&cfg, err, sizeof err), 0);
    assert_non_null(strstr(err, "late_tolerance_ms"));
}

static void test_feature_names(void **state)
{
    (void) state;
    assert_string_equal(vg_feature_name(VG_FEATURE_amount), "amount");
    assert_string_equal(vg_feature_name(VG_FEATURE_log_mad), "log_mad");
    assert_string_equal(vg_feature_name(VG_FEATURE_COUNT - 1), "late");
    assert_null(vg_feature_name(VG_FEATURE_COUNT));
    assert_null(vg_feature_name(-1));
    vg_features_t f = {0};
    f.speed_kmh = 7;
    assert_true(vg_features_array(&f)[VG_FEATURE_speed_kmh] == 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_across_buckets_and_expiry),
        cmocka_unit_test(test_window_partial_oldest_bucket),
        cmocka_unit_test(test_ewma),
        cmocka_unit_test(test_quantiles_known_ring),
        cmocka_unit_test(test_quantiles_against_model),
        cmocka_unit_test(test_gaps_and_rate),
        cmocka_unit_test(test_hour_profile),
        cmocka_unit_test(test_novelty_flags),
        cmocka_unit_test(test_novelty_eviction),
        cmocka_unit_test(test_geo_distance_and_speed),
        cmocka_unit_test(test_late_event_leaves_state),
        cmocka_unit_test(test_out_of_order_within_tolerance),
        cmocka_unit_test(test_future_timestamp_advances),
        cmocka_unit_test(test_state_raw_bytes),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_feature_names),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
