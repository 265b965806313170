/* test_attention_bf16: attention on bf16 q, k, v (core/attention_bf16.h). The scalar
 * reference against op_attention_naive on the same (bf16-valued) inputs, within what the
 * bf16 rounding of the weights and the output allows; the AVX512_BF16 kernel (when this CPU
 * has it) against the reference, far tighter: a wrong layout, pair order, mask or scale
 * misses by orders of magnitude. Shapes: CLIP B/32 (T = 50, q, k, v side by side in one
 * buffer, ld = 3D), the tiny golden models (hd = 16, T = 17), SigLIP so400m's hd = 72 (a
 * column tail), the largest taken (Tk = hd = 128), odd key counts, masks, causal rows that
 * see no key, kv_cap > Tk. And when the kernel declines. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/attention_bf16.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "testlib.h"

static uint16_t *rand_bf16(size_t n, float scale) {
  uint16_t *x = malloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++) x[i] = f32_to_bf16(test_frand() * scale);
  return x;
}

static float *to_f32(const uint16_t *x, size_t n) {
  float *y = malloc(n * sizeof *y);
  bf16_to_f32_array(y, x, n);
  return y;
}

/* q, k, v rows ld apart in one buffer (q at column 0, k at D, v at 2D) when strided, else
 * three (B * rows, D) buffers. Mask kinds: 0 none, 1 -10000 on the last third of the keys
 * of odd items, 2 -FLT_MAX on random keys (never key 0). */
static void bf16_case(const char *what, int B, int H, int Tq, int Tk, int kv_cap, int hd,
                      int mask_kind, int causal, int strided) {
  const int D = H * hd, ld = strided ? 3 * D : D;
  const size_t rows = (size_t)B * (Tq > kv_cap ? Tq : kv_cap), nb = rows * ld;
  uint16_t *qb = rand_bf16(nb, 3.0f), *kb = strided ? qb : rand_bf16(nb, 1.0f),
           *vb = strided ? qb : rand_bf16(nb, 1.0f);
  const uint16_t *q = qb, *k = strided ? qb + D : kb, *v = strided ? qb + 2 * D : vb;
  float *mask = NULL;
  if (mask_kind) {
    mask = calloc((size_t)B * Tk, sizeof *mask);
    for (int b = 0; b < B; b++)
      for (int j = 0; j < Tk; j++) {
        if (mask_kind == 1 && b % 2 && j >= Tk - Tk / 3) mask[(size_t)b * Tk + j] = -10000.0f;
        if (mask_kind == 2 && j > 0 && test_frand() < -0.5f) mask[(size_t)b * Tk + j] = -FLT_MAX;
      }
  }
  op_attn_shape s = {B, H, Tq, Tk, hd, kv_cap, mask, causal, strided ? ld : 0};
  const size_t no = (size_t)B * Tq * D;
  uint16_t *ref = malloc(no * sizeof *ref), *got = malloc(no * sizeof *got);
  CHECK(attention_bf16_reference(ref, q, k, v, &s));

  /* the reference against f32 attention on the same values */
  float *qf = to_f32(qb, nb), *kf = strided ? qf : to_f32(kb, nb),
        *vf = strided ? qf : to_f32(vb, nb);
  float *want = malloc(no * sizeof *want), *rf = to_f32(ref, no);
  op_attention_naive(want, qf, strided ? qf + D : kf, strided ? qf + 2 * D : vf, &s);
  const double scale = fmax(test_max_abs(want, no), 1e-30);
  const double eref = test_max_abs_diff(rf, want, no);
  int ok = eref <= 1e-2 * scale;
  printf("%s reference %s: max err %.3g against f32 (scale %.3g)\n", ok ? "ok  " : "FAIL", what,
         eref, scale);
  CHECK(ok);

  /* the kernel against the reference */
  if (attention_bf16_available(&s)) {
    for (size_t i = 0; i < no; i++) got[i] = 0x7fc0; /* NaN: every value must be written */
    CHECK(attention_bf16(got, q, k, v, &s) == 1);
    float *gf = to_f32(got, no);
    double err = 0.0;
    size_t same = 0;
    for (size_t i = 0; i < no; i++) {
      /* one bf16 step of the value either way (sums in another order, a weight or the
       * output rounded the other way), plus 1e-3 of the scale for values near zero */
      double d = fabs((double)gf[i] - rf[i]), tol = ldexp(fabs(rf[i]), -7) + 1e-3 * scale;
      if (!(d <= tol))
        err = INFINITY;
      else if (d / tol > err)
        err = d / tol;
      same += got[i] == ref[i];
    }
    ok = err <= 1.0;
    printf("%s kernel %s: max err %.3g of the bound, %.1f%% identical\n", ok ? "ok  " : "FAIL",
           what, err, 100.0 * same / (double)no);
    CHECK(ok);
    free(gf);
  } else {
    printf("skip kernel %s: no AVX512_BF16 kernel for it here\n", what);
  }
  free(qb), free(mask), free(ref), free(got), free(qf), free(want), free(rf);
  if (!strided) free(kb), free(vb), free(kf), free(vf);
}

int main(void) {
  test_seed(11);
  bf16_case("CLIP B/32 T=50 hd=64 ld=3D", 3, 12, 50, 50, 50, 64, 0, 0, 1);
  bf16_case("tiny T=17 hd=16 ld=3D", 2, 4, 17, 17, 17, 16, 0, 0, 1);
  bf16_case("hd=72 (column tail) T=37", 2, 3, 37, 37, 37, 72, 1, 0, 0);
  bf16_case("largest Tk=hd=128, Tq=131", 1, 2, 131, 128, 128, 128, 2, 0, 0);
  bf16_case("causal Tq > Tk (rows see no key)", 2, 2, 23, 16, 16, 32, 0, 1, 0);
  bf16_case("causal text T=33 odd, padding mask", 2, 2, 33, 33, 33, 64, 1, 1, 0);
  bf16_case("one key, hd=2", 1, 1, 3, 1, 1, 2, 0, 0, 0);
  bf16_case("kv_cap > Tk, Tq=1", 3, 2, 1, 40, 48, 32, 2, 0, 0);

  /* where the kernel declines */
  op_attn_shape s = {1, 2, 8, ATTN16_TK + 1, 64, ATTN16_TK + 1, NULL, 0, 0};
  CHECK(!attention_bf16_available(&s));
  s.Tk = s.kv_cap = 8, s.hd = 63;
  CHECK(!attention_bf16_available(&s));
  s.hd = ATTN16_HD + 2;
  CHECK(!attention_bf16_available(&s));
  s.hd = 64;
  int here = attention_bf16_available(&s);
  printf("%s: AVX512_BF16 attention kernel %s\n", vk_get()->name, here ? "runs" : "not available");
  if (vk_force("avx2")) { /* the AVX2 path keeps the attention in f32 */
    CHECK(!attention_bf16_available(&s));
    uint16_t one = 0;
    CHECK(attention_bf16(&one, &one, &one, &one, &s) == 0);
  }
  return test_done();
}
