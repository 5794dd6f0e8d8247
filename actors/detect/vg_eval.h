/* vg_eval.h: ranking metrics for anomaly scores against binary labels
 * (higher score = more anomalous): AUC-ROC, AUC-PR (average precision)
 * and precision at k. Pure functions; each allocates a sorted copy of
 * the n (score, label) pairs for the duration of the call. A NaN score
 * ranks below every other score. */
#ifndef VG_EVAL_H
#define VG_EVAL_H

#include <stddef.h>
#include <stdint.h>

/* Area under the ROC curve = P(score of a random positive > score of a
 * random negative) + 0.5 P(equal): the Mann-Whitney statistic with tied
 * scores given their average rank. label[i] != 0 is a positive. NaN when
 * there are no positives or no negatives. */
double vg_eval_auc_roc(const double *score, const uint8_t *label, size_t n);

/* Average precision (area under the precision-recall curve, step-wise as
 * scikit-learn's average_precision_score): sum over distinct score
 * thresholds, highest first, of (recall gain) x (precision at that
 * threshold); tied scores form one threshold. NaN without positives. */
double vg_eval_auc_pr(const double *score, const uint8_t *label, size_t n);

/* Share of positives among the k highest scores (k clipped to n). When
 * the k-th and (k+1)-th scores tie, the tied group contributes its
 * positive share pro rata, so the result does not depend on input
 * order. NaN when k or n is 0. */
double vg_eval_precision_at_k(const double *score, const uint8_t *label, size_t n, size_t k);

/* Number of positives (label != 0) in label[0..n). */
size_t vg_eval_positives(const uint8_t *label, size_t n);

#endif
