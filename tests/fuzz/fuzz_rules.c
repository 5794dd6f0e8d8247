/* fuzz_rules.c: libFuzzer target for the rule compiler, the rule VM and
 * the list parser. Properties: a refusal has a code, a message and a
 * position inside the input; an accepted rule set evaluates against a few
 * fixed transactions (full, empty, attributes of both kinds, odd numbers;
 * with and without features) and vg_ruleset_eval agrees with
 * vg_ruleset_eval_one rule by rule. */
#include "vg_err.h"
#include "vg_mem.h"
#include "vg_rules.h"

#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_TX 4

static vg_rule_lists_t *s_lists;
static vg_tx_t s_tx[N_TX];
static vg_features_t s_feat[2];

static void s_init(void)
{
    s_lists = vg_rule_lists_new();
    const char *blocked[] = {"m1", "m2", "", "UPPER"};
    VG_ASSERT(vg_rule_lists_add(s_lists, "blocked_merchants", blocked, 4) == 0);
    const char *countries[] = {"KP", "IR", "RU"};
    VG_ASSERT(vg_rule_lists_add(s_lists, "risky_countries", countries, 3) == 0);
    for (int i = 0; i < N_TX; i++) vg_tx_init(&s_tx[i]);
    vg_tx_t *t = &s_tx[0]; /* everything set */
    t->id = vg_str_c("tx-1");
    t->user_id = vg_str_c("u1");
    t->amount = 1234.5;
    memcpy(t->currency, "USD", 4);
    memcpy(t->country, "RU", 3);
    t->merchant_id = vg_str_c("m1");
    t->merchant_category = vg_str_c("Electronics");
    t->channel = vg_str_c("web");
    t->device_id = vg_str_c("d");
    t->ip = vg_str_c("10.0.0.1");
    t->lat = 1.5;
    t->lon = -2.5;
    t->ts_ms = 1700000000000LL;
    t->n_attrs = 3;
    t->attrs[0] =
        (vg_tx_attr_t){.key = vg_str_c("tier"), .str = vg_str_c("gold"), .kind = VG_ATTR_STR};
    t->attrs[1] = (vg_tx_attr_t){.key = vg_str_c("risk"), .num = 0.5, .kind = VG_ATTR_NUM};
    t->attrs[2] = (vg_tx_attr_t){.key = vg_str_c("x"), .str = vg_str_c(""), .kind = VG_ATTR_STR};
    /* s_tx[1]: nothing set (amount 0, timestamp 0, absent strings, NaN geo) */
    t = &s_tx[2]; /* the same attribute names with the other types */
    *t = s_tx[0];
    t->attrs[0] = (vg_tx_attr_t){.key = vg_str_c("tier"), .num = -1, .kind = VG_ATTR_NUM};
    t->attrs[1] =
        (vg_tx_attr_t){.key = vg_str_c("risk"), .str = vg_str_c("high"), .kind = VG_ATTR_STR};
    t->attrs[2] = (vg_tx_attr_t){.key = vg_str_c("x"), .num = 0, .kind = VG_ATTR_NUM};
    t->ts_ms = -1;
    t = &s_tx[3]; /* extremes */
    *t = s_tx[0];
    t->amount = 1e15;
    t->ts_ms = 253402300799999LL;
    t->country[0] = 0;
    t->merchant_id = vg_str_c("");
    t->n_attrs = VG_TX_ATTR_MAX;
    for (int i = 3; i < VG_TX_ATTR_MAX; i++)
        t->attrs[i] = (vg_tx_attr_t){.key = vg_str_c("k"), .num = i, .kind = VG_ATTR_NUM};
    double *f = (double *) &s_feat[0];
    for (int i = 0; i < VG_FEATURE_COUNT; i++) f[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? 0 : 1e300;
    f = (double *) &s_feat[1];
    for (int i = 0; i < VG_FEATURE_COUNT; i++) f[i] = i - 10;
}

static void s_check_error(const vg_rules_err_t *err, int rc, const char *src, size_t size)
{
    VG_ASSERT(rc < 0 && err->code == rc && err->msg[0]);
    VG_ASSERT(strcmp(err->file, "fuzz.vr") == 0);
    VG_ASSERT(err->line >= 0 && err->col >= 0);
    if (err->line == 0) return;
    /* the position is inside the input (or just past its end) */
    int lines = 1;
    for (size_t i = 0; i < size; i++) lines += src[i] == '\n';
    VG_ASSERT(err->line <= lines && err->col >= 1);
}

static void s_eval(const vg_ruleset_t *rs)
{
    size_t n_rules = vg_ruleset_count(rs);
    vg_rule_hit_t hits[64];
    for (int t = 0; t < N_TX; t++) {
        for (int k = 0; k < 3; k++) {
            const vg_features_t *f = k < 2 ? &s_feat[k] : NULL;
            size_t n = vg_ruleset_eval(rs, &s_tx[t], f, hits, 64);
            size_t enabled = 0, agree = 0;
            for (size_t i = 0; i < n_rules; i++) {
                const vg_rule_meta_t *m = vg_ruleset_rule(rs, i);
                VG_ASSERT(m && m->id[0] && m->name && m->when_src && m->weight >= 0 &&
                          m->weight <= 1);
                const char *why = NULL;
                vg_rule_result r = vg_ruleset_eval_one(rs, i, &s_tx[t], f, &why);
                VG_ASSERT(r == VG_RULE_ERROR ? why && why[0] : r >= 0 && r <= 2);
                if (!m->enabled) continue;
                enabled++;
                if (r == VG_RULE_TRUE) agree++;
            }
            VG_ASSERT(n <= enabled && n == agree);
            for (size_t i = 0; i < n && i < 64; i++) VG_ASSERT(hits[i].rule < n_rules);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_lists) s_init();
    /* copy so reads past the end are caught by ASan */
    char *src = vg_malloc(size ? size : 1);
    memcpy(src, data, size);
    vg_ruleset_t *rs = NULL;
    vg_rules_err_t err;
    int rc = vg_ruleset_compile(src, size, "fuzz.vr", s_lists, &rs, &err);
    if (rc) {
        VG_ASSERT(rs == NULL);
        s_check_error(&err, rc, src, size);
    } else {
        VG_ASSERT(rs != NULL && vg_ruleset_count(rs) <= VG_RULES_MAX_RULES);
        s_eval(rs);
        for (size_t i = 0; i < vg_ruleset_count(rs); i++)
            VG_ASSERT(vg_ruleset_find(rs, vg_ruleset_rule(rs, i)->id) == (int) i);
        vg_ruleset_destroy(&rs);
    }
    /* the same bytes as a list file */
    vg_rule_lists_t *lists = vg_rule_lists_new();
    rc = vg_rule_lists_parse(lists, "fz", src, size, &err);
    VG_ASSERT(rc == 0 ? vg_rule_lists_has(lists, "fz") : err.code == rc && err.line > 0);
    vg_rule_lists_destroy(&lists);
    free(src);
    return 0;
}
