/* vg_txcsv.h: transactions as CSV (a header row naming the fields of the
 * POST /v1/transactions schema: id, user_id, amount, currency, timestamp,
 * country, merchant_id, merchant_category, channel, device_id, ip, lat,
 * lon, and attributes.NAME columns) turned into NDJSON, so CSV history
 * replays through the same strict parser and validation as JSON. */
#ifndef VG_TXCSV_H
#define VG_TXCSV_H

#include <stdbool.h>
#include <stddef.h>

/* True when buf looks like CSV rather than JSON (first non-blank byte is
 * neither '{' nor '['). */
bool vg_txcsv_detect(const char *buf, size_t len);

/* Converts CSV (RFC 4180 quoting; empty cells = absent fields) into
 * NDJSON, one object per row, into *out (malloc'd, NUL-terminated).
 * Unknown columns are an error naming them; amount, lat, lon and numeric
 * timestamps stay numbers; attributes.X cells that parse as numbers are
 * numbers. Returns 0 or VG_ERR_PARSE with errbuf "what:line: why". */
int vg_txcsv_to_ndjson(const char *buf, size_t len, const char *what, char **out, size_t *out_len,
                       char *errbuf, size_t errlen);

#endif
