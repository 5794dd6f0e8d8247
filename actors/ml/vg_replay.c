/* vg_replay.c: one vg_tx_json walk over the whole input; the callback
 * dedupes by (id, event time) as the node does, finds (or creates) the user's state and runs the
 * same vg_features_update the node's shard workers run. */
#include "vg_replay.h"

#include "vg_csv.h"
#include "vg_err.h"
#include "vg_file.h"
#include "vg_mem.h"
#include "vg_model.h"
#include "vg_strmap.h"
#include "vg_tx_json.h"
#include "vg_txcsv.h"

#include <stdio.h>
#include <string.h>

#define S_PROGRESS_EVERY 65536

typedef struct {
    const vg_replay_opts_t *o;
    vg_replay_t *r;
    vg_strmap_t users; /* user_id -> vg_user_state_t (in r->arena) */
    vg_strmap_t seen;  /* tx id -> its event time (int64_t in r->arena) */
} s_walk_t;

static void s_add_row(vg_replay_t *r, const vg_features_t *f, const vg_replay_opts_t *o,
                      vg_str_t id)
{
    if (r->rows == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 65536;
        r->x = vg_realloc(r->x, r->cap * r->d * sizeof *r->x);
        r->ids = vg_realloc(r->ids, r->cap * sizeof *r->ids);
    }
    const double *a = vg_features_array(f);
    double *row = r->x + r->rows * r->d;
    for (uint32_t i = 0; i < o->n_features; i++) row[i] = a[o->features[i]];
    r->ids[r->rows++] = id;
}

static int s_item(void *arg, uint32_t index, const vg_tx_t *tx, const vg_perr_t *err)
{
    s_walk_t *w = arg;
    vg_replay_t *r = w->r;
    r->n_items++;
    if (w->o->progress && r->n_items % S_PROGRESS_EVERY == 0) {
        size_t done = tx->id.ptr >= r->buf && tx->id.ptr < r->buf + r->len
                          ? (size_t) (tx->id.ptr - r->buf)
                          : 0;
        w->o->progress(w->o->progress_arg, done, r->len, r->rows);
    }
    if (err) {
        if (!r->n_invalid++) {
            char msg[200];
            snprintf(r->first_error, sizeof r->first_error, "item %u: %s", index,
                     vg_perr_str(err, msg, sizeof msg));
        }
        return 0;
    }
    /* the node's idempotency key: the id with its event time */
    int64_t *ts = vg_strmap_get(&w->seen, tx->id);
    if (ts && *ts == tx->ts_ms) {
        r->n_duplicate++;
        return 0;
    }
    if (!ts) {
        ts = vg_arena_alloc(&r->arena, sizeof *ts);
        *ts = tx->ts_ms;
        vg_strmap_put(&w->seen, tx->id, ts);
    }
    vg_user_state_t *s = vg_strmap_get(&w->users, tx->user_id);
    if (!s) {
        s = vg_arena_alloc(&r->arena, sizeof *s);
        vg_user_state_init(s);
        vg_strmap_put(&w->users, tx->user_id, s);
        r->n_users++;
    }
    vg_features_t f;
    if (!vg_features_update(s, tx, &w->o->fcfg, &f)) r->n_late++;
    s_add_row(r, &f, w->o, tx->id);
    return 0;
}

int vg_replay_buffer(char *buf, size_t len, const char *what, const vg_replay_opts_t *o,
                     vg_replay_t *out, char *errbuf, size_t errlen)
{
    VG_ASSERT(o->n_features >= 1 && o->n_features <= VG_FEATURE_COUNT);
    memset(out, 0, sizeof *out);
    out->buf = buf;
    out->len = len;
    out->d = o->n_features;
    out->fingerprint = vg_model_fingerprint(buf, len);
    out->arena.min_block = 1 << 20;
    s_walk_t w = {.o = o, .r = out};
    vg_strmap_init(&w.users, 1024);
    vg_strmap_init(&w.seen, 65536);
    vg_txj_opts_t jo = {.max_items = UINT32_MAX};
    vg_txj_result_t res;
    vg_perr_t perr;
    int rc = vg_tx_json_each(buf, len, &jo, &out->arena, s_item, &w, &res, &perr);
    vg_strmap_fini(&w.users);
    vg_strmap_fini(&w.seen);
    if (rc) {
        char msg[256];
        snprintf(errbuf, errlen, "%s: %s", what, vg_perr_str(&perr, msg, sizeof msg));
        vg_replay_fini(out);
        return VG_ERR_PARSE;
    }
    if (o->progress) o->progress(o->progress_arg, len, len, out->rows);
    return 0;
}

int vg_replay_file(const char *path, const vg_replay_opts_t *o, vg_replay_t *out, char *errbuf,
                   size_t errlen)
{
    char *buf;
    size_t len;
    int rc = vg_file_read(path, VG_ML_INPUT_MAX, &buf, &len, errbuf, errlen);
    if (rc) return rc;
    if (vg_txcsv_detect(buf, len)) { /* CSV history: the same parser, via NDJSON */
        char *json;
        size_t jlen;
        rc = vg_txcsv_to_ndjson(buf, len, path, &json, &jlen, errbuf, errlen);
        free(buf);
        if (rc) return rc;
        buf = json, len = jlen;
    }
    return vg_replay_buffer(buf, len, path, o, out, errbuf, errlen);
}

void vg_replay_fini(vg_replay_t *r)
{
    free(r->buf);
    free(r->x);
    free(r->ids);
    vg_arena_fini(&r->arena);
    memset(r, 0, sizeof *r);
}
