/* membw: the machine's memory read bandwidth, the limit of a decoder step (each new token
 * streams every decoder weight once), measured for `vlp bench` in the same run as its
 * figures. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

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
