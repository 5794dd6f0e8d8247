/* vg_json.h: a strict (RFC 8259), allocation-free JSON pull reader for the
 * hot path. Strings come back as slices of the input, or, when they hold
 * escapes, as decoded copies in the caller's arena. Nesting is capped and
 * every error records its byte offset and a reason. */
#ifndef VG_JSON_H
#define VG_JSON_H

#include "vg_arena.h"
#include "vg_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_JSON_MAX_DEPTH 32

typedef struct {
    const char *start, *p, *end;
    vg_arena_t *arena; /* for unescaped strings; may be NULL (then escapes fail) */
    int depth;
    int max_depth;
    int err;            /* sticky vg_err (VG_ERR_PARSE or VG_ERR_LIMIT) */
    const char *reason; /* static text for the first error */
    size_t err_off;     /* byte offset of the first error */
} vg_jr_t;

typedef struct {
    double d;
    int64_t i;   /* valid when is_int */
    bool is_int; /* no fraction/exponent and fits int64 */
} vg_jnum_t;

void vg_jr_init(vg_jr_t *r, const char *buf, size_t len, vg_arena_t *arena);

/* Skips whitespace; returns the next byte, or 0 at the end of input (or
 * after an error). */
static inline char vg_jr_peek(vg_jr_t *r)
{
    if (r->err) return 0;
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
    return r->p < r->end ? *r->p : 0;
}
/* Skips whitespace and consumes c if it is next. */
bool vg_jr_eat(vg_jr_t *r, char c);
/* True when only whitespace remains. */
bool vg_jr_at_end(vg_jr_t *r);

int vg_jr_string(vg_jr_t *r, vg_str_t *out);
int vg_jr_number(vg_jr_t *r, vg_jnum_t *out);
int vg_jr_bool(vg_jr_t *r, bool *out);
/* Consumes `null` if it is next; returns true if it did. */
bool vg_jr_null(vg_jr_t *r);
/* Skips one value of any type (depth-capped). */
int vg_jr_skip(vg_jr_t *r);

/* Objects: after vg_jr_obj_begin, call vg_jr_obj_next until it returns 0
 * (end of object) or < 0 (error); on 1, *key holds the member name and the
 * value is next. `first` is caller state initialised to true. */
int vg_jr_obj_begin(vg_jr_t *r);
int vg_jr_obj_next(vg_jr_t *r, bool *first, vg_str_t *key);
/* Arrays: same protocol; on 1 an element is next. */
int vg_jr_arr_begin(vg_jr_t *r);
int vg_jr_arr_next(vg_jr_t *r, bool *first);

/* Sets the sticky error (first wins) and returns it. */
int vg_jr_fail(vg_jr_t *r, int err, const char *reason);

/* Name of the JSON type starting with byte c ("string", "number", ...). */
const char *vg_jr_type_name(char c);

#endif
