/* vg_tx.h: the transaction, Vigil's unit of work. One C struct with
 * borrowed string slices (zero-copy from the JSON body or msgpack frame it
 * was parsed from), its validation exactly per the schema table in
 * ARCHITECTURE.md, its msgpack form (PROTOCOL.md) and the shard function. */
#ifndef VG_TX_H
#define VG_TX_H

#include "vg_arena.h"
#include "vg_mp.h"
#include "vg_perr.h"
#include "vg_str.h"

#include <stdbool.h>
#include <stdint.h>

/* Limits (documented in PROTOCOL.md and README). */
#define VG_TX_ID_MAX       64   /* id, user_id: 1..64 bytes */
#define VG_TX_STR_MAX      128  /* merchant_id, merchant_category, channel, device_id */
#define VG_TX_IP_MAX       45   /* textual IPv4/IPv6 */
#define VG_TX_AMOUNT_MAX   1e15 /* amounts above are rejected */
#define VG_TX_TS_MAX       253402300799999LL /* 9999-12-31T23:59:59.999Z in ms */
#define VG_TX_ATTR_MAX     16                /* attributes: at most 16 entries */
#define VG_TX_ATTR_KEY_MAX 64                /* key 1..64 bytes */
#define VG_TX_ATTR_STR_MAX 256               /* string value 0..256 bytes */
#define VG_TX_MP_FIELDS    15                /* msgpack array length (PROTOCOL.md) */
#define VG_TX_BATCH_MAX    4096              /* transactions per TX_BATCH message */

typedef enum { VG_ATTR_STR = 1, VG_ATTR_NUM = 2 } vg_attr_kind;

typedef struct {
    vg_str_t key;
    vg_str_t str; /* when kind == VG_ATTR_STR */
    double num;   /* when kind == VG_ATTR_NUM */
    uint8_t kind;
} vg_tx_attr_t;

/* Strings are borrowed slices: they live as long as the buffer (or arena)
 * the transaction was parsed from. Absent optional strings have ptr NULL;
 * absent lat/lon are NaN. */
typedef struct {
    vg_str_t id;
    vg_str_t user_id;
    double amount;
    int64_t ts_ms;     /* event time, ms since the Unix epoch (UTC) */
    int64_t ingest_ms; /* set by the gateway when accepted; 0 = unset */
    char currency[4];  /* ISO 4217, NUL-terminated */
    char country[3];   /* ISO 3166-1 alpha-2 or "" */
    vg_str_t merchant_id;
    vg_str_t merchant_category;
    vg_str_t channel;
    vg_str_t device_id;
    vg_str_t ip;
    double lat, lon;
    uint8_t n_attrs;
    vg_tx_attr_t attrs[VG_TX_ATTR_MAX];
} vg_tx_t;

/* Resets tx to "nothing set" (required fields missing, optional absent). */
void vg_tx_init(vg_tx_t *tx);

static inline bool vg_tx_has_geo(const vg_tx_t *tx)
{
    return tx->lat == tx->lat && tx->lon == tx->lon; /* neither is NaN */
}

/* Checks every schema rule; on failure returns VG_ERR_INVALID and fills err
 * with the field and reason ("currency: must be 3 upper-case letters
 * (ISO 4217)"). Used by both the JSON and the msgpack decoders. */
int vg_tx_validate(const vg_tx_t *tx, vg_perr_t *err);

/* Appends the msgpack form (a 15-element array, PROTOCOL.md) to w. */
void vg_tx_encode(const vg_tx_t *tx, vg_mpw_t *w);

/* Decodes one transaction from r and validates it. Zero-copy: string
 * slices point into r's buffer. Extra trailing array elements are skipped
 * (forward compatibility). Returns 0, VG_ERR_PARSE (malformed) or
 * VG_ERR_INVALID (schema); err names the field. */
int vg_tx_decode(vg_mpr_t *r, vg_tx_t *tx, vg_perr_t *err);

/* Parses one JSON object (RFC 8259) into tx and validates it. Strings are
 * zero-copy slices of json unless they contain escapes, in which case the
 * decoded copy lives in arena. Unknown fields are ignored; a duplicated
 * known field is an error. */
int vg_tx_from_json(const char *json, size_t len, vg_tx_t *tx, vg_arena_t *arena, vg_perr_t *err);

/* shard = xxhash64(user_id, seed 0) % n_shards (ARCHITECTURE.md). */
uint32_t vg_shard_of(vg_str_t user_id, uint32_t n_shards);

/* RFC 3339 date-time -> ms since epoch. Accepts 'T'/'t'/' ' as separator,
 * 'Z'/'z' or +hh:mm/-hh:mm offsets, 0-9 fraction digits (truncated to ms).
 * Returns 0 or VG_ERR_INVALID. */
int vg_ts_parse_rfc3339(const char *s, size_t len, int64_t *ms_out);

/* ms since epoch -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL); buf >= 25. */
void vg_ts_format(int64_t ms, char *buf);

/* True if s is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool vg_utf8_valid(const char *s, size_t len);

#endif
