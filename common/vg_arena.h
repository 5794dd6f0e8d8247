/* vg_arena.h: a bump allocator for per-request / per-batch scratch memory.
 * Allocations live until vg_arena_reset() or vg_arena_fini(); reset keeps
 * the largest block, so a reused arena is allocation-free in steady state.
 * Not thread-safe: one owner at a time. */
#ifndef VG_ARENA_H
#define VG_ARENA_H

#include <stddef.h>

typedef struct vg_arena_block vg_arena_block_t;

typedef struct {
    vg_arena_block_t *head; /* current block first */
    size_t min_block;       /* default block size; 0 = 16 KiB */
} vg_arena_t;

#define VG_ARENA_INIT \
    {                 \
        NULL, 0       \
    }

/* Returns size bytes aligned to 16, never NULL (aborts on OOM). The
 * memory is uninitialised and valid until the next reset/fini. */
void *vg_arena_alloc(vg_arena_t *a, size_t size);

/* Like vg_arena_alloc, zero-filled. */
void *vg_arena_calloc(vg_arena_t *a, size_t n, size_t size);

/* Copies len bytes and a NUL terminator into the arena. */
char *vg_arena_strndup(vg_arena_t *a, const char *s, size_t len);

/* Forgets every allocation; keeps the largest block for reuse. */
void vg_arena_reset(vg_arena_t *a);

/* Frees every block; the arena may be reused afterwards. */
void vg_arena_fini(vg_arena_t *a);

#endif
