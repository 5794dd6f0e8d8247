/* test_msg.c: envelope and message codecs derived from the message table:
 * round trips of every type, refusals (magic, version, size caps, lying
 * counts without allocation, unknown types, invalid items by path). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "proto_samples.h"
#include "vg_err.h"

#include <stdlib.h>
#include <string.h>

static void s_encode(const vg_msg_t *m, vg_mpw_t *env, vg_mpw_t *body)
{
    vg_mpw_reset(env);
    vg_mpw_reset(body);
    vg_env_encode(&m->env, env);
    assert_int_equal(vg_msg_body_encode(m, body), 0);
}

static void test_every_type_round_trips(void **state)
{
    (void) state;
    vg_msg_t m, back;
    vg_tx_t txs[2];
    vg_verdict_t vs[2];
    vg_mpw_t env, body, env2, body2;
    vg_mpw_init(&env), vg_mpw_init(&body), vg_mpw_init(&env2), vg_mpw_init(&body2);
    vg_arena_t a = VG_ARENA_INIT;
    int n = 0;
    for (int i = 0; sample_msg(i, &m, txs, vs); i++, n++) {
        s_encode(&m, &env, &body);
        vg_perr_t err;
        vg_perr_clear(&err);
        assert_int_equal(vg_env_decode(env.buf, env.len, &back.env, &err), 0);
        assert_int_equal(back.env.type, m.env.type);
        assert_int_equal(back.env.version, m.env.version);
        assert_int_equal(back.env.corr, m.env.corr);
        assert_int_equal(back.env.src, m.env.src);
        assert_int_equal(back.env.shard, m.env.shard);
        assert_int_equal(back.env.epoch, m.env.epoch);
        assert_int_equal(back.env.trace, m.env.trace);
        assert_int_equal(vg_msg_body_decode(body.buf, body.len, &back, &a, &err), 0);
        s_encode(&back, &env2, &body2);
        assert_int_equal(body.len, body2.len);
        assert_memory_equal(body.buf, body2.buf, body.len);
        assert_non_null(vg_msg_type_name(m.env.type));
    }
    int types = 0;
#define COUNT_TYPES(NAME, code, lname, BODY) types++;
    VG_MSG_TABLE(COUNT_TYPES)
#undef COUNT_TYPES
    assert_int_equal(n, types); /* a sample for every message type */
    assert_string_equal(vg_msg_type_name(VG_MSG_TX_BATCH), "TX_BATCH");
    assert_null(vg_msg_type_name(0x7f));
    vg_mpw_fini(&env), vg_mpw_fini(&body), vg_mpw_fini(&env2), vg_mpw_fini(&body2);
    vg_arena_fini(&a);
}

static void test_envelope_refusals(void **state)
{
    (void) state;
    vg_env_t e = sample_env(VG_MSG_PING, 9), out;
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_perr_t err;
    /* bad magic */
    vg_env_encode(&e, &w);
    w.buf[2] = 'X';
    vg_perr_clear(&err);
    assert_int_equal(vg_env_decode(w.buf, w.len, &out, &err), VG_ERR_PROTO);
    assert_string_equal(err.field, "envelope.magic");
    /* unsupported version */
    e.version = 2;
    vg_mpw_reset(&w);
    vg_env_encode(&e, &w);
    vg_perr_clear(&err);
    assert_int_equal(vg_env_decode(w.buf, w.len, &out, &err), VG_ERR_PROTO);
    assert_string_equal(err.field, "envelope.version");
    /* oversize frame is refused before reading */
    uint8_t big[VG_ENV_MAX + 1] = {0};
    vg_perr_clear(&err);
    assert_int_equal(vg_env_decode(big, sizeof big, &out, &err), VG_ERR_TOO_LARGE);
    /* trailing bytes */
    e.version = 1;
    vg_mpw_reset(&w);
    vg_env_encode(&e, &w);
    vg_mpw_nil(&w);
    vg_perr_clear(&err);
    assert_int_equal(vg_env_decode(w.buf, w.len, &out, &err), VG_ERR_PARSE);
    /* too few fields */
    vg_perr_clear(&err);
    assert_int_equal(vg_env_decode("\x92\xa2VG\x01", 5, &out, &err), VG_ERR_PARSE);
    vg_mpw_fini(&w);
}

/* TX_BATCH body [array32 claiming 100M transactions]: rejected at the
 * header, and nothing was allocated. */
static void test_lying_batch_allocates_nothing(void **state)
{
    (void) state;
    const uint8_t body[] = {0x91, 0xdd, 0x05, 0xf5, 0xe1, 0x00};
    vg_msg_t m;
    m.env = sample_env(VG_MSG_TX_BATCH, 1);
    vg_arena_t a = VG_ARENA_INIT;
    vg_perr_t err;
    vg_perr_clear(&err);
    assert_int_equal(vg_msg_body_decode(body, sizeof body, &m, &a, &err), VG_ERR_PARSE);
    assert_string_equal(err.field, "txs");
    assert_null(a.head);
    /* a count above the batch cap that fits the bytes: VG_ERR_LIMIT, no alloc */
    size_t n = 5000 + 8;
    uint8_t *big = calloc(1, n);
    big[0] = 0x91, big[1] = 0xdc, big[2] = 0x13, big[3] = 0x88; /* 5000 */
    vg_perr_clear(&err);
    assert_int_equal(vg_msg_body_decode(big, n, &m, &a, &err), VG_ERR_LIMIT);
    assert_null(a.head);
    free(big);
    /* frame cap */
    vg_perr_clear(&err);
    assert_int_equal(vg_msg_body_decode(body, (size_t) VG_FRAME_MAX + 1, &m, &a, &err),
                     VG_ERR_TOO_LARGE);
    vg_arena_fini(&a);
}

static void test_invalid_item_named_by_path(void **state)
{
    (void) state;
    vg_msg_t m, back;
    vg_tx_t txs[2];
    vg_verdict_t vs[2];
    sample_msg(4, &m, txs, vs);
    memcpy(txs[1].currency, "eur", 4);
    vg_mpw_t env, body;
    vg_mpw_init(&env), vg_mpw_init(&body);
    s_encode(&m, &env, &body);
    back.env = m.env;
    vg_arena_t a = VG_ARENA_INIT;
    vg_perr_t err;
    vg_perr_clear(&err);
    assert_int_equal(vg_msg_body_decode(body.buf, body.len, &back, &a, &err), VG_ERR_INVALID);
    assert_string_equal(err.field, "txs[1].currency");
    assert_int_equal(err.index, 1);
    /* vg_msg_validate finds the same without encoding */
    vg_perr_clear(&err);
    assert_int_equal(vg_msg_validate(&m, &err), VG_ERR_INVALID);
    assert_string_equal(err.field, "txs[1].currency");
    /* unknown type */
    back.env.type = 0x7e;
    vg_perr_clear(&err);
    assert_int_equal(vg_msg_body_decode(body.buf, body.len, &back, &a, &err), VG_ERR_UNSUPPORTED);
    /* a verdict with a score out of range */
    sample_msg(5, &m, txs, vs);
    vs[0].score = 1.5;
    s_encode(&m, &env, &body);
    back.env = m.env;
    vg_perr_clear(&err);
    assert_int_equal(vg_msg_body_decode(body.buf, body.len, &back, &a, &err), VG_ERR_INVALID);
    assert_string_equal(err.field, "verdicts[0].score");
    vg_mpw_fini(&env), vg_mpw_fini(&body);
    vg_arena_fini(&a);
}

static void test_forward_compatible_extra_fields(void **state)
{
    (void) state;
    /* PING body with an extra field from a future version */
    const uint8_t body[] = {0x92, 0x05, 0xa3, 'n', 'e', 'w'};
    vg_msg_t m;
    m.env = sample_env(VG_MSG_PING, 1);
    vg_perr_t err;
    vg_perr_clear(&err);
    assert_int_equal(vg_msg_body_decode(body, sizeof body, &m, NULL, &err), 0);
    assert_int_equal(m.body.ping.sent_ns, 5);
    /* too few fields is an error naming the type */
    const uint8_t short_body[] = {0x92, 0x05, 0x06};
    m.env.type = VG_MSG_NOT_OWNER;
    vg_perr_clear(&err);
    assert_int_equal(vg_msg_body_decode(short_body, sizeof short_body, &m, NULL, &err),
                     VG_ERR_PARSE);
    assert_non_null(strstr(err.reason, "NOT_OWNER body has 2 fields, expected 3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_envelope_refusals),
        cmocka_unit_test(test_lying_batch_allocates_nothing),
        cmocka_unit_test(test_invalid_item_named_by_path),
        cmocka_unit_test(test_forward_compatible_extra_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
