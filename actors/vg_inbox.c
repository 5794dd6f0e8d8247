/* vg_inbox.c: blocking mailboxes for threads that are not actors (HTTP
 * threads, main), and vg_rt_call(): request/reply from such a thread. An
 * inbox's local id is VG__INBOX_BIT | generation << 16 | slot, so a stale
 * address never reaches a newer inbox in the same slot. */
#include "vg_actor_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#define S_SLOTS     65536u /* slot = low 16 bits of the local id */
#define S_ABANDONED 1024u  /* remembered corrs of timed-out calls */

struct vg_inbox {
    vg_rt_t *rt;
    vg_addr_t addr;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    vg_amsg_t *head, *tail;      /* delivered, under mu */
    vg_amsg_t *kept, *kept_tail; /* set aside by vg_rt_call; owner only */
    vg__u64map_t abandoned;      /* corrs of timed-out calls; owner only */
};

/* ---- the table (under rt->inbox_mu) ---- */

static uint32_t s_register(vg_rt_t *rt, vg_inbox_t *in)
{
    uint32_t slot = 0;
    while (slot < rt->inbox_cap && rt->inboxes[slot]) slot++;
    if (slot == rt->inbox_cap) {
        VG_ASSERT(rt->inbox_cap < S_SLOTS);
        uint32_t cap = rt->inbox_cap ? rt->inbox_cap * 2 : 16;
        rt->inboxes = vg_realloc(rt->inboxes, cap * sizeof *rt->inboxes);
        for (uint32_t i = rt->inbox_cap; i < cap; i++) rt->inboxes[i] = NULL;
        rt->inbox_cap = cap;
    }
    rt->inboxes[slot] = in;
    rt->inbox_live++;
    uint32_t gen = ++rt->inbox_gen & 0x7fffu;
    return VG__INBOX_BIT | gen << 16 | slot;
}

static vg_inbox_t *s_find(vg_rt_t *rt, uint32_t local)
{
    uint32_t slot = local & (S_SLOTS - 1);
    vg_inbox_t *in = slot < rt->inbox_cap ? rt->inboxes[slot] : NULL;
    return in && VG_ADDR_LOCAL(in->addr) == local ? in : NULL;
}

int vg__inbox_deliver(vg_rt_t *rt, uint32_t local, vg_amsg_t *head, vg_amsg_t *tail)
{
    pthread_mutex_lock(&rt->inbox_mu);
    vg_inbox_t *in = s_find(rt, local);
    if (in) {
        pthread_mutex_lock(&in->mu);
        tail->next = NULL;
        if (in->tail)
            in->tail->next = head;
        else
            in->head = head;
        in->tail = tail;
        pthread_cond_signal(&in->cv);
        pthread_mutex_unlock(&in->mu);
    }
    pthread_mutex_unlock(&rt->inbox_mu);
    return in ? VG_OK : VG_ERR_NOT_FOUND;
}

void vg__inbox_table_fini(vg_rt_t *rt)
{
    if (rt->inbox_live)
        vg_error(VG__LOG, "%u inbox(es) not destroyed before the runtime", rt->inbox_live);
    free(rt->inboxes);
    rt->inboxes = NULL;
    rt->inbox_cap = 0;
}

/* ---- inboxes ---- */

vg_inbox_t *vg_inbox_new(vg_rt_t *rt)
{
    vg_inbox_t *in = VG_NEW(vg_inbox_t);
    in->rt = rt;
    pthread_mutex_init(&in->mu, NULL);
    vg__cond_init(&in->cv);
    pthread_mutex_lock(&rt->inbox_mu);
    in->addr = VG_ADDR(rt->node_id, s_register(rt, in));
    pthread_mutex_unlock(&rt->inbox_mu);
    return in;
}

void vg_inbox_destroy(vg_inbox_t **in_p)
{
    if (!in_p || !*in_p) return;
    vg_inbox_t *in = *in_p;
    *in_p = NULL;
    vg_rt_t *rt = in->rt;
    pthread_mutex_lock(&rt->inbox_mu); /* after this no sender can reach it */
    rt->inboxes[VG_ADDR_LOCAL(in->addr) & (S_SLOTS - 1)] = NULL;
    rt->inbox_live--;
    pthread_mutex_unlock(&rt->inbox_mu);
    vg__rt_dropped(rt, vg_amsg_free_chain(in->head) + vg_amsg_free_chain(in->kept));
    vg__u64map_fini(&in->abandoned);
    pthread_cond_destroy(&in->cv);
    pthread_mutex_destroy(&in->mu);
    free(in);
}

vg_addr_t vg_inbox_addr(vg_inbox_t *in)
{
    return in->addr;
}

/* Pops the next delivered message, waiting until deadline (0 = forever). */
static vg_amsg_t *s_wait(vg_inbox_t *in, uint64_t deadline)
{
    pthread_mutex_lock(&in->mu);
    while (!in->head) {
        if (!deadline)
            pthread_cond_wait(&in->cv, &in->mu);
        else if (!vg__cond_wait_until(&in->cv, &in->mu, deadline) || vg_now_ns() >= deadline)
            break;
    }
    vg_amsg_t *m = in->head;
    if (m) {
        in->head = m->next;
        if (!in->head) in->tail = NULL;
        m->next = NULL;
    }
    pthread_mutex_unlock(&in->mu);
    return m;
}

static uint64_t s_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? 0 : vg_now_ns() + (uint64_t) timeout_ms * 1000000u + 1;
}

/* A late reply to a timed-out call: forget the corr and drop the message. */
static bool s_stale(vg_inbox_t *in, vg_amsg_t **m_p)
{
    vg_amsg_t *m = *m_p;
    if (!(m->flags & VG_AMSG_F_REPLY) || !vg__u64map_del(&in->abandoned, m->corr, NULL))
        return false;
    vg__rt_dropped(in->rt, 1);
    vg_amsg_free(m_p);
    return true;
}

int vg_inbox_recv(vg_inbox_t *in, int timeout_ms, vg_amsg_t **out)
{
    VG_ASSERT(out);
    if (in->kept) {
        *out = in->kept;
        in->kept = in->kept->next;
        (*out)->next = NULL;
        return VG_OK;
    }
    uint64_t deadline = s_deadline(timeout_ms);
    for (;;) {
        vg_amsg_t *m = s_wait(in, deadline);
        if (!m) return VG_ERR_TIMEOUT;
        if (s_stale(in, &m)) continue;
        *out = m;
        return VG_OK;
    }
}

static void s_keep(vg_inbox_t *in, vg_amsg_t *m)
{
    if (in->kept)
        in->kept_tail->next = m;
    else
        in->kept = m;
    in->kept_tail = m;
}

static void s_abandon(vg_inbox_t *in, uint64_t corr)
{
    if (in->abandoned.n >= S_ABANDONED) vg__u64map_fini(&in->abandoned);
    vg__u64map_put(&in->abandoned, corr, 1);
}

int vg_rt_call(vg_rt_t *rt, vg_inbox_t *in, vg_amsg_t **req_p, int timeout_ms,
               vg_amsg_t **reply_out)
{
    VG_ASSERT(req_p && *req_p && reply_out);
    vg_amsg_t *req = *req_p;
    uint64_t corr = vg_rt_next_corr(rt);
    req->from = in->addr;
    req->corr = corr;
    req->flags &= (uint16_t) ~VG_AMSG_F_REPLY;
    int rc = vg_rt_send(rt, req_p);
    if (rc) return rc;
    uint64_t deadline = s_deadline(timeout_ms);
    for (;;) {
        vg_amsg_t *m = s_wait(in, deadline);
        if (!m) {
            s_abandon(in, corr);
            return VG_ERR_TIMEOUT;
        }
        if ((m->flags & VG_AMSG_F_REPLY) && m->corr == corr) {
            *reply_out = m;
            return VG_OK;
        }
        if (!s_stale(in, &m)) s_keep(in, m);
    }
}
