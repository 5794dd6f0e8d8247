/* vg_rules_lists.c: named lists for rules (`x in list "blocked"`): a
 * container of immutable, reference-counted string sets, so a compiled
 * ruleset keeps the exact lists it was compiled against however the
 * container changes afterwards. */
#include "vg_rules_internal.h"

#include "vg_err.h"
#include "vg_mem.h"
#include "vg_tx.h"

#include <stdio.h>
#include <string.h>

struct vg__strset {
    _Atomic uint32_t refs;
    size_t n;
    vg_strmap_t map; /* value -> the set itself (any non-NULL pointer) */
    vg_arena_t bytes;
    char name[VG_RULES_MAX_ID + 1];
};

struct vg_rule_lists {
    vg_strmap_t by_name; /* set->name -> set */
};

vg__strset_t *vg__strset_new(const char *name, size_t expected)
{
    vg__strset_t *s = VG_NEW(vg__strset_t);
    atomic_init(&s->refs, 1);
    vg_strmap_init(&s->map, expected);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

void vg__strset_add(vg__strset_t *s, const char *ptr, size_t len)
{
    VG_DASSERT(atomic_load(&s->refs) == 1);
    vg_str_t key = {ptr, (uint32_t) len};
    if (vg_strmap_get(&s->map, key)) return;
    key.ptr = vg_arena_strndup(&s->bytes, ptr ? ptr : "", len);
    vg_strmap_put(&s->map, key, s);
    s->n++;
}

bool vg__strset_has(const vg__strset_t *s, const char *ptr, uint32_t len)
{
    return vg_strmap_get(&s->map, (vg_str_t){ptr, len}) != NULL;
}

size_t vg__strset_len(const vg__strset_t *s)
{
    return s->n;
}

vg__strset_t *vg__strset_ref(vg__strset_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void vg__strset_unref(vg__strset_t **s_p)
{
    vg__strset_t *s = *s_p;
    if (!s) return;
    *s_p = NULL;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    vg_strmap_fini(&s->map);
    vg_arena_fini(&s->bytes);
    free(s);
}

bool vg__rule_list_name_ok(const char *name, size_t len)
{
    if (!name || len < 1 || len > VG_RULES_MAX_ID) return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

vg_rule_lists_t *vg_rule_lists_new(void)
{
    vg_rule_lists_t *self = VG_NEW(vg_rule_lists_t);
    vg_strmap_init(&self->by_name, 16);
    return self;
}

void vg_rule_lists_destroy(vg_rule_lists_t **self_p)
{
    vg_rule_lists_t *self = self_p ? *self_p : NULL;
    if (!self) return;
    for (size_t i = 0; i < self->by_name.cap; i++) {
        vg__strset_t *s = self->by_name.slots[i].val;
        if (s) vg__strset_unref(&s);
    }
    vg_strmap_fini(&self->by_name);
    free(self);
    *self_p = NULL;
}

/* Installs set under its name, dropping the container's reference to a
 * previous list of that name. */
static void s_install(vg_rule_lists_t *self, vg__strset_t *set)
{
    vg__strset_t *old = vg_strmap_del(&self->by_name, vg_str_c(set->name));
    vg__strset_unref(&old);
    vg_strmap_put(&self->by_name, vg_str_c(set->name), set);
}

static int s_value_ok(const char *v, size_t len)
{
    if (len > VG_RULES_MAX_STRING) return VG_ERR_INVALID;
    return vg_utf8_valid(v, len) ? 0 : VG_ERR_INVALID;
}

int vg_rule_lists_add(vg_rule_lists_t *self, const char *name, const char *const *values, size_t n)
{
    if (!name || !vg__rule_list_name_ok(name, strlen(name))) return VG_ERR_INVALID;
    if (n > VG_RULES_MAX_LIST) return VG_ERR_LIMIT;
    for (size_t i = 0; i < n; i++)
        if (!values[i] || s_value_ok(values[i], strlen(values[i]))) return VG_ERR_INVALID;
    vg__strset_t *set = vg__strset_new(name, n);
    for (size_t i = 0; i < n; i++) vg__strset_add(set, values[i], strlen(values[i]));
    s_install(self, set);
    return 0;
}

int vg_rule_lists_parse(vg_rule_lists_t *self, const char *name, const char *text, size_t len,
                        vg_rules_err_t *err)
{
    vg_rules_err_t local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);
    snprintf(err->file, sizeof err->file, "%s", name ? name : "<list>");
    if (!name || !vg__rule_list_name_ok(name, strlen(name)))
        return vg__rule_err(err, VG_ERR_INVALID, 0, 0,
                            "invalid list name (1 to %d characters of A-Z a-z 0-9 _ . -)",
                            VG_RULES_MAX_ID);
    vg__strset_t *set = vg__strset_new(name, 64);
    const char *p = text, *end = text + len;
    int line = 0, rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *a = p, *b = nl ? nl : end;
        p = nl ? nl + 1 : end;
        line++;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
        if (a == b || *a == '#') continue;
        size_t vlen = (size_t) (b - a);
        if (vlen > VG_RULES_MAX_STRING)
            rc = vg__rule_err(err, VG_ERR_INVALID, line, 1, "value longer than %d bytes",
                              VG_RULES_MAX_STRING);
        else if (!vg_utf8_valid(a, vlen))
            rc = vg__rule_err(err, VG_ERR_INVALID, line, 1, "value is not valid UTF-8");
        else if (vg__strset_len(set) >= VG_RULES_MAX_LIST)
            rc = vg__rule_err(err, VG_ERR_LIMIT, line, 1, "more than %d values", VG_RULES_MAX_LIST);
        else
            vg__strset_add(set, a, vlen);
    }
    if (rc) {
        vg__strset_unref(&set);
        return rc;
    }
    s_install(self, set);
    return 0;
}

size_t vg_rule_lists_count(const vg_rule_lists_t *self)
{
    return self->by_name.len;
}

bool vg_rule_lists_has(const vg_rule_lists_t *self, const char *name)
{
    return name && vg_strmap_get(&self->by_name, vg_str_c(name)) != NULL;
}

vg__strset_t *vg__rule_lists_get(const vg_rule_lists_t *lists, vg_str_t name)
{
    return vg_strmap_get(&lists->by_name, name);
}

size_t vg__rule_lists_names(const vg_rule_lists_t *lists, const char **names, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < lists->by_name.cap && k < cap; i++) {
        const vg__strset_t *s = lists->by_name.slots[i].val;
        if (s) names[k++] = s->name;
    }
    return k;
}
