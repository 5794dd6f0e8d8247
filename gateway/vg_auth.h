/* vg_auth.h: who is calling the REST API and what they may do.
 *
 * Users (argon2id password hashes, libsodium crypto_pwhash_str) and API
 * keys (BLAKE2b of a 256-bit random secret) live in the cluster's
 * replicated key-value tables (VG_KV_USERS, VG_KV_APIKEYS), so every
 * gateway authenticates alike; a sync thread reloads them when their
 * generation changes. Bearer tokens are JWTs signed HS256 with a secret of
 * at least 256 bits (VIGIL_JWT_SECRET, else one generated once for the
 * cluster in VG_KV_SETTINGS); the algorithm is pinned: a token whose header
 * names anything but HS256 is refused. iss, aud, exp, iat and nbf are
 * checked with a small leeway, and the subject must still be an enabled
 * user (its current role applies). Verified tokens and keys are cached per
 * token, so the hot path is a keyed hash and a compare.
 *
 * Roles: admin (everything), analyst (read anomalies, stats, cluster,
 * rules, models; label anomalies), ingest (submit transactions). Each
 * principal has a token bucket (requests/s + burst); an empty bucket is
 * 429 with Retry-After.
 *
 * Record formats in the key-value tables (JSON text):
 *   users   name -> {"name","role","hash":"$argon2id$...","disabled":bool,"created":ms}
 *   apikeys id   -> {"id","name","role","hash":hex(BLAKE2b-256(secret)),"revoked":bool,
 *                    "created":ms}
 *   settings "jwt_secret" -> 64 hex digits
 * An API key is shown once as "vk_<id>_<secret>" (id: 12 hex digits). */
#ifndef VG_AUTH_H
#define VG_AUTH_H

#include "vg_admin.h"
#include "vg_jw.h"
#include "vg_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    VG_ROLE_NONE = 0,
    VG_ROLE_INGEST = 1,
    VG_ROLE_ANALYST = 2,
    VG_ROLE_ADMIN = 3
} vg_role;

const char *vg_role_name(int role); /* "admin"...; NULL when invalid */
int vg_role_parse(const char *s);   /* VG_ROLE_NONE when invalid */

#define VG_AUTH_NAME_MAX 64
#define VG_AUTH_PASS_MIN 8 /* a password's length, in bytes */
#define VG_AUTH_PASS_MAX 1024

typedef struct {
    int role;                        /* vg_role */
    char name[VG_AUTH_NAME_MAX + 1]; /* user name, or the key's id */
    bool is_key;
} vg_principal_t;

typedef struct {
    vg_admin_t *admin;      /* borrowed: the cluster (required) */
    const char *secret;     /* JWT secret (>= 32 bytes) or NULL: the cluster's */
    const char *issuer;     /* NULL = "vigil" */
    const char *audience;   /* NULL = "vigil-api" */
    int token_ttl_s;        /* 0 = 3600 */
    int leeway_s;           /* 0 = 30 */
    double rate;            /* requests/s per principal; 0 = 2000; < 0 = unlimited */
    double burst;           /* 0 = 2 x rate */
    const char *admin_pass; /* bootstrap admin's password (VIGIL_ADMIN_PASSWORD) or NULL */
    int sync_ms;            /* reload check period; 0 = 1000 */
} vg_auth_config_t;

typedef struct vg_auth vg_auth_t;

/* Checks the config (a secret shorter than 32 bytes is refused), loads
 * the tables from the cluster (waiting up to 15 s for it), creates the
 * cluster's JWT secret and the bootstrap admin when absent (a generated
 * password is logged once, loudly), and starts the sync thread. Returns 0
 * or a vg_err with errbuf set. */
int vg_auth_new(const vg_auth_config_t *cfg, vg_auth_t **out, char *errbuf, size_t errlen);
void vg_auth_destroy(vg_auth_t **a_p);

/* Authenticates a request from its Authorization header ("Bearer <JWT>"
 * or "Bearer vk_...") or X-API-Key header (either may be NULL).
 * Returns 0 with *p set, or VG_ERR_AUTH with why ("token expired",
 * "missing credentials"...). Any thread; cached. */
int vg_auth_check(vg_auth_t *a, const char *authorization, const char *api_key, vg_principal_t *p,
                  char *why, size_t cap);

/* Takes one request from p's bucket: 0, or VG_ERR_RATE_LIMITED with *retry_s the
 * seconds until a token is back (>= 1). */
int vg_auth_rate(vg_auth_t *a, const vg_principal_t *p, int *retry_s);

/* POST /v1/auth/token: a password login (username + password) or an API
 * key (key) for a JWT written into token (cap >= 1024). Returns 0,
 * VG_ERR_AUTH (wrong credentials: one message for every cause), VG_ERR_RATE_LIMITED
 * (too many attempts for that name: *retry_s) or VG_ERR_UNREACHABLE. */
int vg_auth_login(vg_auth_t *a, const char *username, const char *password, const char *key,
                  char *token, size_t cap, int *expires_in, int *retry_s);

/* Issues a token for p (tests, benchmarks). */
int vg_auth_issue(vg_auth_t *a, const char *sub, int role, int ttl_s, char *token, size_t cap);

/* ---- administration (through the cluster; 0 or a vg_err with why) ---- */

/* Creates (create) or updates a user: role (VG_ROLE_NONE = keep), password
 * (NULL = keep; >= 8 characters), disabled (-1 = keep). */
int vg_auth_user_put(vg_auth_t *a, const char *name, int role, const char *password, int disabled,
                     bool create, char *why, size_t cap);
int vg_auth_user_delete(vg_auth_t *a, const char *name, char *why, size_t cap);
/* [{"name","role","disabled","created"}...] (never the hashes). */
void vg_auth_users_json(vg_auth_t *a, vg_jw_t *w);
/* Creates an API key; key (cap >= 96) gets "vk_<id>_<secret>", shown once. */
int vg_auth_key_create(vg_auth_t *a, const char *name, int role, char *id, char *key, size_t cap,
                       char *why, size_t whycap);
int vg_auth_key_revoke(vg_auth_t *a, const char *id, char *why, size_t cap);
void vg_auth_keys_json(vg_auth_t *a, vg_jw_t *w);

/* Reloads the tables now (after a change made elsewhere); 0 or a vg_err. */
int vg_auth_sync(vg_auth_t *a);

/* An auth module without a cluster, for tests, benchmarks and fuzzing:
 * cfg->secret is required, cfg->admin is ignored, the tables start empty
 * and vg_auth_offline_user adds enabled users (no password). */
int vg_auth_new_offline(const vg_auth_config_t *cfg, vg_auth_t **out, char *errbuf, size_t errlen);
void vg_auth_offline_user(vg_auth_t *a, const char *name, int role);

/* What both gateways (vigil-gateway, vigil-node --gateway) do at start:
 * the control channel to cluster (NULL/"" = none: *admin stays NULL) and,
 * when auth is on, the auth module over it (mode "on" without a cluster
 * is refused; "auto" means on when there is a cluster). The secret comes
 * from cfg or VIGIL_JWT_SECRET; the bootstrap password from
 * VIGIL_ADMIN_PASSWORD. A warning is logged when auth ends up off. */
int vg_auth_setup(const char *cluster, const char *mode, const vg_auth_config_t *cfg,
                  vg_admin_t **admin, vg_auth_t **auth, char *errbuf, size_t errlen);

/* vigil_auth_* counters: checks by outcome, cache hits, logins, limited. */
void vg_auth_metrics(vg_auth_t *a, vg_prom_t *p);

#endif
