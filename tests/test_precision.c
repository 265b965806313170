/* test_precision: the fast modes against f32 on the golden tiny models (the public API, as
 * a user runs them): minimum cosine of CLIP image and text embeddings and of BLIP
 * retrieval embeddings, and the share of identical greedy BLIP captions. Bounds that a
 * broken bf16 / int8 kernel (wrong layout, scale, rounding) would miss by far. On a CPU
 * without the instructions, loading must fail with a message saying why. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "vlp.h"

static const char *images[] = {"golden/images/astronaut.png", "golden/images/chelsea_cat.png",
                               "golden/images/coffee.jpg", "golden/images/camera_gray.png"};
static const char *texts[] = {"a photo of a cat", "an astronaut on the moon",
                              "a cup of coffee on a table", "a man with a camera"};
#define N 4

static double cosine(const float *a, const float *b, int d) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < d; i++)
    ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
  return ab / (sqrt(aa * bb) + 1e-30);
}

/* Embeddings (2N, dim): images then texts; NULL when the model cannot load (why printed). */
static float *embed_all(const char *model, vlp_precision p, const vlp_image *imgs, int *dim,
                        int texts_too) {
  vlp_model_params mp = vlp_model_default_params();
  mp.precision = p;
  vlp_model *m = NULL;
  if (vlp_model_load_with(model, &mp, &m)) {
    printf("  %s: %s\n", model, vlp_last_error());
    return NULL;
  }
  vlp_session *s = NULL;
  CHECK(vlp_session_new(m, NULL, &s) == VLP_OK);
  *dim = vlp_model_embed_dim(m);
  float *e = calloc((size_t)2 * N * *dim, sizeof *e);
  CHECK(vlp_embed_images(s, imgs, N, 0, e) == VLP_OK);
  if (texts_too) CHECK(vlp_embed_texts(s, texts, N, e + (size_t)N * *dim) == VLP_OK);
  vlp_session_free(s);
  vlp_model_free(m);
  return e;
}

static void check_embeddings(const char *model, const vlp_image *imgs, int texts_too) {
  int dim = 0;
  float *ref = embed_all(model, VLP_PRECISION_F32, imgs, &dim, texts_too);
  CHECK(ref != NULL);
  const vlp_precision fast[] = {VLP_PRECISION_BF16, VLP_PRECISION_INT8};
  const double bound[] = {0.999, 0.99};
  for (int k = 0; ref && k < 2; k++) {
    int d2 = 0;
    float *e = embed_all(model, fast[k], imgs, &d2, texts_too);
    if (!e) { /* only acceptable with a reason naming the missing instructions */
      CHECK(strstr(vlp_last_error(), "need") != NULL);
      continue;
    }
    double min_img = 1, min_txt = 1;
    for (int i = 0; i < N; i++) {
      double ci = cosine(ref + (size_t)i * dim, e + (size_t)i * dim, dim);
      double ct = cosine(ref + (size_t)(N + i) * dim, e + (size_t)(N + i) * dim, dim);
      if (ci < min_img) min_img = ci;
      if (texts_too && ct < min_txt) min_txt = ct;
    }
    printf("  %s %s: min cosine vs f32 images %.6f texts %.6f (bound %.3f)\n", model,
           k ? "int8" : "bf16", min_img, min_txt, bound[k]);
    CHECK(min_img >= bound[k]);
    CHECK(min_txt >= bound[k]);
    CHECK(min_img < 1 - 1e-9 || min_txt < 1 - 1e-9); /* the fast mode did run */
    free(e);
  }
  free(ref);
}

/* Greedy captions at each precision; returns how many equal the f32 ones (-1: no load). */
static int same_captions(const char *model, vlp_precision p, const vlp_image *imgs, char **ref) {
  vlp_model_params mp = vlp_model_default_params();
  mp.precision = p;
  vlp_model *m = NULL;
  if (vlp_model_load_with(model, &mp, &m)) return -1;
  vlp_session *s = NULL;
  vlp_features *f = NULL;
  CHECK(vlp_session_new(m, NULL, &s) == VLP_OK);
  CHECK(vlp_encode_images(s, imgs, N, 0, &f) == VLP_OK);
  vlp_text_result r[N];
  memset(r, 0, sizeof r);
  vlp_gen_params g = vlp_gen_default_params();
  CHECK(vlp_caption(s, f, &g, r) == VLP_OK);
  int same = 0;
  for (int i = 0; i < N; i++) {
    if (p == VLP_PRECISION_F32)
      ref[i] = strdup(r[i].text ? r[i].text : "");
    else
      same += ref[i] && r[i].text && !strcmp(ref[i], r[i].text);
    vlp_text_result_free(&r[i]);
  }
  vlp_features_free(f);
  vlp_session_free(s);
  vlp_model_free(m);
  return p == VLP_PRECISION_F32 ? N : same;
}

int main(void) {
  vlp_image imgs[N];
  for (int i = 0; i < N; i++) CHECK(vlp_image_load(images[i], &imgs[i]) == VLP_OK);
  check_embeddings("golden/models/clip-tiny", imgs, 1);
  check_embeddings("golden/models/blip-itm-tiny", imgs, 1);

  char *ref[N] = {0};
  CHECK(same_captions("golden/models/blip-caption-tiny", VLP_PRECISION_F32, imgs, ref) == N);
  int s16 = same_captions("golden/models/blip-caption-tiny", VLP_PRECISION_BF16, imgs, ref);
  int s8 = same_captions("golden/models/blip-caption-tiny", VLP_PRECISION_INT8, imgs, ref);
  printf("  blip-caption-tiny identical greedy captions: bf16 %d/%d, int8 %d/%d\n", s16, N, s8, N);
  for (int i = 0; i < N; i++) free(ref[i]), vlp_image_free(&imgs[i]);
  return test_done();
}
