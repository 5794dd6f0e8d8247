/* vg_raft.c: canonical raft 0.15 behind vg_raft.h. One thread per node runs
 * a libuv loop with raft (uv TCP transport, uv disk I/O) and the state
 * machine adapter; other threads queue requests (mutex + uv_async) and wait
 * on a condition variable; reads of the state go through a rwlock. */
#include "vg_raft.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define S_RING    64         /* apply verdicts kept for apply callbacks */
#define S_POLL_MS 25         /* status refresh period */
#define S_SEGMENT (1u << 20) /* open segment size: small logs, small files */
#define S_MOD     "raft"
#define S_FRAME   8 /* entry header: "VG", version, 0, u32 length */

/* ---- state machine adapter ------------------------------------------------- */

typedef struct {
    vg_cstate_t *state;
    pthread_rwlock_t *lock; /* NULL: single-threaded (the fixture) */
    vg_raft_t *owner;       /* NULL in the fixture */
    uint64_t seq;           /* applies so far; the apply result pointer */
    struct {
        uint64_t seq;
        vg_cstate_result_t res;
    } ring[S_RING];
    uint64_t n_snapshots;
    uint64_t n_restores;
} s_fsm_t;

typedef enum { S_PROPOSE, S_JOIN, S_ADD_VOTER, S_ADD_STANDBY, S_REMOVE, S_TRANSFER } s_kind;
typedef enum { S_STEP_ADD = 1, S_STEP_ASSIGN, S_STEP_REMOVE, S_STEP_PROMOTE } s_step;

/* A blocking request: shared by the caller and the raft thread (refs). */
typedef struct s_req s_req_t;
struct s_req {
    s_req_t *next;          /* submit queue, then change queue */
    s_req_t *lprev, *lnext; /* the raft thread's in-flight list */
    vg_raft_t *r;
    s_kind kind;
    int refs; /* under r->mu */
    bool done;
    s_step step;
    void *cmd; /* propose: the framed entry (raft_malloc), ours until raft_apply takes it */
    size_t len;
    uint32_t id;
    int role;
    uint32_t promotee;
    char addr[VG_RAFT_ADDR_MAX];
    struct raft_apply apply;
    struct raft_change change;
    struct raft_transfer transfer;
    vg_raft_result_t res;
};

/* A FIFO of requests linked through next. */
typedef struct {
    s_req_t *head, *tail;
} s_queue_t;

static void s_push(s_queue_t *q, s_req_t *req)
{
    req->next = NULL;
    if (q->tail)
        q->tail->next = req;
    else
        q->head = req;
    q->tail = req;
}

static s_req_t *s_pop(s_queue_t *q)
{
    s_req_t *req = q->head;
    if (req && !(q->head = req->next)) q->tail = NULL;
    return req;
}

struct vg_raft {
    uint32_t id;
    char addr[VG_RAFT_ADDR_MAX];
    char dir[PATH_MAX];
    vg_raft_config_t cfg;
    vg_cstate_t *state;
    pthread_rwlock_t lock;
    s_fsm_t fsm_ctx;

    /* raft thread only */
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t timer;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft raft;
    struct raft_barrier barrier;
    bool barrier_busy;
    uint64_t ready_term; /* term whose barrier was submitted */
    bool ready;          /* leader with its barrier applied */
    bool closing;        /* raft_close called */
    s_queue_t changes;   /* waiting configuration changes */
    s_req_t *change_cur;
    bool in_change_next;
    s_req_t live; /* sentinel of the in-flight list */
    bool cb_init, cb_leader;
    uint32_t cb_leader_id;

    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    bool thread_started, joined, start_done, running, stop_requested;
    int start_rc;
    s_queue_t queue; /* submitted, not yet seen by the raft thread */
    vg_raft_status_t status;
    vg_raft_server_t servers[VG_RAFT_MAX_SERVERS];
    size_t n_servers;
};

int vg__raft_err(int rv)
{
    switch (rv) {
    case 0: return 0;
    case RAFT_BADID:
    case RAFT_BADROLE:
    case RAFT_INVALID: return VG_ERR_INVALID;
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
    case RAFT_CANTBOOTSTRAP: return VG_ERR_EXISTS;
    case RAFT_MALFORMED: return VG_ERR_PROTO;
    case RAFT_NOTLEADER: return VG_ERR_NOT_OWNER;
    case RAFT_LEADERSHIPLOST: return VG_ERR_TIMEOUT; /* appended, outcome unknown */
    case RAFT_SHUTDOWN:
    case RAFT_CANCELED: return VG_ERR_CLOSED;
    case RAFT_CANTCHANGE:
    case RAFT_BUSY: return VG_ERR_FULL;
    case RAFT_CORRUPT:
    case RAFT_NOSPACE: return VG_ERR_STORAGE;
    case RAFT_NAMETOOLONG:
    case RAFT_TOOBIG: return VG_ERR_TOO_LARGE;
    case RAFT_NOCONNECTION: return VG_ERR_UNREACHABLE;
    case RAFT_IOERR: return VG_ERR_IO;
    case RAFT_NOTFOUND: return VG_ERR_NOT_FOUND;
    case RAFT_UNAUTHORIZED: return VG_ERR_FORBIDDEN;
    case RAFT_TOOMANY: return VG_ERR_LIMIT;
    default: return VG_ERR_INTERNAL; /* RAFT_NOMEM and unknown codes */
    }
}

/* Entries are framed and padded to a multiple of 8 bytes: raft 0.15's uv
 * transport sends entry data unpadded while the receiver assumes padding, so
 * any other length corrupts the entries that follow it in a batch. */
void *vg__raft_entry_new(const void *cmd, size_t len, size_t *entry_len)
{
    size_t total = (S_FRAME + len + 7) & ~(size_t) 7;
    uint8_t *p = raft_malloc(total);
    VG_ASSERT(p);
    memset(p, 0, total);
    p[0] = 'V';
    p[1] = 'G';
    p[2] = 1;
    p[4] = (uint8_t) (len >> 24);
    p[5] = (uint8_t) (len >> 16);
    p[6] = (uint8_t) (len >> 8);
    p[7] = (uint8_t) len;
    memcpy(p + S_FRAME, cmd, len);
    *entry_len = total;
    return p;
}

/* The command inside an entry, or false (res says why). */
static bool s_unframe(const struct raft_buffer *buf, const uint8_t **cmd, size_t *len,
                      vg_cstate_result_t *res)
{
    const uint8_t *p = buf->base;
    size_t n = 0;
    if (buf->len >= S_FRAME && p[0] == 'V' && p[1] == 'G' && p[2] == 1 && p[3] == 0) {
        n = ((size_t) p[4] << 24) | ((size_t) p[5] << 16) | ((size_t) p[6] << 8) | p[7];
        if (n <= buf->len - S_FRAME && buf->len - S_FRAME - n < 8) {
            *cmd = p + S_FRAME;
            *len = n;
            return true;
        }
    }
    memset(res, 0, sizeof *res);
    res->code = VG_ERR_PROTO;
    snprintf(res->msg, sizeof res->msg, "raft entry of %zu bytes: bad frame", buf->len);
    return false;
}

static int s_fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    s_fsm_t *f = fsm->data;
    uint64_t seq = ++f->seq;
    vg_cstate_result_t *res = &f->ring[seq % S_RING].res;
    f->ring[seq % S_RING].seq = seq;
    const uint8_t *cmd;
    size_t len;
    if (f->lock) pthread_rwlock_wrlock(f->lock);
    if (s_unframe(buf, &cmd, &len, res)) vg_cstate_apply(f->state, cmd, len, res);
    if (f->lock) pthread_rwlock_unlock(f->lock);
    *result = (void *) (uintptr_t) seq;
    if (res->code) vg_info(S_MOD, "command rejected by the state machine: %s", res->msg);
    vg_raft_t *r = f->owner;
    /* during apply raft has not advanced last_applied yet: this is index - 1 */
    if (r && r->cfg.on_apply)
        r->cfg.on_apply(r->cfg.cb_arg, f->state, raft_last_applied(&r->raft) + 1, res);
    return 0; /* a rejected command is still applied (as a no-op) on every node */
}

/* Version 1 FSM: raft frees the buffers (raft_free) once stored. Runs on the
 * raft thread, the state's only writer, so reading it needs no lock. */
static int s_fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    s_fsm_t *f = fsm->data;
    vg_mpw_t w;
    vg_mpw_init(&w);
    int rc = vg_cstate_snapshot_encode(f->state, &w);
    struct raft_buffer *b = rc ? NULL : raft_malloc(sizeof *b);
    void *data = b ? raft_malloc(w.len) : NULL;
    if (!data) {
        raft_free(b);
        vg_mpw_fini(&w);
        vg_error(S_MOD, "snapshot: %s", rc ? vg_strerror(rc) : "out of memory");
        return RAFT_NOMEM;
    }
    memcpy(data, w.buf, w.len);
    b->base = data;
    b->len = w.len;
    *bufs = b;
    *n_bufs = 1;
    vg_mpw_fini(&w);
    f->n_snapshots++;
    return 0;
}

/* On success the buffer is ours (raft_free); on failure raft keeps it. */
static int s_fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    s_fsm_t *f = fsm->data;
    vg_cstate_result_t res;
    if (f->lock) pthread_rwlock_wrlock(f->lock);
    int rc = vg_cstate_snapshot_decode(f->state, buf->base, buf->len, &res);
    if (f->lock) pthread_rwlock_unlock(f->lock);
    if (rc) {
        vg_error(S_MOD, "restore: %s (%s)", res.msg, vg_errname(rc));
        return RAFT_MALFORMED;
    }
    raft_free(buf->base);
    f->n_restores++;
    vg_raft_t *r = f->owner;
    if (r && r->cfg.on_apply) r->cfg.on_apply(r->cfg.cb_arg, f->state, 0, NULL);
    return 0;
}

static void s_fsm_setup(struct raft_fsm *fsm, s_fsm_t *f, vg_cstate_t *state,
                        pthread_rwlock_t *lock, vg_raft_t *owner)
{
    memset(f, 0, sizeof *f);
    f->state = state;
    f->lock = lock;
    f->owner = owner;
    memset(fsm, 0, sizeof *fsm);
    fsm->version = 1;
    fsm->data = f;
    fsm->apply = s_fsm_apply;
    fsm->snapshot = s_fsm_snapshot;
    fsm->restore = s_fsm_restore;
}

void vg__raft_fsm_init(struct raft_fsm *fsm, vg_cstate_t *state)
{
    s_fsm_setup(fsm, VG_NEW(s_fsm_t), state, NULL, NULL);
}

void vg__raft_fsm_close(struct raft_fsm *fsm)
{
    if (!fsm) return;
    vg_free(fsm->data);
    fsm->data = NULL;
}

int vg__raft_fsm_result(struct raft_fsm *fsm, void *result, vg_cstate_result_t *out)
{
    s_fsm_t *f = fsm->data;
    uint64_t seq = (uint64_t) (uintptr_t) result;
    if (!seq || f->ring[seq % S_RING].seq != seq) return VG_ERR_NOT_FOUND;
    *out = f->ring[seq % S_RING].res;
    return 0;
}

/* ---- request completion (raft thread) -------------------------------------- */

static void s_res_msgv(vg_raft_result_t *res, const char *fmt, va_list ap)
{
    vsnprintf(res->msg, sizeof res->msg, fmt, ap);
}

static void s_req_free(s_req_t *req)
{
    if (req->cmd) raft_free(req->cmd);
    vg_free(req);
}

static void s_live_add(vg_raft_t *r, s_req_t *req)
{
    req->lnext = r->live.lnext;
    req->lprev = &r->live;
    r->live.lnext->lprev = req;
    r->live.lnext = req;
}

static void s_change_next(vg_raft_t *r);
static void s_publish(vg_raft_t *r);

/* Completes req with code: the caller wakes up; frees it if it gave up. */
static void s_finish(vg_raft_t *r, s_req_t *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_finish(vg_raft_t *r, s_req_t *req, int code, const char *fmt, ...)
{
    req->lprev->lnext = req->lnext;
    req->lnext->lprev = req->lprev;
    pthread_mutex_lock(&r->mu);
    if (!r->closing) s_publish(r); /* the caller sees the status its request left */
    req->res.code = code;
    va_list ap;
    va_start(ap, fmt);
    s_res_msgv(&req->res, fmt, ap);
    va_end(ap);
    req->done = true;
    bool last = --req->refs == 0;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    bool was_change = req == r->change_cur;
    if (last) s_req_free(req);
    if (was_change) {
        r->change_cur = NULL;
        s_change_next(r);
    }
}

/* Converts a raft error at the border: logs the original, finishes req. */
static void s_finish_raft(vg_raft_t *r, s_req_t *req, int rv, const char *what)
{
    int code = vg__raft_err(rv);
    if (rv == RAFT_NOTLEADER || rv == RAFT_LEADERSHIPLOST)
        vg_info(S_MOD, "node %u: %s: %s", r->id, what, raft_strerror(rv));
    else
        vg_warn(S_MOD, "node %u: %s: %s (%s)", r->id, what, raft_strerror(rv),
                raft_errmsg(&r->raft));
    s_finish(r, req, code, "%s: %s", what, raft_strerror(rv));
}

/* Finishes req with NOT_OWNER and the leader as known here. */
static void s_not_leader(vg_raft_t *r, s_req_t *req)
{
    raft_id id = 0;
    const char *addr = NULL;
    raft_leader(&r->raft, &id, &addr);
    if (id == r->id) id = 0, addr = NULL; /* stepping down: do not point at ourselves */
    req->res.leader_id = (uint32_t) id;
    snprintf(req->res.leader_addr, sizeof req->res.leader_addr, "%s", addr ? addr : "");
    if (id)
        s_finish(r, req, VG_ERR_NOT_OWNER, "not the leader; the leader is node %u at %s",
                 (unsigned) id, req->res.leader_addr);
    else
        s_finish(r, req, VG_ERR_NOT_OWNER, "not the leader; no leader known yet");
}

/* True when leader; else finishes req with NOT_OWNER. */
static bool s_need_leader(vg_raft_t *r, s_req_t *req)
{
    if (raft_state(&r->raft) == RAFT_LEADER) return true;
    s_not_leader(r, req);
    return false;
}

/* ---- propose ------------------------------------------------------------------- */

static void s_apply_cb(struct raft_apply *a, int status, void *result)
{
    s_req_t *req = a->data;
    vg_raft_t *r = req->r;
    if (status) {
        s_finish_raft(r, req, status, "apply");
        return;
    }
    req->res.committed = true;
    req->res.index = a->index;
    if (vg__raft_fsm_result(&r->fsm, result, &req->res.apply)) {
        s_finish(r, req, VG_ERR_INTERNAL, "committed at %llu, verdict no longer available",
                 (unsigned long long) a->index);
        return;
    }
    s_finish(r, req, req->res.apply.code, "%s", req->res.apply.msg);
}

static void s_propose(vg_raft_t *r, s_req_t *req)
{
    if (!s_need_leader(r, req)) return;
    struct raft_buffer buf = {.base = req->cmd, .len = req->len};
    req->apply.data = req;
    req->cmd = NULL; /* raft owns it once raft_apply succeeds */
    int rv = raft_apply(&r->raft, &req->apply, &buf, 1, s_apply_cb);
    if (!rv) return;
    req->cmd = buf.base;
    if (rv == RAFT_NOTLEADER)
        s_not_leader(r, req);
    else
        s_finish_raft(r, req, rv, "apply");
}

/* ---- configuration changes (one at a time) -------------------------------------- */

static const struct raft_server *s_server(const vg_raft_t *r, uint32_t id)
{
    for (unsigned i = 0; i < r->raft.configuration.n; i++)
        if (r->raft.configuration.servers[i].id == id) return &r->raft.configuration.servers[i];
    return NULL;
}

static unsigned s_count_role(const vg_raft_t *r, int role, uint32_t except)
{
    unsigned n = 0;
    for (unsigned i = 0; i < r->raft.configuration.n; i++) {
        const struct raft_server *s = &r->raft.configuration.servers[i];
        n += s->role == role && s->id != except;
    }
    return n;
}

static const char *s_role_name(int role)
{
    return role == RAFT_VOTER ? "voter" : role == RAFT_STANDBY ? "standby" : "spare";
}

static void s_change_cb(struct raft_change *c, int status);

static void s_assign(vg_raft_t *r, s_req_t *req, uint32_t id, int role, s_step step)
{
    req->step = step;
    int rv = raft_assign(&r->raft, &req->change, id, role, s_change_cb);
    if (rv == 0) return;
    if (step == S_STEP_PROMOTE) {
        vg_warn(S_MOD, "node %u: promoting %u to voter: %s", r->id, id, raft_strerror(rv));
        s_finish(r, req, 0, "removed %u; promoting %u failed: %s", req->id, id, raft_strerror(rv));
        return;
    }
    s_finish_raft(r, req, rv, "assign");
}

/* After a removal: the lowest-id standby, if voters fell below max_voters. */
static uint32_t s_promotee(const vg_raft_t *r)
{
    if (s_count_role(r, RAFT_VOTER, 0) >= r->cfg.max_voters) return 0;
    uint32_t best = 0;
    for (unsigned i = 0; i < r->raft.configuration.n; i++) {
        const struct raft_server *s = &r->raft.configuration.servers[i];
        if (s->role == RAFT_STANDBY && (!best || s->id < best)) best = (uint32_t) s->id;
    }
    return best;
}

static void s_change_cb(struct raft_change *c, int status)
{
    s_req_t *req = c->data;
    vg_raft_t *r = req->r;
    if (status && req->step == S_STEP_PROMOTE) {
        vg_warn(S_MOD, "node %u: promoting %u: %s", r->id, req->promotee, raft_strerror(status));
        s_finish(r, req, 0, "removed %u; promoting %u failed: %s", req->id, req->promotee,
                 raft_strerror(status));
        return;
    }
    if (status) {
        s_finish_raft(r, req, status, req->step == S_STEP_REMOVE ? "remove" : "add");
        return;
    }
    switch (req->step) {
    case S_STEP_ADD: s_assign(r, req, req->id, req->role, S_STEP_ASSIGN); return;
    case S_STEP_ASSIGN:
        s_finish(r, req, 0, "node %u added as %s", req->id, s_role_name(req->role));
        return;
    case S_STEP_REMOVE:
        if ((req->promotee = s_promotee(r)) != 0 && raft_state(&r->raft) == RAFT_LEADER) {
            s_assign(r, req, req->promotee, RAFT_VOTER, S_STEP_PROMOTE);
            return;
        }
        s_finish(r, req, 0, "node %u removed", req->id);
        return;
    case S_STEP_PROMOTE:
        s_finish(r, req, 0, "node %u removed; node %u promoted to voter", req->id, req->promotee);
        return;
    }
}

static void s_transfer_cb(struct raft_transfer *t)
{
    s_req_t *req = t->data;
    vg_raft_t *r = req->r;
    raft_id id = 0;
    const char *addr = NULL;
    raft_leader(&r->raft, &id, &addr);
    req->res.leader_id = (uint32_t) id;
    snprintf(req->res.leader_addr, sizeof req->res.leader_addr, "%s", addr ? addr : "");
    if (raft_state(&r->raft) != RAFT_LEADER && id && id != r->id)
        s_finish(r, req, 0, "leadership moved to node %u", (unsigned) id);
    else
        s_finish(r, req, VG_ERR_TIMEOUT, "leadership did not move");
}

static void s_add(vg_raft_t *r, s_req_t *req)
{
    const struct raft_server *s = s_server(r, req->id);
    if (req->kind == S_JOIN) /* never demotes a voter */
        req->role =
            (s && s->role == RAFT_VOTER) || s_count_role(r, RAFT_VOTER, req->id) < r->cfg.max_voters
                ? RAFT_VOTER
                : RAFT_STANDBY;
    req->res.voter = req->role == RAFT_VOTER;
    if (s && strcmp(s->address, req->addr) != 0) {
        s_finish(r, req, VG_ERR_EXISTS, "node %u is in the configuration at %s", req->id,
                 s->address);
        return;
    }
    if (s && s->role == req->role) {
        s_finish(r, req, 0, "node %u is already a %s", req->id, s_role_name(req->role));
        return;
    }
    if (s) {
        s_assign(r, req, req->id, req->role, S_STEP_ASSIGN);
        return;
    }
    req->step = S_STEP_ADD;
    int rv = raft_add(&r->raft, &req->change, req->id, req->addr, s_change_cb);
    if (rv) s_finish_raft(r, req, rv, "add");
}

static void s_change_start(vg_raft_t *r, s_req_t *req)
{
    if (r->closing) {
        s_finish(r, req, VG_ERR_CLOSED, "raft is stopping");
        return;
    }
    if (!s_need_leader(r, req)) return;
    req->change.data = req;
    req->transfer.data = req;
    int rv;
    switch (req->kind) {
    case S_TRANSFER:
        if ((rv = raft_transfer(&r->raft, &req->transfer, req->id, s_transfer_cb)) != 0)
            s_finish_raft(r, req, rv, "transfer");
        return;
    case S_REMOVE:
        if (!s_server(r, req->id)) {
            s_finish(r, req, VG_ERR_NOT_FOUND, "node %u is not in the configuration", req->id);
            return;
        }
        req->step = S_STEP_REMOVE;
        if ((rv = raft_remove(&r->raft, &req->change, req->id, s_change_cb)) != 0)
            s_finish_raft(r, req, rv, "remove");
        return;
    default: s_add(r, req); return;
    }
}

static void s_change_next(vg_raft_t *r)
{
    if (r->in_change_next) return; /* the outer loop picks up the next one */
    r->in_change_next = true;
    while (!r->change_cur && r->changes.head) {
        s_req_t *req = s_pop(&r->changes);
        r->change_cur = req;
        s_change_start(r, req);
    }
    r->in_change_next = false;
}

/* ---- the raft thread: status, leadership, queue ---------------------------------- */

static void s_refresh(vg_raft_t *r);

static void s_barrier_cb(struct raft_barrier *b, int status)
{
    vg_raft_t *r = b->data;
    r->barrier_busy = false;
    if (status == 0 && raft_state(&r->raft) == RAFT_LEADER &&
        r->raft.current_term == r->ready_term) {
        r->ready = true;
        vg_info(S_MOD, "node %u leads (term %llu)", r->id, (unsigned long long) r->ready_term);
    } else {
        r->ready_term = 0; /* retry at the next refresh */
    }
    if (!r->closing) s_refresh(r);
}

/* A new leader applies a barrier first, so its state includes every entry
 * committed by earlier terms before it reports itself ready. */
static void s_leadership(vg_raft_t *r, int state)
{
    if (state != RAFT_LEADER) {
        r->ready = false;
        r->ready_term = 0;
        return;
    }
    if (r->ready || r->barrier_busy || r->closing || r->ready_term == r->raft.current_term) return;
    r->ready_term = r->raft.current_term;
    r->barrier.data = r;
    int rv = raft_barrier(&r->raft, &r->barrier, s_barrier_cb);
    if (rv) {
        vg_info(S_MOD, "node %u: barrier: %s", r->id, raft_strerror(rv));
        r->ready_term = 0;
        return;
    }
    r->barrier_busy = true;
}

static void s_fill_status(vg_raft_t *r, vg_raft_status_t *st, int state, raft_id lid,
                          const char *laddr)
{
    memset(st, 0, sizeof *st);
    st->state = (vg_raft_node_state) state;
    st->leader_ready = r->ready && state == RAFT_LEADER;
    st->term = r->raft.current_term;
    st->leader_id = (uint32_t) lid;
    snprintf(st->leader_addr, sizeof st->leader_addr, "%s", laddr ? laddr : "");
    st->last_index = raft_last_index(&r->raft);
    st->commit_index = r->raft.commit_index;
    st->applied_index = raft_last_applied(&r->raft);
    st->snapshot_index = r->raft.log.snapshot.last_index;
    st->n_snapshots = r->fsm_ctx.n_snapshots;
    st->n_restores = r->fsm_ctx.n_restores;
    st->n_voters = s_count_role(r, RAFT_VOTER, 0);
    st->n_standbys = s_count_role(r, RAFT_STANDBY, 0);
    st->n_spares = s_count_role(r, RAFT_SPARE, 0);
}

/* Copies raft's status for other threads; call with r->mu held. */
static void s_publish(vg_raft_t *r)
{
    int state = raft_state(&r->raft);
    raft_id lid = 0;
    const char *laddr = NULL;
    raft_leader(&r->raft, &lid, &laddr);
    s_fill_status(r, &r->status, state, lid, laddr);
    r->n_servers = 0;
    for (unsigned i = 0; i < r->raft.configuration.n && i < VG_RAFT_MAX_SERVERS; i++) {
        const struct raft_server *s = &r->raft.configuration.servers[i];
        vg_raft_server_t *o = &r->servers[r->n_servers++];
        o->id = (uint32_t) s->id;
        o->role = (vg_raft_role) s->role;
        snprintf(o->addr, sizeof o->addr, "%s", s->address);
    }
}

static void s_refresh(vg_raft_t *r)
{
    s_leadership(r, raft_state(&r->raft));
    pthread_mutex_lock(&r->mu);
    s_publish(r);
    bool is_leader = r->status.leader_ready;
    uint32_t lid = r->status.leader_id;
    pthread_mutex_unlock(&r->mu);
    if (r->cb_init && is_leader == r->cb_leader && lid == r->cb_leader_id) return;
    r->cb_init = true;
    r->cb_leader = is_leader;
    r->cb_leader_id = lid;
    if (r->cfg.on_leader) r->cfg.on_leader(r->cfg.cb_arg, is_leader, lid, r->raft.current_term);
}

static void s_tick(uv_timer_t *t)
{
    s_refresh(t->data);
}

static void s_raft_close_cb(struct raft *raft)
{
    vg_raft_t *r = raft->data;
    raft_uv_close(&r->io);
    raft_uv_tcp_close(&r->transport);
    uv_close((uv_handle_t *) &r->async, NULL);
    uv_close((uv_handle_t *) &r->timer, NULL);
}

static void s_close(vg_raft_t *r)
{
    r->closing = true;
    uv_timer_stop(&r->timer);
    for (s_req_t *req; (req = s_pop(&r->changes)) != NULL;)
        s_finish(r, req, VG_ERR_CLOSED, "raft is stopping");
    raft_close(&r->raft, s_raft_close_cb); /* fails raft's pending requests */
}

static void s_handle(vg_raft_t *r, s_req_t *req, bool stopping)
{
    s_live_add(r, req);
    if (stopping) {
        s_finish(r, req, VG_ERR_CLOSED, "raft is stopping");
    } else if (req->kind == S_PROPOSE) {
        s_propose(r, req);
    } else {
        s_push(&r->changes, req);
        s_change_next(r);
    }
}

static void s_async_cb(uv_async_t *h)
{
    vg_raft_t *r = h->data;
    pthread_mutex_lock(&r->mu);
    s_req_t *q = r->queue.head;
    r->queue.head = r->queue.tail = NULL;
    bool stop = r->stop_requested;
    pthread_mutex_unlock(&r->mu);
    while (q) {
        s_req_t *next = q->next;
        s_handle(r, q, stop || r->closing);
        q = next;
    }
    if (stop && !r->closing) {
        s_close(r);
        return;
    }
    if (!r->closing) s_refresh(r);
}

/* ---- start-up ---------------------------------------------------------------------- */

static int s_mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0700) && errno != EEXIST ? -1 : 0;
}

static int s_boot_fail(vg_raft_t *r, int rv, const char *what, const char *detail)
{
    vg_error(S_MOD, "node %u: %s: %s (%s)", r->id, what, raft_strerror(rv), detail);
    return vg__raft_err(rv) ? vg__raft_err(rv) : VG_ERR_INTERNAL;
}

static void s_configure(vg_raft_t *r)
{
    unsigned et = r->cfg.election_timeout_ms;
    raft_set_election_timeout(&r->raft, et);
    raft_set_heartbeat_timeout(&r->raft, VG_MAX(et / 10, 10u));
    raft_set_snapshot_threshold(&r->raft, r->cfg.snapshot_threshold);
    raft_set_snapshot_trailing(&r->raft, r->cfg.snapshot_trailing);
    /* raft's default (30 s) is also how long a follower waits when the
     * snapshot it just installed is already outdated; ours are small */
    raft_set_install_snapshot_timeout(&r->raft, 5 * et);
    raft_set_pre_vote(&r->raft, true);
}

/* raft_init through raft_start; on failure raft is closed (asynchronously:
 * the caller runs the loop to finish). */
static int s_boot_raft(vg_raft_t *r)
{
    int rv = raft_init(&r->raft, &r->io, &r->fsm, r->id, r->addr);
    if (rv) {
        int err = s_boot_fail(r, rv, "init", r->io.errmsg);
        raft_uv_close(&r->io);
        raft_uv_tcp_close(&r->transport);
        uv_close((uv_handle_t *) &r->async, NULL);
        uv_close((uv_handle_t *) &r->timer, NULL);
        return err;
    }
    r->raft.data = r;
    s_configure(r);
    if (r->cfg.bootstrap) {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        rv = raft_configuration_add(&conf, r->id, r->addr, RAFT_VOTER);
        if (!rv) rv = raft_bootstrap(&r->raft, &conf);
        raft_configuration_close(&conf);
        if (rv == RAFT_CANTBOOTSTRAP) rv = 0; /* not pristine: restart */
    }
    const char *what = rv ? "bootstrap" : "start";
    if (!rv) rv = raft_start(&r->raft);
    if (!rv) return 0;
    char detail[2 * RAFT_ERRMSG_BUF_SIZE + 8];
    snprintf(detail, sizeof detail, "%s; %s", raft_errmsg(&r->raft), r->io.errmsg);
    int err = s_boot_fail(r, rv, what, detail);
    r->closing = true;
    raft_close(&r->raft, s_raft_close_cb);
    return err;
}

/* Everything up to a running raft; on failure whatever was opened is being
 * closed, and running the loop finishes it. */
static int s_boot(vg_raft_t *r)
{
    char rdir[PATH_MAX];
    snprintf(rdir, sizeof rdir, "%s/raft", r->dir);
    if (s_mkdirs(rdir)) {
        vg_error(S_MOD, "node %u: mkdir %s: %s", r->id, rdir, strerror(errno));
        uv_close((uv_handle_t *) &r->async, NULL);
        uv_close((uv_handle_t *) &r->timer, NULL);
        return VG_ERR_IO;
    }
    int rv = raft_uv_tcp_init(&r->transport, &r->loop);
    if (rv) {
        uv_close((uv_handle_t *) &r->async, NULL);
        uv_close((uv_handle_t *) &r->timer, NULL);
        return s_boot_fail(r, rv, "tcp transport", r->transport.errmsg);
    }
    rv = raft_uv_init(&r->io, &r->loop, rdir, &r->transport);
    if (rv) {
        raft_uv_tcp_close(&r->transport);
        uv_close((uv_handle_t *) &r->async, NULL);
        uv_close((uv_handle_t *) &r->timer, NULL);
        return s_boot_fail(r, rv, "uv io", r->io.errmsg);
    }
    raft_uv_set_segment_size(&r->io, S_SEGMENT);
    raft_uv_set_connect_retry_delay(&r->io, VG_MAX(r->cfg.election_timeout_ms / 5, 20u));
    s_fsm_setup(&r->fsm, &r->fsm_ctx, r->state, &r->lock, r);
    rv = s_boot_raft(r);
    if (rv) return rv;
    uv_timer_start(&r->timer, s_tick, S_POLL_MS, S_POLL_MS);
    return 0;
}

static void s_fail_leftovers(vg_raft_t *r)
{
    while (r->live.lnext != &r->live) s_finish(r, r->live.lnext, VG_ERR_CLOSED, "raft stopped");
}

static void *s_main(void *arg)
{
    vg_raft_t *r = arg;
    int rc = VG_ERR_INTERNAL;
    bool loop_ok = uv_loop_init(&r->loop) == 0;
    if (loop_ok) {
        uv_async_init(&r->loop, &r->async, s_async_cb);
        uv_timer_init(&r->loop, &r->timer);
        r->async.data = r;
        r->timer.data = r;
        rc = s_boot(r);
    }
    if (rc == 0) s_refresh(r);
    pthread_mutex_lock(&r->mu);
    r->start_rc = rc;
    r->start_done = true;
    r->running = rc == 0;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    if (!loop_ok) return NULL;
    uv_run(&r->loop, UV_RUN_DEFAULT);
    s_fail_leftovers(r);
    pthread_mutex_lock(&r->mu);
    r->status.state = VG_RAFT_UNAVAILABLE;
    r->status.leader_ready = false;
    pthread_mutex_unlock(&r->mu);
    int rv = uv_loop_close(&r->loop);
    if (rv) vg_warn(S_MOD, "node %u: loop close: %s", r->id, uv_strerror(rv));
    return NULL;
}

/* ---- public API ---------------------------------------------------------------------- */

static int s_set_res(vg_raft_result_t *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int s_set_res(vg_raft_result_t *res, int code, const char *fmt, ...)
{
    if (!res) return code;
    memset(res, 0, sizeof *res);
    res->code = code;
    va_list ap;
    va_start(ap, fmt);
    s_res_msgv(res, fmt, ap);
    va_end(ap);
    return code;
}

/* raft 0.15 only takes IPv4 literals: "host:port" -> "a.b.c.d:port" into
 * out[VG_RAFT_ADDR_MAX]. INVALID for a malformed address, UNREACHABLE when
 * the name does not resolve. Blocking (DNS): caller threads only. */
static int s_resolve(const char *in, char *out)
{
    const char *colon = in ? strrchr(in, ':') : NULL;
    if (!colon || colon == in || !colon[1] || strlen(in) >= VG_RAFT_ADDR_MAX) return VG_ERR_INVALID;
    char host[VG_RAFT_ADDR_MAX];
    snprintf(host, sizeof host, "%.*s", (int) (colon - in), in);
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) == 1) {
        snprintf(out, VG_RAFT_ADDR_MAX, "%s", in);
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rv = getaddrinfo(host, NULL, &hints, &ai);
    if (rv || !ai) {
        vg_warn(S_MOD, "resolve %s: %s", host, gai_strerror(rv));
        return VG_ERR_UNREACHABLE;
    }
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((struct sockaddr_in *) ai->ai_addr)->sin_addr, ip, sizeof ip);
    freeaddrinfo(ai);
    snprintf(out, VG_RAFT_ADDR_MAX, "%s:%s", ip, colon + 1);
    return 0;
}

int vg_raft_new(const vg_raft_config_t *cfg, vg_cstate_t *state, vg_raft_t **out)
{
    if (!out) return VG_ERR_INVALID;
    *out = NULL;
    if (!cfg || !state || cfg->node_id == 0 || !cfg->data_dir || !*cfg->data_dir ||
        strlen(cfg->data_dir) >= PATH_MAX - 16)
        return VG_ERR_INVALID;
    char addr[VG_RAFT_ADDR_MAX];
    int rc = s_resolve(cfg->raft_addr, addr);
    if (rc) return rc;
    vg_raft_t *r = VG_NEW(vg_raft_t);
    r->id = cfg->node_id;
    snprintf(r->addr, sizeof r->addr, "%s", addr);
    snprintf(r->dir, sizeof r->dir, "%s", cfg->data_dir);
    r->cfg = *cfg;
    r->cfg.raft_addr = r->addr;
    r->cfg.data_dir = r->dir;
    if (!r->cfg.snapshot_threshold) r->cfg.snapshot_threshold = 1024;
    if (!r->cfg.snapshot_trailing)
        r->cfg.snapshot_trailing = VG_MAX(r->cfg.snapshot_threshold / 4, 1u);
    if (!r->cfg.election_timeout_ms) r->cfg.election_timeout_ms = 1000;
    r->cfg.election_timeout_ms = VG_MAX(r->cfg.election_timeout_ms, 100u);
    if (!r->cfg.max_voters) r->cfg.max_voters = VG_RAFT_MAX_VOTERS;
    r->state = state;
    pthread_rwlock_init(&r->lock, NULL);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    r->live.lnext = r->live.lprev = &r->live;
    *out = r;
    return 0;
}

int vg_raft_start(vg_raft_t *r)
{
    pthread_mutex_lock(&r->mu);
    bool again = r->thread_started;
    r->thread_started = true;
    pthread_mutex_unlock(&r->mu);
    if (again) return VG_ERR_INVALID;
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
    if (pthread_create(&r->thread, NULL, s_main, r)) {
        r->joined = true;
        return VG_ERR_INTERNAL;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->start_done) pthread_cond_wait(&r->cond, &r->mu);
    int rc = r->start_rc;
    pthread_mutex_unlock(&r->mu);
    if (rc) {
        pthread_join(r->thread, NULL);
        r->joined = true;
    }
    return rc;
}

void vg_raft_stop(vg_raft_t *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    if (!r->thread_started || r->joined) {
        pthread_mutex_unlock(&r->mu);
        return;
    }
    if (r->running) {
        r->running = false;
        r->stop_requested = true;
        uv_async_send(&r->async);
    }
    pthread_mutex_unlock(&r->mu);
    VG_ASSERT(!pthread_equal(pthread_self(), r->thread));
    pthread_join(r->thread, NULL);
    r->joined = true;
}

void vg_raft_destroy(vg_raft_t **r_p)
{
    if (!r_p || !*r_p) return;
    vg_raft_t *r = *r_p;
    vg_raft_stop(r);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
    pthread_rwlock_destroy(&r->lock);
    vg_free(r);
    *r_p = NULL;
}

static struct timespec s_deadline(unsigned timeout_ms)
{
    uint64_t at = vg_now_ns() + (uint64_t) timeout_ms * 1000000ull;
    return (struct timespec){.tv_sec = (time_t) (at / 1000000000ull),
                             .tv_nsec = (long) (at % 1000000000ull)};
}

/* Queues req for the raft thread and waits for it; takes ownership of req. */
static int s_call(vg_raft_t *r, s_req_t *req, unsigned timeout_ms, vg_raft_result_t *res)
{
    req->r = r;
    pthread_mutex_lock(&r->mu);
    if (!r->running || pthread_equal(pthread_self(), r->thread)) {
        bool on_loop = r->running;
        pthread_mutex_unlock(&r->mu);
        s_req_free(req);
        return on_loop ? s_set_res(res, VG_ERR_INVALID, "blocking call on the raft thread")
                       : s_set_res(res, VG_ERR_CLOSED, "raft is not running");
    }
    req->refs = 2;
    s_push(&r->queue, req);
    uv_async_send(&r->async);
    struct timespec until = s_deadline(timeout_ms);
    while (!req->done)
        if (pthread_cond_timedwait(&r->cond, &r->mu, &until) == ETIMEDOUT) break;
    int code;
    if (req->done) {
        code = req->res.code;
        if (res) *res = req->res;
    } else {
        code = s_set_res(res, VG_ERR_TIMEOUT, "no outcome within %u ms", timeout_ms);
    }
    bool last = --req->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) s_req_free(req);
    return code;
}

int vg_raft_propose(vg_raft_t *r, const void *cmd, size_t len, unsigned timeout_ms,
                    vg_raft_result_t *res)
{
    if (!r || !cmd || !len) return s_set_res(res, VG_ERR_INVALID, "empty command");
    if (len > VG_RAFT_CMD_MAX) return s_set_res(res, VG_ERR_TOO_LARGE, "command of %zu bytes", len);
    s_req_t *req = VG_NEW(s_req_t);
    req->kind = S_PROPOSE;
    req->cmd = vg__raft_entry_new(cmd, len, &req->len);
    return s_call(r, req, timeout_ms, res);
}

static int s_change(vg_raft_t *r, s_kind kind, uint32_t id, const char *addr, int role,
                    unsigned timeout_ms, vg_raft_result_t *res)
{
    if (!r) return s_set_res(res, VG_ERR_INVALID, "no raft");
    bool needs_addr = kind == S_JOIN || kind == S_ADD_VOTER || kind == S_ADD_STANDBY;
    if (kind != S_TRANSFER && id == 0) return s_set_res(res, VG_ERR_INVALID, "node id 0");
    char ip_addr[VG_RAFT_ADDR_MAX] = "";
    int rc = needs_addr ? s_resolve(addr, ip_addr) : 0;
    if (rc) return s_set_res(res, rc, "bad raft address %s", addr ? addr : "(null)");
    s_req_t *req = VG_NEW(s_req_t);
    req->kind = kind;
    req->id = id;
    req->role = role;
    snprintf(req->addr, sizeof req->addr, "%s", ip_addr);
    return s_call(r, req, timeout_ms, res);
}

int vg_raft_join(vg_raft_t *r, uint32_t id, const char *raft_addr, unsigned timeout_ms,
                 vg_raft_result_t *res)
{
    return s_change(r, S_JOIN, id, raft_addr, RAFT_VOTER, timeout_ms, res);
}

int vg_raft_add_voter(vg_raft_t *r, uint32_t id, const char *raft_addr, unsigned timeout_ms,
                      vg_raft_result_t *res)
{
    return s_change(r, S_ADD_VOTER, id, raft_addr, RAFT_VOTER, timeout_ms, res);
}

int vg_raft_add_standby(vg_raft_t *r, uint32_t id, const char *raft_addr, unsigned timeout_ms,
                        vg_raft_result_t *res)
{
    return s_change(r, S_ADD_STANDBY, id, raft_addr, RAFT_STANDBY, timeout_ms, res);
}

int vg_raft_remove(vg_raft_t *r, uint32_t id, unsigned timeout_ms, vg_raft_result_t *res)
{
    return s_change(r, S_REMOVE, id, NULL, 0, timeout_ms, res);
}

int vg_raft_transfer(vg_raft_t *r, uint32_t id, unsigned timeout_ms, vg_raft_result_t *res)
{
    return s_change(r, S_TRANSFER, id, NULL, 0, timeout_ms, res);
}

int vg_raft_read(vg_raft_t *r, void (*fn)(const vg_cstate_t *state, void *arg), void *arg)
{
    pthread_rwlock_rdlock(&r->lock);
    fn(r->state, arg);
    pthread_rwlock_unlock(&r->lock);
    return 0;
}

void vg_raft_status(vg_raft_t *r, vg_raft_status_t *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->status;
    pthread_mutex_unlock(&r->mu);
}

bool vg_raft_is_leader(vg_raft_t *r)
{
    pthread_mutex_lock(&r->mu);
    bool yes = r->running && r->status.leader_ready;
    pthread_mutex_unlock(&r->mu);
    return yes;
}

int vg_raft_leader(vg_raft_t *r, uint32_t *id, char *addr, size_t cap)
{
    pthread_mutex_lock(&r->mu);
    uint32_t lid = r->running ? r->status.leader_id : 0;
    if (id) *id = lid;
    if (addr && cap) snprintf(addr, cap, "%s", lid ? r->status.leader_addr : "");
    pthread_mutex_unlock(&r->mu);
    return lid ? 0 : VG_ERR_NOT_FOUND;
}

uint64_t vg_raft_term(vg_raft_t *r)
{
    pthread_mutex_lock(&r->mu);
    uint64_t term = r->status.term;
    pthread_mutex_unlock(&r->mu);
    return term;
}

size_t vg_raft_servers(vg_raft_t *r, vg_raft_server_t *out, size_t cap)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->n_servers;
    for (size_t i = 0; i < n && i < cap; i++) out[i] = r->servers[i];
    pthread_mutex_unlock(&r->mu);
    return n;
}

uint32_t vg_raft_id(const vg_raft_t *r)
{
    return r->id;
}
