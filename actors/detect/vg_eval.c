/* vg_eval.c: AUC-ROC by average ranks, average precision and precision
 * at k, all from one descending sort with tied scores grouped. */
#include "vg_eval.h"

#include "vg_mem.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct {
    double score;
    uint8_t pos;
} s_pair_t;

/* Descending; NaN last. */
static int s_cmp_desc(const void *a, const void *b)
{
    double x = ((const s_pair_t *) a)->score, y = ((const s_pair_t *) b)->score;
    if (x != x || y != y) return (x != x) - (y != y);
    return (x < y) - (x > y);
}

static s_pair_t *s_sorted(const double *score, const uint8_t *label, size_t n)
{
    s_pair_t *p = vg_malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (s_pair_t){score[i], label[i] != 0};
    qsort(p, n, sizeof *p, s_cmp_desc);
    return p;
}

/* End of the tie group starting at i (NaNs are one group). */
static size_t s_group_end(const s_pair_t *p, size_t n, size_t i)
{
    size_t j = i + 1;
    bool nan = p[i].score != p[i].score;
    while (j < n && (nan ? p[j].score != p[j].score : p[j].score == p[i].score)) j++;
    return j;
}

size_t vg_eval_positives(const uint8_t *label, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += label[i] != 0;
    return k;
}

double vg_eval_auc_roc(const double *score, const uint8_t *label, size_t n)
{
    size_t n_pos = vg_eval_positives(label, n), n_neg = n - n_pos;
    if (n_pos == 0 || n_neg == 0) return NAN;
    s_pair_t *p = s_sorted(score, label, n);
    /* ascending rank r (1-based) of descending position i is n - i */
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = s_group_end(p, n, i), pos = 0;
        for (size_t k = i; k < j; k++) pos += p[k].pos;
        double avg_rank = ((double) (n - i) + (double) (n - j + 1)) / 2.0;
        rank_sum += avg_rank * (double) pos;
        i = j;
    }
    free(p);
    double u = rank_sum - (double) n_pos * ((double) n_pos + 1.0) / 2.0;
    return u / ((double) n_pos * (double) n_neg);
}

double vg_eval_auc_pr(const double *score, const uint8_t *label, size_t n)
{
    size_t n_pos = vg_eval_positives(label, n);
    if (n_pos == 0) return NAN;
    s_pair_t *p = s_sorted(score, label, n);
    double ap = 0, prev_recall = 0;
    size_t tp = 0;
    for (size_t i = 0; i < n;) {
        size_t j = s_group_end(p, n, i);
        for (size_t k = i; k < j; k++) tp += p[k].pos;
        double recall = (double) tp / (double) n_pos, precision = (double) tp / (double) j;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j;
    }
    free(p);
    return ap;
}

double vg_eval_precision_at_k(const double *score, const uint8_t *label, size_t n, size_t k)
{
    if (k > n) k = n;
    if (k == 0) return NAN;
    s_pair_t *p = s_sorted(score, label, n);
    double hits = 0;
    for (size_t i = 0; i < k;) {
        size_t j = s_group_end(p, n, i), pos = 0;
        for (size_t m = i; m < j; m++) pos += p[m].pos;
        size_t take = (j <= k ? j : k) - i;
        hits += (double) pos * (double) take / (double) (j - i);
        i = j;
    }
    free(p);
    return hits / (double) k;
}
