/* vg_msg.c: envelope codec, and the body codecs and validators generated
 * from VG_MSG_TABLE: each message's encoder/decoder/validator is the list
 * of its fields, each field handled by the function of its kind. */
#include "vg_msg.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <stdio.h>
#include <string.h>

const char *vg_msg_type_name(int type)
{
    switch (type) {
#define VG__MSG_NAME(NAME, code, lname, BODY) \
    case code: return #NAME;
        VG_MSG_TABLE(VG__MSG_NAME)
#undef VG__MSG_NAME
    default: return NULL;
    }
}

bool vg_msg_type_known(int type)
{
    return vg_msg_type_name(type) != NULL;
}

/* ---- envelope ---------------------------------------------------------- */

void vg_env_encode(const vg_env_t *e, vg_mpw_t *w)
{
    vg_mpw_array(w, VG_ENV_FIELDS);
    vg_mpw_str(w, "VG", 2);
    vg_mpw_uint(w, e->version);
    vg_mpw_uint(w, e->type);
    vg_mpw_uint(w, e->flags);
    vg_mpw_uint(w, e->corr);
    vg_mpw_uint(w, e->src);
    vg_mpw_uint(w, e->shard);
    vg_mpw_uint(w, e->epoch);
    vg_mpw_uint(w, e->trace);
}

int vg_env_decode(const void *buf, size_t len, vg_env_t *e, vg_perr_t *err)
{
    if (len > VG_ENV_MAX)
        return vg_perr_set(err, VG_ERR_TOO_LARGE, "envelope", "%zu bytes (max %d)", len,
                           VG_ENV_MAX);
    vg_mpr_t r;
    vg_mpr_init(&r, buf, len);
    uint32_t n;
    vg_str_t magic;
    uint64_t version, type;
    if (vg_mpr_array(&r, &n)) return vg_mpr_perr(&r, err, "envelope");
    if (n < VG_ENV_FIELDS)
        return vg_perr_set(err, VG_ERR_PARSE, "envelope", "%u fields, expected %d", n,
                           VG_ENV_FIELDS);
    if (vg_mpr_str(&r, &magic) || !vg_str_eq_c(magic, "VG"))
        return vg_perr_set(err, VG_ERR_PROTO, "envelope.magic", "not a Vigil message");
    if (vg_mpr_uint(&r, &version)) return vg_mpr_perr(&r, err, "envelope.version");
    if (version != VG_PROTO_VERSION)
        return vg_perr_set(err, VG_ERR_PROTO, "envelope.version", "unsupported version %llu",
                           (unsigned long long) version);
    if (vg_mpr_uint(&r, &type) || type > 0xff) return vg_mpr_perr(&r, err, "envelope.type");
    e->version = (uint8_t) version;
    e->type = (uint8_t) type;
    if (vg_mpr_u32(&r, &e->flags)) return vg_mpr_perr(&r, err, "envelope.flags");
    if (vg_mpr_uint(&r, &e->corr)) return vg_mpr_perr(&r, err, "envelope.corr");
    if (vg_mpr_u32(&r, &e->src)) return vg_mpr_perr(&r, err, "envelope.src");
    if (vg_mpr_u32(&r, &e->shard)) return vg_mpr_perr(&r, err, "envelope.shard");
    if (vg_mpr_uint(&r, &e->epoch)) return vg_mpr_perr(&r, err, "envelope.epoch");
    if (vg_mpr_uint(&r, &e->trace)) return vg_mpr_perr(&r, err, "envelope.trace");
    for (uint32_t i = VG_ENV_FIELDS; i < n; i++)
        if (vg_mpr_skip(&r)) return vg_mpr_perr(&r, err, "envelope");
    if (vg_mpr_remaining(&r))
        return vg_perr_set(err, VG_ERR_PARSE, "envelope", "trailing bytes after the envelope");
    return 0;
}

/* ---- field kinds: encode ----------------------------------------------- */

static void s_enc_U32(vg_mpw_t *w, const uint32_t *v)
{
    vg_mpw_uint(w, *v);
}

static void s_enc_U64(vg_mpw_t *w, const uint64_t *v)
{
    vg_mpw_uint(w, *v);
}

static void s_enc_I32(vg_mpw_t *w, const int32_t *v)
{
    vg_mpw_int(w, *v);
}

static void s_enc_I64(vg_mpw_t *w, const int64_t *v)
{
    vg_mpw_int(w, *v);
}

static void s_enc_STR(vg_mpw_t *w, const vg_str_t *v)
{
    vg_mpw_str(w, v->ptr ? v->ptr : "", v->len);
}

static void s_enc_BIN(vg_mpw_t *w, const vg_str_t *v)
{
    vg_mpw_bin(w, v->ptr ? v->ptr : "", v->len);
}

static void s_enc_TXS(vg_mpw_t *w, const vg_tx_list_t *v)
{
    vg_mpw_array(w, v->n);
    for (uint32_t i = 0; i < v->n; i++) vg_tx_encode(&v->items[i], w);
}

static void s_enc_VERDICTS(vg_mpw_t *w, const vg_verdict_list_t *v)
{
    vg_mpw_array(w, v->n);
    for (uint32_t i = 0; i < v->n; i++) vg_verdict_encode(&v->items[i], w);
}

/* ---- field kinds: decode (structure) ----------------------------------- */

typedef struct {
    vg_mpr_t *r;
    vg_arena_t *arena;
    vg_perr_t *err;
} s_dec_t;

static int s_dec_U32(s_dec_t *d, uint32_t *v, const char *f)
{
    return vg_mpr_u32(d->r, v) ? vg_mpr_perr(d->r, d->err, f) : 0;
}

static int s_dec_U64(s_dec_t *d, uint64_t *v, const char *f)
{
    return vg_mpr_uint(d->r, v) ? vg_mpr_perr(d->r, d->err, f) : 0;
}

static int s_dec_I64(s_dec_t *d, int64_t *v, const char *f)
{
    return vg_mpr_int(d->r, v) ? vg_mpr_perr(d->r, d->err, f) : 0;
}

static int s_dec_I32(s_dec_t *d, int32_t *v, const char *f)
{
    int64_t x;
    if (vg_mpr_int(d->r, &x)) return vg_mpr_perr(d->r, d->err, f);
    if (x < INT32_MIN || x > INT32_MAX)
        return vg_perr_set(d->err, VG_ERR_PARSE, f, "integer out of range (int32)");
    *v = (int32_t) x;
    return 0;
}

static int s_dec_STR(s_dec_t *d, vg_str_t *v, const char *f)
{
    return vg_mpr_str(d->r, v) ? vg_mpr_perr(d->r, d->err, f) : 0;
}

static int s_dec_BIN(s_dec_t *d, vg_str_t *v, const char *f)
{
    const uint8_t *p;
    uint32_t n;
    if (vg_mpr_bin(d->r, &p, &n)) return vg_mpr_perr(d->r, d->err, f);
    *v = (vg_str_t){(const char *) p, n};
    return 0;
}

/* Prefixes the item's field name with "<list>[i]." */
static int s_item_fail(vg_perr_t *err, const char *list, uint32_t i, int rc)
{
    if (!err) return rc;
    char field[sizeof err->field + 32];
    snprintf(field, sizeof field, "%s[%u]%s%s", list, i, err->field[0] ? "." : "", err->field);
    size_t n = VG_MIN(strlen(field), sizeof err->field - 1); /* truncate */
    memcpy(err->field, field, n);
    err->field[n] = 0;
    err->index = (int32_t) i;
    return rc;
}

static int s_list_len(s_dec_t *d, uint32_t *n, uint32_t max, const char *f)
{
    if (vg_mpr_array(d->r, n)) return vg_mpr_perr(d->r, d->err, f);
    if (*n > max) return vg_perr_set(d->err, VG_ERR_LIMIT, f, "%u items (max %u)", *n, max);
    return 0;
}

static int s_dec_TXS(s_dec_t *d, vg_tx_list_t *v, const char *f)
{
    if (s_list_len(d, &v->n, VG_TX_BATCH_MAX, f)) return d->err ? d->err->code : VG_ERR_LIMIT;
    v->items = vg_arena_alloc(d->arena, (size_t) v->n * sizeof *v->items);
    for (uint32_t i = 0; i < v->n; i++) {
        int rc = vg_tx_decode(d->r, &v->items[i], d->err);
        if (rc) return s_item_fail(d->err, f, i, rc);
    }
    return 0;
}

static int s_dec_VERDICTS(s_dec_t *d, vg_verdict_list_t *v, const char *f)
{
    if (s_list_len(d, &v->n, VG_TX_BATCH_MAX, f)) return d->err ? d->err->code : VG_ERR_LIMIT;
    v->items = vg_arena_alloc(d->arena, (size_t) v->n * sizeof *v->items);
    for (uint32_t i = 0; i < v->n; i++) {
        int rc = vg_verdict_decode(d->r, &v->items[i], d->err);
        if (rc) return s_item_fail(d->err, f, i, rc);
    }
    return 0;
}

/* ---- field kinds: validate (semantics) --------------------------------- */

static int s_val_U32(const uint32_t *v, const char *f, vg_perr_t *err)
{
    return (void) v, (void) f, (void) err, 0;
}

static int s_val_U64(const uint64_t *v, const char *f, vg_perr_t *err)
{
    return (void) v, (void) f, (void) err, 0;
}

static int s_val_I32(const int32_t *v, const char *f, vg_perr_t *err)
{
    return (void) v, (void) f, (void) err, 0;
}

static int s_val_I64(const int64_t *v, const char *f, vg_perr_t *err)
{
    return (void) v, (void) f, (void) err, 0;
}

static int s_val_STR(const vg_str_t *v, const char *f, vg_perr_t *err)
{
    if (v->len && !vg_utf8_valid(v->ptr, v->len))
        return vg_perr_set(err, VG_ERR_INVALID, f, "must be valid UTF-8");
    return 0;
}

static int s_val_BIN(const vg_str_t *v, const char *f, vg_perr_t *err)
{
    return (void) v, (void) f, (void) err, 0;
}

static int s_val_TXS(const vg_tx_list_t *v, const char *f, vg_perr_t *err)
{
    if (v->n > VG_TX_BATCH_MAX)
        return vg_perr_set(err, VG_ERR_LIMIT, f, "%u items (max %d)", v->n, VG_TX_BATCH_MAX);
    for (uint32_t i = 0; i < v->n; i++) {
        int rc = vg_tx_validate(&v->items[i], err);
        if (rc) return s_item_fail(err, f, i, rc);
    }
    return 0;
}

static int s_val_VERDICTS(const vg_verdict_list_t *v, const char *f, vg_perr_t *err)
{
    if (v->n > VG_TX_BATCH_MAX)
        return vg_perr_set(err, VG_ERR_LIMIT, f, "%u items (max %d)", v->n, VG_TX_BATCH_MAX);
    return 0;
}

/* ---- per-message codecs, generated ------------------------------------- */

#define VG__COUNT(KIND, name, doc) +1
#define VG__ENC(KIND, name, doc)   s_enc_##KIND(w, &b->name);
#define VG__DEC(KIND, name, doc) \
    if ((rc = s_dec_##KIND(d, &b->name, #name))) return rc;
#define VG__VAL(KIND, name, doc) \
    if ((rc = s_val_##KIND(&b->name, #name, err))) return rc;

#define VG__CODEC(NAME, code, lname, BODY)                                                     \
    static void s_enc_##lname(const vg_body_##lname##_t *b, vg_mpw_t *w)                       \
    {                                                                                          \
        vg_mpw_array(w, 0 BODY(VG__COUNT));                                                    \
        BODY(VG__ENC)                                                                          \
    }                                                                                          \
    static int s_val_##lname(const vg_body_##lname##_t *b, vg_perr_t *err)                     \
    {                                                                                          \
        int rc;                                                                                \
        BODY(VG__VAL)                                                                          \
        return 0;                                                                              \
    }                                                                                          \
    static int s_dec_##lname(s_dec_t *d, vg_body_##lname##_t *b)                               \
    {                                                                                          \
        uint32_t n;                                                                            \
        int rc;                                                                                \
        if (vg_mpr_array(d->r, &n)) return vg_mpr_perr(d->r, d->err, "");                      \
        if (n < 0 BODY(VG__COUNT))                                                             \
            return vg_perr_set(d->err, VG_ERR_PARSE, "", "%s body has %u fields, expected %d", \
                               #NAME, n, 0 BODY(VG__COUNT));                                   \
        BODY(VG__DEC)                                                                          \
        for (uint32_t i = 0 BODY(VG__COUNT); i < n; i++)                                       \
            if (vg_mpr_skip(d->r)) return vg_mpr_perr(d->r, d->err, "");                       \
        return s_val_##lname(b, d->err);                                                       \
    }
VG_MSG_TABLE(VG__CODEC)
#undef VG__CODEC

int vg_msg_body_encode(const vg_msg_t *m, vg_mpw_t *w)
{
    switch (m->env.type) {
#define VG__ENC_CASE(NAME, code, lname, BODY) \
    case code: s_enc_##lname(&m->body.lname, w); return w->err;
        VG_MSG_TABLE(VG__ENC_CASE)
#undef VG__ENC_CASE
    default: return VG_ERR_UNSUPPORTED;
    }
}

int vg_msg_validate(const vg_msg_t *m, vg_perr_t *err)
{
    switch (m->env.type) {
#define VG__VAL_CASE(NAME, code, lname, BODY) \
    case code: return s_val_##lname(&m->body.lname, err);
        VG_MSG_TABLE(VG__VAL_CASE)
#undef VG__VAL_CASE
    default:
        return vg_perr_set(err, VG_ERR_UNSUPPORTED, "envelope.type", "unknown message type %u",
                           m->env.type);
    }
}

int vg_msg_body_decode(const void *buf, size_t len, vg_msg_t *m, vg_arena_t *arena, vg_perr_t *err)
{
    if (len > VG_FRAME_MAX)
        return vg_perr_set(err, VG_ERR_TOO_LARGE, "body", "%zu bytes (max %u)", len, VG_FRAME_MAX);
    vg_mpr_t r;
    vg_mpr_init(&r, buf, len);
    s_dec_t d = {&r, arena, err};
    int rc;
    memset(&m->body, 0, sizeof m->body);
    switch (m->env.type) {
#define VG__DEC_CASE(NAME, code, lname, BODY) \
    case code: rc = s_dec_##lname(&d, &m->body.lname); break;
        VG_MSG_TABLE(VG__DEC_CASE)
#undef VG__DEC_CASE
    default:
        return vg_perr_set(err, VG_ERR_UNSUPPORTED, "envelope.type", "unknown message type %u",
                           m->env.type);
    }
    if (rc) return rc;
    if (vg_mpr_remaining(&r))
        return vg_perr_set(err, VG_ERR_PARSE, "body", "trailing bytes after the body");
    return 0;
}
