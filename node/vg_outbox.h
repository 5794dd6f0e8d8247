/* vg_outbox.h: delivery of the store's outbox (anomalies awaiting the
 * external store, vg_store_outbox_*) by one thread: the oldest entries in
 * batches to a deliver function, acked only once it committed. When the
 * external store is down the outbox grows and delivery resumes by itself
 * (backoff 100 ms doubling to max_backoff_ms); nothing is lost, and a
 * batch delivered twice (a crash between commit and ack) is harmless
 * because the external store ignores records it has (ON CONFLICT). */
#ifndef VG_OUTBOX_H
#define VG_OUTBOX_H

#include "vg_metrics.h"
#include "vg_store.h"

#include <stdbool.h>
#include <stddef.h>

/* Stores n records (vg_anomaly_encode bytes) durably; 0 only once
 * committed. Called on the outbox thread. */
typedef int(vg_outbox_deliver_fn)(void *ctx, const vg_str_t *recs, size_t n);

typedef struct {
    vg_store_t *store;             /* borrowed; opened with cfg.outbox */
    vg_outbox_deliver_fn *deliver; /* required */
    void (*maintain)(void *ctx);   /* optional, every maintain_every_s (and at start) */
    void *ctx;
    size_t batch;         /* records per delivery; 0 = 2000 */
    int idle_ms;          /* pause when empty; 0 = 20 */
    int max_backoff_ms;   /* 0 = 5000 */
    int maintain_every_s; /* 0 = 600 */
} vg_outbox_config_t;

typedef struct vg_outbox vg_outbox_t;

int vg_outbox_start(const vg_outbox_config_t *cfg, vg_outbox_t **out);
/* Stops the thread (an entry in delivery is finished or left for the next
 * start); NULL-safe. */
void vg_outbox_stop(vg_outbox_t **o_p);
/* vigil_outbox_entries, vigil_outbox_delivered_total,
 * vigil_outbox_failures_total, vigil_outbox_delivery_seconds. */
void vg_outbox_metrics(vg_outbox_t *o, vg_prom_t *p);
/* True when the last delivery attempt succeeded (or none failed yet). */
bool vg_outbox_healthy(vg_outbox_t *o);

#endif
