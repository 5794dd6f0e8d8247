/* vg_strmap.c: linear probing with backward-shift deletion (no
 * tombstones), xxh64 hashes kept per slot so growth never rehashes keys. */
#include "vg_strmap.h"

#include "vg_mem.h"

#include <string.h>
#include <xxhash.h>

void vg_strmap_init(vg_strmap_t *m, size_t expected)
{
    size_t cap = 16;
    while (cap * 7 / 10 < expected) cap *= 2;
    m->slots = vg_calloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->len = 0;
}

void vg_strmap_fini(vg_strmap_t *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

uint64_t vg_strmap_hash(vg_str_t key)
{
    return XXH3_64bits(key.ptr, key.len);
}

static size_t s_find(const vg_strmap_t *m, vg_str_t key, uint64_t h)
{
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].val) {
        if (m->slots[i].hash == h && vg_str_eq(m->slots[i].key, key)) return i;
        i = (i + 1) & mask;
    }
    return i; /* empty slot where key would go */
}

void *vg_strmap_get(const vg_strmap_t *m, vg_str_t key)
{
    return m->slots[s_find(m, key, vg_strmap_hash(key))].val;
}

static void s_grow(vg_strmap_t *m)
{
    vg_strmap_slot_t *old = m->slots;
    size_t old_cap = m->cap;
    m->cap *= 2;
    m->slots = vg_calloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].val) continue;
        size_t j = old[i].hash & (m->cap - 1);
        while (m->slots[j].val) j = (j + 1) & (m->cap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

void vg_strmap_put(vg_strmap_t *m, vg_str_t key, void *val)
{
    VG_ASSERT(val != NULL);
    if ((m->len + 1) * 10 > m->cap * 7) s_grow(m);
    uint64_t h = vg_strmap_hash(key);
    size_t i = s_find(m, key, h);
    if (!m->slots[i].val) m->len++;
    m->slots[i] = (vg_strmap_slot_t){key, h, val};
}

void *vg_strmap_del(vg_strmap_t *m, vg_str_t key)
{
    size_t mask = m->cap - 1, i = s_find(m, key, vg_strmap_hash(key));
    void *val = m->slots[i].val;
    if (!val) return NULL;
    /* backward shift: move later entries of the cluster into the hole */
    for (size_t j = (i + 1) & mask; m->slots[j].val; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        /* j may move to i if its home is not in the cyclic range (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].val = NULL;
    m->len--;
    return val;
}
