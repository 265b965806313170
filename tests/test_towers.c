/* test_towers: loading only some parts of a model (vlp_model_params.parts). A text-only or
 * vision-only load gives byte for byte the embeddings of a full load, packs only its own
 * part's weights (the two partial loads pack exactly what a full load packs between them),
 * and a call that needs the part left out fails with VLP_ERR_INVALID naming the model and
 * the missing part. CLIP, SigLIP and the BLIP retrieval and caption models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
#include "fusion/api_types.h"
#include "testlib.h"
#include "vlp.h"

#define IMAGE "golden/images/astronaut.png"

static const char *const texts[3] = {"a photo of an astronaut", "", "a cup of coffee"};

static vlp_model *load(const char *dir, unsigned parts) {
  vlp_model_params p = vlp_model_default_params();
  p.parts = parts;
  vlp_model *m = NULL;
  if (vlp_model_load_with(dir, &p, &m) != VLP_OK)
    fprintf(stderr, "%s (parts %u): %s\n", dir, parts, vlp_last_error());
  CHECK(m != NULL);
  return m;
}

static vlp_session *session(const vlp_model *m) {
  vlp_session *s = NULL;
  if (m) CHECK(vlp_session_new(m, NULL, &s) == VLP_OK);
  return s;
}

/* The call failed with VLP_ERR_INVALID and a message naming the model folder (its absolute
 * path: checked by its last component) and what is missing. */
static void check_refused(vlp_status st, const char *dir, const char *what) {
  const char *msg = vlp_last_error(), *name = strrchr(dir, '/');
  name = name ? name + 1 : dir;
  CHECK(st == VLP_ERR_INVALID);
  CHECK(strstr(msg, name) != NULL);
  CHECK(strstr(msg, what) != NULL);
  if (st != VLP_ERR_INVALID || !strstr(msg, name) || !strstr(msg, what))
    fprintf(stderr, "  expected an error naming %s and '%s', got: %s\n", name, what, msg);
}

/* An embedding model (CLIP, SigLIP, BLIP retrieval): text-only, vision-only and full loads. */
static void test_embedder(const char *dir, const char *text_part) {
  vlp_model *all = load(dir, VLP_LOAD_ALL), *txt = load(dir, VLP_LOAD_TEXT);
  vlp_model *vis = load(dir, VLP_LOAD_VISION);
  vlp_session *sa = session(all), *st = session(txt), *sv = session(vis);
  vlp_image img = {0};
  CHECK(vlp_image_load(IMAGE, &img) == VLP_OK);
  if (!sa || !st || !sv) goto done;
  int P = vlp_model_embed_dim(all);
  CHECK(P > 0 && vlp_model_embed_dim(txt) == P && vlp_model_embed_dim(vis) == P);
  float *ea = calloc(3 * (size_t)P, sizeof *ea), *et = calloc(3 * (size_t)P, sizeof *et);
  float *ia = calloc((size_t)P, sizeof *ia), *iv = calloc((size_t)P, sizeof *iv);
  if (!ea || !et || !ia || !iv) abort();
  /* the same numbers, bit for bit */
  CHECK(vlp_embed_texts(sa, texts, 3, ea) == VLP_OK);
  CHECK(vlp_embed_texts(st, texts, 3, et) == VLP_OK);
  CHECK(memcmp(ea, et, 3 * (size_t)P * sizeof *ea) == 0);
  CHECK(vlp_embed_images(sa, &img, 1, 0, ia) == VLP_OK);
  CHECK(vlp_embed_images(sv, &img, 1, 0, iv) == VLP_OK);
  CHECK(memcmp(ia, iv, (size_t)P * sizeof *ia) == 0);
  /* the part left out is refused, naming the model's folder */
  vlp_features *f = NULL;
  check_refused(vlp_embed_images(st, &img, 1, 0, iv), dir, "without its vision tower");
  check_refused(vlp_encode_images(st, &img, 1, 0, &f), dir, "without its vision tower");
  CHECK(f == NULL);
  check_refused(vlp_embed_texts(sv, texts, 1, et), dir, text_part);
  if (vlp_model_arch(vis) != VLP_ARCH_BLIP_ITM) {
    vlp_labels *l = NULL;
    check_refused(vlp_labels_new(sv, texts, 1, NULL, &l), dir, text_part);
    CHECK(l == NULL);
  }
  /* a vision-only model's features cannot be matched with texts */
  CHECK(vlp_encode_images(sv, &img, 1, 0, &f) == VLP_OK);
  float p_itm = 0;
  if (vlp_model_arch(vis) == VLP_ARCH_BLIP_ITM)
    check_refused(vlp_itm(sv, f, 0, "a photo", &p_itm, NULL), dir, text_part);
  if (vlp_model_arch(vis) == VLP_ARCH_SIGLIP)
    check_refused(vlp_match(sv, f, 0, "a photo", &p_itm, NULL), dir, text_part);
  vlp_features_free(f);
  /* each partial load packs only its part; together exactly what the full load packs */
  CHECK(txt->pack.tensors > 0 && vis->pack.tensors > 0);
  CHECK(txt->pack.tensors < all->pack.tensors && vis->pack.tensors < all->pack.tensors);
  CHECK(txt->pack.tensors + vis->pack.tensors == all->pack.tensors);
  CHECK(txt->pack.packed_bytes + vis->pack.packed_bytes == all->pack.packed_bytes);
  printf("%s: packed tensors / bytes: all %d / %zu, text %d / %zu, vision %d / %zu\n", dir,
         all->pack.tensors, all->pack.packed_bytes, txt->pack.tensors, txt->pack.packed_bytes,
         vis->pack.tensors, vis->pack.packed_bytes);
  free(ea), free(et), free(ia), free(iv);
done:
  vlp_image_free(&img);
  vlp_session_free(sa), vlp_session_free(st), vlp_session_free(sv);
  vlp_model_free(all), vlp_model_free(txt), vlp_model_free(vis);
}

/* BLIP captioning: a vision-only model encodes images but cannot caption them; parts 0 is
 * everything; bits beyond the two parts are refused. */
static void test_caption_parts(void) {
  const char *dir = "golden/models/blip-caption-tiny";
  vlp_model *vis = load(dir, VLP_LOAD_VISION), *all = load(dir, VLP_LOAD_ALL);
  vlp_model *zero = load(dir, 0), *bad = NULL;
  vlp_session *s = session(vis);
  vlp_image img = {0};
  CHECK(vlp_image_load(IMAGE, &img) == VLP_OK);
  vlp_features *f = NULL;
  if (s) CHECK(vlp_encode_images(s, &img, 1, 0, &f) == VLP_OK);
  if (f) {
    vlp_text_result r = {0};
    check_refused(vlp_caption(s, f, NULL, &r), dir, "without its text encoder and decoder");
    CHECK(r.text == NULL);
  }
  if (all && zero && vis) {
    CHECK(zero->pack.tensors == all->pack.tensors);
    CHECK(vis->pack.tensors > 0 && vis->pack.tensors < all->pack.tensors);
  }
  vlp_model_params p = vlp_model_default_params();
  CHECK(p.parts == VLP_LOAD_ALL);
  p.parts = VLP_LOAD_ALL | 4u;
  CHECK(vlp_model_load_with(dir, &p, &bad) == VLP_ERR_INVALID && bad == NULL);
  CHECK(strstr(vlp_last_error(), "parts") != NULL);
  vlp_features_free(f);
  vlp_image_free(&img);
  vlp_session_free(s);
  vlp_model_free(vis), vlp_model_free(all), vlp_model_free(zero);
}

int main(void) {
  test_embedder("golden/models/clip-tiny", "without its text tower");
  test_embedder("golden/models/siglip-tiny", "without its text tower");
  test_embedder("golden/models/blip-itm-tiny", "without its text encoder and decoder");
  test_caption_parts();
  /* every product over a weight packed at load ran packed, in partial loads too */
  CHECK(gemm_fallbacks() == 0);
  return test_done();
}
