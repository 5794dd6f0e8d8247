/* vg_worker.c: a worker thread runs the actors pinned to it from its ready
 * queue, up to VG__BATCH messages per turn, and sleeps on a futex only after
 * a short spin finds nothing to do: no syscall per message while busy.
 * It also runs spawn requests (actor init) and, at stop, every fini. */
#include "vg_actor_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#define S_SPIN_NS 20000 /* spin this long before sleeping */

static _Thread_local vg__worker_t *s_cur;     /* the worker running on this thread */
static _Thread_local vg_actor_t *s_cur_actor; /* the actor whose handler runs now */

static inline void s_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static vg_actor_t *s_actor_of(vg_amsg_t *link)
{
    return (vg_actor_t *) ((char *) link - offsetof(vg_actor_t, rq_link));
}

void vg__worker_init(vg__worker_t *w, vg_rt_t *rt, int index)
{
    w->rt = rt;
    w->index = index;
    vg__mpsc_init(&w->ready);
    pthread_mutex_init(&w->ctl_mu, NULL);
}

void vg__worker_free(vg__worker_t *w)
{
    pthread_mutex_destroy(&w->ctl_mu);
    free(w);
}

bool vg__worker_is_current(vg_rt_t *rt)
{
    return s_cur && s_cur->rt == rt;
}

vg_actor_t *vg__worker_current_actor(void)
{
    return s_cur_actor;
}

/* ---- sleeping and waking ---- */

void vg__worker_wake(vg__worker_t *w)
{
    if (atomic_load(&w->parked) && atomic_exchange(&w->parked, 0))
        syscall(SYS_futex, &w->parked, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void vg__worker_schedule(vg__worker_t *w, vg_actor_t *a)
{
    vg__mpsc_push_chain(&w->ready, &a->rq_link, &a->rq_link);
    vg__worker_wake(w);
}

static bool s_has_work(vg__worker_t *w)
{
    return !vg__mpsc_empty(&w->ready) || atomic_load(&w->ctl_pending) ||
           atomic_load(&w->rt->phase) >= VG__RT_STOPPING;
}

/* Spins briefly, then sleeps until a sender, a spawn or stop wakes it. The
 * parked flag is set before the last check (both sequentially consistent),
 * so a waker either sees it or the check sees the waker's work. */
static void s_idle(vg__worker_t *w)
{
    uint64_t t0 = vg_now_ns();
    do {
        for (int i = 0; i < 64; i++) {
            if (s_has_work(w)) return;
            s_cpu_relax();
        }
    } while (vg_now_ns() - t0 < S_SPIN_NS);
    atomic_store(&w->parked, 1);
    if (!s_has_work(w)) syscall(SYS_futex, &w->parked, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
    atomic_store(&w->parked, 0);
}

/* ---- running actors ---- */

/* After a turn: requeue at once if the batch was full; else clear the flag
 * and re-check, since a sender that saw the flag set did not schedule. */
static void s_reschedule(vg__worker_t *w, vg_actor_t *a, bool more)
{
    if (!more) {
        atomic_store(&a->scheduled, 0);
        if (vg__mpsc_empty(&a->mbox) || atomic_exchange(&a->scheduled, 1)) return;
    }
    vg__mpsc_push_chain(&w->ready, &a->rq_link, &a->rq_link);
}

static void s_run_actor(vg__worker_t *w, vg_actor_t *a)
{
    int life = atomic_load(&a->life);
    if (life == VG__LIFE_PENDING) { /* init not done: it re-kicks the actor */
        atomic_store(&a->scheduled, 0);
        return;
    }
    vg_rt_t *rt = w->rt;
    uint64_t done = 0, handled = 0;
    vg_amsg_t *m;
    s_cur_actor = a;
    while (done < VG__BATCH && (m = vg__mpsc_pop(&a->mbox))) {
        done++;
        if (a->cap) atomic_fetch_sub(&a->queued, 1);
        if (life == VG__LIFE_LIVE) {
            handled += vg__actor_dispatch(a, m);
        } else {
            vg_amsg_free(&m);
            vg__rt_dropped(rt, 1);
        }
        if (atomic_load_explicit(&rt->phase, memory_order_relaxed) >= VG__RT_STOPPING) break;
    }
    s_cur_actor = NULL;
    uint64_t old = atomic_load_explicit(&w->delivered, memory_order_relaxed);
    atomic_store_explicit(&w->delivered, old + handled, memory_order_relaxed);
    atomic_fetch_sub(&rt->inflight, (int_fast64_t) done);
    s_reschedule(w, a, done == VG__BATCH);
}

/* ---- spawn requests: init runs on the actor's worker ---- */

/* On w's thread: runs a's init, records it in w's list, and schedules it if
 * mail arrived meanwhile. */
static int s_init_actor(vg__worker_t *w, vg_actor_t *a, bool listed)
{
    vg_actor_t *prev = s_cur_actor;
    s_cur_actor = a;
    int rc = vg__actor_init(a);
    s_cur_actor = prev;
    if (rc == VG_OK && !listed) {
        a->wnext = w->actors;
        w->actors = a;
    }
    if (!vg__mpsc_empty(&a->mbox) && !atomic_exchange(&a->scheduled, 1))
        vg__mpsc_push_chain(&w->ready, &a->rq_link, &a->rq_link);
    return rc;
}

static void s_req_done(vg__spawn_req_t *req, int rc)
{
    pthread_mutex_lock(&req->mu);
    req->rc = rc;
    req->done = true;
    pthread_cond_signal(&req->cv);
    pthread_mutex_unlock(&req->mu);
}

static vg__spawn_req_t *s_take_ctl(vg__worker_t *w, bool close)
{
    pthread_mutex_lock(&w->ctl_mu);
    vg__spawn_req_t *list = w->ctl, *fifo = NULL;
    w->ctl = NULL;
    w->ctl_closed |= close;
    atomic_store(&w->ctl_pending, 0);
    pthread_mutex_unlock(&w->ctl_mu);
    while (list) { /* reverse: requests run in arrival order */
        vg__spawn_req_t *next = list->next;
        list->next = fifo;
        fifo = list;
        list = next;
    }
    return fifo;
}

static void s_run_ctl(vg__worker_t *w)
{
    for (vg__spawn_req_t *req = s_take_ctl(w, false), *next; req; req = next) {
        next = req->next;
        s_req_done(req, s_init_actor(w, req->actor, false));
    }
}

/* Waits for req; a waiting worker keeps running spawns aimed at itself, so
 * two workers spawning onto each other cannot deadlock. */
static void s_req_wait(vg__spawn_req_t *req)
{
    vg__worker_t *me = s_cur;
    pthread_mutex_lock(&req->mu);
    while (!req->done) {
        if (!me) {
            pthread_cond_wait(&req->cv, &req->mu);
            continue;
        }
        pthread_mutex_unlock(&req->mu);
        if (atomic_load(&me->ctl_pending)) s_run_ctl(me);
        pthread_mutex_lock(&req->mu);
        if (!req->done) vg__cond_wait_until(&req->cv, &req->mu, vg_now_ns() + 1000000u);
    }
    pthread_mutex_unlock(&req->mu);
}

int vg__worker_spawn(vg__worker_t *w, vg_actor_t *a)
{
    if (s_cur == w) return s_init_actor(w, a, false);
    vg__spawn_req_t req = {.actor = a};
    pthread_mutex_init(&req.mu, NULL);
    vg__cond_init(&req.cv);
    pthread_mutex_lock(&w->ctl_mu);
    bool closed = w->ctl_closed;
    if (!closed) {
        req.next = w->ctl;
        w->ctl = &req;
        atomic_store(&w->ctl_pending, 1);
    }
    pthread_mutex_unlock(&w->ctl_mu);
    if (closed) {
        atomic_store(&a->life, VG__LIFE_DEAD);
        req.rc = VG_ERR_CLOSED;
    } else {
        vg__worker_wake(w);
        s_req_wait(&req);
    }
    pthread_cond_destroy(&req.cv);
    pthread_mutex_destroy(&req.mu);
    return req.rc;
}

/* ---- the thread ---- */

/* Runs the init of every actor spawned before start; returns the first
 * failure. Failed actors leave the list (no fini). */
static int s_init_pinned(vg__worker_t *w)
{
    int first = VG_OK;
    for (vg_actor_t **pp = &w->actors; *pp;) {
        vg_actor_t *a = *pp;
        int rc = s_init_actor(w, a, true);
        if (rc == VG_OK) {
            pp = &a->wnext;
            continue;
        }
        *pp = a->wnext;
        if (first == VG_OK) first = rc;
    }
    return first;
}

static void s_report_started(vg_rt_t *rt, int rc)
{
    pthread_mutex_lock(&rt->start_mu);
    if (rc && !rt->start_err) rt->start_err = rc;
    rt->start_pending--;
    pthread_cond_broadcast(&rt->start_cv);
    pthread_mutex_unlock(&rt->start_mu);
}

static void s_shutdown(vg__worker_t *w)
{
    for (vg__spawn_req_t *req = s_take_ctl(w, true), *next; req; req = next) {
        next = req->next;
        atomic_store(&req->actor->life, VG__LIFE_DEAD);
        s_req_done(req, VG_ERR_CLOSED);
    }
    for (vg_actor_t *a = w->actors; a; a = a->wnext) {
        s_cur_actor = a;
        if (a->fini) a->fini(a);
        atomic_store(&a->life, VG__LIFE_DEAD);
    }
    s_cur_actor = NULL;
}

static void *s_main(void *arg)
{
    vg__worker_t *w = arg;
    vg_rt_t *rt = w->rt;
    vg_signals_block();
    s_cur = w;
    s_report_started(rt, s_init_pinned(w));
    while (atomic_load_explicit(&rt->phase, memory_order_relaxed) < VG__RT_STOPPING) {
        if (atomic_load_explicit(&w->ctl_pending, memory_order_relaxed)) s_run_ctl(w);
        vg_amsg_t *link = vg__mpsc_pop(&w->ready);
        if (link)
            s_run_actor(w, s_actor_of(link));
        else
            s_idle(w);
    }
    s_shutdown(w);
    s_cur = NULL;
    return NULL;
}

void vg__worker_launch(vg__worker_t *w)
{
    int rc = pthread_create(&w->thread, NULL, s_main, w);
    VG_ASSERT(rc == 0);
    w->running = true;
}

void vg__worker_join(vg__worker_t *w)
{
    if (!w->running) return;
    pthread_join(w->thread, NULL);
    w->running = false;
}
