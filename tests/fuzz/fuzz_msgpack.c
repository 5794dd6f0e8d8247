/* fuzz_msgpack.c: libFuzzer target for the msgpack decoders. Input byte 0
 * picks the message type, the rest is a body frame (and is also tried as
 * an envelope and as a generic value). Property: whatever decodes must
 * re-encode, and the re-encoding must decode to the same bytes again. */
#include "vg_mem.h"
#include "vg_msg.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_reencode_stable(const vg_msg_t *m)
{
    vg_mpw_t w1, w2;
    vg_mpw_init(&w1);
    vg_mpw_init(&w2);
    VG_ASSERT(vg_msg_body_encode(m, &w1) == 0);
    vg_msg_t again;
    again.env = m->env;
    vg_arena_t a = VG_ARENA_INIT;
    vg_perr_t err;
    vg_perr_clear(&err);
    VG_ASSERT(vg_msg_body_decode(w1.buf, w1.len, &again, &a, &err) == 0);
    VG_ASSERT(vg_msg_body_encode(&again, &w2) == 0);
    VG_ASSERT(w1.len == w2.len && memcmp(w1.buf, w2.buf, w1.len) == 0);
    vg_arena_fini(&a);
    vg_mpw_fini(&w1);
    vg_mpw_fini(&w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    vg_perr_t err;
    vg_msg_t m;
    vg_perr_clear(&err);
    (void) vg_env_decode(data + 1, size - 1, &m.env, &err);

    vg_mpr_t r;
    vg_mpr_init(&r, data + 1, size - 1);
    while (vg_mpr_remaining(&r) && vg_mpr_skip(&r) == 0) {
    }

    /* every type of the table, in table order (the corpus files' first
     * byte), then one unknown code */
    static const uint8_t types[] = {
#define S_TYPE(NAME, code, lname, BODY) VG_MSG_##NAME,
        VG_MSG_TABLE(S_TYPE)
#undef S_TYPE
            0x7f};
    memset(&m.env, 0, sizeof m.env);
    m.env.version = VG_PROTO_VERSION;
    m.env.type = types[data[0] % sizeof types];
    vg_arena_t a = VG_ARENA_INIT;
    vg_perr_clear(&err);
    if (vg_msg_body_decode(data + 1, size - 1, &m, &a, &err) == 0) {
        s_reencode_stable(&m);
    } else {
        VG_ASSERT(err.code != 0 && err.reason[0] != 0); /* every refusal says why */
    }
    vg_arena_fini(&a);
    return 0;
}
