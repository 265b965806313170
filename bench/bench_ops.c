/* bench_ops: throughput of the core kernels. Usage: vlp_bench_ops [threads]
 * Prints OpenBLAS sgemm GFLOP/s at transformer shapes, op_linear vs its naive reference,
 * a ViT MLP block (linear, gelu, linear) and attention at vision / decoding shapes. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "core/ops.h"
#include "core/threads.h"
#include "vlp.h"

static float *rnd(size_t n) {
  float *p = malloc(n * sizeof *p);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) * 0.002f - 1.0f;
  return p;
}

/* best-of-reps wall time of one attention call */
static double time_attention(int B, int H, int Tq, int Tk, int hd, int causal, int reps,
                             int naive) {
  size_t D = (size_t)H * hd;
  float *q = rnd((size_t)B * Tq * D), *k = rnd((size_t)B * Tk * D), *v = rnd((size_t)B * Tk * D);
  float *o = rnd((size_t)B * Tq * D);
  op_attn_shape s = {B, H, Tq, Tk, hd, Tk, NULL, causal};
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = bench_now();
    if (naive)
      op_attention_naive(o, q, k, v, &s);
    else
      op_attention(o, q, k, v, &s);
    double t = bench_now() - t0;
    if (t < best) best = t;
  }
  free(q), free(k), free(v), free(o);
  return best;
}

/* GFLOP/s of op_linear y (m, n) = x (m, k) W^T, W (n, k); best of reps */
static double linear_gflops(int m, int n, int k, int reps) {
  float *x = rnd((size_t)m * k), *W = rnd((size_t)n * k), *b = rnd(n), *y = rnd((size_t)m * n);
  double best = 1e30;
  for (int r = 0; r <= reps; r++) {
    double t0 = bench_now();
    op_linear(y, x, W, b, m, k, n);
    double t = bench_now() - t0;
    if (r > 0 && t < best) best = t;
  }
  free(x), free(W), free(b), free(y);
  return 2.0 * m * n * k / best * 1e-9;
}

int main(int argc, char **argv) {
  threads_enter(argc > 1 ? atoi(argv[1]) : 0);
  printf("threads: %d\n", vlp_threads_current());

  /* raw OpenBLAS, which vlp keeps at 1 thread; op_linear splits over vlp's threads */
  const int shapes[][3] = {
      {512, 768, 768}, {577, 3072, 768}, {577, 768, 3072}, {1, 768, 768}, {6, 3072, 768}};
  for (int i = 0; i < 5; i++) {
    int m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
    printf("%-22s m=%-4d n=%-5d k=%-5d sgemm 1 thread %6.1f GFLOP/s, op_linear %6.1f GFLOP/s\n",
           i < 3 ? "linear" : "linear (decode)", m, n, k, bench_sgemm_gflops(m, n, k, 5),
           linear_gflops(m, n, k, m < 16 ? 50 : 5));
  }

  { /* op_linear vs naive, small shape */
    const int n = 16, in = 256, out = 256;
    float *x = rnd((size_t)n * in), *W = rnd((size_t)out * in), *b = rnd(out);
    float *y = rnd((size_t)n * out);
    double tf = 1e30, tn = 1e30;
    for (int r = 0; r < 20; r++) {
      double t0 = bench_now();
      op_linear(y, x, W, b, n, in, out);
      double t1 = bench_now();
      op_linear_naive(y, x, W, b, n, in, out);
      double t2 = bench_now();
      if (t1 - t0 < tf) tf = t1 - t0;
      if (t2 - t1 < tn) tn = t2 - t1;
    }
    printf("op_linear 16x256->256: fast %.3f ms, naive %.3f ms (x%.0f)\n", tf * 1e3, tn * 1e3,
           tn / tf);
    free(x), free(W), free(b), free(y);
  }

  { /* ViT-B MLP block on 577 tokens: linear 768->3072, gelu, linear 3072->768 */
    const int T = 577, d = 768, f = 3072;
    float *x = rnd((size_t)T * d), *W1 = rnd((size_t)f * d), *W2 = rnd((size_t)d * f);
    float *b1 = rnd(f), *b2 = rnd(d), *h = rnd((size_t)T * f), *y = rnd((size_t)T * d);
    double best = 1e30;
    for (int r = 0; r < 10; r++) {
      double t0 = bench_now();
      op_layernorm(y, x, b2, b2, T, d, 1e-6f);
      op_linear(h, y, W1, b1, T, d, f);
      op_gelu(h, (size_t)T * f);
      op_linear(y, h, W2, b2, T, f, d);
      double t = bench_now() - t0;
      if (t < best) best = t;
    }
    printf("MLP block 577x768x3072 (ln+lin+gelu+lin): %.2f ms, %.1f GFLOP/s\n", best * 1e3,
           4.0 * T * d * f / best * 1e-9);
    free(x), free(W1), free(W2), free(b1), free(b2), free(h), free(y);
  }

  double ta = time_attention(1, 12, 577, 577, 64, 0, 10, 0);
  printf("attention B=1 H=12 T=577 hd=64: %.2f ms (%.1f GFLOP/s)\n", ta * 1e3,
         4.0 * 12 * 577 * 577 * 64 / ta * 1e-9);
  printf("  naive: %.2f ms\n", time_attention(1, 12, 577, 577, 64, 0, 1, 1) * 1e3);
  printf("attention B=1 H=12 T=35 causal hd=64: %.3f ms\n",
         time_attention(1, 12, 35, 35, 64, 1, 20, 0) * 1e3);
  printf("attention decode B=6 H=12 Tq=1 Tk=577 hd=64: %.3f ms\n",
         time_attention(6, 12, 1, 577, 64, 0, 20, 0) * 1e3);
  printf("attention decode B=6 H=12 Tq=1 Tk=30 hd=64: %.3f ms\n",
         time_attention(6, 12, 1, 30, 64, 1, 50, 0) * 1e3);
  return 0;
}
