/* test_vit: the BLIP / CLIP vision towers against the golden data (every image case of
 * the caption, caption-bf16, itm, vqa, clip, clip-f16 and interpolation manifests), batched
 * forward == single forwards, config parsing and its errors, wrong-shape weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/npy.h"
#include "core/weights.h"
#include "core/workspace.h"
#include "testlib.h"
#include "vision/vit.h"

/* One workspace for every forward of this single-threaded test. */
static vlp_ws ws;

#define GOLDEN "golden/"

typedef struct {
  vlp_weights *w;
  vit_model *m;
} tower;

static int open_tower(const char *model_rel, vit_kind kind, tower *t) {
  char dir[512], cfgp[600];
  snprintf(dir, sizeof dir, GOLDEN "%s", model_rel);
  snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
  t->w = NULL;
  t->m = NULL;
  cJSON *cfg = NULL;
  vit_config c;
  vlp_status st = json_load_file(cfgp, &cfg);
  if (!st) st = vit_config_from_json(json_obj(cfg, "vision_config"), kind, cfgp, &c);
  if (!st) st = weights_open(dir, &t->w);
  if (!st) st = vit_load(t->w, "vision_model.", &c, &t->m);
  cJSON_Delete(cfg);
  if (st) fprintf(stderr, "open %s: %s\n", model_rel, vlp_last_error());
  CHECK(st == VLP_OK);
  return st == VLP_OK;
}

static void close_tower(tower *t) {
  vit_free(t->m);
  weights_close(t->w);
}

static int load_npy(const char *rel, npy_array *a) {
  char p[600];
  snprintf(p, sizeof p, GOLDEN "%s", rel);
  vlp_status st = npy_load(p, a);
  if (st) fprintf(stderr, "%s\n", vlp_last_error());
  CHECK(st == VLP_OK && a->dtype == NPY_F32);
  return st == VLP_OK && a->dtype == NPY_F32;
}

/* Compare got (n floats) with the ENTRY of the manifest. */
static void compare_entry(const char *what, const cJSON *entry, const cJSON *deftol,
                          const float *got, size_t n) {
  double atol = json_num(entry, "atol", json_num(deftol, "atol", 1e-4));
  double rtol = json_num(entry, "rtol", json_num(deftol, "rtol", 1e-4));
  npy_array want;
  if (!load_npy(json_str(entry, "npy", ""), &want)) return;
  CHECK(want.count == n);
  if (want.count == n) test_allclose(what, got, (const float *)want.data, n, atol, rtol);
  npy_free(&want);
}

/* "images/astronaut.png" -> "astronaut" */
static void image_stem(const char *img, char *out, size_t cap) {
  const char *s = strrchr(img, '/');
  s = s ? s + 1 : img;
  snprintf(out, cap, "%s", s);
  char *dot = strrchr(out, '.');
  if (dot) *dot = 0;
}

/* One forward of pixel npy `pix_rel` through t; compares `hid_key` / `pool_key` entries. */
static void run_case(tower *t, const char *id, const char *pix_rel, const cJSON *exp,
                     const char *hid_key, const char *pool_key, const cJSON *deftol) {
  npy_array px;
  if (!load_npy(pix_rel, &px)) return;
  CHECK(px.ndim == 4 && px.shape[0] == 1 && px.shape[1] == 3 && px.shape[2] == px.shape[3]);
  int S = (int)px.shape[2];
  int T = vit_tokens(t->m, S), D = vit_cfg(t->m)->hidden;
  float *hid = malloc((size_t)T * D * sizeof *hid);
  float *pool = malloc((size_t)D * sizeof *pool);
  vlp_status st = vit_forward(t->m, &ws, (const float *)px.data, 1, S, hid);
  if (st) fprintf(stderr, "%s: %s\n", id, vlp_last_error());
  CHECK(st == VLP_OK);
  char what[256];
  const cJSON *e = json_obj(exp, hid_key);
  if (e) {
    snprintf(what, sizeof what, "%s %s", id, hid_key);
    compare_entry(what, e, deftol, hid, (size_t)T * D);
  }
  e = pool_key ? json_obj(exp, pool_key) : NULL;
  if (e) {
    vit_pool(t->m, hid, 1, T, pool);
    snprintf(what, sizeof what, "%s %s", id, pool_key);
    compare_entry(what, e, deftol, pool, (size_t)D);
  }
  free(hid);
  free(pool);
  npy_free(&px);
}

/* Every case of a manifest that has vision_last_hidden_state. */
static void run_manifest(const char *name, vit_kind kind) {
  char p[256];
  snprintf(p, sizeof p, GOLDEN "cases/%s", name);
  cJSON *man = NULL;
  if (json_load_file(p, &man)) {
    fprintf(stderr, "%s\n", vlp_last_error());
    CHECK(0);
    return;
  }
  tower t;
  if (!open_tower(json_str(man, "model", ""), kind, &t)) {
    cJSON_Delete(man);
    return;
  }
  const cJSON *deftol = json_obj(man, "default_tolerance");
  const cJSON *c;
  int ran = 0;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(man, "cases")) {
    const cJSON *exp = json_obj(c, "expected");
    if (!json_obj(exp, "vision_last_hidden_state")) continue;
    char stem[128], pix[300], id[300];
    image_stem(json_str(json_obj(c, "inputs"), "image", ""), stem, sizeof stem);
    snprintf(pix, sizeof pix, "npy/preprocess/%s/%s_pixel_values.npy", stem,
             kind == VIT_BLIP ? "blip" : "clip");
    snprintf(id, sizeof id, "%s %s", name, json_str(c, "id", "?"));
    run_case(&t, id, pix, exp, "vision_last_hidden_state", "vision_pooler_output", deftol);
    ran++;
  }
  printf("%s: %d vision cases\n", name, ran);
  CHECK(ran > 0);
  close_tower(&t);
  cJSON_Delete(man);
}

/* interpolate_pos_encoding.json: BLIP through blip-caption-tiny, CLIP through clip-tiny. */
static void run_interp(void) {
  cJSON *man = NULL;
  if (json_load_file(GOLDEN "cases/interpolate_pos_encoding.json", &man)) {
    CHECK(0);
    return;
  }
  tower b, c;
  if (!open_tower("models/blip-caption-tiny", VIT_BLIP, &b)) return;
  if (!open_tower("models/clip-tiny", VIT_CLIP, &c)) return;
  const cJSON *deftol = json_obj(man, "default_tolerance");
  const cJSON *cs;
  int ran = 0;
  for (int pass = 0; pass < 2; pass++) { /* pass 1 hits the cached interpolated table */
    cJSON_ArrayForEach(cs, cJSON_GetObjectItemCaseSensitive(man, "cases")) {
      const cJSON *exp = json_obj(cs, "expected");
      char id[200];
      snprintf(id, sizeof id, "interp %s pass %d", json_str(cs, "id", "?"), pass);
      run_case(&b, id, json_str(json_obj(exp, "blip_pixel_values"), "npy", ""), exp,
               "blip_vision_last_hidden_state", "blip_vision_pooler_output", deftol);
      run_case(&c, id, json_str(json_obj(exp, "clip_pixel_values"), "npy", ""), exp,
               "clip_vision_last_hidden_state", "clip_vision_pooler_output", deftol);
      ran++;
    }
  }
  CHECK(ran == 6);
  printf("interpolate_pos_encoding: %d cases x 2 towers\n", ran / 2);
  close_tower(&b);
  close_tower(&c);
  cJSON_Delete(man);
}

/* B=3 in one call == three B=1 calls (also at an interpolated size). */
static void run_batch(const char *model, vit_kind kind, int S) {
  tower t;
  if (!open_tower(model, kind, &t)) return;
  const char *imgs[3] = {"astronaut", "coffee", "rocket"};
  int T = vit_tokens(t.m, S), D = vit_cfg(t.m)->hidden;
  size_t img = (size_t)3 * S * S, out = (size_t)T * D;
  float *px = calloc(3 * img, sizeof *px);
  float *batched = malloc(3 * out * sizeof *px), *single = malloc(3 * out * sizeof *px);
  float *pb = malloc(3 * (size_t)D * sizeof *px), *ps = malloc(3 * (size_t)D * sizeof *px);
  for (int i = 0; i < 3; i++) {
    /* golden pixels at 64, or a deterministic pattern at other sizes */
    npy_array a = {0};
    char rel[200];
    snprintf(rel, sizeof rel, "npy/preprocess/%s/%s_pixel_values.npy", imgs[i],
             kind == VIT_BLIP ? "blip" : "clip");
    if (load_npy(rel, &a) && a.count == img) {
      memcpy(px + i * img, a.data, img * sizeof *px);
    } else {
      for (size_t j = 0; j < img; j++)
        px[i * img + j] = (float)((j * 7919 + i * 131) % 1000) / 500 - 1;
    }
    if (a.data) npy_free(&a);
  }
  CHECK(vit_forward(t.m, &ws, px, 3, S, batched) == VLP_OK);
  vit_pool(t.m, batched, 3, T, pb);
  for (int i = 0; i < 3; i++) {
    CHECK(vit_forward(t.m, &ws, px + i * img, 1, S, single + i * out) == VLP_OK);
    vit_pool(t.m, single + i * out, 1, T, ps + (size_t)i * D);
  }
  char what[200];
  snprintf(what, sizeof what, "batch of 3 == 3 singles (%s, S=%d)", model, S);
  test_allclose(what, batched, single, 3 * out, 1e-5, 1e-5);
  test_allclose("batched pool == single pools", pb, ps, 3 * (size_t)D, 1e-5, 1e-5);
  free(px);
  free(batched);
  free(single);
  free(pb);
  free(ps);
  close_tower(&t);
}

static void run_config_tests(void) {
  vit_config c;
  cJSON *o = cJSON_CreateObject();
  /* all defaults */
  CHECK(vit_config_from_json(o, VIT_BLIP, "x/config.json", &c) == VLP_OK);
  CHECK(c.hidden == 768 && c.layers == 12 && c.heads == 12 && c.mlp == 3072 &&
        c.image_size == 384 && c.patch_size == 16 && c.channels == 3 && c.act == ACT_GELU &&
        c.eps == 1e-5f && c.kind == VIT_BLIP);
  CHECK(vit_config_from_json(NULL, VIT_CLIP, "x/config.json", &c) == VLP_OK);
  CHECK(c.image_size == 224 && c.patch_size == 32 && c.act == ACT_QUICK_GELU && c.kind == VIT_CLIP);
  /* hidden not divisible by heads */
  cJSON_AddNumberToObject(o, "hidden_size", 64);
  cJSON_AddNumberToObject(o, "num_attention_heads", 5);
  CHECK(vit_config_from_json(o, VIT_BLIP, "x/config.json", &c) == VLP_ERR_MODEL);
  CHECK(strstr(vlp_last_error(), "x/config.json") &&
        strstr(vlp_last_error(), "num_attention_heads"));
  cJSON_ReplaceItemInObject(o, "num_attention_heads", cJSON_CreateNumber(4));
  CHECK(vit_config_from_json(o, VIT_BLIP, "x/config.json", &c) == VLP_OK && c.hidden == 64);
  /* image not a multiple of patch */
  cJSON_AddNumberToObject(o, "image_size", 100);
  CHECK(vit_config_from_json(o, VIT_BLIP, "x/config.json", &c) == VLP_ERR_MODEL);
  CHECK(strstr(vlp_last_error(), "patch_size") != NULL);
  cJSON_ReplaceItemInObject(o, "image_size", cJSON_CreateNumber(96));
  /* non-positive / non-integer / wrong type */
  cJSON_AddNumberToObject(o, "num_hidden_layers", 0);
  CHECK(vit_config_from_json(o, VIT_BLIP, "x/config.json", &c) == VLP_ERR_MODEL);
  CHECK(strstr(vlp_last_error(), "num_hidden_layers") != NULL);
  cJSON_ReplaceItemInObject(o, "num_hidden_layers", cJSON_CreateNumber(2.5));
  CHECK(vit_config_from_json(o, VIT_BLIP, "x/config.json", &c) == VLP_ERR_MODEL);
  cJSON_ReplaceItemInObject(o, "num_hidden_layers", cJSON_CreateString("2"));
  CHECK(vit_config_from_json(o, VIT_BLIP, "x/config.json", &c) == VLP_ERR_MODEL);
  cJSON_ReplaceItemInObject(o, "num_hidden_layers", cJSON_CreateNumber(2));
  cJSON_AddNumberToObject(o, "layer_norm_eps", -1);
  CHECK(vit_config_from_json(o, VIT_BLIP, "x/config.json", &c) == VLP_ERR_MODEL);
  cJSON_ReplaceItemInObject(o, "layer_norm_eps", cJSON_CreateNumber(1e-6));
  /* activation */
  cJSON_AddStringToObject(o, "hidden_act", "relu");
  CHECK(vit_config_from_json(o, VIT_BLIP, "x/config.json", &c) == VLP_ERR_UNSUPPORTED);
  CHECK(strstr(vlp_last_error(), "relu") != NULL);
  cJSON_ReplaceItemInObject(o, "hidden_act", cJSON_CreateString("quick_gelu"));
  CHECK(vit_config_from_json(o, VIT_BLIP, "x/config.json", &c) == VLP_OK);
  CHECK(c.act == ACT_QUICK_GELU && c.eps == 1e-6f && c.layers == 2 && c.image_size == 96);
  cJSON_Delete(o);
}

/* A config that disagrees with the weights: every mismatch is a load error naming the tensor. */
static void run_wrong_shape(void) {
  vlp_weights *w = NULL;
  if (weights_open(GOLDEN "models/blip-caption-tiny", &w)) {
    CHECK(0);
    return;
  }
  vit_config c = {.kind = VIT_BLIP,
                  .hidden = 64,
                  .layers = 2,
                  .heads = 4,
                  .mlp = 128,
                  .image_size = 128,
                  .patch_size = 16,
                  .channels = 3,
                  .eps = 1e-5f,
                  .act = ACT_GELU};
  vit_model *m = (vit_model *)1;
  CHECK(vit_load(w, "vision_model.", &c, &m) == VLP_ERR_MODEL && m == NULL);
  CHECK(strstr(vlp_last_error(), "position_embedding") != NULL);
  c.image_size = 64;
  c.mlp = 256;
  CHECK(vit_load(w, "vision_model.", &c, &m) == VLP_ERR_MODEL && m == NULL);
  CHECK(strstr(vlp_last_error(), "fc1") != NULL);
  c.mlp = 128;
  c.layers = 3; /* layer 2 missing */
  CHECK(vit_load(w, "vision_model.", &c, &m) != VLP_OK && m == NULL);
  CHECK(strstr(vlp_last_error(), "layers.2") != NULL);
  c.layers = 2;
  c.kind = VIT_CLIP; /* CLIP names are absent from a BLIP file */
  CHECK(vit_load(w, "vision_model.", &c, &m) != VLP_OK && m == NULL);
  c.kind = VIT_BLIP;
  c.heads = 5;
  CHECK(vit_load(w, "vision_model.", &c, &m) == VLP_ERR_MODEL && m == NULL);
  c.heads = 4;
  CHECK(vit_load(w, "vision_model.", &c, &m) == VLP_OK && m != NULL);
  /* bad input sizes */
  float px[3 * 64 * 64] = {0};
  float out[17 * 64];
  CHECK(vit_forward(m, &ws, px, 1, 60, out) == VLP_ERR_INVALID);
  CHECK(vit_forward(m, &ws, px, 0, 64, out) == VLP_ERR_INVALID);
  CHECK(vit_forward(m, &ws, px, 1, 0, out) == VLP_ERR_INVALID);
  CHECK(vit_tokens(m, 64) == 17 && vit_tokens(m, 128) == 65);
  vit_free(m);
  weights_close(w);
}

int main(void) {
  run_config_tests();
  run_wrong_shape();
  run_manifest("blip_caption.json", VIT_BLIP);
  run_manifest("blip_caption_bf16.json", VIT_BLIP);
  run_manifest("blip_itm.json", VIT_BLIP);
  run_manifest("blip_vqa.json", VIT_BLIP);
  run_manifest("clip.json", VIT_CLIP);
  run_manifest("clip_f16.json", VIT_CLIP);
  run_interp();
  run_batch("models/blip-caption-tiny", VIT_BLIP, 64);
  run_batch("models/clip-tiny", VIT_CLIP, 64);
  run_batch("models/clip-tiny", VIT_CLIP, 96);
  return test_done();
}
