/* vg_iforest.h: Isolation Forest (Liu, Ting & Zhou, ICDM 2008): training
 * on a row-major matrix, allocation-free scoring of one row, and the
 * model body's msgpack form. A trained forest is immutable: any number of
 * threads may score with it concurrently.
 *
 * Algorithm, exactly as the paper:
 * - t trees, each grown on psi rows drawn without replacement (psi is
 *   min(sample, n)); height limit l = ceil(log2 psi).
 * - At a node the split attribute is drawn uniformly among the attributes
 *   whose values in the node's sample are not constant; the split value p
 *   uniformly in [min, max). x <= p goes left, so both sides are never
 *   empty. A node is external when it holds <= 1 row, reaches depth l, or
 *   all its rows are equal.
 * - Path length h(x) = e + c(size) at the external node reached (e: its
 *   depth), c(n) = 2 H(n - 1) - 2 (n - 1) / n, H(i) = ln(i) + 0.5772156649,
 *   c(1) = c(0) = 0, c(2) = 1. Score s = 2 ^ (-E[h(x)] / c(psi)) in (0, 1]:
 *   near 1 anomalous, well below 0.5 normal.
 *
 * Missing values (NaN): min/max and the split ignore them. At each split
 * the rows with a missing value go to the side that received more of the
 * node's training rows (ties: left); the choice is stored per node and is
 * followed by training and scoring alike. So a missing value is never by
 * itself evidence of an anomaly: it follows the bulk of the data.
 * Infinite values are refused by training (VG_ERR_INVALID).
 *
 * Randomness comes from a private xoshiro256** stream seeded by splitmix64
 * from params.seed: the same input and parameters give the same forest
 * (and the same encoded bytes) on every platform. */
#ifndef VG_IFOREST_H
#define VG_IFOREST_H

#include "vg_mp.h"

#include <stddef.h>
#include <stdint.h>

#define VG_IFOREST_MAX_DIMS   4096       /* attributes per row */
#define VG_IFOREST_MAX_TREES  10000      /* trees per forest */
#define VG_IFOREST_MAX_SAMPLE 1048576    /* psi */
#define VG_IFOREST_MAX_NODES  (1u << 24) /* nodes of a decoded forest (20 bytes each) */

typedef struct vg_iforest vg_iforest_t;

typedef struct {
    uint32_t trees;  /* t, 1..VG_IFOREST_MAX_TREES; default 100 */
    uint32_t sample; /* psi before clipping to n, 2..VG_IFOREST_MAX_SAMPLE; default 256 */
    uint64_t seed;   /* default 1 */
    /* Optional attribute names (NULL, or d strings of 1..255 bytes), copied
     * into the forest and carried by its encoded form. */
    const char *const *names;
} vg_iforest_params_t;

void vg_iforest_params_default(vg_iforest_params_t *p);

/* c(n): average path length of an unsuccessful BST search among n items
 * (the paper's normaliser). c(0) = c(1) = 0, c(2) = 1. */
double vg_iforest_c(double n);

/* Trains on x, n rows of d doubles (row-major, row i at x + i * d).
 * n >= 2, 1 <= d <= VG_IFOREST_MAX_DIMS; NaN means missing; +-Inf is
 * refused. On success *out is a new forest the caller owns (free with
 * vg_iforest_destroy) and 0 is returned; otherwise VG_ERR_INVALID with a
 * message naming the parameter, row or column in errbuf, *out untouched.
 * x is only read during the call. */
int vg_iforest_train(const double *x, size_t n, uint32_t d, const vg_iforest_params_t *params,
                     vg_iforest_t **out, char *errbuf, size_t errlen);

/* Frees the forest; accepts NULL and *self_p == NULL; clears *self_p. */
void vg_iforest_destroy(vg_iforest_t **self_p);

/* Anomaly score of one row of vg_iforest_dims() doubles, in (0, 1].
 * No allocation, thread-safe. */
double vg_iforest_score(const vg_iforest_t *f, const double *row);

/* Average path length E[h(x)] of one row (the score before normalising). */
double vg_iforest_path_length(const vg_iforest_t *f, const double *row);

/* Scores n rows (row-major, d columns) into out[0..n). */
void vg_iforest_score_many(const vg_iforest_t *f, const double *x, size_t n, double *out);

/* Shape and parameters of a trained or decoded forest. */
uint32_t vg_iforest_dims(const vg_iforest_t *f);
uint32_t vg_iforest_trees(const vg_iforest_t *f);
uint32_t vg_iforest_sample(const vg_iforest_t *f); /* psi actually used */
uint64_t vg_iforest_seed(const vg_iforest_t *f);
size_t vg_iforest_node_count(const vg_iforest_t *f);
/* Name of attribute i; NULL when the forest has no names or i >= d.
 * Valid as long as the forest. */
const char *vg_iforest_name(const vg_iforest_t *f, uint32_t i);
/* Height of the deepest external node over all trees (<= ceil(log2 psi)). */
uint32_t vg_iforest_max_depth(const vg_iforest_t *f);

/* Appends the forest's msgpack form (docs/MODEL_FORMAT.md, "Forest body")
 * to w. Deterministic: equal forests give equal bytes. */
void vg_iforest_encode(const vg_iforest_t *f, vg_mpw_t *w);

/* Decodes a forest from r (one msgpack value). Never trusts the input:
 * counts are checked against the remaining bytes and the limits above,
 * the node total against VG_IFOREST_MAX_NODES, every node's feature
 * against d, child indices must point forward and
 * stay within their tree (so no cycles), each tree must be one well-formed
 * pre-order tree within the height limit, and leaf sizes must add up to
 * psi. On success *out is a new forest the caller owns; otherwise
 * VG_ERR_PARSE (malformed) or VG_ERR_LIMIT (over a limit), a message in
 * errbuf, *out untouched. */
int vg_iforest_decode(vg_mpr_t *r, vg_iforest_t **out, char *errbuf, size_t errlen);

/* ---- for tests: a forest built by hand ---------------------------------- */

/* One node of a hand-built tree in pre-order: an internal node has
 * feature < d, its left child next and its right child at index `right`
 * (within the tree); an external node has feature -1 and `size` rows. */
typedef struct {
    int feature;
    double threshold;
    uint32_t right;
    uint32_t size;
    int nan_left;
} vg_iforest_node_spec_t;

/* Builds a one-tree forest (psi = sample) from specs, with the same
 * validation as vg_iforest_decode. Returns 0 or VG_ERR_PARSE. */
int vg_iforest_from_spec(uint32_t d, uint32_t sample, const vg_iforest_node_spec_t *nodes,
                         uint32_t n_nodes, vg_iforest_t **out, char *errbuf, size_t errlen);

#endif
