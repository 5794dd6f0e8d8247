/* vg_mp.h: Vigil's msgpack codec. The writer always emits the shortest
 * encoding (so encode(decode(x)) is byte-identical for canonical input);
 * the reader is zero-copy and never trusts a declared length: every count
 * is checked against the bytes that remain before anything is allocated,
 * and nesting is capped. Both carry a sticky error: after the first
 * failure every call is a no-op returning that error. */
#ifndef VG_MP_H
#define VG_MP_H

#include "vg_perr.h"
#include "vg_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Maximum nesting the reader accepts when skipping unknown values. */
#define VG_MP_MAX_DEPTH 16

/* ---- writer ------------------------------------------------------------ */

typedef struct {
    uint8_t *buf;
    size_t len;
    size_t cap;
    bool fixed; /* buf is caller memory: never grown; overflow = error */
    int err;    /* sticky vg_err */
} vg_mpw_t;

/* A growing writer (heap buffer owned by the writer; vg_mpw_fini frees). */
void vg_mpw_init(vg_mpw_t *w);
/* A writer over caller memory; exceeding cap sets VG_ERR_TOO_LARGE. */
void vg_mpw_init_fixed(vg_mpw_t *w, void *buf, size_t cap);
/* Empties the writer, keeping its buffer (allocation-free reuse). */
static inline void vg_mpw_reset(vg_mpw_t *w)
{
    w->len = 0;
    w->err = 0;
}
void vg_mpw_fini(vg_mpw_t *w);

void vg_mpw_nil(vg_mpw_t *w);
void vg_mpw_bool(vg_mpw_t *w, bool v);
void vg_mpw_uint(vg_mpw_t *w, uint64_t v);
void vg_mpw_int(vg_mpw_t *w, int64_t v); /* shortest; non-negative as uint */
void vg_mpw_f64(vg_mpw_t *w, double v);  /* always float 64 (0xcb) */
void vg_mpw_str(vg_mpw_t *w, const char *s, uint32_t len);
void vg_mpw_bin(vg_mpw_t *w, const void *p, uint32_t len);
void vg_mpw_array(vg_mpw_t *w, uint32_t n);
void vg_mpw_map(vg_mpw_t *w, uint32_t n);
/* Appends n raw bytes (pre-encoded msgpack, or payload built by hand). */
void vg_mpw_raw(vg_mpw_t *w, const void *p, size_t n);
/* A vg_str_t: nil when not present, else str. */
void vg_mpw_ostr(vg_mpw_t *w, vg_str_t s);

/* ---- reader ------------------------------------------------------------ */

typedef enum {
    VG_MP_NONE = 0, /* end of input or error */
    VG_MP_NIL,
    VG_MP_BOOL,
    VG_MP_UINT,
    VG_MP_INT, /* negative integer */
    VG_MP_FLOAT,
    VG_MP_STR,
    VG_MP_BIN,
    VG_MP_ARRAY,
    VG_MP_MAP,
    VG_MP_EXT
} vg_mp_type;

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
    int err;            /* sticky vg_err */
    const char *reason; /* static text for the first error */
} vg_mpr_t;

void vg_mpr_init(vg_mpr_t *r, const void *buf, size_t len);
static inline size_t vg_mpr_remaining(const vg_mpr_t *r)
{
    return (size_t) (r->end - r->p);
}
/* Type of the next value without consuming it; VG_MP_NONE at end/error. */
vg_mp_type vg_mpr_peek(const vg_mpr_t *r);
/* Consumes a nil if one is next; returns true if it did. */
bool vg_mpr_nil(vg_mpr_t *r);

/* Each returns 0 or a vg_err (VG_ERR_PARSE on a type mismatch or a
 * truncated value) and on error leaves *out untouched. */
int vg_mpr_bool(vg_mpr_t *r, bool *out);
int vg_mpr_uint(vg_mpr_t *r, uint64_t *out);
int vg_mpr_int(vg_mpr_t *r, int64_t *out); /* any integer fitting int64 */
int vg_mpr_u32(vg_mpr_t *r, uint32_t *out);
int vg_mpr_f64(vg_mpr_t *r, double *out); /* float32/64 or integer */
/* Zero-copy: out points into the input buffer, valid as long as it is. */
int vg_mpr_str(vg_mpr_t *r, vg_str_t *out);
int vg_mpr_bin(vg_mpr_t *r, const uint8_t **ptr, uint32_t *len);
/* Containers: the count is checked against the remaining bytes (each
 * element needs at least one byte), so a lying header fails here. */
int vg_mpr_array(vg_mpr_t *r, uint32_t *n);
int vg_mpr_map(vg_mpr_t *r, uint32_t *n);
/* Skips one value of any type, nesting at most VG_MP_MAX_DEPTH. */
int vg_mpr_skip(vg_mpr_t *r);
/* Sets the sticky error (if none yet) and returns it. */
int vg_mpr_fail(vg_mpr_t *r, int err, const char *reason);
/* Records r's error in err for field ("amount: truncated value") and
 * returns its code (VG_ERR_PARSE if r has none). */
int vg_mpr_perr(const vg_mpr_t *r, vg_perr_t *err, const char *field);

#endif
