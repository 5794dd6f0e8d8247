/* vigilctl.c: the admin CLI of a Vigil cluster. Parses the command line,
 * finds which node(s) to ask (--node, $VIGIL_NODE, ./var/cluster/nodes,
 * 127.0.0.1:7101), runs one command through vg_ctl and prints the answer
 * as a table or as JSON. Exit codes: 0 ok, 1 refused/failed, 2 usage,
 * 3 no node reachable. */
#include "vg_ctl.h"
#include "vg_ctl_view.h"
#include "vigilctl_rules.h"

#include "vg_err.h"
#include "vg_jw.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_transport.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

#define S_TIMEOUT_MS        5000   /* reaching a node; answers to status/nodes/map */
#define S_CHANGE_TIMEOUT_MS 120000 /* drain/remove: the leader answers once shards moved */
#define S_DEFAULT_NODE      "127.0.0.1:7101"
#define S_NODES_FILE        "var/cluster/nodes"

static const char s_help[] =
    "usage: vigilctl [--node HOST:PORT[,HOST:PORT...]] [--json] [--timeout MS] COMMAND [ARGS]\n"
    "\n"
    "Administers a Vigil cluster: asks one node (over the cluster's ZeroMQ\n"
    "control protocol), which answers for the whole cluster.\n"
    "\n"
    "commands:\n"
    "  status      leader, raft term, shard-map epoch and size, the members\n"
    "              (state, voter, alive, shards owned) and warnings\n"
    "  nodes       the members table only\n"
    "  metrics     the asked node's own metrics, Prometheus text format (with\n"
    "              --json: {\"node\", \"prometheus\"}); use --node to pick it\n"
    "  drain ID    move every shard off node ID; it stays a member (draining).\n"
    "              Goes to the leader: a node that is not the leader answers\n"
    "              NOT_OWNER with the leader's address, which is asked once\n"
    "  remove ID   drain node ID, then remove it from the cluster (same routing)\n"
    "  map         the shard map: epoch, shard count, shards per owner\n"
    "%s"
    "  help        this text\n"
    "\n"
    "options (anywhere on the line; --opt=VALUE works too):\n"
    "  -n, --node HOST:PORT[,HOST:PORT...]\n"
    "              the node(s) to ask, at their --listen address; with several,\n"
    "              all are dialled and the first that answers is used.\n"
    "              Default: $VIGIL_NODE (same syntax), else every address in\n"
    "              ./" S_NODES_FILE " (written by ops/cluster.sh, one\n"
    "              \"ID HOST:PORT\" per line), else " S_DEFAULT_NODE "\n"
    "  -j, --json  print the node's JSON answer as it came (valid JSON, one\n"
    "              document on stdout); for `map`, a JSON summary:\n"
    "              {\"node\",\"node_addr\",\"map_epoch\",\"shards\",\"unowned\",\n"
    "               \"owners\":[{\"id\",\"state\",\"data_addr\",\"shards\",\"max_shard_epoch\"}]}\n"
    "  -t, --timeout MS\n"
    "              how long to wait for a node to be reachable, and for its\n"
    "              answer (default 5000). Without --timeout, drain and remove\n"
    "              wait up to 120000 ms for the answer: the leader answers once\n"
    "              the shards have moved\n"
    "  -v, --verbose  log the transport's activity on stderr (or VIGIL_LOG=debug)\n"
    "  -h, --help  this text\n"
    "      --version  vigilctl's version\n"
    "\n"
    "exit codes:\n"
    "  0  ok\n"
    "  1  the cluster refused or the command failed (message on stderr)\n"
    "  2  usage error: unknown command or option, bad ID, address or number\n"
    "  3  no node reachable, or no answer within the timeout\n"
    "\n"
    "examples:\n"
    "  make cluster N=3 && build/bin/vigilctl status\n"
    "  vigilctl --node 127.0.0.1:7102 drain 3\n"
    "  vigilctl --json status | jq '.members[] | select(.alive | not) | .id'\n";

typedef struct {
    const char *command;
    vigilctl_rules_opts_t rules; /* rules ... */
    uint32_t node_id;            /* drain / remove */
    bool json, verbose;
    int timeout_ms;  /* -1: not given */
    char *node_list; /* --node as given (owned) */
    const char *addrs[VG_CTL_MAX_NODES];
    size_t n_addrs;
    char *addr_store;   /* the strings addrs point into (owned) */
    const char *source; /* where the addresses came from, for messages */
} s_opts_t;

typedef struct {
    const char *name;
    bool takes_id;
} s_cmd_t;

static const s_cmd_t s_cmds[] = {
    {"status", false}, {"nodes", false}, {"metrics", false}, {"drain", true},   {"remove", true},
    {"map", false},    {"rules", false}, {"models", false},  {"alerts", false}, {"help", false},
};

/* "vigilctl: <message>\n" on stderr, plus a pointer to --help for usage
 * errors; returns the exit code. */
static int s_vsay(int code, const char *fmt, va_list ap)
{
    fputs("vigilctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(code == EXIT_USAGE ? "\n(try 'vigilctl --help')\n" : "\n", stderr);
    return code;
}

static int s_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int s_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int code = s_vsay(EXIT_USAGE, fmt, ap);
    va_end(ap);
    return code;
}

static int s_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    code = s_vsay(code, fmt, ap);
    va_end(ap);
    return code;
}

/* Decimal in [lo, hi]; whole string. */
static bool s_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || !isdigit((unsigned char) *s)) return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* ---- the command line ---------------------------------------------------- */

/* "--opt VALUE" or "--opt=VALUE": the value, advancing *i; NULL if missing. */
static const char *s_optval(int argc, char **argv, int *i, const char *eq)
{
    if (eq) return eq + 1;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

static int s_option(int argc, char **argv, int *i, s_opts_t *o, bool *done)
{
    const char *a = argv[*i], *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    size_t nlen = eq ? (size_t) (eq - a) : strlen(a);
#define S_IS(longname, shortname) \
    ((nlen == strlen(longname) && !strncmp(a, longname, nlen)) || !strcmp(a, shortname))
    if (S_IS("--help", "-h")) {
        printf(s_help, vigilctl_rules_help);
        *done = true;
        return EXIT_OK;
    }
    if (S_IS("--version", "-V")) {
        printf("vigilctl %s\n", VG_VERSION);
        *done = true;
        return EXIT_OK;
    }
    bool json = S_IS("--json", "-j"), verbose = S_IS("--verbose", "-v");
    if (json || verbose) {
        if (eq) return s_usage("option '%.*s' takes no value", (int) nlen, a);
        o->json |= json;
        o->verbose |= verbose;
        return EXIT_OK;
    }
    if (S_IS("--node", "-n")) {
        const char *v = s_optval(argc, argv, i, eq);
        if (!v || !*v) return s_usage("--node needs HOST:PORT[,HOST:PORT...]");
        free(o->node_list);
        o->node_list = vg_strdup(v);
        return EXIT_OK;
    }
    if (S_IS("--data", "--data") || S_IS("--labels", "--labels")) {
        bool data = S_IS("--data", "--data");
        const char *v = s_optval(argc, argv, i, eq);
        if (!v || !*v) return s_usage("%s needs a file", data ? "--data" : "--labels");
        *(data ? &o->rules.data : &o->rules.labels) = v;
        return EXIT_OK;
    }
    if (S_IS("--no-activate", "--no-activate") || S_IS("--activate", "--activate")) {
        *(S_IS("--activate", "--activate") ? &o->rules.activate : &o->rules.no_activate) = true;
        return EXIT_OK;
    }
    if (S_IS("--timeout", "-t")) {
        const char *v = s_optval(argc, argv, i, eq);
        uint64_t ms;
        if (!v) return s_usage("--timeout needs a number of milliseconds");
        if (!s_parse_u64(v, 1, 3600000, &ms))
            return s_usage("--timeout '%s': expected milliseconds from 1 to 3600000", v);
        o->timeout_ms = (int) ms;
        return EXIT_OK;
    }
#undef S_IS
    return s_usage("unknown option '%s'", a);
}

static int s_positional(const char *a, int *npos, s_opts_t *o)
{
    if ((*npos)++ == 0) {
        for (size_t c = 0; c < VG_ARRAY_LEN(s_cmds); c++)
            if (!strcmp(a, s_cmds[c].name)) {
                o->command = s_cmds[c].name;
                return EXIT_OK;
            }
        return s_usage("unknown command '%s' (status, nodes, drain ID, remove ID, map, rules, "
                       "models, alerts, help)",
                       a);
    }
    if (!strcmp(o->command, "rules") || !strcmp(o->command, "models") ||
        !strcmp(o->command, "alerts")) {
        o->rules.models = !strcmp(o->command, "models");
        o->rules.alerts = !strcmp(o->command, "alerts");
        if (o->rules.n_args == VG_ARRAY_LEN(o->rules.args))
            return s_usage("rules: unexpected argument '%s'", a);
        o->rules.args[o->rules.n_args++] = a;
        return EXIT_OK;
    }
    bool takes_id = !strcmp(o->command, "drain") || !strcmp(o->command, "remove");
    if (takes_id && *npos == 2) {
        uint64_t id;
        if (!s_parse_u64(a, 1, VG_TRANSPORT_CLIENT_ID_MIN - 1, &id))
            return s_usage("%s: node ID '%s' is not an integer from 1 to %u", o->command, a,
                           VG_TRANSPORT_CLIENT_ID_MIN - 1);
        o->node_id = (uint32_t) id;
        return EXIT_OK;
    }
    return s_usage("%s: unexpected argument '%s'", o->command, a);
}

static int s_parse_args(int argc, char **argv, s_opts_t *o, bool *done)
{
    int npos = 0, rc;
    bool opts_end = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_end && !strcmp(a, "--")) {
            opts_end = true;
            continue;
        }
        if (!opts_end && a[0] == '-' && a[1])
            rc = s_option(argc, argv, &i, o, done);
        else
            rc = s_positional(a, &npos, o);
        if (rc || *done) return rc;
    }
    if (!o->command) return s_usage("no command given (status, nodes, drain ID, remove ID, map)");
    if ((!strcmp(o->command, "drain") || !strcmp(o->command, "remove")) && !o->node_id)
        return s_usage("%s: missing node ID (usage: vigilctl %s ID)", o->command, o->command);
    if (!strcmp(o->command, "alerts")) o->rules.alerts = true;
    if (!strcmp(o->command, "rules") || !strcmp(o->command, "models") ||
        !strcmp(o->command, "alerts"))
        return vigilctl_rules_check(&o->rules);
    if (o->rules.data || o->rules.labels || o->rules.no_activate || o->rules.activate)
        return s_usage("--data, --labels, --activate and --no-activate go with rules/models");
    return EXIT_OK;
}

/* ---- which node(s) to ask ------------------------------------------------ */

/* Splits a comma list into o->addrs (validated). */
static int s_addr_list(s_opts_t *o, const char *list, const char *source)
{
    free(o->addr_store);
    o->addr_store = vg_strdup(list);
    o->n_addrs = 0;
    o->source = source;
    char *save = NULL;
    for (char *tok = strtok_r(o->addr_store, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char) *tok)) tok++;
        char *end = tok + strlen(tok);
        while (end > tok && isspace((unsigned char) end[-1])) *--end = 0;
        if (!*tok) continue;
        const char *why;
        if (!vg_ctl_addr_valid(tok, &why))
            return s_usage("bad node address '%s' (from %s): %s; expected HOST:PORT", tok, source,
                           why);
        if (o->n_addrs == VG_CTL_MAX_NODES)
            return s_usage("too many node addresses (from %s): at most %d", source,
                           VG_CTL_MAX_NODES);
        o->addrs[o->n_addrs++] = tok;
    }
    if (!o->n_addrs) return s_usage("no node address in %s", source);
    return EXIT_OK;
}

/* ./var/cluster/nodes: "ID HOST:PORT" (or "HOST:PORT") per line, '#'
 * comments. Returns EXIT_OK with *found false when there is no file or
 * no address in it. */
static int s_nodes_file(s_opts_t *o, bool *found)
{
    *found = false;
    FILE *f = fopen(S_NODES_FILE, "r");
    if (!f) return EXIT_OK;
    char line[512], list[VG_CTL_MAX_NODES * VG_CTL_ADDR_MAX] = "";
    size_t off = 0;
    int lineno = 0, rc = EXIT_OK;
    while (rc == EXIT_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *tok[3] = {0}, *save = NULL;
        int n = 0;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 3;
             t = strtok_r(NULL, " \t\r\n", &save))
            tok[n++] = t;
        if (!n) continue;
        uint64_t id;
        if (n > 2 || (n == 2 && !s_parse_u64(tok[0], 1, VG_TRANSPORT_CLIENT_ID_MIN - 1, &id))) {
            rc = s_usage("%s:%d: expected 'ID HOST:PORT'", S_NODES_FILE, lineno);
            break;
        }
        int w = snprintf(list + off, sizeof list - off, "%s%s", off ? "," : "", tok[n - 1]);
        if (w > 0 && (size_t) w < sizeof list - off) off += (size_t) w;
    }
    fclose(f);
    if (rc || !off) return rc;
    *found = true;
    return s_addr_list(o, list, "./" S_NODES_FILE);
}

static int s_find_nodes(s_opts_t *o)
{
    if (o->node_list) return s_addr_list(o, o->node_list, "--node");
    const char *env = getenv("VIGIL_NODE");
    if (env && *env) return s_addr_list(o, env, "$VIGIL_NODE");
    bool found;
    int rc = s_nodes_file(o, &found);
    if (rc || found) return rc;
    return s_addr_list(o, S_DEFAULT_NODE, "the default address");
}

/* ---- commands ------------------------------------------------------------- */

/* Exit code of a vg_ctl call that did not produce an accepted answer. */
static int s_exit_for(int rc, const vg_ctl_result_t *res)
{
    if (rc == VG_ERR_TIMEOUT) return s_fail(EXIT_UNREACHABLE, "%s", res->message);
    if (rc) return s_fail(EXIT_FAILED, "%s", res->message[0] ? res->message : vg_strerror(rc));
    if (res->code)
        return s_fail(EXIT_FAILED, "node %u at %s refused: %s (%s)", res->node, res->addr,
                      res->message, vg_errname(res->code));
    return EXIT_OK;
}

static int s_run_admin(vg_ctl_t *ctl, const s_opts_t *o, int reply_ms)
{
    vg_ctl_result_t res;
    int rc = vg_ctl_admin(ctl, o->command, o->node_id, reply_ms, &res);
    int code = s_exit_for(rc, &res);
    if (code) {
        vg_ctl_result_fini(&res);
        return code;
    }
    vg_arena_t arena = VG_ARENA_INIT;
    vg_ctl_doc_t doc;
    char why[256];
    if (vg_ctl_doc_parse(res.json, res.json_len, &arena, &doc, why, sizeof why)) {
        code = s_fail(EXIT_FAILED, "node %u sent invalid JSON: %s", res.node, why);
    } else if (o->json) {
        fwrite(res.json, 1, res.json_len, stdout);
        fputc('\n', stdout);
    } else if (!strcmp(o->command, "status")) {
        vg_ctl_view_status(stdout, &doc, &res);
    } else if (!strcmp(o->command, "nodes")) {
        vg_ctl_view_members(stdout, &doc);
    } else if (!strcmp(o->command, "metrics")) {
        fputs(doc.prometheus ? doc.prometheus : "", stdout);
    } else {
        vg_ctl_view_change(stdout, o->command, o->node_id, &doc, &res);
    }
    vg_arena_fini(&arena);
    vg_ctl_result_fini(&res);
    return code;
}

static int s_run_map(vg_ctl_t *ctl, const s_opts_t *o, int reply_ms)
{
    vg_ctl_result_t res;
    vg_ctl_map_t map;
    vg_arena_t arena = VG_ARENA_INIT;
    int code = s_exit_for(vg_ctl_map(ctl, reply_ms, &arena, &res, &map), &res);
    if (!code && o->json) {
        vg_jw_t w;
        vg_jw_init(&w);
        vg_ctl_view_map_json(&w, &map, &res);
        fwrite(w.buf, 1, w.len, stdout);
        fputc('\n', stdout);
        vg_jw_fini(&w);
    } else if (!code) {
        vg_ctl_view_map(stdout, &map, &res);
    }
    vg_arena_fini(&arena);
    vg_ctl_result_fini(&res);
    return code;
}

static int s_run(s_opts_t *o)
{
    o->rules.json = o->json;
    o->rules.reply_ms = o->timeout_ms > 0 ? o->timeout_ms : S_TIMEOUT_MS;
    if ((!strcmp(o->command, "rules") || !strcmp(o->command, "models")) &&
        vigilctl_rules_local(&o->rules))
        return vigilctl_rules_run(NULL, &o->rules);
    int code = s_find_nodes(o);
    if (code) return code;
    bool change = !strcmp(o->command, "drain") || !strcmp(o->command, "remove");
    int reach_ms = o->timeout_ms > 0 ? o->timeout_ms : S_TIMEOUT_MS;
    int reply_ms = o->timeout_ms > 0 ? o->timeout_ms : change ? S_CHANGE_TIMEOUT_MS : S_TIMEOUT_MS;
    vg_ctl_config_t cfg = {.addrs = o->addrs, .n_addrs = o->n_addrs, .reach_timeout_ms = reach_ms};
    vg_ctl_t *ctl;
    char err[512];
    int rc = vg_ctl_new(&cfg, &ctl, err, sizeof err);
    if (rc) return s_fail(rc == VG_ERR_INVALID ? EXIT_USAGE : EXIT_FAILED, "%s", err);
    if (!strcmp(o->command, "rules") || !strcmp(o->command, "models") ||
        !strcmp(o->command, "alerts"))
        code = vigilctl_rules_run(ctl, &o->rules);
    else if (!strcmp(o->command, "map"))
        code = s_run_map(ctl, o, reply_ms);
    else
        code = s_run_admin(ctl, o, reply_ms);
    vg_ctl_destroy(&ctl);
    return code;
}

int main(int argc, char **argv)
{
    s_opts_t o = {.timeout_ms = -1};
    bool done = false;
    int code = s_parse_args(argc, argv, &o, &done);
    if (!code && !done && !strcmp(o.command, "help")) {
        printf(s_help, vigilctl_rules_help);
        done = true;
    }
    if (!code && !done) {
        if (o.verbose)
            vg_log_set_level(VG_LOG_DEBUG);
        else if (!getenv("VIGIL_LOG"))
            vg_log_set_level(VG_LOG_ERROR); /* the transport's chatter is not for the user */
        code = s_run(&o);
    }
    if (fflush(stdout) != 0 && !code) code = s_fail(EXIT_FAILED, "writing the output failed");
    free(o.node_list);
    free(o.addr_store);
    return code;
}
