/* lg_quality.c: confusion matrix arithmetic for vigil-loadgen's report. */
#include "lg_quality.h"

#include <math.h>

static double s_ratio(uint64_t a, uint64_t b)
{
    return b ? (double) a / (double) b : NAN;
}

void lg_confusion_scores(const lg_confusion_t *c, lg_scores_t *out)
{
    out->precision = s_ratio(c->tp, c->tp + c->fp);
    out->recall = s_ratio(c->tp, c->tp + c->fn);
    out->fpr = s_ratio(c->fp, c->fp + c->tn);
    double p = out->precision, r = out->recall;
    out->f1 = isnan(p) || isnan(r) ? NAN : p + r > 0 ? 2 * p * r / (p + r) : 0;
}

void lg_quality_add(lg_quality_t *q, int kind, bool anomaly, bool flagged)
{
    if (kind < 0 || kind >= LG_KIND_COUNT) return;
    q->n[kind]++;
    q->anomaly[kind] += anomaly;
    q->flagged[kind] += flagged;
}

void lg_quality_merge(lg_quality_t *dst, const lg_quality_t *src)
{
    for (int k = 0; k < LG_KIND_COUNT; k++) {
        dst->n[k] += src->n[k];
        dst->anomaly[k] += src->anomaly[k];
        dst->flagged[k] += src->flagged[k];
    }
}

uint64_t lg_quality_total(const lg_quality_t *q)
{
    uint64_t n = 0;
    for (int k = 0; k < LG_KIND_COUNT; k++) n += q->n[k];
    return n;
}

lg_confusion_t lg_quality_confusion(const lg_quality_t *q, bool by_decision)
{
    lg_confusion_t c = {0, 0, 0, 0};
    for (int k = 0; k < LG_KIND_COUNT; k++) {
        uint64_t hit = by_decision ? q->flagged[k] : q->anomaly[k];
        if (lg_kind_is_anomaly(k))
            c.tp += hit, c.fn += q->n[k] - hit;
        else
            c.fp += hit, c.tn += q->n[k] - hit;
    }
    return c;
}
