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

static char *s_reserve(vg_jw_t *w, size_t n)
{
    if (w->cap - w->len < n + 1) {
        size_t cap = w->cap ? w->cap : 1024;
        while (cap - w->len < n + 1) cap *= 2;
        w->buf = vg_realloc(w->buf, cap);
        w->cap = cap;
    }
    char *p = w->buf + w->len;
    w->len += n;
    w->buf[w->len] = 0; /* always NUL-terminated for convenience */
    return p;
}

static void s_put(vg_jw_t *w, const char *s, size_t n)
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
    s_put(w, "\"", 1);
    size_t i = 0;
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

void vg_jw_num(vg_jw_t *w, double v)
{
    if (!isfinite(v)) {
        vg_jw_null(w);
        return;
    }
    char buf[32];
    int n;
    if (v == floor(v) && fabs(v) < 1e15) {
        n = snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        n = snprintf(buf, sizeof buf, "%.15g", v);
        if (strtod(buf, NULL) != v) n = snprintf(buf, sizeof buf, "%.17g", v);
    }
    s_scalar(w, buf, (size_t) n);
}

void vg_jw_int(vg_jw_t *w, int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long) v);
    s_scalar(w, buf, (size_t) n);
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
