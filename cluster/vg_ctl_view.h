/* vg_ctl_view.h: how vigilctl shows the cluster's answers to people
 * (aligned tables) and the shard-map summary to scripts (JSON). Pure
 * formatting: no I/O besides writing to the given stream or writer. */
#ifndef VG_CTL_VIEW_H
#define VG_CTL_VIEW_H

#include "vg_ctl.h"
#include "vg_jw.h"

#include <stdio.h>

/* The status page: leader and term, shard map epoch and size, who
 * answered, the members table, the Kafka bridge (partitions and lag) when
 * the node asked runs one, then warnings. */
void vg_ctl_view_status(FILE *out, const vg_ctl_doc_t *doc, const vg_ctl_result_t *res);

/* The members table alone. Columns: ID (the leader marked '*'), STATE,
 * VOTER, ALIVE, SHARDS, DATA ADDR, RAFT ADDR; "-" for absent values.
 * ops/cluster.sh reads it: keep ID and STATE the first two columns and
 * ALIVE the fourth. */
void vg_ctl_view_members(FILE *out, const vg_ctl_doc_t *doc);

/* One line about a drain/remove that went through. */
void vg_ctl_view_change(FILE *out, const char *command, uint32_t node, const vg_ctl_doc_t *doc,
                        const vg_ctl_result_t *res);

/* The shard map summary: epoch, shard count, shards per owner. */
void vg_ctl_view_map(FILE *out, const vg_ctl_map_t *map, const vg_ctl_result_t *res);

/* The same as one JSON object:
 * {"node":N,"node_addr":"h:p","map_epoch":E,"shards":S,"unowned":U,
 *  "owners":[{"id","state","data_addr","shards","max_shard_epoch"}...]}
 * where state is null for an owner that is not a member. */
void vg_ctl_view_map_json(vg_jw_t *w, const vg_ctl_map_t *map, const vg_ctl_result_t *res);

#endif
