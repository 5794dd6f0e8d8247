/* test_iforest.c: the Isolation Forest (c(n), path length on a hand-built
 * tree, missing values, height limit, determinism, score range, an
 * obvious outlier), the hardened forest decoder, the model artifact
 * (round trip, every byte flipped, every truncation, bad magic, version,
 * unknown feature, schema hash mismatch) and the ranking metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_err.h"
#include "vg_eval.h"
#include "vg_iforest.h"
#include "vg_mem.h"
#include "vg_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static uint64_t s_rng = 88172645463325252ull;

static double s_unit(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (double) (s_rng >> 11) * 0x1.0p-53;
}

static double s_gauss(void)
{
    double u = s_unit() + 1e-12, v = s_unit();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* n rows of d standard normals. */
static double *s_cloud(size_t n, uint32_t d)
{
    double *x = vg_malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n * d; i++) x[i] = s_gauss();
    return x;
}

static vg_iforest_t *s_train(const double *x, size_t n, uint32_t d, uint32_t trees, uint32_t sample,
                             uint64_t seed)
{
    vg_iforest_params_t p = {trees, sample, seed, NULL};
    vg_iforest_t *f = NULL;
    char err[256];
    assert_int_equal(vg_iforest_train(x, n, d, &p, &f, err, sizeof err), 0);
    assert_non_null(f);
    return f;
}

static void s_encode_forest(const vg_iforest_t *f, vg_mpw_t *w)
{
    vg_mpw_init(w);
    vg_iforest_encode(f, w);
    assert_int_equal(w->err, 0);
}

/* ---- c(n), path length, missing values ---------------------------------- */

static void test_c_values(void **state)
{
    (void) state;
    assert_float_equal(vg_iforest_c(0), 0, 0);
    assert_float_equal(vg_iforest_c(1), 0, 0);
    assert_float_equal(vg_iforest_c(2), 1, 0);
    /* 2 (ln 2 + 0.5772156649) - 2 * 2 / 3 */
    assert_float_equal(vg_iforest_c(3), 2 * (log(2) + 0.5772156649) - 4.0 / 3, 1e-12);
    assert_float_equal(vg_iforest_c(256), 10.244770920116851, 1e-9);
    assert_float_equal(vg_iforest_c(256), 2 * (log(255) + 0.5772156649) - 2.0 * 255 / 256, 1e-12);
}

/*        [f0 <= 5, NaN left]
 *        /                 \
 *   leaf(1)           [f1 <= 2, NaN right]
 *                     /            \
 *                 leaf(3)        leaf(4)          sample 8 */
static vg_iforest_t *s_hand_tree(void)
{
    vg_iforest_node_spec_t n[5] = {
        {.feature = 0, .threshold = 5, .right = 2, .nan_left = 1},
        {.feature = -1, .size = 1},
        {.feature = 1, .threshold = 2, .right = 4, .nan_left = 0},
        {.feature = -1, .size = 3},
        {.feature = -1, .size = 4},
    };
    vg_iforest_t *f = NULL;
    char err[256];
    assert_int_equal(vg_iforest_from_spec(2, 8, n, 5, &f, err, sizeof err), 0);
    return f;
}

static void test_path_length_hand_tree(void **state)
{
    (void) state;
    vg_iforest_t *f = s_hand_tree();
    assert_int_equal(vg_iforest_max_depth(f), 2);
    double c3 = vg_iforest_c(3), c4 = vg_iforest_c(4), c8 = vg_iforest_c(8);
    double a[2] = {0, 0}, b[2] = {10, 0}, c[2] = {10, 5}, edge[2] = {5, 2};
    assert_float_equal(vg_iforest_path_length(f, a), 1.0, 1e-12);
    assert_float_equal(vg_iforest_path_length(f, b), 2.0 + c3, 1e-12);
    assert_float_equal(vg_iforest_path_length(f, c), 2.0 + c4, 1e-12);
    assert_float_equal(vg_iforest_path_length(f, edge), 1.0, 1e-12); /* x <= p goes left */
    assert_float_equal(vg_iforest_score(f, a), exp2(-1.0 / c8), 1e-12);
    assert_float_equal(vg_iforest_score(f, c), exp2(-(2.0 + c4) / c8), 1e-12);
    /* missing values follow each node's recorded side */
    double m1[2] = {NAN, 0}, m2[2] = {10, NAN}, m3[2] = {NAN, NAN};
    assert_float_equal(vg_iforest_path_length(f, m1), 1.0, 1e-12);
    assert_float_equal(vg_iforest_path_length(f, m2), 2.0 + c4, 1e-12);
    assert_float_equal(vg_iforest_path_length(f, m3), 1.0, 1e-12);
    double out[3];
    double rows[6] = {0, 0, 10, 0, 10, 5};
    vg_iforest_score_many(f, rows, 3, out);
    assert_float_equal(out[1], exp2(-(2.0 + c3) / c8), 1e-12);
    vg_iforest_destroy(&f);
    assert_null(f);
    vg_iforest_destroy(&f); /* NULL is fine */
    vg_iforest_destroy(NULL);
}

static void test_missing_values_in_training(void **state)
{
    (void) state;
    size_t n = 500;
    double *x = s_cloud(n, 3);
    for (size_t i = 0; i < n; i += 3) x[i * 3 + 1] = NAN; /* a third missing in column 1 */
    for (size_t i = 0; i < n; i++) x[i * 3 + 2] = NAN;    /* column 2 always missing */
    vg_iforest_t *f = s_train(x, n, 3, 50, 128, 7);
    double row[3] = {0, NAN, NAN}, far[3] = {8, NAN, NAN};
    double s_in = vg_iforest_score(f, row), s_out = vg_iforest_score(f, far);
    assert_true(s_in > 0 && s_in < 0.55);
    assert_true(s_out > s_in + 0.15);
    vg_iforest_destroy(&f);
    free(x);
}

static void test_height_limit(void **state)
{
    (void) state;
    size_t n = 4000;
    double *x = s_cloud(n, 4);
    uint32_t psi[] = {256, 100, 2, 4000};
    uint32_t lim[] = {8, 7, 1, 12};
    for (size_t i = 0; i < VG_ARRAY_LEN(psi); i++) {
        vg_iforest_t *f = s_train(x, n, 4, 20, psi[i], 3);
        assert_int_equal(vg_iforest_sample(f), psi[i]);
        assert_true(vg_iforest_max_depth(f) <= lim[i]);
        assert_true(vg_iforest_node_count(f) <= 20 * (2 * (size_t) psi[i] - 1));
        vg_iforest_destroy(&f);
    }
    /* the sample is clipped to n */
    vg_iforest_t *f = s_train(x, 50, 4, 5, 256, 3);
    assert_int_equal(vg_iforest_sample(f), 50);
    assert_true(vg_iforest_max_depth(f) <= 6);
    vg_iforest_destroy(&f);
    /* a hand-built chain of depth 3: fine for psi 5 (limit 3), not for psi 4 (limit 2) */
    vg_iforest_node_spec_t chain[7] = {
        {.feature = 0, .threshold = 1, .right = 2},
        {.feature = -1, .size = 1},
        {.feature = 0, .threshold = 2, .right = 4},
        {.feature = -1, .size = 1},
        {.feature = 0, .threshold = 3, .right = 6},
        {.feature = -1, .size = 1},
        {.feature = -1, .size = 1},
    };
    char err[256];
    chain[6].size = 2;
    assert_int_equal(vg_iforest_from_spec(1, 5, chain, 7, &f, err, sizeof err), 0);
    assert_int_equal(vg_iforest_max_depth(f), 3);
    double row[1] = {2.5};
    assert_float_equal(vg_iforest_path_length(f, row), 3.0, 1e-12);
    row[0] = 9;
    assert_float_equal(vg_iforest_path_length(f, row), 3.0 + 1.0, 1e-12);
    vg_iforest_destroy(&f);
    chain[6].size = 1;
    assert_int_equal(vg_iforest_from_spec(1, 4, chain, 7, &f, err, sizeof err), VG_ERR_PARSE);
    assert_non_null(strstr(err, "deeper than the height limit 2"));
    assert_null(f);
    free(x);
}

static void test_determinism(void **state)
{
    (void) state;
    size_t n = 3000;
    double *x = s_cloud(n, 5);
    vg_iforest_t *a = s_train(x, n, 5, 100, 256, 42), *b = s_train(x, n, 5, 100, 256, 42);
    vg_iforest_t *c = s_train(x, n, 5, 100, 256, 43);
    vg_mpw_t wa, wb, wc;
    s_encode_forest(a, &wa);
    s_encode_forest(b, &wb);
    s_encode_forest(c, &wc);
    assert_int_equal(wa.len, wb.len);
    assert_memory_equal(wa.buf, wb.buf, wa.len);
    assert_true(wa.len != wc.len || memcmp(wa.buf, wc.buf, wa.len) != 0);
    for (size_t i = 0; i < 100; i++)
        assert_true(vg_iforest_score(a, x + i * 5) == vg_iforest_score(b, x + i * 5));
    vg_mpw_fini(&wa);
    vg_mpw_fini(&wb);
    vg_mpw_fini(&wc);
    vg_iforest_destroy(&a);
    vg_iforest_destroy(&b);
    vg_iforest_destroy(&c);
    free(x);
}

static void test_scores_and_outlier(void **state)
{
    (void) state;
    size_t n = 1001;
    double *x = s_cloud(n, 2);
    x[1000 * 2] = 10; /* one obvious outlier */
    x[1000 * 2 + 1] = 10;
    vg_iforest_t *f = s_train(x, n, 2, 100, 256, 1);
    double *s = vg_malloc(n * sizeof *s), max_in = 0, sum_in = 0;
    vg_iforest_score_many(f, x, n, s);
    for (size_t i = 0; i < n; i++) assert_true(s[i] > 0 && s[i] <= 1);
    for (size_t i = 0; i < 1000; i++) {
        max_in = fmax(max_in, s[i]);
        sum_in += s[i];
    }
    assert_true(s[1000] > max_in);
    assert_true(s[1000] > 0.7);
    assert_true(sum_in / 1000 < 0.5);
    double centre[2] = {0, 0};
    assert_true(vg_iforest_score(f, centre) < 0.45);
    vg_iforest_destroy(&f);
    free(s);
    free(x);
}

static void test_train_rejects_bad_input(void **state)
{
    (void) state;
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    vg_iforest_params_t p;
    vg_iforest_params_default(&p);
    vg_iforest_t *f = NULL;
    char err[256];
    assert_int_equal(vg_iforest_train(x, 1, 2, &p, &f, err, sizeof err), VG_ERR_INVALID);
    assert_int_equal(vg_iforest_train(x, 4, 0, &p, &f, err, sizeof err), VG_ERR_INVALID);
    p.trees = 0;
    assert_int_equal(vg_iforest_train(x, 4, 2, &p, &f, err, sizeof err), VG_ERR_INVALID);
    assert_non_null(strstr(err, "trees"));
    vg_iforest_params_default(&p);
    x[5] = INFINITY;
    assert_int_equal(vg_iforest_train(x, 4, 2, &p, &f, err, sizeof err), VG_ERR_INVALID);
    assert_non_null(strstr(err, "row 2 column 1"));
    assert_null(f);
    /* constant data: every tree is one leaf, every score the same */
    double k[6] = {1, 1, 1, 1, 1, 1};
    assert_int_equal(vg_iforest_train(k, 3, 2, &p, &f, err, sizeof err), 0);
    assert_int_equal(vg_iforest_max_depth(f), 0);
    assert_float_equal(vg_iforest_score(f, k), exp2(-vg_iforest_c(3) / vg_iforest_c(3)), 1e-12);
    vg_iforest_destroy(&f);
}

/* ---- forest decoder ----------------------------------------------------- */

static int s_decode(const void *buf, size_t len, vg_iforest_t **f, char *err, size_t errlen)
{
    vg_mpr_t r;
    vg_mpr_init(&r, buf, len);
    return vg_iforest_decode(&r, f, err, errlen);
}

static void test_forest_codec_round_trip(void **state)
{
    (void) state;
    size_t n = 2000;
    double *x = s_cloud(n, 3);
    const char *names[3] = {"a", "b", "c"};
    vg_iforest_params_t p = {30, 64, 9, names};
    vg_iforest_t *f = NULL, *g = NULL;
    char err[256];
    assert_int_equal(vg_iforest_train(x, n, 3, &p, &f, err, sizeof err), 0);
    vg_mpw_t w, w2;
    s_encode_forest(f, &w);
    assert_int_equal(s_decode(w.buf, w.len, &g, err, sizeof err), 0);
    assert_string_equal(vg_iforest_name(g, 2), "c");
    assert_null(vg_iforest_name(g, 3));
    assert_int_equal(vg_iforest_max_depth(g), vg_iforest_max_depth(f));
    s_encode_forest(g, &w2);
    assert_int_equal(w.len, w2.len);
    assert_memory_equal(w.buf, w2.buf, w.len);
    for (size_t i = 0; i < n; i++)
        assert_true(vg_iforest_score(f, x + i * 3) == vg_iforest_score(g, x + i * 3));
    /* every truncation of the body fails cleanly */
    for (size_t k = 0; k < w.len; k++) {
        vg_iforest_t *h = NULL;
        assert_int_not_equal(s_decode(w.buf, k, &h, err, sizeof err), 0);
        assert_null(h);
    }
    vg_mpw_fini(&w);
    vg_mpw_fini(&w2);
    vg_iforest_destroy(&f);
    vg_iforest_destroy(&g);
    free(x);
}

/* Encodes a one-tree forest by hand: nodes as msgpack arrays. */
static void s_forest_bytes(vg_mpw_t *w, uint32_t d, uint32_t sample, uint32_t n_nodes,
                           const int64_t (*node)[4])
{
    vg_mpw_init(w);
    vg_mpw_array(w, 7);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, d);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, sample);
    vg_mpw_uint(w, 0);
    vg_mpw_nil(w);
    vg_mpw_array(w, 1);
    vg_mpw_array(w, n_nodes);
    for (uint32_t i = 0; i < n_nodes; i++) {
        if (node[i][0] < 0) {
            vg_mpw_array(w, 1);
            vg_mpw_uint(w, (uint64_t) node[i][1]);
        } else {
            vg_mpw_array(w, 4);
            vg_mpw_uint(w, (uint64_t) node[i][0]);
            vg_mpw_f64(w, (double) node[i][1]);
            vg_mpw_uint(w, (uint64_t) node[i][2]);
            vg_mpw_bool(w, node[i][3]);
        }
    }
}

static void s_expect_bad_tree(uint32_t d, uint32_t sample, uint32_t n_nodes,
                              const int64_t (*node)[4], const char *why)
{
    vg_mpw_t w;
    s_forest_bytes(&w, d, sample, n_nodes, node);
    vg_iforest_t *f = NULL;
    char err[256] = "";
    assert_int_equal(s_decode(w.buf, w.len, &f, err, sizeof err), VG_ERR_PARSE);
    assert_null(f);
    if (!strstr(err, why)) fail_msg("expected '%s' in '%s'", why, err);
    vg_mpw_fini(&w);
}

static void test_forest_decoder_rejects_hostile_trees(void **state)
{
    (void) state;
    /* valid: root split, two leaves of 1 */
    const int64_t ok[3][4] = {{0, 1, 2, 0}, {-1, 1}, {-1, 1}};
    vg_mpw_t w;
    s_forest_bytes(&w, 1, 2, 3, ok);
    vg_iforest_t *f = NULL;
    char err[256];
    assert_int_equal(s_decode(w.buf, w.len, &f, err, sizeof err), 0);
    vg_iforest_destroy(&f);
    vg_mpw_fini(&w);
    const int64_t self_loop[3][4] = {{0, 1, 0, 0}, {-1, 1}, {-1, 1}};
    s_expect_bad_tree(1, 2, 3, self_loop, "not a forward index");
    const int64_t backward[4][4] = {{0, 1, 3, 0}, {0, 1, 1, 0}, {-1, 1}, {-1, 1}};
    s_expect_bad_tree(1, 4, 4, backward, "not a forward index");
    const int64_t beyond[3][4] = {{0, 1, 7, 0}, {-1, 1}, {-1, 1}};
    s_expect_bad_tree(1, 2, 3, beyond, "not a forward index");
    const int64_t bad_feature[3][4] = {{1, 1, 2, 0}, {-1, 1}, {-1, 1}};
    s_expect_bad_tree(1, 2, 3, bad_feature, "feature 1 out of range");
    const int64_t sizes[3][4] = {{0, 1, 2, 0}, {-1, 1}, {-1, 5}};
    s_expect_bad_tree(1, 2, 3, sizes, "external size");
    const int64_t sum[3][4] = {{0, 1, 2, 0}, {-1, 1}, {-1, 2}};
    s_expect_bad_tree(1, 4, 3, sum, "add up to 3");
    const int64_t dangling[4][4] = {{0, 1, 2, 0}, {-1, 1}, {-1, 1}, {-1, 1}};
    s_expect_bad_tree(1, 3, 4, dangling, "external node with descendants");
    const int64_t short_tree[1][4] = {{0, 1, 2, 0}};
    s_expect_bad_tree(1, 2, 1, short_tree, "not a forward index");
    /* a container count larger than the bytes that follow */
    uint8_t lie[] = {0x97, 1, 1, 1, 2, 0, 0xc0, 0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(s_decode(lie, sizeof lie, &f, err, sizeof err), VG_ERR_PARSE);
    assert_non_null(strstr(err, "exceeds the remaining bytes"));
    /* limits */
    uint8_t many_trees[] = {0x97, 1, 1, 0xce, 0x7f, 0xff, 0xff, 0xff, 2, 0, 0xc0};
    assert_int_equal(s_decode(many_trees, sizeof many_trees, &f, err, sizeof err), VG_ERR_LIMIT);
    assert_non_null(strstr(err, "tree count"));
    uint8_t version[] = {0x97, 9, 1, 1, 2, 0, 0xc0, 0x90};
    assert_int_equal(s_decode(version, sizeof version, &f, err, sizeof err), VG_ERR_PARSE);
    assert_non_null(strstr(err, "body version 9"));
    assert_null(f);
}

/* ---- model artifact ----------------------------------------------------- */

static const char *const s_feats[] = {"log_amount", "amount_to_median", "count_10m", "new_device"};

/* A small model (few trees, small sample) on synthetic feature rows. */
static vg_model_t *s_model(uint32_t trees, uint32_t sample)
{
    size_t n = 600;
    double *x = vg_malloc(n * 4 * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        x[i * 4] = 3 + 0.5 * s_gauss();
        x[i * 4 + 1] = i % 7 ? 1 + 0.2 * s_gauss() : NAN;
        x[i * 4 + 2] = 1 + (i % 3);
        x[i * 4 + 3] = i % 50 == 0;
    }
    vg_iforest_params_t p = {trees, sample, 5, s_feats};
    vg_iforest_t *f = NULL;
    char err[256];
    assert_int_equal(vg_iforest_train(x, n, 4, &p, &f, err, sizeof err), 0);
    free(x);
    vg_model_meta_t meta;
    vg_model_meta_init(&meta);
    meta.created_ms = 1767225600123; /* 2026-01-01T00:00:00.123Z */
    meta.data_hash = 0x1234;
    meta.holdout = 0.2;
    meta.metrics.auc_roc = 0.9;
    snprintf(meta.source, sizeof meta.source, "unit test");
    vg_model_t *m = NULL;
    assert_int_equal(vg_model_new(&f, s_feats, 4, &meta, &m, err, sizeof err), 0);
    assert_null(f);
    return m;
}

static void s_model_bytes(const vg_model_t *m, vg_mpw_t *w)
{
    vg_mpw_init(w);
    assert_int_equal(vg_model_encode(m, w), 0);
}

static void s_features(vg_features_t *f, double log_amount, double ratio, double c10, double dev)
{
    memset(f, 0, sizeof *f);
    f->log_amount = log_amount;
    f->amount_to_median = ratio;
    f->count_10m = c10;
    f->new_device = dev;
}

static void test_artifact_round_trip(void **state)
{
    (void) state;
    vg_model_t *m = s_model(100, 256), *back = NULL;
    vg_mpw_t w, w2;
    s_model_bytes(m, &w);
    char err[256];
    assert_int_equal(vg_model_decode(w.buf, w.len, &back, err, sizeof err), 0);
    const vg_model_info_t *a = vg_model_info(m), *b = vg_model_info(back);
    assert_int_equal(b->version, VG_MODEL_VERSION);
    assert_int_equal(b->n_features, 4);
    assert_string_equal(b->features[1], "amount_to_median");
    assert_int_equal(b->feature_index[1], VG_FEATURE_amount_to_median);
    assert_string_equal(b->created, "2026-01-01T00:00:00.123Z");
    assert_true(b->schema_hash == a->schema_hash);
    assert_true(b->schema_hash == vg_model_schema_hash_current(s_feats, 4));
    assert_true(b->engine_hash == vg_model_engine_hash());
    assert_true(b->meta.data_hash == 0x1234);
    assert_int_equal(b->trees, 100);
    assert_int_equal(b->sample, 256);
    assert_int_equal(b->seed, 5);
    assert_float_equal(b->meta.holdout, 0.2, 0);
    assert_float_equal(b->meta.metrics.auc_roc, 0.9, 0);
    assert_true(isnan(b->meta.metrics.auc_pr));
    assert_string_equal(b->meta.source, "unit test");
    s_model_bytes(back, &w2);
    assert_int_equal(w.len, w2.len);
    assert_memory_equal(w.buf, w2.buf, w.len);
    for (int i = 0; i < 200; i++) {
        vg_features_t f;
        s_features(&f, 3 + s_gauss(), i % 5 ? 1 + s_gauss() : NAN, i % 4, i % 9 == 0);
        double s1 = vg_model_score_features(m, &f), s2 = vg_model_score_features(back, &f);
        assert_true(s1 == s2 && s1 > 0 && s1 <= 1);
        double row[4];
        vg_model_row(back, &f, row);
        assert_true(row[2] == f.count_10m);
        assert_true(vg_iforest_score(vg_model_forest(back), row) == s2);
    }
    /* an obviously odd transaction scores above a typical one */
    vg_features_t typical, odd;
    s_features(&typical, 3, 1, 2, 0);
    s_features(&odd, 9, 40, 30, 1);
    assert_true(vg_model_score_features(m, &odd) > vg_model_score_features(m, &typical) + 0.1);
    /* through a file */
    char path[] = "/tmp/vg_test_model_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uint64_t hash = 0;
    assert_int_equal(vg_model_save(m, path, &hash, err, sizeof err), 0);
    assert_true(hash == vg_model_fingerprint(w.buf, w.len));
    vg_model_t *loaded = NULL;
    assert_int_equal(vg_model_load(path, &loaded, err, sizeof err), 0);
    vg_model_destroy(&loaded);
    assert_null(loaded);
    unlink(path);
    assert_int_equal(vg_model_load(path, &loaded, err, sizeof err), VG_ERR_IO);
    assert_non_null(strstr(err, path));
    vg_mpw_fini(&w);
    vg_mpw_fini(&w2);
    vg_model_destroy(&m);
    vg_model_destroy(&back);
}

static void test_artifact_every_byte_flipped(void **state)
{
    (void) state;
    vg_model_t *m = s_model(3, 16);
    vg_mpw_t w, w2;
    s_model_bytes(m, &w);
    char err[256];
    size_t accepted = 0;
    for (size_t i = 0; i < w.len; i++) {
        for (int bit = 0; bit < 8; bit += 7) { /* lowest and highest bit of each byte */
            uint8_t *copy = vg_malloc(w.len);
            memcpy(copy, w.buf, w.len);
            copy[i] ^= (uint8_t) (1u << bit);
            vg_model_t *back = NULL;
            err[0] = '\0';
            int rc = vg_model_decode(copy, w.len, &back, err, sizeof err);
            if (rc == 0) {
                /* only acceptable if the content is identical */
                accepted++;
                s_model_bytes(back, &w2);
                assert_int_equal(w2.len, w.len);
                assert_memory_equal(w2.buf, w.buf, w.len);
                vg_mpw_fini(&w2);
                vg_model_destroy(&back);
            } else {
                assert_null(back);
                assert_true(err[0] != '\0');
            }
            free(copy);
        }
    }
    assert_int_equal(accepted, 0); /* the checksum catches every flip */
    vg_mpw_fini(&w);
    vg_model_destroy(&m);
}

static void test_artifact_truncated(void **state)
{
    (void) state;
    vg_model_t *m = s_model(3, 16);
    vg_mpw_t w;
    s_model_bytes(m, &w);
    char err[256];
    for (size_t k = 0; k < w.len; k++) {
        vg_model_t *back = NULL;
        int rc = vg_model_decode(w.buf, k, &back, err, sizeof err);
        assert_int_equal(rc, VG_ERR_PARSE);
        assert_null(back);
        if (k >= 8 && !strstr(err, "truncated")) fail_msg("length %zu: %s", k, err);
    }
    /* trailing bytes are refused too */
    uint8_t *longer = vg_malloc(w.len + 1);
    memcpy(longer, w.buf, w.len);
    longer[w.len] = 0;
    vg_model_t *back = NULL;
    assert_int_equal(vg_model_decode(longer, w.len + 1, &back, err, sizeof err), VG_ERR_PARSE);
    assert_non_null(strstr(err, "trailing"));
    free(longer);
    vg_mpw_fini(&w);
    vg_model_destroy(&m);
}

/* Re-seals an artifact after a header or metadata edit (new checksum). */
static void s_reseal(vg_mpw_t *w)
{
    uint64_t sum = vg_model_fingerprint(w->buf, w->len - 8);
    for (int i = 0; i < 8; i++) w->buf[w->len - 8 + i] = (uint8_t) (sum >> (8 * i));
}

/* Builds an artifact from a model with its metadata replaced by meta. */
static void s_with_meta(const vg_model_t *m, const vg_mpw_t *meta, vg_mpw_t *out)
{
    vg_mpw_t w;
    s_model_bytes(m, &w);
    uint32_t meta_len = w.buf[48] | w.buf[49] << 8 | w.buf[50] << 16 | (uint32_t) w.buf[51] << 24;
    size_t body_off = VG_MODEL_HEADER_SIZE + meta_len, body_len = w.len - 8 - body_off;
    vg_mpw_init(out);
    vg_mpw_raw(out, w.buf, VG_MODEL_HEADER_SIZE);
    vg_mpw_raw(out, meta->buf, meta->len);
    vg_mpw_raw(out, w.buf + body_off, body_len);
    vg_mpw_raw(out, w.buf + w.len - 8, 8);
    for (int i = 0; i < 4; i++) out->buf[48 + i] = (uint8_t) (meta->len >> (8 * i));
    s_reseal(out);
    vg_mpw_fini(&w);
}

static void s_meta(vg_mpw_t *w, const char *const *features, uint32_t n, const char *created)
{
    vg_mpw_init(w);
    vg_mpw_map(w, 2);
    vg_mpw_str(w, "features", 8);
    vg_mpw_array(w, n);
    for (uint32_t i = 0; i < n; i++) vg_mpw_str(w, features[i], (uint32_t) strlen(features[i]));
    vg_mpw_str(w, "created", 7);
    vg_mpw_str(w, created, (uint32_t) strlen(created));
}

static void s_expect_reject(const vg_mpw_t *w, int code, const char *why)
{
    vg_model_t *back = NULL;
    char err[256] = "";
    assert_int_equal(vg_model_decode(w->buf, w->len, &back, err, sizeof err), code);
    assert_null(back);
    if (!strstr(err, why)) fail_msg("expected '%s' in '%s'", why, err);
}

static void test_artifact_header_and_schema(void **state)
{
    (void) state;
    vg_model_t *m = s_model(3, 16);
    vg_mpw_t w;
    s_model_bytes(m, &w);
    /* bad magic, even when resealed */
    w.buf[0] = 'X';
    s_reseal(&w);
    s_expect_reject(&w, VG_ERR_PARSE, "bad magic");
    w.buf[0] = 'V';
    /* unsupported version */
    w.buf[8] = 2;
    s_reseal(&w);
    s_expect_reject(&w, VG_ERR_UNSUPPORTED, "unsupported format version 2");
    w.buf[8] = 1;
    /* corrupt without resealing: the checksum names it */
    w.buf[70] ^= 1;
    s_expect_reject(&w, VG_ERR_PARSE, "checksum mismatch");
    w.buf[70] ^= 1;
    /* a model trained against a different feature engine */
    w.buf[16] ^= 0x5a;
    s_reseal(&w);
    s_expect_reject(&w, VG_ERR_UNSUPPORTED, "schema hash");
    w.buf[16] ^= 0x5a;
    s_reseal(&w);
    vg_model_t *ok = NULL;
    char err[256];
    assert_int_equal(vg_model_decode(w.buf, w.len, &ok, err, sizeof err), 0);
    vg_model_destroy(&ok);
    vg_mpw_fini(&w);
    /* a feature the engine does not have */
    const char *unknown[] = {"log_amount", "amount_to_median", "count_10m", "shoe_size"};
    vg_mpw_t meta, art;
    s_meta(&meta, unknown, 4, "2026-01-01T00:00:00.123Z");
    s_with_meta(m, &meta, &art);
    s_expect_reject(&art, VG_ERR_UNSUPPORTED, "'shoe_size' is unknown to this feature engine");
    vg_mpw_fini(&meta);
    vg_mpw_fini(&art);
    /* the same features in another order: the schema hash differs */
    const char *swapped[] = {"amount_to_median", "log_amount", "count_10m", "new_device"};
    s_meta(&meta, swapped, 4, "2026-01-01T00:00:00.123Z");
    s_with_meta(m, &meta, &art);
    s_expect_reject(&art, VG_ERR_UNSUPPORTED, "different feature engine");
    vg_mpw_fini(&meta);
    vg_mpw_fini(&art);
    /* the original metadata, rebuilt by hand, is accepted */
    s_meta(&meta, s_feats, 4, "2026-01-01T00:00:00.123Z");
    s_with_meta(m, &meta, &art);
    assert_int_equal(vg_model_decode(art.buf, art.len, &ok, err, sizeof err), 0);
    vg_model_destroy(&ok);
    vg_mpw_fini(&meta);
    vg_mpw_fini(&art);
    /* creation time disagreeing with the header */
    s_meta(&meta, s_feats, 4, "2026-01-01T00:00:01.000Z");
    s_with_meta(m, &meta, &art);
    s_expect_reject(&art, VG_ERR_PARSE, "disagrees with the header");
    vg_mpw_fini(&meta);
    vg_mpw_fini(&art);
    vg_model_destroy(&m);
}

static void test_model_new_validates(void **state)
{
    (void) state;
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 9};
    vg_iforest_params_t p;
    vg_iforest_params_default(&p);
    vg_iforest_t *f = NULL;
    char err[256];
    assert_int_equal(vg_iforest_train(x, 4, 2, &p, &f, err, sizeof err), 0);
    vg_model_t *m = NULL;
    const char *bad[] = {"log_amount", "nope"};
    assert_int_equal(vg_model_new(&f, bad, 2, NULL, &m, err, sizeof err), VG_ERR_INVALID);
    assert_non_null(strstr(err, "'nope'"));
    const char *dup[] = {"log_amount", "log_amount"};
    assert_int_equal(vg_model_new(&f, dup, 2, NULL, &m, err, sizeof err), VG_ERR_INVALID);
    const char *three[] = {"log_amount", "n_prior", "mad"};
    assert_int_equal(vg_model_new(&f, three, 3, NULL, &m, err, sizeof err), VG_ERR_INVALID);
    assert_non_null(f); /* still ours after a failure */
    const char *good[] = {"mad", "n_prior"};
    assert_int_equal(vg_model_new(&f, good, 2, NULL, &m, err, sizeof err), 0);
    assert_null(f);
    assert_true(vg_model_info(m)->meta.created_ms > 0);
    assert_int_equal(vg_model_feature_index("mad", 3), VG_FEATURE_mad);
    assert_int_equal(vg_model_feature_index("ma", 2), -1);
    assert_true(vg_model_schema_hash_current(good, 2) != vg_model_schema_hash_current(three, 2));
    vg_model_destroy(&m);
    vg_model_destroy(&m);
}

/* ---- ranking metrics ---------------------------------------------------- */

static void test_eval_metrics(void **state)
{
    (void) state;
    /* scikit-learn's documented example */
    double s[4] = {0.1, 0.4, 0.35, 0.8};
    uint8_t y[4] = {0, 0, 1, 1};
    assert_float_equal(vg_eval_auc_roc(s, y, 4), 0.75, 1e-12);
    assert_float_equal(vg_eval_auc_pr(s, y, 4), 0.8333333333333333, 1e-12);
    assert_float_equal(vg_eval_precision_at_k(s, y, 4, 2), 0.5, 1e-12);
    assert_float_equal(vg_eval_precision_at_k(s, y, 4, 1), 1.0, 1e-12);
    /* ties: average rank; one threshold per tied group */
    double t[4] = {0.5, 0.5, 0.5, 0.5};
    assert_float_equal(vg_eval_auc_roc(t, y, 4), 0.5, 1e-12);
    assert_float_equal(vg_eval_auc_pr(t, y, 4), 0.5, 1e-12);
    assert_float_equal(vg_eval_precision_at_k(t, y, 4, 1), 0.5, 1e-12);
    double u[5] = {0.9, 0.7, 0.7, 0.2, 0.1};
    uint8_t z[5] = {1, 0, 1, 0, 0};
    /* pairs (pos, neg): 0.9 beats all 3; 0.7 ties one, beats two -> (3 + 2.5) / 6 */
    assert_float_equal(vg_eval_auc_roc(u, z, 5), 5.5 / 6, 1e-12);
    /* thresholds: 0.9 -> P 1 R .5; 0.7 -> P 2/3 R 1 */
    assert_float_equal(vg_eval_auc_pr(u, z, 5), 0.5 * 1 + 0.5 * 2.0 / 3, 1e-12);
    assert_float_equal(vg_eval_precision_at_k(u, z, 5, 2), (1 + 0.5) / 2, 1e-12);
    assert_int_equal(vg_eval_positives(z, 5), 2);
    /* perfect and inverted rankings; undefined cases */
    double p[4] = {4, 3, 2, 1};
    uint8_t q[4] = {1, 1, 0, 0}, none[4] = {0, 0, 0, 0};
    assert_float_equal(vg_eval_auc_roc(p, q, 4), 1.0, 1e-12);
    assert_float_equal(vg_eval_auc_pr(p, q, 4), 1.0, 1e-12);
    uint8_t inv[4] = {0, 0, 1, 1};
    assert_float_equal(vg_eval_auc_roc(p, inv, 4), 0.0, 1e-12);
    assert_true(isnan(vg_eval_auc_roc(p, none, 4)));
    assert_true(isnan(vg_eval_auc_pr(p, none, 4)));
    assert_true(isnan(vg_eval_precision_at_k(p, q, 4, 0)));
    assert_float_equal(vg_eval_precision_at_k(p, q, 4, 99), 0.5, 1e-12);
    /* order of the input does not matter */
    double r[5] = {0.2, 0.7, 0.1, 0.9, 0.7};
    uint8_t rz[5] = {0, 1, 0, 1, 0};
    assert_float_equal(vg_eval_auc_roc(r, rz, 5), 5.5 / 6, 1e-12);
    assert_float_equal(vg_eval_auc_pr(r, rz, 5), 0.5 * 1 + 0.5 * 2.0 / 3, 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_values),
        cmocka_unit_test(test_path_length_hand_tree),
        cmocka_unit_test(test_missing_values_in_training),
        cmocka_unit_test(test_height_limit),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_scores_and_outlier),
        cmocka_unit_test(test_train_rejects_bad_input),
        cmocka_unit_test(test_forest_codec_round_trip),
        cmocka_unit_test(test_forest_decoder_rejects_hostile_trees),
        cmocka_unit_test(test_artifact_round_trip),
        cmocka_unit_test(test_artifact_every_byte_flipped),
        cmocka_unit_test(test_artifact_truncated),
        cmocka_unit_test(test_artifact_header_and_schema),
        cmocka_unit_test(test_model_new_validates),
        cmocka_unit_test(test_eval_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
