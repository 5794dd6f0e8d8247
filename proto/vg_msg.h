/* vg_msg.h: Vigil's wire messages. A message is two ZeroMQ frames after
 * any routing frames: [envelope][body]. The envelope is a 9-element
 * msgpack array ["VG", version, type, flags, corr, src, shard, epoch,
 * trace]; the body is a msgpack array whose fields the message table
 * (vg_msg_table.h) lists. Everything below is derived from that table. */
#ifndef VG_MSG_H
#define VG_MSG_H

#include "vg_arena.h"
#include "vg_msg_table.h"
#include "vg_mp.h"
#include "vg_perr.h"
#include "vg_tx.h"
#include "vg_verdict.h"

#include <stdbool.h>
#include <stdint.h>

#define VG_PROTO_VERSION 1
#define VG_ENV_FIELDS    9
#define VG_ENV_MAX       64          /* bytes: an envelope frame is never longer */
#define VG_FRAME_MAX     (16u << 20) /* bytes: body frames above are rejected unread */

typedef enum {
#define VG__MSG_ENUM(NAME, code, lname, BODY) VG_MSG_##NAME = code,
    VG_MSG_TABLE(VG__MSG_ENUM)
#undef VG__MSG_ENUM
} vg_msg_type;

/* C types of the field kinds. */
typedef struct {
    uint32_t n;
    vg_tx_t *items;
} vg_tx_list_t;

typedef struct {
    uint32_t n;
    vg_verdict_t *items;
} vg_verdict_list_t;

#define VG__CTYPE_U32      uint32_t
#define VG__CTYPE_U64      uint64_t
#define VG__CTYPE_I32      int32_t
#define VG__CTYPE_I64      int64_t
#define VG__CTYPE_STR      vg_str_t
#define VG__CTYPE_BIN      vg_str_t
#define VG__CTYPE_TXS      vg_tx_list_t
#define VG__CTYPE_VERDICTS vg_verdict_list_t

/* One struct per message body: vg_body_<lname>_t. */
#define VG__FIELD_DECL(KIND, name, doc) VG__CTYPE_##KIND name;
#define VG__BODY_STRUCT(NAME, code, lname, BODY) \
    typedef struct {                             \
        BODY(VG__FIELD_DECL)                     \
    } vg_body_##lname##_t;
VG_MSG_TABLE(VG__BODY_STRUCT)
#undef VG__BODY_STRUCT

typedef struct {
    uint8_t version;
    uint8_t type;   /* vg_msg_type */
    uint32_t flags; /* reserved, 0; receivers ignore unknown bits */
    uint64_t corr;  /* correlation id: a reply carries its request's */
    uint32_t src;   /* sending node id (0 = a gateway/client) */
    uint32_t shard;
    uint64_t epoch; /* shard-map epoch the sender routed with */
    uint64_t trace; /* trace id, carried end to end */
} vg_env_t;

typedef struct {
    vg_env_t env;
    union {
#define VG__BODY_MEMBER(NAME, code, lname, BODY) vg_body_##lname##_t lname;
        VG_MSG_TABLE(VG__BODY_MEMBER)
#undef VG__BODY_MEMBER
    } body;
} vg_msg_t;

/* "PING", "TX_BATCH", ...; NULL for an unknown type. */
const char *vg_msg_type_name(int type);
bool vg_msg_type_known(int type);

/* Appends the envelope to w. */
void vg_env_encode(const vg_env_t *env, vg_mpw_t *w);
/* Decodes an envelope frame (must be the whole frame). Returns 0,
 * VG_ERR_TOO_LARGE, VG_ERR_PARSE, or VG_ERR_PROTO (bad magic/version). */
int vg_env_decode(const void *buf, size_t len, vg_env_t *env, vg_perr_t *err);

/* Appends the body of m (of type m->env.type) to w. Returns 0 or
 * VG_ERR_UNSUPPORTED for an unknown type. */
int vg_msg_body_encode(const vg_msg_t *m, vg_mpw_t *w);

/* Decodes the body frame of a message whose envelope is m->env (decode
 * the envelope first). Zero-copy: strings point into buf, which must
 * outlive m; arrays (transactions, verdicts) are allocated in arena.
 * Validates every field (vg_msg_validate). Extra trailing fields are
 * skipped (forward compatibility). Returns 0 or a vg_err with err naming
 * the field, e.g. "txs[3].amount". */
int vg_msg_body_decode(const void *buf, size_t len, vg_msg_t *m, vg_arena_t *arena, vg_perr_t *err);

/* Checks the semantic rules of every field of m (string UTF-8, list caps,
 * each transaction's schema). */
int vg_msg_validate(const vg_msg_t *m, vg_perr_t *err);

#endif
