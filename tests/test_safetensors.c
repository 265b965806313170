/* test_safetensors: the safetensors reader and the weights folder loader.
 * Golden models: every tensor st_open reports matches an independent parse of the header,
 * config.json's sizes and dtype agree, and the F16 / BF16 copies convert to exactly the
 * F32 weights rounded. Temp files (written here, under mkdtemp) cover sharded folders,
 * unaligned data and one bad input per validation rule: each must fail with the right
 * status and a message naming the file and the problem. */
#include <cjson/cJSON.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/half.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "core/weights.h"
#include "testlib.h"

static char tmp[256];

/* ---- writing test files --------------------------------------------------------- */

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    exit(2);
  }
  if (n) fwrite(data, 1, n, f);
  fclose(f);
}

/* 8-byte length, header, data bytes (data may be NULL: that many zero bytes). The length
 * is hlen when hlen >= 0; with hlen == -1 the header is padded with spaces to a multiple of
 * 8 bytes as real writers do (data aligned); with -2 it is left unpadded. */
static void write_st(const char *path, const char *header, const void *data, size_t dlen,
                     long long hlen) {
  size_t h0 = strlen(header), h = hlen == -1 ? (h0 + 7) / 8 * 8 : h0;
  uint64_t len = hlen < 0 ? (uint64_t)h : (uint64_t)hlen;
  size_t total = 8 + h + dlen;
  uint8_t *buf = calloc(1, total);
  for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(len >> (8 * i));
  memset(buf + 8, ' ', h);
  memcpy(buf + 8, header, h0);
  if (data) memcpy(buf + 8 + h, data, dlen);
  write_bytes(path, buf, total);
  free(buf);
}

static void mkdir_p(const char *path) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
  if (system(cmd) != 0) exit(2);
}

static int contains(const char *s, const char *word) {
  return strstr(s, word) != NULL;
}

/* ---- bad inputs ----------------------------------------------------------------- */

/* Write NAME.safetensors with header and dlen zero data bytes; st_open must fail with
 * want and a message naming the file, `word` and (if given) the tensor. */
static void bad_header(const char *name, const char *header, size_t dlen, vlp_status want,
                       const char *word, const char *tensor) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.safetensors", tmp, name);
  write_st(path, header, NULL, dlen, -1);
  st_file *f = (st_file *)1;
  vlp_status st = st_open(path, &f);
  const char *msg = vlp_last_error();
  int ok = st == want && f == NULL && contains(msg, path) && contains(msg, word) &&
           (!tensor || contains(msg, tensor)) && !strchr(msg, '\n');
  CHECK(ok);
  if (!ok) fprintf(stderr, "  case %s: status %d (want %d), message: %s\n", name, st, want, msg);
  if (st == VLP_OK) st_close(f);
}

static void check_fails(const char *what, vlp_status st, vlp_status want, const char *w1,
                        const char *w2) {
  const char *msg = vlp_last_error();
  int ok = st == want && contains(msg, w1) && (!w2 || contains(msg, w2));
  CHECK(ok);
  if (!ok) fprintf(stderr, "  case %s: status %d (want %d), message: %s\n", what, st, want, msg);
}

static void test_bad_inputs(void) {
  char path[512];
  st_file *f;

  /* zero-byte and too-short files */
  snprintf(path, sizeof path, "%s/empty.safetensors", tmp);
  write_bytes(path, "", 0);
  check_fails("empty", st_open(path, &f), VLP_ERR_FORMAT, path, "too small");
  CHECK(f == NULL);
  snprintf(path, sizeof path, "%s/short.safetensors", tmp);
  write_bytes(path, "\x02\0\0\0", 4);
  check_fails("short", st_open(path, &f), VLP_ERR_FORMAT, path, "too small");

  /* header length past the end of the file (truncated file) */
  snprintf(path, sizeof path, "%s/hlen.safetensors", tmp);
  write_st(path, "{}", NULL, 0, 1000);
  check_fails("hlen past end", st_open(path, &f), VLP_ERR_FORMAT, path, "past the end");
  write_st(path, "{}", NULL, 0, (long long)0x7fffffffffffffffLL);
  check_fails("hlen huge", st_open(path, &f), VLP_ERR_FORMAT, path, "past the end");

  /* absurd header length inside a (sparse) file larger than it */
  snprintf(path, sizeof path, "%s/absurd.safetensors", tmp);
  write_st(path, "{}", NULL, 0, (101LL << 20));
  if (truncate(path, (101LL << 20) + 64) != 0) perror("truncate");
  check_fails("absurd hlen", st_open(path, &f), VLP_ERR_FORMAT, path, "absurd");
  unlink(path);

  /* file missing */
  snprintf(path, sizeof path, "%s/nope.safetensors", tmp);
  check_fails("missing file", st_open(path, &f), VLP_ERR_IO, path, "cannot open");

  bad_header("notjson", "{\"a\": {\"dtype\": ", 0, VLP_ERR_FORMAT, "not valid JSON", NULL);
  bad_header("garbage", "{} x", 0, VLP_ERR_FORMAT, "not valid JSON", NULL);
  bad_header("array", "[1, 2]", 0, VLP_ERR_FORMAT, "not a JSON object", NULL);
  bad_header("entry_not_obj", "{\"enc.w\": 3}", 0, VLP_ERR_FORMAT, "not an object", "enc.w");
  bad_header("unknown_dtype",
             "{\"enc.weight\": {\"dtype\": \"F8_E4M3\", \"shape\": [2], \"data_offsets\": [0, 2]}}",
             2, VLP_ERR_UNSUPPORTED, "unknown dtype F8_E4M3", "enc.weight");
  bad_header("no_dtype", "{\"enc.w\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", 8,
             VLP_ERR_FORMAT, "dtype", "enc.w");
  bad_header("product",
             "{\"enc.w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 20]}}", 24,
             VLP_ERR_FORMAT, "need 24 bytes", "enc.w");
  bad_header("past_end",
             "{\"enc.w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}", 16,
             VLP_ERR_FORMAT, "past the end", "enc.w");
  bad_header("overlap",
             "{\"enc.a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
             " \"enc.b\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}",
             24, VLP_ERR_FORMAT, "overlap", "enc.b");
  bad_header("overlap_same",
             "{\"enc.a\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4]},"
             " \"enc.b\": {\"dtype\": \"I8\", \"shape\": [4], \"data_offsets\": [0, 4]}}",
             4, VLP_ERR_FORMAT, "overlap", "enc.a");
  bad_header("neg_shape",
             "{\"enc.w\": {\"dtype\": \"F32\", \"shape\": [-1, 2], \"data_offsets\": [0, 8]}}", 8,
             VLP_ERR_FORMAT, "non-negative integers", "enc.w");
  bad_header("frac_shape",
             "{\"enc.w\": {\"dtype\": \"U8\", \"shape\": [1.5], \"data_offsets\": [0, 1]}}", 2,
             VLP_ERR_FORMAT, "non-negative integers", "enc.w");
  bad_header("str_shape",
             "{\"enc.w\": {\"dtype\": \"U8\", \"shape\": [\"2\"], \"data_offsets\": [0, 2]}}", 2,
             VLP_ERR_FORMAT, "non-negative integers", "enc.w");
  bad_header("shape_not_array",
             "{\"enc.w\": {\"dtype\": \"U8\", \"shape\": 2, \"data_offsets\": [0, 2]}}", 2,
             VLP_ERR_FORMAT, "shape", "enc.w");
  bad_header("many_dims",
             "{\"enc.w\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], "
             "\"data_offsets\": [0, 1]}}",
             1, VLP_ERR_UNSUPPORTED, "dims", "enc.w");
  bad_header("overflow",
             "{\"enc.w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296],"
             " \"data_offsets\": [0, 0]}}",
             0, VLP_ERR_FORMAT, "overflow", "enc.w");
  bad_header("begin_gt_end",
             "{\"enc.w\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [8, 4]}}", 8,
             VLP_ERR_FORMAT, "data_offsets", "enc.w");
  bad_header("neg_offset",
             "{\"enc.w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [-4, 0]}}", 8,
             VLP_ERR_FORMAT, "data_offsets", "enc.w");
  bad_header("three_offsets",
             "{\"enc.w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4, 8]}}", 8,
             VLP_ERR_FORMAT, "data_offsets", "enc.w");
  bad_header("duplicate",
             "{\"enc.w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [0, 4]},"
             " \"enc.w\": {\"dtype\": \"U8\", \"shape\": [4], \"data_offsets\": [4, 8]}}",
             8, VLP_ERR_FORMAT, "duplicate", "enc.w");
}

/* ---- valid small files ---------------------------------------------------------- */

static void test_valid_small(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/ok.safetensors", tmp);
  /* Names out of order, metadata, a scalar, an empty tensor, an unused gap in the data. */
  float vals[4] = {1.5f, -2.0f, 3.25f, 7.0f};
  uint8_t data[24] = {0};
  memcpy(data, vals, 16);
  data[20] = 9;
  write_st(path,
           "{\"__metadata__\": {\"format\": \"pt\"},"
           " \"z.scalar\": {\"dtype\": \"U8\", \"shape\": [], \"data_offsets\": [20, 21]},"
           " \"a.vec\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 16]},"
           " \"m.empty\": {\"dtype\": \"F16\", \"shape\": [0, 5], \"data_offsets\": [16, 16]}}   ",
           data, sizeof data, -1);
  st_file *f = NULL;
  CHECK(st_open(path, &f) == VLP_OK);
  if (!f) return;
  CHECK(f->n == 3);
  CHECK(strcmp(f->tensors[0].name, "a.vec") == 0 && strcmp(f->tensors[2].name, "z.scalar") == 0);
  const st_tensor *a = st_find(f, "a.vec"), *z = st_find(f, "z.scalar"), *m = st_find(f, "m.empty");
  CHECK(a && a->dtype == ST_F32 && a->ndim == 2 && a->shape[0] == 2 && a->nbytes == 16);
  CHECK(a && memcmp(a->data, vals, 16) == 0);
  CHECK(z && z->ndim == 0 && z->nbytes == 1 && *(const uint8_t *)z->data == 9);
  CHECK(m && m->ndim == 2 && m->shape[0] == 0 && m->shape[1] == 5 && m->nbytes == 0);
  CHECK(st_find(f, "__metadata__") == NULL);
  CHECK(st_find(f, "b") == NULL && st_find(f, "") == NULL && st_find(f, "zz") == NULL);
  CHECK(st_dtype_size(ST_BF16) == 2 && st_dtype_size(ST_I64) == 8 && st_dtype_size(ST_BOOL) == 1);
  CHECK(strcmp(st_dtype_name(ST_BF16), "BF16") == 0);
  st_close(f);

  /* An empty header object is a valid file with no tensors. */
  snprintf(path, sizeof path, "%s/none.safetensors", tmp);
  write_st(path, "{}", NULL, 0, -1);
  CHECK(st_open(path, &f) == VLP_OK && f && f->n == 0);
  st_close(f);
}

/* A model folder whose F32 data starts at an odd address: weights_f32 must hand out an
 * aligned copy (UBSan checks the reads), cached across calls. */
static void test_unaligned(void) {
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/unaligned", tmp);
  mkdir_p(dir);
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  const char *hdr =
      "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 12]},"
      " \"h\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [12, 16]}}";
  CHECK((8 + strlen(hdr)) % 4 != 0); /* the point of the test */
  uint8_t data[16];
  float vals[3] = {0.5f, -1.0f, 1e-3f};
  uint16_t hv[2] = {0x3c00, 0xc000};
  memcpy(data, vals, 12);
  memcpy(data + 12, hv, 4);
  write_st(path, hdr, data, sizeof data, -2);
  vlp_weights *w = NULL;
  CHECK(weights_open(dir, &w) == VLP_OK);
  if (!w) return;
  const float *p = NULL, *p2 = NULL, *h = NULL;
  CHECK(weights_f32(w, "w", &p, 1, 3) == VLP_OK);
  CHECK(p && ((uintptr_t)p % sizeof(float)) == 0 && p != weights_find(w, "w")->data);
  CHECK(p && p[0] == 0.5f && p[1] == -1.0f && p[2] == 1e-3f);
  CHECK(weights_f32(w, "w", &p2, 1, 3) == VLP_OK && p2 == p);
  CHECK(weights_f32(w, "h", &h, 1, 2) == VLP_OK && h && h[0] == 1.0f && h[1] == -2.0f);
  weights_close(w);
}

/* ---- weights folders ------------------------------------------------------------ */

static void test_weights_errors(void) {
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/model_a", tmp);
  mkdir_p(dir);
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  int64_t iv = 42;
  uint8_t data[32] = {0};
  memcpy(data + 24, &iv, 8);
  write_st(path,
           "{\"enc.weight\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},"
           " \"enc.ids\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [24, 32]}}",
           data, sizeof data, -1);
  vlp_weights *w = NULL;
  CHECK(weights_open(dir, &w) == VLP_OK);
  if (!w) return;
  const float *p = (const float *)1;
  check_fails("missing tensor", weights_f32(w, "enc.bias", &p, 1, 3), VLP_ERR_MODEL, path,
              "missing tensor enc.bias");
  CHECK(p == NULL);
  check_fails("wrong shape", weights_f32(w, "enc.weight", &p, 2, 3, 2), VLP_ERR_MODEL,
              "enc.weight has shape [2, 3], expected [3, 2]", path);
  check_fails("wrong ndim", weights_f32(w, "enc.weight", &p, 3, 2, 3, 1), VLP_ERR_MODEL,
              "expected [2, 3, 1]", path);
  check_fails("int dtype", weights_f32(w, "enc.ids", &p, 1, 1), VLP_ERR_UNSUPPORTED, "I64",
              "enc.ids");
  CHECK(weights_f32(w, "enc.weight", &p, 2, 2, 3) == VLP_OK &&
        p == weights_find(w, "enc.weight")->data);
  CHECK(weights_find(w, "enc.nope") == NULL);
  CHECK(weights_bytes(w) == 32);
  CHECK(weights_main_dtype(w) == ST_F32);
  weights_close(w);

  /* A folder with no weights, and one whose file is corrupt. */
  snprintf(dir, sizeof dir, "%s/model_empty", tmp);
  mkdir_p(dir);
  check_fails("empty folder", weights_open(dir, &w), VLP_ERR_IO, dir, "model.safetensors");
  CHECK(w == NULL);
  snprintf(dir, sizeof dir, "%s/model_bad", tmp);
  mkdir_p(dir);
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  write_bytes(path, "", 0);
  check_fails("corrupt file", weights_open(dir, &w), VLP_ERR_FORMAT, path, "too small");
}

static void test_sharded(void) {
  char dir[512], p1[600], p2[600], idx[600];
  snprintf(dir, sizeof dir, "%s/sharded", tmp);
  mkdir_p(dir);
  snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", dir);
  snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", dir);
  snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);

  /* shard 1: a F32 [2, 3] = 0..5, b BF16 [4]; shard 2: c F16 [2], d I64 [1] */
  uint8_t d1[32];
  for (int i = 0; i < 6; i++) {
    float v = (float)i;
    memcpy(d1 + 4 * i, &v, 4);
  }
  float bv[4] = {1.0f, -2.0f, 0.5f, 3.0f};
  for (int i = 0; i < 4; i++) {
    uint16_t h = f32_to_bf16(bv[i]);
    memcpy(d1 + 24 + 2 * i, &h, 2);
  }
  write_st(p1,
           "{\"b\": {\"dtype\": \"BF16\", \"shape\": [4], \"data_offsets\": [24, 32]},"
           " \"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}",
           d1, sizeof d1, -1);
  uint8_t d2[12] = {0};
  uint16_t cv[2] = {0x3c00, 0x3555};
  memcpy(d2, cv, 4);
  write_st(p2,
           "{\"c\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [0, 4]},"
           " \"d\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [4, 12]}}",
           d2, sizeof d2, -1);
  const char *good =
      "{\"metadata\": {\"total_size\": 44}, \"weight_map\": {"
      "\"a\": \"model-00001-of-00002.safetensors\","
      " \"b\": \"model-00001-of-00002.safetensors\","
      " \"c\": \"model-00002-of-00002.safetensors\","
      " \"d\": \"model-00002-of-00002.safetensors\"}}";
  write_bytes(idx, good, strlen(good));

  vlp_weights *w = NULL;
  CHECK(weights_open(dir, &w) == VLP_OK);
  if (w) {
    const float *a = NULL, *b = NULL, *b2 = NULL, *c = NULL;
    CHECK(weights_f32(w, "a", &a, 2, 2, 3) == VLP_OK && a && a[5] == 5.0f);
    CHECK(weights_f32(w, "b", &b, 1, 4) == VLP_OK && b && b[0] == 1.0f && b[1] == -2.0f &&
          b[2] == 0.5f && b[3] == 3.0f);
    CHECK(weights_f32(w, "b", &b2, 1, 4) == VLP_OK && b2 == b);
    CHECK(weights_f32(w, "c", &c, 1, 2) == VLP_OK && c && c[0] == 1.0f && c[1] == 0.333251953125f);
    CHECK(weights_find(w, "d") && weights_find(w, "d")->dtype == ST_I64);
    check_fails("sharded missing", weights_f32(w, "e", &a, 1, 1), VLP_ERR_MODEL, idx,
                "missing tensor e");
    CHECK(weights_bytes(w) == 44);
    CHECK(weights_main_dtype(w) == ST_F32);
    weights_close(w);
  }

  /* weight_map names a tensor its shard does not have */
  const char *lying =
      "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\","
      " \"e\": \"model-00002-of-00002.safetensors\"}}";
  write_bytes(idx, lying, strlen(lying));
  check_fails("index lists absent tensor", weights_open(dir, &w), VLP_ERR_MODEL, p2,
              "missing tensor e");
  CHECK(w == NULL);
  /* a shard file that does not exist */
  const char *noshard = "{\"weight_map\": {\"a\": \"model-00009-of-00009.safetensors\"}}";
  write_bytes(idx, noshard, strlen(noshard));
  check_fails("missing shard", weights_open(dir, &w), VLP_ERR_IO,
              "model-00009-of-00009.safetensors", "cannot open");
  /* a shard path leaving the folder */
  const char *escape = "{\"weight_map\": {\"a\": \"../x.safetensors\"}}";
  write_bytes(idx, escape, strlen(escape));
  check_fails("shard escape", weights_open(dir, &w), VLP_ERR_FORMAT, idx, "bad shard");
  /* index.json not JSON, and without weight_map */
  write_bytes(idx, "{\"weight_map\": ", 15);
  check_fails("index not json", weights_open(dir, &w), VLP_ERR_FORMAT, idx, "JSON");
  write_bytes(idx, "{}", 2);
  check_fails("index no map", weights_open(dir, &w), VLP_ERR_FORMAT, idx, "weight_map");
}

/* ---- golden models -------------------------------------------------------------- */

static st_dtype dtype_of_torch(const char *s) {
  if (s && strcmp(s, "float16") == 0) return ST_F16;
  if (s && strcmp(s, "bfloat16") == 0) return ST_BF16;
  return ST_F32;
}

/* Compare st_open's view of `path` with an independent parse of its header. */
static void check_against_header(const char *path, const st_file *f) {
  char *raw = NULL;
  size_t n = 0;
  if (read_file(path, &raw, &n) != VLP_OK || n < 8) {
    CHECK(0);
    free(raw);
    return;
  }
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | (uint8_t)raw[i];
  cJSON *j = cJSON_ParseWithLength(raw + 8, (size_t)hlen);
  CHECK(j != NULL);
  int count = 0, bad = 0;
  uint64_t total = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, j) {
    if (strcmp(e->string, "__metadata__") == 0) continue;
    count++;
    const st_tensor *t = st_find(f, e->string);
    const cJSON *off = cJSON_GetObjectItem(e, "data_offsets");
    const cJSON *shape = cJSON_GetObjectItem(e, "shape");
    uint64_t b = (uint64_t)cJSON_GetArrayItem(off, 0)->valuedouble;
    uint64_t en = (uint64_t)cJSON_GetArrayItem(off, 1)->valuedouble;
    total += en - b;
    if (!t || strcmp(st_dtype_name(t->dtype), cJSON_GetObjectItem(e, "dtype")->valuestring) ||
        t->ndim != cJSON_GetArraySize(shape) || t->nbytes != en - b ||
        (const uint8_t *)t->data != (const uint8_t *)f->map + 8 + hlen + b) {
      bad++;
      continue;
    }
    for (int k = 0; k < t->ndim; k++)
      if (t->shape[k] != (int64_t)cJSON_GetArrayItem(shape, k)->valuedouble) bad++;
  }
  CHECK(bad == 0);
  CHECK(count == f->n);
  CHECK(total == n - 8 - hlen); /* the golden files are contiguous */
  for (int i = 1; i < f->n; i++)
    if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) >= 0) bad++;
  CHECK(bad == 0);
  cJSON_Delete(j);
  free(raw);
}

static void test_golden_models(void) {
  glob_t g;
  CHECK(glob("golden/models/*/model.safetensors", 0, NULL, &g) == 0);
  CHECK(g.gl_pathc >= 6);
  cJSON *info = NULL;
  CHECK(json_load_file("golden/models/models_info.json", &info) == VLP_OK);
  for (size_t i = 0; i < g.gl_pathc; i++) {
    const char *path = g.gl_pathv[i];
    char dir[512], cfg_path[600], model[128];
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
    snprintf(model, sizeof model, "%s", strrchr(dir, '/') + 1);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);

    st_file *f = NULL;
    CHECK(st_open(path, &f) == VLP_OK);
    if (!f) {
      fprintf(stderr, "  %s\n", vlp_last_error());
      continue;
    }
    check_against_header(path, f);
    const cJSON *mi = json_obj(info, model);
    int want_n = json_int(mi, "n_tensors_in_file", -1);
    if (want_n >= 0) CHECK(f->n == want_n);

    /* Sizes and dtype from config.json. */
    cJSON *cfg = NULL;
    CHECK(json_load_file(cfg_path, &cfg) == VLP_OK);
    const cJSON *vc = json_obj(cfg, "vision_config");
    int hidden = json_int(vc, "hidden_size", -1), patch = json_int(vc, "patch_size", -1);
    int chans = json_int(vc, "num_channels", 3);
    st_dtype dt = dtype_of_torch(json_str(cfg, "torch_dtype", "float32"));
    const st_tensor *pe = st_find(f, "vision_model.embeddings.patch_embedding.weight");
    CHECK(pe && pe->dtype == dt && pe->ndim == 4 && pe->shape[0] == hidden &&
          pe->shape[1] == chans && pe->shape[2] == patch && pe->shape[3] == patch);

    vlp_weights *w = NULL;
    CHECK(weights_open(dir, &w) == VLP_OK);
    if (w) {
      const float *p = NULL;
      CHECK(weights_f32(w, "vision_model.embeddings.patch_embedding.weight", &p, 4, hidden, chans,
                        patch, patch) == VLP_OK &&
            p);
      if (dt == ST_F32) CHECK(p == weights_find(w, pe->name)->data); /* no copy */
      CHECK(weights_main_dtype(w) == dt);
      size_t total = 0;
      for (int k = 0; k < f->n; k++) total += f->tensors[k].nbytes;
      CHECK(weights_bytes(w) == total);
      weights_close(w);
    }
    cJSON_Delete(cfg);
    st_close(f);
  }
  cJSON_Delete(info);
  globfree(&g);
}

/* weights_f32 with the tensor's own shape (up to 4 dims). */
static vlp_status get_own_shape(vlp_weights *w, const st_tensor *t, const float **p) {
  const int64_t *s = t->shape;
  switch (t->ndim) {
    case 0:
      return weights_f32(w, t->name, p, 0);
    case 1:
      return weights_f32(w, t->name, p, 1, (int)s[0]);
    case 2:
      return weights_f32(w, t->name, p, 2, (int)s[0], (int)s[1]);
    case 3:
      return weights_f32(w, t->name, p, 3, (int)s[0], (int)s[1], (int)s[2]);
    case 4:
      return weights_f32(w, t->name, p, 4, (int)s[0], (int)s[1], (int)s[2], (int)s[3]);
  }
  return VLP_ERR_UNSUPPORTED;
}

/* Every tensor of the reduced-precision copy converts to exactly the F32 value rounded. */
static void test_reduced_precision(const char *f32_dir, const char *low_dir, int bf16) {
  vlp_weights *a = NULL, *b = NULL;
  CHECK(weights_open(f32_dir, &a) == VLP_OK);
  CHECK(weights_open(low_dir, &b) == VLP_OK);
  if (!a || !b) {
    weights_close(a);
    weights_close(b);
    return;
  }
  CHECK(weights_main_dtype(b) == (bf16 ? ST_BF16 : ST_F16));
  st_file *fa = NULL;
  char path[600];
  snprintf(path, sizeof path, "%s/model.safetensors", f32_dir);
  CHECK(st_open(path, &fa) == VLP_OK);
  if (!fa) return;
  size_t values = 0, mismatch = 0;
  int tensors = 0, failed = 0;
  for (int i = 0; i < fa->n; i++) {
    const st_tensor *t = &fa->tensors[i];
    const float *x = NULL, *y = NULL, *y2 = NULL;
    if (get_own_shape(a, t, &x) != VLP_OK || get_own_shape(b, t, &y) != VLP_OK ||
        get_own_shape(b, t, &y2) != VLP_OK || y2 != y) {
      failed++;
      continue;
    }
    tensors++;
    size_t n = t->nbytes / 4;
    for (size_t k = 0; k < n; k++) {
      float r = bf16 ? bf16_to_f32(f32_to_bf16(x[k])) : f16_to_f32(f32_to_f16(x[k]));
      if (memcmp(&r, &y[k], 4) != 0) mismatch++;
    }
    values += n;
  }
  CHECK(failed == 0);
  CHECK(tensors == fa->n && values > 100000);
  CHECK(mismatch == 0);
  if (mismatch || failed)
    fprintf(stderr, "  %s vs %s: %zu of %zu values differ, %d tensors failed\n", f32_dir, low_dir,
            mismatch, values, failed);
  st_close(fa);
  weights_close(a);
  weights_close(b);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  return remove(p);
}

int main(void) {
  snprintf(tmp, sizeof tmp, "/tmp/vlp_test_st_XXXXXX");
  if (!mkdtemp(tmp)) {
    perror("mkdtemp");
    return 2;
  }
  test_bad_inputs();
  test_valid_small();
  test_unaligned();
  test_weights_errors();
  test_sharded();
  test_golden_models();
  test_reduced_precision("golden/models/clip-tiny", "golden/models/clip-tiny-f16", 0);
  test_reduced_precision("golden/models/blip-caption-tiny", "golden/models/blip-caption-tiny-bf16",
                         1);
  nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return test_done();
}
