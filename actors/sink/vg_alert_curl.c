/* vg_alert_curl.c: sending one message to a channel with libcurl (SMTP with
 * optional STARTTLS and AUTH; HTTP POST for Slack and webhooks, the latter
 * signed with HMAC-SHA256 from libsodium), with timeouts, restricted
 * protocols and no redirects. The only file of the alert module that
 * includes curl.h and sodium.h; curl errors become vg_err here. */
#include "vg_alert_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define S_MOD "alert"

struct vg__conn {
    const vg__chan_cfg_t *ch;
    atomic_bool *stop;
    CURL *curl;
    struct curl_slist *rcpt;
    char errbuf[CURL_ERROR_SIZE];
    /* one send */
    const char *body;
    size_t len, off;
    bool handed; /* the whole message was given to curl */
    char resp[200];
    size_t resp_len;
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void s_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (sodium_init() < 0) vg__assert_fail("sodium_init() >= 0", __FILE__, __LINE__);
}

void vg__alert_curl_init(void)
{
    pthread_once(&s_once, s_init);
}

uint32_t vg__alert_random(uint32_t n)
{
    vg__alert_curl_init();
    return n ? randombytes_uniform(n) : 0;
}

void vg__alert_random_bytes(void *buf, size_t n)
{
    vg__alert_curl_init();
    randombytes_buf(buf, n);
}

void vg__alert_sign(const uint8_t *secret, size_t secret_len, int64_t ts, const char *body,
                    size_t len, char *out)
{
    vg__alert_curl_init();
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char tsbuf[24];
    int tl = snprintf(tsbuf, sizeof tsbuf, "%" PRId64 ".", ts);
    crypto_auth_hmacsha256_init(&st, secret, secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) tsbuf, (unsigned long long) tl);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "v1=", 3);
    sodium_bin2hex(out + 3, 2 * sizeof mac + 1, mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
}

/* ---- callbacks -------------------------------------------------------------- */

static size_t s_on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    vg__conn_t *c = arg;
    size_t n = VG_MIN(size * nitems, c->len - c->off);
    memcpy(buf, c->body + c->off, n);
    c->off += n;
    if (n == 0) c->handed = true;
    return n;
}

static size_t s_on_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    vg__conn_t *c = arg;
    size_t n = size * nmemb, room = sizeof c->resp - 1 - c->resp_len;
    memcpy(c->resp + c->resp_len, ptr, VG_MIN(n, room));
    c->resp_len += VG_MIN(n, room);
    c->resp[c->resp_len] = 0;
    return n;
}

/* Aborts when stopping, unless the message was handed over completely (the
 * server may then have taken it: finishing avoids sending it twice). */
static int s_on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    vg__conn_t *c = arg;
    if (!atomic_load(c->stop)) return 0;
    if (c->ch->type != VG__CH_SMTP && ultotal > 0 && ulnow >= ultotal) c->handed = true;
    return c->handed ? 0 : 1;
}

/* ---- connection ---------------------------------------------------------- */

vg__conn_t *vg__conn_new(const vg__chan_cfg_t *ch, atomic_bool *stop)
{
    vg__alert_curl_init();
    vg__conn_t *c = VG_NEW(vg__conn_t);
    c->ch = ch;
    c->stop = stop;
    c->curl = curl_easy_init();
    VG_ASSERT(c->curl);
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_URL, ch->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) ch->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) ch->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, s_on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (ch->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, ch->ca_file);
    if (ch->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (ch->type == VG__CH_SMTP) {
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        char from[300];
        snprintf(from, sizeof from, "<%s>", ch->from);
        curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
        for (size_t i = 0; i < ch->n_to; i++) {
            char to[300];
            snprintf(to, sizeof to, "<%s>", ch->to[i]);
            c->rcpt = curl_slist_append(c->rcpt, to);
        }
        curl_easy_setopt(h, CURLOPT_MAIL_RCPT, c->rcpt);
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, s_on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        if (ch->starttls) curl_easy_setopt(h, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);
        if (ch->username) {
            curl_easy_setopt(h, CURLOPT_USERNAME, ch->username);
            curl_easy_setopt(h, CURLOPT_PASSWORD, ch->password ? ch->password : "");
        }
    } else {
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_POST, 1L);
    }
    return c;
}

void vg__conn_destroy(vg__conn_t **c_p)
{
    vg__conn_t *c = c_p ? *c_p : NULL;
    if (!c) return;
    curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->rcpt);
    free(c);
    *c_p = NULL;
}

/* Classifies an HTTP answer. */
static void s_http_status(vg__conn_t *c, long status, vg__send_t *res)
{
    res->status = status;
    if (status >= 200 && status < 300) return;
    res->rc = status == 408 || status == 429 || status >= 500 ? VG_ERR_UNREACHABLE : VG_ERR_PROTO;
    res->permanent = res->rc == VG_ERR_PROTO;
    snprintf(res->error, sizeof res->error, "HTTP %ld%s%s", status, c->resp_len ? ": " : "",
             c->resp);
}

void vg__conn_send(vg__conn_t *c, const vg__msg_t *msg, int64_t now_s, vg__send_t *res)
{
    memset(res, 0, sizeof *res);
    c->body = msg->body.buf;
    c->len = msg->body.len;
    c->off = 0;
    c->handed = false;
    c->resp_len = 0;
    c->resp[0] = 0;
    c->errbuf[0] = 0;
    CURL *h = c->curl;
    struct curl_slist *hdrs = NULL;
    if (c->ch->type != VG__CH_SMTP) {
        char line[160];
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        hdrs = curl_slist_append(hdrs, "User-Agent: vigil/" VG_VERSION);
        hdrs = curl_slist_append(hdrs, "Expect:");
        if (c->ch->type == VG__CH_WEBHOOK) {
            snprintf(line, sizeof line, "X-Vigil-Alert-Id: %s", msg->id);
            hdrs = curl_slist_append(hdrs, line);
            snprintf(line, sizeof line, "X-Vigil-Timestamp: %" PRId64, now_s);
            hdrs = curl_slist_append(hdrs, line);
            if (c->ch->secret) {
                char sig[80];
                vg__alert_sign(c->ch->secret, c->ch->secret_len, now_s, msg->body.buf,
                               msg->body.len, sig);
                snprintf(line, sizeof line, "X-Vigil-Signature: %s", sig);
                hdrs = curl_slist_append(hdrs, line);
            }
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, msg->body.buf);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) msg->body.len);
    }
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (hdrs) {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(hdrs);
    }
    if (cc == CURLE_ABORTED_BY_CALLBACK) {
        res->rc = VG_ERR_CLOSED;
        res->aborted = true;
        snprintf(res->error, sizeof res->error, "stopped before the message was sent");
        return;
    }
    if (cc == CURLE_OK && c->ch->type != VG__CH_SMTP) {
        s_http_status(c, code, res);
        return;
    }
    if (cc == CURLE_OK) return;
    res->status = code;
    res->rc = cc == CURLE_OPERATION_TIMEDOUT ? VG_ERR_TIMEOUT : VG_ERR_UNREACHABLE;
    /* SMTP: a 5xx reply (and refused credentials) will not change by retrying */
    res->permanent = c->ch->type == VG__CH_SMTP && (code >= 500 || cc == CURLE_LOGIN_DENIED);
    if (res->permanent) res->rc = VG_ERR_PROTO;
    snprintf(res->error, sizeof res->error, "%s%s%s", curl_easy_strerror(cc),
             c->errbuf[0] ? ": " : "", c->errbuf);
    if (code) {
        size_t n = strlen(res->error);
        snprintf(res->error + n, sizeof res->error - n, " (reply %ld)", code);
    }
}
