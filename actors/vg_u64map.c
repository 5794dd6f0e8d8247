/* vg_u64map.c: linear probing over power-of-two arrays, grown at half
 * load; deletion shifts the following run back so no tombstones exist. */
#include "vg_u64map.h"

#include "vg_mem.h"

static uint32_t s_slot(const vg__u64map_t *m, uint64_t key)
{
    return (uint32_t) ((key * 0x9E3779B97F4A7C15ull) >> 32) & (m->cap - 1);
}

static void s_insert(vg__u64map_t *m, uint64_t key, uint64_t val)
{
    uint32_t i = s_slot(m, key);
    while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

static void s_grow(vg__u64map_t *m)
{
    vg__u64map_t old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->n = 0;
    m->keys = vg_calloc(m->cap, sizeof *m->keys);
    m->vals = vg_calloc(m->cap, sizeof *m->vals);
    for (uint32_t i = 0; i < old.cap; i++)
        if (old.keys[i]) s_insert(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
}

void vg__u64map_fini(vg__u64map_t *m)
{
    free(m->keys);
    free(m->vals);
    *m = (vg__u64map_t){0};
}

void vg__u64map_put(vg__u64map_t *m, uint64_t key, uint64_t val)
{
    VG_ASSERT(key != 0);
    if ((m->n + 1) * 2 > m->cap) s_grow(m);
    s_insert(m, key, val);
}

static bool s_find(const vg__u64map_t *m, uint64_t key, uint32_t *at)
{
    if (!m->cap || !key) return false;
    for (uint32_t i = s_slot(m, key); m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key) {
            *at = i;
            return true;
        }
    return false;
}

bool vg__u64map_get(const vg__u64map_t *m, uint64_t key, uint64_t *val)
{
    uint32_t i;
    if (!s_find(m, key, &i)) return false;
    if (val) *val = m->vals[i];
    return true;
}

bool vg__u64map_del(vg__u64map_t *m, uint64_t key, uint64_t *val)
{
    uint32_t i;
    if (!s_find(m, key, &i)) return false;
    if (val) *val = m->vals[i];
    uint32_t mask = m->cap - 1;
    for (uint32_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        uint32_t home = s_slot(m, m->keys[j]);
        /* move j back into the hole at i unless its home lies in (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->vals[i] = 0;
    m->n--;
    return true;
}
