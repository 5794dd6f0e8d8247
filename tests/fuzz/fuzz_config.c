/* fuzz_config.c: libFuzzer target for the node configuration parser and
 * setters. Property: every refusal names where and why; whatever is
 * accepted leaves a configuration the detectors can check. */
#include "vg_config.h"
#include "vg_mem.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int s_apply(void *arg, const char *key, const char *value, int line, vg_perr_t *err)
{
    VG_ASSERT(line > 0 && key[0]);
    int rc = vg_node_config_set(arg, key, value, err);
    VG_ASSERT(rc == 0 || (err->code && err->reason[0]));
    return 0; /* keep going: exercise every line */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = vg_malloc(size);
    memcpy(buf, data, size);
    vg_node_config_t cfg;
    vg_node_config_default(&cfg);
    vg_perr_t err;
    vg_perr_clear(&err);
    int rc = vg_config_parse(buf, size, s_apply, &cfg, &err);
    VG_ASSERT(rc == 0 || (err.code && err.field[0] && err.reason[0]));
    char msg[256];
    (void) vg_detect_config_check(&cfg.engine.detect, msg, sizeof msg);
    free(buf);
    return 0;
}
