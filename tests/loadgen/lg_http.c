/* lg_http.c: minimal HTTP/1.1 keep-alive client on blocking TCP sockets.
 * Request = one writev (header prefix, length, body); the response is
 * read into one growing buffer and a chunked body is decoded in place. */
#include "lg_http.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define S_MAX_RESPONSE (256u << 20)

struct lg_http {
    lg_url_t url;
    int fd;
    bool reused; /* the connection already carried a full exchange */
    int timeout_ms;
    char *prefix; /* "POST ... Content-Length: " minus the content type */
    size_t prefix_len;
    char *extra;
    char *buf;
    size_t len, cap;
    char err[256];
};

/* ---- URL --------------------------------------------------------------- */

static int s_bad(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    return VG_ERR_INVALID;
}

int lg_url_parse(const char *url, lg_url_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (strncmp(url, "https://", 8) == 0)
        return s_bad(err, errlen, "https is not supported (use http://)");
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
    if (strstr(p, "://")) return s_bad(err, errlen, "only http:// URLs are supported");
    const char *host = p, *host_end;
    if (*p == '[') { /* [v6]:port */
        host = ++p;
        host_end = strchr(p, ']');
        if (!host_end) return s_bad(err, errlen, "unterminated '[' in the host");
        p = host_end + 1;
    } else {
        while (*p && *p != ':' && *p != '/') p++;
        host_end = p;
    }
    size_t hl = (size_t) (host_end - host);
    if (hl == 0 || hl >= sizeof out->host) return s_bad(err, errlen, "missing or too long host");
    memcpy(out->host, host, hl);
    snprintf(out->port, sizeof out->port, "80");
    if (*p == ':') {
        const char *ps = ++p;
        while (*p >= '0' && *p <= '9') p++;
        size_t pl = (size_t) (p - ps);
        long port = pl && pl < 6 ? strtol(ps, NULL, 10) : 0;
        if (port < 1 || port > 65535 || (*p && *p != '/'))
            return s_bad(err, errlen, "port must be 1..65535");
        snprintf(out->port, sizeof out->port, "%ld", port);
    }
    if (*p && *p != '/') return s_bad(err, errlen, "unexpected characters after the host");
    if (!*p || strcmp(p, "/") == 0) p = "/v1/transactions";
    if (strlen(p) >= sizeof out->path) return s_bad(err, errlen, "path too long");
    for (const char *c = p; *c; c++)
        if (*c <= ' ' || *c == 0x7f) return s_bad(err, errlen, "path holds a space or control");
    snprintf(out->path, sizeof out->path, "%s", p);
    return 0;
}

/* ---- connection -------------------------------------------------------- */

static int s_connect(const lg_url_t *url, int timeout_ms, int *fd_out, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(url->host, url->port, &hints, &res);
    if (gai) {
        snprintf(err, errlen, "resolve %s: %s", url->host, gai_strerror(gai));
        return VG_ERR_UNREACHABLE;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* also bounds connect */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "connect %s:%s: %s", url->host, url->port,
                 e == EINPROGRESS || e == EAGAIN ? "timed out" : strerror(e));
        return VG_ERR_UNREACHABLE;
    }
    *fd_out = fd;
    return 0;
}

int lg_http_probe(const lg_url_t *url, int timeout_ms, char *err, size_t errlen)
{
    int fd;
    int rc = s_connect(url, timeout_ms, &fd, err, errlen);
    if (rc == 0) close(fd);
    return rc;
}

lg_http_t *lg_http_new(const lg_url_t *url, const char *extra_headers, int timeout_ms)
{
    lg_http_t *c = VG_NEW(lg_http_t);
    c->url = *url;
    c->fd = -1;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    c->extra = vg_strdup(extra_headers ? extra_headers : "");
    const char *h = url->host;
    bool v6 = strchr(h, ':') != NULL;
    size_t cap = strlen(url->path) + strlen(h) + strlen(c->extra) + 128;
    c->prefix = vg_malloc(cap);
    c->prefix_len =
        (size_t) snprintf(c->prefix, cap,
                          "POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\n"
                          "User-Agent: vigil-loadgen\r\n%s",
                          url->path, v6 ? "[" : "", h, v6 ? "]" : "", url->port, c->extra);
    c->cap = 64 * 1024;
    c->buf = vg_malloc(c->cap + 1);
    return c;
}

static void s_close(lg_http_t *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->reused = false;
}

void lg_http_destroy(lg_http_t **self_p)
{
    if (!self_p || !*self_p) return;
    lg_http_t *c = *self_p;
    s_close(c);
    vg_free(c->prefix);
    vg_free(c->extra);
    vg_free(c->buf);
    vg_free(c);
    *self_p = NULL;
}

const char *lg_http_error(const lg_http_t *c)
{
    return c->err;
}

/* ---- one exchange ------------------------------------------------------ */

static int s_send_all(lg_http_t *c, struct iovec *iov, int n)
{
    while (n > 0) {
        struct msghdr m = {0};
        m.msg_iov = iov;
        m.msg_iovlen = (size_t) n;
        ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? VG_ERR_TIMEOUT : VG_ERR_IO;
        }
        size_t left = (size_t) w;
        while (n > 0 && left >= iov->iov_len) left -= iov->iov_len, iov++, n--;
        if (n > 0) iov->iov_base = (char *) iov->iov_base + left, iov->iov_len -= left;
    }
    return 0;
}

/* Reads more bytes into buf. Returns >0 bytes, 0 on EOF, or a vg_err. */
static long s_read_more(lg_http_t *c)
{
    if (c->cap - c->len < 16 * 1024) {
        if (c->cap >= S_MAX_RESPONSE) return VG_ERR_TOO_LARGE;
        c->cap *= 2;
        c->buf = vg_realloc(c->buf, c->cap + 1);
    }
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (r >= 0) {
            c->len += (size_t) r;
            return (long) r;
        }
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? VG_ERR_TIMEOUT : VG_ERR_IO;
    }
}

typedef struct {
    size_t hdr_len;
    int status;
    bool chunked, close_conn, has_length;
    size_t length;
} s_head_t;

static bool s_header_is(const char *line, size_t n, const char *name, const char **value)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0) return false;
    *value = line + nl + 1;
    while (**value == ' ' || **value == '\t') (*value)++;
    return true;
}

static bool s_has_token(const char *v, const char *end, const char *tok)
{
    size_t tl = strlen(tok);
    for (const char *p = v; p + tl <= end; p++)
        if (strncasecmp(p, tok, tl) == 0) return true;
    return false;
}

static int s_parse_head(lg_http_t *c, const char *end, s_head_t *h)
{
    const char *p = c->buf;
    if (end - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ') return VG_ERR_PROTO;
    h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (h->status < 100 || h->status > 599) return VG_ERR_PROTO;
    h->close_conn = p[7] == '0'; /* HTTP/1.0 closes unless keep-alive */
    const char *line = memchr(p, '\n', (size_t) (end - p)) + 1;
    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t) (end - line));
        if (!eol) break;
        size_t n = (size_t) (eol - line);
        if (n && line[n - 1] == '\r') n--;
        const char *v;
        if (s_header_is(line, n, "content-length", &v)) {
            char *e;
            unsigned long long l = strtoull(v, &e, 10);
            if (e == v || l > S_MAX_RESPONSE) return VG_ERR_PROTO;
            h->has_length = true, h->length = (size_t) l;
        } else if (s_header_is(line, n, "transfer-encoding", &v)) {
            h->chunked = s_has_token(v, line + n, "chunked");
        } else if (s_header_is(line, n, "connection", &v)) {
            if (s_has_token(v, line + n, "close"))
                h->close_conn = true;
            else if (s_has_token(v, line + n, "keep-alive"))
                h->close_conn = false;
        }
        line = eol + 1;
    }
    return 0;
}

/* Decodes complete chunks from *scan into *out (in place). Returns 1 when
 * the last chunk was seen, 0 when more bytes are needed, or VG_ERR_PROTO. */
static int s_dechunk(lg_http_t *c, size_t *scan, size_t *out)
{
    for (;;) {
        char *p = c->buf + *scan, *end = c->buf + c->len;
        char *eol = memchr(p, '\n', (size_t) (end - p));
        if (!eol) return end - p > 1024 ? VG_ERR_PROTO : 0;
        char *e;
        unsigned long long size = strtoull(p, &e, 16);
        if (e == p || size > S_MAX_RESPONSE) return VG_ERR_PROTO;
        char *data = eol + 1;
        if (size == 0) { /* last chunk, then optional trailers and an empty line */
            for (char *l = data;;) {
                char *le = memchr(l, '\n', (size_t) (end - l));
                if (!le) return 0;
                if (le == l || (le == l + 1 && *l == '\r')) {
                    *scan = (size_t) (le + 1 - c->buf);
                    return 1;
                }
                l = le + 1;
            }
        }
        if ((size_t) (end - data) < size + 2) return 0;
        memmove(c->buf + *out, data, size);
        *out += size;
        *scan = (size_t) (data + size - c->buf);
        if (c->buf[*scan] == '\r') ++*scan;
        if (c->buf[*scan] != '\n') return VG_ERR_PROTO;
        ++*scan;
    }
}

static int s_fail(lg_http_t *c, int rc, const char *what)
{
    snprintf(c->err, sizeof c->err, "%s %s:%s: %s", what, c->url.host, c->url.port,
             rc == VG_ERR_TIMEOUT     ? "timed out"
             : rc == VG_ERR_PROTO     ? "malformed HTTP response"
             : rc == VG_ERR_TOO_LARGE ? "response too large"
             : errno                  ? strerror(errno)
                                      : "connection closed");
    s_close(c);
    return rc == VG_ERR_PROTO || rc == VG_ERR_TOO_LARGE ? VG_ERR_IO : rc;
}

/* One attempt. *idle_close is set when a reused connection turned out to
 * be closed before any response byte arrived (safe to retry). */
static int s_exchange(lg_http_t *c, const char *ctype, const char *body, size_t len,
                      lg_http_resp_t *resp, bool *idle_close)
{
    *idle_close = false;
    if (c->fd < 0) {
        int rc = s_connect(&c->url, c->timeout_ms, &c->fd, c->err, sizeof c->err);
        if (rc) return rc;
    }
    char mid[160];
    int ml =
        snprintf(mid, sizeof mid, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", ctype, len);
    struct iovec iov[3] = {{c->prefix, c->prefix_len}, {mid, (size_t) ml}, {(void *) body, len}};
    bool reused = c->reused;
    errno = 0;
    int rc = s_send_all(c, iov, len ? 3 : 2);
    if (rc) {
        *idle_close = reused && rc == VG_ERR_IO;
        return s_fail(c, rc, "send to");
    }
    c->len = 0;
    s_head_t h = {0};
    size_t scan = 0, out = 0;
    for (;;) {
        if (!h.hdr_len && c->len) { /* the head, once it is complete */
            c->buf[c->len] = 0;
            char *end = strstr(c->buf, "\r\n\r\n");
            if (end) {
                h.hdr_len = (size_t) (end + 4 - c->buf);
                if ((rc = s_parse_head(c, end + 2, &h))) return s_fail(c, rc, "read from");
                if (h.status < 200) { /* 1xx: drop it, the real response follows */
                    memmove(c->buf, c->buf + h.hdr_len, c->len - h.hdr_len);
                    c->len -= h.hdr_len;
                    h = (s_head_t){0};
                    continue;
                }
                scan = out = h.hdr_len;
            } else if (c->len > 64 * 1024) {
                return s_fail(c, VG_ERR_PROTO, "read from");
            }
        }
        if (h.hdr_len) { /* the body, once it is complete */
            if (h.chunked) {
                rc = s_dechunk(c, &scan, &out);
                if (rc < 0) return s_fail(c, rc, "read from");
                if (rc == 1) break;
            } else if (h.has_length && c->len - h.hdr_len >= h.length) {
                break;
            }
        }
        errno = 0;
        long r = s_read_more(c);
        if (r < 0) {
            *idle_close = reused && c->len == 0 && r == VG_ERR_IO;
            return s_fail(c, (int) r, "read from");
        }
        if (r == 0) {                                            /* EOF */
            if (h.hdr_len && !h.chunked && !h.has_length) break; /* close-delimited body */
            *idle_close = reused && c->len == 0;
            return s_fail(c, VG_ERR_IO, "read from");
        }
    }
    if (!h.chunked) out = h.has_length ? h.hdr_len + h.length : c->len;
    c->buf[out] = 0;
    resp->status = h.status;
    resp->body = c->buf + h.hdr_len;
    resp->body_len = out - h.hdr_len;
    if (h.close_conn || (!h.chunked && !h.has_length)) {
        int fd = c->fd; /* keep the buffer, drop the socket */
        c->fd = -1;
        close(fd);
        c->reused = false;
    } else {
        c->reused = true;
    }
    return 0;
}

int lg_http_post(lg_http_t *c, const char *content_type, const char *body, size_t len,
                 lg_http_resp_t *resp)
{
    bool idle_close;
    int rc = s_exchange(c, content_type, body, len, resp, &idle_close);
    if (rc && idle_close) rc = s_exchange(c, content_type, body, len, resp, &idle_close);
    return rc;
}
