/* lg_run.c: workers, pacing and progress of a vigil-loadgen session.
 * Pacing is open-loop: in simulated mode request k is due at
 * t0 + k * batch / rate (a shared counter hands out k); in realtime mode a
 * request is due when its last transaction happens on the (sped-up)
 * population clock. Latency is taken from that due time. */
#include "lg_run.h"

#include "lg_resp.h"
#include "vg_arena.h"
#include "vg_err.h"
#include "vg_jw.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#define S_DAY_MS         86400000.0
#define S_SPIN_NS        60000ull /* at most: sleep until this close to a due time, then spin */
#define S_UNREACHABLE_NS 5000000000ull /* give up after 5 s without a connection */

typedef struct s_run s_run_t;

typedef struct {
    s_run_t *run;
    pthread_t thread;
    bool started;
    lg_gen_t *gen;
    lg_http_t *http;
    vg_jw_t jw;
    vg_arena_t arena;
    lg_tx_t *txs;
    lg_result_t *res;
    char *lab;
    size_t lab_cap;
    lg_report_t *rep;
    uint64_t finish_ns;
    uint64_t failing_since; /* first of consecutive connect failures, 0 = none */
    /* progress, read by the main thread */
    _Atomic uint64_t p_tx, p_req, p_err, p_flagged, p_wu_tx;
} s_worker_t;

struct s_run {
    const lg_run_cfg_t *cfg;
    const lg_opts_t *o;
    s_worker_t *w;
    uint32_t n;
    pthread_barrier_t barrier;
    pthread_mutex_t mu; /* fatal */
    _Atomic uint64_t next_req, next_tx;
    _Atomic uint32_t done;
    _Atomic int phase; /* 0 warm-up, 1 measured */
    uint64_t wu_t0, t0;
    int64_t wall0_ms, sim0, wu_end;
    double speedup;
    uint64_t spin_ns; /* see s_sleep_until */
    char fatal[256];
};

static bool s_stopped(const s_run_t *run)
{
    return atomic_load_explicit(run->cfg->stop, memory_order_relaxed);
}

/* Sleeps until the monotonic deadline (ns); false when stopped first. */
static bool s_sleep_until(const s_run_t *run, uint64_t deadline)
{
    for (;;) {
        if (s_stopped(run)) return false;
        uint64_t now = vg_now_ns();
        if (now >= deadline) return true;
        if (deadline - now <= run->spin_ns) { /* the last stretch: spin, a wake-up is late */
            while (vg_now_ns() < deadline) {
            }
            return true;
        }
        uint64_t until = VG_MIN(deadline - run->spin_ns, now + 50000000ull);
        struct timespec ts = {(time_t) (until / 1000000000ull), (long) (until % 1000000000ull)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
}

static void s_fatal(s_run_t *run, const char *msg)
{
    pthread_mutex_lock(&run->mu);
    if (!run->fatal[0]) snprintf(run->fatal, sizeof run->fatal, "%s", msg);
    pthread_mutex_unlock(&run->mu);
    atomic_store(run->cfg->stop, true);
}

/* ---- generating, labels, encoding -------------------------------------- */

static void s_labels(const lg_run_cfg_t *cfg, char **buf, size_t *cap, const lg_tx_t *txs,
                     uint32_t n)
{
    if (!cfg->labels) return;
    size_t need = (size_t) n * 128, len = 0;
    if (*cap < need) *buf = vg_realloc(*buf, *cap = need);
    for (uint32_t i = 0; i < n; i++) {
        size_t il = strlen(txs[i].id);
        const char *kind = lg_kind_name(txs[i].kind);
        memcpy(*buf + len, txs[i].id, il);
        len += il;
        memcpy(*buf + len, txs[i].anomaly ? ",1," : ",0,", 3);
        len += 3;
        size_t kl = strlen(kind);
        memcpy(*buf + len, kind, kl);
        len += kl;
        (*buf)[len++] = '\n';
    }
    fwrite(*buf, 1, len, cfg->labels); /* one locked write per request */
}

static void s_encode(vg_jw_t *jw, const lg_tx_t *txs, uint32_t n, bool single)
{
    vg_jw_reset(jw);
    if (single && n == 1) {
        lg_tx_to_json(&txs[0], jw);
        return;
    }
    vg_jw_arr_begin(jw);
    for (uint32_t i = 0; i < n; i++) lg_tx_to_json(&txs[i], jw);
    vg_jw_arr_end(jw);
}

/* ---- one request ------------------------------------------------------- */

/* Counts a request that got no usable answer: in the warm-up's failures,
 * else in *counter; keeps the first error's text. */
static void s_failed(s_worker_t *w, bool warm, uint64_t *counter, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_failed(s_worker_t *w, bool warm, uint64_t *counter, const char *fmt, ...)
{
    lg_report_t *rep = w->rep;
    if (warm)
        rep->wu_failed++;
    else if (counter)
        (*counter)++;
    atomic_fetch_add_explicit(&w->p_err, 1, memory_order_relaxed);
    if (!rep->first_error[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rep->first_error, sizeof rep->first_error, fmt, ap);
        va_end(ap);
    }
}

static void s_answer(s_worker_t *w, const lg_http_resp_t *resp, uint32_t n, bool warm, bool single)
{
    lg_report_t *rep = w->rep;
    if (resp->status < 200 || resp->status >= 300) {
        char text[200];
        lg_resp_error_text(resp->body, resp->body_len, text, sizeof text);
        s_failed(w, warm, NULL, "HTTP %d: %s", resp->status, text); /* counted by status */
        return;
    }
    if (!warm) rep->req_ok++, rep->tx_ok += n;
    char why[160];
    vg_arena_reset(&w->arena);
    if (lg_resp_parse(resp->body, resp->body_len, single, w->txs, n, w->res, &w->arena, why,
                      sizeof why)) {
        s_failed(w, warm, &rep->bad_responses, "bad response (%s): %.*s", why,
                 (int) VG_MIN(resp->body_len, 100), resp->body);
        return;
    }
    if (warm) return;
    uint64_t flagged = 0;
    for (uint32_t i = 0; i < n; i++) {
        const lg_result_t *r = &w->res[i];
        rep->id_mismatch += r->id_mismatch;
        rep->duplicates += r->duplicate;
        rep->late += r->late;
        if (!r->scored) {
            lg_report_item_error(rep, r->error, 1);
            continue;
        }
        rep->scored++;
        flagged += r->anomaly;
        lg_quality_add(&rep->quality, w->txs[i].kind, r->anomaly, r->flagged);
    }
    atomic_fetch_add_explicit(&w->p_flagged, flagged, memory_order_relaxed);
}

/* Sends the encoded body of n transactions; due = scheduled send time. */
static void s_exchange(s_worker_t *w, uint32_t n, bool warm, bool single, uint64_t due)
{
    s_run_t *run = w->run;
    lg_report_t *rep = w->rep;
    lg_http_resp_t resp;
    uint64_t sent = vg_now_ns();
    if (!due) due = sent;
    int rc = lg_http_post(w->http, "application/json", w->jw.buf, w->jw.len, &resp);
    uint64_t done = vg_now_ns();
    if (!warm) rep->tx_sent += n, rep->bytes += w->jw.len;
    if (rc) {
        s_failed(w, warm, &rep->transport_errors, "%s", lg_http_error(w->http));
        if (rc == VG_ERR_UNREACHABLE) {
            if (!w->failing_since) w->failing_since = done;
            if (done - w->failing_since >= S_UNREACHABLE_NS) {
                char msg[300];
                snprintf(msg, sizeof msg, "target unreachable for 5 s: %s", lg_http_error(w->http));
                s_fatal(run, msg);
            }
            s_sleep_until(run, done + 100000000ull); /* back off 100 ms */
        }
        return;
    }
    w->failing_since = 0;
    if (warm) {
        rep->wu_req++, rep->wu_tx += n;
        atomic_fetch_add_explicit(&w->p_wu_tx, n, memory_order_relaxed);
    } else {
        rep->req++;
        rep->http[resp.status]++;
        lg_hist_record(&rep->lat, done - due);
        lg_hist_record(&rep->svc, done - sent);
        atomic_fetch_add_explicit(&w->p_tx, n, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->p_req, 1, memory_order_relaxed);
    }
    s_answer(w, &resp, n, warm, single);
}

/* ---- phases ------------------------------------------------------------ */

static void s_warmup(s_worker_t *w)
{
    s_run_t *run = w->run;
    const lg_opts_t *o = run->o;
    while (!s_stopped(run) && lg_gen_peek_ts(w->gen) < run->wu_end) {
        uint32_t n = 0;
        while (n < o->warmup_batch && lg_gen_peek_ts(w->gen) < run->wu_end)
            lg_gen_next(w->gen, &w->txs[n++]);
        s_labels(run->cfg, &w->lab, &w->lab_cap, w->txs, n);
        s_encode(&w->jw, w->txs, n, o->warmup_batch == 1);
        s_exchange(w, n, true, o->warmup_batch == 1, 0);
    }
}

/* Generates n measured transactions into w->txs. */
static void s_generate(s_worker_t *w, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        lg_gen_next(w->gen, &w->txs[i]);
        w->rep->generated[w->txs[i].kind]++;
    }
    s_labels(w->run->cfg, &w->lab, &w->lab_cap, w->txs, n);
}

/* Simulated clock: request k is due at t0 + k * batch / rate. */
static void s_measure(s_worker_t *w)
{
    s_run_t *run = w->run;
    const lg_opts_t *o = run->o;
    double interval = o->rate > 0 ? (double) o->batch / o->rate * 1e9 : 0;
    uint64_t end = o->duration > 0 ? run->t0 + (uint64_t) (o->duration * 1e9) : UINT64_MAX;
    while (!s_stopped(run)) {
        uint64_t k = atomic_fetch_add(&run->next_req, 1);
        uint32_t n = o->batch;
        if (o->count) {
            if (k * o->batch >= o->count) break;
            n = (uint32_t) VG_MIN((uint64_t) o->batch, o->count - k * o->batch);
        }
        uint64_t due = interval > 0 ? run->t0 + (uint64_t) ((double) k * interval) : 0;
        if ((due ? due : vg_now_ns()) >= end) break;
        s_generate(w, n);
        s_encode(&w->jw, w->txs, n, o->batch == 1);
        if (due && !s_sleep_until(run, due)) break;
        s_exchange(w, n, false, o->batch == 1, due);
    }
}

/* Wall-clock time (ns on the monotonic clock) when a simulated instant
 * happens in realtime mode. */
static uint64_t s_rt_due(const s_run_t *run, int64_t sim_ms)
{
    double off = (double) (sim_ms - run->sim0) / run->speedup * 1e6;
    return run->t0 + (uint64_t) (off > 0 ? off : 0);
}

/* Realtime: a request is due when its last transaction happens; every
 * transaction is stamped with the wall clock of its own instant. */
static void s_measure_realtime(s_worker_t *w)
{
    s_run_t *run = w->run;
    const lg_opts_t *o = run->o;
    uint64_t end = o->duration > 0 ? run->t0 + (uint64_t) (o->duration * 1e9) : UINT64_MAX;
    while (!s_stopped(run)) {
        uint32_t n = o->batch;
        if (o->count) {
            uint64_t k = atomic_fetch_add(&run->next_tx, o->batch);
            if (k >= o->count) break;
            n = (uint32_t) VG_MIN((uint64_t) o->batch, o->count - k);
        }
        if (s_rt_due(run, lg_gen_peek_ts(w->gen)) >= end) break;
        s_generate(w, n);
        uint64_t due = s_rt_due(run, w->txs[n - 1].ts_ms);
        for (uint32_t i = 0; i < n; i++)
            w->txs[i].ts_ms =
                run->wall0_ms + (int64_t) ((double) (w->txs[i].ts_ms - run->sim0) / run->speedup);
        s_encode(&w->jw, w->txs, n, o->batch == 1);
        if (due >= end || !s_sleep_until(run, due)) break; /* never send after the end */
        s_exchange(w, n, false, o->batch == 1, due);
    }
}

static void *s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    s_run_t *run = w->run;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake up on schedule, not 50 us late */
    s_warmup(w);
    if (pthread_barrier_wait(&run->barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
        run->t0 = vg_now_ns();
        run->wall0_ms = vg_wall_ms();
        atomic_store(&run->phase, 1);
    }
    pthread_barrier_wait(&run->barrier);
    if (run->o->realtime)
        s_measure_realtime(w);
    else
        s_measure(w);
    w->finish_ns = vg_now_ns();
    atomic_fetch_add(&run->done, 1);
    return NULL;
}

/* ---- progress ---------------------------------------------------------- */

static void s_progress(s_run_t *run, uint64_t now, uint64_t *last_ns, uint64_t *last_tx)
{
    FILE *f = run->cfg->progress;
    uint64_t tx = 0, req = 0, err = 0, flagged = 0, wu = 0;
    lg_hist_t *h = vg_calloc(1, sizeof *h);
    for (uint32_t i = 0; i < run->n; i++) {
        s_worker_t *w = &run->w[i];
        tx += atomic_load(&w->p_tx), req += atomic_load(&w->p_req);
        err += atomic_load(&w->p_err), flagged += atomic_load(&w->p_flagged);
        wu += atomic_load(&w->p_wu_tx);
        lg_hist_merge(h, &w->rep->lat);
    }
    bool measuring = atomic_load(&run->phase) == 1;
    uint64_t cur = measuring ? tx : wu, base = measuring ? run->t0 : run->wu_t0;
    double dt = (double) (now - *last_ns) / 1e9;
    double rate = dt > 0 ? (double) (cur - *last_tx) / dt : 0;
    if (measuring)
        fprintf(f,
                "[%6.1fs] %llu tx  %.0f tx/s  %llu req  errors %llu  p50 %.3f ms  p99 %.3f ms"
                "  flagged %llu\n",
                (double) (now - base) / 1e9, (unsigned long long) tx, rate,
                (unsigned long long) req, (unsigned long long) err,
                (double) lg_hist_quantile(h, .5) / 1e6, (double) lg_hist_quantile(h, .99) / 1e6,
                (unsigned long long) flagged);
    else
        fprintf(f, "[%6.1fs] warm-up: %llu tx  %.0f tx/s  errors %llu\n",
                (double) (now - base) / 1e9, (unsigned long long) wu, rate,
                (unsigned long long) err);
    fflush(f);
    vg_free(h);
    *last_ns = now;
    *last_tx = cur;
}

/* ---- the network session ----------------------------------------------- */

static void s_workers_free(s_run_t *run)
{
    for (uint32_t i = 0; i < run->n; i++) {
        s_worker_t *w = &run->w[i];
        lg_gen_destroy(&w->gen);
        lg_http_destroy(&w->http);
        vg_jw_fini(&w->jw);
        vg_arena_fini(&w->arena);
        vg_free(w->txs);
        vg_free(w->res);
        vg_free(w->lab);
        lg_report_destroy(&w->rep);
    }
    vg_free(run->w);
}

static int s_gen_for(const lg_run_cfg_t *cfg, uint32_t part, uint32_t parts, lg_gen_t **out,
                     char *err, size_t errlen)
{
    const lg_opts_t *o = cfg->opts;
    lg_gen_opts_t go = {0};
    go.seed = o->seed;
    go.users = o->users;
    go.part = part;
    go.parts = parts;
    go.anomaly_rate = o->anomaly_rate;
    memcpy(go.mix, o->mix, sizeof go.mix);
    go.start_ms = cfg->start_ms;
    go.tag = cfg->tag;
    return lg_gen_new(&go, out, err, errlen);
}

int lg_run_net(const lg_run_cfg_t *cfg, lg_report_t *rep)
{
    const lg_opts_t *o = cfg->opts;
    s_run_t run_s, *run = &run_s;
    memset(run, 0, sizeof *run);
    run->cfg = cfg;
    run->o = o;
    run->n = o->concurrency;
    run->w = vg_calloc(run->n, sizeof *run->w);
    run->wu_end = cfg->start_ms + (int64_t) (o->history_days * S_DAY_MS);
    run->sim0 = run->wu_end;
    uint32_t cap = VG_MAX(o->batch, o->warmup_batch);
    double natural = 0;
    for (uint32_t i = 0; i < run->n; i++) {
        s_worker_t *w = &run->w[i];
        w->run = run;
        char why[160];
        if (s_gen_for(cfg, i, run->n, &w->gen, why, sizeof why)) {
            snprintf(rep->fatal, sizeof rep->fatal, "generator: %s", why);
            s_workers_free(run);
            return VG_ERR_INVALID;
        }
        natural += lg_gen_rate(w->gen);
        w->http = lg_http_new(&o->url, o->headers, o->timeout_ms);
        vg_jw_init(&w->jw);
        w->txs = vg_calloc(cap, sizeof *w->txs);
        w->res = vg_calloc(cap, sizeof *w->res);
        w->rep = lg_report_new();
    }
    rep->natural_rate = natural;
    run->speedup = o->realtime && o->rate > 0 ? o->rate / natural : 1;
    rep->speedup = run->speedup;
    /* Waking up from a sleep takes tens of microseconds, which would count
     * as latency: spin the last stretch before a due time, but never more
     * than ~6 % of a worker's time between two of its requests. */
    double offered = o->realtime ? natural * run->speedup : o->rate;
    if (offered > 0) {
        double per_worker_ns = (double) run->n * o->batch / offered * 1e9;
        run->spin_ns = (uint64_t) VG_MIN((double) S_SPIN_NS, per_worker_ns / 16);
    }
    if (cfg->progress && o->realtime)
        fprintf(cfg->progress,
                "vigil-loadgen: the population produces %.3g tx/s in real time; realtime "
                "speed-up x%.3g\n",
                natural, run->speedup);
    pthread_barrier_init(&run->barrier, NULL, run->n);
    pthread_mutex_init(&run->mu, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* signals go to the main thread */
    run->wu_t0 = vg_now_ns();
    for (uint32_t i = 0; i < run->n; i++) {
        s_worker_t *w = &run->w[i];
        if (pthread_create(&w->thread, NULL, s_worker_main, w) != 0) {
            VG_ASSERT(!"pthread_create failed");
        }
        w->started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    uint64_t next = run->wu_t0 + (uint64_t) (o->report_every * 1e9), last_ns = run->wu_t0,
             last_tx = 0;
    int last_phase = 0;
    while (atomic_load(&run->done) < run->n) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        uint64_t now = vg_now_ns();
        int phase = atomic_load(&run->phase);
        if (phase != last_phase) { /* restart the interval at the measured phase */
            last_phase = phase, last_ns = run->t0, last_tx = 0;
            next = run->t0 + (uint64_t) (o->report_every * 1e9);
        }
        if (cfg->progress && o->report_every > 0 && now >= next) {
            s_progress(run, now, &last_ns, &last_tx);
            next += (uint64_t) (o->report_every * 1e9);
            if (next < now) next = now + (uint64_t) (o->report_every * 1e9);
        }
    }
    uint64_t finish = run->t0;
    for (uint32_t i = 0; i < run->n; i++) {
        pthread_join(run->w[i].thread, NULL);
        finish = VG_MAX(finish, run->w[i].finish_ns);
        lg_report_merge(rep, run->w[i].rep);
    }
    rep->wu_secs = (double) (run->t0 - run->wu_t0) / 1e9;
    rep->secs = (double) (finish - run->t0) / 1e9;
    if (run->fatal[0]) snprintf(rep->fatal, sizeof rep->fatal, "%s", run->fatal);
    pthread_barrier_destroy(&run->barrier);
    pthread_mutex_destroy(&run->mu);
    s_workers_free(run);
    return rep->fatal[0] ? VG_ERR_UNREACHABLE : 0;
}

/* ---- --dry-run --------------------------------------------------------- */

int lg_run_dry(const lg_run_cfg_t *cfg, FILE *out, lg_report_t *rep)
{
    const lg_opts_t *o = cfg->opts;
    lg_gen_t *gen;
    char why[160];
    if (s_gen_for(cfg, 0, 1, &gen, why, sizeof why)) {
        snprintf(rep->fatal, sizeof rep->fatal, "generator: %s", why);
        return VG_ERR_INVALID;
    }
    s_run_t run_s, *run = &run_s; /* for the realtime clock mapping */
    memset(run, 0, sizeof *run);
    run->cfg = cfg;
    run->o = o;
    run->wu_end = run->sim0 = cfg->start_ms + (int64_t) (o->history_days * S_DAY_MS);
    rep->natural_rate = lg_gen_rate(gen);
    run->speedup = o->realtime && o->rate > 0 ? o->rate / rep->natural_rate : 1;
    rep->speedup = run->speedup;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    vg_jw_t jw;
    vg_jw_init(&jw);
    char *lab = NULL;
    size_t lab_cap = 0;
    lg_tx_t tx;
    uint64_t t_start = vg_now_ns(), measured = 0, iter = 0;
    bool warm = true;
    int rc = 0;
    while (!s_stopped(run)) {
        if (warm && lg_gen_peek_ts(gen) >= run->wu_end) {
            warm = false;
            run->t0 = vg_now_ns();
            run->wall0_ms = vg_wall_ms();
        }
        if (!warm) {
            if (o->count && measured >= o->count) break;
            uint64_t now = (++iter & 255) == 0 || o->rate > 0 ? vg_now_ns() : 0;
            if (o->duration > 0 && now && now - run->t0 >= (uint64_t) (o->duration * 1e9)) break;
            uint64_t due = o->realtime   ? s_rt_due(run, lg_gen_peek_ts(gen))
                           : o->rate > 0 ? run->t0 + (uint64_t) ((double) measured / o->rate * 1e9)
                                         : 0;
            if (due && !s_sleep_until(run, due)) break;
        }
        lg_gen_next(gen, &tx);
        if (warm) {
            rep->wu_tx++;
        } else {
            measured++;
            rep->generated[tx.kind]++;
            if (o->realtime)
                tx.ts_ms =
                    run->wall0_ms + (int64_t) ((double) (tx.ts_ms - run->sim0) / run->speedup);
        }
        s_encode(&jw, &tx, 1, true);
        jw.buf[jw.len++] = '\n'; /* over the writer's NUL terminator: NDJSON line */
        rep->bytes += jw.len;
        if (fwrite(jw.buf, 1, jw.len, out) != jw.len) {
            rc = VG_ERR_IO;
            break;
        }
        s_labels(cfg, &lab, &lab_cap, &tx, 1);
    }
    if (fflush(out) != 0) rc = VG_ERR_IO;
    rep->tx_sent = measured;
    rep->secs = (double) (vg_now_ns() - t_start) / 1e9;
    vg_free(lab);
    vg_jw_fini(&jw);
    lg_gen_destroy(&gen);
    return rc;
}
