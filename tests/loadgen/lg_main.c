/* lg_main.c: vigil-loadgen's entry point: options, signals, the labels
 * file, the reachability check, then a network or --dry-run session and
 * its report (see lg_cli.c for --help). */
#include "lg_cli.h"
#include "lg_http.h"
#include "lg_report.h"
#include "lg_run.h"
#include "vg_err.h"
#include "vg_time.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_bool s_stop; /* lock-free: safe to store from a signal handler */
static volatile sig_atomic_t s_signalled;

static void s_on_signal(int sig)
{
    (void) sig;
    s_signalled = 1;
    atomic_store(&s_stop, true);
}

static void s_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Defaults that depend on the mode and the clock. */
static void s_finish_opts(lg_opts_t *o)
{
    if (!o->count && o->duration <= 0 && !o->realtime) {
        if (o->dry_run)
            o->count = 1000;
        else
            o->duration = 10;
    }
    if (!o->run_id_set && !o->dry_run) { /* base36 of the start millisecond: unique per run */
        static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
        char tmp[16];
        int n = 0;
        for (uint64_t v = (uint64_t) vg_wall_ms(); v; v /= 36) tmp[n++] = digits[v % 36];
        for (int i = 0; i < n; i++) o->run_id[i] = tmp[n - 1 - i];
        o->run_id[n] = 0;
    }
    if (!o->start_set) {
        if (o->dry_run && !o->realtime)
            o->start_ms = 1767225600000LL; /* 2026-01-01T00:00:00Z */
        else
            o->start_ms =
                (vg_wall_ms() / 1000) * 1000 - (int64_t) llround(o->history_days * 86400e3);
    }
}

int main(int argc, char **argv)
{
    lg_opts_t o;
    lg_opts_defaults(&o);
    char err[512];
    int rc = lg_cli_parse(argc, argv, &o, stdout, err, sizeof err);
    if (rc == 1) return 0;
    if (rc) {
        fprintf(stderr, "vigil-loadgen: %s\n", err);
        return 1;
    }
    s_finish_opts(&o);
    char tag[48];
    lg_cli_tag(&o, tag, sizeof tag);
    s_signals();

    FILE *labels = NULL;
    if (o.labels[0]) {
        labels = fopen(o.labels, "w");
        if (!labels) {
            fprintf(stderr, "vigil-loadgen: --labels: cannot open %s: %s\n", o.labels,
                    strerror(errno));
            return 1;
        }
        setvbuf(labels, NULL, _IOFBF, 1 << 20);
        fputs("id,label,kind\n", labels);
    }
    bool chatty = !o.quiet;
    lg_run_cfg_t cfg = {&o, tag, o.start_ms, &s_stop, labels, chatty ? stderr : NULL};
    lg_report_t *rep = lg_report_new();
    rep->opts = &o;
    snprintf(rep->tag, sizeof rep->tag, "%s", tag);
    rep->start_ms = o.start_ms;

    int write_errno = 0;
    if (o.dry_run) {
        setvbuf(stdout, NULL, _IOFBF, 1 << 20);
        rc = lg_run_dry(&cfg, stdout, rep);
        write_errno = errno;
    } else {
        char why[300];
        if (lg_http_probe(&o.url, o.timeout_ms, why, sizeof why)) {
            fprintf(stderr,
                    "vigil-loadgen: target %s is unreachable: %s\n"
                    "  (is vigil-node --gateway running? see --target)\n",
                    o.target, why);
            if (labels) fclose(labels);
            lg_report_destroy(&rep);
            return 2;
        }
        if (chatty)
            fprintf(stderr,
                    "vigil-loadgen: %u users, seed %llu, tag %s -> %s (batch %u, %u connections)\n",
                    o.users, (unsigned long long) o.seed, tag, o.target, o.batch, o.concurrency);
        rc = lg_run_net(&cfg, rep);
    }
    rep->interrupted = s_signalled != 0;
    if (labels && fclose(labels) != 0)
        fprintf(stderr, "vigil-loadgen: --labels: writing %s failed: %s\n", o.labels,
                strerror(errno));
    /* With --dry-run stdout carries the transactions: the report goes to stderr. */
    FILE *rf = o.dry_run ? stderr : stdout;
    if (rc == VG_ERR_IO && o.dry_run && write_errno != EPIPE)
        fprintf(stderr, "vigil-loadgen: writing the transactions failed: %s\n", strerror(errno));
    if (o.json)
        lg_report_json(rep, rf);
    else if (!(o.dry_run && o.quiet))
        lg_report_text(rep, rf);
    fflush(rf);
    if (rep->fatal[0]) fprintf(stderr, "vigil-loadgen: %s\n", rep->fatal);
    int code = rep->fatal[0] ? (rc == VG_ERR_UNREACHABLE ? 2 : 1) : rep->interrupted ? 130 : 0;
    if (code == 0 && !o.dry_run && rep->tx_sent > 0 && rep->tx_ok == 0) {
        fprintf(stderr, "vigil-loadgen: the target accepted no request (see the errors)\n");
        code = 1;
    }
    if (code == 0 && o.dry_run && rc) code = write_errno == EPIPE ? 0 : 1;
    lg_report_destroy(&rep);
    return code;
}
