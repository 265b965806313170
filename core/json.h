/* json: config files (config.json, preprocessor_config.json, tokenizer_config.json, golden
 * manifests) read with libcjson, with typed getters that fall back to a default. */
#ifndef VLP_CORE_JSON_H
#define VLP_CORE_JSON_H

#include <cjson/cJSON.h>

#include "vlp.h"

/* Parse a whole file. Not-JSON is VLP_ERR_FORMAT naming the file and the byte offset. */
vlp_status json_load_file(const char *path, cJSON **out);
/* Parse text[0..n) (NUL-terminated at n, as read_file leaves it), read from path (named in
 * messages), as json_load_file. */
vlp_status json_parse_text(const char *path, const char *text, size_t n, cJSON **out);
/* A model folder's config.json: its path written to path[cap] (for messages), then read. */
vlp_status json_load_config(const char *dir, char *path, size_t cap, cJSON **out);
/* The model class a config.json names first in "architectures"; NULL when none. */
const char *json_architecture(const cJSON *cfg);
/* Getters: the value of key in obj when present and of the right type, else def.
 * obj may be NULL. */
double json_num(const cJSON *obj, const char *key, double def);
int json_int(const cJSON *obj, const char *key, int def);
int json_bool(const cJSON *obj, const char *key, int def);
const char *json_str(const cJSON *obj, const char *key, const char *def);
const cJSON *json_obj(const cJSON *obj, const char *key); /* NULL when absent */
const cJSON *json_arr(const cJSON *obj, const char *key); /* NULL when absent */
/* Read a whole file into a NUL-terminated buffer (malloc'd). */
vlp_status read_file(const char *path, char **data, size_t *size);

#endif
