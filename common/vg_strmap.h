/* vg_strmap.h: an open-addressing hash map from borrowed byte strings to
 * pointers (linear probing, backward-shift deletion, power-of-two table).
 * Keys are NOT copied: each must stay valid while it is in the map.
 * Single-threaded. */
#ifndef VG_STRMAP_H
#define VG_STRMAP_H

#include "vg_str.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    vg_str_t key;
    uint64_t hash;
    void *val; /* NULL = empty slot */
} vg_strmap_slot_t;

typedef struct {
    vg_strmap_slot_t *slots;
    size_t cap; /* power of two */
    size_t len;
} vg_strmap_t;

void vg_strmap_init(vg_strmap_t *m, size_t expected);
void vg_strmap_fini(vg_strmap_t *m);
uint64_t vg_strmap_hash(vg_str_t key);
/* Value for key, or NULL. */
void *vg_strmap_get(const vg_strmap_t *m, vg_str_t key);
/* Inserts or replaces; val must not be NULL. Grows at 70% load. */
void vg_strmap_put(vg_strmap_t *m, vg_str_t key, void *val);
/* Removes key if present; returns its value or NULL. */
void *vg_strmap_del(vg_strmap_t *m, vg_str_t key);

#endif
