/* vg_admin.c: a mutex around one vg_ctl client. */
#include "vg_admin.h"

#include "vg_cstate.h"
#include "vg_ctl.h"
#include "vg_err.h"
#include "vg_mem.h"

#include <jansson.h>
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

/* ADMIN cmd(arg) parsed: *out (json_decref) or a vg_err with why. */
static int s_call_json(vg_admin_t *a, const char *cmd, const char *arg, json_t **out, char *why,
                       size_t cap)
{
    vg_admin_answer_t ans;
    int rc = vg_admin_call(a, cmd, 0, arg, &ans);
    if (!rc) rc = ans.code;
    *out = rc ? NULL : json_loadb(ans.json ? ans.json : "{}", ans.json ? ans.json_len : 2, 0, NULL);
    if (rc)
        snprintf(why, cap, "%s", ans.message[0] ? ans.message : vg_strerror(rc));
    else if (!*out)
        snprintf(why, cap, "%s: unreadable answer", cmd), rc = VG_ERR_PROTO;
    vg_admin_answer_fini(&ans);
    return rc;
}

int vg_admin_kv_gens(vg_admin_t *a, const char *const *tables, int64_t *gens, size_t n, char *why,
                     size_t cap)
{
    json_t *o;
    int rc = s_call_json(a, "kv.gens", NULL, &o, why, cap);
    for (size_t i = 0; !rc && i < n; i++)
        gens[i] = json_integer_value(json_object_get(json_object_get(o, "gens"), tables[i]));
    json_decref(o);
    return rc;
}

int vg_admin_kv_each(vg_admin_t *a, const char *table,
                     void (*fn)(void *ctx, const char *key, const char *value, size_t len),
                     void *ctx, char *why, size_t cap)
{
    char after[VG_CSTATE_KV_KEY_MAX + 1] = "";
    for (;;) {
        json_t *arg = json_pack("{s:s}", "table", table), *o;
        if (after[0]) json_object_set_new(arg, "after", json_string(after));
        char *text = json_dumps(arg, JSON_COMPACT);
        json_decref(arg);
        int rc = s_call_json(a, "kv.list", text, &o, why, cap);
        free(text);
        if (rc) return rc;
        json_t *e;
        size_t i;
        json_array_foreach(json_object_get(o, "entries"), i, e)
        {
            json_t *k = json_object_get(e, "key"), *v = json_object_get(e, "value");
            if (json_is_string(k) && json_is_string(v))
                fn(ctx, json_string_value(k), json_string_value(v), json_string_length(v));
        }
        const char *next = json_string_value(json_object_get(o, "next"));
        snprintf(after, sizeof after, "%s", next ? next : "");
        json_decref(o);
        if (!next || !after[0]) return 0;
    }
}
