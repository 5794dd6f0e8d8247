/* vg_jw.c: JSON writer. */
#include "vg_jw.h"

#include "vg_mem.h"
#include "vg_tx.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void vg_jw_init(vg_jw_t *w)
{
    memset(w, 0, sizeof *w);
}

void vg_jw_reset(vg_jw_t *w)
{
    w->len = 0;
    w->depth = 0;
    w->need_comma[0] = false;
}

void vg_jw_fini(vg_jw_t *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static void s_grow(vg_jw_t *w, size_t n)
{
    size_t cap = w->cap ? w->cap : 1024;
    while (cap - w->len < n + 1) cap *= 2;
    w->buf = vg_realloc(w->buf, cap);
    w->cap = cap;
}

static inline char *s_reserve(vg_jw_t *w, size_t n)
{
    if (VG_UNLIKELY(w->cap - w->len < n + 1)) s_grow(w, n);
    char *p = w->buf + w->len;
    w->len += n;
    w->buf[w->len] = 0; /* always NUL-terminated for convenience */
    return p;
}

static inline void s_put(vg_jw_t *w, const char *s, size_t n)
{
    memcpy(s_reserve(w, n), s, n);
}

/* Comma before a value (not after a key). */
static void s_value(vg_jw_t *w)
{
    if (w->need_comma[w->depth]) s_put(w, ",", 1);
    w->need_comma[w->depth] = true;
}

static void s_open(vg_jw_t *w, char c)
{
    s_value(w);
    s_put(w, &c, 1);
    VG_ASSERT(w->depth < VG_JW_MAX_DEPTH);
    w->need_comma[++w->depth] = false;
}

static void s_close(vg_jw_t *w, char c)
{
    VG_ASSERT(w->depth > 0);
    w->depth--;
    s_put(w, &c, 1);
}

void vg_jw_obj_begin(vg_jw_t *w)
{
    s_open(w, '{');
}

void vg_jw_obj_end(vg_jw_t *w)
{
    s_close(w, '}');
}

void vg_jw_arr_begin(vg_jw_t *w)
{
    s_open(w, '[');
}

void vg_jw_arr_end(vg_jw_t *w)
{
    s_close(w, ']');
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t s_utf8_seq(const unsigned char *s, size_t avail)
{
    size_t n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (s[0] < 0xc2 || s[0] > 0xf4 || n > avail) return 0;
    return vg_utf8_valid((const char *) s, n) ? n : 0;
}

static void s_escaped(vg_jw_t *w, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *) str;
    size_t i = 0;
    while (i < len && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\') i++;
    if (i == len) { /* nothing to escape: the common case */
        char *p = s_reserve(w, len + 2);
        p[0] = '"';
        memcpy(p + 1, str, len);
        p[len + 1] = '"';
        return;
    }
    s_put(w, "\"", 1);
    s_put(w, str, i);
    while (i < len) {
        size_t run = i;
        while (run < len && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) s_put(w, str + i, run - i);
        i = run;
        if (i >= len) break;
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t n = s_utf8_seq(s + i, len - i);
            if (n)
                s_put(w, str + i, n), i += n;
            else
                s_put(w, "\xef\xbf\xbd", 3), i++;
            continue;
        }
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"')
            s_put(w, "\\\"", 2);
        else if (c == '\\')
            s_put(w, "\\\\", 2);
        else if (c == '\n')
            s_put(w, "\\n", 2);
        else if (c == '\r')
            s_put(w, "\\r", 2);
        else if (c == '\t')
            s_put(w, "\\t", 2);
        else
            s_put(w, esc, 6);
        i++;
    }
    s_put(w, "\"", 1);
}

void vg_jw_key(vg_jw_t *w, const char *key)
{
    s_value(w);
    s_escaped(w, key, strlen(key));
    s_put(w, ":", 1);
    w->need_comma[w->depth] = false; /* the value follows without a comma */
}

void vg_jw_str(vg_jw_t *w, vg_str_t s)
{
    if (!s.ptr) {
        vg_jw_null(w);
        return;
    }
    s_value(w);
    s_escaped(w, s.ptr, s.len);
    w->need_comma[w->depth] = true;
}

void vg_jw_cstr(vg_jw_t *w, const char *s)
{
    vg_jw_str(w, s ? vg_str_c(s) : VG_STR_NULL);
}

static void s_scalar(vg_jw_t *w, const char *text, size_t n)
{
    s_value(w);
    s_put(w, text, n);
    w->need_comma[w->depth] = true;
}

/* ---- numbers ------------------------------------------------------------------
 * vg_jw_num's text is defined by printf: an integer below 1e15 as "%.0f",
 * anything else as "%.15g" when that reads back as the same double, else
 * "%.17g". The common cases are formatted here without printf, to the
 * same bytes: integers by hand, and the non-integers of 1e-5 <= |v| < 1e15
 * by exact arithmetic on v = m * 2^-s (m < 2^53, 3 <= s <= 69): v * 10^p
 * = m * 10^p / 2^s, which fits 128 bits for the p of 15 and 17 digits. */

typedef unsigned __int128 s_u128;

/* clang-format off */
static const uint64_t s_pow10[20] = {
    1ull, 10ull, 100ull, 1000ull,
    10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull,
    1000000000000ull, 10000000000000ull, 100000000000000ull, 1000000000000000ull,
    10000000000000000ull, 100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};
/* clang-format on */

/* The decimal digits of u into out (no NUL), two at a time; returns their
 * count. */
static size_t s_utoa(uint64_t u, char *out)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
                                "31323334353637383940414243444546474849505152535455565758596061"
                                "62636465666768697071727374757677787980818283848586878889909192"
                                "93949596979899";
    char tmp[20], *p = tmp + sizeof tmp;
    while (u >= 100) {
        const char *d = pairs + 2 * (u % 100);
        u /= 100;
        *--p = d[1];
        *--p = d[0];
    }
    if (u >= 10) {
        *--p = pairs[2 * u + 1];
        *--p = pairs[2 * u];
    } else {
        *--p = (char) ('0' + u);
    }
    size_t n = (size_t) (tmp + sizeof tmp - p);
    memcpy(out, p, n);
    return n;
}

/* "%.0f" of an integer-valued v, |v| < 1e15 ("-0" for -0.0). */
static size_t s_num_int(double v, char *out)
{
    size_t n = 0;
    if (signbit(v)) out[n++] = '-';
    return n + s_utoa((uint64_t) fabs(v), out + n);
}

/* |v| = m * 10^-p / 2^s rounded to prec digits, half to even as printf
 * does: the digits (10^(prec-1) <= *digits < 10^prec), the decimal
 * exponent of the first one, and whether they read back as v (strtod: the
 * nearest double, ties to the even mantissa). */
typedef struct {
    uint64_t digits;
    int exp;
    bool exact;
} s_dec_t;

static s_dec_t s_round(uint64_t m, int s, int exp, int prec)
{
    int p = prec - 1 - exp; /* 0..21 */
    s_u128 x = (s_u128) m * s_pow10[p > 19 ? 19 : p];
    if (p > 19) x *= s_pow10[p - 19];
    s_u128 mask = ((s_u128) 1 << s) - 1, half = (s_u128) 1 << (s - 1);
    uint64_t q = (uint64_t) (x >> s);
    s_u128 r = x & mask;
    if (r > half || (r == half && (q & 1))) q++;
    /* q * 10^-p read back: within half a unit in the last place of v (a
     * quarter below a power of two); a tie goes to the even mantissa */
    s_u128 qs = (s_u128) q << s, diff = qs > x ? qs - x : x - qs;
    s_u128 ulp = p > 19 ? (s_u128) s_pow10[19] * s_pow10[p - 19] : s_pow10[p];
    bool pow2_below = qs < x && m == ((uint64_t) 1 << 52);
    s_u128 d = pow2_below ? 4 * diff : 2 * diff;
    s_dec_t dec = {q, exp, d < ulp || (d == ulp && (pow2_below || !(m & 1)))};
    if (q == s_pow10[prec]) dec.digits = s_pow10[prec - 1], dec.exp++;
    return dec;
}

/* The decimal exponent of |v| = m / 2^s: 10^exp <= |v| < 10^(exp + 1). */
static int s_exp10(uint64_t m, int s)
{
    /* floor(log10(2^(52 - s))) (an arithmetic shift): exp or exp - 1 */
    int exp = ((52 - s) * 78913) >> 18;
    for (;;) {
        int p = 16 - exp;
        s_u128 x = (s_u128) m * s_pow10[p > 19 ? 19 : p];
        if (p > 19) x *= s_pow10[p - 19];
        uint64_t q = (uint64_t) (x >> s);
        if (q < s_pow10[16])
            exp--;
        else if (q >= s_pow10[17])
            exp++;
        else
            return exp;
    }
}

/* "%.{prec}g" of dec, negative when neg. */
static size_t s_fmt_g(s_dec_t dec, int prec, bool neg, char *out)
{
    char d[20];
    uint64_t digits = dec.digits;
    while (digits % 10 == 0) digits /= 10; /* %g drops trailing zeros */
    size_t n = 0, nd = s_utoa(digits, d);
    if (neg) out[n++] = '-';
    if (dec.exp < -4 || dec.exp >= prec) { /* d.ddde+XX */
        out[n++] = d[0];
        if (nd > 1) {
            out[n++] = '.';
            memcpy(out + n, d + 1, nd - 1);
            n += nd - 1;
        }
        int e = dec.exp < 0 ? -dec.exp : dec.exp;
        out[n++] = 'e';
        out[n++] = dec.exp < 0 ? '-' : '+';
        if (e < 10) out[n++] = '0';
        return n + s_utoa((uint64_t) e, out + n);
    }
    if (dec.exp < 0) { /* 0.000ddd */
        out[n++] = '0';
        out[n++] = '.';
        for (int i = -1; i > dec.exp; i--) out[n++] = '0';
        memcpy(out + n, d, nd);
        return n + nd;
    }
    size_t whole = (size_t) dec.exp + 1; /* ddd[.ddd] */
    for (size_t i = 0; i < whole; i++) out[n++] = i < nd ? d[i] : '0';
    if (nd > whole) {
        out[n++] = '.';
        memcpy(out + n, d + whole, nd - whole);
        n += nd - whole;
    }
    return n;
}

/* A non-integer v with 1e-5 <= |v| < 1e15: "%.15g", or "%.17g" when
 * that does not read back as v. */
static size_t s_num_frac(double v, char *out)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t m = (bits & (((uint64_t) 1 << 52) - 1)) | ((uint64_t) 1 << 52);
    int s = 1075 - (int) ((bits >> 52) & 0x7ff); /* |v| = m / 2^s */
    int exp = s_exp10(m, s);
    s_dec_t dec = s_round(m, s, exp, 15);
    if (!dec.exact) return s_fmt_g(s_round(m, s, exp, 17), 17, v < 0, out);
    return s_fmt_g(dec, 15, v < 0, out);
}

void vg_jw_num(vg_jw_t *w, double v)
{
    if (!isfinite(v)) {
        vg_jw_null(w);
        return;
    }
    char buf[32];
    size_t n;
    double a = fabs(v);
    if (a < 1e15 && (double) (int64_t) v == v) { /* v == floor(v) */
        n = s_num_int(v, buf);
    } else if (a >= 1e-5 && a < 1e15) {
        n = s_num_frac(v, buf);
    } else {
        n = (size_t) snprintf(buf, sizeof buf, "%.15g", v);
        if (strtod(buf, NULL) != v) n = (size_t) snprintf(buf, sizeof buf, "%.17g", v);
    }
    s_scalar(w, buf, n);
}

void vg_jw_int(vg_jw_t *w, int64_t v)
{
    char buf[24];
    size_t n = 0;
    if (v < 0) buf[n++] = '-';
    n += s_utoa(v < 0 ? 0 - (uint64_t) v : (uint64_t) v, buf + n);
    s_scalar(w, buf, n);
}

void vg_jw_bool(vg_jw_t *w, bool v)
{
    s_scalar(w, v ? "true" : "false", v ? 4 : 5);
}

void vg_jw_null(vg_jw_t *w)
{
    s_scalar(w, "null", 4);
}

void vg_jw_raw(vg_jw_t *w, const char *json, size_t len)
{
    s_scalar(w, json, len);
}

void vg_jw_ts(vg_jw_t *w, int64_t ms)
{
    char buf[25];
    vg_ts_format(ms, buf);
    vg_jw_str(w, vg_str_c(buf));
}

void vg_jw_kstr(vg_jw_t *w, const char *key, vg_str_t s)
{
    vg_jw_key(w, key);
    vg_jw_str(w, s);
}

void vg_jw_kcstr(vg_jw_t *w, const char *key, const char *s)
{
    vg_jw_key(w, key);
    vg_jw_cstr(w, s);
}

void vg_jw_knum(vg_jw_t *w, const char *key, double v)
{
    vg_jw_key(w, key);
    vg_jw_num(w, v);
}

void vg_jw_kint(vg_jw_t *w, const char *key, int64_t v)
{
    vg_jw_key(w, key);
    vg_jw_int(w, v);
}

void vg_jw_kbool(vg_jw_t *w, const char *key, bool v)
{
    vg_jw_key(w, key);
    vg_jw_bool(w, v);
}
