/* vg_http.h: Vigil's HTTP server, a thin wrapper over civetweb (the only
 * module that includes civetweb.h). Handlers are registered per path
 * prefix and run on the server's worker threads; there is no document
 * root (see ARCHITECTURE.md pitfalls): every URL is served by code. */
#ifndef VG_HTTP_H
#define VG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_http_server vg_http_server_t;
typedef struct vg_http_conn vg_http_conn_t; /* one request; valid during the handler */

typedef struct {
    const char *listen;      /* "127.0.0.1:8080" (host:port or port) */
    int threads;             /* worker threads; 0 = 16 */
    int request_timeout_ms;  /* 0 = 30000 */
    size_t max_header_bytes; /* 0 = 16384 */
} vg_http_config_t;

/* Handler: returns nothing; must respond exactly once via vg_http_respond. */
typedef void(vg_http_handler_fn)(void *ctx, vg_http_conn_t *c);

/* Starts listening. Returns 0 or VG_ERR_IO with a message in errbuf (e.g.
 * "127.0.0.1:8080: address already in use"). */
int vg_http_start(const vg_http_config_t *cfg, vg_http_server_t **out, char *errbuf, size_t errlen);
/* Routes requests whose path is prefix or starts with prefix + "/". */
void vg_http_route(vg_http_server_t *s, const char *prefix, vg_http_handler_fn *fn, void *ctx);
/* The bound port (useful with port 0). */
int vg_http_port(vg_http_server_t *s);
/* Stops accepting, waits for running handlers, frees; NULL-safe. */
void vg_http_stop(vg_http_server_t **s_p);

const char *vg_http_method(vg_http_conn_t *c);
const char *vg_http_path(vg_http_conn_t *c);                     /* URL-decoded, without query */
const char *vg_http_query(vg_http_conn_t *c);                    /* raw query string or "" */
const char *vg_http_header(vg_http_conn_t *c, const char *name); /* NULL if absent */
/* Query parameter, URL-decoded into out. Returns its length, or -1 if
 * absent, or -2 if it does not fit. */
int vg_http_param(vg_http_conn_t *c, const char *name, char *out, size_t cap);

/* Reads the whole body into *buf (grown with vg_realloc; caller owns and
 * may reuse it across calls via cap). Returns 0, VG_ERR_TOO_LARGE when it
 * exceeds max (declared or actual), or VG_ERR_IO. */
int vg_http_read_body(vg_http_conn_t *c, size_t max, char **buf, size_t *cap, size_t *len);

/* Sends status, Content-Type, Content-Length, optional extra header lines
 * ("Allow: POST\r\n"), and the body. */
void vg_http_respond(vg_http_conn_t *c, int status, const char *content_type, const void *body,
                     size_t len, const char *extra_headers);

#endif
