/* vg_raft.h: the control plane's consensus. Canonical raft (libuv backend,
 * TCP) replicates vg_cstate commands; each node runs it on one thread of its
 * own. The only module that includes raft.h: the rest of Vigil sees vg_err,
 * vg_cstate and the policy below (first max_voters nodes vote, later ones are
 * standbys). */
#ifndef VG_RAFT_H
#define VG_RAFT_H

#include "vg_cstate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_RAFT_ADDR_MAX    256 /* bytes of a raft address, NUL included */
#define VG_RAFT_MAX_VOTERS  3   /* default voter count; more joiners are standbys */
#define VG_RAFT_MAX_SERVERS 64  /* servers reported by vg_raft_servers */
#define VG_RAFT_CMD_MAX     (1u << 20)

typedef struct vg_raft vg_raft_t;

/* Called on the raft thread after each committed command was applied (res
 * is the state machine's verdict, index its log index), or with res NULL
 * and index 0 after the state was replaced by a snapshot. The state may be
 * read without locking inside (the raft thread is its only writer). Keep it
 * short; it must not call the blocking vg_raft_* requests. */
typedef void(vg_raft_apply_fn)(void *arg, const vg_cstate_t *state, uint64_t index,
                               const vg_cstate_result_t *res);
/* Called on the raft thread when this node becomes a ready leader (its
 * barrier for the term applied, so its state is current) or stops being one,
 * or when the known leader changes. leader_id 0 = unknown. */
typedef void(vg_raft_leader_fn)(void *arg, bool is_leader, uint32_t leader_id, uint64_t term);

typedef struct {
    uint32_t node_id;             /* > 0; the raft server id */
    const char *raft_addr;        /* "host:port" this node listens on; a name is resolved
                                     to its first IPv4 address (raft 0.15 takes IPv4 only) */
    const char *data_dir;         /* copied; raft keeps its log and snapshots in <data_dir>/raft */
    bool bootstrap;               /* first node: bootstrap a 1-voter configuration when the
                                     raft dir is pristine (ignored otherwise) */
    unsigned snapshot_threshold;  /* log entries between snapshots; 0 = 1024 */
    unsigned snapshot_trailing;   /* entries kept behind a snapshot; 0 = threshold / 4 */
    unsigned election_timeout_ms; /* 0 = 1000; heartbeat = election / 10 */
    unsigned max_voters;          /* 0 = VG_RAFT_MAX_VOTERS */
    vg_raft_apply_fn *on_apply;   /* optional */
    vg_raft_leader_fn *on_leader; /* optional */
    void *cb_arg;
} vg_raft_config_t;

/* Outcome of a blocking request. */
typedef struct {
    int code;                 /* the return value */
    bool committed;           /* propose: the entry was committed and applied here */
    uint64_t index;           /* propose: its log index */
    vg_cstate_result_t apply; /* propose: the state machine's verdict */
    uint32_t leader_id;       /* code NOT_OWNER: the leader as known here (0 = none yet) */
    char leader_addr[VG_RAFT_ADDR_MAX];
    bool voter;    /* join: the role given (voter or standby) */
    char msg[192]; /* why, for logs and replies */
} vg_raft_result_t;

typedef enum {
    VG_RAFT_UNAVAILABLE = 0,
    VG_RAFT_FOLLOWER = 1,
    VG_RAFT_CANDIDATE = 2,
    VG_RAFT_LEADER = 3,
} vg_raft_node_state;

typedef enum { VG_RAFT_STANDBY = 0, VG_RAFT_VOTER = 1, VG_RAFT_SPARE = 2 } vg_raft_role;

typedef struct {
    vg_raft_node_state state;
    bool leader_ready; /* leader whose term barrier was applied (vg_raft_is_leader) */
    uint64_t term;
    uint32_t leader_id; /* 0 = unknown */
    char leader_addr[VG_RAFT_ADDR_MAX];
    uint64_t last_index; /* last entry in the local log */
    uint64_t commit_index;
    uint64_t applied_index;  /* last entry applied to the state */
    uint64_t snapshot_index; /* last entry covered by the latest snapshot (0 = none) */
    uint64_t n_snapshots;    /* snapshots taken here */
    uint64_t n_restores;     /* snapshots restored here (start-up or install) */
    uint32_t n_voters, n_standbys, n_spares; /* current configuration */
} vg_raft_status_t;

typedef struct {
    uint32_t id;
    vg_raft_role role;
    char addr[VG_RAFT_ADDR_MAX];
} vg_raft_server_t;

/* ---- lifecycle (owner thread) ----------------------------------------------
 * vg_raft_new: checks cfg (INVALID on a bad id, address or dir, UNREACHABLE
 * if the host name does not resolve) and returns a stopped instance in *out,
 * owned by the caller. state is borrowed: it must outlive r, and once
 * started other threads read it only through vg_raft_read. */
int vg_raft_new(const vg_raft_config_t *cfg, vg_cstate_t *state, vg_raft_t **out);

/* Starts the raft thread: creates <data_dir>/raft, loads log and snapshot
 * (restoring state), bootstraps if configured, listens on raft_addr.
 * Blocks until that is done; returns 0, INVALID if already started, or the
 * converted raft error (IO for an address in use or a disk failure, ...;
 * raft's own message is logged), after which r can only be destroyed.
 * Ignores SIGPIPE process-wide if it was at its default. */
int vg_raft_start(vg_raft_t *r);

/* Closes raft (pending requests fail with CLOSED or TIMEOUT) and joins the
 * thread. Idempotent. Owner thread, never the raft thread. */
void vg_raft_stop(vg_raft_t *r);

/* Stops if needed, frees *r_p (NULL allowed) and clears it. No other thread
 * may be inside a vg_raft_* call on it. */
void vg_raft_destroy(vg_raft_t **r_p);

/* ---- requests (any thread except the raft thread; block up to timeout_ms)
 * Each returns res->code (res may be NULL):
 *   0            done
 *   NOT_OWNER    this node is not the leader; nothing was appended; the
 *                known leader is in res->leader_id / leader_addr (forward)
 *   TIMEOUT      no outcome within timeout_ms, or leadership was lost after
 *                the entry was appended: the outcome is unknown (commands
 *                are written to be safe to retry: epochs, EXISTS)
 *   FULL         another configuration change is in progress at raft level
 *   CLOSED       not started or stopping
 *   INVALID      bad argument, or called on the raft thread */

/* Appends cmd (a vg_cstate command, copied, <= VG_RAFT_CMD_MAX bytes) and
 * waits until it is applied here. Committed commands the state machine
 * rejects return its code (INVALID, EXISTS, ...) with res->committed set
 * and res->apply saying why; the state did not change. */
int vg_raft_propose(vg_raft_t *r, const void *cmd, size_t len, unsigned timeout_ms,
                    vg_raft_result_t *res);

/* raft_addr is "host:port"; a name is resolved here (blocking DNS).
 * Leader policy for a joining node: adds it as a voter while the
 * configuration has fewer than max_voters voters, else as a standby
 * (res->voter says which). Idempotent for the same id and address; EXISTS
 * if id is known with another address. Changes are serialized. */
int vg_raft_join(vg_raft_t *r, uint32_t id, const char *raft_addr, unsigned timeout_ms,
                 vg_raft_result_t *res);
/* Explicit roles (raft_add + raft_assign), also idempotent. */
int vg_raft_add_voter(vg_raft_t *r, uint32_t id, const char *raft_addr, unsigned timeout_ms,
                      vg_raft_result_t *res);
int vg_raft_add_standby(vg_raft_t *r, uint32_t id, const char *raft_addr, unsigned timeout_ms,
                        vg_raft_result_t *res);
/* Removes id from the configuration (NOT_FOUND if absent); if voters drop
 * below max_voters, promotes the lowest-id standby to voter. */
int vg_raft_remove(vg_raft_t *r, uint32_t id, unsigned timeout_ms, vg_raft_result_t *res);
/* Hands leadership to voter id (0 = raft picks one); 0 once another node leads. */
int vg_raft_transfer(vg_raft_t *r, uint32_t id, unsigned timeout_ms, vg_raft_result_t *res);

/* ---- reads (any thread; non-blocking except for the read lock) --------- */

/* Runs fn(state, arg) under the state's read lock (the raft thread applies
 * under the write lock). fn must be short and must not call vg_raft_*.
 * Returns 0. */
int vg_raft_read(vg_raft_t *r, void (*fn)(const vg_cstate_t *state, void *arg), void *arg);

/* A copy of the status, refreshed by the raft thread every ~25 ms and after
 * each event it handles. */
void vg_raft_status(vg_raft_t *r, vg_raft_status_t *out);
/* True when this node is the leader and its state is current (barrier). */
bool vg_raft_is_leader(vg_raft_t *r);
/* The known leader: 0 and its id (+ address into addr[cap], may be NULL),
 * or NOT_FOUND when none is known. */
int vg_raft_leader(vg_raft_t *r, uint32_t *id, char *addr, size_t cap);
uint64_t vg_raft_term(vg_raft_t *r);
/* The current configuration: fills out[0..min(n, cap)) and returns n. */
size_t vg_raft_servers(vg_raft_t *r, vg_raft_server_t *out, size_t cap);
uint32_t vg_raft_id(const vg_raft_t *r);

/* ---- internal, for tests of this module only -----------------------------
 * The state machine adapter, so raft's deterministic in-memory fixture
 * (raft/fixture.h, included by the test) runs the same apply / snapshot /
 * restore code. Single-threaded: no lock. */
struct raft_fsm;
void vg__raft_fsm_init(struct raft_fsm *fsm, vg_cstate_t *state);
void vg__raft_fsm_close(struct raft_fsm *fsm);
/* A log entry for cmd (raft_malloc'd, *entry_len bytes): "VG", 1, 0, u32
 * big-endian length, cmd, zero padding to a multiple of 8 (raft 0.15's uv
 * transport needs 8-byte multiples). */
void *vg__raft_entry_new(const void *cmd, size_t len, size_t *entry_len);
/* The verdict behind an apply callback's result pointer; NOT_FOUND once it
 * was overwritten (more than 64 applies later). */
int vg__raft_fsm_result(struct raft_fsm *fsm, void *result, vg_cstate_result_t *out);
/* The vg_err for a raft error code (0 for 0). */
int vg__raft_err(int raft_rv);

#endif
