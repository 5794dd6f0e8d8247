/* vg_str.h: vg_str_t, a borrowed byte slice (not NUL-terminated). Who owns
 * the bytes and how long they live is said by whoever hands one out. */
#ifndef VG_STR_H
#define VG_STR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const char *ptr;
    uint32_t len;
} vg_str_t;

#define VG_STR_NULL   ((vg_str_t){NULL, 0})
#define VG_STR_LIT(s) ((vg_str_t){(s), (uint32_t) (sizeof(s) - 1)})

static inline vg_str_t vg_str_c(const char *s)
{
    return (vg_str_t){s, s ? (uint32_t) strlen(s) : 0};
}

static inline bool vg_str_eq(vg_str_t a, vg_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool vg_str_eq_c(vg_str_t a, const char *b)
{
    return vg_str_eq(a, vg_str_c(b));
}

/* True when the slice is set (a present, possibly empty, string). */
static inline bool vg_str_present(vg_str_t s)
{
    return s.ptr != NULL;
}

#endif
