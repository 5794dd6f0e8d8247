/* vg_pg_internal.h: what the PostgreSQL store's files share: the embedded
 * migrations (generated from actors/sink/sql/ by sql/embed.cmake), the
 * COPY BINARY form of a row, and the daily partitions' names.
 *
 * A row (COPY anomalies | vg_staging (VG__PG_STAGING_COLS) FROM STDIN
 * BINARY: the fast path writes the table itself, the fallback a staging
 * table of the same columns):
 *
 *   column       type         binary value
 *   ts           timestamptz  int64 BE, microseconds since 2000-01-01 UTC
 *   anomaly_id   bytea        the id's bytes
 *   user_id      bytea        the user id's bytes
 *   detected_at  timestamptz  as ts; NULL (length -1) outside 0..VG_TX_TS_MAX
 *   score        float8       IEEE 754 BE
 *   severity     int2         BE
 *   decision     int2         BE
 *   detectors    text[]       ndim 0|1, flags 0, oid 25, [n, lbound 1], n x (len, bytes)
 *   rules        text[]       the features of "rule" reasons
 *   transaction  jsonb        version 1, then JSON text (vg_anomaly_json);
 *   features     jsonb        the three JSON columns are NULL with cfg.no_json
 *   reasons      jsonb
 *   record       bytea        the record's msgpack bytes, as given
 *
 * Every field is int32 BE length + bytes; a row starts with int16 BE 13.
 * Text (array elements, JSON) must be valid UTF-8 without NUL for the
 * server: invalid bytes and NUL become U+FFFD ("\u0000" in JSON too). */
#ifndef VG_PG_INTERNAL_H
#define VG_PG_INTERNAL_H

#include "vg_anomaly.h"
#include "vg_jw.h"
#include "vg_mp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int version;      /* from the file name's leading digits; ascending */
    const char *name; /* file name without .sql */
    const char *sql;  /* one or more statements */
} vg__pg_migration_t;

extern const vg__pg_migration_t vg__pg_migrations[];
extern const size_t vg__pg_n_migrations;

#define VG__PG_STAGING_COLS                                                               \
    "ts, anomaly_id, user_id, detected_at, score, severity, decision, detectors, rules, " \
    "transaction, features, reasons, record"
#define VG__PG_STAGING_DEF                                                                     \
    "ts timestamptz, anomaly_id bytea, user_id bytea, detected_at timestamptz, score float8, " \
    "severity int2, decision int2, detectors text[], rules text[], transaction jsonb, "        \
    "features jsonb, reasons jsonb, record bytea"

#define VG__PG_DAY_MS   86400000LL
#define VG__PG_EPOCH_MS 946684800000LL /* 2000-01-01T00:00:00Z, PostgreSQL's epoch */

/* ms since the Unix epoch <-> a binary timestamptz (microseconds since
 * 2000-01-01); valid for 0..VG_TX_TS_MAX + 1. */
static inline int64_t vg__pg_ts_from_ms(int64_t ms)
{
    return (ms - VG__PG_EPOCH_MS) * 1000;
}
static inline int64_t vg__pg_ts_to_ms(int64_t us)
{
    int64_t q = us / 1000;
    return (us % 1000 < 0 ? q - 1 : q) + VG__PG_EPOCH_MS;
}

/* Appends s to w as UTF-8 without NUL: invalid bytes and NUL as U+FFFD. */
void vg__pg_text(vg_mpw_t *w, vg_str_t s);

/* Scratch space of vg__pg_copy_row, reused from row to row: the JSON
 * writer, and the feature keys of the last row in jsonb's order (shorter
 * first, then bytewise; a stable sort, so of equal keys the last still
 * wins): the server's jsonb input then finds them sorted (~2 us a row
 * less than sorting 32 keys), and records of one version list the same
 * features, so they are sorted once. */
#define VG__PG_KEYS_MAX (VG_FEATURE_COUNT + 16)
typedef struct {
    vg_jw_t jw;
    uint32_t n_keys;
    uint8_t order[VG__PG_KEYS_MAX]; /* feature indexes, in jsonb's order */
    uint8_t key_len[VG__PG_KEYS_MAX];
    char keys[VG__PG_KEYS_MAX][64]; /* as vg_anomaly_features_json writes them */
} vg__pg_rowbuf_t;

void vg__pg_rowbuf_init(vg__pg_rowbuf_t *b);
void vg__pg_rowbuf_fini(vg__pg_rowbuf_t *b);

/* The COPY BINARY header / trailer, and one row for rec (decoded from
 * raw). buf is scratch space; NULL leaves the JSON columns NULL. The JSON
 * columns hold what vg_anomaly_json writes (the features' keys in another
 * order: the same jsonb). */
void vg__pg_copy_begin(vg_mpw_t *w);
void vg__pg_copy_end(vg_mpw_t *w);
void vg__pg_copy_row(vg_mpw_t *w, const vg_anomaly_rec_t *rec, vg_str_t raw, vg__pg_rowbuf_t *buf);

/* A binary int8[] parameter value (the array's fields as in a text[]
 * column above, element oid 20, each element int32 BE 8 + int64 BE):
 * the per-minute counters of vg_pg.c's fast insert path. */
void vg__pg_int8_array(vg_mpw_t *w, const int64_t *v, size_t n);

/* Day d (days since the epoch, UTC) <-> its partition's name
 * "anomalies_pYYYYMMDD" (out: VG__PG_PART_NAME_MAX bytes). d must be within
 * the days of 0..VG_TX_TS_MAX. */
#define VG__PG_PART_NAME_MAX 24
void vg__pg_part_name(int64_t day, char *out);
/* False when name is not one of ours. */
bool vg__pg_part_day(const char *name, int64_t *day);

#endif
