/* vg_cstate.h: the replicated cluster state: members, the shard map with
 * epochs, and rule set / model versions, changed only by msgpack commands.
 * Pure and deterministic (no I/O, threads or clock), so every node applying
 * the same log reaches the same bytes; the raft wrapper (vg_raft) drives it. */
#ifndef VG_CSTATE_H
#define VG_CSTATE_H

#include "vg_mp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_CSTATE_DEFAULT_SHARDS 1024
#define VG_CSTATE_MAX_SHARDS     65536
#define VG_CSTATE_MAX_MEMBERS    1024 /* including removed tombstones */
#define VG_CSTATE_ADDR_MAX       255  /* bytes of a host:port address */
#define VG_CSTATE_NAME_MAX       64   /* bytes of a rule set / model name: [A-Za-z0-9._-] */
#define VG_CSTATE_HASH_MAX       64   /* bytes of a content hash */
#define VG_CSTATE_MAX_NAMES      256  /* rule sets (or models) */
#define VG_CSTATE_MAX_VERSIONS   64 /* kept per name; adding one more prunes the oldest inactive */
#define VG_CSTATE_CMD_VERSION    1  /* first element of every command */
#define VG_CSTATE_SNAP_VERSION   2  /* second element of every snapshot (1 still decodes) */
#define VG_CSTATE_KV_KEY_MAX     128   /* bytes of a key-value table key */
#define VG_CSTATE_KV_VAL_MAX     8192  /* bytes of a value */
#define VG_CSTATE_KV_MAX_ENTRIES 200000 /* per table */

/* Command format (msgpack, canonical shortest encoding, nothing after it):
 *
 *   [version=1, type, fields...]          an array of exactly 2 + n(type) items
 *
 *   type                    fields
 *   1 ADD_MEMBER            id u32 (>0), data_addr str, raft_addr str, voter bool,
 *                           state u8 (JOINING or ACTIVE)
 *   2 SET_MEMBER_STATE      id, state u8 (ACTIVE, DRAINING or DOWN)
 *   3 SET_MEMBER_VOTER      id, voter bool
 *   4 REMOVE_MEMBER         id                      (must own no shard)
 *   5 INIT_MAP              n_shards u32, [owner id...]  shard i -> owners[i % n]
 *   6 ASSIGN_SHARDS         expected_map_epoch u64 (0 = any),
 *                           [[shard u32, new_owner u32, expected_epoch u64 (0 = any)]...]
 *   7 PUT_RULESET_VERSION   name str, version u64 (>0), hash bin, size u64
 *   8 ACTIVATE_RULESET      name, version (0 = none active)
 *   9 PUT_MODEL_VERSION     name, version, hash, size
 *  10 ACTIVATE_MODEL        name, version (0 = none active)
 *  11 KV_PUT                table, key, value (bin): insert or replace
 *  12 KV_DEL                table, key (NOT_FOUND when absent)
 *  13 KV_ADD                table, key, value: insert only (EXISTS when present)
 *
 * A command is validated completely before anything changes: a rejected
 * command leaves the state untouched (on every node alike). */
typedef enum {
    VG_CSTATE_ADD_MEMBER = 1,
    VG_CSTATE_SET_MEMBER_STATE = 2,
    VG_CSTATE_SET_MEMBER_VOTER = 3,
    VG_CSTATE_REMOVE_MEMBER = 4,
    VG_CSTATE_INIT_MAP = 5,
    VG_CSTATE_ASSIGN_SHARDS = 6,
    VG_CSTATE_PUT_RULESET_VERSION = 7,
    VG_CSTATE_ACTIVATE_RULESET = 8,
    VG_CSTATE_PUT_MODEL_VERSION = 9,
    VG_CSTATE_ACTIVATE_MODEL = 10,
    VG_CSTATE_KV_PUT = 11,
    VG_CSTATE_KV_DEL = 12,
    VG_CSTATE_KV_ADD = 13,
} vg_cstate_cmd;

/* The replicated key-value tables: small, rarely written records that
 * every node and gateway must see alike (the values' format belongs to
 * the table's owner module). Keys: 1..VG_CSTATE_KV_KEY_MAX bytes, no NUL. */
typedef enum {
    VG_KV_USERS = 1,    /* user name -> gateway/vg_auth user record */
    VG_KV_APIKEYS = 2,  /* key id -> API key record (hash, role, revoked) */
    VG_KV_LABELS = 3,   /* anomaly id -> analyst label record */
    VG_KV_SETTINGS = 4, /* setting name -> value (e.g. the JWT secret) */
    VG_KV_TABLES = 5    /* tables are 1 .. VG_KV_TABLES - 1 */
} vg_cstate_table;

typedef enum {
    VG_MEMBER_JOINING = 1, /* added; receives shards through hand-off */
    VG_MEMBER_ACTIVE = 2,  /* serving; receives drained / failed-over shards */
    VG_MEMBER_DRAINING = 3,
    VG_MEMBER_DOWN = 4,
    VG_MEMBER_REMOVED = 5, /* tombstone; may be re-added with ADD_MEMBER */
} vg_member_state;

typedef enum { VG_BLOB_RULESET = 0, VG_BLOB_MODEL = 1 } vg_cstate_blob_kind;

typedef struct vg_cstate vg_cstate_t;

/* A member as seen by a query. The strings are borrowed from the state:
 * valid until the next apply or snapshot decode on it. */
typedef struct {
    uint32_t id;
    vg_member_state state;
    bool voter;
    const char *data_addr; /* host:port of its transport */
    const char *raft_addr; /* host:port of its raft server */
    uint32_t n_shards;     /* shards it owns now */
} vg_cstate_member_t;

/* Outcome of an apply or a decode: code is 0 or a vg_err, msg says why. */
typedef struct {
    int code;
    uint8_t type; /* command type when it could be read, else 0 */
    char msg[160];
} vg_cstate_result_t;

/* One version of a rule set or model (metadata; blobs live in LMDB). */
typedef struct {
    uint64_t version;
    uint64_t size;
    uint8_t hash_len;
    uint8_t hash[VG_CSTATE_HASH_MAX];
} vg_cstate_blob_t;

/* A move of one shard; epoch is the shard's epoch when planned. */
typedef struct {
    uint32_t shard;
    uint32_t from;
    uint32_t to;
    uint64_t epoch;
} vg_cstate_move_t;

/* A move plan (owned by the caller; vg_cstate_plan_fini frees moves). */
typedef struct {
    vg_cstate_move_t *moves;
    size_t n;
    uint64_t map_epoch; /* map epoch the plan was made at */
} vg_cstate_plan_t;

/* ---- lifecycle ---------------------------------------------------------
 * A state has no lock: one writer at a time, and no reader during a write
 * (vg_raft provides the read lock). */

/* An empty state (no member, no shard map), owned by the caller. Never NULL. */
vg_cstate_t *vg_cstate_new(void);
/* Frees *self_p (NULL allowed) and clears it. */
void vg_cstate_destroy(vg_cstate_t **self_p);

/* Validates and applies one command. Returns 0, or a vg_err (PARSE for
 * malformed bytes, UNSUPPORTED for another command version, INVALID /
 * NOT_FOUND / EXISTS / LIMIT for a well-formed command that does not fit the
 * state) with the state unchanged; res (may be NULL) gets the code and a
 * message. Never trusts cmd: any bytes are safe. */
int vg_cstate_apply(vg_cstate_t *s, const void *cmd, size_t len, vg_cstate_result_t *res);

/* True when a and b hold the same state (same snapshot bytes). */
bool vg_cstate_equal(const vg_cstate_t *a, const vg_cstate_t *b);

/* ---- snapshot ----------------------------------------------------------
 * [ "VGCS", version=1, applied u64, map_epoch u64, [owner u32...],
 *   [epoch u64...], [[id, data_addr, raft_addr, state, voter]...] by id,
 *   rulesets, models, kv ]   with rulesets/models = [[name, active_version,
 *   [[version, hash bin, size]...] ascending]...] by name (bytewise), and
 *   kv = [[table, gen, [[key, value bin]...] by key]...] by table, only
 *   tables ever written (version 1 snapshots end before kv).
 * The two shard arrays have n_shards items each (0 before INIT_MAP). */

/* Appends the snapshot to w; returns w->err. Byte-identical for equal states. */
int vg_cstate_snapshot_encode(const vg_cstate_t *s, vg_mpw_t *w);
/* Replaces s with the decoded snapshot. Hardened: returns PARSE / INVALID /
 * UNSUPPORTED (res says why) for any bytes that are not a valid snapshot,
 * leaving s unchanged. */
int vg_cstate_snapshot_decode(vg_cstate_t *s, const void *buf, size_t len, vg_cstate_result_t *res);

/* ---- queries (borrowed results, see vg_cstate_member_t) ---------------- */

uint32_t vg_cstate_n_shards(const vg_cstate_t *s);  /* 0 before INIT_MAP */
uint64_t vg_cstate_map_epoch(const vg_cstate_t *s); /* number of map changes */
uint64_t vg_cstate_applied(const vg_cstate_t *s);   /* commands accepted so far */
/* Owner and epoch of shard; NOT_FOUND if shard >= n_shards. Either out may be NULL. */
int vg_cstate_shard(const vg_cstate_t *s, uint32_t shard, uint32_t *owner, uint64_t *epoch);
/* Members in id order, removed tombstones included. */
size_t vg_cstate_member_count(const vg_cstate_t *s);
int vg_cstate_member_at(const vg_cstate_t *s, size_t i, vg_cstate_member_t *out);
int vg_cstate_member_get(const vg_cstate_t *s, uint32_t id, vg_cstate_member_t *out);
uint32_t vg_cstate_voter_count(const vg_cstate_t *s); /* voters not removed */
/* Shards owned by node (0 for an unknown id). */
uint32_t vg_cstate_shard_count(const vg_cstate_t *s, uint32_t node);

/* Rule sets / models: names in bytewise order. */
size_t vg_cstate_blob_name_count(const vg_cstate_t *s, vg_cstate_blob_kind kind);
/* Name i (borrowed), its active version (0 = none) and number of kept versions. */
int vg_cstate_blob_name_at(const vg_cstate_t *s, vg_cstate_blob_kind kind, size_t i,
                           const char **name, uint64_t *active, size_t *n_versions);
/* A version of name; version 0 = the active one. NOT_FOUND if absent. */
int vg_cstate_blob_get(const vg_cstate_t *s, vg_cstate_blob_kind kind, const char *name,
                       uint64_t version, vg_cstate_blob_t *out);

/* Version i (0 = the oldest kept) of name; NOT_FOUND past the last. */
int vg_cstate_blob_version_at(const vg_cstate_t *s, vg_cstate_blob_kind kind, const char *name,
                              size_t i, vg_cstate_blob_t *out);
/* Key-value tables (see vg_cstate_table). Values are borrowed like
 * member strings. get: 0 or NOT_FOUND. gen counts the table's changes
 * (replicated: equal on every node), so a reader can tell when to reload. */
int vg_cstate_kv_get(const vg_cstate_t *s, int table, const void *key, size_t key_len,
                     const uint8_t **val, size_t *len);
size_t vg_cstate_kv_count(const vg_cstate_t *s, int table);
int vg_cstate_kv_at(const vg_cstate_t *s, int table, size_t i, const char **key, size_t *key_len,
                    const uint8_t **val, size_t *len);
uint64_t vg_cstate_kv_gen(const vg_cstate_t *s, int table);

const char *vg_cstate_member_state_name(int state); /* "active"...; "?" if unknown */
const char *vg_cstate_cmd_name(int type);           /* "ASSIGN_SHARDS"...; "?" if unknown */

/* ---- command encoders: append one command to w, return w->err ---------- */

int vg_cstate_cmd_add_member(vg_mpw_t *w, uint32_t id, const char *data_addr, const char *raft_addr,
                             bool voter, vg_member_state state);
int vg_cstate_cmd_set_member_state(vg_mpw_t *w, uint32_t id, vg_member_state state);
int vg_cstate_cmd_set_member_voter(vg_mpw_t *w, uint32_t id, bool voter);
int vg_cstate_cmd_remove_member(vg_mpw_t *w, uint32_t id);
int vg_cstate_cmd_init_map(vg_mpw_t *w, uint32_t n_shards, const uint32_t *owners, size_t n_owners);
/* Moves use shard, to and epoch (expected epoch; 0 = any). */
int vg_cstate_cmd_assign_shards(vg_mpw_t *w, uint64_t expected_map_epoch,
                                const vg_cstate_move_t *moves, size_t n);
/* The plan as one ASSIGN_SHARDS guarded by its map and shard epochs. */
int vg_cstate_cmd_assign_plan(vg_mpw_t *w, const vg_cstate_plan_t *plan);
int vg_cstate_cmd_put_blob(vg_mpw_t *w, vg_cstate_blob_kind kind, const char *name,
                           uint64_t version, const void *hash, size_t hash_len, uint64_t size);
int vg_cstate_cmd_activate_blob(vg_mpw_t *w, vg_cstate_blob_kind kind, const char *name,
                                uint64_t version);
int vg_cstate_cmd_kv_put(vg_mpw_t *w, int table, const void *key, size_t key_len, const void *val,
                         size_t len);
/* KV_ADD when add, else KV_PUT. */
int vg_cstate_cmd_kv_write(vg_mpw_t *w, bool add, int table, const void *key, size_t key_len,
                           const void *val, size_t len);
int vg_cstate_cmd_kv_del(vg_mpw_t *w, int table, const void *key, size_t key_len);

/* ---- planning (pure; run by the leader, committed as ASSIGN_SHARDS) ----
 * Each returns 0 and fills plan (maybe with no move), or INVALID /
 * NOT_FOUND with plan empty. Deterministic: ties go to the lower id and
 * the lower shard number. */

/* Gives node (JOINING or ACTIVE) floor(S/N) shards, N = current owners + 1,
 * taken one at a time from the most-loaded owner; no other shard moves. */
int vg_cstate_plan_join(const vg_cstate_t *s, uint32_t node, vg_cstate_plan_t *plan);
/* Moves every shard of node (DRAINING) to the ACTIVE members, each to the
 * least-loaded one. NOT_FOUND if there is no ACTIVE member to take them. */
int vg_cstate_plan_drain(const vg_cstate_t *s, uint32_t node, vg_cstate_plan_t *plan);
/* Same for a node marked DOWN. */
int vg_cstate_plan_down(const vg_cstate_t *s, uint32_t node, vg_cstate_plan_t *plan);
/* Frees the moves (plan may be zeroed or already finished). */
void vg_cstate_plan_fini(vg_cstate_plan_t *plan);

#endif
