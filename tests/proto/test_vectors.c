/* test_vectors.c: every "#### Vector: TYPE" in proto/PROTOCOL.md decodes
 * (envelope + body) and re-encodes byte-identical, so the document and
 * the code cannot drift apart. Also checks each message type has one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_err.h"
#include "vg_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_read_protocol_md(void)
{
    const char *dir = getenv("VG_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/proto/PROTOCOL.md", dir ? dir : ".");
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t) n + 1);
    assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Parses the next ```hex block after *p into out; advances *p. */
static size_t s_next_hex(const char **p, uint8_t *out, size_t cap)
{
    const char *s = strstr(*p, "```hex\n");
    assert_non_null(s);
    s += 7;
    const char *end = strstr(s, "```");
    assert_non_null(end);
    size_t n = 0;
    for (const char *q = s; q < end;) {
        if (*q == ' ' || *q == '\n') {
            q++;
            continue;
        }
        unsigned b;
        assert_int_equal(sscanf(q, "%2x", &b), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t) b;
        q += 2;
    }
    *p = end + 3;
    return n;
}

static void test_vectors_round_trip(void **state)
{
    (void) state;
    char *doc = s_read_protocol_md();
    const char *p = doc;
    int seen[256] = {0}, count = 0;
    static uint8_t env[256], body[8192];
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_arena_t a = VG_ARENA_INIT;
    while ((p = strstr(p, "#### Vector: "))) {
        char name[64];
        assert_int_equal(sscanf(p + 13, "%63s", name), 1);
        p += 13;
        size_t env_n = s_next_hex(&p, env, sizeof env);
        size_t body_n = s_next_hex(&p, body, sizeof body);
        vg_msg_t m;
        vg_perr_t err;
        vg_perr_clear(&err);
        if (vg_env_decode(env, env_n, &m.env, &err) ||
            vg_msg_body_decode(body, body_n, &m, &a, &err))
            fail_msg("vector %s: %s: %s", name, err.field, err.reason);
        assert_string_equal(vg_msg_type_name(m.env.type), name);
        vg_mpw_reset(&w);
        vg_env_encode(&m.env, &w);
        assert_int_equal(w.len, env_n);
        assert_memory_equal(w.buf, env, env_n);
        vg_mpw_reset(&w);
        assert_int_equal(vg_msg_body_encode(&m, &w), 0);
        assert_int_equal(w.len, body_n);
        assert_memory_equal(w.buf, body, body_n);
        seen[m.env.type] = 1;
        count++;
    }
#define VG__CHECK_SEEN(NAME, code, lname, BODY) \
    if (!seen[code]) fail_msg("PROTOCOL.md has no vector for %s", #NAME);
    VG_MSG_TABLE(VG__CHECK_SEEN)
#undef VG__CHECK_SEEN
    assert_true(count >= 6);
    vg_mpw_fini(&w);
    vg_arena_fini(&a);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors_round_trip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
