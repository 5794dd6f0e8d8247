/* vg_tx_json.h: the request-body shapes of POST /v1/transactions: one JSON
 * object, a JSON array of objects, or NDJSON (one object per line). Each
 * item is handed to a callback in input order, valid or with its error. */
#ifndef VG_TX_JSON_H
#define VG_TX_JSON_H

#include "vg_tx.h"

#define VG_TXJ_MAX_ITEMS_DEFAULT 10000

typedef enum { VG_TXJ_AUTO = 0, VG_TXJ_ONE, VG_TXJ_ARRAY, VG_TXJ_NDJSON } vg_txj_shape;

typedef struct {
    vg_txj_shape shape; /* AUTO: '[' = array, one object = ONE, several = NDJSON */
    uint32_t max_items; /* 0 = VG_TXJ_MAX_ITEMS_DEFAULT; more is VG_ERR_TOO_LARGE */
} vg_txj_opts_t;

typedef struct {
    vg_txj_shape shape; /* the shape that was parsed */
    uint32_t count;     /* items handed to the callback */
} vg_txj_result_t;

/* Called once per item. tx is never NULL (borrowed for the call; its
 * strings live as long as body and arena); err is NULL when the item is
 * valid, else the item's error (err->index = index) and tx is only
 * partially filled (tx->id.ptr is NULL if the id was not read). A nonzero
 * return stops the walk and is returned by vg_tx_json_each. */
typedef int(vg_tx_each_fn)(void *arg, uint32_t index, const vg_tx_t *tx, const vg_perr_t *err);

/* Walks body. Returns 0 when every item was handed to fn (item errors are
 * not failures), else an error for the whole body (err filled): invalid
 * JSON syntax outside NDJSON, VG_ERR_TOO_LARGE for too many items, or the
 * callback's nonzero return. */
int vg_tx_json_each(const char *body, size_t len, const vg_txj_opts_t *opts, vg_arena_t *arena,
                    vg_tx_each_fn *fn, void *arg, vg_txj_result_t *res, vg_perr_t *err);

#endif
