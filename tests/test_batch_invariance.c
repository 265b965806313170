/* test_batch_invariance: an image's embedding is the same, bit for bit, whether it went
 * through the vision tower alone or in a batch (of 16 or 5, at any place in it), on one
 * thread or two, and in a batch of 40 on two threads (from 512 rows the vision tower runs
 * its layers in one parallel region, each thread its own rows: vision/vit.c), for every
 * golden model family (CLIP, SigLIP, BLIP retrieval; their f16 / bf16 checkpoints) in f32,
 * bf16 and int8 (where the CPU has them). vlp index build relies on it to batch by default.
 * Where the GEMM kernels are not batch invariant (vlp_batch_invariant() is 0: AVX2-only
 * CPUs, where oneDNN's matmul is its "gemm:jit", which blocks by the row count) the
 * comparison is skipped; on an AVX-512 CPU with oneDNN (its "brg" kernels),
 * vlp_batch_invariant() must be 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "vlp.h"

static const char *const models[] = {"clip-tiny", "clip-tiny-f16", "siglip-tiny",
                                     "siglip-tiny-bf16", "blip-itm-tiny"};
static const char *const images[3] = {"golden/images/chelsea_cat.png", "golden/images/coffee.jpg",
                                      "golden/images/astronaut.png"};
/* Which image sits at each place of the batch: each of them at several places (a batch of
 * BIG repeats the first 16 places). */
#define BIG 40
static const int order[BIG] = {0, 1, 0, 2, 0, 0, 1, 2, 0, 1, 2, 2, 0, 1, 0, 2, 0, 1, 0, 2,
                               0, 0, 1, 2, 0, 1, 2, 2, 0, 1, 0, 2, 0, 1, 0, 2, 0, 0, 1, 2};

/* Embeddings of imgs[order[0..n)] in one batch on nt threads into out (n, dim). */
static int embed(const vlp_model *m, int nt, const vlp_image *imgs, const int *idx, int n,
                 float *out) {
  vlp_session_params sp = vlp_session_default_params();
  sp.n_threads = nt;
  vlp_session *s = NULL;
  vlp_features *f = NULL;
  vlp_image batch[BIG];
  for (int i = 0; i < n; i++) batch[i] = imgs[idx[i]];
  int ok = vlp_session_new(m, &sp, &s) == VLP_OK &&
           vlp_encode_images(s, batch, n, 0, &f) == VLP_OK &&
           vlp_features_embeddings(f, out) == VLP_OK;
  if (!ok) fprintf(stderr, "embed: %s\n", vlp_last_error());
  vlp_features_free(f);
  vlp_session_free(s);
  return ok;
}

/* Rows of got (n images, order idx) that differ from the single-image references. */
static int differing(const float *got, const float *ref, const int *idx, int n, int dim) {
  int bad = 0;
  size_t row = (size_t)dim * sizeof *got;
  for (int i = 0; i < n; i++)
    if (memcmp(got + (size_t)i * dim, ref + (size_t)idx[i] * dim, row)) bad++;
  return bad;
}

static void check_model(const char *name, vlp_precision prec, const vlp_image *imgs) {
  char dir[256];
  snprintf(dir, sizeof dir, "golden/models/%s", name);
  vlp_model_params mp = vlp_model_default_params();
  mp.precision = prec;
  vlp_model *m = NULL;
  vlp_status st = vlp_model_load_with(dir, &mp, &m);
  const char *pn = prec == VLP_PRECISION_BF16   ? "bf16"
                   : prec == VLP_PRECISION_INT8 ? "int8"
                                                : "f32";
  if (st == VLP_ERR_UNSUPPORTED && prec != VLP_PRECISION_F32) {
    printf("%s %s: not on this CPU (%s)\n", name, pn, vlp_last_error());
    return;
  }
  CHECK(st == VLP_OK);
  if (st) return;
  int dim = vlp_model_embed_dim(m);
  float *ref = malloc(3 * (size_t)dim * sizeof *ref),
        *got = malloc(BIG * (size_t)dim * sizeof *got);
  CHECK(ref && got && dim > 0);
  int ok = ref && got && dim > 0;
  for (int i = 0; ok && i < 3; i++) ok = embed(m, 1, imgs, &i, 1, ref + (size_t)i * dim);
  CHECK(ok);
  /* every image alone on two threads, batches of 16 and 5 on one and two threads, then a
   * batch of BIG on two threads */
  int singles[2] = {0, 0}, b16[2] = {-1, -1}, b5[2] = {-1, -1}, big = -1;
  for (int nt = 1; ok && nt <= 2; nt++) {
    for (int i = 0; nt == 2 && i < 3; i++) {
      ok = ok && embed(m, nt, imgs, &i, 1, got);
      if (ok) singles[1] += differing(got, ref, &i, 1, dim);
    }
    ok = ok && embed(m, nt, imgs, order, 16, got);
    if (ok) b16[nt - 1] = differing(got, ref, order, 16, dim);
    ok = ok && embed(m, nt, imgs, order + 3, 5, got);
    if (ok) b5[nt - 1] = differing(got, ref, order + 3, 5, dim);
  }
  ok = ok && embed(m, 2, imgs, order, BIG, got);
  if (ok) big = differing(got, ref, order, BIG, dim);
  CHECK(ok);
  /* oneDNN on an AVX-512 CPU (unless told to use less of it) must be batch invariant */
  if (!strcmp(vlp_gemm_backend(), "dnnl") && !strcmp(vlp_kernel_isa(), "avx512") &&
      !getenv("ONEDNN_MAX_CPU_ISA") && !getenv("DNNL_MAX_CPU_ISA"))
    CHECK(vlp_batch_invariant());
  if (ok && vlp_batch_invariant()) {
    printf(
        "%s %s: rows differing from batch 1 on 1 thread: alone on 2 threads %d/3, batch 16 "
        "%d/16 and %d/16, batch 5 %d/5 and %d/5 (1 and 2 threads), batch %d on 2 threads "
        "%d/%d\n",
        name, pn, singles[1], b16[0], b16[1], b5[0], b5[1], BIG, big, BIG);
    CHECK(singles[1] == 0);
    CHECK(b16[0] == 0 && b16[1] == 0);
    CHECK(b5[0] == 0 && b5[1] == 0);
    CHECK(big == 0);
  } else if (ok) {
    printf("%s %s: not compared: the GEMM kernels here (%s) are not batch invariant\n", name, pn,
           vlp_gemm_backend());
  }
  free(ref), free(got);
  vlp_model_free(m);
}

int main(void) {
  vlp_image imgs[3] = {{0}};
  for (int i = 0; i < 3; i++) CHECK(vlp_image_load(images[i], &imgs[i]) == VLP_OK);
  for (size_t k = 0; k < sizeof models / sizeof models[0]; k++)
    for (int p = VLP_PRECISION_F32; p <= VLP_PRECISION_INT8; p++)
      check_model(models[k], (vlp_precision)p, imgs);
  for (int i = 0; i < 3; i++) vlp_image_free(&imgs[i]);
  return test_done();
}
