/* vg_node_alerts.h: a node's alert module seen from outside: the ADMIN
 * commands alerts.list / alerts.get / alerts.retry / alerts.channels (the
 * gateway's /v1/alerts and vigilctl alerts ask every member: each node
 * alerts on its own anomalies). */
#ifndef VG_NODE_ALERTS_H
#define VG_NODE_ALERTS_H

#include "vg_alert.h"
#include "vg_jw.h"
#include "vg_str.h"

#include <stdbool.h>

/* Answers cmd (arg: a JSON object: the /v1/alerts query parameters as
 * strings, or {"id"}) into w; *code gets 0 or a vg_err (w then holds
 * {"error": "..."}). False when cmd is not an alerts.* command. */
bool vg_node_alerts_admin(vg_alert_t *a, vg_str_t cmd, vg_str_t arg, vg_jw_t *w, int *code);

#endif
