/* vg_err.c: names and messages for vg_err, derived from VG_ERR_LIST. */
#include "vg_err.h"

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
