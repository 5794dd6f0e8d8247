/* vg_arena.c: chained blocks, bump pointer, 16-byte alignment. */
#include "vg_arena.h"

#include "vg_mem.h"

#include <stdint.h>
#include <string.h>

struct vg_arena_block {
    vg_arena_block_t *next;
    size_t cap;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void *vg_arena_alloc(vg_arena_t *a, size_t size)
{
    size = (size + 15u) & ~(size_t) 15u;
    vg_arena_block_t *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t min = a->min_block ? a->min_block : 16384;
        size_t cap = size > min ? size : min;
        if (b && b->cap * 2 > cap && b->cap * 2 <= 64u << 20) cap = b->cap * 2;
        VG_ASSERT(cap < SIZE_MAX - sizeof *b);
        vg_arena_block_t *nb = vg_malloc(sizeof *nb + cap);
        nb->next = b;
        nb->cap = cap;
        nb->used = 0;
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

void *vg_arena_calloc(vg_arena_t *a, size_t n, size_t size)
{
    VG_ASSERT(size == 0 || n <= SIZE_MAX / size);
    void *p = vg_arena_alloc(a, n * size);
    memset(p, 0, n * size);
    return p;
}

char *vg_arena_strndup(vg_arena_t *a, const char *s, size_t len)
{
    char *p = vg_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = 0;
    return p;
}

void vg_arena_reset(vg_arena_t *a)
{
    vg_arena_block_t *keep = NULL;
    for (vg_arena_block_t *b = a->head, *next; b; b = next) {
        next = b->next;
        if (!keep || b->cap > keep->cap) {
            if (keep) free(keep);
            keep = b;
        } else {
            free(b);
        }
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
}

void vg_arena_fini(vg_arena_t *a)
{
    for (vg_arena_block_t *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}
