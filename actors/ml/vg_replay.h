/* vg_replay.h: offline replay of a transaction file through the node's
 * feature code, for vigil-train. Transactions (NDJSON or a JSON array,
 * parsed by proto's vg_tx_json) are applied in file order, as the node
 * applies a user's events: a fresh vg_user_state_t per user_id (in
 * memory), a transaction whose id and event time were seen before is a
 * duplicate and changes nothing, and vg_features_update computes the snapshot (late events are
 * scored but not applied, as on the node). Each applied or late
 * transaction yields one feature row (the chosen features, in order). */
#ifndef VG_REPLAY_H
#define VG_REPLAY_H

#include "vg_arena.h"
#include "vg_features.h"
#include "vg_str.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *features; /* indices into VG_FEATURE_LIST */
    uint32_t n_features;     /* 1..VG_FEATURE_COUNT */
    vg_features_config_t fcfg;
    /* Called about every 64k transactions: bytes of the input consumed
     * so far and rows built. May be NULL. */
    void (*progress)(void *arg, size_t done, size_t total, size_t rows);
    void *progress_arg;
} vg_replay_opts_t;

typedef struct {
    uint32_t d;     /* features per row */
    size_t rows;    /* rows built */
    double *x;      /* rows x d, row-major */
    vg_str_t *ids;  /* rows transaction ids (slices of buf or arena) */
    size_t n_items; /* items in the input */
    size_t n_invalid, n_duplicate, n_late, n_users;
    char first_error[256]; /* first invalid item, "" if none */
    uint64_t fingerprint;  /* vg_model_fingerprint of the input bytes */
    /* private */
    char *buf;
    size_t len, cap;
    vg_arena_t arena;
} vg_replay_t;

/* Replays len bytes of transactions; takes ownership of buf (freed by
 * vg_replay_fini, also on error). Returns 0, or VG_ERR_PARSE when the
 * input as a whole is not transactions (message in errbuf). Invalid items
 * are counted and skipped, not failures. */
int vg_replay_buffer(char *buf, size_t len, const char *what, const vg_replay_opts_t *o,
                     vg_replay_t *out, char *errbuf, size_t errlen);

/* Reads path and replays it; VG_ERR_IO when it cannot be read. */
int vg_replay_file(const char *path, const vg_replay_opts_t *o, vg_replay_t *out, char *errbuf,
                   size_t errlen);

void vg_replay_fini(vg_replay_t *r);

#endif
