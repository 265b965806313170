/* test_blip: the three BLIP models end to end against every case of blip_caption.json,
 * blip_caption_bf16.json, blip_itm.json and blip_vqa.json (fed the golden pixel_values, so
 * image decoding is tested elsewhere), one run from a PNG file through prep_run, batched
 * generation == one image at a time, and one clear error per kind of bad model folder. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "fusion/blip.h"
#include "golden_common.h"
#include "testlib.h"

/* One workspace for every forward of this single-threaded test. */
static vlp_ws ws;

#define MAX_IMAGES 64

/* Image embeds (1, Ti, Dv) per image stem, computed from the golden pixel values. */
typedef struct {
  char stem[64];
  float *emb;
  int Ti;
} image_entry;

typedef struct {
  image_entry e[MAX_IMAGES];
  int n;
} image_cache;

static void cache_clear(image_cache *c) {
  for (int i = 0; i < c->n; i++) free(c->e[i].emb);
  c->n = 0;
}

static float *golden_pixels(const char *stem, int *S) {
  char rel[300];
  snprintf(rel, sizeof rel, "npy/preprocess/%s/blip_pixel_values.npy", stem);
  size_t n = 0;
  float *px = golden_floats(rel, &n);
  int s = 1;
  while ((size_t)3 * s * s < n) s++;
  *S = s;
  CHECK(px && (size_t)3 * s * s == n);
  return px;
}

static image_entry *image_embeds(blip_model *m, image_cache *c, const char *stem) {
  for (int i = 0; i < c->n; i++)
    if (!strcmp(c->e[i].stem, stem)) return &c->e[i];
  if (c->n == MAX_IMAGES) return NULL;
  int S = 0;
  float *px = golden_pixels(stem, &S);
  if (!px) return NULL;
  image_entry *e = &c->e[c->n];
  e->Ti = blip_vision_tokens(m, S);
  e->emb = malloc((size_t)e->Ti * blip_get_dims(m).vision_hidden * sizeof(float));
  vlp_status st = blip_encode_images(m, &ws, px, 1, S, e->emb, NULL);
  free(px);
  if (st) {
    fprintf(stderr, "%s: %s\n", stem, vlp_last_error());
    free(e->emb);
    CHECK(!"encode image");
    return NULL;
  }
  snprintf(e->stem, sizeof e->stem, "%s", stem);
  c->n++;
  return e;
}

static blip_model *load(const char *dir) {
  blip_model *m = NULL;
  if (blip_load(dir, &m) != VLP_OK) fprintf(stderr, "%s: %s\n", dir, vlp_last_error());
  CHECK(m != NULL);
  return m;
}

/* gen_params from a manifest's conventions.greedy / conventions.beam object. */
static gen_params params_from(const blip_model *m, const cJSON *g) {
  gen_params p = blip_gen_params(m, json_int(g, "num_beams", 1));
  p.max_length = json_int(g, "max_length", 20);
  p.min_length = json_int(g, "min_length", 0);
  p.length_penalty = (float)json_num(g, "length_penalty", 1.0);
  p.early_stopping = json_bool(g, "early_stopping", 0);
  return p;
}

/* Compare one generated sequence (and its decoded text) with the case's entries. */
static void check_sequence(const blip_model *m, const cJSON *ex, const char *kind, const int *seq,
                           int n, const char *id) {
  char key[64], what[300];
  snprintf(key, sizeof key, "%s_sequence", kind);
  snprintf(what, sizeof what, "%s %s", id, key);
  golden_check_ids(json_obj(ex, key), seq, n, what);
  snprintf(key, sizeof key, "%s_text", kind);
  const cJSON *te = json_obj(ex, key);
  if (!te) return;
  char *text = NULL;
  CHECK(tok_decode(blip_tokenizer(m), seq, n, &text) == VLP_OK);
  snprintf(what, sizeof what, "%s %s", id, key);
  golden_check_str(te, text, what);
  free(text);
}

static void generate_and_check(blip_model *m, const cJSON *man, const cJSON *ex, const char *id,
                               const float *enc, int Te, const int *prompt, int n) {
  const char *kinds[2] = {"greedy", "beam"};
  for (int k = 0; k < 2; k++) {
    char key[64];
    snprintf(key, sizeof key, "%s_sequence", kinds[k]);
    if (!json_obj(ex, key)) continue;
    gen_params p = params_from(m, json_obj(json_obj(man, "conventions"), kinds[k]));
    int *seq = NULL, len = 0;
    vlp_status st = blip_task_of(m) == BLIP_VQA
                        ? blip_vqa_generate(m, &ws, enc, 1, Te, &p, &seq, &len)
                        : blip_caption_generate(m, &ws, enc, 1, Te, prompt, n, &p, &seq, &len);
    if (st) fprintf(stderr, "%s: %s\n", id, vlp_last_error());
    CHECK(st == VLP_OK);
    if (!st) check_sequence(m, ex, kinds[k], seq, len, id);
    free(seq);
  }
}

static void check_vision(blip_model *m, image_cache *ic, const cJSON *man, const cJSON *cs,
                         const char *stem) {
  const cJSON *ex = json_obj(cs, "expected");
  image_entry *e = image_embeds(m, ic, stem);
  if (!e) return;
  int Dv = blip_get_dims(m).vision_hidden;
  char what[300];
  snprintf(what, sizeof what, "%s vision_last_hidden_state", json_str(cs, "id", ""));
  golden_check_floats(man, json_obj(ex, "vision_last_hidden_state"), e->emb, (size_t)e->Ti * Dv,
                      what);
  const cJSON *pe = json_obj(ex, "vision_pooler_output");
  if (pe) {
    int S = 0;
    float *px = golden_pixels(stem, &S);
    float *h = malloc((size_t)e->Ti * Dv * sizeof(float)),
          *pool = malloc((size_t)Dv * sizeof(float));
    CHECK(px && blip_encode_images(m, &ws, px, 1, S, h, pool) == VLP_OK);
    snprintf(what, sizeof what, "%s vision_pooler_output", json_str(cs, "id", ""));
    golden_check_floats(man, pe, pool, (size_t)Dv, what);
    free(px), free(h), free(pool);
  }
}

/* ---- captioning -------------------------------------------------------------------- */

static void test_caption(const char *manifest, const char *dir) {
  cJSON *man = golden_manifest(manifest);
  blip_model *m = load(dir);
  if (!man || !m) return;
  CHECK(blip_task_of(m) == BLIP_CAPTION);
  image_cache ic = {.n = 0};
  int V = blip_get_dims(m).vocab, cases = 0;
  float *logits = malloc((size_t)V * sizeof(float));
  const cJSON *cs;
  cJSON_ArrayForEach(cs, cJSON_GetObjectItem(man, "cases")) {
    const char *id = json_str(cs, "id", "");
    const cJSON *in = json_obj(cs, "inputs"), *ex = json_obj(cs, "expected");
    const char *stem = golden_image_stem(json_str(in, "image", ""));
    int before = test_failed;
    if (json_obj(ex, "vision_last_hidden_state")) {
      check_vision(m, &ic, man, cs, stem);
    } else {
      const char *prompt = json_str(in, "prompt", NULL);
      int *ids = NULL, n = 0;
      CHECK(blip_caption_prompt_ids(m, prompt, &ids, &n) == VLP_OK);
      char what[300];
      snprintf(what, sizeof what, "%s decoder_input_ids", id);
      golden_check_ids(json_obj(ex, "decoder_input_ids"), ids, n, what);
      image_entry *e = image_embeds(m, &ic, stem);
      const cJSON *fl = json_obj(ex, "first_step_logits");
      if (e && fl) {
        CHECK(blip_caption_first_logits(m, &ws, e->emb, e->Ti, ids, n, logits) == VLP_OK);
        snprintf(what, sizeof what, "%s first_step_logits", id);
        golden_check_floats(man, fl, logits, (size_t)V, what);
      }
      if (e) generate_and_check(m, man, ex, id, e->emb, e->Ti, ids, n);
      free(ids);
    }
    cases += test_failed == before;
  }
  printf("%s: %d of %d cases pass\n", manifest, cases,
         cJSON_GetArraySize(cJSON_GetObjectItem(man, "cases")));

  /* All images in one call (batch x beams rows per step) == one image at a time. */
  if (ic.n > 1) {
    int B = ic.n, Ti = ic.e[0].Ti, Dv = blip_get_dims(m).vision_hidden;
    float *all = malloc((size_t)B * Ti * Dv * sizeof(float));
    for (int b = 0; b < B; b++)
      memcpy(all + (size_t)b * Ti * Dv, ic.e[b].emb, (size_t)Ti * Dv * sizeof(float));
    int *prompt = NULL, n = 0;
    CHECK(blip_caption_prompt_ids(m, "a picture of", &prompt, &n) == VLP_OK);
    for (int beams = 1; beams <= 3; beams += 2) {
      gen_params p = blip_gen_params(m, beams);
      p.min_length = beams > 1 ? 5 : 0;
      int **seqs = calloc((size_t)B, sizeof *seqs), *lens = calloc((size_t)B, sizeof *lens);
      CHECK(blip_caption_generate(m, &ws, all, B, Ti, prompt, n, &p, seqs, lens) == VLP_OK);
      int same = 1;
      for (int b = 0; b < B; b++) {
        int *one = NULL, len = 0;
        CHECK(blip_caption_generate(m, &ws, ic.e[b].emb, 1, Ti, prompt, n, &p, &one, &len) ==
              VLP_OK);
        same &=
            len == lens[b] && one && seqs[b] && !memcmp(one, seqs[b], (size_t)len * sizeof(int));
        free(one);
        free(seqs[b]);
      }
      CHECK(same);
      free(seqs), free(lens);
    }
    free(prompt), free(all);
  }
  /* wrong-task calls are refused */
  float dummy[2];
  CHECK(blip_itm(m, &ws, NULL, 1, NULL, NULL, 1, dummy, NULL, NULL) == VLP_ERR_INVALID);
  CHECK(blip_vqa_first_logits(m, &ws, NULL, 1, dummy) == VLP_ERR_INVALID);
  free(logits);
  cache_clear(&ic);
  blip_free(m);
  cJSON_Delete(man);
}

/* ---- retrieval --------------------------------------------------------------------- */

static void test_itm(void) {
  cJSON *man = golden_manifest("blip_itm.json");
  blip_model *m = load("golden/models/blip-itm-tiny");
  if (!man || !m) return;
  blip_dims d = blip_get_dims(m);
  CHECK(d.task == BLIP_RETRIEVAL && d.embed_dim > 0);
  enum { MAXT = 64 };
  int *ids[MAXT], lens[MAXT], nt = 0, cases = 0;
  float *feats = NULL;
  image_cache ic = {.n = 0};
  const cJSON *cs;
  /* texts first (the image cases use all of them) */
  cJSON_ArrayForEach(cs, cJSON_GetObjectItem(man, "cases")) {
    const cJSON *in = json_obj(cs, "inputs"), *ex = json_obj(cs, "expected");
    const char *text = json_str(in, "text", NULL);
    if (!text || nt == MAXT) continue;
    const char *id = json_str(cs, "id", "");
    int before = test_failed;
    char what[300];
    CHECK(blip_tokenize(m, text, &ids[nt], &lens[nt]) == VLP_OK);
    snprintf(what, sizeof what, "%s input_ids", id);
    golden_check_ids(json_obj(ex, "input_ids"), ids[nt], lens[nt], what);
    float *h = malloc((size_t)lens[nt] * d.text_hidden * sizeof(float));
    feats = realloc(feats, (size_t)(nt + 1) * d.embed_dim * sizeof(float));
    CHECK(blip_encode_texts(m, &ws, (const int *const *)&ids[nt], &lens[nt], 1, h,
                            feats + (size_t)nt * d.embed_dim) == VLP_OK);
    snprintf(what, sizeof what, "%s text_unimodal_last_hidden_state", id);
    golden_check_floats(man, json_obj(ex, "text_unimodal_last_hidden_state"), h,
                        (size_t)lens[nt] * d.text_hidden, what);
    snprintf(what, sizeof what, "%s text_feat", id);
    golden_check_floats(man, json_obj(ex, "text_feat"), feats + (size_t)nt * d.embed_dim,
                        (size_t)d.embed_dim, what);
    free(h);
    nt++;
    cases += test_failed == before;
  }
  CHECK(nt > 1);
  /* all texts in one padded batch == one at a time */
  float *bf = malloc((size_t)nt * d.embed_dim * sizeof(float));
  CHECK(blip_encode_texts(m, &ws, (const int *const *)ids, lens, nt, NULL, bf) == VLP_OK);
  test_allclose("batched text_feat", bf, feats, (size_t)nt * d.embed_dim, 1e-5, 1e-5);
  free(bf);

  float *itc = malloc((size_t)nt * sizeof(float)), *lg = malloc((size_t)nt * 2 * sizeof(float));
  float *prob = malloc((size_t)nt * sizeof(float));
  float *cls = malloc((size_t)nt * d.text_hidden * sizeof(float));
  float *ifeat = malloc((size_t)d.embed_dim * sizeof(float));
  cJSON_ArrayForEach(cs, cJSON_GetObjectItem(man, "cases")) {
    const cJSON *in = json_obj(cs, "inputs"), *ex = json_obj(cs, "expected");
    if (json_str(in, "text", NULL)) continue;
    const char *id = json_str(cs, "id", "");
    int before = test_failed;
    const char *stem = golden_image_stem(json_str(in, "image", ""));
    check_vision(m, &ic, man, cs, stem);
    image_entry *e = image_embeds(m, &ic, stem);
    if (!e) continue;
    char what[300];
    CHECK(blip_image_feat(m, e->emb, 1, e->Ti, ifeat) == VLP_OK);
    snprintf(what, sizeof what, "%s image_feat", id);
    golden_check_floats(man, json_obj(ex, "image_feat"), ifeat, (size_t)d.embed_dim, what);
    for (int t = 0; t < nt; t++) {
      double s = 0;
      for (int k = 0; k < d.embed_dim; k++)
        s += (double)ifeat[k] * feats[(size_t)t * d.embed_dim + k];
      itc[t] = (float)s;
    }
    snprintf(what, sizeof what, "%s itc", id);
    golden_check_floats(man, json_obj(ex, "itc"), itc, (size_t)nt, what);
    /* every text against this image, in one batch */
    size_t per = (size_t)e->Ti * d.vision_hidden;
    float *rep = malloc((size_t)nt * per * sizeof(float));
    for (int t = 0; t < nt; t++) memcpy(rep + t * per, e->emb, per * sizeof(float));
    CHECK(blip_itm(m, &ws, rep, e->Ti, (const int *const *)ids, lens, nt, lg, prob, cls) == VLP_OK);
    snprintf(what, sizeof what, "%s itm_logits", id);
    golden_check_floats(man, json_obj(ex, "itm_logits"), lg, (size_t)nt * 2, what);
    snprintf(what, sizeof what, "%s itm_prob", id);
    golden_check_floats(man, json_obj(ex, "itm_prob"), prob, (size_t)nt, what);
    snprintf(what, sizeof what, "%s multimodal_cls", id);
    golden_check_floats(man, json_obj(ex, "multimodal_cls"), cls, (size_t)nt * d.text_hidden, what);
    free(rep);
    cases += test_failed == before;
  }
  printf("blip_itm.json: %d of %d cases pass\n", cases,
         cJSON_GetArraySize(cJSON_GetObjectItem(man, "cases")));
  for (int t = 0; t < nt; t++) free(ids[t]);
  free(itc), free(lg), free(prob), free(cls), free(ifeat), free(feats);
  cache_clear(&ic);
  blip_free(m);
  cJSON_Delete(man);
}

/* ---- VQA --------------------------------------------------------------------------- */

static void test_vqa(void) {
  cJSON *man = golden_manifest("blip_vqa.json");
  blip_model *m = load("golden/models/blip-vqa-tiny");
  if (!man || !m) return;
  blip_dims d = blip_get_dims(m);
  CHECK(d.task == BLIP_VQA);
  image_cache ic = {.n = 0};
  float *logits = malloc((size_t)d.vocab * sizeof(float));
  int cases = 0;
  const cJSON *cs;
  cJSON_ArrayForEach(cs, cJSON_GetObjectItem(man, "cases")) {
    const char *id = json_str(cs, "id", "");
    const cJSON *in = json_obj(cs, "inputs"), *ex = json_obj(cs, "expected");
    const char *stem = golden_image_stem(json_str(in, "image", ""));
    int before = test_failed;
    if (json_obj(ex, "vision_last_hidden_state")) {
      check_vision(m, &ic, man, cs, stem);
      cases += test_failed == before;
      continue;
    }
    char what[300];
    int *ids = NULL, T = 0;
    CHECK(blip_tokenize(m, json_str(in, "question", ""), &ids, &T) == VLP_OK);
    snprintf(what, sizeof what, "%s question_ids", id);
    golden_check_ids(json_obj(ex, "question_ids"), ids, T, what);
    image_entry *e = image_embeds(m, &ic, stem);
    if (e && T > 0) {
      float *q = malloc((size_t)T * d.text_hidden * sizeof(float));
      CHECK(blip_vqa_encode_question(m, &ws, e->emb, e->Ti, ids, T, q) == VLP_OK);
      snprintf(what, sizeof what, "%s question_embeds", id);
      golden_check_floats(man, json_obj(ex, "question_embeds"), q, (size_t)T * d.text_hidden, what);
      const cJSON *fl = json_obj(ex, "first_step_logits");
      if (fl) {
        CHECK(blip_vqa_first_logits(m, &ws, q, T, logits) == VLP_OK);
        snprintf(what, sizeof what, "%s first_step_logits", id);
        golden_check_floats(man, fl, logits, (size_t)d.vocab, what);
      }
      generate_and_check(m, man, ex, id, q, T, NULL, 0);
      free(q);
    }
    free(ids);
    cases += test_failed == before;
  }
  printf("blip_vqa.json: %d of %d cases pass\n", cases,
         cJSON_GetArraySize(cJSON_GetObjectItem(man, "cases")));
  free(logits);
  cache_clear(&ic);
  blip_free(m);
  cJSON_Delete(man);
}

/* ---- from an image file ------------------------------------------------------------ */

static void test_from_png(void) {
  cJSON *man = golden_manifest("blip_caption.json");
  blip_model *m = load("golden/models/blip-caption-tiny");
  if (!man || !m) return;
  vlp_image img;
  CHECK(vlp_image_load("golden/images/astronaut.png", &img) == VLP_OK);
  const prep_config *pc = blip_prep(m);
  int S = prep_out_h(pc);
  CHECK(S == blip_get_dims(m).image_size && prep_out_w(pc) == S);
  float *px = malloc((size_t)3 * S * S * sizeof(float));
  CHECK(prep_run(pc, &img, px) == VLP_OK);
  int GS = 0;
  float *want = golden_pixels("astronaut", &GS);
  CHECK(GS == S);
  if (want && GS == S)
    test_allclose("astronaut pixel_values", px, want, (size_t)3 * S * S, 1e-6, 0);
  int Ti = blip_vision_tokens(m, S);
  float *emb = malloc((size_t)Ti * blip_get_dims(m).vision_hidden * sizeof(float));
  CHECK(blip_encode_images(m, &ws, px, 1, S, emb, NULL) == VLP_OK);
  const cJSON *cs;
  cJSON_ArrayForEach(cs, cJSON_GetObjectItem(man, "cases")) {
    if (strcmp(json_str(cs, "id", ""), "astronaut/prompt0")) continue;
    int *ids = NULL, n = 0;
    CHECK(blip_caption_prompt_ids(m, NULL, &ids, &n) == VLP_OK);
    generate_and_check(m, man, json_obj(cs, "expected"), "astronaut.png (file)", emb, Ti, ids, n);
    free(ids);
  }
  free(px), free(want), free(emb);
  vlp_image_free(&img);
  blip_free(m);
  cJSON_Delete(man);
}

/* ---- another input size (interpolated position embeddings) -------------------------- */

static void test_interpolate(void) {
  cJSON *man = golden_manifest("interpolate_pos_encoding.json");
  blip_model *m = load("golden/models/blip-caption-tiny");
  if (!man || !m) return;
  int Dv = blip_get_dims(m).vision_hidden, done = 0;
  const cJSON *cs;
  cJSON_ArrayForEach(cs, cJSON_GetObjectItem(man, "cases")) {
    const cJSON *ex = json_obj(cs, "expected"), *pv = json_obj(ex, "blip_pixel_values");
    const cJSON *lh = json_obj(ex, "blip_vision_last_hidden_state");
    if (!pv || !lh) continue;
    int S = json_int(json_obj(cs, "inputs"), "blip_size", 0);
    size_t n = 0;
    float *px = golden_floats(json_str(pv, "npy", ""), &n);
    CHECK(px && n == (size_t)3 * S * S);
    if (!px || n != (size_t)3 * S * S) continue;
    int Ti = blip_vision_tokens(m, S);
    float *emb = malloc((size_t)Ti * Dv * sizeof(float));
    CHECK(blip_encode_images(m, &ws, px, 1, S, emb, NULL) == VLP_OK);
    char what[300];
    snprintf(what, sizeof what, "interp %s blip_vision_last_hidden_state", json_str(cs, "id", ""));
    golden_check_floats(man, lh, emb, (size_t)Ti * Dv, what);
    free(px), free(emb);
    done++;
  }
  CHECK(done > 0);
  blip_free(m);
  cJSON_Delete(man);
}

/* ---- bad model folders ------------------------------------------------------------- */

static int copy_file(const char *src, const char *dst) {
  char *data = NULL;
  size_t n = 0;
  if (read_file(src, &data, &n) != VLP_OK) return 0;
  FILE *f = fopen(dst, "wb");
  int ok = f && fwrite(data, 1, n, f) == n;
  if (f) ok &= fclose(f) == 0;
  free(data);
  return ok;
}

static int copy_dir(const char *src, const char *dst) {
  DIR *d = opendir(src);
  if (!d) return 0;
  int ok = 1;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/%s", src, e->d_name);
    snprintf(b, sizeof b, "%s/%s", dst, e->d_name);
    ok &= copy_file(a, b);
  }
  closedir(d);
  return ok;
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char a[1024];
    snprintf(a, sizeof a, "%s/%s", dir, e->d_name);
    unlink(a);
  }
  closedir(d);
  rmdir(dir);
}

/* A fresh copy of a golden model folder in a temp dir (path in buf). */
static int fresh_copy(const char *model, char *buf, size_t size) {
  snprintf(buf, size, "/tmp/vlp_test_blip_XXXXXX");
  if (!mkdtemp(buf)) return 0;
  char src[512];
  snprintf(src, sizeof src, "golden/models/%s", model);
  int ok = copy_dir(src, buf);
  CHECK(ok);
  return ok;
}

/* Edit DIR/config.json: set text_config.<key> (or the top level when key starts with '/'). */
static void edit_config(const char *dir, const char *section, const char *key, cJSON *value) {
  char path[1024];
  snprintf(path, sizeof path, "%s/config.json", dir);
  cJSON *j = NULL;
  CHECK(json_load_file(path, &j) == VLP_OK);
  if (!j) return;
  cJSON *obj = section ? cJSON_GetObjectItem(j, section) : j;
  cJSON_ReplaceItemInObject(obj, key, value);
  char *s = cJSON_Print(j);
  FILE *f = fopen(path, "wb");
  CHECK(f && fputs(s, f) >= 0);
  if (f) fclose(f);
  free(s);
  cJSON_Delete(j);
}

/* Replace the first occurrence of `from` by `to` (same length) in the safetensors header. */
static void edit_header(const char *dir, const char *from, const char *to) {
  char path[1024];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  char *data = NULL;
  size_t n = 0;
  CHECK(read_file(path, &data, &n) == VLP_OK);
  if (!data) return;
  size_t hl = n > 8 ? (size_t)(unsigned char)data[0] | (size_t)(unsigned char)data[1] << 8 |
                          (size_t)(unsigned char)data[2] << 16
                    : 0;
  char *p = NULL;
  for (size_t i = 8; i + strlen(from) <= 8 + hl && i + strlen(from) <= n; i++)
    if (!memcmp(data + i, from, strlen(from))) {
      p = data + i;
      break;
    }
  CHECK(p != NULL && strlen(from) == strlen(to));
  if (p) memcpy(p, to, strlen(to));
  FILE *f = fopen(path, "wb");
  CHECK(f && fwrite(data, 1, n, f) == n);
  if (f) fclose(f);
  free(data);
}

static void expect_error(const char *dir, vlp_status want, const char *s1, const char *s2,
                         const char *what) {
  blip_model *m = NULL;
  vlp_status st = blip_load(dir, &m);
  const char *msg = vlp_last_error();
  int ok = st == want && !m && strstr(msg, s1) && (!s2 || strstr(msg, s2)) && !strchr(msg, '\n');
  if (!ok)
    fprintf(stderr, "FAIL %s: status %d, message \"%s\"\n", what, st, msg);
  else
    printf("%s -> %s\n", what, msg);
  test_check(ok, __FILE__, __LINE__, what);
  blip_free(m);
}

static void test_bad_folders(void) {
  char dir[64];
  if (fresh_copy("blip-itm-tiny", dir, sizeof dir)) {
    edit_config(dir, NULL, "architectures",
                cJSON_CreateStringArray((const char *[]){"BlipForFancyThings"}, 1));
    expect_error(dir, VLP_ERR_UNSUPPORTED, "BlipForFancyThings", "config.json",
                 "unknown architecture");
  }
  remove_dir(dir);
  if (fresh_copy("blip-itm-tiny", dir, sizeof dir)) {
    edit_config(dir, NULL, "architectures", cJSON_CreateArray());
    expect_error(dir, VLP_ERR_MODEL, "\"architectures\"", "config.json", "no architecture");
  }
  remove_dir(dir);
  if (fresh_copy("blip-itm-tiny", dir, sizeof dir)) {
    edit_config(dir, "text_config", "hidden_size", cJSON_CreateNumber(64));
    expect_error(dir, VLP_ERR_MODEL, "text_encoder.embeddings.word_embeddings.weight", NULL,
                 "config hidden_size disagrees with the weights");
  }
  remove_dir(dir);
  if (fresh_copy("blip-itm-tiny", dir, sizeof dir)) {
    edit_config(dir, "text_config", "encoder_hidden_size", cJSON_CreateNumber(48));
    expect_error(dir, VLP_ERR_MODEL, "encoder_hidden_size", "config.json",
                 "config encoder_hidden_size disagrees with the vision width");
  }
  remove_dir(dir);
  if (fresh_copy("blip-itm-tiny", dir, sizeof dir)) {
    edit_header(dir, "\"itm_head.weight\"", "\"itm_head.weighx\"");
    expect_error(dir, VLP_ERR_MODEL, "itm_head.weight", NULL, "missing tensor");
  }
  remove_dir(dir);
  if (fresh_copy("blip-itm-tiny", dir, sizeof dir)) {
    edit_header(dir, "\"shape\":[2,32]", "\"shape\":[32,2]");
    expect_error(dir, VLP_ERR_MODEL, "itm_head.weight", NULL, "tensor of the wrong shape");
  }
  remove_dir(dir);
  if (fresh_copy("blip-caption-tiny", dir, sizeof dir)) {
    /* vocab.txt without its last 100 lines */
    char path[1024], *data = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    CHECK(read_file(path, &data, &n) == VLP_OK);
    int lines = 0;
    size_t cut = n;
    while (cut > 0 && lines <= 100) {
      cut--;
      if (data[cut] == '\n') lines++;
    }
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, cut + 1, f) == cut + 1);
    if (f) fclose(f);
    free(data);
    /* a consistent smaller tokenizer: the added tokens follow the shortened vocab */
    snprintf(path, sizeof path, "%s/added_tokens.json", dir);
    f = fopen(path, "wb");
    CHECK(f && fputs("{\"[DEC]\": 30422, \"[ENC]\": 30423}", f) >= 0);
    if (f) fclose(f);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    cJSON *tc = NULL;
    CHECK(json_load_file(path, &tc) == VLP_OK);
    cJSON *dec = cJSON_GetObjectItem(tc, "added_tokens_decoder");
    const char *from[2] = {"30522", "30523"}, *to[2] = {"30422", "30423"};
    for (int i = 0; i < 2; i++) {
      cJSON *it = cJSON_DetachItemFromObject(dec, from[i]);
      CHECK(it != NULL);
      if (it) cJSON_AddItemToObject(dec, to[i], it);
    }
    char *txt = cJSON_Print(tc);
    f = fopen(path, "wb");
    CHECK(f && txt && fputs(txt, f) >= 0);
    if (f) fclose(f);
    free(txt);
    cJSON_Delete(tc);
    expect_error(dir, VLP_ERR_MODEL, "vocab.txt", "30524", "vocab size mismatch");
    CHECK(strstr(vlp_last_error(), "30424") != NULL);
  }
  remove_dir(dir);
  if (fresh_copy("blip-vqa-tiny", dir, sizeof dir)) {
    char path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    blip_model *m = NULL;
    CHECK(blip_load(dir, &m) != VLP_OK && !m && strstr(vlp_last_error(), "config.json"));
  }
  remove_dir(dir);
}

int main(void) {
  test_caption("blip_caption.json", "golden/models/blip-caption-tiny");
  test_caption("blip_caption_bf16.json", "golden/models/blip-caption-tiny-bf16");
  test_itm();
  test_vqa();
  test_from_png();
  test_interpolate();
  test_bad_folders();
  return test_done();
}
