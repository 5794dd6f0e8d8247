/* bench_auth.c: the cost of authentication per request on the hot path:
 * vg_auth_check of a token already verified (the cache) plus the rate
 * bucket, with 1 and 2 threads; and a first verification (base64url,
 * HMAC-SHA256, header and claims). Prints "BENCH name value unit".
 *   bench_auth [--n N] */
#include "vg_auth.h"
#include "vg_err.h"
#include "vg_time.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TOKENS 2000

static vg_auth_t *s_auth;
static char s_tokens[S_TOKENS][1024];
static long s_n = 2000000;

typedef struct {
    int id;
    double ns;
} s_job_t;

static void *s_hot(void *arg)
{
    s_job_t *j = arg;
    char authz[1100];
    snprintf(authz, sizeof authz, "Bearer %s", s_tokens[j->id]);
    vg_principal_t p;
    char why[200];
    int retry;
    uint64_t t0 = vg_now_ns();
    for (long i = 0; i < s_n; i++) {
        if (vg_auth_check(s_auth, authz, NULL, &p, why, sizeof why) ||
            vg_auth_rate(s_auth, &p, &retry)) {
            fprintf(stderr, "bench_auth: check failed: %s\n", why);
            exit(1);
        }
    }
    j->ns = (double) (vg_now_ns() - t0) / (double) s_n;
    return NULL;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--n")) s_n = atol(argv[i + 1]);
    vg_auth_config_t cfg = {.secret = "bench-secret-bench-secret-bench-secret!", .rate = -1};
    char err[300];
    if (vg_auth_new_offline(&cfg, &s_auth, err, sizeof err)) {
        fprintf(stderr, "bench_auth: %s\n", err);
        return 1;
    }
    vg_auth_offline_user(s_auth, "u0", VG_ROLE_INGEST);
    vg_auth_offline_user(s_auth, "u1", VG_ROLE_INGEST);
    for (int i = 0; i < S_TOKENS; i++)
        vg_auth_issue(s_auth, i % 2 ? "u1" : "u0", VG_ROLE_INGEST, 3600, s_tokens[i],
                      sizeof s_tokens[i]);
    /* first verification of each token (cache misses) */
    vg_principal_t p;
    char why[200], authz[1100];
    uint64_t t0 = vg_now_ns();
    for (int i = 2; i < S_TOKENS; i++) {
        snprintf(authz, sizeof authz, "Bearer %s", s_tokens[i]);
        if (vg_auth_check(s_auth, authz, NULL, &p, why, sizeof why)) {
            fprintf(stderr, "bench_auth: %s\n", why);
            return 1;
        }
    }
    printf("BENCH auth_first_verify_us %.2f us\n",
           (double) (vg_now_ns() - t0) / 1e3 / (S_TOKENS - 2));
    /* the hot path: cached token + rate bucket */
    s_job_t one = {0, 0};
    s_hot(&one);
    printf("BENCH auth_cached_check_ns_1thr %.0f ns/request\n", one.ns);
    vg_auth_destroy(&s_auth);
    cfg.rate = 1e12; /* buckets on, never empty */
    if (vg_auth_new_offline(&cfg, &s_auth, err, sizeof err)) return 1;
    vg_auth_offline_user(s_auth, "u0", VG_ROLE_INGEST);
    vg_auth_offline_user(s_auth, "u1", VG_ROLE_INGEST);
    s_job_t jobs[2] = {{0, 0}, {1, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, s_hot, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    printf("BENCH auth_cached_check_rate_ns_2thr %.0f ns/request\n", (jobs[0].ns + jobs[1].ns) / 2);
    vg_auth_destroy(&s_auth);
    return 0;
}
