/* test_alert_config.c: alerts.json parsing (defaults, every refusal names
 * the field, secrets from the environment) and the pure parts of the alert
 * module: message rendering per channel (e-mail headers and RFC 2047,
 * Slack blocks and escapes, webhook JSON), the signature, ids, backoff and
 * the stored record. */
#include "vt_alert.h"

#include "vg_alert_internal.h"
#include "vg_err.h"

#include <sodium.h>

#define S_MIN_OK \
    "{\"channels\":[{\"name\":\"hook\",\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/x\"}]}"

static int s_parse(const char *json, vg_alert_routing_t **r, char *err, size_t errlen)
{
    err[0] = 0;
    return vg_alert_routing_parse(json, strlen(json), "alerts.json", r, err, errlen);
}

/* Parsing json must fail with exactly this message. */
static void s_refused(const char *json, const char *msg)
{
    vg_alert_routing_t *r = NULL;
    char err[512];
    int rc = s_parse(json, &r, err, sizeof err);
    if (rc == 0 || strcmp(err, msg))
        fprintf(stderr, "json: %s\nwant: %s\ngot:  %s (rc %d)\n", json, msg, err, rc);
    assert_int_not_equal(rc, 0);
    assert_null(r);
    assert_string_equal(err, msg);
}

static void test_defaults(void **state)
{
    vg_alert_routing_t *r = NULL;
    char err[256];
    assert_int_equal(s_parse(S_MIN_OK, &r, err, sizeof err), 0);
    assert_int_equal(r->n_channels, 1);
    assert_int_equal(r->dedup_window_ms, 300000);
    assert_int_equal(r->group_wait_ms, 1000);
    assert_int_equal(r->max_attempts, 8);
    assert_int_equal(r->retry_base_ms, 500);
    assert_int_equal(r->retry_max_ms, 60000);
    assert_int_equal(r->digest_wait_ms, 10000);
    assert_int_equal(r->retention_days, 30);
    assert_true(r->channels[0].rate_per_min == 30 && r->channels[0].burst == 10);
    assert_int_equal(r->channels[0].timeout_ms, 10000);
    assert_null(r->channels[0].secret);
    assert_string_equal(r->dashboard_url, "http://127.0.0.1:8080");
    /* no routes: everything to every channel */
    assert_int_equal(r->n_routes, 1);
    assert_int_equal(r->routes[0].n_channels, 1);
    assert_int_equal(r->routes[0].min_severity, -1);
    vg_alert_routing_free(&r);
    assert_null(r);
    vg_alert_routing_free(&r); /* NULL-safe */
}

static void test_full(void **state)
{
    setenv("VT_ALERT_PW", "s3cret", 1);
    setenv("VT_ALERT_HOOK", "hook-secret", 1);
    const char *json =
        "{\"channels\":["
        "{\"name\":\"ops-mail\",\"type\":\"smtp\",\"url\":\"smtp://127.0.0.1:2525\","
        "\"from\":\"vigil@example.com\",\"to\":[\"a@example.com\",\"b@example.com\"],"
        "\"starttls\":true,\"username\":\"vigil\",\"password_env\":\"VT_ALERT_PW\","
        "\"timeout_ms\":2000,\"throttle\":{\"rate_per_min\":5}},"
        "{\"name\":\"slack\",\"type\":\"slack\",\"url\":\"https://hooks.example.com/T/B/X\"},"
        "{\"name\":\"hook\",\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/alerts\","
        "\"secret_env\":\"VT_ALERT_HOOK\"}],"
        "\"routes\":[{\"name\":\"big\",\"min_severity\":\"high\",\"rules\":[\"big_foreign\"],"
        "\"detectors\":[\"mad\",\"rule\"],\"decisions\":[\"block\",\"review\"],"
        "\"channels\":[\"ops-mail\",\"slack\",\"slack\"]},{\"channels\":[\"hook\"]}],"
        "\"dedup_window_s\":0.5,\"group_wait_ms\":0,"
        "\"throttle\":{\"rate_per_min\":30,\"burst\":3,\"digest_wait_s\":2,\"digest_lines\":5},"
        "\"retry\":{\"max_attempts\":3,\"base_ms\":100,\"max_ms\":1000},"
        "\"dashboard_url\":\"https://vigil.example.com/\",\"retention_days\":0,"
        "\"max_pending\":10}";
    vg_alert_routing_t *r = NULL;
    char err[256];
    int rc = s_parse(json, &r, err, sizeof err);
    if (rc) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(r->n_channels, 3);
    const vg__chan_cfg_t *m = &r->channels[0];
    assert_int_equal(m->type, VG__CH_SMTP);
    assert_string_equal(m->password, "s3cret");
    assert_string_equal(m->username, "vigil");
    assert_true(m->starttls);
    assert_int_equal(m->n_to, 2);
    assert_string_equal(m->to[1], "b@example.com");
    assert_true(m->rate_per_min == 5 && m->burst == 3); /* override + global burst */
    assert_int_equal(m->timeout_ms, 2000);
    assert_int_equal(m->connect_timeout_ms, 2000);
    assert_int_equal(r->channels[2].secret_len, 11);
    assert_memory_equal(r->channels[2].secret, "hook-secret", 11);
    assert_int_equal(r->n_routes, 2);
    assert_int_equal(r->routes[0].min_severity, VG_SEV_HIGH);
    assert_int_equal(r->routes[0].n_channels, 2); /* the duplicate is dropped */
    assert_int_equal(r->routes[0].decisions,
                     (1u << VG_DECISION_BLOCK) | (1u << VG_DECISION_REVIEW));
    assert_int_equal(r->routes[1].channels[0], 2);
    assert_int_equal(r->dedup_window_ms, 500);
    assert_int_equal(r->group_wait_ms, 0);
    assert_int_equal(r->digest_lines, 5);
    assert_int_equal(r->max_pending, 10);
    assert_string_equal(r->dashboard_url, "https://vigil.example.com");
    vg_alert_routing_free(&r);
}

static void test_refusals(void **state)
{
    unsetenv("VT_ALERT_UNSET");
    s_refused("{", "alerts.json: line 1 column 1: string or '}' expected near end of file");
    s_refused("[]", "alerts.json: must be a JSON object");
    s_refused("{}", "alerts.json: channels: required");
    s_refused("{\"channels\":[]}", "alerts.json: channels: must be an array of 1..64 channels");
    s_refused("{\"chanels\":[]}", "alerts.json: chanels: unknown field");
    s_refused("{\"channels\":[{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"http://h/\"},"
              "{\"name\":\"b\",\"type\":\"slack\"}]}",
              "alerts.json: channels[1].url: required");
    s_refused("{\"channels\":[{\"name\":\"a\",\"type\":\"pager\",\"url\":\"http://h/\"}]}",
              "alerts.json: channels[0].type: must be smtp, slack or webhook");
    s_refused("{\"channels\":[{\"type\":\"slack\",\"url\":\"http://h/\"}]}",
              "alerts.json: channels[0].name: required");
    s_refused("{\"channels\":[{\"name\":\"a b\",\"type\":\"slack\",\"url\":\"http://h/\"}]}",
              "alerts.json: channels[0].name: letters, digits, '-', '_' and '.' only");
    s_refused("{\"channels\":[{\"name\":\"a\",\"type\":\"slack\",\"url\":\"http://h/\"},"
              "{\"name\":\"a\",\"type\":\"slack\",\"url\":\"http://h/\"}]}",
              "alerts.json: channels[1].name: 'a' is used by channels[0]");
    s_refused("{\"channels\":[{\"name\":\"a\",\"type\":\"slack\",\"url\":\"ftp://h/\"}]}",
              "alerts.json: channels[0].url: must start with http:// or https://");
    s_refused("{\"channels\":[{\"name\":\"m\",\"type\":\"smtp\",\"url\":\"http://h/\"}]}",
              "alerts.json: channels[0].url: must start with smtp:// or smtps://");
    s_refused("{\"channels\":[{\"name\":\"m\",\"type\":\"smtp\",\"url\":\"smtp://h\","
              "\"to\":[\"a@b\"]}]}",
              "alerts.json: channels[0].from: required");
    s_refused("{\"channels\":[{\"name\":\"m\",\"type\":\"smtp\",\"url\":\"smtp://h\","
              "\"from\":\"x@y\"}]}",
              "alerts.json: channels[0].to: required");
    s_refused("{\"channels\":[{\"name\":\"m\",\"type\":\"smtp\",\"url\":\"smtp://h\","
              "\"from\":\"x@y\",\"to\":[\"a@b\",\"bad\\r\\nBcc: x@y\"]}]}",
              "alerts.json: channels[0].to[1]: not an e-mail address");
    s_refused("{\"channels\":[{\"name\":\"m\",\"type\":\"smtp\",\"url\":\"smtp://h\","
              "\"from\":\"x@y\",\"to\":[\"a@b\",\"no-at\"]}]}",
              "alerts.json: channels[0].to[1]: not an e-mail address");
    s_refused("{\"channels\":[{\"name\":\"m\",\"type\":\"smtp\",\"url\":\"smtp://h\","
              "\"from\":\"x@y\",\"to\":[\"a@b\"],\"password\":\"p\"}]}",
              "alerts.json: channels[0].username: required with a password");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\","
              "\"from\":\"x@y\"}]}",
              "alerts.json: channels[0].from: only for smtp channels");
    s_refused("{\"channels\":[{\"name\":\"s\",\"type\":\"slack\",\"url\":\"http://h\","
              "\"secret\":\"x\"}]}",
              "alerts.json: channels[0].secret: only for webhook channels");
    s_refused(
        "{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\","
        "\"secret_env\":\"VT_ALERT_UNSET\"}]}",
        "alerts.json: channels[0].secret_env: environment variable VT_ALERT_UNSET is not set");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\","
              "\"secret\":\"a\",\"secret_env\":\"X\"}]}",
              "alerts.json: channels[0].secret: give secret or secret_env, not both");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\","
              "\"timeout_ms\":5}]}",
              "alerts.json: channels[0].timeout_ms: must be 100..600000");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\","
              "\"insecure\":1}]}",
              "alerts.json: channels[0].insecure: must be true or false");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\"}],"
              "\"routes\":[{\"channels\":[\"h\"]},{\"channels\":[\"h\",\"nope\"]}]}",
              "alerts.json: routes[1].channels[1]: no channel named 'nope'");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\"}],"
              "\"routes\":[{\"min_severity\":\"huge\",\"channels\":[\"h\"]}]}",
              "alerts.json: routes[0].min_severity: must be low, medium, high or critical");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\"}],"
              "\"routes\":[{\"decisions\":[\"deny\"],\"channels\":[\"h\"]}]}",
              "alerts.json: routes[0].decisions[0]: must be allow, review or block");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\"}],"
              "\"routes\":[{\"min_severity\":\"high\"}]}",
              "alerts.json: routes[0].channels: required");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\"}],"
              "\"retry\":{\"base_ms\":1000,\"max_ms\":10}}",
              "alerts.json: retry.max_ms: must be >= retry.base_ms");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\"}],"
              "\"throttle\":{\"burst\":0}}",
              "alerts.json: throttle.burst: must be 1..1e+06");
    s_refused("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h\"}],"
              "\"dashboard_url\":\"javascript:x\"}",
              "alerts.json: dashboard_url: must start with http:// or https://");
    s_refused("{\"channels\":[],\"channels\":[]}",
              "alerts.json: line 1 column 25: duplicate object key near '\"channels\"'");
}

static void test_load_file(void **state)
{
    char dir[64], path[128], err[512];
    vt_tmpdir(dir);
    snprintf(path, sizeof path, "%s/my-alerts.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\"}]}", f);
    fclose(f);
    vg_alert_routing_t *r = NULL;
    assert_int_equal(vg_alert_routing_load(path, &r, err, sizeof err), VG_ERR_INVALID);
    assert_string_equal(err, "my-alerts.json: channels[0].url: required");
    snprintf(path, sizeof path, "%s/missing.json", dir);
    assert_int_equal(vg_alert_routing_load(path, &r, err, sizeof err), VG_ERR_IO);
    assert_non_null(strstr(err, "missing.json"));
    vt_rmdir(dir);
}

/* ---- rendering -------------------------------------------------------------- */

typedef struct {
    vg_alert_routing_t *r;
    vg_mpw_t w;
    vg_anomaly_rec_t an;
    vg__alert_t al;
    vg__item_t it;
} s_fix_t;

static void s_fix(s_fix_t *f, const char *json, const vt_anom_t *a)
{
    char err[256];
    memset(f, 0, sizeof *f);
    assert_int_equal(s_parse(json, &f->r, err, sizeof err), 0);
    vg_mpw_init(&f->w);
    vt_anom_encode(a, &f->w);
    vg_perr_t perr;
    assert_int_equal(vg_anomaly_decode(f->w.buf, f->w.len, &f->an, &perr), 0);
    f->al = (vg__alert_t){.seq = 42,
                          .channel = vg_str_c(f->r->channels[0].name),
                          .created_ms = 1795514400000LL,
                          .count = 3,
                          .reason = VG_STR_LIT("mad:amount"),
                          .last_anomaly_id = vg_str_c(a->id)};
    f->it = (vg__item_t){.al = &f->al, .an = &f->an, .id = "7-42"};
}

static void s_fix_fini(s_fix_t *f)
{
    vg_mpw_fini(&f->w);
    vg_alert_routing_free(&f->r);
}

static vg__render_t s_render_ctx(const s_fix_t *f)
{
    return (vg__render_t){.ch = &f->r->channels[0],
                          .dashboard_url = "http://dash.example:8080",
                          .instance = "0123456789abcdef",
                          .host = "vigil.invalid",
                          .now_ms = 1795514401000LL,
                          .window_ms = 300000,
                          .digest_lines = 2};
}

static void test_render_email(void **state)
{
    s_fix_t f;
    vt_anom_t a = {"tx-1",   "Jürgen\r\nBcc: evil@x", 1234.5, 0.91, "mad",
                   "amount", VG_DECISION_BLOCK};
    s_fix(&f,
          "{\"channels\":[{\"name\":\"m\",\"type\":\"smtp\",\"url\":\"smtp://h\","
          "\"from\":\"vigil@example.com\",\"to\":[\"a@example.com\",\"b@example.com\"]}]}",
          &a);
    vg__render_t rr = s_render_ctx(&f);
    vg__msg_t m;
    vg__alert_render(&rr, &f.it, 1, false, &m);
    const char *b = m.body.buf;
    assert_string_equal(m.id, "7-42");
    assert_non_null(strstr(b, "Date: Tue, 24 Nov 2026 10:00:01 +0000\r\n"));
    assert_non_null(strstr(b, "From: Vigil <vigil@example.com>\r\n"));
    assert_non_null(strstr(b, "To: <a@example.com>,\r\n <b@example.com>\r\n"));
    assert_non_null(strstr(b, "Message-ID: <vigil.7-42.0123456789abcdef@example.com>\r\n"));
    /* non-ASCII subject: RFC 2047 encoded words; no header injection */
    assert_non_null(strstr(b, "Subject: =?UTF-8?B?"));
    assert_null(strstr(b, "\r\nBcc:"));
    const char *body = strstr(b, "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(strstr(body, "User:      J\xc3\xbcrgen  Bcc: evil@x\r\n"));
    assert_non_null(strstr(body, "Amount:    1234.50 EUR\r\n"));
    assert_non_null(strstr(body, "Score:     0.91 (high)\r\n"));
    assert_non_null(strstr(body, "Decision:  block\r\n"));
    assert_non_null(strstr(body, "Merchant:  m-1 (5411)\r\n"));
    assert_non_null(strstr(body, "3 occurrences (same user and reason) within 5 min"));
    assert_non_null(strstr(body, "  - mad on amount: 1234.5 (baseline 40, threshold 3.5), +0.81\r\n"
                                 "  - zscore on amount"));
    assert_non_null(strstr(body, "Details: http://dash.example:8080/#/anomalies/tx-1\r\n"));
    /* every line ends in CRLF */
    for (const char *p = b; (p = strchr(p, '\n')); p++) assert_int_equal(p[-1], '\r');
    vg__sb_fini(&m.body);

    /* digest: lists digest_lines alerts, counts the rest */
    vg__item_t items[3] = {f.it, f.it, f.it};
    vg__alert_render(&rr, items, 3, true, &m);
    assert_string_equal(m.id, "digest-7-42-3");
    assert_non_null(
        strstr(m.body.buf, "Subject: [Vigil] digest: 3 alerts held back by the rate limit\r\n"));
    assert_non_null(strstr(m.body.buf, "  ... and 1 more\r\n"));
    vg__sb_fini(&m.body);
    s_fix_fini(&f);
}

static void test_render_slack(void **state)
{
    s_fix_t f;
    vt_anom_t a = {"tx/2", "u<1>&", 99, 0.97, "rule", "big_foreign", VG_DECISION_BLOCK};
    s_fix(&f, "{\"channels\":[{\"name\":\"s\",\"type\":\"slack\",\"url\":\"http://h/\"}]}", &a);
    vg__render_t rr = s_render_ctx(&f);
    vg__msg_t m;
    vg__alert_render(&rr, &f.it, 1, false, &m);
    json_error_t je;
    json_t *j = json_loadb(m.body.buf, m.body.len, 0, &je);
    assert_non_null(j);
    const char *text = vt_sget(j, "text");
    assert_non_null(
        strstr(text, "CRITICAL anomaly for user u&lt;1&gt;&amp;: 99.00 EUR, score 0.97"));
    assert_non_null(strstr(text, "<http://dash.example:8080/#/anomalies/tx%2F2|details>"));
    json_t *blocks = json_object_get(j, "blocks");
    assert_true(json_array_size(blocks) >= 4);
    assert_string_equal(vt_sget(json_array_get(blocks, 0), "type"), "header");
    char *dump = json_dumps(blocks, 0);
    assert_non_null(strstr(dump, "*User*\\nu&lt;1&gt;&amp;"));
    assert_non_null(strstr(dump, "*Amount*\\n99.00 EUR"));
    assert_non_null(strstr(dump, "*Score*\\n0.97 (critical)"));
    assert_non_null(strstr(dump, "*Decision*\\nblock"));
    assert_non_null(strstr(dump, "rule on big_foreign"));
    assert_non_null(strstr(dump, "Open in the Vigil dashboard"));
    free(dump);
    json_decref(j);
    vg__sb_fini(&m.body);
    s_fix_fini(&f);
}

static void test_render_webhook_and_sign(void **state)
{
    s_fix_t f;
    vt_anom_t a = {"tx-3", "u3", 10, 0.75, "iqr", "amount", VG_DECISION_REVIEW};
    s_fix(&f, "{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":\"http://h/\"}]}", &a);
    vg__render_t rr = s_render_ctx(&f);
    vg__msg_t m;
    vg__alert_render(&rr, &f.it, 1, false, &m);
    json_error_t je;
    json_t *j = json_loadb(m.body.buf, m.body.len, 0, &je);
    assert_non_null(j);
    assert_string_equal(vt_sget(j, "type"), "alert");
    assert_string_equal(vt_sget(j, "alert_id"), "7-42");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 3);
    assert_string_equal(vt_sget(j, "reason"), "mad:amount");
    json_t *an = json_object_get(j, "anomaly");
    assert_string_equal(vt_sget(an, "user_id"), "u3");
    assert_string_equal(vt_sget(an, "severity"), "medium");
    assert_string_equal(vt_sget(an, "decision"), "review");
    assert_string_equal(vt_sget(json_object_get(an, "transaction"), "currency"), "EUR");
    assert_int_equal(json_array_size(json_object_get(an, "reasons")), 2);
    json_decref(j);

    /* v1=hex(HMAC-SHA256(secret, "<ts>." + body)), checked with one-shot libsodium */
    const char *secret = "k3y";
    char sig[80];
    vg__alert_sign((const uint8_t *) secret, 3, 1700000000, m.body.buf, m.body.len, sig);
    assert_int_equal(strlen(sig), 3 + 64);
    vg__sb_t in;
    vg__sb_init(&in);
    vg__sb_printf(&in, "1700000000.");
    vg__sb_add(&in, m.body.buf, m.body.len);
    unsigned char key[crypto_auth_hmacsha256_KEYBYTES] = "k3y",
                  mac[32]; /* zero-padded = same HMAC */
    crypto_auth_hmacsha256(mac, (const unsigned char *) in.buf, in.len, key);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    assert_string_equal(sig + 3, hex);
    vg__sb_fini(&in);
    vg__sb_fini(&m.body);
    s_fix_fini(&f);
}

static void test_ids_backoff_record(void **state)
{
    char id[VG_ALERT_ID_MAX + 1];
    vg__alert_id(id, 3, 1042);
    assert_string_equal(id, "3-1042");
    uint32_t node;
    uint64_t seq;
    assert_int_equal(vg__alert_id_parse(vg_str_c("3-1042"), &node, &seq), 0);
    assert_true(node == 3 && seq == 1042);
    const char *bad[] = {"",     "3",   "-1",   "3-",           "3-0",
                         "03-1", "x-1", "3-1x", "4294967296-1", "1-18446744073709551616"};
    for (size_t i = 0; i < VG_ARRAY_LEN(bad); i++)
        assert_int_equal(vg__alert_id_parse(vg_str_c(bad[i]), &node, &seq), VG_ERR_INVALID);

    vg_alert_routing_t *r = NULL;
    char err[256];
    assert_int_equal(s_parse("{\"channels\":[{\"name\":\"h\",\"type\":\"webhook\",\"url\":"
                             "\"http://h\"}],\"retry\":{\"base_ms\":100,\"max_ms\":1000}}",
                             &r, err, sizeof err),
                     0);
    for (int i = 0; i < 200; i++) {
        int64_t d1 = vg__alert_backoff(r, 1), d3 = vg__alert_backoff(r, 3),
                d9 = vg__alert_backoff(r, 9);
        assert_true(d1 >= 50 && d1 <= 100);
        assert_true(d3 >= 200 && d3 <= 400);
        assert_true(d9 >= 500 && d9 <= 1000);
    }
    vg_alert_routing_free(&r);

    vg__alert_t al = {.seq = 9,
                      .channel = VG_STR_LIT("slack"),
                      .status = VG_ALERT_THROTTLED,
                      .created_ms = -5,
                      .count = 4,
                      .attempts = 2,
                      .next_at_ms = 123,
                      .last_error = VG_STR_LIT("HTTP 500"),
                      .reason = VG_STR_LIT("mad:amount"),
                      .last_anomaly_id = VG_STR_LIT("t9"),
                      .anomaly = VG_STR_LIT("\x01\x02")};
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg__alert_encode(&al, &w);
    vg__alert_t back;
    assert_int_equal(vg__alert_decode(w.buf, w.len, &back), 0);
    assert_true(back.seq == 9 && back.status == VG_ALERT_THROTTLED && back.created_ms == -5 &&
                back.count == 4 && back.attempts == 2 && back.next_at_ms == 123);
    assert_true(vg_str_eq_c(back.last_error, "HTTP 500") && !back.digest.ptr);
    assert_true(vg_str_eq_c(back.anomaly, "\x01\x02"));
    for (size_t n = 0; n < w.len; n++) assert_int_not_equal(vg__alert_decode(w.buf, n, &back), 0);
    vg_mpw_fini(&w);

    assert_string_equal(vg_alert_status_name(VG_ALERT_DEAD), "dead");
    assert_null(vg_alert_status_name(4));
    vg_alert_status st;
    assert_int_equal(vg_alert_status_parse(vg_str_c("throttled"), &st), 0);
    assert_int_equal(st, VG_ALERT_THROTTLED);
    assert_int_equal(vg_alert_status_parse(vg_str_c("gone"), &st), VG_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_render_email),
        cmocka_unit_test(test_render_slack),
        cmocka_unit_test(test_render_webhook_and_sign),
        cmocka_unit_test(test_ids_backoff_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
