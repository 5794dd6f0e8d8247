/* vg_ctl.h: the client side of the cluster's control messages, as vigilctl
 * uses it: reach one of several candidate nodes over the transport, send
 * ADMIN (following one NOT_OWNER redirect to the leader) or MAP_GET, and
 * hand back the node's answer (JSON text, or the shard map summarised). */
#ifndef VG_CTL_H
#define VG_CTL_H

#include "vg_arena.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_CTL_ADDR_MAX  256 /* bytes of a host:port address, NUL included */
#define VG_CTL_MAX_NODES 64  /* candidate addresses one vg_ctl_t dials */

/* Provisional peer id of a node whose id we don't know yet (the contract
 * with vigil-node: the reply's envelope src is its real id). Candidate i
 * is dialled as VG_CTL_PROVISIONAL_ID - i. */
#define VG_CTL_PROVISIONAL_ID 0x7fffffffu

typedef struct vg_ctl vg_ctl_t;

/* What one exchange produced. Filled by vg_ctl_admin / vg_ctl_map; free
 * with vg_ctl_result_fini. */
typedef struct {
    uint32_t node;              /* id of the node that answered (envelope src) */
    char addr[VG_CTL_ADDR_MAX]; /* the address we reached it at */
    uint32_t redirected_from;   /* id of the non-leader that sent us on; 0 none */
    char redirected_addr[VG_CTL_ADDR_MAX];
    int32_t code; /* the node's answer: 0 ok, else a vg_err */
    char *json;   /* ADMIN_REPLY json, NUL-terminated, owned; NULL if none */
    size_t json_len;
    char message[512]; /* why, when code != 0 or the call failed */
} vg_ctl_result_t;

/* One owner of shards in a MAP, or a member owning none. */
typedef struct {
    uint32_t id;
    int state;             /* vg_member_state; 0 = not a member, -1 = unknown state */
    const char *data_addr; /* "" when unknown; lives in the map's arena */
    uint32_t shards;       /* shards it owns */
    uint64_t max_epoch;    /* highest shard epoch among them */
} vg_ctl_owner_t;

/* A MAP reply, summarised. Strings and arrays live in the arena given to
 * vg_ctl_map. */
typedef struct {
    uint64_t map_epoch;
    uint32_t n_shards;
    uint32_t unowned;       /* shards with owner 0 */
    vg_ctl_owner_t *owners; /* members (by id) then unknown owners, ascending id */
    size_t n_owners;
} vg_ctl_map_t;

/* One member object of a status/nodes answer. Absent values: -1 / NULL. */
typedef struct {
    int64_t id, shards;
    int voter, alive; /* 1 true, 0 false, -1 absent */
    const char *state, *data_addr, *raft_addr;
} vg_ctl_member_t;

/* One partition of the Kafka bridge a node runs (status "kafka"). */
typedef struct {
    const char *topic;
    int64_t partition, position, committed, high, lag; /* -1 unknown */
    int paused;                                        /* 1, 0, -1 absent */
} vg_ctl_kafka_part_t;

/* An ADMIN answer's JSON, read leniently: unknown keys are skipped and any
 * field may be absent or null (-1 / NULL). Strings live in the arena given
 * to vg_ctl_doc_parse. */
typedef struct {
    int64_t node, leader, term, map_epoch, shards; /* status */
    const char *leader_addr;
    bool has_members;
    vg_ctl_member_t *members;
    size_t n_members;
    const char **warnings;
    size_t n_warnings;
    const char *state; /* drain / remove */
    int64_t moved;
    const char *error;      /* a refusal's message */
    const char *prometheus; /* metrics: the node's text exposition */
    /* status of a node running the Kafka bridge ("kafka"; has_kafka) */
    bool has_kafka;
    const char *kafka_group;
    int64_t kafka_lag, kafka_consumed, kafka_dead_letters;
    int kafka_paused;
    vg_ctl_kafka_part_t *kafka_parts;
    size_t n_kafka_parts;
} vg_ctl_doc_t;

typedef struct {
    const char *const *addrs; /* candidate host:port addresses, tried concurrently */
    size_t n_addrs;           /* 1 .. VG_CTL_MAX_NODES */
    int reach_timeout_ms;     /* > 0: how long to wait for a candidate to answer PING */
} vg_ctl_config_t;

/* Checks a host:port address ("127.0.0.1:7101", "node-2:7101",
 * "[::1]:7101"): non-empty host, port 1..65535. Returns true if valid,
 * else false with why (may be NULL) set to a static reason. */
bool vg_ctl_addr_valid(const char *addr, const char **why);

/* Creates a client transport (random client id, nothing bound) and dials
 * every candidate. *out gets it, owned by the caller. Returns 0,
 * VG_ERR_INVALID (bad config or address: errbuf names it) or the
 * transport's error (VG_ERR_IO...). On error *out is NULL. */
int vg_ctl_new(const vg_ctl_config_t *cfg, vg_ctl_t **out, char *errbuf, size_t errlen);

/* Closes the transport, frees *ctl_p and clears it. NULL-safe. */
void vg_ctl_destroy(vg_ctl_t **ctl_p);

/* Sends ADMIN(command, node) to the first candidate that answers, waits up
 * to reply_timeout_ms for ADMIN_REPLY. If the node answers NOT_OWNER with
 * a leader_addr, asks that leader once more (res->redirected_from says so).
 * Returns:
 *   0                  an answer came: res->code is the node's (0 or a
 *                      vg_err, res->message its "error" text), res->json
 *                      its JSON (an ERROR reply sets code and message only);
 *   VG_ERR_TIMEOUT     no candidate (or leader) reachable within the reach
 *                      timeout, or no reply within reply_timeout_ms;
 *   VG_ERR_PROTO       the reply was not ADMIN_REPLY/ERROR or malformed;
 *   other vg_err       the transport refused (res->message says why).
 * In every case res->message explains a failure; res is owned by the
 * caller (vg_ctl_result_fini). */
int vg_ctl_admin(vg_ctl_t *ctl, const char *command, uint32_t node, int reply_timeout_ms,
                 vg_ctl_result_t *res);

/* The same with the command's arguments (a JSON object: kv.* commands). */
int vg_ctl_admin_arg(vg_ctl_t *ctl, const char *command, uint32_t node, const char *arg,
                     size_t arg_len, int reply_timeout_ms, vg_ctl_result_t *res);

/* BLOB_PUT(kind, name, content, activate) to the leader (same routing and
 * results as vg_ctl_admin; the answer is the ADMIN_REPLY JSON: name,
 * version, hash, size, active, rules). kind: 0 rule set or list. */
int vg_ctl_blob_put(vg_ctl_t *ctl, uint32_t kind, const char *name, const void *content, size_t len,
                    bool activate, int reply_timeout_ms, vg_ctl_result_t *res);

/* Sends MAP_GET(0) and summarises the MAP into *map (allocated in arena).
 * Returns as vg_ctl_admin (no redirect: any member answers); on an ERROR
 * reply res->code is set and *map is zeroed. */
int vg_ctl_map(vg_ctl_t *ctl, int reply_timeout_ms, vg_arena_t *arena, vg_ctl_result_t *res,
               vg_ctl_map_t *map);

/* Summarises the bodies of a MAP message (exposed for tests): owners is
 * n_shards x 12 bytes, members a msgpack array of [id, state, data_addr].
 * Returns 0 or VG_ERR_PARSE with why set. */
int vg_ctl_map_summarise(uint64_t map_epoch, uint32_t n_shards, const void *owners,
                         size_t owners_len, const void *members, size_t members_len,
                         vg_arena_t *arena, vg_ctl_map_t *map, char *why, size_t whylen);

/* Parses an ADMIN answer (status, nodes, drain, remove or an error
 * object) into *doc. Returns 0, or VG_ERR_PARSE / VG_ERR_LIMIT with why
 * naming the field and byte offset ("members[1].shards: expected an
 * integer (byte 57)"). */
int vg_ctl_doc_parse(const char *json, size_t len, vg_arena_t *arena, vg_ctl_doc_t *doc, char *why,
                     size_t whylen);

/* Frees res->json; res may be reused afterwards. */
void vg_ctl_result_fini(vg_ctl_result_t *res);

#endif
