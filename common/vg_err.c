/* vg_err.c: names and messages for vg_err, derived from VG_ERR_LIST. */
#include "vg_err.h"

#include <stdarg.h>
#include <stdio.h>

const char *vg_strerror(int err)
{
    switch (err) {
#define VG__ERR_MSG(name, value, msg) \
    case value: return msg;
        VG_ERR_LIST(VG__ERR_MSG)
#undef VG__ERR_MSG
    default: return "unknown error";
    }
}

const char *vg_errname(int err)
{
    switch (err) {
#define VG__ERR_NAME(name, value, msg) \
    case value: return #name;
        VG_ERR_LIST(VG__ERR_NAME)
#undef VG__ERR_NAME
    default: return "UNKNOWN";
    }
}

int vg_errf(char *errbuf, size_t errlen, int code, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}
