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

/* The anomaly object of GET /v1/anomalies ({"id", "user_id", "timestamp",
 * "detected_at", "score", "severity", "decision", "amount", "currency",
 * "reasons"}) and, with details, of GET /v1/anomalies/{id} (plus
 * "transaction" and "features"). Also the value of the Kafka anomalies
 * topic. */
void vg_anomaly_rec_json(vg_jw_t *w, const vg_anomaly_rec_t *a, bool details);
/* The same members without the braces (a caller adding its own, e.g. the
 * API's "label"). */
void vg_anomaly_rec_json_fields(vg_jw_t *w, const vg_anomaly_rec_t *a, bool details);
/* A verdict as POST /v1/transactions returns it: {"id", "decision",
 * "anomaly", "score", "reasons"[, "duplicate": true][, "late": true]}. */
void vg_verdict_json(vg_jw_t *w, const vg_verdict_t *v);

#endif
