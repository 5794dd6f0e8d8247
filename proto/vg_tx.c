/* vg_tx.c: transaction validation (the schema table of ARCHITECTURE.md),
 * msgpack encode/decode, shard function and timestamp handling. */
#include "vg_tx.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <arpa/inet.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

void vg_tx_init(vg_tx_t *tx)
{
    memset(tx, 0, offsetof(vg_tx_t, attrs));
    tx->amount = NAN;
    tx->ts_ms = INT64_MIN;
    tx->lat = NAN;
    tx->lon = NAN;
}

uint32_t vg_shard_of(vg_str_t user_id, uint32_t n_shards)
{
    VG_ASSERT(n_shards > 0);
    return (uint32_t) (XXH64(user_id.ptr, user_id.len, 0) % n_shards);
}

/* ---- UTF-8 ------------------------------------------------------------- */

bool vg_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *) str, *end = s + len;
    while (s < end) {
        /* fast path: 8 ASCII bytes at a time */
        while (end - s >= 8) {
            uint64_t v;
            memcpy(&v, s, 8);
            if (v & 0x8080808080808080ull) break;
            s += 8;
        }
        if (s >= end) break;
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0)
            n = 2, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            n = 3, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
            n = 4, cp = c & 0x07, min = 0x10000;
        else
            return false;
        if ((size_t) (end - s) < n) return false;
        for (size_t i = 1; i < n; i++) {
            if ((s[i] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        s += n;
    }
    return true;
}

/* ---- timestamps -------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t s_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned) (y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

static void s_civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned) (z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int) ((int64_t) yoe + era * 400 + (*m <= 2));
}

static int s_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static unsigned s_days_in_month(int y, int m)
{
    static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

int vg_ts_parse_rfc3339(const char *s, size_t len, int64_t *ms_out)
{
    /* YYYY-MM-DDTHH:MM:SS = 19 chars, then [.frac] then Z | +hh:mm */
    if (len < 20 || len > 40) return VG_ERR_INVALID;
    if (s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':') return VG_ERR_INVALID;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return VG_ERR_INVALID;
    int y = s_digits(s, 4), mo = s_digits(s + 5, 2), d = s_digits(s + 8, 2);
    int h = s_digits(s + 11, 2), mi = s_digits(s + 14, 2), sec = s_digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60)
        return VG_ERR_INVALID;
    if ((unsigned) d > s_days_in_month(y, mo)) return VG_ERR_INVALID;
    if (sec == 60) sec = 59; /* leap second: clamp (RFC 3339 5.7) */
    size_t i = 19;
    int ms = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) ms = ms * 10 + (s[i] - '0');
            i++;
        }
        size_t nd = i - start;
        if (nd == 0 || nd > 9) return VG_ERR_INVALID;
        for (size_t k = nd; k < 3; k++) ms *= 10;
    }
    int offset_min = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = s_digits(s + i + 1, 2), om = s_digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59) return VG_ERR_INVALID;
        offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return VG_ERR_INVALID;
    }
    if (i != len) return VG_ERR_INVALID;
    int64_t days = s_days_from_civil(y, (unsigned) mo, (unsigned) d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    *ms_out = secs * 1000 + ms;
    return 0;
}

void vg_ts_format(int64_t ms, char *buf)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int) (ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int sod = (int) (secs - days * 86400);
    int y;
    unsigned m, d;
    s_civil_from_days(days, &y, &m, &d);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y % 10000, m % 13, d % 32,
             sod / 3600, sod / 60 % 60, sod % 60, msec);
    memcpy(buf, tmp, 25);
    buf[24] = 0;
}

/* ---- validation -------------------------------------------------------- */

static bool s_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z') return false;
    return s[n] == 0;
}

static int s_check_str(vg_str_t v, const char *field, uint32_t min, uint32_t max, bool required,
                       vg_perr_t *err)
{
    if (!v.ptr) {
        if (required) return vg_perr_set(err, VG_ERR_INVALID, field, "required");
        return 0;
    }
    if (v.len < min || v.len > max) {
        if (v.len == 0 && !required)
            return vg_perr_set(err, VG_ERR_INVALID, field,
                               "must not be empty (omit the field or send null)");
        return vg_perr_set(err, VG_ERR_INVALID, field, "must be %u to %u bytes long (got %u)", min,
                           max, v.len);
    }
    if (!vg_utf8_valid(v.ptr, v.len))
        return vg_perr_set(err, VG_ERR_INVALID, field, "must be valid UTF-8");
    return 0;
}

static int s_check_ip(vg_str_t ip, vg_perr_t *err)
{
    if (!ip.ptr) return 0;
    char buf[VG_TX_IP_MAX + 1];
    unsigned char addr[16];
    if (ip.len == 0 || ip.len > VG_TX_IP_MAX)
        return vg_perr_set(err, VG_ERR_INVALID, "ip", "must be an IPv4 or IPv6 address");
    memcpy(buf, ip.ptr, ip.len);
    buf[ip.len] = 0;
    if (inet_pton(AF_INET, buf, addr) != 1 && inet_pton(AF_INET6, buf, addr) != 1)
        return vg_perr_set(err, VG_ERR_INVALID, "ip", "must be an IPv4 or IPv6 address");
    return 0;
}

static int s_check_geo(const vg_tx_t *tx, vg_perr_t *err)
{
    bool has_lat = tx->lat == tx->lat, has_lon = tx->lon == tx->lon;
    if (has_lat != has_lon)
        return vg_perr_set(err, VG_ERR_INVALID, has_lat ? "lon" : "lat",
                           "required when %s is given", has_lat ? "lat" : "lon");
    if (has_lat && !(tx->lat >= -90.0 && tx->lat <= 90.0))
        return vg_perr_set(err, VG_ERR_INVALID, "lat", "must be between -90 and 90");
    if (has_lon && !(tx->lon >= -180.0 && tx->lon <= 180.0))
        return vg_perr_set(err, VG_ERR_INVALID, "lon", "must be between -180 and 180");
    return 0;
}

static int s_attr_fail(const vg_tx_attr_t *a, vg_perr_t *err, const char *reason)
{
    char field[96];
    snprintf(field, sizeof field, "attributes.%.*s", (int) VG_MIN(a->key.len, 64u), a->key.ptr);
    return vg_perr_set(err, VG_ERR_INVALID, field, "%s", reason);
}

static int s_check_attrs(const vg_tx_t *tx, vg_perr_t *err)
{
    if (tx->n_attrs > VG_TX_ATTR_MAX)
        return vg_perr_set(err, VG_ERR_INVALID, "attributes", "at most %d entries", VG_TX_ATTR_MAX);
    for (unsigned i = 0; i < tx->n_attrs; i++) {
        const vg_tx_attr_t *a = &tx->attrs[i];
        if (a->key.len == 0 || a->key.len > VG_TX_ATTR_KEY_MAX ||
            !vg_utf8_valid(a->key.ptr, a->key.len))
            return vg_perr_set(err, VG_ERR_INVALID, "attributes",
                               "keys must be 1 to %d bytes of UTF-8", VG_TX_ATTR_KEY_MAX);
        for (unsigned j = 0; j < i; j++)
            if (vg_str_eq(tx->attrs[j].key, a->key)) return s_attr_fail(a, err, "duplicate key");
        if (a->kind == VG_ATTR_NUM && !isfinite(a->num))
            return s_attr_fail(a, err, "must be a finite number");
        if (a->kind == VG_ATTR_STR &&
            (a->str.len > VG_TX_ATTR_STR_MAX || !vg_utf8_valid(a->str.ptr, a->str.len)))
            return s_attr_fail(a, err, "must be at most 256 bytes of UTF-8");
        if (a->kind != VG_ATTR_NUM && a->kind != VG_ATTR_STR)
            return s_attr_fail(a, err, "must be a string or a number");
    }
    return 0;
}

int vg_tx_validate(const vg_tx_t *tx, vg_perr_t *err)
{
    if (s_check_str(tx->id, "id", 1, VG_TX_ID_MAX, true, err) ||
        s_check_str(tx->user_id, "user_id", 1, VG_TX_ID_MAX, true, err))
        return VG_ERR_INVALID;
    if (tx->amount != tx->amount) return vg_perr_set(err, VG_ERR_INVALID, "amount", "required");
    if (!isfinite(tx->amount) || tx->amount < 0 || tx->amount > VG_TX_AMOUNT_MAX)
        return vg_perr_set(err, VG_ERR_INVALID, "amount",
                           "must be a finite number >= 0 and <= 1e15");
    if (!tx->currency[0]) return vg_perr_set(err, VG_ERR_INVALID, "currency", "required");
    if (!s_upper(tx->currency, 3))
        return vg_perr_set(err, VG_ERR_INVALID, "currency",
                           "must be 3 upper-case letters (ISO 4217)");
    if (tx->ts_ms == INT64_MIN) return vg_perr_set(err, VG_ERR_INVALID, "timestamp", "required");
    if (tx->ts_ms < 0 || tx->ts_ms > VG_TX_TS_MAX)
        return vg_perr_set(err, VG_ERR_INVALID, "timestamp",
                           "must be between 1970-01-01 and 9999-12-31");
    if (tx->country[0] && !s_upper(tx->country, 2))
        return vg_perr_set(err, VG_ERR_INVALID, "country",
                           "must be 2 upper-case letters (ISO 3166-1 alpha-2)");
    if (s_check_str(tx->merchant_id, "merchant_id", 1, VG_TX_STR_MAX, false, err) ||
        s_check_str(tx->merchant_category, "merchant_category", 1, VG_TX_STR_MAX, false, err) ||
        s_check_str(tx->channel, "channel", 1, VG_TX_STR_MAX, false, err) ||
        s_check_str(tx->device_id, "device_id", 1, VG_TX_STR_MAX, false, err))
        return VG_ERR_INVALID;
    if (s_check_ip(tx->ip, err) || s_check_geo(tx, err) || s_check_attrs(tx, err))
        return VG_ERR_INVALID;
    return 0;
}

/* ---- msgpack ----------------------------------------------------------- */

static void s_enc_fixed(vg_mpw_t *w, const char *s)
{
    if (s[0])
        vg_mpw_str(w, s, (uint32_t) strlen(s));
    else
        vg_mpw_nil(w);
}

static void s_enc_geo(vg_mpw_t *w, double v)
{
    if (v == v)
        vg_mpw_f64(w, v);
    else
        vg_mpw_nil(w);
}

void vg_tx_encode(const vg_tx_t *tx, vg_mpw_t *w)
{
    vg_mpw_array(w, VG_TX_MP_FIELDS);
    vg_mpw_ostr(w, tx->id);
    vg_mpw_ostr(w, tx->user_id);
    vg_mpw_f64(w, tx->amount);
    s_enc_fixed(w, tx->currency);
    vg_mpw_int(w, tx->ts_ms);
    vg_mpw_ostr(w, tx->merchant_id);
    vg_mpw_ostr(w, tx->merchant_category);
    s_enc_fixed(w, tx->country);
    vg_mpw_ostr(w, tx->channel);
    vg_mpw_ostr(w, tx->device_id);
    vg_mpw_ostr(w, tx->ip);
    s_enc_geo(w, tx->lat);
    s_enc_geo(w, tx->lon);
    if (tx->n_attrs) {
        vg_mpw_map(w, tx->n_attrs);
        for (unsigned i = 0; i < tx->n_attrs; i++) {
            const vg_tx_attr_t *a = &tx->attrs[i];
            vg_mpw_str(w, a->key.ptr, a->key.len);
            if (a->kind == VG_ATTR_NUM)
                vg_mpw_f64(w, a->num);
            else
                vg_mpw_str(w, a->str.ptr, a->str.len);
        }
    } else {
        vg_mpw_nil(w);
    }
    vg_mpw_int(w, tx->ingest_ms);
}

static int s_dec_ostr(vg_mpr_t *r, vg_str_t *out, const char *field, vg_perr_t *err)
{
    if (vg_mpr_nil(r)) {
        *out = VG_STR_NULL;
        return 0;
    }
    return vg_mpr_str(r, out) ? vg_mpr_perr(r, err, field) : 0;
}

static int s_dec_code(vg_mpr_t *r, char *out, uint32_t n, const char *field, vg_perr_t *err)
{
    vg_str_t s;
    if (vg_mpr_nil(r)) {
        out[0] = 0;
        return 0;
    }
    if (vg_mpr_str(r, &s)) return vg_mpr_perr(r, err, field);
    if (s.len != n)
        return vg_perr_set(err, VG_ERR_INVALID, field, "must be %u upper-case letters", n);
    memcpy(out, s.ptr, n);
    out[n] = 0;
    return 0;
}

static int s_dec_geo(vg_mpr_t *r, double *out, const char *field, vg_perr_t *err)
{
    if (vg_mpr_nil(r)) {
        *out = NAN;
        return 0;
    }
    return vg_mpr_f64(r, out) ? vg_mpr_perr(r, err, field) : 0;
}

static int s_dec_attrs(vg_mpr_t *r, vg_tx_t *tx, vg_perr_t *err)
{
    uint32_t n;
    tx->n_attrs = 0;
    if (vg_mpr_nil(r)) return 0;
    if (vg_mpr_map(r, &n)) return vg_mpr_perr(r, err, "attributes");
    if (n > VG_TX_ATTR_MAX)
        return vg_perr_set(err, VG_ERR_INVALID, "attributes", "at most %d entries", VG_TX_ATTR_MAX);
    for (uint32_t i = 0; i < n; i++) {
        vg_tx_attr_t *a = &tx->attrs[i];
        if (vg_mpr_str(r, &a->key)) return vg_mpr_perr(r, err, "attributes");
        vg_mp_type t = vg_mpr_peek(r);
        if (t == VG_MP_STR) {
            a->kind = VG_ATTR_STR;
            if (vg_mpr_str(r, &a->str)) return vg_mpr_perr(r, err, "attributes");
        } else if (t == VG_MP_FLOAT || t == VG_MP_UINT || t == VG_MP_INT) {
            a->kind = VG_ATTR_NUM;
            a->str = VG_STR_NULL;
            if (vg_mpr_f64(r, &a->num)) return vg_mpr_perr(r, err, "attributes");
        } else {
            return vg_perr_set(err, VG_ERR_INVALID, "attributes",
                               "values must be strings or numbers");
        }
    }
    tx->n_attrs = (uint8_t) n;
    return 0;
}

int vg_tx_decode(vg_mpr_t *r, vg_tx_t *tx, vg_perr_t *err)
{
    uint32_t n;
    vg_tx_init(tx);
    if (vg_mpr_array(r, &n)) return vg_mpr_perr(r, err, "");
    if (n < VG_TX_MP_FIELDS)
        return vg_perr_set(err, VG_ERR_PARSE, "", "transaction has %u fields, expected %d", n,
                           VG_TX_MP_FIELDS);
    int rc = s_dec_ostr(r, &tx->id, "id", err);
    if (!rc) rc = s_dec_ostr(r, &tx->user_id, "user_id", err);
    if (!rc && vg_mpr_f64(r, &tx->amount)) rc = vg_mpr_perr(r, err, "amount");
    if (!rc) rc = s_dec_code(r, tx->currency, 3, "currency", err);
    if (!rc && vg_mpr_int(r, &tx->ts_ms)) rc = vg_mpr_perr(r, err, "timestamp");
    if (!rc) rc = s_dec_ostr(r, &tx->merchant_id, "merchant_id", err);
    if (!rc) rc = s_dec_ostr(r, &tx->merchant_category, "merchant_category", err);
    if (!rc) rc = s_dec_code(r, tx->country, 2, "country", err);
    if (!rc) rc = s_dec_ostr(r, &tx->channel, "channel", err);
    if (!rc) rc = s_dec_ostr(r, &tx->device_id, "device_id", err);
    if (!rc) rc = s_dec_ostr(r, &tx->ip, "ip", err);
    if (!rc) rc = s_dec_geo(r, &tx->lat, "lat", err);
    if (!rc) rc = s_dec_geo(r, &tx->lon, "lon", err);
    if (!rc) rc = s_dec_attrs(r, tx, err);
    if (!rc && vg_mpr_int(r, &tx->ingest_ms)) rc = vg_mpr_perr(r, err, "ingest_ms");
    for (uint32_t i = VG_TX_MP_FIELDS; !rc && i < n; i++)
        if (vg_mpr_skip(r)) rc = vg_mpr_perr(r, err, "");
    return rc ? rc : vg_tx_validate(tx, err);
}
