/* proto_samples.h: the sample messages behind PROTOCOL.md's test vectors,
 * shared by the vector printer and the tests. */
#ifndef PROTO_SAMPLES_H
#define PROTO_SAMPLES_H

#include "vg_msg.h"

#include <math.h>
#include <string.h>

static inline void sample_tx_min(vg_tx_t *tx)
{
    vg_tx_init(tx);
    tx->id = VG_STR_LIT("tx-1");
    tx->user_id = VG_STR_LIT("u-42");
    tx->amount = 12.5;
    memcpy(tx->currency, "USD", 4);
    tx->ts_ms = 1764000000000;
}

static inline void sample_tx_full(vg_tx_t *tx)
{
    vg_tx_init(tx);
    tx->id = VG_STR_LIT("tx-2");
    tx->user_id = VG_STR_LIT("u-42");
    tx->amount = 1999.99;
    memcpy(tx->currency, "EUR", 4);
    tx->ts_ms = 1764000060000;
    tx->ingest_ms = 1764000060005;
    tx->merchant_id = VG_STR_LIT("m-7");
    tx->merchant_category = VG_STR_LIT("5411");
    memcpy(tx->country, "DE", 3);
    tx->channel = VG_STR_LIT("web");
    tx->device_id = VG_STR_LIT("d-9");
    tx->ip = VG_STR_LIT("192.0.2.1");
    tx->lat = 52.52;
    tx->lon = 13.405;
    tx->n_attrs = 2;
    tx->attrs[0] =
        (vg_tx_attr_t){.key = VG_STR_LIT("tier"), .str = VG_STR_LIT("gold"), .kind = VG_ATTR_STR};
    tx->attrs[1] = (vg_tx_attr_t){.key = VG_STR_LIT("age_days"), .num = 400, .kind = VG_ATTR_NUM};
}

static inline vg_env_t sample_env(int type, uint64_t corr)
{
    return (vg_env_t){.version = VG_PROTO_VERSION,
                      .type = (uint8_t) type,
                      .corr = corr,
                      .src = 1,
                      .shard = 17,
                      .epoch = 3,
                      .trace = 0xabcdef};
}

/* Fills m with sample number i (0..n-1); returns false past the end.
 * txs/verdicts are caller storage of at least 2 entries. */
static inline bool sample_msg(int i, vg_msg_t *m, vg_tx_t *txs, vg_verdict_t *vs)
{
    memset(m, 0, sizeof *m);
    switch (i) {
    case 0:
        m->env = sample_env(VG_MSG_PING, 1);
        m->body.ping.sent_ns = 1234567890123ull;
        return true;
    case 1:
        m->env = sample_env(VG_MSG_PONG, 1);
        m->body.pong.sent_ns = 1234567890123ull;
        return true;
    case 2:
        m->env = sample_env(VG_MSG_ERROR, 2);
        m->body.error.code = -14;
        m->body.error.message = VG_STR_LIT("unsupported version 2");
        return true;
    case 3:
        m->env = sample_env(VG_MSG_NOT_OWNER, 3);
        m->body.not_owner = (vg_body_not_owner_t){.shard = 17, .epoch = 4, .owner = 2};
        return true;
    case 4:
        m->env = sample_env(VG_MSG_TX_BATCH, 4);
        sample_tx_min(&txs[0]);
        sample_tx_full(&txs[1]);
        m->body.tx_batch.txs = (vg_tx_list_t){2, txs};
        return true;
    case 5:
        m->env = sample_env(VG_MSG_VERDICT_BATCH, 4);
        memset(vs, 0, 2 * sizeof *vs);
        vs[0].id = VG_STR_LIT("tx-1");
        vs[0].score = 0.05;
        vs[1].id = VG_STR_LIT("tx-2");
        vs[1].decision = VG_DECISION_BLOCK;
        vs[1].anomaly = true;
        vs[1].score = 0.93;
        vs[1].n_reasons = 2;
        vs[1].reasons[0] =
            (vg_reason_t){VG_STR_LIT("mad"), VG_STR_LIT("amount"), 1999.99, 40.0, 3.5, 0.6};
        vs[1].reasons[1] =
            (vg_reason_t){VG_STR_LIT("new_country"), VG_STR_LIT("country"), 1, 0, 1, 0.4};
        m->body.verdict_batch.verdicts = (vg_verdict_list_t){2, vs};
        return true;
    case 6:
        m->env = sample_env(VG_MSG_JOIN, 5);
        m->body.join =
            (vg_body_join_t){0, VG_STR_LIT("127.0.0.1:7102"), VG_STR_LIT("127.0.0.1:7202")};
        return true;
    case 7:
        m->env = sample_env(VG_MSG_JOIN_REPLY, 5);
        m->body.join_reply = (vg_body_join_reply_t){0, 2, 1, VG_STR_LIT("127.0.0.1:7101"),
                                                    VG_STR_LIT("joined as voter")};
        return true;
    case 8:
        m->env = sample_env(VG_MSG_MAP_GET, 6);
        m->body.map_get.known_epoch = 3;
        return true;
    case 9:
        /* 2 shards: shard 0 owned by node 1 at epoch 1, shard 1 by node 2 at epoch 2 */
        m->env = sample_env(VG_MSG_MAP, 6);
        m->body.map = (vg_body_map_t){4,
                                      2,
                                      {"\0\0\0\1\0\0\0\0\0\0\0\1\0\0\0\2\0\0\0\0\0\0\0\2", 24},
                                      {"\x92\x93\x01\x02\xae"
                                       "127.0.0.1:7101\x93\x02\x02\xae"
                                       "127.0.0.1:7102",
                                       38}};
        return true;
    case 10:
        m->env = sample_env(VG_MSG_ADMIN, 7);
        m->body.admin = (vg_body_admin_t){VG_STR_LIT("drain"), 2, {"", 0}};
        return true;
    case 11:
        m->env = sample_env(VG_MSG_ADMIN_REPLY, 7);
        m->body.admin_reply = (vg_body_admin_reply_t){0, VG_STR_LIT("{\"moved\":512}")};
        return true;
    case 12:
        m->env = sample_env(VG_MSG_HANDOFF, 8);
        m->body.handoff = (vg_body_handoff_t){4, {"\0\0\0\x11\0\0\0\x12", 8}};
        return true;
    case 13:
        m->env = sample_env(VG_MSG_HANDOFF_DONE, 8);
        m->body.handoff_done = (vg_body_handoff_done_t){0, 2, 5};
        return true;
    case 14:
        /* one user state ('u' = 0x75) of shard 17: key "u1", value 3 bytes */
        m->env = sample_env(VG_MSG_HANDOFF_DATA, 9);
        m->body.handoff_data = (vg_body_handoff_data_t){1,
                                                        {"\x91\x94\x75\x11\xc4\x02u1\xc4\x03"
                                                         "abc",
                                                         14}};
        return true;
    case 15:
        m->env = sample_env(VG_MSG_HANDOFF_ACK, 9);
        m->body.handoff_ack.code = 0;
        return true;
    case 16:
        /* the first page of 20 high-or-worse anomalies of user u1 in January 2026 */
        m->env = sample_env(VG_MSG_ANOMALY_QUERY, 10);
        m->body.anomaly_query =
            (vg_body_anomaly_query_t){0,  1767225600000, 1769904000000, VG_STR_LIT("u1"),
                                      2,  {NULL, 0},     {NULL, 0},     -1,
                                      20, {NULL, 0},     {NULL, 0},     0};
        return true;
    case 17:
        /* no records, nothing further on this node */
        m->env = sample_env(VG_MSG_ANOMALY_REPLY, 10);
        m->body.anomaly_reply = (vg_body_anomaly_reply_t){0, {"\x90", 1}, {NULL, 0}, {"\x90", 1}};
        return true;
    case 18:
        m->env = sample_env(VG_MSG_BLOB_PUT, 11);
        m->body.blob_put = (vg_body_blob_put_t){0, VG_STR_LIT("rules"),
                                                VG_STR_LIT("rule r { when = amount > 1000 }\n"), 1};
        return true;
    case 19:
        m->env = sample_env(VG_MSG_BLOB_GET, 12);
        m->body.blob_get = (vg_body_blob_get_t){0, VG_STR_LIT("rules"), 3};
        return true;
    case 20:
        m->env = sample_env(VG_MSG_BLOB, 12);
        m->body.blob = (vg_body_blob_t){0, 3, VG_STR_LIT("rule r { when = amount > 1000 }\n")};
        return true;
    default: return false;
    }
}

#endif
