/* vg_hash.h: content hashes of rule sets and models (XXH3-128): the
 * identity under which every node stores a pushed blob and checks what
 * it fetched. Not a defence against a malicious pusher (admins are
 * trusted); against corruption and mix-ups. */
#ifndef VG_HASH_H
#define VG_HASH_H

#include <stddef.h>
#include <stdint.h>

#define VG_HASH_LEN 16

/* out: VG_HASH_LEN bytes (big-endian high half, then low half). */
void vg_hash128(const void *data, size_t len, uint8_t out[VG_HASH_LEN]);
/* Lower-case hex of a hash into out (2 * VG_HASH_LEN + 1 bytes). */
void vg_hash_hex(const uint8_t *hash, size_t len, char *out);

#endif
