/* vg_tx_json.c: JSON -> vg_tx_t in one pass over the bytes, and the batch
 * shapes of POST /v1/transactions (one object, an array, NDJSON). A type
 * or schema error in one item is reported for that item (the parser skips
 * the value and stays in sync); broken JSON syntax ends an array, but
 * only its own line of NDJSON. */
#include "vg_tx_json.h"

#include "vg_err.h"
#include "vg_json.h"
#include "vg_mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef enum {
    F_ID,
    F_USER_ID,
    F_AMOUNT,
    F_CURRENCY,
    F_TIMESTAMP,
    F_MERCHANT_ID,
    F_MERCHANT_CATEGORY,
    F_COUNTRY,
    F_CHANNEL,
    F_DEVICE_ID,
    F_IP,
    F_LAT,
    F_LON,
    F_ATTRIBUTES,
    F_COUNT
} s_field;

static const struct {
    const char *name;
    uint8_t len;
} s_fields[F_COUNT] = {
    [F_ID] = {"id", 2},
    [F_USER_ID] = {"user_id", 7},
    [F_AMOUNT] = {"amount", 6},
    [F_CURRENCY] = {"currency", 8},
    [F_TIMESTAMP] = {"timestamp", 9},
    [F_MERCHANT_ID] = {"merchant_id", 11},
    [F_MERCHANT_CATEGORY] = {"merchant_category", 17},
    [F_COUNTRY] = {"country", 7},
    [F_CHANNEL] = {"channel", 7},
    [F_DEVICE_ID] = {"device_id", 9},
    [F_IP] = {"ip", 2},
    [F_LAT] = {"lat", 3},
    [F_LON] = {"lon", 3},
    [F_ATTRIBUTES] = {"attributes", 10},
};

static int s_field_of(vg_str_t key)
{
    /* the table is tiny: compare lengths first, bytes only on a match */
    for (int f = 0; f < F_COUNT; f++)
        if (key.len == s_fields[f].len && memcmp(key.ptr, s_fields[f].name, key.len) == 0) return f;
    return -1;
}

/* A value of the wrong JSON type: record it, skip the value, stay in sync. */
static int s_wrong_type(vg_jr_t *r, vg_perr_t *err, const char *field, const char *want)
{
    vg_perr_set(err, VG_ERR_INVALID, field, "must be %s (got %s)", want,
                vg_jr_type_name(vg_jr_peek(r)));
    return vg_jr_skip(r);
}

static int s_string(vg_jr_t *r, vg_perr_t *err, const char *field, vg_str_t *out)
{
    if (vg_jr_null(r)) {
        *out = VG_STR_NULL;
        return 0;
    }
    if (vg_jr_peek(r) != '"') return s_wrong_type(r, err, field, "a string");
    return vg_jr_string(r, out);
}

static int s_code(vg_jr_t *r, vg_perr_t *err, const char *field, char *out, uint32_t n,
                  const char *what)
{
    vg_str_t s = VG_STR_NULL;
    if (s_string(r, err, field, &s)) return r->err;
    if (!s.ptr) return 0;
    if (s.len != n) {
        vg_perr_set(err, VG_ERR_INVALID, field, "must be %s", what);
        return 0;
    }
    memcpy(out, s.ptr, n);
    out[n] = 0;
    return 0;
}

static int s_number(vg_jr_t *r, vg_perr_t *err, const char *field, double *out, bool nullable)
{
    vg_jnum_t num;
    if (nullable && vg_jr_null(r)) return 0;
    char c = vg_jr_peek(r);
    if (c != '-' && (c < '0' || c > '9')) return s_wrong_type(r, err, field, "a number");
    if (vg_jr_number(r, &num)) return r->err;
    *out = num.d;
    if (!isfinite(num.d)) vg_perr_set(err, VG_ERR_INVALID, field, "must be a finite number");
    return 0;
}

static int s_timestamp(vg_jr_t *r, vg_perr_t *err, int64_t *out)
{
    char c = vg_jr_peek(r);
    if (c == '"') {
        vg_str_t s;
        if (vg_jr_string(r, &s)) return r->err;
        if (vg_ts_parse_rfc3339(s.ptr, s.len, out))
            vg_perr_set(err, VG_ERR_INVALID, "timestamp",
                        "must be an RFC 3339 date-time (e.g. 2026-11-24T10:00:00Z) or epoch "
                        "milliseconds");
        return 0;
    }
    if (c != '-' && (c < '0' || c > '9'))
        return s_wrong_type(r, err, "timestamp", "an RFC 3339 string or epoch milliseconds");
    vg_jnum_t num;
    if (vg_jr_number(r, &num)) return r->err;
    if (num.is_int)
        *out = num.i;
    else if (num.d == floor(num.d) && num.d >= 0 && num.d <= (double) VG_TX_TS_MAX)
        *out = (int64_t) num.d;
    else
        vg_perr_set(err, VG_ERR_INVALID, "timestamp", "epoch milliseconds must be an integer");
    return 0;
}

static const char *s_attr_field(const vg_tx_attr_t *a, char *buf, size_t size)
{
    snprintf(buf, size, "attributes.%.*s", (int) VG_MIN(a->key.len, 64u), a->key.ptr);
    return buf;
}

static int s_attr_value(vg_jr_t *r, vg_perr_t *err, vg_tx_attr_t *a)
{
    char field[96];
    char c = vg_jr_peek(r);
    if (c == '"') {
        a->kind = VG_ATTR_STR;
        return vg_jr_string(r, &a->str);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        vg_jnum_t num;
        a->kind = VG_ATTR_NUM;
        a->str = VG_STR_NULL;
        if (vg_jr_number(r, &num)) return r->err;
        a->num = num.d;
        if (!isfinite(num.d))
            vg_perr_set(err, VG_ERR_INVALID, s_attr_field(a, field, sizeof field),
                        "must be a finite number");
        return 0;
    }
    return s_wrong_type(r, err, s_attr_field(a, field, sizeof field), "a string or a number");
}

static int s_attributes(vg_jr_t *r, vg_perr_t *err, vg_tx_t *tx)
{
    if (vg_jr_null(r)) return 0;
    if (vg_jr_peek(r) != '{') return s_wrong_type(r, err, "attributes", "an object");
    if (vg_jr_obj_begin(r)) return r->err;
    bool first = true;
    vg_str_t key;
    vg_tx_attr_t spare;
    int rc;
    while ((rc = vg_jr_obj_next(r, &first, &key)) > 0) {
        bool store = tx->n_attrs < VG_TX_ATTR_MAX;
        if (!store)
            vg_perr_set(err, VG_ERR_INVALID, "attributes", "at most %d entries", VG_TX_ATTR_MAX);
        vg_tx_attr_t *a = store ? &tx->attrs[tx->n_attrs++] : &spare;
        a->key = key;
        if (s_attr_value(r, err, a)) return r->err;
    }
    return r->err;
}

/* One value for field f. Returns 0 (in sync, maybe with a schema error in
 * err) or the reader's syntax error. */
static int s_member(vg_jr_t *r, vg_perr_t *err, vg_tx_t *tx, int f)
{
    const char *name = s_fields[f].name;
    switch (f) {
    case F_ID: return s_string(r, err, name, &tx->id);
    case F_USER_ID: return s_string(r, err, name, &tx->user_id);
    case F_AMOUNT: return s_number(r, err, name, &tx->amount, false);
    case F_CURRENCY:
        return s_code(r, err, name, tx->currency, 3, "3 upper-case letters (ISO 4217)");
    case F_TIMESTAMP: return s_timestamp(r, err, &tx->ts_ms);
    case F_MERCHANT_ID: return s_string(r, err, name, &tx->merchant_id);
    case F_MERCHANT_CATEGORY: return s_string(r, err, name, &tx->merchant_category);
    case F_COUNTRY:
        return s_code(r, err, name, tx->country, 2, "2 upper-case letters (ISO 3166-1 alpha-2)");
    case F_CHANNEL: return s_string(r, err, name, &tx->channel);
    case F_DEVICE_ID: return s_string(r, err, name, &tx->device_id);
    case F_IP: return s_string(r, err, name, &tx->ip);
    case F_LAT: return s_number(r, err, name, &tx->lat, true);
    case F_LON: return s_number(r, err, name, &tx->lon, true);
    case F_ATTRIBUTES: return s_attributes(r, err, tx);
    default: return vg_jr_skip(r);
    }
}

/* Parses one object at r. Returns 0, VG_ERR_INVALID (schema error, reader
 * in sync) or a syntax error (r->err set). */
static int s_object(vg_jr_t *r, vg_tx_t *tx, vg_perr_t *err)
{
    vg_tx_init(tx);
    char c = vg_jr_peek(r);
    if (c != '{') {
        if (c == 0 || (c != '"' && c != '[' && c != 't' && c != 'f' && c != 'n' && c != '-' &&
                       (c < '0' || c > '9')))
            return vg_jr_fail(r, VG_ERR_PARSE, "expected a JSON object");
        vg_perr_set(err, VG_ERR_INVALID, "", "a transaction must be a JSON object (got %s)",
                    vg_jr_type_name(c));
        return vg_jr_skip(r) ? r->err : VG_ERR_INVALID;
    }
    if (vg_jr_obj_begin(r)) return r->err;
    uint32_t seen = 0;
    bool first = true;
    vg_str_t key;
    int rc;
    while ((rc = vg_jr_obj_next(r, &first, &key)) > 0) {
        int f = s_field_of(key);
        if (f < 0) {
            if (vg_jr_skip(r)) return r->err; /* unknown fields are ignored */
            continue;
        }
        if (seen & (1u << f)) vg_perr_set(err, VG_ERR_INVALID, s_fields[f].name, "duplicate field");
        seen |= 1u << f;
        if (s_member(r, err, tx, f)) return r->err;
    }
    if (rc < 0) return r->err;
    if (err->code) return VG_ERR_INVALID;
    return vg_tx_validate(tx, err);
}

static int s_syntax(vg_jr_t *r, vg_perr_t *err)
{
    size_t line = 1, col = 1;
    for (const char *p = r->start; p < r->start + r->err_off; p++) {
        if (*p == '\n')
            line++, col = 1;
        else
            col++;
    }
    vg_perr_clear(err);
    return vg_perr_set(err, r->err, "", "invalid JSON at line %zu column %zu: %s", line, col,
                       r->reason ? r->reason : "syntax error");
}

int vg_tx_from_json(const char *json, size_t len, vg_tx_t *tx, vg_arena_t *arena, vg_perr_t *err)
{
    vg_perr_t local;
    if (!err) err = &local;
    vg_perr_clear(err);
    vg_jr_t r;
    vg_jr_init(&r, json, len, arena);
    int rc = s_object(&r, tx, err);
    if (r.err) return s_syntax(&r, err);
    if (rc) return rc;
    if (!vg_jr_at_end(&r)) {
        vg_jr_fail(&r, VG_ERR_PARSE, "unexpected data after the object");
        return s_syntax(&r, err);
    }
    return 0;
}

/* ---- batches ----------------------------------------------------------- */

static int s_emit(vg_tx_each_fn *fn, void *arg, uint32_t index, vg_tx_t *tx, vg_perr_t *item,
                  int rc)
{
    item->index = (int32_t) index;
    return fn(arg, index, tx, rc ? item : NULL);
}

static int s_array(vg_jr_t *r, const vg_txj_opts_t *o, vg_tx_each_fn *fn, void *arg, vg_perr_t *err,
                   uint32_t *count)
{
    vg_tx_t tx;
    vg_perr_t item;
    bool first = true;
    int more;
    if (vg_jr_arr_begin(r)) return s_syntax(r, err);
    while ((more = vg_jr_arr_next(r, &first)) > 0) {
        if (*count >= o->max_items)
            return vg_perr_set(err, VG_ERR_TOO_LARGE, "",
                               "more than %u transactions in one request", o->max_items);
        vg_perr_clear(&item);
        int rc = s_object(r, &tx, &item);
        if (r->err) return s_syntax(r, err);
        if ((rc = s_emit(fn, arg, (*count)++, &tx, &item, rc))) return rc;
    }
    if (more < 0) return s_syntax(r, err);
    if (!vg_jr_at_end(r)) {
        vg_jr_fail(r, VG_ERR_PARSE, "unexpected data after the array");
        return s_syntax(r, err);
    }
    return 0;
}

/* NDJSON: one object per line; a broken line fails alone. */
static int s_ndjson(const char *body, size_t len, const vg_txj_opts_t *o, vg_arena_t *arena,
                    vg_tx_each_fn *fn, void *arg, vg_perr_t *err, uint32_t *count)
{
    vg_tx_t tx;
    vg_perr_t item;
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *eol = nl ? nl : end;
        vg_jr_t r;
        vg_jr_init(&r, p, (size_t) (eol - p), arena);
        p = nl ? nl + 1 : end;
        if (vg_jr_at_end(&r)) continue; /* blank line */
        if (*count >= o->max_items)
            return vg_perr_set(err, VG_ERR_TOO_LARGE, "",
                               "more than %u transactions in one request", o->max_items);
        vg_perr_clear(&item);
        int rc = s_object(&r, &tx, &item);
        if (!r.err && !rc && !vg_jr_at_end(&r))
            vg_jr_fail(&r, VG_ERR_PARSE, "unexpected data after the object");
        if (r.err) {
            rc = s_syntax(&r, &item);
            vg_tx_init(&tx);
        }
        if ((rc = s_emit(fn, arg, (*count)++, &tx, &item, rc))) return rc;
    }
    return 0;
}

int vg_tx_json_each(const char *body, size_t len, const vg_txj_opts_t *opts, vg_arena_t *arena,
                    vg_tx_each_fn *fn, void *arg, vg_txj_result_t *res, vg_perr_t *err)
{
    vg_txj_opts_t o = opts ? *opts : (vg_txj_opts_t){0};
    if (!o.max_items) o.max_items = VG_TXJ_MAX_ITEMS_DEFAULT;
    vg_perr_t local;
    if (!err) err = &local;
    vg_perr_clear(err);
    res->shape = o.shape;
    res->count = 0;
    vg_jr_t r;
    vg_jr_init(&r, body, len, arena);
    char c = vg_jr_peek(&r);
    if (res->shape == VG_TXJ_AUTO) {
        if (c == '[')
            res->shape = VG_TXJ_ARRAY;
        else if (c == '{')
            res->shape = VG_TXJ_ONE;
        else if (c == 0)
            return vg_perr_set(err, VG_ERR_PARSE, "", "empty request body");
        else
            return vg_perr_set(err, VG_ERR_PARSE, "",
                               "expected a JSON object, an array of objects or NDJSON");
    }
    if (res->shape == VG_TXJ_ARRAY) return s_array(&r, &o, fn, arg, err, &res->count);
    if (res->shape == VG_TXJ_NDJSON)
        return s_ndjson(body, len, &o, arena, fn, arg, err, &res->count);
    /* ONE, or NDJSON detected by a second object after the first */
    vg_tx_t tx;
    vg_perr_t item;
    vg_perr_clear(&item);
    int rc = s_object(&r, &tx, &item);
    if (r.err) return s_syntax(&r, err);
    if (!vg_jr_at_end(&r) && o.shape == VG_TXJ_AUTO) {
        res->shape = VG_TXJ_NDJSON;
        return s_ndjson(body, len, &o, arena, fn, arg, err, &res->count);
    }
    if (!vg_jr_at_end(&r)) {
        vg_jr_fail(&r, VG_ERR_PARSE, "unexpected data after the object");
        return s_syntax(&r, err);
    }
    res->count = 1;
    return s_emit(fn, arg, 0, &tx, &item, rc);
}
