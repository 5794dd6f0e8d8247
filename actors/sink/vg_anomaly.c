/* vg_anomaly.c: severity labels, the anomaly record's msgpack form (the
 * decoder reads bytes from disk, so it trusts nothing: every count and
 * range is checked through vg_mpr_*), and the GET /v1/anomalies filter. */
#include "vg_anomaly.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

static const char *s_severities[] = {"low", "medium", "high", "critical"};

const char *vg_severity_name(int sev)
{
    return sev >= 0 && sev < (int) (sizeof s_severities / sizeof s_severities[0])
               ? s_severities[sev]
               : NULL;
}

int vg_severity_parse(vg_str_t s, vg_severity *out)
{
    for (int i = VG_SEV_LOW; i <= VG_SEV_CRITICAL; i++)
        if (vg_str_eq_c(s, s_severities[i])) {
            *out = (vg_severity) i;
            return 0;
        }
    return VG_ERR_INVALID;
}

vg_severity vg_severity_from_score(double score)
{
    if (!(score >= 0.7)) return VG_SEV_LOW; /* NaN included */
    if (score < 0.85) return VG_SEV_MEDIUM;
    if (score < 0.95) return VG_SEV_HIGH;
    return VG_SEV_CRITICAL;
}

/* ---- msgpack ----------------------------------------------------------- */

/* The record up to and including its transaction (fields 0..8). */
static void s_encode_head(vg_mpw_t *w, const vg_tx_t *tx, int64_t detected_ms, double score,
                          unsigned decision, unsigned severity)
{
    vg_mpw_array(w, VG_ANOMALY_MP_FIELDS);
    vg_mpw_uint(w, VG_ANOMALY_MP_VERSION);
    vg_mpw_ostr(w, tx->id);
    vg_mpw_ostr(w, tx->user_id);
    vg_mpw_int(w, tx->ts_ms);
    vg_mpw_int(w, detected_ms);
    vg_mpw_f64(w, score);
    vg_mpw_uint(w, decision);
    vg_mpw_uint(w, severity);
    vg_tx_encode(tx, w);
}

void vg_anomaly_encode(const vg_anomaly_t *a, vg_mpw_t *w)
{
    const vg_verdict_t *v = a->verdict;
    unsigned sev = vg_severity_from_score(v->score);
    if (v->rule_severity && v->rule_severity - 1u > sev && v->rule_severity - 1u <= VG_SEV_CRITICAL)
        sev = v->rule_severity - 1u; /* a rule declared "severity = high": at least high */
    s_encode_head(w, a->tx, a->detected_ms, v->score, v->decision, sev);
    if (a->features) {
        const double *f = vg_features_array(a->features);
        vg_mpw_map(w, VG_FEATURE_COUNT);
        for (int i = 0; i < VG_FEATURE_COUNT; i++) {
            const char *name = vg_feature_name(i);
            vg_mpw_str(w, name, (uint32_t) strlen(name));
            vg_mpw_f64(w, f[i]);
        }
    } else {
        vg_mpw_map(w, 0);
    }
    vg_mpw_array(w, v->n_reasons);
    for (unsigned i = 0; i < v->n_reasons; i++) vg_reason_encode(&v->reasons[i], w);
}

void vg_anomaly_rec_encode(const vg_anomaly_rec_t *rec, vg_mpw_t *w)
{
    /* the decoder checked that id, user_id and ts_ms are the tx's */
    s_encode_head(w, &rec->tx, rec->detected_ms, rec->score, rec->decision, rec->severity);
    vg_mpw_map(w, rec->n_features);
    for (uint32_t i = 0; i < rec->n_features; i++) {
        vg_mpw_ostr(w, rec->feature_names[i]);
        vg_mpw_f64(w, rec->feature_values[i]);
    }
    vg_mpw_array(w, rec->n_reasons);
    for (unsigned i = 0; i < rec->n_reasons; i++) vg_reason_encode(&rec->reasons[i], w);
}

/* ---- keyset position and cursor ---------------------------------------- */

size_t vg_anomaly_pk(int64_t ts_ms, vg_str_t id, uint8_t *out)
{
    VG_ASSERT(id.len <= VG_TX_ID_MAX);
    uint64_t u = (uint64_t) ts_ms ^ ((uint64_t) 1 << 63);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t) (u >> (56 - 8 * i));
    if (id.len) memcpy(out + 8, id.ptr, id.len);
    return 8 + id.len;
}

int vg_anomaly_pk_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c < 0 ? -1 : 1;
    return alen < blen ? -1 : alen > blen;
}

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#define S_CURSOR_VERSION 1
#define S_CURSOR_BYTES   (1 + VG_ANOMALY_PK_MAX + 4)

static uint32_t s_fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

void vg_anomaly_cursor_encode(const uint8_t *pk, size_t pk_len, char *out)
{
    VG_ASSERT(pk_len > 8 && pk_len <= VG_ANOMALY_PK_MAX);
    uint8_t raw[S_CURSOR_BYTES];
    size_t n = 0, o = 0;
    raw[n++] = S_CURSOR_VERSION;
    memcpy(raw + n, pk, pk_len);
    n += pk_len;
    uint32_t h = s_fnv1a(raw, n);
    for (int i = 3; i >= 0; i--) raw[n++] = (uint8_t) (h >> (8 * i));
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t) raw[i] << 16;
        if (i + 1 < n) v |= (uint32_t) raw[i + 1] << 8;
        if (i + 2 < n) v |= raw[i + 2];
        size_t chars = n - i >= 3 ? 4 : n - i + 1;
        for (size_t j = 0; j < chars; j++) out[o++] = s_b64[(v >> (18 - 6 * j)) & 63];
    }
    out[o] = 0;
}

static int s_b64_value(char c)
{
    const char *p = c ? strchr(s_b64, c) : NULL;
    return p ? (int) (p - s_b64) : -1;
}

int vg_anomaly_cursor_decode(vg_str_t c, uint8_t *pk, size_t *pk_len)
{
    uint8_t raw[S_CURSOR_BYTES + 3];
    size_t n = 0;
    if (c.len == 0 || c.len > VG_ANOMALY_CURSOR_MAX || c.len % 4 == 1) return VG_ERR_INVALID;
    uint32_t acc = 0;
    for (uint32_t i = 0; i < c.len; i++) {
        int v = s_b64_value(c.ptr[i]);
        if (v < 0) return VG_ERR_INVALID;
        acc = acc << 6 | (uint32_t) v;
        if (i % 4 == 3 || i + 1 == c.len) {
            uint32_t chars = i % 4 + 1; /* 2..4 chars -> 1..3 bytes */
            if (acc & ((1u << 2 * (4 - chars)) - 1)) return VG_ERR_INVALID; /* not canonical */
            acc <<= 6 * (4 - chars);
            for (uint32_t j = 0; j < chars - 1; j++) {
                if (n >= sizeof raw) return VG_ERR_INVALID;
                raw[n++] = (uint8_t) (acc >> (16 - 8 * j));
            }
            acc = 0;
        }
    }
    if (n < 1 + 9 + 4 || n > S_CURSOR_BYTES || raw[0] != S_CURSOR_VERSION) return VG_ERR_INVALID;
    uint32_t h = (uint32_t) raw[n - 4] << 24 | (uint32_t) raw[n - 3] << 16 |
                 (uint32_t) raw[n - 2] << 8 | raw[n - 1];
    if (h != s_fnv1a(raw, n - 4)) return VG_ERR_INVALID;
    *pk_len = n - 5;
    memcpy(pk, raw + 1, *pk_len);
    return 0;
}

static int s_bad(vg_perr_t *err, const char *field, const char *why)
{
    return vg_perr_set(err, VG_ERR_INVALID, field, "%s", why);
}

static int s_uint_max(vg_mpr_t *r, uint64_t max, uint8_t *out, const char *field, vg_perr_t *err)
{
    uint64_t u;
    if (vg_mpr_uint(r, &u)) return vg_mpr_perr(r, err, field);
    if (u > max) return s_bad(err, field, "out of range");
    *out = (uint8_t) u;
    return 0;
}

/* A feature value: float, integer or nil (= NaN, "does not apply"). */
static int s_feature_value(vg_mpr_t *r, double *out)
{
    if (vg_mpr_nil(r)) {
        *out = NAN;
        return 0;
    }
    return vg_mpr_f64(r, out);
}

static int s_features(vg_mpr_t *r, vg_anomaly_rec_t *rec, vg_perr_t *err)
{
    uint32_t n;
    if (vg_mpr_map(r, &n)) return vg_mpr_perr(r, err, "features");
    for (uint32_t i = 0; i < n; i++) {
        vg_str_t name;
        double value;
        if (vg_mpr_str(r, &name) || s_feature_value(r, &value))
            return vg_mpr_perr(r, err, "features");
        if (rec->n_features < VG_ARRAY_LEN(rec->feature_names)) {
            rec->feature_names[rec->n_features] = name;
            rec->feature_values[rec->n_features++] = value;
        }
    }
    return 0;
}

/* Keeps at most VG_VERDICT_REASONS_MAX reasons; further ones are checked
 * for shape and skipped. */
static int s_reasons(vg_mpr_t *r, vg_anomaly_rec_t *rec, vg_perr_t *err)
{
    uint32_t n;
    vg_reason_t spare;
    if (vg_mpr_array(r, &n)) return vg_mpr_perr(r, err, "reasons");
    for (uint32_t i = 0; i < n; i++) {
        bool keep = rec->n_reasons < VG_VERDICT_REASONS_MAX;
        int rc = vg_reason_decode(r, keep ? &rec->reasons[rec->n_reasons] : &spare, err);
        if (rc) return rc;
        if (keep) rec->n_reasons++;
    }
    return 0;
}

static int s_header(vg_mpr_t *r, vg_anomaly_rec_t *rec, vg_perr_t *err)
{
    uint64_t version;
    if (vg_mpr_uint(r, &version)) return vg_mpr_perr(r, err, "version");
    if (version != VG_ANOMALY_MP_VERSION)
        return vg_perr_set(err, VG_ERR_UNSUPPORTED, "version", "record version %llu, expected %d",
                           (unsigned long long) version, VG_ANOMALY_MP_VERSION);
    if (vg_mpr_str(r, &rec->id)) return vg_mpr_perr(r, err, "id");
    if (vg_mpr_str(r, &rec->user_id)) return vg_mpr_perr(r, err, "user_id");
    if (vg_mpr_int(r, &rec->ts_ms)) return vg_mpr_perr(r, err, "ts_ms");
    if (vg_mpr_int(r, &rec->detected_ms)) return vg_mpr_perr(r, err, "detected_ms");
    if (vg_mpr_f64(r, &rec->score)) return vg_mpr_perr(r, err, "score");
    if (!(rec->score >= 0 && rec->score <= 1)) return s_bad(err, "score", "must be within 0..1");
    int rc = s_uint_max(r, VG_DECISION_BLOCK, &rec->decision, "decision", err);
    if (!rc) rc = s_uint_max(r, VG_SEV_CRITICAL, &rec->severity, "severity", err);
    return rc;
}

int vg_anomaly_decode(const void *buf, size_t len, vg_anomaly_rec_t *rec, vg_perr_t *err)
{
    vg_mpr_t r;
    uint32_t n;
    memset(rec, 0, offsetof(vg_anomaly_rec_t, tx));
    rec->n_features = 0;
    rec->n_reasons = 0;
    vg_mpr_init(&r, buf, len);
    if (vg_mpr_array(&r, &n)) return vg_mpr_perr(&r, err, "");
    if (n < VG_ANOMALY_MP_FIELDS)
        return vg_perr_set(err, VG_ERR_PARSE, "", "record has %u fields, expected %d", n,
                           VG_ANOMALY_MP_FIELDS);
    int rc = s_header(&r, rec, err);
    if (!rc) {
        vg_perr_t tx_err;
        vg_perr_clear(&tx_err);
        if (vg_tx_decode(&r, &rec->tx, &tx_err))
            return vg_perr_set(err, tx_err.code, "tx", "%s: %s", tx_err.field, tx_err.reason);
    }
    if (!rc && (!vg_str_eq(rec->id, rec->tx.id) || !vg_str_eq(rec->user_id, rec->tx.user_id) ||
                rec->ts_ms != rec->tx.ts_ms))
        rc = s_bad(err, "tx", "does not match the record's id, user_id or ts_ms");
    if (!rc) rc = s_features(&r, rec, err);
    if (!rc) rc = s_reasons(&r, rec, err);
    for (uint32_t i = VG_ANOMALY_MP_FIELDS; !rc && i < n; i++) /* future fields */
        if (vg_mpr_skip(&r)) rc = vg_mpr_perr(&r, err, "");
    if (!rc && vg_mpr_remaining(&r))
        rc = vg_perr_set(err, VG_ERR_PARSE, "", "%zu trailing bytes", vg_mpr_remaining(&r));
    return rc;
}

/* ---- query ------------------------------------------------------------- */

void vg_anomaly_query_init(vg_anomaly_query_t *q)
{
    memset(q, 0, sizeof *q);
    q->from_ms = INT64_MIN;
    q->to_ms = INT64_MAX;
    q->min_severity = -1;
    q->decision = -1;
    q->limit = 50;
}

static bool s_has_reason(const vg_anomaly_rec_t *rec, vg_str_t detector, vg_str_t feature)
{
    for (unsigned i = 0; i < rec->n_reasons; i++) {
        const vg_reason_t *x = &rec->reasons[i];
        if (vg_str_eq(x->detector, detector) && (!feature.ptr || vg_str_eq(x->feature, feature)))
            return true;
    }
    return false;
}

bool vg_anomaly_query_match(const vg_anomaly_query_t *q, const vg_anomaly_rec_t *rec)
{
    if (q->user_id.ptr && !vg_str_eq(rec->user_id, q->user_id)) return false;
    if (q->min_severity >= 0 && rec->severity < q->min_severity) return false;
    if (q->decision >= 0 && rec->decision != q->decision) return false;
    if (q->detector.ptr && !s_has_reason(rec, q->detector, VG_STR_NULL)) return false;
    if (q->rule.ptr && !s_has_reason(rec, VG_STR_LIT("rule"), q->rule)) return false;
    return true;
}
