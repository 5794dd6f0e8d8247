/* vg_transport_io.c: the transport's I/O thread, the only code that includes
 * zmq.h. One loop: poll the wake eventfd, the ROUTER and every DEALER; run
 * commands; receive and check messages; heartbeats and failure detection;
 * drain the per-peer FIFOs into the sockets, never blocking. */
#include "vg_transport_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define LOG             "transport"
#define RECV_BUDGET     256 /* messages read per socket per round: fairness */
#define ROUTER_RETRY_MS 2   /* a ROUTER has no per-peer POLLOUT: retry blocked peers */
#define CTRL_BODY_MAX   128 /* PING/PONG/ERROR bodies built by the transport */
#define MAX_FRAME_ZMQ   ((int64_t) VG_FRAME_MAX * 2) /* larger: ZeroMQ drops the connection */

typedef struct {
    vg_transport_t *t;
    void *ctx, *router;
    vg__tp_peer_t **peers; /* every live peer (the I/O thread's list) */
    size_t n_peers, cap_peers;
    vg__tp_peer_t *grave; /* removed this round, freed at its end */
    zmq_pollitem_t *items;
    vg__tp_peer_t **item_peer;
    size_t cap_items;
    uint64_t hb_ns, check_ns, dead_ns;
    uint64_t next_hb, next_check, router_retry;
    bool router_blocked;
    uint64_t now;
} io_t;

/* ---- errors at the border ------------------------------------------------- */

static int s_zerr(const char *what, const char *detail)
{
    int e = zmq_errno();
    vg_warn(LOG, "%s%s%s: %s", what, detail ? " " : "", detail ? detail : "", zmq_strerror(e));
    switch (e) {
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO: return VG_ERR_INVALID;
    case ETERM: return VG_ERR_CLOSED;
    case EMFILE: return VG_ERR_LIMIT;
    default: return VG_ERR_IO;
    }
}

static void s_malformed(io_t *io, uint32_t peer, const char *why, const char *detail)
{
    uint64_t n = atomic_fetch_add_explicit(&io->t->m.malformed.v, 1, memory_order_relaxed);
    if (n < 16 || (n & 1023) == 0) /* a garbage flood must not flood the log */
        vg_warn(LOG, "node %u dropped a malformed message from %s%u: %s%s%s (%llu so far)",
                io->t->cfg.self_id, peer ? "peer " : "unidentified peer ", peer, why,
                detail ? ": " : "", detail ? detail : "", (unsigned long long) n + 1);
}

/* ---- sockets -------------------------------------------------------------- */

static int s_opt_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

static int s_common_opts(io_t *io, void *s)
{
    const vg_transport_config_t *c = &io->t->cfg;
    int64_t maxmsg = MAX_FRAME_ZMQ;
    uint8_t rid[VG__TP_RID_LEN];
    vg__transport_rid(c->self_id, rid);
    int rc = 0;
    rc |= s_opt_int(s, ZMQ_LINGER, (int) c->linger_ms);
    rc |= s_opt_int(s, ZMQ_SNDHWM, (int) c->hwm);
    rc |= s_opt_int(s, ZMQ_RCVHWM, (int) c->hwm);
    rc |= zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    rc |= zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, sizeof rid);
    /* No ZMTP heartbeats (ZMQ_HEARTBEAT_*): a peer whose receive side is
     * back-pressured reads our ZMTP PINGs late, and ZeroMQ would then drop
     * a healthy but busy connection with everything queued on it. Liveness
     * is ours (PING/PONG); a half-open connection is harmless (sends to a
     * DOWN peer are refused) and resets on the first PING to the
     * restarted host. */
    return rc ? s_zerr("zmq_setsockopt", NULL) : 0;
}

static int s_init(io_t *io)
{
    vg_transport_t *t = io->t;
    io->ctx = zmq_ctx_new();
    if (!io->ctx) return s_zerr("zmq_ctx_new", NULL);
    io->router = zmq_socket(io->ctx, ZMQ_ROUTER);
    if (!io->router) return s_zerr("zmq_socket(ROUTER)", NULL);
    int err = s_common_opts(io, io->router);
    if (err) return err;
    /* ROUTER_MANDATORY: an unroutable send is EHOSTUNREACH, a full peer
     * EAGAIN, never a silent drop. HANDOVER: a restarted peer's new
     * connection takes its routing id over from the stale one. */
    if (s_opt_int(io->router, ZMQ_ROUTER_MANDATORY, 1) ||
        s_opt_int(io->router, ZMQ_ROUTER_HANDOVER, 1))
        return s_zerr("zmq_setsockopt(ROUTER)", NULL);
    if (t->cfg.bind) {
        if (zmq_bind(io->router, t->cfg.bind) != 0) {
            err = s_zerr("zmq_bind", t->cfg.bind);
            return err == VG_ERR_INVALID ? err : VG_ERR_IO;
        }
        char ep[256];
        size_t len = sizeof ep;
        if (zmq_getsockopt(io->router, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
            return s_zerr("zmq_getsockopt(LAST_ENDPOINT)", NULL);
        t->endpoint = vg_strndup(ep, strnlen(ep, sizeof ep));
        vg_info(LOG, "node %u listening on %s", t->cfg.self_id, t->endpoint);
    }
    return 0;
}

/* ---- peers ---------------------------------------------------------------- */

static vg__tp_peer_t *s_peer_new(io_t *io, uint32_t id)
{
    vg__tp_peer_t *p = VG_NEW(vg__tp_peer_t);
    p->id = id;
    p->state = VG_TRANSPORT_PEER_CONNECTING;
    p->since_ns = io->now;
    if (io->n_peers == io->cap_peers) {
        io->cap_peers = io->cap_peers ? io->cap_peers * 2 : 16;
        io->peers = vg_realloc(io->peers, io->cap_peers * sizeof *io->peers);
    }
    io->peers[io->n_peers++] = p;
    return p;
}

/* Takes p out of the I/O list (it must be unlinked from the table and its
 * FIFO failed already); freed at the end of the round. */
static void s_peer_bury(io_t *io, vg__tp_peer_t *p)
{
    for (size_t i = 0; i < io->n_peers; i++) {
        if (io->peers[i] == p) {
            io->peers[i] = io->peers[--io->n_peers];
            break;
        }
    }
    if (p->dealer) zmq_close(p->dealer);
    p->dealer = NULL;
    p->dead = true;
    p->grave_next = io->grave;
    io->grave = p;
}

static void s_free_grave(io_t *io)
{
    while (io->grave) {
        vg__tp_peer_t *p = io->grave;
        io->grave = p->grave_next;
        VG_DASSERT(!p->qhead && !p->work);
        vg_free(p);
    }
}

/* Detaches p's whole FIFO (under mu), adjusting the totals. */
static vg__tp_item_t *s_detach_fifo(vg_transport_t *t, vg__tp_peer_t *p)
{
    vg__tp_item_t *q = p->qhead;
    t->queued_msgs -= p->qlen;
    t->queued_bytes -= p->qbytes;
    p->qhead = p->qtail = NULL;
    p->qlen = 0;
    p->qbytes = 0;
    return q;
}

static void s_fail_items(vg_transport_t *t, uint32_t peer, vg__tp_item_t *q, int err)
{
    while (q) {
        vg__tp_item_t *next = q->next;
        vg__transport_item_fail(t, peer, q, err);
        q = next;
    }
}

static void s_peer_down(io_t *io, vg__tp_peer_t *p)
{
    vg_transport_t *t = io->t;
    pthread_mutex_lock(&t->mu);
    bool was_up = p->state == VG_TRANSPORT_PEER_UP;
    vg__transport_peer_set_state(t, p, VG_TRANSPORT_PEER_DOWN);
    vg__tp_item_t *q = s_detach_fifo(t, p);
    bool forget = !p->outgoing; /* inbound-only: it reconnects to us or not at all */
    if (forget) vg__transport_peer_unlink(t, p);
    pthread_mutex_unlock(&t->mu);
    vg_counter_add(&t->m.peer_down_events, 1);
    if (p->id >= VG_TRANSPORT_CLIENT_ID_MIN && forget) /* a gateway or vigilctl that left */
        vg_debug(LOG, "client %u gone: nothing received for %u ms", p->id, t->cfg.dead_after_ms);
    else
        vg_warn(LOG, "peer %u down: nothing received for %u ms%s", p->id, t->cfg.dead_after_ms,
                was_up ? "" : " (never heard from)");
    p->blocked = false;
    p->need_ping = true;
    if (t->cfg.on_peer) t->cfg.on_peer(t->cfg.arg, p->id, false);
    s_fail_items(t, p->id, q, VG_ERR_UNREACHABLE);
    vg__transport_fail_requests_of(t, p->id, VG_ERR_UNREACHABLE);
    if (forget) s_peer_bury(io, p);
}

static void s_mark_seen(io_t *io, vg__tp_peer_t *p)
{
    vg_transport_t *t = io->t;
    atomic_store_explicit(&p->last_seen_ns, io->now, memory_order_relaxed);
    if (p->state == VG_TRANSPORT_PEER_UP) return; /* only this thread changes it */
    pthread_mutex_lock(&t->mu);
    vg__transport_peer_set_state(t, p, VG_TRANSPORT_PEER_UP);
    pthread_mutex_unlock(&t->mu);
    vg_counter_add(&t->m.peer_up_events, 1);
    if (p->id >= VG_TRANSPORT_CLIENT_ID_MIN)
        vg_debug(LOG, "client %u up", p->id);
    else
        vg_info(LOG, "peer %u up", p->id);
    if (t->cfg.on_peer) t->cfg.on_peer(t->cfg.arg, p->id, true);
}

/* The peer behind a ROUTER routing id, created on first contact. */
static vg__tp_peer_t *s_peer_inbound(io_t *io, uint32_t id)
{
    vg_transport_t *t = io->t;
    pthread_mutex_lock(&t->mu);
    vg__tp_peer_t *p = vg__transport_peer_find(t, id);
    if (!p && t->n_peers < t->cfg.max_peers) {
        p = s_peer_new(io, id);
        vg__transport_peer_link(t, p);
    }
    if (p) p->inbound = true;
    pthread_mutex_unlock(&t->mu);
    return p;
}

/* ---- commands ------------------------------------------------------------- */

static int s_cmd_connect(io_t *io, uint32_t id, const char *endpoint)
{
    vg_transport_t *t = io->t;
    pthread_mutex_lock(&t->mu);
    vg__tp_peer_t *p = vg__transport_peer_find(t, id);
    int err = p && p->outgoing                       ? VG_ERR_EXISTS
              : !p && t->n_peers >= t->cfg.max_peers ? VG_ERR_LIMIT
                                                     : 0;
    pthread_mutex_unlock(&t->mu);
    if (err) return err;

    void *s = zmq_socket(io->ctx, ZMQ_DEALER);
    if (!s) return s_zerr("zmq_socket(DEALER)", NULL);
    err = s_common_opts(io, s);
    /* IMMEDIATE: queue only on a completed connection, so POLLOUT means
     * "connected and below the high-water mark". */
    if (!err && (s_opt_int(s, ZMQ_IMMEDIATE, 1) || s_opt_int(s, ZMQ_RECONNECT_IVL, 100) ||
                 s_opt_int(s, ZMQ_RECONNECT_IVL_MAX, 1000)))
        err = s_zerr("zmq_setsockopt(DEALER)", NULL);
    if (!err && zmq_connect(s, endpoint) != 0) {
        err = s_zerr("zmq_connect", endpoint);
        if (err != VG_ERR_LIMIT) err = VG_ERR_INVALID;
    }
    if (err) {
        zmq_close(s);
        return err;
    }
    pthread_mutex_lock(&t->mu);
    p = vg__transport_peer_find(t, id); /* only this thread adds peers: same as above */
    if (!p) {
        p = s_peer_new(io, id);
        vg__transport_peer_link(t, p);
    }
    p->outgoing = true;
    pthread_mutex_unlock(&t->mu);
    p->dealer = s;
    p->need_ping = true;
    p->blocked = false;
    vg_info(LOG, "connecting to peer %u at %s", id, endpoint);
    return 0;
}

static int s_cmd_disconnect(io_t *io, uint32_t id)
{
    vg_transport_t *t = io->t;
    pthread_mutex_lock(&t->mu);
    vg__tp_peer_t *p = vg__transport_peer_find(t, id);
    vg__tp_item_t *q = NULL;
    if (p) {
        vg__transport_peer_unlink(t, p);
        q = s_detach_fifo(t, p);
    }
    pthread_mutex_unlock(&t->mu);
    if (!p) return VG_ERR_NOT_FOUND;
    s_fail_items(t, id, q, VG_ERR_CLOSED);
    vg__transport_fail_requests_of(t, id, VG_ERR_CLOSED);
    s_peer_bury(io, p);
    vg_info(LOG, "disconnected from peer %u", id);
    return 0;
}

static void s_run_commands(io_t *io, vg__tp_cmd_t *cmds, bool stopping)
{
    for (vg__tp_cmd_t *c = cmds; c; c = c->next) {
        if (stopping)
            c->result = VG_ERR_CLOSED;
        else if (c->kind == VG__TP_CMD_CONNECT)
            c->result = s_cmd_connect(io, c->peer, c->endpoint);
        else
            c->result = s_cmd_disconnect(io, c->peer);
    }
    if (!cmds) return;
    pthread_mutex_lock(&io->t->mu);
    for (vg__tp_cmd_t *c = cmds, *next; c; c = next) {
        next = c->next; /* c lives on its caller's stack: read before done */
        c->done = true;
    }
    pthread_cond_broadcast(&io->t->cv);
    pthread_mutex_unlock(&io->t->mu);
}

/* ---- sending -------------------------------------------------------------- */

/* Sends a message the transport builds itself (PING, PONG, ERROR) on the
 * path given (rid != NULL: through the ROUTER). Best effort: a heartbeat
 * that finds the path full or down is skipped. Returns 0 or -1. */
static int s_send_ctrl(io_t *io, void *dealer, const uint8_t *rid, const vg_msg_t *m)
{
    uint8_t env[VG_ENV_MAX], body[CTRL_BODY_MAX];
    vg_mpw_t we, wb;
    vg_mpw_init_fixed(&we, env, sizeof env);
    vg_mpw_init_fixed(&wb, body, sizeof body);
    vg_env_encode(&m->env, &we);
    if (vg_msg_body_encode(m, &wb) || we.err || wb.err) return -1;
    void *s = rid ? io->router : dealer;
    if (rid && zmq_send(s, rid, VG__TP_RID_LEN, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return -1;
    if (zmq_send(s, env, we.len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return -1;
    if (zmq_send(s, body, wb.len, ZMQ_DONTWAIT) < 0) return -1;
    vg_counter_add(&io->t->m.sent_msgs, 1);
    vg_counter_add(&io->t->m.sent_bytes, we.len + wb.len);
    return 0;
}

static vg_env_t s_ctrl_env(io_t *io, int type, uint64_t corr)
{
    return (vg_env_t){.version = VG_PROTO_VERSION,
                      .type = (uint8_t) type,
                      .corr = corr,
                      .src = io->t->cfg.self_id};
}

/* PINGs p on its path: our DEALER to it, else our ROUTER (it connected to
 * us). Both sides ping, so each side's liveness depends on the other's
 * outgoing direction only: a backlog of our data in front of our PINGs
 * can't make us declare a busy but healthy peer down. */
static void s_ping(io_t *io, vg__tp_peer_t *p)
{
    vg_msg_t m = {.env = s_ctrl_env(io, VG_MSG_PING, 0)};
    m.body.ping.sent_ns = vg_now_ns();
    uint8_t rid[VG__TP_RID_LEN];
    vg__transport_rid(p->id, rid);
    if (s_send_ctrl(io, p->dealer, p->dealer ? NULL : rid, &m) == 0) {
        vg_counter_add(&io->t->m.pings_sent, 1);
        p->need_ping = false;
    }
}

static void s_free_body(void *data, void *hint)
{
    (void) hint;
    vg_free(data); /* may run on a ZeroMQ thread: free() is thread-safe */
}

/* Sends the item on p's path. Returns 0 (sent; the body now belongs to
 * ZeroMQ) or 1 (the path refused it: the item is untouched). */
static int s_send_item(io_t *io, vg__tp_peer_t *p, vg__tp_item_t *it)
{
    void *s = p->dealer ? p->dealer : io->router;
    if (!p->dealer) {
        uint8_t rid[VG__TP_RID_LEN];
        vg__transport_rid(p->id, rid);
        if (zmq_send(s, rid, sizeof rid, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            if (e != EAGAIN && e != EHOSTUNREACH) s_zerr("zmq_send(ROUTER)", NULL);
            return 1; /* EHOSTUNREACH: not connected now; EAGAIN: its HWM */
        }
    }
    if (zmq_send(s, it->env_buf, it->env_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() != EAGAIN) s_zerr("zmq_send", NULL);
        VG_ASSERT(p->dealer); /* a ROUTER that took the routing frame takes the rest */
        return 1;
    }
    zmq_msg_t body;
    int rc = zmq_msg_init_data(&body, it->body, it->body_len, s_free_body, NULL);
    VG_ASSERT(rc == 0); /* fails only on out-of-memory, which aborts in Vigil */
    it->body = NULL;    /* ZeroMQ frees it, on any outcome */
    if (zmq_msg_send(&body, s, ZMQ_DONTWAIT) < 0) {
        /* cannot happen once the first frame went (HWM counts whole messages) */
        s_zerr("zmq_msg_send(body)", NULL);
        zmq_msg_close(&body);
        vg_counter_add(&io->t->m.undeliverable, 1);
        return 0;
    }
    vg_counter_add(&io->t->m.sent_msgs, 1);
    vg_counter_add(&io->t->m.sent_bytes, it->env_len + it->body_len);
    return 0;
}

/* Moves every unblocked FIFO into the sockets until a path refuses. */
static void s_flush(io_t *io)
{
    vg_transport_t *t = io->t;
    bool any = false;
    pthread_mutex_lock(&t->mu);
    t->io_kick = false;
    for (size_t i = 0; i < io->n_peers; i++) {
        vg__tp_peer_t *p = io->peers[i];
        if (p->blocked || !p->qhead) continue;
        p->work = p->qhead;
        p->qhead = p->qtail = NULL;
        any = true;
    }
    pthread_mutex_unlock(&t->mu);
    if (!any) return;
    for (size_t i = 0; i < io->n_peers; i++) {
        vg__tp_peer_t *p = io->peers[i];
        p->work_sent = 0;
        p->work_bytes = 0;
        while (p->work) {
            vg__tp_item_t *it = p->work;
            if (s_send_item(io, p, it)) {
                p->blocked = true;
                if (!p->dealer && !io->router_blocked) {
                    io->router_blocked = true;
                    io->router_retry = io->now + ROUTER_RETRY_MS * 1000000ull;
                }
                break;
            }
            p->work = it->next;
            p->work_sent++;
            p->work_bytes += it->body_len;
            vg__transport_item_free(it);
        }
    }
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < io->n_peers; i++) {
        vg__tp_peer_t *p = io->peers[i];
        if (p->work) { /* the unsent rest goes back in front, in order */
            vg__tp_item_t *last = p->work;
            while (last->next) last = last->next;
            last->next = p->qhead;
            if (!p->qhead) p->qtail = last;
            p->qhead = p->work;
            p->work = NULL;
        }
        p->qlen -= p->work_sent;
        p->qbytes -= p->work_bytes;
        t->queued_msgs -= p->work_sent;
        t->queued_bytes -= p->work_bytes;
        p->work_sent = 0;
        p->work_bytes = 0;
    }
    pthread_mutex_unlock(&t->mu);
}

/* ---- receiving ------------------------------------------------------------ */

typedef struct {
    zmq_msg_t f[4]; /* the first three frames; [3] scratch for extra ones */
    int n;          /* frames in the message */
} frames_t;

static void s_frames_close(frames_t *fr)
{
    for (int i = 0; i < 4; i++) zmq_msg_close(&fr->f[i]);
}

/* Reads one whole message. Returns false when none is waiting. */
static bool s_recv_frames(void *s, frames_t *fr)
{
    for (int i = 0; i < 4; i++) zmq_msg_init(&fr->f[i]);
    fr->n = 0;
    for (;;) {
        int slot = fr->n < 3 ? fr->n : 3;
        if (slot == 3) {
            zmq_msg_close(&fr->f[3]);
            zmq_msg_init(&fr->f[3]);
        }
        if (zmq_msg_recv(&fr->f[slot], s, ZMQ_DONTWAIT) < 0) {
            if (zmq_errno() != EAGAIN) s_zerr("zmq_msg_recv", NULL);
            if (fr->n == 0) {
                s_frames_close(fr);
                return false;
            }
            break; /* parts of one message arrive together: not reached */
        }
        fr->n++;
        if (!zmq_msg_more(&fr->f[slot])) break;
    }
    return true;
}

static void s_reply_unsupported(io_t *io, void *dealer, const uint8_t *rid, const vg_env_t *env)
{
    char text[64];
    snprintf(text, sizeof text, "unknown message type 0x%02x", env->type);
    vg_msg_t m = {.env = s_ctrl_env(io, VG_MSG_ERROR, env->corr)};
    m.env.shard = env->shard;
    m.env.epoch = env->epoch;
    m.env.trace = env->trace;
    m.body.error.code = VG_ERR_UNSUPPORTED;
    m.body.error.message = vg_str_c(text);
    s_send_ctrl(io, dealer, rid, &m);
}

/* PING and PONG are the transport's own: decode, answer, measure. */
static void s_heartbeat(io_t *io, vg__tp_peer_t *p, const uint8_t *rid, const vg_transport_msg_t *m)
{
    vg_msg_t msg = {.env = m->env};
    vg_arena_t arena = VG_ARENA_INIT;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    int err = vg_msg_body_decode(m->body, m->body_len, &msg, &arena, &perr);
    vg_arena_fini(&arena); /* PING/PONG bodies allocate nothing */
    if (err) {
        char why[300];
        s_malformed(io, p->id, "bad heartbeat body", vg_perr_str(&perr, why, sizeof why));
        return;
    }
    if (m->env.type == VG_MSG_PING) {
        vg_counter_add(&io->t->m.pings_recv, 1);
        vg_msg_t pong = {.env = s_ctrl_env(io, VG_MSG_PONG, m->env.corr)};
        pong.env.trace = m->env.trace;
        pong.body.pong.sent_ns = msg.body.ping.sent_ns;
        if (s_send_ctrl(io, rid ? NULL : p->dealer, rid, &pong) == 0)
            vg_counter_add(&io->t->m.pongs_sent, 1);
    } else {
        vg_counter_add(&io->t->m.pongs_recv, 1);
        uint64_t sent = msg.body.pong.sent_ns, now = vg_now_ns();
        if (sent && sent <= now)
            atomic_store_explicit(&p->rtt_ns, now - sent, memory_order_relaxed);
    }
}

/* One message from peer id (p when it came on our DEALER to it; NULL when
 * it came on the ROUTER, rid then set). */
static void s_handle(io_t *io, vg__tp_peer_t *p, uint32_t id, const uint8_t *rid, zmq_msg_t *envf,
                     zmq_msg_t *bodyf)
{
    vg_transport_t *t = io->t;
    size_t env_len = zmq_msg_size(envf), body_len = zmq_msg_size(bodyf);
    char why[300];
    if (env_len > VG_ENV_MAX) {
        snprintf(why, sizeof why, "%zu bytes > %d", env_len, VG_ENV_MAX);
        s_malformed(io, id, "envelope too large", why);
        return;
    }
    if (body_len == 0) {
        s_malformed(io, id, "empty body frame", NULL);
        return;
    }
    if (body_len > VG_FRAME_MAX) {
        snprintf(why, sizeof why, "%zu bytes > %u", body_len, VG_FRAME_MAX);
        s_malformed(io, id, "body too large", why);
        return;
    }
    vg_transport_msg_t m = {.peer = id, .body = zmq_msg_data(bodyf), .body_len = body_len};
    vg_perr_t perr;
    vg_perr_clear(&perr);
    if (vg_env_decode(zmq_msg_data(envf), env_len, &m.env, &perr)) {
        s_malformed(io, id, "bad envelope", vg_perr_str(&perr, why, sizeof why));
        return;
    }
    if (!p) p = s_peer_inbound(io, id);
    if (!p || p->dead) {
        vg_counter_add(&t->m.unhandled, 1);
        vg_warn(LOG, "message from peer %u dropped: peer table full (%u)", id, t->cfg.max_peers);
        return;
    }
    vg_counter_add(&t->m.recv_msgs, 1);
    vg_counter_add(&t->m.recv_bytes, env_len + body_len);
    s_mark_seen(io, p);

    uint64_t corr = m.env.corr;
    if (m.env.type == VG_MSG_PING || m.env.type == VG_MSG_PONG) {
        s_heartbeat(io, p, rid, &m);
    } else if (!vg_msg_type_known(m.env.type)) {
        vg_counter_add(&t->m.unhandled, 1);
        vg_warn(LOG, "unknown message type 0x%02x from peer %u: answered ERROR(UNSUPPORTED)",
                m.env.type, id);
        s_reply_unsupported(io, rid ? NULL : p->dealer, rid, &m.env);
    } else if ((corr & VG_TRANSPORT_CORR_REQ) && (uint32_t) (corr >> 31) == t->cfg.self_id) {
        vg__transport_complete_reply(t, &m);
    } else if (t->cfg.on_msg) {
        t->cfg.on_msg(t->cfg.arg, &m);
    } else {
        vg_counter_add(&t->m.unhandled, 1);
    }
}

static void s_recv_router(io_t *io)
{
    for (int k = 0; k < RECV_BUDGET; k++) {
        frames_t fr;
        if (!s_recv_frames(io->router, &fr)) return;
        uint32_t id = 0;
        const uint8_t *rid = zmq_msg_data(&fr.f[0]);
        if (zmq_msg_size(&fr.f[0]) == VG__TP_RID_LEN && rid[0] == 'V')
            id =
                (uint32_t) rid[1] << 24 | (uint32_t) rid[2] << 16 | (uint32_t) rid[3] << 8 | rid[4];
        if (!id) {
            char why[64];
            snprintf(why, sizeof why, "%zu bytes, first 0x%02x, %d frames", zmq_msg_size(&fr.f[0]),
                     zmq_msg_size(&fr.f[0]) ? rid[0] : 0, fr.n);
            /* an anonymous client, or what was left in a stale connection
             * when a reconnect took its routing id over (ROUTER_HANDOVER) */
            s_malformed(io, 0, "routing id is not a Vigil peer id", why);
        } else if (fr.n != 3) {
            char why[32];
            snprintf(why, sizeof why, "%d frames, expected 2", fr.n - 1);
            s_malformed(io, id, "wrong frame count", why);
        } else {
            s_handle(io, NULL, id, rid, &fr.f[1], &fr.f[2]);
        }
        s_frames_close(&fr);
    }
}

static void s_recv_dealer(io_t *io, vg__tp_peer_t *p)
{
    for (int k = 0; k < RECV_BUDGET && !p->dead; k++) {
        frames_t fr;
        if (!s_recv_frames(p->dealer, &fr)) return;
        if (fr.n != 2) {
            char why[32];
            snprintf(why, sizeof why, "%d frames, expected 2", fr.n);
            s_malformed(io, p->id, "wrong frame count", why);
        } else {
            s_handle(io, p, p->id, NULL, &fr.f[0], &fr.f[1]);
        }
        s_frames_close(&fr);
    }
}

/* ---- timers --------------------------------------------------------------- */

static void s_timers(io_t *io)
{
    if (io->now >= io->next_hb) {
        io->next_hb = io->now + io->hb_ns;
        for (size_t i = 0; i < io->n_peers; i++) s_ping(io, io->peers[i]);
    }
    if (io->now >= io->next_check) {
        /* wake again at the earliest deadline, so DOWN is reported
         * dead_after_ms after the last message, not a tick later */
        io->next_check = io->now + io->check_ns;
        for (size_t i = io->n_peers; i-- > 0;) { /* backwards: s_peer_down may bury */
            vg__tp_peer_t *p = io->peers[i];
            if (p->state == VG_TRANSPORT_PEER_DOWN) continue;
            uint64_t seen = atomic_load_explicit(&p->last_seen_ns, memory_order_relaxed);
            uint64_t deadline = (seen ? seen : p->since_ns) + io->dead_ns;
            if (io->now >= deadline)
                s_peer_down(io, p);
            else if (deadline < io->next_check)
                io->next_check = deadline;
        }
    }
    if (io->router_blocked && io->now >= io->router_retry) {
        io->router_blocked = false;
        for (size_t i = 0; i < io->n_peers; i++)
            if (!io->peers[i]->dealer) io->peers[i]->blocked = false;
    }
}

static long s_poll_timeout(io_t *io)
{
    uint64_t next = io->next_hb < io->next_check ? io->next_hb : io->next_check;
    if (io->router_blocked && io->router_retry < next) next = io->router_retry;
    pthread_mutex_lock(&io->t->mu);
    bool kick = io->t->io_kick;
    pthread_mutex_unlock(&io->t->mu);
    uint64_t now = vg_now_ns();
    if (kick || next <= now) return 0;
    return (long) ((next - now + 999999) / 1000000);
}

/* ---- the loop ------------------------------------------------------------- */

static size_t s_build_items(io_t *io)
{
    size_t n = 2 + io->n_peers;
    if (n > io->cap_items) {
        io->cap_items = n * 2;
        io->items = vg_realloc(io->items, io->cap_items * sizeof *io->items);
        io->item_peer = vg_realloc(io->item_peer, io->cap_items * sizeof *io->item_peer);
    }
    io->items[0] = (zmq_pollitem_t){.fd = io->t->wake_fd, .events = ZMQ_POLLIN};
    io->items[1] = (zmq_pollitem_t){.socket = io->router, .events = ZMQ_POLLIN};
    n = 2;
    for (size_t i = 0; i < io->n_peers; i++) {
        vg__tp_peer_t *p = io->peers[i];
        if (!p->dealer) continue;
        short ev = ZMQ_POLLIN;
        if (p->blocked || p->need_ping) ev |= ZMQ_POLLOUT;
        io->item_peer[n] = p;
        io->items[n++] = (zmq_pollitem_t){.socket = p->dealer, .events = ev};
    }
    return n;
}

/* One round; returns false once the transport is stopping. */
static bool s_round(io_t *io)
{
    vg_transport_t *t = io->t;
    size_t n = s_build_items(io);
    if (zmq_poll(io->items, (int) n, s_poll_timeout(io)) < 0 && zmq_errno() != EINTR) {
        s_zerr("zmq_poll", NULL);
        usleep(1000);
    }
    io->now = vg_now_ns();
    if (io->items[0].revents & ZMQ_POLLIN) {
        uint64_t v;
        ssize_t r = read(t->wake_fd, &v, sizeof v);
        (void) r;
    }
    pthread_mutex_lock(&t->mu);
    vg__tp_cmd_t *cmds = t->cmds;
    t->cmds = NULL;
    bool stopping = t->stopping;
    t->wake_pending = false;
    pthread_mutex_unlock(&t->mu);
    s_run_commands(io, cmds, stopping);
    if (stopping) return false;

    if (io->items[1].revents & ZMQ_POLLIN) s_recv_router(io);
    for (size_t i = 2; i < n; i++) {
        vg__tp_peer_t *p = io->item_peer[i];
        if (p->dead) continue;
        if (io->items[i].revents & ZMQ_POLLIN) s_recv_dealer(io, p);
        if (p->dead || !(io->items[i].revents & ZMQ_POLLOUT)) continue;
        p->blocked = false;
        if (p->need_ping) s_ping(io, p);
    }
    io->now = vg_now_ns();
    s_timers(io);
    s_flush(io);
    s_free_grave(io);
    return true;
}

static void s_shutdown(io_t *io)
{
    vg_transport_t *t = io->t;
    while (io->n_peers) {
        vg__tp_peer_t *p = io->peers[io->n_peers - 1];
        pthread_mutex_lock(&t->mu);
        vg__transport_peer_unlink(t, p);
        vg__tp_item_t *q = s_detach_fifo(t, p);
        pthread_mutex_unlock(&t->mu);
        s_fail_items(t, p->id, q, VG_ERR_CLOSED);
        s_peer_bury(io, p);
    }
    vg__transport_fail_requests_of(t, 0, VG_ERR_CLOSED);
    s_free_grave(io);
    if (io->router) zmq_close(io->router);
    if (io->ctx) zmq_ctx_term(io->ctx); /* waits at most linger_ms for pending output */
    vg_free(io->peers);
    vg_free(io->items);
    vg_free(io->item_peer);
}

void *vg__transport_io_main(void *arg)
{
    io_t io = {.t = arg};
    vg_transport_t *t = io.t;
    vg__transport_io_self = t;
    io.now = vg_now_ns();
    io.hb_ns = (uint64_t) t->cfg.heartbeat_ms * 1000000u;
    io.dead_ns = (uint64_t) t->cfg.dead_after_ms * 1000000u;
    io.check_ns = io.hb_ns / 2;
    if (io.check_ns < 5000000u) io.check_ns = 5000000u;
    if (io.check_ns > 250000000u) io.check_ns = 250000000u;
    io.next_hb = io.now + io.hb_ns;
    io.next_check = io.now + io.check_ns;

    int err = s_init(&io);
    pthread_mutex_lock(&t->mu);
    t->init_err = err;
    t->init_done = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (!err)
        while (s_round(&io)) {
        }
    s_shutdown(&io);
    return NULL;
}
