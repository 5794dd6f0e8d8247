/* vg_ctl_view.c: vigilctl's output: aligned text tables for people, the
 * map summary as JSON for scripts. Absent values print as "-". */
#include "vg_ctl_view.h"

#include "vg_cstate.h"
#include "vg_mem.h"

#include <inttypes.h>
#include <string.h>

#define S_COLS 7
#define S_CELL 64

/* ---- a small aligned table ------------------------------------------------ */

typedef struct {
    size_t n_rows, cap;
    char (*cells)[S_COLS][S_CELL];
    bool right[S_COLS]; /* right-aligned columns (numbers) */
    int n_cols;
} s_table_t;

static void s_row(s_table_t *t, const char *const vals[])
{
    if (t->n_rows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = vg_realloc(t->cells, t->cap * sizeof *t->cells);
    }
    for (int c = 0; c < t->n_cols; c++)
        snprintf(t->cells[t->n_rows][c], S_CELL, "%s", vals[c] ? vals[c] : "-");
    t->n_rows++;
}

static void s_print(FILE *out, s_table_t *t)
{
    size_t w[S_COLS] = {0};
    for (size_t r = 0; r < t->n_rows; r++)
        for (int c = 0; c < t->n_cols; c++) w[c] = VG_MAX(w[c], strlen(t->cells[r][c]));
    for (size_t r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            bool last = c == t->n_cols - 1;
            if (t->right[c] && r > 0) /* headers stay left-aligned */
                fprintf(out, "%*s", (int) w[c], t->cells[r][c]);
            else
                fprintf(out, "%-*s", last ? 0 : (int) w[c], t->cells[r][c]);
            fputs(last ? "\n" : "  ", out);
        }
    }
    free(t->cells);
    t->cells = NULL;
    t->n_rows = t->cap = 0;
}

static const char *s_i64(char *buf, int64_t v)
{
    if (v < 0) return "-";
    snprintf(buf, S_CELL, "%" PRId64, v);
    return buf;
}

static const char *s_yes(int v)
{
    return v < 0 ? "-" : v ? "yes" : "no";
}

/* ---- ADMIN answers ------------------------------------------------------- */

void vg_ctl_view_members(FILE *out, const vg_ctl_doc_t *doc)
{
    s_table_t t = {.n_cols = S_COLS, .right = {false, false, false, false, true, false, false}};
    s_row(&t, (const char *const[]){"ID", "STATE", "VOTER", "ALIVE", "SHARDS", "DATA ADDR",
                                    "RAFT ADDR"});
    bool marked = false;
    for (size_t i = 0; i < doc->n_members; i++) {
        const vg_ctl_member_t *m = &doc->members[i];
        char id[S_CELL], shards[S_CELL];
        bool leader = m->id >= 0 && m->id == doc->leader;
        marked |= leader;
        if (m->id < 0)
            snprintf(id, sizeof id, "-");
        else
            snprintf(id, sizeof id, "%" PRId64 "%s", m->id, leader ? "*" : "");
        s_row(&t, (const char *const[]){id, m->state, s_yes(m->voter), s_yes(m->alive),
                                        s_i64(shards, m->shards), m->data_addr, m->raft_addr});
    }
    if (!doc->n_members) {
        free(t.cells); /* the header row */
        fprintf(out, "no members%s\n", doc->has_members ? "" : " listed in the answer");
        return;
    }
    s_print(out, &t);
    if (marked) fprintf(out, "(* = leader)\n");
}

static void s_answered(FILE *out, const vg_ctl_result_t *res)
{
    fprintf(out, "asked      node %u at %s", res->node, res->addr);
    if (res->redirected_from)
        fprintf(out, " (node %u at %s sent us to the leader)", res->redirected_from,
                res->redirected_addr);
    fputc('\n', out);
}

/* The Kafka bridge of the node asked (status "kafka"): totals, then one
 * row per assigned partition. */
static void s_kafka(FILE *out, const vg_ctl_doc_t *doc)
{
    char b1[S_CELL], b2[S_CELL], b3[S_CELL];
    fprintf(out, "\nkafka      group %s, %zu partitions, lag %s, %s consumed, %s dead letters%s\n",
            doc->kafka_group ? doc->kafka_group : "?", doc->n_kafka_parts,
            s_i64(b1, doc->kafka_lag), s_i64(b2, doc->kafka_consumed),
            s_i64(b3, doc->kafka_dead_letters), doc->kafka_paused == 1 ? " (PAUSED)" : "");
    if (!doc->n_kafka_parts) return;
    s_table_t t = {.n_cols = 7, .right = {false, true, true, true, true, true, false}};
    s_row(&t, (const char *const[]){"TOPIC", "PARTITION", "POSITION", "COMMITTED", "HIGH", "LAG",
                                    "PAUSED"});
    for (size_t i = 0; i < doc->n_kafka_parts; i++) {
        const vg_ctl_kafka_part_t *k = &doc->kafka_parts[i];
        char c[5][S_CELL];
        s_row(&t,
              (const char *const[]){k->topic, s_i64(c[0], k->partition), s_i64(c[1], k->position),
                                    s_i64(c[2], k->committed), s_i64(c[3], k->high),
                                    s_i64(c[4], k->lag), s_yes(k->paused)});
    }
    s_print(out, &t);
}

void vg_ctl_view_status(FILE *out, const vg_ctl_doc_t *doc, const vg_ctl_result_t *res)
{
    char b1[S_CELL], b2[S_CELL];
    if (doc->leader > 0)
        fprintf(out, "leader     node %" PRId64 " at %s, term %s\n", doc->leader,
                doc->leader_addr && *doc->leader_addr ? doc->leader_addr : "?",
                s_i64(b1, doc->term));
    else
        fprintf(out, "leader     none known (election under way?), term %s\n",
                s_i64(b1, doc->term));
    fprintf(out, "shard map  epoch %s, %s shards\n", s_i64(b1, doc->map_epoch),
            s_i64(b2, doc->shards));
    size_t alive = 0, active = 0;
    for (size_t i = 0; i < doc->n_members; i++) {
        alive += doc->members[i].alive == 1;
        active += doc->members[i].state && !strcmp(doc->members[i].state, "active");
    }
    fprintf(out, "members    %zu (%zu active, %zu alive)\n", doc->n_members, active, alive);
    s_answered(out, res);
    fputc('\n', out);
    vg_ctl_view_members(out, doc);
    if (doc->has_kafka) s_kafka(out, doc);
    if (doc->n_warnings) {
        fprintf(out, "\nwarnings\n");
        for (size_t i = 0; i < doc->n_warnings; i++) fprintf(out, "  ! %s\n", doc->warnings[i]);
    }
}

void vg_ctl_view_change(FILE *out, const char *command, uint32_t node, const vg_ctl_doc_t *doc,
                        const vg_ctl_result_t *res)
{
    char b[S_CELL];
    int64_t id = doc->node >= 0 ? doc->node : node;
    fprintf(out, "%s node %" PRId64 ": done, it is now %s; %s shards moved off it\n", command, id,
            doc->state ? doc->state : "?", s_i64(b, doc->moved));
    fprintf(out, "leader     node %u at %s", res->node, res->addr);
    if (res->redirected_from)
        fprintf(out, " (node %u at %s is not the leader and sent us there)", res->redirected_from,
                res->redirected_addr);
    fputc('\n', out);
}

/* ---- MAP ------------------------------------------------------------------ */

static const char *s_state(const vg_ctl_owner_t *o)
{
    return o->state > 0   ? vg_cstate_member_state_name(o->state)
           : o->state < 0 ? "?"
                          : "not a member";
}

void vg_ctl_view_map(FILE *out, const vg_ctl_map_t *map, const vg_ctl_result_t *res)
{
    fprintf(out, "shard map  epoch %" PRIu64 ", %u shards\n", map->map_epoch, map->n_shards);
    s_answered(out, res);
    fputc('\n', out);
    if (!map->n_shards) fprintf(out, "no shard map yet (the cluster has not bootstrapped)\n");
    s_table_t t = {.n_cols = 6, .right = {false, false, false, true, true, true}};
    s_row(&t, (const char *const[]){"OWNER", "STATE", "DATA ADDR", "SHARDS", "SHARE",
                                    "MAX SHARD EPOCH"});
    for (size_t i = 0; i < map->n_owners; i++) {
        const vg_ctl_owner_t *o = &map->owners[i];
        char id[S_CELL], shards[S_CELL], share[S_CELL], epoch[S_CELL];
        snprintf(id, sizeof id, "%u", o->id);
        snprintf(shards, sizeof shards, "%u", o->shards);
        snprintf(share, sizeof share, "%.1f%%",
                 map->n_shards ? 100.0 * o->shards / map->n_shards : 0.0);
        snprintf(epoch, sizeof epoch, "%" PRIu64, o->max_epoch);
        s_row(&t, (const char *const[]){id, s_state(o), *o->data_addr ? o->data_addr : "-", shards,
                                        share, o->shards ? epoch : "-"});
    }
    if (map->unowned) {
        char shards[S_CELL], share[S_CELL];
        snprintf(shards, sizeof shards, "%u", map->unowned);
        snprintf(share, sizeof share, "%.1f%%", 100.0 * map->unowned / map->n_shards);
        s_row(&t, (const char *const[]){"-", "unowned", "-", shards, share, "-"});
    }
    s_print(out, &t);
}

void vg_ctl_view_map_json(vg_jw_t *w, const vg_ctl_map_t *map, const vg_ctl_result_t *res)
{
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "node", res->node);
    vg_jw_kcstr(w, "node_addr", res->addr);
    vg_jw_kint(w, "map_epoch", (int64_t) map->map_epoch);
    vg_jw_kint(w, "shards", map->n_shards);
    vg_jw_kint(w, "unowned", map->unowned);
    vg_jw_key(w, "owners");
    vg_jw_arr_begin(w);
    for (size_t i = 0; i < map->n_owners; i++) {
        const vg_ctl_owner_t *o = &map->owners[i];
        vg_jw_obj_begin(w);
        vg_jw_kint(w, "id", o->id);
        vg_jw_kcstr(w, "state", o->state ? s_state(o) : NULL);
        vg_jw_kcstr(w, "data_addr", *o->data_addr ? o->data_addr : NULL);
        vg_jw_kint(w, "shards", o->shards);
        vg_jw_kint(w, "max_shard_epoch", (int64_t) o->max_epoch);
        vg_jw_obj_end(w);
    }
    vg_jw_arr_end(w);
    vg_jw_obj_end(w);
}
