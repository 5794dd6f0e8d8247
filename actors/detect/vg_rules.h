/* vg_rules.h: user-defined rules. A rule set file (docs/RULES.md) is
 * compiled once into compact bytecode; the compiled set is immutable and
 * evaluated against each transaction and its feature snapshot without
 * allocating or locking, from any number of threads at once. Named lists
 * (`x in list "blocked"`) are string sets resolved at compile time. */
#ifndef VG_RULES_H
#define VG_RULES_H

#include "vg_anomaly.h" /* vg_severity */
#include "vg_features.h"
#include "vg_tx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits (docs/RULES.md "Limits"). */
#define VG_RULES_MAX_RULES  4096          /* rules per set */
#define VG_RULES_MAX_DEPTH  64            /* nesting of one expression */
#define VG_RULES_MAX_SOURCE (1024 * 1024) /* bytes of a rule set file */
#define VG_RULES_MAX_STRING 1024          /* bytes of a string literal or list value */
#define VG_RULES_MAX_ID     64            /* bytes of a rule id or list name */
#define VG_RULES_MAX_LIST   1000000       /* values in one named list */
#define VG_RULES_MAX_FILE   128           /* bytes kept of a file name in errors */

/* A compile error: where and what. `code` is a vg_err: VG_ERR_PARSE
 * (syntax), VG_ERR_INVALID (names, types, duplicates, values out of
 * range), VG_ERR_TOO_LARGE or VG_ERR_LIMIT (a limit above). line and
 * col are 1-based (col counts characters, a tab is one); 0 when the
 * error is about the whole input. */
typedef struct {
    int code;
    char file[VG_RULES_MAX_FILE];
    int line, col;
    char msg[256];
} vg_rules_err_t;

/* "file:line:col: msg" (or "file: msg" when line is 0) into buf; returns
 * buf. */
const char *vg_rules_err_str(const vg_rules_err_t *err, char *buf, size_t size);

/* ---- named lists -------------------------------------------------------- */

/* Named string sets. Building is single-threaded; each list's contents
 * are immutable once added, and a ruleset compiled against them holds its
 * own reference to every list it uses, so replacing a list or destroying
 * the container never changes (or invalidates) a compiled ruleset. */
typedef struct vg_rule_lists vg_rule_lists_t;

/* A new empty container, owned by the caller. Never NULL. */
vg_rule_lists_t *vg_rule_lists_new(void);

/* Destroys *self_p (NULL allowed) and clears it. Rulesets compiled with
 * it stay valid. */
void vg_rule_lists_destroy(vg_rule_lists_t **self_p);

/* Adds (or replaces) list `name` with n values (NUL-terminated, copied;
 * duplicates collapse). name: 1..VG_RULES_MAX_ID bytes of [A-Za-z0-9_.-].
 * Returns 0 or VG_ERR_INVALID (bad name, value longer than
 * VG_RULES_MAX_STRING or not UTF-8) / VG_ERR_LIMIT (too many values);
 * on error the container is unchanged. */
int vg_rule_lists_add(vg_rule_lists_t *self, const char *name, const char *const *values, size_t n);

/* Like vg_rule_lists_add with the values of a text file: one value per
 * line, surrounding blanks trimmed, empty lines and lines starting with
 * '#' skipped. err (may be NULL) gets file = name and the line of the
 * first bad value. */
int vg_rule_lists_parse(vg_rule_lists_t *self, const char *name, const char *text, size_t len,
                        vg_rules_err_t *err);

/* Number of lists, and whether `name` is one (for tools). */
size_t vg_rule_lists_count(const vg_rule_lists_t *self);
bool vg_rule_lists_has(const vg_rule_lists_t *self, const char *name);

/* ---- compiled rule sets -------------------------------------------------- */

typedef enum { VG_RULE_FLAG = 0, VG_RULE_REVIEW = 1, VG_RULE_BLOCK = 2 } vg_rule_action;

/* "flag", "review", "block"; NULL out of range. */
const char *vg_rule_action_name(int action);

/* One rule's settings, as written in the file (defaults applied). Every
 * string is NUL-terminated, owned by the ruleset and valid until it is
 * destroyed. */
typedef struct {
    const char *id;          /* unique in the set */
    const char *name;        /* default: id */
    const char *description; /* default: "" */
    vg_severity severity;    /* default: VG_SEV_MEDIUM */
    vg_rule_action action;   /* default: VG_RULE_FLAG */
    double weight;           /* 0..1; default by severity: .3 .5 .8 .95 */
    bool enabled;            /* default: true; disabled rules are never evaluated */
    bool shadow;             /* mode = shadow: evaluated and counted, never acted on */
    const char *when_src;    /* the condition's source text, as written */
    int line;                /* line of `rule` in the file */
} vg_rule_meta_t;

typedef struct vg_ruleset vg_ruleset_t;

/* Compiles a rule set file. src need not be NUL-terminated; filename
 * (may be NULL: "<rules>") is only used in messages. lists may be NULL
 * (then only lists defined in the file exist); the ruleset takes its own
 * references to the lists it uses. On success returns 0 and *out is a
 * new ruleset owned by the caller; on failure returns the error's code,
 * fills err (may be NULL) with the first error, and leaves *out NULL. */
int vg_ruleset_compile(const char *src, size_t len, const char *filename,
                       const vg_rule_lists_t *lists, vg_ruleset_t **out, vg_rules_err_t *err);

/* Destroys *self_p (NULL allowed) and clears it. No evaluation may be
 * running on it. */
void vg_ruleset_destroy(vg_ruleset_t **self_p);

/* Number of rules (enabled or not), in file order. */
size_t vg_ruleset_count(const vg_ruleset_t *self);

/* Rule i's settings, NULL when i is out of range. Valid until destroy. */
const vg_rule_meta_t *vg_ruleset_rule(const vg_ruleset_t *self, size_t i);

/* Index of the rule with this id, or -1. */
int vg_ruleset_find(const vg_ruleset_t *self, const char *id);

typedef struct {
    uint32_t rule; /* index into the ruleset */
    bool shadow;   /* the rule is in shadow mode: report, do not act */
} vg_rule_hit_t;

/* Evaluates every enabled rule, in file order, against tx and f (f may
 * be NULL: every feature is then null). A rule hits when its condition
 * is TRUE (not false, not null). Writes the first `cap` hits (active and
 * shadow) to hits (may be NULL when cap is 0) and returns the total
 * number of hits, which may exceed cap. A runtime error (division by
 * zero, an attribute of the wrong type) makes that rule not hit. Bumps
 * the rule's hit or error counter (relaxed atomics). No allocation, no
 * locks: callable from any thread, concurrently. */
size_t vg_ruleset_eval(const vg_ruleset_t *self, const vg_tx_t *tx, const vg_features_t *f,
                       vg_rule_hit_t *hits, size_t cap);

/* The outcome of one condition (SQL three-valued logic, plus errors). */
typedef enum {
    VG_RULE_ERROR = -1,
    VG_RULE_FALSE = 0,
    VG_RULE_TRUE = 1,
    VG_RULE_NULL = 2,
} vg_rule_result;

/* Evaluates rule i alone, enabled or not, without touching its counters
 * (for backtests and `vigilctl rules test`). When the result is
 * VG_RULE_ERROR and why is not NULL, *why is a static message ("division
 * by zero", ...). Same threading and allocation guarantees as
 * vg_ruleset_eval. i must be < vg_ruleset_count. */
vg_rule_result vg_ruleset_eval_one(const vg_ruleset_t *self, size_t i, const vg_tx_t *tx,
                                   const vg_features_t *f, const char **why);

/* Rule i's counters since compilation (hits and runtime errors of
 * vg_ruleset_eval). Either pointer may be NULL. */
void vg_ruleset_stats(const vg_ruleset_t *self, size_t i, uint64_t *hits, uint64_t *errors);

/* Bytecode size of rule i in instructions (diagnostics and tests). */
size_t vg_ruleset_code_size(const vg_ruleset_t *self, size_t i);

#endif
