/* lg_cli.c: option table, parsing ("--flag value" or "--flag=value") and
 * the --help text of vigil-loadgen. */
#include "lg_cli.h"

#include "vg_err.h"
#include "vg_mem.h"
#include "vg_tx.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void lg_opts_defaults(lg_opts_t *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->target, sizeof o->target, "http://127.0.0.1:8080");
    lg_url_parse(o->target, &o->url, NULL, 0);
    o->batch = 100;
    o->warmup_batch = 500;
    o->concurrency = 4;
    o->users = 1000;
    o->anomaly_rate = 0.02;
    o->seed = 1;
    o->history_days = 7;
    o->report_every = 5;
    o->timeout_ms = 10000;
}

void lg_cli_usage(FILE *f)
{
    fputs("usage: vigil-loadgen [options]\n"
          "\n"
          "Synthetic, labelled card transactions for Vigil: a seeded population of users\n"
          "with their own habits (home city, typical amounts, usual merchants and devices,\n"
          "channel mix, activity rate, active hours in local time, occasional trips, new\n"
          "merchants and big purchases that are NOT fraud) plus injected, labelled anomalies\n"
          "(amount_spike, velocity, impossible_travel, account_takeover, new_device_high).\n"
          "Sends them to POST /v1/transactions and reports throughput, latency and, against\n"
          "the labels, precision/recall of the verdicts.\n"
          "\n"
          "Target and load:\n"
          "  --target URL         http://host:port[/path] (default http://127.0.0.1:8080,\n"
          "                       path /v1/transactions)\n"
          "  --rate N             transactions per second, 0 = as fast as possible (default 0)\n"
          "  --batch N            transactions per request, 1..10000; 1 sends single JSON\n"
          "                       objects, more send a JSON array (default 100)\n"
          "  --warmup-batch N     transactions per request in the warm-up (default 500)\n"
          "  --concurrency N      connections, one thread each, HTTP/1.1 keep-alive\n"
          "                       (default 4); a user's transactions always use the same\n"
          "                       connection, so each user's events arrive in order\n"
          "  --duration S         length of the measured phase: seconds, or with a suffix\n"
          "                       s/m/h (default 10 s when neither --duration nor --count\n"
          "                       is given; none with --realtime: run until Ctrl-C)\n"
          "  --count N            stop after N measured transactions (with --duration:\n"
          "                       whichever comes first)\n"
          "  --timeout MS         connect/send/receive timeout per request (default 10000)\n"
          "  --header 'N: V'      extra request header, repeatable (e.g. Authorization)\n"
          "\n"
          "Traffic:\n"
          "  --users N            population size (default 1000)\n"
          "  --anomaly-rate F     expected share of anomalous transactions, 0..0.5\n"
          "                       (default 0.02)\n"
          "  --anomaly-mix LIST   relative weights of anomaly episodes, e.g.\n"
          "                       'amount_spike=3,velocity=1,impossible_travel=3,\n"
          "                       account_takeover=2,new_device_high=3' (the default);\n"
          "                       kinds left out get 0. A velocity episode is 6-15\n"
          "                       transactions, an account takeover 1-3, the others 1.\n"
          "  --seed N             random seed (default 1); same options = same traffic\n"
          "  --run-id S           tag in every user and transaction id, [A-Za-z0-9_.]{1,16}:\n"
          "                       users are u<seed>.<run>-<n>, transactions\n"
          "                       t<seed>.<run>-<n>-<seq>. Default: the start time when\n"
          "                       sending (so reruns never collide as duplicates), none\n"
          "                       with --dry-run. Repeat a run id to replay duplicates\n"
          "                       (each user's sequence is the same; with --concurrency\n"
          "                       > 1 how far each user gets in a run depends on timing).\n"
          "  --history-days D     warm-up: the first D simulated days of every user are\n"
          "                       sent first, as fast as possible, in --warmup-batch\n"
          "                       requests, with event times in the past; they are not\n"
          "                       part of the latency or quality figures (default 7,\n"
          "                       0 = no warm-up)\n"
          "  --start TIME         start of the simulated clock (RFC 3339 or epoch ms).\n"
          "                       Default: now minus --history-days, so the history ends\n"
          "                       now; with --dry-run 2026-01-01T00:00:00Z, so dry runs\n"
          "                       are reproducible. The measured phase then runs on the\n"
          "                       simulated clock as fast as --rate allows.\n"
          "  --realtime           demo mode: after the warm-up, transactions are sent when\n"
          "                       they happen and stamped with the wall clock (event time\n"
          "                       = now). --rate N speeds the population's clock up so that\n"
          "                       it produces N tx/s averaged over a day (more at its busy\n"
          "                       local hours); the factor is printed, and gaps between a\n"
          "                       user's payments shrink by it, so raise --users to keep it\n"
          "                       small (--rate 20 --users 50000: x14). Without --rate the\n"
          "                       population runs in true real time.\n"
          "\n"
          "Output:\n"
          "  --dry-run            no network: print the transactions as NDJSON on stdout\n"
          "                       (warm-up included), the summary on stderr; honours\n"
          "                       --rate, --count and --duration (default --count 1000)\n"
          "  --labels FILE        write 'id,label,kind' CSV for every generated transaction\n"
          "                       (label 1 = injected anomaly; kind: routine, new_merchant,\n"
          "                       big_purchase, trip, new_device or the anomaly kind)\n"
          "  --report-every S     progress line on stderr every S seconds (default 5, 0 = off)\n"
          "  --quiet              no progress lines, only the final report (with\n"
          "                       --dry-run: no summary either)\n"
          "  --json               final report as one JSON object on stdout\n"
          "  --help, --version\n"
          "\n"
          "Measurement:\n"
          "  Load is open-loop: request k is due at start + k * batch / rate, whether or\n"
          "  not earlier requests have been answered. Latency is measured from that\n"
          "  scheduled send time (not from the moment a free connection sent it) to the\n"
          "  last byte of the response, so a stalled server shows up in the percentiles\n"
          "  instead of silently lowering the offered load (no coordinated omission).\n"
          "  'service' is the same from the actual send. With --rate 0 both are equal.\n"
          "  Percentiles come from a log-bucket histogram (< 0.4 % error).\n"
          "  Quality is computed on the measured phase only: verdict.anomaly against the\n"
          "  label (precision, recall, F1, false-positive rate, recall per anomaly kind,\n"
          "  flag rate per legitimate kind), and the same for decision != allow.\n"
          "\n"
          "Exit status: 0 done, 1 bad usage or failure, 2 target unreachable,\n"
          "130 interrupted (the report is still printed).\n",
          f);
}

/* ---- value parsers ----------------------------------------------------- */

static int s_err(char *err, size_t errlen, const char *flag, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_err(char *err, size_t errlen, const char *flag, const char *fmt, ...)
{
    int n = snprintf(err, errlen, "%s: ", flag);
    if (n < 0 || (size_t) n >= errlen) return VG_ERR_INVALID;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t) n, fmt, ap);
    va_end(ap);
    return VG_ERR_INVALID;
}

static int s_num(const char *flag, const char *v, double lo, double hi, double *out, char *err,
                 size_t errlen)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d))
        return s_err(err, errlen, flag, "expected a number, got '%s'", v);
    if (d < lo || d > hi) return s_err(err, errlen, flag, "must be %g..%g, got %s", lo, hi, v);
    *out = d;
    return 0;
}

static int s_int(const char *flag, const char *v, uint64_t lo, uint64_t hi, uint64_t *out,
                 char *err, size_t errlen)
{
    char *end;
    errno = 0;
    if (*v == '-' || *v == '+' || *v == ' ')
        return s_err(err, errlen, flag, "expected a whole number, got '%s'", v);
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || errno)
        return s_err(err, errlen, flag, "expected a whole number, got '%s'", v);
    if (x < lo || x > hi)
        return s_err(err, errlen, flag, "must be %llu..%llu, got %s", (unsigned long long) lo,
                     (unsigned long long) hi, v);
    *out = x;
    return 0;
}

static int s_u32(const char *flag, const char *v, uint32_t lo, uint32_t hi, uint32_t *out,
                 char *err, size_t errlen)
{
    uint64_t x;
    int rc = s_int(flag, v, lo, hi, &x, err, errlen);
    if (rc == 0) *out = (uint32_t) x;
    return rc;
}

static int s_seconds(const char *flag, const char *v, double *out, char *err, size_t errlen)
{
    char buf[64];
    size_t n = strlen(v);
    double mult = 1;
    if (n && n < sizeof buf && strchr("smh", v[n - 1])) {
        mult = v[n - 1] == 'm' ? 60 : v[n - 1] == 'h' ? 3600 : 1;
        memcpy(buf, v, n - 1);
        buf[n - 1] = 0;
        v = buf;
    }
    double d;
    int rc = s_num(flag, v, 0, 1e9, &d, err, errlen);
    if (rc == 0) *out = d * mult;
    return rc;
}

static int s_mix(const char *v, double *mix, char *err, size_t errlen)
{
    memset(mix, 0, sizeof(double) * LG_ANOMALY_KINDS);
    double sum = 0;
    const char *p = v;
    while (*p) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        if (!eq || eq > end)
            return s_err(err, errlen, "--anomaly-mix", "expected kind=weight, got '%.*s'",
                         (int) (end - p), p);
        int k = lg_kind_parse(p, (size_t) (eq - p));
        if (!lg_kind_is_anomaly(k))
            return s_err(err, errlen, "--anomaly-mix",
                         "unknown anomaly kind '%.*s' (amount_spike, velocity, "
                         "impossible_travel, account_takeover, new_device_high)",
                         (int) (eq - p), p);
        char num[32];
        size_t nl = (size_t) (end - eq - 1);
        if (nl == 0 || nl >= sizeof num)
            return s_err(err, errlen, "--anomaly-mix", "missing weight for '%.*s'", (int) (eq - p),
                         p);
        memcpy(num, eq + 1, nl);
        num[nl] = 0;
        double w;
        if (s_num("--anomaly-mix", num, 0, 1e6, &w, err, errlen)) return VG_ERR_INVALID;
        mix[k - LG_KIND_FIRST_ANOMALY] = w;
        sum += w;
        p = *end ? end + 1 : end;
    }
    if (sum <= 0) return s_err(err, errlen, "--anomaly-mix", "needs a weight > 0");
    return 0;
}

static int s_header(lg_opts_t *o, const char *v, char *err, size_t errlen)
{
    const char *colon = strchr(v, ':');
    if (!colon || colon == v) return s_err(err, errlen, "--header", "expected 'Name: value'");
    for (const char *p = v; *p; p++)
        if ((unsigned char) *p < ' ' && *p != '\t')
            return s_err(err, errlen, "--header", "control characters are not allowed");
    size_t used = strlen(o->headers), n = strlen(v);
    if (used + n + 3 > sizeof o->headers)
        return s_err(err, errlen, "--header", "too many or too long headers");
    memcpy(o->headers + used, v, n);
    memcpy(o->headers + used + n, "\r\n", 3);
    return 0;
}

/* ---- the option table -------------------------------------------------- */

enum {
    O_TARGET,
    O_RATE,
    O_BATCH,
    O_WARMUP_BATCH,
    O_CONCURRENCY,
    O_DURATION,
    O_COUNT,
    O_TIMEOUT,
    O_HEADER,
    O_USERS,
    O_ANOMALY_RATE,
    O_ANOMALY_MIX,
    O_SEED,
    O_RUN_ID,
    O_HISTORY_DAYS,
    O_START,
    O_REALTIME,
    O_DRY_RUN,
    O_LABELS,
    O_REPORT_EVERY,
    O_QUIET,
    O_JSON,
    O_HELP,
    O_VERSION
};

static const struct {
    const char *name;
    bool arg;
} s_opts[] = {
    [O_TARGET] = {"--target", true},
    [O_RATE] = {"--rate", true},
    [O_BATCH] = {"--batch", true},
    [O_WARMUP_BATCH] = {"--warmup-batch", true},
    [O_CONCURRENCY] = {"--concurrency", true},
    [O_DURATION] = {"--duration", true},
    [O_COUNT] = {"--count", true},
    [O_TIMEOUT] = {"--timeout", true},
    [O_HEADER] = {"--header", true},
    [O_USERS] = {"--users", true},
    [O_ANOMALY_RATE] = {"--anomaly-rate", true},
    [O_ANOMALY_MIX] = {"--anomaly-mix", true},
    [O_SEED] = {"--seed", true},
    [O_RUN_ID] = {"--run-id", true},
    [O_HISTORY_DAYS] = {"--history-days", true},
    [O_START] = {"--start", true},
    [O_REALTIME] = {"--realtime", false},
    [O_DRY_RUN] = {"--dry-run", false},
    [O_LABELS] = {"--labels", true},
    [O_REPORT_EVERY] = {"--report-every", true},
    [O_QUIET] = {"--quiet", false},
    [O_JSON] = {"--json", false},
    [O_HELP] = {"--help", false},
    [O_VERSION] = {"--version", false},
};

static int s_apply(lg_opts_t *o, int id, const char *flag, const char *v, FILE *out, char *err,
                   size_t errlen)
{
    uint64_t u;
    int rc = 0;
    switch (id) {
    case O_TARGET:
        if (strlen(v) >= sizeof o->target) return s_err(err, errlen, flag, "URL too long");
        snprintf(o->target, sizeof o->target, "%s", v);
        {
            char why[160];
            if (lg_url_parse(v, &o->url, why, sizeof why))
                return s_err(err, errlen, flag, "%s in '%s'", why, v);
        }
        return 0;
    case O_RATE: return s_num(flag, v, 0, 1e9, &o->rate, err, errlen);
    case O_BATCH: return s_u32(flag, v, 1, 10000, &o->batch, err, errlen);
    case O_WARMUP_BATCH: return s_u32(flag, v, 1, 10000, &o->warmup_batch, err, errlen);
    case O_CONCURRENCY: return s_u32(flag, v, 1, 1024, &o->concurrency, err, errlen);
    case O_DURATION:
        rc = s_seconds(flag, v, &o->duration, err, errlen);
        if (rc == 0 && o->duration <= 0) return s_err(err, errlen, flag, "must be > 0");
        return rc;
    case O_COUNT: return s_int(flag, v, 1, UINT64_MAX / 2, &o->count, err, errlen);
    case O_TIMEOUT:
        rc = s_int(flag, v, 1, 3600000, &u, err, errlen);
        o->timeout_ms = (int) u;
        return rc;
    case O_HEADER: return s_header(o, v, err, errlen);
    case O_USERS: return s_u32(flag, v, 1, 10000000, &o->users, err, errlen);
    case O_ANOMALY_RATE: return s_num(flag, v, 0, 0.5, &o->anomaly_rate, err, errlen);
    case O_ANOMALY_MIX: return s_mix(v, o->mix, err, errlen);
    case O_SEED: return s_int(flag, v, 0, UINT64_MAX, &o->seed, err, errlen);
    case O_RUN_ID: {
        size_t n = strlen(v);
        if (n < 1 || n > 16) return s_err(err, errlen, flag, "must be 1..16 characters");
        for (const char *p = v; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
                return s_err(err, errlen, flag, "only letters, digits, '_' and '.' (got '%s')", v);
        memcpy(o->run_id, v, n + 1);
        o->run_id_set = true;
        return 0;
    }
    case O_HISTORY_DAYS: return s_num(flag, v, 0, 3650, &o->history_days, err, errlen);
    case O_START: {
        char *end;
        errno = 0;
        long long ms = strtoll(v, &end, 10);
        if (end != v && !*end && !errno && ms >= 0)
            o->start_ms = ms;
        else if (vg_ts_parse_rfc3339(v, strlen(v), &o->start_ms))
            return s_err(err, errlen, flag, "expected RFC 3339 or epoch ms, got '%s'", v);
        o->start_set = true;
        return 0;
    }
    case O_REALTIME: o->realtime = true; return 0;
    case O_DRY_RUN: o->dry_run = true; return 0;
    case O_LABELS:
        if (!*v || strlen(v) >= sizeof o->labels) return s_err(err, errlen, flag, "bad file name");
        snprintf(o->labels, sizeof o->labels, "%s", v);
        return 0;
    case O_REPORT_EVERY: return s_seconds(flag, v, &o->report_every, err, errlen);
    case O_QUIET: o->quiet = true; return 0;
    case O_JSON: o->json = true; return 0;
    case O_HELP: lg_cli_usage(out); return 1;
    case O_VERSION: fprintf(out, "vigil-loadgen %s\n", VG_VERSION); return 1;
    default: return s_err(err, errlen, flag, "unhandled option");
    }
}

int lg_cli_parse(int argc, char **argv, lg_opts_t *o, FILE *out, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0) a = "--help";
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t nl = eq ? (size_t) (eq - a) : strlen(a);
        int id = -1;
        for (int k = 0; k < (int) VG_ARRAY_LEN(s_opts); k++)
            if (strlen(s_opts[k].name) == nl && strncmp(s_opts[k].name, a, nl) == 0) id = k;
        if (id < 0) {
            snprintf(err, errlen, "%.*s: unknown option (see --help)", (int) VG_MIN(nl, 64), a);
            return VG_ERR_INVALID;
        }
        const char *flag = s_opts[id].name, *v = NULL;
        if (s_opts[id].arg) {
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else
                return s_err(err, errlen, flag, "missing value");
        } else if (eq) {
            return s_err(err, errlen, flag, "takes no value");
        }
        int rc = s_apply(o, id, flag, v, out, err, errlen);
        if (rc) return rc;
    }
    if (o->realtime && o->start_set)
        return s_err(err, errlen, "--start", "not with --realtime (it uses the wall clock)");
    if (o->concurrency > o->users)
        return s_err(err, errlen, "--concurrency",
                     "must not exceed --users (%u): users are split between connections", o->users);
    return 0;
}

void lg_cli_tag(const lg_opts_t *o, char *buf, size_t size)
{
    if (o->run_id[0])
        snprintf(buf, size, "%llu.%s", (unsigned long long) o->seed, o->run_id);
    else
        snprintf(buf, size, "%llu", (unsigned long long) o->seed);
}
