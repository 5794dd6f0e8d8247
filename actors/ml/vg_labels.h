/* vg_labels.h: ground truth for evaluating a model on replayed
 * transactions, keyed by transaction id. Three shapes, told apart by the
 * first non-blank byte:
 *   CSV with a header holding `id` and `label` columns (label 0 or 1;
 *       other columns ignored): what vigil-loadgen --labels writes
 *       (`id,label,kind`);
 *   '{'  a JSON object {"<id>": 1 | 0 | true | false, ...};
 *   '['  a JSON array of the anomalous ids; every other id is normal. */
#ifndef VG_LABELS_H
#define VG_LABELS_H

#include "vg_arena.h"
#include "vg_str.h"
#include "vg_strmap.h"

#include <stddef.h>

typedef struct {
    size_t n;        /* labelled ids */
    size_t n_pos;    /* of which anomalous */
    int listed_only; /* JSON array: unlisted ids are normal */
    /* private */
    vg_strmap_t map; /* id -> marker (keys are slices of buf / arena) */
    char *buf;
    size_t len;
    vg_arena_t arena;
} vg_labels_t;

/* Reads path. Returns 0, VG_ERR_IO or VG_ERR_PARSE (message names the
 * line or item). */
int vg_labels_read(const char *path, vg_labels_t *out, char *errbuf, size_t errlen);

/* Parses len bytes; takes ownership of buf (a vg_malloc'd buffer). */
int vg_labels_parse(char *buf, size_t len, const char *what, vg_labels_t *out, char *errbuf,
                    size_t errlen);

/* 1 anomalous, 0 normal, -1 unknown id. */
int vg_labels_get(const vg_labels_t *l, vg_str_t id);

void vg_labels_fini(vg_labels_t *l);

#endif
