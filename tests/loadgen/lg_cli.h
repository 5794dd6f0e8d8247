/* lg_cli.h: vigil-loadgen's command line: the options, their defaults,
 * --help, and parsing that names the offending flag in every error. */
#ifndef LG_CLI_H
#define LG_CLI_H

#include "lg_gen.h"
#include "lg_http.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define LG_HEADERS_MAX 2048

typedef struct {
    char target[512];
    lg_url_t url;
    double rate;           /* tx/s; 0 = as fast as possible */
    uint32_t batch;        /* tx per request; 1 = single-object requests */
    uint32_t warmup_batch; /* tx per request during the warm-up */
    uint32_t concurrency;  /* connections = threads */
    double duration;       /* seconds of measured phase; 0 = not set */
    uint64_t count;        /* measured transactions; 0 = not set */
    uint32_t users;
    double anomaly_rate;
    double mix[LG_ANOMALY_KINDS]; /* all 0 = generator defaults */
    uint64_t seed;
    char run_id[25];
    bool run_id_set;
    double history_days;
    int64_t start_ms;
    bool start_set;
    bool realtime, quiet, json, dry_run;
    double report_every; /* seconds; 0 = no progress lines */
    char labels[512];    /* "" = no labels file */
    int timeout_ms;
    char headers[LG_HEADERS_MAX]; /* "Name: value\r\n" lines */
} lg_opts_t;

void lg_opts_defaults(lg_opts_t *o);

/* Parses argv[1..] into o (which holds the defaults). Returns 0 to run, 1
 * when --help or --version was printed to out, or VG_ERR_INVALID with
 * "--flag: reason" in err. */
int lg_cli_parse(int argc, char **argv, lg_opts_t *o, FILE *out, char *err, size_t errlen);

void lg_cli_usage(FILE *f);

/* The generator's id tag: "<seed>" or "<seed>.<run id>". */
void lg_cli_tag(const lg_opts_t *o, char *buf, size_t size);

#endif
