/* vg_amsg.h: the actor message (vg_amsg_t), actor addresses, and the
 * message pool. A message is moved, never copied: whoever holds the pointer
 * owns it, and every hand-off goes through a vg_amsg_t ** that is cleared. */
#ifndef VG_AMSG_H
#define VG_AMSG_H

#include <stddef.h>
#include <stdint.h>

/* An actor (or inbox) address: (node_id << 32) | local_id; 0 = none. */
typedef uint64_t vg_addr_t;

#define VG_ADDR(node, local) (((vg_addr_t) (uint32_t) (node) << 32) | (uint32_t) (local))
#define VG_ADDR_NODE(a)      ((uint32_t) ((vg_addr_t) (a) >> 32))
#define VG_ADDR_LOCAL(a)     ((uint32_t) (vg_addr_t) (a))
#define VG_ADDR_NONE         ((vg_addr_t) 0)

/* Runtime-reserved message types; proto/ message types are < 0x100 and
 * application-private ones start at VG_AMSG_USER. */
enum {
    VG_AMSG_TIMER = 0x100, /* arg[0] = tag, arg[1] = timer id */
    VG_AMSG_TIMEOUT,       /* corr = the request's; status VG_ERR_TIMEOUT (VG_ERR_CLOSED at stop) */
    VG_AMSG_USER = 0x200
};

enum { VG_AMSG_F_REPLY = 1 };

typedef struct vg_amsg {
    struct vg_amsg *next;     /* runtime-owned link; also links vg_rt_send_chain batches */
    uint16_t type, flags;     /* flags: VG_AMSG_F_* */
    int32_t status;           /* vg_err for replies */
    vg_addr_t from, to;       /* sender (for replies) and destination */
    uint64_t corr;            /* correlation id of a request and its reply */
    void *ptr;                /* payload pointer, moves with the message */
    void (*ptr_free)(void *); /* if set, vg_amsg_free() calls it on ptr */
    uint64_t arg[2];          /* small inline payload */
} vg_amsg_t;

/* Returns a zeroed message of the given type, owned by the caller; never
 * NULL (aborts on OOM). Pooled: per-thread magazines over a global depot,
 * so steady state takes no lock per message (plain calloc/free when built
 * with VG_SANITIZED, so ASan sees every lifetime). Any thread. */
vg_amsg_t *vg_amsg_new(uint16_t type);

/* Frees *msg_p (calls ptr_free(ptr) first when both are set) and clears
 * *msg_p. NULL-safe for msg_p and *msg_p. Frees one message: ->next is
 * ignored. Any thread, whichever allocated it. */
void vg_amsg_free(vg_amsg_t **msg_p);

/* Frees a chain linked by ->next (NULL-terminated), as vg_amsg_free() each.
 * Returns how many were freed. Any thread. */
size_t vg_amsg_free_chain(vg_amsg_t *head);

#endif
