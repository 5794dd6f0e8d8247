/* vg_amsg.c: the message pool. Each thread keeps two magazines (lists of up
 * to S_MAG messages) and trades whole magazines with a global depot, so the
 * depot mutex is taken about once per S_MAG allocations or frees. Slabs are
 * never returned to the system and stay listed so leak checkers see them. */
#include "vg_amsg.h"

#include "vg_mem.h"

#include <pthread.h>
#include <string.h>

#define S_MAG 64

#ifndef VG_SANITIZED

struct s_mag {
    vg_amsg_t *head;
    uint32_t n;
};

struct s_cache {
    struct s_mag loaded, spare; /* spare is empty or holds exactly S_MAG */
    int registered;             /* thread-exit destructor armed */
};

struct s_slab {
    struct s_slab *next;
    vg_amsg_t msgs[S_MAG];
};

static _Thread_local struct s_cache s_cache;
static pthread_mutex_t s_depot_mu = PTHREAD_MUTEX_INITIALIZER;
static struct s_mag *s_depot; /* full (or flushed partial) magazines */
static size_t s_depot_n, s_depot_cap;
static struct s_slab *s_slabs; /* every slab ever made, for leak checkers */
static pthread_once_t s_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t s_key;

/* Caller holds s_depot_mu. */
static void s_depot_push(struct s_mag mag)
{
    if (s_depot_n == s_depot_cap) {
        s_depot_cap = s_depot_cap ? s_depot_cap * 2 : 64;
        s_depot = vg_realloc(s_depot, s_depot_cap * sizeof *s_depot);
    }
    s_depot[s_depot_n++] = mag;
}

static void s_thread_exit(void *arg)
{
    struct s_cache *c = arg;
    pthread_mutex_lock(&s_depot_mu);
    if (c->loaded.n) s_depot_push(c->loaded);
    if (c->spare.n) s_depot_push(c->spare);
    pthread_mutex_unlock(&s_depot_mu);
    memset(c, 0, sizeof *c);
}

static void s_key_make(void)
{
    int rc = pthread_key_create(&s_key, s_thread_exit);
    VG_ASSERT(rc == 0);
}

static void s_register(struct s_cache *c)
{
    pthread_once(&s_key_once, s_key_make);
    pthread_setspecific(s_key, c);
    c->registered = 1;
}

static struct s_mag s_slab_new(void)
{
    struct s_slab *slab = vg_malloc(sizeof *slab);
    for (int i = 0; i < S_MAG - 1; i++) slab->msgs[i].next = &slab->msgs[i + 1];
    slab->msgs[S_MAG - 1].next = NULL;
    pthread_mutex_lock(&s_depot_mu);
    slab->next = s_slabs;
    s_slabs = slab;
    pthread_mutex_unlock(&s_depot_mu);
    return (struct s_mag){slab->msgs, S_MAG};
}

static void s_refill(struct s_cache *c)
{
    if (c->spare.n) {
        c->loaded = c->spare;
        c->spare = (struct s_mag){NULL, 0};
        return;
    }
    pthread_mutex_lock(&s_depot_mu);
    if (s_depot_n) c->loaded = s_depot[--s_depot_n];
    pthread_mutex_unlock(&s_depot_mu);
    if (!c->loaded.n) c->loaded = s_slab_new();
}

static void s_spill(struct s_cache *c)
{
    if (c->spare.n) {
        pthread_mutex_lock(&s_depot_mu);
        s_depot_push(c->spare);
        pthread_mutex_unlock(&s_depot_mu);
    }
    c->spare = c->loaded;
    c->loaded = (struct s_mag){NULL, 0};
}

static vg_amsg_t *s_get(void)
{
    struct s_cache *c = &s_cache;
    if (VG_UNLIKELY(!c->registered)) s_register(c);
    if (VG_UNLIKELY(!c->loaded.n)) s_refill(c);
    vg_amsg_t *m = c->loaded.head;
    c->loaded.head = m->next;
    c->loaded.n--;
    return m;
}

static void s_put(vg_amsg_t *m)
{
    struct s_cache *c = &s_cache;
    if (VG_UNLIKELY(!c->registered)) s_register(c);
    if (VG_UNLIKELY(c->loaded.n >= S_MAG)) s_spill(c);
    m->next = c->loaded.head;
    c->loaded.head = m;
    c->loaded.n++;
}

#else /* VG_SANITIZED: one heap block per message so ASan tracks each */

static vg_amsg_t *s_get(void)
{
    return vg_malloc(sizeof(vg_amsg_t));
}

static void s_put(vg_amsg_t *m)
{
    free(m);
}

#endif

vg_amsg_t *vg_amsg_new(uint16_t type)
{
    vg_amsg_t *m = s_get();
    memset(m, 0, sizeof *m);
    m->type = type;
    return m;
}

void vg_amsg_free(vg_amsg_t **msg_p)
{
    if (!msg_p || !*msg_p) return;
    vg_amsg_t *m = *msg_p;
    *msg_p = NULL;
    if (m->ptr && m->ptr_free) m->ptr_free(m->ptr);
    s_put(m);
}

size_t vg_amsg_free_chain(vg_amsg_t *head)
{
    size_t n = 0;
    while (head) {
        vg_amsg_t *next = head->next;
        vg_amsg_free(&head);
        head = next;
        n++;
    }
    return n;
}
