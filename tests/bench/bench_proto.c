/* bench_proto.c: codec throughput on one core. Prints "BENCH name value
 * unit" lines (ops/bench.sh compares them with the previous run).
 *   msgpack: encode + decode (with validation) of a full transaction
 *   json:    parse + validate of a realistic JSON transaction */
#include "proto_samples.h"
#include "vg_time.h"
#include "vg_tx_json.h"

#include <stdio.h>
#include <stdlib.h>

static double s_secs(uint64_t t0)
{
    return (double) (vg_now_ns() - t0) / 1e9;
}

static void s_msgpack_single(void)
{
    vg_tx_t tx, back;
    sample_tx_full(&tx);
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_perr_t err;
    const int n = 3000000;
    uint64_t t0 = vg_now_ns(), sink = 0;
    for (int i = 0; i < n; i++) {
        vg_mpw_reset(&w);
        tx.ts_ms++;
        vg_tx_encode(&tx, &w);
        vg_mpr_t r;
        vg_mpr_init(&r, w.buf, w.len);
        if (vg_tx_decode(&r, &back, &err)) abort();
        sink += (uint64_t) back.ts_ms;
    }
    double s = s_secs(t0);
    printf("msgpack encode+decode+validate, full transaction (%zu bytes): %.0f ns/tx (sink %llu)\n",
           w.len, s * 1e9 / n, (unsigned long long) (sink & 1));
    printf("BENCH msgpack_tx_roundtrip %.0f tx/s\n", n / s);
    vg_mpw_fini(&w);
}

static void s_msgpack_batch(void)
{
    enum { BATCH = 500 };
    vg_tx_t *txs = malloc(BATCH * sizeof *txs);
    for (int i = 0; i < BATCH; i++) (i & 1 ? sample_tx_full : sample_tx_min)(&txs[i]);
    vg_msg_t m = {.env = sample_env(VG_MSG_TX_BATCH, 1)}, back;
    m.body.tx_batch.txs = (vg_tx_list_t){BATCH, txs};
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_arena_t a = VG_ARENA_INIT;
    vg_perr_t err;
    const int rounds = 6000;
    uint64_t t0 = vg_now_ns();
    for (int i = 0; i < rounds; i++) {
        vg_mpw_reset(&w);
        vg_msg_body_encode(&m, &w);
        back.env = m.env;
        vg_arena_reset(&a);
        if (vg_msg_body_decode(w.buf, w.len, &back, &a, &err)) abort();
    }
    double s = s_secs(t0);
    printf("TX_BATCH of %d (%zu bytes) encode+decode+validate: %.1f us/batch\n", BATCH, w.len,
           s * 1e6 / rounds);
    printf("BENCH msgpack_batch_roundtrip %.0f tx/s\n", (double) rounds * BATCH / s);
    vg_mpw_fini(&w);
    vg_arena_fini(&a);
    free(txs);
}

static const char *s_json =
    "{\"id\":\"tx-000000123456\",\"user_id\":\"user-0004711\",\"amount\":129.95,"
    "\"currency\":\"EUR\",\"timestamp\":\"2026-11-24T10:15:30.250Z\",\"merchant_id\":\"m-8812\","
    "\"merchant_category\":\"5411\",\"country\":\"DE\",\"channel\":\"pos\",\"device_id\":"
    "\"dev-19ab2\",\"ip\":\"192.0.2.44\",\"lat\":52.5200,\"lon\":13.4050,"
    "\"attributes\":{\"tier\":\"gold\",\"age_days\":412}}";

static int s_count(void *arg, uint32_t index, const vg_tx_t *tx, const vg_perr_t *err)
{
    (void) index;
    (void) tx;
    if (err) {
        fprintf(stderr, "bench json: %s: %s\n", err->field, err->reason);
        abort();
    }
    (*(uint64_t *) arg)++;
    return 0;
}

static void s_json_single(void)
{
    size_t len = strlen(s_json);
    vg_tx_t tx;
    vg_perr_t err;
    const int n = 2000000;
    uint64_t t0 = vg_now_ns();
    for (int i = 0; i < n; i++)
        if (vg_tx_from_json(s_json, len, &tx, NULL, &err)) abort();
    double s = s_secs(t0);
    printf("JSON parse+validate, one %zu-byte transaction: %.0f ns/tx (%.0f MB/s)\n", len,
           s * 1e9 / n, (double) n * (double) len / s / 1e6);
    printf("BENCH json_tx_parse %.0f tx/s\n", n / s);
}

static void s_json_array(void)
{
    enum { BATCH = 500 };
    size_t one = strlen(s_json), cap = BATCH * (one + 1) + 2, off = 0;
    char *body = malloc(cap);
    body[off++] = '[';
    for (int i = 0; i < BATCH; i++) {
        if (i) body[off++] = ',';
        memcpy(body + off, s_json, one);
        off += one;
    }
    body[off++] = ']';
    vg_arena_t a = VG_ARENA_INIT;
    vg_txj_result_t res;
    vg_perr_t err;
    uint64_t count = 0;
    const int rounds = 4000;
    uint64_t t0 = vg_now_ns();
    for (int i = 0; i < rounds; i++) {
        vg_arena_reset(&a);
        if (vg_tx_json_each(body, off, NULL, &a, s_count, &count, &res, &err)) abort();
    }
    double s = s_secs(t0);
    printf("JSON array of %d transactions: %.1f us/request\n", BATCH, s * 1e6 / rounds);
    printf("BENCH json_array_parse %.0f tx/s\n", (double) count / s);
    vg_arena_fini(&a);
    free(body);
}

int main(void)
{
    printf("== proto codecs (one core) ==\n");
    s_msgpack_single();
    s_msgpack_batch();
    s_json_single();
    s_json_array();
    return 0;
}
