/* hub_files: the parts of talking to a hub that need no network: ETag checksums, revision
 * names and the shard list of a model.safetensors.index.json (also used to describe local
 * model folders, so they are built with or without libcurl). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "hub/hub.h"

int hub_sha256_from_etag(const char *etag, char out[65]) {
  if (!etag) return 0;
  if (!strncmp(etag, "W/", 2)) etag += 2;
  if (*etag == '"') etag++;
  size_t n = 0;
  while (isxdigit((unsigned char)etag[n])) n++;
  if (n != 64 || (etag[n] && etag[n] != '"')) return 0;
  for (size_t i = 0; i < 64; i++) out[i] = (char)tolower((unsigned char)etag[i]);
  out[64] = 0;
  return 1;
}

int hub_valid_revision(const char *rev) {
  if (!rev || !rev[0] || rev[0] == '/' || strlen(rev) > 200 || strstr(rev, "..")) return 0;
  for (const char *p = rev; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("._/-", *p)) return 0;
  return 1;
}

static int valid_shard_name(const char *s) {
  return s[0] && !strchr(s, '/') && !strstr(s, "..") && strlen(s) < 256;
}

vlp_status hub_index_shards(const char *index_path, char ***names, int *n) {
  *names = NULL;
  *n = 0;
  cJSON *root;
  vlp_status st = json_load_file(index_path, &root);
  if (st) return st;
  const cJSON *map = json_obj(root, "weight_map");
  int cap = cJSON_GetArraySize(map);
  if (!map || cap <= 0) {
    cJSON_Delete(root);
    return vlp_fail(VLP_ERR_FORMAT, "%s: no \"weight_map\" object", index_path);
  }
  char **list = calloc((size_t)cap, sizeof *list);
  if (!list) st = vlp_fail(VLP_ERR_NOMEM, "%s: out of memory", index_path);
  int k = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, map) {
    if (st) break;
    if (!cJSON_IsString(e) || !valid_shard_name(e->valuestring)) {
      st = vlp_fail(VLP_ERR_FORMAT, "%s: bad shard file name for tensor %s", index_path,
                    e->string ? e->string : "?");
      break;
    }
    int seen = 0;
    for (int i = 0; i < k && !seen; i++) seen = !strcmp(list[i], e->valuestring);
    if (seen) continue;
    if (!(list[k] = strdup(e->valuestring)))
      st = vlp_fail(VLP_ERR_NOMEM, "out of memory");
    else
      k++;
  }
  cJSON_Delete(root);
  if (st) {
    for (int i = 0; i < k; i++) free(list[i]);
    free(list);
    return st;
  }
  *names = list;
  *n = k;
  return VLP_OK;
}

void vlp_pull_result_free(vlp_pull_result *r) {
  if (!r) return;
  for (int i = 0; i < r->n_files; i++) free(r->files[i]);
  free(r->files);
  free(r->path);
  free(r->commit);
  memset(r, 0, sizeof *r);
}
