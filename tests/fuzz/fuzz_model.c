/* fuzz_model.c: libFuzzer target for the model artifact loader. Each input
 * is decoded three ways: as it is (the checksum rejects almost all), with
 * its trailing checksum recomputed (so mutations reach the metadata and
 * forest decoders), and as a bare forest body. Properties: a refusal
 * always carries a message; an accepted model re-encodes to bytes that
 * decode to the same bytes again, and scores in (0, 1]. */
#include "vg_iforest.h"
#include "vg_mem.h"
#include "vg_model.h"

#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check_model(const vg_model_t *m)
{
    vg_mpw_t w, w2;
    vg_mpw_init(&w);
    VG_ASSERT(vg_model_encode(m, &w) == 0);
    vg_model_t *again = NULL;
    char err[256];
    VG_ASSERT(vg_model_decode(w.buf, w.len, &again, err, sizeof err) == 0);
    vg_mpw_init(&w2);
    VG_ASSERT(vg_model_encode(again, &w2) == 0);
    VG_ASSERT(w.len == w2.len && memcmp(w.buf, w2.buf, w.len) == 0);
    vg_features_t f;
    memset(&f, 0, sizeof f);
    double s = vg_model_score_features(again, &f);
    VG_ASSERT(s > 0 && s <= 1);
    f.amount_to_median = NAN;
    f.log_amount = 1e300;
    s = vg_model_score_features(again, &f);
    VG_ASSERT(s > 0 && s <= 1);
    vg_model_destroy(&again);
    vg_mpw_fini(&w);
    vg_mpw_fini(&w2);
}

static void s_decode(const uint8_t *buf, size_t size)
{
    vg_model_t *m = NULL;
    char err[256] = "";
    int rc = vg_model_decode(buf, size, &m, err, sizeof err);
    if (rc) {
        VG_ASSERT(m == NULL && err[0]);
        return;
    }
    s_check_model(m);
    vg_model_destroy(&m);
}

static void s_decode_forest(const uint8_t *buf, size_t size)
{
    vg_mpr_t r;
    vg_mpr_init(&r, buf, size);
    vg_iforest_t *f = NULL;
    char err[256] = "";
    if (vg_iforest_decode(&r, &f, err, sizeof err)) {
        VG_ASSERT(f == NULL && err[0]);
        return;
    }
    double *row = vg_calloc(vg_iforest_dims(f), sizeof *row);
    double s = vg_iforest_score(f, row);
    VG_ASSERT(s > 0 && s <= 1);
    free(row);
    vg_iforest_destroy(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* copies so reads past the end are caught by ASan */
    uint8_t *buf = vg_malloc(size ? size : 1);
    memcpy(buf, data, size);
    s_decode(buf, size);
    if (size >= VG_MODEL_HEADER_SIZE + VG_MODEL_TRAILER) {
        uint64_t sum = vg_model_fingerprint(buf, size - VG_MODEL_TRAILER);
        for (int i = 0; i < 8; i++) buf[size - 8 + i] = (uint8_t) (sum >> (8 * i));
        s_decode(buf, size);
    }
    memcpy(buf, data, size);
    s_decode_forest(buf, size);
    free(buf);
    return 0;
}
