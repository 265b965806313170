/* test_cross_attention: the packed keys and values of decoding steps (core/cross_attention.h)
 * on every kernel path this CPU runs, against op_attention_naive over the same rows: BLIP's
 * 577 image tokens with 12 heads of 64, key counts that leave a partial block of 16 (1, 15,
 * 17), head sizes with vector tails, several query rows per sequence (the prompt step),
 * sequences reading other items (beams) and a padding mask. Max abs error <= 1e-5 x the
 * largest |output|. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cross_attention.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "testlib.h"

static void xcase(const char *path, int items, int nseq, int T, int H, int hd, int Te, int masked,
                  int shuffled) {
  const xattn_shape xs = {H, hd, Te};
  const size_t D = (size_t)H * hd, rows = (size_t)nseq * T;
  float *k = test_rand_buf((size_t)items * Te * D, 1.0f),
        *v = test_rand_buf((size_t)items * Te * D, 1.0f);
  float *q = test_rand_buf(rows * D, 3.0f);
  float *mask = NULL;
  if (masked) {
    mask = calloc((size_t)items * Te, sizeof *mask);
    for (int e = 0; e < items; e++)
      for (int j = Te - Te / 3; j < Te; j++) mask[(size_t)e * Te + j] = -10000.0f;
  }
  int *item_of_seq = malloc((size_t)nseq * sizeof *item_of_seq);
  for (int n = 0; n < nseq; n++) item_of_seq[n] = shuffled ? (n * 7 + 3) % items : n % items;
  size_t kper = xattn_k_floats(&xs), vper = xattn_v_floats(&xs);
  float *kp = malloc((size_t)items * kper * sizeof *kp),
        *vp = malloc((size_t)items * vper * sizeof *vp);
  for (int e = 0; e < items; e++)
    xattn_pack(kp + e * kper, vp + e * vper, k + (size_t)e * Te * D, v + (size_t)e * Te * D, &xs);
  float *got = malloc(rows * D * sizeof *got), *want = malloc(rows * D * sizeof *want);
  xattn_run(got, q, (int)rows, T, item_of_seq, kp, vp, mask, &xs);
  for (int n = 0; n < nseq; n++) { /* each sequence's T rows over its item's keys */
    int e = item_of_seq[n];
    op_attn_shape sh = {.B = 1,
                        .H = H,
                        .Tq = T,
                        .Tk = Te,
                        .hd = hd,
                        .kv_cap = Te,
                        .mask = mask ? mask + (size_t)e * Te : NULL,
                        .causal = 0};
    op_attention_naive(want + (size_t)n * T * D, q + (size_t)n * T * D, k + (size_t)e * Te * D,
                       v + (size_t)e * Te * D, &sh);
  }
  double err = test_max_abs_diff(got, want, rows * D), scale = test_max_abs(want, rows * D);
  int ok = err <= 1e-5 * (scale > 1 ? scale : 1);
  if (!ok)
    printf("FAIL %s items=%d seqs=%d T=%d H=%d hd=%d Te=%d mask=%d: max err %.3g\n", path, items,
           nseq, T, H, hd, Te, masked, err);
  CHECK(ok);
  free(k), free(v), free(q), free(mask), free(item_of_seq), free(kp), free(vp), free(got),
      free(want);
}

int main(void) {
  const char *paths[3];
  int np = vk_available(paths, 3);
  for (int p = 0; p < np; p++) {
    CHECK(vk_force(paths[p]));
    xcase(paths[p], 1, 1, 1, 12, 64, 577, 0, 0); /* BLIP caption step, batch 1 */
    xcase(paths[p], 8, 8, 1, 12, 64, 577, 0, 0); /* batch 8 */
    xcase(paths[p], 2, 6, 1, 12, 64, 577, 0, 1); /* beams reading other items */
    xcase(paths[p], 2, 2, 5, 4, 64, 577, 1, 0);  /* the prompt step: 5 rows each, masked */
    xcase(paths[p], 3, 3, 2, 3, 24, 17, 0, 1);   /* a partial block, hd with a tail */
    xcase(paths[p], 1, 2, 1, 2, 8, 1, 0, 0);     /* one key */
    xcase(paths[p], 1, 1, 3, 5, 13, 15, 1, 0);   /* 15 keys, odd head size */
    xcase(paths[p], 2, 2, 1, 2, 32, 64, 0, 0);   /* whole blocks only */
    printf("path %s ok\n", paths[p]);
  }
  return test_done();
}
