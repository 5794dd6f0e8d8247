/* vg_http.c: civetweb glue: start/stop with hardened options (no document
 * root, capped headers, keep-alive), prefix routing, body reading with a
 * size cap, and one response path. */
#include "vg_http.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"

#include <civetweb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_ROUTES 32
#define S_DRAIN_MS   10000 /* vg_http_stop: at most this long for requests in progress */

typedef struct {
    char prefix[64];
    vg_http_handler_fn *fn;
    void *ctx;
    vg_http_server_t *server;
} s_route_t;

struct vg_http_server {
    struct mg_context *mg;
    s_route_t routes[S_MAX_ROUTES];
    int n_routes;
    int port;
    atomic_int inflight;  /* requests in a handler */
    atomic_bool draining; /* vg_http_stop: new requests are refused */
};

struct vg_http_conn {
    struct mg_connection *mg;
    const struct mg_request_info *ri;
    bool responded;
};

static int s_log(const struct mg_connection *conn, const char *message)
{
    (void) conn;
    vg_warn("http", "%s", message);
    return 1;
}

static int s_dispatch(struct mg_connection *mg, void *cbdata)
{
    s_route_t *r = cbdata;
    vg_http_conn_t c = {.mg = mg, .ri = mg_get_request_info(mg)};
    atomic_fetch_add(&r->server->inflight, 1);
    if (atomic_load(&r->server->draining)) { /* stopping: answered, never half-done */
        static const char body[] =
            "{\"error\":{\"code\":\"CLOSED\",\"message\":\"the server is shutting down: "
            "retry (another gateway, or this one once restarted)\",\"field\":null}}";
        vg_http_respond(&c, 503, "application/json", body, sizeof body - 1,
                        "Retry-After: 1\r\nConnection: close\r\n");
    } else {
        r->fn(r->ctx, &c);
        if (!c.responded) vg_http_respond(&c, 500, "application/json", "{}", 2, NULL);
    }
    atomic_fetch_sub(&r->server->inflight, 1);
    return 1;
}

int vg_http_start(const vg_http_config_t *cfg, vg_http_server_t **out, char *errbuf, size_t errlen)
{
    static int inited;
    if (!inited++) mg_init_library(0);
    char threads[24], timeout[24], maxhdr[24];
    snprintf(threads, sizeof threads, "%d", cfg->threads > 0 ? cfg->threads : 16);
    snprintf(timeout, sizeof timeout, "%d",
             cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 30000);
    snprintf(maxhdr, sizeof maxhdr, "%zu", cfg->max_header_bytes ? cfg->max_header_bytes : 16384);
    const char *options[] = {"listening_ports",
                             cfg->listen,
                             "num_threads",
                             threads,
                             "request_timeout_ms",
                             timeout,
                             "max_request_size",
                             maxhdr,
                             "enable_keep_alive",
                             "yes",
                             "keep_alive_timeout_ms",
                             "30000",
                             "tcp_nodelay",
                             "1",
                             "enable_directory_listing",
                             "no",
                             NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = s_log;
    struct mg_init_data init = {
        .callbacks = &cb, .user_data = NULL, .configuration_options = options};
    unsigned mgcode = 0;
    char mgerr[256] = "";
    struct mg_error_data err = {.code = &mgcode};
    err.text = mgerr;
    err.text_buffer_size = sizeof mgerr;
    vg_http_server_t *s = VG_NEW(vg_http_server_t);
    s->mg = mg_start2(&init, &err);
    if (!s->mg) {
        snprintf(errbuf, errlen, "cannot listen on %s: %s", cfg->listen,
                 mgerr[0] ? mgerr : "unknown error");
        free(s);
        return VG_ERR_IO;
    }
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(s->mg, 4, ports);
    s->port = n > 0 ? ports[0].port : 0;
    *out = s;
    return 0;
}

void vg_http_route(vg_http_server_t *s, const char *prefix, vg_http_handler_fn *fn, void *ctx)
{
    VG_ASSERT(s->n_routes < S_MAX_ROUTES);
    s_route_t *r = &s->routes[s->n_routes++];
    snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
    r->fn = fn;
    r->ctx = ctx;
    r->server = s;
    mg_set_request_handler(s->mg, r->prefix, s_dispatch, r);
}

int vg_http_port(vg_http_server_t *s)
{
    return s->port;
}

void vg_http_stop(vg_http_server_t **s_p)
{
    vg_http_server_t *s = *s_p;
    if (!s) return;
    /* civetweb's mg_stop drops the answers of requests still running (its
     * writes stop with the server), so: refuse new requests (503), let
     * the running ones answer, then stop */
    atomic_store(&s->draining, true);
    int waited = 0;
    for (; atomic_load(&s->inflight) > 0 && waited < S_DRAIN_MS; waited += 10) usleep(10000);
    if (atomic_load(&s->inflight) > 0)
        vg_warn("http", "stopping with %d request(s) still running after %d ms",
                atomic_load(&s->inflight), S_DRAIN_MS);
    mg_stop(s->mg);
    free(s);
    *s_p = NULL;
}

const char *vg_http_method(vg_http_conn_t *c)
{
    return c->ri->request_method ? c->ri->request_method : "";
}

const char *vg_http_path(vg_http_conn_t *c)
{
    return c->ri->local_uri ? c->ri->local_uri : "/";
}

const char *vg_http_query(vg_http_conn_t *c)
{
    return c->ri->query_string ? c->ri->query_string : "";
}

const char *vg_http_header(vg_http_conn_t *c, const char *name)
{
    return mg_get_header(c->mg, name);
}

int vg_http_param(vg_http_conn_t *c, const char *name, char *out, size_t cap)
{
    const char *q = c->ri->query_string;
    if (!q) return -1;
    int n = mg_get_var(q, strlen(q), name, out, cap);
    return n >= 0 ? n : n == -1 ? -1 : -2;
}

int vg_http_read_body(vg_http_conn_t *c, size_t max, char **buf, size_t *cap, size_t *len)
{
    long long declared = c->ri->content_length;
    *len = 0;
    if (declared > 0 && (unsigned long long) declared > max) return VG_ERR_TOO_LARGE;
    size_t want = declared > 0 ? (size_t) declared : 65536;
    for (;;) {
        if (*cap < *len + 1 || *cap - *len < 4096) {
            size_t ncap = VG_MAX(*cap * 2, want + 1);
            *buf = vg_realloc(*buf, ncap);
            *cap = ncap;
        }
        int n = mg_read(c->mg, *buf + *len, *cap - *len - 1);
        if (n < 0) return VG_ERR_IO;
        if (n == 0) break;
        *len += (size_t) n;
        if (*len > max) return VG_ERR_TOO_LARGE;
    }
    (*buf)[*len] = 0;
    return 0;
}

void vg_http_respond(vg_http_conn_t *c, int status, const char *content_type, const void *body,
                     size_t len, const char *extra_headers)
{
    if (c->responded) return;
    c->responded = true;
    char clen[32];
    snprintf(clen, sizeof clen, "%zu", len);
    mg_response_header_start(c->mg, status);
    mg_response_header_add(c->mg, "Content-Type", content_type, -1);
    mg_response_header_add(c->mg, "Content-Length", clen, -1);
    mg_response_header_add(c->mg, "Cache-Control", "no-store", -1);
    if (extra_headers) mg_response_header_add_lines(c->mg, extra_headers);
    mg_response_header_send(c->mg);
    if (len && strcmp(vg_http_method(c), "HEAD") != 0) mg_write(c->mg, body, len);
}
