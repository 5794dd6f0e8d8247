/* vg_mp.c: msgpack writer (shortest form, growing or fixed buffer) and a
 * bounds-checked, zero-copy reader. Spec: https://msgpack.org (format
 * names such as fixarray, uint16, str8 below are the spec's). */
#include "vg_mp.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <string.h>

/* ---- writer ------------------------------------------------------------ */

void vg_mpw_init(vg_mpw_t *w)
{
    memset(w, 0, sizeof *w);
}

void vg_mpw_init_fixed(vg_mpw_t *w, void *buf, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    w->fixed = true;
}

void vg_mpw_fini(vg_mpw_t *w)
{
    if (!w->fixed) free(w->buf);
    memset(w, 0, sizeof *w);
}

static uint8_t *s_reserve(vg_mpw_t *w, size_t n)
{
    if (VG_UNLIKELY(w->err)) return NULL;
    if (VG_UNLIKELY(w->cap - w->len < n)) {
        if (w->fixed) {
            w->err = VG_ERR_TOO_LARGE;
            return NULL;
        }
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) cap *= 2;
        w->buf = vg_realloc(w->buf, cap);
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static inline void s_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static inline void s_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static inline void s_be64(uint8_t *p, uint64_t v)
{
    s_be32(p, (uint32_t) (v >> 32));
    s_be32(p + 4, (uint32_t) v);
}

void vg_mpw_nil(vg_mpw_t *w)
{
    uint8_t *p = s_reserve(w, 1);
    if (p) p[0] = 0xc0;
}

void vg_mpw_bool(vg_mpw_t *w, bool v)
{
    uint8_t *p = s_reserve(w, 1);
    if (p) p[0] = v ? 0xc3 : 0xc2;
}

void vg_mpw_uint(vg_mpw_t *w, uint64_t v)
{
    uint8_t *p;
    if (v < 0x80) {
        if ((p = s_reserve(w, 1))) p[0] = (uint8_t) v;
    } else if (v <= 0xff) {
        if ((p = s_reserve(w, 2))) p[0] = 0xcc, p[1] = (uint8_t) v;
    } else if (v <= 0xffff) {
        if ((p = s_reserve(w, 3))) p[0] = 0xcd, s_be16(p + 1, (uint16_t) v);
    } else if (v <= 0xffffffffu) {
        if ((p = s_reserve(w, 5))) p[0] = 0xce, s_be32(p + 1, (uint32_t) v);
    } else {
        if ((p = s_reserve(w, 9))) p[0] = 0xcf, s_be64(p + 1, v);
    }
}

void vg_mpw_int(vg_mpw_t *w, int64_t v)
{
    uint8_t *p;
    if (v >= 0) {
        vg_mpw_uint(w, (uint64_t) v);
    } else if (v >= -32) {
        if ((p = s_reserve(w, 1))) p[0] = (uint8_t) (int8_t) v;
    } else if (v >= INT8_MIN) {
        if ((p = s_reserve(w, 2))) p[0] = 0xd0, p[1] = (uint8_t) (int8_t) v;
    } else if (v >= INT16_MIN) {
        if ((p = s_reserve(w, 3))) p[0] = 0xd1, s_be16(p + 1, (uint16_t) (int16_t) v);
    } else if (v >= INT32_MIN) {
        if ((p = s_reserve(w, 5))) p[0] = 0xd2, s_be32(p + 1, (uint32_t) (int32_t) v);
    } else {
        if ((p = s_reserve(w, 9))) p[0] = 0xd3, s_be64(p + 1, (uint64_t) v);
    }
}

void vg_mpw_f64(vg_mpw_t *w, double v)
{
    uint8_t *p = s_reserve(w, 9);
    if (!p) return;
    uint64_t bits;
    memcpy(&bits, &v, 8);
    p[0] = 0xcb;
    s_be64(p + 1, bits);
}

/* Header for str/bin/array/map: fix form (if any), then 8/16/32 forms. */
static void s_head(vg_mpw_t *w, uint32_t n, uint8_t fix, uint32_t fixmax, uint8_t m8, uint8_t m16,
                   uint8_t m32)
{
    uint8_t *p;
    if (n <= fixmax) {
        if ((p = s_reserve(w, 1))) p[0] = (uint8_t) (fix | n);
    } else if (m8 && n <= 0xff) {
        if ((p = s_reserve(w, 2))) p[0] = m8, p[1] = (uint8_t) n;
    } else if (n <= 0xffff) {
        if ((p = s_reserve(w, 3))) p[0] = m16, s_be16(p + 1, (uint16_t) n);
    } else {
        if ((p = s_reserve(w, 5))) p[0] = m32, s_be32(p + 1, n);
    }
}

void vg_mpw_str(vg_mpw_t *w, const char *s, uint32_t len)
{
    s_head(w, len, 0xa0, 31, 0xd9, 0xda, 0xdb);
    uint8_t *p = s_reserve(w, len);
    if (p && len) memcpy(p, s, len);
}

void vg_mpw_bin(vg_mpw_t *w, const void *data, uint32_t len)
{
    /* bin has no fix form: fixmax 0 would mean "fix" for n=0, so use 8 */
    uint8_t *p;
    if (len <= 0xff) {
        if ((p = s_reserve(w, 2))) p[0] = 0xc4, p[1] = (uint8_t) len;
    } else {
        s_head(w, len, 0, 0, 0, 0xc5, 0xc6);
    }
    p = s_reserve(w, len);
    if (p && len) memcpy(p, data, len);
}

void vg_mpw_array(vg_mpw_t *w, uint32_t n)
{
    s_head(w, n, 0x90, 15, 0, 0xdc, 0xdd);
}

void vg_mpw_map(vg_mpw_t *w, uint32_t n)
{
    s_head(w, n, 0x80, 15, 0, 0xde, 0xdf);
}

void vg_mpw_raw(vg_mpw_t *w, const void *data, size_t n)
{
    uint8_t *p = s_reserve(w, n);
    if (p && n) memcpy(p, data, n);
}

void vg_mpw_ostr(vg_mpw_t *w, vg_str_t s)
{
    if (s.ptr)
        vg_mpw_str(w, s.ptr, s.len);
    else
        vg_mpw_nil(w);
}

/* ---- reader ------------------------------------------------------------ */

void vg_mpr_init(vg_mpr_t *r, const void *buf, size_t len)
{
    r->p = buf;
    r->end = r->p + len;
    r->err = 0;
    r->reason = NULL;
}

int vg_mpr_fail(vg_mpr_t *r, int err, const char *reason)
{
    if (!r->err) {
        r->err = err;
        r->reason = reason;
    }
    return r->err;
}

int vg_mpr_perr(const vg_mpr_t *r, vg_perr_t *err, const char *field)
{
    return vg_perr_set(err, r->err ? r->err : VG_ERR_PARSE, field, "%s",
                       r->reason ? r->reason : "malformed");
}

static inline uint16_t s_rd16(const uint8_t *p)
{
    return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t s_rd32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static inline uint64_t s_rd64(const uint8_t *p)
{
    return ((uint64_t) s_rd32(p) << 32) | s_rd32(p + 4);
}

vg_mp_type vg_mpr_peek(const vg_mpr_t *r)
{
    if (r->err || r->p >= r->end) return VG_MP_NONE;
    uint8_t b = *r->p;
    if (b <= 0x7f) return VG_MP_UINT;
    if (b <= 0x8f) return VG_MP_MAP;
    if (b <= 0x9f) return VG_MP_ARRAY;
    if (b <= 0xbf) return VG_MP_STR;
    if (b >= 0xe0) return VG_MP_INT;
    switch (b) {
    case 0xc0: return VG_MP_NIL;
    case 0xc2:
    case 0xc3: return VG_MP_BOOL;
    case 0xc4:
    case 0xc5:
    case 0xc6: return VG_MP_BIN;
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: return VG_MP_EXT;
    case 0xca:
    case 0xcb: return VG_MP_FLOAT;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: return VG_MP_UINT;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: return VG_MP_INT;
    case 0xd9:
    case 0xda:
    case 0xdb: return VG_MP_STR;
    case 0xdc:
    case 0xdd: return VG_MP_ARRAY;
    case 0xde:
    case 0xdf: return VG_MP_MAP;
    default: return VG_MP_NONE; /* 0xc1 is never used */
    }
}

/* Takes n bytes or fails as truncated. */
static inline const uint8_t *s_take(vg_mpr_t *r, size_t n)
{
    if (VG_UNLIKELY(r->err)) return NULL;
    if (VG_UNLIKELY((size_t) (r->end - r->p) < n)) {
        vg_mpr_fail(r, VG_ERR_PARSE, "truncated value");
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

bool vg_mpr_nil(vg_mpr_t *r)
{
    if (!r->err && r->p < r->end && *r->p == 0xc0) {
        r->p++;
        return true;
    }
    return false;
}

int vg_mpr_bool(vg_mpr_t *r, bool *out)
{
    if (vg_mpr_peek(r) != VG_MP_BOOL) return vg_mpr_fail(r, VG_ERR_PARSE, "expected a boolean");
    *out = *r->p++ == 0xc3;
    return 0;
}

/* Reads any integer as a sign flag + magnitude. */
static int s_integer(vg_mpr_t *r, bool *neg, uint64_t *mag)
{
    if (r->err) return r->err;
    if (r->p >= r->end) return vg_mpr_fail(r, VG_ERR_PARSE, "truncated value");
    uint8_t b = *r->p;
    const uint8_t *p;
    int64_t s;
    *neg = false;
    *mag = 0;
    if (b <= 0x7f) {
        r->p++;
        *mag = b;
        return 0;
    }
    if (b >= 0xe0) {
        r->p++;
        s = (int8_t) b;
        goto signed_value;
    }
    switch (b) {
    case 0xcc:
        if (!(p = s_take(r, 2))) return r->err;
        *mag = p[1];
        return 0;
    case 0xcd:
        if (!(p = s_take(r, 3))) return r->err;
        *mag = s_rd16(p + 1);
        return 0;
    case 0xce:
        if (!(p = s_take(r, 5))) return r->err;
        *mag = s_rd32(p + 1);
        return 0;
    case 0xcf:
        if (!(p = s_take(r, 9))) return r->err;
        *mag = s_rd64(p + 1);
        return 0;
    case 0xd0:
        if (!(p = s_take(r, 2))) return r->err;
        s = (int8_t) p[1];
        goto signed_value;
    case 0xd1:
        if (!(p = s_take(r, 3))) return r->err;
        s = (int16_t) s_rd16(p + 1);
        goto signed_value;
    case 0xd2:
        if (!(p = s_take(r, 5))) return r->err;
        s = (int32_t) s_rd32(p + 1);
        goto signed_value;
    case 0xd3:
        if (!(p = s_take(r, 9))) return r->err;
        s = (int64_t) s_rd64(p + 1);
        goto signed_value;
    default: return vg_mpr_fail(r, VG_ERR_PARSE, "expected an integer");
    }
signed_value:
    *neg = s < 0;
    *mag = s < 0 ? (uint64_t) 0 - (uint64_t) s : (uint64_t) s;
    return 0;
}

int vg_mpr_uint(vg_mpr_t *r, uint64_t *out)
{
    bool neg = false;
    uint64_t mag = 0;
    const uint8_t *save = r->p;
    if (s_integer(r, &neg, &mag)) return r->err;
    if (neg) {
        r->p = save;
        return vg_mpr_fail(r, VG_ERR_PARSE, "expected a non-negative integer");
    }
    *out = mag;
    return 0;
}

int vg_mpr_u32(vg_mpr_t *r, uint32_t *out)
{
    uint64_t v = 0;
    if (vg_mpr_uint(r, &v)) return r->err;
    if (v > UINT32_MAX) return vg_mpr_fail(r, VG_ERR_PARSE, "integer out of range (uint32)");
    *out = (uint32_t) v;
    return 0;
}

int vg_mpr_int(vg_mpr_t *r, int64_t *out)
{
    bool neg = false;
    uint64_t mag = 0;
    if (s_integer(r, &neg, &mag)) return r->err;
    if (!neg && mag > (uint64_t) INT64_MAX)
        return vg_mpr_fail(r, VG_ERR_PARSE, "integer out of range (int64)");
    *out = neg ? (int64_t) (0 - mag) : (int64_t) mag;
    return 0;
}

int vg_mpr_f64(vg_mpr_t *r, double *out)
{
    if (r->err) return r->err;
    if (r->p < r->end && *r->p == 0xcb) {
        const uint8_t *p = s_take(r, 9);
        if (!p) return r->err;
        uint64_t bits = s_rd64(p + 1);
        memcpy(out, &bits, 8);
        return 0;
    }
    if (r->p < r->end && *r->p == 0xca) {
        const uint8_t *p = s_take(r, 5);
        if (!p) return r->err;
        uint32_t bits = s_rd32(p + 1);
        float f;
        memcpy(&f, &bits, 4);
        *out = f;
        return 0;
    }
    vg_mp_type t = vg_mpr_peek(r);
    if (t != VG_MP_UINT && t != VG_MP_INT) return vg_mpr_fail(r, VG_ERR_PARSE, "expected a number");
    bool neg;
    uint64_t mag;
    if (s_integer(r, &neg, &mag)) return r->err;
    *out = neg ? -(double) mag : (double) mag;
    return 0;
}

/* Reads a str/bin/array/map length for the given 8/16/32 markers. */
static int s_length(vg_mpr_t *r, uint8_t fix_lo, uint8_t fix_hi, uint8_t m8, uint8_t m16,
                    uint8_t m32, uint32_t *n, const char *what)
{
    if (r->err) return r->err;
    if (r->p >= r->end) return vg_mpr_fail(r, VG_ERR_PARSE, "truncated value");
    uint8_t b = *r->p;
    const uint8_t *p;
    if (fix_hi && b >= fix_lo && b <= fix_hi) {
        r->p++;
        *n = (uint32_t) (b - fix_lo);
    } else if (m8 && b == m8) {
        if (!(p = s_take(r, 2))) return r->err;
        *n = p[1];
    } else if (b == m16) {
        if (!(p = s_take(r, 3))) return r->err;
        *n = s_rd16(p + 1);
    } else if (b == m32) {
        if (!(p = s_take(r, 5))) return r->err;
        *n = s_rd32(p + 1);
    } else {
        return vg_mpr_fail(r, VG_ERR_PARSE, what);
    }
    return 0;
}

int vg_mpr_str(vg_mpr_t *r, vg_str_t *out)
{
    uint32_t n;
    if (s_length(r, 0xa0, 0xbf, 0xd9, 0xda, 0xdb, &n, "expected a string")) return r->err;
    const uint8_t *p = s_take(r, n);
    if (!p) return r->err;
    out->ptr = (const char *) p;
    out->len = n;
    return 0;
}

int vg_mpr_bin(vg_mpr_t *r, const uint8_t **ptr, uint32_t *len)
{
    uint32_t n;
    if (s_length(r, 0, 0, 0xc4, 0xc5, 0xc6, &n, "expected binary data")) return r->err;
    const uint8_t *p = s_take(r, n);
    if (!p) return r->err;
    *ptr = p;
    *len = n;
    return 0;
}

int vg_mpr_array(vg_mpr_t *r, uint32_t *n)
{
    if (s_length(r, 0x90, 0x9f, 0, 0xdc, 0xdd, n, "expected an array")) return r->err;
    if (*n > vg_mpr_remaining(r))
        return vg_mpr_fail(r, VG_ERR_PARSE, "array count exceeds the remaining bytes");
    return 0;
}

int vg_mpr_map(vg_mpr_t *r, uint32_t *n)
{
    if (s_length(r, 0x80, 0x8f, 0, 0xde, 0xdf, n, "expected a map")) return r->err;
    if ((uint64_t) *n * 2 > vg_mpr_remaining(r))
        return vg_mpr_fail(r, VG_ERR_PARSE, "map count exceeds the remaining bytes");
    return 0;
}

static int s_skip(vg_mpr_t *r, int depth)
{
    if (depth > VG_MP_MAX_DEPTH) return vg_mpr_fail(r, VG_ERR_LIMIT, "nesting too deep");
    uint32_t n;
    vg_str_t s;
    const uint8_t *bp;
    uint64_t u;
    int64_t i;
    double d;
    switch (vg_mpr_peek(r)) {
    case VG_MP_NIL: r->p++; return 0;
    case VG_MP_BOOL: r->p++; return 0;
    case VG_MP_UINT: return vg_mpr_uint(r, &u);
    case VG_MP_INT: return vg_mpr_int(r, &i);
    case VG_MP_FLOAT: return vg_mpr_f64(r, &d);
    case VG_MP_STR: return vg_mpr_str(r, &s);
    case VG_MP_BIN: return vg_mpr_bin(r, &bp, &n);
    case VG_MP_ARRAY:
        if (vg_mpr_array(r, &n)) return r->err;
        while (n--)
            if (s_skip(r, depth + 1)) return r->err;
        return 0;
    case VG_MP_MAP:
        if (vg_mpr_map(r, &n)) return r->err;
        while (n--)
            if (s_skip(r, depth + 1) || s_skip(r, depth + 1)) return r->err;
        return 0;
    case VG_MP_EXT: {
        uint8_t b = *r->p;
        static const uint8_t fixext[] = {1, 2, 4, 8, 16};
        if (b >= 0xd4 && b <= 0xd8) return s_take(r, 2u + fixext[b - 0xd4]) ? 0 : r->err;
        if (s_length(r, 0, 0, 0xc7, 0xc8, 0xc9, &n, "expected ext")) return r->err;
        return s_take(r, 1u + (size_t) n) ? 0 : r->err;
    }
    case VG_MP_NONE:
    default:
        if (r->err) return r->err;
        if (r->p >= r->end) return vg_mpr_fail(r, VG_ERR_PARSE, "truncated value");
        return vg_mpr_fail(r, VG_ERR_PARSE, "invalid msgpack type byte 0xc1");
    }
}

int vg_mpr_skip(vg_mpr_t *r)
{
    return s_skip(r, 0);
}
