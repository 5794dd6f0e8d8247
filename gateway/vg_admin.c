/* vg_admin.c: a mutex around one vg_ctl client. */
#include "vg_admin.h"

#include "vg_ctl.h"
#include "vg_err.h"
#include "vg_mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_REPLY_MS 8000
#define S_REACH_MS 3000

struct vg_admin {
    pthread_mutex_t mu;
    vg_ctl_t *ctl;
    char *addrs_buf;
};

int vg_admin_new(const char *addrs, vg_admin_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    vg_admin_t *a = VG_NEW(vg_admin_t);
    pthread_mutex_init(&a->mu, NULL);
    a->addrs_buf = vg_strdup(addrs ? addrs : "");
    const char *list[VG_CTL_MAX_NODES];
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(a->addrs_buf, ",", &save); tok && n < VG_CTL_MAX_NODES;
         tok = strtok_r(NULL, ",", &save))
        if (*tok) list[n++] = tok;
    if (!n) {
        snprintf(errbuf, errlen, "no cluster address given");
        vg_admin_destroy(&a);
        return VG_ERR_INVALID;
    }
    vg_ctl_config_t cc = {.addrs = list, .n_addrs = n, .reach_timeout_ms = S_REACH_MS};
    int rc = vg_ctl_new(&cc, &a->ctl, errbuf, errlen);
    if (rc) {
        vg_admin_destroy(&a);
        return rc;
    }
    *out = a;
    return 0;
}

void vg_admin_destroy(vg_admin_t **a_p)
{
    vg_admin_t *a = a_p ? *a_p : NULL;
    if (!a) return;
    vg_ctl_destroy(&a->ctl);
    pthread_mutex_destroy(&a->mu);
    vg_free(a->addrs_buf);
    vg_free(a);
    *a_p = NULL;
}

static void s_take(vg_ctl_result_t *res, vg_admin_answer_t *ans)
{
    ans->code = res->code;
    ans->json = res->json;
    ans->json_len = res->json_len;
    res->json = NULL;
    snprintf(ans->message, sizeof ans->message, "%s", res->message);
    vg_ctl_result_fini(res);
}

int vg_admin_call(vg_admin_t *a, const char *command, uint32_t node, const char *arg,
                  vg_admin_answer_t *ans)
{
    memset(ans, 0, sizeof *ans);
    vg_ctl_result_t res;
    pthread_mutex_lock(&a->mu);
    int rc = vg_ctl_admin_arg(a->ctl, command, node, arg, arg ? strlen(arg) : 0, S_REPLY_MS, &res);
    pthread_mutex_unlock(&a->mu);
    s_take(&res, ans);
    return rc;
}

int vg_admin_blob_put(vg_admin_t *a, uint32_t kind, const char *name, const void *content,
                      size_t len, bool activate, vg_admin_answer_t *ans)
{
    memset(ans, 0, sizeof *ans);
    vg_ctl_result_t res;
    pthread_mutex_lock(&a->mu);
    int rc = vg_ctl_blob_put(a->ctl, kind, name, content, len, activate, S_REPLY_MS, &res);
    pthread_mutex_unlock(&a->mu);
    s_take(&res, ans);
    return rc;
}

void vg_admin_answer_fini(vg_admin_answer_t *ans)
{
    if (!ans) return;
    free(ans->json);
    ans->json = NULL;
}
