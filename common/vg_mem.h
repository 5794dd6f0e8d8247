/* vg_mem.h: the one allocation helper (aborts on out-of-memory) and the
 * project's asserts. VG_ASSERT stays on in release builds and is for cheap
 * preconditions; VG_DASSERT is for expensive invariants (debug only). */
#ifndef VG_MEM_H
#define VG_MEM_H

#include <stddef.h>

void *vg_malloc(size_t size);
void *vg_calloc(size_t n, size_t size);
void *vg_realloc(void *ptr, size_t size);
char *vg_strdup(const char *s);
char *vg_strndup(const char *s, size_t n);
#define vg_free(p) free(p)

/* Allocate one zeroed object of type T. */
#define VG_NEW(T) ((T *) vg_calloc(1, sizeof(T)))

_Noreturn void vg__assert_fail(const char *expr, const char *file, int line);

#define VG_ASSERT(expr) ((expr) ? (void) 0 : vg__assert_fail(#expr, __FILE__, __LINE__))
#ifdef NDEBUG
#define VG_DASSERT(expr) ((void) 0)
#else
#define VG_DASSERT(expr) VG_ASSERT(expr)
#endif

#define VG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define VG_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define VG_MAX(a, b)    ((a) > (b) ? (a) : (b))
#define VG_LIKELY(x)    __builtin_expect(!!(x), 1)
#define VG_UNLIKELY(x)  __builtin_expect(!!(x), 0)

#include <stdlib.h>
#endif
