/* vg_api_static.c: the dashboard's built files, served from a map made
 * once at start (no document root: a URL is served only when it is
 * exactly one of the files found then, so "..", "%2e%2e", symlinks out
 * of the tree and later additions are never reachable), and the OpenAPI
 * document embedded at build time (gateway/openapi.json). */
#include "vg_api_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_MAX_FILES 2000
#define S_MAX_TOTAL (64u << 20)
#define S_MAX_DEPTH 6

extern const char vg__openapi_json[];
extern const size_t vg__openapi_json_len;

typedef struct {
    char *path; /* "/assets/x.js" */
    char *data;
    size_t len;
    const char *type;
} s_file_t;

struct vg__api_static {
    s_file_t *f;
    size_t n, total;
};

static const char *s_type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < VG_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return NULL; /* not served */
}

static bool s_name_ok(const char *name)
{
    if (name[0] == '.' || !name[0]) return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_'))
            return false;
    return true;
}

static void s_load(vg__api_static_t *s, const char *dir, const char *rel, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!s_name_ok(e->d_name)) continue;
        char full[1024], url[1024];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        snprintf(url, sizeof url, "%s/%s", rel, e->d_name);
        struct stat st;
        if (lstat(full, &st)) continue; /* symlinks are not followed */
        if (S_ISDIR(st.st_mode)) {
            if (depth < S_MAX_DEPTH) s_load(s, full, url, depth + 1);
            continue;
        }
        const char *type = s_type_of(e->d_name);
        if (!S_ISREG(st.st_mode) || !type || s->n >= S_MAX_FILES ||
            s->total + (size_t) st.st_size > S_MAX_TOTAL)
            continue;
        FILE *fp = fopen(full, "rb");
        if (!fp) continue;
        char *data = vg_malloc((size_t) st.st_size + 1);
        size_t got = fread(data, 1, (size_t) st.st_size, fp);
        fclose(fp);
        if (got != (size_t) st.st_size) {
            vg_free(data);
            continue;
        }
        s->f = vg_realloc(s->f, (s->n + 1) * sizeof *s->f);
        s->f[s->n++] = (s_file_t){vg_strdup(url), data, got, type};
        s->total += got;
    }
    closedir(d);
}

vg__api_static_t *vg__api_static_new(const char *dir)
{
    if (!dir || !*dir) return NULL;
    vg__api_static_t *s = VG_NEW(vg__api_static_t);
    s_load(s, dir, "", 0);
    if (!s->n) {
        vg_warn("api", "dashboard: no files in %s (serving the built-in page)", dir);
    } else {
        vg_info("api", "dashboard: %zu files (%zu bytes) from %s", s->n, s->total, dir);
    }
    return s;
}

void vg__api_static_free(vg__api_static_t **s_p)
{
    vg__api_static_t *s = s_p ? *s_p : NULL;
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) vg_free(s->f[i].path), vg_free(s->f[i].data);
    vg_free(s->f);
    vg_free(s);
    *s_p = NULL;
}

bool vg__api_static_serve(vg__api_static_t *s, vg_http_conn_t *c, vg__api_thread_t *t,
                          const char *path)
{
    if (!s) return false;
    if (strcmp(path, "/") == 0) path = "/index.html";
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->f[i].path, path) != 0) continue;
        bool html = strstr(s->f[i].type, "text/html") != NULL;
        bool hashed = strncmp(path, "/assets/", 8) == 0;
        char extra[600];
        snprintf(extra, sizeof extra, "X-Content-Type-Options: nosniff\r\nCache-Control: %s\r\n%s",
                 hashed ? "public, max-age=31536000, immutable" : "no-cache",
                 html ? "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"
                        "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
                        "style-src 'self' 'unsafe-inline'; connect-src 'self'; "
                        "frame-ancestors 'none'\r\n"
                      : "");
        vg__api_send(c, t, 200, s->f[i].type, s->f[i].data, s->f[i].len, extra);
        return true;
    }
    return false;
}

void vg_api_default_dashboard_dir(char *out, size_t cap)
{
    static const char *const candidates[] = {VG_SOURCE_DIR "/frontend/dist",
                                             "/usr/share/vigil/dashboard"};
    out[0] = 0;
    for (size_t i = 0; i < VG_ARRAY_LEN(candidates); i++) {
        char index[1024];
        snprintf(index, sizeof index, "%s/index.html", candidates[i]);
        struct stat st;
        if (stat(index, &st) == 0 && S_ISREG(st.st_mode)) {
            snprintf(out, cap, "%s", candidates[i]);
            return;
        }
    }
}

const char *vg__api_openapi_doc(size_t *len)
{
    if (len) *len = vg__openapi_json_len;
    return vg__openapi_json;
}

void vg__api_openapi(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    (void) api;
    if (!vg__api_method(c, t, "GET")) return;
    vg__api_send(c, t, 200, "application/json", vg__openapi_json, vg__openapi_json_len,
                 "Cache-Control: no-cache\r\n");
}
