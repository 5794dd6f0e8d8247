/* vg_verdict.c: verdict names and msgpack codec. */
#include "vg_verdict.h"

#include "vg_err.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

static const char *s_decisions[] = {"allow", "review", "block"};

const char *vg_decision_name(int decision)
{
    return decision >= 0 && decision <= 2 ? s_decisions[decision] : NULL;
}

int vg_decision_parse(vg_str_t s, vg_decision *out)
{
    for (int i = 0; i <= 2; i++)
        if (vg_str_eq_c(s, s_decisions[i])) {
            *out = (vg_decision) i;
            return 0;
        }
    return VG_ERR_INVALID;
}

void vg_reason_encode(const vg_reason_t *x, vg_mpw_t *w)
{
    vg_mpw_array(w, VG_REASON_MP_FIELDS);
    vg_mpw_ostr(w, x->detector);
    vg_mpw_ostr(w, x->feature);
    vg_mpw_f64(w, x->value);
    vg_mpw_f64(w, x->baseline);
    vg_mpw_f64(w, x->threshold);
    vg_mpw_f64(w, x->contribution);
}

void vg_verdict_encode(const vg_verdict_t *v, vg_mpw_t *w)
{
    vg_mpw_array(w, VG_VERDICT_MP_FIELDS);
    vg_mpw_ostr(w, v->id);
    vg_mpw_int(w, v->status);
    vg_mpw_uint(w, v->flags);
    vg_mpw_uint(w, v->decision);
    vg_mpw_bool(w, v->anomaly);
    vg_mpw_f64(w, v->score);
    vg_mpw_array(w, v->n_reasons);
    for (unsigned i = 0; i < v->n_reasons; i++) vg_reason_encode(&v->reasons[i], w);
    vg_mpw_nil(w); /* reserved: per-verdict error text (future) */
}

int vg_reason_decode(vg_mpr_t *r, vg_reason_t *x, vg_perr_t *err)
{
    uint32_t n;
    if (vg_mpr_array(r, &n)) return vg_mpr_perr(r, err, "reasons");
    if (n < VG_REASON_MP_FIELDS)
        return vg_perr_set(err, VG_ERR_PARSE, "reasons", "reason has %u fields, expected %d", n,
                           VG_REASON_MP_FIELDS);
    if (vg_mpr_str(r, &x->detector) || vg_mpr_str(r, &x->feature) || vg_mpr_f64(r, &x->value) ||
        vg_mpr_f64(r, &x->baseline) || vg_mpr_f64(r, &x->threshold) ||
        vg_mpr_f64(r, &x->contribution))
        return vg_mpr_perr(r, err, "reasons");
    for (uint32_t i = VG_REASON_MP_FIELDS; i < n; i++)
        if (vg_mpr_skip(r)) return vg_mpr_perr(r, err, "reasons");
    return 0;
}

static int s_range(vg_perr_t *err, const char *field, const char *why)
{
    return vg_perr_set(err, VG_ERR_INVALID, field, "%s", why);
}

int vg_verdict_decode(vg_mpr_t *r, vg_verdict_t *v, vg_perr_t *err)
{
    uint32_t n, nr;
    uint64_t u;
    int64_t status;
    memset(v, 0, offsetof(vg_verdict_t, reasons));
    if (vg_mpr_array(r, &n)) return vg_mpr_perr(r, err, "");
    if (n < VG_VERDICT_MP_FIELDS)
        return vg_perr_set(err, VG_ERR_PARSE, "", "verdict has %u fields, expected %d", n,
                           VG_VERDICT_MP_FIELDS);
    if (vg_mpr_str(r, &v->id)) return vg_mpr_perr(r, err, "id");
    if (vg_mpr_int(r, &status)) return vg_mpr_perr(r, err, "status");
    if (status < INT32_MIN || status > 0) return s_range(err, "status", "must be 0 or a vg_err");
    v->status = (int32_t) status;
    if (vg_mpr_u32(r, &v->flags)) return vg_mpr_perr(r, err, "flags");
    if (vg_mpr_uint(r, &u)) return vg_mpr_perr(r, err, "decision");
    if (u > VG_DECISION_BLOCK) return s_range(err, "decision", "must be 0, 1 or 2");
    v->decision = (uint8_t) u;
    if (vg_mpr_bool(r, &v->anomaly)) return vg_mpr_perr(r, err, "anomaly");
    if (vg_mpr_f64(r, &v->score)) return vg_mpr_perr(r, err, "score");
    if (!(v->score >= 0 && v->score <= 1)) return s_range(err, "score", "must be within 0..1");
    if (vg_mpr_array(r, &nr)) return vg_mpr_perr(r, err, "reasons");
    if (nr > VG_VERDICT_REASONS_MAX)
        return vg_perr_set(err, VG_ERR_INVALID, "reasons", "at most %d", VG_VERDICT_REASONS_MAX);
    for (uint32_t i = 0; i < nr; i++) {
        int rc = vg_reason_decode(r, &v->reasons[i], err);
        if (rc) return rc;
    }
    v->n_reasons = (uint8_t) nr;
    for (uint32_t i = VG_VERDICT_MP_FIELDS - 1; i < n; i++) /* reserved + future fields */
        if (vg_mpr_skip(r)) return vg_mpr_perr(r, err, "");
    return 0;
}
