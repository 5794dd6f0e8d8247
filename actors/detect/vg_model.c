/* vg_model.c: the model artifact (docs/MODEL_FORMAT.md): a fixed 64-byte
 * little-endian header, a msgpack metadata map, the msgpack forest body
 * and an XXH64 trailer over everything before it. Verification order on
 * load: size bounds, magic, version, section lengths, checksum, metadata,
 * feature names, schema hash, forest. */
#include "vg_model.h"

#include "vg_err.h"
#include "vg_file.h"
#include "vg_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#define S_SCHEMA_TAG "vigil-features/1\n"

/* Header field offsets (MODEL_FORMAT.md, "Header"). */
enum {
    S_OFF_MAGIC = 0,
    S_OFF_VERSION = 8,
    S_OFF_HDR_SIZE = 10,
    S_OFF_KIND = 12,
    S_OFF_N_FEATURES = 14,
    S_OFF_SCHEMA = 16,
    S_OFF_ENGINE = 24,
    S_OFF_DATA = 32,
    S_OFF_CREATED = 40,
    S_OFF_META_LEN = 48,
    S_OFF_BODY_LEN = 52,
    S_OFF_RESERVED = 56,
};

struct vg_model {
    vg_model_info_t info;
    vg_iforest_t *forest;
};

static const char *const s_metric_names[] = {
#define S_METRIC_NAME(name, doc) #name,
    VG_MODEL_METRIC_LIST(S_METRIC_NAME)
#undef S_METRIC_NAME
};
#define S_METRIC_COUNT VG_ARRAY_LEN(s_metric_names)
_Static_assert(sizeof(vg_model_metrics_t) == S_METRIC_COUNT * sizeof(double),
               "metrics are an array of doubles");

/* ---- little-endian fields ------------------------------------------------ */

static void s_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
}

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t) (v >> (8 * i));
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t) (v >> (8 * i));
}

static uint16_t s_get16(const uint8_t *p)
{
    return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t s_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* ---- hashes and names ------------------------------------------------------ */

uint64_t vg_model_fingerprint(const void *buf, size_t len)
{
    return XXH64(buf, len, 0);
}

static void s_hash_name(XXH64_state_t *st, const char *name)
{
    XXH64_update(st, name, strlen(name));
    XXH64_update(st, "\n", 1);
}

static void s_hash_engine(XXH64_state_t *st)
{
    for (int i = 0; i < VG_FEATURE_COUNT; i++) s_hash_name(st, vg_feature_name(i));
}

uint64_t vg_model_engine_hash(void)
{
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    XXH64_update(&st, S_SCHEMA_TAG, strlen(S_SCHEMA_TAG));
    s_hash_engine(&st);
    return XXH64_digest(&st);
}

uint64_t vg_model_schema_hash_current(const char *const *features, uint32_t n)
{
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    XXH64_update(&st, S_SCHEMA_TAG, strlen(S_SCHEMA_TAG));
    for (uint32_t i = 0; i < n; i++) s_hash_name(&st, features[i]);
    XXH64_update(&st, "--\n", 3);
    s_hash_engine(&st);
    return XXH64_digest(&st);
}

int vg_model_feature_index(const char *name, size_t len)
{
    for (int i = 0; i < VG_FEATURE_COUNT; i++) {
        const char *f = vg_feature_name(i);
        if (strlen(f) == len && memcmp(f, name, len) == 0) return i;
    }
    return -1;
}

/* ---- construction ------------------------------------------------------- */

void vg_model_metrics_init(vg_model_metrics_t *m)
{
    double *a = (double *) m;
    for (size_t i = 0; i < S_METRIC_COUNT; i++) a[i] = NAN;
}

static int64_t s_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void vg_model_meta_init(vg_model_meta_t *meta)
{
    memset(meta, 0, sizeof *meta);
    vg_model_metrics_init(&meta->metrics);
}

/* Resolves names to engine indices into info (distinct, known). */
static int s_set_features(vg_model_info_t *info, const vg_str_t *names, uint32_t n, int unknown_rc,
                          char *errbuf, size_t errlen)
{
    if (n < 1 || n > VG_FEATURE_COUNT)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "features: %u names, need 1..%d", n,
                       VG_FEATURE_COUNT);
    bool seen[VG_FEATURE_COUNT] = {false};
    for (uint32_t i = 0; i < n; i++) {
        int k = vg_model_feature_index(names[i].ptr, names[i].len);
        if (k < 0)
            return vg_errf(errbuf, errlen, unknown_rc,
                           "features: '%.*s' is unknown to this feature engine", (int) names[i].len,
                           names[i].ptr);
        if (seen[k])
            return vg_errf(errbuf, errlen, VG_ERR_PARSE, "features: '%s' is listed twice",
                           vg_feature_name(k));
        seen[k] = true;
        info->feature_index[i] = (uint8_t) k;
        info->features[i] = vg_feature_name(k); /* static: lives as long as any model */
    }
    info->n_features = n;
    return 0;
}

static void s_set_forest_info(vg_model_info_t *info, const vg_iforest_t *f)
{
    info->trees = vg_iforest_trees(f);
    info->sample = vg_iforest_sample(f);
    info->seed = vg_iforest_seed(f);
}

/* Forest attribute names, when present, must be the model's features. */
static int s_check_forest(const vg_model_info_t *info, const vg_iforest_t *f, char *errbuf,
                          size_t errlen)
{
    if (vg_iforest_dims(f) != info->n_features)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                       "forest has %u attributes but the model lists %u features",
                       vg_iforest_dims(f), info->n_features);
    for (uint32_t i = 0; i < info->n_features; i++) {
        const char *name = vg_iforest_name(f, i);
        if (name && strcmp(name, info->features[i]) != 0)
            return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                           "forest attribute %u is '%s' but the model's feature %u is '%s'", i,
                           name, i, info->features[i]);
    }
    return 0;
}

int vg_model_new(vg_iforest_t **forest_p, const char *const *features, uint32_t n,
                 const vg_model_meta_t *meta, vg_model_t **out, char *errbuf, size_t errlen)
{
    VG_ASSERT(forest_p && *forest_p && features && out);
    vg_model_t *m = VG_NEW(vg_model_t);
    vg_model_info_t *info = &m->info;
    vg_str_t names[VG_FEATURE_COUNT];
    for (uint32_t i = 0; i < n && i < VG_FEATURE_COUNT; i++) names[i] = vg_str_c(features[i]);
    int rc = s_set_features(info, names, n, VG_ERR_INVALID, errbuf, errlen);
    if (!rc) rc = s_check_forest(info, *forest_p, errbuf, errlen);
    if (!rc && meta && !(meta->holdout >= 0 && meta->holdout < 1))
        rc = vg_errf(errbuf, errlen, VG_ERR_INVALID, "holdout: must be within [0, 1)");
    if (!rc && meta && (meta->created_ms < 0 || meta->created_ms > VG_TX_TS_MAX))
        rc = vg_errf(errbuf, errlen, VG_ERR_INVALID, "created_ms: out of range");
    if (rc) {
        free(m);
        return rc == VG_ERR_PARSE ? VG_ERR_INVALID : rc;
    }
    if (meta)
        info->meta = *meta;
    else
        vg_model_meta_init(&info->meta);
    info->meta.source[VG_MODEL_TEXT_MAX - 1] = info->meta.tool[VG_MODEL_TEXT_MAX - 1] = '\0';
    if (info->meta.created_ms == 0) info->meta.created_ms = s_now_ms();
    vg_ts_format(info->meta.created_ms, info->created);
    info->version = VG_MODEL_VERSION;
    info->schema_hash = vg_model_schema_hash_current(info->features, n);
    info->engine_hash = vg_model_engine_hash();
    s_set_forest_info(info, *forest_p);
    if (info->meta.sample == 0) info->meta.sample = info->sample;
    m->forest = *forest_p;
    *forest_p = NULL;
    *out = m;
    return 0;
}

void vg_model_destroy(vg_model_t **self_p)
{
    if (!self_p || !*self_p) return;
    vg_iforest_destroy(&(*self_p)->forest);
    free(*self_p);
    *self_p = NULL;
}

const vg_model_info_t *vg_model_info(const vg_model_t *m)
{
    return &m->info;
}

const vg_iforest_t *vg_model_forest(const vg_model_t *m)
{
    return m->forest;
}

void vg_model_row(const vg_model_t *m, const vg_features_t *f, double *row)
{
    const double *a = vg_features_array(f);
    for (uint32_t i = 0; i < m->info.n_features; i++) row[i] = a[m->info.feature_index[i]];
}

double vg_model_score_features(const vg_model_t *m, const vg_features_t *f)
{
    double row[VG_FEATURE_COUNT];
    vg_model_row(m, f, row);
    return vg_iforest_score(m->forest, row);
}

/* ---- encoding ----------------------------------------------------------- */

static void s_kstr(vg_mpw_t *w, const char *key, const char *val)
{
    vg_mpw_str(w, key, (uint32_t) strlen(key));
    vg_mpw_str(w, val, (uint32_t) strlen(val));
}

static void s_key(vg_mpw_t *w, const char *key)
{
    vg_mpw_str(w, key, (uint32_t) strlen(key));
}

static void s_encode_meta(const vg_model_info_t *info, vg_mpw_t *w)
{
    const vg_model_meta_t *meta = &info->meta;
    vg_mpw_map(w, 6);
    s_key(w, "features");
    vg_mpw_array(w, info->n_features);
    for (uint32_t i = 0; i < info->n_features; i++)
        vg_mpw_str(w, info->features[i], (uint32_t) strlen(info->features[i]));
    s_kstr(w, "created", info->created);
    s_kstr(w, "source", meta->source);
    s_kstr(w, "tool", meta->tool);
    s_key(w, "params");
    vg_mpw_map(w, 4);
    s_key(w, "trees");
    vg_mpw_uint(w, info->trees);
    s_key(w, "sample");
    vg_mpw_uint(w, meta->sample);
    s_key(w, "seed");
    vg_mpw_uint(w, info->seed);
    s_key(w, "holdout");
    vg_mpw_f64(w, meta->holdout);
    s_key(w, "metrics");
    vg_mpw_map(w, (uint32_t) S_METRIC_COUNT);
    const double *mv = (const double *) &meta->metrics;
    for (size_t i = 0; i < S_METRIC_COUNT; i++) {
        s_key(w, s_metric_names[i]);
        vg_mpw_f64(w, mv[i]);
    }
}

int vg_model_encode(const vg_model_t *m, vg_mpw_t *w)
{
    const vg_model_info_t *info = &m->info;
    size_t start = w->len;
    uint8_t hdr[VG_MODEL_HEADER_SIZE] = {0};
    vg_mpw_raw(w, hdr, sizeof hdr); /* filled in below, once lengths are known */
    s_encode_meta(info, w);
    size_t meta_len = w->len - start - VG_MODEL_HEADER_SIZE;
    vg_iforest_encode(m->forest, w);
    size_t body_len = w->len - start - VG_MODEL_HEADER_SIZE - meta_len;
    if (w->err) return w->err;
    if (w->len - start + VG_MODEL_TRAILER > VG_MODEL_MAX_BYTES) return VG_ERR_TOO_LARGE;
    memcpy(hdr + S_OFF_MAGIC, VG_MODEL_MAGIC, 8);
    s_put16(hdr + S_OFF_VERSION, VG_MODEL_VERSION);
    s_put16(hdr + S_OFF_HDR_SIZE, VG_MODEL_HEADER_SIZE);
    s_put16(hdr + S_OFF_KIND, VG_MODEL_KIND_IFOREST);
    s_put16(hdr + S_OFF_N_FEATURES, (uint16_t) info->n_features);
    s_put64(hdr + S_OFF_SCHEMA, info->schema_hash);
    s_put64(hdr + S_OFF_ENGINE, info->engine_hash);
    s_put64(hdr + S_OFF_DATA, info->meta.data_hash);
    s_put64(hdr + S_OFF_CREATED, (uint64_t) info->meta.created_ms);
    s_put32(hdr + S_OFF_META_LEN, (uint32_t) meta_len);
    s_put32(hdr + S_OFF_BODY_LEN, (uint32_t) body_len);
    memcpy(w->buf + start, hdr, sizeof hdr);
    uint8_t sum[8];
    s_put64(sum, vg_model_fingerprint(w->buf + start, w->len - start));
    vg_mpw_raw(w, sum, sizeof sum);
    return w->err;
}

/* ---- decoding ----------------------------------------------------------- */

/* Fixed header checks; fills the lengths. */
static int s_check_header(const uint8_t *p, size_t len, uint32_t *meta_len, uint32_t *body_len,
                          char *errbuf, size_t errlen)
{
    if (len > VG_MODEL_MAX_BYTES)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "model: %zu bytes, more than the %u allowed",
                       len, VG_MODEL_MAX_BYTES);
    if (len < 8 || memcmp(p, VG_MODEL_MAGIC, 8) != 0)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                       "model: bad magic: not a Vigil model artifact (expected \"%s\")",
                       VG_MODEL_MAGIC);
    if (len < VG_MODEL_HEADER_SIZE + VG_MODEL_TRAILER)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                       "model: truncated: %zu bytes, shorter than header and checksum", len);
    uint16_t version = s_get16(p + S_OFF_VERSION);
    if (version != VG_MODEL_VERSION)
        return vg_errf(errbuf, errlen, VG_ERR_UNSUPPORTED,
                       "model: unsupported format version %u (this build reads %d)", version,
                       VG_MODEL_VERSION);
    if (s_get16(p + S_OFF_HDR_SIZE) != VG_MODEL_HEADER_SIZE)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "model: header size %u, expected %d",
                       s_get16(p + S_OFF_HDR_SIZE), VG_MODEL_HEADER_SIZE);
    *meta_len = s_get32(p + S_OFF_META_LEN);
    *body_len = s_get32(p + S_OFF_BODY_LEN);
    uint64_t want = (uint64_t) VG_MODEL_HEADER_SIZE + *meta_len + *body_len + VG_MODEL_TRAILER;
    if (want > len)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                       "model: truncated: %zu bytes, the header announces %llu", len,
                       (unsigned long long) want);
    if (want < len)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                       "model: %zu bytes, the header announces %llu (trailing data)", len,
                       (unsigned long long) want);
    uint64_t sum = s_get64(p + len - VG_MODEL_TRAILER);
    if (sum != vg_model_fingerprint(p, len - VG_MODEL_TRAILER))
        return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                       "model: checksum mismatch: the artifact is corrupt");
    if (s_get16(p + S_OFF_KIND) != VG_MODEL_KIND_IFOREST)
        return vg_errf(errbuf, errlen, VG_ERR_UNSUPPORTED, "model: unsupported model kind %u",
                       s_get16(p + S_OFF_KIND));
    for (int i = S_OFF_RESERVED; i < VG_MODEL_HEADER_SIZE; i++)
        if (p[i]) return vg_errf(errbuf, errlen, VG_ERR_PARSE, "model: reserved header bytes set");
    return 0;
}

static int s_read_text(vg_mpr_t *r, char *dst, size_t cap)
{
    vg_str_t s;
    if (vg_mpr_str(r, &s)) return r->err;
    if (s.len >= cap || memchr(s.ptr, 0, s.len))
        return vg_mpr_fail(r, VG_ERR_PARSE, "text too long or containing NUL");
    memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
    return 0;
}

static int s_read_params(vg_mpr_t *r, vg_model_meta_t *meta)
{
    uint32_t n;
    if (vg_mpr_map(r, &n)) return r->err;
    while (n--) {
        vg_str_t k;
        uint64_t ignore;
        if (vg_mpr_str(r, &k)) return r->err;
        if (vg_str_eq_c(k, "sample"))
            vg_mpr_u32(r, &meta->sample);
        else if (vg_str_eq_c(k, "holdout"))
            vg_mpr_f64(r, &meta->holdout);
        else if (vg_str_eq_c(k, "trees") || vg_str_eq_c(k, "seed"))
            vg_mpr_uint(r, &ignore); /* the forest's own are authoritative */
        else
            vg_mpr_skip(r);
        if (r->err) return r->err;
    }
    if (!(meta->holdout >= 0 && meta->holdout < 1))
        return vg_mpr_fail(r, VG_ERR_PARSE, "holdout outside [0, 1)");
    return 0;
}

static int s_read_metrics(vg_mpr_t *r, vg_model_metrics_t *m)
{
    uint32_t n;
    double *mv = (double *) m;
    if (vg_mpr_map(r, &n)) return r->err;
    while (n--) {
        vg_str_t k;
        double v;
        if (vg_mpr_str(r, &k) || vg_mpr_f64(r, &v)) return r->err;
        for (size_t i = 0; i < S_METRIC_COUNT; i++)
            if (vg_str_eq_c(k, s_metric_names[i])) mv[i] = v;
    }
    return 0;
}

typedef struct {
    vg_str_t names[VG_FEATURE_COUNT];
    uint32_t n_names;
    bool has_features, has_created;
} s_meta_seen_t;

static int s_read_feature_names(vg_mpr_t *r, s_meta_seen_t *seen)
{
    uint32_t n;
    if (vg_mpr_array(r, &n)) return r->err;
    if (n < 1 || n > VG_FEATURE_COUNT)
        return vg_mpr_fail(r, VG_ERR_PARSE, "feature count outside 1..VG_FEATURE_COUNT");
    for (uint32_t i = 0; i < n; i++)
        if (vg_mpr_str(r, &seen->names[i])) return r->err;
    seen->n_names = n;
    seen->has_features = true;
    return 0;
}

/* The metadata map; unknown keys are skipped (forward compatibility). */
static int s_read_meta(vg_mpr_t *r, vg_model_info_t *info, s_meta_seen_t *seen, char *errbuf,
                       size_t errlen)
{
    uint32_t n;
    if (vg_mpr_map(r, &n))
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "model: metadata: %s", r->reason);
    while (n--) {
        vg_str_t k = VG_STR_NULL;
        if (vg_mpr_str(r, &k)) break;
        if (vg_str_eq_c(k, "features")) {
            s_read_feature_names(r, seen);
        } else if (vg_str_eq_c(k, "created")) {
            seen->has_created = s_read_text(r, info->created, sizeof info->created) == 0;
        } else if (vg_str_eq_c(k, "source")) {
            s_read_text(r, info->meta.source, sizeof info->meta.source);
        } else if (vg_str_eq_c(k, "tool")) {
            s_read_text(r, info->meta.tool, sizeof info->meta.tool);
        } else if (vg_str_eq_c(k, "params")) {
            s_read_params(r, &info->meta);
        } else if (vg_str_eq_c(k, "metrics")) {
            s_read_metrics(r, &info->meta.metrics);
        } else {
            vg_mpr_skip(r);
        }
        if (r->err)
            return vg_errf(errbuf, errlen, VG_ERR_PARSE, "model: metadata: %.*s: %s", (int) k.len,
                           k.ptr ? k.ptr : "", r->reason);
    }
    if (r->err) return vg_errf(errbuf, errlen, VG_ERR_PARSE, "model: metadata: %s", r->reason);
    if (vg_mpr_remaining(r))
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "model: metadata: trailing bytes");
    if (!seen->has_features || !seen->has_created)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE, "model: metadata: '%s' is missing",
                       seen->has_features ? "created" : "features");
    int64_t ms;
    if (vg_ts_parse_rfc3339(info->created, strlen(info->created), &ms) ||
        ms != info->meta.created_ms)
        return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                       "model: metadata: created '%s' disagrees with the header", info->created);
    return 0;
}

int vg_model_decode(const void *buf, size_t len, vg_model_t **out, char *errbuf, size_t errlen)
{
    VG_ASSERT(out && (buf || len == 0));
    const uint8_t *p = buf;
    uint32_t meta_len = 0, body_len = 0;
    int rc = s_check_header(p, len, &meta_len, &body_len, errbuf, errlen);
    if (rc) return rc;
    vg_model_t *m = VG_NEW(vg_model_t);
    vg_model_info_t *info = &m->info;
    vg_model_meta_init(&info->meta);
    info->version = s_get16(p + S_OFF_VERSION);
    info->schema_hash = s_get64(p + S_OFF_SCHEMA);
    info->engine_hash = s_get64(p + S_OFF_ENGINE);
    info->meta.data_hash = s_get64(p + S_OFF_DATA);
    info->meta.created_ms = (int64_t) s_get64(p + S_OFF_CREATED);
    s_meta_seen_t seen = {0};
    vg_mpr_t r;
    vg_mpr_init(&r, p + VG_MODEL_HEADER_SIZE, meta_len);
    rc = s_read_meta(&r, info, &seen, errbuf, errlen);
    if (!rc && seen.n_names != s_get16(p + S_OFF_N_FEATURES))
        rc = vg_errf(errbuf, errlen, VG_ERR_PARSE,
                     "model: %u features listed, the header announces %u", seen.n_names,
                     s_get16(p + S_OFF_N_FEATURES));
    if (!rc)
        rc = s_set_features(info, seen.names, seen.n_names, VG_ERR_UNSUPPORTED, errbuf, errlen);
    uint64_t want = rc ? 0 : vg_model_schema_hash_current(info->features, info->n_features);
    if (!rc && want != info->schema_hash)
        rc = vg_errf(errbuf, errlen, VG_ERR_UNSUPPORTED,
                     "model: schema hash %016llx does not match this feature engine's %016llx: "
                     "the model was trained against a different feature engine",
                     (unsigned long long) info->schema_hash, (unsigned long long) want);
    if (!rc) {
        vg_mpr_init(&r, p + VG_MODEL_HEADER_SIZE + meta_len, body_len);
        rc = vg_iforest_decode(&r, &m->forest, errbuf, errlen);
        if (!rc && vg_mpr_remaining(&r))
            rc = vg_errf(errbuf, errlen, VG_ERR_PARSE, "model: trailing bytes after the forest");
        if (rc == VG_ERR_LIMIT) rc = VG_ERR_PARSE;
    }
    if (!rc) rc = s_check_forest(info, m->forest, errbuf, errlen);
    if (rc) {
        vg_model_destroy(&m);
        return rc;
    }
    s_set_forest_info(info, m->forest);
    if (info->meta.sample == 0) info->meta.sample = info->sample;
    *out = m;
    return 0;
}

/* ---- files -------------------------------------------------------------- */

int vg_model_load(const char *path, vg_model_t **out, char *errbuf, size_t errlen)
{
    char *buf, why[256];
    size_t len;
    int rc = vg_file_read(path, VG_MODEL_MAX_BYTES, &buf, &len, errbuf, errlen);
    if (rc) return rc == VG_ERR_TOO_LARGE ? VG_ERR_PARSE : rc;
    rc = vg_model_decode(buf, len, out, why, sizeof why);
    free(buf);
    if (rc) vg_errf(errbuf, errlen, rc, "%s: %s", path, why);
    return rc;
}

int vg_model_save(const vg_model_t *m, const char *path, uint64_t *hash, char *errbuf,
                  size_t errlen)
{
    vg_mpw_t w;
    vg_mpw_init(&w);
    int rc = vg_model_encode(m, &w);
    if (rc) {
        vg_mpw_fini(&w);
        return vg_errf(errbuf, errlen, rc, "%s: cannot encode the model: %s", path,
                       vg_strerror(rc));
    }
    size_t plen = strlen(path);
    char *tmp = vg_malloc(plen + 16);
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long) getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    for (size_t off = 0; ok && off < w.len;) {
        ssize_t k = write(fd, w.buf + off, w.len - off);
        if (k < 0 && errno == EINTR) continue;
        ok = k > 0;
        off += ok ? (size_t) k : 0;
    }
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0) ok = false;
    if (ok && rename(tmp, path) != 0) {
        saved = errno;
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        rc = vg_errf(errbuf, errlen, VG_ERR_IO, "%s: cannot write: %s", path, strerror(saved));
    } else if (hash) {
        *hash = vg_model_fingerprint(w.buf, w.len);
    }
    free(tmp);
    vg_mpw_fini(&w);
    return rc;
}
