/* hub: a client of a Hugging Face-compatible hub's file URLs
 * ({endpoint}/{repo}/resolve/{revision}/{file}) on libcurl. vlp_pull of vlp.h is implemented
 * in pull.c (pull_none.c when built without libcurl); the helpers below (hub_files.c) need
 * no network and are exposed for tests and model summaries. */
#ifndef VLP_HUB_HUB_H
#define VLP_HUB_HUB_H

#include "vlp.h"

/* 1 and the lowercase digest in out when an ETag / X-Linked-Etag value (quotes and a W/
 * prefix allowed) is a 64-hex-digit sha256; 0 otherwise (a git sha1, an md5, ...). */
int hub_sha256_from_etag(const char *etag, char out[65]);
/* 1 when rev is an acceptable revision: [A-Za-z0-9._/-], no "..", not starting with '/'. */
int hub_valid_revision(const char *rev);
/* The distinct shard file names of a model.safetensors.index.json's weight_map, in order of
 * first appearance (*names and each name malloc'd). Names with '/' or ".." are an error. */
vlp_status hub_index_shards(const char *index_path, char ***names, int *n);

#endif
