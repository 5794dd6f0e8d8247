/* vg_timer.c: the runtime's timer thread. A binary min-heap of deadlines
 * under one mutex, timed waits on CLOCK_MONOTONIC; a due timer becomes a
 * message to its actor. Timer records are recycled through a free list, so
 * request timeouts allocate nothing in steady state. */
#include "vg_actor_internal.h"

#include "vg_err.h"
#include "vg_mem.h"
#include "vg_time.h"

struct s_timer {
    uint64_t deadline, period, id, corr, tag;
    vg_addr_t to;
    uint16_t type;
    uint32_t idx; /* position in the heap */
    struct s_timer *next_free;
};

struct vg__timers {
    vg_rt_t *rt;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct s_timer **heap;
    uint32_t n, cap;
    struct s_timer *free_list;
    vg__u64map_t by_id; /* id -> struct s_timer * */
    uint64_t next_id;
    bool closed;  /* user timers refused (stopping) */
    bool quit;    /* thread must exit */
    bool running; /* thread started */
    pthread_t thread;
};

/* ---- heap ---- */

static void s_place(vg__timers_t *t, struct s_timer *tm, uint32_t i)
{
    t->heap[i] = tm;
    tm->idx = i;
}

static void s_sift_up(vg__timers_t *t, uint32_t i)
{
    struct s_timer *tm = t->heap[i];
    while (i > 0 && t->heap[(i - 1) / 2]->deadline > tm->deadline) {
        s_place(t, t->heap[(i - 1) / 2], i);
        i = (i - 1) / 2;
    }
    s_place(t, tm, i);
}

static void s_sift_down(vg__timers_t *t, uint32_t i)
{
    struct s_timer *tm = t->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= t->n) break;
        if (c + 1 < t->n && t->heap[c + 1]->deadline < t->heap[c]->deadline) c++;
        if (t->heap[c]->deadline >= tm->deadline) break;
        s_place(t, t->heap[c], i);
        i = c;
    }
    s_place(t, tm, i);
}

static void s_heap_push(vg__timers_t *t, struct s_timer *tm)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->heap = vg_realloc(t->heap, t->cap * sizeof *t->heap);
    }
    s_place(t, tm, t->n++);
    s_sift_up(t, tm->idx);
}

static void s_heap_remove(vg__timers_t *t, struct s_timer *tm)
{
    uint32_t i = tm->idx;
    struct s_timer *last = t->heap[--t->n];
    if (i == t->n) return;
    s_place(t, last, i);
    s_sift_down(t, i);
    s_sift_up(t, last->idx);
}

static void s_release(vg__timers_t *t, struct s_timer *tm)
{
    vg__u64map_del(&t->by_id, tm->id, NULL);
    tm->next_free = t->free_list;
    t->free_list = tm;
}

/* ---- firing ---- */

/* Sends tm's message (under the lock, which vg__timers_quiesce relies on),
 * then re-arms a periodic timer or releases the record. */
static void s_fire(vg__timers_t *t, struct s_timer *tm, uint64_t now, int status, bool final)
{
    s_heap_remove(t, tm);
    vg_amsg_t *m = vg_amsg_new(tm->type);
    m->to = tm->to;
    m->corr = tm->corr;
    m->arg[0] = tm->tag;
    m->arg[1] = tm->id;
    if (tm->type == VG_AMSG_TIMEOUT) m->status = status;
    int rc = vg__rt_deliver(t->rt, m->to, m, m, 1, VG__SEND_INTERNAL);
    if (rc) vg_amsg_free(&m);
    if (tm->period && !final && rc == VG_OK) {
        tm->deadline += tm->period;
        if (tm->deadline <= now) tm->deadline = now + tm->period; /* skip missed ticks */
        s_heap_push(t, tm);
    } else {
        s_release(t, tm);
    }
}

static void *s_main(void *arg)
{
    vg__timers_t *t = arg;
    vg_signals_block();
    pthread_mutex_lock(&t->mu);
    while (!t->quit) {
        if (!t->n) {
            pthread_cond_wait(&t->cv, &t->mu);
            continue;
        }
        uint64_t now = vg_now_ns();
        struct s_timer *top = t->heap[0];
        if (top->deadline > now)
            vg__cond_wait_until(&t->cv, &t->mu, top->deadline);
        else
            s_fire(t, top, now, VG_ERR_TIMEOUT, false);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* ---- lifecycle ---- */

vg__timers_t *vg__timers_new(vg_rt_t *rt)
{
    vg__timers_t *t = VG_NEW(vg__timers_t);
    t->rt = rt;
    pthread_mutex_init(&t->mu, NULL);
    vg__cond_init(&t->cv);
    return t;
}

void vg__timers_launch(vg__timers_t *t)
{
    int rc = pthread_create(&t->thread, NULL, s_main, t);
    VG_ASSERT(rc == 0);
    t->running = true;
}

void vg__timers_halt(vg__timers_t *t)
{
    pthread_mutex_lock(&t->mu);
    t->quit = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (t->running) pthread_join(t->thread, NULL);
    t->running = false;
}

void vg__timers_destroy(vg__timers_t **t_p)
{
    vg__timers_t *t = *t_p;
    if (!t) return;
    *t_p = NULL;
    vg__timers_halt(t);
    for (uint32_t i = 0; i < t->n; i++) free(t->heap[i]);
    for (struct s_timer *tm = t->free_list, *next; tm; tm = next) {
        next = tm->next_free;
        free(tm);
    }
    free(t->heap);
    vg__u64map_fini(&t->by_id);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* ---- the runtime's entry points ---- */

int vg__timers_add(vg__timers_t *t, const vg__timer_spec_t *spec, uint64_t *id_out)
{
    pthread_mutex_lock(&t->mu);
    if (t->quit || (t->closed && spec->type == VG_AMSG_TIMER)) {
        pthread_mutex_unlock(&t->mu);
        return VG_ERR_CLOSED;
    }
    struct s_timer *tm = t->free_list;
    if (tm)
        t->free_list = tm->next_free;
    else
        tm = vg_malloc(sizeof *tm);
    *tm = (struct s_timer){.deadline = vg_now_ns() + spec->delay_ns,
                           .period = spec->period_ns,
                           .id = ++t->next_id,
                           .corr = spec->corr,
                           .tag = spec->tag,
                           .to = spec->to,
                           .type = spec->type};
    vg__u64map_put(&t->by_id, tm->id, (uint64_t) (uintptr_t) tm);
    s_heap_push(t, tm);
    if (tm->idx == 0) pthread_cond_signal(&t->cv); /* new earliest deadline */
    *id_out = tm->id;
    pthread_mutex_unlock(&t->mu);
    return VG_OK;
}

int vg__timers_cancel(vg__timers_t *t, uint64_t id)
{
    uint64_t v;
    pthread_mutex_lock(&t->mu);
    bool found = vg__u64map_get(&t->by_id, id, &v);
    if (found) {
        struct s_timer *tm = (struct s_timer *) (uintptr_t) v;
        s_heap_remove(t, tm);
        s_release(t, tm);
    }
    pthread_mutex_unlock(&t->mu);
    return found ? VG_OK : VG_ERR_NOT_FOUND;
}

void vg__timers_close(vg__timers_t *t)
{
    pthread_mutex_lock(&t->mu);
    t->closed = true;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        struct s_timer *tm = t->heap[i];
        if (tm->type == VG_AMSG_TIMER)
            s_release(t, tm);
        else
            s_place(t, tm, kept++);
    }
    t->n = kept;
    for (uint32_t i = kept / 2; i-- > 0;) s_sift_down(t, i);
    pthread_mutex_unlock(&t->mu);
}

bool vg__timers_quiesce(vg__timers_t *t, atomic_int_fast64_t *inflight)
{
    pthread_mutex_lock(&t->mu);
    bool idle = atomic_load(inflight) == 0;
    if (idle && t->n) { /* nothing can answer the pending requests any more */
        uint64_t now = vg_now_ns();
        while (t->n) s_fire(t, t->heap[0], now, VG_ERR_CLOSED, true);
        idle = false;
    }
    pthread_mutex_unlock(&t->mu);
    return idle;
}
