/* test_rules.c: the rule language end to end: the example file,
 * every operator and function, precedence, SQL three-valued logic, in /
 * between / is null, attributes (number, string, missing, wrong type),
 * named lists (loaded, parsed, inline, kept by a compiled ruleset),
 * compile errors with exact file:line:col messages, limits, shadow and
 * disabled rules, counters (also from two threads), and the backtest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_err.h"
#include "vg_mem.h"
#include "vg_rules.h"
#include "vg_rules_backtest.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1700000000000LL /* 2023-11-14T22:13:20Z: hour 22 */

static vg_tx_t s_tx;
static vg_features_t s_f;
static vg_rule_lists_t *s_lists;

static void s_make_tx(vg_tx_t *tx, vg_features_t *f)
{
    vg_tx_init(tx);
    tx->id = vg_str_c("t1");
    tx->user_id = vg_str_c("u1");
    tx->amount = 150;
    memcpy(tx->currency, "USD", 4);
    memcpy(tx->country, "FR", 3);
    tx->merchant_id = vg_str_c("m42");
    tx->merchant_category = vg_str_c("Electronics");
    tx->channel = vg_str_c("web");
    tx->device_id = vg_str_c("dev-1");
    tx->ip = vg_str_c("10.0.0.1");
    tx->lat = 48.85;
    tx->lon = 2.35;
    tx->ts_ms = T0;
    tx->n_attrs = 3;
    tx->attrs[0] =
        (vg_tx_attr_t){.key = vg_str_c("tier"), .str = vg_str_c("gold"), .kind = VG_ATTR_STR};
    tx->attrs[1] = (vg_tx_attr_t){.key = vg_str_c("risk"), .num = 0.75, .kind = VG_ATTR_NUM};
    tx->attrs[2] = (vg_tx_attr_t){.key = vg_str_c("odd key"), .num = 3, .kind = VG_ATTR_NUM};
    double *v = (double *) f;
    for (int i = 0; i < VG_FEATURE_COUNT; i++) v[i] = i;
    f->amount = 150;
    f->count_1h = 7;
    f->amount_to_median = 4.5;
    f->speed_kmh = NAN;
    f->distance_km = NAN;
    f->new_device = 1;
}

static int s_setup(void **state)
{
    (void) state;
    s_make_tx(&s_tx, &s_f);
    s_lists = vg_rule_lists_new();
    const char *blocked[] = {"m13", "m42", "m99"};
    assert_int_equal(vg_rule_lists_add(s_lists, "blocked_merchants", blocked, 3), 0);
    const char *countries[] = {"KP", "IR"};
    assert_int_equal(vg_rule_lists_add(s_lists, "risky_countries", countries, 2), 0);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    vg_rule_lists_destroy(&s_lists);
    assert_null(s_lists);
    return 0;
}

static vg_ruleset_t *s_compile(const char *src)
{
    vg_ruleset_t *rs = NULL;
    vg_rules_err_t err;
    char msg[512];
    int rc = vg_ruleset_compile(src, strlen(src), "t.vr", s_lists, &rs, &err);
    if (rc) fail_msg("compile failed: %s\n%s", vg_rules_err_str(&err, msg, sizeof msg), src);
    return rs;
}

/* "rule r { when = cond }" against s_tx and s_f. */
static vg_rule_result s_eval(const char *cond, const char **why)
{
    char src[4096];
    snprintf(src, sizeof src, "rule r {\n  when = %s\n}\n", cond);
    vg_ruleset_t *rs = s_compile(src);
    vg_rule_result r = vg_ruleset_eval_one(rs, 0, &s_tx, &s_f, why);
    vg_ruleset_destroy(&rs);
    return r;
}

static const char *s_res_name(int r)
{
    switch (r) {
    case VG_RULE_TRUE: return "TRUE";
    case VG_RULE_FALSE: return "FALSE";
    case VG_RULE_NULL: return "NULL";
    default: return "ERROR";
    }
}

typedef struct {
    const char *cond;
    int want;
} s_case_t;

#define T VG_RULE_TRUE
#define F VG_RULE_FALSE
#define N VG_RULE_NULL
#define E VG_RULE_ERROR

static void s_cases(const s_case_t *c, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        int got = s_eval(c[i].cond, NULL);
        if (got != c[i].want) {
            print_error("  %s: got %s, want %s\n", c[i].cond, s_res_name(got),
                        s_res_name(c[i].want));
            bad++;
        }
    }
    if (bad) fail_msg("%d case(s) failed", bad);
}

/* Compiling src fails with exactly `want` ("t.vr:line:col: message"). */
static void s_expect_error(const char *src, int code, const char *want)
{
    vg_ruleset_t *rs = (vg_ruleset_t *) 1;
    vg_rules_err_t err;
    char msg[512];
    int rc = vg_ruleset_compile(src, strlen(src), "t.vr", s_lists, &rs, &err);
    if (rc == 0) fail_msg("compiled, but should fail with: %s\n%s", want, src);
    assert_null(rs);
    vg_rules_err_str(&err, msg, sizeof msg);
    if (strcmp(msg, want) != 0) fail_msg("error\n  got:  %s\n  want: %s\n%s", msg, want, src);
    assert_int_equal(rc, err.code);
    if (code) assert_int_equal(rc, code);
}

/* ---- the file format ------------------------------------------------------------ */

static const char s_example[] = "# fraud rules, version 7\n"
                                "list vip_users { \"u9\", \"u10\", }\n"
                                "\n"
                                "rule big_foreign {\n"
                                "  name     = \"Large purchase abroad\"\n"
                                "  severity = high\n"
                                "  action   = review\n"
                                "  when     = amount > 100 and country not in (\"US\", \"CA\")\n"
                                "}\n"
                                "\n"
                                "rule blocked_merchant {   // a named list\n"
                                "  description = \"merchant on the block list\"\n"
                                "  severity = CRITICAL\n"
                                "  action = block\n"
                                "  when = merchant_id in list \"blocked_merchants\"\n"
                                "         and user_id not in list \"vip_users\"\n"
                                "}\n"
                                "\n"
                                "rule night_burst {\n"
                                "  mode = shadow\n"
                                "  weight = 0.4\n"
                                "  when = hour between 22 and 23 and\n"
                                "         count_1h >= 5\n"
                                "}\n"
                                "\n"
                                "rule off { enabled = false; when = true }\n"
                                "rule low_one { severity = low  when = amount < 10 }\n";

static void test_example_file(void **state)
{
    (void) state;
    vg_ruleset_t *rs = s_compile(s_example);
    assert_int_equal(vg_ruleset_count(rs), 5);
    const vg_rule_meta_t *m = vg_ruleset_rule(rs, 0);
    assert_string_equal(m->id, "big_foreign");
    assert_string_equal(m->name, "Large purchase abroad");
    assert_string_equal(m->description, "");
    assert_int_equal(m->severity, VG_SEV_HIGH);
    assert_int_equal(m->action, VG_RULE_REVIEW);
    assert_float_equal(m->weight, 0.8, 1e-12);
    assert_true(m->enabled);
    assert_false(m->shadow);
    assert_int_equal(m->line, 4);
    assert_string_equal(m->when_src, "amount > 100 and country not in (\"US\", \"CA\")");
    m = vg_ruleset_rule(rs, 1);
    assert_string_equal(m->name, "blocked_merchant"); /* defaults to the id */
    assert_string_equal(m->description, "merchant on the block list");
    assert_int_equal(m->severity, VG_SEV_CRITICAL);
    assert_int_equal(m->action, VG_RULE_BLOCK);
    assert_float_equal(m->weight, 0.95, 1e-12);
    assert_string_equal(m->when_src, "merchant_id in list \"blocked_merchants\"\n"
                                     "         and user_id not in list \"vip_users\"");
    m = vg_ruleset_rule(rs, 2);
    assert_true(m->shadow);
    assert_float_equal(m->weight, 0.4, 1e-12);
    assert_int_equal(m->severity, VG_SEV_MEDIUM);
    assert_int_equal(m->action, VG_RULE_FLAG);
    assert_false(vg_ruleset_rule(rs, 3)->enabled);
    assert_float_equal(vg_ruleset_rule(rs, 4)->weight, 0.3, 1e-12);
    assert_null(vg_ruleset_rule(rs, 5));
    assert_int_equal(vg_ruleset_find(rs, "night_burst"), 2);
    assert_int_equal(vg_ruleset_find(rs, "nope"), -1);
    assert_int_equal(vg_ruleset_find(rs, NULL), -1);
    /* compact: `amount > 100 and country not in ("US", "CA")` is 7 instructions */
    assert_int_equal(vg_ruleset_code_size(rs, 0), 7);

    vg_rule_hit_t hits[8];
    size_t n = vg_ruleset_eval(rs, &s_tx, &s_f, hits, 8);
    assert_int_equal(n, 3);
    assert_int_equal(hits[0].rule, 0);
    assert_false(hits[0].shadow);
    assert_int_equal(hits[1].rule, 1);
    assert_int_equal(hits[2].rule, 2);
    assert_true(hits[2].shadow);
    /* the off rule (`when = true`) is never evaluated */
    uint64_t h, e;
    vg_ruleset_stats(rs, 3, &h, &e);
    assert_int_equal(h, 0);
    /* a vip user is exempt; more hits than cap are counted, not written */
    vg_tx_t vip = s_tx;
    vip.user_id = vg_str_c("u9");
    n = vg_ruleset_eval(rs, &vip, &s_f, hits, 1);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].rule, 0);
    assert_int_equal(vg_ruleset_eval(rs, &vip, &s_f, NULL, 0), 2);
    vg_ruleset_stats(rs, 0, &h, &e);
    assert_int_equal(h, 3);
    assert_int_equal(e, 0);
    vg_ruleset_stats(rs, 1, &h, NULL);
    assert_int_equal(h, 1);
    vg_ruleset_destroy(&rs);
    assert_null(rs);
    vg_ruleset_destroy(&rs);
    vg_ruleset_destroy(NULL);
}

static void test_empty_and_comments(void **state)
{
    (void) state;
    vg_ruleset_t *rs = s_compile("");
    assert_int_equal(vg_ruleset_count(rs), 0);
    assert_int_equal(vg_ruleset_eval(rs, &s_tx, &s_f, NULL, 0), 0);
    vg_ruleset_destroy(&rs);
    rs = s_compile("# only a comment\n// and another\n\n");
    assert_int_equal(vg_ruleset_count(rs), 0);
    vg_ruleset_destroy(&rs);
    rs = s_compile("RULE a { WHEN = amount > 1 # trailing\n // x\n AND true }");
    assert_int_equal(vg_ruleset_eval_one(rs, 0, &s_tx, &s_f, NULL), VG_RULE_TRUE);
    vg_ruleset_destroy(&rs);
    /* src need not be NUL-terminated; a NULL filename reads <rules> */
    const char src[] = "rule a { when = true }XXXX";
    vg_rules_err_t err;
    assert_int_equal(vg_ruleset_compile(src, sizeof src - 5, NULL, NULL, &rs, &err), 0);
    vg_ruleset_destroy(&rs);
    assert_int_not_equal(vg_ruleset_compile(src, sizeof src - 1, NULL, NULL, &rs, &err), 0);
    char msg[256];
    assert_string_equal(vg_rules_err_str(&err, msg, sizeof msg),
                        "<rules>:1:23: expected 'rule' or 'list', got name 'XXXX'");
}

/* ---- the language --------------------------------------------------------------- */

static void test_comparisons_and_literals(void **state)
{
    (void) state;
    static const s_case_t c[] = {
        {"amount = 150", T},
        {"amount == 150", T},
        {"amount != 150", F},
        {"amount <> 151", T},
        {"amount < 150", F},
        {"amount <= 150", T},
        {"amount > 149.5", T},
        {"amount >= 150.0001", F},
        {"1_000 = 1000", T},
        {"1e3 = 1000", T},
        {"2.5e-1 = 0.25", T},
        {"1E+2 = 100", T},
        {"currency = \"USD\"", T},
        {"currency = \"usd\"", F},
        {"country < \"GB\"", T},
        {"\"ab\" < \"abc\"", T},
        {"\"b\" > \"abc\"", T},
        {"\"\" = \"\"", T},
        {"channel >= \"web\"", T},
        {"true = true", T},
        {"true != false", T},
        {"TRUE = True", T},
        {"\"a\\\"b\" = \"a\\\"b\"", T},
        {"len(\"a\\\\b\") = 3", T},
        {"len(\"a\\nb\\t\") = 4", T},
        {"(amount > 100) = true", T},
    };
    s_cases(c, VG_ARRAY_LEN(c));
}

static void test_arithmetic_and_precedence(void **state)
{
    (void) state;
    static const s_case_t c[] = {
        {"2 + 3 * 4 = 14", T},
        {"(2 + 3) * 4 = 20", T},
        {"10 - 4 - 3 = 3", T}, /* left-associative */
        {"100 / 10 / 5 = 2", T},
        {"2 * 3 % 4 = 2", T},
        {"7 % 3 = 1", T},
        {"-7 % 3 = -1", T},
        {"-2 * 3 = -6", T},
        {"- -2 = 2", T},
        {"-(amount) = -150", T},
        {"amount * 2 - 100 = 200", T},
        {"amount / 4 = 37.5", T},
        {"amount_to_median * 2 > 8", T},
        {"1 + 2 > 2 and 1 < 2", T},
        {"true or true and false", T}, /* or binds weaker than and */
        {"(true or true) and false", F},
        {"false and true or true", T},
        {"false and (true or true)", F},
        {"not amount = 150", F}, /* not (amount = 150) */
        {"not amount > 1000 and country = \"FR\"", T},
        {"not (amount > 1000 and country = \"FR\")", T},
        {"not not true", T},
        {"NOT false AND NOT false OR false", T},
        {"amount between 100 + 40 and 150 * 1", T},
        {"amount + 1 in (151, 152)", T},
        {"amount / (count_1h - 7) > 1", E}, /* division by zero at run time */
        {"amount % (count_1h - 7) > 1", E},
        {"1e308 * 10 > 1", T}, /* overflow gives infinity, not an error */
    };
    s_cases(c, VG_ARRAY_LEN(c));
    const char *why = NULL;
    assert_int_equal(s_eval("amount / (count_1h - 7) > 1", &why), VG_RULE_ERROR);
    assert_string_equal(why, "division by zero");
}

/* The truth tables of SQL three-valued logic, with N a null boolean. */
static void test_null_semantics(void **state)
{
    (void) state;
    static const s_case_t c[] = {
        /* a null boolean, a true and a false one */
        {"attributes.nope = 1", N},
        {"speed_kmh > 100", N},
        {"speed_kmh + 1 > 0", N},
        {"-speed_kmh < 0", N},
        {"speed_kmh is null", T},
        {"speed_kmh is not null", F},
        {"amount is null", F},
        {"amount IS NOT NULL", T},
        {"not (speed_kmh > 1)", N},
        {"(speed_kmh > 1) and true", N},
        {"(speed_kmh > 1) and false", F},
        {"false and (speed_kmh > 1)", F},
        {"(speed_kmh > 1) and (speed_kmh > 1)", N},
        {"(speed_kmh > 1) or true", T},
        {"true or (speed_kmh > 1)", T},
        {"(speed_kmh > 1) or false", N},
        {"(speed_kmh > 1) or (speed_kmh > 1)", N},
        {"(speed_kmh > 1) is null", T},
        {"null is null", T},
        {"null", N},
        {"not null", N},
        {"null and false", F},
        {"null or true", T},
        {"null + 1 is null", T},
        {"speed_kmh * 0 = 0", N},
        {"speed_kmh / (count_1h - 7) > 1", N}, /* null / 0 is null */
        {"distance_km between 0 and 1", N},
        {"amount between speed_kmh and 200", N},
        {"amount between 200 and speed_kmh", F}, /* false and null */
        {"amount not between 200 and speed_kmh", T},
        {"abs(speed_kmh) is null", T},
        {"min(speed_kmh, 1) is null", T},
        {"lower(attributes.nope) is null", T},
        {"len(attributes.nope) is null", T},
        {"starts_with(attributes.nope, \"a\") is null", T},
        {"coalesce(speed_kmh, 5) = 5", T},
        {"coalesce(amount, 5) = 150", T},
        {"coalesce(attributes.nope, \"x\") = \"x\"", T},
    };
    s_cases(c, VG_ARRAY_LEN(c));
}

static void test_absent_fields_are_null(void **state)
{
    (void) state;
    vg_tx_t saved = s_tx;
    s_tx.country[0] = 0;
    s_tx.merchant_id = VG_STR_NULL;
    s_tx.lat = s_tx.lon = NAN;
    s_tx.channel = vg_str_c(""); /* present but empty: not null */
    static const s_case_t c[] = {
        {"country is null", T},
        {"country = \"FR\"", N},
        {"country != \"FR\"", N},
        {"merchant_id is null", T},
        {"merchant_id in list \"blocked_merchants\"", N},
        {"merchant_id not in list \"blocked_merchants\"", N},
        {"lat is null and lon is null", T},
        {"channel is null", F},
        {"channel = \"\"", T},
        {"len(channel) = 0", T},
    };
    s_cases(c, VG_ARRAY_LEN(c));
    /* without a feature snapshot every feature is null */
    vg_ruleset_t *rs = s_compile("rule a { when = count_1h is null and amount is not null }");
    assert_int_equal(vg_ruleset_eval_one(rs, 0, &s_tx, NULL, NULL), VG_RULE_TRUE);
    assert_int_equal(vg_ruleset_eval(rs, &s_tx, NULL, NULL, 0), 1);
    vg_ruleset_destroy(&rs);
    s_tx = saved;
}

static void test_fields_and_features(void **state)
{
    (void) state;
    static const s_case_t c[] = {
        {"id = \"t1\" and user_id = \"u1\"", T},
        {"currency = \"USD\" and country = \"FR\"", T},
        {"merchant_id = \"m42\" and merchant_category = \"Electronics\"", T},
        {"channel = \"web\" and device_id = \"dev-1\" and ip = \"10.0.0.1\"", T},
        {"lat = 48.85 and lon = 2.35", T},
        {"timestamp = 1700000000000", T},
        {"hour = 22", T},
        {"hour_of_day = 23", T}, /* the feature is whatever the snapshot says */
        {"count_1h = 7 and new_device = 1 and amount_to_median = 4.5", T},
        {"n_prior = 2 and late = 31", T},
    };
    s_cases(c, VG_ARRAY_LEN(c));
    /* every feature of VG_FEATURE_LIST is a name */
    for (int i = 0; i < VG_FEATURE_COUNT; i++) {
        char cond[128];
        snprintf(cond, sizeof cond, "%s is null or %s >= 0", vg_feature_name(i),
                 vg_feature_name(i));
        assert_int_equal(s_eval(cond, NULL), VG_RULE_TRUE);
    }
    /* hour is the UTC hour of the event time, also before 1970 */
    vg_tx_t saved = s_tx;
    s_tx.ts_ms = -1;
    assert_int_equal(s_eval("hour = 23", NULL), VG_RULE_TRUE);
    s_tx.ts_ms = 3600000LL * 24 * 365 + 3600000LL * 5 + 1;
    assert_int_equal(s_eval("hour = 5", NULL), VG_RULE_TRUE);
    s_tx = saved;
}

static void test_in_and_between(void **state)
{
    (void) state;
    static const s_case_t c[] = {
        {"country in (\"FR\", \"DE\")", T},
        {"country in (\"US\")", F},
        {"country not in (\"US\", \"CA\")", T},
        {"country not in (\"FR\")", F},
        {"country in (\"US\", null)", N},
        {"country in (\"FR\", null)", T},
        {"country not in (\"US\", null)", N},
        {"country not in (\"FR\", null)", F},
        {"speed_kmh in (1, 2)", N},
        {"speed_kmh not in (1, 2)", N},
        {"attributes.nope in (\"a\")", N},
        {"amount in (1, 2, 150)", T},
        {"amount in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 150, 149)", T}, /* sorted, binary search */
        {"amount in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 151, 149)", F},
        {"amount in (150, 150, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6)", T},
        {"amount in (-1, -2.5, 1e3)", F},
        {"-2.5 in (-1, -2.5, 1e3)", T},
        {"merchant_id in (\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\", \"m42\")",
         T},
        {"merchant_id in (\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\", \"m4\")",
         F},
        {"merchant_id not in (\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\", null)",
         N},
        {"amount in (count_1h, 150)", T}, /* non-constant values */
        {"amount in (count_1h, 149)", F},
        {"amount in (count_1h, speed_kmh)", N},
        {"amount in (150, speed_kmh)", T},
        {"amount not in (count_1h * 10, 1)", T},
        {"lower(currency) in (lower(\"USD\"), \"x\")", T},
        {"(amount > 1) in (true)", T},
        {"attributes.tier in (\"gold\", \"silver\")", T},
        {"attributes.risk in (0.5, 0.75)", T},
        {"attributes.risk in (\"a\", \"b\")", E},
        {"attributes.risk in (attributes.tier, 1)", E},
        {"amount between 100 and 200", T},
        {"amount between 150 and 150", T}, /* inclusive */
        {"amount between 151 and 200", F},
        {"amount not between 100 and 200", F},
        {"amount not between 151 and 200", T},
        {"amount between 200 and 100", F},
        {"country between \"DE\" and \"GB\"", T},
        {"attributes.risk between 0 and 1", T},
        {"attributes.tier between \"a\" and \"z\"", T},
        {"attributes.tier between 0 and 1", E},
        {"amount between 1 and 2 or amount between 100 and 200", T},
    };
    s_cases(c, VG_ARRAY_LEN(c));
}

static void test_string_functions(void **state)
{
    (void) state;
    static const s_case_t c[] = {
        {"lower(merchant_category) = \"electronics\"", T},
        {"upper(merchant_category) = \"ELECTRONICS\"", T},
        {"LOWER(\"ÄbC\") = \"Äbc\"", T}, /* ASCII letters only */
        {"lower(upper(lower(channel))) = channel", T},
        {"starts_with(merchant_category, \"Elec\")", T},
        {"starts_with(merchant_category, \"elec\")", F},
        {"starts_with(channel, \"\")", T},
        {"starts_with(\"ab\", \"abc\")", F},
        {"ends_with(ip, \".1\")", T},
        {"ends_with(ip, \"10.0.0.1.\")", F},
        {"contains(merchant_category, \"tron\")", T},
        {"contains(merchant_category, \"xyz\")", F},
        {"contains(lower(merchant_category), lower(\"TRON\"))", T},
        {"len(merchant_category) = 11", T},
        {"len(\"héllo\") = 5", T}, /* characters, not bytes */
        {"len(\"\") = 0", T},
        {"abs(-3) = 3 and abs(amount) = 150", T},
        {"min(amount, 10) = 10 and max(amount, 10) = 150", T},
        {"min(-1, -2) = -2 and max(-1, -2) = -1", T},
        {"lower(attributes.tier) = \"gold\"", T},
        {"len(attributes.tier) = 4", T},
        {"lower(attributes.risk) = \"x\"", E},
        {"abs(attributes.tier) > 1", E},
        {"max(attributes.risk, 1) = 1", T},
        {"contains(attributes.tier, attributes.tier)", T},
    };
    s_cases(c, VG_ARRAY_LEN(c));
}

static void test_attributes(void **state)
{
    (void) state;
    static const s_case_t c[] = {
        {"attributes.tier = \"gold\"", T},
        {"attributes.tier != \"gold\"", F},
        {"attributes.risk > 0.5", T},
        {"attributes.risk * 100 = 75", T},
        {"attributes[\"odd key\"] = 3", T},
        {"attributes[\"tier\"] = attributes.tier", T},
        {"attributes.missing = \"x\"", N},
        {"attributes.missing is null", T},
        {"attributes.tier is not null", T},
        {"attributes.Tier is null", T}, /* names are case-sensitive */
        {"attributes.tier > 5", E},
        {"attributes.risk = \"high\"", E},
        {"attributes.tier + 1 > 0", E},
        {"-attributes.tier < 0", E},
        {"attributes.tier = attributes.risk", E},
        {"attributes.tier in list \"blocked_merchants\"", F},
        {"attributes.risk in list \"blocked_merchants\"", E},
        {"attributes.missing in list \"blocked_merchants\"", N},
        /* an error in a branch that is not evaluated does not count */
        {"false and attributes.tier > 5", F},
        {"true or attributes.tier > 5", T},
    };
    s_cases(c, VG_ARRAY_LEN(c));
    const char *why = NULL;
    assert_int_equal(s_eval("attributes.tier > 5", &why), VG_RULE_ERROR);
    assert_non_null(strstr(why, "type mismatch"));

    /* runtime errors: the rule does not hit, its error counter moves */
    vg_ruleset_t *rs = s_compile("rule bad { when = attributes.tier > 5 }\n"
                                 "rule good { when = attributes.risk > 0.5 }\n"
                                 "rule div { when = amount / (count_1h - 7) > 1 }\n");
    vg_rule_hit_t hits[4];
    for (int i = 0; i < 3; i++) assert_int_equal(vg_ruleset_eval(rs, &s_tx, &s_f, hits, 4), 1);
    assert_int_equal(hits[0].rule, 1);
    uint64_t h, e;
    vg_ruleset_stats(rs, 0, &h, &e);
    assert_int_equal(h, 0);
    assert_int_equal(e, 3);
    vg_ruleset_stats(rs, 1, &h, &e);
    assert_int_equal(h, 3);
    assert_int_equal(e, 0);
    vg_ruleset_stats(rs, 2, &h, &e);
    assert_int_equal(e, 3);
    /* eval_one leaves the counters alone */
    vg_ruleset_eval_one(rs, 0, &s_tx, &s_f, NULL);
    vg_ruleset_stats(rs, 0, NULL, &e);
    assert_int_equal(e, 3);
    vg_ruleset_destroy(&rs);
}

static void test_named_lists(void **state)
{
    (void) state;
    static const s_case_t c[] = {
        {"merchant_id in list \"blocked_merchants\"", T},
        {"merchant_id not in list \"blocked_merchants\"", F},
        {"country in list \"risky_countries\"", F},
        {"country not in list risky_countries", T}, /* a bare name works too */
        {"lower(merchant_id) IN LIST \"blocked_merchants\"", T},
    };
    s_cases(c, VG_ARRAY_LEN(c));

    vg_rule_lists_t *lists = vg_rule_lists_new();
    vg_rules_err_t err;
    const char text[] = "# merchants\n  m1  \r\n\n#m2\nm3\nm 4\nm1\n";
    assert_int_equal(vg_rule_lists_parse(lists, "merchants", text, strlen(text), &err), 0);
    assert_int_equal(vg_rule_lists_count(lists), 1);
    assert_true(vg_rule_lists_has(lists, "merchants"));
    assert_false(vg_rule_lists_has(lists, "other"));
    const char *src = "rule a { when = merchant_id in list \"merchants\" }";
    vg_ruleset_t *rs = NULL;
    assert_int_equal(vg_ruleset_compile(src, strlen(src), "t.vr", lists, &rs, &err), 0);
    const char *ids[] = {"m1", "m3", "m 4", "m2", "#m2", " m1", ""};
    int want[] = {T, T, T, F, F, F, F};
    vg_tx_t tx = s_tx;
    for (size_t i = 0; i < VG_ARRAY_LEN(ids); i++) {
        tx.merchant_id = vg_str_c(ids[i]);
        assert_int_equal(vg_ruleset_eval_one(rs, 0, &tx, &s_f, NULL), want[i]);
    }
    /* replacing or destroying the lists leaves the compiled ruleset as it was */
    const char *other[] = {"m2"};
    assert_int_equal(vg_rule_lists_add(lists, "merchants", other, 1), 0);
    assert_int_equal(vg_rule_lists_count(lists), 1);
    vg_rule_lists_destroy(&lists);
    tx.merchant_id = vg_str_c("m1");
    assert_int_equal(vg_ruleset_eval_one(rs, 0, &tx, &s_f, NULL), VG_RULE_TRUE);
    tx.merchant_id = vg_str_c("m2");
    assert_int_equal(vg_ruleset_eval_one(rs, 0, &tx, &s_f, NULL), VG_RULE_FALSE);
    vg_ruleset_destroy(&rs);

    /* bad names and values */
    lists = vg_rule_lists_new();
    const char *ok[] = {"a"}, *bad_utf8[] = {"\xff"};
    assert_int_equal(vg_rule_lists_add(lists, "bad name", ok, 1), VG_ERR_INVALID);
    assert_int_equal(vg_rule_lists_add(lists, "", ok, 1), VG_ERR_INVALID);
    assert_int_equal(vg_rule_lists_add(lists, "x", bad_utf8, 1), VG_ERR_INVALID);
    assert_int_equal(vg_rule_lists_add(lists, "x.y-z_1", ok, 1), 0);
    assert_int_equal(vg_rule_lists_add(lists, "empty", NULL, 0), 0);
    char msg[256];
    assert_int_equal(vg_rule_lists_parse(lists, "x", "a\nb\n\xfe\n", 6, &err), VG_ERR_INVALID);
    assert_string_equal(vg_rules_err_str(&err, msg, sizeof msg), "x:3:1: value is not valid UTF-8");
    assert_int_equal(vg_rule_lists_parse(lists, "no/slash", "a", 1, &err), VG_ERR_INVALID);
    assert_int_equal(vg_rule_lists_count(lists), 2); /* failures change nothing */
    src = "rule a { when = merchant_id in list \"empty\" }";
    assert_int_equal(vg_ruleset_compile(src, strlen(src), "t.vr", lists, &rs, &err), 0);
    assert_int_equal(vg_ruleset_eval_one(rs, 0, &s_tx, &s_f, NULL), VG_RULE_FALSE);
    vg_ruleset_destroy(&rs);

    /* inline lists; a name defined in both places is an error */
    src = "list \"x.y-z_1\" { \"m42\" }\nrule a { when = merchant_id in list \"x.y-z_1\" }";
    assert_int_equal(vg_ruleset_compile(src, strlen(src), "t.vr", lists, &rs, &err),
                     VG_ERR_INVALID);
    assert_string_equal(
        vg_rules_err_str(&err, msg, sizeof msg),
        "t.vr:1:6: list 'x.y-z_1' is defined both in this file and in the loaded lists");
    src = "rule a { when = merchant_id in list mine }\nlist mine { \"m42\", \"m43\" }\n"
          "list unused {}\n";
    assert_int_equal(vg_ruleset_compile(src, strlen(src), "t.vr", NULL, &rs, &err), 0);
    assert_int_equal(vg_ruleset_eval_one(rs, 0, &s_tx, &s_f, NULL), VG_RULE_TRUE);
    vg_ruleset_destroy(&rs);
    vg_rule_lists_destroy(&lists);
    vg_rule_lists_destroy(&lists);
}

/* ---- compile errors ----------------------------------------------------------------- */

typedef struct {
    const char *src;
    int code;
    const char *msg;
} s_err_case_t;

static void test_compile_errors(void **state)
{
    (void) state;
    static const s_err_case_t c[] = {
        {"rule a {\n  when = amout > 5\n}", VG_ERR_INVALID,
         "t.vr:2:10: unknown field or feature 'amout' (did you mean 'amount'?)"},
        {"rule a {\n  when = Amount > 5\n}", VG_ERR_INVALID,
         "t.vr:2:10: unknown field or feature 'Amount' (did you mean 'amount'?)"},
        {"rule a {\n  when = bogus_thing > 5\n}", VG_ERR_INVALID,
         "t.vr:2:10: unknown field or feature 'bogus_thing' (expected a transaction field, a "
         "feature or attributes.NAME; see docs/RULES.md)"},
        {"rule a { when = lowr(country) = \"x\" }", VG_ERR_INVALID,
         "t.vr:1:17: unknown function 'lowr' (did you mean 'lower'?)"},
        {"rule a { when = frobnicate(country) }", VG_ERR_INVALID,
         "t.vr:1:17: unknown function 'frobnicate' (expected lower, upper, len, starts_with, "
         "ends_with, contains, abs, min, max or coalesce)"},
        {"rule a {\n  when = amount > \"x\"\n}", VG_ERR_INVALID,
         "t.vr:2:17: cannot compare a number with a string"},
        {"rule a { when = country = 1 }", VG_ERR_INVALID,
         "t.vr:1:25: cannot compare a string with a number"},
        {"rule a { when = (amount > 1) < true }", VG_ERR_INVALID,
         "t.vr:1:30: '<' cannot order booleans"},
        {"rule a { when = country = null }", VG_ERR_INVALID,
         "t.vr:1:25: '=' with null is always null; use 'is null' or 'is not null'"},
        {"rule a { when = null in (1) }", VG_ERR_INVALID,
         "t.vr:1:22: 'in' with null is always null; use 'is null' or 'is not null'"},
        {"rule a { when = amount in (1, \"a\") }", VG_ERR_INVALID,
         "t.vr:1:31: cannot compare a number with a string"},
        {"rule a { when = attributes.x in (1, \"a\") }", VG_ERR_INVALID,
         "t.vr:1:37: the values of 'in' must be of one type, got a number and a string"},
        {"rule a { when = amount in list \"blocked_merchants\" }", VG_ERR_INVALID,
         "t.vr:1:24: 'in list' needs a string, got a number"},
        {"rule a { when = country in list \"nope\" }", VG_ERR_INVALID,
         "t.vr:1:33: unknown list 'nope'"},
        {"rule a { when = country in list \"blocked_merchant\" }", VG_ERR_INVALID,
         "t.vr:1:33: unknown list 'blocked_merchant' (did you mean 'blocked_merchants'?)"},
        {"rule a { when = amount between 1 and \"x\" }", VG_ERR_INVALID,
         "t.vr:1:24: cannot compare a number with a string"},
        {"rule a { when = attributes.x between 1 and \"z\" }", VG_ERR_INVALID,
         "t.vr:1:30: cannot compare a number with a string"},
        {"rule a { when = amount + \"x\" > 1 }", VG_ERR_INVALID,
         "t.vr:1:24: '+' needs a number, got a string"},
        {"rule a { when = -country = 1 }", VG_ERR_INVALID,
         "t.vr:1:17: unary '-' needs a number, got a string"},
        {"rule a { when = not amount }", VG_ERR_INVALID,
         "t.vr:1:17: 'not' needs a boolean, got a number"},
        {"rule a { when = amount and true }", VG_ERR_INVALID,
         "t.vr:1:24: 'and' needs a boolean, got a number"},
        {"rule a { when = true or country }", VG_ERR_INVALID,
         "t.vr:1:22: 'or' needs a boolean, got a string"},
        {"rule a { when = amount + 1 }", VG_ERR_INVALID,
         "t.vr:1:17: 'when' must be a condition, got a number"},
        {"rule a { when = attributes.x = true }", VG_ERR_INVALID,
         "t.vr:1:30: cannot compare an attribute with a boolean"},
        {"rule a { when = lower(amount) = \"x\" }", VG_ERR_INVALID,
         "t.vr:1:17: lower() needs a string, got a number"},
        {"rule a { when = lower(country, 1) = \"x\" }", VG_ERR_INVALID,
         "t.vr:1:17: lower() takes 1 argument, got 2"},
        {"rule a { when = min(1) = 1 }", VG_ERR_INVALID,
         "t.vr:1:17: min() takes 2 arguments, got 1"},
        {"rule a { when = coalesce(country, 1) = 1 }", VG_ERR_INVALID,
         "t.vr:1:17: coalesce() needs arguments of one type, got a string and a number"},
        {"rule a { when = amount / 0 > 1 }", VG_ERR_INVALID, "t.vr:1:24: division by zero"},
        {"rule a { when = amount > 1 < 2 }", VG_ERR_PARSE,
         "t.vr:1:28: comparisons cannot be chained; join them with 'and'"},
        {"rule a {\n  name = \"x\"\n}", VG_ERR_INVALID,
         "t.vr:3:1: rule 'a' has no 'when' (required)"},
        {"rule a { when = true }\n\nrule a { when = false }", VG_ERR_INVALID,
         "t.vr:3:6: duplicate rule id 'a' (first defined at line 1)"},
        {"rule a {\n  severity = huge\n  when = true\n}", VG_ERR_PARSE,
         "t.vr:2:14: expected a severity (low, medium, high or critical), got name 'huge'"},
        {"rule a { action = 3 when = true }", VG_ERR_PARSE,
         "t.vr:1:19: expected an action (flag, review or block), got number 3"},
        {"rule a { mode = passive when = true }", VG_ERR_PARSE,
         "t.vr:1:17: expected a mode (active or shadow), got name 'passive'"},
        {"rule a { enabled = 1 when = true }", VG_ERR_PARSE,
         "t.vr:1:20: expected true or false, got number 1"},
        {"rule a { weight = 1.5 when = true }", VG_ERR_INVALID,
         "t.vr:1:19: weight must be between 0 and 1, got 1.5"},
        {"rule a { weight = -0.1 when = true }", VG_ERR_INVALID,
         "t.vr:1:19: weight must be between 0 and 1, got -0.1"},
        {"rule a { weight = high when = true }", VG_ERR_PARSE,
         "t.vr:1:19: expected a number between 0 and 1, got name 'high'"},
        {"rule a { name = high when = true }", VG_ERR_PARSE,
         "t.vr:1:17: expected a string, got name 'high'"},
        {"rule a { when = true when = false }", VG_ERR_INVALID,
         "t.vr:1:22: duplicate field 'when' (already set at line 1)"},
        {"rule a {\n  name = \"abc\n  when = true\n}", VG_ERR_PARSE,
         "t.vr:2:10: unterminated string"},
        {"rule a { name = \"abc", VG_ERR_PARSE, "t.vr:1:17: unterminated string"},
        {"rule a { name = \"a\\qb\" when = true }", VG_ERR_PARSE,
         "t.vr:1:19: unknown escape '\\q' in string (use \\\" \\\\ \\n \\t or \\r)"},
        {"rule a { when = true } garbage", VG_ERR_PARSE,
         "t.vr:1:24: expected 'rule' or 'list', got name 'garbage'"},
        {"rule a { when = true } }", VG_ERR_PARSE, "t.vr:1:24: expected 'rule' or 'list', got '}'"},
        {"rule a {\n  when = amount > 1 country = \"US\"\n}", VG_ERR_PARSE,
         "t.vr:2:21: unknown rule field 'country'; if it belongs to the 'when' condition, an "
         "operator such as 'and' is missing before it"},
        {"rule a { sevrity = low when = true }", VG_ERR_PARSE,
         "t.vr:1:10: unknown rule field 'sevrity' (did you mean 'severity'?)"},
        {"rule a { when = true ) }", VG_ERR_PARSE,
         "t.vr:1:22: expected a rule field (name, description, severity, action, weight, enabled, "
         "mode, when) or '}', got ')'"},
        {"rule a {\n  when = amount > 1 and\n}", VG_ERR_PARSE,
         "t.vr:3:1: expected a value (number, string, name, function call or '('), got '}'"},
        {"rule a {\n  when = (amount > 1\n}", VG_ERR_PARSE,
         "t.vr:3:1: expected ')' to close the '(' at 2:10, got '}'"},
        {"rule a {\n  when = amount > 1\n", VG_ERR_PARSE,
         "t.vr:3:1: expected '}' to close rule 'a' (opened at 1:8), got end of input"},
        {"rule a { when = }", VG_ERR_PARSE,
         "t.vr:1:17: expected a condition after 'when =', got '}'"},
        {"rule a { when true }", VG_ERR_PARSE,
         "t.vr:1:15: expected '=' after 'when', got keyword 'true'"},
        {"rule { when = true }", VG_ERR_PARSE,
         "t.vr:1:6: expected a rule id ([A-Za-z_][A-Za-z0-9_]*), got '{'"},
        {"rule a when = true }", VG_ERR_PARSE,
         "t.vr:1:8: expected '{' after the rule id, got name 'when'"},
        {"rule a { when = and }", VG_ERR_PARSE,
         "t.vr:1:17: expected a value (number, string, name, function call or '('), got keyword "
         "'and'"},
        {"rule a { when = amount > 1 && true }", VG_ERR_PARSE,
         "t.vr:1:28: unexpected '&' (use 'and')"},
        {"rule a { when = amount ! 1 }", VG_ERR_PARSE,
         "t.vr:1:24: unexpected '!' (use 'not' or '!=')"},
        {"rule a { when = amount > 1__0 }", VG_ERR_PARSE,
         "t.vr:1:27: misplaced '_' in number (only between digits)"},
        {"rule a { when = amount > 10abc }", VG_ERR_PARSE, "t.vr:1:26: invalid number '10abc'"},
        {"rule a { when = amount > 1. }", VG_ERR_PARSE,
         "t.vr:1:26: invalid number: digits must follow '.'"},
        {"rule a { when = amount > 1e }", VG_ERR_PARSE,
         "t.vr:1:26: invalid number: digits must follow 'e'"},
        {"rule a { when = amount > 1e999 }", VG_ERR_PARSE, "t.vr:1:26: number out of range"},
        {"rule a { when = amount > 1 @ }", VG_ERR_PARSE, "t.vr:1:28: unexpected character '@'"},
        {"rule a { when = country = \"\xff\" }", VG_ERR_PARSE,
         "t.vr:1:27: string is not valid UTF-8"},
        {"rule a { when = attributes = 1 }", VG_ERR_PARSE,
         "t.vr:1:28: expected '.' or '[' after 'attributes', got '='"},
        {"rule a { when = attributes.1 = 1 }", VG_ERR_PARSE,
         "t.vr:1:28: expected an attribute name after 'attributes.', got number 1"},
        {"rule a { when = attributes[\"\"] = 1 }", VG_ERR_INVALID,
         "t.vr:1:17: attribute names are 1 to 64 bytes"},
        {"rule a { when = amount is 1 }", VG_ERR_PARSE,
         "t.vr:1:27: expected 'null' after 'is', got number 1"},
        {"rule a { when = amount in 1 }", VG_ERR_PARSE,
         "t.vr:1:27: expected '(' or 'list' after 'in', got number 1"},
        {"rule a { when = amount in () }", VG_ERR_PARSE,
         "t.vr:1:28: expected a value (number, string, name, function call or '('), got ')'"},
        {"rule a { when = amount between 1 or 2 }", VG_ERR_PARSE,
         "t.vr:1:34: expected 'and' in 'between ... and ...', got keyword 'or'"},
        {"list a { \"x\" \"y\" }", VG_ERR_PARSE,
         "t.vr:1:14: expected ',' or '}' in the list, got string \"y\""},
        {"list a { 1 }", VG_ERR_PARSE, "t.vr:1:10: expected a string value or '}', got number 1"},
        {"list a {}\nlist a {}", VG_ERR_INVALID, "t.vr:2:6: duplicate list 'a'"},
        {"list \"a b\" {}", VG_ERR_INVALID,
         "t.vr:1:6: invalid list name (1 to 64 characters of A-Z a-z 0-9 _ . -)"},
        {"rule a {\n\twhen = \"é\" = x\n}", VG_ERR_INVALID,
         "t.vr:2:15: unknown field or feature 'x' (expected a transaction field, a feature or "
         "attributes.NAME; see docs/RULES.md)"}, /* columns count characters */
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(c); i++) s_expect_error(c[i].src, c[i].code, c[i].msg);
}

static void test_limits(void **state)
{
    (void) state;
    /* nesting: 64 levels compile, 65 do not */
    char src[8192];
    for (int depth = 63; depth <= 64; depth++) {
        size_t n = (size_t) snprintf(src, sizeof src, "rule a { when = ");
        for (int i = 0; i < depth; i++) src[n++] = '(';
        n += (size_t) snprintf(src + n, sizeof src - n, "true");
        for (int i = 0; i < depth; i++) src[n++] = ')';
        snprintf(src + n, sizeof src - n, " }");
        vg_ruleset_t *rs = NULL;
        vg_rules_err_t err;
        int rc = vg_ruleset_compile(src, strlen(src), "t.vr", NULL, &rs, &err);
        if (depth == 63) {
            assert_int_equal(rc, 0);
            vg_ruleset_destroy(&rs);
        } else {
            assert_int_equal(rc, VG_ERR_LIMIT);
            assert_string_equal(err.msg, "expression nested deeper than 64 levels");
        }
    }
    size_t n = (size_t) snprintf(src, sizeof src, "rule a { when = ");
    for (int i = 0; i < 70; i++) n += (size_t) snprintf(src + n, sizeof src - n, "not ");
    snprintf(src + n, sizeof src - n, "true }");
    s_expect_error(src, VG_ERR_LIMIT, "t.vr:1:273: expression nested deeper than 64 levels");
    n = (size_t) snprintf(src, sizeof src, "rule a { when = amount");
    for (int i = 0; i < 70; i++) n += (size_t) snprintf(src + n, sizeof src - n, " + 1");
    snprintf(src + n, sizeof src - n, " > 0 }");
    s_expect_error(src, VG_ERR_LIMIT, "t.vr:1:276: expression nested deeper than 64 levels");
    /* long and/or chains are flat, not deep */
    n = (size_t) snprintf(src, sizeof src, "rule a { when = false");
    for (int i = 0; i < 300; i++) n += (size_t) snprintf(src + n, sizeof src - n, " or false");
    snprintf(src + n, sizeof src - n, " or amount = 150 }");
    vg_ruleset_t *rs = s_compile(src);
    assert_int_equal(vg_ruleset_eval_one(rs, 0, &s_tx, &s_f, NULL), VG_RULE_TRUE);
    vg_ruleset_destroy(&rs);

    /* strings up to 1024 bytes */
    char *big = malloc(VG_RULES_MAX_SOURCE + 2);
    n = (size_t) snprintf(big, 64, "rule a { when = country = \"");
    memset(big + n, 'x', 1024);
    snprintf(big + n + 1024, 64, "\" }");
    rs = s_compile(big);
    vg_ruleset_destroy(&rs);
    snprintf(big + n + 1024, 64, "x\" }");
    s_expect_error(big, VG_ERR_LIMIT, "t.vr:1:27: string longer than 1024 bytes");

    /* 4096 rules, not 4097 */
    n = 0;
    for (int i = 0; i < 4097; i++) n += (size_t) sprintf(big + n, "rule r%d{when=true}\n", i);
    vg_rules_err_t err;
    assert_int_equal(vg_ruleset_compile(big, n, "t.vr", NULL, &rs, &err), VG_ERR_LIMIT);
    char msg[256];
    assert_string_equal(vg_rules_err_str(&err, msg, sizeof msg),
                        "t.vr:4097:1: too many rules (the limit is 4096)");
    n -= strlen("rule r4096{when=true}\n");
    assert_int_equal(vg_ruleset_compile(big, n, "t.vr", NULL, &rs, &err), 0);
    assert_int_equal(vg_ruleset_count(rs), 4096);
    assert_int_equal(vg_ruleset_find(rs, "r4095"), 4095);
    assert_int_equal(vg_ruleset_eval(rs, &s_tx, &s_f, NULL, 0), 4096);
    vg_ruleset_destroy(&rs);

    /* source size */
    memset(big, ' ', VG_RULES_MAX_SOURCE + 1);
    assert_int_equal(vg_ruleset_compile(big, VG_RULES_MAX_SOURCE, "t.vr", NULL, &rs, &err), 0);
    vg_ruleset_destroy(&rs);
    assert_int_equal(vg_ruleset_compile(big, VG_RULES_MAX_SOURCE + 1, "t.vr", NULL, &rs, &err),
                     VG_ERR_TOO_LARGE);
    assert_null(rs);
    assert_string_equal(vg_rules_err_str(&err, msg, sizeof msg),
                        "t.vr: rule set is 1048577 bytes, more than the limit of 1048576");
    free(big);

    /* rule ids up to 64 bytes */
    snprintf(src, sizeof src, "rule %0*d { when = true }", 65, 0);
    src[5] = 'a';
    s_expect_error(src, VG_ERR_INVALID, "t.vr:1:6: rule id longer than 64 bytes");
}

static void test_shadow_disabled_counters(void **state)
{
    (void) state;
    vg_ruleset_t *rs = s_compile("rule s1 { mode = shadow when = amount > 100 }\n"
                                 "rule d1 { enabled = false when = amount > 100 }\n"
                                 "rule d2 { enabled = false when = attributes.tier > 1 }\n"
                                 "rule a1 { mode = active when = amount > 100 }\n"
                                 "rule n1 { when = amount > 1000 }\n");
    vg_rule_hit_t hits[8];
    size_t n = vg_ruleset_eval(rs, &s_tx, &s_f, hits, 8);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].rule, 0);
    assert_true(hits[0].shadow);
    assert_int_equal(hits[1].rule, 3);
    assert_false(hits[1].shadow);
    for (int i = 0; i < 9; i++) vg_ruleset_eval(rs, &s_tx, &s_f, hits, 8);
    uint64_t h, e;
    const uint64_t want_hits[] = {10, 0, 0, 10, 0};
    for (size_t i = 0; i < 5; i++) {
        vg_ruleset_stats(rs, i, &h, &e);
        assert_int_equal(h, want_hits[i]);
        assert_int_equal(e, 0); /* d2 would error, but is never run */
    }
    /* a disabled rule can still be tried alone */
    assert_int_equal(vg_ruleset_eval_one(rs, 1, &s_tx, &s_f, NULL), VG_RULE_TRUE);
    assert_int_equal(vg_ruleset_eval_one(rs, 2, &s_tx, &s_f, NULL), VG_RULE_ERROR);
    vg_ruleset_destroy(&rs);
}

typedef struct {
    const vg_ruleset_t *rs;
    int rounds;
    size_t hits;
} s_thread_arg_t;

static void *s_thread(void *p)
{
    s_thread_arg_t *a = p;
    vg_tx_t tx;
    vg_features_t f;
    s_make_tx(&tx, &f);
    for (int i = 0; i < a->rounds; i++) {
        tx.amount = i % 2 ? 50 : 500;
        a->hits += vg_ruleset_eval(a->rs, &tx, &f, NULL, 0);
    }
    return NULL;
}

static void test_concurrent_eval(void **state)
{
    (void) state;
    vg_ruleset_t *rs = s_compile("rule big { when = amount > 100 and lower(channel) = \"web\" }\n"
                                 "rule err { when = attributes.tier * 2 > 1 }\n"
                                 "rule lst { when = merchant_id in list \"blocked_merchants\" }\n");
    s_thread_arg_t a[2] = {{rs, 20000, 0}, {rs, 20000, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, s_thread, &a[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    assert_int_equal(a[0].hits, 30000);
    assert_int_equal(a[1].hits, 30000);
    uint64_t h, e;
    vg_ruleset_stats(rs, 0, &h, &e);
    assert_int_equal(h, 20000);
    vg_ruleset_stats(rs, 1, &h, &e);
    assert_int_equal(h, 0);
    assert_int_equal(e, 40000);
    vg_ruleset_stats(rs, 2, &h, &e);
    assert_int_equal(h, 40000);
    vg_ruleset_destroy(&rs);
}

/* ---- backtest ------------------------------------------------------------------------ */

static char s_dir[256];

static char *s_write(const char *name, const char *text)
{
    static char path[8][512]; /* distinct per call within one test */
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", s_dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static const char s_history[] =
    "{\"id\":\"a1\",\"user_id\":\"alice\",\"amount\":20,\"currency\":\"USD\",\"timestamp\":"
    "1700000000000,\"country\":\"US\"}\n"
    "{\"id\":\"a2\",\"user_id\":\"alice\",\"amount\":25,\"currency\":\"USD\",\"timestamp\":"
    "1700000060000,\"country\":\"US\"}\n"
    "\n"
    "{\"id\":\"a3\",\"user_id\":\"alice\",\"amount\":5000,\"currency\":\"USD\",\"timestamp\":"
    "1700000120000,\"country\":\"RU\"}\n"
    "{\"id\":\"a3\",\"user_id\":\"alice\",\"amount\":5000,\"currency\":\"USD\",\"timestamp\":"
    "1700000120000,\"country\":\"RU\"}\n"
    "{\"id\":\"b1\",\"user_id\":\"bob\",\"amount\":-3,\"currency\":\"USD\",\"timestamp\":"
    "1700000000000}\n"
    "not json at all\n"
    "{\"id\":\"b2\",\"user_id\":\"bob\",\"amount\":3000,\"currency\":\"EUR\",\"timestamp\":"
    "1700000000000,\"country\":\"FR\"}\n"
    "{\"id\":\"b3\",\"user_id\":\"bob\",\"amount\":10,\"currency\":\"EUR\",\"timestamp\":"
    "1700000300000,\"attributes\":{\"tier\":\"gold\"}}\n"
    "{\"id\":\"b4\",\"user_id\":\"bob\",\"amount\":12,\"currency\":\"EUR\",\"timestamp\":"
    "1700000360000}\n";

static const char s_bt_rules[] = "rule big { when = amount > 1000 }\n"
                                 "rule foreign { mode = shadow when = country not in (\"US\") }\n"
                                 "rule second { when = n_prior >= 1 and amount > 1000 }\n"
                                 "rule typo { when = attributes.tier > 1 }\n"
                                 "rule off { enabled = false when = true }\n";

static void s_check_report(const vg_backtest_report_t *rep, bool labelled)
{
    assert_int_equal(rep->items, 9);
    assert_int_equal(rep->evaluated, 6);
    assert_int_equal(rep->bad, 2);
    assert_int_equal(rep->duplicates, 1);
    assert_int_equal(rep->users, 2);
    assert_int_equal(rep->n_bad_kept, 2);
    assert_int_equal(rep->bad_kept[0].line, 6);
    assert_int_equal(rep->bad_kept[0].index, 4);
    assert_string_equal(rep->bad_kept[0].msg, "amount: must be a finite number >= 0 and <= 1e15");
    assert_int_equal(rep->bad_kept[1].line, 7);
    assert_int_equal(rep->n_rules, 5);
    assert_int_equal(rep->rules[0].hits, 2); /* a3, b2 */
    assert_int_equal(rep->rules[1].hits, 2); /* a3 (RU), b2 (FR); b3, b4 have no country */
    assert_int_equal(rep->rules[2].hits, 1); /* a3: bob's b2 is his first valid one */
    assert_int_equal(rep->rules[3].errors, 1);
    assert_int_equal(rep->rules[3].hits, 0);
    assert_int_equal(rep->rules[4].hits, 0);
    assert_int_equal(rep->any.hits, 2);
    assert_int_equal(rep->labelled, labelled);
    if (!labelled) {
        assert_true(isnan(rep->rules[0].precision));
        return;
    }
    /* anomalous: a3, b4 */
    assert_int_equal(rep->positives, 2);
    assert_int_equal(rep->rules[0].tp, 1);
    assert_float_equal(rep->rules[0].precision, 0.5, 1e-12);
    assert_float_equal(rep->rules[0].recall, 0.5, 1e-12);
    assert_float_equal(rep->rules[2].precision, 1.0, 1e-12);
    assert_float_equal(rep->any.precision, 0.5, 1e-12);
    assert_float_equal(rep->any.recall, 0.5, 1e-12);
    assert_true(isnan(rep->rules[4].precision));
}

static void test_backtest(void **state)
{
    (void) state;
    snprintf(s_dir, sizeof s_dir, "%s/vg_rules_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(s_dir));
    vg_ruleset_t *rs = s_compile(s_bt_rules);
    char *data = s_write("history.ndjson", s_history);
    vg_backtest_report_t rep;
    char errbuf[256] = "";

    assert_int_equal(vg_backtest_run_files(rs, data, NULL, NULL, &rep, errbuf, sizeof errbuf), 0);
    s_check_report(&rep, false);
    vg_backtest_report_fini(&rep);

    /* the load generator's CSV */
    char *csv = s_write("labels.csv", "id,label,kind\na1,0,normal\na2,0,normal\na3,1,spike\n"
                                      "b2,0,normal\nb3,0,normal\r\nb4,1,burst\nzz,1,x\n");
    assert_int_equal(vg_backtest_run_files(rs, data, csv, NULL, &rep, errbuf, sizeof errbuf), 0);
    s_check_report(&rep, true);
    assert_int_equal(rep.labels, 7);
    assert_int_equal(rep.labels_matched, 6);

    FILE *out = tmpfile();
    vg_backtest_print(&rep, rs, out);
    long sz = ftell(out);
    char *text = calloc(1, (size_t) sz + 1);
    rewind(out);
    assert_int_equal(fread(text, 1, (size_t) sz, out), (size_t) sz);
    fclose(out);
    assert_non_null(strstr(text, "big                          active            2   33.33        "
                                 "0        1     0.500     0.500"));
    assert_non_null(strstr(text, "off                          disabled"));
    assert_non_null(strstr(text, "line 6: amount: must be a finite number >= 0 and <= 1e15"));
    free(text);

    vg_jw_t w;
    vg_jw_init(&w);
    vg_backtest_json(&rep, rs, &w);
    assert_non_null(strstr(w.buf,
                           "\"rules\":[{\"id\":\"big\",\"mode\":\"active\",\"hits\":2,\"tp\":1,"
                           "\"precision\":0.5,\"recall\":0.5,\"errors\":0}"));
    assert_non_null(
        strstr(w.buf, "\"any\":{\"hits\":2,\"tp\":1,\"precision\":0.5,\"recall\":0.5}"));
    assert_non_null(strstr(w.buf, "\"bad_items\":[{\"line\":6,\"index\":4,"));
    vg_jw_fini(&w);
    vg_backtest_report_fini(&rep);

    /* JSON labels: an object, or an array of anomalous ids */
    char *obj = s_write("labels.json", "{\"a3\": 1, \"b4\": true, \"a1\": false, \"b2\": 0}");
    assert_int_equal(vg_backtest_run_files(rs, data, obj, NULL, &rep, errbuf, sizeof errbuf), 0);
    s_check_report(&rep, true);
    vg_backtest_report_fini(&rep);
    char *arr = s_write("labels.json", " [\"a3\", \"b4\"] ");
    assert_int_equal(vg_backtest_run_files(rs, data, arr, NULL, &rep, errbuf, sizeof errbuf), 0);
    s_check_report(&rep, true);
    vg_backtest_report_fini(&rep);

    /* a JSON array of transactions works the same */
    char *json = calloc(1, sizeof s_history + 64);
    strcat(json, "[");
    const char *p = s_history;
    bool first = true;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (nl - p > 2 && p[0] == '{') {
            if (!first) strcat(json, ",\n");
            strncat(json, p, (size_t) (nl - p));
            first = false;
        }
        p = nl + 1;
    }
    strcat(json, "]");
    assert_int_equal(
        vg_backtest_run(rs, json, strlen(json), NULL, 0, NULL, &rep, errbuf, sizeof errbuf), 0);
    assert_int_equal(rep.items, 8);
    assert_int_equal(rep.evaluated, 6);
    assert_int_equal(rep.bad, 1);
    assert_int_equal(rep.bad_kept[0].line, 0);
    assert_int_equal(rep.bad_kept[0].index, 4);
    assert_int_equal(rep.rules[0].hits, 2);
    vg_backtest_report_fini(&rep);
    /* broken array syntax ends the array, counted as bad */
    json[strlen(json) - 1] = ',';
    assert_int_equal(
        vg_backtest_run(rs, json, strlen(json), NULL, 0, NULL, &rep, errbuf, sizeof errbuf), 0);
    assert_int_equal(rep.evaluated, 6);
    assert_int_equal(rep.bad, 2);
    assert_non_null(strstr(rep.bad_kept[1].msg, "(the rest of the array was not read)"));
    vg_backtest_report_fini(&rep);
    free(json);

    /* errors */
    char *badcsv = s_write("bad.csv", "id,label\na1,1\na2,maybe\n");
    assert_int_equal(vg_backtest_run_files(rs, data, badcsv, NULL, &rep, errbuf, sizeof errbuf),
                     VG_ERR_PARSE);
    assert_string_equal(errbuf,
                        "labels line 3: expected 'id,label[,kind]' with label 0, 1, true or false");
    assert_null(rep.rules);
    char *badjson = s_write("bad.json", "{\"a1\": 2}");
    assert_int_equal(vg_backtest_run_files(rs, data, badjson, NULL, &rep, errbuf, sizeof errbuf),
                     VG_ERR_PARSE);
    assert_non_null(strstr(errbuf, "a label is 1, 0, true or false"));
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.ndjson", s_dir);
    assert_int_equal(vg_backtest_run_files(rs, missing, NULL, NULL, &rep, errbuf, sizeof errbuf),
                     VG_ERR_IO);
    assert_non_null(strstr(errbuf, "No such file"));
    /* an empty history */
    assert_int_equal(vg_backtest_run(rs, "", 0, NULL, 0, NULL, &rep, errbuf, sizeof errbuf), 0);
    assert_int_equal(rep.items, 0);
    out = tmpfile();
    vg_backtest_print(&rep, rs, out);
    fclose(out);
    vg_backtest_report_fini(&rep);
    vg_backtest_report_fini(&rep);

    vg_ruleset_destroy(&rs);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_empty_and_comments),
        cmocka_unit_test(test_comparisons_and_literals),
        cmocka_unit_test(test_arithmetic_and_precedence),
        cmocka_unit_test(test_null_semantics),
        cmocka_unit_test(test_absent_fields_are_null),
        cmocka_unit_test(test_fields_and_features),
        cmocka_unit_test(test_in_and_between),
        cmocka_unit_test(test_string_functions),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_named_lists),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_shadow_disabled_counters),
        cmocka_unit_test(test_concurrent_eval),
        cmocka_unit_test(test_backtest),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
