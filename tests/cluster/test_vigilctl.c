/* test_vigilctl.c: the built vigilctl binary against fake nodes: real
 * transports bound on loopback ephemeral ports whose on_msg answers ADMIN
 * and MAP_GET with canned replies (a leader, a follower that redirects to
 * it, a pair that redirect to each other, a mute one). Checks output and
 * exit codes; plus vg_ctl's parsers in-process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_ctl.h"
#include "vg_ctl_view.h"
#include "vg_err.h"
#include "vg_json.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_msg.h"
#include "vg_time.h"
#include "vg_transport.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef VG_SANITIZED
#define SLOW 3
#else
#define SLOW 1
#endif

/* ---- fake nodes ------------------------------------------------------------ */

enum { FAKE_LEADER, FAKE_FOLLOWER, FAKE_MUTE };

typedef struct fake fake_t;
struct fake {
    vg_transport_t *t;
    uint32_t id;
    int mode;
    char addr[64];        /* host:port it listens on */
    const fake_t *leader; /* FOLLOWER: where its NOT_OWNER points */
    atomic_int n_admin, n_map;
    pthread_mutex_t mu; /* guards last_cmd, last_node */
    char last_cmd[32];
    uint32_t last_node;
};

static fake_t g_leader, g_follower, g_loop_a, g_loop_b, g_mute;
static char g_dir[64];  /* the temp dir vigilctl runs in */
static char g_bin[512]; /* the vigilctl binary */
static char g_dead[64]; /* a loopback address nobody listens on */

/* The canned status; the follower sends it pretty-printed with extras. */
static void s_status_json(const fake_t *f, char *buf, size_t len)
{
    const char *ld = g_leader.addr;
    if (f->mode == FAKE_FOLLOWER) {
        snprintf(buf, len,
                 "{\n  \"node\": %u,\n  \"leader\": 1,\n  \"leader_addr\": \"%s\",\n"
                 "  \"term\": 3,\n  \"map_epoch\": 12,\n  \"shards\": 8,\n"
                 "  \"future\": {\"nested\": [1, 2.5, null, \"x\"]},\n"
                 "  \"members\": [\n"
                 "    {\"id\": 1, \"state\": \"active\", \"voter\": true, \"data_addr\": \"%s\","
                 " \"raft_addr\": null, \"shards\": 5, \"alive\": true},\n"
                 "    {\"id\": 2, \"state\": \"active\", \"voter\": false, \"data_addr\": \"%s\","
                 " \"raft_addr\": \"127.0.0.1:8102\", \"shards\": 3, \"alive\": true, \"rtt\": 1}\n"
                 "  ],\n  \"warnings\": [\"a \\\"quoted\\\" warning\"]\n}",
                 f->id, ld, ld, f->addr);
        return;
    }
    snprintf(buf, len,
             "{\"node\":%u,\"leader\":1,\"leader_addr\":\"%s\",\"term\":3,\"map_epoch\":12,"
             "\"shards\":8,\"members\":["
             "{\"id\":1,\"state\":\"active\",\"voter\":true,\"data_addr\":\"%s\","
             "\"raft_addr\":\"127.0.0.1:8101\",\"shards\":4,\"alive\":true},"
             "{\"id\":2,\"state\":\"active\",\"voter\":true,\"data_addr\":\"127.0.0.1:7102\","
             "\"raft_addr\":\"127.0.0.1:8102\",\"shards\":3,\"alive\":true},"
             "{\"id\":3,\"state\":\"down\",\"voter\":true,\"data_addr\":\"127.0.0.1:7103\","
             "\"raft_addr\":\"127.0.0.1:8103\",\"shards\":0,\"alive\":false}],"
             "\"warnings\":[\"node 3 is down: the state of its users is lost until replication "
             "exists\"]}",
             f->id, ld, ld);
}

static void s_reply(fake_t *f, const vg_transport_msg_t *req, vg_msg_t *rep, int type)
{
    rep->env = req->env; /* same corr: that makes it the reply */
    rep->env.type = (uint8_t) type;
    rep->env.src = f->id;
    int rc = vg_transport_send_msg(f->t, req->peer, rep);
    if (rc) fprintf(stderr, "fake %u: reply not sent: %s\n", f->id, vg_strerror(rc));
}

static void s_admin_reply(fake_t *f, const vg_transport_msg_t *req, int code, const char *json)
{
    vg_msg_t rep;
    rep.body.admin_reply = (vg_body_admin_reply_t){code, vg_str_c(json)};
    s_reply(f, req, &rep, VG_MSG_ADMIN_REPLY);
}

static void s_on_admin(fake_t *f, const vg_transport_msg_t *req, const vg_body_admin_t *a)
{
    char json[2048];
    atomic_fetch_add(&f->n_admin, 1);
    pthread_mutex_lock(&f->mu);
    snprintf(f->last_cmd, sizeof f->last_cmd, "%.*s", (int) a->command.len, a->command.ptr);
    f->last_node = a->node;
    pthread_mutex_unlock(&f->mu);
    bool change = vg_str_eq_c(a->command, "drain") || vg_str_eq_c(a->command, "remove");
    if (f->mode == FAKE_MUTE) return;
    if (!change) {
        s_status_json(f, json, sizeof json);
        s_admin_reply(f, req, 0, json);
    } else if (f->mode == FAKE_FOLLOWER) {
        const fake_t *l = f->leader;
        snprintf(json, sizeof json,
                 "{\"error\":\"not the leader: send this to the leader\",\"leader\":%u,"
                 "\"leader_addr\":\"%s\"}",
                 l->id, l->addr);
        s_admin_reply(f, req, VG_ERR_NOT_OWNER, json);
    } else if (a->node == 9) {
        snprintf(json, sizeof json,
                 "{\"error\":\"no member 9\",\"leader\":1,\"leader_addr\":\"%s\"}", f->addr);
        s_admin_reply(f, req, VG_ERR_NOT_FOUND, json);
    } else {
        bool remove = vg_str_eq_c(a->command, "remove");
        snprintf(json, sizeof json, "{\"node\":%u,\"state\":\"%s\",\"moved\":%d}", a->node,
                 remove ? "removed" : "draining", remove ? 0 : 512);
        s_admin_reply(f, req, 0, json);
    }
}

/* 8 shards: owners 1 1 2 2 1 2 0 1 (epochs 1..8); members 1, 2 active and
 * 3 draining (string state, to check both forms); owner 2 is "active" by
 * number. */
static void s_on_map_get(fake_t *f, const vg_transport_msg_t *req)
{
    atomic_fetch_add(&f->n_map, 1);
    vg_msg_t rep;
    if (f->mode == FAKE_MUTE) {
        rep.body.error = (vg_body_error_t){VG_ERR_UNSUPPORTED, VG_STR_LIT("no map here")};
        s_reply(f, req, &rep, VG_MSG_ERROR);
        return;
    }
    static const uint32_t owners[8] = {1, 1, 2, 2, 1, 2, 0, 1};
    uint8_t obin[8 * 12] = {0};
    for (int s = 0; s < 8; s++) {
        obin[s * 12 + 3] = (uint8_t) owners[s];
        obin[s * 12 + 11] = (uint8_t) (s + 1);
    }
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_mpw_array(&w, 3);
    vg_mpw_array(&w, 3);
    vg_mpw_uint(&w, 1);
    vg_mpw_uint(&w, 2);
    vg_mpw_str(&w, f->addr, (uint32_t) strlen(f->addr));
    vg_mpw_array(&w, 4); /* a later version's extra field is skipped */
    vg_mpw_uint(&w, 2);
    vg_mpw_uint(&w, 2);
    vg_mpw_str(&w, "127.0.0.1:7102", 14);
    vg_mpw_bool(&w, true);
    vg_mpw_array(&w, 3);
    vg_mpw_uint(&w, 3);
    vg_mpw_str(&w, "draining", 8);
    vg_mpw_str(&w, "127.0.0.1:7103", 14);
    rep.body.map = (vg_body_map_t){
        12, 8, {(const char *) obin, sizeof obin}, {(const char *) w.buf, (uint32_t) w.len}};
    s_reply(f, req, &rep, VG_MSG_MAP);
    vg_mpw_fini(&w);
}

static void s_on_msg(void *arg, const vg_transport_msg_t *m)
{
    fake_t *f = arg;
    vg_msg_t req = {.env = m->env};
    vg_arena_t arena = VG_ARENA_INIT;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    if (vg_msg_body_decode(m->body, m->body_len, &req, &arena, &perr)) {
        fprintf(stderr, "fake %u: undecodable %s\n", f->id, vg_msg_type_name(m->env.type));
    } else if (m->env.type == VG_MSG_ADMIN) {
        s_on_admin(f, m, &req.body.admin);
    } else if (m->env.type == VG_MSG_MAP_GET) {
        s_on_map_get(f, m);
    }
    vg_arena_fini(&arena);
}

static void s_fake_start(fake_t *f, uint32_t id, int mode, const fake_t *leader)
{
    memset(f, 0, sizeof *f);
    f->id = id;
    f->mode = mode;
    f->leader = leader;
    pthread_mutex_init(&f->mu, NULL);
    vg_transport_config_t cfg = {
        .self_id = id, .bind = "tcp://127.0.0.1:*", .on_msg = s_on_msg, .arg = f};
    assert_int_equal(vg_transport_new(&cfg, &f->t), 0);
    const char *ep = vg_transport_endpoint(f->t);
    assert_non_null(ep);
    assert_true(strncmp(ep, "tcp://", 6) == 0);
    snprintf(f->addr, sizeof f->addr, "%s", ep + 6);
}

static void s_fake_stop(fake_t *f)
{
    vg_transport_destroy(&f->t);
    pthread_mutex_destroy(&f->mu);
}

static void s_fake_reset(fake_t *f)
{
    atomic_store(&f->n_admin, 0);
    atomic_store(&f->n_map, 0);
    pthread_mutex_lock(&f->mu);
    f->last_cmd[0] = 0;
    f->last_node = 0;
    pthread_mutex_unlock(&f->mu);
}

/* ---- running vigilctl ------------------------------------------------------ */

typedef struct {
    int code; /* exit status; -1 if it did not exit normally */
    char out[16384];
    char err[4096];
    double ms;
} run_t;

static void s_slurp(const char *path, char *buf, size_t len)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Runs `cd DIR && LINE 2>g_dir/stderr` through popen into *r. */
static void s_exec(run_t *r, const char *dir, const char *line)
{
    char cmd[2560], errf[128];
    snprintf(errf, sizeof errf, "%s/stderr", g_dir);
    snprintf(cmd, sizeof cmd, "cd '%s' && %s 2>'%s'", dir, line, errf);
    uint64_t t0 = vg_now_ns();
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(r->out, 1, sizeof r->out - 1, p);
    r->out[n] = 0;
    int st = pclose(p);
    r->ms = (double) (vg_now_ns() - t0) / 1e6;
    r->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    s_slurp(errf, r->err, sizeof r->err);
    if (getenv("VG_TEST_VERBOSE"))
        fprintf(stderr, "$ %s  -> %d (%.0f ms)\n%s%s", line, r->code, r->ms, r->out, r->err);
}

/* Runs `env -u VIGIL_NODE [env] vigilctl ARGS` in g_dir. */
static void s_run(run_t *r, const char *env, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_run(run_t *r, const char *env, const char *fmt, ...)
{
    char args[1024], line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "exec env -u VIGIL_NODE %s '%s' %s", env ? env : "", g_bin, args);
    s_exec(r, g_dir, line);
}

/* Runs a shell LINE in g_dir/cl (the ops/cluster.sh tests). */
static void s_sh(run_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_sh(run_t *r, const char *fmt, ...)
{
    char line[2048], dir[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    snprintf(dir, sizeof dir, "%s/cl", g_dir);
    s_exec(r, dir, line);
}

#define assert_has(hay, needle)                                           \
    do {                                                                  \
        if (!strstr((hay), (needle))) {                                   \
            fprintf(stderr, "missing \"%s\" in:\n%s\n", (needle), (hay)); \
            fail();                                                       \
        }                                                                 \
    } while (0)

static bool s_valid_json(const char *s)
{
    vg_arena_t arena = VG_ARENA_INIT;
    vg_jr_t r;
    vg_jr_init(&r, s, strlen(s), &arena);
    bool ok = vg_jr_skip(&r) == 0 && vg_jr_at_end(&r);
    vg_arena_fini(&arena);
    return ok;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_status_table(void **state)
{
    run_t r;
    s_run(&r, NULL, "--node %s status", g_leader.addr);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.err, "");
    char line[160];
    snprintf(line, sizeof line, "leader     node 1 at %s, term 3", g_leader.addr);
    assert_has(r.out, line);
    assert_has(r.out, "shard map  epoch 12, 8 shards");
    assert_has(r.out, "members    3 (2 active, 2 alive)");
    assert_has(r.out, "ID  STATE   VOTER  ALIVE  SHARDS  DATA ADDR");
    snprintf(line, sizeof line, "1*  active  yes    yes         4  %s", g_leader.addr);
    assert_has(r.out, line);
    assert_has(r.out, "3   down    yes    no          0  127.0.0.1:7103");
    assert_has(r.out, "(* = leader)");
    assert_has(r.out, "warnings\n  ! node 3 is down: the state of its users is lost");
    assert_int_equal(atomic_load(&g_leader.n_admin), 1);
    assert_string_equal(g_leader.last_cmd, "status");
}

static void test_status_json(void **state)
{
    run_t r;
    char want[2048];
    s_run(&r, NULL, "status --json --node=%s", g_leader.addr);
    assert_int_equal(r.code, 0);
    assert_true(s_valid_json(r.out));
    s_status_json(&g_leader, want, sizeof want);
    strcat(want, "\n");
    assert_string_equal(r.out, want); /* the node's JSON, as it came */
    assert_has(r.out, "\"leader\":1");
    assert_has(r.out, "\"members\":[");
    assert_has(r.out, "\"warnings\":[");
}

static void test_status_pretty_json_and_nodes(void **state)
{
    run_t r;
    s_run(&r, NULL, "-n %s status", g_follower.addr);
    assert_int_equal(r.code, 0);
    char line[160];
    snprintf(line, sizeof line, "asked      node 2 at %s", g_follower.addr);
    assert_has(r.out, line);
    assert_has(r.out, "members    2 (2 active, 2 alive)");
    assert_has(r.out, "  ! a \"quoted\" warning");
    s_run(&r, NULL, "-n %s -j status", g_follower.addr);
    assert_int_equal(r.code, 0);
    assert_true(s_valid_json(r.out));
    assert_has(r.out, "\"future\": {\"nested\"");
    s_run(&r, NULL, "nodes -n %s", g_follower.addr);
    assert_int_equal(r.code, 0);
    assert_true(strncmp(r.out, "ID  STATE   VOTER  ALIVE  SHARDS  DATA ADDR", 42) == 0);
    snprintf(line, sizeof line, "2   active  no     yes         3  %s  127.0.0.1:8102",
             g_follower.addr);
    assert_has(r.out, line);
    assert_has(r.out, "  -\n"); /* raft_addr null */
    assert_int_equal(atomic_load(&g_leader.n_admin), 0);
}

static void test_drain_follows_leader(void **state)
{
    run_t r;
    s_run(&r, NULL, "--node %s drain 2", g_follower.addr);
    assert_int_equal(r.code, 0);
    char line[256];
    assert_has(r.out, "drain node 2: done, it is now draining; 512 shards moved off it\n");
    snprintf(line, sizeof line,
             "leader     node 1 at %s (node 2 at %s is not the leader and sent us there)\n",
             g_leader.addr, g_follower.addr);
    assert_has(r.out, line);
    assert_int_equal(atomic_load(&g_follower.n_admin), 1);
    assert_int_equal(atomic_load(&g_leader.n_admin), 1);
    assert_string_equal(g_leader.last_cmd, "drain");
    assert_int_equal(g_leader.last_node, 2);

    s_run(&r, NULL, "--json --node %s remove 2", g_follower.addr);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "{\"node\":2,\"state\":\"removed\",\"moved\":0}\n");
    assert_string_equal(g_leader.last_cmd, "remove");
}

static void test_redirect_once_only(void **state)
{
    run_t r;
    s_run(&r, NULL, "--node %s drain 2", g_loop_a.addr);
    assert_int_equal(r.code, 1);
    assert_string_equal(r.out, "");
    char msg[300];
    snprintf(msg, sizeof msg,
             "vigilctl: node 5 at %s refused: not the leader: send this to the leader; node 4 at "
             "%s had named it the leader",
             g_loop_b.addr, g_loop_a.addr);
    assert_has(r.err, msg);
    assert_has(r.err, "(NOT_OWNER)");
    assert_int_equal(atomic_load(&g_loop_a.n_admin), 1);
    assert_int_equal(atomic_load(&g_loop_b.n_admin), 1);
}

static void test_refused(void **state)
{
    run_t r;
    s_run(&r, NULL, "--node %s remove 9", g_leader.addr);
    assert_int_equal(r.code, 1);
    assert_string_equal(r.out, "");
    char msg[160];
    snprintf(msg, sizeof msg, "vigilctl: node 1 at %s refused: no member 9 (NOT_FOUND)",
             g_leader.addr);
    assert_has(r.err, msg);
    s_run(&r, NULL, "--node %s map", g_mute.addr); /* answered with ERROR */
    assert_int_equal(r.code, 1);
    assert_has(r.err, "no map here (UNSUPPORTED)");
}

static void test_unreachable(void **state)
{
    run_t r;
    s_run(&r, NULL, "--timeout 400 --node %s status", g_dead);
    assert_int_equal(r.code, 3);
    assert_string_equal(r.out, "");
    char msg[160];
    snprintf(msg, sizeof msg, "vigilctl: no node reachable at %s within 400 ms", g_dead);
    assert_has(r.err, msg);
    assert_true(r.ms >= 390 && r.ms < 400 + 1500 * SLOW);

    /* reachable (the transport answers PING) but the node never replies */
    s_run(&r, NULL, "--timeout 300 --node %s status", g_mute.addr);
    assert_int_equal(r.code, 3);
    assert_has(r.err, "did not answer within 300 ms");
    assert_true(r.ms < 300 * 2 + 1500 * SLOW);
}

static void test_usage(void **state)
{
    static const struct {
        const char *args, *msg;
    } cases[] = {
        {"", "no command given"},
        {"frobnicate", "unknown command 'frobnicate'"},
        {"drain", "drain: missing node ID"},
        {"remove abc", "remove: node ID 'abc' is not an integer"},
        {"drain 0", "node ID '0' is not an integer"},
        {"status now", "status: unexpected argument 'now'"},
        {"--timeout soon status", "--timeout 'soon': expected milliseconds"},
        {"status --timeout", "--timeout needs a number"},
        {"--node localhost status", "bad node address 'localhost' (from --node): missing :PORT"},
        {"--node 127.0.0.1:99999 status", "PORT must be a number from 1 to 65535"},
        {"--colour status", "unknown option '--colour'"},
        {"--json=yes status", "option '--json' takes no value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_t r;
        s_run(&r, NULL, "%s", cases[i].args);
        if (r.code != 2) fprintf(stderr, "case '%s': exit %d\n", cases[i].args, r.code);
        assert_int_equal(r.code, 2);
        assert_string_equal(r.out, "");
        assert_has(r.err, cases[i].msg);
        assert_has(r.err, "try 'vigilctl --help'");
    }
    run_t r;
    s_run(&r, "VIGIL_NODE=nope", "status");
    assert_int_equal(r.code, 2);
    assert_has(r.err, "bad node address 'nope' (from $VIGIL_NODE)");
}

static void test_help(void **state)
{
    run_t r;
    s_run(&r, NULL, "--help");
    assert_int_equal(r.code, 0);
    assert_has(r.out, "usage: vigilctl");
    assert_has(r.out, "drain ID");
    assert_has(r.out, "$VIGIL_NODE");
    assert_has(r.out, "var/cluster/nodes");
    assert_has(r.out, "3  no node reachable");
    char first[256];
    snprintf(first, sizeof first, "%.200s", r.out);
    s_run(&r, NULL, "help");
    assert_int_equal(r.code, 0);
    assert_true(strncmp(r.out, first, strlen(first)) == 0);
}

static void test_map_summary(void **state)
{
    run_t r;
    s_run(&r, NULL, "--node %s map", g_leader.addr);
    assert_int_equal(r.code, 0);
    assert_has(r.out, "shard map  epoch 12, 8 shards");
    assert_has(r.out, "OWNER  STATE     DATA ADDR");
    char line[200];
    snprintf(line, sizeof line, "1      active    %s", g_leader.addr);
    assert_has(r.out, line);
    assert_has(r.out, "     4  50.0%                8\n");
    assert_has(r.out, "2      active    127.0.0.1:7102");
    assert_has(r.out, "     3  37.5%                6\n");
    assert_has(r.out, "3      draining  127.0.0.1:7103");
    assert_has(r.out, "     0   0.0%                -\n");
    assert_has(r.out, "-      unowned");
    assert_has(r.out, "     1  12.5%                -\n");
    assert_int_equal(atomic_load(&g_leader.n_map), 1);

    s_run(&r, NULL, "--node %s map --json", g_leader.addr);
    assert_int_equal(r.code, 0);
    assert_true(s_valid_json(r.out));
    assert_has(r.out, "\"node\":1,");
    assert_has(r.out, "\"map_epoch\":12,\"shards\":8,\"unowned\":1,\"owners\":[");
    assert_has(r.out, "{\"id\":2,\"state\":\"active\",\"data_addr\":\"127.0.0.1:7102\","
                      "\"shards\":3,\"max_shard_epoch\":6}");
    assert_has(r.out, "{\"id\":3,\"state\":\"draining\",\"data_addr\":\"127.0.0.1:7103\","
                      "\"shards\":0,\"max_shard_epoch\":0}");
}

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_default_nodes(void **state)
{
    char env[128], path[256], text[256];
    run_t r;
    snprintf(env, sizeof env, "VIGIL_NODE=%s", g_leader.addr);
    s_run(&r, env, "status");
    assert_int_equal(r.code, 0);
    assert_has(r.out, "asked      node 1 at");

    /* ./var/cluster/nodes as ops/cluster.sh writes it; the first is down */
    snprintf(path, sizeof path, "%s/var", g_dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/var/cluster", g_dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/var/cluster/nodes", g_dir);
    snprintf(text, sizeof text, "# written by ops/cluster.sh\n1 %s\n\n2 %s\n", g_dead,
             g_follower.addr);
    s_write(path, text);
    s_run(&r, NULL, "--timeout 2000 status");
    assert_int_equal(r.code, 0);
    char line[160];
    snprintf(line, sizeof line, "asked      node 2 at %s", g_follower.addr);
    assert_has(r.out, line);

    s_run(&r, env, "status"); /* $VIGIL_NODE wins over the file */
    assert_int_equal(r.code, 0);
    assert_has(r.out, "asked      node 1 at");

    s_write(path, "1 127.0.0.1:7101 extra\n");
    s_run(&r, NULL, "status");
    assert_int_equal(r.code, 2);
    assert_has(r.err, "var/cluster/nodes:1: expected 'ID HOST:PORT'");

    s_write(path, "# nothing\n"); /* no address: the built-in default */
    s_run(&r, NULL, "--timeout 200 status");
    if (r.code == 0) /* a real cluster runs on this machine */
        assert_has(r.out, "at 127.0.0.1:7101");
    else
        assert_has(r.err, "no node reachable at 127.0.0.1:7101 within 200 ms");
    unlink(path);
}

/* ops/cluster.sh --dry-run: the commands it would run, nothing changed. */
static void test_cluster_sh_dry_run(void **state)
{
    char script[512], bin_dir[512], path[256];
    const char *src = getenv("VG_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/ops/cluster.sh", src ? src : ".");
    snprintf(bin_dir, sizeof bin_dir, "%s", g_bin);
    *strrchr(bin_dir, '/') = 0; /* <build>/bin */
    *strrchr(bin_dir, '/') = 0; /* <build> */
    snprintf(path, sizeof path, "%s/cl", g_dir);
    assert_int_equal(mkdir(path, 0755), 0);

    run_t r;
    s_sh(&r, "'%s' --build '%s' --dry-run start 3", script, bin_dir);
    assert_int_equal(r.code, 0);
    assert_has(r.out, "/bin/vigil-node --node-id 1 --listen 127.0.0.1:7101 --raft 127.0.0.1:8101 "
                      "--data-dir var/cluster/node1/data >>var/cluster/node1/node.log 2>&1 &");
    assert_has(r.out, "node 1 starting on 127.0.0.1:7101, bootstrapping a new cluster");
    assert_has(r.out, "--node-id 3 --listen 127.0.0.1:7103 --raft 127.0.0.1:8103 --data-dir "
                      "var/cluster/node3/data --join 127.0.0.1:7101 >>");
    assert_has(r.out, "+ write var/cluster/nodes: \"1 127.0.0.1:7101\" \"2 127.0.0.1:7102\" "
                      "\"3 127.0.0.1:7103\"");
    assert_has(r.out, "vigilctl --node 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103 nodes");
    assert_has(r.out, "/bin/vigil-gateway --http 127.0.0.1:8080 --cluster "
                      "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103 >>");
    snprintf(path, sizeof path, "%s/cl/var", g_dir);
    assert_int_equal(access(path, F_OK), -1); /* nothing created */

    s_sh(&r, "'%s' --dry-run --base-port 9000 --no-gateway --build '%s' start 1", script, bin_dir);
    assert_int_equal(r.code, 0);
    assert_has(r.out, "--node-id 1 --listen 127.0.0.1:9001 --raft 127.0.0.1:10001 ");
    assert_true(strstr(r.out, "vigil-gateway") == NULL);

    /* a pid file naming a live process that is not vigil-node: stale */
    snprintf(path, sizeof path, "%s/cl/var/cluster/node1", g_dir);
    char mk[512];
    snprintf(mk, sizeof mk, "mkdir -p '%s' && echo %d > '%s/pid'", path, (int) getpid(), path);
    assert_int_equal(system(mk), 0);
    s_sh(&r, "'%s' --build '%s' --dry-run start 2", script, bin_dir);
    assert_int_equal(r.code, 0);
    assert_has(r.out, "node 1 starting on 127.0.0.1:7101, bootstrapping");
    assert_has(r.out, "+ rm -f var/cluster/node1/pid");

    /* ... and one naming a live "vigil-node": running, the others join it */
    snprintf(
        mk, sizeof mk,
        "bash -c 'exec -a vigil-node sleep 30' </dev/null >/dev/null 2>&1 & echo $! > '%s/pid'",
        path);
    assert_int_equal(system(mk), 0);
    s_sh(&r, "'%s' --build '%s' --dry-run start 2", script, bin_dir);
    assert_int_equal(r.code, 0);
    assert_has(r.out, "node 1 already running (pid ");
    assert_has(r.out, "--node-id 2 --listen 127.0.0.1:7102 --raft 127.0.0.1:8102 --data-dir "
                      "var/cluster/node2/data --join 127.0.0.1:7101 >>");
    s_sh(&r, "'%s' --build '%s' --dry-run add", script, bin_dir);
    assert_int_equal(r.code, 0);
    assert_has(r.out, "--node-id 2 --listen 127.0.0.1:7102"); /* next id after the dirs: 2 */
    s_sh(&r, "'%s' --dry-run kill 1", script);
    assert_int_equal(r.code, 0);
    assert_has(r.out, "+ kill -9 ");
    assert_has(r.out, "+ rm -f var/cluster/node1/pid");
    s_sh(&r, "'%s' --dry-run stop", script);
    assert_int_equal(r.code, 0);
    assert_has(r.out, "+ kill -TERM ");
    snprintf(mk, sizeof mk, "kill $(cat '%s/pid'); rm -rf '%s/cl/var'", path, g_dir);
    assert_int_equal(system(mk), 0);

    static const struct {
        const char *args, *msg;
    } bad[] = {
        {"", "no command"},
        {"start", "start needs the number of nodes"},
        {"start 0", "start: N '0' must be 1..99"},
        {"kill x", "kill: ID 'x' must be a node id"},
        {"--wait 0 stop", "--wait '0'"},
        {"--http nowhere start 1", "--http 'nowhere': expected HOST:PORT"},
        {"restart", "unknown command 'restart'"},
        {"--build", "--build needs a value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s_sh(&r, "'%s' --dry-run %s", script, bad[i].args);
        assert_int_equal(r.code, 2);
        assert_has(r.err, bad[i].msg);
    }
    s_sh(&r, "'%s' --help", script);
    assert_int_equal(r.code, 0);
    assert_has(r.out, "usage: ops/cluster.sh");
    snprintf(path, sizeof path, "%s/cl", g_dir);
    rmdir(path);
}

/* In-process: vg_ctl's readers on odd input. */
static void test_parsers(void **state)
{
    vg_arena_t arena = VG_ARENA_INIT;
    vg_ctl_doc_t doc;
    char why[200];
    const char *bad = "{\"node\":1,\"members\":[{\"id\":1},{\"id\":2,\"shards\":\"many\"}]}";
    assert_int_equal(vg_ctl_doc_parse(bad, strlen(bad), &arena, &doc, why, sizeof why),
                     VG_ERR_PARSE);
    assert_has(why, "members[1].shards: expected an integer");
    const char *trail = "{\"leader\":null} x";
    assert_int_equal(vg_ctl_doc_parse(trail, strlen(trail), &arena, &doc, why, sizeof why),
                     VG_ERR_PARSE);
    const char *ok = "{\"leader\":null,\"moved\":3,\"state\":\"draining\",\"x\":[{}]}";
    assert_int_equal(vg_ctl_doc_parse(ok, strlen(ok), &arena, &doc, why, sizeof why), 0);
    assert_int_equal(doc.leader, -1);
    assert_int_equal(doc.moved, 3);
    assert_string_equal(doc.state, "draining");
    assert_false(doc.has_members);

    vg_ctl_map_t map;
    uint8_t owners[2 * 12] = {0};
    owners[3] = 7; /* shard 0: owner 7, not a member */
    assert_int_equal(
        vg_ctl_map_summarise(1, 2, owners, 23, "\x90", 1, &arena, &map, why, sizeof why),
        VG_ERR_PARSE);
    assert_has(why, "owners: 23 bytes for 2 shards");
    assert_int_equal(vg_ctl_map_summarise(1, 2, owners, 24, "\x91\x92\x01\x02", 4, &arena, &map,
                                          why, sizeof why),
                     VG_ERR_PARSE);
    assert_has(why, "members[0]");
    assert_int_equal(vg_ctl_map_summarise(1, 2, owners, 24, "", 0, &arena, &map, why, sizeof why),
                     0);
    assert_int_equal(map.n_owners, 1);
    assert_int_equal(map.owners[0].id, 7);
    assert_int_equal(map.owners[0].state, 0);
    assert_int_equal(map.owners[0].shards, 1);
    assert_int_equal(map.unowned, 1);

    static const char *good[] = {"127.0.0.1:7101", "node-2.local:1", "[::1]:7101", "h:65535"};
    static const char *worse[] = {"",     ":7101", "h:",        "h:0",      "h:65536",
                                  "h:7x", "a b:1", "[::1]7101", "tcp://h:1"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_true(vg_ctl_addr_valid(good[i], NULL));
    for (size_t i = 0; i < sizeof worse / sizeof *worse; i++)
        assert_false(vg_ctl_addr_valid(worse[i], NULL));
    vg_arena_fini(&arena);
}

/* A node running the Kafka bridge: its status carries "kafka", shown as a
 * section with one row per partition. */
static void test_kafka_status(void **state)
{
    (void) state;
    vg_arena_t arena = VG_ARENA_INIT;
    vg_ctl_doc_t doc;
    char why[200];
    const char *json =
        "{\"node\":1,\"leader\":1,\"term\":2,\"members\":[],\"kafka\":{\"group\":\"vigil\","
        "\"topics\":[\"tx\"],\"paused\":true,\"consumed\":900,\"scored\":880,"
        "\"dead_letters\":20,\"partitions\":[{\"topic\":\"tx\",\"partition\":0,"
        "\"position\":500,\"committed\":450,\"high\":600,\"lag\":150,\"paused\":true},"
        "{\"topic\":\"tx\",\"partition\":1,\"position\":-1,\"committed\":-1,\"high\":-1,"
        "\"lag\":-1,\"paused\":true,\"future\":1}],\"lag\":150}}";
    assert_int_equal(vg_ctl_doc_parse(json, strlen(json), &arena, &doc, why, sizeof why), 0);
    assert_true(doc.has_kafka);
    assert_string_equal(doc.kafka_group, "vigil");
    assert_int_equal(doc.kafka_lag, 150);
    assert_int_equal(doc.kafka_paused, 1);
    assert_int_equal(doc.n_kafka_parts, 2);
    assert_int_equal(doc.kafka_parts[0].committed, 450);
    assert_int_equal(doc.kafka_parts[1].lag, -1);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    vg_ctl_result_t res = {.node = 1};
    snprintf(res.addr, sizeof res.addr, "127.0.0.1:7101");
    vg_ctl_view_status(f, &doc, &res);
    fclose(f);
    assert_has(text, "kafka      group vigil, 2 partitions, lag 150, 900 consumed, 20 dead "
                     "letters (PAUSED)");
    assert_has(text, "TOPIC  PARTITION  POSITION  COMMITTED  HIGH  LAG  PAUSED");
    assert_has(text, "tx             0       500        450   600  150  yes");
    free(text);
    vg_arena_fini(&arena);
}

static int s_reset(void **state)
{
    fake_t *all[] = {&g_leader, &g_follower, &g_loop_a, &g_loop_b, &g_mute};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) s_fake_reset(all[i]);
    return 0;
}

static int s_setup(void **state)
{
    vg_log_set_level(VG_LOG_WARN);
    const char *bin_dir = getenv("VG_BINARY_DIR");
    if (bin_dir) {
        snprintf(g_bin, sizeof g_bin, "%s/bin/vigilctl", bin_dir);
    } else { /* run by hand: this test lives in <build>/tests, vigilctl in <build>/bin */
        char self[400];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
        char *slash = strrchr(self, '/');
        if (slash) *slash = 0;
        snprintf(g_bin, sizeof g_bin, "%s/../bin/vigilctl", self);
    }
    if (access(g_bin, X_OK) != 0) {
        fprintf(stderr, "test_vigilctl: %s is not built\n", g_bin);
        return -1;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/vigilctl-test-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    s_fake_start(&g_leader, 1, FAKE_LEADER, NULL);
    s_fake_start(&g_follower, 2, FAKE_FOLLOWER, &g_leader);
    s_fake_start(&g_loop_a, 4, FAKE_FOLLOWER, NULL);
    s_fake_start(&g_loop_b, 5, FAKE_FOLLOWER, &g_loop_a);
    g_loop_a.leader = &g_loop_b;
    s_fake_start(&g_mute, 6, FAKE_MUTE, NULL);
    /* a port nobody listens on: bind one, then let it go */
    vg_transport_t *t;
    vg_transport_config_t cfg = {.self_id = 99, .bind = "tcp://127.0.0.1:*"};
    assert_int_equal(vg_transport_new(&cfg, &t), 0);
    snprintf(g_dead, sizeof g_dead, "%s", vg_transport_endpoint(t) + 6);
    vg_transport_destroy(&t);
    return 0;
}

static int s_teardown(void **state)
{
    fake_t *all[] = {&g_leader, &g_follower, &g_loop_a, &g_loop_b, &g_mute};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) s_fake_stop(all[i]);
    char path[128];
    snprintf(path, sizeof path, "%s/stderr", g_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/var/cluster", g_dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/var", g_dir);
    rmdir(path);
    rmdir(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_status_table, s_reset),
        cmocka_unit_test_setup(test_status_json, s_reset),
        cmocka_unit_test_setup(test_status_pretty_json_and_nodes, s_reset),
        cmocka_unit_test_setup(test_drain_follows_leader, s_reset),
        cmocka_unit_test_setup(test_redirect_once_only, s_reset),
        cmocka_unit_test_setup(test_refused, s_reset),
        cmocka_unit_test_setup(test_unreachable, s_reset),
        cmocka_unit_test_setup(test_usage, s_reset),
        cmocka_unit_test_setup(test_help, s_reset),
        cmocka_unit_test_setup(test_map_summary, s_reset),
        cmocka_unit_test_setup(test_default_nodes, s_reset),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_kafka_status),
        cmocka_unit_test(test_cluster_sh_dry_run),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
