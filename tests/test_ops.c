/* test_ops: core/ops fast kernels against their naive references on random data, hand
 * computed values, thread-count independence, and the session workspace. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/threads.h"
#include "core/workspace.h"
#include "testlib.h"
#include "vlp.h"

#define TOL 1e-5

/* max |diff| <= TOL (abs) after scaling by max(1, |ref|) for the larger-valued outputs */
static void compare(const char *what, const float *got, const float *want, size_t n) {
  double d = test_max_abs_diff(got, want, n);
  printf("  %-44s max|diff| %.3g\n", what, d);
  test_allclose(what, got, want, n, TOL, TOL);
}

static void test_linear_random(void) {
  const int shapes[][3] = {{1, 7, 5},     {1, 768, 768}, {3, 17, 33},   {13, 64, 1},
                           {64, 128, 96}, {5, 1, 9},     {37, 257, 129}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
    float *x = test_rand_buf((size_t)n * in, 1), *W = test_rand_buf((size_t)out * in, 0.1f);
    float *b = test_rand_buf((size_t)out, 1);
    float *y1 = malloc((size_t)n * out * sizeof *y1), *y2 = malloc((size_t)n * out * sizeof *y2);
    char what[96];
    for (int withb = 0; withb < 2; withb++) {
      op_linear(y1, x, W, withb ? b : NULL, n, in, out);
      op_linear_naive(y2, x, W, withb ? b : NULL, n, in, out);
      snprintf(what, sizeof what, "linear n=%d in=%d out=%d bias=%d", n, in, out, withb);
      compare(what, y1, y2, (size_t)n * out);
    }
    free(x), free(W), free(b), free(y1), free(y2);
  }
}

static void test_layernorm_random(void) {
  const int shapes[][2] = {{1, 1}, {1, 768}, {7, 33}, {577, 768}, {3, 1025}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int n = shapes[s][0], d = shapes[s][1];
    float *x = test_rand_buf((size_t)n * d, 3), *g = test_rand_buf((size_t)d, 1),
          *b = test_rand_buf((size_t)d, 1);
    for (size_t i = 0; i < (size_t)n * d; i++) x[i] += 2.0f; /* non-zero mean */
    float *y1 = malloc((size_t)n * d * sizeof *y1), *y2 = malloc((size_t)n * d * sizeof *y2);
    op_layernorm(y1, x, g, b, n, d, 1e-12f);
    op_layernorm_naive(y2, x, g, b, n, d, 1e-12f);
    char what[96];
    snprintf(what, sizeof what, "layernorm n=%d d=%d", n, d);
    compare(what, y1, y2, (size_t)n * d);
    /* in place (y == x) */
    float *xc = test_copy_buf(x, (size_t)n * d);
    op_layernorm(xc, xc, g, b, n, d, 1e-12f);
    CHECK(test_max_abs_diff(xc, y1, (size_t)n * d) == 0);
    free(x), free(g), free(b), free(y1), free(y2), free(xc);
  }
}

static void test_act_softmax_random(void) {
  const size_t ns[] = {1, 5, 1000, 100003};
  for (size_t s = 0; s < sizeof ns / sizeof ns[0]; s++) {
    size_t n = ns[s];
    float *x = test_rand_buf(n, 6);
    float *a = test_copy_buf(x, n), *b = test_copy_buf(x, n);
    char what[96];
    op_gelu(a, n), op_gelu_naive(b, n);
    snprintf(what, sizeof what, "gelu n=%zu", n);
    compare(what, a, b, n);
    memcpy(a, x, n * sizeof *a), memcpy(b, x, n * sizeof *b);
    op_quick_gelu(a, n), op_quick_gelu_naive(b, n);
    snprintf(what, sizeof what, "quick_gelu n=%zu", n);
    compare(what, a, b, n);
    free(x), free(a), free(b);
  }
  const int sh[][2] = {{1, 1}, {1, 7}, {12, 577}, {300, 129}, {2, 30524}};
  for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
    size_t n = (size_t)sh[s][0] * sh[s][1];
    float *x = test_rand_buf(n, 10), *y = test_copy_buf(x, n);
    op_softmax(x, sh[s][0], sh[s][1]);
    op_softmax_naive(y, sh[s][0], sh[s][1]);
    char what[96];
    snprintf(what, sizeof what, "softmax %dx%d", sh[s][0], sh[s][1]);
    compare(what, x, y, n);
    free(x), free(y);
  }
}

/* Runs fast vs naive attention on one shape (random q, k, v of kv_cap rows, optional
 * padding mask with zeros in the valid part and -10000 in the padding). */
static void attention_case(int B, int H, int Tq, int Tk, int kv_cap, int hd, int use_mask,
                           int causal) {
  size_t D = (size_t)H * hd;
  float *q = test_rand_buf((size_t)B * Tq * D, 2), *k = test_rand_buf((size_t)B * kv_cap * D, 2);
  float *v = test_rand_buf((size_t)B * kv_cap * D, 1);
  float *mask = NULL;
  if (use_mask) {
    mask = malloc((size_t)B * Tk * sizeof *mask);
    for (int b = 0; b < B; b++) {
      int valid = Tk - b % (Tk > 1 ? Tk - 1 : 1); /* item b has b padding keys at the end */
      if (valid < 1) valid = 1;
      for (int j = 0; j < Tk; j++) mask[(size_t)b * Tk + j] = j < valid ? 0.0f : -10000.0f;
    }
  }
  op_attn_shape s = {B, H, Tq, Tk, hd, kv_cap, mask, causal, 0};
  size_t n = (size_t)B * Tq * D;
  float *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2);
  op_attention(o1, q, k, v, &s);
  op_attention_naive(o2, q, k, v, &s);
  char what[128];
  snprintf(what, sizeof what, "attn B=%d H=%d Tq=%d Tk=%d cap=%d hd=%d m=%d c=%d", B, H, Tq, Tk,
           kv_cap, hd, use_mask, causal);
  compare(what, o1, o2, n);
  free(q), free(k), free(v), free(mask), free(o1), free(o2);
}

static void test_attention_random(void) {
  attention_case(1, 1, 1, 1, 1, 1, 0, 0);
  attention_case(1, 12, 1, 7, 20, 64, 0, 1);      /* decode step with a KV cache */
  attention_case(6, 12, 1, 577, 577, 64, 1, 0);   /* cross-attention, 6 beams */
  attention_case(2, 3, 5, 9, 16, 8, 1, 1);        /* causal Tq < Tk */
  attention_case(3, 2, 20, 20, 20, 16, 1, 0);     /* GEMM path with padding mask */
  attention_case(2, 4, 17, 30, 33, 12, 1, 1);     /* GEMM path, causal Tq < Tk, cache */
  attention_case(1, 12, 577, 577, 577, 64, 0, 0); /* vision encoder */
  attention_case(2, 3, 35, 35, 35, 13, 1, 1);     /* odd head dim */
  attention_case(1, 2, 3, 2100, 2100, 8, 1, 0);   /* longer than the stack row buffer */
}

/* Every key hidden by the mask (-inf): zeros, never NaN; causal keys beyond the position
 * get exactly zero weight. */
static void test_attention_edges(void) {
  const int H = 2, hd = 4, Tk = 3;
  float q[2 * 2 * 4], k[3 * 8], v[3 * 8], out[16], ref[24];
  for (int i = 0; i < 16; i++) q[i] = test_frand();
  for (int i = 0; i < 24; i++) k[i] = test_frand(), v[i] = test_frand();
  float mask[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int tq = 1; tq <= 2; tq++) {
    op_attn_shape s = {1, H, tq, Tk, hd, Tk, mask, 0, 0};
    op_attention(out, q, k, v, &s);
    int zero = 1;
    for (int i = 0; i < tq * H * hd; i++) zero &= out[i] == 0.0f;
    CHECK(zero);
  }
  /* Tq = 20 >= the GEMM threshold, all masked */
  {
    float *qq = test_rand_buf(20 * 8, 1), *o = malloc(20 * 8 * sizeof *o);
    op_attn_shape s = {1, H, 20, Tk, hd, Tk, mask, 0, 0};
    op_attention(o, qq, k, v, &s);
    int zero = 1;
    for (int i = 0; i < 160; i++) zero &= o[i] == 0.0f;
    CHECK(zero);
    free(qq), free(o);
  }
  /* causal, Tq = Tk = 3: row 0 sees only key 0 -> output = v row 0 exactly */
  {
    float qq[3 * 8];
    for (int i = 0; i < 24; i++) qq[i] = test_frand();
    float o[24];
    op_attn_shape s = {1, H, 3, 3, hd, 3, NULL, 1, 0};
    op_attention(o, qq, k, v, &s);
    CHECK(memcmp(o, v, 8 * sizeof(float)) == 0);
    op_attention_naive(ref, qq, k, v, &s);
    test_allclose("causal 3x3 vs naive", o, ref, 24, TOL, TOL);
  }
}

/* The vectorised exp / erf inside the activations and softmax, on a dense sweep, tightly. */
static void test_activation_accuracy(void) {
  const size_t n = 200001;
  float *x = malloc(n * sizeof *x), *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  for (size_t i = 0; i < n; i++) x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);
  memcpy(a, x, n * sizeof *a), memcpy(b, x, n * sizeof *b);
  op_gelu(a, n), op_gelu_naive(b, n);
  test_allclose("gelu sweep [-12, 12]", a, b, n, 1e-7, 4e-7);
  memcpy(a, x, n * sizeof *a), memcpy(b, x, n * sizeof *b);
  op_quick_gelu(a, n), op_quick_gelu_naive(b, n);
  test_allclose("quick_gelu sweep [-12, 12]", a, b, n, 1e-7, 4e-7);
  /* exp over its whole range through 2-column softmax rows [0, x]: p1 = e^x / (1 + e^x) */
  for (size_t r = 0; r < n / 2; r++) {
    float v = -80.0f + 80.0f * (float)r / (float)(n / 2 - 1);
    a[2 * r] = b[2 * r] = 0.0f;
    a[2 * r + 1] = b[2 * r + 1] = v;
  }
  op_softmax(a, (int)(n / 2), 2), op_softmax_naive(b, (int)(n / 2), 2);
  test_allclose("softmax [0, x], x in [-80, 0]", a, b, n / 2 * 2, 1e-30, 4e-7);
  float big[6] = {0, -100, -1e30f, 1e30f, -87, 88};
  op_quick_gelu(big, 6); /* huge arguments: no NaN */
  int finite = 1;
  for (int i = 0; i < 6; i++) finite &= !isnan(big[i]);
  CHECK(big[3] == 1e30f);
  CHECK(finite && big[2] == 0.0f && big[5] == 88.0f);
  float row[5] = {0, -100, -1e30f, -INFINITY, 1e-3f};
  op_softmax(row, 1, 5);
  CHECK(row[1] >= 0 && row[1] < 1e-38f && row[2] == 0 && row[3] == 0);
  CHECK(fabsf(row[0] + row[4] - 1.0f) < 1e-6f);
  free(x), free(a), free(b);
}

static void test_hand(void) {
  float sm[3] = {1, 2, 3};
  op_softmax(sm, 1, 3);
  const float sm_want[3] = {0.09003057f, 0.24472847f, 0.66524096f};
  test_allclose("softmax [1,2,3]", sm, sm_want, 3, 1e-7, 1e-6);

  float x[4] = {1, 2, 3, 4}, y[4];
  float g[4] = {1, 1, 2, 1}, b[4] = {0, 0, 0, 1};
  op_layernorm(y, x, g, b, 1, 4, 1e-5f);
  /* mean 2.5, var 1.25, rstd 1/sqrt(1.25001) */
  double r = 1.0 / sqrt(1.25 + 1e-5);
  const float ln_want[4] = {(float)(-1.5 * r), (float)(-0.5 * r), (float)(2 * 0.5 * r),
                            (float)(1.5 * r + 1)};
  test_allclose("layernorm [1,2,3,4]", y, ln_want, 4, 1e-6, 1e-6);

  float ge[3] = {1.0f, 0.0f, -1.0f};
  op_gelu(ge, 3);
  const float ge_want[3] = {0.8413447f, 0.0f, -0.1586553f};
  test_allclose("gelu", ge, ge_want, 3, 1e-7, 1e-6);
  float qg[2] = {1.0f, -100.0f};
  op_quick_gelu(qg, 2);
  const float qg_want[2] = {0.845796f, 0.0f};
  test_allclose("quick_gelu", qg, qg_want, 2, 1e-6, 1e-6);
  CHECK(!isnan(qg[1]));

  /* y = x W^T + b, x (2,3), W (2,3) in [out, in] layout */
  const float lx[6] = {1, 2, 3, 4, 5, 6}, lw[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
  const float lb[2] = {10, 20};
  float ly[4];
  op_linear(ly, lx, lw, lb, 2, 3, 2);
  const float ly_want[4] = {1 - 3 + 10, 3 + 20, 4 - 6 + 10, 7.5f + 20};
  test_allclose("linear 2x3", ly, ly_want, 4, 1e-6, 0);
  op_linear(ly, lx, lw, lb, 1, 3, 2); /* gemv path */
  test_allclose("linear 1x3", ly, ly_want, 2, 1e-6, 0);

  float a[3] = {1, 2, 3};
  const float a2[3] = {0.5f, 0.25f, -3};
  op_add(a, a2, 3);
  const float a_want[3] = {1.5f, 2.25f, 0};
  test_allclose("add", a, a_want, 3, 0, 0);

  const float table[8] = {0, 1, 10, 11, 20, 21, 30, 31};
  const int ids[3] = {3, 0, 3};
  float e[6];
  op_embedding(e, table, ids, 3, 2);
  const float e_want[6] = {30, 31, 0, 1, 30, 31};
  test_allclose("embedding", e, e_want, 6, 0, 0);

  float l2[6] = {3, 4, 0, 0, 0, 0};
  op_l2_normalize(l2, 2, 3);
  const float l2_want[6] = {0.6f, 0.8f, 0, 0, 0, 0};
  test_allclose("l2_normalize (incl. zero row)", l2, l2_want, 6, 1e-7, 0);
}

static void *current_of_new_thread(void *out) {
  *(int *)out = vlp_threads_current();
  return NULL;
}

/* The same results with 1 and 2 threads: bit-identical for our own loops; OpenBLAS sgemm
 * itself is not bitwise reproducible across thread counts (it splits the work differently,
 * ~1e-6 differences), so the BLAS-backed ops are compared to TOL. */
static void test_threads(void) {
  int def = vlp_threads_default();
  CHECK(def >= 1 && vlp_threads_current() == def);
  const int n = 64, in = 96, out = 80, B = 2, H = 4, T = 40, hd = 16;
  float *x = test_rand_buf((size_t)n * in, 1), *W = test_rand_buf((size_t)out * in, 1);
  float *q = test_rand_buf((size_t)B * T * H * hd, 1),
        *k = test_rand_buf((size_t)B * T * H * hd, 1);
  float *v = test_rand_buf((size_t)B * T * H * hd, 1);
  float *big = test_rand_buf(200000, 5);
  float *res[2][5];
  for (int t = 0; t < 2; t++) {
    int prev = threads_enter(t + 1);
    CHECK(vlp_threads_current() == t + 1);
    res[t][0] = malloc((size_t)n * out * sizeof(float));
    op_linear(res[t][0], x, W, NULL, n, in, out);
    res[t][1] = malloc((size_t)B * T * H * hd * sizeof(float));
    op_attn_shape s = {B, H, T, T, hd, T, NULL, 1, 0};
    op_attention(res[t][1], q, k, v, &s);
    res[t][2] = malloc((size_t)B * H * hd * sizeof(float));
    op_attn_shape s1 = {B, H, 1, T, hd, T, NULL, 0, 0};
    op_attention(res[t][2], q, k, v, &s1);
    res[t][3] = test_copy_buf(big, 200000);
    op_gelu(res[t][3], 200000);
    res[t][4] = malloc(200000 * sizeof(float));
    op_layernorm(res[t][4], big, NULL, NULL, 200, 1000, 1e-6f);
    threads_leave(prev);
    CHECK(vlp_threads_current() == def);
  }
  test_allclose("linear 1 vs 2 threads", res[0][0], res[1][0], (size_t)n * out, TOL, TOL);
  test_allclose("attention (GEMM path) 1 vs 2 threads", res[0][1], res[1][1],
                (size_t)B * T * H * hd, TOL, TOL);
  CHECK(test_max_abs_diff(res[0][2], res[1][2], (size_t)B * H * hd) == 0);
  CHECK(test_max_abs_diff(res[0][3], res[1][3], 200000) == 0);
  CHECK(test_max_abs_diff(res[0][4], res[1][4], 200000) == 0);
  for (int t = 0; t < 2; t++)
    for (int i = 0; i < 5; i++) free(res[t][i]);
  free(x), free(W), free(q), free(k), free(v), free(big);

  /* the count is the calling thread's own: another thread still sees the default */
  int prev = threads_enter(def + 2), other = 0;
  pthread_t th;
  CHECK(pthread_create(&th, NULL, current_of_new_thread, &other) == 0);
  pthread_join(th, NULL);
  CHECK(other == def);
  CHECK(vlp_threads_current() == def + 2);
  threads_leave(prev);
  CHECK(vlp_threads_current() == def);
}

/* Ops called from inside a caller's parallel region (nested regions get one thread):
 * every output still computed. */
static void test_nested(void) {
  int prev = threads_enter(2);
  const int n = 40, in = 300, out = 200;
  float *x = test_rand_buf((size_t)n * in, 1), *W = test_rand_buf((size_t)out * in, 0.1f);
  float *y[2], *ref = malloc((size_t)n * out * sizeof *ref);
  y[0] = malloc((size_t)n * out * sizeof(float)), y[1] = malloc((size_t)n * out * sizeof(float));
  op_linear_naive(ref, x, W, NULL, n, in, out);
#pragma omp parallel for num_threads(2)
  for (int t = 0; t < 2; t++) op_linear(y[t], x, W, NULL, n, in, out);
  test_allclose("linear nested, caller thread 0", y[0], ref, (size_t)n * out, TOL, TOL);
  test_allclose("linear nested, caller thread 1", y[1], ref, (size_t)n * out, TOL, TOL);
  free(x), free(W), free(y[0]), free(y[1]), free(ref);
  threads_leave(prev);
}

static void test_workspace(void) {
  vlp_ws ws;
  ws_init(&ws);
  CHECK(ws_bytes(&ws) == 0);
  float *a = ws_floats(&ws, WS_VISION, 10);
  CHECK(a && ((uintptr_t)a & 63) == 0);
  a[9] = 1.0f;
  CHECK(ws_floats(&ws, WS_VISION, 5) == a); /* smaller request: same buffer, no allocation */
  float *b = ws_floats(&ws, WS_TEXT, 10);
  CHECK(b && b != a);                                      /* slots are independent */
  float *big = ws_floats(&ws, WS_VISION, (size_t)1 << 20); /* 4 MiB: mmap'ed */
  CHECK(big && ((uintptr_t)big & 63) == 0);
  big[((size_t)1 << 20) - 1] = 2.0f;
  CHECK(ws_bytes(&ws) >= ((size_t)4 << 20));
  CHECK(ws_floats(&ws, WS_VISION, SIZE_MAX / 2) == NULL); /* too large: NULL, message set */
  CHECK(strstr(vlp_last_error(), "workspace") != NULL);
  ws_release(&ws);
  CHECK(ws_bytes(&ws) == 0);
  ws_release(&ws); /* twice is harmless */
}

int main(void) {
  test_seed(0x9E3779B97F4A7C15ull); /* the seed this test has always drawn from */
  test_hand();
  test_activation_accuracy();
  test_linear_random();
  test_layernorm_random();
  test_act_softmax_random();
  test_attention_random();
  test_attention_edges();
  test_threads();
  test_nested();
  test_workspace();
  return test_done();
}
