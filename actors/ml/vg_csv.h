/* vg_csv.h: a numeric CSV table (RFC 4180 quoting, header row required)
 * for vigil-train --csv: every cell must be a number; an empty cell is a
 * missing value (NaN). Errors name the row, line and column. */
#ifndef VG_CSV_H
#define VG_CSV_H

#include <stddef.h>
#include <stdint.h>

#define VG_CSV_MAX_COLS 4096
#define VG_ML_INPUT_MAX ((size_t) 16 << 30) /* any vigil-train input file: 16 GiB */

typedef struct {
    uint32_t cols; /* columns of the header */
    size_t rows;   /* data rows (blank lines are skipped) */
    char **names;  /* cols header names (one allocation) */
    double *cells; /* rows x cols, row-major; NaN = empty cell */
} vg_csv_t;

/* Parses len bytes of CSV; `what` names the input in messages (a path).
 * On success fills *out (release with vg_csv_fini) and returns 0; else
 * VG_ERR_PARSE with e.g. "data.csv: row 12 (line 13), column 3 'f2':
 * 'abc' is not a number" in errbuf and *out empty. */
int vg_csv_parse(const char *buf, size_t len, const char *what, vg_csv_t *out, char *errbuf,
                 size_t errlen);

/* Reads and parses a file; VG_ERR_IO when it cannot be read. */
int vg_csv_read(const char *path, vg_csv_t *out, char *errbuf, size_t errlen);

void vg_csv_fini(vg_csv_t *t);

/* Index of the column named name, or -1. */
int vg_csv_column(const vg_csv_t *t, const char *name);

#endif
