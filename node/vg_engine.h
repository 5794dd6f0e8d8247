/* vg_engine.h: a node's scoring engine. Transactions are routed to the
 * worker that owns their shard (shard % workers); the worker dedupes by
 * id, updates the user's features, runs the detectors and hands its write
 * set to the one committer thread, which group-commits every pending
 * write set in one LMDB transaction. vg_engine_score returns only after
 * that commit: an acknowledged verdict is durable. */
#ifndef VG_ENGINE_H
#define VG_ENGINE_H

#include "vg_arena.h"
#include "vg_detect.h"
#include "vg_features.h"
#include "vg_metrics.h"
#include "vg_model.h"
#include "vg_rules.h"
#include "vg_store.h"
#include "vg_tx.h"
#include "vg_verdict.h"

#include <stdbool.h>
#include <stdint.h>

#define VG_ENGINE_MAX_WORKERS 64

/* How rule hits decide (README "Rules"): ACTION, a hit's action (review,
 * block) is the least decision; SCORE, rules only add their weight to the
 * score and the thresholds decide. */
typedef enum { VG_RULES_POLICY_ACTION = 0, VG_RULES_POLICY_SCORE = 1 } vg_rules_policy;

typedef struct {
    int workers;          /* worker threads; 0 = number of cores */
    uint32_t shards;      /* virtual shards; default 1024 */
    uint32_t cache_users; /* user states kept in memory per worker; default 65536 */
    vg_features_config_t features;
    vg_detect_config_t detect;
    vg_rules_policy rules_policy;
    double model_threshold; /* a model score at or above it adds to the verdict */
    double model_weight;    /* the most a model reason contributes, 0..1 */
} vg_engine_config_t;

typedef struct vg_engine vg_engine_t;

void vg_engine_config_default(vg_engine_config_t *cfg);

/* Creates an engine over store (borrowed; must outlive the engine).
 * Returns 0 or VG_ERR_INVALID (bad config). */
int vg_engine_new(const vg_engine_config_t *cfg, vg_store_t *store, vg_engine_t **out);

/* Starts the worker threads and the committer. */
int vg_engine_start(vg_engine_t *e);

/* Scores n validated transactions; out[i] is the verdict of txs[i]. Any
 * thread may call it, concurrently. Blocks until every verdict is durable.
 * Strings in out borrow from txs (id) or static tables, except those of
 * duplicates (stored verdicts), which are copied into arena. txs must stay
 * valid until return. Returns 0 when every transaction was scored, else
 * the first failure (each out[i].status says which failed): VG_ERR_STORAGE
 * after a failed commit (the engine then refuses all work until restart),
 * VG_ERR_CLOSED when stopping. */
int vg_engine_score(vg_engine_t *e, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                    vg_arena_t *arena);

/* Completion of vg_engine_submit: rc as vg_engine_score would return. */
typedef void(vg_engine_done_fn)(void *arg, int rc);

/* Asynchronous vg_engine_score: returns at once; done(arg, rc) runs exactly
 * once, on an engine thread (keep it short: encode and hand off), when
 * every verdict is durable or failed; it may also run before this call
 * returns. txs, out and arena belong to the engine until then. */
int vg_engine_submit(vg_engine_t *e, const vg_tx_t *txs, uint32_t n, vg_verdict_t *out,
                     vg_arena_t *arena, vg_engine_done_fn *done, void *arg);

/* Drops the cached user states of the shards whose flags[shard] is set
 * (n_shards bytes), so the next transaction reads LMDB: used when shards
 * move in or out (hand-off). Any thread but a worker; returns when every
 * worker has done it. */
void vg_engine_evict_shards(vg_engine_t *e, const uint8_t *flags);

/* Installs the rule set every batch scored from now on uses (ownership of
 * *rs_p moves, which is cleared; NULL = no rules); batches being scored
 * finish with the one they started with. Any thread. */
void vg_engine_set_rules(vg_engine_t *e, vg_ruleset_t **rs_p, uint64_t version);
/* The version in use, 0 = none. */
uint64_t vg_engine_rules_version(vg_engine_t *e);
/* Calls fn with the rule set in use (NULL, 0 when none), which stays valid
 * during the call. */
typedef void(vg_engine_rules_fn)(void *arg, const vg_ruleset_t *rs, uint64_t version);
void vg_engine_with_rules(vg_engine_t *e, vg_engine_rules_fn *fn, void *arg);

/* Installs the model that scores from now on (shadow: the challenger that
 * is scored and counted, never acted on); ownership of *m_p moves, NULL =
 * none. As vg_engine_set_rules. */
void vg_engine_set_model(vg_engine_t *e, vg_model_t **m_p, uint64_t version, bool shadow);

typedef struct {
    uint64_t active_version, shadow_version; /* 0 = none */
    uint64_t scored, flagged;                /* active: scores, scores >= threshold */
    uint64_t shadow_scored, shadow_flagged;
    uint64_t both_flagged; /* both at or above the threshold */
} vg_engine_model_stats_t;

void vg_engine_model_stats(vg_engine_t *e, vg_engine_model_stats_t *out);

/* True when started and no commit has failed. */
bool vg_engine_ready(vg_engine_t *e);

/* Number of workers and shards in use. */
int vg_engine_workers(vg_engine_t *e);
uint32_t vg_engine_shards(vg_engine_t *e);

/* Appends the engine's Prometheus metrics. */
void vg_engine_metrics(vg_engine_t *e, vg_prom_t *p);

/* Stops: no caller may be inside vg_engine_score. Drains, joins threads. */
void vg_engine_stop(vg_engine_t *e);
/* Stops if needed and frees; NULL-safe; clears *e_p. */
void vg_engine_destroy(vg_engine_t **e_p);

#endif
