/* print_vectors.c: prints PROTOCOL.md's test-vector section from the
 * sample messages (build/tests/vg-proto-vectors > paste). */
#include "proto_samples.h"

#include <stdio.h>

static void s_hex(const char *what, const uint8_t *p, size_t n)
{
    printf("%s (%zu bytes):\n\n```hex\n", what, n);
    for (size_t i = 0; i < n; i++)
        printf("%02x%s", p[i], (i % 16 == 15 || i + 1 == n) ? "\n" : " ");
    printf("```\n\n");
}

int main(void)
{
    vg_msg_t m;
    vg_tx_t txs[2];
    vg_verdict_t vs[2];
    vg_mpw_t w;
    vg_mpw_init(&w);
    for (int i = 0; sample_msg(i, &m, txs, vs); i++) {
        printf("#### Vector: %s\n\n", vg_msg_type_name(m.env.type));
        vg_mpw_reset(&w);
        vg_env_encode(&m.env, &w);
        s_hex("envelope", w.buf, w.len);
        vg_mpw_reset(&w);
        vg_msg_body_encode(&m, &w);
        s_hex("body", w.buf, w.len);
    }
    vg_mpw_fini(&w);
    return 0;
}
