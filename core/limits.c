/* limits: the machine's limits `vlp bench` gives its figures as fractions of, measured in
 * the same run: the f32 GEMM throughput on the model's shapes, the memory read bandwidth,
 * the limit of a decoder step (each new token streams every decoder weight once), and the
 * multiply-add instructions' own peak, which no product passes. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/gemm.h"
#include "core/isa_peak.h"
#include "core/threads.h"
#include "vlp.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Sum of x's floats, read once, on nt threads (the result keeps the reads from being
 * optimised away). */
static float read_all(const float *x, size_t n, int nt) {
  float s = 0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : s)
  for (size_t b = 0; b < n / 4096; b++) {
    float t[16] = {0};
    const float *p = x + b * 4096;
    for (int i = 0; i < 4096; i += 16)
#pragma omp simd
      for (int j = 0; j < 16; j++) t[j] += p[i + j];
    for (int j = 0; j < 16; j++) s += t[j];
  }
  return s;
}

double vlp_memory_read_gbs(size_t bytes, int reps, int n_threads) {
  size_t n = bytes / sizeof(float) / 4096 * 4096;
  if (n == 0) return -1;
  /* huge pages: first touch of 4 KiB pages costs more than the reads on some machines */
  float *x = mmap(NULL, n * sizeof *x, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (x == MAP_FAILED) return -1;
#ifdef MADV_HUGEPAGE
  madvise(x, n * sizeof *x, MADV_HUGEPAGE);
#endif
  memset(x, 0, n * sizeof *x);
  int prev = threads_enter(n_threads), nt = vlp_threads_current();
  double best = 1e30;
  volatile float sink = 0;
  for (int r = 0; r <= (reps > 0 ? reps : 1); r++) { /* the first run warms up */
    double t0 = now_s();
    sink += read_all(x, n, nt);
    double t = now_s() - t0;
    if (r > 0 && t < best) best = t;
  }
  (void)sink;
  threads_leave(prev);
  munmap(x, n * sizeof *x);
  return (double)(n * sizeof *x) / best * 1e-9;
}

double vlp_gemm_gflops(int m, int n, int k, int reps, int n_threads) {
  if (m <= 0 || n <= 0 || k <= 0) return -1;
  size_t xs = (size_t)m * k, ws = (size_t)n * k, ys = (size_t)m * n;
  float *x = malloc(xs * sizeof *x), *W = malloc(ws * sizeof *W), *y = malloc(ys * sizeof *y);
  if (!x || !W || !y) {
    free(x), free(W), free(y);
    return -1;
  }
  for (size_t i = 0; i < xs; i++) x[i] = (float)(i % 13) * 0.01f - 0.06f;
  for (size_t i = 0; i < ws; i++) W[i] = (float)(i % 7) * 0.01f - 0.03f;
  int prev = threads_enter(n_threads);
  double best = -1;
  if (gemm_prepare(W, n, k, VLP_PRECISION_F32, NULL) == VLP_OK) {
    best = 1e30;
    for (int r = 0; r <= (reps > 0 ? reps : 1); r++) { /* the first run warms up */
      double t0 = now_s();
      gemm_linear(y, x, W, NULL, m, k, n, GEMM_ACT_NONE, 0);
      double t = now_s() - t0;
      if (r > 0 && t < best) best = t;
    }
    gemm_forget(W);
  }
  threads_leave(prev);
  free(x), free(W), free(y);
  return best > 0 ? 2.0 * m * n * k / best * 1e-9 : -1;
}

/* Loop trips per thread and run: ~50 M instructions, ~8 ms. Runs of ~2 ms came out at a
 * quarter of the rate, every run of a call, in ~1 of 10 processes on the development VM
 * (a core not yet at speed); 0 of 20 at this length. */
#define ISA_TRIPS (1L << 21)

double vlp_isa_peak_gflops(vlp_precision p, int reps, int n_threads) {
  void (*loop)(long) = NULL;
  double per_trip = isa_peak_loop(p, &loop);
  if (per_trip <= 0) return -1;
  int prev = threads_enter(n_threads), nt = vlp_threads_current();
  double best = -1;                                  /* operations per second */
  for (int r = 0; r <= (reps > 0 ? reps : 1); r++) { /* the first run warms up */
    int ran = 0;                                     /* threads OpenMP gave the region */
    double t0 = now_s();
#pragma omp parallel num_threads(nt)
    {
      loop(ISA_TRIPS);
#pragma omp atomic
      ran++;
    }
    double t = now_s() - t0;
    double rate = t > 0 ? ran * (double)ISA_TRIPS * per_trip / t : 0;
    if (r > 0 && rate > best) best = rate;
  }
  threads_leave(prev);
  return best > 0 ? best * 1e-9 : -1;
}
