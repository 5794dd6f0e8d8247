/* vg_perr.h: a parse/validation error that names the field and the reason,
 * as every parser in Vigil must ("amount: must be a finite number >= 0"). */
#ifndef VG_PERR_H
#define VG_PERR_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int code;       /* vg_err; 0 = no error */
    int32_t index;  /* item index within a batch, -1 when not applicable */
    char field[96]; /* e.g. "amount", "attributes.tier"; "" = the whole input */
    char reason[160];
} vg_perr_t;

/* Clears e (code 0, index -1). */
void vg_perr_clear(vg_perr_t *e);

/* Records the first error only (later calls keep the first) and returns
 * code. e may be NULL. field may be NULL (= whole input). */
int vg_perr_set(vg_perr_t *e, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "field: reason" (or just "reason") into buf; returns buf. */
const char *vg_perr_str(const vg_perr_t *e, char *buf, size_t size);

#endif
