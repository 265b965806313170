/* test_api: the public API of vlp.h against the reference data - empty text on every text
 * path (CLIP: start + end tokens, BERT: [CLS] [SEP]), zero-shot tags ranked from label sets,
 * index queries, the caption's truncation flag and the misuse errors of sessions and
 * features; many texts in one call (passes of CLIP_TEXT_PASS_ROWS tokens). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/gemm.h"
#include "core/json.h"
#include "fusion/api_types.h"
#include "golden_common.h"
#include "testlib.h"
#include "vlp.h"

#define CLIP "golden/models/clip-tiny"
#define ITM "golden/models/blip-itm-tiny"
#define CAP "golden/models/blip-caption-tiny"
#define IMAGE "golden/images/astronaut.png"

static const char *const texts[10] = {"a photo of an astronaut",
                                      "a cat sitting on a blanket",
                                      "a cup of coffee",
                                      "",
                                      "A ROCKET launching into the sky!!!",
                                      "café naïve résumé",
                                      "日本語のテキスト",
                                      "emoji 😀🐱🚀",
                                      "what's this? it's a test, isn't it?",
                                      NULL};

/* expected[key] of case `id` of a manifest. */
static const cJSON *entry(const cJSON *man, const char *id, const char *key) {
  const cJSON *c;
  cJSON_ArrayForEach(
      c, json_arr(man, "cases")) if (!strcmp(json_str(c, "id", ""),
                                             id)) return json_obj(json_obj(c, "expected"), key);
  return NULL;
}

static vlp_session *open_session(const char *dir, vlp_model **m) {
  vlp_session *s = NULL;
  CHECK(vlp_model_load(dir, m) == VLP_OK);
  if (*m) CHECK(vlp_session_new(*m, NULL, &s) == VLP_OK);
  return s;
}

static void test_clip(void) {
  vlp_model *m = NULL;
  vlp_session *s = open_session(CLIP, &m);
  cJSON *man = golden_manifest("clip.json");
  if (!s || !man) return;
  int P = vlp_model_embed_dim(m), *ids = NULL, n = 0;
  /* "": start and end tokens, the reference's embedding */
  CHECK(vlp_tokenize(vlp_model_tokenizer(m), "", &ids, &n) == VLP_OK);
  CHECK(n == 2 && ids[0] == 49406 && ids[1] == 49407);
  free(ids);
  const char *empty[1] = {""};
  float *e = malloc((size_t)P * sizeof *e);
  CHECK(vlp_embed_texts(s, empty, 1, e) == VLP_OK);
  golden_check_floats(man, entry(man, "text3", "text_embeds"), e, (size_t)P, "clip embed \"\"");

  /* the ten texts as labels (template "{}"): vlp_tag gives the reference's probs, sorted */
  vlp_image img;
  vlp_features *f = NULL;
  vlp_labels *l = NULL;
  CHECK(vlp_image_load(IMAGE, &img) == VLP_OK);
  CHECK(vlp_encode_images(s, &img, 1, 0, &f) == VLP_OK);
  const char *labels[10];
  memcpy(labels, texts, sizeof labels);
  labels[9] = "The quick brown fox"; /* text9 is long: replaced, so compare 9 */
  CHECK(vlp_labels_new(s, labels, 9, "{}", &l) == VLP_OK);
  CHECK(vlp_labels_count(l) == 9 && !strcmp(vlp_labels_text(l, 3), ""));
  vlp_tag_result tags[9];
  CHECK(vlp_tag(s, f, 0, l, tags) == VLP_OK);
  size_t np = 0;
  float *logits = golden_floats("npy/clip/astronaut/logits_per_image.npy", &np);
  CHECK(logits && np == 10);
  if (logits && np == 10) { /* softmax over the first 9 of the reference's logits */
    double mx = -1e30, sum = 0, p[9];
    for (int i = 0; i < 9; i++) mx = fmax(mx, logits[i]);
    for (int i = 0; i < 9; i++) sum += p[i] = exp(logits[i] - mx);
    for (int j = 0; j < 9; j++) {
      CHECK(fabs(tags[j].score - p[tags[j].label] / sum) < 2e-4);
      CHECK(tags[j].text == vlp_labels_text(l, tags[j].label));
      if (j) CHECK(tags[j - 1].score >= tags[j].score);
    }
  }
  free(logits);

  /* an index of two images queried with "": cosine with the "" embedding, best first */
  char dir[] = "/tmp/vlp_test_api_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  vlp_image imgs[2] = {img, {0}};
  CHECK(vlp_image_load("golden/images/coffee.jpg", &imgs[1]) == VLP_OK);
  float *emb = malloc((size_t)2 * P * sizeof *emb);
  CHECK(vlp_embed_images(s, imgs, 2, 0, emb) == VLP_OK);
  /* a batch whose second image has no pixels fails naming it (the images are prepared in
   * parallel, the message is the one that image gives alone), and the session goes on */
  vlp_image three[3] = {img, {0}, imgs[1]};
  vlp_features *bad = NULL;
  CHECK(vlp_encode_images(s, three, 3, 0, &bad) != VLP_OK && bad == NULL);
  CHECK(strstr(vlp_last_error(), "image 2") != NULL);
  float *again = malloc((size_t)2 * P * sizeof *again);
  CHECK(vlp_embed_images(s, imgs, 2, 0, again) == VLP_OK);
  CHECK(memcmp(again, emb, (size_t)2 * P * sizeof *emb) == 0);
  free(again);
  vlp_index_entry ent[2] = {{.path = "/a.png"}, {.path = "/b.jpg"}};
  int lock = -1;
  vlp_index *ix = NULL;
  CHECK(vlp_index_lock(dir, &lock) == VLP_OK);
  CHECK(vlp_index_commit(dir, CLIP, vlp_arch_name(VLP_ARCH_CLIP), P, ent, 2, emb) == VLP_OK);
  vlp_index_unlock(lock);
  CHECK(vlp_index_open(dir, &ix) == VLP_OK);
  vlp_index_hit hits[2];
  int nh = 0;
  if (ix) CHECK(vlp_index_query_text(s, ix, "", 2, hits, &nh) == VLP_OK);
  CHECK(nh == 2);
  for (int i = 0; i < nh; i++) {
    double dot = 0;
    for (int k = 0; k < P; k++) dot += (double)emb[(size_t)hits[i].row * P + k] * e[k];
    CHECK(fabs(hits[i].score - dot) < 1e-5);
  }
  if (nh == 2) CHECK(hits[0].score >= hits[1].score);
  vlp_index_close(ix);
  char path[256];
  snprintf(path, sizeof path, "rm -rf %s", dir);
  CHECK(system(path) == 0);
  free(emb);
  vlp_image_free(&imgs[1]);
  vlp_labels_free(l);
  vlp_features_free(f);
  vlp_image_free(&img);
  free(e);
  cJSON_Delete(man);
  vlp_session_free(s);
  vlp_model_free(m);
}

static void test_blip_itm(void) {
  vlp_model *m = NULL;
  vlp_session *s = open_session(ITM, &m);
  cJSON *man = golden_manifest("blip_itm.json");
  if (!s || !man) return;
  int E = vlp_model_embed_dim(m), *ids = NULL, n = 0;
  CHECK(vlp_tokenize(vlp_model_tokenizer(m), "", &ids, &n) == VLP_OK);
  CHECK(n == 2 && ids[0] == 101 && ids[1] == 102); /* [CLS] [SEP] */
  free(ids);
  const char *empty[1] = {""};
  float *e = malloc((size_t)E * sizeof *e);
  CHECK(vlp_embed_texts(s, empty, 1, e) == VLP_OK);
  golden_check_floats(man, entry(man, "text3", "text_feat"), e, (size_t)E, "blip embed \"\"");
  vlp_image img;
  vlp_features *f = NULL;
  float itm = -1, itc = -1;
  CHECK(vlp_image_load(IMAGE, &img) == VLP_OK);
  CHECK(vlp_encode_images(s, &img, 1, 0, &f) == VLP_OK);
  CHECK(vlp_itm(s, f, 0, "", &itm, &itc) == VLP_OK);
  size_t k = 0, j = 0;
  float *prob = golden_floats("npy/itm/astronaut/itm_prob.npy", &k);
  float *cos = golden_floats("npy/itm/astronaut/itc.npy", &j);
  CHECK(prob && cos && k == 10 && j == 10);
  if (prob && cos && k == 10 && j == 10) { /* text3 is "" */
    CHECK(fabs(itm - prob[3]) <= 1e-4 + 1e-4 * fabs(prob[3]));
    CHECK(fabs(itc - cos[3]) <= 1e-4 + 1e-4 * fabs(cos[3]));
  }
  /* misuse: features of one image, asked for image 1; a caption of a retrieval model */
  CHECK(vlp_itm(s, f, 1, "a", &itm, &itc) == VLP_ERR_INVALID);
  vlp_text_result r;
  CHECK(vlp_caption(s, f, NULL, &r) == VLP_ERR_INVALID);
  free(prob);
  free(cos);
  vlp_features_free(f);
  vlp_image_free(&img);
  free(e);
  cJSON_Delete(man);
  vlp_session_free(s);
  vlp_model_free(m);
}

static void test_caption_truncated(void) {
  vlp_model *m = NULL, *other = NULL;
  vlp_session *s = open_session(CAP, &m);
  if (!s) return;
  vlp_image img;
  vlp_features *f = NULL;
  CHECK(vlp_image_load(IMAGE, &img) == VLP_OK);
  CHECK(vlp_encode_images(s, &img, 1, 0, &f) == VLP_OK);
  vlp_gen_params p = vlp_gen_default_params();
  vlp_text_result r;
  CHECK(vlp_caption(s, f, &p, &r) == VLP_OK);
  CHECK(r.n_ids >= 2 && r.truncated == (r.ids[r.n_ids - 1] != 102));
  vlp_text_result_free(&r);
  p.max_length = p.min_length = 3; /* [DEC] + 2 tokens, the end token masked until then */
  CHECK(vlp_caption(s, f, &p, &r) == VLP_OK);
  CHECK(r.n_ids == 3 && r.truncated == 1);
  vlp_text_result_free(&r);
  /* features of another model's session are refused */
  vlp_session *s2 = open_session(CAP, &other);
  if (s2) CHECK(vlp_caption(s2, f, &p, &r) == VLP_ERR_INVALID);
  vlp_session_free(s2);
  vlp_model_free(other);
  /* precision modes this build does not implement are refused at load */
  vlp_model_params mp = vlp_model_default_params();
  mp.precision = VLP_PRECISION_INT8;
  vlp_model *q = NULL;
  vlp_status st = vlp_model_load_with(CAP, &mp, &q);
  CHECK(st == VLP_OK || st == VLP_ERR_UNSUPPORTED);
  vlp_model_free(q);
  vlp_features_free(f);
  vlp_image_free(&img);
  vlp_session_free(s);
  vlp_model_free(m);
}

/* BLIP images go through the vision tower in chunks (api_vision_chunk): with room for two
 * images' workspace, a batch of 5 runs as 2 + 2 + 1, holds less memory than one pass of 5
 * and gives the same features and captions as one pass and as the images one at a time. */
static void test_caption_chunks(void) {
  static const char *const files[5] = {"golden/images/astronaut.png", "golden/images/coffee.jpg",
                                       "golden/images/chelsea_cat.png", "golden/images/rocket.jpg",
                                       "golden/images/camera_gray.png"};
  vlp_model *m = NULL;
  vlp_session *whole = open_session(CAP, &m), *chunked = NULL;
  if (!whole) return;
  CHECK(vlp_session_new(m, NULL, &chunked) == VLP_OK);
  vlp_image img[5];
  for (int i = 0; i < 5; i++) CHECK(vlp_image_load(files[i], &img[i]) == VLP_OK);
  vlp_features *fw = NULL, *fc = NULL;
  CHECK(vlp_encode_images(whole, img, 5, 0, &fw) == VLP_OK);
  if (!chunked || !fw) return;
  int S = fw->S;
  CHECK(api_vision_chunk(whole, 5, S) == 5); /* a tiny model's 5 images fit the default */
  chunked->vision_chunk_bytes = 2 * blip_vision_ws_bytes(m->blip, 1, S) + 1;
  CHECK(api_vision_chunk(chunked, 5, S) == 2);
  CHECK(vlp_encode_images(chunked, img, 5, 0, &fc) == VLP_OK);
  if (!fc) return;
  size_t nh = (size_t)5 * fw->Ti * blip_get_dims(m->blip).vision_hidden;
  /* the same bytes where the products are batch invariant, else up to their rounding */
  double worst = 0;
  for (size_t i = 0; fc->Ti == fw->Ti && i < nh; i++) {
    double d = fabs((double)fc->hidden[i] - fw->hidden[i]);
    worst = d > worst ? d : worst;
  }
  CHECK(fc->Ti == fw->Ti && worst <= (vlp_batch_invariant() ? 0.0 : 1e-5));
  vlp_gen_params p = vlp_gen_default_params();
  vlp_text_result rw[5], rc[5];
  CHECK(vlp_caption(whole, fw, &p, rw) == VLP_OK);
  CHECK(vlp_caption(chunked, fc, &p, rc) == VLP_OK);
  CHECK(vlp_session_bytes(chunked) < vlp_session_bytes(whole));
  for (int i = 0; i < 5; i++) {
    vlp_features *f1 = NULL;
    vlp_text_result r1;
    CHECK(vlp_encode_images(whole, &img[i], 1, 0, &f1) == VLP_OK);
    CHECK(f1 && vlp_caption(whole, f1, &p, &r1) == VLP_OK);
    CHECK(rw[i].n_ids == r1.n_ids && !memcmp(rw[i].ids, r1.ids, (size_t)r1.n_ids * sizeof(int)));
    CHECK(rc[i].n_ids == r1.n_ids && !memcmp(rc[i].ids, r1.ids, (size_t)r1.n_ids * sizeof(int)));
    vlp_text_result_free(&r1);
    vlp_text_result_free(&rw[i]);
    vlp_text_result_free(&rc[i]);
    vlp_features_free(f1);
    vlp_image_free(&img[i]);
  }
  vlp_features_free(fw);
  vlp_features_free(fc);
  vlp_session_free(chunked);
  vlp_session_free(whole);
  vlp_model_free(m);
}

/* vlp_index_build: a build, an update (one file gone, one new, one moved: its embedding
 * kept), a bad file reported, a cancelled build leaving the index as it was. */
typedef struct {
  int errors, removed, calls;
  char removed_why[64];
  int cancel_at; /* cancel when this many files are done; -1: never */
} build_log;

/* Many texts in one vlp_embed_texts call run in passes of at most CLIP_TEXT_PASS_ROWS
 * padded tokens (CLIP: consecutive texts padded to their longest; SigLIP: every text padded
 * to 64): 300 texts of 1 to ~90 words, long and short interleaved, come out as one at a
 * time (within 1e-5) and in order. */
static void test_text_passes(const char *dir) {
  enum { N = 300 };
  vlp_model *m = NULL;
  vlp_session *s = open_session(dir, &m);
  if (!s) return;
  static const char *const words[] = {"a",   "photo",   "of", "the",     "red",    "astronaut",
                                      "cat", "sitting", "on", "blanket", "coffee", "rocket"};
  char *t[N];
  for (int i = 0; i < N; i++) {
    int nw = i % 2 ? 1 + i % 7 : 1 + (i * 37) % 90; /* short and long, interleaved */
    t[i] = calloc((size_t)nw * 12 + 1, 1);
    for (int w = 0; w < nw; w++) {
      strcat(t[i], words[(i + w * 5) % 12]);
      if (w + 1 < nw) strcat(t[i], " ");
    }
  }
  int P = vlp_model_embed_dim(m);
  float *all = malloc((size_t)N * P * sizeof *all), *one = malloc((size_t)P * sizeof *one);
  CHECK(vlp_embed_texts(s, (const char *const *)t, N, all) == VLP_OK);
  double worst = 0;
  for (int i = 0; i < N; i++) {
    CHECK(vlp_embed_texts(s, (const char *const *)&t[i], 1, one) == VLP_OK);
    for (int c = 0; c < P; c++) worst = fmax(worst, fabs(one[c] - all[(size_t)i * P + c]));
  }
  printf("%s %s: %d texts in one call vs one at a time: max diff %.3g\n",
         worst <= 1e-5 ? "ok  " : "FAIL", dir, N, worst);
  CHECK(worst <= 1e-5);
  for (int i = 0; i < N; i++) free(t[i]);
  free(all), free(one);
  vlp_session_free(s);
  vlp_model_free(m);
}

static void on_report(void *ctx, const char *path, const char *kind, const char *message) {
  build_log *b = ctx;
  (void)path;
  if (!strcmp(kind, "error")) b->errors++;
  if (!strcmp(kind, "removed")) {
    b->removed++;
    snprintf(b->removed_why, sizeof b->removed_why, "%s", message);
  }
}

static int on_progress(void *ctx, const char *what, int64_t done, int64_t total) {
  build_log *b = ctx;
  b->calls++;
  return !strcmp(what, "index") && done <= total && b->cancel_at >= 0 && done == b->cancel_at;
}

static void copy_file(const char *from, const char *to) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cp %s %s", from, to);
  CHECK(system(cmd) == 0);
}

/* vlp_model_mlp_widths: config.json's intermediate_size of each tower; left out, the
 * default the loaders take (transformers' class defaults, not 4 x hidden); no config: an
 * error naming it. */
static void test_mlp_widths(void) {
  const char *models[][2] = {
      {CLIP, "3072 2048"}, {"golden/models/siglip-tiny", "3072 3072"}, {CAP, "3072 3072"}};
  char dir[] = "/tmp/vlp_test_mlp_XXXXXX", path[64], got[32];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/config.json", dir);
  for (int i = 0; i < 3; i++) {
    char from[256];
    snprintf(from, sizeof from, "%s/config.json", models[i][0]);
    cJSON *cfg = NULL;
    CHECK(json_load_file(from, &cfg) == VLP_OK);
    if (!cfg) continue;
    cJSON *vc = cJSON_GetObjectItemCaseSensitive(cfg, "vision_config");
    cJSON *tc = cJSON_GetObjectItemCaseSensitive(cfg, "text_config");
    int v = -1, t = -1;
    CHECK(vlp_model_mlp_widths(models[i][0], &v, &t) == VLP_OK);
    CHECK(v == json_int(vc, "intermediate_size", -2) && t == json_int(tc, "intermediate_size", -2));
    CHECK(v != 4 * json_int(vc, "hidden_size", 0)); /* the golden widths are not 4 x hidden */
    cJSON_DeleteItemFromObjectCaseSensitive(vc, "intermediate_size");
    cJSON_DeleteItemFromObjectCaseSensitive(tc, "intermediate_size");
    char *text = cJSON_Print(cfg);
    FILE *f = fopen(path, "w");
    CHECK(f && text && fputs(text, f) >= 0);
    if (f) fclose(f);
    free(text);
    cJSON_Delete(cfg);
    if (vlp_model_mlp_widths(dir, &v, &t)) fprintf(stderr, "%s\n", vlp_last_error());
    snprintf(got, sizeof got, "%d %d", v, t);
    if (strcmp(got, models[i][1])) fprintf(stderr, "%s without intermediate_size: %s\n", from, got);
    CHECK(!strcmp(got, models[i][1]));
  }
  remove(path);
  int v = -1, t = -1;
  CHECK(vlp_model_mlp_widths(dir, &v, &t) != VLP_OK && v == 0 && t == 0);
  CHECK(strstr(vlp_last_error(), "config.json") != NULL);
  rmdir(dir);
}

/* vlp_precision_name: the spellings --precision takes, so a name read back parses. */
static void test_precision_names(void) {
  CHECK(!strcmp(vlp_precision_name(VLP_PRECISION_F32), "f32"));
  CHECK(!strcmp(vlp_precision_name(VLP_PRECISION_BF16), "bf16"));
  CHECK(!strcmp(vlp_precision_name(VLP_PRECISION_INT8), "int8"));
}

static void test_index_build(void) {
  vlp_model *m = NULL;
  vlp_session *s = open_session(CLIP, &m);
  if (!s) return;
  char dir[] = "/tmp/vlp_test_build_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char a[300], b[300], c[300], bad[300], moved[300], ix_dir[300], cmd[700];
  snprintf(a, sizeof a, "%s/a.png", dir);
  snprintf(b, sizeof b, "%s/b.jpg", dir);
  snprintf(c, sizeof c, "%s/c.png", dir);
  snprintf(bad, sizeof bad, "%s/bad.jpg", dir);
  snprintf(moved, sizeof moved, "%s/moved.jpg", dir);
  snprintf(ix_dir, sizeof ix_dir, "%s/ix", dir);
  copy_file("golden/images/astronaut.png", a);
  copy_file("golden/images/coffee.jpg", b);
  copy_file("golden/images/chelsea_cat.png", c);
  FILE *fp = fopen(bad, "w");
  if (fp) fputs("not a jpeg", fp), fclose(fp);

  build_log log = {.cancel_at = -1};
  vlp_index_build_options o = vlp_index_build_default_options();
  o.report = on_report, o.report_ctx = &log;
  o.progress = on_progress, o.progress_ctx = &log;
  vlp_index_build_stats st;
  const char *first[] = {a, b, bad};
  CHECK(vlp_index_build(s, ix_dir, first, 3, &o, &st) == VLP_OK);
  CHECK(st.files == 2 && st.embedded == 2 && st.unchanged == 0 && st.failed == 1);
  CHECK(log.errors == 1 && log.removed == 0 && log.calls >= 3);

  /* the entries are the files' embeddings, as vlp_embed_images gives them */
  vlp_index *ix = NULL;
  CHECK(vlp_index_open(ix_dir, &ix) == VLP_OK);
  if (ix) {
    int P = ix->dim;
    CHECK(ix->count == 2 && !strcmp(ix->model, vlp_model_dir(m)));
    float *want = malloc((size_t)P * sizeof *want);
    vlp_image img = {0};
    for (int64_t r = 0; r < ix->count && want; r++) {
      CHECK(vlp_image_load(ix->entries[r].path, &img) == VLP_OK);
      CHECK(vlp_embed_images(s, &img, 1, 0, want) == VLP_OK);
      vlp_image_free(&img);
      CHECK(test_max_abs_diff(want, ix->emb + (size_t)r * P, (size_t)P) < 1e-6);
    }
    free(want);
    vlp_index_close(ix);
  }

  /* b moved, a left out, c new: one embedded, one kept, one removed */
  snprintf(cmd, sizeof cmd, "mv %s %s", b, moved);
  CHECK(system(cmd) == 0);
  memset(&log, 0, sizeof log);
  log.cancel_at = -1;
  const char *second[] = {moved, c};
  CHECK(vlp_index_build(s, ix_dir, second, 2, &o, &st) == VLP_OK);
  CHECK(st.files == 2 && st.embedded == 1 && st.unchanged == 1 && st.removed == 2);
  CHECK(log.removed == 2 && log.errors == 0); /* a: not given; b: gone */

  /* cancelled after the first file: VLP_ERR_CANCELLED, the index as it was */
  memset(&log, 0, sizeof log);
  log.cancel_at = 1;
  const char *third[] = {a, b, c};
  CHECK(vlp_index_build(s, ix_dir, third, 3, &o, &st) == VLP_ERR_CANCELLED);
  ix = NULL;
  CHECK(vlp_index_open(ix_dir, &ix) == VLP_OK);
  if (ix) CHECK(ix->count == 2 && strstr(ix->entries[0].path, "c.png"));
  vlp_index_close(ix);

  /* a first build whose commit fails (its embeddings file cannot be placed: a folder is
   * in the way) leaves no index.db, so the next build starts afresh */
  char fresh_ix[400], blocker[500];
  snprintf(fresh_ix, sizeof fresh_ix, "%s/ix2", dir);
  snprintf(blocker, sizeof blocker, "%s/embeddings-1.npy/x", fresh_ix);
  snprintf(cmd, sizeof cmd, "mkdir -p %s", blocker);
  CHECK(system(cmd) == 0);
  CHECK(vlp_index_build(s, fresh_ix, second, 2, NULL, &st) == VLP_ERR_IO);
  CHECK(!vlp_index_exists(fresh_ix));
  snprintf(cmd, sizeof cmd, "rm -r %s/embeddings-1.npy", fresh_ix);
  CHECK(system(cmd) == 0);
  CHECK(vlp_index_build(s, fresh_ix, second, 2, NULL, &st) == VLP_OK && st.files == 2);

  /* a captioning model cannot make an index */
  vlp_model *cap = NULL;
  vlp_session *cs = open_session("golden/models/blip-caption-tiny", &cap);
  if (cs) CHECK(vlp_index_build(cs, ix_dir, third, 1, NULL, NULL) == VLP_ERR_INVALID);
  vlp_session_free(cs);
  vlp_model_free(cap);

  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
  vlp_session_free(s);
  vlp_model_free(m);
}

/* vlp_image_reader: images in queue order, fitted to the model's input size when given one
 * (pixel for pixel vlp_model_fit_image), a file's own error in its place, VLP_ERR_INVALID
 * when nothing is queued, and freeing with paths still queued. */
static void test_image_reader(void) {
  vlp_model *m = NULL;
  CHECK(vlp_model_load(CLIP, &m) == VLP_OK);
  if (!m) return;
  const char *paths[] = {IMAGE, "golden/images/no-such-file.png", "golden/images/coffee.jpg",
                         "golden/images/rocket.jpg"};
  for (int fit = 0; fit < 2; fit++) {
    vlp_image_reader *r = NULL;
    CHECK(vlp_image_reader_new(fit ? m : NULL, 0, 2, &r) == VLP_OK);
    if (!r) continue;
    vlp_image img;
    CHECK(vlp_image_reader_next(r, &img) == VLP_ERR_INVALID && !img.rgb);
    for (int i = 0; i < 4; i++) CHECK(vlp_image_reader_add(r, paths[i]) == VLP_OK);
    for (int i = 0; i < 3; i++) {
      vlp_status st = vlp_image_reader_next(r, &img);
      if (i == 1) {
        CHECK(st == VLP_ERR_IO && !img.rgb);
        CHECK(strstr(vlp_last_error(), "no-such-file.png") != NULL);
        continue;
      }
      vlp_image want = {0}, full = {0};
      CHECK(st == VLP_OK && vlp_image_load(paths[i], &full) == VLP_OK);
      if (fit)
        CHECK(vlp_model_fit_image(m, &full, 0, &want) == VLP_OK);
      else
        want = full, full = (vlp_image){0};
      CHECK(img.w == want.w && img.h == want.h && img.rgb && want.rgb &&
            !memcmp(img.rgb, want.rgb, (size_t)img.w * (size_t)img.h * 3));
      vlp_image_free(&img);
      vlp_image_free(&want);
      vlp_image_free(&full);
    }
    vlp_image_reader_free(r); /* rocket.jpg still queued (or read ahead) */
  }
  vlp_model_free(m);
}

int main(void) {
  test_image_reader();
  test_clip();
  test_text_passes(CLIP);
  test_text_passes("golden/models/siglip-tiny");
  test_blip_itm();
  test_caption_truncated();
  test_caption_chunks();
  test_index_build();
  test_mlp_widths();
  test_precision_names();
  /* every product over a weight packed at load ran packed: a slice of a packed weight (as
   * BLIP's fused qkv once was) misses the packed copy and falls back to OpenBLAS */
  CHECK(gemm_fallbacks() == 0);
  return test_done();
}
