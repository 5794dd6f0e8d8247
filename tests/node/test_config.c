/* test_config.c: configuration precedence (defaults < file < env <
 * flags), every source's errors naming the key, --help, and the file
 * parser's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vg_config.h"
#include "vg_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_path[64];

static int s_setup(void **state)
{
    (void) state;
    snprintf(s_path, sizeof s_path, "/tmp/vigil-conf-XXXXXX");
    int fd = mkstemp(s_path);
    const char text[] = "# test\nworkers = 3\nhttp = \"127.0.0.1:9000\"\nmax_body = 64k # small\n"
                        "mad.k = 7\nshards = 512\n";
    if (write(fd, text, sizeof text - 1) != (ssize_t) sizeof text - 1) return -1;
    close(fd);
    unsetenv("VIGIL_CONFIG");
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    unlink(s_path);
    return 0;
}

static void test_defaults(void **state)
{
    (void) state;
    vg_node_config_t c;
    vg_node_config_default(&c);
    assert_string_equal(c.http, "127.0.0.1:8080");
    assert_int_equal(c.engine.shards, 1024);
    assert_int_equal(c.max_body, 8u << 20);
    assert_false(c.gateway);
}

static void test_precedence(void **state)
{
    (void) state;
    vg_node_config_t c;
    vg_perr_t err;
    vg_perr_clear(&err);
    bool exit_now;
    setenv("VIGIL_WORKERS", "5", 1);
    setenv("VIGIL_MAD__K", "8", 1);
    char *argv[] = {"vigil-node", "--config",  s_path,  "--workers",
                    "6",          "--gateway", "--set", "zscore.enabled=false",
                    NULL};
    assert_int_equal(vg_node_config_load(&c, 8, argv, &exit_now, &err), 0);
    assert_false(exit_now);
    assert_int_equal(c.engine.workers, 6);         /* flag beats env beats file */
    assert_string_equal(c.http, "127.0.0.1:9000"); /* file beats default */
    assert_int_equal(c.max_body, 64 * 1024);       /* size suffix, trailing comment */
    assert_int_equal(c.engine.shards, 512);
    assert_true(c.engine.detect.det[VG_DET_mad].k == 8); /* env beats file */
    assert_false(c.engine.detect.det[VG_DET_zscore].enabled);
    assert_true(c.gateway);
    unsetenv("VIGIL_WORKERS");
    unsetenv("VIGIL_MAD__K");
}

static void test_errors_name_the_key(void **state)
{
    (void) state;
    vg_node_config_t c;
    vg_perr_t err;
    bool exit_now;
    struct {
        char *argv[4];
        const char *field, *needle;
    } cases[] = {
        {{"vigil-node", "--workers", "many", NULL}, "--workers", "non-negative integer"},
        {{"vigil-node", "--max-body", "8x", NULL}, "--max-body", "size like"},
        {{"vigil-node", "--nope", "1", NULL}, "--nope", "unknown option"},
        {{"vigil-node", "--set", "mad.k", NULL}, "--set", "key=value"},
        {{"vigil-node", "--set", "mad.zz=1", NULL}, "mad.zz", ""},
        {{"vigil-node", "stray", NULL, NULL}, "stray", "unexpected argument"},
        {{"vigil-node", "--log-level", "loud", NULL}, "log_level", "error, warn"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int argc = 0;
        while (cases[i].argv[argc]) argc++;
        vg_perr_clear(&err);
        int rc = vg_node_config_load(&c, argc, cases[i].argv, &exit_now, &err);
        if (rc == 0 || strcmp(err.field, cases[i].field) != 0 ||
            !strstr(err.reason, cases[i].needle))
            fail_msg("case %zu: rc %d field '%s' reason '%s'", i, rc, err.field, err.reason);
    }
    setenv("VIGIL_SHARDS", "-1", 1);
    char *argv[] = {"vigil-node", NULL};
    vg_perr_clear(&err);
    assert_int_not_equal(vg_node_config_load(&c, 1, argv, &exit_now, &err), 0);
    assert_string_equal(err.field, "VIGIL_SHARDS");
    unsetenv("VIGIL_SHARDS");
}

static int s_count(void *arg, const char *key, const char *value, int line, vg_perr_t *err)
{
    (void) key, (void) value, (void) line, (void) err;
    (*(int *) arg)++;
    return 0;
}

static void test_file_parser(void **state)
{
    (void) state;
    vg_perr_t err;
    int n = 0;
    const char ok[] = "\n# c\n  a = 1\nb.c=\"x # not a comment\"\n";
    vg_perr_clear(&err);
    assert_int_equal(vg_config_parse(ok, sizeof ok - 1, s_count, &n, &err), 0);
    assert_int_equal(n, 2);
    const char *bad[] = {"a = 1\nnovalue\n", "= 3\n", "bad key = 1\n"};
    const char *where[] = {"line 2", "line 1", "line 1"};
    for (int i = 0; i < 3; i++) {
        vg_perr_clear(&err);
        assert_int_equal(vg_config_parse(bad[i], strlen(bad[i]), s_count, &n, &err), VG_ERR_PARSE);
        assert_string_equal(err.field, where[i]);
    }
    /* a file error names the file and line */
    char path[] = "/tmp/vigil-conf-bad-XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "workers = 2\nmad.k = -\n";
    assert_int_equal(write(fd, text, sizeof text - 1), sizeof text - 1);
    close(fd);
    vg_node_config_t c;
    bool exit_now;
    char *argv[] = {"vigil-node", "-c", path, NULL};
    vg_perr_clear(&err);
    assert_int_not_equal(vg_node_config_load(&c, 3, argv, &exit_now, &err), 0);
    assert_non_null(strstr(err.field, ":2: mad.k"));
    unlink(path);
}

static void test_help(void **state)
{
    (void) state;
    vg_node_config_t c;
    vg_perr_t err;
    bool exit_now = false;
    char *argv[] = {"vigil-node", "--help", NULL};
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    int rc = vg_node_config_load(&c, 2, argv, &exit_now, &err);
    fclose(stdout);
    stdout = saved;
    assert_int_equal(rc, 0);
    assert_true(exit_now);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors_name_the_key),
        cmocka_unit_test(test_file_parser),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
