/* vg_features.h: per-user rolling state and the features computed from it
 * for one transaction, in event time. The same code serves live scoring
 * and offline replay (vigil-train), so both see identical features.
 * vg_user_state_t is a fixed-size POD (bounded memory per user) that is
 * persisted as raw bytes: bump VG_USER_STATE_VERSION when its layout
 * changes. Not thread-safe: a user's state is only touched by the worker
 * that owns the user's shard. */
#ifndef VG_FEATURES_H
#define VG_FEATURES_H

#include "vg_tx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_USER_STATE_VERSION 1
#define VG_RING_AMOUNTS       64 /* recent amounts kept for median/MAD/quartiles */
#define VG_SET_MERCHANTS      16
#define VG_SET_DEVICES        8
#define VG_SET_COUNTRIES      8
#define VG_SET_CHANNELS       4

/* The feature snapshot of one transaction, as data: X(name, doc). The
 * snapshot struct, the names used in stored anomalies / JSON, and the
 * ML feature vector are all derived from this list. Values that do not
 * apply (no history, no location) are NaN. */
#define VG_FEATURE_LIST(X)                                                        \
    X(amount, "transaction amount")                                               \
    X(log_amount, "log(1 + amount)")                                              \
    X(n_prior, "transactions of this user seen before this one")                  \
    X(count_1m, "transactions in the last 1 min, this one included")              \
    X(count_10m, "transactions in the last 10 min, this one included")            \
    X(count_1h, "transactions in the last 1 h, this one included")                \
    X(count_24h, "transactions in the last 24 h, this one included")              \
    X(sum_1m, "amount sum in the last 1 min, this one included")                  \
    X(sum_10m, "amount sum in the last 10 min")                                   \
    X(sum_1h, "amount sum in the last 1 h")                                       \
    X(sum_24h, "amount sum in the last 24 h")                                     \
    X(ewma_mean, "EWMA mean of amount (before this one)")                         \
    X(ewma_std, "EWMA standard deviation of amount")                              \
    X(ewma_log_mean, "EWMA mean of log-amount")                                   \
    X(ewma_log_std, "EWMA standard deviation of log-amount")                      \
    X(median, "median of recent amounts")                                         \
    X(mad, "median absolute deviation of recent amounts")                         \
    X(log_mad, "median absolute deviation of log(1 + recent amounts)")            \
    X(q1, "first quartile of recent amounts")                                     \
    X(q3, "third quartile of recent amounts")                                     \
    X(amount_to_median, "amount / median of recent amounts")                      \
    X(secs_since_prev, "seconds since the user's previous transaction")           \
    X(rate_per_hour, "user's long-run transactions per hour")                     \
    X(hour_of_day, "UTC hour of the event, 0-23")                                 \
    X(hour_prob, "share of the user's history in this hour (smoothed)")           \
    X(new_merchant, "1 if the merchant was not seen before (with history)")       \
    X(new_device, "1 if the device was not seen before (with history)")           \
    X(new_country, "1 if the country was not seen before (with history)")         \
    X(new_channel, "1 if the channel was not seen before (with history)")         \
    X(distance_km, "great-circle distance from the previous located transaction") \
    X(speed_kmh, "implied speed from the previous located transaction")           \
    X(late, "1 if older than the user's state by more than the tolerance")

typedef struct {
#define VG__FEATURE_FIELD(name, doc) double name;
    VG_FEATURE_LIST(VG__FEATURE_FIELD)
#undef VG__FEATURE_FIELD
} vg_features_t;

enum {
#define VG__FEATURE_INDEX(name, doc) VG_FEATURE_##name,
    VG_FEATURE_LIST(VG__FEATURE_INDEX)
#undef VG__FEATURE_INDEX
        VG_FEATURE_COUNT
};

/* Name of feature i ("amount", ...), NULL when out of range. */
const char *vg_feature_name(int i);
/* The snapshot as an array of VG_FEATURE_COUNT doubles (list order). */
static inline const double *vg_features_array(const vg_features_t *f)
{
    return (const double *) f;
}

typedef struct {
    double ewma_alpha;         /* weight of the newest amount, default 0.05 */
    int64_t late_tolerance_ms; /* older than last event by more: "late", default 300000 */
} vg_features_config_t;

void vg_features_config_default(vg_features_config_t *cfg);

/* Checks ranges (0 < ewma_alpha <= 1, late_tolerance_ms >= 0); returns 0
 * or VG_ERR_INVALID with a message naming the field in errbuf. The update
 * functions assert a valid config. */
int vg_features_config_check(const vg_features_config_t *cfg, char *errbuf, size_t errlen);

/* Sizes of the bucket rings and hash sets inside vg_user_state_t. */
#define VG__WIN_RINGS 4  /* 1 min, 10 min, 1 h, 24 h */
#define VG__WIN_SLOTS 72 /* 8 x 10 s + 16 x 1 min + 16 x 5 min + 32 x 1 h */
#define VG__SETS      4  /* merchants, devices, countries, channels */
#define VG__SET_SLOTS (VG_SET_MERCHANTS + VG_SET_DEVICES + VG_SET_COUNTRIES + VG_SET_CHANNELS)

/* Rolling state of one user: a fixed-size POD without holes, persisted
 * as raw bytes (see vg_features.c for what each part approximates).
 * Fields after `last_ts_ms` are private to vg_features.c; others may read
 * `version`, `n`, `first_ts_ms` and `last_ts_ms`. */
typedef struct {
    uint32_t version; /* VG_USER_STATE_VERSION */
    uint32_t n;       /* transactions applied (saturates) */
    int64_t first_ts_ms, last_ts_ms;
    /* ---- private to vg_features.c ---- */
    double ewma_mean, ewma_var;         /* amount */
    double ewma_log_mean, ewma_log_var; /* log(1 + amount) */
    double geo_lat, geo_lon;            /* newest located transaction; NaN: none */
    int64_t geo_ts_ms;
    double win_sum[VG__WIN_SLOTS]; /* each ring's newest slot holds last_ts_ms's bucket */
    uint32_t win_count[VG__WIN_SLOTS];
    uint64_t set_hash[VG__SET_SLOTS];  /* per set, most recently seen first */
    float amt_ring[VG_RING_AMOUNTS];   /* recent amounts, arrival order */
    float amt_sorted[VG_RING_AMOUNTS]; /* the same amounts, ascending */
    uint32_t hour_total;
    uint16_t hour_count[24]; /* UTC hour-of-day profile, halved when full */
    uint8_t set_len[VG__SETS];
    uint8_t amt_len, amt_next;
    uint8_t pad_[6]; /* zero: no implicit padding, so equal states have equal bytes */
} vg_user_state_t;

/* Fresh state for a user never seen. */
void vg_user_state_init(vg_user_state_t *s);

/* True if bytes of length len are a state this build can load. */
bool vg_user_state_valid(const void *bytes, size_t len);

/* Computes the features of tx against s (as it is before tx), then, unless
 * tx is late (older than s->last_ts_ms - late_tolerance_ms), applies tx
 * to s. Events older than the latest but within the tolerance update the
 * state normally. Returns true if the state was changed. */
bool vg_features_update(vg_user_state_t *s, const vg_tx_t *tx, const vg_features_config_t *cfg,
                        vg_features_t *out);

/* Computes the features of tx against s without changing s. */
void vg_features_compute(const vg_user_state_t *s, const vg_tx_t *tx,
                         const vg_features_config_t *cfg, vg_features_t *out);

#endif
