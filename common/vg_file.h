/* vg_file.h: whole-file reads for loaders (model artifacts, training data,
 * label files): one call, a size cap, errors as a code plus "path: reason". */
#ifndef VG_FILE_H
#define VG_FILE_H

#include <stddef.h>

/* Reads the regular file at path into a new buffer (caller frees) with a
 * NUL after the last byte (not counted in *len). Returns 0, VG_ERR_IO
 * (cannot open or read, not a regular file) or VG_ERR_TOO_LARGE (more
 * than max bytes), with "path: reason" in errbuf. */
int vg_file_read(const char *path, size_t max, char **buf, size_t *len, char *errbuf,
                 size_t errlen);

#endif
