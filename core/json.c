/* json: config and manifest files read with libcjson (see json.h). */
#include "core/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

/* Config files are small; anything larger is not a config we read. */
#define JSON_MAX_BYTES (256u << 20)

vlp_status read_file(const char *path, char **data, size_t *size) {
  *data = NULL;
  if (size) *size = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return vlp_fail(VLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return vlp_fail(VLP_ERR_IO, "%s: not a regular file", path);
  }
  if ((unsigned long long)st.st_size > JSON_MAX_BYTES) {
    fclose(f);
    return vlp_fail(VLP_ERR_FORMAT, "%s: file too large (%lld bytes)", path, (long long)st.st_size);
  }
  size_t n = (size_t)st.st_size;
  char *buf = malloc(n + 1);
  if (!buf) {
    fclose(f);
    return vlp_fail(VLP_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
  }
  size_t got = fread(buf, 1, n, f);
  int err = ferror(f);
  fclose(f);
  if (got != n || err) {
    free(buf);
    return vlp_fail(VLP_ERR_IO, "%s: read error", path);
  }
  buf[n] = 0;
  *data = buf;
  if (size) *size = n;
  return VLP_OK;
}

vlp_status json_parse_text(const char *path, const char *text, size_t n, cJSON **out) {
  const char *end = NULL;
  /* length includes the NUL: cJSON insists on it when asked to require termination */
  *out = cJSON_ParseWithLengthOpts(text, n + 1, &end, 1);
  if (*out) return VLP_OK;
  size_t at = end ? (size_t)(end - text) : 0;
  return vlp_fail(VLP_ERR_FORMAT, "%s: not valid JSON (error near byte %zu)", path, at);
}

vlp_status json_load_file(const char *path, cJSON **out) {
  *out = NULL;
  char *text;
  size_t n;
  vlp_status st = read_file(path, &text, &n);
  if (st) return st;
  st = json_parse_text(path, text, n, out);
  free(text);
  return st;
}

vlp_status json_load_config(const char *dir, char *path, size_t cap, cJSON **out) {
  *out = NULL;
  if (snprintf(path, cap, "%s/config.json", dir) >= (int)cap)
    return vlp_fail(VLP_ERR_INVALID, "%.200s...: model folder path too long", dir);
  return json_load_file(path, out);
}

const char *json_architecture(const cJSON *cfg) {
  const cJSON *a = json_arr(cfg, "architectures");
  return cJSON_GetStringValue(a ? cJSON_GetArrayItem(a, 0) : NULL);
}

static const cJSON *get(const cJSON *obj, const char *key) {
  return obj && cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

double json_num(const cJSON *obj, const char *key, double def) {
  const cJSON *v = get(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int json_int(const cJSON *obj, const char *key, int def) {
  const cJSON *v = get(obj, key);
  if (!cJSON_IsNumber(v)) return def;
  double d = v->valuedouble;
  if (d > 2147483647.0 || d < -2147483648.0) return def;
  return (int)d;
}

int json_bool(const cJSON *obj, const char *key, int def) {
  const cJSON *v = get(obj, key);
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
  return def;
}

const char *json_str(const cJSON *obj, const char *key, const char *def) {
  const cJSON *v = get(obj, key);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : def;
}

const cJSON *json_obj(const cJSON *obj, const char *key) {
  const cJSON *v = get(obj, key);
  return cJSON_IsObject(v) ? v : NULL;
}

const cJSON *json_arr(const cJSON *obj, const char *key) {
  const cJSON *v = get(obj, key);
  return cJSON_IsArray(v) ? v : NULL;
}
