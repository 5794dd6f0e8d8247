/* vg_auth.c: users, API keys, HS256 JWTs, the per-token cache and the
 * per-principal token buckets (see vg_auth.h). libsodium provides every
 * primitive: argon2id, HMAC-SHA256, BLAKE2b, SipHash (the cache's keyed
 * hash), constant-time compares and the random bytes. */
#include "vg_auth.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <jansson.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_MOD         "auth"
#define S_TOKEN_MAX   1024 /* bytes of a credential we look at */
#define S_CACHE       4096 /* verified credentials remembered */
#define S_STRIPES     64
#define S_BUCKETS     8192 /* principals with a rate bucket */
#define S_KEY_ID_LEN  12
#define S_SECRET_B64  43 /* 32 bytes, base64url without padding */
#define S_MIN_SECRET  32
#define S_LOGIN_BURST 10.0
#define S_LOGIN_RATE  (1.0 / 6) /* attempts per second per name, after the burst */

const char *vg_role_name(int role)
{
    switch (role) {
    case VG_ROLE_INGEST: return "ingest";
    case VG_ROLE_ANALYST: return "analyst";
    case VG_ROLE_ADMIN: return "admin";
    default: return NULL;
    }
}

int vg_role_parse(const char *s)
{
    for (int r = VG_ROLE_INGEST; s && r <= VG_ROLE_ADMIN; r++)
        if (strcmp(s, vg_role_name(r)) == 0) return r;
    return VG_ROLE_NONE;
}

/* ---- the tables ------------------------------------------------------------ */

typedef struct {
    char name[VG_AUTH_NAME_MAX + 1];
    int role;
    bool disabled;
    char hash[crypto_pwhash_STRBYTES];
    int64_t created;
} s_user_t;

typedef struct {
    char id[S_KEY_ID_LEN + 1];
    char name[VG_AUTH_NAME_MAX + 1];
    int role;
    bool revoked;
    uint8_t hash[32];
    int64_t created;
} s_key_t;

typedef struct {
    s_user_t *users; /* by name */
    size_t n_users;
    s_key_t *keys; /* by id */
    size_t n_keys;
    int64_t gen_users, gen_keys; /* the cluster's table generations */
} s_tables_t;

typedef struct {
    uint64_t h;
    uint32_t len;
    uint64_t tables_gen;
    int64_t exp_s; /* 0: no expiry (API key) */
    vg_principal_t p;
    char tok[S_TOKEN_MAX];
} s_centry_t;

typedef struct {
    char name[VG_AUTH_NAME_MAX + 2]; /* 'u' or 'k' + name; "" = free */
    double tokens;
    uint64_t last_ns;
} s_bucket_t;

struct vg_auth {
    vg_auth_config_t cfg;
    char issuer[128], audience[128];
    uint8_t secret[256];
    size_t secret_len;
    uint8_t cache_key[crypto_shorthash_KEYBYTES];
    pthread_rwlock_t lock; /* tables */
    s_tables_t t;
    _Atomic uint64_t tables_gen; /* local reload counter: cache entries older are stale */
    s_centry_t *cache;
    pthread_mutex_t cache_mu[S_STRIPES];
    s_bucket_t *buckets, *login_buckets;
    pthread_mutex_t bucket_mu[S_STRIPES];
    sem_t hashing; /* argon2id calls at once */
    pthread_mutex_t sync_mu;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    vg_counter_t m_ok, m_denied, m_hits, m_limited, m_logins, m_login_fail;
};

static int s_user_cmp(const void *a, const void *b)
{
    return strcmp(((const s_user_t *) a)->name, ((const s_user_t *) b)->name);
}

static int s_key_cmp(const void *a, const void *b)
{
    return strcmp(((const s_key_t *) a)->id, ((const s_key_t *) b)->id);
}

static const s_user_t *s_user_find(const s_tables_t *t, const char *name)
{
    s_user_t k;
    snprintf(k.name, sizeof k.name, "%s", name);
    return t->n_users ? bsearch(&k, t->users, t->n_users, sizeof k, s_user_cmp) : NULL;
}

static const s_key_t *s_key_find(const s_tables_t *t, const char *id)
{
    s_key_t k;
    snprintf(k.id, sizeof k.id, "%s", id);
    return t->n_keys ? bsearch(&k, t->keys, t->n_keys, sizeof k, s_key_cmp) : NULL;
}

static void s_tables_free(s_tables_t *t)
{
    if (t->users) sodium_memzero(t->users, t->n_users * sizeof *t->users);
    vg_free(t->users);
    vg_free(t->keys);
    memset(t, 0, sizeof *t);
}

static bool s_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > VG_AUTH_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@'))
            return false;
    }
    return true;
}

static bool s_user_parse(const char *text, size_t len, s_user_t *u)
{
    json_t *o = json_loadb(text, len, 0, NULL);
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *hash = json_string_value(json_object_get(o, "hash"));
    int role = vg_role_parse(json_string_value(json_object_get(o, "role")));
    bool ok = name && hash && role && s_name_ok(name) && strlen(hash) < sizeof u->hash;
    if (ok) {
        memset(u, 0, sizeof *u);
        snprintf(u->name, sizeof u->name, "%s", name);
        snprintf(u->hash, sizeof u->hash, "%s", hash);
        u->role = role;
        u->disabled = json_is_true(json_object_get(o, "disabled"));
        u->created = json_integer_value(json_object_get(o, "created"));
    }
    json_decref(o);
    return ok;
}

static bool s_key_parse(const char *text, size_t len, s_key_t *k)
{
    json_t *o = json_loadb(text, len, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *hash = json_string_value(json_object_get(o, "hash"));
    int role = vg_role_parse(json_string_value(json_object_get(o, "role")));
    size_t bin_len = 0;
    bool ok = id && hash && role && strlen(id) == S_KEY_ID_LEN;
    if (ok) {
        memset(k, 0, sizeof *k);
        ok = sodium_hex2bin(k->hash, sizeof k->hash, hash, strlen(hash), NULL, &bin_len, NULL) ==
                 0 &&
             bin_len == sizeof k->hash;
        snprintf(k->id, sizeof k->id, "%s", id);
        snprintf(k->name, sizeof k->name, "%s", name ? name : "");
        k->role = role;
        k->revoked = json_is_true(json_object_get(o, "revoked"));
        k->created = json_integer_value(json_object_get(o, "created"));
    }
    json_decref(o);
    return ok;
}

/* ---- talking to the cluster -------------------------------------------------- */

/* ADMIN cmd with a JSON arg built by the caller; *out (may be NULL) gets
 * the parsed answer (json_decref it). 0 or a vg_err with why. */
static int s_call(vg_auth_t *a, const char *cmd, const char *arg, json_t **out, char *why,
                  size_t cap)
{
    vg_admin_answer_t ans;
    int rc = vg_admin_call(a->cfg.admin, cmd, 0, arg, &ans);
    if (!rc) rc = ans.code;
    if (rc) {
        snprintf(why, cap, "%s", ans.message[0] ? ans.message : vg_strerror(rc));
        if (rc == VG_ERR_TIMEOUT) rc = VG_ERR_UNREACHABLE;
    } else if (out) {
        *out = json_loadb(ans.json ? ans.json : "{}", ans.json ? ans.json_len : 2, 0, NULL);
        if (!*out) {
            snprintf(why, cap, "%s: unreadable answer", cmd);
            rc = VG_ERR_PROTO;
        }
    }
    vg_admin_answer_fini(&ans);
    return rc;
}

/* kv.* arg: {"table","key"[,"value"]}. */
static char *s_kv_arg(const char *table, const char *key, const char *value)
{
    vg_jw_t w;
    vg_jw_init(&w);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "table", table);
    if (key) vg_jw_kcstr(&w, "key", key);
    if (value) vg_jw_kcstr(&w, "value", value);
    vg_jw_obj_end(&w);
    char *s = vg_strndup(w.buf, w.len);
    vg_jw_fini(&w);
    return s;
}

static int s_kv(vg_auth_t *a, const char *op, const char *table, const char *key, const char *value,
                json_t **out, char *why, size_t cap)
{
    char *arg = s_kv_arg(table, key, value);
    int rc = s_call(a, op, arg, out, why, cap);
    vg_free(arg);
    return rc;
}

static void s_add_user(void *ctx, const char *key, const char *text, size_t len)
{
    (void) key;
    s_tables_t *t = ctx;
    s_user_t u;
    if (!s_user_parse(text, len, &u)) return;
    t->users = vg_realloc(t->users, (t->n_users + 1) * sizeof *t->users);
    t->users[t->n_users++] = u;
}

static void s_add_key(void *ctx, const char *key, const char *text, size_t len)
{
    (void) key;
    s_tables_t *t = ctx;
    s_key_t k;
    if (!s_key_parse(text, len, &k)) return;
    t->keys = vg_realloc(t->keys, (t->n_keys + 1) * sizeof *t->keys);
    t->keys[t->n_keys++] = k;
}

int vg_auth_sync(vg_auth_t *a)
{
    if (!a->cfg.admin) return 0; /* offline */
    static const char *const tables[] = {"users", "apikeys"};
    char why[512];
    int64_t gens[2] = {-1, -1}, gu, gk;
    pthread_mutex_lock(&a->sync_mu);
    int rc = vg_admin_kv_gens(a->cfg.admin, tables, gens, 2, why, sizeof why);
    gu = gens[0], gk = gens[1];
    pthread_rwlock_rdlock(&a->lock);
    bool same = !rc && gu == a->t.gen_users && gk == a->t.gen_keys;
    pthread_rwlock_unlock(&a->lock);
    if (!rc && !same) {
        s_tables_t t = {.gen_users = gu, .gen_keys = gk};
        rc = vg_admin_kv_each(a->cfg.admin, "users", s_add_user, &t, why, sizeof why);
        if (!rc) rc = vg_admin_kv_each(a->cfg.admin, "apikeys", s_add_key, &t, why, sizeof why);
        if (!rc) {
            if (t.n_users) qsort(t.users, t.n_users, sizeof *t.users, s_user_cmp);
            if (t.n_keys) qsort(t.keys, t.n_keys, sizeof *t.keys, s_key_cmp);
            pthread_rwlock_wrlock(&a->lock);
            s_tables_t old = a->t;
            a->t = t;
            atomic_fetch_add(&a->tables_gen, 1);
            pthread_rwlock_unlock(&a->lock);
            s_tables_free(&old);
        } else {
            s_tables_free(&t);
        }
    }
    pthread_mutex_unlock(&a->sync_mu);
    if (rc) vg_debug(S_MOD, "sync: %s", why);
    return rc;
}

static void *s_sync_main(void *arg)
{
    vg_auth_t *a = arg;
    while (!atomic_load(&a->stop)) {
        for (int ms = 0; ms < a->cfg.sync_ms && !atomic_load(&a->stop); ms += 20) usleep(20000);
        if (!atomic_load(&a->stop)) vg_auth_sync(a);
    }
    return NULL;
}

/* ---- secret and bootstrap ------------------------------------------------------ */

static int s_cluster_secret(vg_auth_t *a, char *why, size_t cap)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        json_t *o = NULL;
        int rc = s_kv(a, "kv.get", "settings", "jwt_secret", NULL, &o, why, cap);
        if (!rc) {
            const char *hex = json_string_value(json_object_get(o, "value"));
            size_t n = 0;
            rc = hex &&
                         sodium_hex2bin(a->secret, sizeof a->secret, hex, strlen(hex), NULL, &n,
                                        NULL) == 0 &&
                         n >= S_MIN_SECRET
                     ? 0
                     : VG_ERR_INVALID;
            json_decref(o);
            if (rc) snprintf(why, cap, "the cluster's jwt_secret setting is unusable");
            a->secret_len = n;
            return rc;
        }
        if (rc != VG_ERR_NOT_FOUND) return rc;
        uint8_t raw[32];
        char hex[65];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
        sodium_memzero(raw, sizeof raw);
        rc = s_kv(a, "kv.add", "settings", "jwt_secret", hex, NULL, why, cap);
        sodium_memzero(hex, sizeof hex);
        if (rc && rc != VG_ERR_EXISTS) return rc;
    }
    snprintf(why, cap, "could not agree on a JWT secret with the cluster");
    return VG_ERR_UNREACHABLE;
}

/* A user record's JSON text (caller frees). */
static char *s_user_record(const char *name, int role, const char *hash, bool disabled,
                           int64_t created)
{
    vg_jw_t w;
    vg_jw_init(&w);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "name", name);
    vg_jw_kcstr(&w, "role", vg_role_name(role));
    vg_jw_kcstr(&w, "hash", hash);
    vg_jw_kbool(&w, "disabled", disabled);
    vg_jw_kint(&w, "created", created);
    vg_jw_obj_end(&w);
    char *s = vg_strndup(w.buf, w.len);
    vg_jw_fini(&w);
    return s;
}

static int s_hash_password(vg_auth_t *a, const char *pw, char out[crypto_pwhash_STRBYTES])
{
    sem_wait(&a->hashing);
    int rc = crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sem_post(&a->hashing);
    return rc ? VG_ERR_INTERNAL : 0;
}

static bool s_verify_password(vg_auth_t *a, const char *hash, const char *pw)
{
    sem_wait(&a->hashing);
    bool ok = crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
    sem_post(&a->hashing);
    return ok;
}

static int s_bootstrap_admin(vg_auth_t *a, char *why, size_t cap)
{
    pthread_rwlock_rdlock(&a->lock);
    size_t n = a->t.n_users;
    pthread_rwlock_unlock(&a->lock);
    if (n) return 0;
    char pw[64];
    bool generated = !a->cfg.admin_pass || !*a->cfg.admin_pass;
    if (generated) {
        uint8_t raw[15];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2base64(pw, sizeof pw, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    } else if (strlen(a->cfg.admin_pass) < 8 || strlen(a->cfg.admin_pass) >= sizeof pw) {
        snprintf(why, cap, "VIGIL_ADMIN_PASSWORD: 8 to 63 characters");
        return VG_ERR_INVALID;
    } else {
        snprintf(pw, sizeof pw, "%s", a->cfg.admin_pass);
    }
    char hash[crypto_pwhash_STRBYTES];
    int rc = s_hash_password(a, pw, hash);
    char *rec = rc ? NULL : s_user_record("admin", VG_ROLE_ADMIN, hash, false, vg_wall_ms());
    if (!rc) rc = s_kv(a, "kv.add", "users", "admin", rec, NULL, why, cap);
    vg_free(rec);
    if (rc == VG_ERR_EXISTS)
        rc = 0; /* another gateway was first */
    else if (!rc && generated) {
        fprintf(stderr,
                "\n  ==================================================================\n"
                "  Vigil bootstrap administrator created (shown once):\n"
                "      user: admin    password: %s\n"
                "  Log in with POST /v1/auth/token; create users and API keys, then\n"
                "  change this password (PUT /v1/users/admin). Set VIGIL_ADMIN_PASSWORD\n"
                "  before the first start to choose it instead.\n"
                "  ==================================================================\n\n",
                pw);
        vg_warn(S_MOD, "bootstrap administrator 'admin' created with a generated password "
                       "(printed above, once)");
    } else if (!rc) {
        vg_info(S_MOD, "bootstrap administrator 'admin' created from VIGIL_ADMIN_PASSWORD");
    }
    sodium_memzero(pw, sizeof pw);
    return rc ? rc : vg_auth_sync(a);
}

/* ---- lifecycle ------------------------------------------------------------------ */

/* Checks cfg and makes the object (no cluster contact). */
static int s_create(const vg_auth_config_t *cfg, vg_auth_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(errbuf, errlen, "libsodium cannot start");
        return VG_ERR_IO;
    }
    if (cfg->secret && strlen(cfg->secret) < S_MIN_SECRET) {
        snprintf(errbuf, errlen,
                 "JWT secret too short: %zu bytes (at least %d: 256 bits; e.g. `openssl rand "
                 "-hex 32`)",
                 strlen(cfg->secret), S_MIN_SECRET);
        return VG_ERR_INVALID;
    }
    if (cfg->secret && strlen(cfg->secret) > sizeof((vg_auth_t *) 0)->secret) {
        snprintf(errbuf, errlen, "JWT secret too long (at most 256 bytes)");
        return VG_ERR_INVALID;
    }
    vg_auth_t *a = VG_NEW(vg_auth_t);
    a->cfg = *cfg;
    snprintf(a->issuer, sizeof a->issuer, "%s", cfg->issuer ? cfg->issuer : "vigil");
    snprintf(a->audience, sizeof a->audience, "%s", cfg->audience ? cfg->audience : "vigil-api");
    if (!a->cfg.token_ttl_s) a->cfg.token_ttl_s = 3600;
    if (!a->cfg.leeway_s) a->cfg.leeway_s = 30;
    if (a->cfg.rate == 0) a->cfg.rate = 2000;
    if (a->cfg.burst <= 0) a->cfg.burst = a->cfg.rate > 0 ? 2 * a->cfg.rate : 1;
    if (!a->cfg.sync_ms) a->cfg.sync_ms = 1000;
    randombytes_buf(a->cache_key, sizeof a->cache_key);
    pthread_rwlock_init(&a->lock, NULL);
    pthread_mutex_init(&a->sync_mu, NULL);
    for (int i = 0; i < S_STRIPES; i++) {
        pthread_mutex_init(&a->cache_mu[i], NULL);
        pthread_mutex_init(&a->bucket_mu[i], NULL);
    }
    a->cache = vg_calloc(S_CACHE, sizeof *a->cache);
    a->buckets = vg_calloc(S_BUCKETS, sizeof *a->buckets);
    a->login_buckets = vg_calloc(S_BUCKETS, sizeof *a->login_buckets);
    sem_init(&a->hashing, 0, 2);
    if (cfg->secret) {
        a->secret_len = strlen(cfg->secret);
        memcpy(a->secret, cfg->secret, a->secret_len);
    }
    *out = a;
    return 0;
}

int vg_auth_new_offline(const vg_auth_config_t *cfg, vg_auth_t **out, char *errbuf, size_t errlen)
{
    if (!cfg->secret) {
        snprintf(errbuf, errlen, "offline auth needs a secret");
        return VG_ERR_INVALID;
    }
    vg_auth_config_t c = *cfg;
    c.admin = NULL;
    return s_create(&c, out, errbuf, errlen);
}

void vg_auth_offline_user(vg_auth_t *a, const char *name, int role)
{
    s_user_t u = {.role = role};
    snprintf(u.name, sizeof u.name, "%s", name);
    pthread_rwlock_wrlock(&a->lock);
    a->t.users = vg_realloc(a->t.users, (a->t.n_users + 1) * sizeof *a->t.users);
    a->t.users[a->t.n_users++] = u;
    qsort(a->t.users, a->t.n_users, sizeof *a->t.users, s_user_cmp);
    atomic_fetch_add(&a->tables_gen, 1);
    pthread_rwlock_unlock(&a->lock);
}

int vg_auth_new(const vg_auth_config_t *cfg, vg_auth_t **out, char *errbuf, size_t errlen)
{
    vg_auth_t *a;
    int rc = s_create(cfg, &a, errbuf, errlen);
    if (rc) return rc;
    uint64_t deadline = vg_now_ns() + 15000000000ull;
    char why[512] = "";
    do { /* the cluster may still be electing its leader */
        rc = vg_auth_sync(a);
        if (!rc && !cfg->secret) rc = s_cluster_secret(a, why, sizeof why);
        if (!rc) rc = s_bootstrap_admin(a, why, sizeof why);
        if (rc == VG_ERR_INVALID) break;
        if (rc) usleep(200000);
    } while (rc && vg_now_ns() < deadline);
    if (rc) {
        snprintf(errbuf, errlen, "auth: cannot load users from the cluster: %s",
                 why[0] ? why : vg_strerror(rc));
        vg_auth_destroy(&a);
        return rc;
    }
    if (pthread_create(&a->thread, NULL, s_sync_main, a) == 0) a->thread_started = true;
    *out = a;
    return 0;
}

void vg_auth_destroy(vg_auth_t **a_p)
{
    vg_auth_t *a = a_p ? *a_p : NULL;
    if (!a) return;
    atomic_store(&a->stop, true);
    if (a->thread_started) pthread_join(a->thread, NULL);
    s_tables_free(&a->t);
    sodium_memzero(a->secret, sizeof a->secret);
    sodium_memzero(a->cache, S_CACHE * sizeof *a->cache);
    vg_free(a->cache);
    vg_free(a->buckets);
    vg_free(a->login_buckets);
    for (int i = 0; i < S_STRIPES; i++) {
        pthread_mutex_destroy(&a->cache_mu[i]);
        pthread_mutex_destroy(&a->bucket_mu[i]);
    }
    pthread_rwlock_destroy(&a->lock);
    pthread_mutex_destroy(&a->sync_mu);
    sem_destroy(&a->hashing);
    vg_free(a);
    *a_p = NULL;
}

/* ---- JWT -------------------------------------------------------------------------- */

static void s_hmac(const vg_auth_t *a, const char *msg, size_t len, uint8_t mac[32])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, a->secret, a->secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *) msg, len);
    crypto_auth_hmacsha256_final(&st, mac);
}

static size_t s_b64(char *out, size_t cap, const void *bin, size_t len)
{
    sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

/* Decodes base64url (no padding) of len chars into out; -1 when invalid. */
static long s_unb64(const char *in, size_t len, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (sodium_base642bin(out, cap, in, len, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING))
        return -1;
    return (long) n;
}

int vg_auth_issue(vg_auth_t *a, const char *sub, int role, int ttl_s, char *token, size_t cap)
{
    static const char head[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    int64_t now = vg_wall_ms() / 1000;
    uint8_t jti[12];
    char jti_hex[25];
    randombytes_buf(jti, sizeof jti);
    sodium_bin2hex(jti_hex, sizeof jti_hex, jti, sizeof jti);
    vg_jw_t w;
    vg_jw_init(&w);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "iss", a->issuer);
    vg_jw_kcstr(&w, "aud", a->audience);
    vg_jw_kcstr(&w, "sub", sub);
    vg_jw_kcstr(&w, "role", vg_role_name(role));
    if (strncmp(sub, "key:", 4) == 0) vg_jw_kcstr(&w, "knd", "key");
    vg_jw_kint(&w, "iat", now);
    vg_jw_kint(&w, "exp", now + (ttl_s > 0 ? ttl_s : a->cfg.token_ttl_s));
    vg_jw_kcstr(&w, "jti", jti_hex);
    vg_jw_obj_end(&w);
    char buf[2048];
    size_t n = s_b64(buf, sizeof buf, head, sizeof head - 1);
    buf[n++] = '.';
    if (w.len * 4 / 3 + 4 > sizeof buf - n - 64) {
        vg_jw_fini(&w);
        return VG_ERR_LIMIT;
    }
    n += s_b64(buf + n, sizeof buf - n, w.buf, w.len);
    vg_jw_fini(&w);
    uint8_t mac[32];
    s_hmac(a, buf, n, mac);
    buf[n++] = '.';
    n += s_b64(buf + n, sizeof buf - n, mac, sizeof mac);
    if (n + 1 > cap) return VG_ERR_LIMIT;
    memcpy(token, buf, n + 1);
    return 0;
}

static bool s_aud_ok(const vg_auth_t *a, json_t *aud)
{
    if (json_is_string(aud)) return strcmp(json_string_value(aud), a->audience) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), a->audience) == 0) return true;
    return false;
}

/* Verifies a JWT completely; fills p and *exp_s. */
static int s_jwt_verify(vg_auth_t *a, const char *tok, size_t len, vg_principal_t *p,
                        int64_t *exp_s, char *why, size_t cap)
{
    const char *d1 = memchr(tok, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t) (d1 + 1 - tok)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t) (d2 + 1 - tok)) || d1 == tok ||
        d2 == d1 + 1 || d2 + 1 == tok + len) {
        snprintf(why, cap, "malformed token: header.payload.signature expected");
        return VG_ERR_AUTH;
    }
    uint8_t head[512], body[1536], sig[64];
    long hn = s_unb64(tok, (size_t) (d1 - tok), head, sizeof head - 1);
    long bn = s_unb64(d1 + 1, (size_t) (d2 - d1 - 1), body, sizeof body - 1);
    long sn = s_unb64(d2 + 1, (size_t) (tok + len - d2 - 1), sig, sizeof sig);
    if (hn < 0 || bn < 0 || sn < 0) {
        snprintf(why, cap, "malformed token: bad base64url");
        return VG_ERR_AUTH;
    }
    /* the algorithm is pinned: the header must say HS256, nothing else */
    json_t *h = json_loadb((const char *) head, (size_t) hn, 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    bool alg_ok = alg && strcmp(alg, "HS256") == 0 && !json_object_get(h, "crit");
    char alg_copy[32];
    snprintf(alg_copy, sizeof alg_copy, "%s", alg ? alg : "(none)");
    json_decref(h);
    if (!alg_ok) {
        snprintf(why, cap, "token algorithm %s refused: only HS256 is accepted", alg_copy);
        return VG_ERR_AUTH;
    }
    uint8_t mac[32];
    s_hmac(a, tok, (size_t) (d2 - tok), mac);
    if (sn != 32 || sodium_memcmp(mac, sig, 32) != 0) {
        snprintf(why, cap, "token signature invalid");
        return VG_ERR_AUTH;
    }
    json_t *b = json_loadb((const char *) body, (size_t) bn, 0, NULL);
    int64_t now = vg_wall_ms() / 1000, lw = a->cfg.leeway_s;
    json_t *exp = json_object_get(b, "exp"), *iat = json_object_get(b, "iat"),
           *nbf = json_object_get(b, "nbf");
    const char *iss = json_string_value(json_object_get(b, "iss"));
    const char *sub = json_string_value(json_object_get(b, "sub"));
    const char *knd = json_string_value(json_object_get(b, "knd"));
    int rc = VG_ERR_AUTH;
    if (!json_is_object(b))
        snprintf(why, cap, "token payload is not a JSON object");
    else if (!iss || strcmp(iss, a->issuer) != 0)
        snprintf(why, cap, "token issuer (iss) not accepted");
    else if (!s_aud_ok(a, json_object_get(b, "aud")))
        snprintf(why, cap, "token audience (aud) not accepted");
    else if (!json_is_integer(exp) || !json_is_integer(iat))
        snprintf(why, cap, "token without exp/iat");
    else if (now > json_integer_value(exp) + lw)
        snprintf(why, cap, "token expired");
    else if (json_integer_value(iat) > now + lw)
        snprintf(why, cap, "token issued in the future (iat)");
    else if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now + lw))
        snprintf(why, cap, "token not yet valid (nbf)");
    else if (!sub)
        snprintf(why, cap, "token without subject");
    else
        rc = 0;
    if (!rc) {
        *exp_s = json_integer_value(exp) + lw;
        memset(p, 0, sizeof *p);
        pthread_rwlock_rdlock(&a->lock);
        if (knd && strcmp(knd, "key") == 0 && strncmp(sub, "key:", 4) == 0) {
            const s_key_t *k = s_key_find(&a->t, sub + 4);
            if (k && !k->revoked) {
                p->role = k->role, p->is_key = true;
                snprintf(p->name, sizeof p->name, "%s", k->id);
            }
        } else {
            const s_user_t *u = s_user_find(&a->t, sub);
            if (u && !u->disabled) {
                p->role = u->role;
                snprintf(p->name, sizeof p->name, "%s", u->name);
            }
        }
        pthread_rwlock_unlock(&a->lock);
        if (!p->role) {
            snprintf(why, cap, "token subject is no longer an enabled user or key");
            rc = VG_ERR_AUTH;
        }
    }
    json_decref(b);
    return rc;
}

/* "vk_<12 hex>_<43 b64url>" against the key table. */
static int s_key_verify(vg_auth_t *a, const char *tok, size_t len, vg_principal_t *p, char *why,
                        size_t cap)
{
    if (len != 3 + S_KEY_ID_LEN + 1 + S_SECRET_B64 || tok[3 + S_KEY_ID_LEN] != '_') {
        snprintf(why, cap, "malformed API key");
        return VG_ERR_AUTH;
    }
    char id[S_KEY_ID_LEN + 1];
    memcpy(id, tok + 3, S_KEY_ID_LEN);
    id[S_KEY_ID_LEN] = 0;
    uint8_t h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *) tok + 4 + S_KEY_ID_LEN, S_SECRET_B64,
                       NULL, 0);
    int rc = VG_ERR_AUTH;
    pthread_rwlock_rdlock(&a->lock);
    const s_key_t *k = s_key_find(&a->t, id);
    if (!k || sodium_memcmp(h, k->hash, sizeof h) != 0) {
        snprintf(why, cap, "unknown API key");
    } else if (k->revoked) {
        snprintf(why, cap, "API key revoked");
    } else {
        memset(p, 0, sizeof *p);
        p->role = k->role;
        p->is_key = true;
        snprintf(p->name, sizeof p->name, "%s", k->id);
        rc = 0;
    }
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

int vg_auth_check(vg_auth_t *a, const char *authorization, const char *api_key, vg_principal_t *p,
                  char *why, size_t cap)
{
    const char *tok = api_key;
    if (!tok && authorization) {
        if (strncasecmp(authorization, "Bearer ", 7) != 0) {
            vg_counter_add(&a->m_denied, 1);
            snprintf(why, cap, "Authorization: only the Bearer scheme is accepted");
            return VG_ERR_AUTH;
        }
        tok = authorization + 7;
        while (*tok == ' ') tok++;
    }
    if (!tok || !*tok) {
        vg_counter_add(&a->m_denied, 1);
        snprintf(why, cap, "missing credentials: send Authorization: Bearer <token> or X-API-Key");
        return VG_ERR_AUTH;
    }
    size_t len = strlen(tok);
    if (len >= S_TOKEN_MAX) {
        vg_counter_add(&a->m_denied, 1);
        snprintf(why, cap, "credentials too long");
        return VG_ERR_AUTH;
    }
    uint64_t h;
    crypto_shorthash((unsigned char *) &h, (const unsigned char *) tok, len, a->cache_key);
    size_t slot = (size_t) (h % S_CACHE);
    pthread_mutex_t *mu = &a->cache_mu[slot % S_STRIPES];
    uint64_t gen = atomic_load(&a->tables_gen);
    int64_t now = vg_wall_ms() / 1000;
    pthread_mutex_lock(mu);
    s_centry_t *e = &a->cache[slot];
    if (e->h == h && e->len == len && e->tables_gen == gen && (!e->exp_s || now <= e->exp_s) &&
        memcmp(e->tok, tok, len) == 0) {
        *p = e->p;
        pthread_mutex_unlock(mu);
        vg_counter_add(&a->m_hits, 1);
        vg_counter_add(&a->m_ok, 1);
        return 0;
    }
    pthread_mutex_unlock(mu);
    int64_t exp_s = 0;
    int rc = strncmp(tok, "vk_", 3) == 0 ? s_key_verify(a, tok, len, p, why, cap)
                                         : s_jwt_verify(a, tok, len, p, &exp_s, why, cap);
    if (rc) {
        vg_counter_add(&a->m_denied, 1);
        return rc;
    }
    vg_counter_add(&a->m_ok, 1);
    pthread_mutex_lock(mu);
    e->h = h;
    e->len = (uint32_t) len;
    e->tables_gen = gen;
    e->exp_s = exp_s;
    e->p = *p;
    memcpy(e->tok, tok, len);
    pthread_mutex_unlock(mu);
    return 0;
}

/* ---- token buckets ------------------------------------------------------------------- */

/* Takes one token for key from table (rate/s, burst); VG_ERR_FULL with
 * the wait when empty. A full table lets the request through. */
static int s_take(vg_auth_t *a, s_bucket_t *table, const char *key, double rate, double burst,
                  int *retry_s)
{
    uint64_t h;
    crypto_shorthash((unsigned char *) &h, (const unsigned char *) key, strlen(key), a->cache_key);
    pthread_mutex_t *mu = &a->bucket_mu[h % S_STRIPES];
    uint64_t now = vg_now_ns();
    int rc = 0;
    pthread_mutex_lock(mu);
    for (int probe = 0; probe < 8; probe++) {
        /* probes stay in the same stripe: slot = stripe + k * S_STRIPES */
        size_t slot =
            (size_t) ((h / S_STRIPES + (uint64_t) probe) % (S_BUCKETS / S_STRIPES)) * S_STRIPES +
            h % S_STRIPES;
        s_bucket_t *b = &table[slot];
        if (!b->name[0]) {
            snprintf(b->name, sizeof b->name, "%s", key);
            b->tokens = burst;
            b->last_ns = now;
        } else if (strcmp(b->name, key) != 0) {
            continue;
        }
        b->tokens += rate * (double) (now - b->last_ns) / 1e9;
        if (b->tokens > burst) b->tokens = burst;
        b->last_ns = now;
        if (b->tokens >= 1) {
            b->tokens -= 1;
        } else {
            double wait = (1 - b->tokens) / rate;
            *retry_s = wait < 1 ? 1 : (int) (wait + 0.999);
            rc = VG_ERR_RATE_LIMITED;
        }
        break;
    }
    pthread_mutex_unlock(mu);
    return rc;
}

int vg_auth_rate(vg_auth_t *a, const vg_principal_t *p, int *retry_s)
{
    if (a->cfg.rate < 0) return 0;
    char key[VG_AUTH_NAME_MAX + 2];
    snprintf(key, sizeof key, "%c%s", p->is_key ? 'k' : 'u', p->name);
    int rc = s_take(a, a->buckets, key, a->cfg.rate, a->cfg.burst, retry_s);
    if (rc) vg_counter_add(&a->m_limited, 1);
    return rc;
}

/* ---- login ------------------------------------------------------------------------------ */

int vg_auth_login(vg_auth_t *a, const char *username, const char *password, const char *key,
                  char *token, size_t cap, int *expires_in, int *retry_s)
{
    vg_counter_add(&a->m_logins, 1);
    *expires_in = a->cfg.token_ttl_s;
    char why[200];
    if (key) {
        vg_principal_t p;
        if (strncmp(key, "vk_", 3) != 0 || s_key_verify(a, key, strlen(key), &p, why, sizeof why)) {
            vg_counter_add(&a->m_login_fail, 1);
            return VG_ERR_AUTH;
        }
        char sub[VG_AUTH_NAME_MAX + 8];
        snprintf(sub, sizeof sub, "key:%s", p.name);
        return vg_auth_issue(a, sub, p.role, 0, token, cap);
    }
    if (!username || !password || strlen(username) > VG_AUTH_NAME_MAX ||
        strlen(password) > VG_AUTH_PASS_MAX) {
        vg_counter_add(&a->m_login_fail, 1);
        return VG_ERR_AUTH;
    }
    char lkey[VG_AUTH_NAME_MAX + 2];
    snprintf(lkey, sizeof lkey, "l%s", username);
    if (s_take(a, a->login_buckets, lkey, S_LOGIN_RATE, S_LOGIN_BURST, retry_s)) {
        vg_counter_add(&a->m_limited, 1);
        return VG_ERR_RATE_LIMITED;
    }
    /* the same work whether or not the user exists */
    static const char dummy[] = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
                                "RdescudvJCsgt3ub+b+dWRWJTmaaJObG2Y0XmgDJBeA";
    char hash[crypto_pwhash_STRBYTES];
    int role = 0;
    bool enabled = false;
    pthread_rwlock_rdlock(&a->lock);
    const s_user_t *u = s_user_find(&a->t, username);
    snprintf(hash, sizeof hash, "%s", u ? u->hash : dummy);
    if (u) role = u->role, enabled = !u->disabled;
    pthread_rwlock_unlock(&a->lock);
    bool ok = s_verify_password(a, hash, password) && u && enabled;
    if (!ok) {
        vg_counter_add(&a->m_login_fail, 1);
        return VG_ERR_AUTH;
    }
    return vg_auth_issue(a, username, role, 0, token, cap);
}

/* ---- administration ---------------------------------------------------------------------- */

int vg_auth_user_put(vg_auth_t *a, const char *name, int role, const char *password, int disabled,
                     bool create, char *why, size_t cap)
{
    if (!s_name_ok(name)) {
        snprintf(why, cap, "name: 1..%d characters of A-Z a-z 0-9 . _ - @", VG_AUTH_NAME_MAX);
        return VG_ERR_INVALID;
    }
    if (password && (strlen(password) < VG_AUTH_PASS_MIN || strlen(password) > VG_AUTH_PASS_MAX)) {
        snprintf(why, cap, "password: %d to %d characters", VG_AUTH_PASS_MIN, VG_AUTH_PASS_MAX);
        return VG_ERR_INVALID;
    }
    vg_auth_sync(a);
    s_user_t cur = {0};
    pthread_rwlock_rdlock(&a->lock);
    const s_user_t *u = s_user_find(&a->t, name);
    if (u) cur = *u;
    pthread_rwlock_unlock(&a->lock);
    if (create && cur.role) {
        snprintf(why, cap, "user %s exists", name);
        return VG_ERR_EXISTS;
    }
    if (!create && !cur.role) {
        snprintf(why, cap, "no user %s", name);
        return VG_ERR_NOT_FOUND;
    }
    if (create && (!role || !password)) {
        snprintf(why, cap, "%s", !role ? "role: admin, analyst or ingest" : "password: required");
        return VG_ERR_INVALID;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (password) {
        int rc = s_hash_password(a, password, hash);
        if (rc) {
            snprintf(why, cap, "password hashing failed");
            return rc;
        }
    } else {
        snprintf(hash, sizeof hash, "%s", cur.hash);
    }
    char *rec = s_user_record(name, role ? role : cur.role, hash,
                              disabled < 0 ? cur.disabled : disabled > 0,
                              create ? vg_wall_ms() : cur.created);
    int rc = s_kv(a, create ? "kv.add" : "kv.put", "users", name, rec, NULL, why, cap);
    vg_free(rec);
    sodium_memzero(&cur, sizeof cur);
    if (rc == VG_ERR_EXISTS) snprintf(why, cap, "user %s exists", name);
    if (!rc) vg_auth_sync(a);
    return rc;
}

int vg_auth_user_delete(vg_auth_t *a, const char *name, char *why, size_t cap)
{
    if (!s_name_ok(name)) {
        snprintf(why, cap, "no user %s", name);
        return VG_ERR_NOT_FOUND;
    }
    int rc = s_kv(a, "kv.del", "users", name, NULL, NULL, why, cap);
    if (rc == VG_ERR_NOT_FOUND) snprintf(why, cap, "no user %s", name);
    if (!rc) vg_auth_sync(a);
    return rc;
}

void vg_auth_users_json(vg_auth_t *a, vg_jw_t *w)
{
    pthread_rwlock_rdlock(&a->lock);
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < a->t.n_users; i++) {
        const s_user_t *u = &a->t.users[i];
        vg_jw_obj_begin(w);
        vg_jw_kcstr(w, "name", u->name);
        vg_jw_kcstr(w, "role", vg_role_name(u->role));
        vg_jw_kbool(w, "disabled", u->disabled);
        vg_jw_key(w, "created");
        vg_jw_ts(w, u->created);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    pthread_rwlock_unlock(&a->lock);
}

static char *s_key_record(const s_key_t *k)
{
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, k->hash, sizeof k->hash);
    vg_jw_t w;
    vg_jw_init(&w);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "id", k->id);
    vg_jw_kcstr(&w, "name", k->name);
    vg_jw_kcstr(&w, "role", vg_role_name(k->role));
    vg_jw_kcstr(&w, "hash", hex);
    vg_jw_kbool(&w, "revoked", k->revoked);
    vg_jw_kint(&w, "created", k->created);
    vg_jw_obj_end(&w);
    char *s = vg_strndup(w.buf, w.len);
    vg_jw_fini(&w);
    return s;
}

int vg_auth_key_create(vg_auth_t *a, const char *name, int role, char *id, char *key, size_t cap,
                       char *why, size_t whycap)
{
    if (!role) {
        snprintf(why, whycap, "role: admin, analyst or ingest");
        return VG_ERR_INVALID;
    }
    if (name && strlen(name) > VG_AUTH_NAME_MAX) {
        snprintf(why, whycap, "name: at most %d characters", VG_AUTH_NAME_MAX);
        return VG_ERR_INVALID;
    }
    uint8_t raw_id[S_KEY_ID_LEN / 2], secret[32];
    randombytes_buf(raw_id, sizeof raw_id);
    randombytes_buf(secret, sizeof secret);
    s_key_t k = {.role = role, .created = vg_wall_ms()};
    sodium_bin2hex(k.id, sizeof k.id, raw_id, sizeof raw_id);
    snprintf(k.name, sizeof k.name, "%s", name ? name : "");
    char b64[S_SECRET_B64 + 1];
    s_b64(b64, sizeof b64, secret, sizeof secret);
    sodium_memzero(secret, sizeof secret);
    crypto_generichash(k.hash, sizeof k.hash, (const unsigned char *) b64, S_SECRET_B64, NULL, 0);
    char *rec = s_key_record(&k);
    int rc = s_kv(a, "kv.add", "apikeys", k.id, rec, NULL, why, whycap);
    vg_free(rec);
    if (!rc) {
        snprintf(id, S_KEY_ID_LEN + 1, "%s", k.id);
        snprintf(key, cap, "vk_%s_%s", k.id, b64);
        vg_auth_sync(a);
    }
    sodium_memzero(b64, sizeof b64);
    return rc;
}

int vg_auth_key_revoke(vg_auth_t *a, const char *id, char *why, size_t cap)
{
    vg_auth_sync(a);
    s_key_t k = {0};
    pthread_rwlock_rdlock(&a->lock);
    const s_key_t *cur = id ? s_key_find(&a->t, id) : NULL;
    if (cur) k = *cur;
    pthread_rwlock_unlock(&a->lock);
    if (!k.role) {
        snprintf(why, cap, "no API key %s", id ? id : "");
        return VG_ERR_NOT_FOUND;
    }
    k.revoked = true;
    char *rec = s_key_record(&k);
    int rc = s_kv(a, "kv.put", "apikeys", k.id, rec, NULL, why, cap);
    vg_free(rec);
    if (!rc) vg_auth_sync(a);
    return rc;
}

void vg_auth_keys_json(vg_auth_t *a, vg_jw_t *w)
{
    pthread_rwlock_rdlock(&a->lock);
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < a->t.n_keys; i++) {
        const s_key_t *k = &a->t.keys[i];
        vg_jw_obj_begin(w);
        vg_jw_kcstr(w, "id", k->id);
        vg_jw_kcstr(w, "name", k->name);
        vg_jw_kcstr(w, "role", vg_role_name(k->role));
        vg_jw_kbool(w, "revoked", k->revoked);
        vg_jw_key(w, "created");
        vg_jw_ts(w, k->created);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    pthread_rwlock_unlock(&a->lock);
}

void vg_auth_metrics(vg_auth_t *a, vg_prom_t *p)
{
    vg_prom_header(p, "vigil_auth_checks_total", "counter", "Request authentications by outcome.");
    vg_prom_sample(p, "vigil_auth_checks_total", "outcome=\"ok\"",
                   (double) vg_counter_get(&a->m_ok));
    vg_prom_sample(p, "vigil_auth_checks_total", "outcome=\"denied\"",
                   (double) vg_counter_get(&a->m_denied));
    vg_prom_header(p, "vigil_auth_cache_hits_total", "counter",
                   "Authentications answered from the verified-token cache.");
    vg_prom_sample(p, "vigil_auth_cache_hits_total", NULL, (double) vg_counter_get(&a->m_hits));
    vg_prom_header(p, "vigil_auth_rate_limited_total", "counter",
                   "Requests and logins refused by a token bucket (429).");
    vg_prom_sample(p, "vigil_auth_rate_limited_total", NULL,
                   (double) vg_counter_get(&a->m_limited));
    vg_prom_header(p, "vigil_auth_logins_total", "counter", "POST /v1/auth/token by outcome.");
    vg_prom_sample(p, "vigil_auth_logins_total", "outcome=\"failed\"",
                   (double) vg_counter_get(&a->m_login_fail));
    vg_prom_sample(p, "vigil_auth_logins_total", "outcome=\"all\"",
                   (double) vg_counter_get(&a->m_logins));
}

int vg_auth_setup(const char *cluster, const char *mode, const vg_auth_config_t *cfg,
                  vg_admin_t **admin, vg_auth_t **auth, char *errbuf, size_t errlen)
{
    *admin = NULL;
    *auth = NULL;
    mode = mode && *mode ? mode : "auto";
    if (strcmp(mode, "on") && strcmp(mode, "off") && strcmp(mode, "auto")) {
        snprintf(errbuf, errlen, "auth: on, off or auto (got '%s')", mode);
        return VG_ERR_INVALID;
    }
    bool have_cluster = cluster && *cluster;
    if (!strcmp(mode, "on") && !have_cluster) {
        snprintf(errbuf, errlen,
                 "auth on needs the cluster's control plane to keep users: add --listen "
                 "(a one-node cluster is fine)");
        return VG_ERR_INVALID;
    }
    if (have_cluster) {
        int rc = vg_admin_new(cluster, admin, errbuf, errlen);
        if (rc) return rc;
    }
    if (!strcmp(mode, "off") || !have_cluster) {
        vg_warn(S_MOD,
                "API authentication is OFF: anyone who reaches the HTTP port may use every "
                "endpoint%s",
                have_cluster ? "" : " (no control plane to keep users: start with --listen)");
        return 0;
    }
    vg_auth_config_t c = *cfg;
    c.admin = *admin;
    const char *env_secret = getenv("VIGIL_JWT_SECRET");
    if ((!c.secret || !*c.secret) && env_secret && *env_secret) c.secret = env_secret;
    if (c.secret && !*c.secret) c.secret = NULL;
    if (!c.admin_pass) c.admin_pass = getenv("VIGIL_ADMIN_PASSWORD");
    int rc = vg_auth_new(&c, auth, errbuf, errlen);
    if (rc) vg_admin_destroy(admin);
    return rc;
}
