/* vg_features.c: per-user features in event time over a fixed-size,
 * allocation-free state: bucketed window rings, EWMA moments, a sorted
 * ring of recent amounts, an hour-of-day profile, most-recently-seen hash
 * sets and the newest location.
 *
 * Approximations (all bounded memory, documented for the README):
 * - Windows. Each window of width W is read from B + 1 buckets of width
 *   W / B: 1 min = 7 x 10 s, 10 min = 11 x 1 min, 1 h = 13 x 5 min,
 *   24 h = 25 x 1 h (kept in power-of-two rings of 8 / 16 / 16 / 32).
 *   The window (t - W, t] is the B buckets ending with t's bucket plus
 *   the oldest bucket weighted by the share of it inside the window
 *   (events assumed uniform within a bucket), so counts and sums may be
 *   fractional. Events of t's own bucket later than t (out-of-order
 *   arrivals) are counted too.
 * - Out of order. An event older than the newest by at most the tolerance
 *   is applied normally (into its own bucket while that is still inside a
 *   ring); an older one is "late": scored, never applied.
 * - Amount EWMAs use alpha_eff = max(alpha, 1 / n), so the first
 *   1 / alpha estimates are plain running mean / population variance.
 * - Recent amounts are stored as float (7 significant digits), kept both
 *   in arrival order (for eviction) and sorted (for O(1) quantiles and an
 *   O(log n) MAD). Quantiles interpolate linearly (type 7, like numpy). The
 *   log MAD is the MAD of log(1 + amount) around log(1 + median).
 * - Sets keep 64-bit hashes (vg_strmap_hash, XXH3: persisted, so it must
 *   not change without a version bump), most recently seen first; the least
 *   recently seen is evicted. "New" needs history of that field: a user's
 *   first device (or merchant, ...) is not new; an absent field is not new.
 * - Hour profile: 24 counters halved together when they total 1024, so it
 *   follows the last ~500-1000 transactions. P(hour) = (c + 1) / (total + 24).
 * - Speed divides by max(|dt|, 60 s): two nearby events seconds apart
 *   give a small speed, not GPS noise / 1 s.
 * - Long-run rate: n / max(now - first event, 24 h), so a user's first
 *   day never looks like a sustained high rate. */
#include "vg_features.h"

#include "vg_err.h"
#include "vg_mem.h"
#include "vg_strmap.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(vg_user_state_t) == 1808,
               "user state layout changed: bump VG_USER_STATE_VERSION, update this size");
_Static_assert(sizeof(vg_user_state_t) <= 2048, "user state must stay within 2 KiB");
_Static_assert(VG_RING_AMOUNTS <= 255, "amt_len / amt_next are uint8_t");

#define S_MS_PER_HOUR      3600000.0
#define S_EARTH_RADIUS_KM  6371.0088 /* mean radius (IUGG) */
#define S_SPEED_MIN_DT_MS  60000     /* speed guard: at least 60 s apart */
#define S_RATE_MIN_SPAN_H  24.0      /* long-run rate: at least one day of history */
#define S_HOUR_TOTAL_MAX   1024      /* hour profile halves at this total */
#define S_RATIO_MEDIAN_MIN 0.01      /* amount_to_median: median floor (one cent) */

/* Window rings: B buckets of width W / B plus the partial oldest one, in
 * a power-of-two ring (slot = bucket id & mask, no division) starting at
 * `first` in win_count / win_sum. Buckets older than B + 1 just wait to
 * be reused. */
#define S_W1M_MS  10000LL
#define S_W10M_MS 60000LL
#define S_W1H_MS  300000LL
#define S_W24H_MS 3600000LL
static const struct {
    int64_t width_ms;
    int buckets, first, mask;
} s_ring[VG__WIN_RINGS] = {
    {S_W1M_MS, 6, 0, 7},     /* 1 min  = 6 x 10 s + partial, 8 slots */
    {S_W10M_MS, 10, 8, 15},  /* 10 min = 10 x 1 min + partial, 16 slots */
    {S_W1H_MS, 12, 24, 15},  /* 1 h    = 12 x 5 min + partial, 16 slots */
    {S_W24H_MS, 24, 40, 31}, /* 24 h   = 24 x 1 h + partial, 32 slots */
};
_Static_assert(40 + 32 == VG__WIN_SLOTS, "ring table and VG__WIN_SLOTS disagree");

/* Bucket id of ts in ring r: constant divisors compile to multiplies. */
static int64_t s_bucket(int r, int64_t ts)
{
    switch (r) {
    case 0: return ts / S_W1M_MS;
    case 1: return ts / S_W10M_MS;
    case 2: return ts / S_W1H_MS;
    default: return ts / S_W24H_MS;
    }
}

/* Hash sets: first slot in set_hash, capacity. */
enum { S_SET_MERCHANT, S_SET_DEVICE, S_SET_COUNTRY, S_SET_CHANNEL };
static const struct {
    int first, cap;
} s_set[VG__SETS] = {
    {0, VG_SET_MERCHANTS},
    {VG_SET_MERCHANTS, VG_SET_DEVICES},
    {VG_SET_MERCHANTS + VG_SET_DEVICES, VG_SET_COUNTRIES},
    {VG_SET_MERCHANTS + VG_SET_DEVICES + VG_SET_COUNTRIES, VG_SET_CHANNELS},
};

/* The transaction's set keys, hashed once per update; 0 = field absent. */
typedef struct {
    uint64_t hash[VG__SETS];
} s_keys_t;

static const char *const s_feature_names[VG_FEATURE_COUNT] = {
#define S_FEATURE_NAME(name, doc) #name,
    VG_FEATURE_LIST(S_FEATURE_NAME)
#undef S_FEATURE_NAME
};

const char *vg_feature_name(int i)
{
    return i >= 0 && i < VG_FEATURE_COUNT ? s_feature_names[i] : NULL;
}

void vg_features_config_default(vg_features_config_t *cfg)
{
    cfg->ewma_alpha = 0.05;
    cfg->late_tolerance_ms = 300000;
}

int vg_features_config_check(const vg_features_config_t *cfg, char *errbuf, size_t errlen)
{
    const char *msg = NULL;
    if (!(cfg->ewma_alpha > 0 && cfg->ewma_alpha <= 1))
        msg = "ewma_alpha: must be within (0, 1]";
    else if (cfg->late_tolerance_ms < 0 || cfg->late_tolerance_ms > VG_TX_TS_MAX)
        msg = "late_tolerance_ms: must be within [0, 253402300799999]";
    if (msg && errbuf && errlen) snprintf(errbuf, errlen, "%s", msg);
    return msg ? VG_ERR_INVALID : 0;
}

void vg_user_state_init(vg_user_state_t *s)
{
    memset(s, 0, sizeof *s);
    s->version = VG_USER_STATE_VERSION;
    s->geo_lat = s->geo_lon = NAN;
}

bool vg_user_state_valid(const void *bytes, size_t len)
{
    vg_user_state_t s;
    if (!bytes || len != sizeof s) return false;
    memcpy(&s, bytes, sizeof s); /* bytes may be unaligned (LMDB values) */
    if (s.n > 0 &&
        !(0 <= s.first_ts_ms && s.first_ts_ms <= s.last_ts_ms && s.last_ts_ms <= VG_TX_TS_MAX))
        return false;
    if (s.version != VG_USER_STATE_VERSION || s.amt_len > VG_RING_AMOUNTS ||
        s.amt_next >= VG_RING_AMOUNTS || (s.amt_len < VG_RING_AMOUNTS && s.amt_next != s.amt_len))
        return false;
    for (int k = 0; k < VG__SETS; k++)
        if (s.set_len[k] > s_set[k].cap) return false;
    return true;
}

/* ---- small helpers ------------------------------------------------------ */

static uint64_t s_key_hash(vg_str_t v)
{
    if (!v.ptr || v.len == 0) return 0;
    uint64_t h = vg_strmap_hash(v);
    return h ? h : 1;
}

static void s_keys_of(const vg_tx_t *tx, s_keys_t *k)
{
    k->hash[S_SET_MERCHANT] = s_key_hash(tx->merchant_id);
    k->hash[S_SET_DEVICE] = s_key_hash(tx->device_id);
    k->hash[S_SET_COUNTRY] = s_key_hash(vg_str_c(tx->country));
    k->hash[S_SET_CHANNEL] = s_key_hash(tx->channel);
}

/* Index of the first element of sorted a[0..m) not less than x
 * (branchless: the comparison feeds a conditional move, not a jump). */
static int s_lower_bound(const float *a, int m, double x)
{
    if (m == 0) return 0;
    const float *base = a;
    for (int n = m; n > 1; n -= n / 2) base = (double) base[n / 2] < x ? base + n / 2 : base;
    return (int) (base - a) + ((double) *base < x);
}

/* ---- window rings ------------------------------------------------------- */

/* Sums the window of ring r ending at ts (this transaction excluded).
 * Bucket b - k (b = ts's bucket) is stored iff it is not after the ring's
 * newest bucket (last_ts_ms's) and at most `mask` buckets before it. */
static void s_ring_query(const vg_user_state_t *s, int r, int64_t ts, double *count, double *sum)
{
    int64_t b = s_bucket(r, ts), lag = s_bucket(r, s->last_ts_ms) - b;
    int oldest = s_ring[r].buckets, mask = s_ring[r].mask;
    int64_t k_lo = VG_MAX(0, -lag), k_hi = VG_MIN(oldest, mask - lag);
    double partial = 1.0 - (double) (ts - b * s_ring[r].width_ms) / (double) s_ring[r].width_ms;
    double c = 0, m = 0;
    if (s->n > 0) {
        const uint32_t *counts = s->win_count + s_ring[r].first;
        const double *sums = s->win_sum + s_ring[r].first;
        for (int64_t k = k_lo; k <= k_hi; k++) {
            int i = (int) ((b - k) & mask);
            double weight = k == oldest ? partial : 1.0;
            c += weight * counts[i];
            m += weight * sums[i];
        }
    }
    *count = c;
    *sum = m;
}

/* Adds to ring r; a newer bucket first clears the slots it reuses. */
static void s_ring_add(vg_user_state_t *s, int r, int64_t ts, double amount)
{
    int64_t b = s_bucket(r, ts), head = s_bucket(r, s->last_ts_ms);
    int mask = s_ring[r].mask;
    uint32_t *counts = s->win_count + s_ring[r].first;
    double *sums = s->win_sum + s_ring[r].first;
    if (s->n == 0 || b > head) {
        int64_t gap = s->n == 0 ? mask + 1 : VG_MIN(b - head, mask + 1);
        for (int64_t j = b - gap + 1; j <= b; j++) {
            counts[j & mask] = 0;
            sums[j & mask] = 0;
        }
    } else if (head - b > mask) {
        return; /* older than this ring remembers */
    }
    if (counts[b & mask] != UINT32_MAX) counts[b & mask]++;
    sums[b & mask] += amount;
}

static void s_fill_windows(const vg_user_state_t *s, int64_t ts, double amount, vg_features_t *out)
{
    double *count[VG__WIN_RINGS] = {&out->count_1m, &out->count_10m, &out->count_1h,
                                    &out->count_24h};
    double *sum[VG__WIN_RINGS] = {&out->sum_1m, &out->sum_10m, &out->sum_1h, &out->sum_24h};
    for (int r = 0; r < VG__WIN_RINGS; r++) {
        s_ring_query(s, r, ts, count[r], sum[r]);
        *count[r] += 1;
        *sum[r] += amount;
    }
}

/* ---- amount moments ----------------------------------------------------- */

/* One exponentially weighted step of mean and (population) variance. */
static void s_ewma_step(double *mean, double *var, double x, double alpha)
{
    double d = x - *mean;
    *mean += alpha * d;
    *var = (1.0 - alpha) * (*var + alpha * d * d);
}

static void s_fill_ewma(const vg_user_state_t *s, vg_features_t *out)
{
    bool has = s->n > 0;
    out->ewma_mean = has ? s->ewma_mean : NAN;
    out->ewma_std = has ? sqrt(s->ewma_var) : NAN;
    out->ewma_log_mean = has ? s->ewma_log_mean : NAN;
    out->ewma_log_std = has ? sqrt(s->ewma_log_var) : NAN;
}

/* Type-7 quantile p of sorted a[0..m), m > 0. */
static double s_quantile(const float *a, int m, double p)
{
    double h = (m - 1) * p;
    int i = (int) h;
    double f = h - i;
    return i + 1 < m ? a[i] + f * ((double) a[i + 1] - a[i]) : a[i];
}

/* Deviations from the median, on the linear scale (MAD) or the log1p
 * scale (log MAD). The p amounts below the median deviate more the
 * further left they are (L_i = dev of a[p-1-i]), the others the further
 * right (R_j = dev of a[p+j]): two sorted runs. On the log scale a
 * deviation is kept as the ratio (1 + a) / (1 + med) or its inverse, and
 * L < R compares products, so no log or division is needed to order them. */
typedef struct {
    const float *a;
    int m, p; /* p: first index with a[p] >= med */
    double med;
    bool ratio;
} s_devs_t;

static double s_dev_left(const s_devs_t *d, int i)
{
    double x = d->a[d->p - 1 - i];
    return d->ratio ? (1.0 + d->med) / (1.0 + x) : d->med - x;
}

static double s_dev_right(const s_devs_t *d, int j)
{
    double x = d->a[d->p + j];
    return d->ratio ? (1.0 + x) / (1.0 + d->med) : x - d->med;
}

/* L_i < R_j without dividing. */
static bool s_left_less(const s_devs_t *d, int i, int j)
{
    double l = d->a[d->p - 1 - i], r = d->a[d->p + j], c = d->med;
    return d->ratio ? (1.0 + c) * (1.0 + c) < (1.0 + l) * (1.0 + r) : 2.0 * c < l + r;
}

/* The t-th smallest deviation (0-based) and the next one: the t + 1
 * smallest are L_0..L_i-1 and R_0..R_j-1 with i + j = t + 1 for the first
 * i (binary search) where L_i is not smaller than R_j-1. */
static void s_kth_dev(const s_devs_t *d, int t, double *kth, double *next)
{
    int nr = d->m - d->p, lo = VG_MAX(0, t + 1 - nr), hi = VG_MIN(d->p, t + 1);
    while (lo < hi) { /* written for conditional moves: the branch is a coin flip */
        int i = (lo + hi) / 2;
        bool less = s_left_less(d, i, t - i);
        lo = less ? i + 1 : lo;
        hi = less ? hi : i;
    }
    int i = lo, j = t + 1 - lo;
    *kth =
        VG_MAX(i > 0 ? s_dev_left(d, i - 1) : -INFINITY, j > 0 ? s_dev_right(d, j - 1) : -INFINITY);
    *next = VG_MIN(i < d->p ? s_dev_left(d, i) : INFINITY, j < nr ? s_dev_right(d, j) : INFINITY);
}

/* Median deviation (type 7: the mean of the middle two when m is even). */
static double s_mad(const float *a, int m, int p, double med, bool ratio)
{
    s_devs_t d = {a, m, p, med, ratio};
    double lo, hi;
    s_kth_dev(&d, (m - 1) / 2, &lo, &hi);
    if (m % 2 == 1) return ratio ? log(lo) : lo;
    return ratio ? 0.5 * log(lo * hi) : 0.5 * (lo + hi);
}

static void s_fill_amounts(const vg_user_state_t *s, double amount, vg_features_t *out)
{
    int m = s->amt_len;
    if (m == 0) {
        out->median = out->mad = out->log_mad = out->q1 = out->q3 = NAN;
        out->amount_to_median = NAN;
        return;
    }
    out->median = s_quantile(s->amt_sorted, m, 0.5);
    out->q1 = s_quantile(s->amt_sorted, m, 0.25);
    out->q3 = s_quantile(s->amt_sorted, m, 0.75);
    int p = s_lower_bound(s->amt_sorted, m, out->median);
    out->mad = s_mad(s->amt_sorted, m, p, out->median, false);
    out->log_mad = s_mad(s->amt_sorted, m, p, out->median, true);
    out->amount_to_median = amount / VG_MAX(out->median, S_RATIO_MEDIAN_MIN);
}

static void s_amounts_add(vg_user_state_t *s, double amount)
{
    float x = (float) amount, *sorted = s->amt_sorted;
    int m = s->amt_len;
    if (m == VG_RING_AMOUNTS) { /* evict the oldest from the sorted copy */
        int i = s_lower_bound(sorted, m, s->amt_ring[s->amt_next]);
        if (i == m) i = m - 1; /* only if the bytes were tampered with */
        memmove(sorted + i, sorted + i + 1, (size_t) (m - i - 1) * sizeof *sorted);
        m--;
    }
    int i = s_lower_bound(sorted, m, x);
    memmove(sorted + i + 1, sorted + i, (size_t) (m - i) * sizeof *sorted);
    sorted[i] = x;
    s->amt_ring[s->amt_next] = x;
    s->amt_next = (uint8_t) ((s->amt_next + 1) % VG_RING_AMOUNTS);
    s->amt_len = (uint8_t) (m + 1);
}

/* ---- time of day, gaps, rate -------------------------------------------- */

static int s_hour_of(int64_t ts)
{
    return (int) (ts / (int64_t) S_MS_PER_HOUR % 24);
}

static void s_fill_time(const vg_user_state_t *s, int64_t ts, vg_features_t *out)
{
    int h = s_hour_of(ts);
    out->hour_of_day = h;
    out->hour_prob = (s->hour_count[h] + 1.0) / (s->hour_total + 24.0);
    if (s->n == 0) {
        out->secs_since_prev = out->rate_per_hour = NAN;
        return;
    }
    out->secs_since_prev = ts > s->last_ts_ms ? (ts - s->last_ts_ms) / 1000.0 : 0.0;
    double span_h = (double) (VG_MAX(ts, s->last_ts_ms) - s->first_ts_ms) / S_MS_PER_HOUR;
    out->rate_per_hour = s->n / VG_MAX(span_h, S_RATE_MIN_SPAN_H);
}

static void s_hour_add(vg_user_state_t *s, int64_t ts)
{
    if (s->hour_total >= S_HOUR_TOTAL_MAX) {
        s->hour_total = 0;
        for (int h = 0; h < 24; h++) {
            s->hour_count[h] >>= 1;
            s->hour_total += s->hour_count[h];
        }
    }
    s->hour_count[s_hour_of(ts)]++;
    s->hour_total++;
}

/* ---- novelty sets ------------------------------------------------------- */

static int s_set_find(const vg_user_state_t *s, int k, uint64_t h)
{
    const uint64_t *a = s->set_hash + s_set[k].first;
    for (int i = 0; i < s->set_len[k]; i++)
        if (a[i] == h) return i;
    return -1;
}

/* 1 if h is present and the set has history but not h. */
static double s_set_is_new(const vg_user_state_t *s, int k, uint64_t h)
{
    return h != 0 && s->set_len[k] > 0 && s_set_find(s, k, h) < 0;
}

/* Moves h to the front; a new h evicts the least recently seen when full. */
static void s_set_touch(vg_user_state_t *s, int k, uint64_t h)
{
    if (h == 0) return;
    uint64_t *a = s->set_hash + s_set[k].first;
    int i = s_set_find(s, k, h), len = s->set_len[k];
    if (i < 0) i = len < s_set[k].cap ? len++ : len - 1;
    memmove(a + 1, a, (size_t) i * sizeof *a);
    a[0] = h;
    s->set_len[k] = (uint8_t) len;
}

static void s_fill_novelty(const vg_user_state_t *s, const s_keys_t *keys, vg_features_t *out)
{
    out->new_merchant = s_set_is_new(s, S_SET_MERCHANT, keys->hash[S_SET_MERCHANT]);
    out->new_device = s_set_is_new(s, S_SET_DEVICE, keys->hash[S_SET_DEVICE]);
    out->new_country = s_set_is_new(s, S_SET_COUNTRY, keys->hash[S_SET_COUNTRY]);
    out->new_channel = s_set_is_new(s, S_SET_CHANNEL, keys->hash[S_SET_CHANNEL]);
}

/* ---- geography ---------------------------------------------------------- */

/* Great-circle distance (haversine) in km between two points in degrees. */
static double s_haversine_km(double lat1, double lon1, double lat2, double lon2)
{
    const double rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2.0 * S_EARTH_RADIUS_KM * asin(sqrt(VG_MIN(a, 1.0)));
}

static void s_fill_geo(const vg_user_state_t *s, const vg_tx_t *tx, vg_features_t *out)
{
    if (!vg_tx_has_geo(tx) || isnan(s->geo_lat)) {
        out->distance_km = out->speed_kmh = NAN;
        return;
    }
    int64_t dt = llabs(tx->ts_ms - s->geo_ts_ms);
    out->distance_km = s_haversine_km(s->geo_lat, s->geo_lon, tx->lat, tx->lon);
    out->speed_kmh = out->distance_km / ((double) VG_MAX(dt, S_SPEED_MIN_DT_MS) / S_MS_PER_HOUR);
}

static void s_geo_add(vg_user_state_t *s, const vg_tx_t *tx)
{
    if (!vg_tx_has_geo(tx) || (!isnan(s->geo_lat) && tx->ts_ms < s->geo_ts_ms)) return;
    s->geo_lat = tx->lat;
    s->geo_lon = tx->lon;
    s->geo_ts_ms = tx->ts_ms;
}

/* ---- compute / apply ---------------------------------------------------- */

static bool s_is_late(const vg_user_state_t *s, int64_t ts, const vg_features_config_t *cfg)
{
    return s->n > 0 && ts < s->last_ts_ms - cfg->late_tolerance_ms;
}

static void s_compute(const vg_user_state_t *s, const vg_tx_t *tx, const s_keys_t *keys,
                      const vg_features_config_t *cfg, vg_features_t *out)
{
    VG_ASSERT(s->version == VG_USER_STATE_VERSION);
    VG_ASSERT(isfinite(tx->amount) && tx->amount >= 0);
    VG_ASSERT(tx->ts_ms >= 0 && tx->ts_ms <= VG_TX_TS_MAX);
    VG_ASSERT(cfg->late_tolerance_ms >= 0 && cfg->ewma_alpha > 0 && cfg->ewma_alpha <= 1);
    out->amount = tx->amount;
    out->log_amount = log1p(tx->amount);
    out->n_prior = s->n;
    s_fill_windows(s, tx->ts_ms, tx->amount, out);
    s_fill_ewma(s, out);
    s_fill_amounts(s, tx->amount, out);
    s_fill_time(s, tx->ts_ms, out);
    s_fill_novelty(s, keys, out);
    s_fill_geo(s, tx, out);
    out->late = s_is_late(s, tx->ts_ms, cfg);
}

static void s_apply(vg_user_state_t *s, const vg_tx_t *tx, const s_keys_t *keys,
                    const vg_features_config_t *cfg, double log_amount)
{
    double alpha = VG_MAX(cfg->ewma_alpha, 1.0 / ((double) s->n + 1.0));
    for (int r = 0; r < VG__WIN_RINGS; r++) s_ring_add(s, r, tx->ts_ms, tx->amount);
    s_ewma_step(&s->ewma_mean, &s->ewma_var, tx->amount, alpha);
    s_ewma_step(&s->ewma_log_mean, &s->ewma_log_var, log_amount, alpha);
    s_amounts_add(s, tx->amount);
    s_hour_add(s, tx->ts_ms);
    for (int k = 0; k < VG__SETS; k++) s_set_touch(s, k, keys->hash[k]);
    s_geo_add(s, tx);
    if (s->n == 0 || tx->ts_ms < s->first_ts_ms) s->first_ts_ms = tx->ts_ms;
    if (s->n == 0 || tx->ts_ms > s->last_ts_ms) s->last_ts_ms = tx->ts_ms;
    if (s->n != UINT32_MAX) s->n++;
}

void vg_features_compute(const vg_user_state_t *s, const vg_tx_t *tx,
                         const vg_features_config_t *cfg, vg_features_t *out)
{
    s_keys_t keys;
    s_keys_of(tx, &keys);
    s_compute(s, tx, &keys, cfg, out);
}

bool vg_features_update(vg_user_state_t *s, const vg_tx_t *tx, const vg_features_config_t *cfg,
                        vg_features_t *out)
{
    s_keys_t keys;
    s_keys_of(tx, &keys);
    s_compute(s, tx, &keys, cfg, out);
    if (out->late) return false;
    s_apply(s, tx, &keys, cfg, out->log_amount);
    return true;
}
