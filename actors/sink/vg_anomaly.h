/* vg_anomaly.h: an anomaly record (the transaction, its feature snapshot,
 * the verdict and its reasons) as every anomaly store backend keeps it,
 * the query shape of GET /v1/anomalies, and the record's msgpack form. */
#ifndef VG_ANOMALY_H
#define VG_ANOMALY_H

#include "vg_features.h"
#include "vg_mp.h"
#include "vg_perr.h"
#include "vg_tx.h"
#include "vg_verdict.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    VG_SEV_LOW = 0, /* score < 0.7 */
    VG_SEV_MEDIUM,  /* < 0.85 */
    VG_SEV_HIGH,    /* < 0.95 */
    VG_SEV_CRITICAL
} vg_severity;

/* "low", "medium", "high", "critical"; NULL out of range. */
const char *vg_severity_name(int sev);
int vg_severity_parse(vg_str_t s, vg_severity *out); /* 0 or VG_ERR_INVALID */
vg_severity vg_severity_from_score(double score);

/* What the node writes: borrowed pointers, valid for the call. */
typedef struct {
    const vg_tx_t *tx;             /* id = anomaly id, user_id, ts_ms = event time */
    const vg_features_t *features; /* snapshot used for scoring */
    const vg_verdict_t *verdict;   /* score, decision, reasons */
    int64_t detected_ms;           /* wall clock at detection */
} vg_anomaly_t;

/* What a store reads back: every slice borrows from the stored bytes and
 * is valid only during the callback that receives it. */
typedef struct {
    vg_str_t id;
    vg_str_t user_id;
    int64_t ts_ms;
    int64_t detected_ms;
    double score;
    uint8_t decision; /* vg_decision */
    uint8_t severity; /* vg_severity */
    vg_tx_t tx;
    uint32_t n_features;
    vg_str_t feature_names[VG_FEATURE_COUNT + 16]; /* self-describing: older records may differ */
    double feature_values[VG_FEATURE_COUNT + 16];
    uint8_t n_reasons;
    vg_reason_t reasons[VG_VERDICT_REASONS_MAX];
} vg_anomaly_rec_t;

#define VG_ANOMALY_MP_VERSION 1  /* first element of the record */
#define VG_ANOMALY_MP_FIELDS  11 /* array length of version 1 */

/* Appends the record's msgpack form: [version 1, id, user_id, ts_ms,
 * detected_ms, score, decision, severity, tx, {feature: value...},
 * [reason...]]. id, user_id and ts_ms are a->tx's; severity is
 * vg_severity_from_score(score), raised to a hit rule's declared severity
 * (verdict->rule_severity); a reason is [detector, feature, value,
 * baseline, threshold, contribution] as in a verdict. a->features may be
 * NULL (empty feature map). */
void vg_anomaly_encode(const vg_anomaly_t *a, vg_mpw_t *w);

/* Decodes a record (zero-copy into buf: rec's slices live as long as buf).
 * Hardened (it reads disk bytes): every count is checked, the tx is
 * validated and must agree with id/user_id/ts_ms, no trailing bytes.
 * Features are kept by name, at most VG_FEATURE_COUNT + 16 (further ones
 * skipped; nil = NaN); reasons beyond VG_VERDICT_REASONS_MAX are skipped;
 * extra trailing array elements (future fields) are skipped. Returns 0,
 * VG_ERR_PARSE (malformed), VG_ERR_INVALID (out of range) or
 * VG_ERR_UNSUPPORTED (other version); err names the field. */
int vg_anomaly_decode(const void *buf, size_t len, vg_anomaly_rec_t *rec, vg_perr_t *err);

/* Appends a decoded record's msgpack form (the same form as
 * vg_anomaly_encode: it decodes back to an equal record). For passing
 * records on (a node answering a gateway's query). */
void vg_anomaly_rec_encode(const vg_anomaly_rec_t *rec, vg_mpw_t *w);

/* ---- result order and paging --------------------------------------------
 * Results are ordered by their key pk = ord64(ts_ms) | id (ord64: the
 * sign bit flipped, big-endian), newest first: unique across a cluster, so
 * one cursor pages through the merged results of many stores. A cursor is
 * base64url(0x01 | pk | fnv1a32(0x01 | pk)): opaque to clients, checked
 * when read back. */
#define VG_ANOMALY_PK_MAX     (8 + VG_TX_ID_MAX)
#define VG_ANOMALY_CURSOR_MAX 128 /* characters, NUL excluded */

/* Writes pk of (ts_ms, id) to out (VG_ANOMALY_PK_MAX bytes); returns its
 * length. id is 0..VG_TX_ID_MAX bytes. */
size_t vg_anomaly_pk(int64_t ts_ms, vg_str_t id, uint8_t *out);
/* Byte order of two keys: -1, 0, 1 (as LMDB's default order). */
int vg_anomaly_pk_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
/* out: VG_ANOMALY_CURSOR_MAX + 1 bytes. pk_len is 9..VG_ANOMALY_PK_MAX. */
void vg_anomaly_cursor_encode(const uint8_t *pk, size_t pk_len, char *out);
/* Reads a cursor back into pk (VG_ANOMALY_PK_MAX bytes); VG_ERR_INVALID
 * when it is malformed or was altered. */
int vg_anomaly_cursor_decode(vg_str_t c, uint8_t *pk, size_t *pk_len);

/* GET /v1/anomalies filters. Newest first (descending event time, then id). */
typedef struct {
    int64_t from_ms;   /* inclusive; INT64_MIN = open */
    int64_t to_ms;     /* exclusive; INT64_MAX = open */
    vg_str_t user_id;  /* ptr NULL = any */
    int min_severity;  /* -1 = any; else vg_severity: this or worse */
    vg_str_t detector; /* ptr NULL = any; else a reason with this detector */
    vg_str_t rule;     /* ptr NULL = any; else a "rule" reason with this feature (rule name) */
    int decision;      /* -1 = any; else vg_decision */
    uint32_t limit;    /* 1..1000 (callers clamp; default 50) */
    vg_str_t cursor;   /* ptr NULL = first page; else an opaque cursor from a previous page */
} vg_anomaly_query_t;

void vg_anomaly_query_init(vg_anomaly_query_t *q);

/* True if rec passes q's filters other than time/cursor/limit. */
bool vg_anomaly_query_match(const vg_anomaly_query_t *q, const vg_anomaly_rec_t *rec);

/* Called once per result; a nonzero return stops the walk, and the call
 * that walks returns that value. */
typedef int(vg_anomaly_fn)(void *arg, const vg_anomaly_rec_t *rec);

/* One trend bucket of GET /v1/stats/anomalies. */
typedef struct {
    int64_t start_ms; /* bucket start (event time) */
    uint64_t total;
    uint64_t by_severity[4];
    uint64_t by_decision[3];
} vg_anomaly_bucket_t;

typedef int(vg_bucket_fn)(void *arg, const vg_anomaly_bucket_t *b);

#endif
