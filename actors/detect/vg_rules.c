/* vg_rules.c: the rule compiler's back end and the ruleset's accessors:
 * turns each rule's checked syntax tree into a run of bytecode (constants
 * pooled, constant `in` lists as sorted or hashed sets, named lists
 * resolved to referenced string sets) and keeps the rules' settings. */
#include "vg_rules_internal.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vg__rule_err(vg_rules_err_t *err, int code, int line, int col, const char *fmt, ...)
{
    if (!err || err->code) return code;
    err->code = code;
    err->line = line;
    err->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

const char *vg_rules_err_str(const vg_rules_err_t *err, char *buf, size_t size)
{
    if (err->line > 0)
        snprintf(buf, size, "%s:%d:%d: %s", err->file, err->line, err->col, err->msg);
    else
        snprintf(buf, size, "%s: %s", err->file, err->msg);
    return buf;
}

const char *vg_rule_action_name(int action)
{
    static const char *const names[] = {"flag", "review", "block"};
    return action >= 0 && action < 3 ? names[action] : NULL;
}

/* Levenshtein distance of a and b (ASCII case differences cost nothing),
 * or limit + 1 when it is larger than limit. */
static size_t s_distance(vg_str_t a, const char *b, size_t limit)
{
    size_t bl = strlen(b);
    if (a.len > 64 || bl > 64) return limit + 1;
    if ((a.len > bl ? a.len - bl : bl - a.len) > limit) return limit + 1;
    size_t row[65], prev[65];
    for (size_t j = 0; j <= bl; j++) prev[j] = j;
    for (size_t i = 1; i <= a.len; i++) {
        row[0] = i;
        size_t best = row[0];
        for (size_t j = 1; j <= bl; j++) {
            char x = a.ptr[i - 1], y = b[j - 1];
            if (x >= 'A' && x <= 'Z') x = (char) (x - 'A' + 'a');
            if (y >= 'A' && y <= 'Z') y = (char) (y - 'A' + 'a');
            size_t d = prev[j - 1] + (x != y);
            d = VG_MIN(d, prev[j] + 1);
            d = VG_MIN(d, row[j - 1] + 1);
            row[j] = d;
            best = VG_MIN(best, d);
        }
        if (best > limit) return limit + 1;
        memcpy(prev, row, (bl + 1) * sizeof *row);
    }
    return prev[bl];
}

const char *vg__rule_suggest(vg_str_t word, const char *const *names, size_t n)
{
    size_t limit = word.len <= 4 ? 1 : word.len <= 8 ? 2 : 3, best_d = limit + 1;
    const char *best = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = s_distance(word, names[i], limit);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}

/* ---- code generation ------------------------------------------------------ */

typedef struct {
    vg_ruleset_t *rs;
    const vg_rule_lists_t *ext;
    const vg__rule_file_t *file;
    vg_rules_err_t *err;
    vg_strmap_t list_idx; /* list name -> index into rs->lists + 1 */
    uint32_t start;       /* the current rule's first instruction */
    uint32_t sp, max_sp;
} s_gen_t;

static void *s_reserve(void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) return v;
    *cap = *cap ? *cap * 2 : 64;
    return vg_realloc(v, *cap * size);
}

/* Appends an instruction; returns its index within the current rule. */
static uint32_t s_emit(s_gen_t *g, int op, int a, uint32_t c)
{
    vg_ruleset_t *rs = g->rs;
    rs->code = s_reserve(rs->code, rs->n_code, &rs->cap_code, sizeof *rs->code);
    rs->code[rs->n_code++] = (vg__rule_ins_t){.op = (uint8_t) op, .a = (uint8_t) a, .c = c};
    return (uint32_t) (rs->n_code - 1 - g->start);
}

static void s_push(s_gen_t *g, uint32_t n)
{
    g->sp += n;
    if (g->sp > g->max_sp) g->max_sp = g->sp;
}

static vg_str_t s_keep(vg_ruleset_t *rs, vg_str_t s)
{
    return (vg_str_t){vg_arena_strndup(&rs->arena, s.ptr ? s.ptr : "", s.len), s.len};
}

static uint32_t s_pool(s_gen_t *g, vg__rule_val_t v)
{
    vg_ruleset_t *rs = g->rs;
    if (v.tag == VG__V_STR) {
        vg_str_t s = s_keep(rs, (vg_str_t){v.s, v.len});
        v.s = s.ptr;
    }
    rs->pool = s_reserve(rs->pool, rs->n_pool, &rs->cap_pool, sizeof *rs->pool);
    rs->pool[rs->n_pool++] = v;
    return (uint32_t) (rs->n_pool - 1);
}

static void s_const(s_gen_t *g, const vg__rule_val_t *v)
{
    if (v->tag == VG__V_NULL)
        s_emit(g, VG__OP_NULL, 0, 0);
    else
        s_emit(g, VG__OP_CONST, 0, s_pool(g, *v));
    s_push(g, 1);
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* A constant set from the items of `in (...)` (all constants, one tag). */
static uint32_t s_cset(s_gen_t *g, const vg__rule_node_t *n, int tag)
{
    vg_ruleset_t *rs = g->rs;
    vg__rule_cset_t set = {.tag = (uint8_t) tag};
    uint32_t k = 0;
    for (uint32_t i = 0; i < n->n_items; i++) {
        if (n->items[i]->val.tag == VG__V_NULL)
            set.has_null = true;
        else
            k++;
    }
    if (tag == VG__V_NUM) {
        double *v = vg_arena_alloc(&rs->arena, k * sizeof *v);
        uint32_t m = 0;
        for (uint32_t i = 0; i < n->n_items; i++)
            if (n->items[i]->val.tag == VG__V_NUM) v[m++] = n->items[i]->val.n;
        qsort(v, m, sizeof *v, s_cmp_double);
        set.n = 0;
        for (uint32_t i = 0; i < m; i++)
            if (set.n == 0 || v[set.n - 1] != v[i]) v[set.n++] = v[i];
        set.nums = v;
    } else if (k <= VG__SET_LINEAR) {
        vg_str_t *v = vg_arena_alloc(&rs->arena, (k ? k : 1) * sizeof *v);
        for (uint32_t i = 0; i < n->n_items; i++) {
            const vg__rule_val_t *x = &n->items[i]->val;
            if (x->tag == VG__V_STR) v[set.n++] = s_keep(rs, (vg_str_t){x->s, x->len});
        }
        set.strs = v;
    } else {
        set.hash = vg__strset_new("", k);
        for (uint32_t i = 0; i < n->n_items; i++) {
            const vg__rule_val_t *x = &n->items[i]->val;
            if (x->tag == VG__V_STR) vg__strset_add(set.hash, x->s, x->len);
        }
        set.n = (uint32_t) vg__strset_len(set.hash);
    }
    rs->sets = s_reserve(rs->sets, rs->n_sets, &rs->cap_sets, sizeof *rs->sets);
    rs->sets[rs->n_sets++] = set;
    return (uint32_t) (rs->n_sets - 1);
}

static int s_gen(s_gen_t *g, const vg__rule_node_t *n);

static int s_gen_logic(s_gen_t *g, const vg__rule_node_t *n)
{
    uint32_t *jumps = vg_malloc(n->n_items * sizeof *jumps), nj = 0;
    int rc = s_gen(g, n->items[0]);
    for (uint32_t i = 1; i < n->n_items && rc == 0; i++) {
        jumps[nj++] = s_emit(g, n->op == VG__OP_AND ? VG__OP_JF : VG__OP_JT, 0, 0);
        rc = s_gen(g, n->items[i]);
        s_emit(g, n->op, 0, 0);
        g->sp--;
    }
    uint32_t end = (uint32_t) (g->rs->n_code - g->start);
    for (uint32_t j = 0; j < nj; j++) g->rs->code[g->start + jumps[j]].c = end;
    free(jumps);
    return rc;
}

static int s_gen_in(s_gen_t *g, const vg__rule_node_t *n)
{
    int tag = 0;
    bool consts = true;
    for (uint32_t i = 0; i < n->n_items && consts; i++) {
        const vg__rule_node_t *x = n->items[i];
        if (x->kind != VG__N_CONST)
            consts = false;
        else if (x->val.tag != VG__V_NULL)
            tag = x->val.tag;
    }
    int rc = s_gen(g, n->kid[0]);
    if (rc) return rc;
    if (consts && (tag == VG__V_NUM || tag == VG__V_STR)) {
        s_emit(g, VG__OP_INSET, n->neg, s_cset(g, n, tag));
        return 0;
    }
    s_emit(g, VG__OP_INBEGIN, 0, 0);
    s_push(g, 1);
    for (uint32_t i = 0; i < n->n_items && rc == 0; i++) {
        rc = s_gen(g, n->items[i]);
        s_emit(g, VG__OP_INSTEP, 0, 0);
        g->sp--;
    }
    s_emit(g, VG__OP_INEND, n->neg, 0);
    g->sp--;
    return rc;
}

static int s_gen_inlist(s_gen_t *g, const vg__rule_node_t *n)
{
    vg_ruleset_t *rs = g->rs;
    uintptr_t idx = (uintptr_t) vg_strmap_get(&g->list_idx, n->str);
    vg__strset_t *set = idx ? NULL : g->ext ? vg__rule_lists_get(g->ext, n->str) : NULL;
    if (set) {
        rs->lists = s_reserve(rs->lists, rs->n_lists, &rs->cap_lists, sizeof *rs->lists);
        rs->lists[rs->n_lists++] = vg__strset_ref(set);
        idx = rs->n_lists;
        vg_strmap_put(&g->list_idx, n->str, (void *) idx);
    }
    if (!idx) {
        const char *names[64];
        size_t k = 0;
        for (size_t i = 0; i < g->file->n_lists && k < 32; i++)
            names[k++] = g->file->lists[i].name.ptr;
        if (g->ext) k += vg__rule_lists_names(g->ext, names + k, VG_ARRAY_LEN(names) - k);
        const char *sug = vg__rule_suggest(n->str, names, k);
        return vg__rule_err(g->err, VG_ERR_INVALID, n->line, n->col, "unknown list '%.*s'%s%s%s",
                            (int) VG_MIN(n->str.len, 64u), n->str.ptr,
                            sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    }
    int rc = s_gen(g, n->kid[0]);
    s_emit(g, VG__OP_INLIST, n->neg, (uint32_t) (idx - 1));
    return rc;
}

static int s_gen(s_gen_t *g, const vg__rule_node_t *n)
{
    int rc = 0;
    switch (n->kind) {
    case VG__N_CONST: s_const(g, &n->val); break;
    case VG__N_FIELD:
    case VG__N_FEAT:
        s_emit(g, n->kind == VG__N_FIELD ? VG__OP_FIELD : VG__OP_FEAT, 0, (uint32_t) n->ref);
        s_push(g, 1);
        break;
    case VG__N_ATTR:
        s_emit(g, VG__OP_ATTR, 0,
               s_pool(g, (vg__rule_val_t){.tag = VG__V_STR, .len = n->str.len, .s = n->str.ptr}));
        s_push(g, 1);
        break;
    case VG__N_UNARY:
        rc = s_gen(g, n->kid[0]);
        s_emit(g, n->op, 0, 0);
        break;
    case VG__N_BINARY:
        if ((rc = s_gen(g, n->kid[0])) == 0) rc = s_gen(g, n->kid[1]);
        s_emit(g, n->op, 0, 0);
        g->sp--;
        break;
    case VG__N_LOGIC: rc = s_gen_logic(g, n); break;
    case VG__N_IN: rc = s_gen_in(g, n); break;
    case VG__N_INLIST: rc = s_gen_inlist(g, n); break;
    case VG__N_BETWEEN:
        for (int i = 0; i < 3 && rc == 0; i++) rc = s_gen(g, n->kid[i]);
        s_emit(g, VG__OP_BETWEEN, n->neg, 0);
        g->sp -= 2;
        break;
    case VG__N_ISNULL:
        rc = s_gen(g, n->kid[0]);
        s_emit(g, VG__OP_ISNULL, n->neg, 0);
        break;
    case VG__N_CALL:
        for (uint32_t i = 0; i < n->n_items && rc == 0; i++) rc = s_gen(g, n->items[i]);
        s_emit(g, VG__OP_CALL, n->ref, 0);
        g->sp -= n->n_items - 1;
        break;
    default: VG_ASSERT(!"unknown node kind");
    }
    return rc;
}

/* The file's own `list` blocks become sets owned by the ruleset. */
static int s_file_lists(s_gen_t *g)
{
    vg_ruleset_t *rs = g->rs;
    for (size_t i = 0; i < g->file->n_lists; i++) {
        const vg__rule_list_ast_t *l = &g->file->lists[i];
        if (g->ext && vg__rule_lists_get(g->ext, l->name))
            return vg__rule_err(g->err, VG_ERR_INVALID, l->line, l->col,
                                "list '%s' is defined both in this file and in the loaded lists",
                                l->name.ptr);
        vg__strset_t *set = vg__strset_new(l->name.ptr, l->n);
        for (uint32_t k = 0; k < l->n; k++) vg__strset_add(set, l->values[k].ptr, l->values[k].len);
        rs->lists = s_reserve(rs->lists, rs->n_lists, &rs->cap_lists, sizeof *rs->lists);
        rs->lists[rs->n_lists++] = set;
        vg_strmap_put(&g->list_idx, l->name, (void *) (uintptr_t) rs->n_lists);
    }
    return 0;
}

static int s_rule(s_gen_t *g, size_t i)
{
    vg_ruleset_t *rs = g->rs;
    const vg__rule_ast_t *r = &g->file->rules[i];
    vg_rule_meta_t *m = &rs->meta[i];
    *m = r->meta;
    m->id = vg_arena_strndup(&rs->arena, r->meta.id, strlen(r->meta.id));
    m->name = vg_arena_strndup(&rs->arena, r->meta.name, strlen(r->meta.name));
    m->description = vg_arena_strndup(&rs->arena, r->meta.description, strlen(r->meta.description));
    m->when_src = vg_arena_strndup(&rs->arena, r->meta.when_src, strlen(r->meta.when_src));
    vg_strmap_put(&rs->ids, vg_str_c(m->id), (void *) (uintptr_t) (i + 1));
    g->start = (uint32_t) rs->n_code;
    g->sp = g->max_sp = 0;
    int rc = s_gen(g, r->when);
    if (rc) return rc;
    VG_ASSERT(g->sp == 1);
    if (g->max_sp > VG__VM_STACK)
        return vg__rule_err(g->err, VG_ERR_LIMIT, r->when->line, r->when->col,
                            "condition too complex (needs %u stack slots, the limit is %d)",
                            g->max_sp, VG__VM_STACK);
    rs->prog[i] = (vg__rule_prog_t){.start = g->start,
                                    .len = (uint32_t) (rs->n_code - g->start),
                                    .max_stack = (uint16_t) g->max_sp,
                                    .enabled = m->enabled,
                                    .shadow = m->shadow};
    return 0;
}

static int s_build(vg_ruleset_t *rs, const vg__rule_file_t *file, const vg_rule_lists_t *lists,
                   vg_rules_err_t *err)
{
    s_gen_t g = {.rs = rs, .ext = lists, .file = file, .err = err};
    vg_strmap_init(&g.list_idx, file->n_lists + 8);
    rs->n_rules = file->n_rules;
    size_t n = file->n_rules ? file->n_rules : 1;
    rs->meta = vg_calloc(n, sizeof *rs->meta);
    rs->prog = vg_calloc(n, sizeof *rs->prog);
    rs->stats = vg_calloc(n, sizeof *rs->stats);
    vg_strmap_init(&rs->ids, file->n_rules);
    int rc = s_file_lists(&g);
    for (size_t i = 0; i < file->n_rules && rc == 0; i++) rc = s_rule(&g, i);
    vg_strmap_fini(&g.list_idx);
    return rc;
}

int vg_ruleset_compile(const char *src, size_t len, const char *filename,
                       const vg_rule_lists_t *lists, vg_ruleset_t **out, vg_rules_err_t *err)
{
    VG_ASSERT(out != NULL && (src != NULL || len == 0));
    vg_rules_err_t local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);
    snprintf(err->file, sizeof err->file, "%s", filename ? filename : "<rules>");
    *out = NULL;
    if (len > VG_RULES_MAX_SOURCE)
        return vg__rule_err(err, VG_ERR_TOO_LARGE, 0, 0,
                            "rule set is %zu bytes, more than the limit of %d", len,
                            VG_RULES_MAX_SOURCE);
    vg__rule_file_t file;
    int rc = vg__rule_parse(src ? src : "", len, &file, err);
    vg_ruleset_t *rs = NULL;
    if (rc == 0) {
        rs = VG_NEW(vg_ruleset_t);
        rc = s_build(rs, &file, lists, err);
        if (rc) vg_ruleset_destroy(&rs);
    }
    vg__rule_file_fini(&file);
    *out = rs;
    return rc;
}

void vg_ruleset_destroy(vg_ruleset_t **self_p)
{
    vg_ruleset_t *rs = self_p ? *self_p : NULL;
    if (!rs) return;
    for (size_t i = 0; i < rs->n_lists; i++) vg__strset_unref(&rs->lists[i]);
    for (size_t i = 0; i < rs->n_sets; i++) vg__strset_unref(&rs->sets[i].hash);
    free(rs->lists);
    free(rs->sets);
    free(rs->pool);
    free(rs->code);
    free(rs->meta);
    free(rs->prog);
    free(rs->stats);
    if (rs->ids.slots) vg_strmap_fini(&rs->ids);
    vg_arena_fini(&rs->arena);
    free(rs);
    *self_p = NULL;
}

size_t vg_ruleset_count(const vg_ruleset_t *self)
{
    return self->n_rules;
}

const vg_rule_meta_t *vg_ruleset_rule(const vg_ruleset_t *self, size_t i)
{
    return i < self->n_rules ? &self->meta[i] : NULL;
}

int vg_ruleset_find(const vg_ruleset_t *self, const char *id)
{
    if (!id || !self->ids.slots) return -1;
    uintptr_t idx = (uintptr_t) vg_strmap_get(&self->ids, vg_str_c(id));
    return idx ? (int) idx - 1 : -1;
}

void vg_ruleset_stats(const vg_ruleset_t *self, size_t i, uint64_t *hits, uint64_t *errors)
{
    VG_ASSERT(i < self->n_rules);
    if (hits) *hits = atomic_load_explicit(&self->stats[i].hits, memory_order_relaxed);
    if (errors) *errors = atomic_load_explicit(&self->stats[i].errors, memory_order_relaxed);
}

size_t vg_ruleset_code_size(const vg_ruleset_t *self, size_t i)
{
    return i < self->n_rules ? self->prog[i].len : 0;
}
