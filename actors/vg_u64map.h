/* vg_u64map.h (internal): a small open-addressing hash map from nonzero
 * uint64 keys to uint64 values (linear probing, backward-shift delete).
 * Allocates only when it grows, so steady-state use is allocation-free.
 * Not thread-safe: one owner (an actor's worker, or under a lock). */
#ifndef VG_U64MAP_H
#define VG_U64MAP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys; /* 0 = empty slot */
    uint64_t *vals;
    uint32_t cap; /* power of two, or 0 before the first put */
    uint32_t n;
} vg__u64map_t;

/* Frees the arrays; the map is empty and reusable afterwards. */
void vg__u64map_fini(vg__u64map_t *m);

/* Inserts or overwrites key (nonzero). */
void vg__u64map_put(vg__u64map_t *m, uint64_t key, uint64_t val);

/* True and *val (optional) set when key is present. */
bool vg__u64map_get(const vg__u64map_t *m, uint64_t key, uint64_t *val);

/* Removes key; true and *val (optional) set when it was present. */
bool vg__u64map_del(vg__u64map_t *m, uint64_t key, uint64_t *val);

#endif
