/* vg_transport.h: the message transport between nodes, and from gateways
 * and vigilctl to nodes: ZeroMQ ROUTER/DEALER over tcp carrying proto/'s
 * [envelope][body] frames, with heartbeats and failure detection, bounded
 * per-peer send queues (backpressure) and no silent drops. */
#ifndef VG_TRANSPORT_H
#define VG_TRANSPORT_H

#include "vg_metrics.h"
#include "vg_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Design, in short (details in vg_transport_internal.h):
 *
 * - One vg_transport_t per process. It owns one ZeroMQ context and ONE I/O
 *   thread that alone touches its sockets: a ROUTER bound on cfg.bind (peers
 *   that connect to us), and a DEALER per peer we vg_transport_connect() to.
 * - Peers are named by uint32 ids, 0 reserved. Nodes use 1 ..
 *   VG_TRANSPORT_CLIENT_ID_MIN - 1 (their node id); gateways, vigilctl and
 *   other clients use ids >= VG_TRANSPORT_CLIENT_ID_MIN (e.g.
 *   vg_transport_random_client_id()). The transport treats both alike.
 *   On the wire a peer's ZeroMQ routing id is 'V' + the id big-endian.
 * - A message to peer P goes through our DEALER to P if we connected to P,
 *   else through our ROUTER if P connected to us. Messages to one peer
 *   leave in send order (one path, one FIFO).
 * - Sends never block: each peer has a bounded FIFO drained by the I/O
 *   thread; a full FIFO is VG_ERR_FULL at once. While P's connection is not
 *   writable (ZeroMQ high-water mark reached, connection not up yet or
 *   re-connecting) messages wait in P's FIFO; when P is declared down (or
 *   disconnected, or the transport destroyed) every waiting message is
 *   handed back through on_undeliverable (requests: their caller gets the
 *   error). Nothing the transport accepted disappears unreported, except
 *   what ZeroMQ already took when the TCP connection dies: only a reply
 *   proves delivery, so requests carry a timeout.
 * - Liveness: every heartbeat_ms we PING every peer we know (through our
 *   DEALER, or our ROUTER for a peer that connected to us), so a backlog in
 *   one direction never hides a live peer; PING is answered with PONG
 *   (round-trip time); any well-formed message counts. A peer silent for
 *   dead_after_ms is DOWN (on_peer once), UP again when heard from.
 * - Received messages are checked (frame count, sizes against VG_ENV_MAX /
 *   VG_FRAME_MAX, routing id, envelope decode, known type) and malformed
 *   ones are counted and dropped with a logged reason. PING/PONG and
 *   replies to vg_transport_request() are consumed by the transport; an
 *   unknown type is answered ERROR(UNSUPPORTED); the rest go to on_msg.
 *   Bodies are not decoded here: the consumer decodes on its own thread
 *   (vg_msg_body_decode). */

/* Ids 0x7fff0000..0x7fffffff are provisional: a caller connects to an
 * address under one when it does not know the node id there yet (a seed
 * address). A reply to a request sent to a provisional id is accepted from
 * any peer (the node may answer over its own connection to us). */
#define VG_TRANSPORT_PROVISIONAL_MIN 0x7fff0000u

/* First id of the client range (gateways, vigilctl, tools). */
#define VG_TRANSPORT_CLIENT_ID_MIN 0x80000000u

/* Correlation ids with bit 63 set are reserved for vg_transport_request():
 * VG_TRANSPORT_CORR_REQ | (requester id << 31) | sequence. A message
 * carrying such a corr with this transport's id is a reply to one of its
 * requests and never reaches on_msg (a reply after the timeout is counted
 * in late_replies and dropped). A replier echoes the request's corr
 * unchanged; corrs chosen by callers for vg_transport_send() keep bit 63
 * clear. */
#define VG_TRANSPORT_CORR_REQ (1ull << 63)

typedef struct vg_transport vg_transport_t;

/* A message as the transport hands it up or back. */
typedef struct {
    uint32_t peer;       /* the sender (received) or destination (undeliverable) */
    vg_env_t env;        /* decoded envelope */
    const uint8_t *body; /* the body frame (msgpack), body_len >= 1 bytes */
    size_t body_len;
} vg_transport_msg_t;

typedef enum {
    VG_TRANSPORT_PEER_UNKNOWN = 0, /* no such peer */
    VG_TRANSPORT_PEER_CONNECTING,  /* connected to, never heard from yet */
    VG_TRANSPORT_PEER_UP,          /* heard from within dead_after_ms */
    VG_TRANSPORT_PEER_DOWN         /* silent for dead_after_ms */
} vg_transport_peer_state;

/* Callbacks run on the I/O thread, never concurrently with each other.
 * They must be short and must not block (every peer waits meanwhile); they
 * may call vg_transport_send*, the peer queries and stats, but not
 * vg_transport_request, connect, disconnect or destroy. */

/* A message for the application. m and m->body are borrowed: valid until
 * the callback returns (vg_transport_msg_dup keeps a copy). */
typedef void(vg_transport_msg_fn)(void *arg, const vg_transport_msg_t *m);

/* Peer peer became up (true) or down (false). Reported on change only: UP
 * on the first well-formed message of a new or down peer; DOWN once when
 * an up or connecting peer has been silent for dead_after_ms. */
typedef void(vg_transport_peer_fn)(void *arg, uint32_t peer, bool up);

/* A message vg_transport_send* accepted could not be delivered: err is
 * VG_ERR_UNREACHABLE (peer declared down while the message waited),
 * VG_ERR_CLOSED (peer disconnected, or the transport is being destroyed).
 * m (peer = destination, env and body as sent) is borrowed until the
 * callback returns: copy it to retry elsewhere. Not called for messages of
 * vg_transport_request (its caller gets the error). */
typedef void(vg_transport_undeliverable_fn)(void *arg, const vg_transport_msg_t *m, int err);

typedef struct {
    uint32_t self_id;              /* required, != 0: our routing id and PING src */
    const char *bind;              /* e.g. "tcp://127.0.0.1:7100"; port "*" = ephemeral
                                      (see vg_transport_endpoint); NULL = don't bind */
    uint32_t heartbeat_ms;         /* PING period; 0 = 500 */
    uint32_t dead_after_ms;        /* silence before DOWN; 0 = 3000; >= 2 * heartbeat_ms */
    uint32_t queue_cap;            /* messages waiting per peer; 0 = 10000 */
    size_t queue_max_bytes;        /* body bytes waiting over all peers; 0 = 256 MiB */
    uint32_t hwm;                  /* ZeroMQ SNDHWM/RCVHWM per connection; 0 = 1000 */
    uint32_t max_peers;            /* peers tracked (connected + inbound); 0 = 4096 */
    uint32_t linger_ms;            /* at destroy, time to flush what ZeroMQ holds; 0 = none */
    vg_transport_msg_fn *on_msg;   /* optional (else counted, dropped) */
    vg_transport_peer_fn *on_peer; /* optional */
    vg_transport_undeliverable_fn *on_undeliverable; /* optional (else counted, logged) */
    void *arg;                                       /* passed to every callback */
} vg_transport_config_t;

/* Counters since vg_transport_new (relaxed snapshot); heartbeats included
 * in the message/byte counts. */
typedef struct {
    uint64_t sent_msgs, sent_bytes; /* messages handed to ZeroMQ, bytes of env+body */
    uint64_t recv_msgs, recv_bytes; /* well-formed messages received */
    uint64_t malformed;             /* dropped: frames, routing id, sizes, envelope */
    uint64_t unhandled;             /* well-formed but unknown type or no on_msg */
    uint64_t undeliverable;         /* accepted, then handed back (or request failed) */
    uint64_t queue_full;            /* sends refused with VG_ERR_FULL */
    uint64_t unreachable;           /* sends refused with VG_ERR_UNREACHABLE */
    uint64_t requests, request_timeouts, late_replies;
    uint64_t pings_sent, pongs_sent, pings_recv, pongs_recv;
    uint64_t peer_up_events, peer_down_events;
    uint32_t peers, peers_up;           /* gauges */
    uint64_t queued_msgs, queued_bytes; /* gauges */
} vg_transport_stats_t;

typedef struct {
    vg_transport_peer_state state;
    bool outgoing;        /* we connected to it (vg_transport_connect) */
    bool inbound;         /* it connected to us (seen on our ROUTER) */
    int64_t last_seen_ms; /* ms since we last heard from it; -1 never */
    uint64_t rtt_us;      /* latest PING round trip; 0 none yet */
    uint32_t queued;      /* messages waiting in its FIFO */
} vg_transport_peer_info_t;

/* ---- lifecycle (owner thread) ---- */

/* Creates a transport, binds cfg->bind, starts the I/O thread. *out gets
 * it, owned by the caller. Returns 0, VG_ERR_INVALID (bad config or bind
 * address) or VG_ERR_IO (bind failed, e.g. address in use; ZeroMQ's error
 * is logged). On error *out is NULL. */
int vg_transport_new(const vg_transport_config_t *cfg, vg_transport_t **out);

/* Stops the I/O thread: every waiting message goes to on_undeliverable
 * with VG_ERR_CLOSED and every pending request returns VG_ERR_CLOSED (on
 * the I/O thread, before this returns); closes the sockets (ZeroMQ keeps
 * flushing for at most cfg.linger_ms), frees everything, clears *t_p.
 * NULL-safe. No other thread may use t during or after the call (wait for
 * your requesting threads first). Never from a callback. */
void vg_transport_destroy(vg_transport_t **t_p);

/* The bound endpoint with its actual port ("tcp://127.0.0.1:41234"), or
 * NULL when not bound. Valid as long as t. Any thread. */
const char *vg_transport_endpoint(const vg_transport_t *t);

/* cfg.self_id. Any thread. */
uint32_t vg_transport_id(const vg_transport_t *t);

/* A random id in the client range. Any thread. */
uint32_t vg_transport_random_client_id(void);

/* ---- peers (any thread but the callbacks, unless said otherwise) ---- */

/* Connects to peer (its ROUTER at endpoint, e.g. "tcp://10.0.0.2:7100"); ZeroMQ reconnects by
 * itself while it is down. The peer is CONNECTING until first heard from; sends to it are accepted
 * (they wait in its FIFO). A peer already known as inbound-only keeps its
 * FIFO and switches to the new connection. Blocks until the I/O thread did
 * it. Returns 0, VG_ERR_INVALID (peer 0 or self, bad endpoint: ZeroMQ's
 * error is logged), VG_ERR_EXISTS (already connected), VG_ERR_LIMIT
 * (max_peers) or VG_ERR_CLOSED. */
int vg_transport_connect(vg_transport_t *t, uint32_t peer, const char *endpoint);

/* Forgets peer: closes our connection to it; its waiting messages go to
 * on_undeliverable (VG_ERR_CLOSED), its pending requests return
 * VG_ERR_CLOSED; no on_peer is reported. If it talks to us again it comes
 * back as an inbound peer. Blocks until done. Returns 0, VG_ERR_NOT_FOUND
 * or VG_ERR_CLOSED. */
int vg_transport_disconnect(vg_transport_t *t, uint32_t peer);

/* Waits up to timeout_ms (< 0 forever) for peer to be UP. Returns 0,
 * VG_ERR_TIMEOUT or VG_ERR_CLOSED. Never from a callback. */
int vg_transport_wait_up(vg_transport_t *t, uint32_t peer, int timeout_ms);

/* True if peer is UP. Any thread, callbacks included. */
bool vg_transport_peer_alive(vg_transport_t *t, uint32_t peer);

/* Fills *out about peer. Returns 0 or VG_ERR_NOT_FOUND (then out->state is
 * VG_TRANSPORT_PEER_UNKNOWN). Any thread, callbacks included. */
int vg_transport_peer_info(vg_transport_t *t, uint32_t peer, vg_transport_peer_info_t *out);

/* ---- sending (any thread, callbacks included, unless said otherwise) ---- */

/* Queues one message for peer: the envelope env (its version is set to
 * VG_PROTO_VERSION; the type must be a known one) and body_len bytes of
 * encoded body, copied. Never blocks. Returns 0 (accepted: delivered, or
 * later reported through on_undeliverable), VG_ERR_INVALID (bad arguments,
 * unknown type, empty body), VG_ERR_TOO_LARGE (body > VG_FRAME_MAX),
 * VG_ERR_UNREACHABLE (unknown or DOWN peer), VG_ERR_FULL (the peer's FIFO
 * or the byte budget is full: retry later or shed load) or VG_ERR_CLOSED.
 * On error nothing was queued and no callback will follow. */
int vg_transport_send(vg_transport_t *t, uint32_t peer, const vg_env_t *env, const void *body,
                      size_t body_len);

/* vg_transport_send of m->env and the encoding of m's body. Also returns
 * VG_ERR_UNSUPPORTED when the body can't be encoded. */
int vg_transport_send_msg(vg_transport_t *t, uint32_t peer, const vg_msg_t *m);

/* Request/reply: sends env (its corr replaced by a fresh reserved one) and
 * body to peer, then waits up to timeout_ms (> 0) for the message from
 * peer carrying that corr. *reply_out gets it, owned by the caller (free
 * with vg_transport_msg_destroy). Returns 0, a vg_transport_send error,
 * VG_ERR_TIMEOUT, VG_ERR_UNREACHABLE (peer went down meanwhile: returns
 * then, not at the timeout), or VG_ERR_CLOSED (disconnect/destroy). A
 * reply's type is not checked (it may be ERROR or NOT_OWNER). Blocks: any
 * thread except the callbacks (VG_ERR_INVALID there). */
int vg_transport_request(vg_transport_t *t, uint32_t peer, const vg_env_t *env, const void *body,
                         size_t body_len, int timeout_ms, vg_transport_msg_t **reply_out);

/* ---- messages ---- */

/* A copy of m (one allocation, body included), owned by the caller. */
vg_transport_msg_t *vg_transport_msg_dup(const vg_transport_msg_t *m);

/* Frees a message from vg_transport_msg_dup or vg_transport_request and
 * clears *m_p. NULL-safe. Never on a callback's borrowed message. */
void vg_transport_msg_destroy(vg_transport_msg_t **m_p);

/* ---- observability (any thread) ---- */

void vg_transport_stats(vg_transport_t *t, vg_transport_stats_t *out);

/* Appends the vg_transport_* series (counters, gauges, the request latency
 * histogram, and per peer: up and rtt) in Prometheus text format. */
void vg_transport_metrics(vg_transport_t *t, vg_prom_t *p);

#endif
