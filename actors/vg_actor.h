/* vg_actor.h: the actor runtime. Worker threads run actors pinned to them;
 * each actor has a lock-free mailbox and is only ever run by its worker, so
 * its state needs no locks. Messages move by pointer (local) or through the
 * cluster transport hook (remote); timers and request/reply are messages. */
#ifndef VG_ACTOR_H
#define VG_ACTOR_H

#include "vg_amsg.h"
#include "vg_signals.h"

#include <stddef.h>
#include <stdint.h>

typedef struct vg_rt vg_rt_t;
typedef struct vg_actor vg_actor_t;
typedef struct vg_inbox vg_inbox_t;

/* A message handler. It owns *msg_p: if it leaves it non-NULL the runtime
 * frees the message after it returns; send/reply/request clear it. Runs on
 * the actor's worker; must not block. */
typedef void(vg_actor_fn)(vg_actor_t *self, vg_amsg_t **msg_p);

typedef struct {
    uint16_t type;
    vg_actor_fn *fn;
} vg_actor_handler_t;

typedef struct {
    const char *name;                   /* copied; for logs */
    const vg_actor_handler_t *handlers; /* copied; keyed by message type, no duplicates */
    size_t n_handlers;
    vg_actor_fn *fallback;          /* optional: types not in the table (else logged, dropped) */
    void *state;                    /* borrowed: must outlive the runtime's use of the actor */
    int (*init)(vg_actor_t *self);  /* optional: on its worker before the first message;
                                       nonzero = spawn (or start) fails */
    void (*fini)(vg_actor_t *self); /* optional: on its worker at stop, after the drain */
    int worker;                     /* worker index (modulo the worker count); -1 = round robin */
    uint32_t mailbox_cap;           /* 0 = unbounded; else sends return VG_ERR_FULL at cap */
} vg_actor_def_t;

typedef struct {
    int workers;      /* worker threads; 0 = number of online CPUs */
    uint32_t node_id; /* this node's id in addresses; 0 is a valid single-node id */
} vg_rt_config_t;

typedef struct {
    uint64_t delivered;   /* messages handed to a handler */
    uint64_t dropped;     /* unhandled types, late replies/timeouts, undelivered at destroy */
    uint64_t sent_remote; /* messages accepted by the remote hook */
} vg_rt_stats_t;

/* Remote hook, set by the cluster transport: on success (return 0) it owns
 * *msg_p and clears it; on error it leaves *msg_p alone and the sender gets
 * the error (and keeps the message; see vg_rt_send_chain for chains).
 * Called on whichever thread sends; must be thread-safe and non-blocking. */
typedef int(vg_rt_remote_fn)(void *arg, vg_amsg_t **msg_p);

/* ---- runtime lifecycle (owner thread: the one that created it) ---- */

/* Returns a new runtime owned by the caller (not started; cfg may be NULL
 * for defaults). Never NULL. */
vg_rt_t *vg_rt_new(const vg_rt_config_t *cfg);

/* Starts the worker and timer threads and runs the init of every actor
 * spawned so far on its worker. Returns 0, VG_ERR_INVALID if already
 * started, or the first nonzero init result (that actor is dead: its
 * messages are dropped and sends to it return VG_ERR_CLOSED; the runtime
 * runs anyway and must still be stopped). Owner thread. */
int vg_rt_start(vg_rt_t *rt);

/* Stops: refuses new sends from non-worker threads (VG_ERR_CLOSED) while
 * actors keep sending to each other, cancels timers (pending request
 * timeouts still fire, immediately with status VG_ERR_CLOSED once nothing
 * else is in flight), processes every queued and in-flight message until
 * quiescent, runs every fini on its worker, joins the threads. Returns 0,
 * or VG_ERR_TIMEOUT if not quiescent within drain_timeout_ms (fini still
 * runs; the rest is freed by destroy). Idempotent. Owner thread, never a
 * worker. */
int vg_rt_stop(vg_rt_t *rt, uint32_t drain_timeout_ms);

/* Stops if needed (5 s drain), frees every actor and any undelivered
 * message, clears *rt_p. NULL-safe. Inboxes must be destroyed first. No
 * other thread may use the runtime any more. Owner thread. */
void vg_rt_destroy(vg_rt_t **rt_p);

/* Spawns an actor; *addr_out (optional) gets its address. Before start the
 * init runs at vg_rt_start; after, it runs now on the actor's worker and
 * this call waits for it (safe from handlers: a waiting worker keeps
 * running spawns aimed at it). Returns 0, VG_ERR_INVALID (bad def),
 * VG_ERR_LIMIT (too many actors), VG_ERR_CLOSED (stopping), or the init's
 * nonzero result. Any thread. */
int vg_rt_spawn(vg_rt_t *rt, const vg_actor_def_t *def, vg_addr_t *addr_out);

/* Installs the remote hook (NULL removes it); without one, sends to another
 * node return VG_ERR_UNREACHABLE. Call before traffic to remote nodes. */
void vg_rt_set_remote(vg_rt_t *rt, vg_rt_remote_fn *fn, void *arg);

/* Counters since vg_rt_new (relaxed snapshots). Any thread. */
void vg_rt_stats(vg_rt_t *rt, vg_rt_stats_t *out);

/* Number of worker threads. Any thread. */
int vg_rt_workers(vg_rt_t *rt);

/* This runtime's node id. Any thread. */
uint32_t vg_rt_node(vg_rt_t *rt);

/* A fresh correlation id, unique within this runtime. Any thread. */
uint64_t vg_rt_next_corr(vg_rt_t *rt);

/* ---- sending (any thread unless said otherwise) ---- */

/* Sends *msg_p to (*msg_p)->to: a local actor gets the pointer itself, an
 * inbox likewise, another node goes through the remote hook. If ->from is
 * 0 and the caller is a handler, ->from is set to the running actor. On
 * success *msg_p is cleared; on error the caller keeps the message.
 * Returns 0, VG_ERR_INVALID (->to is 0), VG_ERR_NOT_FOUND (no such local
 * actor or inbox), VG_ERR_CLOSED (actor dead, or the runtime is stopping
 * and the caller is not one of its workers), VG_ERR_FULL (mailbox_cap
 * reached), VG_ERR_UNREACHABLE (remote node, no hook) or the hook's error.
 * Messages from one sender to one actor arrive in send order. Lock- and
 * allocation-free for actors. */
int vg_rt_send(vg_rt_t *rt, vg_amsg_t **msg_p);

/* Sends n messages head..tail, linked by ->next, to one address with one
 * atomic exchange (local actors). ->to of each should already equal to;
 * it is not rewritten. On success the runtime owns the chain; on error
 * the caller keeps it, except for a remote address, where messages go to
 * the hook one by one and on the first failure the rest are freed. Same
 * return values as vg_rt_send. */
int vg_rt_send_chain(vg_rt_t *rt, vg_addr_t to, vg_amsg_t *head, vg_amsg_t *tail, size_t n);

/* ---- inside an actor: handlers, init and fini get self ---- */

/* The def's state pointer, the actor's address, runtime, worker index and
 * name. Any thread (the values never change). */
void *vg_actor_state(vg_actor_t *self);
vg_addr_t vg_actor_addr(vg_actor_t *self);
vg_rt_t *vg_actor_rt(vg_actor_t *self);
int vg_actor_worker(vg_actor_t *self);
const char *vg_actor_name(vg_actor_t *self);

/* Sends *msg_p as a request from self: sets ->from, clears the REPLY flag,
 * keeps a nonzero ->corr (e.g. from vg_rt_next_corr, unique while pending)
 * or assigns a fresh one. Exactly one of these then arrives at self with
 * that corr: the reply (flags has VG_AMSG_F_REPLY), or a VG_AMSG_TIMEOUT
 * message after timeout_ms (0 = no timeout); a reply arriving after the
 * timeout is dropped. At vg_rt_stop a still-pending timeout fires early,
 * with status VG_ERR_CLOSED, once nothing else is in flight. Returns as
 * vg_rt_send (on error nothing arrives and the caller keeps the message).
 * Self's worker only (handler or init). */
int vg_actor_request(vg_actor_t *self, vg_amsg_t **msg_p, uint32_t timeout_ms);

/* The corr of the latest request sent by self. Self's worker only. */
uint64_t vg_actor_last_corr(vg_actor_t *self);

/* Replies to req: sets ->to = req->from, ->corr = req->corr, ->from = self,
 * the REPLY flag, then sends as vg_rt_send. VG_ERR_INVALID when req has
 * no sender. Self's worker only. */
int vg_actor_reply(vg_actor_t *self, const vg_amsg_t *req, vg_amsg_t **reply_p);

/* Starts a timer that sends self a VG_AMSG_TIMER (arg[0] = tag, arg[1] =
 * id) after delay_ms, then every period_ms (0 = one-shot). *id_out
 * (optional) gets the id. Returns 0 or VG_ERR_CLOSED (stopping). Self's
 * worker only. */
int vg_actor_timer(vg_actor_t *self, uint32_t delay_ms, uint32_t period_ms, uint64_t tag,
                   uint64_t *id_out);

/* Cancels a timer of self; no VG_AMSG_TIMER of it is handled afterwards,
 * even one already queued. Returns 0 or VG_ERR_NOT_FOUND (unknown, or a
 * one-shot already handled). Self's worker only. */
int vg_actor_timer_cancel(vg_actor_t *self, uint64_t id);

/* ---- inboxes: blocking mailboxes for non-actor threads ---- */

/* Returns a new inbox with its own address, owned by the caller; never
 * NULL. Destroy it before the runtime. Any thread. */
vg_inbox_t *vg_inbox_new(vg_rt_t *rt);

/* Unregisters the inbox (later sends to it: VG_ERR_NOT_FOUND), frees queued
 * messages and the inbox, clears *in_p. NULL-safe. Owner thread. */
void vg_inbox_destroy(vg_inbox_t **in_p);

/* The inbox's address, for ->from / ->to. Any thread. */
vg_addr_t vg_inbox_addr(vg_inbox_t *in);

/* Waits for the next message (FIFO) up to timeout_ms (< 0 = forever, 0 =
 * poll); *out gets it, owned by the caller. Returns 0 or VG_ERR_TIMEOUT.
 * Late replies of this inbox's timed-out vg_rt_call()s are discarded (the
 * last 1024 such corrs are remembered). Owner thread, never a worker. */
int vg_inbox_recv(vg_inbox_t *in, int timeout_ms, vg_amsg_t **out);

/* Request/reply from a non-actor thread: sends *req_p from inbox in (sets
 * ->from and a fresh ->corr), then waits up to timeout_ms (< 0 = forever)
 * for the reply with that corr; *reply_out gets it. Stale replies of
 * earlier timed-out calls are discarded; other messages arriving meanwhile
 * are kept for vg_inbox_recv. Returns 0, VG_ERR_TIMEOUT, or a send error
 * (then the caller keeps *req_p). The inbox's owner thread, never a worker
 * (it blocks). */
int vg_rt_call(vg_rt_t *rt, vg_inbox_t *in, vg_amsg_t **req_p, int timeout_ms,
               vg_amsg_t **reply_out);

#endif
