/* vg_perr.c: first-error-wins recording of field + reason. */
#include "vg_perr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void vg_perr_clear(vg_perr_t *e)
{
    if (!e) return;
    e->code = 0;
    e->index = -1;
    e->field[0] = 0;
    e->reason[0] = 0;
}

int vg_perr_set(vg_perr_t *e, int code, const char *field, const char *fmt, ...)
{
    if (!e) return code;
    if (e->code) return e->code; /* the first error wins */
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return code;
}

const char *vg_perr_str(const vg_perr_t *e, char *buf, size_t size)
{
    if (e->field[0])
        snprintf(buf, size, "%s: %s", e->field, e->reason);
    else
        snprintf(buf, size, "%s", e->reason);
    return buf;
}
