/* test_siglip: SiglipModel through the public API (vlp.h) against golden/cases/siglip.json
 * and siglip_bf16.json: text and image embeddings, a batch of images equal to the images one
 * by one, zero-shot tags (sigmoid per label, the pipeline's template and ranking), the match
 * score and logit; an F16 copy of the checkpoint (written here) gives the same embeddings
 * within F16 rounding; an input size that is not a multiple of the patch size uses
 * floor(S / patch) patches as the reference's Conv2d (so400m: 384 / 14); then bad model
 * folders, each one clear one-line error naming the file
 * and the tensor or field: spiece.model missing or corrupt, a config that disagrees with
 * the weights or with itself, a missing probe, text head or logit_bias. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/half.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "core/workspace.h"
#include "fusion/siglip.h"
#include "golden_common.h"
#include "testlib.h"
#include "vlp.h"

#define TINY "golden/models/siglip-tiny"

static float *expected(const cJSON *c, const char *key, size_t *n) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(json_obj(c, "expected"), key);
  const char *npy = json_str(e, "npy", NULL);
  return npy ? golden_floats(npy, n) : NULL;
}

static const cJSON *case_named(const cJSON *m, const char *id) {
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(m, "cases")) {
    if (!strcmp(json_str(c, "id", ""), id)) return c;
  }
  return NULL;
}

static int load_image(const char *rel, vlp_image *img) {
  char p[512];
  snprintf(p, sizeof p, "golden/%s", rel);
  return vlp_image_load(p, img) == VLP_OK;
}

/* One model folder against its manifest (tol: the manifest's embeddings tolerance). */
static void golden(const char *dir, const char *manifest, double tol) {
  cJSON *m = golden_manifest(manifest);
  vlp_model *model = NULL;
  vlp_session *s = NULL;
  if (!m || vlp_model_load(dir, &model) || vlp_session_new(model, NULL, &s)) {
    fprintf(stderr, "%s: %s\n", dir, vlp_last_error());
    CHECK(0);
    cJSON_Delete(m);
    vlp_model_free(model);
    return;
  }
  CHECK(vlp_model_arch(model) == VLP_ARCH_SIGLIP);
  CHECK(!strcmp(vlp_arch_name(VLP_ARCH_SIGLIP), "SiglipModel"));
  const int D = vlp_model_embed_dim(model);
  CHECK(D == 32);
  CHECK(!strcmp(vlp_tag_default_template(model), "This is a photo of {}."));

  /* text embeddings of every text case, as one batch */
  const char *texts[64];
  const cJSON *cases[64];
  int nt = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(m, "cases")) {
    const char *t = json_str(json_obj(c, "inputs"), "text", NULL);
    if (t && nt < 64) cases[nt] = c, texts[nt++] = t;
  }
  CHECK(nt == 13 && !texts[3][0]);
  /* the reference's "" (texts[3]: just the end token, padded) is a text like any other */
  float *temb = malloc((size_t)nt * D * sizeof *temb);
  CHECK(vlp_embed_texts(s, texts, nt, temb) == VLP_OK);
  for (int i = 0; i < nt; i++) {
    size_t n = 0;
    float *want = expected(cases[i], "text_embeds", &n);
    CHECK(want && n == (size_t)D &&
          test_allclose(json_str(cases[i], "id", "?"), temb + (size_t)i * D, want, n, tol, tol));
    free(want);
  }

  /* three photos in one batch == one by one == the reference; match score and logit */
  static const char *const photos[] = {"astronaut", "coffee", "rocket"};
  vlp_image imgs[3] = {{0}};
  float batch[3 * 32], one[32];
  for (int i = 0; i < 3; i++) {
    const cJSON *ic = case_named(m, photos[i]);
    CHECK(ic && load_image(json_str(json_obj(ic, "inputs"), "image", ""), &imgs[i]));
  }
  CHECK(vlp_embed_images(s, imgs, 3, 0, batch) == VLP_OK);
  for (int i = 0; i < 3; i++) {
    const cJSON *ic = case_named(m, photos[i]);
    size_t n = 0, nl = 0;
    float *want = expected(ic, "image_embeds", &n), *logits = expected(ic, "logits_per_image", &nl);
    CHECK(vlp_embed_images(s, &imgs[i], 1, 0, one) == VLP_OK);
    CHECK(test_allclose("batch vs single", batch + i * D, one, (size_t)D, 1e-6, 1e-5));
    CHECK(want && test_allclose(photos[i], one, want, n, tol, tol));
    vlp_features *f = NULL;
    float score = 0, logit = 0;
    CHECK(vlp_encode_images(s, &imgs[i], 1, 0, &f) == VLP_OK);
    CHECK(vlp_match(s, f, 0, texts[0], &score, &logit) == VLP_OK);
    CHECK(logits && fabsf(logit - logits[0]) < 5e-4f * (tol > 1e-4 ? 2 : 1));
    CHECK(fabsf(score - 1.0f / (1.0f + expf(-logit))) < 1e-6f);
    CHECK(vlp_match(s, f, 0, "", &score, &logit) == VLP_OK && logits &&
          fabsf(logit - logits[3]) < 5e-4f * (tol > 1e-4 ? 2 : 1)); /* "" is text case 3 */
    float itm, itc;
    CHECK(vlp_itm(s, f, 0, texts[0], &itm, &itc) == VLP_ERR_INVALID); /* BLIP's call */
    vlp_features_free(f);
    free(want);
    free(logits);
    vlp_image_free(&imgs[i]);
  }

  /* zero-shot: labels through the default template, sigmoid scores, ranking */
  const cJSON *z = case_named(m, "zeroshot/grass_gray");
  const cJSON *labels = json_arr(json_obj(z, "inputs"), "candidate_labels");
  int L = cJSON_GetArraySize(labels);
  const char *names[16];
  for (int i = 0; i < L && i < 16; i++)
    names[i] = cJSON_GetStringValue(cJSON_GetArrayItem(labels, i));
  vlp_labels *set = NULL;
  vlp_image img = {0};
  vlp_features *f = NULL;
  vlp_tag_result tags[16];
  size_t ns = 0;
  float *scores = expected(z, "scores", &ns);
  CHECK(L == 8 && scores && ns == 8);
  if (L == 8 && scores && vlp_labels_new(s, names, L, NULL, &set) == VLP_OK &&
      load_image(json_str(json_obj(z, "inputs"), "image", ""), &img) &&
      vlp_encode_images(s, &img, 1, 0, &f) == VLP_OK && vlp_tag(s, f, 0, set, tags) == VLP_OK) {
    const cJSON *rank = golden_value(z, "ranking");
    float sum = 0;
    for (int j = 0; j < L; j++) {
      CHECK(fabs(tags[j].score - scores[tags[j].label]) <= tol + tol * fabs(scores[tags[j].label]));
      CHECK(!strcmp(tags[j].text, cJSON_GetStringValue(cJSON_GetArrayItem(rank, j))));
      sum += tags[j].score;
    }
    CHECK(sum > 1.5f); /* independent sigmoids, not a softmax that sums to 1 */
  } else {
    fprintf(stderr, "zero-shot: %s\n", vlp_last_error());
    CHECK(0);
  }
  free(scores);
  vlp_features_free(f);
  vlp_image_free(&img);
  vlp_labels_free(set);
  free(temb);
  vlp_session_free(s);
  vlp_model_free(model);
  cJSON_Delete(m);
}

/* ---- bad folders ------------------------------------------------------------------------ */

static char root[] = "/tmp/vlp_siglip_XXXXXX";

static int copy_file(const char *from, const char *to) {
  char *data = NULL;
  size_t n = 0;
  if (read_file(from, &data, &n)) return 0;
  FILE *f = fopen(to, "wb");
  int ok = f && fwrite(data, 1, n, f) == n;
  if (f) fclose(f);
  free(data);
  return ok;
}

/* A copy of siglip-tiny named `name` in which file `edit` has `from` replaced by `to`
 * (same length, so safetensors offsets stay valid), or without file `edit` (from NULL). */
static char *bad_copy(const char *name, const char *edit, const char *from, const char *to) {
  static char d[512];
  static const char *const files[] = {
      "config.json",  "model.safetensors",    "preprocessor_config.json", "special_tokens_map.json",
      "spiece.model", "tokenizer_config.json"};
  snprintf(d, sizeof d, "%s/%s", root, name);
  mkdir(d, 0755);
  for (int i = 0; i < 6; i++) {
    char a[600], b[600];
    snprintf(a, sizeof a, TINY "/%s", files[i]);
    snprintf(b, sizeof b, "%s/%s", d, files[i]);
    if (strcmp(files[i], edit)) {
      CHECK(copy_file(a, b));
      continue;
    }
    if (!from) continue;
    char *data = NULL;
    size_t n = 0;
    CHECK(read_file(a, &data, &n) == VLP_OK);
    char *at = data ? memmem(data, n, from, strlen(from)) : NULL;
    CHECK(at != NULL && strlen(from) == strlen(to));
    if (at) memcpy(at, to, strlen(to));
    FILE *f = fopen(b, "wb");
    if (f) {
      fwrite(data, 1, n, f);
      fclose(f);
    }
    free(data);
  }
  return d;
}

/* Loading fails with status want and one line naming every string given. */
static int fails(const char *dir, vlp_status want, const char *a, const char *b) {
  vlp_model *m = NULL;
  vlp_status st = vlp_model_load(dir, &m);
  const char *msg = vlp_last_error();
  int ok = st == want && !m && strstr(msg, a) && (!b || strstr(msg, b)) && !strchr(msg, '\n');
  fprintf(stderr, "%s %s\n", ok ? "ok:" : "UNEXPECTED:", msg);
  vlp_model_free(m);
  return ok;
}

static void bad_folders(void) {
  if (!mkdtemp(root)) {
    CHECK(0);
    return;
  }
  CHECK(fails(bad_copy("nospiece", "spiece.model", NULL, NULL), VLP_ERR_MODEL, "spiece.model",
              "missing"));
  CHECK(fails(bad_copy("badspiece", "spiece.model", "\x0a", "\x0b"), VLP_ERR_FORMAT, "spiece.model",
              "SentencePiece"));
  /* config.json disagrees with the weights: another MLP width, another depth */
  CHECK(fails(
      bad_copy(
          "mlp", "config.json",
          "\"intermediate_size\": 64,\n    \"is_decoder\": false,\n    \"is_encoder_decoder\": "
          "false,\n    \"label2id\": {\n      \"LABEL_0\": 0,\n      \"LABEL_1\": 1\n    },\n    "
          "\"layer_norm_eps\": 1e-06,\n    \"length_penalty\": 1.0,\n    \"max_length\": 20,\n    "
          "\"min_length\": 0,\n    \"model_type\": \"siglip_vision_model\"",
          "\"intermediate_size\": 96,\n    \"is_decoder\": false,\n    \"is_encoder_decoder\": "
          "false,\n    \"label2id\": {\n      \"LABEL_0\": 0,\n      \"LABEL_1\": 1\n    },\n    "
          "\"layer_norm_eps\": 1e-06,\n    \"length_penalty\": 1.0,\n    \"max_length\": 20,\n    "
          "\"min_length\": 0,\n    \"model_type\": \"siglip_vision_model\""),
      VLP_ERR_MODEL, "mlp.fc1.weight", "shape"));
  CHECK(
      fails(bad_copy("depth", "config.json",
                     "\"num_hidden_layers\": 2,\n    \"num_return_sequences\": 1,\n    "
                     "\"output_attentions\": false,\n    \"output_hidden_states\": false,\n    "
                     "\"output_scores\": false,\n    \"pad_token_id\": null,\n    \"patch_size\"",
                     "\"num_hidden_layers\": 3,\n    \"num_return_sequences\": 1,\n    "
                     "\"output_attentions\": false,\n    \"output_hidden_states\": false,\n    "
                     "\"output_scores\": false,\n    \"pad_token_id\": null,\n    \"patch_size\""),
            VLP_ERR_MODEL, "vision_model.encoder.layers.2", "missing"));
  /* config.json disagrees with itself: the image processor's size */
  CHECK(fails(bad_copy("size", "preprocessor_config.json", "\"height\": 48", "\"height\": 64"),
              VLP_ERR_MODEL, "preprocessor_config.json", "image_size"));
  /* missing tensors (renamed in the header: same length, offsets unchanged) */
  CHECK(fails(
      bad_copy("probe", "model.safetensors", "vision_model.head.probe", "vision_model.head.probX"),
      VLP_ERR_MODEL, "vision_model.head.probe", "missing"));
  CHECK(fails(bad_copy("inproj", "model.safetensors", "head.attention.in_proj_weight",
                       "head.attention.in_proj_weighX"),
              VLP_ERR_MODEL, "vision_model.head.attention.in_proj_weight", NULL));
  CHECK(fails(
      bad_copy("texthead", "model.safetensors", "text_model.head.weight", "text_model.head.weighX"),
      VLP_ERR_MODEL, "text_model.head.weight", "missing"));
  CHECK(fails(bad_copy("bias", "model.safetensors", "\"logit_bias\"", "\"logit_biaX\""),
              VLP_ERR_MODEL, "logit_bias", "missing"));
}

/* ---- F16 checkpoint ---------------------------------------------------------------------- */

/* dir/model.safetensors = src with every F32 tensor stored as F16. */
static int write_f16_copy(const char *src, const char *dst) {
  st_file *f = NULL;
  if (st_open(src, &f)) return 0;
  size_t data = 0;
  char *hdr = NULL;
  size_t hlen = 0;
  FILE *h = open_memstream(&hdr, &hlen);
  fputc('{', h);
  for (int i = 0; i < f->n; i++) {
    const st_tensor *t = &f->tensors[i];
    size_t n = t->nbytes / st_dtype_size(t->dtype), nb = n * 2;
    fprintf(h, "%s\"%s\": {\"dtype\": \"F16\", \"shape\": [", i ? ", " : "", t->name);
    for (int d = 0; d < t->ndim; d++) fprintf(h, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    fprintf(h, "], \"data_offsets\": [%zu, %zu]}", data, data + nb);
    data += nb;
  }
  fputc('}', h);
  fclose(h);
  size_t pad = (8 - hlen % 8) % 8; /* the header is padded with spaces to 8 bytes */
  FILE *o = fopen(dst, "wb");
  uint64_t len = hlen + pad;
  int ok = o && fwrite(&len, 8, 1, o) == 1 && fwrite(hdr, 1, hlen, o) == hlen &&
           fwrite("        ", 1, pad, o) == pad;
  for (int i = 0; ok && i < f->n; i++) {
    const st_tensor *t = &f->tensors[i];
    ok = t->dtype == ST_F32;
    for (size_t k = 0; ok && k < t->nbytes / 4; k++) {
      float v;
      memcpy(&v, (const char *)t->data + 4 * k, 4);
      uint16_t x = f32_to_f16(v);
      ok = fwrite(&x, 2, 1, o) == 1;
    }
  }
  if (o) fclose(o);
  free(hdr);
  st_close(f);
  return ok;
}

static void f16_checkpoint(void) {
  char *d = bad_copy("f16", "model.safetensors", NULL, NULL), st[600];
  snprintf(st, sizeof st, "%s/model.safetensors", d);
  CHECK(write_f16_copy(TINY "/model.safetensors", st));
  vlp_model *m32 = NULL, *m16 = NULL;
  vlp_session *s32 = NULL, *s16 = NULL;
  vlp_model_summary info;
  CHECK(vlp_model_info(d, &info) == VLP_OK && !strcmp(info.dtype, "F16"));
  if (vlp_model_load(TINY, &m32) || vlp_model_load(d, &m16) || vlp_session_new(m32, NULL, &s32) ||
      vlp_session_new(m16, NULL, &s16)) {
    fprintf(stderr, "f16: %s\n", vlp_last_error());
    CHECK(0);
  } else {
    const char *texts[2] = {"a photo of an astronaut", "a cup of coffee"};
    float a[2 * 32], b[2 * 32], ia[32], ib[32];
    vlp_image img = {0};
    CHECK(load_image("images/astronaut.png", &img));
    CHECK(vlp_embed_texts(s32, texts, 2, a) == VLP_OK &&
          vlp_embed_texts(s16, texts, 2, b) == VLP_OK);
    CHECK(vlp_embed_images(s32, &img, 1, 0, ia) == VLP_OK &&
          vlp_embed_images(s16, &img, 1, 0, ib) == VLP_OK);
    double dt = 0, di = 0;
    for (int k = 0; k < 32; k++) dt += (double)a[k] * b[k], di += (double)ia[k] * ib[k];
    fprintf(stderr, "f16 copy: cosine to f32 text %.6f, image %.6f\n", dt, di);
    CHECK(dt > 0.999 && di > 0.999); /* weights rounded to 11 bits: close, not equal */
    vlp_image_free(&img);
  }
  vlp_session_free(s32);
  vlp_session_free(s16);
  vlp_model_free(m32);
  vlp_model_free(m16);
}

/* S = 52 with 8-pixel patches: the Conv2d sees the top-left 48 x 48 (6 x 6 patches), so
 * the embedding equals that of the 48 x 48 crop of the same pixels. */
static void floor_patches(void) {
  siglip_model *m = NULL;
  vlp_ws ws;
  ws_init(&ws);
  if (siglip_load(TINY, &m)) {
    fprintf(stderr, "%s\n", vlp_last_error());
    CHECK(0);
    return;
  }
  enum { S = 52, C = 48 };
  float *big = malloc(3 * S * S * sizeof *big), *crop = malloc(3 * C * C * sizeof *crop);
  float a[32], b[32];
  for (int i = 0; i < 3 * S * S; i++) big[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
  for (int ch = 0; ch < 3; ch++)
    for (int y = 0; y < C; y++)
      for (int x = 0; x < C; x++) crop[(ch * C + y) * C + x] = big[(ch * S + y) * S + x];
  CHECK(siglip_vision_tokens(m, S) == 36);
  CHECK(siglip_encode_images(m, &ws, big, 1, S, NULL, NULL, a) == VLP_OK);
  CHECK(siglip_encode_images(m, &ws, crop, 1, C, NULL, NULL, b) == VLP_OK);
  CHECK(test_allclose("52 px = its 48 px crop", a, b, 32, 1e-6, 1e-6));
  CHECK(siglip_encode_images(m, &ws, big, 1, 7, NULL, NULL, a) == VLP_ERR_INVALID);
  free(big);
  free(crop);
  siglip_free(m);
  ws_release(&ws);
}

int main(void) {
  golden(TINY, "siglip.json", 1e-4);
  golden("golden/models/siglip-tiny-bf16", "siglip_bf16.json", 2e-4);
  bad_folders();
  f16_checkpoint();
  floor_patches();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  CHECK(system(cmd) == 0);
  return test_done();
}
