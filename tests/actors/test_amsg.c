/* test_amsg.c: the building blocks under the runtime: the message pool
 * (messages allocated on one thread and freed on another come back zeroed,
 * payloads freed once), the MPSC queue (per-producer FIFO with chains) and
 * the u64 map (against a reference array, through growth and deletes). */
#include "vt_util.h"

#include "vg_mpsc.h"
#include "vg_u64map.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- pool ---- */

#define N_POOL 200000

static atomic_int s_payload_frees;

static void count_free(void *p)
{
    atomic_fetch_add(&s_payload_frees, 1);
    free(p);
}

typedef struct {
    vg_amsg_t *chain;
    size_t n;
} hand_t;

static void *pool_consumer(void *arg)
{
    hand_t *h = arg;
    h->n = vg_amsg_free_chain(h->chain);
    return NULL;
}

static void test_pool_cross_thread(void **unused)
{
    for (int round = 0; round < 5; round++) {
        hand_t h = {0};
        for (int i = 0; i < N_POOL; i++) {
            vg_amsg_t *m = vg_amsg_new((uint16_t) i);
            assert_int_equal(m->type, (uint16_t) i);
            assert_true(m->flags == 0 && m->status == 0 && m->from == 0 && m->to == 0);
            assert_true(m->corr == 0 && m->ptr == NULL && m->ptr_free == NULL);
            assert_true(m->arg[0] == 0 && m->arg[1] == 0);
            m->arg[0] = m->arg[1] = m->corr = ~0ull; /* dirty it for the next round */
            if (i % 1000 == 0) {
                m->ptr = malloc(8);
                m->ptr_free = count_free;
            }
            m->next = h.chain;
            h.chain = m;
        }
        pthread_t th;
        pthread_create(&th, NULL, pool_consumer, &h);
        pthread_join(th, NULL);
        assert_int_equal(h.n, N_POOL);
    }
    assert_int_equal(atomic_load(&s_payload_frees), 5 * N_POOL / 1000);
    vg_amsg_t *m = NULL;
    vg_amsg_free(&m); /* NULL-safe */
    vg_amsg_free(NULL);
    m = vg_amsg_new(1);
    vg_amsg_free(&m);
    assert_null(m);
}

/* ---- MPSC queue ---- */

#define N_MPSC 200000u
#define N_PROD 3

typedef struct {
    vg__mpsc_t *q;
    uint64_t id;
    atomic_int *live;
} prod_t;

static void *mpsc_producer(void *arg)
{
    prod_t *p = arg;
    for (uint64_t i = 0; i < N_MPSC;) {
        size_t n = (i / 7) % 3 + 1; /* singles and chains of 2-3 */
        vg_amsg_t *head = NULL, *tail = NULL;
        for (size_t k = 0; k < n && i < N_MPSC; k++, i++) {
            vg_amsg_t *m = vt_msg(1, 0, p->id, i);
            if (tail)
                tail->next = m;
            else
                head = m;
            tail = m;
        }
        vg__mpsc_push_chain(p->q, head, tail);
    }
    atomic_fetch_sub(p->live, 1);
    return NULL;
}

static void test_mpsc_fifo(void **unused)
{
    static vg__mpsc_t q;
    vg__mpsc_init(&q);
    assert_true(vg__mpsc_empty(&q));
    atomic_int live = N_PROD;
    prod_t p[N_PROD];
    pthread_t th[N_PROD];
    for (int i = 0; i < N_PROD; i++) {
        p[i] = (prod_t){.q = &q, .id = (uint64_t) i, .live = &live};
        pthread_create(&th[i], NULL, mpsc_producer, &p[i]);
    }
    uint64_t expect[N_PROD] = {0}, got = 0;
    while (got < N_PROD * N_MPSC) {
        vg_amsg_t *m = vg__mpsc_pop(&q);
        if (!m) {
            assert_true(atomic_load(&live) > 0 || !vg__mpsc_empty(&q));
            continue;
        }
        assert_int_equal(m->arg[1], expect[m->arg[0]]);
        expect[m->arg[0]]++;
        got++;
        vg_amsg_free(&m);
    }
    for (int i = 0; i < N_PROD; i++) pthread_join(th[i], NULL);
    assert_null(vg__mpsc_pop(&q));
    assert_true(vg__mpsc_empty(&q));
}

/* ---- u64 map ---- */

#define N_KEYS 5000

static void test_u64map(void **unused)
{
    static uint64_t ref[N_KEYS]; /* 0 = absent, else value */
    vg__u64map_t m = {0};
    uint64_t v;
    assert_false(vg__u64map_get(&m, 5, &v));
    assert_false(vg__u64map_del(&m, 5, &v));
    srand(7);
    for (int step = 0; step < 200000; step++) {
        uint64_t k = (uint64_t) (rand() % N_KEYS);
        uint64_t key = k * 0x100000001ull + 1; /* nonzero, clustered hashes */
        int op = rand() % 3;
        if (op == 0) {
            uint64_t val = (uint64_t) rand() + 1;
            vg__u64map_put(&m, key, val);
            ref[k] = val;
        } else if (op == 1) {
            bool had = vg__u64map_del(&m, key, &v);
            assert_int_equal(had, ref[k] != 0);
            if (had) assert_int_equal(v, ref[k]);
            ref[k] = 0;
        } else {
            bool has = vg__u64map_get(&m, key, &v);
            assert_int_equal(has, ref[k] != 0);
            if (has) assert_int_equal(v, ref[k]);
        }
    }
    uint32_t n = 0;
    for (int k = 0; k < N_KEYS; k++) n += ref[k] != 0;
    assert_int_equal(m.n, n);
    vg__u64map_fini(&m);
    assert_int_equal(m.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_cross_thread),
        cmocka_unit_test(test_mpsc_fifo),
        cmocka_unit_test(test_u64map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
