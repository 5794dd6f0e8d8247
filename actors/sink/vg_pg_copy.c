/* vg_pg_copy.c: the PostgreSQL store's wire forms that need no connection:
 * a record as a COPY BINARY row (vg_pg_internal.h has the byte layout),
 * text made acceptable to the server, int8[] parameters, and the daily
 * partitions' names. */
#include "vg_pg_internal.h"

#include "vg_anomaly_json.h"
#include "vg_mem.h"
#include "vg_tx.h"

#include <stdio.h>
#include <string.h>

#define S_NFIELDS  13
#define S_TEXT_OID 25
#define S_INT8_OID 20

static void s_be(vg_mpw_t *w, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++) b[i] = (uint8_t) (v >> (8 * (bytes - 1 - i)));
    vg_mpw_raw(w, b, (size_t) bytes);
}

static void s_patch32(vg_mpw_t *w, size_t at, uint32_t v)
{
    if (w->err) return;
    for (int i = 0; i < 4; i++) w->buf[at + i] = (uint8_t) (v >> (24 - 8 * i));
}

/* A field's length placeholder; s_field_end patches it. */
static size_t s_field_begin(vg_mpw_t *w)
{
    size_t at = w->len;
    s_be(w, 0, 4);
    return at;
}

static void s_field_end(vg_mpw_t *w, size_t at)
{
    s_patch32(w, at, (uint32_t) (w->len - at - 4));
}

static void s_bytes(vg_mpw_t *w, const void *p, size_t n)
{
    s_be(w, n, 4);
    if (n) vg_mpw_raw(w, p, n);
}

static void s_int64(vg_mpw_t *w, int64_t v)
{
    s_be(w, 8, 4);
    s_be(w, (uint64_t) v, 8);
}

static void s_int16(vg_mpw_t *w, int v)
{
    s_be(w, 2, 4);
    s_be(w, (uint16_t) v, 2);
}

static void s_float8(vg_mpw_t *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    s_be(w, 8, 4);
    s_be(w, u, 8);
}

void vg__pg_text(vg_mpw_t *w, vg_str_t s)
{
    static const char repl[3] = {(char) 0xef, (char) 0xbf, (char) 0xbd}; /* U+FFFD */
    if (!s.len) return;
    if (vg_utf8_valid(s.ptr, s.len) && !memchr(s.ptr, 0, s.len)) {
        vg_mpw_raw(w, s.ptr, s.len);
        return;
    }
    for (uint32_t i = 0; i < s.len;) {
        unsigned c = (unsigned char) s.ptr[i];
        size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (c && n <= s.len - i && vg_utf8_valid(s.ptr + i, n)) {
            vg_mpw_raw(w, s.ptr + i, n);
            i += (uint32_t) n;
        } else {
            vg_mpw_raw(w, repl, sizeof repl);
            i++;
        }
    }
}

/* A text[] of the reasons' detectors (rules: the features of "rule"
 * reasons). */
static void s_text_array(vg_mpw_t *w, const vg_anomaly_rec_t *rec, bool rules)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < rec->n_reasons; i++)
        n += !rules || vg_str_eq_c(rec->reasons[i].detector, "rule");
    size_t at = s_field_begin(w);
    s_be(w, n ? 1 : 0, 4); /* ndim */
    s_be(w, 0, 4);         /* no NULLs */
    s_be(w, S_TEXT_OID, 4);
    if (n) {
        s_be(w, n, 4);
        s_be(w, 1, 4); /* lower bound */
    }
    for (unsigned i = 0; i < rec->n_reasons; i++) {
        const vg_reason_t *r = &rec->reasons[i];
        if (rules && !vg_str_eq_c(r->detector, "rule")) continue;
        size_t el = s_field_begin(w);
        vg__pg_text(w, rules ? r->feature : r->detector);
        s_field_end(w, el);
    }
    s_field_end(w, at);
}

/* A jsonb field from jw's JSON: "\u0000" (which jsonb refuses) becomes
 * "\ufffd"; vg_jw wrote everything else as valid UTF-8. */
static void s_jsonb(vg_mpw_t *w, vg_jw_t *jw)
{
    char *end = jw->buf + jw->len;
    for (char *p = jw->buf; p < end && (p = memchr(p, '\\', (size_t) (end - p))); p += 2) {
        if (end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0) memcpy(p + 2, "fffd", 4);
        /* p + 1 is the escaped character, never an escape itself */
    }
    s_be(w, jw->len + 1, 4);
    s_be(w, 1, 1); /* jsonb binary format version */
    vg_mpw_raw(w, jw->buf, jw->len);
}

/* The row's field count and every column before the JSON ones. */
static void s_row_head(vg_mpw_t *w, const vg_anomaly_rec_t *rec)
{
    s_be(w, S_NFIELDS, 2);
    s_int64(w, vg__pg_ts_from_ms(rec->ts_ms));
    s_bytes(w, rec->id.ptr, rec->id.len);
    s_bytes(w, rec->user_id.ptr, rec->user_id.len);
    if (rec->detected_ms >= 0 && rec->detected_ms <= VG_TX_TS_MAX)
        s_int64(w, vg__pg_ts_from_ms(rec->detected_ms));
    else
        s_be(w, UINT32_MAX, 4); /* NULL */
    s_float8(w, rec->score);
    s_int16(w, rec->severity);
    s_int16(w, rec->decision);
    s_text_array(w, rec, false);
    s_text_array(w, rec, true);
}

void vg__pg_copy_begin(vg_mpw_t *w)
{
    vg_mpw_raw(w, "PGCOPY\n\377\r\n\0", 11);
    s_be(w, 0, 4); /* flags */
    s_be(w, 0, 4); /* header extension */
}

void vg__pg_copy_end(vg_mpw_t *w)
{
    s_be(w, 0xffff, 2);
}

void vg__pg_rowbuf_init(vg__pg_rowbuf_t *b)
{
    memset(b, 0, sizeof *b);
    vg_jw_init(&b->jw);
}

void vg__pg_rowbuf_fini(vg__pg_rowbuf_t *b)
{
    vg_jw_fini(&b->jw);
}

/* Key k of b before key j in jsonb's order. */
static bool s_key_before(const vg__pg_rowbuf_t *b, unsigned k, unsigned j)
{
    if (b->key_len[k] != b->key_len[j]) return b->key_len[k] < b->key_len[j];
    return memcmp(b->keys[k], b->keys[j], b->key_len[k]) < 0;
}

/* b's keys and their order for rec's features (kept when they are the
 * last row's). A key is the name up to a NUL, at most 63 bytes, as
 * vg_anomaly_features_json's. */
static void s_feature_keys(vg__pg_rowbuf_t *b, const vg_anomaly_rec_t *rec)
{
    uint32_t n = VG_MIN(rec->n_features, (uint32_t) VG__PG_KEYS_MAX);
    bool same = n == b->n_keys;
    for (uint32_t i = 0; i < n; i++) {
        vg_str_t name = rec->feature_names[i];
        size_t len = name.ptr ? strnlen(name.ptr, VG_MIN(name.len, 63u)) : 0;
        if (same && len == b->key_len[i] && (!len || memcmp(b->keys[i], name.ptr, len) == 0))
            continue;
        same = false;
        if (len) memcpy(b->keys[i], name.ptr, len);
        b->keys[i][len] = 0;
        b->key_len[i] = (uint8_t) len;
    }
    if (same) return;
    b->n_keys = n;
    for (uint32_t i = 0; i < n; i++) { /* insertion sort: stable */
        uint32_t j = i;
        for (; j > 0 && s_key_before(b, i, b->order[j - 1]); j--) b->order[j] = b->order[j - 1];
        b->order[j] = (uint8_t) i;
    }
}

/* vg_anomaly_features_json's object, keys in jsonb's order (the same
 * jsonb: test_pg's test_json_columns compares the two). */
static void s_features_json(vg__pg_rowbuf_t *b, const vg_anomaly_rec_t *rec)
{
    s_feature_keys(b, rec);
    vg_jw_obj_begin(&b->jw);
    for (uint32_t i = 0; i < b->n_keys; i++)
        vg_jw_knum(&b->jw, b->keys[b->order[i]], rec->feature_values[b->order[i]]);
    vg_jw_obj_end(&b->jw);
}

void vg__pg_copy_row(vg_mpw_t *w, const vg_anomaly_rec_t *rec, vg_str_t raw, vg__pg_rowbuf_t *buf)
{
    s_row_head(w, rec);
    for (int i = 0; i < 3; i++) {
        if (!buf) { /* the JSON columns are off: NULL */
            s_be(w, UINT32_MAX, 4);
            continue;
        }
        vg_jw_reset(&buf->jw);
        if (i == 0)
            vg_anomaly_tx_json(&buf->jw, &rec->tx);
        else if (i == 1)
            s_features_json(buf, rec);
        else
            vg_anomaly_reasons_json(&buf->jw, rec->reasons, rec->n_reasons);
        s_jsonb(w, &buf->jw);
    }
    s_bytes(w, raw.ptr, raw.len);
}

void vg__pg_int8_array(vg_mpw_t *w, const int64_t *v, size_t n)
{
    s_be(w, n ? 1 : 0, 4); /* ndim */
    s_be(w, 0, 4);         /* no NULLs */
    s_be(w, S_INT8_OID, 4);
    if (n) {
        s_be(w, n, 4);
        s_be(w, 1, 4); /* lower bound */
    }
    for (size_t i = 0; i < n; i++) s_int64(w, v[i]);
}

/* ---- partition names ---------------------------------------------------- */

void vg__pg_part_name(int64_t day, char *out)
{
    char ts[32];
    vg_ts_format(day * VG__PG_DAY_MS, ts); /* YYYY-MM-DDT... */
    snprintf(out, VG__PG_PART_NAME_MAX, "anomalies_p%.4s%.2s%.2s", ts, ts + 5, ts + 8);
}

bool vg__pg_part_day(const char *name, int64_t *day)
{
    static const char prefix[] = "anomalies_p";
    char iso[32], back[VG__PG_PART_NAME_MAX];
    int64_t ms;
    size_t n = sizeof prefix - 1;
    if (strncmp(name, prefix, n) != 0 || strlen(name) != n + 8) return false;
    for (size_t i = n; i < n + 8; i++)
        if (name[i] < '0' || name[i] > '9') return false;
    snprintf(iso, sizeof iso, "%.4s-%.2s-%.2sT00:00:00Z", name + n, name + n + 4, name + n + 6);
    if (vg_ts_parse_rfc3339(iso, strlen(iso), &ms) || ms < 0 || ms > VG_TX_TS_MAX) return false;
    *day = ms / VG__PG_DAY_MS;
    vg__pg_part_name(*day, back);
    return strcmp(back, name) == 0; /* canonical (no "20261131") */
}
