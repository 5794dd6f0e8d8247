/* vg_rule_stats.c: summing rule counters across nodes (rules matched by
 * id; a rule that differs between versions in use is still one row). */
#include "vg_rule_stats.h"

#include "vg_err.h"
#include "vg_json.h"
#include "vg_mem.h"

#include <string.h>

void vg_rule_stats_init(vg_rule_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->arena = (vg_arena_t) VG_ARENA_INIT;
}

void vg_rule_stats_fini(vg_rule_stats_t *st)
{
    free(st->rules);
    vg_arena_fini(&st->arena);
    memset(st, 0, sizeof *st);
}

static const char *s_dup(vg_rule_stats_t *st, const char *s)
{
    return s ? vg_arena_strndup(&st->arena, s, strlen(s)) : "";
}

void vg_rule_stats_add(vg_rule_stats_t *st, const vg_rule_stat_t *r)
{
    for (size_t i = 0; i < st->n; i++)
        if (!strcmp(st->rules[i].id, r->id)) {
            st->rules[i].hits += r->hits;
            st->rules[i].errors += r->errors;
            return;
        }
    if (st->n == st->cap)
        st->rules = vg_realloc(st->rules, (st->cap = st->cap * 2 + 8) * sizeof *st->rules);
    st->rules[st->n++] = (vg_rule_stat_t){s_dup(st, r->id),
                                          s_dup(st, r->name),
                                          s_dup(st, r->mode),
                                          s_dup(st, r->action),
                                          s_dup(st, r->severity),
                                          r->hits,
                                          r->errors};
}

static void s_version(vg_rule_stats_t *st, uint64_t v)
{
    for (size_t i = 0; i < st->n_versions; i++)
        if (st->versions[i] == v) return;
    if (st->n_versions < VG_ARRAY_LEN(st->versions)) st->versions[st->n_versions++] = v;
}

static int s_rule(vg_rule_stats_t *st, vg_jr_t *r)
{
    vg_rule_stat_t x = {0};
    const char **strs[] = {&x.id, &x.name, &x.mode, &x.action, &x.severity};
    static const char *keys[] = {"id", "name", "mode", "action", "severity"};
    bool first = true;
    vg_str_t key;
    if (vg_jr_obj_begin(r)) return VG_ERR_PARSE;
    while (vg_jr_obj_next(r, &first, &key) == 1) {
        size_t k = 0;
        while (k < 5 && !vg_str_eq_c(key, keys[k])) k++;
        vg_jnum_t num;
        vg_str_t s;
        if (k < 5 && !vg_jr_string(r, &s)) {
            *strs[k] = vg_arena_strndup(&st->arena, s.ptr, s.len);
        } else if ((vg_str_eq_c(key, "hits") || vg_str_eq_c(key, "errors")) &&
                   !vg_jr_number(r, &num) && num.is_int && num.i >= 0) {
            *(vg_str_eq_c(key, "hits") ? &x.hits : &x.errors) = (uint64_t) num.i;
        } else if (k == 5 && !vg_str_eq_c(key, "hits") && !vg_str_eq_c(key, "errors")) {
            vg_jr_skip(r);
        }
    }
    if (r->err || !x.id) return VG_ERR_PARSE;
    vg_rule_stats_add(st, &x);
    return 0;
}

int vg_rule_stats_add_json(vg_rule_stats_t *st, const char *json, size_t len)
{
    vg_jr_t r;
    vg_jr_init(&r, json, len, &st->arena);
    bool first = true;
    vg_str_t key;
    if (vg_jr_obj_begin(&r)) return VG_ERR_PARSE;
    while (vg_jr_obj_next(&r, &first, &key) == 1) {
        vg_jnum_t num;
        if (vg_str_eq_c(key, "version") && !vg_jr_number(&r, &num) && num.is_int) {
            s_version(st, (uint64_t) num.i);
        } else if (vg_str_eq_c(key, "rules")) {
            bool f2 = true;
            if (vg_jr_arr_begin(&r)) return VG_ERR_PARSE;
            while (vg_jr_arr_next(&r, &f2) == 1)
                if (s_rule(st, &r)) return VG_ERR_PARSE;
        } else if (!vg_str_eq_c(key, "version")) {
            vg_jr_skip(&r);
        }
    }
    if (r.err) return VG_ERR_PARSE;
    st->nodes++;
    return 0;
}

void vg_rule_stats_write(const vg_rule_stats_t *st, vg_jw_t *w)
{
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "nodes", (int64_t) st->nodes);
    vg_jw_key(w, "versions");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < st->n_versions; i++) vg_jw_int(w, (int64_t) st->versions[i]);
    vg_jw_arr_end(w);
    vg_jw_key(w, "rules");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < st->n; i++) {
        const vg_rule_stat_t *x = &st->rules[i];
        vg_jw_obj_begin(w);
        vg_jw_kcstr(w, "id", x->id);
        vg_jw_kcstr(w, "name", x->name);
        vg_jw_kcstr(w, "mode", x->mode);
        vg_jw_kcstr(w, "action", x->action);
        vg_jw_kcstr(w, "severity", x->severity);
        vg_jw_kint(w, "hits", (int64_t) x->hits);
        vg_jw_kint(w, "errors", (int64_t) x->errors);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
}
