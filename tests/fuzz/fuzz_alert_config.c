/* fuzz_alert_config.c: libFuzzer target for the alerts.json parser
 * (actors/sink/vg_alert_config.c). Property: every refusal names the
 * source and says why; whatever is accepted has channels, routes that
 * point at them and sane limits; nothing leaks (ASan). */
#include "vg_alert_internal.h"
#include "vg_err.h"
#include "vg_mem.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vg_alert_routing_t *r = NULL;
    char err[512] = "";
    int rc = vg_alert_routing_parse((const char *) data, size, "fuzz.json", &r, err, sizeof err);
    if (rc) {
        VG_ASSERT(r == NULL);
        VG_ASSERT(!strncmp(err, "fuzz.json: ", 11) && err[11]);
        return 0;
    }
    VG_ASSERT(r && r->n_channels >= 1 && r->n_channels <= 64);
    for (size_t i = 0; i < r->n_channels; i++) {
        const vg__chan_cfg_t *ch = &r->channels[i];
        VG_ASSERT(ch->name && ch->name[0] && ch->url && ch->timeout_ms >= 100);
        VG_ASSERT(ch->type != VG__CH_SMTP || (ch->from && ch->n_to >= 1));
        VG_ASSERT(ch->burst >= 1 && ch->rate_per_min >= 0);
    }
    for (size_t i = 0; i < r->n_routes; i++)
        for (size_t k = 0; k < r->routes[i].n_channels; k++)
            VG_ASSERT(r->routes[i].channels[k] < r->n_channels);
    VG_ASSERT(r->max_attempts >= 1 && r->retry_base_ms >= 1 && r->retry_max_ms >= r->retry_base_ms);
    VG_ASSERT(r->dashboard_url && r->digest_lines >= 1);
    vg_alert_routing_free(&r);
    return 0;
}
