/* vg_rt.c: the runtime's lifecycle (new, start, stop with drain, destroy),
 * the actor table, spawn, and the send path: a local send is one atomic
 * exchange on the mailbox plus, when the actor was idle, one on its worker's
 * ready queue. Remote addresses go to the transport's hook. */
#include "vg_actor_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <string.h>
#include <unistd.h>

vg_rt_t *vg_rt_new(const vg_rt_config_t *cfg)
{
    vg_rt_t *rt = VG_NEW(vg_rt_t);
    long n = cfg && cfg->workers > 0 ? cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);
    rt->n_workers = n > 0 ? (int) n : 1;
    rt->node_id = cfg ? cfg->node_id : 0;
    rt->workers = vg_calloc((size_t) rt->n_workers, sizeof *rt->workers);
    for (int i = 0; i < rt->n_workers; i++) {
        rt->workers[i] = VG_NEW(vg__worker_t);
        vg__worker_init(rt->workers[i], rt, i);
    }
    atomic_init(&rt->phase, VG__RT_NEW);
    atomic_init(&rt->next_corr, 1);
    pthread_mutex_init(&rt->spawn_mu, NULL);
    pthread_mutex_init(&rt->start_mu, NULL);
    pthread_cond_init(&rt->start_cv, NULL);
    pthread_mutex_init(&rt->inbox_mu, NULL);
    rt->timers = vg__timers_new(rt);
    return rt;
}

int vg_rt_start(vg_rt_t *rt)
{
    pthread_mutex_lock(&rt->spawn_mu);
    if (atomic_load(&rt->phase) != VG__RT_NEW) {
        pthread_mutex_unlock(&rt->spawn_mu);
        return VG_ERR_INVALID;
    }
    atomic_store(&rt->phase, VG__RT_RUNNING);
    rt->start_pending = rt->n_workers;
    pthread_mutex_unlock(&rt->spawn_mu);
    vg__timers_launch(rt->timers);
    for (int i = 0; i < rt->n_workers; i++) vg__worker_launch(rt->workers[i]);
    pthread_mutex_lock(&rt->start_mu);
    while (rt->start_pending > 0) pthread_cond_wait(&rt->start_cv, &rt->start_mu);
    int rc = rt->start_err;
    pthread_mutex_unlock(&rt->start_mu);
    return rc;
}

/* Waits until no actor message is queued or running and no request timeout
 * is pending (those left fire early once everything else is done). */
static int s_drain(vg_rt_t *rt, uint32_t timeout_ms)
{
    uint64_t deadline = vg_now_ns() + (uint64_t) timeout_ms * 1000000u;
    for (;;) {
        if (vg__timers_quiesce(rt->timers, &rt->inflight)) return VG_OK;
        if (vg_now_ns() >= deadline) return VG_ERR_TIMEOUT;
        usleep(200);
    }
}

int vg_rt_stop(vg_rt_t *rt, uint32_t drain_timeout_ms)
{
    VG_ASSERT(!vg__worker_is_current(rt));
    pthread_mutex_lock(&rt->spawn_mu);
    int phase = atomic_load(&rt->phase);
    if (phase != VG__RT_RUNNING) {
        if (phase == VG__RT_NEW) atomic_store(&rt->phase, VG__RT_STOPPED);
        pthread_mutex_unlock(&rt->spawn_mu);
        return VG_OK;
    }
    atomic_store(&rt->phase, VG__RT_CLOSING);
    pthread_mutex_unlock(&rt->spawn_mu);
    vg__timers_close(rt->timers);
    int rc = s_drain(rt, drain_timeout_ms);
    if (rc) vg_warn(VG__LOG, "stop: drain timed out after %u ms", drain_timeout_ms);
    atomic_store(&rt->phase, VG__RT_STOPPING);
    for (int i = 0; i < rt->n_workers; i++) vg__worker_wake(rt->workers[i]);
    for (int i = 0; i < rt->n_workers; i++) vg__worker_join(rt->workers[i]);
    vg__timers_halt(rt->timers);
    atomic_store(&rt->phase, VG__RT_STOPPED);
    return rc;
}

void vg_rt_destroy(vg_rt_t **rt_p)
{
    if (!rt_p || !*rt_p) return;
    vg_rt_t *rt = *rt_p;
    *rt_p = NULL;
    vg_rt_stop(rt, 5000);
    vg__timers_destroy(&rt->timers);
    for (uint32_t i = 0; i < rt->n_actors; i++) {
        vg_actor_t *a = vg__rt_actor(rt, i + 1);
        vg__rt_dropped(rt, vg__actor_discard(a));
        vg__actor_free(a);
    }
    for (int c = 0; c < VG__CHUNKS; c++) free(atomic_load(&rt->chunks[c]));
    for (int i = 0; i < rt->n_workers; i++) vg__worker_free(rt->workers[i]);
    free(rt->workers);
    vg__inbox_table_fini(rt);
    pthread_mutex_destroy(&rt->spawn_mu);
    pthread_mutex_destroy(&rt->start_mu);
    pthread_cond_destroy(&rt->start_cv);
    pthread_mutex_destroy(&rt->inbox_mu);
    free(rt);
}

/* ---- actor table and spawn ---- */

vg_actor_t *vg__rt_actor(vg_rt_t *rt, uint32_t local)
{
    uint32_t idx = local - 1, c = idx >> VG__CHUNK_BITS;
    if (local == 0 || c >= VG__CHUNKS) return NULL;
    vg__slot_t *chunk = atomic_load_explicit(&rt->chunks[c], memory_order_acquire);
    if (!chunk) return NULL;
    return atomic_load_explicit(&chunk[idx & ((1u << VG__CHUNK_BITS) - 1)], memory_order_acquire);
}

/* Caller holds spawn_mu. */
static void s_publish(vg_rt_t *rt, vg_actor_t *a)
{
    uint32_t idx = rt->n_actors++, c = idx >> VG__CHUNK_BITS;
    vg__slot_t *chunk = atomic_load(&rt->chunks[c]);
    if (!chunk) {
        chunk = vg_calloc((size_t) 1 << VG__CHUNK_BITS, sizeof *chunk);
        atomic_store_explicit(&rt->chunks[c], chunk, memory_order_release);
    }
    atomic_store_explicit(&chunk[idx & ((1u << VG__CHUNK_BITS) - 1)], a, memory_order_release);
}

static bool s_def_valid(const vg_actor_def_t *def)
{
    if (!def || (def->n_handlers && !def->handlers)) return false;
    for (size_t i = 0; i < def->n_handlers; i++) {
        if (!def->handlers[i].fn) return false;
        for (size_t j = 0; j < i; j++)
            if (def->handlers[j].type == def->handlers[i].type) return false;
    }
    return true;
}

static vg__worker_t *s_pick_worker(vg_rt_t *rt, int pin)
{
    unsigned i = pin >= 0 ? (unsigned) pin : atomic_fetch_add(&rt->rr, 1);
    return rt->workers[i % (unsigned) rt->n_workers];
}

int vg_rt_spawn(vg_rt_t *rt, const vg_actor_def_t *def, vg_addr_t *addr_out)
{
    if (!s_def_valid(def)) return VG_ERR_INVALID;
    pthread_mutex_lock(&rt->spawn_mu);
    int phase = atomic_load(&rt->phase);
    if (phase >= VG__RT_CLOSING || rt->n_actors >= (uint32_t) VG__CHUNKS << VG__CHUNK_BITS) {
        pthread_mutex_unlock(&rt->spawn_mu);
        return phase >= VG__RT_CLOSING ? VG_ERR_CLOSED : VG_ERR_LIMIT;
    }
    vg__worker_t *w = s_pick_worker(rt, def->worker);
    vg_actor_t *a = vg__actor_new(rt, def, w, VG_ADDR(rt->node_id, rt->n_actors + 1));
    s_publish(rt, a);
    if (phase == VG__RT_NEW) { /* init runs at start, on the worker */
        a->wnext = w->actors;
        w->actors = a;
    }
    pthread_mutex_unlock(&rt->spawn_mu);
    int rc = phase == VG__RT_NEW ? VG_OK : vg__worker_spawn(w, a);
    if (rc == VG_OK && addr_out) *addr_out = a->addr;
    return rc;
}

/* ---- sending ---- */

void vg__rt_dropped(vg_rt_t *rt, uint64_t n)
{
    if (n) atomic_fetch_add_explicit(&rt->dropped, n, memory_order_relaxed);
}

/* While stopping, only the runtime's own threads may still send. */
static bool s_refused(vg_rt_t *rt, int how)
{
    return VG_UNLIKELY(atomic_load(&rt->phase) >= VG__RT_CLOSING) && how == VG__SEND_USER &&
           !vg__worker_is_current(rt);
}

static int s_send_remote(vg_rt_t *rt, vg_amsg_t *head, size_t n)
{
    vg_rt_remote_fn *fn = atomic_load_explicit(&rt->remote_fn, memory_order_acquire);
    if (!fn) return VG_ERR_UNREACHABLE;
    void *arg = atomic_load_explicit(&rt->remote_arg, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        vg_amsg_t *m = head, *next = head->next;
        int rc = fn(arg, &m);
        if (rc) {
            VG_ASSERT(m == head); /* the hook keeps nothing it refused */
            if (n > 1) vg__rt_dropped(rt, vg_amsg_free_chain(head));
            return rc;
        }
        atomic_fetch_add_explicit(&rt->sent_remote, 1, memory_order_relaxed);
        head = next;
    }
    return VG_OK;
}

/* Reserves mailbox room for n messages; false (nothing reserved) when full. */
static bool s_reserve(vg_actor_t *a, size_t n, int how)
{
    if (!a->cap) return true;
    unsigned before = atomic_fetch_add(&a->queued, (unsigned) n);
    if (how == VG__SEND_INTERNAL || before + n <= a->cap) return true;
    atomic_fetch_sub(&a->queued, (unsigned) n);
    return false;
}

static int s_send_local(vg_rt_t *rt, vg_actor_t *a, vg_amsg_t *head, vg_amsg_t *tail, size_t n,
                        int how)
{
    if (VG_UNLIKELY(atomic_load_explicit(&a->life, memory_order_relaxed) == VG__LIFE_DEAD))
        return VG_ERR_CLOSED;
    /* count first, then check the phase: vg_rt_stop sets the phase, then
     * waits for the count, so a message is either refused or drained */
    atomic_fetch_add(&rt->inflight, (int_fast64_t) n);
    int rc = VG_OK;
    if (s_refused(rt, how))
        rc = VG_ERR_CLOSED;
    else if (!s_reserve(a, n, how))
        rc = VG_ERR_FULL;
    if (rc) {
        atomic_fetch_sub(&rt->inflight, (int_fast64_t) n);
        return rc;
    }
    vg__mpsc_push_chain(&a->mbox, head, tail);
    if (!atomic_load(&a->scheduled) && !atomic_exchange(&a->scheduled, 1))
        vg__worker_schedule(a->worker, a);
    return VG_OK;
}

int vg__rt_deliver(vg_rt_t *rt, vg_addr_t to, vg_amsg_t *head, vg_amsg_t *tail, size_t n, int how)
{
    if (VG_UNLIKELY(to == VG_ADDR_NONE)) return VG_ERR_INVALID;
    if (VG_ADDR_NODE(to) != rt->node_id) {
        return s_refused(rt, how) ? VG_ERR_CLOSED : s_send_remote(rt, head, n);
    }
    uint32_t local = VG_ADDR_LOCAL(to);
    if (local & VG__INBOX_BIT) return vg__inbox_deliver(rt, local, head, tail);
    vg_actor_t *a = vg__rt_actor(rt, local);
    if (!a) return VG_ERR_NOT_FOUND;
    return s_send_local(rt, a, head, tail, n, how);
}

int vg_rt_send(vg_rt_t *rt, vg_amsg_t **msg_p)
{
    VG_ASSERT(msg_p && *msg_p);
    vg_amsg_t *m = *msg_p;
    if (!m->from) {
        vg_actor_t *cur = vg__worker_current_actor();
        if (cur && cur->rt == rt) m->from = cur->addr;
    }
    int rc = vg__rt_deliver(rt, m->to, m, m, 1, VG__SEND_USER);
    if (rc == VG_OK) *msg_p = NULL;
    return rc;
}

#ifndef NDEBUG
static bool s_chain_ok(const vg_amsg_t *head, const vg_amsg_t *tail, size_t n)
{
    for (size_t i = 1; i < n; i++, head = head->next)
        if (!head) return false;
    return head == tail;
}
#endif

int vg_rt_send_chain(vg_rt_t *rt, vg_addr_t to, vg_amsg_t *head, vg_amsg_t *tail, size_t n)
{
    VG_ASSERT(head && tail && n > 0);
    VG_DASSERT(s_chain_ok(head, tail, n));
    tail->next = NULL;
    return vg__rt_deliver(rt, to, head, tail, n, VG__SEND_USER);
}

/* ---- small accessors ---- */

void vg_rt_set_remote(vg_rt_t *rt, vg_rt_remote_fn *fn, void *arg)
{
    atomic_store_explicit(&rt->remote_arg, arg, memory_order_release);
    atomic_store_explicit(&rt->remote_fn, fn, memory_order_release);
}

void vg_rt_stats(vg_rt_t *rt, vg_rt_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < rt->n_workers; i++)
        out->delivered += atomic_load_explicit(&rt->workers[i]->delivered, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&rt->dropped, memory_order_relaxed);
    out->sent_remote = atomic_load_explicit(&rt->sent_remote, memory_order_relaxed);
}

int vg_rt_workers(vg_rt_t *rt)
{
    return rt->n_workers;
}

uint32_t vg_rt_node(vg_rt_t *rt)
{
    return rt->node_id;
}

uint64_t vg_rt_next_corr(vg_rt_t *rt)
{
    return atomic_fetch_add_explicit(&rt->next_corr, 1, memory_order_relaxed);
}
