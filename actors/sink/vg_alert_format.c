/* vg_alert_format.c: what an alert looks like on each channel (an RFC 5322
 * e-mail, a Slack incoming-webhook message with blocks, a generic webhook's
 * JSON body), for one alert or a digest of throttled ones, and the alert's
 * JSON in GET /v1/alerts. Pure code: every string that came from a
 * transaction is sanitised for where it goes (header folding and RFC 2047,
 * Slack mrkdwn escapes, JSON escapes via vg_jw). Formats: docs/ALERTS.md. */
#include "vg_alert_internal.h"

#include "vg_anomaly_json.h"
#include "vg_err.h"
#include "vg_mem.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- string builder -------------------------------------------------------- */

void vg__sb_init(vg__sb_t *b)
{
    b->cap = 256;
    b->buf = vg_malloc(b->cap);
    b->len = 0;
    b->buf[0] = 0;
}

void vg__sb_fini(vg__sb_t *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

static void s_reserve(vg__sb_t *b, size_t n)
{
    if (b->len + n + 1 <= b->cap) return;
    while (b->len + n + 1 > b->cap) b->cap *= 2;
    b->buf = vg_realloc(b->buf, b->cap);
}

void vg__sb_add(vg__sb_t *b, const char *s, size_t n)
{
    s_reserve(b, n);
    if (n) memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

void vg__sb_printf(vg__sb_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    s_reserve(b, (size_t) n);
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

/* ---- sanitising ------------------------------------------------------------ */

enum { S_PLAIN = 0, S_SLACK = 1 };

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t s_utf8_len(const unsigned char *p, size_t left)
{
    if (p[0] < 0x80) return 1;
    size_t n = (p[0] & 0xe0) == 0xc0   ? 2
               : (p[0] & 0xf0) == 0xe0 ? 3
               : (p[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (!n || n > left || (p[0] == 0xc0 || p[0] == 0xc1) || p[0] > 0xf4) return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    uint32_t cp =
        n == 2   ? (uint32_t) (p[0] & 0x1f) << 6 | (p[1] & 0x3f)
        : n == 3 ? (uint32_t) (p[0] & 0x0f) << 12 | (uint32_t) (p[1] & 0x3f) << 6 | (p[2] & 0x3f)
                 : (uint32_t) (p[0] & 0x07) << 18 | (uint32_t) (p[1] & 0x3f) << 12 |
                       (uint32_t) (p[2] & 0x3f) << 6 | (p[3] & 0x3f);
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff)
        return 0;
    return n;
}

/* Appends s as one line of text: control characters become spaces,
 * invalid UTF-8 '?', and for Slack &, <, > their entities. */
static void s_text(vg__sb_t *b, vg_str_t s, int mode)
{
    const unsigned char *p = (const unsigned char *) s.ptr;
    size_t n = s.ptr ? s.len : 0;
    for (size_t i = 0; i < n;) {
        size_t k = s_utf8_len(p + i, n - i);
        if (k == 0) {
            vg__sb_add(b, "?", 1);
            i++;
            continue;
        }
        if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f))
            vg__sb_add(b, " ", 1);
        else if (mode == S_SLACK && p[i] == '&')
            vg__sb_add(b, "&amp;", 5);
        else if (mode == S_SLACK && p[i] == '<')
            vg__sb_add(b, "&lt;", 4);
        else if (mode == S_SLACK && p[i] == '>')
            vg__sb_add(b, "&gt;", 4);
        else
            vg__sb_add(b, (const char *) p + i, k);
        i += k;
    }
}

static void s_ctext(vg__sb_t *b, const char *s, int mode)
{
    s_text(b, vg_str_c(s), mode);
}

void vg__alert_url(vg__sb_t *b, const char *dashboard_url, vg_str_t anomaly_id)
{
    vg__sb_printf(b, "%s/#/anomalies/", dashboard_url);
    static const char hex[] = "0123456789ABCDEF";
    for (uint32_t i = 0; i < anomaly_id.len; i++) {
        unsigned char c = (unsigned char) anomaly_id.ptr[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            vg__sb_add(b, (const char *) &c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            vg__sb_add(b, e, 3);
        }
    }
}

/* ---- facts shared by every format ----------------------------------------- */

static const char *s_sev(const vg_anomaly_rec_t *an)
{
    const char *s = vg_severity_name(an->severity);
    return s ? s : "unknown";
}

static const char *s_dec(const vg_anomaly_rec_t *an)
{
    const char *s = vg_decision_name(an->decision);
    return s ? s : "unknown";
}

static void s_upper(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char) (src[i] >= 'a' && src[i] <= 'z' ? src[i] - 32 : src[i]);
    dst[i] = 0;
}

/* Indices of the reasons by contribution, strongest first (at most max);
 * returns how many. */
static unsigned s_top_reasons(const vg_anomaly_rec_t *an, unsigned max, unsigned *idx)
{
    unsigned all[VG_VERDICT_REASONS_MAX], n = 0;
    for (unsigned i = 0; i < an->n_reasons && i < VG_VERDICT_REASONS_MAX; i++) {
        unsigned j = n++;
        while (j > 0 && an->reasons[all[j - 1]].contribution < an->reasons[i].contribution) {
            all[j] = all[j - 1];
            j--;
        }
        all[j] = i;
    }
    n = VG_MIN(n, max);
    memcpy(idx, all, n * sizeof *idx);
    return n;
}

/* "mad on amount: 1234.5 (baseline 40, threshold 3.5), +0.8" */
static void s_reason_line(vg__sb_t *b, const vg_reason_t *x, int mode)
{
    s_text(b, x->detector, mode);
    vg__sb_add(b, " on ", 4);
    s_text(b, x->feature, mode);
    vg__sb_printf(b, ": %.6g (baseline %.6g, threshold %.6g), +%.2f", x->value, x->baseline,
                  x->threshold, x->contribution);
}

/* "1234.50 EUR" */
static void s_amount(vg__sb_t *b, const vg_anomaly_rec_t *an)
{
    vg__sb_printf(b, "%.2f ", an->tx.amount);
    s_ctext(b, an->tx.currency, S_PLAIN);
}

static void s_window(vg__sb_t *b, int64_t ms)
{
    if (ms >= 3600000 && ms % 3600000 == 0)
        vg__sb_printf(b, "%" PRId64 " h", ms / 3600000);
    else if (ms >= 60000 && ms % 60000 == 0)
        vg__sb_printf(b, "%" PRId64 " min", ms / 60000);
    else
        vg__sb_printf(b, "%.3g s", (double) ms / 1000.0);
}

/* "3 occurrences of the same user and reason within 5 min" etc. */
static void s_counts(vg__sb_t *b, const vg__render_t *r, const vg__alert_t *al)
{
    if (al->count > 1) {
        vg__sb_printf(b, "%" PRIu32 " occurrences (same user and reason) within ", al->count);
        s_window(b, r->window_ms);
    } else {
        vg__sb_add(b, "1 occurrence", 12);
    }
    if (al->repeats_before)
        vg__sb_printf(b, "; %" PRIu32 " more after the previous alert was sent",
                      al->repeats_before);
}

/* One digest line: "HIGH block, user u1, 1234.50 EUR, score 0.91, mad:amount x3" */
static void s_digest_line(vg__sb_t *b, const vg__item_t *it, int mode)
{
    char sev[16];
    s_upper(sev, s_sev(it->an), sizeof sev);
    vg__sb_printf(b, "%s %s, user ", sev, s_dec(it->an));
    s_text(b, it->an->user_id, mode);
    vg__sb_add(b, ", ", 2);
    s_amount(b, it->an);
    vg__sb_printf(b, ", score %.2f, ", it->an->score);
    s_text(b, it->al->reason, mode);
    if (it->al->count > 1) vg__sb_printf(b, " x%" PRIu32, it->al->count);
}

/* ---- e-mail ------------------------------------------------------------------- */

static void s_b64(vg__sb_t *b, const unsigned char *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t) p[i] << 16 | (i + 1 < n ? (uint32_t) p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char o[4] = {t[v >> 18 & 63], t[v >> 12 & 63], i + 1 < n ? t[v >> 6 & 63] : '=',
                     i + 2 < n ? t[v & 63] : '='};
        vg__sb_add(b, o, 4);
    }
}

/* "Subject: <text>\r\n": ASCII as is (folded if long), else RFC 2047
 * encoded words of whole UTF-8 characters, at most 45 bytes each. */
static void s_subject(vg__sb_t *b, const char *text)
{
    size_t n = strlen(text);
    bool ascii = true;
    for (size_t i = 0; i < n; i++) ascii &= (unsigned char) text[i] < 0x80;
    vg__sb_add(b, "Subject: ", 9);
    if (ascii && n <= 900) {
        vg__sb_add(b, text, n);
        vg__sb_add(b, "\r\n", 2);
        return;
    }
    const unsigned char *p = (const unsigned char *) text;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n) {
            size_t k = s_utf8_len(p + j, n - j);
            if (!k) k = 1; /* sanitised before: cannot happen */
            if (j + k - i > 45) break;
            j += k;
        }
        if (i) vg__sb_add(b, "\r\n ", 3);
        vg__sb_add(b, "=?UTF-8?B?", 10);
        s_b64(b, p + i, j - i);
        vg__sb_add(b, "?=", 2);
        i = j;
    }
    vg__sb_add(b, "\r\n", 2);
}

static void s_date(vg__sb_t *b, int64_t ms)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    vg__sb_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday],
                  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
}

static void s_mail_head(vg__sb_t *b, const vg__render_t *r, const char *subject, const char *id)
{
    const vg__chan_cfg_t *ch = r->ch;
    const char *at = ch->from ? strchr(ch->from, '@') : NULL;
    s_date(b, r->now_ms);
    vg__sb_printf(b, "From: Vigil <%s>\r\nTo: ", ch->from ? ch->from : "vigil@localhost");
    for (size_t i = 0; i < ch->n_to; i++) vg__sb_printf(b, "%s<%s>", i ? ",\r\n " : "", ch->to[i]);
    vg__sb_add(b, "\r\n", 2);
    s_subject(b, subject);
    vg__sb_printf(b, "Message-ID: <vigil.%s.%s@%s>\r\n", id, r->instance, at ? at + 1 : r->host);
    vg__sb_printf(b, "X-Vigil-Alert-Id: %s\r\n", id);
    vg__sb_add(b, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n", 60);
    vg__sb_add(b, "Content-Transfer-Encoding: 8bit\r\n\r\n", 35);
}

static void s_mail_one(const vg__render_t *r, const vg__item_t *it, vg__msg_t *out)
{
    const vg_anomaly_rec_t *an = it->an;
    vg__sb_t s, body;
    vg__sb_init(&s);
    vg__sb_init(&body);
    char sev[16];
    s_upper(sev, s_sev(an), sizeof sev);
    vg__sb_printf(&s, "[Vigil] %s anomaly: user ", sev);
    s_text(&s, an->user_id, S_PLAIN);
    vg__sb_add(&s, ", ", 2);
    s_amount(&s, an);
    vg__sb_printf(&s, " (%s, score %.2f)", s_dec(an), an->score);
    if (it->al->count > 1) vg__sb_printf(&s, " x%" PRIu32, it->al->count);
    s_mail_head(&out->body, r, s.buf, it->id);

    vg__sb_add(&body, "Vigil detected an anomaly.\r\n\r\nUser:      ", 41);
    s_text(&body, an->user_id, S_PLAIN);
    vg__sb_add(&body, "\r\nAmount:    ", 13);
    s_amount(&body, an);
    vg__sb_printf(&body, "\r\nScore:     %.2f (%s)\r\nDecision:  %s\r\n", an->score, s_sev(an),
                  s_dec(an));
    char ts[32];
    vg_ts_format(an->ts_ms, ts);
    vg__sb_printf(&body, "Time:      %s\r\n", ts);
    if (an->tx.merchant_id.ptr) {
        vg__sb_add(&body, "Merchant:  ", 11);
        s_text(&body, an->tx.merchant_id, S_PLAIN);
        if (an->tx.merchant_category.ptr) {
            vg__sb_add(&body, " (", 2);
            s_text(&body, an->tx.merchant_category, S_PLAIN);
            vg__sb_add(&body, ")", 1);
        }
        vg__sb_add(&body, "\r\n", 2);
    }
    if (an->tx.country[0]) vg__sb_printf(&body, "Country:   %s\r\n", an->tx.country);
    vg__sb_add(&body, "Seen:      ", 11);
    s_counts(&body, r, it->al);
    vg__sb_add(&body, "\r\n\r\nReasons:\r\n", 14);
    unsigned idx[VG_VERDICT_REASONS_MAX];
    unsigned nr = s_top_reasons(an, VG_VERDICT_REASONS_MAX, idx);
    for (unsigned i = 0; i < nr; i++) {
        vg__sb_add(&body, "  - ", 4);
        s_reason_line(&body, &an->reasons[idx[i]], S_PLAIN);
        vg__sb_add(&body, "\r\n", 2);
    }
    if (!nr) vg__sb_add(&body, "  (none recorded)\r\n", 19);
    vg__sb_add(&body, "\r\nDetails: ", 11);
    vg__alert_url(&body, r->dashboard_url, an->id);
    vg__sb_printf(&body, "\r\nAlert %s, anomaly ", it->id);
    s_text(&body, an->id, S_PLAIN);
    vg__sb_add(&body, "\r\n", 2);
    vg__sb_add(&out->body, body.buf, body.len);
    vg__sb_fini(&s);
    vg__sb_fini(&body);
}

static void s_mail_digest(const vg__render_t *r, const vg__item_t *items, size_t n, vg__msg_t *out)
{
    vg__sb_t s, body;
    vg__sb_init(&s);
    vg__sb_init(&body);
    vg__sb_printf(&s, "[Vigil] digest: %zu alert%s held back by the rate limit", n,
                  n == 1 ? "" : "s");
    s_mail_head(&out->body, r, s.buf, out->id);
    vg__sb_printf(&body,
                  "%zu alert%s for channel %s went over its rate limit and are "
                  "summarised here.\r\n\r\n",
                  n, n == 1 ? "" : "s", r->ch->name);
    size_t shown = VG_MIN(n, (size_t) r->digest_lines);
    for (size_t i = 0; i < shown; i++) {
        vg__sb_add(&body, "  - ", 4);
        s_digest_line(&body, &items[i], S_PLAIN);
        vg__sb_add(&body, "\r\n    ", 6);
        vg__alert_url(&body, r->dashboard_url, items[i].an->id);
        vg__sb_add(&body, "\r\n", 2);
    }
    if (shown < n) vg__sb_printf(&body, "  ... and %zu more\r\n", n - shown);
    vg__sb_printf(&body, "\r\nAll anomalies: %s/#/anomalies\r\nDigest %s\r\n", r->dashboard_url,
                  out->id);
    vg__sb_add(&out->body, body.buf, body.len);
    vg__sb_fini(&s);
    vg__sb_fini(&body);
}

/* ---- Slack ------------------------------------------------------------------ */

/* {"type": "mrkdwn", "text": <b>} */
static void s_slack_field(vg_jw_t *w, const vg__sb_t *b)
{
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "type", "mrkdwn");
    vg_jw_kstr(w, "text", (vg_str_t){b->buf, (uint32_t) b->len});
    vg_jw_obj_end(w);
}

static void s_slack_section(vg_jw_t *w, const char *text, size_t len)
{
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "type", "section");
    vg_jw_key(w, "text");
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "type", "mrkdwn");
    vg_jw_kstr(w, "text", (vg_str_t){text, (uint32_t) len});
    vg_jw_obj_end(w);
    vg_jw_obj_end(w);
}

static void s_slack_header(vg_jw_t *w, const char *text)
{
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "type", "header");
    vg_jw_key(w, "text");
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "type", "plain_text");
    vg_jw_kcstr(w, "text", text);
    vg_jw_obj_end(w);
    vg_jw_obj_end(w);
}

static void s_slack_one(const vg__render_t *r, const vg__item_t *it, vg_jw_t *w)
{
    const vg_anomaly_rec_t *an = it->an;
    vg__sb_t t, url;
    vg__sb_init(&t);
    vg__sb_init(&url);
    vg__alert_url(&url, r->dashboard_url, an->id);
    char sev[16];
    s_upper(sev, s_sev(an), sizeof sev);
    /* fallback text (notifications, clients without blocks) */
    vg__sb_printf(&t, "Vigil: %s anomaly for user ", sev);
    s_text(&t, an->user_id, S_SLACK);
    vg__sb_add(&t, ": ", 2);
    s_amount(&t, an);
    vg__sb_printf(&t, ", score %.2f, %s (", an->score, s_dec(an));
    s_text(&t, it->al->reason, S_SLACK);
    vg__sb_add(&t, ")", 1);
    if (it->al->count > 1) vg__sb_printf(&t, " x%" PRIu32, it->al->count);
    vg__sb_printf(&t, " <%s|details>", url.buf);
    vg_jw_obj_begin(w);
    vg_jw_kstr(w, "text", (vg_str_t){t.buf, (uint32_t) t.len});
    vg_jw_key(w, "blocks");
    vg_jw_arr_begin(w);
    char head[64];
    snprintf(head, sizeof head, "Vigil: %s anomaly (%s)", sev, s_dec(an));
    s_slack_header(w, head);
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "type", "section");
    vg_jw_key(w, "fields");
    vg_jw_arr_begin(w);
    vg__sb_t f;
    vg__sb_init(&f);
    vg__sb_add(&f, "*User*\n", 7);
    s_text(&f, an->user_id, S_SLACK);
    s_slack_field(w, &f);
    f.len = 0;
    vg__sb_add(&f, "*Amount*\n", 9);
    s_amount(&f, an);
    s_slack_field(w, &f);
    f.len = 0;
    vg__sb_printf(&f, "*Score*\n%.2f (%s)", an->score, s_sev(an));
    s_slack_field(w, &f);
    f.len = 0;
    vg__sb_printf(&f, "*Decision*\n%s", s_dec(an));
    s_slack_field(w, &f);
    if (an->tx.merchant_id.ptr) {
        f.len = 0;
        vg__sb_add(&f, "*Merchant*\n", 11);
        s_text(&f, an->tx.merchant_id, S_SLACK);
        if (an->tx.country[0]) vg__sb_printf(&f, " (%s)", an->tx.country);
        s_slack_field(w, &f);
    }
    f.len = 0;
    char ts[32];
    vg_ts_format(an->ts_ms, ts);
    vg__sb_printf(&f, "*When*\n%s", ts);
    s_slack_field(w, &f);
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
    f.len = 0;
    vg__sb_add(&f, "*Top reasons*", 13);
    unsigned idx[3];
    unsigned nr = s_top_reasons(an, 3, idx);
    for (unsigned i = 0; i < nr; i++) {
        vg__sb_add(&f, "\n\xe2\x80\xa2 ", 5);
        s_reason_line(&f, &an->reasons[idx[i]], S_SLACK);
    }
    if (!nr) vg__sb_add(&f, "\n(none recorded)", 16);
    s_slack_section(w, f.buf, f.len);
    f.len = 0;
    vg__sb_printf(&f, "<%s|Open in the Vigil dashboard>", url.buf);
    s_slack_section(w, f.buf, f.len);
    f.len = 0;
    s_counts(&f, r, it->al);
    vg__sb_printf(&f, " \xc2\xb7 alert %s", it->id);
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "type", "context");
    vg_jw_key(w, "elements");
    vg_jw_arr_begin(w);
    s_slack_field(w, &f);
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
    vg__sb_fini(&f);
    vg__sb_fini(&t);
    vg__sb_fini(&url);
}

static void s_slack_digest(const vg__render_t *r, const vg__item_t *items, size_t n, const char *id,
                           vg_jw_t *w)
{
    vg__sb_t t;
    vg__sb_init(&t);
    vg__sb_printf(&t, "Vigil digest: %zu alert%s held back by the rate limit of channel %s", n,
                  n == 1 ? "" : "s", r->ch->name);
    vg_jw_obj_begin(w);
    vg_jw_kstr(w, "text", (vg_str_t){t.buf, (uint32_t) t.len});
    vg_jw_key(w, "blocks");
    vg_jw_arr_begin(w);
    char head[80];
    snprintf(head, sizeof head, "Vigil digest: %zu alert%s (rate limited)", n, n == 1 ? "" : "s");
    s_slack_header(w, head);
    size_t shown = VG_MIN(n, (size_t) r->digest_lines);
    for (size_t i = 0; i < shown; i += 10) { /* a section holds at most 3000 characters */
        t.len = 0;
        for (size_t k = i; k < shown && k < i + 10; k++) {
            vg__sb_add(&t, k > i ? "\n\xe2\x80\xa2 " : "\xe2\x80\xa2 ", k > i ? 5 : 4);
            s_digest_line(&t, &items[k], S_SLACK);
            vg__sb_add(&t, " <", 2);
            vg__alert_url(&t, r->dashboard_url, items[k].an->id);
            vg__sb_add(&t, "|open>", 6);
        }
        s_slack_section(w, t.buf, t.len);
    }
    t.len = 0;
    if (shown < n) vg__sb_printf(&t, "... and %zu more. ", n - shown);
    vg__sb_printf(&t, "<%s/#/anomalies|All anomalies> \xc2\xb7 digest %s", r->dashboard_url, id);
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "type", "context");
    vg_jw_key(w, "elements");
    vg_jw_arr_begin(w);
    s_slack_field(w, &t);
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
    vg__sb_fini(&t);
}

/* ---- webhook / API JSON ---------------------------------------------------- */

static void s_url_json(vg_jw_t *w, const char *key, const char *dashboard_url, vg_str_t id)
{
    vg__sb_t u;
    vg__sb_init(&u);
    vg__alert_url(&u, dashboard_url, id);
    vg_jw_kstr(w, key, (vg_str_t){u.buf, (uint32_t) u.len});
    vg__sb_fini(&u);
}

static void s_ts_or_null(vg_jw_t *w, const char *key, int64_t ms)
{
    vg_jw_key(w, key);
    if (ms)
        vg_jw_ts(w, ms);
    else
        vg_jw_null(w);
}

static void s_hook_one(const vg__render_t *r, const vg__item_t *it, vg_jw_t *w)
{
    const vg__alert_t *al = it->al;
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "type", "alert");
    vg_jw_kcstr(w, "alert_id", it->id);
    vg_jw_kcstr(w, "channel", r->ch->name);
    s_ts_or_null(w, "created", al->created_ms);
    s_ts_or_null(w, "sent", r->now_ms);
    vg_jw_kint(w, "count", al->count);
    vg_jw_kint(w, "repeats_before", al->repeats_before);
    vg_jw_knum(w, "dedup_window_s", (double) r->window_ms / 1000.0);
    vg_jw_kstr(w, "reason", al->reason);
    s_ts_or_null(w, "first_seen", al->first_ms);
    s_ts_or_null(w, "last_seen", al->last_ms);
    vg_jw_kstr(w, "last_anomaly_id", al->last_anomaly_id);
    s_url_json(w, "url", r->dashboard_url, it->an->id);
    vg_jw_key(w, "anomaly");
    vg_anomaly_rec_json(w, it->an, true);
    vg_jw_obj_end(w);
}

static void s_hook_digest(const vg__render_t *r, const vg__item_t *items, size_t n, const char *id,
                          vg_jw_t *w)
{
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "type", "digest");
    vg_jw_kcstr(w, "digest_id", id);
    vg_jw_kcstr(w, "channel", r->ch->name);
    s_ts_or_null(w, "sent", r->now_ms);
    vg_jw_kint(w, "count", (int64_t) n);
    vg_jw_key(w, "alerts");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        vg_jw_obj_begin(w);
        vg_jw_kcstr(w, "alert_id", items[i].id);
        s_ts_or_null(w, "created", items[i].al->created_ms);
        vg_jw_kint(w, "count", items[i].al->count);
        vg_jw_kstr(w, "reason", items[i].al->reason);
        s_url_json(w, "url", r->dashboard_url, items[i].an->id);
        vg_jw_key(w, "anomaly");
        vg_anomaly_rec_json(w, items[i].an, false);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
}

/* ---- entry points ---------------------------------------------------------- */

void vg__alert_render(const vg__render_t *r, const vg__item_t *items, size_t n, bool digest,
                      vg__msg_t *out)
{
    VG_ASSERT(n >= 1 && (digest || n == 1));
    vg__sb_init(&out->body);
    if (digest)
        snprintf(out->id, sizeof out->id, "digest-%s-%zu", items[0].id, n);
    else
        snprintf(out->id, sizeof out->id, "%s", items[0].id);
    if (r->ch->type == VG__CH_SMTP) {
        if (digest)
            s_mail_digest(r, items, n, out);
        else
            s_mail_one(r, items, out);
        return;
    }
    vg_jw_t w;
    vg_jw_init(&w);
    if (r->ch->type == VG__CH_SLACK && digest)
        s_slack_digest(r, items, n, out->id, &w);
    else if (r->ch->type == VG__CH_SLACK)
        s_slack_one(r, items, &w);
    else if (digest)
        s_hook_digest(r, items, n, out->id, &w);
    else
        s_hook_one(r, items, &w);
    vg__sb_add(&out->body, w.buf, w.len);
    vg_jw_fini(&w);
}

static const char *const s_types[] = {"smtp", "slack", "webhook"};

void vg__alert_json(vg_jw_t *w, const struct vg_alert *a, const vg__alert_t *al, bool full,
                    const char *cursor)
{
    char id[VG_ALERT_ID_MAX + 1];
    vg__alert_id(id, a->node_id, al->seq);
    vg_anomaly_rec_t an;
    vg_perr_t perr;
    bool an_ok = vg_anomaly_decode(al->anomaly.ptr, al->anomaly.len, &an, &perr) == 0;
    int ci = vg__alert_chan_find(a, al->channel);
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "id", id);
    vg_jw_kstr(w, "channel", al->channel);
    vg_jw_kcstr(w, "type", ci >= 0 ? s_types[a->r->channels[ci].type] : NULL);
    vg_jw_kcstr(w, "status", vg_alert_status_name(al->status));
    s_ts_or_null(w, "created", al->created_ms);
    s_ts_or_null(w, "updated", al->updated_ms);
    vg_jw_kint(w, "count", al->count);
    vg_jw_kint(w, "count_sent", al->count_sent);
    vg_jw_kint(w, "repeats_before", al->repeats_before);
    vg_jw_kint(w, "attempts", al->attempts);
    s_ts_or_null(w, "next_attempt", al->status == VG_ALERT_PENDING ? al->next_at_ms : 0);
    s_ts_or_null(w, "delivered", al->delivered_ms);
    vg_jw_kstr(w, "digest", al->digest);
    vg_jw_kstr(w, "last_error", al->last_error);
    vg_jw_kstr(w, "user_id", an_ok ? an.user_id : VG_STR_NULL);
    vg_jw_kstr(w, "reason", al->reason);
    vg_jw_kstr(w, "anomaly_id", an_ok ? an.id : VG_STR_NULL);
    vg_jw_kstr(w, "last_anomaly_id", al->last_anomaly_id);
    vg_jw_kcstr(w, "severity", an_ok ? vg_severity_name(an.severity) : NULL);
    vg_jw_kcstr(w, "decision", an_ok ? vg_decision_name(an.decision) : NULL);
    vg_jw_knum(w, "score", an_ok ? an.score : NAN);
    vg_jw_knum(w, "amount", an_ok ? an.tx.amount : NAN);
    vg_jw_kcstr(w, "currency", an_ok ? an.tx.currency : NULL);
    if (an_ok)
        s_url_json(w, "url", a->dashboard_url, an.id);
    else
        vg_jw_kcstr(w, "url", NULL);
    if (full) {
        vg_jw_key(w, "anomaly");
        if (an_ok)
            vg_anomaly_rec_json(w, &an, true);
        else
            vg_jw_null(w);
    }
    if (cursor) vg_jw_kcstr(w, "cursor", cursor);
    vg_jw_obj_end(w);
}
