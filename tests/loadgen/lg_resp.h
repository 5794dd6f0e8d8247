/* lg_resp.h: reading the answers of POST /v1/transactions: the verdicts of
 * a 2xx response ({"results":[...]} for an array, one result object for a
 * single transaction) and the {"error":{...}} body of a 4xx/5xx. */
#ifndef LG_RESP_H
#define LG_RESP_H

#include "lg_gen.h"
#include "vg_arena.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    bool scored;      /* a verdict (decision/anomaly) came back */
    bool anomaly;     /* verdict.anomaly */
    bool flagged;     /* decision != allow */
    bool duplicate;   /* "duplicate": true (the stored verdict of a known id) */
    bool late;        /* "late": true (event time older than the user's state) */
    bool id_mismatch; /* the result's id is not the id sent at this position */
    char error[32];   /* the item's error code, "" when none */
} lg_result_t;

/* Parses a 2xx body answering the n transactions txs (single: the request
 * was one object, so the body is one result). Fills out[0..n). Returns 0,
 * or VG_ERR_PARSE / VG_ERR_PROTO with a reason in err when the body is not
 * a result set for n items (then out is unspecified). arena holds decoded
 * escaped strings; the caller resets it. */
int lg_resp_parse(const char *body, size_t len, bool single, const lg_tx_t *txs, uint32_t n,
                  lg_result_t *out, vg_arena_t *arena, char *err, size_t errlen);

/* Extracts "code: message" (or a prefix of the raw body when it is not an
 * error object) from a 4xx/5xx body into buf. */
void lg_resp_error_text(const char *body, size_t len, char *buf, size_t size);

#endif
