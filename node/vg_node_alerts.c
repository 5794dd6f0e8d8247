/* vg_node_alerts.c: ADMIN alerts.* over the node's vg_alert module. */
#include "vg_node_alerts.h"

#include "vg_err.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void s_refuse(vg_jw_t *w, int *code, int rc, const char *msg)
{
    *code = rc;
    vg_jw_reset(w);
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "error", msg);
    vg_jw_obj_end(w);
}

bool vg_node_alerts_admin(vg_alert_t *a, vg_str_t cmd, vg_str_t arg, vg_jw_t *w, int *code)
{
    if (cmd.len < 7 || strncmp(cmd.ptr, "alerts.", 7) != 0) return false;
    *code = 0;
    json_t *o = arg.len ? json_loadb(arg.ptr, arg.len, 0, NULL) : json_object();
    if (!json_is_object(o)) {
        json_decref(o);
        s_refuse(w, code, VG_ERR_PARSE, "arg: a JSON object is required");
        return true;
    }
    const char *id = json_string_value(json_object_get(o, "id"));
    char msg[300] = "";
    if (!a) {
        s_refuse(w, code, VG_ERR_NOT_FOUND, "alerting is not configured on this node");
    } else if (vg_str_eq_c(cmd, "alerts.list")) {
        vg_alert_query_t q;
        vg_alert_query_init(&q);
        const char *key;
        json_t *v;
        int rc = 0;
        vg_perr_t perr;
        vg_perr_clear(&perr);
        json_object_foreach(o, key, v)
        {
            if (!rc && json_is_string(v))
                rc = vg_alert_query_set(&q, key, json_string_value(v), &perr);
        }
        /* a gateway merging every node's pages: "merge": true asks for each
         * alert's own cursor; "cursors" {"<node id>": cursor | "" | "-"}
         * holds each node's position ("" from the top, "-" done) and
         * "before" the creation time (ms) of the last alert the merged
         * page showed, which bounds a node starting from the top */
        q.item_cursors = json_is_true(json_object_get(o, "merge"));
        json_t *cursors = json_object_get(o, "cursors");
        bool done = false;
        if (!rc && json_is_object(cursors)) {
            char self[16];
            snprintf(self, sizeof self, "%u", vg_alert_node_id(a));
            const char *mine = json_string_value(json_object_get(cursors, self));
            json_t *before = json_object_get(o, "before");
            if (mine && !strcmp(mine, "-")) {
                done = true;
            } else if (mine && *mine) {
                rc = vg_alert_query_set(&q, "cursor", mine, &perr);
            } else if (json_is_integer(before) && json_integer_value(before) < q.until_ms) {
                q.until_ms = json_integer_value(before);
            }
        }
        if (!rc && done) {
            vg_jw_obj_begin(w);
            vg_jw_key(w, "alerts");
            vg_jw_arr_begin(w);
            vg_jw_arr_end(w);
            vg_jw_kcstr(w, "next_cursor", NULL);
            vg_jw_obj_end(w);
        } else if (!rc) {
            rc = vg_alert_list(a, &q, w);
        }
        if (rc)
            s_refuse(w, code, rc,
                     perr.code ? vg_perr_str(&perr, msg, sizeof msg) : vg_strerror(rc));
    } else if (vg_str_eq_c(cmd, "alerts.get") && id) {
        int rc = vg_alert_get(a, vg_str_c(id), w);
        if (rc) s_refuse(w, code, rc, rc == VG_ERR_NOT_FOUND ? "no such alert" : vg_strerror(rc));
    } else if (vg_str_eq_c(cmd, "alerts.retry") && id) {
        int rc = vg_alert_retry(a, vg_str_c(id), msg, sizeof msg);
        if (rc) {
            s_refuse(w, code, rc, msg[0] ? msg : vg_strerror(rc));
        } else {
            vg_jw_obj_begin(w);
            vg_jw_kcstr(w, "id", id);
            vg_jw_kcstr(w, "status", "pending");
            vg_jw_obj_end(w);
        }
    } else if (vg_str_eq_c(cmd, "alerts.channels")) {
        vg_alert_channels_json(a, w);
    } else {
        s_refuse(w, code, VG_ERR_INVALID,
                 "unknown alerts command (alerts.list, alerts.get {id}, alerts.retry {id}, "
                 "alerts.channels)");
    }
    json_decref(o);
    return true;
}
