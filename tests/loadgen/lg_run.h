/* lg_run.h: one vigil-loadgen session. Over the network: one worker
 * thread per connection, each owning a disjoint slice of the users (its
 * own generator part), so every user's events are sent in order on one
 * connection; a warm-up of history first, then the measured phase paced
 * open-loop. Or --dry-run: the whole stream as NDJSON, no network. */
#ifndef LG_RUN_H
#define LG_RUN_H

#include "lg_cli.h"
#include "lg_report.h"

#include <stdatomic.h>
#include <stdio.h>

typedef struct {
    const lg_opts_t *opts;
    const char *tag;   /* generator id tag (lg_cli_tag) */
    int64_t start_ms;  /* simulated clock start */
    atomic_bool *stop; /* set from anywhere (a signal handler) to end early */
    FILE *labels;      /* "id,label,kind" rows go here; NULL = none */
    FILE *progress;    /* progress lines; NULL = none */
} lg_run_cfg_t;

/* Runs against cfg->opts->url and fills rep (its opts/tag/start are set
 * by the caller). Returns 0, VG_ERR_UNREACHABLE when the target stopped
 * accepting connections (rep->fatal says why), or VG_ERR_INVALID when
 * the generator rejected the options. Blocks until done or *stop. */
int lg_run_net(const lg_run_cfg_t *cfg, lg_report_t *rep);

/* Writes the stream as NDJSON to out (paced by --rate / --realtime when
 * set) and fills rep. Returns 0, VG_ERR_IO when out fails (e.g. a closed
 * pipe), or VG_ERR_INVALID. */
int lg_run_dry(const lg_run_cfg_t *cfg, FILE *out, lg_report_t *rep);

#endif
