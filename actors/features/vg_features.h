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
#include <stdint.h>

#define VG_USER_STATE_VERSION 1
#define VG_RING_AMOUNTS 64 /* recent amounts kept for median/MAD/quartiles */
#define VG_SET_MERCHANTS 16
#define VG_SET_DEVICES 8
#define VG_SET_COUNTRIES 8
#define VG_SET_CHANNELS 4

/* The feature snapshot of one transaction, as data: X(name, doc). The
 * snapshot struct, the names used in stored anomalies / JSON, and the
 * ML feature vector are all derived from this list. Values that do not
 * apply (no history, no location) are NaN. */
#define VG_FEATURE_LIST(X)                                                        \
    X(amount, "transaction amount")                                               \
    X(log_amount, "log(1 + amount)")                                              \
    X(n_prior, "transactions of this user seen before this one")                  \
    X(count_1m, "transactions in the last 1 min, this one included")             \
    X(count_10m, "transactions in the last 10 min, this one included")           \
    X(count_1h, "transactions in the last 1 h, this one included")               \
    X(count_24h, "transactions in the last 24 h, this one included")             \
    X(sum_1m, "amount sum in the last 1 min, this one included")                 \
    X(sum_10m, "amount sum in the last 10 min")                                   \
    X(sum_1h, "amount sum in the last 1 h")                                       \
    X(sum_24h, "amount sum in the last 24 h")                                     \
    X(ewma_mean, "EWMA mean of amount (before this one)")                         \
    X(ewma_std, "EWMA standard deviation of amount")                              \
    X(ewma_log_mean, "EWMA mean of log-amount")                                   \
    X(ewma_log_std, "EWMA standard deviation of log-amount")                      \
    X(median, "median of recent amounts")                                         \
    X(mad, "median absolute deviation of recent amounts")                         \
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

/* Rolling state of one user. Fixed size; see the .c file for the layout
 * notes. Fields are internal to features/ except `version`, `n` and
 * `last_ts_ms`, which others may read. */
typedef struct {
    uint32_t version; /* VG_USER_STATE_VERSION */
    uint32_t n;       /* transactions applied */
    int64_t first_ts_ms, last_ts_ms;
    /* ... the rest is private to vg_features.c ... */
    unsigned char opaque[2048 - 24];
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
