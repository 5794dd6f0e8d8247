/* vt_anom.h: anomalies for store tests and benchmarks: one anomaly from
 * explicit values (vt_anom_set), a seeded random one (vt_anom_random), and
 * their msgpack records (vt_anom_encode). Header-only. A vt_anom_t points
 * into itself: do not move it after vt_anom_set (allocate arrays once). */
#ifndef VT_ANOM_H
#define VT_ANOM_H

#include "vg_anomaly.h"
#include "vg_features.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char id[VG_TX_ID_MAX], user[VG_TX_ID_MAX];
    vg_tx_t tx;
    vg_features_t f;
    vg_verdict_t v;
} vt_anom_t;

static const char *const vt_detectors[] = {"zscore", "mad", "iqr", "iforest", "rule"};
static const char *const vt_rules[] = {"big_amount", "night_owl", "geo_jump"};

/* splitmix64 */
static inline uint64_t vt_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* An anomaly: id and user (bytes, any content), event time, score and
 * decision; reasons none until vt_anom_reason. */
static inline void vt_anom_set(vt_anom_t *t, vg_str_t id, vg_str_t user, int64_t ts_ms,
                               double score, int decision)
{
    memset(t, 0, sizeof *t);
    memcpy(t->id, id.ptr, id.len);
    memcpy(t->user, user.ptr, user.len);
    vg_tx_init(&t->tx);
    t->tx.id = (vg_str_t){t->id, id.len};
    t->tx.user_id = (vg_str_t){t->user, user.len};
    t->tx.amount = 10 + fmod((double) ts_ms, 977.0);
    t->tx.ts_ms = ts_ms;
    memcpy(t->tx.currency, "EUR", 4);
    memcpy(t->tx.country, "FR", 3);
    t->tx.merchant_id = VG_STR_LIT("m-42");
    t->tx.channel = VG_STR_LIT("web");
    t->tx.n_attrs = 2;
    t->tx.attrs[0] = (vg_tx_attr_t){VG_STR_LIT("segment"), VG_STR_LIT("gold"), 0, VG_ATTR_STR};
    t->tx.attrs[1] = (vg_tx_attr_t){VG_STR_LIT("risk"), VG_STR_NULL, 0.25, VG_ATTR_NUM};
    double *fv = (double *) &t->f;
    for (int i = 0; i < VG_FEATURE_COUNT; i++) fv[i] = i % 7 == 3 ? NAN : i * 1.5 + score;
    t->v.id = t->tx.id;
    t->v.anomaly = true;
    t->v.score = score;
    t->v.decision = (uint8_t) decision;
}

static inline void vt_anom_reason(vt_anom_t *t, const char *detector, const char *feature)
{
    if (t->v.n_reasons >= VG_VERDICT_REASONS_MAX) return;
    t->v.reasons[t->v.n_reasons++] =
        (vg_reason_t){vg_str_c(detector), vg_str_c(feature), 3.5, 1.25, 3.0, 0.5};
}

/* A random anomaly of user "u<user>" with id "a<seq>", 0-3 reasons. */
static inline void vt_anom_random(vt_anom_t *t, uint64_t *rng, uint64_t seq, int user,
                                  int64_t ts_ms)
{
    char id[32], u[32];
    int il = snprintf(id, sizeof id, "a%llu", (unsigned long long) seq);
    int ul = snprintf(u, sizeof u, "u%d", user);
    double score = 0.5 + (double) (vt_rand(rng) % 5000) / 10000.0;
    vt_anom_set(t, (vg_str_t){id, (uint32_t) il}, (vg_str_t){u, (uint32_t) ul}, ts_ms, score,
                (int) (vt_rand(rng) % 3));
    int n = (int) (vt_rand(rng) % 4);
    for (int i = 0; i < n; i++) {
        const char *d = vt_detectors[vt_rand(rng) % 5];
        vt_anom_reason(t, d,
                       strcmp(d, "rule") == 0 ? vt_rules[vt_rand(rng) % 3]
                                              : vg_feature_name((int) (vt_rand(rng) % 8)));
    }
}

static inline vg_anomaly_t vt_anom_view(const vt_anom_t *t)
{
    return (vg_anomaly_t){
        .tx = &t->tx, .features = &t->f, .verdict = &t->v, .detected_ms = t->tx.ts_ms + 250};
}

static inline void vt_anom_encode(const vt_anom_t *t, vg_mpw_t *w)
{
    vg_anomaly_t a = vt_anom_view(t);
    vg_anomaly_encode(&a, w);
}

#endif
