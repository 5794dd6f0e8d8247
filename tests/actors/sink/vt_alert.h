/* vt_alert.h: helpers of the alert tests: loopback receivers (an SMTP and
 * an HTTP server, tests/actors/sink/alert_recv.py, python3 stdlib) started
 * in a temp dir whose rec-NNNN.json files record what they got; anomaly
 * records to feed vg_alert_deliver; a temp data dir; polling waits.
 * Header-only; the script's path comes from VT_ALERT_RECV_PY. */
#ifndef VT_ALERT_H
#define VT_ALERT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_alert.h"
#include "vg_anomaly.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VT_ALERT_RECV_PY
#define VT_ALERT_RECV_PY "tests/actors/sink/alert_recv.py"
#endif

#ifdef VG_SANITIZED
#define VT_SLOW 3
#else
#define VT_SLOW 1
#endif

/* Polls expr every 5 ms until it holds or ms milliseconds pass (times
 * VT_SLOW), then asserts it. */
#define VT_WAIT(expr, ms)                                                                    \
    do {                                                                                     \
        uint64_t vt_deadline_ = vg_now_ns() + (uint64_t) (ms) *VT_SLOW * 1000000u;           \
        while (!(expr) && vg_now_ns() < vt_deadline_) usleep(5000);                          \
        if (!(expr))                                                                         \
            fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__, __LINE__, #expr); \
        assert_true(expr);                                                                   \
    } while (0)

/* ---- receivers ------------------------------------------------------------- */

typedef struct {
    char kind[8];
    char dir[64];
    char args[4][128];
    int n_args;
    pid_t pid;
    int port;
} vt_recv_t;

/* What a test started, so that a failed test (cmocka leaves it by longjmp)
 * still stops its receivers and removes its dirs: vt_cleanup, the
 * teardown of every test. */
static pid_t vt_pids[16];
static vg_alert_t *vt_alerts[8];
static char vt_dirs[16][64];

static inline void vt_track_pid(pid_t pid, bool add)
{
    for (size_t i = 0; i < 16; i++)
        if (add ? vt_pids[i] == 0 : vt_pids[i] == pid) {
            vt_pids[i] = add ? pid : 0;
            return;
        }
}

static inline void vt_track_dir(const char *dir, bool add)
{
    for (size_t i = 0; i < 16; i++)
        if (add ? vt_dirs[i][0] == 0 : !strcmp(vt_dirs[i], dir)) {
            snprintf(vt_dirs[i], sizeof vt_dirs[i], "%s", add ? dir : "");
            return;
        }
}

static inline void vt_rmdir(const char *dir);

static inline int vt_cleanup(void **state)
{
    (void) state;
    for (size_t i = 0; i < 8; i++) vg_alert_close(&vt_alerts[i]);
    for (size_t i = 0; i < 16; i++) {
        if (vt_pids[i] > 0) {
            kill(-vt_pids[i], SIGTERM);
            waitpid(vt_pids[i], NULL, 0);
            vt_pids[i] = 0;
        }
        if (vt_dirs[i][0]) vt_rmdir(vt_dirs[i]);
    }
    return 0;
}

static inline void vt_path(const vt_recv_t *r, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", r->dir, name);
}

static inline int vt_recv_launch(vt_recv_t *r)
{
    char portfile[128], portarg[16];
    vt_path(r, "port", portfile, sizeof portfile);
    unlink(portfile);
    snprintf(portarg, sizeof portarg, "%d", r->port);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        setpgid(0, 0); /* its own group: python may run under a wrapper (pyenv) */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 1);
        const char *argv[16];
        int n = 0;
        const char *py = getenv("VT_ALERT_RECV_PY") ? getenv("VT_ALERT_RECV_PY") : VT_ALERT_RECV_PY;
        argv[n++] = "python3";
        argv[n++] = py;
        argv[n++] = r->kind;
        argv[n++] = r->dir;
        argv[n++] = "--port";
        argv[n++] = portarg;
        for (int i = 0; i < r->n_args; i++) argv[n++] = r->args[i];
        argv[n] = NULL;
        execvp("python3", (char *const *) argv);
        _exit(127);
    }
    r->pid = pid;
    vt_track_pid(pid, true);
    for (int i = 0; i < 1000 * VT_SLOW; i++) { /* up to 10 s */
        FILE *f = fopen(portfile, "r");
        if (f) {
            int ok = fscanf(f, "%d", &r->port) == 1;
            fclose(f);
            if (ok) return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return -1;
        usleep(10000);
    }
    return -1;
}

/* kind: "smtp" or "http"; up to 4 extra arguments (NULL ends them). */
static inline void vt_recv_start(vt_recv_t *r, const char *kind, ...)
{
    memset(r, 0, sizeof *r);
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    strcpy(r->dir, "/tmp/vg_alert_recv.XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    vt_track_dir(r->dir, true);
    va_list ap;
    va_start(ap, kind);
    const char *a;
    while (r->n_args < 4 && (a = va_arg(ap, const char *)))
        snprintf(r->args[r->n_args++], sizeof r->args[0], "%s", a);
    va_end(ap);
    assert_int_equal(vt_recv_launch(r), 0);
}

/* Stops the server (the port may be reused by vt_recv_restart). */
static inline void vt_recv_stop(vt_recv_t *r)
{
    if (r->pid <= 0) return;
    kill(-r->pid, SIGTERM);
    waitpid(r->pid, NULL, 0);
    vt_track_pid(r->pid, false);
    for (int i = 0; i < 200 && kill(-r->pid, 0) == 0; i++) usleep(10000); /* the whole group */
    r->pid = 0;
}

static inline void vt_recv_restart(vt_recv_t *r)
{
    assert_int_equal(vt_recv_launch(r), 0);
}

static inline void vt_recv_destroy(vt_recv_t *r)
{
    vt_recv_stop(r);
    vt_rmdir(r->dir);
}

/* The next n messages are refused with code (0 = the default). */
static inline void vt_recv_fail(vt_recv_t *r, int n, int code)
{
    char p[128], tmp[140];
    vt_path(r, "fail", p, sizeof p);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    if (code)
        fprintf(f, "%d %d\n", n, code);
    else
        fprintf(f, "%d\n", n);
    fclose(f);
    assert_int_equal(rename(tmp, p), 0);
}

static inline void vt_recv_delay(vt_recv_t *r, double secs)
{
    char p[128];
    vt_path(r, "delay", p, sizeof p);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%g\n", secs);
    fclose(f);
}

/* Records so far. */
static inline int vt_recv_count(const vt_recv_t *r)
{
    DIR *d = opendir(r->dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "rec-", 4) && strstr(e->d_name, ".json") &&
            !strstr(e->d_name, ".tmp"))
            n++;
    closedir(d);
    return n;
}

/* Record i (1..): a new reference (json_decref). */
static inline json_t *vt_recv_get(const vt_recv_t *r, int i)
{
    char p[128];
    snprintf(p, sizeof p, "%s/rec-%04d.json", r->dir, i);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    if (!j) fprintf(stderr, "%s: %s\n", p, je.text);
    assert_non_null(j);
    return j;
}

/* Records answered with status (e.g. 200 / 250). */
static inline int vt_recv_count_status(const vt_recv_t *r, int status)
{
    int n = 0, total = vt_recv_count(r);
    for (int i = 1; i <= total; i++) {
        json_t *j = vt_recv_get(r, i);
        n += json_integer_value(json_object_get(j, "status")) == status;
        json_decref(j);
    }
    return n;
}

/* ---- anomaly records ---------------------------------------------------------- */

typedef struct {
    const char *id, *user;
    double amount, score;
    const char *detector, *feature; /* the strongest reason; NULL = none */
    int decision;                   /* vg_decision */
} vt_anom_t;

/* Appends the vg_anomaly_encode bytes of a to w (w reset first). */
static inline void vt_anom_encode(const vt_anom_t *a, vg_mpw_t *w)
{
    vg_tx_t tx;
    vg_tx_init(&tx);
    tx.id = vg_str_c(a->id);
    tx.user_id = vg_str_c(a->user);
    tx.amount = a->amount;
    tx.ts_ms = 1795514400123LL;
    memcpy(tx.currency, "EUR", 4);
    memcpy(tx.country, "DE", 3);
    tx.merchant_id = VG_STR_LIT("m-1");
    tx.merchant_category = VG_STR_LIT("5411");
    vg_verdict_t v;
    memset(&v, 0, sizeof v);
    v.id = tx.id;
    v.anomaly = true;
    v.decision = (uint8_t) a->decision;
    v.score = a->score;
    if (a->detector) {
        v.n_reasons = 2;
        v.reasons[0] = (vg_reason_t){VG_STR_LIT("zscore"), VG_STR_LIT("amount"), 10, 5, 4, 0.1};
        v.reasons[1] = (vg_reason_t){
            vg_str_c(a->detector), vg_str_c(a->feature), a->amount, 40, 3.5, a->score - 0.1};
    }
    vg_anomaly_t an = {.tx = &tx, .features = NULL, .verdict = &v, .detected_ms = vg_wall_ms()};
    vg_mpw_reset(w);
    vg_anomaly_encode(&an, w);
    assert_int_equal(w->err, 0);
}

/* Delivers the anomalies as one outbox batch. */
static inline int vt_deliver(vg_alert_t *al, const vt_anom_t *as, size_t n)
{
    vg_mpw_t *ws = vg_calloc(n, sizeof *ws);
    vg_str_t *recs = vg_calloc(n, sizeof *recs);
    for (size_t i = 0; i < n; i++) {
        vg_mpw_init(&ws[i]);
        vt_anom_encode(&as[i], &ws[i]);
        recs[i] = (vg_str_t){(const char *) ws[i].buf, (uint32_t) ws[i].len};
    }
    int rc = vg_alert_deliver(al, recs, n);
    for (size_t i = 0; i < n; i++) vg_mpw_fini(&ws[i]);
    free(ws);
    free(recs);
    return rc;
}

/* ---- data dir, config, stats ---------------------------------------------------- */

static inline void vt_tmpdir(char *dir)
{
    strcpy(dir, "/tmp/vg_alert_data.XXXXXX");
    assert_non_null(mkdtemp(dir));
    vt_track_dir(dir, true);
}

static inline void vt_rmdir(const char *dir_in)
{
    char dir[64]; /* dir_in may be the tracked copy that vt_track_dir clears */
    snprintf(dir, sizeof dir, "%s", dir_in);
    if (!dir[0]) return;
    vt_track_dir(dir, false);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
    }
}

/* Opens the module on dir with the JSON config (printf format). */
static inline vg_alert_t *vt_open(const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline vg_alert_t *vt_open(const char *dir, const char *fmt, ...)
{
    char json[8192], err[512] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(json, sizeof json, fmt, ap);
    va_end(ap);
    vg_alert_routing_t *r = NULL;
    int rc = vg_alert_routing_parse(json, strlen(json), "alerts.json", &r, err, sizeof err);
    if (rc) fprintf(stderr, "config: %s\n%s\n", err, json);
    assert_int_equal(rc, 0);
    vg_alert_config_t cfg = {.data_dir = dir, .node_id = 7, .no_sync = true};
    vg_alert_t *a = NULL;
    rc = vg_alert_open(&cfg, &r, &a, err, sizeof err);
    if (rc) fprintf(stderr, "open: %s\n", err);
    assert_int_equal(rc, 0);
    assert_null(r);
    for (size_t i = 0; i < 8; i++)
        if (!vt_alerts[i]) {
            vt_alerts[i] = a;
            break;
        }
    return a;
}

/* vg_alert_close of a module opened by vt_open. */
static inline void vt_close(vg_alert_t **a_p)
{
    for (size_t i = 0; i < 8; i++)
        if (vt_alerts[i] == *a_p) vt_alerts[i] = NULL;
    vg_alert_close(a_p);
}

static inline vg_alert_stats_t vt_stats(vg_alert_t *a, const char *channel)
{
    vg_alert_stats_t s;
    assert_int_equal(vg_alert_stats(a, channel, &s), 0);
    return s;
}

/* GET /v1/alerts with filters as "key=value" strings (NULL ends them):
 * the parsed JSON (json_decref). */
static inline json_t *vt_list(vg_alert_t *a, ...)
{
    vg_alert_query_t q;
    vg_alert_query_init(&q);
    va_list ap;
    va_start(ap, a);
    const char *kv;
    char keys[8][32], vals[8][128];
    int n = 0;
    while (n < 8 && (kv = va_arg(ap, const char *))) {
        const char *eq = strchr(kv, '=');
        assert_non_null(eq);
        snprintf(keys[n], sizeof keys[n], "%.*s", (int) (eq - kv), kv);
        snprintf(vals[n], sizeof vals[n], "%s", eq + 1);
        vg_perr_t perr;
        vg_perr_clear(&perr);
        assert_int_equal(vg_alert_query_set(&q, keys[n], vals[n], &perr), 0);
        n++;
    }
    va_end(ap);
    vg_jw_t w;
    vg_jw_init(&w);
    assert_int_equal(vg_alert_list(a, &q, &w), 0);
    json_error_t je;
    json_t *j = json_loadb(w.buf, w.len, 0, &je);
    if (!j) fprintf(stderr, "list JSON: %s: %.*s\n", je.text, (int) w.len, w.buf);
    assert_non_null(j);
    vg_jw_fini(&w);
    return j;
}

/* Items of a list answer (borrowed from it). */
static inline json_t *vt_items(json_t *list)
{
    json_t *items = json_object_get(list, "alerts");
    assert_true(json_is_array(items));
    return items;
}

static inline const char *vt_sget(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

#endif
