/* test_mp.c: msgpack codec: shortest encodings, round trips at every size
 * boundary, interop with msgpack-c in both directions, and the hardened
 * reader's refusals (lying counts, truncation, depth, bad bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_err.h"
#include "vg_mp.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

static void s_expect_bytes(vg_mpw_t *w, const char *hex)
{
    uint8_t want[64];
    size_t n = 0;
    for (const char *p = hex; *p; p += 2) {
        while (*p == ' ') p++;
        if (!*p) break;
        unsigned b;
        sscanf(p, "%2x", &b);
        want[n++] = (uint8_t) b;
    }
    assert_int_equal(w->err, 0);
    assert_int_equal(w->len, n);
    assert_memory_equal(w->buf, want, n);
}

static void test_shortest_ints(void **state)
{
    (void) state;
    vg_mpw_t w;
    vg_mpw_init(&w);
    struct {
        int64_t v;
        const char *hex;
    } cases[] = {
        {0, "00"},
        {127, "7f"},
        {128, "cc80"},
        {255, "ccff"},
        {256, "cd0100"},
        {65535, "cdffff"},
        {65536, "ce00010000"},
        {4294967295LL, "ceffffffff"},
        {4294967296LL, "cf0000000100000000"},
        {-1, "ff"},
        {-32, "e0"},
        {-33, "d0df"},
        {-128, "d080"},
        {-129, "d1ff7f"},
        {-32768, "d18000"},
        {-32769, "d2ffff7fff"},
        {INT32_MIN, "d280000000"},
        {(int64_t) INT32_MIN - 1, "d3ffffffff7fffffff"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vg_mpw_reset(&w);
        vg_mpw_int(&w, cases[i].v);
        s_expect_bytes(&w, cases[i].hex);
        vg_mpr_t r;
        int64_t back = 0;
        vg_mpr_init(&r, w.buf, w.len);
        assert_int_equal(vg_mpr_int(&r, &back), 0);
        assert_true(back == cases[i].v);
        assert_int_equal(vg_mpr_remaining(&r), 0);
    }
    vg_mpw_fini(&w);
}

static void test_container_boundaries(void **state)
{
    (void) state;
    uint32_t sizes[] = {0, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000};
    char *big = malloc(70000);
    memset(big, 'x', 70000);
    vg_mpw_t w;
    vg_mpw_init(&w);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint32_t n = sizes[i];
        vg_mpw_reset(&w);
        vg_mpw_str(&w, big, n);
        vg_mpw_bin(&w, big, n);
        vg_mpw_array(&w, n);
        for (uint32_t k = 0; k < n; k++) vg_mpw_nil(&w);
        vg_mpw_map(&w, n);
        for (uint32_t k = 0; k < n; k++) vg_mpw_uint(&w, k), vg_mpw_bool(&w, k & 1);
        assert_int_equal(w.err, 0);
        vg_mpr_t r;
        vg_mpr_init(&r, w.buf, w.len);
        vg_str_t s;
        const uint8_t *bp;
        uint32_t bl, an, mn;
        assert_int_equal(vg_mpr_str(&r, &s), 0);
        assert_int_equal(s.len, n);
        assert_int_equal(vg_mpr_bin(&r, &bp, &bl), 0);
        assert_int_equal(bl, n);
        assert_int_equal(vg_mpr_array(&r, &an), 0);
        assert_int_equal(an, n);
        for (uint32_t k = 0; k < n; k++) assert_true(vg_mpr_nil(&r));
        assert_int_equal(vg_mpr_map(&r, &mn), 0);
        assert_int_equal(mn, n);
        for (uint32_t k = 0; k < n; k++)
            assert_int_equal(vg_mpr_skip(&r), 0), assert_int_equal(vg_mpr_skip(&r), 0);
        assert_int_equal(vg_mpr_remaining(&r), 0);
    }
    vg_mpw_fini(&w);
    free(big);
}

/* Our bytes decode with msgpack-c to the same values. */
static void test_interop_ours_to_msgpack_c(void **state)
{
    (void) state;
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_mpw_array(&w, 6);
    vg_mpw_int(&w, -70000);
    vg_mpw_uint(&w, UINT64_MAX);
    vg_mpw_f64(&w, 3.25);
    vg_mpw_str(&w, "héllo", 6);
    vg_mpw_map(&w, 1);
    vg_mpw_str(&w, "k", 1);
    vg_mpw_bool(&w, true);
    vg_mpw_nil(&w);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, (const char *) w.buf, w.len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, w.len);
    msgpack_object o = u.data;
    assert_int_equal(o.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(o.via.array.size, 6);
    msgpack_object *a = o.via.array.ptr;
    assert_int_equal(a[0].via.i64, -70000);
    assert_true(a[1].via.u64 == UINT64_MAX);
    assert_true(a[2].via.f64 == 3.25);
    assert_int_equal(a[3].via.str.size, 6);
    assert_memory_equal(a[3].via.str.ptr, "héllo", 6);
    assert_int_equal(a[4].via.map.size, 1);
    assert_true(a[4].via.map.ptr[0].val.via.boolean);
    assert_int_equal(a[5].type, MSGPACK_OBJECT_NIL);
    msgpack_unpacked_destroy(&u);
    vg_mpw_fini(&w);
}

/* msgpack-c's bytes (including float32 and non-shortest forms) read back. */
static void test_interop_msgpack_c_to_ours(void **state)
{
    (void) state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_int64(&pk, -5);
    msgpack_pack_uint32(&pk, 300);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_str_with_body(&pk, "abc", 3);
    msgpack_pack_bin_with_body(&pk, "\x01\x02", 2);
    vg_mpr_t r;
    vg_mpr_init(&r, sb.data, sb.size);
    uint32_t n;
    int64_t i;
    uint64_t u;
    double d;
    vg_str_t s;
    const uint8_t *bp;
    uint32_t bl;
    assert_int_equal(vg_mpr_array(&r, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(vg_mpr_int(&r, &i), 0);
    assert_int_equal(i, -5);
    assert_int_equal(vg_mpr_uint(&r, &u), 0);
    assert_int_equal(u, 300);
    assert_int_equal(vg_mpr_f64(&r, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(vg_mpr_str(&r, &s), 0);
    assert_true(vg_str_eq_c(s, "abc"));
    assert_int_equal(vg_mpr_bin(&r, &bp, &bl), 0);
    assert_int_equal(bl, 2);
    assert_int_equal(vg_mpr_remaining(&r), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* A 5-byte header claiming 100M elements fails at the header. */
static void test_lying_counts(void **state)
{
    (void) state;
    const uint8_t arr[] = {0xdd, 0x05, 0xf5, 0xe1, 0x00};
    const uint8_t map[] = {0xdf, 0x05, 0xf5, 0xe1, 0x00, 0x00};
    const uint8_t str[] = {0xdb, 0x05, 0xf5, 0xe1, 0x00, 'a'};
    const uint8_t bin[] = {0xc6, 0xff, 0xff, 0xff, 0xff};
    uint32_t n = 7;
    vg_mpr_t r;
    vg_mpr_init(&r, arr, sizeof arr);
    assert_int_equal(vg_mpr_array(&r, &n), VG_ERR_PARSE);
    assert_non_null(strstr(r.reason, "exceeds"));
    vg_mpr_init(&r, map, sizeof map);
    assert_int_equal(vg_mpr_map(&r, &n), VG_ERR_PARSE);
    vg_mpr_init(&r, str, sizeof str);
    vg_str_t s;
    assert_int_equal(vg_mpr_str(&r, &s), VG_ERR_PARSE);
    vg_mpr_init(&r, bin, sizeof bin);
    assert_int_equal(vg_mpr_skip(&r), VG_ERR_PARSE);
    /* sticky: later reads fail too */
    assert_int_equal(vg_mpr_skip(&r), VG_ERR_PARSE);
}

static void test_truncated_and_invalid(void **state)
{
    (void) state;
    const uint8_t *cases[] = {
        (const uint8_t *) "\xcd\x01",     /* uint16 missing a byte */
        (const uint8_t *) "\xcb\x00\x00", /* float64 truncated */
        (const uint8_t *) "\xa5"
                          "ab",       /* fixstr 5 with 2 bytes */
        (const uint8_t *) "\xc1",     /* never-used byte */
        (const uint8_t *) "\x92\x01", /* array of 2 with 1 element */
        (const uint8_t *) "\xd8\x01", /* fixext16 truncated */
    };
    size_t lens[] = {2, 3, 3, 1, 2, 2};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        vg_mpr_t r;
        vg_mpr_init(&r, cases[i], lens[i]);
        assert_int_not_equal(vg_mpr_skip(&r), 0);
        assert_non_null(r.reason);
    }
    /* type mismatches name what was expected */
    vg_mpr_t r;
    uint64_t u;
    vg_mpr_init(&r, "\xff", 1);
    assert_int_equal(vg_mpr_uint(&r, &u), VG_ERR_PARSE);
    assert_string_equal(r.reason, "expected a non-negative integer");
}

static void test_depth_cap(void **state)
{
    (void) state;
    uint8_t deep[64];
    for (int d = 1; d <= 40; d++) {
        memset(deep, 0x91, (size_t) d); /* d nested single-element arrays */
        deep[d] = 0xc0;
        vg_mpr_t r;
        vg_mpr_init(&r, deep, (size_t) d + 1);
        int rc = vg_mpr_skip(&r);
        if (d <= VG_MP_MAX_DEPTH)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, VG_ERR_LIMIT);
    }
}

static void test_fixed_writer_overflow(void **state)
{
    (void) state;
    uint8_t buf[4];
    vg_mpw_t w;
    vg_mpw_init_fixed(&w, buf, sizeof buf);
    vg_mpw_str(&w, "hello", 5);
    assert_int_equal(w.err, VG_ERR_TOO_LARGE);
    vg_mpw_nil(&w); /* sticky, no write */
    assert_int_equal(w.err, VG_ERR_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shortest_ints),
        cmocka_unit_test(test_container_boundaries),
        cmocka_unit_test(test_interop_ours_to_msgpack_c),
        cmocka_unit_test(test_interop_msgpack_c_to_ours),
        cmocka_unit_test(test_lying_counts),
        cmocka_unit_test(test_truncated_and_invalid),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_fixed_writer_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
