/* vg_anomaly_svc.c: ANOMALY_QUERY answered from the node's store. The
 * records are collected into a scratch buffer first, because the array
 * header needs their count. */
#include "vg_anomaly_svc.h"

#include "vg_err.h"

#include <stdint.h>

#define S_LIST 0
#define S_GET  1
#define S_STAT 2

/* Encoded items and their count (the array header comes last). */
typedef struct {
    vg_mpw_t items;
    uint32_t n;
} s_collect_t;

static int s_on_record(void *arg, const vg_anomaly_rec_t *rec)
{
    s_collect_t *c = arg;
    vg_anomaly_rec_encode(rec, &c->items);
    c->n++;
    return 0;
}

static int s_on_bucket(void *arg, const vg_anomaly_bucket_t *b)
{
    s_collect_t *c = arg;
    vg_mpw_array(&c->items, 9);
    vg_mpw_int(&c->items, b->start_ms);
    vg_mpw_uint(&c->items, b->total);
    for (int i = 0; i < 4; i++) vg_mpw_uint(&c->items, b->by_severity[i]);
    for (int i = 0; i < 3; i++) vg_mpw_uint(&c->items, b->by_decision[i]);
    c->n++;
    return 0;
}

static vg_str_t s_opt(vg_str_t s)
{
    return s.len ? s : VG_STR_NULL;
}

static int s_list(vg_store_t *s, const vg_body_anomaly_query_t *b, s_collect_t *c, char *next)
{
    vg_anomaly_query_t q;
    vg_anomaly_query_init(&q);
    q.from_ms = b->from_ms;
    q.to_ms = b->to_ms;
    q.user_id = s_opt(b->user_id);
    q.min_severity = b->min_severity;
    q.detector = s_opt(b->detector);
    q.rule = s_opt(b->rule);
    q.decision = b->decision;
    q.limit = b->limit;
    q.cursor = s_opt(b->cursor);
    if (q.min_severity < -1 || q.min_severity > VG_SEV_CRITICAL || q.decision < -1 ||
        q.decision > VG_DECISION_BLOCK)
        return VG_ERR_INVALID;
    return vg_store_anomaly_query(s, &q, 0, s_on_record, c, next, VG_STORE_CURSOR_MAX + 1);
}

int vg_anomaly_svc_answer(vg_store_t *s, const vg_body_anomaly_query_t *q, vg_mpw_t *records,
                          char *next_cursor, vg_mpw_t *buckets)
{
    s_collect_t c = {.n = 0};
    s_collect_t bk = {.n = 0};
    vg_mpw_init(&c.items);
    vg_mpw_init(&bk.items);
    next_cursor[0] = 0;
    int rc;
    switch (q->kind) {
    case S_LIST: rc = s_list(s, q, &c, next_cursor); break;
    case S_GET:
        rc = vg_store_anomaly_get(s, q->id, s_on_record, &c);
        if (rc == VG_ERR_NOT_FOUND) rc = 0; /* another node may have it */
        break;
    case S_STAT:
        rc = vg_store_anomaly_stats(s, q->from_ms, q->to_ms, q->bucket_ms, s_on_bucket, &bk);
        break;
    default: rc = VG_ERR_INVALID; break;
    }
    if (rc) c.n = bk.n = 0, next_cursor[0] = 0;
    vg_mpw_array(records, c.n);
    if (c.n) vg_mpw_raw(records, c.items.buf, c.items.len);
    vg_mpw_array(buckets, bk.n);
    if (bk.n) vg_mpw_raw(buckets, bk.items.buf, bk.items.len);
    vg_mpw_fini(&c.items);
    vg_mpw_fini(&bk.items);
    return rc;
}
