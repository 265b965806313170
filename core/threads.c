/* threads: the one thread-count knob for vlp's OpenMP loops (which drive OpenBLAS)
 * (vlp_set_threads / vlp_get_threads in vlp.h). */
#include <cblas.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "vlp.h"

static _Atomic int g_threads; /* 0 until first set */

/* n <= 0: VLP_THREADS if set and > 0, else the number of online cores. */
static int resolve_threads(int n) {
  if (n > 0) return n;
  const char *env = getenv("VLP_THREADS");
  if (env && *env) {
    char *end = NULL;
    long v = strtol(env, &end, 10);
    if (end != env && *end == 0 && v > 0 && v <= 4096) return (int)v;
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores < 1) cores = 1;
  if (cores > 4096) cores = 4096;
  return (int)cores;
}

void vlp_set_threads(int n) {
  n = resolve_threads(n);
  /* OpenBLAS (the pthread build) keeps its own pool of spinning threads; next to OpenMP's
   * pool the two fight for the cores (measured: a ViT MLP block 1.7x slower on 2 cores).
   * So OpenBLAS runs one thread per call and ops.c splits the big products over our
   * OpenMP threads. */
  openblas_set_num_threads(1);
  omp_set_num_threads(n);
  atomic_store(&g_threads, n);
}

int vlp_get_threads(void) {
  int n = atomic_load(&g_threads);
  if (n > 0) return n;
  vlp_set_threads(0);
  return atomic_load(&g_threads);
}
