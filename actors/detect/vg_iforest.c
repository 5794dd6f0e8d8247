/* vg_iforest.c: Isolation Forest training, scoring and msgpack codec.
 * All nodes of all trees live in one array of 16-byte PODs in pre-order:
 * an internal node's left child is the next node, its right child `right`
 * nodes further on; an external node stores depth + c(size), the whole
 * contribution of the path. An external node is its own child (offset 0
 * on either side), so scoring walks all trees in lock-step for exactly
 * max_depth steps with no data-dependent branch: each step is a load, two
 * compares and a conditional add, and the independent chains of a batch
 * of trees overlap their memory latency. */
#include "vg_iforest.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define S_NAN_LEFT     1u /* flags: a missing value goes left */
#define S_LEAF         2u /* flags: an external node */
#define S_FEATURE_MAX  0xffffu
#define S_BATCH        32 /* trees walked in lock-step */
#define S_EULER        0.5772156649
#define S_BODY_VERSION 1
#define S_NAME_MAX     255
#define S_MAX_HEIGHT   32 /* ceil(log2 VG_IFOREST_MAX_SAMPLE) = 20, with room */

_Static_assert(VG_IFOREST_MAX_DIMS <= S_FEATURE_MAX, "feature indices are uint16_t");

typedef struct {
    double value;     /* internal: split value p; external: depth + c(size) */
    uint32_t right;   /* internal: right child's offset from this node; external: 0 */
    uint16_t feature; /* internal: attribute; external: 0 */
    uint8_t left;     /* internal: 1 (left child's offset); external: 0 */
    uint8_t flags;    /* S_NAN_LEFT, S_LEAF */
} s_node_t;

_Static_assert(sizeof(s_node_t) == 16, "a node is 16 bytes: 4 per cache line");

struct vg_iforest {
    uint32_t d, trees, sample, max_depth;
    uint64_t seed;
    double c_psi; /* c(sample) */
    s_node_t *nodes;
    uint32_t *size; /* per node: rows of an external node (for the codec), 0 internal */
    size_t n_nodes, cap_nodes;
    uint32_t *roots; /* trees entries: index of each tree's root */
    char **names;    /* NULL, or d strings in one allocation */
};

void vg_iforest_params_default(vg_iforest_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->trees = 100;
    p->sample = 256;
    p->seed = 1;
}

double vg_iforest_c(double n)
{
    if (n <= 1) return 0;
    if (n <= 2) return 1;
    return 2.0 * (log(n - 1.0) + S_EULER) - 2.0 * (n - 1.0) / n;
}

static uint32_t s_height_limit(uint32_t psi)
{
    uint32_t l = 0;
    while (l < 32 && (1ull << l) < psi) l++;
    return l;
}

/* ---- PRNG: xoshiro256** seeded by splitmix64 ------------------------------ */

typedef struct {
    uint64_t s[4];
} s_rng_t;

static uint64_t s_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void s_rng_seed(s_rng_t *g, uint64_t seed)
{
    for (int i = 0; i < 4; i++) g->s[i] = s_splitmix(&seed);
}

static inline uint64_t s_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t s_rng_next(s_rng_t *g)
{
    uint64_t *s = g->s, r = s_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double s_rng_unit(s_rng_t *g)
{
    return (double) (s_rng_next(g) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, k), k >= 1 (multiply-shift; bias below 2^-64 * k). */
static uint64_t s_rng_below(s_rng_t *g, uint64_t k)
{
    return (uint64_t) (((unsigned __int128) s_rng_next(g) * k) >> 64);
}

/* ---- node storage ------------------------------------------------------- */

static uint32_t s_push_node(vg_iforest_t *f)
{
    if (f->n_nodes == f->cap_nodes) {
        f->cap_nodes = f->cap_nodes ? f->cap_nodes * 2 : 1024;
        f->nodes = vg_realloc(f->nodes, f->cap_nodes * sizeof *f->nodes);
        f->size = vg_realloc(f->size, f->cap_nodes * sizeof *f->size);
    }
    f->size[f->n_nodes] = 0;
    VG_ASSERT(f->n_nodes < UINT32_MAX);
    return (uint32_t) f->n_nodes++;
}

static void s_set_leaf(vg_iforest_t *f, uint32_t i, uint32_t size, uint32_t depth)
{
    f->nodes[i] = (s_node_t){(double) depth + vg_iforest_c(size), 0, 0, 0, S_LEAF};
    f->size[i] = size;
    if (depth > f->max_depth) f->max_depth = depth;
}

static vg_iforest_t *s_new(uint32_t d, uint32_t trees, uint32_t sample, uint64_t seed)
{
    vg_iforest_t *f = VG_NEW(vg_iforest_t);
    f->d = d;
    f->trees = trees;
    f->sample = sample;
    f->seed = seed;
    f->c_psi = vg_iforest_c(sample);
    f->roots = vg_calloc(trees, sizeof *f->roots);
    return f;
}

/* Copies d names into one allocation (pointer table, then the strings). */
static void s_set_names(vg_iforest_t *f, const char *const *names, const uint32_t *lens)
{
    size_t total = 0;
    for (uint32_t i = 0; i < f->d; i++) total += lens[i] + 1;
    f->names = vg_malloc(f->d * sizeof(char *) + total);
    char *p = (char *) (f->names + f->d);
    for (uint32_t i = 0; i < f->d; i++) {
        memcpy(p, names[i], lens[i]);
        p[lens[i]] = '\0';
        f->names[i] = p;
        p += lens[i] + 1;
    }
}

void vg_iforest_destroy(vg_iforest_t **self_p)
{
    if (!self_p || !*self_p) return;
    vg_iforest_t *f = *self_p;
    free(f->nodes);
    free(f->size);
    free(f->roots);
    free(f->names);
    free(f);
    *self_p = NULL;
}

/* ---- training ----------------------------------------------------------- */

typedef struct {
    const double *x;
    uint32_t d, limit;
    s_rng_t rng;
    uint16_t *cand; /* d candidate attributes, reshuffled per node */
    vg_iforest_t *f;
} s_grow_t;

/* Range of attribute a over the rows idx[0..m) ignoring NaN; false when
 * it is constant or all missing. */
static bool s_range(const s_grow_t *g, const uint32_t *idx, uint32_t m, uint32_t a, double *lo,
                    double *hi)
{
    double mn = INFINITY, mx = -INFINITY;
    for (uint32_t i = 0; i < m; i++) {
        double v = g->x[(size_t) idx[i] * g->d + a];
        mn = v < mn ? v : mn; /* NaN compares false: skipped */
        mx = v > mx ? v : mx;
    }
    *lo = mn;
    *hi = mx;
    return mn < mx;
}

/* Draws the split attribute uniformly among the non-constant ones:
 * draw from the remaining candidates, drop a constant one and redraw. */
static bool s_pick(s_grow_t *g, const uint32_t *idx, uint32_t m, uint32_t *attr, double *lo,
                   double *hi)
{
    for (uint32_t a = 0; a < g->d; a++) g->cand[a] = (uint16_t) a;
    for (uint32_t k = g->d; k > 0; k--) {
        uint32_t j = (uint32_t) s_rng_below(&g->rng, k);
        uint16_t a = g->cand[j];
        if (s_range(g, idx, m, a, lo, hi)) {
            *attr = a;
            return true;
        }
        g->cand[j] = g->cand[k - 1];
        g->cand[k - 1] = a;
    }
    return false;
}

/* Moves the rows going left to the front of idx; returns their count. */
static uint32_t s_partition(const s_grow_t *g, uint32_t *idx, uint32_t m, uint32_t a, double p,
                            bool *nan_left)
{
    uint32_t n_le = 0, n_gt = 0;
    for (uint32_t i = 0; i < m; i++) {
        double v = g->x[(size_t) idx[i] * g->d + a];
        n_le += v <= p;
        n_gt += v > p;
    }
    *nan_left = n_le >= n_gt;
    uint32_t l = 0;
    for (uint32_t i = 0; i < m; i++) {
        double v = g->x[(size_t) idx[i] * g->d + a];
        if (v <= p || (v != v && *nan_left)) {
            uint32_t t = idx[l];
            idx[l++] = idx[i];
            idx[i] = t;
        }
    }
    return l;
}

static void s_grow(s_grow_t *g, uint32_t *idx, uint32_t m, uint32_t depth)
{
    vg_iforest_t *f = g->f;
    uint32_t me = s_push_node(f), a;
    double lo, hi;
    if (m <= 1 || depth >= g->limit || !s_pick(g, idx, m, &a, &lo, &hi)) {
        s_set_leaf(f, me, m, depth);
        return;
    }
    double p = lo + s_rng_unit(&g->rng) * (hi - lo);
    if (!(p < hi)) p = lo; /* rounding reached hi: keep the right side non-empty */
    bool nan_left;
    uint32_t l = s_partition(g, idx, m, a, p, &nan_left);
    VG_DASSERT(l > 0 && l < m);
    s_grow(g, idx, l, depth + 1);
    uint32_t right = (uint32_t) f->n_nodes - me;
    s_grow(g, idx + l, m - l, depth + 1);
    f->nodes[me] = (s_node_t){p, right, (uint16_t) a, 1, nan_left ? S_NAN_LEFT : 0};
}

static int s_check_params(size_t n, uint32_t d, const vg_iforest_params_t *p, char *errbuf,
                          size_t errlen)
{
    if (n < 2 || n > UINT32_MAX)
        return vg_errf(errbuf, errlen, VG_ERR_INVALID, "rows: need 2..%u, got %zu", UINT32_MAX, n);
    if (d < 1 || d > VG_IFOREST_MAX_DIMS)
        return vg_errf(errbuf, errlen, VG_ERR_INVALID, "columns: need 1..%d, got %u",
                       VG_IFOREST_MAX_DIMS, d);
    if (p->trees < 1 || p->trees > VG_IFOREST_MAX_TREES)
        return vg_errf(errbuf, errlen, VG_ERR_INVALID, "trees: need 1..%d, got %u",
                       VG_IFOREST_MAX_TREES, p->trees);
    if (p->sample < 2 || p->sample > VG_IFOREST_MAX_SAMPLE)
        return vg_errf(errbuf, errlen, VG_ERR_INVALID, "sample: need 2..%d, got %u",
                       VG_IFOREST_MAX_SAMPLE, p->sample);
    for (uint32_t i = 0; p->names && i < d; i++) {
        size_t len = p->names[i] ? strlen(p->names[i]) : 0;
        if (len < 1 || len > S_NAME_MAX)
            return vg_errf(errbuf, errlen, VG_ERR_INVALID, "names: name %u must be 1..%d bytes", i,
                           S_NAME_MAX);
    }
    return 0;
}

int vg_iforest_train(const double *x, size_t n, uint32_t d, const vg_iforest_params_t *params,
                     vg_iforest_t **out, char *errbuf, size_t errlen)
{
    VG_ASSERT(params && out && (x || n == 0));
    int rc = s_check_params(n, d, params, errbuf, errlen);
    if (rc) return rc;
    for (size_t i = 0; i < n * d; i++)
        if (isinf(x[i]))
            return vg_errf(errbuf, errlen, VG_ERR_INVALID, "row %zu column %zu: infinite value",
                           i / d, i % d);
    uint32_t psi = params->sample < n ? params->sample : (uint32_t) n;
    vg_iforest_t *f = s_new(d, params->trees, psi, params->seed);
    if (params->names) {
        uint32_t *lens = vg_malloc(d * sizeof *lens);
        for (uint32_t i = 0; i < d; i++) lens[i] = (uint32_t) strlen(params->names[i]);
        s_set_names(f, params->names, lens);
        free(lens);
    }
    s_grow_t g = {.x = x, .d = d, .limit = s_height_limit(psi), .f = f};
    s_rng_seed(&g.rng, params->seed);
    g.cand = vg_malloc(d * sizeof *g.cand);
    uint32_t *perm = vg_malloc(n * sizeof *perm), *idx = vg_malloc(psi * sizeof *idx);
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t) i;
    for (uint32_t t = 0; t < f->trees; t++) {
        /* partial Fisher-Yates: perm[0..psi) is a uniform sample without
         * replacement (any permutation left by the previous tree will do) */
        for (uint32_t i = 0; i < psi; i++) {
            size_t j = i + (size_t) s_rng_below(&g.rng, n - i);
            uint32_t tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        memcpy(idx, perm, psi * sizeof *idx);
        f->roots[t] = (uint32_t) f->n_nodes;
        s_grow(&g, idx, psi, 0);
    }
    free(perm);
    free(idx);
    free(g.cand);
    *out = f;
    return 0;
}

/* ---- scoring ------------------------------------------------------------ */

/* One step down; an external node is its own child (offsets 0). A
 * missing value (NaN fails v <= p) goes left only where the node says so;
 * rows without one take the shorter step. */
static inline uint32_t s_step(const s_node_t *nodes, uint32_t i, const double *row, bool nan)
{
    const s_node_t *nd = &nodes[i];
    double v = row[nd->feature];
    uint32_t go_left = v <= nd->value;
    if (nan) go_left |= (v != v) & (nd->flags & S_NAN_LEFT);
    uint32_t mask = 0u - go_left; /* a mask, not a branch: the outcome is a coin flip */
    return i + ((nd->left & mask) | (nd->right & ~mask));
}

static inline double s_walk(const vg_iforest_t *f, const double *row, bool nan)
{
    const s_node_t *nodes = f->nodes;
    uint32_t at[S_BATCH], depth = f->max_depth;
    double sum = 0;
    for (uint32_t t0 = 0; t0 < f->trees; t0 += S_BATCH) {
        uint32_t nb = f->trees - t0 < S_BATCH ? f->trees - t0 : S_BATCH;
        memcpy(at, f->roots + t0, nb * sizeof *at);
        for (uint32_t d = 0; d < depth; d++)
            for (uint32_t k = 0; k < nb; k++) at[k] = s_step(nodes, at[k], row, nan);
        for (uint32_t k = 0; k < nb; k++) sum += nodes[at[k]].value;
    }
    return sum / f->trees;
}

double vg_iforest_path_length(const vg_iforest_t *f, const double *row)
{
    uint32_t missing = 0;
    for (uint32_t j = 0; j < f->d; j++) missing |= row[j] != row[j];
    return missing ? s_walk(f, row, true) : s_walk(f, row, false);
}

double vg_iforest_score(const vg_iforest_t *f, const double *row)
{
    return exp2(-vg_iforest_path_length(f, row) / f->c_psi);
}

void vg_iforest_score_many(const vg_iforest_t *f, const double *x, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) out[i] = vg_iforest_score(f, x + i * f->d);
}

uint32_t vg_iforest_dims(const vg_iforest_t *f)
{
    return f->d;
}

uint32_t vg_iforest_trees(const vg_iforest_t *f)
{
    return f->trees;
}

uint32_t vg_iforest_sample(const vg_iforest_t *f)
{
    return f->sample;
}

uint64_t vg_iforest_seed(const vg_iforest_t *f)
{
    return f->seed;
}

size_t vg_iforest_node_count(const vg_iforest_t *f)
{
    return f->n_nodes;
}

const char *vg_iforest_name(const vg_iforest_t *f, uint32_t i)
{
    return f->names && i < f->d ? f->names[i] : NULL;
}

uint32_t vg_iforest_max_depth(const vg_iforest_t *f)
{
    return f->max_depth;
}

/* ---- codec -------------------------------------------------------------- */

void vg_iforest_encode(const vg_iforest_t *f, vg_mpw_t *w)
{
    vg_mpw_array(w, 7);
    vg_mpw_uint(w, S_BODY_VERSION);
    vg_mpw_uint(w, f->d);
    vg_mpw_uint(w, f->trees);
    vg_mpw_uint(w, f->sample);
    vg_mpw_uint(w, f->seed);
    if (f->names) {
        vg_mpw_array(w, f->d);
        for (uint32_t i = 0; i < f->d; i++)
            vg_mpw_str(w, f->names[i], (uint32_t) strlen(f->names[i]));
    } else {
        vg_mpw_nil(w);
    }
    vg_mpw_array(w, f->trees);
    for (uint32_t t = 0; t < f->trees; t++) {
        uint32_t lo = f->roots[t];
        uint32_t hi = t + 1 < f->trees ? f->roots[t + 1] : (uint32_t) f->n_nodes;
        vg_mpw_array(w, hi - lo);
        for (uint32_t i = lo; i < hi; i++) {
            const s_node_t *nd = &f->nodes[i];
            if (nd->flags & S_LEAF) {
                vg_mpw_array(w, 1);
                vg_mpw_uint(w, f->size[i]);
                continue;
            }
            vg_mpw_array(w, 4);
            vg_mpw_uint(w, nd->feature);
            vg_mpw_f64(w, nd->value);
            vg_mpw_uint(w, i + nd->right - lo);
            vg_mpw_bool(w, nd->flags & S_NAN_LEFT);
        }
    }
}

typedef struct {
    uint32_t lo, hi, depth; /* nodes [lo, hi) form one subtree rooted at depth */
} s_span_t;

/* Validates one tree given in pre-order and appends it: every range
 * [lo, hi) is one subtree whose root is node lo, split into [lo + 1, r)
 * and [r, hi); so each node is visited once, children point forward and
 * inside the tree, and no cycle can exist. */
static int s_add_tree(vg_iforest_t *f, uint32_t t, const vg_iforest_node_spec_t *spec, uint32_t m,
                      char *errbuf, size_t errlen)
{
    uint32_t limit = s_height_limit(f->sample), base = (uint32_t) f->n_nodes;
    uint64_t size_sum = 0;
    s_span_t stack[2 * S_MAX_HEIGHT + 2];
    int top = 0;
    if (m == 0) return vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: tree %u has no nodes", t);
    if (m > VG_IFOREST_MAX_NODES - f->n_nodes)
        return vg_errf(errbuf, errlen, VG_ERR_LIMIT, "forest: more than %u nodes in all",
                       VG_IFOREST_MAX_NODES);
    for (uint32_t i = 0; i < m; i++) s_push_node(f);
    f->roots[t] = base;
    stack[top++] = (s_span_t){0, m, 0};
    while (top > 0) {
        uint32_t lo = stack[top - 1].lo, hi = stack[top - 1].hi, depth = stack[top - 1].depth;
        top--;
        const vg_iforest_node_spec_t *s = &spec[lo];
        if (s->feature < 0) {
            if (hi != lo + 1)
                return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                               "forest: tree %u node %u: external node with descendants", t, lo);
            if (s->size < 1 || s->size > f->sample)
                return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                               "forest: tree %u node %u: external size %u outside 1..%u", t, lo,
                               s->size, f->sample);
            size_sum += s->size;
            s_set_leaf(f, base + lo, s->size, depth);
            continue;
        }
        if ((uint32_t) s->feature >= f->d)
            return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                           "forest: tree %u node %u: feature %d out of range (d = %u)", t, lo,
                           s->feature, f->d);
        if (!isfinite(s->threshold))
            return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                           "forest: tree %u node %u: split value is not finite", t, lo);
        if (depth >= limit)
            return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                           "forest: tree %u node %u: deeper than the height limit %u", t, lo,
                           limit);
        if (!(s->right > lo + 1 && s->right < hi))
            return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                           "forest: tree %u node %u: right child %u is not a forward index in "
                           "%u..%u",
                           t, lo, s->right, lo + 2, hi - 1);
        VG_ASSERT(top + 2 <= (int) VG_ARRAY_LEN(stack));
        stack[top++] = (s_span_t){s->right, hi, depth + 1};
        stack[top++] = (s_span_t){lo + 1, s->right, depth + 1};
        f->nodes[base + lo] = (s_node_t){s->threshold, s->right - lo, (uint16_t) s->feature, 1,
                                         s->nan_left ? S_NAN_LEFT : 0};
    }
    if (size_sum != f->sample)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                       "forest: tree %u: external sizes add up to %llu, not the sample size %u", t,
                       (unsigned long long) size_sum, f->sample);
    return 0;
}

/* Reads one node ([size] or [feature, value, right, nan_left]). */
static int s_read_node(vg_mpr_t *r, vg_iforest_node_spec_t *s)
{
    uint32_t k, feature;
    bool nan_left = false;
    memset(s, 0, sizeof *s);
    if (vg_mpr_array(r, &k)) return r->err;
    if (k == 1) {
        s->feature = -1;
        return vg_mpr_u32(r, &s->size);
    }
    if (k != 4) return vg_mpr_fail(r, VG_ERR_PARSE, "a node has 1 or 4 elements");
    if (vg_mpr_u32(r, &feature) || vg_mpr_f64(r, &s->threshold) || vg_mpr_u32(r, &s->right) ||
        vg_mpr_bool(r, &nan_left))
        return r->err;
    if (feature > S_FEATURE_MAX) return vg_mpr_fail(r, VG_ERR_PARSE, "feature index too large");
    s->feature = (int) feature;
    s->nan_left = nan_left;
    return 0;
}

static int s_read_names(vg_mpr_t *r, vg_iforest_t *f, char *errbuf, size_t errlen)
{
    uint32_t k;
    if (vg_mpr_nil(r)) return 0;
    if (vg_mpr_array(r, &k))
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: names: %s", r->reason);
    if (k != f->d)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: %u names for %u attributes", k, f->d);
    const char **names = vg_malloc(k * sizeof *names);
    uint32_t *lens = vg_malloc(k * sizeof *lens);
    int rc = 0;
    for (uint32_t i = 0; i < k && !rc; i++) {
        vg_str_t s;
        if (vg_mpr_str(r, &s))
            rc = vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: name %u: %s", i, r->reason);
        else if (s.len < 1 || s.len > S_NAME_MAX || memchr(s.ptr, 0, s.len))
            rc = vg_errf(errbuf, errlen, VG_ERR_PARSE,
                         "forest: name %u: must be 1..%d bytes without NUL", i, S_NAME_MAX);
        names[i] = s.ptr;
        lens[i] = s.len;
    }
    if (!rc) s_set_names(f, names, lens);
    free(names);
    free(lens);
    return rc;
}

static int s_read_header(vg_mpr_t *r, uint32_t hdr[5], uint64_t *seed, char *errbuf, size_t errlen)
{
    static const char *const what[] = {"version", "attribute count", "tree count", "sample size"};
    uint32_t k;
    if (vg_mpr_array(r, &k) || k < 7)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: %s",
                       r->err ? r->reason : "expected an array of at least 7 elements");
    for (int i = 0; i < 4; i++)
        if (vg_mpr_u32(r, &hdr[i]))
            return vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: %s: %s", what[i], r->reason);
    if (vg_mpr_uint(r, seed))
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: seed: %s", r->reason);
    hdr[4] = k;
    if (hdr[0] != S_BODY_VERSION)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: unsupported body version %u", hdr[0]);
    if (hdr[1] < 1 || hdr[1] > VG_IFOREST_MAX_DIMS)
        return vg_errf(errbuf, errlen, VG_ERR_LIMIT, "forest: attribute count %u outside 1..%d",
                       hdr[1], VG_IFOREST_MAX_DIMS);
    if (hdr[2] < 1 || hdr[2] > VG_IFOREST_MAX_TREES)
        return vg_errf(errbuf, errlen, VG_ERR_LIMIT, "forest: tree count %u outside 1..%d", hdr[2],
                       VG_IFOREST_MAX_TREES);
    if (hdr[3] < 2 || hdr[3] > VG_IFOREST_MAX_SAMPLE)
        return vg_errf(errbuf, errlen, VG_ERR_LIMIT, "forest: sample size %u outside 2..%d", hdr[3],
                       VG_IFOREST_MAX_SAMPLE);
    return 0;
}

static int s_read_trees(vg_mpr_t *r, vg_iforest_t *f, char *errbuf, size_t errlen)
{
    uint32_t k;
    if (vg_mpr_array(r, &k))
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: trees: %s", r->reason);
    if (k != f->trees)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: %u trees where %u were declared", k,
                       f->trees);
    vg_iforest_node_spec_t *spec = NULL;
    size_t cap = 0;
    int rc = 0;
    for (uint32_t t = 0; t < k && !rc; t++) {
        uint32_t m;
        if (vg_mpr_array(r, &m)) {
            rc = vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: tree %u: %s", t, r->reason);
            break;
        }
        if (m > 2ull * f->sample - 1) {
            rc = vg_errf(errbuf, errlen, VG_ERR_PARSE,
                         "forest: tree %u: %u nodes, more than 2 * sample - 1", t, m);
            break;
        }
        if (m > cap) spec = vg_realloc(spec, (cap = m) * sizeof *spec);
        for (uint32_t i = 0; i < m && !rc; i++)
            if (s_read_node(r, &spec[i]))
                rc = vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: tree %u node %u: %s", t, i,
                             r->reason);
        if (!rc) rc = s_add_tree(f, t, spec, m, errbuf, errlen);
    }
    free(spec);
    return rc;
}

int vg_iforest_decode(vg_mpr_t *r, vg_iforest_t **out, char *errbuf, size_t errlen)
{
    VG_ASSERT(r && out);
    uint32_t hdr[5];
    uint64_t seed;
    int rc = s_read_header(r, hdr, &seed, errbuf, errlen);
    if (rc) return rc;
    vg_iforest_t *f = s_new(hdr[1], hdr[2], hdr[3], seed);
    rc = s_read_names(r, f, errbuf, errlen);
    if (!rc) rc = s_read_trees(r, f, errbuf, errlen);
    for (uint32_t i = 7; !rc && i < hdr[4]; i++) /* later versions' extra elements */
        if (vg_mpr_skip(r)) rc = vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: %s", r->reason);
    if (rc) {
        vg_iforest_destroy(&f);
        return rc;
    }
    *out = f;
    return 0;
}

int vg_iforest_from_spec(uint32_t d, uint32_t sample, const vg_iforest_node_spec_t *nodes,
                         uint32_t n_nodes, vg_iforest_t **out, char *errbuf, size_t errlen)
{
    if (d < 1 || d > VG_IFOREST_MAX_DIMS || sample < 2 || sample > VG_IFOREST_MAX_SAMPLE ||
        n_nodes > 2ull * sample - 1)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "forest: bad shape");
    vg_iforest_t *f = s_new(d, 1, sample, 0);
    int rc = s_add_tree(f, 0, nodes, n_nodes, errbuf, errlen);
    if (rc) {
        vg_iforest_destroy(&f);
        return rc;
    }
    *out = f;
    return 0;
}
