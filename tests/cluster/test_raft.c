/* test_raft.c: the raft wrapper. (a) raft's deterministic in-memory fixture
 * running vg_raft's state machine adapter: election, replication, leader
 * loss, snapshot install; (b) real nodes (libuv TCP on loopback, temp dirs)
 * in one process: bootstrap, joins, proposals, not-leader answers, leader
 * failover, restarts from snapshots, standby policy. This test belongs to
 * the module that wraps raft, so it may include raft/fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_cstate.h"
#include "vg_err.h"
#include "vg_mem.h"
#include "vg_raft.h"
#include "vg_time.h"

#include <raft.h>
#include <raft/fixture.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static vg_mpw_t g_w;

static vg_mpw_t *cmd(void)
{
    vg_mpw_reset(&g_w);
    return &g_w;
}

static double secs_since(uint64_t t0)
{
    return (double) (vg_now_ns() - t0) / 1e9;
}

/* ---- (a) the in-memory fixture --------------------------------------------------- */

#define FX_N 3

typedef struct {
    struct raft_fixture f;
    struct raft_fsm fsms[FX_N];
    vg_cstate_t *st[FX_N];
} fx_t;

typedef struct {
    bool done;
    int status;
    vg_cstate_result_t res;
    struct raft_fsm *fsm;
} fx_apply_t;

static void fx_apply_cb(struct raft_apply *req, int status, void *result)
{
    fx_apply_t *a = req->data;
    a->done = true;
    a->status = status;
    if (status == 0) assert_int_equal(vg__raft_fsm_result(a->fsm, result, &a->res), 0);
}

static bool fx_done(struct raft_fixture *f, void *arg)
{
    (void) f;
    return ((fx_apply_t *) arg)->done;
}

static void fx_setup(fx_t *x)
{
    memset(x, 0, sizeof *x);
    assert_int_equal(raft_fixture_initialize(&x->f), 0);
    for (unsigned i = 0; i < FX_N; i++) {
        x->st[i] = vg_cstate_new();
        vg__raft_fsm_init(&x->fsms[i], x->st[i]);
        assert_int_equal(raft_fixture_grow(&x->f, &x->fsms[i]), 0);
        raft_set_snapshot_threshold(raft_fixture_get(&x->f, i), 8);
        raft_set_snapshot_trailing(raft_fixture_get(&x->f, i), 2);
    }
    struct raft_configuration conf;
    assert_int_equal(raft_fixture_configuration(&x->f, FX_N, &conf), 0);
    assert_int_equal(raft_fixture_bootstrap(&x->f, &conf), 0);
    raft_configuration_close(&conf);
    assert_int_equal(raft_fixture_start(&x->f), 0);
}

static void fx_teardown(fx_t *x)
{
    raft_fixture_close(&x->f);
    for (unsigned i = 0; i < FX_N; i++) {
        vg__raft_fsm_close(&x->fsms[i]);
        vg_cstate_destroy(&x->st[i]);
    }
}

/* Proposes g_w on the current leader and steps until applied there. */
static int fx_propose(fx_t *x)
{
    unsigned li = raft_fixture_leader_index(&x->f);
    assert_true(li < FX_N);
    struct raft_buffer buf;
    buf.base = vg__raft_entry_new(g_w.buf, g_w.len, &buf.len);
    fx_apply_t a = {.fsm = &x->fsms[li]};
    struct raft_apply req = {.data = &a};
    assert_int_equal(raft_apply(raft_fixture_get(&x->f, li), &req, &buf, 1, fx_apply_cb), 0);
    assert_true(raft_fixture_step_until(&x->f, fx_done, &a, 10000));
    assert_int_equal(a.status, 0);
    return a.res.code;
}

static void fx_add_member(fx_t *x, uint32_t id)
{
    char data[32], raft[32];
    snprintf(data, sizeof data, "10.1.0.%u:7000", id);
    snprintf(raft, sizeof raft, "10.1.0.%u:7100", id);
    vg_cstate_cmd_add_member(cmd(), id, data, raft, true, VG_MEMBER_ACTIVE);
    assert_int_equal(fx_propose(x), 0);
}

/* Steps until every live server applied the leader's last index; compares states. */
static void fx_converge(fx_t *x, unsigned skip)
{
    unsigned li = raft_fixture_leader_index(&x->f);
    raft_index last = raft_last_index(raft_fixture_get(&x->f, li));
    for (unsigned i = 0; i < FX_N; i++) {
        if (i == skip || !raft_fixture_alive(&x->f, i)) continue;
        assert_true(raft_fixture_step_until_applied(&x->f, i, last, 20000));
        assert_true(vg_cstate_equal(x->st[i], x->st[li]));
    }
}

static void test_fixture_cluster(void **state)
{
    (void) state;
    fx_t *x = vg_malloc(sizeof *x);
    fx_setup(x);
    assert_true(raft_fixture_step_until_has_leader(&x->f, 10000));
    unsigned first = raft_fixture_leader_index(&x->f);
    for (uint32_t id = 1; id <= 3; id++) fx_add_member(x, id);
    uint32_t owners[] = {1, 2, 3};
    vg_cstate_cmd_init_map(cmd(), 96, owners, 3);
    assert_int_equal(fx_propose(x), 0);
    /* a committed command the state machine rejects is a no-op everywhere */
    vg_cstate_cmd_init_map(cmd(), 96, owners, 3);
    assert_int_equal(fx_propose(x), VG_ERR_EXISTS);
    fx_converge(x, FX_N);
    assert_int_equal(vg_cstate_n_shards(x->st[0]), 96);

    /* the leader dies: a new one takes over, commands continue */
    raft_fixture_kill(&x->f, first);
    assert_true(raft_fixture_step_until_has_no_leader(&x->f, 20000));
    assert_true(raft_fixture_step_until_has_leader(&x->f, 20000));
    unsigned second = raft_fixture_leader_index(&x->f);
    assert_int_not_equal(second, first);
    fx_add_member(x, 4);
    vg_cstate_plan_t plan;
    assert_int_equal(vg_cstate_plan_join(x->st[second], 4, &plan), 0);
    vg_cstate_cmd_assign_plan(cmd(), &plan);
    vg_cstate_plan_fini(&plan);
    assert_int_equal(fx_propose(x), 0);
    assert_int_equal(vg_cstate_shard_count(x->st[second], 4), 24);
    /* enough entries that the leader's log is compacted past the dead node */
    for (uint64_t v = 1; v <= 40; v++) {
        vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, "rs", v, &v, sizeof v, v);
        assert_int_equal(fx_propose(x), 0);
    }
    fx_converge(x, first);
    struct raft *lr = raft_fixture_get(&x->f, second);
    assert_true(lr->log.snapshot.last_index > 0);
    assert_true(raft_last_index(lr) - lr->log.snapshot.last_index <= 8 + 2 + 2);
    raft_index dead_last = raft_last_index(raft_fixture_get(&x->f, first));
    assert_true(dead_last < lr->log.snapshot.last_index); /* entries are gone: needs a snapshot */

    /* it comes back and catches up through InstallSnapshot */
    raft_fixture_revive(&x->f, first);
    fx_converge(x, FX_N);
    assert_true(vg_cstate_equal(x->st[first], x->st[second]));

    /* depose the leader: yet another election, still consistent */
    raft_fixture_depose(&x->f);
    assert_true(raft_fixture_step_until_has_leader(&x->f, 30000));
    vg_cstate_cmd_activate_blob(cmd(), VG_BLOB_RULESET, "rs", 7);
    assert_int_equal(fx_propose(x), 0);
    fx_converge(x, FX_N);
    vg_cstate_blob_t b;
    for (unsigned i = 0; i < FX_N; i++) {
        assert_int_equal(vg_cstate_blob_get(x->st[i], VG_BLOB_RULESET, "rs", 0, &b), 0);
        assert_int_equal(b.version, 7);
    }
    fx_teardown(x);
    vg_free(x);
}

/* ---- (b) real nodes over TCP on loopback ------------------------------------------ */

#define N_NODES     4
#define ELECTION_MS 500
#define WAIT_MS     15000u

typedef struct {
    uint32_t id;
    char addr[32];
    char dir[256];
    vg_cstate_t *st;
    vg_raft_t *r;
    atomic_uint applies;
    atomic_uint restores;
    atomic_uint leader_events;
} node_t;

static node_t g_nodes[N_NODES + 1]; /* by id */
static char g_root[64];

static void on_apply(void *arg, const vg_cstate_t *st, uint64_t index,
                     const vg_cstate_result_t *res)
{
    node_t *n = arg;
    (void) st;
    (void) index;
    if (res)
        atomic_fetch_add(&n->applies, 1);
    else
        atomic_fetch_add(&n->restores, 1);
}

static void on_leader(void *arg, bool is_leader, uint32_t leader_id, uint64_t term)
{
    node_t *n = arg;
    (void) is_leader;
    (void) leader_id;
    (void) term;
    atomic_fetch_add(&n->leader_events, 1);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void node_start(uint32_t id, bool bootstrap)
{
    node_t *n = &g_nodes[id];
    n->st = vg_cstate_new();
    vg_raft_config_t cfg = {.node_id = id,
                            .raft_addr = n->addr,
                            .data_dir = n->dir,
                            .bootstrap = bootstrap,
                            .snapshot_threshold = 32,
                            .snapshot_trailing = 8,
                            .election_timeout_ms = ELECTION_MS,
                            .on_apply = on_apply,
                            .on_leader = on_leader,
                            .cb_arg = n};
    assert_int_equal(vg_raft_new(&cfg, n->st, &n->r), 0);
    assert_int_equal(vg_raft_start(n->r), 0);
}

static void node_stop(uint32_t id)
{
    node_t *n = &g_nodes[id];
    vg_raft_destroy(&n->r);
    assert_null(n->r);
    vg_cstate_destroy(&n->st);
}

static bool wait_for(bool (*pred)(void *), void *arg, unsigned ms)
{
    uint64_t until = vg_now_ns() + (uint64_t) ms * 1000000ull;
    while (!pred(arg)) {
        if (vg_now_ns() > until) return false;
        usleep(10000);
    }
    return true;
}

static bool is_leader(void *arg)
{
    return vg_raft_is_leader(((node_t *) arg)->r);
}

/* The ready leader among the running nodes, or 0. */
static uint32_t leader_id(void)
{
    for (uint32_t id = 1; id <= N_NODES; id++)
        if (g_nodes[id].r && vg_raft_is_leader(g_nodes[id].r)) return id;
    return 0;
}

static bool has_leader(void *arg)
{
    (void) arg;
    return leader_id() != 0;
}

static void encode_cb(const vg_cstate_t *st, void *arg)
{
    vg_cstate_snapshot_encode(st, arg);
}

/* True when every running node's state equals the leader's. */
static bool converged(void *arg)
{
    (void) arg;
    uint32_t l = leader_id();
    if (!l) return false;
    vg_mpw_t a, b;
    vg_mpw_init(&a);
    vg_mpw_init(&b);
    vg_raft_read(g_nodes[l].r, encode_cb, &a);
    bool eq = true;
    for (uint32_t id = 1; id <= N_NODES && eq; id++) {
        if (!g_nodes[id].r || id == l) continue;
        vg_mpw_reset(&b);
        vg_raft_read(g_nodes[id].r, encode_cb, &b);
        eq = a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0;
    }
    vg_mpw_fini(&a);
    vg_mpw_fini(&b);
    return eq;
}

static void dump_status(void)
{
    for (uint32_t id = 1; id <= N_NODES; id++) {
        if (!g_nodes[id].r) continue;
        vg_raft_status_t st;
        vg_raft_status(g_nodes[id].r, &st);
        fprintf(stderr,
                "node %u: state %d ready %d term %llu leader %u last %llu commit %llu applied %llu "
                "snap %llu restores %llu voters %u standbys %u\n",
                id, st.state, st.leader_ready, (unsigned long long) st.term, st.leader_id,
                (unsigned long long) st.last_index, (unsigned long long) st.commit_index,
                (unsigned long long) st.applied_index, (unsigned long long) st.snapshot_index,
                (unsigned long long) st.n_restores, st.n_voters, st.n_standbys);
    }
}

/* Waits until every running node holds the leader's state. */
static void assert_converged(void)
{
    if (wait_for(converged, NULL, WAIT_MS)) return;
    dump_status();
    fail_msg("the nodes did not converge within %u ms", WAIT_MS);
}

/* Every running node took snapshots and keeps less than threshold +
 * trailing entries behind its latest one (snapshot writes are async). */
static bool log_compacted(void *arg)
{
    (void) arg;
    for (uint32_t id = 1; id <= N_NODES; id++) {
        if (!g_nodes[id].r) continue;
        vg_raft_status_t st;
        vg_raft_status(g_nodes[id].r, &st);
        if (!st.n_snapshots || st.last_index - st.snapshot_index >= 32 + 8) return false;
    }
    return true;
}

static int propose(uint32_t id, vg_raft_result_t *res)
{
    return vg_raft_propose(g_nodes[id].r, g_w.buf, g_w.len, WAIT_MS, res);
}

typedef struct {
    uint32_t node;
    vg_cstate_plan_t plan;
    int rc;
} plan_arg_t;

static void plan_cb(const vg_cstate_t *st, void *arg)
{
    plan_arg_t *p = arg;
    p->rc = vg_cstate_plan_join(st, p->node, &p->plan);
}

static void add_and_assign(uint32_t leader, uint32_t id)
{
    vg_raft_result_t res;
    node_t *n = &g_nodes[id];
    char data[48];
    snprintf(data, sizeof data, "127.0.0.1:%d", 20000 + (int) id);
    vg_cstate_cmd_add_member(cmd(), id, data, n->addr, id <= 3,
                             id == 1 ? VG_MEMBER_ACTIVE : VG_MEMBER_JOINING);
    assert_int_equal(propose(leader, &res), 0);
    assert_true(res.committed);
    if (id == 1) {
        uint32_t one = 1;
        vg_cstate_cmd_init_map(cmd(), VG_CSTATE_DEFAULT_SHARDS, &one, 1);
        assert_int_equal(propose(leader, &res), 0);
        return;
    }
    plan_arg_t p = {.node = id};
    vg_raft_read(g_nodes[leader].r, plan_cb, &p);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.plan.n, VG_CSTATE_DEFAULT_SHARDS / id);
    vg_cstate_cmd_assign_plan(cmd(), &p.plan);
    vg_cstate_plan_fini(&p.plan);
    assert_int_equal(propose(leader, &res), 0);
    vg_cstate_cmd_set_member_state(cmd(), id, VG_MEMBER_ACTIVE);
    assert_int_equal(propose(leader, &res), 0);
}

/* n PUT_RULESET_VERSION commands through the leader. */
static void put_versions(uint32_t leader, const char *name, uint64_t from, uint64_t n)
{
    vg_raft_result_t res;
    for (uint64_t v = from; v < from + n; v++) {
        vg_cstate_cmd_put_blob(cmd(), VG_BLOB_RULESET, name, v, &v, sizeof v, v);
        assert_int_equal(propose(leader, &res), 0);
    }
}

/* Node 1 bootstraps a 1-voter cluster; 2 and 3 join as voters (the first 3
 * nodes vote) and get ≈ S/N shards each. */
static void phase_bootstrap_and_join(void)
{
    uint64_t t0 = vg_now_ns();
    vg_raft_result_t res;
    vg_raft_status_t st;
    node_start(1, true);
    assert_true(wait_for(is_leader, &g_nodes[1], WAIT_MS));
    printf("# node 1 leads after %.2f s\n", secs_since(t0));
    add_and_assign(1, 1);
    for (uint32_t id = 2; id <= 3; id++) {
        node_start(id, false);
        uint64_t t = vg_now_ns();
        assert_int_equal(vg_raft_join(g_nodes[1].r, id, g_nodes[id].addr, WAIT_MS, &res), 0);
        assert_true(res.voter);
        printf("# node %u joined as voter in %.2f s\n", id, secs_since(t));
        add_and_assign(1, id);
    }
    /* idempotent join; a known id at another address is refused */
    assert_int_equal(vg_raft_join(g_nodes[1].r, 2, g_nodes[2].addr, WAIT_MS, &res), 0);
    assert_non_null(strstr(res.msg, "already a voter"));
    assert_int_equal(vg_raft_join(g_nodes[1].r, 2, "127.0.0.1:1", WAIT_MS, &res), VG_ERR_EXISTS);
    assert_converged();
    vg_raft_status(g_nodes[1].r, &st);
    assert_int_equal(st.n_voters, 3);
    assert_int_equal(vg_cstate_shard_count(g_nodes[3].st, 3), 341);
}

/* A follower answers "not the leader" with the leader's id and address;
 * a state machine rejection comes back, committed, to the proposer. */
static void phase_not_leader(void)
{
    vg_raft_result_t res;
    vg_cstate_cmd_set_member_voter(cmd(), 3, true);
    assert_int_equal(propose(2, &res), VG_ERR_NOT_OWNER);
    assert_false(res.committed);
    assert_int_equal(res.leader_id, 1);
    assert_string_equal(res.leader_addr, g_nodes[1].addr);
    uint32_t lid = 0;
    char laddr[VG_RAFT_ADDR_MAX];
    assert_int_equal(vg_raft_leader(g_nodes[3].r, &lid, laddr, sizeof laddr), 0);
    assert_int_equal(lid, 1);
    assert_false(vg_raft_is_leader(g_nodes[2].r));
    vg_cstate_cmd_remove_member(cmd(), 2);
    assert_int_equal(propose(1, &res), VG_ERR_INVALID);
    assert_true(res.committed);
    assert_non_null(strstr(res.apply.msg, "still owns"));
}

/* Enough commands for snapshots on every node: the log stays bounded. */
static void phase_snapshots(void)
{
    put_versions(1, "rs", 1, 100);
    assert_converged();
    assert_true(wait_for(log_compacted, NULL, WAIT_MS));
    for (uint32_t id = 1; id <= 3; id++) {
        vg_raft_status_t st;
        vg_raft_status(g_nodes[id].r, &st);
        printf("# node %u: last %llu, snapshot %llu, snapshots %llu\n", id,
               (unsigned long long) st.last_index, (unsigned long long) st.snapshot_index,
               (unsigned long long) st.n_snapshots);
        assert_true(st.n_snapshots >= 3);
    }
    assert_true(atomic_load(&g_nodes[2].applies) > 100);
}

/* The leader stops: a new one within 5 s; node 1 restarts from its own
 * snapshot and catches up. Returns the new leader. */
static uint32_t phase_failover(void)
{
    node_stop(1);
    uint64_t t = vg_now_ns();
    assert_true(wait_for(has_leader, NULL, 5000));
    uint32_t l2 = leader_id();
    printf("# node %u leads %.2f s after node 1 stopped\n", l2, secs_since(t));
    assert_true(l2 == 2 || l2 == 3);
    assert_true(vg_raft_term(g_nodes[l2].r) > 1);
    put_versions(l2, "rs", 101, 5);
    node_start(1, true); /* bootstrap is ignored: the dir is not pristine */
    assert_true(atomic_load(&g_nodes[1].restores) >= 1);
    t = vg_now_ns();
    assert_converged();
    printf("# node 1 caught up in %.2f s\n", secs_since(t));
    return l2;
}

/* A follower misses many entries: it catches up from the leader's
 * snapshot (InstallSnapshot). Returns that follower. */
static uint32_t phase_install_snapshot(uint32_t leader)
{
    uint32_t lag = leader == 2 ? 3 : 2;
    node_stop(lag);
    put_versions(leader, "rs", 106, 80);
    node_start(lag, false);
    unsigned restores0 = atomic_load(&g_nodes[lag].restores);
    uint64_t t = vg_now_ns();
    assert_converged();
    printf("# node %u caught up in %.2f s (restores %u -> %u)\n", lag, secs_since(t), restores0,
           atomic_load(&g_nodes[lag].restores));
    assert_true(atomic_load(&g_nodes[lag].restores) > restores0);
    return lag;
}

/* A 4th node joins as standby; removing voter `gone` promotes it. */
static void phase_standby(uint32_t leader, uint32_t gone)
{
    vg_raft_result_t res;
    vg_raft_status_t st;
    node_start(4, false);
    assert_int_equal(vg_raft_join(g_nodes[leader].r, 4, g_nodes[4].addr, WAIT_MS, &res), 0);
    assert_false(res.voter);
    add_and_assign(leader, 4);
    assert_converged();
    vg_raft_status(g_nodes[leader].r, &st);
    assert_int_equal(st.n_voters, 3);
    assert_int_equal(st.n_standbys, 1);
    assert_int_equal(vg_raft_remove(g_nodes[leader].r, gone, WAIT_MS, &res), 0);
    assert_non_null(strstr(res.msg, "promoted"));
    vg_raft_server_t servers[8];
    size_t ns = vg_raft_servers(g_nodes[leader].r, servers, 8);
    assert_int_equal(ns, 3);
    for (size_t i = 0; i < ns; i++) {
        assert_int_not_equal(servers[i].id, gone);
        assert_int_equal(servers[i].role, VG_RAFT_VOTER);
    }
    node_stop(gone);
    assert_int_equal(vg_raft_remove(g_nodes[leader].r, gone, WAIT_MS, &res), VG_ERR_NOT_FOUND);
    vg_cstate_cmd_set_member_voter(cmd(), 4, true);
    assert_int_equal(propose(leader, &res), 0);
    assert_converged();
    assert_true(atomic_load(&g_nodes[1].leader_events) > 0);
}

/* Leadership hand-off (e.g. before draining the leader). */
static void phase_transfer(uint32_t leader)
{
    vg_raft_result_t res;
    assert_int_equal(vg_raft_transfer(g_nodes[leader].r, 0, WAIT_MS, &res), 0);
    assert_true(wait_for(has_leader, NULL, WAIT_MS));
    assert_int_not_equal(leader_id(), leader);
    assert_int_equal(res.leader_id, leader_id());
    vg_cstate_cmd_set_member_voter(cmd(), 4, false);
    assert_int_equal(propose(leader, &res), VG_ERR_NOT_OWNER);
    assert_int_equal(res.leader_id, leader_id());
    assert_int_equal(propose(leader_id(), &res), 0);
    assert_converged();
}

static void test_tcp_cluster(void **state)
{
    (void) state;
    uint64_t t0 = vg_now_ns();
    phase_bootstrap_and_join();
    phase_not_leader();
    phase_snapshots();
    uint32_t leader = phase_failover();
    uint32_t lag = phase_install_snapshot(leader);
    phase_standby(leader, lag);
    phase_transfer(leader);
    for (uint32_t id = 1; id <= N_NODES; id++)
        if (g_nodes[id].r) node_stop(id);
    printf("# tcp cluster scenario: %.2f s\n", secs_since(t0));
}

static void test_errors(void **state)
{
    (void) state;
    vg_cstate_t *st = vg_cstate_new();
    vg_raft_t *r = NULL;
    vg_raft_config_t cfg = {.node_id = 0, .raft_addr = "127.0.0.1:1", .data_dir = g_root};
    assert_int_equal(vg_raft_new(&cfg, st, &r), VG_ERR_INVALID);
    assert_null(r);
    cfg.node_id = 9;
    cfg.raft_addr = "nocolon";
    assert_int_equal(vg_raft_new(&cfg, st, &r), VG_ERR_INVALID);
    /* not started: requests are refused, stop/destroy are safe */
    char dir[128];
    snprintf(dir, sizeof dir, "%s/n9", g_root);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", free_port());
    cfg.raft_addr = addr;
    cfg.data_dir = dir;
    cfg.bootstrap = true;
    assert_int_equal(vg_raft_new(&cfg, st, &r), 0);
    vg_raft_result_t res;
    vg_cstate_cmd_remove_member(cmd(), 1);
    assert_int_equal(vg_raft_propose(r, g_w.buf, g_w.len, 100, &res), VG_ERR_CLOSED);
    assert_false(vg_raft_is_leader(r));
    vg_raft_stop(r);
    /* a second node on the same address fails to start */
    assert_int_equal(vg_raft_start(r), 0);
    assert_int_equal(vg_raft_start(r), VG_ERR_INVALID);
    vg_cstate_t *st2 = vg_cstate_new();
    vg_raft_t *r2 = NULL;
    char dir2[128];
    snprintf(dir2, sizeof dir2, "%s/n10", g_root);
    vg_raft_config_t cfg2 = {.node_id = 10, .raft_addr = addr, .data_dir = dir2};
    assert_int_equal(vg_raft_new(&cfg2, st2, &r2), 0);
    assert_int_not_equal(vg_raft_start(r2), 0);
    vg_raft_destroy(&r2);
    vg_cstate_destroy(&st2);
    /* too large, empty, timeouts */
    assert_int_equal(vg_raft_propose(r, g_w.buf, VG_RAFT_CMD_MAX + 1, 100, &res), VG_ERR_TOO_LARGE);
    assert_int_equal(vg_raft_propose(r, g_w.buf, 0, 100, &res), VG_ERR_INVALID);
    assert_int_equal(vg_raft_join(r, 0, "127.0.0.1:5", 100, &res), VG_ERR_INVALID);
    vg_raft_destroy(&r);
    assert_null(r);
    vg_raft_destroy(&r);
    vg_cstate_destroy(&st);
}

static int group_setup(void **state)
{
    (void) state;
    vg_mpw_init(&g_w);
    snprintf(g_root, sizeof g_root, "/tmp/vg-test-raft-XXXXXX");
    if (!mkdtemp(g_root)) return -1;
    for (uint32_t id = 1; id <= N_NODES; id++) {
        g_nodes[id].id = id;
        /* node 3 goes by name: vg_raft resolves it (raft 0.15 takes IPv4 only) */
        snprintf(g_nodes[id].addr, sizeof g_nodes[id].addr, "%s:%d",
                 id == 3 ? "localhost" : "127.0.0.1", free_port());
        snprintf(g_nodes[id].dir, sizeof g_nodes[id].dir, "%s/node%u", g_root, id);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void) state;
    for (uint32_t id = 1; id <= N_NODES; id++)
        if (g_nodes[id].r) node_stop(id);
    char cmdline[128];
    snprintf(cmdline, sizeof cmdline, "rm -rf '%s'", g_root);
    if (system(cmdline) != 0) fprintf(stderr, "could not remove %s\n", g_root);
    vg_mpw_fini(&g_w);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_cluster),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_tcp_cluster),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
