/* test_auth_e2e.c: the REST API on a hostile network, against a real
 * vigil-node --gateway with a one-node control plane (auth on): forged and
 * broken tokens (alg none, RS256/HS512 headers, expired, not yet valid,
 * wrong issuer/audience, tampered payload), revoked API keys, role
 * escalation on every admin endpoint (and nothing changed), path traversal
 * on the dashboard's files, oversize headers and bodies, rate limits with
 * Retry-After, login throttling, CORS, analyst labels and the precision
 * they measure, and a walk over the OpenAPI document calling every
 * operation (every answer must be one the document lists). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "e2e_util.h"
#include "vg_api.h"

#include <math.h>
#include <sodium.h>
#include <sys/stat.h>

#define SECRET   "an-e2e-test-secret-of-more-than-32-bytes!"
#define ADMIN_PW "admin-password-1"

static e2e_node_t s_node;
static char s_listen[64];
static char s_admin[1024], s_analyst[1024], s_ingest_key[128], s_dash[300];

/* ---- HTTP with headers ----------------------------------------------------------- */

typedef struct {
    long status;
    char *body;
    size_t len;
    json_t *json;
    char headers[4096];
} t_resp_t;

static size_t s_hdr_cb(char *p, size_t s, size_t n, void *arg)
{
    t_resp_t *r = arg;
    size_t have = strlen(r->headers), add = s * n;
    if (have + add < sizeof r->headers) {
        memcpy(r->headers + have, p, add);
        r->headers[have + add] = 0;
    }
    return s * n;
}

static size_t s_body_cb(char *p, size_t s, size_t n, void *arg)
{
    t_resp_t *r = arg;
    r->body = realloc(r->body, r->len + s * n + 1);
    memcpy(r->body + r->len, p, s * n);
    r->len += s * n;
    r->body[r->len] = 0;
    return s * n;
}

static void t_free(t_resp_t *r)
{
    free(r->body);
    if (r->json) json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* auth: a token/key for "Authorization: Bearer", or NULL; extra: one more
 * header line or NULL; raw_path: sent without curl normalising it. */
static t_resp_t t_req(const char *method, const char *path, const char *body, const char *ctype,
                      const char *auth, const char *extra)
{
    t_resp_t r = {0};
    CURL *c = curl_easy_init();
    char url[2048];
    snprintf(url, sizeof url, "%s%s", s_node.url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_hdr_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    struct curl_slist *h = NULL;
    char line[40000];
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
        snprintf(line, sizeof line, "Content-Type: %s", ctype ? ctype : "application/json");
        h = curl_slist_append(h, line);
    }
    if (auth) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", auth);
        h = curl_slist_append(h, line);
    }
    if (extra) h = curl_slist_append(h, extra);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        r.status = -1;
        fprintf(stderr, "%s %s: %s\n", method, path, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r.body) r.json = json_loads(r.body, 0, NULL);
    return r;
}

static long t_status(const char *method, const char *path, const char *body, const char *auth)
{
    t_resp_t r = t_req(method, path, body, NULL, auth, NULL);
    long st = r.status;
    t_free(&r);
    return st;
}

static const char *t_err_code(const t_resp_t *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
}

/* ---- tokens --------------------------------------------------------------------- */

static void b64(const void *p, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* A token with header and payload JSON as given, signed with key. */
static void forge(const char *header, const char *payload, const char *key, char *out, size_t cap)
{
    char h[512], p[1024], msg[1600];
    b64(header, strlen(header), h, sizeof h);
    b64(payload, strlen(payload), p, sizeof p);
    snprintf(msg, sizeof msg, "%s.%s", h, p);
    uint8_t mac[32];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const uint8_t *) key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *) msg, strlen(msg));
    crypto_auth_hmacsha256_final(&st, mac);
    char s[64];
    b64(mac, sizeof mac, s, sizeof s);
    snprintf(out, cap, "%s.%s", msg, s);
}

static void claims(char *out, size_t cap, const char *sub, long iat_off, long exp_off,
                   const char *iss, const char *aud, const char *extra)
{
    long now = (long) time(NULL);
    snprintf(out, cap,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"role\":\"admin\",\"iat\":%ld,"
             "\"exp\":%ld%s}",
             iss, aud, sub, now + iat_off, now + exp_off, extra ? extra : "");
}

static void login(const char *user, const char *pw, char *token, size_t cap)
{
    char body[256];
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
    t_resp_t r = t_req("POST", "/v1/auth/token", body, NULL, NULL, NULL);
    if (r.status != 200) fail_msg("login %s: %ld %s", user, r.status, r.body);
    assert_string_equal(json_string_value(json_object_get(r.json, "token_type")), "Bearer");
    assert_true(json_integer_value(json_object_get(r.json, "expires_in")) > 0);
    snprintf(token, cap, "%s", json_string_value(json_object_get(r.json, "access_token")));
    t_free(&r);
}

/* ---- setup ------------------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int s_setup(void **state)
{
    (void) state;
    if (sodium_init() < 0) return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* a dashboard dir beside a secret the file server must never reach */
    snprintf(s_dash, sizeof s_dash, "/tmp/vigil-auth-XXXXXX");
    if (!mkdtemp(s_dash)) return -1;
    char p[400];
    snprintf(p, sizeof p, "%s/secret.txt", s_dash);
    write_file(p, "TOP-SECRET");
    snprintf(p, sizeof p, "%s/dist", s_dash);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/dist/assets", s_dash);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/dist/index.html", s_dash);
    write_file(p, "<!doctype html><title>Vigil test dashboard</title>");
    snprintf(p, sizeof p, "%s/dist/assets/app-1.js", s_dash);
    write_file(p, "console.log('ok')");
    snprintf(p, sizeof p, "%s/dist/assets/link.js", s_dash);
    char target[400];
    snprintf(target, sizeof target, "%s/secret.txt", s_dash);
    if (symlink(target, p)) return -1;
    /* alerting on, to a closed port: alerts stay pending with an error */
    snprintf(p, sizeof p, "%s/alerts.json", s_dash);
    write_file(p, "{\"channels\":[{\"name\":\"hook\",\"type\":\"webhook\","
                  "\"url\":\"http://127.0.0.1:1/none\"}],"
                  "\"routes\":[{\"min_severity\":\"low\",\"channels\":[\"hook\"]}]}");
    char alerts[400];
    snprintf(alerts, sizeof alerts, "%s", p);
    setenv("VIGIL_ADMIN_PASSWORD", ADMIN_PW, 1);
    setenv("VIGIL_JWT_SECRET", SECRET, 1);
    int raft_port = e2e_free_listen_port();
    char dash[400];
    char *listen = s_listen;
    snprintf(s_listen, sizeof s_listen, "127.0.0.1:%d", raft_port);
    snprintf(dash, sizeof dash, "%s/dist", s_dash);
    const char *extra[] = {"--listen",
                           listen,
                           "--dashboard-dir",
                           dash,
                           "--cors-origins",
                           "http://localhost:5173",
                           "--rate-limit",
                           "20",
                           "--rate-burst",
                           "60",
                           "--max-body",
                           "1m",
                           "--alerts",
                           alerts,
                           NULL};
    if (e2e_start(&s_node, extra)) {
        fprintf(stderr, "node did not start; log %s\n", s_node.log);
        return -1;
    }
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    e2e_cleanup(&s_node);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dash);
    if (system(cmd)) return -1;
    return 0;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_login_and_roles(void **state)
{
    (void) state;
    login("admin", ADMIN_PW, s_admin, sizeof s_admin);
    /* users and keys, created by the admin */
    t_resp_t r = t_req("POST", "/v1/users",
                       "{\"name\":\"ann\",\"password\":\"analyst-pw-1\",\"role\":\"analyst\"}",
                       NULL, s_admin, NULL);
    assert_int_equal(r.status, 201);
    t_free(&r);
    r = t_req("POST", "/v1/users",
              "{\"name\":\"ann\",\"password\":\"analyst-pw-1\",\"role\":\"analyst\"}", NULL,
              s_admin, NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(t_err_code(&r), "EXISTS");
    t_free(&r);
    r = t_req("POST", "/v1/users", "{\"name\":\"bob\",\"password\":\"short\",\"role\":\"analyst\"}",
              NULL, s_admin, NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "field")), "password");
    t_free(&r);
    login("ann", "analyst-pw-1", s_analyst, sizeof s_analyst);
    r = t_req("POST", "/v1/apikeys", "{\"name\":\"loader\",\"role\":\"ingest\"}", NULL, s_admin,
              NULL);
    assert_int_equal(r.status, 201);
    snprintf(s_ingest_key, sizeof s_ingest_key, "%s",
             json_string_value(json_object_get(r.json, "key")));
    assert_int_equal(strncmp(s_ingest_key, "vk_", 3), 0);
    t_free(&r);
    /* the key lists without its secret */
    r = t_req("GET", "/v1/apikeys", NULL, NULL, s_admin, NULL);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, s_ingest_key + 16));
    t_free(&r);
    /* each role reaches what it may */
    const char *tx = "{\"id\":\"r1\",\"user_id\":\"u1\",\"amount\":10,\"currency\":\"EUR\","
                     "\"timestamp\":1767225600000}";
    assert_int_equal(t_status("POST", "/v1/transactions", tx, s_ingest_key), 200);
    t_resp_t k = t_req("POST", "/v1/transactions", tx, NULL, NULL, NULL);
    assert_int_equal(k.status, 401);
    t_free(&k);
    char hdr[200];
    snprintf(hdr, sizeof hdr, "X-API-Key: %s", s_ingest_key);
    k = t_req("POST", "/v1/transactions", tx, NULL, NULL, hdr);
    assert_int_equal(k.status, 200);
    t_free(&k);
    assert_int_equal(t_status("GET", "/v1/anomalies", NULL, s_ingest_key), 403);
    assert_int_equal(t_status("POST", "/v1/transactions", tx, s_analyst), 403);
    assert_int_equal(t_status("GET", "/v1/anomalies", NULL, s_analyst), 200);
    assert_int_equal(t_status("GET", "/v1/cluster", NULL, s_analyst), 200);
    assert_int_equal(t_status("GET", "/v1/anomalies", NULL, NULL), 401);
    /* an API key can be exchanged for a token */
    char body[200];
    snprintf(body, sizeof body, "{\"api_key\":\"%s\"}", s_ingest_key);
    r = t_req("POST", "/v1/auth/token", body, NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    const char *kt = json_string_value(json_object_get(r.json, "access_token"));
    assert_int_equal(t_status("POST", "/v1/transactions", tx, kt), 200);
    assert_int_equal(t_status("GET", "/v1/anomalies", NULL, kt), 403);
    t_free(&r);
    /* wrong passwords: one message, no hint which part was wrong */
    r = t_req("POST", "/v1/auth/token", "{\"username\":\"ann\",\"password\":\"nope-nope\"}", NULL,
              NULL, NULL);
    assert_int_equal(r.status, 401);
    char msg1[200];
    snprintf(msg1, sizeof msg1, "%s", r.body);
    t_free(&r);
    r = t_req("POST", "/v1/auth/token", "{\"username\":\"nobody\",\"password\":\"nope-nope\"}",
              NULL, NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.body, msg1);
    t_free(&r);
}

static void test_bad_tokens(void **state)
{
    (void) state;
    static const char hs[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char c[600], tok[2048];
    struct {
        const char *what, *header, *key, *needle;
        long iat, exp;
        const char *iss, *aud, *extra;
    } cases[] = {
        {"valid (control)", hs, SECRET, NULL, -10, 600, "vigil", "vigil-api", NULL},
        {"alg none", "{\"alg\":\"none\",\"typ\":\"JWT\"}", SECRET, "algorithm", -10, 600, "vigil",
         "vigil-api", NULL},
        {"HS/RS confusion", "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", SECRET, "algorithm", -10, 600,
         "vigil", "vigil-api", NULL},
        {"HS512 header", "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", SECRET, "algorithm", -10, 600,
         "vigil", "vigil-api", NULL},
        {"wrong key", hs, "another-secret-of-more-than-32-bytes!!", "signature", -10, 600, "vigil",
         "vigil-api", NULL},
        {"expired", hs, SECRET, "expired", -7200, -3600, "vigil", "vigil-api", NULL},
        {"issued in the future", hs, SECRET, "future", 3600, 7200, "vigil", "vigil-api", NULL},
        {"not yet valid", hs, SECRET, "nbf", -10, 600, "vigil", "vigil-api", ",\"nbf\":9999999999"},
        {"wrong audience", hs, SECRET, "audience", -10, 600, "vigil", "other-api", NULL},
        {"wrong issuer", hs, SECRET, "issuer", -10, 600, "evil", "vigil-api", NULL},
        {"unknown subject", hs, SECRET, "no longer", -10, 600, "vigil", "vigil-api", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        claims(c, sizeof c, i == 10 ? "mallory" : "admin", cases[i].iat, cases[i].exp, cases[i].iss,
               cases[i].aud, cases[i].extra);
        forge(cases[i].header, c, cases[i].key, tok, sizeof tok);
        t_resp_t r = t_req("GET", "/v1/users", NULL, NULL, tok, NULL);
        if (!cases[i].needle) {
            if (r.status != 200) fail_msg("%s: %ld %s", cases[i].what, r.status, r.body);
        } else {
            const char *m =
                json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
            if (r.status != 401 || !m || !strstr(m, cases[i].needle))
                fail_msg("%s: %ld %s", cases[i].what, r.status, r.body);
        }
        t_free(&r);
    }
    /* a real token with its payload changed (role, subject) */
    char *dot1 = strchr(s_analyst, '.'), *dot2 = strrchr(s_analyst, '.');
    claims(c, sizeof c, "admin", -10, 600, "vigil", "vigil-api", NULL);
    char p[1024];
    b64(c, strlen(c), p, sizeof p);
    snprintf(tok, sizeof tok, "%.*s.%s%s", (int) (dot1 - s_analyst), s_analyst, p, dot2);
    assert_int_equal(t_status("GET", "/v1/users", NULL, tok), 401);
    /* garbage */
    assert_int_equal(t_status("GET", "/v1/users", NULL, "a.b.c"), 401);
    assert_int_equal(t_status("GET", "/v1/users", NULL, "..."), 401);
    assert_int_equal(t_status("GET", "/v1/users", NULL, "vk_000000000000_short"), 401);
    t_resp_t r = t_req("GET", "/v1/users", NULL, NULL, NULL, "Authorization: Basic YWRtaW46eA==");
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "Bearer"));
    t_free(&r);
}

static void test_revoked_key(void **state)
{
    (void) state;
    t_resp_t r = t_req("POST", "/v1/apikeys", "{\"name\":\"temp\",\"role\":\"ingest\"}", NULL,
                       s_admin, NULL);
    assert_int_equal(r.status, 201);
    char key[128], id[32], path[64];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(r.json, "key")));
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")));
    t_free(&r);
    const char *tx = "{\"id\":\"rv1\",\"user_id\":\"u2\",\"amount\":10,\"currency\":\"EUR\","
                     "\"timestamp\":1767225600000}";
    assert_int_equal(t_status("POST", "/v1/transactions", tx, key), 200); /* cached now */
    snprintf(path, sizeof path, "/v1/apikeys/%s", id);
    assert_int_equal(t_status("DELETE", path, NULL, s_admin), 204);
    r = t_req("POST", "/v1/transactions",
              "{\"id\":\"rv2\",\"user_id\":\"u2\",\"amount\":10,\"currency\":\"EUR\","
              "\"timestamp\":1767225600000}",
              NULL, key, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "revoked"));
    t_free(&r);
    /* nothing was scored: rv2 is unknown to the node */
    assert_int_equal(t_status("GET", "/v1/anomalies/rv2", NULL, s_admin), 404);
    assert_int_equal(t_status("DELETE", "/v1/apikeys/ffffffffffff", NULL, s_admin), 404);
}

/* Every admin operation, tried by an analyst token and an ingest key:
 * 403 each time, and the users, keys and rule versions are unchanged. */
static void test_role_escalation(void **state)
{
    (void) state;
    static const struct {
        const char *method, *path, *body;
    } ops[] = {
        {"GET", "/v1/users", NULL},
        {"POST", "/v1/users",
         "{\"name\":\"evil\",\"password\":\"evil-pass-1\",\"role\":\"admin\"}"},
        {"PUT", "/v1/users/ann", "{\"role\":\"admin\"}"},
        {"PATCH", "/v1/users/ann", "{\"role\":\"admin\"}"},
        {"DELETE", "/v1/users/admin", NULL},
        {"GET", "/v1/apikeys", NULL},
        {"POST", "/v1/apikeys", "{\"role\":\"admin\"}"},
        {"DELETE", "/v1/apikeys/000000000000", NULL},
        {"POST", "/v1/rules", "rule x { when = amount > 1 }"},
        {"POST", "/v1/rules/lists/bad", "XX"},
        {"POST", "/v1/rules/rollback", ""},
        {"POST", "/v1/models", "junk"},
        {"POST", "/v1/models/activate?version=1", ""},
        {"POST", "/v1/models/rollback", ""},
        {"POST", "/v1/models/shadow?version=off", ""},
    };
    t_resp_t before_u = t_req("GET", "/v1/users", NULL, NULL, s_admin, NULL);
    t_resp_t before_k = t_req("GET", "/v1/apikeys", NULL, NULL, s_admin, NULL);
    t_resp_t before_r = t_req("GET", "/v1/rules/versions", NULL, NULL, s_admin, NULL);
    const char *who[] = {s_analyst, s_ingest_key};
    for (size_t w = 0; w < 2; w++)
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            t_resp_t r = t_req(ops[i].method, ops[i].path, ops[i].body,
                               ops[i].path[4] == 'r' || ops[i].path[4] == 'm' ? "text/plain" : NULL,
                               who[w], NULL);
            if (r.status != 403 || strcmp(t_err_code(&r), "FORBIDDEN"))
                fail_msg("%s %s %s: %ld %s", w ? "ingest" : "analyst", ops[i].method, ops[i].path,
                         r.status, r.body);
            t_free(&r);
        }
    t_resp_t after_u = t_req("GET", "/v1/users", NULL, NULL, s_admin, NULL);
    t_resp_t after_k = t_req("GET", "/v1/apikeys", NULL, NULL, s_admin, NULL);
    t_resp_t after_r = t_req("GET", "/v1/rules/versions", NULL, NULL, s_admin, NULL);
    assert_string_equal(before_u.body, after_u.body);
    assert_string_equal(before_k.body, after_k.body);
    assert_string_equal(before_r.body, after_r.body);
    t_free(&before_u), t_free(&before_k), t_free(&before_r);
    t_free(&after_u), t_free(&after_k), t_free(&after_r);
    /* an admin may not lock itself out */
    assert_int_equal(t_status("DELETE", "/v1/users/admin", NULL, s_admin), 409);
    assert_int_equal(t_status("PUT", "/v1/users/admin", "{\"role\":\"ingest\"}", s_admin), 409);
}

static void test_static_files(void **state)
{
    (void) state;
    t_resp_t r = t_req("GET", "/", NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Vigil test dashboard"));
    assert_non_null(strstr(r.headers, "Content-Security-Policy"));
    t_free(&r);
    r = t_req("GET", "/assets/app-1.js", NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "immutable"));
    t_free(&r);
    static const char *const evil[] = {
        "/../secret.txt",       "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",   "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",     "/assets/link.js",
        "/%2e%2e%2fsecret.txt", "/assets/..%5c..%5csecret.txt",
        "/secret.txt",          "//secret.txt",
    };
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        r = t_req("GET", evil[i], NULL, NULL, NULL, NULL);
        if (r.status == 200 || (r.body && strstr(r.body, "TOP-SECRET")))
            fail_msg("%s: %ld %s", evil[i], r.status, r.body);
        t_free(&r);
    }
}

static void test_limits(void **state)
{
    (void) state;
    /* oversize header: refused, and the server lives on */
    char *big = malloc(40000);
    memset(big, 'a', 39990);
    memcpy(big, "X-Big: ", 7);
    big[39990] = 0;
    t_resp_t r = t_req("GET", "/v1/anomalies", NULL, NULL, s_admin, big);
    assert_true(r.status == 431 || r.status == 413 || r.status == 400 || r.status == -1);
    t_free(&r);
    free(big);
    /* oversize body (--max-body 1m) */
    size_t n = (1u << 20) + 100;
    char *body = malloc(n + 1);
    memset(body, ' ', n);
    body[0] = '[';
    body[n - 1] = ']';
    body[n] = 0;
    r = t_req("POST", "/v1/transactions", body, NULL, s_ingest_key, NULL);
    assert_int_equal(r.status, 413);
    assert_string_equal(t_err_code(&r), "TOO_LARGE");
    t_free(&r);
    free(body);
    /* wrong content type, schema errors, malformed JSON, unknown paths and methods */
    r = t_req("POST", "/v1/transactions", "<tx/>", "application/xml", s_ingest_key, NULL);
    assert_int_equal(r.status, 415);
    t_free(&r);
    r = t_req("POST", "/v1/transactions",
              "{\"id\":\"s1\",\"user_id\":\"u\",\"amount\":-1,\"currency\":\"EUR\","
              "\"timestamp\":1}",
              NULL, s_ingest_key, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "field")), "amount");
    t_free(&r);
    assert_int_equal(t_status("POST", "/v1/transactions", "{\"id\":", s_ingest_key), 400);
    assert_int_equal(t_status("GET", "/v1/nothing", NULL, s_admin), 404);
    assert_int_equal(t_status("DELETE", "/v1/anomalies", NULL, s_admin), 405);
    assert_int_equal(t_status("GET", "/healthz", NULL, NULL), 200);
}

static void test_rate_limit(void **state)
{
    (void) state;
    t_resp_t r = t_req("POST", "/v1/apikeys", "{\"name\":\"burst\",\"role\":\"analyst\"}", NULL,
                       s_admin, NULL);
    char key[128];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(r.json, "key")));
    t_free(&r);
    int ok = 0, limited = 0;
    for (int i = 0; i < 150 && !limited; i++) {
        r = t_req("GET", "/healthz", NULL, NULL, key, NULL); /* public: never limited */
        assert_int_equal(r.status, 200);
        t_free(&r);
        r = t_req("GET", "/v1/stats/anomalies", NULL, NULL, key, NULL);
        if (r.status == 200) ok++;
        if (r.status == 429) {
            limited++;
            assert_non_null(strstr(r.headers, "Retry-After: "));
            assert_string_equal(t_err_code(&r), "RATE_LIMITED");
        }
        t_free(&r);
    }
    assert_true(ok >= 50);
    assert_int_equal(limited, 1);
    /* other principals are not affected */
    assert_int_equal(t_status("GET", "/v1/stats/anomalies", NULL, s_admin), 200);
    /* logins are throttled per name */
    int login_limited = 0;
    for (int i = 0; i < 15; i++) {
        r = t_req("POST", "/v1/auth/token", "{\"username\":\"ann\",\"password\":\"guess-guess\"}",
                  NULL, NULL, NULL);
        if (r.status == 429)
            login_limited++;
        else
            assert_int_equal(r.status, 401);
        t_free(&r);
    }
    assert_true(login_limited > 0);
}

static void test_cors(void **state)
{
    (void) state;
    t_resp_t r =
        t_req("OPTIONS", "/v1/anomalies", NULL, NULL, NULL, "Origin: http://localhost:5173");
    assert_int_equal(r.status, 204);
    assert_non_null(strstr(r.headers, "Access-Control-Allow-Origin: http://localhost:5173"));
    assert_non_null(strstr(r.headers, "Authorization"));
    t_free(&r);
    r = t_req("GET", "/v1/anomalies", NULL, NULL, s_analyst, "Origin: http://localhost:5173");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Access-Control-Allow-Origin: http://localhost:5173"));
    t_free(&r);
    r = t_req("GET", "/v1/anomalies", NULL, NULL, s_analyst, "Origin: http://evil.example");
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.headers, "Access-Control-Allow-Origin"));
    t_free(&r);
    r = t_req("OPTIONS", "/v1/anomalies", NULL, NULL, NULL, "Origin: http://evil.example");
    assert_true(r.status == 401 || r.status == 405);
    t_free(&r);
}

static void test_labels_precision(void **state)
{
    (void) state;
    const char *rules = "rule huge {\n  severity = high\n  action = block\n  when = amount > "
                        "100000\n}\n";
    t_resp_t r = t_req("POST", "/v1/rules", rules, "text/plain", s_admin, NULL);
    if (r.status != 201) fail_msg("rules push: %ld %s", r.status, r.body);
    t_free(&r);
    char tx[300];
    /* the rule set is in force on the node a moment after the commit */
    bool blocked = false;
    for (int i = 0; i < 100 && !blocked; i++, usleep(100000)) {
        snprintf(tx, sizeof tx,
                 "{\"id\":\"probe%d\",\"user_id\":\"probe\",\"amount\":500000,\"currency\":"
                 "\"EUR\",\"timestamp\":1767225600000}",
                 i);
        r = t_req("POST", "/v1/transactions", tx, NULL, s_ingest_key, NULL);
        blocked = !strcmp(json_string_value(json_object_get(r.json, "decision")), "block");
        t_free(&r);
    }
    assert_true(blocked);
    for (int i = 0; i < 3; i++) {
        snprintf(tx, sizeof tx,
                 "{\"id\":\"big%d\",\"user_id\":\"lab%d\",\"amount\":500000,\"currency\":"
                 "\"EUR\",\"timestamp\":1767225600000}",
                 i, i);
        r = t_req("POST", "/v1/transactions", tx, NULL, s_ingest_key, NULL);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "decision")), "block");
        t_free(&r);
    }
    assert_int_equal(t_status("POST", "/v1/anomalies/big0/label",
                              "{\"label\":\"fraud\",\"note\":\"card stolen\"}", s_analyst),
                     200);
    assert_int_equal(
        t_status("POST", "/v1/anomalies/big1/label", "{\"label\":\"fraud\"}", s_analyst), 200);
    assert_int_equal(
        t_status("POST", "/v1/anomalies/big2/label", "{\"label\":\"legit\"}", s_analyst), 200);
    r = t_req("POST", "/v1/anomalies/big2/label", "{\"label\":\"maybe\"}", NULL, s_analyst, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "field")), "label");
    t_free(&r);
    assert_int_equal(
        t_status("POST", "/v1/anomalies/none/label", "{\"label\":\"fraud\"}", s_analyst), 404);
    assert_int_equal(
        t_status("POST", "/v1/anomalies/big0/label", "{\"label\":\"fraud\"}", s_ingest_key), 403);
    /* stored with the anomaly */
    r = t_req("GET", "/v1/anomalies/big0", NULL, NULL, s_analyst, NULL);
    assert_int_equal(r.status, 200);
    json_t *lab = json_object_get(r.json, "label");
    assert_string_equal(json_string_value(json_object_get(lab, "label")), "fraud");
    assert_string_equal(json_string_value(json_object_get(lab, "note")), "card stolen");
    assert_string_equal(json_string_value(json_object_get(lab, "by")), "ann");
    t_free(&r);
    /* precision of the rule: 2 fraud, 1 legit */
    r = t_req("GET", "/v1/stats/precision", NULL, NULL, s_analyst, NULL);
    assert_int_equal(r.status, 200);
    json_t *by_rule = json_object_get(r.json, "by_rule");
    bool found = false;
    for (size_t i = 0; i < json_array_size(by_rule); i++) {
        json_t *x = json_array_get(by_rule, i);
        if (strcmp(json_string_value(json_object_get(x, "rule")), "huge")) continue;
        found = true;
        assert_int_equal(json_integer_value(json_object_get(x, "fraud")), 2);
        assert_int_equal(json_integer_value(json_object_get(x, "legit")), 1);
        assert_true(fabs(json_number_value(json_object_get(x, "precision")) - 2.0 / 3) < 1e-9);
    }
    assert_true(found);
    t_free(&r);
    /* exported for training */
    r = t_req("GET", "/v1/labels?format=csv", NULL, NULL, s_analyst, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "id,label\n"));
    assert_non_null(strstr(r.body, "big0,1\n"));
    assert_non_null(strstr(r.body, "big2,0\n"));
    t_free(&r);
}

/* The anomalies above raised alerts (the channel is down): the API and
 * vigilctl list them, pending with the error; a pending one cannot be
 * retried; analysts read, only admins retry. */
static void test_alerts(void **state)
{
    (void) state;
    t_resp_t r = {0};
    for (int i = 0; i < 100; i++, usleep(100000)) {
        t_free(&r);
        r = t_req("GET", "/v1/alerts", NULL, NULL, s_analyst, NULL);
        if (r.status == 200 && json_array_size(json_object_get(r.json, "alerts")) >= 3) break;
    }
    assert_int_equal(r.status, 200);
    json_t *list = json_object_get(r.json, "alerts");
    assert_true(json_array_size(list) >= 3);
    json_t *first = json_array_get(list, 0);
    char id[32];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(first, "id")));
    assert_non_null(strstr(json_string_value(json_object_get(first, "reason")), "rule:huge"));
    t_free(&r);
    char path[80];
    snprintf(path, sizeof path, "/v1/alerts/%s/retry", id);
    assert_int_equal(t_status("POST", path, "", s_analyst), 403);
    r = t_req("POST", path, "", NULL, s_admin, NULL);
    assert_int_equal(r.status, 400); /* pending, not dead */
    t_free(&r);
    assert_int_equal(t_status("GET", "/v1/alerts/channels", NULL, s_analyst), 200);
    const char *args[] = {"--node", s_listen, "alerts", NULL};
    char out[8192], log[300];
    snprintf(log, sizeof log, "%s/vigilctl.out", s_dash);
    assert_int_equal(e2e_run("vigilctl", args, log, out, sizeof out), 0);
    assert_non_null(strstr(out, "pending"));
    assert_non_null(strstr(out, "rule:huge"));
    assert_non_null(strstr(out, id));
}

/* The OpenAPI document covers every route, and every operation answers
 * with a status it documents. */
static void test_openapi_walk(void **state)
{
    (void) state;
    t_resp_t doc = t_req("GET", "/v1/openapi.json", NULL, NULL, NULL, NULL);
    assert_int_equal(doc.status, 200);
    json_t *paths = json_object_get(doc.json, "paths");
    assert_true(json_object_size(paths) >= 20);
    /* every route prefix of the server is documented */
    const char *prefixes[64];
    size_t n = vg_api_route_prefixes(prefixes, 64);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(prefixes[i], "/") || !strcmp(prefixes[i], "/v1")) continue;
        bool seen = false;
        const char *p;
        json_t *v;
        json_object_foreach(paths, p, v) seen =
            seen || strncmp(p, prefixes[i], strlen(prefixes[i])) == 0;
        if (!seen) fail_msg("route %s is not in /v1/openapi.json", prefixes[i]);
    }
    const char *path;
    json_t *item;
    int calls = 0;
    json_object_foreach(paths, path, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op)
        {
            char url[512] = "", up[16];
            /* path parameters and required query parameters from their examples */
            const char *s = path;
            while (*s) {
                if (*s == '{') {
                    const char *e = strchr(s, '}');
                    char name[64];
                    snprintf(name, sizeof name, "%.*s", (int) (e - s - 1), s + 1);
                    const char *ex = "x";
                    json_t *prm;
                    size_t k;
                    json_array_foreach(
                        json_object_get(op, "parameters"), k,
                        prm) if (!strcmp(json_string_value(json_object_get(prm, "name")), name))
                        ex = json_string_value(json_object_get(prm, "example"));
                    strcat(url, ex);
                    s = e + 1;
                } else {
                    strncat(url, s, 1);
                    s++;
                }
            }
            json_t *prm;
            size_t k;
            bool first = true;
            json_array_foreach(json_object_get(op, "parameters"), k, prm)
            {
                if (strcmp(json_string_value(json_object_get(prm, "in")), "query") ||
                    !json_is_true(json_object_get(prm, "required")))
                    continue;
                json_t *ex = json_object_get(prm, "example");
                char val[64];
                if (json_is_integer(ex))
                    snprintf(val, sizeof val, "%lld", (long long) json_integer_value(ex));
                else
                    snprintf(val, sizeof val, "%s", json_string_value(ex));
                snprintf(url + strlen(url), sizeof url - strlen(url), "%c%s=%s", first ? '?' : '&',
                         json_string_value(json_object_get(prm, "name")), val);
                first = false;
            }
            for (size_t i = 0; method[i] && i < sizeof up - 1; i++) up[i] = (char) (method[i] - 32);
            up[strlen(method) < sizeof up ? strlen(method) : sizeof up - 1] = 0;
            json_t *content = json_object_get(json_object_get(op, "requestBody"), "content");
            const char *ct = json_object_get(content, "application/json") ? "application/json"
                             : json_object_get(content, "text/plain")     ? "text/plain"
                                                                      : "application/octet-stream";
            t_resp_t r = t_req(up, url, content ? "{}" : NULL, ct, s_admin, NULL);
            char code[8];
            snprintf(code, sizeof code, "%ld", r.status);
            if (!json_object_get(json_object_get(op, "responses"), code))
                fail_msg("%s %s answered %ld, which the document does not list: %s", up, url,
                         r.status, r.body);
            if (r.status >= 400 && r.status != 405 && !t_err_code(&r))
                fail_msg("%s %s: an error without the error shape: %s", up, url, r.body);
            t_free(&r);
            calls++;
        }
    }
    assert_true(calls >= 30);
    t_free(&doc);
}

/* POST /v1/auth/password: a user changes their own password; every
 * refusal names its field and changes nothing. */
static void test_change_password(void **state)
{
    (void) state;
    t_resp_t r = t_req("POST", "/v1/users",
                       "{\"name\":\"carol\",\"password\":\"first-pass-1\",\"role\":\"analyst\"}",
                       NULL, s_admin, NULL);
    assert_int_equal(r.status, 201);
    t_free(&r);
    static const struct {
        const char *body, *field;
        long status;
    } bad[] = {
        {"{\"username\":\"carol\",\"password\":\"first-pass-1\"}", "new_password", 400},
        {"{\"username\":\"carol\",\"new_password\":\"second-pass-2\"}", "password", 400},
        {"{\"username\":\"carol\",\"password\":\"first-pass-1\",\"new_password\":\"short\"}",
         "new_password", 400},
        {"{\"username\":\"carol\",\"password\":\"first-pass-1\",\"new_password\":"
         "\"first-pass-1\"}",
         "new_password", 400},
        {"{\"username\":\"carol\",\"password\":\"wrong-pass-0\",\"new_password\":"
         "\"second-pass-2\"}",
         NULL, 401},
        {"{\"username\":\"nobody\",\"password\":\"first-pass-1\",\"new_password\":"
         "\"second-pass-2\"}",
         NULL, 401},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = t_req("POST", "/v1/auth/password", bad[i].body, NULL, NULL, NULL);
        if (r.status != bad[i].status) fail_msg("%s: %ld %s", bad[i].body, r.status, r.body);
        if (bad[i].field)
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(r.json, "error"), "field")),
                bad[i].field);
        t_free(&r);
    }
    char tok[1024];
    login("carol", "first-pass-1", tok, sizeof tok); /* unchanged so far */
    r = t_req("POST", "/v1/auth/password",
              "{\"username\":\"carol\",\"password\":\"first-pass-1\",\"new_password\":"
              "\"second-pass-2\"}",
              NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "password changed");
    t_free(&r);
    assert_int_equal(t_status("POST", "/v1/auth/token",
                              "{\"username\":\"carol\",\"password\":\"first-pass-1\"}", NULL),
                     401);
    login("carol", "second-pass-2", tok, sizeof tok);
    /* the role is kept: analyst reads, cannot administer */
    assert_int_equal(t_status("GET", "/v1/anomalies", NULL, tok), 200);
    assert_int_equal(t_status("GET", "/v1/users", NULL, tok), 403);
    assert_int_equal(t_status("GET", "/v1/auth/password", NULL, NULL), 405);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_and_roles),
        cmocka_unit_test(test_bad_tokens),
        cmocka_unit_test(test_revoked_key),
        cmocka_unit_test(test_role_escalation),
        cmocka_unit_test(test_static_files),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_labels_precision),
        cmocka_unit_test(test_alerts),
        cmocka_unit_test(test_openapi_walk),
        cmocka_unit_test(test_change_password),
        cmocka_unit_test(test_rate_limit),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
