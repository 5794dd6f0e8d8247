/* vg_jw.h: an append-only JSON writer for responses (verdicts, anomalies,
 * errors, metrics). Commas are inserted automatically; strings are escaped
 * (control characters, quotes, backslash; invalid UTF-8 becomes U+FFFD);
 * non-finite numbers are written as null. The buffer grows (vg_realloc)
 * and is reusable with vg_jw_reset for allocation-free steady state. */
#ifndef VG_JW_H
#define VG_JW_H

#include "vg_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_JW_MAX_DEPTH 32

typedef struct {
    char *buf;
    size_t len, cap;
    int depth;
    bool need_comma[VG_JW_MAX_DEPTH + 1];
} vg_jw_t;

void vg_jw_init(vg_jw_t *w);
void vg_jw_reset(vg_jw_t *w);
void vg_jw_fini(vg_jw_t *w);

void vg_jw_obj_begin(vg_jw_t *w);
void vg_jw_obj_end(vg_jw_t *w);
void vg_jw_arr_begin(vg_jw_t *w);
void vg_jw_arr_end(vg_jw_t *w);
/* Member name inside an object; the value follows. */
void vg_jw_key(vg_jw_t *w, const char *key);
void vg_jw_str(vg_jw_t *w, vg_str_t s);     /* null when s.ptr is NULL */
void vg_jw_cstr(vg_jw_t *w, const char *s); /* null when s is NULL */
void vg_jw_num(vg_jw_t *w, double v);       /* shortest round-trip form; null if not finite */
void vg_jw_int(vg_jw_t *w, int64_t v);
void vg_jw_bool(vg_jw_t *w, bool v);
void vg_jw_null(vg_jw_t *w);
/* Appends pre-formatted JSON as one value (caller guarantees validity). */
void vg_jw_raw(vg_jw_t *w, const char *json, size_t len);

/* Key + value shorthands. */
void vg_jw_kstr(vg_jw_t *w, const char *key, vg_str_t s);
void vg_jw_kcstr(vg_jw_t *w, const char *key, const char *s);
void vg_jw_knum(vg_jw_t *w, const char *key, double v);
void vg_jw_kint(vg_jw_t *w, const char *key, int64_t v);
void vg_jw_kbool(vg_jw_t *w, const char *key, bool v);

/* Appends an RFC 3339 UTC timestamp string for ms since epoch. */
void vg_jw_ts(vg_jw_t *w, int64_t ms);

#endif
