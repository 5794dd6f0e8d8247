/* vg_mem.c: allocation helpers that abort with a message on OOM, so no
 * caller has to handle a NULL from the allocator. */
#include "vg_mem.h"

#include <stdio.h>
#include <string.h>

static _Noreturn void s_oom(size_t size)
{
    fprintf(stderr, "vigil: out of memory allocating %zu bytes\n", size);
    abort();
}

void *vg_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) s_oom(size);
    return p;
}

void *vg_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) s_oom(n * size);
    return p;
}

void *vg_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p) s_oom(size);
    return p;
}

char *vg_strndup(const char *s, size_t n)
{
    char *p = vg_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *vg_strdup(const char *s)
{
    return vg_strndup(s, strlen(s));
}

void vg__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "vigil: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
