/* bench_ops: throughput of the core kernels. Usage: vlp_bench_ops [threads]
 * Prints OpenBLAS sgemm GFLOP/s at transformer shapes, op_linear vs its naive reference,
 * a ViT MLP block (linear, gelu, linear), the f32 GEMM peak as `vlp bench` measures it
 * (vlp_gemm_gflops) and each op_attention path (op_attention_force) at the models' vision,
 * text and decoding shapes, as GFLOP/s and a fraction of that peak; then the bf16 attention
 * of bf16 models (core/attention_bf16.h) against the f32 blocked kernel on CLIP B/32's
 * q, k, v rows, in cache and evicted from it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "core/attention.h"
#include "core/attention_bf16.h"
#include "core/half.h"
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

/* best-of-reps wall time of one op_attention call on the given path (op_attention_force) */
static double time_attention(const op_attn_shape *sh, const char *path, int reps) {
  size_t D = (size_t)sh->H * sh->hd;
  float *q = rnd((size_t)sh->B * sh->Tq * D), *k = rnd((size_t)sh->B * sh->kv_cap * D);
  float *v = rnd((size_t)sh->B * sh->kv_cap * D), *o = rnd((size_t)sh->B * sh->Tq * D);
  op_attention_force(path);
  double best = 1e30;
  for (int r = 0; r <= reps; r++) { /* the first run warms up */
    double t0 = bench_now();
    op_attention(o, q, k, v, sh);
    double t = bench_now() - t0;
    if (r > 0 && t < best) best = t;
  }
  op_attention_force("auto");
  free(q), free(k), free(v), free(o);
  return best;
}

/* Multiply-adds x 2 of the two products (scores, weighted sum) over the visible keys. */
static double attention_flops(const op_attn_shape *sh) {
  double keys = 0;
  for (int i = 0; i < sh->Tq; i++) keys += op_attn_visible(sh, i);
  return 4.0 * sh->B * sh->H * keys * sh->hd;
}

/* Every attention path on the models' shapes: ms, GFLOP/s and that as a fraction of
 * `peak` (the f32 GEMM peak of this run, as `vlp bench` measures it). */
static void attention_table(double peak) {
  static const struct {
    const char *what;
    op_attn_shape s;
  } shapes[] = {
      {"ViT-B/16@384", {1, 12, 577, 577, 64, 577, NULL, 0, 0}},
      {"CLIP B/32 batch 1", {1, 12, 50, 50, 64, 50, NULL, 0, 0}},
      {"CLIP B/32 batch 16", {16, 12, 50, 50, 64, 50, NULL, 0, 0}},
      {"text causal B=16", {16, 12, 35, 35, 64, 35, NULL, 1, 0}},
      {"CLIP text B=16", {16, 8, 16, 16, 64, 16, NULL, 1, 0}},
      {"decoder prompt B=8", {8, 12, 5, 5, 64, 40, NULL, 1, 0}},
      {"decoder step B=8", {8, 12, 1, 20, 64, 40, NULL, 1, 0}},
      {"cross step B=1", {1, 12, 1, 577, 64, 577, NULL, 0, 0}},
      {"cross step B=8", {8, 12, 1, 577, 64, 577, NULL, 0, 0}},
      {"cross prompt B=8", {8, 12, 5, 577, 64, 577, NULL, 0, 0}},
      {"cross prompt B=2", {2, 12, 20, 577, 64, 577, NULL, 0, 0}},
  };
  const char *paths[] = {"gemm", "rows", "blocked"};
  printf("attention (ms, GFLOP/s, fraction of the f32 GEMM peak %.1f GFLOP/s above):\n", peak);
  printf("  %-20s %-5s %-5s %-5s %-4s", "shape", "B", "Tq", "Tk", "hd");
  for (int p = 0; p < 3; p++) printf(" | %-22s", paths[p]);
  printf("\n");
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    const op_attn_shape *sh = &shapes[i].s;
    double fl = attention_flops(sh);
    int reps = fl > 1e9 ? 10 : fl > 1e7 ? 50 : 300;
    printf("  %-20s %-5d %-5d %-5d %-4d", shapes[i].what, sh->B, sh->Tq, sh->Tk, sh->hd);
    for (int p = 0; p < 3; p++) {
      double t = time_attention(sh, paths[p], reps), g = fl / t * 1e-9;
      printf(" | %8.3f %6.1f %5.2f", t * 1e3, g, g / peak);
    }
    printf("\n");
  }
}

/* CLIP B/32's attention at batch B on one (B * 50, 3 * 768) q, k, v buffer, as its layers
 * pass it: the f32 blocked kernel and the bf16 one, best of reps calls each (alternating),
 * with `evict` bytes written between calls (0: the rows stay cached). */
static void bf16_attention_row(int B, size_t evict, int reps) {
  const int T = 50, H = 12, hd = 64, D = H * hd;
  const size_t n = (size_t)B * T * 3 * D;
  float *qf = rnd(n), *of = rnd((size_t)B * T * D);
  uint16_t *qb = malloc(n * sizeof *qb), *ob = malloc((size_t)B * T * D * sizeof *ob);
  char *ev = evict ? malloc(evict) : NULL;
  if (!qb || !ob || (evict && !ev)) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++) qb[i] = f32_to_bf16(qf[i]);
  op_attn_shape s = {B, H, T, T, hd, T, NULL, 0, 3 * D};
  if (!attention_bf16_available(&s)) {
    printf("  bf16 attention: not available on this CPU / kernel path\n");
  } else {
    double t32 = 1e30, t16 = 1e30;
    for (int r = 0; r <= reps; r++) { /* the first round warms up */
      if (ev) memset(ev, r, evict);
      double t0 = bench_now();
      attention_blocked(of, qf, qf + D, qf + 2 * D, &s);
      double t1 = bench_now();
      if (ev) memset(ev, r + 1, evict);
      double t2 = bench_now();
      attention_bf16(ob, qb, qb + D, qb + 2 * D, &s);
      double t3 = bench_now();
      if (r > 0 && t1 - t0 < t32) t32 = t1 - t0;
      if (r > 0 && t3 - t2 < t16) t16 = t3 - t2;
    }
    printf("  CLIP B/32 batch %-3d %-9s f32 %7.3f ms  bf16 %7.3f ms  (%.2fx)\n", B,
           evict ? "evicted" : "cached", t32 * 1e3, t16 * 1e3, t32 / t16);
  }
  free(qf), free(of), free(qb), free(ob), free(ev);
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
  double peak = 0; /* best op_linear GFLOP/s: the reference for attention */
  const int shapes[][3] = {
      {512, 768, 768}, {577, 3072, 768}, {577, 768, 3072}, {1, 768, 768}, {6, 3072, 768}};
  for (int i = 0; i < 5; i++) {
    int m = shapes[i][0], n = shapes[i][1], k = shapes[i][2];
    double g = linear_gflops(m, n, k, m < 16 ? 50 : 5);
    if (g > peak) peak = g;
    printf("%-22s m=%-4d n=%-5d k=%-5d sgemm 1 thread %6.1f GFLOP/s, op_linear %6.1f GFLOP/s\n",
           i < 3 ? "linear" : "linear (decode)", m, n, k, bench_sgemm_gflops(m, n, k, 5), g);
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

  /* the reference `vlp bench` divides by: vlp_gemm_gflops on the ViT layers' shapes */
  double gemm_peak = 0;
  const int peak_shapes[][3] = {{577, 3072, 768}, {800, 3072, 768}};
  for (int i = 0; i < 2; i++) {
    double g = vlp_gemm_gflops(peak_shapes[i][0], peak_shapes[i][1], peak_shapes[i][2], 3,
                               vlp_threads_current());
    printf("vlp_gemm_gflops m=%-4d n=%-5d k=%-5d %6.1f GFLOP/s\n", peak_shapes[i][0],
           peak_shapes[i][1], peak_shapes[i][2], g);
    if (g > gemm_peak) gemm_peak = g;
  }
  attention_table(gemm_peak > peak ? gemm_peak : peak);
  printf("attention in bf16 models (q, k, v side by side, ld = 3D):\n");
  for (int ev = 0; ev < 2; ev++) {
    bf16_attention_row(1, ev ? (size_t)32 << 20 : 0, 300);
    bf16_attention_row(16, ev ? (size_t)32 << 20 : 0, 200);
  }
  return 0;
}
