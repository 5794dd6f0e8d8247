/* vg_rules_backtest.c: replay of a transaction history through the
 * features and a ruleset, with labels: the loop mirrors the node's
 * scoring path (dedupe by id and event time, vg_features_update on the
 * user's state, then every enabled rule), minus storage. */
#include "vg_rules_backtest.h"

#include "vg_arena.h"
#include "vg_err.h"
#include "vg_file.h"
#include "vg_json.h"
#include "vg_mem.h"
#include "vg_strmap.h"
#include "vg_tx_json.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static char s_pos, s_neg; /* label values in the labels map */

typedef struct {
    const vg_ruleset_t *rs;
    vg_backtest_opts_t opts;
    vg_backtest_report_t *rep;
    vg_strmap_t labels; /* id -> &s_pos / &s_neg */
    vg_strmap_t seen;   /* id -> int64_t event time */
    vg_strmap_t users;  /* user_id -> vg_user_state_t */
    vg_arena_t keep;    /* keys of the maps above, for the whole run */
    vg_arena_t line;    /* per line: unescaped strings */
    uint64_t line_no;   /* current NDJSON line; 0 in an array */
} s_run_t;

void vg_backtest_opts_default(vg_backtest_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    vg_features_config_default(&opts->features);
}

/* ---- labels -------------------------------------------------------------- */

static void s_label(s_run_t *r, vg_str_t id, bool anomalous)
{
    if (!vg_strmap_get(&r->labels, id)) {
        id.ptr = vg_arena_strndup(&r->keep, id.ptr ? id.ptr : "", id.len);
        r->rep->labels++;
    }
    vg_strmap_put(&r->labels, id, anomalous ? &s_pos : &s_neg);
}

static bool s_trimmed_is(const char *a, const char *b, const char *word)
{
    while (a < b && (*a == ' ' || *a == '\t')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
    size_t n = strlen(word);
    return (size_t) (b - a) == n && strncasecmp(a, word, n) == 0;
}

/* CSV: id,label[,more...]; a first row whose label is not a label is a header. */
static int s_labels_csv(s_run_t *r, const char *p, const char *end, char *errbuf, size_t errlen)
{
    uint64_t line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *a = p, *b = nl ? nl : end;
        p = nl ? nl + 1 : end;
        line++;
        while (b > a && (b[-1] == '\r' || b[-1] == ' ' || b[-1] == '\t')) b--;
        if (a == b) continue;
        const char *c1 = memchr(a, ',', (size_t) (b - a));
        const char *c2 = c1 ? memchr(c1 + 1, ',', (size_t) (b - c1 - 1)) : NULL;
        const char *le = c2 ? c2 : b;
        int v = -1;
        if (c1 && (s_trimmed_is(c1 + 1, le, "1") || s_trimmed_is(c1 + 1, le, "true"))) v = 1;
        if (c1 && (s_trimmed_is(c1 + 1, le, "0") || s_trimmed_is(c1 + 1, le, "false"))) v = 0;
        if (v < 0 && line == 1 && c1) continue; /* header row */
        if (v < 0 || c1 == a)
            return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                           "labels line %llu: expected 'id,label[,kind]' with label 0, 1, true "
                           "or false",
                           (unsigned long long) line);
        s_label(r, (vg_str_t){a, (uint32_t) (c1 - a)}, v == 1);
    }
    return 0;
}

static int s_labels_json(s_run_t *r, const char *text, size_t len, char *errbuf, size_t errlen)
{
    vg_arena_t arena = VG_ARENA_INIT;
    vg_jr_t jr;
    vg_jr_init(&jr, text, len, &arena);
    bool first = true;
    vg_str_t key;
    int more;
    if (vg_jr_peek(&jr) == '[') {
        vg_jr_arr_begin(&jr);
        while ((more = vg_jr_arr_next(&jr, &first)) > 0) {
            if (vg_jr_peek(&jr) != '"') {
                vg_jr_fail(&jr, VG_ERR_PARSE, "an array of labels holds transaction ids (strings)");
                break;
            }
            if (vg_jr_string(&jr, &key) == 0) s_label(r, key, true);
        }
    } else {
        vg_jr_obj_begin(&jr);
        while ((more = vg_jr_obj_next(&jr, &first, &key)) > 0) {
            char c = vg_jr_peek(&jr);
            bool b = false;
            vg_jnum_t num;
            if (c == 't' || c == 'f') {
                vg_jr_bool(&jr, &b);
            } else if ((c == '0' || c == '1') && vg_jr_number(&jr, &num) == 0 && num.is_int &&
                       (num.i == 0 || num.i == 1)) {
                b = num.i == 1;
            } else {
                vg_jr_fail(&jr, VG_ERR_PARSE, "a label is 1, 0, true or false");
                break;
            }
            if (!jr.err) s_label(r, key, b);
        }
    }
    if (!jr.err && !vg_jr_at_end(&jr))
        vg_jr_fail(&jr, VG_ERR_PARSE, "unexpected data after labels");
    int rc = 0;
    if (jr.err)
        rc = vg_errf(errbuf, errlen, VG_ERR_PARSE, "labels: invalid JSON at byte %zu: %s",
                     jr.err_off, jr.reason ? jr.reason : "syntax error");
    vg_arena_fini(&arena);
    return rc;
}

static int s_labels(s_run_t *r, const char *text, size_t len, char *errbuf, size_t errlen)
{
    const char *p = text, *end = text + len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    if (p < end && (*p == '{' || *p == '[')) return s_labels_json(r, text, len, errbuf, errlen);
    return s_labels_csv(r, text, end, errbuf, errlen);
}

/* ---- replay ----------------------------------------------------------------- */

static void s_bad(s_run_t *r, uint64_t index, const vg_perr_t *err)
{
    vg_backtest_report_t *rep = r->rep;
    rep->bad++;
    if (rep->n_bad_kept >= VG_BACKTEST_BAD_KEPT) return;
    vg_backtest_bad_t *b = &rep->bad_kept[rep->n_bad_kept++];
    b->line = r->line_no;
    b->index = index;
    vg_perr_str(err, b->msg, sizeof b->msg);
}

/* True when tx repeats an earlier id and event time (the node answers it
 * from its dedupe store and changes no state). */
static bool s_duplicate(s_run_t *r, const vg_tx_t *tx)
{
    int64_t *ts = vg_strmap_get(&r->seen, tx->id);
    if (ts) return *ts == tx->ts_ms;
    ts = vg_arena_alloc(&r->keep, sizeof *ts);
    *ts = tx->ts_ms;
    vg_strmap_put(&r->seen,
                  (vg_str_t){vg_arena_strndup(&r->keep, tx->id.ptr, tx->id.len), tx->id.len}, ts);
    return false;
}

static vg_user_state_t *s_user(s_run_t *r, vg_str_t user_id)
{
    vg_user_state_t *u = vg_strmap_get(&r->users, user_id);
    if (u) return u;
    u = vg_arena_alloc(&r->keep, sizeof *u);
    vg_user_state_init(u);
    vg_strmap_put(&r->users,
                  (vg_str_t){vg_arena_strndup(&r->keep, user_id.ptr, user_id.len), user_id.len}, u);
    r->rep->users++;
    return u;
}

static void s_score(s_run_t *r, const vg_tx_t *tx)
{
    vg_backtest_report_t *rep = r->rep;
    if (s_duplicate(r, tx)) {
        rep->duplicates++;
        return;
    }
    rep->evaluated++;
    vg_user_state_t *u = s_user(r, tx->user_id);
    vg_features_t f;
    if (!vg_features_update(u, tx, &r->opts.features, &f)) rep->late++;
    const char *label = rep->labelled ? vg_strmap_get(&r->labels, tx->id) : NULL;
    bool positive = label == &s_pos;
    if (label) rep->labels_matched++;
    if (positive) rep->positives++;
    bool any = false;
    for (size_t i = 0; i < rep->n_rules; i++) {
        const vg_rule_meta_t *m = vg_ruleset_rule(r->rs, i);
        if (!m->enabled) continue;
        vg_rule_result res = vg_ruleset_eval_one(r->rs, i, tx, &f, NULL);
        if (res == VG_RULE_ERROR) rep->rules[i].errors++;
        if (res != VG_RULE_TRUE) continue;
        rep->rules[i].hits++;
        rep->rules[i].tp += positive;
        any = any || !m->shadow;
    }
    if (any) {
        rep->any.hits++;
        rep->any.tp += positive;
    }
}

static int s_item(void *arg, uint32_t index, const vg_tx_t *tx, const vg_perr_t *err)
{
    s_run_t *r = arg;
    r->rep->items++;
    if (err)
        s_bad(r, index, err);
    else
        s_score(r, tx);
    return 0;
}

static void s_ndjson(s_run_t *r, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    uint64_t index = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *a = p, *b = nl ? nl : end;
        p = nl ? nl + 1 : end;
        r->line_no++;
        const char *q = a;
        while (q < b && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q == b) continue; /* blank line */
        vg_tx_t tx;
        vg_perr_t err;
        vg_arena_reset(&r->line);
        int rc = vg_tx_from_json(a, (size_t) (b - a), &tx, &r->line, &err);
        s_item(r, (uint32_t) index++, &tx, rc ? &err : NULL);
    }
}

static void s_array(s_run_t *r, const char *data, size_t len)
{
    vg_txj_opts_t o = {.shape = VG_TXJ_ARRAY, .max_items = UINT32_MAX};
    vg_txj_result_t res;
    vg_perr_t err;
    if (vg_tx_json_each(data, len, &o, &r->line, s_item, r, &res, &err)) {
        vg_perr_t whole = err;
        snprintf(whole.reason, sizeof whole.reason, "%.120s (the rest of the array was not read)",
                 err.reason);
        s_bad(r, res.count, &whole);
    }
}

static void s_finish(vg_backtest_report_t *rep)
{
    for (size_t i = 0; i <= rep->n_rules; i++) {
        vg_backtest_rule_t *x = i < rep->n_rules ? &rep->rules[i] : &rep->any;
        x->precision = rep->labelled && x->hits ? (double) x->tp / (double) x->hits : NAN;
        x->recall =
            rep->labelled && rep->positives ? (double) x->tp / (double) rep->positives : NAN;
    }
}

int vg_backtest_run(const vg_ruleset_t *rs, const char *data, size_t len, const char *labels,
                    size_t labels_len, const vg_backtest_opts_t *opts, vg_backtest_report_t *rep,
                    char *errbuf, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    s_run_t r = {.rs = rs, .rep = rep, .keep = VG_ARENA_INIT, .line = VG_ARENA_INIT};
    if (opts)
        r.opts = *opts;
    else
        vg_backtest_opts_default(&r.opts);
    vg_strmap_init(&r.labels, 1024);
    vg_strmap_init(&r.seen, 1024);
    vg_strmap_init(&r.users, 1024);
    int rc = 0;
    if (labels) {
        rep->labelled = true;
        rc = s_labels(&r, labels, labels_len, errbuf, errlen);
    }
    if (rc == 0) {
        rep->n_rules = vg_ruleset_count(rs);
        rep->rules = vg_calloc(rep->n_rules ? rep->n_rules : 1, sizeof *rep->rules);
        const char *p = data;
        while (p < data + len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
        if (p < data + len && *p == '[')
            s_array(&r, data, len);
        else
            s_ndjson(&r, data, len);
        s_finish(rep);
    } else {
        memset(rep, 0, sizeof *rep);
    }
    vg_strmap_fini(&r.labels);
    vg_strmap_fini(&r.seen);
    vg_strmap_fini(&r.users);
    vg_arena_fini(&r.keep);
    vg_arena_fini(&r.line);
    return rc;
}

int vg_backtest_run_files(const vg_ruleset_t *rs, const char *data_path, const char *labels_path,
                          const vg_backtest_opts_t *opts, vg_backtest_report_t *rep, char *errbuf,
                          size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    char *data = NULL, *labels = NULL;
    size_t len = 0, labels_len = 0;
    int rc = vg_file_read(data_path, SIZE_MAX / 2, &data, &len, errbuf, errlen);
    if (rc == 0 && labels_path)
        rc = vg_file_read(labels_path, SIZE_MAX / 2, &labels, &labels_len, errbuf, errlen);
    if (rc == 0) rc = vg_backtest_run(rs, data, len, labels, labels_len, opts, rep, errbuf, errlen);
    free(data);
    free(labels);
    return rc;
}

void vg_backtest_report_fini(vg_backtest_report_t *rep)
{
    free(rep->rules);
    memset(rep, 0, sizeof *rep);
}

/* ---- output -------------------------------------------------------------------- */

static const char *s_mode(const vg_rule_meta_t *m)
{
    return !m->enabled ? "disabled" : m->shadow ? "shadow" : "active";
}

static void s_ratio(FILE *out, double v)
{
    if (isnan(v))
        fprintf(out, " %9s", "-");
    else
        fprintf(out, " %9.3f", v);
}

static void s_row(FILE *out, const vg_backtest_report_t *rep, const char *id, const char *mode,
                  const vg_backtest_rule_t *x, bool errors)
{
    double pct = rep->evaluated ? 100.0 * (double) x->hits / (double) rep->evaluated : 0;
    fprintf(out, "%-28.28s %-8s %10llu %7.2f", id, mode, (unsigned long long) x->hits, pct);
    if (errors)
        fprintf(out, " %8llu", (unsigned long long) x->errors);
    else if (rep->labelled)
        fprintf(out, " %8s", "");
    if (rep->labelled) {
        fprintf(out, " %8llu", (unsigned long long) x->tp);
        s_ratio(out, x->precision);
        s_ratio(out, x->recall);
    }
    fputc('\n', out);
}

void vg_backtest_print(const vg_backtest_report_t *rep, const vg_ruleset_t *rs, FILE *out)
{
    fprintf(out,
            "backtest: %llu transactions read, %llu scored, %llu bad, %llu duplicate, %llu late; "
            "%llu users\n",
            (unsigned long long) rep->items, (unsigned long long) rep->evaluated,
            (unsigned long long) rep->bad, (unsigned long long) rep->duplicates,
            (unsigned long long) rep->late, (unsigned long long) rep->users);
    if (rep->labelled)
        fprintf(out, "labels: %llu entries, %llu matched, %llu anomalous among the scored\n",
                (unsigned long long) rep->labels, (unsigned long long) rep->labels_matched,
                (unsigned long long) rep->positives);
    fprintf(out, "\n%-28s %-8s %10s %7s %8s", "rule", "mode", "hits", "hit%", "errors");
    if (rep->labelled) fprintf(out, " %8s %9s %9s", "tp", "precision", "recall");
    fputc('\n', out);
    for (size_t i = 0; i < rep->n_rules; i++) {
        const vg_rule_meta_t *m = vg_ruleset_rule(rs, i);
        s_row(out, rep, m->id, s_mode(m), &rep->rules[i], true);
    }
    s_row(out, rep, "(any active rule)", "", &rep->any, false);
    if (rep->bad) {
        fprintf(out, "\nbad transactions (first %zu of %llu):\n", rep->n_bad_kept,
                (unsigned long long) rep->bad);
        for (size_t i = 0; i < rep->n_bad_kept; i++) {
            const vg_backtest_bad_t *b = &rep->bad_kept[i];
            if (b->line)
                fprintf(out, "  line %llu: %s\n", (unsigned long long) b->line, b->msg);
            else
                fprintf(out, "  item %llu: %s\n", (unsigned long long) b->index, b->msg);
        }
    }
}

static void s_json_counts(vg_jw_t *w, const vg_backtest_report_t *rep, const vg_backtest_rule_t *x)
{
    vg_jw_kint(w, "hits", (int64_t) x->hits);
    if (!rep->labelled) return;
    vg_jw_kint(w, "tp", (int64_t) x->tp);
    vg_jw_knum(w, "precision", x->precision);
    vg_jw_knum(w, "recall", x->recall);
}

void vg_backtest_json(const vg_backtest_report_t *rep, const vg_ruleset_t *rs, vg_jw_t *w)
{
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "items", (int64_t) rep->items);
    vg_jw_kint(w, "evaluated", (int64_t) rep->evaluated);
    vg_jw_kint(w, "bad", (int64_t) rep->bad);
    vg_jw_kint(w, "duplicates", (int64_t) rep->duplicates);
    vg_jw_kint(w, "late", (int64_t) rep->late);
    vg_jw_kint(w, "users", (int64_t) rep->users);
    vg_jw_key(w, "labels");
    if (rep->labelled) {
        vg_jw_obj_begin(w);
        vg_jw_kint(w, "entries", (int64_t) rep->labels);
        vg_jw_kint(w, "matched", (int64_t) rep->labels_matched);
        vg_jw_kint(w, "positives", (int64_t) rep->positives);
        vg_jw_obj_end(w);
    } else {
        vg_jw_null(w);
    }
    vg_jw_key(w, "rules");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < rep->n_rules; i++) {
        const vg_rule_meta_t *m = vg_ruleset_rule(rs, i);
        vg_jw_obj_begin(w);
        vg_jw_kcstr(w, "id", m->id);
        vg_jw_kcstr(w, "mode", s_mode(m));
        s_json_counts(w, rep, &rep->rules[i]);
        vg_jw_kint(w, "errors", (int64_t) rep->rules[i].errors);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    vg_jw_key(w, "any");
    vg_jw_obj_begin(w);
    s_json_counts(w, rep, &rep->any);
    vg_jw_obj_end(w);
    vg_jw_key(w, "bad_items");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < rep->n_bad_kept; i++) {
        const vg_backtest_bad_t *b = &rep->bad_kept[i];
        vg_jw_obj_begin(w);
        if (b->line) vg_jw_kint(w, "line", (int64_t) b->line);
        vg_jw_kint(w, "index", (int64_t) b->index);
        vg_jw_kcstr(w, "message", b->msg);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
}
