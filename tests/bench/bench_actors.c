/* bench_actors.c: actor messaging throughput between two workers: a
 * producer actor on worker 0 streams to a consumer on worker 1, batched
 * (chains of 256 through vg_rt_send_chain) and one vg_rt_send per message,
 * with credit-based flow control; then ping-pong round-trip latency.
 * Prints "BENCH <name> <value> <unit>" lines. Usage: bench_actors [scale]. */
#include "vg_actor.h"
#include "vg_err.h"
#include "vg_time.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { T_GO = VG_AMSG_USER, T_MORE, T_DATA, T_ACK, T_PING, T_PONG };

#define ACK_EVERY 16384u          /* consumer acks every this many messages */
#define WINDOW    (4 * ACK_EVERY) /* producer's credit */
#define TURN      64              /* sends per producer turn before it yields */

typedef struct {
    vg_addr_t peer;
    uint64_t total, sent, acked, received;
    uint32_t batch; /* messages per chain; 1 = vg_rt_send */
    atomic_int done;
    uint64_t end_ns;
    size_t heap_quarter, heap_end; /* heap in use at 1/4 and at the end */
} pc_state_t;

static void send_one_batch(vg_actor_t *self, pc_state_t *st)
{
    uint32_t n = st->batch;
    if (n > st->total - st->sent) n = (uint32_t) (st->total - st->sent);
    vg_rt_t *rt = vg_actor_rt(self);
    if (st->batch == 1) {
        vg_amsg_t *m = vg_amsg_new(T_DATA);
        m->to = st->peer;
        if (vg_rt_send(rt, &m) != VG_OK) abort();
    } else {
        vg_amsg_t *head = vg_amsg_new(T_DATA), *tail = head;
        head->to = st->peer;
        for (uint32_t i = 1; i < n; i++) {
            vg_amsg_t *m = vg_amsg_new(T_DATA);
            m->to = st->peer;
            tail->next = m;
            tail = m;
        }
        if (vg_rt_send_chain(rt, st->peer, head, tail, n) != VG_OK) abort();
    }
    st->sent += n;
}

/* Sends while credit lasts, TURN sends per turn; T_MORE re-enters. */
static void pump(vg_actor_t *self, vg_amsg_t **msg_p)
{
    pc_state_t *st = vg_actor_state(self);
    int turns = 0;
    while (st->sent < st->total && st->sent - st->acked < WINDOW && turns++ < TURN)
        send_one_batch(self, st);
    if (st->sent < st->total && st->sent - st->acked < WINDOW) {
        (*msg_p)->type = T_MORE;
        (*msg_p)->to = vg_actor_addr(self);
        vg_rt_send(vg_actor_rt(self), msg_p);
    }
}

static void on_ack(vg_actor_t *self, vg_amsg_t **msg_p)
{
    pc_state_t *st = vg_actor_state(self);
    int was_blocked = st->sent - st->acked >= WINDOW;
    st->acked = (*msg_p)->arg[0];
    if (was_blocked) pump(self, msg_p);
}

static void on_data(vg_actor_t *self, vg_amsg_t **msg_p)
{
    pc_state_t *st = vg_actor_state(self);
    uint64_t n = ++st->received;
    if (n == st->total / 4) st->heap_quarter = mallinfo2().uordblks;
    if (n == st->total) {
        st->end_ns = vg_now_ns();
        st->heap_end = mallinfo2().uordblks;
        atomic_store(&st->done, 1);
    }
    if (n % ACK_EVERY == 0) {
        vg_amsg_t *m = *msg_p; /* reuse the message as the ack */
        m->type = T_ACK;
        m->to = st->peer;
        m->arg[0] = n;
        vg_rt_send(vg_actor_rt(self), msg_p);
    }
}

static void on_ping(vg_actor_t *self, vg_amsg_t **msg_p)
{
    pc_state_t *st = vg_actor_state(self);
    (*msg_p)->type = T_PONG;
    (*msg_p)->to = st->peer;
    vg_rt_send(vg_actor_rt(self), msg_p);
}

static void on_pong(vg_actor_t *self, vg_amsg_t **msg_p)
{
    pc_state_t *st = vg_actor_state(self);
    if (++st->received >= st->total) {
        st->end_ns = vg_now_ns();
        atomic_store(&st->done, 1);
        return;
    }
    (*msg_p)->type = T_PING;
    (*msg_p)->to = st->peer;
    vg_rt_send(vg_actor_rt(self), msg_p);
}

static const vg_actor_handler_t s_prod_h[] = {
    {T_GO, pump}, {T_MORE, pump}, {T_ACK, on_ack}, {T_PONG, on_pong}};
static const vg_actor_handler_t s_cons_h[] = {{T_DATA, on_data}, {T_PING, on_ping}};

/* Runs one measurement: the producer (worker 0) starts on T_GO (or T_PONG
 * for ping-pong); returns the elapsed seconds until the last message and,
 * for streams, the heap growth over the last three quarters in *growth. */
static double run(uint64_t total, uint32_t batch, int pingpong, long long *growth)
{
    vg_rt_config_t cfg = {.workers = 2, .node_id = 1};
    vg_rt_t *rt = vg_rt_new(&cfg);
    pc_state_t prod = {.total = total, .batch = batch}, cons = {.total = total};
    vg_actor_def_t dp = {
        .name = "producer", .handlers = s_prod_h, .n_handlers = 4, .state = &prod, .worker = 0};
    vg_actor_def_t dc = {
        .name = "consumer", .handlers = s_cons_h, .n_handlers = 2, .state = &cons, .worker = 1};
    vg_addr_t p, c;
    if (vg_rt_spawn(rt, &dp, &p) || vg_rt_spawn(rt, &dc, &c) || vg_rt_start(rt)) abort();
    prod.peer = c;
    cons.peer = p;
    pc_state_t *last = pingpong ? &prod : &cons;
    vg_amsg_t *go = vg_amsg_new(pingpong ? T_PONG : T_GO);
    go->to = p;
    uint64_t t0 = vg_now_ns();
    if (vg_rt_send(rt, &go) != VG_OK) abort();
    while (!atomic_load(&last->done)) usleep(1000);
    double secs = (double) (last->end_ns - t0) / 1e9;
    if (growth) *growth = (long long) cons.heap_end - (long long) cons.heap_quarter;
    if (vg_rt_stop(rt, 5000) != VG_OK) abort();
    vg_rt_destroy(&rt);
    return secs;
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    uint64_t n_batched = (uint64_t) (40e6 * scale), n_single = (uint64_t) (10e6 * scale);
    uint64_t n_pp = (uint64_t) (200e3 * scale);
    printf("actor messaging, 2 workers (producer on worker 0, consumer on worker 1)\n");

    /* The pool grows only when messages in flight reach a new peak, which
     * the producer's credit bounds; a first run warms it, the second is
     * measured (heap in use at 1/4 and at the end of the stream). */
    long long growth;
    double s = run(n_batched, 256, 0, &growth);
    printf("batched (warm-up run): %.3f s, heap growth from 1/4 to the end: %lld bytes\n", s,
           growth);
    s = run(n_batched, 256, 0, &growth);
    printf("batched: %llu msgs in chains of 256: %.3f s; heap growth in steady state (from "
           "1/4 to the end): %lld bytes\n",
           (unsigned long long) n_batched, s, growth);
    printf("BENCH actors_batched_msgs_per_s %.0f msg/s\n", (double) n_batched / s);

    s = run(n_single, 1, 0, &growth);
    printf("unbatched: %llu msgs, one vg_rt_send each: %.3f s; steady-state heap growth: %lld "
           "bytes\n",
           (unsigned long long) n_single, s, growth);
    printf("BENCH actors_unbatched_msgs_per_s %.0f msg/s\n", (double) n_single / s);

    s = run(n_pp, 1, 1, NULL);
    printf("ping-pong: %llu round trips: %.3f s\n", (unsigned long long) n_pp, s);
    printf("BENCH actors_pingpong_rtt_ns %.0f ns\n", s * 1e9 / (double) n_pp);
    return 0;
}
