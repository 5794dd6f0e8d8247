/* vg_transport_internal.h: what vg_transport.c (API side: queues, peer
 * table, requests, metrics) and vg_transport_io.c (the I/O thread, the only
 * code that includes zmq.h) share. No ZeroMQ type appears here. */
#ifndef VG_TRANSPORT_INTERNAL_H
#define VG_TRANSPORT_INTERNAL_H

#include "vg_transport.h"

#include <pthread.h>
#include <stdatomic.h>

/* Locking: t->mu guards the peer table (hash, lookups, peer->state and the
 * FIFOs), the command list, the counters of queued work and the flags
 * below it. t->req_mu guards the pending-request table. Never both at once,
 * never across a callback or a ZeroMQ call. Peers are created, removed and
 * freed only by the I/O thread; other threads find them by id under mu. */

#define VG__TP_BUCKETS     256 /* peer hash buckets */
#define VG__TP_REQ_BUCKETS 64  /* pending request buckets */

/* One queued message. */
typedef struct vg__tp_item {
    struct vg__tp_item *next;
    vg_env_t env;
    uint8_t env_len;
    uint8_t env_buf[VG_ENV_MAX];
    bool is_request; /* from vg_transport_request: failures complete its waiter */
    uint8_t *body;   /* vg_malloc'd; ownership moves to ZeroMQ when sent */
    size_t body_len;
} vg__tp_item_t;

typedef struct vg__tp_peer {
    uint32_t id;
    /* under t->mu */
    struct vg__tp_peer *hnext;
    vg__tp_item_t *qhead, *qtail; /* FIFO; the I/O thread detaches it while sending */
    uint32_t qlen;                /* FIFO length + items the I/O thread holds */
    size_t qbytes;
    vg_transport_peer_state state;
    bool outgoing, inbound;
    /* any thread, relaxed */
    _Atomic uint64_t last_seen_ns; /* 0 = never */
    _Atomic uint64_t rtt_ns;
    /* I/O thread only */
    uint64_t since_ns;   /* connect or (re)creation time, for never-seen peers */
    void *dealer;        /* our DEALER to it, NULL for an inbound-only peer */
    bool blocked;        /* its path refused the head item: wait for POLLOUT/retry */
    bool need_ping;      /* PING as soon as the DEALER becomes writable */
    bool dead;           /* removed; freed at the end of the I/O round */
    vg__tp_item_t *work; /* items detached from the FIFO for this round */
    uint32_t work_sent;  /* of which sent this round */
    size_t work_bytes;
    struct vg__tp_peer *grave_next;
} vg__tp_peer_t;

/* A thread blocked in vg_transport_request. */
typedef struct vg__tp_waiter {
    struct vg__tp_waiter *next;
    uint64_t corr;
    uint32_t peer;
    bool done;
    int err;
    vg_transport_msg_t *reply;
    pthread_cond_t cv;
} vg__tp_waiter_t;

/* connect/disconnect, run by the I/O thread for a blocked caller. */
typedef enum { VG__TP_CMD_CONNECT = 1, VG__TP_CMD_DISCONNECT } vg__tp_cmd_kind;

typedef struct vg__tp_cmd {
    struct vg__tp_cmd *next;
    vg__tp_cmd_kind kind;
    uint32_t peer;
    const char *endpoint;
    int result;
    bool done;
} vg__tp_cmd_t;

typedef struct {
    vg_counter_t sent_msgs, sent_bytes, recv_msgs, recv_bytes, malformed, unhandled, undeliverable,
        queue_full, unreachable, requests, request_timeouts, late_replies, pings_sent, pongs_sent,
        pings_recv, pongs_recv, peer_up_events, peer_down_events;
    vg_hist_t request_latency;
} vg__tp_metrics_t;

struct vg_transport {
    vg_transport_config_t cfg; /* defaults applied; bind copied */
    char *endpoint;            /* bound endpoint, set by the I/O thread before init_done */
    int wake_fd;               /* eventfd: wakes the I/O thread */
    pthread_t io_thread;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* peer state changes, command completion, init */
    vg__tp_peer_t *buckets[VG__TP_BUCKETS];
    uint32_t n_peers, n_up;
    size_t queued_bytes;
    uint64_t queued_msgs;
    vg__tp_cmd_t *cmds; /* LIFO is fine: each caller waits for its own */
    bool wake_pending;  /* the eventfd has been written since the I/O thread last looked */
    bool io_kick;       /* the I/O thread queued something itself: poll without waiting */
    bool stopping;
    bool init_done;
    int init_err;

    pthread_mutex_t req_mu;
    vg__tp_waiter_t *waiters[VG__TP_REQ_BUCKETS];
    uint64_t next_seq;

    vg__tp_metrics_t m;
};

/* I/O thread entry (vg_transport_io.c). Sets init_done/init_err under mu,
 * signals cv, runs until stopping. */
void *vg__transport_io_main(void *arg);

/* Peer table, under t->mu. */
vg__tp_peer_t *vg__transport_peer_find(vg_transport_t *t, uint32_t id);
void vg__transport_peer_link(vg_transport_t *t, vg__tp_peer_t *p);
void vg__transport_peer_unlink(vg_transport_t *t, vg__tp_peer_t *p);
/* Sets p->state, maintaining n_up and waking waiters. Under t->mu. */
void vg__transport_peer_set_state(vg_transport_t *t, vg__tp_peer_t *p, vg_transport_peer_state st);

/* Hands a reply to the waiter of m->env.corr if it still waits for it from
 * m->peer (copying m); else counts a late reply. Any thread but req_mu. */
void vg__transport_complete_reply(vg_transport_t *t, const vg_transport_msg_t *m);
/* Completes the waiter of corr (if still pending) with err. */
void vg__transport_fail_request(vg_transport_t *t, uint64_t corr, int err);
/* Completes every waiter for peer (peer 0: every waiter) with err. */
void vg__transport_fail_requests_of(vg_transport_t *t, uint32_t peer, int err);

/* Reports a queued item as undeliverable (waiter or on_undeliverable) and
 * frees it. I/O thread. */
void vg__transport_item_fail(vg_transport_t *t, uint32_t peer, vg__tp_item_t *it, int err);
void vg__transport_item_free(vg__tp_item_t *it);

/* True when called on t's I/O thread (which sets vg__transport_io_self). */
extern _Thread_local const vg_transport_t *vg__transport_io_self;
bool vg__transport_on_io(const vg_transport_t *t);

/* Routing id on the wire: 'V' + id big-endian. */
#define VG__TP_RID_LEN 5
static inline void vg__transport_rid(uint32_t id, uint8_t rid[VG__TP_RID_LEN])
{
    rid[0] = 'V';
    rid[1] = (uint8_t) (id >> 24);
    rid[2] = (uint8_t) (id >> 16);
    rid[3] = (uint8_t) (id >> 8);
    rid[4] = (uint8_t) id;
}

#endif
