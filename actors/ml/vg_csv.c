/* vg_csv.c: numeric CSV: one pass over the bytes, fields split on ',' and
 * '\n' (a '\r' before '\n' is dropped), "quoted" fields with "" escapes,
 * cells parsed with strtod (so nan/inf spellings are accepted; training
 * refuses infinities itself). */
#include "vg_csv.h"

#include "vg_err.h"
#include "vg_file.h"
#include "vg_mem.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define S_CELL_MAX 256 /* a number is never longer */

/* A field being read: the bytes (unquoted copy when quoted) and where
 * the record ends. */
typedef struct {
    const char *p, *end;
    size_t line;
    char tmp[S_CELL_MAX + 1];
} s_rd_t;

/* Reads one field into (*s, *n); *eol is set at the end of a record.
 * Quoted fields are copied into r->tmp (truncated at S_CELL_MAX: such a
 * cell is never a number, and names are cut). Returns false on an
 * unterminated quote. */
static bool s_field(s_rd_t *r, const char **s, size_t *n, bool *eol)
{
    const char *p = r->p;
    if (p < r->end && *p == '"') {
        size_t k = 0;
        for (p++;; p++) {
            if (p >= r->end) return false;
            if (*p == '"') {
                if (p + 1 < r->end && p[1] == '"') {
                    p++;
                } else {
                    p++;
                    break;
                }
            }
            if (*p == '\n') r->line++;
            if (k < S_CELL_MAX) r->tmp[k++] = *p;
        }
        *s = r->tmp;
        *n = k;
        while (p < r->end && *p != ',' && *p != '\n') p++; /* junk after the quote */
    } else {
        const char *start = p;
        while (p < r->end && *p != ',' && *p != '\n') p++;
        *s = start;
        *n = (size_t) (p - start);
        if (*n && start[*n - 1] == '\r') (*n)--;
    }
    *eol = p >= r->end || *p == '\n';
    if (*eol && p < r->end) r->line++;
    r->p = p < r->end ? p + 1 : p;
    return true;
}

static bool s_blank_line(const s_rd_t *r)
{
    const char *p = r->p;
    while (p < r->end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    return p >= r->end || *p == '\n';
}

static void s_skip_line(s_rd_t *r)
{
    const char *nl = memchr(r->p, '\n', (size_t) (r->end - r->p));
    r->p = nl ? nl + 1 : r->end;
    if (nl) r->line++;
}

static bool s_number(const char *s, size_t n, double *out)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n == 0) {
        *out = NAN;
        return true;
    }
    if (n > S_CELL_MAX) return false;
    char tmp[S_CELL_MAX + 1];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    *out = strtod(tmp, &end);
    return end == tmp + n;
}

static int s_header(s_rd_t *r, const char *what, vg_csv_t *t, char *errbuf, size_t errlen)
{
    size_t cap = 16, total = 0;
    char(*names)[S_CELL_MAX + 1] = vg_malloc(cap * sizeof *names);
    bool eol = false;
    uint32_t k = 0;
    while (!eol) {
        const char *s;
        size_t n;
        if (!s_field(r, &s, &n, &eol)) {
            free(names);
            return vg_errf(errbuf, errlen, VG_ERR_PARSE, "%s: header: unterminated quote", what);
        }
        if (k == VG_CSV_MAX_COLS) {
            free(names);
            return vg_errf(errbuf, errlen, VG_ERR_PARSE, "%s: more than %d columns", what,
                           VG_CSV_MAX_COLS);
        }
        if (k == cap) names = vg_realloc(names, (cap *= 2) * sizeof *names);
        n = n > S_CELL_MAX ? S_CELL_MAX : n;
        memcpy(names[k], s, n);
        names[k][n] = '\0';
        total += n + 1;
        k++;
    }
    t->cols = k;
    t->names = vg_malloc(k * sizeof(char *) + total);
    char *p = (char *) (t->names + k);
    for (uint32_t i = 0; i < k; i++) {
        size_t n = strlen(names[i]);
        memcpy(p, names[i], n + 1);
        t->names[i] = p;
        p += n + 1;
    }
    free(names);
    for (uint32_t i = 0; i < k; i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(t->names[i], t->names[j]) == 0)
                return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                               "%s: header: column name '%s' appears twice", what, t->names[i]);
    return 0;
}

int vg_csv_parse(const char *buf, size_t len, const char *what, vg_csv_t *out, char *errbuf,
                 size_t errlen)
{
    vg_csv_t t = {0};
    s_rd_t r = {.p = buf, .end = buf + len, .line = 1};
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) r.p += 3; /* UTF-8 BOM */
    while (r.p < r.end && s_blank_line(&r)) s_skip_line(&r);
    if (r.p >= r.end) return vg_errf(errbuf, errlen, VG_ERR_PARSE, "%s: empty (no header)", what);
    int rc = s_header(&r, what, &t, errbuf, errlen);
    size_t cap = 0;
    while (!rc && r.p < r.end) {
        if (s_blank_line(&r)) {
            s_skip_line(&r);
            continue;
        }
        if (t.rows == cap) {
            cap = cap ? cap * 2 : 1024;
            t.cells = vg_realloc(t.cells, cap * t.cols * sizeof *t.cells);
        }
        size_t line = r.line, row = t.rows + 1;
        double *cell = t.cells + t.rows * t.cols;
        bool eol = false;
        uint32_t c = 0;
        for (; !eol && !rc; c++) {
            const char *s;
            size_t n;
            if (!s_field(&r, &s, &n, &eol))
                rc = vg_errf(errbuf, errlen, VG_ERR_PARSE,
                             "%s: row %zu (line %zu): unterminated quote", what, row, line);
            else if (c >= t.cols)
                rc = vg_errf(errbuf, errlen, VG_ERR_PARSE,
                             "%s: row %zu (line %zu): more than the header's %u columns", what, row,
                             line, t.cols);
            else if (!s_number(s, n, &cell[c]))
                rc = vg_errf(errbuf, errlen, VG_ERR_PARSE,
                             "%s: row %zu (line %zu), column %u '%s': '%.*s' is not a number", what,
                             row, line, c + 1, t.names[c], (int) (n > 40 ? 40 : n), s);
        }
        if (!rc && c != t.cols)
            rc = vg_errf(errbuf, errlen, VG_ERR_PARSE,
                         "%s: row %zu (line %zu): %u columns, the header has %u", what, row, line,
                         c, t.cols);
        t.rows++;
    }
    if (rc) {
        vg_csv_fini(&t);
        return rc;
    }
    *out = t;
    return 0;
}

int vg_csv_read(const char *path, vg_csv_t *out, char *errbuf, size_t errlen)
{
    char *buf;
    size_t len;
    int rc = vg_file_read(path, VG_ML_INPUT_MAX, &buf, &len, errbuf, errlen);
    if (rc) return rc;
    rc = vg_csv_parse(buf, len, path, out, errbuf, errlen);
    free(buf);
    return rc;
}

void vg_csv_fini(vg_csv_t *t)
{
    free(t->names);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

int vg_csv_column(const vg_csv_t *t, const char *name)
{
    for (uint32_t i = 0; i < t->cols; i++)
        if (strcmp(t->names[i], name) == 0) return (int) i;
    return -1;
}
