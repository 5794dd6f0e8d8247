/* vg_outbox.h: delivery of the store's outbox to one sink (vg_store_outbox_*:
 * anomalies awaiting PostgreSQL, Kafka, alerts, ...) by one thread per
 * sink: the oldest entries that sink has not acked, in batches, to its
 * deliver function, acked only once it committed. When the sink is down
 * its backlog grows and delivery resumes by itself (backoff 100 ms
 * doubling to max_backoff_ms); nothing is lost, and a batch delivered
 * twice (a crash between commit and ack) must be harmless to the sink
 * (PostgreSQL: ON CONFLICT; Kafka: consumers dedupe by anomaly id).
 *
 * Adding a sink: give the store one more outbox sink (vg_store_config_t
 * outbox_sinks / outbox_sink_names) and start a vg_outbox_t with that
 * sink index, a name and a deliver function. */
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
    vg_store_t *store;             /* borrowed; opened with this sink among its outbox sinks */
    uint32_t sink;                 /* the store's sink index this thread delivers */
    const char *name;              /* metric label sink="..." (copied); NULL = the store's name */
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
 * vigil_outbox_failures_total, vigil_outbox_delivery_seconds, one series
 * per outbox labelled sink="<name>" (the headers once: pass every running
 * outbox of the process in one call). NULL entries are skipped. */
void vg_outbox_metrics(vg_outbox_t *const *obs, size_t n, vg_prom_t *p);
/* True when the last delivery attempt succeeded (or none failed yet). */
bool vg_outbox_healthy(vg_outbox_t *o);

#endif
