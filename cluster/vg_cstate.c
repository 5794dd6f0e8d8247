/* vg_cstate.c: the replicated cluster state machine: command decoding and
 * validation (hardened: the bytes come from the network), apply, snapshot
 * encode/decode and the leader's shard move planners. No I/O, no clock. */
#include "vg_cstate.h"

#include "vg_err.h"
#include "vg_mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    uint32_t id;
    uint8_t state;
    bool voter;
    char *data_addr;
    char *raft_addr;
    uint32_t n_shards;
} s_member_t;

typedef struct {
    char *name;
    uint64_t active;
    uint32_t n;
    vg_cstate_blob_t v[VG_CSTATE_MAX_VERSIONS]; /* ascending versions */
} s_named_t;

typedef struct {
    s_named_t **names; /* bytewise order */
    uint32_t n;
} s_kind_t;

typedef struct {
    uint8_t *key; /* NUL-terminated copy (keys hold no NUL) */
    uint32_t key_len;
    uint32_t len;
    uint8_t *val;
} s_kv_t;

typedef struct {
    s_kv_t *e; /* bytewise key order */
    uint32_t n, cap;
    uint64_t gen;
} s_table_t;

struct vg_cstate {
    uint64_t applied;
    uint64_t map_epoch;
    uint32_t n_shards;
    uint32_t *owner;
    uint64_t *epoch;
    s_member_t *members; /* ascending ids */
    uint32_t n_members;
    s_kind_t kinds[2];
    s_table_t tables[VG_KV_TABLES];
};

/* One command being applied. */
typedef struct {
    vg_cstate_t *s;
    vg_mpr_t r;
    vg_cstate_result_t *res;
} s_cmd_t;

/* ---- helpers ------------------------------------------------------------ */

static int s_setv(vg_cstate_result_t *res, int code, const char *fmt, va_list ap)
{
    if (res && res->code == 0) {
        res->code = code;
        vsnprintf(res->msg, sizeof res->msg, fmt, ap);
    }
    return code;
}

static int s_set(vg_cstate_result_t *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int s_set(vg_cstate_result_t *res, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_setv(res, code, fmt, ap);
    va_end(ap);
    return code;
}

static int s_fail(s_cmd_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int s_fail(s_cmd_t *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_setv(c->res, code, fmt, ap);
    va_end(ap);
    return code;
}

/* Records the reader's error for field; returns the result's code. */
static int s_bad_code(s_cmd_t *c, const char *field)
{
    s_set(c->res, VG_ERR_PARSE, "%s: %s", field, c->r.reason ? c->r.reason : "malformed");
    return c->res->code;
}

/* The same, returning false for `if (!ok)` chains. */
static bool s_bad(s_cmd_t *c, const char *field)
{
    s_bad_code(c, field);
    return false;
}

static bool s_rd_u32(s_cmd_t *c, const char *field, uint32_t *out)
{
    return vg_mpr_u32(&c->r, out) == 0 || s_bad(c, field);
}

static bool s_rd_u64(s_cmd_t *c, const char *field, uint64_t *out)
{
    return vg_mpr_uint(&c->r, out) == 0 || s_bad(c, field);
}

static bool s_rd_bool(s_cmd_t *c, const char *field, bool *out)
{
    return vg_mpr_bool(&c->r, out) == 0 || s_bad(c, field);
}

static bool s_rd_str(s_cmd_t *c, const char *field, vg_str_t *out)
{
    return vg_mpr_str(&c->r, out) == 0 || s_bad(c, field);
}

/* True when every byte was consumed (nothing may follow a command). */
static bool s_end(s_cmd_t *c)
{
    if (vg_mpr_remaining(&c->r) == 0) return true;
    s_set(c->res, VG_ERR_PARSE, "%zu trailing bytes after the command", vg_mpr_remaining(&c->r));
    return false;
}

/* host:port, printable ASCII without spaces, port 1..65535. */
static bool s_addr_valid(vg_str_t a)
{
    if (a.len < 3 || a.len > VG_CSTATE_ADDR_MAX) return false;
    for (uint32_t i = 0; i < a.len; i++)
        if (a.ptr[i] <= ' ' || a.ptr[i] > '~') return false;
    const char *colon = memrchr(a.ptr, ':', a.len);
    if (!colon || colon == a.ptr) return false;
    uint32_t port = 0, digits = 0;
    for (const char *p = colon + 1; p < a.ptr + a.len; p++, digits++) {
        if (*p < '0' || *p > '9' || digits >= 5) return false;
        port = port * 10 + (uint32_t) (*p - '0');
    }
    return digits > 0 && port >= 1 && port <= 65535;
}

static bool s_name_valid(vg_str_t n)
{
    if (n.len < 1 || n.len > VG_CSTATE_NAME_MAX) return false;
    for (uint32_t i = 0; i < n.len; i++) {
        char ch = n.ptr[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

static int s_strcmp(vg_str_t a, const char *b)
{
    size_t bl = strlen(b), n = VG_MIN((size_t) a.len, bl);
    int c = n ? memcmp(a.ptr, b, n) : 0;
    if (c) return c;
    return a.len < bl ? -1 : a.len > bl ? 1 : 0;
}

/* Index of member id, or -(insertion point) - 1. */
static long s_find(const vg_cstate_t *s, uint32_t id)
{
    long lo = 0, hi = (long) s->n_members - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        uint32_t m = s->members[mid].id;
        if (m == id) return mid;
        if (m < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

static s_member_t *s_member(const vg_cstate_t *s, uint32_t id)
{
    long i = s_find(s, id);
    return i >= 0 ? &s->members[i] : NULL;
}

/* Index of name in kind, or -(insertion point) - 1. */
static long s_find_name(const s_kind_t *k, vg_str_t name)
{
    long lo = 0, hi = (long) k->n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        int c = s_strcmp(name, k->names[mid]->name);
        if (c == 0) return mid;
        if (c > 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

static bool s_can_own(const s_member_t *m)
{
    return m && (m->state == VG_MEMBER_JOINING || m->state == VG_MEMBER_ACTIVE);
}

/* ---- lifecycle ---------------------------------------------------------- */

vg_cstate_t *vg_cstate_new(void)
{
    return VG_NEW(vg_cstate_t);
}

static void s_clear(vg_cstate_t *s)
{
    for (uint32_t i = 0; i < s->n_members; i++) {
        vg_free(s->members[i].data_addr);
        vg_free(s->members[i].raft_addr);
    }
    vg_free(s->members);
    vg_free(s->owner);
    vg_free(s->epoch);
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < s->kinds[k].n; i++) {
            vg_free(s->kinds[k].names[i]->name);
            vg_free(s->kinds[k].names[i]);
        }
        vg_free(s->kinds[k].names);
    }
    for (int t = 0; t < VG_KV_TABLES; t++) {
        for (uint32_t i = 0; i < s->tables[t].n; i++) {
            vg_free(s->tables[t].e[i].key);
            vg_free(s->tables[t].e[i].val);
        }
        vg_free(s->tables[t].e);
    }
    memset(s, 0, sizeof *s);
}

void vg_cstate_destroy(vg_cstate_t **self_p)
{
    if (!self_p || !*self_p) return;
    s_clear(*self_p);
    vg_free(*self_p);
    *self_p = NULL;
}

/* ---- member commands ------------------------------------------------------ */

/* True when addr is used by a live member other than except_id. */
static bool s_addr_taken(const vg_cstate_t *s, vg_str_t addr, uint32_t except_id)
{
    for (uint32_t i = 0; i < s->n_members; i++) {
        const s_member_t *m = &s->members[i];
        if (m->id == except_id || m->state == VG_MEMBER_REMOVED) continue;
        if (s_strcmp(addr, m->data_addr) == 0 || s_strcmp(addr, m->raft_addr) == 0) return true;
    }
    return false;
}

static int s_add_member(s_cmd_t *c)
{
    uint32_t id, state;
    vg_str_t data, raft;
    bool voter;
    if (!s_rd_u32(c, "id", &id) || !s_rd_str(c, "data_addr", &data) ||
        !s_rd_str(c, "raft_addr", &raft) || !s_rd_bool(c, "voter", &voter) ||
        !s_rd_u32(c, "state", &state) || !s_end(c))
        return c->res->code;
    vg_cstate_t *s = c->s;
    if (id == 0) return s_fail(c, VG_ERR_INVALID, "id must be > 0");
    if (state != VG_MEMBER_JOINING && state != VG_MEMBER_ACTIVE)
        return s_fail(c, VG_ERR_INVALID, "state must be joining or active");
    if (!s_addr_valid(data) || !s_addr_valid(raft))
        return s_fail(c, VG_ERR_INVALID, "node %u: addresses must be host:port", id);
    if (vg_str_eq(data, raft))
        return s_fail(c, VG_ERR_INVALID, "node %u: data and raft addresses are equal", id);
    long i = s_find(s, id);
    if (i >= 0 && s->members[i].state != VG_MEMBER_REMOVED)
        return s_fail(c, VG_ERR_EXISTS, "node %u is already a member", id);
    if (s_addr_taken(s, data, id) || s_addr_taken(s, raft, id))
        return s_fail(c, VG_ERR_EXISTS, "node %u: address already used by another member", id);
    if (i < 0 && s->n_members >= VG_CSTATE_MAX_MEMBERS)
        return s_fail(c, VG_ERR_LIMIT, "at most %d members", VG_CSTATE_MAX_MEMBERS);
    s_member_t *m;
    if (i >= 0) {
        m = &s->members[i];
        vg_free(m->data_addr);
        vg_free(m->raft_addr);
    } else {
        size_t at = (size_t) (-i - 1);
        s->members = vg_realloc(s->members, (s->n_members + 1) * sizeof *s->members);
        memmove(&s->members[at + 1], &s->members[at], (s->n_members - at) * sizeof *s->members);
        s->n_members++;
        m = &s->members[at];
    }
    *m = (s_member_t){.id = id, .state = (uint8_t) state, .voter = voter};
    m->data_addr = vg_strndup(data.ptr, data.len);
    m->raft_addr = vg_strndup(raft.ptr, raft.len);
    return 0;
}

/* Reads the id field and finds the live member. */
static s_member_t *s_live_member(s_cmd_t *c, uint32_t id)
{
    s_member_t *m = s_member(c->s, id);
    if (!m || m->state == VG_MEMBER_REMOVED) {
        s_fail(c, VG_ERR_NOT_FOUND, "node %u is not a member", id);
        return NULL;
    }
    return m;
}

static int s_set_member_state(s_cmd_t *c)
{
    uint32_t id, state;
    if (!s_rd_u32(c, "id", &id) || !s_rd_u32(c, "state", &state) || !s_end(c)) return c->res->code;
    if (state != VG_MEMBER_ACTIVE && state != VG_MEMBER_DRAINING && state != VG_MEMBER_DOWN)
        return s_fail(c, VG_ERR_INVALID, "state must be active, draining or down");
    s_member_t *m = s_live_member(c, id);
    if (!m) return c->res->code;
    m->state = (uint8_t) state;
    return 0;
}

static int s_set_member_voter(s_cmd_t *c)
{
    uint32_t id;
    bool voter;
    if (!s_rd_u32(c, "id", &id) || !s_rd_bool(c, "voter", &voter) || !s_end(c)) return c->res->code;
    s_member_t *m = s_live_member(c, id);
    if (!m) return c->res->code;
    m->voter = voter;
    return 0;
}

static int s_remove_member(s_cmd_t *c)
{
    uint32_t id;
    if (!s_rd_u32(c, "id", &id) || !s_end(c)) return c->res->code;
    s_member_t *m = s_live_member(c, id);
    if (!m) return c->res->code;
    if (m->n_shards)
        return s_fail(c, VG_ERR_INVALID, "node %u still owns %u shards", id, m->n_shards);
    m->state = VG_MEMBER_REMOVED;
    m->voter = false;
    return 0;
}

/* ---- shard map commands --------------------------------------------------- */

static int s_init_map(s_cmd_t *c)
{
    uint32_t n_shards, n;
    if (!s_rd_u32(c, "n_shards", &n_shards)) return c->res->code;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "owners");
    if (c->s->n_shards) return s_fail(c, VG_ERR_EXISTS, "the shard map is already initialized");
    if (n_shards < 1 || n_shards > VG_CSTATE_MAX_SHARDS)
        return s_fail(c, VG_ERR_INVALID, "n_shards must be 1..%d", VG_CSTATE_MAX_SHARDS);
    if (n < 1 || n > n_shards)
        return s_fail(c, VG_ERR_INVALID, "owners: need 1..n_shards owners, got %u", n);
    uint32_t *owners = vg_malloc(n * sizeof *owners);
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) {
        if (!s_rd_u32(c, "owners", &owners[i]))
            rc = c->res->code;
        else if (!s_can_own(s_member(c->s, owners[i])))
            rc = s_fail(c, VG_ERR_INVALID, "owner %u is not a joining or active member", owners[i]);
        for (uint32_t j = 0; j < i && !rc; j++)
            if (owners[j] == owners[i])
                rc = s_fail(c, VG_ERR_INVALID, "owner %u listed twice", owners[i]);
    }
    if (!rc && !s_end(c)) rc = c->res->code;
    if (!rc) {
        vg_cstate_t *s = c->s;
        s->n_shards = n_shards;
        s->owner = vg_malloc(n_shards * sizeof *s->owner);
        s->epoch = vg_malloc(n_shards * sizeof *s->epoch);
        for (uint32_t i = 0; i < n_shards; i++) {
            s->owner[i] = owners[i % n];
            s->epoch[i] = 1;
            s_member(s, owners[i % n])->n_shards++;
        }
        s->map_epoch = 1;
    }
    vg_free(owners);
    return rc;
}

/* Reads one [shard, owner, expected_epoch] item and checks it against the
 * state and the shards already seen (bitmap). */
static int s_assign_item(s_cmd_t *c, uint8_t *seen, vg_cstate_move_t *mv)
{
    vg_cstate_t *s = c->s;
    uint32_t n;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "moves");
    if (n != 3) return s_fail(c, VG_ERR_PARSE, "moves: each move is [shard, owner, epoch]");
    if (!s_rd_u32(c, "shard", &mv->shard) || !s_rd_u32(c, "owner", &mv->to) ||
        !s_rd_u64(c, "epoch", &mv->epoch))
        return c->res->code;
    if (mv->shard >= s->n_shards)
        return s_fail(c, VG_ERR_INVALID, "shard %u out of range (%u shards)", mv->shard,
                      s->n_shards);
    if (seen[mv->shard / 8] & (1u << (mv->shard % 8)))
        return s_fail(c, VG_ERR_INVALID, "shard %u moved twice", mv->shard);
    seen[mv->shard / 8] |= (uint8_t) (1u << (mv->shard % 8));
    if (mv->epoch && mv->epoch != s->epoch[mv->shard])
        return s_fail(c, VG_ERR_INVALID, "shard %u: stale epoch %llu (now %llu)", mv->shard,
                      (unsigned long long) mv->epoch, (unsigned long long) s->epoch[mv->shard]);
    if (!s_can_own(s_member(s, mv->to)))
        return s_fail(c, VG_ERR_INVALID, "shard %u: owner %u is not a joining or active member",
                      mv->shard, mv->to);
    if (s->owner[mv->shard] == mv->to)
        return s_fail(c, VG_ERR_INVALID, "shard %u: already owned by %u", mv->shard, mv->to);
    return 0;
}

static int s_assign_shards(s_cmd_t *c)
{
    vg_cstate_t *s = c->s;
    uint64_t expect;
    uint32_t n;
    if (!s_rd_u64(c, "expected_map_epoch", &expect)) return c->res->code;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "moves");
    if (!s->n_shards) return s_fail(c, VG_ERR_INVALID, "the shard map is not initialized");
    if (expect && expect != s->map_epoch)
        return s_fail(c, VG_ERR_INVALID, "stale plan: map epoch is %llu, plan was made at %llu",
                      (unsigned long long) s->map_epoch, (unsigned long long) expect);
    if (n < 1 || n > s->n_shards)
        return s_fail(c, VG_ERR_INVALID, "moves: need 1..%u moves, got %u", s->n_shards, n);
    vg_cstate_move_t *mv = vg_malloc(n * sizeof *mv);
    uint8_t *seen = vg_calloc(s->n_shards / 8 + 1, 1);
    int rc = 0;
    for (uint32_t i = 0; i < n && !rc; i++) rc = s_assign_item(c, seen, &mv[i]);
    if (!rc && !s_end(c)) rc = c->res->code;
    for (uint32_t i = 0; i < n && !rc; i++) {
        s_member(s, s->owner[mv[i].shard])->n_shards--;
        s_member(s, mv[i].to)->n_shards++;
        s->owner[mv[i].shard] = mv[i].to;
        s->epoch[mv[i].shard]++;
    }
    if (!rc) s->map_epoch++;
    vg_free(seen);
    vg_free(mv);
    return rc;
}

/* ---- rule set / model commands ------------------------------------------ */

static s_kind_t *s_kind_of(s_cmd_t *c)
{
    uint8_t t = c->res->type;
    return &c->s->kinds[t == VG_CSTATE_PUT_MODEL_VERSION || t == VG_CSTATE_ACTIVATE_MODEL];
}

static bool s_rd_name(s_cmd_t *c, vg_str_t *name)
{
    if (!s_rd_str(c, "name", name)) return false;
    if (s_name_valid(*name)) return true;
    s_fail(c, VG_ERR_INVALID, "name: 1..%d bytes of [A-Za-z0-9._-]", VG_CSTATE_NAME_MAX);
    return false;
}

/* Adds a version to entry e, pruning the oldest inactive one when full. */
static void s_push_version(s_named_t *e, const vg_cstate_blob_t *b)
{
    if (e->n == VG_CSTATE_MAX_VERSIONS) {
        uint32_t drop = e->v[0].version == e->active ? 1 : 0;
        memmove(&e->v[drop], &e->v[drop + 1], (e->n - drop - 1) * sizeof e->v[0]);
        e->n--;
    }
    e->v[e->n++] = *b;
}

static int s_put_version(s_cmd_t *c)
{
    vg_str_t name;
    vg_cstate_blob_t b = {0};
    const uint8_t *hash;
    uint32_t hash_len;
    if (!s_rd_name(c, &name) || !s_rd_u64(c, "version", &b.version)) return c->res->code;
    if (vg_mpr_bin(&c->r, &hash, &hash_len)) return s_bad_code(c, "hash");
    if (!s_rd_u64(c, "size", &b.size) || !s_end(c)) return c->res->code;
    if (b.version == 0) return s_fail(c, VG_ERR_INVALID, "version must be > 0");
    if (hash_len > VG_CSTATE_HASH_MAX)
        return s_fail(c, VG_ERR_INVALID, "hash: at most %d bytes", VG_CSTATE_HASH_MAX);
    b.hash_len = (uint8_t) hash_len;
    if (hash_len) memcpy(b.hash, hash, hash_len);
    s_kind_t *k = s_kind_of(c);
    long i = s_find_name(k, name);
    if (i >= 0) {
        s_named_t *e = k->names[i];
        for (uint32_t j = 0; j < e->n; j++)
            if (e->v[j].version == b.version)
                return s_fail(c, VG_ERR_EXISTS, "%s version %llu already exists", e->name,
                              (unsigned long long) b.version);
        if (b.version < e->v[e->n - 1].version)
            return s_fail(c, VG_ERR_INVALID, "%s: version %llu is below the latest (%llu)", e->name,
                          (unsigned long long) b.version,
                          (unsigned long long) e->v[e->n - 1].version);
        s_push_version(e, &b);
        return 0;
    }
    if (k->n >= VG_CSTATE_MAX_NAMES)
        return s_fail(c, VG_ERR_LIMIT, "at most %d names", VG_CSTATE_MAX_NAMES);
    size_t at = (size_t) (-i - 1);
    k->names = vg_realloc(k->names, (k->n + 1) * sizeof *k->names);
    memmove(&k->names[at + 1], &k->names[at], (k->n - at) * sizeof *k->names);
    k->n++;
    s_named_t *e = VG_NEW(s_named_t);
    e->name = vg_strndup(name.ptr, name.len);
    s_push_version(e, &b);
    k->names[at] = e;
    return 0;
}

static int s_activate(s_cmd_t *c)
{
    vg_str_t name;
    uint64_t version;
    if (!s_rd_name(c, &name) || !s_rd_u64(c, "version", &version) || !s_end(c)) return c->res->code;
    s_kind_t *k = s_kind_of(c);
    long i = s_find_name(k, name);
    if (i < 0) return s_fail(c, VG_ERR_NOT_FOUND, "%.*s: no such name", (int) name.len, name.ptr);
    s_named_t *e = k->names[i];
    if (version == 0) { /* none active (a shadow model switched off) */
        e->active = 0;
        return 0;
    }
    for (uint32_t j = 0; j < e->n; j++) {
        if (e->v[j].version == version) {
            e->active = version;
            return 0;
        }
    }
    return s_fail(c, VG_ERR_NOT_FOUND, "%s: no version %llu", e->name,
                  (unsigned long long) version);
}

/* ---- key-value tables -------------------------------------------------------- */

static int s_kv_cmp(const s_kv_t *e, const uint8_t *key, size_t len)
{
    int c = memcmp(e->key, key, VG_MIN(e->key_len, len));
    return c ? c : (e->key_len > len) - (e->key_len < len);
}

/* Index of key in t, or -(insertion point) - 1. */
static long s_kv_find(const s_table_t *t, const uint8_t *key, size_t len)
{
    long lo = 0, hi = (long) t->n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        int c = s_kv_cmp(&t->e[mid], key, len);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

static bool s_kv_key_ok(const uint8_t *key, uint32_t len)
{
    return len >= 1 && len <= VG_CSTATE_KV_KEY_MAX && !memchr(key, 0, len);
}

/* Reads [table, key]; 0 and *t or the error code. */
static int s_rd_kv_head(s_cmd_t *c, s_table_t **t, const uint8_t **key, uint32_t *len)
{
    uint32_t table;
    if (!s_rd_u32(c, "table", &table)) return c->res->code;
    if (vg_mpr_bin(&c->r, key, len)) return s_bad_code(c, "key");
    if (table < 1 || table >= VG_KV_TABLES)
        return s_fail(c, VG_ERR_INVALID, "table %u: unknown", table);
    if (!s_kv_key_ok(*key, *len))
        return s_fail(c, VG_ERR_INVALID, "key: 1..%d bytes without NUL", VG_CSTATE_KV_KEY_MAX);
    *t = &c->s->tables[table];
    return 0;
}

static void s_kv_insert(s_table_t *t, long at, const uint8_t *key, uint32_t klen,
                        const uint8_t *val, uint32_t len)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->e = vg_realloc(t->e, t->cap * sizeof *t->e);
    }
    memmove(&t->e[at + 1], &t->e[at], (t->n - (size_t) at) * sizeof *t->e);
    s_kv_t *e = &t->e[at];
    e->key = (uint8_t *) vg_strndup((const char *) key, klen);
    e->key_len = klen;
    e->val = vg_malloc(len ? len : 1);
    if (len) memcpy(e->val, val, len);
    e->len = len;
    t->n++;
}

static int s_kv_write(s_cmd_t *c, bool add)
{
    s_table_t *t;
    const uint8_t *key, *val;
    uint32_t klen, len;
    int rc = s_rd_kv_head(c, &t, &key, &klen);
    if (rc) return rc;
    if (vg_mpr_bin(&c->r, &val, &len)) return s_bad_code(c, "value");
    if (!s_end(c)) return c->res->code;
    if (len > VG_CSTATE_KV_VAL_MAX)
        return s_fail(c, VG_ERR_LIMIT, "value: %u bytes (max %d)", len, VG_CSTATE_KV_VAL_MAX);
    long i = s_kv_find(t, key, klen);
    if (i >= 0 && add) return s_fail(c, VG_ERR_EXISTS, "key exists");
    if (i >= 0) {
        s_kv_t *e = &t->e[i];
        e->val = vg_realloc(e->val, len ? len : 1);
        if (len) memcpy(e->val, val, len);
        e->len = len;
    } else {
        if (t->n >= VG_CSTATE_KV_MAX_ENTRIES)
            return s_fail(c, VG_ERR_LIMIT, "table full (%d entries)", VG_CSTATE_KV_MAX_ENTRIES);
        s_kv_insert(t, -i - 1, key, klen, val, len);
    }
    t->gen++;
    return 0;
}

static int s_kv_put(s_cmd_t *c)
{
    return s_kv_write(c, false);
}

static int s_kv_add(s_cmd_t *c)
{
    return s_kv_write(c, true);
}

static int s_kv_del(s_cmd_t *c)
{
    s_table_t *t;
    const uint8_t *key;
    uint32_t klen;
    int rc = s_rd_kv_head(c, &t, &key, &klen);
    if (rc) return rc;
    if (!s_end(c)) return c->res->code;
    long i = s_kv_find(t, key, klen);
    if (i < 0) return s_fail(c, VG_ERR_NOT_FOUND, "no such key");
    vg_free(t->e[i].key);
    vg_free(t->e[i].val);
    memmove(&t->e[i], &t->e[i + 1], (t->n - (size_t) i - 1) * sizeof *t->e);
    t->n--;
    t->gen++;
    return 0;
}

/* ---- apply ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    uint32_t n_fields;
    int (*fn)(s_cmd_t *c);
} s_cmd_def_t;

static const s_cmd_def_t s_cmds[] = {
    [VG_CSTATE_ADD_MEMBER] = {"ADD_MEMBER", 5, s_add_member},
    [VG_CSTATE_SET_MEMBER_STATE] = {"SET_MEMBER_STATE", 2, s_set_member_state},
    [VG_CSTATE_SET_MEMBER_VOTER] = {"SET_MEMBER_VOTER", 2, s_set_member_voter},
    [VG_CSTATE_REMOVE_MEMBER] = {"REMOVE_MEMBER", 1, s_remove_member},
    [VG_CSTATE_INIT_MAP] = {"INIT_MAP", 2, s_init_map},
    [VG_CSTATE_ASSIGN_SHARDS] = {"ASSIGN_SHARDS", 2, s_assign_shards},
    [VG_CSTATE_PUT_RULESET_VERSION] = {"PUT_RULESET_VERSION", 4, s_put_version},
    [VG_CSTATE_ACTIVATE_RULESET] = {"ACTIVATE_RULESET", 2, s_activate},
    [VG_CSTATE_PUT_MODEL_VERSION] = {"PUT_MODEL_VERSION", 4, s_put_version},
    [VG_CSTATE_ACTIVATE_MODEL] = {"ACTIVATE_MODEL", 2, s_activate},
    [VG_CSTATE_KV_PUT] = {"KV_PUT", 3, s_kv_put},
    [VG_CSTATE_KV_DEL] = {"KV_DEL", 2, s_kv_del},
    [VG_CSTATE_KV_ADD] = {"KV_ADD", 3, s_kv_add},
};

static const s_cmd_def_t *s_cmd_def(uint64_t type)
{
    if (type >= VG_ARRAY_LEN(s_cmds) || !s_cmds[type].fn) return NULL;
    return &s_cmds[type];
}

const char *vg_cstate_cmd_name(int type)
{
    const s_cmd_def_t *d = type >= 0 ? s_cmd_def((uint64_t) type) : NULL;
    return d ? d->name : "?";
}

/* Reads [version, type, ...] and checks the field count: 0 and *def, or
 * the error code. */
static int s_header(s_cmd_t *c, const s_cmd_def_t **def)
{
    uint32_t n;
    uint64_t version, type;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "command");
    if (n < 2) return s_fail(c, VG_ERR_PARSE, "command: [version, type, ...] expected");
    if (!s_rd_u64(c, "version", &version) || !s_rd_u64(c, "type", &type)) return c->res->code;
    if (version != VG_CSTATE_CMD_VERSION)
        return s_fail(c, VG_ERR_UNSUPPORTED, "command version %llu (expected %d)",
                      (unsigned long long) version, VG_CSTATE_CMD_VERSION);
    const s_cmd_def_t *d = s_cmd_def(type);
    if (!d)
        return s_fail(c, VG_ERR_UNSUPPORTED, "unknown command type %llu",
                      (unsigned long long) type);
    c->res->type = (uint8_t) type;
    if (n - 2 != d->n_fields)
        return s_fail(c, VG_ERR_PARSE, "%s takes %u fields, got %u", d->name, d->n_fields, n - 2);
    *def = d;
    return 0;
}

int vg_cstate_apply(vg_cstate_t *s, const void *cmd, size_t len, vg_cstate_result_t *res)
{
    VG_ASSERT(s);
    vg_cstate_result_t local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    s_cmd_t c = {.s = s, .res = res};
    vg_mpr_init(&c.r, cmd ? cmd : "", cmd ? len : 0);
    const s_cmd_def_t *d = NULL;
    int rc = s_header(&c, &d);
    if (rc == 0) rc = d->fn(&c);
    if (rc == 0) {
        s->applied++;
        snprintf(res->msg, sizeof res->msg, "%s: ok", d->name);
        return 0;
    }
    if (d) { /* prefix the command name */
        char tmp[sizeof res->msg];
        snprintf(tmp, sizeof tmp, "%s", res->msg);
        snprintf(res->msg, sizeof res->msg, "%s: %s", d->name, tmp);
    }
    return rc;
}

/* ---- snapshot encode ------------------------------------------------------- */

static void s_enc_kind(vg_mpw_t *w, const s_kind_t *k)
{
    vg_mpw_array(w, k->n);
    for (uint32_t i = 0; i < k->n; i++) {
        const s_named_t *e = k->names[i];
        vg_mpw_array(w, 3);
        vg_mpw_str(w, e->name, (uint32_t) strlen(e->name));
        vg_mpw_uint(w, e->active);
        vg_mpw_array(w, e->n);
        for (uint32_t j = 0; j < e->n; j++) {
            vg_mpw_array(w, 3);
            vg_mpw_uint(w, e->v[j].version);
            vg_mpw_bin(w, e->v[j].hash, e->v[j].hash_len);
            vg_mpw_uint(w, e->v[j].size);
        }
    }
}

int vg_cstate_snapshot_encode(const vg_cstate_t *s, vg_mpw_t *w)
{
    vg_mpw_array(w, 10);
    vg_mpw_str(w, "VGCS", 4);
    vg_mpw_uint(w, VG_CSTATE_SNAP_VERSION);
    vg_mpw_uint(w, s->applied);
    vg_mpw_uint(w, s->map_epoch);
    vg_mpw_array(w, s->n_shards);
    for (uint32_t i = 0; i < s->n_shards; i++) vg_mpw_uint(w, s->owner[i]);
    vg_mpw_array(w, s->n_shards);
    for (uint32_t i = 0; i < s->n_shards; i++) vg_mpw_uint(w, s->epoch[i]);
    vg_mpw_array(w, s->n_members);
    for (uint32_t i = 0; i < s->n_members; i++) {
        const s_member_t *m = &s->members[i];
        vg_mpw_array(w, 5);
        vg_mpw_uint(w, m->id);
        vg_mpw_str(w, m->data_addr, (uint32_t) strlen(m->data_addr));
        vg_mpw_str(w, m->raft_addr, (uint32_t) strlen(m->raft_addr));
        vg_mpw_uint(w, m->state);
        vg_mpw_bool(w, m->voter);
    }
    s_enc_kind(w, &s->kinds[0]);
    s_enc_kind(w, &s->kinds[1]);
    uint32_t n_tables = 0;
    for (int t = 1; t < VG_KV_TABLES; t++) n_tables += s->tables[t].gen > 0;
    vg_mpw_array(w, n_tables);
    for (int t = 1; t < VG_KV_TABLES; t++) {
        const s_table_t *tb = &s->tables[t];
        if (!tb->gen) continue;
        vg_mpw_array(w, 3);
        vg_mpw_uint(w, (uint64_t) t);
        vg_mpw_uint(w, tb->gen);
        vg_mpw_array(w, tb->n);
        for (uint32_t i = 0; i < tb->n; i++) {
            vg_mpw_array(w, 2);
            vg_mpw_bin(w, tb->e[i].key, tb->e[i].key_len);
            vg_mpw_bin(w, tb->e[i].val, tb->e[i].len);
        }
    }
    return w->err;
}

bool vg_cstate_equal(const vg_cstate_t *a, const vg_cstate_t *b)
{
    vg_mpw_t wa, wb;
    vg_mpw_init(&wa);
    vg_mpw_init(&wb);
    vg_cstate_snapshot_encode(a, &wa);
    vg_cstate_snapshot_encode(b, &wb);
    bool eq = !wa.err && !wb.err && wa.len == wb.len && memcmp(wa.buf, wb.buf, wa.len) == 0;
    vg_mpw_fini(&wa);
    vg_mpw_fini(&wb);
    return eq;
}

/* ---- snapshot decode (into a fresh state t; s_cmd_t reused as context) ----- */

static int s_dec_member(s_cmd_t *c, s_member_t *m, uint32_t prev_id)
{
    uint32_t n, state;
    vg_str_t data, raft;
    bool voter;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "members");
    if (n != 5) return s_fail(c, VG_ERR_PARSE, "members: each member has 5 fields");
    if (!s_rd_u32(c, "member.id", &m->id) || !s_rd_str(c, "member.data_addr", &data) ||
        !s_rd_str(c, "member.raft_addr", &raft) || !s_rd_u32(c, "member.state", &state) ||
        !s_rd_bool(c, "member.voter", &voter))
        return c->res->code;
    if (m->id <= prev_id) return s_fail(c, VG_ERR_INVALID, "members: ids must ascend (%u)", m->id);
    if (!s_addr_valid(data) || !s_addr_valid(raft) || vg_str_eq(data, raft))
        return s_fail(c, VG_ERR_INVALID, "member %u: bad addresses", m->id);
    if (state < VG_MEMBER_JOINING || state > VG_MEMBER_REMOVED)
        return s_fail(c, VG_ERR_INVALID, "member %u: bad state %u", m->id, state);
    if (state == VG_MEMBER_REMOVED && voter)
        return s_fail(c, VG_ERR_INVALID, "member %u: removed but voter", m->id);
    m->state = (uint8_t) state;
    m->voter = voter;
    m->data_addr = vg_strndup(data.ptr, data.len);
    m->raft_addr = vg_strndup(raft.ptr, raft.len);
    return 0;
}

static int s_dec_members(s_cmd_t *c)
{
    vg_cstate_t *t = c->s;
    uint32_t n;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "members");
    if (n > VG_CSTATE_MAX_MEMBERS) return s_fail(c, VG_ERR_INVALID, "members: too many (%u)", n);
    t->members = vg_calloc(n ? n : 1, sizeof *t->members);
    t->n_members = n; /* zeroed entries are safe to free */
    for (uint32_t i = 0; i < n; i++) {
        int rc = s_dec_member(c, &t->members[i], i ? t->members[i - 1].id : 0);
        if (rc) return rc;
    }
    for (uint32_t i = 0; i < n; i++) { /* live members never share an address */
        const s_member_t *m = &t->members[i];
        if (m->state == VG_MEMBER_REMOVED) continue;
        if (s_addr_taken(t, vg_str_c(m->data_addr), m->id) ||
            s_addr_taken(t, vg_str_c(m->raft_addr), m->id))
            return s_fail(c, VG_ERR_INVALID, "member %u: address shared with another member",
                          m->id);
    }
    return 0;
}

/* Reads the shard owner and epoch arrays (members must be decoded first). */
static int s_dec_shards(s_cmd_t *c, const vg_mpr_t *owners_at)
{
    vg_cstate_t *t = c->s;
    vg_mpr_t save = c->r;
    uint32_t n, n2;
    c->r = *owners_at;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "owners");
    if (n > VG_CSTATE_MAX_SHARDS)
        return s_fail(c, VG_ERR_INVALID, "owners: too many shards (%u)", n);
    if ((n == 0) != (t->map_epoch == 0))
        return s_fail(c, VG_ERR_INVALID, "map epoch %llu with %u shards",
                      (unsigned long long) t->map_epoch, n);
    t->n_shards = n;
    t->owner = vg_malloc((n ? n : 1) * sizeof *t->owner);
    t->epoch = vg_malloc((n ? n : 1) * sizeof *t->epoch);
    for (uint32_t i = 0; i < n; i++) {
        if (!s_rd_u32(c, "owners", &t->owner[i])) return c->res->code;
        s_member_t *m = s_member(t, t->owner[i]);
        if (!m || m->state == VG_MEMBER_REMOVED)
            return s_fail(c, VG_ERR_INVALID, "shard %u: owner %u is not a member", i, t->owner[i]);
        m->n_shards++;
    }
    if (vg_mpr_array(&c->r, &n2)) return s_bad_code(c, "epochs");
    if (n2 != n) return s_fail(c, VG_ERR_INVALID, "epochs: %u items for %u shards", n2, n);
    for (uint32_t i = 0; i < n; i++) {
        if (!s_rd_u64(c, "epochs", &t->epoch[i])) return c->res->code;
        if (t->epoch[i] < 1 || t->epoch[i] > t->map_epoch)
            return s_fail(c, VG_ERR_INVALID, "shard %u: epoch out of range", i);
    }
    c->r = save;
    return 0;
}

static int s_dec_version(s_cmd_t *c, s_named_t *e)
{
    uint32_t n, hash_len;
    const uint8_t *hash;
    vg_cstate_blob_t *b = &e->v[e->n];
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "versions");
    if (n != 3) return s_fail(c, VG_ERR_PARSE, "versions: each is [version, hash, size]");
    if (!s_rd_u64(c, "version", &b->version)) return c->res->code;
    if (vg_mpr_bin(&c->r, &hash, &hash_len)) return s_bad_code(c, "hash");
    if (!s_rd_u64(c, "size", &b->size)) return c->res->code;
    if (hash_len > VG_CSTATE_HASH_MAX)
        return s_fail(c, VG_ERR_INVALID, "%s: hash too long", e->name);
    if (b->version == 0 || (e->n && b->version <= e->v[e->n - 1].version))
        return s_fail(c, VG_ERR_INVALID, "%s: versions must ascend from 1", e->name);
    b->hash_len = (uint8_t) hash_len;
    if (hash_len) memcpy(b->hash, hash, hash_len);
    e->n++;
    return 0;
}

static int s_dec_named(s_cmd_t *c, s_kind_t *k)
{
    uint32_t n, nv;
    vg_str_t name;
    uint64_t active;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "names");
    if (n != 3) return s_fail(c, VG_ERR_PARSE, "names: each is [name, active, versions]");
    if (!s_rd_name(c, &name) || !s_rd_u64(c, "active", &active)) return c->res->code;
    if (k->n && s_strcmp(name, k->names[k->n - 1]->name) <= 0)
        return s_fail(c, VG_ERR_INVALID, "names must ascend");
    if (vg_mpr_array(&c->r, &nv)) return s_bad_code(c, "versions");
    if (nv < 1 || nv > VG_CSTATE_MAX_VERSIONS)
        return s_fail(c, VG_ERR_INVALID, "versions: 1..%d", VG_CSTATE_MAX_VERSIONS);
    s_named_t *e = VG_NEW(s_named_t);
    e->name = vg_strndup(name.ptr, name.len);
    k->names[k->n++] = e;
    e->active = active;
    bool found = active == 0;
    for (uint32_t j = 0; j < nv; j++) {
        int rc = s_dec_version(c, e);
        if (rc) return rc;
        found = found || e->v[j].version == active;
    }
    return found ? 0
                 : s_fail(c, VG_ERR_INVALID, "%s: active version %llu is absent", e->name,
                          (unsigned long long) active);
}

static int s_dec_kind(s_cmd_t *c, s_kind_t *k)
{
    uint32_t n;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "names");
    if (n > VG_CSTATE_MAX_NAMES)
        return s_fail(c, VG_ERR_INVALID, "names: at most %d", VG_CSTATE_MAX_NAMES);
    k->names = vg_calloc(n ? n : 1, sizeof *k->names);
    for (uint32_t i = 0; i < n; i++) {
        int rc = s_dec_named(c, k);
        if (rc) return rc;
    }
    return 0;
}

static int s_dec_table(s_cmd_t *c, uint32_t *prev)
{
    uint32_t n, table, count;
    uint64_t gen;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "kv");
    if (n != 3) return s_fail(c, VG_ERR_PARSE, "kv: each table is [table, gen, entries]");
    if (!s_rd_u32(c, "kv.table", &table) || !s_rd_u64(c, "kv.gen", &gen)) return c->res->code;
    if (table <= *prev || table >= VG_KV_TABLES || gen == 0)
        return s_fail(c, VG_ERR_INVALID, "kv: bad table %u", table);
    *prev = table;
    if (vg_mpr_array(&c->r, &count)) return s_bad_code(c, "kv.entries");
    if (count > VG_CSTATE_KV_MAX_ENTRIES || count > vg_mpr_remaining(&c->r))
        return s_fail(c, VG_ERR_INVALID, "kv: too many entries (%u)", count);
    s_table_t *t = &c->s->tables[table];
    t->gen = gen;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *key, *val;
        uint32_t klen, len;
        if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "kv.entry");
        if (n != 2) return s_fail(c, VG_ERR_PARSE, "kv: each entry is [key, value]");
        if (vg_mpr_bin(&c->r, &key, &klen)) return s_bad_code(c, "kv.key");
        if (vg_mpr_bin(&c->r, &val, &len)) return s_bad_code(c, "kv.value");
        if (!s_kv_key_ok(key, klen) || len > VG_CSTATE_KV_VAL_MAX ||
            (t->n && s_kv_cmp(&t->e[t->n - 1], key, klen) >= 0))
            return s_fail(c, VG_ERR_INVALID, "kv: table %u entry %u invalid or out of order", table,
                          i);
        s_kv_insert(t, t->n, key, klen, val, len);
    }
    return 0;
}

static int s_dec_tables(s_cmd_t *c)
{
    uint32_t n, prev = 0;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "kv");
    if (n >= VG_KV_TABLES) return s_fail(c, VG_ERR_INVALID, "kv: %u tables", n);
    for (uint32_t i = 0; i < n; i++) {
        int rc = s_dec_table(c, &prev);
        if (rc) return rc;
    }
    return 0;
}

static int s_dec_header(s_cmd_t *c, uint64_t *version)
{
    uint32_t n;
    vg_str_t magic;
    if (vg_mpr_array(&c->r, &n)) return s_bad_code(c, "snapshot");
    if (n != 9 && n != 10)
        return s_fail(c, VG_ERR_PARSE, "snapshot: 9 or 10 fields expected, got %u", n);
    if (!s_rd_str(c, "magic", &magic)) return c->res->code;
    if (!vg_str_eq_c(magic, "VGCS"))
        return s_fail(c, VG_ERR_PARSE, "magic: not a cluster state snapshot");
    if (!s_rd_u64(c, "version", version)) return c->res->code;
    if (*version != 1 && *version != VG_CSTATE_SNAP_VERSION)
        return s_fail(c, VG_ERR_UNSUPPORTED, "snapshot version %llu",
                      (unsigned long long) *version);
    if (n != (*version == 1 ? 9u : 10u))
        return s_fail(c, VG_ERR_PARSE, "snapshot version %llu: %u fields",
                      (unsigned long long) *version, n);
    if (!s_rd_u64(c, "applied", &c->s->applied) || !s_rd_u64(c, "map_epoch", &c->s->map_epoch))
        return c->res->code;
    return 0;
}

static int s_decode(s_cmd_t *c)
{
    uint64_t version;
    int rc = s_dec_header(c, &version);
    if (rc) return rc;
    vg_mpr_t shards_at = c->r; /* owners/epochs need the members: skip, come back */
    if (vg_mpr_skip(&c->r) || vg_mpr_skip(&c->r)) return s_bad_code(c, "shards");
    if ((rc = s_dec_members(c)) || (rc = s_dec_shards(c, &shards_at))) return rc;
    if ((rc = s_dec_kind(c, &c->s->kinds[0])) || (rc = s_dec_kind(c, &c->s->kinds[1]))) return rc;
    if (version >= 2 && (rc = s_dec_tables(c))) return rc;
    return s_end(c) ? 0 : c->res->code;
}

int vg_cstate_snapshot_decode(vg_cstate_t *s, const void *buf, size_t len, vg_cstate_result_t *res)
{
    VG_ASSERT(s);
    vg_cstate_result_t local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    vg_cstate_t *t = vg_cstate_new();
    s_cmd_t c = {.s = t, .res = res};
    vg_mpr_init(&c.r, buf ? buf : "", buf ? len : 0);
    int rc = s_decode(&c);
    if (rc == 0) {
        vg_cstate_t tmp = *s;
        *s = *t;
        *t = tmp;
        snprintf(res->msg, sizeof res->msg, "snapshot: ok");
    } else {
        char msg[sizeof res->msg];
        snprintf(msg, sizeof msg, "%s", res->msg);
        snprintf(res->msg, sizeof res->msg, "snapshot: %s", msg);
    }
    vg_cstate_destroy(&t);
    return rc;
}

/* ---- queries ------------------------------------------------------------------ */

uint32_t vg_cstate_n_shards(const vg_cstate_t *s)
{
    return s->n_shards;
}

uint64_t vg_cstate_map_epoch(const vg_cstate_t *s)
{
    return s->map_epoch;
}

uint64_t vg_cstate_applied(const vg_cstate_t *s)
{
    return s->applied;
}

int vg_cstate_shard(const vg_cstate_t *s, uint32_t shard, uint32_t *owner, uint64_t *epoch)
{
    if (shard >= s->n_shards) return VG_ERR_NOT_FOUND;
    if (owner) *owner = s->owner[shard];
    if (epoch) *epoch = s->epoch[shard];
    return 0;
}

size_t vg_cstate_member_count(const vg_cstate_t *s)
{
    return s->n_members;
}

static void s_view(const s_member_t *m, vg_cstate_member_t *out)
{
    *out = (vg_cstate_member_t){.id = m->id,
                                .state = (vg_member_state) m->state,
                                .voter = m->voter,
                                .data_addr = m->data_addr,
                                .raft_addr = m->raft_addr,
                                .n_shards = m->n_shards};
}

int vg_cstate_member_at(const vg_cstate_t *s, size_t i, vg_cstate_member_t *out)
{
    if (i >= s->n_members) return VG_ERR_NOT_FOUND;
    s_view(&s->members[i], out);
    return 0;
}

int vg_cstate_member_get(const vg_cstate_t *s, uint32_t id, vg_cstate_member_t *out)
{
    const s_member_t *m = s_member(s, id);
    if (!m) return VG_ERR_NOT_FOUND;
    s_view(m, out);
    return 0;
}

uint32_t vg_cstate_voter_count(const vg_cstate_t *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_members; i++) n += s->members[i].voter;
    return n;
}

uint32_t vg_cstate_shard_count(const vg_cstate_t *s, uint32_t node)
{
    const s_member_t *m = s_member(s, node);
    return m ? m->n_shards : 0;
}

static const s_table_t *s_table(const vg_cstate_t *s, int table)
{
    return table >= 1 && table < VG_KV_TABLES ? &s->tables[table] : NULL;
}

int vg_cstate_kv_get(const vg_cstate_t *s, int table, const void *key, size_t key_len,
                     const uint8_t **val, size_t *len)
{
    const s_table_t *t = s_table(s, table);
    long i = t && key ? s_kv_find(t, key, key_len) : -1;
    if (i < 0) return VG_ERR_NOT_FOUND;
    if (val) *val = t->e[i].val;
    if (len) *len = t->e[i].len;
    return 0;
}

size_t vg_cstate_kv_count(const vg_cstate_t *s, int table)
{
    const s_table_t *t = s_table(s, table);
    return t ? t->n : 0;
}

int vg_cstate_kv_at(const vg_cstate_t *s, int table, size_t i, const char **key, size_t *key_len,
                    const uint8_t **val, size_t *len)
{
    const s_table_t *t = s_table(s, table);
    if (!t || i >= t->n) return VG_ERR_NOT_FOUND;
    if (key) *key = (const char *) t->e[i].key;
    if (key_len) *key_len = t->e[i].key_len;
    if (val) *val = t->e[i].val;
    if (len) *len = t->e[i].len;
    return 0;
}

uint64_t vg_cstate_kv_gen(const vg_cstate_t *s, int table)
{
    const s_table_t *t = s_table(s, table);
    return t ? t->gen : 0;
}

size_t vg_cstate_blob_name_count(const vg_cstate_t *s, vg_cstate_blob_kind kind)
{
    return kind == VG_BLOB_RULESET || kind == VG_BLOB_MODEL ? s->kinds[kind].n : 0;
}

int vg_cstate_blob_name_at(const vg_cstate_t *s, vg_cstate_blob_kind kind, size_t i,
                           const char **name, uint64_t *active, size_t *n_versions)
{
    if (i >= vg_cstate_blob_name_count(s, kind)) return VG_ERR_NOT_FOUND;
    const s_named_t *e = s->kinds[kind].names[i];
    if (name) *name = e->name;
    if (active) *active = e->active;
    if (n_versions) *n_versions = e->n;
    return 0;
}

int vg_cstate_blob_get(const vg_cstate_t *s, vg_cstate_blob_kind kind, const char *name,
                       uint64_t version, vg_cstate_blob_t *out)
{
    if ((kind != VG_BLOB_RULESET && kind != VG_BLOB_MODEL) || !name) return VG_ERR_NOT_FOUND;
    long i = s_find_name(&s->kinds[kind], vg_str_c(name));
    if (i < 0) return VG_ERR_NOT_FOUND;
    const s_named_t *e = s->kinds[kind].names[i];
    if (version == 0) version = e->active;
    for (uint32_t j = 0; version && j < e->n; j++) {
        if (e->v[j].version == version) {
            if (out) *out = e->v[j];
            return 0;
        }
    }
    return VG_ERR_NOT_FOUND;
}

int vg_cstate_blob_version_at(const vg_cstate_t *s, vg_cstate_blob_kind kind, const char *name,
                              size_t i, vg_cstate_blob_t *out)
{
    if ((kind != VG_BLOB_RULESET && kind != VG_BLOB_MODEL) || !name) return VG_ERR_NOT_FOUND;
    long at = s_find_name(&s->kinds[kind], vg_str_c(name));
    if (at < 0 || i >= s->kinds[kind].names[at]->n) return VG_ERR_NOT_FOUND;
    *out = s->kinds[kind].names[at]->v[i];
    return 0;
}

const char *vg_cstate_member_state_name(int state)
{
    static const char *names[] = {"?", "joining", "active", "draining", "down", "removed"};
    return state >= 1 && state <= VG_MEMBER_REMOVED ? names[state] : "?";
}

/* ---- command encoders --------------------------------------------------------- */

static void s_cmd_head(vg_mpw_t *w, vg_cstate_cmd type)
{
    vg_mpw_array(w, 2 + s_cmds[type].n_fields);
    vg_mpw_uint(w, VG_CSTATE_CMD_VERSION);
    vg_mpw_uint(w, type);
}

static void s_cstr(vg_mpw_t *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    vg_mpw_str(w, s ? s : "", (uint32_t) VG_MIN(n, UINT32_MAX));
}

int vg_cstate_cmd_add_member(vg_mpw_t *w, uint32_t id, const char *data_addr, const char *raft_addr,
                             bool voter, vg_member_state state)
{
    s_cmd_head(w, VG_CSTATE_ADD_MEMBER);
    vg_mpw_uint(w, id);
    s_cstr(w, data_addr);
    s_cstr(w, raft_addr);
    vg_mpw_bool(w, voter);
    vg_mpw_uint(w, (uint64_t) state);
    return w->err;
}

int vg_cstate_cmd_set_member_state(vg_mpw_t *w, uint32_t id, vg_member_state state)
{
    s_cmd_head(w, VG_CSTATE_SET_MEMBER_STATE);
    vg_mpw_uint(w, id);
    vg_mpw_uint(w, (uint64_t) state);
    return w->err;
}

int vg_cstate_cmd_set_member_voter(vg_mpw_t *w, uint32_t id, bool voter)
{
    s_cmd_head(w, VG_CSTATE_SET_MEMBER_VOTER);
    vg_mpw_uint(w, id);
    vg_mpw_bool(w, voter);
    return w->err;
}

int vg_cstate_cmd_remove_member(vg_mpw_t *w, uint32_t id)
{
    s_cmd_head(w, VG_CSTATE_REMOVE_MEMBER);
    vg_mpw_uint(w, id);
    return w->err;
}

int vg_cstate_cmd_init_map(vg_mpw_t *w, uint32_t n_shards, const uint32_t *owners, size_t n_owners)
{
    s_cmd_head(w, VG_CSTATE_INIT_MAP);
    vg_mpw_uint(w, n_shards);
    vg_mpw_array(w, (uint32_t) n_owners);
    for (size_t i = 0; i < n_owners; i++) vg_mpw_uint(w, owners[i]);
    return w->err;
}

int vg_cstate_cmd_assign_shards(vg_mpw_t *w, uint64_t expected_map_epoch,
                                const vg_cstate_move_t *moves, size_t n)
{
    s_cmd_head(w, VG_CSTATE_ASSIGN_SHARDS);
    vg_mpw_uint(w, expected_map_epoch);
    vg_mpw_array(w, (uint32_t) n);
    for (size_t i = 0; i < n; i++) {
        vg_mpw_array(w, 3);
        vg_mpw_uint(w, moves[i].shard);
        vg_mpw_uint(w, moves[i].to);
        vg_mpw_uint(w, moves[i].epoch);
    }
    return w->err;
}

int vg_cstate_cmd_assign_plan(vg_mpw_t *w, const vg_cstate_plan_t *plan)
{
    return vg_cstate_cmd_assign_shards(w, plan->map_epoch, plan->moves, plan->n);
}

int vg_cstate_cmd_put_blob(vg_mpw_t *w, vg_cstate_blob_kind kind, const char *name,
                           uint64_t version, const void *hash, size_t hash_len, uint64_t size)
{
    s_cmd_head(w,
               kind == VG_BLOB_MODEL ? VG_CSTATE_PUT_MODEL_VERSION : VG_CSTATE_PUT_RULESET_VERSION);
    s_cstr(w, name);
    vg_mpw_uint(w, version);
    vg_mpw_bin(w, hash ? hash : "", (uint32_t) VG_MIN(hash_len, UINT32_MAX));
    vg_mpw_uint(w, size);
    return w->err;
}

int vg_cstate_cmd_activate_blob(vg_mpw_t *w, vg_cstate_blob_kind kind, const char *name,
                                uint64_t version)
{
    s_cmd_head(w, kind == VG_BLOB_MODEL ? VG_CSTATE_ACTIVATE_MODEL : VG_CSTATE_ACTIVATE_RULESET);
    s_cstr(w, name);
    vg_mpw_uint(w, version);
    return w->err;
}

int vg_cstate_cmd_kv_put(vg_mpw_t *w, int table, const void *key, size_t key_len, const void *val,
                         size_t len)
{
    return vg_cstate_cmd_kv_write(w, false, table, key, key_len, val, len);
}

int vg_cstate_cmd_kv_write(vg_mpw_t *w, bool add, int table, const void *key, size_t key_len,
                           const void *val, size_t len)
{
    s_cmd_head(w, add ? VG_CSTATE_KV_ADD : VG_CSTATE_KV_PUT);
    vg_mpw_uint(w, (uint64_t) table);
    vg_mpw_bin(w, key, (uint32_t) VG_MIN(key_len, UINT32_MAX));
    vg_mpw_bin(w, val ? val : "", (uint32_t) VG_MIN(len, UINT32_MAX));
    return w->err;
}

int vg_cstate_cmd_kv_del(vg_mpw_t *w, int table, const void *key, size_t key_len)
{
    s_cmd_head(w, VG_CSTATE_KV_DEL);
    vg_mpw_uint(w, (uint64_t) table);
    vg_mpw_bin(w, key, (uint32_t) VG_MIN(key_len, UINT32_MAX));
    return w->err;
}

/* ---- planning ---------------------------------------------------------------- */

void vg_cstate_plan_fini(vg_cstate_plan_t *plan)
{
    if (!plan) return;
    vg_free(plan->moves);
    memset(plan, 0, sizeof *plan);
}

/* Per-member shard counts (by member index), the plan's working copy. */
static uint32_t *s_counts(const vg_cstate_t *s)
{
    uint32_t *counts = vg_calloc(s->n_members ? s->n_members : 1, sizeof *counts);
    for (uint32_t i = 0; i < s->n_members; i++) counts[i] = s->members[i].n_shards;
    return counts;
}

int vg_cstate_plan_join(const vg_cstate_t *s, uint32_t node, vg_cstate_plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    if (!s->n_shards) return VG_ERR_INVALID;
    long at = s_find(s, node);
    if (at < 0 || !s_can_own(&s->members[at])) return VG_ERR_INVALID;
    uint32_t ni = (uint32_t) at;
    uint32_t owners = 0;
    for (uint32_t i = 0; i < s->n_members; i++) owners += (i != ni && s->members[i].n_shards);
    uint32_t target = s->n_shards / (owners + 1), have = s->members[ni].n_shards;
    plan->map_epoch = s->map_epoch;
    if (have >= target) return 0;
    uint32_t *counts = s_counts(s), *cursor = vg_calloc(s->n_members, sizeof *cursor);
    plan->moves = vg_malloc((target - have) * sizeof *plan->moves);
    for (uint32_t k = 0; k < target - have; k++) {
        uint32_t d = UINT32_MAX; /* the most-loaded donor, lowest id on ties */
        for (uint32_t i = 0; i < s->n_members; i++)
            if (i != ni && counts[i] && (d == UINT32_MAX || counts[i] > counts[d])) d = i;
        VG_ASSERT(d != UINT32_MAX);
        while (s->owner[cursor[d]] != s->members[d].id) cursor[d]++;
        uint32_t shard = cursor[d]++;
        plan->moves[plan->n++] = (vg_cstate_move_t){shard, s->members[d].id, node, s->epoch[shard]};
        counts[d]--;
    }
    vg_free(cursor);
    vg_free(counts);
    return 0;
}

/* Moves every shard of node (which must be in state `need`) to the least
 * loaded ACTIVE member, one shard at a time in shard order. */
static int s_plan_evacuate(const vg_cstate_t *s, uint32_t node, uint8_t need,
                           vg_cstate_plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    long at = s_find(s, node);
    if (at < 0) return VG_ERR_NOT_FOUND;
    uint32_t ni = (uint32_t) at;
    if (s->members[ni].state != need) return VG_ERR_INVALID;
    plan->map_epoch = s->map_epoch;
    uint32_t n = s->members[ni].n_shards;
    if (!n) return 0;
    uint32_t *counts = s_counts(s);
    bool any = false;
    for (uint32_t i = 0; i < s->n_members; i++)
        any |= (i != ni && s->members[i].state == VG_MEMBER_ACTIVE);
    if (!any) {
        vg_free(counts);
        return VG_ERR_NOT_FOUND;
    }
    plan->moves = vg_malloc(n * sizeof *plan->moves);
    for (uint32_t shard = 0; shard < s->n_shards; shard++) {
        if (s->owner[shard] != node) continue;
        uint32_t r = UINT32_MAX; /* least loaded receiver, lowest id on ties */
        for (uint32_t i = 0; i < s->n_members; i++)
            if (i != ni && s->members[i].state == VG_MEMBER_ACTIVE &&
                (r == UINT32_MAX || counts[i] < counts[r]))
                r = i;
        plan->moves[plan->n++] = (vg_cstate_move_t){shard, node, s->members[r].id, s->epoch[shard]};
        counts[r]++;
    }
    vg_free(counts);
    return 0;
}

int vg_cstate_plan_drain(const vg_cstate_t *s, uint32_t node, vg_cstate_plan_t *plan)
{
    return s_plan_evacuate(s, node, VG_MEMBER_DRAINING, plan);
}

int vg_cstate_plan_down(const vg_cstate_t *s, uint32_t node, vg_cstate_plan_t *plan)
{
    return s_plan_evacuate(s, node, VG_MEMBER_DOWN, plan);
}
