/* vg_member.h: a node's membership in a cluster: its transport (ZeroMQ,
 * cluster/vg_transport) and raft control plane (cluster/vg_raft), the
 * data path for TX_BATCH messages routed to the shards it owns (scored by
 * the engine, answered with VERDICT_BATCH or NOT_OWNER), and the control
 * requests JOIN, MAP_GET and ADMIN. The raft leader bootstraps the shard
 * map, admits joiners with a minimal move plan and reassigns the shards of
 * members that stop answering. */
#ifndef VG_MEMBER_H
#define VG_MEMBER_H

#include "vg_engine.h"
#include "vg_jw.h"
#include "vg_store.h"
#include "vg_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t node_id;       /* >= 1 */
    const char *listen;     /* transport host:port (copied) */
    const char *raft;       /* raft host:port; NULL = listen port + 1000 */
    const char *join;       /* a member's listen host:port; NULL = bootstrap */
    const char *data_dir;   /* raft keeps <data_dir>/raft */
    uint32_t shards;        /* shard count of a bootstrapped map */
    uint32_t heartbeat_ms;  /* 0 = 500 */
    uint32_t dead_after_ms; /* 0 = 2500: silent members are marked down */
    vg_store_t *store;      /* the node's store: hand-off reads and writes shard ranges */
    /* The node's Prometheus metrics, served by ADMIN "metrics" (vigilctl
     * metrics); NULL = the engine's and the member's only. Any thread. */
    void (*metrics)(void *ctx, vg_prom_t *p);
    void *metrics_ctx;
    /* More members of the ADMIN "status" object (vigilctl status), written
     * into w as key/value pairs (e.g. "kafka": the bridge's state); NULL =
     * none. The member's thread. */
    void (*status)(void *ctx, vg_jw_t *w);
    void *status_ctx;
    /* ADMIN commands the member does not know (e.g. alerts.*): true when
     * handled, with *code 0 or a vg_err and the answer's JSON in w; NULL =
     * none. Runs on a control thread. */
    bool (*admin)(void *ctx, vg_str_t cmd, vg_str_t arg, vg_jw_t *w, int *code);
    void *admin_ctx;
} vg_member_config_t;

typedef struct vg_member vg_member_t;

/* Starts transport and raft, then bootstraps or joins. engine is borrowed
 * and must outlive the member. Returns 0 or a vg_err with errbuf set. */
int vg_member_start(const vg_member_config_t *cfg, vg_engine_t *engine, vg_member_t **out,
                    char *errbuf, size_t errlen);

/* True once this node is part of a cluster with a shard map. */
bool vg_member_ready(vg_member_t *m);
/* This node's id (known once vg_member_start returned). */
uint32_t vg_member_node_id(vg_member_t *m);

void vg_member_metrics(vg_member_t *m, vg_prom_t *p);

/* Stops raft and the transport (in-flight batches finish first); NULL-safe. */
void vg_member_stop(vg_member_t **m_p);

#endif
