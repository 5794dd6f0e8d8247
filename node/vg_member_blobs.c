/* vg_member_blobs.c: rule sets and models in a cluster. Content lives in
 * every node's LMDB under its XXH3-128; raft commits the metadata (name,
 * version, hash, size) and which version is active. The leader checks a
 * pushed blob (a rule set must compile, a model must load) before it
 * commits it; every node's sync thread fetches content it lacks from the
 * leader or any member (BLOB_GET, hash checked), builds it and swaps it
 * into the engine. */
#include "vg_member_internal.h"

#include "vg_err.h"
#include "vg_hash.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_model.h"
#include "vg_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void s_models_sync(vg_member_t *mb);
static int s_put_model(vg_member_t *mb, const vg_body_blob_put_t *p, vg_jw_t *w, char *err,
                       size_t errlen);

/* ---- rule sets: push (leader), fetch, and every node's sync ------------------
 * Content lives in every node's LMDB under its XXH3-128; raft commits the
 * metadata (name, version, hash, size) and which version is active. Names:
 * "rules" (the rule set) and "list.NAME" (a named list the rules use as
 * `in list "NAME"`). A node whose committed state names content it does
 * not hold fetches it (BLOB_GET) from the leader or any member, checks the
 * hash, stores it, compiles, and swaps the engine's rule set: the old one
 * keeps scoring until the new one is compiled. */

#define S_RULES_NAME  "rules"
#define S_LIST_PREFIX "list."
#define S_MAX_LISTS   64
#define S_RULES_MS    100 /* how often a node compares its rules with the state */

typedef struct {
    char name[VG_CSTATE_NAME_MAX + 1];
    vg_cstate_blob_t blob; /* the active version */
} s_active_t;

/* The active rule set and lists as committed; latest = the highest
 * version of `name` (when set). */
typedef struct {
    s_active_t rules;
    bool has_rules;
    s_active_t lists[S_MAX_LISTS];
    size_t n_lists;
    const char *name;
    uint64_t latest;
} s_rules_q_t;

static void s_rules_read(const vg_cstate_t *st, void *arg)
{
    s_rules_q_t *q = arg;
    size_t n = vg_cstate_blob_name_count(st, VG_BLOB_RULESET);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        uint64_t active;
        size_t nv;
        if (vg_cstate_blob_name_at(st, VG_BLOB_RULESET, i, &name, &active, &nv)) continue;
        vg_cstate_blob_t b;
        if (q->name && !strcmp(name, q->name) && nv &&
            vg_cstate_blob_version_at(st, VG_BLOB_RULESET, name, nv - 1, &b) == 0)
            q->latest = b.version;
        s_active_t *a = NULL;
        if (!active) continue;
        if (!strcmp(name, S_RULES_NAME)) {
            a = &q->rules;
            q->has_rules = true;
        } else if (!strncmp(name, S_LIST_PREFIX, strlen(S_LIST_PREFIX)) &&
                   q->n_lists < S_MAX_LISTS) {
            a = &q->lists[q->n_lists++];
        } else {
            continue;
        }
        snprintf(a->name, sizeof a->name, "%s", name);
        vg_cstate_blob_get(st, VG_BLOB_RULESET, name, active, &a->blob);
    }
}

/* Asks one peer for (name, version); the content must hash to want. */
static int s_blob_ask(vg_member_t *mb, uint32_t peer, int kind, const char *name,
                      const vg_cstate_blob_t *b, void **out, size_t *len)
{
    vg_msg_t m = {
        .env = {.version = VG_PROTO_VERSION, .type = VG_MSG_BLOB_GET, .src = mb->cfg.node_id}};
    m.body.blob_get = (vg_body_blob_get_t){(uint32_t) kind, vg_str_c(name), b->version};
    vg_mpw_t body;
    vg_mpw_init(&body);
    vg_msg_body_encode(&m, &body);
    vg_transport_msg_t *raw = NULL;
    int rc = vg_transport_request(mb->tr, peer, &m.env, body.buf, body.len, 3000, &raw);
    vg_mpw_fini(&body);
    vg_msg_t r = {.env = raw ? raw->env : m.env};
    if (!rc && (raw->env.type != VG_MSG_BLOB ||
                vg_msg_body_decode(raw->body, raw->body_len, &r, NULL, NULL)))
        rc = VG_ERR_PROTO;
    if (!rc) rc = r.body.blob.code;
    if (!rc) {
        uint8_t h[VG_HASH_LEN];
        vg_hash128(r.body.blob.content.ptr, r.body.blob.content.len, h);
        if (b->hash_len != VG_HASH_LEN || memcmp(h, b->hash, VG_HASH_LEN)) rc = VG_ERR_PROTO;
    }
    if (!rc) {
        *len = r.body.blob.content.len;
        *out = vg_malloc(*len ? *len : 1);
        memcpy(*out, r.body.blob.content.ptr, *len);
    }
    vg_transport_msg_destroy(&raw);
    return rc;
}

/* The content of b: from the store, else from the leader or any member
 * (then stored). *out is vg_malloc'd. */
static int s_blob_load(vg_member_t *mb, int kind, const char *name, const vg_cstate_blob_t *b,
                       void **out, size_t *len)
{
    int rc = vg_store_blob_get(mb->cfg.store, b->hash, b->hash_len, out, len);
    if (rc != VG_ERR_NOT_FOUND) return rc;
    vg__member_tick_q_t q = {.mb = mb};
    vg_raft_read(mb->raft, vg__member_tick_read, &q);
    char addr[256];
    uint32_t leader;
    vg__member_leader_info(mb, &leader, addr, sizeof addr);
    rc = VG_ERR_NOT_FOUND;
    if (leader && leader != mb->cfg.node_id) rc = s_blob_ask(mb, leader, kind, name, b, out, len);
    for (size_t i = 0; rc && i < q.n; i++)
        if (q.ids[i] != mb->cfg.node_id && q.ids[i] != leader && q.states[i] != VG_MEMBER_DOWN &&
            q.states[i] != VG_MEMBER_REMOVED)
            rc = s_blob_ask(mb, q.ids[i], kind, name, b, out, len);
    if (!rc && vg_store_blob_put(mb->cfg.store, b->hash, b->hash_len, *out, *len))
        vg_warn(S_MOD, "%s v%llu: fetched but not stored", name, (unsigned long long) b->version);
    return rc;
}

/* Compiles rule set text against the given active lists. */
static int s_rules_compile(vg_member_t *mb, const s_rules_q_t *q, const char *src, size_t len,
                           vg_ruleset_t **out, char *err, size_t errlen)
{
    vg_rule_lists_t *lists = vg_rule_lists_new();
    vg_rules_err_t rerr;
    int rc = 0;
    for (size_t i = 0; !rc && i < q->n_lists; i++) {
        void *text;
        size_t n;
        const char *lname = q->lists[i].name + strlen(S_LIST_PREFIX);
        rc = s_blob_load(mb, VG_BLOB_RULESET, q->lists[i].name, &q->lists[i].blob, &text, &n);
        if (rc) {
            snprintf(err, errlen, "list %s v%llu: %s", lname,
                     (unsigned long long) q->lists[i].blob.version, vg_strerror(rc));
            break;
        }
        memset(&rerr, 0, sizeof rerr);
        rc = vg_rule_lists_parse(lists, lname, text, n, &rerr);
        if (rc) vg_rules_err_str(&rerr, err, errlen);
        free(text);
    }
    if (!rc) {
        memset(&rerr, 0, sizeof rerr);
        rc = vg_ruleset_compile(src, len, "rules", lists, out, &rerr);
        if (rc) vg_rules_err_str(&rerr, err, errlen);
    }
    vg_rule_lists_destroy(&lists);
    return rc;
}

/* One pass of the sync: the committed rule set in the engine. */
static void s_rules_sync(vg_member_t *mb)
{
    s_rules_q_t q = {0};
    vg_raft_read(mb->raft, s_rules_read, &q);
    char sig[256];
    size_t off = (size_t) snprintf(sig, sizeof sig, "r%llu",
                                   (unsigned long long) (q.has_rules ? q.rules.blob.version : 0));
    for (size_t i = 0; i < q.n_lists && off < sizeof sig; i++)
        off += (size_t) snprintf(sig + off, sizeof sig - off, ",%s=%llu", q.lists[i].name,
                                 (unsigned long long) q.lists[i].blob.version);
    if (!strcmp(sig, mb->rules_applied)) return;
    vg_ruleset_t *rs = NULL;
    char err[400] = "";
    int rc = 0;
    if (q.has_rules) {
        void *src = NULL;
        size_t len;
        rc = s_blob_load(mb, VG_BLOB_RULESET, S_RULES_NAME, &q.rules.blob, &src, &len);
        if (rc)
            snprintf(err, sizeof err, "its content is not available yet: %s", vg_strerror(rc));
        else
            rc = s_rules_compile(mb, &q, src, len, &rs, err, sizeof err);
        free(src);
    }
    if (rc) { /* retried next pass; the engine keeps the rule set it has */
        if (strcmp(mb->rules_error, err))
            vg_warn(S_MOD, "rule set v%llu not applied: %s",
                    (unsigned long long) q.rules.blob.version, err);
        snprintf(mb->rules_error, sizeof mb->rules_error, "%s", err);
        return;
    }
    mb->rules_error[0] = 0;
    uint64_t version = q.has_rules ? q.rules.blob.version : 0;
    size_t n_rules = rs ? vg_ruleset_count(rs) : 0;
    vg_engine_set_rules(mb->engine, &rs, version);
    snprintf(mb->rules_applied, sizeof mb->rules_applied, "%s", sig);
    vg_info(S_MOD, "rule set v%llu in use (%zu rules, %zu lists)", (unsigned long long) version,
            n_rules, q.n_lists);
}

void *vg__member_rules_main(void *arg)
{
    vg_member_t *mb = arg;
    while (!atomic_load(&mb->stopping)) {
        s_rules_sync(mb);
        s_models_sync(mb);
        usleep(S_RULES_MS * 1000);
    }
    return NULL;
}

typedef struct {
    const char *name;
    uint64_t version; /* 0 = active */
    vg_cstate_blob_t b;
    int rc;
    int kind; /* vg_cstate_blob_kind; 0 = rule set */
} s_blobq_t;

static void s_blobq_read(const vg_cstate_t *st, void *arg)
{
    s_blobq_t *q = arg;
    q->rc = vg_cstate_blob_get(st, (vg_cstate_blob_kind) q->kind, q->name, q->version, &q->b);
}

/* BLOB_GET: a version's content from this node's store. */
void vg__member_blob_get(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    vg_msg_t req = {.env = msg->env};
    vg_msg_t m = {.env = vg__member_reply_env(mb, msg, VG_MSG_BLOB)};
    m.body.blob.code = VG_ERR_NOT_FOUND;
    void *content = NULL;
    size_t len = 0;
    if (vg_msg_body_decode(msg->body, msg->body_len, &req, NULL, NULL)) {
        m.body.blob.code = VG_ERR_PARSE;
    } else if (req.body.blob_get.kind <= VG_BLOB_MODEL) {
        char name[VG_CSTATE_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int) req.body.blob_get.name.len,
                 req.body.blob_get.name.ptr);
        s_blobq_t q = {.name = name,
                       .version = req.body.blob_get.version,
                       .kind = (int) req.body.blob_get.kind};
        vg_raft_read(mb->raft, s_blobq_read, &q);
        if (!q.rc) q.rc = vg_store_blob_get(mb->cfg.store, q.b.hash, q.b.hash_len, &content, &len);
        m.body.blob.code = q.rc;
        m.body.blob.version = q.b.version;
    }
    m.body.blob.content = (vg_str_t){content ? content : "", (uint32_t) len};
    vg__member_send(mb, msg->peer, &m);
    free(content);
}

/* Leader: commits version of the stored content (hash, p's size) under
 * every one of names and, if p asks, activates names[0]; on success opens
 * the reply object in w with name, version, hash, size and active (the
 * caller adds its fields and closes it). */
static int s_commit(vg_member_t *mb, int kind, const char *const *names, size_t n_names,
                    uint64_t version, const uint8_t *hash, const vg_body_blob_put_t *p, vg_jw_t *w,
                    char *err, size_t errlen)
{
    vg_mpw_t cmd;
    vg_mpw_init(&cmd);
    vg_raft_result_t res;
    int rc = 0;
    for (size_t i = 0; i < n_names && !rc; i++) {
        vg_mpw_reset(&cmd);
        vg_cstate_cmd_put_blob(&cmd, (vg_cstate_blob_kind) kind, names[i], version, hash,
                               VG_HASH_LEN, p->content.len);
        rc = vg__member_propose(mb, &cmd, &res);
    }
    if (!rc && p->activate) {
        vg_mpw_reset(&cmd);
        vg_cstate_cmd_activate_blob(&cmd, (vg_cstate_blob_kind) kind, names[0], version);
        rc = vg__member_propose(mb, &cmd, &res);
    }
    vg_mpw_fini(&cmd);
    if (rc) {
        snprintf(err, errlen, "commit failed: %s", vg_strerror(rc));
        return rc;
    }
    char hex[2 * VG_HASH_LEN + 1];
    vg_hash_hex(hash, VG_HASH_LEN, hex);
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "name", names[0]);
    vg_jw_kint(w, "version", (int64_t) version);
    vg_jw_kcstr(w, "hash", hex);
    vg_jw_kint(w, "size", (int64_t) p->content.len);
    vg_jw_kbool(w, "active", p->activate != 0);
    vg_info(S_MOD, "%s v%llu committed%s", names[0], (unsigned long long) version,
            p->activate ? " and activated" : "");
    return 0;
}

/* Leader, BLOB_PUT: checks the content (a rule set must compile against the
 * active lists; a list must parse, and the active rule set must still
 * compile with it), stores it, commits the next version and, if asked,
 * activates it. */
static int s_put_rules(vg_member_t *mb, const vg_body_blob_put_t *p, vg_jw_t *w, char *err,
                       size_t errlen)
{
    char name[VG_CSTATE_NAME_MAX + 1];
    snprintf(name, sizeof name, "%.*s", (int) p->name.len, p->name.ptr);
    bool is_list = !strncmp(name, S_LIST_PREFIX, strlen(S_LIST_PREFIX));
    if (p->name.len > VG_CSTATE_NAME_MAX || (!is_list && strcmp(name, S_RULES_NAME))) {
        snprintf(err, errlen, "name must be \"rules\" or \"list.NAME\"");
        return VG_ERR_INVALID;
    }
    uint8_t hash[VG_HASH_LEN];
    vg_hash128(p->content.ptr, p->content.len, hash);
    int rc = vg_store_blob_put(mb->cfg.store, hash, VG_HASH_LEN, p->content.ptr, p->content.len);
    if (rc) {
        snprintf(err, errlen, "cannot store it: %s", vg_strerror(rc));
        return rc;
    }
    s_rules_q_t q = {.name = name};
    vg_raft_read(mb->raft, s_rules_read, &q);
    vg_ruleset_t *rs = NULL;
    void *src = NULL;
    size_t len = 0;
    if (!is_list) {
        rc = s_rules_compile(mb, &q, p->content.ptr, p->content.len, &rs, err, errlen);
    } else if (p->activate && q.has_rules) { /* the active rules, with this list */
        size_t i = 0;
        while (i < q.n_lists && strcmp(q.lists[i].name, name)) i++;
        if (i == q.n_lists && q.n_lists < S_MAX_LISTS) q.n_lists++;
        snprintf(q.lists[i].name, sizeof q.lists[i].name, "%s", name);
        q.lists[i].blob = (vg_cstate_blob_t){
            .version = q.latest + 1, .size = p->content.len, .hash_len = VG_HASH_LEN};
        memcpy(q.lists[i].blob.hash, hash, VG_HASH_LEN);
        rc = s_blob_load(mb, VG_BLOB_RULESET, S_RULES_NAME, &q.rules.blob, &src, &len);
        if (rc) snprintf(err, errlen, "the active rule set: %s", vg_strerror(rc));
        if (!rc) rc = s_rules_compile(mb, &q, src, len, &rs, err, errlen);
    } else { /* just parse it */
        vg_rules_err_t rerr;
        memset(&rerr, 0, sizeof rerr);
        vg_rule_lists_t *l = vg_rule_lists_new();
        rc = vg_rule_lists_parse(l, name + strlen(S_LIST_PREFIX), p->content.ptr, p->content.len,
                                 &rerr);
        if (rc) vg_rules_err_str(&rerr, err, errlen);
        vg_rule_lists_destroy(&l);
    }
    free(src);
    size_t n_rules = rs ? vg_ruleset_count(rs) : 0;
    vg_ruleset_destroy(&rs);
    if (rc) return rc;
    const char *names[1] = {name};
    rc = s_commit(mb, VG_BLOB_RULESET, names, 1, q.latest + 1, hash, p, w, err, errlen);
    if (rc) return rc;
    if (!is_list) vg_jw_kint(w, "rules", (int64_t) n_rules);
    vg_jw_obj_end(w);
    return 0;
}

void vg__member_blob_put(vg_member_t *mb, const vg_transport_msg_t *msg)
{
    vg_msg_t req = {.env = msg->env};
    vg_perr_t perr;
    vg_perr_clear(&perr);
    if (vg_msg_body_decode(msg->body, msg->body_len, &req, NULL, &perr)) {
        char text[300];
        vg__member_admin_error(mb, msg, perr.code, vg_perr_str(&perr, text, sizeof text));
        return;
    }
    if (!vg_raft_is_leader(mb->raft)) {
        vg__member_admin_error(mb, msg, VG_ERR_NOT_OWNER,
                               "not the leader: send this to the leader");
        return;
    }
    if (req.body.blob_put.kind > VG_BLOB_MODEL) {
        vg__member_admin_error(mb, msg, VG_ERR_INVALID,
                               "kind must be 0 (rule set, list) or 1 (model)");
        return;
    }
    vg_jw_t w;
    vg_jw_init(&w);
    char err[400] = "";
    pthread_mutex_lock(&mb->push_mu);
    int rc = req.body.blob_put.kind == VG_BLOB_MODEL
                 ? s_put_model(mb, &req.body.blob_put, &w, err, sizeof err)
                 : s_put_rules(mb, &req.body.blob_put, &w, err, sizeof err);
    pthread_mutex_unlock(&mb->push_mu);
    if (rc)
        vg__member_admin_error(mb, msg, rc, err[0] ? err : vg_strerror(rc));
    else
        vg__member_admin_reply(mb, msg, 0, &w);
    vg_jw_fini(&w);
}

/* ---- ADMIN rules.* --------------------------------------------------------- */

/* "versions": [{"version","size","hash"}...] of name, oldest first. */
static void s_versions_json(const vg_cstate_t *st, vg_cstate_blob_kind kind, const char *name,
                            vg_jw_t *w)
{
    vg_jw_key(w, "versions");
    vg_jw_arr_begin(w);
    vg_cstate_blob_t b;
    for (size_t k = 0; vg_cstate_blob_version_at(st, kind, name, k, &b) == 0; k++) {
        char hex[2 * VG_CSTATE_HASH_MAX + 1];
        vg_hash_hex(b.hash, b.hash_len, hex);
        vg_jw_obj_begin(w);
        vg_jw_kint(w, "version", (int64_t) b.version);
        vg_jw_kint(w, "size", (int64_t) b.size);
        vg_jw_kcstr(w, "hash", hex);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
}

/* rules.list: every version of the rule set and of each list. */
static void s_rules_list_read(const vg_cstate_t *st, void *arg)
{
    vg_jw_t *w = arg;
    size_t n = vg_cstate_blob_name_count(st, VG_BLOB_RULESET);
    vg_jw_obj_begin(w);
    vg_jw_key(w, "names");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        uint64_t active;
        size_t nv;
        if (vg_cstate_blob_name_at(st, VG_BLOB_RULESET, i, &name, &active, &nv)) continue;
        vg_jw_obj_begin(w);
        vg_jw_kcstr(w, "name", name);
        vg_jw_kint(w, "active", (int64_t) active);
        s_versions_json(st, VG_BLOB_RULESET, name, w);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
}

/* rules.stats: this node's counters for the rule set in use. */
static void s_rules_stats_fn(void *arg, const vg_ruleset_t *rs, uint64_t version)
{
    vg_jw_t *w = arg;
    vg_jw_kint(w, "version", (int64_t) version);
    vg_jw_key(w, "rules");
    vg_jw_arr_begin(w);
    for (size_t i = 0; rs && i < vg_ruleset_count(rs); i++) {
        const vg_rule_meta_t *r = vg_ruleset_rule(rs, i);
        uint64_t hits, errors;
        vg_ruleset_stats(rs, i, &hits, &errors);
        vg_jw_obj_begin(w);
        vg_jw_kcstr(w, "id", r->id);
        vg_jw_kcstr(w, "name", r->name);
        vg_jw_kcstr(w, "mode", r->shadow ? "shadow" : "active");
        vg_jw_kbool(w, "enabled", r->enabled);
        vg_jw_kcstr(w, "action", vg_rule_action_name(r->action));
        vg_jw_kcstr(w, "severity", vg_severity_name(r->severity));
        vg_jw_kint(w, "hits", (int64_t) hits);
        vg_jw_kint(w, "errors", (int64_t) errors);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
}

/* The active version of name and the highest kept one below it (0: none). */
typedef struct {
    int kind;
    const char *name;
    uint64_t active, prev;
} s_prevq_t;

static void s_prev_read(const vg_cstate_t *st, void *arg)
{
    s_prevq_t *q = arg;
    vg_cstate_blob_t b;
    vg_cstate_blob_kind kind = (vg_cstate_blob_kind) q->kind;
    q->active = vg_cstate_blob_get(st, kind, q->name, 0, &b) == 0 ? b.version : 0;
    for (size_t k = 0; vg_cstate_blob_version_at(st, kind, q->name, k, &b) == 0; k++)
        if (b.version < q->active) q->prev = b.version;
}

/* Leader: makes v (a kept version of `of`; 0 = none) the active one of
 * name. what names the kind in errors ("rule set", "model"). */
static int s_activate(vg_member_t *mb, int kind, const char *name, const char *of, uint64_t v,
                      const char *what, char *err, size_t errlen)
{
    s_blobq_t q = {.name = of, .version = v, .kind = kind};
    if (v) vg_raft_read(mb->raft, s_blobq_read, &q);
    if (v && q.rc) {
        snprintf(err, errlen, "no %s version %llu", what, (unsigned long long) v);
        return VG_ERR_NOT_FOUND;
    }
    vg_mpw_t cmd;
    vg_mpw_init(&cmd);
    vg_raft_result_t res;
    vg_cstate_cmd_activate_blob(&cmd, (vg_cstate_blob_kind) kind, name, v);
    int rc = vg__member_propose(mb, &cmd, &res);
    vg_mpw_fini(&cmd);
    if (rc) snprintf(err, errlen, "commit failed: %s", res.msg[0] ? res.msg : vg_strerror(rc));
    return rc;
}

/* rules.rollback: activates version `to`, or the one before the active
 * one (a new commit pointing at an older version). */
static int s_rollback(vg_member_t *mb, uint32_t to, uint64_t *now, char *err, size_t errlen)
{
    s_prevq_t q = {.kind = VG_BLOB_RULESET, .name = S_RULES_NAME};
    vg_raft_read(mb->raft, s_prev_read, &q);
    if (!q.active) {
        snprintf(err, errlen, "no active rule set to roll back");
        return VG_ERR_NOT_FOUND;
    }
    uint64_t target = to ? to : q.prev;
    if (!target) {
        snprintf(err, errlen, "version %llu is the oldest kept: nothing to roll back to",
                 (unsigned long long) q.active);
        return VG_ERR_NOT_FOUND;
    }
    *now = target;
    return s_activate(mb, VG_BLOB_RULESET, S_RULES_NAME, S_RULES_NAME, target, "rule set", err,
                      errlen);
}

/* Handles ADMIN rules.list / rules.show / rules.stats / rules.rollback;
 * false when cmd is none of them. arg: a version (show, rollback). */
bool vg__member_admin_rules(vg_member_t *mb, const vg_transport_msg_t *msg, vg_str_t cmd,
                            uint32_t arg, vg_jw_t *w)
{
    if (vg_str_eq_c(cmd, "rules.list")) {
        vg_raft_read(mb->raft, s_rules_list_read, w);
        vg__member_admin_reply(mb, msg, 0, w);
    } else if (vg_str_eq_c(cmd, "rules.stats")) {
        vg_jw_obj_begin(w);
        vg_jw_kint(w, "node", mb->cfg.node_id);
        vg_engine_with_rules(mb->engine, s_rules_stats_fn, w);
        vg_jw_obj_end(w);
        vg__member_admin_reply(mb, msg, 0, w);
    } else if (vg_str_eq_c(cmd, "rules.show")) {
        s_blobq_t q = {.name = S_RULES_NAME, .version = arg};
        vg_raft_read(mb->raft, s_blobq_read, &q);
        void *src = NULL;
        size_t len = 0;
        if (!q.rc) q.rc = s_blob_load(mb, VG_BLOB_RULESET, S_RULES_NAME, &q.b, &src, &len);
        if (q.rc) {
            vg__member_admin_error(mb, msg, q.rc,
                                   arg ? "no such rule set version" : "no active rule set");
        } else {
            vg_jw_obj_begin(w);
            vg_jw_kint(w, "version", (int64_t) q.b.version);
            vg_jw_key(w, "source");
            vg_jw_str(w, (vg_str_t){src, (uint32_t) len});
            vg_jw_obj_end(w);
            vg__member_admin_reply(mb, msg, 0, w);
        }
        free(src);
    } else if (vg_str_eq_c(cmd, "rules.rollback")) {
        char err[300] = "";
        uint64_t now = 0;
        int rc = vg_raft_is_leader(mb->raft) ? s_rollback(mb, arg, &now, err, sizeof err)
                                             : VG_ERR_NOT_OWNER;
        if (rc == VG_ERR_NOT_OWNER) {
            vg__member_admin_error(mb, msg, rc, "not the leader: send this to the leader");
        } else if (rc) {
            vg__member_admin_error(mb, msg, rc, err);
        } else {
            vg_jw_obj_begin(w);
            vg_jw_kint(w, "active", (int64_t) now);
            vg_jw_obj_end(w);
            vg__member_admin_reply(mb, msg, 0, w);
        }
    } else {
        return false;
    }
    return true;
}

/* ---- models: push (leader), activation, shadow, and every node's sync -------
 * Kind 1 blobs. Every pushed artifact is version N of "model" and, with the
 * same content, version N of "shadow": activating "model" N makes it score,
 * activating "shadow" N makes it the challenger (0 = none). */

#define S_MODEL_NAME  "model"
#define S_SHADOW_NAME "shadow"

typedef struct {
    vg_cstate_blob_t active, shadow; /* version 0 = none */
    uint64_t latest;
} s_models_q_t;

static void s_models_read(const vg_cstate_t *st, void *arg)
{
    s_models_q_t *q = arg;
    vg_cstate_blob_get(st, VG_BLOB_MODEL, S_MODEL_NAME, 0, &q->active);
    vg_cstate_blob_get(st, VG_BLOB_MODEL, S_SHADOW_NAME, 0, &q->shadow);
    size_t n = vg_cstate_blob_name_count(st, VG_BLOB_MODEL);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        size_t nv;
        vg_cstate_blob_t b;
        if (vg_cstate_blob_name_at(st, VG_BLOB_MODEL, i, &name, NULL, &nv) == 0 &&
            !strcmp(name, S_MODEL_NAME) && nv &&
            vg_cstate_blob_version_at(st, VG_BLOB_MODEL, name, nv - 1, &b) == 0)
            q->latest = b.version;
    }
}

/* Loads and decodes a committed model version; NULL (logged once per
 * version) when it cannot be had or is refused. */
static vg_model_t *s_model_get(vg_member_t *mb, const char *name, const vg_cstate_blob_t *b)
{
    void *buf = NULL;
    size_t len = 0;
    vg_model_t *m = NULL;
    char err[300] = "";
    int rc = s_blob_load(mb, VG_BLOB_MODEL, name, b, &buf, &len);
    if (rc)
        snprintf(err, sizeof err, "its content is not available yet: %s", vg_strerror(rc));
    else
        rc = vg_model_decode(buf, len, &m, err, sizeof err);
    free(buf);
    if (rc && strcmp(mb->models_error, err)) {
        vg_warn(S_MOD, "model v%llu not in use: %s", (unsigned long long) b->version, err);
        snprintf(mb->models_error, sizeof mb->models_error, "%s", err);
    }
    return rc ? NULL : m;
}

static void s_models_sync(vg_member_t *mb)
{
    s_models_q_t q = {0};
    vg_raft_read(mb->raft, s_models_read, &q);
    char sig[64];
    snprintf(sig, sizeof sig, "m%llu,s%llu", (unsigned long long) q.active.version,
             (unsigned long long) q.shadow.version);
    if (!strcmp(sig, mb->models_applied)) return;
    vg_model_t *active = q.active.version ? s_model_get(mb, S_MODEL_NAME, &q.active) : NULL;
    vg_model_t *shadow = q.shadow.version ? s_model_get(mb, S_SHADOW_NAME, &q.shadow) : NULL;
    if ((q.active.version && !active) || (q.shadow.version && !shadow)) {
        vg_model_destroy(&active);
        vg_model_destroy(&shadow);
        return; /* retried next pass; the engine keeps what it has */
    }
    vg_engine_set_model(mb->engine, &active, q.active.version, false);
    vg_engine_set_model(mb->engine, &shadow, q.shadow.version, true);
    snprintf(mb->models_applied, sizeof mb->models_applied, "%s", sig);
    mb->models_error[0] = 0;
    vg_info(S_MOD, "model v%llu in use, shadow %s%llu", (unsigned long long) q.active.version,
            q.shadow.version ? "v" : "none ", (unsigned long long) q.shadow.version);
}

/* Leader, BLOB_PUT kind 1: the artifact must load here (format, checksum,
 * feature schema of this engine); stored, committed as the next version of
 * "model" and "shadow", activated if asked. */
static int s_put_model(vg_member_t *mb, const vg_body_blob_put_t *p, vg_jw_t *w, char *err,
                       size_t errlen)
{
    vg_model_t *m = NULL;
    int rc = vg_model_decode(p->content.ptr, p->content.len, &m, err, errlen);
    if (rc) return rc;
    const vg_model_info_t *info = vg_model_info(m);
    uint8_t hash[VG_HASH_LEN];
    vg_hash128(p->content.ptr, p->content.len, hash);
    rc = vg_store_blob_put(mb->cfg.store, hash, VG_HASH_LEN, p->content.ptr, p->content.len);
    s_models_q_t q = {0};
    vg_raft_read(mb->raft, s_models_read, &q);
    uint64_t version = q.latest + 1;
    const char *names[2] = {S_MODEL_NAME, S_SHADOW_NAME};
    if (!rc) rc = s_commit(mb, VG_BLOB_MODEL, names, 2, version, hash, p, w, err, errlen);
    if (!rc) {
        vg_jw_kint(w, "trees", info->trees);
        vg_jw_kint(w, "sample", info->sample);
        vg_jw_kcstr(w, "created", info->created);
        vg_jw_key(w, "features");
        vg_jw_arr_begin(w);
        for (uint32_t i = 0; i < info->n_features; i++) vg_jw_cstr(w, info->features[i]);
        vg_jw_arr_end(w);
        vg_jw_obj_end(w);
    }
    vg_model_destroy(&m);
    return rc;
}

static void s_models_list_read(const vg_cstate_t *st, void *arg)
{
    vg_jw_t *w = arg;
    s_models_q_t q = {0};
    s_models_read(st, &q);
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "active", (int64_t) q.active.version);
    vg_jw_kint(w, "shadow", (int64_t) q.shadow.version);
    s_versions_json(st, VG_BLOB_MODEL, S_MODEL_NAME, w);
    vg_jw_obj_end(w);
}

/* ADMIN models.list / models.stats / models.activate V / models.rollback
 * [V] / models.shadow V (0 = none); false when cmd is none of them. */
bool vg__member_admin_models(vg_member_t *mb, const vg_transport_msg_t *msg, vg_str_t cmd,
                             uint32_t arg, vg_jw_t *w)
{
    bool change = vg_str_eq_c(cmd, "models.activate") || vg_str_eq_c(cmd, "models.rollback") ||
                  vg_str_eq_c(cmd, "models.shadow");
    if (vg_str_eq_c(cmd, "models.list")) {
        vg_raft_read(mb->raft, s_models_list_read, w);
    } else if (vg_str_eq_c(cmd, "models.stats")) {
        vg_engine_model_stats_t st;
        vg_engine_model_stats(mb->engine, &st);
        vg_jw_obj_begin(w);
        vg_jw_kint(w, "node", mb->cfg.node_id);
        vg_jw_kint(w, "active", (int64_t) st.active_version);
        vg_jw_kint(w, "shadow", (int64_t) st.shadow_version);
        vg_jw_kint(w, "scored", (int64_t) st.scored);
        vg_jw_kint(w, "flagged", (int64_t) st.flagged);
        vg_jw_kint(w, "shadow_scored", (int64_t) st.shadow_scored);
        vg_jw_kint(w, "shadow_flagged", (int64_t) st.shadow_flagged);
        vg_jw_kint(w, "both_flagged", (int64_t) st.both_flagged);
        vg_jw_obj_end(w);
    } else if (change) {
        char err[300] = "";
        int rc = VG_ERR_NOT_OWNER;
        uint64_t v = arg;
        bool shadow = vg_str_eq_c(cmd, "models.shadow");
        if (vg_raft_is_leader(mb->raft)) {
            if (vg_str_eq_c(cmd, "models.rollback") && !v) {
                s_prevq_t pq = {.kind = VG_BLOB_MODEL, .name = S_MODEL_NAME};
                vg_raft_read(mb->raft, s_prev_read, &pq);
                v = pq.prev;
            }
            rc = !v && !shadow ? VG_ERR_NOT_FOUND : 0;
            if (rc) snprintf(err, sizeof err, "no earlier model version to roll back to");
            if (!rc)
                rc = s_activate(mb, VG_BLOB_MODEL, shadow ? S_SHADOW_NAME : S_MODEL_NAME,
                                S_MODEL_NAME, v, "model", err, sizeof err);
        } else {
            snprintf(err, sizeof err, "not the leader: send this to the leader");
        }
        if (rc) {
            vg__member_admin_error(mb, msg, rc, err);
            return true;
        }
        vg_jw_obj_begin(w);
        vg_jw_kint(w, shadow ? "shadow" : "active", (int64_t) v);
        vg_jw_obj_end(w);
    } else {
        return false;
    }
    vg__member_admin_reply(mb, msg, 0, w);
    return true;
}
