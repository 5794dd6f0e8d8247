/* test_cstate.c: the replicated cluster state: command sequences, rejected
 * commands (with their messages, state untouched), move plans for joins
 * 1 -> 7 nodes checked shard by shard, drain/down balance, snapshot round
 * trips, and truncated / bit-flipped commands and snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_cstate.h"
#include "vg_err.h"
#include "vg_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vg_mpw_t g_w; /* the command being built */

static vg_mpw_t *cmd(void)
{
    vg_mpw_reset(&g_w);
    return &g_w;
}

static void expect_ok(vg_cstate_t *s)
{
    vg_cstate_result_t res;
    int rc = vg_cstate_apply(s, g_w.buf, g_w.len, &res);
    if (rc) fprintf(stderr, "unexpected rejection: %s\n", res.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(res.code, 0);
}

/* Applies p expecting code and msg to contain want; the state must not change. */
static void expect_err_bytes(vg_cstate_t *s, const void *p, size_t len, int code, const char *want)
{
    vg_mpw_t before;
    vg_mpw_init(&before);
    vg_cstate_snapshot_encode(s, &before);
    vg_cstate_result_t res;
    int rc = vg_cstate_apply(s, p, len, &res);
    if (rc != code || !strstr(res.msg, want))
        fprintf(stderr, "got %s \"%s\", want %s \"%s\"\n", vg_errname(rc), res.msg,
                vg_errname(code), want);
    assert_int_equal(rc, code);
    assert_int_equal(res.code, code);
    assert_non_null(strstr(res.msg, want));
    vg_mpw_t after;
    vg_mpw_init(&after);
    vg_cstate_snapshot_encode(s, &after);
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.buf, after.buf, before.len);
    vg_mpw_fini(&before);
    vg_mpw_fini(&after);
}

static void expect_err(vg_cstate_t *s, int code, const char *want)
{
    expect_err_bytes(s, g_w.buf, g_w.len, code, want);
}

static void add_member(vg_cstate_t *s, uint32_t id, vg_member_state st)
{
    char data[32], raft[32];
    snprintf(data, sizeof data, "10.0.0.%u:7000", id);
    snprintf(raft, sizeof raft, "10.0.0.%u:7100", id);
    vg_cstate_cmd_add_member(cmd(), id, data, raft, id <= 3, st);
    expect_ok(s);
}

static void apply_plan(vg_cstate_t *s, const vg_cstate_plan_t *plan)
{
    vg_cstate_cmd_assign_plan(cmd(), plan);
    expect_ok(s);
}

static uint32_t owner_of(const vg_cstate_t *s, uint32_t shard)
{
    uint32_t o = 0;
    assert_int_equal(vg_cstate_shard(s, shard, &o, NULL), 0);
    return o;
}

static uint64_t epoch_of(const vg_cstate_t *s, uint32_t shard)
{
    uint64_t e = 0;
    assert_int_equal(vg_cstate_shard(s, shard, NULL, &e), 0);
    return e;
}

/* max - min of the shard counts of the listed nodes */
static uint32_t spread(const vg_cstate_t *s, const uint32_t *ids, size_t n)
{
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = vg_cstate_shard_count(s, ids[i]);
        lo = VG_MIN(lo, c);
        hi = VG_MAX(hi, c);
    }
    return hi - lo;
}

/* ---- sequences ------------------------------------------------------------ */

static void test_apply_sequence(void **state)
{
    (void) state;
    vg_cstate_t *s = vg_cstate_new();
    assert_int_equal(vg_cstate_n_shards(s), 0);
    assert_int_equal(vg_cstate_map_epoch(s), 0);
    add_member(s, 1, VG_MEMBER_ACTIVE);
    add_member(s, 2, VG_MEMBER_JOINING);
    uint32_t owners[] = {1};
    vg_cstate_cmd_init_map(cmd(), VG_CSTATE_DEFAULT_SHARDS, owners, 1);
    expect_ok(s);
    assert_int_equal(vg_cstate_n_shards(s), 1024);
    assert_int_equal(vg_cstate_map_epoch(s), 1);
    assert_int_equal(vg_cstate_shard_count(s, 1), 1024);
    assert_int_equal(epoch_of(s, 77), 1);

    vg_cstate_move_t mv[] = {{.shard = 5, .to = 2, .epoch = 1}, {.shard = 900, .to = 2}};
    vg_cstate_cmd_assign_shards(cmd(), 1, mv, 2);
    expect_ok(s);
    assert_int_equal(owner_of(s, 5), 2);
    assert_int_equal(epoch_of(s, 5), 2);
    assert_int_equal(epoch_of(s, 900), 2);
    assert_int_equal(epoch_of(s, 6), 1);
    assert_int_equal(vg_cstate_map_epoch(s), 2);
    assert_int_equal(vg_cstate_shard_count(s, 2), 2);
    assert_int_equal(vg_cstate_shard_count(s, 1), 1022);

    vg_cstate_cmd_set_member_state(cmd(), 2, VG_MEMBER_ACTIVE);
    expect_ok(s);
    vg_cstate_cmd_set_member_voter(cmd(), 2, false);
    expect_ok(s);
    vg_cstate_member_t m;
    assert_int_equal(vg_cstate_member_get(s, 2, &m), 0);
    assert_int_equal(m.state, VG_MEMBER_ACTIVE);
    assert_false(m.voter);
    assert_string_equal(m.data_addr, "10.0.0.2:7000");
    assert_string_equal(m.raft_addr, "10.0.0.2:7100");
    assert_int_equal(m.n_shards, 2);
    assert_int_equal(vg_cstate_voter_count(s), 1);

    /* move back, drain-style, then remove node 2 */
    vg_cstate_move_t back[] = {{.shard = 5, .to = 1, .epoch = 2},
                               {.shard = 900, .to = 1, .epoch = 2}};
    vg_cstate_cmd_assign_shards(cmd(), 0, back, 2);
    expect_ok(s);
    assert_int_equal(epoch_of(s, 5), 3);
    vg_cstate_cmd_remove_member(cmd(), 2);
    expect_ok(s);
    assert_int_equal(vg_cstate_member_get(s, 2, &m), 0);
    assert_int_equal(m.state, VG_MEMBER_REMOVED);
    assert_int_equal(vg_cstate_member_count(s), 2);
    /* a removed id can come back */
    vg_cstate_cmd_add_member(cmd(), 2, "10.0.1.2:7000", "10.0.1.2:7100", false, VG_MEMBER_JOINING);
    expect_ok(s);
    assert_int_equal(vg_cstate_member_at(s, 1, &m), 0);
    assert_int_equal(m.id, 2);
    assert_string_equal(m.data_addr, "10.0.1.2:7000");
    assert_int_equal(vg_cstate_member_at(s, 2, &m), VG_ERR_NOT_FOUND);
    assert_int_equal(vg_cstate_applied(s), 9);
    assert_string_equal(vg_cstate_member_state_name(VG_MEMBER_DRAINING), "draining");
    assert_string_equal(vg_cstate_cmd_name(VG_CSTATE_ASSIGN_SHARDS), "ASSIGN_SHARDS");
    vg_cstate_destroy(&s);
    assert_null(s);
    vg_cstate_destroy(&s);
}

static void test_blob_versions(void **state)
{
    (void) state;
    vg_cstate_t *s = vg_cstate_new();
    uint8_t hash[32];
    for (uint64_t v = 1; v <= 70; v++) {
        memset(hash, (int) v, sizeof hash);
        vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "fraud-core", v, hash, sizeof hash, 100 + v);
        expect_ok(s);
        if (v == 2) {
            vg_cstate_cmd_activate_blob(cmd(), VG_BLOB_RULESET, "fraud-core", 2);
            expect_ok(s);
        }
    }
    /* 64 kept; the active version 2 survives pruning, 1 and 3..7 went */
    const char *name;
    uint64_t active;
    size_t nv;
    assert_int_equal(vg_cstate_blob_name_count(s, VG_BLOB_RULESET), 1);
    assert_int_equal(vg_cstate_blob_name_at(s, VG_BLOB_RULESET, 0, &name, &active, &nv), 0);
    assert_string_equal(name, "fraud-core");
    assert_int_equal(active, 2);
    assert_int_equal(nv, VG_CSTATE_MAX_VERSIONS);
    vg_cstate_blob_t b;
    assert_int_equal(vg_cstate_blob_get(s, VG_BLOB_RULESET, "fraud-core", 0, &b), 0);
    assert_int_equal(b.version, 2);
    assert_int_equal(b.size, 102);
    assert_int_equal(b.hash_len, 32);
    assert_int_equal(b.hash[0], 2);
    assert_int_equal(vg_cstate_blob_get(s, VG_BLOB_RULESET, "fraud-core", 1, &b), VG_ERR_NOT_FOUND);
    assert_int_equal(vg_cstate_blob_get(s, VG_BLOB_RULESET, "fraud-core", 7, &b), VG_ERR_NOT_FOUND);
    assert_int_equal(vg_cstate_blob_get(s, VG_BLOB_RULESET, "fraud-core", 8, &b), 0);
    assert_int_equal(vg_cstate_blob_get(s, VG_BLOB_RULESET, "fraud-core", 70, &b), 0);
    /* rollback = activate an older version; models are a separate namespace */
    vg_cstate_cmd_activate_blob(cmd(), VG_BLOB_RULESET, "fraud-core", 69);
    expect_ok(s);
    vg_cstate_cmd_activate_blob(cmd(), VG_BLOB_RULESET, "fraud-core", 30);
    expect_ok(s);
    assert_int_equal(vg_cstate_blob_get(s, VG_BLOB_RULESET, "fraud-core", 0, &b), 0);
    assert_int_equal(b.version, 30);
    assert_int_equal(vg_cstate_blob_get(s, VG_BLOB_MODEL, "fraud-core", 0, &b), VG_ERR_NOT_FOUND);
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_MODEL, "iforest", 1, hash, 32, 4096);
    expect_ok(s);
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_MODEL, "aaa", 3, NULL, 0, 0);
    expect_ok(s);
    assert_int_equal(vg_cstate_blob_name_count(s, VG_BLOB_MODEL), 2);
    assert_int_equal(vg_cstate_blob_name_at(s, VG_BLOB_MODEL, 0, &name, &active, &nv), 0);
    assert_string_equal(name, "aaa"); /* bytewise order */
    assert_int_equal(active, 0);
    assert_int_equal(vg_cstate_blob_get(s, VG_BLOB_MODEL, "aaa", 0, &b), VG_ERR_NOT_FOUND);
    vg_cstate_destroy(&s);
}

/* ---- rejected commands ------------------------------------------------------ */

/* Members 1, 2 (active) and 3 (joining); with_map: 64 shards on 1 and 2. */
static vg_cstate_t *small_cluster(bool with_map)
{
    vg_cstate_t *s = vg_cstate_new();
    add_member(s, 1, VG_MEMBER_ACTIVE);
    add_member(s, 2, VG_MEMBER_ACTIVE);
    add_member(s, 3, VG_MEMBER_JOINING);
    uint32_t owners[] = {1, 2};
    if (with_map) {
        vg_cstate_cmd_init_map(cmd(), 64, owners, 2);
        expect_ok(s);
    }
    return s;
}

/* INIT_MAP and moves before it */
static void test_invalid_map(void **state)
{
    (void) state;
    vg_cstate_t *s = small_cluster(false);
    uint32_t owners[] = {1, 2};
    vg_cstate_move_t mv0 = {.shard = 0, .to = 1};
    vg_cstate_cmd_assign_shards(cmd(), 0, &mv0, 1);
    expect_err(s, VG_ERR_INVALID, "ASSIGN_SHARDS: the shard map is not initialized");
    vg_cstate_cmd_init_map(cmd(), 0, owners, 2);
    expect_err(s, VG_ERR_INVALID, "n_shards must be");
    vg_cstate_cmd_init_map(cmd(), 64, owners, 0);
    expect_err(s, VG_ERR_INVALID, "need 1..n_shards owners");
    uint32_t bad_owners[] = {1, 9};
    vg_cstate_cmd_init_map(cmd(), 64, bad_owners, 2);
    expect_err(s, VG_ERR_INVALID, "owner 9 is not a joining or active member");
    uint32_t dup_owners[] = {2, 2};
    vg_cstate_cmd_init_map(cmd(), 64, dup_owners, 2);
    expect_err(s, VG_ERR_INVALID, "owner 2 listed twice");
    vg_cstate_cmd_init_map(cmd(), 64, owners, 2);
    expect_ok(s);
    vg_cstate_cmd_init_map(cmd(), 64, owners, 2);
    expect_err(s, VG_ERR_EXISTS, "already initialized");
    vg_cstate_destroy(&s);
}

/* ADD / SET / REMOVE member */
static void test_invalid_members(void **state)
{
    (void) state;
    vg_cstate_t *s = small_cluster(true);
    vg_cstate_cmd_add_member(cmd(), 0, "h:1", "h:2", false, VG_MEMBER_JOINING);
    expect_err(s, VG_ERR_INVALID, "ADD_MEMBER: id must be > 0");
    vg_cstate_cmd_add_member(cmd(), 1, "h:1", "h:2", false, VG_MEMBER_JOINING);
    expect_err(s, VG_ERR_EXISTS, "node 1 is already a member");
    vg_cstate_cmd_add_member(cmd(), 7, "10.0.0.1:7000", "h:2", false, VG_MEMBER_JOINING);
    expect_err(s, VG_ERR_EXISTS, "address already used");
    vg_cstate_cmd_add_member(cmd(), 7, "nohost", "h:2", false, VG_MEMBER_JOINING);
    expect_err(s, VG_ERR_INVALID, "host:port");
    vg_cstate_cmd_add_member(cmd(), 7, "h:99999", "h:2", false, VG_MEMBER_JOINING);
    expect_err(s, VG_ERR_INVALID, "host:port");
    vg_cstate_cmd_add_member(cmd(), 7, "h :1", "h:2", false, VG_MEMBER_JOINING);
    expect_err(s, VG_ERR_INVALID, "host:port");
    vg_cstate_cmd_add_member(cmd(), 7, "h:1", "h:1", false, VG_MEMBER_JOINING);
    expect_err(s, VG_ERR_INVALID, "are equal");
    vg_cstate_cmd_add_member(cmd(), 7, "h:1", "h:2", false, VG_MEMBER_DOWN);
    expect_err(s, VG_ERR_INVALID, "state must be joining or active");
    vg_cstate_cmd_set_member_state(cmd(), 9, VG_MEMBER_DOWN);
    expect_err(s, VG_ERR_NOT_FOUND, "SET_MEMBER_STATE: node 9 is not a member");
    vg_cstate_cmd_set_member_state(cmd(), 1, VG_MEMBER_REMOVED);
    expect_err(s, VG_ERR_INVALID, "state must be active, draining or down");
    vg_cstate_cmd_set_member_state(cmd(), 1, (vg_member_state) 77);
    expect_err(s, VG_ERR_INVALID, "state must be");
    vg_cstate_cmd_remove_member(cmd(), 1);
    expect_err(s, VG_ERR_INVALID, "REMOVE_MEMBER: node 1 still owns 32 shards");
    vg_cstate_cmd_set_member_voter(cmd(), 42, true);
    expect_err(s, VG_ERR_NOT_FOUND, "node 42 is not a member");
    vg_cstate_destroy(&s);
}

/* ASSIGN_SHARDS: ranges, epochs, owners, atomicity */
static void test_invalid_moves(void **state)
{
    (void) state;
    vg_cstate_t *s = small_cluster(true);
    vg_cstate_move_t mv[2] = {{.shard = 64, .to = 2}};
    vg_cstate_cmd_assign_shards(cmd(), 0, mv, 1);
    expect_err(s, VG_ERR_INVALID, "shard 64 out of range (64 shards)");
    mv[0] = (vg_cstate_move_t){.shard = 0, .to = 9};
    vg_cstate_cmd_assign_shards(cmd(), 0, mv, 1);
    expect_err(s, VG_ERR_INVALID, "shard 0: owner 9 is not a joining or active member");
    mv[0] = (vg_cstate_move_t){.shard = 0, .to = 1}; /* shard 0 is node 1's already */
    vg_cstate_cmd_assign_shards(cmd(), 0, mv, 1);
    expect_err(s, VG_ERR_INVALID, "shard 0: already owned by 1");
    mv[0] = (vg_cstate_move_t){.shard = 0, .to = 3, .epoch = 5};
    vg_cstate_cmd_assign_shards(cmd(), 0, mv, 1);
    expect_err(s, VG_ERR_INVALID, "shard 0: stale epoch 5 (now 1)");
    mv[0] = (vg_cstate_move_t){.shard = 0, .to = 3};
    vg_cstate_cmd_assign_shards(cmd(), 7, mv, 1);
    expect_err(s, VG_ERR_INVALID, "stale plan: map epoch is 1, plan was made at 7");
    mv[1] = (vg_cstate_move_t){.shard = 0, .to = 2};
    vg_cstate_cmd_assign_shards(cmd(), 0, mv, 2);
    expect_err(s, VG_ERR_INVALID, "shard 0 moved twice");
    vg_cstate_cmd_assign_shards(cmd(), 0, mv, 0);
    expect_err(s, VG_ERR_INVALID, "need 1..64 moves");
    /* a good move after a bad one: nothing applied */
    mv[0] = (vg_cstate_move_t){.shard = 0, .to = 3};
    mv[1] = (vg_cstate_move_t){.shard = 1, .to = 8};
    vg_cstate_cmd_assign_shards(cmd(), 0, mv, 2);
    expect_err(s, VG_ERR_INVALID, "owner 8");
    vg_cstate_cmd_set_member_state(cmd(), 3, VG_MEMBER_DRAINING);
    expect_ok(s);
    mv[0] = (vg_cstate_move_t){.shard = 0, .to = 3};
    vg_cstate_cmd_assign_shards(cmd(), 0, mv, 1);
    expect_err(s, VG_ERR_INVALID, "owner 3 is not a joining or active member");
    vg_cstate_destroy(&s);
}

/* rule set / model versions */
static void test_invalid_blobs(void **state)
{
    (void) state;
    vg_cstate_t *s = small_cluster(true);
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "bad name", 1, "h", 1, 1);
    expect_err(s, VG_ERR_INVALID, "name: 1..64 bytes");
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "", 1, "h", 1, 1);
    expect_err(s, VG_ERR_INVALID, "name:");
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "r", 0, "h", 1, 1);
    expect_err(s, VG_ERR_INVALID, "version must be > 0");
    uint8_t big[65] = {0};
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_MODEL, "m", 1, big, sizeof big, 1);
    expect_err(s, VG_ERR_INVALID, "PUT_MODEL_VERSION: hash: at most 64 bytes");
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "r", 5, "h", 1, 1);
    expect_ok(s);
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "r", 5, "h", 1, 1);
    expect_err(s, VG_ERR_EXISTS, "r version 5 already exists");
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "r", 4, "h", 1, 1);
    expect_err(s, VG_ERR_INVALID, "version 4 is below the latest (5)");
    vg_cstate_cmd_activate_blob(cmd(), VG_BLOB_RULESET, "r", 6);
    expect_err(s, VG_ERR_NOT_FOUND, "ACTIVATE_RULESET: r: no version 6");
    vg_cstate_cmd_activate_blob(cmd(), VG_BLOB_MODEL, "r", 5);
    expect_err(s, VG_ERR_NOT_FOUND, "ACTIVATE_MODEL: r: no such name");
    vg_cstate_destroy(&s);
}

/* encodings: version, type, field count and types, trailing bytes, lying counts */
static void test_malformed(void **state)
{
    (void) state;
    vg_cstate_t *s = small_cluster(true);
    vg_mpw_t *w = cmd();
    vg_mpw_array(w, 2);
    vg_mpw_uint(w, 2);
    vg_mpw_uint(w, VG_CSTATE_ADD_MEMBER);
    expect_err(s, VG_ERR_UNSUPPORTED, "command version 2");
    w = cmd();
    vg_mpw_array(w, 2);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, 99);
    expect_err(s, VG_ERR_UNSUPPORTED, "unknown command type 99");
    w = cmd();
    vg_mpw_array(w, 3);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, VG_CSTATE_REMOVE_MEMBER);
    vg_mpw_str(w, "x", 1);
    expect_err(s, VG_ERR_PARSE, "REMOVE_MEMBER: id: expected");
    w = cmd();
    vg_mpw_array(w, 4);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, VG_CSTATE_REMOVE_MEMBER);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, 1);
    expect_err(s, VG_ERR_PARSE, "REMOVE_MEMBER takes 1 fields, got 2");
    w = cmd();
    vg_mpw_map(w, 0);
    expect_err(s, VG_ERR_PARSE, "command: expected an array");
    vg_cstate_cmd_set_member_voter(cmd(), 1, true);
    vg_mpw_nil(&g_w); /* a trailing byte */
    expect_err(s, VG_ERR_PARSE, "1 trailing bytes");
    w = cmd();
    vg_mpw_array(w, 4);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, VG_CSTATE_ASSIGN_SHARDS);
    vg_mpw_uint(w, 0);
    vg_mpw_array(w, 1);
    vg_mpw_array(w, 2);
    vg_mpw_uint(w, 0);
    vg_mpw_uint(w, 3);
    expect_err(s, VG_ERR_PARSE, "each move is [shard, owner, epoch]");
    /* a lying array header: 4 billion moves in 12 bytes */
    static const uint8_t liar[] = {0x94, 0x01, 0x06, 0x00, 0xdd, 0xff,
                                   0xff, 0xff, 0xff, 0x93, 0,    1};
    expect_err_bytes(s, liar, sizeof liar, VG_ERR_PARSE, "exceeds the remaining bytes");
    vg_cstate_result_t res;
    assert_int_equal(vg_cstate_apply(s, NULL, 0, &res), VG_ERR_PARSE);
    assert_int_equal(vg_cstate_apply(s, "", 0, NULL), VG_ERR_PARSE);
    vg_cstate_destroy(&s);
}

/* ---- planning --------------------------------------------------------------------- */

/* Joins nodes 2..max_n one at a time into an n_shards map owned by node 1,
 * checking each plan shard by shard. */
static void join_sequence(uint32_t n_shards, uint32_t max_n)
{
    vg_cstate_t *s = vg_cstate_new();
    add_member(s, 1, VG_MEMBER_ACTIVE);
    uint32_t one = 1;
    vg_cstate_cmd_init_map(cmd(), n_shards, &one, 1);
    expect_ok(s);
    uint32_t *before_owner = vg_malloc(n_shards * sizeof *before_owner);
    uint64_t *before_epoch = vg_malloc(n_shards * sizeof *before_epoch);
    uint32_t ids[16];
    ids[0] = 1;
    for (uint32_t n = 2; n <= max_n; n++) {
        add_member(s, n, VG_MEMBER_JOINING);
        ids[n - 1] = n;
        for (uint32_t i = 0; i < n_shards; i++)
            vg_cstate_shard(s, i, &before_owner[i], &before_epoch[i]);
        vg_cstate_plan_t plan;
        assert_int_equal(vg_cstate_plan_join(s, n, &plan), 0);
        assert_int_equal(plan.n, n_shards / n); /* ≈ S/N: exactly floor(S/N) from 0 */
        assert_int_equal(plan.map_epoch, vg_cstate_map_epoch(s));
        for (size_t k = 0; k < plan.n; k++) {
            assert_int_equal(plan.moves[k].to, n);
            assert_int_equal(plan.moves[k].from, before_owner[plan.moves[k].shard]);
        }
        uint64_t map_epoch = vg_cstate_map_epoch(s);
        apply_plan(s, &plan);
        assert_int_equal(vg_cstate_map_epoch(s), map_epoch + 1);
        /* every shard: either unchanged, or moved from an old node to the new one */
        size_t moved = 0;
        for (uint32_t i = 0; i < n_shards; i++) {
            uint32_t o = owner_of(s, i);
            if (o == before_owner[i]) {
                assert_int_equal(epoch_of(s, i), before_epoch[i]);
                continue;
            }
            moved++;
            assert_int_equal(o, n);
            assert_int_equal(epoch_of(s, i), before_epoch[i] + 1);
        }
        assert_int_equal(moved, plan.n);
        assert_true(spread(s, ids, n) <= 1);
        /* joining again is a no-op plan */
        vg_cstate_plan_fini(&plan);
        assert_int_equal(vg_cstate_plan_join(s, n, &plan), 0);
        assert_int_equal(plan.n, 0);
        vg_cstate_plan_fini(&plan);
        vg_cstate_cmd_set_member_state(cmd(), n, VG_MEMBER_ACTIVE);
        expect_ok(s);
    }
    vg_free(before_owner);
    vg_free(before_epoch);
    vg_cstate_destroy(&s);
}

static void test_plan_join(void **state)
{
    (void) state;
    join_sequence(VG_CSTATE_DEFAULT_SHARDS, 4); /* 1 -> 2 -> 3 -> 4 */
    join_sequence(1000, 7);
    join_sequence(5, 5); /* fewer shards than a comfortable spread */

    vg_cstate_t *s = vg_cstate_new();
    vg_cstate_plan_t plan;
    assert_int_equal(vg_cstate_plan_join(s, 1, &plan), VG_ERR_INVALID); /* no map */
    add_member(s, 1, VG_MEMBER_ACTIVE);
    uint32_t one = 1;
    vg_cstate_cmd_init_map(cmd(), 16, &one, 1);
    expect_ok(s);
    assert_int_equal(vg_cstate_plan_join(s, 9, &plan), VG_ERR_INVALID); /* not a member */
    add_member(s, 2, VG_MEMBER_ACTIVE);
    vg_cstate_cmd_set_member_state(cmd(), 2, VG_MEMBER_DOWN);
    expect_ok(s);
    assert_int_equal(vg_cstate_plan_join(s, 2, &plan), VG_ERR_INVALID); /* down */
    assert_null(plan.moves);
    vg_cstate_plan_fini(&plan);
    vg_cstate_destroy(&s);
}

/* 4 balanced nodes (256 shards each of 1024). */
static vg_cstate_t *four_nodes(void)
{
    vg_cstate_t *s = vg_cstate_new();
    uint32_t owners[4] = {1, 2, 3, 4};
    for (uint32_t i = 1; i <= 4; i++) add_member(s, i, VG_MEMBER_ACTIVE);
    vg_cstate_cmd_init_map(cmd(), 1024, owners, 4);
    expect_ok(s);
    return s;
}

static void check_evacuation(vg_cstate_t *s, uint32_t node, const vg_cstate_plan_t *plan)
{
    uint32_t n = vg_cstate_shard_count(s, node);
    assert_int_equal(plan->n, n);
    for (size_t k = 0; k < plan->n; k++) {
        assert_int_equal(plan->moves[k].from, node);
        assert_int_equal(owner_of(s, plan->moves[k].shard), node);
        vg_cstate_member_t m;
        assert_int_equal(vg_cstate_member_get(s, plan->moves[k].to, &m), 0);
        assert_int_equal(m.state, VG_MEMBER_ACTIVE);
    }
    apply_plan(s, plan);
    assert_int_equal(vg_cstate_shard_count(s, node), 0);
}

static void test_plan_drain_down(void **state)
{
    (void) state;
    vg_cstate_t *s = four_nodes();
    vg_cstate_plan_t plan;
    assert_int_equal(vg_cstate_plan_drain(s, 4, &plan), VG_ERR_INVALID); /* still active */
    assert_int_equal(vg_cstate_plan_drain(s, 9, &plan), VG_ERR_NOT_FOUND);
    vg_cstate_cmd_set_member_state(cmd(), 4, VG_MEMBER_DRAINING);
    expect_ok(s);
    assert_int_equal(vg_cstate_plan_drain(s, 4, &plan), 0);
    check_evacuation(s, 4, &plan);
    vg_cstate_plan_fini(&plan);
    uint32_t three[] = {1, 2, 3};
    assert_true(spread(s, three, 3) <= 1); /* 342/341/341 */
    vg_cstate_cmd_remove_member(cmd(), 4);
    expect_ok(s);

    /* node 3 dies */
    vg_cstate_cmd_set_member_state(cmd(), 3, VG_MEMBER_DOWN);
    expect_ok(s);
    assert_int_equal(vg_cstate_plan_drain(s, 3, &plan), VG_ERR_INVALID); /* down, not draining */
    assert_int_equal(vg_cstate_plan_down(s, 3, &plan), 0);
    check_evacuation(s, 3, &plan);
    vg_cstate_plan_fini(&plan);
    uint32_t two[] = {1, 2};
    assert_true(spread(s, two, 2) <= 1);
    assert_int_equal(vg_cstate_shard_count(s, 1) + vg_cstate_shard_count(s, 2), 1024);

    /* a joining node does not receive failed-over shards; nobody active left */
    add_member(s, 5, VG_MEMBER_JOINING);
    vg_cstate_cmd_set_member_state(cmd(), 2, VG_MEMBER_DOWN);
    expect_ok(s);
    assert_int_equal(vg_cstate_plan_down(s, 2, &plan), 0);
    for (size_t k = 0; k < plan.n; k++) assert_int_equal(plan.moves[k].to, 1);
    vg_cstate_plan_fini(&plan);
    vg_cstate_cmd_set_member_state(cmd(), 1, VG_MEMBER_DOWN);
    expect_ok(s);
    assert_int_equal(vg_cstate_plan_down(s, 2, &plan), VG_ERR_NOT_FOUND);
    vg_cstate_destroy(&s);

    /* uneven start: least-loaded receivers catch up first */
    s = four_nodes();
    vg_cstate_move_t mv[100];
    for (uint32_t i = 0; i < 100; i++) mv[i] = (vg_cstate_move_t){.shard = i * 4 + 1, .to = 1};
    vg_cstate_cmd_assign_shards(cmd(), 0, mv, 100); /* node 1: 356, node 2: 156 */
    expect_ok(s);
    vg_cstate_cmd_set_member_state(cmd(), 4, VG_MEMBER_DRAINING);
    expect_ok(s);
    assert_int_equal(vg_cstate_plan_drain(s, 4, &plan), 0);
    check_evacuation(s, 4, &plan);
    vg_cstate_plan_fini(&plan);
    assert_int_equal(vg_cstate_shard_count(s, 1), 356); /* got nothing */
    uint32_t low[] = {2, 3};
    assert_true(spread(s, low, 2) <= 1);
    vg_cstate_destroy(&s);
}

/* ---- snapshots ---------------------------------------------------------------------- */

static vg_cstate_t *rich_state(void)
{
    vg_cstate_t *s = four_nodes();
    vg_cstate_cmd_set_member_state(cmd(), 4, VG_MEMBER_DRAINING);
    expect_ok(s);
    vg_cstate_plan_t plan;
    assert_int_equal(vg_cstate_plan_drain(s, 4, &plan), 0);
    apply_plan(s, &plan);
    vg_cstate_plan_fini(&plan);
    vg_cstate_cmd_remove_member(cmd(), 4);
    expect_ok(s);
    add_member(s, 5, VG_MEMBER_JOINING);
    vg_cstate_cmd_set_member_state(cmd(), 3, VG_MEMBER_DOWN);
    expect_ok(s);
    uint8_t hash[32];
    for (uint64_t v = 1; v <= 3; v++) {
        memset(hash, (int) (0xa0 + v), sizeof hash);
        vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "core", v, hash, 32, v * 10);
        expect_ok(s);
        vg_cstate_cmd_put_blob(cmd(), VG_BLOB_MODEL, "iforest", v * 2, hash, 20, v * 1000);
        expect_ok(s);
    }
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "aux", 1, NULL, 0, 0);
    expect_ok(s);
    vg_cstate_cmd_activate_blob(cmd(), VG_BLOB_RULESET, "core", 2);
    expect_ok(s);
    vg_cstate_cmd_activate_blob(cmd(), VG_BLOB_MODEL, "iforest", 6);
    expect_ok(s);
    vg_cstate_cmd_kv_put(cmd(), VG_KV_USERS, "bob", 3, "\x01\x02", 2);
    expect_ok(s);
    vg_cstate_cmd_kv_put(cmd(), VG_KV_USERS, "alice", 5, "", 0);
    expect_ok(s);
    vg_cstate_cmd_kv_put(cmd(), VG_KV_SETTINGS, "jwt_secret", 10, "0123456789abcdef", 16);
    expect_ok(s);
    return s;
}

static void test_kv(void **state)
{
    (void) state;
    vg_cstate_t *s = vg_cstate_new();
    const uint8_t *v;
    size_t len, klen;
    const char *key;
    assert_int_equal(vg_cstate_kv_gen(s, VG_KV_USERS), 0);
    assert_int_equal(vg_cstate_kv_get(s, VG_KV_USERS, "a", 1, &v, &len), VG_ERR_NOT_FOUND);
    const char *keys[] = {"m", "b", "zz", "a", "bb"};
    for (int i = 0; i < 5; i++) {
        vg_cstate_cmd_kv_put(cmd(), VG_KV_LABELS, keys[i], strlen(keys[i]), keys[i], 1);
        expect_ok(s);
    }
    assert_int_equal(vg_cstate_kv_count(s, VG_KV_LABELS), 5);
    assert_int_equal(vg_cstate_kv_gen(s, VG_KV_LABELS), 5);
    const char *sorted[] = {"a", "b", "bb", "m", "zz"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(vg_cstate_kv_at(s, VG_KV_LABELS, i, &key, &klen, &v, &len), 0);
        assert_int_equal(klen, strlen(sorted[i]));
        assert_memory_equal(key, sorted[i], klen);
        assert_int_equal(key[klen], 0); /* NUL-terminated */
    }
    assert_int_equal(vg_cstate_kv_at(s, VG_KV_LABELS, 5, &key, &klen, &v, &len), VG_ERR_NOT_FOUND);
    /* replace */
    vg_cstate_cmd_kv_put(cmd(), VG_KV_LABELS, "bb", 2, "new value", 9);
    expect_ok(s);
    assert_int_equal(vg_cstate_kv_get(s, VG_KV_LABELS, "bb", 2, &v, &len), 0);
    assert_int_equal(len, 9);
    assert_memory_equal(v, "new value", 9);
    assert_int_equal(vg_cstate_kv_count(s, VG_KV_LABELS), 5);
    /* add: insert only */
    vg_cstate_cmd_kv_write(cmd(), true, VG_KV_LABELS, "bb", 2, "x", 1);
    expect_err(s, VG_ERR_EXISTS, "KV_ADD: key exists");
    vg_cstate_cmd_kv_write(cmd(), true, VG_KV_LABELS, "c", 1, "x", 1);
    expect_ok(s);
    vg_cstate_cmd_kv_del(cmd(), VG_KV_LABELS, "c", 1);
    expect_ok(s);
    /* delete */
    vg_cstate_cmd_kv_del(cmd(), VG_KV_LABELS, "b", 1);
    expect_ok(s);
    assert_int_equal(vg_cstate_kv_get(s, VG_KV_LABELS, "b", 1, &v, &len), VG_ERR_NOT_FOUND);
    assert_int_equal(vg_cstate_kv_get(s, VG_KV_LABELS, "bb", 2, &v, &len), 0);
    assert_int_equal(vg_cstate_kv_gen(s, VG_KV_LABELS), 9);
    /* refusals leave the state alone */
    vg_cstate_cmd_kv_del(cmd(), VG_KV_LABELS, "b", 1);
    expect_err(s, VG_ERR_NOT_FOUND, "KV_DEL: no such key");
    vg_cstate_cmd_kv_put(cmd(), 9, "k", 1, "v", 1);
    expect_err(s, VG_ERR_INVALID, "table 9: unknown");
    vg_cstate_cmd_kv_put(cmd(), VG_KV_USERS, "", 0, "v", 1);
    expect_err(s, VG_ERR_INVALID, "key: 1..128 bytes");
    vg_cstate_cmd_kv_put(cmd(), VG_KV_USERS, "a\0b", 3, "v", 1);
    expect_err(s, VG_ERR_INVALID, "without NUL");
    static char big[VG_CSTATE_KV_VAL_MAX + 1];
    vg_cstate_cmd_kv_put(cmd(), VG_KV_USERS, "k", 1, big, sizeof big);
    expect_err(s, VG_ERR_LIMIT, "value: 8193 bytes");
    /* snapshot round trip keeps entries and generations */
    vg_mpw_t a;
    vg_mpw_init(&a);
    vg_cstate_snapshot_encode(s, &a);
    vg_cstate_t *t = vg_cstate_new();
    assert_int_equal(vg_cstate_snapshot_decode(t, a.buf, a.len, NULL), 0);
    assert_true(vg_cstate_equal(s, t));
    assert_int_equal(vg_cstate_kv_gen(t, VG_KV_LABELS), 9);
    assert_int_equal(vg_cstate_kv_get(t, VG_KV_LABELS, "bb", 2, &v, &len), 0);
    assert_memory_equal(v, "new value", 9);
    vg_mpw_fini(&a);
    vg_cstate_destroy(&t);
    vg_cstate_destroy(&s);
}

/* A version 1 snapshot (no key-value tables) still decodes. */
static void test_snapshot_v1(void **state)
{
    (void) state;
    vg_mpw_t *w = cmd();
    vg_mpw_array(w, 9);
    vg_mpw_str(w, "VGCS", 4);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, 7);
    vg_mpw_uint(w, 0);
    for (int i = 0; i < 5; i++) vg_mpw_array(w, 0);
    vg_cstate_t *s = vg_cstate_new();
    vg_cstate_result_t res;
    assert_int_equal(vg_cstate_snapshot_decode(s, g_w.buf, g_w.len, &res), 0);
    assert_int_equal(vg_cstate_applied(s), 7);
    assert_int_equal(vg_cstate_kv_count(s, VG_KV_USERS), 0);
    vg_cstate_destroy(&s);
}

static void test_snapshot_round_trip(void **state)
{
    (void) state;
    vg_cstate_t *s = rich_state();
    vg_mpw_t a, b;
    vg_mpw_init(&a);
    vg_mpw_init(&b);
    assert_int_equal(vg_cstate_snapshot_encode(s, &a), 0);
    vg_cstate_t *t = four_nodes(); /* decode replaces whatever was there */
    assert_false(vg_cstate_equal(s, t));
    vg_cstate_result_t res;
    assert_int_equal(vg_cstate_snapshot_decode(t, a.buf, a.len, &res), 0);
    assert_true(vg_cstate_equal(s, t));
    assert_int_equal(vg_cstate_snapshot_encode(t, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, a.len);
    /* queries agree */
    assert_int_equal(vg_cstate_applied(t), vg_cstate_applied(s));
    assert_int_equal(vg_cstate_map_epoch(t), vg_cstate_map_epoch(s));
    for (uint32_t i = 0; i < 1024; i++) {
        assert_int_equal(owner_of(t, i), owner_of(s, i));
        assert_int_equal(epoch_of(t, i), epoch_of(s, i));
    }
    for (uint32_t id = 1; id <= 5; id++)
        assert_int_equal(vg_cstate_shard_count(t, id), vg_cstate_shard_count(s, id));
    vg_cstate_member_t m;
    assert_int_equal(vg_cstate_member_get(t, 4, &m), 0);
    assert_int_equal(m.state, VG_MEMBER_REMOVED);
    vg_cstate_blob_t blob;
    assert_int_equal(vg_cstate_blob_get(t, VG_BLOB_MODEL, "iforest", 0, &blob), 0);
    assert_int_equal(blob.version, 6);
    assert_int_equal(blob.hash_len, 20);
    /* the decoded state keeps working like the original */
    vg_cstate_cmd_set_member_state(cmd(), 5, VG_MEMBER_ACTIVE);
    expect_ok(s);
    expect_ok(t);
    assert_true(vg_cstate_equal(s, t));
    /* the empty state round-trips too */
    vg_cstate_t *e = vg_cstate_new(), *e2 = rich_state();
    vg_mpw_reset(&a);
    vg_cstate_snapshot_encode(e, &a);
    assert_int_equal(vg_cstate_snapshot_decode(e2, a.buf, a.len, NULL), 0);
    assert_true(vg_cstate_equal(e, e2));
    assert_int_equal(vg_cstate_member_count(e2), 0);
    vg_cstate_destroy(&e);
    vg_cstate_destroy(&e2);
    vg_mpw_fini(&a);
    vg_mpw_fini(&b);
    vg_cstate_destroy(&s);
    vg_cstate_destroy(&t);
}

static void test_snapshot_rejects(void **state)
{
    (void) state;
    vg_cstate_t *s = vg_cstate_new();
    vg_cstate_result_t res;
    vg_mpw_t *w = cmd();
    vg_mpw_array(w, 9);
    vg_mpw_str(w, "XXXX", 4);
    for (int i = 0; i < 8; i++) vg_mpw_nil(w);
    assert_int_equal(vg_cstate_snapshot_decode(s, g_w.buf, g_w.len, &res), VG_ERR_PARSE);
    assert_non_null(strstr(res.msg, "snapshot: magic"));
    w = cmd();
    vg_mpw_array(w, 9);
    vg_mpw_str(w, "VGCS", 4);
    vg_mpw_uint(w, 9);
    for (int i = 0; i < 7; i++) vg_mpw_nil(w);
    assert_int_equal(vg_cstate_snapshot_decode(s, g_w.buf, g_w.len, &res), VG_ERR_UNSUPPORTED);
    /* an owner that is not a member */
    w = cmd();
    vg_mpw_array(w, 9);
    vg_mpw_str(w, "VGCS", 4);
    vg_mpw_uint(w, 1);
    vg_mpw_uint(w, 0);
    vg_mpw_uint(w, 1);
    vg_mpw_array(w, 1);
    vg_mpw_uint(w, 3);
    vg_mpw_array(w, 1);
    vg_mpw_uint(w, 1);
    vg_mpw_array(w, 0);
    vg_mpw_array(w, 0);
    vg_mpw_array(w, 0);
    assert_int_equal(vg_cstate_snapshot_decode(s, g_w.buf, g_w.len, &res), VG_ERR_INVALID);
    assert_non_null(strstr(res.msg, "shard 0: owner 3 is not a member"));
    assert_int_equal(vg_cstate_n_shards(s), 0);
    vg_cstate_destroy(&s);
}

/* ---- robustness ------------------------------------------------------------------------ */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t) (g_rng >> 16);
}

/* A small state for the fuzz loops, as snapshot bytes. */
static void fuzz_base(vg_mpw_t *snap)
{
    vg_cstate_t *s = vg_cstate_new();
    for (uint32_t i = 1; i <= 3; i++) add_member(s, i, VG_MEMBER_ACTIVE);
    add_member(s, 4, VG_MEMBER_JOINING);
    uint32_t owners[] = {1, 2, 3};
    vg_cstate_cmd_init_map(cmd(), 48, owners, 3);
    expect_ok(s);
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "r", 1, "abc", 3, 7);
    expect_ok(s);
    vg_cstate_cmd_put_blob(cmd(), VG_BLOB_MODEL, "m", 1, "abc", 3, 7);
    expect_ok(s);
    vg_cstate_snapshot_encode(s, snap);
    vg_cstate_destroy(&s);
}

static vg_cstate_t *from_snap(const vg_mpw_t *snap)
{
    vg_cstate_t *s = vg_cstate_new();
    assert_int_equal(vg_cstate_snapshot_decode(s, snap->buf, snap->len, NULL), 0);
    return s;
}

/* Applies bytes to two copies of base: same verdict, same state; a
 * rejection leaves base untouched. */
static int apply_twice(const vg_mpw_t *base, const uint8_t *p, size_t len)
{
    vg_cstate_t *a = from_snap(base), *b = from_snap(base), *orig = from_snap(base);
    vg_cstate_result_t ra, rb;
    int ca = vg_cstate_apply(a, p, len, &ra), cb = vg_cstate_apply(b, p, len, &rb);
    assert_int_equal(ca, cb);
    assert_string_equal(ra.msg, rb.msg);
    assert_true(vg_cstate_equal(a, b));
    if (ca)
        assert_true(vg_cstate_equal(a, orig));
    else
        assert_false(vg_cstate_equal(a, orig)); /* accepted: `applied` moved at least */
    vg_cstate_destroy(&a);
    vg_cstate_destroy(&b);
    vg_cstate_destroy(&orig);
    return ca;
}

static void valid_commands(vg_mpw_t *out, size_t *offs, size_t *n)
{
    vg_cstate_move_t mv[] = {{.shard = 1, .to = 4, .epoch = 1}, {.shard = 2, .to = 1}};
    uint32_t owners[] = {1, 2};
    *n = 0;
#define ADD(expr) (offs[(*n)++] = out->len, (void) (expr))
    ADD(vg_cstate_cmd_add_member(out, 9, "h9:1", "h9:2", false, VG_MEMBER_JOINING));
    ADD(vg_cstate_cmd_set_member_state(out, 2, VG_MEMBER_DRAINING));
    ADD(vg_cstate_cmd_set_member_voter(out, 4, true));
    ADD(vg_cstate_cmd_remove_member(out, 4));
    ADD(vg_cstate_cmd_init_map(out, 8, owners, 2));
    ADD(vg_cstate_cmd_assign_shards(out, 1, mv, 2));
    ADD(vg_cstate_cmd_put_blob(out, VG_BLOB_RULESET, "r", 2, "abcd", 4, 9));
    ADD(vg_cstate_cmd_activate_blob(out, VG_BLOB_RULESET, "r", 1));
    ADD(vg_cstate_cmd_put_blob(out, VG_BLOB_MODEL, "m2", 1, "x", 1, 1));
    ADD(vg_cstate_cmd_activate_blob(out, VG_BLOB_MODEL, "m", 1));
#undef ADD
    offs[*n] = out->len;
}

static void test_fuzz_commands(void **state)
{
    (void) state;
    vg_mpw_t base, cmds;
    vg_mpw_init(&base);
    vg_mpw_init(&cmds);
    fuzz_base(&base);
    size_t offs[16], n;
    valid_commands(&cmds, offs, &n);
    uint8_t buf[256];
    size_t accepted = 0, rejected = 0;
    for (size_t c = 0; c < n; c++) {
        const uint8_t *p = cmds.buf + offs[c];
        size_t len = offs[c + 1] - offs[c];
        assert_true(len <= sizeof buf);
        int rc = apply_twice(&base, p, len);
        assert_int_equal(rc, c == 4 ? VG_ERR_EXISTS : 0); /* INIT_MAP: the map exists */
        for (size_t cut = 0; cut < len; cut++)            /* every truncation is rejected */
            assert_int_not_equal(apply_twice(&base, p, cut), 0);
        for (int k = 0; k < 2000; k++) { /* random byte flips */
            memcpy(buf, p, len);
            int flips = 1 + (int) (rnd() % 3);
            for (int f = 0; f < flips; f++) buf[rnd() % len] ^= (uint8_t) (1u << (rnd() % 8));
            if (rnd() % 4 == 0) buf[rnd() % len] = (uint8_t) rnd();
            if (apply_twice(&base, buf, len))
                rejected++;
            else
                accepted++;
        }
    }
    assert_true(rejected > 0);
    assert_true(accepted > 0); /* e.g. another id or version survives */
    vg_mpw_fini(&base);
    vg_mpw_fini(&cmds);
}

static void test_fuzz_snapshot(void **state)
{
    (void) state;
    vg_mpw_t snap;
    vg_mpw_init(&snap);
    vg_cstate_t *rich = rich_state();
    vg_cstate_snapshot_encode(rich, &snap);
    vg_cstate_destroy(&rich);
    vg_cstate_t *s = vg_cstate_new(), *empty = vg_cstate_new();
    for (size_t cut = 0; cut < snap.len; cut++) {
        assert_int_not_equal(vg_cstate_snapshot_decode(s, snap.buf, cut, NULL), 0);
        assert_true(vg_cstate_equal(s, empty));
    }
    uint8_t *buf = vg_malloc(snap.len);
    size_t ok = 0;
    vg_mpw_t re;
    vg_mpw_init(&re);
    for (int k = 0; k < 10000; k++) {
        memcpy(buf, snap.buf, snap.len);
        int flips = 1 + (int) (rnd() % 4);
        for (int f = 0; f < flips; f++) buf[rnd() % snap.len] ^= (uint8_t) (1u << (rnd() % 8));
        vg_cstate_t *a = vg_cstate_new(), *b = vg_cstate_new();
        int ca = vg_cstate_snapshot_decode(a, buf, snap.len, NULL);
        int cb = vg_cstate_snapshot_decode(b, buf, snap.len, NULL);
        assert_int_equal(ca, cb);
        assert_true(vg_cstate_equal(a, b));
        if (ca == 0) { /* accepted: a valid state that round-trips */
            ok++;
            vg_mpw_reset(&re);
            vg_cstate_snapshot_encode(a, &re);
            vg_cstate_t *c = vg_cstate_new();
            assert_int_equal(vg_cstate_snapshot_decode(c, re.buf, re.len, NULL), 0);
            assert_true(vg_cstate_equal(a, c));
            vg_cstate_destroy(&c);
        } else {
            assert_true(vg_cstate_equal(a, empty));
        }
        vg_cstate_destroy(&a);
        vg_cstate_destroy(&b);
    }
    assert_true(ok > 0 && ok < 10000);
    vg_free(buf);
    vg_mpw_fini(&re);
    vg_mpw_fini(&snap);
    vg_cstate_destroy(&s);
    vg_cstate_destroy(&empty);
}

int main(void)
{
    vg_mpw_init(&g_w);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_sequence),   cmocka_unit_test(test_blob_versions),
        cmocka_unit_test(test_invalid_map),      cmocka_unit_test(test_invalid_members),
        cmocka_unit_test(test_invalid_moves),    cmocka_unit_test(test_invalid_blobs),
        cmocka_unit_test(test_malformed),        cmocka_unit_test(test_plan_join),
        cmocka_unit_test(test_plan_drain_down),  cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_rejects), cmocka_unit_test(test_fuzz_commands),
        cmocka_unit_test(test_fuzz_snapshot),    cmocka_unit_test(test_kv),
        cmocka_unit_test(test_snapshot_v1),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    vg_mpw_fini(&g_w);
    return rc;
}
