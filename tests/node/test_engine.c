/* test_engine.c: the scoring engine over a real LMDB store: synchronous
 * and asynchronous scoring from several threads at once, duplicates in
 * flight and committed, and state that continues after a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_engine.h"
#include "vg_err.h"
#include "vg_rules.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOBS    40
#define PER_JOB 25

typedef struct {
    char dir[64];
    vg_store_t *store;
    vg_engine_t *engine;
} t_fix_t;

static void s_open(t_fix_t *f)
{
    char err[256];
    vg_store_config_t sc = {.dir = f->dir};
    assert_int_equal(vg_store_open(&sc, &f->store, err, sizeof err), 0);
    vg_engine_config_t ec;
    vg_engine_config_default(&ec);
    ec.workers = 2;
    assert_int_equal(vg_engine_new(&ec, f->store, &f->engine), 0);
    assert_int_equal(vg_engine_start(f->engine), 0);
}

static void s_close(t_fix_t *f)
{
    vg_engine_destroy(&f->engine);
    vg_store_close(&f->store);
}

static int s_setup(void **state)
{
    t_fix_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vigil-engine-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    s_open(f);
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    t_fix_t *f = *state;
    s_close(f);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc;
}

/* Batch j: PER_JOB transactions of 5 users, ids "j<j>-<i>". */
typedef struct {
    char ids[PER_JOB][16], users[PER_JOB][16];
    vg_tx_t txs[PER_JOB];
    vg_verdict_t out[PER_JOB];
    vg_arena_t arena;
    int rc;
} t_batch_t;

static void s_fill(t_batch_t *b, int j)
{
    for (int i = 0; i < PER_JOB; i++) {
        snprintf(b->ids[i], 16, "j%d-%d", j, i);
        snprintf(b->users[i], 16, "user-%d", (j * PER_JOB + i) % 5);
        vg_tx_t *tx = &b->txs[i];
        vg_tx_init(tx);
        tx->id = vg_str_c(b->ids[i]);
        tx->user_id = vg_str_c(b->users[i]);
        tx->amount = 20 + (i % 7);
        memcpy(tx->currency, "EUR", 4);
        tx->ts_ms = 1767225600000LL + (int64_t) (j * PER_JOB + i) * 60000;
    }
}

static atomic_int s_done;

static void s_on_done(void *arg, int rc)
{
    ((t_batch_t *) arg)->rc = rc;
    atomic_fetch_add(&s_done, 1);
}

static void test_async_submit_and_duplicates(void **state)
{
    t_fix_t *f = *state;
    t_batch_t *b = calloc(JOBS, sizeof *b);
    atomic_store(&s_done, 0);
    for (int j = 0; j < JOBS; j++) {
        s_fill(&b[j], j);
        assert_int_equal(
            vg_engine_submit(f->engine, b[j].txs, PER_JOB, b[j].out, &b[j].arena, s_on_done, &b[j]),
            0);
    }
    for (int i = 0; i < 500 && atomic_load(&s_done) < JOBS; i++) usleep(10000);
    assert_int_equal(atomic_load(&s_done), JOBS);
    for (int j = 0; j < JOBS; j++) {
        assert_int_equal(b[j].rc, 0);
        for (int i = 0; i < PER_JOB; i++) {
            assert_int_equal(b[j].out[i].status, 0);
            assert_true(vg_str_eq(b[j].out[i].id, b[j].txs[i].id));
            assert_int_equal(b[j].out[i].flags & VG_VERDICT_F_DUPLICATE, 0);
        }
    }
    /* the same batch again, synchronously: every verdict is the stored one */
    vg_verdict_t again[PER_JOB];
    vg_arena_t arena = VG_ARENA_INIT;
    assert_int_equal(vg_engine_score(f->engine, b[3].txs, PER_JOB, again, &arena), 0);
    for (int i = 0; i < PER_JOB; i++) {
        assert_true(again[i].flags & VG_VERDICT_F_DUPLICATE);
        assert_true(again[i].score == b[3].out[i].score);
        assert_int_equal(again[i].decision, b[3].out[i].decision);
    }
    for (int j = 0; j < JOBS; j++) vg_arena_fini(&b[j].arena);
    vg_arena_fini(&arena);
    free(b);
}

/* Two transactions of one batch with the same id and time: the second is
 * answered from the first, in flight. */
static void test_duplicate_within_batch(void **state)
{
    t_fix_t *f = *state;
    t_batch_t b;
    memset(&b, 0, sizeof b);
    s_fill(&b, 900);
    b.txs[1] = b.txs[0];
    vg_arena_t arena = VG_ARENA_INIT;
    assert_int_equal(vg_engine_score(f->engine, b.txs, 2, b.out, &arena), 0);
    assert_int_equal(b.out[0].flags & VG_VERDICT_F_DUPLICATE, 0);
    assert_true(b.out[1].flags & VG_VERDICT_F_DUPLICATE);
    vg_arena_fini(&arena);
}

/* Features continue across a close and reopen of engine + store. */
static void test_reopen_continues(void **state)
{
    t_fix_t *f = *state;
    s_close(f);
    s_open(f);
    t_batch_t b;
    memset(&b, 0, sizeof b);
    s_fill(&b, 0); /* batch 0 again: all duplicates after the reopen */
    vg_arena_t arena = VG_ARENA_INIT;
    assert_int_equal(vg_engine_score(f->engine, b.txs, PER_JOB, b.out, &arena), 0);
    for (int i = 0; i < PER_JOB; i++) assert_true(b.out[i].flags & VG_VERDICT_F_DUPLICATE);
    vg_arena_fini(&arena);
    assert_true(vg_engine_ready(f->engine));
}

/* Many tiny asynchronous jobs from several threads against fast (no fsync)
 * commits: a worker may finish its part before the submitting thread has
 * finished dispatching. Each job's done must run exactly once (a race here
 * once completed jobs twice: use after free in the cluster node). */
#define RACE_THREADS 4
#define RACE_JOBS    1500

typedef struct {
    vg_tx_t tx;
    vg_verdict_t out;
    vg_arena_t arena;
    char id[24];
    atomic_int done;
} t_tiny_t;

static atomic_int s_tiny_done;

static void s_on_tiny(void *arg, int rc)
{
    t_tiny_t *t = arg;
    assert_int_equal(rc, 0);
    assert_int_equal(atomic_fetch_add(&t->done, 1), 0); /* exactly once */
    atomic_fetch_add(&s_tiny_done, 1);
}

typedef struct {
    vg_engine_t *engine;
    t_tiny_t *jobs;
} t_racer_t;

static void *s_racer(void *arg)
{
    t_racer_t *r = arg;
    for (int j = 0; j < RACE_JOBS; j++)
        vg_engine_submit(r->engine, &r->jobs[j].tx, 1, &r->jobs[j].out, &r->jobs[j].arena,
                         s_on_tiny, &r->jobs[j]);
    return NULL;
}

static void test_async_completion_exactly_once(void **state)
{
    (void) state;
    char dir[] = "/tmp/vigil-engine-race-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256];
    vg_store_t *store;
    vg_store_config_t sc = {.dir = dir, .no_sync = true};
    assert_int_equal(vg_store_open(&sc, &store, err, sizeof err), 0);
    vg_engine_config_t ec;
    vg_engine_config_default(&ec);
    ec.workers = 2;
    vg_engine_t *engine;
    assert_int_equal(vg_engine_new(&ec, store, &engine), 0);
    assert_int_equal(vg_engine_start(engine), 0);
    t_tiny_t *jobs = calloc(RACE_THREADS * RACE_JOBS, sizeof *jobs);
    t_racer_t racers[RACE_THREADS];
    pthread_t th[RACE_THREADS];
    atomic_store(&s_tiny_done, 0);
    for (int t = 0; t < RACE_THREADS; t++) {
        racers[t] = (t_racer_t){engine, jobs + t * RACE_JOBS};
        for (int j = 0; j < RACE_JOBS; j++) {
            t_tiny_t *x = &racers[t].jobs[j];
            snprintf(x->id, sizeof x->id, "r%d-%d", t, j);
            vg_tx_init(&x->tx);
            x->tx.id = vg_str_c(x->id);
            x->tx.user_id = vg_str_c(x->id);
            x->tx.amount = 1;
            memcpy(x->tx.currency, "EUR", 4);
            x->tx.ts_ms = 1767225600000LL + j;
        }
        pthread_create(&th[t], NULL, s_racer, &racers[t]);
    }
    for (int t = 0; t < RACE_THREADS; t++) pthread_join(th[t], NULL);
    for (int i = 0; i < 1000 && atomic_load(&s_tiny_done) < RACE_THREADS * RACE_JOBS; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&s_tiny_done), RACE_THREADS * RACE_JOBS);
    vg_engine_destroy(&engine);
    vg_store_close(&store);
    for (int i = 0; i < RACE_THREADS * RACE_JOBS; i++) {
        assert_int_equal(atomic_load(&jobs[i].done), 1);
        vg_arena_fini(&jobs[i].arena);
    }
    free(jobs);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int s_take_severity(void *arg, const vg_anomaly_rec_t *rec)
{
    *(int *) arg = rec->severity;
    return 0;
}

/* A rule declared "severity = high" (weight .8: a score of .8, which alone
 * is medium) stores its anomaly as high: the declared severity is a floor
 * (alert routes and filters by severity rely on it). */
static void test_rule_severity_is_a_floor(void **state)
{
    t_fix_t *f = *state;
    static const char src[] = "rule big {\n  severity = high\n  action = review\n"
                              "  when = amount > 1000\n}\n";
    vg_ruleset_t *rs = NULL;
    assert_int_equal(vg_ruleset_compile(src, sizeof src - 1, NULL, NULL, &rs, NULL), 0);
    vg_engine_set_rules(f->engine, &rs, 1);
    vg_tx_t tx;
    vg_tx_init(&tx);
    tx.id = vg_str_c("sev-1");
    tx.user_id = vg_str_c("sev-user");
    tx.amount = 5000;
    memcpy(tx.currency, "EUR", 4);
    tx.ts_ms = 1767225600000LL;
    vg_verdict_t v;
    vg_arena_t arena = VG_ARENA_INIT;
    assert_int_equal(vg_engine_score(f->engine, &tx, 1, &v, &arena), 0);
    assert_true(v.anomaly);
    assert_true(v.score >= 0.8 && v.score < 0.85); /* the rule alone: medium by score */
    assert_int_equal(v.decision, VG_DECISION_REVIEW);
    int sev = -1;
    assert_int_equal(vg_store_anomaly_get(f->store, tx.id, s_take_severity, &sev), 0);
    assert_int_equal(sev, VG_SEV_HIGH);
    vg_engine_set_rules(f->engine, NULL, 0);
    vg_arena_fini(&arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_submit_and_duplicates),
        cmocka_unit_test(test_duplicate_within_batch),
        cmocka_unit_test(test_reopen_continues),
        cmocka_unit_test(test_async_completion_exactly_once),
        cmocka_unit_test(test_rule_severity_is_a_floor),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
