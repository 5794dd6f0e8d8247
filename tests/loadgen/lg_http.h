/* lg_http.h: the small HTTP/1.1 client of vigil-loadgen: one keep-alive
 * connection per client, blocking sockets, one request at a time. It does
 * only what a load generator needs (POST with a Content-Length body;
 * responses with Content-Length, chunked or close-delimited bodies) with
 * one writev and as few reads as the kernel allows, so the client adds
 * microseconds, not tens of them, to every measured latency. */
#ifndef LG_HTTP_H
#define LG_HTTP_H

#include <stddef.h>

typedef struct {
    char host[256];
    char port[8];
    char path[512]; /* "/v1/transactions" when the URL has no path */
} lg_url_t;

/* Parses "http://host[:port][/path]" (IPv6 hosts in brackets). Returns 0,
 * or VG_ERR_INVALID with a reason in err. https is not supported. */
int lg_url_parse(const char *url, lg_url_t *out, char *err, size_t errlen);

typedef struct lg_http lg_http_t;

typedef struct {
    int status;       /* HTTP status code */
    const char *body; /* borrowed: valid until the next request or destroy */
    size_t body_len;
} lg_http_resp_t;

/* A client for url; connects lazily. extra_headers ("Name: value\r\n"
 * lines, may be NULL) are sent with every request. timeout_ms bounds
 * connect, each send and each wait for response bytes. */
lg_http_t *lg_http_new(const lg_url_t *url, const char *extra_headers, int timeout_ms);
void lg_http_destroy(lg_http_t **self_p);

/* POSTs body to the URL's path and reads the whole response. A request on
 * a kept-alive connection that the server closed in the meantime is
 * retried once on a new connection. Returns 0 (resp set, any status),
 * VG_ERR_UNREACHABLE (cannot connect), VG_ERR_TIMEOUT or VG_ERR_IO
 * (connection lost, malformed response); lg_http_error() says why. */
int lg_http_post(lg_http_t *c, const char *content_type, const char *body, size_t len,
                 lg_http_resp_t *resp);

/* Text of the last failure ("connect 127.0.0.1:8080: Connection refused"). */
const char *lg_http_error(const lg_http_t *c);

/* Opens and closes one connection to url: 0 when the target accepts
 * connections, else VG_ERR_UNREACHABLE with the reason in err. */
int lg_http_probe(const lg_url_t *url, int timeout_ms, char *err, size_t errlen);

#endif
