/* vg_file.c: whole-file reads (fstat for the size, one fread). */
#include "vg_file.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int vg_file_read(const char *path, size_t max, char **buf, size_t *len, char *errbuf, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return vg_errf(errbuf, errlen, VG_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode))
        rc = vg_errf(errbuf, errlen, VG_ERR_IO, "%s: not a regular file", path);
    else if ((unsigned long long) st.st_size > max)
        rc = vg_errf(errbuf, errlen, VG_ERR_TOO_LARGE, "%s: %lld bytes, more than the %zu allowed",
                     path, (long long) st.st_size, max);
    if (rc) {
        fclose(fp);
        return rc;
    }
    size_t n = (size_t) st.st_size;
    char *b = vg_malloc(n + 1);
    size_t got = fread(b, 1, n, fp);
    bool bad = ferror(fp) || got != n;
    fclose(fp);
    if (bad) {
        free(b);
        return vg_errf(errbuf, errlen, VG_ERR_IO, "%s: read error", path);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}
