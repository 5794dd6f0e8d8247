/* bench_iforest.c: Isolation Forest figures on one core.
 * 1. Training from a 1M-transaction replay: vigil-loadgen (next to this
 *    binary) writes N transactions (--dry-run, not timed) into a temp
 *    file; then, timed, exactly what vigil-train --data does: read + parse
 *    + replay through the node's feature code, train 100 trees / psi 256.
 * 2. Scoring: ns per transaction with that model on the replayed rows
 *    (realistic feature rows, in file order), through vg_iforest_score and
 *    through vg_model_score_features (the node's one call).
 * Prints "BENCH <name> <value> <unit>" lines (ops/bench.sh).
 * usage: bench_iforest [--count N] [--loadgen PATH] */
#include "vg_iforest.h"
#include "vg_mem.h"
#include "vg_model.h"
#include "vg_replay.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TARGET_SCORE_NS 2000.0
#define TARGET_TRAIN_S  60.0

static const char *const s_features[] = {
    "log_amount", "amount_to_median", "count_10m",  "count_1h",    "secs_since_prev",
    "hour_prob",  "new_merchant",     "new_device", "new_country", "speed_kmh",
};
#define N_FEATURES (sizeof s_features / sizeof s_features[0])

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void s_loadgen_path(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(out, cap, "vigil-loadgen");
        return;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    snprintf(out, cap, "%s/vigil-loadgen", self);
}

static volatile double s_sink;

int main(int argc, char **argv)
{
    long count = 1000000;
    char loadgen[PATH_MAX];
    s_loadgen_path(loadgen, sizeof loadgen);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--count"))
            count = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--loadgen"))
            snprintf(loadgen, sizeof loadgen, "%s", argv[i + 1]);
    }
    if (access(loadgen, X_OK) != 0) {
        fprintf(stderr, "bench_iforest: %s not found (build vigil-loadgen)\n", loadgen);
        return 1;
    }
    char dir[] = "/tmp/bench_iforest_XXXXXX";
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    char path[PATH_MAX + 64], cmd[3 * PATH_MAX];
    snprintf(path, sizeof path, "%s/tx.ndjson", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' --dry-run --quiet --count %ld --users %ld --history-days 0 > '%s'", loadgen,
             count, count / 100 > 0 ? count / 100 : 1, path);
    printf("generating %ld transactions with vigil-loadgen (not timed)...\n", count);
    fflush(stdout);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_iforest: %s failed\n", cmd);
        return 1;
    }

    /* ---- training from the replay ---- */
    uint8_t idx[N_FEATURES];
    for (size_t i = 0; i < N_FEATURES; i++)
        idx[i] = (uint8_t) vg_model_feature_index(s_features[i], strlen(s_features[i]));
    vg_replay_opts_t ro = {.features = idx, .n_features = N_FEATURES};
    vg_features_config_default(&ro.fcfg);
    vg_replay_t rp;
    char err[512];
    double t0 = s_now();
    if (vg_replay_file(path, &ro, &rp, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
    double t1 = s_now();
    vg_iforest_params_t p = {100, 256, 1, s_features};
    vg_iforest_t *f = NULL;
    if (vg_iforest_train(rp.x, rp.rows, rp.d, &p, &f, err, sizeof err))
        return fprintf(stderr, "%s\n", err), 1;
    double t2 = s_now();
    unlink(path);
    rmdir(dir);
    printf("replay (read + parse + features): %zu rows in %.2f s (%.0f rows/s)\n", rp.rows, t1 - t0,
           rp.rows / (t1 - t0));
    printf("train (100 trees, psi 256): %.3f s\n", t2 - t1);
    printf("training from a %ld-transaction replay: %.2f s (target <= %.0f s)\n", count, t2 - t0,
           TARGET_TRAIN_S);
    printf("BENCH iforest_train_replay_%ldk %.2f s\n", count / 1000, t2 - t0);

    /* ---- scoring ---- */
    vg_model_t *m = NULL;
    if (vg_model_new(&f, s_features, N_FEATURES, NULL, &m, err, sizeof err))
        return fprintf(stderr, "%s\n", err), 1;
    const vg_iforest_t *forest = vg_model_forest(m);
    size_t n = rp.rows;
    double sum = 0;
    t0 = s_now();
    for (size_t i = 0; i < n; i++) sum += vg_iforest_score(forest, rp.x + i * rp.d);
    t1 = s_now();
    s_sink = sum;
    double ns_row = (t1 - t0) * 1e9 / n;
    /* the node's call: a feature snapshot in, the model picks its inputs */
    size_t nf = n < 200000 ? n : 200000;
    vg_features_t *snap = vg_calloc(nf, sizeof *snap);
    for (size_t i = 0; i < nf; i++) {
        double *a = (double *) &snap[i];
        for (size_t k = 0; k < N_FEATURES; k++) a[idx[k]] = rp.x[i * rp.d + k];
    }
    sum = 0;
    t0 = s_now();
    for (int rep = 0; rep < 3; rep++)
        for (size_t i = 0; i < nf; i++) sum += vg_model_score_features(m, &snap[i]);
    t1 = s_now();
    s_sink = sum;
    double ns_feat = (t1 - t0) * 1e9 / (3.0 * nf);
    printf("model: %zu nodes in 100 trees, max depth %u, %zu bytes of nodes\n",
           vg_iforest_node_count(forest), vg_iforest_max_depth(forest),
           vg_iforest_node_count(forest) * 16);
    printf("scoring, 100 trees, psi 256, %zu replayed rows: %.0f ns per row, %.0f ns per "
           "vg_model_score_features (target <= %.0f ns)\n",
           n, ns_row, ns_feat, TARGET_SCORE_NS);
    printf("BENCH iforest_score_row %.0f ns\n", ns_row);
    printf("BENCH iforest_score_features %.0f ns\n", ns_feat);
    free(snap);
    vg_model_destroy(&m);
    vg_replay_fini(&rp);
    return 0;
}
