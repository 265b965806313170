/* gemm_blas: the OpenBLAS backend (f32 only, weights used as they are).
 * OpenBLAS is kept at one thread and the big products are split over our
 * OpenMP threads by output columns, so only one pool ever runs (two pools spinning
 * against each other made a ViT MLP block 1.7x slower on 2 cores). */
#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <string.h>

#include "core/error.h"
#include "core/gemm_backend.h"
#include "core/threads.h"

/* One call on the output columns [o0, o1): W's rows o0..o1-1 are contiguous, so each
 * thread streams its own slice of the weights (decoding is bound by reading W). */
static void linear_cols(float *y, int ldy, const float *x, const float *W, const float *b, int n,
                        int in, int o0, int o1, int accumulate) {
  int m = o1 - o0;
  if (m <= 0) return;
  float beta = accumulate ? 1.0f : 0.0f;
  if (b) { /* as torch's addmm: y = b broadcast (+ y), then y += x W^T */
    for (int i = 0; i < n; i++) {
      float *yr = y + (size_t)i * ldy + o0;
      if (accumulate)
        for (int j = 0; j < m; j++) yr[j] += b[o0 + j];
      else
        memcpy(yr, b + o0, (size_t)m * sizeof *y);
    }
    beta = 1.0f;
  }
  const float *Ws = W + (size_t)o0 * in;
  if (n == 1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, m, in, 1.0f, Ws, in, x, 1, beta, y + o0, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, m, in, 1.0f, x, in, Ws, in, beta,
                y + o0, ldy);
}

/* OpenBLAS runs one thread per call (set once, see vlp.h). */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) {
  openblas_set_num_threads(1);
}

/* Products below this many multiply-adds run on one thread. */
#define LINEAR_PAR_MIN (1 << 18)

/* y = x W^T + b (+ y) */
static void blas_linear(float *y, int ldy, const float *x, const float *W, const float *b, int n,
                        int in, int out, int accumulate) {
  if (in <= 0) { /* empty product: y = b (+ y) */
    for (int i = 0; i < n; i++) {
      float *yr = y + (size_t)i * ldy;
      if (accumulate) {
        for (int j = 0; b && j < out; j++) yr[j] += b[j];
      } else if (b) {
        memcpy(yr, b, (size_t)out * sizeof *yr);
      } else {
        memset(yr, 0, (size_t)out * sizeof *yr);
      }
    }
    return;
  }
  pthread_once(&blas_once, blas_single_thread);
  int nt = vlp_threads_current();
  if (nt > 1 && (double)n * in * out >= LINEAR_PAR_MIN && out >= 32) {
    /* Column slices, multiples of 16 for the BLAS kernels. The team may be smaller than
     * asked (e.g. nested in a caller's region), so size slices by it. */
#pragma omp parallel num_threads(nt)
    {
      int team = omp_get_num_threads();
      int chunk = ((out + team - 1) / team + 15) / 16 * 16;
      long o0 = (long)omp_get_thread_num() * chunk, o1 = o0 + chunk;
      if (o1 > out) o1 = out;
      if (o0 < out) linear_cols(y, ldy, x, W, b, n, in, (int)o0, (int)o1, accumulate);
    }
  } else {
    linear_cols(y, ldy, x, W, b, n, in, 0, out, accumulate);
  }
}

static int blas_supports(vlp_precision p, const char **why) {
  if (p == VLP_PRECISION_F32) return 1;
  if (why) *why = "the OpenBLAS GEMM backend has only f32 kernels (bf16 and int8 need oneDNN)";
  return 0;
}

static vlp_status blas_pack(gemm_packed *p) {
  p->impl = NULL; /* W is used as it is */
  p->bytes = 0;
  return VLP_OK;
}

static void blas_release(gemm_packed *p) {
  (void)p;
}

static int blas_run(float *y, const float *x, const float *W, const gemm_packed *p, const float *b,
                    int n, int in, int out, gemm_act act, int accumulate) {
  (void)p;
  if (act == GEMM_ACT_NONE || !accumulate) {
    blas_linear(y, out, x, W, b, n, in, out, accumulate);
    gemm_epilogue(y, NULL, (size_t)n * out, act);
    return 1;
  }
  /* act(x W^T + b) + y: the product goes to scratch first. */
  size_t len = (size_t)n * out;
  float *t = gemm_scratch(2, len * sizeof *t);
  if (t) {
    blas_linear(t, out, x, W, b, n, in, out, 0);
    gemm_epilogue(t, y, len, act);
    memcpy(y, t, len * sizeof *y);
    return 1;
  }
  /* No memory for the scratch: one row and 256 columns at a time on the stack. */
  float tb[256];
  for (int i = 0; i < n; i++)
    for (int o0 = 0; o0 < out; o0 += 256) {
      int m = out - o0 < 256 ? out - o0 : 256;
      linear_cols(tb, m, x + (size_t)i * in, W + (size_t)o0 * in, b ? b + o0 : NULL, 1, in, 0, m,
                  0);
      gemm_epilogue(tb, y + (size_t)i * out + o0, (size_t)m, act);
      memcpy(y + (size_t)i * out + o0, tb, (size_t)m * sizeof *tb);
    }
  return 1;
}

void gemm_blas_linear_ld(float *y, int ldy, const float *x, const float *W, const float *b, int n,
                         int in, int out) {
  blas_linear(y, ldy, x, W, b, n, in, out, 0);
}

/* OpenBLAS's kernels block by the row count, and the products are split by columns over
 * the threads: a row's last bits depend on both. */
static int blas_batch_invariant(void) {
  return 0;
}

const gemm_backend gemm_backend_blas = {"openblas", blas_supports,        blas_pack, blas_release,
                                        blas_run,   blas_batch_invariant, NULL,      NULL};
