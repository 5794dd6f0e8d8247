/* vg_err.h: the one error enum of Vigil.
 * 0 is OK, negatives are failures; vg_strerror() names them. The list is
 * data (VG_ERR_LIST) so names and messages never drift from the enum. */
#ifndef VG_ERR_H
#define VG_ERR_H

#include <stddef.h>

/* X(name, value, message) */
#define VG_ERR_LIST(X)                              \
    X(OK, 0, "ok")                                  \
    X(INVALID, -1, "invalid argument or input")     \
    X(PARSE, -2, "malformed input")                 \
    X(TOO_LARGE, -3, "input too large")             \
    X(LIMIT, -4, "limit exceeded")                  \
    X(NOT_FOUND, -5, "not found")                   \
    X(EXISTS, -6, "already exists")                 \
    X(TIMEOUT, -7, "timed out")                     \
    X(CLOSED, -8, "closed or shutting down")        \
    X(FULL, -9, "queue full (backpressure)")        \
    X(UNREACHABLE, -10, "destination unreachable")  \
    X(NOT_OWNER, -11, "not the owner of the shard") \
    X(IO, -12, "input/output error")                \
    X(STORAGE, -13, "storage error")                \
    X(PROTO, -14, "protocol error")                 \
    X(UNSUPPORTED, -15, "unsupported")              \
    X(AUTH, -16, "authentication required")         \
    X(FORBIDDEN, -17, "forbidden")                  \
    X(INTERNAL, -18, "internal error")              \
    X(RATE_LIMITED, -19, "too many requests")       \
    X(UNPROCESSABLE, -20, "well-formed but not acceptable")

typedef enum {
#define VG__ERR_ENUM(name, value, msg) VG_ERR_##name = value,
    VG_ERR_LIST(VG__ERR_ENUM)
#undef VG__ERR_ENUM
} vg_err;

#define VG_OK VG_ERR_OK

/* Human-readable message for err; never NULL ("unknown error" otherwise). */
const char *vg_strerror(int err);

/* Symbolic name without prefix, e.g. "NOT_FOUND"; never NULL. */
const char *vg_errname(int err);

/* Formats a message into errbuf (nothing when errbuf is NULL or errlen 0)
 * and returns code: `return vg_errf(errbuf, errlen, VG_ERR_PARSE, "...")`
 * for functions that report errors as a code plus a message buffer. */
int vg_errf(char *errbuf, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
