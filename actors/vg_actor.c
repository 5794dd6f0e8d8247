/* vg_actor.c: one actor: its handler table, dispatch, and the per-actor
 * bookkeeping of requests and timers. The pending-request and live-timer
 * maps are touched only by the actor's worker (timeouts arrive as
 * messages), so nothing here takes a lock. */
#include "vg_actor_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"

#include <string.h>

static int s_cmp_handler(const void *a, const void *b)
{
    const vg_actor_handler_t *x = a, *y = b;
    return (x->type > y->type) - (x->type < y->type);
}

vg_actor_t *vg__actor_new(vg_rt_t *rt, const vg_actor_def_t *def, vg__worker_t *w, vg_addr_t addr)
{
    vg_actor_t *a = VG_NEW(vg_actor_t);
    vg__mpsc_init(&a->mbox);
    atomic_init(&a->life, VG__LIFE_PENDING);
    a->rt = rt;
    a->worker = w;
    a->addr = addr;
    a->name = vg_strdup(def->name ? def->name : "actor");
    a->n_handlers = def->n_handlers;
    a->handlers = vg_calloc(def->n_handlers, sizeof *a->handlers);
    if (def->n_handlers) memcpy(a->handlers, def->handlers, def->n_handlers * sizeof *a->handlers);
    qsort(a->handlers, a->n_handlers, sizeof *a->handlers, s_cmp_handler);
    a->fallback = def->fallback;
    a->state = def->state;
    a->init = def->init;
    a->fini = def->fini;
    a->cap = def->mailbox_cap;
    return a;
}

void vg__actor_free(vg_actor_t *a)
{
    vg__u64map_fini(&a->pending);
    vg__u64map_fini(&a->timers);
    free(a->handlers);
    free(a->name);
    free(a);
}

int vg__actor_init(vg_actor_t *a)
{
    int rc = a->init ? a->init(a) : VG_OK;
    if (rc) vg_error(VG__LOG, "actor %s: init failed (%d)", a->name, rc);
    atomic_store(&a->life, rc ? VG__LIFE_DEAD : VG__LIFE_LIVE);
    return rc;
}

size_t vg__actor_discard(vg_actor_t *a)
{
    size_t n = 0;
    for (vg_amsg_t *m; (m = vg__mpsc_pop(&a->mbox)); n++) vg_amsg_free(&m);
    return n;
}

/* ---- dispatch ---- */

static vg_actor_fn *s_lookup(const vg_actor_t *a, uint16_t type)
{
    size_t lo = 0, hi = a->n_handlers;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->handlers[mid].type == type) return a->handlers[mid].fn;
        if (a->handlers[mid].type < type)
            lo = mid + 1;
        else
            hi = mid;
    }
    return a->fallback;
}

/* A reply settles its pending request (cancelling the timeout timer); a
 * timeout settles it too; whichever comes second is dropped. */
static bool s_settle(vg_actor_t *a, uint64_t corr, bool is_reply)
{
    uint64_t timer_id;
    if (!vg__u64map_del(&a->pending, corr, &timer_id)) return false;
    if (is_reply && timer_id) vg__timers_cancel(a->rt->timers, timer_id);
    return true;
}

/* A timer message counts only while its timer is live for this actor. */
static bool s_timer_live(vg_actor_t *a, uint64_t id)
{
    uint64_t period;
    if (!vg__u64map_get(&a->timers, id, &period)) return false;
    if (!period) vg__u64map_del(&a->timers, id, NULL);
    return true;
}

static bool s_accept(vg_actor_t *a, const vg_amsg_t *m)
{
    if (m->flags & VG_AMSG_F_REPLY) return m->corr == 0 || s_settle(a, m->corr, true);
    if (m->type == VG_AMSG_TIMEOUT) return s_settle(a, m->corr, false);
    if (m->type == VG_AMSG_TIMER) return s_timer_live(a, m->arg[1]);
    return true;
}

static void s_drop(vg_actor_t *a, vg_amsg_t *m, bool unhandled)
{
    if (unhandled && !a->warned) {
        vg_warn(VG__LOG, "actor %s: no handler for type 0x%x, dropped", a->name, m->type);
        a->warned = true;
    }
    vg__rt_dropped(a->rt, 1);
    vg_amsg_free(&m);
}

bool vg__actor_dispatch(vg_actor_t *a, vg_amsg_t *m)
{
    m->next = NULL;
    if (VG_UNLIKELY(!s_accept(a, m))) { /* stale reply, timeout or timer */
        s_drop(a, m, false);
        return false;
    }
    vg_actor_fn *fn = s_lookup(a, m->type);
    if (VG_UNLIKELY(!fn)) {
        s_drop(a, m, true);
        return false;
    }
    fn(a, &m);
    vg_amsg_free(&m);
    return true;
}

/* ---- the public actor API ---- */

void *vg_actor_state(vg_actor_t *self)
{
    return self->state;
}

vg_addr_t vg_actor_addr(vg_actor_t *self)
{
    return self->addr;
}

vg_rt_t *vg_actor_rt(vg_actor_t *self)
{
    return self->rt;
}

int vg_actor_worker(vg_actor_t *self)
{
    return self->worker->index;
}

const char *vg_actor_name(vg_actor_t *self)
{
    return self->name;
}

uint64_t vg_actor_last_corr(vg_actor_t *self)
{
    return self->last_corr;
}

int vg_actor_request(vg_actor_t *self, vg_amsg_t **msg_p, uint32_t timeout_ms)
{
    VG_ASSERT(msg_p && *msg_p);
    vg_amsg_t *m = *msg_p;
    m->from = self->addr;
    m->flags &= (uint16_t) ~VG_AMSG_F_REPLY;
    if (!m->corr) m->corr = vg_rt_next_corr(self->rt);
    uint64_t corr = m->corr, timer_id = 0;
    if (timeout_ms) {
        vg__timer_spec_t spec = {.to = self->addr,
                                 .type = VG_AMSG_TIMEOUT,
                                 .corr = corr,
                                 .delay_ns = (uint64_t) timeout_ms * 1000000u};
        int rc = vg__timers_add(self->rt->timers, &spec, &timer_id);
        if (rc) return rc;
    }
    vg__u64map_put(&self->pending, corr, timer_id);
    int rc = vg_rt_send(self->rt, msg_p);
    if (rc) {
        vg__u64map_del(&self->pending, corr, NULL);
        if (timer_id) vg__timers_cancel(self->rt->timers, timer_id);
        return rc;
    }
    self->last_corr = corr;
    return VG_OK;
}

int vg_actor_reply(vg_actor_t *self, const vg_amsg_t *req, vg_amsg_t **reply_p)
{
    VG_ASSERT(req && reply_p && *reply_p);
    if (!req->from) return VG_ERR_INVALID;
    vg_amsg_t *r = *reply_p;
    r->to = req->from;
    r->corr = req->corr;
    r->from = self->addr;
    r->flags |= VG_AMSG_F_REPLY;
    return vg_rt_send(self->rt, reply_p);
}

int vg_actor_timer(vg_actor_t *self, uint32_t delay_ms, uint32_t period_ms, uint64_t tag,
                   uint64_t *id_out)
{
    vg__timer_spec_t spec = {.to = self->addr,
                             .type = VG_AMSG_TIMER,
                             .tag = tag,
                             .delay_ns = (uint64_t) delay_ms * 1000000u,
                             .period_ns = (uint64_t) period_ms * 1000000u};
    uint64_t id;
    int rc = vg__timers_add(self->rt->timers, &spec, &id);
    if (rc) return rc;
    vg__u64map_put(&self->timers, id, spec.period_ns);
    if (id_out) *id_out = id;
    return VG_OK;
}

int vg_actor_timer_cancel(vg_actor_t *self, uint64_t id)
{
    if (!vg__u64map_del(&self->timers, id, NULL)) return VG_ERR_NOT_FOUND;
    vg__timers_cancel(self->rt->timers, id);
    return VG_OK;
}
