/* vg_anomaly_json.h: the JSON of an anomaly record's parts, in the shape of
 * GET /v1/anomalies/{id} (transaction, features, reasons), for every place
 * that shows or stores a record as JSON (the PostgreSQL store's JSONB
 * columns). Values are written with vg_jw: absent strings are null,
 * non-finite numbers null, invalid UTF-8 U+FFFD. */
#ifndef VG_ANOMALY_JSON_H
#define VG_ANOMALY_JSON_H

#include "vg_anomaly.h"
#include "vg_jw.h"

/* {"id", "user_id", "amount", "currency", "timestamp" (RFC 3339),
 * "merchant_id", "merchant_category", "country", "channel", "device_id",
 * "ip", "lat", "lon", "attributes": {key: string or number}}. */
void vg_anomaly_tx_json(vg_jw_t *w, const vg_tx_t *tx);
/* {feature name: value, ...} in the record's order (names truncated to 63
 * bytes). */
void vg_anomaly_features_json(vg_jw_t *w, const vg_anomaly_rec_t *rec);
/* [{"detector", "feature", "value", "baseline", "threshold",
 * "contribution"}, ...]. */
void vg_anomaly_reasons_json(vg_jw_t *w, const vg_reason_t *reasons, unsigned n);

#endif
