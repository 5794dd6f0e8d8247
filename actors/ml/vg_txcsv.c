/* vg_txcsv.c: CSV rows to NDJSON objects (vg_jw writes the JSON). */
#include "vg_txcsv.h"

#include "vg_err.h"
#include "vg_jw.h"
#include "vg_mem.h"
#include "vg_mp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_COLS 64

static const char *const s_fields[] = {"id",        "user_id",   "amount",      "currency",
                                       "timestamp", "country",   "merchant_id", "merchant_category",
                                       "channel",   "device_id", "ip",          "lat",
                                       "lon"};
static const char *const s_numeric[] = {"amount", "lat", "lon"};

bool vg_txcsv_detect(const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && isspace((unsigned char) buf[i])) i++;
    return i < len && buf[i] != '{' && buf[i] != '[';
}

/* One cell starting at *p (quoted or not); its text (unescaped) into cell.
 * Returns 1 at end of row, 0 more cells follow, -1 malformed. */
static int s_cell(const char **p, const char *end, vg_mpw_t *cell)
{
    const char *s = *p;
    vg_mpw_reset(cell);
    if (s < end && *s == '"') {
        for (s++;; s++) {
            if (s >= end) return -1;
            if (*s == '"' && s + 1 < end && s[1] == '"') {
                vg_mpw_raw(cell, "\"", 1), s++;
            } else if (*s == '"') {
                s++;
                break;
            } else {
                vg_mpw_raw(cell, s, 1);
            }
        }
    } else {
        const char *b = s;
        while (s < end && *s != ',' && *s != '\n' && *s != '\r') s++;
        vg_mpw_raw(cell, b, (size_t) (s - b));
    }
    if (s < end && *s == ',') {
        *p = s + 1;
        return 0;
    }
    if (s < end && *s == '\r') s++;
    if (s < end && *s != '\n') return -1;
    *p = s < end ? s + 1 : s;
    return 1;
}

static bool s_is_number(const char *s, size_t n)
{
    if (!n) return false;
    char tmp[64], *e;
    if (n >= sizeof tmp) return false;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    strtod(tmp, &e);
    return *e == 0 && !isspace((unsigned char) tmp[0]);
}

int vg_txcsv_to_ndjson(const char *buf, size_t len, const char *what, char **out, size_t *out_len,
                       char *errbuf, size_t errlen)
{
    const char *p = buf, *end = buf + len;
    char *cols[S_MAX_COLS] = {0};
    int n_cols = 0, rc = 0, line = 1;
    vg_mpw_t cell, all;
    vg_jw_t w;
    vg_mpw_init(&cell);
    vg_mpw_init(&all);
    vg_jw_init(&w);
    for (int r = 0; n_cols < S_MAX_COLS && (r = s_cell(&p, end, &cell)) >= 0;) {
        cols[n_cols] = vg_strndup(cell.buf ? (const char *) cell.buf : "", cell.len);
        bool known = !strncmp(cols[n_cols], "attributes.", 11) && cols[n_cols][11];
        for (size_t k = 0; !known && k < sizeof s_fields / sizeof *s_fields; k++)
            known = !strcmp(cols[n_cols], s_fields[k]);
        if (!known) {
            snprintf(errbuf, errlen,
                     "%s:1: unknown column '%s' (fields of the transaction schema"
                     ", or attributes.NAME)",
                     what, cols[n_cols]);
            rc = VG_ERR_PARSE;
        }
        n_cols++;
        if (rc || r == 1) break;
    }
    while (!rc && p < end) {
        line++;
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) { /* blank line */
            p += *p == '\r' ? 2 : 1;
            continue;
        }
        vg_jw_reset(&w);
        vg_jw_obj_begin(&w);
        bool attrs_open = false;
        int c = 0, r = 0;
        for (; c < n_cols && r == 0; c++) {
            r = s_cell(&p, end, &cell);
            if (r < 0) break;
            if (!cell.len) continue; /* absent */
            bool attr = !strncmp(cols[c], "attributes.", 11);
            bool num = false;
            for (size_t k = 0; k < sizeof s_numeric / sizeof *s_numeric; k++)
                num = num || !strcmp(cols[c], s_numeric[k]);
            const char *text = (const char *) cell.buf;
            num = num || ((attr || !strcmp(cols[c], "timestamp")) && s_is_number(text, cell.len));
            if (attr && !attrs_open) {
                vg_jw_key(&w, "attributes");
                vg_jw_obj_begin(&w);
                attrs_open = true;
            } else if (!attr && attrs_open) {
                snprintf(errbuf, errlen, "%s: attributes.* columns must come last", what);
                rc = VG_ERR_PARSE;
                break;
            }
            vg_jw_key(&w, attr ? cols[c] + 11 : cols[c]);
            if (num)
                vg_jw_raw(&w, text, cell.len);
            else
                vg_jw_str(&w, (vg_str_t){text, (uint32_t) cell.len});
        }
        if (!rc && (r < 0 || c != n_cols || r != 1)) {
            snprintf(errbuf, errlen, "%s:%d: %s", what, line,
                     r < 0 ? "malformed quoting"
                           : "the row has another number of cells than the header");
            rc = VG_ERR_PARSE;
        }
        if (attrs_open) vg_jw_obj_end(&w);
        vg_jw_obj_end(&w);
        vg_mpw_raw(&all, w.buf, w.len);
        vg_mpw_raw(&all, "\n", 1);
    }
    for (int i = 0; i < n_cols; i++) free(cols[i]);
    vg_mpw_fini(&cell);
    vg_jw_fini(&w);
    if (rc || all.err) {
        vg_mpw_fini(&all);
        return rc ? rc : VG_ERR_LIMIT;
    }
    *out_len = all.len;
    *out = vg_malloc(all.len + 1);
    if (all.len) memcpy(*out, all.buf, all.len);
    (*out)[all.len] = 0;
    vg_mpw_fini(&all);
    return 0;
}
