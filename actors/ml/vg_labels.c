/* vg_labels.c: the three label file shapes into one id -> label map. */
#include "vg_labels.h"

#include "vg_csv.h"
#include "vg_err.h"
#include "vg_file.h"
#include "vg_json.h"
#include "vg_mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Map values: non-NULL markers. */
static const char s_neg = 0, s_pos = 1;

static void s_put(vg_labels_t *l, vg_str_t id, bool pos)
{
    const void *old = vg_strmap_get(&l->map, id);
    if (old) {
        l->n_pos -= old == &s_pos;
        l->n--;
    }
    vg_strmap_put(&l->map, id, (void *) (pos ? &s_pos : &s_neg));
    l->n++;
    l->n_pos += pos;
}

/* Splits one CSV line (no quoted commas) into at most max fields,
 * trimming blanks and surrounding quotes. Returns the field count. */
static int s_split(const char *p, const char *end, vg_str_t *f, int max)
{
    int k = 0;
    while (k < max) {
        const char *c = memchr(p, ',', (size_t) (end - p));
        const char *e = c ? c : end, *s = p;
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
        if (e - s >= 2 && *s == '"' && e[-1] == '"') s++, e--;
        f[k++] = (vg_str_t){s, (uint32_t) (e - s)};
        if (!c) break;
        p = c + 1;
    }
    return k;
}

#define S_MAX_COLS 64

static int s_csv(vg_labels_t *l, const char *what, char *errbuf, size_t errlen)
{
    const char *p = l->buf, *end = l->buf + l->len;
    vg_str_t f[S_MAX_COLS];
    int id_col = -1, label_col = -1;
    size_t line = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p)), *eol = nl ? nl : end;
        line++;
        int k = s_split(p, eol, f, S_MAX_COLS);
        p = nl ? nl + 1 : end;
        if (k == 1 && f[0].len == 0) continue; /* blank line */
        if (id_col < 0) {
            for (int i = 0; i < k; i++) {
                if (vg_str_eq_c(f[i], "id")) id_col = i;
                if (vg_str_eq_c(f[i], "label")) label_col = i;
            }
            if (id_col < 0 || label_col < 0)
                return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                               "%s: line %zu: the header must name an 'id' and a 'label' column "
                               "(e.g. id,label,kind)",
                               what, line);
            continue;
        }
        if (k <= id_col || k <= label_col)
            return vg_errf(errbuf, errlen, VG_ERR_PARSE, "%s: line %zu: %d columns, too few", what,
                           line, k);
        vg_str_t id = f[id_col], lab = f[label_col];
        if (id.len == 0)
            return vg_errf(errbuf, errlen, VG_ERR_PARSE, "%s: line %zu: empty id", what, line);
        if (lab.len != 1 || (lab.ptr[0] != '0' && lab.ptr[0] != '1'))
            return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                           "%s: line %zu: label must be 0 or 1 (got '%.*s')", what, line,
                           (int) (lab.len > 20 ? 20 : lab.len), lab.ptr);
        s_put(l, id, lab.ptr[0] == '1');
    }
    if (id_col < 0) return vg_errf(errbuf, errlen, VG_ERR_PARSE, "%s: empty (no header)", what);
    return 0;
}

static int s_json_error(vg_jr_t *r, const char *what, char *errbuf, size_t errlen)
{
    return vg_errf(errbuf, errlen, VG_ERR_PARSE, "%s: invalid JSON at byte %zu: %s", what,
                   r->err_off, r->reason ? r->reason : "syntax error");
}

static int s_json_object(vg_labels_t *l, vg_jr_t *r, const char *what, char *errbuf, size_t errlen)
{
    bool first = true;
    vg_str_t key;
    int more;
    if (vg_jr_obj_begin(r)) return s_json_error(r, what, errbuf, errlen);
    while ((more = vg_jr_obj_next(r, &first, &key)) > 0) {
        char c = vg_jr_peek(r);
        bool pos;
        if (c == 't' || c == 'f') {
            if (vg_jr_bool(r, &pos)) break;
        } else {
            vg_jnum_t num;
            if (vg_jr_number(r, &num)) break;
            if (!num.is_int || (num.i != 0 && num.i != 1))
                return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                               "%s: id '%.*s': label must be 1, 0, true or false", what,
                               (int) (key.len > 64 ? 64 : key.len), key.ptr);
            pos = num.i == 1;
        }
        s_put(l, key, pos);
    }
    if (more < 0 || r->err) return s_json_error(r, what, errbuf, errlen);
    return 0;
}

static int s_json_array(vg_labels_t *l, vg_jr_t *r, const char *what, char *errbuf, size_t errlen)
{
    bool first = true;
    int more;
    l->listed_only = 1;
    if (vg_jr_arr_begin(r)) return s_json_error(r, what, errbuf, errlen);
    while ((more = vg_jr_arr_next(r, &first)) > 0) {
        vg_str_t id;
        if (vg_jr_peek(r) != '"')
            return vg_errf(errbuf, errlen, VG_ERR_PARSE,
                           "%s: item %zu: anomalous ids must be strings", what, l->n);
        if (vg_jr_string(r, &id)) break;
        s_put(l, id, true);
    }
    if (more < 0 || r->err) return s_json_error(r, what, errbuf, errlen);
    return 0;
}

int vg_labels_parse(char *buf, size_t len, const char *what, vg_labels_t *out, char *errbuf,
                    size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->buf = buf;
    out->len = len;
    vg_strmap_init(&out->map, 65536);
    vg_jr_t r;
    vg_jr_init(&r, buf, len, &out->arena);
    char c = vg_jr_peek(&r);
    int rc;
    if (c == '{' || c == '[') {
        r.max_depth = 4;
        rc = c == '{' ? s_json_object(out, &r, what, errbuf, errlen)
                      : s_json_array(out, &r, what, errbuf, errlen);
        if (!rc && !vg_jr_at_end(&r))
            rc = vg_errf(errbuf, errlen, VG_ERR_PARSE, "%s: unexpected data after the JSON value",
                         what);
    } else {
        rc = s_csv(out, what, errbuf, errlen);
    }
    if (rc) vg_labels_fini(out);
    return rc;
}

int vg_labels_read(const char *path, vg_labels_t *out, char *errbuf, size_t errlen)
{
    char *buf;
    size_t len;
    int rc = vg_file_read(path, VG_ML_INPUT_MAX, &buf, &len, errbuf, errlen);
    if (rc) return rc;
    return vg_labels_parse(buf, len, path, out, errbuf, errlen);
}

int vg_labels_get(const vg_labels_t *l, vg_str_t id)
{
    const void *v = vg_strmap_get(&l->map, id);
    if (!v) return l->listed_only ? 0 : -1;
    return v == &s_pos;
}

void vg_labels_fini(vg_labels_t *l)
{
    vg_strmap_fini(&l->map);
    vg_arena_fini(&l->arena);
    free(l->buf);
    memset(l, 0, sizeof *l);
}
