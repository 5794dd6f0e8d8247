/* bench_features.c: cost of vg_features_update + vg_detect_score per
 * transaction, for one hot user and for users spread over more state
 * than the caches hold (as on a shard worker). Usage: bench_features [n]. */
#include "vg_detect.h"
#include "vg_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_USERS 20000 /* 20000 x 1.6 KiB: well above L2 */
#define S_TXS   4096  /* pre-built transactions, reused cyclically */

static const char *const s_devices[] = {"iphone-1", "pixel-7", "web-chrome", "ipad-2"};
static const char *const s_countries[] = {"FR", "DE", "US", "GB"};

static void s_build(vg_tx_t *txs)
{
    srand(3);
    for (int i = 0; i < S_TXS; i++) {
        vg_tx_t *tx = &txs[i];
        vg_tx_init(tx);
        tx->amount = exp(3.5 + (rand() % 1000) / 700.0);
        tx->merchant_id = vg_str_c(s_devices[rand() % 4]);
        tx->device_id = vg_str_c(s_devices[rand() % 4]);
        tx->channel = vg_str_c("web");
        memcpy(tx->country, s_countries[rand() % 4], 3);
        if (rand() % 2) tx->lat = 48 + (rand() % 100) / 50.0, tx->lon = 2 + (rand() % 100) / 50.0;
    }
}

/* Runs n transactions over `users` states; returns ns per transaction. */
static double s_run(vg_user_state_t *states, int users, long n, vg_tx_t *txs)
{
    vg_features_config_t fcfg;
    vg_detect_config_t dcfg;
    vg_features_config_default(&fcfg);
    vg_detect_config_default(&dcfg);
    for (int u = 0; u < users; u++) vg_user_state_init(&states[u]);
    int64_t ts = 1700000000000LL;
    uint64_t rng = 1, anomalies = 0;
    uint64_t t0 = vg_now_ns();
    for (long i = 0; i < n; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        vg_tx_t *tx = &txs[i % S_TXS];
        tx->ts_ms = ts += 1 + (int64_t) (rng >> 58);
        vg_features_t f;
        vg_verdict_t v;
        vg_features_update(&states[(rng >> 20) % (uint64_t) users], tx, &fcfg, &f);
        vg_detect_score(&dcfg, &f, &v);
        anomalies += v.anomaly;
    }
    double ns = (double) (vg_now_ns() - t0) / (double) n;
    fprintf(stderr, "(%lu anomalies)\n", (unsigned long) anomalies);
    return ns;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    static vg_tx_t txs[S_TXS];
    vg_user_state_t *states = malloc(sizeof *states * S_USERS);
    if (!states) return 1;
    s_build(txs);
    printf("state %zu bytes\n", sizeof(vg_user_state_t));
    printf("1 user (hot):      %.0f ns/tx (features update + detect score)\n",
           s_run(states, 1, n, txs));
    printf("%d users (cold): %.0f ns/tx\n", S_USERS, s_run(states, S_USERS, n, txs));
    free(states);
    return 0;
}
