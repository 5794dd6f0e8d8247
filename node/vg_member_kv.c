/* vg_member_kv.c: ADMIN kv.* — the replicated key-value tables of the
 * cluster state (users, API keys, labels, settings) read and written by
 * gateways. The node stores values as opaque text; their meaning belongs
 * to the gateway (gateway/vg_auth.c, the labels). Writes go through the
 * leader (others answer NOT_OWNER); reads are answered by any member from
 * its applied state. The cluster port is trusted (like every ADMIN). */
#include "vg_member_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *const s_tables[VG_KV_TABLES] = {
    [VG_KV_USERS] = "users",
    [VG_KV_APIKEYS] = "apikeys",
    [VG_KV_LABELS] = "labels",
    [VG_KV_SETTINGS] = "settings",
};

#define S_LIST_MAX 5000 /* entries per kv.list answer */

typedef struct {
    int table;
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    const char *after;
    size_t after_len;
    long limit;
} s_args_t;

/* Reads the arg object; 0, or VG_ERR_INVALID with err set. */
static int s_args(json_t *o, bool need_key, bool need_value, s_args_t *a, char *err, size_t cap)
{
    memset(a, 0, sizeof *a);
    if (!json_is_object(o)) {
        snprintf(err, cap, "arg: a JSON object is required");
        return VG_ERR_INVALID;
    }
    const char *t = json_string_value(json_object_get(o, "table"));
    for (int i = 1; t && i < VG_KV_TABLES; i++)
        if (strcmp(t, s_tables[i]) == 0) a->table = i;
    if (!a->table) {
        snprintf(err, cap, "arg.table: users, apikeys, labels or settings");
        return VG_ERR_INVALID;
    }
    json_t *k = json_object_get(o, "key");
    if (k && json_is_string(k)) a->key = json_string_value(k), a->key_len = json_string_length(k);
    if (need_key && (!a->key || !a->key_len || a->key_len > VG_CSTATE_KV_KEY_MAX)) {
        snprintf(err, cap, "arg.key: a string of 1..%d bytes", VG_CSTATE_KV_KEY_MAX);
        return VG_ERR_INVALID;
    }
    json_t *v = json_object_get(o, "value");
    if (v && json_is_string(v))
        a->value = json_string_value(v), a->value_len = json_string_length(v);
    if (need_value && (!a->value || a->value_len > VG_CSTATE_KV_VAL_MAX)) {
        snprintf(err, cap, "arg.value: a string of at most %d bytes", VG_CSTATE_KV_VAL_MAX);
        return VG_ERR_INVALID;
    }
    json_t *af = json_object_get(o, "after");
    if (af && json_is_string(af))
        a->after = json_string_value(af), a->after_len = json_string_length(af);
    json_t *l = json_object_get(o, "limit");
    a->limit = json_is_integer(l) ? (long) json_integer_value(l) : S_LIST_MAX;
    if (a->limit < 1 || a->limit > S_LIST_MAX) a->limit = S_LIST_MAX;
    return 0;
}

typedef struct {
    const s_args_t *a;
    vg_jw_t *w;
    int rc;
} s_read_t;

static void s_gens(const vg_cstate_t *st, vg_jw_t *w)
{
    vg_jw_key(w, "gens");
    vg_jw_obj_begin(w);
    for (int i = 1; i < VG_KV_TABLES; i++)
        vg_jw_kint(w, s_tables[i], (int64_t) vg_cstate_kv_gen(st, i));
    vg_jw_obj_end(w);
}

static void s_get_read(const vg_cstate_t *st, void *arg)
{
    s_read_t *q = arg;
    const uint8_t *val;
    size_t len;
    q->rc = vg_cstate_kv_get(st, q->a->table, q->a->key, q->a->key_len, &val, &len);
    if (q->rc) return;
    vg_jw_obj_begin(q->w);
    vg_jw_kstr(q->w, "key", (vg_str_t){q->a->key, (uint32_t) q->a->key_len});
    vg_jw_kstr(q->w, "value", (vg_str_t){(const char *) val, (uint32_t) len});
    vg_jw_kint(q->w, "gen", (int64_t) vg_cstate_kv_gen(st, q->a->table));
    vg_jw_obj_end(q->w);
}

/* Entries after a->after (exclusive), in key order, up to a->limit. */
static void s_list_read(const vg_cstate_t *st, void *arg)
{
    s_read_t *q = arg;
    const s_args_t *a = q->a;
    size_t n = vg_cstate_kv_count(st, a->table), i = 0;
    if (a->after) { /* binary search for the first key > after */
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2, klen;
            const char *key;
            vg_cstate_kv_at(st, a->table, mid, &key, &klen, NULL, NULL);
            int c = memcmp(key, a->after, klen < a->after_len ? klen : a->after_len);
            if (c < 0 || (c == 0 && klen <= a->after_len))
                lo = mid + 1;
            else
                hi = mid;
        }
        i = lo;
    }
    vg_jw_t *w = q->w;
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "gen", (int64_t) vg_cstate_kv_gen(st, a->table));
    s_gens(st, w);
    vg_jw_key(w, "entries");
    vg_jw_arr_begin(w);
    long taken = 0;
    const char *last = NULL;
    size_t last_len = 0;
    for (; i < n && taken < a->limit; i++, taken++) {
        const uint8_t *val;
        size_t len;
        vg_cstate_kv_at(st, a->table, i, &last, &last_len, &val, &len);
        vg_jw_obj_begin(w);
        vg_jw_kstr(w, "key", (vg_str_t){last, (uint32_t) last_len});
        vg_jw_kstr(w, "value", (vg_str_t){(const char *) val, (uint32_t) len});
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    vg_jw_key(w, "next");
    if (i < n && last)
        vg_jw_str(w, (vg_str_t){last, (uint32_t) last_len});
    else
        vg_jw_null(w);
    vg_jw_obj_end(w);
}

static void s_gens_read(const vg_cstate_t *st, void *arg)
{
    vg_jw_t *w = arg;
    vg_jw_obj_begin(w);
    s_gens(st, w);
    vg_jw_obj_end(w);
}

/* kv.put / kv.add / kv.del on the leader. */
static int s_write(vg_member_t *mb, const char *op, const s_args_t *a, char *err, size_t cap)
{
    if (!vg_raft_is_leader(mb->raft)) {
        snprintf(err, cap, "not the leader: send this to the leader");
        return VG_ERR_NOT_OWNER;
    }
    vg_mpw_t cmd;
    vg_mpw_init(&cmd);
    if (strcmp(op, "kv.del") == 0)
        vg_cstate_cmd_kv_del(&cmd, a->table, a->key, a->key_len);
    else
        vg_cstate_cmd_kv_write(&cmd, strcmp(op, "kv.add") == 0, a->table, a->key, a->key_len,
                               a->value, a->value_len);
    vg_raft_result_t res;
    int rc = cmd.err ? cmd.err : vg_raft_propose(mb->raft, cmd.buf, cmd.len, S_PROPOSE_MS, &res);
    vg_mpw_fini(&cmd);
    if (rc == VG_ERR_EXISTS)
        snprintf(err, cap, "%s %.*s exists", s_tables[a->table], (int) a->key_len, a->key);
    else if (rc == VG_ERR_NOT_FOUND)
        snprintf(err, cap, "%s %.*s: no such key", s_tables[a->table], (int) a->key_len, a->key);
    else if (rc)
        snprintf(err, cap, "commit failed: %s", res.msg[0] ? res.msg : vg_strerror(rc));
    return rc;
}

bool vg__member_admin_kv(vg_member_t *mb, const vg_transport_msg_t *msg, vg_str_t cmd, vg_str_t arg,
                         vg_jw_t *w)
{
    static const char *const ops[] = {"kv.get", "kv.list", "kv.put", "kv.add", "kv.del", "kv.gens"};
    const char *op = NULL;
    for (size_t i = 0; i < VG_ARRAY_LEN(ops); i++)
        if (vg_str_eq_c(cmd, ops[i])) op = ops[i];
    if (!op) return false;
    char err[300] = "";
    int rc = 0;
    if (strcmp(op, "kv.gens") == 0) {
        vg_raft_read(mb->raft, s_gens_read, w);
        vg__member_admin_reply(mb, msg, 0, w);
        return true;
    }
    json_error_t jerr;
    json_t *o = json_loadb(arg.ptr ? arg.ptr : "", arg.len, 0, &jerr);
    if (!o) {
        snprintf(err, sizeof err, "arg: not JSON: %s", jerr.text);
        rc = VG_ERR_PARSE;
    }
    bool write = op[3] == 'p' || op[3] == 'a' || op[3] == 'd'; /* put, add, del */
    s_args_t a;
    if (!rc) rc = s_args(o, strcmp(op, "kv.list") != 0, write && op[3] != 'd', &a, err, sizeof err);
    if (!rc && write) {
        rc = s_write(mb, op, &a, err, sizeof err);
        if (!rc) {
            vg_jw_obj_begin(w);
            vg_jw_kcstr(w, "table", s_tables[a.table]);
            vg_jw_kstr(w, "key", (vg_str_t){a.key, (uint32_t) a.key_len});
            vg_jw_obj_end(w);
        }
    } else if (!rc) {
        s_read_t q = {&a, w, 0};
        vg_raft_read(mb->raft, strcmp(op, "kv.get") == 0 ? s_get_read : s_list_read, &q);
        rc = q.rc;
        if (rc)
            snprintf(err, sizeof err, "%s %.*s: no such key", s_tables[a.table], (int) a.key_len,
                     a.key);
    }
    json_decref(o);
    if (rc)
        vg__member_admin_error(mb, msg, rc, err);
    else
        vg__member_admin_reply(mb, msg, 0, w);
    return true;
}
