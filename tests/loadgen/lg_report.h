/* lg_report.h: what a vigil-loadgen run measured, and its final report as
 * text or JSON. Each worker fills its own lg_report_t; the run merges
 * them. Not thread-safe: one owner at a time. */
#ifndef LG_REPORT_H
#define LG_REPORT_H

#include "lg_cli.h"
#include "lg_hist.h"
#include "lg_quality.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define LG_REPORT_CODES 16

typedef struct {
    char code[32];
    uint64_t n;
} lg_code_count_t;

typedef struct {
    /* what ran (set by the run, not merged) */
    const lg_opts_t *opts;
    char tag[48];
    int64_t start_ms;    /* simulated clock start */
    double natural_rate; /* tx/s the population produces in simulated time */
    double speedup;      /* --realtime: simulated seconds per wall second */
    bool interrupted;
    char fatal[256];
    /* warm-up */
    uint64_t wu_tx, wu_req, wu_failed; /* failed: requests without a 2xx answer */
    double wu_secs;
    /* measured phase */
    double secs;
    uint64_t req, req_ok; /* requests answered, of them 2xx */
    uint64_t tx_sent;     /* transactions in requests sent */
    uint64_t tx_ok;       /* transactions in 2xx answers */
    uint64_t scored;      /* results with a verdict */
    uint64_t duplicates, late, id_mismatch, bad_responses, transport_errors;
    uint64_t http[600];                     /* answers by HTTP status */
    lg_code_count_t items[LG_REPORT_CODES]; /* per-item errors by code */
    uint64_t items_other;
    char first_error[256];
    lg_hist_t lat; /* from the scheduled send time, ns */
    lg_hist_t svc; /* from the actual send, ns */
    lg_quality_t quality;
    uint64_t generated[LG_KIND_COUNT]; /* measured transactions generated per kind */
    uint64_t bytes;                    /* request (or --dry-run output) bytes */
} lg_report_t;

/* Heap-allocated, zeroed (the histograms make it ~120 KB). */
lg_report_t *lg_report_new(void);
void lg_report_destroy(lg_report_t **self_p);

/* Counts n per-item errors with this code. */
void lg_report_item_error(lg_report_t *r, const char *code, uint64_t n);
/* Adds src's counters, histograms and quality into dst (first_error kept
 * if dst has none). */
void lg_report_merge(lg_report_t *dst, const lg_report_t *src);

void lg_report_text(const lg_report_t *r, FILE *f);
void lg_report_json(const lg_report_t *r, FILE *f);

#endif
