/* vg_transport.c: the transport's API side: configuration, the peer table
 * and per-peer FIFOs that senders fill, request/reply waiters, commands to
 * the I/O thread, stats and metrics. The I/O thread is vg_transport_io.c. */
#include "vg_transport_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#define LOG "transport"

/* ---- small helpers ------------------------------------------------------ */

static void s_cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static struct timespec s_deadline(int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void s_wake(vg_transport_t *t)
{
    uint64_t one = 1;
    ssize_t n = write(t->wake_fd, &one, sizeof one);
    (void) n; /* EAGAIN only when the counter is saturated: already woken */
}

_Thread_local const vg_transport_t *vg__transport_io_self;

bool vg__transport_on_io(const vg_transport_t *t)
{
    return vg__transport_io_self == t;
}

static uint64_t s_random64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t) sizeof v) v = vg_now_ns() ^ (uint64_t) getpid();
    return v;
}

uint32_t vg_transport_random_client_id(void)
{
    uint32_t v = (uint32_t) s_random64() | VG_TRANSPORT_CLIENT_ID_MIN;
    return v == UINT32_MAX ? v - 1 : v;
}

/* ---- peer table (under t->mu) ------------------------------------------- */

static inline uint32_t s_bucket(uint32_t id)
{
    return (id * 2654435761u) >> 24; /* 256 buckets */
}

vg__tp_peer_t *vg__transport_peer_find(vg_transport_t *t, uint32_t id)
{
    for (vg__tp_peer_t *p = t->buckets[s_bucket(id)]; p; p = p->hnext)
        if (p->id == id) return p;
    return NULL;
}

void vg__transport_peer_link(vg_transport_t *t, vg__tp_peer_t *p)
{
    uint32_t b = s_bucket(p->id);
    p->hnext = t->buckets[b];
    t->buckets[b] = p;
    t->n_peers++;
    if (p->state == VG_TRANSPORT_PEER_UP) t->n_up++;
}

void vg__transport_peer_unlink(vg_transport_t *t, vg__tp_peer_t *p)
{
    for (vg__tp_peer_t **pp = &t->buckets[s_bucket(p->id)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == p) {
            *pp = p->hnext;
            p->hnext = NULL;
            t->n_peers--;
            if (p->state == VG_TRANSPORT_PEER_UP) t->n_up--;
            return;
        }
    }
}

void vg__transport_peer_set_state(vg_transport_t *t, vg__tp_peer_t *p, vg_transport_peer_state st)
{
    if (p->state == st) return;
    if (p->state == VG_TRANSPORT_PEER_UP) t->n_up--;
    if (st == VG_TRANSPORT_PEER_UP) t->n_up++;
    p->state = st;
    pthread_cond_broadcast(&t->cv);
}

/* ---- lifecycle ---------------------------------------------------------- */

static int s_config(const vg_transport_config_t *in, vg_transport_config_t *c)
{
    *c = *in;
    if (!c->self_id) {
        vg_error(LOG, "config: self_id must be != 0");
        return VG_ERR_INVALID;
    }
    if (!c->heartbeat_ms) c->heartbeat_ms = 500;
    if (!c->dead_after_ms) c->dead_after_ms = 3000;
    if (!c->queue_cap) c->queue_cap = 10000;
    if (!c->queue_max_bytes) c->queue_max_bytes = (size_t) 256 << 20;
    if (!c->hwm) c->hwm = 1000;
    if (!c->max_peers) c->max_peers = 4096;
    if (c->dead_after_ms < 2 * c->heartbeat_ms) {
        vg_error(LOG, "config: dead_after_ms %u must be >= 2 * heartbeat_ms %u", c->dead_after_ms,
                 c->heartbeat_ms);
        return VG_ERR_INVALID;
    }
    if (c->hwm > INT32_MAX || c->linger_ms > INT32_MAX || c->heartbeat_ms > 3600000 ||
        c->dead_after_ms > 3600000)
        return VG_ERR_INVALID;
    c->bind = in->bind ? vg_strdup(in->bind) : NULL;
    return 0;
}

static void s_free(vg_transport_t *t)
{
    if (t->wake_fd >= 0) close(t->wake_fd);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->req_mu);
    vg_free((char *) t->cfg.bind);
    vg_free(t->endpoint);
    vg_free(t);
}

int vg_transport_new(const vg_transport_config_t *cfg, vg_transport_t **out)
{
    VG_ASSERT(cfg && out);
    *out = NULL;
    vg_transport_t *t = VG_NEW(vg_transport_t);
    t->wake_fd = -1;
    pthread_mutex_init(&t->mu, NULL);
    s_cond_init_mono(&t->cv);
    pthread_mutex_init(&t->req_mu, NULL);
    int err = s_config(cfg, &t->cfg);
    if (err) {
        t->cfg.bind = NULL;
        s_free(t);
        return err;
    }
    t->next_seq = s_random64();
    vg_hist_init(&t->m.request_latency, vg_hist_latency_bounds, vg_hist_latency_n);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->wake_fd < 0) {
        vg_error(LOG, "eventfd: %s", strerror(errno));
        s_free(t);
        return VG_ERR_IO;
    }
    if (pthread_create(&t->io_thread, NULL, vg__transport_io_main, t) != 0) {
        vg_error(LOG, "pthread_create failed");
        s_free(t);
        return VG_ERR_INTERNAL;
    }
    pthread_mutex_lock(&t->mu);
    while (!t->init_done) pthread_cond_wait(&t->cv, &t->mu);
    err = t->init_err;
    pthread_mutex_unlock(&t->mu);
    if (err) {
        pthread_join(t->io_thread, NULL);
        s_free(t);
        return err;
    }
    *out = t;
    return 0;
}

void vg_transport_destroy(vg_transport_t **t_p)
{
    if (!t_p || !*t_p) return;
    vg_transport_t *t = *t_p;
    VG_ASSERT(!vg__transport_on_io(t));
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    pthread_mutex_unlock(&t->mu);
    s_wake(t);
    pthread_join(t->io_thread, NULL); /* it failed every item and waiter, freed the peers */
    s_free(t);
    *t_p = NULL;
}

const char *vg_transport_endpoint(const vg_transport_t *t)
{
    return t->endpoint;
}

uint32_t vg_transport_id(const vg_transport_t *t)
{
    return t->cfg.self_id;
}

/* ---- commands ----------------------------------------------------------- */

static int s_command(vg_transport_t *t, vg__tp_cmd_kind kind, uint32_t peer, const char *endpoint)
{
    if (vg__transport_on_io(t)) return VG_ERR_INVALID;
    vg__tp_cmd_t cmd = {.kind = kind, .peer = peer, .endpoint = endpoint};
    pthread_mutex_lock(&t->mu);
    if (t->stopping) {
        pthread_mutex_unlock(&t->mu);
        return VG_ERR_CLOSED;
    }
    cmd.next = t->cmds;
    t->cmds = &cmd;
    pthread_mutex_unlock(&t->mu);
    s_wake(t);
    pthread_mutex_lock(&t->mu);
    while (!cmd.done) pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    return cmd.result;
}

int vg_transport_connect(vg_transport_t *t, uint32_t peer, const char *endpoint)
{
    if (!peer || peer == t->cfg.self_id || !endpoint || !*endpoint) return VG_ERR_INVALID;
    return s_command(t, VG__TP_CMD_CONNECT, peer, endpoint);
}

int vg_transport_disconnect(vg_transport_t *t, uint32_t peer)
{
    return s_command(t, VG__TP_CMD_DISCONNECT, peer, NULL);
}

/* ---- peer queries ------------------------------------------------------- */

int vg_transport_wait_up(vg_transport_t *t, uint32_t peer, int timeout_ms)
{
    if (vg__transport_on_io(t)) return VG_ERR_INVALID;
    struct timespec dl = s_deadline(timeout_ms < 0 ? 0 : timeout_ms);
    int err = 0;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        vg__tp_peer_t *p = vg__transport_peer_find(t, peer);
        if (p && p->state == VG_TRANSPORT_PEER_UP) break;
        if (t->stopping) {
            err = VG_ERR_CLOSED;
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&t->cv, &t->mu);
        } else if (pthread_cond_timedwait(&t->cv, &t->mu, &dl) == ETIMEDOUT) {
            p = vg__transport_peer_find(t, peer);
            err = p && p->state == VG_TRANSPORT_PEER_UP ? 0 : VG_ERR_TIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return err;
}

bool vg_transport_peer_alive(vg_transport_t *t, uint32_t peer)
{
    pthread_mutex_lock(&t->mu);
    vg__tp_peer_t *p = vg__transport_peer_find(t, peer);
    bool up = p && p->state == VG_TRANSPORT_PEER_UP;
    pthread_mutex_unlock(&t->mu);
    return up;
}

int vg_transport_peer_info(vg_transport_t *t, uint32_t peer, vg_transport_peer_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->last_seen_ms = -1;
    uint64_t now = vg_now_ns();
    pthread_mutex_lock(&t->mu);
    vg__tp_peer_t *p = vg__transport_peer_find(t, peer);
    if (p) {
        out->state = p->state;
        out->outgoing = p->outgoing;
        out->inbound = p->inbound;
        uint64_t seen = atomic_load_explicit(&p->last_seen_ns, memory_order_relaxed);
        if (seen) out->last_seen_ms = (int64_t) ((now > seen ? now - seen : 0) / 1000000u);
        out->rtt_us = atomic_load_explicit(&p->rtt_ns, memory_order_relaxed) / 1000u;
        out->queued = p->qlen;
    }
    pthread_mutex_unlock(&t->mu);
    return p ? 0 : VG_ERR_NOT_FOUND;
}

/* ---- sending ------------------------------------------------------------ */

/* Builds an item around body (taking ownership of it on success). */
static int s_item_new(const vg_env_t *env, uint8_t *body, size_t body_len, vg__tp_item_t **out)
{
    if (!env || !vg_msg_type_known(env->type)) return VG_ERR_INVALID;
    if (!body || !body_len) return VG_ERR_INVALID;
    if (body_len > VG_FRAME_MAX) return VG_ERR_TOO_LARGE;
    vg__tp_item_t *it = vg_malloc(sizeof *it);
    it->next = NULL;
    it->env = *env;
    it->env.version = VG_PROTO_VERSION;
    it->is_request = false;
    vg_mpw_t w;
    vg_mpw_init_fixed(&w, it->env_buf, sizeof it->env_buf);
    vg_env_encode(&it->env, &w);
    VG_ASSERT(!w.err); /* 9 integers never exceed VG_ENV_MAX */
    it->env_len = (uint8_t) w.len;
    it->body = body;
    it->body_len = body_len;
    *out = it;
    return 0;
}

void vg__transport_item_free(vg__tp_item_t *it)
{
    if (!it) return;
    vg_free(it->body);
    vg_free(it);
}

/* Appends it to peer's FIFO; on error the caller keeps it. */
static int s_enqueue(vg_transport_t *t, uint32_t peer, vg__tp_item_t *it)
{
    int err = 0;
    bool wake = false;
    pthread_mutex_lock(&t->mu);
    vg__tp_peer_t *p = t->stopping ? NULL : vg__transport_peer_find(t, peer);
    if (t->stopping) {
        err = VG_ERR_CLOSED;
    } else if (!p || p->state == VG_TRANSPORT_PEER_DOWN) {
        err = VG_ERR_UNREACHABLE;
    } else if (p->qlen >= t->cfg.queue_cap ||
               t->queued_bytes + it->body_len > t->cfg.queue_max_bytes) {
        err = VG_ERR_FULL;
    } else {
        if (p->qtail)
            p->qtail->next = it;
        else
            p->qhead = it;
        p->qtail = it;
        p->qlen++;
        p->qbytes += it->body_len;
        t->queued_msgs++;
        t->queued_bytes += it->body_len;
        if (vg__transport_on_io(t)) {
            t->io_kick = true; /* a callback: no syscall, the loop looks again at once */
        } else if (!t->wake_pending) {
            t->wake_pending = true;
            wake = true;
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (err == VG_ERR_UNREACHABLE) vg_counter_add(&t->m.unreachable, 1);
    if (err == VG_ERR_FULL) vg_counter_add(&t->m.queue_full, 1);
    if (wake) s_wake(t);
    return err;
}

int vg_transport_send(vg_transport_t *t, uint32_t peer, const vg_env_t *env, const void *body,
                      size_t body_len)
{
    if (!body || !body_len) return VG_ERR_INVALID;
    if (body_len > VG_FRAME_MAX) return VG_ERR_TOO_LARGE;
    uint8_t *copy = vg_malloc(body_len);
    memcpy(copy, body, body_len);
    vg__tp_item_t *it;
    int err = s_item_new(env, copy, body_len, &it);
    if (err) {
        vg_free(copy);
        return err;
    }
    err = s_enqueue(t, peer, it);
    if (err) vg__transport_item_free(it);
    return err;
}

int vg_transport_send_msg(vg_transport_t *t, uint32_t peer, const vg_msg_t *m)
{
    if (!m) return VG_ERR_INVALID;
    vg_mpw_t w;
    vg_mpw_init(&w);
    int err = vg_msg_body_encode(m, &w);
    if (!err && w.err) err = w.err;
    if (!err && w.len > VG_FRAME_MAX) err = VG_ERR_TOO_LARGE;
    vg__tp_item_t *it = NULL;
    if (!err) err = s_item_new(&m->env, w.buf, w.len, &it);
    if (err) {
        vg_mpw_fini(&w);
        return err;
    }
    /* the item owns w.buf now */
    err = s_enqueue(t, peer, it);
    if (err) vg__transport_item_free(it);
    return err;
}

/* ---- request/reply ------------------------------------------------------ */

static inline uint32_t s_req_bucket(uint64_t corr)
{
    return (uint32_t) (corr * 0x9e3779b97f4a7c15ull >> 58); /* 64 buckets */
}

/* Unlinks the waiter of corr; under req_mu. */
static vg__tp_waiter_t *s_waiter_take(vg_transport_t *t, uint64_t corr)
{
    for (vg__tp_waiter_t **pp = &t->waiters[s_req_bucket(corr)]; *pp; pp = &(*pp)->next) {
        if ((*pp)->corr == corr) {
            vg__tp_waiter_t *w = *pp;
            *pp = w->next;
            w->next = NULL;
            return w;
        }
    }
    return NULL;
}

static void s_waiter_finish(vg__tp_waiter_t *w, int err, vg_transport_msg_t *reply)
{
    w->err = err;
    w->reply = reply;
    w->done = true;
    pthread_cond_signal(&w->cv);
}

void vg__transport_complete_reply(vg_transport_t *t, const vg_transport_msg_t *m)
{
    pthread_mutex_lock(&t->req_mu);
    vg__tp_waiter_t *w = NULL;
    for (w = t->waiters[s_req_bucket(m->env.corr)]; w; w = w->next)
        if (w->corr == m->env.corr) break;
    /* a request to a provisional id (an address whose node id we did not
     * know) may be answered over the node's real connection */
    bool provisional =
        w && w->peer >= VG_TRANSPORT_PROVISIONAL_MIN && w->peer < VG_TRANSPORT_CLIENT_ID_MIN;
    if (w && (w->peer == m->peer || provisional)) {
        s_waiter_take(t, m->env.corr);
        s_waiter_finish(w, 0, vg_transport_msg_dup(m));
    } else {
        w = NULL;
    }
    pthread_mutex_unlock(&t->req_mu);
    if (!w) {
        vg_counter_add(&t->m.late_replies, 1);
        vg_debug(LOG, "late or stray reply corr %#llx type %s from peer %u, dropped",
                 (unsigned long long) m->env.corr, vg_msg_type_name(m->env.type), m->peer);
    }
}

void vg__transport_fail_request(vg_transport_t *t, uint64_t corr, int err)
{
    pthread_mutex_lock(&t->req_mu);
    vg__tp_waiter_t *w = s_waiter_take(t, corr);
    if (w) s_waiter_finish(w, err, NULL);
    pthread_mutex_unlock(&t->req_mu);
}

void vg__transport_fail_requests_of(vg_transport_t *t, uint32_t peer, int err)
{
    pthread_mutex_lock(&t->req_mu);
    for (int b = 0; b < VG__TP_REQ_BUCKETS; b++) {
        vg__tp_waiter_t **pp = &t->waiters[b];
        while (*pp) {
            vg__tp_waiter_t *w = *pp;
            if (!peer || w->peer == peer) {
                *pp = w->next;
                w->next = NULL;
                s_waiter_finish(w, err, NULL);
            } else {
                pp = &w->next;
            }
        }
    }
    pthread_mutex_unlock(&t->req_mu);
}

int vg_transport_request(vg_transport_t *t, uint32_t peer, const vg_env_t *env, const void *body,
                         size_t body_len, int timeout_ms, vg_transport_msg_t **reply_out)
{
    if (!reply_out || timeout_ms <= 0 || !env || vg__transport_on_io(t)) return VG_ERR_INVALID;
    *reply_out = NULL;
    if (!body || !body_len) return VG_ERR_INVALID;
    if (body_len > VG_FRAME_MAX) return VG_ERR_TOO_LARGE;
    vg_counter_add(&t->m.requests, 1);
    vg__tp_waiter_t w = {.peer = peer};
    s_cond_init_mono(&w.cv);

    pthread_mutex_lock(&t->req_mu);
    uint64_t seq = t->next_seq++ & 0x7fffffffu;
    w.corr = VG_TRANSPORT_CORR_REQ | ((uint64_t) t->cfg.self_id << 31) | seq;
    uint32_t b = s_req_bucket(w.corr);
    w.next = t->waiters[b];
    t->waiters[b] = &w;
    pthread_mutex_unlock(&t->req_mu);

    vg_env_t e = *env;
    e.corr = w.corr;
    uint8_t *copy = vg_malloc(body_len);
    memcpy(copy, body, body_len);
    vg__tp_item_t *it;
    uint64_t t0 = vg_now_ns();
    int err = s_item_new(&e, copy, body_len, &it);
    if (err) {
        vg_free(copy);
    } else {
        it->is_request = true;
        err = s_enqueue(t, peer, it);
        if (err) vg__transport_item_free(it);
    }

    struct timespec dl = s_deadline(timeout_ms);
    pthread_mutex_lock(&t->req_mu);
    if (err) {
        s_waiter_take(t, w.corr);
    } else {
        while (!w.done)
            if (pthread_cond_timedwait(&w.cv, &t->req_mu, &dl) == ETIMEDOUT) break;
        if (w.done) {
            err = w.err;
            *reply_out = w.reply;
        } else {
            s_waiter_take(t, w.corr);
            err = VG_ERR_TIMEOUT;
        }
    }
    pthread_mutex_unlock(&t->req_mu);
    pthread_cond_destroy(&w.cv);
    if (err == VG_ERR_TIMEOUT) vg_counter_add(&t->m.request_timeouts, 1);
    if (!err) vg_hist_observe_ns(&t->m.request_latency, vg_now_ns() - t0);
    return err;
}

/* ---- messages ----------------------------------------------------------- */

vg_transport_msg_t *vg_transport_msg_dup(const vg_transport_msg_t *m)
{
    vg_transport_msg_t *c = vg_malloc(sizeof *c + m->body_len);
    *c = *m;
    uint8_t *body = (uint8_t *) (c + 1);
    if (m->body_len) memcpy(body, m->body, m->body_len);
    c->body = body;
    return c;
}

void vg_transport_msg_destroy(vg_transport_msg_t **m_p)
{
    if (!m_p || !*m_p) return;
    vg_free(*m_p);
    *m_p = NULL;
}

/* ---- undeliverable ------------------------------------------------------ */

void vg__transport_item_fail(vg_transport_t *t, uint32_t peer, vg__tp_item_t *it, int err)
{
    vg_counter_add(&t->m.undeliverable, 1);
    if (it->is_request) {
        vg__transport_fail_request(t, it->env.corr, err);
    } else if (t->cfg.on_undeliverable) {
        vg_transport_msg_t m = {
            .peer = peer, .env = it->env, .body = it->body, .body_len = it->body_len};
        t->cfg.on_undeliverable(t->cfg.arg, &m, err);
    } else {
        vg_warn(LOG, "undeliverable %s corr %llu to peer %u: %s (no on_undeliverable)",
                vg_msg_type_name(it->env.type), (unsigned long long) it->env.corr, peer,
                vg_strerror(err));
    }
    vg__transport_item_free(it);
}

/* ---- observability ------------------------------------------------------ */

void vg_transport_stats(vg_transport_t *t, vg_transport_stats_t *o)
{
    memset(o, 0, sizeof *o);
    const vg__tp_metrics_t *m = &t->m;
    o->sent_msgs = vg_counter_get(&m->sent_msgs);
    o->sent_bytes = vg_counter_get(&m->sent_bytes);
    o->recv_msgs = vg_counter_get(&m->recv_msgs);
    o->recv_bytes = vg_counter_get(&m->recv_bytes);
    o->malformed = vg_counter_get(&m->malformed);
    o->unhandled = vg_counter_get(&m->unhandled);
    o->undeliverable = vg_counter_get(&m->undeliverable);
    o->queue_full = vg_counter_get(&m->queue_full);
    o->unreachable = vg_counter_get(&m->unreachable);
    o->requests = vg_counter_get(&m->requests);
    o->request_timeouts = vg_counter_get(&m->request_timeouts);
    o->late_replies = vg_counter_get(&m->late_replies);
    o->pings_sent = vg_counter_get(&m->pings_sent);
    o->pongs_sent = vg_counter_get(&m->pongs_sent);
    o->pings_recv = vg_counter_get(&m->pings_recv);
    o->pongs_recv = vg_counter_get(&m->pongs_recv);
    o->peer_up_events = vg_counter_get(&m->peer_up_events);
    o->peer_down_events = vg_counter_get(&m->peer_down_events);
    pthread_mutex_lock(&t->mu);
    o->peers = t->n_peers;
    o->peers_up = t->n_up;
    o->queued_msgs = t->queued_msgs;
    o->queued_bytes = t->queued_bytes;
    pthread_mutex_unlock(&t->mu);
}

void vg_transport_metrics(vg_transport_t *t, vg_prom_t *p)
{
    vg_transport_stats_t s;
    vg_transport_stats(t, &s);
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
#define C(field, name, help) \
    {"vg_transport_" name "_total", help, offsetof(vg_transport_stats_t, field)}
        C(sent_msgs, "sent_messages", "Messages handed to ZeroMQ (heartbeats included)"),
        C(sent_bytes, "sent_bytes", "Envelope and body bytes handed to ZeroMQ"),
        C(recv_msgs, "received_messages", "Well-formed messages received"),
        C(recv_bytes, "received_bytes", "Envelope and body bytes of well-formed messages"),
        C(malformed, "malformed", "Received messages dropped as malformed"),
        C(unhandled, "unhandled", "Well-formed messages of an unknown type or without handler"),
        C(undeliverable, "undeliverable", "Accepted messages handed back undelivered"),
        C(queue_full, "queue_full", "Sends refused because the peer's queue was full"),
        C(unreachable, "unreachable", "Sends refused because the peer is unknown or down"),
        C(requests, "requests", "Requests sent with vg_transport_request"),
        C(request_timeouts, "request_timeouts", "Requests that timed out"),
        C(late_replies, "late_replies", "Replies that arrived after their request ended"),
        C(pings_sent, "pings_sent", "Heartbeat PINGs sent"),
        C(pings_recv, "pings_received", "Heartbeat PINGs received"),
        C(peer_up_events, "peer_up_events", "Peers reported up"),
        C(peer_down_events, "peer_down_events", "Peers reported down"),
#undef C
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(counters); i++) {
        uint64_t v;
        memcpy(&v, (const char *) &s + counters[i].off, sizeof v);
        vg_prom_header(p, counters[i].name, "counter", counters[i].help);
        vg_prom_sample(p, counters[i].name, NULL, (double) v);
    }
    vg_prom_header(p, "vg_transport_peers", "gauge", "Peers known (connected or inbound)");
    vg_prom_sample(p, "vg_transport_peers", NULL, s.peers);
    vg_prom_header(p, "vg_transport_peers_up", "gauge", "Peers currently up");
    vg_prom_sample(p, "vg_transport_peers_up", NULL, s.peers_up);
    vg_prom_header(p, "vg_transport_queued_messages", "gauge", "Messages waiting to be sent");
    vg_prom_sample(p, "vg_transport_queued_messages", NULL, (double) s.queued_msgs);
    vg_prom_header(p, "vg_transport_queued_bytes", "gauge", "Body bytes waiting to be sent");
    vg_prom_sample(p, "vg_transport_queued_bytes", NULL, (double) s.queued_bytes);
    vg_prom_hist(p, "vg_transport_request_seconds", "vg_transport_request round trips",
                 &t->m.request_latency);

    vg_prom_header(p, "vg_transport_peer_up", "gauge", "1 if the peer is up");
    vg_prom_t rtt;
    vg_prom_init(&rtt);
    vg_prom_header(&rtt, "vg_transport_peer_rtt_seconds", "gauge", "Latest PING round trip");
    pthread_mutex_lock(&t->mu);
    for (int b = 0; b < VG__TP_BUCKETS; b++) {
        for (vg__tp_peer_t *q = t->buckets[b]; q; q = q->hnext) {
            char label[32];
            snprintf(label, sizeof label, "peer=\"%u\"", q->id);
            vg_prom_sample(p, "vg_transport_peer_up", label, q->state == VG_TRANSPORT_PEER_UP);
            vg_prom_sample(&rtt, "vg_transport_peer_rtt_seconds", label,
                           (double) atomic_load_explicit(&q->rtt_ns, memory_order_relaxed) / 1e9);
        }
    }
    pthread_mutex_unlock(&t->mu);
    vg_prom_printf(p, "%.*s", (int) rtt.len, rtt.buf ? rtt.buf : "");
    vg_prom_fini(&rtt);
}
