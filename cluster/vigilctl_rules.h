/* vigilctl_rules.h: `vigilctl rules ...`: push, list, show, diff, rollback,
 * stats (through the cluster) and backtest (local, touches no cluster);
 * `vigilctl models ...`: push, list, activate, rollback, shadow, stats;
 * `vigilctl alerts ...`: list [STATUS], show ID, retry ID, channels (every
 * node's alerts: each node alerts on its own anomalies). */
#ifndef VIGILCTL_RULES_H
#define VIGILCTL_RULES_H

#include "vg_ctl.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *args[4]; /* after "rules": the subcommand and its arguments */
    size_t n_args;
    const char *data, *labels; /* backtest */
    bool models;               /* `models ...` rather than `rules ...` */
    bool alerts;               /* `alerts ...` */
    bool no_activate, activate, json;
    int reply_ms;
} vigilctl_rules_opts_t;

/* Usage text of the rules commands (part of vigilctl --help). */
extern const char vigilctl_rules_help[];

/* Checks the arguments; returns 0 or 2 (usage; message printed). */
int vigilctl_rules_check(const vigilctl_rules_opts_t *o);
/* True when the subcommand needs no cluster (backtest). */
bool vigilctl_rules_local(const vigilctl_rules_opts_t *o);
/* Runs it; ctl may be NULL for a local one. Returns vigilctl's exit code. */
int vigilctl_rules_run(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o);

#endif
