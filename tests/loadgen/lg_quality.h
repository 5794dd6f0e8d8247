/* lg_quality.h: detection quality of the verdicts against the generator's
 * labels: per-kind counts of how often the server flagged a transaction
 * (verdict.anomaly, and separately decision != allow), and the confusion
 * matrix arithmetic (precision, recall, F1, false-positive rate). */
#ifndef LG_QUALITY_H
#define LG_QUALITY_H

#include "lg_gen.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t tp, fp, fn, tn;
} lg_confusion_t;

typedef struct {
    double precision; /* tp / (tp + fp); NaN when nothing was flagged */
    double recall;    /* tp / (tp + fn); NaN when there are no positives */
    double f1;        /* harmonic mean of precision and recall; NaN if either is */
    double fpr;       /* fp / (fp + tn); NaN when there are no negatives */
} lg_scores_t;

void lg_confusion_scores(const lg_confusion_t *c, lg_scores_t *out);

/* Verdicts tallied by label kind. Plain counters: one owner thread;
 * merge the per-thread copies at the end. */
typedef struct {
    uint64_t n[LG_KIND_COUNT];       /* scored transactions of each kind */
    uint64_t anomaly[LG_KIND_COUNT]; /* ... with verdict.anomaly == true */
    uint64_t flagged[LG_KIND_COUNT]; /* ... with decision != allow */
} lg_quality_t;

void lg_quality_add(lg_quality_t *q, int kind, bool anomaly, bool flagged);
void lg_quality_merge(lg_quality_t *dst, const lg_quality_t *src);
uint64_t lg_quality_total(const lg_quality_t *q);
/* Confusion of the label (an anomaly kind) against verdict.anomaly
 * (by_decision false) or decision != allow (by_decision true). */
lg_confusion_t lg_quality_confusion(const lg_quality_t *q, bool by_decision);

#endif
