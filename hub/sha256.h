/* sha256: SHA-256 (FIPS 180-4), for checking downloaded model files against the hub's
 * reported checksum. Streaming: init, update any number of times, final. */
#ifndef VLP_HUB_SHA256_H
#define VLP_HUB_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "vlp.h"

typedef struct {
  uint32_t h[8];
  uint64_t len;    /* bytes hashed so far */
  uint8_t buf[64]; /* partial block */
  size_t nbuf;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, uint8_t digest[32]);
/* digest as 64 lowercase hex digits + NUL. */
void sha256_hex(const uint8_t digest[32], char hex[65]);
/* SHA-256 of a whole file as hex; VLP_ERR_IO naming the file when it cannot be read. */
vlp_status sha256_file(const char *path, char hex[65]);

#endif
