/* vg_detect.h: the statistical detectors and the combiner that turns
 * their firings into a verdict (score 0..1, anomaly, decision, reasons).
 * Pure functions of a feature snapshot and a configuration: no state, no
 * allocation, callable from any thread. */
#ifndef VG_DETECT_H
#define VG_DETECT_H

#include "vg_features.h"
#include "vg_verdict.h"

#include <stdbool.h>
#include <stdint.h>

/* The detectors, as data: X(name, group, doc). `name` is the reason's
 * detector string and the config key prefix ("mad.k=3.5"). Detectors of
 * one group measure the same thing (e.g. amount) and are combined by max,
 * groups by noisy-OR, so correlated detectors do not stack up. */
#define VG_DETECTOR_LIST(X)                                                            \
    X(zscore, amount, "z-score of amount against the EWMA mean/std")                   \
    X(log_zscore, amount, "z-score of log-amount against its EWMA mean/std")           \
    X(mad, amount, "robust z of log(1 + amount) via median and MAD of recent amounts") \
    X(iqr, amount, "log(1 + amount) above the Tukey fence Q3 + k * IQR (recent)")      \
    X(velocity, velocity, "window count far above the user's long-run rate")           \
    X(travel, geo, "impossible travel: implied speed above k km/h")                    \
    X(new_device, novelty, "a device never seen before with a high amount")            \
    X(new_country, novelty, "a country never seen before with a high amount")

enum {
#define VG__DET_INDEX(name, group, doc) VG_DET_##name,
    VG_DETECTOR_LIST(VG__DET_INDEX)
#undef VG__DET_INDEX
        VG_DET_COUNT
};

typedef struct {
    bool enabled;
    double k;             /* threshold in the detector's own unit (z, km/h, ratio...) */
    uint32_t min_history; /* warm-up: prior transactions needed before it may fire */
    double weight;        /* maximum score it can contribute, 0..1 */
} vg_detector_cfg_t;

typedef struct {
    vg_detector_cfg_t det[VG_DET_COUNT];
    double travel_min_km;      /* ignore jumps shorter than this (GPS noise) */
    double velocity_min_count; /* never fire below this many in the window */
    double anomaly_threshold;  /* score >= this: anomaly */
    double review_threshold;   /* score >= this: decision review */
    double block_threshold;    /* score >= this: decision block */
} vg_detect_config_t;

/* Documented defaults (README "Detectors"). */
void vg_detect_config_default(vg_detect_config_t *cfg);

/* Sets one option from text, "mad.k" = "3.5", "velocity.enabled" = "false",
 * "block_threshold" = "0.9". Returns 0, or VG_ERR_NOT_FOUND (unknown key)
 * / VG_ERR_INVALID (bad value) with a message in errbuf naming the key. */
int vg_detect_config_set(vg_detect_config_t *cfg, const char *key, const char *value, char *errbuf,
                         size_t errlen);

/* Checks ranges and threshold ordering; message in errbuf. */
int vg_detect_config_check(const vg_detect_config_t *cfg, char *errbuf, size_t errlen);

/* Detector name ("mad"), NULL out of range. */
const char *vg_detector_name(int det);

/* Scores one transaction's features: fills out->score, anomaly, decision,
 * n_reasons and reasons (strongest first; detector/feature strings are
 * static). Leaves out->id, status and flags untouched. */
void vg_detect_score(const vg_detect_config_t *cfg, const vg_features_t *f, vg_verdict_t *out);

#endif
