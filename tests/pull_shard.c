/* pull_shard: split a model folder's model.safetensors into N shards plus
 * model.safetensors.index.json, as save_pretrained(max_shard_size=...) lays them out
 * (test-only; used by tests/pull_test.sh to check that sharded checkpoints load).
 *   pull_shard IN/model.safetensors OUT_DIR N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

typedef struct {
  const cJSON *t;
  double begin, end;
} entry;

static int by_offset(const void *a, const void *b) {
  double x = ((const entry *)a)->begin, y = ((const entry *)b)->begin;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: pull_shard IN.safetensors OUT_DIR N\n");
    return 2;
  }
  int shards = atoi(argv[3]);
  char *data;
  size_t size;
  if (read_file(argv[1], &data, &size) || size < 8) {
    fprintf(stderr, "pull_shard: %s: %s\n", argv[1], vlp_last_error());
    return 1;
  }
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (uint8_t)data[i];
  if (hlen > size - 8) return 1;
  cJSON *hdr = cJSON_ParseWithLength(data + 8, (size_t)hlen);
  const char *body = data + 8 + hlen;
  int n = 0, cap = cJSON_GetArraySize(hdr);
  entry *e = calloc((size_t)cap + 1, sizeof *e);
  const cJSON *t;
  cJSON_ArrayForEach(t, hdr) {
    if (!strcmp(t->string, "__metadata__")) continue;
    const cJSON *off = cJSON_GetObjectItem(t, "data_offsets");
    e[n].t = t;
    e[n].begin = cJSON_GetArrayItem(off, 0)->valuedouble;
    e[n].end = cJSON_GetArrayItem(off, 1)->valuedouble;
    n++;
  }
  qsort(e, (size_t)n, sizeof *e, by_offset);
  cJSON *index = cJSON_CreateObject(), *map = cJSON_CreateObject();
  double total = 0;
  for (int s = 0; s < shards; s++) {
    int lo = n * s / shards, hi = n * (s + 1) / shards;
    char name[128], path[4096];
    snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, shards);
    snprintf(path, sizeof path, "%s/%s", argv[2], name);
    cJSON *h = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(h, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    double pos = 0;
    for (int i = lo; i < hi; i++) {
      cJSON *one = cJSON_Duplicate(e[i].t, 1);
      cJSON *off = cJSON_CreateArray();
      cJSON_AddItemToArray(off, cJSON_CreateNumber(pos));
      cJSON_AddItemToArray(off, cJSON_CreateNumber(pos + e[i].end - e[i].begin));
      cJSON_ReplaceItemInObject(one, "data_offsets", off);
      cJSON_AddItemToObject(h, e[i].t->string, one);
      cJSON_AddStringToObject(map, e[i].t->string, name);
      pos += e[i].end - e[i].begin;
    }
    total += pos;
    char *js = cJSON_PrintUnformatted(h);
    size_t jl = strlen(js), padded = (jl + 7) / 8 * 8;
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(js, 1, jl, f);
    for (size_t i = jl; i < padded; i++) fputc(' ', f);
    for (int i = lo; i < hi; i++)
      fwrite(body + (size_t)e[i].begin, 1, (size_t)(e[i].end - e[i].begin), f);
    if (fclose(f)) return 1;
    free(js);
    cJSON_Delete(h);
  }
  cJSON *meta = cJSON_AddObjectToObject(index, "metadata");
  cJSON_AddNumberToObject(meta, "total_size", total);
  cJSON_AddItemToObject(index, "weight_map", map);
  char path[4096];
  snprintf(path, sizeof path, "%s/model.safetensors.index.json", argv[2]);
  char *js = cJSON_Print(index);
  FILE *f = fopen(path, "w");
  if (!f || fputs(js, f) < 0 || fclose(f)) return 1;
  free(js);
  cJSON_Delete(index);
  cJSON_Delete(hdr);
  free(e);
  free(data);
  return 0;
}
