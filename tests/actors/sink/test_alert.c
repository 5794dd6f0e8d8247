/* test_alert.c: the alert module end to end against real servers on
 * loopback (tests/actors/sink/alert_recv.py: an SMTP server with AUTH and
 * STARTTLS, an HTTP receiver that can be told to fail or stall): delivery
 * and content on each channel, webhook signatures, dedup counts,
 * throttling into a digest, outage -> retries -> delivered once, restart
 * mid-retry -> delivered once, dead letters and admin retry, routing,
 * history paging, a slow channel not delaying another. */
#include "vt_alert.h"

#include "vg_alert_internal.h"
#include "vg_err.h"

#include <sodium.h>

/* Common settings: short waits so that the suite stays fast. */
#define S_FAST                                                                            \
    "\"group_wait_ms\":50,\"retry\":{\"max_attempts\":%d,\"base_ms\":40,\"max_ms\":150}," \
    "\"dashboard_url\":\"http://dash.test:8080\""

static char s_top[256];

/* S_FAST with max_attempts. */
static const char *s_fast(int max_attempts)
{
    snprintf(s_top, sizeof s_top, S_FAST, max_attempts);
    return s_top;
}

#define S_FAST_MIN \
    "{\"channels\":[{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/\"}]}"

/* Records of a receiver whose X-Vigil-Alert-Id / status match. */
static int s_count_id(const vt_recv_t *r, const char *id, int status)
{
    int n = 0, total = vt_recv_count(r);
    for (int i = 1; i <= total; i++) {
        json_t *j = vt_recv_get(r, i);
        const char *got = vt_sget(json_object_get(j, "headers"), "x-vigil-alert-id");
        n += !strcmp(got, id) && json_integer_value(json_object_get(j, "status")) == status;
        json_decref(j);
    }
    return n;
}

/* An HTTP receiver (checking signatures with secret, if not NULL), a data
 * dir and the module with one channel "hook" of type to the receiver's
 * /hook; chan: more members of the channel object (",..." or ""), top:
 * top-level members. vt_cleanup (the teardown) stops and removes them. */
static vg_alert_t *s_open_http(vt_recv_t *http, char *dir, const char *secret, const char *type,
                               const char *chan, const char *top)
{
    if (secret)
        vt_recv_start(http, "http", "--secret", secret, NULL);
    else
        vt_recv_start(http, "http", NULL);
    vt_tmpdir(dir);
    return vt_open(dir,
                   "{\"channels\":[{\"name\":\"hook\",\"type\":\"%s\","
                   "\"url\":\"http://127.0.0.1:%d/hook\"%s}],%s}",
                   type, http->port, chan, top);
}

/* Records of a receiver that went to path. */
static int s_count_path(const vt_recv_t *r, const char *path)
{
    int n = 0, total = vt_recv_count(r);
    for (int i = 1; i <= total; i++) {
        json_t *j = vt_recv_get(r, i);
        n += !strcmp(vt_sget(j, "path"), path);
        json_decref(j);
    }
    return n;
}

static json_t *s_body(json_t *rec)
{
    json_error_t je;
    json_t *b = json_loads(vt_sget(rec, "body"), 0, &je);
    assert_non_null(b);
    return b;
}

/* ---- channels ------------------------------------------------------------- */

static void test_smtp_delivery(void **state)
{
    vt_recv_t smtp;
    vt_recv_start(&smtp, "smtp", "--auth", "vigil:pw-123", NULL);
    setenv("VT_SMTP_PW", "pw-123", 1);
    char dir[64];
    vt_tmpdir(dir);
    vg_alert_t *a = vt_open(dir,
                            "{\"channels\":[{\"name\":\"mail\",\"type\":\"smtp\","
                            "\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"vigil@example.com\","
                            "\"to\":[\"ops@example.com\",\"sec@example.com\"],"
                            "\"username\":\"vigil\",\"password_env\":\"VT_SMTP_PW\","
                            "\"timeout_ms\":5000}],%s}",
                            smtp.port, s_fast(3));
    vt_anom_t an = {"tx-mail-1", "alice", 1234.5, 0.91, "mad", "amount", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &an, 1), 0);
    VT_WAIT(vt_stats(a, "mail").delivered == 1, 5000);
    assert_int_equal(vt_recv_count(&smtp), 1);
    json_t *m = vt_recv_get(&smtp, 1);
    assert_string_equal(vt_sget(m, "mail_from"), "<vigil@example.com>");
    json_t *rcpt = json_object_get(m, "rcpt");
    assert_int_equal(json_array_size(rcpt), 2);
    assert_string_equal(json_string_value(json_array_get(rcpt, 1)), "<sec@example.com>");
    assert_string_equal(vt_sget(m, "auth"), "vigil");
    const char *data = vt_sget(m, "data");
    assert_non_null(strstr(
        data, "Subject: [Vigil] HIGH anomaly: user alice, 1234.50 EUR (block, score 0.91)\r\n"));
    assert_non_null(strstr(data, "Message-ID: <vigil.7-1."));
    assert_non_null(strstr(data, "@example.com>\r\n"));
    assert_non_null(strstr(data, "X-Vigil-Alert-Id: 7-1\r\n"));
    assert_non_null(strstr(data, "Date: "));
    assert_non_null(strstr(data, "  - mad on amount: 1234.5 (baseline 40, threshold 3.5)"));
    assert_non_null(strstr(data, "Details: http://dash.test:8080/#/anomalies/tx-mail-1\r\n"));
    json_decref(m);
    /* history */
    json_t *l = vt_list(a, "status=delivered", NULL);
    assert_int_equal(json_array_size(vt_items(l)), 1);
    json_t *it = json_array_get(vt_items(l), 0);
    assert_string_equal(vt_sget(it, "id"), "7-1");
    assert_string_equal(vt_sget(it, "type"), "smtp");
    assert_string_equal(vt_sget(it, "user_id"), "alice");
    assert_string_equal(vt_sget(it, "anomaly_id"), "tx-mail-1");
    assert_string_equal(vt_sget(it, "url"), "http://dash.test:8080/#/anomalies/tx-mail-1");
    assert_true(json_is_string(json_object_get(it, "delivered")));
    json_decref(l);
    vt_close(&a);
    assert_null(a);
    vt_rmdir(dir);
    vt_recv_destroy(&smtp);
}

static void test_smtp_retry_and_refusal(void **state)
{
    vt_recv_t smtp;
    vt_recv_start(&smtp, "smtp", NULL);
    char dir[64];
    vt_tmpdir(dir);
    vg_alert_t *a = vt_open(dir,
                            "{\"channels\":[{\"name\":\"mail\",\"type\":\"smtp\","
                            "\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"vigil@example.com\","
                            "\"to\":[\"ops@example.com\"]}],%s}",
                            smtp.port, s_fast(5));
    vt_recv_fail(&smtp, 2, 451); /* "try again later" twice */
    vt_anom_t an = {"tx-m1", "kim", 10, 0.9, "mad", "amount", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &an, 1), 0);
    VT_WAIT(vt_stats(a, "mail").delivered == 1, 5000);
    assert_int_equal(vt_stats(a, "mail").failures, 2);
    assert_int_equal(vt_recv_count_status(&smtp, 451), 2);
    assert_int_equal(vt_recv_count_status(&smtp, 250), 1);
    vt_recv_fail(&smtp, 1, 550); /* a permanent refusal: dead at once */
    vt_anom_t an2 = {"tx-m2", "kim", 10, 0.9, "iqr", "amount", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &an2, 1), 0);
    VT_WAIT(vt_stats(a, "mail").dead == 1, 5000);
    json_t *l = vt_list(a, "status=dead", NULL);
    json_t *it = json_array_get(vt_items(l), 0);
    assert_int_equal(json_integer_value(json_object_get(it, "attempts")), 1);
    assert_non_null(strstr(vt_sget(it, "last_error"), "(reply 550)"));
    json_decref(l);
}

static void test_smtp_starttls(void **state)
{
    if (system("command -v openssl >/dev/null 2>&1")) {
        skip();
    }
    vt_recv_t smtp;
    vt_recv_start(&smtp, "smtp", "--tls", "--auth", "u:p", NULL);
    char dir[64];
    vt_tmpdir(dir);
    vg_alert_t *a =
        vt_open(dir,
                "{\"channels\":[{\"name\":\"mail\",\"type\":\"smtp\","
                "\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"vigil@example.com\","
                "\"to\":[\"ops@example.com\"],\"starttls\":true,"
                "\"ca_file\":\"%s/cert.pem\",\"username\":\"u\",\"password\":\"p\"}],%s}",
                smtp.port, smtp.dir, s_fast(3));
    vt_anom_t an = {"tx-tls", "bob", 50, 0.8, "iqr", "amount", VG_DECISION_REVIEW};
    assert_int_equal(vt_deliver(a, &an, 1), 0);
    VT_WAIT(vt_stats(a, "mail").delivered == 1, 8000);
    json_t *m = vt_recv_get(&smtp, 1);
    assert_true(json_is_true(json_object_get(m, "tls")));
    assert_string_equal(vt_sget(m, "auth"), "u");
    json_decref(m);
}

static void test_slack_delivery(void **state)
{
    vt_recv_t http;
    char dir[64];
    vg_alert_t *a = s_open_http(&http, dir, NULL, "slack", "", s_fast(3));
    vt_anom_t an = {"tx-slack", "carol", 99.99, 0.97, "rule", "big_foreign", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &an, 1), 0);
    VT_WAIT(vt_stats(a, "hook").delivered == 1, 5000);
    json_t *rec = vt_recv_get(&http, 1);
    assert_string_equal(vt_sget(rec, "path"), "/hook");
    assert_string_equal(vt_sget(json_object_get(rec, "headers"), "content-type"),
                        "application/json");
    json_t *b = s_body(rec);
    const char *text = vt_sget(b, "text");
    assert_non_null(strstr(text, "CRITICAL anomaly for user carol: 99.99 EUR, score 0.97, block"));
    assert_non_null(strstr(text, "<http://dash.test:8080/#/anomalies/tx-slack|details>"));
    char *blocks = json_dumps(json_object_get(b, "blocks"), 0);
    assert_non_null(strstr(blocks, "*User*\\ncarol"));
    assert_non_null(strstr(blocks, "*Amount*\\n99.99 EUR"));
    assert_non_null(strstr(blocks, "*Score*\\n0.97 (critical)"));
    assert_non_null(strstr(blocks, "*Decision*\\nblock"));
    assert_non_null(strstr(blocks, "rule on big_foreign"));
    assert_non_null(
        strstr(blocks, "<http://dash.test:8080/#/anomalies/tx-slack|Open in the Vigil dashboard>"));
    free(blocks);
    json_decref(b);
    json_decref(rec);
}

static void test_webhook_signature(void **state)
{
    vt_recv_t http;
    char dir[64];
    setenv("VT_HOOK_SECRET", "whsec-test", 1);
    vg_alert_t *a = s_open_http(&http, dir, "whsec-test", "webhook",
                                ",\"secret_env\":\"VT_HOOK_SECRET\"", s_fast(3));
    vt_anom_t an = {"tx-hook", "dave", 5000, 0.88, "velocity", "count_1m", VG_DECISION_BLOCK};
    int64_t t0 = vg_wall_ms() / 1000;
    assert_int_equal(vt_deliver(a, &an, 1), 0);
    VT_WAIT(vt_stats(a, "hook").delivered == 1, 5000);
    json_t *rec = vt_recv_get(&http, 1);
    json_t *h = json_object_get(rec, "headers");
    assert_true(json_is_true(json_object_get(rec, "sig_ok"))); /* the documented Python check */
    assert_string_equal(vt_sget(h, "x-vigil-alert-id"), "7-1");
    long long ts = atoll(vt_sget(h, "x-vigil-timestamp"));
    assert_true(ts >= t0 && ts <= t0 + 10);
    /* recompute: v1=hex(HMAC-SHA256(secret, ts "." body)) */
    const char *body = vt_sget(rec, "body");
    char tsdot[32];
    snprintf(tsdot, sizeof tsdot, "%lld.", ts);
    crypto_auth_hmacsha256_state st;
    unsigned char mac[32];
    crypto_auth_hmacsha256_init(&st, (const unsigned char *) "whsec-test", 10);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) tsdot, strlen(tsdot));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    char want[70] = "v1=";
    sodium_bin2hex(want + 3, 65, mac, sizeof mac);
    assert_string_equal(vt_sget(h, "x-vigil-signature"), want);
    json_t *b = s_body(rec);
    assert_string_equal(vt_sget(b, "type"), "alert");
    assert_string_equal(vt_sget(b, "alert_id"), "7-1");
    assert_string_equal(vt_sget(b, "reason"), "velocity:count_1m");
    json_t *ja = json_object_get(b, "anomaly");
    assert_string_equal(vt_sget(ja, "id"), "tx-hook");
    assert_string_equal(vt_sget(ja, "user_id"), "dave");
    assert_string_equal(vt_sget(ja, "severity"), "high");
    assert_true(json_real_value(json_object_get(ja, "amount")) == 5000 ||
                json_integer_value(json_object_get(ja, "amount")) == 5000);
    json_decref(b);
    json_decref(rec);
}

/* ---- dedup, throttling ---------------------------------------------------- */

static void test_dedup_counts(void **state)
{
    vt_recv_t http;
    char dir[64];
    vg_alert_t *a =
        s_open_http(&http, dir, NULL, "webhook", "", "\"dedup_window_s\":60,\"group_wait_ms\":800");
    vt_anom_t as[6];
    char ids[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(ids[i], sizeof ids[i], "tx-d%d", i);
        as[i] = (vt_anom_t){ids[i], "erin", 100 + i, 0.9, "mad", "amount", VG_DECISION_BLOCK};
    }
    assert_int_equal(vt_deliver(a, as, 4), 0);     /* one batch of 4 */
    assert_int_equal(vt_deliver(a, as + 4, 1), 0); /* and two more batches in the window */
    assert_int_equal(vt_deliver(a, as + 5, 1), 0);
    assert_int_equal(vt_deliver(a, as, 2), 0); /* a redelivered batch changes nothing */
    vt_anom_t other = {"tx-d-other", "erin", 1, 0.9, "velocity", "count_1m", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &other, 1), 0); /* another reason: another alert */
    VT_WAIT(vt_stats(a, "hook").delivered == 2, 5000);
    vg_alert_stats_t s = vt_stats(a, "hook");
    assert_int_equal(s.dedup, 5);
    assert_int_equal(s.sent, 2);
    assert_int_equal(vt_recv_count(&http), 2);
    int found = 0;
    for (int i = 1; i <= 2; i++) {
        json_t *rec = vt_recv_get(&http, i);
        json_t *b = s_body(rec);
        if (!strcmp(vt_sget(b, "reason"), "mad:amount")) {
            found++;
            assert_int_equal(json_integer_value(json_object_get(b, "count")), 6);
            assert_string_equal(vt_sget(json_object_get(b, "anomaly"), "id"), "tx-d0");
            assert_string_equal(vt_sget(b, "last_anomaly_id"), "tx-d5");
        } else {
            assert_int_equal(json_integer_value(json_object_get(b, "count")), 1);
        }
        json_decref(b);
        json_decref(rec);
    }
    assert_int_equal(found, 1);
    /* after the send, a repeat within the window is counted, not sent */
    vt_anom_t late = {"tx-d-late", "erin", 1, 0.9, "mad", "amount", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &late, 1), 0);
    json_t *l = vt_list(a, "user_id=erin", NULL);
    assert_int_equal(json_array_size(vt_items(l)), 2);
    json_t *it = json_array_get(vt_items(l), 1); /* newest first: the mad alert is older */
    assert_string_equal(vt_sget(it, "reason"), "mad:amount");
    assert_int_equal(json_integer_value(json_object_get(it, "count")), 7);
    assert_int_equal(json_integer_value(json_object_get(it, "count_sent")), 6);
    json_decref(l);
    usleep(600000);
    assert_int_equal(vt_recv_count(&http), 2);
}

static void test_throttle_digest(void **state)
{
    vt_recv_t http;
    char dir[64];
    vg_alert_t *a = s_open_http(
        &http, dir, NULL, "webhook", "",
        "\"throttle\":{\"rate_per_min\":60,\"burst\":2,\"digest_wait_s\":0.3},\"group_wait_ms\":0,"
        "\"retry\":{\"base_ms\":40,\"max_ms\":150}");
    vt_anom_t as[6];
    char ids[6][16], users[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(ids[i], sizeof ids[i], "tx-t%d", i);
        snprintf(users[i], sizeof users[i], "user-%d", i);
        as[i] = (vt_anom_t){ids[i], users[i], 10, 0.9, "mad", "amount", VG_DECISION_BLOCK};
    }
    assert_int_equal(vt_deliver(a, as, 6), 0);
    VT_WAIT(vt_stats(a, "hook").held == 4, 3000); /* the burst went out, the rest waits */
    assert_int_equal(vt_stats(a, "hook").sent, 2);
    vt_recv_fail(&http, 1, 500); /* the first digest attempt fails */
    VT_WAIT(vt_stats(a, "hook").delivered == 6, 6000);
    vg_alert_stats_t s = vt_stats(a, "hook");
    assert_int_equal(s.sent, 3); /* 2 alone (the burst) + 1 digest */
    assert_int_equal(s.digests, 1);
    assert_int_equal(s.throttled, 4);
    assert_int_equal(s.failures, 1);
    assert_int_equal(s.held, 0);
    assert_int_equal(vt_recv_count(&http), 4);
    json_t *failed = vt_recv_get(&http, 3), *rec = vt_recv_get(&http, 4);
    assert_int_equal(json_integer_value(json_object_get(failed, "status")), 500);
    assert_string_equal(vt_sget(json_object_get(failed, "headers"), "x-vigil-alert-id"),
                        vt_sget(json_object_get(rec, "headers"), "x-vigil-alert-id"));
    json_decref(failed);
    json_t *b = s_body(rec);
    assert_string_equal(vt_sget(b, "type"), "digest");
    assert_int_equal(json_integer_value(json_object_get(b, "count")), 4);
    json_t *items = json_object_get(b, "alerts");
    assert_int_equal(json_array_size(items), 4);
    assert_string_equal(vt_sget(json_array_get(items, 0), "alert_id"), "7-3");
    assert_string_equal(vt_sget(json_object_get(rec, "headers"), "x-vigil-alert-id"),
                        vt_sget(b, "digest_id"));
    json_t *l = vt_list(a, "status=delivered", NULL);
    int in_digest = 0;
    for (size_t i = 0; i < json_array_size(vt_items(l)); i++)
        if (!strcmp(vt_sget(json_array_get(vt_items(l), i), "digest"), vt_sget(b, "digest_id"))) {
            in_digest++;
            assert_int_equal(
                json_integer_value(json_object_get(json_array_get(vt_items(l), i), "attempts")), 1);
        }
    assert_int_equal(in_digest, 4);
    json_decref(l);
    json_decref(b);
    json_decref(rec);
}

/* Refused requests spend tokens too: a channel answering 410 to everything
 * is not hammered once per alert (it was, before: only successes counted). */
static void test_throttle_counts_refusals(void **state)
{
    vt_recv_t http;
    char dir[64];
    vg_alert_t *a = s_open_http(
        &http, dir, NULL, "webhook", "",
        "\"throttle\":{\"rate_per_min\":60,\"burst\":2,\"digest_wait_s\":0.3},\"group_wait_ms\":0,"
        "\"retry\":{\"base_ms\":40,\"max_ms\":150}");
    vt_recv_fail(&http, 100000, 410); /* gone: permanent */
    vt_anom_t as[8];
    char ids[8][16], users[8][16];
    for (int i = 0; i < 8; i++) {
        snprintf(ids[i], sizeof ids[i], "tx-r%d", i);
        snprintf(users[i], sizeof users[i], "ruser-%d", i);
        as[i] = (vt_anom_t){ids[i], users[i], 10, 0.9, "mad", "amount", VG_DECISION_BLOCK};
    }
    assert_int_equal(vt_deliver(a, as, 8), 0);
    VT_WAIT(vt_stats(a, "hook").held + vt_stats(a, "hook").dead >= 8 ||
                vt_stats(a, "hook").held == 6,
            3000);
    usleep(200000);
    /* the burst (2) went out and was refused; the other 6 wait for a digest */
    assert_int_equal(vt_recv_count(&http), 2);
    assert_int_equal(vt_stats(a, "hook").held, 6);
}

/* ---- failures -------------------------------------------------------------- */

static void test_outage_retries_once(void **state)
{
    vt_recv_t http;
    char dir[64];
    vg_alert_t *a = s_open_http(&http, dir, NULL, "webhook", ",\"timeout_ms\":2000", s_fast(30));
    /* the receiver answers 500 three times */
    vt_recv_fail(&http, 3, 500);
    vt_anom_t an = {"tx-o1", "frank", 10, 0.9, "mad", "amount", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &an, 1), 0);
    VT_WAIT(vt_stats(a, "hook").delivered == 1, 6000);
    assert_int_equal(vt_stats(a, "hook").failures, 3);
    assert_int_equal(s_count_id(&http, "7-1", 500), 3);
    assert_int_equal(s_count_id(&http, "7-1", 200), 1);
    json_t *l = vt_list(a, NULL);
    json_t *it = json_array_get(vt_items(l), 0);
    assert_int_equal(json_integer_value(json_object_get(it, "attempts")), 3);
    assert_string_equal(vt_sget(it, "last_error"), "HTTP 500: refused by the test");
    json_decref(l);

    /* now the server is down (connection refused), then back on its port */
    vt_recv_stop(&http);
    vt_anom_t an2 = {"tx-o2", "frank", 10, 0.9, "iqr", "amount", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &an2, 1), 0);
    VT_WAIT(vt_stats(a, "hook").failures >= 5, 5000);
    assert_false(vt_stats(a, "hook").healthy);
    vt_recv_restart(&http);
    VT_WAIT(vt_stats(a, "hook").delivered == 2, 6000);
    assert_true(vt_stats(a, "hook").healthy);
    assert_int_equal(s_count_id(&http, "7-2", 200), 1);
    usleep(300000);
    assert_int_equal(vt_recv_count_status(&http, 200), 2); /* each exactly once */
}

static void test_restart_mid_retry(void **state)
{
    vt_recv_t http;
    char dir[64];
    const char *top = "\"group_wait_ms\":0,\"retry\":{\"max_attempts\":50,\"base_ms\":100,"
                      "\"max_ms\":300}";
    vg_alert_t *a = s_open_http(&http, dir, NULL, "webhook", "", top);
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"channels\":[{\"name\":\"hook\",\"type\":\"webhook\","
             "\"url\":\"http://127.0.0.1:%d/hook\"}],%s}",
             http.port, top);
    vt_recv_fail(&http, 1000, 503);
    vt_anom_t an = {"tx-r1", "gina", 10, 0.9, "mad", "amount", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &an, 1), 0);
    VT_WAIT(vt_stats(a, "hook").failures >= 2, 5000);
    vt_close(&a); /* "crash" mid-retry: the alert is pending in LMDB */
    int before = vt_recv_count(&http);
    vt_recv_fail(&http, 0, 0);
    usleep(200000);
    assert_int_equal(vt_recv_count(&http), before); /* nobody sends while closed */
    a = vt_open(dir, "%s", cfg);
    assert_int_equal(vt_stats(a, "hook").pending, 1);
    VT_WAIT(vt_stats(a, "hook").delivered == 1, 5000);
    assert_int_equal(s_count_id(&http, "7-1", 200), 1);
    json_t *l = vt_list(a, NULL);
    assert_int_equal(json_array_size(vt_items(l)), 1);
    assert_string_equal(vt_sget(json_array_get(vt_items(l), 0), "status"), "delivered");
    json_decref(l);
    /* and a later redelivery of the same anomaly (outbox retry after a crash) is ignored */
    assert_int_equal(vt_deliver(a, &an, 1), 0);
    vt_close(&a);
    a = vt_open(dir, "%s", cfg);
    usleep(300000);
    assert_int_equal(s_count_id(&http, "7-1", 200), 1);
    assert_int_equal(vt_stats(a, "hook").pending, 0);
}

static void test_dead_and_retry(void **state)
{
    vt_recv_t http;
    char dir[64];
    vg_alert_t *a = s_open_http(&http, dir, NULL, "webhook", "", s_fast(2));
    vt_recv_fail(&http, 1000, 502);
    vt_anom_t an = {"tx-x1", "hank", 10, 0.9, "mad", "amount", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &an, 1), 0);
    VT_WAIT(vt_stats(a, "hook").dead == 1, 5000);
    assert_int_equal(vt_stats(a, "hook").failures, 2);
    assert_int_equal(vt_stats(a, "hook").pending, 0);
    json_t *l = vt_list(a, "status=dead", NULL);
    assert_int_equal(json_array_size(vt_items(l)), 1);
    json_t *it = json_array_get(vt_items(l), 0);
    assert_string_equal(vt_sget(it, "id"), "7-1");
    assert_int_equal(json_integer_value(json_object_get(it, "attempts")), 2);
    assert_string_equal(vt_sget(it, "last_error"), "HTTP 502: refused by the test");
    json_decref(l);
    /* get, with the anomaly */
    vg_jw_t w;
    vg_jw_init(&w);
    assert_int_equal(vg_alert_get(a, vg_str_c("7-1"), &w), 0);
    json_error_t je;
    json_t *g = json_loadb(w.buf, w.len, 0, &je);
    assert_non_null(g);
    assert_string_equal(vt_sget(g, "status"), "dead");
    assert_string_equal(vt_sget(json_object_get(g, "anomaly"), "user_id"), "hank");
    assert_int_equal(json_array_size(json_object_get(json_object_get(g, "anomaly"), "reasons")), 2);
    json_decref(g);
    vg_jw_reset(&w);
    assert_int_equal(vg_alert_get(a, vg_str_c("7-99"), &w), VG_ERR_NOT_FOUND);
    assert_int_equal(vg_alert_get(a, vg_str_c("8-1"), &w), VG_ERR_NOT_FOUND);
    assert_int_equal(vg_alert_get(a, vg_str_c("junk"), &w), VG_ERR_NOT_FOUND);
    assert_int_equal(w.len, 0);
    vg_jw_fini(&w);
    /* admin retry once the channel works again */
    vt_recv_fail(&http, 0, 0);
    char err[256];
    assert_int_equal(vg_alert_retry(a, vg_str_c("7-1"), err, sizeof err), 0);
    VT_WAIT(vt_stats(a, "hook").delivered == 1, 5000);
    assert_int_equal(s_count_id(&http, "7-1", 200), 1);
    assert_int_equal(vg_alert_retry(a, vg_str_c("7-1"), err, sizeof err), VG_ERR_INVALID);
    assert_string_equal(err, "alert is delivered, not dead");
    assert_int_equal(vg_alert_retry(a, vg_str_c("7-42"), err, sizeof err), VG_ERR_NOT_FOUND);
    /* a permanent refusal (404) is dead at once */
    vt_recv_fail(&http, 1, 404);
    vt_anom_t an2 = {"tx-x2", "hank", 10, 0.9, "iqr", "amount", VG_DECISION_BLOCK};
    assert_int_equal(vt_deliver(a, &an2, 1), 0);
    VT_WAIT(vt_stats(a, "hook").dead == 2, 5000);
    l = vt_list(a, "status=dead", NULL);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(vt_items(l), 0), "attempts")), 1);
    json_decref(l);
}

/* ---- routing, isolation, history -------------------------------------------- */

static void test_routing(void **state)
{
    vt_recv_t http;
    vt_recv_start(&http, "http", NULL);
    char dir[64];
    vt_tmpdir(dir);
    vg_alert_t *a =
        vt_open(dir,
                "{\"channels\":[{\"name\":\"crit\",\"type\":\"webhook\",\"url\":\"http://"
                "127.0.0.1:%d/crit\"},"
                "{\"name\":\"rules\",\"type\":\"webhook\",\"url\":\"http://127.0.0.1:%d/rules\"},"
                "{\"name\":\"vel\",\"type\":\"slack\",\"url\":\"http://127.0.0.1:%d/vel\"}],"
                "\"routes\":[{\"min_severity\":\"critical\",\"decisions\":[\"block\"],\"channels\":"
                "[\"crit\"]},"
                "{\"rules\":[\"big_foreign\"],\"channels\":[\"rules\"]},"
                "{\"detectors\":[\"velocity\"],\"min_severity\":\"medium\",\"channels\":[\"vel\","
                "\"crit\"]}],"
                "\"group_wait_ms\":0}",
                http.port, http.port, http.port);
    vt_anom_t as[] = {
        {"r1", "u1", 1, 0.97, "mad", "amount", VG_DECISION_BLOCK},        /* crit */
        {"r2", "u2", 1, 0.97, "mad", "amount", VG_DECISION_REVIEW},       /* nothing */
        {"r3", "u3", 1, 0.6, "rule", "big_foreign", VG_DECISION_REVIEW},  /* rules */
        {"r4", "u4", 1, 0.8, "velocity", "count_1m", VG_DECISION_REVIEW}, /* vel + crit */
        {"r5", "u5", 1, 0.6, "velocity", "count_1m", VG_DECISION_REVIEW}, /* nothing (low) */
        {"r6", "u6", 1, 0.97, "rule", "big_foreign", VG_DECISION_BLOCK},  /* crit + rules */
    };
    assert_int_equal(vt_deliver(a, as, 6), 0);
    VT_WAIT(vt_stats(a, "crit").delivered + vt_stats(a, "rules").delivered +
                    vt_stats(a, "vel").delivered ==
                6,
            5000);
    assert_int_equal(vt_stats(a, "crit").delivered, 3);
    assert_int_equal(vt_stats(a, "rules").delivered, 2);
    assert_int_equal(vt_stats(a, "vel").delivered, 1);
    assert_int_equal(s_count_path(&http, "/crit"), 3);
    assert_int_equal(s_count_path(&http, "/rules"), 2);
    assert_int_equal(s_count_path(&http, "/vel"), 1);
    json_t *l = vt_list(a, "channel=crit", NULL);
    json_t *items = vt_items(l);
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(vt_sget(json_array_get(items, 0), "anomaly_id"), "r6");
    assert_string_equal(vt_sget(json_array_get(items, 1), "anomaly_id"), "r4");
    assert_string_equal(vt_sget(json_array_get(items, 2), "anomaly_id"), "r1");
    json_decref(l);
    vg_prom_t p;
    vg_prom_init(&p);
    vg_alert_metrics(a, &p);
    assert_non_null(strstr(p.buf, "vigil_alert_anomalies_total{result=\"unrouted\"} 2\n"));
    assert_non_null(strstr(p.buf, "vigil_alert_anomalies_total{result=\"routed\"} 4\n"));
    assert_non_null(strstr(p.buf, "vigil_alert_delivered_total{channel=\"crit\"} 3\n"));
    assert_non_null(strstr(p.buf, "vigil_alert_queue{channel=\"vel\",state=\"pending\"} 0\n"));
    assert_non_null(strstr(p.buf, "vigil_alert_send_seconds_count"));
    vg_prom_fini(&p);
    vg_jw_t w;
    vg_jw_init(&w);
    vg_alert_channels_json(a, &w);
    json_error_t je;
    json_t *cj = json_loadb(w.buf, w.len, 0, &je);
    assert_non_null(cj);
    assert_int_equal(json_array_size(json_object_get(cj, "channels")), 3);
    assert_string_equal(vt_sget(json_array_get(json_object_get(cj, "channels"), 2), "type"),
                        "slack");
    json_decref(cj);
    vg_jw_fini(&w);
}

static void test_slow_channel_isolated(void **state)
{
    vt_recv_t slow, smtp;
    vt_recv_start(&slow, "http", NULL);
    vt_recv_start(&smtp, "smtp", NULL);
    vt_recv_delay(&slow, 2.0);
    char dir[64];
    vt_tmpdir(dir);
    vg_alert_t *a = vt_open(
        dir,
        "{\"channels\":[{\"name\":\"slow\",\"type\":\"webhook\",\"url\":\"http://127.0.0.1:%d/\","
        "\"timeout_ms\":5000},"
        "{\"name\":\"mail\",\"type\":\"smtp\",\"url\":\"smtp://127.0.0.1:%d\","
        "\"from\":\"v@example.com\",\"to\":[\"o@example.com\"]}],"
        "\"group_wait_ms\":0}",
        slow.port, smtp.port);
    vt_anom_t as[] = {{"s1", "u1", 1, 0.9, "mad", "amount", VG_DECISION_BLOCK},
                      {"s2", "u2", 1, 0.9, "mad", "amount", VG_DECISION_BLOCK},
                      {"s3", "u3", 1, 0.9, "mad", "amount", VG_DECISION_BLOCK}};
    uint64_t t0 = vg_now_ns();
    assert_int_equal(vt_deliver(a, as, 3), 0);
    assert_true(vg_now_ns() - t0 < 1000000000ull); /* deliver never waits for a channel */
    VT_WAIT(vt_stats(a, "mail").delivered == 3, 1500);
    assert_true(vt_stats(a, "slow").delivered <= 1);
    vt_close(&a); /* waits for the request in flight (handed over), not for the rest */
    int delivered_slow = vt_recv_count(&slow);
    assert_true(delivered_slow <= 2);
    vt_recv_delay(&slow, 0);
    a = vt_open(
        dir,
        "{\"channels\":[{\"name\":\"slow\",\"type\":\"webhook\",\"url\":\"http://127.0.0.1:%d/\"},"
        "{\"name\":\"mail\",\"type\":\"smtp\",\"url\":\"smtp://127.0.0.1:%d\","
        "\"from\":\"v@example.com\",\"to\":[\"o@example.com\"]}],\"group_wait_ms\":0}",
        slow.port, smtp.port);
    VT_WAIT(vt_recv_count_status(&slow, 200) == 3, 5000);
    for (int i = 1; i <= 3; i++) { /* each alert exactly once */
        char id[16];
        snprintf(id, sizeof id, "7-%d", 2 * i - 1);
        assert_int_equal(s_count_id(&slow, id, 200), 1);
    }
}

static void test_history_paging(void **state)
{
    char dir[64];
    vt_tmpdir(dir);
    /* nothing listens on port 9 (discard): alerts stay pending / dead */
    const char *cfg =
        "{\"channels\":[{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/\","
        "\"connect_timeout_ms\":200},"
        "{\"name\":\"b\",\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/\"}],"
        "\"group_wait_ms\":600000}";
    vg_alert_t *a = vt_open(dir, "%s", cfg);
    vt_anom_t as[5];
    char ids[5][16], users[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(ids[i], sizeof ids[i], "h%d", i);
        snprintf(users[i], sizeof users[i], "u%d", i);
        as[i] = (vt_anom_t){ids[i], users[i], 1, 0.9, "mad", "amount", VG_DECISION_BLOCK};
    }
    assert_int_equal(vt_deliver(a, as, 5), 0); /* 10 alerts: 2 channels */
    assert_int_equal(vt_stats(a, "a").pending, 5);
    vg_alert_query_t q;
    vg_alert_query_init(&q);
    q.limit = 4;
    q.channel = vg_str_c("a");
    char cursor[VG_ALERT_CURSOR_MAX + 1] = "";
    int seen = 0;
    for (int page = 0; page < 5; page++) {
        vg_jw_t w;
        vg_jw_init(&w);
        q.cursor = cursor[0] ? vg_str_c(cursor) : VG_STR_NULL;
        assert_int_equal(vg_alert_list(a, &q, &w), 0);
        json_error_t je;
        json_t *j = json_loadb(w.buf, w.len, 0, &je);
        vg_jw_fini(&w);
        assert_non_null(j);
        json_t *items = vt_items(j);
        for (size_t i = 0; i < json_array_size(items); i++) {
            assert_string_equal(vt_sget(json_array_get(items, i), "channel"), "a");
            assert_string_equal(vt_sget(json_array_get(items, i), "status"), "pending");
            assert_string_equal(vt_sget(json_array_get(items, i), "anomaly_id"), ids[4 - seen]);
            seen++;
        }
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        json_decref(j);
        if (!next) break;
    }
    assert_int_equal(seen, 5);
    /* filters and refusals */
    json_t *l = vt_list(a, "status=delivered", NULL);
    assert_int_equal(json_array_size(vt_items(l)), 0);
    assert_true(json_is_null(json_object_get(l, "next_cursor")));
    json_decref(l);
    l = vt_list(a, "user_id=u3", "limit=1", NULL);
    assert_int_equal(json_array_size(vt_items(l)), 1);
    assert_true(json_is_string(json_object_get(l, "next_cursor")));
    json_decref(l);
    l = vt_list(a, "since=2999-01-01T00:00:00Z", NULL);
    assert_int_equal(json_array_size(vt_items(l)), 0);
    json_decref(l);
    vg_perr_t perr;
    vg_perr_clear(&perr);
    assert_int_equal(vg_alert_query_set(&q, "limit", "0", &perr), VG_ERR_INVALID);
    assert_string_equal(perr.field, "limit");
    vg_perr_clear(&perr);
    assert_int_equal(vg_alert_query_set(&q, "status", "lost", &perr), VG_ERR_INVALID);
    vg_perr_clear(&perr);
    assert_int_equal(vg_alert_query_set(&q, "color", "red", &perr), VG_ERR_INVALID);
    vg_jw_t w;
    vg_jw_init(&w);
    q.cursor = vg_str_c("AAAAAAAAAAAAAAAA");
    assert_int_equal(vg_alert_list(a, &q, &w), VG_ERR_INVALID);
    q.cursor = vg_str_c("nope");
    assert_int_equal(vg_alert_list(a, &q, &w), VG_ERR_INVALID);
    assert_int_equal(w.len, 0);
    vg_jw_fini(&w);
    vt_close(&a);
    /* reopened without channel b: b's queued alerts become dead, a's stay */
    a = vt_open(
        dir,
        "{\"channels\":[{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"http://127.0.0.1:9/\"}],"
        "\"group_wait_ms\":600000}");
    assert_int_equal(vt_stats(a, "a").pending, 5);
    l = vt_list(a, "status=dead", NULL);
    assert_int_equal(json_array_size(vt_items(l)), 5);
    assert_string_equal(vt_sget(json_array_get(vt_items(l), 0), "last_error"),
                        "channel not configured");
    assert_true(json_is_null(json_object_get(json_array_get(vt_items(l), 0), "type")));
    json_decref(l);
    char err[128];
    assert_int_equal(vg_alert_retry(a, vg_str_c("7-2"), err, sizeof err), VG_ERR_INVALID);
    assert_string_equal(err, "channel 'b' is not configured");
}

static void test_housekeeping(void **state)
{
    vt_recv_t http;
    char dir[64];
    vg_alert_t *a =
        s_open_http(&http, dir, NULL, "webhook", "", "\"group_wait_ms\":0,\"retention_days\":1");
    vt_recv_fail(&http, 1, 410); /* the first alert dies at once */
    vt_anom_t an[] = {{"k1", "ivan", 1, 0.9, "mad", "amount", VG_DECISION_BLOCK},
                      {"k2", "ivan", 1, 0.9, "iqr", "amount", VG_DECISION_BLOCK}};
    assert_int_equal(vt_deliver(a, an, 1), 0);
    VT_WAIT(vt_stats(a, "hook").dead == 1, 5000);
    assert_int_equal(vt_deliver(a, an + 1, 1), 0);
    VT_WAIT(vt_stats(a, "hook").delivered == 1, 5000);
    vg__alert_maintain(a, vg_wall_ms()); /* nothing is old yet */
    json_t *l = vt_list(a, NULL);
    assert_int_equal(json_array_size(vt_items(l)), 2);
    json_decref(l);
    vg__alert_maintain(a, vg_wall_ms() + 2 * 86400000LL);
    l = vt_list(a, NULL); /* the delivered one is gone, the dead one stays */
    assert_int_equal(json_array_size(vt_items(l)), 1);
    assert_string_equal(vt_sget(json_array_get(vt_items(l), 0), "status"), "dead");
    json_decref(l);
    /* the idempotency key and the dedup window of k2 are gone too: k2 again
     * (a day later) is a new alert */
    assert_int_equal(vt_deliver(a, an + 1, 1), 0);
    VT_WAIT(vt_stats(a, "hook").delivered == 2, 5000);
    l = vt_list(a, "status=delivered", NULL);
    assert_int_equal(json_array_size(vt_items(l)), 1);
    assert_string_equal(vt_sget(json_array_get(vt_items(l), 0), "id"), "7-3");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(vt_items(l), 0), "count")),
                     1);
    json_decref(l);
}

static void test_bad_records_and_open(void **state)
{
    char dir[64], err[256];
    vt_tmpdir(dir);
    vg_alert_t *a = vt_open(dir, "{\"channels\":[{\"name\":\"a\",\"type\":\"webhook\","
                                 "\"url\":\"http://127.0.0.1:9/\"}],\"group_wait_ms\":600000}");
    vg_str_t junk[2] = {VG_STR_LIT("\x93\x01\x02"), VG_STR_LIT("")};
    assert_int_equal(vg_alert_deliver(a, junk, 2), 0); /* skipped, counted */
    assert_int_equal(vg_alert_deliver(a, NULL, 0), 0);
    assert_int_equal(vt_stats(a, "a").pending, 0);
    vg_alert_stats_t s;
    assert_int_equal(vg_alert_stats(a, "zz", &s), VG_ERR_NOT_FOUND);
    vt_close(&a);
    vg_alert_close(&a); /* NULL-safe */
    vg_alert_routing_t *r = NULL;
    vg_alert_config_t cfg = {.data_dir = NULL};
    assert_int_equal(vg_alert_open(&cfg, &r, &a, err, sizeof err), VG_ERR_INVALID);
    assert_null(a);
    /* a data dir that cannot be created */
    assert_int_equal(
        vg_alert_routing_parse(S_FAST_MIN, strlen(S_FAST_MIN), NULL, &r, err, sizeof err), 0);
    cfg.data_dir = "/proc/no/such/dir";
    assert_int_equal(vg_alert_open(&cfg, &r, &a, err, sizeof err), VG_ERR_IO);
    assert_null(r); /* ownership moved even on failure */
    assert_non_null(strstr(err, "/proc/no/such/dir/alerts"));
    vt_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_smtp_delivery, vt_cleanup),
        cmocka_unit_test_teardown(test_smtp_retry_and_refusal, vt_cleanup),
        cmocka_unit_test_teardown(test_smtp_starttls, vt_cleanup),
        cmocka_unit_test_teardown(test_slack_delivery, vt_cleanup),
        cmocka_unit_test_teardown(test_webhook_signature, vt_cleanup),
        cmocka_unit_test_teardown(test_dedup_counts, vt_cleanup),
        cmocka_unit_test_teardown(test_throttle_counts_refusals, vt_cleanup),
        cmocka_unit_test_teardown(test_throttle_digest, vt_cleanup),
        cmocka_unit_test_teardown(test_outage_retries_once, vt_cleanup),
        cmocka_unit_test_teardown(test_restart_mid_retry, vt_cleanup),
        cmocka_unit_test_teardown(test_dead_and_retry, vt_cleanup),
        cmocka_unit_test_teardown(test_routing, vt_cleanup),
        cmocka_unit_test_teardown(test_slow_channel_isolated, vt_cleanup),
        cmocka_unit_test_teardown(test_history_paging, vt_cleanup),
        cmocka_unit_test_teardown(test_housekeeping, vt_cleanup),
        cmocka_unit_test_teardown(test_bad_records_and_open, vt_cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
