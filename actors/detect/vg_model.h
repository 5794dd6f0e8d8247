/* vg_model.h: the model artifact: an Isolation Forest plus everything
 * needed to trust and use it: format version, the feature schema it was
 * trained against, training parameters, evaluation metrics, a fingerprint
 * of the training data, creation time and a checksum over all of it. The
 * byte layout is specified in docs/MODEL_FORMAT.md.
 *
 * A model's inputs are a subset of VG_FEATURE_LIST (in the model's own
 * order); vg_model_score_features() scores a feature snapshot directly.
 * A loaded model is immutable: any thread may score with it. */
#ifndef VG_MODEL_H
#define VG_MODEL_H

#include "vg_features.h"
#include "vg_iforest.h"
#include "vg_mp.h"

#include <stddef.h>
#include <stdint.h>

#define VG_MODEL_MAGIC        "VIGILMDL" /* 8 bytes, no NUL */
#define VG_MODEL_VERSION      1          /* format version this build writes and reads */
#define VG_MODEL_HEADER_SIZE  64
#define VG_MODEL_TRAILER      8            /* XXH64 checksum */
#define VG_MODEL_MAX_BYTES    (256u << 20) /* larger artifacts are refused */
#define VG_MODEL_KIND_IFOREST 1
#define VG_MODEL_TEXT_MAX     256 /* source / tool strings, bytes incl. NUL */

/* Evaluation figures, as data: X(name, doc). NaN = not evaluated. */
#define VG_MODEL_METRIC_LIST(X)                                        \
    X(auc_roc, "area under the ROC curve on the evaluation rows")      \
    X(auc_pr, "average precision (area under the PR curve)")           \
    X(precision_at_k, "share of positives among the k highest scores") \
    X(k, "k of precision_at_k (the number of positives)")              \
    X(positives, "labelled anomalies among the evaluation rows")       \
    X(train_rows, "rows the forest was trained on")                    \
    X(eval_rows, "rows evaluated (the time-ordered hold-out)")

typedef struct {
#define VG__METRIC_FIELD(name, doc) double name;
    VG_MODEL_METRIC_LIST(VG__METRIC_FIELD)
#undef VG__METRIC_FIELD
} vg_model_metrics_t;

/* Sets every metric to NaN. */
void vg_model_metrics_init(vg_model_metrics_t *m);

/* What the trainer knows besides the forest. */
typedef struct {
    int64_t created_ms; /* ms since the epoch; 0 = now */
    uint64_t data_hash; /* fingerprint of the training input (vg_model_fingerprint); 0 = none */
    uint32_t sample;    /* psi requested (the forest holds the one used); 0 = the forest's */
    double holdout;     /* share of rows held out for evaluation, 0..1 */
    vg_model_metrics_t metrics;
    char source[VG_MODEL_TEXT_MAX]; /* training data, e.g. its path; "" = none */
    char tool[VG_MODEL_TEXT_MAX];   /* producer, e.g. "vigil-train 0.1.0"; "" = none */
} vg_model_meta_t;

/* Sets defaults: created now, holdout 0, metrics NaN, empty strings. */
void vg_model_meta_init(vg_model_meta_t *meta);

/* Everything a loaded model declares. Pointers live as long as the model. */
typedef struct {
    uint16_t version;     /* format version of the bytes it came from */
    uint64_t schema_hash; /* vg_model_schema_hash_current(features) at training */
    uint64_t engine_hash; /* vg_model_engine_hash() at training */
    char created[32];     /* RFC 3339, UTC, ms ("2026-01-01T00:00:00.000Z") */
    uint32_t n_features;
    const char *features[VG_FEATURE_COUNT];  /* names, model order */
    uint8_t feature_index[VG_FEATURE_COUNT]; /* position of each in VG_FEATURE_LIST */
    uint32_t trees, sample;                  /* sample: psi used */
    uint64_t seed;
    vg_model_meta_t meta;
} vg_model_info_t;

typedef struct vg_model vg_model_t;

/* XXH64 (seed 0) of len bytes: the training-data fingerprint and the
 * artifact checksum. */
uint64_t vg_model_fingerprint(const void *buf, size_t len);

/* Hash identifying this build's feature engine: over the ordered names of
 * VG_FEATURE_LIST (docs/MODEL_FORMAT.md, "Schema hash"). */
uint64_t vg_model_engine_hash(void);

/* The schema hash a model using features[0..n) (in that order) carries
 * when trained by this build: over those names and the engine's list. A
 * loaded model whose stored hash differs was trained against a different
 * feature engine and is refused. */
uint64_t vg_model_schema_hash_current(const char *const *features, uint32_t n);

/* Index of feature `name` in VG_FEATURE_LIST, or -1. */
int vg_model_feature_index(const char *name, size_t len);

/* Builds a model from a trained forest whose attributes are features[0..n)
 * (names from VG_FEATURE_LIST, distinct, n = the forest's dims). Takes
 * ownership of *forest_p and clears it on success; on failure it stays
 * the caller's. Returns 0, or VG_ERR_INVALID with a message in errbuf.
 * meta may be NULL (defaults). */
int vg_model_new(vg_iforest_t **forest_p, const char *const *features, uint32_t n,
                 const vg_model_meta_t *meta, vg_model_t **out, char *errbuf, size_t errlen);

/* Frees the model; accepts NULL and *self_p == NULL; clears *self_p. */
void vg_model_destroy(vg_model_t **self_p);

const vg_model_info_t *vg_model_info(const vg_model_t *m);
const vg_iforest_t *vg_model_forest(const vg_model_t *m);

/* The model's input row for a feature snapshot: row[i] = the value of
 * info->features[i]; row has room for info->n_features doubles. */
void vg_model_row(const vg_model_t *m, const vg_features_t *f, double *row);

/* Anomaly score in (0, 1] of one transaction's features. No allocation,
 * thread-safe. */
double vg_model_score_features(const vg_model_t *m, const vg_features_t *f);

/* Appends the artifact bytes to w (a growing writer). Deterministic.
 * Returns 0, or VG_ERR_TOO_LARGE (over VG_MODEL_MAX_BYTES; w then holds
 * a partial artifact). */
int vg_model_encode(const vg_model_t *m, vg_mpw_t *w);

/* Parses and verifies an artifact; buf is only read during the call.
 * On success *out is a new model the caller owns. Errors (message in
 * errbuf, *out untouched):
 *   VG_ERR_PARSE        bad magic, truncated or oversized input, checksum
 *                       mismatch, malformed metadata or forest
 *   VG_ERR_UNSUPPORTED  a format version or model kind this build does not
 *                       read, a feature unknown to this feature engine,
 *                       or a schema hash that does not match this engine
 * Never crashes on any input. */
int vg_model_decode(const void *buf, size_t len, vg_model_t **out, char *errbuf, size_t errlen);

/* vg_model_decode on a file's contents; VG_ERR_IO if it cannot be read. */
int vg_model_load(const char *path, vg_model_t **out, char *errbuf, size_t errlen);

/* Writes the artifact to path atomically (a temporary file in the same
 * directory, fsync, rename). Returns 0 or VG_ERR_IO (message in errbuf).
 * If hash is not NULL it receives vg_model_fingerprint of the bytes. */
int vg_model_save(const vg_model_t *m, const char *path, uint64_t *hash, char *errbuf,
                  size_t errlen);

#endif
