/* vg_rules_backtest.h: replays a history of transactions, in file order,
 * through the node's feature code (per-user state in memory, keyed by
 * user_id, duplicates skipped like the node does) and a ruleset, and
 * measures each rule: hits and runtime errors, and with labels true
 * positives, precision and recall. Behind `vigilctl rules backtest`.
 * Offline code: single-threaded, allocates freely, memory grows with
 * the number of users and transaction ids in the history. */
#ifndef VG_RULES_BACKTEST_H
#define VG_RULES_BACKTEST_H

#include "vg_features.h"
#include "vg_jw.h"
#include "vg_rules.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define VG_BACKTEST_BAD_KEPT 10 /* bad items whose message is kept */

typedef struct {
    uint64_t hits, errors;
    uint64_t tp;      /* hits on transactions labelled anomalous */
    double precision; /* tp / hits; NaN without labels or hits */
    double recall;    /* tp / positives; NaN without labels or positives */
} vg_backtest_rule_t;

typedef struct {
    uint64_t line;  /* 1-based line (NDJSON); 0 inside a JSON array */
    uint64_t index; /* 0-based item index in the file */
    char msg[200];
} vg_backtest_bad_t;

typedef struct {
    uint64_t items;      /* transactions read, valid or not */
    uint64_t evaluated;  /* valid and not duplicate: scored */
    uint64_t bad;        /* invalid items, skipped */
    uint64_t duplicates; /* same id and timestamp as an earlier one: skipped */
    uint64_t late;       /* older than the user's state allows: scored, state unchanged */
    uint64_t users;
    bool labelled;           /* a labels file was given */
    uint64_t labels;         /* its entries */
    uint64_t labels_matched; /* evaluated transactions with an entry */
    uint64_t positives;      /* evaluated transactions labelled anomalous */
    size_t n_rules;
    vg_backtest_rule_t *rules; /* [n_rules], in ruleset order; disabled rules stay 0 */
    vg_backtest_rule_t any;    /* "an active rule fired" (enabled, not shadow); errors unused */
    size_t n_bad_kept;
    vg_backtest_bad_t bad_kept[VG_BACKTEST_BAD_KEPT];
} vg_backtest_report_t;

typedef struct {
    vg_features_config_t features; /* as the node is configured */
} vg_backtest_opts_t;

void vg_backtest_opts_default(vg_backtest_opts_t *opts);

/* Runs the backtest over data (NDJSON, one transaction per line, or a
 * JSON array of transactions) with optional labels (NULL = none): CSV
 * `id,label[,kind]` with an optional header row (label 1/0/true/false,
 * as vigil-loadgen --labels writes), a JSON object {"id": 1|0|true|false}
 * or a JSON array of the anomalous ids; ids not in the labels count as
 * normal. Bad transactions are counted and the first few kept in rep; a
 * JSON syntax error inside an array ends the array (kept as a bad item).
 * opts may be NULL (defaults). rs is only read (its counters are not
 * touched). Returns 0 and fills rep (release with
 * vg_backtest_report_fini), or VG_ERR_PARSE for malformed labels with a
 * message in errbuf (rep is then empty). */
int vg_backtest_run(const vg_ruleset_t *rs, const char *data, size_t len, const char *labels,
                    size_t labels_len, const vg_backtest_opts_t *opts, vg_backtest_report_t *rep,
                    char *errbuf, size_t errlen);

/* The same with file paths (labels_path may be NULL). VG_ERR_IO when a
 * file cannot be read (errbuf names it and the reason). */
int vg_backtest_run_files(const vg_ruleset_t *rs, const char *data_path, const char *labels_path,
                          const vg_backtest_opts_t *opts, vg_backtest_report_t *rep, char *errbuf,
                          size_t errlen);

/* Frees rep's rule array and zeroes it; safe on a zeroed report. */
void vg_backtest_report_fini(vg_backtest_report_t *rep);

/* A human-readable table: totals, one row per rule, the "any active
 * rule" row, then the kept bad items. rs must be the ruleset run. */
void vg_backtest_print(const vg_backtest_report_t *rep, const vg_ruleset_t *rs, FILE *out);

/* The report as one JSON object appended to w (see docs/RULES.md). */
void vg_backtest_json(const vg_backtest_report_t *rep, const vg_ruleset_t *rs, vg_jw_t *w);

#endif
