/* bench_util: monotonic timer and an sgemm throughput probe (see bench_util.h). */
#include "bench_util.h"

#include <cblas.h>
#include <stdlib.h>
#include <time.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_sgemm_gflops(int m, int n, int k, int reps) {
  float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)n * k * sizeof *b);
  float *c = malloc((size_t)m * n * sizeof *c);
  if (!a || !b || !c) {
    free(a), free(b), free(c);
    return -1;
  }
  for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 17) * 0.01f;
  for (size_t i = 0; i < (size_t)n * k; i++) b[i] = (float)(i % 13) * 0.01f;
  double best = 1e30;
  for (int r = 0; r <= (reps > 0 ? reps : 1); r++) { /* r == 0 is the warm-up */
    double t0 = bench_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
    double t = bench_now() - t0;
    if (r > 0 && t < best) best = t;
  }
  free(a), free(b), free(c);
  return 2.0 * m * n * k / best * 1e-9;
}
