/* vg_ctl.c: vigilctl's client side: dial candidate nodes on one client
 * transport, use the first that answers PING, send ADMIN / MAP_GET, follow
 * one NOT_OWNER redirect to the leader, and read the answers (the ADMIN
 * JSON leniently, the MAP's owner and member bins strictly). */
#include "vg_ctl.h"

#include "vg_cstate.h"
#include "vg_err.h"
#include "vg_json.h"
#include "vg_mem.h"
#include "vg_msg.h"
#include "vg_time.h"
#include "vg_transport.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_POLL_US 2000 /* how often the reach loop looks at the candidates */

struct vg_ctl {
    vg_transport_t *t;
    int reach_ms;
    size_t n; /* dialled candidates */
    char addrs[VG_CTL_MAX_NODES][VG_CTL_ADDR_MAX];
    uint32_t peers[VG_CTL_MAX_NODES]; /* their peer ids; 0 = disconnected */
    uint32_t peer;                    /* the one in use; 0 = none yet */
    char addr[VG_CTL_ADDR_MAX];
};

/* ---- addresses ------------------------------------------------------------ */

static bool s_port_valid(const char *p)
{
    if (!*p || strlen(p) > 5) return false;
    for (const char *c = p; *c; c++)
        if (!isdigit((unsigned char) *c)) return false;
    long v = strtol(p, NULL, 10);
    return v >= 1 && v <= 65535;
}

bool vg_ctl_addr_valid(const char *addr, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    size_t len = addr ? strlen(addr) : 0;
    if (!len) return *why = "empty address", false;
    if (len >= VG_CTL_ADDR_MAX - sizeof "tcp://") return *why = "address too long", false;
    const char *colon;
    if (addr[0] == '[') { /* [v6]:port */
        const char *close = strchr(addr, ']');
        if (!close || close == addr + 1) return *why = "expected [IPv6]:PORT", false;
        for (const char *c = addr + 1; c < close; c++)
            if (!isxdigit((unsigned char) *c) && *c != ':' && *c != '.')
                return *why = "bad character in IPv6 address", false;
        if (close[1] != ':') return *why = "missing :PORT", false;
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon) return *why = "missing :PORT", false;
        if (colon == addr) return *why = "missing HOST", false;
        for (const char *c = addr; c < colon; c++)
            if (!isalnum((unsigned char) *c) && *c != '.' && *c != '-' && *c != '_')
                return *why = "bad character in host name", false;
    }
    if (!s_port_valid(colon + 1)) return *why = "PORT must be a number from 1 to 65535", false;
    return true;
}

/* ---- lifecycle ------------------------------------------------------------ */

static int s_dial(vg_ctl_t *ctl, size_t i, uint32_t peer, const char *addr)
{
    char ep[VG_CTL_ADDR_MAX + 8];
    snprintf(ep, sizeof ep, "tcp://%s", addr);
    int rc = vg_transport_connect(ctl->t, peer, ep);
    if (rc) return rc;
    snprintf(ctl->addrs[i], sizeof ctl->addrs[i], "%s", addr);
    ctl->peers[i] = peer;
    return 0;
}

int vg_ctl_new(const vg_ctl_config_t *cfg, vg_ctl_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!cfg || !cfg->n_addrs || cfg->n_addrs > VG_CTL_MAX_NODES || cfg->reach_timeout_ms <= 0) {
        snprintf(errbuf, errlen, "between 1 and %d node addresses and a timeout > 0 are needed",
                 VG_CTL_MAX_NODES);
        return VG_ERR_INVALID;
    }
    for (size_t i = 0; i < cfg->n_addrs; i++) {
        const char *why;
        if (!vg_ctl_addr_valid(cfg->addrs[i], &why)) {
            snprintf(errbuf, errlen, "bad node address '%s': %s (expected HOST:PORT)",
                     cfg->addrs[i] ? cfg->addrs[i] : "", why);
            return VG_ERR_INVALID;
        }
    }
    vg_ctl_t *ctl = VG_NEW(vg_ctl_t);
    ctl->reach_ms = cfg->reach_timeout_ms;
    vg_transport_config_t tc = {.self_id = vg_transport_random_client_id(), .heartbeat_ms = 200};
    int rc = vg_transport_new(&tc, &ctl->t);
    if (rc) {
        snprintf(errbuf, errlen, "cannot start the transport: %s", vg_strerror(rc));
        free(ctl);
        return rc;
    }
    for (size_t i = 0; i < cfg->n_addrs; i++) {
        /* one connection per node: a second DEALER to the same ROUTER would
         * take over our routing id, and the replies with it */
        bool dup = false;
        for (size_t j = 0; j < ctl->n && !dup; j++) dup = !strcmp(ctl->addrs[j], cfg->addrs[i]);
        if (dup) continue;
        rc = s_dial(ctl, ctl->n, VG_CTL_PROVISIONAL_ID - (uint32_t) ctl->n, cfg->addrs[i]);
        if (rc) {
            snprintf(errbuf, errlen, "cannot dial '%s': %s", cfg->addrs[i], vg_strerror(rc));
            vg_ctl_destroy(&ctl);
            return rc == VG_ERR_EXISTS ? VG_ERR_INVALID : rc;
        }
        ctl->n++;
    }
    *out = ctl;
    return 0;
}

void vg_ctl_destroy(vg_ctl_t **ctl_p)
{
    if (!ctl_p || !*ctl_p) return;
    vg_transport_destroy(&(*ctl_p)->t);
    free(*ctl_p);
    *ctl_p = NULL;
}

void vg_ctl_result_fini(vg_ctl_result_t *res)
{
    free(res->json);
    res->json = NULL;
    res->json_len = 0;
}

/* ---- reaching a node ------------------------------------------------------ */

/* "a, b, c and 4 more" into buf. */
static void s_addr_list(const vg_ctl_t *ctl, char *buf, size_t len)
{
    size_t off = 0, shown = 0;
    buf[0] = 0;
    for (size_t i = 0; i < ctl->n && off < len; i++) {
        if (!ctl->peers[i]) continue;
        if (shown == 3) {
            snprintf(buf + off, len - off, " and %zu more", ctl->n - i);
            return;
        }
        int w = snprintf(buf + off, len - off, "%s%s", shown ? ", " : "", ctl->addrs[i]);
        off += w > 0 ? (size_t) w : 0;
        shown++;
    }
}

/* Picks the first candidate that is UP (answered our PING). */
static int s_reach(vg_ctl_t *ctl, vg_ctl_result_t *res)
{
    if (ctl->peer) return 0;
    uint64_t deadline = vg_now_ns() + (uint64_t) ctl->reach_ms * 1000000u;
    for (;;) {
        for (size_t i = 0; i < ctl->n; i++) {
            if (ctl->peers[i] && vg_transport_peer_alive(ctl->t, ctl->peers[i])) {
                ctl->peer = ctl->peers[i];
                snprintf(ctl->addr, sizeof ctl->addr, "%s", ctl->addrs[i]);
                snprintf(res->addr, sizeof res->addr, "%s", ctl->addr);
                return 0;
            }
        }
        if (vg_now_ns() >= deadline) break;
        usleep(S_POLL_US);
    }
    char list[512];
    s_addr_list(ctl, list, sizeof list);
    snprintf(res->message, sizeof res->message, "no node reachable at %s within %d ms", list,
             ctl->reach_ms);
    return VG_ERR_TIMEOUT;
}

/* Forgets every candidate and dials addr alone, as peer id (the leader's,
 * or the provisional one when unknown). */
static int s_retarget(vg_ctl_t *ctl, int64_t id, const char *addr, vg_ctl_result_t *res)
{
    for (size_t i = 0; i < ctl->n; i++)
        if (ctl->peers[i]) vg_transport_disconnect(ctl->t, ctl->peers[i]);
    memset(ctl->peers, 0, sizeof ctl->peers);
    ctl->n = 0;
    ctl->peer = 0;
    uint32_t peer = id >= 1 && id < VG_CTL_PROVISIONAL_ID - VG_CTL_MAX_NODES
                        ? (uint32_t) id
                        : VG_CTL_PROVISIONAL_ID;
    int rc = s_dial(ctl, 0, peer, addr);
    if (rc) {
        snprintf(res->message, sizeof res->message, "cannot dial the leader at '%s': %s", addr,
                 vg_strerror(rc));
        return rc;
    }
    ctl->n = 1;
    return 0;
}

/* One request to the node in use; *reply is owned by the caller. */
static int s_exchange(vg_ctl_t *ctl, vg_msg_t *m, int timeout_ms, vg_ctl_result_t *res,
                      vg_transport_msg_t **reply)
{
    m->env.version = VG_PROTO_VERSION;
    vg_mpw_t w;
    vg_mpw_init(&w);
    int rc = vg_msg_body_encode(m, &w);
    if (!rc) rc = w.err;
    if (!rc) rc = vg_transport_request(ctl->t, ctl->peer, &m->env, w.buf, w.len, timeout_ms, reply);
    vg_mpw_fini(&w);
    switch (rc) {
    case 0: return 0;
    case VG_ERR_TIMEOUT:
        snprintf(res->message, sizeof res->message, "the node at %s did not answer within %d ms",
                 ctl->addr, timeout_ms);
        return VG_ERR_TIMEOUT;
    case VG_ERR_UNREACHABLE:
    case VG_ERR_CLOSED:
        snprintf(res->message, sizeof res->message,
                 "the node at %s went silent before answering (%s)", ctl->addr, vg_strerror(rc));
        return VG_ERR_TIMEOUT;
    default:
        snprintf(res->message, sizeof res->message, "cannot send to the node at %s: %s", ctl->addr,
                 vg_strerror(rc));
        return rc;
    }
}

/* Decodes reply's body into *m (strings point into reply). */
static int s_decode(const vg_transport_msg_t *reply, vg_msg_t *m, vg_arena_t *arena,
                    vg_ctl_result_t *res)
{
    m->env = reply->env;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    int rc = vg_msg_body_decode(reply->body, reply->body_len, m, arena, &perr);
    if (rc) {
        char why[300];
        snprintf(res->message, sizeof res->message, "node %u sent a malformed %s: %s",
                 reply->env.src, vg_msg_type_name(reply->env.type),
                 vg_perr_str(&perr, why, sizeof why));
        return VG_ERR_PROTO;
    }
    return 0;
}

/* An ERROR reply: its code and message become the answer. */
static void s_error_answer(const vg_msg_t *m, vg_ctl_result_t *res)
{
    res->code = m->body.error.code ? m->body.error.code : VG_ERR_INTERNAL;
    snprintf(res->message, sizeof res->message, "%.*s", (int) m->body.error.message.len,
             m->body.error.message.ptr ? m->body.error.message.ptr : "");
}

static int s_unexpected(const vg_transport_msg_t *reply, const char *wanted, vg_ctl_result_t *res)
{
    const char *name = vg_msg_type_name(reply->env.type);
    snprintf(res->message, sizeof res->message, "node %u answered %s (0x%02x), expected %s",
             reply->env.src, name ? name : "an unknown type", reply->env.type, wanted);
    return VG_ERR_PROTO;
}

/* ---- ADMIN ---------------------------------------------------------------- */

/* Reads an ADMIN_REPLY (or ERROR) into res; for a refusal, *doc gets the
 * error object (leader hint included) when it parses. */
static int s_admin_answer(const vg_transport_msg_t *reply, vg_arena_t *arena, vg_ctl_doc_t *doc,
                          vg_ctl_result_t *res)
{
    vg_msg_t m;
    memset(doc, 0, sizeof *doc);
    doc->leader = -1;
    if (reply->env.type != VG_MSG_ADMIN_REPLY && reply->env.type != VG_MSG_ERROR)
        return s_unexpected(reply, "ADMIN_REPLY", res);
    int rc = s_decode(reply, &m, arena, res);
    if (rc) return rc;
    if (reply->env.type == VG_MSG_ERROR) {
        s_error_answer(&m, res);
        return 0;
    }
    res->code = m.body.admin_reply.code;
    vg_str_t json = m.body.admin_reply.json;
    res->json = vg_strndup(json.ptr ? json.ptr : "", json.len);
    res->json_len = json.len;
    if (!res->code) return 0;
    char why[200];
    if (vg_ctl_doc_parse(res->json, res->json_len, arena, doc, why, sizeof why) == 0 && doc->error)
        snprintf(res->message, sizeof res->message, "%s", doc->error);
    else
        snprintf(res->message, sizeof res->message, "%s", vg_strerror(res->code));
    return 0;
}

/* Sends m (answered ADMIN_REPLY) to the node reached, following one
 * NOT_OWNER redirect to the leader it names. */
static int s_admin_request(vg_ctl_t *ctl, const vg_msg_t *req, int reply_timeout_ms,
                           vg_ctl_result_t *res)
{
    memset(res, 0, sizeof *res);
    vg_arena_t arena = VG_ARENA_INIT;
    int rc;
    for (int attempt = 0;; attempt++) {
        rc = s_reach(ctl, res);
        if (rc) break;
        vg_msg_t m = *req;
        vg_transport_msg_t *reply = NULL;
        rc = s_exchange(ctl, &m, reply_timeout_ms, res, &reply);
        if (rc) break;
        vg_ctl_doc_t doc;
        res->node = reply->env.src;
        rc = s_admin_answer(reply, &arena, &doc, res);
        vg_transport_msg_destroy(&reply);
        if (rc || res->code != VG_ERR_NOT_OWNER) break;
        if (attempt > 0) {
            size_t l = strlen(res->message);
            snprintf(res->message + l, sizeof res->message - l,
                     "; node %u at %s had named it the leader (election under way? retry)",
                     res->redirected_from, res->redirected_addr);
            break;
        }
        if (!doc.leader_addr || !*doc.leader_addr) {
            snprintf(res->message, sizeof res->message,
                     "node %u is not the leader and knows of none (election under way? retry)",
                     res->node);
            break;
        }
        if (!vg_ctl_addr_valid(doc.leader_addr, NULL) || !strcmp(doc.leader_addr, res->addr)) {
            snprintf(res->message, sizeof res->message,
                     "node %u is not the leader and names a bad leader address '%s'", res->node,
                     doc.leader_addr);
            break;
        }
        res->redirected_from = res->node;
        snprintf(res->redirected_addr, sizeof res->redirected_addr, "%s", res->addr);
        vg_ctl_result_fini(res);
        res->code = 0;
        res->message[0] = 0;
        rc = s_retarget(ctl, doc.leader, doc.leader_addr, res);
        if (rc) break;
    }
    vg_arena_fini(&arena);
    return rc;
}

int vg_ctl_admin(vg_ctl_t *ctl, const char *command, uint32_t node, int reply_timeout_ms,
                 vg_ctl_result_t *res)
{
    return vg_ctl_admin_arg(ctl, command, node, NULL, 0, reply_timeout_ms, res);
}

int vg_ctl_admin_arg(vg_ctl_t *ctl, const char *command, uint32_t node, const char *arg,
                     size_t arg_len, int reply_timeout_ms, vg_ctl_result_t *res)
{
    VG_ASSERT(ctl && command && res && arg_len <= UINT32_MAX);
    vg_msg_t m = {.env = {.type = VG_MSG_ADMIN}};
    m.body.admin = (vg_body_admin_t){vg_str_c(command), node, {arg ? arg : "", (uint32_t) arg_len}};
    return s_admin_request(ctl, &m, reply_timeout_ms, res);
}

int vg_ctl_blob_put(vg_ctl_t *ctl, uint32_t kind, const char *name, const void *content, size_t len,
                    bool activate, int reply_timeout_ms, vg_ctl_result_t *res)
{
    VG_ASSERT(ctl && name && res && len <= UINT32_MAX);
    vg_msg_t m = {.env = {.type = VG_MSG_BLOB_PUT}};
    m.body.blob_put = (vg_body_blob_put_t){
        kind, vg_str_c(name), {content ? content : "", (uint32_t) len}, activate ? 1u : 0u};
    return s_admin_request(ctl, &m, reply_timeout_ms, res);
}

/* ---- MAP ------------------------------------------------------------------ */

typedef struct {
    uint32_t owner;
    uint64_t epoch;
} s_slot_t;

static int s_slot_cmp(const void *a, const void *b)
{
    const s_slot_t *x = a, *y = b;
    return x->owner < y->owner ? -1 : x->owner > y->owner;
}

static int s_owner_cmp(const void *a, const void *b)
{
    const vg_ctl_owner_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int s_state_from(vg_mpr_t *r)
{
    if (vg_mpr_peek(r) == VG_MP_STR) {
        vg_str_t s;
        vg_mpr_str(r, &s);
        for (int st = VG_MEMBER_JOINING; st <= VG_MEMBER_REMOVED; st++)
            if (vg_str_eq_c(s, vg_cstate_member_state_name(st))) return st;
        return 0;
    }
    uint32_t v = 0;
    vg_mpr_u32(r, &v);
    return v <= VG_MEMBER_REMOVED ? (int) v : 0;
}

/* Members bin -> owners[] (one per distinct id, shards still 0). */
static int s_members(const void *buf, size_t len, vg_arena_t *arena, vg_ctl_map_t *map,
                     size_t extra, char *why, size_t whylen)
{
    vg_mpr_t r;
    vg_mpr_init(&r, buf, len);
    uint32_t n = 0;
    if (len) vg_mpr_array(&r, &n); /* an empty bin is an empty list */
    map->owners = vg_arena_calloc(arena, (size_t) n + extra + 1, sizeof *map->owners);
    for (uint32_t i = 0; i < n && !r.err; i++) {
        uint32_t k = 0, id = 0;
        vg_str_t addr = VG_STR_NULL;
        vg_mpr_array(&r, &k);
        if (!r.err && k < 3) vg_mpr_fail(&r, VG_ERR_PARSE, "member needs [id, state, data_addr]");
        vg_mpr_u32(&r, &id);
        int state = s_state_from(&r);
        if (vg_mpr_peek(&r) == VG_MP_NIL)
            vg_mpr_nil(&r);
        else
            vg_mpr_str(&r, &addr);
        for (uint32_t j = 3; j < k; j++) vg_mpr_skip(&r);
        if (r.err) {
            snprintf(why, whylen, "members[%u]: %s", i, r.reason ? r.reason : "malformed");
            return VG_ERR_PARSE;
        }
        vg_ctl_owner_t *o = &map->owners[map->n_owners++];
        o->id = id;
        o->state = state ? state : -1;
        o->data_addr = vg_arena_strndup(arena, addr.ptr ? addr.ptr : "", addr.len);
    }
    if (r.err || vg_mpr_remaining(&r)) {
        snprintf(why, whylen, "members: %s", r.reason ? r.reason : "trailing bytes");
        return VG_ERR_PARSE;
    }
    return 0;
}

static vg_ctl_owner_t *s_find_member(vg_ctl_map_t *map, size_t n_members, uint32_t id)
{
    vg_ctl_owner_t key = {.id = id};
    return bsearch(&key, map->owners, n_members, sizeof key, s_owner_cmp);
}

int vg_ctl_map_summarise(uint64_t map_epoch, uint32_t n_shards, const void *owners,
                         size_t owners_len, const void *members, size_t members_len,
                         vg_arena_t *arena, vg_ctl_map_t *map, char *why, size_t whylen)
{
    memset(map, 0, sizeof *map);
    map->map_epoch = map_epoch;
    map->n_shards = n_shards;
    if (owners_len != (size_t) n_shards * 12) {
        snprintf(why, whylen, "owners: %zu bytes for %u shards (expected %zu)", owners_len,
                 n_shards, (size_t) n_shards * 12);
        return VG_ERR_PARSE;
    }
    s_slot_t *slots = vg_arena_alloc(arena, ((size_t) n_shards + 1) * sizeof *slots);
    const uint8_t *p = owners;
    for (uint32_t s = 0; s < n_shards; s++, p += 12) {
        slots[s].owner =
            (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
        slots[s].epoch = 0;
        for (int i = 0; i < 8; i++) slots[s].epoch = slots[s].epoch << 8 | p[4 + i];
    }
    qsort(slots, n_shards, sizeof *slots, s_slot_cmp);
    size_t distinct = 0;
    for (uint32_t s = 0; s < n_shards; s++)
        if (slots[s].owner && (s == 0 || slots[s].owner != slots[s - 1].owner)) distinct++;
    int rc = s_members(members, members_len, arena, map, distinct, why, whylen);
    if (rc) return rc;
    /* members by id, duplicates dropped (the first wins) */
    qsort(map->owners, map->n_owners, sizeof *map->owners, s_owner_cmp);
    size_t n_members = 0;
    for (size_t i = 0; i < map->n_owners; i++)
        if (!n_members || map->owners[i].id != map->owners[n_members - 1].id)
            map->owners[n_members++] = map->owners[i];
    map->n_owners = n_members;
    for (uint32_t s = 0; s < n_shards;) {
        uint32_t e = s;
        uint64_t max_epoch = 0;
        for (; e < n_shards && slots[e].owner == slots[s].owner; e++)
            if (slots[e].epoch > max_epoch) max_epoch = slots[e].epoch;
        if (!slots[s].owner) {
            map->unowned = e - s;
        } else {
            vg_ctl_owner_t *o = s_find_member(map, n_members, slots[s].owner);
            if (!o) { /* an owner the member list does not know */
                o = &map->owners[map->n_owners++];
                *o = (vg_ctl_owner_t){.id = slots[s].owner, .state = 0, .data_addr = ""};
            }
            o->shards = e - s;
            o->max_epoch = max_epoch;
        }
        s = e;
    }
    qsort(map->owners, map->n_owners, sizeof *map->owners, s_owner_cmp);
    return 0;
}

int vg_ctl_map(vg_ctl_t *ctl, int reply_timeout_ms, vg_arena_t *arena, vg_ctl_result_t *res,
               vg_ctl_map_t *map)
{
    VG_ASSERT(ctl && arena && res && map);
    memset(res, 0, sizeof *res);
    memset(map, 0, sizeof *map);
    int rc = s_reach(ctl, res);
    if (rc) return rc;
    vg_msg_t m = {.env = {.type = VG_MSG_MAP_GET}};
    m.body.map_get.known_epoch = 0;
    vg_transport_msg_t *reply = NULL;
    rc = s_exchange(ctl, &m, reply_timeout_ms, res, &reply);
    if (rc) return rc;
    res->node = reply->env.src;
    if (reply->env.type != VG_MSG_MAP && reply->env.type != VG_MSG_ERROR) {
        rc = s_unexpected(reply, "MAP", res);
    } else if (!(rc = s_decode(reply, &m, arena, res))) {
        if (reply->env.type == VG_MSG_ERROR) {
            s_error_answer(&m, res);
        } else {
            const vg_body_map_t *b = &m.body.map;
            char why[200];
            if (vg_ctl_map_summarise(b->map_epoch, b->n_shards, b->owners.ptr, b->owners.len,
                                     b->members.ptr, b->members.len, arena, map, why, sizeof why)) {
                snprintf(res->message, sizeof res->message, "node %u sent a malformed MAP: %s",
                         res->node, why);
                rc = VG_ERR_PROTO;
            }
        }
    }
    vg_transport_msg_destroy(&reply);
    return rc;
}

/* ---- ADMIN JSON ----------------------------------------------------------- */

typedef struct {
    vg_jr_t r;
    vg_arena_t *arena;
    char field[96]; /* where we are, for errors */
} s_jp_t;

static void s_at(s_jp_t *p, const char *fmt, const char *key, long idx)
{
    if (idx >= 0)
        snprintf(p->field, sizeof p->field, fmt, idx, key);
    else
        snprintf(p->field, sizeof p->field, fmt, key);
}

/* An integer or null (-1). */
static void s_jint(s_jp_t *p, int64_t *out)
{
    if (vg_jr_null(&p->r)) {
        *out = -1;
        return;
    }
    vg_jnum_t n;
    if (vg_jr_peek(&p->r) != '-' && !isdigit((unsigned char) vg_jr_peek(&p->r))) {
        vg_jr_fail(&p->r, VG_ERR_PARSE, "expected an integer");
        return;
    }
    if (vg_jr_number(&p->r, &n)) return;
    if (!n.is_int) {
        vg_jr_fail(&p->r, VG_ERR_PARSE, "expected an integer");
        return;
    }
    *out = n.i;
}

/* A string (copied, NUL-terminated) or null (NULL). */
static void s_jstr(s_jp_t *p, const char **out)
{
    if (vg_jr_null(&p->r)) {
        *out = NULL;
        return;
    }
    vg_str_t s;
    if (vg_jr_string(&p->r, &s)) return;
    *out = vg_arena_strndup(p->arena, s.ptr, s.len);
}

/* A boolean (1/0) or null (-1). */
static void s_jbool(s_jp_t *p, int *out)
{
    if (vg_jr_null(&p->r)) {
        *out = -1;
        return;
    }
    bool b;
    if (!vg_jr_bool(&p->r, &b)) *out = b;
}

/* Makes room for one more element of an arena array. */
static void *s_grow(vg_arena_t *arena, void *items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) return items;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *bigger = vg_arena_alloc(arena, ncap * size);
    if (n) memcpy(bigger, items, n * size);
    *cap = ncap;
    return bigger;
}

/* A scalar field of a JSON object, read into the struct at base + off. */
typedef enum { S_INT, S_STR, S_BOOL } s_kind_t;
typedef struct {
    const char *name;
    s_kind_t kind;
    size_t off;
} s_field_t;

static const s_field_t s_member_fields[] = {
    {"id", S_INT, offsetof(vg_ctl_member_t, id)},
    {"shards", S_INT, offsetof(vg_ctl_member_t, shards)},
    {"voter", S_BOOL, offsetof(vg_ctl_member_t, voter)},
    {"alive", S_BOOL, offsetof(vg_ctl_member_t, alive)},
    {"state", S_STR, offsetof(vg_ctl_member_t, state)},
    {"data_addr", S_STR, offsetof(vg_ctl_member_t, data_addr)},
    {"raft_addr", S_STR, offsetof(vg_ctl_member_t, raft_addr)},
};

static const s_field_t s_doc_fields[] = {
    {"node", S_INT, offsetof(vg_ctl_doc_t, node)},
    {"leader", S_INT, offsetof(vg_ctl_doc_t, leader)},
    {"term", S_INT, offsetof(vg_ctl_doc_t, term)},
    {"map_epoch", S_INT, offsetof(vg_ctl_doc_t, map_epoch)},
    {"shards", S_INT, offsetof(vg_ctl_doc_t, shards)},
    {"moved", S_INT, offsetof(vg_ctl_doc_t, moved)},
    {"leader_addr", S_STR, offsetof(vg_ctl_doc_t, leader_addr)},
    {"state", S_STR, offsetof(vg_ctl_doc_t, state)},
    {"error", S_STR, offsetof(vg_ctl_doc_t, error)},
    {"prometheus", S_STR, offsetof(vg_ctl_doc_t, prometheus)},
};

/* Reads key's value if the table has it; false when it does not. */
static bool s_field(s_jp_t *p, vg_str_t key, const s_field_t *f, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        if (!vg_str_eq_c(key, f[i].name)) continue;
        void *at = (char *) base + f[i].off;
        if (f[i].kind == S_INT)
            s_jint(p, at);
        else if (f[i].kind == S_STR)
            s_jstr(p, at);
        else
            s_jbool(p, at);
        return true;
    }
    return false;
}

static void s_member(s_jp_t *p, vg_ctl_member_t *m, long idx)
{
    *m = (vg_ctl_member_t){.id = -1, .shards = -1, .voter = -1, .alive = -1};
    bool first = true;
    vg_str_t key;
    if (vg_jr_obj_begin(&p->r)) return;
    while (vg_jr_obj_next(&p->r, &first, &key) == 1) {
        char k[32];
        snprintf(k, sizeof k, "%.*s", (int) VG_MIN(key.len, 31u), key.ptr);
        s_at(p, "members[%ld].%s", k, idx);
        if (!s_field(p, key, s_member_fields, VG_ARRAY_LEN(s_member_fields), m)) vg_jr_skip(&p->r);
    }
}

static void s_members_json(s_jp_t *p, vg_ctl_doc_t *doc)
{
    size_t cap = 0;
    bool first = true;
    doc->has_members = true;
    if (vg_jr_null(&p->r) || vg_jr_arr_begin(&p->r)) return;
    while (vg_jr_arr_next(&p->r, &first) == 1) {
        doc->members = s_grow(p->arena, doc->members, doc->n_members, &cap, sizeof *doc->members);
        s_member(p, &doc->members[doc->n_members], (long) doc->n_members);
        doc->n_members++;
    }
}

static void s_warnings(s_jp_t *p, vg_ctl_doc_t *doc)
{
    size_t cap = 0;
    bool first = true;
    if (vg_jr_null(&p->r) || vg_jr_arr_begin(&p->r)) return;
    while (vg_jr_arr_next(&p->r, &first) == 1) {
        s_at(p, "warnings[%ld]%s", "", (long) doc->n_warnings);
        doc->warnings =
            s_grow(p->arena, doc->warnings, doc->n_warnings, &cap, sizeof *doc->warnings);
        s_jstr(p, &doc->warnings[doc->n_warnings]);
        if (doc->warnings[doc->n_warnings]) doc->n_warnings++;
    }
}

static const s_field_t s_kafka_part_fields[] = {
    {"topic", S_STR, offsetof(vg_ctl_kafka_part_t, topic)},
    {"partition", S_INT, offsetof(vg_ctl_kafka_part_t, partition)},
    {"position", S_INT, offsetof(vg_ctl_kafka_part_t, position)},
    {"committed", S_INT, offsetof(vg_ctl_kafka_part_t, committed)},
    {"high", S_INT, offsetof(vg_ctl_kafka_part_t, high)},
    {"lag", S_INT, offsetof(vg_ctl_kafka_part_t, lag)},
    {"paused", S_BOOL, offsetof(vg_ctl_kafka_part_t, paused)},
};

static const s_field_t s_kafka_fields[] = {
    {"group", S_STR, offsetof(vg_ctl_doc_t, kafka_group)},
    {"lag", S_INT, offsetof(vg_ctl_doc_t, kafka_lag)},
    {"consumed", S_INT, offsetof(vg_ctl_doc_t, kafka_consumed)},
    {"dead_letters", S_INT, offsetof(vg_ctl_doc_t, kafka_dead_letters)},
    {"paused", S_BOOL, offsetof(vg_ctl_doc_t, kafka_paused)},
};

/* "kafka": {"group", "lag", ..., "partitions": [{...}]} of a node running
 * the Kafka bridge. */
static void s_kafka_json(s_jp_t *p, vg_ctl_doc_t *doc)
{
    bool first = true, pfirst;
    vg_str_t key;
    size_t cap = 0;
    if (vg_jr_null(&p->r) || vg_jr_obj_begin(&p->r)) return;
    doc->has_kafka = true;
    while (vg_jr_obj_next(&p->r, &first, &key) == 1) {
        if (s_field(p, key, s_kafka_fields, VG_ARRAY_LEN(s_kafka_fields), doc)) continue;
        if (!vg_str_eq_c(key, "partitions") || vg_jr_arr_begin(&p->r)) {
            vg_jr_skip(&p->r);
            continue;
        }
        for (pfirst = true; vg_jr_arr_next(&p->r, &pfirst) == 1;) {
            doc->kafka_parts = s_grow(p->arena, doc->kafka_parts, doc->n_kafka_parts, &cap,
                                      sizeof *doc->kafka_parts);
            vg_ctl_kafka_part_t *kp = &doc->kafka_parts[doc->n_kafka_parts++];
            *kp = (vg_ctl_kafka_part_t){.partition = -1,
                                        .position = -1,
                                        .committed = -1,
                                        .high = -1,
                                        .lag = -1,
                                        .paused = -1};
            bool ofirst = true;
            if (vg_jr_obj_begin(&p->r)) return;
            while (vg_jr_obj_next(&p->r, &ofirst, &key) == 1)
                if (!s_field(p, key, s_kafka_part_fields, VG_ARRAY_LEN(s_kafka_part_fields), kp))
                    vg_jr_skip(&p->r);
        }
    }
}

static void s_top_key(s_jp_t *p, vg_str_t key, vg_ctl_doc_t *doc)
{
    char k[32];
    snprintf(k, sizeof k, "%.*s", (int) VG_MIN(key.len, 31u), key.ptr);
    s_at(p, "%s", k, -1);
    if (s_field(p, key, s_doc_fields, VG_ARRAY_LEN(s_doc_fields), doc)) return;
    if (vg_str_eq_c(key, "members"))
        s_members_json(p, doc);
    else if (vg_str_eq_c(key, "warnings"))
        s_warnings(p, doc);
    else if (vg_str_eq_c(key, "kafka"))
        s_kafka_json(p, doc);
    else
        vg_jr_skip(&p->r);
}

int vg_ctl_doc_parse(const char *json, size_t len, vg_arena_t *arena, vg_ctl_doc_t *doc, char *why,
                     size_t whylen)
{
    memset(doc, 0, sizeof *doc);
    doc->node = doc->leader = doc->term = doc->map_epoch = doc->shards = doc->moved = -1;
    doc->kafka_lag = doc->kafka_consumed = doc->kafka_dead_letters = -1;
    doc->kafka_paused = -1;
    s_jp_t p = {.arena = arena};
    vg_jr_init(&p.r, json ? json : "", json ? len : 0, arena);
    bool first = true;
    vg_str_t key;
    if (!vg_jr_obj_begin(&p.r)) {
        while (vg_jr_obj_next(&p.r, &first, &key) == 1) s_top_key(&p, key, doc);
        if (!p.r.err && !vg_jr_at_end(&p.r)) {
            p.field[0] = 0;
            vg_jr_fail(&p.r, VG_ERR_PARSE, "trailing characters after the object");
        }
    }
    if (!p.r.err) return 0;
    snprintf(why, whylen, "%s%s%s (byte %zu)", p.field, p.field[0] ? ": " : "",
             p.r.reason ? p.r.reason : "malformed JSON", p.r.err_off);
    return p.r.err;
}
