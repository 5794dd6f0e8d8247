/* vg_pg_internal.h: what the PostgreSQL store's files share: the embedded
 * migrations (generated from actors/sink/sql/ by sql/embed.cmake), the
 * COPY BINARY form of a staging row, and the daily partitions' names.
 *
 * A staging row (COPY vg_staging (VG__PG_STAGING_COLS) FROM STDIN BINARY):
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

/* The COPY BINARY header / trailer, and one staging row for rec (decoded
 * from raw). jw is scratch space; NULL leaves the JSON columns NULL. */
void vg__pg_copy_begin(vg_mpw_t *w);
void vg__pg_copy_end(vg_mpw_t *w);
void vg__pg_copy_row(vg_mpw_t *w, const vg_anomaly_rec_t *rec, vg_str_t raw, vg_jw_t *jw);

/* Day d (days since the epoch, UTC) <-> its partition's name
 * "anomalies_pYYYYMMDD" (out: VG__PG_PART_NAME_MAX bytes). d must be within
 * the days of 0..VG_TX_TS_MAX. */
#define VG__PG_PART_NAME_MAX 24
void vg__pg_part_name(int64_t day, char *out);
/* False when name is not one of ours. */
bool vg__pg_part_day(const char *name, int64_t *day);

#endif
