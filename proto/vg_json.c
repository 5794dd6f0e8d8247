/* vg_json.c: strict JSON pull reader. Numbers use the exact fast path
 * (mantissa < 2^53, |exp10| <= 22) and fall back to strtod otherwise. */
#include "vg_json.h"

#include "vg_err.h"

#include <stdlib.h>
#include <string.h>

void vg_jr_init(vg_jr_t *r, const char *buf, size_t len, vg_arena_t *arena)
{
    r->start = r->p = buf;
    r->end = buf + len;
    r->arena = arena;
    r->depth = 0;
    r->max_depth = VG_JSON_MAX_DEPTH;
    r->err = 0;
    r->reason = NULL;
    r->err_off = 0;
}

int vg_jr_fail(vg_jr_t *r, int err, const char *reason)
{
    if (!r->err) {
        r->err = err;
        r->reason = reason;
        r->err_off = (size_t) (r->p - r->start);
    }
    return r->err;
}

static inline void s_ws(vg_jr_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

bool vg_jr_eat(vg_jr_t *r, char c)
{
    if (vg_jr_peek(r) == c && r->p < r->end) {
        r->p++;
        return true;
    }
    return false;
}

bool vg_jr_at_end(vg_jr_t *r)
{
    s_ws(r);
    return r->p >= r->end;
}

const char *vg_jr_type_name(char c)
{
    switch (c) {
    case '"': return "string";
    case '{': return "object";
    case '[': return "array";
    case 't':
    case 'f': return "boolean";
    case 'n': return "null";
    case 0: return "nothing";
    default: return (c == '-' || (c >= '0' && c <= '9')) ? "number" : "invalid JSON";
    }
}

/* ---- strings ----------------------------------------------------------- */

static int s_hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t) (c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t) (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t) (c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static char *s_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char) cp;
    } else if (cp < 0x800) {
        *o++ = (char) (0xc0 | (cp >> 6));
        *o++ = (char) (0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char) (0xe0 | (cp >> 12));
        *o++ = (char) (0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char) (0x80 | (cp & 0x3f));
    } else {
        *o++ = (char) (0xf0 | (cp >> 18));
        *o++ = (char) (0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char) (0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char) (0x80 | (cp & 0x3f));
    }
    return o;
}

/* Decodes one escape at r->p (just past the backslash) into o. */
static char *s_escape(vg_jr_t *r, char *o)
{
    if (r->p >= r->end) return vg_jr_fail(r, VG_ERR_PARSE, "unterminated string"), NULL;
    char c = *r->p++;
    switch (c) {
    case '"': *o++ = '"'; return o;
    case '\\': *o++ = '\\'; return o;
    case '/': *o++ = '/'; return o;
    case 'b': *o++ = '\b'; return o;
    case 'f': *o++ = '\f'; return o;
    case 'n': *o++ = '\n'; return o;
    case 'r': *o++ = '\r'; return o;
    case 't': *o++ = '\t'; return o;
    case 'u': break;
    default: return vg_jr_fail(r, VG_ERR_PARSE, "invalid escape in string"), NULL;
    }
    uint32_t cp, lo;
    if (r->end - r->p < 4 || s_hex4(r->p, &cp))
        return vg_jr_fail(r, VG_ERR_PARSE, "invalid \\u escape"), NULL;
    r->p += 4;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return vg_jr_fail(r, VG_ERR_PARSE, "unpaired surrogate in \\u escape"), NULL;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || s_hex4(r->p + 2, &lo) ||
            lo < 0xdc00 || lo > 0xdfff)
            return vg_jr_fail(r, VG_ERR_PARSE, "unpaired surrogate in \\u escape"), NULL;
        r->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    return s_utf8(o, cp);
}

int vg_jr_string(vg_jr_t *r, vg_str_t *out)
{
    if (vg_jr_peek(r) != '"') return vg_jr_fail(r, VG_ERR_PARSE, "expected a string");
    const char *s = ++r->p;
    /* 8 bytes at a time while none is '"', '\\' or a control character */
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (r->end - r->p >= 8) {
        uint64_t v;
        memcpy(&v, r->p, 8);
        uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
        uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v);
        if (hit & highs) break;
        r->p += 8;
    }
    while (r->p < r->end) {
        unsigned char c = (unsigned char) *r->p;
        if (c == '"') {
            out->ptr = s;
            out->len = (uint32_t) (r->p - s);
            r->p++;
            return 0;
        }
        if (c == '\\') break;
        if (c < 0x20) return vg_jr_fail(r, VG_ERR_PARSE, "control character in string");
        r->p++;
    }
    if (r->p >= r->end) return vg_jr_fail(r, VG_ERR_PARSE, "unterminated string");
    if (!r->arena) return vg_jr_fail(r, VG_ERR_PARSE, "escapes not allowed here");
    /* slow path: decoded text is never longer than the raw text left */
    char *buf = vg_arena_alloc(r->arena, (size_t) (r->end - s) + 1), *o = buf;
    size_t prefix = (size_t) (r->p - s);
    memcpy(o, s, prefix);
    o += prefix;
    while (r->p < r->end) {
        unsigned char c = (unsigned char) *r->p++;
        if (c == '"') {
            out->ptr = buf;
            out->len = (uint32_t) (o - buf);
            return 0;
        }
        if (c < 0x20) return vg_jr_fail(r, VG_ERR_PARSE, "control character in string");
        if (c == '\\') {
            if (!(o = s_escape(r, o))) return r->err;
        } else {
            *o++ = (char) c;
        }
    }
    return vg_jr_fail(r, VG_ERR_PARSE, "unterminated string");
}

/* ---- numbers ----------------------------------------------------------- */

static const double s_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline bool s_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

int vg_jr_number(vg_jr_t *r, vg_jnum_t *out)
{
    char c = vg_jr_peek(r);
    if (c != '-' && (c < '0' || c > '9')) return vg_jr_fail(r, VG_ERR_PARSE, "expected a number");
    const char *s = r->p, *p = r->p, *end = r->end;
    bool neg = *p == '-';
    if (neg) p++;
    if (!s_digit(p, end)) return vg_jr_fail(r, VG_ERR_PARSE, "invalid number");
    uint64_t mant = 0;
    int sig = 0, exp10 = 0;
    bool overflow_int = false;
    if (*p == '0') {
        p++;
    } else {
        while (s_digit(p, end)) {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t) (*p - '0');
                sig++;
            } else {
                exp10++;
                overflow_int = true;
            }
            p++;
        }
    }
    bool is_int = true;
    if (p < end && *p == '.') {
        p++;
        if (!s_digit(p, end)) return r->p = p, vg_jr_fail(r, VG_ERR_PARSE, "invalid number");
        is_int = false;
        while (s_digit(p, end)) {
            if (sig < 19 && (mant || *p != '0')) {
                mant = mant * 10 + (uint64_t) (*p - '0');
                sig++;
                exp10--;
            } else if (!mant) {
                exp10--; /* leading zeros of the fraction */
            }
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        is_int = false;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (!s_digit(p, end)) return r->p = p, vg_jr_fail(r, VG_ERR_PARSE, "invalid number");
        int e = 0;
        while (s_digit(p, end)) {
            if (e < 100000) e = e * 10 + (*p - '0');
            p++;
        }
        exp10 += eneg ? -e : e;
    }
    r->p = p;
    out->is_int = is_int && !overflow_int &&
                  (neg ? mant <= (uint64_t) INT64_MAX + 1 : mant <= (uint64_t) INT64_MAX);
    if (out->is_int) out->i = neg ? (int64_t) (0 - mant) : (int64_t) mant;
    if (mant < (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double) mant;
        d = exp10 < 0 ? d / s_pow10[-exp10] : d * s_pow10[exp10];
        out->d = neg ? -d : d;
        return 0;
    }
    char tmp[128];
    size_t n = (size_t) (p - s);
    if (n >= sizeof tmp) return vg_jr_fail(r, VG_ERR_PARSE, "number too long");
    memcpy(tmp, s, n);
    tmp[n] = 0;
    out->d = strtod(tmp, NULL);
    return 0;
}

/* ---- literals, skipping, containers ------------------------------------ */

static bool s_literal(vg_jr_t *r, const char *lit, size_t n)
{
    if ((size_t) (r->end - r->p) >= n && memcmp(r->p, lit, n) == 0) {
        r->p += n;
        return true;
    }
    return false;
}

bool vg_jr_null(vg_jr_t *r)
{
    return vg_jr_peek(r) == 'n' && s_literal(r, "null", 4);
}

int vg_jr_bool(vg_jr_t *r, bool *out)
{
    char c = vg_jr_peek(r);
    if (c == 't' && s_literal(r, "true", 4)) return *out = true, 0;
    if (c == 'f' && s_literal(r, "false", 5)) return *out = false, 0;
    return vg_jr_fail(r, VG_ERR_PARSE, "expected true or false");
}

int vg_jr_obj_begin(vg_jr_t *r)
{
    if (!vg_jr_eat(r, '{')) return vg_jr_fail(r, VG_ERR_PARSE, "expected an object");
    if (++r->depth > r->max_depth) return vg_jr_fail(r, VG_ERR_LIMIT, "nesting too deep");
    return 0;
}

int vg_jr_obj_next(vg_jr_t *r, bool *first, vg_str_t *key)
{
    if (r->err) return -1;
    if (vg_jr_eat(r, '}')) {
        r->depth--;
        return 0;
    }
    if (!*first && !vg_jr_eat(r, ','))
        return vg_jr_fail(r, VG_ERR_PARSE, "expected ',' or '}' in object"), -1;
    *first = false;
    if (vg_jr_peek(r) != '"') return vg_jr_fail(r, VG_ERR_PARSE, "expected a member name"), -1;
    if (vg_jr_string(r, key)) return -1;
    if (!vg_jr_eat(r, ':'))
        return vg_jr_fail(r, VG_ERR_PARSE, "expected ':' after member name"), -1;
    return 1;
}

int vg_jr_arr_begin(vg_jr_t *r)
{
    if (!vg_jr_eat(r, '[')) return vg_jr_fail(r, VG_ERR_PARSE, "expected an array");
    if (++r->depth > r->max_depth) return vg_jr_fail(r, VG_ERR_LIMIT, "nesting too deep");
    return 0;
}

int vg_jr_arr_next(vg_jr_t *r, bool *first)
{
    if (r->err) return -1;
    if (vg_jr_eat(r, ']')) {
        r->depth--;
        return 0;
    }
    if (!*first && !vg_jr_eat(r, ','))
        return vg_jr_fail(r, VG_ERR_PARSE, "expected ',' or ']' in array"), -1;
    *first = false;
    return 1;
}

int vg_jr_skip(vg_jr_t *r)
{
    vg_str_t s;
    vg_jnum_t num;
    bool b, first = true;
    int rc;
    switch (vg_jr_peek(r)) {
    case '"': return vg_jr_string(r, &s);
    case '{':
        if (vg_jr_obj_begin(r)) return r->err;
        while ((rc = vg_jr_obj_next(r, &first, &s)) > 0)
            if (vg_jr_skip(r)) return r->err;
        return r->err;
    case '[':
        if (vg_jr_arr_begin(r)) return r->err;
        while ((rc = vg_jr_arr_next(r, &first)) > 0)
            if (vg_jr_skip(r)) return r->err;
        return r->err;
    case 't':
    case 'f': return vg_jr_bool(r, &b);
    case 'n': return vg_jr_null(r) ? 0 : vg_jr_fail(r, VG_ERR_PARSE, "invalid literal");
    case 0: return r->err ? r->err : vg_jr_fail(r, VG_ERR_PARSE, "unexpected end of input");
    default:
        if (vg_jr_peek(r) == '-' || (vg_jr_peek(r) >= '0' && vg_jr_peek(r) <= '9'))
            return vg_jr_number(r, &num);
        return vg_jr_fail(r, VG_ERR_PARSE, "expected a value");
    }
}
