/* bench_rules.c: cost of evaluating rule sets on one core. Builds 100- and
 * 1000-rule sets from realistic mixed templates (thresholds, in-lists,
 * named lists, string functions, attributes, features), replays ~100k
 * varied transactions through the real feature code once, then times
 * vg_ruleset_eval over them. Prints "BENCH name value unit" lines. */
#include "vg_features.h"
#include "vg_mem.h"
#include "vg_rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_TX    100000
#define N_USERS 5000

static const char *const s_countries[] = {"US", "US", "US", "CA", "GB", "FR", "DE", "IT",
                                          "ES", "NL", "BR", "IN", "RU", "NG", "CN", "JP"};
static const char *const s_cats[] = {"grocery",     "Electronics", "travel",  "fuel",
                                     "restaurants", "Gaming",      "jewelry", "pharmacy"};
static const char *const s_channels[] = {"web", "app", "pos", "atm"};
static const char *const s_tiers[] = {"basic", "gold", "platinum"};

static char s_merchants[1000][8];
static char s_devices[N_USERS * 2][12];
static char s_users[N_USERS][12];
static char s_ids[N_TX][12];
static char s_ips[256][16];

static uint64_t s_rng = 88172645463325252ull;

static uint64_t s_next(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static double s_unit(void)
{
    return (double) (s_next() >> 11) / 9007199254740992.0;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* Transactions with their feature snapshots, as the node computes them. */
static void s_history(vg_tx_t *txs, vg_features_t *feats)
{
    for (int i = 0; i < 1000; i++) snprintf(s_merchants[i], sizeof s_merchants[i], "m%d", i);
    for (int i = 0; i < N_USERS * 2; i++) snprintf(s_devices[i], sizeof s_devices[i], "dev%d", i);
    for (int i = 0; i < N_USERS; i++) snprintf(s_users[i], sizeof s_users[i], "u%d", i);
    for (int i = 0; i < 256; i++)
        snprintf(s_ips[i], sizeof s_ips[i], "%d.1.2.%d", i % 2 ? 10 : 80, i);
    vg_user_state_t *states = vg_calloc(N_USERS, sizeof *states);
    for (int u = 0; u < N_USERS; u++) vg_user_state_init(&states[u]);
    vg_features_config_t cfg;
    vg_features_config_default(&cfg);
    int64_t t = 1700000000000LL;
    for (int i = 0; i < N_TX; i++) {
        vg_tx_t *tx = &txs[i];
        vg_tx_init(tx);
        int u = (int) (s_next() % N_USERS);
        snprintf(s_ids[i], sizeof s_ids[i], "t%d", i);
        t += (int64_t) (s_next() % 2000);
        tx->id = vg_str_c(s_ids[i]);
        tx->user_id = vg_str_c(s_users[u]);
        tx->ts_ms = t;
        tx->amount = round(exp(3.5 + 1.3 * (s_unit() + s_unit() + s_unit() - 1.5)) * 100) / 100;
        memcpy(tx->currency, "USD", 4);
        const char *c = s_countries[(u + (s_next() % 20 == 0 ? (int) (s_next() % 16) : 0)) % 16];
        memcpy(tx->country, c, 3);
        tx->merchant_id = vg_str_c(s_merchants[s_next() % 1000]);
        tx->merchant_category = vg_str_c(s_cats[s_next() % 8]);
        tx->channel = vg_str_c(s_channels[s_next() % 4]);
        tx->device_id = vg_str_c(s_devices[u * 2 + (s_next() % 10 == 0)]);
        tx->ip = vg_str_c(s_ips[s_next() % 256]);
        if (s_next() % 2) {
            tx->lat = 40 + (u % 20) + s_unit() * (s_next() % 50 == 0 ? 30 : 0.1);
            tx->lon = -70 + (u % 30) + s_unit() * 0.1;
        }
        if (s_next() % 3) {
            tx->n_attrs = 2;
            tx->attrs[0] = (vg_tx_attr_t){.key = vg_str_c("tier"),
                                          .str = vg_str_c(s_tiers[s_next() % 3]),
                                          .kind = VG_ATTR_STR};
            tx->attrs[1] =
                (vg_tx_attr_t){.key = vg_str_c("risk"), .num = s_unit(), .kind = VG_ATTR_NUM};
        }
        vg_features_update(&states[u], tx, &cfg, &feats[i]);
    }
    free(states);
}

/* Rule i of a set: ten templates, thresholds varied by i. */
static int s_rule(char *buf, size_t size, int i)
{
    int k = i / 10;
    double a = 200 + 37.0 * k;
    switch (i % 10) {
    case 0:
        return snprintf(buf, size,
                        "rule r%d { severity = high when = amount > %g and country not in (\"US\", "
                        "\"CA\", \"GB\") }\n",
                        i, a);
    case 1:
        return snprintf(buf, size, "rule r%d { when = count_1h >= %d and amount_to_median > %g }\n",
                        i, 3 + k % 5, 2.0 + k % 7);
    case 2:
        return snprintf(
            buf, size,
            "rule r%d { action = block when = merchant_id in list \"blocked\" and amount "
            "> %g }\n",
            i, a / 4);
    case 3:
        return snprintf(buf, size,
                        "rule r%d { when = lower(merchant_category) = \"%s\" and hour between %d "
                        "and %d }\n",
                        i, k % 2 ? "electronics" : "gaming", k % 6, k % 6 + 4);
    case 4:
        return snprintf(
            buf, size,
            "rule r%d { severity = critical when = speed_kmh > %d and distance_km > 100 "
            "}\n",
            i, 500 + 10 * k);
    case 5:
        return snprintf(buf, size,
                        "rule r%d { mode = shadow when = attributes.risk > %g or attributes.tier = "
                        "\"platinum\" and amount > %g }\n",
                        i, 0.9 + 0.001 * (k % 90), a);
    case 6:
        return snprintf(buf, size,
                        "rule r%d { when = new_device = 1 and new_country = 1 and amount > %g }\n",
                        i, a / 2);
    case 7:
        return snprintf(
            buf, size,
            "rule r%d { when = channel = \"%s\" and amount between %g and %g and country "
            "in (\"FR\", \"DE\", \"IT\", \"ES\", \"NL\", \"BE\", \"PL\", \"SE\", "
            "\"NO\", \"FI\") }\n",
            i, s_channels[k % 4], a, a * 3);
    case 8:
        return snprintf(
            buf, size,
            "rule r%d { when = ewma_std > 0 and (amount - ewma_mean) / ewma_std > %g }\n", i,
            3.0 + 0.05 * k);
    default:
        return snprintf(buf, size,
                        "rule r%d { when = starts_with(ip, \"10.\") and sum_24h > %g or n_prior "
                        "< 1 and amount > %g }\n",
                        i, a * 20, a * 5);
    }
}

static vg_ruleset_t *s_ruleset(int n, const vg_rule_lists_t *lists)
{
    size_t cap = (size_t) n * 256 + 1, len = 0;
    char *src = vg_malloc(cap);
    src[0] = 0;
    for (int i = 0; i < n; i++) len += (size_t) s_rule(src + len, cap - len, i);
    vg_ruleset_t *rs = NULL;
    vg_rules_err_t err;
    char msg[512];
    if (vg_ruleset_compile(src, len, "bench.vr", lists, &rs, &err)) {
        fprintf(stderr, "bench_rules: %s\n", vg_rules_err_str(&err, msg, sizeof msg));
        exit(1);
    }
    free(src);
    return rs;
}

static void s_run(int n_rules, const vg_rule_lists_t *lists, const vg_tx_t *txs,
                  const vg_features_t *feats)
{
    vg_ruleset_t *rs = s_ruleset(n_rules, lists);
    vg_rule_hit_t hits[64];
    size_t total = 0;
    for (int i = 0; i < N_TX / 10; i++) total += vg_ruleset_eval(rs, &txs[i], &feats[i], hits, 64);
    int rounds = n_rules >= 1000 ? 1 : n_rules >= 100 ? 5 : 20;
    total = 0;
    double t0 = s_now();
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < N_TX; i++) total += vg_ruleset_eval(rs, &txs[i], &feats[i], hits, 64);
    double s = s_now() - t0;
    double evals = (double) rounds * N_TX;
    uint64_t errors = 0, e;
    for (int i = 0; i < n_rules; i++) {
        vg_ruleset_stats(rs, (size_t) i, NULL, &e);
        errors += e;
    }
    double ns_tx = s * 1e9 / evals;
    printf("%4d rules: %8.1f ns/transaction, %6.1f ns/rule, %10.0f transactions/s, %6.2f hits/tx, "
           "%llu errors\n",
           n_rules, ns_tx, n_rules ? ns_tx / n_rules : 0.0, evals / s, (double) total / evals,
           (unsigned long long) errors);
    if (n_rules) printf("BENCH rules_%d_ns_per_rule %.1f ns\n", n_rules, ns_tx / n_rules);
    printf("BENCH rules_%d_tx_per_s %.0f tx/s\n", n_rules, evals / s);
    vg_ruleset_destroy(&rs);
}

int main(void)
{
    vg_tx_t *txs = vg_calloc(N_TX, sizeof *txs);
    vg_features_t *feats = vg_calloc(N_TX, sizeof *feats);
    s_history(txs, feats);
    vg_rule_lists_t *lists = vg_rule_lists_new();
    const char **blocked = vg_calloc(500, sizeof *blocked);
    for (int i = 0; i < 500; i++) blocked[i] = s_merchants[i * 2];
    if (vg_rule_lists_add(lists, "blocked", blocked, 500)) return 1;
    free(blocked);
    printf("== rules: vg_ruleset_eval over %d transactions with features (one core) ==\n", N_TX);
    s_run(0, lists, txs, feats);
    s_run(100, lists, txs, feats);
    s_run(1000, lists, txs, feats);
    vg_rule_lists_destroy(&lists);
    free(txs);
    free(feats);
    return 0;
}
