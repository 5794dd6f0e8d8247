/* vg_member_internal.h: what the files of the member module share:
 * vg_member.c (membership, data path, hand-off, admin, maintenance) and
 * vg_member_blobs.c (rule sets and models: push, fetch, sync). */
#ifndef VG_MEMBER_INTERNAL_H
#define VG_MEMBER_INTERNAL_H

#include "vg_member.h"

#include "vg_cstate.h"
#include "vg_jw.h"
#include "vg_msg.h"
#include "vg_raft.h"
#include "vg_transport.h"

#include <pthread.h>
#include <stdatomic.h>

#define S_MOD        "member"
#define S_PROPOSE_MS 5000
#define S_TICK_MS    250

struct vg_member {
    vg_member_config_t cfg;
    char listen[128], raft_addr[128], join[128], data_dir[512];
    vg_engine_t *engine;
    vg_transport_t *tr;
    vg_cstate_t *state;
    vg_raft_t *raft;
    atomic_bool ready, stopping;
    _Atomic uint32_t last_reserved; /* leader: the last node id it assigned */
    atomic_bool rebalancing;        /* leader: a returned member is being given shards */
    pthread_t rules_thread;         /* keeps the engine on the committed rule set */
    bool rules_started;
    char rules_applied[256];    /* signature of the rule set + lists in the engine */
    char rules_error[400];      /* why the committed rule set is not in use, "" */
    char models_applied[64];    /* signature of the models in the engine */
    char models_error[300];     /* why a committed model is not in use, "" */
    pthread_mutex_t push_mu;    /* leader: one BLOB_PUT at a time */
    atomic_int workers;         /* control threads in flight */
    _Atomic uint8_t *frozen;    /* per shard: handing off, refuse its batches */
    _Atomic int64_t *frozen_at; /* per shard: when it was frozen (ms, monotonic) */
    atomic_int *inflight;       /* per shard: batches submitted, not yet answered */
    pthread_t tick;
    bool tick_started;
    bool connected[VG_CSTATE_MAX_MEMBERS + 1]; /* maintenance thread only */
    uint32_t connected_id[VG_CSTATE_MAX_MEMBERS + 1];
    vg_counter_t m_batches, m_txs, m_not_owner, m_bad, m_failovers;
    vg_hist_t m_handoff;
};

/* A copy of what the maintenance thread needs of the replicated state. */
typedef struct {
    vg_member_t *mb;
    uint32_t ids[64];
    char addrs[64][VG_CSTATE_ADDR_MAX + 1];
    int states[64];
    uint32_t shards[64]; /* owned by each */
    uint32_t n_owners;   /* members owning at least one shard */
    size_t n;
    bool has_map, self_member;
} vg__member_tick_q_t;

/* ---- vg_member.c ---------------------------------------------------------- */

/* Fills a vg__member_tick_q_t (q->mb set) under the raft read lock. */
void vg__member_tick_read(const vg_cstate_t *st, void *arg);
/* The envelope of a reply of `type` to req, from this node. */
vg_env_t vg__member_reply_env(vg_member_t *mb, const vg_transport_msg_t *req, int type);
/* Sends m to peer; a failure is logged. */
void vg__member_send(vg_member_t *mb, uint32_t peer, vg_msg_t *m);
/* Proposes one command (in w) through raft; EXISTS counts as done. */
int vg__member_propose(vg_member_t *mb, vg_mpw_t *w, vg_raft_result_t *res);
/* The raft leader's id and transport address (0, "" when unknown). */
void vg__member_leader_info(vg_member_t *mb, uint32_t *id, char *addr, size_t cap);
/* ADMIN_REPLY with w's JSON / an error object naming the leader. */
void vg__member_admin_reply(vg_member_t *mb, const vg_transport_msg_t *req, int code, vg_jw_t *w);
void vg__member_admin_error(vg_member_t *mb, const vg_transport_msg_t *req, int code,
                            const char *text);

/* ---- vg_member_kv.c --------------------------------------------------------- */

/* Handles ADMIN kv.get / kv.list / kv.gens (any member) and kv.put /
 * kv.add / kv.del (leader); arg is the command's JSON object. False when
 * cmd is none of them. */
bool vg__member_admin_kv(vg_member_t *mb, const vg_transport_msg_t *msg, vg_str_t cmd,
                         vg_str_t arg, vg_jw_t *w);

/* ---- vg_member_blobs.c ------------------------------------------------------ */

/* The sync thread: keeps the engine on the committed rule set and models. */
void *vg__member_rules_main(void *arg);
/* BLOB_PUT (leader) and BLOB_GET, on control threads. */
void vg__member_blob_put(vg_member_t *mb, const vg_transport_msg_t *msg);
void vg__member_blob_get(vg_member_t *mb, const vg_transport_msg_t *msg);
/* ADMIN rules.* / models.*: true when cmd was one of them (answered). */
bool vg__member_admin_rules(vg_member_t *mb, const vg_transport_msg_t *msg, vg_str_t cmd,
                            uint32_t arg, vg_jw_t *w);
bool vg__member_admin_models(vg_member_t *mb, const vg_transport_msg_t *msg, vg_str_t cmd,
                             uint32_t arg, vg_jw_t *w);

#endif
