/* vg_detect.c: the statistical detectors (one small function each, listed
 * by VG_DETECTOR_LIST), their configuration as text, and the combiner:
 * strength per firing detector, max within a group, noisy-OR across
 * groups, contributions that add up to the score.
 *
 * Defaults (first principles, not fitted to any generator):
 *
 * | detector    | k   | unit of k                                  | min_history | weight |
 * |-------------|-----|--------------------------------------------|-------------|--------|
 * | zscore      | 4   | z of amount vs EWMA mean / std             | 10          | 0.5    |
 * | log_zscore  | 3.5 | z of log(1 + amount) vs its EWMA           | 10          | 0.9    |
 * | mad         | 4   | robust z of log(1 + amount): 0.6745 d / MAD | 10         | 0.9    |
 * | iqr         | 2.5 | log-IQRs above log Q3 (Tukey fence)        | 10          | 0.9    |
 * | velocity    | 4   | Poisson z of a 1 min / 10 min / 1 h count  | 5           | 0.8    |
 * | travel      | 900 | km/h (airliner cruise speed)               | 2           | 0.8    |
 * | new_device  | 3   | x median amount, for a never-seen device   | 5           | 0.8    |
 * | new_country | 3   | x median amount, for a never-seen country  | 5           | 0.8    |
 *
 * travel_min_km 100, velocity_min_count 5, anomaly_threshold 0.5,
 * review_threshold 0.5, block_threshold 0.85.
 *
 * Why. Amounts are multiplicative (a user's spend is roughly log-normal),
 * so the robust detectors work on y = log(1 + amount): a skewed spender's
 * routine large purchase is not an outlier there, and quantiles carry
 * over exactly (log1p is monotone). mad, iqr and log_zscore all fire at
 * about 3.5-4 sigma of a log-normal user (iqr: 0.674 + 2.5 x 1.349 = 4.05).
 * zscore on raw amounts keeps what the EWMA sees in currency units but is
 * not Gaussian for skewed amounts (Cantelli only bounds P(z > 4) by 6%;
 * a log-normal user with sigma = 1 exceeds z = 8 about 1% of the time),
 * so its weight 0.5 makes it corroborating only: it never reaches
 * anomaly / review alone. Reasons always report amounts (value, baseline,
 * threshold in currency units), whatever scale the test ran on.
 *
 * Strength. A detector that fires reports r = its statistic / k (> 1;
 * for iqr the log-IQRs above Q3 / k, for novelty amount / (k x median),
 * for travel speed / k) and gets s = w (1 - 0.6 exp(-1.5 (r - 1))):
 * 0.4 w at the threshold, 0.56 w at r = 1.2, 0.87 w at r = 2, 0.97 w at
 * r = 3. Just past its threshold a detector stays below review (0.36 at
 * w = 0.9), so a single weak signal never reviews; alone an amount
 * detector (w = 0.9) reviews from r = 1.2 (log_zscore: 4.2 sigma) and
 * blocks from r = 2.6; velocity, travel, novelty (w = 0.8) review from
 * r = 1.31 and need a second group to block. For a log-normal user of
 * any sigma this keeps routine transactions at ~4e-4 anomalies.
 *
 * Spread floors (a user with perfectly regular amounts is not flagged for
 * a small change; all assume at least ~25% relative spread): zscore std
 * >= max(0.25 mean, 1 currency unit); log_zscore std >= 0.25; mad log
 * MAD >= 0.17 (= 0.6745 x 0.25); iqr log IQR >= 0.34 (= 1.349 x 0.25).
 * A constant-amount user then fires at about 2-2.5x the usual amount.
 *
 * Velocity: lambda = max(rate_per_hour x window, floor), floors 0.5 / 1 /
 * 2 for 1 min / 10 min / 1 h (benign sessions cluster more than Poisson);
 * z = (count - 1 - lambda) / sqrt(lambda) counts the others in the window
 * (the current transaction is given); fires when z > k and count >=
 * velocity_min_count; the worst window is reported. Travel: speed > k and
 * distance > travel_min_km (the speed already uses dt >= 60 s). Novelty:
 * new and amount >= k x max(median, 1 currency unit). */
#include "vg_detect.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_STRENGTH_AT_THRESHOLD 0.4    /* share of weight when r = 1 */
#define S_STRENGTH_RATE         1.5    /* how fast it approaches the weight */
#define S_ABS_FLOOR             1.0    /* spreads and medians: one currency unit */
#define S_REL_STD_FLOOR         0.25   /* zscore: std >= 25% of the mean */
#define S_LOG_STD_FLOOR         0.25   /* log scale: sigma >= 0.25 */
#define S_MAD_TO_Z              0.6745 /* MAD of a normal = 0.6745 sigma */
#define S_IQR_TO_Z              1.349  /* IQR of a normal = 1.349 sigma */

/* ---- tables derived from VG_DETECTOR_LIST ------------------------------ */

static const vg_detector_cfg_t s_default_det[VG_DET_COUNT] = {
    [VG_DET_zscore] = {true, 4.0, 10, 0.5},    [VG_DET_log_zscore] = {true, 3.5, 10, 0.9},
    [VG_DET_mad] = {true, 4.0, 10, 0.9},       [VG_DET_iqr] = {true, 2.5, 10, 0.9},
    [VG_DET_velocity] = {true, 4.0, 5, 0.8},   [VG_DET_travel] = {true, 900.0, 2, 0.8},
    [VG_DET_new_device] = {true, 3.0, 5, 0.8}, [VG_DET_new_country] = {true, 3.0, 5, 0.8},
};

static const char *const s_det_name[VG_DET_COUNT] = {
#define S_DET_NAME(name, group, doc) #name,
    VG_DETECTOR_LIST(S_DET_NAME)
#undef S_DET_NAME
};

static const uint32_t s_det_name_len[VG_DET_COUNT] = {
#define S_DET_LEN(name, group, doc) sizeof(#name) - 1,
    VG_DETECTOR_LIST(S_DET_LEN)
#undef S_DET_LEN
};

/* Groups: a detector list naming a group missing here does not compile. */
enum { S_GROUP_amount, S_GROUP_velocity, S_GROUP_geo, S_GROUP_novelty, S_GROUP_COUNT };
static const int s_det_group[VG_DET_COUNT] = {
#define S_DET_GROUP(name, group, doc) S_GROUP_##group,
    VG_DETECTOR_LIST(S_DET_GROUP)
#undef S_DET_GROUP
};

const char *vg_detector_name(int det)
{
    return det >= 0 && det < VG_DET_COUNT ? s_det_name[det] : NULL;
}

/* ---- the detectors ------------------------------------------------------ */

/* One firing: the reason fields plus r = statistic / k (> 1). */
typedef struct {
    vg_str_t feature;
    double value, baseline, threshold, ratio;
} s_fire_t;

typedef bool (*s_detector_fn)(const vg_detect_config_t *cfg, double k, const vg_features_t *f,
                              s_fire_t *o);

static double s_spread_floor(double spread, double center, double rel)
{
    return VG_MAX(spread, VG_MAX(rel * center, S_ABS_FLOOR));
}

/* One-sided test x > center + k * spread: fills threshold and ratio. */
static bool s_above(double x, double center, double spread, double k, s_fire_t *o)
{
    double z = (x - center) / spread;
    o->threshold = center + k * spread;
    o->ratio = z / k;
    return z > k;
}

/* Fills the reason fields of an amount detector that fired. */
static bool s_fired_on_amount(const vg_features_t *f, double baseline, s_fire_t *o)
{
    o->feature = VG_STR_LIT("amount");
    o->value = f->amount;
    o->baseline = baseline;
    return true;
}

static bool s_det_zscore(const vg_detect_config_t *cfg, double k, const vg_features_t *f,
                         s_fire_t *o)
{
    if (!(f->amount > f->ewma_mean) || !isfinite(f->ewma_std)) return false;
    double spread = s_spread_floor(f->ewma_std, f->ewma_mean, S_REL_STD_FLOOR);
    if (!s_above(f->amount, f->ewma_mean, spread, k, o)) return false;
    return s_fired_on_amount(f, f->ewma_mean, o);
}

/* The detectors below test y = log(1 + amount); the threshold is
 * reported back in amount units. */
static bool s_above_log(const vg_features_t *f, double center_y, double spread_y, double k,
                        s_fire_t *o)
{
    if (!s_above(f->log_amount, center_y, VG_MAX(spread_y, S_LOG_STD_FLOOR), k, o)) return false;
    o->threshold = expm1(o->threshold);
    return true;
}

/* Baseline: the EWMA geometric mean, expm1(mean of y). */
static bool s_det_log_zscore(const vg_detect_config_t *cfg, double k, const vg_features_t *f,
                             s_fire_t *o)
{
    if (!(f->log_amount > f->ewma_log_mean) || !isfinite(f->ewma_log_std)) return false;
    if (!s_above_log(f, f->ewma_log_mean, f->ewma_log_std, k, o)) return false;
    return s_fired_on_amount(f, expm1(f->ewma_log_mean), o);
}

/* Robust z = 0.6745 (y - median_y) / MAD_y, i.e. y > median_y + k sigma_y. */
static bool s_det_mad(const vg_detect_config_t *cfg, double k, const vg_features_t *f, s_fire_t *o)
{
    if (!(f->amount > f->median) || !isfinite(f->log_mad)) return false;
    if (!s_above_log(f, log1p(f->median), f->log_mad / S_MAD_TO_Z, k, o)) return false;
    return s_fired_on_amount(f, f->median, o);
}

/* Tukey fence y > Q3_y + k IQR_y, in sigma units (IQR = 1.349 sigma) so
 * the log-scale floor applies: k IQRs are 1.349 k sigmas. */
static bool s_det_iqr(const vg_detect_config_t *cfg, double k, const vg_features_t *f, s_fire_t *o)
{
    if (!(f->amount > f->q3) || !isfinite(f->q1) || !isfinite(f->median)) return false;
    double q3_y = log1p(f->q3), iqr_y = q3_y - log1p(f->q1);
    if (!s_above_log(f, q3_y, iqr_y / S_IQR_TO_Z, k * S_IQR_TO_Z, o)) return false;
    return s_fired_on_amount(f, f->median, o);
}

/* The windows velocity checks: feature, length in hours, lambda floor. */
static const struct {
    int feature;
    double hours, lambda_floor;
} s_vel_window[] = {
    {VG_FEATURE_count_1m, 1.0 / 60, 0.5},
    {VG_FEATURE_count_10m, 1.0 / 6, 1.0},
    {VG_FEATURE_count_1h, 1.0, 2.0},
};

/* Poisson z of the others in each window; reports the worst window. */
static bool s_det_velocity(const vg_detect_config_t *cfg, double k, const vg_features_t *f,
                           s_fire_t *o)
{
    if (!(f->rate_per_hour >= 0)) return false;
    bool fired = false;
    for (size_t i = 0; i < VG_ARRAY_LEN(s_vel_window); i++) {
        double count = vg_features_array(f)[s_vel_window[i].feature];
        double lambda =
            VG_MAX(f->rate_per_hour * s_vel_window[i].hours, s_vel_window[i].lambda_floor);
        double z = (count - 1.0 - lambda) / sqrt(lambda);
        if (!(z > k && count >= cfg->velocity_min_count) || (fired && z / k <= o->ratio)) continue;
        vg_str_t name = vg_str_c(vg_feature_name(s_vel_window[i].feature));
        *o = (s_fire_t){name, count, 1.0 + lambda,
                        VG_MAX(1.0 + lambda + k * sqrt(lambda), cfg->velocity_min_count), z / k};
        fired = true;
    }
    return fired;
}

/* Baseline is the distance of the jump (km): the speed's context. */
static bool s_det_travel(const vg_detect_config_t *cfg, double k, const vg_features_t *f,
                         s_fire_t *o)
{
    if (!(f->distance_km > cfg->travel_min_km) || !(f->speed_kmh > k)) return false;
    *o = (s_fire_t){VG_STR_LIT("speed_kmh"), f->speed_kmh, f->distance_km, k, f->speed_kmh / k};
    return true;
}

/* A never-seen value of a field with an amount of at least k x median. */
static bool s_novel(double is_new, vg_str_t feature, double k, const vg_features_t *f, s_fire_t *o)
{
    if (is_new != 1.0 || !isfinite(f->median)) return false;
    double limit = k * VG_MAX(f->median, S_ABS_FLOOR);
    *o = (s_fire_t){feature, f->amount, f->median, limit, f->amount / limit};
    return f->amount >= limit;
}

static bool s_det_new_device(const vg_detect_config_t *cfg, double k, const vg_features_t *f,
                             s_fire_t *o)
{
    return s_novel(f->new_device, VG_STR_LIT("device_id"), k, f, o);
}

static bool s_det_new_country(const vg_detect_config_t *cfg, double k, const vg_features_t *f,
                              s_fire_t *o)
{
    return s_novel(f->new_country, VG_STR_LIT("country"), k, f, o);
}

static const s_detector_fn s_det_fn[VG_DET_COUNT] = {
#define S_DET_FN(name, group, doc) s_det_##name,
    VG_DETECTOR_LIST(S_DET_FN)
#undef S_DET_FN
};

/* ---- the combiner ------------------------------------------------------- */

typedef struct {
    int det;
    double strength, contribution;
    s_fire_t fire;
} s_hit_t;

static double s_strength(double weight, double ratio)
{
    double past = VG_MAX(ratio, 1.0) - 1.0;
    return weight * (1.0 - (1.0 - S_STRENGTH_AT_THRESHOLD) * exp(-S_STRENGTH_RATE * past));
}

/* Runs every enabled, warmed-up detector; returns the number of hits. */
static int s_run(const vg_detect_config_t *cfg, const vg_features_t *f, s_hit_t *hits)
{
    int n = 0;
    for (int d = 0; d < VG_DET_COUNT; d++) {
        const vg_detector_cfg_t *dc = &cfg->det[d];
        if (!dc->enabled || !(f->n_prior >= dc->min_history)) continue;
        if (!s_det_fn[d](cfg, dc->k, f, &hits[n].fire)) continue;
        hits[n].det = d;
        hits[n].strength = s_strength(dc->weight, hits[n].fire.ratio);
        hits[n].contribution = 0;
        n++;
    }
    return n;
}

/* Max within a group, noisy-OR across groups. Each group's strongest hit
 * gets the group's share of the score, in proportion to -log(1 - s_g)
 * (its share of the log-survival, so shares add up to the score); the
 * other hits of a group corroborate but add nothing (contribution 0). */
static double s_combine(s_hit_t *hits, int n)
{
    int top[S_GROUP_COUNT];
    for (int g = 0; g < S_GROUP_COUNT; g++) top[g] = -1;
    for (int i = 0; i < n; i++) {
        int g = s_det_group[hits[i].det];
        if (top[g] < 0 || hits[i].strength > hits[top[g]].strength) top[g] = i;
    }
    double survival = 1.0, log_total = 0.0;
    for (int g = 0; g < S_GROUP_COUNT; g++) {
        if (top[g] < 0) continue;
        double s = hits[top[g]].strength;
        survival *= 1.0 - s;
        log_total += -log1p(-VG_MIN(s, 1.0 - 1e-12));
    }
    double score = 1.0 - survival;
    for (int g = 0; g < S_GROUP_COUNT && log_total > 0; g++) {
        if (top[g] < 0) continue;
        double s = VG_MIN(hits[top[g]].strength, 1.0 - 1e-12);
        hits[top[g]].contribution = score * -log1p(-s) / log_total;
    }
    return score;
}

/* Strongest first: by contribution, then strength, then list order. */
static bool s_hit_before(const s_hit_t *a, const s_hit_t *b)
{
    if (a->contribution != b->contribution) return a->contribution > b->contribution;
    if (a->strength != b->strength) return a->strength > b->strength;
    return a->det < b->det;
}

static void s_sort(s_hit_t *hits, int n)
{
    for (int i = 1; i < n; i++) {
        s_hit_t h = hits[i];
        int j = i;
        for (; j > 0 && s_hit_before(&h, &hits[j - 1]); j--) hits[j] = hits[j - 1];
        hits[j] = h;
    }
}

void vg_detect_score(const vg_detect_config_t *cfg, const vg_features_t *f, vg_verdict_t *out)
{
    s_hit_t hits[VG_DET_COUNT];
    int n = s_run(cfg, f, hits);
    double score = s_combine(hits, n);
    s_sort(hits, n);
    out->score = score;
    out->anomaly = score >= cfg->anomaly_threshold;
    out->decision = score >= cfg->block_threshold    ? VG_DECISION_BLOCK
                    : score >= cfg->review_threshold ? VG_DECISION_REVIEW
                                                     : VG_DECISION_ALLOW;
    out->n_reasons = (uint8_t) VG_MIN(n, VG_VERDICT_REASONS_MAX);
    for (int i = 0; i < out->n_reasons; i++) {
        const s_hit_t *h = &hits[i];
        out->reasons[i] = (vg_reason_t){
            .detector = {s_det_name[h->det], s_det_name_len[h->det]},
            .feature = h->fire.feature,
            .value = h->fire.value,
            .baseline = h->fire.baseline,
            .threshold = h->fire.threshold,
            .contribution = h->contribution,
        };
    }
}

/* ---- configuration ------------------------------------------------------ */

void vg_detect_config_default(vg_detect_config_t *cfg)
{
    memcpy(cfg->det, s_default_det, sizeof cfg->det);
    cfg->travel_min_km = 100.0;
    cfg->velocity_min_count = 5.0;
    cfg->anomaly_threshold = 0.5;
    cfg->review_threshold = 0.5;
    cfg->block_threshold = 0.85;
}

/* A numeric option's range: lo < v (lo_open) or lo <= v, and v <= hi. */
typedef struct {
    double lo, hi;
    bool lo_open;
} s_range_t;

static const s_range_t s_range_k = {0, INFINITY, true};
static const s_range_t s_range_weight = {0, 1, false};
static const s_range_t s_range_min_history = {0, UINT32_MAX, false};
static const s_range_t s_range_threshold = {0, 1, true};
static const s_range_t s_range_nonneg = {0, INFINITY, false};

/* The top-level keys: name, field, range. */
static const struct {
    const char *key;
    size_t offset;
    const s_range_t *range;
} s_top[] = {
    {"travel_min_km", offsetof(vg_detect_config_t, travel_min_km), &s_range_nonneg},
    {"velocity_min_count", offsetof(vg_detect_config_t, velocity_min_count), &s_range_nonneg},
    {"anomaly_threshold", offsetof(vg_detect_config_t, anomaly_threshold), &s_range_threshold},
    {"review_threshold", offsetof(vg_detect_config_t, review_threshold), &s_range_threshold},
    {"block_threshold", offsetof(vg_detect_config_t, block_threshold), &s_range_threshold},
};

static int s_fail(int err, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(int err, char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Checks v against r; the message names the key (prefix.key with a prefix). */
static int s_check_range(const char *prefix, const char *key, double v, const s_range_t *r,
                         char *errbuf, size_t errlen)
{
    if ((r->lo_open ? v > r->lo : v >= r->lo) && v <= r->hi) return 0;
    return s_fail(VG_ERR_INVALID, errbuf, errlen, "%s%s%s: %g is out of range %c%g, %g]",
                  prefix ? prefix : "", prefix ? "." : "", key, v, r->lo_open ? '(' : '[', r->lo,
                  r->hi);
}

static int s_parse_number(const char *value, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end != '\0' || errno == ERANGE || isnan(v)) return VG_ERR_INVALID;
    *out = v;
    return 0;
}

static int s_parse_bool(const char *value, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < VG_ARRAY_LEN(yes); i++) {
        if (strcmp(value, yes[i]) == 0) return *out = true, 0;
        if (strcmp(value, no[i]) == 0) return *out = false, 0;
    }
    return VG_ERR_INVALID;
}

/* "name.field" = value for one detector; nothing changes on error. */
static int s_set_detector(vg_detector_cfg_t *d, const char *name, const char *field,
                          const char *value, char *errbuf, size_t errlen)
{
    if (strcmp(field, "enabled") == 0) {
        if (s_parse_bool(value, &d->enabled) == 0) return 0;
        return s_fail(VG_ERR_INVALID, errbuf, errlen,
                      "%s.enabled: expected true or false, got '%s'", name, value);
    }
    bool is_k = strcmp(field, "k") == 0, is_weight = strcmp(field, "weight") == 0;
    bool is_min = strcmp(field, "min_history") == 0;
    if (!is_k && !is_weight && !is_min)
        return s_fail(VG_ERR_NOT_FOUND, errbuf, errlen, "unknown key '%s.%s'", name, field);
    double v;
    if (s_parse_number(value, &v) != 0 || (is_min && v != floor(v)))
        return s_fail(VG_ERR_INVALID, errbuf, errlen, "%s.%s: expected a%s number, got '%s'", name,
                      field, is_min ? " whole" : "", value);
    const s_range_t *r = is_k ? &s_range_k : is_weight ? &s_range_weight : &s_range_min_history;
    int rc = s_check_range(name, field, v, r, errbuf, errlen);
    if (rc != 0) return rc;
    if (is_k) d->k = v;
    if (is_weight) d->weight = v;
    if (is_min) d->min_history = (uint32_t) v;
    return 0;
}

int vg_detect_config_set(vg_detect_config_t *cfg, const char *key, const char *value, char *errbuf,
                         size_t errlen)
{
    const char *dot = strchr(key, '.');
    if (dot) {
        size_t len = (size_t) (dot - key);
        for (int d = 0; d < VG_DET_COUNT; d++)
            if (len == s_det_name_len[d] && strncmp(key, s_det_name[d], len) == 0)
                return s_set_detector(&cfg->det[d], s_det_name[d], dot + 1, value, errbuf, errlen);
        return s_fail(VG_ERR_NOT_FOUND, errbuf, errlen, "unknown key '%s' (no detector '%.*s')",
                      key, (int) len, key);
    }
    for (size_t i = 0; i < VG_ARRAY_LEN(s_top); i++) {
        if (strcmp(key, s_top[i].key) != 0) continue;
        double v;
        if (s_parse_number(value, &v) != 0)
            return s_fail(VG_ERR_INVALID, errbuf, errlen, "%s: expected a number, got '%s'", key,
                          value);
        int rc = s_check_range(NULL, key, v, s_top[i].range, errbuf, errlen);
        if (rc == 0) *(double *) ((char *) cfg + s_top[i].offset) = v;
        return rc;
    }
    return s_fail(VG_ERR_NOT_FOUND, errbuf, errlen, "unknown key '%s'", key);
}

/* Thresholds must nest: every reviewed transaction is an anomaly, every
 * blocked one was worth a review. */
static int s_check_order(const vg_detect_config_t *cfg, char *errbuf, size_t errlen)
{
    if (cfg->anomaly_threshold > cfg->review_threshold)
        return s_fail(VG_ERR_INVALID, errbuf, errlen,
                      "anomaly_threshold (%g) must be <= review_threshold (%g)",
                      cfg->anomaly_threshold, cfg->review_threshold);
    if (cfg->review_threshold > cfg->block_threshold)
        return s_fail(VG_ERR_INVALID, errbuf, errlen,
                      "review_threshold (%g) must be <= block_threshold (%g)",
                      cfg->review_threshold, cfg->block_threshold);
    return 0;
}

int vg_detect_config_check(const vg_detect_config_t *cfg, char *errbuf, size_t errlen)
{
    int rc = 0;
    for (int d = 0; d < VG_DET_COUNT && rc == 0; d++) {
        rc = s_check_range(s_det_name[d], "k", cfg->det[d].k, &s_range_k, errbuf, errlen);
        if (rc == 0)
            rc = s_check_range(s_det_name[d], "weight", cfg->det[d].weight, &s_range_weight, errbuf,
                               errlen);
    }
    for (size_t i = 0; i < VG_ARRAY_LEN(s_top) && rc == 0; i++) {
        double v = *(const double *) ((const char *) cfg + s_top[i].offset);
        rc = s_check_range(NULL, s_top[i].key, v, s_top[i].range, errbuf, errlen);
    }
    return rc != 0 ? rc : s_check_order(cfg, errbuf, errlen);
}
