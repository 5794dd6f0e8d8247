/* vg_hash.c: XXH3-128 content hashes (the only other xxhash user is vg_tx's
 * shard function). */
#include "vg_hash.h"

#include <xxhash.h>

void vg_hash128(const void *data, size_t len, uint8_t out[VG_HASH_LEN])
{
    XXH128_hash_t h = XXH3_128bits(data, len);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t) (h.high64 >> (56 - 8 * i));
    for (int i = 0; i < 8; i++) out[8 + i] = (uint8_t) (h.low64 >> (56 - 8 * i));
}

void vg_hash_hex(const uint8_t *hash, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[hash[i] >> 4];
        out[2 * i + 1] = hex[hash[i] & 15];
    }
    out[2 * len] = 0;
}
