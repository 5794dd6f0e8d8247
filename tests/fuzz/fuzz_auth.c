/* fuzz_auth.c: any bytes as a bearer token or API key against the
 * verifier (base64url, the pinned header, HMAC, claims); only tokens this
 * module signed may pass. */
#include "vg_auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static vg_auth_t *s_auth;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_auth) {
        vg_auth_config_t cfg = {.secret = "fuzz-secret-fuzz-secret-fuzz-secret!!", .rate = -1};
        char err[200];
        if (vg_auth_new_offline(&cfg, &s_auth, err, sizeof err)) abort();
        vg_auth_offline_user(s_auth, "admin", VG_ROLE_ADMIN);
    }
    char *s = malloc(size + 8);
    memcpy(s, "Bearer ", 7);
    memcpy(s + 7, data, size);
    s[size + 7] = 0;
    vg_principal_t p;
    char why[200];
    if (vg_auth_check(s_auth, s, NULL, &p, why, sizeof why) == 0 && p.role != VG_ROLE_ADMIN)
        abort(); /* the only user is admin: a pass must be a token for it */
    vg_auth_check(s_auth, NULL, s + 7, &p, why, sizeof why);
    free(s);
    return 0;
}
