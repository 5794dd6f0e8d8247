/* vg_rule_stats.h: the per-rule hit/error counters of several nodes
 * (their ADMIN rules.stats answers) summed into one view for GET
 * /v1/rules and vigilctl. */
#ifndef VG_RULE_STATS_H
#define VG_RULE_STATS_H

#include "vg_arena.h"
#include "vg_jw.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *id, *name, *mode, *action, *severity; /* in arena */
    uint64_t hits, errors;
} vg_rule_stat_t;

typedef struct {
    vg_arena_t arena;
    vg_rule_stat_t *rules; /* first-seen order */
    size_t n, cap;
    uint64_t versions[64]; /* distinct versions in use */
    size_t n_versions;
    size_t nodes;
} vg_rule_stats_t;

void vg_rule_stats_init(vg_rule_stats_t *st);
void vg_rule_stats_fini(vg_rule_stats_t *st);
/* Adds one node's answer {"node","version","rules":[{"id","name","mode",
 * "action","severity","hits","errors",...}]}. Returns 0 or VG_ERR_PARSE. */
int vg_rule_stats_add_json(vg_rule_stats_t *st, const char *json, size_t len);
/* Adds one rule's counters (a node's own rule set). */
void vg_rule_stats_add(vg_rule_stats_t *st, const vg_rule_stat_t *r);
/* {"nodes":N,"versions":[...],"rules":[{...,"hits","errors"}]} */
void vg_rule_stats_write(const vg_rule_stats_t *st, vg_jw_t *w);

#endif
