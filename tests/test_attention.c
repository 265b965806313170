/* test_attention: the blocked one-pass attention (core/attention.c) on every kernel path
 * this CPU runs (AVX-512, AVX2, generic; core/kernels.h), against the double-precision
 * op_attention_naive, on the shapes the models use: ViT-B/16@384 (T=577), CLIP B/32
 * (T=50, batch 16), text encoders (causal, padding masks), the decoder's self-attention over
 * a KV cache (Tq=1, kv_cap > Tk) and cross-attention over 577 image tokens, B > 1, and head
 * sizes with vector tails; blocks of one or two query rows run row by row; key sequences up
 * to ATTN_SHORT_TK take the one-shot short kernel, one key more the online-softmax one. Max abs
 * error <= 1e-5 x the largest |output|. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/attention.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "testlib.h"

/* Mask kinds: 0 none, 1 padding (-10000 on the last keys of every other item, as BERT's
 * (1 - m) * -10000), 2 float32 min on random keys (as transformers' causal masks). */
static void attention_case(const char *path, const char *what, int B, int H, int Tq, int Tk,
                           int kv_cap, int hd, int mask_kind, int causal) {
  size_t D = (size_t)H * hd, nq = (size_t)B * Tq * D, nk = (size_t)B * kv_cap * D;
  float *q = test_rand_buf(nq, 3.0f), *k = test_rand_buf(nk, 1.0f), *v = test_rand_buf(nk, 1.0f);
  float *mask = NULL;
  if (mask_kind) {
    mask = calloc((size_t)B * Tk, sizeof *mask);
    for (int b = 0; b < B; b++)
      for (int j = 0; j < Tk; j++) {
        if (mask_kind == 1 && b % 2 == 1 && j >= Tk - Tk / 3) mask[(size_t)b * Tk + j] = -10000.0f;
        if (mask_kind == 2 && j > 0 && test_frand() < -0.5f)
          mask[(size_t)b * Tk + j] = -3.4028235e38f;
      }
  }
  float *got = test_rand_buf(nq, 100.0f), *want = test_rand_buf(nq, 100.0f);
  op_attn_shape s = {B, H, Tq, Tk, hd, kv_cap, mask, causal, 0};
  CHECK(attention_blocked(got, q, k, v, &s) == 1);
  op_attention_naive(want, q, k, v, &s);
  double scale = test_max_abs(want, nq), err = test_max_abs_diff(got, want, nq);
  int finite = 1;
  for (size_t i = 0; i < nq; i++) finite &= isfinite(got[i]) != 0;
  int ok = finite && err <= 1e-5 * fmax(scale, 1e-30);
  printf(
      "%s %s %s B=%d H=%d Tq=%d Tk=%d cap=%d hd=%d mask=%d causal=%d: max err %.3g (scale "
      "%.3g)\n",
      ok ? "ok  " : "FAIL", path, what, B, H, Tq, Tk, kv_cap, hd, mask_kind, causal, err, scale);
  CHECK(ok);
  /* op_attention (whichever path it picks for the shape) agrees too */
  op_attention(got, q, k, v, &s);
  char label[128];
  snprintf(label, sizeof label, "%s op_attention %s", path, what);
  test_allclose(label, got, want, nq, 1e-5 * scale, 1e-5);
  free(q), free(k), free(v), free(mask), free(got), free(want);
}

/* q, k, v read from the rows of one (B * T, 3D) buffer (ld = 3D: a stacked q, k, v product's
 * output, as the ViT layers pass it) against the naive attention on separate (B * T, D)
 * copies; the blocked kernel and every op_attention path. */
static void strided_case(const char *path, const char *what, int B, int H, int T, int hd,
                         int mask_kind, int causal) {
  size_t D = (size_t)H * hd, rows = (size_t)B * T, n = rows * D;
  float *qkv = test_rand_buf(3 * n, 2.0f), *q = malloc(n * sizeof *q), *k = malloc(n * sizeof *k),
        *v = malloc(n * sizeof *v), *mask = NULL;
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < D; c++) {
      q[r * D + c] = qkv[r * 3 * D + c];
      k[r * D + c] = qkv[r * 3 * D + D + c];
      v[r * D + c] = qkv[r * 3 * D + 2 * D + c];
    }
  if (mask_kind) {
    mask = calloc(rows, sizeof *mask);
    for (int b = 0; b < B; b += 2)
      for (int j = T - T / 3; j < T; j++) mask[(size_t)b * T + j] = -10000.0f;
  }
  float *got = test_rand_buf(n, 100.0f), *want = test_rand_buf(n, 100.0f);
  op_attn_shape plain = {B, H, T, T, hd, T, mask, causal, 0}, wide = plain;
  wide.ld = 3 * (int)D;
  op_attention_naive(want, q, k, v, &plain);
  double scale = fmax(test_max_abs(want, n), 1e-30);
  char label[160];
  op_attention_naive(got, qkv, qkv + D, qkv + 2 * D, &wide);
  snprintf(label, sizeof label, "%s ld=3D naive %s", path, what);
  test_allclose(label, got, want, n, 0.0, 0.0); /* the same sums in the same order */
  CHECK(attention_blocked(got, qkv, qkv + D, qkv + 2 * D, &wide) == 1);
  snprintf(label, sizeof label, "%s ld=3D blocked %s", path, what);
  test_allclose(label, got, want, n, 1e-5 * scale, 1e-5);
  static const char *const forced[] = {"gemm", "rows", "auto"};
  for (int i = 0; i < 3; i++) {
    CHECK(op_attention_force(forced[i]));
    float *o = test_rand_buf(n, 100.0f);
    op_attention(o, qkv, qkv + D, qkv + 2 * D, &wide);
    snprintf(label, sizeof label, "%s ld=3D op_attention(%s) %s", path, forced[i], what);
    test_allclose(label, o, want, n, 1e-5 * scale, 1e-5);
    free(o);
  }
  free(qkv), free(q), free(k), free(v), free(mask), free(got), free(want);
}

static void check_path(const char *path) {
  CHECK(vk_force(path));
  printf("path %s: %d query rows per block (narrow: %d)\n", path, attention_block_rows(0),
         attention_block_rows(1));
  attention_case(path, "ViT-B/16@384", 1, 12, 577, 577, 577, 64, 0, 0);
  attention_case(path, "CLIP B/32 batch", 3, 12, 50, 50, 50, 64, 0, 0);
  attention_case(path, "CLIP B/32 batch 16", 16, 12, 50, 50, 50, 64, 0, 0);
  attention_case(path, "CLIP text causal", 16, 8, 16, 16, 16, 64, 1, 1);
  attention_case(path, "CLIP text causal 8", 16, 8, 8, 8, 8, 64, 2, 1);
  attention_case(path, "77 tokens: short blocks 64 + 13", 2, 8, 77, 77, 77, 64, 1, 1);
  attention_case(path, "longest short keys", 1, 2, ATTN_SHORT_ROWS * 2, ATTN_SHORT_TK,
                 ATTN_SHORT_TK + 2, ATTN_SHORT_HD, 2, 0);
  attention_case(path, "one key past short", 1, 2, 40, ATTN_SHORT_TK + 1, ATTN_SHORT_TK + 1, 64, 0,
                 0);
  attention_case(path, "short hd 24", 2, 3, 21, 60, 60, 24, 1, 0);
  attention_case(path, "text encoder", 2, 8, 35, 35, 35, 64, 1, 1);
  attention_case(path, "decoder prompt", 2, 12, 7, 7, 40, 64, 1, 1);
  attention_case(path, "decoder step", 3, 12, 1, 9, 40, 64, 1, 1);
  attention_case(path, "cross step", 4, 12, 1, 577, 577, 64, 1, 0);
  attention_case(path, "cross prompt", 2, 12, 20, 577, 577, 64, 2, 0);
  attention_case(path, "causal Tq > Tk", 2, 3, 40, 30, 33, 16, 0, 1);
  attention_case(path, "causal, 259 keys: several key blocks, a tail", 2, 3, 259, 259, 260, 64, 1,
                 1);
  attention_case(path, "hd 72", 1, 4, 70, 129, 130, 72, 2, 0);
  attention_case(path, "hd 13", 2, 2, 33, 65, 70, 13, 1, 1);
  attention_case(path, "few rows hd 13", 2, 2, 3, 65, 70, 13, 1, 1);
  attention_case(path, "two rows hd 13", 2, 2, 2, 65, 70, 13, 2, 1);
  attention_case(path, "one row hd 200", 2, 2, 1, 150, 150, 200, 1, 0);
  attention_case(path, "tiny", 1, 1, 1, 1, 1, 1, 0, 0);
  strided_case(path, "ViT-B/16@384", 1, 12, 577, 64, 0, 0);
  strided_case(path, "CLIP B/32 batch 3 (short keys)", 3, 12, 50, 64, 0, 0);
  strided_case(path, "text causal, padding", 4, 8, 16, 64, 1, 1);
  strided_case(path, "two rows (row kernel)", 3, 2, 2, 64, 0, 0);
  strided_case(path, "one row", 2, 3, 1, 64, 1, 0);
  strided_case(path, "hd 13 tails", 2, 3, 70, 13, 1, 0);
}

int main(void) {
  const char *paths[3];
  int n = vk_available(paths, 3);
  for (int i = 0; i < n; i++) check_path(paths[i]);
  /* a head size beyond the blocked kernel's stack blocks is refused, not run */
  op_attn_shape big = {1, 1, 1, 1, ATTN_HD_MAX + 1, 1, NULL, 0, 0};
  float x[ATTN_HD_MAX + 1] = {0};
  CHECK(attention_blocked(x, x, x, x, &big) == 0);
  return test_done();
}
