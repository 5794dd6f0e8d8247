/* test_detect.c: the statistical detectors through the real feature code:
 * routine users score 0, spikes / bursts / impossible travel / new device
 * with a high amount fire with explained reasons, warm-up and disabling
 * hold, the combiner's max / noisy-OR, and configuration as text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_anomaly.h"
#include "vg_detect.h"
#include "vg_err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MIN_MS  (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define T0      1700000000000LL

/* One simulated user: state, clock, features config, deterministic RNG. */
typedef struct {
    vg_user_state_t state;
    vg_features_config_t fcfg;
    int64_t t;
    uint64_t rng;
} s_user_t;

typedef struct {
    double amount;
    int64_t dt_ms;
    const char *device, *country;
    bool geo; /* lat/lon set */
    double lat, lon;
} s_txspec_t;

#define TX(...) ((s_txspec_t){__VA_ARGS__})

/* Severity labels live with the anomaly record (one place). */
static const char *s_sev(double score)
{
    return vg_severity_name(vg_severity_from_score(score));
}

static void s_user_init(s_user_t *u)
{
    vg_user_state_init(&u->state);
    vg_features_config_default(&u->fcfg);
    u->t = T0;
    u->rng = 42;
}

/* Standard normal from a fixed LCG (Box-Muller). */
static double s_normal(s_user_t *u)
{
    double x[2];
    for (int i = 0; i < 2; i++) {
        u->rng = u->rng * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = ((u->rng >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(x[0])) * cos(2 * M_PI * x[1]);
}

static vg_tx_t s_make_tx(const s_user_t *u, s_txspec_t spec, int64_t ts)
{
    vg_tx_t tx;
    vg_tx_init(&tx);
    tx.ts_ms = ts;
    tx.amount = spec.amount;
    if (spec.geo) tx.lat = spec.lat, tx.lon = spec.lon;
    if (spec.device) tx.device_id = vg_str_c(spec.device);
    if (spec.country) snprintf(tx.country, sizeof tx.country, "%s", spec.country);
    return tx;
}

/* Features of spec at ts (applied to the state when apply), scored. */
static vg_verdict_t s_score_tx(s_user_t *u, const vg_detect_config_t *cfg, s_txspec_t spec,
                               int64_t ts, bool apply)
{
    vg_tx_t tx = s_make_tx(u, spec, ts);
    vg_features_t f;
    if (apply)
        vg_features_update(&u->state, &tx, &u->fcfg, &f);
    else
        vg_features_compute(&u->state, &tx, &u->fcfg, &f);
    vg_verdict_t v;
    memset(&v, 0, sizeof v);
    vg_detect_score(cfg, &f, &v);
    return v;
}

/* Applies one transaction (dt after the previous) and scores it. */
static vg_verdict_t s_send(s_user_t *u, const vg_detect_config_t *cfg, s_txspec_t spec)
{
    u->t += spec.dt_ms;
    return s_score_tx(u, cfg, spec, u->t, true);
}

/* Scores one transaction without applying it. */
static vg_verdict_t s_probe(s_user_t *u, const vg_detect_config_t *cfg, s_txspec_t spec)
{
    return s_score_tx(u, cfg, spec, u->t + spec.dt_ms, false);
}

static const vg_reason_t *s_reason(const vg_verdict_t *v, const char *detector)
{
    for (int i = 0; i < v->n_reasons; i++)
        if (vg_str_eq_c(v->reasons[i].detector, detector)) return &v->reasons[i];
    return NULL;
}

/* Sorted strongest first; contributions in 0..1 that add up to the score. */
static void s_expect_consistent(const vg_verdict_t *v)
{
    double sum = 0;
    for (int i = 0; i < v->n_reasons; i++) {
        const vg_reason_t *r = &v->reasons[i];
        assert_true(r->contribution >= 0 && r->contribution <= 1);
        if (i > 0) assert_true(v->reasons[i - 1].contribution >= r->contribution);
        assert_non_null(r->detector.ptr);
        assert_non_null(r->feature.ptr);
        sum += r->contribution;
    }
    assert_float_equal(sum, v->score, 1e-9);
    assert_true(v->score >= 0 && v->score <= 1);
}

/* 50 routine amounts, log-normal around 40, twice a day. */
static void s_routine(s_user_t *u, const vg_detect_config_t *cfg, int n, double sigma)
{
    for (int i = 0; i < n; i++) {
        vg_verdict_t v = s_send(u, cfg,
                                TX(.amount = 40 * exp(sigma * s_normal(u)), .dt_ms = 12 * HOUR_MS,
                                   .device = "d1", .country = "FR"));
        s_expect_consistent(&v);
        assert_int_equal(v.decision, VG_DECISION_ALLOW);
    }
}

/* Default config and a user with 50 routine amounts (sigma 0.3). */
static void s_routine_user(s_user_t *u, vg_detect_config_t *cfg)
{
    vg_detect_config_default(cfg);
    s_user_init(u);
    s_routine(u, cfg, 50, 0.3);
}

static void test_routine_then_spike(void **state)
{
    (void) state;
    vg_detect_config_t cfg;
    s_user_t u;
    s_routine_user(&u, &cfg);
    vg_verdict_t v = s_probe(&u, &cfg, TX(.amount = 40, .dt_ms = HOUR_MS, .device = "d1"));
    assert_true(v.score == 0);
    assert_int_equal(v.n_reasons, 0);
    assert_false(v.anomaly);
    assert_int_equal(v.decision, VG_DECISION_ALLOW);
    v = s_probe(&u, &cfg, TX(.amount = 5000, .dt_ms = HOUR_MS, .device = "d1"));
    s_expect_consistent(&v);
    assert_true(v.anomaly);
    assert_true(v.decision == VG_DECISION_REVIEW || v.decision == VG_DECISION_BLOCK);
    const char *fired[] = {"zscore", "log_zscore", "mad", "iqr"};
    for (int i = 0; i < 4; i++) {
        const vg_reason_t *r = s_reason(&v, fired[i]);
        assert_non_null(r);
        assert_true(vg_str_eq_c(r->feature, "amount"));
        assert_true(r->value == 5000);
        assert_true(r->threshold < 5000 && r->threshold > r->baseline);
        assert_true(r->baseline > 25 && r->baseline < 65);
    }
    assert_true(strcmp(s_sev(v.score), "low") != 0);
}

/* Skewed but routine spending (sigma = 1 on the log scale) stays quiet. */
static void test_skewed_routine_user_stays_quiet(void **state)
{
    (void) state;
    vg_detect_config_t cfg;
    vg_detect_config_default(&cfg);
    s_user_t u;
    s_user_init(&u);
    int anomalies = 0;
    for (int i = 0; i < 2000; i++) {
        vg_verdict_t v =
            s_send(&u, &cfg, TX(.amount = 40 * exp(s_normal(&u)), .dt_ms = 12 * HOUR_MS));
        anomalies += v.anomaly;
    }
    assert_true(anomalies <= 4);
}

static void test_warm_up(void **state)
{
    (void) state;
    vg_detect_config_t cfg;
    vg_detect_config_default(&cfg);
    s_user_t u;
    s_user_init(&u);
    s_routine(&u, &cfg, 5, 0.3); /* n_prior 5 < min_history 10 */
    vg_verdict_t v = s_probe(&u, &cfg, TX(.amount = 5000, .dt_ms = HOUR_MS, .device = "d1"));
    assert_int_equal(v.n_reasons, 0);
    assert_true(v.score == 0);
    assert_true(vg_detect_config_set(&cfg, "mad.min_history", "5", NULL, 0) == 0);
    v = s_probe(&u, &cfg, TX(.amount = 5000, .dt_ms = HOUR_MS, .device = "d1"));
    assert_int_equal(v.n_reasons, 1);
    assert_non_null(s_reason(&v, "mad"));
}

static void test_velocity_burst(void **state)
{
    (void) state;
    vg_detect_config_t cfg;
    vg_detect_config_default(&cfg);
    s_user_t u;
    s_user_init(&u);
    for (int i = 0; i < 40; i++) { /* 2 a day for 20 days */
        vg_verdict_t v = s_send(&u, &cfg, TX(.amount = 40, .dt_ms = 12 * HOUR_MS));
        assert_null(s_reason(&v, "velocity"));
    }
    vg_verdict_t v;
    for (int i = 0; i < 20; i++) v = s_send(&u, &cfg, TX(.amount = 40, .dt_ms = 6000));
    s_expect_consistent(&v);
    const vg_reason_t *r = s_reason(&v, "velocity");
    assert_non_null(r);
    assert_true(vg_str_eq_c(r->feature, "count_10m")); /* the worst window */
    assert_true(r->value >= 19.9 && r->value > r->threshold && r->baseline < r->threshold);
    assert_true(v.decision >= VG_DECISION_REVIEW);
}

static void test_impossible_travel(void **state)
{
    (void) state;
    vg_detect_config_t cfg;
    vg_detect_config_default(&cfg);
    s_user_t u;
    s_user_init(&u);
    for (int i = 0; i < 10; i++)
        s_send(&u, &cfg,
               TX(.amount = 40, .dt_ms = 24 * HOUR_MS, .geo = true, .lat = 48.8566, .lon = 2.3522));
    vg_verdict_t v = s_probe(&u, &cfg,
                             TX(.amount = 40, .dt_ms = 30 * MIN_MS, .geo = true, .lat = 40.7128,
                                .lon = -74.0060)); /* New York */
    s_expect_consistent(&v);
    const vg_reason_t *r = s_reason(&v, "travel");
    assert_non_null(r);
    assert_true(vg_str_eq_c(r->feature, "speed_kmh"));
    assert_true(r->value > 10000 && r->threshold == 900);
    assert_float_equal(r->baseline, 5837, 60); /* the jump in km */
    assert_true(v.anomaly);
    /* London by train, 3 h later: fine; a 50 km jump in a minute: below travel_min_km */
    v = s_probe(
        &u, &cfg,
        TX(.amount = 40, .dt_ms = 3 * HOUR_MS, .geo = true, .lat = 51.5074, .lon = -0.1278));
    assert_null(s_reason(&v, "travel"));
    v = s_probe(&u, &cfg,
                TX(.amount = 40, .dt_ms = MIN_MS, .geo = true, .lat = 49.30, .lon = 2.3522));
    assert_null(s_reason(&v, "travel"));
}

static void s_expect_novelty(const char *detector, s_txspec_t usual, s_txspec_t unseen)
{
    vg_detect_config_t cfg;
    vg_detect_config_default(&cfg);
    s_user_t u;
    s_user_init(&u);
    for (int i = 0; i < 20; i++) s_send(&u, &cfg, usual);
    unseen.amount = 400; /* 10 x median */
    vg_verdict_t v = s_probe(&u, &cfg, unseen);
    s_expect_consistent(&v);
    const vg_reason_t *r = s_reason(&v, detector);
    assert_non_null(r);
    assert_true(r->value == 400 && r->baseline == 40 && r->threshold == 120);
    unseen.amount = 40; /* new but ordinary */
    v = s_probe(&u, &cfg, unseen);
    assert_int_equal(v.n_reasons, 0);
    usual.amount = 400; /* known and high: amount detectors only */
    v = s_probe(&u, &cfg, usual);
    assert_null(s_reason(&v, detector));
    assert_true(v.n_reasons > 0);
}

static void test_new_device_and_country(void **state)
{
    (void) state;
    s_expect_novelty("new_device", TX(.amount = 40, .dt_ms = HOUR_MS, .device = "d1"),
                     TX(.dt_ms = HOUR_MS, .device = "d2"));
    s_expect_novelty("new_country", TX(.amount = 40, .dt_ms = HOUR_MS, .country = "FR"),
                     TX(.dt_ms = HOUR_MS, .country = "BR"));
}

static void test_disabled_detector_never_fires(void **state)
{
    (void) state;
    vg_detect_config_t cfg;
    s_user_t u;
    s_routine_user(&u, &cfg);
    assert_int_equal(vg_detect_config_set(&cfg, "mad.enabled", "false", NULL, 0), 0);
    vg_verdict_t v = s_probe(&u, &cfg, TX(.amount = 5000, .dt_ms = HOUR_MS));
    assert_null(s_reason(&v, "mad"));
    assert_non_null(s_reason(&v, "iqr"));
    const char *amount[] = {"zscore.enabled", "log_zscore.enabled", "iqr.enabled"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(vg_detect_config_set(&cfg, amount[i], "off", NULL, 0), 0);
    v = s_probe(&u, &cfg, TX(.amount = 5000, .dt_ms = HOUR_MS));
    assert_int_equal(v.n_reasons, 0);
    assert_true(v.score == 0);
}

/* Features with nothing to say (NaN) except what a test sets. */
static vg_features_t s_blank(void)
{
    vg_features_t f;
    double *a = (double *) &f;
    for (int i = 0; i < VG_FEATURE_COUNT; i++) a[i] = NAN;
    f.n_prior = 100;
    f.new_device = f.new_country = f.late = 0;
    return f;
}

static double s_score(const vg_detect_config_t *cfg, const vg_features_t *f, vg_verdict_t *v)
{
    memset(v, 0, sizeof *v);
    vg_detect_score(cfg, f, v);
    s_expect_consistent(v);
    return v->score;
}

static void test_combiner(void **state)
{
    (void) state;
    vg_detect_config_t cfg;
    vg_detect_config_default(&cfg);
    vg_verdict_t v;
    vg_features_t f = s_blank();
    f.distance_km = 500, f.speed_kmh = 950; /* a single weak signal */
    double travel = s_score(&cfg, &f, &v);
    assert_true(travel > 0 && travel < cfg.review_threshold && !v.anomaly);
    assert_int_equal(v.decision, VG_DECISION_ALLOW);
    assert_int_equal(v.n_reasons, 1);
    f = s_blank();
    f.rate_per_hour = 0.1, f.count_1m = 1, f.count_10m = 9, f.count_1h = 9;
    double velocity = s_score(&cfg, &f, &v);
    assert_true(velocity > 0);
    f.distance_km = 500, f.speed_kmh = 950; /* noisy-OR across groups */
    double both = s_score(&cfg, &f, &v);
    assert_float_equal(both, 1 - (1 - travel) * (1 - velocity), 1e-12);
    assert_int_equal(v.n_reasons, 2);
    assert_true(vg_str_eq_c(v.reasons[0].detector, velocity > travel ? "velocity" : "travel"));
    /* velocity_min_count binds where the Poisson z alone would fire */
    f = s_blank();
    f.rate_per_hour = 0, f.count_1m = 4.5, f.count_10m = 4.5, f.count_1h = 4.5;
    assert_true(s_score(&cfg, &f, &v) == 0);
    assert_int_equal(vg_detect_config_set(&cfg, "velocity_min_count", "4", NULL, 0), 0);
    assert_true(s_score(&cfg, &f, &v) > 0);
    assert_true(vg_str_eq_c(v.reasons[0].feature, "count_1m"));
    /* max within a group: the amount detectors do not stack */
    s_user_t u;
    s_routine_user(&u, &cfg);
    vg_verdict_t all = s_probe(&u, &cfg, TX(.amount = 300, .dt_ms = HOUR_MS));
    assert_true(all.n_reasons >= 2);
    for (int d = 0; d < VG_DET_COUNT; d++)
        cfg.det[d].enabled = vg_str_eq_c(all.reasons[0].detector, vg_detector_name(d));
    vg_verdict_t top = s_probe(&u, &cfg, TX(.amount = 300, .dt_ms = HOUR_MS));
    assert_float_equal(top.score, all.score, 1e-12);
    assert_true(all.reasons[1].contribution == 0); /* corroborates, adds nothing */
}

static void test_config_set(void **state)
{
    (void) state;
    vg_detect_config_t cfg;
    vg_detect_config_default(&cfg);
    char err[128];
    assert_int_equal(vg_detect_config_check(&cfg, err, sizeof err), 0);
    assert_int_equal(vg_detect_config_set(&cfg, "mad.k", "3.5", err, sizeof err), 0);
    assert_true(cfg.det[VG_DET_mad].k == 3.5);
    assert_int_equal(vg_detect_config_set(&cfg, "velocity.enabled", "false", err, sizeof err), 0);
    assert_false(cfg.det[VG_DET_velocity].enabled);
    assert_int_equal(vg_detect_config_set(&cfg, "travel.min_history", "7", err, sizeof err), 0);
    assert_int_equal(cfg.det[VG_DET_travel].min_history, 7);
    assert_int_equal(vg_detect_config_set(&cfg, "iqr.weight", "0.25", err, sizeof err), 0);
    assert_true(cfg.det[VG_DET_iqr].weight == 0.25);
    assert_int_equal(vg_detect_config_set(&cfg, "block_threshold", "0.9", err, sizeof err), 0);
    assert_true(cfg.block_threshold == 0.9);
    assert_int_equal(vg_detect_config_set(&cfg, "travel_min_km", "50", err, sizeof err), 0);
    assert_true(cfg.travel_min_km == 50);
    static const struct {
        const char *key, *value;
        int rc;
    } bad[] = {
        {"foo.k", "1", VG_ERR_NOT_FOUND},
        {"mad.bogus", "1", VG_ERR_NOT_FOUND},
        {"nonsense", "1", VG_ERR_NOT_FOUND},
        {"mad.k", "abc", VG_ERR_INVALID},
        {"mad.k", "0", VG_ERR_INVALID},
        {"mad.k", "", VG_ERR_INVALID},
        {"mad.weight", "1.5", VG_ERR_INVALID},
        {"velocity.enabled", "maybe", VG_ERR_INVALID},
        {"travel.min_history", "2.5", VG_ERR_INVALID},
        {"zscore.min_history", "-1", VG_ERR_INVALID},
        {"block_threshold", "1.5", VG_ERR_INVALID},
        {"review_threshold", "0", VG_ERR_INVALID},
        {"anomaly_threshold", "nan", VG_ERR_INVALID},
        {"travel_min_km", "x", VG_ERR_INVALID},
    };
    vg_detect_config_t before;
    memcpy(&before, &cfg, sizeof cfg);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(vg_detect_config_set(&cfg, bad[i].key, bad[i].value, err, sizeof err),
                         bad[i].rc);
        assert_non_null(strstr(err, bad[i].key));
    }
    assert_memory_equal(&before, &cfg, sizeof cfg); /* failed sets change nothing */
}

static void s_expect_check_error(const vg_detect_config_t *cfg, const char *names)
{
    char err[128] = "";
    assert_int_equal(vg_detect_config_check(cfg, err, sizeof err), VG_ERR_INVALID);
    assert_non_null(strstr(err, names));
}

static void test_config_check(void **state)
{
    (void) state;
    vg_detect_config_t cfg;
    vg_detect_config_default(&cfg);
    cfg.review_threshold = 0.9; /* above block 0.85 */
    s_expect_check_error(&cfg, "block_threshold");
    vg_detect_config_default(&cfg);
    cfg.anomaly_threshold = 0.6; /* reviews that are not anomalies */
    s_expect_check_error(&cfg, "anomaly_threshold");
    vg_detect_config_default(&cfg);
    cfg.det[VG_DET_log_zscore].k = -1;
    s_expect_check_error(&cfg, "log_zscore.k");
    vg_detect_config_default(&cfg);
    cfg.det[VG_DET_travel].weight = 2;
    s_expect_check_error(&cfg, "travel.weight");
    vg_detect_config_default(&cfg);
    cfg.block_threshold = 1.2;
    s_expect_check_error(&cfg, "block_threshold");
    vg_detect_config_default(&cfg);
    cfg.travel_min_km = NAN;
    s_expect_check_error(&cfg, "travel_min_km");
}

static void test_names(void **state)
{
    (void) state;
    assert_string_equal(vg_detector_name(VG_DET_zscore), "zscore");
    assert_string_equal(vg_detector_name(VG_DET_new_country), "new_country");
    assert_null(vg_detector_name(VG_DET_COUNT));
    assert_null(vg_detector_name(-1));
    assert_string_equal(s_sev(0.5), "low");
    assert_string_equal(s_sev(0.7), "medium");
    assert_string_equal(s_sev(0.9), "high");
    assert_string_equal(s_sev(0.95), "critical");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routine_then_spike),
        cmocka_unit_test(test_skewed_routine_user_stays_quiet),
        cmocka_unit_test(test_warm_up),
        cmocka_unit_test(test_velocity_burst),
        cmocka_unit_test(test_impossible_travel),
        cmocka_unit_test(test_new_device_and_country),
        cmocka_unit_test(test_disabled_detector_never_fires),
        cmocka_unit_test(test_combiner),
        cmocka_unit_test(test_config_set),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
