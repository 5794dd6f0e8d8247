/* vg_alert_rec.c: the stored alert record (msgpack, format in
 * vg_alert_internal.h), the keys of the alert env, alert ids, the dedup
 * reason key and the retry backoff. Pure code. */
#include "vg_alert_internal.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void vg__be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t) v;
}

uint64_t vg__rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

void vg__ord64(uint8_t *p, int64_t v)
{
    vg__be64(p, (uint64_t) v ^ ((uint64_t) 1 << 63));
}

int64_t vg__rdord64(const uint8_t *p)
{
    uint64_t u = vg__rd64(p) ^ ((uint64_t) 1 << 63);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* ---- record --------------------------------------------------------------- */

void vg__alert_encode(const vg__alert_t *al, vg_mpw_t *w)
{
    vg_mpw_array(w, VG__ALERT_REC_FIELDS);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, al->seq);
    vg_mpw_str(w, al->channel.ptr, al->channel.len);
    vg_mpw_uint(w, al->status);
    vg_mpw_int(w, al->created_ms);
    vg_mpw_int(w, al->updated_ms);
    vg_mpw_int(w, al->first_ms);
    vg_mpw_int(w, al->last_ms);
    vg_mpw_uint(w, al->count);
    vg_mpw_uint(w, al->count_sent);
    vg_mpw_uint(w, al->attempts);
    vg_mpw_int(w, al->next_at_ms);
    vg_mpw_int(w, al->delivered_ms);
    vg_mpw_ostr(w, al->last_error);
    vg_mpw_str(w, al->reason.ptr, al->reason.len);
    vg_mpw_str(w, al->last_anomaly_id.ptr, al->last_anomaly_id.len);
    vg_mpw_uint(w, al->repeats_before);
    vg_mpw_ostr(w, al->digest);
    vg_mpw_bin(w, al->anomaly.ptr, al->anomaly.len);
}

static int s_ostr(vg_mpr_t *r, vg_str_t *s)
{
    if (vg_mpr_nil(r)) {
        *s = VG_STR_NULL;
        return 0;
    }
    return vg_mpr_str(r, s);
}

int vg__alert_decode(const void *buf, size_t len, vg__alert_t *al)
{
    vg_mpr_t r;
    vg_mpr_init(&r, buf, len);
    memset(al, 0, sizeof *al);
    uint32_t n = 0, status = 0;
    uint64_t version = 0;
    vg_mpr_array(&r, &n);
    vg_mpr_uint(&r, &version);
    if (r.err || n < VG__ALERT_REC_FIELDS || version != 1) return VG_ERR_PARSE;
    vg_mpr_uint(&r, &al->seq);
    vg_mpr_str(&r, &al->channel);
    vg_mpr_u32(&r, &status);
    vg_mpr_int(&r, &al->created_ms);
    vg_mpr_int(&r, &al->updated_ms);
    vg_mpr_int(&r, &al->first_ms);
    vg_mpr_int(&r, &al->last_ms);
    vg_mpr_u32(&r, &al->count);
    vg_mpr_u32(&r, &al->count_sent);
    vg_mpr_u32(&r, &al->attempts);
    vg_mpr_int(&r, &al->next_at_ms);
    vg_mpr_int(&r, &al->delivered_ms);
    s_ostr(&r, &al->last_error);
    vg_mpr_str(&r, &al->reason);
    vg_mpr_str(&r, &al->last_anomaly_id);
    vg_mpr_u32(&r, &al->repeats_before);
    s_ostr(&r, &al->digest);
    const uint8_t *p = NULL;
    uint32_t plen = 0;
    vg_mpr_bin(&r, &p, &plen);
    for (uint32_t i = VG__ALERT_REC_FIELDS; i < n && !r.err; i++) vg_mpr_skip(&r);
    if (r.err || status > VG_ALERT_DEAD || al->channel.len == 0 ||
        al->channel.len > VG__ALERT_NAME_MAX)
        return VG_ERR_PARSE;
    al->status = (uint8_t) status;
    al->anomaly = (vg_str_t){(const char *) p, plen};
    return 0;
}

/* ---- keys ----------------------------------------------------------------- */

size_t vg__key_chan(uint8_t *buf, vg_str_t channel)
{
    VG_ASSERT(channel.len <= VG__ALERT_NAME_MAX);
    buf[0] = (uint8_t) channel.len;
    memcpy(buf + 1, channel.ptr, channel.len);
    return 1 + channel.len;
}

size_t vg__key_due(uint8_t *buf, vg_str_t channel, int64_t next_at, uint64_t seq)
{
    size_t n = vg__key_chan(buf, channel);
    vg__ord64(buf + n, next_at);
    vg__be64(buf + n + 8, seq);
    return n + 16;
}

size_t vg__key_held(uint8_t *buf, vg_str_t channel, uint64_t seq)
{
    size_t n = vg__key_chan(buf, channel);
    vg__be64(buf + n, seq);
    return n + 8;
}

size_t vg__key_status(uint8_t *buf, int status, uint64_t seq)
{
    buf[0] = (uint8_t) status;
    vg__be64(buf + 1, seq);
    return 9;
}

size_t vg__key_dedup(uint8_t *buf, vg_str_t channel, vg_str_t user, vg_str_t reason)
{
    size_t n = vg__key_chan(buf, channel);
    uint32_t ul = VG_MIN(user.len, (uint32_t) VG_TX_ID_MAX);
    uint32_t rl = VG_MIN(reason.len, (uint32_t) VG__ALERT_REASON_MAX);
    buf[n++] = (uint8_t) ul;
    memcpy(buf + n, user.ptr, ul);
    n += ul;
    memcpy(buf + n, reason.ptr, rl);
    return n + rl;
}

/* ---- ids, reasons, backoff -------------------------------------------------- */

void vg__alert_id(char *buf, uint32_t node, uint64_t seq)
{
    snprintf(buf, VG_ALERT_ID_MAX + 1, "%" PRIu32 "-%" PRIu64, node, seq);
}

static int s_parse_u64(const char *p, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20 || (n > 1 && p[0] == '0')) return VG_ERR_INVALID;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return VG_ERR_INVALID;
        unsigned d = (unsigned) (p[i] - '0');
        if (v > (max - d) / 10) return VG_ERR_INVALID;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int vg__alert_id_parse(vg_str_t id, uint32_t *node, uint64_t *seq)
{
    const char *dash = id.ptr ? memchr(id.ptr, '-', id.len) : NULL;
    if (!dash) return VG_ERR_INVALID;
    size_t nl = (size_t) (dash - id.ptr);
    uint64_t n64, s64;
    if (s_parse_u64(id.ptr, nl, UINT32_MAX, &n64) ||
        s_parse_u64(dash + 1, id.len - nl - 1, UINT64_MAX, &s64) || s64 == 0)
        return VG_ERR_INVALID;
    *node = (uint32_t) n64;
    *seq = s64;
    return 0;
}

size_t vg__alert_reason_key(const vg_anomaly_rec_t *rec, char *buf)
{
    const vg_reason_t *top = NULL;
    for (unsigned i = 0; i < rec->n_reasons; i++)
        if (!top || rec->reasons[i].contribution > top->contribution) top = &rec->reasons[i];
    if (!top) {
        memcpy(buf, "score", 5);
        return 5;
    }
    size_t n = 0;
    size_t dl = VG_MIN(top->detector.len, (uint32_t) VG__ALERT_REASON_MAX);
    if (dl) memcpy(buf, top->detector.ptr, dl);
    n = dl;
    if (n < VG__ALERT_REASON_MAX) buf[n++] = ':';
    size_t fl = VG_MIN(top->feature.len, (uint32_t) (VG__ALERT_REASON_MAX - n));
    if (fl) memcpy(buf + n, top->feature.ptr, fl);
    return n + fl;
}

int64_t vg__alert_backoff(const vg_alert_routing_t *r, uint32_t attempt)
{
    int64_t d = r->retry_base_ms;
    for (uint32_t i = 1; i < attempt && d < r->retry_max_ms; i++) d *= 2;
    if (d > r->retry_max_ms) d = r->retry_max_ms;
    if (d < 2) return d;
    int64_t half = d / 2;
    return half + (int64_t) vg__alert_random((uint32_t) VG_MIN(half + 1, (int64_t) UINT32_MAX));
}
