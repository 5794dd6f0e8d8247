/* bench_transport.c: two transports in one process over tcp loopback: RTT
 * of 1-tx TX_BATCH -> VERDICT_BATCH requests, one-way TX_BATCH(500)
 * throughput, pipelined TX_BATCH(500) -> VERDICT_BATCH(500) (decoded and
 * encoded on the I/O thread). "BENCH <name> <value> <unit>"; arg: scale. */
#include "vg_err.h"
#include "vg_log.h"
#include "vg_time.h"
#include "vg_transport.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    vg_transport_t *t;
    bool echo; /* reply VERDICT_BATCH to TX_BATCH (decode + encode) */
    atomic_ullong n_tx_batches, n_verdict_batches;
} bench_node_t;

static void s_reply(bench_node_t *n, const vg_transport_msg_t *m)
{
    vg_msg_t req = {.env = m->env};
    vg_arena_t arena = VG_ARENA_INIT;
    if (vg_msg_body_decode(m->body, m->body_len, &req, &arena, NULL) == 0) {
        uint32_t k = req.body.tx_batch.txs.n;
        vg_verdict_t *vs = vg_arena_calloc(&arena, k ? k : 1, sizeof *vs);
        for (uint32_t i = 0; i < k; i++) {
            vs[i].id = req.body.tx_batch.txs.items[i].id;
            vs[i].score = 0.1;
        }
        vg_msg_t rep = {.env = m->env};
        rep.env.type = VG_MSG_VERDICT_BATCH;
        rep.body.verdict_batch.verdicts = (vg_verdict_list_t){k, vs};
        /* never spin on FULL here: this thread is the one draining the FIFO */
        int err = vg_transport_send_msg(n->t, m->peer, &rep);
        if (err) {
            fprintf(stderr, "bench_transport: reply: %s\n", vg_strerror(err));
            abort();
        }
    }
    vg_arena_fini(&arena);
}

static void s_on_msg(void *arg, const vg_transport_msg_t *m)
{
    bench_node_t *n = arg;
    if (m->env.type == VG_MSG_TX_BATCH) {
        atomic_fetch_add_explicit(&n->n_tx_batches, 1, memory_order_relaxed);
        if (n->echo) s_reply(n, m);
    } else if (m->env.type == VG_MSG_VERDICT_BATCH) {
        atomic_fetch_add_explicit(&n->n_verdict_batches, 1, memory_order_relaxed);
    }
}

/* A TX_BATCH body of n realistic transactions. */
static void s_batch(vg_mpw_t *w, int n)
{
    static char ids[4096][24], users[4096][16];
    vg_tx_t *txs = calloc((size_t) n, sizeof *txs);
    for (int i = 0; i < n; i++) {
        vg_tx_t *tx = &txs[i];
        vg_tx_init(tx);
        snprintf(ids[i], sizeof ids[i], "tx-%08d", i);
        snprintf(users[i], sizeof users[i], "u-%d", i % 97);
        tx->id = vg_str_c(ids[i]);
        tx->user_id = vg_str_c(users[i]);
        tx->amount = 10.0 + i;
        memcpy(tx->currency, "EUR", 4);
        memcpy(tx->country, "DE", 3);
        tx->ts_ms = 1764000000000LL + i;
        tx->ingest_ms = tx->ts_ms + 3;
        tx->merchant_id = VG_STR_LIT("m-1234");
        tx->merchant_category = VG_STR_LIT("5411");
        tx->channel = VG_STR_LIT("web");
        tx->device_id = VG_STR_LIT("d-42");
        tx->ip = VG_STR_LIT("192.0.2.1");
    }
    vg_msg_t m = {.env = {.version = VG_PROTO_VERSION, .type = VG_MSG_TX_BATCH}};
    m.body.tx_batch.txs = (vg_tx_list_t){(uint32_t) n, txs};
    vg_mpw_reset(w);
    if (vg_msg_body_encode(&m, w) || w->err) abort();
    free(txs);
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static void s_wait_count(atomic_ullong *c, uint64_t n)
{
    uint64_t dl = vg_now_ns() + 120ull * 1000000000u;
    while (atomic_load(c) < n && vg_now_ns() < dl) usleep(50);
    if (atomic_load(c) < n) {
        fprintf(stderr, "bench_transport: timed out waiting for %llu messages\n",
                (unsigned long long) n);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (scale <= 0) scale = 1.0;
    vg_log_set_level(VG_LOG_WARN);
    bench_node_t a = {0}, b = {.echo = true};
    vg_transport_config_t cb = {
        .self_id = 2, .bind = "tcp://127.0.0.1:*", .on_msg = s_on_msg, .arg = &b};
    vg_transport_config_t ca = {
        .self_id = VG_TRANSPORT_CLIENT_ID_MIN + 1, .on_msg = s_on_msg, .arg = &a};
    if (vg_transport_new(&cb, &b.t) || vg_transport_new(&ca, &a.t)) return 1;
    if (vg_transport_connect(a.t, 2, vg_transport_endpoint(b.t)) ||
        vg_transport_wait_up(a.t, 2, 5000))
        return 1;
    vg_mpw_t w;
    vg_mpw_init(&w);

    /* 1. round trip: one 1-transaction request at a time */
    int n_rtt = (int) (20000 * scale);
    uint64_t *lat = calloc((size_t) n_rtt, sizeof *lat);
    s_batch(&w, 1);
    vg_env_t env = {.version = VG_PROTO_VERSION, .type = VG_MSG_TX_BATCH, .shard = 1};
    for (int i = -1000; i < n_rtt; i++) { /* 1000 warm-up rounds */
        vg_transport_msg_t *r = NULL;
        uint64_t t0 = vg_now_ns();
        if (vg_transport_request(a.t, 2, &env, w.buf, w.len, 5000, &r)) return 1;
        if (i >= 0) lat[i] = vg_now_ns() - t0;
        vg_transport_msg_destroy(&r);
    }
    qsort(lat, (size_t) n_rtt, sizeof *lat, s_cmp_u64);
    printf("BENCH transport_rtt_p50 %.1f us\n", (double) lat[n_rtt / 2] / 1e3);
    printf("BENCH transport_rtt_p99 %.1f us\n", (double) lat[(size_t) (n_rtt * 0.99)] / 1e3);
    free(lat);

    /* 2. one way: TX_BATCH(500) as fast as the queue accepts them */
    b.echo = false;
    s_batch(&w, 500);
    uint64_t n_batches = (uint64_t) (4000 * scale), full = 0;
    uint64_t base = atomic_load(&b.n_tx_batches);
    uint64_t t0 = vg_now_ns();
    for (uint64_t i = 0; i < n_batches;) {
        env.corr = i;
        int err = vg_transport_send(a.t, 2, &env, w.buf, w.len);
        if (err == VG_ERR_FULL) {
            full++;
            sched_yield();
            continue;
        }
        if (err) return 1;
        i++;
    }
    s_wait_count(&b.n_tx_batches, base + n_batches);
    double s = (double) (vg_now_ns() - t0) / 1e9;
    printf("BENCH transport_batch500_oneway %.0f msg/s\n", (double) n_batches / s);
    printf("BENCH transport_batch500_oneway_tx %.0f tx/s\n", (double) n_batches * 500 / s);
    printf("BENCH transport_batch500_oneway_bw %.1f MB/s\n",
           (double) n_batches * (double) w.len / s / 1e6);
    printf("BENCH transport_batch500_body %zu bytes\n", w.len);
    fprintf(stderr, "one way: %llu sends refused FULL and retried\n", (unsigned long long) full);

    /* 3. pipelined request/reply, 16 in flight; b decodes each batch and
     * encodes 500 verdicts on its I/O thread (the upper bound per thread) */
    b.echo = true;
    uint64_t n_rr = (uint64_t) (2000 * scale), window = 16;
    base = atomic_load(&a.n_verdict_batches);
    t0 = vg_now_ns();
    for (uint64_t i = 0; i < n_rr;) {
        if (i - (atomic_load(&a.n_verdict_batches) - base) >= window) {
            sched_yield();
            continue;
        }
        env.corr = i;
        int err = vg_transport_send(a.t, 2, &env, w.buf, w.len);
        if (err == VG_ERR_FULL) continue;
        if (err) return 1;
        i++;
    }
    s_wait_count(&a.n_verdict_batches, base + n_rr);
    s = (double) (vg_now_ns() - t0) / 1e9;
    printf("BENCH transport_rr_batch500 %.0f req/s\n", (double) n_rr / s);
    printf("BENCH transport_rr_batch500_tx %.0f tx/s\n", (double) n_rr * 500 / s);

    vg_mpw_fini(&w);
    vg_transport_destroy(&a.t);
    vg_transport_destroy(&b.t);
    return 0;
}
