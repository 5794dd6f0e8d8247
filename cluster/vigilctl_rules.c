/* vigilctl_rules.c: the rules commands of vigilctl. Rule sets are checked
 * by the leader when pushed (they must compile); diff compiles both
 * versions here and compares rule by rule; backtest replays a history
 * file through the node's feature code and the rule set, locally. */
#include "vigilctl_rules.h"

#include "vg_err.h"
#include "vg_jw.h"
#include "vg_json.h"
#include "vg_mem.h"
#include "vg_rules.h"
#include "vg_rules_backtest.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

const char vigilctl_rules_help[] =
    "  rules push FILE [--no-activate]\n"
    "              compile-check FILE on the leader, commit it as the next rule\n"
    "              set version and make it active on every node (within ~1 s);\n"
    "              errors come back as FILE:LINE:COLUMN: what was expected\n"
    "  rules push-list NAME FILE [--no-activate]\n"
    "              a named list (one value per line, # comments) for\n"
    "              `x in list \"NAME\"`; the active rules must still compile\n"
    "  rules list  versions of the rule set and lists, and which are active\n"
    "  rules show [V]  the source of version V (default: the active one)\n"
    "  rules diff V1 V2  rules added, removed and changed between two versions\n"
    "  rules rollback [V]  make version V (default: the one before) active again\n"
    "  rules stats hits and errors per rule on every node (and their sum)\n"
    "  rules backtest FILE --data HISTORY [--labels LABELS]\n"
    "              replay HISTORY (NDJSON or a JSON array of transactions, in\n"
    "              event order) through the node's feature code and the rules\n"
    "              of FILE, locally: hits per rule, and precision/recall when\n"
    "              LABELS (CSV id,label[,kind] or JSON {id: 0|1} / [ids]) is given\n"
    "  models push FILE [--activate]\n"
    "              a vigil-train artifact: checked on the leader (format,\n"
    "              checksum, feature schema of the running engine), committed\n"
    "              as the next model version; --activate makes it score\n"
    "  models list versions, and which are active and shadow\n"
    "  models activate V  make version V score on every node\n"
    "  models rollback [V]  make version V (default: the one before) score again\n"
    "  models shadow V|off  score V alongside the active model, never acting on it\n"
    "  models stats  per node and summed: transactions scored and flagged by the\n"
    "              active and the shadow model, and flagged by both\n"
    "  alerts [list [pending|throttled|delivered|dead]]\n"
    "              every node's alerts, newest first (status, channel, user,\n"
    "              reason, count, attempts, last error)\n"
    "  alerts show ID | alerts retry ID  one alert (with its anomaly); queue a\n"
    "              dead alert again\n"
    "  alerts channels  each node's alert channels: healthy, queued, dead\n";

static int s_say(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_say(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vigilctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(code == EXIT_USAGE ? "\n(try 'vigilctl --help')\n" : "\n", stderr);
    va_end(ap);
    return code;
}

static const char *s_sub(const vigilctl_rules_opts_t *o)
{
    return o->n_args ? o->args[0] : "";
}

static bool s_version(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    if (!s || !*s || *end || v < 1 || v > UINT32_MAX) return false;
    *out = (uint32_t) v;
    return true;
}

static int s_models_check(const vigilctl_rules_opts_t *o)
{
    static const struct {
        const char *name;
        size_t min, max;
    } subs[] = {{"push", 1, 1},     {"list", 0, 0},   {"activate", 1, 1},
                {"rollback", 0, 1}, {"shadow", 1, 1}, {"stats", 0, 0}};
    const char *sub = s_sub(o);
    uint32_t v;
    if (o->data || o->labels || o->no_activate)
        return s_say(EXIT_USAGE, "--data, --labels and --no-activate go with rules commands");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(sub, subs[i].name)) continue;
        size_t n = o->n_args - 1;
        if (n < subs[i].min || n > subs[i].max)
            return s_say(EXIT_USAGE, "models %s: wrong number of arguments", sub);
        if (o->activate && strcmp(sub, "push"))
            return s_say(EXIT_USAGE, "--activate goes with models push");
        bool off = !strcmp(sub, "shadow") && n == 1 && !strcmp(o->args[1], "off");
        if ((!strcmp(sub, "activate") || !strcmp(sub, "rollback") || !strcmp(sub, "shadow")) &&
            n == 1 && !off && !s_version(o->args[1], &v))
            return s_say(EXIT_USAGE, "models %s: '%s' is not a version (1, 2, ...)", sub,
                         o->args[1]);
        return EXIT_OK;
    }
    return s_say(EXIT_USAGE,
                 "models: unknown subcommand '%s' (push, list, activate, rollback, shadow, stats)",
                 sub);
}

static int s_alerts_check(const vigilctl_rules_opts_t *o);

int vigilctl_rules_check(const vigilctl_rules_opts_t *o)
{
    if (o->alerts) return s_alerts_check(o);
    if (o->models) return s_models_check(o);
    if (o->activate) return s_say(EXIT_USAGE, "--activate goes with models push");
    static const struct {
        const char *name;
        size_t min, max; /* arguments after the subcommand */
    } subs[] = {{"push", 1, 1}, {"push-list", 2, 2}, {"list", 0, 0},  {"show", 0, 1},
                {"diff", 2, 2}, {"rollback", 0, 1},  {"stats", 0, 0}, {"backtest", 1, 1}};
    const char *sub = s_sub(o);
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(sub, subs[i].name)) continue;
        size_t n = o->n_args - 1;
        if (n < subs[i].min || n > subs[i].max)
            return s_say(EXIT_USAGE, "rules %s: wrong number of arguments", sub);
        if (!strcmp(sub, "backtest") && !o->data)
            return s_say(EXIT_USAGE, "rules backtest: --data HISTORY is required");
        if (strcmp(sub, "backtest") && (o->data || o->labels))
            return s_say(EXIT_USAGE, "--data and --labels go with rules backtest");
        uint32_t v;
        for (size_t k = 1; k < o->n_args && (!strcmp(sub, "show") || !strcmp(sub, "diff") ||
                                             !strcmp(sub, "rollback"));
             k++)
            if (!s_version(o->args[k], &v))
                return s_say(EXIT_USAGE, "rules %s: '%s' is not a version (1, 2, ...)", sub,
                             o->args[k]);
        return EXIT_OK;
    }
    return s_say(EXIT_USAGE,
                 "rules: unknown subcommand '%s' (push, push-list, list, show, diff, rollback, "
                 "stats, backtest)",
                 sub);
}

bool vigilctl_rules_local(const vigilctl_rules_opts_t *o)
{
    return !o->models && !o->alerts && !strcmp(s_sub(o), "backtest");
}

static char *s_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = vg_malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) buf = vg_realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n < cap ? n : cap - 1] = 0;
    *len = n;
    return buf;
}

/* Exit code of an answer that was not accepted; prints why. */
static int s_exit_for(int rc, const vg_ctl_result_t *res)
{
    if (rc == VG_ERR_TIMEOUT) return s_say(EXIT_UNREACHABLE, "%s", res->message);
    if (rc) return s_say(EXIT_FAILED, "%s", res->message[0] ? res->message : vg_strerror(rc));
    if (res->code)
        return s_say(EXIT_FAILED, "node %u refused: %s (%s)", res->node, res->message,
                     vg_errname(res->code));
    return EXIT_OK;
}

/* A JSON answer: printed raw with --json, else handed to view. */
static int s_admin(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o, const char *cmd, uint32_t arg,
                   vg_ctl_result_t *res)
{
    int rc = vg_ctl_admin(ctl, cmd, arg, o->reply_ms, res);
    return s_exit_for(rc, res);
}

static int s_push(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o, uint32_t kind, const char *name,
                  const char *path, bool activate)
{
    size_t len;
    char *content = s_read_file(path, &len);
    if (!content) return s_say(EXIT_FAILED, "cannot read %s", path);
    vg_ctl_result_t res;
    int rc = vg_ctl_blob_put(ctl, kind, name, content, len, activate, o->reply_ms, &res);
    free(content);
    if (!rc && res.code && !strncmp(res.message, "rules:", 6)) { /* the leader's name for it */
        char msg[sizeof res.message];
        snprintf(msg, sizeof msg, "%s%s", path, res.message + 5);
        snprintf(res.message, sizeof res.message, "%s", msg);
    }
    int code = s_exit_for(rc, &res);
    if (!code && o->json) {
        fwrite(res.json, 1, res.json_len, stdout);
        fputc('\n', stdout);
    } else if (!code) {
        json_t *j = json_loadb(res.json, res.json_len, 0, NULL);
        json_t *n = json_object_get(j, "rules");
        printf("%s v%lld committed by node %u%s", json_string_value(json_object_get(j, "name")),
               (long long) json_integer_value(json_object_get(j, "version")), res.node,
               json_is_true(json_object_get(j, "active")) ? " and active" : " (not active)");
        if (n) printf(", %lld rules", (long long) json_integer_value(n));
        printf(", hash %s\n", json_string_value(json_object_get(j, "hash")));
        json_decref(j);
    }
    vg_ctl_result_fini(&res);
    return code;
}

/* The "source" string of a rules.show answer, malloc'd. */
static char *s_source(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o, uint32_t version, int *code)
{
    vg_ctl_result_t res;
    *code = s_admin(ctl, o, "rules.show", version, &res);
    char *out = NULL;
    if (!*code) {
        vg_arena_t a = VG_ARENA_INIT;
        vg_jr_t r;
        vg_jr_init(&r, res.json, res.json_len, &a);
        bool first = true;
        vg_str_t key;
        if (!vg_jr_obj_begin(&r))
            while (vg_jr_obj_next(&r, &first, &key) == 1) {
                vg_str_t v;
                if (vg_str_eq_c(key, "source") && !vg_jr_string(&r, &v))
                    out = vg_strndup(v.ptr, v.len);
                else
                    vg_jr_skip(&r);
            }
        vg_arena_fini(&a);
        if (!out) *code = s_say(EXIT_FAILED, "node %u sent no source", res.node);
    }
    vg_ctl_result_fini(&res);
    return out;
}

static vg_ruleset_t *s_compile(const char *src, const char *what, int *code)
{
    vg_ruleset_t *rs = NULL;
    vg_rules_err_t err;
    memset(&err, 0, sizeof err);
    vg_rule_lists_t *lists = vg_rule_lists_new(); /* lists: compile against none */
    if (vg_ruleset_compile(src, strlen(src), what, NULL, &rs, &err)) {
        char msg[400];
        *code = s_say(EXIT_FAILED, "%s", vg_rules_err_str(&err, msg, sizeof msg));
    }
    vg_rule_lists_destroy(&lists);
    return rs;
}

static bool s_same_meta(const vg_rule_meta_t *a, const vg_rule_meta_t *b)
{
    return !strcmp(a->name, b->name) && !strcmp(a->description, b->description) &&
           a->severity == b->severity && a->action == b->action && a->weight == b->weight &&
           a->enabled == b->enabled && a->shadow == b->shadow && !strcmp(a->when_src, b->when_src);
}

static void s_print_rule(char mark, const vg_rule_meta_t *r)
{
    printf("%c rule %s  [%s, %s, %s%s]\n    when = %s\n", mark, r->id,
           vg_severity_name(r->severity), vg_rule_action_name(r->action),
           r->shadow ? "shadow" : "active", r->enabled ? "" : ", disabled", r->when_src);
}

static int s_diff(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o)
{
    uint32_t v1 = 0, v2 = 0;
    s_version(o->args[1], &v1);
    s_version(o->args[2], &v2);
    int code;
    char *a = s_source(ctl, o, v1, &code), *b = a ? s_source(ctl, o, v2, &code) : NULL;
    vg_ruleset_t *ra = b ? s_compile(a, o->args[1], &code) : NULL;
    vg_ruleset_t *rb = ra ? s_compile(b, o->args[2], &code) : NULL;
    if (rb) {
        size_t changes = 0;
        printf("rules v%u -> v%u\n", v1, v2);
        for (size_t i = 0; i < vg_ruleset_count(ra); i++) {
            const vg_rule_meta_t *x = vg_ruleset_rule(ra, i);
            int j = vg_ruleset_find(rb, x->id);
            if (j < 0) {
                s_print_rule('-', x), changes++;
            } else if (!s_same_meta(x, vg_ruleset_rule(rb, (size_t) j))) {
                s_print_rule('-', x), s_print_rule('+', vg_ruleset_rule(rb, (size_t) j));
                changes++;
            }
        }
        for (size_t i = 0; i < vg_ruleset_count(rb); i++)
            if (vg_ruleset_find(ra, vg_ruleset_rule(rb, i)->id) < 0)
                s_print_rule('+', vg_ruleset_rule(rb, i)), changes++;
        printf("%zu rule(s) differ\n", changes);
        code = EXIT_OK;
    }
    vg_ruleset_destroy(&ra);
    vg_ruleset_destroy(&rb);
    free(a);
    free(b);
    return code;
}

static int s_backtest(const vigilctl_rules_opts_t *o)
{
    size_t len;
    char *src = s_read_file(o->args[1], &len);
    if (!src) return s_say(EXIT_FAILED, "cannot read %s", o->args[1]);
    vg_ruleset_t *rs = NULL;
    vg_rules_err_t err;
    memset(&err, 0, sizeof err);
    int code = EXIT_OK;
    if (vg_ruleset_compile(src, len, o->args[1], NULL, &rs, &err)) {
        char msg[400];
        code = s_say(EXIT_FAILED, "%s", vg_rules_err_str(&err, msg, sizeof msg));
    }
    free(src);
    if (code) return code;
    vg_backtest_opts_t opts;
    vg_backtest_opts_default(&opts);
    vg_backtest_report_t rep;
    char why[400];
    if (vg_backtest_run_files(rs, o->data, o->labels, &opts, &rep, why, sizeof why)) {
        code = s_say(EXIT_FAILED, "%s", why);
    } else if (o->json) {
        vg_jw_t w;
        vg_jw_init(&w);
        vg_backtest_json(&rep, rs, &w);
        fwrite(w.buf, 1, w.len, stdout);
        fputc('\n', stdout);
        vg_jw_fini(&w);
    } else {
        vg_backtest_print(&rep, rs, stdout);
    }
    if (!code) vg_backtest_report_fini(&rep);
    vg_ruleset_destroy(&rs);
    return code;
}

static int s_show_json(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o, const char *cmd, uint32_t arg)
{
    vg_ctl_result_t res;
    int code = s_admin(ctl, o, cmd, arg, &res);
    if (!code) {
        fwrite(res.json, 1, res.json_len, stdout);
        fputc('\n', stdout);
    }
    vg_ctl_result_fini(&res);
    return code;
}

static int s_list(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o)
{
    vg_ctl_result_t res;
    int code = s_admin(ctl, o, "rules.list", 0, &res);
    json_t *j = code ? NULL : json_loadb(res.json, res.json_len, 0, NULL);
    if (!code && o->json) {
        fwrite(res.json, 1, res.json_len, stdout);
        fputc('\n', stdout);
    } else if (!code) {
        json_t *names = json_object_get(j, "names");
        if (!json_array_size(names)) printf("no rule set pushed yet\n");
        for (size_t i = 0; i < json_array_size(names); i++) {
            json_t *e = json_array_get(names, i), *vs = json_object_get(e, "versions");
            json_int_t active = json_integer_value(json_object_get(e, "active"));
            printf("%s (active: %s%lld)\n", json_string_value(json_object_get(e, "name")),
                   active ? "v" : "none", (long long) active);
            for (size_t k = 0; k < json_array_size(vs); k++) {
                json_t *v = json_array_get(vs, k);
                json_int_t ver = json_integer_value(json_object_get(v, "version"));
                printf("  %c v%-5lld %8lld bytes  %s\n", ver == active ? '*' : ' ', (long long) ver,
                       (long long) json_integer_value(json_object_get(v, "size")),
                       json_string_value(json_object_get(v, "hash")));
            }
        }
    }
    json_decref(j);
    vg_ctl_result_fini(&res);
    return code;
}

/* Asks every alive member (the status of the node reached lists them)
 * ADMIN cmd; their JSON answers, in member order (a member that does not
 * answer is reported on stderr and left out). *code: nonzero if even the
 * status failed. */
static json_t *s_ask_members_arg(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o, const char *cmd,
                                 const char *arg, int *code);

static json_t *s_ask_members(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o, const char *cmd,
                             int *code)
{
    return s_ask_members_arg(ctl, o, cmd, NULL, code);
}

/* Every live member's answer to cmd (arg: JSON or NULL); refusals are
 * kept as {"error": ...} objects with "node" added. */
static json_t *s_ask_members_arg(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o, const char *cmd,
                                 const char *arg, int *code)
{
    vg_ctl_result_t res;
    *code = s_admin(ctl, o, "status", 0, &res);
    json_t *st = *code ? NULL : json_loadb(res.json, res.json_len, 0, NULL);
    vg_ctl_result_fini(&res);
    json_t *members = json_object_get(st, "members"), *all = json_array();
    for (size_t i = 0; !*code && i < json_array_size(members); i++) {
        json_t *m = json_array_get(members, i);
        const char *addr = json_string_value(json_object_get(m, "data_addr"));
        if (!addr || !json_is_true(json_object_get(m, "alive"))) continue;
        const char *addrs[1] = {addr};
        vg_ctl_config_t cfg = {.addrs = addrs, .n_addrs = 1, .reach_timeout_ms = o->reply_ms};
        vg_ctl_t *one = NULL;
        char err[300];
        vg_ctl_result_t r;
        memset(&r, 0, sizeof r);
        json_t *j = NULL;
        if (!vg_ctl_new(&cfg, &one, err, sizeof err) &&
            !vg_ctl_admin_arg(one, cmd, 0, arg, arg ? strlen(arg) : 0, o->reply_ms, &r) &&
            (!r.code || arg))
            j = json_loadb(r.json ? r.json : "{}", r.json ? r.json_len : 2, 0, NULL);
        if (j && r.code) json_object_set_new(j, "code", json_integer(r.code));
        if (j)
            json_object_set_new(j, "node",
                                json_integer(json_integer_value(json_object_get(m, "id"))));
        vg_ctl_result_fini(&r);
        vg_ctl_destroy(&one);
        if (j)
            json_array_append_new(all, j);
        else
            fprintf(stderr, "vigilctl: node at %s: no answer to %s\n", addr, cmd);
    }
    json_decref(st);
    return all;
}

/* rules.stats of every member (the node asked lists them), summed. */
static int s_stats(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o)
{
    int code;
    json_t *all = s_ask_members(ctl, o, "rules.stats", &code), *sum = json_object();
    json_t *order = json_array();
    for (size_t i = 0; !code && i < json_array_size(all); i++) {
        json_t *j = json_array_get(all, i);
        json_t *rules = json_object_get(j, "rules");
        for (size_t k = 0; k < json_array_size(rules); k++) {
            json_t *x = json_array_get(rules, k);
            const char *id = json_string_value(json_object_get(x, "id"));
            json_t *acc = id ? json_object_get(sum, id) : NULL;
            if (!id) continue;
            if (!acc) {
                acc = json_deep_copy(x);
                json_object_set_new(acc, "hits", json_integer(0));
                json_object_set_new(acc, "errors", json_integer(0));
                json_object_set_new(sum, id, acc);
                json_array_append_new(order, json_string(id));
            }
            json_object_set_new(acc, "hits",
                                json_integer(json_integer_value(json_object_get(acc, "hits")) +
                                             json_integer_value(json_object_get(x, "hits"))));
            json_object_set_new(acc, "errors",
                                json_integer(json_integer_value(json_object_get(acc, "errors")) +
                                             json_integer_value(json_object_get(x, "errors"))));
        }
    }
    if (!code && o->json) {
        json_t *total = json_array();
        for (size_t k = 0; k < json_array_size(order); k++)
            json_array_append(total,
                              json_object_get(sum, json_string_value(json_array_get(order, k))));
        json_t *out = json_pack("{s:O, s:o}", "nodes", all, "total", total);
        char *text = json_dumps(out, JSON_COMPACT);
        puts(text);
        free(text);
        json_decref(out);
    } else if (!code) {
        printf("%-24s %-7s %-7s %-9s %12s %8s\n", "rule", "mode", "action", "severity", "hits",
               "errors");
        for (size_t k = 0; k < json_array_size(order); k++) {
            json_t *x = json_object_get(sum, json_string_value(json_array_get(order, k)));
            printf("%-24s %-7s %-7s %-9s %12lld %8lld\n",
                   json_string_value(json_object_get(x, "id")),
                   json_string_value(json_object_get(x, "mode")),
                   json_string_value(json_object_get(x, "action")),
                   json_string_value(json_object_get(x, "severity")),
                   (long long) json_integer_value(json_object_get(x, "hits")),
                   (long long) json_integer_value(json_object_get(x, "errors")));
        }
        printf("(%zu nodes; rule set version ", json_array_size(all));
        for (size_t i = 0; i < json_array_size(all); i++)
            printf(
                "%s%lld", i ? "/" : "",
                (long long) json_integer_value(json_object_get(json_array_get(all, i), "version")));
        printf(")\n");
    }
    json_decref(order);
    json_decref(sum);
    json_decref(all);
    return code;
}

/* `models stats`: every alive member's models.stats, and the sums. */
static int s_models_stats(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o)
{
    int code;
    json_t *all = s_ask_members(ctl, o, "models.stats", &code);
    static const char *keys[] = {"scored", "flagged", "shadow_scored", "shadow_flagged",
                                 "both_flagged"};
    long long sum[5] = {0};
    for (size_t i = 0; i < json_array_size(all); i++)
        for (int k = 0; k < 5; k++)
            sum[k] += json_integer_value(json_object_get(json_array_get(all, i), keys[k]));
    if (!code && o->json) {
        json_t *total = json_object();
        for (int k = 0; k < 5; k++) json_object_set_new(total, keys[k], json_integer(sum[k]));
        json_t *out = json_pack("{s:O, s:o}", "nodes", all, "total", total);
        char *text = json_dumps(out, JSON_COMPACT);
        puts(text);
        free(text);
        json_decref(out);
    } else if (!code) {
        printf("%-6s %-7s %-7s %12s %10s %14s %14s %13s\n", "node", "active", "shadow", "scored",
               "flagged", "shadow_scored", "shadow_flagged", "both_flagged");
        for (size_t i = 0; i < json_array_size(all); i++) {
            json_t *j = json_array_get(all, i);
            printf("%-6lld v%-6lld v%-6lld",
                   (long long) json_integer_value(json_object_get(j, "node")),
                   (long long) json_integer_value(json_object_get(j, "active")),
                   (long long) json_integer_value(json_object_get(j, "shadow")));
            for (int k = 0; k < 5; k++)
                printf(" %*lld",
                       k == 0   ? 12
                       : k == 1 ? 10
                       : k == 4 ? 13
                                : 14,
                       (long long) json_integer_value(json_object_get(j, keys[k])));
            printf("\n");
        }
        printf("%-22s", "total");
        for (int k = 0; k < 5; k++)
            printf(" %*lld", k == 0 ? 12 : k == 1 ? 10 : k == 4 ? 13 : 14, sum[k]);
        printf("\n");
    }
    json_decref(all);
    return code;
}

static int s_models_run(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o)
{
    const char *sub = s_sub(o);
    uint32_t v = 0;
    if (o->n_args > 1) s_version(o->args[1], &v); /* "off" stays 0 */
    if (!strcmp(sub, "push")) return s_push(ctl, o, 1, "model", o->args[1], o->activate);
    if (!strcmp(sub, "stats")) return s_models_stats(ctl, o);
    char cmd[32];
    snprintf(cmd, sizeof cmd, "models.%s", sub);
    vg_ctl_result_t res;
    int code = s_admin(ctl, o, cmd, v, &res);
    json_t *j = code ? NULL : json_loadb(res.json, res.json_len, 0, NULL);
    if (!code && o->json) {
        fwrite(res.json, 1, res.json_len, stdout);
        fputc('\n', stdout);
    } else if (!code && !strcmp(sub, "list")) {
        json_int_t active = json_integer_value(json_object_get(j, "active"));
        json_int_t shadow = json_integer_value(json_object_get(j, "shadow"));
        json_t *vs = json_object_get(j, "versions");
        if (!json_array_size(vs)) printf("no model pushed yet\n");
        for (size_t k = 0; k < json_array_size(vs); k++) {
            json_t *x = json_array_get(vs, k);
            json_int_t ver = json_integer_value(json_object_get(x, "version"));
            printf("  v%-5lld %10lld bytes  %s%s%s\n", (long long) ver,
                   (long long) json_integer_value(json_object_get(x, "size")),
                   json_string_value(json_object_get(x, "hash")), ver == active ? "  active" : "",
                   ver == shadow ? "  shadow" : "");
        }
    } else if (!code && !strcmp(sub, "shadow")) {
        printf(v ? "model v%u is the shadow on every node\n" : "no shadow model\n", v);
    } else if (!code) {
        printf("model v%lld is active\n",
               (long long) json_integer_value(json_object_get(j, "active")));
    }
    json_decref(j);
    vg_ctl_result_fini(&res);
    return code;
}

/* ---- alerts ------------------------------------------------------------------- */

static int s_alerts_check(const vigilctl_rules_opts_t *o)
{
    const char *sub = o->n_args ? s_sub(o) : "list";
    size_t n = o->n_args ? o->n_args - 1 : 0;
    if (o->data || o->labels || o->no_activate || o->activate)
        return s_say(EXIT_USAGE, "--data, --labels, --activate and --no-activate go with rules");
    if ((!strcmp(sub, "list") && n <= 1) || (!strcmp(sub, "channels") && n == 0) ||
        ((!strcmp(sub, "show") || !strcmp(sub, "retry")) && n == 1))
        return EXIT_OK;
    return s_say(EXIT_USAGE, "alerts: expected list [STATUS], show ID, retry ID or channels");
}

static int s_created_desc(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *) a, "created"));
    const char *y = json_string_value(json_object_get(*(json_t *const *) b, "created"));
    return -strcmp(x ? x : "", y ? y : "");
}

static void s_alerts_table(json_t *all)
{
    json_t *items = json_array();
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *arr = json_object_get(json_array_get(all, i), "alerts");
        for (size_t k = 0; k < json_array_size(arr); k++)
            json_array_append(items, json_array_get(arr, k));
    }
    size_t n = json_array_size(items);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = json_array_get(items, i);
    qsort(v, n, sizeof *v, s_created_desc);
    if (!n)
        printf("no alerts\n");
    else
        printf("%-10s %-10s %-12s %-14s %-22s %5s %4s  %s\n", "ID", "STATUS", "CHANNEL", "USER",
               "REASON", "COUNT", "TRY", "LAST ERROR / CREATED");
    for (size_t i = 0; i < n; i++) {
        json_t *a = v[i];
        const char *err = json_string_value(json_object_get(a, "last_error"));
        printf("%-10s %-10s %-12.12s %-14.14s %-22.22s %5lld %4lld  %.60s\n",
               json_string_value(json_object_get(a, "id")),
               json_string_value(json_object_get(a, "status")),
               json_string_value(json_object_get(a, "channel")),
               json_string_value(json_object_get(a, "user_id")),
               json_string_value(json_object_get(a, "reason")),
               (long long) json_integer_value(json_object_get(a, "count")),
               (long long) json_integer_value(json_object_get(a, "attempts")),
               err ? err : json_string_value(json_object_get(a, "created")));
    }
    free(v);
    json_decref(items);
}

static int s_alerts_run(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o)
{
    const char *sub = o->n_args ? s_sub(o) : "list";
    json_t *arg = json_object();
    if (!strcmp(sub, "list") && o->n_args > 1)
        json_object_set_new(arg, "status", json_string(o->args[1]));
    if (!strcmp(sub, "show") || !strcmp(sub, "retry"))
        json_object_set_new(arg, "id", json_string(o->args[1]));
    char cmd[32], *a = json_dumps(arg, JSON_COMPACT);
    snprintf(cmd, sizeof cmd, "alerts.%s", !strcmp(sub, "show") ? "get" : sub);
    json_decref(arg);
    int code;
    json_t *all = s_ask_members_arg(ctl, o, cmd, a, &code);
    free(a);
    json_t *ok = json_array();
    const char *why = NULL;
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *j = json_array_get(all, i);
        if (json_integer_value(json_object_get(j, "code")))
            why = json_string_value(json_object_get(j, "error"));
        else
            json_array_append(ok, j);
    }
    if (!code && !json_array_size(ok))
        code = s_say(EXIT_FAILED, "%s", why ? why : "no node answered");
    if (!code && (o->json || !strcmp(sub, "show") || !strcmp(sub, "channels"))) {
        json_t *out = !strcmp(sub, "show") || !strcmp(sub, "retry")
                          ? json_incref(json_array_get(ok, 0))
                          : json_incref(ok);
        char *text = json_dumps(out, o->json ? JSON_COMPACT : JSON_INDENT(2));
        puts(text);
        free(text);
        json_decref(out);
    } else if (!code && !strcmp(sub, "retry")) {
        printf("alert %s queued again\n", o->args[1]);
    } else if (!code) {
        s_alerts_table(ok);
    }
    json_decref(ok);
    json_decref(all);
    return code;
}

int vigilctl_rules_run(vg_ctl_t *ctl, const vigilctl_rules_opts_t *o)
{
    if (o->alerts) return s_alerts_run(ctl, o);
    if (o->models) return s_models_run(ctl, o);
    const char *sub = s_sub(o);
    uint32_t v = 0;
    if (o->n_args > 1 && strcmp(sub, "push") && strcmp(sub, "push-list") && strcmp(sub, "backtest"))
        s_version(o->args[1], &v);
    if (!strcmp(sub, "backtest")) return s_backtest(o);
    if (!strcmp(sub, "push")) return s_push(ctl, o, 0, "rules", o->args[1], !o->no_activate);
    if (!strcmp(sub, "push-list")) {
        char name[80];
        snprintf(name, sizeof name, "list.%s", o->args[1]);
        return s_push(ctl, o, 0, name, o->args[2], !o->no_activate);
    }
    if (!strcmp(sub, "diff")) return s_diff(ctl, o);
    if (!strcmp(sub, "show") && !o->json) {
        int code;
        char *src = s_source(ctl, o, v, &code);
        if (src) fputs(src, stdout);
        free(src);
        return code;
    }
    if (!strcmp(sub, "show")) return s_show_json(ctl, o, "rules.show", v);
    if (!strcmp(sub, "list")) return s_list(ctl, o);
    if (!strcmp(sub, "rollback") && o->json) return s_show_json(ctl, o, "rules.rollback", v);
    if (!strcmp(sub, "rollback")) {
        vg_ctl_result_t res;
        int code = s_admin(ctl, o, "rules.rollback", v, &res);
        if (!code) {
            json_t *j = json_loadb(res.json, res.json_len, 0, NULL);
            printf("rule set v%lld is active\n",
                   (long long) json_integer_value(json_object_get(j, "active")));
            json_decref(j);
            vg_ctl_result_fini(&res);
        }
        return code;
    }
    return s_stats(ctl, o);
}
