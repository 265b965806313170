/* model_cache: where models live on disk (VLP_HOME, a Hugging Face hub cache layout) and how
 * a -m name becomes a folder. vlp_cache_dir / vlp_resolve_model / vlp_cache_list of vlp.h
 * are implemented here; hub.c uses the helpers below to place downloads. */
#ifndef VLP_HUB_MODEL_CACHE_H
#define VLP_HUB_MODEL_CACHE_H

#include <stddef.h>

#include "vlp.h"

/* 1 when id is a hub repository id: "NAME" or "ORG/NAME", each part of [A-Za-z0-9._-],
 * not starting with '.' or '-', no "--" or "..", at most 96 characters per part. */
int cache_valid_repo_id(const char *id);
/* CACHE/models--ORG--NAME for repo_id "ORG/NAME" (models--NAME without an org). */
vlp_status cache_repo_dir(const char *cache, const char *repo_id, char *out, size_t size);
/* The folder name used for a revision when the hub gives no commit id: '/' becomes '--'. */
void cache_revision_folder(const char *revision, char *out, size_t size);
/* mkdir -p; errors name the path. */
vlp_status cache_mkdirs(const char *path);
/* snprintf that fails (VLP_ERR_INVALID naming the start of the path) when out is too small. */
vlp_status cache_path(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
