/* vg_anomaly_svc.h: a node's answer to ANOMALY_QUERY (a gateway asking
 * every member for its stored anomalies): runs the query against the
 * node's store and builds the ANOMALY_REPLY parts. Pure over the store:
 * any thread, no transport. */
#ifndef VG_ANOMALY_SVC_H
#define VG_ANOMALY_SVC_H

#include "vg_msg.h"
#include "vg_store.h"

/* Answers q from s: records (list/get) as a msgpack array of anomaly
 * records, newest first, into records; next_cursor (VG_STORE_CURSOR_MAX+1
 * bytes) where a list stopped ("" = nothing further here); buckets
 * (stats) as a msgpack array of [start_ms, total, sev x 4, dec x 3].
 * records and buckets are initialised by the caller and always hold a
 * valid (maybe empty) array on return. Returns 0 or a vg_err
 * (VG_ERR_INVALID for a query out of range). */
int vg_anomaly_svc_answer(vg_store_t *s, const vg_body_anomaly_query_t *q, vg_mpw_t *records,
                          char *next_cursor, vg_mpw_t *buckets);

#endif
