/* vg_alert_config.c: alerts.json -> vg_alert_routing_t (jansson). Every
 * refusal names the source and the field ("alerts.json: channels[1].url:
 * required"); unknown fields are refused (a typo must not silently turn a
 * setting off); secrets may come from the environment (*_env fields).
 * Reference: docs/ALERTS.md. */
#include "vg_alert_internal.h"

#include "vg_err.h"
#include "vg_file.h"
#include "vg_mem.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *source;
    char *err;
    size_t errlen;
    int rc;
} s_ctx_t;

static int s_fail(s_ctx_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(s_ctx_t *c, const char *path, const char *fmt, ...)
{
    if (c->rc) return c->rc;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->rc = VG_ERR_INVALID;
    vg_errf(c->err, c->errlen, c->rc, "%s: %s%s%s", c->source, path, path[0] ? ": " : "", msg);
    return c->rc;
}

/* "<parent>.<key>" or "<parent>[i]" into buf (256). */
static const char *s_path(char *buf, const char *parent, const char *key, int index)
{
    if (key)
        snprintf(buf, 256, "%s%s%s", parent, parent[0] ? "." : "", key);
    else
        snprintf(buf, 256, "%s[%d]", parent, index);
    return buf;
}

/* Refuses keys of obj not in allowed (NULL-terminated). */
static int s_known(s_ctx_t *c, json_t *obj, const char *path, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++) ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char p[256];
            return s_fail(c, s_path(p, path, key, 0), "unknown field");
        }
    }
    return 0;
}

/* A number in [lo, hi] (def when absent). */
static double s_num(s_ctx_t *c, json_t *obj, const char *path, const char *key, double def,
                    double lo, double hi)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return def;
    char p[256];
    s_path(p, path, key, 0);
    if (!json_is_number(v)) {
        s_fail(c, p, "must be a number");
        return def;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || d < lo || d > hi) {
        s_fail(c, p, "must be %g..%g", lo, hi);
        return def;
    }
    return d;
}

static bool s_bool(s_ctx_t *c, json_t *obj, const char *path, const char *key, bool def)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return def;
    if (!json_is_boolean(v)) {
        char p[256];
        s_fail(c, s_path(p, path, key, 0), "must be true or false");
        return def;
    }
    return json_is_true(v);
}

/* A string of 1..max bytes without control characters, copied; NULL when
 * absent (required: an error). */
static char *s_str(s_ctx_t *c, json_t *obj, const char *path, const char *key, size_t max,
                   bool required)
{
    json_t *v = json_object_get(obj, key);
    char p[256];
    s_path(p, path, key, 0);
    if (!v || json_is_null(v)) {
        if (required) s_fail(c, p, "required");
        return NULL;
    }
    if (!json_is_string(v)) {
        s_fail(c, p, "must be a string");
        return NULL;
    }
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || n > max) {
        s_fail(c, p, "must be 1..%zu bytes", max);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            s_fail(c, p, "must not contain control characters");
            return NULL;
        }
    return vg_strndup(s, n);
}

/* A secret: "<key>" inline or "<key>_env" naming an environment variable
 * (not both). */
static char *s_secret(s_ctx_t *c, json_t *obj, const char *path, const char *key, bool required)
{
    char env_key[64], p[256];
    snprintf(env_key, sizeof env_key, "%s_env", key);
    bool inline_set = json_object_get(obj, key) && !json_is_null(json_object_get(obj, key));
    char *name = s_str(c, obj, path, env_key, 255, false);
    if (name && inline_set) {
        free(name);
        s_fail(c, s_path(p, path, key, 0), "give %s or %s, not both", key, env_key);
        return NULL;
    }
    if (!name) return s_str(c, obj, path, key, 4096, required && !c->rc);
    const char *v = getenv(name);
    if (!v || !v[0]) {
        s_fail(c, s_path(p, path, env_key, 0), "environment variable %s is not set", name);
        free(name);
        return NULL;
    }
    free(name);
    size_t n = strlen(v);
    if (n > 4096) {
        s_fail(c, s_path(p, path, env_key, 0), "value longer than 4096 bytes");
        return NULL;
    }
    return vg_strdup(v);
}

/* An array of 1..max strings (each 1..256 bytes); absent = none. */
static char **s_strs(s_ctx_t *c, json_t *obj, const char *path, const char *key, size_t max,
                     size_t *n_out)
{
    *n_out = 0;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return NULL;
    char p[256], ip[256];
    s_path(p, path, key, 0);
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > max) {
        s_fail(c, p, "must be an array of 1..%zu strings", max);
        return NULL;
    }
    size_t n = json_array_size(v);
    char **out = vg_calloc(n, sizeof *out);
    for (size_t i = 0; i < n && !c->rc; i++) {
        json_t *e = json_array_get(v, i);
        s_path(ip, p, NULL, (int) i);
        if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 256) {
            s_fail(c, ip, "must be a string of 1..256 bytes");
            break;
        }
        out[i] = vg_strndup(json_string_value(e), json_string_length(e));
        *n_out = i + 1;
    }
    return out;
}

static void s_free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* An e-mail address for an SMTP envelope and header: local@domain, no
 * spaces, angle brackets, quotes, commas or control characters. */
static bool s_email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@') || strlen(s) > 254) return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char) *p <= ' ' || strchr("<>\"(),;:\\[]", *p)) return false;
    return true;
}

static bool s_prefix(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0 && s[strlen(prefix)];
}

/* ---- channels -------------------------------------------------------- */

static const char *const s_chan_keys[] = {
    "name",     "type",     "url",          "url_env", "timeout_ms", "connect_timeout_ms",
    "ca_file",  "insecure", "throttle",     "from",    "to",         "starttls",
    "username", "password", "password_env", "secret",  "secret_env", NULL};
static const char *const s_throttle_keys[] = {"rate_per_min", "burst", "digest_wait_s",
                                              "digest_lines", NULL};

static bool s_name_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static void s_smtp_fields(s_ctx_t *c, json_t *o, const char *path, vg__chan_cfg_t *ch)
{
    char p[256];
    if (!s_prefix(ch->url, "smtp://") && !s_prefix(ch->url, "smtps://")) {
        s_fail(c, s_path(p, path, "url", 0), "must start with smtp:// or smtps://");
        return;
    }
    ch->from = s_str(c, o, path, "from", 254, true);
    if (ch->from && !s_email_ok(ch->from))
        s_fail(c, s_path(p, path, "from", 0), "not an e-mail address");
    if (!c->rc && !json_object_get(o, "to")) s_fail(c, s_path(p, path, "to", 0), "required");
    ch->to = s_strs(c, o, path, "to", 100, &ch->n_to);
    for (size_t i = 0; i < ch->n_to && !c->rc; i++)
        if (!s_email_ok(ch->to[i])) {
            char ip[256];
            s_fail(c, s_path(ip, s_path(p, path, "to", 0), NULL, (int) i), "not an e-mail address");
        }
    ch->starttls = s_bool(c, o, path, "starttls", false);
    ch->username = s_str(c, o, path, "username", 255, false);
    ch->password = s_secret(c, o, path, "password", false);
    if (!c->rc && ch->password && !ch->username)
        s_fail(c, s_path(p, path, "username", 0), "required with a password");
}

static void s_not_for(s_ctx_t *c, json_t *o, const char *path, const char *const *keys,
                      const char *what)
{
    char p[256];
    for (int i = 0; keys[i] && !c->rc; i++)
        if (json_object_get(o, keys[i]))
            s_fail(c, s_path(p, path, keys[i], 0), "only for %s channels", what);
}

static void s_channel(s_ctx_t *c, json_t *o, const char *path, vg__chan_cfg_t *ch,
                      const vg_alert_routing_t *r, double rate, double burst)
{
    char p[256];
    if (!json_is_object(o)) {
        s_fail(c, path, "must be an object");
        return;
    }
    if (s_known(c, o, path, s_chan_keys)) return;
    ch->name = s_str(c, o, path, "name", VG__ALERT_NAME_MAX, true);
    if (c->rc) return;
    if (!s_name_ok(ch->name)) {
        s_fail(c, s_path(p, path, "name", 0), "letters, digits, '-', '_' and '.' only");
        return;
    }
    for (size_t i = 0; i < r->n_channels; i++)
        if (r->channels[i].name && &r->channels[i] != ch && !strcmp(r->channels[i].name, ch->name))
            s_fail(c, s_path(p, path, "name", 0), "'%s' is used by channels[%zu]", ch->name, i);
    char *type = s_str(c, o, path, "type", 16, true);
    if (c->rc) {
        free(type);
        return;
    }
    if (!strcmp(type, "smtp"))
        ch->type = VG__CH_SMTP;
    else if (!strcmp(type, "slack"))
        ch->type = VG__CH_SLACK;
    else if (!strcmp(type, "webhook"))
        ch->type = VG__CH_WEBHOOK;
    else
        s_fail(c, s_path(p, path, "type", 0), "must be smtp, slack or webhook");
    free(type);
    if (c->rc) return;
    ch->url = s_secret(c, o, path, "url", true);
    if (c->rc) return;
    ch->timeout_ms = (int) s_num(c, o, path, "timeout_ms", 10000, 100, 600000);
    ch->connect_timeout_ms =
        (int) s_num(c, o, path, "connect_timeout_ms", VG_MIN(ch->timeout_ms, 5000), 100, 600000);
    ch->ca_file = s_str(c, o, path, "ca_file", 1024, false);
    ch->insecure = s_bool(c, o, path, "insecure", false);
    ch->rate_per_min = rate;
    ch->burst = burst;
    json_t *t = json_object_get(o, "throttle");
    if (t) {
        s_path(p, path, "throttle", 0);
        static const char *const keys[] = {"rate_per_min", "burst", NULL};
        if (!json_is_object(t))
            s_fail(c, p, "must be an object");
        else if (!s_known(c, t, p, keys)) {
            ch->rate_per_min = s_num(c, t, p, "rate_per_min", rate, 0, 1e6);
            ch->burst = s_num(c, t, p, "burst", burst, 1, 1e6);
        }
    }
    static const char *const smtp_keys[] = {"from",     "to",           "starttls", "username",
                                            "password", "password_env", NULL};
    static const char *const hook_keys[] = {"secret", "secret_env", NULL};
    if (ch->type == VG__CH_SMTP) {
        s_not_for(c, o, path, hook_keys, "webhook");
        if (!c->rc) s_smtp_fields(c, o, path, ch);
        return;
    }
    s_not_for(c, o, path, smtp_keys, "smtp");
    if (!c->rc && !s_prefix(ch->url, "http://") && !s_prefix(ch->url, "https://"))
        s_fail(c, s_path(p, path, "url", 0), "must start with http:// or https://");
    if (ch->type == VG__CH_SLACK) {
        s_not_for(c, o, path, hook_keys, "webhook");
        return;
    }
    char *secret = s_secret(c, o, path, "secret", false);
    if (secret) {
        ch->secret_len = strlen(secret);
        ch->secret = (uint8_t *) secret;
    }
}

/* ---- routes ------------------------------------------------------------ */

static void s_route(s_ctx_t *c, json_t *o, const char *path, vg__route_t *rt,
                    const vg_alert_routing_t *r)
{
    static const char *const keys[] = {"name",      "min_severity", "rules", "detectors",
                                       "decisions", "channels",     NULL};
    char p[256], ip[256];
    rt->min_severity = -1;
    if (!json_is_object(o)) {
        s_fail(c, path, "must be an object");
        return;
    }
    if (s_known(c, o, path, keys)) return;
    char *name = s_str(c, o, path, "name", 128, false);
    free(name);
    char *sev = s_str(c, o, path, "min_severity", 16, false);
    if (sev) {
        vg_severity s;
        if (vg_severity_parse(vg_str_c(sev), &s))
            s_fail(c, s_path(p, path, "min_severity", 0), "must be low, medium, high or critical");
        else
            rt->min_severity = (int) s;
        free(sev);
    }
    rt->rules = s_strs(c, o, path, "rules", 256, &rt->n_rules);
    rt->detectors = s_strs(c, o, path, "detectors", 64, &rt->n_detectors);
    size_t nd = 0;
    char **dec = s_strs(c, o, path, "decisions", 3, &nd);
    for (size_t i = 0; i < nd && !c->rc; i++) {
        vg_decision d;
        if (vg_decision_parse(vg_str_c(dec[i]), &d))
            s_fail(c, s_path(ip, s_path(p, path, "decisions", 0), NULL, (int) i),
                   "must be allow, review or block");
        else
            rt->decisions |= 1u << d;
    }
    s_free_strs(dec, nd);
    if (c->rc) return;
    size_t nc = 0;
    s_path(p, path, "channels", 0);
    if (!json_object_get(o, "channels")) {
        s_fail(c, p, "required");
        return;
    }
    char **chans = s_strs(c, o, path, "channels", 64, &nc);
    rt->channels = vg_calloc(nc ? nc : 1, sizeof *rt->channels);
    for (size_t i = 0; i < nc && !c->rc; i++) {
        size_t k = 0;
        while (k < r->n_channels && strcmp(r->channels[k].name, chans[i])) k++;
        if (k == r->n_channels) {
            s_fail(c, s_path(ip, p, NULL, (int) i), "no channel named '%s'", chans[i]);
            break;
        }
        bool dup = false;
        for (size_t j = 0; j < rt->n_channels; j++) dup |= rt->channels[j] == k;
        if (!dup) rt->channels[rt->n_channels++] = k;
    }
    s_free_strs(chans, nc);
}

/* ---- top level --------------------------------------------------------- */

static void s_top(s_ctx_t *c, json_t *root, vg_alert_routing_t *r)
{
    static const char *const keys[] = {"channels",    "routes", "dedup_window_s", "group_wait_ms",
                                       "throttle",    "retry",  "dashboard_url",  "retention_days",
                                       "max_pending", NULL};
    char p[256];
    if (!json_is_object(root)) {
        s_fail(c, "", "must be a JSON object");
        return;
    }
    if (s_known(c, root, "", keys)) return;
    r->dedup_window_ms = (int64_t) (s_num(c, root, "", "dedup_window_s", 300, 0, 7 * 86400) * 1000);
    r->group_wait_ms = (int64_t) s_num(c, root, "", "group_wait_ms", 1000, 0, 600000);
    r->retention_days = (int) s_num(c, root, "", "retention_days", 30, 0, 3650);
    r->max_pending = (uint64_t) s_num(c, root, "", "max_pending", 100000, 1, 1e8);
    double rate = 30, burst = 10;
    r->digest_wait_ms = 10000;
    r->digest_lines = 20;
    json_t *t = json_object_get(root, "throttle");
    if (t && !c->rc) {
        if (!json_is_object(t))
            s_fail(c, "throttle", "must be an object");
        else if (!s_known(c, t, "throttle", s_throttle_keys)) {
            rate = s_num(c, t, "throttle", "rate_per_min", rate, 0, 1e6);
            burst = s_num(c, t, "throttle", "burst", burst, 1, 1e6);
            r->digest_wait_ms =
                (int64_t) (s_num(c, t, "throttle", "digest_wait_s", 10, 0, 86400) * 1000);
            r->digest_lines = (int) s_num(c, t, "throttle", "digest_lines", 20, 1, 200);
        }
    }
    r->max_attempts = 8;
    r->retry_base_ms = 500;
    r->retry_max_ms = 60000;
    json_t *rt = json_object_get(root, "retry");
    if (rt && !c->rc) {
        static const char *const rkeys[] = {"max_attempts", "base_ms", "max_ms", NULL};
        if (!json_is_object(rt))
            s_fail(c, "retry", "must be an object");
        else if (!s_known(c, rt, "retry", rkeys)) {
            r->max_attempts = (int) s_num(c, rt, "retry", "max_attempts", 8, 1, 100);
            r->retry_base_ms = (int64_t) s_num(c, rt, "retry", "base_ms", 500, 1, 3600000);
            r->retry_max_ms = (int64_t) s_num(c, rt, "retry", "max_ms", 60000, 1, 86400000);
            if (!c->rc && r->retry_max_ms < r->retry_base_ms)
                s_fail(c, "retry.max_ms", "must be >= retry.base_ms");
        }
    }
    char *dash = s_str(c, root, "", "dashboard_url", 1024, false);
    if (dash && !s_prefix(dash, "http://") && !s_prefix(dash, "https://"))
        s_fail(c, "dashboard_url", "must start with http:// or https://");
    if (!dash) dash = vg_strdup("http://127.0.0.1:8080");
    size_t dl = strlen(dash);
    while (dl && dash[dl - 1] == '/') dash[--dl] = 0;
    r->dashboard_url = dash;
    if (c->rc) return;

    json_t *chans = json_object_get(root, "channels");
    if (!chans || !json_is_array(chans) || json_array_size(chans) == 0 ||
        json_array_size(chans) > 64) {
        s_fail(c, "channels", chans ? "must be an array of 1..64 channels" : "required");
        return;
    }
    r->channels = vg_calloc(json_array_size(chans), sizeof *r->channels);
    for (size_t i = 0; i < json_array_size(chans) && !c->rc; i++) {
        r->n_channels = i + 1;
        s_channel(c, json_array_get(chans, i), s_path(p, "channels", NULL, (int) i),
                  &r->channels[i], r, rate, burst);
    }
    if (c->rc) return;

    json_t *routes = json_object_get(root, "routes");
    if (!routes || json_is_null(routes)) { /* default: everything to every channel */
        r->routes = VG_NEW(vg__route_t);
        r->n_routes = 1;
        r->routes[0].min_severity = -1;
        r->routes[0].channels = vg_calloc(r->n_channels, sizeof(size_t));
        for (size_t i = 0; i < r->n_channels; i++) r->routes[0].channels[i] = i;
        r->routes[0].n_channels = r->n_channels;
        return;
    }
    if (!json_is_array(routes) || json_array_size(routes) > 256) {
        s_fail(c, "routes", "must be an array of at most 256 routes");
        return;
    }
    r->routes = vg_calloc(json_array_size(routes) + 1, sizeof *r->routes);
    for (size_t i = 0; i < json_array_size(routes) && !c->rc; i++) {
        r->n_routes = i + 1;
        s_route(c, json_array_get(routes, i), s_path(p, "routes", NULL, (int) i), &r->routes[i], r);
    }
}

int vg_alert_routing_parse(const char *json, size_t len, const char *source,
                           vg_alert_routing_t **out, char *err, size_t errlen)
{
    VG_ASSERT(out);
    *out = NULL;
    s_ctx_t c = {source ? source : "alerts", err, errlen, 0};
    if (len > VG_ALERT_CONFIG_MAX)
        return vg_errf(err, errlen, VG_ERR_TOO_LARGE, "%s: larger than %u bytes", c.source,
                       VG_ALERT_CONFIG_MAX);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return vg_errf(err, errlen, VG_ERR_PARSE, "%s: line %d column %d: %s", c.source, je.line,
                       je.column, je.text);
    vg_alert_routing_t *r = VG_NEW(vg_alert_routing_t);
    s_top(&c, root, r);
    json_decref(root);
    if (c.rc) {
        vg_alert_routing_free(&r);
        return c.rc;
    }
    *out = r;
    return 0;
}

int vg_alert_routing_load(const char *path, vg_alert_routing_t **out, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    *out = NULL;
    int rc = vg_file_read(path, VG_ALERT_CONFIG_MAX, &buf, &len, err, errlen);
    if (rc) return rc;
    const char *base = strrchr(path, '/');
    rc = vg_alert_routing_parse(buf, len, base ? base + 1 : path, out, err, errlen);
    free(buf);
    return rc;
}

static void s_wipe_free(void *p, size_t n)
{
    if (!p) return;
    volatile char *v = p;
    for (size_t i = 0; i < n; i++) v[i] = 0;
    free(p);
}

void vg_alert_routing_free(vg_alert_routing_t **r_p)
{
    vg_alert_routing_t *r = r_p ? *r_p : NULL;
    if (!r) return;
    for (size_t i = 0; i < r->n_channels; i++) {
        vg__chan_cfg_t *ch = &r->channels[i];
        free(ch->name);
        s_wipe_free(ch->url, ch->url ? strlen(ch->url) : 0);
        free(ch->ca_file);
        free(ch->from);
        s_free_strs(ch->to, ch->n_to);
        free(ch->username);
        s_wipe_free(ch->password, ch->password ? strlen(ch->password) : 0);
        s_wipe_free(ch->secret, ch->secret_len);
    }
    free(r->channels);
    for (size_t i = 0; i < r->n_routes; i++) {
        s_free_strs(r->routes[i].rules, r->routes[i].n_rules);
        s_free_strs(r->routes[i].detectors, r->routes[i].n_detectors);
        free(r->routes[i].channels);
    }
    free(r->routes);
    free(r->dashboard_url);
    free(r);
    *r_p = NULL;
}
