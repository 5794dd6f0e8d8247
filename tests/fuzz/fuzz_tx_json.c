/* fuzz_tx_json.c: libFuzzer target for the JSON transaction parser (all
 * request shapes). Properties: every refusal names a reason; every
 * accepted transaction survives the msgpack round trip and passes the
 * same validation on the node side. */
#include "vg_mem.h"
#include "vg_tx_json.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int s_item(void *arg, uint32_t index, const vg_tx_t *tx, const vg_perr_t *err)
{
    (void) arg;
    VG_ASSERT(tx != NULL);
    if (err) {
        VG_ASSERT(err->code && err->reason[0] && err->index == (int32_t) index);
        return 0;
    }
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_tx_encode(tx, &w);
    vg_mpr_t r;
    vg_mpr_init(&r, w.buf, w.len);
    vg_tx_t back;
    vg_perr_t e;
    vg_perr_clear(&e);
    VG_ASSERT(vg_tx_decode(&r, &back, &e) == 0);
    VG_ASSERT(vg_str_eq(back.id, tx->id) && back.ts_ms == tx->ts_ms);
    vg_mpw_fini(&w);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* copy so reads past the end are caught by ASan */
    char *buf = vg_malloc(size);
    memcpy(buf, data, size);
    vg_arena_t a = VG_ARENA_INIT;
    vg_txj_result_t res;
    vg_perr_t err;
    vg_txj_opts_t o = {.max_items = 64};
    int rc = vg_tx_json_each(buf, size, &o, &a, s_item, NULL, &res, &err);
    VG_ASSERT(rc == 0 || (err.code && err.reason[0]));
    vg_arena_reset(&a);
    vg_tx_t tx;
    if (vg_tx_from_json(buf, size, &tx, &a, &err) == 0) s_item(NULL, 0, &tx, NULL);
    vg_arena_fini(&a);
    free(buf);
    return 0;
}
