/* vg_msg_table.h: every wire message type of Vigil, declared once, as data.
 * vg_msg.h derives from it the type enum, names, body structs, and
 * vg_msg.c the encoders, decoders and validators. PROTOCOL.md documents
 * each entry byte by byte. To add a message: add its body field list and
 * one VG_MSG_TABLE line, then a test vector in PROTOCOL.md.
 *
 * Type code ranges: 0x01-0x0f transport/control basics, 0x10-0x3f data
 * path, 0x40-0x7f cluster control plane (membership, shard map, hand-off,
 * rules, models), 0x80-0xff reserved. Codes are never reused.
 *
 * Field kinds: U32, U64, I32, I64 (integers), STR (UTF-8 string), BIN (bytes),
 * TXS (array of transactions), VERDICTS (array of verdicts).
 * F(KIND, name, doc). */
#ifndef VG_MSG_TABLE_H
#define VG_MSG_TABLE_H

#define VG_BODY_PING(F) F(U64, sent_ns, "sender's clock in ns, echoed by PONG")
#define VG_BODY_PONG(F) F(U64, sent_ns, "the PING's sent_ns")
#define VG_BODY_ERROR(F)                   \
    F(I32, code, "vg_err code (negative)") \
    F(STR, message, "human-readable reason")
#define VG_BODY_NOT_OWNER(F)                                    \
    F(U32, shard, "the shard the message was for")              \
    F(U64, epoch, "the receiver's current epoch of that shard") \
    F(U32, owner, "node id the receiver believes owns it, 0 unknown")
#define VG_BODY_TX_BATCH(F)      F(TXS, txs, "transactions, all of envelope.shard")
#define VG_BODY_VERDICT_BATCH(F) F(VERDICTS, verdicts, "one per transaction, in order")

/* Cluster control plane. */
#define VG_BODY_JOIN(F)                                      \
    F(U32, node_id, "the joiner's id; 0 = assign one")       \
    F(STR, data_addr, "host:port of the joiner's transport") \
    F(STR, raft_addr, "host:port of the joiner's raft server")
#define VG_BODY_JOIN_REPLY(F)                                     \
    F(I32, code, "0, or the vg_err (NOT_OWNER: ask the leader)")  \
    F(U32, node_id, "the id the joiner must use")                 \
    F(U32, leader_id, "the raft leader as known here, 0 unknown") \
    F(STR, leader_addr, "the leader's transport host:port")       \
    F(STR, message, "human-readable outcome")
#define VG_BODY_MAP_GET(F) F(U64, known_epoch, "the asker's map epoch; 0 = always send")
#define VG_BODY_MAP(F)                                               \
    F(U64, map_epoch, "number of map changes so far")                \
    F(U32, n_shards, "shard count S")                                \
    F(BIN, owners, "S x 12 bytes: owner u32 BE, shard epoch u64 BE") \
    F(BIN, members, "msgpack array of [id, state, data_addr] of every member")
#define VG_BODY_ADMIN(F)                                                   \
    F(STR, command, "status | nodes | drain | remove | kv.* | ...")        \
    F(U32, node, "the node a drain/remove is about, 0 otherwise")          \
    F(BIN, arg, "the command's arguments: a JSON object (kv.*), or empty")
#define VG_BODY_ADMIN_REPLY(F)       \
    F(I32, code, "0, or the vg_err") \
    F(STR, json, "the result (or error) as JSON text")

#define VG_BODY_HANDOFF(F)                    \
    F(U32, to, "the node the shards move to") \
    F(BIN, shards, "the shards, u32 big-endian each")
#define VG_BODY_HANDOFF_DONE(F)           \
    F(I32, code, "0, or the vg_err")      \
    F(U64, users, "user states streamed") \
    F(U64, seen, "transaction ids streamed")
#define VG_BODY_HANDOFF_DATA(F)         \
    F(U32, last, "1 on the last chunk") \
    F(BIN, kvs, "msgpack array of [kind ('u' user, 's' seen), shard, key, value]")
#define VG_BODY_HANDOFF_ACK(F) F(I32, code, "0, or the vg_err")

/* Anomaly queries: a gateway asks every member, then merges. */
#define VG_BODY_ANOMALY_QUERY(F)                                                \
    F(U32, kind, "0 list, 1 get (by id), 2 stats")                              \
    F(I64, from_ms, "list/stats: inclusive start (event time)")                 \
    F(I64, to_ms, "list/stats: exclusive end")                                  \
    F(STR, user_id, "list: only this user; empty = any")                        \
    F(I32, min_severity, "list: -1 = any, else this vg_severity or worse")      \
    F(STR, detector, "list: a reason with this detector; empty = any")          \
    F(STR, rule, "list: a rule reason with this rule; empty = any")             \
    F(I32, decision, "list: -1 = any, else this vg_decision")                   \
    F(U32, limit, "list: at most this many records, 1..1000")                   \
    F(STR, cursor, "list: continue below this cursor; empty = from the newest") \
    F(STR, id, "get: the anomaly (transaction) id")                             \
    F(I64, bucket_ms, "stats: bucket width")
#define VG_BODY_ANOMALY_REPLY(F)                                                  \
    F(I32, code, "0, or the vg_err")                                              \
    F(BIN, records, "list/get: msgpack array of anomaly records, newest first")   \
    F(STR, next_cursor, "list: where this node stopped; empty = nothing further") \
    F(BIN, buckets, "stats: msgpack array of [start_ms, total, sev x 4, dec x 3]")

/* Rule sets and models: pushed to the leader, fetched by every node. */
#define VG_BODY_BLOB_PUT(F)                                                  \
    F(U32, kind, "0 rule set, 1 model")                                      \
    F(STR, name, "what it is: \"rules\", or \"list.NAME\" for a named list") \
    F(BIN, content, "the bytes (a rule set file, a list, a model artifact)") \
    F(U32, activate, "1 = make it the active version once committed")
#define VG_BODY_BLOB_GET(F)             \
    F(U32, kind, "0 rule set, 1 model") \
    F(STR, name, "the blob's name")     \
    F(U64, version, "the version; 0 = the active one")
#define VG_BODY_BLOB(F)                                    \
    F(I32, code, "0, or the vg_err (NOT_FOUND: not here)") \
    F(U64, version, "the version sent")                    \
    F(BIN, content, "its bytes (their hash is the committed one)")

/* M(NAME, code, lname, BODY) */
#define VG_MSG_TABLE(M)                                          \
    M(PING, 0x01, ping, VG_BODY_PING)                            \
    M(PONG, 0x02, pong, VG_BODY_PONG)                            \
    M(ERROR, 0x03, error, VG_BODY_ERROR)                         \
    M(NOT_OWNER, 0x04, not_owner, VG_BODY_NOT_OWNER)             \
    M(TX_BATCH, 0x10, tx_batch, VG_BODY_TX_BATCH)                \
    M(VERDICT_BATCH, 0x11, verdict_batch, VG_BODY_VERDICT_BATCH) \
    M(JOIN, 0x40, join, VG_BODY_JOIN)                            \
    M(JOIN_REPLY, 0x41, join_reply, VG_BODY_JOIN_REPLY)          \
    M(MAP_GET, 0x42, map_get, VG_BODY_MAP_GET)                   \
    M(MAP, 0x43, map, VG_BODY_MAP)                               \
    M(ADMIN, 0x44, admin, VG_BODY_ADMIN)                         \
    M(ADMIN_REPLY, 0x45, admin_reply, VG_BODY_ADMIN_REPLY)       \
    M(HANDOFF, 0x46, handoff, VG_BODY_HANDOFF)                   \
    M(HANDOFF_DONE, 0x47, handoff_done, VG_BODY_HANDOFF_DONE)    \
    M(HANDOFF_DATA, 0x48, handoff_data, VG_BODY_HANDOFF_DATA)    \
    M(HANDOFF_ACK, 0x49, handoff_ack, VG_BODY_HANDOFF_ACK)       \
    M(ANOMALY_QUERY, 0x4a, anomaly_query, VG_BODY_ANOMALY_QUERY) \
    M(ANOMALY_REPLY, 0x4b, anomaly_reply, VG_BODY_ANOMALY_REPLY) \
    M(BLOB_PUT, 0x4c, blob_put, VG_BODY_BLOB_PUT)                \
    M(BLOB_GET, 0x4d, blob_get, VG_BODY_BLOB_GET)                \
    M(BLOB, 0x4e, blob, VG_BODY_BLOB)

#endif
