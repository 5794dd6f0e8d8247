/* vg_api_admin.c: the REST endpoints that go through the cluster's
 * control channel (vg_admin): POST /v1/auth/token, users, API keys,
 * /v1/cluster, analyst labels and the precision they measure, and the
 * rules / models administration that mirrors vigilctl. Labels live in the
 * replicated key-value table VG_KV_LABELS (anomaly id -> label record),
 * cached here and reloaded when the table's generation changes. */
#include "vg_api_internal.h"

#include "vg_cstate.h"
#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"
#include "vg_tx.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SMALL_BODY (64 * 1024)
#define S_NOTE_MAX   2000

/* ---- helpers ---------------------------------------------------------------------- */

/* The path below prefix ("/v1/users/bob" -> "bob"), "" when none. */
static const char *s_rest(vg_http_conn_t *c, const char *prefix)
{
    const char *p = vg_http_path(c);
    size_t n = strlen(prefix);
    if (strncmp(p, prefix, n) != 0) return "";
    p += n;
    return *p == '/' ? p + 1 : p;
}

static bool s_need_admin_channel(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    if (api->cfg.admin) return true;
    vg__api_error(c, t, VG_ERR_UNREACHABLE, NULL, "no cluster control channel on this gateway");
    return false;
}

/* Answers an admin call's failure; true when it failed. */
static bool s_admin_failed(vg_http_conn_t *c, vg__api_thread_t *t, int rc,
                           const vg_admin_answer_t *ans, const char *what)
{
    if (!rc) rc = ans->code;
    if (!rc) return false;
    if (rc == VG_ERR_TIMEOUT || rc == VG_ERR_NOT_OWNER) rc = VG_ERR_UNREACHABLE;
    vg__api_error(c, t, rc, NULL, "%s: %s", what, ans->message[0] ? ans->message : vg_strerror(rc));
    return true;
}

/* Passes an admin answer's JSON through as the reply. */
static void s_admin_json(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t, const char *cmd,
                         uint32_t arg, int status)
{
    vg_admin_answer_t ans;
    int rc = vg_admin_call(api->cfg.admin, cmd, arg, NULL, &ans);
    if (!s_admin_failed(c, t, rc, &ans, cmd))
        vg__api_send(c, t, status, "application/json", ans.json ? ans.json : "{}",
                     ans.json ? ans.json_len : 2, NULL);
    vg_admin_answer_fini(&ans);
}

static const char *s_jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- POST /v1/auth/token ------------------------------------------------------------- */

/* Answers a failed vg_auth_login (429 with Retry-After, 401, or 503);
 * false when rc is 0. */
static bool s_login_refused(vg_http_conn_t *c, vg__api_thread_t *t, int rc, int retry)
{
    if (rc == VG_ERR_RATE_LIMITED)
        vg__api_retry_later(c, t, retry, "too many login attempts for this name: retry later");
    else if (rc)
        vg__api_error(c, t, rc == VG_ERR_AUTH ? rc : VG_ERR_UNREACHABLE, NULL, "%s",
                      rc == VG_ERR_AUTH ? "invalid credentials" : vg_strerror(rc));
    return rc != 0;
}

/* POST /v1/auth/password {"username","password","new_password"}: a user
 * changes their own password, proving the current one (login-throttled
 * like /v1/auth/token, so no token is needed: an expired password can
 * still be changed). Tokens issued before stay valid until they expire. */
static void s_auth_password(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t, json_t *b)
{
    const char *user = s_jstr(b, "username"), *pass = s_jstr(b, "password");
    const char *next = s_jstr(b, "new_password");
    const char *missing = !user ? "username" : !pass ? "password" : !next ? "new_password" : NULL;
    if (missing) {
        vg__api_error(c, t, VG_ERR_INVALID, missing,
                      "username, password and new_password are required");
        return;
    }
    if (strlen(next) < VG_AUTH_PASS_MIN || strlen(next) > VG_AUTH_PASS_MAX) { /* before the login */
        vg__api_error(c, t, VG_ERR_INVALID, "new_password", "new_password: %d to %d characters",
                      VG_AUTH_PASS_MIN, VG_AUTH_PASS_MAX);
        return;
    }
    if (strcmp(next, pass) == 0) {
        vg__api_error(c, t, VG_ERR_INVALID, "new_password",
                      "new_password: must differ from the current password");
        return;
    }
    char token[1024], why[300] = "";
    int expires = 0, retry = 1;
    int rc = vg_auth_login(api->cfg.auth, user, pass, NULL, token, sizeof token, &expires, &retry);
    sodium_memzero(token, sizeof token);
    if (s_login_refused(c, t, rc, retry)) return;
    rc = vg_auth_user_put(api->cfg.auth, user, 0, next, -1, false, why, sizeof why);
    if (rc) {
        vg__api_error(c, t, rc, "new_password", "%s", why);
        return;
    }
    vg_info("api", "user %s changed their password", user);
    vg_jw_obj_begin(&t->jw);
    vg_jw_kcstr(&t->jw, "name", user);
    vg_jw_kcstr(&t->jw, "status", "password changed");
    vg_jw_obj_end(&t->jw);
    vg__api_send(c, t, 200, "application/json", t->jw.buf, t->jw.len,
                 "Cache-Control: no-store\r\n");
}

void vg__api_auth(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    const char *what = s_rest(c, "/v1/auth");
    bool password = strcmp(what, "password") == 0;
    if (!password && strcmp(what, "token") != 0) {
        vg__api_error(c, t, VG_ERR_NOT_FOUND, NULL, "no such endpoint: %s", vg_http_path(c));
        return;
    }
    if (!vg__api_method(c, t, "POST")) return;
    if (!api->cfg.auth) {
        vg__api_error(c, t, VG_ERR_NOT_FOUND, NULL, "authentication is off on this gateway");
        return;
    }
    json_t *b = vg__api_json_body(c, t, S_SMALL_BODY);
    if (!b) return;
    if (password) {
        s_auth_password(api, c, t, b);
        json_decref(b);
        return;
    }
    const char *user = s_jstr(b, "username"), *pass = s_jstr(b, "password");
    const char *key = s_jstr(b, "api_key");
    if (!key && (!user || !pass)) {
        json_decref(b);
        vg__api_error(c, t, VG_ERR_INVALID, user ? "password" : "username",
                      "username and password (or api_key) are required");
        return;
    }
    char token[1024];
    int expires = 0, retry = 1;
    int rc = vg_auth_login(api->cfg.auth, user, pass, key, token, sizeof token, &expires, &retry);
    json_decref(b);
    if (s_login_refused(c, t, rc, retry)) return;
    vg_jw_obj_begin(&t->jw);
    vg_jw_kcstr(&t->jw, "access_token", token);
    vg_jw_kcstr(&t->jw, "token_type", "Bearer");
    vg_jw_kint(&t->jw, "expires_in", expires);
    vg_jw_obj_end(&t->jw);
    vg__api_send(c, t, 200, "application/json", t->jw.buf, t->jw.len,
                 "Cache-Control: no-store\r\n");
}

/* ---- users and API keys -------------------------------------------------------------- */

static bool s_auth_on(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    if (api->cfg.auth) return true;
    vg__api_error(c, t, VG_ERR_NOT_FOUND, NULL, "authentication is off on this gateway");
    return false;
}

/* -1 absent, 0/1, or -2 (not a boolean). */
static int s_jbool(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return !v ? -1 : json_is_boolean(v) ? json_is_true(v) : -2;
}

void vg__api_users(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    if (!s_auth_on(api, c, t)) return;
    const char *name = s_rest(c, "/v1/users");
    char why[300] = "";
    int rc;
    if (!*name) {
        if (!vg__api_method(c, t, "GET,POST")) return;
        if (strcmp(vg_http_method(c), "POST") != 0) {
            vg_auth_sync(api->cfg.auth);
            vg_jw_obj_begin(&t->jw);
            vg_jw_key(&t->jw, "users");
            vg_auth_users_json(api->cfg.auth, &t->jw);
            vg_jw_obj_end(&t->jw);
            vg__api_send_json(c, t, 200);
            return;
        }
        json_t *b = vg__api_json_body(c, t, S_SMALL_BODY);
        if (!b) return;
        const char *role = s_jstr(b, "role");
        char created[VG_AUTH_NAME_MAX + 1];
        snprintf(created, sizeof created, "%s", s_jstr(b, "name") ? s_jstr(b, "name") : "");
        char role_s[16];
        snprintf(role_s, sizeof role_s, "%s", role ? role : "");
        rc = vg_auth_user_put(api->cfg.auth, s_jstr(b, "name") ? s_jstr(b, "name") : "",
                              vg_role_parse(role), s_jstr(b, "password"), 0, true, why, sizeof why);
        json_decref(b);
        if (rc) {
            vg__api_error(c, t, rc,
                          strstr(why, "role")       ? "role"
                          : strstr(why, "password") ? "password"
                                                    : "name",
                          "%s", why);
            return;
        }
        vg_jw_obj_begin(&t->jw);
        vg_jw_kcstr(&t->jw, "name", created);
        vg_jw_kcstr(&t->jw, "role", role_s);
        vg_jw_kbool(&t->jw, "disabled", false);
        vg_jw_obj_end(&t->jw);
        vg__api_send_json(c, t, 201);
        return;
    }
    if (!vg__api_method(c, t, "PUT,PATCH,DELETE")) return;
    if (strcmp(vg_http_method(c), "DELETE") == 0) {
        if (t->who.name[0] && !t->who.is_key && strcmp(t->who.name, name) == 0) {
            vg__api_error(c, t, VG_ERR_EXISTS, "name", "you cannot delete yourself");
            return;
        }
        rc = vg_auth_user_delete(api->cfg.auth, name, why, sizeof why);
        if (rc) {
            vg__api_error(c, t, rc, "name", "%s", why);
            return;
        }
        vg__api_send(c, t, 204, "application/json", "", 0, NULL);
        return;
    }
    json_t *b = vg__api_json_body(c, t, S_SMALL_BODY);
    if (!b) return;
    const char *role = s_jstr(b, "role");
    int disabled = s_jbool(b, "disabled");
    if ((role && !vg_role_parse(role)) || disabled == -2) {
        json_decref(b);
        vg__api_error(c, t, VG_ERR_INVALID, role ? "role" : "disabled", "%s",
                      role ? "role: admin, analyst or ingest" : "disabled: true or false");
        return;
    }
    if (t->who.name[0] && !t->who.is_key && strcmp(t->who.name, name) == 0 &&
        ((role && vg_role_parse(role) != VG_ROLE_ADMIN) || disabled == 1)) {
        json_decref(b);
        vg__api_error(c, t, VG_ERR_EXISTS, "role", "you cannot demote or disable yourself");
        return;
    }
    rc = vg_auth_user_put(api->cfg.auth, name, vg_role_parse(role), s_jstr(b, "password"), disabled,
                          false, why, sizeof why);
    json_decref(b);
    if (rc) {
        vg__api_error(c, t, rc, strstr(why, "password") ? "password" : "name", "%s", why);
        return;
    }
    vg_jw_obj_begin(&t->jw);
    vg_jw_kcstr(&t->jw, "name", name);
    vg_jw_kcstr(&t->jw, "status", "updated");
    vg_jw_obj_end(&t->jw);
    vg__api_send_json(c, t, 200);
}

void vg__api_apikeys(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    if (!s_auth_on(api, c, t)) return;
    const char *id = s_rest(c, "/v1/apikeys");
    char why[300] = "";
    if (*id) {
        if (!vg__api_method(c, t, "DELETE")) return;
        int rc = vg_auth_key_revoke(api->cfg.auth, id, why, sizeof why);
        if (rc) {
            vg__api_error(c, t, rc, "id", "%s", why);
            return;
        }
        vg__api_send(c, t, 204, "application/json", "", 0, NULL);
        return;
    }
    if (!vg__api_method(c, t, "GET,POST")) return;
    if (strcmp(vg_http_method(c), "POST") != 0) {
        vg_auth_sync(api->cfg.auth);
        vg_jw_obj_begin(&t->jw);
        vg_jw_key(&t->jw, "api_keys");
        vg_auth_keys_json(api->cfg.auth, &t->jw);
        vg_jw_obj_end(&t->jw);
        vg__api_send_json(c, t, 200);
        return;
    }
    json_t *b = vg__api_json_body(c, t, S_SMALL_BODY);
    if (!b) return;
    char role[16];
    snprintf(role, sizeof role, "%s", s_jstr(b, "role") ? s_jstr(b, "role") : "ingest");
    char kid[16], key[128];
    int rc = vg_auth_key_create(api->cfg.auth, s_jstr(b, "name"), vg_role_parse(role), kid, key,
                                sizeof key, why, sizeof why);
    json_decref(b);
    if (rc) {
        vg__api_error(c, t, rc, strstr(why, "role") ? "role" : "name", "%s", why);
        return;
    }
    vg_jw_obj_begin(&t->jw);
    vg_jw_kcstr(&t->jw, "id", kid);
    vg_jw_kcstr(&t->jw, "key", key);
    vg_jw_kcstr(&t->jw, "role", role);
    vg_jw_kcstr(&t->jw, "note", "the key is shown only now: store it");
    vg_jw_obj_end(&t->jw);
    vg__api_send(c, t, 201, "application/json", t->jw.buf, t->jw.len,
                 "Cache-Control: no-store\r\n");
}

/* ---- GET /v1/cluster ------------------------------------------------------------------ */

void vg__api_cluster(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    if (!vg__api_method(c, t, "GET")) return;
    if (!s_need_admin_channel(api, c, t)) return;
    vg_admin_answer_t ans;
    int rc = vg_admin_call(api->cfg.admin, "status", 0, NULL, &ans);
    if (s_admin_failed(c, t, rc, &ans, "cluster status")) {
        vg_admin_answer_fini(&ans);
        return;
    }
    json_t *st = json_loadb(ans.json ? ans.json : "{}", ans.json ? ans.json_len : 2, 0, NULL);
    vg_admin_answer_fini(&ans);
    if (!st) st = json_object();
    double up = (double) (vg_now_ns() - api->started_ns) / 1e9;
    json_t *gw = json_object();
    json_object_set_new(gw, "uptime_s", json_real(up));
    json_object_set_new(gw, "transactions_accepted",
                        json_integer((json_int_t) vg_counter_get(&api->m_tx_accepted)));
    json_object_set_new(gw, "transactions_rejected",
                        json_integer((json_int_t) vg_counter_get(&api->m_tx_rejected)));
    json_object_set_new(gw, "tx_per_s",
                        json_real(up > 0 ? (double) vg_counter_get(&api->m_tx_accepted) / up : 0));
    json_object_set_new(
        gw, "ingest_p99_ms",
        json_real(vg_hist_quantile(&api->m_latency[VG__R_TRANSACTIONS], 0.99) * 1e3));
    json_object_set_new(st, "gateway", gw);
    if (api->be.cluster_extra) {
        vg_jw_t w;
        vg_jw_init(&w);
        api->be.cluster_extra(api->be.ctx, &w);
        json_t *x = w.len ? json_loadb(w.buf, w.len, 0, NULL) : NULL;
        if (json_is_object(x)) json_object_update(st, x);
        json_decref(x);
        vg_jw_fini(&w);
    }
    char *text = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    vg__api_send(c, t, 200, "application/json", text, strlen(text), NULL);
    free(text);
}

/* ---- labels ----------------------------------------------------------------------------- */

/* One label, parsed once when the table is loaded. */
typedef struct {
    char *id;
    char *record; /* the stored JSON text (GET /v1/labels) */
    json_t *rec;  /* the same, parsed (read only: precision, filters) */
    char *shown;  /* {"label","note","by","at"}: what an anomaly carries */
} s_label_t;

struct vg__api_labels {
    pthread_rwlock_t lock;
    pthread_mutex_t load_mu;
    s_label_t *v; /* by id, bytewise */
    size_t n;
    int64_t gen;              /* of the table loaded; -1 none */
    _Atomic uint64_t checked; /* ns of the last generation check */
};

vg__api_labels_t *vg__api_labels_new(void)
{
    vg__api_labels_t *l = VG_NEW(vg__api_labels_t);
    pthread_rwlock_init(&l->lock, NULL);
    pthread_mutex_init(&l->load_mu, NULL);
    l->gen = -1;
    return l;
}

static void s_labels_clear(s_label_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vg_free(v[i].id), vg_free(v[i].record), vg_free(v[i].shown);
        json_decref(v[i].rec);
    }
    vg_free(v);
}

/* A label from its key and stored text; false when the text is not a
 * label record. */
static bool s_label_make(const char *id, const char *text, s_label_t *out)
{
    json_t *r = json_loads(text, 0, NULL);
    if (!json_is_object(r) || !s_jstr(r, "label")) {
        json_decref(r);
        return false;
    }
    vg_jw_t w;
    vg_jw_init(&w);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "label", s_jstr(r, "label"));
    vg_jw_kcstr(&w, "note", s_jstr(r, "note"));
    vg_jw_kcstr(&w, "by", s_jstr(r, "by"));
    vg_jw_key(&w, "at");
    vg_jw_ts(&w, json_integer_value(json_object_get(r, "at")));
    vg_jw_obj_end(&w);
    *out = (s_label_t){vg_strdup(id), vg_strdup(text), r, vg_strndup(w.buf, w.len)};
    vg_jw_fini(&w);
    return true;
}

void vg__api_labels_free(vg__api_labels_t **l_p)
{
    vg__api_labels_t *l = l_p ? *l_p : NULL;
    if (!l) return;
    s_labels_clear(l->v, l->n);
    pthread_rwlock_destroy(&l->lock);
    pthread_mutex_destroy(&l->load_mu);
    vg_free(l);
    *l_p = NULL;
}

static int s_label_cmp(const void *a, const void *b)
{
    return strcmp(((const s_label_t *) a)->id, ((const s_label_t *) b)->id);
}

typedef struct {
    s_label_t *v;
    size_t n;
} s_labels_load_t;

static void s_label_add(void *ctx, const char *key, const char *text, size_t len)
{
    (void) len;
    s_labels_load_t *ld = ctx;
    ld->v = vg_realloc(ld->v, (ld->n + 1) * sizeof *ld->v);
    ld->n += s_label_make(key, text, &ld->v[ld->n]);
}

/* Reloads the labels when their generation changed (checked at most
 * every 500 ms unless force). */
static void s_labels_refresh(vg_api_t *api, bool force)
{
    vg__api_labels_t *l = api->labels;
    if (!l || !api->cfg.admin) return;
    uint64_t now = vg_now_ns();
    if (!force && now - atomic_load(&l->checked) < 500000000ull) return;
    pthread_mutex_lock(&l->load_mu);
    if (!force && now - atomic_load(&l->checked) < 500000000ull) {
        pthread_mutex_unlock(&l->load_mu);
        return;
    }
    atomic_store(&l->checked, now);
    static const char *const tables[] = {"labels"};
    int64_t gen = -1;
    char why[300];
    if (vg_admin_kv_gens(api->cfg.admin, tables, &gen, 1, why, sizeof why) || gen == l->gen) {
        pthread_mutex_unlock(&l->load_mu);
        return;
    }
    s_labels_load_t ld = {0};
    bool ok = !vg_admin_kv_each(api->cfg.admin, "labels", s_label_add, &ld, why, sizeof why);
    s_label_t *v = ld.v;
    size_t n = ld.n;
    if (ok) {
        if (n) qsort(v, n, sizeof *v, s_label_cmp);
        pthread_rwlock_wrlock(&l->lock);
        s_label_t *old = l->v;
        size_t old_n = l->n;
        l->v = v, l->n = n, l->gen = gen;
        pthread_rwlock_unlock(&l->lock);
        s_labels_clear(old, old_n);
    } else {
        s_labels_clear(v, n);
    }
    pthread_mutex_unlock(&l->load_mu);
}

void vg__api_label_of(vg_api_t *api, vg_str_t id, vg_jw_t *w)
{
    vg__api_labels_t *l = api->labels;
    if (!l || !id.len || id.len > VG_TX_ID_MAX) return;
    s_labels_refresh(api, false);
    char buf[VG_TX_ID_MAX + 1];
    memcpy(buf, id.ptr, id.len);
    buf[id.len] = 0;
    s_label_t key = {.id = buf};
    pthread_rwlock_rdlock(&l->lock);
    const s_label_t *hit = l->n ? bsearch(&key, l->v, l->n, sizeof key, s_label_cmp) : NULL;
    if (hit) {
        vg_jw_key(w, "label");
        vg_jw_raw(w, hit->shown, strlen(hit->shown));
    }
    pthread_rwlock_unlock(&l->lock);
}

/* The anomaly being labelled, as a label record's facts. */
typedef struct {
    json_t *rec;
} s_label_ctx_t;

static int s_label_facts(void *arg, const vg_anomaly_rec_t *a)
{
    s_label_ctx_t *x = arg;
    json_t *r = x->rec;
    json_object_set_new(r, "anomaly_id", json_stringn(a->id.ptr, a->id.len));
    json_object_set_new(r, "user_id", json_stringn(a->user_id.ptr, a->user_id.len));
    json_object_set_new(r, "ts", json_integer(a->ts_ms));
    json_object_set_new(r, "score", json_real(a->score));
    json_object_set_new(r, "severity", json_string(vg_severity_name(a->severity)));
    json_object_set_new(r, "decision", json_string(vg_decision_name(a->decision)));
    json_t *rs = json_array();
    for (unsigned i = 0; i < a->n_reasons; i++) {
        const vg_reason_t *re = &a->reasons[i];
        json_t *o = json_object();
        json_object_set_new(o, "detector", json_stringn(re->detector.ptr, re->detector.len));
        json_object_set_new(o, "feature", json_stringn(re->feature.ptr, re->feature.len));
        if (vg_str_eq_c(re->detector, "rule"))
            json_object_set_new(o, "version", json_integer((json_int_t) re->value));
        json_array_append_new(rs, o);
    }
    json_object_set_new(r, "reasons", rs);
    return 0;
}

void vg__api_label_post(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t, const char *id)
{
    if (!s_need_admin_channel(api, c, t)) return;
    json_t *b = vg__api_json_body(c, t, S_SMALL_BODY);
    if (!b) return;
    const char *label = s_jstr(b, "label");
    json_t *note = json_object_get(b, "note");
    if (!label || (strcmp(label, "fraud") && strcmp(label, "legit") && strcmp(label, "unsure"))) {
        json_decref(b);
        vg__api_error(c, t, VG_ERR_UNPROCESSABLE, "label", "label: fraud, legit or unsure");
        return;
    }
    if (note && (!json_is_string(note) || json_string_length(note) > S_NOTE_MAX)) {
        json_decref(b);
        vg__api_error(c, t, VG_ERR_UNPROCESSABLE, "note", "note: a string of at most %d bytes",
                      S_NOTE_MAX);
        return;
    }
    s_label_ctx_t x = {json_object()};
    int rc = api->be.anomaly_get(api->be.ctx, vg_str_c(id), s_label_facts, &x);
    if (rc || !json_object_get(x.rec, "anomaly_id")) {
        json_decref(b);
        json_decref(x.rec);
        if (rc && rc != VG_ERR_NOT_FOUND)
            vg__api_error(c, t, rc, NULL, "anomaly lookup failed: %s", vg_strerror(rc));
        else
            vg__api_error(c, t, VG_ERR_NOT_FOUND, "id", "no anomaly with id '%s'", id);
        return;
    }
    json_object_set_new(x.rec, "label", json_string(label));
    json_object_set_new(x.rec, "note", json_string(note ? json_string_value(note) : ""));
    json_object_set_new(x.rec, "by", json_string(t->who.name[0] ? t->who.name : "anonymous"));
    json_object_set_new(x.rec, "at", json_integer(vg_wall_ms()));
    json_decref(b);
    char *text = json_dumps(x.rec, JSON_COMPACT);
    json_t *arg = json_pack("{s:s,s:s,s:s}", "table", "labels", "key", id, "value", text);
    char *a = json_dumps(arg, JSON_COMPACT);
    json_decref(arg);
    vg_admin_answer_t ans;
    rc = vg_admin_call(api->cfg.admin, "kv.put", 0, a, &ans);
    free(a);
    if (!s_admin_failed(c, t, rc, &ans, "storing the label")) {
        s_labels_refresh(api, true);
        vg__api_send(c, t, 200, "application/json", text, strlen(text), NULL);
    }
    vg_admin_answer_fini(&ans);
    free(text);
    json_decref(x.rec);
}

/* GET /v1/labels[?label=fraud][&format=csv]: every label; csv is the
 * `id,label` file vigil-train --labels reads (fraud 1, legit 0; unsure
 * left out). */
void vg__api_labels(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    if (!vg__api_method(c, t, "GET")) return;
    if (!s_need_admin_channel(api, c, t)) return;
    char fmt[16] = "json", want[16] = "";
    if (vg_http_param(c, "format", fmt, sizeof fmt) < -1 ||
        (strcmp(fmt, "json") && strcmp(fmt, "csv"))) {
        vg__api_error(c, t, VG_ERR_INVALID, "format", "format: json or csv");
        return;
    }
    if (vg_http_param(c, "label", want, sizeof want) < -1 ||
        (want[0] && strcmp(want, "fraud") && strcmp(want, "legit") && strcmp(want, "unsure"))) {
        vg__api_error(c, t, VG_ERR_INVALID, "label", "label: fraud, legit or unsure");
        return;
    }
    s_labels_refresh(api, true);
    vg__api_labels_t *l = api->labels;
    bool csv = strcmp(fmt, "csv") == 0;
    vg_jw_t *w = &t->jw;
    vg_mpw_t out; /* the CSV text */
    vg_mpw_init(&out);
    if (csv) {
        vg_mpw_raw(&out, "id,label\n", 9);
    } else {
        vg_jw_obj_begin(w);
        vg_jw_key(w, "labels");
        vg_jw_arr_begin(w);
    }
    pthread_rwlock_rdlock(&l->lock);
    for (size_t i = 0; i < l->n; i++) {
        const char *lab = s_jstr(l->v[i].rec, "label");
        if (!want[0] || strcmp(lab, want) == 0) {
            if (!csv) {
                vg_jw_raw(w, l->v[i].record, strlen(l->v[i].record));
            } else if (strcmp(lab, "unsure") != 0 && !strpbrk(l->v[i].id, ",\"\r\n")) {
                vg_mpw_raw(&out, l->v[i].id, strlen(l->v[i].id));
                vg_mpw_raw(&out, strcmp(lab, "fraud") == 0 ? ",1\n" : ",0\n", 3);
            }
        }
    }
    pthread_rwlock_unlock(&l->lock);
    if (csv) {
        vg__api_send(c, t, 200, "text/csv; charset=utf-8", (const char *) out.buf, out.len,
                     "Content-Disposition: attachment; filename=\"vigil-labels.csv\"\r\n");
        vg_mpw_fini(&out);
        return;
    }
    vg_mpw_fini(&out);
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
    vg__api_send_json(c, t, 200);
}

/* ---- GET /v1/stats/precision ------------------------------------------------------------- */

typedef struct {
    char key[160];
    int64_t fraud, legit, unsure;
    int64_t versions[8];
    int n_versions;
} s_tally_t;

typedef struct {
    s_tally_t *v;
    size_t n;
} s_tallies_t;

static s_tally_t *s_tally(s_tallies_t *ts, const char *key)
{
    for (size_t i = 0; i < ts->n; i++)
        if (strcmp(ts->v[i].key, key) == 0) return &ts->v[i];
    ts->v = vg_realloc(ts->v, (ts->n + 1) * sizeof *ts->v);
    s_tally_t *t = &ts->v[ts->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->key, sizeof t->key, "%s", key);
    return t;
}

static void s_count(s_tally_t *t, const char *label)
{
    if (strcmp(label, "fraud") == 0)
        t->fraud++;
    else if (strcmp(label, "legit") == 0)
        t->legit++;
    else
        t->unsure++;
}

static void s_tally_json(vg_jw_t *w, const char *keyname, const s_tally_t *t)
{
    vg_jw_obj_begin(w);
    if (keyname) vg_jw_kcstr(w, keyname, t->key);
    if (t->n_versions) {
        vg_jw_key(w, "versions");
        vg_jw_arr_begin(w);
        for (int i = 0; i < t->n_versions; i++) vg_jw_int(w, t->versions[i]);
        vg_jw_arr_end(w);
    }
    vg_jw_kint(w, "labelled", t->fraud + t->legit + t->unsure);
    vg_jw_kint(w, "fraud", t->fraud);
    vg_jw_kint(w, "legit", t->legit);
    vg_jw_kint(w, "unsure", t->unsure);
    vg_jw_key(w, "precision");
    if (t->fraud + t->legit)
        vg_jw_num(w, (double) t->fraud / (double) (t->fraud + t->legit));
    else
        vg_jw_null(w);
    vg_jw_obj_end(w);
}

static void s_tallies_json(vg_jw_t *w, const char *key, const char *keyname, s_tallies_t *ts)
{
    vg_jw_key(w, key);
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < ts->n; i++) s_tally_json(w, keyname, &ts->v[i]);
    vg_jw_arr_end(w);
    vg_free(ts->v);
}

/* One labelled anomaly counts once per rule, detector and model among
 * its reasons. */
static void s_tally_record(json_t *r, const char *lab, s_tallies_t *rules, s_tallies_t *dets,
                           s_tallies_t *models)
{
    json_t *rs = json_object_get(r, "reasons"), *re;
    size_t i;
    const char *seen[32];
    size_t n_seen = 0;
    json_array_foreach(rs, i, re)
    {
        const char *det = s_jstr(re, "detector"), *feat = s_jstr(re, "feature");
        if (!det || !feat || n_seen >= VG_ARRAY_LEN(seen) - 2) continue;
        char key[160];
        snprintf(key, sizeof key, "d:%s", det);
        bool dup = false;
        for (size_t k = 0; k < n_seen; k++) dup = dup || strcmp(seen[k], det) == 0;
        if (!dup) {
            seen[n_seen++] = det;
            s_count(s_tally(dets, det), lab);
        }
        if (strcmp(det, "rule") == 0) {
            s_tally_t *t = s_tally(rules, feat);
            s_count(t, lab);
            int64_t v = json_integer_value(json_object_get(re, "version"));
            bool have = false;
            for (int k = 0; k < t->n_versions; k++) have = have || t->versions[k] == v;
            if (!have && t->n_versions < 8) t->versions[t->n_versions++] = v;
        } else if (strcmp(det, "iforest") == 0) {
            s_count(s_tally(models, feat), lab);
        }
    }
}

void vg__api_precision(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    if (!vg__api_method(c, t, "GET")) return;
    if (!s_need_admin_channel(api, c, t)) return;
    s_labels_refresh(api, true);
    vg__api_labels_t *l = api->labels;
    s_tallies_t rules = {0}, dets = {0}, models = {0};
    s_tally_t all = {0};
    pthread_rwlock_rdlock(&l->lock);
    for (size_t i = 0; i < l->n; i++) {
        const char *lab = s_jstr(l->v[i].rec, "label");
        s_count(&all, lab);
        s_tally_record(l->v[i].rec, lab, &rules, &dets, &models);
    }
    pthread_rwlock_unlock(&l->lock);
    vg_jw_t *w = &t->jw;
    vg_jw_obj_begin(w);
    vg_jw_key(w, "overall");
    s_tally_json(w, NULL, &all);
    s_tallies_json(w, "by_rule", "rule", &rules);
    s_tallies_json(w, "by_detector", "detector", &dets);
    s_tallies_json(w, "by_model", "model", &models);
    vg_jw_kcstr(w, "definition",
                "precision = fraud / (fraud + legit) over labelled anomalies the rule, detector "
                "or model contributed to; unsure labels are not counted");
    vg_jw_obj_end(w);
    vg__api_send_json(c, t, 200);
}

/* ---- rules and models administration ------------------------------------------------------- */

/* ?version=N (1..UINT32_MAX); 0 when absent; -1 after answering 400. */
static long s_version_param(vg_http_conn_t *c, vg__api_thread_t *t, bool allow_off)
{
    char buf[24];
    int n = vg_http_param(c, "version", buf, sizeof buf);
    if (n == -1) return 0;
    if (allow_off && n == 3 && strcmp(buf, "off") == 0) return 0;
    char *end;
    long v = n > 0 ? strtol(buf, &end, 10) : -1;
    if (n <= 0 || *end || v < 1 || v > (long) UINT32_MAX) {
        vg__api_error(c, t, VG_ERR_INVALID, "version", "version: a positive integer%s",
                      allow_off ? " or off" : "");
        return -1;
    }
    return v;
}

static void s_blob_push(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t, uint32_t kind,
                        const char *name, bool activate_default)
{
    size_t len;
    if (!vg__api_raw_body(c, t, 64u << 20, &len)) return;
    if (!len) {
        vg__api_error(c, t, VG_ERR_INVALID, NULL, "the body must hold the %s",
                      kind ? "model artifact" : "rule source");
        return;
    }
    char act[8] = "";
    vg_http_param(c, "activate", act, sizeof act);
    bool activate = act[0] ? strcmp(act, "true") == 0 || strcmp(act, "1") == 0 : activate_default;
    vg_admin_answer_t ans;
    int rc = vg_admin_blob_put(api->cfg.admin, kind, name, t->body, len, activate, &ans);
    if (!rc && (ans.code == VG_ERR_INVALID || ans.code == VG_ERR_PARSE)) { /* refused content */
        json_t *e = json_loadb(ans.json ? ans.json : "{}", ans.json ? ans.json_len : 2, 0, NULL);
        vg__api_error(c, t, VG_ERR_UNPROCESSABLE, "body", "%s",
                      s_jstr(e, "error") ? s_jstr(e, "error") : ans.message);
        json_decref(e);
    } else if (!s_admin_failed(c, t, rc, &ans, kind ? "model push" : "rules push")) {
        vg__api_send(c, t, 201, "application/json", ans.json ? ans.json : "{}",
                     ans.json ? ans.json_len : 2, NULL);
    }
    vg_admin_answer_fini(&ans);
}

/* /v1/rules/versions[/{v}], POST /v1/rules (source), POST /v1/rules/lists/{name},
 * POST /v1/rules/rollback[?version=]. */
bool vg__api_rules_admin(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    const char *rest = s_rest(c, "/v1/rules");
    const char *m = vg_http_method(c);
    bool post = strcmp(m, "POST") == 0;
    if (!*rest && !post) return false; /* GET /v1/rules: statistics */
    if (!s_need_admin_channel(api, c, t)) return true;
    if (!*rest) {
        s_blob_push(api, c, t, 0, "rules", true);
    } else if (strcmp(rest, "versions") == 0) {
        if (vg__api_method(c, t, "GET")) s_admin_json(api, c, t, "rules.list", 0, 200);
    } else if (strncmp(rest, "versions/", 9) == 0) {
        char *end;
        long v = strtol(rest + 9, &end, 10);
        if (!vg__api_method(c, t, "GET")) return true;
        if (*end || v < 1 || v > (long) UINT32_MAX)
            vg__api_error(c, t, VG_ERR_NOT_FOUND, "version", "no rule set version '%s'", rest + 9);
        else
            s_admin_json(api, c, t, "rules.show", (uint32_t) v, 200);
    } else if (strncmp(rest, "lists/", 6) == 0 && rest[6]) {
        char name[80];
        if (!vg__api_method(c, t, "POST")) return true;
        if (strlen(rest + 6) > 58) {
            vg__api_error(c, t, VG_ERR_INVALID, "name", "list name too long");
            return true;
        }
        snprintf(name, sizeof name, "list.%s", rest + 6);
        s_blob_push(api, c, t, 0, name, true);
    } else if (strcmp(rest, "rollback") == 0) {
        if (!vg__api_method(c, t, "POST")) return true;
        long v = s_version_param(c, t, false);
        if (v >= 0) s_admin_json(api, c, t, "rules.rollback", (uint32_t) v, 200);
    } else {
        vg__api_error(c, t, VG_ERR_NOT_FOUND, NULL, "no such endpoint: %s", vg_http_path(c));
    }
    return true;
}

/* /v1/models/versions, POST /v1/models (artifact), POST /v1/models/activate?version=,
 * /rollback[?version=], /shadow?version=N|off. */
bool vg__api_models_admin(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    const char *rest = s_rest(c, "/v1/models");
    bool post = strcmp(vg_http_method(c), "POST") == 0;
    if (!*rest && !post) return false; /* GET /v1/models: statistics */
    if (!s_need_admin_channel(api, c, t)) return true;
    if (!*rest) {
        s_blob_push(api, c, t, 1, "model", false);
    } else if (strcmp(rest, "versions") == 0) {
        if (vg__api_method(c, t, "GET")) s_admin_json(api, c, t, "models.list", 0, 200);
    } else if (!strcmp(rest, "activate") || !strcmp(rest, "rollback") || !strcmp(rest, "shadow")) {
        if (!vg__api_method(c, t, "POST")) return true;
        bool shadow = strcmp(rest, "shadow") == 0;
        long v = s_version_param(c, t, shadow);
        if (v < 0) return true;
        if (!v && !strcmp(rest, "activate")) {
            vg__api_error(c, t, VG_ERR_INVALID, "version", "version: required");
            return true;
        }
        char cmd[32];
        snprintf(cmd, sizeof cmd, "models.%s", rest);
        s_admin_json(api, c, t, cmd, (uint32_t) v, 200);
    } else {
        vg__api_error(c, t, VG_ERR_NOT_FOUND, NULL, "no such endpoint: %s", vg_http_path(c));
    }
    return true;
}

/* ---- /v1/alerts ------------------------------------------------------------------------ */

/* Every node keeps its own alerts (each alerts on its own anomalies), so
 * a page of GET /v1/alerts merges one page per node, newest first. Its
 * next_cursor is "m1." + base64url({"c": {"<node>": position}, "b": ms}):
 * per node the cursor after the last alert the page took from it ("" when
 * none yet: from the top, "-" when that node has no more), and in "b" the
 * creation time bounding the nodes still at their top. A node that did
 * not answer keeps its position; one that appears later starts from its
 * top below "b". */
#define S_ALERT_NODES 256
#define S_ACURSOR_PFX "m1."
#define S_ACURSOR_MAX 16384

typedef struct {
    uint32_t node;
    json_t *items; /* its page, newest first */
    json_t *next;  /* its next_cursor (string or NULL) */
    size_t taken;
} s_apage_t;

typedef struct {
    s_apage_t pages[S_ALERT_NODES];
    size_t n_pages;
    json_t *nodes; /* per node: {"node", "channels"} (channels) */
    json_t *one;   /* get / retry: the first answer with code 0 */
    int answered, refused, last_code;
    char last_error[300];
} s_alerts_ctx_t;

static int s_alerts_each(void *arg, uint32_t node, int code, const char *json, size_t len)
{
    s_alerts_ctx_t *x = arg;
    json_t *o = json_loadb(json ? json : "{}", json ? len : 2, 0, NULL);
    if (code) {
        x->refused++;
        x->last_code = code;
        snprintf(x->last_error, sizeof x->last_error, "%s",
                 s_jstr(o, "error") ? s_jstr(o, "error") : vg_strerror(code));
    } else {
        x->answered++;
        if (x->n_pages < S_ALERT_NODES) {
            json_t *items = json_object_get(o, "alerts"), *next = json_object_get(o, "next_cursor");
            x->pages[x->n_pages++] =
                (s_apage_t){.node = node,
                            .items = json_is_array(items) ? json_incref(items) : json_array(),
                            .next = json_is_string(next) ? json_incref(next) : NULL};
        }
        if (!x->one) x->one = json_incref(o);
        json_t *n = json_object();
        json_object_set_new(n, "node", json_integer(node));
        json_object_set(n, "channels",
                        json_object_get(o, "channels") ? json_object_get(o, "channels") : o);
        json_array_append_new(x->nodes, n);
    }
    json_decref(o);
    return 0;
}

static void s_alerts_send(vg_http_conn_t *c, vg__api_thread_t *t, json_t *o, int status)
{
    char *text = json_dumps(o, JSON_COMPACT);
    vg__api_send(c, t, status, "application/json", text, strlen(text), NULL);
    free(text);
}

/* The merged cursor's {"c": {...}, "b": ms}, or NULL when text is not one
 * this API returned. */
static json_t *s_acursor_decode(const char *text)
{
    size_t n = strlen(text), pfx = strlen(S_ACURSOR_PFX), len = 0;
    if (n <= pfx || strncmp(text, S_ACURSOR_PFX, pfx) != 0) return NULL;
    unsigned char *raw = vg_malloc(n);
    json_t *o = NULL;
    if (sodium_base642bin(raw, n, text + pfx, n - pfx, NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0)
        o = json_loadb((const char *) raw, len, JSON_REJECT_DUPLICATES, NULL);
    vg_free(raw);
    json_t *c = json_object_get(o, "c"), *v;
    const char *k;
    bool ok = json_is_object(c) && json_is_integer(json_object_get(o, "b"));
    json_object_foreach(c, k, v) ok = ok && json_is_string(v);
    if (!ok) json_decref(o), o = NULL;
    return o;
}

static char *s_acursor_encode(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    size_t n = strlen(text), pfx = strlen(S_ACURSOR_PFX);
    size_t cap = pfx + sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = vg_malloc(cap);
    memcpy(out, S_ACURSOR_PFX, pfx);
    sodium_bin2base64(out + pfx, cap - pfx, (const unsigned char *) text, n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(text);
    return out;
}

/* True if alert x sorts before (is newer than) y: creation time, then id. */
static bool s_alert_newer(json_t *x, json_t *y)
{
    const char *a = s_jstr(x, "created"), *b = s_jstr(y, "created");
    int c = strcmp(a ? a : "", b ? b : "");
    if (c) return c > 0;
    const char *i = s_jstr(x, "id"), *j = s_jstr(y, "id");
    return strcmp(i ? i : "", j ? j : "") > 0;
}

/* The merged page: up to limit alerts newest first, taken from the heads
 * of the nodes' pages (so what a node gave is taken as a prefix), and the
 * next_cursor (NULL: nothing more anywhere). in: the request's cursor or
 * NULL. */
static json_t *s_alerts_merge(s_alerts_ctx_t *x, json_t *in, long limit, char **next)
{
    json_t *out = json_array(), *last = NULL;
    while ((long) json_array_size(out) < limit) {
        s_apage_t *best = NULL;
        for (size_t i = 0; i < x->n_pages; i++) {
            s_apage_t *p = &x->pages[i];
            if (p->taken == json_array_size(p->items)) continue;
            if (!best || s_alert_newer(json_array_get(p->items, p->taken),
                                       json_array_get(best->items, best->taken)))
                best = p;
        }
        if (!best) break;
        last = json_array_get(best->items, best->taken++);
        json_array_append(out, last);
    }
    json_t *cur = json_object(), *pos = json_object_get(in, "c");
    if (pos) json_object_update(cur, pos); /* nodes that did not answer keep theirs */
    int64_t before = in ? json_integer_value(json_object_get(in, "b")) : INT64_MAX;
    const char *created = last ? s_jstr(last, "created") : NULL;
    int64_t ms;
    if (created && vg_ts_parse_rfc3339(created, strlen(created), &ms) == 0)
        before = ms + 1; /* the nodes at their top: what was not shown, ties included */
    for (size_t i = 0; i < x->n_pages; i++) {
        s_apage_t *p = &x->pages[i];
        char key[16];
        snprintf(key, sizeof key, "%u", p->node);
        size_t n = json_array_size(p->items);
        json_t *v;
        if (p->taken == n) /* all of its page shown: on from its own next_cursor */
            v = p->next ? json_incref(p->next) : json_string("-");
        else if (p->taken) /* on after the last one shown */
            v = json_incref(json_object_get(json_array_get(p->items, p->taken - 1), "cursor"));
        else /* none shown: where it was */
            v = json_object_get(cur, key) ? json_incref(json_object_get(cur, key))
                                          : json_string("");
        if (!json_is_string(v)) json_decref(v), v = json_string(""); /* an old node: from the top */
        json_object_set_new(cur, key, v);
    }
    bool more = false;
    const char *k;
    json_t *v;
    json_object_foreach(cur, k, v) more = more || strcmp(json_string_value(v), "-") != 0;
    *next = NULL;
    if (more) {
        json_t *o = json_pack("{s:O,s:I}", "c", cur, "b", (json_int_t) before);
        *next = s_acursor_encode(o);
        json_decref(o);
    }
    json_decref(cur);
    size_t i;
    json_array_foreach(out, i, v) json_object_del(v, "cursor"); /* internal */
    return out;
}

void vg__api_alerts(vg_api_t *api, vg_http_conn_t *c, vg__api_thread_t *t)
{
    if (!api->be.admin_all) {
        vg__api_error(c, t, VG_ERR_NOT_FOUND, NULL, "alerting is not available here");
        return;
    }
    const char *rest = s_rest(c, "/v1/alerts");
    s_alerts_ctx_t *x = vg_calloc(1, sizeof *x);
    x->nodes = json_array();
    json_t *arg = json_object(), *in = NULL;
    const char *cmd;
    char id[96] = "";
    bool retry = false;
    if (!*rest) {
        if (!vg__api_method(c, t, "GET")) goto out;
        static const char *const keys[] = {"status", "channel", "user_id",
                                           "since",  "until",   "limit"};
        for (size_t i = 0; i < VG_ARRAY_LEN(keys); i++) {
            char v[200];
            if (vg_http_param(c, keys[i], v, sizeof v) >= 0)
                json_object_set_new(arg, keys[i], json_string(v));
        }
        char *cursor = vg_malloc(S_ACURSOR_MAX);
        int cn = vg_http_param(c, "cursor", cursor, S_ACURSOR_MAX);
        if (cn > 0 || cn == -2) { /* empty: the first page */
            in = cn > 0 ? s_acursor_decode(cursor) : NULL;
            if (!in) {
                vg_free(cursor);
                vg__api_error(c, t, VG_ERR_INVALID, "cursor",
                              "not a cursor of this API (pass next_cursor back as it is)");
                goto out;
            }
            json_object_set(arg, "cursors", json_object_get(in, "c"));
            json_object_set(arg, "before", json_object_get(in, "b"));
        }
        vg_free(cursor);
        json_object_set_new(arg, "merge", json_true());
        cmd = "alerts.list";
    } else if (strcmp(rest, "channels") == 0) {
        if (!vg__api_method(c, t, "GET")) goto out;
        cmd = "alerts.channels";
    } else {
        size_t n = strlen(rest);
        retry = n > 6 && strcmp(rest + n - 6, "/retry") == 0;
        if (!vg__api_method(c, t, retry ? "POST" : "GET")) goto out;
        snprintf(id, sizeof id, "%.*s", (int) (retry ? n - 6 : n), rest);
        json_object_set_new(arg, "id", json_string(id));
        cmd = retry ? "alerts.retry" : "alerts.get";
    }
    char *a = json_dumps(arg, JSON_COMPACT);
    int rc = api->be.admin_all(api->be.ctx, cmd, a, s_alerts_each, x);
    free(a);
    if (rc) {
        vg__api_error(c, t, rc == VG_ERR_TIMEOUT ? VG_ERR_UNREACHABLE : rc, NULL, "alerts: %s",
                      vg_strerror(rc));
    } else if (!x->answered) { /* every node refused: the same reason, usually */
        int code = x->last_code == VG_ERR_INVALID || x->last_code == VG_ERR_PARSE ? VG_ERR_INVALID
                                                                                  : x->last_code;
        vg__api_error(c, t, code ? code : VG_ERR_NOT_FOUND, NULL, "%s",
                      x->last_error[0] ? x->last_error : "no answer");
    } else if (!strcmp(cmd, "alerts.list")) {
        const char *ls = s_jstr(arg, "limit");
        long limit = ls ? atol(ls) : 50;
        char *next = NULL;
        json_t *out = json_object();
        json_object_set_new(out, "alerts", s_alerts_merge(x, in, limit < 1 ? 50 : limit, &next));
        json_object_set_new(out, "next_cursor", next ? json_string(next) : json_null());
        json_object_set_new(out, "nodes", json_integer(x->answered));
        vg_free(next);
        s_alerts_send(c, t, out, 200);
        json_decref(out);
    } else if (!strcmp(cmd, "alerts.channels")) {
        json_t *out = json_pack("{s:O}", "nodes", x->nodes);
        s_alerts_send(c, t, out, 200);
        json_decref(out);
    } else {
        s_alerts_send(c, t, x->one, 200);
    }
out:
    json_decref(arg);
    json_decref(in);
    for (size_t i = 0; i < x->n_pages; i++)
        json_decref(x->pages[i].items), json_decref(x->pages[i].next);
    json_decref(x->nodes);
    json_decref(x->one);
    vg_free(x);
}
