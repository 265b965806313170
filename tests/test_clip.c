/* test_clip: CLIPModel (fusion/clip) and the CLIP text tower (text/clip_text) against every
 * case and every expected entry of golden/cases/clip.json and clip_f16.json, plus batched
 * texts, bad model folders and bad arguments. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/json.h"
#include "core/npy.h"
#include "core/workspace.h"
#include "fusion/clip.h"
#include "testlib.h"

/* One workspace for every forward of this single-threaded test. */
static vlp_ws ws;

#define MAX_TEXTS 64

/* ---- helpers --------------------------------------------------------------------------- */

/* Load an npy as float32 (any numeric dtype); NULL on error. *n = element count. */
static float *load_npy_f32(const char *path, size_t *n) {
  npy_array a;
  if (npy_load(path, &a)) {
    fprintf(stderr, "cannot load %s: %s\n", path, vlp_last_error());
    return NULL;
  }
  float *f = malloc((a.count ? a.count : 1) * sizeof *f);
  for (size_t i = 0; i < a.count; i++) f[i] = (float)npy_get(&a, i);
  *n = a.count;
  npy_free(&a);
  return f;
}

typedef struct {
  double atol, rtol;
} tol;

/* Compare got (n floats) with the entry's npy using the entry's tolerance (else def).
 * rows/row_len: when rows > 0 only the first rows * row_len values are compared. */
static void check_entry(const char *cname, const char *ename, const cJSON *e, tol def,
                        const float *got, size_t n, size_t compare_n) {
  char what[256], path[512];
  snprintf(what, sizeof what, "%s/%s", cname, ename);
  const char *npy = json_str(e, "npy", NULL);
  const char *cmp = json_str(e, "compare", "");
  if (!npy || strcmp(cmp, "allclose") != 0) {
    fprintf(stderr, "FAIL %s: unexpected entry kind\n", what);
    CHECK(0);
    return;
  }
  snprintf(path, sizeof path, "golden/%s", npy);
  size_t wn = 0;
  float *want = load_npy_f32(path, &wn);
  CHECK(want != NULL);
  if (!want) return;
  if (wn != n) {
    fprintf(stderr, "FAIL %s: golden has %zu values, vlp %zu\n", what, wn, n);
    CHECK(0);
  } else {
    double atol = json_num(e, "atol", def.atol), rtol = json_num(e, "rtol", def.rtol);
    test_allclose(what, got, want, compare_n, atol, rtol);
  }
  free(want);
}

/* An exact int-list entry: value array equals got[0..n). */
static int exact_ints(const cJSON *e, const int *got, int n) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "value");
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n) return 0;
  int i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    if (!cJSON_IsNumber(it) || it->valueint != got[i]) return 0;
    i++;
  }
  return 1;
}

static int *json_ints(const cJSON *e, int *n) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "value");
  *n = cJSON_GetArraySize(v);
  int *out = malloc((size_t)(*n ? *n : 1) * sizeof *out);
  int i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, v) out[i++] = it->valueint;
  return out;
}

/* ---- one manifest ---------------------------------------------------------------------- */

static void run_manifest(const char *manifest) {
  cJSON *man = NULL;
  CHECK(json_load_file(manifest, &man) == VLP_OK);
  if (!man) return;
  const char *model_rel = json_str(man, "model", "");
  char model_dir[512];
  snprintf(model_dir, sizeof model_dir, "golden/%s", model_rel);
  const cJSON *dt = json_obj(man, "default_tolerance");
  tol def = {json_num(dt, "atol", 1e-4), json_num(dt, "rtol", 1e-4)};

  clip_model *m = NULL;
  vlp_status st = clip_load(model_dir, &m);
  if (st) fprintf(stderr, "clip_load %s: %s\n", model_dir, vlp_last_error());
  CHECK(st == VLP_OK);
  if (!m) {
    cJSON_Delete(man);
    return;
  }
  clip_dims d = clip_get_dims(m);
  const int P = d.projection_dim, Dt = d.text_hidden, Dv = d.vision_hidden, L = d.max_text_len;
  double ls = json_num(man, "logit_scale", NAN);
  CHECK(fabs(clip_logit_scale(m) - ls) < 1e-6);

  float *text_embeds = calloc((size_t)MAX_TEXTS * P, sizeof(float));
  int n_texts = 0, n_cases = 0, n_entries = 0;
  const cJSON *cases = cJSON_GetObjectItemCaseSensitive(man, "cases");
  const cJSON *c;
  /* pass 1: text cases (their embeds are the texts of the image cases, in order) */
  cJSON_ArrayForEach(c, cases) {
    const char *id = json_str(c, "id", "?");
    const cJSON *in = json_obj(c, "inputs"), *ex = json_obj(c, "expected");
    const char *text = json_str(in, "text", NULL);
    if (!text) continue;
    n_cases++;
    CHECK(n_texts < MAX_TEXTS);
    if (n_texts >= MAX_TEXTS) break;
    /* golden ids / mask: real length = sum of the mask */
    int nid = 0, nmask = 0;
    int *gids = json_ints(cJSON_GetObjectItemCaseSensitive(ex, "input_ids"), &nid);
    int *gmask = json_ints(cJSON_GetObjectItemCaseSensitive(ex, "attention_mask"), &nmask);
    int len = 0;
    for (int i = 0; i < nmask; i++) len += gmask[i];
    CHECK(nid == L && nmask == L && len >= 1);

    /* tokenizer: ids exact (padded with 49407 to L as the reference), mask = ones(len) */
    int *tids = NULL, tn = 0;
    st = tok_encode(clip_tokenizer(m), text, L, &tids, &tn, NULL);
    CHECK(st == VLP_OK);
    int padded[512], mask[512];
    for (int i = 0; i < L && i < 512; i++) {
      padded[i] = i < tn ? tids[i] : 49407;
      mask[i] = i < tn;
    }

    float *lh = malloc((size_t)len * Dt * sizeof(float));
    float pooled[4096], feat[4096];
    const int *idp = gids;
    st = clip_encode_texts(m, &ws, &idp, &len, 1, lh, pooled, feat,
                           text_embeds + (size_t)n_texts * P);
    if (st) fprintf(stderr, "%s: %s\n", id, vlp_last_error());
    CHECK(st == VLP_OK);
    /* no last_hidden wanted: the last layer on the end-of-text row only */
    float pooled2[4096], feat2[4096], emb2[4096];
    CHECK(clip_encode_texts(m, &ws, &idp, &len, 1, NULL, pooled2, feat2, emb2) == VLP_OK);

    const cJSON *e;
    cJSON_ArrayForEach(e, ex) {
      const char *name = e->string;
      char what[256];
      snprintf(what, sizeof what, "%s/%s", id, name);
      n_entries++;
      if (strcmp(name, "input_ids") == 0) {
        int ok = tids && tn <= L && exact_ints(e, padded, L);
        if (!ok) fprintf(stderr, "FAIL %s: tokenizer ids differ\n", what);
        CHECK(ok);
      } else if (strcmp(name, "attention_mask") == 0) {
        int ok = tids && exact_ints(e, mask, L);
        if (!ok) fprintf(stderr, "FAIL %s: mask differs\n", what);
        CHECK(ok);
      } else if (strcmp(name, "text_last_hidden_state") == 0) {
        /* golden [L, Dt]; compare the rows where the mask is 1 (the first len) */
        float *full = calloc((size_t)L * Dt, sizeof(float));
        memcpy(full, lh, (size_t)len * Dt * sizeof(float));
        check_entry(id, name, e, def, full, (size_t)L * Dt, (size_t)len * Dt);
        free(full);
      } else if (strcmp(name, "text_pooler_output") == 0) {
        check_entry(id, name, e, def, pooled, (size_t)Dt, (size_t)Dt);
        check_entry(id, name, e, def, pooled2, (size_t)Dt, (size_t)Dt);
      } else if (strcmp(name, "text_features") == 0) {
        check_entry(id, name, e, def, feat, (size_t)P, (size_t)P);
        check_entry(id, name, e, def, feat2, (size_t)P, (size_t)P);
      } else if (strcmp(name, "text_embeds") == 0) {
        check_entry(id, name, e, def, text_embeds + (size_t)n_texts * P, (size_t)P, (size_t)P);
        check_entry(id, name, e, def, emb2, (size_t)P, (size_t)P);
      } else {
        fprintf(stderr, "FAIL %s: unknown expected entry\n", what);
        CHECK(0);
      }
    }
    n_texts++;
    free(lh);
    free(tids);
    free(gids);
    free(gmask);
  }

  /* pass 2: image cases, fed the golden pixel values */
  cJSON_ArrayForEach(c, cases) {
    const char *id = json_str(c, "id", "?");
    const cJSON *in = json_obj(c, "inputs"), *ex = json_obj(c, "expected");
    const char *image = json_str(in, "image", NULL);
    if (!image) continue;
    n_cases++;
    CHECK(strcmp(json_str(in, "texts", ""), "all texts of this file, in order") == 0);
    /* images/NAME.ext -> npy/preprocess/NAME/clip_pixel_values.npy */
    const char *base = strrchr(image, '/');
    base = base ? base + 1 : image;
    char name[256], path[512];
    snprintf(name, sizeof name, "%s", base);
    char *dot = strrchr(name, '.');
    if (dot) *dot = 0;
    snprintf(path, sizeof path, "golden/npy/preprocess/%s/clip_pixel_values.npy", name);
    size_t np = 0;
    float *pix = load_npy_f32(path, &np);
    CHECK(pix != NULL);
    if (!pix) continue;
    const int S = d.image_size;
    CHECK(np == (size_t)3 * S * S);
    const int T = clip_vision_tokens(m, S);
    float *lh = malloc((size_t)T * Dv * sizeof(float));
    float *pooled = malloc((size_t)Dv * sizeof(float));
    float *feat = malloc((size_t)P * sizeof(float)), *emb = malloc((size_t)P * sizeof(float));
    float logits[MAX_TEXTS], probs[MAX_TEXTS];
    st = clip_encode_images(m, &ws, pix, 1, S, lh, pooled, feat, emb);
    if (st) fprintf(stderr, "%s: %s\n", id, vlp_last_error());
    CHECK(st == VLP_OK);
    /* no last_hidden wanted: the last layer runs on the class row only (vit_forward_pooled) */
    float *pooled2 = malloc((size_t)Dv * sizeof(float));
    float *feat2 = malloc((size_t)P * sizeof(float)), *emb2 = malloc((size_t)P * sizeof(float));
    CHECK(clip_encode_images(m, &ws, pix, 1, S, NULL, pooled2, feat2, emb2) == VLP_OK);
    clip_logits(m, emb, 1, text_embeds, n_texts, logits);
    clip_probs(m, emb, 1, text_embeds, n_texts, probs);
    float tags[MAX_TEXTS];
    clip_tag(m, text_embeds, n_texts, emb, 1, tags);
    CHECK(memcmp(tags, probs, (size_t)n_texts * sizeof(float)) == 0);

    const cJSON *e;
    cJSON_ArrayForEach(e, ex) {
      const char *en = e->string;
      n_entries++;
      if (strcmp(en, "vision_last_hidden_state") == 0)
        check_entry(id, en, e, def, lh, (size_t)T * Dv, (size_t)T * Dv);
      else if (strcmp(en, "vision_pooler_output") == 0) {
        check_entry(id, en, e, def, pooled, (size_t)Dv, (size_t)Dv);
        check_entry(id, en, e, def, pooled2, (size_t)Dv, (size_t)Dv);
      } else if (strcmp(en, "image_features") == 0) {
        check_entry(id, en, e, def, feat, (size_t)P, (size_t)P);
        check_entry(id, en, e, def, feat2, (size_t)P, (size_t)P);
      } else if (strcmp(en, "image_embeds") == 0) {
        check_entry(id, en, e, def, emb, (size_t)P, (size_t)P);
        check_entry(id, en, e, def, emb2, (size_t)P, (size_t)P);
      } else if (strcmp(en, "logits_per_image") == 0)
        check_entry(id, en, e, def, logits, (size_t)n_texts, (size_t)n_texts);
      else if (strcmp(en, "probs") == 0)
        check_entry(id, en, e, def, probs, (size_t)n_texts, (size_t)n_texts);
      else {
        fprintf(stderr, "FAIL %s/%s: unknown expected entry\n", id, en);
        CHECK(0);
      }
    }
    free(pix);
    free(lh);
    free(pooled);
    free(feat);
    free(emb);
    free(pooled2);
    free(feat2);
    free(emb2);
  }
  CHECK(n_cases == cJSON_GetArraySize(cases));
  printf("%s: %d cases (%d texts), %d expected entries\n", manifest, n_cases, n_texts, n_entries);
  free(text_embeds);
  clip_free(m);
  cJSON_Delete(man);
}

/* ---- batched texts --------------------------------------------------------------------- */

static void test_batched(void) {
  clip_model *m = NULL;
  CHECK(clip_load("golden/models/clip-tiny", &m) == VLP_OK);
  if (!m) return;
  clip_dims d = clip_get_dims(m);
  const int P = d.projection_dim, Dt = d.text_hidden;
  const char *texts[3] = {"a cat", "a photo of an astronaut riding a horse on the moon",
                          "a cup of coffee!"};
  int *ids[3], lens[3];
  for (int b = 0; b < 3; b++)
    CHECK(tok_encode(clip_tokenizer(m), texts[b], d.max_text_len, &ids[b], &lens[b], NULL) == 0);
  CHECK(lens[0] != lens[1] && lens[1] != lens[2] && lens[0] != lens[2]);
  int T = 0;
  for (int b = 0; b < 3; b++) T = lens[b] > T ? lens[b] : T;
  float *lh = malloc((size_t)3 * T * Dt * sizeof(float));
  float pooled[3 * 512], feat[3 * 512], emb[3 * 512];
  CHECK(clip_encode_texts(m, &ws, (const int *const *)ids, lens, 3, lh, pooled, feat, emb) ==
        VLP_OK);
  float emb_s[3 * 512], emb_p[3 * 512];
  CHECK(clip_encode_strings(m, &ws, texts, 3, emb_s) == VLP_OK);
  /* without last_hidden the last layer runs on the end-of-text rows only, as for strings */
  CHECK(clip_encode_texts(m, &ws, (const int *const *)ids, lens, 3, NULL, NULL, NULL, emb_p) ==
        VLP_OK);
  test_allclose("batched strings == batched ids", emb_s, emb_p, (size_t)3 * P, 0, 0);
  test_allclose("end-of-text rows only == every row", emb_p, emb, (size_t)3 * P, 1e-5, 1e-5);
  { /* pooled row before the last token (ids made by hand): every row runs, as with
     * last_hidden; a last layer on that row alone would let it see the later tokens */
    int odd[4] = {49406, 49407, 320, 1125}, n4 = 4;
    const int *op = odd;
    float *lh4 = malloc((size_t)4 * Dt * sizeof(float)), e_all[512], e_none[512];
    CHECK(clip_encode_texts(m, &ws, &op, &n4, 1, lh4, NULL, NULL, e_all) == VLP_OK);
    CHECK(clip_encode_texts(m, &ws, &op, &n4, 1, NULL, NULL, NULL, e_none) == VLP_OK);
    test_allclose("pooled row not last: every row", e_none, e_all, (size_t)P, 0, 0);
    free(lh4);
  }
  for (int b = 0; b < 3; b++) {
    float *lh1 = malloc((size_t)lens[b] * Dt * sizeof(float));
    float p1[512], f1[512], e1[512];
    const int *ip = ids[b];
    CHECK(clip_encode_texts(m, &ws, &ip, &lens[b], 1, lh1, p1, f1, e1) == VLP_OK);
    char what[64];
    snprintf(what, sizeof what, "batched text %d last_hidden", b);
    test_allclose(what, lh + (size_t)b * T * Dt, lh1, (size_t)lens[b] * Dt, 1e-5, 1e-5);
    snprintf(what, sizeof what, "batched text %d pooled", b);
    test_allclose(what, pooled + (size_t)b * Dt, p1, (size_t)Dt, 1e-5, 1e-5);
    snprintf(what, sizeof what, "batched text %d features", b);
    test_allclose(what, feat + (size_t)b * P, f1, (size_t)P, 1e-5, 1e-5);
    snprintf(what, sizeof what, "batched text %d embeds", b);
    test_allclose(what, emb + (size_t)b * P, e1, (size_t)P, 1e-5, 1e-5);
    /* embeds are unit vectors */
    double nn = 0;
    for (int p = 0; p < P; p++) nn += (double)e1[p] * e1[p];
    CHECK(fabs(nn - 1.0) < 1e-5);
    free(lh1);
    free(ids[b]);
  }
  free(lh);

  /* batched images: two golden pixel arrays in one call == one at a time */
  const char *imgs[2] = {"astronaut", "coffee"};
  const int S = d.image_size;
  float *pix = malloc((size_t)2 * 3 * S * S * sizeof(float));
  for (int i = 0; i < 2; i++) {
    char path[256];
    size_t n = 0;
    snprintf(path, sizeof path, "golden/npy/preprocess/%s/clip_pixel_values.npy", imgs[i]);
    float *p = load_npy_f32(path, &n);
    CHECK(p && n == (size_t)3 * S * S);
    if (p) memcpy(pix + (size_t)i * 3 * S * S, p, (size_t)3 * S * S * sizeof(float));
    free(p);
  }
  float ie2[2 * 512], ie1[512];
  CHECK(clip_encode_images(m, &ws, pix, 2, S, NULL, NULL, NULL, ie2) == VLP_OK);
  for (int i = 0; i < 2; i++) {
    CHECK(clip_encode_images(m, &ws, pix + (size_t)i * 3 * S * S, 1, S, NULL, NULL, NULL, ie1) ==
          VLP_OK);
    test_allclose("batched image embeds", ie2 + (size_t)i * P, ie1, (size_t)P, 1e-5, 1e-5);
  }
  free(pix);

  /* bad arguments: empty text, id outside the vocabulary, too long, bad image size */
  int zero = 0, one = 1, big = 999999, too_long = d.max_text_len + 1;
  int *bad_ids = calloc((size_t)too_long, sizeof(int));
  const int *bp = bad_ids;
  CHECK(clip_encode_texts(m, &ws, &bp, &zero, 1, NULL, NULL, NULL, emb) == VLP_ERR_INVALID);
  CHECK(clip_encode_texts(m, &ws, &bp, &too_long, 1, NULL, NULL, NULL, emb) == VLP_ERR_INVALID);
  const int *bigp = &big;
  CHECK(clip_encode_texts(m, &ws, &bigp, &one, 1, NULL, NULL, NULL, emb) == VLP_ERR_INVALID);
  CHECK(strstr(vlp_last_error(), "vocabulary") != NULL);
  float px[3 * 17 * 17] = {0};
  CHECK(clip_encode_images(m, &ws, px, 1, 17, NULL, NULL, NULL, emb) == VLP_ERR_INVALID);
  free(bad_ids);
  clip_free(m);
}

/* ---- config defaults and eos position -------------------------------------------------- */

static void test_text_config(void) {
  clip_text_config c;
  CHECK(clip_text_config_from_json(NULL, "x", &c) == VLP_OK);
  CHECK(c.vocab == 49408 && c.hidden == 512 && c.mlp == 2048 && c.layers == 12 && c.heads == 8 &&
        c.max_pos == 77 && c.eos_token_id == 49407 && c.projection_dim == 512 &&
        c.act == CLIP_ACT_QUICK_GELU && fabsf(c.eps - 1e-5f) < 1e-12f);
  cJSON *j = cJSON_Parse("{\"hidden_act\": \"gelu\", \"eos_token_id\": 2}");
  CHECK(clip_text_config_from_json(j, "x", &c) == VLP_OK && c.act == CLIP_ACT_GELU);
  int ids[5] = {49406, 320, 49407, 49407, 5};
  CHECK(clip_text_eos_index(&c, ids, 5) == 2); /* legacy: argmax, first maximum */
  cJSON_Delete(j);
  j = cJSON_Parse("{\"eos_token_id\": 320}");
  CHECK(clip_text_config_from_json(j, "x", &c) == VLP_OK);
  CHECK(clip_text_eos_index(&c, ids, 5) == 1); /* first position of eos_token_id */
  c.eos_token_id = 7;
  CHECK(clip_text_eos_index(&c, ids, 5) == 0); /* absent: 0 as torch's argmax */
  cJSON_Delete(j);
  j = cJSON_Parse("{\"hidden_act\": \"relu\"}");
  CHECK(clip_text_config_from_json(j, "x", &c) == VLP_ERR_UNSUPPORTED);
  cJSON_Delete(j);
  j = cJSON_Parse("{\"hidden_size\": 30, \"num_attention_heads\": 4}");
  CHECK(clip_text_config_from_json(j, "x", &c) == VLP_ERR_MODEL);
  cJSON_Delete(j);
}

/* ---- bad model folders ----------------------------------------------------------------- */

static int copy_file(const char *src, const char *dst) {
  char *data = NULL;
  size_t n = 0;
  if (read_file(src, &data, &n)) return -1;
  FILE *f = fopen(dst, "wb");
  int ok = f && fwrite(data, 1, n, f) == n;
  if (f) fclose(f);
  free(data);
  return ok ? 0 : -1;
}

/* A fresh copy of clip-tiny in dir. */
static int copy_model(const char *dir) {
  const char *src = "golden/models/clip-tiny";
  DIR *dp = opendir(src);
  if (!dp) return -1;
  mkdir(dir, 0700);
  struct dirent *de;
  int rc = 0;
  while ((de = readdir(dp))) {
    if (de->d_name[0] == '.') continue;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/%s", src, de->d_name);
    snprintf(b, sizeof b, "%s/%s", dir, de->d_name);
    if (copy_file(a, b)) rc = -1;
  }
  closedir(dp);
  return rc;
}

static void remove_model(const char *dir) {
  DIR *dp = opendir(dir);
  if (!dp) return;
  struct dirent *de;
  while ((de = readdir(dp))) {
    if (de->d_name[0] == '.') continue;
    char a[512];
    snprintf(a, sizeof a, "%s/%s", dir, de->d_name);
    unlink(a);
  }
  closedir(dp);
  rmdir(dir);
}

/* Edit config.json: set obj(.sub).key to the JSON value text. */
static int edit_config(const char *dir, const char *sub, const char *key, const char *value) {
  char path[512];
  snprintf(path, sizeof path, "%s/config.json", dir);
  cJSON *cfg = NULL;
  if (json_load_file(path, &cfg)) return -1;
  cJSON *obj = sub ? cJSON_GetObjectItemCaseSensitive(cfg, sub) : cfg;
  cJSON *v = cJSON_Parse(value);
  if (!obj || !v) return -1;
  if (cJSON_GetObjectItemCaseSensitive(obj, key))
    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
  else
    cJSON_AddItemToObject(obj, key, v);
  char *s = cJSON_Print(cfg);
  FILE *f = fopen(path, "wb");
  int ok = f && fputs(s, f) >= 0;
  if (f) fclose(f);
  free(s);
  cJSON_Delete(cfg);
  return ok ? 0 : -1;
}

/* Rename a tensor in the safetensors header (same length, so offsets stay valid). */
static int rename_tensor(const char *dir, const char *from, const char *to) {
  char path[512];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  char *data = NULL;
  size_t n = 0;
  if (read_file(path, &data, &n) || n < 8 || strlen(from) != strlen(to)) return -1;
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = hl << 8 | (unsigned char)data[i];
  char quoted[256];
  snprintf(quoted, sizeof quoted, "\"%s\"", from);
  char *hit = NULL;
  size_t ql = strlen(quoted);
  for (size_t i = 8; i + ql <= 8 + hl && i + ql <= n; i++)
    if (memcmp(data + i, quoted, ql) == 0) {
      hit = data + i;
      break;
    }
  int rc = -1;
  if (hit) {
    memcpy(hit + 1, to, strlen(to));
    FILE *f = fopen(path, "wb");
    rc = f && fwrite(data, 1, n, f) == n ? 0 : -1;
    if (f) fclose(f);
  }
  free(data);
  return rc;
}

/* Load dir, expect status want and a message containing needle. */
static void expect_fail(const char *what, const char *dir, vlp_status want, const char *needle) {
  clip_model *m = NULL;
  vlp_status st = clip_load(dir, &m);
  const char *msg = vlp_last_error();
  int ok = st == want && m == NULL && strstr(msg, needle) && !strchr(msg, '\n');
  if (!ok)
    fprintf(stderr, "FAIL %s: status %d (want %d), message \"%s\" (want \"%s\")\n", what, st, want,
            msg, needle);
  else if (getenv("VLP_TEST_VERBOSE"))
    fprintf(stderr, "ok %s: %s\n", what, msg);
  CHECK(ok);
  clip_free(m);
}

static void test_bad_folders(void) {
  char dir[] = "/tmp/vlp_clip_XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(0);
    return;
  }
  char md[600];
  snprintf(md, sizeof md, "%s/model", dir);

  /* the copy itself loads */
  CHECK(copy_model(md) == 0);
  clip_model *m = NULL;
  CHECK(clip_load(md, &m) == VLP_OK);
  clip_free(m);

  CHECK(edit_config(md, NULL, "architectures", "[\"BlipForConditionalGeneration\"]") == 0);
  expect_fail("architecture", md, VLP_ERR_UNSUPPORTED, "BlipForConditionalGeneration");
  CHECK(edit_config(md, NULL, "architectures", "[]") == 0);
  expect_fail("no architecture", md, VLP_ERR_UNSUPPORTED, "architectures");
  CHECK(edit_config(md, NULL, "architectures", "[7]") == 0);
  expect_fail("architecture not a string", md, VLP_ERR_UNSUPPORTED, "architectures");
  remove_model(md);

  /* a folder name longer than any path vlp builds: refused, not cut short */
  char longdir[5000];
  memset(longdir, 'd', sizeof longdir - 1);
  longdir[sizeof longdir - 1] = 0;
  expect_fail("folder path too long", longdir, VLP_ERR_INVALID, "path too long");

  CHECK(copy_model(md) == 0);
  CHECK(rename_tensor(md, "text_projection.weight", "text_projection.wexght") == 0);
  expect_fail("missing tensor", md, VLP_ERR_MODEL, "text_projection.weight");
  remove_model(md);

  CHECK(copy_model(md) == 0);
  CHECK(rename_tensor(md, "logit_scale", "logit_scalf") == 0);
  expect_fail("missing logit_scale", md, VLP_ERR_MODEL, "logit_scale");
  remove_model(md);

  CHECK(copy_model(md) == 0);
  CHECK(rename_tensor(md, "text_model.encoder.layers.1.mlp.fc2.bias",
                      "text_model.encoder.layers.1.mlp.fc2.biaz") == 0);
  expect_fail("missing layer tensor", md, VLP_ERR_MODEL,
              "text_model.encoder.layers.1.mlp.fc2.bias");
  remove_model(md);

  CHECK(copy_model(md) == 0);
  CHECK(edit_config(md, NULL, "projection_dim", "16") == 0);
  expect_fail("projection_dim mismatch", md, VLP_ERR_MODEL, "visual_projection.weight");
  remove_model(md);

  CHECK(copy_model(md) == 0);
  CHECK(edit_config(md, "text_config", "hidden_size", "48") == 0);
  expect_fail("text hidden mismatch", md, VLP_ERR_MODEL,
              "text_model.embeddings.token_embedding.weight");
  remove_model(md);

  CHECK(copy_model(md) == 0);
  CHECK(edit_config(md, "text_config", "max_position_embeddings", "80") == 0);
  expect_fail("positions mismatch", md, VLP_ERR_MODEL,
              "text_model.embeddings.position_embedding.weight");
  remove_model(md);

  CHECK(copy_model(md) == 0);
  CHECK(edit_config(md, "text_config", "num_hidden_layers", "3") == 0);
  expect_fail("too many layers", md, VLP_ERR_MODEL, "text_model.encoder.layers.2.");
  remove_model(md);

  CHECK(copy_model(md) == 0);
  CHECK(edit_config(md, "text_config", "num_attention_heads", "5") == 0);
  expect_fail("heads", md, VLP_ERR_MODEL, "num_attention_heads");
  remove_model(md);

  CHECK(copy_model(md) == 0);
  CHECK(edit_config(md, "text_config", "hidden_act", "\"gelu_new\"") == 0);
  expect_fail("activation", md, VLP_ERR_UNSUPPORTED, "gelu_new");
  remove_model(md);

  CHECK(copy_model(md) == 0);
  CHECK(edit_config(md, "text_config", "vocab_size", "1000") == 0);
  expect_fail("vocab mismatch", md, VLP_ERR_MODEL, "token_embedding");
  remove_model(md);

  CHECK(copy_model(md) == 0);
  CHECK(edit_config(md, "vision_config", "hidden_size", "32") == 0);
  expect_fail("vision hidden mismatch", md, VLP_ERR_MODEL, "vision_model.");
  remove_model(md);

  /* no config.json at all */
  CHECK(copy_model(md) == 0);
  char cp[700];
  snprintf(cp, sizeof cp, "%s/config.json", md);
  unlink(cp);
  expect_fail("no config", md, VLP_ERR_IO, "config.json");
  remove_model(md);

  rmdir(dir);
}

int main(void) {
  test_text_config();
  run_manifest("golden/cases/clip.json");
  run_manifest("golden/cases/clip_f16.json");
  test_batched();
  test_bad_folders();
  return test_done();
}
