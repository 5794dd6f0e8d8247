/* vg_actor_internal.h: structures shared by the runtime's files (rt
 * lifecycle, workers, actors, timers, inboxes). Nothing here is part of the
 * contract in vg_actor.h. Fields grouped by which thread writes them. */
#ifndef VG_ACTOR_INTERNAL_H
#define VG_ACTOR_INTERNAL_H

#include "vg_actor.h"
#include "vg_mpsc.h"
#include "vg_u64map.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define VG__LOG        "actors"
#define VG__BATCH      256         /* messages per actor turn */
#define VG__CHUNK_BITS 10          /* actor table: chunks of 1024 slots */
#define VG__CHUNKS     1024        /* ... at most 1M actors per runtime */
#define VG__INBOX_BIT  0x80000000u /* local ids of inboxes */
#define VG__PAD        64

typedef struct vg__worker vg__worker_t;
typedef struct vg__timers vg__timers_t;
typedef struct vg__spawn_req vg__spawn_req_t;
typedef _Atomic(vg_actor_t *) vg__slot_t;

typedef struct {
    vg_addr_t to;
    uint16_t type; /* VG_AMSG_TIMER or VG_AMSG_TIMEOUT */
    uint64_t corr, tag;
    uint64_t delay_ns, period_ns; /* period 0 = one-shot */
} vg__timer_spec_t;

enum { VG__LIFE_PENDING, VG__LIFE_LIVE, VG__LIFE_DEAD };
enum { VG__RT_NEW, VG__RT_RUNNING, VG__RT_CLOSING, VG__RT_STOPPING, VG__RT_STOPPED };
enum { VG__SEND_USER = 0, VG__SEND_INTERNAL = 1 }; /* internal: timers, no cap/close */

struct vg_actor {
    /* written by senders */
    atomic_uint scheduled; /* 1 while queued (or being queued) on the worker */
    atomic_uint queued;    /* mailbox length, kept only when cap != 0 */
    atomic_int life;       /* VG__LIFE_* */
    vg__mpsc_t mbox;       /* head: senders; tail/stub: the worker */
    vg_amsg_t rq_link;     /* node in the worker's ready queue */
    /* fixed at spawn */
    vg_rt_t *rt;
    vg__worker_t *worker;
    vg_addr_t addr;
    char *name;
    vg_actor_handler_t *handlers; /* sorted by type */
    size_t n_handlers;
    vg_actor_fn *fallback;
    void *state;
    int (*init)(vg_actor_t *self);
    void (*fini)(vg_actor_t *self);
    uint32_t cap;
    /* the worker only */
    vg__u64map_t pending; /* corr -> timeout timer id (0 = none) */
    vg__u64map_t timers;  /* timer id -> period ns (live timers) */
    uint64_t last_corr;
    vg_actor_t *wnext; /* the worker's list of its actors */
    bool warned;       /* unhandled type logged once */
};

struct vg__spawn_req {
    vg__spawn_req_t *next;
    vg_actor_t *actor;
    int rc;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

struct vg__worker {
    /* written by senders */
    atomic_int parked; /* futex word: 1 while asleep or about to sleep */
    vg__mpsc_t ready;  /* actors with mail */
    char pad_[VG__PAD];
    /* the worker (and control requests under ctl_mu) */
    vg_rt_t *rt;
    int index;
    pthread_t thread;
    bool running;
    vg_actor_t *actors; /* pinned here; owned by the worker after start */
    atomic_uint_fast64_t delivered;
    pthread_mutex_t ctl_mu;
    vg__spawn_req_t *ctl; /* spawn requests to run on this worker */
    atomic_int ctl_pending;
    bool ctl_closed;
};

struct vg_rt {
    uint32_t node_id;
    int n_workers;
    vg__worker_t **workers;
    vg__timers_t *timers;
    atomic_int phase; /* VG__RT_* */
    char pad0_[VG__PAD];
    atomic_int_fast64_t inflight; /* queued + running messages of actors */
    char pad1_[VG__PAD];
    atomic_uint_fast64_t next_corr, dropped, sent_remote;
    atomic_uint rr; /* round-robin worker choice */
    _Atomic(vg_rt_remote_fn *) remote_fn;
    _Atomic(void *) remote_arg;
    /* actor table: local id = index + 1 */
    pthread_mutex_t spawn_mu;
    _Atomic(vg__slot_t *) chunks[VG__CHUNKS];
    uint32_t n_actors;
    /* start barrier */
    pthread_mutex_t start_mu;
    pthread_cond_t start_cv;
    int start_pending, start_err;
    /* inboxes (vg_inbox.c): slot = low 16 bits of the local id */
    pthread_mutex_t inbox_mu;
    struct vg_inbox **inboxes;
    uint32_t inbox_cap, inbox_live, inbox_gen;
};

/* Condition variables on CLOCK_MONOTONIC; deadlines in vg_now_ns() units. */
static inline void vg__cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
}

/* Returns false when the deadline passed. */
static inline bool vg__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t deadline)
{
    struct timespec ts = {(time_t) (deadline / 1000000000u), (long) (deadline % 1000000000u)};
    return pthread_cond_timedwait(cv, mu, &ts) != ETIMEDOUT;
}

/* vg_rt.c */
vg_actor_t *vg__rt_actor(vg_rt_t *rt, uint32_t local);
int vg__rt_deliver(vg_rt_t *rt, vg_addr_t to, vg_amsg_t *head, vg_amsg_t *tail, size_t n, int how);
void vg__rt_dropped(vg_rt_t *rt, uint64_t n);

/* vg_worker.c */
void vg__worker_init(vg__worker_t *w, vg_rt_t *rt, int index);
void vg__worker_join(vg__worker_t *w);
void vg__worker_free(vg__worker_t *w);
void vg__worker_launch(vg__worker_t *w);
void vg__worker_wake(vg__worker_t *w);
void vg__worker_schedule(vg__worker_t *w, vg_actor_t *a);
int vg__worker_spawn(vg__worker_t *w, vg_actor_t *a);
bool vg__worker_is_current(vg_rt_t *rt);
vg_actor_t *vg__worker_current_actor(void);

/* vg_actor.c */
vg_actor_t *vg__actor_new(vg_rt_t *rt, const vg_actor_def_t *def, vg__worker_t *w, vg_addr_t addr);
void vg__actor_free(vg_actor_t *a);
int vg__actor_init(vg_actor_t *a);
bool vg__actor_dispatch(vg_actor_t *a, vg_amsg_t *msg);
size_t vg__actor_discard(vg_actor_t *a);

/* vg_timer.c: one thread, a min-heap of deadlines, CLOCK_MONOTONIC waits */
vg__timers_t *vg__timers_new(vg_rt_t *rt);
void vg__timers_destroy(vg__timers_t **t_p);
void vg__timers_launch(vg__timers_t *t);
void vg__timers_halt(vg__timers_t *t);
int vg__timers_add(vg__timers_t *t, const vg__timer_spec_t *spec, uint64_t *id_out);
int vg__timers_cancel(vg__timers_t *t, uint64_t id);
void vg__timers_close(vg__timers_t *t);
bool vg__timers_quiesce(vg__timers_t *t, atomic_int_fast64_t *inflight);

/* vg_inbox.c */
int vg__inbox_deliver(vg_rt_t *rt, uint32_t local, vg_amsg_t *head, vg_amsg_t *tail);
void vg__inbox_table_fini(vg_rt_t *rt);

#endif
