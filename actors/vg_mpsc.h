/* vg_mpsc.h (internal): intrusive multi-producer single-consumer queue
 * (Vyukov). Push, and push of a whole chain, is one atomic exchange; pop is
 * wait-free for the one consumer. Nodes are vg_amsg_t linked by ->next. */
#ifndef VG_MPSC_H
#define VG_MPSC_H

#include "vg_amsg.h"

#include <stdbool.h>

typedef struct {
    vg_amsg_t *head; /* producers: the last node pushed */
    char pad_[64 - sizeof(vg_amsg_t *)];
    vg_amsg_t *tail; /* consumer: the next node to pop (or the stub) */
    vg_amsg_t stub;
} vg__mpsc_t;

/* Before any other use; not thread-safe. */
static inline void vg__mpsc_init(vg__mpsc_t *q)
{
    q->stub.next = NULL;
    q->head = q->tail = &q->stub;
}

/* Appends first..last (already linked by ->next). Any thread. */
static inline void vg__mpsc_push_chain(vg__mpsc_t *q, vg_amsg_t *first, vg_amsg_t *last)
{
    __atomic_store_n(&last->next, NULL, __ATOMIC_RELAXED);
    vg_amsg_t *prev = __atomic_exchange_n(&q->head, last, __ATOMIC_SEQ_CST);
    __atomic_store_n(&prev->next, first, __ATOMIC_RELEASE);
}

/* Returns the oldest node or NULL when empty or when the next node's
 * producer is between its exchange and its link store (it will be poppable
 * a moment later). The consumer only. */
static inline vg_amsg_t *vg__mpsc_pop(vg__mpsc_t *q)
{
    vg_amsg_t *tail = q->tail;
    vg_amsg_t *next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE);
    if (tail == &q->stub) {
        if (!next) return NULL;
        q->tail = tail = next;
        next = __atomic_load_n(&next->next, __ATOMIC_ACQUIRE);
    }
    if (next) {
        q->tail = next;
        return tail;
    }
    if (tail != __atomic_load_n(&q->head, __ATOMIC_SEQ_CST)) return NULL;
    vg__mpsc_push_chain(q, &q->stub, &q->stub);
    next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE);
    if (next) {
        q->tail = next;
        return tail;
    }
    return NULL;
}

/* True when nothing has been pushed that was not popped; a push in
 * progress counts as non-empty. The consumer only. Sequentially consistent
 * with the producers' exchange, for lost-wakeup-free sleep checks. */
static inline bool vg__mpsc_empty(vg__mpsc_t *q)
{
    return q->tail == &q->stub && __atomic_load_n(&q->head, __ATOMIC_SEQ_CST) == &q->stub;
}

#endif
