/* vg_admin.h: the gateway's channel to the cluster's control commands
 * (ADMIN, BLOB_PUT; see cluster/vg_ctl.h): one vg_ctl client shared by the
 * HTTP threads, one exchange at a time. Used by auth (users, API keys,
 * settings in the replicated key-value tables), labels and the admin
 * endpoints that mirror vigilctl. */
#ifndef VG_ADMIN_H
#define VG_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_admin vg_admin_t;

/* An answer: code 0 or the node's vg_err; json (NUL-terminated, owned:
 * vg_admin_answer_fini) is the node's JSON; message says why on failure. */
typedef struct {
    int code;
    char *json;
    size_t json_len;
    char message[512];
} vg_admin_answer_t;

/* addrs: "host:port[,host:port...]" of members (their --listen). Returns
 * 0 or a vg_err with errbuf set. */
int vg_admin_new(const char *addrs, vg_admin_t **out, char *errbuf, size_t errlen);
void vg_admin_destroy(vg_admin_t **a_p);

/* ADMIN(command, node, arg JSON or NULL). Returns 0 when an answer came
 * (ans->code may still be a refusal) or the transport's vg_err (TIMEOUT
 * when no member answered); ans is always filled (fini it). Any thread. */
int vg_admin_call(vg_admin_t *a, const char *command, uint32_t node, const char *arg,
                  vg_admin_answer_t *ans);
/* BLOB_PUT (kind 0 rule set or list, 1 model) through the leader. */
int vg_admin_blob_put(vg_admin_t *a, uint32_t kind, const char *name, const void *content,
                      size_t len, bool activate, vg_admin_answer_t *ans);
void vg_admin_answer_fini(vg_admin_answer_t *ans);

/* ---- the replicated key-value tables (kv.*; see cluster/vg_cstate.h) ---- */

/* The generations of n tables ("users", "labels"...) in one kv.gens call;
 * 0, or a vg_err with why set (gens untouched). */
int vg_admin_kv_gens(vg_admin_t *a, const char *const *tables, int64_t *gens, size_t n, char *why,
                     size_t cap);
/* Every entry of table, page by page (kv.list), in key order: fn(ctx, key,
 * value, value_len). 0, or a vg_err with why set (fn may have run for
 * earlier pages). */
int vg_admin_kv_each(vg_admin_t *a, const char *table,
                     void (*fn)(void *ctx, const char *key, const char *value, size_t len),
                     void *ctx, char *why, size_t cap);

#endif
