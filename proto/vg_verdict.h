/* vg_verdict.h: the result of scoring one transaction: decision, score,
 * anomaly flag and the reasons that explain it. Strings are borrowed
 * slices (static names on the node, frame slices after decoding). */
#ifndef VG_VERDICT_H
#define VG_VERDICT_H

#include "vg_mp.h"
#include "vg_perr.h"
#include "vg_str.h"

#include <stdbool.h>
#include <stdint.h>

#define VG_VERDICT_REASONS_MAX 8
#define VG_VERDICT_MP_FIELDS   8
#define VG_REASON_MP_FIELDS    6

typedef enum { VG_DECISION_ALLOW = 0, VG_DECISION_REVIEW = 1, VG_DECISION_BLOCK = 2 } vg_decision;

/* Verdict flags. */
enum {
    VG_VERDICT_F_DUPLICATE = 1, /* id seen before: the stored verdict is returned */
    VG_VERDICT_F_LATE = 2,      /* event time older than the user's state allows */
};

typedef struct {
    vg_str_t detector;   /* e.g. "zscore", "mad", "rule" */
    vg_str_t feature;    /* e.g. "amount", or the rule name */
    double value;        /* the observed value */
    double baseline;     /* what was expected (mean, median, ...) */
    double threshold;    /* the limit that was crossed */
    double contribution; /* share of the score, 0..1 */
} vg_reason_t;

typedef struct {
    vg_str_t id;      /* transaction id */
    int32_t status;   /* 0, or the vg_err that prevented scoring */
    uint32_t flags;   /* VG_VERDICT_F_* */
    uint8_t decision; /* vg_decision */
    bool anomaly;
    double score; /* 0..1 */
    /* in-process only (never encoded): 1 + the worst severity declared by
     * the active rules that hit, 0 none; the stored anomaly's severity is
     * at least that (vg_anomaly_encode) */
    uint8_t rule_severity;
    uint8_t n_reasons;
    vg_reason_t reasons[VG_VERDICT_REASONS_MAX];
} vg_verdict_t;

/* "allow", "review", "block"; NULL for an unknown value. */
const char *vg_decision_name(int decision);
/* Parses a decision name; returns 0 or VG_ERR_INVALID. */
int vg_decision_parse(vg_str_t s, vg_decision *out);

/* A reason's msgpack form: [detector, feature, value, baseline, threshold,
 * contribution] (PROTOCOL.md). Decoding is zero-copy; extra trailing
 * elements are skipped. */
void vg_reason_encode(const vg_reason_t *x, vg_mpw_t *w);
int vg_reason_decode(vg_mpr_t *r, vg_reason_t *x, vg_perr_t *err);

/* Appends the msgpack form (PROTOCOL.md) to w. */
void vg_verdict_encode(const vg_verdict_t *v, vg_mpw_t *w);
/* Decodes one verdict (zero-copy) and checks its ranges. */
int vg_verdict_decode(vg_mpr_t *r, vg_verdict_t *v, vg_perr_t *err);

#endif
