/* vg_anomaly_json.c: an anomaly record's transaction, feature snapshot and
 * reasons as JSON objects (vg_jw). */
#include "vg_anomaly_json.h"

#include <stdio.h>

/* vg_jw_key wants a C string: the slice, truncated to fit buf. */
static const char *s_key(vg_str_t s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.*s", (int) s.len, s.ptr ? s.ptr : "");
    return buf;
}

void vg_anomaly_tx_json(vg_jw_t *w, const vg_tx_t *tx)
{
    char key[VG_TX_ATTR_KEY_MAX + 1];
    vg_jw_obj_begin(w);
    vg_jw_kstr(w, "id", tx->id);
    vg_jw_kstr(w, "user_id", tx->user_id);
    vg_jw_knum(w, "amount", tx->amount);
    vg_jw_kcstr(w, "currency", tx->currency);
    vg_jw_key(w, "timestamp");
    vg_jw_ts(w, tx->ts_ms);
    vg_jw_kstr(w, "merchant_id", tx->merchant_id);
    vg_jw_kstr(w, "merchant_category", tx->merchant_category);
    vg_jw_kcstr(w, "country", tx->country[0] ? tx->country : NULL);
    vg_jw_kstr(w, "channel", tx->channel);
    vg_jw_kstr(w, "device_id", tx->device_id);
    vg_jw_kstr(w, "ip", tx->ip);
    vg_jw_knum(w, "lat", tx->lat);
    vg_jw_knum(w, "lon", tx->lon);
    vg_jw_key(w, "attributes");
    vg_jw_obj_begin(w);
    for (unsigned i = 0; i < tx->n_attrs; i++) {
        const vg_tx_attr_t *a = &tx->attrs[i];
        vg_jw_key(w, s_key(a->key, key, sizeof key));
        if (a->kind == VG_ATTR_NUM)
            vg_jw_num(w, a->num);
        else
            vg_jw_str(w, a->str);
    }
    vg_jw_obj_end(w);
    vg_jw_obj_end(w);
}

void vg_anomaly_features_json(vg_jw_t *w, const vg_anomaly_rec_t *rec)
{
    char key[64];
    vg_jw_obj_begin(w);
    for (uint32_t i = 0; i < rec->n_features; i++)
        vg_jw_knum(w, s_key(rec->feature_names[i], key, sizeof key), rec->feature_values[i]);
    vg_jw_obj_end(w);
}

void vg_anomaly_reasons_json(vg_jw_t *w, const vg_reason_t *reasons, unsigned n)
{
    vg_jw_arr_begin(w);
    for (unsigned i = 0; i < n; i++) {
        const vg_reason_t *r = &reasons[i];
        vg_jw_obj_begin(w);
        vg_jw_kstr(w, "detector", r->detector);
        vg_jw_kstr(w, "feature", r->feature);
        vg_jw_knum(w, "value", r->value);
        vg_jw_knum(w, "baseline", r->baseline);
        vg_jw_knum(w, "threshold", r->threshold);
        vg_jw_knum(w, "contribution", r->contribution);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
}

void vg_anomaly_rec_json(vg_jw_t *w, const vg_anomaly_rec_t *a, bool details)
{
    vg_jw_obj_begin(w);
    vg_anomaly_rec_json_fields(w, a, details);
    vg_jw_obj_end(w);
}

void vg_anomaly_rec_json_fields(vg_jw_t *w, const vg_anomaly_rec_t *a, bool details)
{
    vg_jw_kstr(w, "id", a->id);
    vg_jw_kstr(w, "user_id", a->user_id);
    vg_jw_key(w, "timestamp");
    vg_jw_ts(w, a->ts_ms);
    vg_jw_key(w, "detected_at");
    vg_jw_ts(w, a->detected_ms);
    vg_jw_knum(w, "score", a->score);
    vg_jw_kcstr(w, "severity", vg_severity_name(a->severity));
    vg_jw_kcstr(w, "decision", vg_decision_name(a->decision));
    vg_jw_knum(w, "amount", a->tx.amount);
    vg_jw_kcstr(w, "currency", a->tx.currency);
    vg_jw_key(w, "reasons");
    vg_anomaly_reasons_json(w, a->reasons, a->n_reasons);
    if (details) {
        vg_jw_key(w, "transaction");
        vg_anomaly_tx_json(w, &a->tx);
        vg_jw_key(w, "features");
        vg_anomaly_features_json(w, a);
    }
}

void vg_verdict_json(vg_jw_t *w, const vg_verdict_t *v)
{
    vg_jw_obj_begin(w);
    vg_jw_kstr(w, "id", v->id);
    vg_jw_kcstr(w, "decision", vg_decision_name(v->decision));
    vg_jw_kbool(w, "anomaly", v->anomaly);
    vg_jw_knum(w, "score", v->score);
    vg_jw_key(w, "reasons");
    vg_anomaly_reasons_json(w, v->reasons, v->n_reasons);
    if (v->flags & VG_VERDICT_F_DUPLICATE) vg_jw_kbool(w, "duplicate", true);
    if (v->flags & VG_VERDICT_F_LATE) vg_jw_kbool(w, "late", true);
    vg_jw_obj_end(w);
}
